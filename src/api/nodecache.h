/* nn_nodecache: node documents (compile/node.h), the one artifact a host's
 * agent applies, signed and cached per workspace version.
 *
 * A node document spans the host's networks and the workspace's prefixes,
 * so it follows the workspace's version rather than one network's
 * revision. Per workspace the cache holds the model at its version, the
 * compile plans of the networks asked for so far, and each host's last
 * document. At a new version a host's document is rendered again when
 * asked for; bytes equal to the last ones keep their blob, ETag and
 * signature, so an unchanged node sees 304s.
 *
 * Revisions: a changed document is signed at the highest revision of the
 * workspace's networks or its floor (nn_store_max_revision, read before
 * the model), and above the host's last one. Every write that can change
 * a document bumps a network's revision to at least the wall clock (a
 * host leaving a network bumps that network; deleting a network bumps the
 * others and the floor), so a host's revisions only grow -- also across
 * restarts, and the same on every nanamid that shares the database.
 *
 * Thread-safe: the cache's lock only finds (or makes, or drops) a
 * workspace's entry; each entry has its own lock, held while its model
 * loads and a document compiles, so one large workspace's change delays
 * only that workspace's nodes. A dropped entry lives until its last user
 * lets go. */
#ifndef NN_API_NODECACHE_H
#define NN_API_NODECACHE_H

#include <stdint.h>

#include "api/envcache.h"
#include "store/store.h"

/* Workspaces kept; the least recently used is dropped beyond it. */
#define NN_NODECACHE_MAX 256

typedef struct nn_nodecache nn_nodecache;

int nn_nodecache_new(nn_nodecache **out);
void nn_nodecache_free(nn_nodecache *nc);

/* Host host's document in workspace ws (the row as the router read it:
 * id, name, version, epoch), signed with sign_sk when not NULL. *out is
 * referenced: nn_env_blob_release it. -ENOENT when the workspace has no
 * such host (no hosts row and no peer on it); -EINVAL when the stored
 * workspace does not validate (why says where). */
int nn_nodecache_get(nn_nodecache *nc, nn_store *store, const nn_row *ws, const char *host,
                     const uint8_t *sign_sk, nn_env_blob **out, char *why, size_t why_len);

#endif
