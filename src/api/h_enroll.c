/* Enrollment: an operator makes a one-time, expiring token for one peer;
 * the node's gateway-manager presents it once (POST /node/enroll, on the
 * node listener), with the public key its daemon generated and a
 * certificate request, and gets its client certificate. Only the SHA-256
 * of a token is stored, and the token is shown once. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/handlers.h"
#include "api/keys.h"
#include "api/write.h"
#include "pki/pki.h"
#include "util/key.h"

#define TTL_DEFAULT 3600
#define TTL_MAX (7 * 24 * 3600)

/* The peer row {peer} of c->net, or a 404 reply. */
static bool find_peer(ctx *c, nn_row *peer)
{
    const char *name = api_param(c, "peer");
    int r = nn_store_row_get(c->store, c->ws.id, c->net.id, "peers", name, peer);
    if (r == -ENOENT)
        api_not_found(c, "peer", name);
    else if (r)
        api_reply_store_error(c->resp, c->store, r);
    return r == 0;
}

void h_enrollment_tokens_list(ctx *c)
{
    nn_row peer;
    if (!find_peer(c, &peer))
        return;
    json_t *list;
    int r = nn_store_enrollments(c->store, peer.id, &list);
    nn_row_clear(&peer);
    api_reply_read(c->resp, c->store, r, list);
}

typedef struct new_token {
    int64_t peer_id;
    int ttl;
    uint8_t hash[32];
    json_t *made; /* {id, expires_at} */
} new_token;

static int add_token(ctx *c, void *arg)
{
    new_token *t = arg;
    if (!c->dry_run)
        return nn_store_enrollment_add(c->store, t->peer_id, c->user.id, t->hash, t->ttl, &t->made);
    /* a dry run stores nothing, so it has no token and no id to show */
    char at[32];
    time_t when = time(NULL) + t->ttl;
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
    t->made = json_pack("{s:n, s:s}", "id", "expires_at", at);
    return t->made ? 0 : -ENOMEM;
}

