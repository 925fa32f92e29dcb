// ws.js - the WebSocket to edge-ws (docs/API.md "WebSocket"): requests with
// rid, pushes to a handler, a ping every 25 s (the edge closes a socket
// silent for 60 s), and reconnection with exponential back-off and jitter.
export class Socket {
  constructor({ url, token, onPush, onOpen, onState, onAuthFail }) {
    Object.assign(this, { url, token, onPush, onOpen, onState, onAuthFail });
    this.ws = null;
    this.rid = 0;
    this.pending = new Map();
    this.attempt = 0;
    this.closed = false;
    this.timer = null;
    this.pinger = null;
  }

  start() { this.closed = false; this.connect(); }

  connect() {
    clearTimeout(this.timer);
    const token = this.token();
    if (!token || this.closed) return;
    this.onState("connecting");
    const ws = new WebSocket(this.url + "?token=" + encodeURIComponent(token));
    this.ws = ws;
    ws.onmessage = (ev) => this.frame(ev.data);
    ws.onclose = (ev) => this.lost(ws, ev.code);
  }

  frame(text) {
    let f;
    try { f = JSON.parse(text); } catch (_) { return; }
    if (f.op === "hello") {
      this.attempt = 0;
      this.onState("online");
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.send({ op: "ping" }), 25000);
      this.onOpen(f);
      return;
    }
    if (f.rid && this.pending.has(f.rid)) {
      const { resolve, reject, timer } = this.pending.get(f.rid);
      clearTimeout(timer);
      this.pending.delete(f.rid);
      if (f.op === "error") reject(Object.assign(new Error(f.message), { code: f.code }));
      else resolve(f);
      return;
    }
    this.onPush(f);
  }

  lost(ws, code) {
    if (ws !== this.ws) return;
    clearInterval(this.pinger);
    this.ws = null;
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(Object.assign(new Error("connection lost"), { code: "unavailable" }));
    }
    this.pending.clear();
    if (this.closed) return;
    this.onState("offline");
    // 4001: token refused (expired or revoked) -> refresh first; 4002: kicked.
    if (code === 4002) { this.closed = true; this.onAuthFail("kicked"); return; }
    const delay = Math.min(15000, 500 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
    const go = code === 4001 ? () => this.onAuthFail("token").then(() => this.connect(), () => {})
                             : () => this.connect();
    this.timer = setTimeout(go, delay);
  }

  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  request(frame, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      const rid = "r" + ++this.rid;
      if (!this.send({ ...frame, rid })) {
        reject(Object.assign(new Error("offline"), { code: "unavailable" }));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(Object.assign(new Error("timeout"), { code: "unavailable" }));
      }, timeoutMs);
      this.pending.set(rid, { resolve, reject, timer });
    });
  }

  // Drop the socket now (a test, or the network changed); it comes back.
  drop() { if (this.ws) this.ws.close(); }

  stop() {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
  }
}
