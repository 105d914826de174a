#include "alloc/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/idset.h"
#include "util/hash.h"

/* Bounded rejection sampling: after this many draws we scan linearly for
 * the first free slot, so a nearly full space still terminates quickly. */
#define MAX_DRAWS 64

void nn_alloc_default_ula(nn_prefix *out)
{
    uint8_t h[NN_HASH_LEN];
    nn_hash_parts("nanami/default-install", NULL, 0, 0, h);
    memset(out, 0, sizeof(*out));
    out->family = NN_AF_INET6;
    out->len = 40;
    out->addr[0] = 0xfd;
    memcpy(out->addr + 1, h, 4);
}

static uint64_t be64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return v;
}

/* --- workspace /48 inside the /40: 8 bits, 256 slots ------------------- */

int nn_alloc_workspace48(const nn_prefix *ula40, const char *name,
                         bool (*taken)(const nn_prefix *p, void *arg), void *arg, nn_prefix *out)
{
    const char *parts[] = {name};
    nn_prefix p = *ula40;
    p.len = 48;
    for (uint32_t c = 0; c < MAX_DRAWS; c++) {
        uint8_t h[NN_HASH_LEN];
        nn_hash_parts("nanami/workspace48", parts, 1, c, h);
        p.addr[5] = h[0];
        if (!taken(&p, arg)) {
            *out = p;
            return 0;
        }
    }
    for (int s = 0; s < 256; s++) {
        p.addr[5] = (uint8_t)s;
        if (!taken(&p, arg)) {
            *out = p;
            return 0;
        }
    }
    return -ENOSPC;
}

static bool slot_taken(const nn_prefix *p, void *arg)
{
    return ((const bool *)arg)[p->addr[5]];
}

static int assign_workspaces(nn_doc *doc, nn_error *err)
{
    bool taken[256] = {false};
    for (size_t w = 0; w < doc->nworkspaces; w++) {
        nn_workspace *ws = &doc->workspaces[w];
        if (!ws->ipv6_pinned)
            continue;
        ws->prefix48 = ws->ipv6_pin;
        if (nn_prefix_contains(&doc->ula40, &ws->prefix48))
            taken[ws->prefix48.addr[5]] = true;
        for (size_t o = 0; o < w; o++)
            if (doc->workspaces[o].ipv6_pinned &&
                nn_prefix_cmp(&doc->workspaces[o].prefix48, &ws->prefix48) == 0) {
                char path[64];
                snprintf(path, sizeof(path), "workspaces[%zu].ipv6_prefix", ws->doc_index);
                nn_error_set(err, path, "already pinned by workspace \"%s\"",
                             doc->workspaces[o].name);
                return -EINVAL;
            }
    }
    for (size_t w = 0; w < doc->nworkspaces; w++) {
        nn_workspace *ws = &doc->workspaces[w];
        if (ws->ipv6_pinned)
            continue;
        if (nn_alloc_workspace48(&doc->ula40, ws->name, slot_taken, taken, &ws->prefix48)) {
            char path[64];
            snprintf(path, sizeof(path), "workspaces[%zu]", ws->doc_index);
            nn_error_set(err, path, "the install /40 has no free /48 left (256 workspaces)");
            return -EINVAL;
        }
        taken[ws->prefix48.addr[5]] = true;
    }
    return 0;
}

/* --- network /64 inside the /48: 16 bits; subnet 0 stays unused -------- */

static int assign_networks(nn_workspace *ws, nn_error *err)
{
    uint8_t *taken = calloc(65536, 1);
    if (!taken)
        return -ENOMEM;
    taken[0] = 1;
    int r = 0;
    for (size_t n = 0; n < ws->nnetworks; n++) {
        nn_network *net = &ws->networks[n];
        if (!net->ipv6_pinned)
            continue;
        net->prefix6 = net->ipv6_pin;
        if (nn_prefix_contains(&ws->prefix48, &net->prefix6))
            taken[(net->prefix6.addr[6] << 8) | net->prefix6.addr[7]] = 1;
    }
    for (size_t n = 0; n < ws->nnetworks && !r; n++) {
        nn_network *net = &ws->networks[n];
        if (net->ipv6_pinned)
            continue;
        const char *parts[] = {ws->name, net->name};
        long slot = -1;
        for (uint32_t c = 0; c < MAX_DRAWS && slot < 0; c++) {
            uint8_t h[NN_HASH_LEN];
            nn_hash_parts("nanami/network64", parts, 2, c, h);
            unsigned s = ((unsigned)h[0] << 8) | h[1];
            if (!taken[s])
                slot = s;
        }
        for (long s = 1; s < 65536 && slot < 0; s++)
            if (!taken[s])
                slot = s;
        if (slot < 0) {
            char path[96];
            snprintf(path, sizeof(path), "workspaces[%zu].networks[%zu]", ws->doc_index,
                     net->doc_index);
            nn_error_set(err, path, "the workspace /48 has no free /64 left");
            r = -EINVAL;
            break;
        }
        taken[slot] = 1;
        net->prefix6 = ws->prefix48;
        net->prefix6.len = 64;
        net->prefix6.addr[6] = (uint8_t)(slot >> 8);
        net->prefix6.addr[7] = (uint8_t)slot;
    }
    free(taken);
    return r;
}

