/* The declarative document: GET exports a workspace's intent, PUT
 * converges the workspace to a document in one write. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/write.h"
#include "api/wsdoc.h"
#include "model/intent.h"

void h_intent_get(ctx *c)
{
    json_t *doc;
    int r = nn_wsdoc_build(c->store, &c->ws, true, &doc);
    api_reply_read(c->resp, c->store, r, doc);
}

typedef struct want_row {
    const char *net; /* network name, or "" for workspace scope */
    const char *kind;
    const char *name;
    json_t *body; /* borrowed from the request, with name and children */
} want_row;

typedef struct converge {
    api_write w;
    json_t *seen;    /* "net/kind/name" -> the index it was first seen at */
    json_t *ws_body; /* the document's workspace fields */
    want_row *want;  /* networks before their members */
    size_t nwant;
    json_t *created, *changed, *deleted; /* paths, for the answer */
} converge;

static void path_of(const char *net, const char *kind, const char *name, char *out, size_t len)
{
    if (*net)
        snprintf(out, len, "networks/%s/%s/%s", net, kind, name);
    else
        snprintf(out, len, "%s/%s", kind, name);
}

static char *row_key(const char *net, const char *kind, const char *name)
{
    size_t n = strlen(net) + strlen(kind) + strlen(name) + 3;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%s/%s/%s", net, kind, name);
    return k;
}

/* Collects the named objects of obj[kind] into cv->want; 422 on a
 * malformed one, and on a name given twice -- with the path of the second,
 * as nanamictl check says it (rows are keyed by name: the second would
 * silently replace the first). where is obj's JSON path. */
static bool collect(ctx *c, converge *cv, size_t *cap, json_t *obj, const char *net,
                    const char *kind, const char *where)
{
    json_t *arr = json_object_get(obj, kind);
    if (!arr)
        return true;
    char field[256];
    if (!json_is_array(arr)) {
        snprintf(field, sizeof(field), "%s%s", where, kind);
        api_reply_error(c->resp, 422, "invalid_intent", field, "%s must be an array", field);
        return false;
    }
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        if (!json_is_object(item) || !name || !nn_intent_valid_name(name)) {
            snprintf(field, sizeof(field), "%s%s[%zu]", where, kind, i);
            api_reply_error(c->resp, 422, "invalid_intent", field,
                            "%s must be an object with a valid name", field);
            return false;
        }
        char *key = row_key(net, kind, name);
        json_t *first = key ? json_object_get(cv->seen, key) : NULL;
        if (first) {
            free(key);
            snprintf(field, sizeof(field), "%s%s[%zu].name", where, kind, i);
            api_reply_error(c->resp, 422, "invalid_intent", field,
                            "%s: duplicate name \"%s\" (also %s[%lld])", field, name, kind,
                            (long long)json_integer_value(first));
            return false;
        }
        if (key)
            json_object_set_new(cv->seen, key, json_integer((json_int_t)i));
        free(key);
        if (cv->nwant == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            want_row *grown = realloc(cv->want, *cap * sizeof(*grown));
            if (!grown) {
                api_reply_error(c->resp, 500, "internal", NULL, "out of memory");
                return false;
            }
            cv->want = grown;
        }
        cv->want[cv->nwant++] = (want_row){net, kind, name, item};
    }
    return true;
}

static json_t *without(const json_t *obj, const char *const *kinds, const char *extra)
{
    json_t *b = json_deep_copy(obj);
    for (const char *const *k = kinds; k && *k; k++)
        json_object_del(b, *k);
    if (extra)
        json_object_del(b, extra);
    json_object_del(b, "name");
    return b;
}

/* The change that makes the stored workspace the document: what differs is
 * put, what the document lacks is deleted (a deleted network takes its
 * members; they are listed too). Unchanged rows are not touched, so their
 * networks' envelopes are not recompiled. */
static int build_converge(ctx *c, api_change *ch, void *arg)
{
    (void)c;
    converge *cv = arg;
    int r = 0;
    /* built again when another write commits first: start over */
    json_array_clear(cv->created);
    json_array_clear(cv->changed);
    json_array_clear(cv->deleted);
    /* An export holds the allocations as pins: the same document, applied
     * back, changes nothing. */
    const nn_row *ws = api_snap_workspace(ch);
    json_t *ws_merged = nn_wsdoc_merge(ws->body, ws->alloc);
    bool ws_same = json_equal(cv->ws_body, ws->body) || json_equal(cv->ws_body, ws_merged);
    json_decref(ws_merged);
    if (!ws_same) {
        json_array_append_new(cv->changed, json_string("workspace"));
        r = api_change_workspace(ch, json_incref(cv->ws_body));
    }
    json_t *wanted = json_object(); /* keys the document has */
    char path[320];
    for (size_t i = 0; r == 0 && i < cv->nwant; i++) {
        const want_row *wr = &cv->want[i];
        bool is_net = strcmp(wr->kind, "networks") == 0;
        char *key = row_key(wr->net, wr->kind, wr->name);
        if (!key) {
            r = -ENOMEM;
            break;
        }
        json_object_set_new(wanted, key, json_true());
        free(key);
        json_t *body = without(wr->body, is_net ? nn_net_kinds : NULL, NULL);
        const nn_row *old = api_snap_row(ch, wr->net, wr->kind, wr->name);
        bool same = false;
        if (old) {
            json_t *merged = nn_wsdoc_merge(old->body, old->alloc);
            same = json_equal(body, old->body) || json_equal(body, merged);
            json_decref(merged);
        }
        if (same) {
            json_decref(body);
            continue;
        }
        path_of(wr->net, wr->kind, wr->name, path, sizeof(path));
        json_array_append_new(old ? cv->changed : cv->created, json_string(path));
        r = api_change_put(ch, wr->net, wr->kind, wr->name, body);
    }
    size_t n = 0;
    const nn_row *rows = NULL;
    if (r == 0)
        r = api_snap_rows(ch, &rows, &n);
    for (size_t i = 0; r == 0 && i < n; i++) {
        const char *net = api_snap_network_of(ch, &rows[i]);
        char *key = row_key(net, rows[i].kind, rows[i].name);
        if (!key) {
            r = -ENOMEM;
            break;
        }
        bool keep = json_object_get(wanted, key) != NULL;
        free(key);
        if (keep)
            continue;
        path_of(net, rows[i].kind, rows[i].name, path, sizeof(path));
        json_array_append_new(cv->deleted, json_string(path));
        bool parent_gone = false;
        if (*net) {
            char *pk = row_key("", "networks", net);
            parent_gone = pk && !json_object_get(wanted, pk);
            free(pk);
        }
        if (!parent_gone)
            r = api_change_delete(ch, net, rows[i].kind, rows[i].name);
    }
    json_decref(wanted);
    snprintf(cv->w.detail, sizeof(cv->w.detail), "created %zu, changed %zu, deleted %zu",
             json_array_size(cv->created), json_array_size(cv->changed),
             json_array_size(cv->deleted));
    return r;
}

