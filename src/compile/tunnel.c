/* Full tunnel (seed 002: "force all traffic through selected egress").
 *
 * A user device whose routing selection resolves to full_tunnel sends
 * everything to its exit gateway: its wg-quick config gives that hub
 * 0.0.0.0/0 and ::/0. Devices tunnel to hubs only and multi-hop chains are
 * not part of the product yet, so the exit must be a hub; otherwise the
 * device stays vpn_only and its config says why. The exit hub admits the
 * devices' traffic out of the overlay (after the operator's rules, so an
 * explicit drop still wins) and masquerades it. Peers keep their own
 * default route: a server's uplink stays its operator's.
 *
 * The selection is resolved against the scheduler's assignment computed
 * from intent alone (no hosts down), so compiling stays a pure function of
 * the document. */
#include <errno.h>
#include <stdlib.h>

#include "alloc/gateway.h"
#include "compile/plan.h"

static bool layer_full(const nn_routing_layer *l)
{
    return l->traffic_mode == NN_TRAFFIC_FULL_TUNNEL;
}

/* Could any device of net resolve to full_tunnel? Only then is the
 * workspace's assignment computed. */
static bool anyone_full(const nn_network *net)
{
    if (layer_full(&net->routing))
        return true;
    for (size_t i = 0; i < net->nuser_routing; i++)
        if (layer_full(&net->user_routing[i].routing))
            return true;
    for (size_t i = 0; i < net->ndevices; i++)
        if (layer_full(&net->devices[i].routing))
            return true;
    return false;
}

int nn_plan_tunnels(nn_net_plan *plan)
{
    const nn_network *net = plan->net;
    if (!net->ndevices || !anyone_full(net))
        return 0;
    const nn_workspace *ws = net->workspace;
    nn_gw_assignment *assign = NULL;
    plan->device_tunnel = calloc(net->ndevices, sizeof(*plan->device_tunnel));
    plan->device_exit = calloc(net->ndevices, sizeof(*plan->device_exit));
    int r = plan->device_tunnel && plan->device_exit ? nn_gateway_assign(ws, NULL, 0, &assign)
                                                     : -ENOMEM;
    if (r)
        return r;
    const nn_gw_assignment *a = &assign[net - ws->networks];
    for (size_t i = 0; i < net->ndevices; i++) {
        const nn_member *d = &net->devices[i];
        nn_selection s;
        nn_routing_resolve(a, d->owner ? nn_network_find_user_routing(net, d->owner) : NULL, d, &s);
        if (s.traffic_mode != NN_TRAFFIC_FULL_TUNNEL)
            continue;
        if (!s.egress) {
            plan->device_tunnel[i] = NN_TUNNEL_NO_EGRESS;
        } else if (!s.egress->publicly_reachable) {
            plan->device_tunnel[i] = NN_TUNNEL_NOT_A_HUB;
        } else {
            plan->device_tunnel[i] = NN_TUNNEL_FULL;
            plan->device_exit[i] = s.egress;
        }
    }
    free(assign);
    return 0;
}

nn_tunnel nn_plan_device_tunnel(const nn_net_plan *plan, const nn_member *dev,
                                const nn_member **exit)
{
    *exit = NULL;
    if (!plan->device_tunnel)
        return NN_TUNNEL_VPN_ONLY;
    size_t i = (size_t)(dev - plan->net->devices);
    *exit = plan->device_exit[i];
    return plan->device_tunnel[i];
}

/* "{ a, b }" of the addresses of family fam of the devices exiting
 * through hub; false when there are none. */
bool nn_plan_exit_sources(const nn_net_plan *plan, const nn_member *hub, int fam, nn_buf *out)
{
    if (!plan->device_exit)
        return false;
    char buf[NN_PREFIX_STRLEN];
    size_t k = 0;
    for (size_t i = 0; i < plan->net->ndevices; i++) {
        const nn_member *d = &plan->net->devices[i];
        const nn_prefix *a = fam == NN_AF_INET4 ? &d->addr4 : &d->addr6;
        if (plan->device_exit[i] != hub || a->family != fam)
            continue;
        nn_buf_puts(out, k++ ? ", " : "{ ");
        nn_buf_puts(out, nn_prefix_format(a, false, buf));
    }
    if (k)
        nn_buf_puts(out, " }");
    return k > 0;
}

void nn_plan_exit_lines(const nn_net_plan *plan, const nn_member *hub, const char *ifname,
                        bool filter, nn_buf *out)
{
    if (!plan->device_exit || !hub->publicly_reachable)
        return;
    if (!ifname)
        ifname = plan->net->ifname;
    char buf[NN_PREFIX_STRLEN];
    nn_buf src = NN_BUF_INIT;
    for (int fam = NN_AF_INET4; fam <= NN_AF_INET6; fam += 2) {
        nn_buf_reset(&src);
        if (!nn_plan_exit_sources(plan, hub, fam, &src))
            continue;
        const char *kw = fam == NN_AF_INET4 ? "ip" : "ip6";
        nn_buf_printf(out, "    oifname != \"%s\" %s saddr %s", ifname, kw, src.data);
        /* What the overlay routes stays under the operator's rules. */
        size_t k = 0;
        for (size_t i = 0; i < plan->nroutes; i++) {
            const nn_prefix *p = &plan->routes[i].prefix;
            if (p->family != fam)
                continue;
            if (k++)
                nn_buf_puts(out, ", ");
            else
                nn_buf_printf(out, " %s daddr != { ", kw);
            nn_buf_puts(out, nn_prefix_format(p, true, buf));
        }
        /* The filter chain also serves the input hook: the hub's own
         * addresses are not "out". */
        nn_buf_printf(out, "%s %s comment \"full-tunnel egress\"\n", k ? " }" : "",
                      filter ? "fib daddr type != local accept" : "masquerade");
    }
    nn_buf_free(&src);
}
