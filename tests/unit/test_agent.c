/* The agent's pure parts: the UAPI text parser and writer, the peer diff
 * (including the endpoint-roaming rule), the daemon's envelope reader and
 * the detached envelope signature. The same code against real wireguard-go
 * is tests/e2e/agent.sh. */
#include <errno.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/envelope.h"
#include "agent/msg.h"
#include "agent/ovn.h"
#include "agent/proc.h"
#include "agent/uapi.h"
#include "agent/wg.h"
#include "agent/wgnl.h"
#include "compile/credential.h"

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>

static nn_key key_n(uint8_t n)
{
    nn_key k;
    memset(k.bytes, n, sizeof(k.bytes));
    return k;
}

static const char *hex_n(uint8_t n)
{
    static char buf[8][65];
    static int slot;
    char *b = buf[slot++ & 7];
    for (int i = 0; i < 32; i++)
        snprintf(b + 2 * i, 3, "%02x", n);
    return b;
}

static nn_prefix pfx(const char *s)
{
    nn_prefix p;
    const char *why;
    assert_int_equal(nn_prefix_parse(s, false, false, &p, &why), 0);
    return p;
}

static int parse(const char *text, nn_wg_device *d, char *why)
{
    return nn_uapi_parse_get(text, strlen(text), d, why, 200);
}

static void test_parse_get(void **state)
{
    (void)state;
    char text[2048], why[200] = "";
    snprintf(text, sizeof(text),
             "private_key=%s\nlisten_port=51820\nfwmark=0\n"
             "public_key=%s\npreshared_key=%s\nprotocol_version=1\n"
             "endpoint=[fe80::1%%eth0]:51821\nlast_handshake_time_sec=1700000000\n"
             "last_handshake_time_nsec=5\ntx_bytes=10\nrx_bytes=20\n"
             "persistent_keepalive_interval=25\nallowed_ip=fd00::2/128\nallowed_ip=10.0.0.2/32\n"
             "public_key=%s\nendpoint=192.0.2.1:51820\nallowed_ip=10.0.0.1/32\n"
             "some_future_key=x\nerrno=0\n\n",
             hex_n(7), hex_n(9), hex_n(0), hex_n(3));
    nn_wg_device d;
    assert_int_equal(parse(text, &d, why), 0);
    nn_key priv = key_n(7), pub;
    crypto_scalarmult_base(pub.bytes, priv.bytes);
    assert_true(d.flags & NN_WG_HAS_PRIVATE_KEY);
    assert_memory_equal(d.public_key.bytes, pub.bytes, 32);
    assert_memory_equal(d.private_key.bytes, key_n(0).bytes, 32); /* never kept */
    assert_int_equal(d.listen_port, 51820);
    assert_int_equal(d.n_peers, 2);
    /* Sorted by key: 0x03.. before 0x09.. */
    assert_memory_equal(d.peers[0].public_key.bytes, key_n(3).bytes, 32);
    assert_int_equal(d.peers[0].endpoint.family, NN_AF_INET4);
    assert_int_equal(d.peers[0].endpoint.port, 51820);
    const nn_wg_peer *p = &d.peers[1];
    assert_int_equal(p->endpoint.family, NN_AF_INET6);
    assert_int_equal(p->endpoint.port, 51821);
    assert_int_equal(p->keepalive, 25);
    assert_int_equal(p->last_handshake_sec, 1700000000);
    assert_int_equal(p->rx_bytes, 20);
    assert_int_equal(p->tx_bytes, 10);
    assert_int_equal(p->n_allowed, 2);
    nn_prefix v4 = pfx("10.0.0.2/32");
    assert_int_equal(nn_prefix_cmp(&p->allowed[0], &v4), 0); /* IPv4 sorts first */
    nn_wg_device_free(&d);

    assert_int_equal(parse("errno=0\n\n", &d, why), 0);
    assert_int_equal(d.n_peers, 0);
    assert_false(d.flags & NN_WG_HAS_PRIVATE_KEY);
    nn_wg_device_free(&d);
}

static void test_parse_get_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *text, *why;
        int r;
    } cases[] = {
        {"listen_port=1\n", "without errno", -EPROTO},
        {"errno=0\n", "without errno", -EPROTO},
        {"errno=0\n\nlisten_port=1\n", "text after the errno line", -EPROTO},
        {"errno=0\nx=1\n\n", "text after the errno line", -EPROTO},
        {"allowed_ip=10.0.0.0/8\nerrno=0\n\n", "before any public_key", -EPROTO},
        {"public_key=zz\nerrno=0\n\n", "public_key is not 64 hex", -EPROTO},
        {"listen_port=65536\nerrno=0\n\n", "listen_port out of range", -EPROTO},
        {"listen_port=\nerrno=0\n\n", "listen_port out of range", -EPROTO},
        {"\nerrno=0\n\n", "blank line before errno", -EPROTO},
        {"no equals sign\nerrno=0\n\n", "not a key=value line", -EPROTO},
        {"=1\nerrno=0\n\n", "not a key=value line", -EPROTO},
        {"errno=-22\n\n", "errno=22", -22},
        {"errno=x\n\n", "errno is not a number", -EPROTO},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nn_wg_device d;
        char why[200] = "";
        int r = parse(cases[i].text, &d, why);
        if (r != cases[i].r || !strstr(why, cases[i].why))
            fail_msg("case %zu: r=%d why=\"%s\"", i, r, why);
        assert_int_equal(d.n_peers, 0); /* freed on failure */
    }
    /* Duplicated keys, an endpoint that is not ADDR:PORT, a bad prefix. */
    char text[512], why[200];
    nn_wg_device d;
    snprintf(text, sizeof(text), "public_key=%s\npublic_key=%s\nerrno=0\n\n", hex_n(1), hex_n(1));
    assert_int_equal(parse(text, &d, why), -EPROTO);
    assert_non_null(strstr(why, "appears twice"));
    snprintf(text, sizeof(text), "public_key=%s\nendpoint=host:1\nerrno=0\n\n", hex_n(1));
    assert_int_equal(parse(text, &d, why), -EPROTO);
    snprintf(text, sizeof(text), "public_key=%s\nallowed_ip=10.0.0.0/33\nerrno=0\n\n", hex_n(1));
    assert_int_equal(parse(text, &d, why), -EPROTO);
    assert_non_null(strstr(why, "line 2"));
}

