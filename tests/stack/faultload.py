"""faultload.py - the load side of the fault tests (faults.py): correct chat
clients in one asyncio loop per worker process.

A worker is started by faults.py as

    /usr/bin/python3 faultload.py SPEC.json RESULT.json

SPEC names the edge-ws port, the sessions (token, user, conversation,
peer, the conversation's last seq before this run, optionally a port of
their own: a cluster test spreads the sessions over several edges) and the schedule in wall
clock seconds: start, stop sending, give up.  Each session behaves as
API.md and ws.md ask of a client:

  - messages are created on a fixed schedule (rate per session), but a
    session with BACKLOG_MAX messages not yet acknowledged creates none
    (counted as held back): the load follows what the stack carries rather
    than piling up an ever longer queue when the machine is slower than
    the offered rate;
  - every message gets its own client_msg_id; it waits in the session's
    outbox, at most WINDOW are in flight, and one that fails (`unavailable`,
    `rate_limited`, no answer in CLIENT_TIMEOUT_S, or a socket that dropped)
    is sent again with the SAME client_msg_id until `sent` comes;
  - pushes are deduplicated by seq and acked cumulatively (the highest seq
    up to which nothing is missing), every ACK_EVERY_S;
  - a gap in seq that stays open GAP_SYNC_S, and every reconnect, is
    closed with `sync` from the last contiguous seq (paged);
  - a dropped socket is reconnected with back-off (0.1 s doubling to 1 s),
    to the next edge of the spec's `ports` (a balancer's job; `port` alone:
    always the same one); a close 1012 "service_restart retry_ms=N" (an
    edge draining for a restart, docs/ws.md "Drain") waits N ms instead.

The spec may name a `stop_file`: once it exists, sending stops as if
t_stop had come (and the give-up time is `drain_s` later), for a test
whose load lasts as long as its restarts do.

When every message is acknowledged (or the give-up time passed: then no
new attempt is made, and the worker waits for the answers to those in
flight) the worker creates `<dir>/drained-<k>` and waits for faults.py to create
`<dir>/final` (all workers drained, so no message is still being sent);
then each session syncs the whole run once more and the worker writes what
each session sent, got acknowledged and saw (by seq, and how) to RESULT.

Client frames use the all-zero masking key (RFC 6455 allows any key; the
server unmasks all the same), so the generator spends no CPU on masking.
Python standard library only.
"""

import asyncio
import base64
import collections
import json
import os
import sys
import time

WINDOW = 16              # sends in flight per session
BACKLOG_MAX = 2 * WINDOW # a session's unsent + in-flight messages: beyond it the
                         # "user" waits (the scheduled message is held back)
CLIENT_TIMEOUT_S = 10.0  # no answer to a send or sync: try again
ACK_EVERY_S = 0.1
GAP_SYNC_S = 1.0
RETRY_DELAY_S = 0.2      # after `unavailable` / `rate_limited`
RETRY_CODES = ("unavailable", "rate_limited")
TICK_S = 0.01
SYNC_LIMIT = 100


