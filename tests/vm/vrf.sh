#!/usr/bin/env bash
# The VRF of iBGP networks, applied by gateway-daemon on kernel WireGuard.
# Runs inside the test VM (tests/vm/run.sh): this machine's own kernel has
# neither the VRF nor the WireGuard module. Proves with real packets:
#   an iBGP network's interface is put in its VRF, bound to the envelope's
#   table, and Nanami's routes go to that table, none to the main one
#   the overlay carries traffic inside the VRF (spoke -> spoke via the hub)
#   re-applying changes nothing; a link taken out of its VRF and a VRF
#   deleted by hand are put back and reported
#   switching the network to static routing takes the interface out of
#   the VRF and its routes back to the main table
#   a signed envelope naming a reserved table is refused with its path
#   isolation mode (interface_per_network): two networks with the SAME
#   IPv4 range on one gateway and one branch, each network its own
#   interface, VRF and table; traffic flows inside each VRF
set -euo pipefail
CTL=${1:?usage: vrf.sh NANAMICTL GATEWAY_DAEMON}
GD=${2:?usage: vrf.sh NANAMICTL GATEWAY_DAEMON}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../judges/lib.sh"
source "$HERE/../e2e/overlay.sh"
require_root wg ip nft jq ping
umask 077
TMP=$(mktemp -d)
trap 'netns_cleanup; rm -rf "$TMP"' EXIT

overlay_nodes nnv hub s1 s2 gw br sa sb
for p in "${NODES[@]}"; do "$GD" keygen --state-dir "$TMP/$p" >"$TMP/$p.pub"; done
"$CTL" keygen --signing-key "$TMP/server.key" >"$TMP/server.pub"

