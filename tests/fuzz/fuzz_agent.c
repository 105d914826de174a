/* libFuzzer harness for what the gateway-daemon parses: the first byte
 * picks the parser -- 'u' the WireGuard UAPI "get" answer, 'e' an envelope
 * (after its signature held), 'm' a manager<->daemon frame read off a real
 * socket, 'o' ovn-nbctl's JSON answer about the tagged rows, 'k' the
 * kernel's GET_DEVICE dump (netlink messages), anything else an endpoint.
 * Beyond not
 * crashing, every accepted device must come out sorted and duplicate-free,
 * and must diff against itself to an empty change. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/envelope.h"
#include "agent/msg.h"
#include "agent/ovn.h"
#include "agent/uapi.h"
#include "agent/wg.h"
#include "agent/wgnl.h"

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>

static void check_device(const nn_wg_device *d)
{
    for (size_t i = 0; i < d->n_peers; i++) {
        const nn_wg_peer *p = &d->peers[i];
        if (i > 0 && memcmp(d->peers[i - 1].public_key.bytes, p->public_key.bytes, NN_KEY_LEN) >= 0)
            abort();
        for (size_t j = 1; j < p->n_allowed; j++)
            if (nn_prefix_cmp(&p->allowed[j - 1], &p->allowed[j]) >= 0)
                abort();
        if (nn_wg_device_find(d, &p->public_key) != p)
            abort();
    }
    nn_wg_device change, empty = {0};
    if (nn_wg_diff(d, d, NULL, &change) != 0 || change.flags != 0)
        abort();
    nn_wg_device_free(&change);
    if (nn_wg_diff(d, &empty, NULL, &change) != d->n_peers)
        abort();
    nn_buf text = NN_BUF_INIT;
    nn_uapi_format_set(&change, &text);
    nn_buf_free(&text);
    nn_wg_device_free(&change);
}

/* The bytes as the daemon reads them (nn_msg_recv on a socket whose
 * writer then closes), and as the manager reads a reply. An accepted frame
 * must be exactly the bytes sent, re-encoded the same way, and an accepted
 * APPLY must split into an 88-byte signature and a non-empty envelope. */
