/* gateway-daemon's OVN apply (nn_ovn_apply) against a real ovsdb-server
 * holding the northbound schema, with a plan of SWITCHES switches of PORTS
 * ports each (and two ACLs per switch):
 *   - the first load into an empty database (one read, one transaction,
 *     one read to check),
 *   - an unchanged apply (one read: what every drift check costs),
 *   - a one-port change (one address moved),
 *   - a drift repair (a switch deleted by hand with ovn-nbctl).
 * usage: bench_ovn_apply unix:PATH SWITCHES PORTS */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ovn.h"
#include "agent/proc.h"
#include "bench.h"

#define ROUNDS 11

static void cmd(json_t *plan, const char *name, bool may_exist, json_t *args)
{
    json_array_append_new(plan,
                          json_pack("{s:o, s:s, s:[]}", "args", args, "cmd", name, "options"));
    if (may_exist)
        json_array_append_new(
            json_object_get(json_array_get(plan, json_array_size(plan) - 1), "options"),
            json_string("--may-exist"));
}

/* The plan; the last port's address depends on version. */
static json_t *make_plan(const char *endpoint, unsigned switches, unsigned ports, int version)
{
    json_t *plan = json_array();
    char sw[32], port[48], addr[64];
    for (unsigned s = 0; s < switches; s++) {
        snprintf(sw, sizeof(sw), "sw-%u", s);
        cmd(plan, "ls-add", true, json_pack("[s]", sw));
    }
    for (unsigned s = 0; s < switches; s++) {
        snprintf(sw, sizeof(sw), "sw-%u", s);
        for (unsigned p = 0; p < ports; p++) {
            bool last = s + 1 == switches && p + 1 == ports;
            snprintf(port, sizeof(port), "sw-%u-p%u", s, p);
            snprintf(addr, sizeof(addr), "0a:00:%02x:%02x:%02x:01 10.%u.%u.%u", s & 255,
                     p >> 8 & 255, p & 255, 100 + s % 100, p >> 8 & 255,
                     (last ? p + (unsigned)version : p) % 250 + 2);
            cmd(plan, "lsp-add", true, json_pack("[s,s]", sw, port));
            cmd(plan, "lsp-set-addresses", false, json_pack("[s,s]", port, addr));
            cmd(plan, "lsp-set-type", false, json_pack("[s,s]", port, ""));
        }
    }
    for (unsigned s = 0; s < switches; s++) {
        snprintf(sw, sizeof(sw), "sw-%u", s);
        cmd(plan, "acl-add", true,
            json_pack("[s,s,s,s,s]", sw, "to-lport", "1001", "ip4 && tcp.dst == 443",
                      "allow-related"));
        cmd(plan, "acl-add", true, json_pack("[s,s,s,s,s]", sw, "to-lport", "900", "ip4", "drop"));
    }
    return json_pack("{s:s, s:{s:s, s:o, s:s}}", "nb_endpoint", endpoint, "nb_plan",
                     "deployment_id", "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0", "plan", plan, "version",
                     "0000000000000000000000000000000000000000000000000000000000000000");
}

static double timed(const nn_ovn_plan *p, nn_ovn_outcome want)
{
    char why[512] = "";
    double t0 = bench_now_ms();
    nn_ovn_outcome got = nn_ovn_apply(NN_OVN_NBCTL_DEFAULT, p, why, sizeof(why));
    double ms = bench_now_ms() - t0;
    if (got != want) {
        fprintf(stderr, "expected %s, got %s: %s\n", nn_ovn_outcome_name(want),
                nn_ovn_outcome_name(got), why);
        exit(1);
    }
    return ms;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(double), bench_cmp_double);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_ovn_apply unix:PATH SWITCHES PORTS\n");
        return 2;
    }
    unsigned switches = (unsigned)atoi(argv[2]), ports = (unsigned)atoi(argv[3]);
    nn_ovn_plan plan[2];
    char why[512];
    for (int v = 0; v < 2; v++) {
        json_t *j = make_plan(argv[1], switches, ports, v);
        if (nn_ovn_plan_parse(j, &plan[v], why, sizeof(why))) {
            fprintf(stderr, "plan: %s\n", why);
            return 1;
        }
        json_decref(j);
    }
    double first = timed(&plan[0], NN_OVN_APPLIED), t[ROUNDS];
    for (int i = 0; i < ROUNDS; i++)
        t[i] = timed(&plan[0], NN_OVN_UNCHANGED);
    double unchanged = median(t, ROUNDS);
    for (int i = 0; i < ROUNDS; i++)
        t[i] = timed(&plan[(i + 1) & 1], NN_OVN_APPLIED);
    double change = median(t, ROUNDS);
    char db[600];
    snprintf(db, sizeof(db), "--db=%s", argv[1]);
    for (int i = 0; i < ROUNDS; i++) {
        char *del[] = {"ovn-nbctl", db, "ls-del", "sw-0", NULL};
        nn_buf out = NN_BUF_INIT;
        if (nn_proc_run(del, 10000, &out, 4096) != 0) {
            fprintf(stderr, "ls-del: %s\n", out.data ? out.data : "");
            return 1;
        }
        nn_buf_free(&out);
        t[i] = timed(&plan[ROUNDS & 1], NN_OVN_APPLIED); /* the last one applied */
    }
    double repair = median(t, ROUNDS);
    printf("ovn apply (nn_ovn_apply, %u switches x %u ports = %zu rows; median of %d)\n", switches,
           ports, plan[0].nswitches + plan[0].nports + plan[0].nacls, ROUNDS);
    printf("  first load into an empty database: %.1f ms\n", first);
    printf("  unchanged (one read, what a drift check costs): %.1f ms\n", unchanged);
    printf("  one port's address changed: %.1f ms\n", change);
    printf("  drift repair (a switch of %u ports deleted by hand): %.1f ms\n", ports, repair);
    nn_ovn_plan_free(&plan[0]);
    nn_ovn_plan_free(&plan[1]);
    return 0;
}
