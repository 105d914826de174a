/* nn_bgp: iBGP for FRR. One frr.conf per host (FRR is one daemon per
 * host) with a "router bgp <as> vrf <vrf>" block per iBGP network on it:
 * hubs reflect routes to their spokes (route-reflector clients), spokes
 * peer with the hubs, full-mesh members with each other. Route policies
 * become prefix-lists, as-path and community lists and route-maps; the
 * policies of one direction compose by AND through a combined route-map
 * that calls each in turn (workspace default first, then workspace,
 * network and peer scope, each by name). Routes cross VRFs only through
 * explicit route leaks ("import vrf" filtered by a route-map).
 *
 * Pure: the model in, text out. Internal to src/compile/. */
#ifndef NN_COMPILE_BGP_H
#define NN_COMPILE_BGP_H

#include <stdbool.h>

#include "model/model.h"
#include "util/buf.h"
#include "util/json_writer.h"

/* iBGP is on for net: the network says ibgp and its workspace enables BGP. */
bool nn_bgp_active(const nn_network *net);

/* The VRF peer's BGP instance runs in, or NULL when iBGP is off for it. */
const nn_vrf *nn_bgp_vrf(const nn_network *net, const nn_member *peer);

/* Appends host h's frr.conf text. Empty when no iBGP network has a peer
 * on h. O(neighbors + policy statements on the host). */
void nn_bgp_host_text(const nn_host *h, nn_buf *out);

/* Appends peer's "bgp" envelope object for iBGP on (vrf = nn_bgp_vrf(),
 * not NULL): the structured fields and frr_text (the host's, passed in). */
void nn_bgp_envelope(const nn_network *net, const nn_member *peer, const nn_vrf *vrf,
                     const char *frr_text, size_t frr_len, nn_jw *w);

/* Appends the firewall line admitting peer's iBGP sessions: TCP 179 from
 * its neighbors' /128s to its own /128 (the rest of the session is
 * "established"). Nothing when it has no neighbors. With a deny-by-default
 * policy the sessions would otherwise never come up; devices share the
 * /64 and stay shut out. O(neighbors). */
void nn_bgp_firewall_rule(const nn_network *net, const nn_member *peer, nn_buf *out);

/* What peer announces, sorted: its routed set, the anycast VIPs it holds,
 * and for hubs the network's own prefixes. Caller frees *out. */
size_t nn_bgp_announcements(const nn_network *net, const nn_member *peer, nn_prefix **out);

#endif
