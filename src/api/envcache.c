#include "api/envcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/wsdoc.h"
#include "model/intent.h"
#include "util/hash.h"

typedef struct cached_env {
    nn_env_blob *blob; /* NULL until rendered or carried over */
    uint8_t digest[NN_HASH_LEN];
} cached_env;

struct nn_envcache_entry {
    int64_t network_id;
    int64_t revision;
    nn_doc *doc;
    const nn_network *net;
    nn_net_plan *plan;
    cached_env *env;      /* by index into net->peers */
    pthread_mutex_t lock; /* a plan is single-threaded */
    nn_envcache_entry *next;
    unsigned refs; /* under the cache's lock */
};

#define BUCKETS 1024

struct nn_envcache {
    pthread_mutex_t lock; /* buckets, refs, stats */
    nn_envcache_entry *buckets[BUCKETS];
    nn_envcache_stats stats;
};

void nn_env_blob_release(nn_env_blob *b)
{
    if (b && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(b);
}

void nn_env_blob_retain(nn_env_blob *b)
{
    __atomic_add_fetch(&b->refs, 1, __ATOMIC_ACQ_REL);
}

#define BLOB_HEAD offsetof(nn_env_blob, data)

void nn_env_blob_begin(nn_buf *b)
{
    nn_buf_reset(b);
    nn_buf_reserve(b, BLOB_HEAD);
    memset(b->data, 0, BLOB_HEAD);
    b->len = BLOB_HEAD;
}

nn_env_blob *nn_env_blob_finish(nn_buf *b)
{
    size_t len = b->len - BLOB_HEAD;
    nn_env_blob *blob = (nn_env_blob *)(void *)nn_buf_steal(b);
    blob->refs = 1;
    blob->len = len;
    uint8_t h[NN_HASH_LEN];
    nn_hash_bytes(blob->data, blob->len, h);
    blob->etag[0] = '"';
    nn_hash_hex(h, NN_HASH_LEN, blob->etag + 1);
    memcpy(blob->etag + 1 + 2 * NN_HASH_LEN, "\"", 2);
    blob->sig[0] = '\0';
    return blob;
}

static void entry_free(nn_envcache_entry *e)
{
    if (!e)
        return;
    if (e->env && e->net)
        for (size_t i = 0; i < e->net->npeers; i++)
            nn_env_blob_release(e->env[i].blob);
    free(e->env);
    nn_compile_plan_free(e->plan);
    nn_doc_free(e->doc);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

void nn_envcache_release(nn_envcache *ec, nn_envcache_entry *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&ec->lock);
    bool last = --e->refs == 0;
    pthread_mutex_unlock(&ec->lock);
    if (last)
        entry_free(e);
}

int nn_envcache_new(nn_envcache **out)
{
    nn_envcache *ec = calloc(1, sizeof(*ec));
    if (!ec)
        return -ENOMEM;
    pthread_mutex_init(&ec->lock, NULL);
    *out = ec;
    return 0;
}

void nn_envcache_free(nn_envcache *ec)
{
    if (!ec)
        return;
    for (size_t b = 0; b < BUCKETS; b++)
        for (nn_envcache_entry *e = ec->buckets[b], *next; e; e = next) {
            next = e->next;
            entry_free(e);
        }
    pthread_mutex_destroy(&ec->lock);
    free(ec);
}

void nn_envcache_stats_get(nn_envcache *ec, nn_envcache_stats *out)
{
    pthread_mutex_lock(&ec->lock);
    *out = ec->stats;
    pthread_mutex_unlock(&ec->lock);
}

/* Digests every envelope of e and carries over, from prev (an older
 * revision of the same network, or NULL), each rendered envelope whose
 * digest is unchanged. Counts into st. */
static void carry_over(nn_envcache_entry *e, nn_envcache_entry *prev, nn_envcache_stats *st)
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
            nn_env_blob_retain(pe->blob);
            e->env[i].blob = pe->blob;
            st->envelopes_carried++;
        }
    }
    pthread_mutex_unlock(&prev->lock);
}

