#!/usr/bin/python3
"""fuzz_live.py - the live protocol fuzzer behind ops/fuzz-live (issue 11).

Starts a whole stack of a natter build (harness.Stack: nats-server, redis,
mariadbd, the auth, msg, presence and media pools with an ops port each,
edge-http, edge-ws; all on free loopback ports; use an ASan build, as
ops/fuzz-live does) and drives it for a bounded time with random and
mutated traffic:

  REST   methods, paths and ids (valid, foreign, malformed), query strings,
         headers (tokens valid, mutated, foreign, missing; Range, traceparent,
         Content-Type, oversized), bodies (route templates mutated: wrong
         types, huge and empty fields, unknown and duplicate keys, invalid
         UTF-8, truncated JSON, random bytes), sent whole, chunked (good and
         broken), truncated (Content-Length promises more), pipelined,
         trickled by a slow client, or as a garbage request line.
  WS     valid ops with wrong types, huge and empty fields, unknown ops,
         random text and invalid UTF-8, binary frames, fragmented messages
         (pings in between, stray continuations), pings and pongs (also
         oversized), close frames, reserved opcodes and bits, unmasked
         frames, absurd declared lengths, byte-by-byte trickles; several
         sockets per user at once, and bad tokens.

Then one more phase of known attacks, input class "deep-json" (issue 11:
1,000+ nested arrays in a REST body, in a token header, in a WS frame);
--skip deep-json leaves it out while the nesting fix is not merged.

At the end it checks: every process alive, no sanitizer report in any log,
/healthz 200 on both edges and every pool, a normal send still works
(REST and WebSocket, delivered to the peer), and every role exits 0 on
SIGTERM (leak check).  Prints what it sent; exits 1 on any failure.

    /usr/bin/python3 tests/stack/fuzz_live.py --natter build-test/natter --seconds 60
    ... --seed 1234 --skip deep-json

Loopback only, Python 3 standard library only.
"""

import argparse
import base64
import json
import os
import random
import re
import socket
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from harness import Api, Stack, StackError, free_port, http_request, unique_name  # noqa: E402
from wsclient import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,  # noqa: E402
                      WsClient, WsClosed)

SANITIZER = re.compile(rb"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:"
                       rb"|UndefinedBehaviorSanitizer")
POOLS = ("auth", "msg", "presence", "media")
CLASSES = ("deep-json",)

# The route table of edge/http/http_server.c, {id} and {uid} to be filled.
ROUTES = [
    ("POST", "/api/auth/register"), ("POST", "/api/auth/login"), ("POST", "/api/auth/refresh"),
    ("POST", "/api/auth/logout"), ("POST", "/api/auth/password"), ("GET", "/api/users/me"),
    ("PUT", "/api/users/me"), ("GET", "/api/users/{id}"), ("GET", "/api/users"),
    ("POST", "/api/conversations"), ("GET", "/api/conversations"),
    ("GET", "/api/conversations/{id}"), ("PUT", "/api/conversations/{id}"),
    ("POST", "/api/conversations/{id}/members"),
    ("DELETE", "/api/conversations/{id}/members/{uid}"),
    ("PUT", "/api/conversations/{id}/members/{uid}"), ("POST", "/api/conversations/{id}/owner"),
    ("POST", "/api/messages"), ("GET", "/api/messages/history"), ("GET", "/api/messages/sync"),
    ("POST", "/api/messages/read"), ("POST", "/api/messages/{id}/revoke"),
    ("GET", "/api/contacts"), ("POST", "/api/contacts/apply"), ("GET", "/api/contacts/requests"),
    ("POST", "/api/contacts/handle"), ("DELETE", "/api/contacts/{id}"), ("GET", "/api/presence"),
    ("POST", "/api/files/upload"), ("GET", "/api/files/{id}"), ("HEAD", "/api/files/{id}"),
    ("GET", "/api/files/{id}/thumbnail"), ("GET", "/healthz"), ("GET", "/metrics"),
]
METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "TRACE", "CONNECT",
           "get", "PROPFIND", "X" * 40, ""]
ODD_IDS = ["0", "-1", "1e3", "99999999999999999999", "18446744073709551616", "..", "%2e%2e",
           "..%2F..%2Fetc%2Fpasswd", "%00", "a" * 80, "a" * 71, "%C3%A9", "%FF%FE", "g:", "d:1:2",
           "d:-1:2", ":", " ", "%20", "1;DROP", "{id}", "*", "1.5", "0x10", "%0d%0aX:1"]
QUERY_KEYS = ["conversation_id", "before_seq", "after_seq", "limit", "q", "user_ids", "name",
              "x", "", "limit[]"]


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {}
        self.samples = {}

    def add(self, key, n=1):
        with self.lock:
            self.c[key] = self.c.get(key, 0) + n

    def sample(self, key, text, keep=3):
        with self.lock:
            s = self.samples.setdefault(key, [])
            if len(s) < keep:
                s.append(text)

    def get(self, key):
        with self.lock:
            return self.c.get(key, 0)


