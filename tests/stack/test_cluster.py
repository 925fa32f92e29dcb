"""test_cluster.py - natter on a 3-node NATS cluster (issue 13, section 1):
three edge-ws, two edge-http and two of each pool used here (auth, msg,
presence), each process homed on another node with every node in its URL
list (harness.Stack(nats_nodes=3), the node configurations of
natscluster.py, as ops/cluster uses).

  1. real clients spread over the three edges: a message sent through any
     edge reaches every other session of every member, on every edge;
  2. the traffic crosses nodes: every node has a route to the two others
     and their message counters grow, each process is connected to its
     home node (/connz), and `natter trace` on one node shows sends made
     through an edge homed on another;
  3. kill -9 of a NATS node under a steady load (faultload.py's correct
     clients, sessions on all three edges, each conversation's members on
     two different edges): no acknowledged message lost, none twice, no
     gap, and every edge sends again within a few seconds.  Prints the
     figures (lost, duplicates, gaps, seconds until each edge sends again).

Runs in about a minute (sanitizer build, shared machine).
"""

import collections
import os
import secrets
import signal
import tempfile
import time
import types
import unittest

import faults
from harness import Api, StackTestCase, unique_name
from wsclient import WsClient, WsReader

NODES = 3
KILLED = 2               # the node test 3 kills: home of edge-ws 2, a msg and a presence
RECOVER_MAX_S = 5.0      # "sending works again within a few seconds"
LOAD = types.SimpleNamespace(rate=150.0, warmup=4.0, after=8.0, drain=25.0, procs=1)
PAIRS = 12
PLATFORMS = ("web", "mobile", "desktop")


def log(*a):
    print(*a, flush=True)


