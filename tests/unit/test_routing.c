/* Routing ids, VIPs, federation and host artifacts: allocator properties
 * (range, determinism, lowest-unused, exhaustion, collisions, stability),
 * failover order, and byte stability of the whole fabric example. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "alloc/alloc.h"
#include "compile/compile.h"
#include "compile/host.h"
#include "testutil.h"

static void test_as_numbers_are_private_and_stable(void **state)
{
    (void)state;
    uint32_t seen[200];
    for (unsigned i = 0; i < 200; i++) {
        char name[16];
        snprintf(name, sizeof(name), "ws-%u", i);
        uint32_t as = nn_alloc_as_number(name);
        assert_true(as >= 4200000000u && as <= 4294967294u);
        assert_int_equal(as, nn_alloc_as_number(name));
        seen[i] = as;
    }
    unsigned distinct = 0;
    for (unsigned i = 0; i < 200; i++) {
        bool dup = false;
        for (unsigned j = 0; j < i; j++)
            dup = dup || seen[j] == seen[i];
        distinct += !dup;
    }
    assert_true(distinct >= 199); /* 200 draws from 95 million */
}

static void test_table_ids_lowest_unused_skip_reserved_and_exhaust(void **state)
{
    (void)state;
    uint32_t t;
    assert_int_equal(nn_alloc_table_id(NULL, 0, &t), 0);
    assert_int_equal(t, 100);
    uint32_t used[] = {100, 101, 103};
    assert_int_equal(nn_alloc_table_id(used, 3, &t), 0);
    assert_int_equal(t, 102);
    /* 100..252 taken: the next is 256, never 253/254/255 */
    uint32_t *many = malloc(65536 * sizeof(uint32_t));
    size_t n = 0;
    for (uint32_t v = 100; v <= 252; v++)
        many[n++] = v;
    assert_int_equal(nn_alloc_table_id(many, n, &t), 0);
    assert_int_equal(t, 256);
    for (uint32_t v = 256; v <= 65535; v++)
        many[n++] = v;
    assert_int_equal(nn_alloc_table_id(many, n, &t), -ENOSPC);
    free(many);
    uint32_t ids[] = {1, 2, 4};
    assert_int_equal(nn_alloc_short_id(ids, 3, 4095, &t), 0);
    assert_int_equal(t, 3);
    uint32_t full[] = {1, 2};
    assert_int_equal(nn_alloc_short_id(full, 2, 2, &t), -ENOSPC);
}

static void test_router_ids_derive_from_the_address_and_bump_on_collision(void **state)
{
    (void)state;
    nn_prefix a;
    const char *why;
    assert_int_equal(nn_prefix_parse("fd00:1:2:3:4:5:6:7/128", true, false, &a, &why), 0);
    uint8_t r0[4], r0b[4], r1[4];
    nn_alloc_router_id(&a, 0, r0);
    nn_alloc_router_id(&a, 0, r0b);
    nn_alloc_router_id(&a, 1, r1);
    assert_memory_equal(r0, r0b, 4);
    assert_memory_not_equal(r0, r1, 4);
    assert_false(r0[0] == 0 && r0[1] == 0 && r0[2] == 0 && r0[3] == 0);
}

/* A network of n spokes on their own hosts plus hub "h" on host "edge". */
static json_t *ibgp_net(const char *name, unsigned seed, unsigned n)
{
    json_t *net = json_pack("{s:s, s:s}", "name", name, "routing_mode", "ibgp");
    json_t *peers = json_array();
    /* host "edge" is one node (one key) with an interface per iBGP
     * network, each on a port of its own */
    json_t *hub = tu_peer("h", 999, true);
    unsigned port = 51820 + seed / 100;
    char ep[32];
    snprintf(ep, sizeof(ep), "192.0.2.250:%u", port);
    json_object_set_new(hub, "host", json_string("edge"));
    json_object_set_new(hub, "listen_port", json_integer(port));
    json_object_set_new(hub, "endpoint", json_string(ep));
    char pname[64];
    snprintf(pname, sizeof(pname), "%s-hub", name);
    json_object_set_new(hub, "name", json_string(pname));
    json_array_append_new(peers, hub);
    for (unsigned i = 0; i < n; i++) {
        snprintf(pname, sizeof(pname), "%s-s%u", name, i);
        json_array_append_new(peers, tu_peer(pname, seed + 1 + i, false));
    }
    json_object_set_new(net, "peers", peers);
    return net;
}

static json_t *fabric_doc(const char *const *nets, size_t n, json_t *hosts)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, ibgp_net(nets[i], 100 * (unsigned)(i + 1), 2));
    json_t *ws =
        json_pack("{s:s, s:{s:b}, s:o}", "name", "ws", "bgp", "enabled", 1, "networks", arr);
    if (hosts)
        json_object_set_new(ws, "hosts", hosts);
    return json_pack("{s:[o]}", "workspaces", ws);
}

