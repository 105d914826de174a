/* libFuzzer: raw bytes on a connection to nanamid's real transport
 * (src/server/http.c over libmicrohttpd, then the router and the API on a
 * SQLite file). Each input is one client's whole byte stream; the literal
 * word TOKEN in it becomes the platform admin's token, so authenticated
 * routes are reached.
 *
 * Beyond "nothing crashes, leaks or trips a sanitizer":
 *   - an answer is empty (the connection was refused or closed, or nothing
 *     came within 100 ms: a body shorter than its length waits for the
 *     request deadline) or
 *     starts with an HTTP status line;
 *   - a request whose path encodes a NUL or a slash is never a success;
 *   - a request with two Content-Length headers, or Content-Length beside
 *     Transfer-Encoding, is never a success. */
#include <ctype.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api.h"
#include "server/http.h"

static nn_api *g_api;
static nn_http *g_http;
static char g_token[NN_API_TOKEN_LEN];
static char g_dir[64];

static void teardown(void)
{
    nn_http_free(g_http);
    nn_api_free(g_api);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_http: could not remove %s\n", g_dir);
}

static void setup(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/fuzz_http.XXXXXX");
    if (!mkdtemp(g_dir))
        abort();
    static char db[96];
    snprintf(db, sizeof(db), "%s/db.sqlite", g_dir);
    nn_store *s;
    nn_http_limits lim;
    nn_http_limits_default(&lim);
    /* libmicrohttpd holds a connection whose head was cut short by the
     * client's FIN until the head deadline ends it: keep it short here. */
    lim.head_timeout = 1;
    if (nn_store_open(db, &s) || nn_api_init_install(s, NULL, g_token) || nn_api_new(&g_api) ||
        nn_api_node_keys_load(g_api, s))
        abort();
    nn_store_close(s);
    char err[128];
    nn_http_listener l = {.kind = NN_LISTENER_API, .threads = 1, .no_socket = true};
    if (nn_http_new(g_api, db, &lim, &g_http) || nn_http_listen(g_http, &l, err, sizeof(err)))
        abort();
    atexit(teardown);
}

/* The head of the request: up to the first blank line, lowercased. */
static char *head_of(const char *in, size_t n)
{
    const char *end = NULL;
    for (size_t i = 0; i + 3 < n && !end; i++)
        if (!memcmp(in + i, "\r\n\r\n", 4))
            end = in + i;
    size_t len = end ? (size_t)(end - in) : n;
    char *h = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        h[i] = (char)tolower((unsigned char)in[i]);
    h[len] = '\0';
    return h;
}

static size_t count(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, what)); p++)
        n++;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_api)
        setup();
    /* TOKEN -> the admin's token */
    size_t cap = size + 64 * (size / 5 + 1) + 8;
    char *in = malloc(cap);
    size_t n = 0;
    for (size_t i = 0; i < size;) {
        if (i + 5 <= size && !memcmp(data + i, "TOKEN", 5)) {
            n += (size_t)snprintf(in + n, cap - n, "%s", g_token);
            i += 5;
        } else {
            in[n++] = (char)data[i++];
        }
    }
    /* A head cut short is held until the head deadline (libmicrohttpd does
     * not end it at the client's FIN), which would make each such input
     * cost the whole wait: complete every head. */
    if (!memmem(in, n, "\r\n\r\n", 4) && n + 4 < cap) {
        memcpy(in + n, "\r\n\r\n", 4);
        n += 4;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        abort();
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_addr = {htonl(0x7f000001)}};
    if (nn_http_add_connection(g_http, 0, sv[0], (struct sockaddr *)&peer, sizeof(peer)) != 0) {
        close(sv[1]);
        free(in);
        return 0;
    }
    for (size_t o = 0; o < n;) {
        ssize_t w = send(sv[1], in + o, n - o, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        o += (size_t)w;
    }
    shutdown(sv[1], SHUT_WR);
    char out[8192];
    size_t got = 0;
    struct pollfd pf = {.fd = sv[1], .events = POLLIN};
    while (got < sizeof(out) - 1 && poll(&pf, 1, 100) == 1) {
        ssize_t r = recv(sv[1], out + got, sizeof(out) - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    out[got] = '\0';
    close(sv[1]);
    if (got && strncmp(out, "HTTP/1.", 7) != 0) {
        fprintf(stderr, "fuzz_http: an answer that is no HTTP: %.80s\n", out);
        abort();
    }
    bool success = got > 12 && out[9] == '2';
    char *head = head_of(in, n);
    const char *line_end = strstr(head, "\r\n");
    size_t line_len = line_end ? (size_t)(line_end - head) : strlen(head);
    char *line = strndup(head, line_len);
    char *q = strchr(line, '?');
    if (q)
        *q = '\0';
    if (success && (strstr(line, "%00") || strstr(line, "%2f"))) {
        fprintf(stderr, "fuzz_http: an encoded NUL or slash succeeded: %s\n", line);
        abort();
    }
    if (success && (count(head, "\ncontent-length:") > 1 ||
                    (strstr(head, "\ncontent-length:") && strstr(head, "\ntransfer-encoding:")))) {
        fprintf(stderr, "fuzz_http: an ambiguous framing succeeded: %.200s\n", head);
        abort();
    }
    free(line);
    free(head);
    free(in);
    return 0;
}
