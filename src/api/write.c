#include "api/write.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/notify.h"
#include "api/outcome.h"
#include "api/route.h"
#include "api/wscache.h"

/* How often a write is tried again when another write to the same
 * workspace committed between its read and its lock. */
#define ATTEMPTS 5

struct api_change {
    nn_wsstate *snap; /* the state build() reads (referenced) */
    nn_row *sorted;   /* api_snap_rows, made on first use (shallow) */
    size_t nsorted;
    api_op *ops;
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

int api_snap_rows(const api_change *ch, const nn_row **rows, size_t *n)
{
    api_change *m = (api_change *)ch; /* made once, on first use */
    int r = m->sorted ? 0 : nn_wsstate_sorted(m->snap, &m->sorted, &m->nsorted);
    *rows = r ? NULL : m->sorted;
    *n = r ? 0 : m->nsorted;
    return r;
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

static api_op *push(api_change *ch, api_op_kind kind, const char *net, const char *row_kind,
                    const char *name)
{
    if (ch->nops == ch->cap) {
        size_t cap = ch->cap ? ch->cap * 2 : 16;
        api_op *grown = realloc(ch->ops, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        ch->ops = grown;
        ch->cap = cap;
    }
    api_op *o = &ch->ops[ch->nops++];
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
    api_op *o = push(ch, API_OP_PUT, net, kind, name);
    if (!o) {
        json_decref(body);
        return -ENOMEM;
    }
    o->body = body;
    return 0;
}

int api_change_delete(api_change *ch, const char *net, const char *kind, const char *name)
{
    return push(ch, API_OP_DELETE, net, kind, name) ? 0 : -ENOMEM;
}

int api_change_workspace(api_change *ch, json_t *body)
{
    api_op *o = push(ch, API_OP_WORKSPACE, NULL, NULL, NULL);
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
    api_outcome oc = {0};
    int64_t *stored = NULL;
    int r = nn_wscache_get(c->svc->workspaces, c->store, &c->ws, &ch.snap);
    if (r == 0 && w->build)
        r = w->build(c, &ch, w->arg);
    if (r == 0)
        r = api_outcome_apply(&oc, ch.snap, ch.ops, ch.nops);
    if (r)
        goto failed;
    /* A change of nothing (a document applied again) leaves the stored,
     * valid workspace as it is: nothing to validate. */
    bool incremental =
        (ch.nops == 0 && !w->grants) || api_outcome_member(c, ch.snap, ch.ops, ch.nops, &oc);
    if (!incremental && !api_outcome_validate(c, w->grants, &oc)) {
        r = -ECANCELED;
        goto out;
    }
    if (oc.ws_body && (r = api_outcome_prefix(c, &oc, false)))
        goto failed;
    if (c->dry_run) { /* decided without taking the write lock */
        if ((r = preconditions(c)))
            goto failed;
        goto out;
    }
    size_t ntemp = (size_t)-oc.next->next_temp;
    if ((r = api_outcome_serialise(&oc)))
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
    if (r || (r = preconditions(c)) || (oc.ws_body && (r = api_outcome_prefix(c, &oc, true))) ||
        (r = api_outcome_store(&oc, c->store, c->ws.id, stored)) ||
        (w->in_lock && (r = w->in_lock(c, w->arg))) ||
        (r = api_outcome_bump(&oc, c->store, c->ws.id, stored)) ||
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
    api_outcome_clear(&oc);
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
