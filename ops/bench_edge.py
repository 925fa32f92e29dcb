"""ops/bench_edge.py - what one edge-ws costs when clients misbehave or idle.

A private stack with only nats-server and one edge-ws (the release build
by default; no database: tokens are signed here with the stack's key, and
pushes are published on im.user.<uid>.push the way the msg pool fans
out).  Everything on 127.0.0.1, bounded in sockets and seconds.

  noread  N sockets that never read a byte while P pushes of B bytes each
          arrive for every one of them: the edge's RSS before, at its peak,
          after; how many of them the edge closed with 1008 (slow reader).
          Issue 11 item 6: memory must stay bounded.
  push    N sockets that read everything while pushes arrive at RATE per
          second in all: edge CPU-ms per 1,000 frames delivered (the edge
          alone: no msg pool, no database).
  idle    N sockets, each sending {"op":"ping"} every PERIOD s (spread
          evenly) and reading the pong: edge CPU (% of one core, from
          /proc utime+stime) and RSS per socket over the run.

    /usr/bin/python3 ops/bench_edge.py noread --sockets 1000 --pushes 300 --rate 10000
    /usr/bin/python3 ops/bench_edge.py idle --sockets 5000 --period 30 --seconds 60
    /usr/bin/python3 ops/bench_edge.py push --sockets 1000 --rate 2000 --seconds 10
"""
import argparse
import asyncio
import base64
import json
import os
import resource
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "stack"))

