#!/usr/bin/env bash
# The REST API against a real nanamid on a loopback port with a real
# SQLite file: users and roles, validation, writes, revisions, envelopes,
# enrollment tokens, intent convergence. (The isolation matrix generated
# from the route table runs in-process: tests/unit/test_api.c.)
set -euo pipefail
NANAMID=${1:?usage: api.sh NANAMID NANAMICTL}
NANAMICTL=${2:?usage: api.sh NANAMID NANAMICTL}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
require_tools curl jq wg sqlite3 openssl
TMP=$(mktemp -d)
trap 'stop_nanamid; rm -rf "$TMP"' EXIT
ADMIN=$("$NANAMID" init --db "$TMP/db.sqlite" 2>/dev/null)
[[ $ADMIN == nn_* ]] && ok || bad "init printed no token"
"$NANAMID" init --db "$TMP/db.sqlite" >/dev/null 2>&1 && bad "second init succeeded" || ok
start_nanamid
TOK=$ADMIN

# --- users and tokens -------------------------------------------------------
declare -A T
ROLES=(owner admin operator member viewer)
for u in "${ROLES[@]}" outsider bowner; do
  expect 201 POST /users "{\"name\":\"u-$u\"}"
  expect 201 POST "/users/u-$u/tokens" '{"name":"test"}'
  T[$u]=$(jq -r .token <<<"$BODY")
done
expect 409 POST /users '{"name":"u-owner"}'
expect 422 POST /users '{"name":"u-x","colour":"red"}'; field_is .error.field colour
expect 422 POST /users '{"name":"bad name"}'; field_is .error.field name
expect 422 POST /users '{"name":"u-pw","password":"short"}'; field_is .error.field password
expect 201 POST /users '{"name":"u-pw","password":"correct horse battery"}'
hash=$(sqlite3 "$TMP/db.sqlite" "select password_hash from users where name='u-pw'")
[[ $hash == '$argon2id$'* ]] && ok || bad "password not stored as argon2id: $hash"
tokens=$(sqlite3 "$TMP/db.sqlite" "select count(*) from api_tokens where instr(token_hash, 'nn_') > 0")
[[ $tokens == 0 ]] && ok || bad "a token is stored in clear"
TOK=${T[viewer]}; expect 403 POST /users '{"name":"u-y"}'
expect 403 POST /users/u-owner/tokens '{"name":"steal"}'
expect 201 POST /users/u-viewer/tokens '{"name":"mine"}'
TOK=nn_not-a-token; expect 401 GET /me
curl -s -o /dev/null -w '%{http_code}' "$URL/me" | grep -qx 401 && ok || bad "no token was not 401"
expect 200 GET /health
TOK=$ADMIN; expect 200 GET /openapi.json; field_is .openapi 3.0.3

# --- two workspaces, same shape ---------------------------------------------
key() { wg genkey | wg pubkey; }
for ws in ws-a ws-b; do
  owner=u-owner; [[ $ws == ws-b ]] && owner=u-bowner
  expect 201 POST /workspaces "{\"name\":\"$ws\",\"owner\":\"$owner\"}"
  expect 201 POST "/workspaces/$ws/networks" '{"name":"corp","ipv4_cidr":"10.20.0.0/24"}'
  expect 201 PUT "/workspaces/$ws/networks/corp/peers/hub-1" \
    "{\"public_key\":\"$(key)\",\"publicly_reachable\":true,\"endpoint\":\"198.51.100.1:51820\"}"
  expect 201 PUT "/workspaces/$ws/networks/corp/peers/p1" "{\"public_key\":\"$(key)\",\"tags\":[\"$ws-secret\"]}"
  expect 201 PUT "/workspaces/$ws/networks/corp/devices/d1" "{\"public_key\":\"$(key)\",\"owner\":\"u-owner\"}"
  expect 201 POST "/workspaces/$ws/route_policies" '{"name":"rp","direction":"in"}'
done
# ws-b belongs to u-bowner alone: every role of the matrix is foreign there.
TOK=$ADMIN; expect 200 GET /workspaces/ws-b/members; field_is '[.[].user] | join(",")' u-bowner
for r in admin operator member viewer; do
  TOK=${T[owner]}; expect 200 PUT "/workspaces/ws-a/members/u-$r" "{\"role\":\"$r\"}"
