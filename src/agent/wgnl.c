/* nn_wgnl: kernel WireGuard over generic netlink. Every attribute is
 * checked for its type and length before it is read, since the dump parser
 * is also what the fuzzer feeds. */
#include "agent/wgnl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/time_types.h>
#include <linux/wireguard.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#define IO_TIMEOUT_S 30
/* libmnl's MNL_SOCKET_DUMP_SIZE, which Debian 12's libmnl lacks: room for a
 * whole dump skb of the kernel's. */
#define DUMP_BUF_SIZE 32768

/* What parsing a dump carries from one message to the next. */
typedef struct dump_state {
    nn_wg_device *dev;
    size_t message; /* 1-based, for why */
    int r;          /* first error, 0 = none */
    char *why;
    size_t why_len;
} dump_state;

static int dump_error(dump_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int dump_error(dump_state *s, const char *fmt, ...)
{
    if (!s->r) {
        s->r = -EPROTO;
        if (s->why && s->why_len) {
            int n = snprintf(s->why, s->why_len, "wireguard netlink message %zu: ", s->message);
            if (n > 0 && (size_t)n < s->why_len) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(s->why + n, s->why_len - (size_t)n, fmt, ap);
                va_end(ap);
            }
        }
    }
    return MNL_CB_ERROR;
}

static bool payload_is(const struct nlattr *a, size_t len)
{
    return mnl_attr_get_payload_len(a) == len;
}

/* Attribute callbacks each take one nested level; mnl_attr_parse_nested
 * has already checked that every attribute lies inside its parent. */

/* The attributes of one allowed IP, as met. */
typedef struct allowed_ip {
    bool has_family, has_cidr;
    uint16_t family;
    uint8_t cidr;
    const struct nlattr *addr; /* its length depends on the family */
} allowed_ip;

static int allowed_ip_attr(const struct nlattr *a, void *data)
{
    allowed_ip *ip = data;
    switch (mnl_attr_get_type(a)) {
    case WGALLOWEDIP_A_FAMILY:
        if (!payload_is(a, 2))
            return MNL_CB_ERROR;
        ip->family = mnl_attr_get_u16(a);
        ip->has_family = true;
        break;
    case WGALLOWEDIP_A_CIDR_MASK:
        if (!payload_is(a, 1))
            return MNL_CB_ERROR;
        ip->cidr = mnl_attr_get_u8(a);
        ip->has_cidr = true;
        break;
    case WGALLOWEDIP_A_IPADDR:
        ip->addr = a;
        break;
    }
    return MNL_CB_OK;
}

/* One WGPEER_A_ALLOWEDIPS element into the peer. */
static int parse_allowed_ip(dump_state *s, const struct nlattr *a, nn_wg_peer *p)
{
    allowed_ip ip = {0};
    if (mnl_attr_parse_nested(a, allowed_ip_attr, &ip) != MNL_CB_OK)
        return dump_error(s, "an allowed IP has a malformed attribute");
    if (!ip.has_family || !ip.has_cidr || !ip.addr)
        return dump_error(s, "an allowed IP lacks its family, address or mask");
    nn_prefix pf = {0};
    if (ip.family == AF_INET && payload_is(ip.addr, 4) && ip.cidr <= 32)
        pf.family = NN_AF_INET4;
    else if (ip.family == AF_INET6 && payload_is(ip.addr, 16) && ip.cidr <= 128)
        pf.family = NN_AF_INET6;
    else
        return dump_error(s, "allowed IP of family %u, %u address bytes, /%u", ip.family,
                          (unsigned)mnl_attr_get_payload_len(ip.addr), ip.cidr);
    pf.len = ip.cidr;
    memcpy(pf.addr, mnl_attr_get_payload(ip.addr), mnl_attr_get_payload_len(ip.addr));
    nn_wg_peer_add_allowed(p, &pf);
    return MNL_CB_OK;
}

