#include "server/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "pki/pki.h"

/* After waking long-polls for a change, later changes are gathered for
 * this long before the next wake: the first change of a burst goes out at
 * once, the rest in one batch, never a storm of fetches. */
#define COALESCE_MS 100
/* The sweeper's period: deadlines are enforced to within this. */
#define SWEEP_MS 250
#define MAX_LISTENERS 4
#define ADDR_LEN INET6_ADDRSTRLEN

typedef struct listener listener;
typedef struct request request;

/* One TCP connection (libmicrohttpd's socket context). */
typedef struct conn {
    listener *lst;
    int fd;
    char addr[ADDR_LEN]; /* the peer's address */
    char key[ADDR_LEN];  /* what its limits count by (client_key) */
    bool trusted;        /* the peer is a trusted reverse proxy */
    /* Monotonic milliseconds, written by the connection's thread and read
     * by the sweeper (so atomically): > 0, the connection owes a request
     * head since then (accepted, or answered its last request), 0 while a
     * request is being handled; body_since > 0, the request's body is
     * arriving since then. */
    int64_t head_since;
    int64_t body_since;
    bool shut; /* the sweeper has shut it down */
    struct conn *next, **pprev;
} conn;

/* One request (libmicrohttpd's request context). */
struct request {
    conn *cn;
    char *target;          /* the request-target as sent (libmicrohttpd's url is decoded) */
    char client[ADDR_LEN]; /* client_key of who the request is from */
    bool started;          /* the first call (head read) is behind us */
    bool counted;          /* in the client's in-flight count */
    size_t body_max;
    char *data;
    size_t len;
    /* long-poll: parked until a write lands after `seen`, or the deadline */
    struct MHD_Connection *mc;
    uint64_t seen;
    double deadline; /* monotonic seconds; 0 until the first answer */
    bool parked;
    /* a write, answered by a worker while the connection is suspended */
    nn_api_request job;
    uint8_t fp[NN_PKI_FP_LEN];
    nn_api_response *answer; /* set by the worker */
    bool worked;             /* the worker is done with it (answer or not) */
    request *job_next;
    request *next, **pprev;   /* the parked list */
    request *inext, **ipprev; /* the in-flight list */
};

struct listener {
    nn_http *http;
    nn_api_listener kind;
    bool tls;
    unsigned max_conns_per_ip;
    struct MHD_Daemon *d;
    pthread_mutex_t lock; /* conns, active, inflight */
    conn *conns;
    unsigned active;
    request *inflight;
};

struct nn_http {
    nn_api *api;
    const char *db_path;
    nn_http_limits lim;
    pthread_key_t store_key;
    listener *listeners[MAX_LISTENERS];
    size_t nlisteners;
    pthread_mutex_t wait_lock; /* waiting, stopping */
    request *waiting;          /* parked long-polls */
    bool stopping;
    volatile int stop;
    pthread_t waker, sweeper, chores;
    /* Writes are answered by workers, not by the connection's pool thread:
     * a large write (seconds of validation) must not stall every other
     * connection that thread serves. */
    pthread_mutex_t job_lock;
    pthread_cond_t job_cond;
    request *jobs, *jobs_tail;
    bool jobs_stop;
    pthread_t *workers;
    size_t nworkers;
};

void nn_http_limits_default(nn_http_limits *lim)
{
    *lim = (nn_http_limits){.max_conns = 4096,
                            .max_conns_per_ip = 64,
                            .max_requests_per_client = 64,
                            .head_timeout = 15,
                            .request_timeout = 120,
                            .idle_timeout = 60};
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1; /* never 0 */
}

static void set_since(int64_t *at, int64_t v)
{
    __atomic_store_n(at, v, __ATOMIC_RELAXED);
}

static void close_store(void *p)
{
    nn_store_close(p);
}

/* The calling pool thread's connection, opened on first use. */
static nn_store *thread_store(nn_http *h)
{
    nn_store *s = pthread_getspecific(h->store_key);
    if (!s && nn_store_open(h->db_path, &s) == 0)
        pthread_setspecific(h->store_key, s);
    return s;
}

