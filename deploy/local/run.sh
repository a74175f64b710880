#!/usr/bin/env bash
# The platform with simulated gates, from nothing: install and start the
# servers, build and start the VNeID provider (simulated) and the fare
# service, then send riders through simulated Line 2A gates and print what
# every gate shows. Arguments go to vnpass-rush (e.g. -riders 500 -window 30s).
# At a terminal the services then keep running until Ctrl-C; the servers
# keep running after that (deploy/local/stack.sh down stops them).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VNPASS_ROOT"

need_go
deploy/local/stack.sh up
load_env

# The platform's own database, beside the server's maintenance database.
[[ $(psql "$VNPASS_PG_URL" -Atqc "select 1 from pg_database where datname = 'vnpass'") == 1 ]] ||
  psql "$VNPASS_PG_URL" -qc 'create database vnpass'
export VNPASS_PG_URL=${VNPASS_PG_URL/\/postgres\?/\/vnpass?}

echo "vnpass: building"
mkdir -p bin "$VNPASS_STATE_DIR/logs"
go build -o bin/ ./services/cmd/... ./loadtest/cmd/... ./turnstile-agent

VNEID_ADDR=${VNPASS_VNEID_ADDR:-127.0.0.1:58090}
export VNPASS_VNEID_URL=http://$VNEID_ADDR
export VNPASS_VNEID_ISSUER=$VNPASS_VNEID_URL
export VNPASS_VNEID_JWKS_URL=$VNPASS_VNEID_URL/.well-known/jwks.json
export VNPASS_API_ADDR=${VNPASS_API_ADDR:-127.0.0.1:58080}
export VNPASS_API_URL=http://$VNPASS_API_ADDR

pids=()
stop_services() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap stop_services EXIT

# wait_http URL LOG: until URL answers 200, or show the service's log.
wait_http() {
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "vnpass: $1 did not answer; last lines of $2:" >&2
  tail -n 30 "$2" >&2
  exit 1
}

VNEID_SIM_ADDR=$VNEID_ADDR VNEID_SIM_DIR=$VNPASS_STATE_DIR/vneid-sim VNEID_SIM_CLIENT_KEY=$VNPASS_VNEID_CLIENT_KEY \
  VNEID_SIM_ISSUER=$VNPASS_VNEID_ISSUER bin/vneid-sim >"$VNPASS_STATE_DIR/logs/vneid-sim.log" 2>&1 &
pids+=($!)
wait_http "$VNPASS_VNEID_URL/healthz" "$VNPASS_STATE_DIR/logs/vneid-sim.log"

# The simulated bank / e-wallet provider that post-paid riders link (the
# banks are not reachable from here); it keeps its state across runs.
PAY_ADDR=${VNPASS_PAY_ADDR:-127.0.0.1:58092}
export VNPASS_PAY_URL=http://$PAY_ADDR VNPASS_PAY_PROVIDER=paysim
PAY_SIM_ADDR=$PAY_ADDR PAY_SIM_CLIENT_KEY=$VNPASS_PAY_CLIENT_KEY PAY_SIM_NAME=paysim \
  PAY_SIM_STATE=$VNPASS_STATE_DIR/pay-sim.jsonl bin/pay-sim >"$VNPASS_STATE_DIR/logs/pay-sim.log" 2>&1 &
pids+=($!)
wait_http "$VNPASS_PAY_URL/healthz" "$VNPASS_STATE_DIR/logs/pay-sim.log"

