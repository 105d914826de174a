/* bench/frr: the host-wide frr.conf of a route-reflector host with 1,000
 * iBGP neighbors in 10 VRFs (10 networks of 1 hub + 100 spokes each, the
 * hubs all on host "edge") and 50 route policies (20 workspace-wide, 3 per
 * network, 4 statements each, in and out). Prints parse+allocate time, the
 * median time to render the host's text, its size and line count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alloc/alloc.h"
#include "bench.h"
#include "compile/bgp.h"
#include "model/intent.h"
#include "util/buf.h"

#define RUNS 9
#define NETS 10
#define SPOKES 100

static void policy(nn_buf *b, const char *name, unsigned i)
{
    nn_buf_printf(b,
                  "{\"name\":\"%s\",\"direction\":\"%s\",\"default_action\":\"permit\","
                  "\"statements\":["
                  "{\"action\":\"deny\",\"match\":{\"prefixes\":[{\"prefix\":\"10.%u.0.0/16\","
                  "\"le\":32},{\"prefix\":\"172.16.0.0/12\",\"ge\":25}]}},"
                  "{\"action\":\"permit\",\"match\":{\"as_path\":\"^6451%u_\"},"
                  "\"set\":{\"local_preference\":%u}},"
                  "{\"action\":\"permit\",\"match\":{\"communities\":[\"65000:%u\"]},"
                  "\"set\":{\"med\":%u,\"communities\":[\"65001:%u\"]}},"
                  "{\"action\":\"deny\",\"match\":{\"prefixes\":[{\"prefix\":\"fd00::/8\","
                  "\"ge\":65}]}}]}",
                  name, i % 2 ? "out" : "in", i % 200, i % 10, 100 + i, i, i, i);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    nn_buf b = NN_BUF_INIT;
    char key[64];
    unsigned k = 0;
    nn_buf_puts(&b, "{\"workspaces\":[{\"name\":\"bench\",\"bgp\":{\"enabled\":true},"
                    "\"route_policies\":[");
    for (unsigned i = 0; i < 20; i++) {
        char name[32];
        snprintf(name, sizeof(name), "ws-pol-%u", i);
        if (i)
            nn_buf_putc(&b, ',');
        policy(&b, name, i);
    }
    nn_buf_puts(&b, "],\"networks\":[");
    for (unsigned n = 0; n < NETS; n++) {
        nn_buf_printf(
            &b,
            "%s{\"name\":\"net-%u\",\"routing_mode\":\"ibgp\",\"ipv4_cidr\":\"10.%u.0.0/16\","
            "\"route_policies\":[",
            n ? "," : "", n, 100 + n);
        for (unsigned i = 0; i < 3; i++) {
            char name[32];
            snprintf(name, sizeof(name), "net-pol-%u", i);
            if (i)
                nn_buf_putc(&b, ',');
            policy(&b, name, 20 + n * 3 + i);
        }
        nn_buf_puts(&b, "],\"peers\":[");
        bench_key(k++, key);
        nn_buf_printf(&b,
                      "{\"name\":\"hub\",\"host\":\"edge\",\"publicly_reachable\":true,"
                      "\"endpoint\":\"192.0.2.1:%u\",\"public_key\":\"%s\"}",
                      51820 + n, key);
        for (unsigned s = 0; s < SPOKES; s++) {
            bench_key(k++, key);
            nn_buf_printf(&b,
                          ",{\"name\":\"s%u\",\"host\":\"site-%u\",\"public_key\":\"%s\","
                          "\"lan_subnets\":[\"172.%u.%u.0/24\"]}",
                          s, s, key, 16 + n, s);
        }
        nn_buf_puts(&b, "]}");
    }
    nn_buf_puts(&b, "]}]}");

    double t0 = bench_now_ms();
    nn_error err;
    nn_doc *doc;
    if (nn_intent_parse(b.data, b.len, &doc, &err) || nn_alloc_assign(doc, &err)) {
        fprintf(stderr, "error: %s: %s\n", err.path, err.msg);
        return 1;
    }
    double t_load = bench_now_ms() - t0;
    const nn_host *edge = nn_workspace_find_host(&doc->workspaces[0], "edge");
    double times[RUNS];
    nn_buf out = NN_BUF_INIT;
    for (int r = 0; r < RUNS; r++) {
        nn_buf_reset(&out);
        double t = bench_now_ms();
        nn_bgp_host_text(edge, &out);
        times[r] = bench_now_ms() - t;
    }
    qsort(times, RUNS, sizeof(double), bench_cmp_double);
    size_t lines = 0, neighbors = 0;
    for (size_t i = 0; i < out.len; i++)
        lines += out.data[i] == '\n';
    for (const char *p = out.data; (p = strstr(p, " peer-group nn-")); p++)
        neighbors++;
    printf("frr host text: %d VRFs, %zu neighbors, 50 route policies (x4 statements)\n", NETS,
           neighbors);
    printf("  parse+allocate %.1f ms (not included)\n", t_load);
    printf("  render: median %.2f ms, min %.2f ms, max %.2f ms over %d runs\n", times[RUNS / 2],
           times[0], times[RUNS - 1], RUNS);
    printf("  output: %zu bytes, %zu lines\n", out.len, lines);
    const char *dump = getenv("BENCH_FRR_OUT"); /* to judge the text: vtysh --dryrun -f */
    if (dump) {
        FILE *f = fopen(dump, "w");
        if (!f || fwrite(out.data, 1, out.len, f) != out.len || fclose(f) != 0)
            return 1;
    }
    nn_buf_free(&out);
    nn_buf_free(&b);
    nn_doc_free(doc);
    return 0;
}
