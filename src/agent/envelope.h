/* nn_agent_envelope: what the gateway-daemon takes from a desired-state
 * envelope (docs/envelope.md), parsed fully and validated before anything
 * is applied -- parse, check, then apply (OpenBGPD's two phases).
 * The signature is checked before this (nn_envelope_verify). */
#ifndef NN_AGENT_ENVELOPE_H
#define NN_AGENT_ENVELOPE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/ovn.h"
#include "agent/wg.h"
#include "util/cidr.h"

#define NN_ENVELOPE_MAX (256u << 20) /* a 10k-peer hub is ~2 MB */

/* Turns "host:port" into an endpoint when the text is not an address
 * literal (a DNS name). 0 or negative errno. */
typedef int (*nn_agent_resolver)(const char *host_port, nn_wg_endpoint *out);

/* One WireGuard interface of the document. */
typedef struct nn_agent_iface {
    char ifname[16];
    uint32_t mtu;
    bool forwarding;      /* the node routes for others through it */
    nn_prefix *addresses; /* owned */
    size_t n_addresses;
    nn_prefix *routes; /* owned */
    size_t n_routes;
    char vrf[16];       /* vrf.name where it has one, else "" */
    uint32_t vrf_table; /* vrf.table_id, when vrf */
    nn_wg_device wg;    /* listen port and peers, sorted; no private key */
} nn_agent_iface;

/* At most this many interfaces in one document (a host in isolation mode
 * has one per network). */
#define NN_AGENT_MAX_IFACES 64

/* One of the host's bridges (a node document's host_bridges). */
typedef struct nn_agent_bridge {
    char name[16]; /* kernel_name */
    bool ovs;      /* an OVS bridge, else a Linux bridge */
} nn_agent_bridge;

/* At most this many bridges (short ids are 1-4095). */
#define NN_AGENT_MAX_BRIDGES 4095

/* What the daemon applies: a host's node document (docs/envelope.md), or
 * one membership's envelope -- then with its one interface. */
typedef struct nn_agent_envelope {
    bool node;              /* a node document */
    nn_agent_iface *ifaces; /* owned; sorted by name */
    size_t n_ifaces;
    char role[8];      /* an envelope's self.role (hub, spoke, member); "" in a node document */
    bool forwarding;   /* some interface forwards: IP forwarding on */
    char *nft_ruleset; /* owned: firewall then NAT, one transaction */
    char *frr_text;    /* owned; NULL without BGP */
    nn_agent_bridge *bridges; /* owned; sorted by name (node documents only) */
    size_t n_bridges;
    bool has_ovn;    /* the host applies an OVN deployment's plan */
    nn_ovn_plan ovn; /* when has_ovn */
} nn_agent_envelope;

/* Parses and validates bytes (need not be NUL-terminated): a node
 * document when they have "interfaces", else an envelope. 0, or -EINVAL
 * with why naming the JSON path and the problem. resolver may be NULL:
 * then an endpoint must be an address literal. *out is freed on failure. */
int nn_agent_envelope_parse(const char *bytes, size_t len, nn_agent_resolver resolver,
                            nn_agent_envelope *out, char *why, size_t why_len);
void nn_agent_envelope_free(nn_agent_envelope *e);

/* The interface named ifname, or NULL. */
const nn_agent_iface *nn_agent_envelope_iface(const nn_agent_envelope *e, const char *ifname);

/* Runs interface `from` under another name (several nodes on one machine,
 * as the tests do): renames it and rewrites the ruleset's quoted "NAME"
 * matches. to must be nn_wg_ifname_valid. -ENOENT when there is no
 * interface `from`, -EEXIST when `to` is taken. */
int nn_agent_envelope_rename(nn_agent_envelope *e, const char *from, const char *to);

#endif
