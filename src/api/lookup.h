/* nn_lookup: what every authenticated request looks up first -- the
 * caller of a token, the workspace of a name, the caller's role there, the
 * network of a name -- cached, so that a cached envelope GET costs no
 * database read at all.
 *
 * An entry lives at most NN_LOOKUP_TTL_MS (a revoked token, a removed
 * member or a deleted workspace stops working within that), and every
 * write this nanamid commits drops them all at once (its own changes are
 * seen by the very next request). Lookups that fail are not cached.
 * Thread-safe. */
#ifndef NN_API_LOOKUP_H
#define NN_API_LOOKUP_H

#include <stdint.h>

#include "store/store.h"

#define NN_LOOKUP_TTL_MS 1000

typedef struct nn_lookup nn_lookup;
typedef struct nn_notify nn_notify;

/* notify is the write generation the entries are checked against. */
int nn_lookup_new(nn_notify *notify, nn_lookup **out);
void nn_lookup_free(nn_lookup *lk);

/* The user of an API token, by its SHA-256. */
int nn_lookup_user(nn_lookup *lk, nn_store *store, const uint8_t hash[32], nn_user *out);
/* The workspace named name; out->body and ->alloc are shared and
 * read-only (nn_row_clear releases them as usual). */
int nn_lookup_workspace(nn_lookup *lk, nn_store *store, const char *name, nn_row *out);
/* The role of user_id in workspace ws_id of that epoch (NN_ROLE_NONE for
 * none): a workspace deleted and made again under the same id is another. */
int nn_lookup_role(nn_lookup *lk, nn_store *store, int64_t ws_id, int64_t epoch, int64_t user_id,
                   nn_role *out);
/* The network named name in workspace ws_id (shared, read-only). */
int nn_lookup_network(nn_lookup *lk, nn_store *store, int64_t ws_id, const char *name, nn_row *out);

#endif
