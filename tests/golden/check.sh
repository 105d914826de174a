#!/usr/bin/env bash
# Golden envelopes: the reviewed, committed output of every example.
# A difference fails the test and shows a readable (jq-formatted) diff.
# To accept a deliberate change: UPDATE_GOLDEN=1 ctest -R golden, then READ
# `git diff tests/golden` before committing it.
set -euo pipefail
CTL=${1:?usage: check.sh NANAMICTL}
HERE=$(cd "$(dirname "$0")" && pwd)
EXAMPLES="$HERE/../../examples"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0 passes=0

check() { # check GOLDEN_NAME -- CMD...
  local golden="$HERE/$1"; shift 2
  "$@" >"$TMP/out"
  if [[ "${UPDATE_GOLDEN:-}" == 1 ]]; then
    cp "$TMP/out" "$golden"; echo "updated $(basename "$golden")"
  fi
  if [[ -f "$golden" ]] && cmp -s "$TMP/out" "$golden"; then
    passes=$((passes + 1))
  else
    echo "FAIL $(basename "$golden") differs from the compiler's output:"
    if [[ -f "$golden" ]] && [[ "$golden" == *.json ]]; then
      diff <(jq . "$golden") <(jq . "$TMP/out") | head -40 || true
    else
      diff "${golden}" "$TMP/out" | head -40 || true
    fi
    fails=$((fails + 1))
  fi
}

for ex in "$EXAMPLES"/*.json; do
  name=$(basename "$ex" .json)
  check "$name.json" -- "$CTL" compile -f "$ex"
  # every device's wg-quick config
  while IFS=/ read -r ws net dev; do
    check "$name.$ws.$net.$dev.conf" -- "$CTL" compile -f "$ex" --device "$ws/$net/$dev" --format wg-quick
  done < <(jq -r '.workspaces[] | .name as $w | .networks[]? | .name as $n | .devices[]? | "\($w)/\($n)/\(.name)"' "$ex")
  # every host's frr.conf, as readable text
  while IFS=/ read -r ws host; do
    check "$name.$ws.$host.frr.conf" -- bash -c \
      "\"\$0\" compile -f \"\$1\" --host \"\$2\" | jq -r .frr_text" "$CTL" "$ex" "$ws/$host"
  done < <("$CTL" compile -f "$ex" | jq -r '.workspaces | to_entries[] | .key as $w | .value.hosts
             | to_entries[] | select(.value.frr_text != "") | "\($w)/\(.key)"')
  # --host output (the node document) is the same bytes as the host's entry
  while IFS=/ read -r ws host; do
    "$CTL" compile -f "$ex" --host "$ws/$host" >"$TMP/host.json"
    jq -c --arg w "$ws" --arg h "$host" '.workspaces[$w].hosts[$h]' "$HERE/$name.json" >"$TMP/from-all.json"
    if cmp -s <(jq -cS . "$TMP/host.json") "$TMP/from-all.json" && [[ "$(jq -cS . "$TMP/host.json")" == "$(tr -d '\n' <"$TMP/host.json")" ]]; then
      passes=$((passes + 1))
    else
      echo "FAIL --host $ws/$host is not canonical or differs from the full compile"; fails=$((fails + 1))
    fi
  done < <(jq -r '.workspaces | to_entries[] | .key as $w | .value.hosts | keys[] | "\($w)/\(.)"' "$HERE/$name.json")
  # every host's host-wide ruleset (firewall, then NAT), as readable text
  while IFS=/ read -r ws host; do
    check "$name.$ws.$host.nft" -- bash -c \
      "\"\$0\" compile -f \"\$1\" --host \"\$2\" | jq -r '.firewall.ruleset, .nat.ruleset'" "$CTL" "$ex" "$ws/$host"
  done < <("$CTL" compile -f "$ex" | jq -r '.workspaces | to_entries[] | .key as $w | .value.hosts
             | to_entries[] | select(.value.interfaces | length > 0) | "\($w)/\(.key)"')
  # --peer output is the same bytes as the peer's entry in the full compile
  while IFS=/ read -r ws net peer; do
    "$CTL" compile -f "$ex" --peer "$ws/$net/$peer" >"$TMP/peer.json"
    jq -c --arg w "$ws" --arg n "$net" --arg p "$peer" '.workspaces[$w].networks[$n].peers[$p]' "$HERE/$name.json" >"$TMP/from-all.json"
    if cmp -s <(jq -cS . "$TMP/peer.json") "$TMP/from-all.json" && [[ "$(jq -cS . "$TMP/peer.json")" == "$(tr -d '\n' <"$TMP/peer.json")" ]]; then
      passes=$((passes + 1))
    else
      echo "FAIL --peer $ws/$net/$peer is not canonical or differs from the full compile"; fails=$((fails + 1))
    fi
  done < <(jq -r '.workspaces[] | .name as $w | .networks[]? | .name as $n | .peers[]? | "\($w)/\($n)/\(.name)"' "$ex")
done

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