static nn_wg_peer *add(nn_wg_device *d, uint8_t n, const char *ep, uint16_t ka, const char *a1,
                       const char *a2)
{
    nn_key k = key_n(n);
    nn_wg_peer *p = nn_wg_device_add_peer(d, &k);
    if (ep)
        assert_int_equal(nn_wg_endpoint_parse(ep, strlen(ep), &p->endpoint), 0);
    p->keepalive = ka;
    nn_prefix x = pfx(a1);
    nn_wg_peer_add_allowed(p, &x);
    if (a2) {
        x = pfx(a2);
        nn_wg_peer_add_allowed(p, &x);
    }
    return p;
}

/* Only what differs is written: a removed peer, a new peer, a peer with a
 * changed prefix; the equal peer does not appear at all. */
static void test_diff_and_set_text(void **state)
{
    (void)state;
    nn_wg_device want = {0}, have = {0}, change;
    add(&want, 1, "192.0.2.1:51820", 25, "10.0.0.1/32", "fd00::1/128"); /* new */
    add(&want, 2, NULL, 0, "10.0.0.2/32", "10.1.0.0/16");               /* changed prefixes */
    add(&want, 3, NULL, 0, "fd00::3/128", "10.0.0.3/32");               /* equal */
    add(&have, 3, "198.51.100.3:4000", 0, "10.0.0.3/32", "fd00::3/128");
    add(&have, 2, "198.51.100.2:4000", 0, "10.0.0.2/32", NULL);
    add(&have, 4, NULL, 0, "10.0.0.4/32", NULL); /* gone */
    want.flags = have.flags = NN_WG_HAS_LISTEN_PORT;
    want.listen_port = have.listen_port = 51820;
    assert_int_equal(nn_wg_device_sort(&want), 0);
    assert_int_equal(nn_wg_device_sort(&have), 0);
    assert_int_equal(nn_wg_diff(&want, &have, NULL, &change), 3);
    nn_buf out = NN_BUF_INIT;
    nn_uapi_format_set(&change, &out);
    char expect[1024];
    snprintf(expect, sizeof(expect),
             "set=1\n"
             "public_key=%s\nendpoint=192.0.2.1:51820\npersistent_keepalive_interval=25\n"
             "replace_allowed_ips=true\nallowed_ip=10.0.0.1/32\nallowed_ip=fd00::1/128\n"
             "public_key=%s\nupdate_only=true\nreplace_allowed_ips=true\n"
             "allowed_ip=10.0.0.2/32\nallowed_ip=10.1.0.0/16\n"
             "public_key=%s\nremove=true\n\n",
             hex_n(1), hex_n(2), hex_n(4));
    assert_string_equal(out.data, expect);
    nn_buf_free(&out);
    nn_wg_device_free(&change);

    /* Equal devices: an empty change. */
    assert_int_equal(nn_wg_diff(&want, &want, NULL, &change), 0);
    assert_int_equal(change.flags, 0);
    nn_wg_device_free(&change);
    /* Private key: set when the device has none or another one. */
    want.flags |= NN_WG_HAS_PRIVATE_KEY;
    want.public_key = key_n(9);
    nn_wg_diff(&want, &have, NULL, &change);
    assert_true(change.flags & NN_WG_HAS_PRIVATE_KEY);
    nn_wg_device_free(&change);
    have.flags |= NN_WG_HAS_PRIVATE_KEY;
    have.public_key = key_n(9);
    nn_wg_diff(&want, &have, NULL, &change);
    assert_false(change.flags & NN_WG_HAS_PRIVATE_KEY);
    nn_wg_device_free(&change);
    nn_wg_device_free(&want);
    nn_wg_device_free(&have);
}

/* The roaming rule, case by case: (desired, device, previous desired). */
static void test_diff_endpoint_roaming(void **state)
{
    (void)state;
    static const struct {
        const char *want, *have, *prev;
        bool no_prev, written;
    } cases[] = {
        {"192.0.2.1:1", "203.0.113.9:7", "192.0.2.1:1", false, false}, /* roamed: kept */
        {"192.0.2.1:1", "203.0.113.9:7", "192.0.2.8:1", false, true},  /* intent moved */
        {"192.0.2.1:1", "203.0.113.9:7", NULL, true, true},            /* first apply */
        {"192.0.2.1:1", NULL, "192.0.2.1:1", false, true},             /* device has none */
        {NULL, "203.0.113.9:7", NULL, false, false},                   /* none wanted */
        {"192.0.2.1:1", "192.0.2.1:1", NULL, true, false},             /* equal */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nn_wg_device want = {0}, have = {0}, prev = {0}, change;
        add(&want, 1, cases[i].want, 0, "10.0.0.1/32", NULL);
        add(&have, 1, cases[i].have, 0, "10.0.0.1/32", NULL);
        add(&prev, 1, cases[i].prev, 0, "10.0.0.1/32", NULL);
        size_t n = nn_wg_diff(&want, &have, cases[i].no_prev ? NULL : &prev, &change);
        bool written = n == 1 && (change.peers[0].flags & NN_WG_PEER_HAS_ENDPOINT);
        if (written != cases[i].written || n != (cases[i].written ? 1u : 0u))
            fail_msg("case %zu: n=%zu written=%d", i, n, written);
        nn_wg_device_free(&change);
        nn_wg_device_free(&want);
        nn_wg_device_free(&have);
        nn_wg_device_free(&prev);
    }
}

