#include "model/model.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void member_free(nn_member *m)
{
    free(m->lan_subnets);
    free(m->tags);
}

static void network_free(nn_network *n)
{
    for (size_t i = 0; i < n->npeers; i++)
        member_free(&n->peers[i]);
    for (size_t i = 0; i < n->ndevices; i++)
        member_free(&n->devices[i]);
    for (size_t i = 0; i < n->nrules; i++)
        free(n->rules[i].ports);
    free(n->peers);
    free(n->devices);
    free(n->rules);
    free(n->mappings);
}

void nn_doc_free(nn_doc *doc)
{
    if (!doc)
        return;
    for (size_t w = 0; w < doc->nworkspaces; w++) {
        nn_workspace *ws = &doc->workspaces[w];
        for (size_t n = 0; n < ws->nnetworks; n++)
            network_free(&ws->networks[n]);
        free(ws->networks);
    }
    free(doc->workspaces);
    if (doc->json_root)
        json_decref((json_t *)doc->json_root);
    free(doc);
}

/* Binary search over an array of structs whose first field is the name. */
static const void *find_by_name(const void *base, size_t n, size_t size, const char *name)
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
    return find_by_name(doc->workspaces, doc->nworkspaces, sizeof(nn_workspace), name);
}

const nn_network *nn_workspace_find_network(const nn_workspace *ws, const char *name)
{
    return find_by_name(ws->networks, ws->nnetworks, sizeof(nn_network), name);
}

const nn_member *nn_network_find_peer(const nn_network *net, const char *name)
{
    return find_by_name(net->peers, net->npeers, sizeof(nn_member), name);
}

const nn_member *nn_network_find_device(const nn_network *net, const char *name)
{
    return find_by_name(net->devices, net->ndevices, sizeof(nn_member), name);
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