import harness  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, utils  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def signer(key_path):
    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)

    def token(uid, sid):
        now = int(time.time())
        head = b64u(json.dumps({"alg": "ES256", "typ": "JWT"}).encode())
        body = b64u(json.dumps({"iss": "natter", "sub": uid, "sid": sid, "iat": now,
                                "exp": now + 3600}).encode())
        der = key.sign((head + "." + body).encode(), ec.ECDSA(hashes.SHA256()))
        r, s = utils.decode_dss_signature(der)
        return head + "." + body + "." + b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    return token


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tcp_mem_pages():
    """Pages the kernel holds in TCP buffers, all sockets (/proc/net/sockstat)."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                parts = line.split()
                return int(parts[parts.index("mem") + 1])
    return 0


# -- a minimal WebSocket client on asyncio streams ------------------------

def frame(payload, opcode=1):
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else
                                      bytes([0x80 | 126]) + struct.pack("!H", n))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def ws_open(port, token, rcvbuf=None, src=None):
    """Connect and upgrade; returns (reader, writer) after the 101."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if src:
        sock.bind((src, 0))
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
    key = b64u(os.urandom(16)) + "=="
    writer.write(("GET /ws?token=%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n" % (token, key)).encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError("upgrade refused: %r" % head[:80])
    return reader, writer


async def read_frame(reader):
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    return b0 & 0x0F, await reader.readexactly(n)


# -- scenarios --------------------------------------------------------------

def pb_str(num, s):
    b = s.encode() if isinstance(s, str) else s
    return _varint(num << 3 | 2) + _varint(len(b)) + b


def _varint(n):
    out = b""
    while True:
        if n < 0x80:
            return out + bytes([n])
        out += bytes([n & 0x7F | 0x80])
        n >>= 7


def push_payload(i, body):
    msg = (pb_str(1, "nr%d" % i) + pb_str(2, "cnoread") + bytes([3 << 3]) + _varint(i + 1)
           + pb_str(4, "someone") + pb_str(5, "m%d" % i) + pb_str(6, "text") + pb_str(7, body))
    return pb_str(1, "message") + pb_str(2, msg)


async def open_all(port, tokens, rcvbuf=None, parallel=200):
    sem = asyncio.Semaphore(parallel)
    srcs = ["127.0.0.%d" % (2 + i // 20000) for i in range(len(tokens))]

    async def one(i):
        async with sem:
            r, w = await ws_open(port, tokens[i], rcvbuf, srcs[i])
            op, data = await read_frame(r)          # hello
            if op != 1 or b'"hello"' not in data:
                raise RuntimeError("no hello: %r" % data[:80])
            return r, w
    return await asyncio.gather(*(one(i) for i in range(len(tokens))))


async def noread(stack, edge, opt):
    token = signer(stack.private_key)
    uids = ["nr%05d" % i for i in range(opt.sockets)]
    tokens = [token(u, "s" + u) for u in uids]
    rss0 = proc_rss_kb(edge.pid)
    conns = await open_all(edge.port, tokens, rcvbuf=4096)
    rss_open = proc_rss_kb(edge.pid)
    print("noread: %d sockets open, edge_rss_kb before=%d open=%d" % (len(conns), rss0, rss_open),
          flush=True)
    body = "x" * opt.bytes
    peak, t0 = rss_open, time.monotonic()
    round_s = opt.sockets / opt.rate if opt.rate > 0 else 0
    with stack.nats("msg") as pool:
        for k in range(opt.pushes):
            for u in uids:
                pool.publish("im.user.%s.push" % u, push_payload(k, body))
            pool.flush()
            peak = max(peak, proc_rss_kb(edge.pid))
            late = t0 + (k + 1) * round_s - time.monotonic()
            if late > 0:
                time.sleep(late)
    for _ in range(int(opt.settle * 10)):
        await asyncio.sleep(0.1)
        peak = max(peak, proc_rss_kb(edge.pid))
    after = proc_rss_kb(edge.pid)
    t_pub = time.monotonic() - t0
    tcp_mem_kb = tcp_mem_pages() * 4

    # Who was closed: read what is there now (1008 after the queued frames).
    async def close_code(r):
        try:
            while True:
                op, data = await read_frame(r)
                if op == 8:
                    return struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
    tasks = [asyncio.ensure_future(close_code(r)) for r, _ in conns]
    done, pending = await asyncio.wait(tasks, timeout=10)
    for t in pending:
        t.cancel()
    closed = sum(1 for t in done if t.result() == 1008)
    for _, w in conns:
        w.close()
    print("noread: sockets=%d pushes_each=%d bytes_each=%d published=%d in %.1f s (with %g s settle)"
          % (opt.sockets, opt.pushes, opt.bytes, opt.sockets * opt.pushes, t_pub, opt.settle))
    print("noread: edge_rss_kb open=%d peak=%d after=%d peak_per_socket_kb=%.1f closed_1008=%d "
          "kernel_tcp_mem_kb=%d" % (rss_open, peak, after, (peak - rss0) / max(1, opt.sockets),
                                    closed, tcp_mem_kb))


async def push(stack, edge, opt):
    """Pushes to N reading sockets at a fixed total rate: the edge's CPU per
    1,000 frames delivered, without the msg pool or the database."""
    token = signer(stack.private_key)
    uids = ["pu%05d" % i for i in range(opt.sockets)]
    conns = await open_all(edge.port, [token(u, "s" + u) for u in uids])
    got = [0]

    async def reader(r):
        try:
            while True:
                op, _ = await read_frame(r)
                got[0] += op == 1
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
    readers = [asyncio.ensure_future(reader(r)) for r, _ in conns]
    body = "x" * opt.bytes
    total = int(opt.rate * opt.seconds)
    cpu0, t0 = proc_cpu_s(edge.pid), time.monotonic()
    with stack.nats("msg") as pool:
        for k in range(total):
            pool.publish("im.user.%s.push" % uids[k % len(uids)], push_payload(k, body))
            if k % 100 == 99:
                late = t0 + (k + 1) / opt.rate - time.monotonic()
                if late > 0:
                    await asyncio.sleep(late)
                else:
                    await asyncio.sleep(0)
        pool.flush()
    while got[0] < total and time.monotonic() < t0 + opt.seconds + 10:
        await asyncio.sleep(0.05)
    cpu1, t1 = proc_cpu_s(edge.pid), time.monotonic()
    for t in readers:
        t.cancel()
    print("push: sockets=%d rate=%g seconds=%.1f pushed=%d delivered=%d edge_cpu_ms=%.0f "
          "edge_cpu_ms_per_1k=%.1f edge_core_pct=%.1f"
          % (opt.sockets, opt.rate, t1 - t0, total, got[0], 1000 * (cpu1 - cpu0),
             1e6 * (cpu1 - cpu0) / max(1, got[0]), 100 * (cpu1 - cpu0) / (t1 - t0)))
    for _, w in conns:
        w.close()


async def idle(stack, edge, opt):
    token = signer(stack.private_key)
    tokens = [token("id%05d" % i, "sid%05d" % i) for i in range(opt.sockets)]
    rss0 = proc_rss_kb(edge.pid)
    conns = await open_all(edge.port, tokens)
    rss1 = proc_rss_kb(edge.pid)
    print("idle: %d sockets, edge_rss_kb before=%d after=%d per_socket_bytes=%.0f"
          % (len(conns), rss0, rss1, (rss1 - rss0) * 1024 / max(1, len(conns))), flush=True)
    pongs = [0]
    stop = time.monotonic() + opt.seconds
    ping = frame(b'{"op":"ping"}')

    async def client(i, r, w):
        await asyncio.sleep(opt.period * i / len(conns))
        while time.monotonic() < stop:
            w.write(ping)
            op, data = await read_frame(r)
            pongs[0] += op == 1
            await asyncio.sleep(max(0, min(opt.period, stop - time.monotonic())))
    cpu0, t0 = proc_cpu_s(edge.pid), time.monotonic()
    await asyncio.gather(*(client(i, r, w) for i, (r, w) in enumerate(conns)))
    cpu1, t1 = proc_cpu_s(edge.pid), time.monotonic()
    print("idle: sockets=%d period_s=%g seconds=%.0f pongs=%d edge_cpu_pct=%.2f edge_rss_kb=%d"
          % (len(conns), opt.period, t1 - t0, pongs[0], 100 * (cpu1 - cpu0) / (t1 - t0),
             proc_rss_kb(edge.pid)))
    for _, w in conns:
        w.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("noread", "idle", "push"))
    ap.add_argument("--natter", default=os.path.join(ROOT, "build", "natter"))
    ap.add_argument("--sockets", type=int, default=1000)
    ap.add_argument("--pushes", type=int, default=300, help="noread: pushes per socket")
    ap.add_argument("--bytes", type=int, default=1000, help="noread: body bytes per push")
    ap.add_argument("--rate", type=float, default=10000, help="noread: pushes/s in all (0: flat out)")
    ap.add_argument("--settle", type=float, default=5, help="noread: seconds after the pushes")
    ap.add_argument("--period", type=float, default=30, help="idle: seconds between pings")
    ap.add_argument("--seconds", type=float, default=60, help="idle, push: run length")
    opt = ap.parse_args()
    os.environ["NATTER_BIN"] = opt.natter
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    stack = harness.Stack(services=("nats",), env={
        "NATTER_LOG_LEVEL": "warn", "NATTER_WS_IDLE_TIMEOUT_S": "600",
        "NATTER_WS_MAX_CONNS_PER_ADDR": "0", "NATTER_WS_PRESENCE_HEARTBEAT_S": "0"})
    try:
        stack.serve_no_ip_rules()     # no auth pool: the edge's IP rules are empty
        edge = stack.start_role("edge-ws")
        run = {"noread": noread, "idle": idle, "push": push}[opt.mode]
        asyncio.run(run(stack, edge, opt))
    except BaseException:
        stack.failed = True
        raise
    finally:
        stack.close()


if __name__ == "__main__":
    main()
