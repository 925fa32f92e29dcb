// main.js - start-up: the sign-in page without a session, the chat with
// one; a session that ends (logout, revoked refresh, kick) goes back.
import { h } from "./dom.js";
import * as api from "./api.js";
import * as store from "./store.js";
import * as client from "./client.js";
import * as calls from "./calls.js";
import { authView } from "./views/auth.js";
import { sidebarView } from "./views/sidebar.js";
import { chatView } from "./views/chat.js";
import { callView } from "./views/call.js";

const root = document.getElementById("app");
let running = false;

async function show() {
  if (!api.current()) {
    calls.hangup();
    client.stop();
    store.reset();
    running = false;
    authView(root);
    return;
  }
  if (running) return;
  running = true;
  const side = h("aside.sidebar");
  const chat = h("section.chat");
  const toast = h("div.toast", { role: "status" });
  root.replaceChildren(h("div.app", side, chat, toast));
  store.subscribe((s) => { toast.textContent = s.error || ""; toast.hidden = !s.error; });
  try {
    await client.start();
    sidebarView(side);
    chatView(chat);
    callView(root.firstChild);
  } catch (e) {
    if (e.status === 401) { api.forget(); return; }
    toast.hidden = false;
    toast.textContent = "Cannot start: " + e.message;
  }
}

api.onSessionChange((s) => { if (!s || !running) show(); });
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && store.state.open) client.markRead(store.state.open);
});
window.natter = { client, store, calls }; // for the browser test and the console
show();