done
expect 200 PUT "/workspaces/ws-a/members/u-member" '{"role":"member"}'
TOK=${T[owner]}; expect 409 PUT /workspaces/ws-a/members/u-owner '{"role":"admin"}'; field_is .error.code last_owner
TOK=${T[admin]}; expect 403 PUT /workspaces/ws-a/members/u-viewer '{"role":"owner"}'
expect 422 PUT /workspaces/ws-a/members/u-viewer '{"role":"god"}'; field_is .error.field role
expect 404 PUT /workspaces/ws-a/members/nobody '{"role":"viewer"}'
TOK=${T[member]}; expect 201 PUT /workspaces/ws-a/networks/corp/devices/m-laptop "{\"public_key\":\"$(key)\"}"

# --- isolation ------------------------------------------------------------------
# The whole matrix (every route of the table x every role x own/foreign
# workspace) runs in-process in tests/unit/test_api.c, generated from the
# route table. Over HTTP, the answers that matter most:
# A foreign workspace and a missing one answer alike.
TOK=${T[viewer]}; a=$(api "$TOK" GET /workspaces/ws-b); b=$(api "$TOK" GET /workspaces/nope)
[[ ${a//ws-b/X} == "${b//nope/X}" ]] && ok || bad "foreign and missing workspaces differ: $a / $b"
expect 200 GET /me; field_is '[.workspaces[].name] | join(",")' ws-a

# --- members see their own devices only ---------------------------------------
TOK=${T[member]}
expect 200 GET /workspaces/ws-a/networks/corp/devices; field_is '[.[].name] | join(",")' m-laptop
field_is '.[0].owner' u-member
expect 404 GET /workspaces/ws-a/networks/corp/devices/d1
expect 403 PUT /workspaces/ws-a/networks/corp/devices/x "{\"public_key\":\"$(key)\",\"owner\":\"u-owner\"}"
expect 404 DELETE /workspaces/ws-a/networks/corp/devices/d1
expect 403 GET /workspaces/ws-a/networks/corp/peers
expect 200 DELETE /workspaces/ws-a/networks/corp/devices/m-laptop

# --- validation: clear errors, nothing lost ----------------------------------------
TOK=${T[operator]}
before=$(api "$TOK" GET /workspaces/ws-a/intent)
expect 422 PUT /workspaces/ws-a/networks/corp/peers/p2 '{"public_key":"AAAA"}'
field_is .error.field networks/corp/peers/p2/public_key
expect 422 PUT /workspaces/ws-a/networks/corp/peers/p2 "{\"public_key\":\"$(key)\",\"ipv4\":\"10.99.0.1\"}"
field_is .error.field networks/corp/peers/p2/ipv4
expect 422 PUT /workspaces/ws-a/networks/corp/firewall_rules/r1 '{"action":"accept","source":{"peer":"ghost"}}'
field_is .error.field networks/corp/firewall_rules/r1/source/peer
expect 422 PUT /workspaces/ws-a/networks/corp/peers/p2 "{\"public_key\":\"$(key)\",\"flavour\":1}"
field_is .error.field networks/corp/peers/p2/flavour
expect 400 PUT /workspaces/ws-a/networks/corp/peers/p2 '{"public_key":'
field_is .error.code bad_json
expect 400 PUT /workspaces/ws-a/networks/corp/peers/p2 '[1]'
expect 422 PUT /workspaces/ws-a/networks/corp/peers/p2 '{"name":"other"}'
expect 422 PUT /workspaces/ws-a/networks/corp '{"peers":[]}'; field_is .error.field peers
expect 409 POST /workspaces/ws-a/networks '{"name":"corp"}'
expect 404 GET /workspaces/ws-a/networks/corp/peers/ghost
expect 404 GET /workspaces/ws-a/networks/nope/peers
expect 404 GET /workspaces/ws-a/widgets
expect 404 GET '/workspaces/ws-a/networks/corp/peers/%2e%2e'
expect 405 PATCH /workspaces/ws-a/networks/corp
big=$(head -c 1100000 /dev/zero | tr '\0' a)
printf '{"description":"%s"}' "$big" >"$TMP/big.json"
expect 413 PUT /workspaces/ws-a/networks/corp/peers/p2 "@$TMP/big.json"
after=$(api "$TOK" GET /workspaces/ws-a/intent)
[[ $before == "$after" ]] && ok || bad "a rejected write changed the intent"

# --- writes, revisions, envelopes, ETags -----------------------------------------
expect 200 GET /workspaces/ws-a/networks/corp; rev0=$(jq .revision <<<"$BODY")
expect 200 GET /workspaces/ws-a/networks/corp/peers/p1/envelope
etag=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $TOK" "$URL/workspaces/ws-a/networks/corp/peers/p1/envelope" | tr -d '\r' | sed -n 's/^ETag: //Ip')
[[ $etag =~ ^\"[0-9a-f]{64}\"$ ]] && ok || bad "etag '$etag'"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK" -H "If-None-Match: $etag" "$URL/workspaces/ws-a/networks/corp/peers/p1/envelope")
[[ $code == 304 ]] && ok || bad "If-None-Match gave $code"
# The envelope equals the offline compiler's for the exported intent.
expect 200 GET /workspaces/ws-a/intent; echo "$BODY" >"$TMP/intent.json"
expect 200 GET /workspaces/ws-a/networks/corp/peers/p1/envelope; echo -n "$BODY" >"$TMP/served.json"
"$NANAMICTL" compile -f "$TMP/intent.json" --peer ws-a/corp/p1 >"$TMP/offline.json"
cmp -s <(jq -S . "$TMP/served.json") <(jq -S . "$TMP/offline.json") && ok || bad "served envelope differs from the offline compile"
grep -qi 'private' "$TMP/served.json" && bad "envelope mentions a private key" || ok
# dry run changes nothing
expect 201 PUT "/workspaces/ws-a/networks/corp/peers/p3?dry_run=true" "{\"public_key\":\"$(key)\"}"
field_is .dry_run true
expect 404 GET /workspaces/ws-a/networks/corp/peers/p3
# a real write bumps the revision and the envelope of the hub
hub_etag0=$(api "$TOK" GET /workspaces/ws-a/networks/corp/peers/hub-1/envelope | tail -n +2 | sha256sum)
expect 201 PUT /workspaces/ws-a/networks/corp/peers/p3 "{\"public_key\":\"$(key)\"}"
expect 200 GET /workspaces/ws-a/networks/corp; rev1=$(jq .revision <<<"$BODY")
[[ $rev1 -gt $rev0 ]] && ok || bad "revision did not move ($rev0 -> $rev1)"
field_is '.ipv4_cidr' 10.20.0.0/24
hub_etag1=$(api "$TOK" GET /workspaces/ws-a/networks/corp/peers/hub-1/envelope | tail -n +2 | sha256sum)
[[ $hub_etag0 != "$hub_etag1" ]] && ok || bad "hub envelope did not change after a new peer"
expect 200 GET /workspaces/ws-a/networks/corp/peers/p3; p3_ip=$(jq -r .ipv4 <<<"$BODY")
[[ $p3_ip == 10.20.0.* ]] && ok || bad "p3 has no persisted IPv4 ($p3_ip)"
expect 200 GET /workspaces/ws-a/networks/corp/devices/d1/wireguard.conf
grep -q '^\[Interface\]' <<<"$BODY" && ok || bad "wireguard.conf: ${BODY:0:100}"

# --- a one-peer change renders only the envelopes it affects ---------------------
TOK_BEFORE=$TOK TOK=$ADMIN
expect 201 POST /workspaces '{"name":"ws-inc","owner":"u-owner"}'
jq -n --arg h "$(key)" --argjson k "$(for i in 1 2 3 4 5 6; do key; done | jq -R . | jq -s .)" \
  '{workspaces: [{name: "ws-inc", networks: [{name: "corp", peers: ([{name: "hub", public_key: $h,
    publicly_reachable: true, endpoint: "198.51.100.7:51820"}] + [range(6) as $i | {name: "s\($i)", public_key: $k[$i]}])}]}]}' \
  >"$TMP/inc.json"
