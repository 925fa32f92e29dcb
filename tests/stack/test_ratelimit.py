"""test_ratelimit.py - login attempts are limited per client address and
per username, message sends per user (token buckets in Redis shared by
every auth / msg process); both answer 429 rate_limited (REST) or an error
frame with code rate_limited and the rid (WebSocket), recover when the
bucket refills, and never lock anyone out when Redis is down."""

import secrets
import signal
import time

from harness import Api, StackTestCase, unique_name
from wsclient import WsClient


class LoginRateTest(StackTestCase):

    @classmethod
    def start_roles(cls):
        limits = {"NATTER_AUTH_LOGIN_RATE_IP": "off", "NATTER_AUTH_LOGIN_RATE_USER": "2/3",
                  "NATTER_REDIS_TIMEOUT_MS": "200"}
        # Two auth processes: the bucket is in Redis, not in a process.
        cls.stack.start_role("auth", limits)
        cls.stack.start_role("auth", limits)
        cls.api = Api(cls.stack.start_role("edge-http").url)

    def test_user_bucket_refuses_then_recovers(self):
        name = unique_name("rl")
        self.assertEqual(self.api.register(name).status, 201)
        codes = [self.api.login(name).status for _ in range(6)]
        self.assertEqual(codes[:3], [200, 200, 200], codes)
        self.assertIn(429, codes[3:], codes)
        r = self.api.login(name, password="wrong password")
        if r.status == 429:
            body = r.json
            self.assertEqual(body["error"]["code"], "rate_limited")
            self.assertIn("retry in", body["error"]["message"])
        # Another user is not affected.
        other = unique_name("rl")
        self.api.register(other)
        self.assertEqual(self.api.login(other).status, 200)
        time.sleep(1.6)   # 2 tokens/s: at least 3 back
        self.assertEqual(self.api.login(name).status, 200)

    def test_wrong_passwords_count_too(self):
        name = unique_name("rl")
        self.api.register(name)
        codes = [self.api.login(name, password="nope nope").status for _ in range(5)]
        self.assertEqual(codes[:3], [401, 401, 401], codes)
        self.assertEqual(codes[4], 429, codes)

    def test_redis_down_fails_open(self):
        name = unique_name("rl")
        self.api.register(name)
        redis = self.stack.servers["redis"]
        redis.kill(signal.SIGKILL)
        redis.wait(5)
        try:
            t0 = time.monotonic()
            codes = [self.api.login(name).status for _ in range(5)]
            self.assertEqual(codes, [200] * 5)
            self.assertLess(time.monotonic() - t0, 5)
        finally:
            self.stack.restart_redis()


class LoginRateIpTest(StackTestCase):

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth", {"NATTER_AUTH_LOGIN_RATE_IP": "1/4",
                                      "NATTER_AUTH_LOGIN_RATE_USER": "off"})
        cls.api = Api(cls.stack.start_role("edge-http").url)

    def test_address_bucket_spans_usernames(self):
        names = [unique_name("ri") for _ in range(6)]
        for n in names:
            self.api.register(n)
        codes = [self.api.login(n).status for n in names]
        self.assertEqual(codes[:4], [200] * 4, codes)
        self.assertEqual(codes[5], 429, codes)


