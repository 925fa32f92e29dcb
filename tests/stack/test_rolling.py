"""test_rolling.py - a rolling restart loses nothing (issue 13 section 2,
docs/operations.md "Rolling restart").

A stack with two of every role (auth, msg, presence, media, edge-http,
edge-ws) carries a steady message load: PAIRS direct conversations, both
members online over WebSocket through faultload.py's client (the one the
fault tests use: retries with the same client_msg_id, acks, sync after a
gap and after every reconnect; here it also spreads its sockets over both
edge-ws and, on close 1012, waits the "retry_ms" the edge asked for and
reconnects to the other edge).  Next to it a REST client keeps calling
every pool through both edge-http (profile, contacts, conversations,
presence, a small upload).  Then every natter process is restarted one by
one: SIGTERM, wait for exit 0, start it again (an edge on its port), wait
until it answers.  After the last restart and a few seconds more, the
clients stop sending, finish what is in flight, and sync the whole run.

Nothing acknowledged may be lost, nothing shown twice, no WebSocket send
may fail except with the retryable `unavailable` (and none may go
unanswered), no REST call may fail except with 503 `unavailable` (a refused
connection to a stopped edge-http is retried on the other one: that is the
balancer's job and is counted).  It prints reconnects, retried sends and
the longest send->deliver gap.  NATS nodes are not restarted here (one
nats-server); the cluster test restarts those.

Cost: about 60-90 s with the sanitizer build (12 restarts, ws.drain_s=2).
NATTER_ROLLING_PAIRS / NATTER_ROLLING_RATE change the load.
"""

import collections
import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time

import faults
import harness
from harness import Api, StackTestCase

