/* api_route: one row of the route table (router.c) -- the vocabulary the
 * router, the handlers and the tests share. Types only. */
#ifndef NN_API_ROUTE_H
#define NN_API_ROUTE_H

#include <stddef.h>

#include "api/rbac.h"

typedef struct ctx ctx;

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

#endif
