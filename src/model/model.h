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

/* One side of a firewall rule: exactly one of peer / cidr / tag / all. */
typedef struct nn_selector {
    nn_selector_kind kind;
    const char *name;  /* peer (or device) name, or tag */
    nn_prefix cidr;    /* NN_SEL_CIDR */
    const nn_member *member; /* NN_SEL_PEER, resolved after sorting; borrowed */
} nn_selector;

typedef struct nn_port_range {
    uint16_t lo, hi; /* inclusive, lo <= hi */
} nn_port_range;

typedef struct nn_fw_rule {
    const char *name;
    int64_t position;      /* rules run in (position, name) order */
    bool enabled;
    nn_verdict action;
    nn_proto protocol;
    nn_port_range *ports;  /* owned; sorted, merged; empty = every port */
    size_t nports;
    nn_selector source, destination;
    size_t doc_index;      /* index in the document, for error messages */
} nn_fw_rule;

typedef struct nn_port_mapping {
    const char *name;
    const char *hub_name;
    const nn_member *hub;  /* resolved; borrowed */
    nn_proto protocol;     /* TCP or UDP */
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
    bool publicly_reachable;  /* peers only: the hub flag */
    const char *endpoint;     /* "host:port" or NULL when unknown */
    nn_prefix *lan_subnets;   /* owned; sorted */
    size_t nlan;
    const char **tags;        /* owned array of borrowed strings; sorted, unique */
    size_t ntags;
    const char *host;         /* defaults to name */
    uint16_t listen_port;     /* 0 = the network's */
    bool ipv4_pinned;
    nn_prefix ipv4_pin;       /* host prefix when ipv4_pinned */
    size_t doc_index;
    /* allocated by nn_alloc_assign */
    nn_prefix addr6;          /* /128 */
    nn_prefix addr4;          /* /32; family 0 when the network has no ipv4_cidr */
};

typedef struct nn_workspace nn_workspace;

typedef struct nn_network {
    const char *name;
    const nn_workspace *workspace; /* borrowed back-pointer */
    bool has_ipv4;
    nn_prefix ipv4_cidr;
    bool ipv6_pinned;
    nn_prefix ipv6_pin;       /* /64 */
    nn_topology topology;
    nn_routing_mode routing_mode;
    nn_verdict default_policy; /* ACCEPT or DROP */
    uint16_t listen_port;
    uint16_t mtu;
    nn_member *peers;         /* owned; sorted by name */
    size_t npeers;
    nn_member *devices;       /* owned; sorted by name */
    size_t ndevices;
    nn_fw_rule *rules;        /* owned; sorted by (position, name) */
    size_t nrules;
    nn_port_mapping *mappings; /* owned; sorted by name */
    size_t nmappings;
    size_t doc_index;
    /* allocated */
    nn_prefix prefix6;        /* /64 */
    char id8[9];              /* 8 hex chars naming chains and the interface */
    char ifname[16];          /* Linux interface name, <= 15 chars */
} nn_network;

struct nn_workspace {
    const char *name;
    bool ipv6_pinned;
    nn_prefix ipv6_pin;       /* /48 */
    bool bgp_enabled;
    uint32_t bgp_as_number;   /* 0 = derive (issue 3) */
    nn_network *networks;     /* owned; sorted by name */
    size_t nnetworks;
    size_t doc_index;
    /* allocated */
    nn_prefix prefix48;
};

typedef struct nn_doc {
    void *json_root;          /* json_t*, owns every borrowed string */
    bool ula_pinned;
    nn_prefix ula_pin;        /* /40 */
    nn_workspace *workspaces; /* owned; sorted by name */
    size_t nworkspaces;
    /* allocated */
    nn_prefix ula40;
} nn_doc;

void nn_doc_free(nn_doc *doc);

/* Lookups by name; borrowed results, NULL when absent. O(log n). */
const nn_workspace *nn_doc_find_workspace(const nn_doc *doc, const char *name);
const nn_network *nn_workspace_find_network(const nn_workspace *ws, const char *name);
const nn_member *nn_network_find_peer(const nn_network *net, const char *name);
const nn_member *nn_network_find_device(const nn_network *net, const char *name);
/* A peer or a device of that name. */
const nn_member *nn_network_find_member(const nn_network *net, const char *name);
bool nn_member_has_tag(const nn_member *m, const char *tag);

#endif
