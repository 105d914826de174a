# Shared by the end-to-end tests: an underlay bridge in its own namespace,
# one namespace per node attached to it, and applying a compiled envelope
# with wireguard-go, wg, ip and nft the way an agent would.
# Needs: CTL (nanamictl), TMP (scratch dir), tests/judges/lib.sh sourced.
# The envelopes all name the same interface; wireguard-go's UAPI sockets are
# shared across namespaces, so each node gets a unique interface name and
# the ruleset text is rewritten to it -- the only change made to an envelope.
export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1

# The tallies every end-to-end test keeps and ends on ([[ $fails -eq 0 ]]).
fails=0 passes=0
ok() { passes=$((passes + 1)); echo "ok: $*"; }
bad() { fails=$((fails + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

# envelope_deliver WS/NET NODE [APPLY_ARG...]: compiles NODE's envelope from
# $TMP/intent.json, signs it with $TMP/server.key and has gateway-daemon
# ($GD) apply it in the node's namespace, as its agent would. The --json
# summary lands in $TMP/NODE.out (field NODE FILTER reads it); a refused
# apply is counted as a failure, with the daemon's error.
envelope_deliver() {
  local net=$1 p=$2
  shift 2
  "$CTL" compile -f "$TMP/intent.json" --peer "$net/$p" >"$TMP/$p.env"
  "$CTL" sign --signing-key "$TMP/server.key" -f "$TMP/$p.env" >"$TMP/$p.sig"
  ip netns exec "${NS[$p]}" "$GD" apply --state-dir "$TMP/$p" --server-key "$TMP/server.pub" \
    -f "$TMP/$p.env" --signature "$TMP/$p.sig" --interface "${IFACE[$p]}" "$@" --json \
    >"$TMP/$p.out" 2>"$TMP/$p.err" || bad "deliver $p: $(cat "$TMP/$p.err")"
}
field() { jq -r "$2" "$TMP/$1.out"; }

underlay_init() { # underlay_init BRIDGE_NS
  UNDERLAY_NS=$1 UNDERLAY_PORTS=0
  netns_add "$UNDERLAY_NS"
  ip -n "$UNDERLAY_NS" link add br0 type bridge
  ip -n "$UNDERLAY_NS" link set br0 up
}

underlay_attach() { # underlay_attach NS ADDR
  local port="p$UNDERLAY_PORTS"; UNDERLAY_PORTS=$((UNDERLAY_PORTS + 1))
  ip -n "$UNDERLAY_NS" link add "$port" type veth peer name eth0 netns "$1"
  ip -n "$UNDERLAY_NS" link set "$port" master br0 up
  ip -n "$1" addr add "$2/24" dev eth0
  ip -n "$1" link set eth0 up
}

# overlay_apply INTENT WS/NET/PEER NS IFACE KEYFILE [ROUTE_FILTER]
# Compiles the peer's envelope to $TMP/PEER.env.json and applies it.
# ROUTE_FILTER, a jq filter over .interface.routes, picks the routes to
# install (default: all of them).
overlay_apply() {
  local intent=$1 path=$2 ns=$3 ifc=$4 key=$5 filter=${6:-.[]}
  local p=${path##*/} env="$TMP/${path##*/}.env.json" name
  "$CTL" compile -f "$intent" --peer "$path" >"$env"
  name=$(jq -r .interface.name "$env")
  ip netns exec "$ns" wireguard-go "$ifc" >/dev/null 2>&1
  {
    echo "[Interface]"
    echo "PrivateKey = $(cat "$key")"
    echo "ListenPort = $(jq -r .interface.listen_port "$env")"
    jq -r '.peers[] | "[Peer]\nPublicKey = \(.public_key)\nAllowedIPs = \(.allowed_ips | join(", "))"
           + (if .endpoint then "\nEndpoint = \(.endpoint)" else "" end)
           + (if .persistent_keepalive > 0 then "\nPersistentKeepalive = \(.persistent_keepalive)" else "" end)' "$env"
  } >"$TMP/$p.wg.conf"
  ip netns exec "$ns" wg setconf "$ifc" "$TMP/$p.wg.conf"
  for a in $(jq -r '.interface.addresses[]' "$env"); do ip -n "$ns" addr add "$a" dev "$ifc"; done
  ip -n "$ns" link set "$ifc" mtu "$(jq -r .interface.mtu "$env")" up
  for r in $(jq -r ".interface.routes | $filter" "$env"); do ip -n "$ns" route add "$r" dev "$ifc"; done
  jq -r '.firewall.ruleset, .nat.ruleset' "$env" | sed "s/\"$name\"/\"$ifc\"/g" >"$TMP/$p.nft"
  ip netns exec "$ns" nft -f "$TMP/$p.nft"
  if [[ $(jq -r .self.role "$env") == hub ]]; then
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  fi
}

# The first packets start the handshakes; allow up to 10 s for them.
ping_until() { # ping_until NS ADDR
  for _ in $(seq 1 20); do
    ip netns exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

# tcp NS ADDR PORT: what a TCP connection from NS is answered (empty when
# it is refused, dropped or times out)
tcp() { ip netns exec "$1" timeout 6 nc -w 3 "$2" "$3" </dev/null 2>/dev/null || true; }

# frr_daemons NS DIR: zebra and bgpd in NS with an empty configuration,
# their vty sockets, zserv socket, pid files and log in DIR (made here,
# owned by frr) -- a private FRR per namespace, as a host would run one.
frr_daemons() {
  mkdir -p "$2"
  chown frr:frr "$2"
  : >"$2/empty.conf"
  frr_daemon "$1" "$2" zebra && frr_daemon "$1" "$2" bgpd
}
# frr_daemon NS DIR NAME: starts one of them (again, after a kill).
frr_daemon() {
  ip netns exec "$1" "/usr/lib/frr/$3" -d -f "$2/empty.conf" -z "$2/zserv.api" --vty_socket "$2" \
    --log "file:$2/log" -i "$2/$3.pid" 2>>"$2/stderr"
}

# overlay_nodes PREFIX NODE...: the underlay bridge and, per node in order
# from 192.0.2.10, a namespace (NS) attached to it and a WireGuard
# interface name of its own (IFACE); NODES lists them.
overlay_nodes() {
  local prefix=$1 i=0 p
  shift
  NODES=("$@")
  declare -gA NS=() IFACE=()
  underlay_init "$prefix-$RUN_ID-u"
  for p in "$@"; do
    NS[$p]="$prefix-$RUN_ID-$p"
    IFACE[$p]="$prefix$RUN_ID$i"
    netns_add "${NS[$p]}"
    underlay_attach "${NS[$p]}" "192.0.2.$((10 + i))"
    i=$((i + 1))
  done
}
