#include "api/api.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc/alloc.h"
#include "api/enroll.h"
#include "api/internal.h"
#include "api/node.h"
#include "api/rbac.h"
#include "api/regions.h"
#include "api/routing.h"
#include "api/wsdoc.h"
#include "compile/credential.h"
#include "pki/pki.h"
#include "compile/compile.h"
#include "model/intent.h"
#include "util/hash.h"

/* ------------------------------------------------------------------ */
/* Envelope cache: per network, the model and compile plan of its current
 * revision, a digest of every peer's envelope (nn_compile_peer_digest),
 * and each envelope once some caller asked for it. A changed network gets
 * a new revision, so a stale entry is simply replaced; an unchanged one is
 * never recompiled. At a new revision, an envelope whose digest did not
 * change is carried over from the previous one, not rendered again: a
 * one-peer change renders only the envelopes it affects. */

/* A rendered envelope; immutable, shared between revisions. */
typedef struct env_blob {
    unsigned refs; /* atomic */
    size_t len;
    char etag[72];
    char sig[NN_ENVELOPE_SIG_MAX]; /* empty when nanamid has no signing key */
    char data[];
} env_blob;

typedef struct cached_env {
    env_blob *blob; /* NULL until rendered or carried over */
    uint8_t digest[NN_HASH_LEN];
} cached_env;

typedef struct cache_entry {
    int64_t network_id;
    int64_t revision;
    nn_doc *doc;
    const nn_network *net;
    nn_net_plan *plan;
    cached_env *env; /* by index into net->peers */
    pthread_mutex_t lock; /* a plan is single-threaded */
    struct cache_entry *next;
    unsigned refs;
} cache_entry;

#define CACHE_BUCKETS 1024

struct nn_api {
    pthread_mutex_t lock; /* buckets and refs */
    cache_entry *buckets[CACHE_BUCKETS];
    nn_api_stats stats; /* under lock */
    /* Node PKI (nn_api_node_keys_load): the envelope signing key and the
     * CA that signs node certificates. Set once before serving. */
    bool has_keys;
    uint8_t sign_sk[NN_SIGN_SK_LEN];
    char *ca_key, *ca_cert;
    /* Committed writes since start; long-polls wait on it. */
    pthread_mutex_t change_lock;
    pthread_cond_t change_cond;
    uint64_t generation;
};

static void blob_release(env_blob *b)
{
    if (b && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(b);
}

static void entry_free(cache_entry *e)
{
    if (!e)
        return;
    if (e->env && e->net)
        for (size_t i = 0; i < e->net->npeers; i++)
            blob_release(e->env[i].blob);
    free(e->env);
    nn_compile_plan_free(e->plan);
    nn_doc_free(e->doc);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

static void entry_release(nn_api *api, cache_entry *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&api->lock);
    bool last = --e->refs == 0;
    pthread_mutex_unlock(&api->lock);
    if (last)
        entry_free(e);
}

void nn_api_stats_get(nn_api *api, nn_api_stats *out)
{
    pthread_mutex_lock(&api->lock);
    *out = api->stats;
    pthread_mutex_unlock(&api->lock);
}

int nn_api_new(nn_api **out)
{
    *out = NULL;
    if (sodium_init() < 0)
        return -EIO;
    nn_api *api = calloc(1, sizeof(*api));
    if (!api)
        return -ENOMEM;
    pthread_mutex_init(&api->lock, NULL);
    pthread_mutex_init(&api->change_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&api->change_cond, &ca);
    pthread_condattr_destroy(&ca);
    *out = api;
    return 0;
}

void nn_api_free(nn_api *api)
{
    if (!api)
        return;
    for (size_t b = 0; b < CACHE_BUCKETS; b++)
        for (cache_entry *e = api->buckets[b], *next; e; e = next) {
            next = e->next;
            entry_free(e);
        }
    pthread_mutex_destroy(&api->lock);
    pthread_mutex_destroy(&api->change_lock);
    pthread_cond_destroy(&api->change_cond);
    sodium_memzero(api->sign_sk, sizeof(api->sign_sk));
    free(api->ca_cert);
    if (api->ca_key) {
        sodium_memzero(api->ca_key, strlen(api->ca_key));
        free(api->ca_key);
    }
    free(api);
}

void api_changed(nn_api *api)
{
    pthread_mutex_lock(&api->change_lock);
    api->generation++;
    pthread_cond_broadcast(&api->change_cond);
    pthread_mutex_unlock(&api->change_lock);
}

uint64_t nn_api_generation(nn_api *api)
{
    pthread_mutex_lock(&api->change_lock);
    uint64_t g = api->generation;
    pthread_mutex_unlock(&api->change_lock);
    return g;
}

uint64_t nn_api_wait_change(nn_api *api, uint64_t seen, unsigned timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&api->change_lock);
    while (api->generation == seen &&
           pthread_cond_timedwait(&api->change_cond, &api->change_lock, &until) == 0)
        ;
    uint64_t g = api->generation;
    pthread_mutex_unlock(&api->change_lock);
    return g;
}

void nn_api_node_keys(nn_api *api, const uint8_t **sign_sk, const char **ca_key,
                      const char **ca_cert)
{
    *sign_sk = api->has_keys ? api->sign_sk : NULL;
    *ca_key = api->ca_key;
    *ca_cert = api->ca_cert;
}

/* Reads one meta value, creating it with make() the first time. */
static int meta_ensure(nn_store *store, const char *key, int (*make)(char **a, char **b),
                       const char *key_b, char **out, char **out_b)
{
    if (nn_store_meta_get(store, key, out) == 0 &&
        (!key_b || nn_store_meta_get(store, key_b, out_b) == 0))
        return 0;
    free(*out);
    *out = NULL;
    char *a = NULL, *b = NULL;
    int r = make(&a, key_b ? &b : NULL);
    if (r == 0 && (r = nn_store_begin(store)) == 0) {
        r = nn_store_meta_set(store, key, a);
        if (r == 0 && key_b)
            r = nn_store_meta_set(store, key_b, b);
        if (r == 0)
            r = nn_store_commit(store);
        else
            nn_store_rollback(store);
    }
    if (r) {
        nn_pki_free_secret(a);
        free(b);
        return r;
    }
    *out = a;
    if (key_b)
        *out_b = b;
    return 0;
}

static int make_ca(char **key, char **cert)
{
    return nn_pki_ca_new("Nanami node CA", key, cert);
}

