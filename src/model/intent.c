#include "model/intent.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/hosts.h"

/* The parser keeps the JSON path of the node it is looking at, so every
 * rejection can say exactly where it is. */
typedef struct parser {
    nn_error *err;
    char path[NN_ERROR_PATH_MAX];
    size_t pathlen;
} parser;

static int fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parser *p, const char *fmt, ...)
{
    if (p->err) {
        snprintf(p->err->path, sizeof(p->err->path), "%s", p->pathlen ? p->path : "(document)");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static size_t push_key(parser *p, const char *key)
{
    size_t old = p->pathlen;
    int n = snprintf(p->path + p->pathlen, sizeof(p->path) - p->pathlen, "%s%s",
                     p->pathlen ? "." : "", key);
    if (n > 0)
        p->pathlen +=
            (size_t)n < sizeof(p->path) - p->pathlen ? (size_t)n : sizeof(p->path) - p->pathlen - 1;
    return old;
}

static size_t push_index(parser *p, size_t i)
{
    size_t old = p->pathlen;
    int n = snprintf(p->path + p->pathlen, sizeof(p->path) - p->pathlen, "[%zu]", i);
    if (n > 0)
        p->pathlen +=
            (size_t)n < sizeof(p->path) - p->pathlen ? (size_t)n : sizeof(p->path) - p->pathlen - 1;
    return old;
}

static void pop(parser *p, size_t old)
{
    p->pathlen = old;
    p->path[old] = '\0';
}

/* Fails with the path extended by key. */
static int fail_at(parser *p, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(parser *p, const char *key, const char *fmt, ...)
{
    push_key(p, key);
    if (p->err) {
        snprintf(p->err->path, sizeof(p->err->path), "%s", p->path);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static const char *json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* Rejects keys not in allowed (NULL-terminated): a typo must not be a no-op. */
static int check_fields(parser *p, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, key) == 0)
                ok = true;
        if (!ok) {
            char shown[80];
            size_t klen = strlen(key);
            bool printable = klen > 0 && klen < 64;
            for (size_t i = 0; printable && i < klen; i++)
                if ((unsigned char)key[i] < 0x20 || key[i] == '"' || key[i] == '\\')
                    printable = false;
            if (printable)
                snprintf(shown, sizeof(shown), "%s", key);
            else
                snprintf(shown, sizeof(shown), "(field %zu bytes long)", klen);
            return fail_at(p, shown, "unknown field");
        }
    }
    return 0;
}

int nn_intent_valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '-' && c != '_' && c != '.')))
            return 0;
    }
    return 1;
}

/* --- typed getters: each names the field it complains about -------------- */

static int get_string(parser *p, json_t *obj, const char *key, bool required, const char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return fail_at(p, key, "is required");
        return 0;
    }
    if (!json_is_string(v))
        return fail_at(p, key, "must be a string, not %s", json_kind(v));
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return fail_at(p, key, "contains a NUL character");
    *out = s;
    return 0;
}

static int get_name(parser *p, json_t *obj, const char *key, bool required, const char **out)
{
    int r = get_string(p, obj, key, required, out);
    if (r || !*out)
        return r;
    if (!nn_intent_valid_name(*out))
        return fail_at(p, key,
                       "\"%.63s\" is not a valid name (1-63 of A-Z a-z 0-9 . _ -, starting with a "
                       "letter or digit)",
                       *out);
    return 0;
}

static int get_bool(parser *p, json_t *obj, const char *key, bool dflt, bool *out)
{
    json_t *v = json_object_get(obj, key);
    *out = dflt;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return fail_at(p, key, "must be true or false, not %s", json_kind(v));
    *out = json_is_true(v);
    return 0;
}

static int get_int(parser *p, json_t *obj, const char *key, bool required, int64_t lo, int64_t hi,
                   int64_t dflt, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    *out = dflt;
    if (!v || json_is_null(v)) {
        if (required)
            return fail_at(p, key, "is required");
        return 0;
    }
    if (!json_is_integer(v))
        return fail_at(p, key, "must be an integer, not %s", json_kind(v));
    json_int_t i = json_integer_value(v);
    if (i < lo || i > hi)
        return fail_at(p, key, "%lld is out of range (%lld-%lld)", (long long)i, (long long)lo,
                       (long long)hi);
    *out = i;
    return 0;
}

static int get_port(parser *p, json_t *obj, const char *key, bool required, uint16_t dflt,
                    uint16_t *out)
{
    int64_t v;
    int r = get_int(p, obj, key, required, 1, 65535, dflt, &v);
    *out = (uint16_t)v;
    return r;
}

/* Maps a string field onto one of names[] (NULL-terminated); index into *out. */
static int get_enum(parser *p, json_t *obj, const char *key, const char *const *names, int dflt,
                    int *out)
{
    const char *s;
    int r = get_string(p, obj, key, false, &s);
    *out = dflt;
    if (r || !s)
        return r;
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    char choices[256] = "";
    for (int i = 0; names[i]; i++) {
        strncat(choices, i ? ", " : "", sizeof(choices) - strlen(choices) - 1);
        strncat(choices, names[i], sizeof(choices) - strlen(choices) - 1);
    }
    return fail_at(p, key, "\"%.40s\" is not one of: %s", s, choices);
}

static int get_prefix(parser *p, json_t *obj, const char *key, bool required, int family,
                      int exact_len, nn_prefix *out, bool *present)
{
    const char *s, *why;
    int r = get_string(p, obj, key, required, &s);
    *present = false;
    if (r || !s)
        return r;
    if (nn_prefix_parse(s, true, false, out, &why) != 0)
        return fail_at(p, key, "\"%.60s\" %s", s, why);
    if (family && out->family != family)
        return fail_at(p, key, "\"%.60s\" must be an IPv%d prefix", s, family);
    if (exact_len >= 0 && out->len != exact_len)
        return fail_at(p, key, "\"%.60s\" must be a /%d", s, exact_len);
    *present = true;
    return 0;
}

/* Gets an array (absent = empty). */
static int get_array(parser *p, json_t *obj, const char *key, bool required, json_t **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return fail_at(p, key, "is required");
        return 0;
    }
    if (!json_is_array(v))
        return fail_at(p, key, "must be an array, not %s", json_kind(v));
    *out = v;
    return 0;
}

static int expect_object(parser *p, json_t *v)
{
    if (!json_is_object(v))
        return fail(p, "must be an object, not %s", json_kind(v));
    return 0;
}

/* "host:port", "[v6]:port" or "dns.name:port" as WireGuard accepts it. */
static int check_endpoint(const char *s, const char **why)
{
    const char *colon = strrchr(s, ':');
    *why = "must be HOST:PORT (an IPv4 address, [IPv6] or DNS name, and a port 1-65535)";
    if (!colon || colon == s || colon[1] == '\0' || strlen(colon + 1) > 5)
        return -EINVAL;
    unsigned port = 0;
    for (const char *c = colon + 1; *c; c++) {
        if (*c < '0' || *c > '9')
            return -EINVAL;
        port = port * 10 + (unsigned)(*c - '0');
    }
    if (port < 1 || port > 65535 || colon[1] == '0')
        return -EINVAL;
    size_t hlen = (size_t)(colon - s);
    char host[256];
    if (hlen >= sizeof(host))
        return -EINVAL;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    nn_prefix a;
    if (host[0] == '[') {
        if (hlen < 3 || host[hlen - 1] != ']')
            return -EINVAL;
        host[hlen - 1] = '\0';
        if (nn_addr_parse(host + 1, &a) != 0 || a.family != NN_AF_INET6)
            return -EINVAL;
        return 0;
    }
    if (nn_addr_parse(host, &a) == 0)
        return a.family == NN_AF_INET4 ? 0 : -EINVAL; /* bare v6 needs brackets */
    /* DNS name: labels of [A-Za-z0-9-], 1-63 long, not starting/ending with '-'. */
    if (hlen > 253)
        return -EINVAL;
    size_t label = 0;
    bool all_digits_dots = true;
    for (size_t i = 0; i <= hlen; i++) {
        char c = host[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || host[i - 1] == '-')
                return -EINVAL;
            label = 0;
            continue;
        }
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok || (label == 0 && c == '-') || ++label > 63)
            return -EINVAL;
        if (!(c >= '0' && c <= '9'))
            all_digits_dots = false;
    }
    if (all_digits_dots)
        return -EINVAL; /* "1.2.3" is a mistyped address, not a host name */
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_prefix(const void *a, const void *b)
{
    return nn_prefix_cmp(a, b);
}

/* --- members (peers and devices) ----------------------------------------- */

/* --- routing selection (seed 002) ------------------------------------------ */

static const char *const sel_mode_names[] = {"auto", "manual", NULL};
static const char *const traffic_names[] = {"vpn_only", "full_tunnel", NULL};

static int get_string_list(parser *p, json_t *obj, const char *key, bool names, bool keep_order,
                           const char ***out, size_t *count);

/* The fields of a routing layer in object v, every one optional. Peer
 * names are kept in the pointers until resolve_routing_layer() turns them
 * into peers (after sorting). */
static int routing_fields(parser *p, json_t *v, nn_routing_layer *l)
{
    int r, e;
    const char *in, *out;
    if ((r = get_enum(p, v, "routing_mode", sel_mode_names, -1, &e)))
        return r;
    l->routing_mode = e < 0 ? NN_SEL_UNSET : (nn_sel_mode)(e + 1);
    if ((r = get_enum(p, v, "traffic_mode", traffic_names, -1, &e)))
        return r;
    l->traffic_mode = e < 0 ? NN_TRAFFIC_UNSET : (nn_traffic_mode)(e + 1);
    if ((r = get_name(p, v, "ingress", false, &in)) || (r = get_name(p, v, "egress", false, &out)))
        return r;
    l->ingress = (const nn_member *)in;
    l->egress = (const nn_member *)out;
    return 0;
}

/* obj.key: {"routing_mode", "traffic_mode", "ingress", "egress"}. */
static int parse_routing_layer(parser *p, json_t *obj, const char *key, nn_routing_layer *l)
{
    static const char *const fields[] = {"routing_mode", "traffic_mode", "ingress", "egress", NULL};
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    size_t k = push_key(p, key);
    int r;
    if ((r = expect_object(p, v)) || (r = check_fields(p, v, fields)) ||
        (r = routing_fields(p, v, l)))
        return r;
    pop(p, k);
    return 0;
}

/* A peer's "roles" (gateway capabilities) and "allowed_users". */
static int parse_gateway_fields(parser *p, json_t *obj, nn_member *m)
{
    static const char *const role_names[] = {"ingress_gateway", "exit_gateway", NULL};
    const char **roles;
    size_t nroles;
    int r = get_string_list(p, obj, "roles", true, false, &roles, &nroles);
    for (size_t i = 0; r == 0 && i < nroles; i++) {
        size_t j = 0;
        while (role_names[j] && strcmp(role_names[j], roles[i]) != 0)
            j++;
        if (role_names[j]) {
            m->gw_roles |= 1u << j;
        } else {
            size_t k = push_key(p, "roles");
            push_index(p, i);
            r = fail(p, "\"%s\" is not a role (ingress_gateway, exit_gateway)", roles[i]);
            pop(p, k);
        }
    }
    free(roles);
    if (r)
        return r;
    json_t *users = json_object_get(obj, "allowed_users");
    m->users_restricted = users && !json_is_null(users);
    return get_string_list(p, obj, "allowed_users", true, false, &m->allowed_users,
                           &m->nallowed_users);
}

/* Resolves l's peer names in net and checks the rules of seed 002: a
 * manual ingress or egress is a peer of the target network (in_network),
 * has the matching gateway role (gateway_role) and, for a user's or a
 * device's own preference, admits that user (user_allowed). The caller has
 * pushed the layer's path. */
static int resolve_routing_layer(parser *p, const nn_network *net, nn_routing_layer *l,
                                 const char *user, bool personal)
{
    const nn_member **refs[2] = {&l->ingress, &l->egress};
    static const char *const keys[2] = {"ingress", "egress"};
    for (size_t i = 0; i < 2; i++) {
        const char *name = (const char *)*refs[i];
        if (!name)
            continue;
        const nn_member *g = nn_network_find_peer(net, name);
        *refs[i] = g;
        if (!g)
            return fail_at(p, keys[i], "rule in_network: no peer named \"%s\" in network %s", name,
                           net->name);
        if (i == 0 && !(g->gw_roles & NN_GW_INGRESS))
            return fail_at(p, keys[i],
                           "rule gateway_role: peer \"%s\" does not have the role "
                           "ingress_gateway",
                           name);
        if (i == 1 && !(g->gw_roles & NN_GW_EXIT))
            return fail_at(p, keys[i],
                           "rule gateway_role: peer \"%s\" does not have the role exit_gateway",
                           name);
        if (personal && !nn_gateway_admits(g, user))
            return fail_at(p, keys[i],
                           "rule user_allowed: gateway \"%s\" does not admit %s%s%s (its "
                           "allowed_users)",
                           name, user ? "user \"" : "a device without an owner", user ? user : "",
                           user ? "\"" : "");
    }
    return 0;
}

