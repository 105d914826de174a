/* compile/node: a host's node document. One host in two static networks
 * has one interface, one port, one key; a host it meets in both is one
 * WireGuard peer there; the ruleset keeps the networks apart; isolation
 * mode and iBGP networks get interfaces (and VRFs) of their own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "testutil.h"

/* corp (10.1.0.0/24) and lab (10.2.0.0/24): hub gw and branch br in both
 * (br's LAN 192.168.5.0/24 in both), spoke x in corp only, a device in
 * lab. hosts: the workspace's "hosts" (may be NULL); lab_port: gw's and
 * br's listen port in lab (0: the network's). */
static json_t *two_networks(json_t *hosts, unsigned lab_port)
{
    json_t *br[2];
    for (int i = 0; i < 2; i++) {
        br[i] = tu_peer("br", 2, false); /* one host: one key */
        json_object_set_new(br[i], "lan_subnets", json_pack("[s]", "192.168.5.0/24"));
    }
    json_t *gw_lab = tu_peer("gw", 1, true);
    if (lab_port) {
        json_object_set_new(br[1], "listen_port", json_integer(lab_port));
        json_object_set_new(gw_lab, "listen_port", json_integer(lab_port));
    }
    json_t *corp = json_pack("{s:s, s:s, s:[o,o,o]}", "name", "corp", "ipv4_cidr", "10.1.0.0/24",
                             "peers", tu_peer("gw", 1, true), br[0], tu_peer("x", 3, false));
    json_t *lab =
        json_pack("{s:s, s:s, s:[o,o], s:[{s:s,s:s}]}", "name", "lab", "ipv4_cidr", "10.2.0.0/24",
                  "peers", gw_lab, br[1], "devices", "name", "laptop", "public_key", tu_key(9));
    json_t *ws = json_pack("{s:s, s:[o,o]}", "name", "ws", "networks", corp, lab);
    if (hosts)
        json_object_set_new(ws, "hosts", hosts);
    return json_pack("{s:[o]}", "workspaces", ws);
}

static nn_doc *load(json_t *j)
{
    nn_error err = {{0}, {0}};
    nn_doc *doc = tu_load(j, &err);
    if (!doc)
        fail_msg("%s: %s", err.path, err.msg);
    json_decref(j);
    return doc;
}

static json_t *node(const nn_doc *doc, const char *host)
{
    char *text = tu_node(doc, "ws", host);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    assert_non_null(j);
    /* canonical: re-serialised with sorted keys, the same bytes */
    char *again = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(again, text);
    free(again);
    free(text);
    return j;
}

static json_t *peer_named(json_t *iface, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(iface, "peers"), i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0)
            return p;
    }
    return NULL;
}

