/* nn_agent_envelope: the daemon's strict reading of an envelope. */
#include "agent/envelope.h"

#include "model/error.h"
#include "util/buf.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int get_uint(json_t *obj, const char *path, const char *key, json_int_t max, uint64_t *out,
                    char *why, size_t why_len)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
        return nn_why_invalid(why, why_len, "%s.%s: must be an integer 0-%lld", path, key,
                              (long long)max);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* A JSON array of prefix strings into a new array. */
static int get_prefixes(json_t *obj, const char *path, const char *key, nn_prefix **out, size_t *n,
                        char *why, size_t why_len)
{
    json_t *arr = json_object_get(obj, key);
    *out = NULL;
    *n = 0;
    if (!json_is_array(arr))
        return nn_why_invalid(why, why_len, "%s.%s: must be an array of prefixes", path, key);
    size_t count = json_array_size(arr);
    if (count == 0)
        return 0;
    *out = calloc(count, sizeof(**out));
    if (!*out)
        abort();
    for (size_t i = 0; i < count; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        const char *reason = "must be a string";
        if (!s || nn_prefix_parse(s, false, false, &(*out)[i], &reason))
            return nn_why_invalid(why, why_len, "%s.%s[%zu]: %s", path, key, i, reason);
        *n = i + 1;
    }
    return 0;
}

static int parse_peer(json_t *jp, const char *path, nn_agent_resolver resolver, nn_wg_device *wg,
                      char *why, size_t why_len)
{
    if (!json_is_object(jp))
        return nn_why_invalid(why, why_len, "%s: must be an object", path);
    const char *keytext = json_string_value(json_object_get(jp, "public_key"));
    nn_key key;
    const char *reason = "must be a string";
    if (!keytext || nn_key_from_base64(keytext, &key, &reason))
        return nn_why_invalid(why, why_len, "%s.public_key: %s", path, reason);
    nn_wg_peer *p = nn_wg_device_add_peer(wg, &key);
    uint64_t ka = 0;
    int r;
    if ((r = get_uint(jp, path, "persistent_keepalive", 65535, &ka, why, why_len)))
        return r;
    p->keepalive = (uint16_t)ka;
    json_t *ep = json_object_get(jp, "endpoint");
    if (json_is_string(ep)) {
        const char *s = json_string_value(ep);
        if (nn_wg_endpoint_parse(s, strlen(s), &p->endpoint) != 0) {
            if (!resolver)
                return nn_why_invalid(why, why_len, "%s.endpoint: \"%.80s\" is not ADDR:PORT", path,
                                      s);
            if ((r = resolver(s, &p->endpoint)))
                return nn_why_invalid(why, why_len, "%s.endpoint: cannot resolve \"%.80s\": %s",
                                      path, s, strerror(-r));
        }
    } else if (ep && !json_is_null(ep)) {
        return nn_why_invalid(why, why_len, "%s.endpoint: must be a string or null", path);
    }
    nn_prefix *allowed;
    size_t n;
    if ((r = get_prefixes(jp, path, "allowed_ips", &allowed, &n, why, why_len))) {
        free(allowed);
        return r;
    }
    p->allowed = allowed;
    p->n_allowed = p->cap_allowed = n;
    return 0;
}

/* One interface: ifc holds its settings (at path), peers its WireGuard
 * peers (at peers_path). */
