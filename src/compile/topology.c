#include "compile/plan.h"

#include <string.h>

/* Merges peers and devices (both sorted by name) except skip, as IDENTITY
 * views; hubs see everyone like this. */
static size_t everyone_but(const nn_network *net, const nn_member *skip, bool with_devices,
                           uint16_t peer_keepalive, nn_peer_view *out)
{
    size_t i = 0, j = 0, n = 0;
    size_t nd = with_devices ? net->ndevices : 0;
    while (i < net->npeers || j < nd) {
        const nn_member *m;
        if (j >= nd || (i < net->npeers && strcmp(net->peers[i].name, net->devices[j].name) < 0))
            m = &net->peers[i++];
        else
            m = &net->devices[j++];
        if (m == skip)
            continue;
        out[n++] = (nn_peer_view){m, NN_VIEW_IDENTITY, m->is_device ? 0 : peer_keepalive};
    }
    return n;
}

/* A spoke or a device sees only the hubs: the first carries the network. */
static size_t hubs_only(const nn_net_plan *plan, nn_peer_view *out)
{
    for (size_t h = 0; h < plan->nhubs; h++)
        out[h] = (nn_peer_view){plan->hubs[h], h == 0 ? NN_VIEW_PRIMARY_HUB : NN_VIEW_IDENTITY,
                                NN_KEEPALIVE_SECONDS};
    return plan->nhubs;
}

/* Hub-and-spoke: hubs see every peer and device by identity; spokes see
 * the hubs. No hubs: nobody has peers (the network is isolated). */
static size_t hub_and_spoke_peers_for(const nn_net_plan *plan, const nn_member *viewer,
                                      nn_peer_view *out)
{
    if (!viewer->is_device && viewer->publicly_reachable)
        return everyone_but(plan->net, viewer, true, 0, out);
    return hubs_only(plan, out);
}

/* Full mesh: every peer sees every other peer directly. User devices still
 * attach to hubs only (they are roaming clients); the mesh reaches them
 * through the primary hub. */
static size_t full_mesh_peers_for(const nn_net_plan *plan, const nn_member *viewer,
                                  nn_peer_view *out)
{
    if (viewer->is_device)
        return hubs_only(plan, out);
    bool hub = viewer->publicly_reachable;
    size_t n = everyone_but(plan->net, viewer, hub, NN_KEEPALIVE_SECONDS, out);
    if (!hub && plan->nhubs && plan->net->ndevices)
        for (size_t i = 0; i < n; i++)
            if (out[i].peer == plan->hubs[0])
                out[i].kind = NN_VIEW_MESH_PRIMARY;
    return n;
}

static const nn_topology_strategy strategies[] = {
    [NN_TOPO_HUB_AND_SPOKE] = {"hub_and_spoke", hub_and_spoke_peers_for},
    [NN_TOPO_FULL_MESH] = {"full_mesh", full_mesh_peers_for},
};

const nn_topology_strategy *nn_topology_strategy_for(nn_topology t)
{
    return &strategies[t];
}
