/* What the API's handler files share: the request context and the reply,
 * auth and write helpers of api.c. Not part of the public interface. */
#ifndef NN_API_INTERNAL_H
#define NN_API_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "api/api.h"
#include "api/rbac.h"
#include "store/store.h"

typedef struct ctx {
    nn_api *api;
    nn_store *store;
    const nn_api_request *req;
    nn_api_response *resp;
    nn_user user;
    char *seg[10];
    size_t nseg;
    nn_row ws; /* the workspace of a workspace-scoped route */
    nn_role role;
    json_t *body; /* parsed request body, when the route takes one */
} ctx;

void api_reply_json(nn_api_response *resp, int status, json_t *v); /* takes v */
__attribute__((format(printf, 5, 6))) void api_reply_error(nn_api_response *resp, int status,
                                                           const char *code, const char *field,
                                                           const char *fmt, ...);
void api_reply_store_error(nn_api_response *resp, nn_store *store, int r);
/* 200 with v, or the store error r. Takes v. */
void api_reply_read(nn_api_response *resp, nn_store *store, int r, json_t *v);
bool api_method_is(const ctx *c, const char *m);
void api_method_not_allowed(ctx *c);
void api_not_found(ctx *c, const char *what, const char *name);
/* Parses the body into c->body (a JSON object) or replies 400/413. */
bool api_parse_body(ctx *c, size_t limit);
/* Replies 422 naming the first key of obj not in allowed (NULL-ended). */
bool api_only_keys(ctx *c, json_t *obj, const char *const *allowed);
/* Loads the workspace of seg[1] into c->ws and c->role and checks perm;
 * replies 404 (no role: existence is not leaked) or 403 otherwise. */
bool api_enter_workspace(ctx *c, nn_perm perm);
/* Resolves a network name to its row, or replies 404. */
bool api_find_network(ctx *c, const char *name, nn_row *net);
/* A GET with the read role of the network named by seg[3]: false when it
 * has already been answered (405, 401/403/404, or the store's error). */
bool api_read_network(ctx *c, nn_row *net);
bool api_begin(ctx *c);
bool api_dry_run(const ctx *c);

/* Which revisions a write bumps: none, every network of the workspace, or
 * one network's row id. */
#define AFFECT_NONE (-1)
#define AFFECT_ALL 0
/* Validates the whole workspace, records allocations, bumps revisions,
 * audits and commits (rolls back for a dry run). Replies only on failure. */
bool api_finish_write(ctx *c, int64_t affect, const char *action, const char *target,
                      const char *detail);

/* Wakes long-polls: a write has committed. */
void api_changed(nn_api *api);
/* Replies with peer's compiled envelope in net (c->ws set): ETag,
 * signature, and 304 when If-None-Match names it. */
void api_reply_peer_envelope(ctx *c, const nn_row *net, const char *peer);

#endif
