#include "model/hosts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One peer of a host: the host's membership in a network. */
typedef struct membership {
    const nn_network *net;
    const nn_member *peer;
} membership;

/* Every host's memberships, grouped by host (index into ws->hosts), in
 * network order. */
typedef struct host_index {
    membership *all;
    size_t *first; /* [host] into all; first[nhosts] = total */
} host_index;

typedef struct checker {
    nn_workspace *ws;
    nn_error *err;
    host_index hx;
} checker;

static size_t host_at(const nn_workspace *ws, const nn_member *m)
{
    return (size_t)(m->host_ref - ws->hosts);
}

static const char *peer_path(const checker *c, const nn_network *net, const nn_member *m,
                             const char *field, char out[NN_ERROR_PATH_MAX])
{
    snprintf(out, NN_ERROR_PATH_MAX, "workspaces[%zu].networks[%zu].%s[%zu]%s%s", c->ws->doc_index,
             net->doc_index, m->is_device ? "devices" : "peers", m->doc_index, field ? "." : "",
             field ? field : "");
    return out;
}

/* Where host h's key comes from, for messages: its hosts entry or a peer. */
static void key_source(const checker *c, const nn_host *h, char *out, size_t len)
{
    if (h->key_declared) {
        snprintf(out, len, "its hosts entry");
        return;
    }
    size_t hi = (size_t)(h - c->ws->hosts);
    for (size_t i = c->hx.first[hi]; i < c->hx.first[hi + 1]; i++)
        if (c->hx.all[i].peer->key_given) {
            snprintf(out, len, "peer \"%s\" of network \"%s\"", c->hx.all[i].peer->name,
                     c->hx.all[i].net->name);
            return;
        }
    snprintf(out, len, "nothing");
}

static int build_index(checker *c)
{
    nn_workspace *ws = c->ws;
    size_t total = 0;
    c->hx.first = calloc(ws->nhosts + 1, sizeof(size_t));
    if (!c->hx.first)
        return -ENOMEM;
    for (size_t n = 0; n < ws->nnetworks; n++)
        for (size_t i = 0; i < ws->networks[n].npeers; i++) {
            c->hx.first[host_at(ws, &ws->networks[n].peers[i]) + 1]++;
            total++;
        }
    for (size_t h = 0; h < ws->nhosts; h++)
        c->hx.first[h + 1] += c->hx.first[h];
    c->hx.all = malloc((total ? total : 1) * sizeof(membership));
    size_t *fill = malloc((ws->nhosts ? ws->nhosts : 1) * sizeof(size_t));
    if (!c->hx.all || !fill) {
        free(fill);
        return -ENOMEM;
    }
    memcpy(fill, c->hx.first, ws->nhosts * sizeof(size_t));
    for (size_t n = 0; n < ws->nnetworks; n++)
        for (size_t i = 0; i < ws->networks[n].npeers; i++) {
            const nn_member *m = &ws->networks[n].peers[i];
            c->hx.all[fill[host_at(ws, m)]++] = (membership){&ws->networks[n], m};
        }
    free(fill);
    return 0;
}

/* --- one key, one peer per network ------------------------------------------ */

static int check_keys(checker *c)
{
    nn_workspace *ws = c->ws;
    char path[NN_ERROR_PATH_MAX], from[160];
    for (size_t h = 0; h < ws->nhosts; h++) {
        nn_host *host = &ws->hosts[h];
        for (size_t i = c->hx.first[h]; i < c->hx.first[h + 1]; i++) {
            const membership *ms = &c->hx.all[i];
            if (i > c->hx.first[h] && ms->net == c->hx.all[i - 1].net) {
                nn_error_set(c->err, peer_path(c, ms->net, ms->peer, "host", path),
                             "host \"%s\" already runs peer \"%s\" in this network: a host is "
                             "one node, in a network once",
                             host->name, c->hx.all[i - 1].peer->name);
                return -EINVAL;
            }
            if (!ms->peer->key_given)
                continue;
            if (!host->has_key) {
                host->public_key = ms->peer->public_key;
                memcpy(host->public_key_b64, ms->peer->public_key_b64,
                       sizeof(host->public_key_b64));
                host->has_key = true;
            } else if (memcmp(host->public_key.bytes, ms->peer->public_key.bytes, NN_KEY_LEN)) {
                key_source(c, host, from, sizeof(from));
                nn_error_set(c->err, peer_path(c, ms->net, ms->peer, "public_key", path),
                             "host \"%s\" has one key, and %s gives it another; leave "
                             "public_key out to take the host's",
                             host->name, from);
                return -EINVAL;
            }
        }
        for (size_t i = c->hx.first[h]; i < c->hx.first[h + 1]; i++) {
            nn_member *m = (nn_member *)c->hx.all[i].peer;
            if (m->key_given)
                continue;
            if (!host->has_key) {
                nn_error_set(c->err, peer_path(c, c->hx.all[i].net, m, "public_key", path),
                             "is required: neither the peer nor its host \"%s\" has one",
                             host->name);
                return -EINVAL;
            }
            m->public_key = host->public_key;
            memcpy(m->public_key_b64, host->public_key_b64, sizeof(m->public_key_b64));
        }
    }
    return 0;
}

