#!/usr/bin/env bash
# Routing selection and gateway assignment through the API of a real
# nanamid: the seed-002 endpoints, per-field resolution with provenance,
# every named validation rule, member/viewer access, the scheduler's answer
# when a gateway is reported down and back up, and export round trips.
set -euo pipefail
NANAMID=${1:?usage: routing.sh NANAMID}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
require_tools curl jq wg sqlite3
TMP=$(mktemp -d)
trap 'stop_nanamid; rm -rf "$TMP"' EXIT
ADMIN=$("$NANAMID" init --db "$TMP/db.sqlite" 2>/dev/null)
start_nanamid
TOK=$ADMIN
declare -A T
for u in alice bob viewer; do
  expect 201 POST /users "{\"name\":\"$u\"}"
  expect 201 POST "/users/$u/tokens" '{"name":"t"}'; T[$u]=$(jq -r .token <<<"$BODY")
done
expect 201 POST /workspaces '{"name":"acme"}'
expect 201 POST /workspaces '{"name":"other"}'
expect 200 PUT /workspaces/acme/members/alice '{"role":"member"}'
expect 200 PUT /workspaces/acme/members/bob '{"role":"member"}'
expect 200 PUT /workspaces/acme/members/viewer '{"role":"viewer"}'

key() { wg genkey | wg pubkey; }
# a host is one node with one key, whatever the networks it is in
declare -A HOSTKEY=([gw-a]=$(key) [gw-b]=$(key) [gw-c]=$(key) [gw-d]=$(key) [s1]=$(key))
gw() { # gw NAME ROLES [ALLOWED_USERS]
  jq -nc --arg n "$1" --arg k "${HOSTKEY[$1]}" --argjson r "$2" --argjson u "${3:-null}" \
    '{name: $n, public_key: $k, publicly_reachable: true, endpoint: "198.51.100.9:51820", roles: $r}
     + (if $u then {allowed_users: $u} else {} end)'
}
both='["ingress_gateway","exit_gateway"]'
net() { # net NAME N: gateways gw-a..gw-d on their own hosts, a spoke and two devices
  # (every host shares one interface between the networks: their ranges differ)
  jq -nc --arg n "$1" --argjson a "$(gw gw-a "$both")" --argjson b "$(gw gw-b "$both" '["alice"]')" \
    --argjson c "$(gw gw-c '["ingress_gateway"]')" --argjson d "$(gw gw-d "$both")" \
    --arg s "${HOSTKEY[s1]}" --arg k1 "$(key)" --arg k2 "$(key)" --arg cidr "10.50.$2.0/24" \
    '{name: $n, ipv4_cidr: $cidr, peers: [$a, $b, $c, $d, {name: "s1", public_key: $s}],
      devices: [{name: "alice-laptop", public_key: $k1, owner: "alice"},
                {name: "bob-phone", public_key: $k2, owner: "bob"}]}'
}
nets=$(i=0; for n in corp lab dev ops qa; do net $n $((i++)); done | jq -sc .)
expect 200 PUT /workspaces/acme/intent "{\"workspaces\":[{\"name\":\"acme\",\"networks\":$nets}]}"

# --- the scheduler ---------------------------------------------------------
expect 200 GET /workspaces/acme/gateway-assignments
field_is '.policy | "\(.assignment_mode) \(.selection) \(.redundancy)"' "auto balanced 1"
field_is '.networks | length' 5
field_is '[.networks[] | .ingress.gateways | length] | unique | join(",")' 1
field_is '[.networks[] | .exit.gateways[0].peer] | map(select(. == "gw-c")) | length' 0
before=$BODY
corp_in=$(jq -r '.networks[] | select(.network == "corp") | .ingress.gateways[0].host' <<<"$before")
# Balanced: five networks over four ingress hosts, no host with more than two.
field_is '[.networks[].ingress.gateways[0].host] | group_by(.) | map(length) | max <= 2' true
# corp's ingress gateway goes down: corp (and only networks on it) move.
expect 200 PUT "/workspaces/acme/nodes/$corp_in/status" '{"state":"down"}'
expect 200 GET /workspaces/acme/nodes; field_is ".[] | select(.host == \"$corp_in\") | .state" down
expect 200 GET /workspaces/acme/gateway-assignments
field_is "[.networks[].ingress.gateways[0].host] | index(\"$corp_in\")" null
moved=$(jq -n --argjson a "$before" --argjson b "$BODY" --arg h "$corp_in" \
  '[range(0; 5) as $i | select($a.networks[$i].ingress.gateways[0].host != $h and
    $a.networks[$i].ingress.gateways[0].host != $b.networks[$i].ingress.gateways[0].host)] | length')
