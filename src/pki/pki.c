/* The internal CA over GnuTLS's x509 API. Each function builds what it
 * returns from scratch and frees every GnuTLS object before it returns. */
#include "pki/pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int map(int gr)
{
    if (gr >= 0)
        return 0;
    return gr == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EINVAL;
}

static gnutls_datum_t datum_of(const char *pem)
{
    size_t n = strnlen(pem, NN_PKI_MAX_PEM + 1);
    return (gnutls_datum_t){.data = (unsigned char *)pem, .size = (unsigned)n};
}

/* Copies a GnuTLS-owned datum into a NUL-terminated malloc'd string and
 * wipes and frees the original. */
static int take_pem(gnutls_datum_t *d, char **out)
{
    *out = malloc(d->size + 1);
    if (*out) {
        memcpy(*out, d->data, d->size);
        (*out)[d->size] = '\0';
    }
    gnutls_memset(d->data, 0, d->size);
    gnutls_free(d->data);
    d->data = NULL;
    return *out ? 0 : -ENOMEM;
}

void nn_pki_free_secret(char *pem)
{
    if (pem) {
        gnutls_memset(pem, 0, strlen(pem));
        free(pem);
    }
}

static int key_generate(gnutls_x509_privkey_t *key)
{
    int r = map(gnutls_x509_privkey_init(key));
    if (r == 0 &&
        (r = map(gnutls_x509_privkey_generate(
             *key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0)))) {
        gnutls_x509_privkey_deinit(*key);
        *key = NULL;
    }
    return r;
}

static int key_export(gnutls_x509_privkey_t key, char **out)
{
    gnutls_datum_t d = {0};
    int r = map(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d));
    return r ? r : take_pem(&d, out);
}

static int key_import(const char *pem, gnutls_x509_privkey_t *key)
{
    gnutls_datum_t d = datum_of(pem);
    int r = map(gnutls_x509_privkey_init(key));
    if (r == 0 && (r = map(gnutls_x509_privkey_import(*key, &d, GNUTLS_X509_FMT_PEM)))) {
        gnutls_x509_privkey_deinit(*key);
        *key = NULL;
    }
    return r;
}

static int crt_import(const char *pem, gnutls_x509_crt_t *crt)
{
    gnutls_datum_t d = datum_of(pem);
    int r = map(gnutls_x509_crt_init(crt));
    if (r == 0 && (r = map(gnutls_x509_crt_import(*crt, &d, GNUTLS_X509_FMT_PEM)))) {
        gnutls_x509_crt_deinit(*crt);
        *crt = NULL;
    }
    return r;
}

static int crt_export(gnutls_x509_crt_t crt, char **out)
{
    gnutls_datum_t d = {0};
    int r = map(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d));
    return r ? r : take_pem(&d, out);
}

/* Version, random positive serial, validity from a minute ago (clock
 * skew between node and server) and the subject's common name. */
static int crt_basics(gnutls_x509_crt_t crt, const char *cn, unsigned days)
{
    unsigned char serial[16];
    int r = map(gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)));
    serial[0] &= 0x7f;
    serial[0] |= 0x01; /* positive, and no leading zero byte to strip */
    time_t now = time(NULL);
    if (r == 0)
        r = map(gnutls_x509_crt_set_version(crt, 3));
    if (r == 0)
        r = map(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)));
    if (r == 0)
        r = map(gnutls_x509_crt_set_activation_time(crt, now - 60));
    if (r == 0)
        r = map(gnutls_x509_crt_set_expiration_time(crt, now + (time_t)days * 86400));
    if (r == 0)
        r = map(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
                                              (unsigned)strlen(cn)));
    return r;
}

/* Subject key id of the issued certificate and the authority key id that
 * points at the CA, so path building never has to guess. */
static int crt_key_ids(gnutls_x509_crt_t crt, gnutls_x509_crt_t ca)
{
    unsigned char id[64];
    size_t n = sizeof(id);
    int r = map(gnutls_x509_crt_get_key_id(crt, 0, id, &n));
    if (r == 0)
        r = map(gnutls_x509_crt_set_subject_key_id(crt, id, n));
    if (r == 0 && ca) {
        n = sizeof(id);
        r = map(gnutls_x509_crt_get_subject_key_id(ca, id, &n, NULL));
        if (r == 0)
            r = map(gnutls_x509_crt_set_authority_key_id(crt, id, n));
    }
    return r;
}

