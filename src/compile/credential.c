#include "compile/credential.h"

#include <inttypes.h>
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"

static const char domain[] = "nanami-membership-v1\n";

void nn_credential_key_id(const uint8_t pk[NN_SIGN_PK_LEN], char out[17])
{
    uint8_t h[NN_HASH_LEN];
    nn_hash_bytes(pk, NN_SIGN_PK_LEN, h);
    nn_hash_hex(h, 8, out);
}

void nn_credential_statement(const nn_network *net, const nn_member *peer, nn_buf *out)
{
    char buf[NN_PREFIX_STRLEN];
    nn_jw w;
    nn_jw_init(&w, out);
    nn_jw_obj_begin(&w);
    nn_jw_key(&w, "addresses");
    nn_jw_arr_begin(&w);
    if (peer->addr4.family)
        nn_jw_str(&w, nn_prefix_format(&peer->addr4, true, buf));
    nn_jw_str(&w, nn_prefix_format(&peer->addr6, true, buf));
    nn_jw_arr_end(&w);
    nn_jw_key(&w, "network");
    nn_jw_str(&w, net->name);
    nn_jw_key(&w, "not_after");
    nn_jw_str(&w, net->workspace->valid_until);
    nn_jw_key(&w, "not_before");
    nn_jw_str(&w, net->workspace->valid_from);
    nn_jw_key(&w, "peer");
    nn_jw_str(&w, peer->name);
    nn_jw_key(&w, "public_key");
    nn_jw_str(&w, peer->public_key_b64);
    nn_jw_key(&w, "version");
    nn_jw_int(&w, 1);
    nn_jw_key(&w, "workspace");
    nn_jw_str(&w, net->workspace->name);
    nn_jw_obj_end(&w);
}

static void sign_bytes(const char *stmt, size_t len, const uint8_t *sk, uint8_t sig[64])
{
    size_t n = sizeof(domain) - 1 + len;
    unsigned char *msg = malloc(n);
    if (!msg)
        abort();
    memcpy(msg, domain, sizeof(domain) - 1);
    memcpy(msg + sizeof(domain) - 1, stmt, len);
    crypto_sign_detached(sig, NULL, msg, n, sk);
    free(msg);
}