static int make_signing_key(char **seed_b64, char **unused)
{
    (void)unused;
    uint8_t pk[NN_SIGN_PK_LEN], sk[NN_SIGN_SK_LEN];
    crypto_sign_keypair(pk, sk);
    size_t n = sodium_base64_ENCODED_LEN(NN_SIGN_SEED_LEN, sodium_base64_VARIANT_ORIGINAL);
    *seed_b64 = malloc(n);
    if (*seed_b64)
        sodium_bin2base64(*seed_b64, n, sk, NN_SIGN_SEED_LEN, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(sk, sizeof(sk));
    return *seed_b64 ? 0 : -ENOMEM;
}

int nn_api_node_keys_load(nn_api *api, nn_store *store)
{
    char *seed_b64 = NULL, *unused = NULL;
    int r = meta_ensure(store, "node_ca_key", make_ca, "node_ca_cert", &api->ca_key, &api->ca_cert);
    if (r == 0)
        r = meta_ensure(store, "envelope_signing_key", make_signing_key, NULL, &seed_b64, &unused);
    if (r)
        return r;
    uint8_t seed[NN_SIGN_SEED_LEN], pk[NN_SIGN_PK_LEN];
    size_t n = 0;
    if (sodium_base642bin(seed, sizeof(seed), seed_b64, strlen(seed_b64), NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n != sizeof(seed))
        r = -EINVAL;
    else
        crypto_sign_seed_keypair(pk, api->sign_sk, seed);
    api->has_keys = r == 0;
    sodium_memzero(seed, sizeof(seed));
    nn_pki_free_secret(seed_b64);
    return r;
}

void nn_api_response_init(nn_api_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    resp->status = 500;
    resp->content_type = "application/json";
}

void nn_api_response_free(nn_api_response *resp)
{
    nn_buf_free(&resp->body);
}

/* ------------------------------------------------------------------ */
/* Replies */

void api_reply_json(nn_api_response *resp, int status, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(v);
    resp->status = status;
    resp->content_type = "application/json";
    nn_buf_reset(&resp->body);
    if (text) {
        nn_buf_puts(&resp->body, text);
        nn_buf_putc(&resp->body, '\n');
        free(text);
    }
}

void api_reply_error(nn_api_response *resp, int status, const char *code, const char *field,
            const char *fmt, ...)
{
    char msg[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *err = json_pack("{s:s, s:s}", "code", code, "message", msg);
    json_object_set_new(err, "field", field ? json_string(field) : json_null());
    api_reply_json(resp, status, json_pack("{s:o}", "error", err));
}

void api_reply_store_error(nn_api_response *resp, nn_store *store, int r)
{
    if (r == -EBUSY)
        api_reply_error(resp, 503, "busy", NULL, "the database is busy; retry");
    else if (r == -ENOMEM)
        api_reply_error(resp, 500, "internal", NULL, "out of memory");
    else
        api_reply_error(resp, 500, "internal", NULL, "storage error: %s", nn_store_errmsg(store));
}

/* 200 with what a store read produced, or its error (r). Takes v. */
void api_reply_read(nn_api_response *resp, nn_store *store, int r, json_t *v)
{
    if (r)
        api_reply_store_error(resp, store, r);
    else
        api_reply_json(resp, 200, v);
}

/* ------------------------------------------------------------------ */
/* Request context */


bool api_method_is(const ctx *c, const char *m)
{
    return strcmp(c->req->method, m) == 0;
}

void api_method_not_allowed(ctx *c)
{
    api_reply_error(c->resp, 405, "method_not_allowed", NULL, "%s is not allowed on %s",
                c->req->method, c->req->path);
}

void api_not_found(ctx *c, const char *what, const char *name)
{
    /* A row kind ("firewall_rules", "route_policies") reads as one
     * object: "firewall rule", "route policy". */
    char one[64];
    size_t n = strlen(what);
    if (n >= sizeof(one) || n < 2 || what[n - 1] != 's') {
        api_reply_error(c->resp, 404, "not_found", NULL, "no %s named \"%s\"", what, name);
        return;
    }
    memcpy(one, what, n + 1);
    if (n > 3 && !strcmp(one + n - 3, "ies"))
        memcpy(one + n - 3, "y", 2);
    else
        one[n - 1] = '\0';
    for (char *p = one; *p; p++)
        if (*p == '_')
            *p = ' ';
    api_reply_error(c->resp, 404, "not_found", NULL, "no %s named \"%s\"", one, name);
}

/* Parses the body as a JSON object. 400 with the position on failure. */
bool api_parse_body(ctx *c, size_t limit)
{
    if (c->req->body_len > limit) {
        api_reply_error(c->resp, 413, "too_large", NULL, "request body over %zu bytes", limit);
        return false;
    }
    json_error_t jerr;
    c->body = json_loadb(c->req->body ? c->req->body : "", c->req->body_len,
                         JSON_REJECT_DUPLICATES, &jerr);
    if (!c->body) {
        api_reply_error(c->resp, 400, "bad_json", NULL, "line %d, column %d: %s", jerr.line,
                    jerr.column, jerr.text);
        return false;
    }
    if (!json_is_object(c->body)) {
        api_reply_error(c->resp, 400, "bad_json", NULL, "the body must be a JSON object");
        return false;
    }
    return true;
}

/* Unknown keys are an error, not silently dropped. allowed ends with NULL. */
bool api_only_keys(ctx *c, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            api_reply_error(c->resp, 422, "unknown_field", key, "unknown field \"%s\"", key);
            return false;
        }
    }
    return true;
}

static const char *body_string(ctx *c, const char *key, bool required)
{
    json_t *v = json_object_get(c->body, key);
    if (!v && !required)
        return NULL;
    if (!json_is_string(v)) {
        api_reply_error(c->resp, 422, "invalid", key, "%s must be a string", key);
        return NULL;
    }
    return json_string_value(v);
}

/* ------------------------------------------------------------------ */
/* Auth */

static bool authenticate(ctx *c)
{
    const char *h = c->req->authorization;
    if (!h || strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) == 0 || strlen(h + 7) > 128) {
        api_reply_error(c->resp, 401, "unauthenticated", NULL,
                    "send \"Authorization: Bearer <token>\"");
        return false;
    }
    uint8_t hash[32];
    crypto_hash_sha256(hash, (const uint8_t *)h + 7, strlen(h + 7));
    int r = nn_store_token_user(c->store, hash, &c->user);
    if (r == -ENOENT) {
        api_reply_error(c->resp, 401, "unauthenticated", NULL, "unknown or revoked token");
        return false;
    }
    if (r) {
        api_reply_store_error(c->resp, c->store, r);
        return false;
    }
    return true;
}

