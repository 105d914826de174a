/* The API in-process on a real SQLite database (":memory:"): the isolation
 * matrix generated from the route table -- every route x every role x its
 * own and a foreign workspace -- and the router's own answers (404, 405
 * with Allow, 400 for encoded tricks and bad query strings, the listener
 * split, HEAD).
 *
 * A route added to the table without a request body here fails the matrix:
 * it cannot go untested. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "api/api.h"
#include "api/rbac.h"
#include "api/router.h"

static nn_api *g_api;
static nn_store *g_store;

enum { ADMIN, OWNER, RADMIN, OPERATOR, MEMBER, VIEWER, OUTSIDER, BOWNER, NUSERS };
static const char *const user_name[NUSERS] = {"admin",    "u-owner",  "u-admin",    "u-operator",
                                              "u-member", "u-viewer", "u-outsider", "u-bowner"};
/* The role each user has in ws-a (ws-b belongs to u-bowner alone). */
static const nn_role role_in_a[NUSERS] = {NN_ROLE_OWNER,    NN_ROLE_OWNER,  NN_ROLE_ADMIN,
                                          NN_ROLE_OPERATOR, NN_ROLE_MEMBER, NN_ROLE_VIEWER,
                                          NN_ROLE_NONE,     NN_ROLE_NONE};
static char g_token[NUSERS][80];
static long g_token_id[2];      /* an enrollment token of p1 in ws-a, ws-b */
static long g_host_token_id[2]; /* an enrollment token of host hub-1 in ws-a, ws-b */

typedef struct answer {
    int status;
    char body[4096];
    char allow[64];
    char etag[72];
} answer;

/* Request headers beyond the token: If-Match, If-None-Match. */
static const char *g_if_match, *g_if_none_match;

static void call(const char *method, const char *target, int who, const char *body,
                 nn_api_listener listener, answer *out)
{
    char auth[128];
    snprintf(auth, sizeof(auth), "Bearer %s", who >= 0 ? g_token[who] : "");
    nn_api_request req = {.method = method,
                          .target = target,
                          .listener = listener,
                          .authorization = who >= 0 ? auth : NULL,
                          .if_match = g_if_match,
                          .if_none_match = g_if_none_match,
                          .body = body,
                          .body_len = body ? strlen(body) : 0};
    nn_api_response resp;
    nn_api_response_init(&resp);
    nn_api_handle(g_api, g_store, &req, &resp);
    out->status = resp.status;
    snprintf(out->body, sizeof(out->body), "%.*s", (int)resp.body.len,
             resp.body.data ? resp.body.data : "");
    snprintf(out->allow, sizeof(out->allow), "%s", resp.allow);
    snprintf(out->etag, sizeof(out->etag), "%s", resp.etag);
    nn_api_response_free(&resp);
}

static void must(const char *method, const char *target, const char *body, int want)
{
    answer a;
    call(method, target, ADMIN, body, NN_LISTENER_API, &a);
    if (a.status != want)
        fail_msg("%s %s -> %d (want %d): %s", method, target, a.status, want, a.body);
}

static void key(char out[45])
{
    uint8_t k[32];
    randombytes_buf(k, sizeof(k));
    sodium_bin2base64(out, 45, k, sizeof(k), sodium_base64_VARIANT_ORIGINAL);
}

