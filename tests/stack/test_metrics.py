"""test_metrics.py - /metrics of every role, ops/monitoring, and the log
trail of one message (issue 13 section 4; docs/operations.md "Metrics",
"Monitoring", "Logs").

One stack: auth, msg, presence, media (each with an ops port), edge-http
and two edge-ws.  Checked:
- every role's /metrics parses as Prometheus text (a strict parser below:
  HELP/TYPE before samples, one TYPE per family, names and labels well
  formed, no series twice, counters named *_total, histogram buckets
  cumulative and ending at +Inf = _count) and has the process metrics and
  natter_info with its role;
- the counters move with traffic by what the traffic was: sends in,
  messages stored, pushes queued and acked (the ack latency histogram
  counts them), connects, closes by code and by whom, auth failures,
  frames out by op, the pools' request counters;
- every metric name the Grafana dashboard and the alert rules use is
  exported by some role, and prometheus.yml scrapes every role;
- the parser itself refuses broken text (so the first check can fail);
- logs: every line of every role has svc=, inst= and trace=; one
  message's trace id is found in the sender's edge-ws log, in the msg
  pool's (stored, pushed, answered, with uid, message id, client_msg_id),
  and in the receiving edge's push line with its message id; a REST send
  the same way from edge-http's line (uid, sid) to the push.
Cost: ~20-30 s with the stack on a loaded 2-core machine.
"""
import glob
import json
import os
import re
import time
import unittest

from harness import Api, StackTestCase, free_port, http_request, unique_name
from wsclient import WsClient, WsClosed

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MONITORING = os.path.join(ROOT, "ops", "monitoring")
POOLS = ("auth", "msg", "presence", "media")

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"'
SAMPLE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*)?\})? (\S+)(?: -?\d+)?$" % (NAME, LABEL, LABEL))
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"')
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class ParseError(ValueError):
    pass


def parse_exposition(text):
    """Prometheus text format 0.0.4 -> {family: {"type", "samples":
    {(name, labels tuple): value}}}.  Raises ParseError on anything a
    strict scraper would refuse or that breaks the conventions we keep."""
    fams, current = {}, None
    for n, line in enumerate(text.split("\n"), 1):
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not re.fullmatch(NAME, name):
                    raise ParseError("line %d: bad name %r" % (n, name))
                fam = fams.setdefault(name, {"type": None, "help": None, "samples": {}})
                if parts[1] == "TYPE":
                    if fam["type"] is not None:
                        raise ParseError("line %d: second TYPE for %s" % (n, name))
                    if fam["samples"]:
                        raise ParseError("line %d: TYPE after samples of %s" % (n, name))
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise ParseError("line %d: bad TYPE %r" % (n, line))
                    fam["type"] = parts[3]
                else:
                    if fam["help"] is not None:
                        raise ParseError("line %d: second HELP for %s" % (n, name))
                    fam["help"] = parts[3] if len(parts) == 4 else ""
                current = name
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ParseError("line %d: not a sample: %r" % (n, line))
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        try:
            v = float(value)
        except ValueError:
            raise ParseError("line %d: bad value %r" % (n, value))
        fam_name = name
        if current and name != current:
            for suffix in ("_bucket", "_sum", "_count"):
                if name == current + suffix and fams[current]["type"] in ("histogram", "summary"):
                    fam_name = current
        fam = fams.get(fam_name)
        if fam is None or fam["type"] is None or fam_name != current:
            raise ParseError("line %d: sample of %s without its TYPE just before" % (n, name))
        pairs = tuple(LABEL_RE.findall(labels))
        if len({k for k, _ in pairs}) != len(pairs):
            raise ParseError("line %d: a label twice" % n)
        key = (name, pairs)
        if key in fam["samples"]:
            raise ParseError("line %d: series twice: %s{%s}" % (n, name, labels))
        fam["samples"][key] = v
    for name, fam in fams.items():
        if fam["type"] is None:
            raise ParseError("%s: HELP without TYPE" % name)
        if fam["type"] == "counter" and not name.endswith("_total"):
            raise ParseError("%s: a counter not named *_total" % name)
        if fam["type"] == "histogram":
            check_histogram(name, fam)
    return fams


