/* The node routes: what a gateway-manager calls. Enrollment takes a
 * one-time token (no API token, no certificate yet); everything after it
 * is authenticated by the client certificate enrollment issued, which the
 * transport has verified against the node CA. The certificate names one
 * peer, so a node can only ever read its own envelope and report its own
 * state: these routes take no workspace, network or peer in the path.
 *
 *   POST /node/enroll  {"token", "wireguard_public_key", "csr"}   (TLS)
 *   GET  /node/config  the node's signed envelope (ETag, 304)       (mTLS)
 *   POST /node/status  what the node observes                       (mTLS)
 *   GET  /workspaces/W/networks/N/observed  every peer's last report (read) */
#include "api/node.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "compile/credential.h"
#include "pki/pki.h"
#include "util/key.h"

/* A status report larger than this is refused: a hub with 10,000 peers
 * reports about 1.6 MB. */
#define STATUS_MAX_BODY (8u << 20)
#define STATUS_MAX_PEERS 100000

static bool keys_loaded(ctx *c)
{
    const uint8_t *sk;
    const char *ca_key, *ca_cert;
    nn_api_node_keys(c->api, &sk, &ca_key, &ca_cert);
    if (!sk || !ca_key)
        api_reply_error(c->resp, 503, "unavailable", NULL, "node PKI is not loaded");
    return sk && ca_key;
}

/* Loads the workspace row the peer lives in, for the write helpers. */
static bool enter_peer_workspace(ctx *c, const nn_peer_ref *ref)
{
    int r = nn_store_workspace_find(c->store, ref->workspace, &c->ws);
    if (r)
        api_reply_store_error(c->resp, c->store, r);
    return r == 0;
}

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

static void enroll(ctx *c)
{
    if (!api_method_is(c, "POST"))
        return api_method_not_allowed(c);
    if (!c->req->tls)
        return api_reply_error(c->resp, 403, "forbidden", NULL,
                               "enrollment is only accepted over TLS (nanamid --node-listen)");
    if (c->req->dry_run)
        return api_reply_error(c->resp, 400, "invalid", "dry_run",
                               "an enrollment cannot be a dry run: it issues a certificate");
    if (!keys_loaded(c))
        return;
    static const char *const fields[] = {"csr", "token", "wireguard_public_key", NULL};
    const char *token, *wg_b64, *csr;
    if (!api_parse_body(c, 64 * 1024) || !api_only_keys(c, c->body, fields) ||
        !string_field(c, "token", 128, &token) ||
        !string_field(c, "wireguard_public_key", NN_KEY_B64_LEN, &wg_b64) ||
        !string_field(c, "csr", NN_PKI_MAX_PEM, &csr))
        return;
    nn_key wg;
    const char *why;
    if (nn_key_from_base64(wg_b64, &wg, &why) != 0)
        return api_reply_error(c->resp, 422, "invalid", "wireguard_public_key", "%s", why);
    uint8_t hash[32];
    crypto_hash_sha256(hash, (const uint8_t *)token, strlen(token));
    if (!api_begin(c))
        return;
    nn_peer_ref ref;
    int r = nn_store_enrollment_consume(c->store, hash, &ref);
    if (r) {
        nn_store_rollback(c->store);
        if (r == -ENOENT)
            return api_reply_error(c->resp, 401, "unauthenticated", "token",
                                   "unknown or revoked enrollment token");
        if (r == -EALREADY)
            return api_reply_error(c->resp, 401, "unauthenticated", "token",
                                   "this enrollment token has already been used");
        if (r == -ETIMEDOUT)
            return api_reply_error(c->resp, 401, "unauthenticated", "token",
                                   "this enrollment token has expired; create a new one");
        return api_reply_store_error(c->resp, c->store, r);
    }
    c->user.id = ref.actor_id; /* the audit names the operator who made the token */
    nn_row peer = {0};
    char *cert = NULL;
    if (!enter_peer_workspace(c, &ref))
        goto rollback;
    if ((r = nn_store_row_get(c->store, ref.workspace_id, ref.network_id, "peers", ref.peer,
                              &peer))) {
        api_reply_store_error(c->resp, c->store, r);
        goto rollback;
    }
    /* The node's key replaces whatever the operator declared. */
    json_object_set_new(peer.body, "public_key", json_string(wg_b64));
    int64_t id;
    bool created;
    if ((r = nn_store_row_put(c->store, ref.workspace_id, ref.network_id, "peers", ref.peer,
                              peer.body, &id, &created))) {
        api_reply_store_error(c->resp, c->store, r);
        goto rollback;
    }
    const uint8_t *sk;
    const char *ca_key, *ca_cert;
    nn_api_node_keys(c->api, &sk, &ca_key, &ca_cert);
    char cn[64], msg[160];
    uint8_t fp[NN_PKI_FP_LEN];
    snprintf(cn, sizeof(cn), "nanami-peer-%lld", (long long)ref.peer_id);
    if ((r = nn_pki_sign_client(ca_key, ca_cert, csr, cn, NN_PKI_CLIENT_DAYS, &cert, fp, msg,
                                sizeof(msg)))) {
        api_reply_error(c->resp, r == -ENOMEM ? 500 : 422, "invalid", "csr", "%s", msg);
        goto rollback;
    }
    if ((r = nn_store_node_cert_add(c->store, ref.peer_id, fp, NN_PKI_CLIENT_DAYS))) {
        api_reply_store_error(c->resp, c->store, r);
        goto rollback;
    }
    char target[200], detail[64];
    snprintf(target, sizeof(target), "networks/%s/peers/%s", ref.network, ref.peer);
    snprintf(detail, sizeof(detail), "token %lld", (long long)ref.token_id);
    /* Validates the workspace with the new key (a key another member
     * already has is refused here, and the token is not spent). */
    if (api_finish_write(c, ref.network_id, "peer.enroll", target, detail)) {
        uint8_t pk[NN_SIGN_PK_LEN];
        char pk_b64[NN_KEY_B64_LEN + 1];
        crypto_sign_ed25519_sk_to_pk(pk, sk);
        sodium_bin2base64(pk_b64, sizeof(pk_b64), pk, sizeof(pk), sodium_base64_VARIANT_ORIGINAL);
        api_reply_json(c->resp, 201,
                       json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:s}", "certificate", cert,
                                 "ca_certificate", ca_cert, "signing_public_key", pk_b64, "peer",
                                 "workspace", ref.workspace, "network", ref.network, "name",
                                 ref.peer, "config", "/api/v1/node/config"));
    }
    goto out;
