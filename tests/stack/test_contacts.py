"""test_contacts.py - contacts (issue 5) through real roles, against API.md
("Users and contacts", WebSocket `contact`) and docs/contacts.md.

One stack for the class: nats-server, redis, mariadb, two auth processes
(the contact endpoints live in the auth pool; two processes race on the
same pairs), one edge-http and two edge-ws.  The test plays only clients:
REST for every contact operation, WebSockets for the events each side sees,
with the users of a pair on different edges and a second session of the
same user on the other edge.

What must hold:
  lifecycle   apply -> request event to both; accept -> accepted to both,
              contacts on both sides; delete -> removed to both; reject
  rules       no request to oneself (400); a second apply returns the
              pending one (200, no new event); applying back accepts theirs;
              only the target handles (403); unknown ids (404); already
              contacts (409); handled the other way (409)
  isolation   a third user sees none of the pair's requests or events and
              cannot change them
  failures    missing/invalid/expired/revoked tokens (401), malformed JSON
              and wrong types (400), oversized bodies (413), wrong method
  races       both sides apply at once from two auth processes: one
              friendship, nothing left pending
"""

import queue
import secrets
import threading
import time

from harness import Api, StackTestCase, unique_name
from test_auth import sign_es256
from wsclient import WsClient, WsReader

REQUEST_KEYS = {"id", "from_id", "to_id", "message", "status", "created_at"}
USER_KEYS = {"id", "username", "display_name", "avatar_url", "bio", "created_at"}
MAX_BODY = 4096          # harness default NATTER_HTTP_MAX_BODY
QUIET_S = 0.7            # how long "no event arrives" is watched for


