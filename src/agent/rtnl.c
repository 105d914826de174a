/* nn_rtnl: rtnetlink requests with libmnl, one socket per apply, one
 * request at a time with an ACK, and dumps for the current state. */
#include "agent/rtnl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct rtnl {
    struct mnl_socket *nl;
    unsigned portid, seq;
    uint32_t table; /* of route changes */
    char *buf;      /* MNL_SOCKET_BUFFER_SIZE bytes */
} rtnl;

typedef struct table_route {
    nn_prefix prefix;
    uint32_t table;
} table_route;

/* What a dump collects: prefixes, plus the link's state. */
typedef struct dump_state {
    unsigned ifindex;
    nn_prefix *items;
    size_t n, cap;
    uint32_t mtu, flags, master;
    char kind[16];      /* IFLA_INFO_KIND, "" when none */
    uint32_t vrf_table; /* IFLA_VRF_TABLE of a VRF */
    uint32_t table;     /* route dumps keep this table's routes in items... */
    table_route *stale; /* ...and Nanami's routes of other tables here */
    size_t n_stale, cap_stale;
} dump_state;

static int set_why(char *why, size_t why_len, int r, const char *what, const char *ifname)
{
    if (why && why_len)
        snprintf(why, why_len, "%s: %s: %s", ifname, what, strerror(-r));
    return r;
}

static int rtnl_open(rtnl *s)
{
    memset(s, 0, sizeof(*s));
    s->buf = malloc(MNL_SOCKET_BUFFER_SIZE);
    s->nl = mnl_socket_open(NETLINK_ROUTE);
    if (!s->buf || !s->nl || mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        int e = errno ? errno : ENOMEM;
        if (s->nl)
            mnl_socket_close(s->nl);
        free(s->buf);
        return -e;
    }
    s->portid = mnl_socket_get_portid(s->nl);
    s->seq = (unsigned)time(NULL);
    return 0;
}

static void rtnl_close(rtnl *s)
{
    if (s->nl)
        mnl_socket_close(s->nl);
    free(s->buf);
}

static struct nlmsghdr *msg_begin(rtnl *s, uint16_t type, uint16_t flags)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(s->buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    nlh->nlmsg_seq = ++s->seq;
    return nlh;
}

/* Sends nlh and reads answers until its ACK or the dump's end; cb sees
 * each data message. */
static int rtnl_talk(rtnl *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
    unsigned seq = nlh->nlmsg_seq;
    if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
        return -errno;
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(s->nl, s->buf, MNL_SOCKET_BUFFER_SIZE);
        if (n < 0)
            return -errno;
        int r = mnl_cb_run(s->buf, (size_t)n, seq, s->portid, cb, data);
        if (r < 0)
            return -errno;
        if (r == MNL_CB_STOP)
            return 0;
    }
}

static size_t addr_len(uint8_t family)
{
    return family == NN_AF_INET6 ? 16 : 4;
}

static int af_of(uint8_t family)
{
    return family == NN_AF_INET6 ? AF_INET6 : AF_INET;
}

/* Room for element n of an array of *cap elements of size elem. */
static void *grow(void *v, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return v;
    *cap = *cap ? *cap * 2 : 16;
    v = reallocarray(v, *cap, elem);
    if (!v)
        abort();
    return v;
}

static nn_prefix prefix_of(int af, uint8_t len, const void *addr)
{
    nn_prefix p = {.family = af == AF_INET6 ? NN_AF_INET6 : NN_AF_INET4, .len = len};
    memcpy(p.addr, addr, addr_len(p.family));
    return p;
}

static void dump_add(dump_state *d, int af, uint8_t len, const void *addr)
{
    d->items = grow(d->items, d->n, &d->cap, sizeof(*d->items));
    d->items[d->n++] = prefix_of(af, len, addr);
}

