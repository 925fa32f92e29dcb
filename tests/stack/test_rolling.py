"""test_rolling.py - a rolling restart loses nothing (issue 13 section 2,
docs/operations.md "Rolling restart").

A stack with two of every role (auth, msg, presence, media, edge-http,
edge-ws) carries a steady message load (rolling.py, shared with ops/bench
scenario r): PAIRS direct conversations, both
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
the longest send->deliver gap.  The stack runs on a 3-node NATS cluster
(harness Stack(nats_nodes=3), each process homed on a node with all three
in its URL list) and the nodes are restarted too, after the processes.

Cost: about 90 s with the sanitizer build (12 processes and 3 NATS nodes,
ws.drain_s=2).
NATTER_ROLLING_PAIRS / NATTER_ROLLING_RATE change the load.
"""

import os
import sys

import rolling
from harness import StackTestCase

PAIRS = int(os.environ.get("NATTER_ROLLING_PAIRS", "20"))
RATE = float(os.environ.get("NATTER_ROLLING_RATE", "100"))   # msgs/s, all sessions


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class RollingRestartTest(StackTestCase):
    nats_nodes = 3       # a cluster: its nodes are restarted too

    @classmethod
    def start_roles(cls):
        cls.stack.extra_env.update({"NATTER_WS_DRAIN_S": "2",
                                    "NATTER_WS_DRAIN_JITTER_MS": "500",
                                    "NATTER_HTTP_DRAIN_S": "1"})
        for role in rolling.ROLES:
            for _ in range(2):
                cls.stack.start_role(role)

    def test_restart_every_process_under_load(self):
        a = rolling.run(self.stack, PAIRS, RATE, log=log)
        log(a["line"])
        self.assertEqual(len(a["restarts"]), 2 * len(rolling.ROLES) + self.nats_nodes)
        self.assertEqual(rolling.problems(a, RATE), [], a["line"])


if __name__ == "__main__":
    import unittest
    unittest.main()
