/* The incremental write path (src/api/incremental.c) against full
 * validation, as a property over random edits: two nanamids on two real
 * SQLite databases get the same random requests -- one decides plain
 * member writes incrementally, the other validates the whole workspace
 * every time -- and must give every request the same status and end with
 * byte-identical workspaces (allocations included). The edits are chosen
 * to collide: names shared by peers and devices, a small pool of keys,
 * pinned addresses (inside, outside, on the network and broadcast
 * address), a /27 that runs full, references from rules and VIPs, hubs
 * and gateways, subnets, a network moved to another range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "api/api.h"

#define SEEDS 12
#define EDITS 400

typedef struct side {
    nn_api *api;
    nn_store *store;
    char auth[96];
} side;

static side g_side[2]; /* [0] incremental, [1] full validation only */
static char g_keys[24][45];

static int call(side *s, const char *method, const char *target, const char *body, char *out,
                size_t outlen)
{
    nn_api_request req = {.method = method,
                          .target = target,
                          .authorization = s->auth,
                          .body = body,
                          .body_len = body ? strlen(body) : 0};
    nn_api_response resp;
    nn_api_response_init(&resp);
    nn_api_handle(s->api, s->store, &req, &resp);
    if (out)
        snprintf(out, outlen, "%.*s", (int)resp.body.len, resp.body.data ? resp.body.data : "");
    int status = resp.status;
    nn_api_response_free(&resp);
    return status;
}

static void open_side(side *s, bool incremental)
{
    char token[NN_API_TOKEN_LEN];
    assert_int_equal(nn_api_new(&s->api), 0);
    assert_int_equal(nn_store_open(":memory:", &s->store), 0);
    assert_int_equal(nn_api_init_install(s->store, "fd12:3456:7800::/40", token), 0);
    snprintf(s->auth, sizeof(s->auth), "Bearer %s", token);
    nn_api_set_incremental(s->api, incremental);
}

static void close_side(side *s)
{
    nn_store_close(s->store);
    nn_api_free(s->api);
}

/* Both sides answer alike, or the test fails naming the request. */
static int both(const char *method, const char *target, const char *body)
{
    static char a[8192], b[8192];
    int sa = call(&g_side[0], method, target, body, a, sizeof(a));
    int sb = call(&g_side[1], method, target, body, b, sizeof(b));
    if (sa != sb)
        fail_msg("%s %s %s: incremental %d %s / full %d %s", method, target, body ? body : "", sa,
                 a, sb, b);
    return sa;
}

static void same_workspace(int seed, int edit)
{
    static char a[1 << 20], b[1 << 20];
    call(&g_side[0], "GET", "/api/v1/workspaces/w/intent", NULL, a, sizeof(a));
    call(&g_side[1], "GET", "/api/v1/workspaces/w/intent", NULL, b, sizeof(b));
    if (strcmp(a, b) != 0)
        fail_msg("seed %d, edit %d: the workspaces differ:\n%.2000s\n---\n%.2000s", seed, edit, a,
                 b);
}

static unsigned rnd(unsigned *state, unsigned n)
{
    *state = *state * 1103515245u + 12345u;
    return (*state >> 8) % n;
}

static const char *const names[] = {"s0", "s1",  "s2",  "s3",  "s4",  "s5",  "s6",  "s7", "s8",
                                    "s9", "s10", "s11", "s12", "s13", "s14", "s15", "d0", "d1",
                                    "d2", "d3",  "h1",  "x0",  "x1",  "x2",  "x3",  "x4"};
#define NNAMES (sizeof(names) / sizeof(names[0]))

/* A random peer or device body: mostly plain, sometimes not, sometimes
 * invalid. */
static void member_body(unsigned *st, bool device, char *out, size_t len)
{
    size_t o = (size_t)snprintf(out, len, "{\"public_key\":\"%s\"", g_keys[rnd(st, 24)]);
    unsigned pick = rnd(st, 20);
    if (pick < 5) /* an address of its own: in the /27, on its edges, or outside */
        o += (size_t)snprintf(out + o, len - o, ",\"ipv4\":\"10.9.0.%u\"", rnd(st, 40));
    if (rnd(st, 3) == 0)
        o += (size_t)snprintf(out + o, len - o, ",\"tags\":[\"%s\"]", rnd(st, 2) ? "web" : "s3");
    if (device) {
        if (rnd(st, 2))
            o += (size_t)snprintf(out + o, len - o, ",\"owner\":\"admin\"");
        if (rnd(st, 8) == 0)
            o += (size_t)snprintf(out + o, len - o,
                                  ",\"routing_preference\":{\"traffic_mode\":\"full_tunnel\"}");
    } else {
        if (rnd(st, 6) == 0)
            o += (size_t)snprintf(out + o, len - o, ",\"endpoint\":\"%s\"",
                                  rnd(st, 2) ? "198.51.100.7:51820" : "nope");
        if (rnd(st, 10) == 0)
            o += (size_t)snprintf(
                out + o, len - o,
                ",\"publicly_reachable\":true,\"endpoint\":\"198.51.100.9:51820\"");
        if (rnd(st, 12) == 0)
            o += (size_t)snprintf(out + o, len - o, ",\"lan_subnets\":[\"192.168.%u.0/24\"]",
                                  rnd(st, 3));
        if (rnd(st, 15) == 0)
            o += (size_t)snprintf(out + o, len - o, ",\"host\":\"%s\"", names[rnd(st, NNAMES)]);
    }
    if (pick == 19)
        o += (size_t)snprintf(out + o, len - o, ",\"colour\":\"red\"");
    snprintf(out + o, len - o, "}");
}