static int parse_user_routing(parser *p, json_t *obj, void *elem, void *ctx)
{
    static const char *const fields[] = {"name",    "routing_mode", "traffic_mode",
                                         "ingress", "egress",       NULL};
    nn_user_routing *u = elem;
    (void)ctx;
    int r;
    if ((r = expect_object(p, obj)) || (r = check_fields(p, obj, fields)) ||
        (r = get_name(p, obj, "name", true, &u->name)))
        return r;
    return routing_fields(p, obj, &u->routing);
}

static int parse_member(parser *p, json_t *obj, bool is_device, const nn_network *net, nn_member *m)
{
    static const char *const peer_fields[] = {
        "name",  "public_key",    "publicly_reachable", "endpoint",    "lan_subnets",
        "tags",  "host",          "listen_port",        "ipv4",        "bgp_router_id",
        "roles", "allowed_users", "vrf_table",          "description", NULL};
    static const char *const device_fields[] = {
        "name", "public_key", "tags", "ipv4", "owner", "routing_preference", "description", NULL};
    int r;
    if ((r = expect_object(p, obj)) ||
        (r = check_fields(p, obj, is_device ? device_fields : peer_fields)))
        return r;
    m->is_device = is_device;
    const char *s, *why;
    if ((r = get_name(p, obj, "name", true, &m->name)))
        return r;
    /* A peer may leave its key to its host (nn_hosts_check fills it in);
     * a device is nobody's host. */
    if ((r = get_string(p, obj, "public_key", is_device, &s)))
        return r;
    if (s && nn_key_from_base64(s, &m->public_key, &why) != 0)
        return fail_at(p, "public_key", "%s", why);
    m->key_given = s != NULL;
    if (s)
        nn_key_to_base64(&m->public_key, m->public_key_b64);
    if ((r = get_string(p, obj, "description", false, &s)))
        return r;
    if (is_device) {
        if ((r = get_string(p, obj, "owner", false, &m->owner)) ||
            (r = parse_routing_layer(p, obj, "routing_preference", &m->routing)))
            return r;
    } else {
        if ((r = parse_gateway_fields(p, obj, m)))
            return r;
        if ((r = get_bool(p, obj, "publicly_reachable", false, &m->publicly_reachable)))
            return r;
        if ((m->gw_roles & NN_GW_INGRESS) && !m->publicly_reachable)
            return fail_at(p, "roles",
                           "ingress_gateway needs publicly_reachable: true (devices connect to "
                           "hubs only)");
        if ((r = get_string(p, obj, "endpoint", false, &m->endpoint)))
            return r;
        if (m->endpoint && check_endpoint(m->endpoint, &why) != 0)
            return fail_at(p, "endpoint", "\"%.80s\" %s", m->endpoint, why);
        if ((r = get_name(p, obj, "host", false, &m->host)))
            return r;
        int64_t lp;
        if ((r = get_int(p, obj, "listen_port", false, 1, 65535, 0, &lp)))
            return r;
        if ((r = get_string(p, obj, "bgp_router_id", false, &s)))
            return r;
        if (s) {
            nn_prefix rid;
            if (nn_addr_parse(s, &rid) != 0 || rid.family != NN_AF_INET4 ||
                !memcmp(rid.addr, "\0\0\0\0", 4) || !memcmp(rid.addr, "\xff\xff\xff\xff", 4))
                return fail_at(p, "bgp_router_id",
                               "\"%.40s\" is not a router id (a dotted quad, not 0.0.0.0 or "
                               "255.255.255.255)",
                               s);
            memcpy(m->router_id, rid.addr, 4);
            m->has_router_id = true;
        }
        m->listen_port = (uint16_t)lp;
        int64_t table;
        if ((r = get_int(p, obj, "vrf_table", false, 100, 65535, 0, &table))) /* as hosts' vrfs */
            return r;
        if (table >= 253 && table <= 255)
            return fail_at(p, "vrf_table", "%lld is reserved by the kernel (253-255)",
                           (long long)table);
        m->vrf_table = (uint32_t)table;
        json_t *lans;
        if ((r = get_array(p, obj, "lan_subnets", false, &lans)))
            return r;
        if (lans && json_array_size(lans)) {
            m->nlan = json_array_size(lans);
            m->lan_subnets = calloc(m->nlan, sizeof(nn_prefix));
            if (!m->lan_subnets)
                return -ENOMEM;
            size_t k = push_key(p, "lan_subnets");
            for (size_t i = 0; i < m->nlan; i++) {
                json_t *v = json_array_get(lans, i);
                size_t k2 = push_index(p, i);
                if (!json_is_string(v))
                    return fail(p, "must be a CIDR string, not %s", json_kind(v));
                if (nn_prefix_parse(json_string_value(v), true, false, &m->lan_subnets[i], &why))
                    return fail(p, "\"%.60s\" %s", json_string_value(v), why);
                if (m->lan_subnets[i].len == 0)
                    return fail(p, "a default route is not a LAN subnet (exit gateways "
                                   "are configured through routing policy)");
                if (net->has_ipv4 && nn_prefix_overlaps(&m->lan_subnets[i], &net->ipv4_cidr))
                    return fail(p, "\"%.60s\" overlaps the network's ipv4_cidr",
                                json_string_value(v));
                pop(p, k2);
            }
            qsort(m->lan_subnets, m->nlan, sizeof(nn_prefix), cmp_prefix);
            for (size_t i = 1; i < m->nlan; i++)
                if (nn_prefix_cmp(&m->lan_subnets[i - 1], &m->lan_subnets[i]) == 0)
                    return fail(p, "lists the same subnet twice");
            pop(p, k);
        }
    }
    if (!m->host)
        m->host = m->name;
    json_t *tags;
    if ((r = get_array(p, obj, "tags", false, &tags)))
        return r;
    if (tags && json_array_size(tags)) {
        m->ntags = json_array_size(tags);
        m->tags = calloc(m->ntags, sizeof(char *));
        if (!m->tags)
            return -ENOMEM;
        size_t k = push_key(p, "tags");
        for (size_t i = 0; i < m->ntags; i++) {
            json_t *v = json_array_get(tags, i);
            size_t k2 = push_index(p, i);
            if (!json_is_string(v) || !nn_intent_valid_name(json_string_value(v)) ||
                strlen(json_string_value(v)) != json_string_length(v))
                return fail(p, "a tag must be a name (1-63 of A-Z a-z 0-9 . _ -)");
            m->tags[i] = json_string_value(v);
            pop(p, k2);
        }
        pop(p, k);
        qsort(m->tags, m->ntags, sizeof(char *), cmp_str);
        size_t w = 0; /* duplicates are harmless; fold them */
        for (size_t i = 0; i < m->ntags; i++)
            if (w == 0 || strcmp(m->tags[w - 1], m->tags[i]) != 0)
                m->tags[w++] = m->tags[i];
        m->ntags = w;
    }
    if ((r = get_string(p, obj, "ipv4", false, &s)))
        return r;
    if (s) {
        if (!net->has_ipv4)
            return fail_at(p, "ipv4", "the network has no ipv4_cidr to take an address from");
        if (nn_addr_parse(s, &m->ipv4_pin) != 0 || m->ipv4_pin.family != NN_AF_INET4)
            return fail_at(p, "ipv4", "\"%.60s\" is not an IPv4 address", s);
        if (!nn_prefix_contains(&net->ipv4_cidr, &m->ipv4_pin))
            return fail_at(p, "ipv4", "%s is outside the network's ipv4_cidr", s);
        /* The network and broadcast addresses are not usable host addresses. */
        nn_prefix net_addr = net->ipv4_cidr, bcast = net->ipv4_cidr;
        uint32_t hostmask = net->ipv4_cidr.len == 32 ? 0 : (0xffffffffu >> net->ipv4_cidr.len);
        uint32_t base = ((uint32_t)bcast.addr[0] << 24) | ((uint32_t)bcast.addr[1] << 16) |
                        ((uint32_t)bcast.addr[2] << 8) | bcast.addr[3];
        base |= hostmask;
        bcast.addr[0] = (uint8_t)(base >> 24);
        bcast.addr[1] = (uint8_t)(base >> 16);
        bcast.addr[2] = (uint8_t)(base >> 8);
        bcast.addr[3] = (uint8_t)base;
        if (memcmp(m->ipv4_pin.addr, net_addr.addr, 4) == 0 ||
            memcmp(m->ipv4_pin.addr, bcast.addr, 4) == 0)
            return fail_at(p, "ipv4", "%s is the network or broadcast address of the ipv4_cidr", s);
        m->ipv4_pinned = true;
    }
    return 0;
}

/* --- firewall rules -------------------------------------------------------- */

static int parse_selector(parser *p, json_t *obj, const char *key, nn_selector *sel)
{
    static const char *const fields[] = {"peer", "cidr", "tag", "all", NULL};
    json_t *v = json_object_get(obj, key);
    memset(sel, 0, sizeof(*sel));
    sel->kind = NN_SEL_ALL;
    if (!v || json_is_null(v))
        return 0; /* absent = no constraint on this side */
    size_t k = push_key(p, key);
    int r;
    if ((r = expect_object(p, v)) || (r = check_fields(p, v, fields)))
        return r;
    if (json_object_size(v) != 1)
        return fail(p, "a selector has exactly one of \"peer\", \"cidr\", \"tag\", \"all\"");
    const char *s, *why;
    if (json_object_get(v, "peer")) {
        sel->kind = NN_SEL_PEER;
        if ((r = get_name(p, v, "peer", true, &sel->name)))
            return r;
    } else if (json_object_get(v, "tag")) {
        sel->kind = NN_SEL_TAG;
        if ((r = get_name(p, v, "tag", true, &sel->name)))
            return r;
    } else if (json_object_get(v, "cidr")) {
        sel->kind = NN_SEL_CIDR;
        if ((r = get_string(p, v, "cidr", true, &s)))
            return r;
        if (nn_prefix_parse(s, true, true, &sel->cidr, &why) != 0)
            return fail_at(p, "cidr", "\"%.60s\" %s", s, why);
    } else {
        bool all;
        if ((r = get_bool(p, v, "all", false, &all)))
            return r;
        if (!all)
            return fail_at(p, "all", "must be true (leave the selector out to match anything)");
        sel->kind = NN_SEL_ALL;
    }
    pop(p, k);
    return 0;
}

static int cmp_range(const void *a, const void *b)
{
    const nn_port_range *x = a, *y = b;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    return x->hi < y->hi ? -1 : x->hi > y->hi;
}

static int parse_ports(parser *p, json_t *arr, nn_fw_rule *rule)
{
    size_t n = json_array_size(arr);
    if (n == 0)
        return 0;
    if (n > 1024)
        return fail(p, "at most 1024 ports or ranges");
    rule->ports = calloc(n, sizeof(nn_port_range));
    if (!rule->ports)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        size_t k = push_index(p, i);
        nn_port_range pr;
        if (json_is_integer(v)) {
            json_int_t x = json_integer_value(v);
            if (x < 1 || x > 65535)
                return fail(p, "%lld is not a port (1-65535)", (long long)x);
            pr.lo = pr.hi = (uint16_t)x;
        } else if (json_is_string(v)) {
            unsigned lo, hi;
            char tail;
            if (sscanf(json_string_value(v), "%5u-%5u%c", &lo, &hi, &tail) != 2 || lo < 1 ||
                hi > 65535 || lo > hi || strlen(json_string_value(v)) > 11)
                return fail(p, "\"%.20s\" is not a port range \"LO-HI\" (1-65535, LO <= HI)",
                            json_string_value(v));
            pr.lo = (uint16_t)lo;
            pr.hi = (uint16_t)hi;
        } else {
            return fail(p, "a port is an integer or a \"LO-HI\" string, not %s", json_kind(v));
        }
        rule->ports[i] = pr;
        pop(p, k);
    }
    /* Sort and merge: nft rejects overlapping elements in one set, and the
     * canonical form must not depend on how the operator listed them. */
    qsort(rule->ports, n, sizeof(nn_port_range), cmp_range);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w && (uint32_t)rule->ports[w - 1].hi + 1 >= rule->ports[i].lo) {
            if (rule->ports[i].hi > rule->ports[w - 1].hi)
                rule->ports[w - 1].hi = rule->ports[i].hi;
        } else {
            rule->ports[w++] = rule->ports[i];
        }
    }
    rule->nports = w;
    return 0;
}

static const char *const proto_names[] = {"any", "tcp", "udp", "icmp", NULL};

