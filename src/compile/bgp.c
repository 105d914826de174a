#include "compile/bgp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_FABRIC "nn-fabric"   /* iBGP peers that are not reflected to */
#define PG_CLIENTS "nn-clients" /* a hub's route-reflector clients */

bool nn_bgp_active(const nn_network *net)
{
    return net->routing_mode == NN_ROUTING_IBGP && net->workspace->bgp_enabled;
}

static int cmp_prefix(const void *a, const void *b)
{
    return nn_prefix_cmp(a, b);
}

const nn_vrf *nn_bgp_vrf(const nn_network *net, const nn_member *peer)
{
    return nn_bgp_active(net) ? nn_host_find_vrf(peer->host_ref, net) : NULL;
}

size_t nn_bgp_announcements(const nn_network *net, const nn_member *peer, nn_prefix **out)
{
    nn_prefix *a = malloc((peer->nrouted + net->nvips + 3) * sizeof(*a));
    if (!a)
        abort();
    size_t n = 0;
    for (size_t i = 0; i < peer->nrouted; i++)
        a[n++] = peer->routed[i];
    for (size_t i = 0; i < net->nvips; i++)
        if (nn_vip_held_by(&net->vips[i], peer))
            a[n++] = net->vips[i].address;
    if (peer->publicly_reachable) {
        a[n++] = net->prefix6;
        if (net->has_ipv4)
            a[n++] = net->ipv4_cidr;
    }
    qsort(a, n, sizeof(*a), cmp_prefix);
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (w == 0 || nn_prefix_cmp(&a[w - 1], &a[i]) != 0)
            a[w++] = a[i];
    *out = a;
    return w;
}

/* Does viewer peer with m, and is m its route-reflector client? */
static bool is_neighbor(const nn_network *net, const nn_member *viewer, const nn_member *m,
                        bool *client)
{
    *client = false;
    if (m == viewer)
        return false;
    if (net->topology == NN_TOPO_FULL_MESH)
        return true;
    if (viewer->publicly_reachable) {
        *client = !m->publicly_reachable;
        return true;
    }
    return m->publicly_reachable;
}

void nn_bgp_firewall_rule(const nn_network *net, const nn_member *peer, nn_buf *out)
{
    char addr[NN_PREFIX_STRLEN];
    size_t n = 0;
    for (size_t i = 0; i < net->npeers; i++) {
        bool client;
        if (!is_neighbor(net, peer, &net->peers[i], &client))
            continue;
        nn_buf_puts(out, n++ ? ", " : "    ip6 saddr { ");
        nn_buf_puts(out, nn_prefix_format(&net->peers[i].addr6, false, addr));
    }
    if (n)
        nn_buf_printf(out, " } ip6 daddr %s tcp dport 179 accept comment \"ibgp sessions\"\n",
                      nn_prefix_format(&peer->addr6, false, addr));
}

static const char *fmt_rid(const uint8_t rid[4], char buf[16])
{
    nn_prefix p = {.family = NN_AF_INET4, .len = 32};
    memcpy(p.addr, rid, 4);
    return nn_prefix_format(&p, false, buf);
}

/* --- route policies ------------------------------------------------------ */

/* The policies that apply to viewer in one direction, baseline first. */
static size_t applicable(const nn_network *net, const nn_member *viewer, nn_rp_direction dir,
                         const nn_route_policy **out, char *scope)
{
    const nn_workspace *ws = net->workspace;
    size_t n = 0;
    if (ws->default_policy && ws->default_policy->direction == dir) {
        scope[n] = 'd';
        out[n++] = ws->default_policy;
    }
    for (size_t i = 0; i < ws->npolicies; i++)
        if (&ws->policies[i] != ws->default_policy && ws->policies[i].direction == dir) {
            scope[n] = 'w';
            out[n++] = &ws->policies[i];
        }
    for (size_t i = 0; i < net->npolicies; i++) {
        const nn_route_policy *rp = &net->policies[i];
        if (rp->direction != dir)
            continue;
        bool mine = rp->scope == NN_RP_NETWORK;
        for (size_t j = 0; j < rp->npeer_names && !mine; j++)
            mine = strcmp(rp->peer_names[j], viewer->name) == 0;
        if (mine) {
            scope[n] = rp->scope == NN_RP_NETWORK ? 'n' : 'p';
            out[n++] = rp;
        }
    }
    return n;
}

