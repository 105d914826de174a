#include "api/router.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/handlers.h"
#include "api/lookup.h"
#include "api/target.h"
#include "api/wsdoc.h"
#include "model/intent.h"

/* Body limits. Routes whose credential is in the body (enrollment) take a
 * few KiB: nothing larger is buffered from a caller nobody knows yet. */
#define SMALL (4u << 10)
#define ENROLL (8u << 10)
#define OBJECT (1u << 20)
#define INTENT (16u << 20)
/* A hub with 10,000 peers reports about 1.6 MB. */
#define STATUS (8u << 20)

#define NONE NN_PERM_NONE
#define R(m, p, a, perm_, own_, flags_, max, h, ...)                                               \
    {                                                                                              \
        .method = m, .pattern = p, .auth = API_AUTH_##a, .perm = perm_, .own = own_,               \
        .flags = flags_, .body_max = max, .handler = h, __VA_ARGS__                                \
    }
#define W "/workspaces/{ws}"
#define N W "/networks/{net}"

static const char *const ws_kinds[] = {
    "route_policies", "federation_peers", "ovn_deployments", "ipfix_collectors", "hosts", NULL};
/* Devices have routes of their own (members reach their own ones). */
static const char *const net_kinds[] = {
    "peers",          "firewall_rules",           "port_mappings",
    "virtual_ips",    "subnet_advertisements",    "route_leaks",
    "route_policies", "user_routing_preferences", NULL};

