"""ops/bench_run.py - the standard natter benchmarks (run by ops/bench).

Starts a private stack (tests/stack/harness.py: nats-server, redis-server,
mariadbd on free loopback ports, and the release build of natter: auth,
edge-http, msg, edge-ws), prepares users, tokens and conversations over
REST (not measured), then runs natter-bench for each scenario and prints
its figures, one line each.  Everything is bounded and stops by itself;
the stack is torn down at the end, also on failure.

Scenarios (issues 4, 6 and 12), run in the order a, c, b, g:
  a  N idle sessions on one edge-ws, each pinging every --ping s, held by
     one natter-bench per 10,000 sockets (the per-process fd cap here),
     each from its own source address 127.0.0.x -> edge RSS per connection,
     edge CPU % of a core over a window of the ping load
  c  P sessions sending 1:1 at a fixed total rate for T s, once per rate
     in --rate (2000,5000) -> latencies, and CPU per 1,000 deliveries
  b  the same flat out (a window per session) -> delivered msgs/s,
     latencies, CPU per 1,000 deliveries
  g  a group of M members, all online and acking, a few of them sending at
     a fixed rate, while Q 1:1 pairs send at their own rate -> group
     deliveries/s and send->deliver, and 1:1 send->deliver with the group
     running next to 1:1 alone; then a stepped search over the group's send
     rate alone (--g-search): the highest rate at which every message is
     delivered with p99 < 100 ms, and the deliveries/s it reaches.
  r  a rolling restart (tests/stack/rolling.py, on its own stack: a
     3-node NATS cluster, two of every role, the production drain settings,
     ws.drain_s 5 and http.drain_s 2): R pairs send 1:1 at a fixed total rate through both
     edge-ws (faultload.py's client: reconnects on 1012 after the hinted
     delay, retries with the same client_msg_id, syncs) next to a REST
     client, while every process, then every NATS node, is restarted one
     by one (SIGTERM, exit, start, healthy) -> lost / duplicated / unacknowledged (all must be 0),
     reconnects, retried sends, the send->deliver p50 / p99 / longest gap
     any client saw, each process's exit and start-up time; first the same
     load for --r-control s without restarts (its gaps are the machine's).
CPU per 1,000 deliveries: utime+stime of every server process (from
/proc/PID/stat) and of the load client, sampled at the start and the end
of the measured window (natter-bench is told when to start with
--start-at, and stops 2 s after its last send), over the deliveries the
client counted.  Over the same window, voluntary context switches per
delivery of each process (summed over /proc/PID/task/*/status): a thread
that sleeps to wait for another, for a socket or for MariaDB, so they
count the hand-offs and wake-ups a message costs (issue 12 item 3).

--compare NATTER runs everything first on a stack of that binary (its
natter-bench, config/ and sql/ from its tree, e.g. /work/baseline), then on
this one, and prints both side by side at the end.

c runs before b because a stack that has just been driven flat out stays
slower for a while (docs/operations.md "Benchmarks"), which would measure
b's aftermath rather than c.  g restarts the msg process before each of
its runs, so they start from the same state.
"""
import argparse
import concurrent.futures as cf
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "stack"))

import harness  # noqa: E402
import rolling  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
PER_CLIENT = 10000      # sockets per natter-bench in a (the fd cap is 20,000 per process)
DRAIN_S = 2.0           # natter-bench stops this long after its last send


# -- set-up over REST (not measured) ---------------------------------------

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


# -- /proc -----------------------------------------------------------------

