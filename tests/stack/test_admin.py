"""test_admin.py - admin controls (issue 13 section 3, docs/API.md "Admin"):
`natter admin grant|revoke`, /api/admin/* answering 401 without a token and
403 to every non-admin (whatever it sends), bans that close every session
of the user on every edge (4003 "banned") and refuse login (403 "banned"
with reason and end), unban, a ban with an end in the past, kicks of one
session (4003 "kicked_by_admin"), the audit log, and a ban racing logins.

Real servers: nats-server with config/nats-server.conf (so the NATS
permissions of im.svc.admin.* are the production ones), MariaDB, Redis,
the auth pool, one edge-http and two edge-ws."""

import http.client
import json
import os
import subprocess
import signal
import threading
import time

from harness import ROOT, Api, StackTestCase, natter_bin, unique_name
from wsclient import HandshakeError, WsClient, WsClosed

PASSWORD = "correct horse"

# (method, path, body) of every admin route; {uid} / {sid} filled in.
ADMIN_PATHS = [
    ("GET", "/api/admin/users?query=&limit=10", None),
    ("POST", "/api/admin/users/{uid}/ban", {"reason": "x", "until": None}),
    ("POST", "/api/admin/users/{uid}/unban", None),
    ("GET", "/api/admin/audit", None),
    ("GET", "/api/admin/sessions?user_id={uid}", None),
    ("DELETE", "/api/admin/sessions/{sid}", None),
    ("GET", "/api/admin/ip_rules", None),
    ("POST", "/api/admin/ip_rules", {"cidr": "198.51.100.0/24", "action": "deny"}),
    ("DELETE", "/api/admin/ip_rules/1", None),
]