/* clang-format off */
static const api_route routes[] = {
    R("GET",    "/health",                      NONE,   NONE, NONE, API_ANY_LISTENER, 0, h_health),
    R("GET",    "/openapi.json",                NONE,   NONE, NONE, 0, 0, h_openapi),
    R("GET",    "/me",                          USER,   NONE, NONE, 0, 0, h_me),
    R("GET",    "/stats",                       ADMIN,  NONE, NONE, 0, 0, h_stats),
    R("GET",    "/users",                       ADMIN,  NONE, NONE, 0, 0, h_users_list),
    R("POST",   "/users",                       ADMIN,  NONE, NONE, API_BODY, SMALL, h_user_create),
    R("POST",   "/users/{user}/tokens",         SELF,   NONE, NONE, API_BODY, SMALL, h_token_create),
    R("GET",    "/regions",                     ADMIN,  NONE, NONE, 0, 0, h_regions_list),
    R("GET",    "/regions/{region}",            ADMIN,  NONE, NONE, 0, 0, h_region_get),
    R("PUT",    "/regions/{region}",            ADMIN,  NONE, NONE, API_BODY | API_DRY_RUN, SMALL, h_region_put),
    R("DELETE", "/regions/{region}",            ADMIN,  NONE, NONE, API_DRY_RUN, 0, h_region_delete),
    R("GET",    "/oversight/regions",           ADMIN,  NONE, NONE, 0, 0, h_oversight),
    /* nodes: enrollment, then mutual TLS with the certificate it issued */
    R("POST",   "/node/enroll",                 ENROLL, NONE, NONE, API_BODY, ENROLL, h_node_enroll),
    R("GET",    "/node/config",                 NODE,   NONE, NONE, API_WAIT, 0, h_node_config),
    R("POST",   "/node/status",                 NODE,   NONE, NONE, API_BODY, STATUS, h_node_status),
    /* workspaces */
    R("GET",    "/workspaces",                  USER,   NONE, NONE, 0, 0, h_workspaces_list),
    R("POST",   "/workspaces",                  ADMIN,  NONE, NONE, API_BODY | API_DRY_RUN, OBJECT, h_workspace_create),
    R("GET",    W,                              USER,   NN_PERM_SEE, NONE, 0, 0, h_workspace_get),
    R("PUT",    W,                              USER,   NN_PERM_WRITE, NONE, API_BODY | API_DRY_RUN, OBJECT, h_workspace_put),
    R("DELETE", W,                              USER,   NN_PERM_DELETE_WORKSPACE, NONE, API_DRY_RUN, 0, h_workspace_delete),
    R("GET",    W "/members",                   USER,   NN_PERM_MEMBERS, NONE, 0, 0, h_members_list),
    R("GET",    W "/members/{user}",            USER,   NN_PERM_MEMBERS, NONE, 0, 0, h_member_get),
    R("PUT",    W "/members/{user}",            USER,   NN_PERM_MEMBERS, NONE, API_BODY | API_DRY_RUN, SMALL, h_member_put),
    R("DELETE", W "/members/{user}",            USER,   NN_PERM_MEMBERS, NONE, API_DRY_RUN, 0, h_member_delete),
    R("GET",    W "/audit",                     USER,   NN_PERM_AUDIT, NONE, 0, 0, h_audit),
    R("GET",    W "/intent",                    USER,   NN_PERM_READ, NONE, 0, 0, h_intent_get),
    R("PUT",    W "/intent",                    USER,   NN_PERM_WRITE, NONE, API_BODY | API_DRY_RUN, INTENT, h_intent_put),
    R("GET",    W "/regions",                   USER,   NN_PERM_READ, NONE, 0, 0, h_workspace_regions_get),
    R("PUT",    W "/regions",                   ADMIN,  NN_PERM_WRITE, NONE, API_BODY | API_DRY_RUN, SMALL, h_workspace_regions_put),
    R("GET",    W "/gateway-assignments",       USER,   NN_PERM_READ, NONE, 0, 0, h_gateway_assignments),
    R("GET",    W "/nodes",                     USER,   NN_PERM_READ, NONE, 0, 0, h_nodes_list),
    R("GET",    W "/nodes/{host}/status",       USER,   NN_PERM_READ, NONE, 0, 0, h_node_state_get),
    R("PUT",    W "/nodes/{host}/status",       USER,   NN_PERM_WRITE, NONE, API_BODY | API_DRY_RUN, SMALL, h_node_state_put),
    R("GET",    W "/nodes/{host}/document",     USER,   NN_PERM_READ, NONE, 0, 0, h_node_document),
    /* enrollment tokens of a host: the node enrolls once for all its networks */
    R("GET",    W "/nodes/{host}/enrollment-tokens",      USER, NN_PERM_READ, NONE, 0, 0, h_enrollment_tokens_list),
    R("POST",   W "/nodes/{host}/enrollment-tokens",      USER, NN_PERM_WRITE, NONE, API_BODY_OPTIONAL | API_DRY_RUN, SMALL, h_enrollment_token_create),
    R("DELETE", W "/nodes/{host}/enrollment-tokens/{id}", USER, NN_PERM_WRITE, NONE, API_DRY_RUN, 0, h_enrollment_token_revoke),
    /* intent objects of the workspace */
    R("GET",    W "/{kind}",                    USER,   NN_PERM_READ, NONE, 0, 0, h_rows_list, .kinds = ws_kinds),
    R("POST",   W "/{kind}",                    USER,   NN_PERM_WRITE, NONE, API_BODY | API_DRY_RUN, OBJECT, h_rows_create, .kinds = ws_kinds),
    R("GET",    W "/{kind}/{name}",             USER,   NN_PERM_READ, NONE, 0, 0, h_row_get, .kinds = ws_kinds),
    R("PUT",    W "/{kind}/{name}",             USER,   NN_PERM_WRITE, NONE, API_BODY | API_DRY_RUN, OBJECT, h_row_put, .kinds = ws_kinds),
    R("DELETE", W "/{kind}/{name}",             USER,   NN_PERM_WRITE, NONE, API_DRY_RUN, 0, h_row_delete, .kinds = ws_kinds),
    R("GET",    W "/networks",                  USER,   NN_PERM_READ, NONE, 0, 0, h_rows_list, .kind = "networks"),
    R("POST",   W "/networks",                  USER,   NN_PERM_WRITE, NONE, API_BODY | API_DRY_RUN, OBJECT, h_rows_create, .kind = "networks"),
    R("GET",    W "/networks/{name}",           USER,   NN_PERM_READ, NONE, 0, 0, h_row_get, .kind = "networks"),
    R("PUT",    W "/networks/{name}",           USER,   NN_PERM_WRITE, NONE, API_BODY | API_DRY_RUN, OBJECT, h_row_put, .kind = "networks"),
    R("DELETE", W "/networks/{name}",           USER,   NN_PERM_WRITE, NONE, API_DRY_RUN, 0, h_row_delete, .kind = "networks"),
    /* intent objects of a network */
    R("GET",    N "/{kind}",                    USER,   NN_PERM_READ, NONE, 0, 0, h_rows_list, .kinds = net_kinds),
    R("POST",   N "/{kind}",                    USER,   NN_PERM_WRITE, NONE, API_BODY | API_DRY_RUN, OBJECT, h_rows_create, .kinds = net_kinds),
    R("GET",    N "/{kind}/{name}",             USER,   NN_PERM_READ, NONE, 0, 0, h_row_get, .kinds = net_kinds),
    R("PUT",    N "/{kind}/{name}",             USER,   NN_PERM_WRITE, NONE, API_BODY | API_DRY_RUN, OBJECT, h_row_put, .kinds = net_kinds),
    R("DELETE", N "/{kind}/{name}",             USER,   NN_PERM_WRITE, NONE, API_DRY_RUN, 0, h_row_delete, .kinds = net_kinds),
    R("GET",    N "/devices",                   USER,   NN_PERM_READ, NN_PERM_OWN_DEVICES, 0, 0, h_rows_list, .kind = "devices"),
    R("POST",   N "/devices",                   USER,   NN_PERM_WRITE, NN_PERM_OWN_DEVICES, API_BODY | API_DRY_RUN, OBJECT, h_rows_create, .kind = "devices"),
    R("GET",    N "/devices/{name}",            USER,   NN_PERM_READ, NN_PERM_OWN_DEVICES, 0, 0, h_row_get, .kind = "devices"),
    R("PUT",    N "/devices/{name}",            USER,   NN_PERM_WRITE, NN_PERM_OWN_DEVICES, API_BODY | API_DRY_RUN, OBJECT, h_row_put, .kind = "devices"),
    R("DELETE", N "/devices/{name}",            USER,   NN_PERM_WRITE, NN_PERM_OWN_DEVICES, API_DRY_RUN, 0, h_row_delete, .kind = "devices"),
    /* previews */
    R("GET",    N "/compile",                   USER,   NN_PERM_READ, NONE, 0, 0, h_compile),
    R("GET",    N "/peers/{peer}/envelope",     USER,   NN_PERM_READ, NONE, 0, 0, h_envelope),
    R("GET",    N "/peers/{peer}/bgp",          USER,   NN_PERM_READ, NONE, 0, 0, h_bgp),
    R("GET",    N "/devices/{device}/wireguard.conf", USER, NN_PERM_READ, NONE, 0, 0, h_wgquick),
    R("GET",    N "/observed",                  USER,   NN_PERM_READ, NONE, 0, 0, h_observed),
    /* enrollment tokens of a peer */
    R("GET",    N "/peers/{peer}/enrollment-tokens",      USER, NN_PERM_READ, NONE, 0, 0, h_enrollment_tokens_list),
    R("POST",   N "/peers/{peer}/enrollment-tokens",      USER, NN_PERM_WRITE, NONE, API_BODY_OPTIONAL | API_DRY_RUN, SMALL, h_enrollment_token_create),
    R("DELETE", N "/peers/{peer}/enrollment-tokens/{id}", USER, NN_PERM_WRITE, NONE, API_DRY_RUN, 0, h_enrollment_token_revoke),
    /* routing selection (seed 002) */
    R("GET",    N "/routing-policy",            USER,   NN_PERM_READ, NONE, 0, 0, h_routing_policy_get),
    R("PUT",    N "/routing-policy",            USER,   NN_PERM_WRITE, NONE, API_BODY | API_DRY_RUN, SMALL, h_routing_policy_put),
    R("GET",    N "/devices/{device}/routing-preference", USER, NN_PERM_READ, NN_PERM_OWN_DEVICES, 0, 0, h_device_preference_get),
    R("PUT",    N "/devices/{device}/routing-preference", USER, NN_PERM_WRITE, NN_PERM_OWN_DEVICES, API_BODY | API_DRY_RUN, SMALL, h_device_preference_put),
    R("GET",    N "/devices/{device}/routing",  USER,   NN_PERM_READ, NN_PERM_OWN_DEVICES, 0, 0, h_device_routing),
    R("GET",    N "/users/{user}/routing-preference", USER, NN_PERM_READ, NN_PERM_OWN_DEVICES, 0, 0, h_user_preference_get),
    R("PUT",    N "/users/{user}/routing-preference", USER, NN_PERM_WRITE, NN_PERM_OWN_DEVICES, API_BODY | API_DRY_RUN, SMALL, h_user_preference_put),
    R("GET",    N "/users/{user}/routing",      USER,   NN_PERM_READ, NN_PERM_OWN_DEVICES, 0, 0, h_user_routing),
};
/* clang-format on */
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

