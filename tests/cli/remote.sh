#!/usr/bin/env bash
# nanamictl as an API client, against a real nanamid on a loopback port
# with a real database: where the server and token come from (flags, env,
# a config file that must be private), apply/export round trips, tables
# and --json, generic put/post/delete, and errors that name the field.
set -euo pipefail
NANAMID=${1:?usage: remote.sh NANAMID NANAMICTL}
CTL=${2:?usage: remote.sh NANAMID NANAMICTL}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/../api/lib.sh"
require_tools curl jq wg
TMP=$(mktemp -d)
trap 'stop_nanamid; rm -rf "$TMP"' EXIT
ACME_ULA=$(jq -r .ula_prefix "$ROOT/examples/acme.json")
"$NANAMID" init --db "$TMP/x.sqlite" --ula-prefix fd00::/39 >/dev/null 2>&1 && bad "init took a /39" || ok
ADMIN=$("$NANAMID" init --db "$TMP/db.sqlite" --ula-prefix "$ACME_ULA" 2>/dev/null)
start_nanamid
unset NANAMI_URL NANAMI_TOKEN NANAMI_CONFIG XDG_CONFIG_HOME
export HOME=$TMP/home
mkdir -p "$HOME/.config/nanami"

# run WANT_RC ARGS... -> runs nanamictl; leaves stdout in $OUT, stderr in $ERR
run() {
  local want=$1; shift
  local rc=0
  "$CTL" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
  OUT=$(cat "$TMP/out"); ERR=$(cat "$TMP/err")
  [[ $rc == "$want" ]] && ok || bad "nanamictl $* -> exit $rc (want $want): ${ERR:0:300}"
}
has() { # has TEXT PATTERN
  grep -qE -- "$2" <<<"$1" && ok || bad "no /$2/ in: ${1:0:400}"
}

# --- where the server and token come from -----------------------------------
run 2 get workspaces --server "$URL"
has "$ERR" 'no API token'
printf 'server = %s\ntoken = %s\n' "$URL" "$ADMIN" >"$HOME/.config/nanami/config"
chmod 644 "$HOME/.config/nanami/config"
run 2 get workspaces
has "$ERR" 'readable by others \(mode 0644\); chmod 600'
grep -qF "$ADMIN" <<<"$ERR" && bad "the token was printed" || ok
chmod 600 "$HOME/.config/nanami/config"
run 0 get me
has "$OUT" '^name +admin$'
printf 'server = %s\ncolour = red\n' "$URL" >"$TMP/other.conf"; chmod 600 "$TMP/other.conf"
NANAMI_CONFIG=$TMP/other.conf run 2 get me
has "$ERR" "other.conf:2: unknown key \"colour\""
# flags beat the environment, which beats the file
NANAMI_TOKEN=nn_wrong run 2 get me
has "$ERR" '401'
NANAMI_TOKEN=nn_wrong run 0 get me --token "$ADMIN"
NANAMI_URL=http://127.0.0.1:1 run 1 get me
has "$ERR" 'cannot reach nanamid'
run 2 get me --server ftp://example.com
has "$ERR" '^error: --server: .*not an http'

# --- apply and export ---------------------------------------------------------
run 0 apply -f "$ROOT/examples/acme.json" --dry-run
has "$OUT" 'workspace acme: does not exist; apply would create it'
run 0 get workspaces
has "$OUT" '^\(none\)$'
run 0 apply -f "$ROOT/examples/acme.json"
has "$OUT" '^workspace acme: created$'
has "$OUT" '^  \+ networks/corp/peers/hub-1$'
has "$OUT" '^workspace acme: 18 created, 1 changed, 0 deleted$'
run 0 apply -f "$ROOT/examples/acme.json"
has "$OUT" '^workspace acme: 0 created, 0 changed, 0 deleted$'
# the served envelope is the offline compiler's
run 0 get workspaces/acme/networks/corp/peers/db-1/envelope --json
cmp -s <(jq -S . <<<"$OUT") <("$CTL" compile -f "$ROOT/examples/acme.json" --peer acme/corp/db-1 | jq -S .) &&
  ok || bad "served envelope differs from the offline compile of the same document"
# dry run: what would change, and nothing does
jq '.workspaces[0].networks[0].peers |= map(select(.name != "ops-1"))
    | .workspaces[0].networks[0].mtu = 1380' "$ROOT/examples/acme.json" >"$TMP/changed.json"
run 0 apply -f "$TMP/changed.json" --dry-run
has "$OUT" '^  - networks/corp/peers/ops-1$'
has "$OUT" '^  ~ networks/corp$'
has "$OUT" 'dry run: nothing stored'
run 0 get workspaces/acme/networks/corp/peers/ops-1
run 0 apply -f "$TMP/changed.json" --json
[[ $(jq -r '.[0].deleted | join(",")' <<<"$OUT") == "networks/corp/peers/ops-1" ]] && ok || bad "--json answer: $OUT"
run 2 get workspaces/acme/networks/corp/peers/ops-1
has "$ERR" 'no peer named "ops-1" \(404 not_found\)'
# export is indented, sorted, and applies back unchanged
run 0 export acme
echo "$OUT" >"$TMP/export.json"
[[ $(head -1 "$TMP/export.json") == "{" && $(sed -n 2p "$TMP/export.json") == '  "ula_prefix": '* ]] && ok || bad "export is not indented/sorted"
cmp -s <(jq -S . "$TMP/export.json") <(curl -s -H "Authorization: Bearer $ADMIN" "$URL/workspaces/acme/intent" | jq -S .) &&
  ok || bad "export differs from GET .../intent"
