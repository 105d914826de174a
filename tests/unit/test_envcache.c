/* The envelope cache (src/api/envcache.c) on a real SQLite database: what
 * it serves is what the offline compiler makes of the stored workspace,
 * signed at the network's revision; a revision is compiled once however
 * often and from however many threads it is asked for; a one-peer change
 * renders only the envelopes it changes and carries the rest over. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "api/api.h"
#include "api/envcache.h"
#include "api/wsdoc.h"
#include "compile/compile.h"
#include "model/intent.h"
#include "util/hash.h"

static nn_api *g_api;
static nn_store *g_store;
static char g_auth[96];

static int request(const char *method, const char *target, const char *body)
{
    nn_api_request req = {.method = method,
                          .target = target,
                          .authorization = g_auth,
                          .body = body,
                          .body_len = body ? strlen(body) : 0};
    nn_api_response resp;
    nn_api_response_init(&resp);
    nn_api_handle(g_api, g_store, &req, &resp);
    int status = resp.status;
    nn_api_response_free(&resp);
    return status;
}

static void key(char out[45])
{
    uint8_t k[32];
    randombytes_buf(k, sizeof(k));
    sodium_bin2base64(out, 45, k, sizeof(k), sodium_base64_VARIANT_ORIGINAL);
}

static int setup(void **state)
{
    (void)state;
    char token[NN_API_TOKEN_LEN];
    if (nn_api_new(&g_api) || nn_store_open(":memory:", &g_store) ||
        nn_api_init_install(g_store, NULL, token))
        return -1;
    snprintf(g_auth, sizeof(g_auth), "Bearer %s", token);
    char body[4096], k[45];
    size_t o = 0;
    key(k);
    o += (size_t)snprintf(
        body + o, sizeof(body) - o,
        "{\"workspaces\":[{\"name\":\"w\",\"networks\":[{\"name\":\"n\",\"ipv4_cidr\":"
        "\"10.7.0.0/24\",\"peers\":[{\"name\":\"hub\",\"public_key\":\"%s\","
        "\"publicly_reachable\":true,\"endpoint\":\"192.0.2.1:51820\"}",
        k);
    for (int i = 0; i < 8; i++) {
        key(k);
        o += (size_t)snprintf(body + o, sizeof(body) - o,
                              ",{\"name\":\"s%d\",\"public_key\":\"%s\"}", i, k);
    }
    snprintf(body + o, sizeof(body) - o, "]}]}]}");
    if (request("POST", "/api/v1/workspaces", "{\"name\":\"w\"}") != 201 ||
        request("PUT", "/api/v1/workspaces/w/intent", body) != 200)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nn_store_close(g_store);
    nn_api_free(g_api);
    return 0;
}

static void rows(nn_row *ws, nn_row *net)
{
    assert_int_equal(nn_store_workspace_find(g_store, "w", ws), 0);
    assert_int_equal(nn_store_row_get(g_store, ws->id, 0, "networks", "n", net), 0);
}

/* What the offline compiler gives for peer of the stored workspace. */
static char *offline(const nn_row *ws, const char *peer)
{
    nn_doc *doc;
    char field[256], msg[256];
    assert_int_equal(nn_wsdoc_load(g_store, ws, &doc, field, sizeof(field), msg, sizeof(msg)), 0);
    const nn_network *net = nn_workspace_find_network(nn_doc_find_workspace(doc, "w"), "n");
    nn_net_plan *plan;
    assert_int_equal(nn_compile_plan_new(net, &plan), 0);
    nn_buf b = NN_BUF_INIT;
    nn_compile_for_peer(plan, nn_network_find_peer(net, peer), &b);
    nn_buf_putc(&b, '\0');
    nn_compile_plan_free(plan);
    nn_doc_free(doc);
    return nn_buf_steal(&b);
}

static void test_serves_the_compile_signed(void **state)
{
    (void)state;
    nn_envcache *ec;
    assert_int_equal(nn_envcache_new(&ec), 0);
    uint8_t pk[NN_SIGN_PK_LEN], sk[NN_SIGN_SK_LEN];
    crypto_sign_keypair(pk, sk);
    nn_row ws, net;
    rows(&ws, &net);
    nn_envcache_entry *e;
    assert_int_equal(nn_envcache_get(ec, g_store, &ws, &net, &e), 0);
    nn_envcache_lock(e);
    const nn_env_blob *b =
        nn_envcache_envelope(ec, e, nn_network_find_peer(nn_envcache_network(e), "s3"), sk);
    char *want = offline(&ws, "s3");
    assert_int_equal(b->len, strlen(want));
    assert_memory_equal(b->data, want, b->len);
    /* the ETag is the bytes' SHA-256; the token verifies at the revision */
    uint8_t h[NN_HASH_LEN];
    char hex[2 * NN_HASH_LEN + 3] = "\"";
    nn_hash_bytes(b->data, b->len, h);
    nn_hash_hex(h, NN_HASH_LEN, hex + 1);
    strcat(hex, "\"");
    assert_string_equal(b->etag, hex);
    uint64_t rev = 0;
    assert_int_equal(nn_envelope_verify(b->data, b->len, b->sig, pk, &rev), 0);
    assert_int_equal(rev, (uint64_t)net.revision);
    /* asked again: the same blob, nothing compiled or rendered again */
    const nn_env_blob *again =
        nn_envcache_envelope(ec, e, nn_network_find_peer(nn_envcache_network(e), "s3"), sk);
    assert_ptr_equal(b, again);
    nn_envcache_unlock(e);
    nn_envcache_release(ec, e);
    nn_envcache_stats st;
    nn_envcache_stats_get(ec, &st);
    assert_int_equal(st.networks_compiled, 1);
    assert_int_equal(st.envelopes_rendered, 1);
    free(want);
    nn_row_clear(&ws);
    nn_row_clear(&net);
    nn_envcache_free(ec);
    sodium_memzero(sk, sizeof(sk));
}

