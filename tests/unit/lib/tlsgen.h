/* statusd unit tests — certificates made in-process with OpenSSL (no files kept): a CA and leaf
 * certificates it signs (EC P-256), written as PEM into a temporary directory. Header-only. */
#ifndef HS_TEST_TLSGEN_H
#define HS_TEST_TLSGEN_H

#define _GNU_SOURCE
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    EVP_PKEY *key;
    X509 *cert;
} tlsgen_id_t;

static inline void tlsgen_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!e)
        abort();
    X509_add_ext(cert, e, -1);
    X509_EXTENSION_free(e);
}

/* A certificate for `cn` with subjectAltName `san` (NULL: none), signed by `ca` (NULL: itself,
 * and then a CA). `days_from`/`days_to`: validity relative to now. */
static inline tlsgen_id_t tlsgen_make(const char *cn, const char *san, const tlsgen_id_t *ca, long days_from,
                                      long days_to)
{
    static long serial = 100;
    tlsgen_id_t id = {EVP_EC_gen("P-256"), X509_new()};
    if (!id.key || !id.cert)
        abort();
    X509_set_version(id.cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(id.cert), ++serial);
    X509_gmtime_adj(X509_getm_notBefore(id.cert), days_from * 86400);
    X509_gmtime_adj(X509_getm_notAfter(id.cert), days_to * 86400);
    X509_NAME *name = X509_get_subject_name(id.cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(id.cert, ca ? X509_get_subject_name(ca->cert) : name);
    X509_set_pubkey(id.cert, id.key);
    X509 *issuer = ca ? ca->cert : id.cert;
    if (!ca) {
        tlsgen_ext(id.cert, issuer, NID_basic_constraints, "critical,CA:TRUE");
        tlsgen_ext(id.cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
    } else {
        tlsgen_ext(id.cert, issuer, NID_basic_constraints, "CA:FALSE");
        tlsgen_ext(id.cert, issuer, NID_ext_key_usage, "serverAuth,clientAuth");
    }
    tlsgen_ext(id.cert, issuer, NID_subject_key_identifier, "hash");
    if (san)
        tlsgen_ext(id.cert, issuer, NID_subject_alt_name, san);
    if (!X509_sign(id.cert, ca ? ca->key : id.key, EVP_sha256()))
        abort();
    return id;
}

static inline void tlsgen_free(tlsgen_id_t *id)
{
    X509_free(id->cert);
    EVP_PKEY_free(id->key);
}

/* dir/name.pem (the certificate, then `chain` when given) and dir/name.key. */
static inline void tlsgen_write(const char *dir, const char *name, const tlsgen_id_t *id, const tlsgen_id_t *chain)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || !PEM_write_X509(f, id->cert) || (chain && !PEM_write_X509(f, chain->cert)))
        abort();
    fclose(f);
    snprintf(path, sizeof(path), "%s/%s.key", dir, name);
    f = fopen(path, "w");
    if (!f || !PEM_write_PrivateKey(f, id->key, NULL, NULL, 0, NULL, NULL))
        abort();
    fclose(f);
}

/* A fresh temporary directory (removed by tlsgen_cleanup). */
static inline char *tlsgen_dir(void)
{
    static char dir[] = "/tmp/statusd-tls-XXXXXX";
    if (!mkdtemp(dir))
        abort();
    return dir;
}

static inline void tlsgen_cleanup(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "# could not remove %s\n", dir);
}

#endif