static size_t max_policies(const nn_network *net)
{
    return net->workspace->npolicies + net->npolicies + 1;
}

/* The lists a statement matches on, then the route-map entry. Lists go to
 * defs, entries to maps, so every list is defined before its first use. */
static void render_statement(const char *map, unsigned seq, const nn_rp_statement *st, nn_buf *defs,
                             nn_buf *maps)
{
    char buf[NN_PREFIX_STRLEN];
    bool v6 = st->nprefixes && st->prefixes[0].prefix.family == NN_AF_INET6;
    for (size_t i = 0; i < st->nprefixes; i++) {
        const nn_prefix_match *pm = &st->prefixes[i];
        nn_buf_printf(defs, "%s prefix-list %s-%u seq %zu permit %s", v6 ? "ipv6" : "ip", map, seq,
                      (i + 1) * 5, nn_prefix_format(&pm->prefix, true, buf));
        if (pm->ge)
            nn_buf_printf(defs, " ge %u", pm->ge);
        if (pm->le)
            nn_buf_printf(defs, " le %u", pm->le);
        nn_buf_putc(defs, '\n');
    }
    if (st->as_path)
        nn_buf_printf(defs, "bgp as-path access-list %s-%u seq 5 permit %s\n", map, seq,
                      st->as_path);
    for (size_t i = 0; i < st->ncommunities; i++)
        nn_buf_printf(defs, "bgp community-list standard %s-%u seq %zu permit %s\n", map, seq,
                      (i + 1) * 5, st->communities[i]);

    nn_buf_printf(maps, "route-map %s %s %u\n", map, st->permit ? "permit" : "deny", seq);
    if (st->nprefixes)
        nn_buf_printf(maps, " match %s address prefix-list %s-%u\n", v6 ? "ipv6" : "ip", map, seq);
    if (st->as_path)
        nn_buf_printf(maps, " match as-path %s-%u\n", map, seq);
    if (st->ncommunities)
        nn_buf_printf(maps, " match community %s-%u\n", map, seq);
    if (st->set_local_pref)
        nn_buf_printf(maps, " set local-preference %u\n", st->local_pref);
    if (st->set_med)
        nn_buf_printf(maps, " set metric %u\n", st->med);
    if (st->nset_communities) {
        nn_buf_puts(maps, " set community");
        for (size_t i = 0; i < st->nset_communities; i++)
            nn_buf_printf(maps, " %s", st->set_communities[i]);
        nn_buf_puts(maps, " additive\n");
    }
    nn_buf_puts(maps, "exit\n");
}

static void render_policy(const char *map, const nn_route_policy *rp, nn_buf *defs, nn_buf *maps)
{
    for (size_t i = 0; i < rp->nstatements; i++)
        render_statement(map, (unsigned)(i + 1) * 10, &rp->statements[i], defs, maps);
    /* The end of a policy is explicit: what no statement matched. */
    nn_buf_printf(maps, "route-map %s %s 65535\nexit\n", map,
                  rp->default_permit ? "permit" : "deny");
}

/* Renders the policies of one direction for a VRF block and the combined
 * map that ANDs them; writes the combined map's name into combined (empty
 * when no policy applies). */