/* --- addresses ---------------------------------------------------------- */

/* The text of an address; an IPv4-mapped IPv6 address (a dual-stack
 * socket) reads as its IPv4 self, so one client has one address. */
static void addr_text(const struct sockaddr *sa, char out[ADDR_LEN])
{
    out[0] = '\0';
    if (!sa)
        return;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  ADDR_LEN);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            inet_ntop(AF_INET, &a->s6_addr[12], out, ADDR_LEN);
        else
            inet_ntop(AF_INET6, a, out, ADDR_LEN);
    }
}

/* What a client's limits count by: its IPv4 address, or its IPv6 /64 --
 * one host is commonly given a whole /64, and would otherwise have 2^64
 * addresses' worth of connections. */
static void client_key(const char *addr, char out[ADDR_LEN])
{
    struct in6_addr a;
    if (inet_pton(AF_INET6, addr, &a) != 1) {
        snprintf(out, ADDR_LEN, "%s", addr);
        return;
    }
    memset(&a.s6_addr[8], 0, 8);
    char text[ADDR_LEN];
    inet_ntop(AF_INET6, &a, text, sizeof(text));
    snprintf(out, ADDR_LEN, "%.*s/64", ADDR_LEN - 4, text);
}

static bool is_trusted(const nn_http *h, const char *addr)
{
    nn_prefix a;
    if (!h->lim.ntrusted || nn_addr_parse(addr, &a) != 0)
        return false;
    for (size_t i = 0; i < h->lim.ntrusted; i++)
        if (nn_prefix_contains(&h->lim.trusted[i], &a))
            return true;
    return false;
}

typedef struct xff {
    const nn_http *h;
    char client[ADDR_LEN]; /* the right-most address no trusted proxy added */
    bool bad;
} xff;

static enum MHD_Result xff_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    xff *x = cls;
    if (strcasecmp(key, "X-Forwarded-For") != 0)
        return MHD_YES;
    /* Each proxy appends the address it saw; read them left to right and
     * keep the last one that is not a trusted proxy. */
    for (const char *p = value; *p && !x->bad;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t,");
        if (n == 0)
            break;
        char one[ADDR_LEN];
        nn_prefix a;
        if (n >= sizeof(one)) {
            x->bad = true;
            break;
        }
        memcpy(one, p, n);
        one[n] = '\0';
        if (nn_addr_parse(one, &a) != 0)
            x->bad = true;
        else if (!is_trusted(x->h, one))
            snprintf(x->client, sizeof(x->client), "%s", one);
        p += n;
    }
    return MHD_YES;
}

/* Who the request is from: the peer, or -- when the peer is a trusted
 * proxy -- what its X-Forwarded-For says (the peer again when that is
 * absent or malformed). */
static void client_of(const conn *cn, struct MHD_Connection *mc, char out[ADDR_LEN])
{
    snprintf(out, ADDR_LEN, "%s", cn->key);
    if (!cn->trusted)
        return;
    xff x = {.h = cn->lst->http};
    MHD_get_connection_values(mc, MHD_HEADER_KIND, xff_header, &x);
    if (!x.bad && x.client[0])
        client_key(x.client, out);
}

/* --- connections ---------------------------------------------------------- */

static unsigned conns_from(const listener *lst, const char *key)
{
    unsigned n = 0;
    for (const conn *c = lst->conns; c; c = c->next)
        n += strcmp(c->key, key) == 0;
    return n;
}

