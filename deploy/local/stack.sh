#!/usr/bin/env bash
# Private PostgreSQL 15, Mosquitto 2 and ClickHouse servers for vnpass development and CI on one
# Debian machine without systemd (run as root).
#
#   stack.sh up     [pg|mqtt|ch ...]   install what is missing, start, wait until each answers,
#                                      write $STATE/env
#   stack.sh down   [pg|mqtt|ch ...]   stop
#   stack.sh status [pg|mqtt|ch ...]   running/stopped per server; exit 0 only if all run
#   stack.sh env                       print $STATE/env  (use: set -a; . "$STATE/env"; set +a)
#
# Every server listens on 127.0.0.1 only, on a non-default port, and keeps its data, config, logs
# and pid file under $STATE, so it never meets a distribution-managed server or another checkout's
# stack. Environment: VNPASS_STATE (default <repo>/.run), VNPASS_PG_PORT (55432),
# VNPASS_MQTT_PORT (51883), VNPASS_CH_TCP_PORT (59000), VNPASS_CH_HTTP_PORT (58123),
# VNPASS_STACK_TIMEOUT (seconds to wait for a server, 60).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
STATE=${VNPASS_STATE:-$REPO_ROOT/.run}
[[ $STATE == /* ]] || STATE=$PWD/$STATE  # configs hold absolute paths
STATE=${STATE%/}

PG_PORT=${VNPASS_PG_PORT:-55432}
MQTT_PORT=${VNPASS_MQTT_PORT:-51883}
CH_TCP_PORT=${VNPASS_CH_TCP_PORT:-59000}
CH_HTTP_PORT=${VNPASS_CH_HTTP_PORT:-58123}
WAIT_SECS=${VNPASS_STACK_TIMEOUT:-60}

PG_BIN=/usr/lib/postgresql/15/bin
PG_DIR=$STATE/pg               # owned by postgres; also holds the unix socket
PG_DATA=$PG_DIR/data
PG_LOG=$PG_DIR/postgres.log
MQTT_DIR=$STATE/mqtt           # owned by mosquitto
MQTT_CONF=$MQTT_DIR/mosquitto.conf
MQTT_DYNSEC=$MQTT_DIR/dynsec.json  # users, roles and ACLs: state kept across starts, like data
MQTT_PID=$MQTT_DIR/mosquitto.pid
MQTT_LOG=$MQTT_DIR/mosquitto.log
CH_DIR=$STATE/ch
CH_CONF=$CH_DIR/config.xml
CH_PID=$CH_DIR/clickhouse.pid
CH_LOG=$CH_DIR/log/clickhouse-server.log
CH_ERRLOG=$CH_DIR/log/clickhouse-server.err.log
CH_STDOUT=$CH_DIR/log/stdout.log
SECRETS=$STATE/secrets
ENV_FILE=$STATE/env

MQTT_SERVICE_USER=vnpass-svc
MQTT_GATE_USER=vnpass-gate     # shared login of the test roots only; real gates have their own
MQTT_ADMIN_USER=vnpass-admin   # the dynamic-security plugin's administrator: provisions devices
ALL_SERVICES=(pg mqtt ch)

# ---------------------------------------------------------------------------------------------
# helpers

log() { printf 'stack: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# fail_with_log MESSAGE FILE...: stop with MESSAGE and the end of each log that exists, so a CI
# failure shows why the server did not come up.
fail_with_log() {
  local msg=$1 file
  shift
  log "error: $msg"
  for file in "$@"; do
    [[ -s $file ]] || continue
    log "last lines of $file:"
    tail -n 30 "$file" | sed 's/^/    /' >&2
  done
  exit 1
}

need_root() {
  [[ $(id -u) -eq 0 ]] || die "run as root: it installs packages and starts servers as the postgres and mosquitto users"
}

# Hex is alphanumeric, so passwords never need escaping in URLs, XML or config files. od reads a
# fixed 16 bytes: no `tr </dev/urandom | head` pipe that would die of SIGPIPE under pipefail.
gen_password() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

# read_pid PIDFILE: its first line, if a number. (mosquitto ends it without a newline, which
# makes `read` fail.)
read_pid() {
  local pid
  pid=$(head -n 1 "$1" 2>/dev/null) && [[ $pid =~ ^[0-9]+$ ]] && echo "$pid"
}

# pid_alive PIDFILE WORD: the first line of PIDFILE names a live process whose command line holds
# WORD. The WORD check keeps a stale pid file (its number reused after a reboot) from counting.
# A zombie counts as dead: PID 1 on these machines does not reap orphans, so a stopped server
# stays behind as a zombie.
pid_alive() {
  local pid stat cmdline
  pid=$(read_pid "$1") || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]] || return 1
  # Into a variable, not `| grep -q`: grep quitting early would SIGPIPE tr and fail the pipe.
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"$2"* ]]
}

process_gone() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  [[ ${stat%% *} == Z ]]
}

# stop_pid NAME PIDFILE: SIGTERM (each server then saves its state), wait, SIGKILL as a last resort.
stop_pid() {
  local name=$1 pid deadline=$((SECONDS + WAIT_SECS))
  pid=$(read_pid "$2")
  kill -TERM "$pid" 2>/dev/null || true
  until process_gone "$pid"; do
    if ((SECONDS >= deadline)); then
      log "warning: $name (pid $pid) ignored SIGTERM for ${WAIT_SECS}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  rm -f "$2"
}

port_in_use() { (: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# choose_port NAME ENV_VAR PORT: the port to start NAME on. A port set in ENV_VAR must be free.
# A default port that is taken (by the stack of another checkout or a CI clone, say) gives way to
# the next free one above it: clients take the port from the env file anyway.
choose_port() {
  local name=$1 var=$2 port=$3
  if [[ -n ${!var:-} ]]; then
    ! port_in_use "$port" || die "$name: port $port ($var) is already taken by another process"
  else
    while port_in_use "$port"; do
      ((++port < $3 + 100)) || die "$name: no free port in $3..$((port - 1)); set $var"
    done
    ((port == $3)) || log "$name: port $3 is taken, using $port (set $var to choose one)"
  fi
  echo "$port"
}

# wait_ready NAME ALIVE_CMD READY_CMD LOGS...: poll until READY_CMD succeeds; fail at once with the
# logs if the server died (ALIVE_CMD fails), or after WAIT_SECS.
wait_ready() {
  local name=$1 alive=$2 ready=$3 deadline=$((SECONDS + WAIT_SECS))
  shift 3
  until $ready >/dev/null 2>&1; do
    $alive || fail_with_log "$name exited while starting" "$@"
    ((SECONDS < deadline)) || fail_with_log "$name did not answer within ${WAIT_SECS}s" "$@"
    sleep 0.1
  done
}

# postgres and mosquitto run as their own users, so every folder above their state folders must be
# searchable by others; mktemp -d makes 0700 folders. Only the x bit is added, never read.
ensure_traversable() {
  local dir=$1
  while [[ $dir != / ]]; do
    if [[ $(stat -c %A "$dir") != *[xt] ]]; then
      chmod o+x "$dir"
      log "added o+x to $dir so the postgres and mosquitto users can reach $STATE"
    fi
    dir=$(dirname "$dir")
  done
}

# The Debian packages each server needs. `postgresql` is bookworm's PostgreSQL 15.
packages_for() {
  case $1 in
    # curl: check.sh and run.sh ask the servers and services over HTTP; a minimal Debian lacks it.
    pg) echo postgresql curl ;;
    mqtt) echo mosquitto mosquitto-clients ;;
    ch) echo clickhouse-server clickhouse-client ;;
  esac
}

ensure_packages() {
  local missing=() pkg svc
  for svc in "$@"; do
    for pkg in $(packages_for "$svc"); do
      [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) == "install ok installed" ]] || missing+=("$pkg")
    done
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  # No stdin in CI: never let apt or a maintainer script ask anything. The lock timeout waits
  # out another apt run instead of failing.
  export DEBIAN_FRONTEND=noninteractive
  apt-get -q -o DPkg::Lock::Timeout=300 update </dev/null >/dev/null
  apt-get -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef \
    -o Dpkg::Options::=--force-confold install "${missing[@]}" </dev/null >/dev/null
}

# Passwords are made once and kept in $STATE/secrets, so data made by an earlier `up` stays usable.
load_secrets() {
  local key
  unset PG_PASSWORD MQTT_SERVICE_PASSWORD MQTT_GATE_PASSWORD MQTT_ADMIN_PASSWORD CH_PASSWORD
  (umask 077 && touch "$SECRETS")
  # shellcheck source=/dev/null
  . "$SECRETS"
  for key in PG_PASSWORD MQTT_SERVICE_PASSWORD MQTT_GATE_PASSWORD MQTT_ADMIN_PASSWORD CH_PASSWORD; do
    if [[ -z ${!key:-} ]]; then
      printf -v "$key" '%s' "$(gen_password)"
      printf '%s=%s\n' "$key" "${!key}" >>"$SECRETS"
    fi
  done
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL 15: initdb and the server run as `postgres` (initdb refuses root).

pg_running() { pid_alive "$PG_DATA/postmaster.pid" postgres; }
pg_port() { sed -n 's/^port = \([0-9]*\)$/\1/p' "$PG_DATA/vnpass.conf" 2>/dev/null || true; }

pg_start() {
  PG_PORT=$(choose_port postgres VNPASS_PG_PORT "$PG_PORT")
  install -d -o postgres -g postgres -m 750 "$PG_DIR"
  if [[ ! -f $PG_DATA/PG_VERSION ]]; then
    log "postgres: creating cluster in $PG_DATA"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DATA" -U postgres \
      --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 \
      >"$PG_DIR/initdb.log" 2>&1 </dev/null || fail_with_log "initdb failed" "$PG_DIR/initdb.log"
    # Our settings live in a file of their own, rewritten at each start; initdb's file stays as is.
    echo "include 'vnpass.conf'" >>"$PG_DATA/postgresql.conf"
  fi
  cat >"$PG_DATA/vnpass.conf" <<EOF
# Written by deploy/local/stack.sh at each start: change the script, not this file.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
max_connections = 200
shared_buffers = 256MB
fsync = on
synchronous_commit = on
max_wal_size = 2GB
log_line_prefix = '%m [%p] %q%u@%d '
EOF
  chown postgres:postgres "$PG_DATA/vnpass.conf"
  # pg_ctl -w returns as soon as the server accepts connections, or fails fast if it dies.
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$WAIT_SECS" start \
    >/dev/null </dev/null 9>&- || fail_with_log "postgres did not start" "$PG_LOG"
  # The password follows $STATE/secrets, also if that file was remade: set it at each start.
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U postgres -d postgres >/dev/null <<EOF
SELECT 'CREATE ROLE vnpass' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vnpass') \gexec
ALTER ROLE vnpass WITH LOGIN SUPERUSER PASSWORD '$PG_PASSWORD';
EOF
}

# Log in as the services do: TCP, vnpass, scram password.
pg_ready() {
  [[ $(PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=2 "$PG_BIN/psql" -X -At -h 127.0.0.1 \
    -p "$(pg_port)" -U vnpass -d postgres -c 'SELECT 1' </dev/null) == 1 ]]
}

pg_wait() { wait_ready postgres pg_running pg_ready "$PG_LOG"; }

pg_stop() {
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$WAIT_SECS" stop >/dev/null </dev/null
}

pg_describe() { echo "postgres   127.0.0.1:${1:-$PG_PORT}  data $PG_DATA  log $PG_LOG"; }

# ---------------------------------------------------------------------------------------------
# Mosquitto 2: runs as `mosquitto` in a folder it owns, so it never needs root nor drops it.

mqtt_running() { pid_alive "$MQTT_PID" "$MQTT_CONF"; }
mqtt_port() { awk '$1 == "listener" { print $2; exit }' "$MQTT_CONF" 2>/dev/null || true; }

mqtt_write_config() {
  local plugin
  plugin=$(mqtt_dynsec_plugin) || die "mosquitto: mosquitto_dynamic_security.so not found (it ships in Debian's mosquitto package)"
  install -d -o mosquitto -g mosquitto -m 750 "$MQTT_DIR" "$MQTT_DIR/data"
  cat >"$MQTT_CONF" <<EOF
# Written by deploy/local/stack.sh at each start: change the script, not this file.
per_listener_settings false
listener $MQTT_PORT 127.0.0.1
allow_anonymous false
# Logins, roles and ACLs: the dynamic-security plugin, changed at run time over
# \$CONTROL/dynamic-security/v1 by $MQTT_ADMIN_USER. Every device has its own login.
plugin $plugin
plugin_opt_config_file $MQTT_DYNSEC

# Queued QoS 1 taps survive a broker restart.
persistence true
persistence_location $MQTT_DIR/data/
autosave_interval 60
# A persistent session (clean session false) is dropped after its client was away this long.
persistent_client_expiration 3d

# The defaults (1000 queued, 20 in flight per client) silently drop QoS 1 bursts to a subscriber
# that falls behind: queue (nearly) without limit instead.
max_queued_messages 1000000
max_queued_bytes 0
max_inflight_messages 10000
max_inflight_bytes 0
# Without it Nagle's algorithm puts a ~40 ms floor under every request/response.
set_tcp_nodelay true

pid_file $MQTT_PID
log_dest file $MQTT_LOG
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
log_timestamp_format %Y-%m-%dT%H:%M:%S
EOF

  # The broker appends to its log as mosquitto; the start below also sends its stderr there.
  touch "$MQTT_LOG"
  chown mosquitto:mosquitto "$MQTT_LOG"

  # Users, roles and ACLs are the plugin's state, made once with only the administrator in it;
  # the broker saves every change to it. The platform's own users are (re)set after each start
  # (mqtt_platform_users), devices by deploy/local/devices.sh. (This script once used a password
  # file and an ACL file: they are gone.)
  rm -f "$MQTT_DIR/passwd" "$MQTT_DIR/acl"
  if [[ ! -s $MQTT_DYNSEC ]]; then
    rm -f "$MQTT_DYNSEC"
    mosquitto_ctrl dynsec init "$MQTT_DYNSEC" "$MQTT_ADMIN_USER" "$MQTT_ADMIN_PASSWORD" >/dev/null </dev/null ||
      die "mosquitto: could not create $MQTT_DYNSEC"
  fi
  chown mosquitto:mosquitto "$MQTT_CONF" "$MQTT_DYNSEC"
  chmod 640 "$MQTT_CONF"
  chmod 600 "$MQTT_DYNSEC"
}

# mosquitto_dynamic_security.so ships in Debian's mosquitto package, under the multiarch folder.
mqtt_dynsec_plugin() {
  local f
  for f in /usr/lib/*/mosquitto_dynamic_security.so /usr/lib/mosquitto_dynamic_security.so; do
    if [[ -f $f ]]; then
      echo "$f"
      return 0
    fi
  done
  return 1
}

mqtt_start() {
  MQTT_PORT=$(choose_port mosquitto VNPASS_MQTT_PORT "$MQTT_PORT")
  mqtt_write_config
  # setpriv execs in place (runuser would fork), so $! is the broker itself; setsid detaches it
  # from the caller's process group and terminal.
  setsid setpriv --reuid=mosquitto --regid=mosquitto --init-groups \
    mosquitto -c "$MQTT_CONF" >>"$MQTT_LOG" 2>&1 </dev/null 9>&- &
  MQTT_LAUNCH_PID=$!
}

# The pid file appears a moment after launch: until then, the launched pid says it is alive.
mqtt_alive() { mqtt_running || ! process_gone "${MQTT_LAUNCH_PID:-0}"; }

# Connect and subscribe to the plugin's answers as the administrator, the one user that exists
# from the start: proves listener and plugin. -E exits right after the SUBACK.
mqtt_ready() {
  # shellcheck disable=SC2016 # $CONTROL is a topic, not a variable
  mosquitto_sub -h 127.0.0.1 -p "$(mqtt_port)" -u "$MQTT_ADMIN_USER" -P "$MQTT_ADMIN_PASSWORD" \
    -t '$CONTROL/dynamic-security/v1/response' -E </dev/null
}

# mqtt_control JSON: send one request of commands to the dynamic-security plugin as the
# administrator and print its answer ({"responses":[...]}, one per command, in order).
mqtt_control() {
  # shellcheck disable=SC2016 # $CONTROL is a topic, not a variable
  mosquitto_rr -h 127.0.0.1 -p "$(mqtt_port)" -u "$MQTT_ADMIN_USER" -P "$MQTT_ADMIN_PASSWORD" \
    -t '$CONTROL/dynamic-security/v1' -e '$CONTROL/dynamic-security/v1/response' -W 10 -m "$1" </dev/null
}

# acl TYPE TOPIC...: dynamic-security ACL entries that allow TYPE on each TOPIC, comma-separated.
acl() {
  local type=$1 out=() topic
  shift
  for topic in "$@"; do
    out+=("{\"acltype\":\"$type\",\"topic\":\"$topic\",\"allow\":true}")
  done
  (IFS=,; echo "${out[*]}")
}

# The platform's users and what they may do, set after every start of the broker from this
# script (a running broker is left alone: changing a role disconnects its clients). Anything not
# allowed is denied, subscriptions included (Mosquitto then answers 0x80 in the SUBACK).
# Devices are not here: each has its own login and role (deploy/local/devices.sh).
mqtt_platform_users() {
  local svc gate test=vnpass/t/+/v1 reply
  # Platform services: everything under vnpass/, and shared subscriptions $share/<group>/vnpass/...
  # shellcheck disable=SC2016 # $share is part of the topic
  svc="$(acl publishClientSend 'vnpass/#'),$(acl publishClientReceive 'vnpass/#'),$(acl subscribePattern 'vnpass/#' '$share/+/vnpass/#')"
  # The shared gate login, kept for tests that run gates without provisioning them: test roots
  # vnpass/t/<run-id>/v1 only, never the real root vnpass/v1. Taps and status out, decisions
  # and config in.
  gate="$(acl publishClientSend "$test/taps/#" "$test/status/#"),$(acl publishClientReceive "$test/decisions/#" "$test/config/#"),$(acl subscribePattern "$test/decisions/#" "$test/config/#")"
  reply=$(mqtt_control "{\"commands\":[
{\"command\":\"setDefaultACLAccess\",\"acls\":[{\"acltype\":\"publishClientSend\",\"allow\":false},{\"acltype\":\"publishClientReceive\",\"allow\":false},{\"acltype\":\"subscribe\",\"allow\":false},{\"acltype\":\"unsubscribe\",\"allow\":true}]},
{\"command\":\"createRole\",\"rolename\":\"vnpass-service\"},
{\"command\":\"modifyRole\",\"rolename\":\"vnpass-service\",\"acls\":[$svc]},
{\"command\":\"createRole\",\"rolename\":\"vnpass-gate-test\"},
{\"command\":\"modifyRole\",\"rolename\":\"vnpass-gate-test\",\"acls\":[$gate]},
{\"command\":\"createClient\",\"username\":\"$MQTT_SERVICE_USER\"},
{\"command\":\"modifyClient\",\"username\":\"$MQTT_SERVICE_USER\",\"password\":\"$MQTT_SERVICE_PASSWORD\",\"roles\":[{\"rolename\":\"vnpass-service\"}]},
{\"command\":\"createClient\",\"username\":\"$MQTT_GATE_USER\"},
{\"command\":\"modifyClient\",\"username\":\"$MQTT_GATE_USER\",\"password\":\"$MQTT_GATE_PASSWORD\",\"roles\":[{\"rolename\":\"vnpass-gate-test\"}]}
]}") || fail_with_log "mosquitto: no answer from the dynamic-security plugin" "$MQTT_LOG"
  # "already exists" is the normal answer of a create after the first start.
  reply=${reply//\"error\":\"Role already exists\"/}
  reply=${reply//\"error\":\"Client already exists\"/}
  [[ $reply != *'"error"'* ]] || die "mosquitto: setting the platform users failed: $reply"
  # The service user now logs in and subscribes.
  mosquitto_sub -h 127.0.0.1 -p "$(mqtt_port)" -u "$MQTT_SERVICE_USER" -P "$MQTT_SERVICE_PASSWORD" \
    -t vnpass/_stack/ping -E </dev/null >/dev/null || fail_with_log "mosquitto: $MQTT_SERVICE_USER cannot log in" "$MQTT_LOG"
}

mqtt_wait() { wait_ready mosquitto mqtt_alive mqtt_ready "$MQTT_LOG"; }
mqtt_stop() { stop_pid mosquitto "$MQTT_PID"; }
mqtt_describe() { echo "mosquitto  127.0.0.1:${1:-$MQTT_PORT}  conf $MQTT_CONF  log $MQTT_LOG"; }

# ---------------------------------------------------------------------------------------------
# ClickHouse (18.16 on bookworm): the packaged config.xml and users.xml are copied as they are;
# our changes sit in config.d/ and users.d/, which ClickHouse merges over them. It runs as root.

ch_running() { pid_alive "$CH_PID" "$CH_CONF"; }
ch_tcp_port() { sed -n 's:.*<tcp_port>\([0-9]*\)</tcp_port>.*:\1:p' "$CH_DIR/config.d/vnpass.xml" 2>/dev/null || true; }
ch_http_port() { sed -n 's:.*<http_port>\([0-9]*\)</http_port>.*:\1:p' "$CH_DIR/config.d/vnpass.xml" 2>/dev/null || true; }

ch_write_config() {
  local dir hash
  for dir in "$CH_DIR" "$CH_DIR/config.d" "$CH_DIR/users.d" "$CH_DIR/data" "$CH_DIR/tmp" \
    "$CH_DIR/user_files" "$CH_DIR/format_schemas" "$CH_DIR/log"; do
    install -d -m 750 "$dir"
  done
  cp /etc/clickhouse-server/config.xml /etc/clickhouse-server/users.xml "$CH_DIR/"

  # Leaf values replace the packaged ones; remove="remove" drops an element. The packaged
  # interserver port (9009) is for replication, which a dev box does not do.
  cat >"$CH_DIR/config.d/vnpass.xml" <<EOF
<?xml version="1.0"?>
<!-- Written by deploy/local/stack.sh at each start: change the script, not this file. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$CH_LOG</log>
        <errorlog>$CH_ERRLOG</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$CH_TCP_PORT</tcp_port>
    <http_port>$CH_HTTP_PORT</http_port>
    <interserver_http_port remove="remove"/>
    <path>$CH_DIR/data/</path>
    <tmp_path>$CH_DIR/tmp/</tmp_path>
    <user_files_path>$CH_DIR/user_files/</user_files_path>
    <format_schema_path>$CH_DIR/format_schemas/</format_schema_path>
    <!-- Do not depend on the machine's zone: dates of taps come out the same on every box. -->
    <timezone>UTC</timezone>
    <!-- Two "shards" on this one server, each a database of its own, so that the Distributed
         variant of the analytics schema (services/ridershipch ClusterSchema) is tested for real:
         inserts spread over shards, queries merged across them. Replication needs Keeper and is
         not run here. -->
    <remote_servers>
        <vnpass_two_shards>
            <shard><replica><host>127.0.0.1</host><port>$CH_TCP_PORT</port><user>default</user><password>$CH_PASSWORD</password><default_database>vnpass_shard1</default_database></replica></shard>
            <shard><replica><host>127.0.0.1</host><port>$CH_TCP_PORT</port><user>default</user><password>$CH_PASSWORD</password><default_database>vnpass_shard2</default_database></replica></shard>
        </vnpass_two_shards>
    </remote_servers>
</yandex>
EOF

  hash=$(printf '%s' "$CH_PASSWORD" | sha256sum | cut -d' ' -f1)
  # The packaged users.xml lets `default` in from anywhere without a password, and has a
  # password-less `readonly` user: give default a password and localhost only, drop readonly.
  cat >"$CH_DIR/users.d/vnpass.xml" <<EOF
<?xml version="1.0"?>
<!-- Written by deploy/local/stack.sh at each start: change the script, not this file. -->
<yandex>
    <users>
        <default>
            <password remove="remove"/>
            <password_sha256_hex>$hash</password_sha256_hex>
            <networks replace="replace">
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
        </default>
        <readonly remove="remove"/>
    </users>
</yandex>
EOF

  # A client config, so a person can type: clickhouse-client --config-file=$CH_DIR/client.xml
  (umask 077 && cat >"$CH_DIR/client.xml" <<EOF
<?xml version="1.0"?>
<config>
    <host>127.0.0.1</host>
    <port>$CH_TCP_PORT</port>
    <user>default</user>
    <password>$CH_PASSWORD</password>
</config>
EOF
  )
}

ch_start() {
  CH_TCP_PORT=$(choose_port clickhouse VNPASS_CH_TCP_PORT "$CH_TCP_PORT")
  CH_HTTP_PORT=$(choose_port clickhouse VNPASS_CH_HTTP_PORT "$CH_HTTP_PORT")
  ch_write_config
  # 18.16 writes --pid-file only in --daemon mode, which closes stdout/stderr and so loses the
  # errors of a bad config. So run it in the foreground in a session of its own and write the pid
  # file ourselves: the shell records its own pid, then becomes the server (exec keeps the pid).
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
  (cd "$CH_DIR" && exec setsid bash -c 'echo $$ >"$1" && shift && exec "$@"' _ "$CH_PID" \
    clickhouse-server --config-file="$CH_CONF" >>"$CH_STDOUT" 2>&1 </dev/null 9>&-) &
  CH_LAUNCH_PID=$!
}

ch_alive() { ch_running || ! process_gone "${CH_LAUNCH_PID:-0}"; }

# GET /ping over bash's /dev/tcp: the HTTP port answers "Ok." without credentials.
ch_http_ping() {
  local port reply
  port=$(ch_http_port)
  reply=$(
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf 'GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    timeout 2 cat <&3
  ) || return 1
  [[ $reply == *"Ok."* ]]
}

ch_ready() {
  [[ $(clickhouse-client --host 127.0.0.1 --port "$(ch_tcp_port)" --user default \
    --password "$CH_PASSWORD" --query 'SELECT 1' </dev/null) == 1 ]] && ch_http_ping
}

ch_wait() { wait_ready clickhouse ch_alive ch_ready "$CH_ERRLOG" "$CH_STDOUT"; }
ch_stop() { stop_pid clickhouse "$CH_PID"; }
ch_describe() {
  echo "clickhouse 127.0.0.1:${1:-$CH_TCP_PORT} (http ${2:-$CH_HTTP_PORT})  data $CH_DIR/data  log $CH_LOG"
}

# ---------------------------------------------------------------------------------------------
# env file

write_env() {
  local pg=${1:-$PG_PORT} mqtt=${2:-$MQTT_PORT} ch_tcp=${3:-$CH_TCP_PORT} ch_http=${4:-$CH_HTTP_PORT}
  # Written whole and then renamed, so a reader never sees half a file.
  (umask 077 && cat >"$ENV_FILE.tmp" <<EOF
VNPASS_PG_URL=postgres://vnpass:$PG_PASSWORD@127.0.0.1:$pg/postgres?sslmode=disable
VNPASS_MQTT_URL=tcp://127.0.0.1:$mqtt
VNPASS_MQTT_SERVICE_USER=$MQTT_SERVICE_USER
VNPASS_MQTT_SERVICE_PASSWORD=$MQTT_SERVICE_PASSWORD
VNPASS_MQTT_GATE_USER=$MQTT_GATE_USER
VNPASS_MQTT_GATE_PASSWORD=$MQTT_GATE_PASSWORD
VNPASS_MQTT_ADMIN_USER=$MQTT_ADMIN_USER
VNPASS_MQTT_ADMIN_PASSWORD=$MQTT_ADMIN_PASSWORD
VNPASS_CH_ADDR=127.0.0.1:$ch_tcp
VNPASS_CH_USER=default
VNPASS_CH_PASSWORD=$CH_PASSWORD
VNPASS_CH_HTTP=http://127.0.0.1:$ch_http
EOF
  )
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

# ---------------------------------------------------------------------------------------------
# commands

# Only one up/down at a time per state folder: parallel test jobs may all call `up`. The servers
# are started with fd 9 closed: a server that inherited it would hold the lock for ever.
lock_state() {
  exec 9>"$STATE/.lock"
  flock -w 300 9 || die "another stack.sh holds $STATE/.lock"
}

# Actual ports of a running server, else the ones the next start will use.
current_ports() {
  case $1 in
    pg) pg_running && pg_port || echo "$PG_PORT" ;;
    mqtt) mqtt_running && mqtt_port || echo "$MQTT_PORT" ;;
    ch) ch_running && echo "$(ch_tcp_port) $(ch_http_port)" || echo "$CH_TCP_PORT $CH_HTTP_PORT" ;;
  esac
}

cmd_up() {
  local svc started=()
  need_root
  ensure_packages "$@"
  [[ -x $PG_BIN/initdb ]] || die "PostgreSQL 15 is not in $PG_BIN (bookworm's postgresql package)"
  mkdir -p "$STATE"
  ensure_traversable "$STATE"
  lock_state
  load_secrets

  # ClickHouse takes longest to start: launch it and mosquitto first, start postgres (which
  # waits by itself) meanwhile, then wait for all. Running servers are left alone.
  for svc in ch mqtt pg; do
    [[ " $* " == *" $svc "* ]] || continue
    if "${svc}_running"; then
      log "$svc already running, port $(current_ports "$svc")"
    else
      "${svc}_start"
      started+=("$svc")
    fi
  done
  for svc in "$@"; do
    "${svc}_wait"
  done
  if [[ " ${started[*]} " == *" mqtt "* ]]; then
    mqtt_platform_users
  elif [[ " $* " == *" mqtt "* ]] && ! grep -q '^plugin_opt_config_file' "$MQTT_CONF"; then
    log "warning: mosquitto was started by an older stack.sh (password file, one login for all gates);"
    log "         restart it for per-device logins: $0 down mqtt && $0 up mqtt"
  fi

  # A running server keeps the port it was started with, whatever the environment says now.
  local pg mqtt ch
  pg=$(current_ports pg)
  mqtt=$(current_ports mqtt)
  ch=$(current_ports ch)
  # shellcheck disable=SC2086 # ch holds two words: tcp and http port
  write_env "$pg" "$mqtt" $ch
  if ((${#started[@]})); then log "started: ${started[*]}"; fi
  log "ready; env in $ENV_FILE (use: set -a; . $ENV_FILE; set +a)"
}

cmd_down() {
  local svc
  need_root
  [[ -d $STATE ]] || { log "nothing to stop: no $STATE"; return 0; }
  lock_state
  for svc in ch mqtt pg; do
    [[ " $* " == *" $svc "* ]] || continue
    if "${svc}_running"; then
      "${svc}_stop"
      log "$svc stopped"
    else
      log "$svc not running"
    fi
  done
}

cmd_status() {
  local svc rc=0 ports pid
  for svc in "$@"; do
    ports=$(current_ports "$svc")
    if "${svc}_running"; then
      case $svc in
        pg) pid=$(read_pid "$PG_DATA/postmaster.pid") ;;
        mqtt) pid=$(read_pid "$MQTT_PID") ;;
        ch) pid=$(read_pid "$CH_PID") ;;
      esac
      printf 'running  pid %-7s ' "$pid"
    else
      printf 'stopped  %-11s ' ""
      rc=3 # LSB: program is not running
    fi
    # shellcheck disable=SC2086 # ports: one word, or two for ClickHouse (tcp, http)
    "${svc}_describe" $ports
  done
  return "$rc"
}

cmd_env() {
  [[ -f $ENV_FILE ]] || die "no $ENV_FILE yet: run '$0 up' first"
  cat "$ENV_FILE"
}

usage() {
  # The header comment of this file is the help text.
  awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}" >&2
  exit 2
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  local svc
  for svc in "$@"; do
    [[ " ${ALL_SERVICES[*]} " == *" $svc "* ]] || die "unknown server '$svc' (pg, mqtt or ch)"
  done
  (($#)) || set -- "${ALL_SERVICES[@]}"
  case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    env) cmd_env ;;
    *) usage ;;
  esac
}

main "$@"
