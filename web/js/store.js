// store.js - what the client knows: conversations, their messages (by seq,
// deduplicated), users, presence, typing and read positions.  Views
// subscribe and re-render on change; nothing here talks to the network.
const subs = new Set();
let queued = false;

export const state = {
  me: null,
  conn: "offline",          // connecting | online | offline
  convs: new Map(),         // id -> conversation (API.md) + unread, last_message
  msgs: new Map(),          // conversation id -> Map(seq -> message)
  hasMore: new Map(),       // conversation id -> more history before the oldest?
  users: new Map(),         // id -> user
  presence: new Map(),      // user id -> {online, last_seen}
  typing: new Map(),        // conversation id -> Map(user id -> until ms)
  reads: new Map(),         // conversation id -> Map(user id -> seq)
  contacts: [],             // [{user, since}]
  requests: [],             // pending contact requests
  open: null,               // open conversation id
  call: null,               // the call on screen (calls.js), or null
  error: null,
};

export function subscribe(fn) { subs.add(fn); return () => subs.delete(fn); }

// Coalesce many changes into one render per frame.
export function changed() {
  if (queued) return;
  queued = true;
  requestAnimationFrame(() => { queued = false; for (const fn of subs) fn(state); });
}

export function reset() {
  subs.clear();
  for (const k of ["convs", "msgs", "hasMore", "users", "presence", "typing", "reads"]) state[k].clear();
  Object.assign(state, { me: null, contacts: [], requests: [], open: null, call: null, error: null });
  changed();
}

export function putConv(c) {
  const old = state.convs.get(c.id) || {};
  state.convs.set(c.id, { unread: 0, ...old, ...c });
  changed();
}

export function putUser(u) { state.users.set(u.id, u); changed(); }

// Add messages; returns the ones not seen before (dedup by seq).
export function putMessages(cid, list) {
  let m = state.msgs.get(cid);
  if (!m) state.msgs.set(cid, (m = new Map()));
  const fresh = [];
  for (const msg of list) {
    const seq = Number(msg.seq);
    const had = m.get(seq);
    if (!had) fresh.push(msg);
    m.set(seq, { ...had, ...msg, seq });
  }
  const c = state.convs.get(cid);
  if (c && fresh.length) {
    const newest = fresh.reduce((a, b) => (Number(a.seq) > Number(b.seq) ? a : b));
    if (!c.last_message || Number(newest.seq) >= Number(c.last_message.seq)) c.last_message = newest;
    c.last_seq = Math.max(Number(c.last_seq || 0), Number(newest.seq));
  }
  changed();
  return fresh;
}

export function sortedMessages(cid) {
  const m = state.msgs.get(cid);
  return m ? [...m.values()].sort((a, b) => a.seq - b.seq) : [];
}

export function maxSeq(cid) {
  const m = state.msgs.get(cid);
  return m && m.size ? Math.max(...m.keys()) : 0;
}

export function minSeq(cid) {
  const m = state.msgs.get(cid);
  return m && m.size ? Math.min(...m.keys()) : 0;
}

export function setTyping(cid, uid) {
  let t = state.typing.get(cid);
  if (!t) state.typing.set(cid, (t = new Map()));
  t.set(uid, Date.now() + 5000);
  changed();
  setTimeout(changed, 5100);
}

export function typers(cid) {
  const t = state.typing.get(cid);
  if (!t) return [];
  const now = Date.now();
  return [...t.entries()].filter(([uid, until]) => until > now && uid !== state.me.id).map(([uid]) => uid);
}

export function setRead(cid, uid, seq) {
  let r = state.reads.get(cid);
  if (!r) state.reads.set(cid, (r = new Map()));
  r.set(uid, Math.max(r.get(uid) || 0, Number(seq)));
  changed();
}

// Highest seq every other member has read (for "Read" on my messages).
export function readByOthers(cid) {
  const r = state.reads.get(cid);
  if (!r) return 0;
  let best = 0;
  for (const [uid, seq] of r) if (uid !== state.me.id) best = Math.max(best, seq);
  return best;
}

export function userName(uid) {
  if (state.me && uid === state.me.id) return "You";
  const u = state.users.get(uid);
  return u ? u.display_name || u.username : "user " + uid;
}

export function peerOf(c) {
  if (!c || c.type !== "direct") return null;
  const other = (c.members || []).find((m) => m.user_id !== state.me.id);
  return other ? other.user_id : null;
}

export function convTitle(c) {
  if (c.type === "group") return c.name || "Group";
  const peer = peerOf(c);
  return peer ? userName(peer) : "Direct";
}

export function sortedConvs() {
  const key = (c) => (c.last_message ? c.last_message.created_at : c.created_at) || 0;
  return [...state.convs.values()].sort((a, b) => key(b) - key(a));
}
