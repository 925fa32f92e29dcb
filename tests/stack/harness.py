"""harness.py - start a whole natter stack for one test class, tear it down.

A Stack owns a temporary directory with everything in it: an ES256 key
pair, per-user NATS passwords, nats-server (config/nats-server.conf, the
same file ops/up uses), redis-server and mariadbd on free loopback ports,
and the natter role processes a test starts.  Every child runs in its own
process group (so teardown reaches anything it forked) and gets SIGKILL if
the test runner dies (PR_SET_PDEATHSIG), so a crashed or interrupted run
leaves nothing behind.  Stack.close() is idempotent and also runs at exit.

Python 3 standard library only; run with /usr/bin/python3.

    stack = Stack()                       # nats + redis + mariadb + migrate
    auth = stack.start_role("auth")       # waits for $SRV.PING.auth from it
    edge = stack.start_role("edge-http")  # waits for /healthz
    ws = stack.start_role("edge-ws")      # waits for /healthz on its WS port
    media = stack.start_role("media")     # files under stack.media_root
    edge.url                              # http://127.0.0.1:<port>
    auth.kill(signal.SIGTERM); auth.wait(10)
    stack.close()

A NATS cluster instead of one server (natscluster.py writes the node
configurations, as for ops/cluster):

    stack = Stack(nats_nodes=3)           # 3 nodes with routes between them
    stack.start_role("msg", node=1)       # homed on node 1, its URL list
                                          # names all three (node 1 first)
    stack.start_role("edge-ws")           # no node: the next one, round robin
    stack.restart_server("nats-1")        # kill -9 node 1, start it again
    stack.nats_monitor(2, "/routez")      # node 2's monitoring page, decoded

Environment:
    NATTER_BIN         the natter binary (run.py sets it from --natter)
    NATTER_KEEP_STACK  keep the temporary directory after close (debugging)
"""

import atexit
import ctypes
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import natscluster  # noqa: E402
from natsclient import Client, NatsError  # noqa: E402

# Every NATS user in config/nats-server.conf (ops/lib.sh NATS_USERS).
NATS_USERS = ("edge", "auth", "msg", "presence", "media", "ops")

# Fast argon2 for tests: the production cost (19 MiB, t=2) would make the
# suite slow under AddressSanitizer and prove nothing more.
FAST_ARGON2 = {"NATTER_AUTH_ARGON2_M_KIB": "1024", "NATTER_AUTH_ARGON2_T_COST": "1"}

READY_TIMEOUT = float(os.environ.get("NATTER_READY_TIMEOUT", "30"))


def nats_user_for_role(role):
    """The NATS user a role connects as (ops/lib.sh nats_user_for_role)."""
    if role.startswith("edge-"):
        return "edge"
    if role == "trace":
        return "ops"
    return role


def random_secret():
    """Like ops/lib.sh random_secret: a letter first and only [a-z0-9], because
    nats-server parses a password taken from the environment as a config
    value (a leading digit can make it a number)."""
    return "nt" + secrets.token_hex(16)


def natter_bin():
    path = os.environ.get("NATTER_BIN") or os.path.join(ROOT, "build-test", "natter")
    return os.path.abspath(path)


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(taken):
    """A loopback TCP port nobody listens on now (and not handed out before).
    Picked below the kernel's ephemeral range: a port from bind(0) is one
    the kernel also hands to outgoing connections, and on a busy machine
    one of them (a process's own NATS connection, say) took such a port in
    the moment between this check and the server's bind ("port in use")."""
    import random
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(10000, low) if low > 11000 else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            port = s.getsockname()[1]
        if port not in taken:
            taken.add(port)
            return port
    raise RuntimeError("no free port")


_libc = None


def _child_setup():
    """In the child before exec: die with the runner (SIGKILL when the parent
    thread exits), so nothing outlives an interrupted test run."""
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:
    _libc = None


def tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return "(no log)"
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def http_request(url, method, path, body=None, headers=None, timeout=10.0):
    """One HTTP request -> (status, headers dict (lower-case keys), body bytes)."""
    assert url.startswith("http://")
    hostport = url[len("http://"):]
    host, _, port = hostport.partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


class Proc:
    """A child process of the stack: a server or a natter role."""

    def __init__(self, name, argv, env, log_path, cwd, role=None):
        self.name = name
        self.role = role        # natter role, or None for servers and migrate
        self.log_path = log_path
        self.port = None        # edge-http / edge-ws: its port
        self.url = None         # edge-http / edge-ws: http://127.0.0.1:<port>
        self.micro_id = None    # pools: the NATS micro instance id
        self.node = None        # natter roles: the NATS node it connects to first
        self.expect_exit = False
        self.argv = list(argv)  # for Stack.restart_server: the same command again
        self.spawn_env = None   # the env given to Stack._spawn (set there)
        self.log = open(log_path, "ab")
        self.popen = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_child_setup)
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def kill(self, sig=signal.SIGTERM):
        """Send sig to the process itself (a role drains on SIGTERM)."""
        if self.alive():
            self.expect_exit = True
            os.kill(self.pid, sig)

    def wait(self, timeout=10.0):
        """The exit code (negative: killed by that signal); raises
        subprocess.TimeoutExpired if still running after timeout."""
        rc = self.popen.wait(timeout)
        self.log.close()
        return rc

    def kill_group(self):
        """Teardown: SIGTERM the group, SIGKILL what is left after a grace."""
        if self.alive():
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except OSError:
                pass
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        if not self.log.closed:
            self.log.close()

    def tail(self, lines=40):
        return tail(self.log_path, lines)

    def __repr__(self):
        return "<%s pid=%s%s>" % (self.name, self.pid, " port=%s" % self.port if self.port else "")


class StackError(RuntimeError):
    pass


