#!/usr/bin/env bash
# FRR applied by the node runtime (nanamid, gateway-manager, gateway-daemon;
# real wireguard-go, real zebra + bgpd per namespace, frr-reload.py):
#   the daemon loads the envelope's frr_text into the node's bgpd
#   an intent change reaches bgpd as a diff: a LAN that left the intent
#     leaves the running configuration (vtysh -f alone only ever adds)
#   a hand edit through vtysh, and a restarted bgpd, are put back by the
#     drift check and counted
#   a node whose FRR is not running still gets its tunnels, and reports
#     the FRR failure in its observed state
#   switching the network to static routing withdraws Nanami's BGP
#     configuration from bgpd
# This kernel has no VRF module, so bgpd keeps each "router bgp AS vrf V"
# instance down: the sessions themselves are proved by bgp_reflector.sh
# (which drops the vrf); here the daemon must say the VRF is missing.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/runtime.sh"
runtime_args "$@"
require_root wireguard-go wg ip nft jq ping curl setpriv vtysh /usr/lib/frr/zebra /usr/lib/frr/bgpd \
  /usr/lib/frr/frr-reload.py
runtime_begin
runtime_nodes nnr hub s1 s2 s3

runtime_init
start_server || { bad "nanamid did not start: $(cat "$TMP/nanamid.log")"; exit 1; }
placeholder() { wg genkey | wg pubkey; }
# intent LAN_OF_S1 ROUTING_MODE
intent() {
  jq -n --arg h "$(placeholder)" --arg a "$(placeholder)" --arg b "$(placeholder)" --arg c "$(placeholder)" \
    --arg lan "$1" --arg mode "$2" '
    {workspaces: [{name: "fr", bgp: {enabled: true}, networks: [{name: "core",
      ipv4_cidr: "10.96.0.0/24", routing_mode: $mode, firewall_default_policy: "drop",
      peers: [{name: "hub", public_key: $h, publicly_reachable: true, endpoint: "192.0.2.10:51820"},
              {name: "s1", public_key: $a, lan_subnets: [$lan]},
              {name: "s2", public_key: $b, lan_subnets: ["10.62.0.0/24"]},
              {name: "s3", public_key: $c}],
      firewall_rules: [{name: "icmp", position: 1, action: "accept", protocol: "icmp"}]}]}]}'
}
# Public keys are placeholders: enrollment replaces them; a re-apply of
# the intent must keep the enrolled ones, so later documents carry them.
intent 10.60.0.0/24 ibgp >"$TMP/intent.json"
ctl apply -f "$TMP/intent.json" >/dev/null
"$NANAMID" ca --db "$TMP/db.sqlite" >"$TMP/ca.pem"
chmod 644 "$TMP/ca.pem"

# FRR runs on the hub, s1 and s3; s2's vty directory stays empty.
frr_daemons "${NS[hub]}" "$TMP/frr-hub"
frr_daemons "${NS[s1]}" "$TMP/frr-s1"
frr_daemons "${NS[s3]}" "$TMP/frr-s3"
mkdir -p "$TMP/frr-s2"
for p in "${NODES[@]}"; do
  "$GD" keygen --state-dir "$TMP/$p/daemon" >/dev/null
  start_daemon "$p" --frr-vty "$TMP/frr-$p" || bad "daemon $p did not start: $(cat "$TMP/$p/daemon.log")"
  enroll_and_run "$p" fr || bad "enroll $p: $(cat "$TMP/$p/enroll.out")"
done
applied() { [[ -s $TMP/$1/daemon/applied.json ]]; }
for p in "${NODES[@]}"; do check "$p enrolled and applied its envelope" until_true 15 applied "$p"; done

vty() { ip netns exec "${NS[$1]}" vtysh --vty_socket "$TMP/frr-$1" -c "$2"; }
running() { vty "$1" "show running-config"; }
has_line() { running "$1" | grep -qxF -- "$2"; }
lacks_line() { ! running "$1" | grep -qxF -- "$2"; }
observed() { api GET /workspaces/fr/networks/core/observed | jq -r --arg p "$1" ".[] | select(.peer == \$p) | .observed | $2"; }

ENV_S1=$(api GET /workspaces/fr/networks/core/peers/s1/envelope)
AS=$(jq -r .bgp.as_number <<<"$ENV_S1")
VRF=$(jq -r .interface.vrf.name <<<"$ENV_S1")
ROUTER="router bgp $AS vrf $VRF"
[[ $AS =~ ^[0-9]+$ && $VRF == vrf-* ]] && ok "s1's envelope carries BGP ($ROUTER)" || bad "no BGP in s1's envelope"

# --- the envelope's frr_text, loaded ---------------------------------------------
check "s1's bgpd runs '$ROUTER'" until_true 10 has_line s1 "$ROUTER"
check "s1's bgpd originates its LAN (network 10.60.0.0/24)" has_line s1 "  network 10.60.0.0/24"
check "the hub's bgpd makes the spokes route-reflector clients" \
  until_true 10 has_line hub "  neighbor nn-clients route-reflector-client"
want_networks=$(jq -r .bgp.frr_text <<<"$ENV_S1" | grep -E '^  network ' | sort)
[[ -n $want_networks && $(running s1 | grep -E '^  network ' | sort) == "$want_networks" ]] \
  && ok "s1's running networks are exactly the frr_text's" \
  || bad "networks: want [$want_networks], running [$(running s1 | grep -E '^  network ')]"

