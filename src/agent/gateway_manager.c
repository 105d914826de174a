/* gateway-manager: the unprivileged half of a node, and the only part of
 * it that talks to the network. It enrolls once, then long-polls nanamid
 * for the node's envelope over mutual TLS, hands each new envelope to
 * gateway-daemon over its unix socket, and reports what the daemon
 * observes. When the server is away it backs off with jitter; the daemon
 * keeps the last applied state meanwhile.
 *
 *   gateway-manager enroll --server URL --ca CAFILE --token TOKEN
 *                          --state-dir DIR --daemon-socket PATH
 *   gateway-manager run    --state-dir DIR --daemon-socket PATH
 *                          [--wait SECONDS] [--once]
 *
 * Its state directory holds the TLS key (made here, mode 0600; it never
 * leaves the node), the certificate and CA, and the server URL. It never
 * holds the WireGuard private key: that stays with the daemon. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/msg.h"
#include "pki/pki.h"
#include "util/buf.h"
#include "util/file.h"

#define EXIT_INVALID 2
#define MAX_ENVELOPE (64u << 20)
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 15000

typedef struct options {
    const char *server, *ca, *token, *state_dir, *daemon_socket, *wait;
    bool once;
} options;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int usage(const char *msg)
{
    fprintf(stderr,
            "error: %s\n"
            "usage: gateway-manager enroll --server https://HOST:PORT --ca CAFILE --token TOKEN\n"
            "                              --state-dir DIR --daemon-socket PATH\n"
            "       gateway-manager run --state-dir DIR --daemon-socket PATH [--wait SECONDS]\n"
            "                           [--once]\n",
            msg);
    return EXIT_INVALID;
}

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("gateway-manager: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int parse_options(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--once")) {
            o->once = true;
            continue;
        }
        const char **slot = !strcmp(a, "--server")          ? &o->server
                            : !strcmp(a, "--ca")            ? &o->ca
                            : !strcmp(a, "--token")         ? &o->token
                            : !strcmp(a, "--state-dir")     ? &o->state_dir
                            : !strcmp(a, "--daemon-socket") ? &o->daemon_socket
                            : !strcmp(a, "--wait")          ? &o->wait
                                                            : NULL;
        if (!slot || i + 1 >= argc) {
            fprintf(stderr, "error: %s \"%s\"\n", slot ? "missing value for" : "unknown argument",
                    a);
            return -EINVAL;
        }
        *slot = argv[++i];
    }
    return 0;
}

static int state_path(char *buf, size_t n, const char *dir, const char *name)
{
    return snprintf(buf, n, "%s/%s", dir, name) < (int)n ? 0 : -ENAMETOOLONG;
}

/* ------------------------------------------------------------------ */
/* HTTP */

typedef struct http_reply {
    long status;
    nn_buf body;
    char etag[72];
    char signature[NN_ENVELOPE_SIG_MAX];
    bool too_large;
} http_reply;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    http_reply *r = arg;
    if (r->body.len + size * n > MAX_ENVELOPE) {
        r->too_large = true;
        return 0;
    }
    nn_buf_append(&r->body, p, size * n);
    return size * n;
}

/* Keeps the two headers a node needs, bounded. */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    http_reply *r = arg;
    size_t len = size * n;
    const char *names[] = {"etag:", "x-nanami-signature:"};
    char *slots[] = {r->etag, r->signature};
    size_t caps[] = {sizeof(r->etag), sizeof(r->signature)};
    for (size_t i = 0; i < 2; i++) {
        size_t k = strlen(names[i]);
        if (len > k && strncasecmp(p, names[i], k) == 0) {
            const char *v = p + k;
            size_t vl = len - k;
            while (vl && (*v == ' ' || *v == '\t'))
                v++, vl--;
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
                vl--;
            if (vl < caps[i]) {
                memcpy(slots[i], v, vl);
                slots[i][vl] = '\0';
            }
        }
    }
    return len;
}

typedef struct client {
    char url[512];
    char ca[4096], cert[4096], key[4096];
    bool with_cert;
} client;

/* One request. 0 with the reply filled (any HTTP status), or -EIO with
 * curl's reason in why (the server is unreachable). */