const api_route *api_routes(size_t *n)
{
    *n = NROUTES;
    return routes;
}

/* --- patterns --------------------------------------------------------- */

#define MAX_SEG 10

typedef struct pattern {
    const char *seg[MAX_SEG]; /* literal text, or the parameter's name */
    size_t len[MAX_SEG];
    bool param[MAX_SEG];
    char name[MAX_SEG][16]; /* a parameter's name, NUL-terminated */
    size_t n;
    unsigned literal; /* bit (MAX_SEG - 1 - i) set when segment i is literal */
} pattern;

static pattern patterns[NROUTES];
static pthread_once_t patterns_once = PTHREAD_ONCE_INIT;

static void compile_patterns(void)
{
    for (size_t r = 0; r < NROUTES; r++) {
        pattern *p = &patterns[r];
        for (const char *s = routes[r].pattern + 1; *s && p->n < MAX_SEG;) {
            const char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            bool param = s[0] == '{';
            p->seg[p->n] = param ? s + 1 : s;
            p->len[p->n] = param ? len - 2 : len;
            p->param[p->n] = param;
            if (param)
                snprintf(p->name[p->n], sizeof(p->name[p->n]), "%.*s", (int)len - 2, s + 1);
            if (!param)
                p->literal |= 1u << (MAX_SEG - 1 - p->n);
            p->n++;
            s += len + (end ? 1 : 0);
        }
    }
}

