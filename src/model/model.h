/* The in-memory intent model: plain data, no I/O. nn_intent_parse() builds
 * it from the JSON document (validated, sorted by name), nn_alloc_assign()
 * fills the "allocated" fields, and the compiler reads it.
 *
 * Strings are borrowed from the jansson document the model keeps alive
 * (nn_doc.json_root); arrays are owned by their parent. */
#ifndef NN_MODEL_MODEL_H
#define NN_MODEL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/cidr.h"
#include "util/key.h"

typedef enum nn_topology { NN_TOPO_HUB_AND_SPOKE = 0, NN_TOPO_FULL_MESH } nn_topology;
typedef enum nn_routing_mode { NN_ROUTING_STATIC = 0, NN_ROUTING_IBGP } nn_routing_mode;
typedef enum nn_verdict { NN_VERDICT_ACCEPT = 0, NN_VERDICT_DROP, NN_VERDICT_REJECT } nn_verdict;
typedef enum nn_proto { NN_PROTO_ANY = 0, NN_PROTO_TCP, NN_PROTO_UDP, NN_PROTO_ICMP } nn_proto;
typedef enum nn_selector_kind {
    NN_SEL_ALL = 0,
    NN_SEL_PEER,
    NN_SEL_CIDR,
    NN_SEL_TAG
} nn_selector_kind;

typedef struct nn_member nn_member;
typedef struct nn_network nn_network;

/* Routing selection (seed 002). Each layer -- network policy, a user's
 * preference, a device's preference -- may set any field; unset fields
 * fall through to the next layer down (device > user > network > system). */
typedef enum nn_sel_mode { NN_SEL_UNSET = 0, NN_SEL_AUTO, NN_SEL_MANUAL } nn_sel_mode;
typedef enum nn_traffic_mode {
    NN_TRAFFIC_UNSET = 0,
    NN_TRAFFIC_VPN_ONLY,
    NN_TRAFFIC_FULL_TUNNEL
} nn_traffic_mode;

typedef struct nn_routing_layer {
    nn_sel_mode routing_mode;
    nn_traffic_mode traffic_mode;
    const nn_member *ingress, *egress; /* resolved peers; NULL = unset */
} nn_routing_layer;

/* Gateway capabilities of a peer ("roles"); policy decides their use. */
enum { NN_GW_INGRESS = 1u << 0, NN_GW_EXIT = 1u << 1 };
typedef struct nn_host nn_host;

/* One side of a firewall rule: exactly one of peer / cidr / tag / all. */
typedef struct nn_selector {
    nn_selector_kind kind;
    const char *name;        /* peer (or device) name, or tag */
    nn_prefix cidr;          /* NN_SEL_CIDR */
    const nn_member *member; /* NN_SEL_PEER, resolved after sorting; borrowed */
} nn_selector;

typedef struct nn_port_range {
    uint16_t lo, hi; /* inclusive, lo <= hi */
} nn_port_range;

typedef struct nn_fw_rule {
    const char *name;
    int64_t position; /* rules run in (position, name) order */
    bool enabled;
    nn_verdict action;
    nn_proto protocol;
    nn_port_range *ports; /* owned; sorted, merged; empty = every port */
    size_t nports;
    nn_selector source, destination;
    size_t doc_index; /* index in the document, for error messages */
} nn_fw_rule;

typedef struct nn_port_mapping {
    const char *name;
    const char *hub_name;
    const nn_member *hub; /* resolved; borrowed */
    nn_proto protocol;    /* TCP or UDP */
    uint16_t external_port;
    uint16_t target_port;
    const char *target_peer; /* may name nothing: then it is "skipped" */
    bool enabled;
    size_t doc_index;
} nn_port_mapping;

/* A peer (a node's membership in a network) or a user device. They share
 * one namespace of names and addresses inside a network. */
struct nn_member {
    const char *name;
    bool is_device;
    nn_key public_key;
    char public_key_b64[NN_KEY_B64_LEN + 1];
    bool publicly_reachable; /* peers only: the hub flag */
    const char *endpoint;    /* "host:port" or NULL when unknown */
    nn_prefix *lan_subnets;  /* owned; sorted */
    size_t nlan;
    const char **tags; /* owned array of borrowed strings; sorted, unique */
    size_t ntags;
    bool key_given;          /* peers: public_key was in the document (else the host's) */
    const char *host;        /* defaults to name */
    const nn_host *host_ref; /* peers: the workspace's host record; borrowed */
    bool has_router_id;
    uint8_t router_id[4]; /* BGP router id: override, or derived by nn_alloc_assign */
    uint16_t listen_port; /* 0 = the network's */
    uint32_t vrf_table; /* peers of iBGP networks: the pinned table id on its host, 0 = allocate */
    bool ipv4_pinned;
    nn_prefix ipv4_pin;         /* host prefix when ipv4_pinned */
    unsigned gw_roles;          /* peers: NN_GW_* */
    bool users_restricted;      /* peers: "allowed_users" given */
    const char **allowed_users; /* owned array of borrowed strings; sorted */
    size_t nallowed_users;
    const char *owner;        /* devices: the user it belongs to, or NULL */
    nn_routing_layer routing; /* devices: "routing_preference" */
    size_t doc_index;
    /* allocated by nn_alloc_assign */
    nn_prefix addr6; /* /128 */
    nn_prefix addr4; /* /32; family 0 when the network has no ipv4_cidr */
    /* derived by nn_alloc_assign: everything routed to this member through
     * the tunnel besides its own addresses -- lan_subnets, subnet
     * advertisements, the VIPs it routes, and (primary hub only) federated
     * prefixes. Sorted, unique. */
    nn_prefix *routed;
    size_t nrouted;
};

