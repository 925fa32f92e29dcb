"""test_group_fanout.py - the msg pool's fan-out stage (docs/messages.md
"Fan-out") and group changes that meet a held row lock (issue 6).

One stack for the class: auth, one msg process whose fan-out takes tiny
turns (msg.fanout_chunk = 3 on two threads), so a group's pushes are cut
into many chunks interleaved with other conversations'; edge-http (15 s
request timeout, so a change may wait out a lock wait timeout, 5 s, and
run again) and one edge-ws (no resends within the test).

  order   three members send into a 40-member group at once while a 1:1
          pair talks too: every online member gets every group message
          exactly once and in seq order, and so does the pair
  memo    a group message reaches the edge once per member with the same
          bytes: it is rendered once (natter_ws_push_rendered_reused_total
          counts the others) and every member gets the same frame; a
          message that mentions one member gives only that member
          "mentioned": true (the reused frame never carries it to others)
  retry   a rename that waits on the conversation row, and a create whose
          INSERT waits on a gap lock, longer than the lock wait timeout:
          each times out once, is run again and succeeds (both were 503)
"""

import secrets
import subprocess
import threading
import time

from harness import Api, StackTestCase, http_request, unique_name
from wsclient import WsClient, WsReader

LOCK_WAIT_S = 5  # innodb_lock_wait_timeout of natter's connections (store/db.c)
HOLD_S = 6.5     # > LOCK_WAIT_S: the first attempt times out, the second gets the lock


def cmid():
    return "f" + secrets.token_hex(8)


