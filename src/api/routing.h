/* Routing selection, gateway assignment and node-state handlers. */
#ifndef NN_API_ROUTING_H
#define NN_API_ROUTING_H

#include "api/internal.h"

/* /workspaces/W/networks/N/routing-policy,
 * /workspaces/W/networks/N/(devices|users)/X/(routing-preference|routing) */
void nn_api_routing_network(ctx *c);
/* /workspaces/W/gateway-assignments */
void nn_api_gateway_assignments(ctx *c);
/* /workspaces/W/nodes[/H/status] */
void nn_api_nodes(ctx *c);

#endif