rollback:
    nn_store_rollback(c->store);
out:
    free(cert);
    nn_row_clear(&peer);
}

/* The peer of the verified client certificate, or a 401. */
static bool node_identity(ctx *c, nn_peer_ref *ref)
{
    if (!c->req->client_fp) {
        api_reply_error(c->resp, 401, "unauthenticated", NULL,
                        "node calls need the client certificate issued at enrollment "
                        "(mutual TLS on nanamid's node listener)");
        return false;
    }
    int r = nn_store_node_cert_peer(c->store, c->req->client_fp, ref);
    if (r == -ENOENT)
        api_reply_error(c->resp, 401, "unauthenticated", NULL,
                        "this certificate is revoked, expired or was never issued to a peer");
    else if (r)
        api_reply_store_error(c->resp, c->store, r);
    return r == 0;
}

static void config(ctx *c)
{
    if (!api_method_is(c, "GET"))
        return api_method_not_allowed(c);
    nn_peer_ref ref;
    if (!node_identity(c, &ref) || !enter_peer_workspace(c, &ref))
        return;
    nn_row net;
    int r = nn_store_row_get(c->store, ref.workspace_id, 0, "networks", ref.network, &net);
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    api_reply_peer_envelope(c, &net, ref.peer);
    nn_row_clear(&net);
}

static bool keys_within(json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], key) != 0)
            i++;
        if (!allowed[i])
            return false;
    }
    return true;
}

