#include "compile/firewall.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum side_state { SIDE_ANY, SIDE_SET, SIDE_NOTHING };

void nn_firewall_chain_name(const nn_network *net, char *buf)
{
    snprintf(buf, 32, "fw_%s", net->id8);
}

const nn_member *nn_port_mapping_target(const nn_network *net, const nn_port_mapping *pm,
                                        const char **why)
{
    const nn_member *t = nn_network_find_peer(net, pm->target_peer);
    if (t)
        return t;
    *why = nn_network_find_device(net, pm->target_peer)
               ? "target is a user device; port mappings target peers"
               : "target peer does not exist in this network";
    return NULL;
}

static const nn_prefix *member_addr(const nn_member *m, int family)
{
    if (family == NN_AF_INET6)
        return &m->addr6;
    return m->addr4.family == NN_AF_INET4 ? &m->addr4 : NULL;
}

static int cmp_prefix_ptr(const void *a, const void *b)
{
    return nn_prefix_cmp(*(const nn_prefix *const *)a, *(const nn_prefix *const *)b);
}

/* Writes "{ a, b }" or "a" for the addresses of members carrying tag. */
static enum side_state tag_side(const nn_network *net, const char *tag, int family, nn_buf *out)
{
    size_t n = net->npeers + net->ndevices, k = 0;
    const nn_prefix **addrs = malloc((n ? n : 1) * sizeof(*addrs));
    if (!addrs)
        abort();
    for (size_t i = 0; i < n; i++) {
        const nn_member *m = i < net->npeers ? &net->peers[i] : &net->devices[i - net->npeers];
        const nn_prefix *a;
        if (nn_member_has_tag(m, tag) && (a = member_addr(m, family)))
            addrs[k++] = a;
    }
    enum side_state st = SIDE_NOTHING;
    if (k) {
        qsort(addrs, k, sizeof(*addrs), cmp_prefix_ptr);
        char buf[NN_PREFIX_STRLEN];
        if (k > 1)
            nn_buf_puts(out, "{ ");
        for (size_t i = 0; i < k; i++) {
            if (i)
                nn_buf_puts(out, ", ");
            nn_buf_puts(out, nn_prefix_format(addrs[i], false, buf));
        }
        if (k > 1)
            nn_buf_puts(out, " }");
        st = SIDE_SET;
    }
    free(addrs);
    return st;
}

/* Resolves one selector for one family; match text (the address part) into
 * out when SIDE_SET. */
static enum side_state resolve_side(const nn_network *net, const nn_selector *sel, int family,
                                    nn_buf *out)
{
    char buf[NN_PREFIX_STRLEN];
    switch (sel->kind) {
    case NN_SEL_ALL:
        return SIDE_ANY;
    case NN_SEL_CIDR:
        if (sel->cidr.family != family)
            return SIDE_NOTHING;
        nn_buf_puts(out,
                    nn_prefix_format(&sel->cidr, sel->cidr.len != (family == 4 ? 32 : 128), buf));
        return SIDE_SET;
    case NN_SEL_PEER: {
        const nn_prefix *a = sel->member ? member_addr(sel->member, family) : NULL;
        if (!a)
            return SIDE_NOTHING;
        nn_buf_puts(out, nn_prefix_format(a, false, buf));
        return SIDE_SET;
    }
    case NN_SEL_TAG:
        return tag_side(net, sel->name, family, out);
    }
    return SIDE_NOTHING;
}

static bool selector_empty_everywhere(const nn_network *net, const nn_selector *sel)
{
    if (sel->kind != NN_SEL_TAG)
        return false;
    for (size_t i = 0; i < net->npeers + net->ndevices; i++) {
        const nn_member *m = i < net->npeers ? &net->peers[i] : &net->devices[i - net->npeers];
        if (nn_member_has_tag(m, sel->name))
            return false;
    }
    return true;
}

static void put_ports(nn_buf *out, const nn_fw_rule *r)
{
    const char *l4 = r->protocol == NN_PROTO_TCP ? "tcp" : "udp";
    if (r->nports == 0) {
        nn_buf_printf(out, " meta l4proto %s", l4);
        return;
    }
    nn_buf_printf(out, " %s dport ", l4);
    if (r->nports > 1)
        nn_buf_puts(out, "{ ");
    for (size_t i = 0; i < r->nports; i++) {
        if (i)
            nn_buf_puts(out, ", ");
        if (r->ports[i].lo == r->ports[i].hi)
            nn_buf_printf(out, "%u", r->ports[i].lo);
        else
            nn_buf_printf(out, "%u-%u", r->ports[i].lo, r->ports[i].hi);
    }
    if (r->nports > 1)
        nn_buf_puts(out, " }");
}