class AdminBase(StackTestCase):
    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth")
        cls.api = Api(cls.stack.start_role("edge-http").url)
        cls.ws_a = cls.stack.start_role("edge-ws")
        cls.ws_b = cls.stack.start_role("edge-ws")

    def cli(self, *args):
        """`natter admin ARGS` against this stack's database."""
        argv = [natter_bin(), "admin", "--config", os.path.join(ROOT, "config", "natter.conf")]
        r = subprocess.run(argv + list(args), env=self.stack.role_env("admin"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def new_user(self, prefix="ad"):
        name = unique_name(prefix)
        r = self.api.register(name, PASSWORD)
        self.assertEqual(r.status, 201, r)
        return name, r.json["user"]["id"]

    def login(self, name, **kw):
        r = self.api.login(name, PASSWORD, **kw)
        self.assertEqual(r.status, 200, r)
        return r.json

    def new_admin(self):
        name, uid = self.new_user("adm")
        rc, out, err = self.cli("grant", name)
        self.assertEqual(rc, 0, err)
        return name, uid, self.login(name)["access_token"]

    def call(self, method, path, token, body=None, raw=None):
        return self.api.call(method, path, body=body, token=token, raw=raw)

    def assert_error(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json["error"]["code"], code, r)
        self.assertTrue(r.json["error"]["message"], r)
        return r.json["error"]

    def open(self, edge, token, source=None):
        ws = WsClient.connect("127.0.0.1", edge.port, "/ws?token=" + token, source=source)
        self.addCleanup(ws.close)
        self.assertEqual(ws.recv_json()["op"], "hello")
        ws.send_json({"op": "ping", "rid": "ready"})
        self.assertEqual(ws.recv_json(), {"op": "pong", "rid": "ready"})
        return ws

    def close_of(self, ws, timeout=10):
        """(frames, code, reason) the server sends until it closes."""
        frames = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, "socket not closed; frames so far %r" % frames)
            try:
                frames.append(json.loads(ws.recv(timeout=left)))
            except WsClosed as e:
                return frames, e.code, bytes(e.reason).decode()

    def assert_denied(self, token, timeout=5):
        """The access token gets 401 on REST (deny-list) within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.api.call("GET", "/api/users/me", token=token)
            if r.status == 401:
                return
            self.assertEqual(r.status, 200, r)
            self.assertLess(time.monotonic(), deadline, "revoked token still accepted")
            time.sleep(0.05)


class CliTest(AdminBase):
    def test_grant_revoke_and_errors(self):
        name, uid = self.new_user()
        rc, out, err = self.cli("grant", name)
        self.assertEqual((rc, out.strip()), (0, "admin: %s (id %s) now has role admin" % (name, uid)))
        rc, out, _ = self.cli("grant", name)
        self.assertEqual((rc, out.strip()), (0, "admin: %s (id %s) already had role admin" % (name, uid)))
        self.assertEqual(self.stack.sql("SELECT role FROM users WHERE id = %s" % uid).strip(), "admin")
        rc, out, _ = self.cli("revoke", name)
        self.assertEqual((rc, out.strip()), (0, "admin: %s (id %s) now has role user" % (name, uid)))
        self.assertEqual(self.stack.sql("SELECT role FROM users WHERE id = %s" % uid).strip(), "user")
        rc, out, err = self.cli("grant", "nosuchuser_" + name[:10])
        self.assertEqual(rc, 3)
        self.assertIn("no user named", err)
        for bad in ([], ["grant"], ["promote", name], ["grant", name, "extra"]):
            rc, out, err = self.cli(*bad)
            self.assertEqual(rc, 2, bad)
            self.assertIn("usage: natter admin", err)
        # Role changes by the CLI are in the audit log as the operator's.
        rows = self.stack.sql("SELECT actor_id, actor_name, action, target FROM admin_audit"
                              " WHERE target = '%s' ORDER BY id" % uid)
        self.assertEqual(rows.split("\n")[:2], ["0\toperator\tgrant\t" + uid,
                                                "0\toperator\trevoke\t" + uid])

    def test_cli_database_down_is_exit_1(self):
        env = self.stack.role_env("admin", {"NATTER_DB_PORT": "1", "NATTER_DB_CONNECT_TIMEOUT": "1"})
        argv = [natter_bin(), "admin", "--config", os.path.join(ROOT, "config", "natter.conf"),
                "grant", "someone"]
        r = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn(b"cannot connect to the database", r.stderr)

    def test_no_api_way_to_become_admin(self):
        name, uid = self.new_user()
        tok = self.login(name)["access_token"]
        r = self.call("PUT", "/api/users/me", tok, {"role": "admin"})
        self.assertIn(r.status, (200, 400), r)
        self.assertEqual(self.stack.sql("SELECT role FROM users WHERE id = %s" % uid).strip(), "user")
        r = self.api.register(unique_name("ad"), PASSWORD, role="admin")
        if r.status == 201:
            uid2 = r.json["user"]["id"]
            self.assertEqual(self.stack.sql("SELECT role FROM users WHERE id = %s" % uid2).strip(), "user")


class AccessTest(AdminBase):
    def paths(self, uid, sid):
        return [(m, p.replace("{uid}", uid).replace("{sid}", sid), b) for m, p, b in ADMIN_PATHS]

    def test_no_token_is_401_everywhere(self):
        _, uid = self.new_user()
        for method, path, body in self.paths(uid, "no-such-sid"):
            self.assert_error(self.call(method, path, None, body), 401, "unauthorized")
            self.assert_error(self.call(method, path, "garbage", body), 401, "unauthorized")

    def test_non_admin_is_403_everywhere_whatever_it_sends(self):
        name, uid = self.new_user()
        login = self.login(name)
        tok, sid = login["access_token"], None
        sess = self.stack.sql("SELECT id FROM sessions WHERE user_id = %s" % uid).split()
        sid = sess[0]
        for method, path, body in self.paths(uid, sid):
            self.assert_error(self.call(method, path, tok, body), 403, "forbidden")
        # Malformed JSON, unknown fields, bad query values, unknown ids: a
        # non-admin still learns only "forbidden".
        for raw in (b"{", b"[]", b'{"reason": 5}', b'{"bogus": 1}'):
            r = self.call("POST", "/api/admin/users/%s/ban" % uid, tok, raw=raw)
            self.assert_error(r, 403, "forbidden")
        for path in ("/api/admin/users?limit=0", "/api/admin/audit?before=x",
                     "/api/admin/sessions"):
            self.assert_error(self.call("GET", path, tok), 403, "forbidden")
        self.assert_error(self.call("POST", "/api/admin/users/999999999/ban", tok, {}), 403,
                          "forbidden")
        self.assert_error(self.call("DELETE", "/api/admin/sessions/nope", tok), 403, "forbidden")
        # Nothing was done: the user is not banned, their session lives.
        self.assertEqual(self.call("GET", "/api/users/me", tok).status, 200)

    def test_revoked_admin_is_403_at_once(self):
        name, uid, tok = self.new_admin()
        self.assertEqual(self.call("GET", "/api/admin/audit", tok).status, 200)
        rc, _, err = self.cli("revoke", name)
        self.assertEqual(rc, 0, err)
        # Same access token, next request: the role is read per request.
        self.assert_error(self.call("GET", "/api/admin/audit", tok), 403, "forbidden")

    def test_admin_validation(self):
        _, _, tok = self.new_admin()
        _, uid = self.new_user()
        ban = "/api/admin/users/%s/ban" % uid
        for raw, why in ((b"{", "not valid JSON"), (b"[]", "JSON object"),
                         (b'{"reason": 5}', "reason"), (b'{"until": "soon"}', "until"),
                         (b'{"until": 1.5}', "until"), (b'{"until": -1}', "until"),
                         (b'{"until": 0}', "until"), (b'{"reason": null}', "reason")):
            err = self.assert_error(self.call("POST", ban, tok, raw=raw), 400, "bad_request")
            self.assertIn(why, err["message"], raw)
        err = self.assert_error(self.call("POST", ban, tok, {"reason": "x" * 501}), 400,
                                "bad_request")
        r = self.call("POST", ban, tok, raw=b'{"reason":"' + b"x" * 5000 + b'"}')
        self.assert_error(r, 413, "too_large")
        for path in ("/api/admin/users?limit=0", "/api/admin/users?limit=201",
                     "/api/admin/users?limit=x", "/api/admin/audit?before=x",
                     "/api/admin/users?query=" + "a" * 60, "/api/admin/sessions"):
            self.assert_error(self.call("GET", path, tok), 400, "bad_request")
        # Unknown ids.
        for target in ("999999999", "abc", "0"):
            self.assert_error(self.call("POST", "/api/admin/users/%s/ban" % target, tok, {}),
                              404, "not_found")
            self.assert_error(self.call("POST", "/api/admin/users/%s/unban" % target, tok), 404,
                              "not_found")
        self.assert_error(self.call("DELETE", "/api/admin/sessions/no-such-session", tok), 404,
                          "not_found")
        r = self.call("GET", "/api/admin/sessions?user_id=999999999", tok)
        self.assertEqual((r.status, r.json), (200, {"sessions": []}))


class BanTest(AdminBase):
    def test_ban_closes_every_socket_and_refuses_login(self):
        admin_name, admin_uid, tok = self.new_admin()
        name, uid = self.new_user()
        web = self.login(name, platform="web")
        mob = self.login(name, platform="mobile")
        sockets = [self.open(self.ws_a, web["access_token"]),
                   self.open(self.ws_b, web["access_token"]),
                   self.open(self.ws_b, mob["access_token"])]
        until = int(time.time() * 1000) + 3600 * 1000
        t0 = time.monotonic()
        r = self.call("POST", "/api/admin/users/%s/ban" % uid, tok,
                      {"reason": "spam, ünïcode", "until": until})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"user_id": uid, "banned": True})
        for ws in sockets:
            frames, code, reason = self.close_of(ws)
            self.assertEqual((frames, code, reason),
                             ([{"op": "kicked", "reason": "banned"}], 4003, "banned"))
        print("\n    ban -> all 3 sockets closed in %.0f ms" % ((time.monotonic() - t0) * 1000))
        # Login: 403 banned, with the reason and the end.
        r = self.api.login(name, PASSWORD)
        err = self.assert_error(r, 403, "banned")
        self.assertEqual((err["reason"], err["until"]), ("spam, ünïcode", until))
        # A wrong password learns nothing about the ban.
        self.assert_error(self.api.login(name, "wrong password"), 401, "unauthorized")
        # Refresh tokens revoked, access tokens denied, new sockets refused.
        for s in (web, mob):
            r = self.api.call("POST", "/api/auth/refresh", {"refresh_token": s["refresh_token"]})
            self.assert_error(r, 401, "unauthorized")
            self.assert_denied(s["access_token"])
        c = WsClient.connect("127.0.0.1", self.ws_a.port, "/ws?token=" + web["access_token"])
        try:
            with self.assertRaises(WsClosed) as cm:
                c.recv(timeout=5)
            self.assertEqual(cm.exception.code, 4001)
        finally:
            c.close()
        # The users list shows it.
        r = self.call("GET", "/api/admin/users?query=" + name, tok)
        self.assertEqual(r.status, 200, r)
        [u] = r.json["users"]
        self.assertEqual((u["id"], u["role"], u["banned"], u["ban_reason"], u["banned_until"]),
                         (uid, "user", True, "spam, ünïcode", until))
        self.assertIsInstance(u["created_at"], int)
        self.assertIn("last_seen", u)
        # Unban: login works again.
        r = self.call("POST", "/api/admin/users/%s/unban" % uid, tok)
        self.assertEqual((r.status, r.json), (200, {"user_id": uid, "banned": False}))
        self.login(name)
        r = self.call("GET", "/api/admin/users?query=" + name, tok)
        self.assertEqual(r.json["users"][0]["banned"], False)
        self.assertIsNone(r.json["users"][0]["banned_until"])
        # Audit: newest first, who / what / target / when / address.
        r = self.call("GET", "/api/admin/audit?limit=200", tok)
        mine = [e for e in r.json["entries"] if e["target"] == uid]
        self.assertEqual([e["action"] for e in mine], ["unban", "ban"])
        for e in mine:
            self.assertEqual((e["actor_id"], e["actor_name"], e["address"]),
                             (admin_uid, admin_name, "127.0.0.1"))
            self.assertLessEqual(abs(e["created_at"] - time.time() * 1000), 60000)
        self.assertIn("sessions=2 reason=spam, ünïcode", mine[1]["detail"])

    def test_ban_for_good_and_in_the_past(self):
        _, _, tok = self.new_admin()
        name, uid = self.new_user()
        r = self.call("POST", "/api/admin/users/%s/ban" % uid, tok, {"reason": "abuse"})
        self.assertEqual(r.status, 200, r)
        err = self.assert_error(self.api.login(name, PASSWORD), 403, "banned")
        self.assertEqual((err["reason"], err["until"]), ("abuse", None))
        # The longest reason, 4-byte characters, survives the round trip.
        long = "\U0001F600" * 500
        # (raw UTF-8: \u escapes would pass the stacks' 4 KiB body cap)
        r = self.call("POST", "/api/admin/users/%s/ban" % uid, tok,
                      raw=json.dumps({"reason": long}, ensure_ascii=False).encode())
        self.assertEqual(r.status, 200, r)
        err = self.assert_error(self.api.login(name, PASSWORD), 403, "banned")
        self.assertEqual(err["reason"], long)
        # until in the past: recorded, but it blocks nobody.
        past = int(time.time() * 1000) - 1000
        r = self.call("POST", "/api/admin/users/%s/ban" % uid, tok, {"reason": "old", "until": past})
        self.assertEqual(r.status, 200, r)
        self.login(name)
        r = self.call("GET", "/api/admin/users?query=" + name, tok)
        self.assertEqual(r.json["users"][0]["banned"], False)

    def test_ban_expires_by_itself(self):
        _, _, tok = self.new_admin()
        name, uid = self.new_user()
        until = int(time.time() * 1000) + 1500
        self.assertEqual(self.call("POST", "/api/admin/users/%s/ban" % uid, tok,
                                   {"until": until}).status, 200)
        self.assert_error(self.api.login(name, PASSWORD), 403, "banned")
        time.sleep(max(0, until / 1000 - time.time()) + 0.2)
        self.login(name)

    def test_audit_paging(self):
        _, _, tok = self.new_admin()
        _, uid = self.new_user()
        for _ in range(3):
            self.assertEqual(self.call("POST", "/api/admin/users/%s/unban" % uid, tok).status, 200)
        r = self.call("GET", "/api/admin/audit?limit=2", tok)
        page1 = r.json["entries"]
        self.assertEqual(len(page1), 2)
        self.assertGreater(int(page1[0]["id"]), int(page1[1]["id"]))
        r = self.call("GET", "/api/admin/audit?limit=2&before=" + page1[1]["id"], tok)
        page2 = r.json["entries"]
        self.assertTrue(page2)
        self.assertLess(int(page2[0]["id"]), int(page1[1]["id"]))

    def test_ban_racing_logins(self):
        """Logins of the user run while the ban commits: every login that
        got tokens must be dead afterwards (its session was revoked by the
        ban, or it was refused), never a usable session."""
        _, _, tok = self.new_admin()
        name, uid = self.new_user()
        results, stop = [], threading.Event()

        def hammer(i):
            api = Api(self.api.url)
            while not stop.is_set():
                # The time a login started: one that started before the ban
                # answered may still commit first and answer 200 after it
                # (the ban then revokes it, checked below); one that started
                # after must be refused.
                t0 = time.monotonic()
                r = api.login(name, PASSWORD, platform=("web", "mobile", "desktop")[i % 3],
                              device_id="d%d" % i)
                results.append((t0, r.status, r.json if r.status == 200 else None))

        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        r = self.call("POST", "/api/admin/users/%s/ban" % uid, tok, {"reason": "race"})
        banned_at = time.monotonic()
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
        self.assertEqual(r.status, 200, r)
        ok = [x for x in results if x[1] == 200]
        after = [x for x in results if x[0] > banned_at]
        self.assertTrue(ok, "no login got through before the ban")
        self.assertTrue(after, "no login ran after the ban")
        self.assertEqual({x[1] for x in after}, {403}, after[:3])
        self.assertLessEqual({x[1] for x in results}, {200, 403})
        print("\n    race: %d logins, %d got tokens, %d refused as banned" %
              (len(results), len(ok), len(results) - len(ok)))
        live = self.stack.sql("SELECT COUNT(*) FROM sessions WHERE user_id = %s"
                              " AND revoked_at IS NULL" % uid).strip()
        self.assertEqual(live, "0")
        for _, _, body in ok:
            self.assert_error(self.api.call("POST", "/api/auth/refresh",
                                            {"refresh_token": body["refresh_token"]}), 401,
                              "unauthorized")
        for _, _, body in ok[-5:]:
            self.assert_denied(body["access_token"])


class KickTest(AdminBase):
    @classmethod
    def start_roles(cls):
        super().start_roles()
        cls.stack.start_role("presence")  # where sessions are connected

    def sessions(self, tok, uid, want_edges, timeout=5):
        """The sessions list once presence shows want_edges {platform: n}."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.call("GET", "/api/admin/sessions?user_id=" + uid, tok)
            self.assertEqual(r.status, 200, r)
            got = {s["platform"]: len(s["edges"]) for s in r.json["sessions"]}
            if got == want_edges:
                return r.json["sessions"]
            self.assertLess(time.monotonic(), deadline, (got, want_edges))
            time.sleep(0.05)

    def test_sessions_list_and_kick(self):
        admin_name, admin_uid, tok = self.new_admin()
        name, uid = self.new_user()
        web = self.login(name, platform="web", device_id="laptop")
        mob = self.login(name, platform="mobile", device_id="phone")
        r = self.call("GET", "/api/admin/sessions?user_id=" + uid, tok)
        self.assertEqual(r.status, 200, r)
        sess = r.json["sessions"]
        self.assertEqual(sorted((s["platform"], s["device_id"]) for s in sess),
                         [("mobile", "phone"), ("web", "laptop")])
        for s in sess:
            self.assertEqual(s["user_id"], uid)
            self.assertIsInstance(s["created_at"], int)
        web_sid = [s["session_id"] for s in sess if s["platform"] == "web"][0]
        for s in sess:
            self.assertEqual((s["connected"], s["edges"]), (False, []))
        for s in sess:
            self.assertEqual((s["connections"], s["address"], s["connected_since"]), ([], None, None))
        t_open = int(time.time() * 1000)
        ws_web = self.open(self.ws_a, web["access_token"])
        time.sleep(0.05)
        ws_web2 = self.open(self.ws_b, web["access_token"])
        ws_mob = self.open(self.ws_b, mob["access_token"], source="127.0.0.2")
        t_opened = int(time.time() * 1000)
        # Presence shows where each session is connected: web on both edges,
        # with the client's address and since when on each.
        sess = self.sessions(tok, uid, {"web": 2, "mobile": 1})
        by = {s["platform"]: s for s in sess}
        self.assertTrue(by["web"]["connected"])
        self.assertEqual(len(set(by["web"]["edges"])), 2)
        self.assertIn(by["mobile"]["edges"][0], by["web"]["edges"])
        for s in sess:
            self.assertEqual([c["edge"] for c in s["connections"]], s["edges"])
            for c in s["connections"]:
                self.assertTrue(t_open - 5 <= c["connected_since"] <= t_opened + 5, (c, t_open))
            first = min(s["connections"], key=lambda c: c["connected_since"])
            self.assertEqual((s["address"], s["connected_since"]),
                             (first["address"], first["connected_since"]))
        self.assertEqual({c["address"] for c in by["web"]["connections"]}, {"127.0.0.1"})
        self.assertEqual(by["mobile"]["address"], "127.0.0.2")
        r = self.call("DELETE", "/api/admin/sessions/" + web_sid, tok)
        self.assertEqual((r.status, r.body), (204, b""))
        for ws in (ws_web, ws_web2):
            self.assertEqual(self.close_of(ws),
                             ([{"op": "kicked", "reason": "kicked_by_admin"}], 4003,
                              "kicked_by_admin"))
        self.assert_denied(web["access_token"])
        self.assert_error(self.api.call("POST", "/api/auth/refresh",
                                        {"refresh_token": web["refresh_token"]}), 401,
                          "unauthorized")
        # The other session is untouched, and the user may log in again.
        ws_mob.send_json({"op": "ping", "rid": "x"})
        self.assertEqual(ws_mob.recv_json(timeout=5), {"op": "pong", "rid": "x"})
        r = self.call("GET", "/api/admin/sessions?user_id=" + uid, tok)
        self.assertEqual([s["platform"] for s in r.json["sessions"]], ["mobile"])
        self.login(name)
        # Kicking it again: already revoked.
        self.assert_error(self.call("DELETE", "/api/admin/sessions/" + web_sid, tok), 404,
                          "not_found")
        r = self.call("GET", "/api/admin/audit", tok)
        e = r.json["entries"][0]
        self.assertEqual((e["action"], e["target"], e["detail"], e["actor_id"]),
                         ("kick", web_sid, uid, admin_uid))


def get_from(url, source, path="/api/users/me", token=None, xff=None):
    """GET path with the client socket bound to address source: the stack
    tests' way of being another client address on loopback."""
    host, port = url.split("//")[1].split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(source, 0))
    h = {"Authorization": "Bearer " + token} if token else {}
    if xff is not None:
        h["X-Forwarded-For"] = xff
    try:
        c.request("GET", path, headers=h)
        r = c.getresponse()
        body = r.read()
        return r.status, json.loads(body) if body else None
    finally:
        c.close()