static int parse_rule(parser *p, json_t *obj, nn_fw_rule *rule)
{
    static const char *const fields[] = {"name",   "position",    "action",  "protocol",    "ports",
                                         "source", "destination", "enabled", "description", NULL};
    static const char *const actions[] = {"accept", "drop", "reject", NULL};
    int r, e;
    const char *s;
    if ((r = expect_object(p, obj)) || (r = check_fields(p, obj, fields)))
        return r;
    if ((r = get_name(p, obj, "name", true, &rule->name)))
        return r;
    if ((r = get_string(p, obj, "description", false, &s)))
        return r;
    if ((r = get_int(p, obj, "position", false, 0, 1000000, 1000, &rule->position)))
        return r;
    if ((r = get_bool(p, obj, "enabled", true, &rule->enabled)))
        return r;
    if (!json_object_get(obj, "action"))
        return fail_at(p, "action", "is required (accept, drop or reject)");
    if ((r = get_enum(p, obj, "action", actions, 0, &e)))
        return r;
    rule->action = (nn_verdict)e;
    if ((r = get_enum(p, obj, "protocol", proto_names, 0, &e)))
        return r;
    rule->protocol = (nn_proto)e;
    json_t *ports;
    if ((r = get_array(p, obj, "ports", false, &ports)))
        return r;
    if (ports && json_array_size(ports)) {
        if (rule->protocol != NN_PROTO_TCP && rule->protocol != NN_PROTO_UDP)
            return fail_at(p, "ports", "ports need \"protocol\": \"tcp\" or \"udp\"");
        size_t k = push_key(p, "ports");
        if ((r = parse_ports(p, ports, rule)))
            return r;
        pop(p, k);
    }
    if ((r = parse_selector(p, obj, "source", &rule->source)) ||
        (r = parse_selector(p, obj, "destination", &rule->destination)))
        return r;
    return 0;
}

static int parse_mapping(parser *p, json_t *obj, nn_port_mapping *pm)
{
    static const char *const fields[] = {"name",          "hub",         "protocol",
                                         "external_port", "target",      "target_port",
                                         "enabled",       "description", NULL};
    static const char *const target_fields[] = {"peer", NULL};
    int r, e;
    const char *s;
    if ((r = expect_object(p, obj)) || (r = check_fields(p, obj, fields)))
        return r;
    if ((r = get_name(p, obj, "name", true, &pm->name)) ||
        (r = get_name(p, obj, "hub", true, &pm->hub_name)) ||
        (r = get_string(p, obj, "description", false, &s)))
        return r;
    if ((r = get_enum(p, obj, "protocol", proto_names, 1, &e)))
        return r;
    if (e != NN_PROTO_TCP && e != NN_PROTO_UDP)
        return fail_at(p, "protocol", "a port mapping is \"tcp\" or \"udp\"");
    pm->protocol = (nn_proto)e;
    if ((r = get_port(p, obj, "external_port", true, 0, &pm->external_port)))
        return r;
    if ((r = get_port(p, obj, "target_port", false, pm->external_port, &pm->target_port)))
        return r;
    if ((r = get_bool(p, obj, "enabled", true, &pm->enabled)))
        return r;
    json_t *t = json_object_get(obj, "target");
    if (!t)
        return fail_at(p, "target", "is required ({\"peer\": NAME})");
    size_t k = push_key(p, "target");
    if ((r = expect_object(p, t)) || (r = check_fields(p, t, target_fields)))
        return r;
    if ((r = get_name(p, t, "peer", true, &pm->target_peer)))
        return r;
    pop(p, k);
    return 0;
}

/* --- containers ------------------------------------------------------------ */

/* Parses each element of the array at key with fn into a calloc'd array. */
typedef int (*elem_fn)(parser *p, json_t *obj, void *elem, void *ctx);

static int parse_list(parser *p, json_t *obj, const char *key, bool required, size_t elem_size,
                      elem_fn fn, void *ctx, void **out, size_t *count)
{
    json_t *arr;
    int r;
    *out = NULL;
    *count = 0;
    if ((r = get_array(p, obj, key, required, &arr)) || !arr)
        return r;
    size_t n = json_array_size(arr);
    if (n == 0)
        return 0;
    char *items = calloc(n, elem_size);
    if (!items)
        return -ENOMEM;
    *out = items;
    *count = n; /* so a failure part-way still frees what was parsed */
    size_t k = push_key(p, key);
    for (size_t i = 0; i < n; i++) {
        size_t k2 = push_index(p, i);
        if ((r = fn(p, json_array_get(arr, i), items + i * elem_size, ctx)))
            return r;
        pop(p, k2);
    }
    pop(p, k);
    return 0;
}

static int peer_elem(parser *p, json_t *o, void *e, void *ctx)
{
    return parse_member(p, o, false, ctx, e);
}

static int device_elem(parser *p, json_t *o, void *e, void *ctx)
{
    return parse_member(p, o, true, ctx, e);
}

static int rule_elem(parser *p, json_t *o, void *e, void *ctx)
{
    (void)ctx;
    return parse_rule(p, o, e);
}

static int mapping_elem(parser *p, json_t *o, void *e, void *ctx)
{
    (void)ctx;
    return parse_mapping(p, o, e);
}

static void set_doc_indexes(void *items, size_t n, size_t elem_size, size_t offset)
{
    for (size_t i = 0; i < n; i++)
        *(size_t *)((char *)items + i * elem_size + offset) = i;
}

static int cmp_member(const void *a, const void *b)
{
    return strcmp(((const nn_member *)a)->name, ((const nn_member *)b)->name);
}

