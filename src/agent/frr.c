/* nn_frr: frr-reload.py and vtysh, with the applied state in frr.applied. */
#include "agent/frr.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/proc.h"
#include "util/file.h"
#include "util/hash.h"

#define OUTPUT_MAX (64u << 10)
#define VTYSH_TIMEOUT_MS 10000
#define RELOAD_TIMEOUT_MS 60000
#define STATE_LEN (2 * 2 * NN_HASH_LEN + 2) /* "TEXT RUNNING\n" in hex */

/* What a withdrawal reloads: FRR's defaults and nothing of Nanami's. */
static const char withdrawn_text[] = "frr defaults traditional\n"
                                     "service integrated-vtysh-config\n"
                                     "!\n";

const char *nn_frr_outcome_name(nn_frr_outcome o)
{
    static const char *const names[] = {"off", "unchanged", "reloaded", "withdrawn", "failed"};
    return names[o];
}

static void path_in(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

/* bgpd answers on its vty socket. The file alone is no proof: it stays
 * behind when bgpd is killed, and reloading into a zebra without bgpd
 * would record an empty BGP configuration as applied -- an empty bgpd
 * started later would then look in sync. */
static bool bgpd_listening(const char *socket_path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_path) >= (int)sizeof(sa.sun_path))
        return false;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool up = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return up;
}

static int running_hash(const nn_frr_config *c, char hex[2 * NN_HASH_LEN + 1], char *why,
                        size_t why_len)
{
    char *argv[] = {"vtysh", "--vty_socket", (char *)c->vty_dir, "-c", "show running-config", NULL};
    nn_buf out = NN_BUF_INIT;
    int st = nn_proc_run(argv, VTYSH_TIMEOUT_MS, &out, OUTPUT_MAX);
    if (st != 0) {
        char line[200];
        nn_proc_last_line(&out, line, sizeof(line));
        snprintf(why, why_len, "bgp: vtysh show running-config: %s%s%s",
                 st < 0 ? strerror(-st) : "failed", line[0] ? ": " : "", line);
        nn_buf_free(&out);
        return st < 0 ? st : -EIO;
    }
    uint8_t h[NN_HASH_LEN];
    nn_hash_bytes(out.data ? out.data : "", out.len, h);
    nn_hash_hex(h, NN_HASH_LEN, hex);
    nn_buf_free(&out);
    return 0;
}

static int reload(const nn_frr_config *c, const char *text, char *why, size_t why_len)
{
    char conf[4096];
    path_in(conf, sizeof(conf), c->work_dir, "frr.conf");
    int r = nn_file_replace(conf, text, strlen(text), 0600);
    if (r) {
        snprintf(why, why_len, "bgp: %.300s: %s", conf, strerror(-r));
        return r;
    }
    /* --rundir: its scratch files go to the daemon's own directory. */
    char *argv[] = {
        (char *)c->reload,  "--reload", "--stdout",          "--log-level", "error", "--vty_socket",
        (char *)c->vty_dir, "--rundir", (char *)c->work_dir, conf,          NULL};
    nn_buf out = NN_BUF_INIT;
    int st = nn_proc_run(argv, RELOAD_TIMEOUT_MS, &out, OUTPUT_MAX);
    if (st != 0) {
        char line[300];
        nn_proc_last_line(&out, line, sizeof(line));
        snprintf(why, why_len, "bgp: %s %s%s%s", c->reload,
                 st == -ENOENT ? "is not installed (frr-pythontools)"
                 : st < 0      ? strerror(-st)
                               : "failed",
                 line[0] ? ": " : "", line);
    }
    nn_buf_free(&out);
    return st == 0 ? 0 : st < 0 ? st : -EIO;
}

nn_frr_outcome nn_frr_apply(const nn_frr_config *c, const char *text, char *why, size_t why_len)
{
    char state_path[4096], bgpd[4096], *state = NULL;
    size_t state_len = 0;
    path_in(state_path, sizeof(state_path), c->work_dir, "frr.applied");
    bool applied_before = nn_file_read(state_path, STATE_LEN + 1, &state, &state_len) == 0;
    nn_frr_outcome outcome = NN_FRR_FAILED;
    if (!text && !applied_before)
        return NN_FRR_OFF;
    path_in(bgpd, sizeof(bgpd), c->vty_dir, "bgpd.vty");
    if (!bgpd_listening(bgpd)) {
        snprintf(why, why_len,
                 "bgp: FRR's bgpd is not running here (nothing answers on %.300s); nothing "
                 "loaded into FRR",
                 bgpd);
        goto out;
    }
    if (!text) {
        if (reload(c, withdrawn_text, why, why_len) == 0 && unlink(state_path) == 0)
            outcome = NN_FRR_WITHDRAWN;
        goto out;
    }
    char want[STATE_LEN + 1], running[2 * NN_HASH_LEN + 1];
    uint8_t h[NN_HASH_LEN];
    nn_hash_bytes(text, strlen(text), h);
    nn_hash_hex(h, NN_HASH_LEN, want);
    if (running_hash(c, running, why, why_len))
        goto out;
    snprintf(want + 2 * NN_HASH_LEN, sizeof(want) - 2 * NN_HASH_LEN, " %s\n", running);
    if (applied_before && state_len == STATE_LEN && memcmp(state, want, STATE_LEN) == 0) {
        outcome = NN_FRR_UNCHANGED;
        goto out;
    }
    if (reload(c, text, why, why_len) || running_hash(c, running, why, why_len))
        goto out;
    if (!bgpd_listening(bgpd)) { /* it went away under the reload */
        snprintf(why, why_len, "bgp: bgpd stopped while the configuration was loaded");
        goto out;
    }
    snprintf(want + 2 * NN_HASH_LEN, sizeof(want) - 2 * NN_HASH_LEN, " %s\n", running);
    int r = nn_file_replace(state_path, want, STATE_LEN, 0600);
    if (r) {
        snprintf(why, why_len, "bgp: %.300s: %s", state_path, strerror(-r));
        goto out;
    }
    outcome = NN_FRR_RELOADED;
out:
    free(state);
    return outcome;
}
