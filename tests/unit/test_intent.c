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

#define NET(body)                                                                                  \
    "{\"workspaces\":[{\"name\":\"acme\",\"networks\":[{\"name\":\"corp\"," body "}]}]}"
#define HUB                                                                                        \
    "{\"name\":\"hub\",\"public_key\":\"@1@\",\"publicly_reachable\":true,\"endpoint\":\"192.0.2." \
    "1:51820\"}"
#define P(name, k) "{\"name\":\"" name "\",\"public_key\":\"@" #k "@\"}"

/* Two networks, corp and lab (in that order), with workspace fields extra. */
#define WS2(extra, corp, lab)                                                                      \
    "{\"workspaces\":[{\"name\":\"acme\"" extra ",\"networks\":[{\"name\":\"corp\"" corp           \
    "},{\"name\":\"lab\"" lab "}]}]}"
#define PEERS(list) ",\"peers\":[" list "]"
#define ISOLATED(host) ",\"hosts\":[{\"name\":\"" host "\",\"interface_per_network\":true}]"

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
    {"{\"workspaces\":[{\"name\":\"a\"},{\"name\":\"a\"}]}", "workspaces[1].name",
     "duplicate name"},
    {"{\"ula_prefix\":\"fc00::/40\",\"workspaces\":[]}", "ula_prefix", "fd00::/8"},
    {"{\"ula_prefix\":\"fd00::/48\",\"workspaces\":[]}", "ula_prefix", "must be a /40"},
    {NET("\"ipv4_cidr\":\"10.20.0.1/16\""), "workspaces[0].networks[0].ipv4_cidr", "host bits"},
    {NET("\"ipv4_cidr\":\"10.20.0.0/31\""), "workspaces[0].networks[0].ipv4_cidr", "/30"},
    {NET("\"topology_strategy\":\"ring\""), "workspaces[0].networks[0].topology_strategy",
     "not one of: hub_and_spoke, full_mesh"},
    {NET("\"listen_port\":70000"), "workspaces[0].networks[0].listen_port", "out of range"},
    {NET("\"listen_port\":\"51820\""), "workspaces[0].networks[0].listen_port",
     "must be an integer"},
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
    /* virtual IPs */
    {NET("\"peers\":[" HUB "],\"virtual_ips\":[{\"name\":\"v\",\"address\":\"10.9.0.0/24\","
         "\"holders\":[\"hub\"]}]"),
     "workspaces[0].networks[0].virtual_ips[0].address", "must be one address"},
    {NET("\"peers\":[" HUB "],\"virtual_ips\":[{\"name\":\"v\",\"address\":\"10.9.0.1\","
         "\"holders\":[\"nobody\"]}]"),
     "workspaces[0].networks[0].virtual_ips[0].holders[0]", "no peer named \"nobody\""},
    {NET("\"peers\":[" HUB "],\"virtual_ips\":[{\"name\":\"v\",\"address\":\"10.9.0.1\","
         "\"holders\":[]}]"),
     "workspaces[0].networks[0].virtual_ips[0].holders", "at least one"},
    {NET("\"peers\":[" HUB "],\"virtual_ips\":[{\"name\":\"v\",\"address\":\"10.9.0.1\","
         "\"holders\":[\"hub\",\"hub\"]}]"),
     "workspaces[0].networks[0].virtual_ips[0].holders[1]", "twice"},
    {NET("\"peers\":[" HUB "],\"virtual_ips\":[{\"name\":\"v\",\"address\":\"10.9.0.1\","
         "\"holders\":[\"hub\"],\"active\":\"other\"}]"),
     "workspaces[0].networks[0].virtual_ips[0].active", "not one of the holders"},
    {NET("\"peers\":[" HUB "],\"virtual_ips\":[{\"name\":\"v\",\"address\":\"10.9.0.1\","
         "\"holders\":[\"hub\"]},{\"name\":\"w\",\"address\":\"10.9.0.1\",\"holders\":[\"hub\"]}]"),
     "workspaces[0].networks[0].virtual_ips[1].address", "already the address"},
    {NET("\"ipv4_cidr\":\"10.9.0.0/24\",\"peers\":[" HUB "],\"virtual_ips\":[{\"name\":\"v\","
         "\"address\":\"10.9.0.0\",\"holders\":[\"hub\"]}]"),
     "workspaces[0].networks[0].virtual_ips[0].address", "network or broadcast"},
    {NET("\"peers\":[{\"name\":\"hub\",\"public_key\":\"@1@\",\"lan_subnets\":[\"10.7.0.1/32\"]}],"
         "\"virtual_ips\":[{\"name\":\"v\",\"address\":\"10.7.0.1\",\"holders\":[\"hub\"]}]"),
     "workspaces[0].networks[0].virtual_ips[0]", "already routed to \"hub\""},
    /* subnet advertisements */
    {NET("\"peers\":[" HUB "],\"subnet_advertisements\":[{\"name\":\"a\",\"peer\":\"x\","
         "\"prefix\":\"10.1.0.0/16\"}]"),
     "workspaces[0].networks[0].subnet_advertisements[0].peer", "no peer named \"x\""},
    {NET("\"peers\":[" HUB "],\"subnet_advertisements\":[{\"name\":\"a\",\"peer\":\"hub\","
         "\"prefix\":\"10.1.0.1/16\"}]"),
     "workspaces[0].networks[0].subnet_advertisements[0].prefix", "host bits"},
    {NET("\"peers\":[{\"name\":\"hub\",\"public_key\":\"@1@\",\"lan_subnets\":[\"10.1.0.0/"
         "16\"]}," P("b", 2) "],\"subnet_advertisements\":[{\"name\":\"a\",\"peer\":\"b\","
                             "\"prefix\":\"10.1.0.0/16\"}]"),
     "workspaces[0].networks[0].subnet_advertisements[0]", "already routed to \"hub\""},
    {NET("\"peers\":[" HUB "],\"subnet_advertisements\":[{\"name\":\"a\",\"peer\":\"hub\","
         "\"prefix\":\"10.1.0.0/16\"},{\"name\":\"a\",\"peer\":\"hub\",\"prefix\":\"10.2.0.0/"
         "16\"}]"),
     "workspaces[0].networks[0].subnet_advertisements[1].name", "duplicate name \"a\""},
    /* route policies */
    {NET("\"route_policies\":[{\"name\":\"p\"}]"),
     "workspaces[0].networks[0].route_policies[0].direction", "is required"},
    {NET("\"route_policies\":[{\"name\":\"p\",\"direction\":\"in\",\"statements\":[{}]}]"),
     "workspaces[0].networks[0].route_policies[0].statements[0].action", "is required"},
    {NET("\"route_policies\":[{\"name\":\"p\",\"direction\":\"in\",\"statements\":[{\"action\":"
         "\"permit\",\"match\":{\"prefixes\":[{\"prefix\":\"10.0.0.0/8\"},{\"prefix\":\"fd00::/"
         "8\"}]}}]}]"),
     "workspaces[0].networks[0].route_policies[0].statements[0].match.prefixes[1]", "mixes IPv4"},
    {NET("\"route_policies\":[{\"name\":\"p\",\"direction\":\"in\",\"statements\":[{\"action\":"
         "\"permit\",\"match\":{\"prefixes\":[{\"prefix\":\"10.0.0.0/8\",\"le\":8}]}}]}]"),
     "workspaces[0].networks[0].route_policies[0].statements[0].match.prefixes[0].le",
     "longer than"},
    {NET("\"route_policies\":[{\"name\":\"p\",\"direction\":\"in\",\"statements\":[{\"action\":"
         "\"permit\",\"match\":{\"prefixes\":[{\"prefix\":\"10.0.0.0/"
         "8\",\"ge\":24,\"le\":16}]}}]}]"),
     "workspaces[0].networks[0].route_policies[0].statements[0].match.prefixes[0].le",
     "not be shorter"},
    {NET("\"route_policies\":[{\"name\":\"p\",\"direction\":\"in\",\"statements\":[{\"action\":"
         "\"permit\",\"match\":{\"as_path\":\"65000\\nexit\"}}]}]"),
     "workspaces[0].networks[0].route_policies[0].statements[0].match.as_path", "not an as-path"},
    {NET("\"route_policies\":[{\"name\":\"p\",\"direction\":\"in\",\"statements\":[{\"action\":"
         "\"permit\",\"match\":{\"communities\":[\"70000:1\"]}}]}]"),
     "workspaces[0].networks[0].route_policies[0].statements[0].match.communities[0]",
     "not a community"},
    {NET("\"route_policies\":[{\"name\":\"p\",\"direction\":\"in\",\"statements\":[{\"action\":"
         "\"deny\",\"set\":{\"med\":5}}]}]"),
     "workspaces[0].networks[0].route_policies[0].statements[0].set", "deny statement"},
    {NET("\"route_policies\":[{\"name\":\"p\",\"direction\":\"up\"}]"),
     "workspaces[0].networks[0].route_policies[0].direction", "not one of: in, out"},
    {NET("\"peers\":[" HUB "],\"route_policies\":[{\"name\":\"p\",\"direction\":\"in\","
         "\"peers\":[\"ghost\"]}]"),
     "workspaces[0].networks[0].route_policies[0].peers[0]", "no peer named \"ghost\""},
    {"{\"workspaces\":[{\"name\":\"a\",\"route_policies\":[{\"name\":\"p\",\"direction\":\"in\","
     "\"peers\":[\"x\"]}]}]}",
     "workspaces[0].route_policies[0].peers", "belong to a network"},
    {"{\"workspaces\":[{\"name\":\"a\",\"bgp\":{\"enabled\":true,\"default_route_policy\":\"nope\"}"
     "}]}",
     "workspaces[0].bgp.default_route_policy", "no workspace route_policies entry"},
    /* route leaks */
    {"{\"workspaces\":[{\"name\":\"a\",\"networks\":[{\"name\":\"n\",\"routing_mode\":\"ibgp\","
     "\"route_leaks\":[{\"name\":\"l\",\"from\":\"m\",\"prefixes\":[\"10.0.0.0/8\"]}]}]}]}",
     "workspaces[0].networks[0].route_leaks[0].from", "no network named \"m\""},
    {"{\"workspaces\":[{\"name\":\"a\",\"networks\":[{\"name\":\"n\",\"routing_mode\":\"ibgp\","
     "\"route_leaks\":[{\"name\":\"l\",\"from\":\"m\",\"prefixes\":[\"10.0.0.0/8\"]}]},"
     "{\"name\":\"m\"}]}]}",
     "workspaces[0].networks[0].route_leaks[0].from", "both networks need"},
    {"{\"workspaces\":[{\"name\":\"a\",\"networks\":[{\"name\":\"n\",\"routing_mode\":\"ibgp\","
     "\"route_leaks\":[{\"name\":\"l\",\"from\":\"n\",\"prefixes\":[\"10.0.0.0/8\"]}]}]}]}",
     "workspaces[0].networks[0].route_leaks[0].from", "into itself"},
    {NET("\"route_leaks\":[{\"name\":\"l\",\"from\":\"x\",\"prefixes\":[]}]"),
     "workspaces[0].networks[0].route_leaks[0].prefixes", "at least one prefix"},
    /* federation */
    {"{\"workspaces\":[{\"name\":\"a\",\"federation_peers\":[{\"name\":\"f\"}]}]}",
     "workspaces[0].federation_peers[0].status", "is required"},
    {"{\"workspaces\":[{\"name\":\"a\",\"federation_peers\":[{\"name\":\"f\",\"status\":\"maybe\"}]"
     "}]}",
     "workspaces[0].federation_peers[0].status", "not one of"},
    {"{\"workspaces\":[{\"name\":\"a\",\"federation_peers\":[{\"name\":\"f\",\"status\":"
     "\"accepted\",\"networks\":[\"zz\"]}]}]}",
     "workspaces[0].federation_peers[0].networks[0]", "no network named \"zz\""},
    {"{\"workspaces\":[{\"name\":\"a\",\"networks\":[{\"name\":\"n\",\"ipv4_cidr\":\"10.0.0.0/"
     "16\"}],"
     "\"federation_peers\":[{\"name\":\"f\",\"status\":\"accepted\",\"remote_prefixes\":[\"10.0.5."
     "0/24\"]}]}]}",
     "workspaces[0].federation_peers[0].remote_prefixes[0]", "overlaps the ipv4_cidr"},
    {"{\"workspaces\":[{\"name\":\"a\",\"federation_peers\":[{\"name\":\"f\",\"status\":"
     "\"accepted\",\"remote_prefixes\":[\"10.0.5.0/24\",\"10.0.5.0/24\"]}]}]}",
     "workspaces[0].federation_peers[0].remote_prefixes", "twice"},
    /* OVN */
    {"{\"workspaces\":[{\"name\":\"a\",\"ovn_deployments\":[{\"name\":\"d\",\"nb_endpoint\":\"http:"
     "//x\","
     "\"sb_endpoint\":\"tcp:10.0.0.1:6642\"}]}]}",
     "workspaces[0].ovn_deployments[0].nb_endpoint", "is not tcp:HOST:PORT"},
    {"{\"workspaces\":[{\"name\":\"a\",\"ovn_deployments\":[{\"name\":\"d\",\"nb_endpoint\":"
     "\"tcp:10.0.0.1:6641\",\"sb_endpoint\":\"tcp:10.0.0.1:6642\",\"switches\":[{\"name\":\"s\","
     "\"ports\":[{\"name\":\"p\",\"addresses\":[\"00:11:22:33:44\"]}]}]}]}]}",
     "workspaces[0].ovn_deployments[0].switches[0].ports[0].addresses[0]", "is not \"unknown\""},
    {"{\"workspaces\":[{\"name\":\"a\",\"ovn_deployments\":[{\"name\":\"d\",\"nb_endpoint\":"
     "\"tcp:10.0.0.1:6641\",\"sb_endpoint\":\"tcp:10.0.0.1:6642\",\"switches\":[{\"name\":\"s\","
     "\"acls\":[{\"name\":\"a\",\"direction\":\"to-lport\",\"priority\":40000,\"match\":\"ip\","
     "\"action\":\"drop\"}]}]}]}]}",
     "workspaces[0].ovn_deployments[0].switches[0].acls[0].priority", "out of range"},
    {"{\"workspaces\":[{\"name\":\"a\",\"ovn_deployments\":[{\"name\":\"d\",\"nb_endpoint\":"
     "\"tcp:10.0.0.1:6641\",\"sb_endpoint\":\"tcp:10.0.0.1:6642\",\"switches\":[{\"name\":\"s\","
     "\"ports\":[{\"name\":\"p\"}]},{\"name\":\"t\",\"ports\":[{\"name\":\"p\"}]}]}]}]}",
     "workspaces[0].ovn_deployments[0].switches", "port \"p\" is on both"},
    {"{\"workspaces\":[{\"name\":\"a\",\"ovn_deployments\":[{\"name\":\"d\",\"nb_endpoint\":"
     "\"tcp:10.0.0.1:6641\",\"sb_endpoint\":\"tcp:10.0.0.1:6642\",\"updated_at\":\"yesterday\"}]}]"
     "}",
     "workspaces[0].ovn_deployments[0].updated_at", "not a UTC time"},
    /* hosts, bridges, VRF pins */
    {"{\"workspaces\":[{\"name\":\"a\",\"hosts\":[{\"name\":\"h\",\"bridges\":[{\"name\":\"b\","
     "\"ipfix\":\"c\"}]}]}]}",
     "workspaces[0].hosts[0].bridges[0].ipfix", "needs an OVS bridge"},
    {"{\"workspaces\":[{\"name\":\"a\",\"hosts\":[{\"name\":\"h\",\"profile\":\"heavyweight\","
     "\"bridges\":[{\"name\":\"b\",\"ipfix\":\"c\"}]}]}]}",
     "workspaces[0].hosts[0].bridges[0].ipfix", "no ipfix_collectors entry named \"c\""},
    {"{\"workspaces\":[{\"name\":\"a\",\"hosts\":[{\"name\":\"h\",\"bridges\":[{\"name\":\"b\","
     "\"short_id\":3},{\"name\":\"c\",\"short_id\":3}]}]}]}",
     "workspaces[0].hosts[0].bridges[1].short_id", "already pinned"},
    {"{\"workspaces\":[{\"name\":\"a\",\"hosts\":[{\"name\":\"h\",\"vrfs\":[{\"network\":\"n\","
     "\"table_id\":254}]}]}]}",
     "workspaces[0].hosts[0].vrfs[0].table_id", "reserved"},
    {"{\"workspaces\":[{\"name\":\"a\",\"hosts\":[{\"name\":\"h\",\"vrfs\":[{\"network\":\"n\","
     "\"table_id\":99}]}]}]}",
     "workspaces[0].hosts[0].vrfs[0].table_id", "out of range"},
    {"{\"workspaces\":[{\"name\":\"a\",\"hosts\":[{\"name\":\"h\",\"vrfs\":[{\"network\":\"n\","
     "\"table_id\":100}]}]}]}",
     "workspaces[0].hosts[0].vrfs", "no network named \"n\""},
    {"{\"workspaces\":[{\"name\":\"a\",\"hosts\":[{\"name\":\"h\",\"ovn\":{\"deployment\":\"d\","
     "\"encap_ip\":\"10.0.0.1\"}}]}]}",
     "workspaces[0].hosts[0].ovn", "heavyweight hosts only"},
    {"{\"workspaces\":[{\"name\":\"a\",\"hosts\":[{\"name\":\"h\"},{\"name\":\"h\"}]}]}",
     "workspaces[0].hosts[1].name", "duplicate name \"h\""},
    /* BGP router ids and credentials */
    {NET("\"peers\":[{\"name\":\"a\",\"public_key\":\"@1@\",\"bgp_router_id\":\"0.0.0.0\"}]"),
     "workspaces[0].networks[0].peers[0].bgp_router_id", "not a router id"},
    {NET("\"peers\":[{\"name\":\"a\",\"public_key\":\"@1@\",\"bgp_router_id\":\"10.0.0.1\"},"
         "{\"name\":\"b\",\"public_key\":\"@2@\",\"bgp_router_id\":\"10.0.0.1\"}]"),
     "workspaces[0].networks[0].peers[1].bgp_router_id", "already uses it"},
    {"{\"workspaces\":[{\"name\":\"a\",\"credential_validity\":{\"not_before\":\"2026-01-01T00:00:"
     "00Z\","
     "\"not_after\":\"2025-01-01T00:00:00Z\"}}]}",
     "workspaces[0].credential_validity.not_after", "later than not_before"},
    {"{\"workspaces\":[{\"name\":\"a\",\"credential_validity\":{\"not_before\":\"2026-13-01T00:00:"
     "00Z\","
     "\"not_after\":\"2027-01-01T00:00:00Z\"}}]}",
     "workspaces[0].credential_validity.not_before", "not a UTC time"},
    {"{\"workspaces\":[{\"name\":\"a\",\"bgp\":{\"enabled\":true,\"as_number\":65000}}]}",
     "workspaces[0].bgp.as_number", "out of range"},
    {"{\"workspaces\":[{\"name\":\"a\",\"networks\":[{\"name\":\"n\",\"ipv6_prefix\":"
     "\"fd00:1:2:3::/64\"},{\"name\":\"m\",\"ipv6_prefix\":\"fd00:1:2:3::/64\"}]}]}",
     "workspaces[0].networks[0]", "clashes"},
    /* a host is one node: one key, once per network, one shared interface */
    {WS2("", PEERS(P("h", 1)), PEERS(P("h", 2))), "workspaces[0].networks[1].peers[0].public_key",
     "host \"h\" has one key, and peer \"h\" of network \"corp\" gives it another"},
    {WS2(",\"hosts\":[{\"name\":\"h\",\"public_key\":\"@1@\"}]", PEERS(P("h", 2)), ""),
     "workspaces[0].networks[0].peers[0].public_key", "its hosts entry gives it another"},
    {WS2("", PEERS("{\"name\":\"h\"}"), ""), "workspaces[0].networks[0].peers[0].public_key",
     "is required: neither the peer nor its host \"h\" has one"},
    {WS2("", PEERS(P("a", 1)), PEERS(P("b", 1))), "workspaces[0].networks[1].peers[0].public_key",
     "host \"a\" has the same public key: one key is one node"},
    {WS2("", PEERS(P("a", 1)), ",\"devices\":[" P("d", 1) "]"),
     "workspaces[0].networks[1].devices[0].public_key", "is the key of host \"a\""},
    {WS2("", PEERS(P("a", 1) ",{\"name\":\"b\",\"host\":\"a\"}"), ""),
     "workspaces[0].networks[0].peers[1].host",
     "host \"a\" already runs peer \"a\" in this network"},
    {WS2("", PEERS("{\"name\":\"h\",\"public_key\":\"@1@\",\"listen_port\":51821}"),
         PEERS("{\"name\":\"h\"}")),
     "workspaces[0].networks[1].peers[0].listen_port",
     "networks \"corp\" and \"lab\", so one listen port: 51821 there, 51820 here"},
    {WS2("", ",\"mtu\":1380" PEERS(P("h", 1)), PEERS("{\"name\":\"h\"}")),
     "workspaces[0].networks[1].mtu", "so one MTU: 1380 there, 1420 here"},
    {WS2("", PEERS("{\"name\":\"h\",\"public_key\":\"@1@\",\"endpoint\":\"192.0.2.1:51820\"}"),
         PEERS("{\"name\":\"h\"}")),
     "workspaces[0].networks[1].peers[0].endpoint", "so one endpoint: 192.0.2.1:51820 there"},
    {WS2("", ",\"ipv4_cidr\":\"10.1.0.0/24\"" PEERS(P("h", 1)),
         ",\"ipv4_cidr\":\"10.1.0.0/16\"" PEERS("{\"name\":\"h\"}")),
     "workspaces[0].networks[1]", "but 10.1.0.0/16 of \"lab\" overlaps 10.1.0.0/24 of \"corp\""},
    {WS2("",
         PEERS(P("h", 1) ",{\"name\":\"a\",\"public_key\":\"@2@\",\"lan_subnets\":"
                         "[\"192.168.1.0/24\"]}"),
         PEERS("{\"name\":\"h\"},{\"name\":\"b\",\"public_key\":\"@3@\",\"lan_subnets\":"
               "[\"192.168.0.0/16\"]}")),
     "workspaces[0].networks[1]",
     "host \"h\" has one interface (one routing table) for networks \"corp\" and \"lab\""},
    {WS2(ISOLATED("x"),
         PEERS(P("h", 1) ",{\"name\":\"x\",\"public_key\":\"@2@\",\"publicly_reachable\":true,"
                         "\"endpoint\":\"192.0.2.9:51820\"}"),
         PEERS("{\"name\":\"h\"},{\"name\":\"x\",\"publicly_reachable\":true,"
               "\"listen_port\":51821,\"endpoint\":\"192.0.2.9:51821\"}")),
     "workspaces[0].networks[1].peers[1].host",
     "host \"h\" shares one interface for networks \"corp\" and \"lab\", where host \"x\" runs "
     "one interface each"},
    {WS2(ISOLATED("h"), PEERS(P("h", 1)), PEERS("{\"name\":\"h\"}")),
     "workspaces[0].networks[1].peers[0].listen_port",
     "host \"h\" already listens on 51820 for network \"corp\" (its own interface)"},
};

