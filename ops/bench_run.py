"""ops/bench_run.py - the standard natter benchmarks (run by ops/bench).

Starts a private stack (tests/stack/harness.py: nats-server, redis-server,
mariadbd on free loopback ports, and the release build of natter: auth,
edge-http, msg, edge-ws), prepares users, tokens and direct conversations
over REST (not measured), then runs natter-bench for each scenario and
prints its figures, one line each.  Everything is bounded and stops by
itself; the stack is torn down at the end, also on failure.

Scenarios (issues 4 and 6), run in the order a, c, b, g:
  a  N idle sessions on one edge-ws          -> edge RSS per connection
  c  P sessions sending 1:1 at a fixed total rate for T s -> latencies
  b  the same flat out (a window per session) -> delivered msgs/s, latencies
  g  a group of M members, all online and acking, a few of them sending at
     a fixed rate, while Q 1:1 pairs send at their own rate -> group
     deliveries/s and send->deliver, and 1:1 send->deliver with the group
     running next to 1:1 alone: does one conversation's fan-out hold up
     the others?
c runs before b because a stack that has just been driven flat out stays
slower for a while (docs/operations.md "Benchmarks"), which would measure
b's aftermath rather than c.  g restarts the msg process before each of
its two runs, so both start from the same state.
"""
import argparse
import concurrent.futures as cf
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "stack"))

import harness  # noqa: E402


def prepare_users(api, n, prefix):
    """Register and log in n users; returns [(uid, token)]."""
    def one(i):
        name = "%s%05d" % (prefix, i)
        r = api.register(name)
        if r.status not in (201, 409):
            raise RuntimeError("register %s: %s" % (name, r))
        r = api.login(name)
        if r.status != 200:
            raise RuntimeError("login %s: %s" % (name, r))
        j = r.json
        return j["user"]["id"], j["access_token"]
    with cf.ThreadPoolExecutor(16) as ex:
        return list(ex.map(one, range(n)))


