/* api outcome: the workspace after a write's change -- the snapshot's copy
 * with the change applied (and the allocations it gives up), validated
 * (incremental.h for one plain member, else the whole workspace), and
 * stored: the rows it changed, serialised before the write lock and
 * written under it, and the revisions it bumps. The write engine
 * (write.c) drives it; nothing else does. */
#ifndef NN_API_OUTCOME_H
#define NN_API_OUTCOME_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/request.h"
#include "api/wscache.h"

/* One row operation of a change, in the order it was recorded. */
typedef enum api_op_kind { API_OP_PUT, API_OP_DELETE, API_OP_WORKSPACE } api_op_kind;

typedef struct api_op {
    api_op_kind kind;
    char net[64], row_kind[32], name[64];
    json_t *body; /* API_OP_PUT, API_OP_WORKSPACE: owned */
} api_op;

/* A row the write must store: put (body and alloc) or alloc only. */
typedef struct dirty {
    int64_t network_id; /* as in the new state (temporary ids included) */
    char kind[32], name[64];
    bool body;
    char *body_text, *alloc_text; /* serialised before the lock */
} dirty;

typedef struct api_outcome {
    nn_wsstate *next; /* the state after the change (private until published) */
    dirty *dirty;
    size_t ndirty, dcap;
    json_t *dirty_at; /* "network_id/kind/name" -> index in dirty */
    int64_t *deleted; /* stored ids of rows to delete */
    size_t ndeleted;
    bool ws_body, ws_alloc;
    /* revisions: every network, or the ones named */
    bool all;
    json_t *touched;
} api_outcome;

/* Applies ops to a copy of snap (oc->next). */
int api_outcome_apply(api_outcome *oc, const nn_wsstate *snap, const api_op *ops, size_t nops);
/* true when the change is one plain member that incremental.h decides (its
 * allocation recorded in oc->next); false: validate the whole workspace. */
bool api_outcome_member(ctx *c, const nn_wsstate *snap, const api_op *ops, size_t nops,
                        api_outcome *oc);
/* Validates the whole workspace after the change exactly as the compiler
 * will see it (with the region grants given, NULL: as stored) and records
 * what the allocators chose. Replies on failure. O(workspace). */
bool api_outcome_validate(ctx *c, const json_t *grants, api_outcome *oc);
/* The workspace's /48 after a change of its own fields: checked (and with
 * claim, recorded in the transaction). 0, or -ECANCELED after a reply. */
int api_outcome_prefix(ctx *c, api_outcome *oc, bool claim);
/* Serialises what will be stored (before the lock). */
int api_outcome_serialise(api_outcome *oc);
/* Under the lock: deletes and stores the changed rows (stored[k] gets the
 * id of temporary id -(k + 1)), then bumps the revisions the change
 * touched, in the store and in oc->next alike. */
int api_outcome_store(api_outcome *oc, nn_store *store, int64_t ws_id, int64_t *stored);
int api_outcome_bump(api_outcome *oc, nn_store *store, int64_t ws_id, const int64_t *stored);
void api_outcome_clear(api_outcome *oc);

#endif
