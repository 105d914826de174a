/* Gateway assignment (rendezvous hashing with bounded load, pins, down
 * hosts, redundancy) and routing-selection resolution with provenance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc/gateway.h"
#include "testutil.h"

/* nnet networks, each with a peer on every one of the gateway hosts
 * gw-<first>..gw-<first+ngw-1> (hubs with both roles) and one spoke. */
static json_t *fabric(unsigned nnet, unsigned first, unsigned ngw, json_t *assignment)
{
    json_t *nets = json_array();
    for (unsigned n = 0; n < nnet; n++) {
        json_t *peers = json_array();
        for (unsigned g = first; g < first + ngw; g++) {
            char name[16];
            snprintf(name, sizeof(name), "gw-%u", g);
            json_t *p = tu_peer(name, g, true); /* one host: one key everywhere */
            json_object_set_new(p, "roles", json_pack("[ss]", "ingress_gateway", "exit_gateway"));
            json_array_append_new(peers, p);
        }
        json_array_append_new(peers, tu_peer("spoke", 63, false));
        char name[16];
        snprintf(name, sizeof(name), "net-%03u", n);
        json_array_append_new(nets, json_pack("{s:s, s:o}", "name", name, "peers", peers));
    }
    json_t *ws = json_pack("{s:s, s:o}", "name", "acme", "networks", nets);
    if (assignment)
        json_object_set_new(ws, "gateway_assignment", assignment);
    return json_pack("{s:[o]}", "workspaces", ws);
}

/* tu_load, then drops doc_json (it borrows it). */
static nn_doc *load(json_t *doc_json, nn_error *err)
{
    nn_doc *doc = tu_load(doc_json, err);
    json_decref(doc_json);
    return doc;
}

/* The host of each network's first gateway for function f, into hosts. */
static void assign(json_t *doc_json, const char *const *down, size_t ndown, nn_gw_function f,
                   const char **hosts, unsigned nnet)
{
    nn_error err;
    nn_doc *doc = load(doc_json, &err);
    assert_non_null(doc);
    nn_gw_assignment *a;
    assert_int_equal(nn_gateway_assign(&doc->workspaces[0], down, ndown, &a), 0);
    for (unsigned n = 0; n < nnet; n++) {
        assert_true(a[n].fn[f].n >= 1);
        hosts[n] = strdup(a[n].fn[f].peers[0]->host);
    }
    free(a);
    nn_doc_free(doc);
}

static void free_hosts(const char **h, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        free((char *)h[i]);
}

#define NNET 120

static void test_balanced_and_stable_under_churn(void **state)
{
    (void)state;
    const char *base[NNET], *again[NNET], *less[NNET], *more[NNET];
    assign(fabric(NNET, 0, 6, NULL), NULL, 0, NN_GW_FN_INGRESS, base, NNET);
    /* Balanced: no gateway above ceil(1.25 x 120 / 6) = 25. */
    for (unsigned g = 0; g < 6; g++) {
        char name[16];
        snprintf(name, sizeof(name), "gw-%u", g);
        unsigned load = 0;
        for (unsigned n = 0; n < NNET; n++)
            load += strcmp(base[n], name) == 0;
        assert_true(load >= 10 && load <= 25);
    }
    /* Deterministic, whatever the order of the document. */
    json_t *shuffled = fabric(NNET, 0, 6, NULL);
    tu_shuffle(shuffled, NULL);
    assign(shuffled, NULL, 0, NN_GW_FN_INGRESS, again, NNET);
    for (unsigned n = 0; n < NNET; n++)
        assert_string_equal(base[n], again[n]);
    /* gw-2 reported down: its networks move, almost nobody else does. */
    const char *down[] = {"gw-2"};
    assign(fabric(NNET, 0, 6, NULL), down, 1, NN_GW_FN_INGRESS, less, NNET);
    unsigned must = 0, moved_other = 0;
    for (unsigned n = 0; n < NNET; n++) {
        assert_string_not_equal(less[n], "gw-2");
        if (strcmp(base[n], "gw-2") == 0)
            must++;
        else
            moved_other += strcmp(base[n], less[n]) != 0;
    }
    print_message("gateway down: %u networks had to move, %u others moved\n", must, moved_other);
    assert_true(must > 0);
    assert_true(moved_other <= must / 4);
    /* A seventh gateway: it takes about 1/7 of the networks, the rest stay. */
    assign(fabric(NNET, 0, 7, NULL), NULL, 0, NN_GW_FN_INGRESS, more, NNET);
    unsigned to_new = 0, moved_between_old = 0;
    for (unsigned n = 0; n < NNET; n++) {
        if (strcmp(more[n], "gw-6") == 0)
            to_new++;
        else
            moved_between_old += strcmp(base[n], more[n]) != 0;
    }
    print_message("gateway added: %u networks moved to it, %u moved between old ones\n", to_new,
                  moved_between_old);
    assert_true(to_new >= 8 && to_new <= 22);
    assert_true(moved_between_old <= to_new / 4);
    free_hosts(base, NNET), free_hosts(again, NNET), free_hosts(less, NNET), free_hosts(more, NNET);
}

