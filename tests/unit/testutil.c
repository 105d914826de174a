#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "alloc/alloc.h"
#include "compile/compile.h"
#include "compile/node.h"
#include "model/intent.h"

const char *tu_key(unsigned i)
{
    static char keys[4096][NN_KEY_B64_LEN + 1];
    unsigned slot = i % 4096;
    uint8_t raw[32];
    for (int b = 0; b < 32; b++)
        raw[b] = (uint8_t)((i * 2654435761u) >> (b % 4 * 8)) ^ (uint8_t)b ^ 0x5a;
    raw[31] = (uint8_t)(i >> 8);
    raw[30] = (uint8_t)i;
    raw[29] = 0x77; /* never all-zero */
    sodium_bin2base64(keys[slot], sizeof(keys[slot]), raw, 32, sodium_base64_VARIANT_ORIGINAL);
    return keys[slot];
}

json_t *tu_peer(const char *name, unsigned seed, bool hub)
{
    json_t *p = json_pack("{s:s, s:s}", "name", name, "public_key", tu_key(seed));
    if (hub) {
        char ep[64];
        snprintf(ep, sizeof(ep), "192.0.2.%u:51820", 1 + seed % 250);
        json_object_set_new(p, "publicly_reachable", json_true());
        json_object_set_new(p, "endpoint", json_string(ep));
    }
    return p;
}

json_t *tu_doc_one_network(json_t *network)
{
    if (!json_object_get(network, "name"))
        json_object_set_new(network, "name", json_string("net"));
    return json_pack("{s:[{s:s, s:[o]}]}", "workspaces", "name", "ws", "networks", network);
}

nn_doc *tu_load(json_t *doc_json, nn_error *err)
{
    char *text = json_dumps(doc_json, JSON_COMPACT);
    nn_doc *doc = NULL;
    int r = nn_intent_parse(text, strlen(text), &doc, err);
    free(text);
    if (r)
        return NULL;
    if (nn_alloc_assign(doc, err) != 0) {
        nn_doc_free(doc);
        return NULL;
    }
    return doc;
}

void tu_expect_reject(const char *json_text, const char *path, const char *msg_part)
{
    nn_error err = {{0}, {0}};
    nn_doc *doc = NULL;
    int r = nn_intent_parse(json_text, strlen(json_text), &doc, &err);
    if (r == 0) {
        r = nn_alloc_assign(doc, &err);
        nn_doc_free(doc);
    }
    if (r == 0)
        fail_msg("accepted, expected rejection at %s: %s", path, json_text);
    if (strcmp(err.path, path) != 0 || !strstr(err.msg, msg_part))
        fail_msg("got \"%s: %s\", expected \"%s: ...%s...\"", err.path, err.msg, path, msg_part);
}

char *tu_envelope(const nn_doc *doc, const char *ws, const char *net, const char *peer)
{
    const nn_workspace *w = nn_doc_find_workspace(doc, ws);
    assert_non_null(w);
    const nn_network *n = nn_workspace_find_network(w, net);
    assert_non_null(n);
    const nn_member *m = nn_network_find_member(n, peer); /* a peer or a device */
    assert_non_null(m);
    nn_net_plan *plan;
    assert_int_equal(nn_compile_plan_new(n, &plan), 0);
    nn_buf out = NN_BUF_INIT;
    nn_compile_for_peer(plan, m, &out);
    nn_compile_plan_free(plan);
    return nn_buf_steal(&out);
}

char *tu_compile_all(const nn_doc *doc)
{
    nn_buf out = NN_BUF_INIT;
    for (size_t w = 0; w < doc->nworkspaces; w++) {
        const nn_workspace *ws = &doc->workspaces[w];
        nn_net_plan **plans = calloc(ws->nnetworks + 1, sizeof(*plans));
        assert_non_null(plans);
        for (size_t n = 0; n < ws->nnetworks; n++) {
            assert_int_equal(nn_compile_plan_new(&ws->networks[n], &plans[n]), 0);
            nn_compile_for_network(plans[n], &out);
            for (size_t d = 0; d < ws->networks[n].ndevices; d++)
                nn_compile_device_wgquick(plans[n], &ws->networks[n].devices[d], &out);
        }
        for (size_t h = 0; h < ws->nhosts; h++) {
            nn_error err;
            assert_int_equal(nn_compile_node(ws, &ws->hosts[h], plans, &out, &err), 0);
        }
        for (size_t n = 0; n < ws->nnetworks; n++)
            nn_compile_plan_free(plans[n]);
        free(plans);
    }
    return nn_buf_steal(&out);
}

char *tu_node(const nn_doc *doc, const char *ws_name, const char *host)
{
    const nn_workspace *ws = nn_doc_find_workspace(doc, ws_name);
    assert_non_null(ws);
    const nn_host *h = nn_workspace_find_host(ws, host);
    assert_non_null(h);
    nn_net_plan **plans = calloc(ws->nnetworks + 1, sizeof(*plans));
    assert_non_null(plans);
    for (size_t n = 0; n < ws->nnetworks; n++)
        assert_int_equal(nn_compile_plan_new(&ws->networks[n], &plans[n]), 0);
    nn_buf out = NN_BUF_INIT;
    nn_error err = {{0}, {0}};
    if (nn_compile_node(ws, h, plans, &out, &err) != 0)
        fail_msg("node document of %s/%s: %s: %s", ws_name, host, err.path, err.msg);
    for (size_t n = 0; n < ws->nnetworks; n++)
        nn_compile_plan_free(plans[n]);
    free(plans);
    return nn_buf_steal(&out);
}

static unsigned long long rng_state = 88172645463325252ull;
static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static void shuffle_under(json_t *j, const char *key, const char *const *ordered)
{
    if (json_is_array(j)) {
        size_t n = json_array_size(j);
        bool keep = false;
        for (const char *const *o = ordered; key && o && *o && !keep; o++)
            keep = strcmp(*o, key) == 0;
        for (size_t i = n; i > 1 && !keep; i--) {
            size_t k = rnd((unsigned)i);
            json_t *a = json_incref(json_array_get(j, i - 1));
            json_t *b = json_incref(json_array_get(j, k));
            json_array_set_new(j, i - 1, b);
            json_array_set_new(j, k, a);
        }
        for (size_t i = 0; i < n; i++)
            shuffle_under(json_array_get(j, i), NULL, ordered);
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) shuffle_under(v, k, ordered);
    }
}

void tu_shuffle(json_t *j, const char *const *ordered)
{
    shuffle_under(j, NULL, ordered);
}
