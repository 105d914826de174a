#!/usr/bin/env bash
# The node routes against a real nanamid: enrollment over TLS with a real
# certificate request (openssl), then mutual TLS with the issued
# certificate -- the node's own envelope with its signature, ETag/304,
# the long-poll, observed state -- and every way in that must be refused.
set -euo pipefail
NANAMID=${1:?usage: node.sh NANAMID NANAMICTL}
NANAMICTL=${2:?usage: node.sh NANAMID NANAMICTL}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
require_tools curl jq wg sqlite3 openssl
TMP=$(mktemp -d)
trap 'stop_nanamid; rm -rf "$TMP"' EXIT
TOK=$("$NANAMID" init --db "$TMP/db.sqlite" 2>/dev/null)
NODE_LISTEN=1 start_nanamid
jq 'del(.ula_prefix)' "$HERE/../../examples/acme.json" >"$TMP/acme.json"
NANAMI_URL=$URL NANAMI_TOKEN=$TOK "$NANAMICTL" apply -f "$TMP/acme.json" >/dev/null

# The CA printed by nanamid ca is the one the token travels with.
"$NANAMID" ca --db "$TMP/db.sqlite" >"$TMP/ca.pem"
openssl x509 -in "$TMP/ca.pem" -noout -ext basicConstraints | grep -q 'CA:TRUE' && ok || bad "CA is not a CA"

