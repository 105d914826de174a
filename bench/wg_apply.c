/* gateway-daemon's WireGuard apply against a real wireguard-go device:
 * PEERS peers onto an empty interface, then one-peer changes, three ways:
 *   - get + diff + set (what a one-shot apply and a drift check do),
 *   - diff against the last applied state + set (a running daemon's path
 *     for a new envelope: no "get" of every peer),
 *   - get + diff with nothing to set (the cost of a drift check).
 * It also writes the same configurations as `wg setconf` files so
 * bench/wg_apply.sh can time `wg syncconf` on the same input.
 * usage: bench_wg_apply IFNAME PEERS CONF_DIR   (inside the namespace) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/apply.h"
#include "agent/uapi.h"
#include "bench.h"

#define ROUNDS 21

static void make_desired(nn_wg_device *d, unsigned peers, const nn_key *priv)
{
    memset(d, 0, sizeof(*d));
    d->flags = NN_WG_HAS_PRIVATE_KEY | NN_WG_HAS_LISTEN_PORT;
    d->private_key = *priv;
    crypto_scalarmult_base(d->public_key.bytes, priv->bytes);
    d->listen_port = 51900;
    for (unsigned i = 0; i < peers; i++) {
        char b64[45];
        nn_key k;
        bench_key(i, b64);
        nn_key_from_base64(b64, &k, NULL);
        nn_wg_peer *p = nn_wg_device_add_peer(d, &k);
        nn_prefix v4 = {.family = NN_AF_INET4,
                        .len = 32,
                        .addr = {10, 64 + (i >> 16), (i >> 8) & 255, i & 255}};
        nn_prefix v6 = {.family = NN_AF_INET6,
                        .len = 128,
                        .addr = {0xfd, 0x00, [12] = (uint8_t)(i >> 24), (uint8_t)(i >> 16),
                                 (uint8_t)(i >> 8), (uint8_t)i}};
        nn_wg_peer_add_allowed(p, &v4);
        nn_wg_peer_add_allowed(p, &v6);
    }
    nn_wg_device_sort(d);
}

/* Peer `which` gains (odd version) or loses (even) a LAN. */
static void set_version(nn_wg_device *d, size_t which, int version)
{
    nn_wg_peer *p = &d->peers[which];
    nn_prefix lan = {.family = NN_AF_INET4, .len = 24, .addr = {192, 168, 77, 0}};
    size_t w = 0;
    for (size_t i = 0; i < p->n_allowed; i++)
        if (nn_prefix_cmp(&p->allowed[i], &lan) != 0)
            p->allowed[w++] = p->allowed[i];
    p->n_allowed = w;
    if (version & 1)
        nn_wg_peer_add_allowed(p, &lan);
    nn_wg_device_sort(d);
}

static void write_conf(const char *path, const nn_wg_device *d)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    char b64[45], text[NN_PREFIX_STRLEN];
    nn_key_to_base64(&d->private_key, b64);
    fprintf(f, "[Interface]\nPrivateKey = %s\nListenPort = %u\n", b64, d->listen_port);
    for (size_t i = 0; i < d->n_peers; i++) {
        const nn_wg_peer *p = &d->peers[i];
        nn_key_to_base64(&p->public_key, b64);
        fprintf(f, "\n[Peer]\nPublicKey = %s\nAllowedIPs = ", b64);
        for (size_t j = 0; j < p->n_allowed; j++)
            fprintf(f, "%s%s", j ? ", " : "", nn_prefix_format(&p->allowed[j], true, text));
        fputc('\n', f);
    }
    fclose(f);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), bench_cmp_double);
    return v[n / 2];
}

static void must(int r, const char *what, const char *why)
{
    if (r) {
        fprintf(stderr, "bench_wg_apply: %s: %s\n", what, why);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 4 || sodium_init() < 0) {
        fprintf(stderr, "usage: bench_wg_apply IFNAME PEERS CONF_DIR\n");
        return 2;
    }
    const char *ifname = argv[1];
    unsigned peers = (unsigned)strtoul(argv[2], NULL, 10);
    nn_key priv;
    randombytes_buf(priv.bytes, sizeof(priv.bytes));
    nn_wg_device want, applied;
    make_desired(&want, peers, &priv);
    make_desired(&applied, peers, &priv);
    char why[512] = "", path[4096];
    size_t which = peers / 2;

    snprintf(path, sizeof(path), "%s/full.conf", argv[3]);
    write_conf(path, &want);
    set_version(&want, which, 1);
    snprintf(path, sizeof(path), "%s/one.conf", argv[3]);
    write_conf(path, &want);
    set_version(&want, which, 0);

    nn_apply_wg_stats st;
    double t0 = bench_now_ms();
    must(nn_apply_wg(ifname, &want, NULL, &st, why, sizeof(why)), "full apply", why);
    double full = bench_now_ms() - t0;
    nn_wg_device check;
    must(nn_wg_get(ifname, &check, why, sizeof(why)), "get", why);
    if (check.n_peers != peers || st.added != peers) {
        fprintf(stderr, "bench_wg_apply: device has %zu peers, wanted %u\n", check.n_peers, peers);
        return 1;
    }
    nn_wg_device_free(&check);
    printf("apply %u peers to an empty interface (get + diff + set): %.1f ms (%.0f peers/s)\n",
           peers, full, peers / (full / 1e3));

    double with_get[ROUNDS], known[ROUNDS], drift[ROUNDS];
    int version = 0;
    for (int r = 0; r < ROUNDS; r++) {
        set_version(&want, which, ++version);
        t0 = bench_now_ms();
        must(nn_apply_wg(ifname, &want, NULL, &st, why, sizeof(why)), "one-peer apply", why);
        with_get[r] = bench_now_ms() - t0;
        if (st.updated != 1 || st.added || st.removed) {
            fprintf(stderr, "bench_wg_apply: one-peer change touched %zu/%zu/%zu\n", st.added,
                    st.updated, st.removed);
            return 1;
        }
        /* The running daemon's path: diff against what it applied last. */
        set_version(&applied, which, version);
        set_version(&want, which, ++version);
        t0 = bench_now_ms();
        nn_wg_device change;
        nn_wg_diff(&want, &applied, &applied, &change);
        must(nn_wg_set(ifname, &change, why, sizeof(why)), "one-peer set", why);
        known[r] = bench_now_ms() - t0;
        nn_wg_device_free(&change);
        set_version(&applied, which, version);
        t0 = bench_now_ms();
        must(nn_apply_wg(ifname, &want, NULL, &st, why, sizeof(why)), "drift check", why);
        drift[r] = bench_now_ms() - t0;
        if (st.updated || st.added || st.removed) {
            fprintf(stderr, "bench_wg_apply: the known-state set left drift\n");
            return 1;
        }
    }
    printf("one-peer change, get + diff + set: median %.2f ms over %d\n", median(with_get, ROUNDS),
           ROUNDS);
    printf("one-peer change, diff against last applied + set: median %.3f ms over %d\n",
           median(known, ROUNDS), ROUNDS);
    printf("drift check with nothing to change (get + diff): median %.2f ms over %d\n",
           median(drift, ROUNDS), ROUNDS);
    nn_wg_device_free(&want);
    nn_wg_device_free(&applied);
    return 0;
}
