/* nn_wg: one WireGuard device and its peers as plain data, no I/O.
 *
 * The same struct describes three things: the device as observed (parsed
 * from the UAPI "get" answer), the device as the envelope wants it, and a
 * *change* -- the partial update that turns one into the other, where flags
 * say which fields are meant (as wireguard-tools' containers.h does).
 * Backends (uapi.c for wireguard-go; kernel generic netlink later) only
 * translate this struct to and from their wire form. */
#ifndef NN_AGENT_WG_H
#define NN_AGENT_WG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/cidr.h"
#include "util/key.h"

/* nn_wg_device.flags */
#define NN_WG_HAS_PRIVATE_KEY (1u << 0)
#define NN_WG_HAS_LISTEN_PORT (1u << 1)

/* nn_wg_peer.flags; a change with none of them set touches nothing. */
#define NN_WG_PEER_REMOVE (1u << 0)
#define NN_WG_PEER_HAS_ENDPOINT (1u << 1)
#define NN_WG_PEER_HAS_KEEPALIVE (1u << 2)
#define NN_WG_PEER_REPLACE_ALLOWED_IPS (1u << 3)
#define NN_WG_PEER_UPDATE_ONLY (1u << 4) /* change an existing peer, never create */

typedef struct nn_wg_endpoint {
    uint8_t family; /* NN_AF_INET4, NN_AF_INET6, 0 = none */
    uint8_t addr[16];
    uint16_t port;
} nn_wg_endpoint;

typedef struct nn_wg_peer {
    nn_key public_key;
    uint32_t flags;
    nn_wg_endpoint endpoint;
    uint16_t keepalive; /* seconds; 0 = off */
    nn_prefix *allowed; /* owned; sorted by nn_wg_device_sort */
    size_t n_allowed, cap_allowed;
    /* Observed only. */
    int64_t last_handshake_sec; /* 0 = never */
    uint64_t rx_bytes, tx_bytes;
} nn_wg_peer;

typedef struct nn_wg_device {
    uint32_t flags;
    /* Desired and change only: the node's own private key. Parsing an
     * observed device keeps just the public key derived from it, and
     * nn_wg_device_free wipes this field. */
    nn_key private_key;
    nn_key public_key; /* derived from the private key */
    uint16_t listen_port;
    nn_wg_peer *peers; /* owned */
    size_t n_peers, cap_peers;
} nn_wg_device;

/* Appends a zeroed peer and returns it (borrowed; valid until the next
 * add). Out-of-memory aborts, as nn_buf does. */
nn_wg_peer *nn_wg_device_add_peer(nn_wg_device *d, const nn_key *public_key);
void nn_wg_peer_add_allowed(nn_wg_peer *p, const nn_prefix *prefix);
/* Frees the peers and wipes the keys; the device is left empty. */
void nn_wg_device_free(nn_wg_device *d);

/* Sorts the peers by public key and each peer's allowed IPs with
 * nn_prefix_cmp, removing duplicate prefixes. O(n log n). -EEXIST if two
 * peers share a public key. */
int nn_wg_device_sort(nn_wg_device *d);

/* Endpoint text: "A.B.C.D:PORT" or "[V6]:PORT" (a "%zone" suffix inside
 * the brackets is accepted and dropped). No DNS: -EINVAL for a name. */
int nn_wg_endpoint_parse(const char *s, size_t len, nn_wg_endpoint *out);
/* buf must hold 56 bytes. */
char *nn_wg_endpoint_format(const nn_wg_endpoint *e, char *buf);
bool nn_wg_endpoint_equal(const nn_wg_endpoint *a, const nn_wg_endpoint *b);

/* Computes into *change the smallest partial update that turns current into
 * desired. Both must be sorted (nn_wg_device_sort). Peers that are equal do
 * not appear in the change at all, so their sessions and handshakes are not
 * disturbed; a changed peer carries only the fields that differ, with
 * NN_WG_PEER_UPDATE_ONLY.
 *
 * Endpoints roam: WireGuard moves a peer's endpoint to wherever its
 * authenticated packets come from. A desired endpoint is therefore written
 * only when the peer is new, when the device has none for it, or when the
 * desired endpoint itself changed since `previous` (the last applied desired
 * state; NULL on a first apply, which writes every differing endpoint).
 * A peer with no desired endpoint keeps whatever it roamed to.
 *
 * Returns the number of peer operations in the change (0: nothing to do
 * for peers; device flags may still be set). O(n + m). */
size_t nn_wg_diff(const nn_wg_device *desired, const nn_wg_device *current,
                  const nn_wg_device *previous, nn_wg_device *change);

/* A Linux interface name: 1-15 bytes of [A-Za-z0-9_.-], not "." or "..".
 * Also what keeps NN_UAPI_SOCKET_DIR/NAME.sock inside its directory. */
bool nn_wg_ifname_valid(const char *name);

/* Binary search of a sorted device; borrowed, NULL when absent. */
const nn_wg_peer *nn_wg_device_find(const nn_wg_device *d, const nn_key *public_key);

#endif