class World:
    """What the fuzzers know that is valid: users and tokens, conversation,
    message and file ids.  Tokens are renewed now and then (a fuzzed logout
    or password change revokes one)."""

    def __init__(self, api, ws_port):
        self.api = api
        self.ws_port = ws_port
        self.lock = threading.Lock()
        self.users = []       # [name, uid, token]
        self.convs = []
        self.msgs = []
        self.files = []

    def setup(self, n=4):
        for i in range(n):
            name = unique_name("fz")
            r = self.api.register(name, display_name="Fuzz %d" % i)
            if r.status != 201:
                raise RuntimeError("register: %r" % r)
            r = self.api.login(name)
            self.users.append([name, r.json["user"]["id"], r.json["access_token"]])
        a, b = self.users[0], self.users[1]
        r = self.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": b[1]},
                          token=a[2])
        self.convs.append(r.json["conversation"]["id"])
        r = self.api.call("POST", "/api/conversations",
                          {"type": "group", "name": "fuzz",
                           "member_ids": [u[1] for u in self.users[1:]]}, token=a[2])
        if r.status == 201:
            self.convs.append(r.json["conversation"]["id"])
        for cid in self.convs:
            r = self.api.call("POST", "/api/messages",
                              {"conversation_id": cid, "client_msg_id": "seed" + cid,
                               "type": "text", "body": "seed"}, token=a[2])
            if r.status in (200, 201):
                self.msgs.append(r.json["message"]["id"])
        r = self.api.call("POST", "/api/files/upload?name=seed.txt", raw=b"hello fuzz",
                          token=a[2], headers={"Content-Type": "text/plain"})
        if r.status == 201:
            self.files.append(r.json["file"]["id"])

    def renew(self):
        for u in self.users:
            try:
                if self.api.call("GET", "/api/users/me", token=u[2]).status != 401:
                    continue
                r = self.api.login(u[0])
            except OSError:     # edge-http down: the checks will say so
                return
            if r.status == 200:
                with self.lock:
                    u[2] = r.json["access_token"]

    def user(self, rnd):
        with self.lock:
            return list(rnd.choice(self.users))


# -- REST -------------------------------------------------------------------

def junk(rnd, n):
    return bytes(rnd.getrandbits(8) for _ in range(n))


def odd_string(rnd):
    return rnd.choice([
        "", " ", "a", "x" * rnd.choice([31, 32, 33, 64, 65, 129, 1000, 5000]), "\u00e9" * 40,
        "\U0001F600" * 20, "\u0000", "\\", "\"", "<script>", "null", "-1", "%s%n", "\r\n",
        "\u202e", "g:1", "d:1:2", rnd.choice(ODD_IDS)])


def odd_value(rnd):
    return rnd.choice([None, True, False, 0, -1, 1.5, 2 ** 63, -2 ** 63 - 1, 1e308, [], {},
                       [1, "a"], {"a": {"b": []}}, odd_string(rnd), ["x"] * 60])


def template(rnd, w, method, path):
    """A plausible JSON body for the route."""
    u = w.user(rnd)
    cid = rnd.choice(w.convs) if w.convs else "d:1:2"
    uid = rnd.choice(w.users)[1]
    bodies = {
        "/api/auth/register": {"username": unique_name("fr"), "password": "correct horse",
                               "display_name": "F"},
        "/api/auth/login": {"username": u[0], "password": "correct horse", "device_id": "fz"},
        "/api/auth/refresh": {"refresh_token": base64.urlsafe_b64encode(junk(rnd, 32)).decode()},
        "/api/auth/password": {"old_password": "wrong", "new_password": "x" * 12},
        "/api/users/me": {"display_name": "F", "bio": "b", "avatar_url": "https://x/y.png"},
        "/api/conversations": rnd.choice([{"type": "direct", "peer_id": uid},
                                          {"type": "group", "name": "g", "member_ids": [uid]}]),
        "/api/messages": {"conversation_id": cid, "client_msg_id": "f%x" % rnd.getrandbits(32),
                          "type": rnd.choice(["text", "image", "file"]), "body": "hi",
                          "mentions": [uid]},
        "/api/messages/read": {"conversation_id": cid, "seq": rnd.randint(0, 5)},
        "/api/contacts/apply": {"user_id": uid, "message": "hi"},
        "/api/contacts/handle": {"request_id": str(rnd.randint(1, 9)), "action": "accept"},
    }
    if path in bodies:
        return bodies[path]
    if "/members" in path:
        return {"user_ids": [uid], "role": rnd.choice(["admin", "member", "owner"])}
    if "/owner" in path:
        return {"user_id": uid}
    if path.startswith("/api/conversations/"):
        return {"name": "renamed"}
    return {}


