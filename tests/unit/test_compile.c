/* compile: properties of the envelopes -- byte stability under shuffled
 * input, who sees whom, fail-closed firewall, NAT, no private keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "compile/compile.h"
#include "testutil.h"

/* A rich document: 2 workspaces x 2 networks, hubs, spokes with tags and
 * LANs, devices, rules of every selector kind, port mappings. */
static json_t *rich_doc(void)
{
    json_t *wss = json_array();
    unsigned seed = 1;
    for (int w = 0; w < 2; w++) {
        json_t *nets = json_array();
        for (int n = 0; n < 2; n++) {
            json_t *peers = json_array(), *devices = json_array();
            for (int i = 0; i < 24; i++) {
                char name[32];
                snprintf(name, sizeof(name), "node-%02d", i);
                json_t *p = tu_peer(name, seed++, i < 2);
                /* each network's nodes are hosts of their own */
                char host[32];
                snprintf(host, sizeof(host), "net%d-node-%02d", n, i);
                json_object_set_new(p, "host", json_string(host));
                json_t *tags = json_array();
                json_array_append_new(tags, json_string(i % 3 ? "app" : "ops"));
                json_array_append_new(tags, json_string(i % 2 ? "odd" : "even"));
                json_object_set_new(p, "tags", tags);
                if (i % 4 == 1) {
                    char lan[32];
                    snprintf(lan, sizeof(lan), "192.168.%d.0/24", i);
                    json_object_set_new(p, "lan_subnets", json_pack("[s]", lan));
                }
                json_array_append_new(peers, p);
            }
            for (int d = 0; d < 3; d++) {
                char name[32];
                snprintf(name, sizeof(name), "laptop-%d", d);
                json_t *dev = json_pack("{s:s,s:s,s:[s]}", "name", name, "public_key",
                                        tu_key(seed++), "tags", "ops");
                json_array_append_new(devices, dev);
            }
            json_t *rules = json_pack(
                "[{s:s,s:i,s:s,s:s},"
                " {s:s,s:i,s:s,s:s,s:[i,s],s:{s:s},s:{s:s}},"
                " {s:s,s:i,s:s,s:s,s:[i],s:{s:s},s:{s:s}},"
                " {s:s,s:i,s:s,s:{s:s}}]",
                "name", "icmp", "position", 1, "action", "accept", "protocol", "icmp", "name",
                "ops-ssh", "position", 10, "action", "accept", "protocol", "tcp", "ports", 22,
                "8000-8010", "source", "tag", "ops", "destination", "peer", "node-05", "name",
                "lan", "position", 10, "action", "drop", "protocol", "udp", "ports", 53, "source",
                "cidr", "192.168.0.0/16", "destination", "tag", "app", "name", "typo", "position",
                20, "action", "accept", "source", "tag", "nobody");
            json_t *maps = json_pack("[{s:s,s:s,s:i,s:{s:s},s:i},{s:s,s:s,s:i,s:{s:s}}]", "name",
                                     "ssh", "hub", "node-00", "external_port", 2222, "target",
                                     "peer", "node-05", "target_port", 22, "name", "gone", "hub",
                                     "node-01", "external_port", 80, "target", "peer", "ghost");
            char name[16];
            snprintf(name, sizeof(name), "net%d", n);
            json_t *net = json_pack("{s:s,s:s,s:o,s:o,s:o,s:o}", "name", name, "topology_strategy",
                                    n ? "full_mesh" : "hub_and_spoke", "peers", peers, "devices",
                                    devices, "firewall_rules", rules, "port_mappings", maps);
            if (w == 0)
                json_object_set_new(net, "ipv4_cidr",
                                    json_string(n ? "10.1.0.0/16" : "10.2.0.0/20"));
            json_array_append_new(nets, net);
        }
        char name[16];
        snprintf(name, sizeof(name), "ws%d", w);
        json_array_append_new(wss, json_pack("{s:s,s:o}", "name", name, "networks", nets));
    }
    return json_pack("{s:o}", "workspaces", wss);
}

static void test_shuffled_input_gives_identical_bytes(void **state)
{
    (void)state;
    nn_error err;
    json_t *j = rich_doc();
    nn_doc *doc = tu_load(j, &err);
    assert_non_null(doc);
    char *ref = tu_compile_all(doc);
    assert_true(strlen(ref) > 10000);
    nn_doc_free(doc);
    for (int t = 0; t < 10; t++) {
        tu_shuffle(j, NULL);
        doc = tu_load(j, &err);
        assert_non_null(doc);
        char *again = tu_compile_all(doc);
        assert_string_equal(again, ref);
        free(again);
        nn_doc_free(doc);
    }
    free(ref);
    json_decref(j);
}