def cpu_ticks(pid):
    """utime+stime of a process (all its threads), in clock ticks; None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def voluntary_switches(pid):
    """Voluntary context switches of every thread of a process: each is a
    thread going to sleep to wait (a futex, epoll, a socket), so per
    message they count the hand-offs and wake-ups it costs."""
    total = 0
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return 0
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
        except (OSError, ValueError):
            pass  # the thread ended
    return total


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


SERVER_NAMES = {"nats": "nats-server", "redis": "redis-server", "mariadb": "mariadbd"}


def server_pids(stack):
    """{name: [pid, ...]} of every live server process and natter role."""
    out = {}
    for key, p in stack.servers.items():
        if p.alive():
            out.setdefault(SERVER_NAMES.get(key, key), []).append(p.pid)
    for p in stack.procs:
        if p.role and p.alive():
            out.setdefault(p.role, []).append(p.pid)
    return out


def sample(pids):
    return {name: sum(cpu_ticks(pid) or 0 for pid in group) for name, group in pids.items()}


def sample_switches(pids):
    return {name: sum(voluntary_switches(pid) for pid in group) for name, group in pids.items()}


# -- natter-bench ----------------------------------------------------------

FIGURE = re.compile(r"^(\w+)_ms p50=([\d.]+) p99=([\d.]+)")
RATE = re.compile(r"^delivered_per_s=(\d+) \(deliveries=(\d+)\)")
SENT = re.compile(r"^sent_per_s=(\d+) \(sends=(\d+) acknowledged=(\d+)\)")
ERR = re.compile(r"^errors=(\d+) closes=(\d+) connect_failures=(\d+)")


def figures(lines):
    """{'send_to_deliver': (p50, p99), 'send_to_sent': ..., 'delivered_per_s': n, ...}"""
    out = {}
    for line in lines:
        m = FIGURE.match(line)
        if m:
            out[m.group(1)] = (float(m.group(2)), float(m.group(3)))
        m = RATE.match(line)
        if m:
            out["delivered_per_s"], out["deliveries"] = int(m.group(1)), int(m.group(2))
        m = SENT.match(line)
        if m:
            out["sent_per_s"], out["sends"], out["acked"] = map(int, m.groups())
        m = ERR.match(line)
        if m:
            out["errors"], out["closes"], out["conn_fail"] = map(int, m.groups())
        if line.startswith("start_late_ms="):
            out["late_ms"] = float(line.split("=")[1])
    return out


def sessions_file(lines):
    with tempfile.NamedTemporaryFile("w", suffix=".sessions", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        return f.name


def spawn_bench(bench_bin, port, path, args):
    """natter-bench as a child that dies with us (harness._child_setup)."""
    return subprocess.Popen([bench_bin, "--port", str(port), "--sessions", path] + args,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=harness._child_setup)


def finish(proc, timeout):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise RuntimeError("natter-bench did not stop in time")
    if proc.returncode != 0:
        raise RuntimeError("natter-bench failed (%s): %s" % (proc.returncode, err[-2000:]))
    return out.strip().splitlines()


def run_load(stack, bench_bin, port, runs, duration):
    """Start one or more natter-bench load runs ([(lines, args)]) together
    with --start-at, sample CPU of the servers and the clients over the
    measured window, and return ([output lines per run], cpu) where cpu is
    {name: CPU seconds} with 'client' for the load clients."""
    paths = [sessions_file(lines) for lines, _ in runs]
    n = sum(len(lines) for lines, _ in runs)
    start_at = time.time() + 3 + n / 400.0      # time to connect them all first
    common = ["--duration", str(duration), "--start-at", "%.3f" % start_at]
    procs = []
    try:
        for path, (_, args) in zip(paths, runs):
            procs.append(spawn_bench(bench_bin, port, path, common + args))
        pids = server_pids(stack)
        pids["client"] = [p.pid for p in procs]
        time.sleep(max(0.0, start_at - time.time()))
        c0, w0, t0 = sample(pids), sample_switches(pids), time.time()
        time.sleep(max(0.0, start_at + duration + DRAIN_S - 0.05 - time.time()))
        c1, w1, t1 = sample(pids), sample_switches(pids), time.time()
        outs = [finish(p, duration + 200) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for path in paths:
            os.unlink(path)
    cpu = {name: (c1[name] - c0[name]) / TICK for name in c0}
    cpu["_window_s"] = t1 - t0
    cpu["_switches"] = {name: w1[name] - w0[name] for name in w0}
    return outs, cpu


def cpu_lines(tag, cpu, deliveries):
    """Two lines: server CPU-ms per 1,000 deliveries by process and summed,
    and the load client's."""
    if not deliveries:
        return ["%s: cpu_ms_per_1k - (no deliveries)" % tag]
    per = {k: v * 1e6 / deliveries for k, v in cpu.items() if not k.startswith("_")}
    order = ["edge-ws", "msg", "nats-server", "mariadbd", "redis-server"]
    names = order + sorted(k for k in per if k not in order and k != "client")
    server = sum(per[k] for k in names if k in per)
    cores = sum(cpu[k] for k in names if k in cpu) / cpu["_window_s"]
    return ["%s: server_cpu_ms_per_1k %s total=%.0f (%.2f cores over %.1f s, %d deliveries)"
            % (tag, " ".join("%s=%.0f" % (k, per[k]) for k in names if k in per), server,
               cores, cpu["_window_s"], deliveries),
            "%s: client_cpu_ms_per_1k=%.0f (natter-bench, %.2f cores)"
            % (tag, per["client"], cpu["client"] / cpu["_window_s"]),
            "%s: voluntary_switches_per_msg %s (threads going to sleep to wait, per delivery)"
            % (tag, " ".join("%s=%.2f" % (k, cpu["_switches"][k] / deliveries)
                             for k in names + ["client"] if k in cpu.get("_switches", {})))]


