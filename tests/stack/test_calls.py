"""test_calls.py - one-to-one calls (issue 14): the WebSocket call frames of
API.md "Calls", relayed by the call actor (hosted by the presence pool,
docs/calls.md) between users on two different edge-ws processes, through
real roles.

One stack for the class: nats-server, redis, mariadb, auth, msg, presence
(short ring timeout and liveness probes), edge-http (with a TURN secret)
and two edge-ws; a third edge-ws is started for the test that kills one.
The test plays only clients.

What must hold:
  relay       offer -> ok {call_id} and call_offer to every callee session;
              answer -> call_answer to the offering session only; ICE both
              ways, unchanged, before and after the answer
  endings     hangup, canceled, rejected, timeout, busy (callee and caller),
              unavailable, gone (socket closed; edge killed with SIGKILL),
              answered_elsewhere with two callee devices, a second answer
              is conflict
  record      every ended call leaves exactly one system message
              {"event":"call",...} in history and sync
  refusals    non-member, group conversation, unknown call id, a session
              not in the call, bad sdp / media / candidate: error frames,
              and the socket stays usable; a 64 KiB sdp passes
  ice_servers GET /api/calls/ice_servers: 401 without a token; STUN and a
              TURN credential that checks with HMAC-SHA1
  metrics     the presence pool's /metrics counts calls by end reason
"""

import base64
import hashlib
import hmac
import json
import secrets
import signal
import time

from harness import Api, StackTestCase, free_port, http_request, unique_name
from wsclient import WsClient, WsReader

RING_S = 3
PROBE_MS = 300
GONE_MS = 1200
CALL_ENV = {"NATTER_CALL_RING_TIMEOUT_S": str(RING_S),
            "NATTER_CALL_PROBE_MS": str(PROBE_MS),
            "NATTER_CALL_GONE_MS": str(GONE_MS),
            "NATTER_PRESENCE_TTL_S": "3",
            "NATTER_PRESENCE_DEBOUNCE_MS": "200",
            "NATTER_PRESENCE_SWEEP_MS": "100"}
EDGE_ENV = {"NATTER_WS_PRESENCE_HEARTBEAT_S": "1"}
TURN_SECRET = "s3cret-" + secrets.token_hex(8)
HTTP_ENV = {"NATTER_CALL_STUN_URLS": "stun:127.0.0.1:3478",
            "NATTER_CALL_TURN_URLS": "turn:127.0.0.1:3478?transport=udp, turn:127.0.0.1:3478?transport=tcp",
            "NATTER_CALL_TURN_SECRET": TURN_SECRET,
            "NATTER_CALL_TURN_TTL_S": "3600"}
EVENT_S = 5.0
GONE_S = 5.0          # "within a few seconds"
SDP_A = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=offer\r\n"
SDP_B = "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=answer\r\n"
CAND = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
        "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "ab\u00e9"}


