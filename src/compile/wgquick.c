/* wg-quick rendering of a user device's configuration (Limited Mode). */
#include <stdlib.h>

#include "compile/compile.h"
#include "compile/plan.h"

void nn_compile_device_wgquick(nn_net_plan *plan, const nn_member *dev, nn_buf *out)
{
    const nn_network *net = plan->net;
    char buf[NN_PREFIX_STRLEN];
    nn_buf_printf(out,
                  "# Nanami user device \"%s\" in %s/%s (Limited Mode).\n"
                  "# Nanami never holds this device's private key: replace the placeholder\n"
                  "# below with the key whose public half is %s.\n"
                  "# This file is yours to edit; the gateways enforce policy whatever it says.\n"
                  "[Interface]\n"
                  "PrivateKey = <device private key>\n"
                  "Address = ",
                  dev->name, net->workspace->name, net->name, dev->public_key_b64);
    if (dev->addr4.family)
        nn_buf_printf(out, "%s, ", nn_prefix_format(&dev->addr4, true, buf));
    nn_buf_printf(out, "%s\nMTU = %u\n", nn_prefix_format(&dev->addr6, true, buf), net->mtu);

    const nn_member *exit;
    switch (nn_plan_device_tunnel(plan, dev, &exit)) {
    case NN_TUNNEL_VPN_ONLY:
        break;
    case NN_TUNNEL_FULL:
        nn_buf_printf(out, "# full_tunnel: all traffic goes through exit gateway %s\n", exit->name);
        break;
    case NN_TUNNEL_NO_EGRESS:
        nn_buf_puts(out, "# full_tunnel requested, but the network has no exit gateway: "
                         "overlay traffic only\n");
        break;
    case NN_TUNNEL_NOT_A_HUB:
        nn_buf_puts(out, "# full_tunnel requested, but the exit gateway is not a hub this "
                         "device tunnels to (multi-hop is not supported): overlay traffic "
                         "only\n");
        break;
    }
    nn_peer_view *views = calloc(plan->nhubs + 1, sizeof(*views));
    if (!views)
        abort();
    size_t nv = plan->strategy->peers_for(plan, dev, views);
    for (size_t i = 0; i < nv; i++) {
        const nn_member *hub = views[i].peer;
        nn_prefix *ips;
        size_t n = nn_plan_allowed_ips(plan, dev, &views[i], &ips);
        nn_buf_printf(out, "\n[Peer]\n# %s\nPublicKey = %s\n", hub->name, hub->public_key_b64);
        if (hub->endpoint)
            nn_buf_printf(out, "Endpoint = %s\n", hub->endpoint);
        nn_buf_puts(out, "AllowedIPs = ");
        if (hub == exit) /* covers the hub's own prefixes; longer ones win */
            nn_buf_puts(out, "0.0.0.0/0, ::/0");
        else
            for (size_t j = 0; j < n; j++)
                nn_buf_printf(out, "%s%s", j ? ", " : "", nn_prefix_format(&ips[j], true, buf));
        nn_buf_printf(out, "\nPersistentKeepalive = %u\n", views[i].keepalive);
        free(ips);
    }
    free(views);
}
