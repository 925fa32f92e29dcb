#!/usr/bin/python3
"""faults.py - faults under load (issue 11): nothing acknowledged is lost,
nothing is stored or shown twice, when a process dies in the middle of a
steady load.

    /usr/bin/python3 tests/stack/faults.py [--natter build-rel/natter]
        [--rate 2000] [--pairs 50] [--faults msg,edge-ws,mariadb,nats,redis]
        [--warmup 5] [--after 12] [--drain 40] [--procs 2]

One private stack (harness.py: nats-server, redis-server, mariadbd on free
loopback ports; auth, msg, presence, edge-http, edge-ws of the given
binary, the release build by default: an ASan build cannot carry this
load).  PAIRS direct conversations, both members online over WebSocket,
every session sending at RATE / (2 PAIRS) msgs/s as a correct client does
(faultload.py: unique client_msg_id, retry with the same id until `sent`,
acks, sync on gaps and after reconnecting).  The load comes from PROCS
worker processes.  For each fault, with fresh message ids on the same
conversations: WARMUP s of load, the fault, AFTER s more, then the
clients send nothing new and finish what they have (at most DRAIN s), and
every session syncs the whole run.  Faults (the test is the supervisor
that restarts what it killed, at once):

    msg      kill -9 of the (only) msg process, a new one started
    edge-ws  kill -9 of the (only) edge-ws, a new one on the same port;
             every client reconnects
    mariadb  kill -9 of mariadbd, started again on the same data
    nats     kill -9 of nats-server, started again on the same port
    redis    kill -9 of redis-server (it keeps nothing), started again;
             the send rate limit (msg.send_rate) and presence use it

Printed per fault: messages sent (created by the clients), acknowledged
(`sent` received), lost (acknowledged but not delivered to the peer by
push or sync, or at another seq), duplicated (one client_msg_id at two
seqs, or one seq carrying two messages, in any session's view or in two
`sent` replies), unacknowledged when the clients gave up, the rate
reached before the fault, and the seconds from the fault to the first
`sent` for an attempt made after it (plus the longest time without any
`sent`).  Exit status 1 if anything was lost, duplicated or left
unacknowledged, a process died that was not killed, or a send got an
error other than `unavailable` / `rate_limited`.
"""

import argparse
import collections
import concurrent.futures as cf
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import harness  # noqa: E402

FAULTS = ("msg", "edge-ws", "mariadb", "nats", "redis")
KNOWN = FAULTS + ("none",)     # none: the same run without a fault (a control)
ROLES = ("auth", "msg", "presence", "edge-http", "edge-ws")


def log(*a):
    print(*a, flush=True)


# -- set-up ------------------------------------------------------------------

def make_users(api, n, prefix):
    """Register n users -> [(uid, name)]."""
    def one(i):
        name = "%s%04d" % (prefix, i)
        r = api.register(name)
        if r.status != 201:
            raise RuntimeError("register %s: %r" % (name, r))
        return r.json["user"]["id"], name
    with cf.ThreadPoolExecutor(8) as ex:
        return list(ex.map(one, range(n)))


def login_all(api, users):
    def one(u):
        r = api.login(u[1], platform="web", device_id="faults")
        if r.status != 200:
            raise RuntimeError("login %s: %r" % (u[1], r))
        return r.json["access_token"]
    with cf.ThreadPoolExecutor(8) as ex:
        return list(ex.map(one, users))


