/* Regions (seed 001): a platform-scoped catalog, the regions each
 * workspace may use, and read-only oversight for platform operators.
 * Placement truth is the platform's: only platform admins change the
 * catalog or a workspace's grants; tenants read their own grants and place
 * hosts ("hosts[].region") in granted regions only. */
#include "api/regions.h"

#include <errno.h>
#include <string.h>

#include "model/intent.h"

static bool platform_admin(ctx *c)
{
    if (c->user.platform_admin)
        return true;
    api_reply_error(c->resp, 403, "forbidden", NULL, "only platform administrators manage regions");
    return false;
}

/* One committed platform-level write, audited. */
static bool commit_platform(ctx *c, const char *action, const char *target)
{
    int r = nn_store_audit(c->store, c->user.id, 0, action, target, NULL);
    if (r == 0 && api_dry_run(c)) {
        nn_store_rollback(c->store);
        return true;
    }
    if (r == 0)
        r = nn_store_commit(c->store);
    if (r) {
        nn_store_rollback(c->store);
        api_reply_store_error(c->resp, c->store, r);
    }
    return r == 0;
}

/* GET /regions, PUT/DELETE /regions/R */
void nn_api_regions(ctx *c)
{
    static const char *const fields[] = {"name", "description", "location", NULL};
    if (!platform_admin(c))
        return;
    if (c->nseg == 1) {
        if (!api_method_is(c, "GET"))
            return api_method_not_allowed(c);
        json_t *regions;
        int r = nn_store_region_list(c->store, &regions);
        return api_reply_read(c->resp, c->store, r, regions);
    }
    const char *name = c->seg[1];
    char target[100];
    snprintf(target, sizeof(target), "regions/%s", name);
    if (api_method_is(c, "PUT")) {
        if (!api_parse_body(c, NN_API_MAX_BODY) || !api_only_keys(c, c->body, fields))
            return;
        json_t *n = json_object_get(c->body, "name");
        if (n && (!json_is_string(n) || strcmp(json_string_value(n), name) != 0))
            return api_reply_error(c->resp, 422, "invalid", "name",
                                   "the body's name differs from the URL's");
        for (size_t i = 1; fields[i]; i++) {
            json_t *v = json_object_get(c->body, fields[i]);
            if (v && (!json_is_string(v) || json_string_length(v) > 200))
                return api_reply_error(c->resp, 422, "invalid", fields[i],
                                       "%s must be a string of at most 200 bytes", fields[i]);
        }
        json_object_del(c->body, "name");
        bool created;
        if (!api_begin(c))
            return;
        int r = nn_store_region_put(c->store, name, c->body, &created);
        if (r) {
            nn_store_rollback(c->store);
            return api_reply_store_error(c->resp, c->store, r);
        }
        if (commit_platform(c, created ? "create" : "update", target))
            api_reply_json(c->resp, created ? 201 : 200,
                           json_pack("{s:s, s:b}", created ? "created" : "updated", target,
                                     "dry_run", api_dry_run(c)));
        return;
    }
    if (!api_method_is(c, "DELETE"))
        return api_method_not_allowed(c);
    if (!api_begin(c))
        return;
    int r = nn_store_region_delete(c->store, name);
    if (r) {
        nn_store_rollback(c->store);
        if (r == -ENOENT)
            return api_not_found(c, "region", name);
        if (r == -EEXIST)
            return api_reply_error(c->resp, 409, "in_use", NULL,
                                   "region %s is granted to a workspace; revoke it first", name);
        return api_reply_store_error(c->resp, c->store, r);
    }
    if (commit_platform(c, "delete", target))
        api_reply_json(c->resp, 200,
                       json_pack("{s:s, s:b}", "deleted", target, "dry_run", api_dry_run(c)));
}

/* GET/PUT /workspaces/W/regions */
void nn_api_workspace_regions(ctx *c)
{
    static const char *const fields[] = {"regions", NULL};
    if (!api_enter_workspace(c, NN_PERM_READ))
        return;
    json_t *granted;
    if (api_method_is(c, "GET")) {
        int r = nn_store_workspace_regions(c->store, c->ws.id, &granted);
        return api_reply_read(c->resp, c->store, r, granted);
    }
    if (!api_method_is(c, "PUT"))
        return api_method_not_allowed(c);
    if (!platform_admin(c) || !api_parse_body(c, NN_API_MAX_BODY) ||
        !api_only_keys(c, c->body, fields))
        return;
    json_t *list = json_object_get(c->body, "regions");
    size_t i;
    json_t *v;
    bool valid = json_is_array(list);
    json_array_foreach(list, i, v) valid = valid && json_is_string(v);
    if (!valid)
        return api_reply_error(c->resp, 422, "invalid", "regions",
                               "regions must be an array of region names");
    if (!api_begin(c))
        return;
    const char *unknown;
    int r = nn_store_workspace_regions_set(c->store, c->ws.id, list, &unknown);
    if (r == -ENOENT) {
        nn_store_rollback(c->store);
        return api_reply_error(c->resp, 422, "invalid", "regions", "no region named \"%s\"",
                               unknown);
    }
    if (r) {
        nn_store_rollback(c->store);
        return api_reply_store_error(c->resp, c->store, r);
    }
    /* A revoked region must not strand a placed host: validate as any write. */
    if (api_finish_write(c, AFFECT_NONE, "regions", "regions", NULL))
        api_reply_json(c->resp, 200,
                       json_pack("{s:O, s:b}", "regions", list, "dry_run", api_dry_run(c)));
}

/* GET /oversight/regions: every region with the workspaces granted it and
 * the hosts placed in it. Read-only, platform admins only. */
void nn_api_oversight(ctx *c)
{
    if (!api_method_is(c, "GET"))
        return api_method_not_allowed(c);
    if (!platform_admin(c))
        return;
    json_t *regions = NULL, *grants = NULL, *workspaces = NULL;
    int r = nn_store_region_list(c->store, &regions);
    if (r == 0)
        r = nn_store_region_grants(c->store, &grants);
    if (r == 0)
        r = nn_store_workspace_list(c->store, 0, &workspaces);
    size_t i, j;
    json_t *reg, *g, *w;
    json_array_foreach(regions, i, reg)
    {
        json_object_set_new(reg, "workspaces", json_array());
        json_object_set_new(reg, "hosts", json_array());
        json_array_foreach(grants, j, g)
        {
            if (json_equal(json_object_get(g, "region"), json_object_get(reg, "name")))
                json_array_append(json_object_get(reg, "workspaces"),
                                  json_object_get(g, "workspace"));
        }
    }
    json_array_foreach(workspaces, i, w)
    {
        nn_row ws;
        const char *wname = json_string_value(json_is_string(w) ? w : json_object_get(w, "name"));
        if (r || !wname || (r = nn_store_workspace_find(c->store, wname, &ws)))
            break;
        nn_row *hosts;
        size_t n;
        r = nn_store_row_list(c->store, ws.id, 0, "hosts", &hosts, &n);
        nn_row_clear(&ws);
        for (size_t k = 0; r == 0 && k < n; k++) {
            json_t *region = json_object_get(hosts[k].body, "region");
            json_array_foreach(regions, j, reg)
            {
                if (json_equal(region, json_object_get(reg, "name")))
                    json_array_append_new(json_object_get(reg, "hosts"),
                                          json_pack("{s:s, s:s}", "workspace", wname, "host",
                                                    hosts[k].name));
            }
        }
        if (r == 0)
            nn_rows_free(hosts, n);
    }
    json_decref(grants);
    json_decref(workspaces);
    api_reply_read(c->resp, c->store, r, regions);
}
