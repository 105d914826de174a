#!/usr/bin/env bash
# Membership credentials: compile with a signing key, verify every peer's
# credential with the public key; any single flipped byte fails; a wrong
# key fails; recompiling unchanged intent gives identical bytes; a missing
# or malformed key file is a clear exit-2 error.
set -euo pipefail
CTL=${1:?usage: credentials.sh NANAMICTL}
HERE=$(cd "$(dirname "$0")" && pwd)
EX="$HERE/../../examples/fabric.json"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

"$CTL" keygen --signing-key "$TMP/sign.key" >"$TMP/sign.pub"
[[ $(stat -c %a "$TMP/sign.key") == 600 ]] && ok || bad "signing key file is not mode 0600"
"$CTL" keygen --signing-key "$TMP/other.key" >"$TMP/other.pub"
if "$CTL" keygen --signing-key "$TMP/sign.key" >/dev/null 2>&1; then bad "keygen overwrote a key"; else ok; fi

"$CTL" compile -f "$EX" --signing-key "$TMP/sign.key" >"$TMP/a.json"
"$CTL" compile -f "$EX" --signing-key "$TMP/sign.key" >"$TMP/b.json"
cmp -s "$TMP/a.json" "$TMP/b.json" && ok || bad "signed compile is not byte-stable"

peers=$(jq -r '.workspaces[].networks | to_entries[] | .key as $n | .value.peers | keys[] | "\($n) \(.)"' "$TMP/a.json")
[[ $(wc -l <<<"$peers") -ge 6 ]] && ok || bad "expected at least 6 peers"
while read -r net peer; do
  jq -c --arg n "$net" --arg p "$peer" '.workspaces[].networks[$n].peers[$p].mc_envelope' "$TMP/a.json" >"$TMP/cred.json"
  if "$CTL" verify --public-key "$TMP/sign.pub" -f "$TMP/cred.json" >/dev/null; then ok; else bad "$peer: valid credential rejected"; fi
  if "$CTL" verify --public-key "$TMP/other.pub" -f "$TMP/cred.json" >/dev/null 2>&1; then bad "$peer: accepted with the wrong key"; else ok; fi
  [[ $(jq -r .statement.peer "$TMP/cred.json") == "$peer" ]] && ok || bad "$peer: statement names someone else"
done <<<"$peers"

# Flip every byte of one credential, one at a time: each copy must fail.
jq -c '.workspaces.globex.networks.core.peers["branch-1"].mc_envelope' "$TMP/a.json" | tr -d '\n' >"$TMP/one.json"
size=$(stat -c %s "$TMP/one.json")
accepted=0
mkdir "$TMP/flips"
python3 - "$TMP/one.json" "$TMP/flips" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
for i in range(len(data)):
    flipped = bytearray(data)
    flipped[i] ^= 0x01
    open('%s/%05d.json' % (sys.argv[2], i), 'wb').write(flipped)
PY
for f in "$TMP"/flips/*.json; do
  if "$CTL" verify --public-key "$TMP/sign.pub" -f "$f" >/dev/null 2>&1; then
    accepted=$((accepted + 1)); echo "FAIL flipped copy $(basename "$f") accepted"
  fi
done
[[ $accepted -eq 0 && $size -gt 300 ]] && ok || bad "$accepted of $size flipped credentials verified"

# Errors: a missing key, a malformed key, intent without validity.
expect_exit2() { # expect_exit2 WHAT ARGS...
  local what=$1; shift
  if "$CTL" "$@" >/dev/null 2>"$TMP/err"; then bad "$what: accepted"; return; fi
  local rc=0; "$CTL" "$@" >/dev/null 2>/dev/null || rc=$?
  if [[ $rc -eq 2 && $(grep -c '^error: ' "$TMP/err") -eq 1 ]]; then ok; else bad "$what: exit $rc, $(cat "$TMP/err")"; fi
}
expect_exit2 "missing signing key" compile -f "$EX" --signing-key "$TMP/nope.key"
echo "not base64!" >"$TMP/junk.key"
expect_exit2 "malformed signing key" compile -f "$EX" --signing-key "$TMP/junk.key"
expect_exit2 "missing public key" verify --public-key "$TMP/nope.pub" -f "$TMP/one.json"
expect_exit2 "no validity in intent" compile -f "$HERE/../../examples/acme.json" --signing-key "$TMP/sign.key"
grep -q 'credential_validity' "$TMP/err" && ok || bad "the error does not name credential_validity"

echo "credentials: $passes passed, $fails failed"
[[ $fails -eq 0 ]]