static void check_frame(const uint8_t *data, size_t len, int request)
{
    int sv[2];
    if (len > 65536 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return;
    if (nn_sock_send_all(sv[0], data, len) != 0)
        abort();
    close(sv[0]);
    nn_buf payload = NN_BUF_INIT;
    uint8_t type;
    int r = nn_msg_recv(sv[1], request, &type, &payload);
    close(sv[1]);
    if (r == 0) {
        uint32_t n;
        uint8_t t2;
        if (nn_msg_header_parse(data, request, &t2, &n) != 0 || t2 != type || n != payload.len ||
            memcmp(data + NN_MSG_HEADER_LEN, payload.data, n) != 0)
            abort();
        char sig[NN_ENVELOPE_SIG_MAX];
        const char *env;
        size_t env_len;
        if (type == NN_MSG_APPLY &&
            nn_msg_apply_split(payload.data, payload.len, sig, &env, &env_len) == 0 &&
            (strlen(sig) == 0 || strlen(sig) >= NN_ENVELOPE_SIG_MAX || env_len == 0 ||
             env != payload.data + strlen(sig) + 1 || env + env_len != payload.data + payload.len))
            abort();
    } else if (r != -EPROTO && r != -EMSGSIZE && r != -ECONNRESET) {
        abort();
    }
    nn_buf_free(&payload);
}

/* An accepted dump, written back as SET_DEVICE messages (split as the
 * daemon sends them) and read again as a dump, is the same device. */
static void check_kernel_round_trip(const nn_wg_device *d)
{
    nn_wg_device change, empty = {0}, again;
    nn_wg_diff(d, &empty, NULL, &change);
    nn_buf msgs = NN_BUF_INIT;
    int n = nn_wgnl_format_set(30, "nnfuzz0", &change, 1, &msgs);
    if (n < 1)
        abort();
    for (size_t off = 0; off < msgs.len;) {
        struct nlmsghdr *nlh = (struct nlmsghdr *)(msgs.data + off);
        ((struct genlmsghdr *)mnl_nlmsg_get_payload(nlh))->cmd = WG_CMD_GET_DEVICE;
        off += NLMSG_ALIGN(nlh->nlmsg_len);
    }
    struct nlmsghdr done = {.nlmsg_len = sizeof(done), .nlmsg_type = NLMSG_DONE};
    uint32_t zero = 0;
    done.nlmsg_len += sizeof(zero);
    nn_buf_append(&msgs, &done, sizeof(done));
    nn_buf_append(&msgs, &zero, sizeof(zero));
    char why[256];
    if (nn_wgnl_parse_dump(msgs.data, msgs.len, &again, why, sizeof(why)) != 0 ||
        again.n_peers != d->n_peers)
        abort();
    for (size_t i = 0; i < d->n_peers; i++) {
        const nn_wg_peer *a = &d->peers[i], *b = &again.peers[i];
        if (memcmp(a->public_key.bytes, b->public_key.bytes, NN_KEY_LEN) ||
            a->n_allowed != b->n_allowed || a->keepalive != b->keepalive ||
            !nn_wg_endpoint_equal(&a->endpoint, &b->endpoint))
            abort();
        for (size_t j = 0; j < a->n_allowed; j++)
            if (nn_prefix_cmp(&a->allowed[j], &b->allowed[j]) != 0)
                abort();
    }
    nn_wg_device_free(&again);
    nn_wg_device_free(&change);
    nn_buf_free(&msgs);
}

/* Row lines come out sorted, one per row, each ended by a newline. */
static void check_lines(const nn_buf *lines, size_t want_rows)
{
    const char *s = lines->data, *end = s + lines->len, *prev = NULL;
    size_t rows = 0;
    while (s && s < end) {
        const char *e = memchr(s, '\n', (size_t)(end - s));
        if (!e || (prev && strncmp(prev, s, (size_t)(e - s) + 1) > 0))
            abort();
        prev = s;
        s = e + 1;
        rows++;
    }
    if (want_rows != SIZE_MAX && rows != want_rows)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    char why[256];
    if (data[0] == 'u') {
        nn_wg_device d;
        if (nn_uapi_parse_get(text, len, &d, why, sizeof(why)) == 0) {
            check_device(&d);
            nn_wg_device_free(&d);
        }
    } else if (data[0] == 'k') {
        /* Netlink is read from an aligned buffer, as recv fills one. */
        void *aligned = malloc(len ? len : 1);
        if (!aligned)
            abort();
        memcpy(aligned, text, len);
        nn_wg_device d;
        if (nn_wgnl_parse_dump(aligned, len, &d, why, sizeof(why)) == 0) {
            check_device(&d);
            check_kernel_round_trip(&d);
            nn_wg_device_free(&d);
        }
        free(aligned);
    } else if (data[0] == 'o') {
        nn_buf lines = NN_BUF_INIT;
        if (nn_ovn_state_lines(text, len, &lines, why, sizeof(why)) == 0)
            check_lines(&lines, SIZE_MAX);
        nn_buf_free(&lines);
    } else if (data[0] == 'm' && len > 0) {
        check_frame(data + 2, len - 1, data[1] & 1);
    } else if (data[0] == 'e') {
        nn_agent_envelope e;
        if (nn_agent_envelope_parse(text, len, NULL, &e, why, sizeof(why)) == 0) {
            for (size_t i = 0; i < e.n_ifaces; i++)
                check_device(&e.ifaces[i].wg);
            if (e.has_ovn) {
                nn_buf lines = NN_BUF_INIT;
                nn_ovn_plan_lines(&e.ovn, &lines);
                check_lines(&lines, e.ovn.nswitches + e.ovn.nports + e.ovn.nacls);
                nn_buf_free(&lines);
            }
            if (e.n_ifaces)
                nn_agent_envelope_rename(&e, e.ifaces[0].ifname, "nnfuzz0");
            nn_agent_envelope_free(&e);
        }
    } else {
        nn_wg_endpoint ep;
        char buf[56];
        if (nn_wg_endpoint_parse(text, len, &ep) == 0) {
            nn_wg_endpoint again;
            nn_wg_endpoint_format(&ep, buf);
            if (nn_wg_endpoint_parse(buf, strlen(buf), &again) != 0 ||
                !nn_wg_endpoint_equal(&ep, &again))
                abort();
        }
    }
    return 0;
}
