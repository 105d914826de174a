#include "util/hash.h"

#include <sodium.h>
#include <string.h>

void nn_hash_parts(const char *domain, const char *const *parts, size_t nparts, uint32_t counter,
                   uint8_t out[NN_HASH_LEN])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)domain, strlen(domain) + 1);
    for (size_t i = 0; i < nparts; i++)
        crypto_hash_sha256_update(&st, (const unsigned char *)parts[i], strlen(parts[i]) + 1);
    unsigned char c[4] = {(unsigned char)(counter >> 24), (unsigned char)(counter >> 16),
                          (unsigned char)(counter >> 8), (unsigned char)counter};
    crypto_hash_sha256_update(&st, c, sizeof(c));
    crypto_hash_sha256_final(&st, out);
}

void nn_hash_bytes(const void *data, size_t len, uint8_t out[NN_HASH_LEN])
{
    crypto_hash_sha256(out, data, len);
}

void nn_hash_hex(const uint8_t *h, size_t nbytes, char *buf)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < nbytes; i++) {
        buf[2 * i] = hex[h[i] >> 4];
        buf[2 * i + 1] = hex[h[i] & 15];
    }
    buf[2 * nbytes] = '\0';
}