/* family 0: no address match (both sides "any"). */
static void put_protocol(nn_buf *out, const nn_fw_rule *r, int family)
{
    switch (r->protocol) {
    case NN_PROTO_ANY:
        break;
    case NN_PROTO_TCP:
    case NN_PROTO_UDP:
        put_ports(out, r);
        break;
    case NN_PROTO_ICMP:
        if (family == NN_AF_INET4)
            nn_buf_puts(out, " meta l4proto icmp");
        else if (family == NN_AF_INET6)
            nn_buf_puts(out, " meta l4proto ipv6-icmp");
        else
            nn_buf_puts(out, " meta l4proto { icmp, ipv6-icmp }");
        break;
    }
}

static const char *verdict_text(nn_verdict v)
{
    return v == NN_VERDICT_ACCEPT ? "accept" : v == NN_VERDICT_DROP ? "drop" : "reject";
}

/* Emits the rule's lines; returns how many were emitted. */
static int emit_rule(const nn_network *net, const nn_fw_rule *r, nn_buf *out)
{
    if (r->source.kind == NN_SEL_ALL && r->destination.kind == NN_SEL_ALL) {
        nn_buf_puts(out, "   ");
        put_protocol(out, r, 0);
        nn_buf_printf(out, " %s comment \"rule %s\"\n", verdict_text(r->action), r->name);
        return 1;
    }
    int emitted = 0;
    static const int families[2] = {NN_AF_INET4, NN_AF_INET6};
    nn_buf src = NN_BUF_INIT, dst = NN_BUF_INIT;
    for (int f = 0; f < 2; f++) {
        int fam = families[f];
        nn_buf_reset(&src);
        nn_buf_reset(&dst);
        enum side_state s = resolve_side(net, &r->source, fam, &src);
        enum side_state d = resolve_side(net, &r->destination, fam, &dst);
        if (s == SIDE_NOTHING || d == SIDE_NOTHING)
            continue;
        const char *kw = fam == NN_AF_INET4 ? "ip" : "ip6";
        nn_buf_puts(out, "   ");
        if (s == SIDE_SET)
            nn_buf_printf(out, " %s saddr %s", kw, src.data);
        if (d == SIDE_SET)
            nn_buf_printf(out, " %s daddr %s", kw, dst.data);
        put_protocol(out, r, fam);
        nn_buf_printf(out, " %s comment \"rule %s\"\n", verdict_text(r->action), r->name);
        emitted++;
    }
    nn_buf_free(&src);
    nn_buf_free(&dst);
    return emitted;
}

static void drop_reason(const nn_network *net, const nn_fw_rule *r, char *buf, size_t len)
{
    const nn_selector *sides[2] = {&r->source, &r->destination};
    static const char *const names[2] = {"source", "destination"};
    for (int s = 0; s < 2; s++)
        if (selector_empty_everywhere(net, sides[s])) {
            snprintf(buf, len, "%s tag \"%s\" matches no peer or device", names[s], sides[s]->name);
            return;
        }
    snprintf(buf, len, "source and destination share no address family%s",
             net->has_ipv4 ? "" : " (the network has no ipv4_cidr)");
}

/* Port-mapped traffic arrives at the target through the tunnel, with the
 * hub's overlay address as source (the hub masquerades it so replies
 * return through the hub); the target must admit it whatever its rules. */
void nn_firewall_mapping_rule(const nn_network *net, const nn_port_mapping *pm, nn_buf *out)
{
    char a[NN_PREFIX_STRLEN], b[NN_PREFIX_STRLEN];
    const char *why;
    const nn_member *t;
    if (!pm->enabled || !(t = nn_port_mapping_target(net, pm, &why)))
        return;
    const char *l4 = pm->protocol == NN_PROTO_TCP ? "tcp" : "udp";
    for (int fam = NN_AF_INET4; fam <= NN_AF_INET6; fam += 2) {
        const nn_prefix *hs = member_addr(pm->hub, fam), *ta = member_addr(t, fam);
        if (!hs || !ta)
            continue;
        const char *kw = fam == NN_AF_INET4 ? "ip" : "ip6";
        nn_buf_printf(out,
                      "    %s saddr %s %s daddr %s %s dport %u accept comment "
                      "\"port-mapping %s\"\n",
                      kw, nn_prefix_format(hs, false, a), kw, nn_prefix_format(ta, false, b), l4,
                      pm->target_port, pm->name);
    }
}