static void render_direction(const nn_vrf *vrf, const nn_member *viewer, nn_rp_direction dir,
                             nn_buf *defs, nn_buf *maps, char *combined, size_t cap)
{
    const nn_network *net = vrf->network;
    const char *dname = dir == NN_RP_IN ? "in" : "out";
    const nn_route_policy **pols = malloc(max_policies(net) * sizeof(*pols));
    char *scope = malloc(max_policies(net));
    if (!pols || !scope)
        abort();
    size_t n = applicable(net, viewer, dir, pols, scope);
    combined[0] = '\0';
    if (n) {
        nn_buf names = NN_BUF_INIT;
        for (size_t i = 0; i < n; i++) {
            nn_buf_reset(&names);
            nn_buf_printf(&names, "%s-%c-%s", vrf->name, scope[i], pols[i]->name);
            render_policy(names.data, pols[i], defs, maps);
        }
        snprintf(combined, cap, "%s-%s", vrf->name, dname);
        for (size_t i = 0; i < n; i++)
            nn_buf_printf(maps, "route-map %s permit %zu\n call %s-%c-%s\n on-match next\nexit\n",
                          combined, (i + 1) * 10, vrf->name, scope[i], pols[i]->name);
        nn_buf_printf(maps, "route-map %s permit 65535\nexit\n", combined);
        nn_buf_free(&names);
    }
    free(pols);
    free(scope);
}

/* The source VRF of a leak on host h, or NULL when the leak cannot be
 * realised there (no BGP instance of the source network on h). */
static const nn_vrf *leak_source(const nn_host *h, const nn_route_leak *l)
{
    const nn_vrf *src = nn_host_find_vrf(h, l->from);
    return src && src->peer && nn_bgp_active(l->from) ? src : NULL;
}

/* Route leaks into this VRF whose source VRF also lives on the host. For
 * each family: prefix-lists and an import route-map; sets has_v4/has_v6. */
static void render_leaks(const nn_host *h, const nn_vrf *vrf, nn_buf *defs, nn_buf *maps,
                         bool *has_v4, bool *has_v6)
{
    const nn_network *net = vrf->network;
    unsigned seq = 0;
    char buf[NN_PREFIX_STRLEN];
    *has_v4 = *has_v6 = false;
    for (size_t i = 0; i < net->nleaks; i++) {
        const nn_route_leak *l = &net->leaks[i];
        const nn_vrf *src = leak_source(h, l);
        if (!src)
            continue;
        for (int fam = NN_AF_INET4; fam <= NN_AF_INET6; fam += 2) {
            size_t k = 0;
            for (size_t j = 0; j < l->nprefixes; j++)
                if (l->prefixes[j].family == fam)
                    nn_buf_printf(defs, "%s prefix-list %s-leak-%s seq %zu permit %s\n",
                                  fam == NN_AF_INET6 ? "ipv6" : "ip", vrf->name, l->name, (++k) * 5,
                                  nn_prefix_format(&l->prefixes[j], true, buf));
            if (!k)
                continue;
            seq += 10;
            nn_buf_printf(maps,
                          "route-map %s-import permit %u\n match source-vrf %s\n match %s "
                          "address prefix-list %s-leak-%s\nexit\n",
                          vrf->name, seq, src->name, fam == NN_AF_INET6 ? "ipv6" : "ip", vrf->name,
                          l->name);
            *(fam == NN_AF_INET6 ? has_v6 : has_v4) = true;
        }
    }
}

static void render_af(const nn_host *h, const nn_vrf *vrf, int fam, const nn_prefix *ann,
                      size_t nann, bool has_fabric, bool has_clients, const char *in_map,
                      const char *out_map, bool leak, nn_buf *out)
{
    char buf[NN_PREFIX_STRLEN];
    nn_buf_printf(out, " !\n address-family %s unicast\n", fam == NN_AF_INET6 ? "ipv6" : "ipv4");
    for (size_t i = 0; i < nann; i++)
        if (ann[i].family == fam)
            nn_buf_printf(out, "  network %s\n", nn_prefix_format(&ann[i], true, buf));
    const char *groups[2] = {has_fabric ? PG_FABRIC : NULL, has_clients ? PG_CLIENTS : NULL};
    for (int g = 0; g < 2; g++) {
        if (!groups[g])
            continue;
        nn_buf_printf(out, "  neighbor %s activate\n", groups[g]);
        if (g == 1)
            nn_buf_printf(out, "  neighbor %s route-reflector-client\n", groups[g]);
        if (in_map[0])
            nn_buf_printf(out, "  neighbor %s route-map %s in\n", groups[g], in_map);
        if (out_map[0])
            nn_buf_printf(out, "  neighbor %s route-map %s out\n", groups[g], out_map);
    }
    if (leak) {
        nn_buf_printf(out, "  import vrf route-map %s-import\n", vrf->name);
        const nn_network *net = vrf->network;
        for (size_t i = 0; i < net->nleaks; i++) {
            const nn_route_leak *l = &net->leaks[i];
            const nn_vrf *src = leak_source(h, l);
            bool fam_ok = false;
            for (size_t j = 0; j < l->nprefixes; j++)
                fam_ok = fam_ok || l->prefixes[j].family == fam;
            if (src && fam_ok)
                nn_buf_printf(out, "  import vrf %s\n", src->name);
        }
    }
    nn_buf_puts(out, " exit-address-family\n");
}