class CallsTest(StackTestCase):
    maxDiff = None

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth")
        cls.stack.start_role("msg")
        cls.ops_port = free_port(cls.stack.ports)
        env = dict(CALL_ENV, NATTER_OPS_HTTP_PORT=str(cls.ops_port))
        cls.stack.start_role("presence", env)
        cls.api = Api(cls.stack.start_role("edge-http", HTTP_ENV).url)
        cls.e1 = cls.stack.start_role("edge-ws", EDGE_ENV)
        cls.e2 = cls.stack.start_role("edge-ws", EDGE_ENV)

    # -- clients ------------------------------------------------------------

    def setUp(self):
        self.names = {}

    def user(self):
        name = unique_name("c")
        r = self.api.register(name)
        self.assertEqual(r.status, 201, r)
        uid = r.json["user"]["id"]
        self.names[uid] = name
        return uid, self.login(uid, "web")

    def login(self, uid, platform):
        r = self.api.login(self.names[uid], platform=platform, device_id="dev-" + platform)
        self.assertEqual(r.status, 200, r)
        return r.json["access_token"]

    def direct(self, ta, ub):
        r = self.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": ub},
                          token=ta)
        self.assertIn(r.status, (200, 201), r)
        return r.json["conversation"]["id"]

    def open(self, edge, token, uid=None):
        """A socket past hello with its reader running; with uid, also wait
        until presence has the session (the call actor rings only users it
        knows to be online)."""
        ws = WsClient.connect("127.0.0.1", edge.port, "/ws?token=" + token)
        hello = ws.recv_json()
        self.assertEqual(hello["op"], "hello", hello)
        rd = WsReader(ws)
        self.addCleanup(rd.stop)
        self.request(rd, {"op": "ping"}, "pong")
        if uid:
            deadline = time.monotonic() + EVENT_S
            while True:
                r = self.api.call("GET", "/api/presence?user_ids=" + uid, token=token)
                if r.status == 200 and r.json["presence"][0]["online"]:
                    break
                self.assertLess(time.monotonic(), deadline, "presence never saw the session")
                time.sleep(0.05)
        return rd

    def request(self, rd, frame, op="ok", timeout=EVENT_S):
        """Send frame with a fresh rid; the answer with that rid (asserting
        its op)."""
        rid = "r" + secrets.token_hex(4)
        rd.ws.send_json(dict(frame, rid=rid))
        f = rd.wait(lambda fs: next((x for x in fs if x.get("rid") == rid), None), timeout)
        self.assertIsNotNone(f, "no answer to %r; got %r" % (frame.get("op"), rd.frames[-5:]))
        self.assertEqual(f["op"], op, f)
        return f

    def error(self, rd, frame, code):
        f = self.request(rd, frame, "error")
        self.assertEqual(f["code"], code, f)
        return f

    def frame(self, rd, op, call_id, timeout=EVENT_S, **match):
        """Wait for a frame of op about call_id (and the fields in match)."""
        def find(fs):
            return next((f for f in fs if f.get("op") == op and f.get("call_id") == call_id
                         and all(f.get(k) == v for k, v in match.items())), None)
        f = rd.wait(find, timeout)
        self.assertIsNotNone(f, "no %s %r of %s on %r" % (op, match, call_id, rd.frames[-6:]))
        return f

    def none(self, rd, op, call_id, seconds=0.5):
        time.sleep(seconds)
        self.assertEqual([f for f in rd.of(op) if f.get("call_id") == call_id], [])

    def offer(self, rd, cid, media="video", sdp=SDP_A):
        f = self.request(rd, {"op": "call_offer", "conversation_id": cid, "media": media,
                              "sdp": sdp})
        self.assertEqual(set(f), {"op", "rid", "call_id"}, f)
        return f["call_id"]

    def pair(self, edge_b=None):
        """A on e1 and B on e2 (both online), their direct conversation."""
        (a, ta), (b, tb) = self.user(), self.user()
        cid = self.direct(ta, b)
        ra = self.open(self.e1, ta, a)
        rb = self.open(edge_b or self.e2, tb, b)
        return (a, ta, ra), (b, tb, rb), cid

    def call_messages(self, token, cid, expect, timeout=EVENT_S):
        """The conversation's call system messages, once there are expect
        of them (history, newest first)."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.api.call("GET", "/api/messages/history?conversation_id=%s" % cid, token=token)
            self.assertEqual(r.status, 200, r)
            calls = [m for m in r.json["messages"] if m["type"] == "system"
                     and json.loads(m["body"]).get("event") == "call"]
            if len(calls) >= expect or time.monotonic() > deadline:
                self.assertEqual(len(calls), expect, calls)
                return [dict(json.loads(m["body"]), _msg=m) for m in calls]
            time.sleep(0.1)

    # -- the relay ------------------------------------------------------------

    def test_offer_answer_ice_hangup_across_edges(self):
        (a, ta, ra), (b, tb, rb), cid = self.pair()
        x = self.offer(ra, cid)
        off = self.frame(rb, "call_offer", x)
        self.assertEqual(off, {"op": "call_offer", "call_id": x, "conversation_id": cid,
                               "from": a, "media": "video", "sdp": SDP_A})
        # ICE before the answer: the caller's to the ringing callee, the
        # callee's to the caller; unchanged (key order and unicode too).
        self.request(ra, {"op": "call_ice", "call_id": x, "candidate": CAND})
        self.assertEqual(self.frame(rb, "call_ice", x),
                         {"op": "call_ice", "call_id": x, "candidate": CAND})
        rb.ws.send_json({"op": "call_ice", "call_id": x, "candidate": dict(CAND, sdpMid="b")})
        self.assertEqual(self.frame(ra, "call_ice", x)["candidate"], dict(CAND, sdpMid="b"))
        # answer
        self.request(rb, {"op": "call_answer", "call_id": x, "sdp": SDP_B})
        self.assertEqual(self.frame(ra, "call_answer", x),
                         {"op": "call_answer", "call_id": x, "sdp": SDP_B})
        for rd, other, mid in ((ra, rb, "after-a"), (rb, ra, "after-b")):
            self.request(rd, {"op": "call_ice", "call_id": x, "candidate": dict(CAND, sdpMid=mid)})
            self.frame(other, "call_ice", x, candidate=dict(CAND, sdpMid=mid))
        time.sleep(1.1)                       # a duration of at least one second
        self.request(ra, {"op": "call_hangup", "call_id": x})
        self.assertEqual(self.frame(rb, "call_hangup", x),
                         {"op": "call_hangup", "call_id": x, "reason": "hangup"})
        self.none(ra, "call_hangup", x, 0.2)
        # over: the call's address is gone
        self.error(rb, {"op": "call_hangup", "call_id": x}, "not_found")
        self.error(ra, {"op": "call_ice", "call_id": x, "candidate": CAND}, "not_found")
        # the record: one system message, in history and in sync
        (rec,) = self.call_messages(tb, cid, 1)
        m = rec.pop("_msg")
        self.assertEqual(m["sender_id"], a)
        self.assertEqual({k: rec[k] for k in ("event", "call_id", "media", "caller_id",
                                              "callee_id", "answered", "reason")},
                         {"event": "call", "call_id": x, "media": "video", "caller_id": a,
                          "callee_id": b, "answered": True, "reason": "hangup"})
        self.assertIsInstance(rec["duration_s"], int)
        self.assertGreaterEqual(rec["duration_s"], 1)
        self.assertLess(rec["duration_s"], 30)
        page = self.request(rb, {"op": "sync", "conversation_id": cid, "after_seq": 0}, "sync")
        self.assertEqual([s["id"] for s in page["messages"] if s["type"] == "system"], [m["id"]])
        # pushed live like any message, to both
        for rd in (ra, rb):
            rd.wait(lambda fs: any(f.get("op") == "message" and f["message"]["id"] == m["id"]
                                   for f in fs), EVENT_S)
        # seqs stay dense around it
        r = self.api.call("POST", "/api/messages", {"conversation_id": cid, "client_msg_id": "after",
                                                   "type": "text", "body": "hi"}, token=ta)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["message"]["seq"], m["seq"] + 1)

    def test_cancel_and_reject(self):
        (a, ta, ra), (b, tb, rb), cid = self.pair()
        x = self.offer(ra, cid, "audio")
        self.frame(rb, "call_offer", x)
        self.request(ra, {"op": "call_hangup", "call_id": x})
        self.frame(rb, "call_hangup", x, reason="canceled")
        y = self.offer(ra, cid, "audio")
        self.frame(rb, "call_offer", y)
        self.request(rb, {"op": "call_hangup", "call_id": y})
        self.frame(ra, "call_hangup", y, reason="rejected")
        recs = self.call_messages(ta, cid, 2)
        self.assertEqual({(r["call_id"], r["reason"], r["answered"], r["duration_s"], r["media"])
                          for r in recs},
                         {(x, "canceled", False, 0, "audio"), (y, "rejected", False, 0, "audio")})

    def test_ring_timeout(self):
        (a, ta, ra), (b, tb, rb), cid = self.pair()
        t0 = time.monotonic()
        x = self.offer(ra, cid)
        self.frame(rb, "call_offer", x)
        for rd in (ra, rb):
            self.frame(rd, "call_hangup", x, timeout=RING_S + 3, reason="timeout")
        self.assertGreaterEqual(time.monotonic() - t0, RING_S - 0.2)
        self.error(rb, {"op": "call_answer", "call_id": x, "sdp": SDP_B}, "not_found")
        (rec,) = self.call_messages(ta, cid, 1)
        self.assertEqual((rec["reason"], rec["answered"]), ("timeout", False))

    def test_busy_callee_and_caller_and_unavailable(self):
        (a, ta, ra), (b, tb, rb), cid = self.pair()
        c, tc = self.user()
        rc = self.open(self.e2, tc, c)
        cid_cb, cid_ac = self.direct(tc, b), self.direct(ta, c)
        x = self.offer(ra, cid)                          # A rings B
        self.frame(rb, "call_offer", x)
        y = self.offer(rc, cid_cb)                       # C calls B: busy at once
        self.assertEqual(self.frame(rc, "call_hangup", y, timeout=2),
                         {"op": "call_hangup", "call_id": y, "reason": "busy"})
        self.none(rb, "call_offer", y, 0.3)
        z = self.offer(ra, cid_ac)                       # A, in a call, calls C: busy
        self.frame(ra, "call_hangup", z, timeout=2, reason="busy")
        self.none(rc, "call_offer", z, 0.1)
        self.request(ra, {"op": "call_hangup", "call_id": x})
        self.frame(rb, "call_hangup", x, reason="canceled")
        # after the end B can be called again
        w = self.offer(rc, cid_cb)
        self.frame(rb, "call_offer", w)
        self.request(rc, {"op": "call_hangup", "call_id": w})
        # a user with no session: unavailable at once
        d, td = self.user()
        cid_ad = self.direct(ta, d)
        u = self.offer(ra, cid_ad, "audio")
        self.frame(ra, "call_hangup", u, timeout=2, reason="unavailable")
        (rec,) = self.call_messages(ta, cid_ad, 1)
        self.assertEqual((rec["reason"], rec["answered"]), ("unavailable", False))
        (rec,) = self.call_messages(tc, cid_cb, 2)[1:]   # oldest first of the two: y
        self.assertEqual((rec["call_id"], rec["reason"]), (y, "busy"))

    def test_answered_elsewhere_and_conflict(self):
        (a, ta, ra), (b, tb, rb), cid = self.pair()
        rb2 = self.open(self.e1, self.login(b, "mobile"))
        x = self.offer(ra, cid)
        self.frame(rb, "call_offer", x)
        self.frame(rb2, "call_offer", x)
        self.request(ra, {"op": "call_ice", "call_id": x, "candidate": CAND})
        self.frame(rb, "call_ice", x)                    # every ringing session
        self.frame(rb2, "call_ice", x)
        self.request(rb2, {"op": "call_answer", "call_id": x, "sdp": SDP_B})
        self.frame(ra, "call_answer", x, sdp=SDP_B)
        self.assertEqual(self.frame(rb, "call_hangup", x),
                         {"op": "call_hangup", "call_id": x, "reason": "answered_elsewhere"})
        self.none(rb2, "call_hangup", x, 0.2)
        self.error(rb, {"op": "call_answer", "call_id": x, "sdp": SDP_B}, "conflict")
        self.error(rb, {"op": "call_ice", "call_id": x, "candidate": CAND}, "forbidden")
        # the caller's ICE now goes to the answering device only
        self.request(ra, {"op": "call_ice", "call_id": x, "candidate": dict(CAND, sdpMid="2")})
        self.frame(rb2, "call_ice", x, candidate=dict(CAND, sdpMid="2"))
        self.assertEqual(len([f for f in rb.of("call_ice") if f["call_id"] == x]), 1)
        self.request(rb2, {"op": "call_hangup", "call_id": x})
        self.frame(ra, "call_hangup", x, reason="hangup")
        (rec,) = self.call_messages(ta, cid, 1)
        self.assertEqual((rec["answered"], rec["reason"]), (True, "hangup"))

    # -- gone -------------------------------------------------------------------

    def test_gone_when_the_socket_closes(self):
        (a, ta, ra), (b, tb, rb), cid = self.pair()
        x = self.offer(ra, cid)
        self.frame(rb, "call_offer", x)
        self.request(rb, {"op": "call_answer", "call_id": x, "sdp": SDP_B})
        self.frame(ra, "call_answer", x)
        t0 = time.monotonic()
        rb.stop()
        self.frame(ra, "call_hangup", x, timeout=GONE_S, reason="gone")
        took = time.monotonic() - t0
        (rec,) = self.call_messages(ta, cid, 1)
        self.assertEqual((rec["answered"], rec["reason"]), (True, "gone"))
        # the caller's own socket closing while ringing: the callee hears gone
        rb = self.open(self.e2, tb, b)
        y = self.offer(ra, cid, "audio")
        self.frame(rb, "call_offer", y)
        ra.stop()
        self.frame(rb, "call_hangup", y, timeout=GONE_S, reason="gone")
        print("gone after socket close: %.2f s" % took)

    def test_gone_when_the_callee_edge_is_killed(self):
        e3 = self.stack.start_role("edge-ws", EDGE_ENV)
        (a, ta, ra), (b, tb, rb), cid = self.pair(edge_b=e3)
        x = self.offer(ra, cid)
        self.frame(rb, "call_offer", x)
        self.request(rb, {"op": "call_answer", "call_id": x, "sdp": SDP_B})
        self.frame(ra, "call_answer", x)
        t0 = time.monotonic()
        e3.kill(signal.SIGKILL)
        self.frame(ra, "call_hangup", x, timeout=GONE_S, reason="gone")
        print("gone after edge SIGKILL: %.2f s" % (time.monotonic() - t0))
        (rec,) = self.call_messages(ta, cid, 1)
        self.assertEqual(rec["reason"], "gone")

    # -- refusals -----------------------------------------------------------------

    def test_refusals_keep_the_socket_usable(self):
        (a, ta, ra), (b, tb, rb), cid = self.pair()
        s, ts = self.user()
        rs = self.open(self.e1, ts, s)
        # a stranger may not call in someone else's conversation
        self.error(rs, {"op": "call_offer", "conversation_id": cid, "media": "audio",
                        "sdp": SDP_A}, "forbidden")
        self.error(rs, {"op": "call_offer", "conversation_id": "999999999", "media": "audio",
                        "sdp": SDP_A}, "not_found")
        # ... nor learn anything from a malformed offer there
        self.error(rs, {"op": "call_offer", "conversation_id": cid, "media": "audio",
                        "sdp": 5}, "forbidden")
        # a group conversation
        r = self.api.call("POST", "/api/conversations",
                          {"type": "group", "name": "g", "member_ids": [b]}, token=ta)
        self.assertEqual(r.status, 201, r)
        f = self.error(ra, {"op": "call_offer", "conversation_id": r.json["conversation"]["id"],
                            "media": "audio", "sdp": SDP_A}, "bad_request")
        self.assertIn("direct", f["message"])
        # bad frames from a member
        for bad in ({"sdp": 5}, {"sdp": ""}, {"sdp": "x" * 65537}, {"media": "smell"},
                    {"media": None}, {"extra": 1}):
            frame = dict({"op": "call_offer", "conversation_id": cid, "media": "audio",
                          "sdp": SDP_A}, **bad)
            self.error(ra, frame, "bad_request")
        # unknown call ids
        self.error(ra, {"op": "call_answer", "call_id": "0" * 32, "sdp": SDP_B}, "not_found")
        self.error(ra, {"op": "call_hangup", "call_id": "no-such"}, "not_found")
        self.error(ra, {"op": "call_hangup", "call_id": "a.b"}, "bad_request")
        self.error(ra, {"op": "call_hangup"}, "bad_request")
        # a live call: strangers and the wrong party are refused
        x = self.offer(ra, cid)
        self.frame(rb, "call_offer", x)
        self.error(rs, {"op": "call_ice", "call_id": x, "candidate": CAND}, "forbidden")
        self.error(rs, {"op": "call_answer", "call_id": x, "sdp": SDP_B}, "forbidden")
        self.error(rs, {"op": "call_hangup", "call_id": x}, "forbidden")
        self.error(ra, {"op": "call_answer", "call_id": x, "sdp": SDP_B}, "forbidden")
        ra2 = self.open(self.e2, self.login(a, "mobile"))   # the caller's other device
        self.error(ra2, {"op": "call_hangup", "call_id": x}, "forbidden")
        for bad in ({"candidate": "x"}, {"candidate": [1]}, {"candidate": None},
                    {"candidate": {"c": "x" * 5000}}):
            self.error(ra, dict({"op": "call_ice", "call_id": x}, **bad), "bad_request")
        self.error(rb, {"op": "call_answer", "call_id": x, "sdp": 7}, "bad_request")
        self.error(rb, {"op": "call_answer", "call_id": x}, "bad_request")
        # past ws.max_frame (80 KiB): too_large, and the socket stays
        ra.ws.send_json({"op": "call_offer", "conversation_id": cid, "media": "audio",
                         "sdp": "x" * 82000})
        self.assertTrue(ra.wait(lambda fs: any(f.get("code") == "too_large" for f in fs),
                                EVENT_S), ra.frames[-3:])
        for rd in (ra, rb, rs):
            self.request(rd, {"op": "ping"}, "pong")      # still usable
        self.request(ra, {"op": "call_hangup", "call_id": x})
        self.frame(rb, "call_hangup", x, reason="canceled")

    def test_64k_sdp_passes(self):
        (a, ta, ra), (b, tb, rb), cid = self.pair()
        big = ("a=candidate:" + "x" * 70 + "\r\n") * (65536 // 84)
        big += "v" * (65536 - len(big))
        self.assertEqual(len(big), 65536)
        x = self.offer(ra, cid, "video", big)
        self.assertEqual(self.frame(rb, "call_offer", x, timeout=10)["sdp"], big)
        self.request(rb, {"op": "call_answer", "call_id": x, "sdp": big})
        self.assertEqual(self.frame(ra, "call_answer", x, timeout=10)["sdp"], big)
        self.request(rb, {"op": "call_hangup", "call_id": x})
        self.frame(ra, "call_hangup", x, reason="hangup")

    # -- ice servers and metrics ----------------------------------------------------

    def test_ice_servers(self):
        r = self.api.call("GET", "/api/calls/ice_servers")
        self.assertEqual(r.status, 401, r)
        r = self.api.call("GET", "/api/calls/ice_servers", token="not-a-token")
        self.assertEqual(r.status, 401, r)
        u, tu = self.user()
        t0 = int(time.time())
        r = self.api.call("GET", "/api/calls/ice_servers", token=tu)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(set(r.json), {"ice_servers", "ttl"})
        self.assertEqual(r.json["ttl"], 3600)
        stun, turn = r.json["ice_servers"]
        self.assertEqual(stun, {"urls": ["stun:127.0.0.1:3478"]})
        self.assertEqual(set(turn), {"urls", "username", "credential"})
        self.assertEqual(turn["urls"], ["turn:127.0.0.1:3478?transport=udp",
                                        "turn:127.0.0.1:3478?transport=tcp"])
        expiry, who = turn["username"].split(":")
        self.assertEqual(who, u)
        self.assertTrue(t0 + 3600 <= int(expiry) <= int(time.time()) + 3600 + 1, expiry)
        want = base64.b64encode(hmac.new(TURN_SECRET.encode(), turn["username"].encode(),
                                         hashlib.sha1).digest()).decode()
        self.assertEqual(turn["credential"], want)
        r = self.api.call("POST", "/api/calls/ice_servers", token=tu)
        self.assertEqual(r.status, 405, r)

    def test_metrics_count_calls(self):
        def metrics():
            status, _, body = http_request("http://127.0.0.1:%d" % self.ops_port, "GET",
                                           "/metrics")
            self.assertEqual(status, 200)
            out = {}
            for line in body.decode().splitlines():
                if line.startswith("natter_calls_"):
                    k, v = line.rsplit(" ", 1)
                    out[k] = float(v)
            return out
        before = metrics()
        (a, ta, ra), (b, tb, rb), cid = self.pair()
        x = self.offer(ra, cid)
        self.frame(rb, "call_offer", x)
        self.request(rb, {"op": "call_answer", "call_id": x, "sdp": SDP_B})
        self.request(rb, {"op": "call_hangup", "call_id": x})
        self.frame(ra, "call_hangup", x, reason="hangup")
        after = metrics()
        for k in ("natter_calls_started_total", "natter_calls_answered_total",
                  'natter_calls_ended_total{reason="hangup"}'):
            self.assertGreaterEqual(after[k] - before.get(k, 0), 1, k)
        for reason in ("hangup", "canceled", "rejected", "timeout", "busy", "unavailable",
                       "gone"):
            self.assertIn('natter_calls_ended_total{reason="%s"}' % reason, after)
