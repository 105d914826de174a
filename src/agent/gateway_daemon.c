/* gateway-daemon: the privileged half of a node. It holds the node's
 * WireGuard private key (made here, mode 0600, never sent anywhere) and
 * applies envelopes whose signature it has checked itself. It has no
 * network listener.
 *
 *   gateway-daemon keygen --state-dir DIR
 *   gateway-daemon apply  --state-dir DIR -f ENVELOPE --signature SIGFILE
 *                         [--server-key PUBFILE] [--interface NAME] [--userspace PROG]
 *   gateway-daemon show   --interface NAME
 *
 * The state directory holds wg.key, server.pub (the server's envelope
 * signing key, pinned at enrollment) and applied.json/applied.sig, the
 * last envelope applied -- the "previous" of the next diff. */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sodium.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/apply.h"
#include "agent/envelope.h"
#include "agent/rtnl.h"
#include "agent/uapi.h"
#include "compile/credential.h"
#include "util/file.h"
#include "util/json_writer.h"

#define EXIT_INVALID 2
#define WHY_LEN 512

extern char **environ;

typedef struct options {
    const char *state_dir, *envelope, *signature, *server_key, *ifname, *userspace;
    bool json;
} options;

static int usage(const char *msg)
{
    fprintf(stderr,
            "error: %s\n"
            "usage: gateway-daemon keygen --state-dir DIR\n"
            "       gateway-daemon apply --state-dir DIR -f ENVELOPE --signature SIGFILE\n"
            "                            [--server-key PUBFILE] [--interface NAME]\n"
            "                            [--userspace wireguard-go] [--json]\n"
            "       gateway-daemon show --interface NAME\n",
            msg);
    return EXIT_INVALID;
}

static int parse_options(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = !strcmp(a, "--state-dir")                      ? &o->state_dir
                            : !strcmp(a, "-f") || !strcmp(a, "--envelope") ? &o->envelope
                            : !strcmp(a, "--signature")                    ? &o->signature
                            : !strcmp(a, "--server-key")                   ? &o->server_key
                            : !strcmp(a, "--interface")                    ? &o->ifname
                            : !strcmp(a, "--userspace")                    ? &o->userspace
                                                                           : NULL;
        if (!strcmp(a, "--json")) {
            o->json = true;
            continue;
        }
        if (!slot) {
            fprintf(stderr, "error: unknown argument \"%s\"\n", a);
            return -EINVAL;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "error: %s needs a value\n", a);
            return -EINVAL;
        }
        *slot = argv[++i];
    }
    return 0;
}

static int state_path(char *buf, size_t n, const char *dir, const char *name)
{
    return snprintf(buf, n, "%s/%s", dir, name) < (int)n ? 0 : -ENAMETOOLONG;
}

/* Loads STATE/wg.key, the node's private key, with its public key. */
static int load_private_key(const char *dir, nn_key *priv, nn_key *pub)
{
    char path[4096];
    nn_error err = {{0}, {0}};
    if (state_path(path, sizeof(path), dir, "wg.key"))
        return -ENAMETOOLONG;
    int r = nn_key_file_read(path, priv->bytes, NN_KEY_LEN, &err);
    if (r) {
        fprintf(stderr, "error: %s: %s%s\n", err.path, err.msg,
                r == -ENOENT ? " (run gateway-daemon keygen first)" : "");
        return r;
    }
    crypto_scalarmult_base(pub->bytes, priv->bytes);
    return 0;
}