/* --- member /128: a 64-bit interface id per member ---------------------- */

static void assign_iid(const nn_network *net, nn_member *m, nn_idset *used)
{
    const char *parts[] = {net->workspace->name, net->name, m->name};
    for (uint32_t c = 0;; c++) {
        uint8_t h[NN_HASH_LEN];
        nn_hash_parts("nanami/member128", parts, 3, c, h);
        uint64_t iid = be64(h);
        /* ::0 is the subnet-router anycast address; never hand it out. */
        if (iid == 0 || !nn_idset_insert(used, iid))
            continue;
        m->addr6 = net->prefix6;
        m->addr6.len = 128;
        for (int i = 0; i < 8; i++)
            m->addr6.addr[8 + i] = h[i];
        return;
    }
}

/* --- IPv4 /32s inside ipv4_cidr ---------------------------------------- */

static uint32_t v4(const nn_prefix *p)
{
    return ((uint32_t)p->addr[0] << 24) | ((uint32_t)p->addr[1] << 16) |
           ((uint32_t)p->addr[2] << 8) | p->addr[3];
}

static nn_prefix v4_host(uint32_t a)
{
    nn_prefix p;
    memset(&p, 0, sizeof(p));
    p.family = NN_AF_INET4;
    p.len = 32;
    p.addr[0] = (uint8_t)(a >> 24);
    p.addr[1] = (uint8_t)(a >> 16);
    p.addr[2] = (uint8_t)(a >> 8);
    p.addr[3] = (uint8_t)a;
    return p;
}

static int cmp_member_ptr(const void *a, const void *b)
{
    return strcmp((*(nn_member *const *)a)->name, (*(nn_member *const *)b)->name);
}

/* Pinned addresses first, then every other member in name order takes the
 * slot its own hash names, or the next free one after it. A member moves
 * only if a newcomer lands on its slot first -- which is why a server
 * persists each address when first made and exports it as a pin
 * (docs/addressing.md). O(members + probe length). */
static int assign_ipv4(nn_network *net, nn_member **all, size_t n, nn_error *err)
{
    uint32_t base = v4(&net->ipv4_cidr);
    uint64_t size = 1ull << (32 - net->ipv4_cidr.len);
    uint64_t usable = size - 2; /* no network, no broadcast address */
    if (n > usable) {
        char path[96];
        snprintf(path, sizeof(path), "workspaces[%zu].networks[%zu].ipv4_cidr",
                 net->workspace->doc_index, net->doc_index);
        char buf[NN_PREFIX_STRLEN];
        nn_error_set(err, path, "%s has %llu usable addresses for %zu peers and devices",
                     nn_prefix_format(&net->ipv4_cidr, true, buf), (unsigned long long)usable, n);
        return -EINVAL;
    }
    uint8_t *taken = calloc((size_t)(usable + 7) / 8, 1);
    if (!taken)
        return -ENOMEM;
    /* Virtual IPs inside the CIDR are taken before anyone hashes. */
    size_t nvip_in = 0;
    for (size_t i = 0; i < net->nvips; i++)
        if (nn_prefix_contains(&net->ipv4_cidr, &net->vips[i].address)) {
            nvip_in++;
            uint32_t a = v4(&net->vips[i].address);
            if (a == base || a == base + (uint32_t)size - 1) {
                char path[128];
                snprintf(path, sizeof(path),
                         "workspaces[%zu].networks[%zu].virtual_ips[%zu].address",
                         net->workspace->doc_index, net->doc_index, net->vips[i].doc_index);
                nn_error_set(err, path, "is the network or broadcast address of the ipv4_cidr");
                free(taken);
                return -EINVAL;
            }
            uint64_t slot = a - base - 1;
            taken[slot / 8] |= (uint8_t)(1u << (slot % 8));
        }
    if (n + nvip_in > usable) {
        char path[96];
        snprintf(path, sizeof(path), "workspaces[%zu].networks[%zu].ipv4_cidr",
                 net->workspace->doc_index, net->doc_index);
        nn_error_set(err, path, "too small for its peers, devices and virtual IPs");
        free(taken);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        if (all[i]->ipv4_pinned) {
            uint64_t slot = v4(&all[i]->ipv4_pin) - base - 1;
            taken[slot / 8] |= (uint8_t)(1u << (slot % 8));
            all[i]->addr4 = all[i]->ipv4_pin;
        }
    for (size_t i = 0; i < n; i++) {
        nn_member *m = all[i];
        if (m->ipv4_pinned)
            continue;
        const char *parts[] = {net->workspace->name, net->name, m->name};
        uint8_t h[NN_HASH_LEN];
        nn_hash_parts("nanami/member32", parts, 3, 0, h);
        uint64_t slot = be64(h) % usable;
        while (taken[slot / 8] & (1u << (slot % 8)))
            slot = (slot + 1) % usable;
        taken[slot / 8] |= (uint8_t)(1u << (slot % 8));
        m->addr4 = v4_host(base + 1 + (uint32_t)slot);
    }
    free(taken);
    return 0;
}

static int assign_members(nn_network *net, nn_error *err)
{
    size_t n = net->npeers + net->ndevices;
    int r = 0;
    if (n == 0)
        return 0;
    nn_member **all = malloc(n * sizeof(*all));
    nn_idset used;
    if (nn_idset_init(&used, n) != 0 || !all) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < net->npeers; i++)
        all[i] = &net->peers[i];
    for (size_t i = 0; i < net->ndevices; i++)
        all[net->npeers + i] = &net->devices[i];
    /* One name order over peers and devices: that order breaks ties. */
    qsort(all, n, sizeof(*all), cmp_member_ptr);
    for (size_t i = 0; i < n; i++) {
        assign_iid(net, all[i], &used);
        memset(&all[i]->addr4, 0, sizeof(all[i]->addr4));
    }
    if (net->has_ipv4)
        r = assign_ipv4(net, all, n, err);
out:
    free(all);
    nn_idset_free(&used);
    return r;
}

