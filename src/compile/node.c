#include "compile/node.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/bgp.h"
#include "compile/firewall.h"
#include "compile/host.h"
#include "compile/nat.h"
#include "compile/plan.h"
#include "util/json_writer.h"

/* --- prefix sets ------------------------------------------------------------- */

typedef struct prefix_set {
    nn_prefix *p;
    size_t n, cap;
} prefix_set;

static void ps_add(prefix_set *s, const nn_prefix *p)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->p = realloc(s->p, s->cap * sizeof(*s->p));
        if (!s->p)
            abort(); /* like nn_buf: out of memory is not recoverable here */
    }
    s->p[s->n++] = *p;
}

static int cmp_prefix(const void *a, const void *b)
{
    return nn_prefix_cmp(a, b);
}

/* Sorted, each prefix once. */
static void ps_unique(prefix_set *s)
{
    if (s->n < 2)
        return;
    qsort(s->p, s->n, sizeof(*s->p), cmp_prefix);
    size_t k = 1;
    for (size_t i = 1; i < s->n; i++)
        if (nn_prefix_cmp(&s->p[k - 1], &s->p[i]) != 0)
            s->p[k++] = s->p[i];
    s->n = k;
}

/* Sorted, without prefixes another one holds: what an nft set may list
 * (overlapping intervals are refused). Sorted prefixes are nested or
 * apart, so the last one kept is the only one that can hold the next. */
static void ps_cover(prefix_set *s)
{
    ps_unique(s);
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (k == 0 || !nn_prefix_contains(&s->p[k - 1], &s->p[i]))
            s->p[k++] = s->p[i];
    s->n = k;
}

/* "a" or "{ a, b }" of the set's prefixes of family fam; false if none. */
static bool ps_nft(const prefix_set *s, int fam, nn_buf *out)
{
    char buf[NN_PREFIX_STRLEN];
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        k += s->p[i].family == fam;
    if (k == 0)
        return false;
    if (k > 1)
        nn_buf_puts(out, "{ ");
    size_t j = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->p[i].family != fam)
            continue;
        if (j++)
            nn_buf_puts(out, ", ");
        nn_buf_puts(out, nn_prefix_format(&s->p[i], s->p[i].len != (fam == 4 ? 32 : 128), buf));
    }
    if (k > 1)
        nn_buf_puts(out, " }");
    return true;
}

/* Everything that is a network's: its ranges, what is routed to its
 * members, its VIPs and federated prefixes. */
static void network_prefixes(const nn_network *net, prefix_set *s)
{
    ps_add(s, &net->prefix6);
    if (net->has_ipv4)
        ps_add(s, &net->ipv4_cidr);
    for (size_t i = 0; i < net->npeers; i++)
        for (size_t j = 0; j < net->peers[i].nrouted; j++)
            ps_add(s, &net->peers[i].routed[j]);
    for (size_t i = 0; i < net->nvips; i++)
        ps_add(s, &net->vips[i].address);
    for (size_t i = 0; i < net->nfederated; i++)
        ps_add(s, &net->federated[i]);
}

/* --- one membership: the host's peer in a network ------------------------------ */

typedef struct membership {
    const nn_network *net;
    const nn_member *peer;
    nn_net_plan *plan;
    const char *ifname;
    json_t *env; /* its envelope, parsed */
} membership;

/* --- interfaces -------------------------------------------------------------- */

typedef struct wg_peer {
    const char *key, *name, *endpoint; /* borrowed from an envelope */
    int64_t keepalive;
    prefix_set ips;
} wg_peer;

typedef struct iface {
    const char *name;
    int64_t port, mtu;
    bool forwarding;
    const nn_vrf *vrf;
    const char **networks; /* by name, as the memberships come */
    size_t nnetworks;
    prefix_set addrs, routes;
    wg_peer *peers;
    size_t npeers, cap;
    json_t *by_key; /* public key -> index into peers */
} iface;

static int add_prefixes(prefix_set *s, json_t *arr, nn_error *err, const char *what)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        nn_prefix p;
        if (!json_is_string(v) || nn_prefix_parse(json_string_value(v), false, true, &p, NULL)) {
            nn_error_set(err, what, "an envelope holds an unreadable prefix");
            return -EINVAL;
        }
        ps_add(s, &p);
    }
    return 0;
}