expect 200 PUT /workspaces/ws-inc/intent "@$TMP/inc.json"
get_all() { # prints "name etag" for every peer of ws-inc/corp
  local p
  for p in hub s0 s1 s2 s3 s4 s5 ${1:-}; do
    echo "$p $(curl -s -D - -o /dev/null -H "Authorization: Bearer $ADMIN" \
      "$URL/workspaces/ws-inc/networks/corp/peers/$p/envelope" | tr -d '\r' | sed -n 's/^ETag: //Ip')"
  done
}
get_all >"$TMP/etags0"
expect 200 GET /stats; stats0=$BODY
expect 201 PUT /workspaces/ws-inc/networks/corp/peers/s-new "{\"public_key\":\"$(key)\"}"
get_all s-new >"$TMP/etags1"
expect 200 GET /stats; stats1=$BODY
delta() { echo $(( $(jq ".envelope_cache.$1" <<<"$stats1") - $(jq ".envelope_cache.$1" <<<"$stats0") )); }
[[ $(delta networks_compiled) == 1 ]] && ok || bad "networks compiled: $(delta networks_compiled), want 1"
[[ $(delta envelopes_rendered) == 2 ]] && ok || bad "rendered $(delta envelopes_rendered) envelopes for a one-peer change, want 2 (hub, s-new)"
[[ $(delta envelopes_carried) == 6 ]] && ok || bad "carried $(delta envelopes_carried) unchanged envelopes, want 6"
[[ "$(delta envelopes_added) $(delta envelopes_changed) $(delta envelopes_unchanged)" == "1 1 6" ]] && ok ||
  bad "added/changed/unchanged: $(delta envelopes_added) $(delta envelopes_changed) $(delta envelopes_unchanged)"
