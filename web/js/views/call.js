// views/call.js - the call overlay: ringing (accept / decline, or "Calling"
// with cancel), the far video large and mine small while connected, a
// timer, hang up, and why it ended.  The <video> elements are made once and
// only get new streams, so re-rendering never interrupts playback.
import { h } from "../dom.js";
import * as store from "../store.js";
import * as calls from "../calls.js";

const { state } = store;

export function callView(root) {
  const who = h("strong.call-who");
  const status = h("span.call-status", { "aria-live": "polite" });
  const remote = h("video.remote", { autoplay: true, playsInline: true });
  const local = h("video.local", { autoplay: true, playsInline: true, muted: true });
  const accept = h("button.primary.accept", { name: "call-accept", onclick: () => calls.accept() }, "Accept");
  const reject = h("button.danger", { name: "call-reject", onclick: () => calls.reject() }, "Decline");
  const hang = h("button.danger", { name: "call-hangup", onclick: () => calls.hangup() }, "Hang up");
  const stage = h("div.call-stage", remote, local);
  const actions = h("div.call-actions", accept, reject, hang);
  const box = h("div.call", { role: "dialog", "aria-label": "Call", hidden: true },
    h("div.call-head", who, status), stage, actions);
  root.append(box);
  let ticker = null;

  function attach(video, stream) {
    if (video.srcObject === (stream || null)) return;
    video.srcObject = stream || null;
    if (stream) video.play().catch(() => {});
  }

  function render() {
    calls.connState(state.conn);
    const c = state.call;
    box.hidden = !c;
    if (!c) { attach(remote, null); attach(local, null); return; }
    box.dataset.phase = c.phase;
    box.dataset.media = c.media;
    who.textContent = store.userName(c.peer);
    const ringingIn = c.dir === "in" && c.phase === "ringing";
    accept.hidden = reject.hidden = !ringingIn;
    hang.hidden = ringingIn || c.phase === "ended";
    actions.hidden = c.phase === "ended";
    stage.hidden = c.media !== "video" || c.phase === "ended" || ringingIn;
    attach(local, c.phase === "ended" ? null : c.local);
    attach(remote, c.phase === "ended" ? null : c.remote);
    status.textContent = statusText(c);
    clearInterval(ticker);
    if (c.phase === "active") ticker = setInterval(() => { status.textContent = statusText(c); }, 1000);
  }
  store.subscribe(render);
  render();
}

function statusText(c) {
  const kind = c.media === "video" ? "video call" : "audio call";
  switch (c.phase) {
    case "starting": return "starting " + kind + "…";
    case "ringing": return c.dir === "in" ? "incoming " + kind + "…" : "calling…";
    case "connecting": return "connecting…";
    case "active": return kind + " " + clock(Math.round((Date.now() - c.activeSince) / 1000));
    case "ended": return calls.reasonText(c.reason) + (c.detail ? ": " + c.detail : "") +
      (c.duration ? " (" + clock(c.duration) + ")" : "");
    default: return "";
  }
}

export function clock(s) {
  const m = Math.floor(s / 60);
  return m + ":" + String(s % 60).padStart(2, "0");
}