int nn_api_token_issue(nn_store *store, int64_t user_id, const char *name,
                       char token[NN_API_TOKEN_LEN])
{
    uint8_t secret[32], hash[32];
    randombytes_buf(secret, sizeof(secret));
    memcpy(token, "nn_", 3);
    sodium_bin2base64(token + 3, NN_API_TOKEN_LEN - 3, secret, sizeof(secret),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(secret, sizeof(secret));
    crypto_hash_sha256(hash, (const uint8_t *)token, strlen(token));
    return nn_store_token_add(store, user_id, name, hash);
}

int nn_api_init_install(nn_store *store, const char *ula_pin, char token[NN_API_TOKEN_LEN])
{
    char *ula;
    if (nn_store_meta_get(store, "ula_prefix", &ula) == 0) {
        free(ula);
        return -EEXIST;
    }
    /* RFC 4193: fd00::/8 + 40 random bits is the /48 of a site; Nanami
     * keeps the install at a /40 and carves workspaces from it. */
    char prefix[NN_PREFIX_STRLEN];
    if (ula_pin) {
        nn_prefix p;
        if (nn_prefix_parse(ula_pin, true, false, &p, NULL) != 0 || p.family != NN_AF_INET6 ||
            p.len != 40 || p.addr[0] != 0xfd)
            return -EINVAL;
        nn_prefix_format(&p, true, prefix);
    } else {
        uint8_t r[4];
        randombytes_buf(r, sizeof(r));
        snprintf(prefix, sizeof(prefix), "fd%02x:%02x%02x:%02x00::/40", r[0], r[1], r[2], r[3]);
    }
    int64_t admin;
    int rc;
    if ((rc = nn_store_begin(store)))
        return rc;
    if ((rc = nn_store_meta_set(store, "ula_prefix", prefix)) ||
        (rc = nn_store_user_add(store, "admin", NULL, true, &admin)) ||
        (rc = nn_api_token_issue(store, admin, "init", token)) ||
        (rc = nn_store_audit(store, admin, 0, "init", "install", prefix)) ||
        (rc = nn_store_commit(store))) {
        nn_store_rollback(store);
        return rc;
    }
    return 0;
}

/* The caller's role in c->ws; platform admins are owners everywhere. */
static int load_role(ctx *c)
{
    if (c->user.platform_admin) {
        c->role = NN_ROLE_OWNER;
        return 0;
    }
    return nn_store_role(c->store, c->ws.id, c->user.id, &c->role);
}

/* Loads the workspace named by seg[1] and checks perm. A caller with no
 * role there gets the same 404 as for a workspace that does not exist:
 * existence is not leaked across tenants. */
bool api_enter_workspace(ctx *c, nn_perm perm)
{
    int r = nn_store_workspace_find(c->store, c->seg[1], &c->ws);
    if (r == 0)
        r = load_role(c);
    if (r == -ENOENT || (r == 0 && !nn_rbac_allows(c->role, NN_PERM_SEE))) {
        api_not_found(c, "workspace", c->seg[1]);
        return false;
    }
    if (r) {
        api_reply_store_error(c->resp, c->store, r);
        return false;
    }
    if (!nn_rbac_allows(c->role, perm)) {
        api_reply_error(c->resp, 403, "forbidden", NULL, "role %s may not %s in workspace %s",
                    nn_role_name(c->role), nn_perm_name(perm), c->ws.name);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Writes: every change runs in one transaction that ends by validating
 * the whole workspace as the compiler will see it. Nothing invalid is
 * ever committed, so a stored workspace always compiles. */


bool api_dry_run(const ctx *c)
{
    return c->req->dry_run &&
           (strcmp(c->req->dry_run, "true") == 0 || strcmp(c->req->dry_run, "1") == 0);
}

/* Every host placed in a region must be in one the platform granted the
 * workspace (seed 001: placement truth is platform-managed). Replies 422
 * when not. */
static bool regions_granted(ctx *c, const nn_doc *model)
{
    const nn_workspace *w = nn_doc_find_workspace(model, c->ws.name);
    json_t *granted = NULL;
    for (size_t i = 0; w && i < w->nhosts; i++) {
        const char *region = w->hosts[i].region;
        if (!region)
            continue;
        int r = granted ? 0 : nn_store_workspace_regions(c->store, c->ws.id, &granted);
        if (r) {
            api_reply_store_error(c->resp, c->store, r);
            return false;
        }
        bool ok = false;
        size_t j;
        json_t *v;
        json_array_foreach(granted, j, v) ok = ok || strcmp(json_string_value(v), region) == 0;
        if (!ok) {
            char field[160];
            snprintf(field, sizeof(field), "hosts/%s/region", w->hosts[i].name);
            api_reply_error(c->resp, 422, "invalid_intent", field,
                            "%s: rule region_access: region \"%s\" is not granted to workspace "
                            "%s",
                            field, region, c->ws.name);
            json_decref(granted);
            return false;
        }
    }
    json_decref(granted);
    return true;
}

/* Validates, records allocations, bumps revisions, audits, commits (or
 * rolls back for a dry run). Replies only on failure. */
bool api_finish_write(ctx *c, int64_t affect, const char *action, const char *target,
                         const char *detail)
{
    json_t *doc = NULL;
    nn_doc *model = NULL;
    char field[NN_ERROR_PATH_MAX], msg[NN_ERROR_MSG_MAX];
    int r = nn_wsdoc_build(c->store, &c->ws, true, &doc);
    if (r)
        goto fail_store;
    r = nn_wsdoc_validate(doc, &model, field, sizeof(field), msg, sizeof(msg));
    json_decref(doc);
    if (r == -ENOMEM)
        goto fail_store;
    if (r) {
        nn_store_rollback(c->store);
        api_reply_error(c->resp, 422, "invalid_intent", field, "%s: %s", field, msg);
        return false;
    }
    if (!regions_granted(c, model)) {
        nn_doc_free(model);
        nn_store_rollback(c->store);
        return false;
    }
    r = nn_wsdoc_save_alloc(c->store, &c->ws, model);
    nn_doc_free(model);
    if (r == 0 && affect != AFFECT_NONE)
        r = nn_store_bump_revision(c->store, c->ws.id, affect);
    if (r == 0)
        r = nn_store_audit(c->store, c->user.id, c->ws.id, action, target, detail);
    if (r)
        goto fail_store;
    if (api_dry_run(c)) {
        nn_store_rollback(c->store);
        return true;
    }
    if ((r = nn_store_commit(c->store)) == 0) {
        api_changed(c->api);
        return true;
    }
fail_store:
    nn_store_rollback(c->store);
    api_reply_store_error(c->resp, c->store, r);
    return false;
}

bool api_begin(ctx *c)
{
    int r = nn_store_begin(c->store);
    if (r)
        api_reply_store_error(c->resp, c->store, r);
    return r == 0;
}

/* ------------------------------------------------------------------ */
/* Platform: health, me, users, workspaces */

static void h_me(ctx *c)
{
    json_t *list;
    int r = nn_store_workspace_list(c->store, c->user.platform_admin ? 0 : c->user.id, &list);
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    api_reply_json(c->resp, 200,
               json_pack("{s:s, s:b, s:o}", "name", c->user.name, "platform_admin",
                         c->user.platform_admin, "workspaces", list));
}

static void h_users(ctx *c)
{
    if (!c->user.platform_admin)
        return api_reply_error(c->resp, 403, "forbidden", NULL,
                           "only platform administrators manage users");
    if (api_method_is(c, "GET")) {
        json_t *list;
        int r = nn_store_user_list(c->store, &list);
        return api_reply_read(c->resp, c->store, r, list);
    }
    if (!api_method_is(c, "POST"))
        return api_method_not_allowed(c);
    static const char *const keys[] = {"name", "password", "platform_admin", NULL};
    if (!api_parse_body(c, NN_API_MAX_BODY) || !api_only_keys(c, c->body, keys))
        return;
    const char *name = body_string(c, "name", true);
    if (!name)
        return;
    if (!nn_intent_valid_name(name))
        return api_reply_error(c->resp, 422, "invalid", "name",
                           "\"%s\" is not a valid name (1-63 of A-Z a-z 0-9 . _ -)", name);
    json_t *pa = json_object_get(c->body, "platform_admin");
    if (pa && !json_is_boolean(pa))
        return api_reply_error(c->resp, 422, "invalid", "platform_admin", "must be a boolean");
    const char *password = NULL;
    if (json_object_get(c->body, "password") && !(password = body_string(c, "password", true)))
        return;
    char hash[crypto_pwhash_STRBYTES];
    if (password) {
        if (strlen(password) < 12)
            return api_reply_error(c->resp, 422, "invalid", "password",
                               "a password needs at least 12 characters");
        /* argon2id, libsodium's interactive limits. */
        if (crypto_pwhash_str_alg(hash, password, strlen(password),
                                  crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                  crypto_pwhash_MEMLIMIT_INTERACTIVE,
                                  crypto_pwhash_ALG_ARGON2ID13) != 0)
            return api_reply_error(c->resp, 500, "internal", NULL, "password hashing failed");
    }
    if (!api_begin(c))
        return;
    int64_t id;
    int r = nn_store_user_add(c->store, name, password ? hash : NULL, json_is_true(pa), &id);
    if (r == 0)
        r = nn_store_audit(c->store, c->user.id, 0, "user.create", name, NULL);
    if (r == 0)
        r = nn_store_commit(c->store);
    if (r) {
        nn_store_rollback(c->store);
        if (r == -EEXIST)
            return api_reply_error(c->resp, 409, "exists", "name", "a user named \"%s\" exists", name);
        return api_reply_store_error(c->resp, c->store, r);
    }
    api_reply_json(c->resp, 201,
               json_pack("{s:s, s:b}", "name", name, "platform_admin", json_is_true(pa)));
}

static void h_user_tokens(ctx *c)
{
    if (!api_method_is(c, "POST"))
        return api_method_not_allowed(c);
    nn_user target;
    bool self = strcmp(c->seg[1], c->user.name) == 0;
    if (!c->user.platform_admin && !self)
        return api_reply_error(c->resp, 403, "forbidden", NULL,
                           "only platform administrators issue tokens for others");
    static const char *const keys[] = {"name", NULL};
    if (!api_parse_body(c, NN_API_MAX_BODY) || !api_only_keys(c, c->body, keys))
        return;
    const char *name = body_string(c, "name", true);
    if (!name)
        return;
    if (!nn_intent_valid_name(name))
        return api_reply_error(c->resp, 422, "invalid", "name", "\"%s\" is not a valid name", name);
    int r = nn_store_user_find(c->store, c->seg[1], &target);
    if (r == -ENOENT)
        return api_not_found(c, "user", c->seg[1]);
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    char token[NN_API_TOKEN_LEN];
    if (!api_begin(c))
        return;
    if ((r = nn_api_token_issue(c->store, target.id, name, token)) ||
        (r = nn_store_audit(c->store, c->user.id, 0, "token.issue", target.name, name)) ||
        (r = nn_store_commit(c->store))) {
        nn_store_rollback(c->store);
        return api_reply_store_error(c->resp, c->store, r);
    }
    api_reply_json(c->resp, 201, json_pack("{s:s, s:s, s:s}", "user", target.name, "name", name,
                                       "token", token));
    sodium_memzero(token, sizeof(token));
}

/* A workspace or network body: the object's own fields; its children are
 * managed through their own routes. */
static bool check_container_body(ctx *c, json_t *body, const char *const *child_kinds,
                                 const char *extra_child)
{
    const char *child = NULL;
    for (const char *const *k = child_kinds; *k && !child; k++)
        if (json_object_get(body, *k))
            child = *k;
    if (!child && extra_child && json_object_get(body, extra_child))
        child = extra_child;
    if (child)
        api_reply_error(c->resp, 422, "invalid", child,
                    "%s are managed through their own routes (or PUT .../intent)", child);
    return !child;
}

static void h_workspaces(ctx *c)
{
    if (api_method_is(c, "GET")) {
        json_t *list;
        int r = nn_store_workspace_list(c->store, c->user.platform_admin ? 0 : c->user.id, &list);
        return api_reply_read(c->resp, c->store, r, list);
    }
    if (!api_method_is(c, "POST"))
        return api_method_not_allowed(c);
    if (!c->user.platform_admin)
        return api_reply_error(c->resp, 403, "forbidden", NULL,
                           "only platform administrators create workspaces");
    if (!api_parse_body(c, NN_API_MAX_BODY) ||
        !check_container_body(c, c->body, nn_ws_kinds, "networks"))
        return;
    const char *name = body_string(c, "name", true);
    if (!name)
        return;
    if (!nn_intent_valid_name(name))
        return api_reply_error(c->resp, 422, "invalid", "name", "\"%s\" is not a valid name", name);
    json_t *owner = json_object_get(c->body, "owner");
    nn_user owner_user = c->user;
    if (owner) {
        int r = json_is_string(owner)
                    ? nn_store_user_find(c->store, json_string_value(owner), &owner_user)
                    : -EINVAL;
        if (r)
            return api_reply_error(c->resp, 422, "invalid", "owner", "owner must name a user");
    }
    json_t *body = json_deep_copy(c->body);
    json_object_del(body, "name");
    json_object_del(body, "owner");
    if (!api_begin(c)) {
        json_decref(body);
        return;
    }
    int r = nn_store_workspace_add(c->store, name, body, &c->ws.id);
    json_decref(body);
    if (r == -EEXIST) {
        nn_store_rollback(c->store);
        return api_reply_error(c->resp, 409, "exists", "name", "a workspace named \"%s\" exists",
                           name);
    }
    if (r == 0)
        r = nn_store_member_set(c->store, c->ws.id, owner_user.id, NN_ROLE_OWNER);
    if (r == 0)
        r = nn_store_workspace_find(c->store, name, &c->ws);
    if (r) {
        nn_store_rollback(c->store);
        return api_reply_store_error(c->resp, c->store, r);
    }
    if (api_finish_write(c, AFFECT_NONE, "workspace.create", name, NULL))
        api_reply_json(c->resp, 201, json_pack("{s:s, s:s}", "name", name, "owner", owner_user.name));
}

static void h_workspace(ctx *c)
{
    if (api_method_is(c, "GET")) {
        if (!api_enter_workspace(c, NN_PERM_SEE))
            return;
        json_t *out = nn_wsdoc_merge(c->ws.body, c->ws.alloc);
        json_object_set_new(out, "name", json_string(c->ws.name));
        json_object_set_new(out, "role", json_string(nn_role_name(c->role)));
        return api_reply_json(c->resp, 200, out);
    }
    if (api_method_is(c, "DELETE")) {
        if (!api_enter_workspace(c, NN_PERM_DELETE_WORKSPACE) || !api_begin(c))
            return;
        int r = nn_store_workspace_delete(c->store, c->ws.id);
        if (r == 0)
            r = nn_store_audit(c->store, c->user.id, 0, "workspace.delete", c->ws.name, NULL);
        if (r == 0 && !api_dry_run(c))
            r = nn_store_commit(c->store);
        nn_store_rollback(c->store);
        return r ? api_reply_store_error(c->resp, c->store, r)
                 : api_reply_json(c->resp, 200, json_pack("{s:s}", "deleted", c->ws.name));
    }
    if (!api_method_is(c, "PUT"))
        return api_method_not_allowed(c);
    if (!api_parse_body(c, NN_API_MAX_BODY) || !api_enter_workspace(c, NN_PERM_WRITE) ||
        !check_container_body(c, c->body, nn_ws_kinds, "networks"))
        return;
    json_t *name = json_object_get(c->body, "name");
    if (name && (!json_is_string(name) || strcmp(json_string_value(name), c->ws.name) != 0))
        return api_reply_error(c->resp, 422, "invalid", "name",
                           "a workspace cannot be renamed (its name derives its prefixes)");
    json_t *body = json_deep_copy(c->body);
    json_object_del(body, "name");
    if (!api_begin(c)) {
        json_decref(body);
        return;
    }
    int r = nn_store_workspace_update(c->store, c->ws.id, body, NULL);
    json_decref(c->ws.body);
    c->ws.body = body;
    if (r) {
        nn_store_rollback(c->store);
        return api_reply_store_error(c->resp, c->store, r);
    }
    if (api_finish_write(c, AFFECT_ALL, "workspace.update", c->ws.name, NULL))
        api_reply_json(c->resp, 200, json_pack("{s:s, s:b}", "updated", c->ws.name, "dry_run",
                                           api_dry_run(c)));
}

/* ------------------------------------------------------------------ */
/* Members and audit */

static int owner_count(ctx *c, int *n)
{
    json_t *list;
    int r = nn_store_member_list(c->store, c->ws.id, &list);
    if (r)
        return r;
    *n = 0;
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m) *n += strcmp(json_string_value(json_object_get(m, "role")),
                                                "owner") == 0;
    json_decref(list);
    return 0;
}

static void h_members(ctx *c)
{
    if (!api_method_is(c, "GET"))
        return api_method_not_allowed(c);
    if (!api_enter_workspace(c, NN_PERM_MEMBERS))
        return;
    json_t *list;
    int r = nn_store_member_list(c->store, c->ws.id, &list);
    api_reply_read(c->resp, c->store, r, list);
}

static void h_member(ctx *c)
{
    bool put = api_method_is(c, "PUT");
    if (!put && !api_method_is(c, "DELETE"))
        return api_method_not_allowed(c);
    static const char *const keys[] = {"role", NULL};
    if ((put && (!api_parse_body(c, NN_API_MAX_BODY) || !api_only_keys(c, c->body, keys))) ||
        !api_enter_workspace(c, NN_PERM_MEMBERS))
        return;
    nn_role role = NN_ROLE_NONE;
    if (put) {
        const char *name = body_string(c, "role", true);
        if (!name)
            return;
        if ((role = nn_role_parse(name)) == NN_ROLE_NONE)
            return api_reply_error(c->resp, 422, "invalid", "role",
                               "role must be owner, admin, operator, member or viewer");
    }
    nn_user target;
    int r = nn_store_user_find(c->store, c->seg[3], &target);
    if (r == -ENOENT)
        return api_not_found(c, "user", c->seg[3]);
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    nn_role current;
    if ((r = nn_store_role(c->store, c->ws.id, target.id, &current)))
        return api_reply_store_error(c->resp, c->store, r);
    /* Admins manage everyone but owners; only an owner makes or unmakes one. */
    if ((role == NN_ROLE_OWNER || current == NN_ROLE_OWNER) && c->role != NN_ROLE_OWNER)
        return api_reply_error(c->resp, 403, "forbidden", "role",
                           "only an owner grants or revokes the owner role");
    if (!put && current == NN_ROLE_NONE)
        return api_not_found(c, "member", c->seg[3]);
    if (!api_begin(c))
        return;
    int owners = 0;
    if (current == NN_ROLE_OWNER && role != NN_ROLE_OWNER && (r = owner_count(c, &owners)) == 0 &&
        owners <= 1) {
        nn_store_rollback(c->store);
        return api_reply_error(c->resp, 409, "last_owner", "role",
                           "%s is the workspace's last owner", target.name);
    }
    if (r == 0)
        r = put ? nn_store_member_set(c->store, c->ws.id, target.id, role)
                : nn_store_member_delete(c->store, c->ws.id, target.id);
    if (r == 0)
        r = nn_store_audit(c->store, c->user.id, c->ws.id, put ? "member.set" : "member.delete",
                           target.name, put ? nn_role_name(role) : NULL);
    if (r == 0 && !api_dry_run(c))
        r = nn_store_commit(c->store);
    nn_store_rollback(c->store); /* a dry run's transaction; no-op after commit */
    if (r) {
        nn_store_rollback(c->store);
        return api_reply_store_error(c->resp, c->store, r);
    }
    api_reply_json(c->resp, 200, put ? json_pack("{s:s, s:s}", "user", target.name, "role",
                                             nn_role_name(role))
                                 : json_pack("{s:s}", "deleted", target.name));
}

static void h_audit(ctx *c)
{
    if (!api_method_is(c, "GET"))
        return api_method_not_allowed(c);
    if (!api_enter_workspace(c, NN_PERM_AUDIT))
        return;
    json_t *list;
    int r = nn_store_audit_list(c->store, c->ws.id, 1000, &list);
    api_reply_read(c->resp, c->store, r, list);
}

/* ------------------------------------------------------------------ */
/* Intent objects: networks, workspace-scope kinds, network-scope kinds */

typedef struct target {
    int64_t network_id; /* 0: workspace scope */
    const char *kind;
    const char *name; /* NULL for a collection */
    char path[256];   /* "networks/corp/peers/db-1" for audit and answers */
} target;

static json_t *row_view(const nn_row *r)
{
    json_t *out = nn_wsdoc_merge(r->body, r->alloc);
    json_object_set_new(out, "name", json_string(r->name));
    return out;
}

/* Devices owned by the caller: what a "member" may see and touch. */
static bool own_device(const ctx *c, const json_t *body)
{
    const char *owner = json_string_value(json_object_get(body, "owner"));
    return owner && strcmp(owner, c->user.name) == 0;
}

static bool member_only(const ctx *c, const target *t)
{
    return !nn_rbac_allows(c->role, NN_PERM_READ) && strcmp(t->kind, "devices") == 0;
}

static void row_list(ctx *c, const target *t)
{
    nn_row *rows;
    size_t n;
    int r = nn_store_row_list(c->store, c->ws.id, t->network_id, t->kind, &rows, &n);
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        if (!member_only(c, t) || own_device(c, rows[i].body))
            json_array_append_new(arr, row_view(&rows[i]));
    nn_rows_free(rows, n);
    api_reply_json(c->resp, 200, arr);
}

static void row_get(ctx *c, const target *t)
{
    nn_row row;
    int r = nn_store_row_get(c->store, c->ws.id, t->network_id, t->kind, t->name, &row);
    if (r == 0 && member_only(c, t) && !own_device(c, row.body))
        r = -ENOENT;
    if (r == -ENOENT) {
        nn_row_clear(&row);
        return api_not_found(c, t->kind, t->name);
    }
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    json_t *v = row_view(&row);
    json_object_set_new(v, "id", json_integer(row.id));
    if (strcmp(t->kind, "networks") == 0)
        json_object_set_new(v, "revision", json_integer(row.revision));
    nn_row_clear(&row);
    api_reply_json(c->resp, 200, v);
}

/* PUT (name from the URL) or POST (name from the body): create or replace. */
static void row_put(ctx *c, target *t, bool post)
{
    if (!api_parse_body(c, NN_API_MAX_BODY))
        return;
    bool is_network = strcmp(t->kind, "networks") == 0;
    if (is_network && !check_container_body(c, c->body, nn_net_kinds, NULL))
        return;
    json_t *name = json_object_get(c->body, "name");
    if (post) {
        if (!json_is_string(name))
            return api_reply_error(c->resp, 422, "invalid", "name", "name is required");
        t->name = json_string_value(name);
        if (!nn_intent_valid_name(t->name))
            return api_reply_error(c->resp, 422, "invalid", "name", "\"%s\" is not a valid name",
                               t->name);
        size_t o = strlen(t->path);
        snprintf(t->path + o, sizeof(t->path) - o, "/%s", t->name);
    } else if (name && (!json_is_string(name) || strcmp(json_string_value(name), t->name) != 0)) {
        return api_reply_error(c->resp, 422, "invalid", "name",
                           "the body's name differs from the URL's; objects are not renamed");
    }
    json_t *body = json_deep_copy(c->body);
    json_object_del(body, "name");
    bool members = member_only(c, t);
    if (members) {
        if (!json_object_get(body, "owner"))
            json_object_set_new(body, "owner", json_string(c->user.name));
        if (!own_device(c, body)) {
            json_decref(body);
            return api_reply_error(c->resp, 403, "forbidden", "owner",
                               "members may only register devices they own");
        }
    }
    if (!api_begin(c)) {
        json_decref(body);
        return;
    }
    nn_row old;
    int r = nn_store_row_get(c->store, c->ws.id, t->network_id, t->kind, t->name, &old);
    bool exists = r == 0;
    if (r == 0 && members && !own_device(c, old.body))
        r = -EACCES;
    else if (r == 0 && post)
        r = -EEXIST;
    else if (r == -ENOENT)
        r = 0;
    /* A network moved to another IPv4 range gives up its members' IPv4
     * allocations (they would be outside it); the next write re-allocates. */
    bool renumber = exists && is_network &&
                    !json_equal(json_object_get(old.body, "ipv4_cidr"),
                                json_object_get(body, "ipv4_cidr"));
    nn_row_clear(&old);
    int64_t id = 0;
    bool created = false;
    if (r == 0)
        r = nn_store_row_put(c->store, c->ws.id, t->network_id, t->kind, t->name, body, &id,
                             &created);
    json_decref(body);
    if (r == 0 && renumber) {
        nn_row *kids;
        size_t n;
        for (const char *const *k = nn_net_kinds; r == 0 && *k; k++) {
            if ((r = nn_store_row_list(c->store, c->ws.id, id, *k, &kids, &n)))
                break;
            for (size_t i = 0; r == 0 && i < n; i++) {
                json_t *a = json_deep_copy(kids[i].alloc);
                json_object_del(a, "ipv4");
                r = nn_store_row_set_alloc(c->store, kids[i].id, a);
                json_decref(a);
            }
            nn_rows_free(kids, n);
        }
    }
    if (r) {
        nn_store_rollback(c->store);
        if (r == -EACCES)
            return api_not_found(c, t->kind, t->name);
        if (r == -EEXIST)
            return api_reply_error(c->resp, 409, "exists", "name", "%s exists", t->path);
        return api_reply_store_error(c->resp, c->store, r);
    }
    int64_t affect = is_network ? id : t->network_id ? t->network_id : AFFECT_ALL;
    if (!api_finish_write(c, affect, created ? "create" : "update", t->path, NULL))
        return;
    api_reply_json(c->resp, created ? 201 : 200,
               json_pack("{s:s, s:s, s:b}", created ? "created" : "updated", t->path, "name",
                         t->name, "dry_run", api_dry_run(c)));
}

static void row_delete(ctx *c, const target *t)
{
    if (!api_begin(c))
        return;
    nn_row old;
    int r = nn_store_row_get(c->store, c->ws.id, t->network_id, t->kind, t->name, &old);
    if (r == 0 && member_only(c, t) && !own_device(c, old.body))
        r = -ENOENT;
    if (r == 0)
        r = nn_store_row_delete(c->store, old.id);
    nn_row_clear(&old);
    if (r) {
        nn_store_rollback(c->store);
        return r == -ENOENT ? api_not_found(c, t->kind, t->name)
                            : api_reply_store_error(c->resp, c->store, r);
    }
    bool is_network = strcmp(t->kind, "networks") == 0;
    int64_t affect = is_network ? AFFECT_NONE : t->network_id ? t->network_id : AFFECT_ALL;
    if (api_finish_write(c, affect, "delete", t->path, NULL))
        api_reply_json(c->resp, 200,
                   json_pack("{s:s, s:b}", "deleted", t->path, "dry_run", api_dry_run(c)));
}

/* Resolves seg[3] (a network name) to its row id. */
bool api_read_network(ctx *c, nn_row *net)
{
    if (!api_method_is(c, "GET")) {
        api_method_not_allowed(c);
        return false;
    }
    return api_enter_workspace(c, NN_PERM_READ) && api_find_network(c, c->seg[3], net);
}

bool api_find_network(ctx *c, const char *name, nn_row *net)
{
    int r = nn_store_row_get(c->store, c->ws.id, 0, "networks", name, net);
    if (r == -ENOENT) {
        nn_row_clear(net);
        api_not_found(c, "network", name);
        return false;
    }
    if (r) {
        api_reply_store_error(c->resp, c->store, r);
        return false;
    }
    return true;
}

/* /workspaces/W/KIND[/NAME], /workspaces/W/networks[/N], and
 * /workspaces/W/networks/N/KIND[/NAME]. */
static void h_rows(ctx *c)
{
    target t = {0};
    bool nested = c->nseg >= 5 && strcmp(c->seg[2], "networks") == 0;
    t.kind = nested ? c->seg[4] : c->seg[2];
    t.name = nested ? (c->nseg == 6 ? c->seg[5] : NULL) : (c->nseg == 4 ? c->seg[3] : NULL);
    bool read = api_method_is(c, "GET");
    if (!api_enter_workspace(c, NN_PERM_SEE))
        return;
    /* Devices are also open to members, for the ones they own (filtered
     * by member_only() below). */
    bool devices = nested && strcmp(t.kind, "devices") == 0;
    nn_perm perm = read ? NN_PERM_READ : NN_PERM_WRITE;
    if (!nn_rbac_allows(c->role, perm) &&
        !(devices && nn_rbac_allows(c->role, NN_PERM_OWN_DEVICES)))
        return api_reply_error(c->resp, 403, "forbidden", NULL, "role %s may not %s in workspace %s",
                           nn_role_name(c->role), nn_perm_name(perm), c->ws.name);
    if (nested) {
        nn_row net;
        if (!api_find_network(c, c->seg[3], &net))
            return;
        t.network_id = net.id;
        nn_row_clear(&net);
        snprintf(t.path, sizeof(t.path), "networks/%s/%s", c->seg[3], t.kind);
    } else {
        snprintf(t.path, sizeof(t.path), "%s", t.kind);
    }
    if (t.name) {
        size_t o = strlen(t.path);
        snprintf(t.path + o, sizeof(t.path) - o, "/%s", t.name);
        if (read)
            return row_get(c, &t);
        if (api_method_is(c, "PUT"))
            return row_put(c, &t, false);
        if (api_method_is(c, "DELETE"))
            return row_delete(c, &t);
        return api_method_not_allowed(c);
    }
    if (read)
        return row_list(c, &t);
    if (api_method_is(c, "POST"))
        return row_put(c, &t, true);
    api_method_not_allowed(c);
}

/* ------------------------------------------------------------------ */
/* Declarative: GET exports the workspace's intent document, PUT converges
 * the workspace to one in one transaction. */

typedef struct want_row {
    const char *net; /* network name, or "" for workspace scope */
    const char *kind;
    const char *name;
    json_t *body; /* borrowed from the request, without name/children */
} want_row;

static char *row_key(const char *net, const char *kind, const char *name)
{
    size_t n = strlen(net) + strlen(kind) + strlen(name) + 3;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%s/%s/%s", net, kind, name);
    return k;
}

static void path_of(const char *net, const char *kind, const char *name, char *out, size_t len)
{
    if (*net)
        snprintf(out, len, "networks/%s/%s/%s", net, kind, name);
    else
        snprintf(out, len, "%s/%s", kind, name);
}

/* Collects the named objects of obj[kind] into want; 422 on a malformed one. */
static bool collect(ctx *c, json_t *obj, const char *net, const char *kind, const char *where,
                    want_row **want, size_t *n, size_t *cap)
{
    json_t *arr = json_object_get(obj, kind);
    if (!arr)
        return true;
    char field[256];
    if (!json_is_array(arr)) {
        snprintf(field, sizeof(field), "%s%s", where, kind);
        return api_reply_error(c->resp, 422, "invalid_intent", field, "%s must be an array", field),
               false;
    }
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        if (!json_is_object(item) || !name || !nn_intent_valid_name(name)) {
            snprintf(field, sizeof(field), "%s%s[%zu]", where, kind, i);
            return api_reply_error(c->resp, 422, "invalid_intent", field,
                               "%s must be an object with a valid name", field),
                   false;
        }
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            want_row *grown = realloc(*want, *cap * sizeof(**want));
            if (!grown)
                return api_reply_error(c->resp, 500, "internal", NULL, "out of memory"), false;
            *want = grown;
        }
        (*want)[(*n)++] = (want_row){net, kind, name, item};
    }
    return true;
}

