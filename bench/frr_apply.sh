#!/usr/bin/env bash
# FRR apply figures: gateway-daemon apply (one shot) of a BGP envelope
# against a real zebra + bgpd in a scratch namespace (needs root):
#   first load into an empty bgpd (frr-reload.py, the whole text)
#   an unchanged re-apply (one `show running-config`, no reload), and the
#     same apply with FRR off, to show what the check costs
#   a one-network change (frr-reload.py, a diff of one line)
#   a drift repair (one network removed through vtysh, then re-applied)
# Each figure is the median wall time of ROUNDS runs of the whole apply
# (verify, nft, WireGuard, rtnetlink, FRR), with the frr outcome checked.
# usage: bench/frr_apply.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
BUILD=${1:-build}
ROUNDS=${2:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
CTL="$BUILD/nanamictl" GD="$BUILD/gateway-daemon"
source "$HERE/../tests/judges/lib.sh"
source "$HERE/../tests/e2e/overlay.sh"
require_root wireguard-go wg ip nft jq vtysh /usr/lib/frr/bgpd /usr/lib/frr/frr-reload.py
export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
TMP=$(mktemp -d)
chmod 755 "$TMP"
trap 'netns_cleanup; rm -rf "$TMP"' EXIT
NS="nnfb-$RUN_ID"
IFACE="nnfb$RUN_ID"
netns_add "$NS"
frr_daemons "$NS" "$TMP/frr"
"$CTL" keygen --signing-key "$TMP/server.key" >"$TMP/server.pub"
"$GD" keygen --state-dir "$TMP/state" >/dev/null

# envelope LAN: branch-1 of examples/fabric.json with its LANs replaced
envelope() {
  jq --arg lan "$1" '(.workspaces[].networks[] | select(.name == "core") | .peers[]
    | select(.name == "branch-1") | .lan_subnets) = [$lan]' "$HERE/../examples/fabric.json" >"$TMP/intent.json"
  "$CTL" compile -f "$TMP/intent.json" --peer globex/core/branch-1 >"$TMP/env.json"
  "$CTL" sign --signing-key "$TMP/server.key" -f "$TMP/env.json" >"$TMP/env.sig"
}
# apply EXPECTED_FRR [VTY_DIR] -> wall ms on stdout
apply() {
  local t0 t1 got
  t0=$(date +%s%N)
  ip netns exec "$NS" "$GD" apply --state-dir "$TMP/state" --server-key "$TMP/server.pub" \
    -f "$TMP/env.json" --signature "$TMP/env.sig" --interface "$IFACE" --userspace wireguard-go \
    --frr-vty "${2:-$TMP/frr}" --json >"$TMP/out.json" 2>"$TMP/err"
  t1=$(date +%s%N)
  got=$(jq -r .frr "$TMP/out.json")
  [[ $got == "$1" ]] || { echo "frr: expected $1, got $got ($(cat "$TMP/err"))" >&2; exit 1; }
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) / 1e6 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
vty() { ip netns exec "$NS" vtysh --vty_socket "$TMP/frr" -c "$1"; }

envelope 192.168.31.0/24
first=$(apply reloaded)
lines=$(vty "show running-config" | wc -l)
unchanged=$(for _ in $(seq "$ROUNDS"); do apply unchanged; done | median)
without=$(for _ in $(seq "$ROUNDS"); do apply disabled off; done | median)
change=$(for i in $(seq "$ROUNDS"); do envelope "192.168.$((40 + i)).0/24"; apply reloaded; done | median)
router=$(jq -r '.bgp.frr_text' "$TMP/env.json" | grep '^router bgp')
repair=$(for _ in $(seq "$ROUNDS"); do
  vty "configure terminal
$router
address-family ipv4 unicast
no network 10.40.255.10/32" >/dev/null
  apply reloaded
done | median)
echo "frr apply (gateway-daemon apply, whole envelope; median of $ROUNDS)"
echo "  first load into an empty bgpd ($lines running-config lines): $first ms"
echo "  unchanged re-apply (one show running-config): $unchanged ms"
echo "  the same re-apply with --frr-vty off (no FRR at all): $without ms"
echo "  one network changed (frr-reload diff): $change ms"
echo "  drift repair after a vtysh edit: $repair ms"
