"""test_msg_features.py - revoke, mentions and message type rules
(docs/messages.md "Revoke and mentions", API.md "Messages").

One stack: nats-server, redis, mariadb, auth, one msg process with a short
revoke window (msg.revoke_window_s = 3, so the window test waits seconds,
not minutes), edge-http and edge-ws.  Conversations are direct ones (groups
are another module); a mention of a third user is a non-member mention.
"""

import secrets
import time
import unittest

from harness import Api, StackTestCase, unique_name
from wsclient import WsClient, WsReader

WINDOW_S = 3


def cmid():
    return "f" + secrets.token_hex(8)


class MsgFeaturesTest(StackTestCase):

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth")
        cls.stack.start_role("msg", {"NATTER_MSG_REVOKE_WINDOW_S": str(WINDOW_S)})
        http = cls.stack.start_role("edge-http", {"NATTER_NATS_REQUEST_TIMEOUT_MS": "5000",
                                                  "NATTER_HTTP_MAX_BODY": "65536"})
        cls.api = Api(http.url)
        cls.ws_edge = cls.stack.start_role("edge-ws", {"NATTER_NATS_REQUEST_TIMEOUT_MS": "5000"})

    # -- helpers ------------------------------------------------------------

    def user(self):
        name = unique_name("f")
        r = self.api.register(name)
        self.assertEqual(r.status, 201, r)
        r = self.api.login(name)
        self.assertEqual(r.status, 200, r)
        return r.json["user"]["id"], r.json["access_token"]

    def pair(self):
        a, b = self.user(), self.user()
        r = self.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": b[0]},
                          token=a[1])
        self.assertEqual(r.status, 201, r)
        return a, b, r.json["conversation"]["id"]

    def send(self, token, cid, body="hello", type_="text", **extra):
        doc = {"conversation_id": cid, "client_msg_id": cmid(), "type": type_, "body": body}
        doc.update(extra)
        return self.api.call("POST", "/api/messages", doc, token=token)

    def revoke(self, token, mid):
        return self.api.call("POST", "/api/messages/%s/revoke" % mid, token=token)

    def assert_error(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json["error"]["code"], code, r)
        self.assertTrue(r.json["error"]["message"], r)

    def sync(self, token, cid):
        r = self.api.call("GET", "/api/messages/sync?conversation_id=%s" % cid, token=token)
        self.assertEqual(r.status, 200, r)
        return r.json["messages"]

    def conv(self, token, cid):
        r = self.api.call("GET", "/api/conversations", token=token)
        self.assertEqual(r.status, 200, r)
        return next(c for c in r.json["conversations"] if c["id"] == cid)

    def open(self, token):
        ws = WsClient.connect("127.0.0.1", self.ws_edge.port, "/ws?token=" + token)
        self.assertEqual(ws.recv_json()["op"], "hello")
        rd = WsReader(ws)
        self.addCleanup(rd.stop)
        rid = "p" + secrets.token_hex(4)
        ws.send_json({"op": "ping", "rid": rid})  # the session (and its push sub) exists
        self.assertTrue(rd.wait(lambda fs: any(f.get("rid") == rid for f in fs), 10))
        return rd

    # -- revoke -------------------------------------------------------------

    def test_revoke_pushes_and_sync_shows_it(self):
        a, b, cid = self.pair()
        rd = self.open(b[1])
        r = self.send(a[1], cid, "oops")
        self.assertEqual(r.status, 201, r)
        m = r.json["message"]
        r = self.revoke(a[1], m["id"])
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["message"]["revoked"])
        self.assertEqual(r.json["message"]["body"], "")
        self.assertEqual(r.json["message"]["seq"], m["seq"])
        ev = rd.wait(lambda fs: next((f for f in fs if f.get("op") == "revoked"), None), 10)
        self.assertEqual(ev, {"op": "revoked", "conversation_id": cid, "message_id": m["id"],
                              "seq": m["seq"]})
        for tok in (a[1], b[1]):
            got = [x for x in self.sync(tok, cid) if x["id"] == m["id"]]
            self.assertEqual(len(got), 1)
            self.assertTrue(got[0]["revoked"])
            self.assertEqual(got[0]["body"], "")
        # Again: idempotent (a retry after a lost reply succeeds).
        r = self.revoke(a[1], m["id"])
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["message"]["revoked"])

    def test_revoke_refusals(self):
        a, b, cid = self.pair()
        m = self.send(a[1], cid).json["message"]
        self.assert_error(self.revoke(b[1], m["id"]), 403, "forbidden")   # not the sender
        stranger = self.user()
        self.assert_error(self.revoke(stranger[1], m["id"]), 403, "forbidden")
        self.assert_error(self.revoke(a[1], "999999999999"), 404, "not_found")
        for bad in ("abc", "0", "12x", "-1"):
            self.assert_error(self.revoke(a[1], bad), 400, "bad_request")
        r = self.api.call("POST", "/api/messages/%s/revoke" % m["id"])
        self.assert_error(r, 401, "unauthorized")
        r = self.api.call("GET", "/api/messages/%s/revoke" % m["id"], token=a[1])
        self.assertEqual(r.status, 405, r)
        # Still intact after all of that.
        got = [x for x in self.sync(b[1], cid) if x["id"] == m["id"]][0]
        self.assertFalse(got["revoked"])
        self.assertEqual(got["body"], "hello")

    def test_revoke_after_window(self):
        a, b, cid = self.pair()
        m = self.send(a[1], cid).json["message"]
        time.sleep(WINDOW_S + 0.5)
        r = self.revoke(a[1], m["id"])
        self.assert_error(r, 403, "forbidden")
        self.assertIn("%d seconds" % WINDOW_S, r.json["error"]["message"])
        got = [x for x in self.sync(a[1], cid) if x["id"] == m["id"]][0]
        self.assertFalse(got["revoked"])

    # -- mentions -----------------------------------------------------------

    def test_mentions_of_non_members_refused(self):
        a, b, cid = self.pair()
        c = self.user()
        self.assert_error(self.send(a[1], cid, mentions=[c[0]]), 400, "bad_request")
        self.assert_error(self.send(a[1], cid, mentions=["999999999999"]), 400, "bad_request")
        self.assert_error(self.send(a[1], cid, mentions=["x"]), 400, "bad_request")
        self.assert_error(self.send(a[1], cid, mentions="%s" % b[0]), 400, "bad_request")
        self.assert_error(self.send(a[1], cid, mentions=[b[0]] * 51), 400, "bad_request")
        self.assertEqual(self.sync(a[1], cid), [])  # nothing stored

    def test_mention_push_flag_and_count(self):
        a, b, cid = self.pair()
        rb, ra = self.open(b[1]), self.open(a[1])
        r = self.send(a[1], cid, "hi @b", mentions=[b[0], b[0]])  # repeats dropped
        self.assertEqual(r.status, 201, r)
        m = r.json["message"]
        self.assertEqual(m["mentions"], [b[0]])
        push = rb.wait(lambda fs: next((f for f in fs if f.get("op") == "message"), None), 10)
        self.assertEqual(push["message"]["id"], m["id"])
        self.assertTrue(push["message"].get("mentioned"), push)
        mine = ra.wait(lambda fs: next((f for f in fs if f.get("op") == "message"), None), 10)
        self.assertNotIn("mentioned", mine["message"])
        self.assertEqual(mine["message"]["mentions"], [b[0]])
        # Over WebSocket too.
        rid = "s" + secrets.token_hex(4)
        ra.ws.send_json({"op": "send", "rid": rid, "conversation_id": cid,
                         "client_msg_id": cmid(), "type": "text", "body": "again",
                         "mentions": [b[0]]})
        sent = ra.wait(lambda fs: next((f for f in fs if f.get("rid") == rid), None), 10)
        self.assertEqual(sent["op"], "sent", sent)
        self.assertEqual(sent["message"]["mentions"], [b[0]])
        self.send(a[1], cid, "no mention")
        self.assertEqual(self.conv(b[1], cid)["mentions"], 2)
        self.assertEqual(self.conv(a[1], cid)["mentions"], 0)
        got = self.sync(b[1], cid)
        self.assertEqual([x.get("mentions") for x in got], [[b[0]], [b[0]], None])
        # Reading past the first mention leaves one; reading all clears it.
        r = self.api.call("POST", "/api/messages/read", {"conversation_id": cid,
                                                         "seq": got[0]["seq"]}, token=b[1])
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.conv(b[1], cid)["mentions"], 1)
        r = self.api.call("POST", "/api/messages/read", {"conversation_id": cid,
                                                         "seq": got[-1]["seq"]}, token=b[1])
        self.assertEqual(self.conv(b[1], cid)["mentions"], 0)

    def test_ws_send_mentions_of_non_member(self):
        a, b, cid = self.pair()
        c = self.user()
        ra = self.open(a[1])
        rid = "s" + secrets.token_hex(4)
        ra.ws.send_json({"op": "send", "rid": rid, "conversation_id": cid,
                         "client_msg_id": cmid(), "type": "text", "body": "x",
                         "mentions": [c[0]]})
        err = ra.wait(lambda fs: next((f for f in fs if f.get("rid") == rid), None), 10)
        self.assertEqual((err["op"], err["code"]), ("error", "bad_request"), err)

    def test_revoke_clears_mentions(self):
        a, b, cid = self.pair()
        m = self.send(a[1], cid, "hey", mentions=[b[0]]).json["message"]
        self.assertEqual(self.conv(b[1], cid)["mentions"], 1)
        self.assertEqual(self.revoke(a[1], m["id"]).status, 200)
        self.assertEqual(self.conv(b[1], cid)["mentions"], 0)
        got = self.sync(b[1], cid)[0]
        self.assertNotIn("mentions", got)

    def test_group_mentions_and_revoke(self):
        a, b, c, d = self.user(), self.user(), self.user(), self.user()
        r = self.api.call("POST", "/api/conversations",
                          {"type": "group", "name": "g", "member_ids": [b[0], c[0]]}, token=a[1])
        if r.status != 201:
            self.skipTest("group create not available: %r" % (r,))
        cid = r.json["conversation"]["id"]
        rb, rc = self.open(b[1]), self.open(c[1])
        self.assert_error(self.send(a[1], cid, "x", mentions=[d[0]]), 400, "bad_request")
        m = self.send(a[1], cid, "@b", mentions=[b[0]]).json["message"]

        def pushed(rd):
            return rd.wait(lambda fs: next((f for f in fs if f.get("op") == "message"
                                            and f["message"]["id"] == m["id"]), None), 10)
        self.assertTrue(pushed(rb)["message"].get("mentioned"))
        self.assertNotIn("mentioned", pushed(rc)["message"])
        self.assertEqual(self.conv(b[1], cid)["mentions"], 1)
        self.assertEqual(self.conv(c[1], cid)["mentions"], 0)
        self.assertEqual(self.revoke(a[1], m["id"]).status, 200)
        for rd in (rb, rc):
            ev = rd.wait(lambda fs: next((f for f in fs if f.get("op") == "revoked"), None), 10)
            self.assertEqual(ev["message_id"], m["id"])
        self.assertEqual(self.conv(b[1], cid)["mentions"], 0)

    # -- types --------------------------------------------------------------

    def test_type_rules(self):
        a, b, cid = self.pair()
        self.assert_error(self.send(a[1], cid, ""), 400, "bad_request")
        self.assert_error(self.send(a[1], cid, "x" * 4001), 400, "bad_request")
        self.assertEqual(self.send(a[1], cid, "é" * 4000).status, 201)
        for t in ("image", "file"):  # the body must be a file id (test_media.py has the rest)
            r = self.send(a[1], cid, "f123", type_=t)
            self.assert_error(r, 400, "bad_request")
            self.assertIn("must be a file id", r.json["error"]["message"])
        for t in ("system", "video", ""):
            self.assert_error(self.send(a[1], cid, "x", type_=t), 400, "bad_request")


if __name__ == "__main__":
    unittest.main()
