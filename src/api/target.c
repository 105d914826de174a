#include "api/target.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decodes [s, s + n) into out (NUL-terminated). -EINVAL for an
 * invalid sequence or an encoded NUL or slash: those can only be tricks
 * (a NUL would cut a name short and act on its parent; a slash would move
 * a segment boundary). */
static int pct_decode(const char *s, size_t n, char *out, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
            if (lo < 0)
                return -EINVAL;
            ch = (char)(hi * 16 + lo);
            if (ch == '\0' || ch == '/')
                return -EINVAL;
            i += 2;
        } else if (ch == '\0') {
            return -EINVAL;
        }
        out[o++] = ch;
    }
    out[o] = '\0';
    *out_len = o;
    return 0;
}

int api_path_decode(const char *target, char *buf, size_t len, const char **seg, size_t *nseg,
                    size_t max_seg)
{
    static const char prefix[] = "/api/v1/";
    *nseg = 0;
    if (!target || strncmp(target, prefix, sizeof(prefix) - 1) != 0)
        return -ENOENT;
    const char *p = target + sizeof(prefix) - 1;
    size_t plen = strcspn(p, "?");
    if (plen + 1 > len)
        return -E2BIG;
    size_t o = 0;
    while (plen > 0) {
        size_t n = strcspn(p, "/?");
        if (n > plen)
            n = plen;
        if (n == 0)
            return -ENOENT; /* an empty segment: "a//b", or a trailing slash */
        if (*nseg == max_seg)
            return -E2BIG;
        size_t dlen;
        int r = pct_decode(p, n, buf + o, &dlen);
        if (r)
            return r;
        seg[(*nseg)++] = buf + o;
        o += dlen + 1;
        p += n;
        plen -= n;
        if (plen > 0) { /* the slash */
            p++;
            plen--;
            if (plen == 0)
                return -ENOENT;
        }
    }
    return *nseg ? 0 : -ENOENT;
}

int api_query_next(const char **q, char *key, size_t klen, char *value, size_t vlen)
{
    const char *p = *q;
    if (!*p || (*p == '?' || *p == '&' ? !*++p : false))
        return 0;
    size_t n = strcspn(p, "&");
    const char *eq = memchr(p, '=', n);
    size_t kraw = eq ? (size_t)(eq - p) : n, vraw = eq ? n - kraw - 1 : 0, len;
    *q = p + n;
    if (kraw == 0 || kraw >= klen || vraw >= vlen || pct_decode(p, kraw, key, &len) ||
        (eq && pct_decode(eq + 1, vraw, value, &len)))
        return -EINVAL;
    if (!eq)
        value[0] = '\0';
    return 1;
}
