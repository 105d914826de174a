/* Workspaces (the tenant unit), their members and their audit log. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/prefixes.h"
#include "api/write.h"
#include "api/wscache.h"
#include "api/wsdoc.h"
#include "model/intent.h"

void h_workspaces_list(ctx *c)
{
    json_t *list;
    int r = nn_store_workspace_list(c->store, c->user.platform_admin ? 0 : c->user.id, &list);
    api_reply_read(c->resp, c->store, r, list);
}

/* The replies for a /48 that cannot be had. */
static int prefix_refusal(ctx *c, int r)
{
    if (r == -ENOSPC)
        api_reply_error(c->resp, 409, "address_pool_exhausted", "ipv6_prefix",
                        "the install's /40 has no free /48 left: it holds 256 workspaces; delete "
                        "one, or pin an ipv6_prefix outside it");
    else if (r == -EEXIST)
        api_reply_error(c->resp, 409, "exists", "ipv6_prefix",
                        "another workspace has this ipv6_prefix");
    else
        return r;
    return -ECANCELED;
}

typedef struct new_workspace {
    const char *name;
    json_t *body; /* its own fields */
    nn_user owner;
    nn_doc *model; /* validated: a new workspace is exactly its body */
} new_workspace;

static int add_workspace(ctx *c, void *arg)
{
    new_workspace *w = arg;
    nn_row ws;
    int r = nn_store_workspace_find(c->store, w->name, &ws);
    nn_row_clear(&ws);
    if (r == 0) {
        api_reply_error(c->resp, 409, "exists", "name", "a workspace named \"%s\" exists", w->name);
        return -ECANCELED;
    }
    if (r != -ENOENT)
        return r;
    /* Its /48, drawn against every workspace of the install. */
    char prefix[NN_PREFIX_STRLEN];
    if ((r = nn_prefixes_workspace(c->store, 0, w->name, w->body, NULL, false, prefix)))
        return prefix_refusal(c, r);
    if (c->dry_run)
        return 0;
    int64_t id;
    if ((r = nn_store_workspace_add(c->store, w->name, w->body, &id)) ||
        (r = nn_store_member_set(c->store, id, w->owner.id, NN_ROLE_OWNER)) ||
        (r = nn_prefixes_workspace(c->store, id, w->name, w->body, NULL, true, prefix)))
        return prefix_refusal(c, r);
    /* an id freed by a delete may come back: nothing cached may outlive it */
    nn_wscache_drop(c->svc->workspaces, id);
    json_t *alloc = json_pack("{s:s}", "ipv6_prefix", prefix);
    r = nn_store_workspace_update(c->store, id, NULL, alloc);
    json_decref(alloc);
    if (r == 0 && (r = nn_store_workspace_find(c->store, w->name, &ws)) == 0) {
        r = nn_wsdoc_save_alloc(c->store, &ws, w->model);
        nn_row_clear(&ws);
    }
    return r;
}

void h_workspace_create(ctx *c)
{
    if (!api_container_body(c, nn_ws_kinds, "networks"))
        return;
    new_workspace w = {.name = api_body_string(c, "name", true), .owner = c->user};
    if (!w.name)
        return;
    if (!nn_intent_valid_name(w.name))
        return api_reply_error(c->resp, 422, "invalid", "name", "\"%s\" is not a valid name",
                               w.name);
    json_t *owner = json_object_get(c->body, "owner");
    if (owner) {
        int r = json_is_string(owner)
                    ? nn_store_user_find(c->store, json_string_value(owner), &w.owner)
                    : -EINVAL;
        if (r)
            return api_reply_error(c->resp, 422, "invalid", "owner", "owner must name a user");
    }
    w.body = json_deep_copy(c->body);
    json_object_del(w.body, "name");
    json_object_del(w.body, "owner");
    /* Validated before the transaction: a new workspace's document is its
     * own fields and nothing else. */
    nn_row row = {.name = "", .body = w.body, .alloc = json_object()};
    snprintf(row.name, sizeof(row.name), "%s", w.name);
    char field[NN_ERROR_PATH_MAX], msg[NN_ERROR_MSG_MAX];
    json_t *doc = NULL;
    int r = nn_wsdoc_build_rows(c->store, &row, NULL, 0, true, &doc);
    if (r == 0 && (r = nn_wsdoc_validate(doc, &w.model, field, sizeof(field), msg, sizeof(msg))) &&
        r != -ENOMEM) {
        api_reply_error(c->resp, 422, "invalid_intent", field, "%s: %s", field, msg);
    } else if (r) {
        api_reply_store_error(c->resp, c->store, r);
    } else if (api_tx_run(c, add_workspace, &w, 0, "workspace.create", w.name, NULL)) {
        api_reply_json(c->resp, 201,
                       json_pack("{s:s, s:s, s:b}", "name", w.name, "owner", w.owner.name,
                                 "dry_run", c->dry_run));
    }
    json_decref(doc);
    json_decref(row.alloc);
    json_decref(w.body);
    nn_doc_free(w.model);
}

void h_workspace_get(ctx *c)
{
    json_t *out = nn_wsdoc_merge(c->ws.body, c->ws.alloc);
    json_object_set_new(out, "name", json_string(c->ws.name));
    json_object_set_new(out, "role", json_string(nn_role_name(c->role)));
    api_reply_json(c->resp, 200, out);
}

static int replace_workspace(ctx *c, api_change *ch, void *arg)
{
    (void)arg;
    json_t *body = json_deep_copy(c->body);
    json_object_del(body, "name");
    return api_change_workspace(ch, body);
}

