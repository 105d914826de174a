/* nn_pki: Nanami's internal certificate authority (GnuTLS). nanamid holds
 * the CA and signs one client certificate per enrolled node and its own
 * server certificate; gateway-manager makes the node's TLS key and the
 * certificate request. Everything travels as PEM text.
 *
 * Keys are ECDSA P-256: both TLS stacks in play (GnuTLS in nanamid,
 * OpenSSL under libcurl in gateway-manager) speak it in TLS 1.2 and 1.3.
 * Every PEM string returned is malloc'd; the caller frees it (a private
 * key with nn_pki_free_secret, which wipes it first). */
#ifndef NN_PKI_PKI_H
#define NN_PKI_PKI_H

#include <stddef.h>
#include <stdint.h>

#define NN_PKI_FP_LEN 32     /* SHA-256 of a certificate's DER */
#define NN_PKI_MAX_PEM 16384 /* bound on any PEM text read from outside */
#define NN_PKI_CLIENT_DAYS 365
#define NN_PKI_CA_DAYS 3650

/* A new CA: key and self-signed certificate (CA:TRUE, keyCertSign). */
int nn_pki_ca_new(const char *common_name, char **key_pem, char **cert_pem);

/* A new private key. */
int nn_pki_key_new(char **key_pem);

/* A certificate request for key_pem, signed by it (proof of possession). */
int nn_pki_csr_new(const char *key_pem, const char *common_name, char **csr_pem);

/* Signs csr_pem as a TLS client certificate valid for days. The subject
 * is common_name, never the request's own: the server decides who a node
 * is. The request's self-signature must verify. fp receives the SHA-256
 * of the certificate, which is how the server recognises it later.
 * 0, -EINVAL (why says what is wrong with the request) or -ENOMEM. */
int nn_pki_sign_client(const char *ca_key_pem, const char *ca_cert_pem, const char *csr_pem,
                       const char *common_name, unsigned days, char **cert_pem,
                       uint8_t fp[NN_PKI_FP_LEN], char *why, size_t why_len);

/* A server key and certificate for the names given (IPv4/IPv6 literals
 * become IP subjectAltNames, anything else a DNS name), valid for days. */
int nn_pki_server_new(const char *ca_key_pem, const char *ca_cert_pem, const char *const *names,
                      size_t n_names, unsigned days, char **key_pem, char **cert_pem);

/* SHA-256 of a DER certificate, and of the first certificate in PEM. */
int nn_pki_fingerprint_der(const void *der, size_t len, uint8_t fp[NN_PKI_FP_LEN]);
int nn_pki_fingerprint_pem(const char *cert_pem, uint8_t fp[NN_PKI_FP_LEN]);

void nn_pki_free_secret(char *pem);

#endif