/* What the remote end of an envelope's peer entry is called on the host's
 * interface: its host (a peer) or its own name (a device). */
static const char *remote_name(const nn_network *net, const char *name)
{
    const nn_member *m = nn_network_find_member(net, name);
    return m && !m->is_device && m->host ? m->host : name;
}

static int merge_peer(iface *f, const nn_network *net, json_t *entry, nn_error *err)
{
    const char *key = json_string_value(json_object_get(entry, "public_key"));
    const char *name = json_string_value(json_object_get(entry, "name"));
    json_t *ep = json_object_get(entry, "endpoint");
    if (!key || !name) {
        nn_error_set(err, f->name, "an envelope's peer has no key or name");
        return -EINVAL;
    }
    json_t *at = json_object_get(f->by_key, key);
    wg_peer *p;
    if (at) {
        p = &f->peers[json_integer_value(at)];
    } else {
        if (f->npeers == f->cap) {
            f->cap = f->cap ? f->cap * 2 : 16;
            wg_peer *grown = realloc(f->peers, f->cap * sizeof(*grown));
            if (!grown)
                return -ENOMEM;
            f->peers = grown;
        }
        p = &f->peers[f->npeers];
        memset(p, 0, sizeof(*p));
        p->key = key;
        p->name = remote_name(net, name);
        json_object_set_new(f->by_key, key, json_integer((json_int_t)f->npeers));
        f->npeers++;
    }
    if (json_is_string(ep)) {
        if (p->endpoint && strcmp(p->endpoint, json_string_value(ep)) != 0) {
            /* nn_hosts_check refuses this; a compiler bug if it happens */
            nn_error_set(err, f->name, "peer %s has two endpoints (%s, %s)", p->name, p->endpoint,
                         json_string_value(ep));
            return -EINVAL;
        }
        p->endpoint = json_string_value(ep);
    }
    json_int_t ka = json_integer_value(json_object_get(entry, "persistent_keepalive"));
    if (ka > p->keepalive)
        p->keepalive = ka;
    return add_prefixes(&p->ips, json_object_get(entry, "allowed_ips"), err, f->name);
}

static int merge_interface(iface *f, const membership *ms, nn_error *err)
{
    json_t *in = json_object_get(ms->env, "interface");
    const char **grown = realloc(f->networks, (f->nnetworks + 1) * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    f->networks = grown;
    f->networks[f->nnetworks++] = ms->net->name;
    f->forwarding = f->forwarding || json_is_true(json_object_get(in, "forwarding"));
    int r;
    if ((r = add_prefixes(&f->addrs, json_object_get(in, "addresses"), err, f->name)) ||
        (r = add_prefixes(&f->routes, json_object_get(in, "routes"), err, f->name)))
        return r;
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(ms->env, "peers"), i, entry)
    {
        if ((r = merge_peer(f, ms->net, entry, err)))
            return r;
    }
    return 0;
}

static int cmp_wg_peer(const void *a, const void *b)
{
    const wg_peer *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->key, y->key);
}

