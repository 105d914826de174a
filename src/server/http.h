/* nn_http: nanamid's HTTP transport (libmicrohttpd) in front of nn_api.
 *
 * Each listener is a libmicrohttpd daemon with a thread pool; each pool
 * thread owns one store connection. The transport defends the API from
 * hostile clients before a byte reaches it:
 *
 *   - connections: a per-address limit (checked at accept; a trusted
 *     reverse proxy is exempt), a total limit (beyond it new requests get
 *     a clean 503 with Retry-After, and beyond that connections are
 *     refused at accept), a deadline for the whole request head from
 *     accept or from the previous answer (libmicrohttpd's own timeout only
 *     counts silence, so a slowloris dribbling one byte at a time or a TLS
 *     client that never finishes its handshake would live forever), a
 *     deadline for a request's body, and an idle timeout;
 *   - framing: two Content-Length headers, Content-Length beside
 *     Transfer-Encoding, or a Transfer-Encoding other than chunked is a 400
 *     and closes the connection;
 *   - bodies: nothing is buffered before nn_api_admit has matched the
 *     route and authorised the caller, and never more than the route's
 *     limit (a declared length over it is refused at once; a chunked body
 *     that grows past it closes the connection);
 *   - clients: at most so many requests in flight per client address,
 *     which comes from X-Forwarded-For only when the peer is a trusted
 *     proxy.
 *
 * Reads are answered on the connection's pool thread; writes are handed to
 * a few worker threads while their connection is suspended, so that one
 * tenant's large write (seconds of validation) does not stall the other
 * connections its pool thread serves. Long-polls (a 304 with long_poll
 * set) are parked without a thread and woken when a write commits or
 * their wait ends. */
#ifndef NN_SERVER_HTTP_H
#define NN_SERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "api/api.h"
#include "util/cidr.h"

typedef struct nn_http nn_http;

typedef struct nn_http_limits {
    unsigned max_conns;               /* per listener; over it: 503, then refused at accept */
    unsigned max_conns_per_ip;        /* per listener and peer address (trusted proxies exempt) */
    unsigned max_requests_per_client; /* in flight, per client address */
    unsigned head_timeout;            /* s for a whole request head (a TLS handshake included) */
    unsigned request_timeout;         /* s for a request's body, once its head is in */
    unsigned idle_timeout;            /* s of silence */
    unsigned workers;                 /* threads that answer writes (0: 2) */
    const nn_prefix *trusted;         /* reverse proxies whose X-Forwarded-For is believed */
    size_t ntrusted;
} nn_http_limits;

/* Sensible defaults for a production listener. */
void nn_http_limits_default(nn_http_limits *lim);

typedef struct nn_http_listener {
    const char *listen;    /* "A.B.C.D:PORT" or "[X::Y]:PORT"; NULL with no_socket */
    nn_api_listener kind;  /* the operator API or the node listener */
    const char *tls_key;   /* PEM text; NULL for plain HTTP */
    const char *tls_cert;  /* PEM text */
    const char *tls_trust; /* PEM CA: client certificates are requested and checked */
    unsigned threads;
    unsigned max_conns_per_ip; /* 0: the server's (nodes behind one NAT need more) */
    bool no_socket;            /* connections come only from nn_http_add_connection (the fuzzer) */
} nn_http_listener;

/* The server over api, opening db_path once per pool thread. lim is copied
 * (trusted is borrowed and must outlive the server). */
int nn_http_new(nn_api *api, const char *db_path, const nn_http_limits *lim, nn_http **out);
/* Starts a listener: 0, or a negative errno with err saying why. */
int nn_http_listen(nn_http *h, const nn_http_listener *l, char *err, size_t errlen);
/* Hands a connected socket to listener index (in nn_http_listen order). */
int nn_http_add_connection(nn_http *h, size_t index, int fd, const struct sockaddr *addr,
                           socklen_t len);
/* Stops every listener (parked long-polls are answered first). */
void nn_http_free(nn_http *h);

/* Parses "A.B.C.D:PORT" or "[X::Y]:PORT" into *sa; 0 or -EINVAL. */
int nn_http_parse_listen(const char *s, struct sockaddr_storage *sa, socklen_t *len);

#endif
