#include "api/keys.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "pki/pki.h"

struct nn_keys {
    bool loaded;
    uint8_t sign_sk[NN_SIGN_SK_LEN];
    char *ca_key, *ca_cert;
};

int nn_keys_new(nn_keys **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : -ENOMEM;
}

void nn_keys_free(nn_keys *k)
{
    if (!k)
        return;
    sodium_memzero(k->sign_sk, sizeof(k->sign_sk));
    nn_pki_free_secret(k->ca_key);
    free(k->ca_cert);
    free(k);
}

/* Reads one meta value (and key_b's, when given), creating both with
 * make() the first time, in one transaction. */
static int meta_ensure(nn_store *store, const char *key, int (*make)(char **a, char **b),
                       const char *key_b, char **out, char **out_b)
{
    if (nn_store_meta_get(store, key, out) == 0 &&
        (!key_b || nn_store_meta_get(store, key_b, out_b) == 0))
        return 0;
    free(*out);
    *out = NULL;
    char *a = NULL, *b = NULL;
    int r = make(&a, key_b ? &b : NULL);
    if (r == 0 && (r = nn_store_begin(store)) == 0) {
        r = nn_store_meta_set(store, key, a);
        if (r == 0 && key_b)
            r = nn_store_meta_set(store, key_b, b);
        if (r == 0)
            r = nn_store_commit(store);
        else
            nn_store_rollback(store);
    }
    if (r) {
        nn_pki_free_secret(a);
        free(b);
        return r;
    }
    *out = a;
    if (key_b)
        *out_b = b;
    return 0;
}

static int make_ca(char **key, char **cert)
{
    return nn_pki_ca_new("Nanami node CA", key, cert);
}

static int make_signing_key(char **seed_b64, char **unused)
{
    (void)unused;
    uint8_t pk[NN_SIGN_PK_LEN], sk[NN_SIGN_SK_LEN];
    crypto_sign_keypair(pk, sk);
    size_t n = sodium_base64_ENCODED_LEN(NN_SIGN_SEED_LEN, sodium_base64_VARIANT_ORIGINAL);
    *seed_b64 = malloc(n);
    if (*seed_b64)
        sodium_bin2base64(*seed_b64, n, sk, NN_SIGN_SEED_LEN, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(sk, sizeof(sk));
    return *seed_b64 ? 0 : -ENOMEM;
}

int nn_keys_load(nn_keys *k, nn_store *store)
{
    char *seed_b64 = NULL, *unused = NULL;
    int r = meta_ensure(store, "node_ca_key", make_ca, "node_ca_cert", &k->ca_key, &k->ca_cert);
    if (r == 0)
        r = meta_ensure(store, "envelope_signing_key", make_signing_key, NULL, &seed_b64, &unused);
    if (r)
        return r;
    uint8_t seed[NN_SIGN_SEED_LEN], pk[NN_SIGN_PK_LEN];
    size_t n = 0;
    if (sodium_base642bin(seed, sizeof(seed), seed_b64, strlen(seed_b64), NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n != sizeof(seed))
        r = -EINVAL;
    else
        crypto_sign_seed_keypair(pk, k->sign_sk, seed);
    k->loaded = r == 0;
    sodium_memzero(seed, sizeof(seed));
    nn_pki_free_secret(seed_b64);
    return r;
}

bool nn_keys_loaded(const nn_keys *k)
{
    return k->loaded;
}

const uint8_t *nn_keys_signing(const nn_keys *k)
{
    return k->loaded ? k->sign_sk : NULL;
}

const char *nn_keys_ca_key(const nn_keys *k)
{
    return k->ca_key;
}

const char *nn_keys_ca_cert(const nn_keys *k)
{
    return k->ca_cert;
}

void nn_keys_signing_public(const nn_keys *k, char out[NN_KEY_B64_LEN + 1])
{
    uint8_t pk[NN_SIGN_PK_LEN];
    crypto_sign_ed25519_sk_to_pk(pk, k->sign_sk);
    sodium_bin2base64(out, NN_KEY_B64_LEN + 1, pk, sizeof(pk), sodium_base64_VARIANT_ORIGINAL);
}
