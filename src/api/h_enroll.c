/* Enrollment: an operator makes a one-time, expiring token for one host
 * (the node; or, as before hosts were nodes, for one peer);
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
#include "api/wscache.h"
#include "api/write.h"
#include "api/wsdoc.h"
#include "pki/pki.h"
#include "util/key.h"

#define TTL_DEFAULT 3600
#define TTL_MAX (7 * 24 * 3600)

/* Whether row is a peer that runs on host. */
static bool runs_on(const nn_row *row, const char *host)
{
    return !strcmp(row->kind, "peers") && !strcmp(nn_wsdoc_peer_host(row->body, row->name), host);
}

/* Whether a peer of the workspace runs on host: a host exists in the
 * model without a hosts row. */
static bool host_has_peer(ctx *c, const char *host, int *err)
{
    nn_wsstate *st;
    if ((*err = nn_wscache_get(c->svc->workspaces, c->store, &c->ws, &st)))
        return false;
    bool found = false;
    for (size_t i = 0; i < st->nrows && !found; i++)
        found = st->rows[i].id != 0 && runs_on(&st->rows[i], host); /* id 0: a hole */
    nn_wsstate_release(st);
    return found;
}

/* What a token route is about: {host} of c->ws (the node) or {peer} of
 * c->net (one membership, as nodes enrolled before hosts were nodes).
 * id is its row; 0 for a host that has no hosts row yet. */
typedef struct subject {
    int64_t id;
    const char *host; /* NULL for a peer */
    char target[200];
} subject;

/* The route's subject, or a 404 reply. */
static bool find_subject(ctx *c, subject *sj)
{
    memset(sj, 0, sizeof(*sj));
    sj->host = api_param(c, "host");
    const char *name = sj->host ? sj->host : api_param(c, "peer");
    if (sj->host)
        snprintf(sj->target, sizeof(sj->target), "hosts/%s", sj->host);
    else
        snprintf(sj->target, sizeof(sj->target), "networks/%s/peers/%s", c->net.name, name);
    nn_row row;
    int r = sj->host ? nn_store_row_get(c->store, c->ws.id, 0, "hosts", name, &row)
                     : nn_store_row_get(c->store, c->ws.id, c->net.id, "peers", name, &row);
    if (r == 0) {
        sj->id = row.id;
        nn_row_clear(&row);
        return true;
    }
    if (r == -ENOENT && sj->host) {
        bool implied = host_has_peer(c, name, &r);
        if (implied)
            return true;
        if (r == 0)
            r = -ENOENT;
    }
    if (r == -ENOENT)
        api_not_found(c, sj->host ? "host" : "peer", name);
    else
        api_reply_store_error(c->resp, c->store, r);
    return false;
}

void h_enrollment_tokens_list(ctx *c)
{
    subject sj;
    if (!find_subject(c, &sj))
        return;
    json_t *list = NULL;
    int r = sj.id ? nn_store_enrollments(c->store, sj.id, &list) : 0;
    if (r == 0 && !list && !(list = json_array()))
        r = -ENOMEM;
    api_reply_read(c->resp, c->store, r, list);
}

typedef struct new_token {
    subject sj;
    int ttl;
    uint8_t hash[32];
    json_t *made; /* {id, expires_at} */
} new_token;

static int add_token(ctx *c, void *arg)
{
    new_token *t = arg;
    if (!c->dry_run) {
        if (!t->sj.id) { /* the hosts row the same transaction made */
            nn_row row;
            int r = nn_store_row_get(c->store, c->ws.id, 0, "hosts", t->sj.host, &row);
            if (r)
                return r;
            t->sj.id = row.id;
            nn_row_clear(&row);
        }
        return nn_store_enrollment_add(c->store, t->sj.id, c->user.id, t->hash, t->ttl, &t->made);
    }
    /* a dry run stores nothing, so it has no token and no id to show */
    char at[32];
    time_t when = time(NULL) + t->ttl;
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
    t->made = json_pack("{s:n, s:s}", "id", "expires_at", at);
    return t->made ? 0 : -ENOMEM;
}

/* A host that only its peers name gets its hosts row with the token: the
 * row is what its key and its certificate hang on. */
