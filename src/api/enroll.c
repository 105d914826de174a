/* Enrollment tokens (issue 5's first step): an operator makes a one-time,
 * expiring token for one peer; the node's gateway-manager presents it
 * once, with the public key its daemon generated, to enroll. Only the
 * SHA-256 of a token is stored, and the token is shown once.
 *
 *   POST   .../networks/N/peers/P/enrollment-tokens  {"ttl_seconds"?}  (write)
 *   GET    .../networks/N/peers/P/enrollment-tokens                    (read)
 *   DELETE .../networks/N/peers/P/enrollment-tokens/ID                 (write) */
#include "api/enroll.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

#define TTL_DEFAULT 3600
#define TTL_MAX (7 * 24 * 3600)

/* The peer row of seg[5] in network seg[3], or a 404 reply. */
static bool find_peer(ctx *c, nn_row *peer)
{
    nn_row net;
    if (!api_find_network(c, c->seg[3], &net))
        return false;
    int r = nn_store_row_get(c->store, c->ws.id, net.id, "peers", c->seg[5], peer);
    nn_row_clear(&net);
    if (r == -ENOENT)
        api_not_found(c, "peer", c->seg[5]);
    else if (r)
        api_reply_store_error(c->resp, c->store, r);
    return r == 0;
}

static void create(ctx *c, const nn_row *peer)
{
    static const char *const fields[] = {"ttl_seconds", NULL};
    if (c->req->body_len) {
        if (!api_parse_body(c, NN_API_MAX_BODY) || !api_only_keys(c, c->body, fields))
            return;
    }
    json_t *ttl_v = c->body ? json_object_get(c->body, "ttl_seconds") : NULL;
    json_int_t ttl = ttl_v ? json_integer_value(ttl_v) : TTL_DEFAULT;
    if (ttl_v && (!json_is_integer(ttl_v) || ttl < 60 || ttl > TTL_MAX))
        return api_reply_error(c->resp, 422, "invalid", "ttl_seconds",
                               "ttl_seconds must be an integer from 60 to %d (a week)", TTL_MAX);
    uint8_t secret[32], hash[32];
    char token[3 + sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    randombytes_buf(secret, sizeof(secret));
    memcpy(token, "ne_", 3);
    sodium_bin2base64(token + 3, sizeof(token) - 3, secret, sizeof(secret),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(secret, sizeof(secret));
    crypto_hash_sha256(hash, (const uint8_t *)token, strlen(token));
    if (!api_begin(c))
        return;
    json_t *made;
    int r = nn_store_enrollment_add(c->store, peer->id, c->user.id, hash, (int)ttl, &made);
    if (r) {
        nn_store_rollback(c->store);
        sodium_memzero(token, sizeof(token));
        return api_reply_store_error(c->resp, c->store, r);
    }
    char target[200], detail[64];
    snprintf(target, sizeof(target), "networks/%s/peers/%s", c->seg[3], c->seg[5]);
    snprintf(detail, sizeof(detail), "token %lld, %lld s",
             (long long)json_integer_value(json_object_get(made, "id")), (long long)ttl);
    if (api_finish_write(c, AFFECT_NONE, "enrollment_token.create", target, detail)) {
        /* a dry run stores nothing, so it has no token to show */
        json_object_set_new(made, "token", api_dry_run(c) ? json_null() : json_string(token));
        json_object_set_new(made, "peer", json_string(target));
        json_object_set_new(made, "dry_run", json_boolean(api_dry_run(c)));
        /* The node trusts this CA when it enrolls; it travels with the
         * token over the operator's authenticated channel. */
        const uint8_t *sk;
        const char *ca_key, *ca_cert;
        nn_api_node_keys(c->api, &sk, &ca_key, &ca_cert);
        json_object_set_new(made, "ca_certificate", ca_cert ? json_string(ca_cert) : json_null());
        api_reply_json(c->resp, 201, json_incref(made));
    }
    json_decref(made);
    sodium_memzero(token, sizeof(token));
}

static void revoke(ctx *c, const nn_row *peer)
{
    char *end;
    long long id = strtoll(c->seg[7], &end, 10);
    if (*end || id <= 0)
        return api_not_found(c, "enrollment token", c->seg[7]);
    if (!api_begin(c))
        return;
    int r = nn_store_enrollment_revoke(c->store, peer->id, id);
    if (r) {
        nn_store_rollback(c->store);
        return r == -ENOENT ? api_not_found(c, "enrollment token", c->seg[7])
                            : api_reply_store_error(c->resp, c->store, r);
    }
    char target[200];
    snprintf(target, sizeof(target), "networks/%s/peers/%s", c->seg[3], c->seg[5]);
    if (api_finish_write(c, AFFECT_NONE, "enrollment_token.revoke", target, c->seg[7]))
        api_reply_json(
            c->resp, 200,
            json_pack("{s:I, s:b}", "revoked", (json_int_t)id, "dry_run", api_dry_run(c)));
}

void nn_api_enrollment_tokens(ctx *c)
{
    bool one = c->nseg == 8;
    bool get = api_method_is(c, "GET");
    if ((one && !api_method_is(c, "DELETE")) || (!one && !get && !api_method_is(c, "POST")))
        return api_method_not_allowed(c);
    if (!api_enter_workspace(c, get ? NN_PERM_READ : NN_PERM_WRITE))
        return;
    nn_row peer;
    if (!find_peer(c, &peer))
        return;
    if (get) {
        json_t *list;
        int r = nn_store_enrollments(c->store, peer.id, &list);
        api_reply_read(c->resp, c->store, r, list);
    } else if (one) {
        revoke(c, &peer);
    } else {
        create(c, &peer);
    }
    nn_row_clear(&peer);
}
