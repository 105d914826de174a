/* Region catalog, workspace grants and platform oversight handlers. */
#ifndef NN_API_REGIONS_H
#define NN_API_REGIONS_H

#include "api/internal.h"

void nn_api_regions(ctx *c);           /* /regions[/R] */
void nn_api_workspace_regions(ctx *c); /* /workspaces/W/regions */
void nn_api_oversight(ctx *c);         /* /oversight/regions */

#endif
