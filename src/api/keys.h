/* nn_keys: nanamid's node PKI -- the CA that signs node certificates and
 * the envelope signing key (Ed25519) whose public half nodes pin at
 * enrollment. Both are made on first use and kept in the store's meta
 * table; loaded once before serving, read-only afterwards (thread-safe
 * then). */
#ifndef NN_API_KEYS_H
#define NN_API_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "compile/credential.h"
#include "store/store.h"
#include "util/key.h"

typedef struct nn_keys nn_keys;

int nn_keys_new(nn_keys **out);
void nn_keys_free(nn_keys *k); /* wipes the secrets */
/* Loads both from store, creating them the first time. */
int nn_keys_load(nn_keys *k, nn_store *store);
bool nn_keys_loaded(const nn_keys *k);
/* Borrowed; NULL before nn_keys_load. */
const uint8_t *nn_keys_signing(const nn_keys *k);
const char *nn_keys_ca_key(const nn_keys *k);
const char *nn_keys_ca_cert(const nn_keys *k);
/* The signing key's public half, base64 (what enrollment hands out). */
void nn_keys_signing_public(const nn_keys *k, char out[NN_KEY_B64_LEN + 1]);

#endif