/* The network's short id names its interface and nftables chains:
 * 8 hex chars of SHA-256 over the /64. */
static void assign_names(nn_network *net)
{
    uint8_t h[NN_HASH_LEN];
    nn_hash_bytes(net->prefix6.addr, 8, h);
    nn_hash_hex(h, 4, net->id8);
    /* "nn-" + 8 = 11 characters: inside IFNAMSIZ - 1 = 15. */
    snprintf(net->ifname, sizeof(net->ifname), "nn-%s", net->id8);
}

/* A host's shared interface: "nn-" + 8 hex of SHA-256 over the
 * workspace's /48 and the host's name, so two workspaces' nodes on one
 * machine never meet. */
static void assign_host_names(nn_workspace *ws)
{
    for (size_t i = 0; i < ws->nhosts; i++) {
        nn_host *h = &ws->hosts[i];
        char prefix[NN_PREFIX_STRLEN], id8[9];
        const char *parts[] = {nn_prefix_format(&ws->prefix48, true, prefix), h->name};
        uint8_t hash[NN_HASH_LEN];
        nn_hash_parts("nanami/host-interface", parts, 2, 0, hash);
        nn_hash_hex(hash, 4, id8);
        snprintf(h->ifname, sizeof(h->ifname), "nn-%s", id8);
    }
}

int nn_alloc_assign(nn_doc *doc, nn_error *err)
{
    int r;
    if (doc->ula_pinned)
        doc->ula40 = doc->ula_pin;
    else
        nn_alloc_default_ula(&doc->ula40);
    if ((r = assign_workspaces(doc, err)))
        return r;
    for (size_t w = 0; w < doc->nworkspaces; w++) {
        nn_workspace *ws = &doc->workspaces[w];
        if ((r = assign_networks(ws, err)))
            return r;
        for (size_t n = 0; n < ws->nnetworks; n++) {
            if ((r = assign_members(&ws->networks[n], err)))
                return r;
            assign_names(&ws->networks[n]);
        }
        assign_host_names(ws);
    }
    if ((r = nn_alloc_derive(doc, err)))
        return r;
    /* Pinned /64s may clash across workspaces, and two short ids may clash
     * by bad luck; either would put two networks on one interface name. */
    for (size_t w = 0; w < doc->nworkspaces; w++)
        for (size_t n = 0; n < doc->workspaces[w].nnetworks; n++) {
            const nn_network *a = &doc->workspaces[w].networks[n];
            for (size_t w2 = 0; w2 <= w; w2++)
                for (size_t n2 = 0; n2 < doc->workspaces[w2].nnetworks; n2++) {
                    const nn_network *b = &doc->workspaces[w2].networks[n2];
                    if (b == a)
                        break;
                    if (nn_prefix_cmp(&a->prefix6, &b->prefix6) == 0 ||
                        strcmp(a->id8, b->id8) == 0) {
                        char path[96];
                        snprintf(path, sizeof(path), "workspaces[%zu].networks[%zu]",
                                 a->workspace->doc_index, a->doc_index);
                        nn_error_set(err, path,
                                     "its IPv6 prefix or short id clashes with network \"%s/%s\"; "
                                     "pin a different ipv6_prefix",
                                     b->workspace->name, b->name);
                        return -EINVAL;
                    }
                }
        }
    return 0;
}
