#!/usr/bin/env bash
# nanamid against hostile clients, over real sockets on loopback: floods of
# idle and slowloris connections from one address, TLS connections that
# never handshake, a distributed flood past the total limit, ambiguous
# framing, bodies larger than a route takes (refused before they are
# read), encoded path tricks, and requests in flight per client behind a
# trusted proxy. Every refusal is checked, and so is that other clients are
# still served while it happens.
set -euo pipefail
NANAMID=${1:?usage: hostile.sh NANAMID}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
require_tools curl jq nc ss openssl timeout ip
TMP=$(mktemp -d)
FDS=() FLOOD=()
NS=nn-hostile-$$
V6PID=
cleanup() {
  local fd
  for fd in "${FDS[@]}"; do { exec {fd}>&-; } 2>/dev/null || true; done
  ((${#FLOOD[@]} == 0)) || kill "${FLOOD[@]}" 2>/dev/null || true
  [[ -z $V6PID ]] || kill "$V6PID" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  stop_nanamid
  [[ ${KEEP:-} ]] && echo "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
ulimit -n 4096
# writes to connections nanamid has closed must fail, not kill the script
trap "" PIPE
TOK=$("$NANAMID" init --db "$TMP/db.sqlite" 2>/dev/null)
# Small limits so the test is quick: 20 connections per address, 60 in
# all, 2 s for a request head, 2 requests in flight per client.
NANAMID_ARGS=(--max-conns-per-ip 20 --node-max-conns-per-ip 20 --max-conns 60 --head-timeout 2
  --request-timeout 3 --max-requests-per-client 2 --trusted-proxy 127.0.0.5/32)
NODE_LISTEN=1 start_nanamid
HOSTPORT=127.0.0.1:$PORT
api "$TOK" POST /workspaces '{"name":"acme"}' >/dev/null

# opens a raw connection to port $1 from 127.0.0.1, kept in FDS
open_conn() { { exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null && FDS+=("$fd"); }
# established connections to a port, from one source address (or any)
conns() { ss -Htn state established "( sport = :$1 )" | awk -v s="${2:-}" 's == "" || index($4, s ":") == 1' | wc -l; }
# a request from another address answers within a second
served() { # served URL [curl args] -> the status
  curl -s -o /dev/null -w '%{http_code}' --max-time 1 --interface 127.0.0.2 "$@" || echo timeout
}
raw() { # raw REQUEST_TEXT -> the status line nanamid sends, then whether it closed
  printf '%b' "$1" | timeout 3 nc -q 1 127.0.0.1 "$PORT" >"$TMP/raw" 2>/dev/null || true
  head -1 "$TMP/raw" | tr -d '\r'
}

# --- framing: smuggling shapes are refused and the connection closed ------------
H="Host: x\r\nAuthorization: Bearer $TOK\r\n"
[[ $(raw "PUT /api/v1/workspaces/acme HTTP/1.1\r\n${H}Content-Length: 2\r\nContent-Length: 20\r\n\r\n{}") == *" 400 "* ]] &&
  grep -q bad_framing "$TMP/raw" && ok || bad "two Content-Length headers: $(cat "$TMP/raw")"
[[ $(raw "PUT /api/v1/workspaces/acme HTTP/1.1\r\n${H}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n") == *" 400 "* ]] &&
  ok || bad "Content-Length beside chunked: $(cat "$TMP/raw")"
[[ $(raw "PUT /api/v1/workspaces/acme HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n") == *" 400 "* ]] &&
  ok || bad "Transfer-Encoding gzip: $(cat "$TMP/raw")"
grep -qi '^connection: close' "$TMP/raw" && ok || bad "a framing refusal keeps the connection"
# A declared body over the route's limit, or from somebody who may not
# write, is refused at once: the client never sends it.
[[ $(raw "PUT /api/v1/workspaces/acme/intent HTTP/1.1\r\n${H}Content-Length: 999999999\r\n\r\n") == *" 413 "* ]] &&
  ok || bad "a 1 GB intent was not refused before its body: $(cat "$TMP/raw")"
[[ $(raw "PUT /api/v1/workspaces/acme/intent HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n") == *" 401 "* ]] &&
  ok || bad "an unauthenticated body was not refused before it was read: $(cat "$TMP/raw")"
[[ $(raw "POST /api/v1/users HTTP/1.1\r\n${H}Content-Length: 70000\r\n\r\n") == *" 413 "* ]] &&
  ok || bad "a 70 KB user was not refused (4 KiB route): $(cat "$TMP/raw")"
# a chunked body that grows past the limit ends the connection, unanswered
{ printf 'POST /api/v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n' "$TOK"
  for _ in $(seq 1 10); do printf '400\r\n%s\r\n' "$(head -c 1024 /dev/zero | tr '\0' a)"; done
  printf '0\r\n\r\n'; } | timeout 3 nc -q 1 127.0.0.1 "$PORT" >"$TMP/raw" 2>/dev/null || true
grep -q ' 201 ' "$TMP/raw" && bad "a 10 KB chunked user was accepted" || ok
# every error carries the JSON error body
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -X PATCH -H "Authorization: Bearer $TOK" "$URL/workspaces/acme")
[[ $code == 405 && $(jq -r .error.code "$TMP/body") == method_not_allowed ]] && ok || bad "405 without its JSON body"
code=$(curl -s -o /dev/null -w '%{http_code}' -I -H "Authorization: Bearer $TOK" "$URL/workspaces/acme")
[[ $code == 200 ]] && ok || bad "HEAD answered $code"

# --- encoded tricks in the path ---------------------------------------------------
for p in 'workspaces/acme%00/networks' 'workspaces/acme%2Fnetworks' 'workspaces/acme/%zz'; do
  code=$(curl -s --path-as-is -o "$TMP/body" -w '%{http_code}' -X DELETE -H "Authorization: Bearer $TOK" "$URL/$p")
  [[ $code == 400 && $(jq -r .error.code "$TMP/body") == bad_path ]] && ok || bad "$p answered $code"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK" "$URL/workspaces/acme")
[[ $code == 200 ]] && ok || bad "the workspace did not survive the tricks ($code)"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -X DELETE -H "Authorization: Bearer $TOK" "$URL/workspaces/acme?dry_run=yes")
[[ $code == 400 ]] && ok || bad "dry_run=yes answered $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK" "$URL/workspaces/acme")
[[ $code == 200 ]] && ok || bad "dry_run=yes deleted the workspace"

# --- a flood of idle and slowloris connections from one address -------------------
for _ in $(seq 1 200); do open_conn "$PORT" || true; done
sleep 0.3
held=$(conns "$PORT" 127.0.0.1)
((held <= 20 + 2)) && ok || bad "one address holds $held connections (limit 20)"
# slowloris: half a request head, then a byte a second on what is left
for fd in "${FDS[@]}"; do printf 'GET /api/v1/health HTTP/1.1\r\nHost: x\r\n' >&"$fd" 2>/dev/null || true; done
t0=$(date +%s%N)
[[ $(served "$URL/health") == 200 ]] && ok || bad "another address was not served during the flood"
ms=$((($(date +%s%N) - t0) / 1000000))
((ms < 1000)) && ok || bad "another address waited $ms ms"
for _ in 1 2 3; do
  for fd in "${FDS[@]}"; do printf 'X' >&"$fd" 2>/dev/null || true; done
  sleep 1
done
# the head deadline (2 s) ends them, though every one kept talking
left=$(conns "$PORT" 127.0.0.1)
((left == 0)) && ok || bad "$left slowloris connections outlived the head deadline"
for fd in "${FDS[@]}"; do { exec {fd}>&-; } 2>/dev/null || true; done
FDS=()
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")
[[ $code == 200 ]] && ok || bad "the flooding address is not served again afterwards ($code)"

# --- the total limit: a distributed flood gets a clean 503 --------------------------
for src in 127.0.0.3 127.0.0.4 127.0.0.6; do
  for _ in $(seq 1 20); do
    sleep 6 | nc -s "$src" 127.0.0.1 "$PORT" >/dev/null 2>&1 &
    FLOOD+=($!)
  done
done
sleep 0.5
code=$(curl -s -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' --max-time 2 --interface 127.0.0.2 "$URL/health" || true)
[[ $code == 503 && $(jq -r .error.code "$TMP/body") == busy ]] && ok || bad "past the total limit: $code $(cat "$TMP/body" 2>/dev/null)"
grep -qi '^retry-after:' "$TMP/hdr" && ok || bad "the 503 has no Retry-After"
sleep 3.5 # the head deadline empties the server
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --interface 127.0.0.2 "$URL/health" || true)
[[ $code == 200 ]] && ok || bad "after the flood's deadline: $code"
kill "${FLOOD[@]}" 2>/dev/null || true
FLOOD=()

# --- the node listener: TLS connections that never handshake ---------------------
NPORT=$((PORT + 1))
for _ in $(seq 1 100); do open_conn "$NPORT" || true; done
sleep 0.3
held=$(conns "$NPORT" 127.0.0.1)
((held <= 22)) && ok || bad "one address holds $held node-listener connections"
code=$(curl -sSk -o /dev/null -w "%{http_code}" --max-time 2 --interface 127.0.0.2 "$NODE_URL/node/config" 2>"$TMP/curl.err" || echo " $(cat "$TMP/curl.err")")
[[ $code == 401 ]] && ok || bad "a node client from another address: $code"
sleep 3
left=$(conns "$NPORT" 127.0.0.1)
((left == 0)) && ok || bad "$left never-handshaking TLS connections outlived the deadline"
for fd in "${FDS[@]}"; do { exec {fd}>&-; } 2>/dev/null || true; done
FDS=()

# --- requests in flight per client, behind a trusted proxy ----------------------
# A request whose body is still coming is in flight. Two from 203.0.113.9
# (through the trusted proxy 127.0.0.5) are all it may have; the same
# header from an untrusted peer names nobody but that peer.
slow() { # slow SRC XFF: a request head and half its body, held open
  { printf 'PUT /api/v1/workspaces/acme HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nX-Forwarded-For: %s\r\nContent-Length: 4\r\n\r\n{' "$TOK" "$2"
    sleep 2.5; } | nc -s "$1" 127.0.0.1 "$PORT" >/dev/null 2>&1 &
  FLOOD+=($!)
}
slow 127.0.0.5 203.0.113.9
slow 127.0.0.5 203.0.113.9
sleep 0.5
xff() { curl -s -o "$TMP/body" -w '%{http_code}' --interface "$1" -H "X-Forwarded-For: $2" "$URL/health"; }
code=$(xff 127.0.0.5 203.0.113.9)
[[ $code == 429 ]] && ok || bad "a third request of 203.0.113.9 through the proxy: $code"
code=$(xff 127.0.0.5 203.0.113.10)
[[ $code == 200 ]] && ok || bad "another client through the proxy: $code"
code=$(xff 127.0.0.2 203.0.113.9)
[[ $code == 200 ]] && ok || bad "an untrusted peer's X-Forwarded-For was believed: $code"
wait "${FLOOD[@]}" 2>/dev/null || true
FLOOD=()
code=$(xff 127.0.0.5 203.0.113.9)
[[ $code == 200 ]] && ok || bad "203.0.113.9 is not served once its requests ended: $code"

# --- IPv6: a /64 is one client -----------------------------------------------------
# A host is commonly given a whole /64; counted by address it could open
# 2^64 times the limit. In a namespace of our own: three connections from
# two addresses of fd00:1::/64 use its limit of three; a fourth from that
# /64 is closed at accept, one from fd00:2::/64 is served.
ip netns add "$NS"
ip -n "$NS" link set lo up
for a in fd00:1::1 fd00:1::2 fd00:1::3 fd00:2::1; do ip -n "$NS" addr add "$a/64" dev lo nodad; done
"$NANAMID" init --db "$TMP/v6.sqlite" >/dev/null 2>&1
ip netns exec "$NS" "$NANAMID" serve --db "$TMP/v6.sqlite" --listen "[fd00:1::1]:8080" \
  --max-conns-per-ip 3 >"$TMP/v6.log" 2>&1 &
V6PID=$!
for _ in $(seq 1 50); do grep -q '^nanamid: serving' "$TMP/v6.log" && break; sleep 0.1; done
v6() { ip netns exec "$NS" curl -s -o /dev/null -w '%{http_code}' --max-time 2 --interface "$1" "http://[fd00:1::1]:8080/api/v1/health" || true; }
code=$(v6 fd00:1::3)
[[ $code == 200 ]] && ok || bad "fd00:1::3 before the limit: $code ($(cat "$TMP/v6.log"))"
for a in fd00:1::2 fd00:1::2 fd00:1::3; do
  sleep 5 | ip netns exec "$NS" nc -s "$a" fd00:1::1 8080 >/dev/null 2>&1 &
  FLOOD+=($!)
done
sleep 0.5
held=$(ip netns exec "$NS" ss -Htn state established "( sport = :8080 )" | wc -l)
((held == 3)) && ok || bad "the /64 holds $held connections, not 3"
code=$(v6 fd00:1::3)
[[ $code == 000 ]] && ok || bad "a fourth connection from fd00:1::/64 was served: $code"
code=$(v6 fd00:2::1)
[[ $code == 200 ]] && ok || bad "another /64 is not served: $code"
kill "${FLOOD[@]}" 2>/dev/null || true
FLOOD=()

echo "hostile clients: $passes passed, $fails failed"
((fails == 0))