# -- scenarios -------------------------------------------------------------

def scenario_a(stack, opt, users, own_bench, out):
    """Idle sockets with pings: edge RSS per connection and CPU % at the ping load."""
    ws = stack.roles("edge-ws")[0]
    pool = users[:min(opt.idle, opt.idle_users or opt.idle)]
    lines = ["%s 0" % pool[i % len(pool)][1] for i in range(opt.idle)]
    chunks = [lines[i:i + PER_CLIENT] for i in range(0, len(lines), PER_CLIENT)]
    print("== a: %d idle sessions of %d users on one edge-ws, %d natter-bench, ping every %g s, "
          "window %g s" % (len(lines), len(pool), len(chunks), opt.ping, opt.idle_window),
          flush=True)
    paths = [sessions_file(c) for c in chunks]
    procs = []
    hold = opt.idle_connect + opt.idle_window + 60   # a bound: SIGTERM ends it sooner
    try:
        rss0, t_spawn, cs = rss_kb(ws.pid), time.time(), cpu_ticks(ws.pid)
        for k, path in enumerate(paths):
            procs.append(spawn_bench(own_bench, ws.port, path,
                                     ["--idle", "--hold", str(hold), "--ping", str(opt.ping),
                                      "--src", "127.0.0.%d" % (2 + k),
                                      "--connect-timeout", str(opt.idle_connect)]))
        connected, deadline = 0, time.time() + opt.idle_connect + 30
        for p in procs:                   # each prints connected= at once, flushed
            r, _, _ = select.select([p.stdout], [], [], max(0, deadline - time.time()))
            line = p.stdout.readline().strip() if r else ""
            m = re.match(r"connected=(\d+)", line)
            if not m:
                raise RuntimeError("a: natter-bench did not connect: %r" % line)
            connected += int(m.group(1))
            print("a: " + line)
        print("a: all clients connected after %.0f s, edge CPU meanwhile %.0f%% of a core"
              % (time.time() - t_spawn,
                 100.0 * (cpu_ticks(ws.pid) - cs) / TICK / max(0.1, time.time() - t_spawn)))
        time.sleep(2)                     # let the connect burst settle
        rss1, c0, t0 = rss_kb(ws.pid), cpu_ticks(ws.pid), time.time()
        time.sleep(opt.idle_window)
        c1, t1, rss2 = cpu_ticks(ws.pid), time.time(), rss_kb(ws.pid)
        for p in procs:
            p.send_signal(signal.SIGTERM)
        pings = pongs = 0
        for p in procs:
            for line in finish(p, 60):
                print("a: " + line)
                m = re.search(r"pings=(\d+) pongs=(\d+)", line)
                if m:
                    pings, pongs = pings + int(m.group(1)), pongs + int(m.group(2))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for path in paths:
            os.unlink(path)
    per_conn = (rss1 - rss0) * 1024.0 / connected if connected else 0
    pct = 100.0 * (c1 - c0) / TICK / (t1 - t0)
    print("a: sockets=%d edge_rss_kb before=%d after=%d per_connection_bytes=%.0f"
          % (connected, rss0, rss1, per_conn))
    print("a: edge_cpu_pct_of_core=%.1f over %.0f s at %.0f pings/s; pongs %d of %d pings "
          "(whole hold); edge_rss_kb after=%d"
          % (pct, t1 - t0, connected / opt.ping if opt.ping else 0, pongs, pings, rss2))
    out["a sockets"] = connected
    out["a edge bytes/socket"] = round(per_conn)
    out["a edge CPU %"] = round(pct, 1)


