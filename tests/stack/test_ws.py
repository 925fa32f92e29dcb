"""test_ws.py - the WebSocket edge (API.md "WebSocket") against edge-ws.

One stack (nats only: edge-ws needs no store) with four edge-ws processes:
A, B (a 2 s idle timeout), C (a 1 s ack timeout, 2 resends, 4 unacked
pushes per session, a 3 s request timeout) and D (3 sockets per client
address).  Tokens are signed by the test with the
stack's key, as the auth pool would.  The msg pool is played by the test
itself on the bus (user msg), so the request path (correlation, reply
inbox, Natter-Error pass-through, timeouts) is checked without a database;
pushes are published on im.user.<uid>.push the way the msg pool fans out.
"""

import json
import os
import secrets
import signal
import socket
import struct
import threading
import time
import unittest

from harness import StackTestCase, http_request
from natsclient import Timeout
from test_auth import sign_es256
from wsclient import OP_BINARY, OP_PING, OP_TEXT, WsClient, WsClosed

HELLO_KEYS = {"op", "session_id", "user_id", "server_time"}
MAX_FRAME = 4096


# -- protobuf by hand (the few natter.proto messages the test plays) -------

def _varint(n):
    out = b""
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_str(num, s):
    b = s.encode() if isinstance(s, str) else s
    return _varint(num << 3 | 2) + _varint(len(b)) + b


def pb_int(num, n):
    return _varint(num << 3) + _varint(n)


