/* nn_nat: port mappings -> DNAT on the hub that serves them, and the
 * masquerade of a full-tunnel exit hub (compile/tunnel.c). Pure.
 *
 * For each enabled mapping whose hub is this peer: prerouting (priority
 * -100) DNAT of traffic addressed to the hub itself from outside the
 * overlay, and a postrouting masquerade into the overlay so the target's
 * replies come back through the hub. The target's admission rule lives in
 * the firewall ruleset (nn_firewall_mapping_rule). */
#ifndef NN_COMPILE_NAT_H
#define NN_COMPILE_NAT_H

#include "model/model.h"
#include "util/buf.h"
#include "util/json_writer.h"

/* Appends the ruleset for peer, whose interface in net is ifname (NULL:
 * net's own), and writes the "skipped" array: this hub's mappings whose
 * target cannot be resolved. exit_lines (may be NULL) are
 * further postrouting lines: a full-tunnel exit's masquerade. With peer NULL, appends only
 * the empty chains every other peer loads (so a removed mapping is
 * flushed) and leaves skipped untouched (it may be NULL). */
void nn_nat_compile(const nn_network *net, const char *ifname, const nn_member *peer,
                    const char *exit_lines, nn_buf *ruleset, nn_jw *skipped);
/* Does any enabled mapping name peer as its hub? */
bool nn_nat_peer_is_hub(const nn_network *net, const nn_member *peer);

#endif
