// client.js - the live session: first load over REST, the socket's pushes
// into the store, catch-up after a reconnect (sync from the highest seq we
// hold, dedup by seq), and the actions views call (send, read, typing...).
import * as api from "./api.js";
import { Socket } from "./ws.js";
import * as store from "./store.js";

const { state } = store;
let socket = null;
let wsUrl = null;
let lastTypingSent = 0;
let typingTimer = null;
const PAGE = 30;
const hooks = new Map(); // push op -> handler registered by another module (calls.js)

// For modules that speak their own frames over the session's socket.
export function onPushOp(op, fn) { hooks.set(op, fn); }
export function wsSend(frame) { return !!socket && socket.send(frame); }
export function wsRequest(frame, timeoutMs) {
  if (!socket) return Promise.reject(Object.assign(new Error("offline"), { code: "unavailable" }));
  return socket.request(frame, timeoutMs);
}

export async function start() {
  const cfg = await fetch("/config.json").then((r) => r.json());
  wsUrl = cfg.ws_url;
  if (!wsUrl) throw new Error("the server did not say where its WebSocket is (/config.json)");
  state.me = (await api.get("/api/users/me")).user;
  store.putUser(state.me);
  await Promise.all([loadConversations(), loadContacts()]);
  socket = new Socket({
    url: wsUrl,
    token: api.accessToken,
    onPush: push,
    onOpen: () => catchUp().catch(report),
    onState: (s) => { state.conn = s; store.changed(); },
    onAuthFail: authFail,
  });
  socket.start();
}

export function stop() {
  if (socket) socket.stop();
  socket = null;
}

export function report(e) {
  state.error = e && e.message ? e.message : String(e);
  store.changed();
  setTimeout(() => { state.error = null; store.changed(); }, 6000);
}

async function authFail(why) {
  if (why === "kicked") { api.forget(); return; }
  return api.refresh(); // rejects (and logs out) if the session is gone
}

export async function ensureUsers(ids) {
  const missing = [...new Set(ids)].filter((id) => id && !state.users.has(id));
  await Promise.all(missing.map((id) =>
    api.get("/api/users/" + encodeURIComponent(id)).then((r) => store.putUser(r.user), () => {})));
}

export async function loadConversations() {
  const { conversations } = await api.get("/api/conversations");
  for (const c of conversations) store.putConv(c);
  await ensureUsers(conversations.flatMap((c) => (c.members || []).map((m) => m.user_id)));
  await loadPresence();
}

export async function loadContacts() {
  const [{ contacts }, { requests }] = await Promise.all([
    api.get("/api/contacts"), api.get("/api/contacts/requests")]);
  state.contacts = contacts;
  state.requests = requests;
  for (const c of contacts) store.putUser(c.user);
  await ensureUsers(requests.flatMap((r) => [r.from_id, r.to_id]));
  store.changed();
}

async function loadPresence() {
  const ids = new Set(state.contacts.map((c) => c.user.id));
  for (const c of state.convs.values()) { const p = store.peerOf(c); if (p) ids.add(p); }
  if (!ids.size) return;
  try {
    const { presence } = await api.get("/api/presence?user_ids=" + [...ids].slice(0, 200).join(","));
    for (const p of presence) state.presence.set(p.user_id, p);
    store.changed();
  } catch (_) { /* presence is best effort */ }
}

// After (re)connecting: new conversations, then what each loaded one missed.
async function catchUp() {
  await loadConversations();
  await loadContacts();
  for (const cid of state.msgs.keys()) await syncConv(cid);
  if (state.open) markRead(state.open);
}

async function syncConv(cid) {
  for (let i = 0; i < 20; i++) {
    const r = await socket.request({ op: "sync", conversation_id: cid, after_seq: store.maxSeq(cid), limit: 100 });
    store.putMessages(cid, r.messages);
    if (!r.has_more || !r.messages.length) return;
  }
}

function push(f) {
  if (hooks.has(f.op)) return hooks.get(f.op)(f);
  switch (f.op) {
    case "message": return onMessage(f.message);
    case "read": return store.setRead(f.conversation_id, f.user_id, f.seq);
    case "typing": return store.setTyping(f.conversation_id, f.user_id);
    case "presence":
      state.presence.set(f.user_id, { user_id: f.user_id, online: f.online, last_seen: f.last_seen });
      return store.changed();
    case "contact": return loadContacts().then(loadPresence).catch(report);
    case "member": return onMember(f).catch(report);
    case "revoked": {
      const m = state.msgs.get(f.conversation_id);
      const msg = m && m.get(Number(f.seq));
      if (msg) Object.assign(msg, { revoked: true, body: "" });
      const c = state.convs.get(f.conversation_id);
      if (c && c.last_message && Number(c.last_message.seq) === Number(f.seq)) c.last_message.revoked = true;
      return store.changed();
    }
    case "kicked": return report("Signed out: " + f.reason);
    default: return;
  }
}

// A member event: I left or was removed -> the conversation is gone from my
// list; anything else (added, renamed, roles) -> reload that conversation.
async function onMember(f) {
  const cid = f.conversation_id;
  if (f.event === "removed" && f.user_id === state.me.id) {
    state.convs.delete(cid);
    state.msgs.delete(cid);
    state.hasMore.delete(cid);
    if (state.open === cid) state.open = null;
    store.changed();
    return;
  }
  try {
    const { conversation } = await api.get("/api/conversations/" + encodeURIComponent(cid));
    store.putConv(conversation);
    await ensureUsers(conversation.members.map((m) => m.user_id));
  } catch (e) {
    if (e.status === 403 || e.status === 404) { state.convs.delete(cid); store.changed(); return; }
    throw e;
  }
}

