/* nn_apply: the gateway-daemon's side effects, each one idempotent and
 * each one a diff against what the host has now. */
#ifndef NN_AGENT_APPLY_H
#define NN_AGENT_APPLY_H
#include <stdbool.h>
#include <stddef.h>

#include "agent/envelope.h"
#include "agent/wg.h"

typedef struct nn_apply_wg_stats {
    size_t added, updated, removed, unchanged;
    int private_key_set, listen_port_set; /* 0 or 1 */
    bool userspace; /* the device was wireguard-go's (UAPI), not the kernel's */
} nn_apply_wg_stats;

/* The device's backend: wireguard-go's UAPI socket
 * (NN_UAPI_SOCKET_DIR/IFNAME.sock) when there is one, else kernel
 * WireGuard over generic netlink. nn_wg_get/nn_wg_set read and write
 * through it (uapi.h, wgnl.h). */
bool nn_wg_userspace(const char *ifname);
int nn_wg_get(const char *ifname, nn_wg_device *out, char *why, size_t why_len);
int nn_wg_set(const char *ifname, const nn_wg_device *change, char *why, size_t why_len);

/* Brings the device ifname to desired (sorted, with the private key),
 * through the backend chosen once for the call: one "get", a diff (nn_wg_diff, with previous as
 * the last applied desired state or NULL), and one "set" carrying only the
 * changes -- nothing at all when there are none. O(n log n) in peers. */
int nn_apply_wg(const char *ifname, const nn_wg_device *desired, const nn_wg_device *previous,
                nn_apply_wg_stats *stats, char *why, size_t why_len);

/* Loads the ruleset text in one libnftables transaction (all of it or
 * none). The envelope's text only adds and flushes Nanami's own table and
 * chains, so nothing else on the host is touched. *changed (may be NULL)
 * says whether Nanami's table reads differently after the load than
 * before it: on a re-apply of the same text, a hand edit put back. The
 * table is listed stateless (no counters), twice per call. */
int nn_apply_nft(const char *ruleset, bool *changed, char *why, size_t why_len);

#endif