static int build_host_row(ctx *c, api_change *ch, void *arg)
{
    (void)c;
    const new_token *t = arg;
    if (api_snap_row(ch, "", "hosts", t->sj.host))
        return 0;
    return api_change_put(ch, "", "hosts", t->sj.host, json_pack("{s:s}", "name", t->sj.host));
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
    new_token t = {.ttl = (int)ttl};
    if (!find_subject(c, &t.sj))
        return;
    char token[3 + sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    uint8_t secret[32];
    randombytes_buf(secret, sizeof(secret));
    memcpy(token, "ne_", 3);
    sodium_bin2base64(token + 3, sizeof(token) - 3, secret, sizeof(secret),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(secret, sizeof(secret));
    crypto_hash_sha256(t.hash, (const uint8_t *)token, strlen(token));
    char detail[64];
    snprintf(detail, sizeof(detail), "%lld s", (long long)ttl);
    bool done;
    if (t.sj.id) {
        done =
            api_tx_run(c, add_token, &t, c->ws.id, "enrollment_token.create", t.sj.target, detail);
    } else {
        api_write w = {.build = build_host_row,
                       .in_lock = add_token,
                       .arg = &t,
                       .action = "enrollment_token.create"};
        snprintf(w.target, sizeof(w.target), "%s", t.sj.target);
        snprintf(w.detail, sizeof(w.detail), "%s", detail);
        done = api_write_run(c, &w);
        if (done && c->dry_run && !t.made) /* the write engine skips in_lock */
            add_token(c, &t);
    }
    if (done) {
        json_object_set_new(t.made, "token", c->dry_run ? json_null() : json_string(token));
        json_object_set_new(t.made, t.sj.host ? "host" : "peer", json_string(t.sj.target));
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
    int64_t subject_id, id;
} revoke;

static int revoke_token(ctx *c, void *arg)
{
    const revoke *rv = arg;
    return c->dry_run ? 0 : nn_store_enrollment_revoke(c->store, rv->subject_id, rv->id);
}

void h_enrollment_token_revoke(ctx *c)
{
    const char *id = api_param(c, "id");
    subject sj;
    if (!find_subject(c, &sj))
        return;
    revoke rv = {.subject_id = sj.id, .id = strtoll(id, NULL, 10)};
    json_t *list = NULL;
    int r = sj.id ? nn_store_enrollments(c->store, rv.subject_id, &list) : 0;
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
    if (api_tx_run(c, revoke_token, &rv, c->ws.id, "enrollment_token.revoke", sj.target, id))
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

/* The node's key replaces whatever the operator declared: a host's on
 * its hosts row, and its peers give theirs up (they take the host's); a
 * peer's (enrolled before hosts were nodes) on the peer. */
static int build_enroll(ctx *c, api_change *ch, void *arg)
{
    enrollment *e = arg;
    const char *kind = e->ref.host ? "hosts" : "peers";
    const nn_row *row = api_snap_row(ch, e->ref.network, kind, e->ref.peer);
    if (!row) {
        api_not_found(c, e->ref.host ? "host" : "peer", e->ref.peer);
        return -ECANCELED;
    }
    json_t *body = json_deep_copy(row->body);
    json_object_set_new(body, "public_key", json_string(e->wg_b64));
    int r = api_change_put(ch, e->ref.network, kind, e->ref.peer, body);
    const nn_row *rows;
    size_t n;
    if (r || !e->ref.host || (r = api_snap_rows(ch, &rows, &n)))
        return r;
    for (size_t i = 0; i < n && r == 0; i++) {
        if (!runs_on(&rows[i], e->ref.peer) || !json_object_get(rows[i].body, "public_key"))
            continue;
        json_t *peer = json_deep_copy(rows[i].body);
        json_object_del(peer, "public_key");
        r = api_change_put(ch, api_snap_network_of(ch, &rows[i]), "peers", rows[i].name, peer);
    }
    return r;
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
    snprintf(cn, sizeof(cn), "nanami-%s-%lld", e->ref.host ? "host" : "peer",
             (long long)e->ref.peer_id);
    if ((r = nn_pki_sign_client(nn_keys_ca_key(c->svc->keys), nn_keys_ca_cert(c->svc->keys), e->csr,
                                cn, NN_PKI_CLIENT_DAYS, &e->cert, fp, msg, sizeof(msg)))) {
        api_reply_error(c->resp, r == -ENOMEM ? 500 : 422, "invalid", "csr", "%s", msg);
        return -ECANCELED;
    }
    /* A host enrolled as one node: the per-network identities it had
     * before (one certificate per peer) end here. */
    if (e->ref.host &&
        (r = nn_store_host_peer_certs_revoke(c->store, e->ref.workspace_id, e->ref.peer)))
        return r;
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
    if (e.ref.host) {
        e.w.action = "host.enroll";
        snprintf(e.w.target, sizeof(e.w.target), "hosts/%s", e.ref.peer);
    } else {
        snprintf(e.w.target, sizeof(e.w.target), "networks/%s/peers/%s", e.ref.network, e.ref.peer);
    }
    snprintf(e.w.detail, sizeof(e.w.detail), "token %lld", (long long)e.ref.token_id);
    if (api_write_run(c, &e.w)) {
        char pk[NN_KEY_B64_LEN + 1];
        nn_keys_signing_public(c->svc->keys, pk);
        json_t *reply = json_pack("{s:s, s:s, s:s, s:s}", "certificate", e.cert, "ca_certificate",
                                  nn_keys_ca_cert(c->svc->keys), "signing_public_key", pk, "config",
                                  "/api/v1/node/config");
        if (e.ref.host)
            json_object_set_new(
                reply, "host",
                json_pack("{s:s, s:s}", "workspace", e.ref.workspace, "name", e.ref.peer));
        else
            json_object_set_new(reply, "peer",
                                json_pack("{s:s, s:s, s:s}", "workspace", e.ref.workspace,
                                          "network", e.ref.network, "name", e.ref.peer));
        api_reply_json(c->resp, 201, reply);
    }
    free(e.cert);
}