static int cmp_rule(const void *a, const void *b)
{
    const nn_fw_rule *x = a, *y = b;
    if (x->position != y->position)
        return x->position < y->position ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_mapping(const void *a, const void *b)
{
    return strcmp(((const nn_port_mapping *)a)->name, ((const nn_port_mapping *)b)->name);
}

/* Error path for element doc_index of list "key" under the network at np. */
static int fail_item(parser *p, size_t np, const char *list, size_t idx, const char *field,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int fail_item(parser *p, size_t np, const char *list, size_t idx, const char *field,
                     const char *fmt, ...)
{
    pop(p, np);
    push_key(p, list);
    push_index(p, idx);
    if (field)
        push_key(p, field);
    if (p->err) {
        snprintf(p->err->path, sizeof(p->err->path), "%s", p->path);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static int cmp_ptr_name(const void *a, const void *b)
{
    return strcmp((*(const nn_member *const *)a)->name, (*(const nn_member *const *)b)->name);
}

static int cmp_ptr_key(const void *a, const void *b)
{
    const nn_member *x = *(const nn_member *const *)a, *y = *(const nn_member *const *)b;
    if (x->key_given != y->key_given)
        return x->key_given ? 1 : -1;
    return memcmp(x->public_key.bytes, y->public_key.bytes, NN_KEY_LEN);
}

static int cmp_ptr_pin(const void *a, const void *b)
{
    const nn_member *x = *(const nn_member *const *)a, *y = *(const nn_member *const *)b;
    if (x->ipv4_pinned != y->ipv4_pinned)
        return x->ipv4_pinned ? -1 : 1;
    return memcmp(x->ipv4_pin.addr, y->ipv4_pin.addr, 4);
}

static const char *member_list(const nn_member *m)
{
    return m->is_device ? "devices" : "peers";
}

/* Of two clashing members, the one to blame: the later one in the document. */
static const nn_member *later_of(const nn_member *a, const nn_member *b)
{
    if (a->is_device != b->is_device)
        return a->is_device ? a : b;
    return a->doc_index > b->doc_index ? a : b;
}

/* A name in a network is one peer or one device, never both: selectors and
 * the address plan address them in one namespace. Keys and pinned addresses
 * must be unique too. O(n log n) in the number of members. */
static int check_network_members(parser *p, nn_network *net, size_t np)
{
    size_t n = net->npeers + net->ndevices;
    if (n < 2)
        return 0;
    const nn_member **s = malloc(n * sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < net->npeers; i++)
        s[i] = &net->peers[i];
    for (size_t i = 0; i < net->ndevices; i++)
        s[net->npeers + i] = &net->devices[i];
    int r = 0;
    qsort(s, n, sizeof(*s), cmp_ptr_name);
    for (size_t i = 1; i < n && !r; i++)
        if (strcmp(s[i - 1]->name, s[i]->name) == 0) {
            const nn_member *bad = later_of(s[i - 1], s[i]);
            const nn_member *other = bad == s[i] ? s[i - 1] : s[i];
            r = fail_item(p, np, member_list(bad), bad->doc_index, "name",
                          "duplicate name \"%s\" (also %s[%zu])", bad->name, member_list(other),
                          other->doc_index);
        }
    /* Peers that take their host's key are checked with the hosts
     * (nn_hosts_check): sort the keyless ones first and skip them. */
    qsort(s, n, sizeof(*s), cmp_ptr_key);
    for (size_t i = 1; i < n && !r; i++)
        if (s[i - 1]->key_given && s[i]->key_given &&
            memcmp(s[i - 1]->public_key.bytes, s[i]->public_key.bytes, NN_KEY_LEN) == 0) {
            const nn_member *bad = later_of(s[i - 1], s[i]);
            const nn_member *other = bad == s[i] ? s[i - 1] : s[i];
            r = fail_item(p, np, member_list(bad), bad->doc_index, "public_key",
                          "the same public key is already used by \"%s\"", other->name);
        }
    qsort(s, n, sizeof(*s), cmp_ptr_pin);
    for (size_t i = 1; i < n && !r; i++)
        if (s[i - 1]->ipv4_pinned && s[i]->ipv4_pinned &&
            memcmp(s[i - 1]->ipv4_pin.addr, s[i]->ipv4_pin.addr, 4) == 0) {
            const nn_member *bad = later_of(s[i - 1], s[i]);
            const nn_member *other = bad == s[i] ? s[i - 1] : s[i];
            r = fail_item(p, np, member_list(bad), bad->doc_index, "ipv4",
                          "address already pinned by \"%s\"", other->name);
        }
    free(s);
    return r;
}

typedef struct lan_ref {
    const nn_prefix *prefix;
    const nn_member *owner;
} lan_ref;

static int cmp_lan_ref(const void *a, const void *b)
{
    return nn_prefix_cmp(((const lan_ref *)a)->prefix, ((const lan_ref *)b)->prefix);
}

/* Two peers cannot both serve one subnet: a hub's WireGuard would hand the
 * prefix to whichever peer it configured last. Nested subnets are allowed
 * (longest-prefix match decides), identical ones are not. */
static int check_lan_subnets(parser *p, nn_network *net, size_t np)
{
    size_t n = 0;
    for (size_t i = 0; i < net->npeers; i++)
        n += net->peers[i].nlan;
    if (n < 2)
        return 0;
    lan_ref *refs = malloc(n * sizeof(*refs));
    if (!refs)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < net->npeers; i++)
        for (size_t j = 0; j < net->peers[i].nlan; j++)
            refs[k++] = (lan_ref){&net->peers[i].lan_subnets[j], &net->peers[i]};
    qsort(refs, n, sizeof(*refs), cmp_lan_ref);
    int r = 0;
    for (size_t i = 1; i < n && !r; i++)
        if (nn_prefix_cmp(refs[i - 1].prefix, refs[i].prefix) == 0) {
            const nn_member *bad = later_of(refs[i - 1].owner, refs[i].owner);
            const nn_member *other = bad == refs[i].owner ? refs[i - 1].owner : refs[i].owner;
            char buf[NN_PREFIX_STRLEN];
            r = fail_item(p, np, "peers", bad->doc_index, "lan_subnets",
                          "%s is already a LAN subnet of \"%s\"",
                          nn_prefix_format(refs[i].prefix, true, buf), other->name);
        }
    free(refs);
    return r;
}

typedef struct name_ref {
    const char *name;
    size_t doc_index;
} name_ref;

static int cmp_name_ref(const void *a, const void *b)
{
    const name_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->doc_index < y->doc_index ? -1 : x->doc_index > y->doc_index;
}

/* Finds a duplicate name among n structs whose first field is the name and
 * which carry their document index at index_offset. On a duplicate, sets
 * *bad / *first to the document indexes and returns 1. O(n log n). */
static int find_duplicate(const void *items, size_t n, size_t size, size_t index_offset,
                          size_t *bad, size_t *first, const char **name)
{
    if (n < 2)
        return 0;
    name_ref *refs = malloc(n * sizeof(*refs));
    if (!refs)
        abort();
    for (size_t i = 0; i < n; i++) {
        const char *item = (const char *)items + i * size;
        refs[i].name = *(const char *const *)item;
        refs[i].doc_index = *(const size_t *)(item + index_offset);
    }
    qsort(refs, n, sizeof(*refs), cmp_name_ref);
    int found = 0;
    for (size_t i = 1; i < n && !found; i++)
        if (strcmp(refs[i - 1].name, refs[i].name) == 0) {
            *first = refs[i - 1].doc_index;
            *bad = refs[i].doc_index;
            *name = refs[i].name;
            found = 1;
        }
    free(refs);
    return found;
}

static int check_rules(parser *p, nn_network *net, size_t np)
{
    size_t bad, first;
    const char *name;
    if (find_duplicate(net->rules, net->nrules, sizeof(nn_fw_rule), offsetof(nn_fw_rule, doc_index),
                       &bad, &first, &name))
        return fail_item(p, np, "firewall_rules", bad, "name",
                         "duplicate name \"%s\" (also firewall_rules[%zu])", name, first);
    for (size_t i = 0; i < net->nrules; i++) {
        nn_fw_rule *rule = &net->rules[i];
        nn_selector *sides[2] = {&rule->source, &rule->destination};
        static const char *const side_fields[2] = {"source.peer", "destination.peer"};
        for (int s = 0; s < 2; s++) {
            if (sides[s]->kind != NN_SEL_PEER)
                continue;
            sides[s]->member = nn_network_find_member(net, sides[s]->name);
            if (!sides[s]->member)
                return fail_item(p, np, "firewall_rules", rule->doc_index, side_fields[s],
                                 "no peer or device named \"%s\" in this network", sides[s]->name);
        }
    }
    return 0;
}

static int cmp_mapping_port(const void *a, const void *b)
{
    const nn_port_mapping *x = *(const nn_port_mapping *const *)a;
    const nn_port_mapping *y = *(const nn_port_mapping *const *)b;
    int c = strcmp(x->hub_name, y->hub_name);
    if (c)
        return c;
    if (x->protocol != y->protocol)
        return x->protocol < y->protocol ? -1 : 1;
    if (x->external_port != y->external_port)
        return x->external_port < y->external_port ? -1 : 1;
    return x->doc_index < y->doc_index ? -1 : x->doc_index > y->doc_index;
}

static int check_mappings(parser *p, nn_network *net, size_t np)
{
    size_t bad, first;
    const char *name;
    if (find_duplicate(net->mappings, net->nmappings, sizeof(nn_port_mapping),
                       offsetof(nn_port_mapping, doc_index), &bad, &first, &name))
        return fail_item(p, np, "port_mappings", bad, "name",
                         "duplicate name \"%s\" (also port_mappings[%zu])", name, first);
    for (size_t i = 0; i < net->nmappings; i++) {
        nn_port_mapping *pm = &net->mappings[i];
        pm->hub = nn_network_find_peer(net, pm->hub_name);
        if (!pm->hub)
            return fail_item(p, np, "port_mappings", pm->doc_index, "hub",
                             "no peer named \"%s\" in this network", pm->hub_name);
        uint16_t wg_port = pm->hub->listen_port ? pm->hub->listen_port : net->listen_port;
        if (pm->protocol == NN_PROTO_UDP && pm->external_port == wg_port)
            return fail_item(p, np, "port_mappings", pm->doc_index, "external_port",
                             "UDP %u is the hub's WireGuard listen port", wg_port);
    }
    if (net->nmappings < 2)
        return 0;
    const nn_port_mapping **s = malloc(net->nmappings * sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < net->nmappings; i++)
        s[i] = &net->mappings[i];
    qsort(s, net->nmappings, sizeof(*s), cmp_mapping_port);
    int r = 0;
    for (size_t i = 1; i < net->nmappings && !r; i++)
        if (strcmp(s[i - 1]->hub_name, s[i]->hub_name) == 0 &&
            s[i - 1]->protocol == s[i]->protocol &&
            s[i - 1]->external_port == s[i]->external_port && s[i - 1]->enabled && s[i]->enabled)
            r = fail_item(p, np, "port_mappings", s[i]->doc_index, "external_port",
                          "%s %u on \"%s\" is already mapped by \"%s\"",
                          s[i]->protocol == NN_PROTO_TCP ? "TCP" : "UDP", s[i]->external_port,
                          s[i]->hub_name, s[i - 1]->name);
    free(s);
    return r;
}

/* --- lists of named things ---------------------------------------------- */

static int cmp_first_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* parse_list, then number, sort by name (the first field of every element)
 * and reject a duplicate name with the path of the later one. */
static int parse_named_list(parser *p, json_t *obj, const char *key, size_t elem_size,
                            size_t index_offset, elem_fn fn, void *ctx, void **out, size_t *count)
{
    int r = parse_list(p, obj, key, false, elem_size, fn, ctx, out, count);
    if (r)
        return r;
    set_doc_indexes(*out, *count, elem_size, index_offset);
    if (*count > 1)
        qsort(*out, *count, elem_size, cmp_first_name);
    size_t bad, first;
    const char *name;
    if (find_duplicate(*out, *count, elem_size, index_offset, &bad, &first, &name)) {
        size_t np = p->pathlen;
        r = fail_item(p, np, key, bad, "name", "duplicate name \"%s\" (also %s[%zu])", name, key,
                      first);
        return r;
    }
    return 0;
}

/* An array of names (or, with any_text, of short printable strings) into an
 * owned array of borrowed strings; sorted and unique unless keep_order. */
static int get_string_list(parser *p, json_t *obj, const char *key, bool names, bool keep_order,
                           const char ***out, size_t *count)
{
    json_t *arr;
    int r;
    *out = NULL;
    *count = 0;
    if ((r = get_array(p, obj, key, false, &arr)) || !arr || json_array_size(arr) == 0)
        return r;
    size_t n = json_array_size(arr);
    if (n > 4096)
        return fail_at(p, key, "at most 4096 entries");
    const char **a = calloc(n, sizeof(*a));
    if (!a)
        return -ENOMEM;
    *out = a;
    *count = n;
    size_t k = push_key(p, key);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        size_t k2 = push_index(p, i);
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
            return fail(p, "must be a string without NUL characters");
        const char *s = json_string_value(v);
        if (names && !nn_intent_valid_name(s))
            return fail(p, "\"%.63s\" is not a valid name", s);
        if (!names) {
            size_t len = strlen(s);
            if (len == 0 || len > 255)
                return fail(p, "must be 1-255 characters");
            for (size_t c = 0; c < len; c++)
                if ((unsigned char)s[c] < 0x20 || s[c] == '"' || s[c] == '\\' || s[c] == 0x7f)
                    return fail(p, "contains a control character, quote or backslash");
        }
        a[i] = s;
        pop(p, k2);
    }
    if (!keep_order) {
        qsort(a, n, sizeof(*a), cmp_str);
        for (size_t i = 1; i < n; i++)
            if (strcmp(a[i - 1], a[i]) == 0) {
                r = fail(p, "lists \"%.63s\" twice", a[i]);
                pop(p, k);
                return r;
            }
    }
    pop(p, k);
    return 0;
}

/* An array of CIDR strings: sorted, unique, no default route. */
static int get_prefix_list(parser *p, json_t *obj, const char *key, bool required, nn_prefix **out,
                           size_t *count)
{
    json_t *arr;
    int r;
    const char *why;
    *out = NULL;
    *count = 0;
    if ((r = get_array(p, obj, key, required, &arr)) || !arr)
        return r;
    size_t n = json_array_size(arr);
    if (n == 0 && required)
        return fail_at(p, key, "must list at least one prefix");
    if (n == 0)
        return 0;
    if (n > 65536)
        return fail_at(p, key, "at most 65536 prefixes");
    nn_prefix *a = calloc(n, sizeof(*a));
    if (!a)
        return -ENOMEM;
    *out = a;
    *count = n;
    size_t k = push_key(p, key);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        size_t k2 = push_index(p, i);
        if (!json_is_string(v))
            return fail(p, "must be a CIDR string, not %s", json_kind(v));
        if (nn_prefix_parse(json_string_value(v), true, false, &a[i], &why))
            return fail(p, "\"%.60s\" %s", json_string_value(v), why);
        if (a[i].len == 0)
            return fail(p, "a default route is not allowed here");
        pop(p, k2);
    }
    qsort(a, n, sizeof(*a), cmp_prefix);
    for (size_t i = 1; i < n; i++)
        if (nn_prefix_cmp(&a[i - 1], &a[i]) == 0) {
            char buf[NN_PREFIX_STRLEN];
            return fail(p, "lists %s twice", nn_prefix_format(&a[i], true, buf));
        }
    pop(p, k);
    return 0;
}

/* "2026-01-31T00:00:00Z": the one RFC 3339 form credentials use, so the
 * signed bytes never depend on how a time was written. */
static int check_timestamp(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    if (strlen(s) != sizeof(shape) - 1)
        return -EINVAL;
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return -EINVAL;
    }
    int mo = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
    int h = (s[11] - '0') * 10 + (s[12] - '0'), mi = (s[14] - '0') * 10 + (s[15] - '0');
    int se = (s[17] - '0') * 10 + (s[18] - '0');
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
        return -EINVAL;
    return 0;
}

static int get_timestamp(parser *p, json_t *obj, const char *key, bool required, const char **out)
{
    int r = get_string(p, obj, key, required, out);
    if (r || !*out)
        return r;
    if (check_timestamp(*out))
        return fail_at(p, key, "\"%.40s\" is not a UTC time like 2026-01-31T00:00:00Z", *out);
    return 0;
}

/* --- virtual IPs, subnet advertisements, route leaks ---------------------- */

static int parse_vip(parser *p, json_t *obj, void *elem, void *ctx)
{
    static const char *const fields[] = {"name",   "address", "mode",        "holders",
                                         "active", "enabled", "description", NULL};
    static const char *const modes[] = {"failover", "anycast", NULL};
    nn_vip *v = elem;
    (void)ctx;
    int r, e;
    const char *s, *why;
    if ((r = expect_object(p, obj)) || (r = check_fields(p, obj, fields)) ||
        (r = get_name(p, obj, "name", true, &v->name)) ||
        (r = get_string(p, obj, "description", false, &s)) ||
        (r = get_bool(p, obj, "enabled", true, &v->enabled)) ||
        (r = get_enum(p, obj, "mode", modes, 0, &e)))
        return r;
    v->mode = (nn_vip_mode)e;
    if ((r = get_string(p, obj, "address", true, &s)))
        return r;
    if (nn_prefix_parse(s, true, true, &v->address, &why) != 0)
        return fail_at(p, "address", "\"%.60s\" %s", s, why);
    if (v->address.len != (v->address.family == NN_AF_INET4 ? 32 : 128))
        return fail_at(p, "address", "\"%.60s\" must be one address (a /32 or /128)", s);
    const char **names;
    size_t n;
    r = get_string_list(p, obj, "holders", true, true, &names, &n);
    v->holders = (const nn_member **)names; /* resolved in place after sorting */
    v->nholders = n;
    if (r)
        return r;
    if (n == 0)
        return fail_at(p, "holders", "must name at least one peer");
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0) {
                size_t k = push_key(p, "holders");
                push_index(p, i);
                r = fail(p, "lists \"%s\" twice", names[i]);
                pop(p, k);
                return r;
            }
    if ((r = get_name(p, obj, "active", false, &s)))
        return r;
    v->active = 0;
    if (s) {
        size_t i = 0;
        while (i < n && strcmp(names[i], s) != 0)
            i++;
        if (i == n)
            return fail_at(p, "active", "\"%s\" is not one of the holders", s);
        v->active = i;
    }
    return 0;
}

static int parse_advertisement(parser *p, json_t *obj, void *elem, void *ctx)
{
    static const char *const fields[] = {"name", "peer", "prefix", "description", NULL};
    nn_subnet_adv *a = elem;
    const nn_network *net = ctx;
    const char *peer, *s;
    bool present;
    int r;
    if ((r = expect_object(p, obj)) || (r = check_fields(p, obj, fields)) ||
        (r = get_name(p, obj, "name", true, &a->name)) ||
        (r = get_string(p, obj, "description", false, &s)) ||
        (r = get_name(p, obj, "peer", true, &peer)) ||
        (r = get_prefix(p, obj, "prefix", true, 0, -1, &a->prefix, &present)))
        return r;
    if (a->prefix.len == 0)
        return fail_at(p, "prefix", "a default route is not a subnet advertisement");
    if (net->has_ipv4 && nn_prefix_overlaps(&a->prefix, &net->ipv4_cidr))
        return fail_at(p, "prefix", "overlaps the network's ipv4_cidr");
    a->peer = (const nn_member *)peer; /* resolved after sorting */
    return 0;
}

static int parse_leak(parser *p, json_t *obj, void *elem, void *ctx)
{
    static const char *const fields[] = {"name", "from", "prefixes", "description", NULL};
    nn_route_leak *l = elem;
    const char *s;
    int r;
    (void)ctx;
    if ((r = expect_object(p, obj)) || (r = check_fields(p, obj, fields)) ||
        (r = get_name(p, obj, "name", true, &l->name)) ||
        (r = get_string(p, obj, "description", false, &s)) ||
        (r = get_name(p, obj, "from", true, &l->from_name)) ||
        (r = get_prefix_list(p, obj, "prefixes", true, &l->prefixes, &l->nprefixes)))
        return r;
    return 0;
}

