/* libFuzzer: the REST API's request handling (routing, auth header, body
 * parsing and validation, the write path down to SQLite) on an in-memory
 * database. Input: "METHOD\nPATH\nAUTH\nBODY"; AUTH "admin" is replaced by
 * a valid platform-admin token so the authenticated handlers are reached.
 * Nothing may crash, leak or trip a sanitizer, whatever the bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "store/store.h"

static nn_api *g_api;
static nn_store *g_store;
static char g_auth[NN_API_TOKEN_LEN + 16];

static void setup(void)
{
    char token[NN_API_TOKEN_LEN];
    if (nn_api_new(&g_api) || nn_store_open(":memory:", &g_store) ||
        nn_api_init_install(g_store, NULL, token))
        abort();
    snprintf(g_auth, sizeof(g_auth), "Bearer %s", token);
    static const char *const seed[][3] = {
        {"POST", "/api/v1/workspaces", "{\"name\":\"fz\"}"},
        {"POST", "/api/v1/workspaces/fz/networks", "{\"name\":\"corp\",\"ipv4_cidr\":\"10.1.0.0/24\"}"},
        {"PUT", "/api/v1/workspaces/fz/networks/corp/peers/hub",
         "{\"public_key\":\"Cu6HSiTawhFvktwrxzl48+VtBmq3azpeNne1Vk51pnc=\",\"publicly_reachable\":true}"},
    };
    for (size_t i = 0; i < sizeof(seed) / sizeof(seed[0]); i++) {
        nn_api_request req = {.method = seed[i][0], .target = seed[i][1], .authorization = g_auth,
                              .body = seed[i][2], .body_len = strlen(seed[i][2])};
        nn_api_response resp;
        nn_api_response_init(&resp);
        nn_api_handle(g_api, g_store, &req, &resp);
        nn_api_response_free(&resp);
    }
}

/* Splits off the next line of [*p, end) into a NUL-terminated copy. */
static char *next_line(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
    char *s = malloc(n + 1);
    memcpy(s, *p, n);
    s[n] = '\0';
    *p += n + (nl ? 1 : 0);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_api)
        setup();
    const uint8_t *p = data, *end = data + size;
    char *method = next_line(&p, end);
    char *path = next_line(&p, end);
    char *auth = next_line(&p, end);
    nn_api_request req = {
        .method = method,
        .target = path,
        .listener = size % 3 == 0 ? NN_LISTENER_NODE : NN_LISTENER_API,
        .authorization = strcmp(auth, "admin") == 0 ? g_auth : auth,
        .if_none_match = auth,
        .body = (const char *)p,
        .body_len = (size_t)(end - p),
    };
    nn_api_response resp;
    nn_api_response_init(&resp);
    nn_api_handle(g_api, g_store, &req, &resp);
    if (resp.status < 200 || resp.status > 599)
        abort();
    nn_api_response_free(&resp);
    free(method);
    free(path);
    free(auth);
    return 0;
}
