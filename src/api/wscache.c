#include "api/wscache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TOMB UINT32_MAX

typedef struct slot {
    int64_t ws_id;
    nn_wsstate *st; /* referenced */
    uint64_t used;  /* LRU clock */
} slot;

struct nn_wscache {
    pthread_mutex_t lock; /* slots, clock, counters */
    slot slots[NN_WSCACHE_MAX];
    uint64_t clock;
    unsigned long incremental, full;
    bool no_incremental;
    pthread_mutex_t writer; /* nn_wscache_write_lock */
};

/* FNV-1a over (network_id, kind, name). */
static uint64_t hash_of(int64_t network_id, const char *kind, const char *name)
{
    uint64_t h = 1469598103934665603ull;
    const unsigned char *p = (const unsigned char *)&network_id;
    for (size_t i = 0; i < sizeof(network_id); i++)
        h = (h ^ p[i]) * 1099511628211ull;
    for (p = (const unsigned char *)kind; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    h = (h ^ '/') * 1099511628211ull;
    for (p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

static bool same(const nn_row *r, int64_t network_id, const char *kind, const char *name)
{
    return r->id && r->network_id == network_id && strcmp(r->kind, kind) == 0 &&
           strcmp(r->name, name) == 0;
}

/* The table slot of (network_id, kind, name): its entry, or the empty one
 * where it would go. */
static size_t probe(const nn_wsstate *st, int64_t network_id, const char *kind, const char *name,
                    bool *found)
{
    size_t mask = st->tsize - 1, i = hash_of(network_id, kind, name) & mask;
    size_t first_tomb = SIZE_MAX;
    for (;; i = (i + 1) & mask) {
        uint32_t e = st->table[i];
        if (e == 0) {
            *found = false;
            return first_tomb != SIZE_MAX ? first_tomb : i;
        }
        if (e == TOMB) {
            if (first_tomb == SIZE_MAX)
                first_tomb = i;
        } else if (same(&st->rows[e - 1], network_id, kind, name)) {
            *found = true;
            return i;
        }
    }
}

/* Rebuilds the table at twice the live rows, without tombstones. */
static int rehash(nn_wsstate *st)
{
    size_t size = 64;
    while (size < 2 * (st->live + 1))
        size *= 2;
    uint32_t *t = calloc(size, sizeof(*t));
    if (!t)
        return -ENOMEM;
    free(st->table);
    st->table = t;
    st->tsize = size;
    for (size_t i = 0; i < st->nrows; i++) {
        const nn_row *r = &st->rows[i];
        if (!r->id)
            continue;
        bool found;
        size_t at = probe(st, r->network_id, r->kind, r->name, &found);
        st->table[at] = (uint32_t)(i + 1);
    }
    return 0;
}

static void state_free(nn_wsstate *st)
{
    for (size_t i = 0; i < st->nrows; i++)
        nn_row_clear(&st->rows[i]);
    nn_row_clear(&st->ws);
    free(st->rows);
    free(st->table);
    free(st->nets);
    free(st);
}

void nn_wsstate_release(nn_wsstate *st)
{
    if (st && __atomic_sub_fetch(&st->refs, 1, __ATOMIC_ACQ_REL) == 0)
        state_free(st);
}

static int note_network(nn_wsstate *st, size_t pos)
{
    if (st->nnets == st->netcap) {
        size_t cap = st->netcap ? st->netcap * 2 : 8;
        size_t *grown = realloc(st->nets, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        st->nets = grown;
        st->netcap = cap;
    }
    st->nets[st->nnets++] = pos;
    return 0;
}

static bool is_network(const nn_row *r)
{
    return r->id && r->network_id == 0 && strcmp(r->kind, "networks") == 0;
}

/* A state of rows (adopted) at version. */
static int state_new(const nn_row *ws, int64_t version, nn_row *rows, size_t n, nn_wsstate **out)
{
    nn_wsstate *st = calloc(1, sizeof(*st));
    if (!st) {
        nn_rows_free(rows, n);
        return -ENOMEM;
    }
    st->refs = 1;
    st->version = version;
    st->ws = *ws;
    st->ws.body = json_incref(ws->body);
    st->ws.alloc = json_incref(ws->alloc);
    st->rows = rows;
    st->nrows = st->cap = st->live = n;
    st->next_temp = -1;
    int r = rehash(st);
    for (size_t i = 0; r == 0 && i < n; i++)
        if (is_network(&rows[i]))
            r = note_network(st, i);
    if (r) {
        state_free(st);
        return r;
    }
    *out = st;
    return 0;
}

nn_wsstate *nn_wsstate_copy(const nn_wsstate *from)
{
    nn_wsstate *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    *st = *from;
    st->refs = 1;
    st->ws.body = json_incref(from->ws.body);
    st->ws.alloc = json_incref(from->ws.alloc);
    st->rows = malloc((from->cap ? from->cap : 1) * sizeof(nn_row));
    st->table = malloc(from->tsize * sizeof(uint32_t));
    st->nets = malloc((from->netcap ? from->netcap : 1) * sizeof(size_t));
    if (!st->rows || !st->table || !st->nets) {
        free(st->rows);
        free(st->table);
        free(st->nets);
        json_decref(st->ws.body);
        json_decref(st->ws.alloc);
        free(st);
        return NULL;
    }
    if (from->nrows) /* never memcpy from NULL, even 0 bytes */
        memcpy(st->rows, from->rows, from->nrows * sizeof(nn_row));
    for (size_t i = 0; i < st->nrows; i++) {
        json_incref(st->rows[i].body);
        json_incref(st->rows[i].alloc);
    }
    memcpy(st->table, from->table, from->tsize * sizeof(uint32_t));
    if (from->nnets)
        memcpy(st->nets, from->nets, from->nnets * sizeof(size_t));
    return st;
}

const nn_row *nn_wsstate_find(const nn_wsstate *st, int64_t network_id, const char *kind,
                              const char *name)
{
    bool found;
    size_t at = probe(st, network_id, kind, name, &found);
    return found ? &st->rows[st->table[at] - 1] : NULL;
}

const nn_row *nn_wsstate_network(const nn_wsstate *st, const char *name)
{
    return nn_wsstate_find(st, 0, "networks", name);
}

const nn_row *nn_wsstate_network_by_id(const nn_wsstate *st, int64_t id)
{
    for (size_t i = 0; i < st->nnets; i++)
        if (st->rows[st->nets[i]].id == id)
            return &st->rows[st->nets[i]];
    return NULL;
}

int nn_wsstate_put(nn_wsstate *st, nn_row *row)
{
    bool found;
    size_t at = probe(st, row->network_id, row->kind, row->name, &found);
    if (found) {
        nn_row *old = &st->rows[st->table[at] - 1];
        if (!row->id)
            row->id = old->id;
        if (!row->revision)
            row->revision = old->revision;
        nn_row_clear(old);
        *old = *row;
        return 0;
    }
    if (st->nrows == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 16;
        nn_row *grown = realloc(st->rows, cap * sizeof(*grown));
        if (!grown) {
            nn_row_clear(row);
            return -ENOMEM;
        }
        st->rows = grown;
        st->cap = cap;
    }
    if (!row->id)
        row->id = st->next_temp--;
    size_t pos = st->nrows++;
    st->rows[pos] = *row;
    st->live++;
    st->table[at] = (uint32_t)(pos + 1);
    if (is_network(row) && note_network(st, pos))
        return -ENOMEM;
    /* Keep the table at most half full. */
    return 2 * (st->live + 1) > st->tsize ? rehash(st) : 0;
}

static void remove_at(nn_wsstate *st, size_t slot_at)
{
    size_t pos = st->table[slot_at] - 1;
    nn_row *r = &st->rows[pos];
    if (is_network(r))
        for (size_t i = 0; i < st->nnets; i++)
            if (st->nets[i] == pos) {
                st->nets[i] = st->nets[--st->nnets];
                break;
            }
    nn_row_clear(r);
    r->id = 0;
    st->table[slot_at] = TOMB;
    st->live--;
}

void nn_wsstate_remove(nn_wsstate *st, int64_t network_id, const char *kind, const char *name)
{
    bool found;
    size_t at = probe(st, network_id, kind, name, &found);
    if (!found)
        return;
    int64_t id = st->rows[st->table[at] - 1].id;
    bool net = is_network(&st->rows[st->table[at] - 1]);
    remove_at(st, at);
    for (size_t i = 0; net && i < st->nrows; i++) {
        nn_row *m = &st->rows[i];
        if (m->id && m->network_id == id) {
            size_t a = probe(st, m->network_id, m->kind, m->name, &found);
            remove_at(st, a);
        }
    }
}

int nn_wsstate_renumber(nn_wsstate *st, const int64_t *stored, size_t n)
{
    /* Removed rows leave holes; a state that is only ever edited would
     * grow by every delete. The rehash below walks every row anyway, so
     * the live ones move down to close the holes on the way. */
    size_t k = 0;
    st->nnets = 0;
    for (size_t i = 0; i < st->nrows; i++) {
        nn_row *r = &st->rows[i];
        if (!r->id)
            continue;
        if (r->id < 0 && (size_t)-r->id <= n)
            r->id = stored[-r->id - 1];
        if (r->network_id < 0 && (size_t)-r->network_id <= n)
            r->network_id = stored[-r->network_id - 1];
        st->rows[k] = *r;
        if (is_network(&st->rows[k]))
            st->nets[st->nnets++] = k; /* fewer than before: fits */
        k++;
    }
    st->nrows = st->live = k;
    st->next_temp = -1;
    return rehash(st); /* a member's network_id is part of its key */
}

/* Workspace scope first, then stored networks by id, then networks not
 * stored yet: the order nn_store_row_all gives once they are. */
static int rank(int64_t network_id)
{
    return network_id == 0 ? 0 : network_id > 0 ? 1 : 2;
}

static int cmp_rows(const void *a, const void *b)
{
    const nn_row *x = a, *y = b;
    if (rank(x->network_id) != rank(y->network_id))
        return rank(x->network_id) - rank(y->network_id);
    if (x->network_id != y->network_id)
        return (x->network_id < y->network_id) == (x->network_id > 0) ? -1 : 1;
    int c = strcmp(x->kind, y->kind);
    return c ? c : strcmp(x->name, y->name);
}

int nn_wsstate_sorted(const nn_wsstate *st, nn_row **out, size_t *n)
{
    nn_row *rows = malloc((st->live ? st->live : 1) * sizeof(*rows));
    if (!rows)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < st->nrows; i++)
        if (st->rows[i].id)
            rows[k++] = st->rows[i];
    if (k > 1)
        qsort(rows, k, sizeof(*rows), cmp_rows);
    *out = rows;
    *n = k;
    return 0;
}

/* --- the cache ------------------------------------------------------------ */

int nn_wscache_new(nn_wscache **out)
{
    nn_wscache *wc = calloc(1, sizeof(*wc));
    if (!wc)
        return -ENOMEM;
    pthread_mutex_init(&wc->lock, NULL);
    pthread_mutex_init(&wc->writer, NULL);
    *out = wc;
    return 0;
}

void nn_wscache_free(nn_wscache *wc)
{
    if (!wc)
        return;
    for (size_t i = 0; i < NN_WSCACHE_MAX; i++)
        nn_wsstate_release(wc->slots[i].st);
    pthread_mutex_destroy(&wc->lock);
    pthread_mutex_destroy(&wc->writer);
    free(wc);
}

/* The slot of ws_id, or the one to use for it (free, else least recently
 * used). Under the lock. */
static slot *slot_of(nn_wscache *wc, int64_t ws_id, bool *hit)
{
    slot *lru = &wc->slots[0];
    for (size_t i = 0; i < NN_WSCACHE_MAX; i++) {
        slot *s = &wc->slots[i];
        if (s->st && s->ws_id == ws_id) {
            *hit = true;
            return s;
        }
        if (!s->st && lru->st)
            lru = s;
        else if (s->st && lru->st && s->used < lru->used)
            lru = s;
    }
    *hit = false;
    return lru;
}

void nn_wscache_install(nn_wscache *wc, nn_wsstate *st)
{
    pthread_mutex_lock(&wc->lock);
    bool hit;
    slot *s = slot_of(wc, st->ws.id, &hit);
    /* another incarnation of the id (deleted and made again) replaces it
     * whatever its version; the same one only by a newer version */
    if (!hit || s->st->ws.epoch != st->ws.epoch || s->st->version < st->version) {
        nn_wsstate *old = s->st;
        __atomic_add_fetch(&st->refs, 1, __ATOMIC_ACQ_REL);
        *s = (slot){.ws_id = st->ws.id, .st = st, .used = ++wc->clock};
        pthread_mutex_unlock(&wc->lock);
        nn_wsstate_release(old);
        return;
    }
    pthread_mutex_unlock(&wc->lock);
}

void nn_wscache_drop(nn_wscache *wc, int64_t ws_id)
{
    pthread_mutex_lock(&wc->lock);
    bool hit;
    slot *s = slot_of(wc, ws_id, &hit);
    nn_wsstate *old = hit ? s->st : NULL;
    if (hit)
        *s = (slot){0};
    pthread_mutex_unlock(&wc->lock);
    nn_wsstate_release(old);
}

int nn_wscache_get(nn_wscache *wc, nn_store *store, const nn_row *ws, nn_wsstate **out)
{
    int64_t version, epoch;
    int r = nn_store_workspace_version(store, ws->id, &version, &epoch);
    if (r)
        return r;
    pthread_mutex_lock(&wc->lock);
    bool hit;
    slot *s = slot_of(wc, ws->id, &hit);
    if (hit && s->st->version == version && s->st->ws.epoch == epoch) {
        s->used = ++wc->clock;
        __atomic_add_fetch(&s->st->refs, 1, __ATOMIC_ACQ_REL);
        *out = s->st;
        pthread_mutex_unlock(&wc->lock);
        return 0;
    }
    pthread_mutex_unlock(&wc->lock);
    /* Read the rows and the version they are at in one read transaction:
     * a write committing meanwhile must not give rows of one version a
     * label of another. */
    nn_row wsrow = {0};
    nn_row *rows = NULL;
    size_t n = 0;
    if ((r = nn_store_read_begin(store)) == 0) {
        r = nn_store_workspace_find(store, ws->name, &wsrow);
        if (r == 0 && (wsrow.id != ws->id || (ws->epoch && wsrow.epoch != ws->epoch)))
            r = -ENOENT; /* deleted (and made again) meanwhile */
        if (r == 0)
            r = nn_store_row_all(store, ws->id, &rows, &n);
        nn_store_read_end(store);
    }
    nn_wsstate *st = NULL;
    if (r == 0)
        r = state_new(&wsrow, wsrow.revision, rows, n, &st);
    else
        nn_rows_free(rows, n);
    nn_row_clear(&wsrow);
    if (r)
        return r;
    nn_wscache_install(wc, st);
    *out = st;
    return 0;
}

void nn_wscache_count(nn_wscache *wc, bool incremental)
{
    pthread_mutex_lock(&wc->lock);
    if (incremental)
        wc->incremental++;
    else
        wc->full++;
    pthread_mutex_unlock(&wc->lock);
}

void nn_wscache_counts(nn_wscache *wc, unsigned long *incremental, unsigned long *full)
{
    pthread_mutex_lock(&wc->lock);
    *incremental = wc->incremental;
    *full = wc->full;
    pthread_mutex_unlock(&wc->lock);
}

void nn_wscache_set_incremental(nn_wscache *wc, bool on)
{
    pthread_mutex_lock(&wc->lock);
    wc->no_incremental = !on;
    pthread_mutex_unlock(&wc->lock);
}

bool nn_wscache_incremental(nn_wscache *wc)
{
    pthread_mutex_lock(&wc->lock);
    bool on = !wc->no_incremental;
    pthread_mutex_unlock(&wc->lock);
    return on;
}

void nn_wscache_write_lock(nn_wscache *wc)
{
    pthread_mutex_lock(&wc->writer);
}

void nn_wscache_write_unlock(nn_wscache *wc)
{
    pthread_mutex_unlock(&wc->writer);
}
