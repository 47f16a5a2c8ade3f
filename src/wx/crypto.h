/*
 * crypto.h - the cryptography WeChat Pay API v3 needs, on OpenSSL 3 EVP only
 * (no deprecated RSA_* calls): SHA-1/SHA-256, strict base64, PEM keys and
 * certificates, SHA256withRSA (PKCS#1 v1.5), AES-GCM with the tag appended to
 * the ciphertext, RSA-OAEP (SHA-1, MGF1-SHA-1, empty label) and nonces from the
 * CSPRNG. PROTOCOL.md sections 1-3 and 4.6.
 *
 * Error messages never contain key material, plaintexts or ciphertexts.
 */
#ifndef WXR_CRYPTO_H
#define WXR_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "wxrecon.h"

#define CRYPTO_SHA1_LEN    20
#define CRYPTO_SHA256_LEN  32
#define CRYPTO_GCM_TAG_LEN 16
#define CRYPTO_NONCE_LEN   32  /* characters of crypto_nonce(), without the NUL */
#define CRYPTO_SERIAL_MAX  128 /* upper-case hex of a 64-byte serial, NUL included */

/* ---- digests ---- */

void crypto_sha1(const void *p, size_t n, unsigned char out[CRYPTO_SHA1_LEN]);
void crypto_sha256(const void *p, size_t n, unsigned char out[CRYPTO_SHA256_LEN]);

/* Streaming SHA-1 (bills are hashed while they stream). */
struct crypto_sha1;
struct crypto_sha1 *crypto_sha1_new(void);
void crypto_sha1_update(struct crypto_sha1 *c, const void *p, size_t n);
/* Writes the digest; c may not be updated afterwards (only freed). */
void crypto_sha1_final(struct crypto_sha1 *c, unsigned char out[CRYPTO_SHA1_LEN]);
void crypto_sha1_free(struct crypto_sha1 *c);

/* ---- base64 (standard alphabet, '=' padding, no line breaks) ---- */

/* Returns a new NUL-terminated string; caller frees with free(). */
char *crypto_b64_encode(const void *p, size_t n);
/*
 * Decodes s[0..len) strictly: only the standard alphabet, length a multiple
 * of 4, padding only at the end, unused bits zero. Appends to out.
 * WXR_EDATA on bad input (the message names the first bad offset, never the
 * data), WXR_ETOOBIG when out's cap is hit.
 */
int crypto_b64_decode(const char *s, size_t len, struct buf *out, struct wxr_err *err);

/* ---- keys ---- */

/* An RSA private or public key (wraps EVP_PKEY). */
struct crypto_key;

/* PKCS#8 "PRIVATE KEY" (also PKCS#1 "RSA PRIVATE KEY") PEM; a missing final newline is fine. */
int crypto_key_private_from_pem(const char *pem, size_t len, struct crypto_key **out_key,
                                struct wxr_err *err);
/*
 * A public key from SubjectPublicKeyInfo PEM ("PUBLIC KEY") or from an X.509
 * certificate PEM. For a certificate, out_cert (if not NULL) gets its details;
 * for a bare key out_cert->serial is "".
 */
struct crypto_cert_info {
	char serial[CRYPTO_SERIAL_MAX]; /* upper-case hex, two digits per byte, leading zeros kept
	                                 */
	int64_t not_before;             /* Unix seconds */
	int64_t not_after;
};
int crypto_key_public_from_pem(const char *pem, size_t len, struct crypto_key **out_key,
                               struct crypto_cert_info *out_cert, struct wxr_err *err);
/* Reads a whole (small) PEM file; then as above. */
int crypto_key_private_load(const char *path, struct crypto_key **out_key, struct wxr_err *err);
int crypto_key_public_load(const char *path, struct crypto_key **out_key,
                           struct crypto_cert_info *out_cert, struct wxr_err *err);
/* Only the certificate details of an X.509 PEM (WXR_EDATA when it is not one). */
int crypto_cert_info(const char *pem, size_t len, struct crypto_cert_info *out_cert,
                     struct wxr_err *err);
/* NULL-safe. */
void crypto_key_free(struct crypto_key *k);
/* True when both keys have the same public part. */
bool crypto_key_same_public(const struct crypto_key *a, const struct crypto_key *b);

/* ---- SHA256withRSA (RSASSA-PKCS1-v1_5) ---- */

/* Signs msg with a private key; *out_b64 = new base64 string (free()). */
int crypto_sign_sha256(const struct crypto_key *priv, const void *msg, size_t n, char **out_b64,
                       struct wxr_err *err);
/* 0 when sig_b64 is a valid signature of msg; WXR_ESIG otherwise (bad base64 included). */
int crypto_verify_sha256(const struct crypto_key *pub, const void *msg, size_t n,
                         const char *sig_b64, struct wxr_err *err);

/* ---- AES-GCM; the key size picks the variant: 16 -> AES-128, 24 -> AES-192, 32 -> AES-256 ---- */

/*
 * ct[0..ct_len) is ciphertext || 16-byte tag. The plaintext is appended to out.
 * WXR_ESIG when the tag does not match (wrong key, nonce, AAD or data) or the
 * data is shorter than the tag; WXR_EDATA for a bad key size or an empty nonce.
 */
int crypto_aesgcm_decrypt(const void *key, size_t key_len, const void *nonce, size_t nonce_len,
                          const void *aad, size_t aad_len, const void *ct, size_t ct_len,
                          struct buf *out, struct wxr_err *err);
/* As above with base64 ciphertext (WXR_EDATA when it is not base64). */
int crypto_aesgcm_decrypt_b64(const void *key, size_t key_len, const char *nonce, const char *aad,
                              const char *ct_b64, struct buf *out, struct wxr_err *err);
/* Appends ciphertext || tag to out. */
int crypto_aesgcm_encrypt(const void *key, size_t key_len, const void *nonce, size_t nonce_len,
                          const void *aad, size_t aad_len, const void *pt, size_t pt_len,
                          struct buf *out, struct wxr_err *err);

/* ---- RSA-OAEP with SHA-1, MGF1-SHA-1, empty label ---- */

/* *out_b64 = new base64 of the ciphertext (free()). */
int crypto_oaep_encrypt(const struct crypto_key *pub, const void *pt, size_t n, char **out_b64,
                        struct wxr_err *err);
/* Appends the plaintext to out; WXR_ESIG when it does not decrypt. */
int crypto_oaep_decrypt(const struct crypto_key *priv, const char *ct_b64, struct buf *out,
                        struct wxr_err *err);

/* ---- randomness and hygiene ---- */

/* Writes CRYPTO_NONCE_LEN random characters of [0-9A-Za-z] and a NUL. */
int crypto_nonce(char out[CRYPTO_NONCE_LEN + 1], struct wxr_err *err);
/* Fills p with n random bytes. */
int crypto_random(void *p, size_t n, struct wxr_err *err);
/* Overwrites p[0..n) with zeros in a way the compiler keeps. NULL-safe. */
void crypto_wipe(void *p, size_t n);

#endif