/* --- route policies --------------------------------------------------------- */

/* A BGP as-path regular expression as FRR takes it: digits, spaces and the
 * operators of its regex dialect; nothing that could end the line. */
static int check_as_path(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789 _^$.*+?()[]|-{},", s[i]))
            return -EINVAL;
    return 0;
}

/* "AA:NN" (each 0-65535) or a well-known community. */
static int check_community(const char *s)
{
    static const char *const known[] = {"no-export", "no-advertise", "local-AS", NULL};
    for (int i = 0; known[i]; i++)
        if (strcmp(s, known[i]) == 0)
            return 0;
    unsigned a, b;
    char tail;
    if (strlen(s) > 11 || sscanf(s, "%5u:%5u%c", &a, &b, &tail) != 2 || a > 65535 || b > 65535 ||
        s[0] < '0' || s[0] > '9')
        return -EINVAL;
    char canon[16];
    snprintf(canon, sizeof(canon), "%u:%u", a, b);
    return strcmp(canon, s) == 0 ? 0 : -EINVAL;
}

static int get_communities(parser *p, json_t *obj, const char *key, const char ***out, size_t *n)
{
    int r = get_string_list(p, obj, key, false, false, out, n);
    if (r)
        return r;
    for (size_t i = 0; i < *n; i++)
        if (check_community((*out)[i])) {
            size_t k = push_key(p, key);
            push_index(p, i);
            r = fail(p,
                     "\"%.40s\" is not a community (AA:NN with 0-65535 each, no-export, "
                     "no-advertise or local-AS)",
                     (*out)[i]);
            pop(p, k);
            return r;
        }
    return 0;
}

static int parse_prefix_match(parser *p, json_t *v, nn_prefix_match *m)
{
    static const char *const fields[] = {"prefix", "ge", "le", NULL};
    int r;
    bool present;
    int64_t ge, le;
    if ((r = expect_object(p, v)) || (r = check_fields(p, v, fields)) ||
        (r = get_prefix(p, v, "prefix", true, 0, -1, &m->prefix, &present)))
        return r;
    int max = m->prefix.family == NN_AF_INET4 ? 32 : 128;
    if ((r = get_int(p, v, "ge", false, 0, max, 0, &ge)) ||
        (r = get_int(p, v, "le", false, 0, max, 0, &le)))
        return r;
    if (ge && ge <= m->prefix.len)
        return fail_at(p, "ge", "must be longer than the prefix length /%u", m->prefix.len);
    if (le && le <= m->prefix.len)
        return fail_at(p, "le", "must be longer than the prefix length /%u", m->prefix.len);
    if (ge && le && ge > le)
        return fail_at(p, "le", "must not be shorter than ge");
    m->ge = (uint8_t)ge;
    m->le = (uint8_t)le;
    return 0;
}

static int parse_statement(parser *p, json_t *obj, void *elem, void *ctx)
{
    static const char *const fields[] = {"action", "match", "set", "description", NULL};
    static const char *const match_fields[] = {"prefixes", "as_path", "communities", NULL};
    static const char *const set_fields[] = {"local_preference", "med", "communities", NULL};
    static const char *const actions[] = {"permit", "deny", NULL};
    nn_rp_statement *st = elem;
    int r, e;
    const char *s;
    (void)ctx;
    if ((r = expect_object(p, obj)) || (r = check_fields(p, obj, fields)) ||
        (r = get_string(p, obj, "description", false, &s)))
        return r;
    if (!json_object_get(obj, "action"))
        return fail_at(p, "action", "is required (permit or deny)");
    if ((r = get_enum(p, obj, "action", actions, 0, &e)))
        return r;
    st->permit = e == 0;
    json_t *m = json_object_get(obj, "match");
    if (m && !json_is_null(m)) {
        size_t k = push_key(p, "match");
        json_t *arr;
        if ((r = expect_object(p, m)) || (r = check_fields(p, m, match_fields)) ||
            (r = get_array(p, m, "prefixes", false, &arr)))
            return r;
        if (arr && json_array_size(arr)) {
            size_t n = json_array_size(arr);
            if (n > 4096)
                return fail_at(p, "prefixes", "at most 4096 prefixes");
            st->prefixes = calloc(n, sizeof(*st->prefixes));
            if (!st->prefixes)
                return -ENOMEM;
            st->nprefixes = n;
            size_t k2 = push_key(p, "prefixes");
            for (size_t i = 0; i < n; i++) {
                size_t k3 = push_index(p, i);
                if ((r = parse_prefix_match(p, json_array_get(arr, i), &st->prefixes[i])))
                    return r;
                /* One route-map entry matches one prefix-list of one family;
                 * mixing would make the entry match nothing. */
                if (st->prefixes[i].prefix.family != st->prefixes[0].prefix.family)
                    return fail(p, "mixes IPv4 and IPv6; use one statement per family");
                pop(p, k3);
            }
            pop(p, k2);
        }
        if ((r = get_string(p, m, "as_path", false, &st->as_path)))
            return r;
        if (st->as_path && check_as_path(st->as_path))
            return fail_at(p, "as_path",
                           "\"%.60s\" is not an as-path expression (1-128 of 0-9 _^$.*+?()[]|-{}, "
                           "and space)",
                           st->as_path);
        if ((r = get_communities(p, m, "communities", &st->communities, &st->ncommunities)))
            return r;
        pop(p, k);
    }
    json_t *set = json_object_get(obj, "set");
    if (set && !json_is_null(set)) {
        if (!st->permit)
            return fail_at(p, "set", "a deny statement changes nothing; remove \"set\"");
        size_t k = push_key(p, "set");
        int64_t v;
        if ((r = expect_object(p, set)) || (r = check_fields(p, set, set_fields)))
            return r;
        st->set_local_pref = json_object_get(set, "local_preference") != NULL;
        if ((r = get_int(p, set, "local_preference", false, 0, 4294967295LL, 0, &v)))
            return r;
        st->local_pref = (uint32_t)v;
        st->set_med = json_object_get(set, "med") != NULL;
        if ((r = get_int(p, set, "med", false, 0, 4294967295LL, 0, &v)))
            return r;
        st->med = (uint32_t)v;
        if ((r = get_communities(p, set, "communities", &st->set_communities,
                                 &st->nset_communities)))
            return r;
        pop(p, k);
    }
    return 0;
}

static int parse_policy(parser *p, json_t *obj, void *elem, void *ctx)
{
    static const char *const fields[] = {
        "name", "direction", "default_action", "peers", "statements", "description", NULL};
    static const char *const dirs[] = {"in", "out", NULL};
    static const char *const defaults[] = {"deny", "permit", NULL};
    nn_route_policy *rp = elem;
    bool network_scope = ctx != NULL;
    int r, e;
    const char *s;
    if ((r = expect_object(p, obj)) || (r = check_fields(p, obj, fields)) ||
        (r = get_name(p, obj, "name", true, &rp->name)) ||
        (r = get_string(p, obj, "description", false, &s)))
        return r;
    if (!json_object_get(obj, "direction"))
        return fail_at(p, "direction", "is required (in or out)");
    if ((r = get_enum(p, obj, "direction", dirs, 0, &e)))
        return r;
    rp->direction = (nn_rp_direction)e;
    if ((r = get_enum(p, obj, "default_action", defaults, 0, &e)))
        return r;
    rp->default_permit = e == 1;
    if (json_object_get(obj, "peers") && !network_scope)
        return fail_at(p, "peers", "peer-scoped policies belong to a network's route_policies");
    if ((r = get_string_list(p, obj, "peers", true, false, &rp->peer_names, &rp->npeer_names)))
        return r;
    rp->scope = !network_scope ? NN_RP_WORKSPACE : rp->npeer_names ? NN_RP_PEER : NN_RP_NETWORK;
    json_t *arr;
    if ((r = get_array(p, obj, "statements", false, &arr)))
        return r;
    if (arr && json_array_size(arr) > 1000)
        return fail_at(p, "statements", "at most 1000 statements");
    void *items;
    r = parse_list(p, obj, "statements", false, sizeof(nn_rp_statement), parse_statement, NULL,
                   &items, &rp->nstatements);
    rp->statements = items;
    return r;
}

/* --- federation, OVN, IPFIX, hosts ------------------------------------------ */

static int parse_federation(parser *p, json_t *obj, void *elem, void *ctx)
{
    static const char *const fields[] = {"name",     "status",      "remote_prefixes",
                                         "networks", "description", NULL};
    static const char *const statuses[] = {"proposed", "accepted", "revoked", NULL};
    nn_federation_peer *f = elem;
    int r, e;
    const char *s;
    (void)ctx;
    if ((r = expect_object(p, obj)) || (r = check_fields(p, obj, fields)) ||
        (r = get_name(p, obj, "name", true, &f->name)) ||
        (r = get_string(p, obj, "description", false, &s)))
        return r;
    if (!json_object_get(obj, "status"))
        return fail_at(p, "status", "is required (proposed, accepted or revoked)");
    if ((r = get_enum(p, obj, "status", statuses, 0, &e)))
        return r;
    f->status = (nn_fed_status)e;
    if ((r = get_prefix_list(p, obj, "remote_prefixes", false, &f->prefixes, &f->nprefixes)) ||
        (r = get_string_list(p, obj, "networks", true, false, &f->networks, &f->nnetworks)))
        return r;
    return 0;
}

static bool valid_ovn_endpoint(const char *s)
{
    const char *rest;
    if (!strncmp(s, "tcp:", 4) || !strncmp(s, "ssl:", 4))
        rest = s + 4;
    else if (!strncmp(s, "unix:", 5))
        return strlen(s) > 5 && strlen(s) < 200 && !strpbrk(s, " \t\"\\");
    else
        return false;
    const char *why;
    return check_endpoint(rest, &why) == 0;
}

static int parse_ovn_port(parser *p, json_t *obj, void *elem, void *ctx)
{
    static const char *const fields[] = {"name", "type", "addresses", "description", NULL};
    static const char *const types[] = {"",     "router",   "localnet", "localport", "l2gateway",
                                        "vtep", "external", "virtual",  NULL};
    nn_ovn_port *pt = elem;
    int r, e;
    const char *s;
    (void)ctx;
    if ((r = expect_object(p, obj)) || (r = check_fields(p, obj, fields)) ||
        (r = get_name(p, obj, "name", true, &pt->name)) ||
        (r = get_string(p, obj, "description", false, &s)) ||
        (r = get_enum(p, obj, "type", types, 0, &e)))
        return r;
    pt->type = types[e];
    if ((r = get_string_list(p, obj, "addresses", false, true, &pt->addresses, &pt->naddresses)))
        return r;
    for (size_t i = 0; i < pt->naddresses; i++) {
        const char *a = pt->addresses[i];
        /* "unknown", "router", "dynamic" or "MAC [IP ...]" */
        bool ok = !strcmp(a, "unknown") || !strcmp(a, "router") || !strcmp(a, "dynamic");
        unsigned x[6];
        char sep;
        if (!ok && strlen(a) >= 17 &&
            sscanf(a, "%2x:%2x:%2x:%2x:%2x:%2x%c", &x[0], &x[1], &x[2], &x[3], &x[4], &x[5],
                   &sep) >= 6 &&
            (a[17] == '\0' || a[17] == ' ')) {
            ok = true;
            char buf[256];
            snprintf(buf, sizeof(buf), "%s", a + 17);
            for (char *tok = strtok(buf, " "); tok && ok; tok = strtok(NULL, " ")) {
                nn_prefix ip;
                ok = nn_prefix_parse(tok, false, true, &ip, NULL) == 0;
            }
        }
        if (!ok) {
            size_t k = push_key(p, "addresses");
            push_index(p, i);
            r = fail(p, "\"%.60s\" is not \"unknown\", \"router\", \"dynamic\" or \"MAC [IP ...]\"",
                     a);
            pop(p, k);
            return r;
        }
    }
    return 0;
}