static int cmp_host_key(const void *a, const void *b)
{
    const nn_host *x = *(const nn_host *const *)a, *y = *(const nn_host *const *)b;
    int k = memcmp(x->public_key.bytes, y->public_key.bytes, NN_KEY_LEN);
    return k ? k : strcmp(x->name, y->name);
}

static const nn_host *host_with_key(nn_host **keyed, size_t n, const nn_key *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int k = memcmp(keyed[mid]->public_key.bytes, key->bytes, NN_KEY_LEN);
        if (k == 0)
            return keyed[mid];
        if (k < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Where host h's key is written, for an error about it. */
static const char *key_path(const checker *c, const nn_host *h, char out[NN_ERROR_PATH_MAX])
{
    size_t hi = (size_t)(h - c->ws->hosts);
    if (h->key_declared) {
        snprintf(out, NN_ERROR_PATH_MAX, "workspaces[%zu].hosts[%zu].public_key", c->ws->doc_index,
                 h->doc_index);
        return out;
    }
    for (size_t i = c->hx.first[hi]; i < c->hx.first[hi + 1]; i++)
        if (c->hx.all[i].peer->key_given)
            return peer_path(c, c->hx.all[i].net, c->hx.all[i].peer, "public_key", out);
    snprintf(out, NN_ERROR_PATH_MAX, "workspaces[%zu]", c->ws->doc_index);
    return out;
}

/* One key is one host; no device of the workspace uses a host's key. */
static int check_key_owners(checker *c)
{
    nn_workspace *ws = c->ws;
    nn_host **keyed = malloc((ws->nhosts ? ws->nhosts : 1) * sizeof(*keyed));
    if (!keyed)
        return -ENOMEM;
    size_t n = 0;
    for (size_t h = 0; h < ws->nhosts; h++)
        if (ws->hosts[h].has_key)
            keyed[n++] = &ws->hosts[h];
    qsort(keyed, n, sizeof(*keyed), cmp_host_key);
    char path[NN_ERROR_PATH_MAX];
    int r = 0;
    for (size_t i = 1; i < n && !r; i++)
        if (!memcmp(keyed[i - 1]->public_key.bytes, keyed[i]->public_key.bytes, NN_KEY_LEN)) {
            nn_error_set(c->err, key_path(c, keyed[i], path),
                         "host \"%s\" has the same public key: one key is one node (name the "
                         "same host in both places instead)",
                         keyed[i - 1]->name);
            r = -EINVAL;
        }
    for (size_t w = 0; w < ws->nnetworks && !r; w++) {
        const nn_network *net = &ws->networks[w];
        for (size_t d = 0; d < net->ndevices && !r; d++) {
            const nn_host *owner = host_with_key(keyed, n, &net->devices[d].public_key);
            if (owner) {
                nn_error_set(c->err, peer_path(c, net, &net->devices[d], "public_key", path),
                             "is the key of host \"%s\": a device has a key of its own",
                             owner->name);
                r = -EINVAL;
            }
        }
    }
    free(keyed);
    return r;
}

/* --- the shared interface ------------------------------------------------------ */

static uint16_t port_of(const membership *ms)
{
    return ms->peer->listen_port ? ms->peer->listen_port : ms->net->listen_port;
}

static bool same_endpoint(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Port, MTU and endpoint: one per interface, so the shared networks agree. */
static int check_agreement(checker *c, nn_host *h, const membership *ms, size_t n)
{
    const membership *first = NULL;
    char path[NN_ERROR_PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        if (!nn_host_shares(h, ms[i].net))
            continue;
        if (!first) {
            first = &ms[i];
            h->shared_port = port_of(first);
            h->shared_mtu = first->net->mtu;
            continue;
        }
        const char *net1 = first->net->name, *net2 = ms[i].net->name;
        if (port_of(&ms[i]) != h->shared_port) {
            nn_error_set(c->err, peer_path(c, ms[i].net, ms[i].peer, "listen_port", path),
                         "host \"%s\" has one interface for networks \"%s\" and \"%s\", so one "
                         "listen port: %u there, %u here (or set interface_per_network on the "
                         "host)",
                         h->name, net1, net2, h->shared_port, port_of(&ms[i]));
            return -EINVAL;
        }
        if (ms[i].net->mtu != h->shared_mtu) {
            snprintf(path, sizeof(path), "workspaces[%zu].networks[%zu].mtu", c->ws->doc_index,
                     ms[i].net->doc_index);
            nn_error_set(c->err, path,
                         "host \"%s\" has one interface for networks \"%s\" and \"%s\", so one "
                         "MTU: %u there, %u here (or set interface_per_network on the host)",
                         h->name, net1, net2, h->shared_mtu, ms[i].net->mtu);
            return -EINVAL;
        }
        if (!same_endpoint(first->peer->endpoint, ms[i].peer->endpoint)) {
            nn_error_set(c->err, peer_path(c, ms[i].net, ms[i].peer, "endpoint", path),
                         "host \"%s\" has one interface for networks \"%s\" and \"%s\", so one "
                         "endpoint: %s there, %s here",
                         h->name, net1, net2,
                         first->peer->endpoint ? first->peer->endpoint : "none",
                         ms[i].peer->endpoint ? ms[i].peer->endpoint : "none");
            return -EINVAL;
        }
    }
    return 0;
}

/* A prefix some network puts on the shared interface, and which host it
 * leads to (NULL: the network as a whole). */
typedef struct claim {
    nn_prefix prefix;
    const nn_network *net;
    const nn_host *owner;
} claim;

static int cmp_claim(const void *a, const void *b)
{
    return nn_prefix_cmp(&((const claim *)a)->prefix, &((const claim *)b)->prefix);
}

static const nn_host *primary_hub_host(const nn_network *net)
{
    for (size_t i = 0; i < net->npeers; i++)
        if (net->peers[i].publicly_reachable)
            return net->peers[i].host_ref;
    return NULL;
}

static size_t claims_of(const nn_network *net, claim *out)
{
    size_t k = 0; /* (the /64s are allocated later, one per network) */
    if (net->has_ipv4) {
        if (out)
            out[k] = (claim){net->ipv4_cidr, net, NULL};
        k++;
    }
    for (size_t i = 0; i < net->npeers; i++)
        for (size_t j = 0; j < net->peers[i].nlan; j++, k++)
            if (out)
                out[k] = (claim){net->peers[i].lan_subnets[j], net, net->peers[i].host_ref};
    for (size_t i = 0; i < net->nadvertisements; i++, k++)
        if (out)
            out[k] =
                (claim){net->advertisements[i].prefix, net, net->advertisements[i].peer->host_ref};
    for (size_t i = 0; i < net->nvips; i++, k++)
        if (out)
            out[k] = (claim){net->vips[i].address, net, NULL};
    const nn_workspace *ws = net->workspace;
    const nn_host *primary = primary_hub_host(net);
    for (size_t f = 0; f < ws->nfederation; f++)
        if (nn_federation_applies(&ws->federation[f], net))
            for (size_t j = 0; j < ws->federation[f].nprefixes; j++, k++)
                if (out)
                    out[k] = (claim){ws->federation[f].prefixes[j], net, primary};
    return k;
}

static char *claim_text(const claim *cl, char *buf)
{
    return nn_prefix_format(&cl->prefix, true, buf);
}

/* No two networks on the shared interface claim overlapping prefixes,
 * unless one host serves both. Sorted, nested prefixes follow the one that
 * holds them, so a stack of the open ones finds every overlap. */
static int check_overlaps(checker *c, const nn_host *h, const membership *ms, size_t n)
{
    size_t total = 0, shared = 0;
    for (size_t i = 0; i < n; i++)
        if (nn_host_shares(h, ms[i].net)) {
            total += claims_of(ms[i].net, NULL);
            shared++;
        }
    if (shared < 2)
        return 0;
    claim *cl = malloc(total * sizeof(*cl));
    const claim **open = malloc(total * sizeof(*open));
    if (!cl || !open) {
        free(cl);
        free(open);
        return -ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (nn_host_shares(h, ms[i].net))
            k += claims_of(ms[i].net, cl + k);
    qsort(cl, k, sizeof(*cl), cmp_claim);
    size_t depth = 0;
    int r = 0;
    for (size_t i = 0; i < k && !r; i++) {
        while (depth && !nn_prefix_contains(&open[depth - 1]->prefix, &cl[i].prefix))
            depth--;
        for (size_t d = 0; d < depth && !r; d++) {
            const claim *o = open[d];
            if (o->net == cl[i].net || (o->owner && o->owner == cl[i].owner))
                continue;
            const claim *later = o->net->doc_index > cl[i].net->doc_index ? o : &cl[i];
            const claim *other = later == o ? &cl[i] : o;
            char path[NN_ERROR_PATH_MAX], a[NN_PREFIX_STRLEN], b[NN_PREFIX_STRLEN];
            snprintf(path, sizeof(path), "workspaces[%zu].networks[%zu]", c->ws->doc_index,
                     later->net->doc_index);
            nn_error_set(c->err, path,
                         "host \"%s\" has one interface (one routing table) for networks \"%s\" "
                         "and \"%s\", but %s of \"%s\" overlaps %s of \"%s\": set "
                         "interface_per_network on the host, or keep the networks apart",
                         h->name, other->net->name, later->net->name, claim_text(later, a),
                         later->net->name, claim_text(other, b), other->net->name);
            r = -EINVAL;
        }
        open[depth++] = &cl[i];
    }
    free(cl);
    free(open);
    return r;
}

/* A host h sees over its shared interface in two networks is one WireGuard
 * peer there: it must run both networks on one interface of its own too
 * (one key cannot be two peers of one interface; its agreement check then
 * gives it one endpoint). seen[] is scratch: per host, the first network
 * h met it in. */
static int check_remote_peers(checker *c, const nn_host *h, const membership *ms, size_t n,
                              const nn_network **seen)
{
    const nn_workspace *ws = c->ws;
    size_t shared = 0;
    for (size_t i = 0; i < n; i++)
        shared += nn_host_shares(h, ms[i].net);
    if (shared < 2)
        return 0;
    memset(seen, 0, ws->nhosts * sizeof(*seen));
    char path[NN_ERROR_PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        const nn_network *net = ms[i].net;
        if (!nn_host_shares(h, net))
            continue;
        bool sees_all = net->topology == NN_TOPO_FULL_MESH || ms[i].peer->publicly_reachable;
        for (size_t p = 0; p < net->npeers; p++) {
            const nn_member *o = &net->peers[p];
            if (o->host_ref == h || !(sees_all || o->publicly_reachable))
                continue;
            const nn_network **first = &seen[host_at(ws, o)];
            if (!*first) {
                *first = net;
            } else if (!nn_host_shares(o->host_ref, *first) || !nn_host_shares(o->host_ref, net)) {
                nn_error_set(c->err, peer_path(c, net, o, "host", path),
                             "host \"%s\" shares one interface for networks \"%s\" and \"%s\", "
                             "where host \"%s\" runs one interface each: its one key cannot be "
                             "two peers of one interface; set interface_per_network on \"%s\" "
                             "too, or keep the two apart",
                             h->name, (*first)->name, net->name, o->host, h->name);
                return -EINVAL;
            }
        }
    }
    return 0;
}

/* Every interface of a host listens on a port of its own. */
static int check_ports(checker *c, const nn_host *h, const membership *ms, size_t n)
{
    char path[NN_ERROR_PATH_MAX];
    const membership *shared = NULL;
    for (size_t i = 0; i < n; i++) {
        bool mine = nn_host_shares(h, ms[i].net);
        if (mine && shared)
            continue; /* the shared interface once */
        if (mine)
            shared = &ms[i];
        for (size_t j = 0; j < i; j++) {
            bool theirs = nn_host_shares(h, ms[j].net);
            if ((mine && theirs) || port_of(&ms[j]) != port_of(&ms[i]))
                continue;
            nn_error_set(c->err, peer_path(c, ms[i].net, ms[i].peer, "listen_port", path),
                         "host \"%s\" already listens on %u for network \"%s\" (%s interface); "
                         "give this one another listen_port",
                         h->name, port_of(&ms[i]), ms[j].net->name,
                         theirs ? "the shared" : "its own");
            return -EINVAL;
        }
    }
    return 0;
}

int nn_hosts_check(nn_workspace *ws, nn_error *err)
{
    checker c = {.ws = ws, .err = err};
    const nn_network **seen = NULL;
    int r = build_index(&c);
    if (r == 0 && !(seen = calloc(ws->nhosts ? ws->nhosts : 1, sizeof(*seen))))
        r = -ENOMEM;
    if (r == 0)
        r = check_keys(&c);
    if (r == 0)
        r = check_key_owners(&c);
    for (size_t h = 0; r == 0 && h < ws->nhosts; h++) {
        const membership *ms = c.hx.all + c.hx.first[h];
        size_t n = c.hx.first[h + 1] - c.hx.first[h];
        nn_host *host = &ws->hosts[h];
        if ((r = check_agreement(&c, host, ms, n)) || (r = check_ports(&c, host, ms, n)) ||
            (r = check_overlaps(&c, host, ms, n)))
            break;
        r = check_remote_peers(&c, host, ms, n, seen);
    }
    free(seen);
    free(c.hx.all);
    free(c.hx.first);
    return r;
}