void h_workspace_put(ctx *c)
{
    if (!api_container_body(c, nn_ws_kinds, "networks"))
        return;
    json_t *name = json_object_get(c->body, "name");
    if (name && (!json_is_string(name) || strcmp(json_string_value(name), c->ws.name) != 0))
        return api_reply_error(c->resp, 422, "invalid", "name",
                               "a workspace cannot be renamed (its name derives its prefixes)");
    api_write w = {.build = replace_workspace, .action = "workspace.update"};
    snprintf(w.target, sizeof(w.target), "%s", c->ws.name);
    if (api_write_run(c, &w))
        api_reply_json(c->resp, 200,
                       json_pack("{s:s, s:b}", "updated", c->ws.name, "dry_run", c->dry_run));
}

static int delete_workspace(ctx *c, void *arg)
{
    (void)arg;
    return c->dry_run ? 0 : nn_store_workspace_delete(c->store, c->ws.id);
}

void h_workspace_delete(ctx *c)
{
    if (!api_tx_run(c, delete_workspace, NULL, 0, "workspace.delete", c->ws.name, NULL))
        return;
    if (!c->dry_run)
        nn_wscache_drop(c->svc->workspaces, c->ws.id);
    api_reply_json(c->resp, 200,
                   json_pack("{s:s, s:b}", "deleted", c->ws.name, "dry_run", c->dry_run));
}

void h_members_list(ctx *c)
{
    json_t *list;
    int r = nn_store_member_list(c->store, c->ws.id, &list);
    api_reply_read(c->resp, c->store, r, list);
}

void h_member_get(ctx *c)
{
    const char *name = api_param(c, "user");
    nn_user u;
    nn_role role;
    int r = api_user_role(c, name, &u, &role);
    if (r == -ENOENT || (r == 0 && role == NN_ROLE_NONE))
        return api_not_found(c, "member", name);
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    api_reply_json(c->resp, 200,
                   json_pack("{s:s, s:s}", "user", u.name, "role", nn_role_name(role)));
}

static int owner_count(ctx *c, int *n)
{
    json_t *list;
    int r = nn_store_member_list(c->store, c->ws.id, &list);
    if (r)
        return r;
    *n = 0;
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m) *n +=
        strcmp(json_string_value(json_object_get(m, "role")), "owner") == 0;
    json_decref(list);
    return 0;
}

typedef struct membership {
    nn_user user;
    nn_role role; /* NN_ROLE_NONE: delete */
} membership;

/* Admins manage everyone but owners; only an owner makes or unmakes one,
 * and the last owner stays. */
static int set_membership(ctx *c, void *arg)
{
    const membership *m = arg;
    nn_role current;
    int r = nn_store_role(c->store, c->ws.id, m->user.id, &current);
    if (r)
        return r;
    if ((m->role == NN_ROLE_OWNER || current == NN_ROLE_OWNER) && c->role != NN_ROLE_OWNER) {
        api_reply_error(c->resp, 403, "forbidden", "role",
                        "only an owner grants or revokes the owner role");
        return -ECANCELED;
    }
    if (m->role == NN_ROLE_NONE && current == NN_ROLE_NONE) {
        api_not_found(c, "member", m->user.name);
        return -ECANCELED;
    }
    int owners = 0;
    if (current == NN_ROLE_OWNER && m->role != NN_ROLE_OWNER &&
        ((r = owner_count(c, &owners)) || owners <= 1)) {
        if (r)
            return r;
        api_reply_error(c->resp, 409, "last_owner", "role", "%s is the workspace's last owner",
                        m->user.name);
        return -ECANCELED;
    }
    if (c->dry_run)
        return 0;
    return m->role != NN_ROLE_NONE ? nn_store_member_set(c->store, c->ws.id, m->user.id, m->role)
                                   : nn_store_member_delete(c->store, c->ws.id, m->user.id);
}

static void membership_write(ctx *c, membership *m)
{
    const char *name = api_param(c, "user");
    int r = nn_store_user_find(c->store, name, &m->user);
    if (r == -ENOENT)
        return api_not_found(c, "user", name);
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    bool put = m->role != NN_ROLE_NONE;
    if (!api_tx_run(c, set_membership, m, c->ws.id, put ? "member.set" : "member.delete",
                    m->user.name, put ? nn_role_name(m->role) : NULL))
        return;
    api_reply_json(c->resp, 200,
                   put ? json_pack("{s:s, s:s, s:b}", "user", m->user.name, "role",
                                   nn_role_name(m->role), "dry_run", c->dry_run)
                       : json_pack("{s:s, s:b}", "deleted", m->user.name, "dry_run", c->dry_run));
}

void h_member_put(ctx *c)
{
    static const char *const keys[] = {"role", NULL};
    if (!api_only_keys(c, c->body, keys))
        return;
    const char *name = api_body_string(c, "role", true);
    if (!name)
        return;
    membership m = {.role = nn_role_parse(name)};
    if (m.role == NN_ROLE_NONE)
        return api_reply_error(c->resp, 422, "invalid", "role",
                               "role must be owner, admin, operator, member or viewer");
    membership_write(c, &m);
}

void h_member_delete(ctx *c)
{
    membership m = {.role = NN_ROLE_NONE};
    membership_write(c, &m);
}

void h_audit(ctx *c)
{
    json_t *list;
    int r = nn_store_audit_list(c->store, c->ws.id, 1000, &list);
    api_reply_read(c->resp, c->store, r, list);
}