static json_t *parse_json(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j)
        fail_msg("envelope is not JSON: %s", e.text);
    return j;
}

static bool has_ip(json_t *entry, const char *ip)
{
    json_t *a = json_object_get(entry, "allowed_ips");
    for (size_t i = 0; i < json_array_size(a); i++)
        if (!strcmp(json_string_value(json_array_get(a, i)), ip))
            return true;
    return false;
}

static void test_envelopes_are_canonical_and_complete(void **state)
{
    (void)state;
    nn_error err;
    json_t *j = rich_doc();
    nn_doc *doc = tu_load(j, &err);
    char *env = tu_envelope(doc, "ws0", "net0", "node-07");
    json_t *e = parse_json(env);
    char *again = json_dumps(e, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(again, env);
    const char *keys[] = {"interface", "peers",     "firewall",   "nat",
                          "bgp",       "vips_held", "federation", "mc_envelope"};
    for (size_t i = 0; i < 8; i++)
        assert_non_null(json_object_get(e, keys[i]));
    json_t *itf = json_object_get(e, "interface");
    assert_true(strlen(json_string_value(json_object_get(itf, "name"))) <= 15);
    assert_int_equal(json_array_size(json_object_get(itf, "addresses")), 2);
    assert_false(json_is_true(json_object_get(json_object_get(e, "bgp"), "enabled")));
    assert_null(strstr(env, "private"));
    assert_null(strstr(env, "PrivateKey"));
    free(again);
    json_decref(e);
    free(env);
    nn_doc_free(doc);
    json_decref(j);
}

static void test_spokes_see_exactly_the_hubs(void **state)
{
    (void)state;
    nn_error err;
    json_t *j = rich_doc();
    nn_doc *doc = tu_load(j, &err);
    const nn_network *net = &doc->workspaces[0].networks[0]; /* hub_and_spoke, 2 hubs */
    char p64[NN_PREFIX_STRLEN];
    nn_prefix_format(&net->prefix6, true, p64);
    for (size_t i = 0; i < net->npeers; i++) {
        const nn_member *m = &net->peers[i];
        char *env = tu_envelope(doc, "ws0", "net0", m->name);
        json_t *e = parse_json(env);
        json_t *peers = json_object_get(e, "peers");
        if (m->publicly_reachable) {
            /* a hub sees every other peer and every device */
            assert_int_equal(json_array_size(peers), net->npeers - 1 + net->ndevices);
        } else {
            assert_int_equal(json_array_size(peers), 2);
            assert_string_equal(
                json_string_value(json_object_get(json_array_get(peers, 0), "name")), "node-00");
            assert_string_equal(
                json_string_value(json_object_get(json_array_get(peers, 1), "name")), "node-01");
            /* WireGuard gives a prefix to one peer: only the primary hub has the /64 */
            assert_true(has_ip(json_array_get(peers, 0), p64));
            assert_true(has_ip(json_array_get(peers, 0), "10.2.0.0/20"));
            assert_false(has_ip(json_array_get(peers, 1), p64));
            assert_int_equal(json_integer_value(
                                 json_object_get(json_array_get(peers, 0), "persistent_keepalive")),
                             25);
            /* a spoke's own LAN is never routed back into the tunnel */
            for (size_t l = 0; l < m->nlan; l++) {
                char lan[NN_PREFIX_STRLEN];
                assert_false(has_ip(json_array_get(peers, 0),
                                    nn_prefix_format(&m->lan_subnets[l], true, lan)));
            }
        }
        json_decref(e);
        free(env);
    }
    nn_doc_free(doc);
    json_decref(j);
}

static void test_full_mesh_gives_n_minus_one(void **state)
{
    (void)state;
    nn_error err;
    json_t *peers = json_array();
    for (int i = 0; i < 12; i++) {
        char name[16];
        snprintf(name, sizeof(name), "m%02d", i);
        json_array_append_new(peers, tu_peer(name, (unsigned)i + 1, false));
    }
    json_t *j = tu_doc_one_network(
        json_pack("{s:s,s:o}", "topology_strategy", "full_mesh", "peers", peers));
    nn_doc *doc = tu_load(j, &err);
    for (int i = 0; i < 12; i++) {
        char name[16];
        snprintf(name, sizeof(name), "m%02d", i);
        char *env = tu_envelope(doc, "ws", "net", name);
        json_t *e = parse_json(env);
        json_t *list = json_object_get(e, "peers");
        assert_int_equal(json_array_size(list), 11);
        for (size_t k = 0; k < 11; k++) {
            json_t *entry = json_array_get(list, k);
            assert_string_not_equal(json_string_value(json_object_get(entry, "name")), name);
            assert_int_equal(json_array_size(json_object_get(entry, "allowed_ips")), 1);
        }
        json_decref(e);
        free(env);
    }
    nn_doc_free(doc);
    json_decref(j);
}

static void test_no_hubs_means_no_peers(void **state)
{
    (void)state;
    nn_error err;
    json_t *j = tu_doc_one_network(
        json_pack("{s:[o,o]}", "peers", tu_peer("a", 1, false), tu_peer("b", 2, false)));
    nn_doc *doc = tu_load(j, &err);
    char *env = tu_envelope(doc, "ws", "net", "a");
    assert_non_null(strstr(env, "\"peers\":[]"));
    free(env);
    nn_doc_free(doc);
    json_decref(j);
}

/* A new tagless spoke touches only the hubs' envelopes and its own. */
static void test_new_spoke_changes_only_hubs(void **state)
{
    (void)state;
    nn_error err;
    json_t *j = rich_doc();
    nn_doc *doc = tu_load(j, &err);
    const nn_network *net = &doc->workspaces[0].networks[0];
    char *before[32];
    for (size_t i = 0; i < net->npeers; i++)
        before[i] = tu_envelope(doc, "ws0", "net0", net->peers[i].name);
    json_t *peers = json_object_get(
        json_array_get(
            json_object_get(json_array_get(json_object_get(j, "workspaces"), 0), "networks"), 0),
        "peers");
    json_array_append_new(peers, tu_peer("zz-new", 3000, false));
    nn_doc *doc2 = tu_load(j, &err);
    for (size_t i = 0; i < net->npeers; i++) {
        char *after = tu_envelope(doc2, "ws0", "net0", net->peers[i].name);
        if (net->peers[i].publicly_reachable)
            assert_string_not_equal(after, before[i]);
        else
            assert_string_equal(after, before[i]);
        free(after);
        free(before[i]);
    }
    nn_doc_free(doc2);
    nn_doc_free(doc);
    json_decref(j);
}

static void test_firewall_fails_closed(void **state)
{
    (void)state;
    nn_error err;
    json_t *j = rich_doc();
    nn_doc *doc = tu_load(j, &err);
    /* ws1 networks have no ipv4_cidr: peer selectors resolve only in IPv6 */
    char *env = tu_envelope(doc, "ws1", "net0", "node-05");
    json_t *e = parse_json(env);
    json_t *fw = json_object_get(e, "firewall");
    const char *rs = json_string_value(json_object_get(fw, "ruleset"));
    /* the typo'd tag rule is reported and absent, never a wildcard */
    json_t *dropped = json_object_get(fw, "dropped_rules");
    assert_int_equal(json_array_size(dropped), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(dropped, 1), "name")),
                        "typo");
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(dropped, 1), "reason")),
                           "\"nobody\" matches no peer"));
    assert_null(strstr(rs, "rule typo"));
    /* a v4 cidr source cannot meet v6-only destinations: dropped, not widened */
    assert_string_equal(json_string_value(json_object_get(json_array_get(dropped, 0), "name")),
                        "lan");
    assert_null(strstr(rs, "rule lan"));
    assert_non_null(strstr(rs, "ip6 daddr"));
    assert_null(strstr(rs, " ip saddr"));
    assert_non_null(strstr(rs, "drop comment \"default policy\""));
    json_decref(e);
    free(env);
    nn_doc_free(doc);
    json_decref(j);
}

