/* nn_apply: WireGuard by diff (UAPI or kernel netlink), nftables by one
 * transaction. */
#include "agent/apply.h"

#include <errno.h>
#include <nftables/libnftables.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/uapi.h"
#include "agent/wgnl.h"
#include "util/hash.h"

bool nn_wg_userspace(const char *ifname)
{
    char sock[128];
    snprintf(sock, sizeof(sock), "%s/%s.sock", NN_UAPI_SOCKET_DIR, ifname);
    return nn_wg_ifname_valid(ifname) && access(sock, F_OK) == 0;
}

int nn_wg_get(const char *ifname, nn_wg_device *out, char *why, size_t why_len)
{
    return nn_wg_userspace(ifname) ? nn_uapi_get(ifname, out, why, why_len)
                                   : nn_wgnl_get(ifname, out, why, why_len);
}

int nn_wg_set(const char *ifname, const nn_wg_device *change, char *why, size_t why_len)
{
    return nn_wg_userspace(ifname) ? nn_uapi_set(ifname, change, why, why_len)
                                   : nn_wgnl_set(ifname, change, why, why_len);
}

int nn_apply_wg(const char *ifname, const nn_wg_device *desired, const nn_wg_device *previous,
                nn_apply_wg_stats *stats, char *why, size_t why_len)
{
    nn_wg_device current, change;
    memset(stats, 0, sizeof(*stats));
    stats->userspace = nn_wg_userspace(ifname);
    int r = stats->userspace ? nn_uapi_get(ifname, &current, why, why_len)
                             : nn_wgnl_get(ifname, &current, why, why_len);
    if (r)
        return r;
    nn_wg_diff(desired, &current, previous, &change);
    for (size_t i = 0; i < change.n_peers; i++) {
        uint32_t f = change.peers[i].flags;
        if (f & NN_WG_PEER_REMOVE)
            stats->removed++;
        else if (f & NN_WG_PEER_UPDATE_ONLY)
            stats->updated++;
        else
            stats->added++;
    }
    stats->unchanged = desired->n_peers - stats->added - stats->updated;
    stats->private_key_set = !!(change.flags & NN_WG_HAS_PRIVATE_KEY);
    stats->listen_port_set = !!(change.flags & NN_WG_HAS_LISTEN_PORT);
    if (change.n_peers || change.flags)
        r = stats->userspace ? nn_uapi_set(ifname, &change, why, why_len)
                             : nn_wgnl_set(ifname, &change, why, why_len);
    nn_wg_device_free(&change);
    nn_wg_device_free(&current);
    return r;
}

/* The hash of "list table inet nanami" without counters; all zeros when
 * there is no such table yet. */
static void table_hash(struct nft_ctx *nft, uint8_t h[NN_HASH_LEN])
{
    memset(h, 0, NN_HASH_LEN);
    if (nft_run_cmd_from_buffer(nft, "list table inet nanami") == 0) {
        const char *out = nft_ctx_get_output_buffer(nft);
        nn_hash_bytes(out, strlen(out), h);
    }
    /* Reading the buffers resets them for the next command. */
    nft_ctx_get_error_buffer(nft);
}

int nn_apply_nft(const char *ruleset, bool *changed, char *why, size_t why_len)
{
    struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!nft)
        return -ENOMEM;
    nft_ctx_buffer_error(nft);
    nft_ctx_buffer_output(nft);
    nft_ctx_output_set_flags(nft, NFT_CTX_OUTPUT_STATELESS);
    uint8_t before[NN_HASH_LEN], after[NN_HASH_LEN];
    if (changed)
        table_hash(nft, before);
    int r = nft_run_cmd_from_buffer(nft, ruleset) == 0 ? 0 : -EINVAL;
    if (changed && !r) {
        nft_ctx_get_output_buffer(nft);
        table_hash(nft, after);
        *changed = memcmp(before, after, NN_HASH_LEN) != 0;
    }
    if (r && why && why_len) {
        const char *msg = nft_ctx_get_error_buffer(nft);
        snprintf(why, why_len, "nftables refused the ruleset: %.400s", msg ? msg : "");
    }
    nft_ctx_free(nft);
    return r;
}
