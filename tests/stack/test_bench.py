"""test_bench.py - natter-bench, the load client behind ops/bench (issue 12),
against a real stack: its own WebSocket client must count what it claims.

One stack for the class: auth, msg, edge-http, edge-ws.  natter-bench is
taken from next to the natter binary under test (build-test/ builds it
with sanitizers too).

  rate      10 pairs at 100 msg/s: every send acknowledged and delivered
            once, no errors, latencies reported
  flat      the same flat out (window 2): deliveries = acknowledged sends
  idle      sessions from 127.0.0.2 (--src) ping every 0.5 s: each ping
            answered, nothing closed
  refused   a bad token among good ones is not counted as connected
            (the edge closes it); an HTTP server that does not upgrade
            is a connect failure for every session
  sigterm   an idle hold of 60 s ends at SIGTERM with its report
"""

import os
import re
import select
import signal
import subprocess
import tempfile
import time

from harness import Api, StackTestCase, natter_bin, unique_name

BENCH = os.path.join(os.path.dirname(natter_bin()), "natter-bench")


def parse(out):
    """{'connected': (n, of), 'sends': .., 'acked': .., 'deliveries': .., 'errors': ..,
    'closes': .., 'conn_fail': .., 'pings': .., 'pongs': ..} from a report."""
    f = {}
    for pat, keys in ((r"connected=(\d+) of (\d+)", ("connected", "of")),
                      (r"sends=(\d+) acknowledged=(\d+)", ("sends", "acked")),
                      (r"deliveries=(\d+)", ("deliveries",)),
                      (r"errors=(\d+) closes=(\d+) connect_failures=(\d+)",
                       ("errors", "closes", "conn_fail")),
                      (r"closes=(\d+) pings=(\d+) pongs=(\d+) errors=(\d+)",
                       ("closes", "pings", "pongs", "errors"))):
        m = re.search(pat, out)
        if m:
            f.update(zip(keys, map(int, m.groups())))
    return f


class BenchTest(StackTestCase):

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth")
        cls.stack.start_role("msg")
        http = cls.stack.start_role("edge-http")
        cls.http_port = http.port
        cls.api = Api(http.url)
        cls.ws = cls.stack.start_role("edge-ws")
        cls.users = [cls.user() for _ in range(20)]
        cls.convs = []
        for k in range(10):
            a, b = cls.users[2 * k], cls.users[2 * k + 1]
            r = cls.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": b[0]},
                             token=a[1])
            assert r.status in (200, 201), r
            cls.convs += [r.json["conversation"]["id"]] * 2

    @classmethod
    def user(cls):
        name = unique_name("bn")
        r = cls.api.register(name)
        assert r.status == 201, r
        r = cls.api.login(name)
        assert r.status == 200, r
        return r.json["user"]["id"], r.json["access_token"]

    def sessions(self, lines):
        with tempfile.NamedTemporaryFile("w", suffix=".sessions", delete=False) as f:
            f.write("\n".join(lines) + "\n")
        self.addCleanup(os.unlink, f.name)
        return f.name

    def pairs(self):
        return self.sessions(["%s %s" % (u[1], c) for u, c in zip(self.users, self.convs)])

    def bench(self, path, *args, timeout=60):
        r = subprocess.run([BENCH, "--port", str(self.ws.port), "--sessions", path] +
                           [str(a) for a in args], capture_output=True, text=True,
                           timeout=timeout)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout, parse(r.stdout)

    def test_rate(self):
        out, f = self.bench(self.pairs(), "--rate", 100, "--duration", 2, "--window", 4)
        self.assertEqual((f["connected"], f["of"]), (20, 20), out)
        self.assertGreaterEqual(f["sends"], 190, out)
        self.assertEqual(f["acked"], f["sends"], out)
        self.assertEqual(f["deliveries"], f["sends"], out)
        self.assertEqual((f["errors"], f["closes"], f["conn_fail"]), (0, 0, 0), out)
        self.assertRegex(out, r"send_to_deliver_ms p50=[\d.]+ p99=[\d.]+")

    def test_flat(self):
        out, f = self.bench(self.pairs(), "--rate", 0, "--duration", 1, "--window", 2)
        self.assertGreater(f["acked"], 20, out)
        self.assertEqual(f["deliveries"], f["acked"], out)
        self.assertEqual(f["sends"], f["acked"], out)
        self.assertEqual(f["errors"], 0, out)

    def test_idle(self):
        path = self.sessions(["%s 0" % u[1] for u in self.users[:5]])
        out, f = self.bench(path, "--idle", "--hold", 2, "--ping", 0.5, "--src", "127.0.0.2")
        self.assertEqual((f["connected"], f["of"]), (5, 5), out)
        self.assertGreaterEqual(f["pings"], 15, out)       # 5 sessions x 4 per 2 s
        self.assertGreaterEqual(f["pongs"], f["pings"] - 5, out)
        self.assertLessEqual(f["pongs"], f["pings"], out)
        self.assertEqual((f["closes"], f["errors"]), (0, 0), out)

    def test_refused(self):
        # A bad token: the edge says why and closes; never counted as connected.
        path = self.sessions(["%s 0" % self.users[0][1], "not-a-token 0", "%s 0" % self.users[1][1]])
        out, f = self.bench(path, "--idle", "--hold", 0.5)
        self.assertEqual((f["connected"], f["of"]), (2, 3), out)
        self.assertEqual(f["closes"], 1, out)
        # No WebSocket there (edge-http answers the upgrade with no 101).
        r = subprocess.run([BENCH, "--port", str(self.http_port), "--sessions", path, "--rate",
                            "10", "--duration", "0.5"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        f = parse(r.stdout)
        self.assertEqual((f["connected"], f["conn_fail"], f["sends"]), (0, 3, 0), r.stdout)

    def test_sigterm(self):
        path = self.sessions(["%s 0" % u[1] for u in self.users[:3]])
        p = subprocess.Popen([BENCH, "--port", str(self.ws.port), "--sessions", path, "--idle",
                              "--hold", "60", "--ping", "1"], stdout=subprocess.PIPE, text=True)
        try:
            r, _, _ = select.select([p.stdout], [], [], 20)
            self.assertTrue(r, "no connected= line")
            self.assertIn("connected=3 of 3", p.stdout.readline())
            t = time.monotonic()
            p.send_signal(signal.SIGTERM)
            out, _ = p.communicate(timeout=10)
            self.assertLess(time.monotonic() - t, 5)
            self.assertEqual(p.returncode, 0)
            self.assertIn("after_hold", out)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