static json_t *without(const json_t *obj, const char *const *kinds, const char *extra)
{
    json_t *b = json_deep_copy(obj);
    for (const char *const *k = kinds; *k; k++)
        json_object_del(b, *k);
    if (extra)
        json_object_del(b, extra);
    json_object_del(b, "name");
    return b;
}

static void h_intent_put(ctx *c)
{
    if (!api_parse_body(c, NN_API_MAX_INTENT_BODY) || !api_enter_workspace(c, NN_PERM_WRITE))
        return;
    /* The offline document's own fields: version (1) and a description,
     * which has no home on the server and is not kept. */
    static const char *const top_keys[] = {"version", "description", "ula_prefix", "workspaces",
                                           NULL};
    if (!api_only_keys(c, c->body, top_keys))
        return;
    json_t *version = json_object_get(c->body, "version");
    if (version && !(json_is_integer(version) && json_integer_value(version) == 1))
        return api_reply_error(c->resp, 422, "invalid_intent", "version",
                               "this server reads version 1 documents");
    json_t *description = json_object_get(c->body, "description");
    if (description && !json_is_string(description))
        return api_reply_error(c->resp, 422, "invalid_intent", "description", "must be a string");
    json_t *wss = json_object_get(c->body, "workspaces");
    json_t *w = json_array_get(wss, 0);
    if (!json_is_array(wss) || json_array_size(wss) != 1 || !json_is_object(w))
        return api_reply_error(c->resp, 422, "invalid_intent", "workspaces",
                           "the document must hold exactly this one workspace");
    const char *wname = json_string_value(json_object_get(w, "name"));
    if (!wname || strcmp(wname, c->ws.name) != 0)
        return api_reply_error(c->resp, 422, "invalid_intent", "workspaces[0].name",
                           "the document's workspace must be named \"%s\"", c->ws.name);
    json_t *ula = json_object_get(c->body, "ula_prefix");
    char *have_ula = NULL;
    if (ula) {
        nn_store_meta_get(c->store, "ula_prefix", &have_ula);
        bool same = have_ula && json_is_string(ula) && strcmp(have_ula, json_string_value(ula)) == 0;
        if (!same) {
            api_reply_error(c->resp, 422, "invalid_intent", "ula_prefix",
                            "this install's ULA prefix is %s (fixed at nanamid init "
                            "--ula-prefix); leave ula_prefix out or make it match",
                            have_ula ? have_ula : "?");
            free(have_ula);
            return;
        }
        free(have_ula);
    }
    want_row *want = NULL;
    size_t nwant = 0, cap = 0;
    bool ok = true;
    for (const char *const *k = nn_ws_kinds; ok && *k; k++)
        ok = collect(c, w, "", *k, "workspaces[0].", &want, &nwant, &cap);
    if (ok)
        ok = collect(c, w, "", "networks", "workspaces[0].", &want, &nwant, &cap);
    size_t nnets = nwant;
    for (size_t i = 0; ok && i < nnets; i++) {
        if (strcmp(want[i].kind, "networks") != 0)
            continue;
        char where[128];
        snprintf(where, sizeof(where), "networks/%s/", want[i].name);
        for (const char *const *k = nn_net_kinds; ok && *k; k++)
            ok = collect(c, want[i].body, want[i].name, *k, where, &want, &nwant, &cap);
    }
    nn_row *have = NULL;
    size_t nhave = 0;
    json_t *index = json_object(), *net_ids = json_object(), *have_nets = NULL;
    json_t *created = json_array(), *changed = json_array(), *deleted = json_array();
    json_t *ws_body = without(w, nn_ws_kinds, "networks");
    bool ws_level = false;
    int r = 0;
    if (!ok || !api_begin(c))
        goto out;
    if ((r = nn_store_row_all(c->store, c->ws.id, &have, &nhave)))
        goto fail;
    /* Index what is stored by "net/kind/name"; networks by id first. */
    for (size_t i = 0; i < nhave; i++)
        if (have[i].network_id == 0 && strcmp(have[i].kind, "networks") == 0)
            json_object_set_new(net_ids, have[i].name, json_integer(have[i].id));
    have_nets = nn_wsdoc_network_index(have, nhave);
    for (size_t i = 0; i < nhave; i++) {
        const nn_row *parent = nn_wsdoc_network_row(have_nets, have, have[i].network_id);
        const char *net = parent ? parent->name : "";
        char *key = row_key(net, have[i].kind, have[i].name);
        json_object_set_new(index, key, json_integer((json_int_t)i));
        free(key);
    }
    if (!json_equal(ws_body, c->ws.body)) {
        ws_level = true;
        json_array_append_new(changed, json_string("workspace"));
        if ((r = nn_store_workspace_update(c->store, c->ws.id, ws_body, NULL)))
            goto fail;
        json_decref(c->ws.body);
        c->ws.body = json_incref(ws_body);
    }
    /* want holds networks before their members, so a new network has its
     * id before its members are inserted. */
    char path[320];
    json_t *touched = json_object(); /* network name -> true */
    for (size_t i = 0; i < nwant; i++) {
        want_row *wr = &want[i];
        bool is_net = strcmp(wr->kind, "networks") == 0;
        static const char *const no_kinds[] = {NULL};
        json_t *body = without(wr->body, is_net ? nn_net_kinds : no_kinds, NULL);
        char *key = row_key(wr->net, wr->kind, wr->name);
        json_t *at = json_object_get(index, key);
        const nn_row *old = at ? &have[json_integer_value(at)] : NULL;
        json_object_del(index, key); /* frees at */
        free(key);
        path_of(wr->net, wr->kind, wr->name, path, sizeof(path));
        bool same = false;
        if (old) {
            json_t *merged = nn_wsdoc_merge(old->body, old->alloc);
            same = json_equal(body, old->body) || json_equal(body, merged);
            json_decref(merged);
        }
        if (!same) {
            int64_t net_id =
                *wr->net ? json_integer_value(json_object_get(net_ids, wr->net)) : 0;
            int64_t id;
            bool made;
            r = nn_store_row_put(c->store, c->ws.id, net_id, wr->kind, wr->name, body, &id, &made);
            if (r == 0 && is_net && made)
                json_object_set_new(net_ids, wr->name, json_integer(id));
            json_array_append_new(made ? created : changed, json_string(path));
            if (*wr->net || is_net)
                json_object_set_new(touched, *wr->net ? wr->net : wr->name, json_true());
            else
                ws_level = true;
        }
        json_decref(body);
        if (r)
            break;
    }
    /* Whatever is left in the index is not in the document: delete it
     * (a deleted network takes its members; they are listed too). */
    const char *key;
    json_t *at;
    json_object_foreach(index, key, at)
    {
        if (r)
            break;
        const nn_row *old = &have[json_integer_value(at)];
        bool parent_gone = false;
        const nn_row *parent = nn_wsdoc_network_row(have_nets, have, old->network_id);
        const char *net = parent ? parent->name : "";
        if (parent) {
            char *pk = row_key("", "networks", net);
            parent_gone = json_object_get(index, pk) != NULL;
            free(pk);
            json_object_set_new(touched, net, json_true());
        }
        path_of(net, old->kind, old->name, path, sizeof(path));
        json_array_append_new(deleted, json_string(path));
        if (!old->network_id && strcmp(old->kind, "networks") != 0)
            ws_level = true;
        if (!parent_gone)
            r = nn_store_row_delete(c->store, old->id);
    }
    if (r) {
        json_decref(touched);
        goto fail;
    }
    /* Revisions: everything on a workspace-level change, else each network
     * something changed in. */
    if (ws_level) {
        r = nn_store_bump_revision(c->store, c->ws.id, AFFECT_ALL);
    } else {
        json_t *v;
        json_object_foreach(touched, key, v)
        {
            json_t *id = json_object_get(net_ids, key);
            if (id && r == 0)
                r = nn_store_bump_revision(c->store, c->ws.id, json_integer_value(id));
        }
    }
    json_decref(touched);
    if (r)
        goto fail;
    char detail[96];
    snprintf(detail, sizeof(detail), "created %zu, changed %zu, deleted %zu",
             json_array_size(created), json_array_size(changed), json_array_size(deleted));
    if (api_finish_write(c, AFFECT_NONE, "intent.apply", "intent", detail))
        api_reply_json(c->resp, 200,
                   json_pack("{s:O, s:O, s:O, s:b}", "created", created, "changed", changed,
                             "deleted", deleted, "dry_run", api_dry_run(c)));
    goto out;
fail:
    nn_store_rollback(c->store);
    api_reply_store_error(c->resp, c->store, r);
out:
    nn_rows_free(have, nhave);
    free(want);
    json_decref(index);
    json_decref(have_nets);
    json_decref(net_ids);
    json_decref(created);
    json_decref(changed);
    json_decref(deleted);
    json_decref(ws_body);
}

