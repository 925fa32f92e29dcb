// manage.js - the actions that change things other than messages: group
// membership and name (docs/groups.md), revoking my own message, my profile.
// Each one answers with the server's new state, which goes into the store;
// the pushes that follow (member, revoked) only confirm it.
import * as api from "./api.js";
import * as store from "./store.js";
import { ensureUsers } from "./client.js";

const { state } = store;
const conv = (cid) => "/api/conversations/" + encodeURIComponent(cid);

async function adoptConv(conversation) {
  store.putConv(conversation);
  await ensureUsers(conversation.members.map((m) => m.user_id));
}

export async function renameGroup(cid, name) {
  await adoptConv((await api.call("PUT", conv(cid), { name })).conversation);
}

export async function addMembers(cid, ids) {
  await adoptConv((await api.post(conv(cid) + "/members", { user_ids: ids })).conversation);
}

export async function removeMember(cid, uid) {
  await api.call("DELETE", conv(cid) + "/members/" + encodeURIComponent(uid));
  if (uid === state.me.id) {
    state.convs.delete(cid);
    state.msgs.delete(cid);
    if (state.open === cid) state.open = null;
    store.changed();
    return;
  }
  await adoptConv((await api.get(conv(cid))).conversation);
}

export const leaveGroup = (cid) => removeMember(cid, state.me.id);

// Owner only: a member's role (admin or member), and handing the group over.
export async function setRole(cid, uid, role) {
  await adoptConv((await api.call("PUT", conv(cid) + "/members/" + encodeURIComponent(uid), { role })).conversation);
}

export async function handOver(cid, uid) {
  await adoptConv((await api.post(conv(cid) + "/owner", { user_id: uid })).conversation);
}

// My role in a conversation: owner, admin or member.
export function myRole(c) {
  const m = (c.members || []).find((x) => x.user_id === state.me.id);
  return m ? m.role : "member";
}

// The server's window (msg.revoke_window_s, 120 s by default); the button
// is offered a little less long so a click near the end is not refused.
export const REVOKE_WINDOW_MS = 115000;

export function canRevoke(m) {
  return m.sender_id === state.me.id && !m.revoked && m.type !== "system" &&
         Date.now() - m.created_at < REVOKE_WINDOW_MS;
}

export async function revoke(m) {
  const { message } = await api.post("/api/messages/" + encodeURIComponent(m.id) + "/revoke");
  store.putMessages(m.conversation_id, [message]);
}

export async function updateProfile(fields) {
  const { user } = await api.call("PUT", "/api/users/me", fields);
  state.me = user;
  store.putUser(user);
}
