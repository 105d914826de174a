#!/usr/bin/env bash
# A host is one node: gateway-daemon applies node documents (nanamictl
# compile --host) in network namespaces, with real wireguard-go, rtnetlink
# and nft. One workspace, three static networks a, b, c; gateway gw is in
# all three, branch br in a and b, spokes sa, sb, sc in one each. Proves
# with real packets, counted by probe chains on the gateway:
#   gw runs one interface and one listen port for three networks; br one
#   interface with gw as one peer holding both networks' prefixes
#   traffic flows inside each network, IPv4 and IPv6, through gw
#   it does not flow between two networks -- a spoke that widens its own
#   AllowedIPs, or br using its address in b towards a -- nor to a
#   destination outside the workspace (the network's rule says "all"),
#   nor to gw's address in another network; a spoofed source never
#   reaches gw's firewall (WireGuard drops it)
#   drift repair narrows the hand-widened AllowedIPs and removes the
#   spoofing address
#   br's Linux bridge is made, repaired and removed by diff (rtnetlink)
#   br leaving network b takes its addresses there away, one interface kept
#   switching br and gw to isolation mode replaces the shared interface by
#   one per network (the old one deleted), and traffic still flows
set -euo pipefail
CTL=${1:?usage: hosts.sh NANAMICTL GATEWAY_DAEMON}
GD=${2:?usage: hosts.sh NANAMICTL GATEWAY_DAEMON}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../judges/lib.sh"
source "$HERE/overlay.sh"
require_root wireguard-go wg ip nft jq ping ss
umask 077
TMP=$(mktemp -d)
trap 'netns_cleanup; rm -rf "$TMP"' EXIT

overlay_nodes nnh gw br sa sb sc out
for p in gw br sa sb sc; do "$GD" keygen --state-dir "$TMP/$p" >"$TMP/$p.pub"; done
"$CTL" keygen --signing-key "$TMP/server.key" >"$TMP/server.pub"

# intent [BR_NETWORKS] [ISOLATED]: br in BR_NETWORKS (default "a b");
# ISOLATED=1 puts gw and br in isolation mode (gw then listens on 51820+i
# in the i-th network).
intent() {
  local brnets=${1:-a b} iso=${2:-0}
  jq -n --arg brnets "$brnets" --argjson iso "$iso" --argjson brb "${BR_BRIDGES:-[]}" \
    --arg gw "$(cat "$TMP/gw.pub")" --arg br "$(cat "$TMP/br.pub")" --arg sa "$(cat "$TMP/sa.pub")" \
    --arg sb "$(cat "$TMP/sb.pub")" --arg sc "$(cat "$TMP/sc.pub")" '
    def net(n; i; spoke):
      {name: n, ipv4_cidr: "10.71.\(i + 1).0/24", firewall_default_policy: "drop",
       peers: ([{name: "gw", publicly_reachable: true, endpoint: "192.0.2.10:\(51820 + i * $iso)"}
                + (if $iso == 1 then {listen_port: (51820 + i)} else {} end),
                {name: spoke}]
               + (if ($brnets | split(" ") | index(n)) != null
                  then [{name: "br"} + (if $iso == 1 then {listen_port: (51820 + i)} else {} end)]
                  else [] end)),
       firewall_rules: [{name: "everything", position: 1, action: "accept", protocol: "any",
                         source: {all: true}, destination: {all: true}}]};
    {workspaces: [{name: "hst",
      hosts: [{name: "gw", public_key: $gw, interface_per_network: ($iso == 1)},
              {name: "br", public_key: $br, interface_per_network: ($iso == 1), bridges: $brb},
              {name: "sa", public_key: $sa}, {name: "sb", public_key: $sb}, {name: "sc", public_key: $sc}],
      networks: [net("a"; 0; "sa"), net("b"; 1; "sb"), net("c"; 2; "sc")]}]}' >"$TMP/intent.json"
}

