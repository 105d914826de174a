/* Routing selection (seed 002), gateway assignment and node state (seed
 * 000): the network's routing policy, users' and devices' routing
 * preferences, the resolved selection with where each field came from,
 * the scheduler's assignment, and reported node state.
 *
 * Preferences are fields of stored intent rows (a network's
 * "routing_policy", a device's "routing_preference") or rows of their own
 * ("user_routing_preferences" in a network), so export, apply and every
 * write's whole-workspace validation cover them like any other intent. */
#include "api/routing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/gateway.h"
#include "api/wsdoc.h"
#include "model/intent.h"

static const char *const layer_fields[] = {"routing_mode", "traffic_mode", "ingress", "egress",
                                           NULL};

/* A manual ingress/egress may be written "PEER", "NETWORK/PEER" or
 * "WORKSPACE/NETWORK/PEER"; it is stored as the peer name once it is known
 * to point into this workspace and network. */
static bool normalize_refs(ctx *c, json_t *layer, const char *network)
{
    static const char *const keys[] = {"ingress", "egress"};
    for (size_t k = 0; k < 2; k++) {
        json_t *v = json_object_get(layer, keys[k]);
        if (!v || json_is_null(v))
            continue;
        if (!json_is_string(v)) {
            api_reply_error(c->resp, 422, "invalid", keys[k], "%s must be a peer name", keys[k]);
            return false;
        }
        char ref[200];
        snprintf(ref, sizeof(ref), "%s", json_string_value(v));
        char *part[3];
        size_t n = 0;
        char *save = NULL;
        for (char *t = strtok_r(ref, "/", &save); t && n < 3; t = strtok_r(NULL, "/", &save))
            part[n++] = t;
        if (n == 0 || strtok_r(NULL, "/", &save)) {
            api_reply_error(c->resp, 422, "invalid", keys[k],
                            "%s: \"%s\" is not PEER, NETWORK/PEER or WORKSPACE/NETWORK/PEER",
                            keys[k], json_string_value(v));
            return false;
        }
        if (n == 3 && strcmp(part[0], c->ws.name) != 0) {
            api_reply_error(c->resp, 422, "routing_rule", keys[k],
                            "%s: rule same_workspace: \"%s\" is not in workspace %s", keys[k],
                            json_string_value(v), c->ws.name);
            return false;
        }
        if (n >= 2 && strcmp(part[n - 2], network) != 0) {
            api_reply_error(c->resp, 422, "routing_rule", keys[k],
                            "%s: rule in_network: \"%s\" is not in network %s", keys[k],
                            json_string_value(v), network);
            return false;
        }
        json_object_set_new(layer, keys[k], json_string(part[n - 1]));
    }
    return true;
}

/* The body of a routing layer PUT: only the layer's fields, refs made
 * local. Empty fields (null) are dropped. */
static json_t *layer_body(ctx *c, const char *network)
{
    if (!api_parse_body(c, NN_API_MAX_BODY) || !api_only_keys(c, c->body, layer_fields))
        return NULL;
    json_t *layer = json_deep_copy(c->body);
    const char *key;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(layer, tmp, key, v)
    {
        if (json_is_null(v))
            json_object_del(layer, key);
    }
    if (!normalize_refs(c, layer, network)) {
        json_decref(layer);
        return NULL;
    }
    return layer;
}

static json_t *layer_of(const json_t *body, const char *key)
{
    json_t *v = key ? json_object_get(body, key) : (json_t *)body;
    json_t *out = json_object();
    for (size_t i = 0; layer_fields[i]; i++) {
        json_t *f = json_object_get(v, layer_fields[i]);
        if (f)
            json_object_set(out, layer_fields[i], f);
    }
    return out;
}

/* May the caller read (or write) what belongs to owner (a device's owner,
 * or the user a preference is for)? 0 yes; else the status to answer: a
 * member sees only their own (404 for the rest, as for their device
 * rows); a viewer reads everything and writes nothing (403). */
static int personal_access(const ctx *c, const char *owner, bool write)
{
    if (nn_rbac_allows(c->role, write ? NN_PERM_WRITE : NN_PERM_READ))
        return 0;
    if (nn_rbac_allows(c->role, NN_PERM_OWN_DEVICES) && owner && strcmp(owner, c->user.name) == 0)
        return 0;
    return nn_rbac_allows(c->role, NN_PERM_READ) ? 403 : 404;
}

