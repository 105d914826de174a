/* Membership credentials: an Ed25519 signature (libsodium) over a
 * canonical statement of who a peer is -- workspace, network, peer name,
 * WireGuard public key, overlay addresses, validity. Validity comes from
 * the intent (workspace credential_validity), never the clock, and Ed25519
 * signatures are deterministic, so unchanged intent signs to the same bytes.
 *
 *   {"alg":"ed25519","key_id":"<16 hex of SHA-256(public key)>",
 *    "signature":"<base64>","statement":{...}}
 *
 * The signed bytes are "nanami-membership-v1\n" followed by the statement
 * as canonical JSON (docs/envelope.md). */
#ifndef NN_COMPILE_CREDENTIAL_H
#define NN_COMPILE_CREDENTIAL_H

#include <stddef.h>
#include <stdint.h>

#include "model/error.h"
#include "model/model.h"
#include "util/json_writer.h"

#define NN_SIGN_SEED_LEN 32
#define NN_SIGN_SK_LEN 64
#define NN_SIGN_PK_LEN 32

/* Writes the credential object for peer, signed with sk (libsodium's
 * 64-byte secret key). The workspace must carry credential_validity. */
void nn_credential_write(const nn_network *net, const nn_member *peer, const uint8_t *sk,
                         nn_jw *w);

/* Appends the statement the credential signs (canonical JSON). */
void nn_credential_statement(const nn_network *net, const nn_member *peer, nn_buf *out);

/* Checks a credential (the object above, or an envelope holding it under
 * "mc_envelope") against pk. 0 when valid; -EINVAL with err saying why. */
int nn_credential_verify(const char *json, size_t len, const uint8_t pk[NN_SIGN_PK_LEN],
                         nn_error *err);

/* 16 hex chars naming a signing public key. */
void nn_credential_key_id(const uint8_t pk[NN_SIGN_PK_LEN], char out[17]);

/* Reads a key file: base64 of exactly want bytes, optional trailing
 * newline. 0 or -EINVAL (err says why) / -errno. */
int nn_key_file_read(const char *path, uint8_t *out, size_t want, nn_error *err);

/* Envelopes are signed whole: Ed25519 over "nanami-envelope-v2\n", the
 * envelope's revision in decimal and "\n", then the envelope's exact
 * bytes, detached. The signature travels beside the envelope as the token
 * "REVISION.BASE64SIG" (X-Nanami-Signature, applied.sig), never inside it,
 * so the canonical bytes and their ETag stay as compiled. The revision only
 * grows for a node's successive envelopes: a daemon refuses one older than
 * what it applied (rollback). The domain keeps an envelope signature from
 * ever verifying as anything else signed by the same key. */
#define NN_ENVELOPE_SIG_DOMAIN "nanami-envelope-v2\n"
#define NN_ENVELOPE_SIG_B64_LEN 88 /* the signature part, without NUL */
#define NN_ENVELOPE_SIG_MAX 112    /* a whole token: 20 digits, '.', 88, NUL */

/* Writes the token for bytes at revision, NUL-terminated, into out. */
void nn_envelope_sign(const char *bytes, size_t len, uint64_t revision,
                      const uint8_t sk[NN_SIGN_SK_LEN], char out[NN_ENVELOPE_SIG_MAX]);
/* token may carry surrounding whitespace. 0 and the signed revision in
 * *revision, or -EBADMSG for a bad or malformed token. */
int nn_envelope_verify(const char *bytes, size_t len, const char *token,
                       const uint8_t pk[NN_SIGN_PK_LEN], uint64_t *revision);
/* Reads the revision of a token without verifying it (0, or -EBADMSG). */
int nn_envelope_token_revision(const char *token, uint64_t *revision);

#endif