def mutate_obj(rnd, obj):
    obj = dict(obj)
    for _ in range(rnd.randint(0, 3)):
        if not isinstance(obj, dict):
            break
        op = rnd.randrange(5)
        keys = list(obj)
        if op == 0 and keys:
            del obj[rnd.choice(keys)]
        elif op == 1 and keys:
            obj[rnd.choice(keys)] = odd_value(rnd)
        elif op == 2:
            obj[odd_string(rnd) or "k"] = odd_value(rnd)
        elif op == 3 and keys:
            obj[rnd.choice(keys)] = odd_string(rnd)
        elif op == 4:
            obj = rnd.choice([[obj], obj, "str", 42, None])
    return obj


def body_bytes(rnd, obj):
    r = rnd.random()
    try:
        data = json.dumps(obj).encode()
    except (TypeError, ValueError):
        data = b"{}"
    if r < 0.55:
        return data
    if r < 0.65:      # duplicate key
        return data[:-1] + b',"a":1,"a":2}' if data.endswith(b"}") and len(data) > 2 else data
    if r < 0.75:      # truncated JSON
        return data[:rnd.randrange(len(data) + 1)]
    if r < 0.85:      # invalid UTF-8 inside
        i = rnd.randrange(len(data) + 1)
        return data[:i] + rnd.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf"]) + data[i:]
    if r < 0.93:
        return junk(rnd, rnd.randrange(200))
    return b'{"a":"' + b"x" * rnd.choice([4000, 5000, 70000]) + b'"}'   # past the body cap


def fill_path(rnd, w, tmpl):
    def one_id(kind):
        if rnd.random() < 0.3:
            return rnd.choice(ODD_IDS)
        pool = {"conv": w.convs, "file": w.files, "msg": w.msgs}.get(kind) or \
            [u[1] for u in w.users]
        return rnd.choice(pool) if pool else "1"
    kind = "conv" if "/conversations/" in tmpl else "file" if "/files/" in tmpl else \
        "msg" if "/messages/" in tmpl else "user"
    p = tmpl.replace("{id}", one_id(kind)).replace("{uid}", one_id("user"))
    r = rnd.random()
    if r < 0.05:
        p += "/"
    elif r < 0.08:
        p = p.replace("/", "//", 1)
    elif r < 0.10:
        p += "/" + rnd.choice(ODD_IDS)
    elif r < 0.12:
        p = "/" + "a/" * rnd.choice([10, 500, 3000])
    elif r < 0.14:
        p = p.upper()
    return p


def query(rnd, w):
    if rnd.random() < 0.4:
        return ""
    parts = []
    for _ in range(rnd.randint(1, 4)):
        k = rnd.choice(QUERY_KEYS)
        v = rnd.choice([rnd.choice(w.convs) if w.convs else "g:1", str(rnd.randint(-5, 200)),
                        ",".join(u[1] for u in w.users), ",".join(["1"] * 250),
                        rnd.choice(ODD_IDS), "", "%", "%zz", "a" * 300, "photo%20%C3%A9.jpg"])
        parts.append(k + "=" + v if rnd.random() < 0.9 else k)
    return "?" + "&".join(parts)


def auth_header(rnd, w):
    r = rnd.random()
    tok = w.user(rnd)[2]
    if r < 0.65:
        return "Bearer " + tok
    if r < 0.72:
        return None
    if r < 0.80:
        i = rnd.randrange(len(tok))
        return "Bearer " + tok[:i] + rnd.choice("AZaz09-_.") + tok[i + 1:]
    if r < 0.85:
        return "Bearer " + tok[:rnd.randrange(len(tok))]
    if r < 0.90:
        return rnd.choice(["Basic dXNlcjpwdw==", "Bearer", "Bearer ", "bearer " + tok,
                           "Bearer  " + tok + " x", "Bearer " + tok + "." + tok])
    h = base64.urlsafe_b64encode(json.dumps(odd_value(rnd)).encode()).rstrip(b"=").decode()
    return "Bearer %s.%s.%s" % (h, tok.split(".")[1] if tok.count(".") == 2 else "e30", "A" * 86)


