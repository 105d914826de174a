# Shared by the API tests: a real nanamid on a loopback port with a real
# database file in a temp dir. Needs TMP and NANAMID set.
source "$(dirname "${BASH_SOURCE[0]}")/../tools.sh"
# With NODE_LISTEN=1 it also serves the node listener (TLS) on NODE_URL;
# NANAMID_ARGS (an array) adds arguments to serve.
start_nanamid() { # start_nanamid -> sets PORT, URL, NANAMID_PID (and NODE_URL)
  local try extra=()
  [[ -n ${NANAMID_ARGS+x} ]] || NANAMID_ARGS=()
  for try in 1 2 3 4 5; do
    PORT=$((20000 + (RANDOM * 7 + $$ + try) % 40000))
    if [[ ${NODE_LISTEN:-0} == 1 ]]; then
      extra=(--node-listen "127.0.0.1:$((PORT + 1))")
      NODE_URL="https://127.0.0.1:$((PORT + 1))/api/v1"
    fi
    "$NANAMID" serve --db "$TMP/db.sqlite" --listen "127.0.0.1:$PORT" "${extra[@]}" \
      "${NANAMID_ARGS[@]}" >"$TMP/nanamid.log" 2>&1 &
    NANAMID_PID=$!
    URL="http://127.0.0.1:$PORT/api/v1"
    for _ in $(seq 1 50); do
      # ours, not another test's nanamid on the same port: it says it serves
      # only once every listener is bound
      grep -q '^nanamid: serving' "$TMP/nanamid.log" 2>/dev/null && kill -0 "$NANAMID_PID" 2>/dev/null &&
        curl -sf "$URL/health" >/dev/null 2>&1 && return 0
      kill -0 "$NANAMID_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill "$NANAMID_PID" 2>/dev/null || true
    wait "$NANAMID_PID" 2>/dev/null || true
  done
  echo "FAIL: nanamid did not start: $(cat "$TMP/nanamid.log")" >&2
  exit 1
}

stop_nanamid() {
  [[ -n ${NANAMID_PID:-} ]] || return 0
  kill "$NANAMID_PID" 2>/dev/null || true
  wait "$NANAMID_PID" 2>/dev/null || true
  NANAMID_PID=
}

# api TOKEN METHOD PATH [BODY] -> prints the status on the first line, then the body
api() {
  local token=$1 method=$2 path=$3 body=${4-}
  local args=(-s -o "$TMP/resp" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $token")
  [[ -n $body ]] && args+=(--data-binary "$body")
  local code; code=$(curl "${args[@]}" "$URL$path")
  echo "$code"
  cat "$TMP/resp"
}

# Checks: ok/bad count; expect STATUS METHOD PATH [BODY] (with $TOK) checks
# the status and leaves the body in $BODY; field_is JQ VALUE checks it.
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { fails=$((fails + 1)); echo "FAIL: $*"; }
expect() {
  local want=$1; shift
  local out; out=$(api "$TOK" "$@")
  STATUS=${out%%$'\n'*}; BODY=${out#*$'\n'}
  [[ $STATUS == "$want" ]] && ok || bad "$* -> $STATUS (want $want): ${BODY:0:300}"
}
field_is() {
  local got; got=$(jq -r "$1" <<<"$BODY" 2>/dev/null || echo "<not json>")
  [[ $got == "$2" ]] && ok || bad "$1 is '$got', want '$2' in ${BODY:0:300}"
}