static void h_intent(ctx *c)
{
    if (api_method_is(c, "PUT"))
        return h_intent_put(c);
    if (!api_method_is(c, "GET"))
        return api_method_not_allowed(c);
    if (!api_enter_workspace(c, NN_PERM_READ))
        return;
    json_t *doc;
    int r = nn_wsdoc_build(c->store, &c->ws, true, &doc);
    api_reply_read(c->resp, c->store, r, doc);
}

/* ------------------------------------------------------------------ */
/* Previews: compiled artifacts, from the envelope cache. Never a private
 * key: Nanami holds none. */

/* Digests every envelope of e and carries over, from prev (an older
 * revision of the same network, or NULL), each rendered envelope whose
 * digest is unchanged. Counts into st. */
static void carry_over(cache_entry *e, cache_entry *prev, nn_api_stats *st)
{
    const nn_network *net = e->net;
    for (size_t i = 0; i < net->npeers; i++)
        nn_compile_peer_digest(e->plan, &net->peers[i], e->env[i].digest);
    if (!prev)
        return;
    pthread_mutex_lock(&prev->lock);
    for (size_t i = 0; i < net->npeers; i++) {
        const nn_member *old = nn_network_find_peer(prev->net, net->peers[i].name);
        if (!old) {
            st->envelopes_added++;
            continue;
        }
        cached_env *pe = &prev->env[old - prev->net->peers];
        if (memcmp(pe->digest, e->env[i].digest, NN_HASH_LEN) != 0) {
            st->envelopes_changed++;
            continue;
        }
        st->envelopes_unchanged++;
        if (pe->blob) {
            __atomic_add_fetch(&pe->blob->refs, 1, __ATOMIC_ACQ_REL);
            e->env[i].blob = pe->blob;
            st->envelopes_carried++;
        }
    }
    pthread_mutex_unlock(&prev->lock);
}