def build_request(rnd, w):
    if rnd.random() < 0.85:
        method, tmpl = rnd.choice(ROUTES)
        if rnd.random() < 0.1:
            method = rnd.choice(METHODS)
    else:
        method, tmpl = rnd.choice(METHODS), rnd.choice(ROUTES)[1]
    path = fill_path(rnd, w, tmpl) + query(rnd, w)
    headers = [("Host", "127.0.0.1")]
    a = auth_header(rnd, w)
    if a is not None:
        headers.append(("Authorization", a))
    if rnd.random() < 0.3:
        headers.append(("Range", rnd.choice(["bytes=0-3", "bytes=-2", "bytes=5-", "bytes=9-1",
                                             "bytes=0-0,2-3", "bytes=99999999999999999999-",
                                             "items=1-2", "bytes=", "bytes=-0"])))
    if rnd.random() < 0.15:
        headers.append(("If-Range", rnd.choice(['"x"', "W/\"x\"", "Mon, 01 Jan 2024", ""])))
    if rnd.random() < 0.2:
        headers.append(("traceparent", rnd.choice([
            "00-%032x-%016x-01" % (rnd.getrandbits(128), rnd.getrandbits(64)),
            "00-" + "0" * 32 + "-" + "0" * 16 + "-00", "zz", "00-" + "g" * 52])))
    if rnd.random() < 0.05:
        headers.append(("X-Big", "a" * rnd.choice([1000, 8000, 20000])))
    if rnd.random() < 0.05:
        headers.append((odd_string(rnd).replace("\r\n", "") or "X", "v"))
    body = None
    if method in ("POST", "PUT", "PATCH") or rnd.random() < 0.05:
        if tmpl == "/api/files/upload":
            body = junk(rnd, rnd.randrange(2000)) if rnd.random() < 0.5 else \
                b"\x89PNG\r\n\x1a\n" + junk(rnd, 64)
        else:
            body = body_bytes(rnd, mutate_obj(rnd, template(rnd, w, method, tmpl)))
        headers.append(("Content-Type", rnd.choice(["application/json", "text/plain",
                                                    "application/json; charset=latin1", ""])))
    return method, path, headers, body


def head_bytes(method, path, headers):
    lines = ["%s %s HTTP/1.1" % (method, path)] + ["%s: %s" % kv for kv in headers]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8", "surrogateescape")


def read_status(sock, timeout):
    """First status code the server answers (or 'none' / 'timeout' / 'reset')."""
    sock.settimeout(timeout)
    buf = b""
    try:
        while b"\r\n" not in buf:
            d = sock.recv(65536)
            if not d:
                return "none" if not buf else "partial"
            buf += d
        # drain the rest so the server is never blocked writing to us
        end = time.monotonic() + 2
        while time.monotonic() < end:
            if not sock.recv(65536):
                break
    except socket.timeout:
        if not buf:
            return "timeout"
    except OSError:
        if not buf:
            return "reset"
    m = re.match(rb"HTTP/1\.[01] (\d{3})", buf)
    return m.group(1).decode() if m else "garbled"


