#include "alloc/gateway.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"

static const unsigned role_of[NN_GW_FN_COUNT] = {NN_GW_INGRESS, NN_GW_EXIT};

const char *nn_gw_function_name(nn_gw_function f)
{
    return f == NN_GW_FN_INGRESS ? "ingress" : "exit";
}

static bool host_down(const char *host, const char *const *down, size_t ndown)
{
    for (size_t i = 0; i < ndown; i++)
        if (strcmp(down[i], host) == 0)
            return true;
    return false;
}

static bool eligible(const nn_member *p, nn_gw_function f, const char *const *down, size_t ndown)
{
    return (p->gw_roles & role_of[f]) && !host_down(p->host, down, ndown);
}

/* The host loads of one function, by host name (a small sorted set). */
typedef struct load_map {
    const char **hosts;
    unsigned *load;
    size_t n;
} load_map;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static unsigned *load_of(load_map *m, const char *host)
{
    const char **hit = bsearch(&host, m->hosts, m->n, sizeof(*m->hosts), cmp_str);
    return hit ? &m->load[hit - m->hosts] : NULL;
}

typedef struct scored {
    const nn_member *peer;
    uint64_t score;
    bool taken;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return strcmp(x->peer->host, y->peer->host);
}

static uint64_t score(const nn_workspace *ws, const nn_network *net, nn_gw_function f,
                      const char *host)
{
    const char *parts[] = {ws->name, net->name, nn_gw_function_name(f), host};
    uint8_t h[NN_HASH_LEN];
    nn_hash_parts("nanami-gateway-v1", parts, 4, 0, h);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | h[i];
    return v;
}

static const nn_member *pin_of(const nn_network *net, nn_gw_function f)
{
    if (net->routing.routing_mode != NN_SEL_MANUAL)
        return NULL;
    return f == NN_GW_FN_INGRESS ? net->routing.ingress : net->routing.egress;
}

static int assign_function(const nn_workspace *ws, nn_gw_function f, const char *const *down,
                           size_t ndown, nn_gw_assignment *out)
{
    unsigned red = ws->gateways.redundancy ? ws->gateways.redundancy : 1;
    if (red > NN_GW_MAX)
        red = NN_GW_MAX;
    size_t ncand = 0, demand = 0;
    for (size_t n = 0; n < ws->nnetworks; n++)
        for (size_t i = 0; i < ws->networks[n].npeers; i++)
            ncand += eligible(&ws->networks[n].peers[i], f, down, ndown);
    load_map m = {calloc(ncand + 1, sizeof(char *)), calloc(ncand + 1, sizeof(unsigned)), 0};
    scored *cand = calloc(ncand + 1, sizeof(*cand));
    if (!m.hosts || !m.load || !cand) {
        free(m.hosts), free(m.load), free(cand);
        return -ENOMEM;
    }
    for (size_t n = 0; n < ws->nnetworks; n++) {
        const nn_network *net = &ws->networks[n];
        size_t here = 0;
        for (size_t i = 0; i < net->npeers; i++)
            if (eligible(&net->peers[i], f, down, ndown)) {
                m.hosts[m.n++] = net->peers[i].host;
                here++;
            }
        if (!pin_of(net, f) && !ws->gateways.manual)
            demand += here < red ? here : red;
    }
    qsort(m.hosts, m.n, sizeof(*m.hosts), cmp_str);
    size_t w = 0;
    for (size_t i = 0; i < m.n; i++)
        if (w == 0 || strcmp(m.hosts[w - 1], m.hosts[i]) != 0)
            m.hosts[w++] = m.hosts[i];
    m.n = w;
    /* Pins first: they load their hosts before anything is balanced. */
    for (size_t n = 0; n < ws->nnetworks; n++) {
        const nn_member *pin = pin_of(&ws->networks[n], f);
        nn_gw_choice *c = &out[n].fn[f];
        if (!pin)
            continue;
        c->pinned = true;
        c->peers[c->n++] = pin;
        unsigned *l = load_of(&m, pin->host);
        if (l)
            (*l)++;
    }
    unsigned cap = m.n ? (unsigned)((demand * 5 + m.n * 4 - 1) / (m.n * 4)) : 0;
    if (cap == 0)
        cap = 1;
    for (size_t n = 0; n < ws->nnetworks && !ws->gateways.manual; n++) {
        const nn_network *net = &ws->networks[n];
        nn_gw_choice *c = &out[n].fn[f];
        if (c->pinned)
            continue;
        size_t k = 0;
        for (size_t i = 0; i < net->npeers; i++)
            if (eligible(&net->peers[i], f, down, ndown))
                cand[k++] = (scored){&net->peers[i], score(ws, net, f, net->peers[i].host), false};
        qsort(cand, k, sizeof(*cand), cmp_scored);
        /* Highest score with room first; then, if every candidate is full,
         * the highest scores regardless. */
        for (int pass = 0; pass < 2; pass++)
            for (size_t i = 0; i < k && c->n < red; i++) {
                unsigned *l = load_of(&m, cand[i].peer->host);
                if (cand[i].taken || (pass == 0 && l && *l >= cap))
                    continue;
                cand[i].taken = true;
                c->peers[c->n++] = cand[i].peer;
                if (l)
                    (*l)++;
            }
    }
    free(m.hosts), free(m.load), free(cand);
    return 0;
}