diff <(head -7 "$TMP/etags0" | tail -6) <(sed -n 2,7p "$TMP/etags1") >/dev/null && ok || bad "a spoke's ETag moved"
[[ $(head -1 "$TMP/etags0") != "$(head -1 "$TMP/etags1")" ]] && ok || bad "the hub's ETag did not move"
# What was carried over is what a fresh compile gives.
expect 200 GET /workspaces/ws-inc/intent; echo "$BODY" >"$TMP/inc-export.json"
for p in hub s3 s-new; do
  expect 200 GET "/workspaces/ws-inc/networks/corp/peers/$p/envelope"
  cmp -s <(jq -S . <<<"$BODY") <("$NANAMICTL" compile -f "$TMP/inc-export.json" --peer "ws-inc/corp/$p" | jq -S .) &&
    ok || bad "served envelope of $p differs from the offline compile"
done
TOK=${T[owner]}; expect 403 GET /stats
TOK=$ADMIN; expect 405 PUT /stats '{}'
TOK=$TOK_BEFORE

# --- enrollment tokens: one-time, expiring, stored hashed -------------------------
TOK=${T[operator]}
E=/workspaces/ws-a/networks/corp/peers/p1/enrollment-tokens
expect 201 POST "$E" '{"ttl_seconds":600}'
etok=$(jq -r .token <<<"$BODY"); eid=$(jq -r .id <<<"$BODY")
[[ $etok =~ ^ne_[A-Za-z0-9_-]{43}$ ]] && ok || bad "enrollment token '$etok'"
field_is .peer networks/corp/peers/p1
exp=$(jq -r .expires_at <<<"$BODY")
want=$(date -u -d '+600 seconds' +%s); got=$(date -u -d "$exp" +%s)
(( got >= want - 5 && got <= want + 5 )) && ok || bad "expires_at $exp is not now + 600 s"
[[ $(sqlite3 "$TMP/db.sqlite" "select count(*) from enrollment_tokens where instr(token_hash, 'ne_') > 0") == 0 ]] &&
  ok || bad "an enrollment token is stored in clear"
