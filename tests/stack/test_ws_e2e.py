"""test_ws_e2e.py - the WebSocket edge with the real msg pool behind it
(test_ws.py plays the pool itself): two edge-ws processes, a real auth and
msg pool, messages going from one socket to the sender's other session and
to the peer on the other edge, then sync and read over the socket."""

import secrets
import time
import unittest

from harness import Api, StackTestCase, unique_name
from wsclient import WsClient, WsClosed


class WsEndToEndTest(StackTestCase):
    """The real msg pool behind two edge-ws processes: a message sent on one
    socket reaches the sender's other session and the peer on another edge."""

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth")
        cls.stack.start_role("msg")
        env = {"NATTER_NATS_REQUEST_TIMEOUT_MS": "5000"}
        cls.api = Api(cls.stack.start_role("edge-http", env).url)
        cls.a = cls.stack.start_role("edge-ws", env)
        cls.b = cls.stack.start_role("edge-ws", env)

    def user(self):
        name = unique_name("w")
        self.assertEqual(self.api.register(name).status, 201)
        r = self.api.login(name)
        self.assertEqual(r.status, 200, r)
        return r.json["user"]["id"], r.json["access_token"]

    def open(self, edge, token):
        ws = WsClient.connect("127.0.0.1", edge.port, "/ws?token=" + token)
        self.addCleanup(ws.close)
        self.assertEqual(ws.recv_json()["op"], "hello")
        ws.send_json({"op": "ping", "rid": "ready"})
        self.assertEqual(ws.recv_op("pong")["rid"], "ready")
        return ws

    def test_push_right_after_hello(self):
        # hello is sent only once nats-server has the session's push
        # subscription (ws_request_hello): a message sent the moment the
        # peer's hello arrives must reach it as a push, with no sync.  Each
        # round opens a fresh socket, so each needs a new subscription.
        (ua, ta), (ub, tb) = self.user(), self.user()
        r = self.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": ub},
                          token=ta)
        self.assertEqual(r.status, 201, r)
        cid = r.json["conversation"]["id"]
        a = self.open(self.a, ta)
        for i in range(40):
            b = WsClient.connect("127.0.0.1", self.b.port, "/ws?token=" + tb)
            try:
                self.assertEqual(b.recv_json()["op"], "hello")
                a.send_json({"op": "send", "rid": "h%d" % i, "conversation_id": cid,
                             "client_msg_id": "h%d" % i, "type": "text", "body": "now"})
                self.assertEqual(a.recv_op("sent", timeout=10)["rid"], "h%d" % i)
                m = b.recv_op("message", timeout=5)
                self.assertEqual(m["message"]["client_msg_id"], "h%d" % i, m)
            finally:
                b.close()

    def test_send_push_sync_read(self):
        (ua, ta), (ub, tb) = self.user(), self.user()
        r = self.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": ub},
                          token=ta)
        self.assertEqual(r.status, 201, r)
        cid = r.json["conversation"]["id"]
        ta2 = self.api.login(self.api.call("GET", "/api/users/me", token=ta)
                             .json["user"]["username"], platform="mobile",
                             device_id="second").json["access_token"]   # web would replace ta
        a1, a2, b1 = self.open(self.a, ta), self.open(self.a, ta2), self.open(self.b, tb)
        a1.send_json({"op": "send", "rid": "s1", "conversation_id": cid, "client_msg_id": "k1",
                      "type": "text", "body": "over the socket"})
        sent = a1.recv_op("sent", timeout=10)
        self.assertEqual(sent["rid"], "s1")
        msg = sent["message"]
        self.assertEqual((msg["conversation_id"], msg["sender_id"], msg["body"]),
                         (cid, ua, "over the socket"))
        self.assertIsInstance(msg["seq"], int)
        for ws in (a2, b1):
            m = ws.recv_op("message", timeout=10)
            self.assertEqual(m["message"]["id"], msg["id"])
            self.assertEqual(m["message"]["seq"], msg["seq"])
        b1.send_json({"op": "ack", "conversation_id": cid, "seq": msg["seq"]})
        b1.send_json({"op": "sync", "rid": "y", "conversation_id": cid, "after_seq": 0})
        page = b1.recv_op("sync", timeout=10)
        self.assertEqual((page["rid"], page["conversation_id"], page["has_more"]), ("y", cid, False))
        self.assertEqual([m["id"] for m in page["messages"]], [msg["id"]])
        b1.send_json({"op": "read", "rid": "rd", "conversation_id": cid, "seq": msg["seq"]})
        self.assertEqual(b1.recv_op("ok", timeout=10), {"op": "ok", "rid": "rd"})
        # A retried client_msg_id returns the original message.
        a1.send_json({"op": "send", "rid": "s2", "conversation_id": cid, "client_msg_id": "k1",
                      "type": "text", "body": "over the socket"})
        self.assertEqual(a1.recv_op("sent", timeout=10)["message"]["seq"], msg["seq"])

    def test_logout_kicks_live_socket_and_refuses_token(self):
        (ua, ta), (_, tother) = self.user(), self.user()
        ws = self.open(self.a, ta)
        bystander = self.open(self.b, tother)
        r = self.api.call("POST", "/api/auth/logout", token=ta)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(ws.recv_op("kicked", timeout=10), {"op": "kicked", "reason": "logout"})
        with self.assertRaises(WsClosed) as cm:
            ws.recv(timeout=5)
        self.assertEqual(cm.exception.code, 4002)
        for edge in (self.a, self.b):
            deadline = time.monotonic() + 5
            while True:       # the deny-list event reaches every edge
                c = WsClient.connect("127.0.0.1", edge.port, "/ws?token=" + ta)
                try:
                    c.recv(timeout=5)
                    self.assertLess(time.monotonic(), deadline, "revoked token still accepted")
                    time.sleep(0.1)
                except WsClosed as e:
                    self.assertEqual(e.code, 4001)
                    break
                finally:
                    c.close()
        bystander.send_json({"op": "ping", "rid": "b"})
        self.assertEqual(bystander.recv_json(), {"op": "pong", "rid": "b"})

    def test_non_member_gets_pool_error_with_rid(self):
        (ua, ta), (ub, _), (_, tc) = self.user(), self.user(), self.user()
        r = self.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": ub},
                          token=ta)
        cid = r.json["conversation"]["id"]
        c = self.open(self.a, tc)
        c.send_json({"op": "send", "rid": "x", "conversation_id": cid, "client_msg_id": "k",
                     "type": "text", "body": "let me in"})
        m = c.recv_op("error", timeout=10)
        self.assertEqual((m["rid"], m["code"]), ("x", "forbidden"), m)
        c.send_json({"op": "sync", "rid": "y", "conversation_id": "nope" + secrets.token_hex(4)})
        m = c.recv_op("error", timeout=10)
        self.assertEqual(m["rid"], "y")
        self.assertIn(m["code"], ("forbidden", "not_found"), m)


if __name__ == "__main__":
    unittest.main()
