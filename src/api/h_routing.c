/* Routing selection (seed 002), gateway assignment and node state (seed
 * 000): the network's routing policy, users' and devices' routing
 * preferences, the resolved selection with where each field came from,
 * the scheduler's assignment, and reported node state.
 *
 * Preferences are fields of stored intent rows (a network's
 * "routing_policy", a device's "routing_preference") or rows of their own
 * ("user_routing_preferences" in a network), so export, apply and every
 * write's whole-workspace validation cover them like any other intent.
 *
 * A member reaches only their own devices and their own preferences (the
 * router sets own_only); the rest answers 404, as their device rows do. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/gateway.h"
#include "api/handlers.h"
#include "api/write.h"
#include "api/wsdoc.h"
#include "model/intent.h"

static const char *const layer_fields[] = {"routing_mode", "traffic_mode", "ingress", "egress",
                                           NULL};

/* A manual ingress/egress may be written "PEER", "NETWORK/PEER" or
 * "WORKSPACE/NETWORK/PEER"; it is stored as the peer name once it is known
 * to point into this workspace and network. */
static bool normalize_refs(ctx *c, json_t *layer)
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
        if (n >= 2 && strcmp(part[n - 2], c->net.name) != 0) {
            api_reply_error(c->resp, 422, "routing_rule", keys[k],
                            "%s: rule in_network: \"%s\" is not in network %s", keys[k],
                            json_string_value(v), c->net.name);
            return false;
        }
        json_object_set_new(layer, keys[k], json_string(part[n - 1]));
    }
    return true;
}

/* The body of a routing layer PUT: only the layer's fields, refs made
 * local. Empty fields (null) are dropped. */
