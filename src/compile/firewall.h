/* nn_firewall: a network's firewall_rules -> an nftables ruleset for
 * "nft -f" in table inet nanami. Pure.
 *
 * Selectors resolve per address family to "any", a set of addresses, or
 * "nothing". A rule is emitted for a family only where neither side is
 * "nothing"; a rule that is emitted for no family is dropped and reported
 * (fail closed: a selector that should restrict never widens to a wildcard). */
#ifndef NN_COMPILE_FIREWALL_H
#define NN_COMPILE_FIREWALL_H

#include "model/model.h"
#include "util/buf.h"
#include "util/json_writer.h"

/* Appends the ruleset text to ruleset and writes the JSON array of dropped
 * rules ([{"name","reason"}], in rule order) to dropped. O(rules x members
 * named by their selectors). */
void nn_firewall_compile(const nn_network *net, nn_buf *ruleset, nn_jw *dropped);

/* The name of the network's rule chain (fw_<id8>) into buf[32]. */
void nn_firewall_chain_name(const nn_network *net, char *buf);

/* Is the mapping's target a peer of the network? borrowed, NULL if not. */
const nn_member *nn_port_mapping_target(const nn_network *net, const nn_port_mapping *pm,
                                        const char **why);

#endif
