#include "api/write.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/incremental.h"
#include "api/notify.h"
#include "api/prefixes.h"
#include "api/route.h"
#include "api/wscache.h"
#include "api/wsdoc.h"
#include "model/intent.h"

/* How often a write is tried again when another write to the same
 * workspace committed between its read and its lock. */
#define ATTEMPTS 5

typedef enum op_kind { OP_PUT, OP_DELETE, OP_WORKSPACE } op_kind;

typedef struct op {
    op_kind kind;
    char net[64], row_kind[32], name[64];
    json_t *body; /* OP_PUT, OP_WORKSPACE: owned */
} op;

struct api_change {
    nn_wsstate *snap; /* the state build() reads (referenced) */
    nn_row *sorted;   /* api_snap_rows, made on first use (shallow) */
    size_t nsorted;
    op *ops;
    size_t nops, cap;
};

/* --- the snapshot --------------------------------------------------------- */

const nn_row *api_snap_row(const api_change *ch, const char *net, const char *kind,
                           const char *name)
{
    if (!*net)
        return nn_wsstate_find(ch->snap, 0, kind, name);
    const nn_row *n = nn_wsstate_network(ch->snap, net);
    return n ? nn_wsstate_find(ch->snap, n->id, kind, name) : NULL;
}

const nn_row *api_snap_rows(const api_change *ch, size_t *n)
{
    api_change *m = (api_change *)ch; /* made once, on first use */
    if (!m->sorted && nn_wsstate_sorted(m->snap, &m->sorted, &m->nsorted))
        m->nsorted = 0;
    *n = m->nsorted;
    return m->sorted;
}

const char *api_snap_network_of(const api_change *ch, const nn_row *row)
{
    const nn_row *net =
        row->network_id ? nn_wsstate_network_by_id(ch->snap, row->network_id) : NULL;
    return net ? net->name : "";
}

const nn_row *api_snap_workspace(const api_change *ch)
{
    return &ch->snap->ws;
}

/* --- the change ------------------------------------------------------------- */