def scenario_bc(stack, opt, users, api, bench, out):
    ws = stack.roles("edge-ws")[0]
    senders = users[:opt.senders - opt.senders % 2]
    convs = pair_conversations(api, senders)
    lines = ["%s %s" % (tok, c) for (_, tok), c in zip(senders, convs)]
    runs = []
    if "c" in opt.scenarios:
        runs += [("c@%g" % r, ["--rate", str(r), "--window", "4"],
                  "%d sessions at %g msg/s" % (len(lines), r)) for r in opt.rates]
    if "b" in opt.scenarios:
        runs.append(("b", ["--rate", "0", "--window", str(opt.window)],
                     "%d sessions sending 1:1 flat out (window %d)" % (len(lines), opt.window)))
    for tag, args, what in runs:
        print("== %s: %s for %gs" % (tag, what, opt.duration), flush=True)
        (lines_out,), cpu = run_load(stack, bench, ws.port, [(lines, args)], opt.duration)
        for line in lines_out:
            print("%s: %s" % (tag, line))
        f = figures(lines_out)
        for line in cpu_lines(tag, cpu, f.get("deliveries", 0)):
            print(line)
        if f.get("late_ms"):
            print("%s: note: the load started %.0f ms after the CPU window" % (tag, f["late_ms"]))
        d = f.get("deliveries", 0)
        out[tag + " delivered/s"] = f.get("delivered_per_s")
        out[tag + " p50/p99 ms"] = "%s/%s" % f.get("send_to_deliver", ("-", "-"))
        if d:
            srv = sum(v for k, v in cpu.items() if k != "client" and not k.startswith("_"))
            out[tag + " server CPU-ms/1k"] = round(srv * 1e6 / d)
            out[tag + " client CPU-ms/1k"] = round(cpu["client"] * 1e6 / d)


def g_search(stack, opt, members, cid, bench, out):
    """Step the group's send rate up.  A step is clean if every acknowledged
    send reached every other member, nothing erred and the rate was kept;
    it passes if it is clean and its p99 < 100 ms.  Report the last step
    that passed and, since a busy machine can fail p99 everywhere, the
    last clean one too; stop at the first step that is not clean."""
    ws = stack.roles("edge-ws")[0]
    lines = ["%s %s" % (tok, cid) for _, tok in members]
    best = clean = None
    restart_msg(stack)
    for rate in opt.g_search:
        print("== g-search: group of %d, %d senders at %g msg/s for %gs"
              % (len(lines), opt.g_senders, rate, opt.g_step), flush=True)
        (res,), cpu = run_load(stack, bench, ws.port,
                               [(lines, ["--rate", str(rate), "--senders", str(opt.g_senders),
                                         "--window", "16"])], opt.g_step)
        f = figures(res)
        want = f.get("acked", 0) * (len(lines) - 1)
        p99 = f.get("send_to_deliver", (0, float("inf")))[1]
        kept = f.get("acked", 0) >= 0.97 * rate * opt.g_step - 1
        whole = (f.get("deliveries", 0) >= want and f.get("sends") == f.get("acked") and
                 not f.get("errors") and kept)
        ok = whole and p99 < 100
        srv = sum(v for k, v in cpu.items() if k != "client" and not k.startswith("_"))
        print("g-search: rate=%g sent_per_s=%s deliveries_per_s=%s expected=%d got=%s p99=%s "
              "server_cpu_ms_per_1k_deliveries=%.0f %s"
              % (rate, f.get("sent_per_s"), f.get("delivered_per_s"), want, f.get("deliveries"),
                 p99, srv * 1e6 / max(1, f.get("deliveries", 0)),
                 "pass" if ok else "FAIL" + (" (p99)" if whole else "" if kept
                                             else " (rate not kept)")),
              flush=True)
        if not whole:
            break
        clean = (rate, f.get("delivered_per_s"), p99)
        if ok:
            best = clean
    if best:
        print("g-search: highest group send rate with every message delivered and p99 < 100 ms: "
              "%g msg/s, %s deliveries/s (p99 %.1f ms)" % best)
        out["g max rate msg/s"], out["g max deliveries/s"] = best[0], best[1]
    else:
        print("g-search: no step had p99 < 100 ms")
        out["g max rate msg/s"] = 0
    if clean:
        print("g-search: highest group send rate with every message delivered (any p99): "
              "%g msg/s, %s deliveries/s (p99 %.1f ms)" % clean)
        out["g max clean rate msg/s (any p99)"] = clean[0]


