"""test_presence.py - presence and typing (issue 5) through real roles,
against API.md (GET /api/presence, WebSocket `presence` and `typing`) and
docs/presence.md.

One stack for the class: nats-server, redis, mariadb, auth (accounts and
contacts), msg (typing goes through the conversation actor), presence,
edge-http and two edge-ws, with a short TTL, debounce and heartbeat so
time can pass for real.  The test plays only clients: REST to register,
become contacts, open conversations and ask presence; WebSockets for the
events.  Users of a pair sit on different edges.

What must hold:
  events      a user's first session announces online to the contacts'
              sessions, the end of the last one offline (with last_seen),
              after the debounce; nothing to non-contacts; nothing for a
              second session or a reconnect within the debounce
  visibility  GET /api/presence shows online and last_seen of contacts
              and of oneself; anyone else reads online false, no last_seen
  failures    an edge killed with SIGKILL: its users go offline within the
              TTL and contacts hear it; Redis restarted (data lost):
              presence heals within a heartbeat, no events are sent for
              it, last_seen survives (MariaDB)
  typing      relayed to the other members only, never to non-members or
              the typer, at most once per conversation per 2 s per session
  REST        401 without a valid token, 400 for a missing, malformed or
              too long list, 405 for another method
"""

import secrets
import signal
import time

from harness import Api, StackTestCase, unique_name
from wsclient import WsClient, WsReader

TTL_S = 3
DEBOUNCE_MS = 600
HEARTBEAT_S = 1
PRESENCE_ENV = {"NATTER_PRESENCE_TTL_S": str(TTL_S),
                "NATTER_PRESENCE_DEBOUNCE_MS": str(DEBOUNCE_MS),
                "NATTER_PRESENCE_SWEEP_MS": "100"}
EDGE_ENV = {"NATTER_WS_PRESENCE_HEARTBEAT_S": str(HEARTBEAT_S)}
EVENT_S = 5.0                              # an event that must come
QUIET_S = DEBOUNCE_MS / 1000.0 + 1.0       # how long "nothing arrives" is watched
TYPING_GAP_S = 2.0
ENTRY_KEYS = {"user_id", "online", "last_seen"}


