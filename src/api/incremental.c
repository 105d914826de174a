#include "api/incremental.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/intent.h"
#include "util/cidr.h"
#include "util/hash.h"

/* The fields a plain member may have. Everything else can be named by, or
 * constrain, other objects. */
static const char *const plain_peer[] = {"public_key", "endpoint",    "tags",
                                         "ipv4",       "description", NULL};
static const char *const plain_device[] = {"public_key", "tags",        "ipv4",
                                           "owner",      "description", NULL};

static bool plain(const json_t *body, bool device)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v)
    {
        const char *const *k = device ? plain_device : plain_peer;
        while (*k && strcmp(*k, key) != 0)
            k++;
        if (!*k)
            return false;
    }
    return true;
}

/* Does a JSON string equal to s occur anywhere in v? */
static bool mentions(const json_t *v, const char *s)
{
    if (json_is_string(v))
        return strcmp(json_string_value(v), s) == 0;
    const char *key;
    json_t *item;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, item) if (mentions(item, s)) return true;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, item) if (mentions(item, s)) return true;
    }
    return false;
}

static uint32_t v4(const nn_prefix *p)
{
    return ((uint32_t)p->addr[0] << 24) | ((uint32_t)p->addr[1] << 16) |
           ((uint32_t)p->addr[2] << 8) | p->addr[3];
}

static bool ipv4_of(const json_t *v, nn_prefix *out)
{
    return json_is_string(v) && nn_addr_parse(json_string_value(v), out) == 0 &&
           out->family == NN_AF_INET4;
}

/* A member's IPv4 address as the document pins it: the body's, else the
 * recorded allocation's. false when it has none (or an unreadable one). */
static bool address_of(const nn_row *r, nn_prefix *out)
{
    json_t *v = json_object_get(r->body, "ipv4");
    return ipv4_of(v ? v : json_object_get(r->alloc, "ipv4"), out);
}

typedef struct network_view {
    bool has_ipv4;
    nn_prefix cidr;
    uint8_t *taken; /* a bit per usable address: other members' and VIPs' */
    uint64_t usable, used;
} network_view;

/* One pass over the network's other members and VIPs: unique name, unique
 * key, every address pinned, and the addresses taken. false: decline. */
static bool survey(const nn_wsstate *st, const nn_row *net, const nn_row *self, const char *kind,
                   const char *name, const char *key, network_view *nv)
{
    const char *other = strcmp(kind, "peers") == 0 ? "devices" : "peers";
    if (nn_wsstate_find(st, net->id, other, name))
        return false; /* one name is one peer or one device */
    uint32_t base = v4(&nv->cidr);
    for (size_t i = 0; i < st->nrows; i++) {
        const nn_row *r = &st->rows[i];
        if (!r->id || r == self)
            continue;
        bool member = !strcmp(r->kind, "peers") || !strcmp(r->kind, "devices");
        const char *theirs = json_string_value(json_object_get(r->body, "public_key"));
        /* a key is one host (or device) across the workspace, and a host
         * declared elsewhere may carry it: full validation decides */
        if ((member || !strcmp(r->kind, "hosts")) && key && theirs && strcmp(theirs, key) == 0)
            return false;
        if (r->network_id != net->id)
            continue;
        bool vip = !strcmp(r->kind, "virtual_ips");
        if (!nv->has_ipv4 || (!member && !vip))
            continue;
        nn_prefix a;
        if (member && !address_of(r, &a))
            return false; /* the allocator would place it too: not decidable here */
        if (vip) {
            json_t *addr = json_object_get(r->body, "address");
            if (!json_is_string(addr) ||
                nn_prefix_parse(json_string_value(addr), false, true, &a, NULL) != 0)
                return false;
            if (a.family != NN_AF_INET4 || !nn_prefix_contains(&nv->cidr, &a))
                continue;
        }
        if (!nn_prefix_contains(&nv->cidr, &a))
            return false;
        uint32_t at = v4(&a);
        if (at == base || at - base - 1 >= nv->usable)
            return false;
        uint64_t slot = at - base - 1;
        if (nv->taken[slot / 8] & (1u << (slot % 8)))
            return false; /* a clash already: let the full validation speak */
        nv->taken[slot / 8] |= (uint8_t)(1u << (slot % 8));
        nv->used++;
    }
    return true;
}

/* The address nn_alloc_assign gives an unpinned member when every other
 * member is pinned: its hashed slot, or the next free one. */
