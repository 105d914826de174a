/* nn_wscache: every workspace's intent rows as of its version, kept in
 * memory so a write costs what it changes, not what the workspace holds.
 *
 * A state (nn_wsstate) is immutable once published and shared by the
 * requests that read it (reference-counted). A write copies the state it
 * read (O(rows) memcpy, no parsing), applies its change, and -- once it has
 * committed and bumped the workspace's version -- publishes the copy as
 * the current state. A reader compares the cached version with the
 * workspace's (one indexed read) and reloads from the store only when
 * someone else changed it (another nanamid on the same database, or a
 * failed install). Rows are found by (network, kind, name) in O(1).
 *
 * At most NN_WSCACHE_MAX workspaces are kept; the least recently used is
 * dropped. Thread-safe. */
#ifndef NN_API_WSCACHE_H
#define NN_API_WSCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define NN_WSCACHE_MAX 256

typedef struct nn_wscache nn_wscache;

typedef struct nn_wsstate {
    unsigned refs;   /* atomic */
    int64_t version; /* the workspace's version this state is */
    nn_row ws;       /* the workspace row (owned) */
    /* Every row (owned). A row with id 0 is a hole a deletion left. */
    nn_row *rows;
    size_t nrows, cap, live;
    /* Open addressing over (network_id, kind, name): position + 1; 0 is
     * empty, UINT32_MAX a deleted entry. */
    uint32_t *table;
    size_t tsize; /* a power of two */
    size_t *nets; /* positions of the network rows (a workspace has few) */
    size_t nnets, netcap;
    int64_t next_temp; /* ids for rows not stored yet: -1, -2, ... */
} nn_wsstate;

int nn_wscache_new(nn_wscache **out);
void nn_wscache_free(nn_wscache *wc);

/* The current state of workspace ws (its id and name as the router read
 * them), from the cache or read from store. Referenced: release it. */
int nn_wscache_get(nn_wscache *wc, nn_store *store, const nn_row *ws, nn_wsstate **out);
/* Publishes st (its version set) as its workspace's current state, unless
 * a newer one is there. Takes a reference. */
void nn_wscache_install(nn_wscache *wc, nn_wsstate *st);
/* Forgets a workspace (deleted). */
void nn_wscache_drop(nn_wscache *wc, int64_t ws_id);

/* Writes decided incrementally (incremental.h) or by a full validation,
 * since start; and whether the incremental path is used at all (on; a
 * test turns it off to compare both). */
void nn_wscache_count(nn_wscache *wc, bool incremental);
void nn_wscache_counts(nn_wscache *wc, unsigned long *incremental, unsigned long *full);
void nn_wscache_set_incremental(nn_wscache *wc, bool on);
/* The database has one writer at a time. This nanamid's writes wait for
 * it here, woken the moment the previous write commits, rather than in
 * SQLite's busy handler, whose sleeps (up to 100 ms each) overshoot the
 * moment the lock frees. */
void nn_wscache_write_lock(nn_wscache *wc);
void nn_wscache_write_unlock(nn_wscache *wc);
bool nn_wscache_incremental(nn_wscache *wc);

void nn_wsstate_release(nn_wsstate *st);
/* A private copy of st to change (refs 1). O(rows), no parsing. */
nn_wsstate *nn_wsstate_copy(const nn_wsstate *st);

/* Borrowed lookups; NULL when absent. */
const nn_row *nn_wsstate_find(const nn_wsstate *st, int64_t network_id, const char *kind,
                              const char *name);
const nn_row *nn_wsstate_network(const nn_wsstate *st, const char *name);
const nn_row *nn_wsstate_network_by_id(const nn_wsstate *st, int64_t id);

/* Changes (a private copy only). put inserts or replaces by (network_id,
 * kind, name) and takes row's body and alloc, even when it fails; a new row without an id
 * gets a temporary negative one. remove deletes a row, and a network's
 * members with it. */
int nn_wsstate_put(nn_wsstate *st, nn_row *row);
void nn_wsstate_remove(nn_wsstate *st, int64_t network_id, const char *kind, const char *name);
/* Gives rows their stored ids once inserted: temporary id -(k + 1) becomes
 * stored[k] (members' network_id too), and closes the holes removed rows
 * left. O(rows). */
int nn_wsstate_renumber(nn_wsstate *st, const int64_t *stored, size_t n);

/* Every live row ordered as nn_store_row_all orders them: a new array of
 * shallow copies (the json belongs to st); free() it. */
int nn_wsstate_sorted(const nn_wsstate *st, nn_row **out, size_t *n);

#endif
