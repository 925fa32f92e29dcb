// api.js - the REST API (docs/API.md) with the session's tokens: login,
// register, refresh before the access token expires, and authed calls.
const KEY = "natter.session";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

let session = JSON.parse(localStorage.getItem(KEY) || "null");
let refreshTimer = null;
let refreshing = null;
const listeners = new Set();

export function onSessionChange(fn) { listeners.add(fn); }
export function current() { return session; }
export function accessToken() { return session && session.access_token; }

function save(s) {
  session = s;
  if (s) localStorage.setItem(KEY, JSON.stringify(s));
  else localStorage.removeItem(KEY);
  schedule();
  for (const fn of listeners) fn(session);
}

// Refresh a minute before expiry (at least 5 s from now).
function schedule() {
  clearTimeout(refreshTimer);
  if (!session) return;
  const due = session.expires_at - 60000 - Date.now();
  refreshTimer = setTimeout(tick, Math.max(due, 5000));
}

// A refresh that fails for another reason than 401 (network, 503) is tried
// again in 10 s; a 401 has already ended the session.
function tick() {
  refresh().catch(() => { if (session) refreshTimer = setTimeout(tick, 10000); });
}

async function raw(method, path, body, { auth = true, headers = {}, blob = false, head = false } = {}) {
  const h = { ...headers };
  if (auth && session) h.Authorization = "Bearer " + session.access_token;
  let payload = body;
  if (body !== undefined && !(body instanceof Blob)) {
    h["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers: h, body: payload });
  if (res.ok) {
    if (head) return res.headers;
    if (blob) return res.blob();
    return res.status === 204 ? null : res.json();
  }
  let code = "error", message = res.statusText;
  try {
    const e = (await res.json()).error;
    code = e.code;
    message = e.message;
  } catch (_) { /* not JSON */ }
  throw new ApiError(res.status, code, message);
}

function adopt(r) {
  save({ access_token: r.access_token, refresh_token: r.refresh_token,
         expires_at: Date.now() + r.expires_in * 1000, user: r.user });
  return r.user;
}

export async function register(username, password, display_name) {
  await raw("POST", "/api/auth/register", { username, password, display_name }, { auth: false });
  return login(username, password);
}

export async function login(username, password) {
  const device = localStorage.getItem("natter.device") || crypto.randomUUID();
  localStorage.setItem("natter.device", device);
  return adopt(await raw("POST", "/api/auth/login",
                         { username, password, device_id: device, platform: "web" }, { auth: false }));
}

// One refresh at a time: the old refresh token is spent by the first.
export function refresh() {
  if (!session) return Promise.reject(new ApiError(401, "unauthorized"));
  if (!refreshing) {
    refreshing = raw("POST", "/api/auth/refresh", { refresh_token: session.refresh_token }, { auth: false })
      .then(adopt)
      .catch((e) => { if (e.status === 401) save(null); throw e; })
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

export async function logout() {
  try { await raw("POST", "/api/auth/logout"); } catch (_) { /* gone anyway */ }
  save(null);
}

export function forget() { save(null); }

// An authed call; a 401 gets one refresh and one retry.
export async function call(method, path, body, opts) {
  if (session && session.expires_at - Date.now() < 10000) await refresh();
  try {
    return await raw(method, path, body, opts);
  } catch (e) {
    if (e.status !== 401 || !session) throw e;
    await refresh();
    return raw(method, path, body, opts);
  }
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body);

export function upload(file) {
  const name = encodeURIComponent((file.name || "image").replace(/[\/\\]/g, "_").slice(0, 200));
  return call("POST", "/api/files/upload?name=" + name, file,
              { headers: { "Content-Type": file.type || "application/octet-stream" } });
}

// A file's name and size without its bytes (HEAD: Content-Disposition, Content-Length).
export async function fileInfo(id) {
  const hd = await call("HEAD", "/api/files/" + encodeURIComponent(id), undefined, { head: true });
  const cd = hd.get("Content-Disposition") || "";
  const star = /filename\*=UTF-8''([^;]+)/i.exec(cd);
  const plain = /filename="([^"]*)"/i.exec(cd);
  let name = "file";
  try { name = star ? decodeURIComponent(star[1]) : plain ? plain[1] : name; } catch (_) { /* keep "file" */ }
  return { name, size: Number(hd.get("Content-Length") || 0), mime: hd.get("Content-Type") || "" };
}

export function fileBlob(id, thumb) {
  return call("GET", "/api/files/" + encodeURIComponent(id) + (thumb ? "/thumbnail" : ""), undefined, { blob: true });
}

schedule();
