/* nn_api: the REST API of nanamid, independent of the HTTP transport.
 * nanamid's libmicrohttpd glue turns a connection into an nn_api_request
 * and sends back the nn_api_response; tests and the fuzzer call
 * nn_api_handle() directly.
 *
 * The routes, who may call them and what they accept are one table
 * (router.c). Every answer is JSON (except a device's wireguard.conf);
 * errors are {"error": {"code", "message", "field"}} with the matching
 * status. */
#ifndef NN_API_API_H
#define NN_API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "api/auth.h"
#include "api/envcache.h"
#include "api/message.h"
#include "store/store.h"

typedef struct nn_api nn_api;

int nn_api_new(nn_api **out);
void nn_api_free(nn_api *api);

typedef struct nn_api_stats {
    nn_envcache_stats envelopes;
    /* committed intent writes decided one member at a time, or by
     * validating the whole workspace */
    unsigned long writes_incremental, writes_full;
} nn_api_stats;
void nn_api_stats_get(nn_api *api, nn_api_stats *out);
/* Whether a plain one-member write is validated incrementally (default
 * on). Off, every write validates the whole workspace: tests compare the
 * two. */
void nn_api_set_incremental(nn_api *api, bool on);

/* Answers one request using store (the calling thread's connection).
 * resp must be initialised with nn_api_response_init; free its body with
 * nn_api_response_free. Thread-safe for distinct stores. */
void nn_api_handle(nn_api *api, nn_store *store, const nn_api_request *req, nn_api_response *resp);
/* Everything that needs no body -- route, method, query, caller,
 * workspace, permission, the declared content_length against the route's
 * limit -- so that a transport buffers no body before it is authorised:
 * true when the body may come (*body_max is the route's limit), false when
 * resp holds the refusal. nn_api_handle checks all of it again. */
bool nn_api_admit(nn_api *api, nn_store *store, const nn_api_request *req, nn_api_response *resp,
                  size_t *body_max);

/* Brings a database made by an older nanamid up to what this one keeps
 * (records every workspace's /48 install-wide). Once, before serving;
 * what needs an operator goes to log. */
int nn_api_upgrade(nn_store *store, FILE *log);

/* Work that must not run on a request's path (recording when tokens were
 * last used): call it every second or so, from a thread with its own
 * store connection. */
int nn_api_housekeeping(nn_api *api, nn_store *store);

/* Loads the node PKI from the store, creating it on first use: the CA
 * that signs node certificates and the envelope signing key (Ed25519)
 * whose public half nodes pin at enrollment. Call once before serving
 * node routes; without it they answer 503. */
int nn_api_node_keys_load(nn_api *api, nn_store *store);
/* Borrowed: the envelope signing key and the node CA's key and
 * certificate (PEM); NULLs before nn_api_node_keys_load. */
void nn_api_node_keys(nn_api *api, const uint8_t **sign_sk, const char **ca_key,
                      const char **ca_cert);

/* Committed writes since start: a long-poll notes it before answering. */
uint64_t nn_api_generation(nn_api *api);
/* Blocks until a write commits after generation seen, or timeout_ms;
 * returns the current generation. Long-polling nodes wait on this. */
uint64_t nn_api_wait_change(nn_api *api, uint64_t seen, unsigned timeout_ms);

/* Creates the install's ULA /40 (ula_pin, or random when NULL; once) and
 * the platform administrator "admin"; writes its first token. -EEXIST
 * when the database was already initialised, -EINVAL when ula_pin is not
 * an fd00::/8 /40. Pinning keeps overlay addresses when an install is
 * rebuilt from an export. */
int nn_api_init_install(nn_store *store, const char *ula_pin, char token[NN_API_TOKEN_LEN]);

#endif