# deliver NODE [RENAMES]: compiles, signs and applies NODE's node document
# in its namespace; by default its one interface runs under IFACE[NODE].
deliver() {
  local p=$1 spec=${2:-${IFACE[$1]}}
  "$CTL" compile -f "$TMP/intent.json" --host "hst/$p" >"$TMP/$p.doc"
  "$CTL" sign --signing-key "$TMP/server.key" -f "$TMP/$p.doc" >"$TMP/$p.sig"
  ip netns exec "${NS[$p]}" "$GD" apply --state-dir "$TMP/$p" --server-key "$TMP/server.pub" \
    -f "$TMP/$p.doc" --signature "$TMP/$p.sig" --interface "$spec" --userspace wireguard-go --json \
    >"$TMP/$p.out" 2>"$TMP/$p.err" || bad "deliver $p: $(cat "$TMP/$p.err")"
}
# addr NET PEER [4|6]: the peer's overlay address in that network
addr() {
  "$CTL" compile -f "$TMP/intent.json" --peer "hst/$1/$2" |
    jq -r --arg f "$([[ ${3:-4} == 4 ]] && echo . || echo :)" \
      '.interface.addresses[] | select(contains($f))' | cut -d/ -f1
}
wgs() { ip netns exec "${NS[$1]}" wg show "$2" "${@:3}"; }
ports() { ip netns exec "${NS[$1]}" ss -Hunl | awk '{n = split($4, a, ":"); print a[n]}' | sort -un | xargs; }
links() { ip -n "${NS[$1]}" -o link show | awk -F': ' '$2 != "lo" && $2 !~ /^eth0/ {print $2}' | sort | xargs; }

# Probe chains: counters in their own table, before and after the
# gateway's routing decision, never touching Nanami's table.
probe_init() { # probe_init NODE
  ip netns exec "${NS[$1]}" nft -f - <<'EOF'
table inet probe {
  chain pre { type filter hook prerouting priority -300; policy accept; }
  chain post { type filter hook postrouting priority 300; policy accept; }
}
EOF
}
probe() { # probe NODE TAG MATCH...: counts MATCH in pre and post
  local p=$1 tag=$2
  shift 2
  for c in pre post; do ip netns exec "${NS[$p]}" nft add rule inet probe "$c" "$@" counter comment "\"$tag\""; done
}
count() { # count NODE pre|post TAG
  ip netns exec "${NS[$1]}" nft -j list chain inet probe "$2" |
    jq --arg t "$3" '[.nftables[].rule? | select(.comment == $t) | .expr[].counter?.packets // empty] | add // 0'
}
ping_once() { ip netns exec "${NS[$1]}" ping -c 2 -i 0.3 -W 1 "${@:2}" >/dev/null 2>&1; }

# --- one node, one interface, one port ------------------------------------
intent
for p in gw br sa sb sc; do deliver "$p"; done
[[ $(jq '.interfaces | length' "$TMP/gw.doc") == 1 && $(jq -c '.interfaces[0].networks' "$TMP/gw.doc") == '["a","b","c"]' &&
   $(field gw '.interfaces | length') == 1 && $(links gw) == "${IFACE[gw]}" && $(ports gw) == 51820 ]] \
  && ok "gw: one node document interface for a, b, c; one link, one UDP port ($(ports gw))" \
  || bad "gw: links '$(links gw)', ports '$(ports gw)', $(cat "$TMP/gw.out")"
[[ $(wgs gw "${IFACE[gw]}" peers | wc -l) == 4 && $(field gw .peers.added) == 4 ]] \
  && ok "gw: 4 peers (br once for two networks)" || bad "gw peers: $(wgs gw "${IFACE[gw]}" peers | wc -l)"
BR_A=$(addr a br) BR_B=$(addr b br) SA=$(addr a sa) SB=$(addr b sb) SC=$(addr c sc)
GW_A=$(addr a gw) GW_C=$(addr c gw)
br_ips=$(wgs gw "${IFACE[gw]}" allowed-ips | awk -v k="$(cat "$TMP/br.pub")" '$1 == k')
[[ $br_ips == *"$BR_A/32"* && $br_ips == *"$BR_B/32"* ]] \
  && ok "gw: br's one peer holds its addresses in a and b" || bad "br on gw: $br_ips"
[[ $(links br) == "${IFACE[br]}" && $(ports br) == 51820 && $(wgs br "${IFACE[br]}" peers | wc -l) == 1 &&
   $(wgs br "${IFACE[br]}" allowed-ips) == *"10.71.1.0/24"*"10.71.2.0/24"* ]] \
  && ok "br: one interface, one port, gw as one peer for both networks (one NAT mapping)" \
  || bad "br: links '$(links br)' ports '$(ports br)' $(wgs br "${IFACE[br]}" allowed-ips)"