def pb_decode(data):
    """{field: value} (last wins) for varint and length-delimited fields."""
    out, i = {}, 0
    while i < len(data):
        key, i = _read_varint(data, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            out[num], i = _read_varint(data, i)
        elif wt == 2:
            n, i = _read_varint(data, i)
            out[num], i = data[i:i + n], i + n
        else:
            raise ValueError("wire type %d" % wt)
    return out


def _read_varint(data, i):
    n = shift = 0
    while True:
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def pb_message(mid, cid, seq, sender, cmid, body, created_at=1700000000000):
    return (pb_str(1, mid) + pb_str(2, cid) + pb_int(3, seq) + pb_str(4, sender) + pb_str(5, cmid)
            + pb_str(6, "text") + pb_str(7, body) + pb_int(8, created_at))


class WsTest(StackTestCase):
    services = ("nats",)
    INLINE = True   # nats.inline of this stack; test_ws_inbox.py runs the class with 0

    @classmethod
    def start_roles(cls):
        env = {"NATTER_WS_MAX_FRAME": str(MAX_FRAME)}
        cls.stack.serve_no_ip_rules()     # no auth pool here: IP rules are empty
        cls.a = cls.stack.start_role("edge-ws", env)
        cls.b = cls.stack.start_role("edge-ws", dict(env, NATTER_WS_IDLE_TIMEOUT_S="2"))
        cls.c = cls.stack.start_role("edge-ws", dict(
            env, NATTER_WS_ACK_TIMEOUT_S="1", NATTER_WS_RESEND_MAX="2",
            NATTER_WS_MAX_UNACKED="4", NATTER_NATS_REQUEST_TIMEOUT_MS="3000"))
        cls.d = cls.stack.start_role("edge-ws", dict(env, NATTER_WS_MAX_CONNS_PER_ADDR="3"))

    # -- helpers ----------------------------------------------------------

    def token(self, uid=None, sid=None, exp_in=600, **extra):
        now = int(time.time())
        payload = {"iss": "natter", "sub": uid or "u" + secrets.token_hex(6),
                   "sid": sid or "s" + secrets.token_hex(6), "iat": now, "exp": now + exp_in}
        payload.update(extra)
        return sign_es256(self.stack.private_key, {"alg": "ES256", "typ": "JWT"}, payload)

    def open(self, edge=None, token=None, uid=None):
        edge = edge or self.a
        ws = WsClient.connect("127.0.0.1", edge.port, "/ws?token=" + (token or self.token(uid)))
        self.addCleanup(ws.close)
        hello = ws.recv_json()
        self.assertEqual(hello["op"], "hello", hello)
        return ws, hello

    def assert_4001(self, path, edge=None):
        edge = edge or self.a
        ws = WsClient.connect("127.0.0.1", edge.port, path)
        self.addCleanup(ws.close)
        with self.assertRaises(WsClosed) as cm:
            frame = ws.recv(timeout=5)
            self.fail("got a frame before the close: %r" % frame)
        self.assertEqual(cm.exception.code, 4001, path)

    def ping_ok(self, ws, rid="p"):
        ws.send_json({"op": "ping", "rid": rid})
        self.assertEqual(ws.recv_json(), {"op": "pong", "rid": rid})

    @staticmethod
    def collect(ws, seconds):
        """[(t, frame)] received during the next `seconds` (t from now)."""
        t0 = time.monotonic()
        out = []
        while True:
            left = t0 + seconds - time.monotonic()
            if left <= 0:
                return out
            try:
                m = ws.recv_json(timeout=left)
            except socket.timeout:
                return out
            out.append((time.monotonic() - t0, m))

    @staticmethod
    def push_message(pool, uid, cid, seq):
        msg = pb_message("id-%s-%d" % (cid, seq), cid, seq, "someone", "m%d" % seq, "b%d" % seq)
        pool.publish("im.user.%s.push" % uid, pb_str(1, "message") + pb_str(2, msg))

    @staticmethod
    def send_frame(rid, cid, cmid):
        return {"op": "send", "rid": rid, "conversation_id": cid, "client_msg_id": cmid,
                "type": "text", "body": "body " + cmid}

    @staticmethod
    def sent_reply(pool, req, seq, uid="u"):
        """Answer a SendReq the way the msg pool does (seq as given)."""
        f = pb_decode(req.data)
        cid, cmid = f[1].decode(), f[2].decode()
        msg = pb_message("id-" + cmid, cid, seq, uid, cmid, f[4].decode())
        pool.publish(req.reply, pb_str(1, msg), headers={"Natter-Type": "natter.SendReply"})

    # -- connect ----------------------------------------------------------

    def test_healthz(self):
        status, _, body = http_request(self.a.url, "GET", "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"status": "ok"})

    def test_bad_tokens_close_4001(self):
        self.assert_4001("/ws")
        self.assert_4001("/ws?token=")
        self.assert_4001("/ws?token=garbage")
        self.assert_4001("/ws?token=" + self.token(exp_in=-10))
        t = self.token()
        self.assert_4001("/ws?token=" + t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"))
        payload = {"iss": "other", "sub": "u1", "sid": "s1", "iat": 1, "exp": int(time.time()) + 60}
        self.assert_4001("/ws?token=" + sign_es256(self.stack.private_key, {"alg": "ES256"}, payload))
        self.assert_4001("/other?token=" + self.token())

    def test_hello(self):
        t0 = int(time.time() * 1000)
        ws, hello = self.open(token=self.token(uid="uhello", sid="shello"))
        self.assertEqual(set(hello), HELLO_KEYS)
        self.assertEqual(hello["user_id"], "uhello")
        self.assertEqual(hello["session_id"], "shello")
        self.assertIsInstance(hello["server_time"], int)
        self.assertLess(abs(hello["server_time"] - t0), 5000)

    def test_ping_pong(self):
        ws, _ = self.open()
        self.ping_ok(ws, "r1")
        ws.send_json({"op": "ping"})
        self.assertEqual(ws.recv_json(), {"op": "pong"})
        ws.send_frame(OP_PING, b"x")          # protocol-level ping also fine
        self.ping_ok(ws, "r2")

    # -- bad input ----------------------------------------------------------

    BAD = [
        ("not json", None, "bad_request"),
        ("[1,2]", None, "bad_request"),
        ('"ping"', None, "bad_request"),
        ("{}", None, "bad_request"),
        ('{"op":"fly","rid":"r1"}', "r1", "bad_request"),
        ('{"op":7,"rid":"r2"}', "r2", "bad_request"),
        ('{"op":"ping","rid":"r3","extra":1}', "r3", "bad_request"),
        ('{"op":"ping","rid":5}', None, "bad_request"),
        ('{"op":"send","rid":"r4","conversation_id":"c"}', "r4", "bad_request"),
        ('{"op":"send","rid":"r5","conversation_id":"c","client_msg_id":"m","type":"text",'
         '"body":7}', "r5", "bad_request"),
        ('{"op":"send","rid":"r6","conversation_id":"c","client_msg_id":"m","type":"video",'
         '"body":"b"}', "r6", "bad_request"),
        ('{"op":"ack","conversation_id":"c","seq":"1"}', None, "bad_request"),
        ('{"op":"sync","rid":"r7","conversation_id":"c","limit":1000}', "r7", "bad_request"),
        ('{"op":"read","rid":"r8","conversation_id":"c"}', "r8", "bad_request"),
        ('{"op":"ping","op":"ping"}', None, "bad_request"),
    ]

    def test_bad_input_gets_error_and_socket_stays(self):
        ws, _ = self.open()
        for text, rid, code in self.BAD:
            with self.subTest(frame=text):
                ws.send_text(text)
                m = ws.recv_json()
                self.assertEqual(m["op"], "error", m)
                self.assertEqual(m["code"], code, m)
                self.assertIsInstance(m["message"], str)
                self.assertEqual(m.get("rid"), rid, m)
                self.ping_ok(ws)

    def test_binary_frame_is_an_error(self):
        ws, _ = self.open()
        ws.send_frame(OP_BINARY, b'{"op":"ping"}')
        m = ws.recv_json()
        self.assertEqual((m["op"], m["code"]), ("error", "bad_request"))
        self.ping_ok(ws)

    def test_oversized_frame_is_too_large_and_socket_stays(self):
        ws, _ = self.open()
        ws.send_text(json.dumps({"op": "ping", "rid": "x" * (MAX_FRAME + 10)}))
        m = ws.recv_json()
        self.assertEqual((m["op"], m["code"]), ("error", "too_large"))
        # The same in fragments.
        ws.send_frame(OP_TEXT, "a" * 3000, fin=False)
        ws.send_frame(0, "b" * 3000, fin=True)
        m = ws.recv_json()
        self.assertEqual((m["op"], m["code"]), ("error", "too_large"))
        self.ping_ok(ws)

    def test_fragmented_frame_is_reassembled(self):
        ws, _ = self.open()
        ws.send_frame(OP_TEXT, '{"op":"pi', fin=False)
        ws.send_frame(0, 'ng","rid":"frag"}', fin=True)
        self.assertEqual(ws.recv_json(), {"op": "pong", "rid": "frag"})

    def test_frame_larger_than_the_rx_buffer_arrives_whole(self):
        """lws hands the edge a frame in pieces of its per-socket rx buffer
        (1 KB, edge/ws/ws_edge.c WS_RX_CHUNK); one unfragmented frame of
        three and a half of them reaches the pool byte for byte."""
        body = "".join(chr(0x61 + i % 26) for i in range(3500))
        with self.stack.nats("msg") as pool:
            sid = pool.subscribe("im.conv.c43.>")
            pool.flush()
            ws, _ = self.open()
            frame = json.dumps({"op": "send", "rid": "big", "conversation_id": "c43",
                                "client_msg_id": "m1", "type": "text", "body": body})
            self.assertGreater(len(frame), 3 * 1024)
            self.assertLess(len(frame), MAX_FRAME)
            ws.send_text(frame)
            req = pool.next_msg(sid, timeout=5)
            self.assertEqual(req.subject, "im.conv.c43.send")
            self.assertEqual(pb_decode(req.data)[4], body.encode())
            ws.close()

    def test_ack_has_no_reply(self):
        ws, _ = self.open()
        ws.send_json({"op": "ack", "conversation_id": "c1", "seq": 5})
        ws.send_json({"op": "ack", "conversation_id": "c1", "seq": 3})
        self.ping_ok(ws)      # the next frame is the pong, nothing for the acks

    def test_idle_timeout_closes(self):
        ws, _ = self.open(edge=self.b)
        self.ping_ok(ws)
        t0 = time.monotonic()
        with self.assertRaises(WsClosed) as cm:
            ws.recv(timeout=10)
        self.assertEqual(cm.exception.code, 1001)
        self.assertGreater(time.monotonic() - t0, 1.5)
        self.assertLess(time.monotonic() - t0, 4)

    def test_activity_keeps_socket_open(self):
        ws, _ = self.open(edge=self.b)
        for i in range(4):
            time.sleep(1)
            self.ping_ok(ws, "k%d" % i)

    # -- requests to the msg pool -------------------------------------------

    def test_send_without_pool_is_unavailable(self):
        ws, _ = self.open()
        t0 = time.monotonic()
        ws.send_json({"op": "send", "rid": "s1", "conversation_id": "nopool", "client_msg_id": "m1",
                      "type": "text", "body": "hello"})
        m = ws.recv_json(timeout=5)
        self.assertEqual(m["op"], "error", m)
        self.assertEqual((m["code"], m["rid"]), ("unavailable", "s1"))
        self.assertLess(time.monotonic() - t0, 2.5)    # request timeout is 1 s here
        self.ping_ok(ws)

    def test_slow_pool_times_out(self):
        """A pool that subscribes but never answers: the timer sweeps it."""
        with self.stack.nats("msg") as pool:
            pool.subscribe("im.conv.slow.>")
            pool.flush()
            ws, _ = self.open()
            t0 = time.monotonic()
            ws.send_json({"op": "sync", "rid": "q", "conversation_id": "slow"})
            m = ws.recv_json(timeout=5)
            self.assertEqual((m["op"], m["code"], m["rid"]), ("error", "unavailable", "q"))
            self.assertGreater(time.monotonic() - t0, 0.8)
            self.ping_ok(ws)

    def test_requests_in_flight_are_bounded(self):
        """64 requests in flight per session; more get rate_limited at once,
        and the 64 still get their own answer (unavailable) on timeout."""
        with self.stack.nats("msg") as pool:
            pool.subscribe("im.conv.slow2.>")
            pool.flush()
            ws, _ = self.open()
            for i in range(70):
                ws.send_json({"op": "sync", "rid": "q%d" % i, "conversation_id": "slow2"})
            got = {}
            while len(got) < 70:
                m = ws.recv_json(timeout=5)
                got[m["rid"]] = m["code"]
            self.assertEqual(sorted(k for k, v in got.items() if v == "rate_limited"),
                             sorted("q%d" % i for i in range(64, 70)))
            self.assertEqual(sum(1 for v in got.values() if v == "unavailable"), 64)
            self.ping_ok(ws)

    def test_send_sync_read_through_pool(self):
        uid = "u" + secrets.token_hex(5)
        with self.stack.nats("msg") as pool:
            sid = pool.subscribe("im.conv.c42.>")
            pool.flush()
            ws, _ = self.open(uid=uid)
            # send -> sent
            ws.send_json({"op": "send", "rid": "s1", "conversation_id": "c42",
                          "client_msg_id": "m1", "type": "text", "body": "hi"})
            req = pool.next_msg(sid, timeout=5)
            self.assertEqual(req.subject, "im.conv.c42.send")
            self.assertEqual(req.headers.get("Natter-Uid"), uid)
            self.assertEqual(req.headers.get("Natter-Type"), "natter.SendReq")
            f = pb_decode(req.data)
            self.assertEqual((f[1], f[2], f[3], f[4]), (b"c42", b"m1", b"text", b"hi"))
            msg = pb_message("id1", "c42", 9, uid, "m1", "hi")
            pool.publish(req.reply, pb_str(1, msg), headers={"Natter-Type": "natter.SendReply"})
            m = ws.recv_json()
            self.assertEqual((m["op"], m["rid"]), ("sent", "s1"), m)
            self.assertEqual(m["message"]["seq"], 9)
            self.assertEqual(m["message"]["conversation_id"], "c42")
            self.assertEqual(m["message"]["body"], "hi")
            # sync -> sync
            ws.send_json({"op": "sync", "rid": "y", "conversation_id": "c42", "after_seq": 8,
                          "limit": 10})
            req = pool.next_msg(sid, timeout=5)
            self.assertEqual(req.subject, "im.conv.c42.sync")
            f = pb_decode(req.data)
            self.assertEqual((f[2], f[4]), (8, 10))
            pool.publish(req.reply, pb_str(1, msg) + pb_int(2, 1))
            m = ws.recv_json()
            self.assertEqual((m["op"], m["rid"], m["conversation_id"], m["has_more"]),
                             ("sync", "y", "c42", True), m)
            self.assertEqual([x["seq"] for x in m["messages"]], [9])
            # read -> ok
            ws.send_json({"op": "read", "rid": "r", "conversation_id": "c42", "seq": 9})
            req = pool.next_msg(sid, timeout=5)
            self.assertEqual(req.subject, "im.conv.c42.read")
            pool.publish(req.reply, b"")
            self.assertEqual(ws.recv_json(), {"op": "ok", "rid": "r"})
            # a pool error passes through with the rid
            ws.send_json({"op": "read", "rid": "r2", "conversation_id": "c42", "seq": 9})
            req = pool.next_msg(sid, timeout=5)
            err = pb_str(1, "forbidden") + pb_str(2, "not a member")
            pool.publish(req.reply, err, headers={"Natter-Error": "forbidden",
                                                  "Natter-Type": "natter.Error"})
            m = ws.recv_json()
            self.assertEqual((m["op"], m["rid"], m["code"]), ("error", "r2", "forbidden"), m)
            self.assertEqual(m["message"], "not a member")

    # -- the two ways bus messages reach the loop (ws_inbox.c) ------------

    def metric(self, edge, name):
        status, _, body = http_request(edge.url, "GET", "/metrics")
        self.assertEqual(status, 200)
        for line in body.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        self.fail("no %s in /metrics of %r" % (name, edge))

    def paths(self, edge):
        return (self.metric(edge, "natter_ws_inline_messages_total"),
                self.metric(edge, "natter_ws_inbox_messages_total"))

    def test_bus_messages_take_the_configured_path(self):
        """nats.inline = 1: pushes and replies are handled on the loop as they
        are read, none goes through the inbox queue; nats.inline = 0: all go
        through nats.c's delivery thread and the queue, none inline."""
        uid = "u" + secrets.token_hex(5)
        ws, _ = self.open(uid=uid)
        self.ping_ok(ws)
        inl0, box0 = self.paths(self.a)
        with self.stack.nats("msg") as pool:
            sid = pool.subscribe("im.conv.cpath.>")
            pool.flush()
            for seq in range(1, 51):
                self.push_message(pool, uid, "cpath", seq)
            pool.flush()
            for seq in range(1, 51):
                self.assertEqual(ws.recv_json()["message"]["seq"], seq)
            ws.send_json({"op": "read", "rid": "r", "conversation_id": "cpath", "seq": 50})
            req = pool.next_msg(sid, timeout=5)
            pool.publish(req.reply, b"")
            self.assertEqual(ws.recv_json(), {"op": "ok", "rid": "r"})
        inl, box = self.paths(self.a)
        if self.INLINE:
            self.assertGreaterEqual(inl - inl0, 51)
            self.assertEqual(box - box0, 0)
        else:
            self.assertEqual(inl - inl0, 0)
            self.assertGreaterEqual(box - box0, 51)

    def test_last_session_leaves_while_its_pushes_are_read(self):
        """The user's sockets close while a stream of its pushes is being
        read: its subscription goes with the last one and what is left of
        the stream is dropped (nats.c no longer knows the subscription), a
        new session of the user gets new pushes, and the edge stays well
        (ASan and the exit code at teardown)."""
        uid = "u" + secrets.token_hex(5)
        other, _ = self.open()
        with self.stack.nats("msg") as pool:
            for rnd in range(5):
                socks = [self.open(uid=uid)[0] for _ in range(2)]
                for ws in socks:
                    self.ping_ok(ws)
                for seq in range(1, 301):
                    self.push_message(pool, uid, "cleave%d" % rnd, seq)
                    if seq == 150:
                        for ws in socks:
                            ws.sock.close()     # no close frame: the socket just goes
                pool.flush()
            time.sleep(0.3)
            ws, _ = self.open(uid=uid)
            self.ping_ok(ws)
            self.push_message(pool, uid, "cnew", 1)
            pool.flush()
            m = ws.recv_json()
            self.assertEqual((m["message"]["conversation_id"], m["message"]["seq"]), ("cnew", 1))
        self.ping_ok(other)

    def test_stop_while_pushes_and_replies_flow(self):
        """SIGTERM (drain, then stop) while pushes and request replies keep
        coming: the edge stops, drops what arrives after its subscriptions
        went, and exits 0 (LSan clean)."""
        edge = self.stack.start_role("edge-ws", {"NATTER_WS_MAX_FRAME": str(MAX_FRAME)})
        uids = ["u" + secrets.token_hex(5) for _ in range(4)]
        socks = [self.open(edge=edge, uid=u)[0] for u in uids]
        for ws in socks:
            self.ping_ok(ws)
        stop = threading.Event()

        def traffic():
            with self.stack.nats("msg") as pool:
                sid = pool.subscribe("im.conv.cstop.>")
                pool.flush()
                seq = 0
                while not stop.is_set():
                    seq += 1
                    for u in uids:
                        self.push_message(pool, u, "cstop", seq)
                    try:
                        while True:     # answer every request, late or not
                            req = pool.next_msg(sid, timeout=0.001)
                            pool.publish(req.reply, b"")
                    except Timeout:
                        pass
                    pool.flush()

        t = threading.Thread(target=traffic)
        t.start()
        try:
            for i in range(20):
                for ws in socks:
                    ws.send_json({"op": "read", "rid": "r%d" % i, "conversation_id": "cstop",
                                  "seq": 1})
            time.sleep(0.5)
            edge.kill(signal.SIGTERM)       # drain
            time.sleep(0.3)
            if edge.alive():
                os.kill(edge.pid, signal.SIGTERM)   # stop now
            self.assertEqual(edge.wait(15), 0, edge.tail())
        finally:
            stop.set()
            t.join(10)

    # -- pushes -------------------------------------------------------------

    def test_push_reaches_every_session_of_the_user(self):
        uid = "u" + secrets.token_hex(5)
        a1, _ = self.open(uid=uid)
        a2, _ = self.open(uid=uid)
        b1, _ = self.open(edge=self.b, uid=uid)
        other, _ = self.open(uid="u" + secrets.token_hex(5))
        for ws in (a1, a2, b1):
            self.ping_ok(ws)            # subscriptions are in place before the push
        msg = pb_message("id7", "c7", 3, "someone", "m7", "yo")
        with self.stack.nats("msg") as pool:
            pool.publish("im.user.%s.push" % uid, pb_str(1, "message") + pb_str(2, msg))
            read = pb_str(1, "c7") + pb_str(2, "reader") + pb_int(3, 3)
            pool.publish("im.user.%s.push" % uid, pb_str(1, "read") + pb_str(3, read))
            pool.flush()
        for ws in (a1, a2, b1):
            m = ws.recv_json()
            self.assertEqual(m["op"], "message", m)
            self.assertEqual((m["message"]["id"], m["message"]["seq"]), ("id7", 3))
            self.assertEqual(ws.recv_json(),
                             {"op": "read", "conversation_id": "c7", "user_id": "reader", "seq": 3})
        other.send_json({"op": "ping", "rid": "o"})
        self.assertEqual(other.recv_json(), {"op": "pong", "rid": "o"})   # nothing before it

    def test_push_after_all_sessions_closed_and_reopened(self):
        """The per-user subscription is dropped with the last session and made
        again with the next one."""
        uid = "u" + secrets.token_hex(5)
        ws, _ = self.open(uid=uid)
        ws.close()
        time.sleep(0.3)
        ws2, _ = self.open(uid=uid)
        self.ping_ok(ws2)
        with self.stack.nats("msg") as pool:
            msg = pb_message("id8", "c8", 1, "x", "m8", "again")
            pool.publish("im.user.%s.push" % uid, pb_str(1, "message") + pb_str(2, msg))
            pool.flush()
        self.assertEqual(ws2.recv_json()["message"]["id"], "id8")

    def test_slow_reader_is_disconnected(self):
        """A client that never reads: the bounded out-queue closes it."""
        uid = "u" + secrets.token_hex(5)
        ws, _ = self.open(uid=uid)
        ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        big = "z" * 3000
        with self.stack.nats("msg") as pool:
            for i in range(3000):
                msg = pb_message("id%d" % i, "c9", i + 1, "x", "m%d" % i, big)
                pool.publish("im.user.%s.push" % uid, pb_str(1, "message") + pb_str(2, msg))
            pool.flush()
        time.sleep(1)
        n = 0
        with self.assertRaises(WsClosed) as cm:
            while True:
                ws.recv(timeout=5)
                n += 1
        self.assertEqual(cm.exception.code, 1008)
        self.assertLess(n, 3000)


    def test_queued_frames_arrive_whole_and_in_order(self):
        """Frames queued while the client is not reading go out several per
        write, framed by the edge (2-, 4- and 10-byte headers): every one
        arrives intact and in order."""
        uid = "u" + secrets.token_hex(5)
        ws, _ = self.open(uid=uid)
        self.ping_ok(ws)
        sizes = [1, 90, 126, 300, 65535 - 200, 70000, 5, 20000] * 5
        with self.stack.nats("msg") as pool:
            for i, n in enumerate(sizes):
                msg = pb_message("q%d" % i, "cq", i + 1, "x", "mq%d" % i, chr(97 + i % 26) * n)
                pool.publish("im.user.%s.push" % uid, pb_str(1, "message") + pb_str(2, msg))
            pool.flush()
        time.sleep(0.5)   # let them queue up behind each other
        for i, n in enumerate(sizes):
            m = ws.recv_json()
            self.assertEqual((m["op"], m["message"]["seq"]), ("message", i + 1))
            self.assertEqual(m["message"]["body"], chr(97 + i % 26) * n)
        self.ping_ok(ws)

    def test_sockets_per_address_are_limited(self):
        """Edge D: 3 sockets per client address; the 4th is closed with 4029
        before any frame, and a closed socket frees its place."""
        held = [self.open(edge=self.d)[0] for _ in range(3)]
        ws = WsClient.connect("127.0.0.1", self.d.port, "/ws?token=" + self.token())
        self.addCleanup(ws.close)
        with self.assertRaises(WsClosed) as cm:
            frame = ws.recv(timeout=5)
            self.fail("got a frame before the close: %r" % frame)
        self.assertEqual(cm.exception.code, 4029)
        self.assertIn(b"too many", cm.exception.reason)
        for w in held:
            self.ping_ok(w)       # the refusal touched nobody else
        held[0].close()
        deadline = time.monotonic() + 5
        while True:
            try:
                again, _ = self.open(edge=self.d)
                break
            except (WsClosed, AssertionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.ping_ok(again)

    def test_many_slow_readers_are_closed_and_block_nobody(self):
        """20 clients that never read while 600 pushes of 2 KB arrive for each
        (1.2 MB, more than a 256-frame queue, one 64 KB lws batch and a 64 KiB
        ws.sndbuf hold): every one is closed with 1008, and a reading client
        on the same edge gets its own pushes meanwhile."""
        slow = []
        for _ in range(20):
            uid = "u" + secrets.token_hex(5)
            ws, _ = self.open(uid=uid)
            ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.append((uid, ws))
        fast_uid = "u" + secrets.token_hex(5)
        fast, _ = self.open(uid=fast_uid)
        self.ping_ok(fast)
        big = "s" * 2000
        with self.stack.nats("msg") as pool:
            for i in range(600):
                for uid, _ in slow:
                    msg = pb_message("sl%d" % i, "csl", i + 1, "x", "msl%d" % i, big)
                    pool.publish("im.user.%s.push" % uid, pb_str(1, "message") + pb_str(2, msg))
                if i % 100 == 0:
                    self.push_message(pool, fast_uid, "cfast", i // 100 + 1)
                    pool.flush()
            pool.flush()
        for k in range(6):
            m = fast.recv_json(timeout=5)
            self.assertEqual((m["op"], m["message"]["seq"]), ("message", k + 1))
            fast.send_json({"op": "ack", "conversation_id": "cfast", "seq": k + 1})
        # Now they all read at once (lws sends what it still holds, then
        # the close frame); a late reader past lws's 5 s flush-before-close
        # would only see the TCP connection end.
        codes = {}

        def drain(uid, ws):
            try:
                while True:
                    ws.recv(timeout=10)
            except WsClosed as e:
                codes[uid] = e.code
            except OSError as e:
                codes[uid] = repr(e)
        threads = [threading.Thread(target=drain, args=pair) for pair in slow]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(codes, {uid: 1008 for uid, _ in slow})
        self.ping_ok(fast)

    # -- resend of unacked pushes (edge C: 1 s ack timeout, 2 resends, 4 kept) --

    def test_unacked_push_is_resent_then_given_up(self):
        uid = "u" + secrets.token_hex(5)
        ws, _ = self.open(edge=self.c, uid=uid)
        self.ping_ok(ws)
        with self.stack.nats("msg") as pool:
            self.push_message(pool, uid, "rs1", 1)
            pool.flush()
        first = ws.recv_json()
        self.assertEqual((first["op"], first["message"]["seq"]), ("message", 1), first)
        got = self.collect(ws, 3.7)   # resends near 1 s and 2 s; nothing at 3 s
        self.assertEqual([m for _, m in got], [first, first], got)
        self.assertGreater(got[0][0], 0.7)
        self.assertGreater(got[1][0] - got[0][0], 0.7)
        self.ping_ok(ws)

    def test_ack_stops_resend_and_is_cumulative(self):
        uid = "u" + secrets.token_hex(5)
        ws, _ = self.open(edge=self.c, uid=uid)
        self.ping_ok(ws)
        with self.stack.nats("msg") as pool:
            for cid, seq in (("ra", 1), ("ra", 2), ("ra", 3), ("rb", 1)):
                self.push_message(pool, uid, cid, seq)
            read = pb_str(1, "ra") + pb_str(2, "reader") + pb_int(3, 3)
            pool.publish("im.user.%s.push" % uid, pb_str(1, "read") + pb_str(3, read))
            pool.flush()
        got = [ws.recv_json() for _ in range(5)]
        self.assertEqual([m["op"] for m in got], ["message"] * 4 + ["read"])
        ws.send_json({"op": "ack", "conversation_id": "ra", "seq": 2})   # clears ra 1 and 2
        ws.send_json({"op": "ack", "conversation_id": "rb", "seq": 1})
        again = self.collect(ws, 1.6)
        self.assertEqual([(m["op"], m["message"]["conversation_id"], m["message"]["seq"])
                          for _, m in again], [("message", "ra", 3)], again)
        ws.send_json({"op": "ack", "conversation_id": "ra", "seq": 9})   # higher clears lower
        self.assertEqual(self.collect(ws, 1.5), [])   # the read receipt is never resent

    def test_unacked_pushes_are_bounded_oldest_dropped(self):
        uid = "u" + secrets.token_hex(5)
        ws, _ = self.open(edge=self.c, uid=uid)
        self.ping_ok(ws)
        with self.stack.nats("msg") as pool:
            for seq in range(1, 7):
                self.push_message(pool, uid, "rc", seq)
            pool.flush()
        self.assertEqual([ws.recv_json()["message"]["seq"] for _ in range(6)], list(range(1, 7)))
        again = self.collect(ws, 1.6)
        self.assertEqual([m["message"]["seq"] for _, m in again], [3, 4, 5, 6], again)
        ws.send_json({"op": "ack", "conversation_id": "rc", "seq": 6})
        self.assertEqual(self.collect(ws, 1.3), [])

    def test_ack_on_one_session_does_not_clear_another(self):
        uid = "u" + secrets.token_hex(5)
        w1, _ = self.open(edge=self.c, uid=uid)
        w2, _ = self.open(edge=self.c, uid=uid)
        for ws in (w1, w2):
            self.ping_ok(ws)
        with self.stack.nats("msg") as pool:
            self.push_message(pool, uid, "rd", 1)
            pool.flush()
        for ws in (w1, w2):
            self.assertEqual(ws.recv_json()["message"]["seq"], 1)
        w1.send_json({"op": "ack", "conversation_id": "rd", "seq": 1})
        self.assertEqual([m["message"]["seq"] for _, m in self.collect(w2, 1.6)], [1])
        self.assertEqual(self.collect(w1, 0.2), [])

    # -- per-session send order ------------------------------------------------

    def test_sends_on_one_conversation_go_one_at_a_time_in_order(self):
        """The second send reaches the pool only after the first is answered,
        while a sync on the same conversation goes at once."""
        with self.stack.nats("msg") as pool:
            sid = pool.subscribe("im.conv.ord1.>")
            pool.flush()
            ws, _ = self.open(edge=self.c)
            for i in range(5):
                ws.send_json(self.send_frame("s%d" % i, "ord1", "k%d" % i))
            ws.send_json({"op": "sync", "rid": "y", "conversation_id": "ord1"})
            first = pool.next_msg(sid, timeout=5)
            sync = pool.next_msg(sid, timeout=5)
            self.assertEqual((first.subject, sync.subject), ("im.conv.ord1.send", "im.conv.ord1.sync"))
            with self.assertRaises(Timeout):
                pool.next_msg(sid, timeout=0.6)      # k1 waits for k0's reply
            pool.publish(sync.reply, b"")
            seen, req = [], first
            for i in range(5):
                seen.append(pb_decode(req.data)[2].decode())
                self.sent_reply(pool, req, 100 + i)
                if i < 4:
                    req = pool.next_msg(sid, timeout=5)
            self.assertEqual(seen, ["k%d" % i for i in range(5)])
            frames = [ws.recv_json() for _ in range(6)]
            self.assertEqual(frames[0]["op"], "sync", frames)
            self.assertEqual([(m["op"], m["rid"], m["message"]["seq"]) for m in frames[1:]],
                             [("sent", "s%d" % i, 100 + i) for i in range(5)])

    def test_sends_on_two_conversations_go_in_parallel(self):
        with self.stack.nats("msg") as pool:
            pool.subscribe("im.conv.parA.>")
            pool.subscribe("im.conv.parB.>")
            pool.flush()
            ws, _ = self.open(edge=self.c)
            ws.send_json(self.send_frame("a", "parA", "ka"))
            ws.send_json(self.send_frame("b", "parB", "kb"))
            r1, r2 = pool.next_msg(timeout=5), pool.next_msg(timeout=5)   # neither answered
            self.assertEqual({r1.subject, r2.subject}, {"im.conv.parA.send", "im.conv.parB.send"})
            self.sent_reply(pool, r2, 1)
            self.sent_reply(pool, r1, 1)
            self.assertEqual({ws.recv_json()["rid"], ws.recv_json()["rid"]}, {"a", "b"})

    def test_full_send_queue_stops_reading_instead_of_refusing(self):
        """1 in flight + 32 waiting per session, then the edge stops reading
        the socket: no send is refused (a refusal retried later would break
        the order), a ping sent behind them is answered only once half the
        queue went out, and all sends reach the pool one by one, in order."""
        with self.stack.nats("msg") as pool:
            sid = pool.subscribe("im.conv.ord2.>")
            pool.flush()
            ws, _ = self.open(edge=self.c)
            n = 40
            for i in range(n):
                ws.send_json(self.send_frame("s%d" % i, "ord2", "k%d" % i))
            ws.send_json({"op": "ping", "rid": "behind"})
            first = pool.next_msg(sid, timeout=5)
            self.assertEqual(self.collect(ws, 0.5), [])   # no rate_limited, no pong yet
            seen, req = [], first
            for i in range(n):
                seen.append(pb_decode(req.data)[2].decode())
                self.sent_reply(pool, req, i + 1)
                if i < n - 1:
                    req = pool.next_msg(sid, timeout=5)
            self.assertEqual(seen, ["k%d" % i for i in range(n)])
            frames = [ws.recv_json() for _ in range(n + 1)]
            ops = [m["op"] for m in frames]
            self.assertEqual(sorted(set(ops)), ["pong", "sent"], frames)
            self.assertGreaterEqual(ops.index("pong"), 16, ops)   # read again at half
            self.assertEqual([(m["rid"], m["message"]["seq"]) for m in frames if m["op"] == "sent"],
                             [("s%d" % i, i + 1) for i in range(n)])
            with self.assertRaises(Timeout):
                pool.next_msg(sid, timeout=0.3)
            self.ping_ok(ws)

    def test_waiting_sends_time_out_one_by_one_and_the_queue_drains(self):
        """A pool that never answers (edge A: 1 s timeout): each send waits
        for the previous one's timeout, each gets unavailable with its rid,
        and the next send after that goes out at once."""
        with self.stack.nats("msg") as pool:
            sid = pool.subscribe("im.conv.never.>")
            pool.flush()
            ws, _ = self.open()
            t0 = time.monotonic()
            for i in range(3):
                ws.send_json(self.send_frame("n%d" % i, "never", "k%d" % i))
            seen = []
            for _ in range(3):
                req = pool.next_msg(sid, timeout=5)
                seen.append((time.monotonic() - t0, pb_decode(req.data)[2].decode()))
            self.assertEqual([k for _, k in seen], ["k0", "k1", "k2"])
            self.assertGreater(seen[1][0] - seen[0][0], 0.7, seen)
            self.assertGreater(seen[2][0] - seen[1][0], 0.7, seen)
            errs = [ws.recv_json(timeout=5) for _ in range(3)]
            self.assertEqual([(m["op"], m["code"], m["rid"]) for m in errs],
                             [("error", "unavailable", "n%d" % i) for i in range(3)])
            ws.send_json(self.send_frame("n3", "never", "k3"))
            req = pool.next_msg(sid, timeout=0.5)      # nothing waits any more: out at once
            self.sent_reply(pool, req, 7)
            m = ws.recv_json()
            self.assertEqual((m["op"], m["rid"]), ("sent", "n3"), m)


if __name__ == "__main__":
    unittest.main()
