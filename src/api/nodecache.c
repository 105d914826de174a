#include "api/nodecache.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/wsdoc.h"
#include "compile/node.h"

/* A host's last document: the workspace version it was rendered at, the
 * blob and the revision it was signed at. */
typedef struct host_doc {
    char name[64]; /* names are 1-63 bytes */
    int64_t version, revision;
    nn_env_blob *blob;
} host_doc;

typedef struct ws_entry {
    int64_t ws_id, epoch, version;
    int64_t max_revision; /* nn_store_max_revision, read before the model */
    nn_doc *doc;          /* at version */
    const nn_workspace *w;
    nn_net_plan **plans; /* by index into w->networks, made when first needed */
    host_doc *hosts;
    size_t nhosts, cap;
    json_t *by_name;      /* host name -> index into hosts */
    unsigned long used;   /* under the cache's lock */
    unsigned refs;        /* the cache's and each caller's; under the cache's lock */
    pthread_mutex_t lock; /* the model, plans and documents */
} ws_entry;

struct nn_nodecache {
    pthread_mutex_t lock;
    ws_entry *ws[NN_NODECACHE_MAX];
    size_t n;
    unsigned long tick;
};

static void model_free(ws_entry *e)
{
    for (size_t i = 0; e->plans && e->w && i < e->w->nnetworks; i++)
        nn_compile_plan_free(e->plans[i]);
    free(e->plans);
    nn_doc_free(e->doc);
    e->plans = NULL;
    e->doc = NULL;
    e->w = NULL;
}

