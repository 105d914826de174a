/* nn_api_request, nn_api_response: one HTTP exchange as the API sees it,
 * without the transport. nanamid's libmicrohttpd glue fills a request and
 * sends the response; tests and the fuzzer build them directly. */
#ifndef NN_API_MESSAGE_H
#define NN_API_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "compile/credential.h"
#include "util/buf.h"

/* Which listener a request came in on: the operator API, or the node
 * listener (mutual TLS), which serves the node routes only. */
typedef enum nn_api_listener { NN_LISTENER_API = 0, NN_LISTENER_NODE = 1 } nn_api_listener;

typedef struct nn_api_request {
    const char *method; /* "GET", "HEAD", "POST", "PUT", "DELETE", ... */
    /* The request-target exactly as sent ("/api/v1/...?dry_run=true"),
     * still percent-encoded: the API decodes it strictly itself. */
    const char *target;
    nn_api_listener listener;
    const char *authorization;
    const char *if_none_match;
    const char *if_match; /* PUT/DELETE: the ETag the client last saw, or "*" */
    /* SHA-256 of the client certificate, set by the transport only after
     * the certificate verified against the node CA; NULL otherwise */
    const uint8_t *client_fp;
    const char *body;
    size_t body_len;
    /* nn_api_admit: the body length the client declared */
    size_t content_length;
} nn_api_request;

typedef struct nn_api_response {
    int status;
    const char *content_type;            /* static */
    char etag[72];                       /* quoted; empty when none */
    char signature[NN_ENVELOPE_SIG_MAX]; /* an envelope's X-Nanami-Signature; empty when none */
    char allow[64];                      /* a 405's Allow header; empty otherwise */
    /* A 304 to a long-poll (?wait=): the transport may hold the answer
     * this many seconds and ask again when a write commits. */
    unsigned long_poll;
    nn_buf body;
} nn_api_response;

void nn_api_response_init(nn_api_response *resp);
void nn_api_response_free(nn_api_response *resp);

#endif