static void render_group(const char *group, const char *self6, nn_buf *out)
{
    nn_buf_printf(out,
                  " neighbor %s peer-group\n neighbor %s remote-as internal\n neighbor %s "
                  "update-source %s\n neighbor %s capability extended-nexthop\n",
                  group, group, group, self6, group);
}

static void render_router(const nn_host *h, const nn_vrf *vrf, nn_buf *defs, nn_buf *maps,
                          nn_buf *out)
{
    const nn_network *net = vrf->network;
    const nn_member *self = vrf->peer;
    char rid[16], self6[NN_PREFIX_STRLEN], addr[NN_PREFIX_STRLEN];
    char in_map[96], out_map[96];
    nn_prefix_format(&self->addr6, false, self6);
    render_direction(vrf, self, NN_RP_IN, defs, maps, in_map, sizeof(in_map));
    render_direction(vrf, self, NN_RP_OUT, defs, maps, out_map, sizeof(out_map));
    bool leak4, leak6;
    render_leaks(h, vrf, defs, maps, &leak4, &leak6);

    nn_buf_printf(out, "router bgp %u vrf %s\n", net->workspace->bgp_as, vrf->name);
    nn_buf_printf(out, " bgp router-id %s\n", fmt_rid(self->router_id, rid));
    nn_buf_puts(out, " no bgp default ipv4-unicast\n");
    /* Intent is the source of truth: announce what it declares, as the
     * static AllowedIPs already do, whether or not a route exists yet. */
    nn_buf_puts(out, " no bgp network import-check\n");
    bool has_fabric = false, has_clients = false;
    for (size_t i = 0; i < net->npeers; i++) {
        bool client;
        if (is_neighbor(net, self, &net->peers[i], &client))
            *(client ? &has_clients : &has_fabric) = true;
    }
    if (has_fabric)
        render_group(PG_FABRIC, self6, out);
    if (has_clients)
        render_group(PG_CLIENTS, self6, out);
    for (size_t i = 0; i < net->npeers; i++) {
        bool client;
        const nn_member *m = &net->peers[i];
        if (!is_neighbor(net, self, m, &client))
            continue;
        nn_prefix_format(&m->addr6, false, addr);
        nn_buf_printf(out, " neighbor %s peer-group %s\n neighbor %s description %s\n", addr,
                      client ? PG_CLIENTS : PG_FABRIC, addr, m->name);
    }
    nn_prefix *ann;
    size_t nann = nn_bgp_announcements(net, self, &ann);
    render_af(h, vrf, NN_AF_INET4, ann, nann, has_fabric, has_clients, in_map, out_map, leak4, out);
    render_af(h, vrf, NN_AF_INET6, ann, nann, has_fabric, has_clients, in_map, out_map, leak6, out);
    free(ann);
    nn_buf_puts(out, "exit\n!\n");
}

