/* nn_wgnl: kernel WireGuard over generic netlink (the "wireguard" family
 * of linux/wireguard.h, with libmnl), as messages in and out of
 * nn_wg_device -- the kernel twin of uapi.h.
 *
 * GET_DEVICE is a dump: device attributes first, then peers, and a peer
 * whose allowed IPs do not fit one message is continued in the next one
 * under the same public key. SET_DEVICE takes a change (nn_wg_diff) split
 * into messages of at most NN_WGNL_SET_MAX bytes the same way; each is
 * acknowledged before the next is sent. */
#ifndef NN_AGENT_WGNL_H
#define NN_AGENT_WGNL_H
#include <stddef.h>
#include <stdint.h>

#include "agent/wg.h"
#include "util/buf.h"

/* wireguard-tools' limit too: one page, which the kernel always takes. */
#define NN_WGNL_SET_MAX 4096u

/* Parses a GET_DEVICE answer as read from the socket -- netlink messages
 * back to back, ending with NLMSG_DONE -- into *out, sorted. The private
 * key is reduced to its public key and wiped. Returns 0; -EPROTO for a
 * malformed answer (why says where); or the kernel's negative errno from
 * an NLMSG_ERROR. *out is freed on failure. */
int nn_wgnl_parse_dump(const void *data, size_t len, nn_wg_device *out, char *why, size_t why_len);

/* Appends to out the SET_DEVICE messages that carry a change for ifname,
 * with the given family id and sequence numbers from seq upwards; each
 * asks for an ACK. Returns the number of messages (at least one), or
 * -EMSGSIZE if a single peer cannot fit one. Holds the private key when
 * the change sets it: the caller wipes the buffer. */
int nn_wgnl_format_set(uint16_t family, const char *ifname, const nn_wg_device *change,
                       uint32_t seq, nn_buf *out);

/* One netlink socket per call. -EOPNOTSUPP when the kernel has no
 * WireGuard; -ENODEV when ifname is not a kernel WireGuard interface. */
int nn_wgnl_get(const char *ifname, nn_wg_device *out, char *why, size_t why_len);
int nn_wgnl_set(const char *ifname, const nn_wg_device *change, char *why, size_t why_len);

#endif