static void write_interface(nn_jw *w, iface *f)
{
    ps_unique(&f->addrs);
    ps_unique(&f->routes);
    nn_jw_obj_begin(w);
    nn_jw_key(w, "addresses");
    nn_jw_prefix_array(w, f->addrs.p, f->addrs.n);
    nn_jw_key(w, "forwarding");
    nn_jw_bool(w, f->forwarding);
    nn_jw_key(w, "listen_port");
    nn_jw_int(w, f->port);
    nn_jw_key(w, "mtu");
    nn_jw_int(w, f->mtu);
    nn_jw_key(w, "name");
    nn_jw_str(w, f->name);
    nn_jw_key(w, "networks");
    nn_jw_arr_begin(w);
    for (size_t i = 0; i < f->nnetworks; i++)
        nn_jw_str(w, f->networks[i]);
    nn_jw_arr_end(w);
    nn_jw_key(w, "peers");
    nn_jw_arr_begin(w);
    if (f->npeers > 1)
        qsort(f->peers, f->npeers, sizeof(*f->peers), cmp_wg_peer);
    for (size_t i = 0; i < f->npeers; i++) {
        wg_peer *p = &f->peers[i];
        ps_unique(&p->ips);
        nn_jw_obj_begin(w);
        nn_jw_key(w, "allowed_ips");
        nn_jw_prefix_array(w, p->ips.p, p->ips.n);
        nn_jw_key(w, "endpoint");
        if (p->endpoint)
            nn_jw_str(w, p->endpoint);
        else
            nn_jw_null(w);
        nn_jw_key(w, "name");
        nn_jw_str(w, p->name);
        nn_jw_key(w, "persistent_keepalive");
        nn_jw_int(w, p->keepalive);
        nn_jw_key(w, "public_key");
        nn_jw_str(w, p->key);
        nn_jw_obj_end(w);
    }
    nn_jw_arr_end(w);
    nn_jw_key(w, "routes");
    nn_jw_prefix_array(w, f->routes.p, f->routes.n);
    if (f->vrf) {
        nn_jw_key(w, "vrf");
        nn_jw_obj_begin(w);
        nn_jw_key(w, "name");
        nn_jw_str(w, f->vrf->name);
        nn_jw_key(w, "table_id");
        nn_jw_int(w, f->vrf->table_id);
        nn_jw_obj_end(w);
    }
    nn_jw_obj_end(w);
}

static void iface_free(iface *f)
{
    free(f->networks);
    free(f->addrs.p);
    free(f->routes.p);
    for (size_t i = 0; i < f->npeers; i++)
        free(f->peers[i].ips.p);
    free(f->peers);
    json_decref(f->by_key);
}

static int cmp_iface(const void *a, const void *b)
{
    return strcmp(((const iface *)a)->name, ((const iface *)b)->name);
}

/* The shared interface (its networks merged) and one per other network. */
static int build_interfaces(const nn_host *h, const membership *ms, size_t n, iface **out,
                            size_t *nout, nn_error *err)
{
    iface *f = calloc(n + 1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    size_t k = 0;
    iface *shared = NULL;
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        json_t *in = json_object_get(ms[i].env, "interface");
        iface *to = nn_host_shares(h, ms[i].net) ? shared : NULL;
        if (!to) {
            to = &f[k++];
            to->name = ms[i].ifname;
            to->port = json_integer_value(json_object_get(in, "listen_port"));
            to->mtu = json_integer_value(json_object_get(in, "mtu"));
            to->by_key = json_object();
            if (nn_host_shares(h, ms[i].net))
                shared = to;
            else
                to->vrf = nn_host_find_vrf(h, ms[i].net);
        }
        r = to->by_key ? merge_interface(to, &ms[i], err) : -ENOMEM;
    }
    if (k > 1)
        qsort(f, k, sizeof(*f), cmp_iface);
    *out = f;
    *nout = k;
    return r;
}

/* --- the host-wide ruleset ------------------------------------------------------ */

/* Family fam's part of a set as nft text into out ("a" or "{ a, b }");
 * false when the set has none of that family. */
static bool set_text(const prefix_set *s, int fam, nn_buf *out)
{
    nn_buf_reset(out);
    return ps_nft(s, fam, out);
}

/* The base chains send each interface's traffic to its network's rule
 * chain (fw_<id8>). A network's own interface: everything on it, but a
 * forward out of the workspace's prefixes (a full-tunnel device's egress
 * aside). The shared interface: a forward whose source and destination
 * are both one network's, egress of that network's full-tunnel devices,
 * and input from a network to the host's addresses in it or outside the
 * workspace; the rest -- between networks, out of the workspace, a source
 * of no network -- is dropped. */
