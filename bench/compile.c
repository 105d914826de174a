/* bench/compile: how fast the compiler turns intent into envelopes.
 *
 *   hub_and_spoke: 10,000 peers (2 hubs), /16 IPv4, 5% of spokes with a
 *                  LAN, tag-based firewall rules (1% ops, 2% db, the rest
 *                  app; "app may reach db" puts ~9,700 addresses in the
 *                  ruleset of every hub and db peer), a port mapping
 *   full_mesh:     1,000 peers (~a million [Peer] entries)
 *
 * For each: parse + allocate time, plan time, the time to compile every
 * peer's envelope (median of RUNS), peers/s, output bytes, peak RSS.
 * Envelopes are streamed (compiled into one reused buffer), as a server
 * answering polls would. Single thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <sodium.h>

#include "alloc/alloc.h"
#include "bench.h"
#include "compile/compile.h"
#include "model/intent.h"
#include "util/buf.h"

#define RUNS 5

static char *generate(unsigned npeers, unsigned nhubs, int mesh)
{
    nn_buf b = NN_BUF_INIT;
    char key[45];
    nn_buf_printf(&b,
                  "{\"workspaces\":[{\"name\":\"bench\",\"networks\":[{\"name\":\"n\","
                  "\"ipv4_cidr\":\"10.0.0.0/16\",\"topology_strategy\":\"%s\",\"peers\":[",
                  mesh ? "full_mesh" : "hub_and_spoke");
    for (unsigned i = 0; i < npeers; i++) {
        bench_key(i, key);
        nn_buf_printf(&b, "%s{\"name\":\"peer-%05u\",\"public_key\":\"%s\"", i ? "," : "", i, key);
        if (i < nhubs)
            nn_buf_printf(&b, ",\"publicly_reachable\":true,\"endpoint\":\"192.0.2.%u:51820\"",
                          i + 1);
        else if (!mesh && i % 20 == 0)
            nn_buf_printf(&b, ",\"lan_subnets\":[\"172.%u.%u.0/24\"]", 16 + i / 256 % 16, i % 256);
        nn_buf_printf(&b, ",\"tags\":[\"%s\"]}", i % 100 == 0 ? "ops" : i % 50 == 1 ? "db" : "app");
    }
    nn_buf_puts(&b,
                "],\"firewall_rules\":["
                "{\"name\":\"icmp\",\"position\":1,\"action\":\"accept\",\"protocol\":\"icmp\"},"
                "{\"name\":\"ops-ssh\",\"position\":2,\"action\":\"accept\",\"protocol\":\"tcp\","
                "\"ports\":[22],\"source\":{\"tag\":\"ops\"}},"
                "{\"name\":\"app-db\",\"position\":3,\"action\":\"accept\",\"protocol\":\"tcp\","
                "\"ports\":[5432],\"source\":{\"tag\":\"app\"},\"destination\":{\"tag\":\"db\"}},"
                "{\"name\":\"web\",\"position\":4,\"action\":\"accept\",\"protocol\":\"tcp\","
                "\"ports\":[80,443],\"destination\":{\"peer\":\"peer-00002\"}}],"
                "\"port_mappings\":[{\"name\":\"m\",\"hub\":\"peer-00000\",\"external_port\":"
                "2222,\"target\":{\"peer\":\"peer-00002\"},\"target_port\":22}]}]}]}");
    return nn_buf_steal(&b);
}

static int run(const char *label, unsigned npeers, unsigned nhubs, int mesh)
{
    char *json = generate(npeers, nhubs, mesh);
    nn_error err;
    nn_doc *doc;
    double t0 = bench_now_ms();
    if (nn_intent_parse(json, strlen(json), &doc, &err) || nn_alloc_assign(doc, &err)) {
        fprintf(stderr, "bench: %s: %s\n", err.path, err.msg);
        return 1;
    }
    double t_parse = bench_now_ms() - t0;
    const nn_network *net = &doc->workspaces[0].networks[0];
    double times[RUNS], plan_ms[RUNS], digest_ms[RUNS];
    size_t bytes = 0, entries = 0;
    nn_buf out = NN_BUF_INIT;
    for (int r = 0; r < RUNS; r++) {
        double a = bench_now_ms();
        nn_net_plan *plan;
        if (nn_compile_plan_new(net, &plan) != 0)
            return 1;
        double b = bench_now_ms();
        bytes = 0;
        for (size_t i = 0; i < net->npeers; i++) {
            nn_buf_reset(&out);
            nn_compile_for_peer(plan, &net->peers[i], &out);
            bytes += out.len;
        }
        double c = bench_now_ms();
        /* what the API does at each new revision to find what changed */
        for (size_t i = 0; i < net->npeers; i++) {
            uint8_t d[32];
            nn_compile_peer_digest(plan, &net->peers[i], d);
        }
        digest_ms[r] = bench_now_ms() - c;
        nn_compile_plan_free(plan);
        plan_ms[r] = b - a;
        times[r] = c - a; /* every envelope, plan included */
    }
    entries =
        mesh ? (size_t)npeers * (npeers - 1) : 2 * (size_t)(npeers - nhubs) + nhubs * (npeers - 1);
    qsort(times, RUNS, sizeof(double), bench_cmp_double);
    qsort(plan_ms, RUNS, sizeof(double), bench_cmp_double);
    qsort(digest_ms, RUNS, sizeof(double), bench_cmp_double);
    double ms = times[RUNS / 2];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%-14s peers=%u hubs=%u  parse+alloc=%.1f ms  plan=%.1f ms  compile_all=%.1f ms "
           "(median of %d, min %.1f)  peers/s=%.0f  peer_entries=%zu  output_bytes=%zu  "
           "peak_rss_kib=%ld  digest_all=%.1f ms\n",
           label, npeers, nhubs, t_parse, plan_ms[RUNS / 2], ms, RUNS, times[0],
           npeers / (ms / 1000.0), entries, bytes, ru.ru_maxrss, digest_ms[RUNS / 2]);
    nn_buf_free(&out);
    nn_doc_free(doc);
    free(json);
    return 0;
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    if (run("hub_and_spoke", 10000, 2, 0) || run("full_mesh", 1000, 0, 1))
        return 1;
    return 0;
}
