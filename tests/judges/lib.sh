# Shared by the namespace tests: root check, unique names, cleanup.
# Every namespace and interface a test makes carries its run id, so runs
# never collide and cleanup touches nothing else.
source "$(dirname "${BASH_SOURCE[0]}")/../tools.sh"
require_root() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "FAIL: $0 needs root (network namespaces); not skipping silently" >&2
    exit 1
  fi
  require_tools "$@"
}

RUN_ID="${RUN_ID:-$(printf '%04x' $((($$ ^ RANDOM) & 0xffff)))}"
NETNS_MADE=()

netns_add() { # netns_add NAME
  ip netns add "$1"
  NETNS_MADE+=("$1")
  ip -n "$1" link set lo up
}

netns_cleanup() {
  local ns pid
  for ns in "${NETNS_MADE[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  done
  sleep 0.2
  for ns in "${NETNS_MADE[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}