static void test_pins_redundancy_and_manual_mode(void **state)
{
    (void)state;
    json_t *j = fabric(4, 0, 3, json_pack("{s:i}", "redundancy", 2));
    json_t *net0 = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "workspaces"), 0), "networks"), 0);
    json_object_set_new(net0, "routing_policy",
                        json_pack("{s:s, s:s}", "routing_mode", "manual", "ingress", "gw-1"));
    nn_error err;
    nn_doc *doc = load(j, &err);
    assert_non_null(doc);
    const char *down[] = {"gw-1", "gw-0"};
    nn_gw_assignment *a;
    assert_int_equal(nn_gateway_assign(&doc->workspaces[0], down, 2, &a), 0);
    /* The pin holds even with its host down; the exit is not pinned. */
    assert_true(a[0].fn[NN_GW_FN_INGRESS].pinned);
    assert_int_equal(a[0].fn[NN_GW_FN_INGRESS].n, 1);
    assert_string_equal(a[0].fn[NN_GW_FN_INGRESS].peers[0]->name, "gw-1");
    assert_false(a[0].fn[NN_GW_FN_EXIT].pinned);
    /* Only gw-2 is up: redundancy 2 finds one. */
    for (unsigned n = 1; n < 4; n++) {
        assert_int_equal(a[n].fn[NN_GW_FN_INGRESS].n, 1);
        assert_string_equal(a[n].fn[NN_GW_FN_INGRESS].peers[0]->host, "gw-2");
    }
    free(a);
    /* Everything up: two distinct gateways per network. */
    assert_int_equal(nn_gateway_assign(&doc->workspaces[0], NULL, 0, &a), 0);
    for (unsigned n = 1; n < 4; n++) {
        assert_int_equal(a[n].fn[NN_GW_FN_EXIT].n, 2);
        assert_string_not_equal(a[n].fn[NN_GW_FN_EXIT].peers[0]->host,
                                a[n].fn[NN_GW_FN_EXIT].peers[1]->host);
    }
    free(a);
    nn_doc_free(doc);
    /* Manual assignment mode: only pins. */
    doc = load(fabric(2, 0, 3, json_pack("{s:s}", "assignment_mode", "manual")), &err);
    assert_non_null(doc);
    assert_int_equal(nn_gateway_assign(&doc->workspaces[0], NULL, 0, &a), 0);
    assert_int_equal(a[0].fn[NN_GW_FN_INGRESS].n, 0);
    assert_int_equal(a[1].fn[NN_GW_FN_EXIT].n, 0);
    free(a);
    nn_doc_free(doc);
}