/* Accept policy: a peer (not a trusted proxy) holds at most
 * max_conns_per_ip connections (per IPv6 /64, see client_key). Pool threads accept in parallel, so
 * the limit may be passed by at most the number of threads. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
    (void)len;
    listener *lst = cls;
    char addr[ADDR_LEN], key[ADDR_LEN];
    addr_text(sa, addr);
    if (is_trusted(lst->http, addr))
        return MHD_YES;
    client_key(addr, key);
    pthread_mutex_lock(&lst->lock);
    bool ok = conns_from(lst, key) < lst->max_conns_per_ip;
    pthread_mutex_unlock(&lst->lock);
    return ok ? MHD_YES : MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    listener *lst = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn *c = calloc(1, sizeof(*c));
        if (!c)
            return;
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ad =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        c->lst = lst;
        c->fd = fd ? fd->connect_fd : -1;
        addr_text(ad ? ad->client_addr : NULL, c->addr);
        client_key(c->addr, c->key);
        c->trusted = is_trusted(lst->http, c->addr);
        c->head_since = now_ms();
        pthread_mutex_lock(&lst->lock);
        c->next = lst->conns;
        if (c->next)
            c->next->pprev = &c->next;
        c->pprev = &lst->conns;
        lst->conns = c;
        lst->active++;
        pthread_mutex_unlock(&lst->lock);
        *socket_context = c;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        /* Called before libmicrohttpd closes the socket: once this returns
         * the sweeper can no longer reach this fd. */
        conn *c = *socket_context;
        pthread_mutex_lock(&lst->lock);
        *c->pprev = c->next;
        if (c->next)
            c->next->pprev = c->pprev;
        lst->active--;
        pthread_mutex_unlock(&lst->lock);
        free(c);
        *socket_context = NULL;
    }
}

static conn *conn_of(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Shuts down every connection past its head or body deadline; the socket
 * reads EOF and libmicrohttpd closes it. Under the listener's lock, so the
 * fd still belongs to that connection (see on_connection). */
static void sweep(listener *lst, int64_t now)
{
    const nn_http_limits *lim = &lst->http->lim;
    int64_t head_ms = (int64_t)(lim->head_timeout * 1000);
    int64_t body_ms = (int64_t)(lim->request_timeout * 1000);
    pthread_mutex_lock(&lst->lock);
    for (conn *c = lst->conns; c; c = c->next) {
        int64_t head = __atomic_load_n(&c->head_since, __ATOMIC_RELAXED);
        int64_t body = __atomic_load_n(&c->body_since, __ATOMIC_RELAXED);
        bool late = (head > 0 && now - head > head_ms) || (body > 0 && now - body > body_ms);
        if (late && !c->shut && c->fd >= 0) {
            shutdown(c->fd, SHUT_RDWR);
            c->shut = true;
        }
    }
    pthread_mutex_unlock(&lst->lock);
}

/* Enforces the deadlines. Nothing here waits on the database. */
static void *sweeper_main(void *arg)
{
    nn_http *h = arg;
    struct timespec pause_ts = {0, SWEEP_MS * 1000000L};
    while (!h->stop) {
        int64_t now = now_ms();
        for (size_t i = 0; i < h->nlisteners; i++)
            sweep(h->listeners[i], now);
        nanosleep(&pause_ts, NULL);
    }
    return NULL;
}

/* Once a second, the API's housekeeping on this thread's own store
 * connection: a write that waits for a busy database delays nothing but
 * the next round. */
static void *chores_main(void *arg)
{
    nn_http *h = arg;
    struct timespec pause_ts = {0, 100 * 1000000L};
    int64_t next = 0;
    while (!h->stop) {
        nn_store *store;
        if (now_ms() >= next && (store = thread_store(h))) {
            nn_api_housekeeping(h->api, store);
            next = now_ms() + 1000;
        }
        nanosleep(&pause_ts, NULL);
    }
    return NULL;
}

/* --- long-polls ------------------------------------------------------------- */

static void unpark(request *rq)
{
    if (rq->parked) {
        *rq->pprev = rq->next;
        if (rq->next)
            rq->next->pprev = rq->pprev;
        rq->parked = false;
    }
}

/* Wakes every parked long-poll that has seen an older generation or whose
 * deadline passed (all of them when stopping); they are answered by
 * on_request again. */
static void wake_waiters(nn_http *h, uint64_t generation, bool all)
{
    double now = now_mono();
    pthread_mutex_lock(&h->wait_lock);
    for (request *rq = h->waiting, *next; rq; rq = next) {
        next = rq->next;
        if (all || rq->seen != generation || now >= rq->deadline) {
            unpark(rq);
            MHD_resume_connection(rq->mc);
        }
    }
    pthread_mutex_unlock(&h->wait_lock);
}

static void *waker_main(void *arg)
{
    nn_http *h = arg;
    uint64_t seen = nn_api_generation(h->api);
    while (!h->stop) {
        uint64_t g = nn_api_wait_change(h->api, seen, 250);
        wake_waiters(h, g, false);
        if (g != seen) {
            seen = g;
            struct timespec pause_ts = {0, COALESCE_MS * 1000000L};
            nanosleep(&pause_ts, NULL);
        }
    }
    return NULL;
}

/* Parks rq until a write commits or its wait ends; false when it may not
 * (the server stops, or the wait is over). */
static bool park(nn_http *h, request *rq, struct MHD_Connection *mc, unsigned wait,
                 uint64_t generation)
{
    double now = now_mono();
    if (!rq->deadline)
        rq->deadline = now + wait;
    pthread_mutex_lock(&h->wait_lock);
    bool parked = !h->stopping && now < rq->deadline;
    if (parked) {
        rq->mc = mc;
        rq->seen = generation;
        rq->next = h->waiting;
        if (rq->next)
            rq->next->pprev = &rq->next;
        rq->pprev = &h->waiting;
        h->waiting = rq;
        rq->parked = true;
        MHD_suspend_connection(mc);
    }
    pthread_mutex_unlock(&h->wait_lock);
    return parked;
}

/* --- answers -------------------------------------------------------------- */

/* The SHA-256 of the client certificate when it verifies against the node
 * CA. libmicrohttpd only requests a certificate, so a connection may have
 * none, or one from anyone: this is checked on every request. */
static bool client_fingerprint(struct MHD_Connection *mc, uint8_t fp[NN_PKI_FP_LEN])
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return false;
    gnutls_session_t session = ci->tls_session;
    unsigned status = 1, n = 0;
    if (gnutls_certificate_verify_peers2(session, &status) != 0 || status != 0)
        return false;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(session, &n);
    return chain && n > 0 && nn_pki_fingerprint_der(chain[0].data, chain[0].size, fp) == 0;
}