def check_histogram(name, fam):
    series = {}
    for (sname, pairs), v in fam["samples"].items():
        base = tuple(p for p in pairs if p[0] != "le")
        s = series.setdefault(base, {"buckets": [], "sum": None, "count": None})
        if sname == name + "_bucket":
            le = dict(pairs).get("le")
            if le is None:
                raise ParseError("%s: bucket without le" % name)
            s["buckets"].append((float("inf") if le == "+Inf" else float(le), v))
        elif sname == name + "_sum":
            s["sum"] = v
        elif sname == name + "_count":
            s["count"] = v
        else:
            raise ParseError("%s: stray sample %s" % (name, sname))
    for base, s in series.items():
        b = sorted(s["buckets"])
        if not b or b[-1][0] != float("inf") or s["count"] is None or s["sum"] is None:
            raise ParseError("%s%r: needs +Inf bucket, _sum and _count" % (name, base))
        if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            raise ParseError("%s%r: buckets not cumulative" % (name, base))
        if b[-1][1] != s["count"]:
            raise ParseError("%s%r: +Inf bucket != _count" % (name, base))


def value(fams, name, **labels):
    """Sum of the samples of name whose labels include these."""
    total, found = 0.0, False
    for fam in fams.values():
        for (sname, pairs), v in fam["samples"].items():
            d = dict(pairs)
            if sname == name and all(d.get(k) == want for k, want in labels.items()):
                total += v
                found = True
    return total if found else None


def exported_names(fams):
    names = set(fams)
    for name, fam in fams.items():
        if fam["type"] == "histogram":
            names |= {name + "_bucket", name + "_sum", name + "_count"}
    return names


def names_used(text):
    """natter_* and process_* identifiers in PromQL text."""
    return set(re.findall(r"\b((?:natter|process)_[a-zA-Z0-9_]+)\b", text))


class ParserTest(unittest.TestCase):
    """The checks below rest on this parser: it must refuse what is wrong."""

    GOOD = ('# HELP a_total x\n# TYPE a_total counter\na_total{k="v"} 1\n'
            '# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\n'
            'h_sum 3\nh_count 2\n')

    def test_good_text_parses(self):
        fams = parse_exposition(self.GOOD)
        self.assertEqual(value(fams, "a_total", k="v"), 1)
        self.assertEqual(value(fams, "h_count"), 2)

    def test_broken_text_is_refused(self):
        bad = [
            "a_total 1\n",                                             # no TYPE
            "# TYPE a counter\na 1\n",                                 # counter not *_total
            "# TYPE a_total counter\na_total{k=\"v\"} x\n",            # bad value
            "# TYPE a_total counter\na_total{k=v} 1\n",                # unquoted label
            "# TYPE a_total counter\na_total 1\na_total 2\n",          # series twice
            "# TYPE a_total counter\n# TYPE a_total counter\n",        # TYPE twice
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",   # no +Inf
            "# TYPE g gauge\ng 1\n# TYPE h gauge\nh 1\ng 2\n",         # family split
        ]
        for text in bad:
            with self.assertRaises(ParseError, msg=text):
                parse_exposition(text)


