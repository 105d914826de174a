#!/usr/bin/env bash
# A peer too wide for one netlink message, on kernel WireGuard. Runs inside
# the test VM (tests/vm/run.sh). s1 routes 1,500 LAN prefixes, so the hub's
# peer s1 has 1,502 allowed IPs: the daemon's SET_DEVICE is split across
# messages (a peer continued under its key), and the kernel's GET_DEVICE
# dump continues that peer across messages, which the daemon must join.
# Proves:
#   all 1,502 allowed IPs reach the kernel (wg show agrees)
#   re-applying reads them back whole: nothing to change
#   gateway-daemon show reports the same count
#   dropping 1,000 of them is one update, and the kernel holds exactly 502
set -euo pipefail
CTL=${1:?usage: wide.sh NANAMICTL GATEWAY_DAEMON}
GD=${2:?usage: wide.sh NANAMICTL GATEWAY_DAEMON}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../judges/lib.sh"
source "$HERE/../e2e/overlay.sh"
require_root wg ip nft jq ping
umask 077
TMP=$(mktemp -d)
trap 'netns_cleanup; rm -rf "$TMP"' EXIT

overlay_nodes nnw hub s1
for p in "${NODES[@]}"; do "$GD" keygen --state-dir "$TMP/$p" >"$TMP/$p.pub"; done
"$CTL" keygen --signing-key "$TMP/server.key" >"$TMP/server.pub"
intent() { # intent LAN_COUNT: s1 routes that many /30s of 10.200.0.0/16
  jq -n --arg h "$(cat "$TMP/hub.pub")" --arg a "$(cat "$TMP/s1.pub")" --argjson n "$1" '
    {workspaces: [{name: "wd", networks: [{name: "core", ipv4_cidr: "10.95.0.0/24",
      firewall_default_policy: "drop",
      peers: [{name: "hub", public_key: $h, publicly_reachable: true, endpoint: "192.0.2.10:51820"},
              {name: "s1", public_key: $a,
               lan_subnets: [range(0; $n) | "10.200.\(. / 64 | floor).\(. % 64 * 4)/30"]}],
      firewall_rules: [{name: "icmp", position: 1, action: "accept", protocol: "icmp"}]}]}]}' >"$TMP/intent.json"
}
deliver() { envelope_deliver wd/core "$1"; }
S1KEY=$(cat "$TMP/s1.pub")
kernel_ips() { ip netns exec "${NS[hub]}" wg show "${IFACE[hub]}" allowed-ips | awk -v k="$S1KEY" '$1 == k {print NF - 1}'; }
shown_ips() {
  ip netns exec "${NS[hub]}" "$GD" show --interface "${IFACE[hub]}" |
    jq --arg k "$S1KEY" '.peers[] | select(.public_key == $k) | .allowed_ips | length'
}

intent 1500
for p in hub s1; do deliver "$p"; done
[[ $(field hub .wireguard) == kernel && $(field hub .peers.added) == 1 && $(kernel_ips) == 1502 ]] \
  && ok "all 1,502 allowed IPs of one peer reach the kernel" \
  || bad "wide apply: kernel holds $(kernel_ips): $(cat "$TMP/hub.out" "$TMP/hub.err")"
deliver hub
[[ $(field hub '[.peers.added, .peers.updated, .peers.removed, .peers.unchanged] | join(" ")') == "0 0 0 1" ]] \
  && ok "re-applying reads the peer back whole across dump messages: nothing to change" \
  || bad "re-apply: $(cat "$TMP/hub.out")"
[[ $(shown_ips) == 1502 ]] && ok "gateway-daemon show reports 1,502" || bad "show: $(shown_ips)"
ping_until "${NS[hub]}" "$(jq -r '.interface.addresses[] | select(contains("."))' "$TMP/s1.env" | cut -d/ -f1)" \
  && ok "the hub reaches s1 over the wide peer" || bad "ping hub -> s1"

intent 500
deliver hub
[[ $(field hub .peers.updated) == 1 && $(kernel_ips) == 502 ]] \
  && ok "dropping 1,000 prefixes is one update; the kernel holds exactly 502" \
  || bad "narrowing: kernel holds $(kernel_ips): $(cat "$TMP/hub.out")"

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