/* close: the request's body is not read (a refusal before it), so the
 * connection cannot carry another request. */
static enum MHD_Result send_response(struct MHD_Connection *mc, nn_api_response *resp, bool close)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        resp->body.len, resp->body.data ? resp->body.data : (char *)"", MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", resp->content_type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (resp->etag[0])
        MHD_add_response_header(r, "ETag", resp->etag);
    if (resp->signature[0])
        MHD_add_response_header(r, "X-Nanami-Signature", resp->signature);
    if (resp->allow[0])
        MHD_add_response_header(r, "Allow", resp->allow);
    if (resp->status == 503)
        MHD_add_response_header(r, "Retry-After", "1");
    if (close)
        MHD_add_response_header(r, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(mc, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* An answer the transport gives itself: the API's error shape. */
static enum MHD_Result refuse(struct MHD_Connection *mc, int status, const char *code,
                              const char *message)
{
    nn_api_response resp;
    nn_api_response_init(&resp);
    resp.status = status;
    nn_buf_printf(&resp.body, "{\"error\":{\"code\":\"%s\",\"field\":null,\"message\":\"%s\"}}\n",
                  code, message);
    enum MHD_Result r = send_response(mc, &resp, true);
    nn_api_response_free(&resp);
    return r;
}

typedef struct framing {
    unsigned content_length; /* how many Content-Length headers */
    const char *length;      /* the first one's value */
    const char *encoding;    /* Transfer-Encoding, or NULL */
    unsigned encodings;
} framing;

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    framing *f = cls;
    if (strcasecmp(key, "Content-Length") == 0 && f->content_length++ == 0)
        f->length = value;
    else if (strcasecmp(key, "Transfer-Encoding") == 0 && f->encodings++ == 0)
        f->encoding = value;
    return MHD_YES;
}

/* NULL when the request is framed unambiguously, else why not. Two
 * lengths, or a length beside an encoding, are how requests are smuggled
 * past a proxy that reads the other one. */
static const char *bad_framing(struct MHD_Connection *mc, size_t *length, bool *chunked)
{
    framing f = {0};
    MHD_get_connection_values(mc, MHD_HEADER_KIND, framing_header, &f);
    *length = 0;
    *chunked = f.encodings > 0;
    if (f.content_length > 1)
        return "more than one Content-Length header";
    if (f.encodings && f.content_length)
        return "Content-Length beside Transfer-Encoding";
    if (f.encodings > 1 || (f.encoding && strcasecmp(f.encoding, "chunked") != 0))
        return "the only Transfer-Encoding accepted is one \"chunked\"";
    if (f.length) {
        char *end;
        unsigned long long v = strtoull(f.length, &end, 10);
        if (*end || end == f.length || f.length[0] == '-')
            return "Content-Length is not a number";
        *length = v > SIZE_MAX ? SIZE_MAX : (size_t)v;
    }
    return NULL;
}

static unsigned inflight_of(const listener *lst, const char *client)
{
    unsigned n = 0;
    for (const request *r = lst->inflight; r; r = r->inext)
        n += strcmp(r->client, client) == 0;
    return n;
}

static void uncount(listener *lst, request *rq)
{
    pthread_mutex_lock(&lst->lock);
    if (rq->counted) {
        *rq->ipprev = rq->inext;
        if (rq->inext)
            rq->inext->ipprev = rq->ipprev;
        rq->counted = false;
    }
    pthread_mutex_unlock(&lst->lock);
}

static void *worker_main(void *arg)
{
    nn_http *h = arg;
    for (;;) {
        pthread_mutex_lock(&h->job_lock);
        while (!h->jobs && !h->jobs_stop)
            pthread_cond_wait(&h->job_cond, &h->job_lock);
        request *rq = h->jobs;
        if (rq && !(h->jobs = rq->job_next))
            h->jobs_tail = NULL;
        pthread_mutex_unlock(&h->job_lock);
        if (!rq)
            return NULL; /* stopping, and nothing left */
        nn_api_response *resp = malloc(sizeof(*resp));
        nn_store *store = thread_store(h);
        if (resp) {
            nn_api_response_init(resp);
            if (store) {
                nn_api_handle(h->api, store, &rq->job, resp);
            } else {
                resp->status = 503;
                nn_buf_puts(&resp->body, "{\"error\":{\"code\":\"unavailable\",\"field\":null,"
                                         "\"message\":\"the database cannot be opened\"}}\n");
            }
        }
        rq->answer = resp;
        rq->worked = true;
        MHD_resume_connection(rq->mc);
    }
}

/* The API's view of rq: the headers it reads, the body, the node's
 * certificate (into fp) when it verified. */
static nn_api_request describe(listener *lst, struct MHD_Connection *mc, request *rq,
                               const char *method, uint8_t fp[NN_PKI_FP_LEN])
{
    bool have_fp = lst->tls && lst->kind == NN_LISTENER_NODE && client_fingerprint(mc, fp);
    return (nn_api_request){
        .method = method,
        .target = rq->target,
        .listener = lst->kind,
        .authorization =
            MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
        .if_none_match =
            MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH),
        .if_match = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH),
        .body = rq->data,
        .body_len = rq->len,
        .client_fp = have_fp ? fp : NULL,
    };
}

