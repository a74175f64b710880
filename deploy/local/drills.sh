#!/usr/bin/env bash
# Every fault drill of issue 9, one after another, each during a sustained
# load (default 1,000 taps/s for 40 s, the fault halfway): the fare service
# killed and restarted, PostgreSQL restarted, Mosquitto restarted, ClickHouse
# down for a minute. Each run fails unless every tap the gates made is
# recorded once, no journey is charged twice and the ledger balances.
# (A gate offline for minutes is turnstile-agent's drill:
#  go test ./turnstile-agent -run Drill -v -args -drill.)
# Arguments go to every vnpass-load run, e.g. deploy/local/drills.sh -rate 2000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
for drill in kill-fare restart-pg restart-mqtt stop-ch; do
  echo "== drill $drill"
  deploy/local/load.sh -rate 1000 -for 40s -ceiling 0 -drill "$drill" -outage 60s "$@"
  echo
done