static json_t *layer_body(ctx *c)
{
    if (!api_only_keys(c, c->body, layer_fields))
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
    if (!normalize_refs(c, layer)) {
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

typedef struct layer_write {
    api_write w;
    const char *net; /* "" for the network row itself */
    const char *kind, *name;
    const char *key; /* the field the layer is, or NULL: the whole body */
    json_t *layer;
} layer_write;

/* Replaces field key of the row with the layer (or stores the layer as
 * the whole body when key is NULL). */
static int build_layer(ctx *c, api_change *ch, void *arg)
{
    layer_write *lw = arg;
    if (!lw->key)
        return api_change_put(ch, lw->net, lw->kind, lw->name, json_incref(lw->layer));
    const nn_row *row = api_snap_row(ch, lw->net, lw->kind, lw->name);
    if (!row) {
        api_not_found(c, lw->kind, lw->name);
        return -ECANCELED;
    }
    json_t *body = json_deep_copy(row->body);
    if (json_object_size(lw->layer))
        json_object_set(body, lw->key, lw->layer);
    else
        json_object_del(body, lw->key);
    return api_change_put(ch, lw->net, lw->kind, lw->name, body);
}

static void write_layer(ctx *c, layer_write *lw)
{
    if (!(lw->layer = layer_body(c)))
        return;
    lw->w.build = build_layer;
    lw->w.arg = lw;
    lw->w.action = "update";
    if (api_write_run(c, &lw->w))
        api_reply_json(c->resp, 200,
                       json_pack("{s:s, s:b}", "updated", lw->w.target, "dry_run", c->dry_run));
    json_decref(lw->layer);
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

/* {user} when it names a user with a role in the workspace (or a platform
 * admin) the caller may see; else replies 404 and returns NULL. */
static const char *workspace_user(ctx *c)
{
    const char *name = api_param(c, "user");
    nn_user u;
    nn_role role;
    int r = api_user_role(c, name, &u, &role);
    if (r == 0 &&
        ((role == NN_ROLE_NONE && !u.platform_admin) || (c->own_only && !api_is_caller(c, name))))
        r = -ENOENT;
    if (r == -ENOENT)
        api_not_found(c, "user", name);
    else if (r)
        api_reply_store_error(c->resp, c->store, r);
    return r ? NULL : name;
}

/* The resolved selection of a device (or of a user, without one). */
static void resolved(ctx *c, const char *device, const char *user)
{
    model m;
    if (!model_load(c, &m))
        return;
    const nn_network *net = nn_workspace_find_network(m.ws, c->net.name);
    const nn_member *d = net && device ? nn_network_find_device(net, device) : NULL;
    if (device)
        user = d ? d->owner : NULL;
    if (!net || (device && !d) || (c->own_only && !api_is_caller(c, user))) {
        model_free(&m);
        return api_not_found(c, device ? "device" : "user", device ? device : user);
    }
    nn_selection s;
    nn_routing_resolve(&m.assign[net - m.ws->networks], nn_network_find_user_routing(net, user), d,
                       &s);
    json_t *out = json_pack(
        "{s:s, s:s?, s:s?, s:o, s:o, s:o, s:o}", "network", net->name, "device", device, "user",
        user, "routing_mode", field_json(nn_sel_mode_name(s.routing_mode), s.from_routing_mode),
        "traffic_mode", field_json(nn_traffic_mode_name(s.traffic_mode), s.from_traffic_mode),
        "ingress", peer_json(s.ingress, s.from_ingress), "egress",
        peer_json(s.egress, s.from_egress));
    model_free(&m);
    api_reply_json(c->resp, 200, out);
}

void h_device_routing(ctx *c)
{
    resolved(c, api_param(c, "device"), NULL);
}

void h_user_routing(ctx *c)
{
    const char *user = workspace_user(c);
    if (user)
        resolved(c, NULL, user);
}

void h_routing_policy_get(ctx *c)
{
    api_reply_json(c->resp, 200, layer_of(c->net.body, "routing_policy"));
}

void h_routing_policy_put(ctx *c)
{
    layer_write lw = {.net = "", .kind = "networks", .name = c->net.name, .key = "routing_policy"};
    snprintf(lw.w.target, sizeof(lw.w.target), "networks/%s/routing_policy", c->net.name);
    write_layer(c, &lw);
}

/* The device {device} of c->net the caller may reach, or a 404 reply. */
static bool reachable_device(ctx *c, nn_row *d)
{
    const char *name = api_param(c, "device");
    int r = nn_store_row_get(c->store, c->ws.id, c->net.id, "devices", name, d);
    if (r == 0 && c->own_only &&
        !api_is_caller(c, json_string_value(json_object_get(d->body, "owner"))))
        r = -ENOENT;
    if (r == -ENOENT)
        api_not_found(c, "device", name);
    else if (r)
        api_reply_store_error(c->resp, c->store, r);
    if (r)
        nn_row_clear(d);
    return r == 0;
}

void h_device_preference_get(ctx *c)
{
    nn_row d;
    if (!reachable_device(c, &d))
        return;
    api_reply_json(c->resp, 200, layer_of(d.body, "routing_preference"));
    nn_row_clear(&d);
}

void h_device_preference_put(ctx *c)
{
    nn_row d;
    if (!reachable_device(c, &d))
        return;
    layer_write lw = {.net = c->net.name,
                      .kind = "devices",
                      .name = api_param(c, "device"),
                      .key = "routing_preference"};
    snprintf(lw.w.target, sizeof(lw.w.target), "networks/%s/devices/%s/routing_preference",
             c->net.name, lw.name);
    write_layer(c, &lw);
    nn_row_clear(&d);
}

void h_user_preference_get(ctx *c)
{
    const char *user = workspace_user(c);
    if (!user)
        return;
    nn_row row;
    int r = nn_store_row_get(c->store, c->ws.id, c->net.id, "user_routing_preferences", user, &row);
    json_t *out = r == 0 ? layer_of(row.body, NULL) : json_object();
    nn_row_clear(&row);
    if (r && r != -ENOENT) {
        json_decref(out);
        return api_reply_store_error(c->resp, c->store, r);
    }
    api_reply_json(c->resp, 200, out);
}

void h_user_preference_put(ctx *c)
{
    const char *user = workspace_user(c);
    if (!user)
        return;
    layer_write lw = {.net = c->net.name, .kind = "user_routing_preferences", .name = user};
    snprintf(lw.w.target, sizeof(lw.w.target), "networks/%s/user_routing_preferences/%s",
             c->net.name, user);
    write_layer(c, &lw);
}

void h_gateway_assignments(ctx *c)
{
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
    json_t *out =
        json_pack("{s:{s:s, s:s, s:i}, s:o, s:O}", "policy", "assignment_mode",
                  m.ws->gateways.manual ? "manual" : "auto", "selection", "balanced", "redundancy",
                  (int)m.ws->gateways.redundancy, "networks", nets, "nodes", m.nodes);
    model_free(&m);
    api_reply_json(c->resp, 200, out);
}

void h_nodes_list(ctx *c)
{
    json_t *states;
    int r = nn_store_node_states(c->store, c->ws.id, &states);
    api_reply_read(c->resp, c->store, r, states);
}

void h_node_state_get(ctx *c)
{
    const char *host = api_param(c, "host");
    json_t *states;
    int r = nn_store_node_states(c->store, c->ws.id, &states);
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    size_t i;
    json_t *v, *found = NULL;
    json_array_foreach(states, i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "host")), host) == 0)
            found = json_incref(v);
    }
    json_decref(states);
    api_reply_json(
        c->resp, 200,
        found ? found
              : json_pack("{s:s, s:s, s:n}", "host", host, "state", "unknown", "reported_at"));
}

static int set_state(ctx *c, void *arg)
{
    const char *state = arg;
    return c->dry_run ? 0
                      : nn_store_node_state_set(c->store, c->ws.id, api_param(c, "host"),
                                                strcmp(state, "up") == 0);
}

/* Node state changes the assignment, not the stored intent. */
void h_node_state_put(ctx *c)
{
    static const char *const fields[] = {"state", NULL};
    if (!api_only_keys(c, c->body, fields))
        return;
    const char *state = json_string_value(json_object_get(c->body, "state"));
    if (!state || (strcmp(state, "up") != 0 && strcmp(state, "down") != 0))
        return api_reply_error(c->resp, 422, "invalid", "state",
                               "state must be \"up\" or \"down\"");
    const char *host = api_param(c, "host");
    char path[100];
    snprintf(path, sizeof(path), "nodes/%s/status", host);
    if (api_tx_run(c, set_state, (void *)state, c->ws.id, state, path, NULL))
        api_reply_json(
            c->resp, 200,
            json_pack("{s:s, s:s, s:b}", "host", host, "state", state, "dry_run", c->dry_run));
}