static int http(const client *c, const char *path, const char *method, const char *body,
                const char *if_none_match, long timeout_s, http_reply *out, char *why,
                size_t why_len)
{
    memset(out, 0, sizeof(*out));
    CURL *h = curl_easy_init();
    if (!h)
        return -ENOMEM;
    char url[1024], inm[128];
    snprintf(url, sizeof(url), "%s%s", c->url, path);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (if_none_match && *if_none_match) {
        snprintf(inm, sizeof(inm), "If-None-Match: %s", if_none_match);
        hdrs = curl_slist_append(hdrs, inm);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->with_cert) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    CURLcode rc = curl_easy_perform(h);
    int r = 0;
    if (rc != CURLE_OK) {
        snprintf(why, why_len, "%.200s%.100s: %.150s", c->url, path,
                 out->too_large ? "reply too large" : curl_easy_strerror(rc));
        r = -EIO;
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return r;
}

/* The server's error message in a JSON error body, or the status. */
static void reply_reason(const http_reply *r, char *why, size_t why_len)
{
    json_t *v = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
    const char *msg = json_string_value(json_object_get(json_object_get(v, "error"), "message"));
    snprintf(why, why_len, "HTTP %ld: %s", r->status, msg ? msg : "(no message)");
    json_decref(v);
}

/* ------------------------------------------------------------------ */
/* The daemon */

/* One request to the daemon; OK's JSON payload in *out (caller frees).
 * An ERROR reply's message goes to why, with -EPERM when it refused. */
static int daemon_call(const char *sock, uint8_t type, const void *payload, size_t len,
                       json_t **out, char *why, size_t why_len)
{
    nn_buf reply = NN_BUF_INIT;
    uint8_t rtype;
    *out = NULL;
    int r = nn_msg_call(sock, 120, type, payload, len, &rtype, &reply);
    if (r) {
        snprintf(why, why_len, "daemon %s: %s", sock, strerror(-r));
        nn_buf_free(&reply);
        return r;
    }
    json_t *v = json_loadb(reply.data ? reply.data : "", reply.len, 0, NULL);
    nn_buf_free(&reply);
    if (!v) {
        snprintf(why, why_len, "daemon %s: reply is not JSON", sock);
        return -EPROTO;
    }
    if (rtype == NN_MSG_ERROR) {
        snprintf(why, why_len, "%s", json_string_value(json_object_get(v, "error")));
        r = json_is_true(json_object_get(v, "refused")) ? -EPERM : -EIO;
        json_decref(v);
        return r;
    }
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------ */
/* enroll */

static int write_file(const char *dir, const char *name, const char *text, bool secret)
{
    char path[4096];
    int r = state_path(path, sizeof(path), dir, name);
    if (r == 0)
        r = secret ? nn_file_create_secret(path, text, strlen(text))
                   : nn_file_replace(path, text, strlen(text), 0644);
    if (r)
        fprintf(stderr, "error: %s: %s\n", path, strerror(-r));
    return r;
}

static int cmd_enroll(const options *o)
{
    if (!o->server || !o->ca || !o->token || !o->state_dir || !o->daemon_socket)
        return usage("enroll needs --server, --ca, --token, --state-dir and --daemon-socket");
    if (strncmp(o->server, "https://", 8) != 0 || strlen(o->server) >= 400)
        return usage("--server must be an https:// URL (enrollment never goes in clear)");
    char why[512], path[4096];
    if (mkdir(o->state_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "error: %s: %s\n", o->state_dir, strerror(errno));
        return 1;
    }
    if (state_path(path, sizeof(path), o->state_dir, "tls.crt") || access(path, F_OK) == 0) {
        fprintf(stderr,
                "error: %s exists: this node is enrolled (remove the state directory "
                "to enroll again)\n",
                path);
        return EXIT_INVALID;
    }
    /* The daemon's WireGuard public key: the private half stays there. */
    json_t *hello;
    if (daemon_call(o->daemon_socket, NN_MSG_HELLO, NULL, 0, &hello, why, sizeof(why))) {
        fprintf(stderr, "error: %s\n", why);
        return 1;
    }
    char wg_pub[64];
    snprintf(wg_pub, sizeof(wg_pub), "%s", json_string_value(json_object_get(hello, "public_key")));
    json_decref(hello);
    char *key = NULL, *csr = NULL, *ca = NULL, *body = NULL;
    size_t ca_len;
    json_t *reply = NULL;
    int status = 1, r = nn_file_read(o->ca, NN_PKI_MAX_PEM, &ca, &ca_len);
    if (r) {
        fprintf(stderr, "error: --ca %s: %s\n", o->ca, strerror(-r));
        status = EXIT_INVALID;
        goto out;
    }
    if ((r = nn_pki_key_new(&key)) || (r = nn_pki_csr_new(key, "nanami-node", &csr))) {
        fprintf(stderr, "error: making the TLS key failed (%d)\n", r);
        goto out;
    }
    json_t *req =
        json_pack("{s:s, s:s, s:s}", "token", o->token, "wireguard_public_key", wg_pub, "csr", csr);
    body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    client c = {.with_cert = false};
    snprintf(c.url, sizeof(c.url), "%s/api/v1", o->server);
    snprintf(c.ca, sizeof(c.ca), "%s", o->ca);
    http_reply hr;
    if ((r = http(&c, "/node/enroll", "POST", body, NULL, 30, &hr, why, sizeof(why)))) {
        fprintf(stderr, "error: %s\n", why);
        nn_buf_free(&hr.body);
        goto out;
    }
    if (hr.status != 201) {
        reply_reason(&hr, why, sizeof(why));
        fprintf(stderr, "error: enrollment refused: %s\n", why);
        nn_buf_free(&hr.body);
        status = EXIT_INVALID;
        goto out;
    }
    reply = json_loadb(hr.body.data, hr.body.len, 0, NULL);
    nn_buf_free(&hr.body);
    const char *cert = json_string_value(json_object_get(reply, "certificate"));
    const char *signing = json_string_value(json_object_get(reply, "signing_public_key"));
    /* a host token names the host (the node); an older peer token a peer */
    json_t *host = json_object_get(reply, "host"), *peer = json_object_get(reply, "peer");
    if (!cert || !signing || !(json_is_object(host) || json_is_object(peer))) {
        fprintf(stderr, "error: enrollment reply lacks certificate or signing key\n");
        goto out;
    }
    /* The daemon pins the signing key first: without it nothing applies. */
    json_t *pinned;
    if (daemon_call(o->daemon_socket, NN_MSG_PIN, signing, strlen(signing), &pinned, why,
                    sizeof(why))) {
        fprintf(stderr, "error: pinning the server key: %s\n", why);
        goto out;
    }
    json_decref(pinned);
    char server_line[512];
    snprintf(server_line, sizeof(server_line), "%s\n", o->server);
    if (write_file(o->state_dir, "tls.key", key, true) ||
        write_file(o->state_dir, "ca.pem", ca, false) ||
        write_file(o->state_dir, "server", server_line, false) ||
        write_file(o->state_dir, "tls.crt", cert, false))
        goto out;
    if (json_is_object(host))
        printf("enrolled as host %s/%s; WireGuard public key %s\n",
               json_string_value(json_object_get(host, "workspace")),
               json_string_value(json_object_get(host, "name")), wg_pub);
    else
        printf("enrolled as %s/%s/%s; WireGuard public key %s\n",
               json_string_value(json_object_get(peer, "workspace")),
               json_string_value(json_object_get(peer, "network")),
               json_string_value(json_object_get(peer, "name")), wg_pub);
    status = 0;
out:
    nn_pki_free_secret(key);
    free(csr);
    free(ca);
    free(body);
    json_decref(reply);
    return status;
}

/* ------------------------------------------------------------------ */
/* run */

static int load_client(const options *o, client *c)
{
    char path[4096], *server = NULL;
    size_t len;
    memset(c, 0, sizeof(*c));
    c->with_cert = true;
    if (state_path(path, sizeof(path), o->state_dir, "server") ||
        nn_file_read(path, 512, &server, &len) != 0) {
        fprintf(stderr, "error: %s: not enrolled (run gateway-manager enroll)\n", o->state_dir);
        return -ENOENT;
    }
    server[strcspn(server, "\r\n")] = '\0';
    snprintf(c->url, sizeof(c->url), "%s/api/v1", server);
    free(server);
    if (state_path(c->ca, sizeof(c->ca), o->state_dir, "ca.pem") ||
        state_path(c->cert, sizeof(c->cert), o->state_dir, "tls.crt") ||
        state_path(c->key, sizeof(c->key), o->state_dir, "tls.key"))
        return -ENAMETOOLONG;
    return 0;
}

/* Full jitter: a random wait up to the current ceiling, so nodes that
 * lost the server together do not return together. */
static void backoff_sleep(unsigned *ceiling_ms)
{
    unsigned ms = BACKOFF_MIN_MS / 2 + randombytes_uniform(*ceiling_ms);
    *ceiling_ms = *ceiling_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *ceiling_ms * 2;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Hands the envelope to the daemon. 0 applied, -EPERM refused. */
static int deliver(const options *o, const http_reply *hr, char *why, size_t why_len)
{
    /* The daemon verifies the token; the manager only carries it. */
    if (!hr->signature[0]) {
        snprintf(why, why_len, "the envelope came without an X-Nanami-Signature");
        return -EPERM;
    }
    nn_buf msg = NN_BUF_INIT;
    nn_buf_puts(&msg, hr->signature);
    nn_buf_putc(&msg, '\n');
    nn_buf_append(&msg, hr->body.data, hr->body.len);
    json_t *res;
    int r = daemon_call(o->daemon_socket, NN_MSG_APPLY, msg.data, msg.len, &res, why, why_len);
    nn_buf_free(&msg);
    if (r == 0) {
        json_t *p = json_object_get(res, "peers");
        log_line("applied %s: peers +%lld ~%lld -%lld", hr->etag,
                 (long long)json_integer_value(json_object_get(p, "added")),
                 (long long)json_integer_value(json_object_get(p, "updated")),
                 (long long)json_integer_value(json_object_get(p, "removed")));
        json_decref(res);
    }
    return r;
}

/* Asks the daemon what it sees and reports it. */
static int report(const options *o, const client *c)
{
    char why[512];
    json_t *st;
    if (daemon_call(o->daemon_socket, NN_MSG_STATUS, NULL, 0, &st, why, sizeof(why))) {
        log_line("status: %s", why);
        return -EIO;
    }
    char *body = json_dumps(st, JSON_COMPACT);
    json_decref(st);
    http_reply hr;
    int r = body ? http(c, "/node/status", "POST", body, NULL, 30, &hr, why, sizeof(why)) : -ENOMEM;
    free(body);
    if (r == 0 && hr.status != 200) {
        reply_reason(&hr, why, sizeof(why));
        r = -EIO;
    }
    if (r)
        log_line("status report: %s", why);
    nn_buf_free(&hr.body);
    return r;
}

static int cmd_run(const options *o)
{
    if (!o->state_dir || !o->daemon_socket)
        return usage("run needs --state-dir and --daemon-socket");
    long wait_s = 25;
    if (o->wait) {
        char *end;
        wait_s = strtol(o->wait, &end, 10);
        if (*end || wait_s < 0 || wait_s > 60)
            return usage("--wait must be 0-60 seconds");
    }
    client c;
    if (load_client(o, &c))
        return EXIT_INVALID;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* Start from what the daemon has in force, so a restart of the
     * manager costs a 304, not a re-apply. */
    char etag[72] = "", why[512];
    json_t *hello;
    if (daemon_call(o->daemon_socket, NN_MSG_HELLO, NULL, 0, &hello, why, sizeof(why)) == 0) {
        const char *e = json_string_value(json_object_get(hello, "applied_etag"));
        if (e)
            snprintf(etag, sizeof(etag), "%s", e);
        json_decref(hello);
    } else {
        log_line("%s (will retry)", why);
    }
    log_line("polling %s/node/config", c.url);
    unsigned ceiling = BACKOFF_MIN_MS;
    bool reported = false, server_away = false;
    char path[64];
    while (!g_stop) {
        snprintf(path, sizeof(path), "/node/config?wait=%ld", reported ? wait_s : 0L);
        http_reply hr;
        int r = http(&c, path, "GET", NULL, etag, wait_s + 15, &hr, why, sizeof(why));
        if (r == 0 && hr.status == 200) {
            int d = deliver(o, &hr, why, sizeof(why));
            if (d == 0 || d == -EPERM) {
                /* A refused envelope is not fetched again until it changes;
                 * the daemon reports the refusal. */
                snprintf(etag, sizeof(etag), "%s", hr.etag);
                if (d)
                    log_line("envelope %s refused by the daemon: %s", hr.etag, why);
            } else {
                log_line("%s", why);
            }
            r = d == 0 || d == -EPERM ? 0 : -EIO;
            reported = false;
        } else if (r == 0 && hr.status != 304) {
            reply_reason(&hr, why, sizeof(why));
            r = -EIO;
        }
        nn_buf_free(&hr.body);
        if (r == 0 && (r = report(o, &c)) == 0)
            reported = true;
        if (r == 0) {
            if (server_away)
                log_line("server back");
            server_away = false;
            ceiling = BACKOFF_MIN_MS;
        } else {
            if (!server_away)
                log_line("%s; backing off, the node keeps its last applied state", why);
            server_away = true;
            reported = false;
            backoff_sleep(&ceiling);
        }
        if (o->once && r == 0)
            break;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return 1;
    if (argc < 2)
        return usage("missing command");
    options o;
    int status;
    if (parse_options(argc - 2, argv + 2, &o))
        status = EXIT_INVALID;
    else if (!strcmp(argv[1], "enroll"))
        status = cmd_enroll(&o);
    else if (!strcmp(argv[1], "run"))
        status = cmd_run(&o);
    else
        status = usage("unknown command");
    curl_global_cleanup();
    return status;
}