static int parse_endpoint(dump_state *s, const struct nlattr *a, nn_wg_endpoint *e)
{
    size_t n = mnl_attr_get_payload_len(a);
    const void *v = mnl_attr_get_payload(a);
    sa_family_t family;
    if (n < sizeof(family))
        return dump_error(s, "endpoint shorter than a socket address");
    memcpy(&family, v, sizeof(family));
    memset(e, 0, sizeof(*e));
    if (family == AF_INET && n == sizeof(struct sockaddr_in)) {
        struct sockaddr_in sin;
        memcpy(&sin, v, sizeof(sin));
        e->family = NN_AF_INET4;
        memcpy(e->addr, &sin.sin_addr, 4);
        e->port = ntohs(sin.sin_port);
    } else if (family == AF_INET6 && n == sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, v, sizeof(sin6));
        e->family = NN_AF_INET6;
        memcpy(e->addr, &sin6.sin6_addr, 16);
        e->port = ntohs(sin6.sin6_port);
    } else if (family != AF_UNSPEC) {
        return dump_error(s, "endpoint of family %u and %zu bytes", (unsigned)family, n);
    }
    return MNL_CB_OK;
}

/* One element of WGDEVICE_A_PEERS. A peer with the public key of the
 * device's last peer continues it (its allowed IPs did not fit). */
static int parse_peer(dump_state *s, const struct nlattr *peer)
{
    const struct nlattr *a, *key = NULL;
    mnl_attr_for_each_nested(a, peer) if (mnl_attr_get_type(a) == WGPEER_A_PUBLIC_KEY) key = a;
    if (!key || !payload_is(key, NN_KEY_LEN))
        return dump_error(s, "a peer without a %d-byte public key", NN_KEY_LEN);
    nn_key pk;
    memcpy(pk.bytes, mnl_attr_get_payload(key), NN_KEY_LEN);
    nn_wg_device *d = s->dev;
    nn_wg_peer *p =
        d->n_peers && !memcmp(d->peers[d->n_peers - 1].public_key.bytes, pk.bytes, NN_KEY_LEN)
            ? &d->peers[d->n_peers - 1]
            : nn_wg_device_add_peer(d, &pk);
    /* Unknown attributes are newer kernels' business, as in uapi.c. */
    mnl_attr_for_each_nested(a, peer)
    {
        switch (mnl_attr_get_type(a)) {
        case WGPEER_A_PRESHARED_KEY:
            if (!payload_is(a, NN_KEY_LEN))
                return dump_error(s, "preshared key of %u bytes", mnl_attr_get_payload_len(a));
            break;
        case WGPEER_A_ENDPOINT:
            if (parse_endpoint(s, a, &p->endpoint) != MNL_CB_OK)
                return MNL_CB_ERROR;
            break;
        case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
            if (!payload_is(a, 2))
                return dump_error(s, "keepalive interval is not 2 bytes");
            p->keepalive = mnl_attr_get_u16(a);
            break;
        case WGPEER_A_LAST_HANDSHAKE_TIME: {
            struct __kernel_timespec ts;
            if (!payload_is(a, sizeof(ts)))
                return dump_error(s, "last handshake time is not a timespec");
            memcpy(&ts, mnl_attr_get_payload(a), sizeof(ts));
            if (ts.tv_sec < 0)
                return dump_error(s, "last handshake time is negative");
            p->last_handshake_sec = ts.tv_sec;
            break;
        }
        case WGPEER_A_RX_BYTES:
        case WGPEER_A_TX_BYTES:
            if (!payload_is(a, 8))
                return dump_error(s, "transfer counter is not 8 bytes");
            *(mnl_attr_get_type(a) == WGPEER_A_RX_BYTES ? &p->rx_bytes : &p->tx_bytes) =
                mnl_attr_get_u64(a);
            break;
        case WGPEER_A_ALLOWEDIPS: {
            const struct nlattr *ip;
            mnl_attr_for_each_nested(ip, a) if (parse_allowed_ip(s, ip, p) !=
                                                MNL_CB_OK) return MNL_CB_ERROR;
            break;
        }
        }
    }
    return MNL_CB_OK;
}

