# Shared by run.sh and test.sh: Go toolchain check, the stack's env, the
# application secrets. Source it; it defines functions and variables only.

VNPASS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VNPASS_STATE_DIR=${VNPASS_STATE:-$VNPASS_ROOT/.run}

# need_go: Go 1.26 or newer. Found on PATH or at /usr/local/go, or else
# fetched once as the official toolchain module from the Go module proxy
# (what `GOTOOLCHAIN` does; Debian 12's own golang is 1.19, too old).
VNPASS_GO_VERSION=1.26.8
# The toolchain every build and test runs on (go.mod's toolchain line):
# go1.26.10 carries the standard library's security fixes that govulncheck
# reports against 1.26.8 (net/http, crypto/tls, crypto/x509, html/template).
# The go command fetches it once from the module proxy.
VNPASS_GO_TOOLCHAIN=go1.26.10
need_go() {
  if ! go_ok && [[ -x /usr/local/go/bin/go ]]; then
    export PATH=/usr/local/go/bin:$PATH
  fi
  if go_ok; then
    export GOTOOLCHAIN=$VNPASS_GO_TOOLCHAIN
    return 0
  fi
  local dest=/usr/local/lib/vnpass-go$VNPASS_GO_VERSION
  if [[ ! -x $dest/bin/go ]]; then
    install_go "$dest"
  fi
  export PATH=$dest/bin:$PATH
  go_ok || { echo "vnpass: could not set up Go $VNPASS_GO_VERSION" >&2; exit 1; }
  export GOTOOLCHAIN=$VNPASS_GO_TOOLCHAIN
}

go_ok() {
  command -v go >/dev/null 2>&1 || return 1
  local v
  v=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
  [[ -n $v && $(printf '%s\n1.26\n' "${v%%[a-z]*}" | sort -V | head -n1) == 1.26 ]]
}

install_go() {
  local dest=$1 arch tmp proxy
  arch=$(dpkg --print-architecture)
  echo "vnpass: fetching Go $VNPASS_GO_VERSION (linux-$arch) from the Go module proxy into $dest" >&2
  if ! command -v curl >/dev/null || ! command -v unzip >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get -q update </dev/null >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get -q -y install curl unzip ca-certificates </dev/null >/dev/null
  fi
  proxy=${GOPROXY:-https://proxy.golang.org}
  proxy=${proxy%%,*}
  [[ $proxy == off || $proxy == direct ]] && proxy=https://proxy.golang.org
  tmp=$(mktemp -d)
  curl -fsSL -o "$tmp/go.zip" "$proxy/golang.org/toolchain/@v/v0.0.1-go$VNPASS_GO_VERSION.linux-$arch.zip"
  unzip -q "$tmp/go.zip" -d "$tmp"
  mkdir -p "$(dirname "$dest")"
  mv "$tmp/golang.org/toolchain@v0.0.1-go$VNPASS_GO_VERSION.linux-$arch" "$dest"
  rm -rf "$tmp"
}

# load_env: the servers' addresses and credentials, then the application
# secrets (made once, kept in the state folder, never committed).
load_env() {
  set -a
  # shellcheck disable=SC1091
  . "$VNPASS_STATE_DIR/env"
  set +a
  local app=$VNPASS_STATE_DIR/app.env
  if [[ ! -s $app ]]; then
    umask 077
    {
      echo "VNPASS_API_SECRET=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
      echo "VNPASS_PSEUDONYM_KEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
      echo "VNPASS_VNEID_CLIENT_KEY=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
    } >"$app.tmp"
    mv "$app.tmp" "$app"
  fi
  # Secrets added since the file was first made.
  grep -q '^VNPASS_PAY_CLIENT_KEY=' "$app" ||
    echo "VNPASS_PAY_CLIENT_KEY=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" >>"$app"
  set -a
  # shellcheck disable=SC1090
  . "$app"
  set +a
}

# need_chromium: Debian's Chromium for the browser tests (the rider's page
# at a phone's viewport). Installed once with apt; nothing to do when it is
# there already.
need_chromium() {
  command -v chromium >/dev/null 2>&1 && return 0
  echo "vnpass: installing Debian's chromium for the browser tests" >&2
  DEBIAN_FRONTEND=noninteractive apt-get -q update </dev/null >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -q -y install --no-install-recommends chromium </dev/null >/dev/null
  command -v chromium >/dev/null 2>&1 || { echo "vnpass: could not install chromium" >&2; exit 1; }
}