static int parse_ovn_acl(parser *p, json_t *obj, void *elem, void *ctx)
{
    static const char *const fields[] = {"name",   "direction",   "priority", "match",
                                         "action", "description", NULL};
    static const char *const dirs[] = {"from-lport", "to-lport", NULL};
    static const char *const actions[] = {
        "allow", "allow-related", "allow-stateless", "drop", "reject", "pass", NULL};
    nn_ovn_acl *a = elem;
    int r, e;
    const char *s;
    (void)ctx;
    if ((r = expect_object(p, obj)) || (r = check_fields(p, obj, fields)) ||
        (r = get_name(p, obj, "name", true, &a->name)) ||
        (r = get_string(p, obj, "description", false, &s)))
        return r;
    if (!json_object_get(obj, "direction"))
        return fail_at(p, "direction", "is required (from-lport or to-lport)");
    if ((r = get_enum(p, obj, "direction", dirs, 0, &e)))
        return r;
    a->direction = dirs[e];
    if (!json_object_get(obj, "action"))
        return fail_at(p, "action", "is required");
    if ((r = get_enum(p, obj, "action", actions, 0, &e)))
        return r;
    a->action = actions[e];
    if ((r = get_int(p, obj, "priority", true, 0, 32767, 0, &a->priority)) ||
        (r = get_string(p, obj, "match", true, &a->match)))
        return r;
    size_t n = strlen(a->match);
    if (n == 0 || n > 1024)
        return fail_at(p, "match", "must be 1-1024 characters");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)a->match[i] < 0x20 || a->match[i] == 0x7f)
            return fail_at(p, "match", "contains a control character");
    return 0;
}

static int parse_ovn_switch(parser *p, json_t *obj, void *elem, void *ctx)
{
    static const char *const fields[] = {"name", "ports", "acls", "description", NULL};
    nn_ovn_switch *sw = elem;
    int r;
    const char *s;
    void *items;
    (void)ctx;
    if ((r = expect_object(p, obj)) || (r = check_fields(p, obj, fields)) ||
        (r = get_name(p, obj, "name", true, &sw->name)) ||
        (r = get_string(p, obj, "description", false, &s)))
        return r;
    r = parse_named_list(p, obj, "ports", sizeof(nn_ovn_port), offsetof(nn_ovn_port, doc_index),
                         parse_ovn_port, NULL, &items, &sw->nports);
    sw->ports = items;
    if (r)
        return r;
    r = parse_named_list(p, obj, "acls", sizeof(nn_ovn_acl), offsetof(nn_ovn_acl, doc_index),
                         parse_ovn_acl, NULL, &items, &sw->nacls);
    sw->acls = items;
    return r;
}

static int parse_ovn_deployment(parser *p, json_t *obj, void *elem, void *ctx)
{
    static const char *const fields[] = {"name",     "nb_endpoint", "sb_endpoint", "updated_at",
                                         "switches", "description", NULL};
    nn_ovn_deployment *d = elem;
    int r;
    const char *s;
    void *items;
    (void)ctx;
    if ((r = expect_object(p, obj)) || (r = check_fields(p, obj, fields)) ||
        (r = get_name(p, obj, "name", true, &d->name)) ||
        (r = get_string(p, obj, "description", false, &s)) ||
        (r = get_timestamp(p, obj, "updated_at", false, &d->updated_at)) ||
        (r = get_string(p, obj, "nb_endpoint", true, &d->nb_endpoint)) ||
        (r = get_string(p, obj, "sb_endpoint", true, &d->sb_endpoint)))
        return r;
    if (!valid_ovn_endpoint(d->nb_endpoint))
        return fail_at(p, "nb_endpoint",
                       "\"%.60s\" is not tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH",
                       d->nb_endpoint);
    if (!valid_ovn_endpoint(d->sb_endpoint))
        return fail_at(p, "sb_endpoint",
                       "\"%.60s\" is not tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH",
                       d->sb_endpoint);
    r = parse_named_list(p, obj, "switches", sizeof(nn_ovn_switch),
                         offsetof(nn_ovn_switch, doc_index), parse_ovn_switch, NULL, &items,
                         &d->nswitches);
    d->switches = items;
    if (r)
        return r;
    /* Port names are global in a northbound database. */
    for (size_t i = 0; i < d->nswitches; i++)
        for (size_t j = 0; j < d->switches[i].nports; j++)
            for (size_t i2 = 0; i2 <= i; i2++)
                for (size_t j2 = 0; j2 < d->switches[i2].nports; j2++) {
                    if (i2 == i && j2 >= j)
                        break;
                    if (strcmp(d->switches[i].ports[j].name, d->switches[i2].ports[j2].name) == 0)
                        return fail_at(p, "switches",
                                       "port \"%s\" is on both \"%s\" and \"%s\"; port names are "
                                       "unique in a deployment",
                                       d->switches[i].ports[j].name, d->switches[i2].name,
                                       d->switches[i].name);
                }
    return 0;
}

static int parse_ipfix(parser *p, json_t *obj, void *elem, void *ctx)
{
    static const char *const fields[] = {"name",          "target",      "sampling",
                                         "obs_domain_id", "description", NULL};
    nn_ipfix_collector *c = elem;
    int r;
    const char *s, *why;
    int64_t v;
    (void)ctx;
    if ((r = expect_object(p, obj)) || (r = check_fields(p, obj, fields)) ||
        (r = get_name(p, obj, "name", true, &c->name)) ||
        (r = get_string(p, obj, "description", false, &s)) ||
        (r = get_string(p, obj, "target", true, &c->target)))
        return r;
    if (check_endpoint(c->target, &why))
        return fail_at(p, "target", "\"%.80s\" %s", c->target, why);
    if ((r = get_int(p, obj, "sampling", false, 1, 16777215, 64, &v)))
        return r;
    c->sampling = (uint32_t)v;
    if ((r = get_int(p, obj, "obs_domain_id", false, 0, 4294967295LL, 0, &v)))
        return r;
    c->obs_domain_id = (uint32_t)v;
    return 0;
}

static int parse_bridge(parser *p, json_t *obj, void *elem, void *ctx)
{
    static const char *const fields[] = {"name", "kind", "ipfix", "short_id", "description", NULL};
    static const char *const kinds[] = {"linux", "ovs", NULL};
    nn_bridge *b = elem;
    const nn_host *h = ctx;
    int r, e;
    const char *s;
    int64_t v;
    if ((r = expect_object(p, obj)) || (r = check_fields(p, obj, fields)) ||
        (r = get_name(p, obj, "name", true, &b->name)) ||
        (r = get_string(p, obj, "description", false, &s)) ||
        (r = get_enum(p, obj, "kind", kinds, h->profile == NN_HOST_HEAVYWEIGHT ? 1 : 0, &e)))
        return r;
    b->kind = (nn_bridge_kind)e;
    if ((r = get_name(p, obj, "ipfix", false, &s)))
        return r;
    if (s && b->kind != NN_BRIDGE_OVS)
        return fail_at(p, "ipfix", "IPFIX export needs an OVS bridge (\"kind\": \"ovs\")");
    b->ipfix = (const nn_ipfix_collector *)s; /* resolved by the workspace */
    if ((r = get_int(p, obj, "short_id", false, 1, 4095, 0, &v)))
        return r;
    b->short_id_pin = (uint32_t)v;
    return 0;
}

static int parse_vrf_pin(parser *p, json_t *obj, void *elem, void *ctx)
{
    static const char *const fields[] = {"network", "table_id", NULL};
    nn_vrf *v = elem;
    int r;
    int64_t t;
    (void)ctx;
    if ((r = expect_object(p, obj)) || (r = check_fields(p, obj, fields)) ||
        (r = get_name(p, obj, "network", true, &v->network_name)) ||
        (r = get_int(p, obj, "table_id", true, 100, 65535, 0, &t)))
        return r;
    if (t >= 253 && t <= 255)
        return fail_at(p, "table_id", "%lld is reserved by the kernel (253-255)", (long long)t);
    v->table_id = (uint32_t)t;
    v->pinned = true;
    return 0;
}

static int cmp_vrf(const void *a, const void *b)
{
    return strcmp(((const nn_vrf *)a)->network_name, ((const nn_vrf *)b)->network_name);
}

static int parse_host(parser *p, json_t *obj, void *elem, void *ctx)
{
    static const char *const fields[] = {
        "name",        "profile", "bridges",    "vrfs",
        "ovn",         "region",  "public_key", "interface_per_network",
        "description", NULL};
    static const char *const ovn_fields[] = {"deployment", "encap_ip", NULL};
    static const char *const profiles[] = {"standard", "heavyweight", NULL};
    nn_host *h = elem;
    int r, e;
    const char *s;
    void *items;
    (void)ctx;
    h->declared = true;
    if ((r = expect_object(p, obj)) || (r = check_fields(p, obj, fields)) ||
        (r = get_name(p, obj, "name", true, &h->name)) ||
        (r = get_string(p, obj, "description", false, &s)) ||
        (r = get_name(p, obj, "region", false, &h->region)) ||
        (r = get_enum(p, obj, "profile", profiles, 0, &e)) ||
        (r = get_bool(p, obj, "interface_per_network", false, &h->interface_per_network)) ||
        (r = get_string(p, obj, "public_key", false, &s)))
        return r;
    h->profile = (nn_host_profile)e;
    if (s) {
        const char *why;
        if (nn_key_from_base64(s, &h->public_key, &why) != 0)
            return fail_at(p, "public_key", "%s", why);
        nn_key_to_base64(&h->public_key, h->public_key_b64);
        h->key_declared = h->has_key = true;
    }
    r = parse_named_list(p, obj, "bridges", sizeof(nn_bridge), offsetof(nn_bridge, doc_index),
                         parse_bridge, h, &items, &h->nbridges);
    h->bridges = items;
    if (r)
        return r;
    for (size_t i = 0; i < h->nbridges; i++)
        for (size_t j = 0; j < i; j++)
            if (h->bridges[i].short_id_pin &&
                h->bridges[i].short_id_pin == h->bridges[j].short_id_pin) {
                size_t k = push_key(p, "bridges");
                push_index(p, h->bridges[i].doc_index > h->bridges[j].doc_index
                                  ? h->bridges[i].doc_index
                                  : h->bridges[j].doc_index);
                r = fail_at(p, "short_id", "%u is already pinned by bridge \"%s\"",
                            h->bridges[i].short_id_pin, h->bridges[j].name);
                pop(p, k);
                return r;
            }
    r = parse_list(p, obj, "vrfs", false, sizeof(nn_vrf), parse_vrf_pin, NULL, &items, &h->nvrfs);
    h->vrfs = items;
    if (r)
        return r;
    for (size_t i = 0; i < h->nvrfs; i++)
        for (size_t j = 0; j < i; j++)
            if (h->vrfs[i].table_id == h->vrfs[j].table_id ||
                strcmp(h->vrfs[i].network_name, h->vrfs[j].network_name) == 0) {
                size_t k = push_key(p, "vrfs");
                push_index(p, i);
                r = fail(p, "network \"%s\" or table %u is already pinned by vrfs[%zu]",
                         h->vrfs[i].network_name, h->vrfs[i].table_id, j);
                pop(p, k);
                return r;
            }
    if (h->nvrfs > 1)
        qsort(h->vrfs, h->nvrfs, sizeof(nn_vrf), cmp_vrf);
    json_t *ovn = json_object_get(obj, "ovn");
    if (ovn && !json_is_null(ovn)) {
        size_t k = push_key(p, "ovn");
        if ((r = expect_object(p, ovn)) || (r = check_fields(p, ovn, ovn_fields)) ||
            (r = get_name(p, ovn, "deployment", true, &h->ovn_name)) ||
            (r = get_string(p, ovn, "encap_ip", true, &s)))
            return r;
        if (nn_addr_parse(s, &h->encap_ip) != 0)
            return fail_at(p, "encap_ip", "\"%.60s\" is not an IP address", s);
        pop(p, k);
        if (h->profile != NN_HOST_HEAVYWEIGHT)
            return fail_at(p, "ovn",
                           "OVN runs on heavyweight hosts only (\"profile\": \"heavyweight\")");
    }
    return 0;
}

/* Resolves a name list written in place of member pointers (holders). */
static int resolve_peer_names(parser *p, const nn_network *net, const nn_member **arr, size_t n,
                              const char *field)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = (const char *)arr[i];
        arr[i] = nn_network_find_peer(net, name);
        if (!arr[i]) {
            size_t k = push_key(p, field);
            push_index(p, i);
            int r = fail(p, "no peer named \"%s\" in this network", name);
            pop(p, k);
            return r;
        }
    }
    return 0;
}

/* Every routing layer of net: the network's policy, each user's and each
 * device's preference. */
static int check_network_routing(parser *p, nn_network *net, size_t np)
{
    int r;
    pop(p, np);
    push_key(p, "routing_policy");
    if ((r = resolve_routing_layer(p, net, &net->routing, NULL, false)))
        return r;
    for (size_t i = 0; i < net->nuser_routing; i++) {
        nn_user_routing *u = &net->user_routing[i];
        pop(p, np);
        push_key(p, "user_routing_preferences");
        push_index(p, u->doc_index);
        if ((r = resolve_routing_layer(p, net, &u->routing, u->name, true)))
            return r;
    }
    for (size_t i = 0; i < net->ndevices; i++) {
        nn_member *d = &net->devices[i];
        pop(p, np);
        push_key(p, "devices");
        push_index(p, d->doc_index);
        push_key(p, "routing_preference");
        if ((r = resolve_routing_layer(p, net, &d->routing, d->owner, true)))
            return r;
    }
    pop(p, np);
    return 0;
}

