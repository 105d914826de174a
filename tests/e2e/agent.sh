#!/usr/bin/env bash
# gateway-daemon end to end in network namespaces: every node makes its own
# WireGuard key, the operator compiles and signs the envelopes, and the
# daemon applies them (wireguard-go over UAPI, rtnetlink, libnftables).
# Proves with real packets and real device state:
#   keys are made on the node, 0600, and kept across keygen runs
#   spoke -> spoke through the hub over IPv4 and IPv6
#   a new spoke is applied by diff: the hub's existing peers are untouched
#   (their transfer counters keep counting, which a re-added peer would reset)
#   an endpoint change reaches the spoke; endpoints the hub learnt stay
#   hand-made drift (peer removed, route deleted, link down) is put back
#   tampered, forged or older (rollback) envelopes are refused before
#   anything is applied
#   a signed but invalid envelope is refused with the JSON path
# NN_WG_BACKEND=kernel runs the same scenario on kernel WireGuard over
# generic netlink (tests/vm/kernel.sh, in a VM whose kernel has the
# module); the default is wireguard-go over its UAPI socket.
set -euo pipefail
CTL=${1:?usage: agent.sh NANAMICTL GATEWAY_DAEMON}
GD=${2:?usage: agent.sh NANAMICTL GATEWAY_DAEMON}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../judges/lib.sh"
source "$HERE/overlay.sh"
BACKEND=${NN_WG_BACKEND:-userspace}
if [[ $BACKEND == kernel ]]; then
  USERSPACE=()
  require_root wg ip nft jq ping
else
  USERSPACE=(--userspace wireguard-go)
  require_root wireguard-go wg ip nft jq ping
fi
umask 077
TMP=$(mktemp -d)
trap 'netns_cleanup; rm -rf "$TMP"' EXIT

overlay_nodes nna hub s1 s2 s3

# --- node identity ---------------------------------------------------------
for p in "${NODES[@]}"; do "$GD" keygen --state-dir "$TMP/$p" >"$TMP/$p.pub"; done
[[ $(stat -c %a "$TMP/hub/wg.key") == 600 && $(stat -c %a "$TMP/hub") == 700 ]] \
  && ok "private key file is 0600 in a 0700 state dir" || bad "key modes: $(stat -c %a "$TMP/hub/wg.key")"
[[ $("$GD" keygen --state-dir "$TMP/hub") == "$(cat "$TMP/hub.pub")" ]] \
  && ok "keygen keeps an existing key" || bad "keygen replaced the key"
[[ $(wg pubkey <"$TMP/hub/wg.key") == "$(cat "$TMP/hub.pub")" ]] \
  && ok "printed public key matches the private key (wg pubkey)" || bad "public key mismatch"

"$CTL" keygen --signing-key "$TMP/server.key" >"$TMP/server.pub"
"$CTL" keygen --signing-key "$TMP/forger.key" >"$TMP/forger.pub"

# intent NODE... : the network with those spokes, hub endpoint $HUB_EP.
HUB_EP=192.0.2.10:51820
intent() {
  local peers='[]' p
  peers=$(jq -n --arg k "$(cat "$TMP/hub.pub")" --arg ep "$HUB_EP" \
    '[{name: "hub", public_key: $k, publicly_reachable: true, endpoint: $ep}]')
  for p in "$@"; do
    peers=$(jq --arg n "$p" --arg k "$(cat "$TMP/$p.pub")" '. + [{name: $n, public_key: $k}]' <<<"$peers")
  done
  jq -n --argjson peers "$peers" '{workspaces: [{name: "agt", networks: [{
    name: "corp", ipv4_cidr: "10.98.0.0/24", firewall_default_policy: "drop", peers: $peers,
    firewall_rules: [{name: "icmp", position: 1, action: "accept", protocol: "icmp",
                      source: {all: true}, destination: {all: true}}]}]}]}' >"$TMP/intent.json"
}

deliver() { envelope_deliver agt/corp "$1" "${USERSPACE[@]}"; }
wgs() { ip netns exec "${NS[$1]}" wg show "${IFACE[$1]}" "${@:2}"; }
addr() { jq -r --arg f "$2" '.interface.addresses[] | select(contains($f))' "$TMP/$1.env" | cut -d/ -f1; }

# --- first delivery: hub and two spokes -----------------------------------
intent s1 s2
for p in hub s1 s2; do deliver "$p"; done
[[ $(field hub .peers.added) == 2 && $(field s1 .peers.added) == 1 && $(field hub .private_key_set) == true ]] \
  && ok "first apply: hub +2 peers, spoke +1, private key set" || bad "first apply: $(cat "$TMP/hub.out")"
kind=$(ip -n "${NS[hub]}" -d -o link show "${IFACE[hub]}" | grep -o 'wireguard\|tun ' | head -1)
[[ $(field hub .wireguard) == "$BACKEND" && $(field s1 .wireguard) == "$BACKEND" &&
   $kind == $([[ $BACKEND == kernel ]] && echo wireguard || echo "tun ") ]] \
  && ok "the devices are $BACKEND WireGuard (link kind '$kind')" \
  || bad "backend: $(field hub .wireguard), link kind '$kind', want $BACKEND"