static const char *ruleset_of(json_t *env)
{
    return json_string_value(json_object_get(json_object_get(env, "firewall"), "ruleset"));
}

/* A spoke forwards for nobody: accept rules whose destination cannot be it
 * are left out of its ruleset; restrictions (drop/reject) never are. */
static void test_spoke_rulesets_are_narrowed_safely(void **state)
{
    (void)state;
    nn_error err;
    json_t *j = rich_doc();
    nn_doc *doc = tu_load(j, &err);
    char *t_hub = tu_envelope(doc, "ws0", "net0", "node-00");
    char *t_other = tu_envelope(doc, "ws0", "net0", "node-03");
    char *t_dest = tu_envelope(doc, "ws0", "net0", "node-05");
    json_t *hub = parse_json(t_hub), *other = parse_json(t_other), *dest = parse_json(t_dest);
    assert_non_null(strstr(ruleset_of(hub), "rule ops-ssh"));
    assert_non_null(strstr(ruleset_of(hub), "port-mapping ssh"));
    assert_non_null(strstr(ruleset_of(dest), "rule ops-ssh"));
    assert_non_null(strstr(ruleset_of(dest), "port-mapping ssh"));
    assert_null(strstr(ruleset_of(other), "rule ops-ssh"));
    assert_null(strstr(ruleset_of(other), "port-mapping ssh"));
    /* node-03 is not tagged app, yet the drop rule aimed at app stays */
    assert_non_null(strstr(ruleset_of(other), "rule lan"));
    assert_non_null(strstr(ruleset_of(other), "rule icmp"));
    assert_non_null(strstr(ruleset_of(other), "drop comment \"default policy\""));
    /* the report of dropped rules is the network's, the same everywhere */
    assert_true(json_equal(json_object_get(json_object_get(hub, "firewall"), "dropped_rules"),
                           json_object_get(json_object_get(other, "firewall"), "dropped_rules")));
    json_decref(hub);
    json_decref(other);
    json_decref(dest);
    free(t_hub);
    free(t_other);
    free(t_dest);
    nn_doc_free(doc);
    json_decref(j);
}