void nn_bgp_host_text(const nn_host *h, nn_buf *out)
{
    size_t blocks = 0;
    for (size_t v = 0; v < h->nvrfs; v++)
        if (h->vrfs[v].peer && nn_bgp_active(h->vrfs[v].network))
            blocks++;
    if (!blocks)
        return;
    nn_buf defs = NN_BUF_INIT, maps = NN_BUF_INIT, routers = NN_BUF_INIT;
    nn_buf_printf(out,
                  "frr version 8.4\nfrr defaults traditional\nhostname %s\nlog syslog "
                  "informational\nservice integrated-vtysh-config\n!\n",
                  h->name);
    for (size_t v = 0; v < h->nvrfs; v++) {
        const nn_vrf *vrf = &h->vrfs[v];
        if (!vrf->peer || !nn_bgp_active(vrf->network))
            continue;
        nn_buf_printf(out, "vrf %s\nexit-vrf\n!\n", vrf->name);
        render_router(h, vrf, &defs, &maps, &routers);
    }
    if (defs.len) {
        nn_buf_append(out, defs.data, defs.len);
        nn_buf_puts(out, "!\n");
    }
    if (maps.len) {
        nn_buf_append(out, maps.data, maps.len);
        nn_buf_puts(out, "!\n");
    }
    nn_buf_append(out, routers.data, routers.len);
    nn_buf_puts(out, "end\n");
    nn_buf_free(&defs);
    nn_buf_free(&maps);
    nn_buf_free(&routers);
}

void nn_bgp_envelope(const nn_network *net, const nn_member *peer, const nn_vrf *vrf,
                     const char *frr_text, size_t frr_len, nn_jw *w)
{
    const nn_host *h = peer->host_ref;
    char buf[NN_PREFIX_STRLEN], rid[16];
    nn_jw_obj_begin(w);
    nn_jw_key(w, "as_number");
    nn_jw_int(w, net->workspace->bgp_as);
    nn_jw_key(w, "enabled");
    nn_jw_bool(w, true);
    nn_jw_key(w, "frr_text");
    nn_jw_strn(w, frr_text, frr_len);
    nn_jw_key(w, "neighbors");
    nn_jw_arr_begin(w);
    for (size_t i = 0; i < net->npeers; i++) {
        bool client;
        const nn_member *m = &net->peers[i];
        if (!is_neighbor(net, peer, m, &client))
            continue;
        nn_jw_obj_begin(w);
        nn_jw_key(w, "address");
        nn_jw_str(w, nn_prefix_format(&m->addr6, false, buf));
        nn_jw_key(w, "name");
        nn_jw_str(w, m->name);
        nn_jw_key(w, "peer_group");
        nn_jw_str(w, client ? PG_CLIENTS : PG_FABRIC);
        nn_jw_key(w, "route_reflector_client");
        nn_jw_bool(w, client);
        nn_jw_obj_end(w);
    }
    nn_jw_arr_end(w);
    nn_jw_key(w, "networks");
    nn_prefix *ann;
    size_t nann = nn_bgp_announcements(net, peer, &ann);
    nn_jw_prefix_array(w, ann, nann);
    free(ann);
    nn_jw_key(w, "router_id");
    nn_jw_str(w, fmt_rid(peer->router_id, rid));
    nn_jw_key(w, "vrf");
    nn_jw_str(w, vrf->name);
    nn_jw_key(w, "vrf_blocks");
    nn_jw_arr_begin(w);
    for (size_t v = 0; v < h->nvrfs; v++) {
        const nn_vrf *b = &h->vrfs[v];
        if (!b->peer || !nn_bgp_active(b->network))
            continue;
        nn_jw_obj_begin(w);
        nn_jw_key(w, "as_number");
        nn_jw_int(w, b->network->workspace->bgp_as);
        nn_jw_key(w, "network");
        nn_jw_str(w, b->network->name);
        nn_jw_key(w, "router_id");
        nn_jw_str(w, fmt_rid(b->peer->router_id, rid));
        nn_jw_key(w, "table_id");
        nn_jw_int(w, b->table_id);
        nn_jw_key(w, "vrf");
        nn_jw_str(w, b->name);
        nn_jw_obj_end(w);
    }
    nn_jw_arr_end(w);
    nn_jw_obj_end(w);
}