/* --- virtual IPs, subnet advertisements, route leaks (per network) ------- */

typedef enum nn_vip_mode { NN_VIP_FAILOVER = 0, NN_VIP_ANYCAST } nn_vip_mode;

typedef struct nn_vip {
    const char *name;
    nn_prefix address; /* a host prefix (/32 or /128) */
    nn_vip_mode mode;
    const nn_member **holders; /* owned array, in the operator's order: primary first */
    size_t nholders;
    size_t active; /* index of the holder that has it now (failover) */
    bool enabled;
    size_t doc_index;
} nn_vip;

typedef struct nn_subnet_adv {
    const char *name;
    const nn_member *peer; /* resolved; borrowed */
    nn_prefix prefix;
    size_t doc_index;
} nn_subnet_adv;

typedef struct nn_route_leak {
    const char *name;
    const char *from_name;
    const nn_network *from; /* resolved; borrowed */
    nn_prefix *prefixes;    /* owned; sorted; what may cross */
    size_t nprefixes;
    size_t doc_index;
} nn_route_leak;

/* --- BGP route policies --------------------------------------------------- */

typedef enum nn_rp_direction { NN_RP_IN = 0, NN_RP_OUT } nn_rp_direction;
typedef enum nn_rp_scope { NN_RP_WORKSPACE = 0, NN_RP_NETWORK, NN_RP_PEER } nn_rp_scope;

typedef struct nn_prefix_match {
    nn_prefix prefix;
    uint8_t ge, le; /* 0 = not given */
} nn_prefix_match;

typedef struct nn_rp_statement {
    bool permit;
    nn_prefix_match *prefixes; /* owned; one address family */
    size_t nprefixes;
    const char *as_path;      /* a regular expression, or NULL */
    const char **communities; /* owned array; match any */
    size_t ncommunities;
    bool set_local_pref, set_med;
    uint32_t local_pref, med;
    const char **set_communities; /* owned array; added to the route's */
    size_t nset_communities;
} nn_rp_statement;

typedef struct nn_route_policy {
    const char *name;
    nn_rp_direction direction;
    nn_rp_scope scope;
    bool default_permit;     /* what happens to a route no statement matched */
    const char **peer_names; /* owned array, sorted; NN_RP_PEER only */
    size_t npeer_names;
    nn_rp_statement *statements; /* owned; in order */
    size_t nstatements;
    size_t doc_index;
} nn_route_policy;

/* --- federation, OVN, hosts (per workspace) ------------------------------- */

typedef enum nn_fed_status { NN_FED_PROPOSED = 0, NN_FED_ACCEPTED, NN_FED_REVOKED } nn_fed_status;

typedef struct nn_federation_peer {
    const char *name;
    nn_fed_status status;
    nn_prefix *prefixes; /* owned; sorted; remote_prefixes */
    size_t nprefixes;
    const char **networks; /* owned array, sorted; empty = every network */
    size_t nnetworks;
    size_t doc_index;
} nn_federation_peer;

typedef struct nn_ovn_port {
    const char *name;
    const char *type;       /* "" = a VIF */
    const char **addresses; /* owned array, in order */
    size_t naddresses;
    size_t doc_index;
} nn_ovn_port;

typedef struct nn_ovn_acl {
    const char *name;
    const char *direction; /* from-lport / to-lport */
    int64_t priority;      /* 0-32767 */
    const char *match;
    const char *action; /* allow, allow-related, allow-stateless, drop, reject, pass */
    size_t doc_index;
} nn_ovn_acl;

typedef struct nn_ovn_switch {
    const char *name;
    nn_ovn_port *ports; /* owned; sorted by name */
    size_t nports;
    nn_ovn_acl *acls; /* owned; sorted by name */
    size_t nacls;
    size_t doc_index;
} nn_ovn_switch;

