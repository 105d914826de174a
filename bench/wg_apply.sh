#!/usr/bin/env bash
# WireGuard apply figures against real wireguard-go interfaces in a scratch
# network namespace (needs root): gateway-daemon's diff apply (bench_wg_apply)
# and, on the same input, `wg syncconf`.
# usage: bench/wg_apply.sh [BENCH_WG_APPLY] [PEERS]
set -euo pipefail
BIN=${1:-build/bench_wg_apply}
PEERS=${2:-10000}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../tests/judges/lib.sh"
require_root wireguard-go wg ip
export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
TMP=$(mktemp -d)
trap 'netns_cleanup; rm -rf "$TMP"' EXIT
# One namespace each: both interfaces listen on the same port.
NS="nnb-$RUN_ID-a"
netns_add "$NS"
netns_add "nnb-$RUN_ID-b"
ip netns exec "$NS" wireguard-go "nnb${RUN_ID}a" 2>/dev/null
ip netns exec "nnb-$RUN_ID-b" wireguard-go "nnb${RUN_ID}b" 2>/dev/null
echo "== gateway-daemon (UAPI diff), $PEERS peers"
ip netns exec "$NS" "$BIN" "nnb${RUN_ID}a" "$PEERS" "$TMP"
NS="nnb-$RUN_ID-b"

echo "== wg syncconf on the same input"
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e6 }'; }
t0=$(date +%s%N); ip netns exec "$NS" wg syncconf "nnb${RUN_ID}b" "$TMP/full.conf"; t1=$(date +%s%N)
echo "apply $PEERS peers to an empty interface: $(ms "$t0" "$t1") ms"
[[ $(ip netns exec "$NS" wg show "nnb${RUN_ID}b" peers | wc -l) == "$PEERS" ]] || { echo "syncconf left the wrong peer count" >&2; exit 1; }
times=()
for i in $(seq 1 11); do
  f=$TMP/one.conf; ((i % 2 == 0)) && f=$TMP/full.conf
  t0=$(date +%s%N); ip netns exec "$NS" wg syncconf "nnb${RUN_ID}b" "$f"; t1=$(date +%s%N)
  times+=("$(ms "$t0" "$t1")")
done
echo "one-peer change: median $(printf '%s\n' "${times[@]}" | sort -n | sed -n 6p) ms over 11 (process start included)"
