#!/usr/bin/env bash
# iBGP end to end with real FRR: a hub and two spokes in namespaces joined by
# the wireguard-go overlay (as in hub_spoke.sh), each running its own zebra
# and bgpd with private config and state directories, configured with the
# host's compiled frr_text through vtysh. Shows:
#   sessions come up under a deny-by-default firewall (the compiled
#     "ibgp sessions" admission line);
#   spoke-b learns spoke-a's lan_subnets from the hub, reflected: the path
#     carries spoke-a's router id as ORIGINATOR_ID and the hub's in the
#     CLUSTER_LIST, next hop spoke-a's overlay /128;
#   a workspace route policy denying one of spoke-a's LANs on the way in
#     keeps it out of spoke-b's table;
#   zebra installs the learned route in the kernel, and a ping to an
#     address on spoke-a's LAN goes through it.
# Two departures from the artifacts, both forced by this machine: the kernel
# has no VRF module, so the "vrf" blocks are dropped and each "router bgp
# <as> vrf <name>" runs in the default VRF; and the LAN routes of the
# envelopes are not installed statically, so the only route to the other
# spoke's LAN is the one BGP provides.
set -euo pipefail
CTL=${1:?usage: bgp_reflector.sh NANAMICTL}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../judges/lib.sh"
source "$HERE/overlay.sh"
FRR=/usr/lib/frr
require_root wireguard-go wg ip nft jq ping vtysh "$FRR/zebra" "$FRR/bgpd"
umask 077
TMP=$(mktemp -d)
chmod 755 "$TMP"
trap 'netns_cleanup; rm -rf "$TMP"' EXIT

PEERS=(hub-1 spoke-a spoke-b)
overlay_nodes nnb "${PEERS[@]}"
for p in "${PEERS[@]}"; do
  wg genkey >"$TMP/$p.key"
  wg pubkey <"$TMP/$p.key" >"$TMP/$p.pub"
done

LAN_A=10.201.0.0/24 DENIED_A=10.203.9.0/24 LAN_B=10.202.0.0/24
jq -n --arg hub "$(cat "$TMP/hub-1.pub")" --arg a "$(cat "$TMP/spoke-a.pub")" \
      --arg b "$(cat "$TMP/spoke-b.pub")" --arg la "$LAN_A" --arg da "$DENIED_A" --arg lb "$LAN_B" '{
  workspaces: [{ name: "rr", bgp: {enabled: true},
    route_policies: [{ name: "no-lab", direction: "in", default_action: "permit",
      statements: [{ action: "deny", match: { prefixes: [{ prefix: $da }] } }] }],
    networks: [{
      name: "core", ipv4_cidr: "10.98.0.0/24", routing_mode: "ibgp", firewall_default_policy: "drop",
      peers: [
        { name: "hub-1", public_key: $hub, publicly_reachable: true, endpoint: "192.0.2.10:51820", ipv4: "10.98.0.1" },
        { name: "spoke-a", public_key: $a, lan_subnets: [$la, $da] },
        { name: "spoke-b", public_key: $b, lan_subnets: [$lb] }
      ],
      firewall_rules: [
        { name: "icmp", position: 1, action: "accept", protocol: "icmp", source: {all: true}, destination: {all: true} }
      ]
    }]}]}' >"$TMP/intent.json"

# Only the overlay's own prefixes are installed; LANs come from BGP.
for p in "${PEERS[@]}"; do
  overlay_apply "$TMP/intent.json" "rr/core/$p" "${NS[$p]}" "${IFACE[$p]}" "$TMP/$p.key" \
    '.[] | select(. == "10.98.0.0/24" or endswith("::/64"))'
done
ip -n "${NS[spoke-a]}" addr add 10.201.0.1/24 dev lo

# --- FRR: zebra + bgpd per namespace, state and sockets under $TMP ---------
frr_start() { # frr_start PEER
  local p=$1 ns=${NS[$1]} d="$TMP/frr-$1"
  frr_daemons "$ns" "$d"
  "$CTL" compile -f "$TMP/intent.json" --host "rr/$p" | jq -r .frr_text \
    | sed -E '/^vrf /,/^exit-vrf/d; s/^(router bgp [0-9]+) vrf [^ ]+$/\1/' >"$d/frr.conf"
  if ! out=$(ip netns exec "$ns" vtysh --vty_socket "$d" -f "$d/frr.conf" 2>&1); then
    bad "$p: vtysh rejected frr.conf: $out"
  fi
}
vty() { # vty PEER COMMAND
  ip netns exec "${NS[$1]}" vtysh --vty_socket "$TMP/frr-$1" -c "$2"
}
for p in "${PEERS[@]}"; do frr_start "$p"; done

