/* alloc: deterministic, collision-free, and nobody moves when others come
 * and go. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "alloc/alloc.h"
#include "testutil.h"

static json_t *network_with(size_t n, const char *cidr, const char *prefix)
{
    json_t *peers = json_array();
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "%s-%zu", prefix, i);
        json_array_append_new(peers, tu_peer(name, (unsigned)i + 1, i == 0));
    }
    json_t *net = json_pack("{s:o}", "peers", peers);
    if (cidr)
        json_object_set_new(net, "ipv4_cidr", json_string(cidr));
    return net;
}

static const nn_network *only_net(const nn_doc *doc)
{
    return &doc->workspaces[0].networks[0];
}

static void test_hierarchy_nests_and_is_valid(void **state)
{
    (void)state;
    nn_error err;
    json_t *j = tu_doc_one_network(network_with(200, "10.9.0.0/24", "p"));
    nn_doc *doc = tu_load(j, &err);
    assert_non_null(doc);
    nn_prefix def;
    nn_alloc_default_ula(&def);
    assert_int_equal(def.addr[0], 0xfd);
    assert_int_equal(nn_prefix_cmp(&def, &doc->ula40), 0);
    const nn_workspace *ws = &doc->workspaces[0];
    const nn_network *net = only_net(doc);
    assert_true(nn_prefix_contains(&doc->ula40, &ws->prefix48));
    assert_int_equal(ws->prefix48.len, 48);
    assert_true(nn_prefix_contains(&ws->prefix48, &net->prefix6));
    assert_int_equal(net->prefix6.len, 64);
    assert_true(strlen(net->ifname) <= 15);
    assert_memory_equal(net->ifname, "nn-", 3);
    for (size_t i = 0; i < net->npeers; i++) {
        const nn_member *m = &net->peers[i];
        assert_true(nn_prefix_contains(&net->prefix6, &m->addr6));
        assert_int_equal(m->addr6.len, 128);
        assert_true(nn_prefix_contains(&net->ipv4_cidr, &m->addr4));
        assert_int_not_equal(m->addr4.addr[3], 0);   /* network address */
        assert_int_not_equal(m->addr4.addr[3], 255); /* broadcast */
        for (size_t k = 0; k < i; k++) {
            assert_int_not_equal(nn_prefix_cmp(&m->addr4, &net->peers[k].addr4), 0);
            assert_int_not_equal(nn_prefix_cmp(&m->addr6, &net->peers[k].addr6), 0);
        }
    }
    nn_doc_free(doc);
    json_decref(j);
}

static void test_small_cidr_fills_exactly(void **state)
{
    (void)state;
    nn_error err;
    json_t *j = tu_doc_one_network(network_with(6, "10.9.0.0/29", "p"));
    nn_doc *doc = tu_load(j, &err);
    assert_non_null(doc); /* 6 usable addresses, 6 members */
    nn_doc_free(doc);
    json_decref(j);
    j = tu_doc_one_network(network_with(7, "10.9.0.0/29", "p"));
    assert_null(tu_load(j, &err));
    assert_non_null(strstr(err.msg, "6 usable addresses for 7"));
    json_decref(j);
}

static void test_workspace_space_exhausts_cleanly(void **state)
{
    (void)state;
    json_t *wss = json_array();
    for (int i = 0; i < 257; i++) {
        char name[16];
        snprintf(name, sizeof(name), "w%d", i);
        json_array_append_new(wss, json_pack("{s:s}", "name", name));
    }
    json_t *doc_json = json_pack("{s:o}", "workspaces", wss);
    nn_error err;
    assert_null(tu_load(doc_json, &err));
    assert_non_null(strstr(err.msg, "no free /48"));
    /* 256 fit, all distinct */
    json_array_remove(json_object_get(doc_json, "workspaces"), 0);
    nn_doc *doc = tu_load(doc_json, &err);
    assert_non_null(doc);
    for (size_t i = 1; i < doc->nworkspaces; i++)
        for (size_t k = 0; k < i; k++)
            assert_int_not_equal(nn_prefix_cmp(&doc->workspaces[i].prefix48,
                                               &doc->workspaces[k].prefix48),
                                 0);
    nn_doc_free(doc);
    json_decref(doc_json);
}

typedef struct snapshot {
    char name[32];
    nn_prefix a4, a6;
} snapshot;

static size_t take(const nn_network *net, snapshot *s)
{
    for (size_t i = 0; i < net->npeers; i++) {
        snprintf(s[i].name, sizeof(s[i].name), "%s", net->peers[i].name);
        s[i].a4 = net->peers[i].addr4;
        s[i].a6 = net->peers[i].addr6;
    }
    return net->npeers;
}

/* Compares the members of before with the same-named members of net;
 * returns how many moved (by IPv4), fails on any IPv6 move. */
