#include "api/wsdoc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "model/intent.h"

const char *const nn_ws_kinds[] = {
    "route_policies", "federation_peers", "ovn_deployments", "ipfix_collectors", "hosts", NULL};
const char *const nn_net_kinds[] = {"peers",
                                    "devices",
                                    "firewall_rules",
                                    "port_mappings",
                                    "virtual_ips",
                                    "subnet_advertisements",
                                    "route_leaks",
                                    "route_policies",
                                    "user_routing_preferences",
                                    NULL};

bool nn_kind_valid(const char *kind, bool network_scope)
{
    for (const char *const *k = network_scope ? nn_net_kinds : nn_ws_kinds; *k; k++)
        if (strcmp(*k, kind) == 0)
            return true;
    return false;
}

json_t *nn_wsdoc_merge(const json_t *body, const json_t *alloc)
{
    json_t *out = json_deep_copy(body);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)alloc, key, v)
    {
        json_t *have = json_object_get(out, key);
        if (!have)
            json_object_set_new(out, key, json_deep_copy(v));
        else if (json_is_object(have) && json_is_object(v))
            json_object_set_new(out, key, nn_wsdoc_merge(have, v));
    }
    return out;
}

json_t *nn_wsdoc_network_index(const nn_row *rows, size_t n)
{
    json_t *index = json_object();
    char id[24];
    for (size_t i = 0; i < n; i++)
        if (rows[i].network_id == 0 && strcmp(rows[i].kind, "networks") == 0) {
            snprintf(id, sizeof(id), "%lld", (long long)rows[i].id);
            json_object_set_new(index, id, json_integer((json_int_t)i));
        }
    return index;
}

const nn_row *nn_wsdoc_network_row(const json_t *index, const nn_row *rows, int64_t network_id)
{
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)network_id);
    json_t *at = json_object_get(index, id);
    return at ? &rows[json_integer_value(at)] : NULL;
}

static json_t *row_object(const nn_row *r, bool with_alloc)
{
    return with_alloc ? nn_wsdoc_merge(r->body, r->alloc) : json_deep_copy(r->body);
}

static void append_to(json_t *obj, const char *kind, json_t *item)
{
    json_t *arr = json_object_get(obj, kind);
    if (!arr) {
        arr = json_array();
        json_object_set_new(obj, kind, arr);
    }
    json_array_append_new(arr, item);
}

int nn_wsdoc_build_rows(nn_store *s, const nn_row *ws, const nn_row *rows, size_t n,
                        bool with_alloc, json_t **out)
{
    *out = NULL;
    char *ula = NULL;
    int r = nn_store_meta_get(s, "ula_prefix", &ula);
    if (r && r != -ENOENT)
        return r;
    json_t *w = row_object(ws, with_alloc);
    json_object_set_new(w, "name", json_string(ws->name));
    json_t *nets = json_array();
    json_object_set_new(w, "networks", nets);
    json_t *index = nn_wsdoc_network_index(rows, n);
    json_t *by_name = json_object(); /* network name -> its object in nets */
    /* Rows come ordered by (network, kind, name): networks and other
     * workspace-scope rows first, so a member's network is already there. */
    for (size_t i = 0; i < n; i++) {
        json_t *item = row_object(&rows[i], with_alloc);
        json_object_set_new(item, "name", json_string(rows[i].name));
        if (rows[i].network_id) {
            const nn_row *net = nn_wsdoc_network_row(index, rows, rows[i].network_id);
            json_t *parent = net ? json_object_get(by_name, net->name) : NULL;
            if (parent)
                append_to(parent, rows[i].kind, item);
            else
                json_decref(item); /* cannot happen: the foreign key */
        } else if (strcmp(rows[i].kind, "networks") == 0) {
            json_object_set(by_name, rows[i].name, item);
            json_array_append_new(nets, item);
        } else {
            append_to(w, rows[i].kind, item);
        }
    }
    json_decref(index);
    json_decref(by_name);
    json_t *doc = json_pack("{s:[o]}", "workspaces", w);
    if (ula)
        json_object_set_new(doc, "ula_prefix", json_string(ula));
    free(ula);
    *out = doc;
    return 0;
}

