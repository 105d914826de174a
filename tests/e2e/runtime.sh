# Shared by the node-runtime tests (tests/e2e/node.sh, gateways.sh,
# frr.sh) and bench/node_latency.sh: nanamid in the namespace $SRV
# (operator API on its loopback, node listener on 192.0.2.1:8443, the
# underlay), and nodes that each run gateway-daemon (root) and
# gateway-manager (as nobody). Sources tests/judges/lib.sh and overlay.sh.
# Needs: NANAMID CTL GD GM (runtime_args sets them from a test's
# arguments); runtime_begin and runtime_nodes set the rest (TMP, PIDS,
# SRV, NS, IFACE), runtime_init the admin token (ADMIN).
source "$(dirname "${BASH_SOURCE[0]}")/../judges/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/overlay.sh"
API=http://127.0.0.1:8420/api/v1

# runtime_args "$@": a test's four arguments, the binaries it runs.
runtime_args() {
  NANAMID=${1:?usage: $(basename "$0") NANAMID NANAMICTL GATEWAY_DAEMON GATEWAY_MANAGER}
  CTL=${2:?} GD=${3:?} GM=${4:?}
}

# runtime_begin: the scratch directory $TMP (the managers, as nobody, may
# traverse it, not list it); on exit the processes in PIDS
# are stopped, the namespaces deleted and $TMP removed.
runtime_begin() {
  TMP=$(mktemp -d)
  chmod 711 "$TMP"
  PIDS=()
  trap runtime_end EXIT
}
runtime_end() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  netns_cleanup
  rm -rf "$TMP"
}

# runtime_nodes PREFIX NODE...: the nodes of overlay_nodes (NS, IFACE,
# from 192.0.2.10) with their state directories, and nanamid's namespace
# $SRV (192.0.2.1).
runtime_nodes() {
  local prefix=$1 p
  shift
  overlay_nodes "$prefix" "$@"
  SRV="$prefix-$RUN_ID-srv"
  netns_add "$SRV"
  underlay_attach "$SRV" 192.0.2.1
  for p in "$@"; do node_dirs "$p"; done
}

# until_true SECONDS CMD...: polls every 0.05 s
until_true() {
  local end=$(($(date +%s%N) + $1 * 1000000000)); shift
  while (($(date +%s%N) < end)); do "$@" && return 0; sleep 0.05; done
  return 1
}

runtime_init() { # the database and its admin token
  ADMIN=$("$NANAMID" init --db "$TMP/db.sqlite" 2>/dev/null)
}

start_server() {
  ip netns exec "$SRV" "$NANAMID" serve --db "$TMP/db.sqlite" --listen 127.0.0.1:8420 \
    --node-listen 192.0.2.1:8443 >>"$TMP/nanamid.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  until_true 5 ip netns exec "$SRV" curl -sf "$API/health" -o /dev/null
}
ctl() { ip netns exec "$SRV" env NANAMI_URL=http://127.0.0.1:8420 NANAMI_TOKEN="$ADMIN" "$CTL" "$@"; }
api() { # api METHOD PATH [BODY] -> body on stdout
  ip netns exec "$SRV" curl -sf -X "$1" -H "Authorization: Bearer $ADMIN" ${3:+--data-binary "$3"} "$API$2"
}

node_dirs() { # node_dirs NODE: the daemon's (root) and the manager's (nobody) state
  mkdir -m 711 "$TMP/$1"
  install -d -m 700 -o nobody -g nogroup "$TMP/$1/manager"
}
# start_daemon NODE [GATEWAY-DAEMON ARGS...]: without arguments FRR is off
# (its vty sockets are files, shared across namespaces: a daemon left to
# the default /var/run/frr would reach the host's own FRR).
start_daemon() {
  local p=$1
  shift
  (($#)) || set -- --frr-vty off
  ip netns exec "${NS[$p]}" "$GD" run --state-dir "$TMP/$p/daemon" --socket "$TMP/$p/d.sock" \
    --socket-group nogroup --interface "${IFACE[$p]}" --userspace wireguard-go \
    --drift-interval "${DRIFT_INTERVAL:-2}" "$@" >>"$TMP/$p/daemon.log" 2>&1 &
  PIDS+=($!)
  until_true 5 test -S "$TMP/$p/d.sock"
}
# enroll_and_run NODE WS[/NET]: the node enrolls with a token for its host
# (named NODE) in WS -- or, given a network, for its peer NODE there, as
# nodes enrolled before hosts were nodes -- then its manager runs.
enroll_and_run() {
  local p=$1 token path
  if [[ $2 == */* ]]; then
    path="/workspaces/${2%/*}/networks/${2#*/}/peers/$p/enrollment-tokens"
  else
    path="/workspaces/$2/nodes/$p/enrollment-tokens"
  fi
  token=$(api POST "$path" '{}' | jq -r .token)
  ip netns exec "${NS[$p]}" setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$GM" enroll --server https://192.0.2.1:8443 --ca "$TMP/ca.pem" --token "$token" \
    --state-dir "$TMP/$p/manager" --daemon-socket "$TMP/$p/d.sock" >"$TMP/$p/enroll.out" 2>&1 || return 1
  ip netns exec "${NS[$p]}" setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$GM" run --state-dir "$TMP/$p/manager" --daemon-socket "$TMP/$p/d.sock" --wait "${MANAGER_WAIT:-3}" \
    >>"$TMP/$p/manager.log" 2>&1 &
  PIDS+=($!)
}
