#!/usr/bin/env bash
# OVN plans applied by the node runtime (nanamid, gateway-manager,
# gateway-daemon; real wireguard-go, a real ovsdb-server holding the
# northbound schema, real ovn-nbctl):
#   only the deployment's plan host (the first host by name that runs a
#     peer) gets the plan in its envelope, and writes the database
#   the database then holds the plan: switches, ports with their addresses
#     and types, ACLs -- each row tagged with the deployment
#   an unchanged plan changes nothing (no rewrite, no count)
#   a hand edit (a switch deleted, an address changed) is put back by the
#     drift check and counted; rows an operator made by hand are never
#     touched
#   an intent change arrives as a diff: a port that left the plan leaves
#     the database, a changed ACL replaces the old one
#   an empty plan removes every tagged row
#   a database that cannot be reached is reported; the tunnels stand
#   a signed envelope with a command outside the plan vocabulary is
#     refused with its path; --ovn-nbctl off leaves the database alone
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/runtime.sh"
runtime_args "$@"
require_root wireguard-go wg ip nft jq ping curl setpriv ovsdb-server ovsdb-tool ovn-nbctl
SCHEMA=/usr/share/ovn/ovn-nb.ovsschema
[[ -r $SCHEMA ]] || { echo "FAIL: $SCHEMA missing (ovn-central)" >&2; exit 1; }
runtime_begin
runtime_nodes nno hub s1

NB="$TMP/nb.sock"
nb_start() {
  ovsdb-server --remote="punix:$NB" --pidfile="$TMP/nb.pid" --unixctl="$TMP/nb.ctl" \
    --detach --no-chdir --log-file="$TMP/nb.log" "$TMP/nb.db"
}
ovsdb-tool create "$TMP/nb.db" "$SCHEMA"
nb_start
end_nb() { [[ -f $TMP/nb.pid ]] && kill "$(cat "$TMP/nb.pid")" 2>/dev/null; runtime_end; }
trap end_nb EXIT
nbctl() { ovn-nbctl --db="unix:$NB" "$@"; }
# An operator's own rows, made before Nanami: they must outlive every step.
nbctl ls-add ops -- lsp-add ops ops-port -- acl-add ops to-lport 100 "ip4" allow

runtime_init
start_server || { bad "nanamid did not start: $(cat "$TMP/nanamid.log")"; exit 1; }
placeholder() { wg genkey | wg pubkey; }
# intent SWITCHES_JSON: both hosts name deployment dc1; dc-a < dc-b
intent() {
  jq -n --arg h "$(placeholder)" --arg a "$(placeholder)" --arg nb "unix:$NB" --argjson sw "$1" '
    {workspaces: [{name: "ov",
      ovn_deployments: [{name: "dc1", nb_endpoint: $nb, sb_endpoint: "unix:/nonexistent/sb.sock",
                         switches: $sw}],
      hosts: [{name: "dc-a", profile: "heavyweight", ovn: {deployment: "dc1", encap_ip: "192.0.2.10"}},
              {name: "dc-b", profile: "heavyweight", ovn: {deployment: "dc1", encap_ip: "192.0.2.11"}}],
      networks: [{name: "core", ipv4_cidr: "10.97.0.0/24", firewall_default_policy: "drop",
        peers: [{name: "hub", host: "dc-a", public_key: $h, publicly_reachable: true,
                 endpoint: "192.0.2.10:51820"},
                {name: "s1", host: "dc-b", public_key: $a}],
        firewall_rules: [{name: "icmp", position: 1, action: "accept", protocol: "icmp"}]}]}]}'
}
SW1='[{"name": "web-tier",
       "ports": [{"name": "web-a", "addresses": ["0a:00:00:00:01:01 10.50.1.11"]},
                 {"name": "web-b", "addresses": ["0a:00:00:00:01:02 10.50.1.12"]},
                 {"name": "web-uplink", "type": "router", "addresses": ["router"]}],
       "acls": [{"name": "http", "direction": "to-lport", "priority": 1001,
                 "match": "ip4 && tcp.dst == 80", "action": "allow-related"},
                {"name": "rest", "direction": "to-lport", "priority": 900, "match": "ip4", "action": "drop"}]},
      {"name": "db-tier",
       "ports": [{"name": "db-a", "addresses": ["0a:00:00:00:02:01 10.50.2.11"]}],
       "acls": [{"name": "pg", "direction": "to-lport", "priority": 1001,
                 "match": "ip4.src == 10.50.1.0/24 && tcp.dst == 5432", "action": "allow-related"}]}]'
