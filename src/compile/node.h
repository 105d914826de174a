/* nn_compile_node: a host's node document -- everything its one agent
 * applies, whatever the number of networks the host is in.
 *
 *   {"firewall": {"dropped_rules": [{name, network, reason}], "ruleset"},
 *    "frr_text", "host_bridges", "interfaces": [...], "memberships": [...],
 *    "name", "nat": {"ruleset", "skipped": [{name, network, reason}]},
 *    "ovn" (the deployment's plan host only), "ovn_control", "ovn_nb_plan",
 *    "profile", "public_key", "workspace"}
 *
 * interfaces: the host's shared interface (its static networks, unless it
 * is in isolation mode) and one per other network, by name; each
 * {addresses, forwarding, listen_port, mtu, name, networks, peers, routes}
 * and "vrf" {name, table_id} where the interface has one. A peer seen in
 * several networks of an interface is one WireGuard peer there, with the
 * union of its AllowedIPs, named after its host (a device: its name).
 *
 * firewall.ruleset replaces table inet nanami whole: the input and forward
 * base chains send each interface's traffic to its network's chains (on
 * the shared interface by source address: a source of no network there is
 * dropped); a network's forward chain drops destinations outside the
 * workspace's prefixes (but a full-tunnel device's egress) and, on the
 * shared interface, in another network; then the network's rules decide.
 *
 * Pure, canonical JSON: the same intent gives the same bytes. */
#ifndef NN_COMPILE_NODE_H
#define NN_COMPILE_NODE_H

#include "compile/compile.h"
#include "model/error.h"
#include "model/model.h"
#include "util/buf.h"

/* plans[i] is the plan of ws->networks[i] (NULL where h has no peer).
 * 0, or -EINVAL with err (a bug: the model was validated), or -ENOMEM. */
int nn_compile_node(const nn_workspace *ws, const nn_host *h, nn_net_plan *const *plans,
                    nn_buf *out, nn_error *err);

#endif