typedef struct nn_ovn_deployment {
    const char *name;
    const char *nb_endpoint, *sb_endpoint;
    const char *updated_at;  /* intent-supplied version time; NULL offline */
    nn_ovn_switch *switches; /* owned; sorted by name */
    size_t nswitches;
    size_t doc_index;
    /* resolved: the first host by name that names this deployment and runs
     * a peer. Its envelopes carry the plan, so exactly one node writes the
     * deployment's northbound database. NULL when no such host. */
    const nn_host *plan_host;
} nn_ovn_deployment;

typedef struct nn_ipfix_collector {
    const char *name;
    const char *target; /* "IP:port" */
    uint32_t sampling;  /* 1 in N packets */
    uint32_t obs_domain_id;
    size_t doc_index;
} nn_ipfix_collector;

typedef enum nn_bridge_kind { NN_BRIDGE_LINUX = 0, NN_BRIDGE_OVS } nn_bridge_kind;

typedef struct nn_bridge {
    const char *name;
    nn_bridge_kind kind;
    const nn_ipfix_collector *ipfix; /* resolved; OVS only */
    uint32_t short_id_pin;           /* 0 = allocate */
    size_t doc_index;
    /* allocated */
    uint32_t short_id;
    char kernel_name[16];
} nn_bridge;

/* A host's kernel routing table and VRF for one iBGP network on it. */
typedef struct nn_vrf {
    const nn_network *network; /* borrowed */
    const nn_member *peer;     /* the host's peer in that network, or NULL (a pin only) */
    const char *network_name;
    uint32_t table_id; /* 100-65535, never 253/254/255 */
    uint32_t short_id; /* 1.. per host */
    char name[16];     /* "vrf-" + the network's id8 */
    bool pinned;
} nn_vrf;

typedef enum nn_host_profile { NN_HOST_STANDARD = 0, NN_HOST_HEAVYWEIGHT } nn_host_profile;

/* A host is one node: one WireGuard key pair (made on the node), one
 * enrollment, one agent. By default its static networks share one
 * WireGuard interface (ifname) and port; iBGP networks, and every network
 * of a host with interface_per_network, get an interface and a VRF of
 * their own. */
struct nn_host {
    const char *name;
    nn_host_profile profile; /* heavyweight hosts run OVS (and may run OVN) */
    bool declared;           /* listed in "hosts" (else implied by a peer) */
    bool key_declared;       /* "public_key" given on the host */
    bool has_key;            /* the host's key, declared or its peers' (nn_hosts_check) */
    nn_key public_key;
    char public_key_b64[NN_KEY_B64_LEN + 1];
    bool interface_per_network; /* isolation mode */
    /* the shared interface of its static networks (unused in isolation
     * mode): its port, MTU and endpoint, which its peers there agree on */
    uint16_t shared_port, shared_mtu;
    char ifname[16];    /* allocated: "nn-" + 8 hex of the workspace's /48 and the name */
    const char *region; /* the platform region it is placed in, or NULL */
    nn_bridge *bridges; /* owned; sorted by name */
    size_t nbridges;
    const char *ovn_name;
    const nn_ovn_deployment *ovn; /* resolved */
    nn_prefix encap_ip;           /* family 0 when absent */
    nn_vrf *vrfs;                 /* owned; pins from the document, then allocated;
                                     sorted by network name */
    size_t nvrfs;
    size_t doc_index;
};

typedef struct nn_workspace nn_workspace;

/* A user's routing preference in one network ("user_routing_preferences";
 * the name is the user's). */
typedef struct nn_user_routing {
    const char *name;
    nn_routing_layer routing;
    size_t doc_index;
} nn_user_routing;

/* How the workspace's scheduler assigns gateways to networks. */
typedef struct nn_gw_policy {
    bool manual;         /* "assignment_mode": "manual": only pins */
    unsigned redundancy; /* gateways per network and function, 1-4 */
} nn_gw_policy;

struct nn_network {
    const char *name;
    const nn_workspace *workspace; /* borrowed back-pointer */
    bool has_ipv4;
    nn_prefix ipv4_cidr;
    bool ipv6_pinned;
    nn_prefix ipv6_pin; /* /64 */
    nn_topology topology;
    nn_routing_mode routing_mode;
    nn_verdict default_policy; /* ACCEPT or DROP */
    uint16_t listen_port;
    uint16_t mtu;
    nn_member *peers; /* owned; sorted by name */
    size_t npeers;
    nn_member *devices; /* owned; sorted by name */
    size_t ndevices;
    nn_fw_rule *rules; /* owned; sorted by (position, name) */
    size_t nrules;
    nn_port_mapping *mappings; /* owned; sorted by name */
    size_t nmappings;
    nn_vip *vips; /* owned; sorted by name */
    size_t nvips;
    nn_subnet_adv *advertisements; /* owned; sorted by name */
    size_t nadvertisements;
    nn_route_leak *leaks; /* owned; sorted by name */
    size_t nleaks;
    nn_route_policy *policies; /* owned; sorted by name; network and peer scope */
    size_t npolicies;
    nn_routing_layer routing;      /* "routing_policy" */
    nn_user_routing *user_routing; /* owned; sorted by user name */
    size_t nuser_routing;
    size_t doc_index;
    /* allocated */
    nn_prefix prefix6;    /* /64 */
    char id8[9];          /* 8 hex chars naming chains and the interface */
    char ifname[16];      /* Linux interface name, <= 15 chars */
    nn_prefix *federated; /* accepted federation prefixes for this network; sorted, unique */
    size_t nfederated;
};

