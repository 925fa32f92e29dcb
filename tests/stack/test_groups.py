"""test_groups.py - group conversations (issue 6, docs/groups.md) through
edge-http, edge-ws and the msg pool: create, rename, add, remove, leave,
roles, ownership transfer, the `system` messages that record each change,
the `member` events, and every permission rule.

One stack for the class: auth, one msg process with a small group limit
(msg.group_max = 25, so the limit is testable and a group still outgrows
the old 16-member record), edge-http and one edge-ws.
"""

import json
import secrets
import unittest

from harness import Api, StackTestCase, unique_name
from wsclient import WsClient, WsReader

GROUP_MAX = 25


def cmid():
    return "g" + secrets.token_hex(8)


class GroupsTest(StackTestCase):

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth")
        cls.stack.start_role("msg", {"NATTER_MSG_GROUP_MAX": str(GROUP_MAX)})
        http = cls.stack.start_role("edge-http", {"NATTER_NATS_REQUEST_TIMEOUT_MS": "5000"})
        cls.api = Api(http.url)
        cls.ws_edge = cls.stack.start_role("edge-ws")

    # -- helpers ------------------------------------------------------------

    def user(self):
        """A fresh user: (id, token)."""
        name = unique_name("g")
        r = self.api.register(name)
        self.assertEqual(r.status, 201, r)
        r = self.api.login(name)
        self.assertEqual(r.status, 200, r)
        return r.json["user"]["id"], r.json["access_token"]

    def call(self, method, path, body=None, token=None):
        return self.api.call(method, path, body, token=token)

    def err(self, r, status, code=None):
        self.assertEqual(r.status, status, r)
        if code:
            self.assertEqual(r.json["error"]["code"], code, r)

    def create(self, owner, members, name="team", status=201):
        r = self.call("POST", "/api/conversations",
                      {"type": "group", "name": name, "member_ids": [m[0] for m in members]},
                      token=owner[1])
        self.assertEqual(r.status, status, r)
        return r.json["conversation"] if status == 201 else r

    def group(self, n=2):
        """owner, n members, and their group."""
        owner = self.user()
        members = [self.user() for _ in range(n)]
        return owner, members, self.create(owner, members)

    def send(self, who, cid, body="hi"):
        return self.call("POST", "/api/messages", {"conversation_id": cid,
                                                   "client_msg_id": cmid(), "type": "text",
                                                   "body": body}, token=who[1])

    def sync(self, who, cid, after=0):
        return self.call("GET", "/api/messages/sync?conversation_id=%s&after_seq=%d&limit=100"
                         % (cid, after), token=who[1])

    def roles(self, conv):
        return {m["user_id"]: m["role"] for m in conv["members"]}

    def open(self, who):
        ws = WsClient.connect("127.0.0.1", self.ws_edge.port, "/ws?token=" + who[1])
        self.assertEqual(ws.recv_json()["op"], "hello")
        rd = WsReader(ws)
        self.addCleanup(rd.stop)
        ws.send_json({"op": "ping", "rid": "p"})
        self.assertTrue(rd.wait(lambda fs: any(f.get("op") == "pong" for f in fs)))
        return rd

    @staticmethod
    def frame(rd, pred, timeout=5.0):
        return rd.wait(lambda fs: next((f for f in fs if pred(f)), None), timeout)

    # -- create -------------------------------------------------------------

    def test_create_group(self):
        owner, (a, b), conv = self.group(2)
        self.assertEqual(conv["type"], "group")
        self.assertEqual(conv["name"], "team")
        self.assertEqual(conv["owner_id"], owner[0])
        self.assertEqual(self.roles(conv), {owner[0]: "owner", a[0]: "member", b[0]: "member"})
        self.assertEqual(conv["last_seq"], 1)
        self.assertEqual(conv["member_count"], 3)
        r = self.sync(a, conv["id"])
        self.assertEqual(r.status, 200, r)
        sysmsg = r.json["messages"][0]
        self.assertEqual(sysmsg["type"], "system")
        body = json.loads(sysmsg["body"])
        self.assertEqual(body["event"], "created")
        self.assertEqual(sorted(body["user_ids"]), sorted([a[0], b[0]]))
        r = self.call("GET", "/api/conversations", token=b[1])
        self.assertIn(conv["id"], [c["id"] for c in r.json["conversations"]])

    def test_create_dedupes_and_drops_owner(self):
        owner, a = self.user(), self.user()
        r = self.call("POST", "/api/conversations",
                      {"type": "group", "name": "d", "member_ids": [a[0], a[0], owner[0]]},
                      token=owner[1])
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.roles(r.json["conversation"]), {owner[0]: "owner", a[0]: "member"})

    def test_create_bad_input(self):
        owner, a = self.user(), self.user()
        path = "/api/conversations"
        self.err(self.call("POST", path, {"type": "group", "name": "x", "member_ids": [a[0]]}),
                 401, "unauthorized")
        self.err(self.call("POST", path, {"type": "group", "member_ids": [a[0]]},
                           token=owner[1]), 400, "bad_request")
        self.err(self.call("POST", path, {"type": "group", "name": "", "member_ids": []},
                           token=owner[1]), 400, "bad_request")
        self.err(self.call("POST", path, {"type": "group", "name": "x" * 129, "member_ids": []},
                           token=owner[1]), 400, "bad_request")
        self.err(self.call("POST", path, {"type": "group", "name": "x",
                                          "member_ids": [owner[0]]}, token=owner[1]),
                 400, "bad_request")  # nobody but the creator
        self.err(self.call("POST", path, {"type": "group", "name": "x", "member_ids": a[0]},
                           token=owner[1]), 400, "bad_request")
        self.err(self.call("POST", path, {"type": "group", "name": "x", "member_ids": [1]},
                           token=owner[1]), 400, "bad_request")
        self.err(self.call("POST", path, {"type": "group", "name": "x",
                                          "member_ids": ["abc"]}, token=owner[1]),
                 400, "bad_request")
        self.err(self.call("POST", path, {"type": "group", "name": "x",
                                          "member_ids": [a[0], "999999999999"]},
                           token=owner[1]), 404, "not_found")

    def test_size_limit(self):
        owner = self.user()
        fake = [str(900000000000 + i) for i in range(GROUP_MAX)]  # + owner = max + 1
        r = self.call("POST", "/api/conversations",
                      {"type": "group", "name": "big", "member_ids": fake}, token=owner[1])
        self.err(r, 400, "bad_request")
        self.assertIn(str(GROUP_MAX), r.json["error"]["message"])
        # a full group refuses one more
        members = [self.user() for _ in range(GROUP_MAX - 1)]
        conv = self.create(owner, members)
        self.assertEqual(len(conv["members"]), GROUP_MAX)
        r = self.call("POST", "/api/conversations/%s/members" % conv["id"],
                      {"user_ids": [self.user()[0]]}, token=owner[1])
        self.err(r, 400, "bad_request")

    def test_large_group_fanout(self):
        """More members than the old fixed record held (16): everyone gets the push."""
        owner = self.user()
        members = [self.user() for _ in range(20)]
        conv = self.create(owner, members)
        self.assertEqual(len(conv["members"]), 21)
        last = [self.open(m) for m in members[-3:]]
        r = self.send(members[0], conv["id"], "to all")
        self.assertEqual(r.status, 201, r)
        seq = r.json["message"]["seq"]
        for rd in last:
            f = self.frame(rd, lambda f: f.get("op") == "message"
                           and f["message"]["seq"] == seq)
            self.assertIsNotNone(f, rd.frames)

    # -- changes and events ---------------------------------------------------

    def test_rename_add_remove_with_events(self):
        owner, (a, b), conv = self.group(2)
        cid = conv["id"]
        rd_a = self.open(a)
        r = self.call("PUT", "/api/conversations/" + cid, {"name": "renamed"}, token=owner[1])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["conversation"]["name"], "renamed")
        self.assertIsNotNone(self.frame(rd_a, lambda f: f.get("op") == "member"
                                        and f["event"] == "renamed"), rd_a.frames)
        c = self.user()
        rd_c = self.open(c)
        r = self.call("POST", "/api/conversations/%s/members" % cid, {"user_ids": [c[0], a[0]]},
                      token=owner[1])
        self.assertEqual(r.status, 200, r)
        self.assertIn(c[0], self.roles(r.json["conversation"]))
        for rd in (rd_a, rd_c):
            ev = self.frame(rd, lambda f: f.get("op") == "member" and f["event"] == "added")
            self.assertIsNotNone(ev, rd.frames)
            self.assertEqual(ev["conversation_id"], cid)
            self.assertEqual(ev["user_id"], c[0])
            self.assertEqual(ev["user_ids"], [c[0]])  # a was a member already
        # the new member reads the group, and the change is a system message
        r = self.sync(c, cid)
        self.assertEqual(r.status, 200, r)
        events = [json.loads(m["body"])["event"] for m in r.json["messages"]
                  if m["type"] == "system"]
        self.assertEqual(events, ["created", "renamed", "added"])
        # remove b: b hears it, then nothing more
        rd_b = self.open(b)
        r = self.call("DELETE", "/api/conversations/%s/members/%s" % (cid, b[0]),
                      token=owner[1])
        self.assertEqual(r.status, 204, r)
        ev = self.frame(rd_b, lambda f: f.get("op") == "member" and f["event"] == "removed")
        self.assertIsNotNone(ev, rd_b.frames)
        self.assertEqual(ev["user_id"], b[0])
        r = self.send(a, cid, "after b left")
        self.assertEqual(r.status, 201, r)
        seq = r.json["message"]["seq"]
        self.assertIsNotNone(self.frame(rd_a, lambda f: f.get("op") == "message"
                                        and f["message"]["seq"] == seq))
        self.assertIsNone(self.frame(rd_b, lambda f: f.get("op") == "message"
                                     and f["message"]["seq"] == seq, timeout=1.0))
        # removed: no send, no read, no history
        self.err(self.send(b, cid), 403, "forbidden")
        self.err(self.sync(b, cid), 403, "forbidden")
        self.err(self.call("GET", "/api/messages/history?conversation_id=" + cid,
                           token=b[1]), 403, "forbidden")
        self.err(self.call("GET", "/api/conversations/" + cid, token=b[1]), 403, "forbidden")

    def test_roles_and_transfer(self):
        owner, (a, b, c), conv = self.group(3)
        cid = conv["id"]
        base = "/api/conversations/%s/members/" % cid
        # members cannot manage
        self.err(self.call("POST", "/api/conversations/%s/members" % cid,
                           {"user_ids": [self.user()[0]]}, token=a[1]), 403, "forbidden")
        self.err(self.call("DELETE", base + b[0], token=a[1]), 403, "forbidden")
        self.err(self.call("PUT", "/api/conversations/" + cid, {"name": "n"}, token=a[1]),
                 403, "forbidden")
        self.err(self.call("PUT", base + b[0], {"role": "admin"}, token=a[1]), 403, "forbidden")
        # promote a; an admin adds and removes members, but not the owner's powers
        r = self.call("PUT", base + a[0], {"role": "admin"}, token=owner[1])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.roles(r.json["conversation"])[a[0]], "admin")
        d = self.user()
        r = self.call("POST", "/api/conversations/%s/members" % cid, {"user_ids": [d[0]]},
                      token=a[1])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.call("DELETE", base + d[0], token=a[1]).status, 204)
        self.err(self.call("PUT", base + b[0], {"role": "admin"}, token=a[1]), 403, "forbidden")
        self.err(self.call("POST", "/api/conversations/%s/owner" % cid, {"user_id": a[0]},
                           token=a[1]), 403, "forbidden")
        self.err(self.call("DELETE", base + owner[0], token=a[1]), 403, "forbidden")
        # an admin does not remove another admin
        self.assertEqual(self.call("PUT", base + b[0], {"role": "admin"},
                                   token=owner[1]).status, 200)
        self.err(self.call("DELETE", base + b[0], token=a[1]), 403, "forbidden")
        self.assertEqual(self.call("PUT", base + b[0], {"role": "member"},
                                   token=owner[1]).status, 200)
        # the owner cannot leave before transferring
        self.err(self.call("DELETE", base + owner[0], token=owner[1]), 409, "conflict")
        # transfer to c: c owner, old owner admin, then the old owner may leave
        rd_b = self.open(b)
        r = self.call("POST", "/api/conversations/%s/owner" % cid, {"user_id": c[0]},
                      token=owner[1])
        self.assertEqual(r.status, 200, r)
        conv = r.json["conversation"]
        self.assertEqual(conv["owner_id"], c[0])
        self.assertEqual(self.roles(conv)[c[0]], "owner")
        self.assertEqual(self.roles(conv)[owner[0]], "admin")
        ev = self.frame(rd_b, lambda f: f.get("op") == "member" and f["event"] == "owner")
        self.assertIsNotNone(ev, rd_b.frames)
        self.assertEqual(ev["user_id"], c[0])
        self.err(self.call("PUT", base + b[0], {"role": "admin"}, token=owner[1]),
                 403, "forbidden")
        self.assertEqual(self.call("DELETE", base + owner[0], token=owner[1]).status, 204)
        r = self.call("GET", "/api/conversations/" + cid, token=c[1])
        self.assertNotIn(owner[0], self.roles(r.json["conversation"]))
        # a member leaves by removing themselves
        self.assertEqual(self.call("DELETE", base + b[0], token=b[1]).status, 204)
        self.err(self.send(b, cid), 403, "forbidden")
        r = self.sync(c, cid)
        events = [json.loads(m["body"])["event"] for m in r.json["messages"]
                  if m["type"] == "system"]
        self.assertEqual(events[-3:], ["owner", "left", "left"])

    def test_outsiders_unknown_and_malformed(self):
        owner, (a,), conv = self.group(1)
        cid = conv["id"]
        stranger = self.user()
        self.err(self.call("GET", "/api/conversations/" + cid, token=stranger[1]), 403)
        self.err(self.sync(stranger, cid), 403, "forbidden")
        self.err(self.send(stranger, cid), 403, "forbidden")
        self.err(self.call("PUT", "/api/conversations/" + cid, {"name": "n"},
                           token=stranger[1]), 403, "forbidden")
        self.err(self.call("POST", "/api/conversations/%s/members" % cid,
                           {"user_ids": [stranger[0]]}, token=stranger[1]), 403, "forbidden")
        self.err(self.call("DELETE", "/api/conversations/%s/members/%s" % (cid, stranger[0]),
                           token=stranger[1]), 403, "forbidden")
        # unknown ids
        self.err(self.call("PUT", "/api/conversations/999999999999", {"name": "n"},
                           token=owner[1]), 404, "not_found")
        self.err(self.call("PUT", "/api/conversations/abc", {"name": "n"}, token=owner[1]),
                 404, "not_found")
        self.err(self.call("DELETE", "/api/conversations/%s/members/%s" % (cid, stranger[0]),
                           token=owner[1]), 404, "not_found")
        self.err(self.call("DELETE", "/api/conversations/%s/members/abc" % cid,
                           token=owner[1]), 404, "not_found")
        self.err(self.call("POST", "/api/conversations/%s/owner" % cid,
                           {"user_id": "999999999999"}, token=owner[1]), 404, "not_found")
        self.err(self.call("POST", "/api/conversations/%s/members" % cid,
                           {"user_ids": ["999999999999"]}, token=owner[1]), 404, "not_found")
        # malformed
        self.err(self.call("PUT", "/api/conversations/%s/members/%s" % (cid, a[0]),
                           {"role": "owner"}, token=owner[1]), 400, "bad_request")
        self.err(self.call("POST", "/api/conversations/%s/owner" % cid, {"user_id": 5},
                           token=owner[1]), 400, "bad_request")
        self.err(self.call("POST", "/api/conversations/%s/members" % cid, {"user_ids": []},
                           token=owner[1]), 400, "bad_request")
        self.err(self.call("POST", "/api/conversations/%s/members" % cid, {},
                           token=owner[1]), 400, "bad_request")
        self.err(self.call("POST", "/api/conversations/%s/owner" % cid, {"user_id": owner[0]},
                           token=owner[1]), 400, "bad_request")
        # a direct conversation is not a group
        r = self.call("POST", "/api/conversations", {"type": "direct", "peer_id": a[0]},
                      token=owner[1])
        self.assertEqual(r.status, 201, r)
        self.err(self.call("PUT", "/api/conversations/" + r.json["conversation"]["id"],
                           {"name": "n"}, token=owner[1]), 400, "bad_request")
        # no auth
        for method, path, body in (("PUT", "/api/conversations/" + cid, {"name": "n"}),
                                   ("POST", "/api/conversations/%s/members" % cid,
                                    {"user_ids": [a[0]]}),
                                   ("DELETE", "/api/conversations/%s/members/%s" % (cid, a[0]),
                                    None),
                                   ("PUT", "/api/conversations/%s/members/%s" % (cid, a[0]),
                                    {"role": "admin"}),
                                   ("POST", "/api/conversations/%s/owner" % cid,
                                    {"user_id": a[0]})):
            self.err(self.call(method, path, body), 401, "unauthorized")


if __name__ == "__main__":
    unittest.main()