/* The end of making a key and its certificate: exports both when r is 0,
 * frees the GnuTLS objects, and leaves both outputs NULL on failure. */
static int export_pair(int r, gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, char **key_pem,
                       char **cert_pem)
{
    if (r == 0)
        r = crt_export(crt, cert_pem);
    if (r == 0)
        r = key_export(key, key_pem);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (key)
        gnutls_x509_privkey_deinit(key);
    if (r) {
        free(*cert_pem);
        nn_pki_free_secret(*key_pem);
        *key_pem = *cert_pem = NULL;
    }
    return r;
}

int nn_pki_key_new(char **key_pem)
{
    gnutls_x509_privkey_t key;
    *key_pem = NULL;
    int r = key_generate(&key);
    if (r)
        return r;
    r = key_export(key, key_pem);
    gnutls_x509_privkey_deinit(key);
    return r;
}

int nn_pki_ca_new(const char *common_name, char **key_pem, char **cert_pem)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    *key_pem = *cert_pem = NULL;
    int r = key_generate(&key);
    if (r == 0)
        r = map(gnutls_x509_crt_init(&crt));
    if (r == 0)
        r = crt_basics(crt, common_name, NN_PKI_CA_DAYS);
    if (r == 0)
        r = map(gnutls_x509_crt_set_key(crt, key));
    if (r == 0)
        r = map(gnutls_x509_crt_set_basic_constraints(crt, 1, 0));
    if (r == 0)
        r = map(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN));
    if (r == 0)
        r = crt_key_ids(crt, NULL);
    if (r == 0)
        r = map(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0));
    return export_pair(r, crt, key, key_pem, cert_pem);
}

int nn_pki_csr_new(const char *key_pem, const char *common_name, char **csr_pem)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crq_t crq = NULL;
    *csr_pem = NULL;
    int r = key_import(key_pem, &key);
    if (r == 0)
        r = map(gnutls_x509_crq_init(&crq));
    if (r == 0)
        r = map(gnutls_x509_crq_set_version(crq, 1));
    if (r == 0)
        r = map(gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, common_name,
                                              (unsigned)strlen(common_name)));
    if (r == 0)
        r = map(gnutls_x509_crq_set_key(crq, key));
    if (r == 0)
        r = map(gnutls_x509_crq_sign2(crq, key, GNUTLS_DIG_SHA256, 0));
    if (r == 0) {
        gnutls_datum_t d = {0};
        r = map(gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &d));
        if (r == 0)
            r = take_pem(&d, csr_pem);
    }
    if (crq)
        gnutls_x509_crq_deinit(crq);
    if (key)
        gnutls_x509_privkey_deinit(key);
    return r;
}

/* Signs crt (its key and subject already set) with the CA. */
static int ca_sign(gnutls_x509_crt_t crt, const char *ca_key_pem, const char *ca_cert_pem)
{
    gnutls_x509_privkey_t ca_key = NULL;
    gnutls_x509_crt_t ca = NULL;
    int r = key_import(ca_key_pem, &ca_key);
    if (r == 0)
        r = crt_import(ca_cert_pem, &ca);
    if (r == 0)
        r = crt_key_ids(crt, ca);
    if (r == 0)
        r = map(gnutls_x509_crt_sign2(crt, ca, ca_key, GNUTLS_DIG_SHA256, 0));
    if (ca)
        gnutls_x509_crt_deinit(ca);
    if (ca_key)
        gnutls_x509_privkey_deinit(ca_key);
    return r;
}

static int crt_fingerprint(gnutls_x509_crt_t crt, uint8_t fp[NN_PKI_FP_LEN])
{
    size_t n = NN_PKI_FP_LEN;
    return map(gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &n));
}