static int parse_iface(json_t *ifc, const char *path, json_t *peers, const char *peers_path,
                       nn_agent_resolver resolver, nn_agent_iface *out, char *why, size_t why_len)
{
    uint64_t x = 0;
    int r;
    if (!json_is_object(ifc))
        return nn_why_invalid(why, why_len, "%s: must be an object", path);
    const char *name = json_string_value(json_object_get(ifc, "name"));
    if (!name || !nn_wg_ifname_valid(name))
        return nn_why_invalid(
            why, why_len, "%s.name: must be a Linux interface name (1-15 of A-Za-z0-9_.-)", path);
    snprintf(out->ifname, sizeof(out->ifname), "%s", name);
    if ((r = get_uint(ifc, path, "listen_port", 65535, &x, why, why_len)))
        return r;
    out->wg.listen_port = (uint16_t)x;
    out->wg.flags |= NN_WG_HAS_LISTEN_PORT;
    if ((r = get_uint(ifc, path, "mtu", 65535, &x, why, why_len)))
        return r;
    if (x < 1280) /* IPv6 needs 1280; the overlay always carries IPv6 */
        return nn_why_invalid(why, why_len, "%s.mtu: %llu is below IPv6's minimum 1280", path,
                              (unsigned long long)x);
    out->mtu = (uint32_t)x;
    json_t *fwd = json_object_get(ifc, "forwarding");
    if (!json_is_boolean(fwd))
        return nn_why_invalid(why, why_len, "%s.forwarding: must be true or false", path);
    out->forwarding = json_is_true(fwd);
    if ((r = get_prefixes(ifc, path, "addresses", &out->addresses, &out->n_addresses, why,
                          why_len)) ||
        (r = get_prefixes(ifc, path, "routes", &out->routes, &out->n_routes, why, why_len)))
        return r;
    json_t *vrf = json_object_get(ifc, "vrf");
    if (vrf) {
        const char *vrf_name = json_string_value(json_object_get(vrf, "name"));
        if (!vrf_name || !nn_wg_ifname_valid(vrf_name))
            return nn_why_invalid(why, why_len, "%s.vrf.name: must be a Linux interface name",
                                  path);
        snprintf(out->vrf, sizeof(out->vrf), "%s", vrf_name);
        /* Any table a VRF can take: not unspecified, default, main or local. */
        json_t *table = json_object_get(vrf, "table_id");
        json_int_t t = json_is_integer(table) ? json_integer_value(table) : 0;
        if (t < 1 || t > UINT32_MAX || (t >= 253 && t <= 255))
            return nn_why_invalid(why, why_len,
                                  "%s.vrf.table_id: must be a routing table, 1-4294967295 other "
                                  "than 253-255",
                                  path);
        out->vrf_table = (uint32_t)t;
    }
    if (!json_is_array(peers))
        return nn_why_invalid(why, why_len, "%s: must be an array", peers_path);
    for (size_t i = 0; i < json_array_size(peers); i++) {
        char ppath[64];
        snprintf(ppath, sizeof(ppath), "%s[%zu]", peers_path, i);
        if ((r = parse_peer(json_array_get(peers, i), ppath, resolver, &out->wg, why, why_len)))
            return r;
    }
    if (nn_wg_device_sort(&out->wg))
        return nn_why_invalid(why, why_len, "%s: a public key appears twice", peers_path);
    return 0;
}

static int get_ruleset(json_t *env, const char *key, const char **out, char *why, size_t why_len)
{
    json_t *o = json_object_get(env, key);
    *out = json_string_value(json_object_get(o, "ruleset"));
    if (!*out)
        return nn_why_invalid(why, why_len, "%s.ruleset: must be a string", key);
    return 0;
}

static int cmp_iface(const void *a, const void *b)
{
    return strcmp(((const nn_agent_iface *)a)->ifname, ((const nn_agent_iface *)b)->ifname);
}

static int cmp_bridge(const void *a, const void *b)
{
    return strcmp(((const nn_agent_bridge *)a)->name, ((const nn_agent_bridge *)b)->name);
}

/* host_bridges: [{kernel_name, kind: linux|ovs, ...}], names distinct and
 * none an interface's. */