static int setup(void **state)
{
    (void)state;
    if (nn_api_new(&g_api) || nn_store_open(":memory:", &g_store) ||
        nn_api_init_install(g_store, NULL, g_token[ADMIN]) || nn_api_node_keys_load(g_api, g_store))
        return -1;
    char path[256], body[512], k1[45], k2[45], k3[45];
    answer a;
    for (int u = OWNER; u < NUSERS; u++) {
        snprintf(body, sizeof(body), "{\"name\":\"%s\"}", user_name[u]);
        must("POST", "/api/v1/users", body, 201);
        snprintf(path, sizeof(path), "/api/v1/users/%s/tokens", user_name[u]);
        call("POST", path, ADMIN, "{\"name\":\"t\"}", NN_LISTENER_API, &a);
        json_t *j = json_loads(a.body, 0, NULL);
        snprintf(g_token[u], sizeof(g_token[u]), "%s",
                 json_string_value(json_object_get(j, "token")));
        json_decref(j);
    }
    must("PUT", "/api/v1/regions/r1", "{}", 201);
    must("PUT", "/api/v1/regions/r2", "{}", 201);
    for (int w = 0; w < 2; w++) {
        const char *ws = w ? "ws-b" : "ws-a";
        key(k1), key(k2), key(k3);
        snprintf(body, sizeof(body), "{\"name\":\"%s\",\"owner\":\"%s\"}", ws,
                 w ? "u-bowner" : "u-owner");
        must("POST", "/api/v1/workspaces", body, 201);
        snprintf(path, sizeof(path), "/api/v1/workspaces/%s/regions", ws);
        must("PUT", path, "{\"regions\":[\"r1\"]}", 200);
        /* the secret tag must never show up outside its workspace */
        snprintf(body, sizeof(body),
                 "{\"workspaces\":[{\"name\":\"%s\",\"route_policies\":[{\"name\":\"rp\","
                 "\"direction\":\"in\"}],\"networks\":[{\"name\":\"corp\",\"ipv4_cidr\":"
                 "\"10.20.0.0/24\",\"peers\":[{\"name\":\"hub-1\",\"public_key\":\"%s\","
                 "\"publicly_reachable\":true,\"endpoint\":\"198.51.100.1:51820\"},{\"name\":"
                 "\"p1\",\"public_key\":\"%s\",\"tags\":[\"%s-secret\"]}],\"devices\":[{\"name\":"
                 "\"d1\",\"public_key\":\"%s\",\"owner\":\"u-owner\"}]}]}]}",
                 ws, k1, k2, ws, k3);
        snprintf(path, sizeof(path), "/api/v1/workspaces/%s/intent", ws);
        must("PUT", path, body, 200);
        snprintf(path, sizeof(path),
                 "/api/v1/workspaces/%s/networks/corp/peers/p1/enrollment-tokens", ws);
        call("POST", path, ADMIN, "{}", NN_LISTENER_API, &a);
        assert_int_equal(a.status, 201);
        json_t *j = json_loads(a.body, 0, NULL);
        g_token_id[w] = (long)json_integer_value(json_object_get(j, "id"));
        json_decref(j);
        snprintf(path, sizeof(path), "/api/v1/workspaces/%s/nodes/hub-1/enrollment-tokens", ws);
        call("POST", path, ADMIN, "{}", NN_LISTENER_API, &a);
        assert_int_equal(a.status, 201);
        j = json_loads(a.body, 0, NULL);
        g_host_token_id[w] = (long)json_integer_value(json_object_get(j, "id"));
        json_decref(j);
    }
    /* a viewer of ws-b, for its membership routes; never a caller here */
    must("POST", "/api/v1/users", "{\"name\":\"u-b2\"}", 201);
    must("PUT", "/api/v1/workspaces/ws-b/members/u-b2", "{\"role\":\"viewer\"}", 200);
    for (int u = RADMIN; u <= VIEWER; u++) {
        snprintf(path, sizeof(path), "/api/v1/workspaces/ws-a/members/%s", user_name[u]);
        snprintf(body, sizeof(body), "{\"role\":\"%s\"}", nn_role_name(role_in_a[u]));
        must("PUT", path, body, 200);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nn_store_close(g_store);
    nn_api_free(g_api);
    return 0;
}

/* A request body for each writing route: valid, so that an allowed caller
 * gets a 2xx. W stands for the workspace. Every route that takes a body
 * must be here. */
static const char *body_for(const api_route *r)
{
    static char key_body[3][200];
    static const struct {
        const char *method, *pattern, *body;
    } bodies[] = {
        {"PUT", "/workspaces/{ws}", "{}"},
        {"PUT", "/workspaces/{ws}/members/{user}", "{\"role\":\"viewer\"}"},
        {"PUT", "/workspaces/{ws}/intent", "{\"workspaces\":[{\"name\":\"W\"}]}"},
        {"PUT", "/workspaces/{ws}/regions", "{\"regions\":[\"r1\"]}"},
        {"PUT", "/workspaces/{ws}/nodes/{host}/status", "{\"state\":\"down\"}"},
        {"POST", "/workspaces/{ws}/{kind}", "{\"name\":\"rp2\",\"direction\":\"out\"}"},
        {"PUT", "/workspaces/{ws}/{kind}/{name}", "{\"direction\":\"out\"}"},
        {"POST", "/workspaces/{ws}/networks", "{\"name\":\"n2\"}"},
        {"PUT", "/workspaces/{ws}/networks/{name}", "{\"ipv4_cidr\":\"10.20.0.0/24\"}"},
        {"POST", "/workspaces/{ws}/networks/{net}/{kind}", NULL},       /* key_body[0] */
        {"PUT", "/workspaces/{ws}/networks/{net}/{kind}/{name}", NULL}, /* key_body[1] */
        {"POST", "/workspaces/{ws}/networks/{net}/devices", NULL},      /* key_body[2] */
        {"PUT", "/workspaces/{ws}/networks/{net}/devices/{name}", NULL},
        {"POST", "/workspaces/{ws}/networks/{net}/peers/{peer}/enrollment-tokens",
         "{\"ttl_seconds\":600}"},
        {"PUT", "/workspaces/{ws}/networks/{net}/routing-policy",
         "{\"traffic_mode\":\"vpn_only\"}"},
        {"PUT", "/workspaces/{ws}/networks/{net}/devices/{device}/routing-preference",
         "{\"traffic_mode\":\"full_tunnel\"}"},
        {"PUT", "/workspaces/{ws}/networks/{net}/users/{user}/routing-preference", "{}"},
        {"POST", "/workspaces/{ws}/nodes/{host}/enrollment-tokens", "{\"ttl_seconds\":600}"},
    };
    char k[45];
    key(k);
    snprintf(key_body[0], sizeof(key_body[0]), "{\"name\":\"p9\",\"public_key\":\"%s\"}", k);
    snprintf(key_body[1], sizeof(key_body[1]), "{\"public_key\":\"%s\"}", k);
    snprintf(key_body[2], sizeof(key_body[2]),
             "{\"name\":\"d9\",\"public_key\":\"%s\",\"owner\":\"u-owner\"}", k);
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        if (!strcmp(bodies[i].method, r->method) && !strcmp(bodies[i].pattern, r->pattern)) {
            if (bodies[i].body)
                return bodies[i].body;
            return i == 9 ? key_body[0] : i == 11 ? key_body[2] : key_body[1];
        }
    return NULL;
}

/* The pattern with fixture values: an object each parameter names. */
static void instantiate(const api_route *r, const char *ws, char *out, size_t len)
{
    const char *kind = r->kind ? r->kind : r->kinds ? r->kinds[0] : "";
    bool members = strstr(r->pattern, "/members/") != NULL;
    size_t o = (size_t)snprintf(out, len, "/api/v1");
    for (const char *p = r->pattern; *p && o < len;) {
        if (*p != '{') {
            out[o++] = *p++;
            continue;
        }
        size_t n = strcspn(p, "}");
        char name[16];
        snprintf(name, sizeof(name), "%.*s", (int)n - 1, p + 1);
        p += n + 1;
        char v[32];
        if (!strcmp(name, "ws"))
            snprintf(v, sizeof(v), "%s", ws);
        else if (!strcmp(name, "net"))
            snprintf(v, sizeof(v), "corp");
        else if (!strcmp(name, "kind"))
            snprintf(v, sizeof(v), "%s", kind);
        else if (!strcmp(name, "name"))
            snprintf(v, sizeof(v), "%s",
                     !strcmp(kind, "networks")  ? "corp"
                     : !strcmp(kind, "devices") ? "d1"
                     : !strcmp(kind, "peers")   ? "p1"
                                                : "rp");
        else if (!strcmp(name, "peer"))
            snprintf(v, sizeof(v), "p1");
        else if (!strcmp(name, "device"))
            snprintf(v, sizeof(v), "d1");
        else if (!strcmp(name, "user"))
            snprintf(v, sizeof(v), "%s",
                     !strcmp(ws, "ws-b") ? (members ? "u-b2" : "u-bowner")
                                         : (members ? "u-viewer" : "u-owner"));
        else if (!strcmp(name, "region"))
            snprintf(v, sizeof(v), "r2"); /* granted to nobody */
        else if (!strcmp(name, "host"))
            snprintf(v, sizeof(v), "hub-1");
        else if (!strcmp(name, "id"))
            snprintf(v, sizeof(v), "%ld",
                     (strstr(r->pattern, "/nodes/") ? g_host_token_id
                                                    : g_token_id)[!strcmp(ws, "ws-b")]);
        else
            fail_msg("%s: no fixture for {%s}", r->pattern, name);
        o += (size_t)snprintf(out + o, len - o, "%s", v);
    }
    out[o < len ? o : len - 1] = '\0';
    if (r->flags & API_DRY_RUN)
        snprintf(out + strlen(out), len - strlen(out), "?dry_run=true");
}

/* A list of one kind of rows: what an owner-limited caller may read,
 * filtered to their own. */
static bool is_collection(const api_route *r)
{
    size_t n = strlen(r->pattern), k = r->kind ? strlen(r->kind) : 0;
    return r->kind && !strcmp(r->method, "GET") && n > k && !strcmp(r->pattern + n - k, r->kind);
}

static void test_isolation_matrix(void **state)
{
    (void)state;
    size_t n, cells = 0, leaks = 0, failures = 0;
    const api_route *routes = api_routes(&n);
    for (size_t i = 0; i < n; i++) {
        const api_route *r = &routes[i];
        if (r->perm == NN_PERM_NONE)
            continue; /* not workspace-scoped: test_platform_routes */
        bool body = r->flags & (API_BODY | API_BODY_OPTIONAL);
        const char *b = body ? body_for(r) : NULL;
        if (body && !b)
            fail_msg("%s %s: no request body in the matrix", r->method, r->pattern);
        for (int u = 0; u < NUSERS; u++)
            for (int w = 0; w < 2; w++) {
                char target[512], bb[512];
                instantiate(r, w ? "ws-b" : "ws-a", target, sizeof(target));
                if (b) {
                    const char *at = strstr(b, "\"W\"");
                    if (at)
                        snprintf(bb, sizeof(bb), "%.*s\"%s\"%s", (int)(at - b), b,
                                 w ? "ws-b" : "ws-a", at + 3);
                    else
                        snprintf(bb, sizeof(bb), "%s", b);
                }
                answer a;
                call(r->method, target, u, b ? bb : NULL, NN_LISTENER_API, &a);
                cells++;
                nn_role role =
                    w ? (u == BOWNER || u == ADMIN ? NN_ROLE_OWNER : NN_ROLE_NONE) : role_in_a[u];
                bool full = nn_rbac_allows(role, r->perm);
                bool own = !full && r->own != NN_PERM_NONE && nn_rbac_allows(role, r->own);
                const char *why = NULL;
                if (r->auth == API_AUTH_ADMIN && u != ADMIN) {
                    /* refused before any workspace is looked at: the same
                     * answer for every workspace name */
                    if (a.status != 403 || strstr(a.body, "-secret"))
                        why = "want 403";
                } else if (role == NN_ROLE_NONE) {
                    /* foreign: the same 404 as for a workspace that does not exist */
                    if (a.status != 404 || strstr(a.body, "-secret")) {
                        leaks++;
                        why = "LEAK";
                    }
                } else if (full) {
                    if (a.status < 200 || a.status > 299)
                        why = "want 2xx";
                    else if ((r->flags & API_DRY_RUN) && !strstr(a.body, "\"dry_run\":true"))
                        why = "a dry run's answer does not say so";
                } else if (own) {
                    /* limited to their own: every fixture is u-owner's */
                    if (is_collection(r) ? a.status != 200 : a.status != 404 && a.status != 403)
                        why = is_collection(r) ? "want 200" : "want 403 or 404";
                    if (strstr(a.body, "\"owner\":\"u-owner\"") || strstr(a.body, "-secret"))
                        why = "LEAK";
                } else if (a.status != 403) {
                    why = "want 403";
                }
                if (why) {
                    failures++;
                    print_message("%s: %s %s %s -> %d %.200s\n", why, user_name[u], r->method,
                                  target, a.status, a.body);
                }
            }
    }
    print_message("isolation matrix: %zu cells, %zu leaks\n", cells, leaks);
    assert_int_equal(leaks, 0);
    assert_int_equal(failures, 0);
    assert_true(cells > 700);
}

static void test_platform_routes(void **state)
{
    (void)state;
    size_t n;
    const api_route *routes = api_routes(&n);
    for (size_t i = 0; i < n; i++) {
        const api_route *r = &routes[i];
        if (r->perm != NN_PERM_NONE || r->auth == API_AUTH_NODE || r->auth == API_AUTH_ENROLL)
            continue;
        for (int u = -1; u < NUSERS; u++) {
            char target[256];
            instantiate(r, "ws-a", target, sizeof(target));
            if (r->auth == API_AUTH_SELF) /* a user acting for themself */
                snprintf(target, sizeof(target), "/api/v1/users/%s/tokens",
                         user_name[u < 0 ? OWNER : u]);
            bool post = !strcmp(r->method, "POST");
            const char *b = post && !strcmp(r->pattern, "/users")        ? "{\"name\":\"x-new\"}"
                            : post && !strcmp(r->pattern, "/workspaces") ? "{\"name\":\"ws-new\"}"
                            : r->auth == API_AUTH_SELF                   ? "{\"name\":\"t2\"}"
                            : !strcmp(r->method, "PUT")                  ? "{}"
                                                                         : NULL;
            answer a;
            call(r->method, target, u, b, NN_LISTENER_API, &a);
            int want = r->auth == API_AUTH_NONE                  ? 200
                       : u < 0                                   ? 401
                       : r->auth == API_AUTH_ADMIN && u != ADMIN ? 403
                                                                 : 0;
            bool ok = want ? a.status == want : a.status >= 200 && a.status <= 299;
            if (!ok)
                fail_msg("%s %s as %s -> %d: %s", r->method, target,
                         u < 0 ? "nobody" : user_name[u], a.status, a.body);
        }
    }
    /* acting for somebody else */
    answer a;
    call("POST", "/api/v1/users/u-owner/tokens", VIEWER, "{\"name\":\"steal\"}", NN_LISTENER_API,
         &a);
    assert_int_equal(a.status, 403);
    call("POST", "/api/v1/users/u-owner/tokens", ADMIN, "{\"name\":\"for-you\"}", NN_LISTENER_API,
         &a);
    assert_int_equal(a.status, 201);
}

/* A member reaches the devices they own, and nothing of anybody else's. */
static void test_member_owns_devices(void **state)
{
    (void)state;
    char k[45], body[256];
    key(k);
    answer a;
    snprintf(body, sizeof(body), "{\"public_key\":\"%s\"}", k);
    call("PUT", "/api/v1/workspaces/ws-a/networks/corp/devices/m-laptop", MEMBER, body,
         NN_LISTENER_API, &a);
    assert_int_equal(a.status, 201);
    call("GET", "/api/v1/workspaces/ws-a/networks/corp/devices", MEMBER, NULL, NN_LISTENER_API, &a);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, "\"m-laptop\""));
    assert_null(strstr(a.body, "\"d1\""));
    call("GET", "/api/v1/workspaces/ws-a/networks/corp/devices/m-laptop/routing", MEMBER, NULL,
         NN_LISTENER_API, &a);
    assert_int_equal(a.status, 200);
    call("PUT", "/api/v1/workspaces/ws-a/networks/corp/devices/m-laptop/routing-preference", MEMBER,
         "{\"traffic_mode\":\"vpn_only\"}", NN_LISTENER_API, &a);
    assert_int_equal(a.status, 200);
    call("GET", "/api/v1/workspaces/ws-a/networks/corp/users/u-member/routing", MEMBER, NULL,
         NN_LISTENER_API, &a);
    assert_int_equal(a.status, 200);
    call("DELETE", "/api/v1/workspaces/ws-a/networks/corp/devices/m-laptop", MEMBER, NULL,
         NN_LISTENER_API, &a);
    assert_int_equal(a.status, 200);
}