static void dispatch(const membership *ms, bool shared, bool forward, const prefix_set *ws_set,
                     nn_buf *out)
{
    char chain[32];
    nn_firewall_chain_name(ms->net, chain);
    prefix_set mine = {0};
    network_prefixes(ms->net, &mine);
    ps_cover(&mine);
    nn_buf set = NN_BUF_INIT, ws = NN_BUF_INIT, exits = NN_BUF_INIT;
    const char *ifn = ms->ifname;
    for (int fam = NN_AF_INET4; fam <= NN_AF_INET6; fam += 2) {
        const char *kw = fam == NN_AF_INET4 ? "ip" : "ip6";
        bool in_ws = set_text(ws_set, fam, &ws);
        nn_buf_reset(&exits);
        bool exit = nn_plan_exit_sources(ms->plan, ms->peer, fam, &exits);
        if (!shared) {
            if (!forward)
                continue;
            nn_buf_printf(out, "    iifname \"%s\" ", ifn);
            if (in_ws)
                nn_buf_printf(out, "%s daddr != %s", kw, ws.data);
            else
                nn_buf_printf(out, "meta nfproto %s", fam == NN_AF_INET4 ? "ipv4" : "ipv6");
            if (exit)
                nn_buf_printf(out, " %s saddr != %s", kw, exits.data);
            nn_buf_puts(out, " drop comment \"outside the workspace\"\n");
            continue;
        }
        if (!set_text(&mine, fam, &set))
            continue;
        nn_buf_printf(out, "    iifname \"%s\" %s saddr %s %s daddr %s jump %s\n", ifn, kw,
                      set.data, kw, set.data, chain);
        if (forward && exit && in_ws)
            nn_buf_printf(out, "    iifname \"%s\" %s saddr %s %s daddr != %s jump %s\n", ifn, kw,
                          exits.data, kw, ws.data, chain);
        else if (forward && exit)
            nn_buf_printf(out, "    iifname \"%s\" %s saddr %s jump %s\n", ifn, kw, exits.data,
                          chain);
        /* Input is judged by the network it comes from, addressed to the
         * host inside that network or outside the workspace (its underlay
         * address), never to its address in another network. */
        else if (!forward && in_ws)
            nn_buf_printf(out, "    iifname \"%s\" %s saddr %s %s daddr != %s jump %s\n", ifn, kw,
                          set.data, kw, ws.data, chain);
    }
    if (!shared)
        nn_buf_printf(out, "    iifname \"%s\" jump %s\n", ifn, chain);
    nn_buf_free(&set);
    nn_buf_free(&ws);
    nn_buf_free(&exits);
    free(mine.p);
}

static void write_firewall(nn_jw *w, const nn_workspace *ws, const nn_host *h, const membership *ms,
                           size_t n, const iface *ifs, size_t nifs)
{
    nn_buf ifnames = NN_BUF_INIT;
    nn_buf_puts(&ifnames, nifs > 1 ? "{ " : "");
    for (size_t i = 0; i < nifs; i++)
        nn_buf_printf(&ifnames, "%s\"%s\"", i ? ", " : "", ifs[i].name);
    nn_buf_puts(&ifnames, nifs > 1 ? " }" : "");
    prefix_set ws_set = {0};
    ps_add(&ws_set, &ws->prefix48);
    for (size_t i = 0; i < ws->nnetworks; i++)
        network_prefixes(&ws->networks[i], &ws_set);
    ps_cover(&ws_set);
    nn_buf text = NN_BUF_INIT;
    nn_buf_printf(&text,
                  "# nanami firewall: host %s/%s\n"
                  /* the host owns the table: it is replaced whole, in one
                   * transaction, so a network that left leaves no chain */
                  "add table inet nanami\n"
                  "delete table inet nanami\n"
                  "table inet nanami {\n",
                  ws->name, h->name);
    static const char *const hooks[2] = {"input", "forward"};
    for (int k = 0; k < 2; k++) {
        nn_buf_printf(&text,
                      "  chain %s {\n    type filter hook %s priority filter; policy accept;\n",
                      hooks[k], hooks[k]);
        /* A flow some network's rules admitted (a port mapping's replies
         * among them, back towards a client out of the workspace). */
        if (nifs)
            nn_buf_printf(&text, "    iifname %s ct state established,related accept\n",
                          ifnames.data);
        bool any_shared = false;
        for (size_t i = 0; i < n; i++) {
            bool shared = nn_host_shares(h, ms[i].net);
            any_shared = any_shared || shared;
            dispatch(&ms[i], shared, k == 1, &ws_set, &text);
        }
        if (any_shared)
            nn_buf_printf(&text, "    iifname \"%s\" drop comment \"%s\"\n", h->ifname,
                          k ? "between networks, or out of the workspace"
                            : "between networks, or a source of no network");
        nn_buf_puts(&text, "  }\n");
    }
    for (size_t i = 0; i < n; i++)
        nn_compile_peer_chain(ms[i].plan, ms[i].peer, ms[i].ifname, &text);
    nn_buf_puts(&text, "}\n");
    free(ws_set.p);
    nn_buf_free(&ifnames);

    nn_jw_obj_begin(w);
    nn_jw_key(w, "dropped_rules");
    nn_jw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        size_t j;
        json_t *d;
        json_array_foreach(json_object_get(json_object_get(ms[i].env, "firewall"), "dropped_rules"),
                           j, d)
        {
            nn_jw_obj_begin(w);
            nn_jw_key(w, "name");
            nn_jw_str(w, json_string_value(json_object_get(d, "name")));
            nn_jw_key(w, "network");
            nn_jw_str(w, ms[i].net->name);
            nn_jw_key(w, "reason");
            nn_jw_str(w, json_string_value(json_object_get(d, "reason")));
            nn_jw_obj_end(w);
        }
    }
    nn_jw_arr_end(w);
    nn_jw_key(w, "ruleset");
    nn_jw_strn(w, text.data, text.len);
    nn_jw_obj_end(w);
    nn_buf_free(&text);
}