static void deny(ctx *c, int code, const char *what, const char *name)
{
    if (code == 403)
        api_reply_error(c->resp, 403, "forbidden", NULL, "role %s may not change %s %s",
                        nn_role_name(c->role), what, name);
    else
        api_not_found(c, what, name);
}

/* Replaces field key of row (kind/name in network net) with layer, or
 * stores layer as the whole body (key NULL), in one validated write. */
static void write_layer(ctx *c, const nn_row *net, const char *kind, const char *name,
                        const char *key, json_t *layer, const char *path)
{
    if (!api_begin(c)) {
        json_decref(layer);
        return;
    }
    nn_row row = {0};
    json_t *body;
    int r = 0;
    int64_t scope = strcmp(kind, "networks") == 0 ? 0 : net->id; /* a network is a top row */
    if (key) {
        r = nn_store_row_get(c->store, c->ws.id, scope, kind, name, &row);
        body = r ? NULL : json_deep_copy(row.body);
        if (body && json_object_size(layer))
            json_object_set(body, key, layer);
        else if (body)
            json_object_del(body, key);
    } else {
        body = json_incref(layer);
    }
    json_decref(layer);
    int64_t id;
    bool created;
    if (r == 0)
        r = nn_store_row_put(c->store, c->ws.id, scope, kind, name, body, &id, &created);
    json_decref(body);
    nn_row_clear(&row);
    if (r) {
        nn_store_rollback(c->store);
        return r == -ENOENT ? api_not_found(c, kind, name)
                            : api_reply_store_error(c->resp, c->store, r);
    }
    if (api_finish_write(c, net->id, "update", path, NULL))
        api_reply_json(c->resp, 200,
                       json_pack("{s:s, s:b}", "updated", path, "dry_run", api_dry_run(c)));
}

/* The workspace model as stored now, and its gateway assignment. */
typedef struct model {
    nn_doc *doc;
    const nn_workspace *ws;
    nn_gw_assignment *assign;
    json_t *nodes; /* reported node states */
} model;

static void model_free(model *m)
{
    free(m->assign);
    nn_doc_free(m->doc);
    json_decref(m->nodes);
}

static bool model_load(ctx *c, model *m)
{
    memset(m, 0, sizeof(*m));
    char field[NN_ERROR_PATH_MAX], msg[NN_ERROR_MSG_MAX];
    int r = nn_wsdoc_load(c->store, &c->ws, &m->doc, field, sizeof(field), msg, sizeof(msg));
    if (r == 0)
        r = nn_store_node_states(c->store, c->ws.id, &m->nodes);
    /* Every host reported down: the scheduler skips them. */
    const char **down = calloc(json_array_size(m->nodes) + 1, sizeof(*down));
    size_t ndown = 0, i;
    json_t *v;
    if (r == 0 && !down)
        r = -ENOMEM;
    json_array_foreach(down ? m->nodes : NULL, i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "state")), "down") == 0)
            down[ndown++] = json_string_value(json_object_get(v, "host"));
    }
    if (r == 0 && !(m->ws = nn_doc_find_workspace(m->doc, c->ws.name)))
        r = -ENOENT;
    if (r == 0)
        r = nn_gateway_assign(m->ws, down, ndown, &m->assign);
    free(down);
    if (r) {
        model_free(m);
        api_reply_error(c->resp, 500, "internal", NULL, "loading workspace %s failed (%d)",
                        c->ws.name, r);
        return false;
    }
    return true;
}

static json_t *field_json(const char *value, nn_sel_source from)
{
    return json_pack("{s:s?, s:s}", "value", value, "source", nn_sel_source_name(from));
}

static json_t *peer_json(const nn_member *p, nn_sel_source from)
{
    json_t *v = field_json(p ? p->name : NULL, from);
    if (p)
        json_object_set_new(v, "host", json_string(p->host));
    return v;
}

/* 0 when name is a user with a role in the workspace (or a platform
 * admin); else replies 404 (or the store error) and returns nonzero. */
static int user_in_workspace(ctx *c, const char *name)
{
    nn_user u;
    nn_role role = NN_ROLE_NONE;
    int r = nn_store_user_find(c->store, name, &u);
    if (r == 0)
        r = nn_store_role(c->store, c->ws.id, u.id, &role);
    if (r == 0 && role == NN_ROLE_NONE && !u.platform_admin)
        r = -ENOENT;
    if (r == -ENOENT)
        api_not_found(c, "user", name);
    else if (r)
        api_reply_store_error(c->resp, c->store, r);
    return r;
}

