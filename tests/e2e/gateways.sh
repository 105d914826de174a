#!/usr/bin/env bash
# Gateways end to end, through the node runtime (nanamid, gateway-manager,
# gateway-daemon; real wireguard-go, nft, rtnetlink, wg-quick):
#   a spoke reaches a private LAN behind another spoke (the LAN gateway)
#   the firewall admits the allowed flow and drops the rest, with packets
#   a port mapping on the hub reaches its target from an outside client
#   a user device in full tunnel (its wg-quick config, run by wg-quick)
#     reaches a host only the exit gateway can reach, masqueraded as the
#     gateway; switched back to vpn_only through the API, the exit gateway
#     drops that traffic again
# Namespaces: nanamid; hub (exit gateway, also uplink to the "internet"
# namespace); s1; s2 (gateway for the lan namespace); out (outside client);
# dev (the user device).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/runtime.sh"
runtime_args "$@"
require_root wireguard-go wg wg-quick ip nft jq ping curl setpriv nc
runtime_begin
OUT="nng-$RUN_ID-out" DEV="nng-$RUN_ID-dev" LAN="nng-$RUN_ID-lan" INET="nng-$RUN_ID-inet"
runtime_nodes nng hub s1 s2
for ns in "$OUT" "$DEV" "$LAN" "$INET"; do netns_add "$ns"; done
underlay_attach "$OUT" 192.0.2.30
underlay_attach "$DEV" 192.0.2.31
# p2p NS_A ADDR_A NS_B ADDR_B: a point-to-point /24 between two namespaces
p2p() {
  ip -n "$1" link add side0 type veth peer name side1 netns "$3"
  ip -n "$1" addr add "$2/24" dev side0
  ip -n "$3" addr add "$4/24" dev side1
  ip -n "$1" link set side0 up
  ip -n "$3" link set side1 up
}
# The private LAN behind s2: its hosts route back through s2.
p2p "${NS[s2]}" 10.98.0.1 "$LAN" 10.98.0.2
ip -n "$LAN" route add default via 10.98.0.1
# The exit gateway's uplink: 203.0.113.0/24 is reachable from the hub only.
# The internet host has no route to the overlay or the underlay.
p2p "${NS[hub]}" 203.0.113.1 "$INET" 203.0.113.2

# --- the server, the intent, the nodes --------------------------------------------
runtime_init
start_server || { bad "nanamid did not start: $(cat "$TMP/nanamid.log")"; exit 1; }
placeholder() { wg genkey | wg pubkey; }
(umask 077; wg genkey >"$TMP/laptop.key")
jq -n --arg h "$(placeholder)" --arg a "$(placeholder)" --arg b "$(placeholder)" \
  --arg d "$(wg pubkey <"$TMP/laptop.key")" '
  {workspaces: [{name: "gw", networks: [{name: "corp", ipv4_cidr: "10.97.0.0/24",
    firewall_default_policy: "drop",
    peers: [{name: "hub", public_key: $h, publicly_reachable: true, endpoint: "192.0.2.10:51820",
             roles: ["exit_gateway"]},
            {name: "s1", public_key: $a},
            {name: "s2", public_key: $b, lan_subnets: ["10.98.0.0/24"]}],
    devices: [{name: "laptop", public_key: $d,
               routing_preference: {routing_mode: "manual", traffic_mode: "full_tunnel", egress: "hub"}}],
    firewall_rules: [
      {name: "icmp", position: 1, action: "accept", protocol: "icmp"},
      {name: "lan-web", position: 10, action: "accept", protocol: "tcp", ports: [8080],
       source: {peer: "s1"}, destination: {cidr: "10.98.0.0/24"}}],
    port_mappings: [{name: "web", hub: "hub", protocol: "tcp", external_port: 8080,
                     target: {peer: "s1"}, target_port: 80}]}]}]}' >"$TMP/intent.json"
ctl apply -f "$TMP/intent.json" >/dev/null
"$NANAMID" ca --db "$TMP/db.sqlite" >"$TMP/ca.pem"
chmod 644 "$TMP/ca.pem"
for p in "${NODES[@]}"; do
  "$GD" keygen --state-dir "$TMP/$p/daemon" >/dev/null
  start_daemon "$p" || bad "daemon $p did not start: $(cat "$TMP/$p/daemon.log")"
  enroll_and_run "$p" gw || bad "enroll $p: $(cat "$TMP/$p/enroll.out")"
done
ov4() { api GET "/workspaces/gw/networks/corp/peers/$1/envelope" | jq -r '.interface.addresses[0]' | cut -d/ -f1; }
S1=$(ov4 s1)
applied() { [[ -s $TMP/$1/daemon/applied.json ]]; }
for p in "${NODES[@]}"; do check "$p enrolled and applied its envelope" until_true 15 applied "$p"; done

# --- forwarding where something is routed, not elsewhere -----------------------------
fwd() { ip netns exec "${NS[$1]}" sysctl -n net.ipv4.ip_forward; }
[[ $(fwd s2) == 1 && $(fwd hub) == 1 && $(fwd s1) == 0 ]] \
  && ok "IP forwarding on the LAN gateway and the hub, off on s1" \
  || bad "ip_forward hub=$(fwd hub) s1=$(fwd s1) s2=$(fwd s2)"

