#!/usr/bin/env bash
# All tests, on the real servers: install and start PostgreSQL, Mosquitto
# and ClickHouse if needed (and Debian's chromium for the browser tests),
# then vet, test with the race detector, and give the wire decoders a short
# fuzzing run. Each test makes its own database, ClickHouse database and MQTT
# topic root and removes them afterwards.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STATICCHECK_VERSION=v0.8.2
cd "$VNPASS_ROOT"

need_go
need_chromium
deploy/local/stack.sh up
load_env
# The servers as configured: logins, passwords required, every broker ACL rule.
deploy/local/check.sh

go vet ./...
# staticcheck, pinned; built once into the state folder (then ~15 s a run).
STATICCHECK=$VNPASS_STATE_DIR/tools/staticcheck-$STATICCHECK_VERSION
if [ ! -x "$STATICCHECK" ]; then
	GOBIN="$VNPASS_STATE_DIR/tools/tmp" GOFLAGS=-mod=mod go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
	mv "$VNPASS_STATE_DIR/tools/tmp/staticcheck" "$STATICCHECK"
fi
"$STATICCHECK" ./...
# govulncheck against an offline copy of the Go vulnerability database:
# vuln.go.dev is unreachable here, but golang.org/x/vulndb on the module
# proxy carries the OSV files and the indexer that lays them out for
# -db file://. The database version is pinned so that CI is repeatable;
# deploy/local/vulncheck.sh checks against the newest one (run it weekly and
# move the pin).
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018
"$VNPASS_ROOT/deploy/local/vulncheck.sh" "$VULNDB_VERSION"
go test -race -count=1 -timeout 12m ./...
# The Kubernetes manifests (deploy/cluster, a module of its own so that the
# Kubernetes libraries stay out of the services' build), checked against the
# Kubernetes and operators' schemas.
go -C deploy/cluster vet ./...
go -C deploy/cluster test -count=1 ./...
# A failing input the fuzzer finds is written under proto/testdata/fuzz: commit it as a regression case.
go test -run '^$' -fuzz '^FuzzDecodeTap$' -fuzztime "${VNPASS_FUZZTIME:-15s}" ./proto
