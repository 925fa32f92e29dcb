"""test_messages.py - conversations and messages through edge-http and the
msg pool, against API.md ("Conversations", "Messages") and DESIGN.md
"Messages: the invariants".

One stack for the class: nats-server, redis, mariadb, one auth process, two
msg processes (so sends to one conversation are served by both and the
store alone has to keep seqs dense) and one edge-http with a body cap large
enough that an oversized text reaches the pool's own limit.
"""

import json
import secrets
import threading
import time
import unittest

from harness import Api, StackTestCase, unique_name

TEXT_MAX = 4000
CONV_KEYS = {"id", "type", "name", "owner_id", "members", "last_seq", "created_at"}
MSG_KEYS = {"id", "conversation_id", "seq", "sender_id", "client_msg_id", "type", "body",
            "created_at", "revoked"}


def cmid():
    return "c" + secrets.token_hex(8)


class MessagesTest(StackTestCase):

    @classmethod
    def start_roles(cls):
        cls.auth = cls.stack.start_role("auth")
        cls.msg1 = cls.stack.start_role("msg")
        cls.msg2 = cls.stack.start_role("msg")
        cls.edge = cls.stack.start_role("edge-http", {"NATTER_HTTP_MAX_BODY": "65536",
                                                       "NATTER_NATS_REQUEST_TIMEOUT_MS": "5000"})
        cls.api = Api(cls.edge.url)

    # -- helpers ------------------------------------------------------------

    def user(self):
        """A fresh user: (id, token)."""
        name = unique_name("m")
        r = self.api.register(name)
        self.assertEqual(r.status, 201, r)
        r = self.api.login(name)
        self.assertEqual(r.status, 200, r)
        return r.json["user"]["id"], r.json["access_token"]

    def assert_error(self, r, status, code=None):
        self.assertEqual(r.status, status, r)
        err = r.json["error"]
        self.assertIsInstance(err["message"], str)
        if code:
            self.assertEqual(err["code"], code, r)

    def direct(self, token, peer_id, status=None):
        r = self.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": peer_id},
                          token=token)
        if status:
            self.assertEqual(r.status, status, r)
        return r

    def pair(self):
        """Two users and their direct conversation: (a, b, cid)."""
        a, b = self.user(), self.user()
        r = self.direct(a[1], b[0], 201)
        return a, b, r.json["conversation"]["id"]

    def send(self, token, cid, body="hello", client_msg_id=None, type_="text"):
        return self.api.call("POST", "/api/messages", {
            "conversation_id": cid, "client_msg_id": client_msg_id or cmid(), "type": type_,
            "body": body}, token=token)

    def page(self, token, verb, cid, **q):
        qs = "conversation_id=%s" % cid + "".join("&%s=%s" % kv for kv in q.items())
        return self.api.call("GET", "/api/messages/%s?%s" % (verb, qs), token=token)

    def conv_list(self, token):
        r = self.api.call("GET", "/api/conversations", token=token)
        self.assertEqual(r.status, 200, r)
        return {c["id"]: c for c in r.json["conversations"]}

    # -- conversations ------------------------------------------------------

    def test_direct_create_idempotent(self):
        a, b = self.user(), self.user()
        r1 = self.direct(a[1], b[0], 201)
        c = r1.json["conversation"]
        self.assertTrue(CONV_KEYS <= set(c), c)
        self.assertEqual(c["type"], "direct")
        self.assertEqual(c["last_seq"], 0)
        self.assertEqual(sorted(m["user_id"] for m in c["members"]), sorted([a[0], b[0]]))
        r2 = self.direct(a[1], b[0], 200)
        r3 = self.direct(b[1], a[0], 200)  # the other order: the same conversation
        self.assertEqual(r2.json["conversation"]["id"], c["id"])
        self.assertEqual(r3.json["conversation"]["id"], c["id"])
        g = self.api.call("GET", "/api/conversations/" + c["id"], token=b[1])
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.json["conversation"]["id"], c["id"])

    def test_direct_create_errors(self):
        a, tok = self.user()
        self.assert_error(self.direct(tok, a), 400, "bad_request")           # yourself
        self.assert_error(self.direct(tok, "999999999"), 404, "not_found")    # no such user
        self.assert_error(self.direct(tok, "x.y"), 404, "not_found")
        r = self.api.call("POST", "/api/conversations", {"type": "group", "name": "g",
                                                         "member_ids": []}, token=tok)
        self.assert_error(r, 400, "bad_request")
        for body in ({"type": "direct"}, {"type": "direct", "peer_id": 5}, {"peer_id": a},
                     {"type": "chat", "peer_id": a}):
            r = self.api.call("POST", "/api/conversations", body, token=tok)
            self.assert_error(r, 400, "bad_request")
        r = self.api.call("POST", "/api/conversations", raw=b"{nope", token=tok)
        self.assert_error(r, 400, "bad_request")
        r = self.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": a})
        self.assert_error(r, 401, "unauthorized")

    def test_direct_create_concurrent(self):
        """Both users create their conversation at once, many times: one wins."""
        a, b = self.user(), self.user()
        out, lock = [], threading.Lock()

        def create(n):
            me, peer = (a, b) if n % 2 == 0 else (b, a)
            r = self.direct(me[1], peer[0])
            with lock:
                out.append((r.status, r.json["conversation"]["id"] if r.status < 300 else r))
        ts = [threading.Thread(target=create, args=(n,)) for n in range(10)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(sorted(s for s, _ in out), [200] * 9 + [201], out)
        self.assertEqual(len({c for _, c in out}), 1, out)

    def test_unicode_body_round_trip(self):
        (a, ta), (b, tb), cid = self.pair()
        text = "héllo 👋 世界 \"quoted\" \n new line"
        r = self.send(ta, cid, text)
        self.assertEqual(r.status, 201, r)
        r = self.page(tb, "sync", cid)
        self.assertEqual(r.json["messages"][0]["body"], text)

    # -- messages -----------------------------------------------------------

    def test_send_sync_history(self):
        (a, ta), (b, tb), cid = self.pair()
        seqs = []
        for i in range(7):
            r = self.send(ta if i % 2 == 0 else tb, cid, "m%d" % i)
            self.assertEqual(r.status, 201, r)
            m = r.json["message"]
            self.assertEqual(set(m), MSG_KEYS)
            self.assertEqual(m["body"], "m%d" % i)
            self.assertEqual(m["conversation_id"], cid)
            self.assertEqual(m["sender_id"], a if i % 2 == 0 else b)
            self.assertFalse(m["revoked"])
            seqs.append(m["seq"])
        self.assertEqual(seqs, list(range(1, 8)))
        # sync: oldest first, paging with has_more
        r = self.page(tb, "sync", cid, after_seq=0, limit=3)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([m["seq"] for m in r.json["messages"]], [1, 2, 3])
        self.assertTrue(r.json["has_more"])
        r = self.page(tb, "sync", cid, after_seq=3, limit=10)
        self.assertEqual([m["seq"] for m in r.json["messages"]], [4, 5, 6, 7])
        self.assertFalse(r.json["has_more"])
        r = self.page(tb, "sync", cid)
        self.assertEqual(len(r.json["messages"]), 7)
        # history: newest first
        r = self.page(ta, "history", cid, limit=3)
        self.assertEqual([m["seq"] for m in r.json["messages"]], [7, 6, 5])
        self.assertTrue(r.json["has_more"])
        r = self.page(ta, "history", cid, before_seq=5, limit=3)
        self.assertEqual([m["seq"] for m in r.json["messages"]], [4, 3, 2])
        self.assertTrue(r.json["has_more"])
        r = self.page(ta, "history", cid, before_seq=2)
        self.assertEqual([m["seq"] for m in r.json["messages"]], [1])
        self.assertFalse(r.json["has_more"])
        g = self.api.call("GET", "/api/conversations/" + cid, token=ta)
        self.assertEqual(g.json["conversation"]["last_seq"], 7)

    def test_idempotent_retry(self):
        (a, ta), _, cid = self.pair()
        cm = cmid()
        r1 = self.send(ta, cid, "once", cm)
        self.assertEqual(r1.status, 201, r1)
        for _ in range(2):
            r = self.send(ta, cid, "once again?", cm)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["message"], r1.json["message"])
        r = self.page(ta, "sync", cid)
        self.assertEqual(len(r.json["messages"]), 1)
        self.assertEqual(self.stack.sql(
            "SELECT COUNT(*) FROM messages WHERE conversation_id=%d" % int(cid)).strip(), "1")

    def test_non_member_and_unknown(self):
        _, _, cid = self.pair()
        _, tc = self.user()
        self.assert_error(self.send(tc, cid), 403, "forbidden")
        self.assert_error(self.page(tc, "sync", cid), 403, "forbidden")
        self.assert_error(self.page(tc, "history", cid), 403, "forbidden")
        self.assert_error(self.api.call("GET", "/api/conversations/" + cid, token=tc), 403,
                          "forbidden")
        r = self.api.call("POST", "/api/messages/read", {"conversation_id": cid, "seq": 1},
                          token=tc)
        self.assert_error(r, 403, "forbidden")
        self.assertNotIn(cid, self.conv_list(tc))
        ghost = "987654321"
        self.assert_error(self.send(tc, ghost), 404, "not_found")
        self.assert_error(self.page(tc, "sync", ghost), 404, "not_found")
        self.assert_error(self.page(tc, "history", ghost), 404, "not_found")
        self.assert_error(self.api.call("GET", "/api/conversations/" + ghost, token=tc), 404,
                          "not_found")
        self.assert_error(self.api.call("GET", "/api/conversations/abc", token=tc), 404)

    def test_bad_requests(self):
        (a, ta), _, cid = self.pair()
        ok = {"conversation_id": cid, "client_msg_id": cmid(), "type": "text", "body": "x"}
        bad = [
            {k: v for k, v in ok.items() if k != "client_msg_id"},
            {k: v for k, v in ok.items() if k != "body"},
            {k: v for k, v in ok.items() if k != "type"},
            {k: v for k, v in ok.items() if k != "conversation_id"},
            dict(ok, conversation_id=int(cid)),
            dict(ok, conversation_id="a.b"),
            dict(ok, body=5),
            dict(ok, body=None),
            dict(ok, body=""),
            dict(ok, body="x" * (TEXT_MAX + 1)),
            dict(ok, body="é" * (TEXT_MAX + 1)),
            dict(ok, type="image"),
            dict(ok, type="sticker"),
            dict(ok, client_msg_id=""),
            dict(ok, client_msg_id="a b"),
            dict(ok, client_msg_id="x" * 65),
            dict(ok, client_msg_id=7),
        ]
        for body in bad:
            r = self.api.call("POST", "/api/messages", body, token=ta)
            self.assert_error(r, 400, "bad_request")
        for raw in (b"", b"{", b"[1]", b'{"a":1,"a":2}', b"null"):
            r = self.api.call("POST", "/api/messages", raw=raw, token=ta)
            self.assert_error(r, 400, "bad_request")
        r = self.send(ta, cid, "é" * TEXT_MAX)  # exactly the limit, in characters
        self.assertEqual(r.status, 201, r)
        r = self.api.call("POST", "/api/messages", ok)
        self.assert_error(r, 401, "unauthorized")
        for q in ("", "conversation_id=", "conversation_id=x", "conversation_id=%s&limit=0" % cid,
                  "conversation_id=%s&limit=101" % cid, "conversation_id=%s&limit=abc" % cid,
                  "conversation_id=%s&after_seq=-1" % cid, "conversation_id=%s&limit=1.5" % cid):
            r = self.api.call("GET", "/api/messages/sync?" + q, token=ta)
            self.assert_error(r, 400, "bad_request")
        r = self.api.call("GET", "/api/messages/history?conversation_id=%s&before_seq=x" % cid,
                          token=ta)
        self.assert_error(r, 400, "bad_request")
        for body in ({"conversation_id": cid}, {"conversation_id": cid, "seq": "1"},
                     {"conversation_id": cid, "seq": -1}, {"seq": 1}):
            r = self.api.call("POST", "/api/messages/read", body, token=ta)
            self.assert_error(r, 400, "bad_request")
        r = self.api.call("GET", "/api/messages/sync?conversation_id=" + cid)
        self.assert_error(r, 401, "unauthorized")
        r = self.api.call("GET", "/api/conversations")
        self.assert_error(r, 401, "unauthorized")

    def test_unread_last_message_and_read(self):
        (a, ta), (b, tb), cid = self.pair()
        c = self.conv_list(tb)[cid]
        self.assertEqual(c["unread"], 0)
        self.assertIsNone(c["last_message"])
        for i in range(3):
            self.assertEqual(self.send(ta, cid, "hi %d" % i).status, 201)
        c = self.conv_list(tb)[cid]
        self.assertEqual(c["unread"], 3)
        self.assertEqual(c["last_message"]["body"], "hi 2")
        self.assertEqual(c["last_message"]["seq"], 3)
        self.assertEqual(c["last_seq"], 3)
        r = self.api.call("POST", "/api/messages/read", {"conversation_id": cid, "seq": 2},
                          token=tb)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.body, b"")
        self.assertEqual(self.conv_list(tb)[cid]["unread"], 1)
        # backwards is ignored, beyond last_seq is clamped
        self.assertEqual(self.api.call("POST", "/api/messages/read",
                                       {"conversation_id": cid, "seq": 1}, token=tb).status, 204)
        self.assertEqual(self.conv_list(tb)[cid]["unread"], 1)
        self.assertEqual(self.api.call("POST", "/api/messages/read",
                                       {"conversation_id": cid, "seq": 1000}, token=tb).status, 204)
        self.assertEqual(self.conv_list(tb)[cid]["unread"], 0)
        self.assertEqual(self.send(ta, cid, "one more").status, 201)
        self.assertEqual(self.conv_list(tb)[cid]["unread"], 1)
        # newest activity first
        _, _, cid2 = None, None, self.direct(tb, self.user()[0], 201).json["conversation"]["id"]
        self.assertEqual(list(self.conv_list(tb))[0], cid2)
        self.send(ta, cid, "bump")
        self.assertEqual(list(self.conv_list(tb))[0], cid)

    def test_concurrent_sends_dense_seqs(self):
        (a, ta), (b, tb), cid = self.pair()
        per_thread, threads = 25, 8
        results, errors = [], []
        lock = threading.Lock()

        def worker(n):
            tok = ta if n % 2 == 0 else tb
            for i in range(per_thread):
                r = self.send(tok, cid, "t%d-%d" % (n, i), "t%d-%d-%s" % (n, i, cid))
                with lock:
                    if r.status == 201:
                        results.append(r.json["message"]["seq"])
                    else:
                        errors.append(r)
        ts = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])
        total = per_thread * threads
        self.assertEqual(sorted(results), list(range(1, total + 1)))
        got = []
        after = 0
        while True:
            r = self.page(ta, "sync", cid, after_seq=after, limit=100)
            got += [m["seq"] for m in r.json["messages"]]
            if not r.json["has_more"]:
                break
            after = got[-1]
        self.assertEqual(got, list(range(1, total + 1)))
        # both msg processes served some of it
        stats = self.stack.micro("STATS", "msg")
        self.assertEqual(len(stats), 2)
        served = [sum(e.get("num_requests", 0) for e in s.get("endpoints", [])
                      if e.get("name") == "send") for s in stats]
        self.assertTrue(all(n > 0 for n in served), served)

    def test_push_to_both_members(self):
        (a, ta), (b, tb), cid = self.pair()
        with self.stack.nats("ops") as nc:
            sa = nc.subscribe("im.user.%s.push" % a)
            sb = nc.subscribe("im.user.%s.push" % b)
            nc.flush()
            cm = cmid()
            r = self.send(ta, cid, "pushed", cm)
            self.assertEqual(r.status, 201, r)
            for sid in (sa, sb):
                m = nc.next_msg(sid, timeout=5)
                self.assertEqual(m.headers.get("Natter-Type"), "natter.Push", m)
                self.assertIn(b"message", m.data)
                self.assertIn(cm.encode(), m.data)
                self.assertIn(b"pushed", m.data)
            r = self.api.call("POST", "/api/messages/read", {"conversation_id": cid, "seq": 1},
                              token=tb)
            self.assertEqual(r.status, 204, r)
            m = nc.next_msg(sa, timeout=5)  # the reader's peer gets a receipt
            self.assertEqual(m.headers.get("Natter-Type"), "natter.Push", m)
            self.assertIn(b"read", m.data)


    def test_bus_cid_must_match_subject(self):
        """An actor address and its payload must agree (raw bus, as an edge)."""
        (a, ta), _, cid = self.pair()
        (_, _), _, other = self.pair()

        def conv_get_req(c):  # natter.ConvGetReq {conversation_id = 1}
            b = c.encode()
            return b"\x0a" + bytes([len(b)]) + b

        with self.stack.nats("edge") as nc:
            h = {"Natter-Uid": a, "Natter-Type": "natter.ConvGetReq"}
            m = nc.request("im.conv.%s.get" % cid, conv_get_req(other), headers=h)
            self.assertEqual(m.headers.get("Natter-Error"), "bad_request", m)
            m = nc.request("im.conv.%s.get" % cid, conv_get_req(cid), headers=h)
            self.assertIsNone(m.headers.get("Natter-Error") if m.headers else None, m)
            self.assertIn(cid.encode(), m.data)
            m = nc.request("im.conv.%s.get" % cid, conv_get_req(cid),
                           headers={"Natter-Type": "natter.ConvGetReq"})  # no caller
            self.assertEqual(m.headers.get("Natter-Error"), "unauthorized", m)

if __name__ == "__main__":
    unittest.main()
