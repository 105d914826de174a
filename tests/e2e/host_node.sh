#!/usr/bin/env bash
# One node per host, end to end: nanamid in its namespace; gateway gw in
# networks a and b runs ONE gateway-daemon + gateway-manager pair, enrolled
# ONCE with a host token, and applies its node document; spoke sa (a) is
# enrolled as a host; spoke sb (b) is enrolled per peer, as nodes were
# before hosts were nodes. Proves with real packets and device state:
#   gw: one enrollment, one interface, one listen port for both networks
#   sa -> gw in a, sb -> gw in b (isolation between them: hosts.sh)
#   the per-peer node keeps working, and its upgrade is one enrollment:
#     the old certificate is refused, the new one gets the node document,
#     the tunnel comes back on the same key
#   gw leaving b is applied (not refused as a rollback) and b's addresses
#     leave its interface
#   the observed state of both networks shows gw's one report
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/runtime.sh"
runtime_args "$@"
require_root wireguard-go wg ip nft jq ping curl setpriv
runtime_begin
runtime_nodes nno gw sa sb
runtime_init
start_server || { bad "nanamid did not start: $(cat "$TMP/nanamid.log")"; exit 1; }

# Placeholders until each node enrolls with its own key: the host's for
# gw and sa, the peer's for sb.
placeholder() { wg genkey | wg pubkey; }
jq -n --arg g "$(placeholder)" --arg a "$(placeholder)" --arg b "$(placeholder)" '
  def net(n; c; spoke): {name: n, ipv4_cidr: c, firewall_default_policy: "drop",
    peers: [{name: "gw", publicly_reachable: true, endpoint: "192.0.2.10:51820"}, spoke],
    firewall_rules: [{name: "icmp", position: 1, action: "accept", protocol: "icmp",
                      source: {all: true}, destination: {all: true}}]};
  {workspaces: [{name: "fleet", hosts: [{name: "gw", public_key: $g}, {name: "sa", public_key: $a}],
    networks: [net("a"; "10.96.1.0/24"; {name: "sa"}), net("b"; "10.96.2.0/24"; {name: "sb", public_key: $b})]}]}' \
  >"$TMP/intent.json"
ctl apply -f "$TMP/intent.json" >/dev/null
"$NANAMID" ca --db "$TMP/db.sqlite" >"$TMP/ca.pem"
chmod 644 "$TMP/ca.pem"

# enroll_host NODE: its host's token, enrolled, its manager running
enroll_host() { enroll_and_run "$1" fleet && MANAGER[$1]=${PIDS[-1]}; }
declare -A MANAGER
for p in gw sa sb; do
  "$GD" keygen --state-dir "$TMP/$p/daemon" >"$TMP/$p.pub"
  start_daemon "$p" || bad "daemon $p did not start: $(cat "$TMP/$p/daemon.log")"
done
enroll_host gw || bad "gw: $(cat "$TMP/gw/enroll.out")"
enroll_host sa || bad "sa: $(cat "$TMP/sa/enroll.out")"
enroll_and_run sb fleet/b || bad "sb: $(cat "$TMP/sb/enroll.out")"
MANAGER[sb]=${PIDS[-1]}
grep -q "enrolled as host fleet/gw" "$TMP/gw/enroll.out" && ok "gw enrolled once, as a host" \
  || bad "gw enroll: $(cat "$TMP/gw/enroll.out")"
[[ $(api GET /workspaces/fleet/hosts/gw | jq -r .public_key) == "$(cat "$TMP/gw.pub")" &&
   $(api GET /workspaces/fleet/networks/a/peers/gw | jq 'has("public_key")') == false ]] \
  && ok "the server has gw's own key on its host, its peers take it from there" \
  || bad "gw's key: $(api GET /workspaces/fleet/hosts/gw)"

addr() { api GET "/workspaces/fleet/networks/$1/peers/$2/envelope" | jq -r '.interface.addresses[0]' | cut -d/ -f1; }
GW_A=$(addr a gw) GW_B=$(addr b gw)
links() { ip -n "${NS[$1]}" -o link show | awk -F': ' '$2 != "lo" && $2 !~ /^eth0/ {print $2}' | xargs; }
ports() { ip netns exec "${NS[$1]}" ss -Hunl | awk '{n = split($4, a, ":"); print a[n]}' | sort -un | xargs; }
check "sa -> gw in a" ping_until "${NS[sa]}" "$GW_A"
check "sb -> gw in b (a node enrolled per peer)" ping_until "${NS[sb]}" "$GW_B"
[[ $(links gw) == "${IFACE[gw]}" && $(ports gw) == 51820 &&
   $(ip netns exec "${NS[gw]}" wg show "${IFACE[gw]}" peers | wc -l) == 2 ]] \
  && ok "gw: one interface, one port, both networks' peers" \
  || bad "gw: links '$(links gw)' ports '$(ports gw)'"
reported() {
  [[ $(api GET "/workspaces/fleet/networks/$1/observed" |
       jq -r '.[] | select(.peer == "gw") | [.enrolled, (.observed.interfaces | length)] | tostring') == "[true,1]" ]]
}
check "a's observed state shows gw's report" until_true 10 reported a
check "b's observed state shows the same report" reported b

# --- upgrade: the per-peer node enrolls as a host -------------------------------
# The manager's old certificate is revoked by the host's enrollment; the
# daemon keeps its key and its tunnel.
cp "$TMP/sb/manager/tls.crt" "$TMP/sb-old.crt"; cp "$TMP/sb/manager/tls.key" "$TMP/sb-old.key"
kill "${MANAGER[sb]}"
rm -f "$TMP/sb/manager/"*
enroll_host sb || bad "sb upgrade: $(cat "$TMP/sb/enroll.out")"
old=$(ip netns exec "${NS[sb]}" curl -s -o /dev/null -w '%{http_code}' --cacert "$TMP/ca.pem" \
  --cert "$TMP/sb-old.crt" --key "$TMP/sb-old.key" https://192.0.2.1:8443/api/v1/node/config)
[[ $old == 401 ]] && ok "the per-peer certificate is refused after the host enrolled" || bad "old certificate: $old"
doc_applied() { [[ $(jq -r '.interfaces | length' "$TMP/sb/daemon/applied.json" 2>/dev/null) == 1 ]]; }
check "sb applies its node document" until_true 10 doc_applied
check "sb -> gw in b after the upgrade" ping_until "${NS[sb]}" "$GW_B"

# --- gw leaves b: a newer revision, applied ---------------------------------------
api DELETE /workspaces/fleet/networks/b/peers/gw >/dev/null
left() { [[ $(jq -c '.interfaces[0].networks' "$TMP/gw/daemon/applied.json") == '["a"]' ]]; }
check "gw applies the document without b" until_true 10 left
! grep -q "rollback refused" "$TMP/gw/daemon.log" && ok "no rollback refusal" || bad "gw refused: $(grep rollback "$TMP/gw/daemon.log" | tail -1)"
[[ $(ip -n "${NS[gw]}" -o addr show dev "${IFACE[gw]}") != *"$GW_B/"* ]] \
  && ok "b's address left gw's interface" || bad "gw still has $GW_B"
check "sa -> gw in a still" ping_until "${NS[sa]}" "$GW_A"

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