def scenario_g(stack, api, opt, users, bench, out):
    ws = stack.roles("edge-ws")[0]
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
    (alone,), _ = run_load(stack, bench, ws.port, [(pair_lines, pair_args)], opt.g_alone)
    for line in alone:
        print("g-alone: " + line)
    print("== g: group of %d (all online, %d sending %g msg/s) and the same 1:1 load, "
          "for %gs (fresh msg process)" % (len(group_lines), opt.g_senders, opt.g_rate,
                                            opt.g_duration), flush=True)
    restart_msg(stack)
    (grp, one), _ = run_load(stack, bench, ws.port,
                             [(group_lines, ["--rate", str(opt.g_rate), "--senders",
                                             str(opt.g_senders), "--window", "4"]),
                              (pair_lines, pair_args)], opt.g_duration)
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
    out["g deliveries/s at %g msg/s" % opt.g_rate] = fg.get("delivered_per_s")
    if opt.g_search:
        g_search(stack, opt, members, cid, bench, out)


# -- one stack per binary --------------------------------------------------

def scenario_r(opt, env, out):
    """r: the rolling restart on a fresh stack with two of every role."""
    env = dict(env, NATTER_WS_DRAIN_S="5", NATTER_HTTP_DRAIN_S="2")
    stack = harness.Stack(env=env, nats_nodes=3)
    try:
        for role in rolling.ROLES:
            for _ in range(2):
                start_role(stack, role)
        say = lambda *x: print(*x, flush=True)  # noqa: E731
        if opt.r_control:
            # The same load without restarts, as long as they took last time
            # (about 40 s): the gaps the load alone makes on this machine.
            c = rolling.run(stack, opt.r_pairs, opt.r_rate, procs=opt.r_procs, warmup=5,
                            settle=5, log=say, control_s=opt.r_control)
            print("r: %s" % c["line"], flush=True)
            out["r control send->deliver p99 ms"] = round(c["gap_p99_s"] * 1000)
            out["r control longest send->deliver ms"] = round(c["gap_max_s"] * 1000)
        a = rolling.run(stack, opt.r_pairs, opt.r_rate, procs=opt.r_procs, warmup=5,
                        settle=5, log=say)
    except BaseException:
        stack.failed = True
        raise
    finally:
        stack.close()
    bad = rolling.problems(a, opt.r_rate)
    print("r: %s%s" % (a["line"], " | PROBLEMS: %s" % "; ".join(bad) if bad else ""),
          flush=True)
    f, st = a["figures"], a["stats"]
    out.update({"r lost/duplicated/unacked": "%d/%d/%d" % (f["lost"], f["duplicated"],
                                                           f["unacked"]),
                "r reconnects": st["reconnects"], "r retried sends": f["retries"],
                "r send->deliver p99 ms": round(a["gap_p99_s"] * 1000),
                "r longest send->deliver ms": round(a["gap_max_s"] * 1000)})


