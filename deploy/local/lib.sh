# Shared by run.sh and test.sh: Go toolchain check, the stack's env, the
# application secrets. Source it; it defines functions and variables only.

VNPASS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VNPASS_STATE_DIR=${VNPASS_STATE:-$VNPASS_ROOT/.run}

# need_go: Go 1.26 or newer on PATH (or at /usr/local/go, where our machines keep it).
need_go() {
  if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
    export PATH=/usr/local/go/bin:$PATH
  fi
  command -v go >/dev/null 2>&1 || {
    echo "vnpass: Go 1.26+ is needed (https://go.dev/dl/, unpacked into /usr/local/go); Debian's golang package is too old" >&2
    exit 1
  }
  local v
  v=$(go env GOVERSION | sed 's/^go//')
  if [[ $(printf '%s\n1.26\n' "${v%%[a-z]*}" | sort -V | head -n1) != 1.26 ]]; then
    echo "vnpass: Go $v found, 1.26 or newer needed" >&2
    exit 1
  fi
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
  set -a
  # shellcheck disable=SC1090
  . "$app"
  set +a
}