# --- inside a network -------------------------------------------------------
probe_init gw
probe gw inside ip saddr "$SA" ip daddr "$BR_A"
ping_until "${NS[sa]}" "$BR_A" && ok "sa -> br in network a, through gw" || bad "ping sa -> br (a)"
ping_until "${NS[sb]}" "$BR_B" && ok "sb -> br in network b, through gw" || bad "ping sb -> br (b)"
ping_until "${NS[sc]}" "$GW_C" && ok "sc -> gw in network c" || bad "ping sc -> gw (c)"
ping_until "${NS[sa]}" "$(addr a br 6)" && ok "sa -> br in network a over IPv6" || bad "ping sa -> br IPv6"
[[ $(count gw post inside) -gt 0 ]] && ok "the probe counts what gw forwards ($(count gw post inside) packets)" \
  || bad "probe saw no forwarded packet"

# --- between networks, out of the workspace, spoofed ----------------------
# sa turns hostile: it widens its own AllowedIPs and routes towards network
# c, gw's address there and the underlay host "out" (192.0.2.15).
GWKEY=$(cat "$TMP/gw.pub")
ip netns exec "${NS[sa]}" wg set "${IFACE[sa]}" peer "$GWKEY" \
  allowed-ips "10.71.1.0/24,10.71.3.0/24,192.0.2.15/32,$(wgs sa "${IFACE[sa]}" allowed-ips | awk '{print $3}')"
ip -n "${NS[sa]}" route add 10.71.3.0/24 dev "${IFACE[sa]}"
ip -n "${NS[sa]}" route add 192.0.2.15/32 dev "${IFACE[sa]}"
probe gw a2c ip saddr "$SA" ip daddr "$SC"
probe gw a2gwc ip saddr "$SA" ip daddr "$GW_C"
probe gw out ip saddr "$SA" ip daddr 192.0.2.15
ping_once sa "$SC" && bad "sa reached sc across networks" || true
[[ $(count gw pre a2c) -gt 0 && $(count gw post a2c) == 0 ]] \
  && ok "a -> c: gw receives ($(count gw pre a2c)) and forwards nothing" \
  || bad "a -> c: pre $(count gw pre a2c), post $(count gw post a2c)"
ping_once sa "$GW_C" && bad "sa reached gw's address in network c" || \
  { [[ $(count gw pre a2gwc) -gt 0 ]] && ok "a -> gw's address in c: received, not answered" || bad "a -> gw (c): nothing arrived"; }
ping_once sa 192.0.2.15 && bad "sa reached a host outside the workspace" || true
[[ $(count gw pre out) -gt 0 && $(count gw post out) == 0 ]] \
  && ok "out of the workspace despite rule \"everything\": received ($(count gw pre out)), not forwarded" \
  || bad "outside: pre $(count gw pre out), post $(count gw post out)"
# br is in a and b: its address in b talking to sa in a crosses networks.
probe gw b2a ip saddr "$BR_B" ip daddr "$SA"
ping_once br -I "$BR_B" "$SA" && bad "br's b address reached sa in a" || true
[[ $(count gw pre b2a) -gt 0 && $(count gw post b2a) == 0 ]] \
  && ok "br from its b address to a: received ($(count gw pre b2a)), not forwarded" \
  || bad "b -> a: pre $(count gw pre b2a), post $(count gw post b2a)"
# A source sa does not own: WireGuard on gw drops it before any chain.
ip -n "${NS[sa]}" addr add 10.71.1.250/32 dev "${IFACE[sa]}"
probe_init sa
probe sa spoof ip saddr 10.71.1.250
probe gw spoof ip saddr 10.71.1.250
ping_once sa -I 10.71.1.250 "$BR_A" && bad "a spoofed source reached br" || true
[[ $(count sa post spoof) -gt 0 && $(count gw pre spoof) == 0 ]] \
  && ok "a spoofed source leaves sa ($(count sa post spoof)) and never reaches gw's firewall" \
  || bad "spoof: sa sent $(count sa post spoof), gw saw $(count gw pre spoof)"

# --- drift repair narrows what sa widened -----------------------------------
# The routes sa's operator added by hand stay (not Nanami's protocol, so
# not its to remove); the AllowedIPs that would carry them are put back.
deliver sa
[[ $(wgs sa "${IFACE[sa]}" allowed-ips) != *"10.71.3.0/24"* && $(field sa .peers.updated) == 1 &&
   $(field sa .addresses.removed) == 1 ]] \
  && ok "re-applying sa's document narrows its AllowedIPs and removes the spoofing address" \
  || bad "sa drift: $(wgs sa "${IFACE[sa]}" allowed-ips) / $(cat "$TMP/sa.out")"
ping_once sa "$SC" && bad "sa reaches sc after repair" || ok "with its hand-made route left, sa still cannot reach c"

