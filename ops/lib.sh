# shellcheck shell=bash disable=SC2034  # the arrays are used by the scripts that source this
# ops/lib.sh - functions shared by ops/up, ops/down and ops/test.
#
# Sourced, not run.  Everything natter needs comes from Debian 12 packages and
# runs as plain background processes under a directory we own (no systemd),
# bound to 127.0.0.1: a developer machine and a clean CI clone behave alike.

# The repository root, whatever directory the caller ran from.
NATTER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The one list of natter service roles that ops/up starts and ops/down stops,
# in start order (pools before the edges that call them; ops/down stops them
# in reverse).  media and edge-http share the media root (media.root,
# default var/media: both run from the repository root).
NATTER_ROLES=(auth msg presence media edge-http edge-ws)

# ops_port_for_role ROLE: the port of a pool's /healthz and /metrics under
# ops/up (ops.http_port); 0 for the edges, which serve both on their own
# port.  NATTER_OPS_PORT_BASE moves the block (default 9101..9104).
ops_port_for_role() {
  local base=${NATTER_OPS_PORT_BASE:-9101}
  case "$1" in
    auth) echo $((base)) ;;
    msg) echo $((base + 1)) ;;
    presence) echo $((base + 2)) ;;
    media) echo $((base + 3)) ;;
    *) echo 0 ;;
  esac
}

# Every NATS user in config/nats-server.conf.  Each gets a password
# NATTER_NATS_PW_<USER> in var/keys/secrets.env; nats-server reads them from
# its environment.
NATS_USERS=(edge auth msg presence media ops)

# Debian packages for building, testing and running the whole stack
# (STACK.md), plus what the scripts themselves call.
NATTER_PACKAGES=(
  build-essential cmake pkg-config
  nats-server libnats-dev libwebsockets-dev libcivetweb-dev libhiredis-dev
  libmariadb-dev protobuf-c-compiler libprotobuf-c-dev libssl-dev libjwt-dev
  libcriterion-dev libjansson-dev libargon2-dev uuid-dev
  libvips-dev libmagic-dev         # media: thumbnails; MIME sniffed from content
  mariadb-server mariadb-client redis-server redis-tools
  python3 openssl curl ca-certificates
  python3-websockets              # README's interactive WebSocket session
  chromium chromium-driver python3-selenium  # tests/browser: the web client in headless Chromium
  clang libclang-rt-14-dev        # ops/fuzz: libFuzzer targets (tests/fuzz/)
  libuv1-dev libwebsockets-evlib-uv  # edge-ws: lws and nats.c on one libuv loop
)

# /usr/bin/python3 on purpose: a python3 earlier on PATH may be another build
# (STACK.md).  The scripts only use the standard library.
PYTHON=/usr/bin/python3

say() { printf '%s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run a command as root: directly when we are root (CI, containers), through
# sudo otherwise.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  else
    command -v sudo >/dev/null 2>&1 || die "need root or sudo to run: $*"
    sudo "$@"
  fi
}

# The NATS user a role connects as (config/nats-server.conf): both edges
# share "edge", operator tools use "ops", a pool uses its own name.
nats_user_for_role() {
  case "$1" in
    edge-*) say edge ;;
    trace) say ops ;;
    *) say "$1" ;;
  esac
}

# NATTER_NATS_PW_<USER> for a NATS user name.
nats_pw_var() {
  local u=${1^^}
  say "NATTER_NATS_PW_${u//-/_}"
}