class SendRateTest(StackTestCase):
    """msg.send_rate 0.5/3: three sends at once, then one every 2 s, per
    user, whichever of the two msg processes takes the send."""

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth")
        limits = {"NATTER_MSG_SEND_RATE": "0.5/3", "NATTER_REDIS_TIMEOUT_MS": "200"}
        cls.stack.start_role("msg", limits)
        cls.stack.start_role("msg", limits)
        cls.api = Api(cls.stack.start_role("edge-http").url)
        cls.ws = cls.stack.start_role("edge-ws")

    def user(self):
        name = unique_name("sr")
        self.assertEqual(self.api.register(name).status, 201)
        r = self.api.login(name)
        self.assertEqual(r.status, 200, r)
        return r.json["user"]["id"], r.json["access_token"]

    def conversation(self):
        (_, ta), (ub, tb) = self.user(), self.user()
        r = self.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": ub},
                          token=ta)
        self.assertEqual(r.status, 201, r)
        return r.json["conversation"]["id"], ta, tb

    def send(self, token, cid, key=None):
        return self.api.call("POST", "/api/messages",
                             {"conversation_id": cid, "client_msg_id": key or secrets.token_hex(6),
                              "type": "text", "body": "hello"}, token=token)

    def test_rest_refuses_then_recovers(self):
        cid, ta, tb = self.conversation()
        first = self.send(ta, cid, "first")
        self.assertEqual(first.status, 201, first)
        codes = [self.send(ta, cid).status for _ in range(5)]
        self.assertEqual(codes[:2], [201, 201], codes)
        self.assertIn(429, codes[2:], codes)
        r = self.send(ta, cid)
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json["error"]["code"], "rate_limited")
        self.assertIn("retry in", r.json["error"]["message"])
        # A retry of a stored message is answered (the original), not
        # refused, while new sends still are.
        r = self.send(ta, cid, "first")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["message"]["id"], first.json["message"]["id"])
        self.assertEqual(self.send(ta, cid).status, 429)
        # The peer has a bucket of its own.
        self.assertEqual(self.send(tb, cid).status, 201)
        time.sleep(2.2)
        self.assertEqual(self.send(ta, cid).status, 201)
        # Nothing refused was stored: seqs are dense and count the 201s only.
        stored = 1 + codes.count(201) + 2
        r = self.api.call("GET", "/api/messages/sync?conversation_id=%s&after_seq=0" % cid,
                          token=tb)
        self.assertEqual([m["seq"] for m in r.json["messages"]], list(range(1, stored + 1)))

    def test_ws_error_frame_with_rid(self):
        cid, ta, _ = self.conversation()
        ws = WsClient.connect("127.0.0.1", self.ws.port, "/ws?token=" + ta)
        self.addCleanup(ws.close)
        self.assertEqual(ws.recv_json()["op"], "hello")
        answers, refused = [], None
        for i in range(6):
            ws.send_json({"op": "send", "rid": "r%d" % i, "conversation_id": cid,
                          "client_msg_id": "k%d" % i, "type": "text", "body": "hi"})
            while True:
                m = ws.recv_json(timeout=10)
                if m["op"] in ("sent", "error"):
                    break
            self.assertEqual(m["rid"], "r%d" % i, m)
            answers.append(m["op"] if m["op"] == "sent" else m["code"])
            if m["op"] == "error":
                refused = m
        self.assertEqual(answers[:3], ["sent"] * 3, answers)
        self.assertIn("rate_limited", answers[3:], answers)
        self.assertEqual(set(refused), {"op", "rid", "code", "message"}, refused)
        self.assertEqual(refused["code"], "rate_limited")
        self.assertIn("retry in", refused["message"])
        # The socket stays open and usable.
        ws.send_json({"op": "ping", "rid": "p"})
        self.assertEqual(ws.recv_op("pong")["rid"], "p")
        time.sleep(2.2)
        ws.send_json({"op": "send", "rid": "again", "conversation_id": cid,
                      "client_msg_id": "k9", "type": "text", "body": "hi"})
        self.assertEqual(ws.recv_op("sent", timeout=10)["rid"], "again")

    def test_redis_down_fails_open(self):
        cid, ta, _ = self.conversation()
        redis = self.stack.servers["redis"]
        redis.kill(signal.SIGKILL)
        redis.wait(5)
        try:
            t0 = time.monotonic()
            codes = [self.send(ta, cid).status for _ in range(6)]
            self.assertEqual(codes, [201] * 6)
            self.assertLess(time.monotonic() - t0, 8)
        finally:
            self.stack.restart_redis()