static void expect(const char *method, const char *target, int who, const char *body,
                   nn_api_listener l, int status, const char *code)
{
    answer a;
    call(method, target, who, body, l, &a);
    if (a.status != status || (code && !strstr(a.body, code)))
        fail_msg("%s %s -> %d %s (want %d %s)", method, target, a.status, a.body, status,
                 code ? code : "");
    if (status >= 400 && !strstr(a.body, "\"error\""))
        fail_msg("%s %s: a %d without the JSON error body", method, target, status);
}

static void test_router_answers(void **state)
{
    (void)state;
    nn_api_listener api = NN_LISTENER_API, node = NN_LISTENER_NODE;
    const char *ws = "/api/v1/workspaces/ws-a";
    /* unknown paths and methods */
    expect("GET", "/api/v1/nope", OWNER, NULL, api, 404, "not_found");
    expect("GET", "/api/v2/workspaces", OWNER, NULL, api, 404, "not_found");
    expect("GET", "/api/v1/workspaces/ws-a/widgets", OWNER, NULL, api, 404, "not_found");
    expect("GET", "/api/v1/workspaces/ws-a/networks/corp/devices/d1/enrollment-tokens", OWNER, NULL,
           api, 404, "not_found");
    answer a;
    call("PATCH", "/api/v1/workspaces/ws-a/networks/corp", OWNER, "{}", api, &a);
    assert_int_equal(a.status, 405);
    assert_string_equal(a.allow, "GET, HEAD, PUT, DELETE");
    expect("HEAD", "/api/v1/workspaces/ws-a", OWNER, NULL, api, 200, NULL);
    /* encoded tricks never reach a parent resource */
    expect("DELETE", "/api/v1/workspaces/ws-a%00/networks/corp", OWNER, NULL, api, 400, "bad_path");
    expect("GET", "/api/v1/workspaces/ws-a%2Fnetworks", OWNER, NULL, api, 400, "bad_path");
    expect("GET", "/api/v1/workspaces/ws-a/networks/corp/peers/%2e%2e", OWNER, NULL, api, 404,
           "not_found");
    expect("GET", "/api/v1/workspaces/ws-a/networks/corp/peers/p%zz", OWNER, NULL, api, 400,
           "bad_path");
    expect("GET", "/api/v1/workspaces//ws-a", OWNER, NULL, api, 404, "not_found");
    expect("GET", "/api/v1/workspaces/ws%2Da", OWNER, NULL, api, 200, NULL);
    /* query flags: exactly true or false, once, and only where they mean something */
    char t[256];
    snprintf(t, sizeof(t), "%s/networks/corp/peers/p1?dry_run=yes", ws);
    expect("DELETE", t, OWNER, NULL, api, 400, "bad_query");
    snprintf(t, sizeof(t), "%s/networks/corp/peers/p1?dry_run=1", ws);
    expect("DELETE", t, OWNER, NULL, api, 400, "bad_query");
    snprintf(t, sizeof(t), "%s/networks/corp/peers/p1?dryrun=true", ws);
    expect("DELETE", t, OWNER, NULL, api, 400, "bad_query");
    snprintf(t, sizeof(t), "%s/networks/corp/peers/p1?dry_run=true&dry_run=false", ws);
    expect("DELETE", t, OWNER, NULL, api, 400, "bad_query");
    snprintf(t, sizeof(t), "%s/networks/corp/peers/p1?dry_run=true", ws);
    expect("GET", t, OWNER, NULL, api, 400, "bad_query");
    expect("POST", "/api/v1/users?dry_run=true", ADMIN, "{\"name\":\"dry\"}", api, 400,
           "bad_query");
    snprintf(t, sizeof(t), "%s/networks/corp/peers/p1?dry_run=true", ws);
    expect("DELETE", t, OWNER, NULL, api, 200, "\"dry_run\":true");
    snprintf(t, sizeof(t), "%s/networks/corp/peers/p1", ws);
    expect("GET", t, OWNER, NULL, api, 200, NULL);
    /* bodies */
    snprintf(t, sizeof(t), "%s/networks/corp/peers/p1", ws);
    expect("PUT", t, OWNER, "", api, 400, "bad_json");
    expect("PUT", t, OWNER, "[1]", api, 400, "bad_json");
    expect("PUT", t, OWNER, "{\"a\":1,\"a\":2}", api, 400, "bad_json");
    expect("DELETE", t, OWNER, "{}", api, 413, "too_large");
    expect("GET", "/api/v1/me", OWNER, "x", api, 413, "too_large");
    /* the listener split: node routes on the node listener only, and
     * nothing else there */
    expect("GET", "/api/v1/node/config", OWNER, NULL, api, 404, "not_found");
    expect("POST", "/api/v1/node/enroll", -1, "{}", api, 404, "not_found");
    expect("GET", "/api/v1/workspaces", OWNER, NULL, node, 404, "not_found");
    expect("GET", "/api/v1/health", -1, NULL, node, 200, NULL);
    expect("GET", "/api/v1/node/config", -1, NULL, node, 401, "unauthenticated");
    expect("POST", "/api/v1/node/enroll", -1,
           "{\"token\":\"ne_x\",\"wireguard_public_key\":\"x\",\"csr\":\"x\"}", node, 422,
           "wireguard_public_key");
    /* an enrollment carries its credential in the body: a few KiB at most */
    char *big = malloc(20000);
    memset(big, ' ', 19999);
    big[0] = '{';
    big[19997] = '}';
    big[19998] = '\0';
    expect("POST", "/api/v1/node/enroll", -1, big, node, 413, "too_large");
    free(big);
    /* auth */
    expect("GET", "/api/v1/me", -1, NULL, api, 401, "unauthenticated");
    /* a message quoting a caller's string cut mid-character keeps its body */
    char wide[600] =
        "{\"public_key\":\"Cu6HSiTawhFvktwrxzl48+VtBmq3azpeNne1Vk51pnc=\",\"endpoint\":\"x";
    for (int i = 0; i < 60; i++)
        strcat(wide, "\u00e9");
    strcat(wide, "\"}");
    snprintf(t, sizeof(t), "%s/networks/corp/peers/p-wide?dry_run=true", ws);
    expect("PUT", t, OWNER, wide, api, 422, "endpoint");
}

