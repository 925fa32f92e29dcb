"""test_auth.py - accounts, tokens and profiles through edge-http and the
auth pool, against API.md ("General", "Accounts and tokens", "Users").

One stack for the class: nats-server, redis, mariadb, one auth process and
two edge-http processes (A and B), so revocation is checked on an edge that
did not serve the logout.
"""

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import time
import unittest

from harness import Api, StackTestCase, unique_name

PASSWORD = "correct horse"
USER_KEYS = {"id", "username", "display_name", "avatar_url", "bio", "created_at"}


# -- JWT helpers (the test signs its own tokens with openssl) -------------

def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_parts(token):
    h, p, s = token.split(".")
    return json.loads(b64u_decode(h)), json.loads(b64u_decode(p)), s


def der_to_raw(der, size=32):
    """ECDSA signature: DER SEQUENCE { INTEGER r, INTEGER s } -> r || s, each
    left-padded to size bytes (the JWS form, RFC 7518 3.4)."""
    assert der[0] == 0x30, "not a DER sequence"
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02, "not a DER integer"
        n = der[i + 1]
        v = der[i + 2:i + 2 + n].lstrip(b"\x00")
        assert len(v) <= size
        out += v.rjust(size, b"\x00")
        i += 2 + n
    return out


def sign_es256(key_path, header, payload):
    signing_input = (b64u(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64u(json.dumps(payload, separators=(",", ":")).encode()))
    der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_path],
                         input=signing_input.encode(), stdout=subprocess.PIPE, check=True).stdout
    return signing_input + "." + b64u(der_to_raw(der))


