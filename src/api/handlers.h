/* The handlers of the route table, one file per resource. Each runs after
 * the router has authenticated the caller, entered the workspace and
 * checked the permission (request.h says what it finds in ctx). The router
 * and the handler files include this. */
#ifndef NN_API_HANDLERS_H
#define NN_API_HANDLERS_H

#include "api/request.h"

/* h_platform.c: the service itself, users and their tokens */
void h_health(ctx *c);
void h_openapi(ctx *c);
void h_me(ctx *c);
void h_stats(ctx *c);
void h_users_list(ctx *c);
void h_user_create(ctx *c);
void h_token_create(ctx *c);

/* h_regions.c: the region catalog, grants, oversight (seed 001) */
void h_regions_list(ctx *c);
void h_region_get(ctx *c);
void h_region_put(ctx *c);
void h_region_delete(ctx *c);
void h_oversight(ctx *c);
void h_workspace_regions_get(ctx *c);
void h_workspace_regions_put(ctx *c);

/* h_workspaces.c: workspaces, members, audit */
void h_workspaces_list(ctx *c);
void h_workspace_create(ctx *c);
void h_workspace_get(ctx *c);
void h_workspace_put(ctx *c);
void h_workspace_delete(ctx *c);
void h_members_list(ctx *c);
void h_member_get(ctx *c);
void h_member_put(ctx *c);
void h_member_delete(ctx *c);
void h_audit(ctx *c);

/* h_rows.c: intent objects by kind and name */
void h_rows_list(ctx *c);
void h_rows_create(ctx *c);
void h_row_get(ctx *c);
void h_row_put(ctx *c);
void h_row_delete(ctx *c);

/* h_intent.c: the declarative document */
void h_intent_get(ctx *c);
void h_intent_put(ctx *c);

/* h_previews.c: compiled artifacts, never a private key */
void h_compile(ctx *c);
void h_envelope(ctx *c);
void h_node_document(ctx *c);
void h_bgp(ctx *c);
void h_wgquick(ctx *c);
/* peer's envelope in network row net of c->ws: ETag, signature, and 304
 * when If-None-Match names it (what a node's own config call answers). */
void api_reply_peer_envelope(ctx *c, const nn_row *net, const char *peer);
/* host's node document in c->ws (nodecache.h), signed; 304 on a match. */
void api_reply_node_document(ctx *c, const char *host);

/* h_enroll.c: enrollment tokens, and a node's enrollment */
void h_enrollment_tokens_list(ctx *c);
void h_enrollment_token_create(ctx *c);
void h_enrollment_token_revoke(ctx *c);
void h_node_enroll(ctx *c);

/* h_node.c: what enrolled nodes call, and what they reported */
void h_node_config(ctx *c);
void h_node_status(ctx *c);
void h_observed(ctx *c);

/* h_routing.c: routing selection, gateway assignment, node state */
void h_routing_policy_get(ctx *c);
void h_routing_policy_put(ctx *c);
void h_device_preference_get(ctx *c);
void h_device_preference_put(ctx *c);
void h_user_preference_get(ctx *c);
void h_user_preference_put(ctx *c);
void h_device_routing(ctx *c);
void h_user_routing(ctx *c);
void h_gateway_assignments(ctx *c);
void h_nodes_list(ctx *c);
void h_node_state_get(ctx *c);
void h_node_state_put(ctx *c);

#endif