def rest_once(rnd, w, port, counts):
    method, path, headers, body = build_request(rnd, w)
    mode = rnd.choices(["whole", "chunked", "badchunk", "truncated", "pipelined", "slow",
                        "garbage"], [60, 10, 5, 8, 6, 6, 5])[0]
    counts.add("rest.requests")
    counts.add("rest.mode." + mode)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError as e:
        counts.add("rest.connect_failed")
        counts.sample("rest.connect_failed", repr(e))
        return
    try:
        body = body or b""
        if mode == "garbage":
            out = rnd.choice([junk(rnd, rnd.randrange(1, 300)), b"GET\r\n\r\n",
                              b"GET / HTTP/9.9\r\n\r\n", b"GET " + b"/a" * 5000 + b" HTTP/1.1\r\n\r\n",
                              b"POST /api/messages HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                              b"POST /api/messages HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                              b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n"])
            s.sendall(out)
        elif mode in ("chunked", "badchunk"):
            h = head_bytes(method, path, headers + [("Transfer-Encoding", "chunked"),
                                                     ("Connection", "close")]) + b"\r\n"
            chunks, i = [], 0
            while i < len(body):
                n = rnd.randint(1, 64)
                chunks.append(b"%x\r\n%s\r\n" % (len(body[i:i + n]), body[i:i + n]))
                i += n
            tail = b"0\r\n\r\n"
            if mode == "badchunk":
                bad = rnd.choice([b"zz\r\nxx\r\n", b"ffffffffffffffffff\r\nx", b"5\r\nab",
                                  b"-1\r\n", b""])
                chunks.insert(rnd.randrange(len(chunks) + 1), bad)
                tail = rnd.choice([b"", tail])
            s.sendall(h + b"".join(chunks) + tail)
            if mode == "badchunk":
                s.shutdown(socket.SHUT_WR)
        elif mode == "truncated":
            h = head_bytes(method, path, headers + [("Content-Length", str(len(body) + rnd.randint(1, 3000))),
                                                     ("Connection", "close")]) + b"\r\n"
            s.sendall(h + body[:rnd.randrange(len(body) + 1)])
            s.shutdown(socket.SHUT_WR)
        else:
            h = head_bytes(method, path, headers + [("Content-Length", str(len(body)))])
            one = h + b"\r\n" + body
            if mode == "pipelined":
                m2, p2, h2, b2 = build_request(rnd, w)
                b2 = b2 or b""
                two = head_bytes(m2, p2, h2 + [("Content-Length", str(len(b2))),
                                               ("Connection", "close")]) + b"\r\n" + b2
                s.sendall(one + two)
            elif mode == "slow":
                data = head_bytes(method, path, headers + [("Content-Length", str(len(body))),
                                                           ("Connection", "close")]) + b"\r\n" + body
                step = max(1, len(data) // rnd.randint(5, 30))
                for i in range(0, len(data), step):
                    s.sendall(data[i:i + step])
                    time.sleep(rnd.uniform(0.005, 0.05))
            else:
                s.sendall(h.replace(b"\r\nHost:", b"\r\nConnection: close\r\nHost:", 1) +
                          b"\r\n" + body)
        st = read_status(s, 5)
    except OSError as e:
        st = "reset" if isinstance(e, ConnectionError) else "oserror"
    finally:
        s.close()
    counts.add("rest.status." + st)
    if st == "garbled":
        counts.sample("rest.garbled", "%s %s %s" % (mode, method, path[:80]))
    if st in ("timeout", "none", "partial"):
        counts.sample("rest.no_answer", "%s %s %s -> %s" % (mode, method, path[:80], st))
    if st.startswith("5") and st not in ("503", "505"):  # 505: our own "HTTP/9.9"
        counts.sample("rest.5xx", "%s %s %s -> %s" % (mode, method, path[:120], st))


def guarded(counts, what, fn, *args):
    """A bug in the fuzzer itself is counted and shown, and the run goes on."""
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 - any fuzzer bug, reported below
        counts.add("fuzzer_error")
        counts.sample("fuzzer_error", "%s: %r" % (what, e))


def rest_worker(seed, w, port, counts, deadline):
    rnd = random.Random(seed)
    while time.monotonic() < deadline:
        guarded(counts, "rest", rest_once, rnd, w, port, counts)


# -- WebSocket ----------------------------------------------------------------

def raw_frame(rnd, opcode, payload, fin=True, rsv=0, mask=True, declared=None):
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload) if declared is None else declared
    if n < 126:
        head = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return head + payload
    m = junk(rnd, 4)
    return head + m + bytes(b ^ m[i % 4] for i, b in enumerate(payload))


def ws_op(rnd, w, uid):
    cid = rnd.choice(w.convs) if w.convs and rnd.random() < 0.7 else rnd.choice(ODD_IDS)
    op = rnd.choice(["send", "ack", "sync", "read", "typing", "ping", "nope", "", None,
                     "call_offer", "call_answer", "call_ice", "call_hangup"])
    f = {"op": op, "rid": "r%x" % rnd.getrandbits(20), "conversation_id": cid}
    if op and op.startswith("call_"):   # API.md "Calls"
        f = {"op": op, "rid": f["rid"]}
        if op == "call_offer":
            f.update(conversation_id=cid, media=rnd.choice(["audio", "video"]),
                     sdp="v=0\r\n" * rnd.randint(1, 40))
        else:
            f["call_id"] = rnd.choice(["%032x" % rnd.getrandbits(128), "x", cid])
        if op == "call_answer":
            f["sdp"] = "v=0\r\n"
        elif op == "call_ice":
            f["candidate"] = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host",
                              "sdpMid": "0", "sdpMLineIndex": 0}
        return mutate_obj(rnd, f) if rnd.random() < 0.6 else f
    if op == "send":
        f.update(client_msg_id="w%x" % rnd.getrandbits(40), type="text", body="fuzz",
                 mentions=[uid])
    elif op in ("ack", "read"):
        f["seq"] = rnd.randint(0, 50)
    elif op == "sync":
        f.update(after_seq=0, limit=rnd.randint(1, 100))
    return mutate_obj(rnd, f) if rnd.random() < 0.6 else f


class WsConn:
    """One socket and a thread that drains it (so the edge never closes it
    for not reading, and pings get answered)."""

    def __init__(self, port, token, counts):
        self.ws = WsClient.connect("127.0.0.1", port, "/ws?token=" + token, timeout=5)
        self.counts = counts
        self.dead = False
        self.t = threading.Thread(target=self._drain, daemon=True)
        self.t.start()

    def _drain(self):
        try:
            self.ws.sock.settimeout(None)
            while True:
                fin, op, payload = self.ws.recv_frame()
                self.counts.add("ws.received")
                if op == OP_CLOSE:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                    self.counts.add("ws.closed_by_server.%s" % code)
                    break
        except (OSError, ValueError, WsClosed, struct.error):
            pass
        self.dead = True

    def send(self, data):
        try:
            self.ws.sock.sendall(data)
            return True
        except OSError:
            self.dead = True
            return False

    def close(self):
        try:
            self.ws.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.ws.sock.close()
        self.t.join(5)


def ws_frames(rnd, w, uid):
    """A list of (kind, bytes) to send in order."""
    kind = rnd.choices(["op", "text", "binary", "fragmented", "ping", "pong", "close",
                        "reserved", "unmasked", "huge_declared", "too_large", "badutf8"],
                       [45, 6, 6, 12, 8, 3, 2, 3, 2, 2, 5, 6])[0]
    data = json.dumps(ws_op(rnd, w, uid)).encode()
    if kind == "op":
        return kind, [raw_frame(rnd, OP_TEXT, data)]
    if kind == "text":
        return kind, [raw_frame(rnd, OP_TEXT, rnd.choice([b"", b"{", b"null", b"[]",
                                                          junk(rnd, 50).hex().encode()]))]
    if kind == "binary":
        return kind, [raw_frame(rnd, OP_BINARY, rnd.choice([data, junk(rnd, 300)]))]
    if kind == "fragmented":
        parts, i = [], 0
        while i < len(data):
            n = rnd.randint(1, 40)
            parts.append(data[i:i + n])
            i += n
        out = []
        for j, p in enumerate(parts):
            out.append(raw_frame(rnd, OP_TEXT if j == 0 else OP_CONT, p, fin=j == len(parts) - 1))
            if rnd.random() < 0.2:
                out.append(raw_frame(rnd, OP_PING, b"mid"))
        r = rnd.random()
        if r < 0.1:
            out = out[1:]                            # continuation without a start
        elif r < 0.2:
            out.insert(1, raw_frame(rnd, OP_TEXT, b'{"op":"ping"}'))  # new message inside one
        return kind, out
    if kind == "ping":
        return kind, [raw_frame(rnd, OP_PING, junk(rnd, rnd.choice([0, 10, 125, 126, 1000])))]
    if kind == "pong":
        return kind, [raw_frame(rnd, OP_PONG, junk(rnd, 10))]
    if kind == "close":
        code = rnd.choice([1000, 1001, 0, 999, 1005, 1006, 4000, 65535])
        return kind, [raw_frame(rnd, OP_CLOSE, struct.pack("!H", code) + junk(rnd, rnd.choice([0, 5, 130])))]
    if kind == "reserved":
        return kind, [raw_frame(rnd, rnd.choice([3, 4, 7, 0xB, 0xF]), data) if rnd.random() < 0.5
                      else raw_frame(rnd, OP_TEXT, data, rsv=rnd.randint(1, 7))]
    if kind == "unmasked":
        return kind, [raw_frame(rnd, OP_TEXT, data, mask=False)]
    if kind == "huge_declared":
        return kind, [raw_frame(rnd, OP_TEXT, b"{}", declared=rnd.choice([2 ** 31, 2 ** 40, 2 ** 63 - 1]))[:20]]
    if kind == "too_large":   # past ws.max_frame (80 KiB by default)
        body = b'{"op":"send","body":"' + b"x" * rnd.choice([82000, 90000, 200000]) + b'"}'
        return kind, [raw_frame(rnd, OP_TEXT, body)]
    i = rnd.randrange(len(data) + 1)
    return kind, [raw_frame(rnd, OP_TEXT, data[:i] + rnd.choice([b"\xff", b"\xc3(", b"\xed\xa0\x80"]) + data[i:])]


def ws_worker(seed, w, port, counts, deadline):
    rnd = random.Random(seed)
    conns = []
    while time.monotonic() < deadline:
        conns = [c for c in conns if not c.dead or c.close()]
        if len(conns) < 3 or rnd.random() < 0.05:
            u = w.user(rnd)
            tok = u[2]
            if rnd.random() < 0.08:
                tok = rnd.choice(["", "garbage", tok[:-3], tok + "x", "%00"])
            try:
                c = WsConn(port, tok, counts)
                c.uid = u[1]
                conns.append(c)
                counts.add("ws.sockets")
            except Exception as e:  # handshake refused, reset: counted, not fatal
                counts.add("ws.connect_failed")
                counts.sample("ws.connect_failed", repr(e))
                time.sleep(0.01)
            continue
        guarded(counts, "ws", ws_step, rnd, w, rnd.choice(conns), counts)
    for c in conns:
        c.close()


def ws_step(rnd, w, c, counts):
    kind, frames = ws_frames(rnd, w, c.uid)
    counts.add("ws.kind." + kind)
    for f in frames:
        if rnd.random() < 0.05 and len(f) < 400:       # a slow client: byte by byte
            for b in range(len(f)):
                if not c.send(f[b:b + 1]):
                    break
                time.sleep(0.001)
        elif not c.send(f):
            break
        counts.add("ws.frames")
    if kind in ("huge_declared", "unmasked", "reserved") and rnd.random() < 0.5:
        c.close()
        c.dead = True


# -- known attacks: deep nesting (issue 11) -----------------------------------

def deep_phase(w, http_port, ws_port, counts):
    tok = w.users[0][2]
    results = []
    for depth in (1000, 1400, 2000):
        body = b"[" * depth + b"]" * depth
        try:
            st, _, _ = http_request("http://127.0.0.1:%d" % http_port, "PUT", "/api/users/me",
                                    body, {"Authorization": "Bearer " + tok,
                                           "Content-Type": "application/json"}, timeout=5)
        except OSError as e:
            st = repr(e)
        results.append(("REST body depth %d" % depth, st))
        counts.add("deep.requests")
    h = base64.urlsafe_b64encode(b"[" * 1400).rstrip(b"=").decode()
    try:
        st, _, _ = http_request("http://127.0.0.1:%d" % http_port, "GET", "/api/users/me", None,
                                {"Authorization": "Bearer %s.e30.%s" % (h, "A" * 86)}, timeout=5)
    except OSError as e:
        st = repr(e)
    results.append(("token header depth 1400 (no account)", st))
    counts.add("deep.requests")
    try:
        c = WsClient.connect("127.0.0.1", ws_port, "/ws?token=" + tok)
        c.send_text('{"op":"ping","rid":' + "[" * 5000 + "]" * 5000 + "}")
        results.append(("WS frame depth 5000", c.recv_op("error", 5).get("code")))
        c.close()
    except Exception as e:  # reported, judged by the checks after
        results.append(("WS frame depth 5000", repr(e)))
    counts.add("deep.frames")
    return results


# -- checks -------------------------------------------------------------------

def normal_send_works(api, ws_port):
    """Two fresh users, a direct conversation, a send over WebSocket that
    the peer receives, and one over REST."""
    users = []
    for _ in range(2):
        name = unique_name("ok")
        if api.register(name).status != 201:
            return "register failed"
        r = api.login(name)
        if r.status != 200:
            return "login failed: %r" % r
        users.append((r.json["user"]["id"], r.json["access_token"]))
    (a, ta), (b, tb) = users
    r = api.call("POST", "/api/conversations", {"type": "direct", "peer_id": b}, token=ta)
    if r.status != 201:
        return "conversation create: %r" % r
    cid = r.json["conversation"]["id"]
    r = api.call("POST", "/api/messages", {"conversation_id": cid, "client_msg_id": "rest-ok",
                                           "type": "text", "body": "rest ok"}, token=ta)
    if r.status not in (200, 201):
        return "REST send: %r" % r
    wa = WsClient.connect("127.0.0.1", ws_port, "/ws?token=" + ta)
    wb = WsClient.connect("127.0.0.1", ws_port, "/ws?token=" + tb)
    try:
        wa.send_json({"op": "send", "rid": "ok", "conversation_id": cid, "client_msg_id": "ws-ok",
                      "type": "text", "body": "ws ok"})
        sent = wa.recv_op("sent", 10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            m = wb.recv_json(10)
            if m.get("op") == "message" and m["message"]["body"] == "ws ok":
                wb.send_json({"op": "ack", "conversation_id": cid, "seq": m["message"]["seq"]})
                break
        else:
            return "the peer did not get the WS message"
        if sent.get("message", {}).get("body") != "ws ok":
            return "sent frame: %r" % sent
    except (WsClosed, OSError, ValueError, KeyError) as e:
        return "WS send: %r" % e
    finally:
        wa.close()
        wb.close()
    return None


def check(stack, procs, ops_ports, api, ws_port):
    problems = []
    for p in procs:
        if not p.alive():
            problems.append("%s is not running (exit %s)" % (p.name, p.popen.poll()))
    for p in stack.procs:
        try:
            with open(p.log_path, "rb") as f:
                m = SANITIZER.search(f.read())
        except OSError:
            continue
        if m:
            problems.append("sanitizer report in %s's log: %s" % (p.name, m.group(0).decode()))
    for name, port in [("edge-http", procs[-2].port), ("edge-ws", procs[-1].port)] + \
            list(ops_ports.items()):
        try:
            st, _, _ = http_request("http://127.0.0.1:%d" % port, "GET", "/healthz", timeout=5)
        except OSError as e:
            st = repr(e)
        if st != 200:
            problems.append("/healthz of %s: %s" % (name, st))
    if not problems:
        try:
            why = normal_send_works(api, ws_port)
        except Exception as e:  # noqa: BLE001 - any failure here is the finding
            why = repr(e)
        if why:
            problems.append("a normal send fails after fuzzing: " + why)
    return problems


def error_lines(stack):
    """level=error log lines per process, by message: not a failure by
    themselves (a refused bad request may log one), but where to look."""
    out = {}
    for p in stack.procs:
        try:
            with open(p.log_path, "rb") as f:
                for line in f:
                    if b"level=error" in line:
                        m = re.search(rb'msg="([^"]*)"', line)
                        key = "%s: %s" % (p.name, m.group(1).decode("utf-8", "replace") if m else "?")
                        out[key] = out.get(key, 0) + 1
        except OSError:
            pass
    return out


def start_stack(out, attempts=2):
    """A stack with every role, each pool with an ops port.  Tried twice: a
    port picked free can be taken before the role binds it (other stacks
    on the machine, outgoing connections' ephemeral ports)."""
    for attempt in range(attempts):
        stack = Stack()
        try:
            procs, ops_ports = [], {}
            for role in POOLS:
                port = free_port(stack.ports)
                ops_ports[role] = port
                env = {"NATTER_OPS_HTTP_PORT": str(port), "NATTER_OPS_BIND": "127.0.0.1",
                       "NATTER_NATS_REQUEST_TIMEOUT_MS": "5000"}
                procs.append(stack.start_role(role, env))
            for role in ("edge-http", "edge-ws"):
                procs.append(stack.start_role(role, {"NATTER_NATS_REQUEST_TIMEOUT_MS": "5000"}))
            return stack, procs, ops_ports
        except StackError as e:
            stack.failed = attempt == attempts - 1
            stack.close()
            if stack.failed:
                raise
            print("fuzz-live: the stack did not start, once more: %s"
                  % str(e).splitlines()[0], file=out)


def run(seconds=60, seed=None, skip=(), rest_threads=3, ws_threads=2, out=sys.stdout):
    """One bounded run on a fresh stack; returns (ok, summary dict)."""
    seed = seed if seed is not None else random.randrange(1 << 30)
    counts = Counts()
    print("fuzz-live: seed %d, %d s, skip %s" % (seed, seconds, ",".join(skip) or "-"), file=out)
    stack, procs, ops_ports = start_stack(out)
    ok = False
    try:
        http, ws = procs[-2], procs[-1]
        api = Api(http.url)
        w = World(api, ws.port)
        w.setup()
        t0 = time.monotonic()
        deadline = t0 + seconds
        threads = [threading.Thread(target=rest_worker, args=(seed + i, w, http.port, counts, deadline))
                   for i in range(rest_threads)]
        threads += [threading.Thread(target=ws_worker, args=(seed + 100 + i, w, ws.port, counts, deadline))
                    for i in range(ws_threads)]
        for t in threads:
            t.daemon = True
            t.start()
        while time.monotonic() < deadline:
            time.sleep(min(5, max(0, deadline - time.monotonic())))
            w.renew()       # a fuzzed logout or password change revokes a token
        for t in threads:
            t.join(30)
        fuzz_s = time.monotonic() - t0
        w.renew()
        deep = []
        if "deep-json" not in skip:
            deep = deep_phase(w, http.port, ws.port, counts)
        problems = check(stack, procs, ops_ports, api, ws.port)
        errors = error_lines(stack)
        stack.failed = bool(problems)       # log tails on failure
        bad = stack.close()
        problems += ["%s exited %s on SIGTERM (a leak or sanitizer report at exit?)" % b
                     for b in bad]
        ok = not problems
        c = counts.c
        rest_n, ws_n = c.get("rest.requests", 0), c.get("ws.frames", 0)
        print("fuzz-live: %.0f s: %d REST requests (%.0f/s), %d WebSocket frames on %d sockets"
              % (fuzz_s, rest_n, rest_n / fuzz_s, ws_n, c.get("ws.sockets", 0)), file=out)
        for prefix in ("rest.mode.", "rest.status.", "ws.kind.", "ws.closed_by_server."):
            items = sorted((k[len(prefix):], v) for k, v in c.items() if k.startswith(prefix))
            print("  %-22s %s" % (prefix.rstrip("."), " ".join("%s=%d" % kv for kv in items)),
                  file=out)
        for k, v in sorted(counts.samples.items()):
            for s in v:
                print("  sample %s: %s" % (k, s), file=out)
        for k, v in sorted(errors.items(), key=lambda kv: -kv[1])[:10]:
            print("  log errors %5d  %s" % (v, k), file=out)
        for what, st in deep:
            print("  deep-json: %s -> %s" % (what, st), file=out)
        for p in problems:
            print("FAIL: " + p, file=out)
        print("fuzz-live: %s" % ("PASS" if ok else "FAIL"), file=out)
        return ok, {"counts": dict(c), "problems": problems, "deep": deep, "seed": seed}
    finally:
        if not ok and not stack.closed:
            stack.failed = True
        stack.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--natter", default=os.path.join(ROOT, "build-test", "natter"))
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--skip", action="append", default=[], choices=CLASSES,
                    help="leave out an input class (deep-json: issue 11's nesting attack)")
    ap.add_argument("--rest-threads", type=int, default=3)
    ap.add_argument("--ws-threads", type=int, default=2)
    a = ap.parse_args()
    os.environ["NATTER_BIN"] = os.path.abspath(a.natter)
    if not os.access(os.environ["NATTER_BIN"], os.X_OK):
        print("fuzz-live: no natter binary at %s" % a.natter, file=sys.stderr)
        return 2
    ok, _ = run(a.seconds, a.seed, tuple(a.skip), a.rest_threads, a.ws_threads)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