static bool has_string(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static void test_one_interface_for_the_static_networks(void **state)
{
    (void)state;
    nn_doc *doc = load(two_networks(NULL, 0));
    const nn_host *gwh = nn_workspace_find_host(&doc->workspaces[0], "gw");
    json_t *gw = node(doc, "gw");
    json_t *ifs = json_object_get(gw, "interfaces");
    assert_int_equal(json_array_size(ifs), 1);
    json_t *in = json_array_get(ifs, 0);
    assert_string_equal(json_string_value(json_object_get(in, "name")), gwh->ifname);
    assert_int_equal(json_integer_value(json_object_get(in, "listen_port")), 51820);
    json_t *nets = json_object_get(in, "networks");
    assert_int_equal(json_array_size(nets), 2);
    assert_true(has_string(nets, "corp") && has_string(nets, "lab"));
    /* br is in both networks: one peer, both networks' addresses and its
     * LAN once */
    assert_int_equal(json_array_size(json_object_get(in, "peers")), 3); /* br, laptop, x */
    json_t *br = peer_named(in, "br");
    assert_non_null(br);
    assert_string_equal(json_string_value(json_object_get(br, "public_key")), tu_key(2));
    json_t *ips = json_object_get(br, "allowed_ips");
    assert_int_equal(json_array_size(ips), 5); /* 2 x (/32, /128) + the LAN */
    assert_true(has_string(ips, "192.168.5.0/24"));
    assert_non_null(peer_named(in, "laptop"));
    assert_int_equal(json_array_size(json_object_get(in, "addresses")), 4);
    assert_string_equal(json_string_value(json_object_get(gw, "public_key")), tu_key(1));
    assert_int_equal(json_array_size(json_object_get(gw, "memberships")), 2);

    /* the branch: one peer (the hub), carrying both networks' ranges */
    json_t *b = node(doc, "br");
    in = json_array_get(json_object_get(b, "interfaces"), 0);
    assert_int_equal(json_array_size(json_object_get(b, "interfaces")), 1);
    assert_int_equal(json_array_size(json_object_get(in, "peers")), 1);
    json_t *hub = peer_named(in, "gw");
    assert_non_null(hub);
    ips = json_object_get(hub, "allowed_ips");
    assert_true(has_string(ips, "10.1.0.0/24") && has_string(ips, "10.2.0.0/24"));
    assert_false(has_string(ips, "192.168.5.0/24")); /* its own LAN stays home */
    assert_int_equal(json_integer_value(json_object_get(hub, "persistent_keepalive")), 25);
    json_t *routes = json_object_get(in, "routes");
    assert_true(has_string(routes, "10.1.0.0/24") && has_string(routes, "10.2.0.0/24"));
    json_decref(gw);
    json_decref(b);
    nn_doc_free(doc);
}

static void test_the_ruleset_keeps_networks_apart(void **state)
{
    (void)state;
    nn_doc *doc = load(two_networks(NULL, 0));
    const nn_workspace *ws = &doc->workspaces[0];
    const nn_host *gwh = nn_workspace_find_host(ws, "gw");
    json_t *gw = node(doc, "gw");
    const char *rules =
        json_string_value(json_object_get(json_object_get(gw, "firewall"), "ruleset"));
    char line[512], corp[16], lab[16];
    snprintf(corp, sizeof(corp), "fw_%s", nn_workspace_find_network(ws, "corp")->id8);
    snprintf(lab, sizeof(lab), "fw_%s", nn_workspace_find_network(ws, "lab")->id8);
    /* the table is the host's: replaced whole */
    assert_non_null(strstr(rules, "add table inet nanami\ndelete table inet nanami\n"));
    /* forwarding only inside one network (br's LAN is in both) */
    snprintf(line, sizeof(line),
             "iifname \"%s\" ip saddr { 10.1.0.0/24, 192.168.5.0/24 } ip daddr { 10.1.0.0/24, "
             "192.168.5.0/24 } jump %s\n",
             gwh->ifname, corp);
    assert_non_null(strstr(rules, line));
    snprintf(line, sizeof(line),
             "iifname \"%s\" ip saddr { 10.2.0.0/24, 192.168.5.0/24 } ip daddr { 10.2.0.0/24, "
             "192.168.5.0/24 } jump %s\n",
             gwh->ifname, lab);
    assert_non_null(strstr(rules, line));
    snprintf(line, sizeof(line),
             "iifname \"%s\" drop comment \"between networks, or out of the workspace\"",
             gwh->ifname);
    assert_non_null(strstr(rules, line));
    /* input from corp: to the host inside corp, or outside the workspace;
     * never to its address in lab */
    snprintf(line, sizeof(line),
             "iifname \"%s\" ip saddr { 10.1.0.0/24, 192.168.5.0/24 } ip daddr != { 10.1.0.0/24, "
             "10.2.0.0/24, 192.168.5.0/24 } jump %s\n",
             gwh->ifname, corp);
    assert_non_null(strstr(rules, line));
    snprintf(line, sizeof(line),
             "iifname \"%s\" drop comment \"between networks, or a source of no network\"",
             gwh->ifname);
    assert_non_null(strstr(rules, line));
    /* both networks' rule chains */
    snprintf(line, sizeof(line), "  chain %s {\n", corp);
    assert_non_null(strstr(rules, line));
    snprintf(line, sizeof(line), "  chain %s {\n", lab);
    assert_non_null(strstr(rules, line));
    json_decref(gw);
    nn_doc_free(doc);
}

/* A full-tunnel device's egress through an exit gateway: the forward
 * chain lets each family's device addresses out of the workspace, one
 * family per line (the sets were once run together across families). */
static void test_exit_egress_per_family(void **state)
{
    (void)state;
    json_t *hub = tu_peer("gw", 1, true);
    json_object_set_new(hub, "roles", json_pack("[s]", "exit_gateway"));
    json_t *net =
        json_pack("{s:s, s:s, s:[o,o], s:[{s:s, s:s, s:{s:s, s:s, s:s}}]}", "name", "corp",
                  "ipv4_cidr", "10.1.0.0/24", "peers", hub, tu_peer("x", 3, false), "devices",
                  "name", "laptop", "public_key", tu_key(9), "routing_preference", "routing_mode",
                  "manual", "traffic_mode", "full_tunnel", "egress", "gw");
    nn_doc *doc = load(tu_doc_one_network(net));
    char *laptop = tu_envelope(doc, "ws", "corp", "laptop");
    json_t *env = json_loads(laptop, 0, NULL);
    assert_non_null(env);
    const char *a4 = NULL, *a6 = NULL;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(json_object_get(env, "interface"), "addresses"), i, a)
    {
        const char *text = json_string_value(a);
        *(strchr(text, ':') ? &a6 : &a4) = text;
    }
    assert_non_null(a4);
    assert_non_null(a6);
    json_t *gw = node(doc, "gw");
    const char *rules =
        json_string_value(json_object_get(json_object_get(gw, "firewall"), "ruleset"));
    char v4[64], v6[64], line[256];
    snprintf(v4, sizeof(v4), "%.*s", (int)strcspn(a4, "/"), a4);
    snprintf(v6, sizeof(v6), "%.*s", (int)strcspn(a6, "/"), a6);
    snprintf(line, sizeof(line), "ip saddr { %s } ip daddr != ", v4);
    assert_non_null(strstr(rules, line));
    snprintf(line, sizeof(line), "ip6 saddr { %s } ip6 daddr != ", v6);
    assert_non_null(strstr(rules, line));
    assert_null(strstr(rules, "}{"));
    json_decref(gw);
    json_decref(env);
    free(laptop);
    nn_doc_free(doc);
}

