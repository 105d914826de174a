#include "util/key.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

int nn_key_from_base64(const char *s, nn_key *out, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    if (!s || strlen(s) != NN_KEY_B64_LEN || s[NN_KEY_B64_LEN - 1] != '=') {
        *why = "is not a base64 WireGuard key (44 characters ending in '=')";
        return -EINVAL;
    }
    size_t got = 0;
    const char *end = NULL;
    if (sodium_base642bin(out->bytes, sizeof(out->bytes), s, NN_KEY_B64_LEN, NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != NN_KEY_LEN || end != s + NN_KEY_B64_LEN) {
        *why = "is not a base64 WireGuard key (44 characters ending in '=')";
        return -EINVAL;
    }
    /* Reject non-canonical encodings (stray low bits in the last symbol):
     * two spellings of one key would defeat duplicate-key detection. */
    char again[NN_KEY_B64_LEN + 1];
    nn_key_to_base64(out, again);
    if (memcmp(again, s, NN_KEY_B64_LEN) != 0) {
        *why = "is a non-canonical base64 encoding of a key";
        return -EINVAL;
    }
    static const uint8_t zero[NN_KEY_LEN];
    if (sodium_memcmp(out->bytes, zero, NN_KEY_LEN) == 0) {
        *why = "is the all-zero key";
        return -EINVAL;
    }
    return 0;
}

void nn_key_to_base64(const nn_key *k, char *buf)
{
    sodium_bin2base64(buf, NN_KEY_B64_LEN + 1, k->bytes, NN_KEY_LEN,
                      sodium_base64_VARIANT_ORIGINAL);
}