static size_t moved(const snapshot *before, size_t n, const nn_network *net)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        const nn_member *m = nn_network_find_peer(net, before[i].name);
        if (!m)
            continue;
        assert_int_equal(nn_prefix_cmp(&m->addr6, &before[i].a6), 0);
        if (nn_prefix_cmp(&m->addr4, &before[i].a4) != 0)
            count++;
    }
    return count;
}

static void test_adding_or_removing_moves_nobody(void **state)
{
    (void)state;
    nn_error err;
    static snapshot before[64];
    json_t *j = tu_doc_one_network(network_with(50, "10.30.0.0/16", "site"));
    nn_doc *doc = tu_load(j, &err);
    size_t n = take(only_net(doc), before);
    nn_doc_free(doc);
    json_t *peers = json_object_get(json_array_get(json_object_get(
                                        json_array_get(json_object_get(j, "workspaces"), 0),
                                        "networks"),
                                                   0),
                                    "peers");
    for (int t = 0; t < 100; t++) {
        char name[32];
        snprintf(name, sizeof(name), "new-%d", t);
        json_array_append_new(peers, tu_peer(name, 1000u + (unsigned)t, false));
        doc = tu_load(j, &err);
        assert_non_null(doc);
        assert_int_equal(moved(before, n, only_net(doc)), 0);
        nn_doc_free(doc);
        json_array_remove(peers, json_array_size(peers) - 1);
    }
    /* removing any one member moves none of the others */
    for (size_t r = 0; r < n; r += 7) {
        json_t *removed = json_incref(json_array_get(peers, r));
        json_array_remove(peers, r);
        doc = tu_load(j, &err);
        assert_non_null(doc);
        assert_int_equal(moved(before, n, only_net(doc)), 0);
        nn_doc_free(doc);
        json_array_insert_new(peers, r, removed);
    }
    json_decref(j);
}

/* In a space so small that hash collisions are certain, pinned addresses
 * (what a server persists) still never move. */
static void test_pins_never_move_under_collisions(void **state)
{
    (void)state;
    nn_error err;
    json_t *net = network_with(4, "10.40.0.0/29", "p");
    json_t *peers = json_object_get(net, "peers");
    const char *pins[] = {"10.40.0.1", "10.40.0.2", "10.40.0.3", "10.40.0.4"};
    for (size_t i = 0; i < 4; i++)
        json_object_set_new(json_array_get(peers, i), "ipv4", json_string(pins[i]));
    json_t *j = tu_doc_one_network(net);
    for (int t = 0; t < 2; t++) {
        char name[16];
        snprintf(name, sizeof(name), "a%d", t); /* sorts before every pinned name */
        json_array_append_new(peers, tu_peer(name, 500u + (unsigned)t, false));
    }
    nn_doc *doc = tu_load(j, &err);
    assert_non_null(doc);
    char buf[NN_PREFIX_STRLEN];
    for (size_t i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p-%zu", i);
        const nn_member *m = nn_network_find_peer(only_net(doc), name);
        assert_string_equal(nn_prefix_format(&m->addr4, false, buf), pins[i]);
    }
    /* the newcomers got the two free addresses, .5 and .6 */
    const nn_member *a0 = nn_network_find_peer(only_net(doc), "a0");
    const nn_member *a1 = nn_network_find_peer(only_net(doc), "a1");
    assert_true(a0->addr4.addr[3] >= 5 && a0->addr4.addr[3] <= 6);
    assert_true(a1->addr4.addr[3] >= 5 && a1->addr4.addr[3] <= 6);
    assert_int_not_equal(a0->addr4.addr[3], a1->addr4.addr[3]);
    nn_doc_free(doc);
    json_decref(j);
}

static void test_pinned_prefixes_are_used(void **state)
{
    (void)state;
    nn_error err;
    json_t *net = network_with(2, NULL, "p");
    json_object_set_new(net, "ipv6_prefix", json_string("fd12:3456:789a:1::/64"));
    json_t *j = tu_doc_one_network(net);
    json_object_set_new(j, "ula_prefix", json_string("fd12:3456:7800::/40"));
    nn_doc *doc = tu_load(j, &err);
    assert_non_null(doc);
    char buf[NN_PREFIX_STRLEN];
    assert_string_equal(nn_prefix_format(&only_net(doc)->prefix6, true, buf),
                        "fd12:3456:789a:1::/64");
    assert_string_equal(nn_prefix_format(&doc->ula40, true, buf), "fd12:3456:7800::/40");
    assert_int_equal(only_net(doc)->peers[0].addr4.family, 0); /* no ipv4_cidr, no /32 */
    nn_doc_free(doc);
    json_decref(j);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hierarchy_nests_and_is_valid),
        cmocka_unit_test(test_small_cidr_fills_exactly),
        cmocka_unit_test(test_workspace_space_exhausts_cleanly),
        cmocka_unit_test(test_adding_or_removing_moves_nobody),
        cmocka_unit_test(test_pins_never_move_under_collisions),
        cmocka_unit_test(test_pinned_prefixes_are_used),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