static bool is_read(const char *method)
{
    return !strcmp(method, "GET") || !strcmp(method, "HEAD");
}

/* Answers rq through the API (and parks a long-poll's 304). Reads are
 * answered here, on the connection's thread; writes by a worker. */
static enum MHD_Result handle(listener *lst, struct MHD_Connection *mc, request *rq,
                              const char *method)
{
    nn_http *h = lst->http;
    if (rq->worked) { /* back from a worker */
        if (!rq->answer)
            return refuse(mc, 500, "internal", "out of memory");
        enum MHD_Result ret = send_response(mc, rq->answer, false);
        nn_api_response_free(rq->answer);
        free(rq->answer);
        rq->answer = NULL;
        return ret;
    }
    if (!is_read(method)) {
        /* the header values stay valid while the connection is suspended */
        rq->job = describe(lst, mc, rq, method, rq->fp);
        rq->mc = mc;
        pthread_mutex_lock(&h->job_lock);
        if (h->jobs_stop) { /* no worker would ever resume it */
            pthread_mutex_unlock(&h->job_lock);
            return refuse(mc, 503, "unavailable", "nanamid is stopping");
        }
        MHD_suspend_connection(mc); /* before the worker can resume it */
        rq->job_next = NULL;
        if (h->jobs_tail)
            h->jobs_tail->job_next = rq;
        else
            h->jobs = rq;
        h->jobs_tail = rq;
        pthread_cond_signal(&h->job_cond);
        pthread_mutex_unlock(&h->job_lock);
        return MHD_YES;
    }
    nn_api_response resp;
    nn_api_response_init(&resp);
    nn_store *store = thread_store(h);
    if (!store) {
        nn_api_response_free(&resp);
        return refuse(mc, 503, "unavailable", "the database cannot be opened");
    }
    uint8_t fp[NN_PKI_FP_LEN];
    /* Read before answering: a write landing in between still wakes the
     * poll, because its generation will differ. */
    uint64_t generation = nn_api_generation(h->api);
    nn_api_request req = describe(lst, mc, rq, method, fp);
    nn_api_handle(h->api, store, &req, &resp);
    if (resp.status == 304 && resp.long_poll && park(h, rq, mc, resp.long_poll, generation)) {
        /* A parked poll is an authenticated node's and costs no thread: it
         * does not count against its address's requests in flight (many
         * nodes may share one NAT). */
        uncount(lst, rq);
        nn_api_response_free(&resp);
        return MHD_YES;
    }
    enum MHD_Result ret = send_response(mc, &resp, false);
    nn_api_response_free(&resp);
    return ret;
}

