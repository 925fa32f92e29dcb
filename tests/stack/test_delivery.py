"""test_delivery.py - end-to-end message delivery (issue 4) through real
roles: auth, two msg processes, edge-http and two edge-ws, on nats-server,
mariadb and redis (harness.py).  The test plays only clients: REST for
accounts, conversations and paging, WebSockets for sends and pushes.

What must hold (API.md "WebSocket" and "Messages", DESIGN.md "Messages:
the invariants"):
  fan-out      a message reaches every session of every member, on both edges
  order        1000 pipelined sends: seqs dense and in send order, pushed in order
  idempotency  one client_msg_id over WS and REST: one message, one seq
  offline      a reconnecting client syncs exactly what it missed, in order
  crash        a msg process SIGKILLed mid-stream: clients that retry with the
               same client_msg_id lose nothing and nothing is stored twice
  bad input    not a member / no such conversation, over WS and REST

One stack for the class; the crash test starts a new msg process in place
of the one it killed, so the other tests always see two.
"""

import collections
import queue
import secrets
import signal
import sys
import threading
import time
import unittest

from harness import Api, StackTestCase, unique_name
from wsclient import WsClient, WsReader

MSG_KEYS = {"id", "conversation_id", "seq", "sender_id", "client_msg_id", "type", "body",
            "created_at", "revoked"}
WS_TIMEOUT_MS = 3000        # edge-ws request timeout: how soon a lost send is `unavailable`
RETRY_CODES = ("unavailable", "rate_limited")


def cmid(prefix="c"):
    return prefix + secrets.token_hex(8)


def send_frame(cid, cm, body):
    return {"op": "send", "conversation_id": cid, "client_msg_id": cm, "type": "text",
            "body": body}


def first_seen(seqs):
    """seqs without repeats, in order of first arrival (resends are allowed)."""
    seen, out = set(), []
    for s in seqs:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def inversions(seqs):
    """How many neighbours are out of increasing order."""
    return sum(1 for x, y in zip(seqs, seqs[1:]) if y <= x)


