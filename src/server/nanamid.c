/* nanamid: the management service. libmicrohttpd with a thread pool; each
 * pool thread owns one SQLite connection (WAL lets readers run beside the
 * writer). The API itself lives in src/api and does not know about HTTP. */
#include <errno.h>
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "pki/pki.h"
#include "store/store.h"

static const char usage[] =
    "usage: nanamid init --db FILE [--ula-prefix fdXX:XXXX:XX00::/40]\n"
    "                         create the database and the platform administrator; prints\n"
    "                         its API token (shown once). The install's IPv6 ULA /40 is\n"
    "                         random unless pinned (to rebuild an install from an export\n"
    "                         with the same addresses)\n"
    "       nanamid serve --db FILE [--listen ADDR:PORT] [--threads N]\n"
    "                         [--node-listen ADDR:PORT [--tls-name NAME]...]\n"
    "                         serve the API (default 127.0.0.1:8420); --node-listen adds\n"
    "                         the TLS listener nodes enroll and fetch envelopes on (mutual\n"
    "                         TLS); its certificate names the listen address and each\n"
    "                         --tls-name\n"
    "       nanamid ca --db FILE  print the node CA certificate (nodes trust it to enroll)\n"
    "       nanamid version\n";

/* Long-polls in flight, parked with MHD_suspend_connection. */
typedef struct upload upload;

typedef struct server {
    const char *db_path;
    nn_api *api;
    pthread_key_t store_key;
    pthread_mutex_t wait_lock;
    upload *waiting; /* suspended long-polls, under wait_lock */
    bool stopping;   /* under wait_lock: no new suspensions */
} server;

/* One listener's view: the server and whether it is the TLS one. */
typedef struct listener {
    server *srv;
    bool tls;
} listener;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void close_store(void *p)
{
    nn_store_close(p);
}

/* The calling pool thread's connection, opened on first use. */
static nn_store *thread_store(server *srv)
{
    nn_store *s = pthread_getspecific(srv->store_key);
    if (!s && nn_store_open(srv->db_path, &s) == 0)
        pthread_setspecific(srv->store_key, s);
    return s;
}

struct upload {
    char *target; /* the request-target as sent (MHD's url is decoded) */
    char *data;
    size_t len;
    bool too_large;
    /* long-poll: parked until a write lands after `seen`, or the deadline */
    struct MHD_Connection *conn;
    uint64_t seen;
    double deadline; /* monotonic seconds; 0 until the first answer */
    bool parked;
    bool started; /* the first call (headers read) is behind us */
    upload *next, **pprev;
};

/* No route takes a larger body (an intent document). */
#define BODY_MAX (16u << 20)
/* The longest a node may ask to wait for a change (h_node.c caps ?wait=
 * at this). */
#define WAIT_MAX_SECONDS 60
/* After waking long-polls for a change, later changes are gathered for
 * this long before the next wake: the first change of a burst goes out at
 * once, the rest in one batch, never a storm of fetches. */
#define COALESCE_MS 100

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void unpark(upload *up)
{
    if (up->parked) {
        *up->pprev = up->next;
        if (up->next)
            up->next->pprev = up->pprev;
        up->parked = false;
    }
}

/* Wakes every parked long-poll that has seen an older generation or whose
 * deadline passed (all of them when stopping); they are answered by
 * on_request again. */
static void wake_waiters(server *srv, uint64_t generation, bool all)
{
    double now = now_mono();
    pthread_mutex_lock(&srv->wait_lock);
    for (upload *up = srv->waiting, *next; up; up = next) {
        next = up->next;
        if (all || up->seen != generation || now >= up->deadline) {
            unpark(up);
            MHD_resume_connection(up->conn);
        }
    }
    pthread_mutex_unlock(&srv->wait_lock);
}

static void *waker_main(void *arg)
{
    server *srv = arg;
    uint64_t seen = nn_api_generation(srv->api);
    while (!g_stop) {
        uint64_t g = nn_api_wait_change(srv->api, seen, 250);
        wake_waiters(srv, g, false);
        if (g != seen) {
            seen = g;
            struct timespec pause_ts = {0, COALESCE_MS * 1000000L};
            nanosleep(&pause_ts, NULL);
        }
    }
    return NULL;
}

/* The SHA-256 of the client certificate when it verifies against the node
 * CA. libmicrohttpd only requests a certificate, so a connection may have
 * none, or one from anyone: this is checked on every request. */
