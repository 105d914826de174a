#!/usr/bin/env bash
# Outside judge for OVN plans: each plan is replayed with ovn-nbctl against
# a scratch ovsdb-server made from the installed northbound schema; what
# `ovn-nbctl show` and `acl-list` report must match the intent, and a
# second replay must change nothing.
set -euo pipefail
CTL=${1:?usage: ovn_replay.sh NANAMICTL}
HERE=$(cd "$(dirname "$0")" && pwd)
SCHEMA=/usr/share/ovn/ovn-nb.ovsschema
source "$HERE/../tools.sh"
require_tools ovsdb-server ovsdb-tool ovn-nbctl jq
[[ -r $SCHEMA ]] || { echo "FAIL: $SCHEMA missing (ovn-central)" >&2; exit 1; }
TMP=$(mktemp -d)
cleanup() { [[ -f "$TMP/pid" ]] && kill "$(cat "$TMP/pid")" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
fails=0 passes=0 plans=0

nbctl() { ovn-nbctl --db="unix:$TMP/nb.sock" "$@"; }

replay() { # replay PLAN.jsonl
  local line cmd
  while read -r line; do
    mapfile -t opts < <(jq -r '.options[]' <<<"$line")
    mapfile -t args < <(jq -r '.args[]' <<<"$line")
    cmd=$(jq -r .cmd <<<"$line")
    nbctl "${opts[@]}" "$cmd" "${args[@]}" >/dev/null || { echo "FAIL ovn-nbctl $cmd ${args[*]}"; return 1; }
  done <"$1"
}

snapshot() {
  local sw
  nbctl show | sed -E 's/switch [0-9a-f-]+ /switch /' | sort
  for sw in $(nbctl ls-list | sed -E 's/^[0-9a-f-]+ \((.*)\)$/\1/' | sort); do
    echo "acls $sw"; nbctl acl-list "$sw" | sort
  done
}

for ex in "$HERE"/../../examples/*.json; do
  "$CTL" compile -f "$ex" >"$TMP/all.json"
  jq -c '[.workspaces[] | .hosts[] | select(.ovn_nb_plan != null) | .ovn_nb_plan] | unique_by(.deployment_id)[]' \
    "$TMP/all.json" >"$TMP/plans"
  while read -r plan; do
    plans=$((plans + 1))
    name=$(jq -r .name <<<"$plan")
    rm -f "$TMP/nb.db"
    ovsdb-tool create "$TMP/nb.db" "$SCHEMA"
    ovsdb-server --remote="punix:$TMP/nb.sock" --pidfile="$TMP/pid" --unixctl="$TMP/ctl" \
      --detach --no-chdir --log-file="$TMP/ovsdb.log" "$TMP/nb.db"
    jq -c '.plan[]' <<<"$plan" >"$TMP/plan.jsonl"
    replay "$TMP/plan.jsonl" || fails=$((fails + 1))
    snapshot >"$TMP/first"
    # What the intent says, in the shape ovn-nbctl reports it.
    want_switches=$(jq -r '.plan[] | select(.cmd == "ls-add") | .args[0]' <<<"$plan" | sort | tr '\n' ' ')
    got_switches=$(nbctl ls-list | sed -E 's/^[0-9a-f-]+ \((.*)\)$/\1/' | sort | tr '\n' ' ')
    want_ports=$(jq -r '.plan[] | select(.cmd == "lsp-add") | "\(.args[0]) \(.args[1])"' <<<"$plan" | sort)
    got_ports=$(for sw in $(nbctl ls-list | sed -E 's/^[0-9a-f-]+ \((.*)\)$/\1/'); do
      nbctl lsp-list "$sw" | sed -E "s/^[0-9a-f-]+ \((.*)\)$/$sw \1/"; done | sort)
    want_acls=$(jq -r '.plan[] | select(.cmd == "acl-add") | .args as $a
      | "\($a[0]) \($a[1]) \($a[2]) (\($a[3])) \($a[4])"' <<<"$plan" | sort)
    got_acls=$(for sw in $(nbctl ls-list | sed -E 's/^[0-9a-f-]+ \((.*)\)$/\1/'); do
      nbctl acl-list "$sw" | sed -E "s/^ *([a-z-]+) +([0-9]+) /$sw \1 \2 /"; done | sort)
    addr_ok=1
    while read -r port; do
      want=$(jq -r --arg p "$port" '.plan[] | select(.cmd == "lsp-set-addresses" and .args[0] == $p) | .args[1:] | join("|")' <<<"$plan")
      got=$(nbctl lsp-get-addresses "$port" | tr '\n' '|' | sed 's/|$//')
      [[ "$want" == "$got" ]] || { echo "FAIL $name: $port addresses '$got', want '$want'"; addr_ok=0; }
    done < <(jq -r '.plan[] | select(.cmd == "lsp-add") | .args[1]' <<<"$plan")
    if [[ "$want_switches" == "$got_switches" && "$want_ports" == "$got_ports" &&
          "$want_acls" == "$got_acls" && $addr_ok -eq 1 && -n "$want_acls" ]]; then
      passes=$((passes + 1))
    else
      echo "FAIL $name: switches [$got_switches] want [$want_switches]"
      echo "ports:"; diff <(echo "$want_ports") <(echo "$got_ports") || true
      echo "acls:"; diff <(echo "$want_acls") <(echo "$got_acls") || true
      fails=$((fails + 1))
    fi
    replay "$TMP/plan.jsonl" || fails=$((fails + 1))
    snapshot >"$TMP/second"
    if cmp -s "$TMP/first" "$TMP/second"; then passes=$((passes + 1)); else
      echo "FAIL $name: a second replay changed the database"; diff "$TMP/first" "$TMP/second" || true
      fails=$((fails + 1)); fi
    kill "$(cat "$TMP/pid")"; rm -f "$TMP/pid"
  done <"$TMP/plans"
done
echo "ovn_replay: $plans plans, $passes passed, $fails failed"
[[ $plans -ge 1 && $fails -eq 0 ]]
