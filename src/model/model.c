#include "model/model.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void nn_member_clear(nn_member *m)
{
    free(m->lan_subnets);
    free(m->tags);
    free(m->routed);
    free(m->allowed_users);
}

static void policies_free(nn_route_policy *rp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < rp[i].nstatements; j++) {
            free(rp[i].statements[j].prefixes);
            free(rp[i].statements[j].communities);
            free(rp[i].statements[j].set_communities);
        }
        free(rp[i].statements);
        free(rp[i].peer_names);
    }
    free(rp);
}

static void network_free(nn_network *n)
{
    for (size_t i = 0; i < n->npeers; i++)
        nn_member_clear(&n->peers[i]);
    for (size_t i = 0; i < n->ndevices; i++)
        nn_member_clear(&n->devices[i]);
    for (size_t i = 0; i < n->nrules; i++)
        free(n->rules[i].ports);
    free(n->peers);
    free(n->devices);
    free(n->rules);
    free(n->mappings);
    for (size_t i = 0; i < n->nvips; i++)
        free(n->vips[i].holders);
    free(n->vips);
    free(n->advertisements);
    for (size_t i = 0; i < n->nleaks; i++)
        free(n->leaks[i].prefixes);
    free(n->leaks);
    policies_free(n->policies, n->npolicies);
    free(n->user_routing);
    free(n->federated);
}

static void workspace_free(nn_workspace *ws)
{
    for (size_t n = 0; n < ws->nnetworks; n++)
        network_free(&ws->networks[n]);
    free(ws->networks);
    policies_free(ws->policies, ws->npolicies);
    for (size_t i = 0; i < ws->nfederation; i++) {
        free(ws->federation[i].prefixes);
        free(ws->federation[i].networks);
    }
    free(ws->federation);
    for (size_t i = 0; i < ws->novn; i++) {
        nn_ovn_deployment *d = &ws->ovn[i];
        for (size_t j = 0; j < d->nswitches; j++) {
            for (size_t k = 0; k < d->switches[j].nports; k++)
                free(d->switches[j].ports[k].addresses);
            free(d->switches[j].ports);
            free(d->switches[j].acls);
        }
        free(d->switches);
    }
    free(ws->ovn);
    free(ws->ipfix);
    for (size_t i = 0; i < ws->nhosts; i++) {
        free(ws->hosts[i].bridges);
        free(ws->hosts[i].vrfs);
    }
    free(ws->hosts);
}

void nn_doc_free(nn_doc *doc)
{
    if (!doc)
        return;
    for (size_t w = 0; w < doc->nworkspaces; w++)
        workspace_free(&doc->workspaces[w]);
    free(doc->workspaces);
    if (doc->json_root)
        json_decref((json_t *)doc->json_root);
    free(doc);
}

const void *nn_find_by_name(const void *base, size_t n, size_t size, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *mid_name = *(const char *const *)((const char *)base + mid * size);
        int c = strcmp(name, mid_name);
        if (c == 0)
            return (const char *)base + mid * size;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const nn_workspace *nn_doc_find_workspace(const nn_doc *doc, const char *name)
{
    return nn_find_by_name(doc->workspaces, doc->nworkspaces, sizeof(nn_workspace), name);
}

const nn_network *nn_workspace_find_network(const nn_workspace *ws, const char *name)
{
    return nn_find_by_name(ws->networks, ws->nnetworks, sizeof(nn_network), name);
}

const nn_member *nn_network_find_peer(const nn_network *net, const char *name)
{
    return nn_find_by_name(net->peers, net->npeers, sizeof(nn_member), name);
}

const nn_member *nn_network_find_device(const nn_network *net, const char *name)
{
    return nn_find_by_name(net->devices, net->ndevices, sizeof(nn_member), name);
}

const nn_member *nn_network_find_member(const nn_network *net, const char *name)
{
    const nn_member *m = nn_network_find_peer(net, name);
    return m ? m : nn_network_find_device(net, name);
}

bool nn_member_has_tag(const nn_member *m, const char *tag)
{
    size_t lo = 0, hi = m->ntags;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(tag, m->tags[mid]);
        if (c == 0)
            return true;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return false;
}

const nn_host *nn_workspace_find_host(const nn_workspace *ws, const char *name)
{
    return nn_find_by_name(ws->hosts, ws->nhosts, sizeof(nn_host), name);
}

const nn_route_policy *nn_workspace_find_policy(const nn_workspace *ws, const char *name)
{
    return nn_find_by_name(ws->policies, ws->npolicies, sizeof(nn_route_policy), name);
}

const nn_user_routing *nn_network_find_user_routing(const nn_network *net, const char *user)
{
    return user ? nn_find_by_name(net->user_routing, net->nuser_routing, sizeof(nn_user_routing),
                                  user)
                : NULL;
}

bool nn_gateway_admits(const nn_member *p, const char *user)
{
    if (!p->users_restricted)
        return true;
    for (size_t i = 0; user && i < p->nallowed_users; i++)
        if (strcmp(p->allowed_users[i], user) == 0)
            return true;
    return false;
}

const nn_vrf *nn_host_find_vrf(const nn_host *h, const nn_network *net)
{
    for (size_t i = 0; h && i < h->nvrfs; i++)
        if (h->vrfs[i].network == net)
            return &h->vrfs[i];
    return NULL;
}

bool nn_host_shares(const nn_host *h, const nn_network *net)
{
    return h && !h->interface_per_network && net->routing_mode == NN_ROUTING_STATIC;
}

const char *nn_host_ifname(const nn_host *h, const nn_network *net)
{
    return nn_host_shares(h, net) ? h->ifname : net->ifname;
}

const nn_member *nn_host_peer(const nn_host *h, const nn_network *net)
{
    for (size_t i = 0; i < net->npeers; i++)
        if (net->peers[i].host_ref == h)
            return &net->peers[i];
    return NULL;
}

int nn_vip_failover(const nn_vip *v, const char *const *down, size_t ndown)
{
    for (size_t step = 0; step < v->nholders; step++) {
        size_t i = (v->active + step) % v->nholders;
        bool healthy = true;
        for (size_t d = 0; d < ndown && healthy; d++)
            healthy = strcmp(v->holders[i]->name, down[d]) != 0;
        if (healthy)
            return (int)i;
    }
    return -1;
}

bool nn_vip_held_by(const nn_vip *v, const nn_member *peer)
{
    if (!v->enabled)
        return false;
    if (v->mode == NN_VIP_FAILOVER)
        return v->holders[v->active] == peer;
    for (size_t i = 0; i < v->nholders; i++)
        if (v->holders[i] == peer)
            return true;
    return false;
}

bool nn_federation_applies(const nn_federation_peer *fp, const nn_network *net)
{
    if (fp->status != NN_FED_ACCEPTED)
        return false;
    if (fp->nnetworks == 0)
        return true;
    for (size_t i = 0; i < fp->nnetworks; i++)
        if (strcmp(fp->networks[i], net->name) == 0)
            return true;
    return false;
}