class IpRulesTest(AdminBase):
    OTHER = "127.0.0.2"  # a client address the tests can use besides 127.0.0.1

    def wait_status(self, url, want, timeout=5.0, path="/api/users/me", token=None):
        """Poll until a request from OTHER gets want; the seconds it took."""
        t0 = time.monotonic()
        while True:
            status, body = get_from(url, self.OTHER, path, token)
            if status == want:
                return time.monotonic() - t0, body
            self.assertLess(time.monotonic() - t0, timeout, (status, body))
            time.sleep(0.02)

    def test_rules_apply_within_a_second_and_survive_restart(self):
        admin_name, admin_uid, tok = self.new_admin()
        name, _ = self.new_user()
        user_tok = self.login(name)["access_token"]
        url = self.api.url
        self.assertEqual(get_from(url, self.OTHER, token=user_tok)[0], 200)
        r = self.call("POST", "/api/admin/ip_rules", tok, {"cidr": "127.0.0.2/32", "action": "deny"})
        self.assertEqual(r.status, 201, r)
        rule = r.json["rule"]
        self.assertEqual((rule["cidr"], rule["action"]), ("127.0.0.2/32", "deny"))
        self.assertIsInstance(rule["created_at"], int)
        took, body = self.wait_status(url, 403, token=user_tok)
        print("\n    rule applied by edge-http in %.0f ms" % (took * 1000))
        self.assertLess(took, 1.0)
        self.assertEqual(body["error"]["code"], "forbidden")
        # Before any token check, on any path; health and metrics stay open.
        self.assertEqual(get_from(url, self.OTHER, "/api/admin/audit")[0], 403)
        self.assertEqual(get_from(url, self.OTHER, "/healthz")[0], 200)
        # Other addresses are untouched.
        self.assertEqual(self.call("GET", "/api/users/me", user_tok).status, 200)
        # A new edge-http loads the rules before /healthz says ok (which
        # start_role waits for): denied from its first request.
        url2 = self.stack.start_role("edge-http").url
        self.assertEqual(get_from(url2, self.OTHER, token=user_tok)[0], 403)
        # Delete: allowed again within a second, on both edges.
        r = self.call("DELETE", "/api/admin/ip_rules/" + rule["id"], tok)
        self.assertEqual((r.status, r.body), (204, b""))
        for u in (url, url2):
            took, _ = self.wait_status(u, 200, token=user_tok)
            self.assertLess(took, 1.0)
        self.assert_error(self.call("DELETE", "/api/admin/ip_rules/" + rule["id"], tok), 404,
                          "not_found")
        r = self.call("GET", "/api/admin/audit?limit=5", tok)
        acts = [(e["action"], e["target"], e["detail"]) for e in r.json["entries"][:2]]
        self.assertEqual(acts, [("ip_rule_delete", rule["id"], "127.0.0.2/32"),
                                ("ip_rule_add", rule["id"], "127.0.0.2/32")])

    def test_shapes_and_errors(self):
        _, _, tok = self.new_admin()
        ids = []
        for cidr, canon in (("2001:DB8::1/32", "2001:db8::/32"), ("192.0.2.77/24", "192.0.2.0/24"),
                            ("198.51.100.7", "198.51.100.7/32")):
            r = self.call("POST", "/api/admin/ip_rules", tok, {"cidr": cidr, "action": "deny"})
            self.assertEqual(r.status, 201, r)
            self.assertEqual(r.json["rule"]["cidr"], canon)
            ids.append(r.json["rule"]["id"])
        self.addCleanup(lambda: [self.call("DELETE", "/api/admin/ip_rules/" + i, tok) for i in ids])
        r = self.call("POST", "/api/admin/ip_rules", tok, {"cidr": "192.0.2.0/24", "action": "deny"})
        self.assert_error(r, 409, "conflict")
        r = self.call("GET", "/api/admin/ip_rules", tok)
        self.assertEqual(r.status, 200, r)
        got = {x["id"]: x for x in r.json["rules"]}
        for i in ids:
            self.assertEqual(set(got[i]), {"id", "cidr", "action", "created_at"})
        for body in ({"cidr": "192.0.2.0/33", "action": "deny"}, {"cidr": "300.1.2.3", "action": "deny"},
                     {"cidr": "2001:db8::/129", "action": "deny"}, {"cidr": "", "action": "deny"},
                     {"cidr": "192.0.2.0/24", "action": "allow"}, {"cidr": "192.0.2.0/24"},
                     {"action": "deny"}, {"cidr": 5, "action": "deny"},
                     {"cidr": "192.0.2.0/24", "action": None}, {"cidr": "x" * 65, "action": "deny"}):
            self.assert_error(self.call("POST", "/api/admin/ip_rules", tok, body), 400, "bad_request")
        self.assert_error(self.call("POST", "/api/admin/ip_rules", tok, raw=b"{"), 400, "bad_request")
        self.assert_error(self.call("DELETE", "/api/admin/ip_rules/abc", tok), 404, "not_found")


