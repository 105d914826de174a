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

#include "api/rbac.h"
#include "api/request.h"

typedef enum api_auth {
    API_AUTH_NONE,   /* anyone */
    API_AUTH_ENROLL, /* a one-time enrollment token, in the body (node listener) */
    API_AUTH_NODE,   /* a node certificate enrollment issued (node listener) */
    API_AUTH_USER,   /* an API token */
    API_AUTH_SELF,   /* an API token of the user named {user}, or a platform admin's */
    API_AUTH_ADMIN,  /* a platform administrator's API token */
} api_auth;

/* Route flags. */
#define API_BODY 1u          /* a JSON object body is required */
#define API_BODY_OPTIONAL 2u /* a JSON object body may be sent */
#define API_DRY_RUN 4u       /* takes ?dry_run=true|false */
#define API_WAIT 8u          /* takes ?wait=SECONDS (a long-poll) */
#define API_ANY_LISTENER 16u /* served on the node listener too */

struct api_route {
    const char *method;  /* "GET", "POST", "PUT", "DELETE" (HEAD is GET) */
    const char *pattern; /* under /api/v1: "/workspaces/{ws}/networks/{net}" */
    api_auth auth;
    nn_perm perm; /* with {ws}: the permission needed; NN_PERM_NONE without */
    nn_perm own;  /* or this one, for the caller's own objects only */
    unsigned flags;
    size_t body_max;          /* bytes; 0 when the route takes no body */
    const char *const *kinds; /* the values {kind} may take */
    const char *kind;         /* the row kind a literal pattern addresses */
    void (*handler)(ctx *c);
};

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