static int device_attr(const struct nlattr *a, void *data)
{
    dump_state *s = data;
    nn_wg_device *d = s->dev;
    switch (mnl_attr_get_type(a)) {
    case WGDEVICE_A_PRIVATE_KEY: {
        if (!payload_is(a, NN_KEY_LEN))
            return dump_error(s, "private key of %u bytes", mnl_attr_get_payload_len(a));
        nn_key key;
        memcpy(key.bytes, mnl_attr_get_payload(a), NN_KEY_LEN);
        crypto_scalarmult_base(d->public_key.bytes, key.bytes);
        sodium_memzero(&key, sizeof(key));
        d->flags |= NN_WG_HAS_PRIVATE_KEY;
        break;
    }
    case WGDEVICE_A_LISTEN_PORT:
        if (!payload_is(a, 2))
            return dump_error(s, "listen port is not 2 bytes");
        d->listen_port = mnl_attr_get_u16(a);
        d->flags |= NN_WG_HAS_LISTEN_PORT;
        break;
    case WGDEVICE_A_PEERS: {
        const struct nlattr *peer;
        mnl_attr_for_each_nested(peer, a) if (parse_peer(s, peer) != MNL_CB_OK) return MNL_CB_ERROR;
        break;
    }
    }
    return MNL_CB_OK;
}

static int dump_message(const struct nlmsghdr *nlh, void *data)
{
    dump_state *s = data;
    s->message++;
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct genlmsghdr))
        return dump_error(s, "shorter than its generic netlink header");
    const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
    if (g->cmd != WG_CMD_GET_DEVICE)
        return dump_error(s, "command %u is not GET_DEVICE", g->cmd);
    if (mnl_attr_parse(nlh, sizeof(*g), device_attr, s) != MNL_CB_OK)
        return dump_error(s, "an attribute overruns the message");
    return MNL_CB_OK;
}

/* libmnl compares nlmsg_len as an int: a length of 2^31 or more would
 * pass its check and walk off the buffer. So every message is framed
 * first: NULL when all lie inside buf, else the problem, with *which the
 * 1-based number of the first that does not. */
static const char *unframed(const void *buf, size_t len, size_t *which)
{
    for (size_t off = 0, k = 1; off < len; k++) {
        struct nlmsghdr h;
        *which = k;
        if (len - off < sizeof(h))
            return "a partial message header ends the answer";
        memcpy(&h, (const char *)buf + off, sizeof(h));
        if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - off)
            return "its length overruns the answer";
        off += NLMSG_ALIGN(h.nlmsg_len) < len - off ? NLMSG_ALIGN(h.nlmsg_len) : len - off;
    }
    return NULL;
}

/* Runs the framed messages in buf through cb (NULL: none expected): 1 at
 * NLMSG_DONE or the ACK, 0 when more are to come, else a negative errno:
 * the kernel's own from an NLMSG_ERROR, -EPROTO for a message libmnl or cb
 * refused. */
static int run(const void *buf, size_t len, unsigned seq, unsigned portid, mnl_cb_t cb, void *data)
{
    errno = 0;
    int r = mnl_cb_run(buf, len, seq, portid, cb, data);
    if (r == MNL_CB_STOP)
        return 1;
    if (r == MNL_CB_OK)
        return 0;
    return errno > 0 && errno < 4096 ? -errno : -EPROTO;
}

/* A complete dump: sorted, refusing a key seen twice. */
static int dump_finish(dump_state *s)
{
    if (nn_wg_device_sort(s->dev) == 0)
        return 0;
    dump_error(s, "a public key appears twice");
    return s->r;
}

int nn_wgnl_parse_dump(const void *data, size_t len, nn_wg_device *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof(*out));
    dump_state s = {.dev = out, .why = why, .why_len = why_len};
    size_t which;
    const char *problem = unframed(data, len, &which);
    int r = problem ? 0 : run(data, len, 0, 0, dump_message, &s);
    if (problem) {
        s.message = which;
        dump_error(&s, "%s", problem);
        r = s.r;
    } else if (s.r) { /* dump_message's own refusal, with its why */
        r = s.r;
    } else if (r == 0) {
        dump_error(&s, "the answer ends without NLMSG_DONE");
        r = s.r;
    } else if (r < 0) { /* an NLMSG_ERROR, or a message libmnl refused */
        if (why && why_len)
            snprintf(why, why_len, "wireguard netlink: %s", strerror(-r));
    } else {
        r = dump_finish(&s);
    }
    if (r)
        nn_wg_device_free(out);
    return r;
}

