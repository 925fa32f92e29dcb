"""test_msg_db_stall.py - MariaDB stops answering (SIGSTOP: the socket
stays open, nothing comes back) while sends arrive, then resumes.

The msg pool commits its sends on its loop thread (docs/design.md
"Conversations and messages"), which blocks while MariaDB does not
answer.  What must hold: every send is answered in bounded time (the
edge's request timeout: 503 unavailable, which a client retries with the
same client_msg_id), nothing is answered `sent` that is not stored, and
once MariaDB answers again the retries are stored exactly once, at dense
seqs, and the msg process serves everything as before.

Cost: ~10 s for the short stall, ~30 s for the long one.
"""

import os
import signal
import time
import unittest

from harness import Api, StackTestCase, unique_name

STALL_S = 3.0


class StallBase(StackTestCase):
    """What both stalls use (no tests of its own)."""

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth")
        cls.msg = cls.stack.start_role("msg")
        cls.api = Api(cls.stack.start_role("edge-http").url)   # request timeout 1 s

    def user(self):
        name = unique_name("st")
        self.assertEqual(self.api.register(name).status, 201)
        r = self.api.login(name)
        self.assertEqual(r.status, 200, r)
        return r.json["user"]["id"], r.json["access_token"]

    def send(self, token, cid, key):
        return self.api.call("POST", "/api/messages",
                             {"conversation_id": cid, "client_msg_id": key, "type": "text",
                              "body": "b " + key}, token=token)

    def conversation(self):
        """A direct conversation with one message (k0): (token, cid)."""
        (_, ta), (ub, _) = self.user(), self.user()
        r = self.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": ub},
                          token=ta)
        self.assertEqual(r.status, 201, r)
        cid = r.json["conversation"]["id"]
        self.assertEqual(self.send(ta, cid, "k0").status, 201)
        return ta, cid


class DbStallTest(StallBase):

    def test_sends_during_a_stall_are_answered_then_stored_once(self):
        ta, cid = self.conversation()
        db = self.stack.servers["mariadb"].pid
        os.kill(db, signal.SIGSTOP)
        try:
            answered = []
            t0 = time.monotonic()
            for key in ("k1", "k2", "k3"):
                t = time.monotonic()
                r = self.send(ta, cid, key)
                answered.append((key, r.status, round(time.monotonic() - t, 2)))
                self.assertEqual(r.status, 503, answered)
                self.assertEqual(r.json["error"]["code"], "unavailable")
                self.assertLess(time.monotonic() - t, 3.0, answered)
            time.sleep(max(0.0, STALL_S - (time.monotonic() - t0)))
        finally:
            os.kill(db, signal.SIGCONT)
        # The client retries with the same ids; each is stored once.
        seqs = {}
        deadline = time.monotonic() + 30
        for key in ("k1", "k2", "k3"):
            while True:
                r = self.send(ta, cid, key)
                if r.status in (200, 201):
                    seqs[key] = r.json["message"]["seq"]
                    break
                self.assertEqual(r.status, 503, r)
                self.assertLess(time.monotonic(), deadline, "no recovery after the stall")
                time.sleep(0.2)
        self.assertEqual(self.send(ta, cid, "k4").status, 201)
        r = self.api.call("GET", "/api/messages/sync?conversation_id=%s" % cid, token=ta)
        self.assertEqual(r.status, 200, r)
        got = [(m["seq"], m["client_msg_id"]) for m in r.json["messages"]]
        self.assertEqual([s for s, _ in got], list(range(1, 6)), got)
        self.assertEqual(sorted(k for _, k in got), ["k0", "k1", "k2", "k3", "k4"], got)
        for key, seq in seqs.items():
            self.assertIn((seq, key), got)
        self.assertTrue(self.msg.alive())


class LongDbStallTest(StallBase):
    """A stall longer than the database's I/O timeout (10 s): the batch
    that met it fails after its timeouts (10 s, then three reconnects of
    db.connect_timeout, 1 s here: ~13 s), which blocks the loop that long
    and no longer: later batches wait on the worker's thread (the inline
    pause) while the loop goes on reading and answering.  Cost: ~30 s."""

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth")
        cls.msg = cls.stack.start_role("msg", {"NATTER_DB_CONNECT_TIMEOUT": "1"})
        cls.api = Api(cls.stack.start_role("edge-http").url)

    def pings(self):
        return len(self.stack.micro("PING", "msg", window=0.5))

    def test_the_loop_is_blocked_for_a_bounded_time_then_keeps_answering(self):
        ta, cid = self.conversation()
        self.assertEqual(self.pings(), 1)
        db = self.stack.servers["mariadb"].pid
        os.kill(db, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            self.assertEqual(self.send(ta, cid, "k1").status, 503)
            # The loop waits out k1's batch: I/O timeout, then three
            # reconnect attempts.  Then it answers again, DB still stopped.
            while self.pings() == 0:
                self.assertLess(time.monotonic() - t0, 40, "msg silent for 40 s")
            blocked = time.monotonic() - t0
            # From now on a send's batch fails on the worker's thread: the
            # loop answers in between.
            self.assertEqual(self.send(ta, cid, "k2").status, 503)
            self.assertEqual(self.pings(), 1, "the loop blocked again (after %.1f s)" % blocked)
            self.assertEqual(self.send(ta, cid, "k3").status, 503)
            self.assertEqual(self.pings(), 1, "the loop blocked again")
        finally:
            os.kill(db, signal.SIGCONT)
        seqs = []
        deadline = time.monotonic() + 40
        for key in ("k1", "k2", "k3", "k4"):
            while True:
                r = self.send(ta, cid, key)
                if r.status in (200, 201):
                    seqs.append(r.json["message"]["seq"])
                    break
                self.assertEqual(r.status, 503, r)
                self.assertLess(time.monotonic(), deadline, "no recovery after the stall")
                time.sleep(0.2)
        # k2 and k3 timed out at the edge but were queued: the worker may
        # store them when MariaDB wakes, before k1's retry (a retried
        # send's order is not kept; its single copy is).
        self.assertEqual(sorted(seqs), [2, 3, 4, 5], seqs)
        self.assertEqual(seqs[-1], 5, "k4, sent after the others were stored")
        r = self.api.call("GET", "/api/messages/sync?conversation_id=%s" % cid, token=ta)
        got = [(m["seq"], m["client_msg_id"]) for m in r.json["messages"]]
        self.assertEqual(sorted(got), sorted(zip([1] + seqs, ["k0", "k1", "k2", "k3", "k4"])))


if __name__ == "__main__":
    unittest.main()
