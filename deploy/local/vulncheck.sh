#!/usr/bin/env bash
# govulncheck on the module and the nested deploy/cluster module, against an
# offline Go vulnerability database built from golang.org/x/vulndb (from the
# module proxy; vuln.go.dev is not reachable here). Tools and databases are
# cached under the state folder.
#   deploy/local/vulncheck.sh [VULNDB_VERSION]   (default: the newest on the proxy)
# Exit 3 means vulnerabilities in code the module calls: bump the module (or
# the toolchain, deploy/local/lib.sh) the report names.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VNPASS_ROOT"
need_go
GOVULNCHECK_VERSION=v1.9.0
tools=$VNPASS_STATE_DIR/tools
mkdir -p "$tools"
vulndb=${1:-$(go list -m -f '{{.Version}}' golang.org/x/vulndb@latest)}
gv=$tools/govulncheck-$GOVULNCHECK_VERSION
if [[ ! -x $gv ]]; then
  GOBIN="$tools/tmp" GOFLAGS=-mod=mod go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
  mv "$tools/tmp/govulncheck" "$gv"
fi
db=$tools/vulndb-$vulndb
if [[ ! -f $db/index/db.json ]]; then
  GOBIN="$tools/tmp" GOFLAGS=-mod=mod go install "golang.org/x/vulndb/cmd/indexdb@$vulndb"
  src=$(GOFLAGS=-mod=mod go mod download -json "golang.org/x/vulndb@$vulndb" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -d $src/data/osv ]] || { echo "vulncheck: no data/osv in golang.org/x/vulndb@$vulndb" >&2; exit 1; }
  rm -rf "$db.tmp"
  "$tools/tmp/indexdb" -vulns "$src/data/osv" -out "$db.tmp"
  mv "$db.tmp" "$db"
fi
echo "govulncheck $GOVULNCHECK_VERSION, database golang.org/x/vulndb@$vulndb, $(go env GOVERSION)"
"$gv" -db "file://$db" ./...
"$gv" -C deploy/cluster -db "file://$db" ./...
