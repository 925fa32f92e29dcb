"""rolling.py - a rolling restart under load, shared by the stack test
(test_rolling.py) and the benchmark (ops/bench scenario r).

run(stack, ...) takes a stack with two (or more) of every role, registers
PAIRS pairs of users with a direct conversation each, and starts the load:

  - WebSocket: faultload.py's client (what the fault tests use: unique
    client_msg_id, retries with the same id until `sent`, acks, sync after
    a gap and after every reconnect), its sockets spread over every
    edge-ws; on close 1012 "service_restart retry_ms=N" it waits N ms and
    reconnects to the next edge;
  - REST: one client calling every pool (profile and contacts: auth,
    conversations: msg, presence, a small upload: media) through the
    edge-http processes a Balancer thinks healthy (it asks each /healthz
    every 50 ms, as a load balancer would).

After `warmup` s every natter process is restarted one by one: SIGTERM,
wait for its exit code, start the role again (an edge on its port), wait
until it answers.  Then, on a NATS cluster (Stack(nats_nodes=3)), every
node the same way: SIGTERM, start it again on its ports, wait until it
has its routes back (the processes homed there move to the next URL of
their list and come back to nothing: nats.c stays where it is).  `settle`
s later the clients stop sending, finish what is in flight and sync the
whole run; faults.analyse counts what was lost, duplicated or never
acknowledged and the send->deliver gaps.
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
from harness import Api

ROLES = ("auth", "msg", "presence", "media", "edge-http", "edge-ws")
EXIT_TIMEOUT_S = 40


def term(p):
    """SIGTERM a harness Proc -> (exit code or "timeout", seconds it took)."""
    t0 = time.monotonic()
    p.kill(signal.SIGTERM)
    try:
        rc = p.wait(EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        rc = "timeout"
    return rc, time.monotonic() - t0


def restart(stack, p):
    """SIGTERM p, wait for its exit code, start the role again (an edge on
    the same port) -> (exit code, seconds to exit, seconds until the new one
    answers)."""
    rc, t_exit = term(p)
    t0 = time.monotonic()
    env = {}
    if p.role == "edge-http":
        env["NATTER_HTTP_PORT"] = str(p.port)
    elif p.role == "edge-ws":
        env["NATTER_WS_PORT"] = str(p.port)
    stack.start_role(p.role, env)
    return rc, t_exit, time.monotonic() - t0


def restart_nats(stack, i):
    """SIGTERM NATS node i, start it again -> (exit code, seconds to exit,
    seconds until it has its routes back)."""
    name = stack.nats_name(i)
    rc, t_exit = term(stack.servers[name])
    t0 = time.monotonic()
    stack.restart_server(name)      # down already: starts it, waits for its routes
    return rc, t_exit, time.monotonic() - t0


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


def run(stack, pairs, rate, procs=1, warmup=3.0, settle=3.0, log=print, control_s=None):
    """The whole run -> (figures dict from faults.analyse plus "restarts",
    "rest" and "line"; the printable summary is in "line").  control_s: no
    restarts, the same load for that long instead (what the gaps are
    without them)."""
    http_urls = [p.url for p in stack.roles("edge-http")]
    ws_ports = [p.port for p in stack.roles("edge-ws")]
    api = Api(http_urls[0])
    users = faults.make_users(api, 2 * pairs, "rr" + secrets.token_hex(2))
    tokens = faults.login_all(api, users)
    cids = faults.make_pairs(api, users, tokens)
    sessions = [{"k": k, "token": tokens[k], "uid": uid, "cid": cids[k // 2], "base": 0}
                for k, (uid, _) in enumerate(users)]
    rest = RestLoad(http_urls, tokens[0], users[1][0])
    restarts = []
    with tempfile.TemporaryDirectory(prefix="natter-rolling-") as d:
        stop_file = os.path.join(d, "stop")
        now = time.time()
        t = {"start": now + 1.5}
        workers = []
        try:
            for i in range(procs):
                spec = {"ports": ws_ports, "tag": "rr" + secrets.token_hex(3),
                        "rate_per_session": rate / len(sessions), "t_start": t["start"],
                        "t_stop": now + 3600, "t_give_up": now + 3600, "stop_file": stop_file,
                        "drain_s": 40, "dir": d, "index": i, "sessions": sessions[i::procs]}
                sp = os.path.join(d, "spec-%d.json" % i)
                with open(sp, "w") as f:
                    json.dump(spec, f)
                workers.append(subprocess.Popen(
                    [sys.executable, os.path.join(harness.HERE, "faultload.py"), sp,
                     os.path.join(d, "out-%d.json" % i)], preexec_fn=harness._child_setup))
            rest.start()
            time.sleep(max(0.0, t["start"] - time.time()) + warmup)
            t["fault"] = time.time()
            if control_s:
                time.sleep(control_s)
            for role in ROLES if not control_s else ():
                for p in stack.roles(role):
                    rc, t_exit, t_up = restart(stack, p)
                    restarts.append((p.name, rc, t_exit, t_up))
                    log("rolling: %-12s exit %s after %.2f s, new one up in %.2f s"
                        % (p.name, rc, t_exit, t_up))
            for i in range(stack.nats_nodes if stack.nats_nodes > 1 and not control_s else 0):
                rc, t_exit, t_up = restart_nats(stack, i)
                restarts.append(("nats-node-%d" % i, rc, t_exit, t_up))
                log("rolling: nats node %d  exit %s after %.2f s, back with its routes in %.2f s"
                    % (i, rc, t_exit, t_up))
            time.sleep(settle)
            t["stop"] = time.time()
            open(stop_file, "w").close()
            deadline = time.time() + 60
            while time.time() < deadline and any(w.poll() is None for w in workers) and not all(
                    os.path.exists(os.path.join(d, "drained-%d" % i)) for i in range(procs)):
                time.sleep(0.1)
            open(os.path.join(d, "final"), "w").close()
            for w in workers:
                w.wait(60)
        finally:
            rest.stop.set()
            if rest.is_alive():
                rest.join(30)
            faults.reap(workers)
        results = faults.results_of(workers, d)
    a = faults.analyse(results, t)
    fig, st = a["figures"], a["stats"]
    a["restarts"], a["rest"], a["sessions"] = restarts, rest, len(sessions)
    head = ("control, the same load without restarts: %d restarts" if control_s else
            "rolling restart of %d processes (NATS nodes included)")
    a["line"] = (head +
        ", %d sessions, %.0f msgs/s offered: sent %d acked %d "
        "lost %d duplicated %d unacked %d | ws reconnects %d (1012: %d), retried sends %d "
        "(unavailable %d), send timeouts %d | send->deliver p50 %.0f ms p99 %.0f ms longest "
        "%.0f ms | longest time without a sent %.2f s | rest ok %d, unavailable %d, refused %d, "
        "failed %d") % (
           len(restarts), len(sessions), rate, fig["sent"], fig["acked"], fig["lost"],
           fig["duplicated"], fig["unacked"], st["reconnects"], st["closed_by_server_1012"],
           fig["retries"], st["retry_unavailable"], st["send_timeouts"], a["gap_p50_s"] * 1000,
           a["gap_p99_s"] * 1000, a["gap_max_s"] * 1000, a["stall_s"], rest.counts["ok"],
           rest.counts["unavailable"], rest.counts["refused"], len(rest.failures))
    closes = sorted((k, v) for k, v in st.items()
                    if k.startswith("closed_by_server_") or k in (
                        "drops", "connect_failed", "handshake_refused", "pushes_again",
                        "gap_syncs", "held_back"))
    a["line"] += " | " + ", ".join("%s %d" % kv for kv in closes)
    return a


def problems(a, rate):
    """What makes a run a failure (empty: none)."""
    fig, st, out = a["figures"], a["stats"], []
    # nats-server 2.9 shuts down cleanly on SIGTERM ("Server Exiting..") and
    # then exits 1 (0 on SIGINT): both are a clean stop of a node.
    if [r for r in a["restarts"]
            if r[1] != 0 and not (r[0].startswith("nats-node") and r[1] == 1)]:
        out.append("exit codes %r" % a["restarts"])
    if fig["acked"] < rate * 5:
        out.append("too few messages acknowledged")
    for k in ("lost", "duplicated", "unacked", "final_missing"):
        if fig[k]:
            out.append("%s %d" % (k, fig[k]))
    if a["bad_errors"]:
        out.append("errors %r" % a["bad_errors"])
    for k in ("retry_rate_limited", "send_timeouts", "restart_without_hint"):
        if st[k]:
            out.append("%s %d" % (k, st[k]))
    if st["closed_by_server_1012"] < a["sessions"]:
        out.append("only %d sockets got 1012" % st["closed_by_server_1012"])
    if a["rest"].failures:
        out.append("rest failures %r" % a["rest"].failures[:5])
    if not a["rest"].counts["ok"]:
        out.append("no rest call answered")
    return out
