/* bench/store: what a write costs nanamid as a workspace grows, measured
 * over HTTP against a real nanamid (bench/store.sh starts it on loopback
 * with a fresh SQLite file). Prints:
 *
 *   - a 20,000-peer intent PUT into an empty workspace, then the same
 *     document again (nothing to change);
 *   - a single-object write (one peer's PUT) in a 10,000-peer network:
 *     median, p90 and max of RUNS writes;
 *   - other tenants' writes while a 20,000-peer intent PUT runs: a second
 *     thread PUTs one firewall rule into its own small workspace in a loop;
 *     median, p99 and max latency, and how many were refused (503).
 *
 * usage: bench_store URL TOKEN [PEERS_BIG [PEERS_ONE]] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "bench.h"
#include "util/buf.h"

#define RUNS 41

static const char *g_url, *g_token;

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
    nn_buf *b = ud;
    if (b)
        nn_buf_append(b, p, size * n);
    return size * n;
}

/* One request; returns the HTTP status (0 when it could not be sent) and
 * the elapsed milliseconds in *ms. */
static long call(CURL *h, const char *method, const char *path, const char *body, double *ms)
{
    char url[512], auth[128];
    snprintf(url, sizeof(url), "%s%s", g_url, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", g_token);
    struct curl_slist *hdr = curl_slist_append(NULL, auth);
    hdr = curl_slist_append(hdr, "Expect:");
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 300L);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    double t0 = bench_now_ms();
    CURLcode rc = curl_easy_perform(h);
    if (ms)
        *ms = bench_now_ms() - t0;
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    return status;
}

static void must(long status, const char *what)
{
    if (status < 200 || status > 299) {
        fprintf(stderr, "bench_store: %s answered %ld\n", what, status);
        exit(1);
    }
}

/* An intent document: one hub and npeers spokes in one network. */
static char *intent(const char *ws, unsigned npeers, unsigned salt)
{
    nn_buf b = NN_BUF_INIT;
    char key[45];
    nn_buf_printf(&b,
                  "{\"workspaces\":[{\"name\":\"%s\",\"networks\":[{\"name\":\"corp\","
                  "\"ipv4_cidr\":\"10.64.0.0/14\",\"peers\":[",
                  ws);
    bench_key(salt * 1000000u, key);
    nn_buf_printf(&b,
                  "{\"name\":\"hub-1\",\"public_key\":\"%s\",\"publicly_reachable\":true,"
                  "\"endpoint\":\"198.51.100.1:51820\"}",
                  key);
    for (unsigned i = 0; i < npeers; i++) {
        bench_key(salt * 1000000u + i + 1, key);
        nn_buf_printf(&b, ",{\"name\":\"p%05u\",\"public_key\":\"%s\",\"tags\":[\"branch\"]}", i,
                      key);
    }
    nn_buf_puts(&b, "]}]}]}");
    return nn_buf_steal(&b);
}

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof(*v), bench_cmp_double);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

typedef struct tenant {
    volatile int stop;
    double start[100000], lat[100000]; /* per write: when it began, how long it took */
    size_t n, refused;
} tenant;

