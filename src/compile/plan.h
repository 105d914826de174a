/* nn_net_plan: everything about one network that every envelope of it
 * shares, computed once: the hubs, the sorted route set, each member's
 * pre-rendered [Peer] fragment, the firewall ruleset. Envelopes are then
 * assembled from fragments -- which is what keeps a full mesh (n^2 entries)
 * a matter of memcpy rather than n^2 renders.
 *
 * Internal to src/compile/; callers use compile/compile.h. */
#ifndef NN_COMPILE_PLAN_H
#define NN_COMPILE_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "util/buf.h"

#define NN_KEEPALIVE_SECONDS 25

/* How a viewer sees one of its WireGuard peers; decides the AllowedIPs. */
typedef enum nn_view_kind {
    /* the peer's own /32 and /128 plus its lan_subnets */
    NN_VIEW_IDENTITY = 0,
    /* the primary hub as a spoke (or device) sees it: the network's /64 and
     * ipv4_cidr plus every LAN behind it, except the viewer's own. WireGuard
     * gives one prefix to one peer only, so only one hub can carry them. */
    NN_VIEW_PRIMARY_HUB,
    /* full mesh: the primary hub also carries the user devices' addresses,
     * since only hubs have devices as peers */
    NN_VIEW_MESH_PRIMARY
} nn_view_kind;

typedef struct nn_peer_view {
    const nn_member *peer;
    nn_view_kind kind;
    uint16_t keepalive;
} nn_peer_view;

typedef struct nn_net_plan nn_net_plan;

/* A topology strategy decides who tunnels to whom. peers_for writes the
 * viewer's peers, sorted by name, into out (capacity npeers + ndevices) and
 * returns how many. O(peers it writes). */
typedef struct nn_topology_strategy {
    const char *name;
    size_t (*peers_for)(const nn_net_plan *plan, const nn_member *viewer, nn_peer_view *out);
} nn_topology_strategy;

const nn_topology_strategy *nn_topology_strategy_for(nn_topology t);

/* A route (or primary-hub AllowedIP) with who serves it; owner NULL for
 * the network's own prefixes. */
typedef struct nn_route_ref {
    nn_prefix prefix;
    const nn_member *owner;
} nn_route_ref;

typedef struct nn_frag {
    size_t off, len; /* into nn_net_plan.frags */
} nn_frag;

/* What a user device's routing selection (seed 002) makes of its traffic. */
typedef enum nn_tunnel {
    NN_TUNNEL_VPN_ONLY = 0, /* overlay prefixes only */
    NN_TUNNEL_FULL,         /* everything, through device_exit */
    NN_TUNNEL_NO_EGRESS,    /* full_tunnel, but no exit gateway is assigned */
    NN_TUNNEL_NOT_A_HUB     /* full_tunnel through a peer the device has no tunnel to */
} nn_tunnel;

struct nn_net_plan {
    const nn_network *net; /* borrowed */
    const nn_topology_strategy *strategy;
    const nn_member **hubs; /* publicly reachable peers, by name; [0] primary */
    size_t nhubs;
    nn_route_ref *routes; /* /64, ipv4_cidr, every LAN; sorted by prefix */
    size_t nroutes;
    nn_buf frags;              /* all pre-rendered JSON fragments */
    nn_frag *peer_frag[2];     /* [keepalive off, on][peer index] IDENTITY entries */
    nn_frag *device_frag;      /* [device index] IDENTITY entry, keepalive off */
    nn_frag primary_frag;      /* PRIMARY_HUB entry for viewers without LANs */
    nn_frag mesh_primary_frag; /* MESH_PRIMARY entry (full mesh with devices) */
    nn_frag routes_frag;       /* "routes" array for members without LANs */
    nn_frag *route_str;        /* [route index] the prefix as a JSON string */
    nn_frag firewall_frag;     /* the "firewall" object with every rule (hubs) */
    nn_frag fw_head, fw_tail;  /* its opening (up to the rules) and closing */
    nn_frag *fw_rule;          /* [rule index] escaped ruleset lines */
    nn_frag *fw_map;           /* [mapping index] escaped admission lines */
    nn_frag nat_empty_frag;    /* the "nat" object of peers hosting no mapping */
    nn_frag federation_frag;   /* the "federation" array, the same for every peer */
    /* [device index] both NULL when no device asks for full_tunnel */
    nn_tunnel *device_tunnel;
    const nn_member **device_exit; /* the exit hub of NN_TUNNEL_FULL devices */
};

/* Collects the AllowedIPs of view as seen by viewer, sorted, into out
 * (caller frees *out). */
size_t nn_plan_allowed_ips(const nn_net_plan *plan, const nn_member *viewer,
                           const nn_peer_view *view, nn_prefix **out);
bool nn_plan_is_secondary_hub(const nn_net_plan *plan, const nn_member *m);

/* Resolves every device's routing selection into device_tunnel and
 * device_exit (left NULL when no device can be full_tunnel). */
int nn_plan_tunnels(nn_net_plan *plan);
/* The device's tunnel, and through which hub (NULL unless NN_TUNNEL_FULL). */
nn_tunnel nn_plan_device_tunnel(const nn_net_plan *plan, const nn_member *dev,
                                const nn_member **exit);
/* Writes the full-tunnel egress lines of exit hub hub, whose interface is
 * ifname (NULL: the network's own) -- the filter's
 * accept, or (filter false) the NAT masquerade: traffic from the devices
 * that send everything to it, leaving through another interface, to
 * anything the overlay does not route. Writes nothing when hub is no
 * device's exit. */
void nn_plan_exit_lines(const nn_net_plan *plan, const nn_member *hub, const char *ifname,
                        bool filter, nn_buf *out);
/* "{ a, b }" of the addresses of family fam of the devices exiting through
 * hub, into out; false when there are none. */
bool nn_plan_exit_sources(const nn_net_plan *plan, const nn_member *hub, int fam, nn_buf *out);

/* peer's rule chain (fw_<id8>) as plain nft text -- the chain a node
 * document's host-wide ruleset dispatches to -- with the same lines its
 * envelope's ruleset has, the exit lines naming ifname. */
void nn_compile_peer_chain(const nn_net_plan *plan, const nn_member *peer, const char *ifname,
                           nn_buf *out);

#endif
