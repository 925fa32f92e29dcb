"""test_session_control.py - what happens to live sockets when a session
ends (docs/sessions.md, API.md "Accounts and tokens", issue 5 "Session
control"): a login on the same platform from another device kicks the old
session (kicked "replaced", close 4002), the same device replaces it
quietly (close 4002, no frame), other platforms keep theirs; logout and
refresh-token reuse close the session's sockets; a password change revokes
every other session of the user and keeps the caller's.

Each assertion on a socket checks the exact frames the old socket sees
before its close code, on two edge-ws processes (the revocation event
reaches every edge)."""

import json
import socket
import threading
import time

from harness import Api, StackTestCase, unique_name
from wsclient import WsClient, WsClosed

PASSWORD = "correct horse"
NEW_PASSWORD = "battery staple"


class SessionBase(StackTestCase):
    """auth, edge-http and two edge-ws; helpers for users and sockets."""

    auth_env = {}

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth", cls.auth_env)
        cls.api = Api(cls.stack.start_role("edge-http").url)
        cls.ws_a = cls.stack.start_role("edge-ws")
        cls.ws_b = cls.stack.start_role("edge-ws")

    def new_user(self):
        name = unique_name("sc")
        r = self.api.register(name, PASSWORD)
        self.assertEqual(r.status, 201, r)
        return name

    def login(self, name, platform="web", device="", password=PASSWORD):
        r = self.api.login(name, password, platform=platform, device_id=device)
        self.assertEqual(r.status, 200, r)
        return r.json

    def open(self, edge, token):
        """A socket past hello, with one ping answered (so it is registered
        on the edge before the test acts)."""
        ws = WsClient.connect("127.0.0.1", edge.port, "/ws?token=" + token)
        self.addCleanup(ws.close)
        self.assertEqual(ws.recv_json()["op"], "hello")
        ws.send_json({"op": "ping", "rid": "ready"})
        self.assertEqual(ws.recv_json(), {"op": "pong", "rid": "ready"})
        return ws

    def frames_until_close(self, ws, timeout=10):
        """Every frame the server sends until it closes: (frames, code)."""
        frames = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, "socket not closed; frames so far %r" % frames)
            try:
                frames.append(json.loads(ws.recv(timeout=left)))
            except WsClosed as e:
                return frames, e.code

    def assert_kicked(self, ws, reason):
        frames, code = self.frames_until_close(ws)
        self.assertEqual((frames, code), ([{"op": "kicked", "reason": reason}], 4002))

    def assert_alive(self, ws, rid="alive"):
        ws.send_json({"op": "ping", "rid": rid})
        self.assertEqual(ws.recv_json(timeout=5), {"op": "pong", "rid": rid})

    def assert_silent(self, ws, seconds=0.5):
        """Nothing arrives for a while (and the socket is still open)."""
        with self.assertRaises(socket.timeout):
            ws.recv(timeout=seconds)

    def assert_refused_ws(self, token):
        """Every edge refuses the token with 4001 (the deny-list)."""
        for edge in (self.ws_a, self.ws_b):
            deadline = time.monotonic() + 5
            while True:
                c = WsClient.connect("127.0.0.1", edge.port, "/ws?token=" + token)
                try:
                    c.recv(timeout=5)
                    self.assertLess(time.monotonic(), deadline, "revoked token still accepted")
                    time.sleep(0.1)
                except WsClosed as e:
                    self.assertEqual(e.code, 4001)
                    break
                finally:
                    c.close()

    def me(self, token):
        return self.api.call("GET", "/api/users/me", token=token)

    def refresh(self, refresh_token):
        return self.api.call("POST", "/api/auth/refresh", {"refresh_token": refresh_token})

    def assert_error(self, r, status, code):
        self.assertEqual(r.status, status, r)
        err = r.json["error"]
        self.assertEqual(err["code"], code, r)
        self.assertTrue(err["message"], r)
        return err


