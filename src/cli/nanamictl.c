/* nanamictl: the operator CLI. Offline on an intent document ("compile"
 * prints envelopes, "check" validates, ...), and a client of nanamid's
 * API ("apply", "export", "get", ...: cli/remote.c).
 * Exit status: 0 ok, 2 invalid input or usage (one "error:" line on
 * stderr), 1 an internal failure. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alloc/alloc.h"
#include "cli/common.h"
#include "cli/remote.h"
#include "compile/compile.h"
#include "compile/credential.h"
#include "compile/node.h"
#include "model/intent.h"
#include "util/json_writer.h"

static const char usage[] =
    "usage: nanamictl compile -f INTENT.json [--peer WS/NET/PEER | --network WS/NET |\n"
    "                                          --host WS/HOST |\n"
    "                                          --device WS/NET/DEVICE --format wg-quick]\n"
    "                                         [--signing-key KEYFILE]\n"
    "       nanamictl check -f INTENT.json\n"
    "       nanamictl keygen --signing-key KEYFILE   (prints the public key)\n"
    "       nanamictl verify --public-key PUBFILE -f CREDENTIAL.json\n"
    "       nanamictl sign --signing-key KEYFILE -f ENVELOPE.json [--revision N]\n"
    "                                          (prints the signature token)\n"
    "       nanamictl failover -f INTENT.json --vip WS/NET/VIP [--down PEER,...]\n"
    "       nanamictl version\n"
    "\n"
    "against a running nanamid (server and token: --server URL --token TOKEN, else\n"
    "NANAMI_URL / NANAMI_TOKEN, else ~/.config/nanami/config with server = / token =):\n"
    "       nanamictl apply -f INTENT.json [--dry-run] [--json]\n"
    "       nanamictl export WORKSPACE\n"
    "       nanamictl get PATH [--json | --etag]        e.g. workspaces/acme/networks\n"
    "       nanamictl put|post PATH (-f FILE | -d JSON) [--dry-run] [--if-match ETAG] [--json]\n"
    "       nanamictl delete PATH [--dry-run] [--if-match ETAG]\n"
    "\n"
    "compile   prints canonical JSON: a peer's envelope, a network's, a host's node document\n"
    "          (what its agent applies), or every network and host when no target is given;\n"
    "          with --signing-key each envelope carries a signed membership credential\n"
    "check     validates the document and prints a summary\n"
    "keygen    makes an Ed25519 signing key (file mode 0600)\n"
    "verify    checks a membership credential (or an envelope holding one)\n"
    "sign      signs an envelope's exact bytes for gateway-daemon (detached, base64)\n"
    "failover  prints the holder a virtual IP moves to when the --down peers fail\n"
    "-f -      reads the document from standard input\n"
    "apply     converges each workspace of the document (creating missing ones if you are a\n"
    "          platform administrator); prints + created, ~ changed, - deleted\n"
    "get       prints tables (arrays of objects) or key/value lines; --json prints the answer\n";

static int load_doc(const char *path, nn_doc **out)
{
    char *data;
    size_t len;
    *out = NULL;
    int r = nn_file_read(path, NN_INTENT_MAX_BYTES, &data, &len);
    if (r) {
        fprintf(stderr, "error: %s: %s\n", path,
                r == -E2BIG ? "larger than the 64 MiB an intent document may be" : strerror(-r));
        return EXIT_INVALID;
    }
    nn_error err = {{0}, {0}};
    nn_doc *doc;
    r = nn_intent_parse(data, len, &doc, &err);
    free(data);
    if (r == 0 && (r = nn_alloc_assign(doc, &err)) != 0)
        nn_doc_free(doc);
    if (r) {
        fprintf(stderr, "error: %s: %s\n", err.path, err.msg);
        return r == -ENOMEM ? 1 : EXIT_INVALID;
    }
    *out = doc;
    return 0;
}

/* Splits "a/b/c" into at most want parts; returns the count (or -1 when
 * there are more parts than want). Parts point into buf. */
static int split_path(char *buf, char **parts, int want)
{
    int n = 0;
    char *s = buf;
    while (n < want) {
        parts[n++] = s;
        char *slash = strchr(s, '/');
        if (!slash)
            return n;
        *slash = '\0';
        s = slash + 1;
    }
    return -1;
}