class ForwardedForTest(AdminBase):
    """X-Forwarded-For counts only from http.trusted_proxies."""

    def test_trusted_proxy_names_the_client(self):
        admin_name, admin_uid, tok = self.new_admin()
        name, uid = self.new_user()
        user_tok = self.login(name)["access_token"]
        proxied = self.stack.start_role("edge-http", {"NATTER_HTTP_TRUSTED_PROXIES": "127.0.0.1/32, ::1"})
        r = self.call("POST", "/api/admin/ip_rules", tok, {"cidr": "198.51.100.9", "action": "deny"})
        self.assertEqual(r.status, 201, r)
        rule_id = r.json["rule"]["id"]
        self.addCleanup(lambda: self.call("DELETE", "/api/admin/ip_rules/" + rule_id, tok))

        def status(url, source, xff):
            return get_from(url, source, token=user_tok, xff=xff)[0]

        deadline = time.monotonic() + 5
        while status(proxied.url, "127.0.0.1", "198.51.100.9") != 403:
            self.assertLess(time.monotonic(), deadline, "rule not applied")
            time.sleep(0.05)
        cases = [
            (proxied.url, "127.0.0.1", "198.51.100.9, 127.0.0.1", 403),  # proxies skipped
            (proxied.url, "127.0.0.1", "198.51.100.10", 200),
            (proxied.url, "127.0.0.1", "198.51.100.9, 203.0.113.1", 200),  # left part is the client's
            (proxied.url, "127.0.0.1", "garbage", 200),
            (proxied.url, "127.0.0.2", "198.51.100.9", 200),  # not a trusted proxy: ignored
            (self.api.url, "127.0.0.1", "198.51.100.9", 200),  # no trusted proxies at all
        ]
        for url, source, xff, want in cases:
            self.assertEqual(status(url, source, xff), want, (url, source, xff))
        # The audit log records the forwarded address.
        api = Api(proxied.url)
        r = api.call("POST", "/api/admin/users/%s/unban" % uid, token=tok,
                     headers={"X-Forwarded-For": "192.0.2.50"})
        self.assertEqual(r.status, 200, r)
        r = self.call("GET", "/api/admin/audit?limit=1", tok)
        self.assertEqual((r.json["entries"][0]["action"], r.json["entries"][0]["address"]),
                         ("unban", "192.0.2.50"))

    def test_bad_trusted_proxies_is_a_config_error(self):
        p = self.stack.start_role("edge-http", {"NATTER_HTTP_TRUSTED_PROXIES": "10.0.0.0/8,nonsense"},
                                  wait=False)
        self.assertEqual(p.wait(30), 2)
        with open(p.log_path, "rb") as f:
            self.assertIn(b"bad http.trusted_proxies", f.read())


