/* The node routes (see node.c). */
#ifndef NN_API_NODE_H
#define NN_API_NODE_H

#include "api/internal.h"

/* node/enroll, node/config, node/status */
void nn_api_node(ctx *c);
/* workspaces/W/networks/N/observed */
void nn_api_observed(ctx *c);

#endif