static void test_nat_on_the_hub_only_and_skips_unresolvable(void **state)
{
    (void)state;
    nn_error err;
    json_t *j = rich_doc();
    nn_doc *doc = tu_load(j, &err);
    char *hub0 = tu_envelope(doc, "ws0", "net0", "node-00");
    char *hub1 = tu_envelope(doc, "ws0", "net0", "node-01");
    char *spoke = tu_envelope(doc, "ws0", "net0", "node-05");
    json_t *h0 = parse_json(hub0), *h1 = parse_json(hub1), *sp = parse_json(spoke);
    const char *nat0 = json_string_value(json_object_get(json_object_get(h0, "nat"), "ruleset"));
    assert_non_null(strstr(nat0, "tcp dport 2222 dnat ip to "));
    assert_non_null(strstr(nat0, "masquerade"));
    assert_int_equal(json_array_size(json_object_get(json_object_get(h0, "nat"), "skipped")), 0);
    json_t *sk = json_object_get(json_object_get(h1, "nat"), "skipped");
    assert_int_equal(json_array_size(sk), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(sk, 0), "name")), "gone");
    const char *natsp = json_string_value(json_object_get(json_object_get(sp, "nat"), "ruleset"));
    assert_null(strstr(natsp, "dnat"));
    assert_non_null(strstr(natsp, "flush chain inet nanami nat_"));
    /* the target admits mapped traffic from the hub */
    const char *fw = json_string_value(json_object_get(json_object_get(sp, "firewall"), "ruleset"));
    assert_non_null(strstr(fw, "tcp dport 22 accept comment \"port-mapping ssh\""));
    json_decref(h0);
    json_decref(h1);
    json_decref(sp);
    free(hub0);
    free(hub1);
    free(spoke);
    nn_doc_free(doc);
    json_decref(j);
}

static void test_device_config_has_placeholder_and_hubs(void **state)
{
    (void)state;
    nn_error err;
    json_t *j = rich_doc();
    nn_doc *doc = tu_load(j, &err);
    const nn_network *net = &doc->workspaces[0].networks[0];
    nn_net_plan *plan;
    assert_int_equal(nn_compile_plan_new(net, &plan), 0);
    nn_buf out = NN_BUF_INIT;
    nn_compile_device_wgquick(plan, &net->devices[0], &out);
    assert_non_null(strstr(out.data, "PrivateKey = <device private key>\n"));
    assert_non_null(strstr(out.data, "# node-00\n"));
    assert_non_null(strstr(out.data, "# node-01\n"));
    assert_null(strstr(out.data, "# node-02\n"));
    char a[NN_PREFIX_STRLEN];
    assert_non_null(strstr(out.data, nn_prefix_format(&net->devices[0].addr6, true, a)));
    nn_buf_free(&out);
    nn_compile_plan_free(plan);
    nn_doc_free(doc);
    json_decref(j);
}

