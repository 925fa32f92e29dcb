"""wsclient.py - a minimal WebSocket client (RFC 6455) for the stack tests.

Python standard library only.  Enough to test edge-ws: the handshake,
masked client frames (text, binary, ping, close, continuation), reading
text frames, answering server pings, and reading the close code.

    ws = WsClient.connect("127.0.0.1", port, "/ws?token=...")
    ws.send_json({"op": "ping", "rid": "1"})
    ws.recv_json()          # {"op": "pong", "rid": "1"}
    ws.close_code           # set once the server closed (None before)
"""

import base64
import hashlib
import json
import os
import queue
import socket
import struct
import threading
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class WsClosed(Exception):
    """The server closed the socket; .code is the close code (None if the
    TCP connection ended without a close frame)."""

    def __init__(self, code, reason=b""):
        super().__init__("closed with %r %r" % (code, reason))
        self.code = code
        self.reason = reason


class HandshakeError(Exception):
    pass


class WsClient:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.close_code = None
        self.closed = False

    @classmethod
    def connect(cls, host, port, path, timeout=5.0, source=None, headers=None):
        """source: the local address to connect from (another client
        address on loopback, e.g. "127.0.0.2"); headers: extra request
        headers.  HandshakeError carries the status line of a refusal."""
        sock = socket.create_connection((host, port), timeout=timeout,
                                        source_address=(source, 0) if source else None)
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n%s"
               "Sec-WebSocket-Version: 13\r\n\r\n" % (path, host, port, key, extra))
        sock.sendall(req.encode())
        c = cls(sock)
        head = c._read_until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if not lines[0].startswith("HTTP/1.1 101"):
            sock.close()
            raise HandshakeError(lines[0])
        headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != want:
            sock.close()
            raise HandshakeError("bad Sec-WebSocket-Accept")
        return c

    # -- low level ---------------------------------------------------------

    def _read_until(self, marker):
        while marker not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise WsClosed(None)
            self.buf += data
        head, _, self.buf = self.buf.partition(marker)
        return head

    def _read_exact(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                self.closed = True
                raise WsClosed(self.close_code)
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send_frame(self, opcode, payload, fin=True):
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        b0 = (0x80 if fin else 0) | opcode
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", b0, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", b0, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def recv_frame(self):
        """One frame -> (fin, opcode, payload bytes)."""
        b0, b1 = self._read_exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read_exact(8))[0]
        if b1 & 0x80:
            raise ValueError("server frames must not be masked")
        return bool(b0 & 0x80), b0 & 0x0F, self._read_exact(n)

    # -- messages ----------------------------------------------------------

    def send_text(self, text):
        self.send_frame(OP_TEXT, text)

    def send_json(self, obj):
        self.send_text(json.dumps(obj))

    def recv(self, timeout=5.0):
        """The next text message (str); answers pings; raises WsClosed on a
        close frame (after answering it) or end of stream, socket.timeout
        when nothing arrives in time."""
        self.sock.settimeout(timeout)
        parts = []
        while True:
            fin, op, payload = self.recv_frame()
            if op == OP_PING:
                self.send_frame(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                try:
                    self.send_frame(OP_CLOSE, payload[:2])
                except OSError:
                    pass
                self.closed = True
                raise WsClosed(self.close_code, payload[2:])
            parts.append(payload)
            if fin:
                return b"".join(parts).decode("utf-8")

    def recv_json(self, timeout=5.0):
        return json.loads(self.recv(timeout))

    def recv_op(self, op, timeout=5.0):
        """Skip frames until one with this op (returns it)."""
        while True:
            m = self.recv_json(timeout)
            if m.get("op") == op:
                return m

    def close(self, code=1000):
        try:
            if not self.closed:
                self.send_frame(OP_CLOSE, struct.pack("!H", code))
        except OSError:
            pass
        self.sock.close()
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class WsReader:
    """Reads every text frame of one WsClient on its own thread, so a test
    can send on many sockets while all of them keep draining (an edge closes
    a client that does not read: ws.max_outq).  Frames are decoded JSON,
    kept in .frames in arrival order and also handed out by next().  The
    socket is read with no timeout (a timeout in the middle of a frame would
    lose its header); stop() ends the thread with a close handshake.
    Only the reader thread reads; other threads may send on ws."""

    def __init__(self, ws):
        self.ws = ws
        self.frames = []
        self.queue = queue.Queue()
        self.cond = threading.Condition()
        self.done = False
        self.error = None        # what ended the thread, if not a close
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while True:
                obj = json.loads(self.ws.recv(timeout=None))
                with self.cond:
                    self.frames.append(obj)
                    self.cond.notify_all()
                self.queue.put(obj)
        except WsClosed:
            pass
        except (OSError, ValueError) as e:
            self.error = e
        finally:
            with self.cond:
                self.done = True
                self.cond.notify_all()
            self.queue.put(None)

    def next(self, timeout=5.0):
        """The next frame not yet taken by next(); None at end of stream;
        raises queue.Empty after timeout."""
        return self.queue.get(timeout=timeout)

    def wait(self, pred, timeout=5.0):
        """Wait until pred(frames) is true (pred sees the list under the
        lock); returns its last value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                v = pred(self.frames)
                left = deadline - time.monotonic()
                if v or self.done or left <= 0:
                    return v
                self.cond.wait(left)

    def of(self, op):
        """A copy of the frames with this op, in arrival order."""
        with self.cond:
            return [f for f in self.frames if f.get("op") == op]

    def stop(self, timeout=5.0):
        """Close the socket (handshake read by the thread) and join."""
        if not self.ws.closed:
            try:
                self.ws.send_frame(OP_CLOSE, struct.pack("!H", 1000))
            except OSError:
                pass
        self.thread.join(timeout)
        if self.thread.is_alive():
            try:
                self.ws.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.thread.join(timeout)
        self.ws.sock.close()
        self.ws.closed = True