static bool client_fingerprint(struct MHD_Connection *conn, uint8_t fp[NN_PKI_FP_LEN])
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return false;
    gnutls_session_t session = ci->tls_session;
    unsigned status = 1, n = 0;
    if (gnutls_certificate_verify_peers2(session, &status) != 0 || status != 0)
        return false;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(session, &n);
    return chain && n > 0 && nn_pki_fingerprint_der(chain[0].data, chain[0].size, fp) == 0;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the raw request-target, before MHD decodes
 * it; the API decodes it strictly itself (an encoded NUL or slash must
 * not reach a handler). Its return value is the request's context. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls, (void)conn;
    upload *up = calloc(1, sizeof(*up));
    if (up && !(up->target = strdup(uri))) {
        free(up);
        up = NULL;
    }
    return up;
}

static enum MHD_Result send_response(struct MHD_Connection *conn, nn_api_response *resp)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        resp->body.len, resp->body.data ? resp->body.data : (char *)"", MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", resp->content_type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (resp->etag[0])
        MHD_add_response_header(r, "ETag", resp->etag);
    if (resp->signature[0])
        MHD_add_response_header(r, "X-Nanami-Signature", resp->signature);
    if (resp->allow[0])
        MHD_add_response_header(r, "Allow", resp->allow);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version, (void)url;
    const listener *lst = cls;
    server *srv = lst->srv;
    upload *up = *con_cls;
    if (!up)
        return MHD_NO; /* out of memory in on_uri */
    if (!up->started) {
        up->started = true;
        return MHD_YES;
    }
    if (*upload_size) {
        /* Bodies are bounded before they are buffered. */
        if (up->too_large || up->len + *upload_size > BODY_MAX) {
            up->too_large = true;
        } else {
            char *grown = realloc(up->data, up->len + *upload_size + 1);
            if (!grown)
                return MHD_NO;
            up->data = grown;
            memcpy(up->data + up->len, upload_data, *upload_size);
            up->len += *upload_size;
            up->data[up->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    nn_api_response resp;
    nn_api_response_init(&resp);
    nn_store *store = thread_store(srv);
    if (up->too_large) {
        resp.status = 413;
        nn_buf_puts(&resp.body, "{\"error\":{\"code\":\"too_large\",\"field\":null,\"message\":"
                                "\"request body too large\"}}\n");
    } else if (!store) {
        resp.status = 503;
        nn_buf_puts(&resp.body, "{\"error\":{\"code\":\"unavailable\",\"field\":null,\"message\":"
                                "\"the database cannot be opened\"}}\n");
    } else {
        uint8_t fp[NN_PKI_FP_LEN];
        bool have_fp = lst->tls && client_fingerprint(conn, fp);
        /* Read before answering: a write landing in between still wakes
         * the poll, because its generation will differ. */
        uint64_t generation = nn_api_generation(srv->api);
        nn_api_request req = {
            .method = method,
            .target = up->target,
            .listener = lst->tls ? NN_LISTENER_NODE : NN_LISTENER_API,
            .authorization =
                MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
            .if_none_match =
                MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH),
            .body = up->data,
            .body_len = up->len,
            .client_fp = have_fp ? fp : NULL,
        };
        nn_api_handle(srv->api, store, &req, &resp);
        unsigned wait = resp.long_poll;
        if (wait && resp.status == 304) {
            double now = now_mono();
            if (!up->deadline)
                up->deadline = now + wait;
            pthread_mutex_lock(&srv->wait_lock);
            bool park = !srv->stopping && now < up->deadline;
            if (park) {
                up->conn = conn;
                up->seen = generation;
                up->next = srv->waiting;
                if (up->next)
                    up->next->pprev = &up->next;
                up->pprev = &srv->waiting;
                srv->waiting = up;
                up->parked = true;
                MHD_suspend_connection(conn);
            }
            pthread_mutex_unlock(&srv->wait_lock);
            if (park) {
                nn_api_response_free(&resp);
                return MHD_YES;
            }
        }
    }
    enum MHD_Result ret = send_response(conn, &resp);
    nn_api_response_free(&resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn, (void)toe;
    const listener *lst = cls;
    upload *up = *con_cls;
    if (up) {
        pthread_mutex_lock(&lst->srv->wait_lock);
        unpark(up);
        pthread_mutex_unlock(&lst->srv->wait_lock);
        free(up->target);
        free(up->data);
        free(up);
        *con_cls = NULL;
    }
}

static int cmd_init(const char *db, const char *ula)
{
    nn_store *s;
    if (nn_store_open(db, &s))
        return 1;
    char token[NN_API_TOKEN_LEN];
    int r = nn_api_init_install(s, ula, token);
    nn_store_close(s);
    if (r == -EEXIST) {
        fprintf(stderr, "error: %s: already initialised\n", db);
        return 2;
    }
    if (r == -EINVAL) {
        fprintf(stderr, "error: --ula-prefix: \"%s\" is not a /40 inside fd00::/8\n", ula);
        return 2;
    }
    if (r) {
        fprintf(stderr, "error: %s: initialisation failed (%s)\n", db, strerror(-r));
        return 1;
    }
    printf("%s\n", token);
    fprintf(stderr, "nanamid: %s initialised; the line above is the API token of user \"admin\" "
                    "(shown once)\n", db);
    return 0;
}

static int parse_listen(const char *s, struct sockaddr_in *sa)
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
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

/* The node listener's certificate: a fresh key each start, signed by the
 * node CA, naming the listen address (unless it is the wildcard) and every
 * --tls-name. */
static int server_credentials(const char *ca_key, const char *ca_cert, const char *listen,
                              const char *const *names, size_t n_names, char **key, char **cert)
{
    const char *all[17];
    size_t n = 0;
    char host[64];
    const char *colon = strrchr(listen, ':');
    snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
    if (strcmp(host, "0.0.0.0") != 0)
        all[n++] = host;
    for (size_t i = 0; i < n_names && n < 17; i++)
        all[n++] = names[i];
    return nn_pki_server_new(ca_key, ca_cert, all, n, 90, key, cert);
}

typedef struct serve_options {
    const char *listen, *node_listen;
    const char *tls_names[16];
    size_t n_tls_names;
    unsigned threads;
} serve_options;

static struct MHD_Daemon *start_listener(listener *lst, const struct sockaddr_in *sa,
                                         unsigned threads, const char *key, const char *cert,
                                         const char *trust)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (!lst->tls)
        return MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, lst, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)sa,
            MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, lst,
            MHD_OPTION_URI_LOG_CALLBACK, on_uri, lst, MHD_OPTION_CONNECTION_LIMIT, 4096u,
            MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
    /* HTTPS_MEM_TRUST makes libmicrohttpd request (not require) a client
     * certificate; client_fingerprint() decides what it is worth. */
    return MHD_start_daemon(
        flags | MHD_USE_TLS, 0, NULL, NULL, on_request, lst, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)sa, MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, lst, MHD_OPTION_URI_LOG_CALLBACK, on_uri, lst, MHD_OPTION_CONNECTION_LIMIT, 4096u, MHD_OPTION_CONNECTION_TIMEOUT,
        WAIT_MAX_SECONDS + 30u, MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_MEM_CERT, cert,
        MHD_OPTION_HTTPS_MEM_TRUST, trust, MHD_OPTION_HTTPS_PRIORITIES,
        "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_END);
}

