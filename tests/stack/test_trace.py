"""test_trace.py - `natter trace` shows bus traffic with decoded bodies and
never shows a password or a token."""

import time

from harness import Api, StackTestCase, unique_name


class TraceTest(StackTestCase):

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth")
        cls.edge = cls.stack.start_role("edge-http")
        cls.api = Api(cls.edge.url)
        cls.trace = cls.stack.start_role("trace", wait=False)
        deadline = time.monotonic() + 10
        while "tracing" not in cls.log() and time.monotonic() < deadline:
            time.sleep(0.05)

    @classmethod
    def log(cls):
        with open(cls.trace.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_for(self, needle, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            if needle in text:
                return text
            time.sleep(0.05)
        self.fail("%r not in trace output:\n%s" % (needle, self.log()[-3000:]))

    def test_login_is_decoded_and_masked(self):
        name = unique_name("tr")
        self.assertEqual(self.api.register(name, password="very secret words").status, 201)
        r = self.api.login(name, password="very secret words")
        self.assertEqual(r.status, 200)
        tok = r.json
        text = self.wait_for("im.svc.auth.login")
        line = [l for l in text.splitlines() if "im.svc.auth.login" in l][-1]
        self.assertIn("type=natter.LoginReq", line)
        self.assertIn('"username":"%s"' % name, line)
        self.assertIn('"password":"***"', line)
        self.assertIn("trace=", line)
        self.assertNotIn("very secret words", text)
        self.assertNotIn(tok["refresh_token"], text)
        self.assertNotIn(tok["access_token"], text)

    def test_uid_header_shown(self):
        name = unique_name("tr")
        self.api.register(name)
        tok = self.api.login(name).json
        uid = tok["user"]["id"]
        self.assertEqual(self.api.call("GET", "/api/users/me", token=tok["access_token"]).status, 200)
        text = self.wait_for("uid=%s" % uid)
        self.assertIn("type=natter.UserGetReq", text)