/* A name given twice in a document is refused with the path of the
 * second, as nanamictl check says it, and nothing changes. */
static void test_intent_duplicates(void **state)
{
    (void)state;
    char k1[45], k2[45], body[1024];
    key(k1), key(k2);
    answer before, a, after;
    call("GET", "/api/v1/workspaces/ws-a/intent", OWNER, NULL, NN_LISTENER_API, &before);
    snprintf(body, sizeof(body),
             "{\"workspaces\":[{\"name\":\"ws-a\",\"networks\":[{\"name\":\"corp\",\"peers\":["
             "{\"name\":\"x\",\"public_key\":\"%s\"},{\"name\":\"x\",\"public_key\":\"%s\"}]}]}]}",
             k1, k2);
    call("PUT", "/api/v1/workspaces/ws-a/intent", OWNER, body, NN_LISTENER_API, &a);
    assert_int_equal(a.status, 422);
    assert_non_null(strstr(a.body, "\"field\":\"workspaces[0].networks[0].peers[1].name\""));
    assert_non_null(strstr(a.body, "duplicate name \\\"x\\\" (also peers[0])"));
    call("PUT", "/api/v1/workspaces/ws-a/intent", OWNER,
         "{\"workspaces\":[{\"name\":\"ws-a\",\"networks\":[{\"name\":\"n\"},{\"name\":\"m\"},"
         "{\"name\":\"n\"}]}]}",
         NN_LISTENER_API, &a);
    assert_int_equal(a.status, 422);
    assert_non_null(strstr(a.body, "\"field\":\"workspaces[0].networks[2].name\""));
    call("GET", "/api/v1/workspaces/ws-a/intent", OWNER, NULL, NN_LISTENER_API, &after);
    assert_string_equal(before.body, after.body);
}