struct nn_workspace {
    const char *name;
    bool ipv6_pinned;
    nn_prefix ipv6_pin; /* /48 */
    bool bgp_enabled;
    uint32_t bgp_as_pin; /* 0 = derive */
    const char *default_policy_name;
    const nn_route_policy *default_policy; /* resolved from policies; the baseline */
    nn_network *networks;                  /* owned; sorted by name */
    size_t nnetworks;
    nn_route_policy *policies; /* owned; sorted by name; workspace scope */
    size_t npolicies;
    nn_federation_peer *federation; /* owned; sorted by name */
    size_t nfederation;
    nn_ovn_deployment *ovn; /* owned; sorted by name */
    size_t novn;
    nn_ipfix_collector *ipfix; /* owned; sorted by name */
    size_t nipfix;
    nn_host *hosts; /* owned; sorted by name; declared and implied */
    size_t nhosts;
    const char *valid_from, *valid_until; /* credential validity (RFC 3339), or NULL */
    nn_gw_policy gateways;                /* "gateway_assignment" */
    size_t doc_index;
    /* allocated */
    nn_prefix prefix48;
    uint32_t bgp_as; /* the pin, or derived from the name */
};

typedef struct nn_doc {
    void *json_root; /* json_t*, owns every borrowed string */
    bool ula_pinned;
    nn_prefix ula_pin;        /* /40 */
    nn_workspace *workspaces; /* owned; sorted by name */
    size_t nworkspaces;
    /* allocated */
    nn_prefix ula40;
} nn_doc;

void nn_doc_free(nn_doc *doc);
/* Frees what a member owns (not the member itself). */
void nn_member_clear(nn_member *m);

/* Binary search over a name-sorted array of n structs of size bytes whose
 * first field is the name. NULL when absent. */
const void *nn_find_by_name(const void *base, size_t n, size_t size, const char *name);

/* Lookups by name; borrowed results, NULL when absent. O(log n). */
const nn_workspace *nn_doc_find_workspace(const nn_doc *doc, const char *name);
const nn_network *nn_workspace_find_network(const nn_workspace *ws, const char *name);
const nn_member *nn_network_find_peer(const nn_network *net, const char *name);
const nn_member *nn_network_find_device(const nn_network *net, const char *name);
/* A peer or a device of that name. */
const nn_member *nn_network_find_member(const nn_network *net, const char *name);
bool nn_member_has_tag(const nn_member *m, const char *tag);
const nn_host *nn_workspace_find_host(const nn_workspace *ws, const char *name);
const nn_vrf *nn_host_find_vrf(const nn_host *h, const nn_network *net);
/* True when net's traffic on host h goes through h's shared interface (a
 * static network, h not in isolation mode); else net has its own. */
bool nn_host_shares(const nn_host *h, const nn_network *net);
/* The name of the WireGuard interface net uses on h. */
const char *nn_host_ifname(const nn_host *h, const nn_network *net);
/* The peer h runs in net, or NULL. O(peers of net). */
const nn_member *nn_host_peer(const nn_host *h, const nn_network *net);
/* Failover: the holder that should have v when the holders named in down
 * are unhealthy -- the active one if it is healthy, else the next healthy
 * one in the operator's order, wrapping. Deterministic. Returns its index,
 * or -1 when every holder is down. */
int nn_vip_failover(const nn_vip *v, const char *const *down, size_t ndown);
/* True when peer binds v now: the active holder of a failover VIP, every
 * holder of an anycast one; never when v is disabled. */
bool nn_vip_held_by(const nn_vip *v, const nn_member *peer);

/* True when fp's prefixes reach net: fp is accepted and lists net (or
 * lists no network at all). */
bool nn_federation_applies(const nn_federation_peer *fp, const nn_network *net);

const nn_route_policy *nn_workspace_find_policy(const nn_workspace *ws, const char *name);
const nn_user_routing *nn_network_find_user_routing(const nn_network *net, const char *user);
/* True when peer p admits user's traffic by preference (no allowed_users
 * list, or user is on it). */
bool nn_gateway_admits(const nn_member *p, const char *user);

#endif