# The change: web-b leaves, db-b arrives, "rest" moves to priority 950.
SW2=$(jq -c '(.[0].ports |= map(select(.name != "web-b")))
  | (.[0].acls[1].priority = 950)
  | (.[1].ports += [{"name": "db-b", "addresses": ["0a:00:00:00:02:02 10.50.2.12"]}])' <<<"$SW1")
intent "$SW1" >"$TMP/intent.json"
ctl apply -f "$TMP/intent.json" >/dev/null
"$NANAMID" ca --db "$TMP/db.sqlite" >"$TMP/ca.pem"
chmod 644 "$TMP/ca.pem"

ENV_HUB=$(api GET /workspaces/ov/networks/core/peers/hub/envelope)
ENV_S1=$(api GET /workspaces/ov/networks/core/peers/s1/envelope)
[[ $(jq -r '.ovn.nb_endpoint' <<<"$ENV_HUB") == "unix:$NB" ]] \
  && ok "the plan host's (dc-a) envelope carries the plan" || bad "hub envelope ovn: $(jq -c .ovn <<<"$ENV_HUB")"
[[ $(jq 'has("ovn")' <<<"$ENV_S1") == false ]] \
  && ok "dc-b, later by name, gets no plan: one writer per database" || bad "s1 envelope has ovn"
TAG=$(jq -r .ovn.nb_plan.deployment_id <<<"$ENV_HUB")

declare -A DAEMON=()
for p in "${NODES[@]}"; do
  "$GD" keygen --state-dir "$TMP/$p/daemon" >/dev/null
  start_daemon "$p" --frr-vty off || bad "daemon $p did not start: $(cat "$TMP/$p/daemon.log")"
  DAEMON[$p]=${PIDS[-1]}
  enroll_and_run "$p" ov/core || bad "enroll $p: $(cat "$TMP/$p/enroll.out")"
done
applied() { [[ -s $TMP/$1/daemon/applied.json ]]; }
for p in "${NODES[@]}"; do
  until_true 30 applied "$p" && ok "$p enrolled and applied its envelope" \
    || bad "$p applied nothing: $(tail -n 8 "$TMP/$p/daemon.log" "$TMP/$p/manager.log" "$TMP/nanamid.log")"
done
observed() { api GET /workspaces/ov/networks/core/observed | jq -r --arg p "$1" ".[] | select(.peer == \$p) | .observed | $2"; }

# --- what the database holds -------------------------------------------------------
switches() { nbctl --bare --columns=name list Logical_Switch | grep . | sort | tr '\n' ' '; }
ports() { # every port as "SWITCH PORT TYPE ADDRESSES"
  local sw p
  for sw in $(nbctl --bare --columns=name list Logical_Switch); do
    for p in $(nbctl lsp-list "$sw" | sed -E 's/^[0-9a-f-]+ \((.*)\)$/\1/'); do
      echo "$sw $p $(nbctl lsp-get-type "$p") $(nbctl lsp-get-addresses "$p" | tr '\n' '|')"
    done
  done | sort
}
acls() { # every ACL as "SWITCH DIR PRIO (MATCH) ACTION"
  local sw
  for sw in $(nbctl --bare --columns=name list Logical_Switch); do
    nbctl acl-list "$sw" | sed -E "s/^ *([a-z-]+) +([0-9]+) /$sw \1 \2 /"
  done | sort
}
tagged() { nbctl --bare --columns=name find "$1" "external_ids:nanami-deployment=$TAG" | grep . | sort | tr '\n' ' '; }
uuid_of() { nbctl --bare --columns=_uuid find Logical_Switch "name=$1"; }
OPS_PORTS="ops ops-port  "
OPS_ACL="ops to-lport 100 (ip4) allow"

ovn_reported() { [[ $(observed hub '.ovn.state') == "$1" ]]; }
check "the hub reports ovn applied" until_true 15 ovn_reported applied
[[ $(observed hub '.ovn.applies >= 1') == true ]] && ok "the hub counted its transaction" || bad "hub ovn: $(observed hub .ovn)"
[[ $(observed s1 '.ovn') == null ]] && ok "s1 reports no ovn (not its job)" || bad "s1 ovn: $(observed s1 .ovn)"

want_ports="db-tier db-a  0a:00:00:00:02:01 10.50.2.11|
$OPS_PORTS
web-tier web-a  0a:00:00:00:01:01 10.50.1.11|
web-tier web-b  0a:00:00:00:01:02 10.50.1.12|
web-tier web-uplink router router|"
want_acls="db-tier to-lport 1001 (ip4.src == 10.50.1.0/24 && tcp.dst == 5432) allow-related
$OPS_ACL
web-tier to-lport 1001 (ip4 && tcp.dst == 80) allow-related
web-tier to-lport 900 (ip4) drop"
[[ $(switches) == "db-tier ops web-tier " ]] && ok "the switches are the plan's, and ops stays" || bad "switches: $(switches)"
[[ $(ports) == "$want_ports" ]] && ok "ports, types and addresses are the plan's" \
  || { bad "ports:"; diff <(echo "$want_ports") <(ports) || true; }
[[ $(acls) == "$want_acls" ]] && ok "ACLs are the plan's" || { bad "acls:"; diff <(echo "$want_acls") <(acls) || true; }
[[ $(tagged Logical_Switch) == "db-tier web-tier " && $(tagged Logical_Switch_Port) == "db-a web-a web-b web-uplink " \
   && $(nbctl --bare --columns=_uuid find ACL "external_ids:nanami-deployment=$TAG" | grep -c .) == 3 ]] \
  && ok "every row Nanami wrote carries external_ids:nanami-deployment, the operator's do not" \
  || bad "tagged: switches [$(tagged Logical_Switch)] ports [$(tagged Logical_Switch_Port)]"

# --- steady state: nothing rewritten -------------------------------------------------
WEB=$(uuid_of web-tier)
applies=$(observed hub '.ovn.applies')
drift_before=$(observed hub '.drift_repairs')
sleep 5 # two drift intervals
[[ $(observed hub '.ovn.applies') == "$applies" && $(uuid_of web-tier) == "$WEB" && \
   $(observed hub '.drift_repairs') == "$drift_before" ]] \
  && ok "unchanged plan: no transaction, web-tier keeps its row" \
  || bad "steady state: applies $applies -> $(observed hub '.ovn.applies'), uuid $WEB -> $(uuid_of web-tier)"

# --- drift: the operator deletes a switch and changes an address -----------------------
nbctl ls-del db-tier -- lsp-set-addresses web-a "0a:00:00:00:01:99 10.50.1.99" -- acl-add web-tier from-lport 10 "ip6" drop
restored() { [[ $(ports) == "$want_ports" && $(switches) == "db-tier ops web-tier " ]]; }
check "the drift check puts db-tier and web-a's address back" until_true 10 restored
repaired() { [[ $(observed hub ".drift_repairs > $drift_before and .ovn.applies > $applies") == true ]]; }
check "the hub reports the repair (drift_repairs, ovn.applies)" until_true 10 repaired
[[ $(uuid_of web-tier) == "$WEB" ]] && ok "web-tier was not recreated (a diff, not a replace)" || bad "web-tier recreated"
acls | grep -qxF "web-tier from-lport 10 (ip6) drop" \
  && ok "an ACL added by hand (untagged) on Nanami's switch stays" || bad "hand-made ACL removed"
nbctl acl-del web-tier from-lport 10 "ip6"

# --- an intent change: web-b leaves, db-b arrives, an ACL moves ------------------------
keys=$(api GET /workspaces/ov/intent | jq '[.workspaces[0].networks[0].peers[] | {(.name): .public_key}] | add')
intent "$SW2" | jq --argjson k "$keys" '.workspaces[0].networks[0].peers |= map(.public_key = $k[.name])' \
  >"$TMP/intent2.json"
ctl apply -f "$TMP/intent2.json" >/dev/null
want_ports2="db-tier db-a  0a:00:00:00:02:01 10.50.2.11|
db-tier db-b  0a:00:00:00:02:02 10.50.2.12|
$OPS_PORTS
web-tier web-a  0a:00:00:00:01:01 10.50.1.11|
web-tier web-uplink router router|"
changed() { [[ $(ports) == "$want_ports2" ]]; }
check "the change reaches the database: web-b gone, db-b added" until_true 10 changed
acls | grep -qxF "web-tier to-lport 950 (ip4) drop" && ! acls | grep -qxF "web-tier to-lport 900 (ip4) drop" \
  && ok "the changed ACL replaced the old one (950 in, 900 out)" || { bad "acls after change:"; acls; }
[[ $(uuid_of web-tier) == "$WEB" ]] && ok "web-tier kept its row through the change" || bad "web-tier recreated"

# --- a signed envelope outside the vocabulary; --ovn-nbctl off --------------------------
"$CTL" keygen --signing-key "$TMP/oneshot.key" >"$TMP/oneshot.pub"
mkdir -m 700 "$TMP/oneshot"
"$GD" keygen --state-dir "$TMP/oneshot" >/dev/null
netns_add "nno-$RUN_ID-x" # its own namespace: the hub's listen port is taken in the hub's
oneshot() { # oneshot ENVELOPE_FILE [ARGS...]: gateway-daemon apply of a locally signed envelope
  local f=$1
  shift
  "$CTL" sign --signing-key "$TMP/oneshot.key" -f "$f" >"$f.sig"
  ip netns exec "nno-$RUN_ID-x" "$GD" apply --state-dir "$TMP/oneshot" --server-key "$TMP/oneshot.pub" \
    -f "$f" --signature "$f.sig" --interface "nno${RUN_ID}x" --userspace wireguard-go --frr-vty off --json "$@"
}
api GET /workspaces/ov/networks/core/peers/hub/envelope \
  | jq -c '.ovn.nb_plan.plan[0] = {cmd: "ls-del", args: ["ops"], options: []}' >"$TMP/evil.json"
set +e
oneshot "$TMP/evil.json" >"$TMP/evil.out" 2>"$TMP/evil.err"
st=$?
set -e
[[ $st == 2 ]] && grep -qF 'ovn.nb_plan.plan[0].cmd: "ls-del" is not one of' "$TMP/evil.err" \
  && ok "a signed plan with ls-del is refused with its path (exit 2)" || bad "evil plan: exit $st, $(cat "$TMP/evil.err")"
[[ $(switches) == "db-tier ops web-tier " ]] && ok "ops survived the refused envelope" || bad "switches: $(switches)"
api GET /workspaces/ov/networks/core/peers/hub/envelope >"$TMP/good.json"
# The hub's own daemon would put db-tier back: stop it for this check.
kill "${DAEMON[hub]}"
until_true 5 bash -c "! kill -0 ${DAEMON[hub]} 2>/dev/null" || bad "hub daemon did not stop"
nbctl ls-del db-tier
out=$(oneshot "$TMP/good.json" --ovn-nbctl off 2>"$TMP/off.err") || true
[[ $(jq -r .ovn <<<"$out") == disabled && $(switches) == "ops web-tier " ]] \
  && ok "--ovn-nbctl off: reported disabled, the database untouched" || bad "ovn off: $out $(cat "$TMP/off.err")"
out=$(oneshot "$TMP/good.json" 2>"$TMP/on.err") || true
[[ $(jq -r .ovn <<<"$out") == applied && $(switches) == "db-tier ops web-tier " ]] \
  && ok "apply (one shot) puts db-tier back and says applied" || bad "one shot: $out $(cat "$TMP/on.err")"
out=$(oneshot "$TMP/good.json" 2>"$TMP/on.err") || true
[[ $(jq -r .ovn <<<"$out") == unchanged ]] && ok "and unchanged the second time" || bad "second one shot: $out"
start_daemon hub --frr-vty off || bad "hub daemon did not restart"

# --- an empty plan empties the deployment ------------------------------------------------
intent '[]' | jq --argjson k "$keys" '.workspaces[0].networks[0].peers |= map(.public_key = $k[.name])' \
  >"$TMP/intent3.json"
ctl apply -f "$TMP/intent3.json" >/dev/null
emptied() { [[ $(switches) == "ops " && -z $(tagged Logical_Switch_Port) ]]; }
check "an empty plan removes every tagged row" until_true 10 emptied
[[ $(ports) == "$OPS_PORTS" && $(acls) == "$OPS_ACL" ]] && ok "the operator's switch, port and ACL remain" \
  || bad "ops rows: $(ports) / $(acls)"

# --- the database goes away ------------------------------------------------------------
ctl apply -f "$TMP/intent2.json" >/dev/null
check "the plan comes back" until_true 10 changed
kill "$(cat "$TMP/nb.pid")"
rm -f "$TMP/nb.pid"
failed_report() { [[ $(observed hub '.ovn.state') == failed ]]; }
check "an unreachable database is reported (ovn.state failed)" until_true 10 failed_report
observed hub '.errors[]' | grep -qF "unix:$NB" \
  && ok "the error names the endpoint" || bad "errors: $(observed hub .errors)"
S1_4=$(api GET /workspaces/ov/networks/core/peers/s1/envelope | jq -r '.interface.addresses[0]' | cut -d/ -f1)
check "the hub still reaches s1 over its tunnel" ping_until "${NS[hub]}" "$S1_4"
nb_start
check "the database back: the hub reports applied again" until_true 10 ovn_reported applied

echo "e2e ovn: $passes passed, $fails failed"
[[ $fails -eq 0 ]]