P=/workspaces/acme/networks/corp/peers
token_for() { # token_for PEER -> TOKEN (and checks the CA beside it)
  expect 201 POST "$P/$1/enrollment-tokens" '{"ttl_seconds": 600}'
  [[ $(jq -r .ca_certificate <<<"$BODY") == "$(cat "$TMP/ca.pem")" ]] && ok || bad "token's CA differs"
  jq -r .token <<<"$BODY"
}
# enroll NAME TOKEN WGPUB [CSR] -> status line, then the body
node_key() { openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/$1.key" 2>/dev/null; }
csr() { openssl req -new -key "$TMP/$1.key" -subj "/CN=${2:-$1}" -out "$TMP/$1.csr" 2>/dev/null; }
enroll() {
  jq -n --arg t "$2" --arg k "$3" --rawfile c "${4:-$TMP/$1.csr}" \
    '{token: $t, wireguard_public_key: $k, csr: $c}' >"$TMP/enroll.json"
  local code
  code=$(curl -s -o "$TMP/resp" -w '%{http_code}' --cacert "$TMP/ca.pem" \
    --data-binary @"$TMP/enroll.json" "$NODE_URL/node/enroll")
  STATUS=$code BODY=$(cat "$TMP/resp")
}
node() { # node NAME [curl args...] PATH -> STATUS, BODY, HDR
  local name=$1; shift
  STATUS=$(curl -s -o "$TMP/resp" -D "$TMP/hdr" -w '%{http_code}' --cacert "$TMP/ca.pem" \
    --cert "$TMP/$name.crt" --key "$TMP/$name.key" "$@")
  BODY=$(cat "$TMP/resp")
}
header() { grep -i "^$1:" "$TMP/hdr" | cut -d' ' -f2- | tr -d '\r'; }
is() { [[ $1 == "$2" ]] && ok || bad "$3: got '$1', want '$2' ${BODY:0:200}"; }

# --- enrollment ---------------------------------------------------------------
WG_DB=$(wg genkey | wg pubkey)
T_DB=$(token_for db-1)
node_key db; csr db "I-am-the-hub"
# The operator listener has no node routes at all: the token would travel
# in clear there.
code=$(curl -s -o "$TMP/resp" -w '%{http_code}' --data-binary '{}' "$URL/node/enroll")
is "$code" 404 "enroll over plain HTTP"
enroll db "ne_wrong" "$WG_DB"; is "$STATUS" 401 "unknown token"
enroll db "$T_DB" "not-a-key"; is "$STATUS" 422 "bad WireGuard key"
is "$(jq -r .error.field <<<"$BODY")" wireguard_public_key "bad key field"
printf 'garbage\n' >"$TMP/junk.csr"
enroll db "$T_DB" "$WG_DB" "$TMP/junk.csr"; is "$STATUS" 422 "junk CSR"
is "$(jq -r .error.field <<<"$BODY")" csr "junk CSR field"
# a key another member already has: refused, and the token is not spent
HUB_KEY=$(jq -r '.workspaces[0].networks[0].peers[] | select(.name=="hub-1") | .public_key' "$TMP/acme.json")
enroll db "$T_DB" "$HUB_KEY"; is "$STATUS" 422 "duplicate WireGuard key"
enroll db "$T_DB" "$WG_DB"; is "$STATUS" 201 "enroll db-1"
jq -r .certificate <<<"$BODY" >"$TMP/db.crt"
SIGNING=$(jq -r .signing_public_key <<<"$BODY")
is "$(jq -r '.peer | "\(.workspace)/\(.network)/\(.name)"' <<<"$BODY")" acme/corp/db-1 "enrolled peer"
# the server decides the subject, not the request
subject=$(openssl x509 -in "$TMP/db.crt" -noout -subject)
[[ $subject != *I-am-the-hub* && $subject == *nanami-peer-* ]] && ok || bad "subject: $subject"
openssl verify -CAfile "$TMP/ca.pem" "$TMP/db.crt" >/dev/null && ok || bad "certificate does not verify"
openssl x509 -in "$TMP/db.crt" -noout -ext extendedKeyUsage | grep -q 'Client Authentication' && ok || bad "not a client certificate"
enroll db "$T_DB" "$WG_DB"; is "$STATUS" 401 "token replay"
is "$(jq -r .error.message <<<"$BODY")" "this enrollment token has already been used" "replay message"
# the peer now carries the node's key, and the audit names the token's maker
expect 200 GET "$P/db-1"; field_is .public_key "$WG_DB"
expect 200 GET /workspaces/acme/audit
field_is '[.[] | select(.action == "peer.enroll")][0].target' networks/corp/peers/db-1
expect 200 GET "$P/db-1/enrollment-tokens"; field_is '.[-1].state' used

# --- mutual TLS: the node's own envelope ----------------------------------------
node db "$NODE_URL/node/config"; is "$STATUS" 200 "config"
ETAG=$(header etag); SIG=$(header x-nanami-signature)
printf '%s' "$BODY" >"$TMP/env.json"
printf '%s\n' "$SIG" >"$TMP/env.sig"
# An outside judge: openssl checks the Ed25519 signature over the domain
# line, the revision line and the exact bytes, with the key enrollment
# handed out. The token is REVISION.SIGNATURE; the revision is the
# network's (at least the wall clock in ms when it was written).
{ printf '\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00'; base64 -d <<<"$SIGNING"; } >"$TMP/server.der"
REV=${SIG%%.*}
[[ $REV =~ ^[1-9][0-9]{12,18}$ ]] && ok || bad "signature token revision: '$REV'"
expect 200 GET /workspaces/acme/networks/corp
(( REV <= $(jq .revision <<<"$BODY") )) && ok || bad "token revision $REV is newer than the network's"
{ printf 'nanami-envelope-v2\n%s\n' "$REV"; cat "$TMP/env.json"; } >"$TMP/signed.bin"
base64 -d <<<"${SIG#*.}" >"$TMP/sig.bin"
openssl pkeyutl -verify -pubin -keyform DER -inkey "$TMP/server.der" -rawin -in "$TMP/signed.bin" \
  -sigfile "$TMP/sig.bin" >/dev/null 2>&1 && ok || bad "X-Nanami-Signature does not verify (openssl)"
printf 'x' >>"$TMP/signed.bin"
openssl pkeyutl -verify -pubin -keyform DER -inkey "$TMP/server.der" -rawin -in "$TMP/signed.bin" \
  -sigfile "$TMP/sig.bin" >/dev/null 2>&1 && bad "signature verified over other bytes" || ok
is "$(jq -r .self.name "$TMP/env.json")" db-1 "envelope is db-1's"
expect 200 GET "$P/db-1/envelope"
is "$BODY" "$(cat "$TMP/env.json")" "node and operator see the same bytes"
node db -H "If-None-Match: $ETAG" "$NODE_URL/node/config"; is "$STATUS" 304 "If-None-Match"
# long-poll: no change -> 304 after the wait; a change -> at once
t0=$(date +%s%N)
node db -H "If-None-Match: $ETAG" "$NODE_URL/node/config?wait=1"; is "$STATUS" 304 "idle long-poll"
ms=$((($(date +%s%N) - t0) / 1000000))
((ms >= 900 && ms < 3000)) && ok || bad "idle long-poll took $ms ms, want about 1000"
node db -H "If-None-Match: $ETAG" "$NODE_URL/node/config?wait=20" &
POLL=$!
sleep 0.5
t0=$(date +%s%N)
expect 200 PUT "$P/db-1" "{\"public_key\":\"$WG_DB\",\"publicly_reachable\":true,\"endpoint\":\"192.0.2.9:51820\"}"
wait "$POLL"
ms=$((($(date +%s%N) - t0) / 1000000))
is "$STATUS" 200 "long-poll woken by a change"
((ms < 1000)) && ok || bad "long-poll answered $ms ms after the write, want < 1000"
[[ $(header etag) != "$ETAG" ]] && ok || bad "ETag did not change"

# --- refusals -------------------------------------------------------------------
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TMP/ca.pem" "$NODE_URL/node/config")
is "$code" 401 "no client certificate"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/node/config")
is "$code" 404 "plain HTTP node call"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$TMP/evil.key" \
  -out "$TMP/evil.crt" -subj /CN=nanami-peer-1 -days 1 2>/dev/null
node evil "$NODE_URL/node/config"; is "$STATUS" 401 "self-signed certificate"
# a second node, and re-enrolling the first revokes its old certificate
node_key web; csr web
enroll web "$(token_for web-1)" "$(wg genkey | wg pubkey)"; is "$STATUS" 201 "enroll web-1"
jq -r .certificate <<<"$BODY" >"$TMP/web.crt"
node web "$NODE_URL/node/config"; is "$(jq -r .self.name <<<"$BODY")" web-1 "web-1 reads its own"
# a node certificate is no operator credential: the node listener serves
# node routes only
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TMP/ca.pem" --cert "$TMP/web.crt" \
  --key "$TMP/web.key" "$NODE_URL/workspaces/acme/networks/corp/peers/db-1/envelope")
is "$code" 404 "node certificate on an operator route"
cp "$TMP/db.crt" "$TMP/db-old.crt"; cp "$TMP/db.key" "$TMP/db-old.key"
node_key db; csr db
enroll db "$(token_for db-1)" "$WG_DB"; is "$STATUS" 201 "re-enroll db-1"
jq -r .certificate <<<"$BODY" >"$TMP/db.crt"
node db-old "$NODE_URL/node/config"; is "$STATUS" 401 "old certificate revoked"
node db "$NODE_URL/node/config"; is "$STATUS" 200 "new certificate"

# --- observed state -------------------------------------------------------------
report=$(jq -n --arg k "$WG_DB" '{applied_etag: "\"x\"", interface: "nn0", listen_port: 51820,
  drift_repairs: 2, errors: [], frr: {state: "applied", reloads: 3},
  ovn: {state: "failed", applies: 4},
  peers: [{public_key: $k, endpoint: "192.0.2.1:51820",
  last_handshake: 1700000000, rx_bytes: 10, tx_bytes: 20}]}')
node db -X POST --data-binary "$report" "$NODE_URL/node/status"; is "$STATUS" 200 "status report"
node db -X POST --data-binary '{"peers":[{"public_key":"x"}]}' "$NODE_URL/node/status"
is "$STATUS" 422 "bad report"; is "$(jq -r .error.field <<<"$BODY")" "peers[0]" "bad report field"
node db -X POST --data-binary '{"colour":"red"}' "$NODE_URL/node/status"; is "$STATUS" 422 "unknown key"
node db -X POST --data-binary '{"drift_repairs":-1}' "$NODE_URL/node/status"; is "$STATUS" 422 "negative"
node db -X POST --data-binary 'not json' "$NODE_URL/node/status"; is "$STATUS" 400 "not JSON"
for frr in '"applied"' '{"state":"up","reloads":1}' '{"state":"failed","reloads":-1}' \
           '{"state":"failed"}' '{"state":"failed","reloads":1,"x":1}'; do
  node db -X POST --data-binary "{\"frr\":$frr}" "$NODE_URL/node/status"
  is "$STATUS/$(jq -r .error.field <<<"$BODY")" 422/frr "frr $frr refused"
done
# ovn counts applies, not reloads
for ovn in '{"state":"applied","reloads":1}' '{"state":"gone","applies":1}' '[]'; do
  node db -X POST --data-binary "{\"ovn\":$ovn}" "$NODE_URL/node/status"
  is "$STATUS/$(jq -r .error.field <<<"$BODY")" 422/ovn "ovn $ovn refused"
done
expect 200 GET /workspaces/acme/networks/corp/observed
field_is '[.[] | select(.peer == "db-1")][0].observed.drift_repairs' 2
field_is '[.[] | select(.peer == "db-1")][0].observed.frr.reloads' 3
field_is '[.[] | select(.peer == "db-1")][0].observed.ovn.applies' 4
field_is '[.[] | select(.peer == "db-1")][0].enrolled' true
field_is '[.[] | select(.peer == "hub-1")][0].observed' null
field_is '[.[] | select(.peer == "hub-1")][0].enrolled' false
# observed state is workspace-scoped: an outsider sees nothing
expect 201 POST /users '{"name":"outsider"}'
expect 201 POST /users/outsider/tokens '{"name":"t"}'
OUT=$(jq -r .token <<<"$BODY")
TOK=$OUT expect 404 GET /workspaces/acme/networks/corp/observed

# --- a host is one node: one token, one certificate, one document -------------
# The upgrade of a node enrolled per peer is one command: enroll the host.
# db-1's old certificate (per peer) ends, the host's reads its document.
cp "$TMP/db.crt" "$TMP/db-peer.crt"; cp "$TMP/db.key" "$TMP/db-peer.key"
T_STRAY=$(token_for db-1)   # a per-peer token left unspent
expect 201 POST /workspaces/acme/nodes/db-1/enrollment-tokens '{"ttl_seconds": 600}'
field_is .host hosts/db-1
T_HOST=$(jq -r .token <<<"$BODY")
expect 200 GET /workspaces/acme/hosts/db-1   # the implied host got its row
expect 404 POST /workspaces/acme/nodes/nobody/enrollment-tokens '{}'
WG_DBH=$(wg genkey | wg pubkey)
node_key dbh; csr dbh
enroll dbh "$T_HOST" "$WG_DBH"; is "$STATUS" 201 "host enrollment"
is "$(jq -r '.host.name + " " + (.peer // "none" | tostring)' <<<"$BODY")" "db-1 none" "enrolled as a host"
jq -r .certificate <<<"$BODY" >"$TMP/dbh.crt"
node db-peer "$NODE_URL/node/config"; is "$STATUS" 401 "the per-peer certificate ends with the host's enrollment"
node_key stray; csr stray
enroll stray "$T_STRAY" "$WG_DBH"; is "$STATUS" 401 "an unspent per-peer token ends with the host's enrollment"
node dbh "$NODE_URL/node/config"; is "$STATUS" 200 "host certificate"
is "$(jq -c '[.name, (.interfaces | length), .interfaces[0].networks]' <<<"$BODY")" '["db-1",1,["corp"]]' "db-1's node document"
expect 200 GET /workspaces/acme/hosts/db-1; field_is .public_key "$WG_DBH"
expect 200 GET /workspaces/acme/networks/corp/peers/db-1; field_is 'has("public_key")' false

# A host in two networks: one document, one interface; revisions only grow,
# also when it leaves a network.
PH=$(wg genkey | wg pubkey) KA=$(wg genkey | wg pubkey) KB=$(wg genkey | wg pubkey)
expect 201 POST /workspaces '{"name": "multi"}'
expect 200 PUT /workspaces/multi/intent "$(jq -n --arg ph "$PH" --arg ka "$KA" --arg kb "$KB" '
  def net(n; c; s; k): {name: n, ipv4_cidr: c, peers: [
    {name: "gw", publicly_reachable: true, endpoint: "198.51.100.7:51820"}, {name: s, public_key: k}]};
  {workspaces: [{name: "multi", hosts: [{name: "gw", public_key: $ph}],
    networks: [net("a"; "10.61.1.0/24"; "sa"; $ka), net("b"; "10.61.2.0/24"; "sb"; $kb)]}]}')"
expect 201 POST /workspaces/multi/nodes/gw/enrollment-tokens '{}'
WG_GW=$(wg genkey | wg pubkey)
node_key gw; csr gw
enroll gw "$(jq -r .token <<<"$BODY")" "$WG_GW"; is "$STATUS" 201 "gw enrolls once"
jq -r .certificate <<<"$BODY" >"$TMP/gw.crt"
node gw "$NODE_URL/node/config"; is "$STATUS" 200 "gw's document"
cp "$TMP/resp" "$TMP/gw.doc"
is "$(jq -c '[(.interfaces | length), .interfaces[0].networks, .interfaces[0].listen_port, ([.interfaces[0].peers[].name] | sort)]' "$TMP/gw.doc")" \
  '[1,["a","b"],51820,["sa","sb"]]' "one interface for both networks"
REV1=$(header x-nanami-signature | cut -d. -f1) ETAG1=$(header etag)
expect 200 GET /workspaces/multi/nodes/gw/document
[[ $BODY == "$(cat "$TMP/gw.doc")" ]] && ok || bad "the operator's view differs from what the node gets"
node gw -H "If-None-Match: $ETAG1" "$NODE_URL/node/config"; is "$STATUS" 304 "unchanged document"
expect 200 DELETE /workspaces/multi/networks/b/peers/gw
node gw "$NODE_URL/node/config"; is "$STATUS" 200 "gw's document after leaving b"
REV2=$(header x-nanami-signature | cut -d. -f1)
is "$(jq -c .interfaces[0].networks <<<"$BODY")" '["a"]' "gw left b"
((REV2 > REV1)) && ok || bad "revision after leaving a network: $REV1 -> $REV2 (a node would refuse it as a rollback)"
# A host whose last network is deleted: its (now empty) document is still
# signed above the last one -- at the workspace's floor, which the delete
# raised to the clock (not merely the last revision + 1 kept in memory).
sleep 1
expect 200 DELETE /workspaces/multi/networks/a
node gw "$NODE_URL/node/config"; is "$STATUS" 200 "gw's document without networks"
REV3=$(header x-nanami-signature | cut -d. -f1)
is "$(jq -c .interfaces <<<"$BODY")" '[]' "gw has no interface left"
((REV3 >= REV2 + 500)) && ok || bad "revision after the last network went: $REV2 -> $REV3 (want the floor, >= +500 ms)"
node gw -X POST --data-binary "$report" "$NODE_URL/node/status"; is "$STATUS" 200 "host status report"
is "$(jq -c . <<<"$BODY")" '{"host":"gw","workspace":"multi"}' "the report is the host's"
expect 200 GET /workspaces/multi/hosts/gw
field_is .public_key "$WG_GW"

echo "node api: $passes passed, $fails failed"
((fails == 0))