static int parse_bridges(json_t *doc, nn_agent_envelope *out, char *why, size_t why_len)
{
    json_t *list = json_object_get(doc, "host_bridges");
    if (!json_is_array(list))
        return nn_why_invalid(why, why_len, "host_bridges: must be an array");
    size_t n = json_array_size(list);
    if (n > NN_AGENT_MAX_BRIDGES)
        return nn_why_invalid(why, why_len, "host_bridges: more than %d", NN_AGENT_MAX_BRIDGES);
    if (!(out->bridges = calloc(n + 1, sizeof(*out->bridges))))
        abort();
    for (size_t i = 0; i < n; i++) {
        json_t *b = json_array_get(list, i);
        const char *name = json_string_value(json_object_get(b, "kernel_name"));
        const char *kind = json_string_value(json_object_get(b, "kind"));
        if (!name || !nn_wg_ifname_valid(name))
            return nn_why_invalid(why, why_len,
                                  "host_bridges[%zu].kernel_name: not an interface name", i);
        if (!kind || (strcmp(kind, "linux") && strcmp(kind, "ovs")))
            return nn_why_invalid(why, why_len, "host_bridges[%zu].kind: must be linux or ovs", i);
        if (nn_agent_envelope_iface(out, name))
            return nn_why_invalid(why, why_len,
                                  "host_bridges[%zu].kernel_name: \"%s\" is an interface", i, name);
        snprintf(out->bridges[i].name, sizeof(out->bridges[i].name), "%s", name);
        out->bridges[i].ovs = !strcmp(kind, "ovs");
        out->n_bridges = i + 1;
    }
    qsort(out->bridges, n, sizeof(*out->bridges), cmp_bridge);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(out->bridges[i - 1].name, out->bridges[i].name))
            return nn_why_invalid(why, why_len, "host_bridges: \"%s\" appears twice",
                                  out->bridges[i].name);
    return 0;
}

/* A node document's interfaces, bridges and frr_text. */
static int parse_node(json_t *doc, nn_agent_resolver resolver, nn_agent_envelope *out, char *why,
                      size_t why_len)
{
    json_t *ifs = json_object_get(doc, "interfaces");
    if (!json_is_array(ifs))
        return nn_why_invalid(why, why_len, "interfaces: must be an array");
    size_t n = json_array_size(ifs);
    if (n > NN_AGENT_MAX_IFACES)
        return nn_why_invalid(why, why_len, "interfaces: more than %d", NN_AGENT_MAX_IFACES);
    out->ifaces = calloc(n + 1, sizeof(*out->ifaces));
    if (!out->ifaces)
        abort();
    int r;
    for (size_t i = 0; i < n; i++) {
        char path[32], peers_path[48];
        snprintf(path, sizeof(path), "interfaces[%zu]", i);
        snprintf(peers_path, sizeof(peers_path), "interfaces[%zu].peers", i);
        json_t *ifc = json_array_get(ifs, i);
        out->n_ifaces = i + 1;
        if ((r = parse_iface(ifc, path, json_object_get(ifc, "peers"), peers_path, resolver,
                             &out->ifaces[i], why, why_len)))
            return r;
    }
    qsort(out->ifaces, n, sizeof(*out->ifaces), cmp_iface);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(out->ifaces[i - 1].ifname, out->ifaces[i].ifname))
            return nn_why_invalid(why, why_len, "interfaces: \"%s\" appears twice",
                                  out->ifaces[i].ifname);
    if ((r = parse_bridges(doc, out, why, why_len)))
        return r;
    json_t *frr = json_object_get(doc, "frr_text");
    if (!json_is_string(frr))
        return nn_why_invalid(why, why_len, "frr_text: must be a string");
    if (json_string_length(frr) && !(out->frr_text = strdup(json_string_value(frr))))
        abort();
    return 0;
}

/* An envelope's one interface, its role and its BGP text. */
static int parse_membership(json_t *env, nn_agent_resolver resolver, nn_agent_envelope *out,
                            char *why, size_t why_len)
{
    out->ifaces = calloc(1, sizeof(*out->ifaces));
    if (!out->ifaces)
        abort();
    out->n_ifaces = 1;
    int r =
        parse_iface(json_object_get(env, "interface"), "interface", json_object_get(env, "peers"),
                    "peers", resolver, &out->ifaces[0], why, why_len);
    if (r)
        return r;
    json_t *self = json_object_get(env, "self");
    const char *role = json_string_value(json_object_get(self, "role"));
    if (!role || (strcmp(role, "hub") && strcmp(role, "spoke") && strcmp(role, "member")))
        return nn_why_invalid(why, why_len, "self.role: must be hub, spoke or member");
    snprintf(out->role, sizeof(out->role), "%s", role);
    json_t *bgp = json_object_get(env, "bgp");
    if (json_is_true(json_object_get(bgp, "enabled"))) {
        const char *frr = json_string_value(json_object_get(bgp, "frr_text"));
        if (!frr)
            return nn_why_invalid(why, why_len, "bgp.frr_text: must be a string when bgp.enabled");
        if (!(out->frr_text = strdup(frr)))
            abort();
    }
    return 0;
}