# The frr_text loaded as written: the hub's block has both spokes as
# route-reflector clients.
grep -q 'neighbor nn-clients route-reflector-client' "$TMP/frr-hub-1/frr.conf" \
  && ok "hub's frr_text makes the spokes route-reflector clients" || bad "hub has no RR clients"

established() { # established PEER -> number of Established sessions
  vty "$1" "show bgp summary json" \
    | jq '[.. | objects | select(has("state")) | select(.state == "Established")] | length'
}
wait_for() { # wait_for SECONDS COMMAND... (true within the time)
  local t=$(($1 * 2)); shift
  for _ in $(seq 1 "$t"); do "$@" && return 0; sleep 0.5; done
  return 1
}
# Each spoke peers over IPv6 with the hub only; the hub with both spokes.
hub_up() { [[ $(established hub-1) -ge 2 ]]; }
wait_for 60 hub_up && ok "hub has both iBGP sessions Established (deny-by-default firewall)" \
  || bad "hub sessions: $(vty hub-1 'show bgp summary' 2>&1)"

route_json() { vty "$1" "show bgp ipv4 unicast $2 json"; }
learned() { [[ $(route_json spoke-b "$LAN_A" | jq '.paths | length') -ge 1 ]]; }
if wait_for 60 learned; then
  ok "spoke-b learned spoke-a's LAN $LAN_A"
  path=$(route_json spoke-b "$LAN_A" | jq '.paths[0]')
  A6=$(jq -r '.interface.addresses[] | select(contains(":"))' "$TMP/spoke-a.env.json" | cut -d/ -f1)
  HUB6=$(jq -r '.interface.addresses[] | select(contains(":"))' "$TMP/hub-1.env.json" | cut -d/ -f1)
  A_RID=$(jq -r .bgp.router_id "$TMP/spoke-a.env.json")
  HUB_RID=$(jq -r .bgp.router_id "$TMP/hub-1.env.json")
  [[ $(jq -r .peer.peerId <<<"$path") == "$HUB6" ]] \
    && ok "learned from the hub ($HUB6)" || bad "learned from $(jq -r .peer.peerId <<<"$path"), not the hub"
  [[ $(jq -r .originatorId <<<"$path") == "$A_RID" ]] \
    && ok "ORIGINATOR_ID is spoke-a's router id $A_RID" || bad "originator: $(jq -c .originatorId <<<"$path")"
  [[ $(jq -r '.clusterList.list | join(",")' <<<"$path") == "$HUB_RID" ]] \
    && ok "CLUSTER_LIST is the hub's router id $HUB_RID (reflected)" || bad "cluster list: $(jq -c .clusterList <<<"$path")"
  [[ $(jq -r '[.nexthops[].ip] | index($a) != null' --arg a "$A6" <<<"$path") == true ]] \
    && ok "next hop is spoke-a's overlay address" || bad "next hops: $(jq -c .nexthops <<<"$path")"
else
  bad "spoke-b never learned $LAN_A: $(vty spoke-b 'show bgp ipv4 unicast' 2>&1)"
fi
# The hub received the denied prefix (its policy denies it too, on the way
# in); spoke-a announces it, nobody accepts it.
announced=$(vty spoke-a "show bgp ipv4 unicast $DENIED_A json" | jq '.paths | length')
[[ $announced -ge 1 ]] && ok "spoke-a originates $DENIED_A" || bad "spoke-a does not originate $DENIED_A"
[[ $(route_json spoke-b "$DENIED_A" | jq '.paths // [] | length') -eq 0 ]] \
  && ok "the route policy keeps $DENIED_A out of spoke-b" || bad "spoke-b has $DENIED_A"
[[ $(route_json hub-1 "$DENIED_A" | jq '.paths // [] | length') -eq 0 ]] \
  && ok "... and out of the hub" || bad "hub has $DENIED_A"
# Reflection works both ways: spoke-a learns spoke-b's LAN.
[[ $(route_json spoke-a "$LAN_B" | jq '.paths // [] | length') -ge 1 ]] \
  && ok "spoke-a learned spoke-b's LAN $LAN_B" || bad "spoke-a lacks $LAN_B"

# --- data plane: zebra's route carries the packet --------------------------
kroute() { ip -n "${NS[spoke-b]}" route show "$LAN_A" proto bgp; }
has_kroute() { [[ -n $(kroute) ]]; }
wait_for 10 has_kroute && ok "zebra installed $LAN_A in spoke-b's kernel: $(kroute)" \
  || bad "no kernel route for $LAN_A on spoke-b"
ping_until "${NS[spoke-b]}" 10.201.0.1 && ok "spoke-b pings 10.201.0.1 on spoke-a's LAN through the BGP route" \
  || bad "ping to spoke-a's LAN failed"

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