static int cmd_keygen(const options *o)
{
    if (!o->state_dir)
        return usage("keygen needs --state-dir");
    if (mkdir(o->state_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "error: %s: %s\n", o->state_dir, strerror(errno));
        return 1;
    }
    char path[4096];
    if (state_path(path, sizeof(path), o->state_dir, "wg.key"))
        return usage("--state-dir is too long");
    nn_key priv, pub;
    char text[NN_KEY_B64_LEN + 2];
    if (access(path, F_OK) != 0) {
        /* X25519 private key as WireGuard makes it: random, clamped. */
        randombytes_buf(priv.bytes, sizeof(priv.bytes));
        priv.bytes[0] &= 248;
        priv.bytes[31] = (priv.bytes[31] & 127) | 64;
        nn_key_to_base64(&priv, text);
        text[NN_KEY_B64_LEN] = '\n';
        int r = nn_file_create_secret(path, text, NN_KEY_B64_LEN + 1);
        sodium_memzero(text, sizeof(text));
        sodium_memzero(&priv, sizeof(priv));
        if (r && r != -EEXIST) {
            fprintf(stderr, "error: %s: %s\n", path, strerror(-r));
            return 1;
        }
    }
    /* An existing key is kept: its public key is what enrollment sent. */
    if (load_private_key(o->state_dir, &priv, &pub))
        return 1;
    sodium_memzero(&priv, sizeof(priv));
    nn_key_to_base64(&pub, text);
    printf("%s\n", text);
    return 0;
}

/* wireguard-go creates the interface and its UAPI socket, then detaches. */
static int ensure_userspace_interface(const char *ifname, const char *prog)
{
    char sock[256];
    snprintf(sock, sizeof(sock), "%s/%s.sock", NN_UAPI_SOCKET_DIR, ifname);
    if (access(sock, F_OK) == 0)
        return 0;
    if (!prog) {
        fprintf(stderr,
                "error: interface %s: no UAPI socket at %s (kernel WireGuard is not supported "
                "yet; pass --userspace wireguard-go)\n",
                ifname, sock);
        return -ENOENT;
    }
    char *argv[] = {(char *)prog, (char *)ifname, NULL};
    pid_t pid;
    int r = posix_spawnp(&pid, prog, NULL, NULL, argv, environ), status = 0;
    if (r != 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
        fprintf(stderr, "error: interface %s: %s did not start it\n", ifname, prog);
        return -ECHILD;
    }
    for (int i = 0; i < 200 && access(sock, F_OK) != 0; i++)
        usleep(10000);
    return access(sock, F_OK) == 0 ? 0 : -ENOENT;
}

/* The previous applied envelope, when there is one that still parses. */
static bool load_previous(const char *dir, nn_agent_envelope *prev)
{
    char path[4096], *data = NULL, why[WHY_LEN];
    size_t len;
    if (state_path(path, sizeof(path), dir, "applied.json") ||
        nn_file_read(path, NN_ENVELOPE_MAX, &data, &len))
        return false;
    bool ok = nn_agent_envelope_parse(data, len, NULL, prev, why, sizeof(why)) == 0;
    free(data);
    return ok;
}

static int resolve_endpoint(const char *host_port, nn_wg_endpoint *out);