void nn_firewall_header(const nn_network *net, nn_buf *out)
{
    char chain[32], prefix[NN_PREFIX_STRLEN];
    nn_firewall_chain_name(net, chain);
    nn_buf_printf(out, "# nanami firewall: network %s/%s (%s), interface %s\n",
                  net->workspace->name, net->name, nn_prefix_format(&net->prefix6, true, prefix),
                  net->ifname);
    /* add + flush makes the file idempotent and atomic under "nft -f": the
     * whole file is one transaction, and only Nanami's chains are touched. */
    nn_buf_printf(out,
                  "add table inet nanami\n"
                  "add chain inet nanami %s\n"
                  "flush chain inet nanami %s\n"
                  "add chain inet nanami %s_in { type filter hook input priority filter; policy "
                  "accept; }\n"
                  "flush chain inet nanami %s_in\n"
                  "add chain inet nanami %s_fwd { type filter hook forward priority filter; "
                  "policy accept; }\n"
                  "flush chain inet nanami %s_fwd\n",
                  chain, chain, chain, chain, chain, chain);
    /* iifname (not iif) so the ruleset loads before the interface exists. */
    nn_buf_printf(out,
                  "table inet nanami {\n"
                  "  chain %s_in {\n"
                  "    iifname \"%s\" jump %s\n"
                  "  }\n"
                  "  chain %s_fwd {\n"
                  "    iifname \"%s\" jump %s\n"
                  "  }\n",
                  chain, net->ifname, chain, chain, net->ifname, chain);
    nn_firewall_chain_open(net, out);
}

void nn_firewall_chain_open(const nn_network *net, nn_buf *out)
{
    char chain[32];
    nn_firewall_chain_name(net, chain);
    nn_buf_printf(out,
                  "  chain %s {\n"
                  "    ct state established,related accept\n"
                  "    ct state invalid drop\n",
                  chain);
}

void nn_firewall_chain_close(const nn_network *net, nn_buf *out)
{
    nn_buf_printf(out, "    %s comment \"default policy\"\n  }\n",
                  net->default_policy == NN_VERDICT_ACCEPT ? "accept" : "drop");
}

void nn_firewall_trailer(const nn_network *net, nn_buf *out)
{
    nn_firewall_chain_close(net, out);
    nn_buf_puts(out, "}\n");
}

int nn_firewall_rule(const nn_network *net, const nn_fw_rule *r, nn_buf *out)
{
    return r->enabled ? emit_rule(net, r, out) : 0;
}

void nn_firewall_dropped_entry(const nn_network *net, const nn_fw_rule *r, nn_jw *dropped)
{
    char reason[160];
    drop_reason(net, r, reason, sizeof(reason));
    nn_jw_obj_begin(dropped);
    nn_jw_key(dropped, "name");
    nn_jw_str(dropped, r->name);
    nn_jw_key(dropped, "reason");
    nn_jw_str(dropped, reason);
    nn_jw_obj_end(dropped);
}

static bool cidr_touches(const nn_prefix *c, const nn_member *m)
{
    if ((m->addr4.family && nn_prefix_contains(c, &m->addr4)) || nn_prefix_contains(c, &m->addr6))
        return true;
    for (size_t i = 0; i < m->nrouted; i++)
        if (nn_prefix_overlaps(c, &m->routed[i]))
            return true;
    return false;
}

bool nn_firewall_rule_needed_by(const nn_fw_rule *r, const nn_member *m)
{
    if (r->action != NN_VERDICT_ACCEPT)
        return true; /* restrictions are never left out */
    const nn_selector *d = &r->destination;
    switch (d->kind) {
    case NN_SEL_ALL:
        return true;
    case NN_SEL_PEER:
        return d->member == m;
    case NN_SEL_TAG:
        return nn_member_has_tag(m, d->name);
    case NN_SEL_CIDR:
        return cidr_touches(&d->cidr, m);
    }
    return true;
}