/* The cache entry for network row net at its current revision, compiled
 * on a miss (concurrent callers of the same revision may both compile; the
 * newer insert wins). Returned referenced: entry_release() it. */
static int cache_get(ctx *c, const nn_row *net, cache_entry **out)
{
    nn_api *api = c->api;
    size_t b = (size_t)net->id % CACHE_BUCKETS;
    cache_entry *prev = NULL;
    *out = NULL;
    pthread_mutex_lock(&api->lock);
    for (cache_entry *e = api->buckets[b]; e; e = e->next)
        if (e->network_id == net->id && e->revision == net->revision) {
            e->refs++;
            *out = e;
            break;
        } else if (e->network_id == net->id && e->revision < net->revision && !prev) {
            prev = e;
            prev->refs++;
        }
    pthread_mutex_unlock(&api->lock);
    if (*out) {
        entry_release(api, prev);
        return 0;
    }

    cache_entry *e = calloc(1, sizeof(*e));
    if (!e) {
        entry_release(api, prev);
        return -ENOMEM;
    }
    pthread_mutex_init(&e->lock, NULL);
    e->network_id = net->id;
    e->revision = net->revision;
    e->refs = 1;
    char field[NN_ERROR_PATH_MAX], msg[NN_ERROR_MSG_MAX];
    int r = nn_wsdoc_load(c->store, &c->ws, &e->doc, field, sizeof(field), msg, sizeof(msg));
    const nn_workspace *w = r ? NULL : nn_doc_find_workspace(e->doc, c->ws.name);
    e->net = w ? nn_workspace_find_network(w, net->name) : NULL;
    if (r == 0 && !e->net)
        r = -ENOENT;
    if (r == 0)
        r = nn_compile_plan_new(e->net, &e->plan);
    if (r == 0 && !(e->env = calloc(e->net->npeers + 1, sizeof(*e->env))))
        r = -ENOMEM;
    if (r) {
        entry_release(api, prev);
        entry_free(e);
        return r;
    }
    nn_api_stats st = {0};
    carry_over(e, prev, &st);
    entry_release(api, prev);
    pthread_mutex_lock(&api->lock);
    api->stats.networks_compiled++;
    api->stats.envelopes_added += st.envelopes_added;
    api->stats.envelopes_changed += st.envelopes_changed;
    api->stats.envelopes_unchanged += st.envelopes_unchanged;
    api->stats.envelopes_carried += st.envelopes_carried;
    /* Replace older revisions of this network; holders keep theirs alive. */
    cache_entry **pp = &api->buckets[b];
    while (*pp) {
        cache_entry *old = *pp;
        if (old->network_id == net->id && old->revision <= net->revision) {
            *pp = old->next;
            if (--old->refs == 0) {
                pthread_mutex_unlock(&api->lock);
                entry_free(old);
                pthread_mutex_lock(&api->lock);
                pp = &api->buckets[b];
            }
            continue;
        }
        pp = &old->next;
    }
    e->refs++; /* the bucket's reference */
    e->next = api->buckets[b];
    api->buckets[b] = e;
    pthread_mutex_unlock(&api->lock);
    *out = e;
    return 0;
}

