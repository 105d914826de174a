#include "compile/nat.h"

#include "compile/firewall.h"

bool nn_nat_peer_is_hub(const nn_network *net, const nn_member *peer)
{
    for (size_t i = 0; i < net->nmappings; i++)
        if (net->mappings[i].enabled && net->mappings[i].hub == peer)
            return true;
    return false;
}

static const nn_prefix *addr_of(const nn_member *m, int fam)
{
    if (fam == NN_AF_INET6)
        return &m->addr6;
    return m->addr4.family ? &m->addr4 : NULL;
}

void nn_nat_compile(const nn_network *net, const char *ifname, const nn_member *peer,
                    const char *exit_lines, nn_buf *out, nn_jw *skipped)
{
    const char *id = net->id8;
    if (!ifname)
        ifname = net->ifname;
    nn_buf_printf(out, "# nanami nat: network %s/%s%s%s\n", net->workspace->name, net->name,
                  peer ? ", hub " : "", peer ? peer->name : "");
    nn_buf_printf(out,
                  "add table inet nanami\n"
                  "add chain inet nanami nat_%s_pre { type nat hook prerouting priority -100; "
                  "policy accept; }\n"
                  "flush chain inet nanami nat_%s_pre\n"
                  "add chain inet nanami nat_%s_post { type nat hook postrouting priority 100; "
                  "policy accept; }\n"
                  "flush chain inet nanami nat_%s_post\n",
                  id, id, id, id);
    if (!peer)
        return;
    nn_jw_arr_begin(skipped);
    nn_buf pre = NN_BUF_INIT, post = NN_BUF_INIT;
    char a[NN_PREFIX_STRLEN];
    for (size_t i = 0; i < net->nmappings; i++) {
        const nn_port_mapping *pm = &net->mappings[i];
        if (!pm->enabled || pm->hub != peer)
            continue;
        const char *why = NULL;
        const nn_member *t = nn_port_mapping_target(net, pm, &why);
        if (!t) {
            nn_jw_obj_begin(skipped);
            nn_jw_key(skipped, "name");
            nn_jw_str(skipped, pm->name);
            nn_jw_key(skipped, "reason");
            nn_jw_str(skipped, why);
            nn_jw_obj_end(skipped);
            continue;
        }
        const char *l4 = pm->protocol == NN_PROTO_TCP ? "tcp" : "udp";
        for (int fam = NN_AF_INET4; fam <= NN_AF_INET6; fam += 2) {
            const nn_prefix *ta = addr_of(t, fam);
            if (!ta)
                continue;
            nn_prefix_format(ta, false, a);
            /* "fib daddr type local": only traffic addressed to this hub. */
            if (fam == NN_AF_INET4)
                nn_buf_printf(&pre,
                              "    iifname != \"%s\" fib daddr type local %s dport %u dnat ip to "
                              "%s:%u comment \"port-mapping %s\"\n",
                              ifname, l4, pm->external_port, a, pm->target_port, pm->name);
            else
                nn_buf_printf(&pre,
                              "    iifname != \"%s\" fib daddr type local %s dport %u dnat ip6 to "
                              "[%s]:%u comment \"port-mapping %s\"\n",
                              ifname, l4, pm->external_port, a, pm->target_port, pm->name);
            nn_buf_printf(&post,
                          "    oifname \"%s\" %s daddr %s %s dport %u ct status dnat masquerade "
                          "comment \"port-mapping %s\"\n",
                          ifname, fam == NN_AF_INET4 ? "ip" : "ip6", a, l4, pm->target_port,
                          pm->name);
        }
    }
    nn_jw_arr_end(skipped);
    if (exit_lines)
        nn_buf_puts(&post, exit_lines);
    if (pre.len || post.len)
        nn_buf_printf(out,
                      "table inet nanami {\n  chain nat_%s_pre {\n%s  }\n  chain nat_%s_post "
                      "{\n%s  }\n}\n",
                      id, pre.len ? pre.data : "", id, post.len ? post.data : "");
    nn_buf_free(&pre);
    nn_buf_free(&post);
}