/* GET .../devices/D/routing and .../users/U/routing. */
static void resolved(ctx *c, const char *network, bool device, const char *name)
{
    model m;
    if ((!device && user_in_workspace(c, name)) || !model_load(c, &m))
        return;
    const nn_network *net = nn_workspace_find_network(m.ws, network);
    const nn_member *d = net && device ? nn_network_find_device(net, name) : NULL;
    const char *user = device ? (d ? d->owner : NULL) : name;
    if (!net || (device && !d) || personal_access(c, user, false)) {
        model_free(&m);
        return api_not_found(c, device ? "device" : "user", name);
    }
    nn_selection s;
    nn_routing_resolve(&m.assign[net - m.ws->networks], nn_network_find_user_routing(net, user),
                       d, &s);
    json_t *out = json_pack(
        "{s:s, s:s?, s:s?, s:o, s:o, s:o, s:o}", "network", net->name, "device",
        device ? name : NULL, "user", user, "routing_mode",
        field_json(nn_sel_mode_name(s.routing_mode), s.from_routing_mode), "traffic_mode",
        field_json(nn_traffic_mode_name(s.traffic_mode), s.from_traffic_mode), "ingress",
        peer_json(s.ingress, s.from_ingress), "egress", peer_json(s.egress, s.from_egress));
    model_free(&m);
    api_reply_json(c->resp, 200, out);
}

/* /workspaces/W/networks/N/routing-policy */
static void network_policy(ctx *c, const nn_row *net)
{
    if (api_method_is(c, "GET"))
        return api_reply_json(c->resp, 200, layer_of(net->body, "routing_policy"));
    if (!api_method_is(c, "PUT"))
        return api_method_not_allowed(c);
    json_t *layer = layer_body(c, net->name);
    char path[200];
    snprintf(path, sizeof(path), "networks/%s/routing_policy", net->name);
    if (layer)
        write_layer(c, net, "networks", net->name, "routing_policy", layer, path);
}

/* /workspaces/W/networks/N/devices/D/routing-preference */
static void device_preference(ctx *c, const nn_row *net, const char *name)
{
    nn_row d;
    int r = nn_store_row_get(c->store, c->ws.id, net->id, "devices", name, &d);
    const char *owner = r ? NULL : json_string_value(json_object_get(d.body, "owner"));
    bool get = api_method_is(c, "GET");
    int deny_code = r ? 404 : personal_access(c, owner, !get);
    json_t *current = deny_code ? NULL : layer_of(d.body, "routing_preference");
    nn_row_clear(&d);
    if (r && r != -ENOENT)
        return api_reply_store_error(c->resp, c->store, r);
    if (deny_code)
        return deny(c, deny_code, "device", name);
    if (get)
        return api_reply_json(c->resp, 200, current);
    json_decref(current);
    if (!api_method_is(c, "PUT"))
        return api_method_not_allowed(c);
    json_t *layer = layer_body(c, net->name);
    char path[200];
    snprintf(path, sizeof(path), "networks/%s/devices/%s/routing_preference", net->name, name);
    if (layer)
        write_layer(c, net, "devices", name, "routing_preference", layer, path);
}

/* /workspaces/W/networks/N/users/U/routing-preference */
static void user_preference(ctx *c, const nn_row *net, const char *name)
{
    if (user_in_workspace(c, name))
        return;
    bool get = api_method_is(c, "GET");
    int deny_code = personal_access(c, name, !get);
    if (deny_code)
        return deny(c, deny_code, "user", name);
    if (get) {
        nn_row row;
        int r = nn_store_row_get(c->store, c->ws.id, net->id, "user_routing_preferences", name, &row);
        json_t *out = r == 0 ? layer_of(row.body, NULL) : json_object();
        nn_row_clear(&row);
        if (r && r != -ENOENT) {
            json_decref(out);
            return api_reply_store_error(c->resp, c->store, r);
        }
        return api_reply_json(c->resp, 200, out);
    }
    if (!api_method_is(c, "PUT"))
        return api_method_not_allowed(c);
    json_t *layer = layer_body(c, net->name);
    char path[200];
    snprintf(path, sizeof(path), "networks/%s/user_routing_preferences/%s", net->name, name);
    if (layer)
        write_layer(c, net, "user_routing_preferences", name, NULL, layer, path);
}