static int find_network(const nn_doc *doc, const char *flag, const char *target, int want,
                        const nn_network **net, const char **leaf)
{
    char buf[256];
    char *parts[3];
    if (strlen(target) >= sizeof(buf))
        return cli_invalid(flag, "target too long", "");
    snprintf(buf, sizeof(buf), "%s", target);
    if (split_path(buf, parts, want) != want)
        return cli_invalid(flag,
                           want == 3 ? "\"%s\" is not WORKSPACE/NETWORK/NAME"
                                     : "\"%s\" is not WORKSPACE/NETWORK",
                           target);
    const nn_workspace *ws = nn_doc_find_workspace(doc, parts[0]);
    if (!ws)
        return cli_invalid(flag, "no workspace named \"%s\"", parts[0]);
    *net = nn_workspace_find_network(ws, parts[1]);
    if (!*net)
        return cli_invalid(flag, "no network named \"%s\" in that workspace", parts[1]);
    if (leaf) {
        /* point into the caller's string, not our stack buffer */
        *leaf = target + (parts[2] - buf);
    }
    return 0;
}

static int write_out(nn_buf *out)
{
    nn_buf_putc(out, '\n');
    if (fwrite(out->data, 1, out->len, stdout) != out->len || fflush(stdout) != 0) {
        fprintf(stderr, "error: stdout: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}

/* Signing key for credentials; NULL when --signing-key was not given. */
static const uint8_t *g_sign_sk;

static int check_signable(const nn_doc *doc)
{
    for (size_t i = 0; g_sign_sk && i < doc->nworkspaces; i++)
        if (!doc->workspaces[i].valid_from) {
            fprintf(stderr,
                    "error: workspaces[%zu].credential_validity: is required to sign membership "
                    "credentials (not_before, not_after)\n",
                    doc->workspaces[i].doc_index);
            return EXIT_INVALID;
        }
    return 0;
}

static int plan_new(const nn_network *net, nn_net_plan **plan)
{
    int r = nn_compile_plan_new(net, plan);
    if (r == 0 && g_sign_sk)
        nn_compile_plan_set_signing_key(*plan, g_sign_sk);
    return r;
}

static void plans_free(nn_net_plan **plans, size_t n);

/* Plans for every network of ws (free with plans_free). */
static nn_net_plan **plans_new(const nn_workspace *ws)
{
    nn_net_plan **plans = calloc(ws->nnetworks + 1, sizeof(*plans));
    for (size_t j = 0; plans && j < ws->nnetworks; j++)
        if (plan_new(&ws->networks[j], &plans[j]) != 0) {
            plans_free(plans, j);
            return NULL;
        }
    return plans;
}

static void plans_free(nn_net_plan **plans, size_t n)
{
    for (size_t j = 0; plans && j < n; j++)
        nn_compile_plan_free(plans[j]);
    free(plans);
}

/* Host h's node document into out; 0, or an exit status (said). */
static int node_document(const nn_workspace *ws, const nn_host *h, nn_net_plan *const *plans,
                         nn_buf *out)
{
    nn_error err = {{0}, {0}};
    int r = nn_compile_node(ws, h, plans, out, &err);
    if (r == -EINVAL)
        fprintf(stderr, "error: host %s/%s: %s: %s\n", ws->name, h->name, err.path, err.msg);
    return r == 0 ? 0 : r == -EINVAL ? EXIT_INVALID : 1;
}

static int compile_all(const nn_doc *doc, nn_buf *out)
{
    nn_jw w;
    nn_jw_init(&w, out);
    nn_jw_obj_begin(&w);
    nn_jw_key(&w, "workspaces");
    nn_jw_obj_begin(&w);
    for (size_t i = 0; i < doc->nworkspaces; i++) {
        const nn_workspace *ws = &doc->workspaces[i];
        nn_net_plan **plans = plans_new(ws);
        if (!plans)
            return 1;
        nn_jw_key(&w, ws->name);
        nn_jw_obj_begin(&w);
        nn_jw_key(&w, "hosts");
        nn_jw_obj_begin(&w);
        int r = 0;
        for (size_t h = 0; h < ws->nhosts && r == 0; h++) {
            nn_jw_key(&w, ws->hosts[h].name);
            nn_jw_raw(&w, "", 0);
            r = node_document(ws, &ws->hosts[h], plans, out);
        }
        nn_jw_obj_end(&w);
        nn_jw_key(&w, "networks");
        nn_jw_obj_begin(&w);
        for (size_t j = 0; j < ws->nnetworks && r == 0; j++) {
            nn_jw_key(&w, ws->networks[j].name);
            nn_jw_raw(&w, "", 0);
            nn_compile_for_network(plans[j], out);
        }
        plans_free(plans, ws->nnetworks);
        if (r)
            return r;
        nn_jw_obj_end(&w);
        nn_jw_obj_end(&w);
    }
    nn_jw_obj_end(&w);
    nn_jw_obj_end(&w);
    return 0;
}

static int cmd_compile(int argc, char **argv)
{
    const char *file = NULL, *peer = NULL, *network = NULL, *device = NULL, *format = NULL;
    const char *host = NULL, *keyfile = NULL;
    for (int i = 0; i < argc; i++) {
        const char **slot = NULL;
        if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--file"))
            slot = &file;
        else if (!strcmp(argv[i], "--host"))
            slot = &host;
        else if (!strcmp(argv[i], "--signing-key"))
            slot = &keyfile;
        else if (!strcmp(argv[i], "--peer"))
            slot = &peer;
        else if (!strcmp(argv[i], "--network"))
            slot = &network;
        else if (!strcmp(argv[i], "--device"))
            slot = &device;
        else if (!strcmp(argv[i], "--format"))
            slot = &format;
        else
            return cli_invalid("compile", "unknown argument \"%s\" (see nanamictl --help)",
                               argv[i]);
        if (i + 1 >= argc)
            return cli_invalid(argv[i], "%s", "needs a value");
        if (*slot)
            return cli_invalid(argv[i], "%s", "given twice");
        *slot = argv[++i];
    }
    if (!file)
        return cli_invalid("compile", "%s", "-f INTENT.json is required");
    if ((peer != NULL) + (network != NULL) + (device != NULL) + (host != NULL) > 1)
        return cli_invalid("compile", "%s", "give one of --peer, --network, --host, --device");
    static uint8_t sk[NN_SIGN_SK_LEN];
    if (keyfile) {
        uint8_t seed[NN_SIGN_SEED_LEN], pk[NN_SIGN_PK_LEN];
        nn_error kerr = {{0}, {0}};
        if (nn_key_file_read(keyfile, seed, sizeof(seed), &kerr) != 0) {
            fprintf(stderr, "error: --signing-key: %s: %s\n", kerr.path, kerr.msg);
            return EXIT_INVALID;
        }
        crypto_sign_seed_keypair(pk, sk, seed);
        sodium_memzero(seed, sizeof(seed));
        g_sign_sk = sk;
    }
    if (format && !device)
        return cli_invalid("--format", "%s", "only applies to --device");
    if (device && format && strcmp(format, "wg-quick") != 0)
        return cli_invalid("--format", "\"%s\" is not supported (wg-quick)", format);

    nn_doc *doc;
    int r = load_doc(file, &doc);
    if (r)
        return r;
    if ((r = check_signable(doc))) {
        nn_doc_free(doc);
        return r;
    }
    nn_buf out = NN_BUF_INIT;
    const nn_network *net = NULL;
    const char *leaf = NULL;
    nn_net_plan *plan = NULL;
    if (peer || device) {
        const char *flag = peer ? "--peer" : "--device";
        if ((r = find_network(doc, flag, peer ? peer : device, 3, &net, &leaf)))
            goto out;
        const nn_member *m =
            peer ? nn_network_find_peer(net, leaf) : nn_network_find_device(net, leaf);
        if (!m) {
            r = cli_invalid(flag,
                            peer ? "no peer named \"%s\" in that network"
                                 : "no device named \"%s\" in that network",
                            leaf);
            goto out;
        }
        if (plan_new(net, &plan) != 0) {
            r = 1;
            goto out;
        }
        if (peer) {
            nn_compile_for_peer(plan, m, &out);
            r = write_out(&out);
        } else {
            nn_compile_device_wgquick(plan, m, &out);
            r = fwrite(out.data, 1, out.len, stdout) == out.len && fflush(stdout) == 0 ? 0 : 1;
        }
    } else if (network) {
        if ((r = find_network(doc, "--network", network, 2, &net, NULL)))
            goto out;
        if (plan_new(net, &plan) != 0) {
            r = 1;
            goto out;
        }
        nn_compile_for_network(plan, &out);
        r = write_out(&out);
    } else if (host) {
        char buf[256];
        char *parts[2];
        snprintf(buf, sizeof(buf), "%s", host);
        const nn_workspace *ws = NULL;
        const nn_host *h = NULL;
        if (strlen(host) >= sizeof(buf) || split_path(buf, parts, 2) != 2) {
            r = cli_invalid("--host", "\"%s\" is not WORKSPACE/HOST", host);
        } else if (!(ws = nn_doc_find_workspace(doc, parts[0]))) {
            r = cli_invalid("--host", "no workspace named \"%s\"", parts[0]);
        } else if (!(h = nn_workspace_find_host(ws, parts[1]))) {
            r = cli_invalid("--host", "no host named \"%s\" in that workspace", parts[1]);
        } else {
            nn_net_plan **plans = plans_new(ws);
            r = !plans ? 1 : node_document(ws, h, plans, &out);
            plans_free(plans, ws->nnetworks);
            if (r == 0)
                r = write_out(&out);
        }
    } else {
        r = compile_all(doc, &out);
        if (r == 0)
            r = write_out(&out);
    }
out:
    nn_compile_plan_free(plan);
    nn_buf_free(&out);
    nn_doc_free(doc);
    return r;
}

static int cmd_check(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[0], "-f") && strcmp(argv[0], "--file")))
        return cli_invalid("check", "%s", "usage: nanamictl check -f INTENT.json");
    nn_doc *doc;
    int r = load_doc(argv[1], &doc);
    if (r)
        return r;
    size_t nets = 0, peers = 0, devices = 0, rules = 0;
    for (size_t i = 0; i < doc->nworkspaces; i++)
        for (size_t j = 0; j < doc->workspaces[i].nnetworks; j++) {
            const nn_network *n = &doc->workspaces[i].networks[j];
            nets++;
            peers += n->npeers;
            devices += n->ndevices;
            rules += n->nrules;
        }
    printf("ok: %zu workspaces, %zu networks, %zu peers, %zu devices, %zu firewall rules\n",
           doc->nworkspaces, nets, peers, devices, rules);
    nn_doc_free(doc);
    return 0;
}

