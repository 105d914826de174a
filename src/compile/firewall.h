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

/* The ruleset is built from these pieces, in this order: header, each
 * mapping's admission lines, each rule's lines, trailer. The compiler
 * renders them once per network and assembles each peer's ruleset from
 * them (src/compile/compile.c, build_firewall). */
void nn_firewall_header(const nn_network *net, nn_buf *out);
void nn_firewall_trailer(const nn_network *net, nn_buf *out);
/* The rule chain alone, for a ruleset that dispatches to it itself (a
 * node document's, src/compile/node.c): its opening lines (established
 * traffic, invalid packets), and its closing (the default policy). The
 * header and trailer wrap these. */
void nn_firewall_chain_open(const nn_network *net, nn_buf *out);
void nn_firewall_chain_close(const nn_network *net, nn_buf *out);
/* The admission lines of one port mapping (nothing if it is unresolvable). */
void nn_firewall_mapping_rule(const nn_network *net, const nn_port_mapping *pm, nn_buf *out);
/* One rule's lines; returns how many (0: the rule matches nothing). */
int nn_firewall_rule(const nn_network *net, const nn_fw_rule *r, nn_buf *out);
void nn_firewall_dropped_entry(const nn_network *net, const nn_fw_rule *r, nn_jw *dropped);

/* Can the rule matter on member m's own interface? A peer that does not
 * forward for others (a spoke, a mesh member) only sees traffic addressed
 * to itself or its LANs. Leaving out an accept rule whose destination
 * cannot be m never makes a first-match ruleset more permissive, so only
 * accept rules are ever left out. */
bool nn_firewall_rule_needed_by(const nn_fw_rule *r, const nn_member *m);

/* The name of the network's rule chain (fw_<id8>) into buf[32]. */
void nn_firewall_chain_name(const nn_network *net, char *buf);

/* Is the mapping's target a peer of the network? borrowed, NULL if not. */
const nn_member *nn_port_mapping_target(const nn_network *net, const nn_port_mapping *pm,
                                        const char **why);

#endif
