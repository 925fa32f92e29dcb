"""test_msg_inline_off.py - the msg pool's two send paths (docs/design.md
"Conversations and messages", actors/msg_loop.h).

By default a msg process takes its sends on its loop thread (bus_inline)
and commits their batches there at the end of each loop turn.  With
nats.inline = 0 (or a libnats without the message filter) the sends go
through nats.c's delivery threads as before.  The default path is what
every other stack module runs; this one runs test_messages' and
test_msg_ownership's cases again with every msg process on the fallback
path, and checks which path each process reports it took.

Cost: about the two modules' own time (~20 s + ~25 s on the test VM).
"""

import re
import unittest

from harness import Api, StackTestCase, unique_name
import test_messages
import test_msg_ownership

PATH = re.compile(r'msg="msg pool ready" .*\bsends=(\w+)')


def send_path(proc):
    """The send path a msg process reported at start ('loop' or
    'delivery_threads'), or None."""
    with open(proc.log_path, "rb") as f:
        m = PATH.search(f.read().decode("utf-8", "replace"))
    return m.group(1) if m else None


def inline_off(stack):
    """From now on every msg process of this stack starts with nats.inline = 0."""
    start = stack.start_role

    def start_role(role, extra_env=None, *args, **kw):
        if role == "msg":
            extra_env = dict(extra_env or {}, NATTER_NATS_INLINE="0")
        return start(role, extra_env, *args, **kw)
    stack.start_role = start_role


class MessagesInlineOffTest(test_messages.MessagesTest):

    @classmethod
    def start_roles(cls):
        inline_off(cls.stack)
        super().start_roles()

    def test_sends_take_the_delivery_threads(self):
        procs = self.stack.roles("msg")
        self.assertEqual(len(procs), 2)
        self.assertEqual([send_path(p) for p in procs], ["delivery_threads"] * 2)


class OwnershipInlineOffTest(test_msg_ownership.OwnershipTest):

    @classmethod
    def start_roles(cls):
        inline_off(cls.stack)
        super().start_roles()


class LoopPathTest(StackTestCase):
    """The default: sends on the loop thread, answered and counted."""

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth")
        cls.msg = cls.stack.start_role("msg")
        cls.api = Api(cls.stack.start_role("edge-http").url)

    def test_sends_take_the_loop_and_are_counted(self):
        self.assertEqual(send_path(self.msg), "loop")
        ids = []
        for name in (unique_name("lp"), unique_name("lp")):
            self.assertEqual(self.api.register(name).status, 201)
            r = self.api.login(name)
            self.assertEqual(r.status, 200, r)
            ids.append((r.json["user"]["id"], r.json["access_token"]))
        (_, ta), (ub, _) = ids
        r = self.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": ub},
                          token=ta)
        self.assertEqual(r.status, 201, r)
        cid = r.json["conversation"]["id"]
        seqs = []
        for i in range(5):
            r = self.api.call("POST", "/api/messages",
                              {"conversation_id": cid, "client_msg_id": "lp%d" % i,
                               "type": "text", "body": "hello %d" % i}, token=ta)
            self.assertEqual(r.status, 201, r)
            seqs.append(r.json["message"]["seq"])
        self.assertEqual(seqs, [1, 2, 3, 4, 5])
        # A retry is answered with the original, on the loop too.
        r = self.api.call("POST", "/api/messages",
                          {"conversation_id": cid, "client_msg_id": "lp2", "type": "text",
                           "body": "hello 2"}, token=ta)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["message"]["seq"], 3)
        # Taken off the bus by the loop, yet counted by the send endpoint.
        stats = self.stack.micro("STATS", "msg")
        sends = sum(e.get("num_requests", 0) for s in stats for e in s.get("endpoints", [])
                    if e.get("name") == "send")
        self.assertEqual(sends, 6)


if __name__ == "__main__":
    unittest.main()
