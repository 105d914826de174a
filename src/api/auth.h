/* nn_auth: API tokens. A token is "nn_" + 256 random bits; only its
 * SHA-256 is stored (256-bit random secrets need no slow hash), and the
 * secret is shown once. Verification maps "Authorization: Bearer <token>"
 * to its user through the lookup cache (lookup.h: a revoked token stops
 * working within a second). When a token was last used is recorded at
 * most once a minute, in batches, off the request's path
 * (nn_auth_flush). Thread-safe. */
#ifndef NN_API_AUTH_H
#define NN_API_AUTH_H

#include <stdint.h>

#include "api/lookup.h"
#include "store/store.h"

#define NN_API_TOKEN_LEN 48 /* with the NUL */
/* A token's use is recorded when the last record is older than this. */
#define NN_AUTH_USE_RECORD_S 60

typedef struct nn_auth nn_auth;

int nn_auth_new(nn_auth **out);
void nn_auth_free(nn_auth *a);
/* The user of an Authorization header value: 0; -EACCES when the header
 * is missing or malformed (*why says how), -ENOENT for an unknown or
 * revoked token; else a store error. */
int nn_auth_bearer(nn_auth *a, nn_lookup *lk, nn_store *store, const char *header, nn_user *out,
                   const char **why);
/* Writes the token uses noted since the last call. */
int nn_auth_flush(nn_auth *a, nn_store *store);
/* A new token for user_id, stored hashed; the secret is written to token
 * (NUL-terminated) and never again retrievable. Call inside a transaction
 * to make it part of a larger write. */
int nn_auth_token_issue(nn_store *store, int64_t user_id, const char *name,
                        char token[NN_API_TOKEN_LEN]);

#endif