int nn_agent_envelope_parse(const char *bytes, size_t len, nn_agent_resolver resolver,
                            nn_agent_envelope *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *env = NULL;
    int r = 0;
    if (len > NN_ENVELOPE_MAX) {
        r = nn_why_invalid(why, why_len, "envelope larger than %u bytes", NN_ENVELOPE_MAX);
        goto out;
    }
    env = json_loadb(bytes, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(env)) {
        r = env ? nn_why_invalid(why, why_len, "envelope: must be a JSON object")
                : nn_why_invalid(why, why_len, "envelope: byte %d: %s", jerr.position, jerr.text);
        goto out;
    }
    out->node = json_object_get(env, "interfaces") != NULL;
    if ((r = out->node ? parse_node(env, resolver, out, why, why_len)
                       : parse_membership(env, resolver, out, why, why_len)))
        goto out;
    for (size_t i = 0; i < out->n_ifaces; i++)
        out->forwarding = out->forwarding || out->ifaces[i].forwarding;
    const char *fw, *nat;
    if ((r = get_ruleset(env, "firewall", &fw, why, why_len)) ||
        (r = get_ruleset(env, "nat", &nat, why, why_len)))
        goto out;
    if (asprintf(&out->nft_ruleset, "%s\n%s", fw, nat) < 0)
        abort();
    json_t *ovn = json_object_get(env, "ovn");
    if (ovn && !json_is_null(ovn)) {
        if ((r = nn_ovn_plan_parse(ovn, &out->ovn, why, why_len)))
            goto out;
        out->has_ovn = true;
    }
out:
    json_decref(env);
    if (r)
        nn_agent_envelope_free(out);
    return r;
}

void nn_agent_envelope_free(nn_agent_envelope *e)
{
    for (size_t i = 0; i < e->n_ifaces; i++) {
        free(e->ifaces[i].addresses);
        free(e->ifaces[i].routes);
        nn_wg_device_free(&e->ifaces[i].wg);
    }
    free(e->ifaces);
    free(e->bridges);
    free(e->nft_ruleset);
    free(e->frr_text);
    if (e->has_ovn)
        nn_ovn_plan_free(&e->ovn);
    memset(e, 0, sizeof(*e));
}

const nn_agent_iface *nn_agent_envelope_iface(const nn_agent_envelope *e, const char *ifname)
{
    for (size_t i = 0; i < e->n_ifaces; i++)
        if (!strcmp(e->ifaces[i].ifname, ifname))
            return &e->ifaces[i];
    return NULL;
}

int nn_agent_envelope_rename(nn_agent_envelope *e, const char *from, const char *to)
{
    nn_agent_iface *f = (nn_agent_iface *)nn_agent_envelope_iface(e, from);
    if (!f)
        return -ENOENT;
    if (strcmp(from, to) && nn_agent_envelope_iface(e, to))
        return -EEXIST;
    for (size_t i = 0; i < e->n_bridges; i++)
        if (!strcmp(e->bridges[i].name, to))
            return -EEXIST;
    char q_from[20], q_to[20];
    snprintf(q_from, sizeof(q_from), "\"%s\"", from);
    snprintf(q_to, sizeof(q_to), "\"%s\"", to);
    size_t fl = strlen(q_from), tl = strlen(q_to);
    nn_buf out = NN_BUF_INIT;
    const char *s = e->nft_ruleset, *hit;
    while ((hit = strstr(s, q_from))) {
        nn_buf_append(&out, s, (size_t)(hit - s));
        nn_buf_append(&out, q_to, tl);
        s = hit + fl;
    }
    nn_buf_puts(&out, s);
    free(e->nft_ruleset);
    e->nft_ruleset = nn_buf_steal(&out);
    snprintf(f->ifname, sizeof(f->ifname), "%s", to);
    qsort(e->ifaces, e->n_ifaces, sizeof(*e->ifaces), cmp_iface);
    return 0;
}
