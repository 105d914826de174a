#include "api/request.h"

#include <sodium.h>

#include "api/route.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *api_param(const ctx *c, const char *name)
{
    for (size_t i = 0; i < c->nparam; i++)
        if (strcmp(c->param_name[i], name) == 0)
            return c->param[i];
    return NULL;
}

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

/* Makes s valid UTF-8 in place: a message may quote a caller's string cut
 * at a byte count ("%.80s"), which can split a character, and jansson
 * refuses to carry invalid UTF-8 -- the error would lose its body. Invalid
 * bytes become '?'. */
static void utf8_clean(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p;) {
        size_t n = *p < 0x80             ? 1
                   : (*p & 0xe0) == 0xc0 ? 2
                   : (*p & 0xf0) == 0xe0 ? 3
                   : (*p & 0xf8) == 0xf0 ? 4
                                         : 0;
        bool ok = n > 0 && (n == 1 || *p >= 0xc2);
        for (size_t i = 1; ok && i < n; i++)
            ok = (p[i] & 0xc0) == 0x80;
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n;
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
    utf8_clean(msg);
    json_t *err = json_pack("{s:s, s:s}", "code", code, "message", msg);
    json_object_set_new(err, "field", field ? json_string(field) : json_null());
    /* An error is never cached, never signed and has no ETag. */
    resp->etag[0] = '\0';
    resp->signature[0] = '\0';
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

void api_reply_read(nn_api_response *resp, nn_store *store, int r, json_t *v)
{
    if (r)
        api_reply_store_error(resp, store, r);
    else
        api_reply_json(resp, 200, v);
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

void api_forbidden(ctx *c, nn_perm perm)
{
    api_reply_error(c->resp, 403, "forbidden", NULL, "role %s may not %s in workspace %s",
                    nn_role_name(c->role), nn_perm_name(perm), c->ws.name);
}

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

const char *api_body_string(ctx *c, const char *key, bool required)
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

int api_user_role(ctx *c, const char *name, nn_user *user, nn_role *role)
{
    *role = NN_ROLE_NONE;
    int r = nn_store_user_find(c->store, name, user);
    return r ? r : nn_store_role(c->store, c->ws.id, user->id, role);
}

bool api_is_caller(const ctx *c, const char *name)
{
    return name && strcmp(name, c->user.name) == 0;
}

/* A workspace or network body holds the object's own fields; its children
 * are managed through their own routes. Replies 422 when it holds some. */
bool api_container_body(ctx *c, const char *const *child_kinds, const char *extra_child)
{
    const char *child = NULL;
    for (const char *const *k = child_kinds; *k && !child; k++)
        if (json_object_get(c->body, *k))
            child = *k;
    if (!child && extra_child && json_object_get(c->body, extra_child))
        child = extra_child;
    if (child)
        api_reply_error(c->resp, 422, "invalid", child,
                        "%s are managed through their own routes (or PUT .../intent)", child);
    return !child;
}

void api_set_etag(nn_api_response *resp)
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const uint8_t *)(resp->body.data ? resp->body.data : ""),
                       resp->body.len);
    resp->etag[0] = '"';
    sodium_bin2hex(resp->etag + 1, sizeof(resp->etag) - 2, h, sizeof(h));
    strcat(resp->etag, "\"");
}

bool api_etag_listed(const char *header, const char *etag)
{
    size_t n = strlen(etag);
    for (const char *p = header; p && *p;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if ((len == 1 && *p == '*') || (len == n && n && memcmp(p, etag, n) == 0))
            return true;
        p += len;
        p += strcspn(p, ",");
    }
    return false;
}

int api_twin_etag(ctx *c, char etag[72])
{
    etag[0] = '\0';
    if (!c->twin)
        return 0;
    nn_api_response scratch;
    nn_api_response_init(&scratch);
    ctx t = *c;
    t.route = c->twin;
    t.twin = NULL;
    t.resp = &scratch;
    t.body = NULL;
    c->twin->handler(&t);
    if (scratch.status == 200) {
        if (!scratch.etag[0])
            api_set_etag(&scratch);
        memcpy(etag, scratch.etag, 72);
    }
    int status = scratch.status;
    nn_api_response_free(&scratch);
    return status;
}