async function onMessage(msg) {
  const cid = msg.conversation_id;
  socket.send({ op: "ack", conversation_id: cid, seq: msg.seq });
  if (!state.convs.has(cid)) {
    try {
      store.putConv((await api.get("/api/conversations/" + encodeURIComponent(cid))).conversation);
      await ensureUsers(state.convs.get(cid).members.map((m) => m.user_id));
    } catch (e) { return report(e); }
  }
  // A gap (pushes lost while we were away): fill it before showing more.
  const have = store.maxSeq(cid);
  if (state.msgs.has(cid) && have && Number(msg.seq) > have + 1) await syncConv(cid).catch(() => {});
  const fresh = store.putMessages(cid, [msg]);
  const t = state.typing.get(cid);
  if (t) t.delete(msg.sender_id);
  if (!fresh.length || msg.sender_id === state.me.id) return;
  const c = state.convs.get(cid);
  if (state.open === cid && document.visibilityState === "visible") markRead(cid);
  else {
    c.unread = (c.unread || 0) + 1;
    if (msg.mentioned) c.mentions = (c.mentions || 0) + 1;
  }
  store.changed();
}

export async function openConv(cid) {
  state.open = cid;
  store.changed();
  // History never loaded (maybe only pushes so far): the page before them.
  if (!state.hasMore.has(cid)) await loadOlder(cid);
  if (socket && state.msgs.has(cid)) await syncConv(cid).catch(() => {});
  markRead(cid);
}

// One page of history before the oldest message we hold.
export async function loadOlder(cid) {
  const before = store.minSeq(cid);
  if (before === 1 || state.hasMore.get(cid) === false) return;
  let q = "/api/messages/history?conversation_id=" + encodeURIComponent(cid) + "&limit=" + PAGE;
  if (before) q += "&before_seq=" + before;
  const r = await api.get(q);
  state.hasMore.set(cid, r.has_more);
  await ensureUsers(r.messages.map((m) => m.sender_id));
  store.putMessages(cid, r.messages);
}

export function markRead(cid) {
  const seq = store.maxSeq(cid);
  const c = state.convs.get(cid);
  if (!seq || !c) return;
  c.unread = 0;
  c.mentions = 0;
  store.changed();
  if (c.read_sent >= seq) return;
  c.read_sent = seq;
  const done = socket && socket.send({ op: "read", conversation_id: cid, seq });
  if (!done) api.post("/api/messages/read", { conversation_id: cid, seq }).catch(() => {});
}

// The edge relays at most one typing notice per conversation per 2 s and
// drops the rest (docs/presence.md "Typing"), so: one every 2.1 s, and a
// keystroke inside that window sends one at its end if the user is still
// typing (stillTyping()), else the notice would be lost.
export function typing(cid, stillTyping) {
  const wait = lastTypingSent + 2100 - Date.now();
  if (!socket || typingTimer) return;
  if (wait > 0) {
    typingTimer = setTimeout(() => { typingTimer = null; if (stillTyping() && state.open === cid) typing(cid, stillTyping); }, wait);
    return;
  }
  lastTypingSent = Date.now();
  socket.send({ op: "typing", conversation_id: cid });
}

// Send over the socket; if it is down, over REST (same client_msg_id, so a
// retry never doubles the message).
export async function send(cid, type, body, mentions) {
  const frame = { conversation_id: cid, client_msg_id: crypto.randomUUID(), type, body };
  if (mentions && mentions.length) frame.mentions = mentions;
  let message;
  try {
    message = (await socket.request({ op: "send", ...frame })).message;
  } catch (e) {
    if (e.code !== "unavailable") throw e;
    message = (await api.post("/api/messages", frame)).message;
  }
  store.putMessages(cid, [message]);
  clearTimeout(typingTimer); // sent: no longer typing
  typingTimer = null;
  markRead(cid);
}

// Any file: one the server made a thumbnail of goes as an image, the rest
// as a file message (a download link).
export async function sendFile(cid, file) {
  const { file: f } = await api.upload(file);
  await send(cid, f.thumbnail_url ? "image" : "file", f.id);
}

export async function searchUsers(q) {
  return (await api.get("/api/users?q=" + encodeURIComponent(q.toLowerCase()))).users
    .filter((u) => u.id !== state.me.id);
}

export async function startDirect(uid) {
  const { conversation } = await api.post("/api/conversations", { type: "direct", peer_id: uid });
  store.putConv(conversation);
  await ensureUsers(conversation.members.map((m) => m.user_id));
  await loadPresence();
  await openConv(conversation.id);
}

export async function startGroup(name, ids) {
  const { conversation } = await api.post("/api/conversations", { type: "group", name, member_ids: ids });
  store.putConv(conversation);
  await ensureUsers(ids);
  await openConv(conversation.id);
}

export async function applyContact(uid) {
  await api.post("/api/contacts/apply", { user_id: uid });
  await loadContacts();
}

export async function handleRequest(id, action) {
  await api.post("/api/contacts/handle", { request_id: id, action });
  await loadContacts();
  await loadPresence();
}

// For tests and for a network change: drop the socket, it reconnects.
export function dropSocket() { if (socket) socket.drop(); }
