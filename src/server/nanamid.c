/* nanamid: the management service. The API lives in src/api and knows no
 * HTTP; src/server/http.c is its libmicrohttpd transport and its defences;
 * this file is the command line. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "pki/pki.h"
#include "server/http.h"
#include "store/store.h"
#include "util/file.h"

static const char usage[] =
    "usage: nanamid init --db FILE [--ula-prefix fdXX:XXXX:XX00::/40]\n"
    "                         create the database and the platform administrator; prints\n"
    "                         its API token (shown once). The install's IPv6 ULA /40 is\n"
    "                         random unless pinned (to rebuild an install from an export\n"
    "                         with the same addresses)\n"
    "       nanamid serve --db FILE [--listen ADDR:PORT]... [--threads N] [--workers N]\n"
    "                         [--tls-cert FILE --tls-key FILE]\n"
    "                         [--node-listen ADDR:PORT [--tls-name NAME]...]\n"
    "                         [--max-conns N] [--max-conns-per-ip N] [--node-max-conns-per-ip N]\n"
    "                         [--max-requests-per-client N] [--trusted-proxy CIDR]...\n"
    "                         [--head-timeout S] [--request-timeout S] [--idle-timeout S]\n"
    "                         serve the API (default 127.0.0.1:8420; ADDR may be [IPv6]),\n"
    "                         over TLS with --tls-cert/--tls-key (PEM files); --node-listen\n"
    "                         adds the mutual-TLS listener nodes enroll and fetch envelopes\n"
    "                         on, whose certificate names the listen address and each\n"
    "                         --tls-name. The limits defend the listeners from floods (see\n"
    "                         docs/operations.md); X-Forwarded-For is believed only from a\n"
    "                         --trusted-proxy\n"
    "       nanamid ca --db FILE  print the node CA certificate (nodes trust it to enroll)\n"
    "       nanamid version\n";

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
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
    fprintf(stderr,
            "nanamid: %s initialised; the line above is the API token of user \"admin\" "
            "(shown once)\n",
            db);
    return 0;
}

#define MAX_LISTEN 3
#define MAX_TRUSTED 16

typedef struct serve_options {
    const char *listen[MAX_LISTEN];
    size_t nlisten;
    const char *node_listen;
    const char *tls_names[16];
    size_t n_tls_names;
    const char *tls_cert_file, *tls_key_file;
    unsigned threads;
    unsigned node_max_conns_per_ip;
    nn_http_limits lim;
    nn_prefix trusted[MAX_TRUSTED];
} serve_options;

/* The node listener's certificate: a fresh key each start, signed by the
 * node CA, naming the listen address (unless it is a wildcard) and every
 * --tls-name. */
