#include "api/auth.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct nn_auth {
    int unused; /* the verification cache arrives with its own commit */
};

int nn_auth_new(nn_auth **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : -ENOMEM;
}

void nn_auth_free(nn_auth *a)
{
    free(a);
}

int nn_auth_bearer(nn_auth *a, nn_store *store, const char *header, nn_user *out, const char **why)
{
    (void)a;
    size_t n = header && strncmp(header, "Bearer ", 7) == 0 ? strlen(header + 7) : 0;
    if (n == 0 || n > 128) {
        *why = "send \"Authorization: Bearer <token>\"";
        return -EACCES;
    }
    uint8_t hash[32];
    crypto_hash_sha256(hash, (const uint8_t *)header + 7, n);
    int r = nn_store_token_user(store, hash, out);
    if (r == -ENOENT)
        *why = "unknown or revoked token";
    return r;
}

int nn_auth_token_issue(nn_store *store, int64_t user_id, const char *name,
                        char token[NN_API_TOKEN_LEN])
{
    uint8_t secret[32], hash[32];
    randombytes_buf(secret, sizeof(secret));
    memcpy(token, "nn_", 3);
    sodium_bin2base64(token + 3, NN_API_TOKEN_LEN - 3, secret, sizeof(secret),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(secret, sizeof(secret));
    crypto_hash_sha256(hash, (const uint8_t *)token, strlen(token));
    return nn_store_token_add(store, user_id, name, hash);
}