class ClusterTest(StackTestCase):
    nats_nodes = NODES
    stack_env = {"NATTER_LOG_LEVEL": "info", "NATTER_NATS_REQUEST_TIMEOUT_MS": "2000"}

    @classmethod
    def start_roles(cls):
        s = cls.stack
        # Two of each pool on two different nodes, round robin over the three.
        for role in ("auth", "msg", "presence"):
            for _ in range(2):
                s.start_role(role)
        cls.https = [s.start_role("edge-http") for _ in range(2)]
        cls.edges = [s.start_role("edge-ws", node=i) for i in range(NODES)]
        cls.api = Api(cls.https[0].url)
        cls.api2 = Api(cls.https[1].url)

    def user(self, api=None, devices=1):
        """A new user -> (uid, [access token per device])."""
        api = api or self.api
        name = unique_name("cl")
        self.assertEqual(api.register(name).status, 201)
        toks = []
        for d in range(devices):
            # One live session per platform (docs/sessions.md).
            r = api.login(name, platform=PLATFORMS[d], device_id="dev%d" % d)
            self.assertEqual(r.status, 200, r)
            toks.append(r.json["access_token"])
        return r.json["user"]["id"], toks

    def open(self, edge, token):
        ws = WsClient.connect("127.0.0.1", edge.port, "/ws?token=" + token)
        self.assertEqual(ws.recv_json()["op"], "hello")
        rd = WsReader(ws)
        self.addCleanup(rd.stop)
        return rd

    # -- 1 ------------------------------------------------------------------

    def test_1_message_reaches_every_session_on_every_edge(self):
        users = [self.user(self.api if i % 2 else self.api2, devices=NODES) for i in range(3)]
        uids = [u for u, _ in users]
        r = self.api.call("POST", "/api/conversations",
                          {"type": "group", "name": "cluster", "member_ids": uids[1:]},
                          token=users[0][1][0])
        self.assertEqual(r.status, 201, r)
        cid = r.json["conversation"]["id"]
        # Every user has one session on every edge.
        sess = {(u, e): self.open(self.edges[e], users[u][1][e])
                for u in range(3) for e in range(NODES)}
        # A subscription made on one node reaches the others' interest maps
        # over the routes a moment later; the client's sync after hello
        # covers that moment (docs/operations.md), this test waits it out.
        time.sleep(0.5)
        for e in range(NODES):
            sender = (e % 3, e)
            cmid = "fan%d-%s" % (e, secrets.token_hex(3))
            sess[sender].ws.send_json({"op": "send", "rid": cmid, "conversation_id": cid,
                                       "client_msg_id": cmid, "type": "text", "body": "hi"})
            self.assertTrue(sess[sender].wait(
                lambda fs, c=cmid: any(f.get("op") == "sent" and f.get("rid") == c for f in fs),
                timeout=10), "no sent for %s via edge %d" % (cmid, e))
            for key, rd in sess.items():
                if key == sender:
                    continue
                got = rd.wait(lambda fs, c=cmid: any(
                    f.get("op") == "message" and f["message"].get("client_msg_id") == c
                    for f in fs), timeout=10)
                self.assertTrue(got, "user %d on edge %d did not get %s sent via edge %d"
                                % (key[0], key[1], cmid, e))

    # -- 2 ------------------------------------------------------------------

    def route_counters(self):
        """node -> (in_msgs, out_msgs) summed over its routes."""
        out = {}
        for i in range(NODES):
            rz = self.stack.nats_monitor(i, "/routez")
            self.assertEqual(rz["num_routes"], NODES - 1, "node %d routes: %r" % (i, rz))
            out[i] = (sum(r["in_msgs"] for r in rz["routes"]),
                      sum(r["out_msgs"] for r in rz["routes"]))
        return out

    def test_2_traffic_crosses_nodes(self):
        # Every process is connected to its home node.
        conns = {}
        for i in range(NODES):
            for c in self.stack.nats_monitor(i, "/connz?limit=1000")["connections"]:
                conns[c.get("name", "")] = i
        for p in self.stack.procs:
            if p.role and p.alive():
                homes = [n for name, n in conns.items() if name.endswith("-%d" % p.pid)]
                self.assertEqual(homes, [p.node], "%s (home node %d) on %r" % (p.name, p.node, homes))

        trace = self.stack.start_role("trace", wait=False, node=2)
        deadline = time.monotonic() + 10
        while "tracing" not in self.read(trace) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)   # its subscription reaches the other nodes

        (ua, ta), (ub, tb) = self.user(), self.user()
        r = self.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": ub},
                          token=ta[0])
        self.assertEqual(r.status, 201, r)
        cid = r.json["conversation"]["id"]
        a = self.open(self.edges[0], ta[0])   # homed on node 0
        b = self.open(self.edges[2], tb[0])   # homed on node 2
        time.sleep(0.5)
        before = self.route_counters()
        n = 20
        for k in range(n):
            a.ws.send_json({"op": "send", "rid": "x%d" % k, "conversation_id": cid,
                            "client_msg_id": "x%d" % k, "type": "text", "body": "route"})
        self.assertTrue(b.wait(lambda fs: sum(1 for f in fs if f.get("op") == "message") >= n,
                               timeout=15), "peer on node 2 got %d of %d"
                        % (len(b.of("message")), n))
        after = self.route_counters()
        grew = {i: (after[i][0] - before[i][0], after[i][1] - before[i][1]) for i in range(NODES)}
        log("\n  route messages during %d sends (in, out) per node: %r" % (n, grew))
        # Node 0 forwards the sends (to msg pools elsewhere, or their pushes to
        # node 2); node 2 receives at least the pushes to b.
        self.assertGreaterEqual(grew[0][1], n, grew)
        self.assertGreaterEqual(grew[2][0], n, grew)
        # trace, homed on node 2, saw what edge-ws homed on node 0 published.
        deadline = time.monotonic() + 5
        want_send = "im.conv.%s.send" % cid
        want_push = "im.user.%s.push" % ub
        while time.monotonic() < deadline:
            text = self.read(trace)
            if text.count(want_send) >= n and want_push in text:
                break
            time.sleep(0.1)
        lines = [ln for ln in self.read(trace).splitlines() if want_send in ln]
        self.assertGreaterEqual(len(lines), n, self.read(trace)[-2000:])
        self.assertIn("uid=%s" % ua, lines[0])
        self.assertIn(want_push, self.read(trace))
        trace.kill(signal.SIGTERM)
        self.assertEqual(trace.wait(10), 0)

    @staticmethod
    def read(proc):
        with open(proc.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    # -- 3 ------------------------------------------------------------------

    def test_3_node_killed_under_load(self):
        users = [self.user() for _ in range(2 * PAIRS)]
        sessions = []
        for k in range(PAIRS):
            (ua, ta), (ub, tb) = users[2 * k], users[2 * k + 1]
            r = self.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": ub},
                              token=ta[0])
            self.assertEqual(r.status, 201, r)
            cid = r.json["conversation"]["id"]
            # The two members of a conversation on two different edges.
            for j, (uid, tok) in enumerate(((ua, ta), (ub, tb))):
                sessions.append({"k": len(sessions), "token": tok[0], "uid": uid, "cid": cid,
                                 "base": 0, "port": self.edges[(k + j) % NODES].port})
        homed = [p for p in self.stack.procs if p.role and p.alive() and p.node == KILLED]
        self.assertEqual({p.role for p in homed} >= {"edge-ws", "msg"}, True, homed)

        def kill_node(stack, _fault):
            stack.stop_server(stack.nats_name(KILLED), signal.SIGKILL)
            return 0.0

        with tempfile.TemporaryDirectory(prefix="natter-cluster-") as d:
            results, t = faults.run_load(self.stack, LOAD, "nats-node", sessions,
                                         self.edges[0].port, d, do_fault=kill_node)
        a = faults.analyse(results, t)
        f = a["figures"]
        per_edge = self.recovery_by_edge(results, t)
        died = [p.name for p in self.stack.procs
                if p.role and not p.alive() and not p.expect_exit]
        log("\n  NATS node %d killed (kill -9) under load: %s" % (KILLED, faults.fmt("nats-node", a, t)))
        for e, (first, stall, acked) in sorted(per_edge.items()):
            log("  edge-ws %d (home node %d): first send after the kill %s, longest stall %.2f s, "
                "acked %d" % (e, self.edges[e].node,
                              "never" if first is None else "%.2f s" % first, stall, acked))
        self.assertEqual(died, [])
        self.assertGreater(f["acked"], 0)
        self.assertEqual((f["lost"], f["duplicated"], f["holes"], f["unacked"], f["final_missing"]),
                         (0, 0, 0, 0, 0), dict(f))
        self.assertEqual(a["bad_errors"], {})
        for e, (first, stall, _) in per_edge.items():
            self.assertIsNotNone(first, "edge %d never sent after the kill" % e)
            self.assertLess(first, RECOVER_MAX_S, "edge %d" % e)
        # Those homed on the dead node now sit on the live ones.
        live = {}
        for i in range(NODES):
            if i != KILLED:
                for c in self.stack.nats_monitor(i, "/connz?limit=1000")["connections"]:
                    live[c.get("name", "")] = i
        for p in homed:
            if p.alive():
                self.assertTrue(any(n.endswith("-%d" % p.pid) for n in live), p.name)
        # The node comes back and joins the cluster again.
        self.stack.restart_server(self.stack.nats_name(KILLED))

    def recovery_by_edge(self, results, t):
        """edge index -> (seconds from the kill to the first `sent` for an
        attempt made after it, longest time without a `sent` from a second
        before the kill to the end of sending, acknowledged count)."""
        port_edge = {e.port: i for i, e in enumerate(self.edges)}
        times = collections.defaultdict(list)
        first = {}
        for s in results:
            e = port_edge[s["port"]]
            for _cmid, (_seq, sent_t, att_t) in s["sent"].items():
                times[e].append(sent_t)
                if att_t >= t["fault"] and (e not in first or sent_t < first[e]):
                    first[e] = sent_t
        out = {}
        for e in range(NODES):
            ts = sorted(x for x in times[e] if t["fault"] - 1 <= x <= t["stop"])
            ts = [t["fault"] - 1] + ts
            stall = max((y - x for x, y in zip(ts, ts[1:])), default=0.0)
            out[e] = (first[e] - t["fault"] if e in first else None, stall, len(times[e]))
        return out


if __name__ == "__main__":
    unittest.main()