static int server_credentials(const char *ca_key, const char *ca_cert, const char *listen,
                              const char *const *names, size_t n_names, char **key, char **cert)
{
    const char *all[17];
    size_t n = 0;
    char host[64];
    const char *colon = strrchr(listen, ':');
    snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[') { /* [IPv6] */
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    if (strcmp(host, "0.0.0.0") != 0 && strcmp(host, "::") != 0)
        all[n++] = host;
    for (size_t i = 0; i < n_names && n < 17; i++)
        all[n++] = names[i];
    return nn_pki_server_new(ca_key, ca_cert, all, n, 90, key, cert);
}

static int load_pem(const char *what, const char *path, char **out)
{
    size_t len;
    int r = nn_file_read(path, 1u << 20, out, &len);
    if (r)
        fprintf(stderr, "error: %s: cannot read %s: %s\n", what, path, strerror(-r));
    return r;
}

static int cmd_serve(const char *db, serve_options *o)
{
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
    nn_api *api = NULL;
    nn_http *http = NULL;
    char *key = NULL, *cert = NULL, *api_key = NULL, *api_cert = NULL;
    char err[256];
    int status = 1;
    if ((r = nn_api_new(&api)) || (r = nn_api_node_keys_load(api, probe))) {
        fprintf(stderr, "error: %s: loading the node CA and signing key failed (%s)\n", db,
                strerror(-r));
        nn_store_close(probe);
        goto out;
    }
    r = nn_api_upgrade(probe, stderr);
    nn_store_close(probe);
    if (r) {
        fprintf(stderr, "error: %s: upgrading the database failed (%s)\n", db, strerror(-r));
        goto out;
    }
    if (o->tls_cert_file && (load_pem("--tls-cert", o->tls_cert_file, &api_cert) ||
                             load_pem("--tls-key", o->tls_key_file, &api_key)))
        goto out;
    if (nn_http_new(api, db, &o->lim, &http))
        goto out;
    for (size_t i = 0; i < o->nlisten; i++) {
        nn_http_listener l = {.listen = o->listen[i],
                              .kind = NN_LISTENER_API,
                              .tls_key = api_key,
                              .tls_cert = api_cert,
                              .threads = o->threads};
        if (nn_http_listen(http, &l, err, sizeof(err))) {
            fprintf(stderr, "error: --listen: %s\n", err);
            goto out;
        }
    }
    if (o->node_listen) {
        const uint8_t *sk;
        const char *ca_key, *ca_cert;
        nn_api_node_keys(api, &sk, &ca_key, &ca_cert);
        if ((r = server_credentials(ca_key, ca_cert, o->node_listen, o->tls_names, o->n_tls_names,
                                    &key, &cert))) {
            fprintf(stderr, "error: making the node listener's certificate failed (%d)\n", r);
            goto out;
        }
        nn_http_listener l = {.listen = o->node_listen,
                              .kind = NN_LISTENER_NODE,
                              .tls_key = key,
                              .tls_cert = cert,
                              .tls_trust = ca_cert,
                              .threads = o->threads,
                              .max_conns_per_ip = o->node_max_conns_per_ip};
        if (nn_http_listen(http, &l, err, sizeof(err))) {
            fprintf(stderr, "error: --node-listen: %s\n", err);
            goto out;
        }
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < o->nlisten; i++)
        printf("nanamid: serving %s://%s/api/v1/ (database %s, %u threads)\n",
               api_cert ? "https" : "http", o->listen[i], db, o->threads);
    if (o->node_listen)
        printf("nanamid: nodes enroll and fetch on https://%s/api/v1/node/ (mutual TLS)\n",
               o->node_listen);
    fflush(stdout);
    while (!g_stop)
        pause();
    status = 0;
out:
    nn_http_free(http);
    nn_api_free(api);
    nn_pki_free_secret(key);
    nn_pki_free_secret(api_key);
    free(cert);
    free(api_cert);
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

/* A whole number in [lo, hi] into *out; else an error naming the flag. */
static bool number(const char *flag, const char *s, long lo, long hi, unsigned *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || end == s || v < lo || v > hi) {
        fprintf(stderr, "error: %s: must be %ld-%ld\n", flag, lo, hi);
        return false;
    }
    *out = (unsigned)v;
    return true;
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
    static serve_options so = {.threads = 2};
    nn_http_limits_default(&so.lim);
    so.lim.trusted = so.trusted;
    for (int i = 2; i < argc; i += 2) { /* every flag takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true, known = true;
        if (!v) {
            ok = known = false;
        } else if (strcmp(a, "--db") == 0) {
            db = v;
        } else if (strcmp(a, "--ula-prefix") == 0 && strcmp(argv[1], "init") == 0) {
            ula = v;
        } else if (strcmp(a, "--listen") == 0) {
            if (so.nlisten == MAX_LISTEN) {
                fprintf(stderr, "error: --listen: at most %d\n", MAX_LISTEN);
                return 2;
            }
            so.listen[so.nlisten++] = v;
        } else if (strcmp(a, "--node-listen") == 0) {
            so.node_listen = v;
        } else if (strcmp(a, "--tls-name") == 0) {
            if (so.n_tls_names == 16 || strlen(v) > 253) {
                fprintf(stderr, "error: --tls-name: at most 16 names of at most 253 bytes\n");
                return 2;
            }
            so.tls_names[so.n_tls_names++] = v;
        } else if (strcmp(a, "--tls-cert") == 0) {
            so.tls_cert_file = v;
        } else if (strcmp(a, "--tls-key") == 0) {
            so.tls_key_file = v;
        } else if (strcmp(a, "--trusted-proxy") == 0) {
            const char *why = "at most 16";
            if (so.lim.ntrusted == MAX_TRUSTED ||
                nn_prefix_parse(v, true, true, &so.trusted[so.lim.ntrusted], &why)) {
                fprintf(stderr, "error: --trusted-proxy: \"%s\": %s\n", v, why);
                return 2;
            }
            so.lim.ntrusted++;
        } else if (strcmp(a, "--threads") == 0) {
            ok = number(a, v, 1, 256, &so.threads);
        } else if (strcmp(a, "--workers") == 0) {
            ok = number(a, v, 1, 256, &so.lim.workers);
        } else if (strcmp(a, "--max-conns") == 0) {
            ok = number(a, v, 1, 100000, &so.lim.max_conns);
        } else if (strcmp(a, "--max-conns-per-ip") == 0) {
            ok = number(a, v, 1, 100000, &so.lim.max_conns_per_ip);
        } else if (strcmp(a, "--node-max-conns-per-ip") == 0) {
            ok = number(a, v, 1, 100000, &so.node_max_conns_per_ip);
        } else if (strcmp(a, "--max-requests-per-client") == 0) {
            ok = number(a, v, 1, 100000, &so.lim.max_requests_per_client);
        } else if (strcmp(a, "--head-timeout") == 0) {
            ok = number(a, v, 1, 3600, &so.lim.head_timeout);
        } else if (strcmp(a, "--request-timeout") == 0) {
            ok = number(a, v, 1, 3600, &so.lim.request_timeout);
        } else if (strcmp(a, "--idle-timeout") == 0) {
            ok = number(a, v, 1, 3600, &so.lim.idle_timeout);
        } else {
            ok = known = false;
        }
        if (!ok) {
            if (!known) /* number() has said what is wrong with a known one */
                fprintf(stderr, "error: unknown argument \"%s\" (or no value)\n%s", a, usage);
            return 2;
        }
    }
    if (!db) {
        fprintf(stderr, "error: --db FILE is required\n%s", usage);
        return 2;
    }
    if (!so.tls_cert_file != !so.tls_key_file) {
        fprintf(stderr, "error: --tls-cert and --tls-key go together\n");
        return 2;
    }
    if (so.nlisten == 0)
        so.listen[so.nlisten++] = "127.0.0.1:8420";
    if (!so.node_max_conns_per_ip)
        /* nodes of a site may share one NAT address */
        so.node_max_conns_per_ip = so.lim.max_conns_per_ip * 8;
    if (strcmp(argv[1], "init") == 0)
        return cmd_init(db, ula);
    if (strcmp(argv[1], "serve") == 0)
        return cmd_serve(db, &so);
    if (strcmp(argv[1], "ca") == 0)
        return cmd_ca(db);
    fprintf(stderr, "error: unknown command \"%s\"\n%s", argv[1], usage);
    return 2;
}