static bool is_uint(json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

/* The daemon's FRR or OVN outcome: absent, null or {COUNTER, state}
 * (docs/agent.md). */
static bool valid_outcome(json_t *v, const char *counter)
{
    const char *const fields[] = {counter, "state", NULL};
    const char *s = json_string_value(json_object_get(v, "state"));
    return !v || json_is_null(v) ||
           (json_is_object(v) && keys_within(v, fields) && is_uint(json_object_get(v, counter)) &&
            s && (!strcmp(s, "applied") || !strcmp(s, "failed") || !strcmp(s, "disabled")));
}

/* A report must have the shape docs/api.md gives; the server stores it
 * as sent, so it checks every field a reader will rely on. */
static bool valid_report(ctx *c)
{
    static const char *const fields[] = {
        "applied_etag", "drift_repairs", "errors", "interface", "listen_port",
        "peers",        "applied_at",    "frr",    "ovn",       NULL};
    static const char *const peer_fields[] = {"endpoint", "last_handshake", "public_key",
                                              "rx_bytes", "tx_bytes",       NULL};
    if (!api_only_keys(c, c->body, fields))
        return false;
    json_t *v;
    const char *bad = NULL;
    if ((v = json_object_get(c->body, "applied_etag")) && !json_is_string(v) && !json_is_null(v))
        bad = "applied_etag";
    else if ((v = json_object_get(c->body, "applied_at")) && !json_is_string(v) && !json_is_null(v))
        bad = "applied_at";
    else if ((v = json_object_get(c->body, "interface")) && !json_is_string(v))
        bad = "interface";
    else if ((v = json_object_get(c->body, "listen_port")) && !is_uint(v))
        bad = "listen_port";
    else if ((v = json_object_get(c->body, "drift_repairs")) && !is_uint(v))
        bad = "drift_repairs";
    else if (!valid_outcome(json_object_get(c->body, "frr"), "reloads"))
        bad = "frr";
    else if (!valid_outcome(json_object_get(c->body, "ovn"), "applies"))
        bad = "ovn";
    if (bad) {
        bool outcome = !strcmp(bad, "frr") || !strcmp(bad, "ovn");
        api_reply_error(c->resp, 422, "invalid", bad, "%s %s%s%s", bad,
                        outcome ? "must be null or {" : "has the wrong type",
                        outcome ? (strcmp(bad, "frr") ? "applies" : "reloads") : "",
                        outcome ? ": a non-negative integer, state: applied, failed or "
                                  "disabled}"
                                : "");
        return false;
    }
    json_t *errors = json_object_get(c->body, "errors");
    if (errors && !json_is_array(errors)) {
        api_reply_error(c->resp, 422, "invalid", "errors", "errors must be an array of strings");
        return false;
    }
    size_t i;
    json_array_foreach(errors, i, v)
    {
        if (!json_is_string(v)) {
            api_reply_error(c->resp, 422, "invalid", "errors",
                            "errors must be an array of strings");
            return false;
        }
    }
    json_t *peers = json_object_get(c->body, "peers");
    if (peers && (!json_is_array(peers) || json_array_size(peers) > STATUS_MAX_PEERS)) {
        api_reply_error(c->resp, 422, "invalid", "peers", "peers must be an array of at most %d",
                        STATUS_MAX_PEERS);
        return false;
    }
    json_array_foreach(peers, i, v)
    {
        char field[64];
        const char *why = NULL;
        nn_key k;
        json_t *ep = json_object_get(v, "endpoint");
        if (!json_is_object(v))
            why = "must be an object";
        else if (!keys_within(v, peer_fields))
            why =
                "has a key that is not endpoint, last_handshake, public_key, rx_bytes or tx_bytes";
        else if (!json_is_string(json_object_get(v, "public_key")) ||
                 nn_key_from_base64(json_string_value(json_object_get(v, "public_key")), &k,
                                    &why) != 0)
            why = why ? why : "public_key must be a WireGuard key";
        else if (ep && !json_is_string(ep) && !json_is_null(ep))
            why = "endpoint must be a string or null";
        else if (!is_uint(json_object_get(v, "last_handshake")) ||
                 !is_uint(json_object_get(v, "rx_bytes")) ||
                 !is_uint(json_object_get(v, "tx_bytes")))
            why = "last_handshake, rx_bytes and tx_bytes must be non-negative integers";
        if (why) {
            snprintf(field, sizeof(field), "peers[%zu]", i);
            api_reply_error(c->resp, 422, "invalid", field, "%s: %s", field, why);
            return false;
        }
    }
    return true;
}

static void status(ctx *c)
{
    if (!api_method_is(c, "POST"))
        return api_method_not_allowed(c);
    nn_peer_ref ref;
    if (!node_identity(c, &ref) || !api_parse_body(c, STATUS_MAX_BODY) || !valid_report(c))
        return;
    char *text = json_dumps(c->body, JSON_COMPACT | JSON_SORT_KEYS);
    int r = text ? nn_store_node_observed_set(c->store, ref.peer_id, text) : -ENOMEM;
    free(text);
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    api_reply_json(c->resp, 200,
                   json_pack("{s:s, s:s, s:s}", "workspace", ref.workspace, "network", ref.network,
                             "peer", ref.peer));
}

void nn_api_node(ctx *c)
{
    const char *what = c->seg[1];
    if (strcmp(what, "enroll") == 0)
        return enroll(c);
    if (strcmp(what, "config") == 0)
        return config(c);
    if (strcmp(what, "status") == 0)
        return status(c);
    api_reply_error(c->resp, 404, "not_found", NULL, "no such resource: %s", c->req->path);
}

void nn_api_observed(ctx *c)
{
    nn_row net;
    if (!api_read_network(c, &net))
        return;
    json_t *list;
    int r = nn_store_node_observed(c->store, net.id, &list);
    nn_row_clear(&net);
    api_reply_read(c->resp, c->store, r, list);
}
