"""natsclient.py - a tiny synchronous NATS client (Python 3 stdlib only).

Debian 12 ships nats-server but neither the nats CLI nor a Python client, and
the stack tests and ops scripts must run on a clean machine with nothing but
/usr/bin/python3.  The NATS client protocol is a few text lines, so this
speaks it directly: INFO/CONNECT (user/password, headers, no_responders),
PING/PONG, SUB/UNSUB, PUB/HPUB, MSG/HMSG, request/reply with an inbox and a
timeout, and request_many() to collect every reply within a window (the
micro protocol's $SRV.PING fan-out).

Asynchronous -ERR lines (e.g. 'Permissions Violation for Publish to ...')
do not close the connection; they are collected in Client.errors so a test
can assert on them after a flush().

Also a small command line for operators (ops/up uses `ping`):

    NATS_PASSWORD=... natsclient.py --url nats://127.0.0.1:14222 --user ops ping auth --wait 30
    NATS_PASSWORD=... natsclient.py --user ops sub 'im.>'
    NATS_PASSWORD=... natsclient.py --user ops req '$SRV.STATS.auth' --many
"""

import json
import os
import secrets
import socket
import sys
import time
import urllib.parse

__all__ = ["Client", "Msg", "NatsError", "NoResponders", "Timeout", "parse_url"]


class NatsError(Exception):
    """A protocol error or an -ERR that closed the connection."""


class Timeout(NatsError):
    """No answer within the timeout."""


class NoResponders(NatsError):
    """The server answered a request with status 503: nobody subscribes."""


class Msg:
    """One delivered message.  headers is a dict (last value wins) or None;
    status is the HMSG status code ("503" for no responders) or None."""

    __slots__ = ("subject", "sid", "reply", "data", "headers", "status", "description")

    def __init__(self, subject, sid, reply, data, headers=None, status=None, description=None):
        self.subject = subject
        self.sid = sid
        self.reply = reply
        self.data = data
        self.headers = headers
        self.status = status
        self.description = description

    def json(self):
        return json.loads(self.data.decode("utf-8"))

    def __repr__(self):
        return "Msg(%r, sid=%r, reply=%r, status=%r, headers=%r, data=%r)" % (
            self.subject, self.sid, self.reply, self.status, self.headers, self.data[:200])


def parse_url(url):
    """nats://[user:pass@]host:port (first of a comma-separated list) ->
    (host, port, user, password).  Missing parts are None; port defaults to 4222."""
    first = url.split(",")[0].strip()
    if "://" not in first:
        first = "nats://" + first
    u = urllib.parse.urlsplit(first)
    return (u.hostname or "127.0.0.1", u.port or 4222,
            urllib.parse.unquote(u.username) if u.username else None,
            urllib.parse.unquote(u.password) if u.password else None)


def _encode_headers(headers):
    lines = ["NATS/1.0"]
    for k, v in headers.items():
        if "\r" in k or "\n" in k or ":" in k or "\r" in str(v) or "\n" in str(v):
            raise ValueError("bad header %r" % k)
        lines.append("%s: %s" % (k, v))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _decode_headers(raw):
    text = raw.decode("utf-8", "replace")
    lines = text.split("\r\n")
    first = lines[0]
    if not first.startswith("NATS/1.0"):
        raise NatsError("bad header block: %r" % first)
    rest = first[len("NATS/1.0"):].strip()
    status = description = None
    if rest:
        parts = rest.split(" ", 1)
        status = parts[0]
        description = parts[1] if len(parts) > 1 else None
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        k, _, v = line.partition(":")
        headers[k.strip()] = v.strip()
    return headers, status, description


