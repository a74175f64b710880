#!/usr/bin/env bash
# Every fault drill of issue 9, one after another, each during a sustained
# load (1,000 taps/s with the default mix of riders: metro, transfers,
# parking, rail, free-fare riders): the fare service killed and restarted,
# PostgreSQL restarted, Mosquitto restarted (each halfway through 40 s),
# ClickHouse down for a minute (mid-run in 100 s), and the network of the
# two busiest gates (real gate agents: queue on disk, offline decisions) cut
# for five minutes (mid-run in 7 minutes). Each run fails unless every tap
# the gates made is recorded once, no journey or parking session is charged
# twice, the ledger balances and ClickHouse equals PostgreSQL and the ledger;
# gate-offline also fails unless the cut-off gates kept deciding offline and
# drained their queues after.
# Arguments go to every vnpass-load run, e.g. deploy/local/drills.sh -rate 2000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
for drill in kill-fare restart-pg restart-mqtt; do
  echo "== drill $drill"
  deploy/local/load.sh -rate 1000 -for 40s -ceiling 0 -drill "$drill" "$@"
  echo
done
echo "== drill stop-ch"
deploy/local/load.sh -rate 1000 -for 100s -ceiling 0 -drill stop-ch -outage 60s "$@"
echo
echo "== drill gate-offline"
deploy/local/load.sh -rate 1000 -for 7m -ceiling 0 -drill gate-offline -outage 5m "$@"
