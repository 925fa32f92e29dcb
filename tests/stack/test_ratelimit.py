"""test_ratelimit.py - login attempts are limited per client address and
per username (token buckets in Redis shared by every auth process), answer
429 rate_limited, recover when the bucket refills, and never lock anyone
out when Redis is down."""

import signal
import time

from harness import Api, StackTestCase, unique_name


class LoginRateTest(StackTestCase):

    @classmethod
    def start_roles(cls):
        limits = {"NATTER_AUTH_LOGIN_RATE_IP": "off", "NATTER_AUTH_LOGIN_RATE_USER": "2/3",
                  "NATTER_REDIS_TIMEOUT_MS": "200"}
        # Two auth processes: the bucket is in Redis, not in a process.
        cls.stack.start_role("auth", limits)
        cls.stack.start_role("auth", limits)
        cls.api = Api(cls.stack.start_role("edge-http").url)

    def test_user_bucket_refuses_then_recovers(self):
        name = unique_name("rl")
        self.assertEqual(self.api.register(name).status, 201)
        codes = [self.api.login(name).status for _ in range(6)]
        self.assertEqual(codes[:3], [200, 200, 200], codes)
        self.assertIn(429, codes[3:], codes)
        r = self.api.login(name, password="wrong password")
        if r.status == 429:
            body = r.json
            self.assertEqual(body["error"]["code"], "rate_limited")
            self.assertIn("retry in", body["error"]["message"])
        # Another user is not affected.
        other = unique_name("rl")
        self.api.register(other)
        self.assertEqual(self.api.login(other).status, 200)
        time.sleep(1.6)   # 2 tokens/s: at least 3 back
        self.assertEqual(self.api.login(name).status, 200)

    def test_wrong_passwords_count_too(self):
        name = unique_name("rl")
        self.api.register(name)
        codes = [self.api.login(name, password="nope nope").status for _ in range(5)]
        self.assertEqual(codes[:3], [401, 401, 401], codes)
        self.assertEqual(codes[4], 429, codes)

    def test_redis_down_fails_open(self):
        name = unique_name("rl")
        self.api.register(name)
        redis = self.stack.servers["redis"]
        redis.kill(signal.SIGKILL)
        redis.wait(5)
        try:
            t0 = time.monotonic()
            codes = [self.api.login(name).status for _ in range(5)]
            self.assertEqual(codes, [200] * 5)
            self.assertLess(time.monotonic() - t0, 5)
        finally:
            self.stack.restart_redis()


class LoginRateIpTest(StackTestCase):

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth", {"NATTER_AUTH_LOGIN_RATE_IP": "1/4",
                                      "NATTER_AUTH_LOGIN_RATE_USER": "off"})
        cls.api = Api(cls.stack.start_role("edge-http").url)

    def test_address_bucket_spans_usernames(self):
        names = [unique_name("ri") for _ in range(6)]
        for n in names:
            self.api.register(n)
        codes = [self.api.login(n).status for n in names]
        self.assertEqual(codes[:4], [200] * 4, codes)
        self.assertEqual(codes[5], 429, codes)