/* IFLA_LINKINFO: the kind, and a VRF's table. */
static void link_info(const struct nlattr *info, dump_state *d)
{
    const struct nlattr *a, *b;
    mnl_attr_for_each_nested(a, info)
    {
        if (mnl_attr_get_type(a) == IFLA_INFO_KIND && mnl_attr_validate(a, MNL_TYPE_STRING) >= 0)
            snprintf(d->kind, sizeof(d->kind), "%.*s", (int)mnl_attr_get_payload_len(a),
                     mnl_attr_get_str(a));
        if (mnl_attr_get_type(a) != IFLA_INFO_DATA)
            continue;
        mnl_attr_for_each_nested(b, a)
        {
            if (mnl_attr_get_type(b) == IFLA_VRF_TABLE && mnl_attr_validate(b, MNL_TYPE_U32) >= 0)
                d->vrf_table = mnl_attr_get_u32(b);
        }
    }
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
    dump_state *d = data;
    const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
    if ((unsigned)ifi->ifi_index != d->ifindex)
        return MNL_CB_OK;
    d->flags = ifi->ifi_flags;
    const struct nlattr *a;
    mnl_attr_for_each(a, nlh, sizeof(*ifi))
    {
        uint16_t type = mnl_attr_get_type(a);
        if ((type == IFLA_MTU || type == IFLA_MASTER) && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
            *(type == IFLA_MTU ? &d->mtu : &d->master) = mnl_attr_get_u32(a);
        else if (type == IFLA_LINKINFO)
            link_info(a, d);
    }
    return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
    dump_state *d = data;
    const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
    if (ifa->ifa_index != d->ifindex || (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
        return MNL_CB_OK;
    size_t want = ifa->ifa_family == AF_INET6 ? 16 : 4;
    const void *local = NULL, *address = NULL;
    const struct nlattr *a;
    mnl_attr_for_each(a, nlh, sizeof(*ifa))
    {
        if (mnl_attr_get_payload_len(a) != want)
            continue;
        if (mnl_attr_get_type(a) == IFA_LOCAL)
            local = mnl_attr_get_payload(a);
        else if (mnl_attr_get_type(a) == IFA_ADDRESS)
            address = mnl_attr_get_payload(a);
    }
    const uint8_t *addr = local ? local : address;
    if (!addr)
        return MNL_CB_OK;
    if (ifa->ifa_family == AF_INET6 && addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80)
        return MNL_CB_OK; /* link-local: the kernel's, not ours */
    dump_add(d, ifa->ifa_family, ifa->ifa_prefixlen, addr);
    return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
    dump_state *d = data;
    const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
    if (rtm->rtm_protocol != NN_RTPROT)
        return MNL_CB_OK;
    size_t want = rtm->rtm_family == AF_INET6 ? 16 : 4;
    const void *dst = NULL;
    uint32_t oif = 0, table = rtm->rtm_table;
    static const uint8_t zero[16];
    const struct nlattr *a;
    mnl_attr_for_each(a, nlh, sizeof(*rtm))
    {
        if (mnl_attr_get_type(a) == RTA_DST && mnl_attr_get_payload_len(a) == want)
            dst = mnl_attr_get_payload(a);
        else if (mnl_attr_get_type(a) == RTA_OIF && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
            oif = mnl_attr_get_u32(a);
        else if (mnl_attr_get_type(a) == RTA_TABLE && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
            table = mnl_attr_get_u32(a);
    }
    if (oif != d->ifindex)
        return MNL_CB_OK;
    if (table == d->table) {
        dump_add(d, rtm->rtm_family, rtm->rtm_dst_len, dst ? dst : zero);
        return MNL_CB_OK;
    }
    d->stale = grow(d->stale, d->n_stale, &d->cap_stale, sizeof(*d->stale));
    d->stale[d->n_stale++] = (table_route){
        .prefix = prefix_of(rtm->rtm_family, rtm->rtm_dst_len, dst ? dst : zero), .table = table};
    return MNL_CB_OK;
}

static int prefix_qcmp(const void *a, const void *b)
{
    return nn_prefix_cmp(a, b);
}

/* set must be sorted (prefix_qcmp). */
static bool contains(const nn_prefix *set, size_t n, const nn_prefix *p)
{
    return n && bsearch(p, set, n, sizeof(*set), prefix_qcmp) != NULL;
}

/* An add replaces whatever the kernel has under the same key (an address
 * with other flags, a route another tool installed): the envelope wins. */
static struct nlmsghdr *change_begin(rtnl *s, bool add, uint16_t new_type, uint16_t del_type)
{
    return msg_begin(s, add ? new_type : del_type,
                     NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0));
}

static int address_change(rtnl *s, unsigned ifindex, const nn_prefix *p, bool add)
{
    struct nlmsghdr *nlh = change_begin(s, add, RTM_NEWADDR, RTM_DELADDR);
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
    ifa->ifa_family = (uint8_t)af_of(p->family);
    ifa->ifa_prefixlen = p->len;
    ifa->ifa_index = ifindex;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    if (p->family == NN_AF_INET6)
        ifa->ifa_flags = IFA_F_NODAD;
    mnl_attr_put(nlh, IFA_LOCAL, addr_len(p->family), p->addr);
    mnl_attr_put(nlh, IFA_ADDRESS, addr_len(p->family), p->addr);
    return rtnl_talk(s, nlh, NULL, NULL);
}

static int route_change(rtnl *s, unsigned ifindex, const nn_prefix *p, bool add)
{
    struct nlmsghdr *nlh = change_begin(s, add, RTM_NEWROUTE, RTM_DELROUTE);
    struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
    rtm->rtm_family = (uint8_t)af_of(p->family);
    rtm->rtm_dst_len = p->len;
    rtm->rtm_table = s->table < 256 ? (uint8_t)s->table : RT_TABLE_UNSPEC;
    rtm->rtm_protocol = NN_RTPROT;
    rtm->rtm_scope = RT_SCOPE_LINK;
    rtm->rtm_type = RTN_UNICAST;
    if (p->len)
        mnl_attr_put(nlh, RTA_DST, addr_len(p->family), p->addr);
    mnl_attr_put_u32(nlh, RTA_TABLE, s->table);
    mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
    return rtnl_talk(s, nlh, NULL, NULL);
}

static int dump(rtnl *s, uint16_t type, uint8_t family, size_t hdr_len, mnl_cb_t cb, dump_state *d)
{
    struct nlmsghdr *nlh = msg_begin(s, type, NLM_F_DUMP);
    struct rtgenmsg *g = mnl_nlmsg_put_extra_header(nlh, hdr_len);
    g->rtgen_family = family;
    return rtnl_talk(s, nlh, cb, d);
}

/* Makes the set behind `type` equal desired: adds what is missing first (so
 * traffic never loses its last address or route), then removes extras.
 * Both sides are sorted for the lookups: a hub routes every spoke's LAN,
 * so this is O(n log n), not O(n^2). */
static int converge(rtnl *s, unsigned ifindex, dump_state *have, const nn_prefix *want,
                    size_t n_want, int (*change)(rtnl *, unsigned, const nn_prefix *, bool),
                    size_t *added, size_t *removed)
{
    int r = 0;
    nn_prefix *sorted = n_want ? reallocarray(NULL, n_want, sizeof(*sorted)) : NULL;
    if (n_want && !sorted)
        abort();
    if (n_want) {
        memcpy(sorted, want, n_want * sizeof(*sorted));
        qsort(sorted, n_want, sizeof(*sorted), prefix_qcmp);
    }
    if (have->n)
        qsort(have->items, have->n, sizeof(*have->items), prefix_qcmp);
    for (size_t i = 0; i < n_want; i++) {
        if (contains(have->items, have->n, &want[i]))
            continue;
        if ((r = change(s, ifindex, &want[i], true)))
            goto out;
        (*added)++;
    }
    for (size_t i = 0; i < have->n; i++) {
        if (contains(sorted, n_want, &have->items[i]))
            continue;
        if ((r = change(s, ifindex, &have->items[i], false)) && r != -ESRCH && r != -EADDRNOTAVAIL)
            goto out;
        r = 0;
        (*removed)++;
    }
out:
    free(sorted);
    return r;
}

/* One RTM_NEWLINK: the up flag when `up`, the mtu when above 0, the
 * master when not -1 (0 = none). */
static int link_set(rtnl *s, unsigned ifindex, bool up, int64_t mtu, int64_t master)
{
    struct nlmsghdr *nlh = msg_begin(s, RTM_NEWLINK, NLM_F_ACK);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = (int)ifindex;
    ifi->ifi_change = up ? IFF_UP : 0;
    ifi->ifi_flags = up ? IFF_UP : 0;
    if (mtu > 0)
        mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)mtu);
    if (master >= 0)
        mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
    return rtnl_talk(s, nlh, NULL, NULL);
}

/* Reads one link's state into *d (d->ifindex set). */
static int link_dump(rtnl *s, dump_state *d)
{
    struct nlmsghdr *nlh = msg_begin(s, RTM_GETLINK, NLM_F_ACK);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = (int)d->ifindex;
    return rtnl_talk(s, nlh, link_cb, d);
}

int nn_rtnl_apply(const char *ifname, const nn_rtnl_link *want, nn_rtnl_stats *stats, char *why,
                  size_t why_len)
{
    memset(stats, 0, sizeof(*stats));
    unsigned ifindex = if_nametoindex(ifname), master = 0;
    if (!ifindex)
        return set_why(why, why_len, -ENODEV, "no such interface", ifname);
    if (want->vrf && !(master = if_nametoindex(want->vrf)))
        return set_why(why, why_len, -ENODEV, want->vrf, ifname);
    rtnl s;
    int r = rtnl_open(&s);
    if (r)
        return set_why(why, why_len, r, "netlink socket", ifname);
    s.table = want->vrf && want->table ? want->table : RT_TABLE_MAIN;
    dump_state link = {.ifindex = ifindex}, addrs = {.ifindex = ifindex},
               rts = {.ifindex = ifindex, .table = s.table};
    const char *step = "link";
    if ((r = link_dump(&s, &link)))
        goto out;
    /* Membership first, in its own request, before the link is brought
     * up. The kernel applies a request's flags before its master, and
     * enslaving a running link cycles it: WireGuard's second open then
     * finds the handshake it began on the first one too recent to send
     * again and has stopped its retry timer, so a peer that only keeps
     * the tunnel alive (a spoke's keepalive) never handshakes. Cycling
     * also drops the IPv6 addresses; the steps below put them back. */
    if (link.master != master) {
        if ((r = link_set(&s, ifindex, false, 0, master)))
            goto out;
        stats->link_changed = true;
    }
    if (link.mtu != want->mtu || !(link.flags & IFF_UP)) {
        if ((r = link_set(&s, ifindex, true, want->mtu, -1)))
            goto out;
        stats->link_changed = true;
    }
    step = "addresses";
    if ((r = dump(&s, RTM_GETADDR, AF_UNSPEC, sizeof(struct ifaddrmsg), addr_cb, &addrs)) ||
        (r = converge(&s, ifindex, &addrs, want->addresses, want->n_addresses, address_change,
                      &stats->addresses_added, &stats->addresses_removed)))
        goto out;
    step = "routes";
    if ((r = dump(&s, RTM_GETROUTE, AF_INET, sizeof(struct rtmsg), route_cb, &rts)) ||
        (r = dump(&s, RTM_GETROUTE, AF_INET6, sizeof(struct rtmsg), route_cb, &rts)) ||
        (r = converge(&s, ifindex, &rts, want->routes, want->n_routes, route_change,
                      &stats->routes_added, &stats->routes_removed)))
        goto out;
    for (size_t i = 0; i < rts.n_stale; i++) { /* left in the table of a VRF it has left */
        s.table = rts.stale[i].table;
        if ((r = route_change(&s, ifindex, &rts.stale[i].prefix, false)) && r != -ESRCH)
            goto out;
        r = 0;
        stats->routes_removed++;
    }
out:
    if (r)
        set_why(why, why_len, r, step, ifname);
    free(link.items);
    free(addrs.items);
    free(rts.items);
    free(rts.stale);
    rtnl_close(&s);
    return r;
}

/* ip link add NAME type KIND [table TABLE] */
static int link_create(rtnl *s, const char *name, const char *kind, uint32_t vrf_table)
{
    struct nlmsghdr *nlh = msg_begin(s, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
    if (vrf_table) {
        struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
        mnl_attr_put_u32(nlh, IFLA_VRF_TABLE, vrf_table);
        mnl_attr_nest_end(nlh, data);
    }
    mnl_attr_nest_end(nlh, info);
    return rtnl_talk(s, nlh, NULL, NULL);
}

static int kind_error(int r, const char *name, const char *kind, char *why, size_t why_len)
{
    if (why && why_len) {
        if (r == -EOPNOTSUPP)
            snprintf(why, why_len, "%s: this kernel has no %s module (type %s)", name,
                     !strcmp(kind, "vrf")         ? "VRF"
                     : !strcmp(kind, "wireguard") ? "WireGuard"
                                                  : kind,
                     kind);
        else
            snprintf(why, why_len, "%s: creating a %s device: %s", name, kind, strerror(-r));
    }
    return r;
}

int nn_rtnl_add_wireguard(const char *ifname, char *why, size_t why_len)
{
    rtnl s;
    int r = rtnl_open(&s);
    if (r)
        return set_why(why, why_len, r, "netlink socket", ifname);
    if ((r = link_create(&s, ifname, "wireguard", 0)))
        kind_error(r, ifname, "wireguard", why, why_len);
    rtnl_close(&s);
    return r;
}

/* Makes `name` an up device of `kind` (a VRF bound to table, or a
 * bridge): created when absent, a VRF recreated when bound to another
 * table. 1 when it changed something, 0 when it was so already. */
static int ensure_link(const char *name, const char *kind, uint32_t table, char *why,
                       size_t why_len)
{
    rtnl s;
    int r = rtnl_open(&s), changed = 0;
    if (r)
        return set_why(why, why_len, r, "netlink socket", name);
    dump_state d = {.ifindex = if_nametoindex(name)};
    if (d.ifindex && (r = link_dump(&s, &d))) {
        set_why(why, why_len, r, "reading the VRF", name);
        goto out;
    }
    if (d.ifindex && strcmp(d.kind, kind) != 0) {
        r = -EEXIST;
        if (why && why_len)
            snprintf(why, why_len, "%s: exists as a device of kind \"%s\", not %s", name, d.kind,
                     kind);
        goto out;
    }
    if (d.ifindex && table && d.vrf_table != table) { /* a VRF's table cannot change */
        struct nlmsghdr *nlh = msg_begin(&s, RTM_DELLINK, NLM_F_ACK);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_index = (int)d.ifindex;
        if ((r = rtnl_talk(&s, nlh, NULL, NULL))) {
            set_why(why, why_len, r, "removing the VRF of another table", name);
            goto out;
        }
        d.ifindex = 0;
    }
    if (!d.ifindex) {
        if ((r = link_create(&s, name, kind, table))) {
            kind_error(r, name, kind, why, why_len);
            goto out;
        }
        changed = 1;
        d.flags = 0;
        d.ifindex = if_nametoindex(name);
    }
    if (!(d.flags & IFF_UP)) {
        if ((r = link_set(&s, d.ifindex, true, 0, -1))) {
            set_why(why, why_len, r, "bringing it up", name);
            goto out;
        }
        changed = 1;
    }
out:
    free(d.items);
    rtnl_close(&s);
    return r ? r : changed;
}

int nn_rtnl_ensure_vrf(const char *name, uint32_t table, char *why, size_t why_len)
{
    if (!table)
        return set_why(why, why_len, -EINVAL, "VRF table 0", name);
    return ensure_link(name, "vrf", table, why, why_len);
}

int nn_rtnl_ensure_bridge(const char *name, char *why, size_t why_len)
{
    return ensure_link(name, "bridge", 0, why, why_len);
}

int nn_rtnl_delete_link(const char *name, char *why, size_t why_len)
{
    unsigned ifindex = if_nametoindex(name);
    if (!ifindex)
        return 0;
    rtnl s;
    int r = rtnl_open(&s);
    if (r)
        return set_why(why, why_len, r, "netlink socket", name);
    struct nlmsghdr *nlh = msg_begin(&s, RTM_DELLINK, NLM_F_ACK);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
    ifi->ifi_index = (int)ifindex;
    r = rtnl_talk(&s, nlh, NULL, NULL);
    rtnl_close(&s);
    if (r == -ENODEV)
        return 0; /* gone meanwhile */
    return r ? set_why(why, why_len, r, "removing the device", name) : 1;
}

static int sysctl_on(const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char c = '0';
    int r = 0;
    if (read(fd, &c, 1) != 1)
        r = -errno;
    else if (c != '1')
        r = pwrite(fd, "1\n", 2, 0) == 2 ? 1 : -errno;
    close(fd);
    return r;
}

int nn_rtnl_enable_forwarding(char *why, size_t why_len)
{
    static const char *const paths[] = {"/proc/sys/net/ipv4/ip_forward",
                                        "/proc/sys/net/ipv6/conf/all/forwarding"};
    int changed = 0;
    for (size_t i = 0; i < 2; i++) {
        int r = sysctl_on(paths[i]);
        if (r < 0) {
            if (why && why_len)
                snprintf(why, why_len, "%s: %s", paths[i], strerror(-r));
            return r;
        }
        changed |= r;
    }
    return changed;
}