static int cmd_apply(const options *o)
{
    if (!o->state_dir || !o->envelope || !o->signature)
        return usage("apply needs --state-dir, -f ENVELOPE and --signature SIGFILE");
    char keypath[4096], why[WHY_LEN] = "";
    if (o->server_key)
        snprintf(keypath, sizeof(keypath), "%s", o->server_key);
    else if (state_path(keypath, sizeof(keypath), o->state_dir, "server.pub"))
        return usage("--state-dir is too long");
    uint8_t server_pk[NN_SIGN_PK_LEN];
    nn_error err = {{0}, {0}};
    if (nn_key_file_read(keypath, server_pk, sizeof(server_pk), &err)) {
        fprintf(stderr, "error: server key: %s: %s\n", err.path, err.msg);
        return EXIT_INVALID;
    }
    char *data = NULL, *sig = NULL;
    size_t len, sig_len;
    int r = nn_file_read(o->envelope, NN_ENVELOPE_MAX, &data, &len);
    if (r == 0 && (r = nn_file_read(o->signature, 4096, &sig, &sig_len)))
        fprintf(stderr, "error: %s: %s\n", o->signature, strerror(-r));
    else if (r)
        fprintf(stderr, "error: %s: %s\n", o->envelope, strerror(-r));
    nn_agent_envelope env = {0}, prev = {0};
    bool have_prev = false;
    nn_wg_device desired = {0};
    int status = EXIT_INVALID;
    if (r)
        goto out;
    /* Nothing is parsed before the signature holds. */
    if (nn_envelope_verify(data, len, sig, server_pk) != 0) {
        fprintf(stderr,
                "error: %s: signature does not verify with the server key %s; "
                "nothing applied\n",
                o->envelope, keypath);
        goto out;
    }
    if (nn_agent_envelope_parse(data, len, resolve_endpoint, &env, why, sizeof(why))) {
        fprintf(stderr, "error: %s: %s; nothing applied\n", o->envelope, why);
        goto out;
    }
    status = 1;
    if (o->ifname) {
        if (!nn_wg_ifname_valid(o->ifname)) {
            status = usage("--interface must be a Linux interface name (1-15 of A-Za-z0-9_.-)");
            goto out;
        }
        nn_agent_envelope_rename(&env, o->ifname);
    }
    const char *ifname = env.ifname;
    desired = env.wg;
    memset(&env.wg, 0, sizeof(env.wg));
    if (load_private_key(o->state_dir, &desired.private_key, &desired.public_key))
        goto out;
    desired.flags |= NN_WG_HAS_PRIVATE_KEY;
    have_prev = load_previous(o->state_dir, &prev);
    if (ensure_userspace_interface(ifname, o->userspace))
        goto out;
    /* The firewall first: its rules match on the interface name, so the
     * interface never passes a packet before deny-by-default holds. */
    if ((r = nn_apply_nft(env.nft_ruleset, why, sizeof(why)))) {
        fprintf(stderr, "error: %s\n", why);
        goto out;
    }
    nn_apply_wg_stats st;
    nn_rtnl_stats rt;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((r = nn_apply_wg(ifname, &desired, have_prev ? &prev.wg : NULL, &st, why, sizeof(why)))) {
        fprintf(stderr, "error: wireguard: %s\n", why);
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if ((r = nn_rtnl_apply(ifname, env.mtu, env.addresses, env.n_addresses, env.routes,
                           env.n_routes, &rt, why, sizeof(why)))) {
        fprintf(stderr, "error: %s\n", why);
        goto out;
    }
    int forwarding = 0;
    if (!strcmp(env.role, "hub") &&
        (forwarding = nn_rtnl_enable_forwarding(why, sizeof(why))) < 0) {
        fprintf(stderr, "error: forwarding: %s\n", why);
        goto out;
    }
    char path[4096];
    if (state_path(path, sizeof(path), o->state_dir, "applied.json") ||
        (r = nn_file_replace(path, data, len, 0600))) {
        fprintf(stderr, "error: %s: %s\n", path, strerror(-r));
        goto out;
    }
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (o->json)
        printf("{\"addresses\":{\"added\":%zu,\"removed\":%zu},\"forwarding_set\":%s,"
               "\"interface\":\"%s\",\"link_set\":%s,\"peers\":{\"added\":%zu,\"removed\":%zu,"
               "\"unchanged\":%zu,\"updated\":%zu},\"private_key_set\":%s,"
               "\"routes\":{\"added\":%zu,\"removed\":%zu},\"wireguard_ms\":%.3f}\n",
               rt.addresses_added, rt.addresses_removed, forwarding ? "true" : "false", ifname,
               rt.link_changed ? "true" : "false", st.added, st.removed, st.unchanged, st.updated,
               st.private_key_set ? "true" : "false", rt.routes_added, rt.routes_removed, ms);
    else
        printf("applied %s: peers +%zu ~%zu -%zu =%zu, addresses +%zu -%zu, routes +%zu -%zu "
               "(wireguard %.3f ms)\n",
               ifname, st.added, st.updated, st.removed, st.unchanged, rt.addresses_added,
               rt.addresses_removed, rt.routes_added, rt.routes_removed, ms);
    status = 0;
out:
    nn_wg_device_free(&desired);
    nn_agent_envelope_free(&env);
    if (have_prev)
        nn_agent_envelope_free(&prev);
    free(data);
    free(sig);
    return status;
}

/* A DNS name in an endpoint (a hub's public name), resolved as wg(8)
 * does: the first address the resolver gives. */
static int resolve_endpoint(const char *host_port, nn_wg_endpoint *out)
{
    const char *colon = strrchr(host_port, ':');
    char host[256];
    size_t n = colon ? (size_t)(colon - host_port) : 0;
    if (!colon || n == 0 || n >= sizeof(host))
        return -EINVAL;
    memcpy(host, host_port, n);
    host[n] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
        return -EHOSTUNREACH;
    memset(out, 0, sizeof(*out));
    if (res->ai_family == AF_INET) {
        const struct sockaddr_in *sa = (const struct sockaddr_in *)res->ai_addr;
        out->family = NN_AF_INET4;
        memcpy(out->addr, &sa->sin_addr, 4);
        out->port = ntohs(sa->sin_port);
    } else if (res->ai_family == AF_INET6) {
        const struct sockaddr_in6 *sa = (const struct sockaddr_in6 *)res->ai_addr;
        out->family = NN_AF_INET6;
        memcpy(out->addr, &sa->sin6_addr, 16);
        out->port = ntohs(sa->sin6_port);
    }
    freeaddrinfo(res);
    return out->family ? 0 : -EAFNOSUPPORT;
}

static int cmd_show(const options *o)
{
    if (!o->ifname)
        return usage("show needs --interface");
    nn_wg_device dev;
    char why[WHY_LEN];
    if (nn_uapi_get(o->ifname, &dev, why, sizeof(why))) {
        fprintf(stderr, "error: %s\n", why);
        return 1;
    }
    nn_buf out = NN_BUF_INIT;
    nn_jw w;
    nn_jw_init(&w, &out);
    nn_jw_obj_begin(&w);
    nn_jw_key(&w, "interface");
    nn_jw_str(&w, o->ifname);
    nn_jw_key(&w, "listen_port");
    nn_jw_int(&w, dev.listen_port);
    nn_jw_key(&w, "peers");
    nn_jw_arr_begin(&w);
    for (size_t i = 0; i < dev.n_peers; i++) {
        const nn_wg_peer *p = &dev.peers[i];
        char text[NN_PREFIX_STRLEN];
        nn_jw_obj_begin(&w);
        nn_jw_key(&w, "allowed_ips");
        nn_jw_arr_begin(&w);
        for (size_t j = 0; j < p->n_allowed; j++)
            nn_jw_str(&w, nn_prefix_format(&p->allowed[j], true, text));
        nn_jw_arr_end(&w);
        nn_jw_key(&w, "endpoint");
        if (p->endpoint.family)
            nn_jw_str(&w, nn_wg_endpoint_format(&p->endpoint, text));
        else
            nn_jw_null(&w);
        nn_jw_key(&w, "last_handshake");
        nn_jw_int(&w, p->last_handshake_sec);
        nn_jw_key(&w, "persistent_keepalive");
        nn_jw_int(&w, p->keepalive);
        nn_jw_key(&w, "public_key");
        nn_key_to_base64(&p->public_key, text);
        nn_jw_str(&w, text);
        nn_jw_key(&w, "rx_bytes");
        nn_jw_int(&w, (int64_t)p->rx_bytes);
        nn_jw_key(&w, "tx_bytes");
        nn_jw_int(&w, (int64_t)p->tx_bytes);
        nn_jw_obj_end(&w);
    }
    nn_jw_arr_end(&w);
    nn_jw_key(&w, "public_key");
    if (dev.flags & NN_WG_HAS_PRIVATE_KEY) {
        char text[NN_KEY_B64_LEN + 1];
        nn_key_to_base64(&dev.public_key, text);
        nn_jw_str(&w, text);
    } else {
        nn_jw_null(&w);
    }
    nn_jw_obj_end(&w);
    printf("%s\n", out.data);
    nn_buf_free(&out);
    nn_wg_device_free(&dev);
    return 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    if (argc < 2)
        return usage("missing command");
    options o;
    if (parse_options(argc - 2, argv + 2, &o))
        return EXIT_INVALID;
    if (!strcmp(argv[1], "keygen"))
        return cmd_keygen(&o);
    if (!strcmp(argv[1], "apply"))
        return cmd_apply(&o);
    if (!strcmp(argv[1], "show"))
        return cmd_show(&o);
    return usage("unknown command");
}
