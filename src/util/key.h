/* nn_key: WireGuard (Curve25519) public keys in their base64 text form. */
#ifndef NN_UTIL_KEY_H
#define NN_UTIL_KEY_H

#include <stdint.h>

#define NN_KEY_LEN 32
#define NN_KEY_B64_LEN 44 /* without NUL */

typedef struct nn_key {
    uint8_t bytes[NN_KEY_LEN];
} nn_key;

/* Decodes exactly 44 characters of standard base64 with '=' padding into 32
 * bytes; -EINVAL for anything else (wrong length, alphabet, padding, or
 * non-canonical trailing bits). *why gets a reason. */
int nn_key_from_base64(const char *s, nn_key *out, const char **why);
/* buf must hold NN_KEY_B64_LEN + 1 bytes. */
void nn_key_to_base64(const nn_key *k, char *buf);

#endif
