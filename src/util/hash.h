/* nn_hash: SHA-256 over a sequence of labelled parts. Every deterministic
 * derivation in the allocators goes through here so the domain separation
 * ("which allocator, which counter") is written down in one place. */
#ifndef NN_UTIL_HASH_H
#define NN_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define NN_HASH_LEN 32

/* SHA-256 of: domain NUL part[0] NUL part[1] NUL ... then the counter as 4
 * big-endian bytes. NUL separators make ("ab","c") and ("a","bc") differ. */
void nn_hash_parts(const char *domain, const char *const *parts, size_t nparts, uint32_t counter,
                   uint8_t out[NN_HASH_LEN]);
void nn_hash_bytes(const void *data, size_t len, uint8_t out[NN_HASH_LEN]);
/* Lowercase hex of the first nbytes of h into buf (2*nbytes+1 bytes). */
void nn_hash_hex(const uint8_t *h, size_t nbytes, char *buf);

#endif
