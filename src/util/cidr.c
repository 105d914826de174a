#include "util/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

size_t nn_prefix_addr_bytes(const nn_prefix *p)
{
    return p->family == NN_AF_INET4 ? 4 : 16;
}

static bool host_bits_zero(const nn_prefix *p)
{
    size_t bytes = nn_prefix_addr_bytes(p);
    for (size_t bit = p->len; bit < bytes * 8; bit++)
        if (p->addr[bit / 8] & (0x80 >> (bit % 8)))
            return false;
    return true;
}

int nn_addr_parse(const char *s, nn_prefix *out)
{
    memset(out, 0, sizeof(*out));
    if (!s)
        return -EINVAL;
    /* inet_pton accepts exactly the dotted quad for AF_INET (no octal, no
     * shorthand), which is the strictness we want. */
    if (strchr(s, ':')) {
        if (inet_pton(AF_INET6, s, out->addr) != 1)
            return -EINVAL;
        out->family = NN_AF_INET6;
        out->len = 128;
    } else {
        if (inet_pton(AF_INET, s, out->addr) != 1)
            return -EINVAL;
        out->family = NN_AF_INET4;
        out->len = 32;
    }
    return 0;
}

int nn_prefix_parse(const char *s, bool require_network, bool allow_bare, nn_prefix *out,
                    const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    *why = NULL;
    memset(out, 0, sizeof(*out));
    if (!s) {
        *why = "missing";
        return -EINVAL;
    }
    char host[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(s, '/');
    size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
    if (hlen == 0 || hlen >= sizeof(host)) {
        *why = "is not an IP address or prefix";
        return -EINVAL;
    }
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (nn_addr_parse(host, out) != 0) {
        *why = "is not an IP address or prefix";
        return -EINVAL;
    }
    unsigned max = out->family == NN_AF_INET4 ? 32 : 128;
    if (!slash) {
        if (!allow_bare) {
            *why = "needs a prefix length (\"/N\")";
            return -EINVAL;
        }
        return 0;
    }
    const char *n = slash + 1;
    if (*n == '\0' || strlen(n) > 3) {
        *why = "has a bad prefix length";
        return -EINVAL;
    }
    unsigned len = 0;
    for (const char *c = n; *c; c++) {
        if (*c < '0' || *c > '9') {
            *why = "has a bad prefix length";
            return -EINVAL;
        }
        len = len * 10 + (unsigned)(*c - '0');
    }
    if ((n[0] == '0' && n[1] != '\0') || len > max) {
        *why = "has a bad prefix length";
        return -EINVAL;
    }
    out->len = (uint8_t)len;
    if (require_network && !host_bits_zero(out)) {
        *why = "has host bits set (not a network address)";
        return -EINVAL;
    }
    return 0;
}

char *nn_prefix_format(const nn_prefix *p, bool with_len, char *buf)
{
    char a[INET6_ADDRSTRLEN];
    if (p->family == NN_AF_INET4)
        inet_ntop(AF_INET, p->addr, a, sizeof(a));
    else if (p->family == NN_AF_INET6)
        inet_ntop(AF_INET6, p->addr, a, sizeof(a));
    else
        snprintf(a, sizeof(a), "?");
    if (with_len)
        snprintf(buf, NN_PREFIX_STRLEN, "%s/%u", a, p->len);
    else
        snprintf(buf, NN_PREFIX_STRLEN, "%s", a);
    return buf;
}

int nn_prefix_cmp(const nn_prefix *a, const nn_prefix *b)
{
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    int c = memcmp(a->addr, b->addr, nn_prefix_addr_bytes(a));
    if (c)
        return c < 0 ? -1 : 1;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return 0;
}

static bool same_leading_bits(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, full) != 0)
        return false;
    if (rest) {
        uint8_t mask = (uint8_t)(0xff << (8 - rest));
        if ((a[full] & mask) != (b[full] & mask))
            return false;
    }
    return true;
}

bool nn_prefix_contains(const nn_prefix *outer, const nn_prefix *inner)
{
    if (outer->family != inner->family || outer->len > inner->len)
        return false;
    return same_leading_bits(outer->addr, inner->addr, outer->len);
}

bool nn_prefix_overlaps(const nn_prefix *a, const nn_prefix *b)
{
    return nn_prefix_contains(a, b) || nn_prefix_contains(b, a);
}

nn_prefix nn_prefix_host(const nn_prefix *addr)
{
    nn_prefix p = *addr;
    p.len = p.family == NN_AF_INET4 ? 32 : 128;
    return p;
}
