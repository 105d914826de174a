/* nn_envcache: compiled envelopes, per network at its current revision.
 *
 * An entry holds a network's model and compile plan at one revision, a
 * digest of every peer's envelope (nn_compile_peer_digest), and each
 * envelope once some caller asked for it. A changed network gets a new
 * revision, so a stale entry is simply replaced; an unchanged one is never
 * recompiled. At a new revision, an envelope whose digest did not change
 * is carried over from the previous entry, not rendered again: a one-peer
 * change renders only the envelopes it affects.
 *
 * Thread-safe. Entries are reference-counted; a plan is single-threaded,
 * so render under nn_envcache_lock. */
#ifndef NN_API_ENVCACHE_H
#define NN_API_ENVCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "compile/compile.h"
#include "compile/credential.h"
#include "model/model.h"
#include "store/store.h"

typedef struct nn_envcache nn_envcache;
typedef struct nn_envcache_entry nn_envcache_entry;

/* A rendered envelope: immutable, shared between revisions. */
typedef struct nn_env_blob {
    unsigned refs; /* atomic */
    size_t len;
    char etag[72];                 /* quoted SHA-256 of data */
    char sig[NN_ENVELOPE_SIG_MAX]; /* "REVISION.SIG"; empty when unsigned */
    char data[];
} nn_env_blob;

/* Blobs are rendered in place: nn_env_blob_begin leaves room for the
 * header, the caller appends the bytes, nn_env_blob_finish adopts the
 * buffer (refs 1, ETag set, unsigned). */
void nn_env_blob_begin(nn_buf *b);
nn_env_blob *nn_env_blob_finish(nn_buf *b);
void nn_env_blob_retain(nn_env_blob *b);
void nn_env_blob_release(nn_env_blob *b);

/* What the cache did since it was made (GET /api/v1/stats). At each new
 * revision of a network every peer's envelope is digested: added (no
 * predecessor), changed, or unchanged -- and an unchanged one already
 * rendered is carried over rather than rendered again. */
typedef struct nn_envcache_stats {
    unsigned long networks_compiled;  /* compile plans built */
    unsigned long envelopes_rendered; /* full renders */
    unsigned long envelopes_added;
    unsigned long envelopes_changed;
    unsigned long envelopes_unchanged;
    unsigned long envelopes_carried; /* unchanged and reused without a render */
} nn_envcache_stats;

int nn_envcache_new(nn_envcache **out);
void nn_envcache_free(nn_envcache *ec);
void nn_envcache_stats_get(nn_envcache *ec, nn_envcache_stats *out);

/* The entry of network row net (its id, name and revision) of workspace
 * ws, compiled from store on a miss (concurrent callers of one revision
 * may both compile; the newer insert wins). Returned referenced:
 * nn_envcache_release() it. O(workspace) on a miss, O(1) on a hit. */
int nn_envcache_get(nn_envcache *ec, nn_store *store, const nn_row *ws, const nn_row *net,
                    nn_envcache_entry **out);
void nn_envcache_release(nn_envcache *ec, nn_envcache_entry *e);

/* Rendering and reading the plan happen under the entry's lock. */
void nn_envcache_lock(nn_envcache_entry *e);
void nn_envcache_unlock(nn_envcache_entry *e);
/* Borrowed while e is referenced. */
const nn_network *nn_envcache_network(const nn_envcache_entry *e);
nn_net_plan *nn_envcache_plan(const nn_envcache_entry *e);
/* peer's envelope (a peer of nn_envcache_network(e)), rendered once unless
 * carried over, signed with sign_sk at the entry's revision when sign_sk
 * is not NULL. Borrowed while e is referenced. Call locked. */
const nn_env_blob *nn_envcache_envelope(nn_envcache *ec, nn_envcache_entry *e,
                                        const nn_member *peer, const uint8_t *sign_sk);

#endif