/* ------------------------------------------------------------------ */
/* nn_compile_peer_digest: equal digests exactly when equal envelopes,
 * over one-edit changes of every kind, with and without signing. */

static json_t *ws_json(json_t *root, size_t w)
{
    return json_array_get(json_object_get(root, "workspaces"), w);
}

static json_t *net_json(json_t *root, size_t w, size_t n)
{
    return json_array_get(json_object_get(ws_json(root, w), "networks"), n);
}

static json_t *named(json_t *arr, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
            return v;
    }
    fail_msg("no object named %s", name);
    return NULL;
}

static json_t *peer_json(json_t *root, size_t n, const char *name)
{
    return named(json_object_get(net_json(root, 0, n), "peers"), name);
}

static void m_new_spoke(json_t *r)
{
    json_array_append_new(json_object_get(net_json(r, 0, 0), "peers"), tu_peer("zz-new", 3001, 0));
}
static void m_new_mesh_member(json_t *r)
{
    json_array_append_new(json_object_get(net_json(r, 0, 1), "peers"), tu_peer("zz-new", 3002, 0));
}
static void m_spoke_key(json_t *r)
{
    json_object_set_new(peer_json(r, 0, "node-07"), "public_key", json_string(tu_key(3003)));
}
static void m_spoke_lan(json_t *r)
{
    json_object_set_new(peer_json(r, 0, "node-06"), "lan_subnets",
                        json_pack("[s]", "172.20.0.0/24"));
}
static void m_hub_endpoint(json_t *r)
{
    json_object_set_new(peer_json(r, 0, "node-00"), "endpoint", json_string("203.0.113.9:51820"));
}
static void m_spoke_tags(json_t *r)
{
    json_object_set_new(peer_json(r, 0, "node-08"), "tags", json_pack("[s]", "ops"));
}
static void m_rule_ports(json_t *r)
{
    json_t *rule = named(json_object_get(net_json(r, 0, 0), "firewall_rules"), "ops-ssh");
    json_object_set_new(rule, "ports", json_pack("[i]", 2022));
}
static void m_drop_mapping(json_t *r)
{
    json_array_remove(json_object_get(net_json(r, 0, 0), "port_mappings"), 0);
}
static void m_mtu(json_t *r)
{
    json_object_set_new(net_json(r, 0, 1), "mtu", json_integer(1380));
}
static void m_device_key(json_t *r)
{
    json_t *dev = named(json_object_get(net_json(r, 0, 0), "devices"), "laptop-1");
    json_object_set_new(dev, "public_key", json_string(tu_key(3004)));
}
static void m_validity(json_t *r)
{
    json_object_set_new(ws_json(r, 0), "credential_validity",
                        json_pack("{s:s,s:s}", "not_before", "2026-02-01T00:00:00Z", "not_after",
                                  "2027-02-01T00:00:00Z"));
}
static void m_spoke_port(json_t *r)
{
    json_object_set_new(peer_json(r, 0, "node-09"), "listen_port", json_integer(51999));
}

/* laptop-0 sends everything through hub node-01 (exit gateway); laptop-1
 * pins spoke node-03, which it has no tunnel to; laptop-2 keeps the
 * default (vpn_only). */
static void m_full_tunnel(json_t *r)
{
    json_object_set_new(peer_json(r, 0, "node-01"), "roles", json_pack("[s]", "exit_gateway"));
    json_object_set_new(peer_json(r, 0, "node-03"), "roles", json_pack("[s]", "exit_gateway"));
    json_t *devs = json_object_get(net_json(r, 0, 0), "devices");
    json_object_set_new(named(devs, "laptop-0"), "routing_preference",
                        json_pack("{s:s,s:s,s:s}", "routing_mode", "manual", "traffic_mode",
                                  "full_tunnel", "egress", "node-01"));
    json_object_set_new(named(devs, "laptop-1"), "routing_preference",
                        json_pack("{s:s,s:s,s:s}", "routing_mode", "manual", "traffic_mode",
                                  "full_tunnel", "egress", "node-03"));
}

