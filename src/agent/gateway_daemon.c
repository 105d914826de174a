/* gateway-daemon: the privileged half of a node. It holds the node's
 * WireGuard private key (made here, mode 0600, never sent anywhere) and
 * applies envelopes whose signature it has checked itself. It has no
 * network listener.
 *
 *   gateway-daemon keygen --state-dir DIR
 *   gateway-daemon apply  --state-dir DIR -f ENVELOPE --signature SIGFILE
 *                         [--server-key PUBFILE] [--interface NAME] [--userspace PROG]
 *                         [--frr-vty DIR|off] [--frr-reload PATH] [--ovn-nbctl PATH|off]
 *   gateway-daemon show   --interface NAME
 *   gateway-daemon run    --state-dir DIR --socket PATH [--socket-group GROUP]
 *                         [--drift-interval SECONDS] [...apply's options]
 *
 * run is the daemon proper: it takes HELLO/PIN/APPLY/STATUS requests from
 * gateway-manager on a unix socket (agent/msg.h), re-applies the envelope
 * in force every drift interval (putting back whatever someone changed by
 * hand), and restores the last applied envelope when it starts.
 *
 * The state directory holds wg.key, server.pub (the server's envelope
 * signing key, pinned at enrollment) and applied.json/applied.sig, the
 * last envelope applied -- the "previous" of the next diff -- and, on BGP
 * nodes, frr.conf/frr.applied (agent/frr.h). */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/apply.h"
#include "agent/envelope.h"
#include "agent/frr.h"
#include "agent/msg.h"
#include "agent/ovn.h"
#include "agent/proc.h"
#include "agent/rtnl.h"
#include "agent/uapi.h"
#include "compile/credential.h"
#include "util/file.h"
#include "util/hash.h"
#include "util/json_writer.h"

#define EXIT_INVALID 2
#define WHY_LEN 512