/* ---- SET_DEVICE ------------------------------------------------------- */

static struct nlmsghdr *set_begin(char *buf, uint16_t family, uint32_t seq, const char *ifname)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = family;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    nlh->nlmsg_seq = seq;
    struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
    g->cmd = WG_CMD_SET_DEVICE;
    g->version = WG_GENL_VERSION;
    mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname);
    return nlh;
}

static bool put_endpoint(struct nlmsghdr *nlh, const nn_wg_endpoint *e)
{
    if (e->family == NN_AF_INET6) {
        struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(e->port)};
        memcpy(&sin6.sin6_addr, e->addr, 16);
        return mnl_attr_put_check(nlh, NN_WGNL_SET_MAX, WGPEER_A_ENDPOINT, sizeof(sin6), &sin6);
    }
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(e->port)};
    memcpy(&sin.sin_addr, e->addr, 4);
    return mnl_attr_put_check(nlh, NN_WGNL_SET_MAX, WGPEER_A_ENDPOINT, sizeof(sin), &sin);
}

static bool put_allowed_ip(struct nlmsghdr *nlh, const nn_prefix *pf)
{
    struct nlattr *nest = mnl_attr_nest_start_check(nlh, NN_WGNL_SET_MAX, 0);
    bool v6 = pf->family == NN_AF_INET6;
    if (nest &&
        mnl_attr_put_u16_check(nlh, NN_WGNL_SET_MAX, WGALLOWEDIP_A_FAMILY,
                               v6 ? AF_INET6 : AF_INET) &&
        mnl_attr_put_check(nlh, NN_WGNL_SET_MAX, WGALLOWEDIP_A_IPADDR, v6 ? 16 : 4, pf->addr) &&
        mnl_attr_put_u8_check(nlh, NN_WGNL_SET_MAX, WGALLOWEDIP_A_CIDR_MASK, pf->len)) {
        mnl_attr_nest_end(nlh, nest);
        return true;
    }
    if (nest)
        mnl_attr_nest_cancel(nlh, nest);
    return false;
}

/* The head of a peer: its key and, unless it continues one begun in an
 * earlier message, its flags, endpoint and keepalive. */
static bool put_peer_head(struct nlmsghdr *nlh, const nn_wg_peer *p, bool continued)
{
    uint32_t flags = 0;
    if (continued || p->flags & NN_WG_PEER_UPDATE_ONLY)
        flags |= WGPEER_F_UPDATE_ONLY; /* a continuation never creates a peer */
    if (p->flags & NN_WG_PEER_REMOVE)
        flags = WGPEER_F_REMOVE_ME;
    if (!continued && p->flags & NN_WG_PEER_REPLACE_ALLOWED_IPS)
        flags |= WGPEER_F_REPLACE_ALLOWEDIPS;
    if (!mnl_attr_put_check(nlh, NN_WGNL_SET_MAX, WGPEER_A_PUBLIC_KEY, NN_KEY_LEN,
                            p->public_key.bytes) ||
        !mnl_attr_put_u32_check(nlh, NN_WGNL_SET_MAX, WGPEER_A_FLAGS, flags))
        return false;
    if (continued || p->flags & NN_WG_PEER_REMOVE)
        return true;
    if (p->flags & NN_WG_PEER_HAS_ENDPOINT && p->endpoint.family &&
        !put_endpoint(nlh, &p->endpoint))
        return false;
    return !(p->flags & NN_WG_PEER_HAS_KEEPALIVE) ||
           mnl_attr_put_u16_check(nlh, NN_WGNL_SET_MAX, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
                                  p->keepalive);
}

/* Puts as much of peer p, from allowed IP *j on, as fits. 1 = all of it,
 * 0 = the message is full (*j says where the next one resumes). */
