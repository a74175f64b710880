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

bin/vnpass-fare >"$VNPASS_STATE_DIR/logs/vnpass-fare.log" 2>&1 &
pids+=($!)
wait_http "$VNPASS_API_URL/healthz" "$VNPASS_STATE_DIR/logs/vnpass-fare.log"

VNPASS_API_TOKEN=$(bin/vnpass-fare token -role admin -sub run-sh -ttl 1h)
export VNPASS_API_TOKEN

bin/vnpass-rush "$@"

# Let the exporter flush its last batch, then check the books.
sleep 1
echo
bin/vnpass-fare books

cat <<EOT

── Xem ở đâu / Where to look ──────────────────────
first         set -a; . .run/env; . .run/app.env; set +a
metrics       curl -s $VNPASS_API_URL/metrics
account API   curl -s -H "Authorization: Bearer \$(bin/vnpass-fare token)" $VNPASS_API_URL/v1/accounts/<subject>
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
