"""test_nats_perms.py - config/nats-server.conf keeps each role to its
subjects (DESIGN.md "Subjects", "NATS server users and permissions").

Needs only nats-server: no natter process runs here, the test clients
connect as the roles' NATS users.
"""

import unittest

from harness import StackTestCase
from natsclient import Client, NatsError

VIOLATION = "Permissions Violation"


class NatsPermissionsTest(StackTestCase):
    services = ("nats",)

    def connect(self, user):
        c = self.stack.nats(user)
        self.addCleanup(c.close)
        return c

    def assert_pub(self, user, subject, allowed):
        c = self.connect(user)
        c.publish(subject, b"x")
        c.flush()
        errs = [e for e in c.errors if VIOLATION in e and "Publish" in e]
        if allowed:
            self.assertEqual(errs, [], "%s should publish %s" % (user, subject))
        else:
            self.assertTrue(errs, "%s must not publish %s" % (user, subject))
            self.assertIn(subject, errs[0])

    def assert_sub(self, user, subject, allowed):
        c = self.connect(user)
        c.subscribe(subject)
        c.flush()
        errs = [e for e in c.errors if VIOLATION in e and "Subscription" in e]
        if allowed:
            self.assertEqual(errs, [], "%s should subscribe %s" % (user, subject))
        else:
            self.assertTrue(errs, "%s must not subscribe %s" % (user, subject))

    def test_server_limits(self):
        c = self.connect("ops")
        self.assertEqual(c.info["max_payload"], 1048576)
        self.assertTrue(c.info.get("auth_required"))
        self.assertTrue(c.info.get("headers"))

    def test_wrong_password_and_unknown_user_refused(self):
        for user, pw in (("edge", "wrong"), ("nobody", "x"), (None, None)):
            with self.assertRaises(NatsError) as cm:
                Client(self.stack.nats_url, user, pw, timeout=3).connect()
            self.assertIn("Authorization Violation", str(cm.exception))

    def test_edge_publish(self):
        for subject in ("im.svc.auth.login", "im.svc.msg.send", "im.conv.42.send", "$SRV.PING",
                        "im.svc.admin.ban",   # the admin API (auth pool checks the role)
                        "im.svc.call.offer", "im.call.abc.answer"):   # calls (docs/calls.md)
            self.assert_pub("edge", subject, True)
        for subject in ("im.svc.auth.admin.ban", "im.svc.msg.admin.x.y",
                        "im.svc.msg.internal.call_log",   # pool to pool only
                        "im.user.1.push", "im.user.1.ctl", "im.sess.abc.ctl",
                        "im.evt.session.revoked"):
            self.assert_pub("edge", subject, False)

    def test_edge_subscribe(self):
        for subject in ("im.user.>", "im.user.7.push", "im.sess.>", "im.evt.>", "$SRV.>", "_INBOX.>"):
            self.assert_sub("edge", subject, True)
        for subject in ("im.svc.auth.>", "im.conv.>", ">"):
            self.assert_sub("edge", subject, False)

    def test_pools_subscribe(self):
        for pool in ("auth", "msg", "presence", "media"):
            self.assert_sub(pool, "im.svc.%s.>" % pool, True)
            self.assert_sub(pool, "im.evt.>", True)
            self.assert_sub(pool, "$SRV.>", True)
            self.assert_sub(pool, "_INBOX.>", True)
            # A pool cannot listen where edges listen (impersonation).
            self.assert_sub(pool, "im.user.>", False)
            self.assert_sub(pool, "im.user.1.push", False)
            self.assert_sub(pool, "im.sess.>", False)
            self.assert_sub(pool, ">", False)
        self.assert_sub("auth", "im.svc.msg.>", False)
        # Only the auth pool may answer the admin API.
        self.assert_sub("auth", "im.svc.admin.>", True)
        for pool in ("msg", "presence", "media"):
            self.assert_sub(pool, "im.svc.admin.>", False)
        self.assert_sub("edge", "im.svc.admin.>", False)
        self.assert_sub("msg", "im.conv.>", True)
        self.assert_sub("auth", "im.conv.>", False)
        # Calls: only presence keeps them (docs/calls.md).
        self.assert_sub("presence", "im.svc.call.>", True)
        self.assert_sub("presence", "im.call.>", True)
        for user in ("auth", "msg", "media", "edge"):
            self.assert_sub(user, "im.call.>", False)

    def test_pools_publish(self):
        for pool in ("auth", "msg", "presence", "media"):
            for subject in ("im.user.1.push", "im.user.1.ctl", "im.sess.s1.ctl",
                            "im.evt.session.revoked", "im.svc.presence.query"):
                self.assert_pub(pool, subject, True)
        self.assert_pub("auth", "im.conv.1.send", False)
        self.assert_pub("presence", "im.svc.msg.internal.call_log", True)

    def test_ops_reads_everything_publishes_only_srv(self):
        self.assert_sub("ops", ">", True)
        self.assert_pub("ops", "$SRV.PING", True)
        self.assert_pub("ops", "im.svc.auth.login", False)
        self.assert_pub("ops", "im.user.1.push", False)

    def test_request_reply_between_edge_and_pool(self):
        # The pool answers on the edge's inbox through its _INBOX.> publish
        # permission (no allow_responses: config/nats-server.conf says why).
        pool = self.connect("auth")
        sid = pool.subscribe("im.svc.auth.>", queue="auth")
        pool.flush()
        edge = self.connect("edge")
        inbox = edge.new_inbox()
        isid = edge.subscribe(inbox)
        edge.publish("im.svc.auth.login", b"req", reply=inbox, headers={"Natter-Type": "LoginRequest"})
        edge.flush()
        m = pool.next_msg(sid, 3)
        self.assertEqual(m.data, b"req")
        self.assertEqual(m.headers.get("Natter-Type"), "LoginRequest")
        pool.publish(m.reply, b"resp")
        pool.flush()
        self.assertEqual(pool.errors, [])
        self.assertEqual(edge.next_msg(isid, 3).data, b"resp")

    def test_pool_push_reaches_edge(self):
        edge = self.connect("edge")
        sid = edge.subscribe("im.user.*.push")
        edge.flush()
        msg = self.connect("msg")
        msg.publish("im.user.9.push", b"hello")
        msg.flush()
        self.assertEqual(edge.next_msg(sid, 3).data, b"hello")

    def test_edge_can_answer_micro_ping(self):
        edge = self.connect("edge")
        sid = edge.subscribe("$SRV.PING")
        edge.flush()
        ops = self.connect("ops")
        inbox = ops.new_inbox()
        isid = ops.subscribe(inbox)
        ops.publish("$SRV.PING", b"", reply=inbox)
        ops.flush()
        m = edge.next_msg(sid, 3)
        edge.publish(m.reply, b'{"type":"io.nats.micro.v1.ping_response"}')
        edge.flush()
        self.assertEqual(edge.errors, [])
        self.assertIn(b"ping_response", ops.next_msg(isid, 3).data)


if __name__ == "__main__":
    unittest.main()