class SessionKickTest(SessionBase):

    def test_same_platform_other_device_kicks_old_sockets(self):
        name = self.new_user()
        old = self.login(name, "web", "laptop")
        s1 = self.open(self.ws_a, old["access_token"])
        s2 = self.open(self.ws_b, old["access_token"])   # one session, two edges
        new = self.login(name, "web", "desktop-browser")
        self.assert_kicked(s1, "replaced")
        self.assert_kicked(s2, "replaced")
        self.assert_refused_ws(old["access_token"])
        self.assert_error(self.me(old["access_token"]), 401, "unauthorized")
        self.assert_error(self.refresh(old["refresh_token"]), 401, "unauthorized")
        fresh = self.open(self.ws_a, new["access_token"])
        self.assert_alive(fresh)

    def test_same_device_replaces_quietly(self):
        name = self.new_user()
        old = self.login(name, "web", "laptop")
        s1 = self.open(self.ws_a, old["access_token"])
        s2 = self.open(self.ws_b, old["access_token"])
        new = self.login(name, "web", "laptop")
        for ws in (s1, s2):   # no kicked frame: the same client holds the new session
            self.assertEqual(self.frames_until_close(ws), ([], 4002))
        self.assert_refused_ws(old["access_token"])
        self.assert_alive(self.open(self.ws_b, new["access_token"]))

    def test_no_device_id_counts_as_another_device(self):
        # device_id "" is "unknown device": it never renews, it replaces.
        name = self.new_user()
        s = self.open(self.ws_a, self.login(name, "web")["access_token"])
        self.login(name, "web")
        self.assert_kicked(s, "replaced")

    def test_other_platforms_keep_their_sockets(self):
        name = self.new_user()
        mob = self.login(name, "mobile", "phone")
        desk = self.login(name, "desktop", "pc")
        web1 = self.login(name, "web", "w1")
        m, d = self.open(self.ws_a, mob["access_token"]), self.open(self.ws_b, desk["access_token"])
        w = self.open(self.ws_a, web1["access_token"])
        web2 = self.login(name, "web", "w2")
        self.assert_kicked(w, "replaced")
        self.login(name, "web", "w2")                       # renew web2: quiet, others untouched
        for ws in (m, d):
            self.assert_silent(ws)
            self.assert_alive(ws)
        self.assertEqual(self.me(mob["access_token"]).status, 200)
        self.assertEqual(self.refresh(desk["refresh_token"]).status, 200)
        self.assert_error(self.me(web2["access_token"]), 401, "unauthorized")

    def test_other_users_are_untouched(self):
        a, b = self.new_user(), self.new_user()
        sb = self.open(self.ws_a, self.login(b, "web", "x")["access_token"])
        sa = self.open(self.ws_a, self.login(a, "web", "x")["access_token"])
        self.login(a, "web", "y")
        self.assert_kicked(sa, "replaced")
        self.assert_silent(sb)
        self.assert_alive(sb)

    def test_logout_closes_every_socket_of_the_session(self):
        name = self.new_user()
        web = self.login(name, "web", "w")
        mob = self.login(name, "mobile", "m")
        w1, w2 = self.open(self.ws_a, web["access_token"]), self.open(self.ws_b, web["access_token"])
        m = self.open(self.ws_b, mob["access_token"])
        r = self.api.call("POST", "/api/auth/logout", token=web["access_token"])
        self.assertEqual(r.status, 204, r)
        self.assert_kicked(w1, "logout")
        self.assert_kicked(w2, "logout")
        self.assert_refused_ws(web["access_token"])
        self.assert_silent(m)
        self.assert_alive(m)

    def test_refresh_reuse_revokes_and_closes_sockets(self):
        name = self.new_user()
        first = self.login(name, "web", "w")
        ws = self.open(self.ws_a, first["access_token"])
        r = self.refresh(first["refresh_token"])
        self.assertEqual(r.status, 200, r)
        second = r.json
        # The access token of the first pair is still the same session: the
        # socket stays open through a normal refresh.
        self.assert_silent(ws)
        self.assert_alive(ws)
        ws2 = self.open(self.ws_b, second["access_token"])
        # A spent token comes back: someone holds a copy; the session dies.
        self.assert_error(self.refresh(first["refresh_token"]), 401, "unauthorized")
        self.assert_kicked(ws, "reuse")
        self.assert_kicked(ws2, "reuse")
        self.assert_error(self.refresh(second["refresh_token"]), 401, "unauthorized")
        self.assert_error(self.me(second["access_token"]), 401, "unauthorized")
        self.assert_refused_ws(second["access_token"])


