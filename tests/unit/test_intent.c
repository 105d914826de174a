/* model/intent: every rejection names the JSON path and the problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "model/intent.h"
#include "testutil.h"

/* Replaces @1@..@9@ with distinct valid keys. Returns a static buffer. */
static const char *with_keys(const char *tmpl)
{
    static char out[8192];
    size_t o = 0;
    for (const char *c = tmpl; *c && o < sizeof(out) - 64; c++) {
        if (c[0] == '@' && c[1] >= '1' && c[1] <= '9' && c[2] == '@') {
            o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", tu_key((unsigned)(c[1] - '0')));
            c += 2;
        } else {
            out[o++] = *c;
        }
    }
    out[o] = '\0';
    return out;
}

#define NET(body) "{\"workspaces\":[{\"name\":\"acme\",\"networks\":[{\"name\":\"corp\"," body "}]}]}"
#define HUB "{\"name\":\"hub\",\"public_key\":\"@1@\",\"publicly_reachable\":true,\"endpoint\":\"192.0.2.1:51820\"}"
#define P(name, k) "{\"name\":\"" name "\",\"public_key\":\"@" #k "@\"}"

typedef struct reject_case {
    const char *doc;
    const char *path;
    const char *msg;
} reject_case;

static const reject_case cases[] = {
    {"", "line 1, column 0", "invalid JSON"},
    {"[1]", "(document)", "must be an object"},
    {"{}", "workspaces", "is required"},
    {"{\"workspaces\":[],\"extra\":1}", "extra", "unknown field"},
    {"{\"workspaces\":[],\"workspaces\":[]}", "line 1, column 29", "duplicate object key"},
    {"{\"workspaces\":[{\"name\":\"a b\"}]}", "workspaces[0].name", "not a valid name"},
    {"{\"workspaces\":[{\"name\":\"a\"},{\"name\":\"a\"}]}", "workspaces[1].name", "duplicate name"},
    {"{\"ula_prefix\":\"fc00::/40\",\"workspaces\":[]}", "ula_prefix", "fd00::/8"},
    {"{\"ula_prefix\":\"fd00::/48\",\"workspaces\":[]}", "ula_prefix", "must be a /40"},
    {NET("\"ipv4_cidr\":\"10.20.0.1/16\""), "workspaces[0].networks[0].ipv4_cidr", "host bits"},
    {NET("\"ipv4_cidr\":\"10.20.0.0/31\""), "workspaces[0].networks[0].ipv4_cidr", "/30"},
    {NET("\"topology_strategy\":\"ring\""), "workspaces[0].networks[0].topology_strategy",
     "not one of: hub_and_spoke, full_mesh"},
    {NET("\"listen_port\":70000"), "workspaces[0].networks[0].listen_port", "out of range"},
    {NET("\"listen_port\":\"51820\""), "workspaces[0].networks[0].listen_port", "must be an integer"},
    {NET("\"mtu\":1000"), "workspaces[0].networks[0].mtu", "out of range"},
    {NET("\"peers\":[{\"name\":\"x\"}]"), "workspaces[0].networks[0].peers[0].public_key",
     "is required"},
    {NET("\"peers\":[{\"name\":\"x\",\"public_key\":\"nope\"}]"),
     "workspaces[0].networks[0].peers[0].public_key", "base64"},
    {NET("\"peers\":[" HUB ",{\"name\":\"x\",\"public_key\":\"@2@\",\"endpoint\":\"1.2.3.4\"}]"),
     "workspaces[0].networks[0].peers[1].endpoint", "HOST:PORT"},
    {NET("\"peers\":[" HUB ",{\"name\":\"x\",\"public_key\":\"@2@\",\"endpoint\":\"1.2.3.4:0\"}]"),
     "workspaces[0].networks[0].peers[1].endpoint", "HOST:PORT"},
    {NET("\"peers\":[" HUB ",{\"name\":\"x\",\"public_key\":\"@2@\",\"endpoint\":\"fd00::1:5\"}]"),
     "workspaces[0].networks[0].peers[1].endpoint", "HOST:PORT"},
    {NET("\"peers\":[" HUB "," P("hub", 2) "]"), "workspaces[0].networks[0].peers[1].name",
     "duplicate name \"hub\" (also peers[0])"},
    {NET("\"peers\":[" HUB "],\"devices\":[" P("hub", 2) "]"),
     "workspaces[0].networks[0].devices[0].name", "duplicate name"},
    {NET("\"peers\":[" HUB "," P("x", 1) "]"), "workspaces[0].networks[0].peers[1].public_key",
     "already used by \"hub\""},
    {NET("\"peers\":[{\"name\":\"x\",\"public_key\":\"@2@\",\"lan_subnets\":[\"10.0.0.0/33\"]}]"),
     "workspaces[0].networks[0].peers[0].lan_subnets[0]", "bad prefix length"},
    {NET("\"peers\":[{\"name\":\"x\",\"public_key\":\"@2@\",\"lan_subnets\":[\"0.0.0.0/0\"]}]"),
     "workspaces[0].networks[0].peers[0].lan_subnets[0]", "default route"},
    {NET("\"ipv4_cidr\":\"10.0.0.0/8\",\"peers\":[{\"name\":\"x\",\"public_key\":\"@2@\","
         "\"lan_subnets\":[\"10.1.0.0/16\"]}]"),
     "workspaces[0].networks[0].peers[0].lan_subnets[0]", "overlaps the network's ipv4_cidr"},
    {NET("\"peers\":[{\"name\":\"x\",\"public_key\":\"@2@\",\"lan_subnets\":[\"192.168.1.0/24\"]},"
         "{\"name\":\"y\",\"public_key\":\"@3@\",\"lan_subnets\":[\"192.168.1.0/24\"]}]"),
     "workspaces[0].networks[0].peers[1].lan_subnets", "already a LAN subnet of \"x\""},
    {NET("\"peers\":[{\"name\":\"x\",\"public_key\":\"@2@\",\"ipv4\":\"10.0.0.5\"}]"),
     "workspaces[0].networks[0].peers[0].ipv4", "no ipv4_cidr"},
    {NET("\"ipv4_cidr\":\"10.0.0.0/24\",\"peers\":[{\"name\":\"x\",\"public_key\":\"@2@\","
         "\"ipv4\":\"10.0.1.5\"}]"),
     "workspaces[0].networks[0].peers[0].ipv4", "outside"},
    {NET("\"ipv4_cidr\":\"10.0.0.0/24\",\"peers\":[{\"name\":\"x\",\"public_key\":\"@2@\","
         "\"ipv4\":\"10.0.0.255\"}]"),
     "workspaces[0].networks[0].peers[0].ipv4", "broadcast"},
    {NET("\"ipv4_cidr\":\"10.0.0.0/24\",\"peers\":[{\"name\":\"x\",\"public_key\":\"@2@\","
         "\"ipv4\":\"10.0.0.5\"},{\"name\":\"y\",\"public_key\":\"@3@\",\"ipv4\":\"10.0.0.5\"}]"),
     "workspaces[0].networks[0].peers[1].ipv4", "already pinned by \"x\""},
    {NET("\"ipv4_cidr\":\"10.0.0.0/30\",\"peers\":[" P("a", 2) "," P("b", 3) "," P("c", 4) "]"),
     "workspaces[0].networks[0].ipv4_cidr", "2 usable addresses for 3"},
    {NET("\"peers\":[" HUB "],\"firewall_rules\":[{\"name\":\"r\",\"action\":\"accept\","
         "\"destination\":{\"peer\":\"ghost\"}}]"),
     "workspaces[0].networks[0].firewall_rules[0].destination.peer", "no peer or device named"},
    {NET("\"firewall_rules\":[{\"name\":\"r\",\"action\":\"allow\"}]"),
     "workspaces[0].networks[0].firewall_rules[0].action", "not one of: accept, drop, reject"},
    {NET("\"firewall_rules\":[{\"name\":\"r\"}]"),
     "workspaces[0].networks[0].firewall_rules[0].action", "is required"},
    {NET("\"firewall_rules\":[{\"name\":\"r\",\"action\":\"accept\",\"ports\":[22]}]"),
     "workspaces[0].networks[0].firewall_rules[0].ports", "need \"protocol\""},
    {NET("\"firewall_rules\":[{\"name\":\"r\",\"action\":\"accept\",\"protocol\":\"tcp\","
         "\"ports\":[22,0]}]"),
     "workspaces[0].networks[0].firewall_rules[0].ports[1]", "not a port"},
    {NET("\"firewall_rules\":[{\"name\":\"r\",\"action\":\"accept\",\"protocol\":\"tcp\","
         "\"ports\":[\"90-80\"]}]"),
     "workspaces[0].networks[0].firewall_rules[0].ports[0]", "LO-HI"},
    {NET("\"firewall_rules\":[{\"name\":\"r\",\"action\":\"accept\","
         "\"source\":{\"tag\":\"a\",\"all\":true}}]"),
     "workspaces[0].networks[0].firewall_rules[0].source", "exactly one of"},
    {NET("\"firewall_rules\":[{\"name\":\"r\",\"action\":\"accept\",\"source\":{\"all\":false}}]"),
     "workspaces[0].networks[0].firewall_rules[0].source.all", "must be true"},
    {NET("\"firewall_rules\":[{\"name\":\"r\",\"action\":\"accept\"},{\"name\":\"r\","
         "\"action\":\"drop\"}]"),
     "workspaces[0].networks[0].firewall_rules[1].name", "duplicate name"},
    {NET("\"peers\":[" HUB "],\"port_mappings\":[{\"name\":\"m\",\"hub\":\"nohub\","
         "\"external_port\":1,\"target\":{\"peer\":\"hub\"}}]"),
     "workspaces[0].networks[0].port_mappings[0].hub", "no peer named \"nohub\""},
    {NET("\"peers\":[" HUB "],\"port_mappings\":[{\"name\":\"m\",\"hub\":\"hub\","
         "\"external_port\":65536,\"target\":{\"peer\":\"hub\"}}]"),
     "workspaces[0].networks[0].port_mappings[0].external_port", "out of range"},
    {NET("\"peers\":[" HUB "],\"port_mappings\":[{\"name\":\"m\",\"hub\":\"hub\",\"protocol\":"
         "\"udp\",\"external_port\":51820,\"target\":{\"peer\":\"hub\"}}]"),
     "workspaces[0].networks[0].port_mappings[0].external_port", "WireGuard listen port"},
    {NET("\"peers\":[" HUB "],\"port_mappings\":[{\"name\":\"m\",\"hub\":\"hub\","
         "\"external_port\":80,\"target\":{\"peer\":\"hub\"}},{\"name\":\"n\",\"hub\":\"hub\","
         "\"external_port\":80,\"target\":{\"peer\":\"hub\"}}]"),
     "workspaces[0].networks[0].port_mappings[1].external_port", "already mapped by \"m\""},
    {NET("\"peers\":[" HUB "],\"port_mappings\":[{\"name\":\"m\",\"hub\":\"hub\","
         "\"external_port\":80}]"),
     "workspaces[0].networks[0].port_mappings[0].target", "is required"},
    {NET("\"routing_mode\":\"ibgp\""), "workspaces[0].networks[0].routing_mode",
     "not compiled by this version"},
    {"{\"workspaces\":[{\"name\":\"a\",\"bgp\":{\"enabled\":true,\"as_number\":65000}}]}",
     "workspaces[0].bgp.as_number", "out of range"},
    {"{\"workspaces\":[{\"name\":\"a\",\"networks\":[{\"name\":\"n\",\"ipv6_prefix\":"
     "\"fd00:1:2:3::/64\"},{\"name\":\"m\",\"ipv6_prefix\":\"fd00:1:2:3::/64\"}]}]}",
     "workspaces[0].networks[0]", "clashes"},
};