static int check_network_ext(parser *p, nn_network *net, size_t np)
{
    int r;
    for (size_t i = 0; i < net->nvips; i++) {
        nn_vip *v = &net->vips[i];
        pop(p, np);
        push_key(p, "virtual_ips");
        push_index(p, v->doc_index);
        if ((r = resolve_peer_names(p, net, v->holders, v->nholders, "holders")))
            return r;
        for (size_t j = 0; j < i; j++)
            if (nn_prefix_cmp(&net->vips[j].address, &v->address) == 0)
                return fail_at(p, "address", "already the address of virtual IP \"%s\"",
                               net->vips[j].name);
        if (v->address.family == NN_AF_INET4 && net->has_ipv4 &&
            nn_prefix_contains(&net->ipv4_cidr, &v->address))
            for (size_t j = 0; j < net->npeers + net->ndevices; j++) {
                const nn_member *m =
                    j < net->npeers ? &net->peers[j] : &net->devices[j - net->npeers];
                if (m->ipv4_pinned && !memcmp(m->ipv4_pin.addr, v->address.addr, 4))
                    return fail_at(p, "address", "is the pinned address of \"%s\"", m->name);
            }
    }
    for (size_t i = 0; i < net->nadvertisements; i++) {
        nn_subnet_adv *a = &net->advertisements[i];
        const char *name = (const char *)a->peer;
        a->peer = nn_network_find_peer(net, name);
        if (!a->peer)
            return fail_item(p, np, "subnet_advertisements", a->doc_index, "peer",
                             "no peer named \"%s\" in this network", name);
    }
    for (size_t i = 0; i < net->npolicies; i++) {
        const nn_route_policy *rp = &net->policies[i];
        for (size_t j = 0; j < rp->npeer_names; j++)
            if (!nn_network_find_peer(net, rp->peer_names[j])) {
                pop(p, np);
                push_key(p, "route_policies");
                push_index(p, rp->doc_index);
                push_key(p, "peers");
                push_index(p, j);
                return fail(p, "no peer named \"%s\" in this network", rp->peer_names[j]);
            }
    }
    return check_network_routing(p, net, np);
}

static const char *const topology_names[] = {"hub_and_spoke", "full_mesh", NULL};
static const char *const routing_names[] = {"static", "ibgp", NULL};
static const char *const policy_names[] = {"accept", "drop", NULL};

static int parse_network(parser *p, json_t *obj, nn_network *net, void *ws_ctx)
{
    static const char *const fields[] = {"name",           "ipv4_cidr",
                                         "ipv6_prefix",    "topology_strategy",
                                         "routing_mode",   "firewall_default_policy",
                                         "listen_port",    "mtu",
                                         "peers",          "devices",
                                         "firewall_rules", "port_mappings",
                                         "virtual_ips",    "subnet_advertisements",
                                         "route_leaks",    "route_policies",
                                         "routing_policy", "user_routing_preferences",
                                         "description",    NULL};
    int r, e;
    const char *s;
    net->workspace = ws_ctx;
    if ((r = expect_object(p, obj)) || (r = check_fields(p, obj, fields)))
        return r;
    if ((r = get_name(p, obj, "name", true, &net->name)) ||
        (r = get_string(p, obj, "description", false, &s)))
        return r;
    if ((r = get_prefix(p, obj, "ipv4_cidr", false, NN_AF_INET4, -1, &net->ipv4_cidr,
                        &net->has_ipv4)))
        return r;
    if (net->has_ipv4 && (net->ipv4_cidr.len < 8 || net->ipv4_cidr.len > 30))
        return fail_at(p, "ipv4_cidr", "must be between a /8 and a /30");
    if ((r = get_prefix(p, obj, "ipv6_prefix", false, NN_AF_INET6, 64, &net->ipv6_pin,
                        &net->ipv6_pinned)))
        return r;
    if ((r = get_enum(p, obj, "topology_strategy", topology_names, 0, &e)))
        return r;
    net->topology = (nn_topology)e;
    if ((r = get_enum(p, obj, "routing_mode", routing_names, 0, &e)))
        return r;
    net->routing_mode = (nn_routing_mode)e;
    if ((r = get_enum(p, obj, "firewall_default_policy", policy_names, 1, &e)))
        return r;
    net->default_policy = e == 0 ? NN_VERDICT_ACCEPT : NN_VERDICT_DROP;
    if ((r = get_port(p, obj, "listen_port", false, 51820, &net->listen_port)))
        return r;
    int64_t mtu;
    if ((r = get_int(p, obj, "mtu", false, 1280, 9000, 1420, &mtu)))
        return r;
    net->mtu = (uint16_t)mtu;
    if ((r = parse_routing_layer(p, obj, "routing_policy", &net->routing)))
        return r;
    size_t np = p->pathlen;
    void *items;
    if ((r = parse_list(p, obj, "peers", false, sizeof(nn_member), peer_elem, net, &items,
                        &net->npeers)))
        goto keep;
    net->peers = items;
    if ((r = parse_list(p, obj, "devices", false, sizeof(nn_member), device_elem, net, &items,
                        &net->ndevices)))
        goto keep_devices;
    net->devices = items;
    if ((r = parse_list(p, obj, "firewall_rules", false, sizeof(nn_fw_rule), rule_elem, net, &items,
                        &net->nrules)))
        goto keep_rules;
    net->rules = items;
    if ((r = parse_list(p, obj, "port_mappings", false, sizeof(nn_port_mapping), mapping_elem, net,
                        &items, &net->nmappings)))
        goto keep_mappings;
    net->mappings = items;
    set_doc_indexes(net->peers, net->npeers, sizeof(nn_member), offsetof(nn_member, doc_index));
    set_doc_indexes(net->devices, net->ndevices, sizeof(nn_member), offsetof(nn_member, doc_index));
    set_doc_indexes(net->rules, net->nrules, sizeof(nn_fw_rule), offsetof(nn_fw_rule, doc_index));
    set_doc_indexes(net->mappings, net->nmappings, sizeof(nn_port_mapping),
                    offsetof(nn_port_mapping, doc_index));
    /* Sort first, then resolve references: pointers stay valid after this. */
    if (net->npeers)
        qsort(net->peers, net->npeers, sizeof(nn_member), cmp_member);
    if (net->ndevices)
        qsort(net->devices, net->ndevices, sizeof(nn_member), cmp_member);
    if (net->nrules)
        qsort(net->rules, net->nrules, sizeof(nn_fw_rule), cmp_rule);
    if (net->nmappings)
        qsort(net->mappings, net->nmappings, sizeof(nn_port_mapping), cmp_mapping);
    if ((r = check_network_members(p, net, np)) || (r = check_lan_subnets(p, net, np)) ||
        (r = check_rules(p, net, np)) || (r = check_mappings(p, net, np)))
        return r;
    pop(p, np);
    r = parse_named_list(p, obj, "virtual_ips", sizeof(nn_vip), offsetof(nn_vip, doc_index),
                         parse_vip, net, &items, &net->nvips);
    net->vips = items;
    if (r)
        return r;
    r = parse_named_list(p, obj, "subnet_advertisements", sizeof(nn_subnet_adv),
                         offsetof(nn_subnet_adv, doc_index), parse_advertisement, net, &items,
                         &net->nadvertisements);
    net->advertisements = items;
    if (r)
        return r;
    r = parse_named_list(p, obj, "route_leaks", sizeof(nn_route_leak),
                         offsetof(nn_route_leak, doc_index), parse_leak, net, &items, &net->nleaks);
    net->leaks = items;
    if (r)
        return r;
    r = parse_named_list(p, obj, "route_policies", sizeof(nn_route_policy),
                         offsetof(nn_route_policy, doc_index), parse_policy, net, &items,
                         &net->npolicies);
    net->policies = items;
    if (r)
        return r;
    r = parse_named_list(p, obj, "user_routing_preferences", sizeof(nn_user_routing),
                         offsetof(nn_user_routing, doc_index), parse_user_routing, net, &items,
                         &net->nuser_routing);
    net->user_routing = items;
    if (r)
        return r;
    return check_network_ext(p, net, np);

    /* parse_list leaves a partial array on failure; adopt it so it is freed. */
keep:
    net->peers = items;
    return r;
keep_devices:
    net->devices = items;
    return r;
keep_rules:
    net->rules = items;
    return r;
keep_mappings:
    net->mappings = items;
    return r;
}

static int network_elem(parser *p, json_t *o, void *e, void *ctx)
{
    return parse_network(p, o, e, ctx);
}

static int cmp_network(const void *a, const void *b)
{
    return strcmp(((const nn_network *)a)->name, ((const nn_network *)b)->name);
}

static int cmp_workspace(const void *a, const void *b)
{
    return strcmp(((const nn_workspace *)a)->name, ((const nn_workspace *)b)->name);
}

#define find_in(arr, n, name) ((__typeof__(arr))nn_find_by_name((arr), (n), sizeof(*(arr)), (name)))

/* Hosts are declared in "hosts" or implied by a peer's "host": every host
 * a peer runs on gets a record, so host-wide artifacts have one place. */
static int add_implied_hosts(nn_workspace *ws)
{
    size_t extra = 0;
    for (size_t n = 0; n < ws->nnetworks; n++)
        extra += ws->networks[n].npeers;
    if (extra == 0)
        return 0;
    /* Undeclared host names, sorted and unique: O(peers log peers). */
    const char **names = malloc(extra * sizeof(*names));
    if (!names)
        return -ENOMEM;
    size_t nnames = 0;
    for (size_t n = 0; n < ws->nnetworks; n++)
        for (size_t i = 0; i < ws->networks[n].npeers; i++) {
            const char *name = ws->networks[n].peers[i].host;
            if (!find_in(ws->hosts, ws->nhosts, name))
                names[nnames++] = name;
        }
    qsort(names, nnames, sizeof(*names), cmp_str);
    nn_host *h = realloc(ws->hosts, (ws->nhosts + nnames + 1) * sizeof(nn_host));
    if (!h) {
        free(names);
        return -ENOMEM;
    }
    ws->hosts = h;
    for (size_t i = 0; i < nnames; i++) {
        if (i && strcmp(names[i - 1], names[i]) == 0)
            continue;
        memset(&ws->hosts[ws->nhosts], 0, sizeof(nn_host));
        ws->hosts[ws->nhosts].name = names[i];
        ws->hosts[ws->nhosts].doc_index = SIZE_MAX;
        ws->nhosts++;
    }
    free(names);
    if (ws->nhosts > 1)
        qsort(ws->hosts, ws->nhosts, sizeof(nn_host), cmp_first_name);
    for (size_t n = 0; n < ws->nnetworks; n++)
        for (size_t i = 0; i < ws->networks[n].npeers; i++)
            ws->networks[n].peers[i].host_ref =
                nn_workspace_find_host(ws, ws->networks[n].peers[i].host);
    return 0;
}