static void test_rejections_name_path_and_problem(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        tu_expect_reject(with_keys(cases[i].doc), cases[i].path, cases[i].msg);
}

/* What a host may do that the rejections above refuse elsewhere. */
static void test_hosts_accepted(void **state)
{
    (void)state;
    static const char *const docs[] = {
        /* peers take their host's key */
        WS2(",\"hosts\":[{\"name\":\"h\",\"public_key\":\"@1@\"}]", PEERS("{\"name\":\"h\"}"),
            PEERS("{\"name\":\"h2\",\"host\":\"h\"}")),
        /* the same LAN of the same host in both shared networks */
        WS2("",
            PEERS("{\"name\":\"h\",\"public_key\":\"@1@\",\"lan_subnets\":[\"192.168.1.0/24\"]}"),
            PEERS("{\"name\":\"h\",\"lan_subnets\":[\"192.168.1.0/24\"]}")),
        /* overlapping ranges on a host in isolation mode (ports apart) */
        WS2(ISOLATED("h"), ",\"ipv4_cidr\":\"10.1.0.0/24\"" PEERS(P("h", 1)),
            ",\"ipv4_cidr\":\"10.1.0.0/24\",\"listen_port\":51821" PEERS("{\"name\":\"h\"}")),
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        const char *text = with_keys(docs[i]);
        nn_doc *doc = NULL;
        nn_error err = {{0}, {0}};
        if (nn_intent_parse(text, strlen(text), &doc, &err) != 0)
            fail_msg("docs[%zu]: %s: %s", i, err.path, err.msg);
        const nn_workspace *ws = &doc->workspaces[0];
        const nn_host *h = nn_workspace_find_host(ws, "h");
        assert_non_null(h);
        assert_true(h->has_key);
        for (size_t n = 0; n < ws->nnetworks; n++) {
            const nn_member *m = nn_host_peer(h, &ws->networks[n]);
            assert_non_null(m);
            assert_memory_equal(m->public_key.bytes, h->public_key.bytes, NN_KEY_LEN);
            assert_string_equal(m->public_key_b64, tu_key(1));
        }
        nn_doc_free(doc);
    }
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
    const char *text = with_keys(NET("\"peers\":[" P("zeta", 2) "," HUB "," P(
        "alpha", 3) "],"
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
        cmocka_unit_test(test_hosts_accepted),
        cmocka_unit_test(test_nul_in_string_is_rejected),
        cmocka_unit_test(test_models_are_sorted_and_defaults_applied),
        cmocka_unit_test(test_endpoints_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