int nn_wsdoc_build(nn_store *s, const nn_row *ws, bool with_alloc, json_t **out)
{
    nn_row *rows;
    size_t n;
    *out = NULL;
    int r = nn_store_row_all(s, ws->id, &rows, &n);
    if (r)
        return r;
    r = nn_wsdoc_build_rows(s, ws, rows, n, with_alloc, out);
    nn_rows_free(rows, n);
    return r;
}

/* "workspaces[0].networks[1].peers[3].endpoint" -> "networks/corp/peers/db-1/endpoint",
 * by looking the indices up in doc. */
static void name_path(const json_t *doc, const char *path, char *out, size_t len)
{
    char buf[NN_ERROR_PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    const json_t *cur = doc;
    size_t o = 0;
    out[0] = '\0';
    bool first = true;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok;
         tok = strtok_r(NULL, ".", &save)) {
        char *br = strchr(tok, '[');
        long idx = -1;
        if (br) {
            *br = '\0';
            idx = strtol(br + 1, NULL, 10);
        }
        cur = cur ? json_object_get(cur, tok) : NULL;
        const json_t *elem = idx >= 0 && cur ? json_array_get(cur, (size_t)idx) : NULL;
        const char *name = json_string_value(json_object_get(elem, "name"));
        bool skip = first && strcmp(tok, "workspaces") == 0 && idx == 0;
        first = false;
        if (!skip) {
            int w = snprintf(out + o, len - o, "%s%s", o ? "/" : "", tok);
            o = w > 0 && (size_t)w < len - o ? o + (size_t)w : len - 1;
            if (idx >= 0) {
                w = name ? snprintf(out + o, len - o, "/%s", name)
                         : snprintf(out + o, len - o, "[%ld]", idx);
                o = w > 0 && (size_t)w < len - o ? o + (size_t)w : len - 1;
            }
        }
        cur = idx >= 0 ? elem : cur;
    }
}

int nn_wsdoc_validate(const json_t *doc, nn_doc **model, char *field, size_t flen, char *msg,
                      size_t mlen)
{
    *model = NULL;
    nn_error err = {{0}, {0}};
    nn_doc *d;
    /* Parsed from the JSON tree itself: a dump and a re-parse of a large
     * workspace cost more than the validation. */
    int r = nn_intent_parse_json((json_t *)doc, &d, &err);
    if (r == 0 && (r = nn_alloc_assign(d, &err)) != 0)
        nn_doc_free(d);
    if (r) {
        name_path(doc, err.path, field, flen);
        snprintf(msg, mlen, "%s", err.msg);
        return r;
    }
    *model = d;
    return 0;
}

static bool set_if_absent(json_t *alloc, const json_t *body, const char *key, json_t *value)
{
    if (json_object_get(body, key) || json_equal(json_object_get(alloc, key), value)) {
        json_decref(value);
        return false;
    }
    json_object_set_new(alloc, key, value);
    return true;
}

