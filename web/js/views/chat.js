// views/chat.js - the open conversation: history (older pages on scroll
// up), live messages, typing, read receipts, the composer (text with
// @mentions, images and other files), revoke, calls and group settings.
import { h, clear, timeLabel } from "../dom.js";
import * as store from "../store.js";
import * as client from "../client.js";
import * as manage from "../manage.js";
import * as calls from "../calls.js";
import { systemText, isCall } from "./describe.js";
import { groupPanel } from "./group.js";
import { imageThumb, fileLink } from "./files.js";

const { state } = store;
let revokeTicker = null;

export function chatView(el) {
  const title = h("h2.chat-title");
  const sub = h("small.chat-sub");
  const back = h("button.back", { name: "back", "aria-label": "Back to conversations",
                                  onclick: () => el.closest(".app").classList.remove("chat-open") }, "‹");
  const audioBtn = h("button.small", { name: "call-audio", title: "Audio call", onclick: () => call("audio") }, "Call");
  const videoBtn = h("button.small", { name: "call-video", title: "Video call", onclick: () => call("video") }, "Video");
  const infoBtn = h("button.small", { name: "group-info", title: "Group settings", onclick: () => { panel.hidden = !panel.hidden; render(); } }, "Group");
  const panel = h("div.group-panel", { hidden: true });
  const list = h("ol.messages", { "aria-label": "Messages" });
  const typingLine = h("div.typing", { "aria-live": "polite" });
  const text = h("textarea", { name: "text", rows: 1, maxLength: 4000, placeholder: "Message",
                               oninput: () => state.open && client.typing(state.open, () => text.value.trim() !== ""),
                               onkeydown: (ev) => { if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); sendText(); } } });
  const file = h("input", { type: "file", name: "attachment", hidden: true,
                            onchange: () => { const f = file.files[0]; file.value = ""; if (f) sendFile(f); } });
  const composer = h("form.composer", { onsubmit: (ev) => { ev.preventDefault(); sendText(); } },
    h("button.icon", { type: "button", name: "attach", title: "Send an image or a file", "aria-label": "Send an image or a file",
             onclick: () => file.click() }, h("img", { src: "img/image.svg", alt: "", width: 20, height: 20 })),
    file, text, h("button.primary", { type: "submit", name: "send" }, "Send"));
  const empty = h("div.empty", "Pick a conversation, or find someone to talk to.");
  const pane = h("div.chat-pane",
    h("header.chat-head", back, h("div.chat-names", title, sub), h("div.chat-tools", audioBtn, videoBtn, infoBtn)),
    panel, list, typingLine, composer);
  el.append(empty, pane);

  let shown = null;       // conversation rendered
  let loadingOlder = false;
  list.addEventListener("scroll", async () => {
    if (list.scrollTop > 40 || loadingOlder || !shown || state.hasMore.get(shown) === false) return;
    loadingOlder = true;
    const before = list.scrollHeight;
    try { await client.loadOlder(shown); } catch (e) { client.report(e); }
    requestAnimationFrame(() => { list.scrollTop += list.scrollHeight - before; loadingOlder = false; });
  });

  function call(kind) { if (state.open) calls.start(state.open, kind).catch(client.report); }

  async function sendText() {
    const body = text.value.trim();
    if (!body || !state.open) return;
    text.value = "";
    try { await client.send(state.open, "text", body, mentionsIn(body, state.convs.get(state.open))); }
    catch (e) { text.value = body; client.report(e); }
  }
  async function sendFile(f) {
    try { await client.sendFile(state.open, f); } catch (e) { client.report(e); }
  }

  function render() {
    const c = state.open && state.convs.get(state.open);
    empty.hidden = !!c;
    pane.hidden = !c;
    if (!c) { shown = null; return; }
    title.textContent = store.convTitle(c);
    const peer = store.peerOf(c);
    const p = peer && state.presence.get(peer);
    const group = c.type === "group";
    sub.textContent = group ? (c.members || []).map((m) => store.userName(m.user_id)).join(", ")
      : p ? (p.online ? "online" : p.last_seen ? "last seen " + timeLabel(p.last_seen) : "offline") : "";
    audioBtn.hidden = videoBtn.hidden = group;
    audioBtn.disabled = videoBtn.disabled = !!state.call || state.conn !== "online";
    infoBtn.hidden = !group;
    if (!group || shown !== c.id) panel.hidden = true;
    // Rebuilt only when the group changed, so typing in it is not lost.
    const key = panel.hidden ? "" : c.id + "|" + c.name + "|" + JSON.stringify(c.members) + "|" + state.contacts.length;
    if (panel.dataset.key !== key) { panel.dataset.key = key; if (key) groupPanel(panel, c); else clear(panel); }
    const atBottom = shown !== c.id || list.scrollHeight - list.scrollTop - list.clientHeight < 60;
    if (shown !== c.id) { clear(list); shown = c.id; }
    const msgs = store.sortedMessages(c.id);
    const read = store.readByOthers(c.id);
    const lastMine = [...msgs].reverse().find((m) => m.sender_id === state.me.id && m.type !== "system");
    const items = [];
    if (state.hasMore.get(c.id)) items.push(h("li.more", "Scroll up for older messages"));
    for (const m of msgs) items.push(messageItem(m, c, m === lastMine && read >= m.seq));
    list.replaceChildren(...items);
    const who = store.typers(c.id).map(store.userName);
    typingLine.textContent = who.length ? who.join(", ") + (who.length > 1 ? " are" : " is") + " typing…" : "";
    if (atBottom) list.scrollTop = list.scrollHeight;
    // Too few to scroll, yet more exist: no scroll event will ask, so ask.
    if (!loadingOlder && state.hasMore.get(c.id) && list.scrollHeight <= list.clientHeight)
      list.dispatchEvent(new Event("scroll"));
  }
  store.subscribe(render);
  // The revoke button expires with the server's window: look again now and
  // then (one timer for the page, however often this view is built).
  if (!revokeTicker) revokeTicker = setInterval(() => { if (state.open && state.me) store.changed(); }, 15000);
  render();
}