static int check_workspace_refs(parser *p, nn_workspace *ws)
{
    size_t wp = p->pathlen;
    for (size_t n = 0; n < ws->nnetworks; n++) {
        nn_network *net = &ws->networks[n];
        for (size_t i = 0; i < net->nleaks; i++) {
            nn_route_leak *l = &net->leaks[i];
            pop(p, wp);
            push_key(p, "networks");
            push_index(p, net->doc_index);
            push_key(p, "route_leaks");
            push_index(p, l->doc_index);
            l->from = nn_workspace_find_network(ws, l->from_name);
            if (!l->from)
                return fail_at(p, "from", "no network named \"%s\" in this workspace",
                               l->from_name);
            if (l->from == net)
                return fail_at(p, "from", "a network cannot leak routes into itself");
            if (net->routing_mode != NN_ROUTING_IBGP || l->from->routing_mode != NN_ROUTING_IBGP)
                return fail_at(p, "from",
                               "route leaks move BGP routes between VRFs: both "
                               "networks need \"routing_mode\": \"ibgp\"");
        }
    }
    for (size_t i = 0; i < ws->nfederation; i++) {
        const nn_federation_peer *f = &ws->federation[i];
        for (size_t j = 0; j < f->nnetworks; j++)
            if (!nn_workspace_find_network(ws, f->networks[j])) {
                pop(p, wp);
                push_key(p, "federation_peers");
                push_index(p, f->doc_index);
                push_key(p, "networks");
                push_index(p, j);
                return fail(p, "no network named \"%s\" in this workspace", f->networks[j]);
            }
        for (size_t j = 0; j < f->nprefixes; j++)
            for (size_t n = 0; n < ws->nnetworks; n++) {
                const nn_network *net = &ws->networks[n];
                if (net->has_ipv4 && nn_prefix_overlaps(&f->prefixes[j], &net->ipv4_cidr)) {
                    pop(p, wp);
                    push_key(p, "federation_peers");
                    push_index(p, f->doc_index);
                    push_key(p, "remote_prefixes");
                    push_index(p, j);
                    return fail(p, "overlaps the ipv4_cidr of network \"%s\"", net->name);
                }
            }
    }
    for (size_t h = 0; h < ws->nhosts; h++) {
        nn_host *host = &ws->hosts[h];
        for (size_t b = 0; b < host->nbridges; b++) {
            nn_bridge *br = &host->bridges[b];
            const char *name = (const char *)br->ipfix;
            if (!name)
                continue;
            br->ipfix = find_in(ws->ipfix, ws->nipfix, name);
            if (!br->ipfix) {
                pop(p, wp);
                push_key(p, "hosts");
                push_index(p, host->doc_index);
                push_key(p, "bridges");
                push_index(p, br->doc_index);
                return fail_at(p, "ipfix", "no ipfix_collectors entry named \"%s\"", name);
            }
        }
        for (size_t v = 0; v < host->nvrfs; v++) {
            host->vrfs[v].network = nn_workspace_find_network(ws, host->vrfs[v].network_name);
            if (!host->vrfs[v].network) {
                pop(p, wp);
                push_key(p, "hosts");
                push_index(p, host->doc_index);
                return fail_at(p, "vrfs", "no network named \"%s\" in this workspace",
                               host->vrfs[v].network_name);
            }
        }
        if (host->ovn_name) {
            host->ovn = find_in(ws->ovn, ws->novn, host->ovn_name);
            if (!host->ovn) {
                pop(p, wp);
                push_key(p, "hosts");
                push_index(p, host->doc_index);
                push_key(p, "ovn");
                return fail_at(p, "deployment", "no ovn_deployments entry named \"%s\"",
                               host->ovn_name);
            }
        }
    }
    for (size_t n = 0; n < ws->nnetworks; n++)
        for (size_t i = 0; i < ws->networks[n].npeers; i++) {
            const nn_host *h = ws->networks[n].peers[i].host_ref;
            nn_ovn_deployment *d = h && h->ovn ? &ws->ovn[h->ovn - ws->ovn] : NULL;
            if (d && (!d->plan_host || strcmp(h->name, d->plan_host->name) < 0))
                d->plan_host = h;
        }
    if (ws->default_policy_name) {
        ws->default_policy = find_in(ws->policies, ws->npolicies, ws->default_policy_name);
        if (!ws->default_policy) {
            pop(p, wp);
            push_key(p, "bgp");
            return fail_at(p, "default_route_policy",
                           "no workspace route_policies entry named \"%s\"",
                           ws->default_policy_name);
        }
    }
    pop(p, wp);
    return 0;
}

static int parse_workspace(parser *p, json_t *obj, void *elem, void *ctx)
{
    static const char *const fields[] = {"name",
                                         "ipv6_prefix",
                                         "bgp",
                                         "networks",
                                         "route_policies",
                                         "federation_peers",
                                         "ovn_deployments",
                                         "ipfix_collectors",
                                         "hosts",
                                         "credential_validity",
                                         "gateway_assignment",
                                         "description",
                                         NULL};
    static const char *const gw_fields[] = {"assignment_mode", "selection", "redundancy", NULL};
    static const char *const gw_modes[] = {"auto", "manual", NULL};
    static const char *const gw_selections[] = {"balanced", NULL};
    static const char *const bgp_fields[] = {"enabled", "as_number", "default_route_policy", NULL};
    static const char *const validity_fields[] = {"not_before", "not_after", NULL};
    nn_workspace *ws = elem;
    int r;
    const char *s;
    (void)ctx;
    if ((r = expect_object(p, obj)) || (r = check_fields(p, obj, fields)))
        return r;
    if ((r = get_name(p, obj, "name", true, &ws->name)) ||
        (r = get_string(p, obj, "description", false, &s)))
        return r;
    if ((r = get_prefix(p, obj, "ipv6_prefix", false, NN_AF_INET6, 48, &ws->ipv6_pin,
                        &ws->ipv6_pinned)))
        return r;
    json_t *bgp = json_object_get(obj, "bgp");
    if (bgp && !json_is_null(bgp)) {
        size_t k = push_key(p, "bgp");
        int64_t as;
        if ((r = expect_object(p, bgp)) || (r = check_fields(p, bgp, bgp_fields)) ||
            (r = get_bool(p, bgp, "enabled", false, &ws->bgp_enabled)) ||
            (r = get_name(p, bgp, "default_route_policy", false, &ws->default_policy_name)))
            return r;
        /* RFC 6996 4-byte private range; derived from the name when absent. */
        if ((r = get_int(p, bgp, "as_number", false, 4200000000LL, 4294967294LL, 0, &as)))
            return r;
        ws->bgp_as_pin = (uint32_t)as;
        pop(p, k);
    }
    ws->gateways.redundancy = 1;
    json_t *gw = json_object_get(obj, "gateway_assignment");
    if (gw && !json_is_null(gw)) {
        size_t k = push_key(p, "gateway_assignment");
        int mode, sel;
        int64_t red;
        if ((r = expect_object(p, gw)) || (r = check_fields(p, gw, gw_fields)) ||
            (r = get_enum(p, gw, "assignment_mode", gw_modes, 0, &mode)) ||
            (r = get_enum(p, gw, "selection", gw_selections, 0, &sel)) ||
            (r = get_int(p, gw, "redundancy", false, 1, 4, 1, &red)))
            return r;
        ws->gateways.manual = mode == 1;
        ws->gateways.redundancy = (unsigned)red;
        pop(p, k);
    }
    json_t *validity = json_object_get(obj, "credential_validity");
    if (validity && !json_is_null(validity)) {
        size_t k = push_key(p, "credential_validity");
        if ((r = expect_object(p, validity)) || (r = check_fields(p, validity, validity_fields)) ||
            (r = get_timestamp(p, validity, "not_before", true, &ws->valid_from)) ||
            (r = get_timestamp(p, validity, "not_after", true, &ws->valid_until)))
            return r;
        if (strcmp(ws->valid_from, ws->valid_until) >= 0)
            return fail_at(p, "not_after", "must be later than not_before");
        pop(p, k);
    }
    void *items;
    r = parse_list(p, obj, "networks", false, sizeof(nn_network), network_elem, ws, &items,
                   &ws->nnetworks);
    ws->networks = items;
    if (r)
        return r;
    set_doc_indexes(ws->networks, ws->nnetworks, sizeof(nn_network),
                    offsetof(nn_network, doc_index));
    if (ws->nnetworks)
        qsort(ws->networks, ws->nnetworks, sizeof(nn_network), cmp_network);
    size_t bad, first;
    const char *name;
    if (find_duplicate(ws->networks, ws->nnetworks, sizeof(nn_network),
                       offsetof(nn_network, doc_index), &bad, &first, &name)) {
        size_t k = push_key(p, "networks");
        push_index(p, bad);
        r = fail_at(p, "name", "duplicate name \"%s\" (also networks[%zu])", name, first);
        pop(p, k);
        return r;
    }
    /* Sorting moved the networks: fix their back-pointers' view of it. */
    for (size_t i = 0; i < ws->nnetworks; i++)
        ws->networks[i].workspace = ws;
    r = parse_named_list(p, obj, "route_policies", sizeof(nn_route_policy),
                         offsetof(nn_route_policy, doc_index), parse_policy, NULL, &items,
                         &ws->npolicies);
    ws->policies = items;
    if (r)
        return r;
    r = parse_named_list(p, obj, "federation_peers", sizeof(nn_federation_peer),
                         offsetof(nn_federation_peer, doc_index), parse_federation, NULL, &items,
                         &ws->nfederation);
    ws->federation = items;
    if (r)
        return r;
    r = parse_named_list(p, obj, "ovn_deployments", sizeof(nn_ovn_deployment),
                         offsetof(nn_ovn_deployment, doc_index), parse_ovn_deployment, NULL, &items,
                         &ws->novn);
    ws->ovn = items;
    if (r)
        return r;
    r = parse_named_list(p, obj, "ipfix_collectors", sizeof(nn_ipfix_collector),
                         offsetof(nn_ipfix_collector, doc_index), parse_ipfix, NULL, &items,
                         &ws->nipfix);
    ws->ipfix = items;
    if (r)
        return r;
    r = parse_named_list(p, obj, "hosts", sizeof(nn_host), offsetof(nn_host, doc_index), parse_host,
                         NULL, &items, &ws->nhosts);
    ws->hosts = items;
    if (r)
        return r;
    if ((r = add_implied_hosts(ws)) || (r = check_workspace_refs(p, ws)))
        return r;
    return nn_hosts_check(ws, p->err);
}

static int parse_doc(parser *p, json_t *root, nn_doc *doc)
{
    static const char *const fields[] = {"version", "ula_prefix", "workspaces", "description",
                                         NULL};
    int r;
    const char *s;
    if ((r = expect_object(p, root)) || (r = check_fields(p, root, fields)))
        return r;
    int64_t version;
    if ((r = get_int(p, root, "version", false, 1, 1, 1, &version)) ||
        (r = get_string(p, root, "description", false, &s)))
        return r;
    if ((r = get_prefix(p, root, "ula_prefix", false, NN_AF_INET6, 40, &doc->ula_pin,
                        &doc->ula_pinned)))
        return r;
    if (doc->ula_pinned && doc->ula_pin.addr[0] != 0xfd)
        return fail_at(p, "ula_prefix", "must be a unique local prefix inside fd00::/8");
    void *items;
    r = parse_list(p, root, "workspaces", true, sizeof(nn_workspace), parse_workspace, NULL, &items,
                   &doc->nworkspaces);
    doc->workspaces = items;
    if (r)
        return r;
    set_doc_indexes(doc->workspaces, doc->nworkspaces, sizeof(nn_workspace),
                    offsetof(nn_workspace, doc_index));
    if (doc->nworkspaces)
        qsort(doc->workspaces, doc->nworkspaces, sizeof(nn_workspace), cmp_workspace);
    size_t bad, first;
    const char *name;
    if (find_duplicate(doc->workspaces, doc->nworkspaces, sizeof(nn_workspace),
                       offsetof(nn_workspace, doc_index), &bad, &first, &name)) {
        push_key(p, "workspaces");
        push_index(p, bad);
        return fail_at(p, "name", "duplicate name \"%s\" (also workspaces[%zu])", name, first);
    }
    for (size_t w = 0; w < doc->nworkspaces; w++)
        for (size_t n = 0; n < doc->workspaces[w].nnetworks; n++)
            doc->workspaces[w].networks[n].workspace = &doc->workspaces[w];
    return 0;
}

int nn_intent_parse_json(json_t *root, nn_doc **out, nn_error *err)
{
    *out = NULL;
    nn_doc *doc = calloc(1, sizeof(*doc));
    if (!doc)
        return -ENOMEM;
    doc->json_root = json_incref(root);
    parser p = {.err = err};
    int r = parse_doc(&p, root, doc);
    if (r) {
        if (r == -ENOMEM)
            nn_error_set(err, "(document)", "out of memory");
        nn_doc_free(doc);
        return r;
    }
    *out = doc;
    return 0;
}

int nn_intent_parse(const char *data, size_t len, nn_doc **out, nn_error *err)
{
    *out = NULL;
    if (len > NN_INTENT_MAX_BYTES) {
        nn_error_set(err, "(document)", "larger than %u bytes", NN_INTENT_MAX_BYTES);
        return -E2BIG;
    }
    json_error_t jerr;
    /* Duplicate keys would let two tools read one document differently. */
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        char where[64];
        snprintf(where, sizeof(where), "line %d, column %d", jerr.line, jerr.column);
        nn_error_set(err, where, "invalid JSON: %s", jerr.text);
        return -EINVAL;
    }
    int r = nn_intent_parse_json(root, out, err);
    json_decref(root);
    return r;
}

int nn_intent_check_member(json_t *obj, bool is_device, const nn_prefix *ipv4_cidr,
                           nn_member_facts *out, nn_error *err)
{
    parser p = {.err = err};
    nn_network net = {0};
    if (ipv4_cidr) {
        net.has_ipv4 = true;
        net.ipv4_cidr = *ipv4_cidr;
    }
    nn_member m = {0};
    int r = parse_member(&p, obj, is_device, &net, &m);
    if (r == 0) {
        memset(out, 0, sizeof(*out));
        out->public_key = m.public_key;
        out->has_key = m.key_given || is_device;
        out->ipv4_pinned = m.ipv4_pinned;
        out->ipv4_pin = m.ipv4_pin;
    }
    nn_member_clear(&m);
    return r;
}