expect 201 POST "$E" ''                       # no body: the default hour
field_is '(.expires_at | fromdateiso8601) - now | floor / 60 | round' 60
expect 201 POST "$E?dry_run=true" '{}'; field_is .token null
expect 422 POST "$E" '{"ttl_seconds":10}'; field_is .error.field ttl_seconds
expect 422 POST "$E" '{"ttl_seconds":"1h"}'; field_is .error.field ttl_seconds
expect 422 POST "$E" '{"uses":2}'; field_is .error.field uses
expect 404 POST /workspaces/ws-a/networks/corp/peers/nope/enrollment-tokens '{}'
expect 404 POST /workspaces/ws-a/networks/corp/devices/d1/enrollment-tokens '{}'
expect 200 GET "$E"
field_is 'length' 2
field_is '[.[].state] | unique | join(",")' active
field_is '.[0].created_by' u-operator
field_is '[.[] | has("token") or has("token_hash")] | any' false
sqlite3 "$TMP/db.sqlite" "update enrollment_tokens set expires_at = '2020-01-01T00:00:00Z' where id = $eid"
expect 200 GET "$E"; field_is ".[] | select(.id == $eid) | .state" expired
expect 405 PUT "$E" '{}'
expect 200 DELETE "$E/$eid?dry_run=true"
expect 200 DELETE "$E/$eid"; field_is .revoked "$eid"
expect 404 DELETE "$E/$eid"
expect 404 DELETE "$E/abc"
expect 200 GET "$E"; field_is 'length' 1
TOK=${T[viewer]}; expect 403 POST "$E" '{}'; expect 200 GET "$E"
TOK=${T[member]}; expect 403 GET "$E"
TOK=${T[owner]}; expect 404 GET /workspaces/ws-b/networks/corp/peers/p1/enrollment-tokens
# a deleted peer takes its tokens with it
TOK=${T[operator]}
expect 201 PUT /workspaces/ws-a/networks/corp/peers/p9 "{\"public_key\":\"$(key)\"}"
expect 201 POST /workspaces/ws-a/networks/corp/peers/p9/enrollment-tokens '{}'
before=$(sqlite3 "$TMP/db.sqlite" "select count(*) from enrollment_tokens")
expect 200 DELETE /workspaces/ws-a/networks/corp/peers/p9
after=$(sqlite3 "$TMP/db.sqlite" "select count(*) from enrollment_tokens")
[[ $after == $((before - 1)) ]] && ok || bad "deleting a peer left its token ($before -> $after)"
TOK=${T[admin]}; expect 200 GET /workspaces/ws-a/audit
field_is '[.[] | select(.action == "enrollment_token.create")] | length' 3
field_is '[.[] | select(.action == "enrollment_token.revoke")] | length' 1
TOK=${T[operator]}

# --- intent: export, converge, idempotence ----------------------------------------
expect 200 GET /workspaces/ws-a/intent; echo "$BODY" >"$TMP/export.json"
expect 200 PUT /workspaces/ws-a/intent "@$TMP/export.json"
field_is '[.created, .changed, .deleted] | map(length) | add' 0
jq '.workspaces[0].networks[0].peers |= map(select(.name != "p3"))
    | .workspaces[0].networks[0].firewall_rules = [{"name":"ssh","action":"accept","protocol":"tcp","ports":[22]}]' \
  "$TMP/export.json" >"$TMP/changed.json"
expect 200 PUT "/workspaces/ws-a/intent?dry_run=true" "@$TMP/changed.json"
field_is '.created | join(",")' networks/corp/firewall_rules/ssh
field_is '.deleted | join(",")' networks/corp/peers/p3
expect 200 GET /workspaces/ws-a/networks/corp/peers/p3
expect 200 PUT /workspaces/ws-a/intent "@$TMP/changed.json"
expect 404 GET /workspaces/ws-a/networks/corp/peers/p3
expect 200 PUT /workspaces/ws-a/intent "@$TMP/export.json"
field_is '.created | join(",")' networks/corp/peers/p3
expect 200 GET /workspaces/ws-a/networks/corp/peers/p3; field_is .ipv4 "$p3_ip"
expect 422 PUT /workspaces/ws-a/intent '{"workspaces":[{"name":"ws-b"}]}'
expect 422 PUT /workspaces/ws-a/intent '{"ula_prefix":"fd00:1::/40","workspaces":[{"name":"ws-a"}]}'
field_is .error.field ula_prefix
# allocations survive a rebuild from the export (a fresh server, same prefix)
stop_nanamid
sqlite3 "$TMP/db.sqlite" 'PRAGMA integrity_check' | grep -qx ok && ok || bad "integrity_check"
start_nanamid
TOK=${T[operator]}
expect 200 GET /workspaces/ws-a/networks/corp/peers/p3; field_is .ipv4 "$p3_ip"

# --- a database from before /48s were recorded install-wide ------------------
# nanamid records each old workspace's /48 at start without moving it; two
# that already share one keep it, and the log says which to re-pin.
TOK=$ADMIN
expect 200 GET /workspaces/ws-a; pa=$(jq -r .ipv6_prefix <<<"$BODY")
expect 200 GET /workspaces/ws-b; pb=$(jq -r .ipv6_prefix <<<"$BODY")
[[ $pa == fd*::/48 && $pb == fd*::/48 && $pa != "$pb" ]] && ok || bad "ws-a $pa, ws-b $pb"
stop_nanamid
sqlite3 "$TMP/db.sqlite" "delete from workspace_prefixes;
  update workspaces set alloc = json_remove(alloc, '$.ipv6_prefix') where name = 'ws-a';
  update workspaces set alloc = json_set(alloc, '$.ipv6_prefix', '$pa') where name = 'ws-inc'"
