/* The service itself (health, its OpenAPI document, statistics), the
 * caller, users and their API tokens. */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "api/auth.h"
#include "api/envcache.h"
#include "api/handlers.h"
#include "api/write.h"
#include "api/wscache.h"
#include "model/intent.h"

extern const char nn_openapi_json[];

void h_health(ctx *c)
{
    api_reply_json(c->resp, 200, json_pack("{s:s}", "status", "ok"));
}

void h_openapi(ctx *c)
{
    nn_buf_reset(&c->resp->body);
    nn_buf_puts(&c->resp->body, nn_openapi_json);
    c->resp->status = 200;
}

void h_me(ctx *c)
{
    json_t *list;
    int r = nn_store_workspace_list(c->store, c->user.platform_admin ? 0 : c->user.id, &list);
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    api_reply_json(c->resp, 200,
                   json_pack("{s:s, s:b, s:o}", "name", c->user.name, "platform_admin",
                             c->user.platform_admin, "workspaces", list));
}

/* The envelope cache's and the write path's counters. */
void h_stats(ctx *c)
{
    nn_envcache_stats st;
    unsigned long incremental, full;
    nn_envcache_stats_get(c->svc->envelopes, &st);
    nn_wscache_counts(c->svc->workspaces, &incremental, &full);
    api_reply_json(c->resp, 200,
                   json_pack("{s:{s:I,s:I,s:I,s:I,s:I,s:I}, s:{s:I, s:I}}", "envelope_cache",
                             "networks_compiled", (json_int_t)st.networks_compiled,
                             "envelopes_rendered", (json_int_t)st.envelopes_rendered,
                             "envelopes_added", (json_int_t)st.envelopes_added, "envelopes_changed",
                             (json_int_t)st.envelopes_changed, "envelopes_unchanged",
                             (json_int_t)st.envelopes_unchanged, "envelopes_carried",
                             (json_int_t)st.envelopes_carried, "writes", "incremental",
                             (json_int_t)incremental, "full", (json_int_t)full));
}

void h_users_list(ctx *c)
{
    json_t *list;
    int r = nn_store_user_list(c->store, &list);
    api_reply_read(c->resp, c->store, r, list);
}

typedef struct new_user {
    const char *name;
    const char *password_hash; /* NULL: none */
    bool platform_admin;
} new_user;

static int add_user(ctx *c, void *arg)
{
    const new_user *u = arg;
    nn_user have;
    int r = nn_store_user_find(c->store, u->name, &have);
    if (r == 0) {
        api_reply_error(c->resp, 409, "exists", "name", "a user named \"%s\" exists", u->name);
        return -ECANCELED;
    }
    if (r != -ENOENT)
        return r;
    int64_t id;
    return nn_store_user_add(c->store, u->name, u->password_hash, u->platform_admin, &id);
}

void h_user_create(ctx *c)
{
    static const char *const keys[] = {"name", "password", "platform_admin", NULL};
    if (!api_only_keys(c, c->body, keys))
        return;
    new_user u = {.name = api_body_string(c, "name", true)};
    if (!u.name)
        return;
    if (!nn_intent_valid_name(u.name))
        return api_reply_error(c->resp, 422, "invalid", "name",
                               "\"%s\" is not a valid name (1-63 of A-Z a-z 0-9 . _ -)", u.name);
    json_t *pa = json_object_get(c->body, "platform_admin");
    if (pa && !json_is_boolean(pa))
        return api_reply_error(c->resp, 422, "invalid", "platform_admin", "must be a boolean");
    u.platform_admin = json_is_true(pa);
    const char *password = NULL;
    if (json_object_get(c->body, "password") && !(password = api_body_string(c, "password", true)))
        return;
    char hash[crypto_pwhash_STRBYTES];
    if (password) {
        if (strlen(password) < 12)
            return api_reply_error(c->resp, 422, "invalid", "password",
                                   "a password needs at least 12 characters");
        /* argon2id, libsodium's interactive limits. */
        if (crypto_pwhash_str_alg(
                hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
            return api_reply_error(c->resp, 500, "internal", NULL, "password hashing failed");
        u.password_hash = hash;
    }
    if (api_tx_run(c, add_user, &u, 0, "user.create", u.name, NULL))
        api_reply_json(c->resp, 201,
                       json_pack("{s:s, s:b}", "name", u.name, "platform_admin", u.platform_admin));
}

typedef struct new_token {
    const char *name;
    nn_user target;
    char token[NN_API_TOKEN_LEN];
} new_token;

static int issue_token(ctx *c, void *arg)
{
    new_token *t = arg;
    return nn_auth_token_issue(c->store, t->target.id, t->name, t->token);
}

void h_token_create(ctx *c)
{
    static const char *const keys[] = {"name", NULL};
    if (!api_only_keys(c, c->body, keys))
        return;
    new_token t = {.name = api_body_string(c, "name", true)};
    if (!t.name)
        return;
    if (!nn_intent_valid_name(t.name))
        return api_reply_error(c->resp, 422, "invalid", "name", "\"%s\" is not a valid name",
                               t.name);
    const char *user = api_param(c, "user");
    int r = nn_store_user_find(c->store, user, &t.target);
    if (r == -ENOENT)
        return api_not_found(c, "user", user);
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    if (api_tx_run(c, issue_token, &t, 0, "token.issue", t.target.name, t.name))
        api_reply_json(
            c->resp, 201,
            json_pack("{s:s, s:s, s:s}", "user", t.target.name, "name", t.name, "token", t.token));
    sodium_memzero(t.token, sizeof(t.token));
}