run 0 apply -f "$TMP/export.json"
has "$OUT" '0 created, 0 changed, 0 deleted'
# a rejected document changes nothing and the error names the field
jq '.workspaces[0].networks[0].peers[0].public_key = "bad"' "$TMP/export.json" >"$TMP/bad.json"
run 2 apply -f "$TMP/bad.json"
has "$ERR" '^error: networks/corp/peers/db-1/public_key: [^:]+ \(422 invalid_intent\)$'
run 0 export acme
[[ $OUT == "$(cat "$TMP/export.json")" ]] && ok || bad "a rejected apply changed the workspace"
echo '{"workspaces": [' >"$TMP/broken.json"
run 2 apply -f "$TMP/broken.json"
has "$ERR" "broken.json:2:"
jq '.ula_prefix = "fd11:2233:4400::/40"' "$TMP/export.json" >"$TMP/ula.json"
run 2 apply -f "$TMP/ula.json"
has "$ERR" "^error: ula_prefix: this install's ULA prefix is $ACME_ULA"
run 2 apply -f "$TMP/export.json" --data '{}'
run 2 export 'no such/name'

# --- tables, --json, text ------------------------------------------------------
run 0 get workspaces/acme/networks/corp/peers
[[ $(head -1 <<<"$OUT" | awk '{print $1}') == NAME ]] && ok || bad "table has no NAME header: ${OUT:0:200}"
[[ $(awk 'NR > 1 {print $1}' <<<"$OUT" | paste -sd, -) == "db-1,hub-1,web-1" ]] && ok || bad "table rows: $OUT"
has "$OUT" '^hub-1 +10\.20\.0\.1 '
run 0 get /api/v1/workspaces/acme/networks/corp/peers --json
cmp -s <(echo "$OUT") <(curl -s -H "Authorization: Bearer $ADMIN" "$URL/workspaces/acme/networks/corp/peers") &&
  ok || bad "--json is not the server's answer"
run 0 get workspaces/acme/networks/corp/devices/alice-laptop/wireguard.conf
has "$OUT" '^\[Interface\]$'
run 0 get stats
has "$OUT" '^envelope_cache\.networks_compiled +[0-9]+$'

# --- put, post, delete -----------------------------------------------------------
R=workspaces/acme/networks/corp/firewall_rules/dns
run 0 put "$R" -d '{"action":"accept","protocol":"udp","ports":[53]}'
has "$OUT" "^created +networks/corp/firewall_rules/dns$"
run 0 get "$R"
has "$OUT" '^ports +53$'
has "$OUT" '^protocol +udp$'
echo '{"action":"accept","protocol":"tcp","ports":[853]}' >"$TMP/rule.json"
run 0 put "$R" -f "$TMP/rule.json" --dry-run
run 0 put "$R?dry_run=true" -f "$TMP/rule.json" --dry-run --json   # a query string of its own
[[ $(jq -r .dry_run <<<"$OUT") == true ]] && ok || bad "dry run with a query string: $OUT"
run 0 get "$R" --json
[[ $(jq -r .protocol <<<"$OUT") == udp ]] && ok || bad "a dry-run put changed the rule"
run 2 post workspaces/acme/networks/corp/firewall_rules -d '{"name":"dns","action":"drop"}'
has "$ERR" '409'
run 2 put "$R" -d '{"action":"accept","colour":"red"}'
has "$ERR" '^error: networks/corp/firewall_rules/dns/colour: unknown field \(422 invalid_intent\)$'
# lost updates: a write that read an older version is refused
run 0 get "$R" --etag
ETAG=$OUT
[[ $ETAG =~ ^\"[0-9a-f]{64}\"$ ]] && ok || bad "get --etag: $ETAG"
run 0 put "$R" -d '{"action":"accept","protocol":"udp","ports":[53,5353]}' --if-match "$ETAG"
run 2 put "$R" -d '{"action":"drop"}' --if-match "$ETAG"
has "$ERR" '\(412 precondition_failed\)$'
run 2 delete "$R" --if-match "$ETAG"
run 0 get "$R" --json
[[ $(jq -c .ports <<<"$OUT") == '[53,5353]' ]] && ok || bad "a stale write changed the rule: $OUT"
run 2 get "$R" --if-match "$ETAG"
run 0 delete "$R" --dry-run
run 0 get "$R"
run 0 delete "$R" --if-match "$(cd "$TMP" && "$CTL" get "$R" --etag)"
run 2 get "$R"

# --- who may ------------------------------------------------------------------------
run 0 post users -d '{"name":"carol"}'
run 0 post users/carol/tokens -d '{"name":"cli"}' --json
CAROL=$(jq -r .token <<<"$OUT")
run 0 put workspaces/acme/members/carol -d '{"role":"viewer"}'
jq '.workspaces[0].name = "beta"' "$TMP/export.json" >"$TMP/beta.json"
run 2 apply -f "$TMP/beta.json" --token "$CAROL"
has "$ERR" 'workspaces/beta: does not exist, and only a platform administrator can create it'
run 2 apply -f "$TMP/export.json" --token "$CAROL"
has "$ERR" '403'
run 0 get workspaces/acme/networks --token "$CAROL"

# --- usage ---------------------------------------------------------------------------
run 2 get
run 2 put "$R"
run 2 get "$R" --dry-run
run 2 get a b
run 2 delete "$R" -d '{}'
run 2 get "$R" --bogus

echo "$passes passed, $fails failed"
[[ $fails == 0 ]]