def start_role(stack, role, tries=3):
    """start_role, again on a new port if an edge lost its port: on a busy
    machine another process's connection can take the free port the
    harness picked before the edge binds it (EADDRINUSE)."""
    for i in range(tries):
        try:
            return stack.start_role(role)
        except harness.StackError as e:
            if not role.startswith("edge-") or "cannot listen" not in str(e) or i == tries - 1:
                raise
            print("setup: %s could not listen, once more on another port" % role, flush=True)


def run_all(opt, natter, bench, root):
    """Every chosen scenario on a fresh stack of `natter` (config/ and sql/
    from root); returns {figure: value} for the comparison."""
    out = {}
    os.environ["NATTER_BIN"] = natter
    harness.ROOT = root   # the stack's config/nats-server.conf, natter.conf and sql/
    quiet = {"NATTER_LOG_LEVEL": "warn", "NATTER_NATS_REQUEST_TIMEOUT_MS": "3000",
             "NATTER_WS_IDLE_TIMEOUT_S": "600",
             "NATTER_WS_MAX_CONNS_PER_ADDR": "0",  # every bench socket comes from 127.0.0.x
             "NATTER_HTTP_MAX_BODY": "1048576",  # g's group create names every member
             # Setup registers thousands of users: cheap password hashing
             # here keeps it short (set-up is not what is measured).
             "NATTER_AUTH_ARGON2_M_KIB": "1024", "NATTER_AUTH_ARGON2_T_COST": "1",
             "NATTER_AUTH_LOGIN_RATE_IP": "off", "NATTER_AUTH_LOGIN_RATE_USER": "off"}
    for kv in opt.set:  # a config override, e.g. NATTER_MSG_BATCH_WAIT_US=1000
        k, _, v = kv.partition("=")
        quiet[k] = v
    print("#### natter %s, natter-bench %s%s" % (natter, bench,
          "".join(" " + kv for kv in opt.set)), flush=True)
    if set(opt.scenarios) - {"r"}:
        run_main(opt, bench, quiet, out)
    if "r" in opt.scenarios:
        scenario_r(opt, quiet, out)
    return out


def run_main(opt, bench, quiet, out):
    """Scenarios a, c, b, g on one stack with one process per role."""
    stack = harness.Stack(env=quiet)
    try:
        for role in ("auth", "msg", "edge-http", "edge-ws"):
            start_role(stack, role)
        api = harness.Api(stack.roles("edge-http")[0].url)
        s = opt.scenarios
        n_users = max(min(opt.idle, opt.idle_users or opt.idle) if "a" in s else 0,
                      opt.senders if ("b" in s or "c" in s) else 0,
                      opt.g_members + 2 * opt.g_pairs if "g" in s else 0)
        t = time.time()
        users = prepare_users(api, n_users, "bench")
        print("setup: registered %d users in %.0f s" % (n_users, time.time() - t), flush=True)
        if "a" in s:
            # Always this tree's natter-bench: it alone pings and spreads sources.
            scenario_a(stack, opt, users, opt.bench, out)
        if "b" in s or "c" in s:
            scenario_bc(stack, opt, users, api, bench, out)
        if "g" in s:
            scenario_g(stack, api, opt, users, bench, out)
    except BaseException:
        stack.failed = True
        raise
    finally:
        stack.close()


def sibling_bench(natter):
    path = os.path.join(os.path.dirname(os.path.abspath(natter)), "natter-bench")
    return path if os.path.exists(path) else None


def tree_of(natter):
    """The source tree a build directory belongs to (config/ and sql/ there)."""
    d = os.path.dirname(os.path.dirname(os.path.abspath(natter)))
    return d if os.path.isdir(os.path.join(d, "sql")) and os.path.isdir(
        os.path.join(d, "config")) else ROOT