[[ $moved == 0 ]] && ok || bad "$moved networks moved that were not on $corp_in"
expect 200 PUT "/workspaces/acme/nodes/$corp_in/status" '{"state":"up"}'
expect 200 GET /workspaces/acme/gateway-assignments
[[ $(jq -c .networks <<<"$BODY") == "$(jq -c .networks <<<"$before")" ]] && ok || bad "back up: not the original assignment: $(jq -c .networks <<<"$before") vs $(jq -c .networks <<<"$BODY")"
expect 422 PUT /workspaces/acme/nodes/gw-a/status '{"state":"sideways"}'; field_is .error.field state
expect 422 PUT /workspaces/acme/nodes/gw-a/status '{"state":"up","extra":1}'; field_is .error.field extra

# --- network routing policy and its rules ----------------------------------
expect 200 GET /workspaces/acme/networks/corp/routing-policy; field_is 'length' 0
expect 200 PUT /workspaces/acme/networks/corp/routing-policy \
  '{"routing_mode":"manual","ingress":"gw-c","egress":"acme/corp/gw-a"}'
expect 200 GET /workspaces/acme/networks/corp/routing-policy
field_is '"\(.routing_mode) \(.ingress) \(.egress)"' "manual gw-c gw-a"
expect 200 GET /workspaces/acme/gateway-assignments
field_is '.networks[] | select(.network == "corp") | "\(.ingress.pinned) \(.ingress.gateways[0].peer) \(.exit.gateways[0].peer)"' "true gw-c gw-a"
rule() { # rule BODY FIELD RULE
  expect 422 PUT /workspaces/acme/networks/corp/routing-policy "$1"
  field_is '.error.field | split("/") | last' "$2"
  field_is ".error.message | contains(\"rule $3\")" true
}
rule '{"routing_mode":"manual","egress":"gw-c"}' egress gateway_role
rule '{"ingress":"s1"}' ingress gateway_role
rule '{"ingress":"nobody"}' ingress in_network
rule '{"ingress":"lab/gw-a"}' ingress in_network
rule '{"egress":"other/corp/gw-a"}' egress same_workspace
expect 422 PUT /workspaces/acme/networks/corp/routing-policy '{"traffic_mode":"everything"}'
field_is '.error.message | contains("vpn_only, full_tunnel")' true
expect 422 PUT /workspaces/acme/networks/corp/routing-policy '{"mode":"manual"}'; field_is .error.field mode
expect 422 PUT /workspaces/acme/networks/corp/routing-policy '{"ingress":"a/b/c/d"}'; field_is .error.field ingress
# A rejected write changed nothing.
expect 200 GET /workspaces/acme/networks/corp/routing-policy; field_is .ingress gw-c
TOK=${T[viewer]}
expect 200 GET /workspaces/acme/networks/corp/routing-policy
expect 403 PUT /workspaces/acme/networks/corp/routing-policy '{}'
TOK=${T[alice]}; expect 403 GET /workspaces/acme/networks/corp/routing-policy

# --- personal preferences (members) ----------------------------------------
TOK=${T[alice]}
expect 200 PUT /workspaces/acme/networks/corp/devices/alice-laptop/routing-preference '{"egress":"gw-b"}'
expect 200 PUT /workspaces/acme/networks/corp/users/alice/routing-preference '{"traffic_mode":"full_tunnel"}'
expect 404 PUT /workspaces/acme/networks/corp/devices/bob-phone/routing-preference '{}'
expect 404 GET /workspaces/acme/networks/corp/devices/bob-phone/routing
expect 404 PUT /workspaces/acme/networks/corp/users/bob/routing-preference '{}'
expect 404 GET /workspaces/acme/networks/corp/users/nobody/routing
expect 200 GET /workspaces/acme/networks/corp/devices/alice-laptop/routing
field_is '"\(.routing_mode.value)/\(.routing_mode.source)"' manual/network
field_is '"\(.traffic_mode.value)/\(.traffic_mode.source)"' full_tunnel/user
field_is '"\(.ingress.value)/\(.ingress.source)"' gw-c/network
field_is '"\(.egress.value)/\(.egress.source)/\(.egress.host)"' gw-b/device/gw-b
field_is .user alice
# The user's own resolution: no device layer.
expect 200 GET /workspaces/acme/networks/corp/users/alice/routing
field_is '"\(.egress.value)/\(.egress.source)"' gw-a/network
# gw-b admits alice only: bob may not route through it.
TOK=${T[bob]}
expect 422 PUT /workspaces/acme/networks/corp/devices/bob-phone/routing-preference '{"egress":"gw-b"}'
field_is .error.field networks/corp/devices/bob-phone/routing_preference/egress
field_is '.error.message | contains("rule user_allowed")' true
expect 200 PUT /workspaces/acme/networks/corp/devices/bob-phone/routing-preference '{"routing_mode":"auto"}'
expect 200 GET /workspaces/acme/networks/corp/devices/bob-phone/routing
field_is '"\(.routing_mode.value)/\(.routing_mode.source) \(.traffic_mode.value)/\(.traffic_mode.source)"' "auto/device vpn_only/system"
field_is '"\(.ingress.value)/\(.ingress.source)"' gw-c/network
TOK=${T[viewer]}
expect 200 GET /workspaces/acme/networks/corp/devices/bob-phone/routing
expect 403 PUT /workspaces/acme/networks/corp/devices/bob-phone/routing-preference '{}'
expect 403 PUT /workspaces/acme/networks/corp/users/viewer/routing-preference '{}'
# dry run changes nothing
TOK=${T[alice]}
expect 200 PUT '/workspaces/acme/networks/corp/users/alice/routing-preference?dry_run=true' '{"traffic_mode":"vpn_only"}'
expect 200 GET /workspaces/acme/networks/corp/users/alice/routing-preference; field_is .traffic_mode full_tunnel