static void *other_tenant(void *arg)
{
    tenant *t = arg;
    CURL *h = curl_easy_init();
    char body[128];
    for (unsigned i = 0; !t->stop && t->n < sizeof(t->lat) / sizeof(t->lat[0]); i++) {
        snprintf(body, sizeof(body), "{\"action\":\"accept\",\"protocol\":\"tcp\",\"ports\":[%u]}",
                 i % 60000 + 1);
        double ms, t0 = bench_now_ms();
        long st = call(h, "PUT", "/workspaces/other/networks/lan/firewall_rules/r", body, &ms);
        if (st >= 200 && st <= 299) {
            t->start[t->n] = t0;
            t->lat[t->n++] = ms;
        } else {
            t->refused++;
        }
    }
    curl_easy_cleanup(h);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_store URL TOKEN [PEERS_BIG [PEERS_ONE]]\n");
        return 2;
    }
    g_url = argv[1];
    g_token = argv[2];
    unsigned big = argc > 3 ? (unsigned)atoi(argv[3]) : 20000;
    unsigned one = argc > 4 ? (unsigned)atoi(argv[4]) : 10000;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *h = curl_easy_init();
    double ms;

    /* 1. The big PUT, then again unchanged. */
    must(call(h, "POST", "/workspaces", "{\"name\":\"big\"}", NULL), "creating big");
    char *doc = intent("big", big, 1);
    must(call(h, "PUT", "/workspaces/big/intent", doc, &ms), "the big PUT");
    printf("intent PUT, %u peers, into an empty workspace: %.0f ms\n", big + 1, ms);
    must(call(h, "PUT", "/workspaces/big/intent", doc, &ms), "the big PUT again");
    printf("the same intent PUT again (nothing changes): %.0f ms\n", ms);
    free(doc);

    /* 2. Single-object writes at `one` peers. */
    must(call(h, "POST", "/workspaces", "{\"name\":\"one\"}", NULL), "creating one");
    doc = intent("one", one, 2);
    must(call(h, "PUT", "/workspaces/one/intent", doc, NULL), "loading one");
    free(doc);
    double lat[RUNS];
    char key[45], body[256], path[128];
    for (unsigned i = 0; i < RUNS; i++) {
        bench_key(3000000u + i, key);
        snprintf(body, sizeof(body), "{\"public_key\":\"%s\",\"tags\":[\"branch\"]}", key);
        snprintf(path, sizeof(path), "/workspaces/one/networks/corp/peers/p%05u",
                 (i * 7919u) % one);
        must(call(h, "PUT", path, body, &lat[i]), "a single write");
    }
    printf("single-object write (PUT one peer) in a %u-peer network: median %.1f ms, p90 %.1f ms, "
           "max %.1f ms (%d writes)\n",
           one + 1, pct(lat, RUNS, 0.5), pct(lat, RUNS, 0.9), pct(lat, RUNS, 1.0), RUNS);

    /* 3. Another tenant's writes during a big PUT (a fresh workspace, so
     * every row is written). */
    must(call(h, "POST", "/workspaces", "{\"name\":\"other\"}", NULL), "creating other");
    must(call(h, "POST", "/workspaces/other/networks", "{\"name\":\"lan\"}", NULL), "other's net");
    must(call(h, "POST", "/workspaces", "{\"name\":\"big2\"}", NULL), "creating big2");
    doc = intent("big2", big, 4);
    static tenant t;
    pthread_t th;
    pthread_create(&th, NULL, other_tenant, &t);
    /* the other tenant's own baseline first */
    struct timespec pause_ts = {0, 300 * 1000000L};
    nanosleep(&pause_ts, NULL);
    double big_ms, t0 = bench_now_ms();
    must(call(h, "PUT", "/workspaces/big2/intent", doc, &big_ms), "the concurrent big PUT");
    t.stop = 1;
    pthread_join(th, NULL);
    free(doc);
    /* the writes that began while the big PUT ran */
    static double d[100000];
    size_t during = 0;
    for (size_t i = 0; i < t.n; i++)
        if (t.start[i] >= t0 && t.start[i] < t0 + big_ms)
            d[during++] = t.lat[i];
    if (during == 0) {
        printf("other tenant: no write completed during the %.0f ms PUT (%zu refused)\n", big_ms,
               t.refused);
    } else {
        printf("other tenant's writes during a %u-peer intent PUT (%.0f ms): %zu writes, median "
               "%.1f ms, p99 %.1f ms, max %.1f ms, %zu refused\n",
               big + 1, big_ms, during, pct(d, during, 0.5), pct(d, during, 0.99),
               pct(d, during, 1.0), t.refused);
    }
    curl_easy_cleanup(h);
    curl_global_cleanup();
    return 0;
}