# Install whatever of NATTER_PACKAGES is missing.  One dpkg-query for the
# whole list first, so a machine that has everything never touches apt
# (fast, works offline); apt-get update at most once per run.
_NATTER_APT_UPDATED=0
ensure_packages() {
  local missing=() p installed
  installed=" $(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${NATTER_PACKAGES[@]}" 2>/dev/null |
    awk '$2 == "ii" { printf "%s ", $1 }') "
  for p in "${NATTER_PACKAGES[@]}"; do
    case "$installed" in *" $p "*) ;; *) missing+=("$p") ;; esac
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  say "installing: ${missing[*]}"
  if [ "$_NATTER_APT_UPDATED" -eq 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    _NATTER_APT_UPDATED=1
  fi
  # Debian's mariadb-server, redis-server and nats-server packages start their
  # system services on install.  We run our own instances on other ports, so
  # keep the package scripts from starting daemons (policy-rc.d exit 101 means
  # "action forbidden"), unless the machine already has a policy of its own.
  local policy=/usr/sbin/policy-rc.d added_policy=0 rc=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    added_policy=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" || rc=$?
  if [ "$added_policy" -eq 1 ]; then
    as_root rm -f "$policy"
  fi
  [ "$rc" -eq 0 ] || die "apt-get install failed ($rc)"
}

# build DIR [cmake args...]: configure and build everything with all cores.
build() {
  local dir=$1
  shift
  cmake -S "$NATTER_ROOT" -B "$dir" "$@"
  cmake --build "$dir" -j"$(nproc)"
}

# What a build reads: a file or directory here newer than the last build's
# stamp means the build is stale (directories count: adding or deleting a
# file changes their time).
NATTER_BUILD_INPUTS=(CMakeLists.txt actors bus cmd common edge proto store tests/unit)

# build_if_stale DIR [cmake args...]: like build, but do nothing when DIR
# was built before with the same arguments and nothing in
# NATTER_BUILD_INPUTS changed since (a no-op `cmake` configure and build
# still costs seconds on a busy machine; this check costs milliseconds).
# The stamp is taken before building, so an edit made during the build
# counts as a change next time.
build_if_stale() {
  local dir=$1 stamp=$1/.natter-built args
  shift
  args="$*"
  if [ -f "$stamp" ] && [ -f "$dir/CMakeCache.txt" ] && [ "$(cat "$stamp")" = "$args" ] &&
    [ -z "$(cd "$NATTER_ROOT" && find "${NATTER_BUILD_INPUTS[@]}" -newer "$stamp" -print -quit 2>/dev/null)" ]; then
    say "$(basename "$dir")/ is up to date (nothing changed since the last build)"
    return 0
  fi
  mkdir -p "$dir"
  printf '%s' "$args" >"$stamp.new"
  build "$dir" "$@"
  mv -f "$stamp.new" "$stamp"
}

# schema_current SOCKET DBNAME: the database has applied exactly the
# migrations in sql/ (the versions in schema_migrations, natter migrate's
# record, are those of the sql/NNN_name.sql files), so `natter migrate`
# would do nothing.
schema_current() {
  local want have
  want=$(ls "$NATTER_ROOT/sql" | sed -n 's/^0*\([0-9][0-9]*\)_[a-z0-9_]*\.sql$/\1/p' | sort -n | tr '\n' ' ')
  have=$(mariadb --no-defaults --protocol=socket -S "$1" -u "$(id -un)" -N -B \
    -e "SELECT version FROM \`$2\`.schema_migrations ORDER BY version" 2>/dev/null | tr '\n' ' ') ||
    return 1
  [ -n "$want" ] && [ "$want" = "$have" ]
}