static void write_nat(nn_jw *w, const nn_workspace *ws, const nn_host *h, const membership *ms,
                      size_t n)
{
    nn_buf text = NN_BUF_INIT, exits = NN_BUF_INIT, skipped = NN_BUF_INIT;
    nn_buf_printf(&text, "# nanami nat: host %s/%s\nadd table inet nanami\n", ws->name, h->name);
    for (size_t i = 0; i < n; i++) {
        nn_buf_reset(&exits);
        nn_plan_exit_lines(ms[i].plan, ms[i].peer, ms[i].ifname, false, &exits);
        if (!exits.len && !nn_nat_peer_is_hub(ms[i].net, ms[i].peer))
            continue;
        nn_jw sw;
        nn_buf_reset(&skipped);
        nn_jw_init(&sw, &skipped);
        nn_nat_compile(ms[i].net, ms[i].ifname, ms[i].peer, exits.len ? exits.data : NULL, &text,
                       &sw);
    }
    nn_jw_obj_begin(w);
    nn_jw_key(w, "ruleset");
    nn_jw_strn(w, text.data, text.len);
    nn_jw_key(w, "skipped");
    nn_jw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        size_t j;
        json_t *d;
        json_array_foreach(json_object_get(json_object_get(ms[i].env, "nat"), "skipped"), j, d)
        {
            nn_jw_obj_begin(w);
            nn_jw_key(w, "name");
            nn_jw_str(w, json_string_value(json_object_get(d, "name")));
            nn_jw_key(w, "network");
            nn_jw_str(w, ms[i].net->name);
            nn_jw_key(w, "reason");
            nn_jw_str(w, json_string_value(json_object_get(d, "reason")));
            nn_jw_obj_end(w);
        }
    }
    nn_jw_arr_end(w);
    nn_jw_obj_end(w);
    nn_buf_free(&text);
    nn_buf_free(&exits);
    nn_buf_free(&skipped);
}

/* --- memberships ----------------------------------------------------------------- */

/* A value from an envelope, spliced canonically. */
static void splice(nn_jw *w, json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    if (s)
        nn_jw_raw(w, s, strlen(s));
    else
        nn_jw_null(w);
    free(s);
}

static void write_memberships(nn_jw *w, const membership *ms, size_t n)
{
    nn_jw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        json_t *env = ms[i].env, *self = json_object_get(env, "self");
        /* the host's frr.conf is the document's frr_text, once */
        json_t *bgp = json_deep_copy(json_object_get(env, "bgp"));
        json_object_del(bgp, "frr_text");
        nn_jw_obj_begin(w);
        nn_jw_key(w, "bgp");
        splice(w, bgp);
        nn_jw_key(w, "federation");
        splice(w, json_object_get(env, "federation"));
        nn_jw_key(w, "interface");
        nn_jw_str(w, ms[i].ifname);
        nn_jw_key(w, "mc_envelope");
        splice(w, json_object_get(env, "mc_envelope"));
        nn_jw_key(w, "name");
        nn_jw_str(w, ms[i].peer->name);
        nn_jw_key(w, "network");
        nn_jw_str(w, ms[i].net->name);
        nn_jw_key(w, "role");
        splice(w, json_object_get(self, "role"));
        nn_jw_key(w, "vips_held");
        splice(w, json_object_get(env, "vips_held"));
        nn_jw_obj_end(w);
        json_decref(bgp);
    }
    nn_jw_arr_end(w);
}