class WsIpRulesTest(AdminBase):
    """IP rules on edge-ws: a denied address's upgrade gets 403, its open
    sockets close (4003 "ip_denied") within a second of the rule, on every
    edge, and an edge-ws started later holds the rule from its first socket."""

    OTHER = IpRulesTest.OTHER

    def open_from(self, edge, token, source, xff=None):
        ws = WsClient.connect("127.0.0.1", edge.port, "/ws?token=" + token, source=source,
                              headers={"X-Forwarded-For": xff} if xff else None)
        self.addCleanup(ws.close)
        self.assertEqual(ws.recv_json()["op"], "hello")
        return ws

    def refused(self, edge, token, source, xff=None):
        """The upgrade's status line if refused, None if it was accepted."""
        try:
            ws = WsClient.connect("127.0.0.1", edge.port, "/ws?token=" + token, source=source,
                                  headers={"X-Forwarded-For": xff} if xff else None)
        except HandshakeError as e:
            return str(e)
        ws.close()
        return None

    def add_rule(self, tok, cidr):
        r = self.call("POST", "/api/admin/ip_rules", tok, {"cidr": cidr, "action": "deny"})
        self.assertEqual(r.status, 201, r)
        rule_id = r.json["rule"]["id"]
        self.addCleanup(lambda: self.call("DELETE", "/api/admin/ip_rules/" + rule_id, tok))
        return rule_id

    def test_deny_closes_sockets_on_every_edge_and_survives_restart(self):
        _, _, tok = self.new_admin()
        name, _ = self.new_user()
        web = self.login(name, platform="web")["access_token"]
        mob = self.login(name, platform="mobile")["access_token"]
        desk = self.login(name, platform="desktop")["access_token"]
        on_a = self.open_from(self.ws_a, web, self.OTHER)
        on_b = self.open_from(self.ws_b, mob, self.OTHER)
        kept = self.open_from(self.ws_a, desk, "127.0.0.1")
        t0 = time.monotonic()
        rule_id = self.add_rule(tok, "127.0.0.2/32")
        for ws in (on_a, on_b):
            self.assertEqual(self.close_of(ws, timeout=3), ([], 4003, "ip_denied"))
        took = time.monotonic() - t0
        print("\n    open sockets on two edge-ws closed %.0f ms after the rule" % (took * 1000))
        self.assertLess(took, 1.0)
        kept.send_json({"op": "ping", "rid": "k"})
        self.assertEqual(kept.recv_json(timeout=5), {"op": "pong", "rid": "k"})
        for edge in (self.ws_a, self.ws_b):
            self.assertIn("403", self.refused(edge, web, self.OTHER) or "accepted")
        self.assertIsNone(self.refused(self.ws_a, web, "127.0.0.1"))
        # Restart ws_b on its port: it loads the rules before /healthz is
        # ok (start_role waits for it), so the first upgrade is refused.
        old = self.ws_b
        old.kill(signal.SIGTERM)
        self.assertEqual(old.wait(15), 0)
        type(self).ws_b = self.stack.start_role("edge-ws", {"NATTER_WS_PORT": str(old.port)})
        self.assertIn("403", self.refused(self.ws_b, web, self.OTHER) or "accepted")
        # Deleted: accepted again within a second, on both.
        r = self.call("DELETE", "/api/admin/ip_rules/" + rule_id, tok)
        self.assertEqual(r.status, 204, r)
        for edge in (self.ws_a, self.ws_b):
            deadline = time.monotonic() + 1.0
            while self.refused(edge, web, self.OTHER) is not None:
                self.assertLess(time.monotonic(), deadline, "rule still applied on %s" % edge)
                time.sleep(0.02)

    def test_forwarded_for_only_from_trusted_proxies(self):
        _, _, tok = self.new_admin()
        name, _ = self.new_user()
        web = self.login(name, platform="web")["access_token"]
        mob = self.login(name, platform="mobile")["access_token"]
        proxied = self.stack.start_role("edge-ws", {"NATTER_HTTP_TRUSTED_PROXIES": "127.0.0.1/32"})
        # A client behind the proxy, connected before its rule.
        behind = self.open_from(proxied, mob, "127.0.0.1", xff="198.51.100.11")
        self.add_rule(tok, "198.51.100.9")
        deadline = time.monotonic() + 5
        while self.refused(proxied, web, "127.0.0.1", "198.51.100.9") is None:
            self.assertLess(time.monotonic(), deadline, "rule not applied")
            time.sleep(0.05)
        cases = [
            (proxied, "127.0.0.1", "198.51.100.9, 127.0.0.1", True),    # proxies skipped
            (proxied, "127.0.0.1", "198.51.100.10", False),
            (proxied, "127.0.0.1", "198.51.100.9, 203.0.113.1", False),  # left part is the client's
            (proxied, "127.0.0.2", "198.51.100.9", False),    # not a trusted proxy: ignored
            (self.ws_a, "127.0.0.1", "198.51.100.9", False),  # no trusted proxies at all
        ]
        for edge, source, xff, denied in cases:
            got = self.refused(edge, web, source, xff)
            self.assertEqual(got is not None, denied, (edge, source, xff, got))
        # The open socket is matched by its forwarded address.
        self.add_rule(tok, "198.51.100.11")
        self.assertEqual(self.close_of(behind, timeout=3), ([], 4003, "ip_denied"))

    def test_bad_trusted_proxies_is_a_config_error(self):
        p = self.stack.start_role("edge-ws", {"NATTER_HTTP_TRUSTED_PROXIES": "nonsense"}, wait=False)
        self.assertEqual(p.wait(30), 2)
        with open(p.log_path, "rb") as f:
            self.assertIn(b"bad http.trusted_proxies", f.read())