/* Every object carries an ETag; If-None-Match reads cheaply, If-Match
 * refuses a lost update, If-None-Match: * creates only. */
static void test_etags(void **state)
{
    (void)state;
    const char *p1 = "/api/v1/workspaces/ws-a/networks/corp/peers/p1";
    char k[45], body[256], e1[72], e2[72];
    answer a;
    call("GET", p1, OWNER, NULL, NN_LISTENER_API, &a);
    assert_int_equal(a.status, 200);
    assert_int_equal(strlen(a.etag), 66);
    snprintf(e1, sizeof(e1), "%s", a.etag);
    g_if_none_match = e1;
    call("GET", p1, OWNER, NULL, NN_LISTENER_API, &a);
    assert_int_equal(a.status, 304);
    assert_string_equal(a.body, "");
    g_if_none_match = NULL;
    /* a write that read the current version goes through, and says the new one */
    key(k);
    snprintf(body, sizeof(body), "{\"public_key\":\"%s\",\"tags\":[\"ws-a-secret\"]}", k);
    g_if_match = e1;
    call("PUT", p1, OPERATOR, body, NN_LISTENER_API, &a);
    assert_int_equal(a.status, 200);
    snprintf(e2, sizeof(e2), "%s", a.etag);
    assert_string_not_equal(e1, e2);
    /* the same stale version again: 412, nothing written */
    key(k);
    snprintf(body, sizeof(body), "{\"public_key\":\"%s\"}", k);
    call("PUT", p1, OPERATOR, body, NN_LISTENER_API, &a);
    assert_int_equal(a.status, 412);
    assert_non_null(strstr(a.body, "precondition_failed"));
    call("DELETE", p1, OPERATOR, NULL, NN_LISTENER_API, &a);
    assert_int_equal(a.status, 412);
    g_if_match = NULL;
    call("GET", p1, OWNER, NULL, NN_LISTENER_API, &a);
    assert_string_equal(a.etag, e2);
    /* a list of ETags, and "*" */
    char list[160];
    snprintf(list, sizeof(list), "\"nope\", %s", e2);
    g_if_match = list;
    call("PUT", p1, OPERATOR, "{\"public_key\":\"Cu6HSiTawhFvktwrxzl48+VtBmq3azpeNne1Vk51pnc=\"}",
         NN_LISTENER_API, &a);
    assert_int_equal(a.status, 200);
    g_if_match = "*";
    call("PUT", "/api/v1/workspaces/ws-a/networks/corp/peers/p-none?dry_run=true", OPERATOR, body,
         NN_LISTENER_API, &a);
    assert_int_equal(a.status, 412); /* "*" needs the object to exist */
    g_if_match = NULL;
    /* create only */
    g_if_none_match = "*";
    key(k);
    snprintf(body, sizeof(body), "{\"public_key\":\"%s\"}", k);
    call("PUT", "/api/v1/workspaces/ws-a/networks/corp/peers/p-new", OPERATOR, body,
         NN_LISTENER_API, &a);
    assert_int_equal(a.status, 201);
    call("PUT", "/api/v1/workspaces/ws-a/networks/corp/peers/p-new", OPERATOR, body,
         NN_LISTENER_API, &a);
    assert_int_equal(a.status, 412);
    g_if_none_match = NULL;
    /* the whole document, and a membership */
    call("GET", "/api/v1/workspaces/ws-a/intent", OWNER, NULL, NN_LISTENER_API, &a);
    g_if_match = "\"0000000000000000000000000000000000000000000000000000000000000000\"";
    call("PUT", "/api/v1/workspaces/ws-a/intent", OWNER, "{\"workspaces\":[{\"name\":\"ws-a\"}]}",
         NN_LISTENER_API, &a);
    assert_int_equal(a.status, 412);
    call("PUT", "/api/v1/workspaces/ws-a/members/u-viewer", OWNER, "{\"role\":\"admin\"}",
         NN_LISTENER_API, &a);
    assert_int_equal(a.status, 412);
    /* a route with nothing to match */
    call("DELETE", "/api/v1/workspaces/ws-a/networks/corp/peers/p1/enrollment-tokens/1", OWNER,
         NULL, NN_LISTENER_API, &a);
    assert_int_equal(a.status, 400);
    g_if_match = NULL;
    call("GET", "/api/v1/workspaces/ws-a/members/u-viewer", OWNER, NULL, NN_LISTENER_API, &a);
    assert_non_null(strstr(a.body, "\"role\":\"viewer\""));
}