int nn_pki_sign_client(const char *ca_key_pem, const char *ca_cert_pem, const char *csr_pem,
                       const char *common_name, unsigned days, char **cert_pem,
                       uint8_t fp[NN_PKI_FP_LEN], char *why, size_t why_len)
{
    gnutls_x509_crq_t crq = NULL;
    gnutls_x509_crt_t crt = NULL;
    *cert_pem = NULL;
    int r = 0;
    if (strnlen(csr_pem, NN_PKI_MAX_PEM + 1) > NN_PKI_MAX_PEM) {
        snprintf(why, why_len, "the certificate request is larger than %d bytes", NN_PKI_MAX_PEM);
        return -EINVAL;
    }
    gnutls_datum_t d = datum_of(csr_pem);
    if ((r = map(gnutls_x509_crq_init(&crq))))
        return r;
    if (gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_PEM) < 0) {
        snprintf(why, why_len, "not a PEM certificate request");
        r = -EINVAL;
        goto out;
    }
    /* 1 is "verified"; a request not signed by its own key proves nothing */
    if (gnutls_x509_crq_verify(crq, 0) < 0) {
        snprintf(why, why_len, "the certificate request's signature does not verify");
        r = -EINVAL;
        goto out;
    }
    unsigned bits = 0;
    int algo = gnutls_x509_crq_get_pk_algorithm(crq, &bits);
    if (algo != GNUTLS_PK_ECDSA && !(algo == GNUTLS_PK_RSA && bits >= 2048) &&
        algo != GNUTLS_PK_EDDSA_ED25519) {
        snprintf(why, why_len, "the request's key must be ECDSA, Ed25519 or RSA of 2048+ bits");
        r = -EINVAL;
        goto out;
    }
    /* Only the request's key is taken; its subject and extensions are
     * the node's wishes, and the server decides who a node is. */
    gnutls_pubkey_t pub = NULL;
    if ((r = map(gnutls_pubkey_init(&pub))))
        goto out;
    r = map(gnutls_pubkey_import_x509_crq(pub, crq, 0));
    if (r == 0)
        r = map(gnutls_x509_crt_init(&crt));
    if (r == 0)
        r = map(gnutls_x509_crt_set_pubkey(crt, pub));
    gnutls_pubkey_deinit(pub);
    if (r == 0)
        r = crt_basics(crt, common_name, days);
    if (r == 0)
        r = map(gnutls_x509_crt_set_basic_constraints(crt, 0, -1));
    if (r == 0)
        r = map(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE));
    if (r == 0)
        r = map(gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0));
    if (r == 0)
        r = ca_sign(crt, ca_key_pem, ca_cert_pem);
    if (r == 0)
        r = crt_fingerprint(crt, fp);
    if (r == 0)
        r = crt_export(crt, cert_pem);
    if (r)
        snprintf(why, why_len, "signing the certificate failed");
out:
    if (crt)
        gnutls_x509_crt_deinit(crt);
    gnutls_x509_crq_deinit(crq);
    return r;
}

int nn_pki_server_new(const char *ca_key_pem, const char *ca_cert_pem, const char *const *names,
                      size_t n_names, unsigned days, char **key_pem, char **cert_pem)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    *key_pem = *cert_pem = NULL;
    int r = key_generate(&key);
    if (r == 0)
        r = map(gnutls_x509_crt_init(&crt));
    if (r == 0)
        r = crt_basics(crt, n_names ? names[0] : "nanamid", days);
    if (r == 0)
        r = map(gnutls_x509_crt_set_key(crt, key));
    for (size_t i = 0; r == 0 && i < n_names; i++) {
        unsigned char ip[16];
        if (inet_pton(AF_INET, names[i], ip) == 1)
            r = map(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 4,
                                                         GNUTLS_FSAN_APPEND));
        else if (inet_pton(AF_INET6, names[i], ip) == 1)
            r = map(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 16,
                                                         GNUTLS_FSAN_APPEND));
        else
            r = map(gnutls_x509_crt_set_subject_alt_name(
                crt, GNUTLS_SAN_DNSNAME, names[i], (unsigned)strlen(names[i]), GNUTLS_FSAN_APPEND));
    }
    if (r == 0)
        r = map(gnutls_x509_crt_set_basic_constraints(crt, 0, -1));
    if (r == 0)
        r = map(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE));
    if (r == 0)
        r = map(gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0));
    if (r == 0)
        r = ca_sign(crt, ca_key_pem, ca_cert_pem);
    return export_pair(r, crt, key, key_pem, cert_pem);
}

int nn_pki_fingerprint_der(const void *der, size_t len, uint8_t fp[NN_PKI_FP_LEN])
{
    return map(gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, fp));
}

int nn_pki_fingerprint_pem(const char *cert_pem, uint8_t fp[NN_PKI_FP_LEN])
{
    gnutls_x509_crt_t crt;
    int r = crt_import(cert_pem, &crt);
    if (r == 0) {
        r = crt_fingerprint(crt, fp);
        gnutls_x509_crt_deinit(crt);
    }
    return r;
}
