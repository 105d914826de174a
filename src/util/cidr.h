/* nn_prefix: IPv4 and IPv6 addresses and prefixes (CIDR), parsed strictly
 * and printed in one canonical form (inet_ntop, lowercase, compressed). */
#ifndef NN_UTIL_CIDR_H
#define NN_UTIL_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NN_AF_INET4 4
#define NN_AF_INET6 6
#define NN_PREFIX_STRLEN 64 /* "ffff:...:ffff/128" plus NUL, with room */

typedef struct nn_prefix {
    uint8_t family; /* NN_AF_INET4 or NN_AF_INET6; 0 = unset */
    uint8_t len;    /* prefix length: 0..32 or 0..128 */
    uint8_t addr[16]; /* network byte order; IPv4 uses the first 4 bytes */
} nn_prefix;

/* Parses "A.B.C.D/N" or "X::Y/N". With require_network, host bits must be
 * zero (-EINVAL otherwise, message says so). A bare address is rejected
 * unless allow_bare, in which case it becomes a /32 or /128.
 * On failure, writes a short reason into why (may be NULL). */
int nn_prefix_parse(const char *s, bool require_network, bool allow_bare, nn_prefix *out,
                    const char **why);
/* Parses a bare address (no "/N"); the result is a host prefix. */
int nn_addr_parse(const char *s, nn_prefix *out);
/* Canonical text into buf (at least NN_PREFIX_STRLEN bytes). with_len
 * selects "addr/len" versus just "addr". Returns buf. */
char *nn_prefix_format(const nn_prefix *p, bool with_len, char *buf);
/* Total order: family, then address bytes, then length. */
int nn_prefix_cmp(const nn_prefix *a, const nn_prefix *b);
/* True if inner lies inside outer (same family, outer->len <= inner->len). */
bool nn_prefix_contains(const nn_prefix *outer, const nn_prefix *inner);
bool nn_prefix_overlaps(const nn_prefix *a, const nn_prefix *b);
/* Makes a host prefix (/32 or /128) from an address. */
nn_prefix nn_prefix_host(const nn_prefix *addr);
size_t nn_prefix_addr_bytes(const nn_prefix *p);

#endif
