/* The manager <-> daemon frames (see msg.h). */
#include "agent/msg.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

static int is_request(uint8_t t)
{
    return t == NN_MSG_HELLO || t == NN_MSG_PIN || t == NN_MSG_APPLY || t == NN_MSG_STATUS;
}

int nn_msg_header_parse(const uint8_t h[NN_MSG_HEADER_LEN], int request, uint8_t *type,
                        uint32_t *len)
{
    if (h[0] != 'N' || h[1] != 'N' || h[2] != NN_MSG_VERSION)
        return -EPROTO;
    uint8_t t = h[3];
    if (request ? !is_request(t) : (t != NN_MSG_OK && t != NN_MSG_ERROR))
        return -EPROTO;
    uint32_t n = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
    /* Only an envelope (or a reply about one) may be large. */
    uint32_t max = t == NN_MSG_APPLY || !request ? NN_MSG_MAX_PAYLOAD : NN_MSG_MAX_SMALL;
    if (n > max)
        return -EMSGSIZE;
    *type = t;
    *len = n;
    return 0;
}

static int is_b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=';
}

int nn_msg_apply_split(const char *payload, size_t len, char sig[NN_ENVELOPE_SIG_MAX],
                       const char **envelope, size_t *envelope_len)
{
    size_t n = 0;
    while (n < len && n < NN_ENVELOPE_SIG_MAX - 1 && payload[n] != '\n') {
        if (!is_b64(payload[n]) && payload[n] != '.')
            return -EPROTO;
        n++;
    }
    if (n == 0 || n >= len - 1 || payload[n] != '\n')
        return -EPROTO;
    memcpy(sig, payload, n);
    sig[n] = '\0';
    *envelope = payload + n + 1;
    *envelope_len = len - n - 1;
    return 0;
}

int nn_sock_send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno == EAGAIN ? -ETIMEDOUT : -errno;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int nn_msg_send(int fd, uint8_t type, const void *payload, size_t len)
{
    if (len > NN_MSG_MAX_PAYLOAD)
        return -EMSGSIZE;
    uint8_t h[NN_MSG_HEADER_LEN] = {'N',
                                    'N',
                                    NN_MSG_VERSION,
                                    type,
                                    (uint8_t)(len >> 24),
                                    (uint8_t)(len >> 16),
                                    (uint8_t)(len >> 8),
                                    (uint8_t)len};
    int r = nn_sock_send_all(fd, h, sizeof(h));
    return r || !len ? r : nn_sock_send_all(fd, payload, len);
}

ssize_t nn_sock_recv_some(int fd, void *buf, size_t len)
{
    for (;;) {
        ssize_t r = recv(fd, buf, len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno == EAGAIN ? -ETIMEDOUT : -errno;
        return r == 0 ? -ECONNRESET : r;
    }
}

static int recv_exact(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t r = nn_sock_recv_some(fd, p, len);
        if (r < 0)
            return (int)r;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

int nn_msg_recv(int fd, int request, uint8_t *type, nn_buf *payload)
{
    uint8_t h[NN_MSG_HEADER_LEN];
    uint32_t len;
    nn_buf_reset(payload);
    int r = recv_exact(fd, h, sizeof(h));
    if (r == 0)
        r = nn_msg_header_parse(h, request, type, &len);
    if (r)
        return r;
    nn_buf_reserve(payload, (size_t)len + 1);
    if ((r = recv_exact(fd, payload->data, len)))
        return r;
    payload->len = len;
    payload->data[len] = '\0';
    return 0;
}

int nn_msg_connect(const char *path, unsigned timeout_s)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct timeval tv = {.tv_sec = timeout_s};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

int nn_msg_call(const char *path, unsigned timeout_s, uint8_t type, const void *payload, size_t len,
                uint8_t *reply_type, nn_buf *reply)
{
    int fd = nn_msg_connect(path, timeout_s);
    if (fd < 0)
        return fd;
    int r = nn_msg_send(fd, type, payload, len);
    if (r == 0)
        r = nn_msg_recv(fd, 0, reply_type, reply);
    close(fd);
    return r;
}