int nn_wsdoc_alloc_diff(const nn_row *ws, const nn_row *rows, size_t n, const nn_doc *model,
                        json_t **ws_alloc, json_t **row_alloc)
{
    const nn_workspace *w = nn_doc_find_workspace(model, ws->name);
    *ws_alloc = NULL;
    for (size_t i = 0; i < n; i++)
        row_alloc[i] = NULL;
    if (!w)
        return -ENOENT;
    if (w->bgp_enabled && !w->bgp_as_pin) {
        json_t *want = json_pack("{s:I}", "as_number", (json_int_t)w->bgp_as);
        if (!json_equal(json_object_get(ws->alloc, "bgp"), want)) {
            *ws_alloc = json_deep_copy(ws->alloc);
            json_object_set(*ws_alloc, "bgp", want);
        }
        json_decref(want);
    }
    json_t *index = nn_wsdoc_network_index(rows, n);
    char buf[64];
    for (size_t i = 0; i < n; i++) {
        bool peer = strcmp(rows[i].kind, "peers") == 0;
        if (rows[i].network_id == 0 && strcmp(rows[i].kind, "networks") == 0) {
            /* a network's /64, as a pin: it never moves */
            const nn_network *net = nn_workspace_find_network(w, rows[i].name);
            json_t *alloc = json_deep_copy(rows[i].alloc);
            if (net && set_if_absent(alloc, rows[i].body, "ipv6_prefix",
                                     json_string(nn_prefix_format(&net->prefix6, true, buf))))
                row_alloc[i] = alloc;
            else
                json_decref(alloc);
            continue;
        }
        if (!peer && strcmp(rows[i].kind, "devices") != 0)
            continue;
        const nn_row *net_row = nn_wsdoc_network_row(index, rows, rows[i].network_id);
        const nn_network *net = net_row ? nn_workspace_find_network(w, net_row->name) : NULL;
        const nn_member *m = !net   ? NULL
                             : peer ? nn_network_find_peer(net, rows[i].name)
                                    : nn_network_find_device(net, rows[i].name);
        if (!m)
            continue;
        json_t *alloc = json_deep_copy(rows[i].alloc);
        bool changed = false;
        if (m->addr4.family)
            changed |= set_if_absent(alloc, rows[i].body, "ipv4",
                                     json_string(nn_prefix_format(&m->addr4, false, buf)));
        if (peer && net->routing_mode == NN_ROUTING_IBGP && w->bgp_enabled) {
            snprintf(buf, sizeof(buf), "%u.%u.%u.%u", m->router_id[0], m->router_id[1],
                     m->router_id[2], m->router_id[3]);
            changed |= set_if_absent(alloc, rows[i].body, "bgp_router_id", json_string(buf));
        }
        /* the VRF table on its host, unless the host pins it */
        const nn_vrf *vrf = peer && m->host_ref ? nn_host_find_vrf(m->host_ref, net) : NULL;
        if (vrf && vrf->peer == m && !vrf->pinned)
            changed |= set_if_absent(alloc, rows[i].body, "vrf_table",
                                     json_integer((json_int_t)vrf->table_id));
        if (changed)
            row_alloc[i] = alloc;
        else
            json_decref(alloc);
    }
    json_decref(index);
    return 0;
}

int nn_wsdoc_save_alloc(nn_store *s, const nn_row *ws, const nn_doc *model)
{
    nn_row *rows;
    size_t n;
    int r = nn_store_row_all(s, ws->id, &rows, &n);
    if (r)
        return r;
    json_t *ws_alloc, **row_alloc = calloc(n + 1, sizeof(*row_alloc));
    if (!row_alloc) {
        nn_rows_free(rows, n);
        return -ENOMEM;
    }
    r = nn_wsdoc_alloc_diff(ws, rows, n, model, &ws_alloc, row_alloc);
    if (r == 0 && ws_alloc)
        r = nn_store_workspace_update(s, ws->id, NULL, ws_alloc);
    for (size_t i = 0; i < n; i++) {
        if (r == 0 && row_alloc[i])
            r = nn_store_row_set_alloc(s, rows[i].id, row_alloc[i]);
        json_decref(row_alloc[i]);
    }
    json_decref(ws_alloc);
    free(row_alloc);
    nn_rows_free(rows, n);
    return r;
}

int nn_wsdoc_load(nn_store *s, const nn_row *ws, nn_doc **model, char *field, size_t flen,
                  char *msg, size_t mlen)
{
    json_t *doc;
    *model = NULL;
    int r = nn_wsdoc_build(s, ws, true, &doc);
    if (r)
        return r;
    r = nn_wsdoc_validate(doc, model, field, flen, msg, mlen);
    json_decref(doc);
    return r;
}

const char *nn_wsdoc_peer_host(const json_t *body, const char *name)
{
    const char *h = json_string_value(json_object_get(body, "host"));
    return h ? h : name;
}
