#!/usr/bin/env bash
# The node runtime end to end: nanamid in its own namespace, a hub and
# spokes in theirs, each node running gateway-daemon (root) and
# gateway-manager (as nobody) -- enrollment with one-time tokens, mutual
# TLS, long-poll delivery of signed node documents (one per host), observed state back.
# Proves with real packets and real device state:
#   enrollment: keys made on the node, the server learns only public keys,
#     the manager runs unprivileged and never holds the WireGuard key
#   spoke -> spoke through the hub
#   a peer added through the API is applied on the hub within 2 s
#   a hand-deleted peer is put back by the daemon, and reported
#   forged, tampered, replayed (older) and malformed messages to the
#   daemon are refused
#   a node's certificate reads its own node document and nothing else
#   nanamid stopped for OUTAGE seconds (default 30): tunnels keep passing
#     traffic; restarted: the nodes converge on a change made after
set -euo pipefail
OUTAGE=${OUTAGE:-30}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/runtime.sh"
runtime_args "$@"
require_root wireguard-go wg ip nft jq ping curl setpriv nc
runtime_begin
runtime_nodes nnn hub s1 s2 s3

# --- the server -----------------------------------------------------------------
runtime_init
start_server || { bad "nanamid did not start: $(cat "$TMP/nanamid.log")"; exit 1; }

# The operator declares the network; the spokes' keys are placeholders
# until each node enrolls with its own.
placeholder() { wg genkey | wg pubkey; }
jq -n --arg h "$(placeholder)" --arg a "$(placeholder)" --arg b "$(placeholder)" '
  {workspaces: [{name: "e2e", networks: [{name: "corp", ipv4_cidr: "10.97.0.0/24",
    firewall_default_policy: "drop",
    peers: [{name: "hub", public_key: $h, publicly_reachable: true, endpoint: "192.0.2.10:51820"},
            {name: "s1", public_key: $a}, {name: "s2", public_key: $b}],
    firewall_rules: [{name: "icmp", position: 1, action: "accept", protocol: "icmp",
                      source: {all: true}, destination: {all: true}}]}]}]}' >"$TMP/intent.json"
ctl apply -f "$TMP/intent.json" >/dev/null
"$NANAMID" ca --db "$TMP/db.sqlite" >"$TMP/ca.pem"
chmod 644 "$TMP/ca.pem"

# --- the nodes ------------------------------------------------------------------
for p in hub s1 s2; do
  "$GD" keygen --state-dir "$TMP/$p/daemon" >"$TMP/$p.pub"
  start_daemon "$p" || bad "daemon $p did not start: $(cat "$TMP/$p/daemon.log")"
  enroll_and_run "$p" e2e || bad "enroll $p: $(cat "$TMP/$p/enroll.out")"
done
grep -q "enrolled as host e2e/hub" "$TMP/hub/enroll.out" && ok "hub enrolled" || bad "hub enroll: $(cat "$TMP/hub/enroll.out")"
[[ $(stat -c '%U %a' "$TMP/hub/manager/tls.key") == "nobody 600" ]] \
  && ok "the manager's TLS key is nobody's, mode 0600" || bad "tls.key: $(stat -c '%U %a' "$TMP/hub/manager/tls.key")"
! grep -rqs "$(head -c 20 "$TMP/hub/daemon/wg.key")" "$TMP/hub/manager" \
  && [[ ! -e $TMP/hub/manager/wg.key ]] && ok "the manager holds no WireGuard private key" || bad "WireGuard key found in the manager's state"
[[ $(stat -c '%G %a' "$TMP/hub/d.sock") == "nogroup 660" ]] \
  && ok "daemon socket is root:nogroup 0660" || bad "socket: $(stat -c '%G %a' "$TMP/hub/d.sock")"
for p in hub s1 s2; do
  [[ $(api GET "/workspaces/e2e/hosts/$p" | jq -r .public_key) == "$(cat "$TMP/$p.pub")" ]] \
    || bad "$p: the server does not have the node's own public key"
done
ok "the server has each node's own public key (enrollment replaced the placeholders)"
[[ -s $TMP/hub/daemon/server.pub ]] && ok "the daemon pinned the server's signing key" || bad "no server.pub"

