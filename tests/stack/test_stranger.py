"""test_stranger.py - authorization before validation (issue 11, item 5).

A user who is not a member of a conversation (not the addressee of a
contact request, not allowed to read a file) must learn nothing from any
route that takes its id: 403 or 404, whatever the body, never a 400 that
says the body was wrong (which tells them the id exists, and sometimes what
it is: a rename of a direct conversation used to answer 400).

Walks every REST route with an id in the path, body or query
(edge/http/http_server.c's table) as a stranger, with a valid body and a
set of invalid ones, and the WebSocket ops that take a conversation_id.
docs/API.md "Errors" states the rule.
"""

import json
import secrets
import unittest

from harness import Api, StackTestCase, unique_name
from wsclient import WsClient

DENIED = (403, 404)

# Bodies that fail validation in every way the edge knows: not JSON, not an
# object, empty, wrong types, unknown fields, too deep, NUL.
BAD_BODIES = [b"", b"not json", b"[]", b"42", b"{}", b'{"name":7}', b'{"zzz":1}',
              b'{"name":"a","name":"b"}', b"[" * 100 + b"]" * 100,
              b'{"user_ids":"x","role":[],"user_id":{},"conversation_id":5,"seq":"x",'
              b'"request_id":[],"action":9}', b'{"name":"' + b"x" * 3000 + b'"}',
              b'{"name":"\\u0000"}']