static int put_peer(struct nlmsghdr *nlh, const nn_wg_peer *p, size_t *j)
{
    struct nlattr *nest = mnl_attr_nest_start_check(nlh, NN_WGNL_SET_MAX, 0);
    if (!nest)
        return 0;
    if (!put_peer_head(nlh, p, *j > 0)) {
        mnl_attr_nest_cancel(nlh, nest);
        return 0;
    }
    bool replace = !(p->flags & NN_WG_PEER_REMOVE) && p->flags & NN_WG_PEER_REPLACE_ALLOWED_IPS;
    if (replace && *j < p->n_allowed) {
        size_t start = *j;
        struct nlattr *ips = mnl_attr_nest_start_check(nlh, NN_WGNL_SET_MAX, WGPEER_A_ALLOWEDIPS);
        while (ips && *j < p->n_allowed && put_allowed_ip(nlh, &p->allowed[*j]))
            (*j)++;
        if (!ips || *j == start) { /* not even one: the whole peer waits */
            if (ips)
                mnl_attr_nest_cancel(nlh, ips);
            mnl_attr_nest_cancel(nlh, nest);
            return 0;
        }
        mnl_attr_nest_end(nlh, ips);
    }
    mnl_attr_nest_end(nlh, nest);
    if (replace && *j < p->n_allowed)
        return 0;
    *j = 0;
    return 1;
}

int nn_wgnl_format_set(uint16_t family, const char *ifname, const nn_wg_device *change,
                       uint32_t seq, nn_buf *out)
{
    char *buf = malloc(NN_WGNL_SET_MAX);
    if (!buf)
        abort();
    int messages = 0;
    size_t i = 0, j = 0;
    do {
        struct nlmsghdr *nlh = set_begin(buf, family, seq + (uint32_t)messages, ifname);
        if (messages == 0) {
            if (change->flags & NN_WG_HAS_PRIVATE_KEY)
                mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, NN_KEY_LEN, change->private_key.bytes);
            if (change->flags & NN_WG_HAS_LISTEN_PORT)
                mnl_attr_put_u16(nlh, WGDEVICE_A_LISTEN_PORT, change->listen_port);
        }
        if (i < change->n_peers) {
            size_t before_i = i, before_j = j;
            struct nlattr *peers =
                mnl_attr_nest_start_check(nlh, NN_WGNL_SET_MAX, WGDEVICE_A_PEERS);
            while (peers && i < change->n_peers && put_peer(nlh, &change->peers[i], &j))
                i++;
            if (peers)
                mnl_attr_nest_end(nlh, peers);
            if (i == before_i && j == before_j) { /* a peer larger than a message */
                messages = -EMSGSIZE;
                break;
            }
        }
        nn_buf_append(out, nlh, nlh->nlmsg_len);
        messages++;
    } while (i < change->n_peers);
    sodium_memzero(buf, NN_WGNL_SET_MAX);
    free(buf);
    return messages;
}

/* ---- the socket --------------------------------------------------------- */

typedef struct genl {
    struct mnl_socket *nl;
    unsigned portid;
    uint16_t family;
    char *buf; /* DUMP_BUF_SIZE */
} genl;

static int family_attr(const struct nlattr *a, void *data)
{
    if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID && payload_is(a, 2))
        *(uint16_t *)data = mnl_attr_get_u16(a);
    return MNL_CB_OK;
}

static int family_message(const struct nlmsghdr *nlh, void *data)
{
    return mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr, data);
}

/* Reads answers to seq until its ACK or the dump's end. */
static int genl_wait(genl *g, unsigned seq, mnl_cb_t cb, void *data)
{
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(g->nl, g->buf, DUMP_BUF_SIZE);
        if (n < 0)
            return errno == EAGAIN ? -ETIMEDOUT : -errno;
        size_t which;
        if (unframed(g->buf, (size_t)n, &which))
            return -EBADMSG;
        int r = run(g->buf, (size_t)n, seq, g->portid, cb, data);
        if (r)
            return r > 0 ? 0 : r;
    }
}

static void genl_close(genl *g)
{
    if (g->nl)
        mnl_socket_close(g->nl);
    free(g->buf);
}

/* Opens the socket and looks the "wireguard" family up, which loads the
 * module when the kernel has it. */
