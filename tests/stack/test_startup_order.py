"""test_startup_order.py - a role started before NATS, MariaDB or Redis waits
for them and comes up once they do (issue 11): it tries again after 0.1 s,
doubling to 5 s, logs each try, and a stop signal ends the wait.

One stack, started backwards: only nats-server at first, then nats-server
stopped too; the roles start with nothing to talk to; then Redis, MariaDB
(created and migrated) and NATS come up one by one, and every role must
become ready without being restarted.
"""

import signal
import time
import unittest

from harness import Api, Stack, http_request, unique_name


def count(proc, text):
    with open(proc.log_path, "rb") as f:
        return f.read().decode("utf-8", "replace").count(text)


def wait_log(proc, text, n=1, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if count(proc, text) >= n:
            return True
        if not proc.alive():
            raise AssertionError("%s exited %s while waiting; log:\n%s"
                                 % (proc.name, proc.popen.poll(), proc.tail()))
        time.sleep(0.05)
    raise AssertionError("%s: %d x %r not in the log after %.0fs; log:\n%s"
                         % (proc.name, n, text, timeout, proc.tail()))


class StartupOrderTest(unittest.TestCase):

    def setUp(self):
        self.stack = Stack(services=("nats",), migrate=False)
        self.stack.failed = True     # logs printed at close unless the test ends well

    def tearDown(self):
        bad = self.stack.close()
        self.assertEqual(bad, [], "roles did not exit 0 on SIGTERM")

    def passed(self):
        self.stack.failed = False

    def test_roles_before_their_dependencies(self):
        st = self.stack
        st.stop_server("nats")
        roles = {r: st.start_role(r, wait=False) for r in ("presence", "auth", "msg", "edge-http")}
        # presence needs Redis first; the others the database first.
        t0 = time.monotonic()
        wait_log(roles["presence"], "redis not reachable, retrying", 3)
        for r in ("auth", "msg"):
            wait_log(roles[r], "database not reachable, retrying", 3)
        # edge-http needs only NATS.
        wait_log(roles["edge-http"], "bus not reachable, retrying", 3)
        time.sleep(max(0.0, 3.0 - (time.monotonic() - t0)))
        # Once per back-off step (0.1, 0.2, 0.4, 0.8, 1.6 s ...), not per
        # try of some inner loop: about log2 of the time waited.
        waited = time.monotonic() - t0
        for r in ("auth", "msg"):
            n = count(roles[r], "database not reachable, retrying")
            self.assertLessEqual(n, 8, "%s logged %d tries in %.1fs" % (r, n, waited))
        st.start_server("redis")
        wait_log(roles["presence"], "redis reachable")
        wait_log(roles["presence"], "database not reachable, retrying")
        st.start_server("mariadb")
        for r in ("presence", "auth", "msg"):
            wait_log(roles[r], "database reachable", timeout=30)
            wait_log(roles[r], "bus not reachable, retrying")
        st.restart_server("nats")
        for r, p in roles.items():
            wait_log(p, "bus connected after waiting", timeout=30)
        for r in ("presence", "auth", "msg"):
            st._wait(r, roles[r], lambda r=r: len(st.micro_ids(r)) == 1)
        # And they work: a user registers through edge-http and auth.
        url = roles["edge-http"].url
        st._wait("edge-http", roles["edge-http"],
                 lambda: http_request(url, "GET", "/healthz", timeout=2)[0] == 200)
        r = Api(url).register(unique_name("s"))
        self.assertEqual(r.status, 201, r)
        for p in roles.values():
            self.assertTrue(p.alive(), p.name)
        self.passed()

    def test_stop_signal_ends_the_wait(self):
        st = self.stack        # no database: auth waits for it
        p = st.start_role("auth", wait=False)
        wait_log(p, "database not reachable, retrying", 2)
        t0 = time.monotonic()
        p.kill(signal.SIGTERM)
        self.assertEqual(p.wait(5), 0, p.tail())   # a clean stop (no leak report)
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertEqual(count(p, "stop signal before start"), 1, p.tail())
        # The same while waiting for NATS (after the database).
        st.start_server("mariadb")
        st.stop_server("nats")
        q = st.start_role("auth", wait=False)
        wait_log(q, "bus not reachable, retrying", 2)
        t0 = time.monotonic()
        q.kill(signal.SIGTERM)
        self.assertEqual(q.wait(5), 0, q.tail())
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertEqual(count(q, "stop signal before start"), 1, q.tail())
        self.passed()


if __name__ == "__main__":
    unittest.main()
