#!/usr/bin/env bash
# Outside judge for FRR text: every host's frr.conf of every example passes
# `vtysh --dryrun -f` with nothing on stderr (FRR 8.4's dry run exits 0 even
# when it rejects lines, so silence is the real verdict), and each peer's
# envelope carries exactly its host's text.
set -euo pipefail
CTL=${1:?usage: frr_dryrun.sh NANAMICTL}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../tools.sh"
require_tools vtysh jq
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0 passes=0 texts=0

for ex in "$HERE"/../../examples/*.json; do
  "$CTL" compile -f "$ex" >"$TMP/all.json"
  jq -r '.workspaces | to_entries[] | .key as $w | .value.hosts | keys[] | "\($w)/\(.)"' \
    "$TMP/all.json" >"$TMP/hosts"
  while read -r host; do
    "$CTL" compile -f "$ex" --host "$host" | jq -r .frr_text >"$TMP/frr.conf"
    grep -q "^router bgp " "$TMP/frr.conf" || continue
    texts=$((texts + 1))
    if vtysh --dryrun -f "$TMP/frr.conf" >"$TMP/out" 2>&1 && [[ ! -s "$TMP/out" ]]; then
      passes=$((passes + 1))
    else
      echo "FAIL vtysh --dryrun rejected $host ($ex):"; cat "$TMP/out"; fails=$((fails + 1))
    fi
  done <"$TMP/hosts"
  # Every enabled bgp block in a peer envelope is its host's text.
  mismatches=$(jq -r '.workspaces | to_entries[] | .value as $ws | $ws.networks[].peers[]
      | select(.bgp.enabled) | select(.bgp.frr_text != $ws.hosts[.self.host].frr_text) | .self.name' \
      "$TMP/all.json")
  if [[ -n "$mismatches" ]]; then
    echo "FAIL envelope frr_text differs from its host's: $mismatches"; fails=$((fails + 1))
  fi
done

# A broken line must be caught: the judge itself is tested.
printf 'router bgp 4200000001\n bgp router-idd 1.2.3.4\nexit\n' >"$TMP/bad.conf"
vtysh --dryrun -f "$TMP/bad.conf" >"$TMP/out" 2>&1 || true
if [[ -s "$TMP/out" ]]; then passes=$((passes + 1)); else
  echo "FAIL the dry run accepted a bad line; this judge proves nothing"; fails=$((fails + 1)); fi

echo "frr_dryrun: $texts host texts, $passes passed, $fails failed"
[[ $texts -ge 4 && $fails -eq 0 ]]
