/* nn_api: the REST API of nanamid, independent of the HTTP transport.
 * nanamid's libmicrohttpd glue turns a connection into an nn_api_request
 * and sends back the nn_api_response; tests and the fuzzer call
 * nn_api_handle() directly.
 *
 * Every answer is JSON (except a device's wireguard.conf); errors are
 * {"error": {"code", "message", "field"}} with the matching status. */
#ifndef NN_API_API_H
#define NN_API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compile/credential.h"
#include "store/store.h"
#include "util/buf.h"

/* Request bodies above this are refused with 413 before parsing; an intent
 * document (PUT .../intent) may use NN_API_MAX_INTENT_BODY. */
#define NN_API_MAX_BODY (1u << 20)
#define NN_API_MAX_INTENT_BODY (16u << 20)

typedef struct nn_api nn_api;

typedef struct nn_api_request {
    const char *method; /* "GET", "POST", "PUT", "DELETE" */
    const char *path;   /* "/api/v1/...", without the query string */
    const char *authorization;
    const char *if_none_match;
    const char *dry_run; /* the dry_run query argument, or NULL */
    bool tls;            /* arrived over TLS (the node listener) */
    /* SHA-256 of the client certificate, set by the transport only after
     * the certificate verified against the node CA; NULL otherwise */
    const uint8_t *client_fp;
    const char *body;
    size_t body_len;
} nn_api_request;

typedef struct nn_api_response {
    int status;
    const char *content_type; /* static */
    char etag[72];            /* quoted; empty when none */
    char signature[NN_ENVELOPE_SIG_MAX]; /* an envelope's X-Nanami-Signature; empty when none */
    nn_buf body;
} nn_api_response;

int nn_api_new(nn_api **out);
void nn_api_free(nn_api *api);

/* What the envelope cache did since start (GET /api/v1/stats). At each new
 * revision of a network every peer's envelope is digested: added (no
 * predecessor), changed, or unchanged -- and an unchanged one already
 * rendered is carried over rather than rendered again. */
typedef struct nn_api_stats {
    unsigned long networks_compiled;   /* compile plans built */
    unsigned long envelopes_rendered;  /* full renders */
    unsigned long envelopes_added;
    unsigned long envelopes_changed;
    unsigned long envelopes_unchanged;
    unsigned long envelopes_carried;   /* unchanged and reused without a render */
} nn_api_stats;
void nn_api_stats_get(nn_api *api, nn_api_stats *out);

/* Answers one request using store (the calling thread's connection).
 * resp must be initialised with nn_api_response_init; free its body with
 * nn_api_response_free. Thread-safe for distinct stores. */
void nn_api_handle(nn_api *api, nn_store *store, const nn_api_request *req,
                   nn_api_response *resp);
void nn_api_response_init(nn_api_response *resp);
void nn_api_response_free(nn_api_response *resp);

/* A new API token for user_id, stored hashed; the secret is written to
 * token (NUL-terminated) and never again retrievable. */
#define NN_API_TOKEN_LEN 48
int nn_api_token_issue(nn_store *store, int64_t user_id, const char *name,
                       char token[NN_API_TOKEN_LEN]);

/* Creates the install's ULA /40 (ula_pin, or random when NULL; once) and
 * the platform administrator "admin"; writes its first token. -EEXIST
 * when the database was already initialised, -EINVAL when ula_pin is not
 * an fd00::/8 /40. Pinning keeps overlay addresses when an install is
 * rebuilt from an export. */
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

int nn_api_init_install(nn_store *store, const char *ula_pin, char token[NN_API_TOKEN_LEN]);

#endif