static bool in_list(const char *const *list, const char *s)
{
    for (; list && *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

/* May value stand for parameter name of route r? */
static bool param_ok(const api_route *r, const char *name, const char *value)
{
    if (strcmp(name, "kind") == 0)
        return in_list(r->kinds, value);
    if (strcmp(name, "id") == 0) {
        size_t n = strlen(value);
        return n >= 1 && n <= 18 && strspn(value, "0123456789") == n;
    }
    return nn_intent_valid_name(value);
}

static bool matches(size_t r, const char *const *seg, size_t nseg)
{
    const pattern *p = &patterns[r];
    if (p->n != nseg)
        return false;
    for (size_t i = 0; i < nseg; i++) {
        if (p->param[i] ? !param_ok(&routes[r], p->name[i], seg[i])
                        : strlen(seg[i]) != p->len[i] || memcmp(seg[i], p->seg[i], p->len[i]))
            return false;
    }
    return true;
}

/* --- the query string ------------------------------------------------- */

/* Reads ?dry_run= and ?wait= as the route allows; anything else, a
 * repeated key or a value other than exactly true/false is a 400: a typo
 * must never turn a dry run into a real write. */
static bool read_query(ctx *c)
{
    const char *q = strchr(c->req->target, '?');
    bool seen_dry = false, seen_wait = false;
    char key[32], value[32];
    int r;
    while (q && (r = api_query_next(&q, key, sizeof(key), value, sizeof(value))) == 1) {
        bool dry = strcmp(key, "dry_run") == 0 && (c->route->flags & API_DRY_RUN);
        bool wait = strcmp(key, "wait") == 0 && (c->route->flags & API_WAIT);
        if (!dry && !wait) {
            api_reply_error(c->resp, 400, "bad_query", key, "%s %s takes no query parameter \"%s\"",
                            c->route->method, c->route->pattern, key);
            return false;
        }
        if ((dry && seen_dry) || (wait && seen_wait)) {
            api_reply_error(c->resp, 400, "bad_query", key, "\"%s\" is given twice", key);
            return false;
        }
        if (dry) {
            seen_dry = true;
            if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
                api_reply_error(c->resp, 400, "bad_query", key,
                                "dry_run must be exactly true or false");
                return false;
            }
            c->dry_run = value[0] == 't';
        } else {
            seen_wait = true;
            char *end;
            long v = strtol(value, &end, 10);
            if (!value[0] || *end || v < 0 || v > 3600) {
                api_reply_error(c->resp, 400, "bad_query", key, "wait must be a number of seconds");
                return false;
            }
            c->wait = (unsigned)v;
        }
    }
    if (q && r < 0) {
        api_reply_error(c->resp, 400, "bad_query", NULL, "the query string is malformed");
        return false;
    }
    return true;
}

/* --- who is calling ----------------------------------------------------- */

static bool authenticate(ctx *c)
{
    const api_route *rt = c->route;
    if (rt->auth == API_AUTH_NONE || rt->auth == API_AUTH_ENROLL)
        return true; /* an enrollment's token is in its body: the handler checks it */
    if (rt->auth == API_AUTH_NODE) {
        int r = c->req->client_fp ? nn_store_node_cert_peer(c->store, c->req->client_fp, &c->node)
                                  : -EACCES;
        if (r == -EACCES)
            api_reply_error(c->resp, 401, "unauthenticated", NULL,
                            "node calls need the client certificate issued at enrollment "
                            "(mutual TLS on nanamid's node listener)");
        else if (r == -ENOENT)
            api_reply_error(c->resp, 401, "unauthenticated", NULL,
                            "this certificate is revoked, expired or was never issued to a peer");
        else if (r)
            api_reply_store_error(c->resp, c->store, r);
        return r == 0;
    }
    const char *why = NULL;
    int r = nn_auth_bearer(c->svc->auth, c->svc->lookups, c->store, c->req->authorization, &c->user,
                           &why);
    if (r == -EACCES || r == -ENOENT) {
        api_reply_error(c->resp, 401, "unauthenticated", NULL, "%s", why);
        return false;
    }
    if (r) {
        api_reply_store_error(c->resp, c->store, r);
        return false;
    }
    if (rt->auth == API_AUTH_ADMIN && !c->user.platform_admin) {
        api_reply_error(c->resp, 403, "forbidden", NULL, "only platform administrators may %s %s",
                        rt->method, rt->pattern);
        return false;
    }
    if (rt->auth == API_AUTH_SELF && !c->user.platform_admin &&
        strcmp(api_param(c, "user"), c->user.name) != 0) {
        api_reply_error(c->resp, 403, "forbidden", NULL,
                        "only platform administrators act for other users");
        return false;
    }
    return true;
}

/* Enters {ws} and checks the route's permission. A caller with no role
 * there gets the same 404 as for a workspace that does not exist:
 * existence is not leaked across tenants. */
static bool enter_workspace(ctx *c)
{
    const char *name = api_param(c, "ws");
    int r = nn_lookup_workspace(c->svc->lookups, c->store, name, &c->ws);
    if (r == 0 && c->user.platform_admin)
        c->role = NN_ROLE_OWNER;
    else if (r == 0)
        r = nn_lookup_role(c->svc->lookups, c->store, c->ws.id, c->ws.epoch, c->user.id, &c->role);
    if (r == -ENOENT || (r == 0 && !nn_rbac_allows(c->role, NN_PERM_SEE))) {
        api_not_found(c, "workspace", name);
        return false;
    }
    if (r) {
        api_reply_store_error(c->resp, c->store, r);
        return false;
    }
    if (nn_rbac_allows(c->role, c->route->perm))
        return true;
    if (c->route->own != NN_PERM_NONE && nn_rbac_allows(c->role, c->route->own)) {
        c->own_only = true;
        return true;
    }
    api_forbidden(c, c->route->perm);
    return false;
}

static bool enter_network(ctx *c)
{
    const char *name = api_param(c, "net");
    int r = nn_lookup_network(c->svc->lookups, c->store, c->ws.id, name, &c->net);
    if (r == -ENOENT)
        api_not_found(c, "network", name);
    else if (r)
        api_reply_store_error(c->resp, c->store, r);
    return r == 0;
}

/* --- the engine --------------------------------------------------------- */

static bool served_on(const api_route *r, nn_api_listener l)
{
    if (r->flags & API_ANY_LISTENER)
        return true;
    bool node = r->auth == API_AUTH_NODE || r->auth == API_AUTH_ENROLL;
    return node == (l == NN_LISTENER_NODE);
}

/* Finds the route: 404/405/400 replied when there is none. */
static bool find_route(ctx *c)
{
    const char *seg[MAX_SEG + 1];
    size_t nseg;
    int r =
        api_path_decode(c->req->target, c->pathbuf, sizeof(c->pathbuf), seg, &nseg, MAX_SEG + 1);
    if (r == -EINVAL) {
        api_reply_error(c->resp, 400, "bad_path", NULL,
                        "the path has an invalid percent-encoding, or encodes a NUL or a slash");
        return false;
    }
    /* The most specific pattern: a literal beats a parameter, the earliest
     * segment first. */
    long best = -1;
    for (size_t i = 0; r == 0 && nseg <= MAX_SEG && i < NROUTES; i++)
        if (served_on(&routes[i], c->req->listener) && matches(i, seg, nseg) &&
            (best < 0 || patterns[i].literal > patterns[best].literal))
            best = (long)i;
    if (best < 0) {
        api_reply_error(c->resp, 404, "not_found", NULL, "no such resource");
        return false;
    }
    const char *method = strcmp(c->req->method, "HEAD") == 0 ? "GET" : c->req->method;
    char allow[64] = "";
    for (size_t i = 0; i < NROUTES; i++) {
        if (strcmp(routes[i].pattern, routes[best].pattern) != 0)
            continue;
        if (strcmp(routes[i].method, method) == 0) {
            c->route = &routes[i];
            break;
        }
        size_t o = strlen(allow);
        snprintf(allow + o, sizeof(allow) - o, "%s%s", o ? ", " : "", routes[i].method);
        if (strcmp(routes[i].method, "GET") == 0) {
            o = strlen(allow);
            snprintf(allow + o, sizeof(allow) - o, ", HEAD");
        }
    }
    if (!c->route) {
        api_reply_error(c->resp, 405, "method_not_allowed", NULL, "%s is not allowed here; use %s",
                        c->req->method, allow);
        snprintf(c->resp->allow, sizeof(c->resp->allow), "%s", allow);
        return false;
    }
    for (size_t i = 0; strcmp(method, "GET") != 0 && i < NROUTES; i++)
        if (strcmp(routes[i].pattern, c->route->pattern) == 0 &&
            strcmp(routes[i].method, "GET") == 0)
            c->twin = &routes[i];
    const pattern *p = &patterns[c->route - routes];
    for (size_t i = 0; i < p->n; i++)
        if (p->param[i] && c->nparam < API_MAX_PARAMS) {
            c->param_name[c->nparam] = p->name[i];
            c->param[c->nparam++] = seg[i];
        }
    return true;
}

static bool check_length(ctx *c, size_t len)
{
    const api_route *rt = c->route;
    if (len > rt->body_max) {
        if (rt->body_max == 0)
            api_reply_error(c->resp, 413, "too_large", NULL, "%s %s takes no body", rt->method,
                            rt->pattern);
        else
            api_reply_error(c->resp, 413, "too_large", NULL, "request body over %zu bytes",
                            rt->body_max);
        return false;
    }
    return true;
}

static bool parse_body(ctx *c)
{
    const nn_api_request *req = c->req;
    if (req->body_len == 0) {
        if (!(c->route->flags & API_BODY))
            return true;
        api_reply_error(c->resp, 400, "bad_json", NULL, "a JSON object body is required");
        return false;
    }
    json_error_t jerr;
    c->body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!c->body) {
        api_reply_error(c->resp, 400, "bad_json", NULL, "line %d, column %d: %s", jerr.line,
                        jerr.column, jerr.text);
        return false;
    }
    if (!json_is_object(c->body)) {
        api_reply_error(c->resp, 400, "bad_json", NULL, "the body must be a JSON object");
        return false;
    }
    return true;
}

