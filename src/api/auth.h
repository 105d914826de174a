/* nn_auth: API tokens. A token is "nn_" + 256 random bits; only its
 * SHA-256 is stored (256-bit random secrets need no slow hash), and the
 * secret is shown once. Verification maps "Authorization: Bearer <token>"
 * to its user. Thread-safe. */
#ifndef NN_API_AUTH_H
#define NN_API_AUTH_H

#include <stdint.h>

#include "store/store.h"

#define NN_API_TOKEN_LEN 48 /* with the NUL */

typedef struct nn_auth nn_auth;

int nn_auth_new(nn_auth **out);
void nn_auth_free(nn_auth *a);
/* The user of an Authorization header value: 0; -EACCES when the header
 * is missing or malformed (*why says how), -ENOENT for an unknown or
 * revoked token; else a store error. */
int nn_auth_bearer(nn_auth *a, nn_store *store, const char *header, nn_user *out, const char **why);
/* A new token for user_id, stored hashed; the secret is written to token
 * (NUL-terminated) and never again retrievable. Call inside a transaction
 * to make it part of a larger write. */
int nn_auth_token_issue(nn_store *store, int64_t user_id, const char *name,
                        char token[NN_API_TOKEN_LEN]);

#endif