# conf_get SECTION KEY DEFAULT: a value from config/natter.conf (INI, inline
# comments after whitespace), or DEFAULT.  Environment overrides are the
# caller's business (NATTER_<SECTION>_<KEY>), as in the C config module.
conf_get() {
  local v
  v=$(awk -v sec="$1" -v key="$2" '
    /^[ \t]*\[/ { s = $0; gsub(/[][ \t]/, "", s); next }
    s == sec {
      line = $0
      sub(/[ \t][#;].*$/, "", line)
      if (line ~ /^[ \t]*[#;]/) next
      n = index(line, "=")
      if (n == 0) next
      k = substr(line, 1, n - 1); gsub(/[ \t]/, "", k)
      if (k != key) next
      val = substr(line, n + 1); gsub(/^[ \t]+|[ \t]+$/, "", val)
      print val; exit
    }' "$NATTER_ROOT/config/natter.conf" 2>/dev/null || true)
  if [ -n "$v" ]; then say "$v"; else say "$3"; fi
}

# The port of the first URL in a nats://host:port[,...] list, or DEFAULT.
url_port() {
  local u=${1%%,*}
  u=${u#*://}
  u=${u##*@}
  u=${u%%/*}
  case "$u" in
    *:*) say "${u##*:}" ;;
    *) say "$2" ;;
  esac
}

# pid_alive PIDFILE NAME: the pid in PIDFILE runs and its command line
# mentions NAME (guards against a stale file whose pid was reused).  Bash
# built-ins only: ops/up asks this for every process, and on a busy
# machine every fork costs tens of milliseconds.
pid_alive() {
  local pid args
  [ -s "$1" ] || return 1
  read -r pid <"$1" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] || return 1
  mapfile -d '' args <"/proc/$pid/cmdline" 2>/dev/null || return 1
  [[ " ${args[*]} " == *"$2"* ]]
}

# stop_pidfile PIDFILE [SECONDS]: SIGTERM, wait (natter drains on SIGTERM),
# SIGKILL after SECONDS (default 10), remove the file.
stop_pidfile() {
  local file=$1 secs=${2:-10} pid i
  [ -s "$file" ] || { rm -f "$file"; return 0; }
  pid=$(cat "$file")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < secs * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      warn "$(basename "$file" .pid) (pid $pid) did not stop in ${secs}s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$file"
}

# wait_for SECONDS WHAT COMMAND...: retry COMMAND every 0.2 s until it
# succeeds; fail with WHAT after SECONDS.
wait_for() {
  local secs=$1 what=$2 i
  shift 2
  for ((i = 0; i < secs * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  warn "$what did not become ready in ${secs}s"
  return 1
}

http_ok() { curl -fsS --max-time 2 -o /dev/null "$1"; }

# spawn LOG PIDFILE COMMAND...: start COMMAND in the background, detached in
# a session of its own (closing the terminal that ran ops/up must not send
# it SIGHUP, which natter takes as "stop"), output appended to LOG, its pid
# in PIDFILE.  setsid does not fork here (a background child is not a
# process group leader), so $! is the daemon's own pid.
spawn() {
  local log=$1 pidfile=$2
  shift 2
  setsid "$@" </dev/null >>"$log" 2>&1 &
  echo $! >"$pidfile"
}

# start_nats CONF PORT MONPORT LOG PIDFILE: nats-server on 127.0.0.1.  The
# NATTER_NATS_PW_* variables must be in the environment (the config refers
# to them).  Ready when the monitor's /healthz answers.
start_nats() {
  local conf=$1 port=$2 mon=$3 log=$4 pidfile=$5
  spawn "$log" "$pidfile" nats-server -c "$conf" -a 127.0.0.1 -p "$port" -m "$mon"
  wait_for 20 "nats-server (log: $log)" http_ok "http://127.0.0.1:$mon/healthz"
}

# start_redis DIR PORT LOG PIDFILE: redis-server on 127.0.0.1.  No
# snapshots or AOF: Redis holds only what can be rebuilt (DESIGN.md).
start_redis() {
  local dir=$1 port=$2 log=$3 pidfile=$4
  mkdir -p "$dir"
  spawn "$log" "$pidfile" redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" \
    --save '' --appendonly no --daemonize no --logfile ''
  wait_for 20 "redis-server (log: $log)" redis_ping "$port"
}

redis_ping() { [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]; }

# mariadbd refuses to run as root unless told to; as another user it needs
# no --user at all.
_mariadb_user_args() {
  if [ "$(id -u)" -eq 0 ]; then say "--user=root"; fi
}

# start_mariadb DATADIR PORT SOCKET LOG PIDFILE: mariadbd on 127.0.0.1.  On
# first use (no DATADIR/mysql) the system tables are created; root then logs
# in only over the Unix socket as the OS user that ran this (unix_socket
# authentication), never over TCP.
start_mariadb() {
  local data=$1 port=$2 sock=$3 log=$4 pidfile=$5
  if [ ! -d "$data/mysql" ]; then
    mkdir -p "$data"
    # shellcheck disable=SC2046  # zero or one word, on purpose
    mariadb-install-db --no-defaults --datadir="$data" $(_mariadb_user_args) \
      --auth-root-authentication-method=socket --skip-test-db >>"$log" 2>&1 \
      || die "mariadb-install-db failed (log: $log)"
  fi
  # shellcheck disable=SC2046
  spawn "$log" "$pidfile" mariadbd --no-defaults --datadir="$data" --socket="$sock" \
    --port="$port" --bind-address=127.0.0.1 $(_mariadb_user_args) --skip-log-bin \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    --pid-file="$data/mariadbd.pid"
  wait_for 30 "mariadbd (log: $log)" mariadb_sql "$sock" 'SELECT 1'
}

# mariadb_sql SOCKET SQL: run SQL as the database's root over the socket.
mariadb_sql() {
  mariadb --no-defaults --protocol=socket -S "$1" -u "$(id -un)" -e "$2"
}

# mariadb_bootstrap SOCKET DBNAME DBUSER PASSWORD: the natter database and its
# user, for loopback TCP (127.0.0.1) and the socket (localhost).  Idempotent;
# ALTER USER keeps the password in step with secrets.env.  The SQL goes in on
# stdin so the password never shows in a process list.
mariadb_bootstrap() {
  local sock=$1 db=$2 user=$3 pw=$4 h
  case "$pw" in *"'"* | *\\*) die "database password must not contain quotes or backslashes" ;; esac
  {
    printf "CREATE DATABASE IF NOT EXISTS \`%s\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n" "$db"
    for h in 127.0.0.1 localhost; do
      printf "CREATE USER IF NOT EXISTS '%s'@'%s' IDENTIFIED BY '%s';\n" "$user" "$h" "$pw"
      printf "ALTER USER '%s'@'%s' IDENTIFIED BY '%s';\n" "$user" "$h" "$pw"
      printf "GRANT ALL PRIVILEGES ON \`%s\`.* TO '%s'@'%s';\n" "$db" "$user" "$h"
    done
  } | mariadb --no-defaults --protocol=socket -S "$sock" -u "$(id -un)"
}

# random_secret: "nt" and 32 hex characters from the OS CSPRNG.  The letter
# prefix matters: nats-server parses an environment variable's value as a
# config value, so a secret starting with a digit may be read as a number
# and refused (or mangled), and '#', ':', ',' or spaces would cut it.  Only
# [a-z0-9] also keeps it safe in env files, INI files and SQL literals.
random_secret() { printf 'nt%s\n' "$(openssl rand -hex 16)"; }

# tail_logs FILE...: the last lines of each log, for failures.
tail_logs() {
  local f
  for f in "$@"; do
    [ -f "$f" ] || continue
    say "---- last lines of $f ----"
    tail -n 30 "$f"
  done
}

# --- what ops/up and ops/cluster share ----------------------------------
# These use the caller's variables: KEYS (key directory), SECRETS (its
# secrets.env), NATS_URL, HTTP_PORT, WS_PORT, REDIS_PORT, DB_PORT, DB_NAME,
# DB_USER, DB_PASSWORD, DB_SOCK, LOGS, NATTER (the binary).

# secret_get NAME: the value of NAME in $SECRETS (parsed, never sourced,
# so the file cannot run code; the first line for NAME wins).  Built-ins
# only: it is called for every role.
secret_get() {
  local k v
  while IFS='=' read -r k v; do
    if [ "$k" = "$1" ]; then
      say "$v"
      return 0
    fi
  done <"$SECRETS"
}

# ensure_secrets [EXTRA_NAME...]: the ES256 token key pair in $KEYS and one
# random password per NATS user, one for the database (and one per
# EXTRA_NAME) in $SECRETS; sets DB_PASSWORD.  A missing name is appended
# (a user added to NATS_USERS later); existing values never change, so
# running processes keep working.  Keys and secrets are for the owner only.
ensure_secrets() {
  local name
  (umask 077 && mkdir -p "$KEYS")
  chmod 700 "$KEYS"
  if [ ! -s "$KEYS/jwt.key" ]; then
    say "== generating the ES256 token key pair in $KEYS"
    (umask 077 && openssl ecparam -name prime256v1 -genkey -noout -out "$KEYS/jwt.key")
    rm -f "$KEYS/jwt.pub"
  fi
  if [ ! -s "$KEYS/jwt.pub" ]; then
    openssl ec -in "$KEYS/jwt.key" -pubout -out "$KEYS/jwt.pub" 2>/dev/null
  fi
  chmod 600 "$KEYS/jwt.key"
  chmod 644 "$KEYS/jwt.pub"
  touch "$SECRETS"
  chmod 600 "$SECRETS"
  for name in $(for u in "${NATS_USERS[@]}"; do nats_pw_var "$u"; done) NATTER_DB_PASSWORD "$@"; do
    if [ -z "$(secret_get "$name")" ]; then
      printf '%s=%s\n' "$name" "$(random_secret)" >>"$SECRETS"
    fi
  done
  DB_PASSWORD=$(secret_get NATTER_DB_PASSWORD)
}

# export_nats_passwords: export every NATTER_NATS_PW_* from $SECRETS (for
# nats-server, whose configuration reads them; call it in a subshell).
export_nats_passwords() {
  local u v
  for u in "${NATS_USERS[@]}"; do
    v=$(nats_pw_var "$u")
    export "$v=$(secret_get "$v")"
  done
}

# ensure_stores VARDIR RUNDIR: redis-server and mariadbd (data under
# VARDIR/redis and VARDIR/mariadb, pid files in RUNDIR, logs in $LOGS) on
# $REDIS_PORT and $DB_PORT unless already running, the database and its
# user, then `natter migrate` unless the schema is current.
ensure_stores() {
  local var=$1 run=$2
  if pid_alive "$run/redis.pid" redis-server; then
    say "redis-server already running (pid $(cat "$run/redis.pid"))"
  else
    say "== starting redis-server on 127.0.0.1:$REDIS_PORT"
    start_redis "$var/redis" "$REDIS_PORT" "$LOGS/redis.log" "$run/redis.pid" \
      || { tail_logs "$LOGS/redis.log"; die "redis-server did not start"; }
  fi
  if pid_alive "$run/mariadb.pid" mariadbd; then
    say "mariadbd already running (pid $(cat "$run/mariadb.pid"))"
  else
    say "== starting mariadbd on 127.0.0.1:$DB_PORT"
    start_mariadb "$var/mariadb" "$DB_PORT" "$DB_SOCK" "$LOGS/mariadb.log" "$run/mariadb.pid" \
      || { tail_logs "$LOGS/mariadb.log"; die "mariadbd did not start"; }
  fi
  mariadb_bootstrap "$DB_SOCK" "$DB_NAME" "$DB_USER" "$DB_PASSWORD"
  if schema_current "$DB_SOCK" "$DB_NAME"; then
    say "schema is current (every sql/ migration applied)"
  else
    say "== natter migrate"
    if ! (role_exports migrate && exec "$NATTER" migrate) </dev/null >>"$LOGS/migrate.log" 2>&1; then
      tail_logs "$LOGS/migrate.log"
      die "natter migrate failed"
    fi
  fi
}

# role_exports ROLE: export the role's settings (call it in a subshell).
# The environment beats config/natter.conf, so the processes use exactly the
# ports and secrets above; anything else the operator exported (NATTER_*)
# still applies.  Secrets go through the environment, never argv.
role_exports() {
  local role=$1 user pw
  user=$(nats_user_for_role "$role")
  pw=$(secret_get "$(nats_pw_var "$user")")
  export NATTER_NATS_URL=${NATTER_NATS_URL:-$NATS_URL}
  if [ -n "$pw" ]; then   # migrate has no bus identity
    export NATTER_NATS_USER=$user NATTER_NATS_PASSWORD=$pw
  fi
  export NATTER_DB_HOST=127.0.0.1 NATTER_DB_PORT=$DB_PORT NATTER_DB_NAME=$DB_NAME
  export NATTER_DB_USER=$DB_USER NATTER_DB_PASSWORD=$DB_PASSWORD
  export NATTER_DB_MIGRATIONS=$NATTER_ROOT/sql
  export NATTER_REDIS_HOST=127.0.0.1 NATTER_REDIS_PORT=$REDIS_PORT
  export NATTER_HTTP_BIND=127.0.0.1 NATTER_HTTP_PORT=$HTTP_PORT
  export NATTER_WS_PORT=$WS_PORT
  export NATTER_AUTH_PUBLIC_KEY=$KEYS/jwt.pub
  # Pools get their own /healthz and /metrics port (edges serve theirs on
  # their client port).
  export NATTER_OPS_HTTP_PORT=${OPS_PORT:-$(ops_port_for_role "$role")}
  # Only the auth pool signs tokens, so only it sees the private key.
  if [ "$role" = auth ]; then
    export NATTER_AUTH_PRIVATE_KEY=$KEYS/jwt.key
  fi
}

# wait_role_ready ROLE [COUNT]: edges answer /healthz on $HTTP_PORT /
# $WS_PORT; pools answer the NATS micro protocol ($SRV.PING.<role>), asked
# as the ops user on $NATS_URL's first node, from COUNT instances (default 1).
wait_role_ready() {
  case "$1" in
    edge-http)
      wait_for 30 "edge-http" http_ok "http://127.0.0.1:$HTTP_PORT/healthz" ;;
    edge-ws)
      wait_for 30 "edge-ws" http_ok "http://127.0.0.1:$WS_PORT/healthz" ;;
    *)
      NATS_PASSWORD=$(secret_get NATTER_NATS_PW_OPS) "$PYTHON" "$NATTER_ROOT/tests/stack/natsclient.py" \
        --url "${NATS_URL%%,*}" --user ops ping "$1" --wait 30 --count "${2:-1}" ;;
  esac
}

# stop_stack RUNDIR: stop what a pid file in RUNDIR names: natter roles in
# the reverse of NATTER_ROLES (ROLE.pid, or ROLE-N.pid for several of a
# role), then anything else that is not a store, then nats-server (every
# node), redis-server, mariadbd.  Each gets SIGTERM and up to 10 s.
stop_stack() {
  local run=$1 i f name
  _stop_one() {
    if [ -s "$1" ]; then
      say "stopping $(basename "$1" .pid) (pid $(cat "$1"))"
      stop_pidfile "$1" 10
    fi
  }
  for ((i = ${#NATTER_ROLES[@]} - 1; i >= 0; i--)); do
    for f in "$run/${NATTER_ROLES[i]}.pid" "$run/${NATTER_ROLES[i]}"-[0-9]*.pid; do
      [ -e "$f" ] && _stop_one "$f"
    done
  done
  # A role that ran once but is no longer in NATTER_ROLES.
  for f in "$run"/*.pid; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .pid)
    case "$name" in nats | nats-[0-9]* | redis | mariadb) ;; *) _stop_one "$f" ;; esac
  done
  for f in "$run"/nats.pid "$run"/nats-[0-9]*.pid "$run/redis.pid" "$run/mariadb.pid"; do
    [ -e "$f" ] && _stop_one "$f"
  done
  return 0
}