class DeliveryTest(StackTestCase):
    maxDiff = None

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth")
        cls.msgs = [cls.stack.start_role("msg"), cls.stack.start_role("msg")]
        http = cls.stack.start_role("edge-http", {"NATTER_NATS_REQUEST_TIMEOUT_MS": "5000"})
        cls.api = Api(http.url)
        env = {"NATTER_NATS_REQUEST_TIMEOUT_MS": str(WS_TIMEOUT_MS)}
        cls.e1 = cls.stack.start_role("edge-ws", env)
        cls.e2 = cls.stack.start_role("edge-ws", env)

    # -- clients ------------------------------------------------------------

    def user(self):
        """A fresh user with a web session: (id, username, access token)."""
        name = unique_name("d")
        r = self.api.register(name)
        self.assertEqual(r.status, 201, r)
        return r.json["user"]["id"], name, self.login(name, "web", "dev-web")

    def login(self, name, platform, device):
        """Another session: its own platform and device, so no one is replaced."""
        r = self.api.login(name, platform=platform, device_id=device)
        self.assertEqual(r.status, 200, r)
        return r.json["access_token"]

    def direct(self, token, peer):
        r = self.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": peer},
                          token=token)
        self.assertEqual(r.status, 201, r)
        return r.json["conversation"]["id"]

    def open(self, edge, token):
        """A socket past hello with its reader running; the ping round trip
        means the session, and its push subscription, exist."""
        ws = WsClient.connect("127.0.0.1", edge.port, "/ws?token=" + token)
        hello = ws.recv_json()
        self.assertEqual(hello["op"], "hello", hello)
        rd = WsReader(ws)
        self.addCleanup(rd.stop)
        self.request(rd, {"op": "ping"}, "pong")
        return rd

    def request(self, rd, frame, want, timeout=10.0):
        """Send frame with a fresh rid -> the reply carrying that rid."""
        rid = "q" + secrets.token_hex(5)
        rd.ws.send_json(dict(frame, rid=rid))
        m = rd.wait(lambda fs: next((f for f in fs if f.get("rid") == rid), None), timeout)
        self.assertIsNotNone(m, "no reply to %r (reader: %r)" % (frame, rd.error))
        if want:
            self.assertEqual(m["op"], want, m)
        return m

    def rest_send(self, token, cid, cm, body):
        return self.api.call("POST", "/api/messages", {"conversation_id": cid,
                                                       "client_msg_id": cm, "type": "text",
                                                       "body": body}, token=token)

    def paged(self, fetch, after, limit):
        """Every message after `after`, page by page; fetch(after, limit) ->
        (messages, has_more).  -> (messages, [(page length, has_more)])."""
        msgs, pages = [], []
        for _ in range(200):
            page, more = fetch(after, limit)
            msgs += page
            pages.append((len(page), more))
            if not more or not page:
                return msgs, pages
            after = page[-1]["seq"]
        self.fail("sync does not end")

    def rest_sync(self, token, cid, after=0, limit=100):
        def fetch(after, limit):
            r = self.api.call("GET", "/api/messages/sync?conversation_id=%s&after_seq=%d&limit=%d"
                              % (cid, after, limit), token=token)
            self.assertEqual(r.status, 200, r)
            return r.json["messages"], r.json["has_more"]
        return self.paged(fetch, after, limit)

    def ws_sync(self, rd, cid, after=0, limit=50):
        def fetch(after, limit):
            p = self.request(rd, {"op": "sync", "conversation_id": cid, "after_seq": after,
                                  "limit": limit}, "sync")
            self.assertEqual(p["conversation_id"], cid, p)
            return p["messages"], p["has_more"]
        return self.paged(fetch, after, limit)

    def send_all(self, rd, cid, items, window=16, deadline_s=60.0, on_sent=None):
        """Send (client_msg_id, body) items over WS with at most `window` in
        flight, as a client does: `unavailable`/`rate_limited`, or no answer
        in twice the edge's request timeout, is retried with the SAME
        client_msg_id.  Any other error fails.  -> ({client_msg_id: message},
        retries).  on_sent(n) is called after the n-th distinct `sent`."""
        todo = list(reversed(items))
        inflight, got = {}, {}
        n = retries = 0
        give_up = 2 * WS_TIMEOUT_MS / 1000.0
        deadline = time.monotonic() + deadline_s
        while todo or inflight:
            self.assertLess(time.monotonic(), deadline, "%d sent, %d in flight, %d to go"
                            % (len(got), len(inflight), len(todo)))
            while todo and len(inflight) < window:
                cm, body = todo.pop()
                n += 1
                inflight["s%d" % n] = (cm, body, time.monotonic())
                rd.ws.send_json(dict(send_frame(cid, cm, body), rid="s%d" % n))
            try:
                f = rd.next(timeout=0.2)
            except queue.Empty:
                f = {}
            self.assertIsNotNone(f, "socket ended: %r" % rd.error)
            if f.get("rid") in inflight:
                cm, body, _ = inflight.pop(f["rid"])
                if f["op"] == "sent":
                    m = f["message"]
                    self.assertEqual(m["client_msg_id"], cm, f)
                    if cm in got:   # two attempts answered: the same message
                        self.assertEqual(got[cm], m)
                    got[cm] = m
                    if on_sent:
                        on_sent(len(got))
                elif f["op"] == "error" and f["code"] in RETRY_CODES:
                    todo.append((cm, body))
                    retries += 1
                else:
                    self.fail("send %s: %r" % (cm, f))
            now = time.monotonic()
            for rid, (cm, body, t) in list(inflight.items()):
                if now - t > give_up:
                    del inflight[rid]
                    todo.append((cm, body))
                    retries += 1
        return got, retries

    @staticmethod
    def pushed(rd, cid):
        """Seqs of the `message` pushes for cid, in arrival order."""
        return [f["message"]["seq"] for f in rd.of("message")
                if f["message"]["conversation_id"] == cid]

    def restart_msg(self, i):
        if not self.msgs[i].alive():
            type(self).msgs[i] = self.stack.start_role("msg")

    # -- tests --------------------------------------------------------------

    def test_fan_out_across_edges_and_devices(self):
        (a, an, ta), (b, bn, tb), (_, _, tc) = self.user(), self.user(), self.user()
        ta2, tb2 = self.login(an, "mobile", "dev-phone"), self.login(bn, "desktop", "dev-desk")
        cid = self.direct(ta, b)
        a1, a2 = self.open(self.e1, ta), self.open(self.e2, ta2)
        b1, b2 = self.open(self.e2, tb), self.open(self.e1, tb2)
        c1 = self.open(self.e1, tc)           # not a member: must see nothing
        cm, body = cmid(), "fan-out \u2713 \U0001f680 \"q\""
        t0 = int(time.time() * 1000)
        m = self.request(a1, send_frame(cid, cm, body), "sent")["message"]
        self.assertEqual(set(m), MSG_KEYS, m)
        self.assertEqual((m["conversation_id"], m["seq"], m["sender_id"], m["client_msg_id"],
                          m["type"], m["body"], m["revoked"]), (cid, 1, a, cm, "text", body, False))
        self.assertTrue(isinstance(m["id"], str) and m["id"], m)
        self.assertLess(abs(m["created_at"] - t0), 10000, m)
        others = {"a2": a2, "b1": b1, "b2": b2}
        for name, rd in others.items():
            self.assertTrue(rd.wait(lambda fs: any(f["op"] == "message" for f in fs), 10),
                            "%s got no push" % name)
            rd.ws.send_json({"op": "ack", "conversation_id": cid, "seq": 1})
        time.sleep(0.5)                       # room for a wrong second copy
        self.request(c1, {"op": "ping"}, "pong")
        for name, rd in others.items():
            self.assertEqual([f["message"] for f in rd.of("message")], [m], name)
        self.assertEqual(c1.of("message"), [])
        # (The sending session a1 may or may not get its own push: API.md
        # promises the sender's *other* sessions; a1 is not checked.)
        # The other way: B's second device (edge 1) answers.
        r = self.request(b2, send_frame(cid, cmid(), "back"), "sent")["message"]
        self.assertEqual((r["seq"], r["sender_id"]), (2, b))
        for name, rd in {"a1": a1, "a2": a2, "b1": b1}.items():
            self.assertTrue(rd.wait(lambda fs: 2 in self.pushed(rd, cid), 10), name)
            self.assertEqual([f["message"] for f in rd.of("message")
                              if f["message"]["seq"] == 2], [r], name)
        self.assertEqual(c1.of("message"), [])

    def test_order_of_1000_pipelined_sends(self):
        (a, _, ta), (b, _, tb) = self.user(), self.user()
        cid = self.direct(ta, b)
        a1, b1 = self.open(self.e1, ta), self.open(self.e2, tb)
        n, tag = 1000, secrets.token_hex(3)
        t0, written = time.monotonic(), 0
        try:
            for i in range(n):                # no waiting between frames
                a1.ws.send_json(dict(send_frame(cid, "o%s-%04d" % (tag, i), "n%d" % i),
                                     rid="o%d" % i))
                written += 1
        except OSError:
            pass                              # the edge closed us: reported below
        replies = {}
        while len(replies) < n and time.monotonic() - t0 < 25:
            try:
                f = a1.next(timeout=0.5)
            except queue.Empty:
                continue
            if f is None:
                break
            if str(f.get("rid", "")).startswith("o"):
                replies[f["rid"]] = f
        errors = collections.Counter(f["code"] for f in replies.values() if f["op"] == "error")
        sent = [replies.get("o%d" % i) for i in range(n)]
        seqs = [f["message"]["seq"] for f in sent if f and f["op"] == "sent"]
        wrong = [i for i, f in enumerate(sent) if f and f["op"] == "sent" and
                 (f["message"]["client_msg_id"], f["message"]["body"]) != ("o%s-%04d" % (tag, i),
                                                                           "n%d" % i)]
        want = set(seqs)
        b1.wait(lambda fs: len(fs) > len(want) and want <= set(self.pushed(b1, cid)), 15)
        got = first_seen(self.pushed(b1, cid))
        # Every property is checked and reported together, then asserted at once.
        problems = {}
        if (written, a1.ws.close_code, a1.error) != (n, None, None):
            problems["sending socket"] = "wrote %d/%d frames, close code %r, reader %r" % (
                written, n, a1.ws.close_code, a1.error)
        if len(replies) != n or errors or wrong:
            problems["replies"] = "%d/%d, errors %r, %d sent for the wrong frame" % (
                len(replies), n, dict(errors), len(wrong))
        if seqs != list(range(1, n + 1)):
            problems["seqs in send order"] = "%d sent, dense: %s, %d inversions" % (
                len(seqs), sorted(seqs) == list(range(1, len(seqs) + 1)), inversions(seqs))
        if sorted(got) != list(range(1, n + 1)):
            problems["B received"] = "%d distinct of %d" % (len(got), n)
        if got != sorted(got):
            problems["B in order"] = "%d inversions" % inversions(got)
        print("\norder: %.1fs, %r" % (time.monotonic() - t0, problems or "ok"), file=sys.stderr)
        self.assertEqual(problems, {})

    def test_same_client_msg_id_over_ws_and_rest(self):
        (a, an, ta), (b, _, _) = self.user(), self.user()
        cid = self.direct(ta, b)
        a1, a2 = self.open(self.e1, ta), self.open(self.e2, self.login(an, "mobile", "dev-p"))
        # WS, REST, WS on the other edge: one message; REST says 200 (a retry)
        cm1 = cmid()
        m1 = self.request(a1, send_frame(cid, cm1, "one"), "sent")["message"]
        self.assertEqual(m1["seq"], 1)
        r = self.rest_send(ta, cid, cm1, "one, retried")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["message"], m1)
        self.assertEqual(self.request(a2, send_frame(cid, cm1, "one"), "sent")["message"], m1)
        # REST (201, the original), WS, REST (200)
        cm2 = cmid()
        r = self.rest_send(ta, cid, cm2, "two")
        self.assertEqual(r.status, 201, r)
        m2 = r.json["message"]
        self.assertEqual(m2["seq"], 2)
        self.assertEqual(self.request(a1, send_frame(cid, cm2, "two"), "sent")["message"], m2)
        r = self.rest_send(ta, cid, cm2, "two")
        self.assertEqual((r.status, r.json["message"]), (200, m2))
        # All three at once, two edges (and so both msg processes) and REST.
        cm3, out = cmid(), {}
        t = threading.Thread(target=lambda: out.update(r=self.rest_send(ta, cid, cm3, "three")))
        a1.ws.send_json(dict(send_frame(cid, cm3, "three"), rid="x1"))
        a2.ws.send_json(dict(send_frame(cid, cm3, "three"), rid="x2"))
        t.start()
        t.join(15)
        ws_got = [rd.wait(lambda fs, rid=rid: next((f for f in fs if f.get("rid") == rid), None),
                          10) for rd, rid in ((a1, "x1"), (a2, "x2"))]
        self.assertIn(out["r"].status, (200, 201), out["r"])
        m3 = out["r"].json["message"]
        self.assertEqual(m3["seq"], 3)
        for f in ws_got:
            self.assertEqual((f["op"], f["message"]), ("sent", m3), f)
        # Stored once each: REST and WS sync, the table, last_seq.
        want = [m1, m2, m3]
        self.assertEqual(self.rest_sync(ta, cid)[0], want)
        self.assertEqual(self.ws_sync(a2, cid)[0], want)
        rows = self.stack.sql("SELECT client_msg_id, COUNT(*) FROM messages WHERE "
                              "conversation_id=%d GROUP BY client_msg_id" % int(cid))
        self.assertEqual(sorted(rows.split()), sorted([cm1, "1", cm2, "1", cm3, "1"]))
        g = self.api.call("GET", "/api/conversations/" + cid, token=ta)
        self.assertEqual(g.json["conversation"]["last_seq"], 3)

    def test_offline_member_catches_up_with_sync(self):
        (a, _, ta), (b, _, tb) = self.user(), self.user()
        cid = self.direct(ta, b)
        a1, b1 = self.open(self.e1, ta), self.open(self.e2, tb)
        self.send_all(a1, cid, [(cmid("w"), "warm %d" % i) for i in range(5)])
        self.assertTrue(b1.wait(lambda fs: len(set(self.pushed(b1, cid))) >= 5, 10))
        last = max(self.pushed(b1, cid))
        self.assertEqual(last, 5)
        b1.ws.send_json({"op": "ack", "conversation_id": cid, "seq": last})
        b1.stop()
        items = [(cmid("x"), "offline %d" % i) for i in range(200)]
        sent, _ = self.send_all(a1, cid, items)
        want = sorted(sent.values(), key=lambda m: m["seq"])
        self.assertEqual([m["seq"] for m in want], list(range(last + 1, last + 201)))
        self.assertEqual({m["client_msg_id"] for m in want}, {cm for cm, _ in items})
        b2 = self.open(self.e1, tb)           # back, on the other edge
        msgs, pages = self.ws_sync(b2, cid, after=last, limit=50)
        self.assertEqual(pages, [(50, True)] * 3 + [(50, False)])
        self.assertEqual(msgs, want)
        msgs, pages = self.rest_sync(tb, cid, after=last, limit=64)
        self.assertEqual(pages, [(64, True)] * 3 + [(8, False)])
        self.assertEqual(msgs, want)

    def test_msg_process_killed_mid_stream(self):
        (a, _, ta), (b, _, tb) = self.user(), self.user()
        cid = self.direct(ta, b)
        a1 = self.open(self.e1, ta)
        victim, killed_at = self.msgs[1], []
        self.addCleanup(self.restart_msg, 1)

        def on_sent(k):
            if k == 100 and not killed_at:
                victim.kill(signal.SIGKILL)
                killed_at.append(time.monotonic())
        n = 300
        items = [(cmid("k"), "k%d" % i) for i in range(n)]
        t0 = time.monotonic()
        sent, retries = self.send_all(a1, cid, items, on_sent=on_sent)
        print("\ncrash: %d sent in %.1fs, %d retries" % (len(sent), time.monotonic() - t0,
                                                         retries), file=sys.stderr)
        self.assertTrue(killed_at)
        self.assertEqual(victim.wait(5), -signal.SIGKILL)
        self.assertEqual(set(sent), {cm for cm, _ in items})
        stored, _ = self.rest_sync(ta, cid)
        self.assertEqual([m["seq"] for m in stored], list(range(1, n + 1)))
        counts = collections.Counter(m["client_msg_id"] for m in stored)
        self.assertEqual([cm for cm, k in counts.items() if k != 1], [])
        by_cm = {m["client_msg_id"]: m for m in stored}
        for cm, m in sent.items():
            self.assertEqual(by_cm.get(cm), m, cm)
        b1 = self.open(self.e2, tb)
        self.assertEqual(self.ws_sync(b1, cid, limit=100)[0], stored)
        rows = self.stack.sql("SELECT COUNT(*), COUNT(DISTINCT client_msg_id), MAX(seq) FROM "
                              "messages WHERE conversation_id=%d" % int(cid))
        self.assertEqual(rows.split(), [str(n)] * 3)

    def test_not_member_and_unknown_conversation(self):
        (a, _, ta), (b, _, _), (_, _, tc) = self.user(), self.user(), self.user()
        cid = self.direct(ta, b)
        c1 = self.open(self.e1, tc)
        ghost = "987654321"
        frames = [send_frame(cid, cmid(), "let me in"),
                  {"op": "sync", "conversation_id": cid, "after_seq": 0},
                  {"op": "read", "conversation_id": cid, "seq": 1}]
        for f in frames:
            m = self.request(c1, f, "error")
            self.assertEqual(m["code"], "forbidden", (f, m))
            self.assertIsInstance(m["message"], str)
        for f in frames[:2]:
            m = self.request(c1, dict(f, conversation_id=ghost), "error")
            self.assertEqual(m["code"], "not_found", (f, m))
        self.request(c1, {"op": "ping"}, "pong")   # the socket stays open
        for verb in ("history", "sync"):
            for c, status, code in ((cid, 403, "forbidden"), (ghost, 404, "not_found")):
                r = self.api.call("GET", "/api/messages/%s?conversation_id=%s" % (verb, c),
                                  token=tc)
                self.assertEqual((r.status, r.json["error"]["code"]), (status, code), r)
        self.assertEqual(self.rest_sync(ta, cid)[0], [])


if __name__ == "__main__":
    unittest.main()
