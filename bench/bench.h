/* Helpers the benchmark programs share: a monotonic clock, deterministic
 * WireGuard-shaped public keys, and sorting timings for a median. */
#ifndef NN_BENCH_BENCH_H
#define NN_BENCH_BENCH_H

#include <stdlib.h>
#include <time.h>

#include <sodium.h>

static inline double bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A valid, distinct base64 public key for i (45 bytes with the NUL). */
static inline void bench_key(unsigned i, char *out)
{
    unsigned char seed[4] = {(unsigned char)(i >> 24), (unsigned char)(i >> 16),
                             (unsigned char)(i >> 8), (unsigned char)i};
    unsigned char k[32];
    crypto_generichash(k, sizeof(k), seed, sizeof(seed), NULL, 0);
    sodium_bin2base64(out, 45, k, 32, sodium_base64_VARIANT_ORIGINAL);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#endif