int nn_gateway_assign(const nn_workspace *ws, const char *const *down, size_t ndown,
                      nn_gw_assignment **out)
{
    *out = calloc(ws->nnetworks + 1, sizeof(**out));
    if (!*out)
        return -ENOMEM;
    for (size_t n = 0; n < ws->nnetworks; n++)
        (*out)[n].net = &ws->networks[n];
    for (int f = 0; f < NN_GW_FN_COUNT; f++) {
        int r = assign_function(ws, (nn_gw_function)f, down, ndown, *out);
        if (r) {
            free(*out);
            *out = NULL;
            return r;
        }
    }
    return 0;
}

void nn_routing_resolve(const nn_gw_assignment *a, const nn_user_routing *user,
                        const nn_member *device, nn_selection *out)
{
    const nn_routing_layer *layers[3] = {device ? &device->routing : NULL,
                                         user ? &user->routing : NULL, &a->net->routing};
    memset(out, 0, sizeof(*out));
    out->routing_mode = NN_SEL_AUTO;
    out->traffic_mode = NN_TRAFFIC_VPN_ONLY;
    out->from_routing_mode = out->from_traffic_mode = NN_FROM_SYSTEM;
    for (int i = 2; i >= 0; i--) { /* lowest priority first; higher ones overwrite */
        const nn_routing_layer *l = layers[i];
        if (!l)
            continue;
        if (l->routing_mode != NN_SEL_UNSET) {
            out->routing_mode = l->routing_mode;
            out->from_routing_mode = (nn_sel_source)i;
        }
        if (l->traffic_mode != NN_TRAFFIC_UNSET) {
            out->traffic_mode = l->traffic_mode;
            out->from_traffic_mode = (nn_sel_source)i;
        }
    }
    const nn_gw_choice *ci = &a->fn[NN_GW_FN_INGRESS], *ce = &a->fn[NN_GW_FN_EXIT];
    out->ingress = ci->n ? ci->peers[0] : NULL;
    out->egress = ce->n ? ce->peers[0] : NULL;
    out->from_ingress = ci->pinned ? NN_FROM_NETWORK : NN_FROM_ASSIGNMENT;
    out->from_egress = ce->pinned ? NN_FROM_NETWORK : NN_FROM_ASSIGNMENT;
    if (out->routing_mode != NN_SEL_MANUAL)
        return;
    for (int i = 2; i >= 0; i--) {
        const nn_routing_layer *l = layers[i];
        if (!l)
            continue;
        if (l->ingress) {
            out->ingress = l->ingress;
            out->from_ingress = (nn_sel_source)i;
        }
        if (l->egress) {
            out->egress = l->egress;
            out->from_egress = (nn_sel_source)i;
        }
    }
}

const char *nn_sel_source_name(nn_sel_source s)
{
    static const char *const names[] = {"device", "user", "network", "assignment", "system"};
    return s <= NN_FROM_SYSTEM ? names[s] : "?";
}

const char *nn_sel_mode_name(nn_sel_mode m)
{
    return m == NN_SEL_MANUAL ? "manual" : "auto";
}

const char *nn_traffic_mode_name(nn_traffic_mode m)
{
    return m == NN_TRAFFIC_FULL_TUNNEL ? "full_tunnel" : "vpn_only";
}