def pair_conversations(api, users):
    """A direct conversation per pair (0,1), (2,3), ...; returns conv ids by index."""
    def one(k):
        (a_uid, a_tok), (b_uid, _) = users[2 * k], users[2 * k + 1]
        r = api.call("POST", "/api/conversations", {"type": "direct", "peer_id": b_uid}, token=a_tok)
        if r.status not in (200, 201):
            raise RuntimeError("conversation: %s" % r)
        return r.json["conversation"]["id"]
    with cf.ThreadPoolExecutor(16) as ex:
        convs = list(ex.map(one, range(len(users) // 2)))
    return [convs[i // 2] for i in range(2 * len(convs))]


def group_conversation(api, users, name):
    """A group of users (users[0] creates it and owns it); returns its id."""
    body = {"type": "group", "name": name, "member_ids": [uid for uid, _ in users[1:]]}
    r = api.call("POST", "/api/conversations", body, token=users[0][1], timeout=60)
    if r.status != 201:
        raise RuntimeError("group: %s" % r)
    return r.json["conversation"]["id"]


def restart_msg(stack):
    """A fresh msg process (the same starting state for every run)."""
    for p in stack.roles("msg"):
        p.kill()
        p.wait(30)
    stack.start_role("msg")


FIGURE = re.compile(r"^(\w+)_ms p50=([\d.]+) p99=([\d.]+)")
RATE = re.compile(r"^delivered_per_s=(\d+)")


def figures(lines):
    """{'send_to_deliver': (p50, p99), 'send_to_sent': ..., 'delivered_per_s': n}"""
    out = {}
    for line in lines:
        m = FIGURE.match(line)
        if m:
            out[m.group(1)] = (float(m.group(2)), float(m.group(3)))
        m = RATE.match(line)
        if m:
            out["delivered_per_s"] = int(m.group(1))
    return out


def scenario_g(stack, api, port, opt, users):
    members = users[:opt.g_members]
    pairs = users[opt.g_members:opt.g_members + 2 * opt.g_pairs]
    cid = group_conversation(api, members, "bench group")
    convs = pair_conversations(api, pairs)
    group_lines = ["%s %s" % (tok, cid) for _, tok in members]
    pair_lines = ["%s %s" % (tok, convs[i]) for i, (_, tok) in enumerate(pairs)]
    pair_args = ["--rate", str(opt.g_pair_rate), "--window", "4"]
    print("== g: 1:1 alone: %d sessions at %g msg/s for %gs (fresh msg process)"
          % (len(pair_lines), opt.g_pair_rate, opt.g_alone), flush=True)
    restart_msg(stack)
    alone = run_bench(opt.bench, port, pair_lines, ["--duration", str(opt.g_alone)] + pair_args)
    for line in alone:
        print("g-alone: " + line)
    print("== g: group of %d (all online, %d sending %g msg/s) and the same 1:1 load, "
          "for %gs (fresh msg process)" % (len(group_lines), opt.g_senders, opt.g_rate,
                                            opt.g_duration), flush=True)
    restart_msg(stack)
    common = ["--duration", str(opt.g_duration), "--start-at", "%.3f" % (time.time() + 10)]
    with cf.ThreadPoolExecutor(2) as ex:
        grp = ex.submit(run_bench, opt.bench, port, group_lines,
                        common + ["--rate", str(opt.g_rate), "--senders", str(opt.g_senders),
                                  "--window", "4"])
        one = ex.submit(run_bench, opt.bench, port, pair_lines, common + pair_args)
        grp, one = grp.result(), one.result()
    for line in grp:
        print("g-group: " + line)
    for line in one:
        print("g-1to1: " + line)
    fg, fo, fa = figures(grp), figures(one), figures(alone)
    na = ("-", "-")
    print("g: group_deliveries_per_s=%s group_send_to_deliver_ms p50=%s p99=%s"
          % ((fg.get("delivered_per_s", "-"),) + fg.get("send_to_deliver", na)))
    print("g: 1to1_send_to_deliver_ms with_group p50=%s p99=%s alone p50=%s p99=%s"
          % (fo.get("send_to_deliver", na) + fa.get("send_to_deliver", na)))


def run_bench(bench_bin, port, lines, args):
    with tempfile.NamedTemporaryFile("w", suffix=".sessions", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        path = f.name
    try:
        out = subprocess.run([bench_bin, "--port", str(port), "--sessions", path] + args,
                             capture_output=True, text=True, timeout=900)
    finally:
        os.unlink(path)
    if out.returncode != 0:
        raise RuntimeError("natter-bench failed: %s" % out.stderr[-2000:])
    return out.stdout.strip().splitlines()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--natter", default=os.path.join(ROOT, "build", "natter"))
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "natter-bench"))
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--senders", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--rate", type=float, default=2000)
    ap.add_argument("--window", type=int, default=2)
    ap.add_argument("--scenarios", default="acbg")
    ap.add_argument("--g-members", type=int, default=500)
    ap.add_argument("--g-senders", type=int, default=4)
    ap.add_argument("--g-rate", type=float, default=20)
    ap.add_argument("--g-pairs", type=int, default=200)
    ap.add_argument("--g-pair-rate", type=float, default=200)
    ap.add_argument("--g-duration", type=float, default=20)
    ap.add_argument("--g-alone", type=float, default=10)
    opt = ap.parse_args()
    os.environ["NATTER_BIN"] = opt.natter
    quiet = {"NATTER_LOG_LEVEL": "warn", "NATTER_NATS_REQUEST_TIMEOUT_MS": "3000",
             "NATTER_WS_IDLE_TIMEOUT_S": "600",
             "NATTER_WS_MAX_CONNS_PER_ADDR": "0",  # every bench socket comes from 127.0.0.1
             "NATTER_HTTP_MAX_BODY": "1048576",  # g's group create names every member
             # Setup registers thousands of users: cheap password hashing
             # here keeps it short (set-up is not what is measured).
             "NATTER_AUTH_ARGON2_M_KIB": "1024", "NATTER_AUTH_ARGON2_T_COST": "1",
             "NATTER_AUTH_LOGIN_RATE_IP": "off", "NATTER_AUTH_LOGIN_RATE_USER": "off"}
    stack = harness.Stack(env=quiet)
    try:
        for role in ("auth", "msg", "edge-http", "edge-ws"):
            stack.start_role(role)
        http = stack.roles("edge-http")[0]
        ws = stack.roles("edge-ws")[0]
        api = harness.Api(http.url)
        n_users = max(opt.idle if "a" in opt.scenarios else 0,
                      opt.senders if ("b" in opt.scenarios or "c" in opt.scenarios) else 0,
                      opt.g_members + 2 * opt.g_pairs if "g" in opt.scenarios else 0)
        print("setup: registering %d users ..." % n_users, flush=True)
        users = prepare_users(api, n_users, "bench")
        if "a" in opt.scenarios:
            print("== a: %d idle sessions on one edge-ws" % opt.idle, flush=True)
            lines = ["%s 0" % tok for _, tok in users[:opt.idle]]
            for line in run_bench(opt.bench, ws.port, lines,
                                  ["--idle", "--hold", "5", "--edge-pid", str(ws.pid)]):
                print("a: " + line)
        senders = users[:opt.senders - opt.senders % 2]
        convs = pair_conversations(api, senders) if ("b" in opt.scenarios or "c" in opt.scenarios) else []
        lines = ["%s %s" % (tok, c) for (_, tok), c in zip(senders, convs)]
        if "c" in opt.scenarios:
            print("== c: %d sessions at %g msg/s for %gs" % (len(lines), opt.rate, opt.duration),
                  flush=True)
            for line in run_bench(opt.bench, ws.port, lines,
                                  ["--duration", str(opt.duration), "--rate", str(opt.rate),
                                   "--window", "4", "--edge-pid", str(ws.pid)]):
                print("c: " + line)
        if "b" in opt.scenarios:
            print("== b: %d sessions sending 1:1 flat out for %gs (window %d)"
                  % (len(lines), opt.duration, opt.window), flush=True)
            for line in run_bench(opt.bench, ws.port, lines,
                                  ["--duration", str(opt.duration), "--rate", "0",
                                   "--window", str(opt.window), "--edge-pid", str(ws.pid)]):
                print("b: " + line)
        if "g" in opt.scenarios:
            scenario_g(stack, api, ws.port, opt, users)
    except BaseException:
        stack.failed = True
        raise
    finally:
        stack.close()


if __name__ == "__main__":
    main()