static char *field_of(const char *body, const char *key, char *out, size_t len)
{
    json_t *j = json_loads(body, 0, NULL);
    snprintf(out, len, "%s", json_string_value(json_object_get(j, key)) ?: "");
    json_decref(j);
    return out;
}

/* Every workspace of the install gets a /48 of its own (they were drawn
 * seeing only themselves: 80 workspaces had 64 distinct ones); the 257th of
 * a /40 is refused with a clear error; a pin another workspace holds is
 * refused; every network's /64 is recorded as a pin. */
static void test_install_wide_prefixes(void **state)
{
    (void)state;
    json_t *seen = json_object();
    answer a;
    char body[128], path[160], prefix[64];
    size_t made = 0;
    for (int i = 0; i < 300; i++) {
        snprintf(body, sizeof(body), "{\"name\":\"many-%03d\"}", i);
        call("POST", "/api/v1/workspaces", ADMIN, body, NN_LISTENER_API, &a);
        if (a.status == 409) {
            assert_non_null(strstr(a.body, "address_pool_exhausted"));
            break;
        }
        assert_int_equal(a.status, 201);
        made++;
        snprintf(path, sizeof(path), "/api/v1/workspaces/many-%03d", i);
        call("GET", path, ADMIN, NULL, NN_LISTENER_API, &a);
        field_of(a.body, "ipv6_prefix", prefix, sizeof(prefix));
        assert_int_equal(strlen(prefix) > 8, 1);
        if (json_object_get(seen, prefix))
            fail_msg("many-%03d has %s, like %s", i, prefix,
                     json_string_value(json_object_get(seen, prefix)));
        json_object_set_new(seen, prefix, json_string(path));
    }
    /* ws-a and ws-b hold two of the 256 */
    assert_int_equal(made, 254);
    json_decref(seen);
    /* a pin another workspace holds */
    call("GET", "/api/v1/workspaces/many-000", ADMIN, NULL, NN_LISTENER_API, &a);
    snprintf(body, sizeof(body), "{\"ipv6_prefix\":\"%s\"}",
             field_of(a.body, "ipv6_prefix", prefix, sizeof(prefix)));
    call("PUT", "/api/v1/workspaces/many-001", ADMIN, body, NN_LISTENER_API, &a);
    assert_int_equal(a.status, 409);
    assert_non_null(strstr(a.body, "\"field\":\"ipv6_prefix\""));
    /* deleting one frees its /48 for the next */
    call("DELETE", "/api/v1/workspaces/many-000", ADMIN, NULL, NN_LISTENER_API, &a);
    assert_int_equal(a.status, 200);
    call("POST", "/api/v1/workspaces", ADMIN, "{\"name\":\"late\"}", NN_LISTENER_API, &a);
    assert_int_equal(a.status, 201);
    call("GET", "/api/v1/workspaces/late", ADMIN, NULL, NN_LISTENER_API, &a);
    assert_string_equal(field_of(a.body, "ipv6_prefix", body, sizeof(body)), prefix);
    for (int i = 1; i < (int)made; i++) {
        snprintf(path, sizeof(path), "/api/v1/workspaces/many-%03d", i);
        call("DELETE", path, ADMIN, NULL, NN_LISTENER_API, &a);
        assert_int_equal(a.status, 200);
    }
    call("DELETE", "/api/v1/workspaces/late", ADMIN, NULL, NN_LISTENER_API, &a);
    /* a network's /64 is recorded when first made */
    call("GET", "/api/v1/workspaces/ws-a/networks/corp", ADMIN, NULL, NN_LISTENER_API, &a);
    assert_non_null(strstr(a.body, "\"ipv6_prefix\":\"fd"));
}