static char *wgquick_of(const nn_network *net, size_t device)
{
    nn_net_plan *plan;
    assert_int_equal(nn_compile_plan_new(net, &plan), 0);
    nn_buf out = NN_BUF_INIT;
    nn_compile_device_wgquick(plan, &net->devices[device], &out);
    nn_compile_plan_free(plan);
    return out.data;
}

static void test_full_tunnel_through_the_exit_hub(void **state)
{
    (void)state;
    nn_error err;
    json_t *j = rich_doc();
    m_full_tunnel(j);
    nn_doc *doc = tu_load(j, &err);
    const nn_network *net = &doc->workspaces[0].networks[0];
    char *l0 = wgquick_of(net, 0), *l1 = wgquick_of(net, 1), *l2 = wgquick_of(net, 2);
    /* the exit hub takes everything; the primary hub keeps the overlay */
    const char *exit_peer = strstr(l0, "# node-01\n");
    assert_non_null(strstr(l0, "# full_tunnel: all traffic goes through exit gateway node-01\n"));
    assert_non_null(exit_peer);
    assert_non_null(strstr(exit_peer, "AllowedIPs = 0.0.0.0/0, ::/0\n"));
    assert_non_null(strstr(l0, "AllowedIPs = 10.2.0.0/20"));
    assert_non_null(strstr(l1, "multi-hop is not supported"));
    assert_null(strstr(l1, "0.0.0.0/0"));
    assert_null(strstr(l2, "full_tunnel"));
    assert_null(strstr(l2, "0.0.0.0/0"));

    char *hub1 = tu_envelope(doc, "ws0", "net0", "node-01");
    char *hub0 = tu_envelope(doc, "ws0", "net0", "node-00");
    json_t *h1 = parse_json(hub1), *h0 = parse_json(hub0);
    char a4[NN_PREFIX_STRLEN], a6[NN_PREFIX_STRLEN], want[512];
    nn_prefix_format(&net->devices[0].addr4, false, a4);
    nn_prefix_format(&net->devices[0].addr6, false, a6);
    /* admitted after the operator's rules, before the default policy */
    const char *fw = ruleset_of(h1);
    snprintf(want, sizeof(want),
             "    oifname != \"%s\" ip saddr { %s } ip daddr != { 10.2.0.0/20, ", net->ifname, a4);
    const char *line = strstr(fw, want);
    assert_non_null(line);
    assert_non_null(strstr(line, "} fib daddr type != local accept comment \"full-tunnel egress\"\n"
                                 "    drop comment \"default policy\""));
    assert_true(line > strstr(fw, "comment \"rule typo\"") || !strstr(fw, "rule typo"));
    snprintf(want, sizeof(want),
             "ip6 saddr { %s } ip6 daddr != { %s } fib daddr type != local accept", a6,
             nn_prefix_format(&net->prefix6, true, a4));
    assert_non_null(strstr(fw, want));
    const char *nat = json_string_value(json_object_get(json_object_get(h1, "nat"), "ruleset"));
    assert_non_null(strstr(nat, "masquerade comment \"full-tunnel egress\""));
    /* only laptop-0 exits (the source sets above hold it alone); the
     * other hub carries no exit at all */
    assert_null(strstr(ruleset_of(h0), "full-tunnel"));
    assert_null(strstr(json_string_value(json_object_get(json_object_get(h0, "nat"), "ruleset")),
                       "full-tunnel"));
    json_decref(h0);
    json_decref(h1);
    free(hub0);
    free(hub1);
    free(l0);
    free(l1);
    free(l2);
    nn_doc_free(doc);
    json_decref(j);
}

static const char *g_edit;    /* the edit under test, for failure messages */
static size_t g_conservative; /* digests that differed for equal envelopes */

/* Compares every network of after with before: for each peer in both,
 * digest equality must equal envelope equality. Returns how many
 * envelopes changed; *total counts the pairs compared. */