def floats(text):
    return [float(x) for x in text.split(",") if x.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--natter", default=os.path.join(ROOT, "build", "natter"))
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "natter-bench"))
    ap.add_argument("--compare", metavar="NATTER",
                    help="also run everything on this natter binary (first), e.g. "
                         "/work/baseline/build-rel/natter")
    ap.add_argument("--compare-bench", help="its natter-bench (default: next to it)")
    ap.add_argument("--compare-root", help="its source tree for config/ and sql/ "
                                           "(default: the parent of its build directory)")
    ap.add_argument("--set", action="append", default=[], metavar="NATTER_KEY=VALUE",
                    help="a config override for every natter process (both stacks with "
                         "--compare), e.g. NATTER_MSG_BATCH_WAIT_US=1000; repeatable")
    ap.add_argument("--idle", type=int, default=19900)
    ap.add_argument("--idle-users", type=int, default=0,
                    help="a: distinct users behind the sockets (default: one each)")
    ap.add_argument("--ping", type=float, default=30)
    ap.add_argument("--idle-window", type=float, default=30)
    ap.add_argument("--idle-connect", type=float, default=300,
                    help="a: seconds each client may take to connect its sockets")
    ap.add_argument("--senders", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--rate", type=floats, dest="rates", default=[2000, 5000],
                    help="c's total rates, comma-separated (default 2000,5000)")
    ap.add_argument("--window", type=int, default=2)
    ap.add_argument("--scenarios", default="acbgr")
    ap.add_argument("--r-pairs", type=int, default=100)
    ap.add_argument("--r-rate", type=float, default=500, help="r's total msgs/s")
    ap.add_argument("--r-procs", type=int, default=2, help="r's load client processes")
    ap.add_argument("--r-control", type=float, default=40,
                    help="r: first the same load without restarts for this many s (0: skip)")
    ap.add_argument("--g-members", type=int, default=500)
    ap.add_argument("--g-senders", type=int, default=4)
    ap.add_argument("--g-rate", type=float, default=20)
    ap.add_argument("--g-pairs", type=int, default=200)
    ap.add_argument("--g-pair-rate", type=float, default=200)
    ap.add_argument("--g-duration", type=float, default=20)
    ap.add_argument("--g-alone", type=float, default=10)
    ap.add_argument("--g-search", type=floats, default=[10, 20, 40, 80, 160, 320],
                    help="group send rates to step through ('' to skip)")
    ap.add_argument("--g-step", type=float, default=8, help="seconds per search step")
    opt = ap.parse_args()
    if not 0 < opt.idle <= 4 * PER_CLIENT or opt.duration > 600 or opt.idle_window > 600 \
            or not 0 < opt.idle_connect <= 900 \
            or len(opt.g_search) > 10 or opt.g_step > 60 \
            or not 0 < opt.r_pairs <= 2000 or not 0 < opt.r_rate <= 20000 \
            or not 0 < opt.r_procs <= 8 or not 0 <= opt.r_control <= 300:
        ap.error("out of bounds: --idle 1..40000, --duration/--idle-window <= 600, "
                 "--g-search at most 10 steps of --g-step <= 60 s, --r-pairs <= 2000, "
                 "--r-rate <= 20000, --r-procs <= 8, --r-control <= 300")
    opt.natter, opt.bench = os.path.abspath(opt.natter), os.path.abspath(opt.bench)
    results = []
    if opt.compare:
        cbench = opt.compare_bench or sibling_bench(opt.compare) or opt.bench
        croot = os.path.abspath(opt.compare_root) if opt.compare_root else tree_of(opt.compare)
        results.append(("compare", run_all(opt, os.path.abspath(opt.compare), cbench, croot)))
    results.append(("this", run_all(opt, opt.natter, opt.bench, ROOT)))
    if len(results) == 2:
        (_, a), (_, b) = results
        print("#### compare: figure | %s | %s" % (opt.compare, opt.natter))
        for k in list(a) + [k for k in b if k not in a]:
            print("compare: %s | %s | %s" % (k, a.get(k, "-"), b.get(k, "-")))


if __name__ == "__main__":
    main()
