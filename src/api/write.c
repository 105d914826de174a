#include "api/write.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/notify.h"
#include "api/route.h"
#include "api/wsdoc.h"
#include "model/intent.h"

typedef enum op_kind { OP_PUT, OP_DELETE, OP_WORKSPACE, OP_FORGET } op_kind;

typedef struct op {
    op_kind kind;
    char net[64], row_kind[32], name[64];
    char key[32]; /* OP_FORGET: the allocation key */
    json_t *body; /* OP_PUT, OP_WORKSPACE: owned */
} op;

struct api_change {
    /* the snapshot */
    nn_row ws;
    nn_row *rows;
    size_t nrows;
    json_t *index;    /* "net/kind/name" -> position in rows */
    json_t *networks; /* network id -> position (nn_wsdoc_network_index) */
    /* the change */
    op *ops;
    size_t nops, cap;
};

static char *row_key(const char *net, const char *kind, const char *name)
{
    size_t n = strlen(net) + strlen(kind) + strlen(name) + 3;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%s/%s/%s", net, kind, name);
    return k;
}

/* The snapshot: the workspace as stored, read inside the transaction. */
static int snapshot(nn_store *store, const nn_row *ws, api_change *ch)
{
    int r = nn_store_workspace_find(store, ws->name, &ch->ws);
    if (r == 0)
        r = nn_store_row_all(store, ch->ws.id, &ch->rows, &ch->nrows);
    if (r)
        return r;
    ch->networks = nn_wsdoc_network_index(ch->rows, ch->nrows);
    ch->index = json_object();
    for (size_t i = 0; i < ch->nrows; i++) {
        char *key =
            row_key(api_snap_network_of(ch, &ch->rows[i]), ch->rows[i].kind, ch->rows[i].name);
        if (!key)
            return -ENOMEM;
        json_object_set_new(ch->index, key, json_integer((json_int_t)i));
        free(key);
    }
    return 0;
}

static void change_free(api_change *ch)
{
    for (size_t i = 0; i < ch->nops; i++)
        json_decref(ch->ops[i].body);
    free(ch->ops);
    nn_rows_free(ch->rows, ch->nrows);
    nn_row_clear(&ch->ws);
    json_decref(ch->index);
    json_decref(ch->networks);
}

const nn_row *api_snap_row(const api_change *ch, const char *net, const char *kind,
                           const char *name)
{
    char *key = row_key(net, kind, name);
    json_t *at = key ? json_object_get(ch->index, key) : NULL;
    free(key);
    return at ? &ch->rows[json_integer_value(at)] : NULL;
}

const nn_row *api_snap_rows(const api_change *ch, size_t *n)
{
    *n = ch->nrows;
    return ch->rows;
}

const char *api_snap_network_of(const api_change *ch, const nn_row *row)
{
    const nn_row *net = nn_wsdoc_network_row(ch->networks, ch->rows, row->network_id);
    return net ? net->name : "";
}

const nn_row *api_snap_workspace(const api_change *ch)
{
    return &ch->ws;
}

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

int api_change_forget(api_change *ch, const char *net, const char *kind, const char *name,
                      const char *key)
{
    op *o = push(ch, OP_FORGET, net, kind, name);
    if (!o)
        return -ENOMEM;
    snprintf(o->key, sizeof(o->key), "%s", key);
    return 0;
}

/* The id of network name as it stands in the store now (a network put
 * earlier in the same change included); 0 when there is none. */
static int network_id(nn_store *store, int64_t ws_id, const char *name, int64_t *id)
{
    nn_row net;
    int r = nn_store_row_get(store, ws_id, 0, "networks", name, &net);
    *id = r == 0 ? net.id : 0;
    nn_row_clear(&net);
    return r == -ENOENT ? 0 : r;
}

/* Applies the change's operations to the store, in order. */
static int apply_ops(nn_store *store, api_change *ch)
{
    int r = 0;
    for (size_t i = 0; i < ch->nops && r == 0; i++) {
        op *o = &ch->ops[i];
        int64_t net_id = 0, id;
        bool created;
        nn_row row;
        if (o->kind == OP_WORKSPACE) {
            r = nn_store_workspace_update(store, ch->ws.id, o->body, NULL);
            continue;
        }
        if (*o->net && (r = network_id(store, ch->ws.id, o->net, &net_id)) == 0 && !net_id)
            r = -ENOENT;
        if (r)
            break;
        switch (o->kind) {
        case OP_PUT:
            r = nn_store_row_put(store, ch->ws.id, net_id, o->row_kind, o->name, o->body, &id,
                                 &created);
            break;
        case OP_DELETE:
        case OP_FORGET:
            r = nn_store_row_get(store, ch->ws.id, net_id, o->row_kind, o->name, &row);
            if (r == 0 && o->kind == OP_DELETE) {
                r = nn_store_row_delete(store, row.id);
            } else if (r == 0) {
                json_t *alloc = json_deep_copy(row.alloc);
                json_object_del(alloc, o->key);
                r = nn_store_row_set_alloc(store, row.id, alloc);
                json_decref(alloc);
            }
            nn_row_clear(&row);
            break;
        case OP_WORKSPACE:
            break;
        }
    }
    return r;
}

/* Bumps the revision of every network whose envelopes the change can
 * alter: all of them for a workspace-level change, else each network it
 * touched (a network deleted by it needs none). */