static int cmd_keygen(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[0], "--signing-key"))
        return cli_invalid("keygen", "%s", "usage: nanamictl keygen --signing-key KEYFILE");
    uint8_t seed[NN_SIGN_SEED_LEN], pk[NN_SIGN_PK_LEN], sk[NN_SIGN_SK_LEN];
    randombytes_buf(seed, sizeof(seed));
    crypto_sign_seed_keypair(pk, sk, seed);
    char seed64[64], pk64[64];
    sodium_bin2base64(seed64, sizeof(seed64), seed, sizeof(seed), sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(pk64, sizeof(pk64), pk, sizeof(pk), sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(sk, sizeof(sk));
    /* Never overwrite a key; 0600: the seed is the key. */
    size_t len = strlen(seed64);
    seed64[len++] = '\n';
    int r = nn_file_create_secret(argv[1], seed64, len);
    sodium_memzero(seed64, sizeof(seed64));
    if (r) {
        fprintf(stderr, "error: %s: %s\n", argv[1], strerror(-r));
        return r == -EEXIST || r == -ENOENT || r == -EACCES ? EXIT_INVALID : 1;
    }
    printf("%s\n", pk64);
    return 0;
}

/* sign and verify take the same arguments: KEY_FLAG KEYFILE -f FILE. Reads
 * the key (key_len bytes; wiped again on failure) and the whole file.
 * 0, or the exit status after one "error:" line. */
static int key_and_input(const char *cmd, const char *key_flag, const char *usage_line, int argc,
                         char **argv, uint8_t *key, size_t key_len, char **data, size_t *len)
{
    const char *keyfile = NULL, *file = NULL;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], key_flag))
            keyfile = argv[i + 1];
        else if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--file"))
            file = argv[i + 1];
        else
            return cli_invalid(cmd, "unknown argument \"%s\"", argv[i]);
    }
    if (!keyfile || !file || argc != 4)
        return cli_invalid(cmd, "%s", usage_line);
    nn_error err = {{0}, {0}};
    if (nn_key_file_read(keyfile, key, key_len, &err) != 0) {
        fprintf(stderr, "error: %s: %s\n", err.path, err.msg);
        return EXIT_INVALID;
    }
    int r = nn_file_read(file, NN_INTENT_MAX_BYTES, data, len);
    if (r) {
        sodium_memzero(key, key_len);
        fprintf(stderr, "error: %s: %s\n", file, strerror(-r));
        return EXIT_INVALID;
    }
    return 0;
}

