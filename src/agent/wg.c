/* nn_wg: the device model, sorting and the peer diff. */
#include "agent/wg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap * 2 : 8;
    while (n < need)
        n *= 2;
    void *q = reallocarray(p, n, elem);
    if (!q)
        abort();
    memset((char *)q + *cap * elem, 0, (n - *cap) * elem);
    *cap = n;
    return q;
}

nn_wg_peer *nn_wg_device_add_peer(nn_wg_device *d, const nn_key *public_key)
{
    d->peers = grow(d->peers, &d->cap_peers, d->n_peers + 1, sizeof(*d->peers));
    nn_wg_peer *p = &d->peers[d->n_peers++];
    memset(p, 0, sizeof(*p));
    p->public_key = *public_key;
    return p;
}

void nn_wg_peer_add_allowed(nn_wg_peer *p, const nn_prefix *prefix)
{
    p->allowed = grow(p->allowed, &p->cap_allowed, p->n_allowed + 1, sizeof(*p->allowed));
    p->allowed[p->n_allowed++] = *prefix;
}

void nn_wg_device_free(nn_wg_device *d)
{
    for (size_t i = 0; i < d->n_peers; i++)
        free(d->peers[i].allowed);
    free(d->peers);
    sodium_memzero(d, sizeof(*d));
}

static int key_cmp(const nn_key *a, const nn_key *b)
{
    return memcmp(a->bytes, b->bytes, NN_KEY_LEN);
}

static int peer_cmp(const void *a, const void *b)
{
    return key_cmp(&((const nn_wg_peer *)a)->public_key, &((const nn_wg_peer *)b)->public_key);
}

static int prefix_qcmp(const void *a, const void *b)
{
    return nn_prefix_cmp(a, b);
}

int nn_wg_device_sort(nn_wg_device *d)
{
    if (d->n_peers > 1)
        qsort(d->peers, d->n_peers, sizeof(*d->peers), peer_cmp);
    for (size_t i = 0; i < d->n_peers; i++) {
        nn_wg_peer *p = &d->peers[i];
        if (i > 0 && peer_cmp(&d->peers[i - 1], p) == 0)
            return -EEXIST;
        if (p->n_allowed < 2)
            continue;
        qsort(p->allowed, p->n_allowed, sizeof(*p->allowed), prefix_qcmp);
        size_t w = 1;
        for (size_t r = 1; r < p->n_allowed; r++)
            if (nn_prefix_cmp(&p->allowed[w - 1], &p->allowed[r]) != 0)
                p->allowed[w++] = p->allowed[r];
        p->n_allowed = w;
    }
    return 0;
}

