#include "api/lookup.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/notify.h"

#define SLOTS 4096 /* direct-mapped: a collision only costs a database read */

typedef enum kind { K_USER = 1, K_WORKSPACE, K_ROLE, K_NETWORK } kind;

typedef struct entry {
    kind kind; /* 0: empty */
    uint8_t key[96];
    size_t klen;
    uint64_t generation; /* the write generation it was read at */
    int64_t expires_ms;  /* monotonic */
    nn_user user;
    nn_row row; /* owned references */
    nn_role role;
} entry;

struct nn_lookup {
    nn_notify *notify;
    pthread_mutex_t lock;
    entry slots[SLOTS];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int nn_lookup_new(nn_notify *notify, nn_lookup **out)
{
    nn_lookup *lk = calloc(1, sizeof(*lk));
    if (!lk)
        return -ENOMEM;
    lk->notify = notify;
    pthread_mutex_init(&lk->lock, NULL);
    *out = lk;
    return 0;
}

void nn_lookup_free(nn_lookup *lk)
{
    if (!lk)
        return;
    for (size_t i = 0; i < SLOTS; i++)
        nn_row_clear(&lk->slots[i].row);
    pthread_mutex_destroy(&lk->lock);
    free(lk);
}

/* The key of a lookup: its kind, then its bytes. */
typedef struct key {
    kind kind;
    uint8_t bytes[96];
    size_t len;
} key;

static void key_add(key *k, const void *p, size_t n)
{
    if (k->len + n > sizeof(k->bytes))
        n = sizeof(k->bytes) - k->len; /* names are at most 63 bytes: never */
    memcpy(k->bytes + k->len, p, n);
    k->len += n;
}

static entry *slot_of(nn_lookup *lk, const key *k)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)k->kind;
    for (size_t i = 0; i < k->len; i++)
        h = (h ^ k->bytes[i]) * 1099511628211ull;
    return &lk->slots[h % SLOTS];
}

/* Copies a live entry for k into e (references taken); false on a miss. */
static bool get(nn_lookup *lk, const key *k, entry *e)
{
    uint64_t gen = nn_notify_generation(lk->notify);
    int64_t now = now_ms();
    pthread_mutex_lock(&lk->lock);
    entry *s = slot_of(lk, k);
    bool hit = s->kind == k->kind && s->klen == k->len && !memcmp(s->key, k->bytes, k->len) &&
               s->generation == gen && now < s->expires_ms;
    if (hit) {
        *e = *s;
        json_incref(e->row.body);
        json_incref(e->row.alloc);
    }
    pthread_mutex_unlock(&lk->lock);
    return hit;
}

/* Stores what was read at generation gen (taken before the read, so a
 * write that lands meanwhile makes the entry stale at once). */
static void put(nn_lookup *lk, const key *k, uint64_t gen, const entry *e)
{
    pthread_mutex_lock(&lk->lock);
    entry *s = slot_of(lk, k);
    nn_row old = s->row;
    *s = *e;
    s->kind = k->kind;
    memcpy(s->key, k->bytes, k->len);
    s->klen = k->len;
    s->generation = gen;
    s->expires_ms = now_ms() + NN_LOOKUP_TTL_MS;
    s->row.body = json_incref(e->row.body);
    s->row.alloc = json_incref(e->row.alloc);
    pthread_mutex_unlock(&lk->lock);
    nn_row_clear(&old);
}

int nn_lookup_user(nn_lookup *lk, nn_store *store, const uint8_t hash[32], nn_user *out)
{
    key k = {.kind = K_USER};
    key_add(&k, hash, 32);
    entry e;
    if (get(lk, &k, &e)) {
        *out = e.user;
        return 0;
    }
    uint64_t gen = nn_notify_generation(lk->notify);
    int r = nn_store_token_user(store, hash, out);
    if (r == 0) {
        memset(&e, 0, sizeof(e));
        e.user = *out;
        put(lk, &k, gen, &e);
    }
    return r;
}

int nn_lookup_workspace(nn_lookup *lk, nn_store *store, const char *name, nn_row *out)
{
    key k = {.kind = K_WORKSPACE};
    key_add(&k, name, strlen(name));
    entry e;
    if (get(lk, &k, &e)) {
        *out = e.row;
        return 0;
    }
    uint64_t gen = nn_notify_generation(lk->notify);
    int r = nn_store_workspace_find(store, name, out);
    if (r == 0) {
        memset(&e, 0, sizeof(e));
        e.row = *out;
        put(lk, &k, gen, &e);
    }
    return r;
}

int nn_lookup_role(nn_lookup *lk, nn_store *store, int64_t ws_id, int64_t epoch, int64_t user_id,
                   nn_role *out)
{
    key k = {.kind = K_ROLE};
    key_add(&k, &ws_id, sizeof(ws_id));
    key_add(&k, &epoch, sizeof(epoch));
    key_add(&k, &user_id, sizeof(user_id));
    entry e;
    if (get(lk, &k, &e)) {
        *out = e.role;
        return 0;
    }
    uint64_t gen = nn_notify_generation(lk->notify);
    int r = nn_store_role(store, ws_id, user_id, out);
    if (r == 0) {
        memset(&e, 0, sizeof(e));
        e.role = *out;
        put(lk, &k, gen, &e);
    }
    return r;
}

int nn_lookup_network(nn_lookup *lk, nn_store *store, int64_t ws_id, const char *name, nn_row *out)
{
    key k = {.kind = K_NETWORK};
    key_add(&k, &ws_id, sizeof(ws_id));
    key_add(&k, name, strlen(name));
    entry e;
    if (get(lk, &k, &e)) {
        *out = e.row;
        return 0;
    }
    uint64_t gen = nn_notify_generation(lk->notify);
    int r = nn_store_row_get(store, ws_id, 0, "networks", name, out);
    if (r == 0) {
        memset(&e, 0, sizeof(e));
        e.row = *out;
        put(lk, &k, gen, &e);
    }
    return r;
}