static void entry_free(ws_entry *e)
{
    if (!e)
        return;
    model_free(e);
    for (size_t i = 0; i < e->nhosts; i++)
        nn_env_blob_release(e->hosts[i].blob);
    free(e->hosts);
    json_decref(e->by_name);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

/* Drops a reference (the cache's lock held); true when it was the last:
 * the caller frees the entry, after unlocking. */
static bool entry_unref(ws_entry *e)
{
    return --e->refs == 0;
}

/* Takes nc->ws[i] out of the cache; returns it when nobody uses it any
 * more (free it after unlocking), else NULL: its last user frees it. */
static ws_entry *take_out(nn_nodecache *nc, size_t i)
{
    ws_entry *e = nc->ws[i];
    nc->ws[i] = nc->ws[--nc->n];
    return entry_unref(e) ? e : NULL;
}

int nn_nodecache_new(nn_nodecache **out)
{
    nn_nodecache *nc = calloc(1, sizeof(*nc));
    if (!nc)
        return -ENOMEM;
    pthread_mutex_init(&nc->lock, NULL);
    *out = nc;
    return 0;
}

void nn_nodecache_free(nn_nodecache *nc)
{
    if (!nc)
        return;
    for (size_t i = 0; i < nc->n; i++) /* no caller is left */
        entry_free(nc->ws[i]);
    pthread_mutex_destroy(&nc->lock);
    free(nc);
}

/* The entry of ws, referenced for the caller (a new one when its id is
 * new or was reused by another workspace), the least recently used
 * dropped to make room. Entries dropped while in use live on until their
 * last user lets go; *dropped (free it after unlocking) is one nobody
 * uses. Call with the cache's lock held. */
static ws_entry *entry_of(nn_nodecache *nc, const nn_row *ws, ws_entry **dropped)
{
    *dropped = NULL;
    size_t lru = 0;
    for (size_t i = 0; i < nc->n; i++) {
        ws_entry *e = nc->ws[i];
        if (e->ws_id == ws->id) {
            if (e->epoch == ws->epoch) {
                e->refs++;
                e->used = ++nc->tick;
                return e;
            }
            *dropped = take_out(nc, i);
            break;
        }
        if (e->used < nc->ws[lru]->used)
            lru = i;
    }
    if (nc->n == NN_NODECACHE_MAX)
        *dropped = take_out(nc, lru);
    ws_entry *e = calloc(1, sizeof(*e));
    if (!e || !(e->by_name = json_object())) {
        free(e);
        return NULL;
    }
    pthread_mutex_init(&e->lock, NULL);
    e->ws_id = ws->id;
    e->epoch = ws->epoch;
    e->version = -1;
    e->refs = 2; /* the cache's and the caller's */
    e->used = ++nc->tick;
    nc->ws[nc->n++] = e;
    return e;
}

/* The model at ws's version, loaded when the version moved forward (a
 * request that read the workspace before a write keeps the newer model:
 * the cache never goes back). */
static int load_model(ws_entry *e, nn_store *store, const nn_row *ws, char *why, size_t why_len)
{
    if (e->doc && e->version >= ws->revision)
        return 0;
    model_free(e);
    /* The revision first: a write landing before the model is read makes
     * the model newer than it, never older -- so a document is never
     * signed above what a later render (or a restarted nanamid) gives. */
    int r = nn_store_max_revision(store, e->ws_id, &e->max_revision);
    if (r)
        return r;
    char field[NN_ERROR_PATH_MAX], msg[NN_ERROR_MSG_MAX];
    r = nn_wsdoc_load(store, ws, &e->doc, field, sizeof(field), msg, sizeof(msg));
    if (r == -EINVAL)
        snprintf(why, why_len, "%s: %s", field, msg);
    if (r)
        return r;
    e->w = nn_doc_find_workspace(e->doc, ws->name);
    if (!e->w) {
        model_free(e);
        return -ENOENT;
    }
    if (!(e->plans = calloc(e->w->nnetworks + 1, sizeof(*e->plans)))) {
        model_free(e);
        return -ENOMEM;
    }
    e->version = ws->revision;
    return 0;
}

static host_doc *host_slot(ws_entry *e, const char *name)
{
    json_t *at = json_object_get(e->by_name, name);
    if (at)
        return &e->hosts[json_integer_value(at)];
    if (e->nhosts == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 16;
        host_doc *grown = realloc(e->hosts, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        e->hosts = grown;
        e->cap = cap;
    }
    if (json_object_set_new(e->by_name, name, json_integer((json_int_t)e->nhosts)))
        return NULL;
    host_doc *d = &e->hosts[e->nhosts++];
    memset(d, 0, sizeof(*d));
    snprintf(d->name, sizeof(d->name), "%s", name);
    d->version = -1;
    return d;
}

/* Renders h's document at e's version into d: the bytes, compared with
 * the last ones; a change is signed above everything before it. */
static int render(ws_entry *e, const nn_host *h, host_doc *d, const uint8_t *sign_sk, char *why,
                  size_t why_len)
{
    const nn_workspace *w = e->w;
    int r = 0;
    for (size_t i = 0; i < w->nnetworks && r == 0; i++)
        if (!e->plans[i] && nn_host_peer(h, &w->networks[i]))
            r = nn_compile_plan_new(&w->networks[i], &e->plans[i]);
    if (r) {
        snprintf(why, why_len, "compile plans for host %s", h->name);
        return r;
    }
    nn_buf b = NN_BUF_INIT;
    nn_env_blob_begin(&b);
    nn_error err = {{0}, {0}};
    if ((r = nn_compile_node(w, h, e->plans, &b, &err))) {
        nn_buf_free(&b);
        snprintf(why, why_len, "%s: %s", err.path, err.msg);
        return r;
    }
    nn_env_blob *blob = nn_env_blob_finish(&b);
    if (d->blob && strcmp(d->blob->etag, blob->etag) == 0) {
        nn_env_blob_release(blob);
        d->version = e->version;
        return 0;
    }
    int64_t revision = e->max_revision;
    if (revision <= d->revision) /* defensive: writes move the revision */
        revision = d->revision + 1;
    if (sign_sk)
        nn_envelope_sign(blob->data, blob->len, (uint64_t)revision, sign_sk, blob->sig);
    nn_env_blob_release(d->blob);
    d->blob = blob;
    d->revision = revision;
    d->version = e->version;
    return 0;
}

int nn_nodecache_get(nn_nodecache *nc, nn_store *store, const nn_row *ws, const char *host,
                     const uint8_t *sign_sk, nn_env_blob **out, char *why, size_t why_len)
{
    *out = NULL;
    why[0] = '\0';
    ws_entry *dropped;
    pthread_mutex_lock(&nc->lock);
    ws_entry *e = entry_of(nc, ws, &dropped);
    pthread_mutex_unlock(&nc->lock);
    entry_free(dropped);
    if (!e)
        return -ENOMEM;
    /* One workspace at a time per entry: other workspaces' nodes are not
     * held up by this one's compile. */
    pthread_mutex_lock(&e->lock);
    int r = load_model(e, store, ws, why, why_len);
    const nn_host *h = r == 0 ? nn_workspace_find_host(e->w, host) : NULL;
    if (r == 0 && !h)
        r = -ENOENT;
    host_doc *d = r == 0 ? host_slot(e, host) : NULL;
    if (r == 0 && !d)
        r = -ENOMEM;
    if (r == 0 && d->version < e->version)
        r = render(e, h, d, sign_sk, why, why_len);
    if (r == 0) {
        nn_env_blob_retain(d->blob);
        *out = d->blob;
    }
    pthread_mutex_unlock(&e->lock);
    pthread_mutex_lock(&nc->lock);
    bool last = entry_unref(e);
    pthread_mutex_unlock(&nc->lock);
    if (last)
        entry_free(e);
    return r;
}