class Client:
    """One connection.  Not thread-safe: use one Client per thread."""

    def __init__(self, url="nats://127.0.0.1:4222", user=None, password=None,
                 name="natter-py", timeout=5.0):
        host, port, u, p = parse_url(url)
        self.host, self.port = host, port
        self.user = user if user is not None else u
        self.password = password if password is not None else p
        self.name = name
        self.timeout = timeout
        self.sock = None
        self.info = None
        self.errors = []          # -ERR texts received (permission violations, ...)
        self._buf = bytearray()
        self._next_sid = 1
        self._pending = []        # delivered messages not yet taken, in order
        self._pongs = 0

    # -- connection -----------------------------------------------------

    def connect(self):
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        deadline = time.monotonic() + self.timeout
        line = self._readline(deadline)
        if not line.startswith(b"INFO "):
            raise NatsError("expected INFO, got %r" % line[:100])
        self.info = json.loads(line[5:].decode("utf-8"))
        opts = {"verbose": False, "pedantic": False, "lang": "python-natter",
                "version": "0.1", "protocol": 1, "name": self.name,
                "headers": True, "no_responders": True}
        if self.user is not None:
            opts["user"] = self.user
            opts["pass"] = self.password or ""
        self._send(b"CONNECT " + json.dumps(opts).encode("utf-8") + b"\r\n")
        # An authorization failure arrives as -ERR before our PONG, then a close.
        self.flush(self.timeout)
        return self

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def __enter__(self):
        return self.connect() if self.sock is None else self

    def __exit__(self, *exc):
        self.close()

    # -- low level ------------------------------------------------------

    def _send(self, data):
        if self.sock is None:
            raise NatsError("not connected")
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Timeout("timed out")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise Timeout("timed out") from None
        except ConnectionError as e:
            raise NatsError("connection lost (%s)%s" % (
                e, ": " + "; ".join(self.errors) if self.errors else "")) from None
        if not chunk:
            raise NatsError("connection closed by server" +
                            (": " + "; ".join(self.errors) if self.errors else ""))
        self._buf += chunk

    def _readline(self, deadline):
        while True:
            i = self._buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self._buf[:i])
                del self._buf[:i + 2]
                return line
            if len(self._buf) > 1 << 20:
                raise NatsError("protocol line too long")
            self._fill(deadline)

    def _read_exact(self, n, deadline):
        while len(self._buf) < n + 2:
            self._fill(deadline)
        data = bytes(self._buf[:n])
        if self._buf[n:n + 2] != b"\r\n":
            raise NatsError("payload not followed by CRLF")
        del self._buf[:n + 2]
        return data

    def _process_one(self, deadline):
        """Read and handle one protocol operation."""
        line = self._readline(deadline)
        op, _, args = line.partition(b" ")
        op = op.upper()
        if op == b"MSG":
            parts = args.decode("utf-8").split()
            if len(parts) == 3:
                subject, sid, n = parts
                reply = None
            elif len(parts) == 4:
                subject, sid, reply, n = parts
            else:
                raise NatsError("bad MSG line %r" % line)
            data = self._read_exact(int(n), deadline)
            self._pending.append(Msg(subject, sid, reply, data))
        elif op == b"HMSG":
            parts = args.decode("utf-8").split()
            if len(parts) == 4:
                subject, sid, hn, tn = parts
                reply = None
            elif len(parts) == 5:
                subject, sid, reply, hn, tn = parts
            else:
                raise NatsError("bad HMSG line %r" % line)
            raw = self._read_exact(int(tn), deadline)
            hdr, status, desc = _decode_headers(raw[:int(hn)])
            self._pending.append(Msg(subject, sid, reply, raw[int(hn):], hdr, status, desc))
        elif op == b"PING":
            self._send(b"PONG\r\n")
        elif op == b"PONG":
            self._pongs += 1
        elif op == b"+OK":
            pass
        elif op == b"-ERR":
            self.errors.append(args.decode("utf-8", "replace").strip().strip("'"))
        elif op == b"INFO":
            self.info = json.loads(args.decode("utf-8"))
        else:
            raise NatsError("unexpected protocol line %r" % line[:100])

    # -- API -------------------------------------------------------------

    def flush(self, timeout=None):
        """Round trip a PING: everything sent before has been processed by the
        server (and any -ERR it caused is in self.errors)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        want = self._pongs + 1
        self._send(b"PING\r\n")
        while self._pongs < want:
            self._process_one(deadline)

    def new_inbox(self):
        return "_INBOX." + secrets.token_hex(11)

    def subscribe(self, subject, queue=None):
        sid = str(self._next_sid)
        self._next_sid += 1
        q = (" " + queue) if queue else ""
        self._send(("SUB %s%s %s\r\n" % (subject, q, sid)).encode("utf-8"))
        return sid

    def unsubscribe(self, sid, max_msgs=None):
        m = (" %d" % max_msgs) if max_msgs else ""
        self._send(("UNSUB %s%s\r\n" % (sid, m)).encode("utf-8"))
        if not max_msgs:
            self._pending = [m_ for m_ in self._pending if m_.sid != sid]

    def publish(self, subject, data=b"", reply=None, headers=None):
        if isinstance(data, str):
            data = data.encode("utf-8")
        r = (" " + reply) if reply else ""
        if headers:
            h = _encode_headers(headers)
            self._send(("HPUB %s%s %d %d\r\n" % (subject, r, len(h), len(h) + len(data))).encode("utf-8")
                       + h + data + b"\r\n")
        else:
            self._send(("PUB %s%s %d\r\n" % (subject, r, len(data))).encode("utf-8") + data + b"\r\n")

    def next_msg(self, sid=None, timeout=None):
        """The next delivered message (for sid, if given), or raise Timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for i, m in enumerate(self._pending):
                if sid is None or m.sid == sid:
                    return self._pending.pop(i)
            self._process_one(deadline)

    def request(self, subject, data=b"", timeout=None, headers=None):
        """Publish with a fresh inbox and return the first reply.  Raises
        NoResponders (status 503) or Timeout."""
        inbox = self.new_inbox()
        sid = self.subscribe(inbox)
        try:
            self.publish(subject, data, reply=inbox, headers=headers)
            m = self.next_msg(sid, timeout)
            if m.status == "503":
                raise NoResponders(subject)
            return m
        finally:
            self.unsubscribe(sid)

    def request_many(self, subject, data=b"", window=0.5, headers=None):
        """Publish with a fresh inbox and collect every reply that arrives
        within window seconds (status messages are dropped)."""
        inbox = self.new_inbox()
        sid = self.subscribe(inbox)
        out = []
        deadline = time.monotonic() + window
        try:
            self.publish(subject, data, reply=inbox, headers=headers)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    m = self.next_msg(sid, remaining)
                except Timeout:
                    break
                if m.status is None:
                    out.append(m)
        finally:
            self.unsubscribe(sid)
        return out