static size_t differential(json_t *before, json_t *after, const uint8_t *sk, size_t *total)
{
    nn_error err;
    nn_doc *a = tu_load(before, &err), *b = tu_load(after, &err);
    assert_non_null(a);
    assert_non_null(b);
    size_t changed = 0;
    for (size_t w = 0; w < b->nworkspaces; w++)
        for (size_t n = 0; n < b->workspaces[w].nnetworks; n++) {
            const nn_network *nb = &b->workspaces[w].networks[n];
            const nn_network *na = nn_workspace_find_network(
                nn_doc_find_workspace(a, b->workspaces[w].name), nb->name);
            assert_non_null(na);
            nn_net_plan *pa, *pb;
            assert_int_equal(nn_compile_plan_new(na, &pa), 0);
            assert_int_equal(nn_compile_plan_new(nb, &pb), 0);
            if (sk) {
                nn_compile_plan_set_signing_key(pa, sk);
                nn_compile_plan_set_signing_key(pb, sk);
            }
            for (size_t i = 0; i < nb->npeers; i++) {
                const nn_member *mb = &nb->peers[i], *ma = nn_network_find_peer(na, mb->name);
                if (!ma)
                    continue;
                uint8_t da[32], db[32];
                nn_compile_peer_digest(pa, ma, da);
                nn_compile_peer_digest(pb, mb, db);
                nn_buf ea = NN_BUF_INIT, eb = NN_BUF_INIT;
                nn_compile_for_peer(pa, ma, &ea);
                nn_compile_for_peer(pb, mb, &eb);
                bool same_env = ea.len == eb.len && memcmp(ea.data, eb.data, ea.len) == 0;
                bool same_digest = memcmp(da, db, 32) == 0;
                /* Equal digests must mean equal envelopes (else a node would
                 * keep a stale one). The converse may fail, conservatively:
                 * the digest of a peer gaining a LAN names the route it now
                 * skips, though its envelope ends up the same. */
                if (same_digest && !same_env)
                    fail_msg("%s/%s/%s: envelopes %s but digests %s (%s)", b->workspaces[w].name,
                             nb->name, mb->name, same_env ? "equal" : "differ",
                             same_digest ? "equal" : "differ", g_edit);
                changed += !same_env;
                g_conservative += !same_digest && same_env;
                (*total)++;
                nn_buf_free(&ea);
                nn_buf_free(&eb);
            }
            nn_compile_plan_free(pa);
            nn_compile_plan_free(pb);
        }
    nn_doc_free(a);
    nn_doc_free(b);
    return changed;
}

static void test_digest_equal_exactly_when_envelope_equal(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        void (*edit)(json_t *);
        size_t changed_min, changed_max; /* of the 2 x 2 x 24 peers compared */
    } edits[] = {
        {"new spoke", m_new_spoke, 2, 2}, /* the two hubs, nobody else */
        {"new mesh member", m_new_mesh_member, 24, 24},
        {"spoke key", m_spoke_key, 3, 3},   /* the hubs and the spoke itself */
        {"spoke LAN", m_spoke_lan, 24, 24}, /* everyone routes to it; it now forwards */
        {"hub endpoint", m_hub_endpoint, 23, 23},
        {"spoke tags", m_spoke_tags, 1, 24},
        {"rule ports", m_rule_ports, 1, 24},
        {"port mapping removed", m_drop_mapping, 1, 24},
        {"mtu", m_mtu, 24, 24},
        {"device key", m_device_key, 2, 2},
        {"credential validity", m_validity, 0, 48},
        {"spoke listen port", m_spoke_port, 1, 1},
        {"device full tunnel", m_full_tunnel, 1, 1}, /* the exit hub only */
    };
    uint8_t seed[32] = {7}, pk[32], sk[64];
    crypto_sign_seed_keypair(pk, sk, seed);
    for (int signing = 0; signing < 2; signing++)
        for (size_t e = 0; e < sizeof(edits) / sizeof(edits[0]); e++) {
            json_t *before = rich_doc();
            if (signing)
                for (size_t w = 0; w < 2; w++)
                    json_object_set_new(ws_json(before, w), "credential_validity",
                                        json_pack("{s:s,s:s}", "not_before", "2026-01-01T00:00:00Z",
                                                  "not_after", "2027-01-01T00:00:00Z"));
            json_t *after = json_deep_copy(before);
            edits[e].edit(after);
            g_edit = edits[e].what;
            g_conservative = 0;
            size_t total = 0;
            size_t changed = differential(before, after, signing ? sk : NULL, &total);
            size_t lo = edits[e].changed_min, hi = edits[e].changed_max;
            if (edits[e].edit == m_validity)
                lo = hi = signing ? 48 : 0; /* only signed envelopes carry it */
            if (changed < lo || changed > hi)
                fail_msg("%s (signing %d): %zu envelopes changed, expected %zu..%zu", edits[e].what,
                         signing, changed, lo, hi);
            assert_true(total >= 96);
            /* no conservative misses: the spoke that gained the LAN (its
             * digest changed before its bytes did) now forwards */
            assert_int_equal(g_conservative, 0);
            json_decref(before);
            json_decref(after);
        }
}