static void test_resolution_priority_and_provenance(void **state)
{
    (void)state;
    json_t *j = fabric(1, 0, 3, NULL);
    json_t *net = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "workspaces"), 0), "networks"), 0);
    json_object_set_new(net, "routing_policy",
                        json_pack("{s:s, s:s, s:s}", "routing_mode", "manual", "ingress", "gw-0",
                                  "egress", "gw-0"));
    json_object_set_new(net, "user_routing_preferences",
                        json_pack("[{s:s, s:s, s:s}]", "name", "alice", "traffic_mode",
                                  "full_tunnel", "egress", "gw-1"));
    json_object_set_new(net, "devices",
                        json_pack("[{s:s, s:s, s:s, s:{s:s}}, {s:s, s:s, s:s, s:{s:s}}]", "name",
                                  "laptop", "public_key", tu_key(900), "owner", "alice",
                                  "routing_preference", "egress", "gw-2", "name", "phone",
                                  "public_key", tu_key(901), "owner", "alice", "routing_preference",
                                  "routing_mode", "auto"));
    nn_error err;
    nn_doc *doc = load(j, &err);
    assert_non_null(doc);
    const nn_network *n = &doc->workspaces[0].networks[0];
    nn_gw_assignment *a;
    assert_int_equal(nn_gateway_assign(&doc->workspaces[0], NULL, 0, &a), 0);
    const nn_user_routing *alice = nn_network_find_user_routing(n, "alice");
    assert_non_null(alice);
    nn_selection s;
    /* laptop: mode from the network, traffic from alice, egress from the device. */
    nn_routing_resolve(a, alice, nn_network_find_device(n, "laptop"), &s);
    assert_int_equal(s.routing_mode, NN_SEL_MANUAL);
    assert_int_equal(s.from_routing_mode, NN_FROM_NETWORK);
    assert_int_equal(s.traffic_mode, NN_TRAFFIC_FULL_TUNNEL);
    assert_int_equal(s.from_traffic_mode, NN_FROM_USER);
    assert_string_equal(s.ingress->name, "gw-0");
    assert_int_equal(s.from_ingress, NN_FROM_NETWORK);
    assert_string_equal(s.egress->name, "gw-2");
    assert_int_equal(s.from_egress, NN_FROM_DEVICE);
    /* phone: the device switches to auto: the network's pins are what the
     * scheduler assigns (pinned), the user's egress no longer applies. */
    nn_routing_resolve(a, alice, nn_network_find_device(n, "phone"), &s);
    assert_int_equal(s.routing_mode, NN_SEL_AUTO);
    assert_int_equal(s.from_routing_mode, NN_FROM_DEVICE);
    assert_string_equal(s.egress->name, "gw-0");
    assert_int_equal(s.from_egress, NN_FROM_NETWORK);
    /* a user with no preference and no device: network, then system. */
    nn_routing_resolve(a, NULL, NULL, &s);
    assert_int_equal(s.from_traffic_mode, NN_FROM_SYSTEM);
    assert_int_equal(s.traffic_mode, NN_TRAFFIC_VPN_ONLY);
    assert_string_equal(nn_sel_source_name(s.from_ingress), "network");
    free(a);
    nn_doc_free(doc);
    /* Without a network policy, ingress/egress come from the scheduler. */
    doc = load(fabric(1, 0, 3, NULL), &err);
    assert_int_equal(nn_gateway_assign(&doc->workspaces[0], NULL, 0, &a), 0);
    nn_routing_resolve(a, NULL, NULL, &s);
    assert_int_equal(s.from_routing_mode, NN_FROM_SYSTEM);
    assert_int_equal(s.from_ingress, NN_FROM_ASSIGNMENT);
    assert_non_null(s.ingress);
    free(a);
    nn_doc_free(doc);
}

static void test_routing_rules_are_named(void **state)
{
    (void)state;
    static const char base[] =
        "{\"workspaces\":[{\"name\":\"ws\",\"networks\":[{\"name\":\"net\",%s\"peers\":["
        "{\"name\":\"hub\",\"public_key\":\"%s\",\"publicly_reachable\":true,"
        "\"roles\":[\"ingress_gateway\"],\"allowed_users\":[\"alice\"]},"
        "{\"name\":\"s\",\"public_key\":\"%s\"}]}]}]}";
    char doc[2048];
    snprintf(doc, sizeof(doc), base, "\"routing_policy\":{\"ingress\":\"nope\"},", tu_key(1),
             tu_key(2));
    tu_expect_reject(doc, "workspaces[0].networks[0].routing_policy.ingress", "rule in_network");
    snprintf(doc, sizeof(doc), base, "\"routing_policy\":{\"egress\":\"hub\"},", tu_key(1),
             tu_key(2));
    tu_expect_reject(doc, "workspaces[0].networks[0].routing_policy.egress", "rule gateway_role");
    snprintf(doc, sizeof(doc), base,
             "\"user_routing_preferences\":[{\"name\":\"bob\",\"ingress\":\"hub\"}],", tu_key(1),
             tu_key(2));
    tu_expect_reject(doc, "workspaces[0].networks[0].user_routing_preferences[0].ingress",
                     "rule user_allowed");
    snprintf(doc, sizeof(doc), base, "\"routing_policy\":{\"traffic_mode\":\"everything\"},",
             tu_key(1), tu_key(2));
    tu_expect_reject(doc, "workspaces[0].networks[0].routing_policy.traffic_mode",
                     "vpn_only, full_tunnel");
    snprintf(doc, sizeof(doc), base, "", tu_key(1), tu_key(2));
    char *spoke_ingress = strstr(doc, "\"publicly_reachable\":true,");
    memmove(spoke_ingress, spoke_ingress + 26, strlen(spoke_ingress + 26) + 1);
    tu_expect_reject(doc, "workspaces[0].networks[0].peers[0].roles",
                     "ingress_gateway needs publicly_reachable");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_balanced_and_stable_under_churn),
        cmocka_unit_test(test_pins_redundancy_and_manual_mode),
        cmocka_unit_test(test_resolution_priority_and_provenance),
        cmocka_unit_test(test_routing_rules_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