class MetricsTest(StackTestCase):

    @classmethod
    def start_roles(cls):
        cls.urls = {}
        for role in POOLS:
            port = free_port(cls.stack.ports)
            cls.stack.start_role(role, {"NATTER_OPS_HTTP_PORT": str(port)})
            cls.urls[role] = "http://127.0.0.1:%d" % port
        env = {"NATTER_NATS_REQUEST_TIMEOUT_MS": "5000"}
        http = cls.stack.start_role("edge-http", env)
        cls.urls["edge-http"] = http.url
        cls.api = Api(http.url)
        cls.wa = cls.stack.start_role("edge-ws", env)
        cls.wb = cls.stack.start_role("edge-ws", env)
        cls.urls["edge-ws"] = cls.wa.url
        cls.urls["edge-ws-b"] = cls.wb.url

    def scrape(self, key):
        status, headers, body = http_request(self.urls[key], "GET", "/metrics", timeout=5)
        self.assertEqual(status, 200, key)
        try:
            return parse_exposition(body.decode())
        except ParseError as e:
            self.fail("%s /metrics: %s" % (key, e))

    def user(self):
        name = unique_name("mt")
        self.assertEqual(self.api.register(name).status, 201)
        r = self.api.login(name)
        self.assertEqual(r.status, 200, r)
        return r.json["user"]["id"], r.json["access_token"]

    def open(self, edge, token):
        ws = WsClient.connect("127.0.0.1", edge.port, "/ws?token=" + token)
        self.addCleanup(ws.close)
        self.assertEqual(ws.recv_json()["op"], "hello")
        return ws

    def pair(self):
        (ua, ta), (ub, tb) = self.user(), self.user()
        r = self.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": ub},
                          token=ta)
        self.assertEqual(r.status, 201, r)
        return (ua, ta), (ub, tb), r.json["conversation"]["id"]

    def wait_value(self, key, name, want, timeout=5.0, **labels):
        deadline = time.monotonic() + timeout
        while True:
            v = value(self.scrape(key), name, **labels) or 0
            if v >= want or time.monotonic() > deadline:
                return v
            time.sleep(0.1)

    def test_every_role_serves_valid_metrics(self):
        for key in list(self.urls):
            fams = self.scrape(key)
            role = "edge-ws" if key.startswith("edge-ws") else key
            for name in ("process_resident_memory_bytes", "process_cpu_seconds_total",
                         "process_open_fds", "process_max_fds", "natter_nats_reconnects_total",
                         "natter_nats_request_timeouts_total"):
                self.assertIn(name, fams, "%s lacks %s" % (key, name))
            self.assertGreater(value(fams, "process_resident_memory_bytes"), 1 << 20, key)
            self.assertGreater(value(fams, "process_open_fds"), 3, key)
            self.assertGreaterEqual(value(fams, "process_max_fds"),
                                    value(fams, "process_open_fds"), key)
            self.assertEqual(value(fams, "natter_info", role=role), 1, key)
            self.assertEqual(value(fams, "natter_nats_connected"), 1, key)
        self.assertIn("natter_msg_batch_size", self.scrape("msg"))
        self.assertIn("natter_presence_sessions", self.scrape("presence"))
        self.assertIn("natter_ws_push_ack_seconds", self.scrape("edge-ws"))

    def test_counters_move_with_traffic(self):
        (ua, ta), (ub, tb), cid = self.pair()
        before = {k: self.scrape(k) for k in ("edge-ws", "edge-ws-b", "msg", "presence")}
        a = self.open(self.wa, ta)
        b = self.open(self.wb, tb)
        n = 5
        for i in range(n):
            a.send_json({"op": "send", "rid": "r%d" % i, "conversation_id": cid,
                         "client_msg_id": "mt-%s-%d" % (cid, i), "type": "text", "body": "m%d" % i})
            self.assertEqual(a.recv_op("sent")["rid"], "r%d" % i)
        last = 0
        for _ in range(n):
            push = b.recv_op("message")["message"]
            last = max(last, push["seq"])
        b.send_json({"op": "ack", "conversation_id": cid, "seq": last})
        b.send_json({"op": "ping", "rid": "p"})
        self.assertEqual(b.recv_op("pong")["rid"], "p")      # the ack was read before the ping

        wa, wb, msg = self.scrape("edge-ws"), self.scrape("edge-ws-b"), self.scrape("msg")
        d = lambda fams, key, name, **l: (value(fams, name, **l) or 0) - (value(before[key], name, **l) or 0)
        self.assertEqual(d(wa, "edge-ws", "natter_ws_frames_in_total", op="send"), n)
        self.assertEqual(d(wa, "edge-ws", "natter_ws_frames_out_total", op="sent"), n)
        self.assertEqual(d(wa, "edge-ws", "natter_ws_connects_total"), 1)
        self.assertEqual(d(wb, "edge-ws-b", "natter_ws_connects_total"), 1)
        self.assertEqual(value(wb, "natter_ws_connections"), 1)
        self.assertEqual(d(wb, "edge-ws-b", "natter_ws_frames_in_total", op="ack"), 1)
        self.assertEqual(d(wb, "edge-ws-b", "natter_ws_frames_out_total", op="message"), n)
        self.assertEqual(d(wb, "edge-ws-b", "natter_ws_message_pushes_total"), n)
        self.assertEqual(d(wb, "edge-ws-b", "natter_ws_push_ack_seconds_count"), n)
        self.assertEqual(value(wb, "natter_ws_push_unacked"), 0)
        self.assertEqual(d(msg, "msg", "natter_msg_writes_total"), n)
        self.assertEqual(d(msg, "msg", "natter_requests_total", service="msg", endpoint="send"), n)
        self.assertGreaterEqual(d(msg, "msg", "natter_msg_batch_size_count"), 1)
        self.assertEqual(d(msg, "msg", "natter_msg_batch_size_sum"), n)
        self.assertGreaterEqual(d(msg, "msg", "natter_msg_commit_seconds_count"), 1)
        self.assertGreater(d(msg, "msg", "natter_msg_loop_busy_seconds_total"), 0)
        self.assertGreater(value(msg, "natter_nats_messages_out_total"), 0)
        self.assertEqual(value(msg, "natter_msg_send_queue_depth", worker="0"), 0)
        # presence: both users have a session now (edges report on connect)
        self.assertGreaterEqual(self.wait_value("presence", "natter_presence_sessions", 2), 2)
        self.assertGreaterEqual(value(self.scrape("presence"), "natter_presence_users_online"), 2)

        # closes by code and by whom; an auth failure
        closes = value(wb, "natter_ws_closes_total", code="1000", by="client") or 0
        b.close(1000)
        self.assertEqual(self.wait_value("edge-ws-b", "natter_ws_closes_total", closes + 1,
                                         code="1000", by="client"), closes + 1)
        fails = value(wa, "natter_ws_auth_failures_total")
        bad = WsClient.connect("127.0.0.1", self.wa.port, "/ws?token=not-a-token")
        self.addCleanup(bad.close)
        with self.assertRaises(WsClosed) as cm:
            bad.recv_json()
        self.assertEqual(cm.exception.code, 4001)
        after = self.scrape("edge-ws")
        self.assertEqual(value(after, "natter_ws_auth_failures_total"), fails + 1)
        self.assertGreaterEqual(value(after, "natter_ws_closes_total", code="4001", by="server"), 1)

    def test_dashboard_and_alerts_use_exported_names(self):
        exported = set()
        for key in self.urls:
            exported |= exported_names(self.scrape(key))
        with open(os.path.join(MONITORING, "grafana-natter.json")) as f:
            dash = json.load(f)
        exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
        self.assertGreater(len(exprs), 20)
        used = set()
        for e in exprs:
            used |= names_used(e)
        with open(os.path.join(MONITORING, "alerts.yml")) as f:
            alerts = f.read()
        for want in ("natter_ws_push_ack_seconds_bucket", "natter_info", "process_open_fds",
                     "natter_ws_message_pushes_total"):
            self.assertIn(want, alerts)
        used |= names_used(alerts)
        self.assertGreater(len(used), 30)
        missing = sorted(used - exported)
        self.assertEqual(missing, [], "used by the dashboard or alerts but exported by no role")
        # every role is scraped, each by its own job
        with open(os.path.join(MONITORING, "prometheus.yml")) as f:
            prom = f.read()
        for role in ("edge-http", "edge-ws") + POOLS:
            self.assertRegex(prom, r"job_name: natter-%s\n" % role)
        self.assertIn("alerts.yml", prom)

    def test_log_lines_follow_a_message(self):
        (ua, ta), (ub, tb), cid = self.pair()
        a = self.open(self.wa, ta)
        b = self.open(self.wb, tb)
        cmid = "trail-%s" % cid
        a.send_json({"op": "send", "rid": "t", "conversation_id": cid, "client_msg_id": cmid,
                     "type": "text", "body": "follow me"})
        sent = a.recv_op("sent")["message"]
        mid = sent["id"]
        self.assertEqual(b.recv_op("message")["message"]["id"], mid)
        msg_log = self.role_log("msg")

        def stored():
            for line in self.lines(msg_log):
                if 'msg="message stored"' in line and "cmid=%s " % cmid in line:
                    return line
        line = self.until(stored)
        self.assertIsNotNone(line, "no 'message stored' line for %s" % cmid)
        trace = re.search(r" trace=([0-9a-f]{32})\b", line).group(1)
        self.assertIn("msg_id=%s " % mid, line)
        self.assertIn("uid=%s " % ua, line)
        # one grep of the trace id: the sender's edge, the pool, the receiver's edge
        by_role = {}
        for path in glob.glob(os.path.join(os.path.dirname(msg_log), "*.log")):
            for l in self.lines(path):
                if trace in l:
                    by_role.setdefault(re.search(r" svc=(\S+)", l).group(1), []).append(l)
        self.assertTrue(any('msg="ws send"' in l and "uid=%s " % ua in l and " sid=" in l
                            for l in by_role.get("edge-ws", [])), by_role)
        self.assertTrue(any('msg="message pushed"' in l and "to=%s " % ub in l
                            for l in by_role.get("msg", [])), by_role)
        self.assertTrue(any('msg="message answered"' in l for l in by_role.get("msg", [])), by_role)
        self.assertTrue(any('msg="push delivered"' in l and "msg_id=%s " % mid in l and
                            "uid=%s " % ub in l for l in by_role.get("edge-ws", [])), by_role)
        # the receiving edge is the other process: its own instance id
        insts = {re.search(r" inst=(\S+)", l).group(1) for l in by_role["edge-ws"]}
        self.assertEqual(len(insts), 2, by_role["edge-ws"])

    def test_log_lines_follow_a_rest_send(self):
        (ua, ta), (ub, tb), cid = self.pair()
        b = self.open(self.wb, tb)
        cmid = "rest-trail-%s" % cid
        r = self.api.call("POST", "/api/messages", {"conversation_id": cid, "client_msg_id": cmid,
                                                    "type": "text", "body": "by REST"}, token=ta)
        self.assertEqual(r.status, 201, r)
        mid = r.json["message"]["id"]
        self.assertEqual(b.recv_op("message")["message"]["id"], mid)
        line = self.until(lambda: next((l for l in self.lines(self.role_log("msg"))
                                        if "cmid=%s " % cmid in l), None))
        self.assertIsNotNone(line)
        trace = re.search(r" trace=([0-9a-f]{32})\b", line).group(1)
        http = [l for l in self.lines(self.role_log("edge-http")) if "trace=%s" % trace in l]
        self.assertTrue(any('msg="http"' in l and "uid=%s " % ua in l and
                            re.search(r" sid=[0-9a-zA-Z_-]{4,} ", l) for l in http), http)
        pushed = self.until(lambda: [l for path in (self.wa.log_path, self.wb.log_path)
                                     for l in self.lines(path)
                                     if 'msg="push delivered"' in l and "trace=%s" % trace in l])
        self.assertTrue(any("uid=%s " % ub in l and "msg_id=%s " % mid in l for l in pushed), pushed)

    def test_every_log_line_has_service_instance_trace(self):
        self.api.call("GET", "/api/me")          # a line with a request's trace at least
        paths = [p.log_path for p in self.stack.procs if p.role]
        self.assertGreaterEqual(len(paths), 7)
        n = 0
        for path in paths:
            for line in self.lines(path):
                if not line.startswith("ts="):
                    continue                     # sanitizer or library output
                n += 1
                self.assertRegex(line, r" level=\w+ svc=[a-z-]+ inst=\S+ msg=\"", line)
                self.assertRegex(line, r" trace=(-|[0-9a-f]{32})(\s|$)", line)
        self.assertGreater(n, 50)

    def role_log(self, role):
        procs = [p for p in self.stack.procs if p.role == role]
        self.assertTrue(procs, role)
        return procs[0].log_path

    @staticmethod
    def lines(path):
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").splitlines()

    @staticmethod
    def until(fn, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v or time.monotonic() > deadline:
                return v
            time.sleep(0.1)


if __name__ == "__main__":
    unittest.main()