/* The first call, once the head is in: everything that can be decided
 * without the body is, before a byte of it is read. */
static enum MHD_Result admit(listener *lst, struct MHD_Connection *mc, request *rq,
                             const char *method)
{
    nn_http *h = lst->http;
    conn *cn = rq->cn;
    size_t length;
    bool chunked;
    const char *why = bad_framing(mc, &length, &chunked);
    if (why)
        return refuse(mc, 400, "bad_framing", why);
    pthread_mutex_lock(&lst->lock);
    bool busy = lst->active > h->lim.max_conns;
    unsigned mine = inflight_of(lst, rq->client);
    if (!busy && mine < h->lim.max_requests_per_client) {
        rq->inext = lst->inflight;
        if (rq->inext)
            rq->inext->ipprev = &rq->inext;
        rq->ipprev = &lst->inflight;
        lst->inflight = rq;
        rq->counted = true;
    }
    pthread_mutex_unlock(&lst->lock);
    if (busy)
        return refuse(mc, 503, "busy", "too many connections; retry");
    if (!rq->counted)
        return refuse(mc, 429, "too_many_requests", "too many requests in flight from one client");
    /* No body: answered in the next call. (An answer queued now, before
     * libmicrohttpd has seen the end of the request, closes the
     * connection: no keep-alive.) */
    if (!chunked && length == 0)
        return MHD_YES;
    nn_store *store = thread_store(h);
    if (!store)
        return refuse(mc, 503, "unavailable", "the database cannot be opened");
    uint8_t fp[NN_PKI_FP_LEN];
    nn_api_request req = describe(lst, mc, rq, method, fp);
    req.content_length = length;
    nn_api_response resp;
    nn_api_response_init(&resp);
    if (!nn_api_admit(h->api, store, &req, &resp, &rq->body_max)) {
        enum MHD_Result r = send_response(mc, &resp, true);
        nn_api_response_free(&resp);
        return r;
    }
    nn_api_response_free(&resp);
    if (cn)
        set_since(&cn->body_since, now_ms());
    return MHD_YES;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the raw request-target, before
 * libmicrohttpd decodes it; the API decodes it strictly itself (an encoded
 * NUL or slash must not reach a handler). Its return value is the
 * request's context. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
    (void)cls;
    request *rq = calloc(1, sizeof(*rq));
    if (rq && !(rq->target = strdup(uri))) {
        free(rq);
        return NULL;
    }
    if (rq)
        rq->cn = conn_of(mc);
    return rq;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version, (void)url;
    listener *lst = cls;
    request *rq = *con_cls;
    if (!rq)
        return MHD_NO; /* out of memory in on_uri */
    if (!rq->started) {
        rq->started = true;
        if (rq->cn) {
            set_since(&rq->cn->head_since, 0); /* the whole head is in */
            client_of(rq->cn, mc, rq->client);
        }
        return admit(lst, mc, rq, method);
    }
    if (*upload_size) {
        /* Never more than the route takes: libmicrohttpd cannot answer in
         * the middle of a body, so a chunked body that grows past it ends
         * the connection. */
        if (rq->len + *upload_size > rq->body_max)
            return MHD_NO;
        char *grown = realloc(rq->data, rq->len + *upload_size + 1);
        if (!grown)
            return MHD_NO;
        rq->data = grown;
        memcpy(rq->data + rq->len, upload_data, *upload_size);
        rq->len += *upload_size;
        rq->data[rq->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->cn)
        set_since(&rq->cn->body_since, 0);
    return handle(lst, mc, rq, method);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    listener *lst = cls;
    request *rq = *con_cls;
    if (!rq)
        return;
    pthread_mutex_lock(&lst->http->wait_lock);
    unpark(rq);
    pthread_mutex_unlock(&lst->http->wait_lock);
    uncount(lst, rq);
    /* The connection owes its next request head from now. */
    conn *cn = conn_of(mc);
    if (cn) {
        set_since(&cn->head_since, now_ms());
        set_since(&cn->body_since, 0);
    }
    if (rq->answer) {
        nn_api_response_free(rq->answer);
        free(rq->answer);
    }
    free(rq->target);
    free(rq->data);
    free(rq);
    *con_cls = NULL;
}

/* --- listeners ----------------------------------------------------------- */

int nn_http_parse_listen(const char *s, struct sockaddr_storage *sa, socklen_t *len)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof(host))
        return -EINVAL;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return -EINVAL;
    memset(sa, 0, sizeof(*sa));
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)sa;
        host[hl - 1] = '\0';
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a);
        return inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1 ? 0 : -EINVAL;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)sa;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    *len = sizeof(*a);
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -EINVAL;
}