class PresenceTest(StackTestCase):
    maxDiff = None

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth")
        cls.stack.start_role("msg")
        cls.stack.start_role("presence", PRESENCE_ENV)
        cls.api = Api(cls.stack.start_role("edge-http").url)
        cls.e1 = cls.stack.start_role("edge-ws", EDGE_ENV)
        cls.e2 = cls.stack.start_role("edge-ws", EDGE_ENV)

    # -- clients ------------------------------------------------------------

    def setUp(self):
        self.names = {}

    def user(self, platform="web"):
        """A fresh user: (id, access token)."""
        name = unique_name("p")
        r = self.api.register(name)
        self.assertEqual(r.status, 201, r)
        uid = r.json["user"]["id"]
        self.names[uid] = name
        return uid, self.login(uid, platform)

    def login(self, uid, platform):
        r = self.api.login(self.names[uid], platform=platform, device_id="dev-" + platform)
        self.assertEqual(r.status, 200, r)
        return r.json["access_token"]

    def befriend(self, a, ta, b, tb):
        r = self.api.call("POST", "/api/contacts/apply", {"user_id": b}, token=ta)
        self.assertEqual(r.status, 201, r)
        r = self.api.call("POST", "/api/contacts/handle",
                          {"request_id": r.json["request"]["id"], "action": "accept"}, token=tb)
        self.assertEqual(r.status, 200, r)

    def open(self, edge, token):
        """A socket past hello with its reader running; the ping round trip
        means the session and its push subscription exist."""
        ws = WsClient.connect("127.0.0.1", edge.port, "/ws?token=" + token)
        hello = ws.recv_json()
        self.assertEqual(hello["op"], "hello", hello)
        rd = WsReader(ws)
        self.addCleanup(rd.stop)
        self.ping(rd)
        return rd

    def ping(self, rd):
        rid = "p" + secrets.token_hex(4)
        rd.ws.send_json({"op": "ping", "rid": rid})
        self.assertTrue(rd.wait(lambda fs: any(f.get("rid") == rid for f in fs), 5), rd.frames)

    def presence(self, token, ids, status=200):
        r = self.api.call("GET", "/api/presence?user_ids=" + ",".join(ids), token=token)
        self.assertEqual(r.status, status, r)
        if status != 200:
            return r
        entries = r.json["presence"]
        for e in entries:
            self.assertTrue(set(e) <= ENTRY_KEYS and {"user_id", "online"} <= set(e), e)
        return {e["user_id"]: e for e in entries}

    def wait_presence(self, token, uid, online, timeout=EVENT_S):
        """Ask until uid reads online (503 while a store reconnects is
        retried too)."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.api.call("GET", "/api/presence?user_ids=" + uid, token=token)
            e = r.json["presence"][0] if r.status == 200 else None
            if (e and e["online"] == online) or time.monotonic() > deadline:
                self.assertEqual(r.status, 200, r)
                self.assertEqual(e["online"], online, e)
                return e
            time.sleep(0.1)

    # -- events -------------------------------------------------------------

    def event(self, rd, uid, online, timeout=EVENT_S):
        """Wait for {"op":"presence","user_id":uid,"online":online} on rd."""
        def match(fs):
            return next((f for f in fs if f.get("op") == "presence" and f.get("user_id") == uid
                         and f.get("online") == online), None)
        f = rd.wait(match, timeout)
        self.assertIsNotNone(f, "no presence %s of %s on %r" % (online, uid, rd.of("presence")))
        self.assertEqual(set(f), {"op", "user_id", "online", "last_seen"}, f)
        self.assertIsInstance(f["last_seen"], int)
        self.assertLess(abs(f["last_seen"] - time.time() * 1000), 60000, f)
        return f

    def about(self, rd, uid, op="presence"):
        return [f for f in rd.of(op) if f.get("user_id") == uid]

    def quiet(self, rd, uid, seconds=QUIET_S, op="presence"):
        """Nothing (more) of op about uid arrives on rd for seconds."""
        before = len(self.about(rd, uid, op))
        time.sleep(seconds)
        self.assertEqual(self.about(rd, uid, op)[before:], [])

    def pair(self):
        """A and B contacts, C a stranger; B and C watching on e1."""
        a, ta = self.user()
        b, tb = self.user()
        c, tc = self.user()
        self.befriend(a, ta, b, tb)
        return (a, ta), (b, tb, self.open(self.e1, tb)), (c, tc, self.open(self.e1, tc))

    # -- presence -----------------------------------------------------------

    def test_online_and_offline_reach_contacts_only(self):
        (a, ta), (b, tb, rb), (c, tc, rc) = self.pair()
        self.assertEqual(self.presence(tb, [a])[a], {"user_id": a, "online": False})
        ra = self.open(self.e2, ta)
        on = self.event(rb, a, True)
        e = self.presence(tb, [a, b, c])
        self.assertEqual(e[a]["online"], True)
        self.assertIsInstance(e[a]["last_seen"], int)
        self.assertEqual(e[b]["online"], True, "one sees oneself")
        self.assertEqual(e[c], {"user_id": c, "online": False}, "a stranger reads offline")
        self.assertEqual(self.presence(tc, [a])[a], {"user_id": a, "online": False})

        t0 = time.time()
        ra.stop()
        off = self.event(rb, a, False)
        self.assertGreaterEqual(time.time() - t0, DEBOUNCE_MS / 1000.0 - 0.1, "debounced")
        self.assertGreaterEqual(off["last_seen"], on["last_seen"])
        self.assertEqual(len(self.about(rb, a)), 2, rb.of("presence"))
        self.assertEqual(self.about(rc, a), [], "non-contacts hear nothing")
        e = self.presence(tb, [a])[a]
        self.assertEqual(e, {"user_id": a, "online": False, "last_seen": off["last_seen"]})
        self.assertEqual(self.presence(tc, [a])[a], {"user_id": a, "online": False})
        stored = self.stack.sql("SELECT last_seen FROM user_presence WHERE user_id = %s" % a)
        self.assertEqual(int(stored.strip()), off["last_seen"], "last_seen is durable")

    def test_other_sessions_and_quick_reconnects_are_not_news(self):
        (a, ta), (b, tb, rb), _ = self.pair()
        ra = self.open(self.e2, ta)
        self.event(rb, a, True)
        ra2 = self.open(self.e1, self.login(a, "mobile"))
        ra3 = self.open(self.e2, ta)        # a second socket of the same session
        ra.stop()
        ra3.stop()
        self.quiet(rb, a)
        self.assertEqual(self.presence(tb, [a])[a]["online"], True)
        # the last session drops and another comes within the debounce
        t_desk = self.login(a, "desktop")
        ra2.stop()
        ra4 = self.open(self.e2, t_desk)
        self.quiet(rb, a)
        self.assertEqual(len(self.about(rb, a)), 1, rb.of("presence"))
        self.assertEqual(self.presence(tb, [a])[a]["online"], True)
        ra4.stop()
        self.event(rb, a, False)

    def test_contacts_of_a_killed_edge_hear_offline_within_ttl(self):
        (a, ta), (b, tb, rb), (c, tc, rc) = self.pair()
        e3 = self.stack.start_role("edge-ws", EDGE_ENV)
        self.open(e3, ta)
        self.event(rb, a, True)
        time.sleep(HEARTBEAT_S + 0.5)        # at least one heartbeat from e3
        t0 = time.monotonic()
        e3.kill(signal.SIGKILL)
        e3.wait(5)
        self.event(rb, a, False, timeout=2 * TTL_S + 2)
        self.assertLess(time.monotonic() - t0, TTL_S + 1.5, "offline within the TTL")
        self.assertEqual(self.presence(tb, [a])[a]["online"], False)
        self.assertEqual(self.about(rc, a), [])

    def test_redis_restart_heals_quietly(self):
        (a, ta), (b, tb, rb), _ = self.pair()
        d, td = self.user()
        self.befriend(d, td, b, tb)
        rd = self.open(self.e1, td)
        self.event(rb, d, True)
        rd.stop()
        seen = self.event(rb, d, False)["last_seen"]
        self.open(self.e2, ta)
        self.event(rb, a, True)
        before = len(rb.of("presence"))

        self.stack.restart_redis()
        self.wait_presence(tb, a, True, timeout=HEARTBEAT_S + 3)
        self.assertEqual(self.presence(tb, [d])[d],
                         {"user_id": d, "online": False, "last_seen": seen},
                         "last_seen comes from MariaDB")
        time.sleep(TTL_S + 0.5)              # past the quiet window: nothing was flapped
        self.assertEqual(rb.of("presence")[before:], [])
        self.assertEqual(self.presence(tb, [a, b])[a]["online"], True)

    # -- typing -------------------------------------------------------------

    def direct(self, ta, peer):
        r = self.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": peer},
                          token=ta)
        self.assertIn(r.status, (200, 201), r)
        return r.json["conversation"]["id"]

    def test_typing_reaches_the_other_members_only_and_is_rate_limited(self):
        a, ta = self.user()
        b, tb = self.user()
        c, tc = self.user()
        cid = self.direct(ta, b)
        ra, rb = self.open(self.e1, ta), self.open(self.e2, tb)
        ra2 = self.open(self.e2, self.login(a, "mobile"))
        rc = self.open(self.e1, tc)

        def typing_of(rd, who):
            return [f for f in rd.of("typing") if f.get("user_id") == who]

        t0 = time.monotonic()
        for _ in range(5):
            ra.ws.send_json({"op": "typing", "conversation_id": cid})
        f = rb.wait(lambda fs: next((x for x in fs if x.get("op") == "typing"), None), EVENT_S)
        self.assertEqual(f, {"op": "typing", "conversation_id": cid, "user_id": a})
        time.sleep(max(0.0, TYPING_GAP_S - 0.3 - (time.monotonic() - t0)))
        self.assertEqual(len(typing_of(rb, a)), 1, "one relay per 2 s")
        self.assertEqual(typing_of(ra2, a), [], "not to the typer's other sessions")
        self.assertEqual(rc.of("typing"), [], "not to non-members")

        time.sleep(0.5)                      # past the gap: the next one goes
        ra.ws.send_json({"op": "typing", "conversation_id": cid})
        self.assertTrue(rb.wait(lambda fs: len([x for x in fs if x.get("op") == "typing"]) == 2,
                                EVENT_S), rb.of("typing"))
        # the other session of A has a limiter of its own
        ra2.ws.send_json({"op": "typing", "conversation_id": cid})
        self.assertTrue(rb.wait(lambda fs: len([x for x in fs if x.get("op") == "typing"]) == 3,
                                EVENT_S), rb.of("typing"))

        # a non-member's typing goes nowhere, and its socket stays fine
        rc.ws.send_json({"op": "typing", "conversation_id": cid})
        rc.ws.send_json({"op": "typing", "conversation_id": "999999999"})
        time.sleep(0.7)
        self.assertEqual(len(rb.of("typing")), 3)
        self.assertEqual(typing_of(ra, c), [])
        self.ping(rc)
        # an id that cannot be a conversation is a bad frame
        rc.ws.send_json({"op": "typing", "conversation_id": "a.b", "rid": "t1"})
        err = rc.wait(lambda fs: next((x for x in fs if x.get("rid") == "t1"), None), EVENT_S)
        self.assertEqual((err["op"], err["code"]), ("error", "bad_request"), err)

    # -- REST ---------------------------------------------------------------

    def test_rest_failures(self):
        a, ta = self.user()
        r = self.api.call("GET", "/api/presence?user_ids=" + a)
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json["error"]["code"], "unauthorized")
        r = self.api.call("GET", "/api/presence?user_ids=" + a, token="x.y.z")
        self.assertEqual(r.status, 401, r)
        for q in ("", "?user_ids=", "?user_ids=abc", "?user_ids=1,,2", "?user_ids=0",
                  "?user_ids=1%2C2x", "?other=1"):
            r = self.api.call("GET", "/api/presence" + q, token=ta)
            self.assertEqual(r.status, 400, (q, r))
            self.assertEqual(r.json["error"]["code"], "bad_request", r)
        too_many = ",".join(str(i) for i in range(1, 202))
        r = self.api.call("GET", "/api/presence?user_ids=" + too_many, token=ta)
        self.assertEqual(r.status, 400, r)
        self.assertIn("at most 200", r.json["error"]["message"])
        r = self.api.call("GET", "/api/presence?user_ids=" + "1," * 5000 + "1", token=ta)
        self.assertEqual(r.status, 400, r)
        r = self.api.call("POST", "/api/presence?user_ids=" + a, body={}, token=ta)
        self.assertEqual(r.status, 405, r)

        # the full list, duplicates folded, unknown users read offline
        ids = [str(i) for i in range(900000000, 900000197)] + [a]
        e = self.presence(ta, ids + [a, ids[0]])     # 200 sent, 198 distinct
        self.assertEqual(len(e), 198)
        self.assertEqual(e["900000000"], {"user_id": "900000000", "online": False})
        self.assertEqual(e[a]["online"], False)
        self.assertNotIn("last_seen", e[a], "never seen")