static void one_edit(unsigned *st)
{
    char target[256], body[512];
    const char *name = names[rnd(st, NNAMES)];
    const char *net = rnd(st, 5) ? "n1" : "n2";
    unsigned what = rnd(st, 100);
    if (what < 40) {
        snprintf(target, sizeof(target), "/api/v1/workspaces/w/networks/%s/peers/%s", net, name);
        member_body(st, false, body, sizeof(body));
        both("PUT", target, body);
    } else if (what < 60) {
        snprintf(target, sizeof(target), "/api/v1/workspaces/w/networks/%s/devices/%s", net, name);
        member_body(st, true, body, sizeof(body));
        both("PUT", target, body);
    } else if (what < 80) {
        snprintf(target, sizeof(target), "/api/v1/workspaces/w/networks/%s/%s/%s", net,
                 rnd(st, 2) ? "peers" : "devices", name);
        both("DELETE", target, NULL);
    } else if (what < 86) { /* a rule that names a member */
        snprintf(target, sizeof(target), "/api/v1/workspaces/w/networks/%s/firewall_rules/r%u", net,
                 rnd(st, 3));
        snprintf(body, sizeof(body),
                 "{\"action\":\"accept\",\"protocol\":\"tcp\",\"ports\":[22],\"destination\":"
                 "{\"peer\":\"%s\"}}",
                 name);
        both("PUT", target, body);
    } else if (what < 90) {
        snprintf(target, sizeof(target), "/api/v1/workspaces/w/networks/n1/firewall_rules/r%u",
                 rnd(st, 3));
        both("DELETE", target, NULL);
    } else if (what < 95) { /* a virtual IP inside the range, held by a member */
        snprintf(target, sizeof(target), "/api/v1/workspaces/w/networks/n1/virtual_ips/v%u",
                 rnd(st, 2));
        snprintf(body, sizeof(body), "{\"address\":\"10.9.0.%u/32\",\"holders\":[\"%s\"]}",
                 rnd(st, 32), name);
        both("PUT", target, body);
    } else if (what < 98) {
        snprintf(target, sizeof(target), "/api/v1/workspaces/w/networks/n1/virtual_ips/v%u",
                 rnd(st, 2));
        both("DELETE", target, NULL);
    } else { /* the network moves: every member's address is chosen again */
        snprintf(body, sizeof(body), "{\"ipv4_cidr\":\"%s\"}",
                 rnd(st, 2) ? "10.9.0.0/27" : "10.9.0.0/26");
        both("PUT", "/api/v1/workspaces/w/networks/n1", body);
    }
}

static void test_incremental_matches_full(void **state)
{
    (void)state;
    unsigned long total_incremental = 0, total = 0, committed = 0;
    for (int seed = 1; seed <= SEEDS; seed++) {
        open_side(&g_side[0], true);
        open_side(&g_side[1], false);
        assert_int_equal(both("POST", "/api/v1/workspaces", "{\"name\":\"w\"}"), 201);
        assert_int_equal(both("POST", "/api/v1/workspaces/w/networks",
                              "{\"name\":\"n1\",\"ipv4_cidr\":\"10.9.0.0/27\"}"),
                         201);
        assert_int_equal(both("POST", "/api/v1/workspaces/w/networks", "{\"name\":\"n2\"}"), 201);
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"public_key\":\"%s\",\"publicly_reachable\":true,\"endpoint\":"
                 "\"198.51.100.1:51820\",\"roles\":[\"exit_gateway\"]}",
                 g_keys[0]);
        assert_int_equal(both("PUT", "/api/v1/workspaces/w/networks/n1/peers/h1", body), 201);
        unsigned st = (unsigned)seed * 2654435761u;
        for (int e = 0; e < EDITS; e++) {
            one_edit(&st);
            total++;
            if (e % 25 == 24)
                same_workspace(seed, e);
        }
        same_workspace(seed, EDITS);
        nn_api_stats a, b;
        nn_api_stats_get(g_side[0].api, &a);
        nn_api_stats_get(g_side[1].api, &b);
        assert_int_equal(b.writes_incremental, 0);
        assert_int_equal(a.writes_incremental + a.writes_full, b.writes_full);
        total_incremental += a.writes_incremental;
        committed += b.writes_full;
        close_side(&g_side[0]);
        close_side(&g_side[1]);
    }
    print_message("%lu random edits, %lu committed, %lu of them incrementally: the same answers "
                  "and the same workspaces as full validation\n",
                  total, committed, total_incremental);
    /* the incremental path must have been exercised, not merely declined */
    assert_true(total_incremental > committed / 4);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    for (int i = 0; i < 24; i++) {
        uint8_t k[32];
        randombytes_buf(k, sizeof(k));
        sodium_bin2base64(g_keys[i], sizeof(g_keys[i]), k, sizeof(k),
                          sodium_base64_VARIANT_ORIGINAL);
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_incremental_matches_full)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