static int bump_revisions(nn_store *store, const api_change *ch)
{
    bool all = false;
    json_t *touched = json_object();
    for (size_t i = 0; i < ch->nops; i++) {
        const op *o = &ch->ops[i];
        if (o->kind == OP_WORKSPACE || (!*o->net && strcmp(o->row_kind, "networks") != 0))
            all = true;
        else if (*o->net)
            json_object_set_new(touched, o->net, json_true());
        else if (o->kind == OP_PUT)
            json_object_set_new(touched, o->name, json_true());
    }
    int r = 0;
    if (all) {
        r = nn_store_bump_revision(store, ch->ws.id, 0);
    } else {
        const char *name;
        json_t *v;
        json_object_foreach(touched, name, v)
        {
            int64_t id;
            if ((r = network_id(store, ch->ws.id, name, &id)))
                break;
            if (id && (r = nn_store_bump_revision(store, ch->ws.id, id)))
                break;
        }
    }
    json_decref(touched);
    return r;
}

/* Every host placed in a region must be in one the platform granted the
 * workspace (seed 001: placement truth is platform-managed). Replies 422
 * when not. */
static bool regions_granted(ctx *c, const nn_doc *model)
{
    const nn_workspace *w = nn_doc_find_workspace(model, c->ws.name);
    json_t *granted = NULL;
    for (size_t i = 0; w && i < w->nhosts; i++) {
        const char *region = w->hosts[i].region;
        if (!region)
            continue;
        int r = granted ? 0 : nn_store_workspace_regions(c->store, c->ws.id, &granted);
        if (r) {
            api_reply_store_error(c->resp, c->store, r);
            return false;
        }
        bool ok = false;
        size_t j;
        json_t *v;
        json_array_foreach(granted, j, v) ok = ok || strcmp(json_string_value(v), region) == 0;
        if (!ok) {
            char field[160];
            snprintf(field, sizeof(field), "hosts/%s/region", w->hosts[i].name);
            api_reply_error(c->resp, 422, "invalid_intent", field,
                            "%s: rule region_access: region \"%s\" is not granted to workspace "
                            "%s",
                            field, region, c->ws.name);
            json_decref(granted);
            return false;
        }
    }
    json_decref(granted);
    return true;
}

/* Validates the workspace as stored now (inside the transaction) and
 * records the allocations. Replies on failure. */
static bool validate(ctx *c, const api_change *ch)
{
    json_t *doc = NULL;
    nn_doc *model = NULL;
    char field[NN_ERROR_PATH_MAX], msg[NN_ERROR_MSG_MAX];
    nn_row ws;
    int r = nn_store_workspace_find(c->store, ch->ws.name, &ws);
    if (r == 0)
        r = nn_wsdoc_build(c->store, &ws, true, &doc);
    if (r == 0) {
        r = nn_wsdoc_validate(doc, &model, field, sizeof(field), msg, sizeof(msg));
        json_decref(doc);
        if (r && r != -ENOMEM) {
            nn_row_clear(&ws);
            api_reply_error(c->resp, 422, "invalid_intent", field, "%s: %s", field, msg);
            return false;
        }
    }
    if (r == 0 && !regions_granted(c, model)) {
        nn_doc_free(model);
        nn_row_clear(&ws);
        return false;
    }
    if (r == 0)
        r = nn_wsdoc_save_alloc(c->store, &ws, model);
    nn_doc_free(model);
    nn_row_clear(&ws);
    if (r)
        api_reply_store_error(c->resp, c->store, r);
    return r == 0;
}

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

bool api_write_run(ctx *c, api_write *w)
{
    api_change ch = {0};
    int r = nn_store_begin(c->store);
    if (r) {
        api_reply_store_error(c->resp, c->store, r);
        return false;
    }
    bool ok = false;
    if ((r = preconditions(c)) || (r = snapshot(c->store, &c->ws, &ch)) ||
        (w->build && (r = w->build(c, &ch, w->arg))) || (r = apply_ops(c->store, &ch)) ||
        (w->in_lock && (r = w->in_lock(c, w->arg)))) {
        reply_failure(c, r);
        goto out;
    }
    if (!validate(c, &ch))
        goto out;
    if ((r = bump_revisions(c->store, &ch)) ||
        (r = nn_store_audit(c->store, c->user.id, c->ws.id, w->action, w->target,
                            w->detail[0] ? w->detail : NULL))) {
        reply_failure(c, r);
        goto out;
    }
    if (c->dry_run) {
        ok = true;
        goto out;
    }
    if ((r = nn_store_commit(c->store))) {
        reply_failure(c, r);
        goto out;
    }
    nn_notify_changed(c->svc->notify);
    ok = true;
out:
    nn_store_rollback(c->store); /* a dry run's or a failure's; no-op after commit */
    change_free(&ch);
    return ok;
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
    int r = nn_store_begin(c->store);
    if (r == 0 && (r = preconditions(c)) == 0 && (r = fn(c, arg)) == 0 &&
        (r = nn_store_audit(c->store, c->user.id, ws_id, action, target, detail)) == 0)
        r = nn_store_commit(c->store);
    nn_store_rollback(c->store);
    if (r) {
        reply_failure(c, r);
        return false;
    }
    nn_notify_changed(c->svc->notify);
    return true;
}
