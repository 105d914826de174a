/* nn_uapi: the WireGuard cross-platform userspace API (wireguard-go's
 * /var/run/wireguard/NAME.sock), as text in and out of nn_wg_device.
 *
 * "get=1\n\n" answers key=value lines -- device keys first, then a block per
 * peer opened by public_key= -- and ends with "errno=N\n\n". "set=1\n" takes
 * the same keys plus the update verbs (remove, update_only,
 * replace_allowed_ips) and answers "errno=N\n\n". Keys are lowercase hex. */
#ifndef NN_AGENT_UAPI_H
#define NN_AGENT_UAPI_H
#include <stddef.h>

#include "agent/wg.h"
#include "util/buf.h"

/* The most a "get" answer may be: ~150 bytes per peer plus its prefixes,
 * so 64 MiB is far above any real device and still bounded. */
#define NN_UAPI_MAX_RESPONSE (64u << 20)
#define NN_UAPI_SOCKET_DIR "/var/run/wireguard"

/* Parses a complete "get" answer (text need not be NUL-terminated) into
 * *out, sorted. The private key is reduced to its public key and wiped.
 * Returns 0; -EPROTO for malformed text (why names the line and problem);
 * or the negative errno the device reported. *out is freed on failure. */
int nn_uapi_parse_get(const char *text, size_t len, nn_wg_device *out, char *why, size_t why_len);

/* Appends the "set=1" request for a change (see nn_wg_diff), terminated by
 * the blank line. Holds the private key when the change sets it: the
 * caller wipes the buffer. */
void nn_uapi_format_set(const nn_wg_device *change, nn_buf *out);

/* Socket I/O, NN_UAPI_SOCKET_DIR/IFNAME.sock. Each is one connection.
 * -ENOENT when the interface has no socket; -ETIMEDOUT after 30 s. */
int nn_uapi_get(const char *ifname, nn_wg_device *out, char *why, size_t why_len);
int nn_uapi_set(const char *ifname, const nn_wg_device *change, char *why, size_t why_len);

#endif