void nn_credential_write(const nn_network *net, const nn_member *peer, const uint8_t *sk, nn_jw *w)
{
    nn_buf st = NN_BUF_INIT;
    nn_credential_statement(net, peer, &st);
    uint8_t sig[crypto_sign_BYTES];
    sign_bytes(st.data, st.len, sk, sig);
    char sig64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(sig64, sizeof(sig64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
    char kid[17];
    uint8_t pk[NN_SIGN_PK_LEN];
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    nn_credential_key_id(pk, kid);
    nn_jw_obj_begin(w);
    nn_jw_key(w, "alg");
    nn_jw_str(w, "ed25519");
    nn_jw_key(w, "key_id");
    nn_jw_str(w, kid);
    nn_jw_key(w, "signature");
    nn_jw_str(w, sig64);
    nn_jw_key(w, "statement");
    nn_jw_raw(w, st.data, st.len);
    nn_jw_obj_end(w);
    nn_buf_free(&st);
}

static int bad(nn_error *err, const char *path, const char *msg)
{
    nn_error_set(err, path, "%s", msg);
    return -EINVAL;
}

int nn_credential_verify(const char *json, size_t len, const uint8_t pk[NN_SIGN_PK_LEN],
                         nn_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return bad(err, "(credential)", "not valid JSON");
    json_t *cred = root;
    if (json_is_object(root) && json_object_get(root, "mc_envelope"))
        cred = json_object_get(root, "mc_envelope");
    int r = -EINVAL;
    char *canon = NULL;
    if (!json_is_object(cred) || json_object_size(cred) != 4) {
        r = bad(err, "mc_envelope",
                "must be an object of exactly alg, key_id, signature, statement");
        goto out;
    }
    json_t *alg = json_object_get(cred, "alg"), *kid = json_object_get(cred, "key_id");
    json_t *sig = json_object_get(cred, "signature"), *st = json_object_get(cred, "statement");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "ed25519") != 0) {
        r = bad(err, "mc_envelope.alg", "must be \"ed25519\"");
        goto out;
    }
    char want[17];
    nn_credential_key_id(pk, want);
    if (!json_is_string(kid) || strcmp(json_string_value(kid), want) != 0) {
        r = bad(err, "mc_envelope.key_id", "was not made with this public key");
        goto out;
    }
    uint8_t sigbin[crypto_sign_BYTES];
    size_t siglen = 0;
    if (!json_is_string(sig) ||
        sodium_base642bin(sigbin, sizeof(sigbin), json_string_value(sig), json_string_length(sig),
                          NULL, &siglen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        siglen != sizeof(sigbin)) {
        r = bad(err, "mc_envelope.signature", "is not 64 bytes of base64");
        goto out;
    }
    /* Only the canonical spelling: two texts must never carry one signature. */
    char again[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(again, sizeof(again), sigbin, sizeof(sigbin), sodium_base64_VARIANT_ORIGINAL);
    if (strcmp(again, json_string_value(sig)) != 0) {
        r = bad(err, "mc_envelope.signature", "is not canonical base64");
        goto out;
    }
    if (!json_is_object(st)) {
        r = bad(err, "mc_envelope.statement", "must be an object");
        goto out;
    }
    json_t *ver = json_object_get(st, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        r = bad(err, "mc_envelope.statement.version", "must be 1");
        goto out;
    }
    canon = json_dumps(st, JSON_SORT_KEYS | JSON_COMPACT);
    if (!canon) {
        r = bad(err, "mc_envelope.statement", "cannot be serialised");
        goto out;
    }
    size_t n = sizeof(domain) - 1 + strlen(canon);
    unsigned char *msg = malloc(n);
    if (!msg)
        abort();
    memcpy(msg, domain, sizeof(domain) - 1);
    memcpy(msg + sizeof(domain) - 1, canon, strlen(canon));
    if (crypto_sign_verify_detached(sigbin, msg, n, pk) != 0)
        r = bad(err, "mc_envelope.signature", "does not match the statement");
    else
        r = 0;
    free(msg);
out:
    free(canon);
    json_decref(root);
    return r;
}

int nn_key_file_read(const char *path, uint8_t *out, size_t want, nn_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        nn_error_set(err, path, "%s", strerror(e));
        return -e;
    }
    char text[256];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    bool more = !feof(f) && fgetc(f) != EOF;
    fclose(f);
    text[n] = '\0';
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    size_t got = 0;
    bool bad = more || n == 0 ||
               sodium_base642bin(out, want, text, n, NULL, &got, NULL,
                                 sodium_base64_VARIANT_ORIGINAL) ||
               got != want;
    sodium_memzero(text, sizeof(text)); /* the text of a private key is the key */
    if (bad) {
        nn_error_set(err, path, "is not a key file (base64 of %zu bytes on one line)", want);
        return -EINVAL;
    }
    return 0;
}

/* The domain-separated message: domain, revision line, bytes. The domain
 * keeps an envelope signature from ever verifying as a membership
 * credential or anything else. */
static void signed_message(const char *bytes, size_t len, uint64_t revision, unsigned char **msg,
                           size_t *msg_len)
{
    char head[64];
    int d = snprintf(head, sizeof(head), "%s%" PRIu64 "\n", NN_ENVELOPE_SIG_DOMAIN, revision);
    *msg = malloc((size_t)d + len + 1);
    if (!*msg)
        abort();
    memcpy(*msg, head, (size_t)d);
    if (len)
        memcpy(*msg + d, bytes, len);
    *msg_len = (size_t)d + len;
}

/* Splits "REVISION.SIG" (leading whitespace allowed): the revision, and
 * where the signature starts. */
static int token_split(const char *token, uint64_t *revision, const char **sig)
{
    if (!token)
        return -EBADMSG;
    while (*token == ' ' || *token == '\t' || *token == '\r' || *token == '\n')
        token++;
    uint64_t r = 0;
    size_t n = 0;
    for (; token[n] >= '0' && token[n] <= '9'; n++) {
        if (n == 19 || (n > 0 && r == 0)) /* at most 19 digits, no leading zero */
            return -EBADMSG;
        r = r * 10 + (uint64_t)(token[n] - '0');
    }
    if (n == 0 || token[n] != '.')
        return -EBADMSG;
    *revision = r;
    *sig = token + n + 1;
    return 0;
}

int nn_envelope_token_revision(const char *token, uint64_t *revision)
{
    const char *sig;
    return token_split(token, revision, &sig);
}

int nn_envelope_verify(const char *bytes, size_t len, const char *token, const uint8_t pk[32],
                       uint64_t *revision)
{
    unsigned char sig[crypto_sign_BYTES];
    size_t sig_len = 0;
    const char *end = NULL, *sig_b64;
    uint64_t r;
    if (token_split(token, &r, &sig_b64) ||
        sodium_base642bin(sig, sizeof(sig), sig_b64, strlen(sig_b64), " \t\r\n", &sig_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        sig_len != sizeof(sig) || (end && *end != '\0'))
        return -EBADMSG;
    unsigned char *msg;
    size_t msg_len;
    signed_message(bytes, len, r, &msg, &msg_len);
    int ok = crypto_sign_verify_detached(sig, msg, msg_len, pk);
    free(msg);
    if (ok != 0)
        return -EBADMSG;
    *revision = r;
    return 0;
}

void nn_envelope_sign(const char *bytes, size_t len, uint64_t revision, const uint8_t sk[64],
                      char out[NN_ENVELOPE_SIG_MAX])
{
    unsigned char sig[crypto_sign_BYTES];
    unsigned char *msg;
    size_t msg_len;
    signed_message(bytes, len, revision, &msg, &msg_len);
    crypto_sign_detached(sig, NULL, msg, msg_len, sk);
    free(msg);
    int n = snprintf(out, NN_ENVELOPE_SIG_MAX, "%" PRIu64 ".", revision);
    sodium_bin2base64(out + n, NN_ENVELOPE_SIG_MAX - (size_t)n, sig, sizeof(sig),
                      sodium_base64_VARIANT_ORIGINAL);
}
