/* nn_msg: the small protocol between gateway-manager (unprivileged, the
 * only one on the network) and gateway-daemon (privileged, no network
 * listener), over a local unix socket. One request and one reply per
 * connection, each a frame:
 *
 *   "NN"  version (1)  type  length (u32, big-endian)  payload
 *
 * Everything is checked before a byte of payload is trusted: magic,
 * version, a known type for the direction, and a length within the
 * type's bound. The daemon treats the payload of "apply" as untrusted
 * too: it verifies the envelope's signature itself.
 *
 * Requests (manager -> daemon):
 *   HELLO   empty              -> OK {"public_key", "interface", "applied_etag", "pinned"}
 *   PIN     base64 server key  -> OK (first pin only; a different key is refused)
 *   APPLY   signature "\n" envelope bytes -> OK {apply counts} | ERROR
 *   STATUS  empty              -> OK observed state (the body of POST /node/status)
 * Replies: OK or ERROR {"error", "refused"} (JSON payloads). */
#ifndef NN_AGENT_MSG_H
#define NN_AGENT_MSG_H

#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>

#include "compile/credential.h"
#include "util/buf.h"

#define NN_MSG_HEADER_LEN 8
#define NN_MSG_VERSION 1
#define NN_MSG_MAX_PAYLOAD (64u << 20) /* an envelope of ~100k peers */
#define NN_MSG_MAX_SMALL 4096          /* every payload but APPLY and replies */

enum nn_msg_type {
    NN_MSG_HELLO = 'h',
    NN_MSG_PIN = 'p',
    NN_MSG_APPLY = 'a',
    NN_MSG_STATUS = 's',
    NN_MSG_OK = 'K',
    NN_MSG_ERROR = 'E',
};

/* Checks a header read from the peer. request says which direction is
 * expected (requests at the daemon, replies at the manager). 0 and the
 * type and payload length, or -EPROTO (bad magic, version or type) or
 * -EMSGSIZE (a length beyond the type's bound). */
int nn_msg_header_parse(const uint8_t h[NN_MSG_HEADER_LEN], int request, uint8_t *type,
                        uint32_t *len);

/* Splits an APPLY payload into the signature token (a line of digits,
 * '.' and base64, shorter than NN_ENVELOPE_SIG_MAX, copied NUL-terminated
 * into sig; nn_envelope_verify judges it) and the envelope (borrowed).
 * -EPROTO when the payload is not "<token>\n<at least one byte>". */
int nn_msg_apply_split(const char *payload, size_t len, char sig[NN_ENVELOPE_SIG_MAX],
                       const char **envelope, size_t *envelope_len);

/* Writes the whole buffer (MSG_NOSIGNAL; a socket timeout is -ETIMEDOUT). */
int nn_sock_send_all(int fd, const void *data, size_t len);
/* One recv of up to len bytes, retried on EINTR: the count (at least 1),
 * -ETIMEDOUT when the socket's timeout passed, -ECONNRESET when the peer
 * closed, else -errno. */
ssize_t nn_sock_recv_some(int fd, void *buf, size_t len);
/* Sends one frame: header, then payload. */
int nn_msg_send(int fd, uint8_t type, const void *payload, size_t len);
/* Receives one frame into payload (reset first, NUL-terminated). Uses the
 * socket's own timeouts. 0, -EPROTO/-EMSGSIZE (see header_parse),
 * -ECONNRESET on a short read, or -errno. */
int nn_msg_recv(int fd, int request, uint8_t *type, nn_buf *payload);

/* Connects to a daemon socket with send/receive timeouts in seconds. */
int nn_msg_connect(const char *path, unsigned timeout_s);
/* One request and its reply on a fresh connection. */
int nn_msg_call(const char *path, unsigned timeout_s, uint8_t type, const void *payload, size_t len,
                uint8_t *reply_type, nn_buf *reply);

#endif
