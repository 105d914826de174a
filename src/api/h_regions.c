/* Regions (seed 001): a platform-scoped catalog, the regions each
 * workspace may use, and read-only oversight for platform operators.
 * Placement truth is the platform's: only platform admins change the
 * catalog or a workspace's grants (the route table says so); tenants read
 * their own grants and place hosts ("hosts[].region") in granted regions
 * only. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/handlers.h"
#include "api/write.h"

void h_regions_list(ctx *c)
{
    json_t *regions;
    int r = nn_store_region_list(c->store, &regions);
    api_reply_read(c->resp, c->store, r, regions);
}

/* Is there a region named name? 0 or a store error. */
static int region_exists(ctx *c, const char *name, bool *exists)
{
    json_t *list;
    int r = nn_store_region_list(c->store, &list);
    if (r)
        return r;
    size_t i;
    json_t *v;
    *exists = false;
    json_array_foreach(list, i, v) *exists =
        *exists || strcmp(json_string_value(json_object_get(v, "name")), name) == 0;
    json_decref(list);
    return 0;
}

void h_region_get(ctx *c)
{
    const char *name = api_param(c, "region");
    json_t *list, *found = NULL;
    int r = nn_store_region_list(c->store, &list);
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (strcmp(json_string_value(json_object_get(v, "name")),
                                              name) == 0) found = json_incref(v);
    json_decref(list);
    if (!found)
        return api_not_found(c, "region", name);
    api_reply_json(c->resp, 200, found);
}

static int put_region(ctx *c, void *arg)
{
    bool created;
    return c->dry_run ? 0 : nn_store_region_put(c->store, arg, c->body, &created);
}

void h_region_put(ctx *c)
{
    static const char *const fields[] = {"name", "description", "location", NULL};
    if (!api_only_keys(c, c->body, fields))
        return;
    const char *name = api_param(c, "region");
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
    bool exists;
    int r = region_exists(c, name, &exists);
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    char target[100];
    snprintf(target, sizeof(target), "regions/%s", name);
    if (api_tx_run(c, put_region, (void *)name, 0, exists ? "update" : "create", target, NULL))
        api_reply_json(
            c->resp, exists ? 200 : 201,
            json_pack("{s:s, s:b}", exists ? "updated" : "created", target, "dry_run", c->dry_run));
}

static int delete_region(ctx *c, void *arg)
{
    const char *name = arg;
    json_t *grants;
    int r = nn_store_region_grants(c->store, &grants);
    if (r)
        return r;
    size_t i;
    json_t *g;
    bool in_use = false;
    json_array_foreach(grants, i, g) in_use =
        in_use || strcmp(json_string_value(json_object_get(g, "region")), name) == 0;
    json_decref(grants);
    if (in_use) {
        api_reply_error(c->resp, 409, "in_use", NULL,
                        "region %s is granted to a workspace; revoke it first", name);
        return -ECANCELED;
    }
    return c->dry_run ? 0 : nn_store_region_delete(c->store, name);
}

void h_region_delete(ctx *c)
{
    const char *name = api_param(c, "region");
    bool exists;
    int r = region_exists(c, name, &exists);
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    if (!exists)
        return api_not_found(c, "region", name);
    char target[100];
    snprintf(target, sizeof(target), "regions/%s", name);
    if (api_tx_run(c, delete_region, (void *)name, 0, "delete", target, NULL))
        api_reply_json(c->resp, 200,
                       json_pack("{s:s, s:b}", "deleted", target, "dry_run", c->dry_run));
}

void h_workspace_regions_get(ctx *c)
{
    json_t *granted;
    int r = nn_store_workspace_regions(c->store, c->ws.id, &granted);
    api_reply_read(c->resp, c->store, r, granted);
}

static int set_grants(ctx *c, void *arg)
{
    (void)arg;
    const char *unknown;
    int r = nn_store_workspace_regions_set(c->store, c->ws.id, json_object_get(c->body, "regions"),
                                           &unknown);
    if (r == -ENOENT) {
        api_reply_error(c->resp, 422, "invalid", "regions", "no region named \"%s\"", unknown);
        return -ECANCELED;
    }
    return r;
}

/* A revoked region must not strand a placed host: the grants change inside
 * an intent write, which validates the workspace against the new ones. */
void h_workspace_regions_put(ctx *c)
{
    static const char *const fields[] = {"regions", NULL};
    if (!api_only_keys(c, c->body, fields))
        return;
    json_t *list = json_object_get(c->body, "regions");
    size_t i;
    json_t *v;
    bool valid = json_is_array(list);
    json_array_foreach(list, i, v) valid = valid && json_is_string(v);
    if (!valid)
        return api_reply_error(c->resp, 422, "invalid", "regions",
                               "regions must be an array of region names");
    api_write w = {.in_lock = set_grants, .grants = list, .action = "regions", .target = "regions"};
    if (api_write_run(c, &w))
        api_reply_json(c->resp, 200,
                       json_pack("{s:O, s:b}", "regions", list, "dry_run", c->dry_run));
}

/* Every region with the workspaces granted it and the hosts placed in it. */
void h_oversight(ctx *c)
{
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
                    json_array_append_new(
                        json_object_get(reg, "hosts"),
                        json_pack("{s:s, s:s}", "workspace", wname, "host", hosts[k].name));
            }
        }
        if (r == 0)
            nn_rows_free(hosts, n);
    }
    json_decref(grants);
    json_decref(workspaces);
    api_reply_read(c->resp, c->store, r, regions);
}
