/* nn_rtnl: the overlay interface's link state, addresses and routes over
 * rtnetlink (libmnl), each brought to the envelope by diff. */
#ifndef NN_AGENT_RTNL_H
#define NN_AGENT_RTNL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/cidr.h"

/* Routes Nanami installs carry this protocol number, so a dump tells them
 * apart from routes the kernel or an operator added, and only ours are
 * ever removed. 78 ('N') is unassigned in rtnetlink.h and rt_protos. */
#define NN_RTPROT 78

typedef struct nn_rtnl_stats {
    bool link_changed; /* mtu, up state or VRF membership was put back */
    size_t addresses_added, addresses_removed;
    size_t routes_added, routes_removed;
} nn_rtnl_stats;

/* What the overlay interface should look like. */
typedef struct nn_rtnl_link {
    uint32_t mtu;
    const nn_prefix *addresses;
    size_t n_addresses;
    const nn_prefix *routes;
    size_t n_routes;
    const char *vrf; /* the VRF device it belongs to (nn_rtnl_ensure_vrf); NULL = none */
    uint32_t table;  /* the VRF's table; routes go there (0 = the main table) */
} nn_rtnl_link;

/* Sets the MTU, the up flag and the VRF membership, then makes the
 * interface's addresses exactly `addresses` (IPv6 link-local ones are left
 * alone) and Nanami's routes through it exactly `routes`, in the VRF's
 * table or the main one; Nanami's routes through it in any other table
 * are removed. IPv6 addresses are added without duplicate address
 * detection: the /128s come from the allocator, and DAD would hold them
 * tentative for a second or more. */
int nn_rtnl_apply(const char *ifname, const nn_rtnl_link *want, nn_rtnl_stats *stats, char *why,
                  size_t why_len);

/* Creates a kernel WireGuard interface (ip link add NAME type wireguard).
 * -EOPNOTSUPP when the kernel has no WireGuard module. */
int nn_rtnl_add_wireguard(const char *ifname, char *why, size_t why_len);

/* Makes `name` an up VRF device bound to `table` -- created when absent,
 * recreated when it is bound to another table. Returns 1 when it changed
 * something, 0 when it was already so; -EOPNOTSUPP when the kernel has no
 * VRF module; -EEXIST when `name` is a device of another kind. */
int nn_rtnl_ensure_vrf(const char *name, uint32_t table, char *why, size_t why_len);

/* Makes `name` an up Linux bridge (a host bridge of the node document):
 * created when absent. 1 when it changed something, 0 when it was so
 * already; -EEXIST when `name` is a device of another kind. */
int nn_rtnl_ensure_bridge(const char *name, char *why, size_t why_len);

/* Removes device `name` (an interface a node left, or its VRF). Returns 1
 * when it removed it, 0 when there was none. */
int nn_rtnl_delete_link(const char *name, char *why, size_t why_len);

/* Turns on IPv4 and IPv6 forwarding in this network namespace (hubs and
 * gateways). Returns 1 when either was off, 0 when both were on already. */
int nn_rtnl_enable_forwarding(char *why, size_t why_len);

#endif
