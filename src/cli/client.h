/* nn_client: nanamictl's side of the REST API -- where the server is, the
 * caller's token, and one HTTP request at a time (libcurl).
 *
 * Settings come from, first match wins: the --server/--token flags, the
 * NANAMI_URL/NANAMI_TOKEN environment, then the config file
 * ($NANAMI_CONFIG, else $XDG_CONFIG_HOME/nanami/config, else
 * ~/.config/nanami/config):
 *
 *   # comments and blank lines are ignored
 *   server = http://127.0.0.1:8420
 *   token = nn_...
 *
 * A config file holding a token must not be readable by group or others
 * (like ssh's keys): it is refused, not used. The server defaults to
 * http://127.0.0.1:8420; "/api/v1" is appended unless the URL has it. */
#ifndef NN_CLI_CLIENT_H
#define NN_CLI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "model/error.h"
#include "util/buf.h"

#define NN_CLIENT_URL_MAX 512
#define NN_CLIENT_TOKEN_MAX 256
/* Answers larger than this are refused (a full-mesh compile preview of
 * thousands of peers is the largest thing the API serves). */
#define NN_CLIENT_MAX_RESPONSE (512u << 20)

typedef struct nn_client {
    char base[NN_CLIENT_URL_MAX + 8]; /* ends in /api/v1, no trailing slash */
    char token[NN_CLIENT_TOKEN_MAX];  /* wiped by nn_client_free */
    void *curl;                       /* CURL *, reused across requests */
    /* Sent as If-Match with every request when not empty: a write then
     * fails with 412 if the object changed since the client read it. */
    char if_match[128];
    char etag[72]; /* the last answer's ETag header, "" when none */
} nn_client;

/* Resolves the settings (see above). flags may be NULL. 0, or -EINVAL /
 * -EACCES / -errno with err naming the source (a flag, a variable, the
 * file and line). */
int nn_client_init(nn_client *c, const char *server_flag, const char *token_flag, nn_error *err);
void nn_client_free(nn_client *c);

/* One request: method, path under /api/v1 (starting with '/', query
 * string allowed), optional JSON body. The answer's status and body land
 * in *status and resp (reset first); *content_type points into c (valid
 * until the next request) or is "". A transport failure returns -EIO (or
 * -E2BIG for an oversized answer) with err saying why; any HTTP status,
 * 4xx and 5xx included, returns 0. */
int nn_client_request(nn_client *c, const char *method, const char *path, const char *body,
                      size_t body_len, long *status, const char **content_type, nn_buf *resp,
                      nn_error *err);

#endif