static uint32_t table_of(const nn_doc *doc, const char *host, const char *net)
{
    const nn_workspace *ws = &doc->workspaces[0];
    const nn_host *h = nn_workspace_find_host(ws, host);
    assert_non_null(h);
    const nn_vrf *v = nn_host_find_vrf(h, nn_workspace_find_network(ws, net));
    assert_non_null(v);
    assert_true(strlen(v->name) <= 15);
    return v->table_id;
}

static void test_vrf_tables_per_host_are_stable_with_pins(void **state)
{
    (void)state;
    nn_error err;
    const char *three[] = {"alpha", "beta", "gamma"};
    json_t *j3 = fabric_doc(three, 3, NULL);
    nn_doc *doc = tu_load(j3, &err);
    json_decref(j3);
    assert_non_null(doc);
    assert_int_equal(table_of(doc, "edge", "alpha"), 100);
    assert_int_equal(table_of(doc, "edge", "beta"), 101);
    assert_int_equal(table_of(doc, "edge", "gamma"), 102);
    /* spokes have hosts of their own: each starts at 100 */
    assert_int_equal(table_of(doc, "gamma-s1", "gamma"), 100);
    nn_doc_free(doc);

    /* The server persists what was assigned and hands it back as pins:
     * removing beta then moves nobody, and a newcomer takes the gap. */
    const char *two[] = {"alpha", "delta", "gamma"};
    json_t *hosts = json_pack("[{s:s, s:[{s:s,s:i},{s:s,s:i},{s:s,s:i}]}]", "name", "edge", "vrfs",
                              "network", "alpha", "table_id", 100, "network", "beta", "table_id",
                              101, "network", "gamma", "table_id", 102);
    /* beta is gone from the networks; its pin goes with it */
    json_array_remove(json_object_get(json_array_get(hosts, 0), "vrfs"), 1);
    json_t *j2 = fabric_doc(two, 3, json_deep_copy(hosts));
    doc = tu_load(j2, &err);
    json_decref(j2);
    assert_non_null(doc);
    assert_int_equal(table_of(doc, "edge", "alpha"), 100);
    assert_int_equal(table_of(doc, "edge", "gamma"), 102);
    assert_int_equal(table_of(doc, "edge", "delta"), 101);
    /* idempotent: the same input twice gives the same assignment */
    j2 = fabric_doc(two, 3, hosts);
    nn_doc *again = tu_load(j2, &err);
    json_decref(j2);
    assert_int_equal(table_of(again, "edge", "delta"), 101);
    nn_doc_free(again);
    nn_doc_free(doc);
}

static void test_two_peers_of_one_network_on_one_host_are_rejected(void **state)
{
    (void)state;
    const char *one[] = {"alpha"};
    json_t *j = fabric_doc(one, 1, NULL);
    json_t *peers = json_object_get(
        json_array_get(
            json_object_get(json_array_get(json_object_get(j, "workspaces"), 0), "networks"), 0),
        "peers");
    json_object_set_new(json_array_get(peers, 1), "host", json_string("edge"));
    char *text = json_dumps(j, JSON_COMPACT);
    tu_expect_reject(text, "workspaces[0].networks[0].peers[1].host", "already runs peer");
    free(text);
    json_decref(j);
}