static int cmd_serve(const char *db, const serve_options *o)
{
    struct sockaddr_in sa, node_sa;
    if (parse_listen(o->listen, &sa)) {
        fprintf(stderr, "error: --listen: \"%s\" is not IPv4:PORT\n", o->listen);
        return 2;
    }
    if (o->node_listen && parse_listen(o->node_listen, &node_sa)) {
        fprintf(stderr, "error: --node-listen: \"%s\" is not IPv4:PORT\n", o->node_listen);
        return 2;
    }
    server srv = {.db_path = db};
    pthread_mutex_init(&srv.wait_lock, NULL);
    nn_store *probe;
    if (nn_store_open(db, &probe))
        return 1;
    char *ula;
    int r = nn_store_meta_get(probe, "ula_prefix", &ula);
    if (r) {
        nn_store_close(probe);
        fprintf(stderr, "error: %s: not initialised; run: nanamid init --db %s\n", db, db);
        return 2;
    }
    free(ula);
    if (nn_api_new(&srv.api) || pthread_key_create(&srv.store_key, close_store)) {
        nn_store_close(probe);
        return 1;
    }
    r = nn_api_node_keys_load(srv.api, probe);
    nn_store_close(probe);
    if (r) {
        fprintf(stderr, "error: %s: loading the node CA and signing key failed (%s)\n", db,
                strerror(-r));
        nn_api_free(srv.api);
        return 1;
    }
    listener plain = {.srv = &srv}, secure = {.srv = &srv, .tls = true};
    struct MHD_Daemon *d = start_listener(&plain, &sa, o->threads, NULL, NULL, NULL), *nd = NULL;
    char *key = NULL, *cert = NULL;
    int status = 1;
    if (!d) {
        fprintf(stderr, "error: cannot listen on %s: %s\n", o->listen, strerror(errno));
        goto out;
    }
    if (o->node_listen) {
        const uint8_t *sk;
        const char *ca_key, *ca_cert;
        nn_api_node_keys(srv.api, &sk, &ca_key, &ca_cert);
        if ((r = server_credentials(ca_key, ca_cert, o->node_listen, o->tls_names, o->n_tls_names,
                                    &key, &cert))) {
            fprintf(stderr, "error: making the node listener's certificate failed (%d)\n", r);
            goto out;
        }
        if (!(nd = start_listener(&secure, &node_sa, o->threads, key, cert, ca_cert))) {
            fprintf(stderr, "error: cannot listen on %s: %s\n", o->node_listen, strerror(errno));
            goto out;
        }
    }
    pthread_t waker;
    if (pthread_create(&waker, NULL, waker_main, &srv) != 0)
        goto out;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    printf("nanamid: serving http://%s/api/v1/ (database %s, %u threads)\n", o->listen, db,
           o->threads);
    if (nd)
        printf("nanamid: nodes enroll and fetch on https://%s/api/v1/node/ (mutual TLS)\n",
               o->node_listen);
    fflush(stdout);
    while (!g_stop)
        pause();
    pthread_join(waker, NULL);
    pthread_mutex_lock(&srv.wait_lock);
    srv.stopping = true;
    pthread_mutex_unlock(&srv.wait_lock);
    wake_waiters(&srv, 0, true);
    status = 0;
out:
    if (nd)
        MHD_stop_daemon(nd);
    if (d)
        MHD_stop_daemon(d);
    nn_pki_free_secret(key);
    free(cert);
    nn_api_free(srv.api);
    pthread_mutex_destroy(&srv.wait_lock);
    return status;
}