static void test_digest_follows_bgp_changes(void **state)
{
    (void)state;
    json_error_t je;
    json_t *before = json_load_file(NN_SOURCE_DIR "/examples/fabric.json", 0, &je);
    assert_non_null(before);
    json_t *after = json_deep_copy(before);
    g_edit = "bgp as_number";
    /* a new route reflector client: BGP texts of its host and the
     * reflectors change */
    json_t *bgp = json_object_get(ws_json(after, 0), "bgp");
    json_object_set_new(bgp, "as_number", json_integer(4200000123));
    size_t total = 0;
    uint8_t seed[32] = {9}, pk[32], sk[64];
    crypto_sign_seed_keypair(pk, sk, seed);
    size_t changed = differential(before, after, sk, &total);
    assert_true(total > 0);
    assert_int_equal(changed, total); /* the AS is in every BGP envelope */
    json_decref(after);
    after = json_deep_copy(before);
    assert_int_equal(differential(before, after, sk, &total), 0);
    json_decref(after);
    json_decref(before);
}

/* An OVN deployment's plan goes to the envelopes of exactly one host: the
 * first by name that names the deployment and runs a peer. */
static bool carries_ovn(const nn_doc *doc, const char *peer)
{
    char *env = tu_envelope(doc, "globex", "core", peer);
    json_t *e = parse_json(env);
    bool has = json_object_get(e, "ovn") != NULL;
    if (has)
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(e, "ovn"), "nb_endpoint")),
            "tcp:10.30.0.1:6641");
    json_decref(e);
    free(env);
    return has;
}

static void test_ovn_plan_host(void **state)
{
    (void)state;
    json_error_t je;
    nn_error err;
    json_t *j = json_load_file(NN_SOURCE_DIR "/examples/fabric.json", 0, &je);
    assert_non_null(j);
    nn_doc *doc = tu_load(j, &err);
    assert_true(carries_ovn(doc, "core-hub")); /* host edge-a */
    assert_false(carries_ovn(doc, "branch-1"));
    nn_doc_free(doc);
    /* "aaa" sorts first but runs no peer: edge-a stays the plan host. */
    json_t *hosts = json_object_get(ws_json(j, 0), "hosts");
    json_array_append_new(hosts, json_pack("{s:s, s:s, s:{s:s, s:s}}", "name", "aaa", "profile",
                                           "heavyweight", "ovn", "deployment", "dc1", "encap_ip",
                                           "198.51.100.30"));
    doc = tu_load(j, &err);
    assert_true(carries_ovn(doc, "core-hub"));
    assert_false(carries_ovn(doc, "branch-1"));
    nn_doc_free(doc);
    /* Once a peer runs on it, it is. */
    json_t *peers =
        json_object_get(json_array_get(json_object_get(ws_json(j, 0), "networks"), 0), "peers");
    for (size_t i = 0; i < json_array_size(peers); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(peers, i), "name")),
                    "branch-1"))
            json_object_set_new(json_array_get(peers, i), "host", json_string("aaa"));
    doc = tu_load(j, &err);
    assert_false(carries_ovn(doc, "core-hub"));
    assert_true(carries_ovn(doc, "branch-1"));
    nn_doc_free(doc);
    json_decref(j);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shuffled_input_gives_identical_bytes),
        cmocka_unit_test(test_envelopes_are_canonical_and_complete),
        cmocka_unit_test(test_spokes_see_exactly_the_hubs),
        cmocka_unit_test(test_full_mesh_gives_n_minus_one),
        cmocka_unit_test(test_no_hubs_means_no_peers),
        cmocka_unit_test(test_new_spoke_changes_only_hubs),
        cmocka_unit_test(test_firewall_fails_closed),
        cmocka_unit_test(test_spoke_rulesets_are_narrowed_safely),
        cmocka_unit_test(test_nat_on_the_hub_only_and_skips_unresolvable),
        cmocka_unit_test(test_device_config_has_placeholder_and_hubs),
        cmocka_unit_test(test_full_tunnel_through_the_exit_hub),
        cmocka_unit_test(test_digest_equal_exactly_when_envelope_equal),
        cmocka_unit_test(test_digest_follows_bgp_changes),
        cmocka_unit_test(test_ovn_plan_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