# s3 routes for nobody: zebra (which owns the sysctl) keeps forwarding off.
check "s3's bgpd runs '$ROUTER'" until_true 10 has_line s3 "$ROUTER"
[[ $(ip netns exec "${NS[s3]}" sysctl -n net.ipv4.ip_forward) == 0 ]] \
  && has_line s3 "no ip forwarding" && ok "s3 (no LAN): zebra keeps IP forwarding off" \
  || bad "s3 ip_forward=$(ip netns exec "${NS[s3]}" sysctl -n net.ipv4.ip_forward)"
[[ $(ip netns exec "${NS[s1]}" sysctl -n net.ipv4.ip_forward) == 1 ]] \
  && ok "s1 (a LAN gateway) forwards" || bad "s1 does not forward"

frr_reported() { [[ $(observed "$1" '.frr.state') == "$2" ]]; }
check "s1 reports frr applied" until_true 10 frr_reported s1 applied
[[ $(observed s1 '.frr.reloads') -ge 1 ]] && ok "s1 counted its reload" || bad "s1 reloads: $(observed s1 .frr)"
# No VRF module: the daemon must not pretend the instance is up.
observed s1 '.errors[]' | grep -qF "vrf $VRF does not exist on this host" \
  && ok "s1 reports that $VRF is missing (bgpd keeps that instance down)" \
  || bad "no VRF warning: $(observed s1 .errors)"

# --- no FRR on s2: tunnels still up, the failure reported -------------------------
check "s2 reports frr failed" until_true 10 frr_reported s2 failed
observed s2 '.errors[]' | grep -q "bgpd is not running" \
  && ok "s2's error says bgpd is not running" || bad "s2 errors: $(observed s2 .errors)"
HUB4=$(api GET /workspaces/fr/networks/core/peers/hub/envelope | jq -r '.interface.addresses[0]' | cut -d/ -f1)
check "s2 reaches the hub over its tunnel all the same" ping_until "${NS[s2]}" "$HUB4"

# --- an intent change arrives as a diff ------------------------------------------------
# The enrolled keys stay: they are the hosts' (each node enrolled as its
# host), and the new document carries the hosts the server holds.
hosts=$(api GET /workspaces/fr/intent | jq '.workspaces[0].hosts')
intent 10.61.0.0/24 ibgp | jq --argjson h "$hosts" \
  '.workspaces[0].hosts = $h | .workspaces[0].networks[0].peers |= map(del(.public_key))' >"$TMP/intent2.json"
reloads_before=$(observed s1 '.frr.reloads')
ctl apply -f "$TMP/intent2.json" >/dev/null
check "s1's new LAN reaches bgpd (network 10.61.0.0/24)" until_true 10 has_line s1 "  network 10.61.0.0/24"
check "the LAN that left the intent left bgpd (no network 10.60.0.0/24)" lacks_line s1 "  network 10.60.0.0/24"

# --- drift: a hand edit, then a restarted bgpd ---------------------------------------
# Once s1 has reported the reload, the daemon has recorded what FRR runs;
# an edit made while frr-reload.py is still at work would be taken for
# its result (docs/agent.md).
more_reloads() { [[ $(observed s1 '.frr.reloads') -gt $reloads_before ]]; }
check "s1 reported the reload" until_true 10 more_reloads
reloads_before=$(observed s1 '.frr.reloads')
vty s1 "configure terminal
$ROUTER
address-family ipv4 unicast
no network 10.61.0.0/24" >/dev/null
lacks_line s1 "  network 10.61.0.0/24" && ok "hand edit removed the network" || bad "hand edit did not take"
if until_true 10 has_line s1 "  network 10.61.0.0/24"; then
  ok "the drift check put the network back"
else
  bad "the network was not put back: $(tail -5 "$TMP/s1/daemon.log")"
fi
repaired() { more_reloads && [[ $(observed s1 .drift_repairs) -ge 1 ]]; }
check "s1 reports the repair (drift_repairs, frr.reloads)" until_true 10 repaired

bgpd_pid=$(cat "$TMP/frr-s1/bgpd.pid")
kill "$bgpd_pid"
until_true 10 bash -c "! kill -0 $bgpd_pid 2>/dev/null" || bad "bgpd did not stop"
frr_daemon "${NS[s1]}" "$TMP/frr-s1" bgpd || bad "bgpd did not restart: $(tail -3 "$TMP/frr-s1/stderr")"
if until_true 10 has_line s1 "$ROUTER"; then
  ok "a restarted (empty) bgpd gets the configuration back"
else
  bad "restarted bgpd still empty: $(tail -5 "$TMP/s1/daemon.log")"
fi

# --- static routing: Nanami's BGP configuration withdrawn ---------------------------
jq '.workspaces[0].networks[0].routing_mode = "static"' "$TMP/intent2.json" >"$TMP/intent3.json"
ctl apply -f "$TMP/intent3.json" >/dev/null
no_router() { ! running s1 | grep -q '^router bgp'; }
check "static routing: s1's bgpd no longer runs a BGP instance" until_true 10 no_router
check "static routing: s1 reports no FRR state" until_true 10 frr_reported s1 null

echo "frr e2e: $passes passed, $fails failed"
((fails == 0))
