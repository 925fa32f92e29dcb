"""test_msg_ownership.py - conversation ownership moves between msg
processes under load (issue 12; docs/design.md "Conversations and
messages"): a msg process owns a conversation's state (last_seq, members,
recent keys) and the others hand its sends on to it; when a second process
starts, about half of the conversations move to it, and when the first one
stops (SIGTERM: drained; SIGKILL: not) they all move to the survivor.

While that happens, several clients keep sending to several conversations
over WebSocket, retrying `unavailable` (and lost answers) with the same
client_msg_id as a client does.  What must hold, checked through sync and
history:
  nothing lost     every client_msg_id was answered `sent` and is stored
  no duplicate     each client_msg_id stored once, answers agree with the store
  no gap           seqs of every conversation are 1..N
  order            a sender's messages that were not retried keep their order
  pushes           the receiving member got a push of every seq
"""

import collections
import queue
import secrets
import signal
import threading
import time
import unittest

from harness import Api, StackTestCase, unique_name
from wsclient import WsClient, WsReader

WS_TIMEOUT_MS = 3000
RETRY_CODES = ("unavailable", "rate_limited")
CONVS = 6           # conversations sent to at once
STEP_S = 1.5        # seconds of load before, between and after the moves


def owned_requests(stats):
    """send_owned requests (sends handed on by another msg process) per instance."""
    return {s["id"]: sum(e.get("num_requests", 0) for e in s.get("endpoints", [])
                         if e.get("name") == "send_owned") for s in stats}