/* A new entry for net at its revision, compiled from the store. */
static int compile_entry(nn_store *store, const nn_row *ws, const nn_row *net,
                         nn_envcache_entry **out)
{
    nn_envcache_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    pthread_mutex_init(&e->lock, NULL);
    e->network_id = net->id;
    e->revision = net->revision;
    e->refs = 1;
    char field[NN_ERROR_PATH_MAX], msg[NN_ERROR_MSG_MAX];
    int r = nn_wsdoc_load(store, ws, &e->doc, field, sizeof(field), msg, sizeof(msg));
    const nn_workspace *w = r ? NULL : nn_doc_find_workspace(e->doc, ws->name);
    e->net = w ? nn_workspace_find_network(w, net->name) : NULL;
    if (r == 0 && !e->net)
        r = -ENOENT;
    if (r == 0)
        r = nn_compile_plan_new(e->net, &e->plan);
    if (r == 0 && !(e->env = calloc(e->net->npeers + 1, sizeof(*e->env))))
        r = -ENOMEM;
    if (r) {
        entry_free(e);
        return r;
    }
    *out = e;
    return 0;
}

int nn_envcache_get(nn_envcache *ec, nn_store *store, const nn_row *ws, const nn_row *net,
                    nn_envcache_entry **out)
{
    size_t b = (size_t)net->id % BUCKETS;
    nn_envcache_entry *prev = NULL;
    *out = NULL;
    pthread_mutex_lock(&ec->lock);
    for (nn_envcache_entry *e = ec->buckets[b]; e; e = e->next)
        if (e->network_id == net->id && e->revision == net->revision) {
            e->refs++;
            *out = e;
            break;
        } else if (e->network_id == net->id && e->revision < net->revision && !prev) {
            prev = e;
            prev->refs++;
        }
    pthread_mutex_unlock(&ec->lock);
    if (*out) {
        nn_envcache_release(ec, prev);
        return 0;
    }
    nn_envcache_entry *e;
    int r = compile_entry(store, ws, net, &e);
    if (r) {
        nn_envcache_release(ec, prev);
        return r;
    }
    nn_envcache_stats st = {0};
    carry_over(e, prev, &st);
    nn_envcache_release(ec, prev);
    pthread_mutex_lock(&ec->lock);
    ec->stats.networks_compiled++;
    ec->stats.envelopes_added += st.envelopes_added;
    ec->stats.envelopes_changed += st.envelopes_changed;
    ec->stats.envelopes_unchanged += st.envelopes_unchanged;
    ec->stats.envelopes_carried += st.envelopes_carried;
    /* Replace older revisions of this network; holders keep theirs alive. */
    nn_envcache_entry **pp = &ec->buckets[b];
    while (*pp) {
        nn_envcache_entry *old = *pp;
        if (old->network_id == net->id && old->revision <= net->revision) {
            *pp = old->next;
            if (--old->refs == 0) {
                pthread_mutex_unlock(&ec->lock);
                entry_free(old);
                pthread_mutex_lock(&ec->lock);
                pp = &ec->buckets[b];
            }
            continue;
        }
        pp = &old->next;
    }
    e->refs++; /* the bucket's reference */
    e->next = ec->buckets[b];
    ec->buckets[b] = e;
    pthread_mutex_unlock(&ec->lock);
    *out = e;
    return 0;
}

void nn_envcache_lock(nn_envcache_entry *e)
{
    pthread_mutex_lock(&e->lock);
}

void nn_envcache_unlock(nn_envcache_entry *e)
{
    pthread_mutex_unlock(&e->lock);
}

const nn_network *nn_envcache_network(const nn_envcache_entry *e)
{
    return e->net;
}

nn_net_plan *nn_envcache_plan(const nn_envcache_entry *e)
{
    return e->plan;
}

const nn_env_blob *nn_envcache_envelope(nn_envcache *ec, nn_envcache_entry *e,
                                        const nn_member *peer, const uint8_t *sign_sk)
{
    cached_env *ce = &e->env[peer - e->net->peers];
    if (ce->blob)
        return ce->blob;
    /* Rendered behind room for the blob's header, then adopted: no second
     * copy of what may be megabytes. */
    nn_buf b = NN_BUF_INIT;
    nn_env_blob_begin(&b);
    nn_compile_for_peer(e->plan, peer, &b);
    nn_env_blob *blob = nn_env_blob_finish(&b);
    if (sign_sk)
        /* The revision the bytes were first rendered at: a blob carried
         * over to later revisions keeps it, so a node's successive
         * envelopes carry growing revisions. */
        nn_envelope_sign(blob->data, blob->len, (uint64_t)e->revision, sign_sk, blob->sig);
    ce->blob = blob;
    pthread_mutex_lock(&ec->lock);
    ec->stats.envelopes_rendered++;
    pthread_mutex_unlock(&ec->lock);
    return blob;
}