def make_pairs(api, users, tokens):
    def one(k):
        r = api.call("POST", "/api/conversations", {"type": "direct", "peer_id": users[2 * k + 1][0]},
                     token=tokens[2 * k])
        if r.status not in (200, 201):
            raise RuntimeError("conversation: %r" % r)
        return r.json["conversation"]["id"]
    with cf.ThreadPoolExecutor(8) as ex:
        return list(ex.map(one, range(len(users) // 2)))


# -- faults ------------------------------------------------------------------

def kill_role(stack, role):
    procs = stack.roles(role)
    assert len(procs) == 1, procs
    procs[0].kill(signal.SIGKILL)
    procs[0].wait(10)
    return procs[0]


def inject(stack, fault):
    """Do the fault and restart what it took down -> seconds the restart took
    (from the kill until the new process answers)."""
    t0 = time.monotonic()
    if fault == "none":
        pass
    elif fault == "msg":
        kill_role(stack, "msg")
        stack.start_role("msg")
    elif fault == "edge-ws":
        old = kill_role(stack, "edge-ws")
        stack.start_role("edge-ws", {"NATTER_WS_PORT": str(old.port)})
    elif fault in ("mariadb", "nats", "redis"):
        stack.restart_server(fault)
    else:
        raise ValueError(fault)
    return time.monotonic() - t0


# -- one run -----------------------------------------------------------------

def run_load(stack, opt, fault, sessions, ws_port, workdir, do_fault=None):
    """Start the workers, inject the fault on time (do_fault(stack, fault)
    -> seconds, default inject()), let them finish -> (session results,
    times)."""
    tag = "f%s%s" % (fault.replace("-", ""), secrets.token_hex(3))
    d = tempfile.mkdtemp(prefix="run-", dir=workdir)
    now = time.time()
    t = {"start": now + 2.0}
    t["fault"] = t["start"] + opt.warmup
    t["stop"] = t["fault"] + opt.after
    t["give_up"] = t["stop"] + opt.drain
    procs = []
    for i in range(opt.procs):
        spec = {"port": ws_port, "tag": tag, "rate_per_session": opt.rate / len(sessions),
                "t_start": t["start"], "t_stop": t["stop"], "t_give_up": t["give_up"],
                "dir": d, "index": i, "sessions": sessions[i::opt.procs]}
        sp = os.path.join(d, "spec-%d.json" % i)
        with open(sp, "w") as f:
            json.dump(spec, f)
        procs.append(subprocess.Popen(
            [sys.executable, os.path.join(HERE, "faultload.py"), sp, os.path.join(d, "out-%d.json" % i)],
            preexec_fn=harness._child_setup))
    try:
        time.sleep(max(0.0, t["fault"] - time.time()))
        t["fault"] = time.time()
        t["restart_s"] = (do_fault or inject)(stack, fault)
        deadline = t["give_up"] + 30
        while time.time() < deadline:
            if all(os.path.exists(os.path.join(d, "drained-%d" % i)) for i in range(opt.procs)):
                break
            if any(p.poll() not in (None, 0) for p in procs):
                break
            time.sleep(0.1)
        t["drained"] = time.time()
        open(os.path.join(d, "final"), "w").close()
        for p in procs:
            p.wait(60)
    finally:
        reap(procs)
    return results_of(procs, d), t


def reap(procs):
    """Kill the load workers still running (a run that went wrong)."""
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def results_of(procs, d):
    """Every session's result from the workers' out-<i>.json in d; raises
    if a worker failed."""
    bad = [p.returncode for p in procs if p.returncode != 0]
    if bad:
        raise RuntimeError("load worker exited %r" % bad)
    out = []
    for i in range(len(procs)):
        with open(os.path.join(d, "out-%d.json" % i)) as f:
            out += json.load(f)
    return out


def analyse(results, t):
    """The figures of one run (see the module comment)."""
    by_cid = collections.defaultdict(list)
    for s in results:
        by_cid[s["cid"]].append(s)
    f = collections.Counter()
    stats = collections.Counter()
    sent_times, first_ok = [], None
    for s in results:
        stats.update(s["stats"])
        f["sent"] += len(s["first"])
        f["acked"] += len(s["sent"])
        f["unacked"] += len(s["unacked"])
        f["retries"] += sum(s["attempts"].values()) - len(s["attempts"])
        f["dup_sent"] += len(s["dup_sent"])
        f["final_missing"] += 0 if s["final_done"] else 1
        for cmid, (seq, sent_t, att_t) in s["sent"].items():
            sent_times.append(sent_t)
            if att_t >= t["fault"] and (first_ok is None or sent_t < first_ok):
                first_ok = sent_t
        # One client_msg_id at two seqs in this session's view; a hole in it.
        seqs_of = collections.defaultdict(set)
        for seq, (sender, cmid, *_rest) in s["view"].items():
            seqs_of[(sender, cmid)].add(int(seq))
        f["dup_view"] += sum(len(v) - 1 for v in seqs_of.values())
        seqs = sorted(int(x) for x in s["view"])
        if seqs:
            f["holes"] += (seqs[-1] - s["base"]) - len(seqs)
    gaps = []       # send -> deliver: the message made -> the peer first saw it
    for cid, pair in by_cid.items():
        if len(pair) != 2:
            raise RuntimeError("conversation %s has %d sessions" % (cid, len(pair)))
        a, b = pair
        for x, y in ((a, b), (b, a)):
            for cmid, (seq, _, _) in x["sent"].items():
                v = y["view"].get(str(seq))
                if v is None or v[0] != x["uid"] or v[1] != cmid:
                    f["lost"] += 1
                else:
                    f["to_peer_" + v[2]] += 1
                    if len(v) > 3 and cmid in x["first"]:
                        gaps.append(v[3] - x["first"][cmid])
        for seq in set(a["view"]) & set(b["view"]):
            if a["view"][seq][:2] != b["view"][seq][:2]:
                f["seq_conflicts"] += 1
    f["seq_conflicts"] += stats["seq_conflicts"]
    f["duplicated"] = f["dup_sent"] + f["dup_view"] + f["seq_conflicts"]
    sent_times.sort()
    pre = [x for x in sent_times if t["start"] + 1 <= x < t["fault"]]
    f_rate = len(pre) / max(t["fault"] - t["start"] - 1, 0.001)
    run_rate = len([x for x in sent_times if t["start"] <= x < t["stop"]]) / (t["stop"] - t["start"])
    after = [t["fault"]] + [x for x in sent_times if x >= t["fault"]]
    stall = max((y - x for x, y in zip(after, after[1:])), default=0.0)
    bad_errors = {k: v for k, v in stats.items() if k.startswith("error_")}
    gaps.sort()
    return {
        "gap_max_s": gaps[-1] if gaps else 0.0,
        "gap_p99_s": gaps[int(0.99 * (len(gaps) - 1))] if gaps else 0.0,
        "gap_p50_s": gaps[len(gaps) // 2] if gaps else 0.0,
        "figures": f, "stats": stats, "rate_pre": f_rate, "rate_run": run_rate,
        "first_ok_s": None if first_ok is None else first_ok - t["fault"],
        "stall_s": stall, "bad_errors": bad_errors,
    }


def check_the_checker():
    """analyse() on made-up runs must see a loss, each kind of duplicate and a
    hole: a checker that cannot fail proves nothing."""
    t = {"start": 0.0, "fault": 2.0, "stop": 4.0}

    def session(uid, cid, sent, view, unacked=()):
        return {"uid": uid, "cid": cid, "base": 0, "sent": sent, "unacked": list(unacked),
                "first": {c: 0.5 for c in list(sent) + list(unacked)},
                "attempts": {c: 1 for c in sent}, "dup_sent": [], "stats": {},
                "final_done": True, "view": {str(k): v for k, v in view.items()}}

    def run(a_view, b_view, a_sent=None, unacked=()):
        a_sent = a_sent or {"x1": [1, 1.0, 0.9], "x2": [2, 3.0, 2.5]}
        b_sent = {"y1": [3, 3.1, 3.0]}
        return analyse([session("A", "c", a_sent, a_view, unacked),
                        session("B", "c", b_sent, b_view)], t)["figures"]
    good = {1: ["A", "x1", "push"], 2: ["A", "x2", "push"], 3: ["B", "y1", "own"]}
    f = run(dict(good), dict(good))
    assert (f["lost"], f["duplicated"], f["holes"], f["unacked"]) == (0, 0, 0, 0), f
    b = dict(good)
    del b[2]                                      # B never got x2
    f = run(dict(good), b)
    assert f["lost"] == 1 and f["holes"] == 1, f
    b = dict(good)
    b[4] = ["A", "x2", "sync"]                    # x2 stored twice (seqs 2 and 4)
    assert run(dict(good), b)["duplicated"] >= 1
    b = dict(good)
    b[2] = ["A", "zz", "push"]                    # seq 2 is another message for B
    f = run(dict(good), b)
    assert f["duplicated"] >= 1 and f["lost"] == 1, f
    f = run(dict(good), dict(good), a_sent={"x1": [1, 1.0, 0.9], "x2": [2, 3.0, 2.5]},
            unacked=["x3"])
    assert f["unacked"] == 1, f


def fmt(fault, a, t):
    f, st = a["figures"], a["stats"]
    first = "none" if a["first_ok_s"] is None else "%.2f s" % a["first_ok_s"]
    return ("%-8s sent %6d  acked %6d  lost %d  duplicated %d  unacked %d  | rate %4.0f/s before, "
            "%4.0f/s over the run | restart %.2f s, first send after the fault %s, longest "
            "stall %.2f s | retries %d, reconnects %d, gap syncs %d, pushes again %d, peer got "
            "by push %d / sync %d / final sync %d, holes %d, held back %d%s"
            % (fault, f["sent"], f["acked"], f["lost"], f["duplicated"], f["unacked"],
               a["rate_pre"], a["rate_run"], t["restart_s"], first, a["stall_s"], f["retries"],
               st["reconnects"], st["gap_syncs"], st["pushes_again"], f["to_peer_push"],
               f["to_peer_sync"], f["to_peer_final"], f["holes"], st["held_back"],
               ", errors %r" % a["bad_errors"] if a["bad_errors"] else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--natter", default=os.path.join(ROOT, "build-rel", "natter"))
    ap.add_argument("--rate", type=float, default=2000, help="total msgs/s offered")
    ap.add_argument("--pairs", type=int, default=50)
    ap.add_argument("--faults", default=",".join(FAULTS))
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--after", type=float, default=12)
    ap.add_argument("--drain", type=float, default=40)
    ap.add_argument("--procs", type=int, default=2, help="load worker processes")
    opt = ap.parse_args()
    faults = [x for x in opt.faults.split(",") if x]
    for x in faults:
        if x not in KNOWN:
            ap.error("unknown fault %r (know: %s)" % (x, ", ".join(KNOWN)))
    check_the_checker()
    natter = os.path.abspath(opt.natter)
    if not os.access(natter, os.X_OK):
        log("faults: no natter binary at %s" % natter)
        return 2
    os.environ["NATTER_BIN"] = natter
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    env = {
        "NATTER_LOG_LEVEL": "info",
        # The production default (harness says 1000): how long a send the
        # dead msg process had taken waits before `unavailable`.
        "NATTER_NATS_REQUEST_TIMEOUT_MS": "3000",
        # Redis on the send path (the harness turns the limit off); high
        # enough that the load itself is never limited.
        "NATTER_MSG_SEND_RATE": "1000/2000",
    }
    t_all = time.monotonic()
    stack = harness.Stack(env=env)
    ok = True
    lines = []
    try:
        for role in ROLES:
            stack.start_role(role)
        api = harness.Api(stack.roles("edge-http")[0].url)
        users = make_users(api, 2 * opt.pairs, "flt" + secrets.token_hex(2))
        tokens = login_all(api, users)
        logged_in = time.monotonic()
        cids = make_pairs(api, users, tokens)
        base = {cid: 0 for cid in cids}
        log("faults: %d pairs, %.0f msgs/s offered, %d load processes, binary %s (set-up %.1f s)"
            % (opt.pairs, opt.rate, opt.procs, natter, time.monotonic() - t_all))
        with tempfile.TemporaryDirectory(prefix="natter-faults-") as workdir:
            for fault in faults:
                if time.monotonic() - logged_in > 600:   # access tokens live 15 min
                    tokens = login_all(api, users)
                    logged_in = time.monotonic()
                sessions = []
                for k, (uid, _) in enumerate(users):
                    cid = cids[k // 2]
                    sessions.append({"k": k, "token": tokens[k], "uid": uid, "cid": cid,
                                     "base": base[cid]})
                ws_port = stack.roles("edge-ws")[0].port
                results, t = run_load(stack, opt, fault, sessions, ws_port, workdir)
                a = analyse(results, t)
                for s in results:
                    if s["view"]:
                        base[s["cid"]] = max(base[s["cid"]], max(int(x) for x in s["view"]))
                died = [p.name for p in stack.procs
                        if not p.alive() and not p.expect_exit and p.name != "migrate"]
                f = a["figures"]
                line = fmt(fault, a, t)
                if died:
                    line += " | DIED: %s" % ", ".join(died)
                fail = (f["lost"] or f["duplicated"] or f["unacked"] or f["final_missing"]
                        or a["bad_errors"] or died or f["acked"] == 0)
                lines.append(("FAIL " if fail else "ok   ") + line)
                log(lines[-1])
                ok = ok and not fail
                if died:
                    break
    except BaseException:
        stack.failed = True
        raise
    finally:
        if not ok:
            stack.failed = True
        bad = stack.close()
        if bad:
            ok = False
            lines.append("FAIL roles did not exit 0 on SIGTERM: %r" % bad)
    log("")
    log("== faults under load (%.0f s)" % (time.monotonic() - t_all))
    for line in lines:
        log(line)
    log("faults: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
