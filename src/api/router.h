/* api router: the route table and the engine that walks it.
 *
 * One row per method and path pattern says who may call it (auth), which
 * workspace permission it needs (perm; or own: the same, limited to the
 * caller's own objects), what it accepts (body limit, query flags) and
 * which handler answers. The engine decodes the path strictly, picks the
 * most specific pattern (a literal segment beats a parameter, earliest
 * first), answers 404/405 itself, authenticates, enters the workspace,
 * checks the permission, loads {net} -- all before a body is buffered or a
 * handler runs. A handler cannot forget a permission check: it never does
 * one. (The shape follows OpenBGPD's bgplgd.c cmds[] table.) */
#ifndef NN_API_ROUTER_H
#define NN_API_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "api/request.h"
#include "api/route.h"

/* The table (borrowed, static). */
const api_route *api_routes(size_t *n);

/* Routes one request. With admit_only, stops after everything that needs
 * no body (route, auth, workspace, permission, the declared length): true
 * when the request may go on (*body_max is its route's limit), false when
 * resp holds the answer. Without, parses the body and runs the handler;
 * returns false. */
bool api_route_request(const api_services *svc, nn_store *store, const nn_api_request *req,
                       nn_api_response *resp, bool admit_only, size_t *body_max);

#endif
