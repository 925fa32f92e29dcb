// views/chat.js - the open conversation: history (older pages on scroll
// up), live messages, typing, read receipts, the composer and images.
import { h, clear, timeLabel } from "../dom.js";
import * as store from "../store.js";
import * as client from "../client.js";
import * as api from "../api.js";

const { state } = store;
const blobs = new Map(); // "id" or "id/t" -> object URL (fetched with the token)

export function chatView(el) {
  const title = h("h2.chat-title");
  const sub = h("small.chat-sub");
  const back = h("button.back", { name: "back", "aria-label": "Back to conversations",
                                  onclick: () => el.closest(".app").classList.remove("chat-open") }, "‹");
  const list = h("ol.messages", { "aria-label": "Messages" });
  const typingLine = h("div.typing", { "aria-live": "polite" });
  const text = h("textarea", { name: "text", rows: 1, maxLength: 4000, placeholder: "Message",
                               oninput: () => state.open && client.typing(state.open, () => text.value.trim() !== ""),
                               onkeydown: (ev) => { if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); sendText(); } } });
  const file = h("input", { type: "file", name: "image", accept: "image/png,image/jpeg,image/gif,image/webp", hidden: true,
                            onchange: () => { const f = file.files[0]; file.value = ""; if (f) sendImage(f); } });
  const composer = h("form.composer", { onsubmit: (ev) => { ev.preventDefault(); sendText(); } },
    h("button.icon", { type: "button", name: "attach", title: "Send an image", "aria-label": "Send an image",
             onclick: () => file.click() }, h("img", { src: "img/image.svg", alt: "", width: 20, height: 20 })),
    file, text, h("button.primary", { type: "submit", name: "send" }, "Send"));
  const empty = h("div.empty", "Pick a conversation, or find someone to talk to.");
  const pane = h("div.chat-pane", h("header.chat-head", back, h("div", title, sub)), list, typingLine, composer);
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

  async function sendText() {
    const body = text.value.trim();
    if (!body || !state.open) return;
    text.value = "";
    try { await client.send(state.open, "text", body); } catch (e) { text.value = body; client.report(e); }
  }
  async function sendImage(f) {
    try { await client.sendImage(state.open, f); } catch (e) { client.report(e); }
  }

  function render() {
    const c = state.open && state.convs.get(state.open);
    empty.hidden = !!c;
    pane.hidden = !c;
    if (!c) return;
    title.textContent = store.convTitle(c);
    const peer = store.peerOf(c);
    const p = peer && state.presence.get(peer);
    sub.textContent = c.type === "group" ? (c.members || []).map((m) => store.userName(m.user_id)).join(", ")
      : p ? (p.online ? "online" : p.last_seen ? "last seen " + timeLabel(p.last_seen) : "offline") : "";
    const atBottom = shown !== c.id || list.scrollHeight - list.scrollTop - list.clientHeight < 60;
    if (shown !== c.id) { clear(list); shown = c.id; }
    const msgs = store.sortedMessages(c.id);
    const read = store.readByOthers(c.id);
    const lastMine = [...msgs].reverse().find((m) => m.sender_id === state.me.id);
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
  render();
}

function messageItem(m, c, readMark) {
  const mine = m.sender_id === state.me.id;
  let body;
  if (m.revoked) body = h("em", "message removed");
  else if (m.type === "image") body = imageThumb(m.body);
  else if (m.type === "file") body = h("span", "File " + m.body);
  else if (m.type === "system") body = h("em", m.body);
  else body = h("span.text", m.body);
  return h("li", { className: "msg " + (mine ? "mine" : "theirs") + (m.type === "system" ? " system" : ""),
                   dataset: { seq: m.seq, type: m.type } },
    !mine && c.type === "group" ? h("small.from", store.userName(m.sender_id)) : null,
    h("div.bubble", body),
    h("small.meta", timeLabel(m.created_at), readMark ? h("span.read", " · Read") : null));
}

// Thumbnails need the bearer token, so they are fetched and shown as blob:
// URLs (the CSP allows img-src blob:); a click opens the full image.
function imageThumb(id) {
  const img = h("img.thumb", { alt: "image", loading: "lazy", dataset: { file: id } });
  blobURL(id, true).then((u) => { img.src = u; }, () => { img.alt = "image unavailable"; });
  img.addEventListener("click", () => openFull(id));
  return img;
}

function blobURL(id, thumb) {
  const key = id + (thumb ? "/t" : "");
  if (!blobs.has(key)) blobs.set(key, api.fileBlob(id, thumb).then((b) => URL.createObjectURL(b)));
  const p = blobs.get(key);
  p.catch(() => blobs.delete(key));
  return p;
}

function openFull(id) {
  const img = h("img.full", { alt: "full image" });
  const box = h("div.lightbox", { role: "dialog", onclick: () => box.remove() }, img);
  document.body.append(box);
  blobURL(id, false).then((u) => { img.src = u; }, (e) => { box.remove(); client.report(e); });
}
