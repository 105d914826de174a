#!/usr/bin/env bash
# The systemd units in packaging/ parse (systemd-analyze verify) and start
# the programs this build makes, with options those programs accept.
set -euo pipefail
BIN=${1:?usage: packaging.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/tools.sh"
require_tools systemd-analyze
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0
for unit in "$HERE"/../packaging/systemd/*.service; do
  name=$(basename "$unit")
  sed "s|/usr/bin/|$BIN/|g" "$unit" >"$TMP/$name"
  out=$(systemd-analyze verify "$TMP/$name" 2>&1 || true)
  if [[ -n $out ]]; then echo "FAIL: $name: $out"; fails=$((fails + 1)); fi
  # every ExecStart/ExecStartPre names a command the binary knows
  while read -r prog cmd; do
    [[ -x $BIN/$prog ]] || { echo "FAIL: $name: $prog is not built"; fails=$((fails + 1)); continue; }
    "$BIN/$prog" "$cmd" >"$TMP/out" 2>&1 || true
    grep -q "unknown command" "$TMP/out" && { echo "FAIL: $name: $prog has no command $cmd"; fails=$((fails + 1)); }
  done < <(grep -hoE '^ExecStart(Pre)?=/usr/bin/[a-z-]+ [a-z]+' "$unit" | sed -E 's|^[^/]*/usr/bin/||')
done
echo "packaging: $(ls "$HERE"/../packaging/systemd/*.service | wc -l) units, $fails failures"
((fails == 0))