typedef struct racer {
    nn_envcache *ec;
    nn_store *store;
    const nn_row *ws, *net;
    int failures;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    for (int i = 0; i < 200; i++) {
        nn_envcache_entry *e;
        if (nn_envcache_get(r->ec, r->store, r->ws, r->net, &e)) {
            r->failures++;
            continue;
        }
        nn_envcache_lock(e);
        const nn_network *n = nn_envcache_network(e);
        const nn_env_blob *b = nn_envcache_envelope(r->ec, e, &n->peers[i % n->npeers], NULL);
        r->failures += b->len == 0;
        nn_envcache_unlock(e);
        nn_envcache_release(r->ec, e);
    }
    return NULL;
}

/* Four threads ask for one revision at once: every answer is whole, each
 * envelope is rendered once, the revision compiled once. */
static void test_threads_share_a_revision(void **state)
{
    (void)state;
    nn_envcache *ec;
    assert_int_equal(nn_envcache_new(&ec), 0);
    nn_row ws, net;
    rows(&ws, &net);
    racer rs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        rs[i] = (racer){.ec = ec, .store = g_store, .ws = &ws, .net = &net};
    /* A store connection is one thread's, and a miss is the only database
     * read: warm the entry, then race on hits, renders and releases. */
    nn_envcache_entry *warm;
    assert_int_equal(nn_envcache_get(ec, g_store, &ws, &net, &warm), 0);
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, race, &rs[i]);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(rs[i].failures, 0);
    }
    nn_envcache_release(ec, warm);
    nn_envcache_stats st;
    nn_envcache_stats_get(ec, &st);
    assert_int_equal(st.networks_compiled, 1);
    assert_int_equal(st.envelopes_rendered, 9); /* each of the 9 peers once */
    nn_row_clear(&ws);
    nn_row_clear(&net);
    nn_envcache_free(ec);
}

/* A new peer: the hub's envelope and its own are rendered, the spokes'
 * are carried over from the previous revision untouched. */
static void test_one_peer_change_renders_two(void **state)
{
    (void)state;
    nn_envcache *ec;
    assert_int_equal(nn_envcache_new(&ec), 0);
    nn_row ws, net;
    rows(&ws, &net);
    nn_envcache_entry *e;
    assert_int_equal(nn_envcache_get(ec, g_store, &ws, &net, &e), 0);
    nn_envcache_lock(e);
    const nn_network *n = nn_envcache_network(e);
    const nn_env_blob *before[9];
    for (size_t i = 0; i < n->npeers; i++)
        before[i] = nn_envcache_envelope(ec, e, &n->peers[i], NULL);
    nn_envcache_unlock(e);
    char k[45], body[128];
    key(k);
    snprintf(body, sizeof(body), "{\"public_key\":\"%s\"}", k);
    assert_int_equal(request("PUT", "/api/v1/workspaces/w/networks/n/peers/s9", body), 201);
    nn_row ws2, net2;
    rows(&ws2, &net2);
    assert_true(net2.revision > net.revision);
    nn_envcache_entry *e2;
    assert_int_equal(nn_envcache_get(ec, g_store, &ws2, &net2, &e2), 0);
    nn_envcache_lock(e2);
    const nn_network *n2 = nn_envcache_network(e2);
    for (size_t i = 0; i < n2->npeers; i++) {
        const nn_member *p = &n2->peers[i];
        const nn_env_blob *b = nn_envcache_envelope(ec, e2, p, NULL);
        const nn_member *old = nn_network_find_peer(n, p->name);
        bool same = old && b == before[old - n->peers];
        bool should_change = !strcmp(p->name, "hub") || !strcmp(p->name, "s9");
        if (same == should_change)
            fail_msg("%s was %s", p->name, same ? "carried over" : "rendered again");
    }
    nn_envcache_unlock(e2);
    nn_envcache_stats st;
    nn_envcache_stats_get(ec, &st);
    assert_int_equal(st.networks_compiled, 2);
    assert_int_equal(st.envelopes_added, 1);
    assert_int_equal(st.envelopes_changed, 1);
    assert_int_equal(st.envelopes_carried, 8);
    assert_int_equal(st.envelopes_rendered, 9 + 2);
    nn_envcache_release(ec, e);
    nn_envcache_release(ec, e2);
    nn_row_clear(&ws);
    nn_row_clear(&net);
    nn_row_clear(&ws2);
    nn_row_clear(&net2);
    nn_envcache_free(ec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serves_the_compile_signed),
        cmocka_unit_test(test_threads_share_a_revision),
        cmocka_unit_test(test_one_peer_change_renders_two),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