# The dashboard's gate and device panel reads the fleet view (started below).
VNPASS_FLEET_URL=${VNPASS_FLEET_URL:-http://${VNPASS_FLEET_ADDR:-127.0.0.1:58070}} \
bin/vnpass-fare >"$VNPASS_STATE_DIR/logs/vnpass-fare.log" 2>&1 &
pids+=($!)
wait_http "$VNPASS_API_URL/healthz" "$VNPASS_STATE_DIR/logs/vnpass-fare.log"

VNPASS_API_TOKEN=$(bin/vnpass-fare token -role admin -sub run-sh -ttl 1h)
export VNPASS_API_TOKEN

# The fleet view: every gate's retained status, config pushes and their acknowledgements.
export VNPASS_FLEET_ADDR=${VNPASS_FLEET_ADDR:-127.0.0.1:58070}
FLEET_URL=http://$VNPASS_FLEET_ADDR
# It pushes the fare service's deny list (riders suspended or owing) to every gate, and each rail
# station's tickets departing in the next 6 hours to that station's rail gates, for the
# decisions a gate makes on its own when the cloud does not answer.
VNPASS_DENY_LIST_URL=$VNPASS_API_URL/v1/deny-list VNPASS_RAIL_TICKETS_URL=$VNPASS_API_URL/v1/rail/tickets bin/vnpass-fleet >"$VNPASS_STATE_DIR/logs/vnpass-fleet.log" 2>&1 &
pids+=($!)
wait_http "$FLEET_URL/healthz" "$VNPASS_STATE_DIR/logs/vnpass-fleet.log"

# Every gate logs in to the broker with a login of its own, which vnpass-rush provisions (as the
# broker's administrator, VNPASS_MQTT_ADMIN_USER) before it starts them: the real topic root
# admits no shared gate login. deploy/local/devices.sh does the same for a gate run by hand.
bin/vnpass-rush "$@"

# Let the exporter flush its last batch, then check the books.
sleep 1
echo
bin/vnpass-fare books

# Collect today's post-paid fares now (the service does it every night at
# 02:00), then reconcile the day: taps, journeys, ledger, the provider's report.
today=$(TZ=Asia/Ho_Chi_Minh date +%F)
echo
echo "post-paid collection $today: $(curl -fsS -X POST -H "Authorization: Bearer $VNPASS_API_TOKEN" \
  -H 'Content-Type: application/json' -d "{\"day\":\"$today\"}" "$VNPASS_API_URL/v1/collections/runs")"
echo
bin/vnpass-fare reconcile -day "$today"

# What the fleet view saw: the gates closed at the end of the rush, so they show offline.
echo
echo "fleet: $(curl -fsS -H "Authorization: Bearer $VNPASS_API_TOKEN" "$FLEET_URL/v1/devices" | grep -o '"summary":{[^}]*}')"

cat <<EOT

── Xem ở đâu / Where to look ──────────────────────
first         set -a; . .run/env; . .run/app.env; set +a
metrics       curl -s $VNPASS_API_URL/metrics
reconcile     bin/vnpass-fare reconcile -day $(TZ=Asia/Ho_Chi_Minh date +%F)
clearing      curl -s -H "Authorization: Bearer \$(bin/vnpass-fare token -role operator -operator hanoi-metro)" $VNPASS_API_URL/v1/clearing
account API   curl -s -H "Authorization: Bearer \$(bin/vnpass-fare token)" -H "X-Access-Reason: rider's request" $VNPASS_API_URL/v1/accounts/<subject>
fleet         curl -s -H "Authorization: Bearer \$(bin/vnpass-fare token -role operator)" $FLEET_URL/v1/devices
device logins deploy/local/devices.sh list | add SITE DEVICE | revoke DEVICE
ledger        psql "\${VNPASS_PG_URL/postgres?/vnpass?}" -c 'select kind, count(*), sum(amount) from ledger_entries e join ledger_transactions t on t.id = e.transaction_id where amount > 0 group by 1'
ridership     clickhouse-client --port \${VNPASS_CH_ADDR##*:} --password \$VNPASS_CH_PASSWORD -q 'select site, kind, count() from vnpass.taps final group by site, kind order by site'
logs          $VNPASS_STATE_DIR/logs/
servers       deploy/local/stack.sh status | down
EOT

# At a terminal, keep the services up for a look around; in CI, stop here.
if [[ -t 0 ]]; then
  echo
  echo "vnpass: services keep running; Ctrl-C stops them (the servers stay up)."
  wait
fi
