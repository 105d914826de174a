#!/usr/bin/env bash
# End to end in network namespaces: compile a 1-hub / 3-spoke intent, bring
# up one namespace per peer on a shared underlay bridge plus an outside
# client, run wireguard-go per peer, apply each envelope with wg, ip and nft
# (as an agent would), and prove with real packets:
#   spoke -> spoke ping through the hub (IPv4 and IPv6 overlay)
#   an allowed TCP flow connects; flows no rule allows are dropped
#   a port mapping on the hub reaches its target from outside
set -euo pipefail
CTL=${1:?usage: hub_spoke.sh NANAMICTL}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../judges/lib.sh"
source "$HERE/overlay.sh"
require_root wireguard-go wg ip nft jq nc ping
umask 077
TMP=$(mktemp -d)
trap 'netns_cleanup; rm -rf "$TMP"' EXIT

PEERS=(hub-1 ops-1 db-1 web-1)
OUT="nne-$RUN_ID-out"

# --- underlay: a bridge in its own namespace, a veth per host -----------
overlay_nodes nne "${PEERS[@]}"
for p in "${PEERS[@]}"; do
  wg genkey >"$TMP/$p.key"
  wg pubkey <"$TMP/$p.key" >"$TMP/$p.pub"
done
netns_add "$OUT"
underlay_attach "$OUT" 192.0.2.100

# --- intent ----------------------------------------------------------------
jq -n --arg hub "$(cat "$TMP/hub-1.pub")" --arg ops "$(cat "$TMP/ops-1.pub")" \
      --arg db "$(cat "$TMP/db-1.pub")" --arg web "$(cat "$TMP/web-1.pub")" '{
  workspaces: [{ name: "e2e", networks: [{
    name: "corp", ipv4_cidr: "10.99.0.0/24", firewall_default_policy: "drop",
    peers: [
      { name: "hub-1", public_key: $hub, publicly_reachable: true, endpoint: "192.0.2.10:51820", ipv4: "10.99.0.1" },
      { name: "ops-1", public_key: $ops, tags: ["ops"] },
      { name: "db-1",  public_key: $db,  tags: ["db"] },
      { name: "web-1", public_key: $web, tags: ["web"] }
    ],
    firewall_rules: [
      { name: "icmp", position: 1, action: "accept", protocol: "icmp", source: {all: true}, destination: {all: true} },
      { name: "ops-ssh", position: 10, action: "accept", protocol: "tcp", ports: [22],
        source: {tag: "ops"}, destination: {peer: "db-1"} }
    ],
    port_mappings: [
      { name: "db-ssh", hub: "hub-1", protocol: "tcp", external_port: 2222, target: {peer: "db-1"}, target_port: 22 }
    ]
  }]}]}' >"$TMP/intent.json"

# --- apply every envelope -------------------------------------------------
for p in "${PEERS[@]}"; do
  overlay_apply "$TMP/intent.json" "e2e/corp/$p" "${NS[$p]}" "${IFACE[$p]}" "$TMP/$p.key"
done
addr4() { jq -r '.interface.addresses[] | select(contains("."))' "$TMP/$1.env.json" | cut -d/ -f1; }
addr6() { jq -r '.interface.addresses[] | select(contains(":"))' "$TMP/$1.env.json" | cut -d/ -f1; }

# Sanity: spokes have exactly the hub as peer; the hub has the three spokes.
[[ $(ip netns exec "${NS[ops-1]}" wg show "${IFACE[ops-1]}" peers) == "$(cat "$TMP/hub-1.pub")" ]] \
  && ok "spoke has only the hub as peer" || bad "spoke peers: $(ip netns exec "${NS[ops-1]}" wg show "${IFACE[ops-1]}" peers)"
[[ $(ip netns exec "${NS[hub-1]}" wg show "${IFACE[hub-1]}" peers | wc -l) -eq 3 ]] \
  && ok "hub has three peers" || bad "hub peer count"

# --- packets ----------------------------------------------------------------
DB4=$(addr4 db-1); DB6=$(addr6 db-1)
ping_until "${NS[ops-1]}" "$DB4" && ok "ping ops-1 -> db-1 ($DB4) through the hub" || bad "ping ops-1 -> db-1 over IPv4"
ping_until "${NS[ops-1]}" "$DB6" && ok "ping ops-1 -> db-1 ($DB6) over the IPv6 overlay" || bad "ping ops-1 -> db-1 over IPv6"
# The path really is via the hub: the spokes have no tunnel to each other.
# (Output is captured before grep: with pipefail, grep -q closing the pipe
# early would fail the writer with SIGPIPE.)
endpoints=$(ip netns exec "${NS[ops-1]}" wg show "${IFACE[ops-1]}" endpoints)
[[ $endpoints == "$(cat "$TMP/hub-1.pub")"$'\t'"192.0.2.10:51820" ]] \
  && ok "ops-1's only endpoint is the hub" || bad "ops-1 endpoints: $endpoints"

# TCP listeners on db-1 (22 is allowed from ops, 23 by no rule).
# (OpenBSD nc binds one address family per listener: one of each.)
for port in 22 23; do
  for fam in 4 6; do
    ip netns exec "${NS[db-1]}" bash -c "while :; do echo db-1:$port | nc -$fam -N -l $port >/dev/null 2>&1; done" &
  done
done
sleep 0.5
[[ $(tcp "${NS[ops-1]}" "$DB4" 22) == "db-1:22" ]] && ok "allowed flow ops-1 -> db-1:22 connects" || bad "ops-1 -> db-1:22 did not connect"
[[ $(tcp "${NS[ops-1]}" "$DB6" 22) == "db-1:22" ]] && ok "allowed flow over IPv6 connects" || bad "ops-1 -> [db-1]:22 did not connect"
[[ -z $(tcp "${NS[web-1]}" "$DB4" 22) ]] && ok "web-1 -> db-1:22 (no rule) is dropped" || bad "web-1 reached db-1:22"
[[ -z $(tcp "${NS[ops-1]}" "$DB4" 23) ]] && ok "ops-1 -> db-1:23 (no rule) is dropped" || bad "ops-1 reached db-1:23"
# The hub's loaded chain ends in the default drop (what dropped web-1's flow).
hub_rules=$(ip netns exec "${NS[hub-1]}" nft list ruleset)
grep -q 'drop comment "default policy"' <<<"$hub_rules" \
  && ok "hub enforces the default drop" || bad "hub has no default drop"

# Port mapping: outside -> hub 192.0.2.10:2222 -> db-1:22.
[[ $(tcp "$OUT" 192.0.2.10 2222) == "db-1:22" ]] && ok "port mapping hub:2222 reaches db-1:22 from outside" || bad "port mapping did not reach db-1"
# And nothing else on the hub is forwarded: 2223 is not mapped.
[[ -z $(tcp "$OUT" 192.0.2.10 2223) ]] && ok "an unmapped hub port reaches nothing" || bad "unmapped port answered"

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