/* Every object carries an ETag: a read's is the SHA-256 of its bytes
 * (unless the handler set one), and If-None-Match naming it answers 304; a
 * write answers with its object's new ETag. */
static void tag(ctx *c)
{
    nn_api_response *resp = c->resp;
    if (resp->status < 200 || resp->status > 299)
        return;
    if (!strcmp(c->route->method, "GET")) {
        if (!resp->etag[0])
            api_set_etag(resp);
        const char *inm = c->req->if_none_match;
        if (resp->status == 200 && inm && api_etag_listed(inm, resp->etag)) {
            resp->status = 304;
            nn_buf_reset(&resp->body);
        }
    } else if (c->twin && !c->dry_run && strcmp(c->route->method, "DELETE") != 0) {
        api_twin_etag(c, resp->etag);
    }
}

bool api_route_request(const api_services *svc, nn_store *store, const nn_api_request *req,
                       nn_api_response *resp, bool admit_only, size_t *body_max)
{
    pthread_once(&patterns_once, compile_patterns);
    ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        api_reply_error(resp, 500, "internal", NULL, "out of memory");
        return false;
    }
    c->svc = svc;
    c->store = store;
    c->req = req;
    c->resp = resp;
    bool admitted = false;
    if (!req->method || !find_route(c) || !read_query(c) || !authenticate(c) ||
        (api_param(c, "ws") && !enter_workspace(c)) || (api_param(c, "net") && !enter_network(c)) ||
        !check_length(c, admit_only ? req->content_length : req->body_len))
        goto out;
    if (admit_only) {
        *body_max = c->route->body_max;
        admitted = true;
        goto out;
    }
    if (parse_body(c)) {
        c->route->handler(c);
        tag(c);
    }
out:
    nn_row_clear(&c->ws);
    nn_row_clear(&c->net);
    json_decref(c->body);
    free(c);
    return admitted;
}
