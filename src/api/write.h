/* api write: the one way a handler changes anything.
 *
 * An intent write (api_write_run) is described, not performed, by the
 * handler: its build() reads the workspace as a snapshot and records the
 * rows it puts and deletes in an api_change. The engine then applies the
 * change to a copy of the snapshot, validates the result exactly as the
 * compiler will see it (incremental.h: a plain member without parsing the
 * rest), records what the allocators chose, and only then takes the write
 * lock: stores the rows that changed, bumps the revisions of the networks
 * the change touched, writes the audit entry and commits. One tenant's
 * large write holds the lock only while its rows are written. A refusal or
 * a dry run never takes the lock. Nothing invalid is ever committed, so a
 * stored workspace always compiles.
 *
 * Anything else (users, tokens, members, regions, enrollment tokens, node
 * state) is a short transaction (api_tx_run) with its audit entry. */
#ifndef NN_API_WRITE_H
#define NN_API_WRITE_H

#include <jansson.h>
#include <stdbool.h>

#include "api/request.h"

typedef struct api_change api_change;

/* --- the snapshot build() reads -------------------------------------- */
/* (The workspace as of its version, from the cache: build() may run more
 * than once when another write commits in between, so it must only read
 * the snapshot and record the change.) */

/* The row (net "" for workspace scope, or a network's name) or NULL.
 * Borrowed for the duration of the write. */
const nn_row *api_snap_row(const api_change *ch, const char *net, const char *kind,
                           const char *name);
/* Every row of the workspace, by (network, kind, name); networks and other
 * workspace-scope rows first. Borrowed. 0, or -ENOMEM. */
int api_snap_rows(const api_change *ch, const nn_row **rows, size_t *n);
/* The name of row's network, "" for a workspace-scope row. Borrowed. */
const char *api_snap_network_of(const api_change *ch, const nn_row *row);
/* The workspace row. Borrowed. */
const nn_row *api_snap_workspace(const api_change *ch);

/* --- the change build() records -------------------------------------- */

/* Creates or replaces the body of (net, kind, name); takes body. A new
 * network must be put before its members. */
int api_change_put(api_change *ch, const char *net, const char *kind, const char *name,
                   json_t *body);
/* Deletes (net, kind, name); a network takes its members with it. */
int api_change_delete(api_change *ch, const char *net, const char *kind, const char *name);
/* Replaces the workspace's own fields; takes body. */
int api_change_workspace(api_change *ch, json_t *body);
typedef struct api_write {
    /* Records the change against the snapshot (NULL: the write changes no
     * row, only what in_lock does). 0, or a negative errno: -ECANCELED
     * when it has replied itself (a 404, a 422). */
    int (*build)(ctx *c, api_change *ch, void *arg);
    /* Statements that are part of the same transaction (a consumed
     * enrollment token, a certificate), run after the change; or NULL.
     * Same return convention. A dry run does not run them. */
    int (*in_lock)(ctx *c, void *arg);
    void *arg;
    /* The region grants the write leaves the workspace with (a PUT of its
     * regions), which validation checks hosts against; NULL: as stored. */
    const json_t *grants;
    const char *action; /* the audit entry: "create", "intent.apply", ... */
    char target[320];   /* "networks/corp/peers/db-1" (build() may set it) */
    char detail[96];
} api_write;

/* Runs w on c->ws: the change is validated outside the write lock (one
 * plain member incrementally, anything else against the whole workspace)
 * and committed only if nobody wrote the workspace since its snapshot was
 * read -- else it is built again on the newer one. A dry run never takes
 * the write lock. true when it succeeded (the caller replies); false when
 * it has replied with the error. */
bool api_write_run(ctx *c, api_write *w);

/* A write that changes no intent: fn runs its statements in one short
 * transaction, then the audit entry (ws_id 0: platform-scoped) is written
 * and it commits. For a dry run there is no transaction: fn sees
 * c->dry_run, checks what it can and changes nothing. fn returns 0 or a
 * negative errno (-ECANCELED when it has replied itself). */
bool api_tx_run(ctx *c, int (*fn)(ctx *c, void *arg), void *arg, int64_t ws_id, const char *action,
                const char *target, const char *detail);

#endif