static void test_isolation_mode_has_an_interface_per_network(void **state)
{
    (void)state;
    /* the hub meets br in both networks, so it runs them apart too */
    json_t *hosts = json_pack("[{s:s, s:b}, {s:s, s:b}]", "name", "br", "interface_per_network", 1,
                              "name", "gw", "interface_per_network", 1);
    nn_doc *doc = load(two_networks(hosts, 51821));
    const nn_workspace *ws = &doc->workspaces[0];
    json_t *b = node(doc, "br");
    json_t *ifs = json_object_get(b, "interfaces");
    assert_int_equal(json_array_size(ifs), 2);
    uint32_t tables[2];
    for (size_t i = 0; i < 2; i++) {
        json_t *in = json_array_get(ifs, i);
        const char *net = json_string_value(json_array_get(json_object_get(in, "networks"), 0));
        const nn_network *n = nn_workspace_find_network(ws, net);
        assert_string_equal(json_string_value(json_object_get(in, "name")), n->ifname);
        assert_int_equal(json_integer_value(json_object_get(in, "listen_port")),
                         strcmp(net, "lab") == 0 ? 51821 : 51820);
        json_t *vrf = json_object_get(in, "vrf");
        assert_non_null(vrf);
        tables[i] = (uint32_t)json_integer_value(json_object_get(vrf, "table_id"));
        char ruleline[64];
        snprintf(ruleline, sizeof(ruleline), "iifname \"%s\" jump fw_%s", n->ifname, n->id8);
        assert_non_null(
            strstr(json_string_value(json_object_get(json_object_get(b, "firewall"), "ruleset")),
                   ruleline));
    }
    assert_true(tables[0] != tables[1]);
    /* the hub: an interface per network, br once on each */
    json_t *gw = node(doc, "gw");
    json_t *gw_ifs = json_object_get(gw, "interfaces");
    assert_int_equal(json_array_size(gw_ifs), 2);
    for (size_t i = 0; i < 2; i++)
        assert_non_null(peer_named(json_array_get(gw_ifs, i), "br"));
    json_decref(gw);
    json_decref(b);
    nn_doc_free(doc);
}

/* The envelope of each membership and the node document agree on what
 * they share: the node document is the per-network views put together. */
static void test_node_document_matches_the_envelopes(void **state)
{
    (void)state;
    nn_doc *doc = load(two_networks(NULL, 0));
    json_t *gw = node(doc, "gw");
    json_t *in = json_array_get(json_object_get(gw, "interfaces"), 0);
    const char *nets[] = {"corp", "lab"};
    for (size_t n = 0; n < 2; n++) {
        char *text = tu_envelope(doc, "ws", nets[n], "gw");
        json_t *env = json_loads(text, 0, NULL);
        free(text);
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(json_object_get(env, "interface"), "addresses"), i, a)
        {
            assert_true(has_string(json_object_get(in, "addresses"), json_string_value(a)));
        }
        json_t *p;
        json_array_foreach(json_object_get(env, "peers"), i, p)
        {
            const char *name = json_string_value(json_object_get(p, "name"));
            json_t *merged = peer_named(in, name);
            assert_non_null(merged);
            size_t j;
            json_array_foreach(json_object_get(p, "allowed_ips"), j, a)
            {
                assert_true(
                    has_string(json_object_get(merged, "allowed_ips"), json_string_value(a)));
            }
        }
        json_decref(env);
    }
    json_decref(gw);
    nn_doc_free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_interface_for_the_static_networks),
        cmocka_unit_test(test_the_ruleset_keeps_networks_apart),
        cmocka_unit_test(test_exit_egress_per_family),
        cmocka_unit_test(test_isolation_mode_has_an_interface_per_network),
        cmocka_unit_test(test_node_document_matches_the_envelopes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
