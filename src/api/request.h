/* api request: what every handler gets (ctx) and shares -- the route's
 * bound parameters, the caller the router authenticated, the workspace
 * and network it entered, the parsed body -- and the replies. The router
 * (router.c) fills a ctx and checks the caller's permission before any
 * handler runs; a handler never checks a permission itself, it only
 * narrows what an owner-limited caller (own_only) sees.
 *
 * Replies are JSON: {"error": {"code", "message", "field"}} with the
 * status, or the handler's value. */
#ifndef NN_API_REQUEST_H
#define NN_API_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/message.h"
#include "api/rbac.h"
#include "store/store.h"

typedef struct api_route api_route;
typedef struct nn_envcache nn_envcache;
typedef struct nn_nodecache nn_nodecache;
typedef struct nn_keys nn_keys;
typedef struct nn_notify nn_notify;
typedef struct nn_auth nn_auth;
typedef struct nn_wscache nn_wscache;
typedef struct nn_lookup nn_lookup;

/* The service objects nanamid's API is made of; owned by nn_api. */
typedef struct api_services {
    nn_envcache *envelopes; /* compiled envelopes by network revision */
    nn_nodecache *nodes;    /* node documents by workspace version */
    nn_keys *keys;          /* node CA and envelope signing key */
    nn_notify *notify;      /* committed-write generation, long-poll wake-ups */
    nn_auth *auth;          /* API tokens: verification and its cache */
    nn_wscache *workspaces; /* each workspace's rows at its version */
    nn_lookup *lookups;     /* callers, workspaces, roles, networks: cached */
} api_services;

#define API_MAX_PARAMS 6

typedef struct ctx {
    const api_services *svc;
    nn_store *store; /* the calling thread's connection */
    const nn_api_request *req;
    nn_api_response *resp;
    const api_route *route; /* the matched row of the route table */
    const api_route *twin;  /* a write's GET of the same path (its ETag), or NULL */
    /* Named path parameters, percent-decoded: {ws}, {net}, {kind}, ... */
    const char *param_name[API_MAX_PARAMS];
    const char *param[API_MAX_PARAMS];
    size_t nparam;
    bool dry_run;     /* ?dry_run=true */
    unsigned wait;    /* ?wait=SECONDS (long-poll), 0 when absent */
    nn_user user;     /* the caller of a user route */
    nn_peer_ref node; /* the caller of a node route */
    nn_row ws;        /* {ws}: the workspace entered */
    nn_role role;     /* the caller's role in it (platform admins: owner) */
    /* The role grants the route only for the caller's own objects (a
     * "member" and their devices): the handler shows and changes only
     * those, and answers 404 for the rest. */
    bool own_only;
    nn_row net;        /* {net}: the network */
    json_t *body;      /* the parsed JSON object body, or NULL when none was sent */
    char pathbuf[512]; /* the decoded parameters live here */
} ctx;

/* The value of path parameter name ("ws", "net", ...); borrowed, NULL when
 * the route has none of that name. */
const char *api_param(const ctx *c, const char *name);

void api_reply_json(nn_api_response *resp, int status, json_t *v); /* takes v */
__attribute__((format(printf, 5, 6))) void api_reply_error(nn_api_response *resp, int status,
                                                           const char *code, const char *field,
                                                           const char *fmt, ...);
void api_reply_store_error(nn_api_response *resp, nn_store *store, int r);
/* 200 with v, or the store error r. Takes v. */
void api_reply_read(nn_api_response *resp, nn_store *store, int r, json_t *v);
/* 404 naming the object: what is a row kind ("firewall_rules") or an
 * object ("peer"). */
void api_not_found(ctx *c, const char *what, const char *name);
/* 403: the caller's role in c->ws does not allow perm. */
void api_forbidden(ctx *c, nn_perm perm);

/* The body's keys must all be in allowed (NULL-ended); else 422 naming the
 * first other one. An absent body passes. */
bool api_only_keys(ctx *c, json_t *obj, const char *const *allowed);
/* c->body's string field key: NULL after a 422 when it is not a string
 * (or absent while required); NULL without a reply when optional and absent. */
const char *api_body_string(ctx *c, const char *key, bool required);
/* The ETag the write's object has now, by running its GET (c->twin) into
 * a scratch answer: the GET's status (200 when the object exists), with
 * etag set then. */
int api_twin_etag(ctx *c, char etag[72]);
/* Sets resp's ETag to the quoted SHA-256 of its body. */
void api_set_etag(nn_api_response *resp);
/* Does the ETag list of an If-Match / If-None-Match header name etag
 * ("*" names any)? Strong comparison: a weak ETag names nothing. */
bool api_etag_listed(const char *header, const char *etag);

/* A workspace or network body holds the object's own fields; its children
 * (child_kinds, extra_child) are managed through their own routes: 422
 * naming the first one present. */
bool api_container_body(ctx *c, const char *const *child_kinds, const char *extra_child);
/* The user called name and their role in c->ws (NN_ROLE_NONE: none): 0,
 * -ENOENT for no such user, or a store error. */
int api_user_role(ctx *c, const char *name, nn_user *user, nn_role *role);
/* Is the caller name (a device's owner, a user a preference is for)? The
 * check an own_only route makes. */
bool api_is_caller(const ctx *c, const char *name);

#endif
