// calls.js - one-to-one audio/video calls (docs/API.md "Calls"): camera and
// microphone from getUserMedia, an RTCPeerConnection with the ICE servers
// of GET /api/calls/ice_servers, and natter's WebSocket frames as the
// signaling (call_offer, call_answer, call_ice, call_hangup).  Media flows
// browser to browser; the server only relays.  One call at a time: the
// server answers a second caller "busy" itself.
import * as api from "./api.js";
import * as store from "./store.js";
import * as client from "./client.js";

const { state } = store;
const now = () => performance.timeOrigin + performance.now();
const ENDED_SHOWN_MS = 5000;
const FAIL_GRACE_MS = 5000; // > the server's call.gone_ms (3 s) plus a reconnect
let early = [];       // frames about a call id we do not know yet (offer reply in flight)
export let last = null; // the previous call's record (timings), for the test and the console

// Reasons the server gives (and ours), as a person reads them.
export const REASONS = {
  hangup: "Call ended", canceled: "Call canceled", rejected: "Call declined",
  timeout: "No answer", busy: "Busy: in another call", gone: "Connection lost",
  unavailable: "Not reachable now", answered_elsewhere: "Answered on another device",
  failed: "Call failed",
};

export function reasonText(r) { return REASONS[r] || "Call ended (" + r + ")"; }

function changed() { store.changed(); }

async function iceServers() {
  try {
    const r = await api.get("/api/calls/ice_servers");
    return (r.ice_servers || []).map((s) => {
      const o = { urls: s.urls };
      if (s.username) { o.username = s.username; o.credential = s.credential; }
      return o;
    });
  } catch (e) {
    return []; // no STUN/TURN: host candidates still work on one network
  }
}

function media(kind) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia)
    throw new Error("this page cannot use the camera or microphone (calls need https or localhost)");
  return navigator.mediaDevices.getUserMedia({ audio: true, video: kind === "video" });
}

function sendIce(call, cand) {
  if (call.phase === "ended") return;
  if (!call.id || !call.iceOpen) { call.outIce.push(cand); return; }
  client.wsSend({ op: "call_ice", call_id: call.id, candidate: cand });
}

function flushOutIce(call) {
  call.iceOpen = true;
  const list = call.outIce;
  call.outIce = [];
  for (const c of list) sendIce(call, c);
}

async function flushInIce(call) {
  const list = call.inIce;
  call.inIce = [];
  for (const c of list) await call.pc.addIceCandidate(c).catch(() => {});
}

function peerConnection(call, servers) {
  const pc = new RTCPeerConnection({ iceServers: servers });
  call.pc = pc;
  pc.onicecandidate = (e) => { if (e.candidate) sendIce(call, e.candidate.toJSON()); };
  pc.ontrack = (e) => {
    call.remote = e.streams[0] || call.remote || new MediaStream();
    if (!e.streams[0]) call.remote.addTrack(e.track);
    changed();
  };
  pc.onconnectionstatechange = () => {
    call.pcState = pc.connectionState;
    if (pc.connectionState === "connected" && !call.t.connected) {
      call.t.connected = now();
      call.phase = "active";
      call.activeSince = Date.now();
    } else if (pc.connectionState === "failed" && !call.failTimer) {
      // Usually the other side hung up or went away and the server's
      // call_hangup (with the real reason: hangup, gone within
      // call.gone_ms) is on its way; only without one is this a failure.
      call.failTimer = setTimeout(() => { if (state.call === call) hangup("failed"); }, FAIL_GRACE_MS);
    }
    changed();
  };
  for (const t of call.local.getTracks()) pc.addTrack(t, call.local);
  return pc;
}

function newCall(fields) {
  const call = { id: null, phase: "starting", outIce: [], inIce: [], iceOpen: false,
                 t: {}, pc: null, local: null, remote: null, pcState: "new", ...fields };
  state.call = call;
  changed();
  return call;
}

// Place a call in a direct conversation; media is "audio" or "video".
export async function start(cid, kind) {
  if (state.call && state.call.phase !== "ended") throw new Error("already in a call");
  const c = state.convs.get(cid);
  const peer = store.peerOf(c);
  if (!peer) throw new Error("calls are for direct conversations");
  const call = newCall({ cid, peer, media: kind, dir: "out" });
  try {
    const [stream, servers] = await Promise.all([media(kind), iceServers()]);
    call.local = stream;
    call.t.media = now();
    if (call.phase === "ended") return stopMedia(call);
    peerConnection(call, servers);
    await call.pc.setLocalDescription(await call.pc.createOffer());
    if (call.phase === "ended") return stopMedia(call);
    call.phase = "ringing";
    call.t.offerSent = now();
    changed();
    const r = await client.wsRequest({ op: "call_offer", conversation_id: cid, media: kind,
                                       sdp: call.pc.localDescription.sdp });
    call.id = r.call_id;
    if (call.phase === "ended") {  // hung up while the offer was in flight
      client.wsSend({ op: "call_hangup", call_id: call.id });
      return;
    }
    flushOutIce(call);
    const queued = early.filter((f) => f.call_id === call.id);
    early = [];
    for (const f of queued) onFrame(f);
  } catch (e) {
    end(call, "failed", e.message);
  }
}

