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
#include "api/wscache.h"

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

/* Two nanamids on one database. One caches workspace A; the other
 * deletes A and makes B, which SQLite gives A's id (the highest, freed)
 * and whose version starts again at 0. Once B's version reaches the one
 * the first cached for A, its snapshot must still be B's -- never A's rows
 * (their ids may be another tenant's by then). */
static void test_a_reused_id_is_another_workspace(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_write.XXXXXX", db[64], token[NN_API_TOKEN_LEN];
    assert_non_null(mkdtemp(dir));
    snprintf(db, sizeof(db), "%s/db.sqlite", dir);
    side p[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(nn_api_new(&p[i].api), 0);
        assert_int_equal(nn_store_open(db, &p[i].store), 0);
    }
    assert_int_equal(nn_api_init_install(p[0].store, NULL, token), 0);
    for (int i = 0; i < 2; i++)
        snprintf(p[i].auth, sizeof(p[i].auth), "Bearer %s", token);
    char body[256], out[4096];
    assert_int_equal(call(&p[0], "POST", "/api/v1/workspaces", "{\"name\":\"a\"}", NULL, 0), 201);
    assert_int_equal(
        call(&p[0], "POST", "/api/v1/workspaces/a/networks", "{\"name\":\"n\"}", NULL, 0), 201);
    for (int i = 0; i < 3; i++) { /* a's rows, a's version 4, cached by p[1] */
        snprintf(body, sizeof(body), "{\"public_key\":\"%.44s\"}", g_keys[i]);
        char t[128];
        snprintf(t, sizeof(t), "/api/v1/workspaces/a/networks/n/peers/secret-%d", i);
        assert_int_equal(call(&p[1], "PUT", t, body, NULL, 0), 201);
    }
    assert_int_equal(call(&p[0], "DELETE", "/api/v1/workspaces/a", NULL, NULL, 0), 200);
    assert_int_equal(call(&p[0], "POST", "/api/v1/workspaces", "{\"name\":\"b\"}", NULL, 0), 201);
    assert_int_equal(
        call(&p[0], "POST", "/api/v1/workspaces/b/networks", "{\"name\":\"n\"}", NULL, 0), 201);
    for (int i = 0; i < 6; i++) { /* b's version passes a's */
        snprintf(body, sizeof(body), "{\"public_key\":\"%.44s\"}", g_keys[10 + i]);
        char t[128];
        snprintf(t, sizeof(t), "/api/v1/workspaces/b/networks/n/peers/b-%d", i);
        int st = call(i % 2 ? &p[1] : &p[0], "PUT", t, body, out, sizeof(out));
        if (st != 201)
            fail_msg("b-%d: %d %s", i, st, out);
    }
    call(&p[1], "GET", "/api/v1/workspaces/b/intent", NULL, out, sizeof(out));
    if (strstr(out, "secret-"))
        fail_msg("b holds a's rows: %s", out);
    for (int i = 0; i < 2; i++) {
        nn_store_close(p[i].store);
        nn_api_free(p[i].api);
    }
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* A state that is only ever edited must not grow by every delete: once a
 * write is published (renumbered), removed rows leave no holes, and every
 * row -- networks, their members, the ones not stored yet -- is still
 * found where it is. */
static void test_deletes_leave_no_holes(void **state)
{
    (void)state;
    side s;
    open_side(&s, true);
    assert_int_equal(call(&s, "POST", "/api/v1/workspaces", "{\"name\":\"w\"}", NULL, 0), 201);
    for (int k = 0; k < 3; k++) {
        char t[128], body[96];
        snprintf(t, sizeof(t), "/api/v1/workspaces/w/networks");
        snprintf(body, sizeof(body), "{\"name\":\"n%d\"}", k);
        assert_int_equal(call(&s, "POST", t, body, NULL, 0), 201);
        for (int i = 0; i < 6; i++) {
            snprintf(t, sizeof(t), "/api/v1/workspaces/w/networks/n%d/peers/p%d", k, i);
            /* peer pI is host pI in every network: one key */
            snprintf(body, sizeof(body), "{\"public_key\":\"%.44s\"}", g_keys[i]);
            assert_int_equal(call(&s, "PUT", t, body, NULL, 0), 201);
        }
    }
    nn_row ws = {0};
    assert_int_equal(nn_store_workspace_find(s.store, "w", &ws), 0);
    nn_wscache *wc;
    assert_int_equal(nn_wscache_new(&wc), 0);
    nn_wsstate *read;
    assert_int_equal(nn_wscache_get(wc, s.store, &ws, &read), 0);
    assert_int_equal(read->live, 21);
    nn_wsstate *st = nn_wsstate_copy(read);
    assert_non_null(st);
    const nn_row *n0 = nn_wsstate_network(st, "n0");
    const nn_row *n2 = nn_wsstate_network(st, "n2");
    assert_non_null(n0);
    assert_non_null(n2);
    int64_t n0_id = n0->id, n2_id = n2->id;
    for (int i = 0; i < 6; i += 2) { /* holes between n2's members */
        char name[8];
        snprintf(name, sizeof(name), "p%d", i);
        nn_wsstate_remove(st, n2_id, "peers", name);
    }
    nn_wsstate_remove(st, 0, "networks", "n1"); /* and its six members */
    nn_row fresh = {.network_id = n0_id, .body = json_object(), .alloc = json_object()};
    snprintf(fresh.kind, sizeof(fresh.kind), "peers");
    snprintf(fresh.name, sizeof(fresh.name), "new");
    assert_int_equal(nn_wsstate_put(st, &fresh), 0);
    assert_int_equal(st->live, 21 - 3 - 7 + 1);
    assert_true(st->nrows > st->live);
    int64_t stored[] = {9999};
    assert_int_equal(nn_wsstate_renumber(st, stored, 1), 0);
    assert_int_equal(st->nrows, st->live);
    assert_int_equal(st->nrows, 12);
    assert_int_equal(st->nnets, 2);
    for (size_t i = 0; i < st->nrows; i++)
        assert_true(st->rows[i].id > 0);
    assert_non_null(nn_wsstate_network_by_id(st, n0_id));
    assert_non_null(nn_wsstate_network_by_id(st, n2_id));
    assert_null(nn_wsstate_network(st, "n1"));
    const nn_row *added = nn_wsstate_find(st, n0_id, "peers", "new");
    assert_non_null(added);
    assert_int_equal(added->id, 9999);
    for (int i = 0; i < 6; i++) {
        char name[8];
        snprintf(name, sizeof(name), "p%d", i);
        assert_non_null(nn_wsstate_find(st, n0_id, "peers", name));
        assert_true((nn_wsstate_find(st, n2_id, "peers", name) != NULL) == (i % 2 == 1));
    }
    assert_int_equal(read->live, 21); /* the state it copied is untouched */
    assert_non_null(nn_wsstate_network(read, "n1"));
    nn_wsstate_release(st);
    nn_wsstate_release(read);
    nn_wscache_free(wc);
    nn_row_clear(&ws);
    close_side(&s);
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
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_incremental_matches_full),
        cmocka_unit_test(test_a_reused_id_is_another_workspace),
        cmocka_unit_test(test_deletes_leave_no_holes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
