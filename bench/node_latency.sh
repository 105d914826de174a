#!/usr/bin/env bash
# API write -> applied on every node, across N namespaced nodes (a hub and
# N-1 spokes, default 20), each running gateway-daemon and gateway-manager
# (as nobody) against nanamid over mutual TLS. Each round changes a
# firewall rule every envelope carries; a node's latency is from just
# before the PUT to the moment its daemon wrote applied.json (after
# nft, WireGuard, routes). Needs root. Prints p50/p99/max.
# usage: bench/node_latency.sh [BUILD_DIR] [NODES] [ROUNDS]
set -euo pipefail
BUILD=${1:-build}
N=${2:-20}
ROUNDS=${3:-20}
NANAMID=$BUILD/nanamid CTL=$BUILD/nanamictl GD=$BUILD/gateway-daemon GM=$BUILD/gateway-manager
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../tests/e2e/runtime.sh"
require_root wireguard-go wg ip nft jq curl setpriv
runtime_begin
nodes=(hub)
for ((i = 1; i < N; i++)); do nodes+=("s$i"); done
runtime_nodes nnl "${nodes[@]}"
for p in "${NODES[@]}"; do "$GD" keygen --state-dir "$TMP/$p/daemon" >"$TMP/$p.pub"; done
runtime_init
start_server
peers=$(for p in "${NODES[@]}"; do
  jq -nc --arg n "$p" --arg k "$(cat "$TMP/$p.pub")" '{name: $n, public_key: $k}
    + (if $n == "hub" then {publicly_reachable: true, endpoint: "192.0.2.10:51820"} else {} end)'
done | jq -s .)
jq -n --argjson peers "$peers" '{workspaces: [{name: "bench", networks: [{name: "corp",
  ipv4_cidr: "10.96.0.0/22", firewall_default_policy: "drop", peers: $peers,
  firewall_rules: [{name: "icmp", position: 1, action: "accept", protocol: "icmp",
                    source: {all: true}, destination: {all: true}}]}]}]}' >"$TMP/intent.json"
ctl apply -f "$TMP/intent.json" >/dev/null
"$NANAMID" ca --db "$TMP/db.sqlite" >"$TMP/ca.pem"
chmod 644 "$TMP/ca.pem"
MANAGER_WAIT=25 DRIFT_INTERVAL=3600
export MANAGER_WAIT DRIFT_INTERVAL
for p in "${NODES[@]}"; do
  start_daemon "$p"
  enroll_and_run "$p" bench
done
files=()
for p in "${NODES[@]}"; do files+=("$TMP/$p/daemon/applied.json"); done
all_applied() { stat -c '%n' "${files[@]}" >/dev/null 2>&1; }
until_true 60 all_applied || { echo "not every node applied its first envelope" >&2; exit 1; }
sleep 2 # the managers settle into their long-polls
samples=()
for ((r = 1; r <= ROUNDS; r++)); do
  t0=$(date +%s%N)
  api PUT /workspaces/bench/networks/corp/firewall_rules/bench \
    "{\"position\": 2, \"action\": \"accept\", \"protocol\": \"tcp\", \"ports\": [$((1000 + r))],
      \"source\": {\"all\": true}, \"destination\": {\"all\": true}}" >/dev/null
  fresh() { (($(stat -c '%.9Y' "${files[@]}" | tr -d . | sort -n | head -1) > t0)); }
  until_true 10 fresh || { echo "round $r: not every node applied within 10 s" >&2; exit 1; }
  for t in $(stat -c '%.9Y' "${files[@]}" | tr -d .); do samples+=($(((t - t0) / 1000))); done
  sleep 0.3
done
printf '%s\n' "${samples[@]}" | sort -n >"$TMP/samples"
count=$(wc -l <"$TMP/samples")
pct() { sed -n "$(((count * $1 + 99) / 100))p" "$TMP/samples"; }
awk -v n="$N" -v r="$ROUNDS" -v c="$count" -v p50="$(pct 50)" -v p99="$(pct 99)" \
  -v max="$(tail -1 "$TMP/samples")" 'BEGIN {
  printf "API write -> applied on %d nodes, %d rounds (%d samples): p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
    n, r, c, p50 / 1000, p99 / 1000, max / 1000 }'