class OwnershipTest(StackTestCase):
    maxDiff = None

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth")
        cls.first = cls.stack.start_role("msg")
        http = cls.stack.start_role("edge-http", {"NATTER_NATS_REQUEST_TIMEOUT_MS": "5000"})
        cls.api = Api(http.url)
        cls.edge = cls.stack.start_role("edge-ws",
                                        {"NATTER_NATS_REQUEST_TIMEOUT_MS": str(WS_TIMEOUT_MS)})

    def user(self):
        name = unique_name("o")
        r = self.api.register(name)
        self.assertEqual(r.status, 201, r)
        r2 = self.api.login(name, platform="web", device_id="dev-web")
        self.assertEqual(r2.status, 200, r2)
        return r.json["user"]["id"], r2.json["access_token"]

    def open(self, token):
        ws = WsClient.connect("127.0.0.1", self.edge.port, "/ws?token=" + token)
        self.assertEqual(ws.recv_json()["op"], "hello")
        rd = WsReader(ws)
        self.addCleanup(rd.stop)
        rid = "p" + secrets.token_hex(4)
        ws.send_json({"op": "ping", "rid": rid})
        self.assertTrue(rd.wait(lambda fs: any(f.get("rid") == rid for f in fs), 10))
        return rd

    def pairs(self):
        out = []
        for _ in range(CONVS):
            (a, ta), (b, tb) = self.user(), self.user()
            r = self.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": b},
                              token=ta)
            self.assertEqual(r.status, 201, r)
            out.append((r.json["conversation"]["id"], ta, tb, self.open(ta), self.open(tb)))
        return out

    @staticmethod
    def sender(rd, cid, stop, result, window=4, deadline_s=120.0):
        """Send new messages to cid on rd until stop is set, retrying like a
        client (same client_msg_id for `unavailable` or no answer), then
        finish what is pending.  result gets 'items' [(client_msg_id,
        body)] in send order, 'sent' {cm: message}, 'retried' set, and
        'error' if something was wrong."""
        tag = secrets.token_hex(3)
        items, todo, inflight, got, retried = [], [], {}, {}, set()
        n = 0
        give_up = 2 * WS_TIMEOUT_MS / 1000.0
        deadline = time.monotonic() + deadline_s
        try:
            while not stop.is_set() or todo or inflight:
                if time.monotonic() > deadline:
                    raise AssertionError("%d sent, %d in flight, %d to go"
                                         % (len(got), len(inflight), len(todo)))
                while len(inflight) < window and (todo or not stop.is_set()):
                    if todo:
                        cm, body = todo.pop()
                    else:
                        cm, body = "m%s-%04d" % (tag, len(items)), "b%d" % len(items)
                        items.append((cm, body))
                    n += 1
                    inflight["s%d" % n] = (cm, body, time.monotonic())
                    rd.ws.send_json({"op": "send", "conversation_id": cid, "client_msg_id": cm,
                                     "type": "text", "body": body, "rid": "s%d" % n})
                try:
                    f = rd.next(timeout=0.2)
                except queue.Empty:
                    f = {}
                if f is None:
                    raise AssertionError("socket ended: %r" % rd.error)
                if f.get("rid") in inflight:
                    cm, body, _ = inflight.pop(f["rid"])
                    if f["op"] == "sent":
                        m = f["message"]
                        if m["client_msg_id"] != cm or (cm in got and got[cm] != m):
                            raise AssertionError("answer %r for %s (had %r)"
                                                 % (m, cm, got.get(cm)))
                        got[cm] = m
                    elif f["op"] == "error" and f["code"] in RETRY_CODES:
                        todo.insert(0, (cm, body))
                        retried.add(cm)
                    else:
                        raise AssertionError("send %s: %r" % (cm, f))
                now = time.monotonic()
                for rid, (cm, body, t) in list(inflight.items()):
                    if now - t > give_up:
                        del inflight[rid]
                        todo.insert(0, (cm, body))
                        retried.add(cm)
        except Exception as e:  # reported by the test thread
            result["error"] = repr(e)
        result["items"] = items
        result["sent"] = got
        result["retried"] = retried

    def run_load(self, steps):
        """Keep sending to CONVS conversations at once while steps run one
        after another (each a function; between them the load goes on for
        STEP_S), then stop and let the senders finish.
        -> (pairs, results by cid)."""
        pairs = self.pairs()
        results = {cid: {} for cid, *_ in pairs}
        stop = threading.Event()
        threads = [threading.Thread(target=self.sender, args=(rd, cid, stop, results[cid]))
                   for cid, _, _, rd, _ in pairs]
        for t in threads:
            t.start()
        try:
            for step in steps:
                time.sleep(STEP_S)
                step()
            time.sleep(STEP_S)
        finally:
            stop.set()
            for t in threads:
                t.join(150)
        return pairs, results

    @staticmethod
    def answered(pairs):
        return sum(1 for _, _, _, rd, _ in pairs for f in rd.of("sent"))

    def check(self, pairs, results):
        for cid, ta, tb, _, rb in pairs:
            r = results[cid]
            self.assertNotIn("error", r, r.get("error"))
            sent, items, n = r["sent"], r["items"], len(r["items"])
            self.assertGreater(n, 10, "hardly any load on " + cid)
            self.assertEqual(set(sent), {cm for cm, _ in items}, "lost sends in " + cid)
            stored, after = [], 0
            while True:
                p = self.api.call("GET", "/api/messages/sync?conversation_id=%s&after_seq=%d"
                                  "&limit=100" % (cid, after), token=tb)
                self.assertEqual(p.status, 200, p)
                stored += p.json["messages"]
                if not p.json["has_more"]:
                    break
                after = stored[-1]["seq"]
            self.assertEqual([m["seq"] for m in stored], list(range(1, n + 1)),
                             "seqs of " + cid)
            counts = collections.Counter(m["client_msg_id"] for m in stored)
            self.assertEqual([cm for cm, k in counts.items() if k != 1], [], "duplicates")
            by_cm = {m["client_msg_id"]: m for m in stored}
            for cm, m in sent.items():
                self.assertEqual(by_cm[cm], m, cm)
            # History, newest first, is the same list backwards.
            hist, before = [], 0
            while True:
                q = "/api/messages/history?conversation_id=%s&limit=100" % cid
                if before:
                    q += "&before_seq=%d" % before
                p = self.api.call("GET", q, token=ta)
                self.assertEqual(p.status, 200, p)
                hist += p.json["messages"]
                if not p.json["has_more"]:
                    break
                before = hist[-1]["seq"]
            self.assertEqual(hist, list(reversed(stored)))
            # A sender's order: the messages it never had to retry.
            firsts = [by_cm[cm]["seq"] for cm, _ in items if cm not in r["retried"]]
            self.assertEqual(firsts, sorted(firsts), "order in " + cid)
            # The other member was pushed every seq (resends allowed).
            self.assertTrue(rb.wait(lambda fs: {f["message"]["seq"] for f in fs
                                                if f.get("op") == "message" and
                                                f["message"]["conversation_id"] == cid}
                                    >= set(range(1, n + 1)), 15),
                            "pushes missing in " + cid)

    def handed_on(self):
        """send_owned requests by instance, once two msg processes run."""
        deadline = time.monotonic() + 10
        while True:
            stats = self.stack.micro("STATS", "msg")
            owned = owned_requests(stats)
            if (len(stats) == 2 and sum(owned.values()) > 0) or time.monotonic() > deadline:
                return owned
            time.sleep(0.2)

    def ensure_one(self):
        """Exactly one live msg process (earlier tests leave two)."""
        live = self.stack.roles("msg")
        if not live:
            live = [self.stack.start_role("msg")]
        for p in live[1:]:
            p.kill(signal.SIGTERM)
            self.assertEqual(p.wait(15), 0, p.tail())
        return live[0]

    def move(self, stop_first):
        """Under load: start a second msg process (conversations split),
        then stop the first with stop_first(proc) (all move)."""
        old = self.ensure_one()
        new, seen = [], {}

        def start():
            new.append(self.stack.start_role("msg"))
            seen.update(self.handed_on())
        pairs, results = self.run_load([start, lambda: stop_first(old)])
        self.assertTrue(sum(seen.values()) > 0,
                        "no send was handed on to its owner while two ran: %r" % seen)
        self.check(pairs, results)
        return new[0]

    def test_1_sigterm_hands_conversations_over(self):
        rcs = []
        new = self.move(lambda p: (p.kill(signal.SIGTERM), rcs.append(p.wait(15))))
        self.assertEqual(rcs, [0])
        # The survivor owns everything: nothing handed on since (it counts
        # only what it got; the first one is gone with its counters).
        self.assertEqual(set(owned_requests(self.stack.micro("STATS", "msg"))), {new.micro_id})

    def test_2_sigkill_loses_nothing(self):
        rcs = []
        self.move(lambda p: (p.kill(signal.SIGKILL), rcs.append(p.wait(10))))
        self.assertEqual(rcs, [-signal.SIGKILL])


if __name__ == "__main__":
    unittest.main()
