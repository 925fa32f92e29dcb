"""The auth pool deletes long-expired refresh tokens (actors/auth_prune.c).

auth runs with a one-second prune interval and a 60 s margin.  Three
sessions' tokens are aged by hand: expired 2 minutes ago (past the margin:
deleted), expired 10 s ago (inside the margin: kept, so a late replay is
still recognised as reuse), and live (kept, and still refreshes).
"""
import time
import unittest

from harness import Api, StackTestCase, unique_name


class AuthPruneTest(StackTestCase):

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth", {"NATTER_AUTH_PRUNE_S": "1",
                                      "NATTER_AUTH_PRUNE_MARGIN_S": "60"})
        cls.api = Api(cls.stack.start_role("edge-http").url)

    def session(self):
        name = unique_name("pr")
        self.assertEqual(self.api.register(name).status, 201)
        r = self.api.login(name)
        self.assertEqual(r.status, 200, r)
        sid = self.stack.sql("SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id "
                             "WHERE u.username = '%s'" % name).strip()
        return sid, r.json["refresh_token"]

    def tokens(self, sid):
        return int(self.stack.sql("SELECT COUNT(*) FROM refresh_tokens WHERE session_id = '%s'"
                                  % sid).strip())

    def test_only_tokens_expired_past_the_margin_go(self):
        old, _ = self.session()
        recent, _ = self.session()
        live, live_refresh = self.session()
        self.stack.sql("UPDATE refresh_tokens SET expires_at = UNIX_TIMESTAMP() - 120 "
                       "WHERE session_id = '%s'" % old)
        self.stack.sql("UPDATE refresh_tokens SET expires_at = UNIX_TIMESTAMP() - 10 "
                       "WHERE session_id = '%s'" % recent)
        deadline = time.monotonic() + 10
        while self.tokens(old) and time.monotonic() < deadline:
            time.sleep(0.3)
        self.assertEqual(self.tokens(old), 0)
        time.sleep(1.5)  # at least one more round
        self.assertEqual(self.tokens(recent), 1)
        self.assertEqual(self.tokens(live), 1)
        r = self.api.call("POST", "/api/auth/refresh", {"refresh_token": live_refresh})
        self.assertEqual(r.status, 200, r)


if __name__ == "__main__":
    unittest.main()