static nn_prefix allocate(const char *ws, const char *net, const char *name, const network_view *nv)
{
    const char *parts[] = {ws, net, name};
    uint8_t h[NN_HASH_LEN];
    nn_hash_parts("nanami/member32", parts, 3, 0, h);
    uint64_t be = 0;
    for (int i = 0; i < 8; i++)
        be = (be << 8) | h[i];
    uint64_t slot = be % nv->usable;
    while (nv->taken[slot / 8] & (1u << (slot % 8)))
        slot = (slot + 1) % nv->usable;
    uint32_t a = v4(&nv->cidr) + 1 + (uint32_t)slot;
    nn_prefix p = {.family = NN_AF_INET4, .len = 32};
    p.addr[0] = (uint8_t)(a >> 24);
    p.addr[1] = (uint8_t)(a >> 16);
    p.addr[2] = (uint8_t)(a >> 8);
    p.addr[3] = (uint8_t)a;
    return p;
}

/* Is name free of references: no row but its own, and not the workspace's
 * own fields, mentions it (a selector, a holder, a host, a gateway pin, a
 * routing choice), and no declared host is called so (a peer's implied
 * host is its name)? */
static bool unnamed(const nn_wsstate *st, const nn_row *self, const char *name)
{
    if (nn_wsstate_find(st, 0, "hosts", name) || mentions(st->ws.body, name))
        return false;
    /* a peer of that name elsewhere runs on the same implied host */
    for (size_t i = 0; i < st->nnets; i++) {
        const nn_row *p = nn_wsstate_find(st, st->rows[st->nets[i]].id, "peers", name);
        if (p && p != self)
            return false;
    }
    for (size_t i = 0; i < st->nrows; i++)
        if (st->rows[i].id && &st->rows[i] != self && mentions(st->rows[i].body, name))
            return false;
    return true;
}

bool nn_incremental_member(const nn_wsstate *st, const nn_row *net, const char *kind,
                           const char *name, json_t *body, json_t **alloc)
{
    *alloc = NULL;
    bool device = strcmp(kind, "devices") == 0;
    if (!device && strcmp(kind, "peers") != 0)
        return false;
    json_t *mode = json_object_get(net->body, "routing_mode");
    if (mode && !(json_is_string(mode) && !strcmp(json_string_value(mode), "static")))
        return false;
    const nn_row *old = nn_wsstate_find(st, net->id, kind, name);
    if ((old && !plain(old->body, device)) || (body && !plain(body, device)) ||
        !unnamed(st, old, name))
        return false;
    if (!body) /* a plain member nothing names: nothing depends on it */
        return old != NULL;
    network_view nv = {0};
    json_t *cidr = json_object_get(net->body, "ipv4_cidr");
    if (cidr && (!json_is_string(cidr) ||
                 nn_prefix_parse(json_string_value(cidr), true, false, &nv.cidr, NULL) ||
                 nv.cidr.family != NN_AF_INET4 || nv.cidr.len < 8 || nv.cidr.len > 30))
        return false;
    nv.has_ipv4 = cidr != NULL;
    nn_member_facts facts;
    nn_error err = {{0}, {0}};
    json_t *obj = json_copy(body); /* a row's body holds no name; the document's object does */
    json_object_set_new(obj, "name", json_string(name));
    int bad = nn_intent_check_member(obj, device, nv.has_ipv4 ? &nv.cidr : NULL, &facts, &err);
    json_decref(obj);
    if (bad || !facts.has_key) /* a peer taking its host's key: not plain */
        return false;
    if (nv.has_ipv4) {
        nv.usable = (1ull << (32 - nv.cidr.len)) - 2;
        if (!(nv.taken = calloc((size_t)(nv.usable + 7) / 8, 1)))
            return false;
    }
    bool ok = survey(st, net, old, kind, name,
                     json_string_value(json_object_get(body, "public_key")), &nv);
    json_t *after = old ? json_deep_copy(old->alloc) : json_object();
    if (ok && nv.has_ipv4) {
        nn_prefix mine;
        /* without a pin of its own, the address recorded for it, if any */
        bool recorded =
            !facts.ipv4_pinned && old && ipv4_of(json_object_get(old->alloc, "ipv4"), &mine);
        if (facts.ipv4_pinned)
            mine = facts.ipv4_pin;
        else if (!recorded)
            mine =
                nv.used < nv.usable ? allocate(st->ws.name, net->name, name, &nv) : (nn_prefix){0};
        uint64_t slot = mine.family ? v4(&mine) - v4(&nv.cidr) - 1 : 0;
        /* a pinned or recorded address another member or VIP has: refused
         * by the full validation, which says so */
        ok = mine.family && slot < nv.usable && !(nv.taken[slot / 8] & (1u << (slot % 8))) &&
             nv.used + 1 <= nv.usable;
        if (ok && !facts.ipv4_pinned && !recorded) {
            char buf[NN_PREFIX_STRLEN];
            json_object_set_new(after, "ipv4", json_string(nn_prefix_format(&mine, false, buf)));
        }
    }
    free(nv.taken);
    if (!ok) {
        json_decref(after);
        return false;
    }
    *alloc = after;
    return true;
}