static int genl_open(genl *g)
{
    memset(g, 0, sizeof(*g));
    g->buf = malloc(DUMP_BUF_SIZE);
    g->nl = mnl_socket_open(NETLINK_GENERIC);
    if (!g->buf || !g->nl || mnl_socket_bind(g->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        int e = errno ? errno : ENOMEM;
        genl_close(g);
        return -e;
    }
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    setsockopt(mnl_socket_get_fd(g->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    g->portid = mnl_socket_get_portid(g->nl);
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(g->buf);
    nlh->nlmsg_type = GENL_ID_CTRL;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    nlh->nlmsg_seq = (unsigned)time(NULL);
    struct genlmsghdr *h = mnl_nlmsg_put_extra_header(nlh, sizeof(*h));
    h->cmd = CTRL_CMD_GETFAMILY;
    h->version = 1;
    mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
    int r = mnl_socket_sendto(g->nl, nlh, nlh->nlmsg_len) < 0
                ? -errno
                : genl_wait(g, nlh->nlmsg_seq, family_message, &g->family);
    if (r == -ENOENT || (!r && !g->family))
        r = -EOPNOTSUPP; /* no such family: the kernel has no WireGuard */
    if (r)
        genl_close(g);
    return r;
}

static int io_error(int r, const char *ifname, const char *what, char *why, size_t why_len)
{
    if (why && why_len)
        snprintf(why, why_len, "%s: kernel wireguard %s: %s", ifname, what,
                 r == -EOPNOTSUPP ? "this kernel has no WireGuard module" : strerror(-r));
    return r;
}

int nn_wgnl_get(const char *ifname, nn_wg_device *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof(*out));
    if (!nn_wg_ifname_valid(ifname))
        return io_error(-EINVAL, ifname, "get", why, why_len);
    genl g;
    int r = genl_open(&g);
    if (r)
        return io_error(r, ifname, "get", why, why_len);
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(g.buf);
    nlh->nlmsg_type = g.family;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP;
    nlh->nlmsg_seq = (unsigned)time(NULL) + 1;
    struct genlmsghdr *h = mnl_nlmsg_put_extra_header(nlh, sizeof(*h));
    h->cmd = WG_CMD_GET_DEVICE;
    h->version = WG_GENL_VERSION;
    mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname);
    dump_state s = {.dev = out, .why = why, .why_len = why_len};
    if (mnl_socket_sendto(g.nl, nlh, nlh->nlmsg_len) < 0)
        r = io_error(-errno, ifname, "get", why, why_len);
    else if ((r = genl_wait(&g, nlh->nlmsg_seq, dump_message, &s)))
        /* dump_message's refusal keeps its why; else the kernel's own
         * (ENODEV, EOPNOTSUPP) or the socket's */
        r = s.r ? s.r : io_error(r, ifname, "get", why, why_len);
    else
        r = dump_finish(&s);
    sodium_memzero(g.buf, DUMP_BUF_SIZE);
    genl_close(&g);
    if (r)
        nn_wg_device_free(out);
    return r;
}

int nn_wgnl_set(const char *ifname, const nn_wg_device *change, char *why, size_t why_len)
{
    if (!nn_wg_ifname_valid(ifname))
        return io_error(-EINVAL, ifname, "set", why, why_len);
    genl g;
    int r = genl_open(&g);
    if (r)
        return io_error(r, ifname, "set", why, why_len);
    nn_buf msgs = NN_BUF_INIT;
    uint32_t seq = (uint32_t)time(NULL) + 2;
    int n = nn_wgnl_format_set(g.family, ifname, change, seq, &msgs);
    if (n < 0) {
        r = io_error(n, ifname, "set", why, why_len);
        goto done;
    }
    size_t off = 0;
    for (int k = 0; k < n; k++) {
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)(msgs.data + off);
        if (mnl_socket_sendto(g.nl, nlh, nlh->nlmsg_len) < 0 ||
            (errno = 0, r = genl_wait(&g, nlh->nlmsg_seq, NULL, NULL))) {
            r = io_error(r ? r : -errno, ifname, "set", why, why_len);
            break;
        }
        off += NLMSG_ALIGN(nlh->nlmsg_len);
    }
done:
    if (msgs.data)
        sodium_memzero(msgs.data, msgs.len);
    nn_buf_free(&msgs);
    genl_close(&g);
    return r;
}
