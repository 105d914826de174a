#include "api/outcome.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/incremental.h"
#include "api/prefixes.h"
#include "api/wsdoc.h"
#include "model/intent.h"

static int mark(api_outcome *oc, int64_t network_id, const char *kind, const char *name, bool body)
{
    char key[128];
    snprintf(key, sizeof(key), "%lld/%s/%s", (long long)network_id, kind, name);
    json_t *at = json_object_get(oc->dirty_at, key);
    if (at) {
        oc->dirty[json_integer_value(at)].body |= body;
        return 0;
    }
    if (json_object_set_new(oc->dirty_at, key, json_integer((json_int_t)oc->ndirty)))
        return -ENOMEM;
    if (oc->ndirty == oc->dcap) {
        size_t cap = oc->dcap ? oc->dcap * 2 : 16;
        dirty *grown = realloc(oc->dirty, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        oc->dirty = grown;
        oc->dcap = cap;
    }
    dirty *d = &oc->dirty[oc->ndirty++];
    memset(d, 0, sizeof(*d));
    d->network_id = network_id;
    snprintf(d->kind, sizeof(d->kind), "%s", kind);
    snprintf(d->name, sizeof(d->name), "%s", name);
    d->body = body;
    return 0;
}

void api_outcome_clear(api_outcome *oc)
{
    nn_wsstate_release(oc->next);
    for (size_t i = 0; i < oc->ndirty; i++) {
        free(oc->dirty[i].body_text);
        free(oc->dirty[i].alloc_text);
    }
    free(oc->dirty);
    json_decref(oc->dirty_at);
    free(oc->deleted);
    json_decref(oc->touched);
    memset(oc, 0, sizeof(*oc));
}

/* Drops allocation key from row (a copy, marked to be stored). */
static int forget(api_outcome *oc, const nn_row *row, const char *key)
{
    if (!json_object_get(row->alloc, key))
        return 0;
    nn_row copy = *row;
    copy.body = json_incref(row->body);
    copy.alloc = json_deep_copy(row->alloc);
    json_object_del(copy.alloc, key);
    int r = nn_wsstate_put(oc->next, &copy);
    return r ? r : mark(oc, copy.network_id, copy.kind, copy.name, false);
}

/* Allocations a change of their premise gives up, so that the allocators
 * choose again: a network moved to another IPv4 range gives up its
 * members' addresses (they would lie outside it); a peer moved to another
 * host gives up its VRF table (it was free on the old host). */
static int give_up(api_outcome *oc, const nn_row *old, const json_t *body, int64_t network_id,
                   const char *kind, const char *name)
{
    nn_wsstate *st = oc->next;
    if (!strcmp(kind, "peers") &&
        strcmp(nn_wsdoc_peer_host(old->body, name), nn_wsdoc_peer_host(body, name)) != 0)
        return forget(oc, nn_wsstate_find(st, network_id, kind, name), "vrf_table");
    if (network_id || strcmp(kind, "networks") != 0 ||
        json_equal(json_object_get(old->body, "ipv4_cidr"), json_object_get(body, "ipv4_cidr")))
        return 0;
    int r = 0;
    for (size_t i = 0; r == 0 && i < st->nrows; i++)
        if (st->rows[i].id && st->rows[i].network_id == old->id)
            r = forget(oc, &st->rows[i], "ipv4");
    return r;
}

/* Applies the change's operations to a copy of the snapshot, in order. */
int api_outcome_apply(api_outcome *oc, const nn_wsstate *snap, const api_op *ops, size_t nops)
{
    if (!(oc->next = nn_wsstate_copy(snap)) || !(oc->touched = json_object()) ||
        !(oc->dirty_at = json_object()) ||
        !(oc->deleted = malloc((nops + 1) * sizeof(*oc->deleted))))
        return -ENOMEM;
    nn_wsstate *st = oc->next;
    int r = 0;
    for (size_t i = 0; i < nops && r == 0; i++) {
        const api_op *o = &ops[i];
        if (o->kind == API_OP_WORKSPACE) {
            json_decref(st->ws.body);
            st->ws.body = json_incref(o->body);
            oc->ws_body = oc->all = true;
            continue;
        }
        const nn_row *net = *o->net ? nn_wsstate_network(st, o->net) : NULL;
        if (*o->net && !net)
            return -ENOENT;
        int64_t network_id = net ? net->id : 0;
        const nn_row *have = nn_wsstate_find(st, network_id, o->row_kind, o->name);
        /* revisions: a network's own change and its members' touch it;
         * any other workspace-scope change touches them all, and so does
         * deleting a network: node documents are signed at the highest
         * revision of the workspace's networks, which must not fall */
        if (*o->net)
            json_object_set_new(oc->touched, o->net, json_true());
        else if (strcmp(o->row_kind, "networks") == 0 && o->kind != API_OP_DELETE)
            json_object_set_new(oc->touched, o->name, json_true());
        else
            oc->all = true;
        if (o->kind == API_OP_PUT) {
            nn_row old = {0};
            if (have) { /* kept for give_up: the put releases the row */
                old = *have;
                old.body = json_incref(have->body);
                old.alloc = NULL;
            }
            nn_row row = {.network_id = network_id,
                          .body = json_incref(o->body),
                          .alloc = have ? json_incref(have->alloc) : json_object()};
            snprintf(row.kind, sizeof(row.kind), "%s", o->row_kind);
            snprintf(row.name, sizeof(row.name), "%s", o->name);
            if ((r = nn_wsstate_put(st, &row)) == 0)
                r = mark(oc, network_id, o->row_kind, o->name, true);
            if (r == 0 && have)
                r = give_up(oc, &old, o->body, network_id, o->row_kind, o->name);
            nn_row_clear(&old);
        } else if (o->kind == API_OP_DELETE) {
            if (have && have->id > 0)
                oc->deleted[oc->ndeleted++] = have->id;
            nn_wsstate_remove(st, network_id, o->row_kind, o->name);
        }
    }
    return r;
}

/* --- validation ---------------------------------------------------------- */

/* Every host placed in a region must be in one the platform granted the
 * workspace (seed 001: placement truth is platform-managed). Replies 422
 * when not. granted: the grants the write leaves, or NULL for the stored
 * ones. */
static bool regions_granted(ctx *c, const nn_doc *model, const json_t *granted)
{
    const nn_workspace *w = nn_doc_find_workspace(model, c->ws.name);
    json_t *stored = NULL;
    bool ok = true;
    for (size_t i = 0; ok && w && i < w->nhosts; i++) {
        const char *region = w->hosts[i].region;
        if (!region)
            continue;
        int r = granted || stored ? 0 : nn_store_workspace_regions(c->store, c->ws.id, &stored);
        if (r) {
            api_reply_store_error(c->resp, c->store, r);
            return false;
        }
        size_t j;
        json_t *v;
        ok = false;
        json_array_foreach(granted ? granted : stored, j, v) ok =
            ok || strcmp(json_string_value(v), region) == 0;
        if (!ok) {
            char field[160];
            snprintf(field, sizeof(field), "hosts/%s/region", w->hosts[i].name);
            api_reply_error(c->resp, 422, "invalid_intent", field,
                            "%s: rule region_access: region \"%s\" is not granted to workspace "
                            "%s",
                            field, region, c->ws.name);
        }
    }
    json_decref(stored);
    return ok;
}

/* The whole workspace after the change, validated and allocated exactly as
 * the compiler will see it; what the allocators chose is recorded in the
 * new state. Replies on failure. O(workspace). */
bool api_outcome_validate(ctx *c, const json_t *grants, api_outcome *oc)
{
    nn_wsstate *st = oc->next;
    nn_row *rows = NULL;
    size_t n = 0;
    json_t *doc = NULL, *ws_alloc = NULL, **row_alloc = NULL;
    nn_doc *model = NULL;
    char field[NN_ERROR_PATH_MAX], msg[NN_ERROR_MSG_MAX];
    bool ok = false;
    int r = nn_wsstate_sorted(st, &rows, &n);
    if (r == 0)
        r = nn_wsdoc_build_rows(c->store, &st->ws, rows, n, true, &doc);
    if (r == 0 && (r = nn_wsdoc_validate(doc, &model, field, sizeof(field), msg, sizeof(msg)))) {
        if (r != -ENOMEM) {
            api_reply_error(c->resp, 422, "invalid_intent", field, "%s: %s", field, msg);
            goto out;
        }
    }
    if (r == 0 && !regions_granted(c, model, grants))
        goto out;
    if (r == 0 && !(row_alloc = calloc(n + 1, sizeof(*row_alloc))))
        r = -ENOMEM;
    if (r == 0)
        r = nn_wsdoc_alloc_diff(&st->ws, rows, n, model, &ws_alloc, row_alloc);
    if (r == 0 && ws_alloc) {
        json_decref(st->ws.alloc);
        st->ws.alloc = json_incref(ws_alloc);
        oc->ws_alloc = true;
    }
    for (size_t i = 0; r == 0 && i < n; i++) {
        if (!row_alloc[i])
            continue;
        nn_row row = rows[i];
        row.body = json_incref(rows[i].body);
        row.alloc = json_incref(row_alloc[i]);
        if ((r = nn_wsstate_put(st, &row)) == 0)
            r = mark(oc, row.network_id, row.kind, row.name, false);
    }
    if (r)
        api_reply_store_error(c->resp, c->store, r);
    ok = r == 0;
out:
    for (size_t i = 0; row_alloc && i < n; i++)
        json_decref(row_alloc[i]);
    free(row_alloc);
    json_decref(ws_alloc);
    json_decref(doc);
    nn_doc_free(model);
    free(rows); /* shallow copies: the json is the state's */
    return ok;
}

/* A one-member write decided without the whole workspace, when it can be
 * (incremental.h). */
bool api_outcome_member(ctx *c, const nn_wsstate *snap, const api_op *ops, size_t nops,
                        api_outcome *oc)
{
    if (nops != 1 || !nn_wscache_incremental(c->svc->workspaces))
        return false;
    const api_op *o = &ops[0];
    const nn_row *net = *o->net ? nn_wsstate_network(snap, o->net) : NULL;
    if (!net || (o->kind != API_OP_PUT && o->kind != API_OP_DELETE))
        return false;
    json_t *alloc = NULL;
    if (!nn_incremental_member(snap, net, o->row_kind, o->name,
                               o->kind == API_OP_PUT ? o->body : NULL, &alloc))
        return false;
    if (alloc) {
        const nn_row *row = nn_wsstate_find(oc->next, net->id, o->row_kind, o->name);
        nn_row copy = *row;
        copy.body = json_incref(row->body);
        copy.alloc = alloc;
        if (nn_wsstate_put(oc->next, &copy))
            return false;
    }
    return true;
}

/* A change of the workspace's own fields may re-pin its /48: it must stay
 * its own across the install (prefixes.h), and is recorded in its alloc.
 * Replies on failure. */
int api_outcome_prefix(ctx *c, api_outcome *oc, bool claim)
{
    nn_wsstate *st = oc->next;
    char prefix[NN_PREFIX_STRLEN];
    int r = nn_prefixes_workspace(c->store, c->ws.id, c->ws.name, st->ws.body, st->ws.alloc, claim,
                                  prefix);
    if (r == -EEXIST) {
        api_reply_error(c->resp, 409, "exists", "ipv6_prefix",
                        "another workspace has the ipv6_prefix %s", prefix);
        return -ECANCELED;
    }
    if (r || claim)
        return r;
    const char *have = json_string_value(json_object_get(st->ws.alloc, "ipv6_prefix"));
    if (!have || strcmp(have, prefix) != 0) {
        json_t *alloc = json_deep_copy(st->ws.alloc);
        json_object_set_new(alloc, "ipv6_prefix", json_string(prefix));
        json_decref(st->ws.alloc);
        st->ws.alloc = alloc;
        oc->ws_alloc = true;
    }
    return 0;
}

/* Serialises what the write stores, before it takes the lock. */
int api_outcome_serialise(api_outcome *oc)
{
    for (size_t i = 0; i < oc->ndirty; i++) {
        dirty *d = &oc->dirty[i];
        const nn_row *row = nn_wsstate_find(oc->next, d->network_id, d->kind, d->name);
        if (!row)
            continue;
        if ((d->body || row->id < 0) &&
            !(d->body_text = json_dumps(row->body, JSON_COMPACT | JSON_SORT_KEYS)))
            return -ENOMEM;
        if (!(d->alloc_text = json_dumps(row->alloc, JSON_COMPACT | JSON_SORT_KEYS)))
            return -ENOMEM;
    }
    return 0;
}

/* The stored id of a row of the new state: a temporary id is the insert's. */
static int64_t stored_id(const int64_t *stored, int64_t id)
{
    return id < 0 ? stored[-id - 1] : id;
}

/* Writes the outcome's rows. stored[k] receives the id of temporary id
 * -(k + 1). Networks were put before their members, so a member's network
 * has its stored id by the time the member is inserted. */
int api_outcome_store(api_outcome *oc, nn_store *store, int64_t ws_id, int64_t *stored)
{
    nn_wsstate *st = oc->next;
    int r = 0;
    for (size_t i = 0; r == 0 && i < oc->ndeleted; i++)
        if ((r = nn_store_row_remove(store, ws_id, oc->deleted[i])) == -ENOENT)
            r = 0; /* a member its deleted network took along */
    for (size_t i = 0; r == 0 && i < oc->ndirty; i++) {
        const dirty *d = &oc->dirty[i];
        const nn_row *row = nn_wsstate_find(st, d->network_id, d->kind, d->name);
        if (!row)
            continue; /* put, then deleted by a later operation */
        if (row->id < 0)
            r = nn_store_row_insert_text(store, ws_id, stored_id(stored, row->network_id),
                                         row->kind, row->name, d->body_text, d->alloc_text,
                                         &stored[-row->id - 1]);
        else
            r = nn_store_row_update_text(store, ws_id, row->id, d->body_text, d->alloc_text);
    }
    if (r == 0 && (oc->ws_body || oc->ws_alloc))
        r = nn_store_workspace_update(store, ws_id, oc->ws_body ? st->ws.body : NULL,
                                      oc->ws_alloc ? st->ws.alloc : NULL);
    return r;
}

/* Bumps the revision of every network whose envelopes the change can
 * alter -- all of them for a workspace-level change, else each network it
 * touched (a network it deleted needs none) -- in the store and in the new
 * state alike: MAX(revision + 1, now in ms). */
int api_outcome_bump(api_outcome *oc, nn_store *store, int64_t ws_id, const int64_t *stored)
{
    nn_wsstate *st = oc->next;
    int64_t now = nn_store_now_ms();
    int r = oc->all ? nn_store_bump_revision_at(store, ws_id, 0, now) : 0;
    for (size_t i = 0; r == 0 && i < st->nnets; i++) {
        nn_row *net = &st->rows[st->nets[i]];
        if (!oc->all && !json_object_get(oc->touched, net->name))
            continue;
        if (!oc->all)
            r = nn_store_bump_revision_at(store, ws_id, stored_id(stored, net->id), now);
        int64_t base = net->revision ? net->revision : 1; /* a new row starts at 1 */
        net->revision = base + 1 > now ? base + 1 : now;
    }
    return r;
}
