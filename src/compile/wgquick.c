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
        for (size_t j = 0; j < n; j++)
            nn_buf_printf(out, "%s%s", j ? ", " : "", nn_prefix_format(&ips[j], true, buf));
        nn_buf_printf(out, "\nPersistentKeepalive = %u\n", views[i].keepalive);
        free(ips);
    }
    free(views);
}