void h_enrollment_token_create(ctx *c)
{
    static const char *const fields[] = {"ttl_seconds", NULL};
    if (c->body && !api_only_keys(c, c->body, fields))
        return;
    json_t *ttl_v = json_object_get(c->body, "ttl_seconds");
    json_int_t ttl = ttl_v ? json_integer_value(ttl_v) : TTL_DEFAULT;
    if (ttl_v && (!json_is_integer(ttl_v) || ttl < 60 || ttl > TTL_MAX))
        return api_reply_error(c->resp, 422, "invalid", "ttl_seconds",
                               "ttl_seconds must be an integer from 60 to %d (a week)", TTL_MAX);
    nn_row peer;
    if (!find_peer(c, &peer))
        return;
    new_token t = {.peer_id = peer.id, .ttl = (int)ttl};
    nn_row_clear(&peer);
    char token[3 + sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    uint8_t secret[32];
    randombytes_buf(secret, sizeof(secret));
    memcpy(token, "ne_", 3);
    sodium_bin2base64(token + 3, sizeof(token) - 3, secret, sizeof(secret),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(secret, sizeof(secret));
    crypto_hash_sha256(t.hash, (const uint8_t *)token, strlen(token));
    char target[200], detail[64];
    snprintf(target, sizeof(target), "networks/%s/peers/%s", c->net.name, api_param(c, "peer"));
    snprintf(detail, sizeof(detail), "%lld s", (long long)ttl);
    if (api_tx_run(c, add_token, &t, c->ws.id, "enrollment_token.create", target, detail)) {
        json_object_set_new(t.made, "token", c->dry_run ? json_null() : json_string(token));
        json_object_set_new(t.made, "peer", json_string(target));
        json_object_set_new(t.made, "dry_run", json_boolean(c->dry_run));
        /* The node trusts this CA when it enrolls; it travels with the
         * token over the operator's authenticated channel. */
        const char *ca = nn_keys_ca_cert(c->svc->keys);
        json_object_set_new(t.made, "ca_certificate", ca ? json_string(ca) : json_null());
        api_reply_json(c->resp, 201, json_incref(t.made));
    }
    json_decref(t.made);
    sodium_memzero(token, sizeof(token));
}

typedef struct revoke {
    int64_t peer_id, id;
} revoke;

static int revoke_token(ctx *c, void *arg)
{
    const revoke *rv = arg;
    return c->dry_run ? 0 : nn_store_enrollment_revoke(c->store, rv->peer_id, rv->id);
}

void h_enrollment_token_revoke(ctx *c)
{
    const char *id = api_param(c, "id");
    nn_row peer;
    if (!find_peer(c, &peer))
        return;
    revoke rv = {.peer_id = peer.id, .id = strtoll(id, NULL, 10)};
    nn_row_clear(&peer);
    char target[200];
    snprintf(target, sizeof(target), "networks/%s/peers/%s", c->net.name, api_param(c, "peer"));
    json_t *list;
    int r = nn_store_enrollments(c->store, rv.peer_id, &list);
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    bool found = false;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) found =
        found || json_integer_value(json_object_get(v, "id")) == rv.id;
    json_decref(list);
    if (!found)
        return api_not_found(c, "enrollment token", id);
    if (api_tx_run(c, revoke_token, &rv, c->ws.id, "enrollment_token.revoke", target, id))
        api_reply_json(
            c->resp, 200,
            json_pack("{s:I, s:b}", "revoked", (json_int_t)rv.id, "dry_run", c->dry_run));
}

/* --- a node's enrollment ------------------------------------------------ */

static bool string_field(ctx *c, const char *key, size_t max, const char **out)
{
    json_t *v = json_object_get(c->body, key);
    *out = json_string_value(v);
    if (!*out || !**out || strlen(*out) > max) {
        api_reply_error(c->resp, 422, "invalid", key,
                        "%s must be a non-empty string of at most %zu bytes", key, max);
        return false;
    }
    return true;
}

typedef struct enrollment {
    api_write w;
    nn_peer_ref ref;
    const char *wg_b64, *csr;
    char *cert; /* the issued certificate (PEM) */
} enrollment;

/* The node's key replaces whatever the operator declared. */
static int build_enroll(ctx *c, api_change *ch, void *arg)
{
    enrollment *e = arg;
    const nn_row *peer = api_snap_row(ch, e->ref.network, "peers", e->ref.peer);
    if (!peer) {
        api_not_found(c, "peer", e->ref.peer);
        return -ECANCELED;
    }
    json_t *body = json_deep_copy(peer->body);
    json_object_set_new(body, "public_key", json_string(e->wg_b64));
    return api_change_put(ch, e->ref.network, "peers", e->ref.peer, body);
}

/* In the same transaction: the token is spent and the certificate issued
 * only if the workspace validates with the new key (a key another member
 * already has is refused, and the token stays unspent). */
static int spend_and_sign(ctx *c, void *arg)
{
    enrollment *e = arg;
    int r = nn_store_enrollment_use(c->store, e->ref.token_id);
    if (r == -EALREADY) {
        api_reply_error(c->resp, 401, "unauthenticated", "token",
                        "this enrollment token has already been used");
        return -ECANCELED;
    }
    if (r)
        return r;
    char cn[64], msg[160];
    uint8_t fp[NN_PKI_FP_LEN];
    snprintf(cn, sizeof(cn), "nanami-peer-%lld", (long long)e->ref.peer_id);
    if ((r = nn_pki_sign_client(nn_keys_ca_key(c->svc->keys), nn_keys_ca_cert(c->svc->keys), e->csr,
                                cn, NN_PKI_CLIENT_DAYS, &e->cert, fp, msg, sizeof(msg)))) {
        api_reply_error(c->resp, r == -ENOMEM ? 500 : 422, "invalid", "csr", "%s", msg);
        return -ECANCELED;
    }
    return nn_store_node_cert_add(c->store, e->ref.peer_id, fp, NN_PKI_CLIENT_DAYS);
}

void h_node_enroll(ctx *c)
{
    if (!nn_keys_loaded(c->svc->keys))
        return api_reply_error(c->resp, 503, "unavailable", NULL, "node PKI is not loaded");
    static const char *const fields[] = {"csr", "token", "wireguard_public_key", NULL};
    enrollment e = {
        .w = {.build = build_enroll, .in_lock = spend_and_sign, .action = "peer.enroll"}};
    e.w.arg = &e;
    const char *token;
    if (!api_only_keys(c, c->body, fields) || !string_field(c, "token", 128, &token) ||
        !string_field(c, "wireguard_public_key", NN_KEY_B64_LEN, &e.wg_b64) ||
        !string_field(c, "csr", NN_PKI_MAX_PEM, &e.csr))
        return;
    nn_key wg;
    const char *why;
    if (nn_key_from_base64(e.wg_b64, &wg, &why) != 0)
        return api_reply_error(c->resp, 422, "invalid", "wireguard_public_key", "%s", why);
    uint8_t hash[32];
    crypto_hash_sha256(hash, (const uint8_t *)token, strlen(token));
    int r = nn_store_enrollment_find(c->store, hash, &e.ref);
    if (r == -ENOENT)
        return api_reply_error(c->resp, 401, "unauthenticated", "token",
                               "unknown or revoked enrollment token");
    if (r == -EALREADY)
        return api_reply_error(c->resp, 401, "unauthenticated", "token",
                               "this enrollment token has already been used");
    if (r == -ETIMEDOUT)
        return api_reply_error(c->resp, 401, "unauthenticated", "token",
                               "this enrollment token has expired; create a new one");
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    /* The audit names the operator who made the token. */
    c->user.id = e.ref.actor_id;
    if ((r = nn_store_workspace_find(c->store, e.ref.workspace, &c->ws)))
        return api_reply_store_error(c->resp, c->store, r);
    snprintf(e.w.target, sizeof(e.w.target), "networks/%s/peers/%s", e.ref.network, e.ref.peer);
    snprintf(e.w.detail, sizeof(e.w.detail), "token %lld", (long long)e.ref.token_id);
    if (api_write_run(c, &e.w)) {
        char pk[NN_KEY_B64_LEN + 1];
        nn_keys_signing_public(c->svc->keys, pk);
        api_reply_json(c->resp, 201,
                       json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:s}", "certificate", e.cert,
                                 "ca_certificate", nn_keys_ca_cert(c->svc->keys),
                                 "signing_public_key", pk, "peer", "workspace", e.ref.workspace,
                                 "network", e.ref.network, "name", e.ref.peer, "config",
                                 "/api/v1/node/config"));
    }
    free(e.cert);
}
