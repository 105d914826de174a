/* Intent objects, one at a time: /workspaces/W/KIND[/NAME],
 * /workspaces/W/networks[/N] and /workspaces/W/networks/N/KIND[/NAME].
 * Objects are the intent document's objects, addressed by name; PUT
 * creates or replaces, POST creates (409 when taken), and every write goes
 * through the one write path (write.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/handlers.h"
#include "api/router.h"
#include "api/write.h"
#include "api/wsdoc.h"
#include "model/intent.h"

typedef struct target {
    const char *net;  /* the network's name, "" for workspace scope */
    const char *kind; /* "peers", "networks", ... */
    const char *name; /* NULL for a collection */
    char path[256];   /* "networks/corp/peers/db-1" for the audit and answers */
    bool created;     /* a write's outcome */
} target;

static void target_of(const ctx *c, target *t, const char *name)
{
    t->net = c->net.body ? c->net.name : "";
    t->kind = c->route->kind ? c->route->kind : api_param(c, "kind");
    t->name = name;
    int n = *t->net ? snprintf(t->path, sizeof(t->path), "networks/%s/%s", t->net, t->kind)
                    : snprintf(t->path, sizeof(t->path), "%s", t->kind);
    if (name && n > 0 && (size_t)n < sizeof(t->path))
        snprintf(t->path + n, sizeof(t->path) - (size_t)n, "/%s", name);
}

static json_t *row_view(const nn_row *r)
{
    json_t *out = nn_wsdoc_merge(r->body, r->alloc);
    json_object_set_new(out, "name", json_string(r->name));
    return out;
}

/* A caller limited to their own objects (own_only) sees only the devices
 * whose owner they are. */
static bool visible(const ctx *c, const json_t *body)
{
    return !c->own_only || api_is_caller(c, json_string_value(json_object_get(body, "owner")));
}

void h_rows_list(ctx *c)
{
    target t;
    target_of(c, &t, NULL);
    nn_row *rows;
    size_t n;
    int r = nn_store_row_list(c->store, c->ws.id, c->net.id, t.kind, &rows, &n);
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        if (visible(c, rows[i].body))
            json_array_append_new(arr, row_view(&rows[i]));
    nn_rows_free(rows, n);
    api_reply_json(c->resp, 200, arr);
}

void h_row_get(ctx *c)
{
    target t;
    target_of(c, &t, api_param(c, "name"));
    nn_row row;
    int r = nn_store_row_get(c->store, c->ws.id, c->net.id, t.kind, t.name, &row);
    if (r == 0 && !visible(c, row.body))
        r = -ENOENT;
    if (r == -ENOENT) {
        nn_row_clear(&row);
        return api_not_found(c, t.kind, t.name);
    }
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    json_t *v = row_view(&row);
    json_object_set_new(v, "id", json_integer(row.id));
    if (strcmp(t.kind, "networks") == 0)
        json_object_set_new(v, "revision", json_integer(row.revision));
    nn_row_clear(&row);
    api_reply_json(c->resp, 200, v);
}

typedef struct row_put {
    api_write w; /* first: its action is what build_put finds */
    target *t;
    json_t *body; /* the new body, without its name */
    bool post;
} row_put;

static int build_put(ctx *c, api_change *ch, void *arg)
{
    row_put *p = arg;
    target *t = p->t;
    const nn_row *old = api_snap_row(ch, t->net, t->kind, t->name);
    if (old && !visible(c, old->body)) {
        api_not_found(c, t->kind, t->name);
        return -ECANCELED;
    }
    if (old && p->post) {
        api_reply_error(c->resp, 409, "exists", "name", "%s exists", t->path);
        return -ECANCELED;
    }
    t->created = !old;
    p->w.action = old ? "update" : "create";
    return api_change_put(ch, t->net, t->kind, t->name, json_incref(p->body));
}

static void put(ctx *c, target *t, bool post)
{
    json_t *body = json_deep_copy(c->body);
    json_object_del(body, "name");
    if (c->own_only) {
        if (!json_object_get(body, "owner"))
            json_object_set_new(body, "owner", json_string(c->user.name));
        if (!visible(c, body)) {
            json_decref(body);
            return api_reply_error(c->resp, 403, "forbidden", "owner",
                                   "members may only register devices they own");
        }
    }
    row_put p = {.w = {.build = build_put, .action = "create"}, .t = t, .body = body, .post = post};
    p.w.arg = &p;
    snprintf(p.w.target, sizeof(p.w.target), "%s", t->path);
    bool ok = api_write_run(c, &p.w);
    json_decref(body);
    if (ok)
        api_reply_json(c->resp, t->created ? 201 : 200,
                       json_pack("{s:s, s:s, s:b}", t->created ? "created" : "updated", t->path,
                                 "name", t->name, "dry_run", c->dry_run));
}

static bool container_ok(ctx *c, const target *t)
{
    return strcmp(t->kind, "networks") != 0 || api_container_body(c, nn_net_kinds, NULL);
}

void h_rows_create(ctx *c)
{
    target t;
    target_of(c, &t, NULL);
    if (!container_ok(c, &t))
        return;
    json_t *name = json_object_get(c->body, "name");
    if (!json_is_string(name))
        return api_reply_error(c->resp, 422, "invalid", "name", "name is required");
    if (!nn_intent_valid_name(json_string_value(name)))
        return api_reply_error(c->resp, 422, "invalid", "name", "\"%s\" is not a valid name",
                               json_string_value(name));
    target_of(c, &t, json_string_value(name));
    put(c, &t, true);
}

void h_row_put(ctx *c)
{
    target t;
    target_of(c, &t, api_param(c, "name"));
    if (!container_ok(c, &t))
        return;
    json_t *name = json_object_get(c->body, "name");
    if (name && (!json_is_string(name) || strcmp(json_string_value(name), t.name) != 0))
        return api_reply_error(c->resp, 422, "invalid", "name",
                               "the body's name differs from the URL's; objects are not renamed");
    put(c, &t, false);
}

static int build_delete(ctx *c, api_change *ch, void *arg)
{
    const target *t = arg;
    const nn_row *old = api_snap_row(ch, t->net, t->kind, t->name);
    if (!old || !visible(c, old->body)) {
        api_not_found(c, t->kind, t->name);
        return -ECANCELED;
    }
    return api_change_delete(ch, t->net, t->kind, t->name);
}

void h_row_delete(ctx *c)
{
    target t;
    target_of(c, &t, api_param(c, "name"));
    api_write w = {.build = build_delete, .arg = &t, .action = "delete"};
    snprintf(w.target, sizeof(w.target), "%s", t.path);
    if (api_write_run(c, &w))
        api_reply_json(c->resp, 200,
                       json_pack("{s:s, s:b}", "deleted", t.path, "dry_run", c->dry_run));
}