/* Renders (once, unless carried over) and returns peer's envelope in e.
 * Call with e->lock held. */
static const env_blob *envelope_of(nn_api *api, cache_entry *e, const nn_member *peer)
{
    cached_env *ce = &e->env[peer - e->net->peers];
    if (!ce->blob) {
        /* Rendered behind room for the blob's header, then adopted: no
         * second copy of what may be megabytes. */
        const size_t head = offsetof(env_blob, data);
        nn_buf b = NN_BUF_INIT;
        nn_buf_reserve(&b, head);
        memset(b.data, 0, head);
        b.len = head;
        nn_compile_for_peer(e->plan, peer, &b);
        size_t len = b.len - head;
        env_blob *blob = (env_blob *)(void *)nn_buf_steal(&b);
        blob->refs = 1;
        blob->len = len;
        uint8_t h[NN_HASH_LEN];
        nn_hash_bytes(blob->data, blob->len, h);
        blob->etag[0] = '"';
        nn_hash_hex(h, NN_HASH_LEN, blob->etag + 1);
        memcpy(blob->etag + 1 + 2 * NN_HASH_LEN, "\"", 2);
        blob->sig[0] = '\0';
        if (api->has_keys)
            /* The revision the bytes were first rendered at: a blob
             * carried over to later revisions keeps it, so a node's
             * successive envelopes carry growing revisions. */
            nn_envelope_sign(blob->data, blob->len, (uint64_t)e->revision, api->sign_sk, blob->sig);
        ce->blob = blob;
        pthread_mutex_lock(&api->lock);
        api->stats.envelopes_rendered++;
        pthread_mutex_unlock(&api->lock);
    }
    return ce->blob;
}

/* The envelope with its ETag and signature; 304 when If-None-Match
 * already names it. */
static void reply_envelope(ctx *c, const env_blob *ce)
{
    memcpy(c->resp->etag, ce->etag, sizeof(ce->etag));
    memcpy(c->resp->signature, ce->sig, sizeof(ce->sig));
    const char *inm = c->req->if_none_match;
    if (inm && strcmp(inm, ce->etag) == 0) {
        c->resp->status = 304;
    } else {
        nn_buf_reset(&c->resp->body);
        nn_buf_append(&c->resp->body, ce->data, ce->len);
        c->resp->status = 200;
    }
}

void api_reply_peer_envelope(ctx *c, const nn_row *net, const char *peer)
{
    cache_entry *e;
    int r = cache_get(c, net, &e);
    if (r)
        return api_reply_error(c->resp, 500, "internal", NULL, "compiling %s failed (%d)",
                               net->name, r);
    pthread_mutex_lock(&e->lock);
    const nn_member *p = nn_network_find_peer(e->net, peer);
    if (p)
        reply_envelope(c, envelope_of(c->api, e, p));
    else
        api_not_found(c, "peer", peer);
    pthread_mutex_unlock(&e->lock);
    entry_release(c->api, e);
}