ROLES = ("auth", "msg", "presence", "media", "edge-http", "edge-ws")
PAIRS = int(os.environ.get("NATTER_ROLLING_PAIRS", "20"))
RATE = float(os.environ.get("NATTER_ROLLING_RATE", "100"))   # msgs/s, all sessions
WS_DRAIN_S = 2
EXIT_TIMEOUT_S = 30


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def restart(stack, p):
    """SIGTERM p, wait for its exit code, start the role again (an edge on
    the same port) -> (exit code, seconds to exit, seconds until the new one
    answers)."""
    t0 = time.monotonic()
    p.kill(signal.SIGTERM)
    try:
        rc = p.wait(EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        rc = "timeout"
    t_exit = time.monotonic() - t0
    env = {}
    if p.role == "edge-http":
        env["NATTER_HTTP_PORT"] = str(p.port)
    elif p.role == "edge-ws":
        env["NATTER_WS_PORT"] = str(p.port)
    stack.start_role(p.role, env)
    return rc, t_exit, time.monotonic() - t0 - t_exit


class Balancer(threading.Thread):
    """What a load balancer does in front of the edge-http processes: asks
    each /healthz every 50 ms and sends clients only to those answering
    200 (a draining edge says 503 "draining" for http.drain_s before it
    closes its listener)."""

    def __init__(self, urls):
        super().__init__(daemon=True)
        self.urls = urls
        self.healthy = list(urls)
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            ok = []
            for u in self.urls:
                try:
                    status, _, _ = harness.http_request(u, "GET", "/healthz", timeout=1)
                except (OSError, http.client.HTTPException):
                    status = None
                if status == 200:
                    ok.append(u)
            self.healthy = ok
            time.sleep(0.05)

    def pick(self, i):
        live = self.healthy or self.urls
        return live[i % len(live)]


class RestLoad(threading.Thread):
    """Calls every pool through the edge-http processes (chosen by the
    Balancer) until stopped.  A 503 `unavailable` is retried (counted), a
    refused connection goes to the next edge (counted); a connection closed
    without an answer, or anything else that is not 2xx, is a failure."""

    def __init__(self, urls, token, peer):
        super().__init__(daemon=True)
        self.balancer = Balancer(urls)
        self.token, self.peer = token, peer
        self.stop = threading.Event()
        self.counts = collections.Counter()
        self.failures = []

    def calls(self, i):
        yield "GET", "/api/users/me", None, None
        yield "GET", "/api/contacts", None, None
        yield "GET", "/api/conversations", None, None
        yield "GET", "/api/presence?user_ids=%s" % self.peer, None, None
        yield ("POST", "/api/files/upload?name=r%d.txt" % i, None,
               ("rolling %d" % i).encode())

    def one(self, i, method, path, raw):
        for attempt in range(50):
            url = self.balancer.pick(i + attempt)
            try:
                headers = {"Content-Type": "text/plain"} if raw is not None else None
                r = Api(url).call(method, path, token=self.token, raw=raw, headers=headers,
                                  timeout=10)
            except ConnectionRefusedError:
                self.counts["refused"] += 1      # a stopped edge: try the next one
                time.sleep(0.05)
                continue
            except (OSError, http.client.HTTPException) as e:
                # A request the edge had taken and dropped: a drain bug.
                self.counts["dropped"] += 1
                self.failures.append((method, path, "dropped: %r" % e))
                continue
            if r.status // 100 == 2:
                self.counts["ok"] += 1
                return
            try:
                code = r.json.get("error", {}).get("code")
            except ValueError:
                code = None
            if r.status == 503 and code == "unavailable":
                self.counts["unavailable"] += 1
                time.sleep(0.1)
                continue
            self.failures.append((method, path, r.status, r.body[:200]))
            return
        self.failures.append((method, path, "gave up"))

    def run(self):
        self.balancer.start()
        i = 0
        while not self.stop.is_set():
            i += 1
            for method, path, _, raw in self.calls(i):
                self.one(i, method, path, raw)
            time.sleep(0.02)
        self.balancer.stop.set()
        self.balancer.join(5)


class RollingRestartTest(StackTestCase):

    @classmethod
    def start_roles(cls):
        cls.stack.extra_env.update({"NATTER_WS_DRAIN_S": str(WS_DRAIN_S),
                                    "NATTER_WS_DRAIN_JITTER_MS": "500",
                                    "NATTER_HTTP_DRAIN_S": "1"})
        for role in ROLES:
            for _ in range(2):
                cls.stack.start_role(role)

    def test_restart_every_process_under_load(self):
        stack = self.stack
        http_urls = [p.url for p in stack.roles("edge-http")]
        ws_ports = [p.port for p in stack.roles("edge-ws")]
        api = Api(http_urls[0])
        users = faults.make_users(api, 2 * PAIRS, "rr" + secrets.token_hex(2))
        tokens = faults.login_all(api, users)
        cids = faults.make_pairs(api, users, tokens)
        sessions = [{"k": k, "token": tokens[k], "uid": uid, "cid": cids[k // 2], "base": 0}
                    for k, (uid, _) in enumerate(users)]
        rest = RestLoad(http_urls, tokens[0], users[1][0])

        with tempfile.TemporaryDirectory(prefix="natter-rolling-") as d:
            stop_file = os.path.join(d, "stop")
            now = time.time()
            t = {"start": now + 1.5}
            spec = {"ports": ws_ports, "tag": "rr" + secrets.token_hex(3),
                    "rate_per_session": RATE / len(sessions), "t_start": t["start"],
                    "t_stop": now + 3600, "t_give_up": now + 3600, "stop_file": stop_file,
                    "drain_s": 40, "dir": d, "index": 0, "sessions": sessions}
            sp = os.path.join(d, "spec-0.json")
            with open(sp, "w") as f:
                json.dump(spec, f)
            out = os.path.join(d, "out-0.json")
            worker = subprocess.Popen([sys.executable, os.path.join(harness.HERE, "faultload.py"),
                                       sp, out], preexec_fn=harness._child_setup)
            rest.start()
            restarts = []
            try:
                time.sleep(max(0.0, t["start"] - time.time()) + 3)
                t["fault"] = time.time()
                for role in ROLES:
                    for p in stack.roles(role):
                        rc, t_exit, t_up = restart(stack, p)
                        restarts.append((p.name, rc, t_exit, t_up))
                        log("rolling: %-12s exit %s after %.2f s, new one up in %.2f s"
                            % (p.name, rc, t_exit, t_up))
                time.sleep(3)
                t["stop"] = time.time()
                open(stop_file, "w").close()
                deadline = time.time() + 60
                while time.time() < deadline and worker.poll() is None and \
                        not os.path.exists(os.path.join(d, "drained-0")):
                    time.sleep(0.1)
                open(os.path.join(d, "final"), "w").close()
                worker.wait(60)
            finally:
                rest.stop.set()
                rest.join(30)
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
            self.assertEqual(worker.returncode, 0)
            with open(out) as f:
                results = json.load(f)

        a = faults.analyse(results, t)
        fig, st = a["figures"], a["stats"]
        line = ("rolling restart of %d processes: sent %d acked %d lost %d duplicated %d "
                "unacked %d | ws reconnects %d (1012: %d), retried sends %d (unavailable %d), "
                "send timeouts %d | send->deliver p50 %.0f ms p99 %.0f ms longest %.0f ms | "
                "longest time without a sent %.2f s | rest ok %d, unavailable %d, refused %d"
                % (len(restarts), fig["sent"], fig["acked"], fig["lost"], fig["duplicated"],
                   fig["unacked"], st["reconnects"], st["closed_by_server_1012"], fig["retries"],
                   st["retry_unavailable"], st["send_timeouts"], a["gap_p50_s"] * 1000,
                   a["gap_p99_s"] * 1000, a["gap_max_s"] * 1000, a["stall_s"],
                   rest.counts["ok"], rest.counts["unavailable"], rest.counts["refused"]))
        log(line)
        self.assertEqual([r for r in restarts if r[1] != 0], [], restarts)
        self.assertEqual(len(restarts), 2 * len(ROLES))
        self.assertGreater(fig["acked"], RATE * 5)
        self.assertEqual((fig["lost"], fig["duplicated"], fig["unacked"], fig["final_missing"]),
                         (0, 0, 0, 0), line)
        self.assertEqual(a["bad_errors"], {}, line)
        self.assertEqual(st["retry_rate_limited"], 0, line)
        self.assertEqual(st["send_timeouts"], 0, line)
        self.assertEqual(st["restart_without_hint"], 0, line)
        # Every client was on a restarted edge-ws at some point: each one was
        # told to go (1012) at least once.
        self.assertGreaterEqual(st["closed_by_server_1012"], len(sessions), line)
        self.assertEqual(rest.failures, [], line)
        self.assertGreater(rest.counts["ok"], 0)


if __name__ == "__main__":
    import unittest
    unittest.main()