class PasswordChangeTest(SessionBase):

    def change(self, token, old, new, **kw):
        body = {"old_password": old, "new_password": new}
        body.update(kw)
        return self.api.call("POST", "/api/auth/password", body, token=token)

    def test_change_revokes_every_other_session(self):
        name = self.new_user()
        me = self.login(name, "web", "w")
        mob = self.login(name, "mobile", "m")
        desk = self.login(name, "desktop", "d")
        mine = self.open(self.ws_a, me["access_token"])
        m, d = self.open(self.ws_a, mob["access_token"]), self.open(self.ws_b, desk["access_token"])
        r = self.change(me["access_token"], PASSWORD, NEW_PASSWORD)
        self.assertEqual((r.status, r.body), (204, b""), r)
        self.assert_kicked(m, "password")
        self.assert_kicked(d, "password")
        for other in (mob, desk):
            self.assert_error(self.me(other["access_token"]), 401, "unauthorized")
            self.assert_error(self.refresh(other["refresh_token"]), 401, "unauthorized")
            self.assert_refused_ws(other["access_token"])
        # The caller's session lives on: socket, access token, refresh.
        self.assert_silent(mine)
        self.assert_alive(mine)
        self.assertEqual(self.me(me["access_token"]).status, 200)
        r = self.refresh(me["refresh_token"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.me(r.json["access_token"]).status, 200)
        # Only the new password logs in now.
        self.assert_error(self.api.login(name, PASSWORD), 401, "unauthorized")
        self.assertEqual(self.api.login(name, NEW_PASSWORD, platform="mobile").status, 200)

    def test_change_with_no_other_session(self):
        name = self.new_user()
        me = self.login(name)
        self.assertEqual(self.change(me["access_token"], PASSWORD, NEW_PASSWORD).status, 204)
        self.assertEqual(self.me(me["access_token"]).status, 200)
        # And back again: the same session may change it twice.
        self.assertEqual(self.change(me["access_token"], NEW_PASSWORD, PASSWORD).status, 204)
        self.assertEqual(self.api.login(name, PASSWORD, platform="mobile").status, 200)

    def test_wrong_old_password_changes_nothing(self):
        name = self.new_user()
        me, mob = self.login(name, "web", "w"), self.login(name, "mobile", "m")
        m = self.open(self.ws_a, mob["access_token"])
        err = self.assert_error(self.change(me["access_token"], "not my password", NEW_PASSWORD),
                                401, "unauthorized")
        self.assertIn("old password", err["message"])
        # A 401 here is about the old password, not the token: still valid.
        self.assertEqual(self.me(me["access_token"]).status, 200)
        self.assert_silent(m)
        self.assert_alive(m)
        self.assertEqual(self.api.login(name, PASSWORD, platform="desktop").status, 200)
        self.assert_error(self.api.login(name, NEW_PASSWORD, platform="desktop"), 401,
                          "unauthorized")
        # Longer than any password can be: same answer, no hashing.
        self.assert_error(self.change(me["access_token"], "x" * 300, NEW_PASSWORD), 401,
                          "unauthorized")

    def test_token_required(self):
        r = self.api.call("POST", "/api/auth/password",
                          {"old_password": PASSWORD, "new_password": NEW_PASSWORD})
        self.assert_error(r, 401, "unauthorized")
        r = self.api.call("POST", "/api/auth/password",
                          {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
                          token="not.a.token")
        self.assert_error(r, 401, "unauthorized")
        # A logged-out session cannot change the password either.
        name = self.new_user()
        me = self.login(name)
        self.assertEqual(self.api.call("POST", "/api/auth/logout",
                                       token=me["access_token"]).status, 204)
        self.assert_error(self.change(me["access_token"], PASSWORD, NEW_PASSWORD), 401,
                          "unauthorized")
        self.assertEqual(self.api.login(name, PASSWORD).status, 200)

    def test_bad_requests(self):
        name = self.new_user()
        tok = self.login(name)["access_token"]
        for new in ("short", "y" * 257):       # the register rules: 8-256 bytes
            err = self.assert_error(self.change(tok, PASSWORD, new), 400, "bad_request")
            self.assertIn("new_password", err["message"])
        path = "/api/auth/password"
        for body in ({"old_password": PASSWORD}, {"new_password": NEW_PASSWORD}, {},
                     {"old_password": PASSWORD, "new_password": 12345678},
                     {"old_password": None, "new_password": NEW_PASSWORD}, [1, 2]):
            self.assert_error(self.api.call("POST", path, body, token=tok), 400, "bad_request")
        for raw in (b"{", b"not json", b'{"old_password":"a","old_password":"b",'
                    b'"new_password":"cccccccc"}'):
            self.assert_error(self.api.call("POST", path, raw=raw, token=tok), 400,
                              "bad_request")
        big = json.dumps({"old_password": PASSWORD, "new_password": "z" * 5000}).encode()
        self.assert_error(self.api.call("POST", path, raw=big, token=tok), 413, "too_large")
        r = self.api.call("GET", path, token=tok)
        self.assertEqual(r.status, 405, r)
        # None of it changed anything.
        self.assertEqual(self.me(tok).status, 200)
        self.assertEqual(self.api.login(name, PASSWORD, platform="mobile").status, 200)

    def test_concurrent_changes_one_wins(self):
        name = self.new_user()
        a, b = self.login(name, "web", "w"), self.login(name, "mobile", "m")
        out = {}

        def change(key, tok, new):
            out[key] = (self.change(tok, PASSWORD, new).status, new)
        ts = [threading.Thread(target=change, args=("a", a["access_token"], "new password a")),
              threading.Thread(target=change, args=("b", b["access_token"], "new password b"))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        statuses = sorted(s for s, _ in out.values())
        self.assertEqual(statuses, [204, 401], out)
        won = next(new for s, new in out.values() if s == 204)
        lost = next(new for s, new in out.values() if s != 204)
        self.assertEqual(self.api.login(name, won, platform="desktop").status, 200)
        self.assert_error(self.api.login(name, lost, platform="desktop"), 401, "unauthorized")
        self.assert_error(self.api.login(name, PASSWORD, platform="desktop"), 401,
                          "unauthorized")


class PasswordRateTest(SessionBase):
    """Password changes share login's per-username rule, in a bucket of
    their own per user."""

    auth_env = {"NATTER_AUTH_LOGIN_RATE_USER": "1/3"}

    def test_attempts_limited_then_recover(self):
        name = self.new_user()
        tok = self.login(name)["access_token"]
        body = {"old_password": "guess guess", "new_password": NEW_PASSWORD}
        codes = [self.api.call("POST", "/api/auth/password", body, token=tok).status
                 for _ in range(5)]
        self.assertEqual(codes[:3], [401, 401, 401], codes)
        self.assertIn(429, codes[3:], codes)
        r = self.api.call("POST", "/api/auth/password", body, token=tok)
        err = self.assert_error(r, 429, "rate_limited")
        self.assertIn("retry in", err["message"])
        # Another user is not affected, and logging in still works: its own bucket.
        other = self.new_user()
        otok = self.login(other)["access_token"]
        r = self.api.call("POST", "/api/auth/password",
                          {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, token=otok)
        self.assertEqual(r.status, 204, r)
        self.login(name, "mobile", "m")
        time.sleep(1.2)
        r = self.api.call("POST", "/api/auth/password",
                          {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, token=tok)
        self.assertEqual(r.status, 204, r)