static void h_preview(ctx *c)
{
    nn_row net;
    if (!api_read_network(c, &net))
        return;
    cache_entry *e;
    int r = cache_get(c, &net, &e);
    if (r) {
        nn_row_clear(&net);
        return api_reply_error(c->resp, 500, "internal", NULL, "compiling %s failed (%d)", net.name,
                           r);
    }
    nn_row_clear(&net);
    pthread_mutex_lock(&e->lock);
    const char *what = c->seg[c->nseg - 1];
    if (c->nseg == 5) { /* networks/N/compile */
        nn_buf_reset(&c->resp->body);
        nn_compile_for_network(e->plan, &c->resp->body);
        nn_buf_putc(&c->resp->body, '\n');
        c->resp->status = 200;
    } else if (strcmp(c->seg[4], "devices") == 0) {
        const nn_member *d = nn_network_find_device(e->net, c->seg[5]);
        if (!d) {
            api_not_found(c, "device", c->seg[5]);
        } else {
            nn_buf_reset(&c->resp->body);
            nn_compile_device_wgquick(e->plan, d, &c->resp->body);
            c->resp->status = 200;
            c->resp->content_type = "text/plain; charset=utf-8";
        }
    } else {
        const nn_member *p = nn_network_find_peer(e->net, c->seg[5]);
        if (!p) {
            api_not_found(c, "peer", c->seg[5]);
        } else {
            const env_blob *ce = envelope_of(c->api, e, p);
            if (strcmp(what, "envelope") == 0) {
                reply_envelope(c, ce);
            } else { /* bgp */
                json_t *env = json_loadb(ce->data, ce->len, 0, NULL);
                api_reply_json(c->resp, 200, json_incref(json_object_get(env, "bgp")));
                json_decref(env);
            }
        }
    }
    pthread_mutex_unlock(&e->lock);
    entry_release(c->api, e);
}

/* ------------------------------------------------------------------ */
/* Routing */

extern const char nn_openapi_json[];

/* GET /stats: the envelope cache's counters (platform admin). */
static void h_stats(ctx *c)
{
    if (!api_method_is(c, "GET"))
        return api_method_not_allowed(c);
    if (!c->user.platform_admin)
        return api_reply_error(c->resp, 403, "forbidden", NULL,
                               "only platform administrators read service statistics");
    nn_api_stats st;
    nn_api_stats_get(c->api, &st);
    api_reply_json(c->resp, 200,
                   json_pack("{s:{s:I,s:I,s:I,s:I,s:I,s:I}}", "envelope_cache", "networks_compiled",
                             (json_int_t)st.networks_compiled, "envelopes_rendered",
                             (json_int_t)st.envelopes_rendered, "envelopes_added",
                             (json_int_t)st.envelopes_added, "envelopes_changed",
                             (json_int_t)st.envelopes_changed, "envelopes_unchanged",
                             (json_int_t)st.envelopes_unchanged, "envelopes_carried",
                             (json_int_t)st.envelopes_carried));
}

static bool valid_segments(ctx *c)
{
    /* Every segment that names something must be a valid name; other
     * bytes cannot name anything, so they answer 404 like a missing name. */
    for (size_t i = 0; i < c->nseg; i++)
        if (!nn_intent_valid_name(c->seg[i]))
            return false;
    return true;
}

static void route(ctx *c)
{
    size_t n = c->nseg;
    const char *s0 = n ? c->seg[0] : "";
    if (strcmp(s0, "health") == 0 && n == 1) {
        if (!api_method_is(c, "GET"))
            return api_method_not_allowed(c);
        return api_reply_json(c->resp, 200, json_pack("{s:s}", "status", "ok"));
    }
    if (strcmp(s0, "openapi.json") == 0 && n == 1) {
        if (!api_method_is(c, "GET"))
            return api_method_not_allowed(c);
        nn_buf_reset(&c->resp->body);
        nn_buf_puts(&c->resp->body, nn_openapi_json);
        c->resp->status = 200;
        return;
    }
    if (strcmp(s0, "node") == 0 && n == 2)
        return nn_api_node(c);
    if (!authenticate(c))
        return;
    if (!valid_segments(c))
        return api_reply_error(c->resp, 404, "not_found", NULL, "no such resource: %s",
                           c->req->path);
    if (strcmp(s0, "me") == 0 && n == 1)
        return api_method_is(c, "GET") ? h_me(c) : api_method_not_allowed(c);
    if (strcmp(s0, "users") == 0 && n == 1)
        return h_users(c);
    if (strcmp(s0, "users") == 0 && n == 3 && strcmp(c->seg[2], "tokens") == 0)
        return h_user_tokens(c);
    if (strcmp(s0, "regions") == 0 && (n == 1 || n == 2))
        return nn_api_regions(c);
    if (strcmp(s0, "oversight") == 0 && n == 2 && strcmp(c->seg[1], "regions") == 0)
        return nn_api_oversight(c);
    if (strcmp(s0, "stats") == 0 && n == 1)
        return h_stats(c);
    if (strcmp(s0, "workspaces") != 0)
        return api_reply_error(c->resp, 404, "not_found", NULL, "no such resource: %s",
                           c->req->path);
    if (n == 1)
        return h_workspaces(c);
    if (n == 2)
        return h_workspace(c);
    const char *s2 = c->seg[2];
    if (n == 3 && strcmp(s2, "intent") == 0)
        return h_intent(c);
    if (n == 3 && strcmp(s2, "members") == 0)
        return h_members(c);
    if (n == 4 && strcmp(s2, "members") == 0)
        return h_member(c);
    if (n == 3 && strcmp(s2, "audit") == 0)
        return h_audit(c);
    if (n == 3 && strcmp(s2, "regions") == 0)
        return nn_api_workspace_regions(c);
    if (n == 3 && strcmp(s2, "gateway-assignments") == 0)
        return nn_api_gateway_assignments(c);
    if (strcmp(s2, "nodes") == 0 && (n == 3 || (n == 5 && strcmp(c->seg[4], "status") == 0)))
        return nn_api_nodes(c);
    if ((n == 3 || n == 4) && (strcmp(s2, "networks") == 0 || nn_kind_valid(s2, false)))
        return h_rows(c);
    if (strcmp(s2, "networks") == 0) {
        if (n == 5 && strcmp(c->seg[4], "compile") == 0)
            return h_preview(c);
        if (n == 5 && strcmp(c->seg[4], "observed") == 0)
            return nn_api_observed(c);
        if (n == 5 && strcmp(c->seg[4], "routing-policy") == 0)
            return nn_api_routing_network(c);
        if (n == 7 && (strcmp(c->seg[4], "devices") == 0 || strcmp(c->seg[4], "users") == 0) &&
            (strcmp(c->seg[6], "routing-preference") == 0 || strcmp(c->seg[6], "routing") == 0))
            return nn_api_routing_network(c);
        if ((n == 5 || n == 6) && nn_kind_valid(c->seg[4], true))
            return h_rows(c);
        if ((n == 7 || n == 8) && strcmp(c->seg[4], "peers") == 0 &&
            strcmp(c->seg[6], "enrollment-tokens") == 0)
            return nn_api_enrollment_tokens(c);
        if (n == 7 && strcmp(c->seg[4], "peers") == 0 &&
            (strcmp(c->seg[6], "envelope") == 0 || strcmp(c->seg[6], "bgp") == 0))
            return h_preview(c);
        if (n == 7 && strcmp(c->seg[4], "devices") == 0 && strcmp(c->seg[6], "wireguard.conf") == 0)
            return h_preview(c);
    }
    api_reply_error(c->resp, 404, "not_found", NULL, "no such resource: %s", c->req->path);
}

void nn_api_handle(nn_api *api, nn_store *store, const nn_api_request *req,
                   nn_api_response *resp)
{
    ctx c = {.api = api, .store = store, .req = req, .resp = resp};
    static const char prefix[] = "/api/v1/";
    char path[512];
    if (!req->method || !req->path || strncmp(req->path, prefix, sizeof(prefix) - 1) != 0 ||
        strlen(req->path) >= sizeof(path)) {
        api_reply_error(resp, 404, "not_found", NULL, "the API lives under /api/v1/");
        return;
    }
    snprintf(path, sizeof(path), "%s", req->path + sizeof(prefix) - 1);
    char *save = NULL;
    for (char *tok = strtok_r(path, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (c.nseg == sizeof(c.seg) / sizeof(c.seg[0])) {
            api_reply_error(resp, 404, "not_found", NULL, "no such resource");
            return;
        }
        c.seg[c.nseg++] = tok;
    }
    route(&c);
    nn_row_clear(&c.ws);
    json_decref(c.body);
}
