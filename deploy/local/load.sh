#!/usr/bin/env bash
# The platform at a sustained tap rate on this machine (issue 9): starts the
# servers, builds the fare service and runs vnpass-load against a fresh
# database and topic root, with the bare MQTT round trip measured first.
# Arguments go to vnpass-load, e.g. deploy/local/load.sh -rate 5000 -for 60s,
# deploy/local/load.sh -rate 5000 -for 5m -curve peak (a morning rush), -park 0.1
# -transfer 0.1 -rail 0.02 -concession 0.15 (the mix), -premint=false (mint on
# the load generator at each tap, as before); bin/vnpass-load -h lists them.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VNPASS_ROOT"
need_go
deploy/local/stack.sh up >/dev/null
load_env
mkdir -p bin
go build -o bin/ ./services/cmd/vnpass-fare ./loadtest/cmd/vnpass-load
exec bin/vnpass-load "$@"