/* Signs an envelope the way nanamid does, for nodes fed by hand (and the
 * tests): the daemon applies nothing whose signature it cannot verify. */
static int cmd_sign(int argc, char **argv)
{
    uint8_t seed[NN_SIGN_SEED_LEN], pk[NN_SIGN_PK_LEN], sk[NN_SIGN_SK_LEN];
    char *data;
    size_t len;
    /* --revision N (default: now, in ms since the epoch, so a later
     * signature always carries a later revision) */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t revision = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
    char *rest[8];
    int nrest = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--revision") != 0) {
            if (nrest < 8)
                rest[nrest++] = argv[i];
            continue;
        }
        const char *v = i + 1 < argc ? argv[++i] : "";
        char *end;
        errno = 0;
        unsigned long long x = strtoull(v, &end, 10);
        if (!*v || *end || *v == '-' || *v == '+' || errno || x > 999999999999999999ull)
            return cli_invalid("sign", "--revision: \"%s\" is not a number 0-999999999999999999",
                               v);
        revision = x;
    }
    int status = key_and_input("sign", "--signing-key",
                               "usage: nanamictl sign --signing-key KEYFILE -f FILE [--revision N]",
                               nrest, rest, seed, sizeof(seed), &data, &len);
    if (status)
        return status;
    crypto_sign_seed_keypair(pk, sk, seed);
    sodium_memzero(seed, sizeof(seed));
    char sig[NN_ENVELOPE_SIG_MAX];
    nn_envelope_sign(data, len, revision, sk, sig);
    sodium_memzero(sk, sizeof(sk));
    free(data);
    printf("%s\n", sig);
    return 0;
}