/* A VRF's kernel table is recorded when first made: a network added to a
 * host later, whose name sorts first, takes a free table instead of
 * shifting the others'. */
static void test_vrf_tables_stay(void **state)
{
    (void)state;
    char k[3][45], body[2048];
    key(k[0]), key(k[1]), key(k[2]);
    answer a;
    call("POST", "/api/v1/workspaces", ADMIN, "{\"name\":\"fab\",\"bgp\":{\"enabled\":true}}",
         NN_LISTENER_API, &a);
    assert_int_equal(a.status, 201);
    snprintf(
        body, sizeof(body),
        "{\"workspaces\":[{\"name\":\"fab\",\"bgp\":{\"enabled\":true},\"networks\":["
        "{\"name\":\"b\",\"routing_mode\":\"ibgp\",\"peers\":[{\"name\":\"b1\",\"host\":\"h\","
        "\"public_key\":\"%s\",\"publicly_reachable\":true,\"endpoint\":\"192.0.2.1:51820\"}]},"
        "{\"name\":\"c\",\"routing_mode\":\"ibgp\",\"peers\":[{\"name\":\"c1\",\"host\":\"h\","
        "\"listen_port\":51821,\"publicly_reachable\":true,\"endpoint\":\"192.0.2.1:51821\"}]}]}]}",
        k[0]); /* c1 takes host h's key (b1's): a host is one node */
    call("PUT", "/api/v1/workspaces/fab/intent", ADMIN, body, NN_LISTENER_API, &a);
    assert_int_equal(a.status, 200);
    char b1[256], c1[256];
    call("GET", "/api/v1/workspaces/fab/networks/b/peers/b1", ADMIN, NULL, NN_LISTENER_API, &a);
    snprintf(b1, sizeof(b1), "%s", strstr(a.body, "\"vrf_table\":") ?: "none");
    call("GET", "/api/v1/workspaces/fab/networks/c/peers/c1", ADMIN, NULL, NN_LISTENER_API, &a);
    snprintf(c1, sizeof(c1), "%s", strstr(a.body, "\"vrf_table\":") ?: "none");
    assert_true(!strncmp(b1, "\"vrf_table\":100", 15));
    assert_true(!strncmp(c1, "\"vrf_table\":101", 15));
    /* network "a" joins host h */
    call("POST", "/api/v1/workspaces/fab/networks", ADMIN,
         "{\"name\":\"a\",\"routing_mode\":\"ibgp\"}", NN_LISTENER_API, &a);
    assert_int_equal(a.status, 201);
    snprintf(body, sizeof(body),
             "{\"host\":\"h\",\"public_key\":\"%s\",\"listen_port\":51822,"
             "\"publicly_reachable\":true,\"endpoint\":\"192.0.2.1:51822\"}",
             k[0]);
    call("PUT", "/api/v1/workspaces/fab/networks/a/peers/a1", ADMIN, body, NN_LISTENER_API, &a);
    assert_int_equal(a.status, 201);
    call("GET", "/api/v1/workspaces/fab/networks/a/peers/a1", ADMIN, NULL, NN_LISTENER_API, &a);
    assert_non_null(strstr(a.body, "\"vrf_table\":102"));
    call("GET", "/api/v1/workspaces/fab/networks/b/peers/b1", ADMIN, NULL, NN_LISTENER_API, &a);
    assert_true(!strncmp(strstr(a.body, "\"vrf_table\":") ?: "", "\"vrf_table\":100", 15));
    /* moved to another host, a peer gives its table up and gets a free one there */
    snprintf(body, sizeof(body),
             "{\"host\":\"g\",\"public_key\":\"%s\",\"publicly_reachable\":true,\"endpoint\":"
             "\"192.0.2.2:51820\"}",
             k[1]);
    call("PUT", "/api/v1/workspaces/fab/networks/c/peers/c1", ADMIN, body, NN_LISTENER_API, &a);
    assert_int_equal(a.status, 200);
    call("GET", "/api/v1/workspaces/fab/networks/c/peers/c1", ADMIN, NULL, NN_LISTENER_API, &a);
    assert_non_null(strstr(a.body, "\"vrf_table\":100"));
    /* the export applies back unchanged */
    static char doc[65536];
    call("GET", "/api/v1/workspaces/fab/intent", ADMIN, NULL, NN_LISTENER_API, &a);
    snprintf(doc, sizeof(doc), "%s", a.body);
    call("PUT", "/api/v1/workspaces/fab/intent", ADMIN, doc, NN_LISTENER_API, &a);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, "\"changed\":[]"));
    assert_non_null(strstr(a.body, "\"created\":[]"));
    call("DELETE", "/api/v1/workspaces/fab", ADMIN, NULL, NN_LISTENER_API, &a);
}