class Stack:
    _live = []

    def __init__(self, services=("nats", "redis", "mariadb"), migrate=True, env=None,
                 nats_nodes=1):
        """Start the servers in services (nats always: one server, or a
        cluster of nats_nodes nodes), create the database and run `natter
        migrate` (if mariadb is in services and migrate)."""
        self.tmp = tempfile.mkdtemp(prefix="natter-stack-")
        self.logs = os.path.join(self.tmp, "log")
        # edge-http and the media pool must share it (docs/media.md).
        self.media_root = os.path.join(self.tmp, "media")
        os.makedirs(self.logs)
        self.ports = set()
        self.procs = []          # every Proc, servers and roles, in start order
        self.servers = {}
        self.ready_checks = {}   # server name -> callable, true once it answers
        self.counter = {}
        self.extra_env = dict(env or {})
        self.nats_nodes = int(nats_nodes)
        self._next_node = 0      # start_role without node=: round robin
        self.closed = False
        self.failed = False      # set by tests: print logs on close
        Stack._live.append(self)
        try:
            self._keys()
            self.passwords = {u: random_secret() for u in NATS_USERS}
            self.db_password = random_secret()
            # Ports of every server, even one started later (start_server):
            # roles started before it must already point at it.
            self.redis_port = free_port(self.ports)
            self.db_port = free_port(self.ports)
            self._start_nats()
            if "redis" in services:
                self._start_redis()
            if "mariadb" in services:
                self._start_mariadb()
                if migrate:
                    self.migrate()
        except BaseException:
            self.failed = True
            self.close()
            raise

    # -- setup ------------------------------------------------------------

    def _run(self, argv, what, env=None, input_=None, timeout=60):
        r = subprocess.run(argv, env=env, input=input_, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout, cwd=self.tmp)
        if r.returncode != 0:
            raise StackError("%s failed (%d): %s" % (what, r.returncode,
                                                     r.stdout.decode("utf-8", "replace")[-3000:]))
        return r.stdout

    def _keys(self):
        kdir = os.path.join(self.tmp, "keys")
        os.makedirs(kdir, mode=0o700)
        self.private_key = os.path.join(kdir, "jwt.key")
        self.public_key = os.path.join(kdir, "jwt.pub")
        self._run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
                   "-out", self.private_key], "openssl ecparam")
        self._run(["openssl", "ec", "-in", self.private_key, "-pubout", "-out", self.public_key],
                  "openssl ec -pubout")

    def _spawn(self, name, argv, env=None, role=None):
        """Start a child.  Only from the main thread: PR_SET_PDEATHSIG fires
        when the thread that forked the child ends."""
        log_path = os.path.join(self.logs, name + ".log")
        # The caller's NATTER_* settings (a developer's shell) must not leak
        # into the stack; everything else (ASAN_OPTIONS, PATH) passes.
        base = {k: v for k, v in os.environ.items() if not k.startswith("NATTER_")}
        base.update(env or {})
        p = Proc(name, argv, base, log_path, self.tmp, role)
        p.spawn_env = dict(env or {})
        self.procs.append(p)
        return p

    def _wait(self, what, proc, check, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if proc is not None and not proc.alive():
                raise StackError("%s exited with %s before it was ready; log:\n%s"
                                 % (what, proc.popen.returncode, proc.tail()))
            try:
                result = check()
                if result:
                    return result
            except (OSError, NatsError, ValueError, http.client.HTTPException) as e:
                last = e
            time.sleep(0.1)
        raise StackError("%s not ready after %.0fs (%s); log:\n%s"
                         % (what, timeout, last, proc.tail() if proc else ""))

    @staticmethod
    def nats_name(i):
        """The servers key of NATS node i: "nats" for the first (the one
        server of a one-node stack), then "nats-1", "nats-2", ..."""
        return "nats" if i == 0 else "nats-%d" % i

    def _start_nats(self):
        n = self.nats_nodes
        self.nats_ports = [free_port(self.ports) for _ in range(n)]
        self.nats_monitor_ports = [free_port(self.ports) for _ in range(n)]
        # Node 0's, as before: what one-node tests and tools use.
        self.nats_port = self.nats_ports[0]
        self.nats_monitor_port = self.nats_monitor_ports[0]
        self.nats_url = "nats://127.0.0.1:%d" % self.nats_port
        if n == 1:
            confs = [os.path.join(ROOT, "config", "nats-server.conf")]
        else:
            self.nats_route_ports = [free_port(self.ports) for _ in range(n)]
            confs = natscluster.write_configs(os.path.join(self.tmp, "nats"), self.nats_route_ports,
                                              random_secret())
        env = {"NATTER_NATS_PW_" + u.upper(): pw for u, pw in self.passwords.items()}
        started = []
        for i in range(n):      # all at once, then wait: routes form as they come
            name = self.nats_name(i)
            p = self._spawn("nats-server" if i == 0 else "nats-server-%d" % i, [
                "nats-server", "-c", confs[i], "-a", "127.0.0.1", "-p", str(self.nats_ports[i]),
                "-m", str(self.nats_monitor_ports[i])], env)
            self.servers[name] = p
            self.ready_checks[name] = self._nats_ready(i)
            started.append((name, p))
        for name, p in started:
            self._wait(name, p, self.ready_checks[name])

    def _nats_ready(self, i):
        """Node i takes clients and (in a cluster) has a route to every other
        node, so what a process publishes there reaches everyone."""
        def ready():
            with self.nats("ops", timeout=1.0, node=i):
                pass
            if self.nats_nodes > 1:
                return self.nats_monitor(i, "/routez").get("num_routes") == self.nats_nodes - 1
            return True
        return ready

    def nats_node_url(self, i):
        """Node i's client URL."""
        return "nats://127.0.0.1:%d" % self.nats_ports[i]

    def nats_urls(self, first=0):
        """NATTER_NATS_URL for a process homed on node `first`: every node,
        that one first (natscluster.client_urls)."""
        return natscluster.client_urls(self.nats_ports, first)

    def nats_monitor(self, i, path):
        """GET a monitoring page of node i (/varz, /routez, /connz?subs=1...),
        decoded."""
        status, _, body = http_request("http://127.0.0.1:%d" % self.nats_monitor_ports[i], "GET",
                                       path, timeout=5)
        if status != 200:
            raise NatsError("monitor %s of node %d: HTTP %d" % (path, i, status))
        return json.loads(body)

    def _start_redis(self):
        self._spawn_redis()

    def restart_redis(self):
        """Kill redis-server (data lost: it keeps none) and start a new one
        on the same port, as an operator restarting Redis would."""
        old = self.servers.get("redis")
        if old and old.alive():
            old.kill(signal.SIGKILL)
            old.wait(5)
        self._spawn_redis()

    def start_server(self, name):
        """Start a server the constructor left out (services=...), e.g. to
        show that a role started before its dependency comes up after it:
        "redis", or "mariadb" (then the database is created and migrated)."""
        if name == "redis":
            self._start_redis()
        elif name == "mariadb":
            self._start_mariadb()
            self.migrate()
        else:
            raise ValueError(name)

    def stop_server(self, name, sig=signal.SIGKILL):
        """Stop a server (nats, redis, mariadb) and wait for it to exit."""
        old = self.servers[name]
        old.kill(sig)
        old.wait(30)

    def restart_server(self, name, sig=signal.SIGKILL):
        """Stop a server with sig (default kill -9, as a crash) unless it is
        down already, start it again with the same command, environment,
        port and data, and wait until it answers.  -> seconds it took."""
        t0 = time.monotonic()
        old = self.servers[name]
        if old.alive():
            self.stop_server(name, sig)
        p = self._spawn(old.name, old.argv, old.spawn_env)
        self.servers[name] = p
        self._wait(old.name, p, self.ready_checks[name], timeout=60)
        return time.monotonic() - t0

    def _spawn_redis(self):
        d = os.path.join(self.tmp, "redis")
        os.makedirs(d, exist_ok=True)
        p = self._spawn("redis-server", [
            "redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port), "--dir", d,
            "--save", "", "--appendonly", "no", "--daemonize", "no"])
        self.servers["redis"] = p

        def ready():
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        self.ready_checks["redis"] = ready
        self._wait("redis-server", p, ready)

    def _start_mariadb(self):
        d = os.path.join(self.tmp, "mariadb")
        self.db_socket = os.path.join(self.tmp, "mariadb.sock")
        user_args = ["--user=root"] if os.geteuid() == 0 else []
        # A private tmpdir: with the shared /tmp, a bootstrap of one stack
        # failed deleting its own temporary table file while other stacks
        # ran ("Error on delete of '/tmp/#sql-temptable-...'", once in CI).
        tmpd = os.path.join(self.tmp, "mariadb-tmp")
        os.makedirs(tmpd, exist_ok=True)
        self._run(["mariadb-install-db", "--no-defaults", "--datadir=" + d] + user_args +
                  ["--auth-root-authentication-method=socket", "--skip-test-db",
                   "--tmpdir=" + tmpd],
                  "mariadb-install-db", timeout=120)
        p = self._spawn("mariadbd", [
            "mariadbd", "--no-defaults", "--datadir=" + d, "--socket=" + self.db_socket,
            "--port=%d" % self.db_port, "--bind-address=127.0.0.1", "--skip-log-bin",
            "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
            "--innodb-buffer-pool-size=64M", "--pid-file=" + os.path.join(d, "mariadbd.pid"),
            "--tmpdir=" + tmpd]
            + user_args)
        self.servers["mariadb"] = p

        def ready():
            r = subprocess.run(self._mariadb_argv() + ["-e", "SELECT 1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
            return r.returncode == 0
        self.ready_checks["mariadb"] = ready
        self._wait("mariadbd", p, ready, timeout=60)
        # Same statements as ops/lib.sh mariadb_bootstrap.
        sql = ["CREATE DATABASE IF NOT EXISTS natter CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"]
        for host in ("127.0.0.1", "localhost"):
            sql.append("CREATE USER IF NOT EXISTS 'natter'@'%s' IDENTIFIED BY '%s';"
                       % (host, self.db_password))
            sql.append("GRANT ALL PRIVILEGES ON natter.* TO 'natter'@'%s';" % host)
        self._run(self._mariadb_argv(), "database bootstrap", input_="\n".join(sql).encode())

    def _mariadb_argv(self):
        import pwd
        return ["mariadb", "--no-defaults", "--protocol=socket", "-S", self.db_socket,
                "-u", pwd.getpwuid(os.geteuid()).pw_name]

    def sql(self, statement):
        """Run SQL as the database root (for tests that look at the store)."""
        return self._run(self._mariadb_argv() + ["-N", "-B", "natter", "-e", statement],
                         "sql").decode("utf-8")

    # -- natter -----------------------------------------------------------

    def role_env(self, role, extra=None):
        """The environment a natter role runs with: every address and secret
        of this stack, fast argon2, short request timeout, small max body."""
        env = {
            "NATTER_LOG_LEVEL": "debug",
            "NATTER_NATS_URL": self.nats_urls(0),
            "NATTER_NATS_REQUEST_TIMEOUT_MS": "1000",
            "NATTER_AUTH_PUBLIC_KEY": self.public_key,
            "NATTER_HTTP_BIND": "127.0.0.1",
            "NATTER_HTTP_MAX_BODY": "4096",
            "NATTER_HTTP_THREADS": "8",
            # Every test logs in from 127.0.0.1 many times; the classes that
            # test rate limits turn them on with extra_env.
            "NATTER_AUTH_LOGIN_RATE_IP": "off",
            "NATTER_AUTH_LOGIN_RATE_USER": "off",
            # Likewise sends (test_delivery fires thousands); test_ratelimit
            # turns it on.
            "NATTER_MSG_SEND_RATE": "off",
            "NATTER_MEDIA_ROOT": self.media_root,
            # Drains without the grace periods meant for balancers and
            # thousands of clients (test_drain and test_rolling set them):
            # every stack test stops its edges at teardown.
            "NATTER_HTTP_DRAIN_S": "0",
            "NATTER_WS_DRAIN_S": "0",
        }
        env.update(FAST_ARGON2)
        user = nats_user_for_role(role)
        if user in self.passwords:      # migrate does not use the bus
            env["NATTER_NATS_USER"] = user
            env["NATTER_NATS_PASSWORD"] = self.passwords[user]
        if hasattr(self, "db_port"):
            env.update({
                "NATTER_DB_HOST": "127.0.0.1",
                "NATTER_DB_PORT": str(self.db_port),
                "NATTER_DB_USER": "natter",
                "NATTER_DB_PASSWORD": self.db_password,
                "NATTER_DB_NAME": "natter",
                "NATTER_DB_MIGRATIONS": os.path.join(ROOT, "sql"),
            })
        if hasattr(self, "redis_port"):
            env.update({"NATTER_REDIS_HOST": "127.0.0.1", "NATTER_REDIS_PORT": str(self.redis_port)})
        if role == "auth":
            # Only the auth pool signs tokens.
            env["NATTER_AUTH_PRIVATE_KEY"] = self.private_key
        env.update(self.extra_env)
        env.update(extra or {})
        return env

    def _argv(self, role):
        return [natter_bin(), role, "--config", os.path.join(ROOT, "config", "natter.conf")]

    def migrate(self):
        p = self._spawn("migrate", self._argv("migrate"), self.role_env("migrate"))
        try:
            rc = p.wait(120)
        except subprocess.TimeoutExpired:
            raise StackError("natter migrate hangs; log:\n" + p.tail())
        if rc != 0:
            raise StackError("natter migrate exited %d; log:\n%s" % (rc, p.tail()))

    def start_role(self, role, extra_env=None, wait=True, node=None):
        """Start `natter <role>` and (by default) wait until it is ready:
        /healthz for edge-http, a $SRV.PING.<role> reply from a new instance
        for pools.  In a cluster the process connects to NATS node `node`
        first (default: the next node, round robin) and knows every node.
        Returns the Proc (its .node says which)."""
        n = self.counter[role] = self.counter.get(role, 0) + 1
        if node is None:
            node = self._next_node % self.nats_nodes
            self._next_node += 1
        home = {} if "NATTER_NATS_URL" in self.extra_env else {"NATTER_NATS_URL": self.nats_urls(node)}
        home.update(extra_env or {})
        env = self.role_env(role, home)
        port = None
        if role == "edge-http":
            port = int(env.get("NATTER_HTTP_PORT") or 0) or free_port(self.ports)
            env["NATTER_HTTP_PORT"] = str(port)
        elif role == "edge-ws":
            port = int(env.get("NATTER_WS_PORT") or 0) or free_port(self.ports)
            env["NATTER_WS_PORT"] = str(port)
            env.setdefault("NATTER_WS_BIND", "127.0.0.1")
        known = self.micro_ids(role) if wait and not role.startswith("edge-") else set()
        p = self._spawn("%s-%d" % (role, n), self._argv(role), env, role)
        p.node = node
        if port:
            p.port = port
            p.url = "http://127.0.0.1:%d" % port
        if not wait:
            return p
        if role in ("edge-http", "edge-ws"):
            def ready():
                status, _, _ = http_request(p.url, "GET", "/healthz", timeout=2)
                return status == 200
            self._wait(p.name, p, ready)
        else:
            def ready():
                new = self.micro_ids(role) - known
                return next(iter(new)) if len(new) == 1 else None
            p.micro_id = self._wait(p.name, p, ready)
        return p

    def roles(self, role):
        """Live processes of a role."""
        return [p for p in self.procs if p.role == role and p.alive()]

    # -- bus --------------------------------------------------------------

    def nats(self, user="ops", timeout=5.0, node=None):
        """A connected natsclient.Client as user (use as a context manager),
        on NATS node `node` (default: the first node that runs)."""
        if node is None:
            live = [i for i in range(self.nats_nodes)
                    if self.servers.get(self.nats_name(i)) and self.servers[self.nats_name(i)].alive()]
            node = live[0] if live else 0
        return Client(self.nats_node_url(node), user, self.passwords[user],
                      name="stack-test-" + user, timeout=timeout).connect()

    def micro(self, verb, name=None, window=0.5):
        """Every reply to $SRV.<verb>[.<name>], decoded."""
        subject = "$SRV.%s" % verb + ("." + name if name else "")
        with self.nats("ops") as c:
            return [m.json() for m in c.request_many(subject, window=window)]

    def micro_ids(self, name):
        return {r.get("id") for r in self.micro("PING", name, window=0.3)}

    def serve_no_ip_rules(self):
        """Answer im.svc.auth.ip_rules with an empty list (an empty
        IpRuleList encodes to zero bytes), for a stack with edge-ws but no
        auth pool: an edge reports healthy only once it has loaded the IP
        rules.  A daemon thread, until the stack closes."""
        import threading
        conn = self.nats("auth")
        sid = conn.subscribe("im.svc.auth.ip_rules")

        def serve():
            while not self.closed:
                try:
                    m = conn.next_msg(sid, timeout=0.5)
                except NatsError:
                    continue
                except (OSError, ValueError):
                    return
                if m.reply:
                    conn.publish(m.reply, b"")
        threading.Thread(target=serve, daemon=True).start()

    # -- teardown ---------------------------------------------------------

    def dump_logs(self, lines=40, out=sys.stderr):
        for p in self.procs:
            print("---- %s (pid %s, exit %s): last lines of %s ----"
                  % (p.name, p.pid, p.popen.poll(), p.log_path), file=out)
            print(p.tail(lines), file=out)
        out.flush()

    def close(self):
        """Stop everything (roles first, then servers) and remove the temp
        dir.  Prints log tails when self.failed.  Returns the roles that
        exited non-zero after SIGTERM at teardown (leaks, sanitizer reports,
        a drain that failed): callers may fail on that."""
        if self.closed:
            return []
        self.closed = True
        bad = []
        roles = [p for p in self.procs if p.role is not None]
        for p in reversed(roles):
            if p.alive():
                p.kill(signal.SIGTERM)
                try:
                    rc = p.wait(15)
                except subprocess.TimeoutExpired:
                    rc = "timeout"
                if rc != 0:
                    bad.append((p.name, rc))
        if bad:
            self.failed = True
            print("roles that did not exit 0 on SIGTERM at teardown: %r" % bad, file=sys.stderr)
        if self.failed:
            self.dump_logs()
        for p in reversed(self.procs):
            p.kill_group()
        if self in Stack._live:
            Stack._live.remove(self)
        if os.environ.get("NATTER_KEEP_STACK"):
            print("stack kept in %s" % self.tmp, file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return bad


@atexit.register
def _close_all():
    for s in list(Stack._live):
        s.close()


class StackTestCase(unittest.TestCase):
    """Base class: one Stack per test class.  Subclasses set up their roles in
    start_roles(cls).  A failing test marks the stack, and tearDownClass
    prints every process's log tail; a role that does not exit 0 on SIGTERM
    at teardown (a sanitizer report, a failed drain) fails the class."""

    stack = None
    services = ("nats", "redis", "mariadb")
    nats_nodes = 1       # > 1: a NATS cluster (Stack(nats_nodes=...))
    stack_env = None     # extra environment for every role (Stack(env=...))

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(services=cls.services, nats_nodes=cls.nats_nodes, env=cls.stack_env)
        try:
            cls.start_roles()
        except BaseException:
            cls.stack.failed = True
            cls.stack.close()
            raise

    @classmethod
    def start_roles(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        if cls.stack is not None:
            bad = cls.stack.close()
            cls.stack = None
            if bad:
                raise AssertionError("roles did not exit 0 on SIGTERM: %r" % bad)

    def run(self, result=None):
        before = (len(result.failures) + len(result.errors)) if result is not None else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            if type(self).stack is not None:
                type(self).stack.failed = True
        return out


class Response:
    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<HTTP %d %r>" % (self.status, self.body[:300])


class Api:
    """The REST API of one edge-http (API.md), as a client sees it."""

    def __init__(self, url):
        self.url = url

    def call(self, method, path, body=None, token=None, raw=None, headers=None, timeout=10.0):
        """body: an object sent as JSON; raw: bytes sent as they are."""
        h = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode("utf-8")
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        if token is not None:
            h["Authorization"] = "Bearer " + token
        t0 = time.monotonic()
        status, hdrs, out = http_request(self.url, method, path, data, h, timeout)
        return Response(status, hdrs, out, time.monotonic() - t0)

    def register(self, username, password="correct horse", **extra):
        body = {"username": username, "password": password}
        body.update(extra)
        return self.call("POST", "/api/auth/register", body)

    def login(self, username, password="correct horse", **extra):
        body = {"username": username, "password": password}
        body.update(extra)
        return self.call("POST", "/api/auth/login", body)


def unique_name(prefix="u"):
    """A fresh valid username (3-32 of [a-z0-9_.])."""
    return (prefix + secrets.token_hex(6))[:32]
