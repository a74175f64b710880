#!/usr/bin/env bash
# Smoke test of a running local stack (deploy/local/stack.sh up): every server answers with the
# credentials of $STATE/env, passwords are required, and the broker gives each login what it
# should, in the real topic root vnpass/v1 and in a test root vnpass/t/<run-id>/v1: a device only
# its own topics (two devices are provisioned for the check and revoked), the shared gate login
# only test roots, the services everything under vnpass/. Needs Go (devices.sh builds vnpass-fleet).
# Ends with "check: N passed, N failed"; exits 1 if anything failed.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${VNPASS_STATE:-$(cd "$SCRIPT_DIR/../.." && pwd)/.run}
[[ -f $STATE/env ]] || { echo "check: no $STATE/env: run stack.sh up first" >&2; exit 1; }
set -a
# shellcheck source=/dev/null
. "$STATE/env"
set +a

MQTT_HOSTPORT=${VNPASS_MQTT_URL#tcp://}
MQTT_HOST=${MQTT_HOSTPORT%:*}
MQTT_PORT=${MQTT_HOSTPORT##*:}
# Logins are arrays passed by name (login_args): user, password and, for a device, its client id.
# shellcheck disable=SC2034 # each is used by name
SVC=("$VNPASS_MQTT_SERVICE_USER" "$VNPASS_MQTT_SERVICE_PASSWORD")
GATE=("$VNPASS_MQTT_GATE_USER" "$VNPASS_MQTT_GATE_PASSWORD")
RUN_ID=chk$$$RANDOM
PG_PASS=${VNPASS_PG_URL#postgres://*:}
PG_PASS=${PG_PASS%%@*}

TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok    $*"; }
bad() { failed=$((failed + 1)); echo "FAIL  $*"; }

# ---------------------------------------------------------------------------------------------
# MQTT helpers. Mosquitto's dynamic-security plugin refuses a denied subscription in the SUBACK
# (0x80), applies read rules again when it delivers, and acknowledges a denied publish as usual
# (MQTT 3.1.1; MQTT 5 gets reason 135). So each rule is checked by whether a message arrives.
# A login is an array: user, password and, for a device, its client id.

# login_args NAME: mosquitto client options for the login in array NAME.
login_args() {
  local -n l=$1
  LOGIN=()
  if ((${#l[@]} > 0)); then LOGIN+=(-u "${l[0]}" -P "${l[1]}"); fi
  if ((${#l[@]} > 2)); then LOGIN+=(-i "${l[2]}"); fi
}

# sub_start OUT LOGIN TOPIC: subscribe in the background, return once the SUBACK is in.
sub_start() {
  local out=$1 i
  login_args "$2"
  : >"$out"
  # Line-buffered: to a file, mosquitto_sub would hold its SUBACK line in a buffer.
  stdbuf -oL mosquitto_sub -h "$MQTT_HOST" -p "$MQTT_PORT" "${LOGIN[@]}" -q 1 -v -d -W 10 -t "$3" \
    >"$out" 2>&1 </dev/null &
  SUB_PID=$!
  for ((i = 0; i < 100; i++)); do
    grep -q SUBACK "$out" && return 0
    sleep 0.05
  done
  echo "check: no SUBACK for $3 within 5s:" >&2
  cat "$out" >&2
  return 1
}

# pub LOGIN TOPIC MESSAGE
pub() {
  login_args "$1"
  mosquitto_pub -h "$MQTT_HOST" -p "$MQTT_PORT" "${LOGIN[@]}" -q 1 -t "$2" -m "$3" </dev/null
}

# delivery WANT DESC SUB_LOGIN SUB_TOPIC PUB_LOGIN PUB_TOPIC: WANT is yes or no.
delivery() {
  local want=$1 desc=$2 sub_login=$3 sub_topic=$4 pub_login=$5 pub_topic=$6
  local out=$TMP/sub.$RANDOM token=tok$RANDOM$RANDOM got=no i
  sub_start "$out" "$sub_login" "$sub_topic"
  pub "$pub_login" "$pub_topic" "$token"
  # QoS 1 on loopback arrives in a millisecond or two; 0.5 s is ample for "nothing arrived".
  for ((i = 0; i < 10; i++)); do
    grep -q "$token" "$out" && { got=yes; break; }
    sleep 0.05
  done
  kill "$SUB_PID" 2>/dev/null || true
  wait "$SUB_PID" 2>/dev/null || true
  if [[ $got == "$want" ]]; then ok "$desc"; else bad "$desc (delivered: $got)"; fi
}

# connect_refused DESC LOGIN
connect_refused() {
  local desc=$1 out
  login_args "$2"
  if out=$(mosquitto_pub -h "$MQTT_HOST" -p "$MQTT_PORT" "${LOGIN[@]}" -t vnpass/v1/taps/x/y -m x </dev/null 2>&1); then
    bad "$desc (connected)"
  elif [[ $out == *"not authorised"* ]]; then
    ok "$desc"
  else
    bad "$desc (unexpected: $out)"
  fi
}

# ---------------------------------------------------------------------------------------------
echo "== mosquitto $VNPASS_MQTT_URL"
# shellcheck disable=SC2034 # used by name
NOBODY=()
# shellcheck disable=SC2034 # used by name
WRONG=("${GATE[0]}" wrong)
connect_refused "anonymous client refused" NOBODY
connect_refused "wrong password refused" WRONG

# Two devices of this check's own, each with its own login (deploy/local/devices.sh).
SA=chk-a$RUN_ID SB=chk-b$RUN_ID DA=chk-da$RUN_ID DB=chk-db$RUN_ID
devices() { "$SCRIPT_DIR/devices.sh" "$@"; }
revoke_devices() { devices revoke "$DA" "$DB" >/dev/null 2>&1 || true; }
trap 'kill $(jobs -p) 2>/dev/null || true; revoke_devices; rm -rf "$TMP"' EXIT
login_of() { sed -n "s/^VNPASS_MQTT_GATE_PASSWORD=//p" <<<"$1"; }
A=("$DA" "$(login_of "$(devices add "$SA" "$DA")")" "gate-$DA")
# shellcheck disable=SC2034 # used by name, as A is
{
  B=("$DB" "$(login_of "$(devices add "$SB" "$DB")")" "gate-$DB")
  A_AS_B=("$DA" "${A[1]}" "gate-$DB")
  A_OTHER_ID=("$DA" "${A[1]}" "other-$DA")
  B_WITH_A_PW=("$DB" "${A[1]}" "gate-$DB")
}

echo "-- device logins"
connect_refused "device login with another device's client id refused" A_AS_B
connect_refused "device login with a client id not its own refused" A_OTHER_ID
connect_refused "device login with another device's password refused" B_WITH_A_PW
for root in vnpass/v1 "vnpass/t/$RUN_ID/v1"; do
  echo "-- device A in topic root $root"
  delivery yes "A publishes its taps, service reads them" SVC "$root/taps/#" A "$root/taps/$SA/$DA"
  delivery yes "A publishes its status, service reads it" SVC "$root/status/#" A "$root/status/$SA/$DA"
  delivery yes "service publishes A's decisions, A reads them" A "$root/decisions/$SA/$DA" SVC "$root/decisions/$SA/$DA"
  delivery yes "service publishes A's config, A reads it" A "$root/config/$SA/$DA" SVC "$root/config/$SA/$DA"
  delivery no "A cannot publish taps as B" SVC "$root/taps/#" A "$root/taps/$SB/$DB"
  delivery no "A cannot publish status as B" SVC "$root/status/#" A "$root/status/$SB/$DB"
  delivery no "A cannot publish taps at another site" SVC "$root/taps/#" A "$root/taps/$SB/$DA"
  delivery no "A cannot read B's decisions" A "$root/decisions/$SB/$DB" SVC "$root/decisions/$SB/$DB"
  delivery no "A cannot read B's config" A "$root/config/$SB/$DB" SVC "$root/config/$SB/$DB"
  delivery no "A cannot read B's decisions through a wildcard" A "$root/decisions/#" SVC "$root/decisions/$SB/$DB"
  delivery no "A cannot read taps" A "$root/taps/#" SVC "$root/taps/$SA/$DA"
  delivery no "A cannot publish decisions" SVC "$root/decisions/#" A "$root/decisions/$SA/$DA"
  delivery no "A cannot publish config" SVC "$root/config/#" A "$root/config/$SA/$DA"
  delivery no "A cannot publish elsewhere under the root" SVC "$root/#" A "$root/other/$SA/$DA"
done

echo "-- revocation"
out=$TMP/revoked
sub_start "$out" B "vnpass/v1/decisions/$SB/$DB"
pid=$SUB_PID
devices revoke "$DB" >/dev/null
for ((i = 0; i < 40; i++)); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
if ! kill -0 "$pid" 2>/dev/null && grep -q "not authorised" "$out"; then
  ok "a revoked device is disconnected at once and refused when it reconnects"
else
  bad "a revoked device is disconnected at once and refused when it reconnects"
  kill "$pid" 2>/dev/null || true
fi
wait "$pid" 2>/dev/null || true
connect_refused "a revoked device cannot connect" B

echo "-- shared gate login (tests only)"
for root in vnpass/v1 "vnpass/t/$RUN_ID/v1"; do
  want=yes
  [[ $root == vnpass/v1 ]] && want=no
  delivery $want "shared gate login publishes taps in $root: $want" SVC "$root/taps/#" GATE "$root/taps/s1/g1"
  delivery $want "shared gate login publishes status in $root: $want" SVC "$root/status/#" GATE "$root/status/s1/g1"
  delivery $want "shared gate login reads decisions in $root: $want" GATE "$root/decisions/#" SVC "$root/decisions/s1/g1"
  delivery $want "shared gate login reads config in $root: $want" GATE "$root/config/s1/g1" SVC "$root/config/s1/g1"
done
root=vnpass/t/$RUN_ID/v1
delivery no "shared gate login cannot read taps" GATE "$root/taps/#" SVC "$root/taps/s1/g1"
delivery no "shared gate login cannot publish decisions" SVC "$root/decisions/#" GATE "$root/decisions/s1/g1"
delivery no "shared gate login cannot publish elsewhere under the root" SVC "$root/#" GATE "$root/other/s1/g1"
delivery no "shared gate login cannot publish to another version's test root" SVC "vnpass/#" GATE "vnpass/t/$RUN_ID/v2/taps/s1/g1"

echo "-- shared subscription"
# Two members of one group share the taps round robin: each gets some, together all, once.
root=vnpass/t/$RUN_ID/v1
sub_start "$TMP/share1" SVC "\$share/chk/$root/taps/#"
pid1=$SUB_PID
sub_start "$TMP/share2" SVC "\$share/chk/$root/taps/#"
pid2=$SUB_PID
for i in $(seq 1 10); do pub A "$root/taps/$SA/$DA" "share$RUN_ID-$i"; done
for ((i = 0; i < 40; i++)); do
  (($(cat "$TMP/share1" "$TMP/share2" | grep -c "share$RUN_ID-") >= 10)) && break
  sleep 0.05
done
sleep 0.2 # any duplicate would show up now
kill "$pid1" "$pid2" 2>/dev/null || true
wait "$pid1" "$pid2" 2>/dev/null || true
n1=$(grep -c "share$RUN_ID-" "$TMP/share1" || true)
n2=$(grep -c "share$RUN_ID-" "$TMP/share2" || true)
if ((n1 > 0 && n2 > 0 && n1 + n2 == 10)); then
  ok "service \$share/<group>/... subscription: $n1 + $n2 of 10 taps"
else
  bad "service \$share/<group>/... subscription: $n1 + $n2 of 10 taps"
fi
revoke_devices

# ---------------------------------------------------------------------------------------------
echo "== postgres ${VNPASS_PG_URL/:$PG_PASS@/:***@}"
db=vnpass_check_$RUN_ID
if [[ $(psql -X -At "$VNPASS_PG_URL" -c 'SELECT current_user' </dev/null) == vnpass ]]; then
  ok "vnpass logs in over TCP with its password"
else
  bad "vnpass logs in over TCP with its password"
fi
if psql -X -q "$VNPASS_PG_URL" -c "CREATE DATABASE $db" -c "DROP DATABASE $db" </dev/null; then
  ok "vnpass creates and drops a database"
else
  bad "vnpass creates and drops a database"
fi
if PGCONNECT_TIMEOUT=2 psql -X -At "${VNPASS_PG_URL/:$PG_PASS@/:wrong@}" -c 'SELECT 1' </dev/null >/dev/null 2>&1; then
  bad "wrong password refused"
else
  ok "wrong password refused"
fi

# ---------------------------------------------------------------------------------------------
echo "== clickhouse native $VNPASS_CH_ADDR, http $VNPASS_CH_HTTP"
ch_host=${VNPASS_CH_ADDR%:*}
ch_port=${VNPASS_CH_ADDR##*:}
if [[ $(clickhouse-client --host "$ch_host" --port "$ch_port" --user "$VNPASS_CH_USER" \
  --password "$VNPASS_CH_PASSWORD" --query 'SELECT 1' </dev/null) == 1 ]]; then
  ok "native port answers SELECT 1 with the password"
else
  bad "native port answers SELECT 1 with the password"
fi
if clickhouse-client --host "$ch_host" --port "$ch_port" --query 'SELECT 1' </dev/null >/dev/null 2>&1; then
  bad "native port refuses no password"
else
  ok "native port refuses no password"
fi
if [[ $(curl -fsS -u "$VNPASS_CH_USER:$VNPASS_CH_PASSWORD" --data-binary 'SELECT 1' "$VNPASS_CH_HTTP/") == 1 ]]; then
  ok "http port answers SELECT 1 with the password"
else
  bad "http port answers SELECT 1 with the password"
fi
if curl -fsS --data-binary 'SELECT 1' "$VNPASS_CH_HTTP/" >/dev/null 2>&1; then
  bad "http port refuses no password"
else
  ok "http port refuses no password"
fi

echo "check: $passed passed, $failed failed"
((failed == 0))
