#!/usr/bin/env bash
# What a write costs as a workspace grows (bench/store.c): a 20,000-peer
# intent PUT, a single-object write in a 10,000-peer network, and another
# tenant's writes during a big PUT. Against a real nanamid on loopback with
# a fresh SQLite file (synchronous=FULL, as served).
# usage: bench/store.sh [BUILD_DIR] [PEERS_BIG] [PEERS_ONE]
set -euo pipefail
BUILD=${1:-build}
NANAMID=$BUILD/nanamid
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
source "$HERE/../tests/api/lib.sh"
trap 'stop_nanamid; rm -rf "$TMP"' EXIT
TOK=$("$NANAMID" init --db "$TMP/db.sqlite" 2>/dev/null)
start_nanamid
"$BUILD/bench_store" "$URL" "$TOK" "${2:-20000}" "${3:-10000}"