int nn_http_new(nn_api *api, const char *db_path, const nn_http_limits *lim, nn_http **out)
{
    nn_http *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->api = api;
    h->db_path = db_path;
    h->lim = *lim;
    pthread_mutex_init(&h->wait_lock, NULL);
    pthread_mutex_init(&h->job_lock, NULL);
    pthread_cond_init(&h->job_cond, NULL);
    if (pthread_key_create(&h->store_key, close_store) != 0) {
        free(h);
        return -EAGAIN;
    }
    if (pthread_create(&h->waker, NULL, waker_main, h) != 0) {
        pthread_key_delete(h->store_key);
        free(h);
        return -EAGAIN;
    }
    if (pthread_create(&h->sweeper, NULL, sweeper_main, h) != 0) {
        h->stop = 1;
        pthread_join(h->waker, NULL);
        pthread_key_delete(h->store_key);
        free(h);
        return -EAGAIN;
    }
    if (pthread_create(&h->chores, NULL, chores_main, h) != 0) {
        h->stop = 1;
        pthread_join(h->waker, NULL);
        pthread_join(h->sweeper, NULL);
        pthread_key_delete(h->store_key);
        free(h);
        return -EAGAIN;
    }
    size_t want = lim->workers ? lim->workers : 2;
    h->workers = calloc(want, sizeof(*h->workers));
    for (size_t i = 0; h->workers && i < want; i++)
        if (pthread_create(&h->workers[h->nworkers], NULL, worker_main, h) == 0)
            h->nworkers++;
    if (!h->nworkers) {
        nn_http_free(h);
        return -EAGAIN;
    }
    *out = h;
    return 0;
}