// "@username" words naming members of the conversation -> their ids.
function mentionsIn(body, c) {
  if (!c) return [];
  const ids = new Set();
  for (const [, name] of body.matchAll(/(?:^|[^\w.])@([a-z0-9_.]{3,32})/g)) {
    const m = (c.members || []).find((x) => { const u = state.users.get(x.user_id); return u && u.username === name; });
    if (m) ids.add(m.user_id);
  }
  return [...ids].slice(0, 50);
}

// Text with the mentioned members' "@username" marked.
function textBody(m) {
  const names = new Set((m.mentions || []).map((id) => state.users.get(id)).filter(Boolean).map((u) => u.username));
  if (!names.size) return h("span.text", m.body);
  const parts = m.body.split(/(@[a-z0-9_.]{3,32})/g)
    .map((p) => (p.startsWith("@") && names.has(p.slice(1)) ? h("mark.mention", p) : p));
  return h("span.text", parts);
}

function messageItem(m, c, readMark) {
  const mine = m.sender_id === state.me.id;
  const sys = m.type === "system" || m.type === "call";
  let body;
  if (m.revoked) body = h("em", "message removed");
  else if (m.type === "image") body = imageThumb(m.body);
  else if (m.type === "file") body = fileLink(m.body);
  else if (sys) body = h("em", systemText(m));
  else body = textBody(m);
  const kind = sys ? (isCall(m) ? " system call-record" : " system") : mine ? " mine" : " theirs";
  const tools = manage.canRevoke(m) ? h("button.link.revoke", { name: "revoke", title: "Remove this message for everyone",
    onclick: () => manage.revoke(m).catch(client.report) }, "Remove") : null;
  return h("li", { className: "msg" + kind + (m.mentions && m.mentions.includes(state.me.id) ? " mentions-me" : ""),
                   dataset: { seq: m.seq, type: m.type } },
    !mine && !sys && c.type === "group" ? h("small.from", store.userName(m.sender_id)) : null,
    h("div.bubble", body),
    h("small.meta", timeLabel(m.created_at), readMark ? h("span.read", " · Read") : null, tools));
}
