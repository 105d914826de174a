#!/usr/bin/env bash
# OVN apply figures: gateway-daemon's nn_ovn_apply against a real
# ovsdb-server (the installed northbound schema, a scratch database on a
# unix socket; no root needed). See bench/ovn_apply.c for the cases.
# usage: bench/ovn_apply.sh [BENCH_OVN_APPLY] [SWITCHES] [PORTS]
set -euo pipefail
BIN=${1:-build/bench_ovn_apply}
SWITCHES=${2:-10}
PORTS=${3:-100}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../tests/tools.sh"
require_tools ovsdb-server ovsdb-tool ovn-nbctl
TMP=$(mktemp -d)
trap '[[ -f $TMP/pid ]] && kill "$(cat "$TMP/pid")"; rm -rf "$TMP"' EXIT
ovsdb-tool create "$TMP/nb.db" /usr/share/ovn/ovn-nb.ovsschema
ovsdb-server --remote="punix:$TMP/nb.sock" --pidfile="$TMP/pid" --unixctl="$TMP/ctl" \
  --detach --no-chdir --log-file="$TMP/log" "$TMP/nb.db"
"$BIN" "unix:$TMP/nb.sock" "$SWITCHES" "$PORTS"
echo "  database file after the runs: $(stat -c %s "$TMP/nb.db") bytes"