typedef struct options {
    const char *state_dir, *envelope, *signature, *server_key, *ifname, *userspace;
    const char *socket, *socket_group, *drift_interval;
    const char *frr_vty, *frr_reload; /* "off": FRR is never touched */
    const char *ovn_nbctl;            /* "off": OVN is never touched */
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
            "                            [--frr-vty DIR|off] [--frr-reload PATH]\n"
            "                            [--ovn-nbctl PATH|off]\n"
            "       gateway-daemon run --state-dir DIR --socket PATH [--socket-group GROUP]\n"
            "                          [--drift-interval SECONDS] [--server-key PUBFILE]\n"
            "                          [--interface NAME] [--userspace wireguard-go]\n"
            "                          [--frr-vty DIR|off] [--frr-reload PATH]\n"
            "                          [--ovn-nbctl PATH|off]\n"
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
                            : !strcmp(a, "--socket")                       ? &o->socket
                            : !strcmp(a, "--socket-group")                 ? &o->socket_group
                            : !strcmp(a, "--drift-interval")               ? &o->drift_interval
                            : !strcmp(a, "--frr-vty")                      ? &o->frr_vty
                            : !strcmp(a, "--frr-reload")                   ? &o->frr_reload
                            : !strcmp(a, "--ovn-nbctl")                    ? &o->ovn_nbctl
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

/* The interface exists, or is made: by wireguard-go when --userspace names
 * it (which creates the interface and its UAPI socket, then detaches),
 * else as a kernel WireGuard device. An interface that exists is used as
 * it is; nn_wg_get/nn_wg_set pick its backend by the socket. */
static int ensure_interface(const char *ifname, const char *prog, char *why, size_t why_len)
{
    if (nn_wg_userspace(ifname) || if_nametoindex(ifname))
        return 0;
    if (!prog) {
        int r = nn_rtnl_add_wireguard(ifname, why, why_len);
        if (r == -EOPNOTSUPP) {
            size_t n = strlen(why);
            snprintf(why + n, why_len - n, "; pass --userspace wireguard-go");
        }
        return r;
    }
    /* wireguard-go forks the device off with /dev/null for its output and
     * exits; what it prints itself (a banner about the kernel module) is
     * kept out of the daemon's log, and shown only when it fails. */
    char *argv[] = {(char *)prog, (char *)ifname, NULL};
    nn_buf out = NN_BUF_INIT;
    int st = nn_proc_run(argv, 10000, &out, 4096);
    if (st != 0) {
        snprintf(why, why_len, "%s: %s did not start it (%s)%s%.*s", ifname, prog,
                 st < 0 ? strerror(-st) : "it failed", out.len ? ": " : "",
                 (int)(out.len > 300 ? 300 : out.len), out.data ? out.data : "");
        nn_buf_free(&out);
        return -ECHILD;
    }
    nn_buf_free(&out);
    for (int i = 0; i < 200 && !nn_wg_userspace(ifname); i++)
        usleep(10000);
    if (nn_wg_userspace(ifname))
        return 0;
    snprintf(why, why_len, "%s: %s started, but no UAPI socket appeared in %s", ifname, prog,
             NN_UAPI_SOCKET_DIR);
    return -ENOENT;
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

/* The revision of the envelope in force, from applied.sig (the daemon's
 * own file); false when nothing was applied yet. */
static bool applied_revision(const char *dir, uint64_t *revision)
{
    char path[4096], *tok = NULL;
    size_t len;
    bool ok = state_path(path, sizeof(path), dir, "applied.sig") == 0 &&
              nn_file_read(path, NN_ENVELOPE_SIG_MAX, &tok, &len) == 0 &&
              nn_envelope_token_revision(tok, revision) == 0;
    free(tok);
    return ok;
}

static int resolve_endpoint(const char *host_port, nn_wg_endpoint *out);

/* What one apply changed on one interface. */
typedef struct iface_result {
    char ifname[16];
    nn_apply_wg_stats wg;
    nn_rtnl_stats rt;
    bool has_vrf;          /* the document puts the interface in a VRF */
    bool vrf_set;          /* the VRF device was made or brought up */
    char vrf_why[WHY_LEN]; /* the VRF could not be made; else "" */
} iface_result;

/* What one apply changed on the host. wg, rt and the vrf fields add up
 * the interfaces' (ifs). */
typedef struct apply_result {
    char ifname[16]; /* the first interface's name (an envelope's only one) */
    char etag[72];   /* quoted SHA-256 of the bytes, as nanamid's ETag */
    nn_apply_wg_stats wg;
    nn_rtnl_stats rt;
    iface_result ifs[NN_AGENT_MAX_IFACES];
    size_t n_ifaces;
    size_t ifaces_removed; /* interfaces the previous document had and this one has not */
    int forwarding;        /* 1 when a forwarding sysctl was turned on */
    bool ruleset_changed;  /* Nanami's nft table reads differently after */
    double wg_ms;
    nn_frr_outcome frr;
    bool frr_disabled;     /* the envelope has BGP, --frr-vty off */
    char frr_why[WHY_LEN]; /* FRR failed, or a warning about it; else "" */
    nn_ovn_outcome ovn;
    bool ovn_disabled;     /* the envelope has an OVN plan, --ovn-nbctl off */
    char ovn_why[WHY_LEN]; /* OVN failed; else "" */
    bool has_vrf, vrf_set;
    char vrf_why[WHY_LEN]; /* the first interface whose VRF failed */
    /* host bridges: Linux ones held, made or put back, removed; OVS ones
     * this daemon does not apply yet */
    size_t bridges, bridges_set, bridges_removed, bridges_skipped;
    char bridges_why[WHY_LEN]; /* a bridge that could not be made, or skipped ones */
} apply_result;

/* frr-reload.py ran and changed what FRR runs. */
static bool frr_changed(const apply_result *r)
{
    return r->frr == NN_FRR_RELOADED || r->frr == NN_FRR_WITHDRAWN;
}

/* Anything put back on the host: a re-apply of the same envelope that
 * changes something has repaired drift. */
static bool result_changed(const apply_result *r)
{
    return r->wg.added || r->wg.updated || r->wg.removed || r->wg.private_key_set ||
           r->wg.listen_port_set || r->rt.link_changed || r->rt.addresses_added ||
           r->rt.addresses_removed || r->rt.routes_added || r->rt.routes_removed || r->forwarding ||
           r->vrf_set || r->ruleset_changed || frr_changed(r) || r->ovn == NN_OVN_APPLIED ||
           r->ifaces_removed || r->bridges_set || r->bridges_removed;
}

/* The apply's FRR outcome as apply prints it. */
static const char *frr_outcome(const apply_result *r)
{
    return r->frr_disabled ? "disabled" : nn_frr_outcome_name(r->frr);
}

static const char *ovn_outcome(const apply_result *r)
{
    return r->ovn_disabled ? "disabled" : nn_ovn_outcome_name(r->ovn);
}

/* The "ovn" of a report: null when the envelope has no plan. */
static const char *ovn_state(const apply_result *r)
{
    if (r->ovn_disabled)
        return "disabled";
    if (r->ovn == NN_OVN_OFF)
        return NULL;
    return r->ovn == NN_OVN_FAILED ? "failed" : "applied";
}

/* The "frr" of a report and of apply --json: null when BGP is not in
 * play, else the outcome. */
static const char *frr_state(const apply_result *r)
{
    if (r->frr_disabled)
        return "disabled";
    if (r->frr == NN_FRR_OFF || r->frr == NN_FRR_WITHDRAWN)
        return NULL;
    return r->frr == NN_FRR_FAILED ? "failed" : "applied";
}

/* The VRF of an iBGP network: off (none), set (made or brought up),
 * unchanged, or failed (vrf_why). */
static const char *vrf_outcome(const apply_result *r)
{
    return r->vrf_why[0] ? "failed" : r->vrf_set ? "set" : r->has_vrf ? "unchanged" : "off";
}

static void result_json(const apply_result *r, nn_buf *out)
{
    nn_buf names = NN_BUF_INIT;
    nn_buf_putc(&names, '[');
    for (size_t i = 0; i < r->n_ifaces; i++)
        nn_buf_printf(&names, "%s\"%s\"", i ? "," : "", r->ifs[i].ifname);
    nn_buf_putc(&names, ']');
    nn_buf_printf(out,
                  "{\"addresses\":{\"added\":%zu,\"removed\":%zu},"
                  "\"bridges\":{\"linux\":%zu,\"removed\":%zu,\"set\":%zu,\"skipped\":%zu},"
                  "\"etag\":\"\\\"%.64s\\\"\","
                  "\"forwarding_set\":%s,\"interface\":\"%s\",\"interfaces\":%s,"
                  "\"interfaces_removed\":%zu,\"link_set\":%s,"
                  "\"peers\":{\"added\":%zu,\"removed\":%zu,\"unchanged\":%zu,\"updated\":%zu},"
                  "\"frr\":\"%s\",\"ovn\":\"%s\",\"private_key_set\":%s,"
                  "\"routes\":{\"added\":%zu,\"removed\":%zu},\"ruleset_changed\":%s,"
                  "\"vrf\":\"%s\",\"wireguard\":\"%s\",\"wireguard_ms\":%.3f}",
                  r->rt.addresses_added, r->rt.addresses_removed, r->bridges, r->bridges_removed,
                  r->bridges_set, r->bridges_skipped, r->etag + 1, r->forwarding ? "true" : "false",
                  r->ifname, names.data, r->ifaces_removed, r->rt.link_changed ? "true" : "false",
                  r->wg.added, r->wg.removed, r->wg.unchanged, r->wg.updated, frr_outcome(r),
                  ovn_outcome(r), r->wg.private_key_set ? "true" : "false", r->rt.routes_added,
                  r->rt.routes_removed, r->ruleset_changed ? "true" : "false", vrf_outcome(r),
                  r->wg.userspace ? "userspace" : "kernel", r->wg_ms);
    nn_buf_free(&names);
}

/* The pinned server key: --server-key, else STATE/server.pub. */
static int load_server_key(const options *o, uint8_t pk[NN_SIGN_PK_LEN], char *why, size_t why_len)
{
    char path[4096];
    if (o->server_key)
        snprintf(path, sizeof(path), "%s", o->server_key);
    else if (state_path(path, sizeof(path), o->state_dir, "server.pub"))
        return -ENAMETOOLONG;
    nn_error err = {{0}, {0}};
    int r = nn_key_file_read(path, pk, NN_SIGN_PK_LEN, &err);
    if (r)
        snprintf(why, why_len, "server key: %.200s: %.200s%s", err.path, err.msg,
                 r == -ENOENT ? " (not enrolled yet)" : "");
    return r;
}

/* FRR last: BGP runs over the overlay the steps before brought up. A
 * failure here is reported, not fatal -- the tunnels and the static routes
 * stand on their own, and the next drift check tries again. */
static void apply_frr(const options *o, const nn_agent_envelope *env, apply_result *res)
{
    if (o->frr_vty && !strcmp(o->frr_vty, "off")) {
        res->frr_disabled = env->frr_text != NULL;
        return;
    }
    nn_frr_config fc = {.reload = o->frr_reload ? o->frr_reload : NN_FRR_RELOAD_DEFAULT,
                        .vty_dir = o->frr_vty ? o->frr_vty : NN_FRR_VTY_DEFAULT,
                        .work_dir = o->state_dir};
    /* zebra owns the forwarding sysctls once it runs: a text that left
     * them out would have frr-reload negate "no ip forwarding" -- turning
     * forwarding on where the envelope says the node routes for nobody. */
    char *text = NULL;
    if (env->frr_text && asprintf(&text, "%s%s",
                                  env->forwarding ? "ip forwarding\nipv6 forwarding\n"
                                                  : "no ip forwarding\nno ipv6 forwarding\n",
                                  env->frr_text) < 0)
        abort();
    res->frr = nn_frr_apply(&fc, text, res->frr_why, sizeof(res->frr_why));
    free(text);
}

/* OVN after FRR: the plan lives in the deployment's northbound database,
 * not on this host, and failing to reach it leaves the host's own state
 * standing. */
static void apply_ovn(const options *o, const nn_agent_envelope *env, apply_result *res)
{
    if (o->ovn_nbctl && !strcmp(o->ovn_nbctl, "off")) {
        res->ovn_disabled = env->has_ovn;
        return;
    }
    res->ovn = nn_ovn_apply(o->ovn_nbctl ? o->ovn_nbctl : NN_OVN_NBCTL_DEFAULT,
                            env->has_ovn ? &env->ovn : NULL, res->ovn_why, sizeof(res->ovn_why));
}

/* --interface OLD=NEW[,OLD=NEW...]: calls fn for each pair; -EINVAL
 * (why says which) when a pair has no '=' or the spec is too long, else
 * fn's first nonzero return. */
static int each_rename(const char *spec, int (*fn)(const char *old, const char *new_, void *arg),
                       void *arg, char *why, size_t why_len)
{
    char buf[512];
    if (snprintf(buf, sizeof(buf), "%s", spec) >= (int)sizeof(buf))
        return nn_why_invalid(why, why_len, "--interface: longer than %zu bytes", sizeof(buf) - 1);
    char *save = NULL;
    for (char *pair = strtok_r(buf, ",", &save); pair; pair = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(pair, '=');
        if (!eq)
            return nn_why_invalid(why, why_len, "--interface: \"%s\" is not OLD=NEW", pair);
        *eq = '\0';
        int r = fn(pair, eq + 1, arg);
        if (r == -EEXIST)
            return nn_why_invalid(why, why_len, "--interface: %s is taken", eq + 1);
        if (r)
            return nn_why_invalid(why, why_len, "--interface: %s=%s: not interface names", pair,
                                  eq + 1);
    }
    return 0;
}

/* A pair whose OLD the document lacks is skipped. */
static int rename_one(const char *old, const char *new_, void *arg)
{
    int r = nn_agent_envelope_rename(arg, old, new_);
    return r == -ENOENT ? 0 : r;
}

static int names_valid(const char *old, const char *new_, void *arg)
{
    (void)arg;
    return nn_wg_ifname_valid(old) && nn_wg_ifname_valid(new_) ? 0 : -EINVAL;
}

/* --interface: NAME runs a one-interface document's interface under that
 * name; OLD=NEW[,OLD=NEW...] renames any (several nodes on one machine,
 * as the tests do). */
static int apply_renames(const char *spec, nn_agent_envelope *e, char *why, size_t why_len)
{
    if (!spec)
        return 0;
    if (strchr(spec, '='))
        return each_rename(spec, rename_one, e, why, why_len);
    if (e->n_ifaces != 1)
        return nn_why_invalid(why, why_len,
                              "--interface NAME needs a document with one interface (this "
                              "one has %zu): use OLD=NEW,...",
                              e->n_ifaces);
    return nn_agent_envelope_rename(e, e->ifaces[0].ifname, spec) ? -EINVAL : 0;
}

/* --interface's names are interface names. */
static bool renames_valid(const char *spec)
{
    char why[WHY_LEN];
    return strchr(spec, '=') ? each_rename(spec, names_valid, NULL, why, sizeof(why)) == 0
                             : nn_wg_ifname_valid(spec);
}

/* One interface brought to want: made if missing, WireGuard by diff
 * (against prev, the same interface in the last applied document), its
 * VRF, then link, addresses and routes by diff. */
static int apply_iface(const options *o, const nn_agent_iface *want, const nn_agent_iface *prev,
                       const nn_key *priv, const nn_key *pub, iface_result *ir, double *wg_ms,
                       char *why, size_t why_len)
{
    char perr[WHY_LEN];
    int r;
    snprintf(ir->ifname, sizeof(ir->ifname), "%s", want->ifname);
    if (ensure_interface(want->ifname, o->userspace, perr, sizeof(perr))) {
        snprintf(why, why_len, "interface %.400s", perr);
        return -EIO;
    }
    nn_wg_device desired = want->wg; /* borrows its peers */
    desired.private_key = *priv;
    desired.public_key = *pub;
    desired.flags |= NN_WG_HAS_PRIVATE_KEY;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    r = nn_apply_wg(want->ifname, &desired, prev ? &prev->wg : NULL, &ir->wg, perr, sizeof(perr));
    sodium_memzero(&desired.private_key, sizeof(desired.private_key));
    if (r) {
        snprintf(why, why_len, "wireguard: %.400s", perr);
        return r;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *wg_ms += (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    /* A VRF that cannot be made (a kernel without the module) is
     * reported, not fatal: the tunnel and its routes in the main table
     * still carry traffic, and bgpd keeps that instance down. */
    bool in_vrf = false;
    ir->has_vrf = want->vrf[0] != '\0';
    if (ir->has_vrf) {
        r = nn_rtnl_ensure_vrf(want->vrf, want->vrf_table, perr, sizeof(perr));
        if (r < 0)
            snprintf(ir->vrf_why, sizeof(ir->vrf_why),
                     "vrf %s does not exist on this host (%.300s): routes stay in the main "
                     "table, and bgpd keeps that BGP instance down",
                     want->vrf, perr);
        in_vrf = r >= 0;
        ir->vrf_set = r > 0;
    }
    nn_rtnl_link link = {.mtu = want->mtu,
                         .addresses = want->addresses,
                         .n_addresses = want->n_addresses,
                         .routes = want->routes,
                         .n_routes = want->n_routes,
                         .vrf = in_vrf ? want->vrf : NULL,
                         .table = want->vrf_table};
    return nn_rtnl_apply(want->ifname, &link, &ir->rt, why, why_len);
}

static void add_up(apply_result *res, const iface_result *ir)
{
    res->wg.added += ir->wg.added;
    res->wg.updated += ir->wg.updated;
    res->wg.removed += ir->wg.removed;
    res->wg.unchanged += ir->wg.unchanged;
    res->wg.private_key_set |= ir->wg.private_key_set;
    res->wg.listen_port_set |= ir->wg.listen_port_set;
    res->wg.userspace |= ir->wg.userspace;
    res->rt.link_changed |= ir->rt.link_changed;
    res->rt.addresses_added += ir->rt.addresses_added;
    res->rt.addresses_removed += ir->rt.addresses_removed;
    res->rt.routes_added += ir->rt.routes_added;
    res->rt.routes_removed += ir->rt.routes_removed;
    res->has_vrf |= ir->has_vrf;
    res->vrf_set |= ir->vrf_set;
    if (ir->vrf_why[0] && !res->vrf_why[0])
        snprintf(res->vrf_why, sizeof(res->vrf_why), "%s", ir->vrf_why);
}

/* The interfaces (and their VRFs) prev had and env has not: a network
 * the host left, or a per-network interface the shared one replaced. */
static int remove_departed(const nn_agent_envelope *env, const nn_agent_envelope *prev,
                           apply_result *res, char *why, size_t why_len)
{
    for (size_t i = 0; i < prev->n_ifaces; i++) {
        const nn_agent_iface *old = &prev->ifaces[i];
        if (nn_agent_envelope_iface(env, old->ifname))
            continue;
        int r = nn_rtnl_delete_link(old->ifname, why, why_len);
        if (r < 0)
            return r;
        res->ifaces_removed += (size_t)r;
        bool vrf_used = !old->vrf[0];
        for (size_t j = 0; j < env->n_ifaces && !vrf_used; j++)
            vrf_used = !strcmp(env->ifaces[j].vrf, old->vrf);
        if (!vrf_used && (r = nn_rtnl_delete_link(old->vrf, why, why_len)) < 0)
            return r;
    }
    return 0;
}

static bool has_linux_bridge(const nn_agent_envelope *e, const char *name)
{
    for (size_t i = 0; i < e->n_bridges; i++)
        if (!e->bridges[i].ovs && !strcmp(e->bridges[i].name, name))
            return true;
    return false;
}

/* The host's Linux bridges: each made (and up) when missing, those the
 * previous document had and this one has not removed. A bridge that
 * cannot be made is reported, not fatal: the tunnels do not need it.
 * OVS bridges are counted as skipped (this daemon does not drive OVS). */
static void apply_bridges(const nn_agent_envelope *env, const nn_agent_envelope *prev,
                          apply_result *res)
{
    char perr[WHY_LEN];
    for (size_t i = 0; prev && i < prev->n_bridges; i++) {
        const nn_agent_bridge *b = &prev->bridges[i];
        if (b->ovs || has_linux_bridge(env, b->name))
            continue;
        int r = nn_rtnl_delete_link(b->name, perr, sizeof(perr));
        if (r < 0 && !res->bridges_why[0])
            snprintf(res->bridges_why, sizeof(res->bridges_why), "bridge %.400s", perr);
        res->bridges_removed += r > 0;
    }
    for (size_t i = 0; i < env->n_bridges; i++) {
        const nn_agent_bridge *b = &env->bridges[i];
        if (b->ovs) {
            res->bridges_skipped++;
            continue;
        }
        res->bridges++;
        int r = nn_rtnl_ensure_bridge(b->name, perr, sizeof(perr));
        if (r < 0 && !res->bridges_why[0])
            snprintf(res->bridges_why, sizeof(res->bridges_why), "bridge %.400s", perr);
        res->bridges_set += r > 0;
    }
    if (res->bridges_skipped && !res->bridges_why[0])
        snprintf(res->bridges_why, sizeof(res->bridges_why),
                 "%zu OVS bridge(s) not applied: this gateway-daemon does not drive Open vSwitch",
                 res->bridges_skipped);
}

/* Verifies, parses and applies one node document or envelope: nft, the
 * interfaces that left, then per interface WireGuard (diff), VRF,
 * link/addresses/routes (diff); forwarding, FRR, OVN; then saves it as the last
 * applied (applied.json, applied.sig). EXIT_INVALID when refused (nothing
 * on the host changed), 1 on a host error, 0 when applied. */
static int apply_bytes(const options *o, const char *data, size_t len, const char *sig,
                       apply_result *res, char *why, size_t why_len)
{
    memset(res, 0, sizeof(*res));
    uint8_t server_pk[NN_SIGN_PK_LEN];
    if (load_server_key(o, server_pk, why, why_len))
        return EXIT_INVALID;
    nn_agent_envelope env = {0}, prev = {0};
    bool have_prev = false;
    nn_key priv = {{0}}, pub;
    int status = EXIT_INVALID, r = 0;
    /* Nothing is parsed before the signature holds. */
    uint64_t revision, applied_rev;
    if (nn_envelope_verify(data, len, sig, server_pk, &revision) != 0) {
        snprintf(why, why_len,
                 "signature does not verify with the pinned server key; "
                 "nothing applied");
        goto out;
    }
    /* Rollback: a validly signed but older document (replayed, or from a
     * stale server) never replaces a newer one. The same revision is
     * accepted: drift checks and restarts re-apply what is in force. */
    if (applied_revision(o->state_dir, &applied_rev) && revision < applied_rev) {
        snprintf(why, why_len,
                 "revision %" PRIu64 " is older than the applied revision %" PRIu64
                 " (rollback refused); nothing applied",
                 revision, applied_rev);
        goto out;
    }
    char perr[WHY_LEN];
    if (nn_agent_envelope_parse(data, len, resolve_endpoint, &env, perr, sizeof(perr)) ||
        apply_renames(o->ifname, &env, perr, sizeof(perr))) {
        snprintf(why, why_len, "%.400s; nothing applied", perr);
        goto out;
    }
    status = 1;
    if (env.n_ifaces)
        snprintf(res->ifname, sizeof(res->ifname), "%s", env.ifaces[0].ifname);
    if (load_private_key(o->state_dir, &priv, &pub)) {
        snprintf(why, why_len, "no private key in %.300s (run gateway-daemon keygen)",
                 o->state_dir);
        goto out;
    }
    have_prev = load_previous(o->state_dir, &prev) &&
                apply_renames(o->ifname, &prev, perr, sizeof(perr)) == 0;
    /* The firewall first: its rules match on the interface names, so no
     * interface passes a packet before deny-by-default holds. */
    if (nn_apply_nft(env.nft_ruleset, &res->ruleset_changed, why, why_len))
        goto out;
    /* The interfaces that left go before new ones come: a mode switch
     * hands the shared interface's listen port to a per-network one. */
    if (have_prev && remove_departed(&env, &prev, res, why, why_len))
        goto out;
    for (size_t i = 0; i < env.n_ifaces; i++) {
        const nn_agent_iface *want = &env.ifaces[i];
        if (apply_iface(o, want, have_prev ? nn_agent_envelope_iface(&prev, want->ifname) : NULL,
                        &priv, &pub, &res->ifs[i], &res->wg_ms, why, why_len))
            goto out;
        res->n_ifaces = i + 1;
        add_up(res, &res->ifs[i]);
    }
    if (env.forwarding && (res->forwarding = nn_rtnl_enable_forwarding(perr, sizeof(perr))) < 0) {
        snprintf(why, why_len, "forwarding: %.400s", perr);
        goto out;
    }
    apply_bridges(&env, have_prev ? &prev : NULL, res);
    apply_frr(o, &env, res);
    apply_ovn(o, &env, res);
    char path[4096];
    if (state_path(path, sizeof(path), o->state_dir, "applied.json") ||
        (r = nn_file_replace(path, data, len, 0600)) ||
        state_path(path, sizeof(path), o->state_dir, "applied.sig") ||
        (r = nn_file_replace(path, sig, strlen(sig), 0600))) {
        snprintf(why, why_len, "%.300s: %.100s", path, strerror(-r));
        goto out;
    }
    uint8_t h[NN_HASH_LEN];
    nn_hash_bytes(data, len, h);
    res->etag[0] = '"';
    nn_hash_hex(h, NN_HASH_LEN, res->etag + 1);
    memcpy(res->etag + 1 + 2 * NN_HASH_LEN, "\"", 2);
    status = 0;
out:
    sodium_memzero(&priv, sizeof(priv));
    nn_agent_envelope_free(&env);
    if (have_prev)
        nn_agent_envelope_free(&prev);
    return status;
}

static int cmd_apply(const options *o)
{
    if (!o->state_dir || !o->envelope || !o->signature)
        return usage("apply needs --state-dir, -f ENVELOPE and --signature SIGFILE");
    if (o->ifname && !renames_valid(o->ifname))
        return usage("--interface must be NAME or OLD=NEW[,OLD=NEW...], Linux interface names "
                     "(1-15 of A-Za-z0-9_.-)");
    char *data = NULL, *sig = NULL, why[WHY_LEN] = "";
    size_t len, sig_len;
    int r = nn_file_read(o->envelope, NN_ENVELOPE_MAX, &data, &len);
    if (r) {
        fprintf(stderr, "error: %s: %s\n", o->envelope, strerror(-r));
        return EXIT_INVALID;
    }
    if ((r = nn_file_read(o->signature, 4096, &sig, &sig_len))) {
        fprintf(stderr, "error: %s: %s\n", o->signature, strerror(-r));
        free(data);
        return EXIT_INVALID;
    }
    apply_result res;
    int status = apply_bytes(o, data, len, sig, &res, why, sizeof(why));
    if (status) {
        fprintf(stderr, "error: %s: %s\n", o->envelope, why);
    } else if (o->json) {
        nn_buf out = NN_BUF_INIT;
        result_json(&res, &out);
        printf("%s\n", out.data);
        nn_buf_free(&out);
    } else {
        printf("applied %s: peers +%zu ~%zu -%zu =%zu, addresses +%zu -%zu, routes +%zu -%zu, "
               "frr %s, ovn %s, vrf %s (%s wireguard %.3f ms)\n",
               res.ifname, res.wg.added, res.wg.updated, res.wg.removed, res.wg.unchanged,
               res.rt.addresses_added, res.rt.addresses_removed, res.rt.routes_added,
               res.rt.routes_removed, frr_outcome(&res), ovn_outcome(&res), vrf_outcome(&res),
               res.wg.userspace ? "userspace" : "kernel", res.wg_ms);
    }
    if (!status && res.frr_why[0])
        fprintf(stderr, "warning: %s\n", res.frr_why);
    if (!status && res.ovn_why[0])
        fprintf(stderr, "warning: %s\n", res.ovn_why);
    if (!status && res.vrf_why[0])
        fprintf(stderr, "warning: %s\n", res.vrf_why);
    if (!status && res.bridges_why[0])
        fprintf(stderr, "warning: %s\n", res.bridges_why);
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

/* Each peer as the device reports it: the "peers" of `show` (with the
 * configuration: allowed IPs, keepalive) and of the observed state a node
 * reports (without: the server knows what it configured). */
/* The device's peers as items of an open array. */
static void peer_items(nn_jw *w, const nn_wg_device *dev, bool configuration)
{
    for (size_t i = 0; i < dev->n_peers; i++) {
        const nn_wg_peer *p = &dev->peers[i];
        char text[NN_PREFIX_STRLEN];
        nn_jw_obj_begin(w);
        if (configuration) {
            nn_jw_key(w, "allowed_ips");
            nn_jw_arr_begin(w);
            for (size_t j = 0; j < p->n_allowed; j++)
                nn_jw_str(w, nn_prefix_format(&p->allowed[j], true, text));
            nn_jw_arr_end(w);
        }
        nn_jw_key(w, "endpoint");
        if (p->endpoint.family)
            nn_jw_str(w, nn_wg_endpoint_format(&p->endpoint, text));
        else
            nn_jw_null(w);
        nn_jw_key(w, "last_handshake");
        nn_jw_int(w, p->last_handshake_sec);
        if (configuration) {
            nn_jw_key(w, "persistent_keepalive");
            nn_jw_int(w, p->keepalive);
        }
        nn_jw_key(w, "public_key");
        nn_key_to_base64(&p->public_key, text);
        nn_jw_str(w, text);
        nn_jw_key(w, "rx_bytes");
        nn_jw_int(w, (int64_t)p->rx_bytes);
        nn_jw_key(w, "tx_bytes");
        nn_jw_int(w, (int64_t)p->tx_bytes);
        nn_jw_obj_end(w);
    }
}

static void peers_json(nn_jw *w, const nn_wg_device *dev, bool configuration)
{
    nn_jw_arr_begin(w);
    peer_items(w, dev, configuration);
    nn_jw_arr_end(w);
}

static int cmd_show(const options *o)
{
    if (!o->ifname)
        return usage("show needs --interface");
    nn_wg_device dev;
    char why[WHY_LEN];
    if (nn_wg_get(o->ifname, &dev, why, sizeof(why))) {
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
    peers_json(&w, &dev, true);
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

/* ------------------------------------------------------------------ */
/* run: the long-running daemon behind a unix socket */

typedef struct daemon_state {
    const options *o;
    nn_key public_key;
    bool applied;      /* an envelope is in force */
    apply_result last; /* of the last successful apply */
    char applied_at[32];
    char *data; /* the envelope in force, re-applied by drift checks */
    size_t len;
    char sig[NN_ENVELOPE_SIG_MAX];
    unsigned long drift_repairs;
    unsigned long frr_reloads; /* frr-reload.py runs that changed FRR */
    unsigned long ovn_applies; /* ovn-nbctl transactions that changed the database */
    char last_error[WHY_LEN];  /* empty when the last apply succeeded */
} daemon_state;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("gateway-daemon: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void utc_now(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Applies and, on success, makes these bytes the envelope in force. */
static int daemon_apply(daemon_state *d, const char *data, size_t len, const char *sig,
                        apply_result *res, char *why, size_t why_len)
{
    int status = apply_bytes(d->o, data, len, sig, res, why, why_len);
    if (status) {
        snprintf(d->last_error, sizeof(d->last_error), "%s", why);
        return status;
    }
    if (data != d->data) {
        char *copy = malloc(len + 1);
        if (!copy) {
            snprintf(why, why_len, "out of memory");
            return 1;
        }
        memcpy(copy, data, len);
        copy[len] = '\0';
        free(d->data);
        d->data = copy;
        d->len = len;
        snprintf(d->sig, sizeof(d->sig), "%s", sig);
        utc_now(d->applied_at);
    }
    d->applied = true;
    if (frr_changed(res))
        d->frr_reloads++;
    if (res->ovn == NN_OVN_APPLIED)
        d->ovn_applies++;
    d->last = *res;
    d->last_error[0] = '\0';
    return 0;
}

/* A drift check: the envelope in force, applied again. Anything that
 * changes was changed on the host by someone else, and is put back. */
static void drift_check(daemon_state *d)
{
    if (!d->applied)
        return;
    apply_result res;
    char why[WHY_LEN];
    if (daemon_apply(d, d->data, d->len, d->sig, &res, why, sizeof(why))) {
        log_line("drift check failed: %s", why);
        return;
    }
    if (result_changed(&res)) {
        d->drift_repairs++;
        log_line("drift repaired on %s: peers +%zu ~%zu -%zu, addresses +%zu -%zu, routes +%zu "
                 "-%zu, link %s, ruleset %s, frr %s, ovn %s",
                 res.ifname, res.wg.added, res.wg.updated, res.wg.removed, res.rt.addresses_added,
                 res.rt.addresses_removed, res.rt.routes_added, res.rt.routes_removed,
                 res.rt.link_changed ? "restored" : "ok", res.ruleset_changed ? "restored" : "ok",
                 res.frr == NN_FRR_RELOADED ? "reloaded" : "ok",
                 res.ovn == NN_OVN_APPLIED ? "restored" : "ok");
    }
}

static void reply_error(int fd, const char *why, bool refused)
{
    nn_buf out = NN_BUF_INIT;
    nn_jw w;
    nn_jw_init(&w, &out);
    nn_jw_obj_begin(&w);
    nn_jw_key(&w, "error");
    nn_jw_str(&w, why);
    nn_jw_key(&w, "refused");
    nn_jw_bool(&w, refused);
    nn_jw_obj_end(&w);
    nn_msg_send(fd, NN_MSG_ERROR, out.data, out.len);
    nn_buf_free(&out);
}

static void reply_ok(int fd, nn_buf *out)
{
    nn_msg_send(fd, NN_MSG_OK, out->data, out->len);
}

static void handle_hello(daemon_state *d, int fd)
{
    char text[NN_KEY_B64_LEN + 1], path[4096];
    nn_buf out = NN_BUF_INIT;
    nn_jw w;
    nn_jw_init(&w, &out);
    nn_jw_obj_begin(&w);
    nn_jw_key(&w, "applied_etag");
    d->applied ? nn_jw_str(&w, d->last.etag) : nn_jw_null(&w);
    nn_jw_key(&w, "interface");
    d->applied ? nn_jw_str(&w, d->last.ifname) : nn_jw_null(&w);
    nn_jw_key(&w, "pinned");
    nn_jw_bool(&w, state_path(path, sizeof(path), d->o->state_dir, "server.pub") == 0 &&
                       access(path, F_OK) == 0);
    nn_jw_key(&w, "public_key");
    nn_key_to_base64(&d->public_key, text);
    nn_jw_str(&w, text);
    nn_jw_obj_end(&w);
    reply_ok(fd, &out);
    nn_buf_free(&out);
}

/* Pins the server's signing key, trust on first use: the manager hands
 * over what enrollment returned, once. Replacing a pinned key would let
 * whoever controls the manager sign envelopes, so that is refused. */
static void handle_pin(daemon_state *d, int fd, const nn_buf *payload)
{
    uint8_t pk[NN_SIGN_PK_LEN], pinned[NN_SIGN_PK_LEN];
    size_t n = 0;
    char path[4096], text[NN_KEY_B64_LEN + 2], why[WHY_LEN];
    if (sodium_base642bin(pk, sizeof(pk), payload->data, payload->len, "\n", &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n != sizeof(pk))
        return reply_error(fd, "PIN: not the base64 of a 32-byte Ed25519 public key", true);
    if (state_path(path, sizeof(path), d->o->state_dir, "server.pub"))
        return reply_error(fd, "state directory path too long", false);
    if (load_server_key(d->o, pinned, why, sizeof(why)) == 0) {
        if (memcmp(pinned, pk, sizeof(pk)) != 0)
            return reply_error(fd,
                               "a different server key is already pinned; remove "
                               "server.pub from the state directory to enroll elsewhere",
                               true);
    } else {
        sodium_bin2base64(text, sizeof(text), pk, sizeof(pk), sodium_base64_VARIANT_ORIGINAL);
        size_t tl = strlen(text);
        text[tl] = '\n';
        int r = nn_file_replace(path, text, tl + 1, 0644);
        if (r) {
            snprintf(why, sizeof(why), "%.300s: %.100s", path, strerror(-r));
            return reply_error(fd, why, false);
        }
        log_line("pinned the server signing key");
    }
    nn_buf out = NN_BUF_INIT;
    nn_buf_puts(&out, "{\"pinned\":true}");
    reply_ok(fd, &out);
    nn_buf_free(&out);
}

static void handle_apply(daemon_state *d, int fd, const nn_buf *payload)
{
    char sig[NN_ENVELOPE_SIG_MAX], why[WHY_LEN];
    const char *env;
    size_t env_len;
    if (nn_msg_apply_split(payload->data, payload->len, sig, &env, &env_len))
        return reply_error(fd, "APPLY: payload is not a signature line and an envelope", true);
    apply_result res;
    int status = daemon_apply(d, env, env_len, sig, &res, why, sizeof(why));
    if (status) {
        log_line("apply refused or failed: %s", why);
        return reply_error(fd, why, status == EXIT_INVALID);
    }
    log_line("applied %s: peers +%zu ~%zu -%zu =%zu, addresses +%zu -%zu, routes +%zu -%zu",
             res.ifname, res.wg.added, res.wg.updated, res.wg.removed, res.wg.unchanged,
             res.rt.addresses_added, res.rt.addresses_removed, res.rt.routes_added,
             res.rt.routes_removed);
    nn_buf out = NN_BUF_INIT;
    result_json(&res, &out);
    reply_ok(fd, &out);
    nn_buf_free(&out);
}

/* STATUS's frr and ovn: null, or {COUNTER: count, state}. */
static void outcome_json(nn_jw *w, const char *state, const char *counter, unsigned long count)
{
    if (!state) {
        nn_jw_null(w);
        return;
    }
    nn_jw_obj_begin(w);
    nn_jw_key(w, counter);
    nn_jw_int(w, (int64_t)count);
    nn_jw_key(w, "state");
    nn_jw_str(w, state);
    nn_jw_obj_end(w);
}

/* The observed state, in the shape of POST /api/v1/node/status: per
 * interface its port and peers; at the top the first interface's name and
 * port (an envelope's only one) and every interface's peers. */
static void handle_status(daemon_state *d, int fd)
{
    size_t n = d->applied ? d->last.n_ifaces : 0;
    nn_wg_device *devs = calloc(n + 1, sizeof(*devs));
    bool *have = calloc(n + 1, sizeof(*have));
    char(*whys)[WHY_LEN] = calloc(n + 1, WHY_LEN);
    if (!devs || !have || !whys) {
        free(devs);
        free(have);
        free(whys);
        return reply_error(fd, "out of memory", false);
    }
    for (size_t i = 0; i < n; i++)
        have[i] = nn_wg_get(d->last.ifs[i].ifname, &devs[i], whys[i], WHY_LEN) == 0;
    nn_buf out = NN_BUF_INIT;
    nn_jw w;
    nn_jw_init(&w, &out);
    nn_jw_obj_begin(&w);
    nn_jw_key(&w, "applied_at");
    d->applied ? nn_jw_str(&w, d->applied_at) : nn_jw_null(&w);
    nn_jw_key(&w, "applied_etag");
    d->applied ? nn_jw_str(&w, d->last.etag) : nn_jw_null(&w);
    nn_jw_key(&w, "drift_repairs");
    nn_jw_int(&w, (int64_t)d->drift_repairs);
    nn_jw_key(&w, "errors");
    nn_jw_arr_begin(&w);
    if (d->last_error[0])
        nn_jw_str(&w, d->last_error);
    for (size_t i = 0; i < n; i++) {
        if (!have[i])
            nn_jw_str(&w, whys[i]);
        if (d->last.ifs[i].vrf_why[0])
            nn_jw_str(&w, d->last.ifs[i].vrf_why);
    }
    if (d->applied && d->last.frr_why[0])
        nn_jw_str(&w, d->last.frr_why);
    if (d->applied && d->last.ovn_why[0])
        nn_jw_str(&w, d->last.ovn_why);
    if (d->applied && d->last.bridges_why[0])
        nn_jw_str(&w, d->last.bridges_why);
    nn_jw_arr_end(&w);
    nn_jw_key(&w, "frr");
    outcome_json(&w, d->applied ? frr_state(&d->last) : NULL, "reloads", d->frr_reloads);
    if (n) {
        nn_jw_key(&w, "interface");
        nn_jw_str(&w, d->last.ifs[0].ifname);
    }
    nn_jw_key(&w, "interfaces");
    nn_jw_arr_begin(&w);
    for (size_t i = 0; i < n; i++) {
        nn_jw_obj_begin(&w);
        nn_jw_key(&w, "listen_port");
        nn_jw_int(&w, have[i] ? devs[i].listen_port : 0);
        nn_jw_key(&w, "name");
        nn_jw_str(&w, d->last.ifs[i].ifname);
        nn_jw_key(&w, "peers");
        peers_json(&w, &devs[i], false);
        nn_jw_obj_end(&w);
    }
    nn_jw_arr_end(&w);
    nn_jw_key(&w, "listen_port");
    nn_jw_int(&w, n && have[0] ? devs[0].listen_port : 0);
    nn_jw_key(&w, "ovn");
    outcome_json(&w, d->applied ? ovn_state(&d->last) : NULL, "applies", d->ovn_applies);
    nn_jw_key(&w, "peers");
    nn_jw_arr_begin(&w);
    for (size_t i = 0; i < n; i++)
        peer_items(&w, &devs[i], false);
    nn_jw_arr_end(&w);
    nn_jw_obj_end(&w);
    reply_ok(fd, &out);
    nn_buf_free(&out);
    for (size_t i = 0; i < n; i++)
        nn_wg_device_free(&devs[i]);
    free(devs);
    free(have);
    free(whys);
}

static void serve_connection(daemon_state *d, int fd)
{
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    nn_buf payload = NN_BUF_INIT;
    uint8_t type;
    int r = nn_msg_recv(fd, 1, &type, &payload);
    if (r == -EPROTO || r == -EMSGSIZE) {
        log_line("refused a malformed request (%s)", strerror(-r));
        reply_error(fd, r == -EPROTO ? "malformed frame" : "frame too large", true);
    } else if (r) {
        log_line("request not read: %s", strerror(-r));
    } else if (type == NN_MSG_HELLO) {
        handle_hello(d, fd);
    } else if (type == NN_MSG_PIN) {
        handle_pin(d, fd, &payload);
    } else if (type == NN_MSG_APPLY) {
        handle_apply(d, fd, &payload);
    } else {
        handle_status(d, fd);
    }
    nn_buf_free(&payload);
}

static int listen_socket(const options *o)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(o->socket) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "error: --socket: path too long\n");
        return -1;
    }
    memcpy(sa.sun_path, o->socket, strlen(o->socket) + 1);
    struct stat st;
    if (lstat(o->socket, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(o->socket); /* left by a previous run */
    gid_t gid = (gid_t)-1;
    if (o->socket_group) {
        struct group *g = getgrnam(o->socket_group);
        char *end;
        long n = strtol(o->socket_group, &end, 10);
        if (g)
            gid = g->gr_gid;
        else if (!*end && n >= 0)
            gid = (gid_t)n;
        else {
            fprintf(stderr, "error: --socket-group: no group \"%s\"\n", o->socket_group);
            return -1;
        }
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* Bound with no access at all, then opened to exactly owner (and the
     * manager's group): never a moment when anyone else may connect. */
    mode_t old = umask(0777);
    int b = fd >= 0 ? bind(fd, (struct sockaddr *)&sa, sizeof(sa)) : -1;
    umask(old);
    if (b != 0 || (gid != (gid_t)-1 && chown(o->socket, (uid_t)-1, gid) != 0) ||
        chmod(o->socket, gid != (gid_t)-1 ? 0660 : 0600) != 0 || listen(fd, 8) != 0) {
        fprintf(stderr, "error: --socket %s: %s\n", o->socket, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int cmd_run(const options *o)
{
    if (!o->state_dir || !o->socket)
        return usage("run needs --state-dir and --socket");
    if (o->ifname && !renames_valid(o->ifname))
        return usage("--interface must be NAME or OLD=NEW[,OLD=NEW...], Linux interface names "
                     "(1-15 of A-Za-z0-9_.-)");
    long drift_s = 30;
    if (o->drift_interval) {
        char *end;
        drift_s = strtol(o->drift_interval, &end, 10);
        if (*end || drift_s < 1 || drift_s > 86400)
            return usage("--drift-interval must be 1-86400 seconds");
    }
    daemon_state d = {.o = o};
    nn_key priv;
    if (load_private_key(o->state_dir, &priv, &d.public_key))
        return 1;
    sodium_memzero(&priv, sizeof(priv));
    int lfd = listen_socket(o);
    if (lfd < 0)
        return 1;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* After a restart or reboot the last envelope is put back at once,
     * without waiting for the server: the node keeps its tunnels. */
    char path[4096], *data = NULL, *sig = NULL, why[WHY_LEN];
    size_t len, sig_len;
    if (state_path(path, sizeof(path), o->state_dir, "applied.json") == 0 &&
        nn_file_read(path, NN_ENVELOPE_MAX, &data, &len) == 0 &&
        state_path(path, sizeof(path), o->state_dir, "applied.sig") == 0 &&
        nn_file_read(path, 4096, &sig, &sig_len) == 0) {
        apply_result res;
        if (daemon_apply(&d, data, len, sig, &res, why, sizeof(why)) == 0)
            log_line("restored the last applied envelope on %s", res.ifname);
        else
            log_line("the last applied envelope was not restored: %s", why);
    }
    free(data);
    free(sig);
    log_line("listening on %s (drift check every %ld s)", o->socket, drift_s);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    time_t next_drift = now.tv_sec + drift_s;
    while (!g_stop) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long wait_ms = next_drift > now.tv_sec ? (long)(next_drift - now.tv_sec) * 1000 : 0;
        struct pollfd pfd = {.fd = lfd, .events = POLLIN};
        int n = poll(&pfd, 1, (int)wait_ms);
        if (n > 0) {
            int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (cfd >= 0) {
                serve_connection(&d, cfd);
                close(cfd);
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec >= next_drift) {
            drift_check(&d);
            next_drift = now.tv_sec + drift_s;
        }
    }
    log_line("stopping; the host keeps the applied state");
    close(lfd);
    unlink(o->socket);
    free(d.data);
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
    if (!strcmp(argv[1], "run"))
        return cmd_run(&o);
    return usage("unknown command");
}