/* Admission runs everything but the handler and the body, against the
 * length the client declared. */
static void test_admission(void **state)
{
    (void)state;
    char auth[128];
    snprintf(auth, sizeof(auth), "Bearer %s", g_token[VIEWER]);
    nn_api_request req = {.method = "PUT",
                          .target = "/api/v1/workspaces/ws-a/networks/corp/peers/p1",
                          .authorization = auth,
                          .content_length = 100};
    nn_api_response resp;
    size_t max = 0;
    nn_api_response_init(&resp);
    assert_false(nn_api_admit(g_api, g_store, &req, &resp, &max));
    assert_int_equal(resp.status, 403); /* known before any byte of the body */
    nn_api_response_free(&resp);
    snprintf(auth, sizeof(auth), "Bearer %s", g_token[OPERATOR]);
    nn_api_response_init(&resp);
    assert_true(nn_api_admit(g_api, g_store, &req, &resp, &max));
    assert_int_equal(max, 1u << 20);
    nn_api_response_free(&resp);
    req.content_length = (2u << 20);
    nn_api_response_init(&resp);
    assert_false(nn_api_admit(g_api, g_store, &req, &resp, &max));
    assert_int_equal(resp.status, 413);
    nn_api_response_free(&resp);
    req.authorization = NULL;
    nn_api_response_init(&resp);
    assert_false(nn_api_admit(g_api, g_store, &req, &resp, &max));
    assert_int_equal(resp.status, 401);
    nn_api_response_free(&resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isolation_matrix),
        cmocka_unit_test(test_platform_routes),
        cmocka_unit_test(test_member_owns_devices),
        cmocka_unit_test(test_router_answers),
        cmocka_unit_test(test_admission),
        cmocka_unit_test(test_intent_duplicates),
        cmocka_unit_test(test_etags),
        cmocka_unit_test(test_install_wide_prefixes),
        cmocka_unit_test(test_vrf_tables_stay),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