int nn_http_listen(nn_http *h, const nn_http_listener *l, char *err, size_t errlen)
{
    struct sockaddr_storage sa;
    socklen_t salen = 0;
    if (h->nlisteners == MAX_LISTENERS) {
        snprintf(err, errlen, "too many listeners");
        return -EINVAL;
    }
    if (!l->no_socket && nn_http_parse_listen(l->listen, &sa, &salen)) {
        snprintf(err, errlen, "\"%s\" is not ADDR:PORT or [ADDR]:PORT", l->listen);
        return -EINVAL;
    }
    listener *lst = calloc(1, sizeof(*lst));
    if (!lst)
        return -ENOMEM;
    lst->http = h;
    lst->kind = l->kind;
    lst->tls = l->tls_key != NULL;
    lst->max_conns_per_ip = l->max_conns_per_ip ? l->max_conns_per_ip : h->lim.max_conns_per_ip;
    pthread_mutex_init(&lst->lock, NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (lst->tls)
        flags |= MHD_USE_TLS;
    if (l->no_socket) /* woken by an added connection */
        flags |= MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
    else if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* Room past max_conns: those connections get the clean 503, and only
     * beyond this are refused at accept. */
    unsigned hard = h->lim.max_conns + 64;
    /* A parked long-poll is silent for up to a minute: the node listener's
     * idle timeout allows for it. */
    unsigned idle = h->lim.idle_timeout + (l->kind == NN_LISTENER_NODE ? 90u : 0u);
    struct MHD_OptionItem opts[16];
    size_t n = 0;
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, l->threads, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, hard, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, idle, NULL};
    /* the whole head (request line and headers) fits in 32 KiB */
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, 32 * 1024, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, lst};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, lst};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, lst};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL};
    if (!l->no_socket)
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &sa};
    if (lst->tls) {
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)l->tls_key};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)l->tls_cert};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                            (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"};
        /* HTTPS_MEM_TRUST makes libmicrohttpd request (not require) a
         * client certificate; client_fingerprint() decides what it is
         * worth. */
        if (l->tls_trust)
            opts[n++] =
                (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, (void *)l->tls_trust};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    lst->d = MHD_start_daemon(flags, 0, on_accept, lst, on_request, lst, MHD_OPTION_ARRAY, opts,
                              MHD_OPTION_END);
    if (!lst->d) {
        snprintf(err, errlen, "cannot listen on %s: %s", l->listen ? l->listen : "(no socket)",
                 strerror(errno));
        pthread_mutex_destroy(&lst->lock);
        free(lst);
        return -EIO;
    }
    h->listeners[h->nlisteners++] = lst;
    return 0;
}

int nn_http_add_connection(nn_http *h, size_t index, int fd, const struct sockaddr *addr,
                           socklen_t len)
{
    if (index >= h->nlisteners)
        return -EINVAL;
    return MHD_add_connection(h->listeners[index]->d, fd, addr, len) == MHD_YES ? 0 : -EIO;
}

void nn_http_free(nn_http *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->wait_lock);
    h->stopping = true;
    pthread_mutex_unlock(&h->wait_lock);
    wake_waiters(h, 0, true);
    /* Workers finish what is queued (resuming its connections) first. */
    pthread_mutex_lock(&h->job_lock);
    h->jobs_stop = true;
    pthread_cond_broadcast(&h->job_cond);
    pthread_mutex_unlock(&h->job_lock);
    for (size_t i = 0; i < h->nworkers; i++)
        pthread_join(h->workers[i], NULL);
    free(h->workers);
    h->stop = 1;
    pthread_join(h->waker, NULL);
    pthread_join(h->sweeper, NULL);
    pthread_join(h->chores, NULL);
    for (size_t i = 0; i < h->nlisteners; i++) {
        MHD_stop_daemon(h->listeners[i]->d);
        pthread_mutex_destroy(&h->listeners[i]->lock);
        free(h->listeners[i]);
    }
    pthread_key_delete(h->store_key);
    pthread_mutex_destroy(&h->wait_lock);
    pthread_mutex_destroy(&h->job_lock);
    pthread_cond_destroy(&h->job_cond);
    free(h);
}