static void test_endpoint_and_ifname(void **state)
{
    (void)state;
    nn_wg_endpoint e;
    char buf[56];
    assert_int_equal(nn_wg_endpoint_parse("[fd00::1]:65535", 15, &e), 0);
    assert_string_equal(nn_wg_endpoint_format(&e, buf), "[fd00::1]:65535");
    static const char *const bad[] = {
        "",           ":1",         "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536",
        "[fd00::1:1", "fd00::1]:1", "[]:1",    "a.b:1",    "1.2.3.4:1x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (nn_wg_endpoint_parse(bad[i], strlen(bad[i]), &e) == 0)
            fail_msg("accepted endpoint \"%s\"", bad[i]);
    assert_true(nn_wg_ifname_valid("nn-0123abcd"));
    assert_true(nn_wg_ifname_valid("a23456789012345"));
    assert_false(nn_wg_ifname_valid("a234567890123456"));
    assert_false(nn_wg_ifname_valid("../x"));
    assert_false(nn_wg_ifname_valid(".."));
    assert_false(nn_wg_ifname_valid(""));
}

static const char envelope_ok[] =
    "{\"bgp\":{\"enabled\":false},\"firewall\":{\"ruleset\":\"add table inet nanami\\n"
    "add rule inet nanami c iifname \\\"nn-00000001\\\" accept\\n\"},"
    "\"interface\":{\"addresses\":[\"10.0.0.1/32\",\"fd00::1/128\"],\"forwarding\":false,"
    "\"listen_port\":51820,"
    "\"mtu\":1420,\"name\":\"nn-00000001\",\"routes\":[\"10.0.0.0/24\"]},"
    "\"nat\":{\"ruleset\":\"\",\"skipped\":[]},"
    "\"peers\":[{\"allowed_ips\":[\"10.0.0.2/32\"],\"endpoint\":\"192.0.2.2:51820\","
    "\"name\":\"b\",\"persistent_keepalive\":25,"
    "\"public_key\":\"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\"}],"
    "\"self\":{\"role\":\"spoke\"}}";

/* base with its first from replaced by to, into out. */
static void splice(const char *base, const char *from, const char *to, char *out, size_t n)
{
    const char *at = strstr(base, from);
    assert_non_null(at);
    snprintf(out, n, "%.*s%s%s", (int)(at - base), base, to, at + strlen(from));
}

static void test_envelope_parse(void **state)
{
    (void)state;
    nn_agent_envelope e;
    char why[300] = "";
    assert_int_equal(
        nn_agent_envelope_parse(envelope_ok, sizeof(envelope_ok) - 1, NULL, &e, why, sizeof(why)),
        0);
    assert_false(e.node);
    assert_int_equal(e.n_ifaces, 1);
    const nn_agent_iface *f = &e.ifaces[0];
    assert_string_equal(f->ifname, "nn-00000001");
    assert_int_equal(f->mtu, 1420);
    assert_false(f->forwarding);
    assert_false(e.forwarding);
    assert_int_equal(f->n_addresses, 2);
    assert_int_equal(f->n_routes, 1);
    assert_int_equal(f->wg.n_peers, 1);
    assert_memory_equal(f->wg.peers[0].public_key.bytes, key_n(1).bytes, 32);
    assert_int_equal(f->wg.peers[0].keepalive, 25);
    assert_null(e.frr_text);
    assert_string_equal(f->vrf, "");
    assert_int_equal(nn_agent_envelope_rename(&e, "nn-zzz", "nnt0"), -ENOENT);
    assert_int_equal(nn_agent_envelope_rename(&e, "nn-00000001", "nnt0"), 0);
    assert_string_equal(e.ifaces[0].ifname, "nnt0");
    assert_non_null(strstr(e.nft_ruleset, "iifname \"nnt0\" accept"));
    assert_null(strstr(e.nft_ruleset, "nn-00000001"));
    nn_agent_envelope_free(&e);

    static const struct {
        const char *from, *to, *path;
    } edits[] = {
        {"\"mtu\":1420", "\"mtu\":1000", "interface.mtu"},
        {"\"mtu\":1420", "\"mtu\":\"1420\"", "interface.mtu"},
        {"nn-00000001\",\"routes", "nn-0000000100000001\",\"routes", "interface.name"},
        {"\"10.0.0.0/24\"", "\"10.0.0.0/33\"", "interface.routes[0]"},
        {"\"10.0.0.2/32\"", "7", "peers[0].allowed_ips[0]"},
        {"192.0.2.2:51820", "hub.example:51820", "peers[0].endpoint"},
        {"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "AQEB", "peers[0].public_key"},
        {"\"persistent_keepalive\":25", "\"persistent_keepalive\":-1",
         "peers[0].persistent_keepalive"},
        {"\"role\":\"spoke\"", "\"role\":\"boss\"", "self.role"},
        {"\"forwarding\":false", "\"forwarding\":0", "interface.forwarding"},
        {"\"routes\":[\"10.0.0.0/24\"]", "\"routes\":[],\"vrf\":{\"name\":\"../x\"}",
         "interface.vrf.name"},
        {"\"routes\":[\"10.0.0.0/24\"]", "\"routes\":[],\"vrf\":{\"table_id\":1}",
         "interface.vrf.name"},
        {"\"nat\":{\"ruleset\":\"\"", "\"nat\":{\"rules\":\"\"", "nat.ruleset"},
        {"\"enabled\":false", "\"enabled\":true", "bgp.frr_text"},
        {"{\"bgp\"", "[{\"bgp\"", "byte"},
        {"{\"bgp\"", "{\"ovn\":{\"nb_endpoint\":\"tcp:1\"},\"bgp\"", "ovn.nb_endpoint"},
    };
    /* iBGP: the FRR text and the VRF its instance runs in. */
    char bgp[2048];
    static const char with_bgp[] =
        "{\"bgp\":{\"enabled\":true,\"frr_text\":\"router bgp 64512 vrf vrf-0a\\n\"},";
    static const char with_vrf[] = "\"routes\":[],\"vrf\":{\"name\":\"vrf-0a\",\"table_id\":7}";
    const char *tail = strstr(envelope_ok, "\"firewall\"");
    const char *routes = strstr(envelope_ok, "\"routes\":[\"10.0.0.0/24\"]");
    snprintf(bgp, sizeof(bgp), "%s%.*s%s%s", with_bgp, (int)(routes - tail), tail, with_vrf,
             routes + strlen("\"routes\":[\"10.0.0.0/24\"]"));
    assert_int_equal(nn_agent_envelope_parse(bgp, strlen(bgp), NULL, &e, why, sizeof(why)), 0);
    assert_string_equal(e.frr_text, "router bgp 64512 vrf vrf-0a\n");
    assert_string_equal(e.ifaces[0].vrf, "vrf-0a");
    nn_agent_envelope_free(&e);

    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        char text[2048];
        splice(envelope_ok, edits[i].from, edits[i].to, text, sizeof(text));
        int r = nn_agent_envelope_parse(text, strlen(text), NULL, &e, why, sizeof(why));
        if (r != -EINVAL || !strstr(why, edits[i].path))
            fail_msg("edit %zu: r=%d why=\"%s\"", i, r, why);
        assert_int_equal(e.n_ifaces, 0);
        assert_null(e.ifaces);
    }
}

/* A node document: its interfaces sorted by name, each with its peers;
 * its bridges sorted by name; the host's FRR text ("" is none); every
 * problem named by its path. */
static const char node_ok[] =
    "{\"firewall\":{\"ruleset\":\"add table inet nanami\\n"
    "add rule inet nanami c iifname \\\"nn-b\\\" accept\\n\"},\"frr_text\":\"\","
    "\"host_bridges\":[{\"ipfix\":null,\"kernel_name\":\"nnovs2\",\"kind\":\"ovs\",\"name\":\"t\","
    "\"short_id\":2},{\"ipfix\":null,\"kernel_name\":\"nnbr1\",\"kind\":\"linux\",\"name\":\"m\","
    "\"short_id\":1}],"
    "\"interfaces\":["
    "{\"addresses\":[\"10.1.0.1/32\"],\"forwarding\":true,\"listen_port\":51821,\"mtu\":1420,"
    "\"name\":\"nn-b\",\"networks\":[\"lab\"],\"peers\":[{\"allowed_ips\":[\"10.1.0.2/32\"],"
    "\"endpoint\":null,\"name\":\"x\",\"persistent_keepalive\":0,"
    "\"public_key\":\"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\"}],\"routes\":[],"
    "\"vrf\":{\"name\":\"vrf-b\",\"table_id\":100}},"
    "{\"addresses\":[\"10.0.0.1/32\"],\"forwarding\":false,\"listen_port\":51820,\"mtu\":1420,"
    "\"name\":\"nn-a\",\"networks\":[\"corp\",\"dev\"],\"peers\":[],\"routes\":[]}],"
    "\"memberships\":[],\"nat\":{\"ruleset\":\"\",\"skipped\":[]}}";

static void test_node_document_parse(void **state)
{
    (void)state;
    nn_agent_envelope e;
    char why[300] = "";
    if (nn_agent_envelope_parse(node_ok, sizeof(node_ok) - 1, NULL, &e, why, sizeof(why)))
        fail_msg("%s", why);
    assert_true(e.node);
    assert_int_equal(e.n_ifaces, 2);
    assert_string_equal(e.ifaces[0].ifname, "nn-a"); /* sorted */
    assert_string_equal(e.ifaces[1].ifname, "nn-b");
    assert_int_equal(e.ifaces[1].wg.listen_port, 51821);
    assert_int_equal(e.ifaces[1].wg.n_peers, 1);
    assert_string_equal(e.ifaces[1].vrf, "vrf-b");
    assert_true(e.forwarding); /* nn-b forwards */
    assert_null(e.frr_text);
    assert_int_equal(e.n_bridges, 2);
    assert_string_equal(e.bridges[0].name, "nnbr1");
    assert_false(e.bridges[0].ovs);
    assert_true(e.bridges[1].ovs);
    assert_int_equal(nn_agent_envelope_rename(&e, "nn-a", "nnbr1"), -EEXIST);
    assert_non_null(nn_agent_envelope_iface(&e, "nn-b"));
    assert_int_equal(nn_agent_envelope_rename(&e, "nn-b", "nn-a"), -EEXIST);
    assert_int_equal(nn_agent_envelope_rename(&e, "nn-b", "nt-b"), 0);
    assert_non_null(strstr(e.nft_ruleset, "iifname \"nt-b\" accept"));
    assert_string_equal(e.ifaces[1].ifname, "nt-b");
    nn_agent_envelope_free(&e);

    static const struct {
        const char *from, *to, *path;
    } edits[] = {
        {"\"name\":\"nn-a\"", "\"name\":\"nn-b\"", "interfaces: \"nn-b\" appears twice"},
        {"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "AQ", "interfaces[0].peers[0].public_key"},
        {"\"mtu\":1420,\"name\":\"nn-a\"", "\"mtu\":576,\"name\":\"nn-a\"", "interfaces[1].mtu"},
        {"\"frr_text\":\"\"", "\"frr_text\":null", "frr_text"},
        {"\"interfaces\":[", "\"interfaces\":{\"x\":[", "byte"},
        {"\"interfaces\":[{", "\"interfaces\":[7,{", "interfaces[0]"},
        {"\"kind\":\"ovs\"", "\"kind\":\"vpp\"", "host_bridges[0].kind"},
        {"\"kernel_name\":\"nnbr1\"", "\"kernel_name\":\"nnovs2\"", "\"nnovs2\" appears twice"},
        {"\"kernel_name\":\"nnbr1\"", "\"kernel_name\":\"nn-a\"", "\"nn-a\" is an interface"},
        {"\"kernel_name\":\"nnbr1\"", "\"kernel_name\":\"../x\"", "host_bridges[1].kernel_name"},
        {"\"host_bridges\":[", "\"host_bridges\":{\"a\":[", "byte"},
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        char text[2048];
        splice(node_ok, edits[i].from, edits[i].to, text, sizeof(text));
        int r = nn_agent_envelope_parse(text, strlen(text), NULL, &e, why, sizeof(why));
        if (r != -EINVAL || !strstr(why, edits[i].path))
            fail_msg("edit %zu: r=%d why=\"%s\"", i, r, why);
        assert_int_equal(e.n_ifaces, 0);
    }
}

/* The envelope's OVN plan as the daemon reads it, and ovn-nbctl's answer
 * about the tagged rows: both come out as the same lines when the
 * database holds the plan. */
static const char ovn_plan[] =
    "{\"nb_endpoint\":\"unix:/run/ovn/ovnnb_db.sock\",\"nb_plan\":{\"compiled_at\":null,"
    "\"deployment_id\":\"0123456789abcdef0123456789abcdef\",\"name\":\"dc1\",\"plan\":["
    "{\"args\":[\"sw\"],\"cmd\":\"ls-add\",\"options\":[\"--may-exist\"]},"
    "{\"args\":[\"sw\",\"p\"],\"cmd\":\"lsp-add\",\"options\":[\"--may-exist\"]},"
    "{\"args\":[\"p\",\"0a:00:00:00:00:02 10.0.0.2\",\"0a:00:00:00:00:01 10.0.0.1\"],"
    "\"cmd\":\"lsp-set-addresses\",\"options\":[]},"
    "{\"args\":[\"p\",\"\"],\"cmd\":\"lsp-set-type\",\"options\":[]},"
    "{\"args\":[\"sw\",\"to-lport\",\"1001\",\"ip4 && tcp.dst == 80\",\"allow\"],"
    "\"cmd\":\"acl-add\",\"options\":[\"--may-exist\"]}],"
    "\"version\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}}";

static int ovn_parse_text(const char *text, nn_ovn_plan *p, char *why, size_t why_len)
{
    json_t *j = json_loads(text, 0, NULL);
    int r = j ? nn_ovn_plan_parse(j, p, why, why_len) : -EINVAL;
    json_decref(j);
    return r;
}

static void test_ovn_plan(void **state)
{
    (void)state;
    nn_ovn_plan p;
    char why[300] = "";
    assert_int_equal(ovn_parse_text(ovn_plan, &p, why, sizeof(why)), 0);
    assert_int_equal(p.nswitches, 1);
    assert_int_equal(p.nports, 1);
    assert_int_equal(p.nacls, 1);
    assert_string_equal(p.ports[0].addresses[0], "0a:00:00:00:00:01 10.0.0.1");
    assert_int_equal(p.acls[0].priority, 1001);
    nn_buf lines = NN_BUF_INIT;
    nn_ovn_plan_lines(&p, &lines);
    static const char want[] =
        "[\"acl\",\"sw\",\"to-lport\",1001,\"allow\",\"ip4 && tcp.dst == 80\"]\n"
        "[\"ls\",\"sw\"]\n"
        "[\"lsp\",\"sw\",\"p\",\"\",[\"0a:00:00:00:00:01 10.0.0.1\",\"0a:00:00:00:00:02 "
        "10.0.0.2\"]]\n";
    assert_string_equal(lines.data, want);
    nn_ovn_plan_free(&p);

    /* The same rows as ovn-nbctl --format=json gives them (three finds). */
    static const char db[] =
        "{\"data\":[[[\"uuid\",\"a1\"],\"sw\",[\"uuid\",\"b2\"],[\"uuid\",\"c3\"]]],"
        "\"headings\":[\"_uuid\",\"name\",\"ports\",\"acls\"]}\n"
        "{\"data\":[[[\"uuid\",\"b2\"],\"p\",[\"set\",[\"0a:00:00:00:00:01 10.0.0.1\","
        "\"0a:00:00:00:00:02 10.0.0.2\"]],\"\"]],"
        "\"headings\":[\"_uuid\",\"name\",\"addresses\",\"type\"]}\n"
        "{\"data\":[[[\"uuid\",\"c3\"],\"to-lport\",1001,\"ip4 && tcp.dst == 80\",\"allow\"]],"
        "\"headings\":[\"_uuid\",\"direction\",\"priority\",\"match\",\"action\"]}\n";
    nn_buf got = NN_BUF_INIT;
    assert_int_equal(nn_ovn_state_lines(db, sizeof(db) - 1, &got, why, sizeof(why)), 0);
    assert_string_equal(got.data, want);
    nn_buf_reset(&got);
    /* Output of another shape is refused, not guessed at. */
    assert_int_equal(nn_ovn_state_lines(db, 100, &got, why, sizeof(why)), -EINVAL);
    char other[sizeof(db)];
    memcpy(other, db, sizeof(db));
    memcpy(strstr(other, "\"acls\""), "\"aclz\"", 6);
    assert_int_equal(nn_ovn_state_lines(other, sizeof(db) - 1, &got, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "Logical_Switch"));
    nn_buf_free(&got);
    nn_buf_free(&lines);

    static const struct {
        const char *from, *to, *path;
    } edits[] = {
        {"\"cmd\":\"ls-add\"", "\"cmd\":\"ls-del\"", "plan[0].cmd"},
        {"[\"--may-exist\"]", "[\"--if-exists\"]", "plan[0].options[0]"},
        {"[\"sw\",\"p\"]", "[\"nosuch\",\"p\"]", "plan[1].args[0]: no switch"},
        {"[\"sw\",\"p\"]", "[\"sw\",\"-p\"]", "plan[1].args[1]"},
        {"[\"sw\",\"p\"]", "[\"sw\"]", "plan[1].args: lsp-add takes 2"},
        {"[\"p\",\"\"]", "[\"p\",\"bridge\"]", "plan[3].args[1]"},
        {"\"1001\"", "\"70000\"", "plan[4].args[2]"},
        {"\"1001\"", "\"1e3\"", "plan[4].args[2]"},
        {"\"allow\"]", "\"permit\"]", "plan[4].args[4]"},
        {"ip4 && tcp", "ip4\\u0001 && tcp", "plan[4].args[3]"},
        {"unix:/run/ovn/ovnnb_db.sock", "http://x", "ovn.nb_endpoint"},
        {"0123456789abcdef0123456789abcdef\"", "xyz\"", "nb_plan.deployment_id"},
        {"{\"args\":[\"p\",\"\"]", "{\"args\":[\"q\",\"\"]", "plan[3].args[0]: no port"},
        {"{\"args\":[\"sw\",\"to-lport\"",
         "{\"args\":[\"sw\"],\"cmd\":\"ls-add\",\"options\":[]},"
         "{\"args\":[\"sw\",\"to-lport\"",
         "switch \"sw\" is added twice"},
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        char text[4096];
        splice(ovn_plan, edits[i].from, edits[i].to, text, sizeof(text));
        int r = ovn_parse_text(text, &p, why, sizeof(why));
        if (r != -EINVAL || !strstr(why, edits[i].path))
            fail_msg("edit %zu: r=%d why=\"%s\"", i, r, why);
        assert_null(p.json);
    }
}

/* The helper runner the daemon uses for frr-reload.py and vtysh: exit
 * status, captured output (both streams, bounded), a missing program,
 * and a deadline that kills. */
static void test_proc_run(void **state)
{
    (void)state;
    nn_buf out = NN_BUF_INIT;
    char *both[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    assert_int_equal(nn_proc_run(both, 5000, &out, 1024), 3);
    assert_string_equal(out.data, "out\nerr\n");
    char line[8];
    nn_proc_last_line(&out, line, sizeof(line)); /* the reason comes last */
    assert_string_equal(line, "err");
    nn_buf_reset(&out);
    nn_proc_last_line(&out, line, sizeof(line));
    assert_string_equal(line, "");
    char *big[] = {"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x", NULL};
    assert_int_equal(nn_proc_run(big, 5000, &out, 10), 0);
    assert_int_equal(out.len, 10);
    nn_buf_reset(&out);
    char *missing[] = {"/nonexistent/nanami-helper", NULL};
    assert_int_equal(nn_proc_run(missing, 5000, &out, 1024), -ENOENT);
    char *slow[] = {"sleep", "5", NULL};
    assert_int_equal(nn_proc_run(slow, 100, &out, 1024), -ETIMEDOUT);
    char *killed[] = {"sh", "-c", "kill -9 $$", NULL};
    assert_int_equal(nn_proc_run(killed, 5000, &out, 1024), -ECHILD);
    nn_buf_free(&out);
}

static void test_envelope_signature(void **state)
{
    (void)state;
    uint8_t pk[32], sk[64], pk2[32], sk2[64];
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(pk2, sk2);
    char sig[NN_ENVELOPE_SIG_MAX], spaced[160];
    size_t n = sizeof(envelope_ok) - 1;
    uint64_t rev = 0;
    nn_envelope_sign(envelope_ok, n, 1732234567890u, sk, sig);
    assert_int_equal(strlen(sig), 14 + NN_ENVELOPE_SIG_B64_LEN);
    assert_memory_equal(sig, "1732234567890.", 14);
    assert_int_equal(nn_envelope_verify(envelope_ok, n, sig, pk, &rev), 0);
    assert_int_equal(rev, 1732234567890u);
    rev = 0;
    assert_int_equal(nn_envelope_token_revision(sig, &rev), 0);
    assert_int_equal(rev, 1732234567890u);
    snprintf(spaced, sizeof(spaced), "  %s\n", sig);
    assert_int_equal(nn_envelope_verify(envelope_ok, n, spaced, pk, &rev), 0);
    assert_int_equal(nn_envelope_verify(envelope_ok, n - 1, sig, pk, &rev), -EBADMSG);
    assert_int_equal(nn_envelope_verify(envelope_ok, n, sig, pk2, &rev), -EBADMSG);
    assert_int_equal(nn_envelope_verify(envelope_ok, n, "", pk, &rev), -EBADMSG);
    assert_int_equal(nn_envelope_verify(envelope_ok, n, NULL, pk, &rev), -EBADMSG);
    snprintf(spaced, sizeof(spaced), "%sAA==", sig);
    assert_int_equal(nn_envelope_verify(envelope_ok, n, spaced, pk, &rev), -EBADMSG);
    /* The revision is signed: another number with the same signature fails. */
    snprintf(spaced, sizeof(spaced), "1732234567891%s", sig + 13);
    assert_int_equal(nn_envelope_verify(envelope_ok, n, spaced, pk, &rev), -EBADMSG);
    /* Malformed revisions: none, a leading zero, 20 digits, a sign. */
    static const char *const bad_rev[] = {".", "01.", "12345678901234567890.", "-1.", "1"};
    for (size_t i = 0; i < sizeof(bad_rev) / sizeof(bad_rev[0]); i++) {
        snprintf(spaced, sizeof(spaced), "%s%s", bad_rev[i], sig + 14);
        assert_int_equal(nn_envelope_verify(envelope_ok, n, spaced, pk, &rev), -EBADMSG);
        assert_int_equal(nn_envelope_token_revision(spaced, &rev), -EBADMSG);
    }
    nn_envelope_sign(envelope_ok, n, 0, sk, sig);
    assert_int_equal(nn_envelope_verify(envelope_ok, n, sig, pk, &rev), 0);
    assert_int_equal(rev, 0);
    /* Without the domain the same key's plain signature does not verify. */
    unsigned char raw[64];
    char raw64[100];
    crypto_sign_detached(raw, NULL, (const unsigned char *)envelope_ok, n, sk);
    sodium_bin2base64(raw64, sizeof(raw64), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
    snprintf(spaced, sizeof(spaced), "0.%s", raw64);
    assert_int_equal(nn_envelope_verify(envelope_ok, n, spaced, pk, &rev), -EBADMSG);
}

/* The manager <-> daemon frame: every header field is checked, bounds
 * depend on type and direction, and a frame survives a real socket. */
/* A change with a peer of 1,500 allowed IPs: the SET_DEVICE messages stay
 * within a page, only the first carries the private key and the peer's
 * REPLACE_ALLOWEDIPS, and continuations are UPDATE_ONLY. Read back as a
 * GET_DEVICE dump (the same attributes), the peer is joined whole --
 * which is what the kernel's dump of such a peer looks like. The real
 * kernel is tests/vm/wide.sh. */
static void test_wgnl_messages(void **state)
{
    (void)state;
    nn_wg_device change = {0};
    change.flags = NN_WG_HAS_PRIVATE_KEY | NN_WG_HAS_LISTEN_PORT;

    change.listen_port = 51820;
    const nn_key k1 = key_n(1), k2 = key_n(2), k9 = key_n(9);
    change.private_key = k9;
    crypto_scalarmult_base(change.public_key.bytes, k9.bytes);
    nn_wg_peer *p = nn_wg_device_add_peer(&change, &k1);
    p->flags = NN_WG_PEER_REPLACE_ALLOWED_IPS | NN_WG_PEER_HAS_ENDPOINT | NN_WG_PEER_HAS_KEEPALIVE;
    assert_int_equal(nn_wg_endpoint_parse("[2001:db8::1]:51820", 19, &p->endpoint), 0);
    p->keepalive = 25;
    for (unsigned i = 0; i < 1500; i++) {
        nn_prefix pf = {.family = NN_AF_INET4, .len = 32, .addr = {10, 200, i >> 8, i & 255}};
        nn_wg_peer_add_allowed(p, &pf);
    }
    nn_wg_peer *q = nn_wg_device_add_peer(&change, &k2);
    q->flags = NN_WG_PEER_REPLACE_ALLOWED_IPS | NN_WG_PEER_UPDATE_ONLY;
    nn_wg_peer_add_allowed(q, &(nn_prefix){.family = NN_AF_INET6, .len = 64, .addr = {0xfd}});
    assert_int_equal(nn_wg_device_sort(&change), 0);

    nn_buf msgs = NN_BUF_INIT;
    int n = nn_wgnl_format_set(42, "nn-test", &change, 100, &msgs);
    assert_true(n >= 5); /* ~1,500 x 32 bytes of allowed IPs */
    size_t off = 0, keys = 0, replaces = 0, continued = 0;
    for (int k = 0; k < n; k++) {
        struct nlmsghdr *nlh = (struct nlmsghdr *)(msgs.data + off);
        assert_true(nlh->nlmsg_len <= NN_WGNL_SET_MAX);
        assert_int_equal(nlh->nlmsg_type, 42);
        assert_int_equal(nlh->nlmsg_seq, 100 + (unsigned)k);
        struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
        assert_int_equal(g->cmd, WG_CMD_SET_DEVICE);
        const struct nlattr *a, *peer, *b;
        mnl_attr_for_each(a, nlh, sizeof(*g))
        {
            keys += mnl_attr_get_type(a) == WGDEVICE_A_PRIVATE_KEY;
            if (mnl_attr_get_type(a) != WGDEVICE_A_PEERS)
                continue;
            mnl_attr_for_each_nested(peer, a) mnl_attr_for_each_nested(b, peer)
            {
                if (mnl_attr_get_type(b) != WGPEER_A_FLAGS)
                    continue;
                uint32_t f = mnl_attr_get_u32(b);
                replaces += !!(f & WGPEER_F_REPLACE_ALLOWEDIPS);
                continued +=
                    k > 0 && (f & WGPEER_F_UPDATE_ONLY) && !(f & WGPEER_F_REPLACE_ALLOWEDIPS);
            }
        }
        g->cmd = WG_CMD_GET_DEVICE; /* for the read-back below */
        off += NLMSG_ALIGN(nlh->nlmsg_len);
    }
    assert_int_equal(off, msgs.len);
    assert_int_equal(keys, 1);
    assert_int_equal(replaces, 2); /* each peer's first fragment only */
    assert_true(continued >= 4);   /* the wide peer, continued */
    struct nlmsghdr *done = mnl_nlmsg_put_header(memset(alloca(64), 0, 64));
    done->nlmsg_type = NLMSG_DONE;
    done->nlmsg_len = NLMSG_ALIGN(sizeof(*done) + 4);
    nn_buf_append(&msgs, done, done->nlmsg_len);

    nn_wg_device got;
    char why[200] = "";
    assert_int_equal(nn_wgnl_parse_dump(msgs.data, msgs.len, &got, why, sizeof(why)), 0);
    assert_int_equal(got.flags & NN_WG_HAS_PRIVATE_KEY, NN_WG_HAS_PRIVATE_KEY);
    assert_memory_equal(got.public_key.bytes, change.public_key.bytes, 32);
    assert_int_equal(got.listen_port, 51820);
    assert_int_equal(got.n_peers, 2);
    const nn_wg_peer *gp = nn_wg_device_find(&got, &k1);
    assert_non_null(gp);
    assert_int_equal(gp->n_allowed, 1500);
    for (size_t i = 0; i < 1500; i++)
        assert_int_equal(nn_prefix_cmp(&gp->allowed[i], &p->allowed[i]), 0);
    assert_true(nn_wg_endpoint_equal(&gp->endpoint, &p->endpoint));
    assert_int_equal(gp->keepalive, 25);
    assert_int_equal(nn_wg_device_find(&got, &k2)->n_allowed, 1);
    nn_wg_device_free(&got);

    /* Refused: no NLMSG_DONE; a peer that comes back after another; the
     * kernel's own error. */
    assert_int_equal(
        nn_wgnl_parse_dump(msgs.data, msgs.len - done->nlmsg_len, &got, why, sizeof(why)), -EPROTO);
    assert_non_null(strstr(why, "without NLMSG_DONE"));
    nn_buf two = NN_BUF_INIT;
    nn_buf_append(&two, msgs.data, msgs.len - done->nlmsg_len);
    nn_buf_append(&two, msgs.data, msgs.len); /* peer 1 again, after peer 2 */
    assert_int_equal(nn_wgnl_parse_dump(two.data, two.len, &got, why, sizeof(why)), -EPROTO);
    assert_non_null(strstr(why, "appears twice"));
    char ebuf[64] = {0};
    struct nlmsghdr *e = mnl_nlmsg_put_header(ebuf);
    e->nlmsg_type = NLMSG_ERROR;
    struct nlmsgerr *err = mnl_nlmsg_put_extra_header(e, sizeof(*err));
    err->error = -ENODEV;
    assert_int_equal(nn_wgnl_parse_dump(ebuf, e->nlmsg_len, &got, why, sizeof(why)), -ENODEV);
    sodium_memzero(msgs.data, msgs.len);
    nn_buf_free(&msgs);
    nn_buf_free(&two);
    nn_wg_device_free(&change);
}

static void test_msg_frames(void **state)
{
    (void)state;
    uint8_t type;
    uint32_t len;
    const uint8_t hello[8] = {'N', 'N', 1, 'h', 0, 0, 0, 0};
    assert_int_equal(nn_msg_header_parse(hello, 1, &type, &len), 0);
    assert_int_equal(type, NN_MSG_HELLO);
    assert_int_equal(len, 0);
    assert_int_equal(nn_msg_header_parse(hello, 0, &type, &len), -EPROTO); /* not a reply */
    const uint8_t bad_magic[8] = {'N', 'X', 1, 'h', 0, 0, 0, 0};
    const uint8_t bad_version[8] = {'N', 'N', 2, 'h', 0, 0, 0, 0};
    const uint8_t bad_type[8] = {'N', 'N', 1, 'z', 0, 0, 0, 0};
    const uint8_t big_hello[8] = {'N', 'N', 1, 'h', 0, 0, 0x10, 1};  /* 4097 > small bound */
    const uint8_t big_apply[8] = {'N', 'N', 1, 'a', 0x04, 0, 0, 1};  /* 64 MiB + 1 */
    const uint8_t fine_apply[8] = {'N', 'N', 1, 'a', 0x04, 0, 0, 0}; /* 64 MiB exactly */
    assert_int_equal(nn_msg_header_parse(bad_magic, 1, &type, &len), -EPROTO);
    assert_int_equal(nn_msg_header_parse(bad_version, 1, &type, &len), -EPROTO);
    assert_int_equal(nn_msg_header_parse(bad_type, 1, &type, &len), -EPROTO);
    assert_int_equal(nn_msg_header_parse(big_hello, 1, &type, &len), -EMSGSIZE);
    assert_int_equal(nn_msg_header_parse(big_apply, 1, &type, &len), -EMSGSIZE);
    assert_int_equal(nn_msg_header_parse(fine_apply, 1, &type, &len), 0);
    assert_int_equal(len, NN_MSG_MAX_PAYLOAD);

    char payload[300], sig[NN_ENVELOPE_SIG_MAX];
    memcpy(payload, "17.", 3);
    memset(payload + 3, 'A', 88);
    memcpy(payload + 91, "\n{}", 3);
    const char *env;
    size_t env_len;
    assert_int_equal(nn_msg_apply_split(payload, 94, sig, &env, &env_len), 0);
    assert_int_equal(strlen(sig), 91);
    assert_memory_equal(sig, "17.AAA", 6);
    assert_int_equal(env_len, 2);
    assert_memory_equal(env, "{}", 2);
    assert_int_equal(nn_msg_apply_split(payload, 92, sig, &env, &env_len), -EPROTO); /* no body */
    payload[10] = '*';
    assert_int_equal(nn_msg_apply_split(payload, 94, sig, &env, &env_len), -EPROTO);
    payload[10] = 'A';
    payload[91] = ' ';
    assert_int_equal(nn_msg_apply_split(payload, 94, sig, &env, &env_len), -EPROTO);
    /* a token line as long as the buffer: no newline within bounds */
    memset(payload, 'A', NN_ENVELOPE_SIG_MAX);
    memcpy(payload + NN_ENVELOPE_SIG_MAX, "\n{}", 3);
    assert_int_equal(nn_msg_apply_split(payload, NN_ENVELOPE_SIG_MAX + 3, sig, &env, &env_len),
                     -EPROTO);
    assert_int_equal(nn_msg_apply_split("\n{}", 3, sig, &env, &env_len), -EPROTO); /* empty */

    /* Round trip, and a short frame, over a real socket pair. */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(nn_msg_send(sv[0], NN_MSG_OK, "{\"a\":1}", 7), 0);
    nn_buf got = NN_BUF_INIT;
    assert_int_equal(nn_msg_recv(sv[1], 0, &type, &got), 0);
    assert_int_equal(type, NN_MSG_OK);
    assert_string_equal(got.data, "{\"a\":1}");
    const uint8_t cut[10] = {'N', 'N', 1, 's', 0, 0, 0, 5, '{', '}'};
    assert_int_equal(write(sv[0], cut, sizeof(cut)), (ssize_t)sizeof(cut));
    close(sv[0]);
    assert_int_equal(nn_msg_recv(sv[1], 1, &type, &got), -ECONNRESET);
    close(sv[1]);
    nn_buf_free(&got);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_get),
        cmocka_unit_test(test_parse_get_rejects),
        cmocka_unit_test(test_diff_and_set_text),
        cmocka_unit_test(test_diff_endpoint_roaming),
        cmocka_unit_test(test_endpoint_and_ifname),
        cmocka_unit_test(test_envelope_parse),
        cmocka_unit_test(test_node_document_parse),
        cmocka_unit_test(test_envelope_signature),
        cmocka_unit_test(test_proc_run),
        cmocka_unit_test(test_msg_frames),
        cmocka_unit_test(test_ovn_plan),
        cmocka_unit_test(test_wgnl_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