# --- foreign workspace ------------------------------------------------------
TOK=${T[alice]}
for p in /workspaces/other/gateway-assignments /workspaces/other/nodes \
         /workspaces/other/networks/corp/routing-policy /workspaces/other/networks/corp/users/alice/routing; do
  expect 404 GET "$p"
done

# --- export carries it all; re-applying changes nothing --------------------
TOK=$ADMIN
expect 200 GET /workspaces/acme/intent
echo "$BODY" >"$TMP/export.json"
field_is '.workspaces[0].networks[] | select(.name == "corp") | .routing_policy.ingress' gw-c
field_is '.workspaces[0].networks[] | select(.name == "corp") | .user_routing_preferences[0].name' alice
field_is '.workspaces[0].networks[] | select(.name == "corp") | .devices[] | select(.name == "alice-laptop") | .routing_preference.egress' gw-b
expect 200 PUT /workspaces/acme/intent "@$TMP/export.json"
field_is '[.created, .changed, .deleted] | map(length) | add' 0
# a network-level reference to a gateway that the intent then removes is refused
jq '(.workspaces[0].networks[] | select(.name == "corp") | .peers) |= map(select(.name != "gw-c"))' \
  "$TMP/export.json" >"$TMP/bad.json"
expect 422 PUT /workspaces/acme/intent "@$TMP/bad.json"
field_is '.error.message | contains("rule in_network")' true
expect 200 GET /workspaces/acme/audit
field_is '[.[] | select(.target == "networks/corp/routing_policy")] | length' 1
field_is '[.[] | select(.action == "down")] | length' 1

# --- regions (seed 001) -----------------------------------------------------
TOK=$ADMIN
expect 201 PUT /regions/eu-west '{"description":"Frankfurt","location":"DE"}'
expect 200 PUT /regions/eu-west '{"description":"Frankfurt (2 sites)"}'
expect 201 PUT /regions/us-east '{}'
expect 422 PUT /regions/ap-south '{"colour":"red"}'; field_is .error.field colour
expect 200 GET /regions; field_is '[.[].name] | join(",")' eu-west,us-east
field_is '.[0].description' "Frankfurt (2 sites)"
# Tenants read their grants; only platform admins change them.
expect 200 PUT /workspaces/acme/regions '{"regions":["eu-west"]}'
expect 422 PUT /workspaces/acme/regions '{"regions":["mars"]}'; field_is .error.field regions
TOK=${T[viewer]}
expect 200 GET /workspaces/acme/regions; field_is 'join(",")' eu-west
expect 403 PUT /workspaces/acme/regions '{"regions":["us-east"]}'
expect 403 GET /regions
expect 403 GET /oversight/regions
expect 403 PUT /regions/evil '{}'
TOK=${T[alice]}; expect 404 GET /workspaces/other/regions
# A host placed in a region: only in a granted one.
TOK=$ADMIN
expect 201 PUT /workspaces/acme/hosts/gw-a '{"region":"eu-west"}'
expect 422 PUT /workspaces/acme/hosts/gw-b '{"region":"us-east"}'
field_is .error.field hosts/gw-b/region
field_is '.error.message | contains("rule region_access")' true
# Revoking a region a host is placed in is refused (it would strand the host).
expect 422 PUT /workspaces/acme/regions '{"regions":["us-east"]}'
expect 200 GET /workspaces/acme/regions; field_is 'join(",")' eu-west
expect 409 DELETE /regions/eu-west
expect 200 GET /oversight/regions
field_is '.[] | select(.name == "eu-west") | "\(.workspaces | join(",")) \(.hosts[0].workspace)/\(.hosts[0].host)"' "acme acme/gw-a"
field_is '.[] | select(.name == "us-east") | .workspaces | length' 0
expect 200 DELETE /regions/us-east
expect 404 DELETE /regions/us-east

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
