/* nn_uapi: parsing and writing the WireGuard userspace API text, and the
 * one-connection-per-call socket client. */
#include "agent/uapi.h"

#include "agent/msg.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define LINE_MAX_LEN 512 /* the longest real line is an IPv6 endpoint or prefix */
#define IO_TIMEOUT_S 30

static int protocol_error(char *why, size_t why_len, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int protocol_error(char *why, size_t why_len, size_t line, const char *fmt, ...)
{
    if (why && why_len) {
        int n = snprintf(why, why_len, "uapi line %zu: ", line);
        if (n > 0 && (size_t)n < why_len) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(why + n, why_len - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -EPROTO;
}

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool hex_key(const char *v, size_t n, nn_key *out)
{
    if (n != 2 * NN_KEY_LEN)
        return false;
    for (size_t i = 0; i < NN_KEY_LEN; i++) {
        int hi = hex_nibble(v[2 * i]), lo = hex_nibble(v[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out->bytes[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static bool decimal(const char *v, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        uint64_t d = (uint64_t)(v[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    if (x > max)
        return false;
    *out = x;
    return true;
}

static bool key_is(const char *k, size_t kn, const char *name)
{
    return strlen(name) == kn && memcmp(k, name, kn) == 0;
}

/* One key=value line into the device or its last peer. 1 = the errno line
 * (*err set), 0 = consumed, negative = malformed. */
static int parse_line(const char *k, size_t kn, const char *v, size_t vn, nn_wg_device *d,
                      nn_wg_peer **peer, int *err, char *why, size_t why_len, size_t line)
{
    uint64_t x;
    nn_key key;
    if (key_is(k, kn, "errno")) {
        bool neg = vn > 0 && v[0] == '-';
        if (!decimal(v + neg, vn - neg, 4095, &x))
            return protocol_error(why, why_len, line, "errno is not a number");
        *err = (int)x;
        return 1;
    }
    if (key_is(k, kn, "public_key")) {
        if (!hex_key(v, vn, &key))
            return protocol_error(why, why_len, line, "public_key is not 64 hex digits");
        *peer = nn_wg_device_add_peer(d, &key);
        return 0;
    }
    if (!*peer) { /* device keys */
        if (key_is(k, kn, "private_key")) {
            if (!hex_key(v, vn, &key))
                return protocol_error(why, why_len, line, "private_key is not 64 hex digits");
            crypto_scalarmult_base(d->public_key.bytes, key.bytes);
            sodium_memzero(&key, sizeof(key));
            d->flags |= NN_WG_HAS_PRIVATE_KEY;
        } else if (key_is(k, kn, "listen_port")) {
            if (!decimal(v, vn, 65535, &x))
                return protocol_error(why, why_len, line, "listen_port out of range");
            d->listen_port = (uint16_t)x;
            d->flags |= NN_WG_HAS_LISTEN_PORT;
        } else if (key_is(k, kn, "fwmark")) {
            if (!decimal(v, vn, UINT32_MAX, &x))
                return protocol_error(why, why_len, line, "fwmark out of range");
        } else if (key_is(k, kn, "allowed_ip") || key_is(k, kn, "endpoint")) {
            return protocol_error(why, why_len, line, "%.*s before any public_key", (int)kn, k);
        }
        return 0; /* newer device keys are not ours to judge */
    }
    nn_wg_peer *p = *peer;
    if (key_is(k, kn, "endpoint")) {
        if (nn_wg_endpoint_parse(v, vn, &p->endpoint))
            return protocol_error(why, why_len, line, "endpoint \"%.*s\" is not ADDR:PORT",
                                  (int)(vn > 64 ? 64 : vn), v);
    } else if (key_is(k, kn, "allowed_ip")) {
        char text[NN_PREFIX_STRLEN];
        nn_prefix pf;
        const char *reason = NULL;
        if (vn >= sizeof(text))
            return protocol_error(why, why_len, line, "allowed_ip too long");
        memcpy(text, v, vn);
        text[vn] = '\0';
        if (memchr(v, '\0', vn) || nn_prefix_parse(text, false, false, &pf, &reason))
            return protocol_error(why, why_len, line, "allowed_ip \"%s\" is not a prefix", text);
        nn_wg_peer_add_allowed(p, &pf);
    } else if (key_is(k, kn, "persistent_keepalive_interval")) {
        if (!decimal(v, vn, 65535, &x))
            return protocol_error(why, why_len, line, "persistent_keepalive_interval out of range");
        p->keepalive = (uint16_t)x;
    } else if (key_is(k, kn, "last_handshake_time_sec")) {
        if (!decimal(v, vn, INT64_MAX, &x))
            return protocol_error(why, why_len, line, "last_handshake_time_sec out of range");
        p->last_handshake_sec = (int64_t)x;
    } else if (key_is(k, kn, "rx_bytes") || key_is(k, kn, "tx_bytes")) {
        if (!decimal(v, vn, UINT64_MAX, &x))
            return protocol_error(why, why_len, line, "%.*s is not a number", (int)kn, k);
        *(k[0] == 'r' ? &p->rx_bytes : &p->tx_bytes) = x;
    } else if (key_is(k, kn, "preshared_key")) {
        if (!hex_key(v, vn, &key))
            return protocol_error(why, why_len, line, "preshared_key is not 64 hex digits");
        sodium_memzero(&key, sizeof(key));
    }
    return 0;
}

int nn_uapi_parse_get(const char *text, size_t len, nn_wg_device *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof(*out));
    nn_wg_peer *peer = NULL;
    int err = 0, r = 0;
    bool ended = false, closed = false;
    size_t line = 0, pos = 0;
    if (len > NN_UAPI_MAX_RESPONSE) {
        r = protocol_error(why, why_len, 0, "answer larger than %u bytes", NN_UAPI_MAX_RESPONSE);
        goto out;
    }
    while (pos < len) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        line++;
        if (!nl) {
            r = protocol_error(why, why_len, line, "unterminated line");
            goto out;
        }
        size_t n = (size_t)(nl - s);
        pos += n + 1;
        if (ended) { /* only the closing blank line may follow the errno line */
            if (n != 0 || pos != len) {
                r = protocol_error(why, why_len, line, "text after the errno line");
                goto out;
            }
            closed = true;
            break;
        }
        const char *eq = memchr(s, '=', n);
        if (n == 0 || n > LINE_MAX_LEN || !eq || eq == s) {
            r = protocol_error(why, why_len, line,
                               n == 0 ? "blank line before errno" : "not a key=value line");
            goto out;
        }
        r = parse_line(s, (size_t)(eq - s), eq + 1, n - (size_t)(eq - s) - 1, out, &peer, &err, why,
                       why_len, line);
        if (r < 0)
            goto out;
        if (r == 1) {
            ended = true;
            r = 0;
        }
    }
    if (!closed) {
        r = protocol_error(why, why_len, line, "answer ends without errno=N and a blank line");
        goto out;
    }
    if (err) {
        if (why && why_len)
            snprintf(why, why_len, "device answered errno=%d", err);
        r = -err;
        goto out;
    }
    if (nn_wg_device_sort(out))
        r = protocol_error(why, why_len, line, "a public key appears twice");
out:
    if (r)
        nn_wg_device_free(out);
    return r;
}

static void put_hex_key(nn_buf *out, const char *name, const nn_key *k)
{
    static const char digits[] = "0123456789abcdef";
    char hex[2 * NN_KEY_LEN];
    for (size_t i = 0; i < NN_KEY_LEN; i++) {
        hex[2 * i] = digits[k->bytes[i] >> 4];
        hex[2 * i + 1] = digits[k->bytes[i] & 15];
    }
    nn_buf_puts(out, name);
    nn_buf_append(out, hex, sizeof(hex));
    nn_buf_putc(out, '\n');
    sodium_memzero(hex, sizeof(hex));
}

void nn_uapi_format_set(const nn_wg_device *change, nn_buf *out)
{
    nn_buf_puts(out, "set=1\n");
    if (change->flags & NN_WG_HAS_PRIVATE_KEY)
        put_hex_key(out, "private_key=", &change->private_key);
    if (change->flags & NN_WG_HAS_LISTEN_PORT)
        nn_buf_printf(out, "listen_port=%u\n", change->listen_port);
    for (size_t i = 0; i < change->n_peers; i++) {
        const nn_wg_peer *p = &change->peers[i];
        put_hex_key(out, "public_key=", &p->public_key);
        if (p->flags & NN_WG_PEER_REMOVE) {
            nn_buf_puts(out, "remove=true\n");
            continue;
        }
        if (p->flags & NN_WG_PEER_UPDATE_ONLY)
            nn_buf_puts(out, "update_only=true\n");
        if (p->flags & NN_WG_PEER_HAS_ENDPOINT && p->endpoint.family) {
            char ep[56];
            nn_buf_printf(out, "endpoint=%s\n", nn_wg_endpoint_format(&p->endpoint, ep));
        }
        if (p->flags & NN_WG_PEER_HAS_KEEPALIVE)
            nn_buf_printf(out, "persistent_keepalive_interval=%u\n", p->keepalive);
        if (p->flags & NN_WG_PEER_REPLACE_ALLOWED_IPS) {
            nn_buf_puts(out, "replace_allowed_ips=true\n");
            for (size_t j = 0; j < p->n_allowed; j++) {
                char text[NN_PREFIX_STRLEN];
                nn_buf_printf(out, "allowed_ip=%s\n", nn_prefix_format(&p->allowed[j], true, text));
            }
        }
    }
    nn_buf_putc(out, '\n');
}

static int uapi_connect(const char *ifname)
{
    if (!nn_wg_ifname_valid(ifname))
        return -EINVAL;
    char path[108];
    snprintf(path, sizeof(path), "%s/%s.sock", NN_UAPI_SOCKET_DIR, ifname);
    int fd = nn_msg_connect(path, IO_TIMEOUT_S);
    /* a stale socket file of an interface that is gone: no such device */
    return fd == -ECONNREFUSED ? -ENOENT : fd;
}

/* Reads until the answer's closing blank line. Answer lines are never
 * empty, so "\n\n" can only be the end; the device keeps the connection
 * open for another request, so EOF is not the signal. */
static int read_answer(int fd, nn_buf *in)
{
    for (;;) {
        if (in->len >= 2 && in->data[in->len - 1] == '\n' && in->data[in->len - 2] == '\n')
            return 0;
        if (in->len > NN_UAPI_MAX_RESPONSE)
            return -EMSGSIZE;
        nn_buf_reserve(in, 65536);
        ssize_t r = nn_sock_recv_some(fd, in->data + in->len, in->cap - in->len - 1);
        if (r < 0)
            return (int)r;
        in->len += (size_t)r;
        in->data[in->len] = '\0';
    }
}

static int io_error(int r, const char *ifname, const char *what, char *why, size_t why_len)
{
    if (why && why_len)
        snprintf(why, why_len, "%s/%s.sock: %s: %s", NN_UAPI_SOCKET_DIR, ifname, what,
                 strerror(-r));
    return r;
}

int nn_uapi_get(const char *ifname, nn_wg_device *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof(*out));
    nn_buf in = NN_BUF_INIT;
    int fd = uapi_connect(ifname), r;
    if (fd < 0)
        return io_error(fd, ifname, "connect", why, why_len);
    static const char request[] = "get=1\n\n";
    if ((r = nn_sock_send_all(fd, request, sizeof(request) - 1)) || (r = read_answer(fd, &in))) {
        r = io_error(r, ifname, "get", why, why_len);
        goto out;
    }
    r = nn_uapi_parse_get(in.data, in.len, out, why, why_len);
out:
    close(fd);
    if (in.data)
        sodium_memzero(in.data, in.len);
    nn_buf_free(&in);
    return r;
}

int nn_uapi_set(const char *ifname, const nn_wg_device *change, char *why, size_t why_len)
{
    nn_buf req = NN_BUF_INIT, in = NN_BUF_INIT;
    int fd = uapi_connect(ifname), r;
    if (fd < 0)
        return io_error(fd, ifname, "connect", why, why_len);
    nn_uapi_format_set(change, &req);
    if ((r = nn_sock_send_all(fd, req.data, req.len)) || (r = read_answer(fd, &in))) {
        r = io_error(r, ifname, "set", why, why_len);
        goto out;
    }
    uint64_t e = 0;
    bool neg = in.len > 8 && in.data[6] == '-';
    if (in.len < 9 || memcmp(in.data, "errno=", 6) != 0 ||
        !decimal(in.data + 6 + neg, in.len - 8 - neg, 4095, &e)) {
        r = protocol_error(why, why_len, 1, "set answered something other than errno=N");
        goto out;
    }
    if (e) {
        if (why && why_len)
            snprintf(why, why_len, "%s: set refused with errno=%s%" PRIu64 " (%s)", ifname,
                     neg ? "-" : "", e, strerror((int)e));
        r = -(int)e;
    }
out:
    close(fd);
    sodium_memzero(req.data, req.len);
    nn_buf_free(&req);
    nn_buf_free(&in);
    return r;
}
