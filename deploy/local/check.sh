#!/usr/bin/env bash
# Smoke test of a running local stack (deploy/local/stack.sh up): every server answers with the
# credentials of $STATE/env, passwords are required, and the Mosquitto ACL gives each user what
# it should, in the real topic root vnpass/v1 and in a test root vnpass/t/<run-id>/v1.
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
# MQTT helpers. Mosquitto 2.0 grants every subscription in its SUBACK and applies read rules when
# it delivers; a publish the ACL denies still gets a PUBACK (MQTT 3.1.1; MQTT 5 gets reason 135).
# So each rule is checked by whether a message arrives.

# sub_start OUT USER PASS TOPIC: subscribe in the background, return once the SUBACK is in.
sub_start() {
  local out=$1 i
  : >"$out"
  # Line-buffered: to a file, mosquitto_sub would hold its SUBACK line in a buffer.
  stdbuf -oL mosquitto_sub -h "$MQTT_HOST" -p "$MQTT_PORT" -u "$2" -P "$3" -q 1 -v -d -W 10 -t "$4" \
    >"$out" 2>&1 </dev/null &
  SUB_PID=$!
  for ((i = 0; i < 100; i++)); do
    grep -q SUBACK "$out" && return 0
    sleep 0.05
  done
  echo "check: no SUBACK for $4 within 5s:" >&2
  cat "$out" >&2
  return 1
}

pub() {
  mosquitto_pub -h "$MQTT_HOST" -p "$MQTT_PORT" -u "$1" -P "$2" -q 1 -t "$3" -m "$4" </dev/null
}

# delivery WANT DESC SUB_USER SUB_TOPIC PUB_USER PUB_TOPIC: WANT is yes or no.
delivery() {
  local want=$1 desc=$2 sub_user=$3 sub_topic=$4 pub_user=$5 pub_topic=$6
  local out=$TMP/sub.$RANDOM token=tok$RANDOM$RANDOM got=no i
  local -n su=$sub_user pu=$pub_user
  sub_start "$out" "${su[@]}" "$sub_topic"
  pub "${pu[@]}" "$pub_topic" "$token"
  # QoS 1 on loopback arrives in milliseconds; 1 s is ample for "nothing arrived".
  for ((i = 0; i < 20; i++)); do
    grep -q "$token" "$out" && { got=yes; break; }
    sleep 0.05
  done
  kill "$SUB_PID" 2>/dev/null || true
  wait "$SUB_PID" 2>/dev/null || true
  if [[ $got == "$want" ]]; then ok "$desc"; else bad "$desc (delivered: $got)"; fi
}

connect_refused() {
  local desc=$1 out
  shift
  if out=$(mosquitto_pub -h "$MQTT_HOST" -p "$MQTT_PORT" "$@" -t vnpass/v1/taps/x -m x </dev/null 2>&1); then
    bad "$desc (connected)"
  elif [[ $out == *"not authorised"* ]]; then
    ok "$desc"
  else
    bad "$desc (unexpected: $out)"
  fi
}

# ---------------------------------------------------------------------------------------------
echo "== mosquitto $VNPASS_MQTT_URL"
connect_refused "anonymous client refused" 
connect_refused "wrong password refused" -u "${GATE[0]}" -P wrong

for root in vnpass/v1 "vnpass/t/$RUN_ID/v1"; do
  echo "-- topic root $root"
  delivery yes "gate publishes taps, service reads them" SVC "$root/taps/#" GATE "$root/taps/g1"
  delivery yes "gate publishes status, service reads it" SVC "$root/status/#" GATE "$root/status/g1"
  delivery yes "service publishes decisions, gate reads them" GATE "$root/decisions/#" SVC "$root/decisions/g1"
  delivery yes "service publishes config, gate reads it" GATE "$root/config/g1" SVC "$root/config/g1"
  delivery no "gate cannot read taps" GATE "$root/taps/#" SVC "$root/taps/g1"
  delivery no "gate cannot read status" GATE "$root/status/#" SVC "$root/status/g1"
  delivery no "gate cannot publish decisions" SVC "$root/decisions/#" GATE "$root/decisions/g1"
  delivery no "gate cannot publish config" SVC "$root/config/#" GATE "$root/config/g1"
  delivery no "gate cannot publish elsewhere under the root" SVC "$root/#" GATE "$root/other/g1"
done
echo "-- outside the roots"
delivery no "gate cannot read vnpass/# as a whole" GATE "vnpass/#" SVC "vnpass/v1/taps/g1"
delivery no "gate cannot publish to another version's test root" SVC "vnpass/#" GATE "vnpass/t/$RUN_ID/v2/taps/g1"

echo "-- shared subscription"
# Two members of one group share the taps round robin: each gets some, together all, once.
root=vnpass/t/$RUN_ID/v1
sub_start "$TMP/share1" "${SVC[@]}" "\$share/chk/$root/taps/#"
pid1=$SUB_PID
sub_start "$TMP/share2" "${SVC[@]}" "\$share/chk/$root/taps/#"
pid2=$SUB_PID
for i in $(seq 1 10); do pub "${GATE[@]}" "$root/taps/g$i" "share$RUN_ID-$i"; done
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
