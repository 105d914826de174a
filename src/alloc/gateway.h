/* Gateway assignment and routing-selection resolution (seeds 000, 002).
 *
 * The scheduler gives each network of a workspace its ingress and exit
 * gateways: peers with the matching role (ingress_gateway, exit_gateway)
 * on hosts not reported down. A network whose routing policy is manual
 * keeps the gateways it pins. Otherwise the choice is rendezvous hashing
 * (highest SHA-256 score of workspace, network, function and host wins)
 * with bounded load: no host takes more than ceil(1.25 x average) networks
 * per function while another candidate has room. Adding or removing one
 * gateway therefore moves only the networks it must, and the result
 * depends on nothing but the intent and the set of down hosts. */
#ifndef NN_ALLOC_GATEWAY_H
#define NN_ALLOC_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>

#include "model/model.h"

#define NN_GW_MAX 4

typedef enum nn_gw_function { NN_GW_FN_INGRESS = 0, NN_GW_FN_EXIT, NN_GW_FN_COUNT } nn_gw_function;

typedef struct nn_gw_choice {
    const nn_member *peers[NN_GW_MAX]; /* preferred first */
    size_t n;                          /* 0: no gateway available */
    bool pinned;                       /* from the network's manual routing policy */
} nn_gw_choice;

typedef struct nn_gw_assignment {
    const nn_network *net;
    nn_gw_choice fn[NN_GW_FN_COUNT];
} nn_gw_assignment;

/* One assignment per network of ws, in ws->networks order, into *out
 * (free()). down names hosts reported down. */
int nn_gateway_assign(const nn_workspace *ws, const char *const *down, size_t ndown,
                      nn_gw_assignment **out);

const char *nn_gw_function_name(nn_gw_function f);

/* Where a resolved field came from, highest priority first. */
typedef enum nn_sel_source {
    NN_FROM_DEVICE = 0,
    NN_FROM_USER,
    NN_FROM_NETWORK,
    NN_FROM_ASSIGNMENT, /* ingress/egress chosen by the scheduler */
    NN_FROM_SYSTEM      /* the system default */
} nn_sel_source;

typedef struct nn_selection {
    nn_sel_mode routing_mode;
    nn_traffic_mode traffic_mode;
    const nn_member *ingress, *egress; /* NULL: none available */
    nn_sel_source from_routing_mode, from_traffic_mode, from_ingress, from_egress;
} nn_selection;

/* The effective selection for device (may be NULL) of user (may be NULL)
 * in a's network: per field, device > user > network > system. A manual
 * routing mode takes ingress and egress from the highest layer that pins
 * them, else from the assignment; auto always takes the assignment. */
void nn_routing_resolve(const nn_gw_assignment *a, const nn_user_routing *user,
                        const nn_member *device, nn_selection *out);

const char *nn_sel_source_name(nn_sel_source s);
const char *nn_sel_mode_name(nn_sel_mode m);       /* "auto", "manual" */
const char *nn_traffic_mode_name(nn_traffic_mode m); /* "vpn_only", "full_tunnel" */

#endif