[[ $(wgs hub private-key) == "$(cat "$TMP/hub/wg.key")" ]] \
  && ok "device runs the node's own key" || bad "device key differs"
if grep -rqF -- "$(cat "$TMP/hub/wg.key")" "$TMP"/*.env "$TMP"/*.out "$TMP/hub/applied.json"; then
  bad "the private key appears outside wg.key"
else
  ok "the private key appears in no envelope, summary or saved state"
fi
[[ $(field hub .addresses.added) == 2 && $(field hub .routes.added) -ge 2 && $(field hub .forwarding_set) == true ]] \
  && ok "hub: 2 addresses, routes, forwarding on" || bad "hub rtnl: $(cat "$TMP/hub.out")"
[[ $(ip -n "${NS[hub]}" -o link show "${IFACE[hub]}") == *"mtu 1420"*",UP,"* || \
   $(ip -n "${NS[hub]}" -o link show "${IFACE[hub]}") == *"UP"*"mtu 1420"* ]] \
  && ok "link is up with the envelope's mtu" || bad "link: $(ip -n "${NS[hub]}" -o link show "${IFACE[hub]}")"
ruleset=$(ip netns exec "${NS[hub]}" nft list ruleset)
[[ $ruleset == *"iifname \"${IFACE[hub]}\""* && $ruleset != *"$(jq -r .interface.name "$TMP/hub.env")"* ]] \
  && ok "ruleset loaded, matching the renamed interface" || bad "ruleset does not match ${IFACE[hub]}"

S2_4=$(addr s2 .); S2_6=$(addr s2 :)
ping_until "${NS[s1]}" "$S2_4" && ok "s1 -> s2 over IPv4 through the hub" || bad "ping s1 -> s2 IPv4"
ping_until "${NS[s1]}" "$S2_6" && ok "s1 -> s2 over IPv6 through the hub" || bad "ping s1 -> s2 IPv6"

# --- unchanged envelope: nothing at all is written --------------------------
deliver hub
[[ $(field hub '[.peers.added, .peers.updated, .peers.removed, .peers.unchanged] | join(" ")') == "0 0 0 2" &&
   $(field hub '.addresses.added + .routes.added + .addresses.removed + .routes.removed') == 0 &&
   $(field hub .link_set) == false ]] \
  && ok "re-applying the same envelope changes nothing" || bad "re-apply: $(cat "$TMP/hub.out")"

# --- a new spoke: the hub's existing peers are not touched ---------------
S1KEY=$(cat "$TMP/s1.pub")
rx_before=$(wgs hub transfer | awk -v k="$S1KEY" '$1 == k {print $2}')
hs_before=$(wgs hub latest-handshakes | awk -v k="$S1KEY" '$1 == k {print $2}')
intent s1 s2 s3
deliver hub
deliver s3
[[ $(field hub '[.peers.added, .peers.updated, .peers.removed, .peers.unchanged] | join(" ")') == "1 0 0 2" ]] \
  && ok "new spoke: hub +1 peer, 2 untouched" || bad "new spoke diff: $(cat "$TMP/hub.out")"
rx_after=$(wgs hub transfer | awk -v k="$S1KEY" '$1 == k {print $2}')
hs_after=$(wgs hub latest-handshakes | awk -v k="$S1KEY" '$1 == k {print $2}')
[[ $rx_before -gt 0 && $rx_after -ge $rx_before && $hs_after == "$hs_before" && $hs_before -gt 0 ]] \
  && ok "s1's session survived (rx $rx_before -> $rx_after, handshake $hs_before kept)" \
  || bad "s1's session was disturbed: rx $rx_before -> $rx_after, handshake $hs_before -> $hs_after"
ping_until "${NS[s3]}" "$(addr s1 .)" && ok "the new spoke s3 reaches s1" || bad "ping s3 -> s1"

# --- endpoints: an intent change is written; roaming is left alone -------
ip -n "${NS[hub]}" addr add 192.0.2.20/24 dev eth0
HUB_EP=192.0.2.20:51820
intent s1 s2 s3
deliver s1
[[ $(field s1 .peers.updated) == 1 && $(wgs s1 endpoints) == *"192.0.2.20:51820" ]] \
  && ok "the hub's new endpoint reaches s1 as an update" || bad "endpoint update: $(cat "$TMP/s1.out") $(wgs s1 endpoints)"
# The hub learnt each spoke's endpoint from its packets (the envelope has
# none for spokes behind NAT); re-applying the hub must not clear them.
ping_until "${NS[s1]}" "$S2_4" && ok "s1 -> s2 still works via the new endpoint" || bad "ping after endpoint change"
deliver hub
[[ $(field hub .peers.updated) == 0 && $(wgs hub endpoints | grep -c 192.0.2.1) == 3 ]] \
  && ok "re-applying the hub keeps the spoke endpoints it learnt" \
  || bad "hub rewrote a roamed endpoint: $(cat "$TMP/hub.out")"
[[ $(field hub .ruleset_changed) == false ]] \
  && ok "re-applying the same ruleset reads as unchanged (no false drift)" \
  || bad "unchanged ruleset reported as changed: $(cat "$TMP/hub.out")"

# --- drift repair -----------------------------------------------------------
ip netns exec "${NS[hub]}" wg set "${IFACE[hub]}" peer "$S1KEY" remove
ip -n "${NS[hub]}" route del 10.98.0.0/24 dev "${IFACE[hub]}"
ip -n "${NS[s2]}" link set "${IFACE[s2]}" down
deliver hub; deliver s2
[[ $(field hub .peers.added) == 1 && $(field hub .peers.unchanged) == 2 && $(field hub .routes.added) == 1 ]] \
  && ok "hand-removed peer and route are restored on the hub" || bad "hub drift: $(cat "$TMP/hub.out")"
[[ $(field s2 .link_set) == true ]] && ok "a downed link is brought back up" || bad "s2 drift: $(cat "$TMP/s2.out")"
# A firewall chain flushed by hand: put back, and reported as a change.
hub_nft() { ip netns exec "${NS[hub]}" nft "$@"; }
chain=$(hub_nft list table inet nanami | awk '$1 == "chain" && $2 ~ /^fw_[0-9a-f]+$/ {print $2; exit}')
rules=$(hub_nft list chain inet nanami "$chain" | grep -c .)
hub_nft flush chain inet nanami "$chain"
deliver hub
[[ -n $chain && $(field hub .ruleset_changed) == true && $(hub_nft list chain inet nanami "$chain" | grep -c .) == "$rules" ]] \
  && ok "a hand-flushed firewall chain ($chain, $rules lines) is put back and reported" \
  || bad "nft drift: chain '$chain' $(hub_nft list chain inet nanami "$chain" | grep -c .)/$rules lines, $(cat "$TMP/hub.out")"
ping_until "${NS[s1]}" "$S2_4" && ok "s1 -> s2 works again after repair" || bad "ping after repair"

# --- refused envelopes change nothing ---------------------------------------
intent s1 s2 s3
deliver hub
peers_before=$(wgs hub peers | sort)
cp "$TMP/hub.env" "$TMP/tampered.env"
sed -i 's/"listen_port":51820/"listen_port":51821/' "$TMP/tampered.env"
refuse() { # refuse NAME ENVFILE SIGFILE EXPECTED_ERROR
  local rc=0
  ip netns exec "${NS[hub]}" "$GD" apply --state-dir "$TMP/hub" --server-key "$TMP/server.pub" \
    -f "$2" --signature "$3" --interface "${IFACE[hub]}" >"$TMP/refuse.out" 2>"$TMP/refuse.err" || rc=$?
  if [[ $rc == 2 && $(cat "$TMP/refuse.err") == *"$4"* && $(wgs hub peers | sort) == "$peers_before" &&
        $(wgs hub listen-port) == 51820 ]]; then
    ok "$1 is refused, nothing applied"
  else
    bad "$1: rc=$rc $(cat "$TMP/refuse.err")"
  fi
}
refuse "a tampered envelope" "$TMP/tampered.env" "$TMP/hub.sig" "signature does not verify"
"$CTL" sign --signing-key "$TMP/forger.key" -f "$TMP/tampered.env" >"$TMP/forged.sig"
refuse "an envelope signed by another key" "$TMP/tampered.env" "$TMP/forged.sig" "signature does not verify"
echo "not base64" >"$TMP/garbage.sig"
refuse "a malformed signature" "$TMP/hub.env" "$TMP/garbage.sig" "signature does not verify"
jq -c '.interface.mtu = 100' "$TMP/hub.env" >"$TMP/badmtu.env"
"$CTL" sign --signing-key "$TMP/server.key" -f "$TMP/badmtu.env" >"$TMP/badmtu.sig"
refuse "a signed envelope with mtu 100" "$TMP/badmtu.env" "$TMP/badmtu.sig" "interface.mtu"
jq -c '.peers[0].public_key = "not-a-key"' "$TMP/hub.env" >"$TMP/badkey.env"
"$CTL" sign --signing-key "$TMP/server.key" -f "$TMP/badkey.env" >"$TMP/badkey.sig"
refuse "a signed envelope with a bad peer key" "$TMP/badkey.env" "$TMP/badkey.sig" "peers[0].public_key"
# Rollback: the hub's own envelope, validly signed, but at a revision older
# than the one applied (each signature above took the time in ms).
"$CTL" sign --signing-key "$TMP/server.key" -f "$TMP/hub.env" --revision 1 >"$TMP/old.sig"
refuse "a validly signed envelope at an older revision" "$TMP/hub.env" "$TMP/old.sig" "rollback refused"
"$CTL" sign --signing-key "$TMP/server.key" -f "$TMP/hub.env" --revision 12x >/dev/null 2>"$TMP/rev.err" \
  && bad "--revision 12x accepted" || ok "nanamictl sign refuses a malformed revision: $(cat "$TMP/rev.err")"

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