class StrangerTest(StackTestCase):

    @classmethod
    def start_roles(cls):
        env = {"NATTER_NATS_REQUEST_TIMEOUT_MS": "5000"}
        cls.stack.start_role("auth")
        cls.stack.start_role("msg")
        cls.stack.start_role("media", env)
        cls.stack.start_role("presence")
        http = cls.stack.start_role("edge-http", dict(env, NATTER_HTTP_MAX_BODY="65536"))
        cls.api = Api(http.url)
        cls.ws_edge = cls.stack.start_role("edge-ws", env)
        cls.a, cls.b, cls.s = cls.user(), cls.user(), cls.user()
        r = cls.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": cls.b[0]},
                         token=cls.a[1])
        assert r.status == 201, r
        cls.direct = r.json["conversation"]["id"]
        r = cls.api.call("POST", "/api/conversations",
                         {"type": "group", "name": "g", "member_ids": [cls.b[0]]}, token=cls.a[1])
        assert r.status == 201, r
        cls.group = r.json["conversation"]["id"]
        r = cls.api.call("POST", "/api/messages", {"conversation_id": cls.direct,
                                                   "client_msg_id": "c1", "type": "text",
                                                   "body": "hi"}, token=cls.a[1])
        assert r.status == 201, r
        cls.mid = r.json["message"]["id"]
        r = cls.api.call("POST", "/api/contacts/apply", {"user_id": cls.b[0]}, token=cls.a[1])
        assert r.status == 201, r
        cls.request_id = r.json["request"]["id"]
        r = cls.api.call("POST", "/api/files/upload?name=a.bin", raw=b"secret bytes",
                         token=cls.a[1], headers={"Content-Type": "application/octet-stream"})
        assert r.status == 201, r
        cls.fid = r.json["file"]["id"]

    @classmethod
    def user(cls):
        name = unique_name("s")
        assert cls.api.register(name).status == 201
        r = cls.api.login(name)
        return r.json["user"]["id"], r.json["access_token"]

    def denied(self, method, path, raw=None, headers=None, what=""):
        h = dict(headers or {})
        if raw is not None:
            h.setdefault("Content-Type", "application/json")
        r = self.api.call(method, path, raw=raw, token=self.s[1], headers=h)
        self.assertIn(r.status, DENIED, "%s %s %s body=%r -> %r" % (method, path, what,
                                                                     (raw or b"")[:80], r))
        return r

    def walk(self, method, path, valid, extra_bad=(), generic=True):
        """valid, then every bad body.  generic=False for routes whose id is
        in the body: a body without a readable id names nothing, and its
        400 is about the caller's own request."""
        self.denied(method, path, json.dumps(valid).encode() if valid is not None else None,
                    what="(valid)")
        for bad in (BAD_BODIES if generic else []) + list(extra_bad):
            self.denied(method, path, bad)

    # -- conversations: ids in the path -----------------------------------

    def test_conversation_routes(self):
        for cid in (self.direct, self.group):
            base = "/api/conversations/" + cid
            self.denied("GET", base)
            self.walk("PUT", base, {"name": "mine now"})
            self.walk("POST", base + "/members", {"user_ids": [self.s[0]]},
                      [b'{"user_ids":["x"]}', b'{"user_ids":[1,2]}'])
            for uid in (self.a[0], self.b[0], self.s[0], "99999999"):
                self.denied("DELETE", base + "/members/" + uid)
                self.walk("PUT", base + "/members/" + uid, {"role": "admin"},
                          [b'{"role":"emperor"}'])
            self.walk("POST", base + "/owner", {"user_id": self.s[0]},
                      [b'{"user_id":"abc"}', b'{"user_id":"0"}'])

    # -- messages: conversation_id in the body or the query ---------------

    def test_message_routes(self):
        for cid in (self.direct, self.group):
            send = {"conversation_id": cid, "client_msg_id": "s1", "type": "text", "body": "x"}
            self.walk("POST", "/api/messages", send, [
                json.dumps(dict(send, type="system")).encode(),
                json.dumps(dict(send, body="")).encode(),
                json.dumps(dict(send, client_msg_id="")).encode(),
                json.dumps(dict(send, mentions="x")).encode(),
                json.dumps(dict(send, extra=1)).encode(),
                json.dumps({"conversation_id": cid}).encode(),
                json.dumps(dict(send, body=[[["x"]]])).encode()], generic=False)
            read = {"conversation_id": cid, "seq": 1}
            self.walk("POST", "/api/messages/read", read, [
                json.dumps(dict(read, seq=-1)).encode(), json.dumps(dict(read, seq="1")).encode(),
                json.dumps({"conversation_id": cid}).encode()], generic=False)
            for verb in ("history", "sync"):
                q = "/api/messages/%s?conversation_id=%s" % (verb, cid)
                for tail in ("", "&limit=10", "&limit=0", "&limit=1000", "&limit=x",
                             "&after_seq=-1", "&before_seq=abc", "&limit=", "&after_seq=1e3"):
                    self.denied("GET", q + tail)
        # revoke has no body; the pool answers a stranger 403 (a malformed
        # id is 400: it names no message).
        self.denied("POST", "/api/messages/%s/revoke" % self.mid)
        self.denied("POST", "/api/messages/%s/revoke" % self.mid, raw=b"not json")

    # -- contacts and files -----------------------------------------------

    def test_contact_routes(self):
        self.walk("POST", "/api/contacts/handle", {"request_id": self.request_id,
                                                   "action": "accept"},
                  [json.dumps({"request_id": self.request_id, "action": "maybe"}).encode(),
                   json.dumps({"request_id": self.request_id}).encode(),
                   json.dumps({"request_id": self.request_id, "action": 1}).encode()],
                  generic=False)
        self.denied("DELETE", "/api/contacts/" + self.a[0])
        # Presence of a non-contact reads as offline with no last_seen, the
        # same as for an id that is no user (docs/presence.md).
        r = self.api.call("GET", "/api/presence?user_ids=%s,99999999" % self.a[0], token=self.s[1])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["presence"], [{"user_id": self.a[0], "online": False},
                                              {"user_id": "99999999", "online": False}], r)

    def test_file_routes(self):
        for path in ("/api/files/" + self.fid, "/api/files/%s/thumbnail" % self.fid):
            for method in ("GET", "HEAD"):
                for h in ({}, {"Range": "bytes=0-1"}, {"Range": "bytes=abc"},
                          {"Range": "bytes=999-1"}, {"If-Range": "nonsense", "Range": "bytes=0-"}):
                    self.denied(method, path, headers=h)

    def test_members_still_get_the_real_400(self):
        # The check is asked only on the error path and must not hide a
        # member's own mistakes.
        def bad(who, method, path, raw, msg_part):
            r = self.api.call(method, path, raw=raw, token=who[1],
                              headers={"Content-Type": "application/json"})
            self.assertEqual(r.status, 400, (path, raw, r))
            self.assertIn(msg_part, r.json["error"]["message"], r)
        bad(self.a, "PUT", "/api/conversations/" + self.direct, b'{"name":"x"}', "not a group")
        bad(self.b, "PUT", "/api/conversations/" + self.group, b'{"name":7}', "name")
        bad(self.a, "POST", "/api/messages", json.dumps(
            {"conversation_id": self.direct, "client_msg_id": "m", "type": "system",
             "body": "x"}).encode(), "type")
        bad(self.b, "POST", "/api/messages/read",
            json.dumps({"conversation_id": self.group, "seq": -1}).encode(), "seq")
        r = self.api.call("GET", "/api/messages/sync?conversation_id=%s&limit=0" % self.group,
                          token=self.b[1])
        self.assertEqual(r.status, 400, r)
        bad(self.b, "POST", "/api/contacts/handle",
            json.dumps({"request_id": self.request_id, "action": "maybe"}).encode(), "action")

    # -- WebSocket ---------------------------------------------------------

    def ws(self, who=None):
        ws = WsClient.connect("127.0.0.1", self.ws_edge.port,
                              "/ws?token=" + (who or self.s)[1])
        self.addCleanup(ws.close)
        self.assertEqual(ws.recv_json()["op"], "hello")
        return ws

    def ws_denied(self, ws, frame):
        rid = "r" + secrets.token_hex(4)
        frame = dict(frame, rid=rid)
        ws.send_json(frame)
        # An answer to this rid, if any, must be forbidden / not_found.
        # ack and typing answer nothing when all is well; a ping after them
        # shows nothing else came.
        ws.send_json({"op": "ping", "rid": "p" + rid})
        while True:
            m = ws.recv_json()
            if m.get("op") == "pong" and m.get("rid") == "p" + rid:
                return
            if m.get("rid") == rid:
                self.assertEqual(m.get("op"), "error", (frame, m))
                self.assertIn(m.get("code"), ("forbidden", "not_found"), (frame, m))

    def test_ws_ops_valid_frames(self):
        ws = self.ws()
        for cid in (self.direct, self.group):
            for frame in ({"op": "send", "conversation_id": cid, "client_msg_id": "w1",
                           "type": "text", "body": "x"},
                          {"op": "sync", "conversation_id": cid},
                          {"op": "sync", "conversation_id": cid, "after_seq": 0, "limit": 5},
                          {"op": "read", "conversation_id": cid, "seq": 1},
                          {"op": "ack", "conversation_id": cid, "seq": 1},
                          {"op": "typing", "conversation_id": cid}):
                self.ws_denied(ws, frame)

    def test_ws_ops_invalid_frames(self):
        # The edge asks the conversation before it answers bad_request
        # (ws_request_access; docs/ws.md).
        ws = self.ws()
        for cid in (self.direct, self.group):
            for frame in ({"op": "send", "conversation_id": cid, "client_msg_id": "w1",
                           "type": "system", "body": "x"},
                          {"op": "send", "conversation_id": cid},
                          {"op": "sync", "conversation_id": cid, "limit": 0},
                          {"op": "read", "conversation_id": cid, "seq": -1},
                          {"op": "typing", "conversation_id": cid, "extra": 1}):
                self.ws_denied(ws, frame)

    def test_ws_members_still_get_bad_request(self):
        # The same invalid frames from a member: the check passes and the
        # held bad_request is what arrives (not a blanket forbidden).
        ws = self.ws(self.a)
        for cid in (self.direct, self.group):
            for frame in ({"op": "send", "conversation_id": cid, "client_msg_id": "w1",
                           "type": "system", "body": "x"},
                          {"op": "send", "conversation_id": cid},
                          {"op": "sync", "conversation_id": cid, "limit": 0},
                          {"op": "read", "conversation_id": cid, "seq": -1},
                          {"op": "typing", "conversation_id": cid, "extra": 1}):
                rid = "m" + secrets.token_hex(4)
                ws.send_json(dict(frame, rid=rid))
                while True:
                    m = ws.recv_json()
                    if m.get("rid") == rid:
                        break
                self.assertEqual((m.get("op"), m.get("code")), ("error", "bad_request"),
                                 (frame, m))