# --- traffic ---------------------------------------------------------------------
ov4() { api GET /workspaces/e2e/networks/corp/peers/$1/envelope | jq -r '.interface.addresses[0]' | cut -d/ -f1; }
peers_of() { ip netns exec "${NS[$1]}" wg show "${IFACE[$1]}" peers 2>/dev/null; }
has_peer() { peers_of "$1" | grep -qx "$2"; }
check "hub applied both spokes" until_true 15 bash -c "[[ \$(ip netns exec ${NS[hub]} wg show ${IFACE[hub]} peers | wc -l) == 2 ]]"
S2=$(ov4 s2)
check "s1 -> s2 through the hub" ping_until "${NS[s1]}" "$S2"
# What the hub has now, validly signed: replayed later, once it is old.
cp "$TMP/hub/daemon/applied.json" "$TMP/old.json"
cp "$TMP/hub/daemon/applied.sig" "$TMP/old.sig"

# --- observed state ----------------------------------------------------------------
HUB_ETAG=$(ip netns exec "$SRV" curl -s -D - -o /dev/null -H "Authorization: Bearer $ADMIN" \
  "$API/workspaces/e2e/nodes/hub/document" | grep -i '^etag:' | cut -d' ' -f2 | tr -d '\r')
observed() { api GET /workspaces/e2e/networks/corp/observed | jq -r --arg p "$1" ".[] | select(.peer == \$p) | $2"; }
check "hub reports the node document it applied" until_true 10 bash -c \
  "[[ \$(ip netns exec $SRV curl -s -H 'Authorization: Bearer $ADMIN' $API/workspaces/e2e/networks/corp/observed | jq -r '.[] | select(.peer == \"hub\") | .observed.applied_etag') == '$HUB_ETAG' ]]"
hs_reported() { [[ $(observed hub '[.observed.peers[] | select(.last_handshake > 0)] | length') == 2 ]]; }
check "hub reports a handshake with each spoke" until_true 10 hs_reported

# --- a peer added through the API reaches the hub within 2 s ---------------------------
"$GD" keygen --state-dir "$TMP/s3/daemon" >"$TMP/s3.pub"
S3=$(cat "$TMP/s3.pub")
t0=$(date +%s%N)
api PUT /workspaces/e2e/networks/corp/peers/s3 "{\"public_key\":\"$S3\"}" >/dev/null
until_true 5 has_peer hub "$S3"
ms=$((($(date +%s%N) - t0) / 1000000))
((ms < 2000)) && ok "a peer added through the API was applied on the hub in $ms ms" || bad "new peer took $ms ms on the hub"
start_daemon s3 && enroll_and_run s3 e2e || bad "s3 did not enroll: $(cat "$TMP/s3/enroll.out")"
check "s3 -> s1 after enrolling" ping_until "${NS[s3]}" "$(ov4 s1)"

# --- drift ----------------------------------------------------------------------------
S1=$(cat "$TMP/s1.pub")
ip netns exec "${NS[hub]}" wg set "${IFACE[hub]}" peer "$S1" remove
check "a hand-deleted peer is put back by the daemon" until_true 6 has_peer hub "$S1"
check "the repair is reported" until_true 10 bash -c \
  "(( \$(ip netns exec $SRV curl -s -H 'Authorization: Bearer $ADMIN' $API/workspaces/e2e/networks/corp/observed | jq -r '.[] | select(.peer == \"hub\") | .observed.drift_repairs') >= 1 ))"
check "s1 -> s2 again after the repair" ping_until "${NS[s1]}" "$S2"

# --- the daemon refuses what it cannot verify -------------------------------------------
# frame TYPE FILE -> a protocol frame on stdout
frame() {
  local n; n=$(stat -c %s "$2")
  printf 'NN\x01%s' "$1"
  printf "\\x$(printf %02x $((n >> 24 & 255)))\\x$(printf %02x $((n >> 16 & 255)))\\x$(printf %02x $((n >> 8 & 255)))\\x$(printf %02x $((n & 255)))"
  cat "$2"
}
to_daemon() { nc -U -w 5 "$TMP/hub/d.sock" <"$1" >"$TMP/reply" 2>/dev/null || true; tail -c +9 "$TMP/reply"; }
cp "$TMP/hub/daemon/applied.json" "$TMP/env.json"
sed -i 's/"mtu":1420/"mtu":1280/' "$TMP/env.json"
# payload TOKENFILE ENVELOPE: an APPLY payload (the token line, the bytes)
payload() { { head -n 1 "$1" | tr -d '\n'; printf '\n'; cat "$2"; } >"$TMP/payload"; }
payload "$TMP/hub/daemon/applied.sig" "$TMP/env.json"
frame a "$TMP/payload" >"$TMP/frame"
reply=$(to_daemon "$TMP/frame")
[[ $(jq -r .refused <<<"$reply") == true && $(head -c 4 "$TMP/reply" | tail -c 1) == E ]] \
  && ok "a tampered envelope is refused: $(jq -r .error <<<"$reply")" || bad "tampered envelope: $reply"
