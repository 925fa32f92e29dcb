"""A pool's own /healthz and /metrics (cmd/role_ops.c, ops.http_port).

One stack: auth, msg and presence each with an ops port, edge-http for
traffic.  Checked: health answers ok while every dependency answers; the
request counters move by exactly the requests made; unknown paths and
methods get 404; with Redis killed presence (which cannot work without
it) turns 503 naming redis while auth (whose rate limits let requests
through) stays 200, and both are ok again once Redis is back.
"""
import json
import re
import time
import unittest

from harness import Api, StackTestCase, free_port, http_request, unique_name

POOLS = ("auth", "msg", "presence", "media")


def counter(text, name, service, endpoint):
    m = re.search(r'^%s\{service="%s",endpoint="%s"\} ([0-9.]+)$' % (name, service, endpoint),
                  text, re.M)
    return float(m.group(1)) if m else None


class PoolOpsTest(StackTestCase):

    @classmethod
    def start_roles(cls):
        cls.urls = {}
        for role in POOLS:
            port = free_port(cls.stack.ports)
            cls.stack.start_role(role, {"NATTER_OPS_HTTP_PORT": str(port)})
            cls.urls[role] = "http://127.0.0.1:%d" % port
        cls.api = Api(cls.stack.start_role("edge-http").url)

    def get(self, role, path, method="GET"):
        status, _, body = http_request(self.urls[role], method, path, timeout=5)
        return status, body

    def metrics(self, role):
        status, body = self.get(role, "/metrics")
        self.assertEqual(status, 200)
        return body.decode()

    def wait_health(self, role, want, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            status, body = self.get(role, "/healthz")
            if status == want or time.monotonic() > deadline:
                return status, json.loads(body)
            time.sleep(0.2)

    def test_health_ok_for_every_pool(self):
        for role in POOLS:
            status, body = self.get(role, "/healthz")
            self.assertEqual(status, 200, role)
            self.assertEqual(json.loads(body), {"status": "ok"}, role)

    def test_metrics_count_requests_exactly(self):
        before = self.metrics("auth")
        n0 = counter(before, "natter_requests_total", "auth", "register")
        self.assertIsNotNone(n0, before[:2000])
        e0 = counter(before, "natter_request_errors_total", "auth", "register")
        name = unique_name("ops")
        self.assertEqual(self.api.register(name).status, 201)
        self.assertEqual(self.api.register(name).status, 409)  # taken: an error answer
        after = self.metrics("auth")
        self.assertEqual(counter(after, "natter_requests_total", "auth", "register"), n0 + 2)
        self.assertEqual(counter(after, "natter_request_errors_total", "auth", "register"), e0 + 1)
        self.assertGreater(counter(after, "natter_request_seconds_total", "auth", "register"), 0)
        self.assertIn("# TYPE natter_requests_total counter", after)
        rss = re.search(r"^process_resident_memory_bytes (\d+)$", after, re.M)
        self.assertIsNotNone(rss)
        self.assertGreater(int(rss.group(1)), 1 << 20)
        # Every pool reports its own service name.
        self.assertIn('service="msg"', self.metrics("msg"))
        self.assertIn('service="presence"', self.metrics("presence"))
        self.assertIn('service="media"', self.metrics("media"))

    def test_unknown_paths_and_methods(self):
        self.assertEqual(self.get("msg", "/nope")[0], 404)
        self.assertEqual(self.get("msg", "/healthz", method="POST")[0], 404)
        self.assertEqual(self.get("msg", "/metrics/x")[0], 404)

    def test_redis_down_only_fails_the_pool_that_needs_it(self):
        redis = self.stack.servers["redis"]
        redis.kill(9)
        redis.wait(5)
        try:
            status, body = self.wait_health("presence", 503)
            self.assertEqual(status, 503)
            self.assertEqual(body, {"status": "unavailable", "failed": "redis"})
            self.assertEqual(self.get("auth", "/healthz")[0], 200)
            self.assertEqual(self.get("msg", "/healthz")[0], 200)
        finally:
            self.stack.restart_redis()
        status, body = self.wait_health("presence", 200)
        self.assertEqual((status, body), (200, {"status": "ok"}))


if __name__ == "__main__":
    unittest.main()