def sign_hs256(secret, header, payload):
    signing_input = (b64u(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64u(json.dumps(payload, separators=(",", ":")).encode()))
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64u(mac)


class AuthTest(StackTestCase):

    @classmethod
    def start_roles(cls):
        cls.auth = cls.stack.start_role("auth")
        cls.edge_a = cls.stack.start_role("edge-http")
        cls.edge_b = cls.stack.start_role("edge-http")
        cls.api = Api(cls.edge_a.url)
        cls.api2 = Api(cls.edge_b.url)

    # -- helpers ----------------------------------------------------------

    def assert_error(self, r, status, code=None):
        """API.md: errors are the status plus {"error":{"code","message"}}."""
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), r.headers)
        body = r.json
        self.assertIsInstance(body, dict, r)
        self.assertEqual(set(body), {"error"}, r)
        err = body["error"]
        self.assertIsInstance(err.get("code"), str, r)
        self.assertIsInstance(err.get("message"), str, r)
        self.assertTrue(err["message"], r)
        if code is not None:
            self.assertEqual(err["code"], code, r)
        return err

    def assert_user(self, u, username=None):
        self.assertTrue(USER_KEYS <= set(u), u)
        self.assertFalse([k for k in u if "password" in k or "hash" in k], u)
        self.assertIsInstance(u["id"], str)
        self.assertTrue(u["id"])
        for k in ("username", "display_name", "avatar_url", "bio"):
            self.assertIsInstance(u[k], str, k)
        self.assertIsInstance(u["created_at"], int)
        now_ms = int(time.time() * 1000)
        self.assertLess(abs(now_ms - u["created_at"]), 24 * 3600 * 1000, "created_at is not ms")
        if username is not None:
            self.assertEqual(u["username"], username)

    def new_user(self, **extra):
        name = unique_name()
        r = self.api.register(name, PASSWORD, **extra)
        self.assertEqual(r.status, 201, r)
        return r.json["user"]

    def session(self, api=None, **extra):
        """A fresh user and a login: (user, login response body)."""
        u = self.new_user()
        r = (api or self.api).login(u["username"], PASSWORD, **extra)
        self.assertEqual(r.status, 200, r)
        return u, r.json

    def me(self, token, api=None):
        return (api or self.api).call("GET", "/api/users/me", token=token)

    # -- register ---------------------------------------------------------

    def test_register(self):
        name = unique_name()
        r = self.api.register(name, PASSWORD, display_name="Zoë 🙂")
        self.assertEqual(r.status, 201, r)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"))
        u = r.json["user"]
        self.assert_user(u, name)
        self.assertEqual(u["display_name"], "Zoë 🙂")  # UTF-8, 4-byte emoji included

    def test_register_without_display_name(self):
        name = unique_name()
        r = self.api.register(name, PASSWORD)
        self.assertEqual(r.status, 201, r)
        self.assert_user(r.json["user"], name)

    def test_register_duplicate(self):
        u = self.new_user()
        r = self.api.register(u["username"], "another password")
        self.assert_error(r, 409, "username_taken")
        # Seen from the other edge too (one store behind both).
        self.assert_error(self.api2.register(u["username"], PASSWORD), 409, "username_taken")

    def test_register_username_limits(self):
        base = unique_name("x")[:8]
        for name in (base[:3], (base + "a" * 32)[:32], base + "_.x", "0" + base):
            with self.subTest(name=name):
                r = self.api.register(name, PASSWORD)
                self.assertEqual(r.status, 201, r)
                self.assertEqual(r.json["user"]["username"], name)

    def test_register_bad_usernames(self):
        cases = {
            "too short": "ab",
            "too long": "a" * 33,
            "upper case": "Alice" + unique_name()[:6],
            "space": "al ice",
            "dash": "al-ice",
            "non-ascii": "zoë" + unique_name()[:4],
            "empty": "",
            "number": 12345,
            "null": None,
            "list": ["alice"],
        }
        for what, name in cases.items():
            with self.subTest(what=what):
                r = self.api.call("POST", "/api/auth/register", {"username": name, "password": PASSWORD})
                self.assert_error(r, 400, "bad_request")
        with self.subTest(what="missing"):
            r = self.api.call("POST", "/api/auth/register", {"password": PASSWORD})
            self.assert_error(r, 400, "bad_request")

    def test_register_password_limits(self):
        # 8 and 256 BYTES are fine; "é" is two bytes in UTF-8.
        for pw in ("p" * 8, "p" * 256, "éééé", "éé" + "p" * 4):
            with self.subTest(pw=pw[:20], n=len(pw.encode())):
                r = self.api.register(unique_name(), pw)
                self.assertEqual(r.status, 201, r)

    def test_register_bad_passwords(self):
        cases = {"7 bytes": "p" * 7, "257 bytes": "p" * 257, "7 bytes in 4 chars": "ééép",
                 "empty": "", "number": 12345678, "null": None}
        for what, pw in cases.items():
            with self.subTest(what=what):
                r = self.api.register(unique_name(), pw)
                self.assert_error(r, 400, "bad_request")
        with self.subTest(what="missing"):
            r = self.api.call("POST", "/api/auth/register", {"username": unique_name()})
            self.assert_error(r, 400, "bad_request")

    def test_register_bad_display_name(self):
        r = self.api.register(unique_name(), PASSWORD, display_name="d" * 65)
        self.assert_error(r, 400, "bad_request")

    def test_malformed_bodies(self):
        cases = {
            "truncated JSON": b'{"username": "abc", ',
            "not JSON": b"username=abc&password=12345678",
            "array": json.dumps([{"username": unique_name(), "password": PASSWORD}]).encode(),
            "string": b'"hello"',
            "number": b"42",
            "null": b"null",
            "empty": b"",
        }
        for what, raw in cases.items():
            for path in ("/api/auth/register", "/api/auth/login"):
                with self.subTest(what=what, path=path):
                    r = self.api.call("POST", path, raw=raw, headers={"Content-Type": "application/json"})
                    self.assert_error(r, 400, "bad_request")

    def test_body_too_large(self):
        # The stack runs with NATTER_HTTP_MAX_BODY=4096.
        body = json.dumps({"username": unique_name(), "password": PASSWORD, "display_name": "x" * 5000})
        r = self.api.call("POST", "/api/auth/register", raw=body.encode())
        self.assert_error(r, 413, "too_large")
        # Just under the limit is parsed (and refused for its content, not its size).
        body = json.dumps({"username": unique_name(), "password": PASSWORD, "display_name": "x" * 3900})
        self.assertLessEqual(len(body), 4096)
        self.assert_error(self.api.call("POST", "/api/auth/register", raw=body.encode()), 400, "bad_request")

    # -- login ------------------------------------------------------------

    def test_login(self):
        u = self.new_user()
        r = self.api.login(u["username"], PASSWORD)
        self.assertEqual(r.status, 200, r)
        b = r.json
        for k in ("access_token", "refresh_token"):
            self.assertIsInstance(b[k], str)
            self.assertTrue(b[k])
        self.assertEqual(b["expires_in"], 900)
        self.assert_user(b["user"], u["username"])
        self.assertEqual(b["user"]["id"], u["id"])
        # The access token: an ES256 JWT for this user, carrying a session id.
        header, payload, _ = jwt_parts(b["access_token"])
        self.assertEqual(header["alg"], "ES256")
        self.assertEqual(payload["sub"], u["id"])
        self.assertTrue(payload.get("sid"))
        self.assertEqual(payload["exp"] - payload["iat"], 900)
        self.assertLess(abs(payload["iat"] - time.time()), 300)
        self.assertNotEqual(b["refresh_token"], b["access_token"])

    def test_login_with_device_and_platform(self):
        u = self.new_user()
        for platform in ("web", "mobile", "desktop"):
            with self.subTest(platform=platform):
                r = self.api.login(u["username"], PASSWORD, device_id="dev-1", platform=platform)
                self.assertEqual(r.status, 200, r)
        self.assert_error(self.api.login(u["username"], PASSWORD, platform="toaster"), 400, "bad_request")

    def test_one_session_per_platform(self):
        # API.md: same platform + same device replaces, same platform + other
        # device kicks, other platforms coexist.
        u = self.new_user()
        def login(platform, device):
            r = self.api.login(u["username"], PASSWORD, platform=platform, device_id=device)
            self.assertEqual(r.status, 200, r)
            return r.json
        web1 = login("web", "d1")
        mob = login("mobile", "m1")
        web1b = login("web", "d1")                 # same device: replaces web1
        self.assert_error(self.me(web1["access_token"], self.api2), 401, "unauthorized")
        self.assert_error(self.refresh(web1["refresh_token"]), 401, "unauthorized")
        self.assertEqual(self.me(web1b["access_token"]).status, 200)
        web2 = login("web", "d2")                  # another device: kicks web1b
        self.assert_error(self.me(web1b["access_token"], self.api2), 401, "unauthorized")
        self.assertEqual(self.me(web2["access_token"]).status, 200)
        # The mobile session lived through all of it.
        self.assertEqual(self.me(mob["access_token"], self.api2).status, 200)
        self.assertEqual(self.refresh(mob["refresh_token"]).status, 200)
        # Both are stored as replaced (the event tells renewed from replaced).
        rows = self.stack.sql("SELECT revoke_reason FROM sessions s JOIN users u ON u.id = s.user_id "
                              "WHERE u.username = '%s' AND s.revoked_at IS NOT NULL "
                              "ORDER BY s.revoked_at" % u["username"])
        self.assertEqual(rows.split(), ["replaced", "replaced"])

    def test_login_failures_look_alike(self):
        u = self.new_user()
        wrong = self.api.login(u["username"], "wrong password")
        e1 = self.assert_error(wrong, 401, "unauthorized")
        unknown = self.api.login(unique_name("nobody"), PASSWORD)
        e2 = self.assert_error(unknown, 401, "unauthorized")
        self.assertEqual(e1["message"], e2["message"])
        self.assertEqual(e1, e2)

    def test_login_bad_requests(self):
        self.assert_error(self.api.call("POST", "/api/auth/login", {"username": "abc"}), 400, "bad_request")
        self.assert_error(self.api.call("POST", "/api/auth/login", {"password": PASSWORD}), 400, "bad_request")
        self.assert_error(self.api.call("POST", "/api/auth/login", {"username": 1, "password": PASSWORD}),
                          400, "bad_request")

    # -- access tokens ----------------------------------------------------

    def test_me(self):
        u, s = self.session()
        for api in (self.api, self.api2):   # any edge verifies with the public key
            r = self.me(s["access_token"], api)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["user"], u)

    def test_me_needs_a_token(self):
        self.assert_error(self.api.call("GET", "/api/users/me"), 401, "unauthorized")
        for bad in ("Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer x.y.z", "Bearer not-a-jwt"):
            with self.subTest(header=bad):
                r = self.api.call("GET", "/api/users/me", headers={"Authorization": bad})
                self.assert_error(r, 401, "unauthorized")

    def test_forged_signature(self):
        _, s = self.session()
        h, p, sig = s["access_token"].split(".")
        i = len(sig) // 2   # the middle: the last char may be only padding bits
        forged = h + "." + p + "." + sig[:i] + ("A" if sig[i] != "A" else "B") + sig[i + 1:]
        self.assert_error(self.me(forged), 401, "unauthorized")
        # A changed payload under the original signature.
        payload = json.loads(b64u_decode(p))
        payload["sub"] = payload["sub"] + "0"
        tampered = h + "." + b64u(json.dumps(payload).encode()) + "." + sig
        self.assert_error(self.me(tampered), 401, "unauthorized")

    def test_self_signed_token_is_accepted(self):
        # Proves the signing helper below is right, so the 401s of the next
        # tests mean what they say.
        _, s = self.session()
        header, payload, _ = jwt_parts(s["access_token"])
        now = int(time.time())
        payload.update(iat=now, exp=now + 300)
        token = sign_es256(self.stack.private_key, header, payload)
        self.assertEqual(self.me(token).status, 200)

    def test_token_from_another_key(self):
        _, s = self.session()
        header, payload, _ = jwt_parts(s["access_token"])
        other = os.path.join(self.stack.tmp, "other.key")
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", other],
                       check=True)
        self.assert_error(self.me(sign_es256(other, header, payload)), 401, "unauthorized")

    def test_expired_token(self):
        _, s = self.session()
        header, payload, _ = jwt_parts(s["access_token"])
        now = int(time.time())
        payload.update(iat=now - 7200, exp=now - 3600)
        self.assert_error(self.me(sign_es256(self.stack.private_key, header, payload)), 401, "unauthorized")

    def test_alg_none(self):
        _, s = self.session()
        h, p, sig = s["access_token"].split(".")
        for alg in ("none", "None", "NONE"):
            hn = b64u(json.dumps({"alg": alg, "typ": "JWT"}).encode())
            for token in (hn + "." + p + ".", hn + "." + p + "." + sig):
                with self.subTest(alg=alg, signed=token.endswith(sig)):
                    self.assert_error(self.me(token), 401, "unauthorized")

    def test_hs256_with_public_key_as_secret(self):
        # Algorithm confusion (STACK.md: libjwt accepts it unless the edge
        # insists on ES256).
        _, s = self.session()
        _, payload, _ = jwt_parts(s["access_token"])
        with open(self.stack.public_key, "rb") as f:
            pem = f.read()
        for secret in (pem, pem.rstrip(b"\n"), pem + b"\0"):
            token = sign_hs256(secret, {"alg": "HS256", "typ": "JWT"}, payload)
            self.assert_error(self.me(token), 401, "unauthorized")

    # -- profiles ---------------------------------------------------------

    def test_update_me(self):
        u, s = self.session()
        tok = s["access_token"]
        r = self.api.call("PUT", "/api/users/me", {"bio": "hello"}, token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["user"]["bio"], "hello")
        self.assertEqual(r.json["user"]["display_name"], u["display_name"])
        r = self.api.call("PUT", "/api/users/me", {"display_name": "D" * 64}, token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["user"]["display_name"], "D" * 64)
        self.assertEqual(r.json["user"]["bio"], "hello")      # partial: bio kept
        r = self.api.call("PUT", "/api/users/me", {"avatar_url": "https://example.com/a.png"}, token=tok)
        self.assertEqual(r.status, 200, r)
        me = self.me(tok, self.api2).json["user"]
        self.assertEqual((me["display_name"], me["bio"], me["avatar_url"]),
                         ("D" * 64, "hello", "https://example.com/a.png"))
        self.assertEqual((me["id"], me["username"], me["created_at"]),
                         (u["id"], u["username"], u["created_at"]))

    def test_update_me_validation(self):
        u, s = self.session()
        tok = s["access_token"]
        before = self.me(tok).json["user"]
        cases = {
            "display_name too long": {"display_name": "d" * 65},
            "bio too long": {"bio": "b" * 1000},
            "avatar_url not a string": {"avatar_url": 123},
            "display_name not a string": {"display_name": ["x"]},
            "bio not a string": {"bio": {"x": 1}},
            "valid and invalid together": {"bio": "ok", "display_name": "d" * 65},
        }
        for what, body in cases.items():
            with self.subTest(what=what):
                r = self.api.call("PUT", "/api/users/me", body, token=tok)
                self.assert_error(r, 400, "bad_request")
        # Nothing was half-applied.
        self.assertEqual(self.me(tok).json["user"], before)
        self.assert_error(self.api.call("PUT", "/api/users/me", raw=b"[1]", token=tok), 400, "bad_request")
        self.assert_error(self.api.call("PUT", "/api/users/me", {"bio": "x"}), 401, "unauthorized")

    def test_get_user_by_id(self):
        other = self.new_user()
        _, s = self.session()
        r = self.api.call("GET", "/api/users/" + other["id"], token=s["access_token"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["user"], other)
        for bad in ("999999999999", "abc", "0", "-1", "1%2F2"):
            with self.subTest(id=bad):
                r = self.api.call("GET", "/api/users/" + bad, token=s["access_token"])
                self.assert_error(r, 404, "not_found")
        self.assert_error(self.api.call("GET", "/api/users/" + other["id"]), 401, "unauthorized")

    def test_search_users(self):
        prefix = unique_name("s")[:13] + "_"
        names = [prefix + n for n in ("anna", "bob", "bea")]
        for n in names:
            self.assertEqual(self.api.register(n, PASSWORD).status, 201)
        self.new_user()  # someone else
        _, s = self.session()
        tok = s["access_token"]
        r = self.api.call("GET", "/api/users?q=" + prefix, token=tok)
        self.assertEqual(r.status, 200, r)
        found = [u["username"] for u in r.json["users"]]
        self.assertEqual(sorted(found), sorted(names))
        for u in r.json["users"]:
            self.assert_user(u)
        r = self.api.call("GET", "/api/users?q=" + prefix + "b", token=tok)
        self.assertEqual(sorted(u["username"] for u in r.json["users"]), sorted(names[1:]))
        r = self.api.call("GET", "/api/users?q=" + prefix + "zzz", token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["users"], [])
        # Not ASCII, like no username: nobody, not a 500 (found by ops/fuzz-live).
        for q in ("%C3%A9", prefix + "%C3%A9", "photo%20%C3%A9.jpg", "%FF"):
            with self.subTest(q=q):
                r = self.api.call("GET", "/api/users?q=" + q, token=tok)
                self.assertEqual((r.status, r.json), (200, {"users": []}), r)
        for path in ("/api/users", "/api/users?q=", "/api/users?x=1"):
            with self.subTest(path=path):
                self.assert_error(self.api.call("GET", path, token=tok), 400, "bad_request")
        self.assert_error(self.api.call("GET", "/api/users?q=" + prefix), 401, "unauthorized")

    # -- refresh and revocation -------------------------------------------

    def refresh(self, token, api=None):
        return (api or self.api).call("POST", "/api/auth/refresh", {"refresh_token": token})

    def test_refresh_rotates(self):
        u, s = self.session()
        r = self.refresh(s["refresh_token"])
        self.assertEqual(r.status, 200, r)
        n = r.json
        self.assertNotEqual(n["refresh_token"], s["refresh_token"])
        self.assertNotEqual(n["access_token"], s["access_token"])
        self.assertEqual(n["expires_in"], 900)
        self.assertEqual(self.me(n["access_token"]).json["user"]["id"], u["id"])
        # Same session: the new access token carries the same sid.
        self.assertEqual(jwt_parts(n["access_token"])[1]["sid"], jwt_parts(s["access_token"])[1]["sid"])
        # And the new refresh token works once more.
        r2 = self.refresh(n["refresh_token"], self.api2)
        self.assertEqual(r2.status, 200, r2)

    def test_refresh_reuse_revokes_the_session(self):
        _, s = self.session()
        n = self.refresh(s["refresh_token"]).json
        self.assertEqual(self.me(n["access_token"]).status, 200)
        self.assertEqual(self.me(n["access_token"], self.api2).status, 200)
        # The spent token again: refused, and the whole session is revoked.
        self.assert_error(self.refresh(s["refresh_token"]), 401, "unauthorized")
        self.assert_error(self.refresh(n["refresh_token"]), 401, "unauthorized")
        for api in (self.api, self.api2):
            self.assert_error(self.me(n["access_token"], api), 401, "unauthorized")
            self.assert_error(self.me(s["access_token"], api), 401, "unauthorized")

    def test_refresh_bad_tokens(self):
        for tok in ("", "x", "A" * 43, "A" * 5000):
            with self.subTest(tok=tok[:10]):
                r = self.refresh(tok)
                self.assertIn(r.status, (400, 401, 413), r)
                self.assert_error(r, r.status)
        self.assert_error(self.api.call("POST", "/api/auth/refresh", {}), 400, "bad_request")
        self.assert_error(self.api.call("POST", "/api/auth/refresh", {"refresh_token": 5}), 400, "bad_request")

    def test_logout(self):
        u, s = self.session()
        # A second session (another platform: the same one would replace it).
        other = self.api.login(u["username"], PASSWORD, platform="mobile").json
        self.assertEqual(self.me(s["access_token"], self.api2).status, 200)
        r = self.api.call("POST", "/api/auth/logout", token=s["access_token"])
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.body, b"")
        self.assert_error(self.refresh(s["refresh_token"]), 401, "unauthorized")
        # Refused at once on the edge that did not serve the logout, too.
        self.assert_error(self.me(s["access_token"], self.api2), 401, "unauthorized")
        self.assert_error(self.me(s["access_token"]), 401, "unauthorized")
        # Only that session: the user's other session lives on.
        self.assertEqual(self.me(other["access_token"], self.api2).status, 200)
        self.assertEqual(self.refresh(other["refresh_token"]).status, 200)

    def test_logout_needs_a_token(self):
        self.assert_error(self.api.call("POST", "/api/auth/logout"), 401, "unauthorized")

    def test_new_edge_knows_earlier_revocations(self):
        # DESIGN.md: the deny-list is loaded from the store at start.
        _, s = self.session()
        self.assertEqual(self.api.call("POST", "/api/auth/logout", token=s["access_token"]).status, 204)
        edge = self.stack.start_role("edge-http")
        try:
            self.assert_error(self.me(s["access_token"], Api(edge.url)), 401, "unauthorized")
        finally:
            edge.kill(signal.SIGTERM)
            self.assertEqual(edge.wait(10), 0)

    # -- routes and operations --------------------------------------------

    def test_unknown_route(self):
        for path in ("/api/nope", "/api/auth", "/nope", "/api/users/me/extra"):
            with self.subTest(path=path):
                self.assert_error(self.api.call("GET", path), 404, "not_found")

    def test_wrong_method(self):
        for method, path in (("DELETE", "/api/auth/login"), ("GET", "/api/auth/register"),
                             ("PATCH", "/api/users/me")):
            with self.subTest(method=method, path=path):
                r = self.api.call(method, path)
                self.assertIn(r.status, (404, 405), r)
                self.assert_error(r, r.status)

    def test_healthz(self):
        for api in (self.api, self.api2):
            r = api.call("GET", "/healthz")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json, {"status": "ok"})

    def test_metrics(self):
        self.api.login(unique_name("nobody"), PASSWORD)
        r = self.api.call("GET", "/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("content-type", "").startswith("text/plain"), r.headers)
        text = r.body.decode()
        self.assertIn("# TYPE natter_http_requests_total counter", text)
        self.assertIn("# TYPE natter_http_request_duration_seconds histogram", text)
        lines = [ln for ln in text.splitlines() if ln.startswith("natter_http_requests_total{")]
        self.assertTrue(any('route="' in ln and 'status="401"' in ln and "/api/auth/login" in ln
                            for ln in lines), lines)
        for suffix in ("_bucket{", "_sum", "_count"):
            self.assertIn("natter_http_request_duration_seconds" + suffix, text)
        self.assertIn('le="+Inf"', text)

    def test_micro_protocol(self):
        ping = [r for r in self.stack.micro("PING") if r.get("name") == "auth"]
        self.assertEqual(len(ping), len(self.stack.roles("auth")), ping)
        for r in ping:
            self.assertEqual(r["type"], "io.nats.micro.v1.ping_response")
            self.assertTrue(r["id"])
            self.assertTrue(r["version"])
        ping = self.stack.micro("PING", "auth")
        self.assertEqual({r["type"] for r in ping}, {"io.nats.micro.v1.ping_response"})
        one = ping[0]["id"]
        direct = self.stack.micro("PING", "auth." + one)
        self.assertEqual([r["id"] for r in direct], [one])

        info = self.stack.micro("INFO", "auth")
        self.assertTrue(info)
        for r in info:
            self.assertEqual(r["type"], "io.nats.micro.v1.info_response")
            self.assertEqual(r["name"], "auth")
            subjects = {e["subject"] for e in r["endpoints"]}
            self.assertTrue({"im.svc.auth.login", "im.svc.auth.register", "im.svc.auth.refresh",
                             "im.svc.auth.logout"} <= subjects, subjects)
            for e in r["endpoints"]:
                self.assertTrue(e["name"])
                # The auth service also serves the admin API (docs/API.md "Admin").
                self.assertTrue(e["subject"].startswith(("im.svc.auth.", "im.svc.admin.")), e)
                if "queue_group" in e:
                    self.assertEqual(e["queue_group"], "auth")

        self.api.login(unique_name("nobody"), PASSWORD)
        stats = self.stack.micro("STATS", "auth")
        self.assertTrue(stats)
        for r in stats:
            self.assertEqual(r["type"], "io.nats.micro.v1.stats_response")
            self.assertTrue(r["started"])
            for e in r["endpoints"]:
                for k in ("num_requests", "num_errors", "processing_time", "average_processing_time"):
                    self.assertIsInstance(e[k], int, (k, e))
        login = [e for r in stats for e in r["endpoints"] if e["subject"] == "im.svc.auth.login"]
        self.assertGreater(sum(e["num_requests"] for e in login), 0)

    def test_no_auth_pool_gives_503(self):
        # Stop every auth process: an edge must answer 503 unavailable within
        # its request timeout (1 s in the stack), not hang.
        for p in self.stack.roles("auth"):
            p.kill(signal.SIGTERM)
            self.assertEqual(p.wait(10), 0, p.tail())
        try:
            for what, call in (("login", lambda: self.api.login(unique_name(), PASSWORD)),
                               ("register", lambda: self.api.register(unique_name(), PASSWORD))):
                with self.subTest(what=what):
                    r = call()
                    self.assert_error(r, 503, "unavailable")
                    self.assertLess(r.elapsed, 3.0)
            # The edge itself is fine: NATS is connected.
            self.assertEqual(self.api.call("GET", "/healthz").status, 200)
        finally:
            type(self).auth = self.stack.start_role("auth")
        # And it recovers as soon as a pool process is back.
        self.session()


if __name__ == "__main__":
    unittest.main()