class GroupFanoutTest(StackTestCase):

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth")
        cls.msg = cls.stack.start_role("msg", {"NATTER_MSG_FANOUT_CHUNK": "3",
                                               "NATTER_MSG_FANOUT_THREADS": "2"})
        http = cls.stack.start_role("edge-http", {"NATTER_NATS_REQUEST_TIMEOUT_MS": "15000"})
        cls.api = Api(http.url)
        cls.ws_edge = cls.stack.start_role("edge-ws", {"NATTER_WS_ACK_TIMEOUT_S": "120"})

    def user(self):
        name = unique_name("f")
        r = self.api.register(name)
        self.assertEqual(r.status, 201, r)
        r = self.api.login(name)
        self.assertEqual(r.status, 200, r)
        return r.json["user"]["id"], r.json["access_token"]

    def open(self, who):
        ws = WsClient.connect("127.0.0.1", self.ws_edge.port, "/ws?token=" + who[1])
        self.assertEqual(ws.recv_json()["op"], "hello")
        rd = WsReader(ws)
        self.addCleanup(rd.stop)
        ws.send_json({"op": "ping", "rid": "p"})
        self.assertTrue(rd.wait(lambda fs: any(f.get("op") == "pong" for f in fs)))
        return rd

    def create(self, owner, members, status=201):
        r = self.api.call("POST", "/api/conversations",
                          {"type": "group", "name": "fan", "member_ids": [m[0] for m in members]},
                          token=owner[1])
        self.assertEqual(r.status, status, r)
        return r

    def send_many(self, who, cid, n, out):
        for i in range(n):
            r = self.api.call("POST", "/api/messages",
                              {"conversation_id": cid, "client_msg_id": cmid(), "type": "text",
                               "body": "%s-%d" % (who[0], i)}, token=who[1])
            out.append(r.status)

    @staticmethod
    def text_seqs(rd, cid):
        return [f["message"]["seq"] for f in rd.of("message")
                if f["message"]["conversation_id"] == cid and f["message"]["type"] == "text"]

    def test_order_and_exactly_once_in_chunks(self):
        owner = self.user()
        members = [self.user() for _ in range(39)]
        cid = self.create(owner, members).json["conversation"]["id"]
        a, b = self.user(), self.user()
        r = self.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": b[0]},
                          token=a[1])
        self.assertIn(r.status, (200, 201), r)
        pair = r.json["conversation"]["id"]
        senders, per = members[:3], 20
        online = [self.open(m) for m in senders + members[-4:]]
        rd_b = self.open(b)
        statuses = []
        threads = [threading.Thread(target=self.send_many, args=(s, cid, per, statuses))
                   for s in senders]
        threads.append(threading.Thread(target=self.send_many, args=(a, pair, per, statuses)))
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(statuses, [201] * (4 * per))
        total = len(senders) * per
        for rd in online:
            got = rd.wait(lambda fs: len(self.text_seqs(rd, cid)) >= total, timeout=15)
            seqs = self.text_seqs(rd, cid)
            self.assertTrue(got, "only %d of %d group messages" % (len(seqs), total))
            self.assertEqual(len(seqs), total, "a group message twice: %r" % seqs)
            self.assertEqual(seqs, sorted(seqs), "group pushes out of seq order: %r" % seqs)
            self.assertEqual(seqs[-1] - seqs[0], total - 1, "a gap: %r" % seqs)
        self.assertTrue(rd_b.wait(lambda fs: len(self.text_seqs(rd_b, pair)) >= per, timeout=15))
        seqs = self.text_seqs(rd_b, pair)
        self.assertEqual(seqs, sorted(set(seqs)), "1:1 pushes twice or out of order: %r" % seqs)
        self.assertEqual(len(seqs), per)

    # -- one render per group message per edge (ws_push.c memo) --------------

    def reused(self):
        status, _, body = http_request(self.ws_edge.url, "GET", "/metrics")
        self.assertEqual(status, 200)
        for line in body.decode().splitlines():
            if line.startswith("natter_ws_push_rendered_reused_total "):
                return float(line.split()[1])
        self.fail("no natter_ws_push_rendered_reused_total in /metrics")

    def frames_of(self, readers, cid, body):
        out = []
        for rd in readers:
            self.assertTrue(rd.wait(lambda fs: any(
                f["message"]["conversation_id"] == cid and f["message"]["body"] == body
                for f in fs if f.get("op") == "message"), timeout=15), body)
            out.append([f for f in rd.of("message") if f["message"]["body"] == body][0])
        return out

    def test_group_message_rendered_once_per_edge(self):
        owner = self.user()
        members = [self.user() for _ in range(5)]
        cid = self.create(owner, members).json["conversation"]["id"]
        readers = [self.open(m) for m in members]
        before = self.reused()
        r = self.api.call("POST", "/api/messages",
                          {"conversation_id": cid, "client_msg_id": cmid(), "type": "text",
                           "body": "memo-plain"}, token=owner[1])
        self.assertEqual(r.status, 201, r)
        frames = self.frames_of(readers, cid, "memo-plain")
        self.assertTrue(all(f == frames[0] for f in frames), frames)
        self.assertNotIn("mentioned", frames[0]["message"])
        # The owner has no session here: 5 pushes arrived, 4 of them reused.
        self.assertEqual(self.reused() - before, 4)

        target = members[2]
        r = self.api.call("POST", "/api/messages",
                          {"conversation_id": cid, "client_msg_id": cmid(), "type": "text",
                           "body": "memo-mention", "mentions": [target[0]]}, token=owner[1])
        self.assertEqual(r.status, 201, r)
        frames = self.frames_of(readers, cid, "memo-mention")
        for m, f in zip(members, frames):
            if m is target:
                self.assertTrue(f["message"].get("mentioned"), f)
            else:
                self.assertNotIn("mentioned", f["message"], (m[0], f))

    # -- retry of group changes on a lock conflict ----------------------------

    def hold_lock(self, select):
        """Run `select FOR UPDATE` in a transaction held HOLD_S seconds
        by a separate client; returns once the lock is held."""
        script = "BEGIN;\n%s FOR UPDATE;\nSELECT 'locked';\nSELECT SLEEP(%s);\nCOMMIT;\n" % (select, HOLD_S)
        p = subprocess.Popen(self.stack._mariadb_argv() + ["-N", "-B", "--unbuffered", "natter"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(p.wait, 10)
        p.stdin.write(script)
        p.stdin.close()
        for line in p.stdout:
            if line.strip() == "locked":
                return p
        self.fail("the lock holder did not get its lock")

    def retries_logged(self):
        with open(self.msg.log_path, errors="replace") as f:
            return sum("group change retry" in line for line in f)

    def test_change_retried_after_lock_wait_timeout(self):
        owner, m = self.user(), self.user()
        cid = self.create(owner, [m]).json["conversation"]["id"]
        before = self.retries_logged()
        self.hold_lock("SELECT id FROM conversations WHERE id = %s" % cid)
        t0 = time.monotonic()
        r = self.api.call("PUT", "/api/conversations/%s" % cid, {"name": "renamed"},
                          token=owner[1])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["conversation"]["name"], "renamed")
        self.assertGreaterEqual(time.monotonic() - t0, LOCK_WAIT_S * 0.9, "never waited")
        self.assertGreater(self.retries_logged(), before)

    def test_create_retried_after_lock_wait_timeout(self):
        owner, m = self.user(), self.user()
        before = self.retries_logged()
        # Next-key locks up to the supremum (the holder runs REPEATABLE
        # READ): the new conversation's INSERT waits for the gap.
        self.hold_lock("SELECT id FROM conversations WHERE id > 0")
        r = self.create(owner, [m])
        self.assertEqual(len(r.json["conversation"]["members"]), 2)
        self.assertGreater(self.retries_logged(), before)