static op *push(api_change *ch, op_kind kind, const char *net, const char *row_kind,
                const char *name)
{
    if (ch->nops == ch->cap) {
        size_t cap = ch->cap ? ch->cap * 2 : 16;
        op *grown = realloc(ch->ops, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        ch->ops = grown;
        ch->cap = cap;
    }
    op *o = &ch->ops[ch->nops++];
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    snprintf(o->net, sizeof(o->net), "%s", net ? net : "");
    snprintf(o->row_kind, sizeof(o->row_kind), "%s", row_kind ? row_kind : "");
    snprintf(o->name, sizeof(o->name), "%s", name ? name : "");
    return o;
}

int api_change_put(api_change *ch, const char *net, const char *kind, const char *name,
                   json_t *body)
{
    op *o = push(ch, OP_PUT, net, kind, name);
    if (!o) {
        json_decref(body);
        return -ENOMEM;
    }
    o->body = body;
    return 0;
}

int api_change_delete(api_change *ch, const char *net, const char *kind, const char *name)
{
    return push(ch, OP_DELETE, net, kind, name) ? 0 : -ENOMEM;
}

int api_change_workspace(api_change *ch, json_t *body)
{
    op *o = push(ch, OP_WORKSPACE, NULL, NULL, NULL);
    if (!o) {
        json_decref(body);
        return -ENOMEM;
    }
    o->body = body;
    return 0;
}

static void change_clear(api_change *ch)
{
    for (size_t i = 0; i < ch->nops; i++)
        json_decref(ch->ops[i].body);
    free(ch->ops);
    free(ch->sorted);
    nn_wsstate_release(ch->snap);
    memset(ch, 0, sizeof(*ch));
}

/* --- the workspace after the change ---------------------------------------- */

/* A row the write must store: put (body and alloc) or alloc only. */
typedef struct dirty {
    int64_t network_id; /* as in the new state (temporary ids included) */
    char kind[32], name[64];
    bool body;
    char *body_text, *alloc_text; /* serialised before the lock */
} dirty;

typedef struct outcome {
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
} outcome;

static int mark(outcome *oc, int64_t network_id, const char *kind, const char *name, bool body)
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

static void outcome_clear(outcome *oc)
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
static int forget(outcome *oc, const nn_row *row, const char *key)
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

static const char *host_of(const json_t *body, const char *name)
{
    const char *h = json_string_value(json_object_get(body, "host"));
    return h ? h : name;
}

/* Allocations a change of their premise gives up, so that the allocators
 * choose again: a network moved to another IPv4 range gives up its
 * members' addresses (they would lie outside it); a peer moved to another
 * host gives up its VRF table (it was free on the old host). */
static int give_up(outcome *oc, const nn_row *old, const json_t *body, int64_t network_id,
                   const char *kind, const char *name)
{
    nn_wsstate *st = oc->next;
    if (!strcmp(kind, "peers") && strcmp(host_of(old->body, name), host_of(body, name)) != 0)
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
static int apply_ops(const api_change *ch, outcome *oc)
{
    if (!(oc->next = nn_wsstate_copy(ch->snap)) || !(oc->touched = json_object()) ||
        !(oc->dirty_at = json_object()) ||
        !(oc->deleted = malloc((ch->nops + 1) * sizeof(*oc->deleted))))
        return -ENOMEM;
    nn_wsstate *st = oc->next;
    int r = 0;
    for (size_t i = 0; i < ch->nops && r == 0; i++) {
        const op *o = &ch->ops[i];
        if (o->kind == OP_WORKSPACE) {
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
         * any other workspace-scope change touches them all */
        if (*o->net)
            json_object_set_new(oc->touched, o->net, json_true());
        else if (strcmp(o->row_kind, "networks") == 0)
            json_object_set_new(oc->touched, o->name, json_true());
        else
            oc->all = true;
        if (o->kind == OP_PUT) {
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
        } else if (o->kind == OP_DELETE) {
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
static bool validate_all(ctx *c, const api_write *w, outcome *oc)
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
    if (r == 0 && !regions_granted(c, model, w->grants))
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
static bool validate_member(ctx *c, const api_change *ch, outcome *oc)
{
    if (ch->nops != 1 || !nn_wscache_incremental(c->svc->workspaces))
        return false;
    const op *o = &ch->ops[0];
    const nn_row *net = *o->net ? nn_wsstate_network(ch->snap, o->net) : NULL;
    if (!net || (o->kind != OP_PUT && o->kind != OP_DELETE))
        return false;
    json_t *alloc = NULL;
    if (!nn_incremental_member(ch->snap, net, o->row_kind, o->name,
                               o->kind == OP_PUT ? o->body : NULL, &alloc))
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
static int workspace_prefix(ctx *c, outcome *oc, bool claim)
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

/* --- the transaction ------------------------------------------------------- */

/* If-Match and If-None-Match on a write, checked against the object as it
 * is inside the transaction: a stale If-Match (a lost update) or an
 * If-None-Match: * on an object that exists (create only) is a 412 and
 * nothing is written. */
static int preconditions(ctx *c)
{
    const char *im = c->req->if_match, *inm = c->req->if_none_match;
    if (!im && !inm)
        return 0;
    if (!c->twin) {
        api_reply_error(c->resp, 400, "bad_precondition", NULL,
                        "%s %s has no representation (GET) to match", c->route->method,
                        c->route->pattern);
        return -ECANCELED;
    }
    char etag[72];
    bool exists = api_twin_etag(c, etag) == 200;
    bool ok = (!im || (exists && api_etag_listed(im, etag))) &&
              (!inm || !(exists && api_etag_listed(inm, etag)));
    if (!ok) {
        if (exists)
            api_reply_error(c->resp, 412, "precondition_failed", NULL,
                            "the object's ETag is now %s: it changed since it was read", etag);
        else
            api_reply_error(c->resp, 412, "precondition_failed", NULL, "the object does not exist");
        return -ECANCELED;
    }
    return 0;
}

/* Serialises what the write stores, before it takes the lock. */
static int serialise(outcome *oc)
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
static int store_rows(nn_store *store, int64_t ws_id, outcome *oc, int64_t *stored)
{
    nn_wsstate *st = oc->next;
    int r = 0;
    for (size_t i = 0; r == 0 && i < oc->ndeleted; i++)
        if ((r = nn_store_row_delete(store, oc->deleted[i])) == -ENOENT)
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
            r = nn_store_row_update_text(store, row->id, d->body_text, d->alloc_text);
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
static int bump_revisions(nn_store *store, int64_t ws_id, outcome *oc, const int64_t *stored)
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

/* Replies for a failed step r (unless the step replied itself). */
static void reply_failure(ctx *c, int r)
{
    if (r == -ECANCELED)
        return;
    if (r == -EEXIST)
        api_reply_error(c->resp, 409, "exists", NULL, "it exists already");
    else if (r == -ENOENT)
        api_reply_error(c->resp, 404, "not_found", NULL, "it is gone (changed meanwhile)");
    else
        api_reply_store_error(c->resp, c->store, r);
}

/* One attempt: read, build, validate (no lock), then lock and commit if
 * nobody wrote the workspace meanwhile. 0 done, -ESTALE to try again, or
 * -ECANCELED when it has replied. */
static int attempt(ctx *c, api_write *w)
{
    api_change ch = {0};
    outcome oc = {0};
    int64_t *stored = NULL;
    int r = nn_wscache_get(c->svc->workspaces, c->store, &c->ws, &ch.snap);
    if (r == 0 && w->build)
        r = w->build(c, &ch, w->arg);
    if (r == 0)
        r = apply_ops(&ch, &oc);
    if (r)
        goto failed;
    /* A change of nothing (a document applied again) leaves the stored,
     * valid workspace as it is: nothing to validate. */
    bool incremental = (ch.nops == 0 && !w->grants) || validate_member(c, &ch, &oc);
    if (!incremental && !validate_all(c, w, &oc)) {
        r = -ECANCELED;
        goto out;
    }
    if (oc.ws_body && (r = workspace_prefix(c, &oc, false)))
        goto failed;
    if (c->dry_run) { /* decided without taking the write lock */
        if ((r = preconditions(c)))
            goto failed;
        goto out;
    }
    size_t ntemp = (size_t)-oc.next->next_temp;
    if ((r = serialise(&oc)))
        goto failed;
    if (!(stored = calloc(ntemp + 1, sizeof(*stored)))) {
        r = -ENOMEM;
        goto failed;
    }
    nn_wscache_write_lock(c->svc->workspaces);
    if ((r = nn_store_begin(c->store))) {
        nn_wscache_write_unlock(c->svc->workspaces);
        goto failed;
    }
    if ((r = nn_store_workspace_claim(c->store, c->ws.id, ch.snap->version)) == -ESTALE) {
        nn_store_rollback(c->store);
        nn_wscache_write_unlock(c->svc->workspaces);
        goto out;
    }
    if (r || (r = preconditions(c)) || (oc.ws_body && (r = workspace_prefix(c, &oc, true))) ||
        (r = store_rows(c->store, c->ws.id, &oc, stored)) ||
        (w->in_lock && (r = w->in_lock(c, w->arg))) ||
        (r = bump_revisions(c->store, c->ws.id, &oc, stored)) ||
        (r = nn_store_audit(c->store, c->user.id, c->ws.id, w->action, w->target,
                            w->detail[0] ? w->detail : NULL)) ||
        (r = nn_store_commit(c->store))) {
        nn_store_rollback(c->store);
        nn_wscache_write_unlock(c->svc->workspaces);
        goto failed;
    }
    nn_wscache_write_unlock(c->svc->workspaces);
    nn_wscache_count(c->svc->workspaces, incremental);
    /* Published as the workspace's state: the next write reads it as is. */
    oc.next->version = ch.snap->version + 1;
    if (nn_wsstate_renumber(oc.next, stored, ntemp) == 0)
        nn_wscache_install(c->svc->workspaces, oc.next);
    nn_notify_changed(c->svc->notify);
    goto out;
failed:
    reply_failure(c, r);
    r = -ECANCELED;
out:
    free(stored);
    outcome_clear(&oc);
    change_clear(&ch);
    return r;
}

bool api_write_run(ctx *c, api_write *w)
{
    for (int i = 0; i < ATTEMPTS; i++) {
        int r = attempt(c, w);
        if (r != -ESTALE)
            return r == 0;
    }
    api_reply_error(c->resp, 503, "busy", NULL,
                    "the workspace kept changing under this write; retry");
    return false;
}

bool api_tx_run(ctx *c, int (*fn)(ctx *c, void *arg), void *arg, int64_t ws_id, const char *action,
                const char *target, const char *detail)
{
    if (c->dry_run) {
        int r = preconditions(c);
        if (r == 0)
            r = fn(c, arg);
        if (r)
            reply_failure(c, r);
        return r == 0;
    }
    nn_wscache_write_lock(c->svc->workspaces);
    int r = nn_store_begin(c->store);
    if (r == 0 && (r = preconditions(c)) == 0 && (r = fn(c, arg)) == 0 &&
        (r = nn_store_audit(c->store, c->user.id, ws_id, action, target, detail)) == 0)
        r = nn_store_commit(c->store);
    nn_store_rollback(c->store);
    nn_wscache_write_unlock(c->svc->workspaces);
    if (r) {
        reply_failure(c, r);
        return false;
    }
    nn_notify_changed(c->svc->notify);
    return true;
}