static void test_rejections_name_path_and_problem(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        tu_expect_reject(with_keys(cases[i].doc), cases[i].path, cases[i].msg);
}

static void test_nul_in_string_is_rejected(void **state)
{
    (void)state;
    const char doc[] = "{\"workspaces\":[{\"name\":\"a\\u0000b\"}]}";
    tu_expect_reject(doc, "line 1, column 33", "is not allowed");
}

static void test_models_are_sorted_and_defaults_applied(void **state)
{
    (void)state;
    const char *text = with_keys(
        NET("\"peers\":[" P("zeta", 2) "," HUB "," P("alpha", 3) "],"
            "\"firewall_rules\":[{\"name\":\"b\",\"position\":5,\"action\":\"accept\"},"
            "{\"name\":\"a\",\"position\":5,\"action\":\"drop\"},"
            "{\"name\":\"c\",\"position\":1,\"action\":\"reject\",\"protocol\":\"udp\","
            "\"ports\":[53,\"50-60\",\"61-70\",1000]}]"));
    nn_doc *doc = NULL;
    nn_error err;
    assert_int_equal(nn_intent_parse(text, strlen(text), &doc, &err), 0);
    const nn_network *net = &doc->workspaces[0].networks[0];
    assert_string_equal(net->peers[0].name, "alpha");
    assert_string_equal(net->peers[1].name, "hub");
    assert_string_equal(net->peers[2].name, "zeta");
    assert_string_equal(net->peers[2].host, "zeta");
    assert_int_equal(net->listen_port, 51820);
    assert_int_equal(net->mtu, 1420);
    assert_int_equal(net->default_policy, NN_VERDICT_DROP);
    assert_int_equal(net->topology, NN_TOPO_HUB_AND_SPOKE);
    assert_string_equal(net->rules[0].name, "c");
    assert_string_equal(net->rules[1].name, "a");
    assert_string_equal(net->rules[2].name, "b");
    /* 50-60, 53 and 61-70 merge into one range; 1000 stays */
    assert_int_equal(net->rules[0].nports, 2);
    assert_int_equal(net->rules[0].ports[0].lo, 50);
    assert_int_equal(net->rules[0].ports[0].hi, 70);
    assert_int_equal(net->rules[0].ports[1].lo, 1000);
    nn_doc_free(doc);
}

static void test_endpoints_accepted(void **state)
{
    (void)state;
    const char *eps[] = {"192.0.2.1:51820", "[2001:db8::1]:51820", "hub.example.com:1",
                         "a-b.c:65535"};
    for (size_t i = 0; i < 4; i++) {
        char tmpl[512];
        snprintf(tmpl, sizeof(tmpl),
                 NET("\"peers\":[{\"name\":\"x\",\"public_key\":\"@2@\",\"endpoint\":\"%s\"}]"),
                 eps[i]);
        const char *text = with_keys(tmpl);
        nn_doc *doc = NULL;
        nn_error err;
        if (nn_intent_parse(text, strlen(text), &doc, &err) != 0)
            fail_msg("rejected endpoint %s: %s: %s", eps[i], err.path, err.msg);
        nn_doc_free(doc);
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejections_name_path_and_problem),
        cmocka_unit_test(test_nul_in_string_is_rejected),
        cmocka_unit_test(test_models_are_sorted_and_defaults_applied),
        cmocka_unit_test(test_endpoints_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