start_nanamid
expect 200 GET /workspaces/ws-a; field_is .ipv6_prefix "$pa"
expect 200 GET /workspaces/ws-b; field_is .ipv6_prefix "$pb"
[[ $(sqlite3 "$TMP/db.sqlite" "select count(*) from workspace_prefixes") == \
   $(( $(sqlite3 "$TMP/db.sqlite" "select count(*) from workspaces") - 1 )) ]] && ok || bad "not every workspace's /48 was recorded"
grep -q "workspace ws-inc shares $pa" "$TMP/nanamid.log" && ok || bad "no word of the shared /48 in the log: $(cat "$TMP/nanamid.log")"

# --- cached lookups: a change made elsewhere holds for at most a second ------
# (callers, workspaces, roles and networks are cached for a second; this
# nanamid's own writes drop the cache at once). A token deleted behind
# nanamid's back -- another instance, or the database by hand -- stops
# working within a second.
TOK=${T[viewer]}; expect 200 GET /workspaces/ws-a
sqlite3 "$TMP/db.sqlite" "delete from api_tokens where user_id = (select id from users where name = 'u-viewer')"
sleep 1.2
expect 401 GET /workspaces/ws-a
# this nanamid's own change is seen by the very next request
TOK=${T[admin]}; expect 200 DELETE /workspaces/ws-a/members/u-operator
TOK=${T[operator]}; expect 404 GET /workspaces/ws-a/networks
TOK=${T[admin]}; expect 200 PUT /workspaces/ws-a/members/u-operator '{"role":"operator"}'
TOK=${T[operator]}; expect 200 GET /workspaces/ws-a/networks
# when tokens were last used is recorded off the request path, once a minute
sleep 1.5
used=$(sqlite3 "$TMP/db.sqlite" "select last_used from api_tokens t join users u on u.id = t.user_id where u.name = 'u-operator' and t.name = 'test'")
now=$(date +%s)
[[ -n $used ]] && ((used <= now && used > now - 30)) && ok || bad "the operator's token use was not recorded ($used, now $now)"

# --- audit ------------------------------------------------------------------
TOK=${T[admin]}; expect 200 GET /workspaces/ws-a/audit
field_is '[.[] | select(.action == "intent.apply" and .user == "u-operator")] | length > 0' true
field_is '[.[] | select(.target == "networks/corp/peers/p3" and .action == "create")] | length' 1

# --- the operator API over TLS, on IPv6 and IPv4 at once ------------------------
stop_nanamid
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -keyout "$TMP/api.key" -out "$TMP/api.crt" -subj /CN=localhost \
  -addext 'subjectAltName=DNS:localhost,IP:::1,IP:127.0.0.1' 2>/dev/null
TPORT=$((PORT + 2))
"$NANAMID" serve --db "$TMP/db.sqlite" --listen "[::1]:$TPORT" --listen "127.0.0.1:$TPORT" \
  --tls-cert "$TMP/api.crt" --tls-key "$TMP/api.key" >"$TMP/tls.log" 2>&1 &
NANAMID_PID=$!
for _ in $(seq 1 50); do grep -q '^nanamid: serving' "$TMP/tls.log" && break; sleep 0.1; done
kill -0 "$NANAMID_PID" && ok || bad "nanamid with TLS did not start: $(cat "$TMP/tls.log")"
for base in "https://[::1]:$TPORT" "https://127.0.0.1:$TPORT"; do
  code=$(curl -s -o "$TMP/body" -w '%{http_code}' --cacert "$TMP/api.crt" -H "Authorization: Bearer $ADMIN" "$base/api/v1/me")
  [[ $code == 200 && $(jq -r .name "$TMP/body") == admin ]] && ok || bad "$base/api/v1/me over TLS: $code"
done
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://[::1]:$TPORT/api/v1/health" || true)
[[ $code != 200 ]] && ok || bad "the TLS listener answered plain HTTP"
"$NANAMID" serve --db "$TMP/db.sqlite" --listen "127.0.0.1:$TPORT" --tls-cert "$TMP/api.crt" >/dev/null 2>&1 &&
  bad "--tls-cert without --tls-key started" || ok
stop_nanamid

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