def frame(op, payload):
    """A masked client frame with the zero key (payload unchanged)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | op, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | op, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | op, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


class WsProto(asyncio.Protocol):
    def __init__(self, client, host, port, path):
        self.c = client
        self.req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n"
                    % (path, host, port, base64.b64encode(os.urandom(16)).decode())).encode()
        self.buf = bytearray()
        self.open = False
        self.frags = []
        self.tr = None

    def connection_made(self, tr):
        self.tr = tr
        tr.write(self.req)

    def write(self, data):
        if self.tr is not None and not self.tr.is_closing():
            self.tr.write(data)

    def data_received(self, data):
        buf = self.buf
        buf += data
        if not self.open:
            i = buf.find(b"\r\n\r\n")
            if i < 0:
                return
            head = bytes(buf[:i])
            del buf[:i + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self.c.stats["handshake_refused"] += 1
                self.tr.close()
                return
            self.open = True
        off, n_buf = 0, len(buf)
        while n_buf - off >= 2:
            b0, b1 = buf[off], buf[off + 1]
            n, hl = b1 & 0x7F, 2
            if n == 126:
                if n_buf - off < 4:
                    break
                n, hl = int.from_bytes(buf[off + 2:off + 4], "big"), 4
            elif n == 127:
                if n_buf - off < 10:
                    break
                n, hl = int.from_bytes(buf[off + 2:off + 10], "big"), 10
            if n_buf - off < hl + n:
                break
            payload = bytes(buf[off + hl:off + hl + n])
            off += hl + n
            op = b0 & 0x0F
            if op == 9:
                self.write(frame(10, payload))
            elif op == 8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 0
                self.c.stats["closed_by_server_%d" % code] += 1
                if code == 1012:
                    self.c.on_restart_hint(payload[2:].decode("utf-8", "replace"))
                self.tr.close()
                break
            elif op in (0, 1):
                self.frags.append(payload)
                if b0 & 0x80:
                    text = b"".join(self.frags)
                    self.frags = []
                    self.c.on_frame(json.loads(text))
        del buf[:off]

    def connection_lost(self, exc):
        self.c.on_lost(self)


class Session:
    def __init__(self, w, k, spec):
        self.w = w
        self.k = k
        self.token = spec["token"]
        self.uid = spec["uid"]
        self.cid = spec["cid"]
        self.base = spec["base"]
        # A port of its own (a cluster test pins sessions to edges) or the
        # worker's list, the next one after every drop.
        self.ports = [spec["port"]] if spec.get("port") else w.ports
        self.port = self.ports[0]
        self.rate = w.rate
        self.gen = 0
        self.sched = 0                       # schedule slots passed
        self.sending = True
        self.outbox = collections.deque()
        self.retry = collections.deque()     # (ready at, cmid)
        self.inflight = {}                   # rid -> (cmid, attempt time)
        self.rid_cmid = {}                   # every rid ever sent for a send
        self.first = {}                      # cmid -> time it was created
        self.attempts = collections.Counter()
        self.sent = {}                       # cmid -> [seq, sent at, attempt at]
        self.dup_sent = []                   # (cmid, seq, other seq)
        self.view = {}                       # seq -> [sender, cmid, via]
        self.contig = self.base
        self.maxseen = self.base
        self.acked = self.base
        self.last_ack_t = 0.0
        self.proto = None
        self.ready = False
        self.connecting = False
        self.next_connect = 0.0
        self.backoff = 0.1
        self.port_i = k                      # which of w.ports to use next
        self.hint_s = None                   # the last 1012's retry_ms, in s
        self.rid_n = 0
        self.sync_rid = None
        self.sync_t = 0.0
        self.sync_final = False
        self.final_state = 0                 # 0 not yet, 1 syncing, 2 done
        self.gap_since = None
        self.hellos = 0
        self.stats = collections.Counter()

    # -- connection -------------------------------------------------------

    def connect(self, now):
        self.connecting = True
        self.stats["connect_attempts"] += 1
        loop = asyncio.get_running_loop()
        path = "/ws?token=" + self.token
        port = self.ports[self.port_i % len(self.ports)]
        fut = loop.create_connection(lambda: WsProto(self, "127.0.0.1", port, path),
                                     "127.0.0.1", port)
        task = loop.create_task(fut)
        task.add_done_callback(self._connected)

    def _connected(self, task):
        self.connecting = False
        if task.cancelled() or task.exception() is not None:
            self.stats["connect_failed"] += 1
            self._schedule_reconnect()
            return
        self.proto = task.result()[1]

    def on_restart_hint(self, reason):
        # "service_restart retry_ms=N" (docs/ws.md "Drain")
        for part in reason.split():
            if part.startswith("retry_ms=") and part[9:].isdigit():
                self.hint_s = int(part[9:]) / 1000.0
        if self.hint_s is None:
            self.stats["restart_without_hint"] += 1

    def _schedule_reconnect(self):
        now = time.time()
        self.port_i += 1                     # another edge, if there are several
        if self.hint_s is not None:
            self.next_connect = now + self.hint_s
            self.hint_s = None
            return
        self.next_connect = now + self.backoff * (0.75 + 0.5 * (self.k % 7) / 7)
        self.backoff = min(self.backoff * 2, 1.0)

    def on_lost(self, proto):
        if proto is not self.proto:
            return
        self.proto = None
        was_ready = self.ready
        self.ready = False
        self.requeue_inflight()
        self.sync_rid = None
        if was_ready:
            self.stats["drops"] += 1
        self._schedule_reconnect()

    def requeue_inflight(self):
        for rid, (cmid, _) in sorted(self.inflight.items(), key=lambda kv: kv[1][1], reverse=True):
            if cmid not in self.sent:
                self.outbox.appendleft(cmid)
        self.inflight.clear()

    def write(self, obj):
        self.proto.write(frame(1, json.dumps(obj, separators=(",", ":")).encode()))

    def new_rid(self, p):
        self.rid_n += 1
        return "%s%d" % (p, self.rid_n)

    # -- frames -----------------------------------------------------------

    def on_frame(self, f):
        op = f.get("op")
        if op == "message":
            m = f.get("message") or {}
            if m.get("conversation_id") == self.cid:
                self.see(m, "push")
        elif op == "sent":
            self.on_sent(f)
        elif op == "error":
            self.on_error(f)
        elif op == "sync":
            self.on_sync(f)
        elif op == "hello":
            self.ready = True
            self.backoff = 0.1
            self.hellos += 1
            if self.hellos > 1:
                self.stats["reconnects"] += 1
            self.requeue_inflight()
            # What happened while away: sync from the last contiguous seq.
            self.start_sync(self.contig, final=self.final_state == 1)

    def see(self, m, via):
        seq = m["seq"]
        key = [m["sender_id"], m["client_msg_id"]]
        old = self.view.get(seq)
        if old is None:
            self.view[seq] = key + [via, time.time()]
            self.stats["via_" + via] += 1
            if seq > self.maxseen:
                self.maxseen = seq
            while self.contig + 1 in self.view:
                self.contig += 1
        elif old[:2] != key:
            self.stats["seq_conflicts"] += 1
        elif via == "push" and old[2] == "push":
            self.stats["pushes_again"] += 1      # a resend (at-least-once)

    def on_sent(self, f):
        cmid = self.rid_cmid.get(f.get("rid"))
        att = self.inflight.pop(f.get("rid"), None)
        m = f["message"]
        if cmid is None or m.get("client_msg_id") != cmid:
            self.stats["sent_mismatch"] += 1
            return
        seq = m["seq"]
        prev = self.sent.get(cmid)
        if prev is None:
            now = time.time()
            self.sent[cmid] = [seq, now, att[1] if att else now]
        elif prev[0] != seq:
            self.dup_sent.append((cmid, prev[0], seq))
        self.see(m, "own")

    def on_error(self, f):
        rid = f.get("rid")
        if rid is not None and rid == self.sync_rid:
            self.stats["sync_error_" + str(f.get("code"))] += 1
            self.sync_rid = None
            return
        att = self.inflight.pop(rid, None)
        cmid = self.rid_cmid.get(rid)
        code = f.get("code")
        if code in RETRY_CODES:
            self.stats["retry_" + code] += 1
        else:
            self.stats["error_" + str(code)] += 1
        if att is not None and cmid not in self.sent:
            self.retry.append((time.time() + RETRY_DELAY_S, cmid))

    def start_sync(self, after, final=False):
        if self.proto is None or not self.ready:
            return
        rid = self.new_rid("y")
        self.sync_rid = rid
        self.sync_t = time.time()
        self.sync_final = final
        self.write({"op": "sync", "rid": rid, "conversation_id": self.cid, "after_seq": after,
                    "limit": SYNC_LIMIT})

    def on_sync(self, f):
        if f.get("rid") != self.sync_rid:
            return
        via = "final" if self.sync_final else "sync"
        msgs = f.get("messages") or []
        for m in msgs:
            self.see(m, via)
        if f.get("has_more") and msgs:
            self.start_sync(msgs[-1]["seq"], self.sync_final)
            return
        self.sync_rid = None
        self.gap_since = None
        if self.sync_final:
            self.final_state = 2

    # -- the clock --------------------------------------------------------

    def tick(self, now, w):
        if self.proto is None and not self.connecting and now >= self.next_connect:
            self.connect(now)
        if w.t_start <= now < w.t_stop:
            due = int((now - w.t_start) * self.rate)
            while self.sched < due:
                self.sched += 1
                if self.gen - len(self.sent) >= BACKLOG_MAX:
                    self.stats["held_back"] += 1
                    continue
                self.gen += 1
                cmid = "%s-%d-%d" % (w.tag, self.k, self.gen)
                self.first[cmid] = now
                self.outbox.append(cmid)
        while self.retry and self.retry[0][0] <= now:
            cmid = self.retry.popleft()[1]
            if cmid not in self.sent:
                self.outbox.appendleft(cmid)
        if not self.ready:
            return
        out = []
        while self.sending and self.outbox and len(self.inflight) < WINDOW:
            cmid = self.outbox.popleft()
            if cmid in self.sent:
                continue
            rid = self.new_rid("s")
            self.inflight[rid] = (cmid, now)
            self.rid_cmid[rid] = cmid
            self.attempts[cmid] += 1
            out.append(frame(1, json.dumps(
                {"op": "send", "rid": rid, "conversation_id": self.cid, "client_msg_id": cmid,
                 "type": "text", "body": "fault load " + cmid}, separators=(",", ":")).encode()))
        if out:
            self.proto.write(b"".join(out))
        if self.contig > self.acked and now - self.last_ack_t >= ACK_EVERY_S:
            self.acked = self.contig
            self.last_ack_t = now
            self.write({"op": "ack", "conversation_id": self.cid, "seq": self.contig})
        if self.sync_rid is None:
            if self.maxseen > self.contig:
                if self.gap_since is None:
                    self.gap_since = now
                elif now - self.gap_since >= GAP_SYNC_S:
                    self.stats["gap_syncs"] += 1
                    self.start_sync(self.contig)
            else:
                self.gap_since = None
        elif now - self.sync_t > CLIENT_TIMEOUT_S:
            self.stats["sync_timeouts"] += 1
            self.sync_rid = None

    def slow_tick(self, now):
        for rid, (cmid, t) in list(self.inflight.items()):
            if now - t > CLIENT_TIMEOUT_S:
                del self.inflight[rid]
                self.stats["send_timeouts"] += 1
                if cmid not in self.sent:
                    self.outbox.appendleft(cmid)

    def pending(self):
        return self.gen - len(self.sent)

    def result(self):
        unacked = [c for c in self.first if c not in self.sent]
        return {
            "k": self.k, "uid": self.uid, "cid": self.cid, "base": self.base, "port": self.port or self.w.ports[0],
            "sent": self.sent, "first": self.first, "attempts": dict(self.attempts),
            "dup_sent": self.dup_sent, "unacked": unacked,
            "view": {str(s): v for s, v in self.view.items()},
            "stats": dict(self.stats), "final_done": self.final_state == 2,
        }


class Worker:
    def __init__(self, spec):
        self.ports = spec.get("ports") or [spec["port"]]
        self.port = self.ports[0]
        self.stop_file = spec.get("stop_file")
        self.drain_s = spec.get("drain_s", 40)
        self.tag = spec["tag"]
        self.rate = spec["rate_per_session"]
        self.t_start = spec["t_start"]
        self.t_stop = spec["t_stop"]
        self.t_give_up = spec["t_give_up"]
        self.dir = spec["dir"]
        self.index = spec["index"]
        self.sessions = [Session(self, s["k"], s) for s in spec["sessions"]]

    async def run(self):
        stop_t = None
        drained = False
        final_asked = False
        last_slow = 0.0
        final_deadline = None
        while True:
            now = time.time()
            if self.stop_file and now < self.t_stop and os.path.exists(self.stop_file):
                self.t_stop = now
                self.t_give_up = now + self.drain_s
            for s in self.sessions:
                s.tick(now, self)
            if now - last_slow >= 0.5:
                last_slow = now
                for s in self.sessions:
                    s.slow_tick(now)
            if stop_t is None and now >= self.t_stop and (
                    all(s.pending() == 0 for s in self.sessions) or now >= self.t_give_up):
                stop_t = now          # no new attempts; wait for those in flight
                for s in self.sessions:
                    s.sending = False
            if stop_t is not None and not drained and (
                    all(not s.inflight for s in self.sessions) or now >= stop_t + 2 * CLIENT_TIMEOUT_S):
                drained = True
                open(os.path.join(self.dir, "drained-%d" % self.index), "w").close()
            if drained and not final_asked and os.path.exists(os.path.join(self.dir, "final")):
                final_asked = True
                final_deadline = now + 30
                for s in self.sessions:
                    s.final_state = 1
                    s.sync_rid = None
                    s.start_sync(s.base, final=True)
            if final_asked:
                for s in self.sessions:
                    if s.final_state == 1 and s.sync_rid is None and s.ready:
                        s.start_sync(s.base, final=True)
                if all(s.final_state == 2 for s in self.sessions) or now >= final_deadline:
                    break
            await asyncio.sleep(TICK_S)
        for s in self.sessions:
            if s.proto is not None and s.proto.tr is not None:
                s.proto.write(frame(8, (1000).to_bytes(2, "big")))
                s.proto.tr.close()


def main():
    spec_path, out_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        spec = json.load(f)
    w = Worker(spec)
    asyncio.run(w.run())
    with open(out_path + ".tmp", "w") as f:
        json.dump([s.result() for s in w.sessions], f)
    os.rename(out_path + ".tmp", out_path)


if __name__ == "__main__":
    main()
