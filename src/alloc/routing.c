/* Routing ids and derived sets: AS numbers, router ids, VRF table ids,
 * bridge ids, and what each member routes. Deterministic like the address
 * allocators: same model, same ids, whatever order rows came in. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "alloc/idset.h"
#include "util/hash.h"

static uint32_t be32(const uint8_t *b)
{
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

uint32_t nn_alloc_as_number(const char *workspace)
{
    const uint32_t span = NN_AS_PRIVATE_HI - NN_AS_PRIVATE_LO + 1;
    /* Accept draws below the largest multiple of span: unbiased modulo. */
    const uint32_t limit = (uint32_t)((0x100000000ull / span) * span);
    const char *parts[] = {workspace};
    for (uint32_t c = 0;; c++) {
        uint8_t h[NN_HASH_LEN];
        nn_hash_parts("nanami/as-number", parts, 1, c, h);
        uint32_t v = be32(h);
        if (v < limit)
            return NN_AS_PRIVATE_LO + v % span;
    }
}

void nn_alloc_router_id(const nn_prefix *addr6, uint32_t counter, uint8_t out[4])
{
    for (uint32_t c = counter;; c++) {
        char hex[33];
        nn_hash_hex(addr6->addr, 16, hex);
        const char *parts[] = {hex};
        uint8_t h[NN_HASH_LEN];
        nn_hash_parts("nanami/router-id", parts, 1, c, h);
        uint32_t v = be32(h);
        if (v != 0 && v != 0xffffffffu) {
            memcpy(out, h, 4);
            return;
        }
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Lowest value in lo..hi that is neither used nor reserved. O(n log n). */
static int lowest_free(const uint32_t *used, size_t nused, uint32_t lo, uint32_t hi,
                       bool skip_kernel_tables, uint32_t *out)
{
    uint32_t *s = malloc((nused + 1) * sizeof(*s));
    if (!s)
        return -ENOMEM;
    if (nused) /* used may be NULL when empty */
        memcpy(s, used, nused * sizeof(*s));
    qsort(s, nused, sizeof(*s), cmp_u32);
    uint32_t v = lo;
    size_t i = 0;
    int r = -ENOSPC;
    while (v <= hi) {
        while (i < nused && s[i] < v)
            i++;
        if (skip_kernel_tables && v >= 253 && v <= 255) {
            v = 256;
            continue;
        }
        if (i < nused && s[i] == v) {
            v++;
            continue;
        }
        *out = v;
        r = 0;
        break;
    }
    free(s);
    return r;
}

int nn_alloc_table_id(const uint32_t *used, size_t nused, uint32_t *out)
{
    return lowest_free(used, nused, NN_TABLE_LO, NN_TABLE_HI, true, out);
}

int nn_alloc_short_id(const uint32_t *used, size_t nused, uint32_t max, uint32_t *out)
{
    return lowest_free(used, nused, 1, max, false, out);
}

/* --- router ids ------------------------------------------------------------ */

static int assign_router_ids(nn_network *net, nn_error *err)
{
    nn_idset used; /* router ids are never 0: they fit the set */
    if (nn_idset_init(&used, net->npeers) != 0)
        return -ENOMEM;
    for (size_t i = 0; i < net->npeers; i++) {
        nn_member *m = &net->peers[i];
        if (m->has_router_id && !nn_idset_insert(&used, be32(m->router_id))) {
            char path[128];
            snprintf(path, sizeof(path), "workspaces[%zu].networks[%zu].peers[%zu].bgp_router_id",
                     net->workspace->doc_index, net->doc_index, m->doc_index);
            nn_error_set(err, path, "another peer of this network already uses it");
            nn_idset_free(&used);
            return -EINVAL;
        }
    }
    for (size_t i = 0; i < net->npeers; i++) {
        nn_member *m = &net->peers[i];
        if (m->has_router_id)
            continue;
        for (uint32_t c = 0;; c++) {
            nn_alloc_router_id(&m->addr6, c, m->router_id);
            if (nn_idset_insert(&used, be32(m->router_id)))
                break;
        }
    }
    nn_idset_free(&used);
    return 0;
}

/* --- VRFs per (host, network with an interface of its own) ------------------ */

/* Adds a VRF for peer i of net on its host with table id table. */
static int add_vrf(nn_host *h, const nn_network *net, const nn_member *peer, uint32_t table)
{
    nn_vrf *grown = realloc(h->vrfs, (h->nvrfs + 1) * sizeof(nn_vrf));
    if (!grown)
        return -ENOMEM;
    h->vrfs = grown;
    nn_vrf *v = &h->vrfs[h->nvrfs++];
    memset(v, 0, sizeof(*v));
    v->network = net;
    v->peer = peer;
    v->network_name = net->name;
    v->table_id = table;
    return 0;
}

/* Table ids: a host's vrfs pins first, then the peers' own vrf_table pins
 * (a server records each table id there when it is first made, so adding
 * a network to a host never moves another's), then the lowest free id for
 * the rest, network by network. */
static int assign_vrfs(nn_workspace *ws, nn_error *err)
{
    for (int pass = 0; pass < 2; pass++)
        for (size_t n = 0; n < ws->nnetworks; n++) {
            const nn_network *net = &ws->networks[n];
            for (size_t i = 0; i < net->npeers; i++) {
                const nn_member *peer = &net->peers[i];
                nn_host *h = &ws->hosts[peer->host_ref - ws->hosts];
                if (nn_host_shares(h, net))
                    continue; /* the shared interface is in the main table */
                nn_vrf *pinned = (nn_vrf *)nn_host_find_vrf(h, net);
                char path[128];
                snprintf(path, sizeof(path), "workspaces[%zu].networks[%zu].peers[%zu]",
                         ws->doc_index, net->doc_index, peer->doc_index);
                if (pinned && pinned->peer && pinned->peer != peer) {
                    strncat(path, ".host", sizeof(path) - strlen(path) - 1);
                    nn_error_set(err, path,
                                 "host \"%s\" already runs peer \"%s\" of this network (one "
                                 "interface and one BGP instance per host and network)",
                                 h->name, pinned->peer->name);
                    return -EINVAL;
                }
                if (pinned) { /* by the host, or by this peer in pass 0 */
                    pinned->peer = peer;
                    continue;
                }
                if (pass == 0 && !peer->vrf_table)
                    continue;
                uint32_t table = peer->vrf_table;
                for (size_t v = 0; table && v < h->nvrfs; v++)
                    if (h->vrfs[v].table_id == table) {
                        strncat(path, ".vrf_table", sizeof(path) - strlen(path) - 1);
                        nn_error_set(err, path,
                                     "vrf_table %u is network \"%s\"'s on host \"%s\"; leave "
                                     "vrf_table out to get a free one",
                                     table, h->vrfs[v].network_name, h->name);
                        return -EINVAL;
                    }
                if (!table) {
                    uint32_t *used = malloc((h->nvrfs + 1) * sizeof(*used));
                    if (!used)
                        return -ENOMEM;
                    for (size_t v = 0; v < h->nvrfs; v++)
                        used[v] = h->vrfs[v].table_id;
                    int r = nn_alloc_table_id(used, h->nvrfs, &table);
                    free(used);
                    if (r) {
                        snprintf(path, sizeof(path), "workspaces[%zu].networks[%zu]", ws->doc_index,
                                 net->doc_index);
                        nn_error_set(err, path, "host \"%s\" has no free routing table id left",
                                     h->name);
                        return r == -ENOSPC ? -EINVAL : r;
                    }
                }
                if (add_vrf(h, net, peer, table))
                    return -ENOMEM;
            }
        }
    for (size_t hi = 0; hi < ws->nhosts; hi++) {
        nn_host *h = &ws->hosts[hi];
        for (size_t v = 0; v < h->nvrfs; v++) {
            nn_vrf *vrf = &h->vrfs[v];
            /* The short id is the table id's rank among usable ids, so it is
             * exactly as stable as the table id. */
            vrf->short_id = vrf->table_id - NN_TABLE_LO + 1 - (vrf->table_id > 255 ? 3 : 0);
            snprintf(vrf->name, sizeof(vrf->name), "vrf-%s", vrf->network->id8);
        }
        /* Keep them sorted by network name for lookups and output. */
        for (size_t a = 1; a < h->nvrfs; a++)
            for (size_t b = a;
                 b > 0 && strcmp(h->vrfs[b - 1].network_name, h->vrfs[b].network_name) > 0; b--) {
                nn_vrf t = h->vrfs[b];
                h->vrfs[b] = h->vrfs[b - 1];
                h->vrfs[b - 1] = t;
            }
    }
    return 0;
}

/* --- bridges ------------------------------------------------------------------ */

static int assign_bridges(nn_workspace *ws, nn_error *err)
{
    for (size_t hi = 0; hi < ws->nhosts; hi++) {
        nn_host *h = &ws->hosts[hi];
        uint32_t *used = malloc((h->nbridges + 1) * sizeof(*used));
        size_t nused = 0;
        if (!used)
            return -ENOMEM;
        for (size_t b = 0; b < h->nbridges; b++)
            if (h->bridges[b].short_id_pin)
                used[nused++] = h->bridges[b].short_id = h->bridges[b].short_id_pin;
        for (size_t b = 0; b < h->nbridges; b++) {
            nn_bridge *br = &h->bridges[b];
            if (!br->short_id_pin) {
                if (nn_alloc_short_id(used, nused, 4095, &br->short_id)) {
                    char path[96];
                    snprintf(path, sizeof(path), "workspaces[%zu].hosts[%zu].bridges[%zu]",
                             ws->doc_index, h->doc_index, br->doc_index);
                    nn_error_set(err, path, "no free bridge id left on this host (4095)");
                    free(used);
                    return -EINVAL;
                }
                used[nused++] = br->short_id;
            }
            /* "nnbr4095" / "nnovs4095": well inside the 15 characters. */
            snprintf(br->kernel_name, sizeof(br->kernel_name), "%s%u",
                     br->kind == NN_BRIDGE_OVS ? "nnovs" : "nnbr", br->short_id);
        }
        free(used);
    }
    return 0;
}

/* --- routed sets ------------------------------------------------------------------ */

typedef struct routed_ref {
    nn_prefix prefix;
    nn_member *owner;
    const char *what; /* for the error: which list put it there */
    size_t index;
} routed_ref;

static int cmp_routed(const void *a, const void *b)
{
    const routed_ref *x = a, *y = b;
    int c = nn_prefix_cmp(&x->prefix, &y->prefix);
    if (c)
        return c;
    return x->owner < y->owner ? -1 : x->owner > y->owner;
}

static int cmp_prefix(const void *a, const void *b)
{
    return nn_prefix_cmp(a, b);
}

static void federate(const nn_workspace *ws, nn_network *net, nn_prefix *out, size_t *n)
{
    for (size_t f = 0; f < ws->nfederation; f++) {
        const nn_federation_peer *fp = &ws->federation[f];
        if (!nn_federation_applies(fp, net))
            continue;
        for (size_t i = 0; i < fp->nprefixes; i++)
            out[(*n)++] = fp->prefixes[i];
    }
    qsort(out, *n, sizeof(nn_prefix), cmp_prefix);
    size_t w = 0;
    for (size_t i = 0; i < *n; i++)
        if (w == 0 || nn_prefix_cmp(&out[w - 1], &out[i]) != 0)
            out[w++] = out[i];
    *n = w;
}

static int derive_routed(nn_workspace *ws, nn_network *net, nn_error *err)
{
    size_t nfed_max = 0;
    for (size_t f = 0; f < ws->nfederation; f++)
        nfed_max += ws->federation[f].nprefixes;
    free(net->federated);
    net->federated = calloc(nfed_max + 1, sizeof(nn_prefix));
    net->nfederated = 0;
    if (!net->federated)
        return -ENOMEM;
    federate(ws, net, net->federated, &net->nfederated);

    nn_member *primary = NULL;
    for (size_t i = 0; i < net->npeers && !primary; i++)
        if (net->peers[i].publicly_reachable)
            primary = &net->peers[i];

    size_t cap = net->nadvertisements + net->nvips + net->nfederated;
    for (size_t i = 0; i < net->npeers; i++)
        cap += net->peers[i].nlan;
    routed_ref *refs = calloc(cap + 1, sizeof(*refs));
    if (!refs)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < net->npeers; i++)
        for (size_t j = 0; j < net->peers[i].nlan; j++)
            refs[n++] = (routed_ref){net->peers[i].lan_subnets[j], &net->peers[i], "peers",
                                     net->peers[i].doc_index};
    for (size_t i = 0; i < net->nadvertisements; i++) {
        const nn_subnet_adv *a = &net->advertisements[i];
        refs[n++] = (routed_ref){a->prefix, &net->peers[a->peer - net->peers],
                                 "subnet_advertisements", a->doc_index};
    }
    for (size_t i = 0; i < net->nvips; i++) {
        const nn_vip *v = &net->vips[i];
        if (!v->enabled)
            continue;
        /* WireGuard routes one prefix to one peer: the active holder (for
         * anycast, the first healthy one) carries it in AllowedIPs; every
         * anycast holder still binds and announces it. */
        const nn_member *h = v->holders[v->active];
        refs[n++] =
            (routed_ref){v->address, &net->peers[h - net->peers], "virtual_ips", v->doc_index};
        for (size_t m = 0; m < net->npeers + net->ndevices; m++) {
            const nn_member *mm = m < net->npeers ? &net->peers[m] : &net->devices[m - net->npeers];
            if (nn_prefix_cmp(&mm->addr6, &v->address) == 0 ||
                (mm->addr4.family && nn_prefix_cmp(&mm->addr4, &v->address) == 0)) {
                char path[128];
                snprintf(path, sizeof(path),
                         "workspaces[%zu].networks[%zu].virtual_ips[%zu].address", ws->doc_index,
                         net->doc_index, v->doc_index);
                nn_error_set(err, path, "is the address of \"%s\"", mm->name);
                free(refs);
                return -EINVAL;
            }
        }
    }
    for (size_t i = 0; primary && i < net->nfederated; i++) {
        if (nn_prefix_overlaps(&net->federated[i], &net->prefix6)) {
            char path[96];
            snprintf(path, sizeof(path), "workspaces[%zu].federation_peers", ws->doc_index);
            nn_error_set(err, path, "a remote prefix overlaps the /64 of network \"%s\"",
                         net->name);
            free(refs);
            return -EINVAL;
        }
        refs[n++] = (routed_ref){net->federated[i], primary, "federation_peers", 0};
    }
    qsort(refs, n, sizeof(*refs), cmp_routed);
    for (size_t i = 1; i < n; i++)
        if (nn_prefix_cmp(&refs[i - 1].prefix, &refs[i].prefix) == 0) {
            const routed_ref *bad = strcmp(refs[i].what, "peers") == 0 ? &refs[i - 1] : &refs[i];
            const routed_ref *other = bad == &refs[i] ? &refs[i - 1] : &refs[i];
            char path[128], buf[NN_PREFIX_STRLEN];
            if (strcmp(bad->what, "federation_peers") == 0)
                snprintf(path, sizeof(path), "workspaces[%zu].federation_peers", ws->doc_index);
            else
                snprintf(path, sizeof(path), "workspaces[%zu].networks[%zu].%s[%zu]", ws->doc_index,
                         net->doc_index, bad->what, bad->index);
            nn_error_set(err, path, "%s is already routed to \"%s\" (%s)",
                         nn_prefix_format(&bad->prefix, true, buf), other->owner->name,
                         other->what);
            free(refs);
            return -EINVAL;
        }
    /* Hand each member its slice: refs are sorted by prefix, so each
     * member's list comes out sorted too. */
    for (size_t i = 0; i < net->npeers; i++) {
        free(net->peers[i].routed);
        net->peers[i].routed = NULL;
        net->peers[i].nrouted = 0;
    }
    size_t *count = calloc(net->npeers + 1, sizeof(size_t));
    if (!count) {
        free(refs);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        count[refs[i].owner - net->peers]++;
    for (size_t i = 0; i < net->npeers; i++)
        if (count[i] && !(net->peers[i].routed = malloc(count[i] * sizeof(nn_prefix)))) {
            free(count);
            free(refs);
            return -ENOMEM;
        }
    for (size_t i = 0; i < n; i++) {
        nn_member *m = refs[i].owner;
        m->routed[m->nrouted++] = refs[i].prefix;
    }
    free(count);
    free(refs);
    return 0;
}

int nn_alloc_derive(nn_doc *doc, nn_error *err)
{
    int r;
    for (size_t w = 0; w < doc->nworkspaces; w++) {
        nn_workspace *ws = &doc->workspaces[w];
        ws->bgp_as = ws->bgp_as_pin ? ws->bgp_as_pin : nn_alloc_as_number(ws->name);
        for (size_t n = 0; n < ws->nnetworks; n++) {
            if ((r = derive_routed(ws, &ws->networks[n], err)) ||
                (r = assign_router_ids(&ws->networks[n], err)))
                return r;
        }
        if ((r = assign_vrfs(ws, err)) || (r = assign_bridges(ws, err)))
            return r;
    }
    return 0;
}