# -- command line ----------------------------------------------------------

def _main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="tiny NATS client for natter operators")
    ap.add_argument("--url", default=os.environ.get("NATS_URL", "nats://127.0.0.1:14222"))
    ap.add_argument("--user", default=os.environ.get("NATS_USER"))
    ap.add_argument("--password-env", default="NATS_PASSWORD",
                    help="environment variable holding the password (never on the command line)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ping", help="wait until a micro service answers $SRV.PING.<name>")
    p.add_argument("name")
    p.add_argument("--wait", type=float, default=30.0, help="seconds to keep trying")
    p.add_argument("--count", type=int, default=1, help="instances that must answer")
    s = sub.add_parser("sub", help="print messages on a subject until interrupted")
    s.add_argument("subject")
    r = sub.add_parser("req", help="send a request and print the reply (or all replies)")
    r.add_argument("subject")
    r.add_argument("data", nargs="?", default="")
    r.add_argument("--many", action="store_true", help="collect every reply for 0.5 s")
    a = ap.parse_args(argv)
    password = os.environ.get(a.password_env)

    if a.cmd == "ping":
        deadline = time.monotonic() + a.wait
        last = "no answer"
        while True:
            try:
                with Client(a.url, a.user, password, name="natter-ping", timeout=2.0) as c:
                    replies = c.request_many("$SRV.PING." + a.name, window=0.5)
                    ids = sorted({m.json().get("id", "") for m in replies})
                    if len(ids) >= a.count:
                        print("%s: %d instance(s) %s" % (a.name, len(ids), " ".join(ids)))
                        return 0
                    last = "%d of %d instances answered" % (len(ids), a.count)
            except (OSError, NatsError, ValueError) as e:
                last = str(e)
            if time.monotonic() >= deadline:
                print("%s: %s" % (a.name, last), file=sys.stderr)
                return 1
            time.sleep(0.3)

    with Client(a.url, a.user, password, name="natter-cli") as c:
        if a.cmd == "req":
            if a.many:
                for m in c.request_many(a.subject, a.data):
                    print(m.data.decode("utf-8", "replace"))
            else:
                print(c.request(a.subject, a.data).data.decode("utf-8", "replace"))
            return 0
        c.subscribe(a.subject)
        c.flush()
        if c.errors:
            print("error: " + "; ".join(c.errors), file=sys.stderr)
            return 1
        try:
            while True:
                try:
                    m = c.next_msg(timeout=3600)
                except Timeout:
                    continue
                hdr = " " + json.dumps(m.headers) if m.headers else ""
                print("[%s]%s%s %d bytes: %r" % (m.subject, " reply=" + m.reply if m.reply else "",
                                                 hdr, len(m.data), m.data[:200]), flush=True)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