static int cmd_ca(const char *db)
{
    nn_store *s;
    nn_api *api;
    if (nn_store_open(db, &s))
        return 1;
    int r = nn_api_new(&api);
    if (r == 0)
        r = nn_api_node_keys_load(api, s);
    nn_store_close(s);
    if (r) {
        fprintf(stderr, "error: %s: cannot load the node CA (%s)\n", db, strerror(-r));
        nn_api_free(api);
        return 1;
    }
    const uint8_t *sk;
    const char *ca_key, *ca_cert;
    nn_api_node_keys(api, &sk, &ca_key, &ca_cert);
    fputs(ca_cert, stdout);
    nn_api_free(api);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    if (strcmp(argv[1], "version") == 0) {
        printf("nanamid %s\n", NANAMI_VERSION);
        return 0;
    }
    const char *db = NULL, *ula = NULL;
    serve_options so = {.listen = "127.0.0.1:8420", .threads = 2};
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (strcmp(argv[i], "--ula-prefix") == 0 && i + 1 < argc &&
                   strcmp(argv[1], "init") == 0) {
            ula = argv[++i];
        } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            so.listen = argv[++i];
        } else if (strcmp(argv[i], "--node-listen") == 0 && i + 1 < argc) {
            so.node_listen = argv[++i];
        } else if (strcmp(argv[i], "--tls-name") == 0 && i + 1 < argc) {
            if (so.n_tls_names == 16 || strlen(argv[i + 1]) > 253) {
                fprintf(stderr, "error: --tls-name: at most 16 names of at most 253 bytes\n");
                return 2;
            }
            so.tls_names[so.n_tls_names++] = argv[++i];
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            char *end;
            long t = strtol(argv[++i], &end, 10);
            if (*end || t < 1 || t > 256) {
                fprintf(stderr, "error: --threads: must be 1-256\n");
                return 2;
            }
            so.threads = (unsigned)t;
        } else {
            fprintf(stderr, "error: unknown argument \"%s\"\n%s", argv[i], usage);
            return 2;
        }
    }
    if (!db) {
        fprintf(stderr, "error: --db FILE is required\n%s", usage);
        return 2;
    }
    if (strcmp(argv[1], "init") == 0)
        return cmd_init(db, ula);
    if (strcmp(argv[1], "serve") == 0)
        return cmd_serve(db, &so);
    if (strcmp(argv[1], "ca") == 0)
        return cmd_ca(db);
    fprintf(stderr, "error: unknown command \"%s\"\n%s", argv[1], usage);
    return 2;
}