void nn_api_routing_network(ctx *c)
{
    /* seg: workspaces W networks N routing-policy | (devices|users) X what */
    /* Personal routes check the owner themselves (personal_access). */
    bool personal = c->nseg == 7;
    nn_perm perm = personal                  ? NN_PERM_SEE
                   : api_method_is(c, "PUT") ? NN_PERM_WRITE
                                             : NN_PERM_READ;
    if (!api_enter_workspace(c, perm))
        return;
    nn_row net;
    if (!api_find_network(c, c->seg[3], &net))
        return;
    if (!personal) {
        network_policy(c, &net);
    } else if (strcmp(c->seg[6], "routing") == 0) {
        if (api_method_is(c, "GET"))
            resolved(c, net.name, strcmp(c->seg[4], "devices") == 0, c->seg[5]);
        else
            api_method_not_allowed(c);
    } else if (strcmp(c->seg[4], "devices") == 0) {
        device_preference(c, &net, c->seg[5]);
    } else {
        user_preference(c, &net, c->seg[5]);
    }
    nn_row_clear(&net);
}

/* GET /workspaces/W/gateway-assignments */
void nn_api_gateway_assignments(ctx *c)
{
    if (!api_method_is(c, "GET"))
        return api_method_not_allowed(c);
    if (!api_enter_workspace(c, NN_PERM_READ))
        return;
    model m;
    if (!model_load(c, &m))
        return;
    json_t *nets = json_array();
    for (size_t n = 0; n < m.ws->nnetworks; n++) {
        json_t *o = json_pack("{s:s}", "network", m.ws->networks[n].name);
        for (int f = 0; f < NN_GW_FN_COUNT; f++) {
            const nn_gw_choice *ch = &m.assign[n].fn[f];
            json_t *peers = json_array();
            for (size_t i = 0; i < ch->n; i++)
                json_array_append_new(peers, json_pack("{s:s, s:s}", "peer", ch->peers[i]->name,
                                                       "host", ch->peers[i]->host));
            json_object_set_new(o, nn_gw_function_name((nn_gw_function)f),
                                json_pack("{s:o, s:b}", "gateways", peers, "pinned", ch->pinned));
        }
        json_array_append_new(nets, o);
    }
    json_t *out = json_pack(
        "{s:{s:s, s:s, s:i}, s:o, s:O}", "policy", "assignment_mode",
        m.ws->gateways.manual ? "manual" : "auto", "selection", "balanced", "redundancy",
        (int)m.ws->gateways.redundancy, "networks", nets, "nodes", m.nodes);
    model_free(&m);
    api_reply_json(c->resp, 200, out);
}

/* GET /workspaces/W/nodes, GET/PUT /workspaces/W/nodes/H/status */
void nn_api_nodes(ctx *c)
{
    bool one = c->nseg == 5;
    if (!api_enter_workspace(c, api_method_is(c, "GET") ? NN_PERM_READ : NN_PERM_WRITE))
        return;
    json_t *states;
    if (api_method_is(c, "GET")) {
        int r = nn_store_node_states(c->store, c->ws.id, &states);
        if (r || !one)
            return api_reply_read(c->resp, c->store, r, states);
        size_t i;
        json_t *v;
        json_array_foreach(states, i, v)
        {
            if (strcmp(json_string_value(json_object_get(v, "host")), c->seg[3]) == 0) {
                json_incref(v);
                json_decref(states);
                return api_reply_json(c->resp, 200, v);
            }
        }
        json_decref(states);
        return api_reply_json(c->resp, 200,
                              json_pack("{s:s, s:s, s:n}", "host", c->seg[3], "state", "unknown",
                                        "reported_at"));
    }
    if (!one || !api_method_is(c, "PUT"))
        return api_method_not_allowed(c);
    static const char *const fields[] = {"state", NULL};
    if (!api_parse_body(c, NN_API_MAX_BODY) || !api_only_keys(c, c->body, fields))
        return;
    const char *state = json_string_value(json_object_get(c->body, "state"));
    if (!state || (strcmp(state, "up") != 0 && strcmp(state, "down") != 0))
        return api_reply_error(c->resp, 422, "invalid", "state", "state must be \"up\" or \"down\"");
    if (!api_begin(c))
        return;
    char path[100];
    snprintf(path, sizeof(path), "nodes/%s/status", c->seg[3]);
    int r = nn_store_node_state_set(c->store, c->ws.id, c->seg[3], strcmp(state, "up") == 0);
    if (r) {
        nn_store_rollback(c->store);
        return api_reply_store_error(c->resp, c->store, r);
    }
    /* Node state changes the assignment, not the stored intent. */
    if (api_finish_write(c, AFFECT_NONE, state, path, NULL))
        api_reply_json(c->resp, 200,
                       json_pack("{s:s, s:s, s:b}", "host", c->seg[3], "state", state, "dry_run",
                                 api_dry_run(c)));
}
