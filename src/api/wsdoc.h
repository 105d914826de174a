/* nn_wsdoc: a workspace's stored rows <-> its intent document. The
 * document is what the compiler and the validator read, what GET .../intent
 * exports and what PUT .../intent converges to. */
#ifndef NN_API_WSDOC_H
#define NN_API_WSDOC_H

#include <jansson.h>
#include <stdbool.h>

#include "model/model.h"
#include "store/store.h"

/* Kinds of rows: workspace scope, then network scope. NULL-terminated. */
extern const char *const nn_ws_kinds[];
extern const char *const nn_net_kinds[];
bool nn_kind_valid(const char *kind, bool network_scope);

/* {"ula_prefix", "workspaces": [ws]} from the rows of ws. with_alloc:
 * allocations are merged in as pins (fields the body leaves out). */
int nn_wsdoc_build(nn_store *s, const nn_row *ws, bool with_alloc, json_t **out);
/* The same from rows already read (ordered as nn_store_row_all orders
 * them); only the install's ULA prefix is read from s. */
int nn_wsdoc_build_rows(nn_store *s, const nn_row *ws, const nn_row *rows, size_t n,
                        bool with_alloc, json_t **out);

/* Parses and allocates doc. On failure *model is NULL and field/msg say
 * where (as "networks/corp/peers/db-1/endpoint": names, not indices). */
int nn_wsdoc_validate(const json_t *doc, nn_doc **model, char *field, size_t flen, char *msg,
                      size_t mlen);

/* The stored workspace as the compiler sees it: nn_wsdoc_build (with
 * allocations) then nn_wsdoc_validate. */
int nn_wsdoc_load(nn_store *s, const nn_row *ws, nn_doc **model, char *field, size_t flen,
                  char *msg, size_t mlen);
/* Records what the allocators chose for ws (IPv4 addresses, BGP router
 * ids, the AS number) where the rows do not pin it yet, so the next
 * compile, a restart or an export keeps it. */
int nn_wsdoc_save_alloc(nn_store *s, const nn_row *ws, const nn_doc *model);
/* The same in memory: what model chose that ws and rows[] do not record
 * yet -- *ws_alloc and row_alloc[i] become the alloc objects to store
 * (new references), or NULL where nothing changes. */
int nn_wsdoc_alloc_diff(const nn_row *ws, const nn_row *rows, size_t n, const nn_doc *model,
                        json_t **ws_alloc, json_t **row_alloc);

/* The network rows among rows (as nn_store_row_all returns them), by id:
 * {"<id>": position in rows}. O(rows) once, so members find their network
 * in O(1) instead of a scan per member. */
json_t *nn_wsdoc_network_index(const nn_row *rows, size_t n);
/* The network row with that id, or NULL. Borrowed from rows. */
const nn_row *nn_wsdoc_network_row(const json_t *index, const nn_row *rows, int64_t network_id);

/* The host a peer row with this body and name runs on: its "host",
 * else its own name. */
const char *nn_wsdoc_peer_host(const json_t *body, const char *name);

/* A copy of body with alloc's keys added where body has none (objects
 * merge recursively). */
json_t *nn_wsdoc_merge(const json_t *body, const json_t *alloc);

#endif
