#!/usr/bin/env bash
# Device logins on the local broker. Every gate has its own MQTT login, bound to its client id
# (gate-<device>), that may publish only its own taps and status and read only its own decisions
# and config, under its own site. Nothing else, in the real root vnpass/v1 and in test roots.
#
#   devices.sh add [-replace] SITE DEVICE [DEVICE...]   provision; prints each login as
#                                                       VNPASS_MQTT_GATE_USER/_PASSWORD lines
#   devices.sh revoke DEVICE [DEVICE...]                disconnect now, refuse from now on
#   devices.sh list [-json]
#
# e.g. devices.sh add hn2a-lang hn2a-lang-in09 >.run/hn2a-lang-in09.env
#      set -a; . .run/env; . .run/hn2a-lang-in09.env; set +a
#      bin/turnstile-agent -site hn2a-lang -device hn2a-lang-in09 ...
#
# Runs `vnpass-fleet device` (services/cmd/vnpass-fleet) as the broker's dynamic-security
# administrator, from the stack's env file. The stack must be up (deploy/local/stack.sh up).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VNPASS_ROOT"

[[ -f $VNPASS_STATE_DIR/env ]] || { echo "devices: no $VNPASS_STATE_DIR/env: run deploy/local/stack.sh up first" >&2; exit 1; }
need_go
load_env
mkdir -p "$VNPASS_STATE_DIR/bin"
go build -o "$VNPASS_STATE_DIR/bin/vnpass-fleet" ./services/cmd/vnpass-fleet
exec "$VNPASS_STATE_DIR/bin/vnpass-fleet" device "$@"