"$CTL" keygen --signing-key "$TMP/forger.key" >/dev/null
"$CTL" sign --signing-key "$TMP/forger.key" -f "$TMP/env.json" >"$TMP/forged.sig"
payload "$TMP/forged.sig" "$TMP/env.json"
frame a "$TMP/payload" >"$TMP/frame"
[[ $(to_daemon "$TMP/frame" | jq -r .refused) == true ]] && ok "a forged signature is refused" || bad "forged envelope accepted"
# Rollback: the hub's own earlier envelope, signed by the server, replayed
# after the network moved on (s3 was added since).
payload "$TMP/old.sig" "$TMP/old.json"
frame a "$TMP/payload" >"$TMP/frame"
reply=$(to_daemon "$TMP/frame")
[[ $(jq -r .refused <<<"$reply") == true && $(jq -r .error <<<"$reply") == *"rollback refused"* ]] \
  && ok "a replayed older envelope is refused: $(jq -r .error <<<"$reply")" || bad "rollback: $reply"
has_peer hub "$S3" && ok "the replay changed nothing (s3 is still on the hub)" || bad "replay removed s3"
printf 'XX\x01h\x00\x00\x00\x00' >"$TMP/frame"
[[ $(to_daemon "$TMP/frame" | jq -r .error) == "malformed frame" ]] && ok "a malformed frame is refused" || bad "bad magic not refused"
printf 'NN\x01p\x7f\x00\x00\x00' >"$TMP/frame"
[[ $(to_daemon "$TMP/frame" | jq -r .error) == "frame too large" ]] && ok "an oversized frame is refused before reading it" || bad "oversized frame"
printf 'c2VydmVyLWtleS1mcm9tLXNvbWVvbmUtZWxzZS0zMmI=' >"$TMP/otherkey"
frame p "$TMP/otherkey" >"$TMP/frame"
[[ $(to_daemon "$TMP/frame" | jq -r .refused) == true ]] && ok "a second, different server key is not pinned" || bad "pinned key replaced"
[[ $(ip netns exec "${NS[hub]}" ip -o link show "${IFACE[hub]}" | grep -o 'mtu [0-9]*') == "mtu 1420" ]] \
  && ok "nothing refused was applied (mtu still 1420)" || bad "mtu changed"
check "the daemon still serves after refusals" ping_until "${NS[s1]}" "$S2"

# --- certificates name one node ---------------------------------------------------------
m=$TMP/s1/manager
ncurl() { ip netns exec "${NS[s1]}" curl -s --cacert "$TMP/ca.pem" --cert "$m/tls.crt" --key "$m/tls.key" "$@"; }
[[ $(ncurl https://192.0.2.1:8443/api/v1/node/config | jq -r .name) == s1 ]] \
  && ok "s1's certificate reads s1's node document" || bad "s1 config"
code=$(ncurl -o /dev/null -w '%{http_code}' https://192.0.2.1:8443/api/v1/workspaces/e2e/networks/corp/peers/hub/envelope)
# the node listener has no operator routes: nothing there but /node/*
[[ $code == 404 ]] && ok "s1's certificate cannot read the hub's envelope ($code)" || bad "hub envelope with s1's cert: $code"

# --- nanamid away ------------------------------------------------------------------------
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
lost=0
for ((i = 0; i < OUTAGE; i += 5)); do
  ip netns exec "${NS[s1]}" ping -c 1 -W 2 "$S2" >/dev/null 2>&1 || lost=$((lost + 1))
  sleep 5
done
((lost == 0)) && ok "with nanamid stopped for ${OUTAGE} s, s1 -> s2 kept working" || bad "$lost pings lost while nanamid was down"
grep -q "backing off" "$TMP/s1/manager.log" && ok "the manager backed off" || bad "no backoff logged"
start_server || bad "nanamid did not restart"
api PUT /workspaces/e2e/networks/corp/peers/s4 "{\"public_key\":\"$(placeholder)\"}" >/dev/null
S4=$(api GET /workspaces/e2e/networks/corp/peers/s4 | jq -r .public_key)
check "after the restart the hub converges on a new change" until_true 25 has_peer hub "$S4"
check "s1 -> s2 after the restart" ping_until "${NS[s1]}" "$S2"

echo "node e2e: $passes passed, $fails failed"
((fails == 0))