intent() { # intent ROUTING_MODE
  jq -n --arg h "$(cat "$TMP/hub.pub")" --arg a "$(cat "$TMP/s1.pub")" --arg b "$(cat "$TMP/s2.pub")" \
    --arg mode "$1" '{workspaces: [{name: "vr", bgp: {enabled: true}, networks: [{name: "core",
      ipv4_cidr: "10.97.0.0/24", routing_mode: $mode, firewall_default_policy: "drop",
      peers: [{name: "hub", public_key: $h, publicly_reachable: true, endpoint: "192.0.2.10:51820"},
              {name: "s1", public_key: $a, lan_subnets: ["10.63.0.0/24"]},
              {name: "s2", public_key: $b}],
      firewall_rules: [{name: "icmp", position: 1, action: "accept", protocol: "icmp"}]}]}]}' >"$TMP/intent.json"
}
deliver() { envelope_deliver vr/core "$1" --frr-vty off; }
overlay4() { jq -r '.interface.addresses[] | select(contains("."))' "$TMP/$1.env" | cut -d/ -f1; }
link() { ip -n "${NS[$1]}" -d -o link show "$2"; }
routes() { ip -n "${NS[$1]}" route show table "$2" proto 78; }
# vping NS ADDR [VRF]: ping from inside the VRF (bound to its device), for
# up to 30 s as ping_until does; wgstate shows every node's handshakes when
# it fails (it showed a spoke that never handshook: see nn_rtnl_apply).
vping() {
  for _ in $(seq 1 20); do
    ip netns exec "$1" ping ${3:+-I "$3"} -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

# --- iBGP: the interface in its VRF ---------------------------------------
intent ibgp
for p in hub s1 s2; do deliver "$p"; done
VRF=$(jq -r .interface.vrf.name "$TMP/s1.env")
TABLE=$(jq -r .interface.vrf.table_id "$TMP/s1.env")
[[ $VRF == vrf-* && $TABLE =~ ^[0-9]+$ && $(field s1 .vrf) == set && $(field hub .vrf) == set &&
   $(field s1 .wireguard) == kernel ]] \
  && ok "first apply makes $VRF (table $TABLE) on kernel WireGuard" \
  || bad "first apply: $(cat "$TMP/s1.out" "$TMP/s1.err")"
[[ $(link s1 "$VRF") == *"vrf table $TABLE"* && $(link s1 "$VRF") == *",UP"* ]] \
  && ok "the VRF device is up and bound to table $TABLE" || bad "vrf device: $(link s1 "$VRF")"
[[ $(link s1 "${IFACE[s1]}") == *"master $VRF"* ]] \
  && ok "the overlay interface is in the VRF" || bad "not enslaved: $(link s1 "${IFACE[s1]}")"
hub_routes=$(routes hub "$TABLE")
[[ $hub_routes == *"10.97.0.0/24 dev ${IFACE[hub]}"* && $hub_routes == *"10.63.0.0/24 dev ${IFACE[hub]}"* &&
   -z $(routes hub main) ]] \
  && ok "Nanami's routes are in table $TABLE, none in main" \
  || bad "routes: table $TABLE [$hub_routes] main [$(routes hub main)]"
S2=$(overlay4 s2)
wgstate() {
  for p in hub s1 s2; do
    echo "[$p] $(ip netns exec "${NS[$p]}" wg show "${IFACE[$p]}" dump | cut -f1,3,5,6 | tr '\n' ' ')"
    echo "[$p] $(ip -n "${NS[$p]}" -o addr show "${IFACE[$p]}" | awk '{print $4}' | tr '\n' ' ')"
  done
}
vping "${NS[s1]}" "$S2" "$VRF" && ok "s1 -> s2 through the hub, inside the VRF" \
  || bad "ping in vrf s1 -> s2: $(wgstate)"
vping "${NS[s1]}" "$S2" && bad "s1 reaches s2 outside the VRF" || ok "outside the VRF, the overlay is not reachable"

deliver s1
[[ $(field s1 .vrf) == unchanged && $(field s1 .link_set) == false &&
   $(field s1 '.routes.added + .routes.removed + .addresses.added + .addresses.removed') == 0 ]] \
  && ok "re-applying changes nothing" || bad "re-apply: $(cat "$TMP/s1.out")"

# --- drift: out of the VRF, and the VRF deleted ----------------------------
ip -n "${NS[s1]}" link set "${IFACE[s1]}" nomaster
deliver s1
[[ $(field s1 .link_set) == true && $(link s1 "${IFACE[s1]}") == *"master $VRF"* &&
   $(routes s1 "$TABLE") == *"10.97.0.0/24"* ]] \
  && ok "a link taken out of its VRF is put back, with its routes" \
  || bad "nomaster drift: $(cat "$TMP/s1.out") $(link s1 "${IFACE[s1]}")"
ip -n "${NS[s2]}" link del "$VRF"
deliver s2
[[ $(field s2 .vrf) == set && $(link s2 "${IFACE[s2]}") == *"master $VRF"* &&
   $(routes s2 "$TABLE") == *"10.97.0.0/24"* ]] \
  && ok "a VRF deleted by hand is made again and the link put back in it" \
  || bad "vrf drift: $(cat "$TMP/s2.out") $(link s2 "${IFACE[s2]}")"
vping "${NS[s1]}" "$S2" "$VRF" && ok "s1 -> s2 inside the VRF after the repairs" || bad "ping after repair"

# --- a reserved table is refused --------------------------------------------
jq -c '.interface.vrf.table_id = 254' "$TMP/s1.env" >"$TMP/bad.env"
"$CTL" sign --signing-key "$TMP/server.key" -f "$TMP/bad.env" >"$TMP/bad.sig"
rc=0
ip netns exec "${NS[s1]}" "$GD" apply --state-dir "$TMP/s1" --server-key "$TMP/server.pub" \
  -f "$TMP/bad.env" --signature "$TMP/bad.sig" --interface "${IFACE[s1]}" --frr-vty off \
  >/dev/null 2>"$TMP/bad.err" || rc=$?
[[ $rc == 2 && $(cat "$TMP/bad.err") == *"interface.vrf.table_id"* && $(link s1 "$VRF") == *"vrf table $TABLE"* ]] \
  && ok "a signed envelope naming table 254 is refused with its path" || bad "table 254: rc=$rc $(cat "$TMP/bad.err")"

# --- static routing: out of the VRF, routes back in main ------------------
intent static
for p in hub s1 s2; do deliver "$p"; done
[[ $(field s1 .vrf) == off && $(link s1 "${IFACE[s1]}") != *"master "* &&
   $(routes hub main) == *"10.97.0.0/24 dev ${IFACE[hub]}"* && -z $(routes hub "$TABLE") ]] \
  && ok "static routing: the interface leaves the VRF, its routes are in main and gone from $TABLE" \
  || bad "static: $(cat "$TMP/hub.out") main [$(routes hub main)] $TABLE [$(routes hub "$TABLE")]"
vping "${NS[s1]}" "$S2" && ok "s1 -> s2 in the main table after leaving the VRF" || bad "ping after static"

# --- isolation mode: overlapping IPv4 ranges, a VRF per network -------------
# gw (192.0.2.13) and br run networks a and b, both 10.50.0.0/24, in
# isolation mode; sa is in a, sb in b. Node documents (nanamictl compile
# --host), applied as the host's one agent would.
jq -n --arg gw "$(cat "$TMP/gw.pub")" --arg br "$(cat "$TMP/br.pub")" --arg sa "$(cat "$TMP/sa.pub")" \
  --arg sb "$(cat "$TMP/sb.pub")" '
  def net(n; i; spoke): {name: n, ipv4_cidr: "10.50.0.0/24", firewall_default_policy: "drop",
    peers: [{name: "gw", publicly_reachable: true, endpoint: "192.0.2.13:\(51820 + i)", listen_port: (51820 + i)},
            {name: spoke}, {name: "br", listen_port: (51820 + i)}],
    firewall_rules: [{name: "icmp", position: 1, action: "accept", protocol: "icmp"}]};
  {workspaces: [{name: "iso", hosts: [{name: "gw", public_key: $gw, interface_per_network: true},
    {name: "br", public_key: $br, interface_per_network: true},
    {name: "sa", public_key: $sa}, {name: "sb", public_key: $sb}],
    networks: [net("a"; 0; "sa"), net("b"; 1; "sb")]}]}' >"$TMP/iso.json"
node_deliver() { # node_deliver HOST: its node document, signed, applied (kernel WireGuard)
  "$CTL" compile -f "$TMP/iso.json" --host "iso/$1" >"$TMP/$1.doc"
  "$CTL" sign --signing-key "$TMP/server.key" -f "$TMP/$1.doc" >"$TMP/$1.docsig"
  ip netns exec "${NS[$1]}" "$GD" apply --state-dir "$TMP/$1" --server-key "$TMP/server.pub" \
    -f "$TMP/$1.doc" --signature "$TMP/$1.docsig" --frr-vty off --json >"$TMP/$1.out" 2>"$TMP/$1.err" \
    || bad "deliver $1: $(cat "$TMP/$1.err")"
}
for p in gw br sa sb; do node_deliver "$p"; done
# doc HOST NET FILTER: jq FILTER over HOST's interface for network NET
doc() { jq -r --arg n "$2" ".interfaces[] | select(.networks == [\$n]) | $3" "$TMP/$1.doc"; }
addr4() { jq -r '.interfaces[0].addresses[] | select(contains("."))' "$TMP/$1.doc" | cut -d/ -f1; }
VA=$(doc gw a .vrf.name) VB=$(doc gw b .vrf.name) TA=$(doc gw a .vrf.table_id) TB=$(doc gw b .vrf.table_id)
GWA=$(doc gw a '.addresses[0]' | cut -d/ -f1) GWB=$(doc gw b '.addresses[0]' | cut -d/ -f1)
BRA=$(doc br a .vrf.name) BRB=$(doc br b .vrf.name)
[[ $(field gw '.interfaces | length') == 2 && $(field gw .vrf) == set && $TA != "$TB" &&
   $(routes gw "$TA") == *"10.50.0.0/24 dev $(doc gw a .name)"* &&
   $(routes gw "$TB") == *"10.50.0.0/24 dev $(doc gw b .name)"* && -z $(routes gw main) ]] \
  && ok "gw: 10.50.0.0/24 twice, in tables $TA and $TB, none in main" \
  || bad "isolation on gw: $(cat "$TMP/gw.out" "$TMP/gw.err") [$(routes gw "$TA")] [$(routes gw "$TB")]"
vping "${NS[sa]}" "$GWA" && ok "sa -> gw in network a" || bad "ping sa -> gw (a): $(cat "$TMP/sa.err")"
vping "${NS[sb]}" "$GWB" && ok "sb -> gw in network b (the same range)" || bad "ping sb -> gw (b)"
vping "${NS[gw]}" "$(addr4 sa)" "$VA" && vping "${NS[gw]}" "$(addr4 sb)" "$VB" \
  && ok "gw reaches sa inside $VA and sb inside $VB" || bad "gw's pings in its VRFs"
vping "${NS[br]}" "$GWA" "$BRA" && vping "${NS[br]}" "$GWB" "$BRB" \
  && ok "br reaches gw in both networks, one VRF each" || bad "br's pings in its VRFs"

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
