#include "api/auth.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Token uses waiting to be recorded; more are dropped until the next flush
 * (a token seen again is noted again a minute later). */
#define PENDING_MAX 1024

struct nn_auth {
    pthread_mutex_t lock;
    int64_t pending[PENDING_MAX];
    size_t npending;
    /* uses recorded lately (the lookup cache may still hold the old time
     * for a moment): id and when, not noted again within the minute */
    int64_t recent[PENDING_MAX], recent_at[PENDING_MAX];
    size_t nrecent;
};

int nn_auth_new(nn_auth **out)
{
    nn_auth *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    pthread_mutex_init(&a->lock, NULL);
    *out = a;
    return 0;
}

void nn_auth_free(nn_auth *a)
{
    if (!a)
        return;
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* Notes a use of token id, to be recorded by the next flush. */
static void note_use(nn_auth *a, int64_t id)
{
    pthread_mutex_lock(&a->lock);
    bool known = false;
    for (size_t i = 0; i < a->npending && !known; i++)
        known = a->pending[i] == id;
    for (size_t i = 0; i < a->nrecent && !known; i++)
        known = a->recent[i] == id;
    if (!known && a->npending < PENDING_MAX)
        a->pending[a->npending++] = id;
    pthread_mutex_unlock(&a->lock);
}

int nn_auth_bearer(nn_auth *a, nn_lookup *lk, nn_store *store, const char *header, nn_user *out,
                   const char **why)
{
    size_t n = header && strncmp(header, "Bearer ", 7) == 0 ? strlen(header + 7) : 0;
    if (n == 0 || n > 128) {
        *why = "send \"Authorization: Bearer <token>\"";
        return -EACCES;
    }
    uint8_t hash[32];
    crypto_hash_sha256(hash, (const uint8_t *)header + 7, n);
    int r = nn_lookup_user(lk, store, hash, out);
    if (r == -ENOENT)
        *why = "unknown or revoked token";
    if (r == 0 && out->token_used + NN_AUTH_USE_RECORD_S < (int64_t)time(NULL))
        note_use(a, out->token_id);
    return r;
}

int nn_auth_flush(nn_auth *a, nn_store *store)
{
    int64_t ids[PENDING_MAX], now = (int64_t)time(NULL);
    pthread_mutex_lock(&a->lock);
    size_t n = a->npending, k = 0;
    memcpy(ids, a->pending, n * sizeof(*ids));
    a->npending = 0;
    for (size_t i = 0; i < a->nrecent; i++) /* keep the last minute's */
        if (a->recent_at[i] + NN_AUTH_USE_RECORD_S > now) {
            a->recent[k] = a->recent[i];
            a->recent_at[k++] = a->recent_at[i];
        }
    for (size_t i = 0; i < n && k < PENDING_MAX; i++, k++) {
        a->recent[k] = ids[i];
        a->recent_at[k] = now;
    }
    a->nrecent = k;
    pthread_mutex_unlock(&a->lock);
    return n ? nn_store_tokens_used(store, ids, n, now) : 0;
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
