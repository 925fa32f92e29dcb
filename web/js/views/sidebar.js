// views/sidebar.js - who I am, the conversation list (unread counts, last
// message, presence), finding people, new groups and contact requests.
import { h, clear, timeLabel } from "../dom.js";
import * as store from "../store.js";
import * as client from "../client.js";
import * as api from "../api.js";
import { systemText } from "./describe.js";
import { profileForm } from "./profile.js";

const { state } = store;

export function sidebarView(el) {
  const list = h("ul.convs", { "aria-label": "Conversations" });
  const requests = h("div.requests");
  const results = h("ul.results");
  const search = h("input.search", { type: "search", name: "user-search", placeholder: "Find people by username…",
                                     oninput: debounce(find, 250) });
  const groupBox = h("div.group-box", { hidden: true });
  const me = h("div.me");
  const profile = h("div.profile-box", { hidden: true });
  el.append(me, profile, h("div.find", search, results), requests,
            h("div.list-head", h("span", "Conversations"),
              h("button.small", { name: "new-group", onclick: toggleGroup }, "New group")),
            groupBox, list);

  async function find() {
    const q = search.value.trim();
    clear(results);
    if (!q) return;
    try {
      for (const u of await client.searchUsers(q)) {
        const isContact = state.contacts.some((c) => c.user.id === u.id);
        results.append(h("li.result", { dataset: { uid: u.id } },
          h("span.name", u.display_name, h("small", " @" + u.username)),
          h("button.small", { name: "chat", onclick: () => run(() => client.startDirect(u.id).then(done)) }, "Chat"),
          isContact ? null : h("button.small", { name: "add-contact",
            onclick: (ev) => run(() => client.applyContact(u.id).then(() => { ev.target.textContent = "Requested"; ev.target.disabled = true; })) }, "Add")));
      }
      if (!results.firstChild) results.append(h("li.none", "Nobody by that name"));
    } catch (e) { client.report(e); }
  }
  function done() { search.value = ""; clear(results); el.closest(".app").classList.add("chat-open"); }

  function toggleGroup() {
    groupBox.hidden = !groupBox.hidden;
    if (groupBox.hidden) return;
    const name = h("input", { name: "group-name", placeholder: "Group name", maxLength: 64 });
    const boxes = state.contacts.map((c) => h("label", h("input", { type: "checkbox", value: c.user.id }), " " + (c.user.display_name || c.user.username)));
    groupBox.replaceChildren(name, h("div.pick", boxes.length ? boxes : h("small", "Add contacts first: groups are made from contacts.")),
      h("button.small.primary", { name: "create-group", onclick: () => {
        const ids = boxes.map((b) => b.firstChild).filter((c) => c.checked).map((c) => c.value);
        if (!name.value.trim() || !ids.length) return client.report("A group needs a name and at least one member");
        run(() => client.startGroup(name.value.trim(), ids).then(() => { groupBox.hidden = true; done(); }));
      } }, "Create"));
  }

  function toggleProfile() {
    profile.hidden = !profile.hidden;
    if (!profile.hidden) profileForm(profile, () => { profile.hidden = true; });
  }

  function render() {
    const online = state.conn === "online";
    me.replaceChildren(h("span.dot", { className: "dot " + state.conn, title: state.conn }),
      h("strong", state.me ? state.me.display_name || state.me.username : ""),
      h("small.conn", online ? "" : state.conn === "connecting" ? " connecting…" : " offline"),
      h("button.small", { name: "profile", onclick: toggleProfile }, "Profile"),
      h("button.small", { name: "logout", onclick: () => api.logout() }, "Log out"));
    clear(requests);
    const incoming = state.requests.filter((r) => r.to_id === state.me.id && r.status === "pending");
    const outgoing = state.requests.filter((r) => r.from_id === state.me.id && r.status === "pending");
    if (incoming.length || outgoing.length) requests.append(h("div.list-head", "Contact requests"));
    for (const r of incoming) requests.append(h("div.request", { dataset: { rid: r.id } },
      h("span", store.userName(r.from_id), r.message ? h("small", " “" + r.message + "”") : null),
      h("button.small.primary", { name: "accept", onclick: () => run(() => client.handleRequest(r.id, "accept")) }, "Accept"),
      h("button.small", { name: "reject", onclick: () => run(() => client.handleRequest(r.id, "reject")) }, "Reject")));
    for (const r of outgoing) requests.append(h("div.request.out", h("span", "To " + store.userName(r.to_id)), h("small", " pending")));
    clear(list);
    for (const c of store.sortedConvs()) {
      const last = c.last_message;
      const peer = store.peerOf(c);
      const p = peer && state.presence.get(peer);
      list.append(h("li.conv", { className: "conv" + (c.id === state.open ? " active" : ""), dataset: { cid: c.id },
                                 onclick: () => { el.closest(".app").classList.add("chat-open"); client.openConv(c.id).catch(client.report); } },
        h("span", { className: "dot " + (p ? (p.online ? "online" : "away") : "none"), title: p ? (p.online ? "online" : "offline") : "" }),
        h("div.conv-main",
          h("div.conv-top", h("span.title", store.convTitle(c)), h("small.when", last ? timeLabel(last.created_at) : "")),
          h("div.conv-bottom", h("span.preview", last ? preview(last) : "No messages yet"),
            c.mentions ? h("span.badge.at", { title: "mentions you" }, "@") : null,
            c.unread ? h("span.badge", { title: "unread" }, String(c.unread)) : null))));
    }
    if (!list.firstChild) list.append(h("li.none", "No conversations yet: find someone above."));
  }
  store.subscribe(render);
  render();
}

function preview(m) {
  const who = m.sender_id === state.me.id ? "You: " : state.convs.get(m.conversation_id)?.type === "group" ? store.userName(m.sender_id) + ": " : "";
  if (m.revoked) return who + "(message removed)";
  if (m.type === "image") return who + "Photo";
  if (m.type === "file") return who + "File";
  if (m.type === "system" || m.type === "call") return systemText(m);
  return who + m.body;
}

function run(fn) { fn().catch(client.report); }

function debounce(fn, ms) {
  let t;
  return () => { clearTimeout(t); t = setTimeout(fn, ms); };
}