/* --- the document -------------------------------------------------------------------- */

int nn_compile_node(const nn_workspace *ws, const nn_host *h, nn_net_plan *const *plans,
                    nn_buf *out, nn_error *err)
{
    membership *ms = calloc(ws->nnetworks + 1, sizeof(*ms));
    if (!ms)
        return -ENOMEM;
    size_t n = 0;
    int r = 0;
    nn_buf env = NN_BUF_INIT;
    for (size_t i = 0; i < ws->nnetworks && r == 0; i++) {
        const nn_network *net = &ws->networks[i];
        const nn_member *peer = nn_host_peer(h, net);
        if (!peer)
            continue;
        if (!plans[i]) {
            nn_error_set(err, net->name, "no plan for a network of host %s", h->name);
            r = -EINVAL;
            break;
        }
        nn_buf_reset(&env);
        nn_compile_for_peer(plans[i], peer, &env);
        json_t *parsed = json_loadb(env.data, env.len, 0, NULL);
        if (!parsed) {
            r = -ENOMEM;
            break;
        }
        ms[n++] = (membership){net, peer, plans[i], nn_host_ifname(h, net), parsed};
    }
    nn_buf_free(&env);
    iface *ifs = NULL;
    size_t nifs = 0;
    if (r == 0)
        r = build_interfaces(h, ms, n, &ifs, &nifs, err);
    if (r == 0) {
        nn_buf frr = NN_BUF_INIT;
        nn_bgp_host_text(h, &frr);
        nn_jw w;
        nn_jw_init(&w, out);
        nn_jw_obj_begin(&w);
        nn_jw_key(&w, "firewall");
        write_firewall(&w, ws, h, ms, n, ifs, nifs);
        nn_jw_key(&w, "frr_text");
        nn_jw_strn(&w, frr.data ? frr.data : "", frr.len);
        nn_jw_key(&w, "host_bridges");
        nn_host_write_bridges(h, &w);
        nn_jw_key(&w, "interfaces");
        nn_jw_arr_begin(&w);
        for (size_t i = 0; i < nifs; i++)
            write_interface(&w, &ifs[i]);
        nn_jw_arr_end(&w);
        nn_jw_key(&w, "memberships");
        write_memberships(&w, ms, n);
        nn_jw_key(&w, "name");
        nn_jw_str(&w, h->name);
        nn_jw_key(&w, "nat");
        write_nat(&w, ws, h, ms, n);
        if (h->ovn && h->ovn->plan_host == h) {
            nn_jw_key(&w, "ovn");
            nn_jw_obj_begin(&w);
            nn_jw_key(&w, "nb_endpoint");
            nn_jw_str(&w, h->ovn->nb_endpoint);
            nn_jw_key(&w, "nb_plan");
            nn_ovn_plan(ws, h->ovn, &w);
            nn_jw_obj_end(&w);
        }
        nn_host_write_ovn(ws, h, &w);
        nn_jw_key(&w, "profile");
        nn_jw_str(&w, h->profile == NN_HOST_HEAVYWEIGHT ? "heavyweight" : "standard");
        nn_jw_key(&w, "public_key");
        if (h->has_key)
            nn_jw_str(&w, h->public_key_b64);
        else
            nn_jw_null(&w);
        nn_jw_key(&w, "workspace");
        nn_jw_str(&w, ws->name);
        nn_jw_obj_end(&w);
        nn_buf_free(&frr);
    }
    for (size_t i = 0; i < nifs; i++)
        iface_free(&ifs[i]);
    free(ifs);
    for (size_t i = 0; i < n; i++)
        json_decref(ms[i].env);
    free(ms);
    return r;
}