class ContactsTest(StackTestCase):
    maxDiff = None

    @classmethod
    def start_roles(cls):
        cls.auths = [cls.stack.start_role("auth"), cls.stack.start_role("auth")]
        http = cls.stack.start_role("edge-http", {"NATTER_NATS_REQUEST_TIMEOUT_MS": "5000"})
        cls.api = Api(http.url)
        cls.e1 = cls.stack.start_role("edge-ws")
        cls.e2 = cls.stack.start_role("edge-ws")

    # -- clients ------------------------------------------------------------

    def user(self, platform="web"):
        """A fresh user: (id, access token)."""
        name = unique_name("k")
        r = self.api.register(name)
        self.assertEqual(r.status, 201, r)
        uid = r.json["user"]["id"]
        self.names[uid] = name
        return uid, self.login(name, platform)

    def setUp(self):
        self.names = {}

    def login(self, name, platform):
        r = self.api.login(name, platform=platform, device_id="dev-" + platform)
        self.assertEqual(r.status, 200, r)
        return r.json["access_token"]

    def second_session(self, uid, platform="mobile"):
        """Another session of uid (another platform: nothing is replaced)."""
        return self.login(self.names[uid], platform)

    def open(self, edge, token):
        """A socket past hello with its reader running; the ping round trip
        means the session, and its push subscription, exist."""
        ws = WsClient.connect("127.0.0.1", edge.port, "/ws?token=" + token)
        hello = ws.recv_json()
        self.assertEqual(hello["op"], "hello", hello)
        rd = WsReader(ws)
        self.addCleanup(rd.stop)
        rid = "p" + secrets.token_hex(4)
        ws.send_json({"op": "ping", "rid": rid})
        self.assertTrue(rd.wait(lambda fs: any(f.get("rid") == rid for f in fs), 5), rd.frames)
        return rd

    def call(self, method, path, token, body=None, raw=None):
        return self.api.call(method, path, body=body, raw=raw, token=token)

    def apply(self, token, uid, message=None, status=None):
        body = {"user_id": uid}
        if message is not None:
            body["message"] = message
        r = self.call("POST", "/api/contacts/apply", token, body)
        if status:
            self.assertEqual(r.status, status, r)
        return r

    def handle(self, token, rid, action, status=None):
        r = self.call("POST", "/api/contacts/handle", token, {"request_id": rid, "action": action})
        if status:
            self.assertEqual(r.status, status, r)
        return r

    def requests(self, token):
        r = self.call("GET", "/api/contacts/requests", token)
        self.assertEqual(r.status, 200, r)
        for q in r.json["requests"]:
            self.assertEqual(set(q), REQUEST_KEYS, q)
        return r.json["requests"]

    def contacts(self, token):
        r = self.call("GET", "/api/contacts", token)
        self.assertEqual(r.status, 200, r)
        for c in r.json["contacts"]:
            self.assertEqual(set(c), {"user", "since"}, c)
            self.assertEqual(set(c["user"]), USER_KEYS, c)
        return r.json["contacts"]

    def contact_ids(self, token):
        return sorted(c["user"]["id"] for c in self.contacts(token))

    def delete(self, token, uid, status=None):
        r = self.call("DELETE", "/api/contacts/" + uid, token)
        if status:
            self.assertEqual(r.status, status, r)
        return r

    def assert_error(self, r, status, code=None):
        self.assertEqual(r.status, status, r)
        err = r.json["error"]
        self.assertIsInstance(err["message"], str)
        if code:
            self.assertEqual(err["code"], code, r)

    # -- events -------------------------------------------------------------

    def event(self, rd, event, user_id, request_id=None, timeout=5.0):
        """Wait for the contact event (event, user_id[, request id]) on rd."""
        def match(fs):
            for f in fs:
                if (f.get("op") == "contact" and f.get("event") == event
                        and f.get("user_id") == user_id
                        and (request_id is None or f.get("request", {}).get("id") == request_id)):
                    return f
            return None
        f = rd.wait(match, timeout)
        self.assertIsNotNone(f, "no %s event about %s on %r (reader: %r)"
                             % (event, user_id, rd.of("contact"), rd.error))
        if event == "removed":
            self.assertEqual(set(f), {"op", "event", "user_id"}, f)
        else:
            self.assertEqual(set(f), {"op", "event", "user_id", "request"}, f)
            self.assertEqual(set(f["request"]), REQUEST_KEYS, f)
        return f

    def quiet(self, *readers):
        """Nothing (more) about contacts arrives on these sockets: the counts
        now are the counts after QUIET_S."""
        before = [len(rd.of("contact")) for rd in readers]
        time.sleep(QUIET_S)
        self.assertEqual([len(rd.of("contact")) for rd in readers], before,
                         [rd.of("contact") for rd in readers])

    # -- lifecycle ----------------------------------------------------------

    def test_lifecycle_across_edges(self):
        a, ta = self.user()
        b, tb = self.user()
        ta2 = self.second_session(a)
        ra, ra2, rb = self.open(self.e1, ta), self.open(self.e2, ta2), self.open(self.e2, tb)

        # apply: the target hears of it at once, and so do A's own sessions
        r = self.apply(ta, b, "hi, it's A \u00e9\U0001F44B", 201)
        q = r.json["request"]
        self.assertEqual(set(q), REQUEST_KEYS, q)
        self.assertEqual((q["from_id"], q["to_id"], q["status"]), (a, b, "pending"))
        self.assertEqual(q["message"], "hi, it's A \u00e9\U0001F44B")
        self.assertIsInstance(q["created_at"], int)
        self.assertLess(abs(q["created_at"] - time.time() * 1000), 60000)
        ev = self.event(rb, "request", a, q["id"])
        self.assertEqual(ev["request"], q)
        self.event(ra, "request", b, q["id"])
        self.event(ra2, "request", b, q["id"])

        # both see it pending: incoming for B, outgoing for A
        self.assertEqual(self.requests(tb), [q])
        self.assertEqual(self.requests(ta), [q])
        self.assertEqual(self.contacts(ta), [])

        # accept: both sides told, both lists agree
        r = self.handle(tb, q["id"], "accept", 200)
        acc = r.json["request"]
        self.assertEqual(acc, dict(q, status="accepted"))
        self.event(rb, "accepted", a, q["id"])
        self.assertEqual(self.event(ra, "accepted", b, q["id"])["request"], acc)
        self.event(ra2, "accepted", b, q["id"])
        self.assertEqual(self.requests(ta), [])
        self.assertEqual(self.requests(tb), [])
        ca, cb = self.contacts(ta), self.contacts(tb)
        self.assertEqual([c["user"]["id"] for c in ca], [b])
        self.assertEqual([c["user"]["id"] for c in cb], [a])
        self.assertEqual(ca[0]["since"], cb[0]["since"])
        self.assertLess(abs(ca[0]["since"] - time.time() * 1000), 60000)

        # delete: the other side is told
        self.delete(ta, b, 204)
        self.event(rb, "removed", a)
        self.event(ra, "removed", b)
        self.event(ra2, "removed", b)
        self.assertEqual(self.contacts(ta), [])
        self.assertEqual(self.contacts(tb), [])

        # and again, the other way round, rejected this time
        r = self.apply(tb, a, status=201)
        q2 = r.json["request"]
        self.assertEqual((q2["from_id"], q2["to_id"], q2["message"]), (b, a, ""))
        self.assertNotEqual(q2["id"], q["id"])
        self.event(ra, "request", b, q2["id"])
        r = self.handle(ta, q2["id"], "reject", 200)
        self.assertEqual(r.json["request"]["status"], "rejected")
        self.event(rb, "rejected", a, q2["id"])
        self.event(ra2, "rejected", b, q2["id"])
        self.assertEqual(self.requests(ta), [])
        self.assertEqual(self.requests(tb), [])
        self.assertEqual(self.contacts(tb), [])
        # a rejected request may be followed by a new one
        self.apply(tb, a, status=201)

    def test_applying_back_accepts(self):
        a, ta = self.user()
        b, tb = self.user()
        ra, rb = self.open(self.e1, ta), self.open(self.e2, tb)
        q = self.apply(ta, b, "first", 201).json["request"]
        self.event(rb, "request", a, q["id"])
        r = self.apply(tb, a, "me too", 200)
        self.assertEqual(r.json["request"], dict(q, status="accepted"))
        self.event(ra, "accepted", b, q["id"])
        self.event(rb, "accepted", a, q["id"])
        self.assertEqual(self.contact_ids(ta), [b])
        self.assertEqual(self.contact_ids(tb), [a])
        self.assertEqual(self.requests(ta), [])
        # already contacts: both ways
        self.assert_error(self.apply(ta, b), 409, "conflict")
        self.assert_error(self.apply(tb, a), 409, "conflict")

    def test_second_apply_returns_the_pending_one(self):
        a, ta = self.user()
        b, tb = self.user()
        rb = self.open(self.e2, tb)
        q = self.apply(ta, b, "one", 201).json["request"]
        self.event(rb, "request", a, q["id"])
        r = self.apply(ta, b, "two", 200)
        self.assertEqual(r.json["request"], q)     # the first, message and all
        self.quiet(rb)                             # nothing changed: no event
        self.assertEqual(len(rb.of("contact")), 1, rb.of("contact"))
        self.assertEqual(self.requests(tb), [q])

    def test_apply_errors(self):
        a, ta = self.user()
        self.assert_error(self.apply(ta, a), 400, "bad_request")            # yourself
        self.assert_error(self.apply(ta, "999999999"), 404, "not_found")    # no such user
        for odd in ("x.y", "007", "-1", "", "1" * 25, "12 3"):
            self.assert_error(self.apply(ta, odd), 404, "not_found")
        b, tb = self.user()
        self.assert_error(self.apply(ta, b, "x" * 201), 400, "bad_request")
        self.assert_error(self.apply(ta, b, "bell \u0007"), 400, "bad_request")
        self.assertEqual(self.requests(tb), [])
        # 200 characters of 4 bytes each are fine: characters, not bytes
        q = self.apply(ta, b, "\U0001F600" * 200, 201).json["request"]
        self.assertEqual(q["message"], "\U0001F600" * 200)
        self.apply(ta, b, "line one\nline\ttwo", 200)

    # -- handle -------------------------------------------------------------

    def test_only_the_target_handles(self):
        a, ta = self.user()
        b, tb = self.user()
        c, tc = self.user()
        rb = self.open(self.e1, tb)
        q = self.apply(ta, b, status=201).json["request"]
        self.assert_error(self.handle(ta, q["id"], "accept"), 403, "forbidden")  # the sender
        self.assert_error(self.handle(tc, q["id"], "accept"), 403, "forbidden")  # a stranger
        self.assert_error(self.handle(tc, q["id"], "reject"), 403, "forbidden")
        self.assertEqual(self.requests(tb), [q])   # still pending
        self.assertEqual(self.contact_ids(ta), [])
        self.event(rb, "request", a, q["id"])
        self.quiet(rb)
        self.assertEqual(len(rb.of("contact")), 1, rb.of("contact"))

    def test_handle_errors_and_retries(self):
        a, ta = self.user()
        b, tb = self.user()
        ra = self.open(self.e1, ta)
        for rid in ("999999999", "abc", "0", "", "1" * 25):
            self.assert_error(self.handle(tb, rid, "accept"), 404, "not_found")
        q = self.apply(ta, b, status=201).json["request"]
        for action in ("ACCEPT", "ok", "", "delete"):
            self.assert_error(self.handle(tb, q["id"], action), 400, "bad_request")
        self.handle(tb, q["id"], "accept", 200)
        self.event(ra, "accepted", b, q["id"])
        # a retried accept answers the same, and tells nobody twice
        r = self.handle(tb, q["id"], "accept", 200)
        self.assertEqual(r.json["request"]["status"], "accepted")
        self.quiet(ra)
        self.assertEqual([f["event"] for f in ra.of("contact")], ["request", "accepted"])
        # the other way now is a conflict
        self.assert_error(self.handle(tb, q["id"], "reject"), 409, "conflict")
        self.assertEqual(self.contact_ids(ta), [b])

    # -- delete -------------------------------------------------------------

    def test_delete_from_either_side(self):
        a, ta = self.user()
        b, tb = self.user()
        ra = self.open(self.e2, ta)
        q = self.apply(ta, b, status=201).json["request"]
        self.handle(tb, q["id"], "accept", 200)
        self.delete(tb, a, 204)                     # the target deletes
        self.event(ra, "removed", b)
        self.assertEqual(self.contact_ids(ta), [])
        self.assert_error(self.delete(ta, b), 404, "not_found")   # gone both ways
        self.assert_error(self.delete(tb, a), 404, "not_found")

    def test_delete_errors(self):
        a, ta = self.user()
        b, tb = self.user()
        self.assert_error(self.delete(ta, b), 404, "not_found")            # not a contact
        self.assert_error(self.delete(ta, a), 404, "not_found")            # yourself
        for odd in ("999999999", "abc", "007"):
            self.assert_error(self.delete(ta, odd), 404, "not_found")
        q = self.apply(ta, b, status=201).json["request"]
        self.assert_error(self.delete(ta, b), 404, "not_found")            # only pending
        self.assertEqual(self.requests(tb), [q])

    # -- other users' data --------------------------------------------------

    def test_strangers_see_and_change_nothing(self):
        a, ta = self.user()
        b, tb = self.user()
        c, tc = self.user()
        rc = self.open(self.e1, tc)
        rb = self.open(self.e2, tb)
        q = self.apply(ta, b, "private", 201).json["request"]
        self.event(rb, "request", a, q["id"])
        self.assertEqual(self.requests(tc), [])
        self.assert_error(self.handle(tc, q["id"], "accept"), 403, "forbidden")
        self.handle(tb, q["id"], "accept", 200)
        self.event(rb, "accepted", a, q["id"])
        self.assertEqual(self.contacts(tc), [])
        self.assert_error(self.delete(tc, a), 404, "not_found")   # not C's contact
        self.assertEqual(self.contact_ids(ta), [b])               # A and B untouched
        self.delete(ta, b, 204)
        self.event(rb, "removed", a)
        self.quiet(rc)
        self.assertEqual(rc.of("contact"), [])

    # -- auth and malformed requests ----------------------------------------

    ROUTES = [("GET", "/api/contacts", None),
              ("POST", "/api/contacts/apply", {"user_id": "1"}),
              ("GET", "/api/contacts/requests", None),
              ("POST", "/api/contacts/handle", {"request_id": "1", "action": "accept"}),
              ("DELETE", "/api/contacts/1", None)]

    def test_needs_a_valid_token(self):
        a, ta = self.user()
        now = int(time.time())
        expired = sign_es256(self.stack.private_key, {"alg": "ES256", "typ": "JWT"},
                             {"iss": "natter", "sub": a, "sid": "s" + secrets.token_hex(6),
                              "iat": now - 100, "exp": now - 10})
        name = unique_name("k")
        self.assertEqual(self.api.register(name).status, 201)
        revoked = self.login(name, "desktop")
        self.assertEqual(self.call("POST", "/api/auth/logout", revoked).status, 204)
        for method, path, body in self.ROUTES:
            for tok in (None, "garbage", ta + "x", expired, revoked):
                r = self.call(method, path, tok, body)
                self.assert_error(r, 401, "unauthorized")
            r = self.api.call(method, path, body=body, headers={"Authorization": "Basic " + ta})
            self.assert_error(r, 401, "unauthorized")

    def test_malformed_bodies(self):
        a, ta = self.user()
        b, tb = self.user()
        for path in ("/api/contacts/apply", "/api/contacts/handle"):
            for raw in (b"", b"{", b"[]", b"\"x\"", b"null", b"{\"user_id\":\"1\"} x",
                        b"{\"a\":1,\"a\":2}", b"\xff\xfe"):
                self.assert_error(self.call("POST", path, ta, raw=raw), 400, "bad_request")
        for body in ({}, {"user_id": 5}, {"user_id": None}, {"user_id": ["1"]},
                     {"user_id": b, "message": 7}, {"user_id": b, "message": None},
                     {"user_id": b, "message": {"x": 1}}, {"userid": b}):
            self.assert_error(self.call("POST", "/api/contacts/apply", ta, body), 400,
                              "bad_request")
        for body in ({}, {"action": "accept"}, {"request_id": 1, "action": "accept"},
                     {"request_id": None, "action": "accept"}):
            self.assert_error(self.call("POST", "/api/contacts/handle", tb, body), 400,
                              "bad_request")
        # A readable request_id that is not one of b's requests: authorization
        # before validation (API.md) makes that 404 whatever else is wrong.
        for body in ({"request_id": "1"}, {"request_id": "1", "action": True}):
            self.assert_error(self.call("POST", "/api/contacts/handle", tb, body), 404,
                              "not_found")
        self.assertEqual(self.requests(tb), [])     # nothing slipped through
        # unknown fields are ignored (API.md: forward compatibility)
        self.assertEqual(self.call("POST", "/api/contacts/apply", ta,
                                   {"user_id": b, "note": "x"}).status, 201)

    def test_body_too_large(self):
        a, ta = self.user()
        b, tb = self.user()
        big = {"user_id": b, "message": "x" * MAX_BODY}
        self.assert_error(self.call("POST", "/api/contacts/apply", ta, big), 413, "too_large")
        big = {"request_id": "1", "action": "accept", "pad": "x" * MAX_BODY}
        self.assert_error(self.call("POST", "/api/contacts/handle", ta, big), 413, "too_large")
        self.assertEqual(self.requests(tb), [])

    def test_wrong_methods(self):
        a, ta = self.user()
        for method, path in (("GET", "/api/contacts/apply"), ("PUT", "/api/contacts"),
                             ("POST", "/api/contacts/requests"), ("GET", "/api/contacts/handle"),
                             ("POST", "/api/contacts/12")):
            r = self.call(method, path, ta, {} if method != "GET" else None)
            self.assert_error(r, 405, "bad_request")
            self.assertIn("allow", r.headers, r)
        self.assert_error(self.call("DELETE", "/api/contacts/1/2", ta), 404, "not_found")

    # -- races --------------------------------------------------------------

    def test_both_apply_at_once(self):
        """Each pair applies both ways at the same moment, through two auth
        processes: always one friendship and nothing left pending."""
        pairs = [(self.user(), self.user()) for _ in range(6)]
        out, lock = [], threading.Lock()
        start = threading.Barrier(len(pairs) * 2)

        def go(me, peer):
            start.wait(10)
            r = self.apply(me[1], peer[0])
            with lock:
                out.append(r)
        ts = [threading.Thread(target=go, args=args) for (x, y) in pairs for args in ((x, y), (y, x))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        self.assertEqual(sorted(r.status for r in out), [200] * len(pairs) + [201] * len(pairs),
                         out)
        for x, y in pairs:
            self.assertEqual(self.contact_ids(x[1]), [y[0]])
            self.assertEqual(self.contact_ids(y[1]), [x[0]])
            self.assertEqual(self.requests(x[1]), [])
            self.assertEqual(self.requests(y[1]), [])

    def test_same_apply_at_once(self):
        """Five identical applies at once: one request, the rest return it."""
        a, ta = self.user()
        b, tb = self.user()
        got = queue.Queue()
        ts = [threading.Thread(target=lambda: got.put(self.apply(ta, b))) for _ in range(5)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        rs = [got.get_nowait() for _ in range(5)]
        self.assertEqual(sorted(r.status for r in rs), [200] * 4 + [201], rs)
        self.assertEqual(len({r.json["request"]["id"] for r in rs}), 1, rs)
        self.assertEqual(len(self.requests(tb)), 1)
