#!/usr/bin/env bash
# Outside judge for the rulesets: every peer's firewall + NAT text must pass
# `nft -c -f` (as the one transaction an agent would load), then really load
# inside a throwaway namespace, twice, without duplicating anything.
set -euo pipefail
CTL=${1:?usage: nft_check.sh NANAMICTL}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
require_root nft ip jq
TMP=$(mktemp -d)
NS="nnj-nft-$RUN_ID"
trap 'netns_cleanup; rm -rf "$TMP"' EXIT
netns_add "$NS"
fails=0 passes=0

for ex in "$HERE"/../../examples/*.json; do
  [[ -f "$ex" ]] || continue
  "$CTL" compile -f "$ex" >"$TMP/all.json"
  while read -r key; do
    jq -r --argjson k "$key" 'getpath($k) | .firewall.ruleset, .nat.ruleset' "$TMP/all.json" >"$TMP/rules.nft"
    label=$(jq -r 'join("/")' <<<"$key")
    if ! ip netns exec "$NS" nft -c -f "$TMP/rules.nft" 2>"$TMP/err"; then
      echo "FAIL nft -c rejected $label: $(head -5 "$TMP/err")"; fails=$((fails + 1)); continue
    fi
    passes=$((passes + 1))
    # Load for real, twice: add/flush makes it idempotent.
    ip netns exec "$NS" nft flush ruleset
    ip netns exec "$NS" nft -f "$TMP/rules.nft"
    first=$(ip netns exec "$NS" nft list table inet nanami)
    ip netns exec "$NS" nft -f "$TMP/rules.nft"
    second=$(ip netns exec "$NS" nft list table inet nanami)
    if [[ "$first" == "$second" ]] && grep -q 'policy accept' <<<"$first"; then
      passes=$((passes + 1))
    else
      echo "FAIL reloading $label changed the table"; fails=$((fails + 1))
    fi
  done < <(jq -c 'paths(objects and has("firewall") and has("nat"))' "$TMP/all.json")
done

# Two networks on one host share table inet nanami: loading one network's
# rules must leave the other's chains alone.
ex="$HERE/../../examples/acme.json"
ip netns exec "$NS" nft flush ruleset
"$CTL" compile -f "$ex" --peer acme/corp/db-1 | jq -r '.firewall.ruleset, .nat.ruleset' >"$TMP/corp.nft"
"$CTL" compile -f "$ex" --peer acme/lab/gpu-1 | jq -r '.firewall.ruleset, .nat.ruleset' >"$TMP/lab.nft"
ip netns exec "$NS" nft -f "$TMP/corp.nft"
ip netns exec "$NS" nft -f "$TMP/lab.nft"
ip netns exec "$NS" nft -f "$TMP/corp.nft"
chains=$(ip netns exec "$NS" nft list table inet nanami | grep -c "^[[:space:]]*chain " || true)
# corp: fw, fw_in, fw_fwd, nat_pre, nat_post; lab: the same five
if [[ $chains -eq 10 ]]; then passes=$((passes + 1)); else echo "FAIL expected 10 chains, got $chains"; fails=$((fails + 1)); fi

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
