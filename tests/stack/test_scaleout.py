"""test_scaleout.py - a pool scales by starting processes (DESIGN.md
"Scaling out"): two auth processes share the queue group "auth", a killed
one costs no request, and SIGTERM drains and exits 0.
"""

import signal
import threading
import time
import unittest

from harness import Api, StackTestCase, unique_name

PASSWORD = "correct horse"


class ScaleOutTest(StackTestCase):

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth")
        cls.stack.start_role("auth")
        cls.edge = cls.stack.start_role("edge-http")
        cls.api = Api(cls.edge.url)
        cls.users = [unique_name() for _ in range(4)]
        for u in cls.users:
            r = cls.api.register(u, PASSWORD)
            assert r.status == 201, r

    def ensure_auth(self, n):
        """Exactly n live auth processes (earlier tests kill some)."""
        while len(self.stack.roles("auth")) < n:
            self.stack.start_role("auth")
        live = self.stack.roles("auth")
        self.assertEqual(len(live), n)
        return live

    def work(self, count):
        """count requests that need the pool (logins and profile reads);
        returns the statuses."""
        statuses = []
        token = None
        for i in range(count):
            u = self.users[i % len(self.users)]
            if i % 2 == 0 or token is None:
                r = self.api.login(u, PASSWORD)
                if r.status == 200:
                    token = r.json["access_token"]
            else:
                r = self.api.call("GET", "/api/users/me", token=token)
            statuses.append(r.status)
        return statuses

    def requests_by_instance(self):
        out = {}
        for r in self.stack.micro("STATS", "auth"):
            out[r["id"]] = sum(e["num_requests"] for e in r["endpoints"])
        return out

    def test_1_queue_group_spreads_load(self):
        live = self.ensure_auth(2)
        ids = {p.micro_id for p in live}
        self.assertEqual(len(ids), 2)
        statuses = self.work(40)
        self.assertEqual([s for s in statuses if s // 100 != 2], [], statuses)
        counts = self.requests_by_instance()
        self.assertEqual(set(counts), ids, counts)
        for i, n in counts.items():
            self.assertGreater(n, 0, "instance %s served nothing: %r" % (i, counts))

    def test_2_sigkill_loses_no_request(self):
        a, b = self.ensure_auth(2)
        a.kill(signal.SIGKILL)
        self.assertEqual(a.wait(5), -signal.SIGKILL)
        # nats-server drops the dead connection (and its queue subscription)
        # as soon as it sees the socket close; from then on nothing is lost.
        deadline = time.monotonic() + 5
        while self.stack.micro_ids("auth") != {b.micro_id} and time.monotonic() < deadline:
            time.sleep(0.05)
        statuses = self.work(20)
        self.assertEqual(statuses, [s for s in statuses if s // 100 == 2], statuses)
        self.assertEqual(set(self.requests_by_instance()), {b.micro_id})

    def test_3_sigterm_idle_exits_zero(self):
        self.ensure_auth(1)
        fresh = self.stack.start_role("auth")   # so the stack keeps working
        old = [p for p in self.stack.roles("auth") if p is not fresh]
        self.assertEqual(len(old), 1)
        t0 = time.monotonic()
        old[0].kill(signal.SIGTERM)
        rc = old[0].wait(10)
        self.assertEqual(rc, 0, old[0].tail())
        self.assertLess(time.monotonic() - t0, 10)
        statuses = self.work(10)
        self.assertEqual([s for s in statuses if s // 100 != 2], [], statuses)
        self.assertEqual(set(self.requests_by_instance()), {fresh.micro_id})

    def test_4_sigterm_under_load_drains(self):
        # Requests keep flowing while one of two instances drains: whatever it
        # had taken it finishes, new ones go to the other, none fails.
        a, b = self.ensure_auth(2)
        statuses = []
        stop = threading.Event()
        lock = threading.Lock()

        def client():
            api = Api(self.edge.url)
            i = 0
            while not stop.is_set() and i < 200:
                r = api.login(self.users[i % len(self.users)], PASSWORD)
                with lock:
                    statuses.append(r.status)
                i += 1

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.5)
            a.kill(signal.SIGTERM)
            rc = a.wait(10)
            time.sleep(0.3)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertEqual(rc, 0, a.tail())
        self.assertTrue(statuses)
        self.assertEqual([s for s in statuses if s != 200], [], "%d requests" % len(statuses))
        self.assertTrue(b.alive())


if __name__ == "__main__":
    unittest.main()