# --- br's host bridges --------------------------------------------------------
# A Linux bridge over rtnetlink: made, put back when deleted by hand,
# removed when the intent drops it. OVS bridges are skipped, and said so.
BR_BRIDGES='[{"name": "mgmt", "kind": "linux"}, {"name": "lab", "kind": "ovs"}]' intent
deliver br
BRIDGE=$(jq -r '.host_bridges[] | select(.kind == "linux") | .kernel_name' "$TMP/br.doc")
bridge_up() { ip -n "${NS[br]}" -d -o link show "$BRIDGE" 2>/dev/null | grep -q "bridge" &&
              ip -n "${NS[br]}" -o link show "$BRIDGE" | grep -q ",UP"; }
[[ $(field br '.bridges | [.linux, .set, .skipped] | join(" ")') == "1 1 1" ]] && bridge_up \
  && grep -q "OVS bridge(s) not applied" "$TMP/br.err" \
  && ok "br: Linux bridge $BRIDGE made and up; the OVS one skipped with a warning" \
  || bad "bridges: $(cat "$TMP/br.out" "$TMP/br.err")"
ip -n "${NS[br]}" link del "$BRIDGE"
deliver br
[[ $(field br .bridges.set) == 1 ]] && bridge_up && ok "a hand-deleted bridge is put back" \
  || bad "bridge drift: $(cat "$TMP/br.out")"
intent
deliver br
[[ $(field br .bridges.removed) == 1 ]] && ! ip -n "${NS[br]}" link show "$BRIDGE" >/dev/null 2>&1 \
  && ok "a bridge the intent dropped is removed" || bad "bridge removal: $(cat "$TMP/br.out")"

# --- br leaves network b ----------------------------------------------------
intent "a"
deliver gw; deliver br
[[ $(links br) == "${IFACE[br]}" && $(field br .addresses.removed) == 2 &&
   $(wgs br "${IFACE[br]}" allowed-ips) != *"10.71.2.0/24"* &&
   $(wgs gw "${IFACE[gw]}" allowed-ips | awk -v k="$(cat "$TMP/br.pub")" '$1 == k') != *"$BR_B/"* ]] \
  && ok "br left b: its b addresses and routes are gone, one interface kept" \
  || bad "br leaving b: links '$(links br)' $(cat "$TMP/br.out")"
ping_once sb "$BR_B" && bad "sb still reaches br's old address in b" || ok "sb no longer reaches br in b"
ping_until "${NS[sa]}" "$BR_A" && ok "sa -> br in a still works" || bad "ping sa -> br after b left"

# --- isolation mode: one interface per network ---------------------------
intent "a b" 1
# The document names interfaces nn-<network id8>; each gets a test-unique
# name, and the shared interface of the last document maps to IFACE too.
renames() { # renames NODE: OLD=NEW for the shared interface and each network's
  local p=$1 spec="$(jq -r .interfaces[0].name "$TMP/$p.doc.prev")=${IFACE[$p]}" n i=0
  for n in $(jq -r '.interfaces[].name' "$TMP/$p.doc.next"); do
    spec+=",$n=${IFACE[$p]}n$i"; i=$((i + 1))
  done
  echo "$spec"
}
for p in gw br; do
  cp "$TMP/$p.doc" "$TMP/$p.doc.prev"
  "$CTL" compile -f "$TMP/intent.json" --host "hst/$p" >"$TMP/$p.doc.next"
  deliver "$p" "$(renames "$p")"
done
for p in sa sb sc; do deliver "$p"; done
[[ $(field gw '.interfaces | length') == 3 && $(field gw .interfaces_removed) == 1 && $(ports gw) == "51820 51821 51822" &&
   $(links gw) == "${IFACE[gw]}n0 ${IFACE[gw]}n1 ${IFACE[gw]}n2" ]] \
  && ok "gw in isolation mode: three interfaces on 51820-51822, the shared one deleted" \
  || bad "gw isolation: links '$(links gw)' ports '$(ports gw)' $(cat "$TMP/gw.out")"
[[ $(field br '.interfaces | length') == 2 && $(field br .interfaces_removed) == 1 && $(ports br) == "51820 51821" ]] \
  && ok "br in isolation mode: two interfaces, two ports, the shared one deleted" \
  || bad "br isolation: links '$(links br)' ports '$(ports br)' $(cat "$TMP/br.out")"
ping_until "${NS[sa]}" "$BR_A" && ok "sa -> br in a over the per-network interfaces" || bad "ping sa -> br (isolated)"
ping_until "${NS[sb]}" "$BR_B" && ok "sb -> br in b over the per-network interfaces" || bad "ping sb -> br (isolated)"

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