const nn_wg_peer *nn_wg_device_find(const nn_wg_device *d, const nn_key *public_key)
{
    size_t lo = 0, hi = d->n_peers;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(&d->peers[mid].public_key, public_key);
        if (c == 0)
            return &d->peers[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

bool nn_wg_ifname_valid(const char *name)
{
    size_t n = strnlen(name, 16);
    if (n == 0 || n > 15 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

int nn_wg_endpoint_parse(const char *s, size_t len, nn_wg_endpoint *out)
{
    memset(out, 0, sizeof(*out));
    const char *colon = len ? memrchr(s, ':', len) : NULL;
    if (!colon || colon == s)
        return -EINVAL;
    size_t plen = len - (size_t)(colon - s) - 1;
    if (plen < 1 || plen > 5)
        return -EINVAL;
    unsigned port = 0;
    for (size_t i = 0; i < plen; i++) {
        char c = colon[1 + i];
        if (c < '0' || c > '9')
            return -EINVAL;
        port = port * 10 + (unsigned)(c - '0');
    }
    if (port > 65535)
        return -EINVAL;
    const char *host = s;
    size_t hlen = (size_t)(colon - s);
    bool v6 = host[0] == '[';
    if (v6) {
        if (hlen < 3 || host[hlen - 1] != ']')
            return -EINVAL;
        host++;
        hlen -= 2;
        const char *zone = memchr(host, '%', hlen);
        if (zone)
            hlen = (size_t)(zone - host);
    }
    char text[INET6_ADDRSTRLEN];
    if (hlen == 0 || hlen >= sizeof(text) || memchr(host, '\0', hlen))
        return -EINVAL;
    memcpy(text, host, hlen);
    text[hlen] = '\0';
    if (inet_pton(v6 ? AF_INET6 : AF_INET, text, out->addr) != 1)
        return -EINVAL;
    out->family = v6 ? NN_AF_INET6 : NN_AF_INET4;
    out->port = (uint16_t)port;
    return 0;
}

char *nn_wg_endpoint_format(const nn_wg_endpoint *e, char *buf)
{
    char text[INET6_ADDRSTRLEN] = "";
    if (e->family == NN_AF_INET6) {
        inet_ntop(AF_INET6, e->addr, text, sizeof(text));
        snprintf(buf, 56, "[%s]:%u", text, e->port);
    } else if (e->family == NN_AF_INET4) {
        inet_ntop(AF_INET, e->addr, text, sizeof(text));
        snprintf(buf, 56, "%s:%u", text, e->port);
    } else {
        buf[0] = '\0';
    }
    return buf;
}

bool nn_wg_endpoint_equal(const nn_wg_endpoint *a, const nn_wg_endpoint *b)
{
    if (a->family != b->family)
        return false;
    if (a->family == 0)
        return true;
    size_t n = a->family == NN_AF_INET6 ? 16 : 4;
    return a->port == b->port && memcmp(a->addr, b->addr, n) == 0;
}

static bool allowed_equal(const nn_wg_peer *a, const nn_wg_peer *b)
{
    if (a->n_allowed != b->n_allowed)
        return false;
    for (size_t i = 0; i < a->n_allowed; i++)
        if (nn_prefix_cmp(&a->allowed[i], &b->allowed[i]) != 0)
            return false;
    return true;
}

/* A desired peer copied into the change with the given flags; the allowed
 * list is copied only when it is meant to replace the device's. */
static void change_add(nn_wg_device *change, const nn_wg_peer *want, uint32_t flags)
{
    nn_wg_peer *p = nn_wg_device_add_peer(change, &want->public_key);
    p->flags = flags;
    p->endpoint = want->endpoint;
    p->keepalive = want->keepalive;
    if (flags & NN_WG_PEER_REPLACE_ALLOWED_IPS)
        for (size_t i = 0; i < want->n_allowed; i++)
            nn_wg_peer_add_allowed(p, &want->allowed[i]);
}

static uint32_t peer_changes(const nn_wg_peer *want, const nn_wg_peer *have,
                             const nn_wg_device *previous)
{
    uint32_t flags = 0;
    if (!allowed_equal(want, have))
        flags |= NN_WG_PEER_REPLACE_ALLOWED_IPS;
    if (want->keepalive != have->keepalive)
        flags |= NN_WG_PEER_HAS_KEEPALIVE;
    if (want->endpoint.family && !nn_wg_endpoint_equal(&want->endpoint, &have->endpoint)) {
        const nn_wg_peer *before = previous ? nn_wg_device_find(previous, &want->public_key) : NULL;
        if (!have->endpoint.family || !before ||
            !nn_wg_endpoint_equal(&before->endpoint, &want->endpoint))
            flags |= NN_WG_PEER_HAS_ENDPOINT;
    }
    return flags ? flags | NN_WG_PEER_UPDATE_ONLY : 0;
}

size_t nn_wg_diff(const nn_wg_device *desired, const nn_wg_device *current,
                  const nn_wg_device *previous, nn_wg_device *change)
{
    memset(change, 0, sizeof(*change));
    if (desired->flags & NN_WG_HAS_PRIVATE_KEY &&
        (!(current->flags & NN_WG_HAS_PRIVATE_KEY) ||
         key_cmp(&desired->public_key, &current->public_key) != 0)) {
        change->flags |= NN_WG_HAS_PRIVATE_KEY;
        change->private_key = desired->private_key;
        change->public_key = desired->public_key;
    }
    if (desired->flags & NN_WG_HAS_LISTEN_PORT && desired->listen_port != current->listen_port) {
        change->flags |= NN_WG_HAS_LISTEN_PORT;
        change->listen_port = desired->listen_port;
    }
    size_t i = 0, j = 0;
    while (i < desired->n_peers || j < current->n_peers) {
        const nn_wg_peer *want = i < desired->n_peers ? &desired->peers[i] : NULL;
        const nn_wg_peer *have = j < current->n_peers ? &current->peers[j] : NULL;
        int c = !want ? 1 : !have ? -1 : key_cmp(&want->public_key, &have->public_key);
        if (c < 0) {
            uint32_t flags = NN_WG_PEER_REPLACE_ALLOWED_IPS;
            if (want->endpoint.family)
                flags |= NN_WG_PEER_HAS_ENDPOINT;
            if (want->keepalive)
                flags |= NN_WG_PEER_HAS_KEEPALIVE;
            change_add(change, want, flags);
            i++;
        } else if (c > 0) {
            nn_wg_device_add_peer(change, &have->public_key)->flags = NN_WG_PEER_REMOVE;
            j++;
        } else {
            uint32_t flags = peer_changes(want, have, previous);
            if (flags)
                change_add(change, want, flags);
            i++;
            j++;
        }
    }
    return change->n_peers;
}