static void test_vip_failover_moves_to_the_next_healthy_holder(void **state)
{
    (void)state;
    nn_member a = {.name = "a"}, b = {.name = "b"}, c = {.name = "c"};
    const nn_member *holders[] = {&a, &b, &c};
    nn_vip v = {.name = "v", .holders = holders, .nholders = 3, .active = 0, .enabled = true};
    assert_int_equal(nn_vip_failover(&v, NULL, 0), 0);
    const char *down_a[] = {"a"};
    assert_int_equal(nn_vip_failover(&v, down_a, 1), 1);
    const char *down_ab[] = {"b", "a"};
    assert_int_equal(nn_vip_failover(&v, down_ab, 2), 2);
    v.active = 2; /* now on c: c fails -> wraps to a */
    const char *down_c[] = {"c"};
    assert_int_equal(nn_vip_failover(&v, down_c, 1), 0);
    const char *all[] = {"a", "b", "c"};
    assert_int_equal(nn_vip_failover(&v, all, 3), -1);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static char *compile_everything(const nn_doc *doc, const uint8_t *sk)
{
    nn_buf out = NN_BUF_INIT;
    for (size_t w = 0; w < doc->nworkspaces; w++) {
        const nn_workspace *ws = &doc->workspaces[w];
        for (size_t h = 0; h < ws->nhosts; h++)
            nn_host_compile(ws, &ws->hosts[h], &out);
        for (size_t n = 0; n < ws->nnetworks; n++) {
            nn_net_plan *plan;
            assert_int_equal(nn_compile_plan_new(&ws->networks[n], &plan), 0);
            nn_compile_plan_set_signing_key(plan, sk);
            nn_compile_for_network(plan, &out);
            nn_compile_plan_free(plan);
        }
    }
    return nn_buf_steal(&out);
}

static void test_fabric_is_byte_stable_under_shuffled_input(void **state)
{
    (void)state;
    uint8_t seed[32] = {1, 2, 3}, pk[32], sk[64];
    crypto_sign_seed_keypair(pk, sk, seed);
    json_error_t je;
    json_t *j = json_loads(read_file(NN_SOURCE_DIR "/examples/fabric.json"), 0, &je);
    assert_non_null(j);
    nn_error err;
    nn_doc *doc = tu_load(j, &err);
    assert_non_null(doc);
    char *ref = compile_everything(doc, sk);
    assert_non_null(strstr(ref, "router bgp"));
    assert_non_null(strstr(ref, "acl-add"));
    assert_non_null(strstr(ref, "\"mc_envelope\":{\"alg\":\"ed25519\""));
    nn_doc_free(doc);
    for (int t = 0; t < 10; t++) {
        /* holders, statements and port addresses are ordered by the
         * operator; every other array may come in any order */
        static const char *const ordered[] = {"holders", "statements", "addresses", NULL};
        tu_shuffle(j, ordered);
        doc = tu_load(j, &err);
        assert_non_null(doc);
        char *again = compile_everything(doc, sk);
        assert_string_equal(again, ref);
        free(again);
        nn_doc_free(doc);
    }
    free(ref);
    json_decref(j);
}

static void test_only_accepted_federation_contributes(void **state)
{
    (void)state;
    json_t *net = json_pack("{s:s, s:[o,o]}", "name", "net", "peers", tu_peer("hub", 1, true),
                            tu_peer("spoke", 2, false));
    json_t *doc_j = tu_doc_one_network(net);
    json_t *ws = json_array_get(json_object_get(doc_j, "workspaces"), 0);
    json_object_set_new(ws, "federation_peers",
                        json_pack("[{s:s,s:s,s:[s]},{s:s,s:s,s:[s]},{s:s,s:s,s:[s,s]}]", "name",
                                  "p", "status", "proposed", "remote_prefixes", "172.29.0.0/16",
                                  "name", "r", "status", "revoked", "remote_prefixes",
                                  "172.28.0.0/16", "name", "a", "status", "accepted",
                                  "remote_prefixes", "172.31.0.0/16", "172.30.0.0/16"));
    nn_error err;
    nn_doc *doc = tu_load(doc_j, &err);
    assert_non_null(doc);
    char *env = tu_envelope(doc, "ws", "net", "spoke");
    assert_non_null(strstr(env, "\"federation\":[{\"prefix\":\"172.30.0.0/16\",\"via\":[\"a\"]},"
                                "{\"prefix\":\"172.31.0.0/16\",\"via\":[\"a\"]}]"));
    assert_null(strstr(env, "172.29."));
    assert_null(strstr(env, "172.28."));
    /* the spoke sends federated traffic to the hub */
    json_error_t je;
    json_t *e = json_loads(env, 0, &je);
    json_t *ips = json_object_get(json_array_get(json_object_get(e, "peers"), 0), "allowed_ips");
    bool has = false;
    for (size_t i = 0; i < json_array_size(ips); i++)
        has = has || !strcmp(json_string_value(json_array_get(ips, i)), "172.30.0.0/16");
    assert_true(has);
    json_decref(e);
    free(env);
    /* the hub does not send it back into the tunnel */
    env = tu_envelope(doc, "ws", "net", "hub");
    e = json_loads(env, 0, &je);
    char *hub_peers = json_dumps(json_object_get(e, "peers"), 0);
    assert_null(strstr(hub_peers, "172.30."));
    free(hub_peers);
    json_decref(e);
    free(env);
    nn_doc_free(doc);
    json_decref(doc_j);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_as_numbers_are_private_and_stable),
        cmocka_unit_test(test_table_ids_lowest_unused_skip_reserved_and_exhaust),
        cmocka_unit_test(test_router_ids_derive_from_the_address_and_bump_on_collision),
        cmocka_unit_test(test_vrf_tables_per_host_are_stable_with_pins),
        cmocka_unit_test(test_two_peers_of_one_network_on_one_host_are_rejected),
        cmocka_unit_test(test_vip_failover_moves_to_the_next_healthy_holder),
        cmocka_unit_test(test_fabric_is_byte_stable_under_shuffled_input),
        cmocka_unit_test(test_only_accepted_federation_contributes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
