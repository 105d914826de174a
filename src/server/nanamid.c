/* nanamid: the management service. libmicrohttpd with a thread pool; each
 * pool thread owns one SQLite connection (WAL lets readers run beside the
 * writer). The API itself lives in src/api and does not know about HTTP. */
#include <errno.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "store/store.h"

static const char usage[] =
    "usage: nanamid init --db FILE [--ula-prefix fdXX:XXXX:XX00::/40]\n"
    "                         create the database and the platform administrator; prints\n"
    "                         its API token (shown once). The install's IPv6 ULA /40 is\n"
    "                         random unless pinned (to rebuild an install from an export\n"
    "                         with the same addresses)\n"
    "       nanamid serve --db FILE [--listen ADDR:PORT] [--threads N]\n"
    "                         serve the API (default 127.0.0.1:8420)\n"
    "       nanamid version\n";

typedef struct server {
    const char *db_path;
    nn_api *api;
    pthread_key_t store_key;
} server;

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

typedef struct upload {
    char *data;
    size_t len;
    bool too_large;
} upload;

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
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    server *srv = cls;
    upload *up = *con_cls;
    if (!up) {
        if (!(up = calloc(1, sizeof(*up))))
            return MHD_NO;
        *con_cls = up;
        return MHD_YES;
    }
    if (*upload_size) {
        /* Bodies are bounded before they are buffered. */
        if (up->too_large || up->len + *upload_size > NN_API_MAX_INTENT_BODY) {
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
        nn_api_request req = {
            .method = method,
            .path = url,
            .authorization =
                MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
            .if_none_match =
                MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH),
            .dry_run = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "dry_run"),
            .body = up->data,
            .body_len = up->len,
        };
        nn_api_handle(srv->api, store, &req, &resp);
    }
    enum MHD_Result ret = send_response(conn, &resp);
    nn_api_response_free(&resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    upload *up = *con_cls;
    if (up) {
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

static int cmd_serve(const char *db, const char *listen, unsigned threads)
{
    struct sockaddr_in sa;
    if (parse_listen(listen, &sa)) {
        fprintf(stderr, "error: --listen: \"%s\" is not IPv4:PORT\n", listen);
        return 2;
    }
    server srv = {.db_path = db};
    nn_store *probe;
    if (nn_store_open(db, &probe))
        return 1;
    char *ula;
    int r = nn_store_meta_get(probe, "ula_prefix", &ula);
    nn_store_close(probe);
    if (r) {
        fprintf(stderr, "error: %s: not initialised; run: nanamid init --db %s\n", db, db);
        return 2;
    }
    free(ula);
    if (nn_api_new(&srv.api) || pthread_key_create(&srv.store_key, close_store))
        return 1;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, &srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, &srv,
        MHD_OPTION_CONNECTION_LIMIT, 4096u, MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "error: cannot listen on %s: %s\n", listen, strerror(errno));
        nn_api_free(srv.api);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    printf("nanamid: serving http://%s/api/v1/ (database %s, %u threads)\n", listen, db, threads);
    fflush(stdout);
    while (!g_stop)
        pause();
    MHD_stop_daemon(d);
    nn_api_free(srv.api);
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
    const char *db = NULL, *listen = "127.0.0.1:8420", *ula = NULL;
    unsigned threads = 2;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (strcmp(argv[i], "--ula-prefix") == 0 && i + 1 < argc &&
                   strcmp(argv[1], "init") == 0) {
            ula = argv[++i];
        } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen = argv[++i];
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            char *end;
            long t = strtol(argv[++i], &end, 10);
            if (*end || t < 1 || t > 256) {
                fprintf(stderr, "error: --threads: must be 1-256\n");
                return 2;
            }
            threads = (unsigned)t;
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
        return cmd_serve(db, listen, threads);
    fprintf(stderr, "error: unknown command \"%s\"\n%s", argv[1], usage);
    return 2;
}
