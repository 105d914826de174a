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
    bool link_changed; /* mtu or up state was put back */
    size_t addresses_added, addresses_removed;
    size_t routes_added, routes_removed;
} nn_rtnl_stats;

/* Sets the MTU and the up flag, then makes the interface's addresses
 * exactly `addresses` (IPv6 link-local ones are left alone) and Nanami's
 * routes through it in the main table exactly `routes`. IPv6 addresses are
 * added without duplicate address detection: the /128s come from the
 * allocator, and DAD would hold them tentative for a second or more. */
int nn_rtnl_apply(const char *ifname, uint32_t mtu, const nn_prefix *addresses, size_t n_addresses,
                  const nn_prefix *routes, size_t n_routes, nn_rtnl_stats *stats, char *why,
                  size_t why_len);

/* Turns on IPv4 and IPv6 forwarding in this network namespace (hubs and
 * gateways). Returns 1 when either was off, 0 when both were on already. */
int nn_rtnl_enable_forwarding(char *why, size_t why_len);

#endif
