#!/usr/bin/env bash
# The CLI contract for bad input: exit status 2 and exactly one stderr line
# "error: PATH: problem", whatever the input; never a crash.
set -euo pipefail
CTL=${1:?usage: errors.sh NANAMICTL}
HERE=$(cd "$(dirname "$0")" && pwd)
EXAMPLE="$HERE/../../examples/acme.json"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0 passes=0

# expect_error NAME EXPECTED_STDERR_PREFIX -- ARGS... (document on stdin)
expect_error() {
  local name=$1 want=$2; shift 3
  local rc=0
  "$CTL" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
  local lines; lines=$(wc -l <"$TMP/err")
  if [[ $rc -ne 2 || $lines -ne 1 || "$(head -c ${#want} "$TMP/err")" != "$want" || -s "$TMP/out" ]]; then
    echo "FAIL $name: rc=$rc lines=$lines stderr=$(cat "$TMP/err") (wanted prefix: $want)"
    fails=$((fails + 1))
  else
    passes=$((passes + 1))
  fi
}

mutate() { # mutate JQ_FILTER -> writes $TMP/doc.json from the example
  jq "$1" "$EXAMPLE" >"$TMP/doc.json"
}

mutate '.workspaces[0].networks[0].peers[1].endpoint = "10.0.0.1:99999"'
expect_error "bad endpoint" 'error: workspaces[0].networks[0].peers[1].endpoint: "10.0.0.1:99999" must be HOST:PORT' -- compile -f "$TMP/doc.json"
mutate '.workspaces[0].networks[0].ipv4_cidr = "10.20.0.0/99"'
expect_error "bad cidr" 'error: workspaces[0].networks[0].ipv4_cidr: "10.20.0.0/99" has a bad prefix length' -- compile -f "$TMP/doc.json"
mutate '.workspaces[0].networks[0].peers[2].public_key = "not-a-key"'
expect_error "bad key" 'error: workspaces[0].networks[0].peers[2].public_key: is not a base64 WireGuard key' -- compile -f "$TMP/doc.json"
mutate '.workspaces[0].networks[0].peers[3].name = "hub-1"'
expect_error "duplicate name" 'error: workspaces[0].networks[0].peers[3].name: duplicate name "hub-1" (also peers[0])' -- compile -f "$TMP/doc.json"
mutate '.workspaces[0].networks[0].firewall_rules[1].destination.peer = "db-9"'
expect_error "unknown reference" 'error: workspaces[0].networks[0].firewall_rules[1].destination.peer: no peer or device named "db-9"' -- compile -f "$TMP/doc.json"
mutate '.workspaces[0].networks[0].port_mappings[0].external_port = 0'
expect_error "port range" 'error: workspaces[0].networks[0].port_mappings[0].external_port: 0 is out of range (1-65535)' -- compile -f "$TMP/doc.json"
mutate '.workspaces[0].networks[0].firewall_rules[1].ports = [22, 70000]'
expect_error "rule port range" 'error: workspaces[0].networks[0].firewall_rules[1].ports[1]: 70000 is not a port' -- compile -f "$TMP/doc.json"
mutate '.workspaces[0].networks[0].peerz = []'
expect_error "unknown field" 'error: workspaces[0].networks[0].peerz: unknown field' -- compile -f "$TMP/doc.json"

printf '{"workspaces": [' >"$TMP/trunc.json"
expect_error "truncated JSON" 'error: line 1, column 16: invalid JSON' -- compile -f "$TMP/trunc.json"
: >"$TMP/empty.json"
expect_error "empty file" 'error: line 1, column 0: invalid JSON' -- compile -f "$TMP/empty.json"
expect_error "missing file" "error: $TMP/nope.json: No such file or directory" -- compile -f "$TMP/nope.json"
expect_error "no file flag" 'error: compile: -f INTENT.json is required' -- compile
expect_error "unknown peer" 'error: --peer: no peer named "nobody" in that network' -- compile -f "$EXAMPLE" --peer acme/corp/nobody
expect_error "bad target" 'error: --network: "acme" is not WORKSPACE/NETWORK' -- compile -f "$EXAMPLE" --network acme
expect_error "bad format" 'error: --format: "json" is not supported' -- compile -f "$EXAMPLE" --device acme/corp/alice-laptop --format json
expect_error "unknown command" 'error: nanamictl: unknown command "frobnicate"' -- frobnicate
expect_error "stdin garbage" 'error: line 1' -- compile -f - <<<'}{'

# Random bytes: always exit 2 with one error line, never a crash or a 0.
for i in $(seq 1 200); do
  head -c $((RANDOM % 2048 + 1)) /dev/urandom >"$TMP/rand.bin"
  expect_error "random bytes #$i" 'error: ' -- compile -f "$TMP/rand.bin"
done

# And the good path still works: valid JSON on stdout, nothing on stderr.
"$CTL" compile -f "$EXAMPLE" --network acme/corp >"$TMP/net.json" 2>"$TMP/err"
if jq -e '.peers | keys == ["db-1","hub-1","ops-1","web-1"]' "$TMP/net.json" >/dev/null && [[ ! -s "$TMP/err" ]]; then
  passes=$((passes + 1))
else
  echo "FAIL good path"; fails=$((fails + 1))
fi

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