function onOffer(f) {
  if (state.call && state.call.phase !== "ended") return; // busy here; the server tells the caller
  client.ensureUsers([f.from]).catch(() => {});
  const call = newCall({ id: f.call_id, cid: f.conversation_id, peer: f.from, media: f.media,
                         dir: "in", phase: "ringing", offerSdp: f.sdp });
  call.t.offerReceived = now();
}

export async function accept() {
  const call = state.call;
  if (!call || call.dir !== "in" || call.phase !== "ringing") return;
  call.phase = "connecting";
  call.t.accepted = now();
  changed();
  try {
    const [stream, servers] = await Promise.all([media(call.media), iceServers()]);
    call.local = stream;
    call.t.media = now();
    if (call.phase === "ended") return stopMedia(call);
    const pc = peerConnection(call, servers);
    await pc.setRemoteDescription({ type: "offer", sdp: call.offerSdp });
    await flushInIce(call);
    await pc.setLocalDescription(await pc.createAnswer());
    if (call.phase === "ended") return;
    const answered = client.wsRequest({ op: "call_answer", call_id: call.id, sdp: pc.localDescription.sdp });
    call.t.answerSent = now();
    flushOutIce(call); // after the answer on the same socket, so in order
    await answered;
  } catch (e) {
    if (call.phase !== "ended") {
      client.wsSend({ op: "call_hangup", call_id: call.id });
      end(call, e.code === "conflict" ? "answered_elsewhere" : "failed", e.message);
    }
  }
}

export function reject() { hangup("rejected"); }

// Hang up (or cancel, or decline) the current call; the other side is told.
export function hangup(reason = "hangup") {
  const call = state.call;
  if (!call || call.phase === "ended") return;
  if (call.id) client.wsSend({ op: "call_hangup", call_id: call.id });
  const answered = call.t.answerSent || call.t.answerReceived;
  if (reason === "hangup" && !answered) reason = call.dir === "out" ? "canceled" : "rejected";
  end(call, reason);
}

function stopMedia(call) {
  if (call.local) for (const t of call.local.getTracks()) t.stop();
}

function end(call, reason, detail) {
  if (call.phase === "ended") return;
  call.phase = "ended";
  clearTimeout(call.failTimer);
  call.reason = reason;
  call.detail = detail || "";
  call.t.ended = now();
  call.duration = call.activeSince ? Math.round((Date.now() - call.activeSince) / 1000) : 0;
  stopMedia(call);
  if (call.pc) call.pc.close();
  last = call;
  changed();
  setTimeout(() => { if (state.call === call) { state.call = null; changed(); } }, ENDED_SHOWN_MS);
}

function onFrame(f) {
  const call = state.call;
  if (!call || call.phase === "ended") return;
  if (call.dir === "out" && !call.id) { early.push(f); return; }
  if (f.call_id !== call.id) return;
  switch (f.op) {
    case "call_answer":
      if (call.dir !== "out" || !call.pc) return;
      call.t.answerReceived = now();
      call.phase = "connecting";
      changed();
      call.pc.setRemoteDescription({ type: "answer", sdp: f.sdp })
        .then(() => flushInIce(call))
        .catch((e) => { hangup("failed"); call.detail = e.message; });
      return;
    case "call_ice":
      if (!f.candidate) return;
      if (call.pc && call.pc.remoteDescription) call.pc.addIceCandidate(f.candidate).catch(() => {});
      else call.inIce.push(f.candidate);
      return;
    case "call_hangup":
      end(call, f.reason || "hangup");
      return;
    default:
  }
}

client.onPushOp("call_offer", onOffer);
for (const op of ["call_answer", "call_ice", "call_hangup"]) client.onPushOp(op, onFrame);

// The socket, as the call view sees it change.  The server holds a call
// only while each party's session answers its liveness probes (docs/
// calls.md "Liveness"): a probe that finds no socket of ours ends the call
// as `gone` for the other side at once, so whether a call outlives even a
// short reconnect is a race.  Make it certain instead: a lost socket ends
// the call here ("Connection lost"), and once the socket is back we hang
// that call up, in case the server did not notice the gap (the same
// session came back between two probes) and the other side is still in it.
let owed = null;     // call id to hang up once the socket is back

export function connState(conn) {
  const call = state.call;
  if (conn !== "online") {
    if (call && call.phase !== "ended") {
      if (call.id) owed = call.id;
      end(call, "gone", "this page lost its connection");
    }
  } else if (owed) {
    client.wsSend({ op: "call_hangup", call_id: owed });
    owed = null;
  }
}