# --- a spoke reaches the private LAN through its gateway ------------------------------
check "s1 -> 10.98.0.2 (the LAN behind s2)" ping_until "${NS[s1]}" 10.98.0.2

# --- the firewall, with packets ---------------------------------------------------------
# listen NS PORT TEXT: answers TEXT to every connection (IPv4)
listen() { ip netns exec "$1" bash -c "while :; do echo $3 | nc -4 -N -l $2 >/dev/null 2>&1; done" & }
listen "$LAN" 8080 lan:8080
listen "$LAN" 9090 lan:9090
listen "${NS[s1]}" 80 s1:80
sleep 0.5
[[ $(tcp "${NS[s1]}" 10.98.0.2 8080) == lan:8080 ]] \
  && ok "allowed flow s1 -> LAN:8080 connects" || bad "s1 -> LAN:8080 did not connect"
[[ $(tcp "${NS[s2]}" 10.98.0.2 9090) == lan:9090 ]] \
  && ok "LAN:9090 answers on the LAN itself" || bad "LAN:9090 listener not answering"
[[ -z $(tcp "${NS[s1]}" 10.98.0.2 9090) ]] \
  && ok "s1 -> LAN:9090 (no rule) is dropped by the overlay firewall" || bad "s1 reached LAN:9090"
[[ -z $(tcp "${NS[s2]}" "$S1" 80) ]] \
  && ok "s2 -> s1:80 (no rule) is dropped" || bad "s2 reached s1:80"

# --- a port mapping from outside ---------------------------------------------------------
[[ $(tcp "$OUT" 192.0.2.10 8080) == s1:80 ]] \
  && ok "outside client -> hub:8080 reaches s1:80 (port mapping)" || bad "port mapping did not reach s1"
[[ -z $(tcp "$OUT" 192.0.2.10 8081) ]] && ok "an unmapped hub port reaches nothing" || bad "unmapped port answered"

# --- full tunnel through the exit gateway ---------------------------------------------------
api GET /workspaces/gw/networks/corp/devices/laptop/wireguard.conf \
  | sed "s|^PrivateKey = .*|PrivateKey = $(cat "$TMP/laptop.key")|" >"$TMP/nng${RUN_ID}d.conf"
chmod 600 "$TMP/nng${RUN_ID}d.conf"
grep -q '^AllowedIPs = 0.0.0.0/0, ::/0$' "$TMP/nng${RUN_ID}d.conf" \
  && ok "the device's config sends everything to the exit gateway" \
  || bad "device config: $(cat "$TMP/nng${RUN_ID}d.conf")"
[[ -z $(tcp "$DEV" 203.0.113.2 80) ]] && ok "without the tunnel the device cannot reach 203.0.113.2" \
  || bad "the device reached the uplink without the tunnel"
listen "$INET" 80 inet:80
ip netns exec "$INET" bash -c "nc -4 -l -k -n -v 81 </dev/null >/dev/null 2>$TMP/inet81.log" &
PIDS+=($!)
ip netns exec "$DEV" wg-quick up "$TMP/nng${RUN_ID}d.conf" >"$TMP/wg-quick.log" 2>&1 \
  || bad "wg-quick up: $(cat "$TMP/wg-quick.log")"
check "the device pings 203.0.113.2 through the exit gateway" ping_until "$DEV" 203.0.113.2
[[ $(tcp "$DEV" 203.0.113.2 80) == inet:80 ]] && ok "device -> 203.0.113.2:80 over the full tunnel" \
  || bad "device -> 203.0.113.2:80 failed"
tcp "$DEV" 203.0.113.2 81 >/dev/null
seen=$(grep -o 'received on [0-9.]*' "$TMP/inet81.log" | head -1 || true)
[[ $seen == "received on 203.0.113.1" ]] && ok "the internet host sees the exit gateway's address ($seen)" \
  || bad "source seen by the internet host: '$seen' ($(cat "$TMP/inet81.log"))"
check "the device still reaches s1 over the overlay" ping_until "$DEV" "$S1"

# Back to vpn_only through the API: the hub's egress admission goes away
# with the next envelope, and the device's traffic dies at the gateway.
api PUT /workspaces/gw/networks/corp/devices/laptop/routing-preference '{"traffic_mode":"vpn_only"}' >/dev/null
no_egress() { ! ip netns exec "${NS[hub]}" nft list ruleset | grep -q 'full-tunnel egress'; }
check "vpn_only: the exit gateway withdrew the egress admission" until_true 5 no_egress
[[ -z $(tcp "$DEV" 203.0.113.2 80) ]] && ok "vpn_only: the exit gateway drops the device's internet traffic" \
  || bad "the device still exits through the hub"
ip netns exec "$DEV" wg-quick down "$TMP/nng${RUN_ID}d.conf" >/dev/null 2>&1 || true

echo "gateways e2e: $passes passed, $fails failed"
((fails == 0))
