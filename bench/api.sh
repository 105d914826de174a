#!/usr/bin/env bash
# nanamid figures, loopback only: requests/s for a cached envelope GET and
# for a small write (wrk, from another process), and write-to-recompiled-
# envelope propagation. nanamid runs with one worker thread (one core).
# usage: bench/api.sh [NANAMID] [PEERS]
set -euo pipefail
NANAMID=${1:-build/nanamid}
PEERS=${2:-200}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
source "$HERE/../tests/api/lib.sh"
trap 'stop_nanamid; rm -rf "$TMP"' EXIT
TOK=$("$NANAMID" init --db "$TMP/db.sqlite" 2>/dev/null)
start_nanamid_threads() {
  "$NANAMID" serve --db "$TMP/db.sqlite" --listen "127.0.0.1:$PORT" --threads 1 >"$TMP/nanamid.log" 2>&1 &
  NANAMID_PID=$!
  for _ in $(seq 1 50); do curl -sf "$URL/health" >/dev/null && return 0; sleep 0.1; done
  exit 1
}
start_nanamid; stop_nanamid; start_nanamid_threads
api "$TOK" POST /workspaces '{"name":"bench"}' >/dev/null
# One hub and PEERS spokes, through one intent PUT.
jq -n --argjson n "$PEERS" '{workspaces: [{name: "bench", networks: [{name: "corp", ipv4_cidr: "10.40.0.0/16",
  peers: ([{name: "hub-1", public_key: "Cu6HSiTawhFvktwrxzl48+VtBmq3azpeNne1Vk51pnc=", publicly_reachable: true,
            endpoint: "198.51.100.1:51820"}] + [range($n) as $i | {name: "p\($i)", public_key: null}])}]}]}' >"$TMP/intent.json"
# Real keys (wg) for the spokes.
for i in $(seq 0 $((PEERS - 1))); do wg genkey | wg pubkey; done | jq -R . | jq -s . >"$TMP/keys.json"
jq --slurpfile k "$TMP/keys.json" '.workspaces[0].networks[0].peers |= (to_entries | map(if .key > 0 then .value.public_key = $k[0][.key - 1] else . end | .value))' \
  "$TMP/intent.json" >"$TMP/intent2.json"
t0=$(date +%s%N)
api "$TOK" PUT /workspaces/bench/intent "@$TMP/intent2.json" >/dev/null
t1=$(date +%s%N)
echo "intent PUT of $((PEERS + 1)) peers: $(((t1 - t0) / 1000000)) ms"
ENV="$URL/workspaces/bench/networks/corp/peers/p1/envelope"
curl -sf -H "Authorization: Bearer $TOK" "$ENV" >/dev/null
echo "== cached envelope GET (wrk -t1 -c32 -d5s, nanamid --threads 1)"
wrk -t1 -c32 -d5s -H "Authorization: Bearer $TOK" "$ENV" | grep -E 'Requests/sec|Latency|Non-2xx'
cat >"$TMP/write.lua" <<LUA
counter = 0
request = function()
  counter = counter + 1
  local body = '{"action":"accept","protocol":"tcp","ports":[' .. (counter % 60000 + 1) .. ']}'
  return wrk.format("PUT", "/api/v1/workspaces/bench/networks/corp/firewall_rules/bench", nil, body)
end
LUA
echo "== small write: PUT one firewall rule (wrk -t1 -c4 -d5s)"
wrk -t1 -c4 -d5s -s "$TMP/write.lua" -H "Authorization: Bearer $TOK" "$URL/" | grep -E 'Requests/sec|Latency|Non-2xx'
echo "== propagation: PUT a new peer, then GET the hub's envelope until it lists it (20 runs)"
for i in $(seq 1 20); do
  key=$(wg genkey | wg pubkey)
  t0=$(date +%s%N)
  curl -sf -o /dev/null -X PUT -H "Authorization: Bearer $TOK" --data-binary "{\"public_key\":\"$key\"}" \
    "$URL/workspaces/bench/networks/corp/peers/new$i"
  until curl -sf -H "Authorization: Bearer $TOK" "$URL/workspaces/bench/networks/corp/peers/hub-1/envelope" | grep -qF "$key"; do :; done
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000))
done | sort -n | awk '{a[NR]=$1} END {printf "write -> hub envelope with the new peer: median %.1f ms, max %.1f ms\n", a[int((NR+1)/2)]/1000, a[NR]/1000}'
echo "== one-peer change: envelopes rendered vs carried over (every peer fetches its envelope before and after)"
fetch_all() {
  local p
  for p in hub-1 $(seq -f 'p%g' 0 $((PEERS - 1))) $(seq -f 'new%g' 1 20) "$@"; do
    curl -sf -o /dev/null -H "Authorization: Bearer $TOK" "$URL/workspaces/bench/networks/corp/peers/$p/envelope"
  done
}
fetch_all
s0=$(curl -sf -H "Authorization: Bearer $TOK" "$URL/stats")
curl -sf -o /dev/null -X PUT -H "Authorization: Bearer $TOK" --data-binary "{\"public_key\":\"$(wg genkey | wg pubkey)\"}" \
  "$URL/workspaces/bench/networks/corp/peers/one-more"
t0=$(date +%s%N)
curl -sf -o /dev/null -H "Authorization: Bearer $TOK" "$URL/workspaces/bench/networks/corp/peers/p0/envelope"
t1=$(date +%s%N)
fetch_all one-more
s1=$(curl -sf -H "Authorization: Bearer $TOK" "$URL/stats")
d() { echo $(( $(jq ".envelope_cache.$1" <<<"$s1") - $(jq ".envelope_cache.$1" <<<"$s0") )); }
echo "one-peer change in a network of $((PEERS + 21)) peers: plan + digests on first GET $(((t1 - t0) / 1000)) us;" \
  "rendered $(d envelopes_rendered), carried over without a render $(d envelopes_carried)" \
  "(added $(d envelopes_added), changed $(d envelopes_changed), unchanged $(d envelopes_unchanged))"
