#!/usr/bin/env bash
# Outside judge for device configs: stock `wg-quick strip` accepts each one,
# and with the placeholder replaced by a real key `wg setconf` loads it onto
# a real wireguard-go interface whose peers then match the config.
set -euo pipefail
CTL=${1:?usage: wg_quick.sh NANAMICTL}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
require_root wg wg-quick wireguard-go jq
export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
TMP=$(mktemp -d)
NS="nnj-wgq-$RUN_ID"
IFACE="nnq$RUN_ID"
trap 'netns_cleanup; rm -rf "$TMP"' EXIT
netns_add "$NS"
ip netns exec "$NS" wireguard-go "$IFACE" >/dev/null 2>&1
fails=0 passes=0

for ex in "$HERE"/../../examples/*.json; do
  while read -r dev; do
    conf="$TMP/$IFACE.conf"
    "$CTL" compile -f "$ex" --device "$dev" --format wg-quick >"$conf"
    if ! grep -q '^PrivateKey = <device private key>$' "$conf"; then
      echo "FAIL $dev: no private-key placeholder"; fails=$((fails + 1)); continue
    fi
    if ! wg-quick strip "$conf" >"$TMP/stripped" 2>"$TMP/err"; then
      echo "FAIL wg-quick strip rejected $dev: $(cat "$TMP/err")"; fails=$((fails + 1)); continue
    fi
    passes=$((passes + 1))
    sed "s|<device private key>|$(wg genkey)|" "$TMP/stripped" >"$TMP/real.conf"
    if ! ip netns exec "$NS" wg setconf "$IFACE" "$TMP/real.conf" 2>"$TMP/err"; then
      echo "FAIL wg setconf rejected $dev: $(cat "$TMP/err")"; fails=$((fails + 1)); continue
    fi
    want=$(grep -c '^\[Peer\]' "$conf")
    got=$(ip netns exec "$NS" wg show "$IFACE" peers | wc -l)
    allowed_want=$(sed -n 's/^AllowedIPs = //p' "$conf" | tr -d ' ' | tr ',' '\n' | sort | tr '\n' ' ')
    allowed_got=$(ip netns exec "$NS" wg show "$IFACE" allowed-ips | cut -f2 | tr ' ' '\n' | sort | tr '\n' ' ')
    if [[ $want -eq $got && "$allowed_want" == "$allowed_got" ]]; then
      passes=$((passes + 1))
    else
      echo "FAIL $dev: interface has $got peers / [$allowed_got], config has $want / [$allowed_want]"; fails=$((fails + 1))
    fi
  done < <(jq -r '.workspaces[] | .name as $w | .networks[]? | .name as $n | .devices[]? | "\($w)/\($n)/\(.name)"' "$ex")
done

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