/* The document's own top-level fields; 422 naming the first problem. */
static json_t *document_workspace(ctx *c)
{
    /* The offline document's own fields: version (1) and a description,
     * which has no home on the server and is not kept. */
    static const char *const top_keys[] = {"version", "description", "ula_prefix", "workspaces",
                                           NULL};
    if (!api_only_keys(c, c->body, top_keys))
        return NULL;
    json_t *version = json_object_get(c->body, "version");
    if (version && !(json_is_integer(version) && json_integer_value(version) == 1)) {
        api_reply_error(c->resp, 422, "invalid_intent", "version",
                        "this server reads version 1 documents");
        return NULL;
    }
    json_t *description = json_object_get(c->body, "description");
    if (description && !json_is_string(description)) {
        api_reply_error(c->resp, 422, "invalid_intent", "description", "must be a string");
        return NULL;
    }
    json_t *wss = json_object_get(c->body, "workspaces");
    json_t *w = json_array_get(wss, 0);
    if (!json_is_array(wss) || json_array_size(wss) != 1 || !json_is_object(w)) {
        api_reply_error(c->resp, 422, "invalid_intent", "workspaces",
                        "the document must hold exactly this one workspace");
        return NULL;
    }
    const char *wname = json_string_value(json_object_get(w, "name"));
    if (!wname || strcmp(wname, c->ws.name) != 0) {
        api_reply_error(c->resp, 422, "invalid_intent", "workspaces[0].name",
                        "the document's workspace must be named \"%s\"", c->ws.name);
        return NULL;
    }
    json_t *ula = json_object_get(c->body, "ula_prefix");
    if (ula) {
        char *have = NULL;
        nn_store_meta_get(c->store, "ula_prefix", &have);
        bool same = have && json_is_string(ula) && strcmp(have, json_string_value(ula)) == 0;
        if (!same)
            api_reply_error(c->resp, 422, "invalid_intent", "ula_prefix",
                            "this install's ULA prefix is %s (fixed at nanamid init "
                            "--ula-prefix); leave ula_prefix out or make it match",
                            have ? have : "?");
        free(have);
        if (!same)
            return NULL;
    }
    return w;
}

void h_intent_put(ctx *c)
{
    json_t *w = document_workspace(c);
    if (!w)
        return;
    converge cv = {.w = {.build = build_converge, .action = "intent.apply", .target = "intent"},
                   .seen = json_object()};
    cv.w.arg = &cv;
    size_t cap = 0;
    bool ok = true;
    for (const char *const *k = nn_ws_kinds; ok && *k; k++)
        ok = collect(c, &cv, &cap, w, "", *k, "workspaces[0].");
    if (ok)
        ok = collect(c, &cv, &cap, w, "", "networks", "workspaces[0].");
    size_t nnets = cv.nwant;
    for (size_t i = 0, n = 0; ok && i < nnets; i++) {
        if (strcmp(cv.want[i].kind, "networks") != 0)
            continue;
        char where[64];
        snprintf(where, sizeof(where), "workspaces[0].networks[%zu].", n++);
        for (const char *const *k = nn_net_kinds; ok && *k; k++)
            ok = collect(c, &cv, &cap, cv.want[i].body, cv.want[i].name, *k, where);
    }
    cv.ws_body = without(w, nn_ws_kinds, "networks");
    cv.created = json_array();
    cv.changed = json_array();
    cv.deleted = json_array();
    if (ok && api_write_run(c, &cv.w))
        api_reply_json(c->resp, 200,
                       json_pack("{s:O, s:O, s:O, s:b}", "created", cv.created, "changed",
                                 cv.changed, "deleted", cv.deleted, "dry_run", c->dry_run));
    free(cv.want);
    json_decref(cv.seen);
    json_decref(cv.ws_body);
    json_decref(cv.created);
    json_decref(cv.changed);
    json_decref(cv.deleted);
}