static int cmd_verify(int argc, char **argv)
{
    uint8_t pk[NN_SIGN_PK_LEN];
    char *data;
    size_t len;
    int status = key_and_input("verify", "--public-key",
                               "usage: nanamictl verify --public-key PUBFILE -f FILE", argc, argv,
                               pk, sizeof(pk), &data, &len);
    if (status)
        return status;
    nn_error err = {{0}, {0}};
    int r = nn_credential_verify(data, len, pk, &err);
    free(data);
    if (r) {
        fprintf(stderr, "error: %s: %s\n", err.path, err.msg);
        return EXIT_INVALID;
    }
    printf("ok: signature valid\n");
    return 0;
}

static int cmd_failover(int argc, char **argv)
{
    const char *file = NULL, *vip = NULL, *down = "";
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--file"))
            file = argv[i + 1];
        else if (!strcmp(argv[i], "--vip"))
            vip = argv[i + 1];
        else if (!strcmp(argv[i], "--down"))
            down = argv[i + 1];
        else
            return cli_invalid("failover", "unknown argument \"%s\"", argv[i]);
    }
    if (!file || !vip || argc % 2)
        return cli_invalid(
            "failover", "%s",
            "usage: nanamictl failover -f INTENT.json --vip WS/NET/VIP [--down PEER,...]");
    nn_doc *doc;
    int r = load_doc(file, &doc);
    if (r)
        return r;
    const nn_network *net;
    const char *leaf;
    if ((r = find_network(doc, "--vip", vip, 3, &net, &leaf))) {
        nn_doc_free(doc);
        return r;
    }
    const nn_vip *v = NULL;
    for (size_t i = 0; i < net->nvips && !v; i++)
        if (!strcmp(net->vips[i].name, leaf))
            v = &net->vips[i];
    if (!v) {
        nn_doc_free(doc);
        return cli_invalid("--vip", "no virtual IP named \"%s\" in that network", leaf);
    }
    char buf[1024];
    const char *names[64];
    size_t n = 0;
    snprintf(buf, sizeof(buf), "%s", down);
    for (char *t = strtok(buf, ","); t && n < 64; t = strtok(NULL, ","))
        names[n++] = t;
    int to = nn_vip_failover(v, names, n);
    if (to < 0)
        r = cli_invalid("--down", "%s", "every holder of the virtual IP is down");
    else
        printf("%s\n", v->holders[to]->name);
    nn_doc_free(doc);
    return r;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "error: libsodium: initialisation failed\n");
        return 1;
    }
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_INVALID : 0;
    }
    if (!strcmp(argv[1], "compile"))
        return cmd_compile(argc - 2, argv + 2);
    if (!strcmp(argv[1], "check"))
        return cmd_check(argc - 2, argv + 2);
    if (!strcmp(argv[1], "keygen"))
        return cmd_keygen(argc - 2, argv + 2);
    if (!strcmp(argv[1], "sign"))
        return cmd_sign(argc - 2, argv + 2);
    if (!strcmp(argv[1], "verify"))
        return cmd_verify(argc - 2, argv + 2);
    if (!strcmp(argv[1], "failover"))
        return cmd_failover(argc - 2, argv + 2);
    int rr = nn_remote_main(argv[1], argc - 2, argv + 2);
    if (rr >= 0)
        return rr;
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("nanamictl %s\n", NANAMI_VERSION);
        return 0;
    }
    return cli_invalid("nanamictl", "unknown command \"%s\" (see nanamictl --help)", argv[1]);
}
