#include "wx/crypto.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "base/err.h"
#include "base/xalloc.h"

#define PEM_FILE_MAX (64 * 1024)
#define RSA_SIG_MAX  1024 /* bytes of a decoded signature we accept (RSA-8192) */

struct crypto_key {
	EVP_PKEY *pkey; /* owned */
};

struct crypto_sha1 {
	EVP_MD_CTX *ctx; /* owned */
};

/* Records the newest OpenSSL error (or "unknown error") after what, and clears the queue. */
static int ossl_fail(struct wxr_err *err, int code, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char text[256];

	if (e)
		ERR_error_string_n(e, text, sizeof(text));
	else
		snprintf(text, sizeof(text), "unknown error");
	ERR_clear_error();
	return err_set(err, code, "%s: %s", what, text);
}

/* ---- digests ---- */

static void digest(const EVP_MD *md, const void *p, size_t n, unsigned char *out)
{
	if (EVP_Digest(p, n, out, NULL, md, NULL) != 1)
		BUG("EVP_Digest failed");
}

void crypto_sha1(const void *p, size_t n, unsigned char out[CRYPTO_SHA1_LEN])
{
	digest(EVP_sha1(), p, n, out);
}

void crypto_sha256(const void *p, size_t n, unsigned char out[CRYPTO_SHA256_LEN])
{
	digest(EVP_sha256(), p, n, out);
}

struct crypto_sha1 *crypto_sha1_new(void)
{
	struct crypto_sha1 *c = xcalloc(1, sizeof(*c));

	c->ctx = EVP_MD_CTX_new();
	if (!c->ctx || EVP_DigestInit_ex(c->ctx, EVP_sha1(), NULL) != 1)
		BUG("cannot start a SHA-1 context");
	return c;
}

void crypto_sha1_update(struct crypto_sha1 *c, const void *p, size_t n)
{
	if (n && EVP_DigestUpdate(c->ctx, p, n) != 1)
		BUG("EVP_DigestUpdate failed");
}

void crypto_sha1_final(struct crypto_sha1 *c, unsigned char out[CRYPTO_SHA1_LEN])
{
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(c->ctx, out, &len) != 1 || len != CRYPTO_SHA1_LEN)
		BUG("EVP_DigestFinal_ex failed");
}

void crypto_sha1_free(struct crypto_sha1 *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->ctx);
	free(c);
}

/* ---- base64 ---- */

static const char b64_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *crypto_b64_encode(const void *p, size_t n)
{
	const unsigned char *s = p;
	char *out;
	size_t o = 0;
	size_t i;

	if (n > ((size_t)-1 / 4) * 3 - 3)
		BUG("base64 input too large");
	out = xmalloc((n + 2) / 3 * 4 + 1);
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];

		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)s[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int crypto_b64_decode(const char *s, size_t len, struct buf *out, struct wxr_err *err)
{
	size_t start = out->len;
	int r;

	if (len % 4)
		return err_set(err, WXR_EDATA, "bad base64: length %zu is not a multiple of 4",
		               len);
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		int pad = 0;
		unsigned char bytes[3];

		for (int j = 0; j < 4; j++) {
			unsigned char c = (unsigned char)s[i + j];

			if (c == '=' && i + 4 == len && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			v[j] = b64_value(c);
			if (v[j] < 0 || pad) {
				r = err_set(err, WXR_EDATA,
				            "bad base64: unexpected character at offset %zu",
				            i + (size_t)j);
				goto fail;
			}
		}
		if ((pad == 1 && (v[2] & 3)) || (pad == 2 && (v[1] & 15))) {
			r = err_set(err, WXR_EDATA,
			            "bad base64: non-zero unused bits at offset %zu", i);
			goto fail;
		}
		bytes[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		bytes[1] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		bytes[2] = (unsigned char)((v[2] & 3) << 6 | v[3]);
		r = buf_add(out, bytes, 3 - (size_t)pad);
		if (r < 0) {
			r = err_set(err, WXR_ETOOBIG, "base64 data larger than %zu bytes",
			            out->max);
			goto fail;
		}
	}
	return 0;
fail:
	/* Leave out as it was. */
	if (out->data) {
		crypto_wipe(out->data + start, out->len - start);
		out->len = start;
		out->data[start] = '\0';
	}
	return r;
}

/* ---- keys ---- */

/* Never prompts: encrypted PEM files are refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int check_rsa(EVP_PKEY *pkey, struct wxr_err *err)
{
	if (!EVP_PKEY_is_a(pkey, "RSA"))
		return err_set(err, WXR_EDATA, "key is not an RSA key");
	return 0;
}

int crypto_key_private_from_pem(const char *pem, size_t len, struct crypto_key **out_key,
                                struct wxr_err *err)
{
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	int r;

	if (len > INT_MAX)
		return err_set(err, WXR_ETOOBIG, "private key PEM too large");
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return ossl_fail(err, WXR_EFAIL, "BIO_new_mem_buf");
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (!pkey) {
		r = ossl_fail(err, WXR_EDATA, "cannot read private key PEM");
		goto out;
	}
	r = check_rsa(pkey, err);
	if (r < 0)
		goto out;
	*out_key = xcalloc(1, sizeof(**out_key));
	(*out_key)->pkey = pkey;
	pkey = NULL;
out:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return r;
}

static int asn1_time_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static int cert_details(X509 *x, struct crypto_cert_info *info, struct wxr_err *err)
{
	const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
	BIGNUM *bn = NULL;
	unsigned char bytes[(CRYPTO_SERIAL_MAX - 1) / 2];
	int n;
	int r = 0;

	memset(info, 0, sizeof(*info));
	bn = serial ? ASN1_INTEGER_to_BN(serial, NULL) : NULL;
	if (!bn)
		return ossl_fail(err, WXR_EDATA, "certificate has no readable serial number");
	n = BN_num_bytes(bn);
	if (n > (int)sizeof(bytes)) {
		r = err_set(err, WXR_EDATA, "certificate serial number longer than %zu bytes",
		            sizeof(bytes));
		goto out;
	}
	BN_bn2bin(bn, bytes);
	if (n == 0) {
		bytes[0] = 0;
		n = 1;
	}
	for (int i = 0; i < n; i++)
		snprintf(info->serial + 2 * i, 3, "%02X", bytes[i]);
	if (asn1_time_unix(X509_get0_notBefore(x), &info->not_before) < 0 ||
	    asn1_time_unix(X509_get0_notAfter(x), &info->not_after) < 0) {
		r = err_set(err, WXR_EDATA, "certificate has an unreadable validity period");
		goto out;
	}
out:
	BN_free(bn);
	return r;
}

static bool is_cert_pem(const char *pem, size_t len)
{
	static const char marker[] = "-----BEGIN CERTIFICATE-----";
	size_t m = sizeof(marker) - 1;

	for (size_t i = 0; i + m <= len; i++)
		if (memcmp(pem + i, marker, m) == 0)
			return true;
	return false;
}

static int read_cert(const char *pem, size_t len, X509 **out_x, struct wxr_err *err)
{
	BIO *bio = NULL;
	X509 *x;

	if (len > INT_MAX)
		return err_set(err, WXR_ETOOBIG, "certificate PEM too large");
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return ossl_fail(err, WXR_EFAIL, "BIO_new_mem_buf");
	x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (!x)
		return ossl_fail(err, WXR_EDATA, "cannot read certificate PEM");
	*out_x = x;
	return 0;
}

int crypto_cert_info(const char *pem, size_t len, struct crypto_cert_info *out_cert,
                     struct wxr_err *err)
{
	X509 *x = NULL;
	struct crypto_cert_info info;
	int r;

	r = read_cert(pem, len, &x, err);
	if (r < 0)
		return r;
	r = cert_details(x, &info, err);
	if (r == 0)
		*out_cert = info;
	X509_free(x);
	return r;
}

int crypto_key_public_from_pem(const char *pem, size_t len, struct crypto_key **out_key,
                               struct crypto_cert_info *out_cert, struct wxr_err *err)
{
	BIO *bio = NULL;
	X509 *x = NULL;
	EVP_PKEY *pkey = NULL;
	struct crypto_cert_info info;
	int r = 0;

	memset(&info, 0, sizeof(info));
	if (len > INT_MAX)
		return err_set(err, WXR_ETOOBIG, "public key PEM too large");
	if (is_cert_pem(pem, len)) {
		r = read_cert(pem, len, &x, err);
		if (r < 0)
			goto out;
		r = cert_details(x, &info, err);
		if (r < 0)
			goto out;
		pkey = X509_get_pubkey(x);
		if (!pkey) {
			r = ossl_fail(err, WXR_EDATA, "cannot read the certificate's public key");
			goto out;
		}
	} else {
		bio = BIO_new_mem_buf(pem, (int)len);
		if (!bio) {
			r = ossl_fail(err, WXR_EFAIL, "BIO_new_mem_buf");
			goto out;
		}
		pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
		if (!pkey) {
			r = ossl_fail(err, WXR_EDATA, "cannot read public key PEM");
			goto out;
		}
	}
	r = check_rsa(pkey, err);
	if (r < 0)
		goto out;
	*out_key = xcalloc(1, sizeof(**out_key));
	(*out_key)->pkey = pkey;
	pkey = NULL;
	if (out_cert)
		*out_cert = info;
out:
	EVP_PKEY_free(pkey);
	X509_free(x);
	BIO_free(bio);
	return r;
}

int crypto_key_private_load(const char *path, struct crypto_key **out_key, struct wxr_err *err)
{
	struct buf b;
	int r;

	buf_init_max(&b, PEM_FILE_MAX);
	r = buf_read_file(&b, path, PEM_FILE_MAX, err);
	if (r < 0)
		goto out;
	r = crypto_key_private_from_pem(buf_str(&b), b.len, out_key, err);
	if (r < 0)
		err_prefix(err, "'%s'", path);
out:
	crypto_wipe(b.data, b.len);
	buf_release(&b);
	return r;
}

int crypto_key_public_load(const char *path, struct crypto_key **out_key,
                           struct crypto_cert_info *out_cert, struct wxr_err *err)
{
	struct buf b;
	int r;

	buf_init_max(&b, PEM_FILE_MAX);
	r = buf_read_file(&b, path, PEM_FILE_MAX, err);
	if (r < 0)
		goto out;
	r = crypto_key_public_from_pem(buf_str(&b), b.len, out_key, out_cert, err);
	if (r < 0)
		err_prefix(err, "'%s'", path);
out:
	buf_release(&b);
	return r;
}

void crypto_key_free(struct crypto_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

bool crypto_key_same_public(const struct crypto_key *a, const struct crypto_key *b)
{
	bool same;

	if (!a || !b)
		return false;
	same = EVP_PKEY_eq(a->pkey, b->pkey) == 1;
	ERR_clear_error();
	return same;
}

/* ---- SHA256withRSA ---- */

int crypto_sign_sha256(const struct crypto_key *priv, const void *msg, size_t n, char **out_b64,
                       struct wxr_err *err)
{
	EVP_MD_CTX *ctx = NULL;
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	int r = 0;

	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return ossl_fail(err, WXR_EFAIL, "EVP_MD_CTX_new");
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, priv->pkey) != 1 ||
	    EVP_DigestSign(ctx, NULL, &sig_len, msg, n) != 1) {
		r = ossl_fail(err, WXR_EFAIL, "cannot sign");
		goto out;
	}
	sig = xmalloc(sig_len);
	if (EVP_DigestSign(ctx, sig, &sig_len, msg, n) != 1) {
		r = ossl_fail(err, WXR_EFAIL, "cannot sign");
		goto out;
	}
	*out_b64 = crypto_b64_encode(sig, sig_len);
out:
	free(sig);
	EVP_MD_CTX_free(ctx);
	return r;
}

int crypto_verify_sha256(const struct crypto_key *pub, const void *msg, size_t n,
                         const char *sig_b64, struct wxr_err *err)
{
	EVP_MD_CTX *ctx = NULL;
	struct wxr_err e64 = WXR_ERR_INIT;
	struct buf sig;
	int r;
	int v;

	buf_init_max(&sig, RSA_SIG_MAX);
	r = crypto_b64_decode(sig_b64, strlen(sig_b64), &sig, &e64);
	if (r < 0) {
		r = err_set(err, WXR_ESIG, "signature is not valid base64 (%s)", e64.msg);
		goto out;
	}
	if (sig.len == 0) {
		r = err_set(err, WXR_ESIG, "signature is empty");
		goto out;
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx) {
		r = ossl_fail(err, WXR_EFAIL, "EVP_MD_CTX_new");
		goto out;
	}
	if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub->pkey) != 1) {
		r = ossl_fail(err, WXR_EFAIL, "cannot start verification");
		goto out;
	}
	v = EVP_DigestVerify(ctx, (const unsigned char *)sig.data, sig.len, msg, n);
	ERR_clear_error();
	if (v != 1)
		r = err_set(err, WXR_ESIG, "signature does not match");
out:
	EVP_MD_CTX_free(ctx);
	buf_release(&sig);
	return r;
}

/* ---- AES-GCM ---- */

static const EVP_CIPHER *gcm_cipher(size_t key_len)
{
	switch (key_len) {
	case 16:
		return EVP_aes_128_gcm();
	case 24:
		return EVP_aes_192_gcm();
	case 32:
		return EVP_aes_256_gcm();
	default:
		return NULL;
	}
}

static int gcm_check(size_t key_len, size_t nonce_len, size_t aad_len, size_t data_len,
                     struct wxr_err *err)
{
	if (!gcm_cipher(key_len))
		return err_set(err, WXR_EDATA, "AES-GCM key must be 16, 24 or 32 bytes, not %zu",
		               key_len);
	if (nonce_len == 0 || nonce_len > 128)
		return err_set(err, WXR_EDATA, "AES-GCM nonce must be 1 to 128 bytes, not %zu",
		               nonce_len);
	if (aad_len > INT_MAX || data_len > INT_MAX - 64)
		return err_set(err, WXR_ETOOBIG, "AES-GCM input too large");
	return 0;
}

int crypto_aesgcm_decrypt(const void *key, size_t key_len, const void *nonce, size_t nonce_len,
                          const void *aad, size_t aad_len, const void *ct, size_t ct_len,
                          struct buf *out, struct wxr_err *err)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *pt = NULL;
	unsigned char tag[CRYPTO_GCM_TAG_LEN];
	const unsigned char *data = ct;
	size_t data_len;
	int len = 0;
	int total = 0;
	int r;

	r = gcm_check(key_len, nonce_len, aad_len, ct_len, err);
	if (r < 0)
		return r;
	if (ct_len < CRYPTO_GCM_TAG_LEN)
		return err_set(err, WXR_ESIG, "AES-GCM data of %zu bytes is shorter than the tag",
		               ct_len);
	data_len = ct_len - CRYPTO_GCM_TAG_LEN;
	memcpy(tag, data + data_len, CRYPTO_GCM_TAG_LEN);
	pt = xmalloc(data_len + 1);
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx) {
		r = ossl_fail(err, WXR_EFAIL, "EVP_CIPHER_CTX_new");
		goto out;
	}
	if (EVP_DecryptInit_ex(ctx, gcm_cipher(key_len), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)nonce_len, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1) {
		r = ossl_fail(err, WXR_EFAIL, "cannot start AES-GCM");
		goto out;
	}
	if (aad_len && EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aad_len) != 1) {
		r = ossl_fail(err, WXR_EFAIL, "AES-GCM associated data");
		goto out;
	}
	if (data_len && EVP_DecryptUpdate(ctx, pt, &len, data, (int)data_len) != 1) {
		r = ossl_fail(err, WXR_EFAIL, "AES-GCM decrypt");
		goto out;
	}
	total = data_len ? len : 0;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_GCM_TAG_LEN, tag) != 1) {
		r = ossl_fail(err, WXR_EFAIL, "AES-GCM tag");
		goto out;
	}
	if (EVP_DecryptFinal_ex(ctx, pt + total, &len) != 1) {
		ERR_clear_error();
		r = err_set(err, WXR_ESIG,
		            "AES-GCM authentication failed (wrong key, nonce, associated data, or "
		            "altered data)");
		goto out;
	}
	total += len;
	if (buf_add(out, pt, (size_t)total) < 0)
		r = err_set(err, WXR_ETOOBIG, "decrypted data larger than %zu bytes", out->max);
out:
	if (pt)
		crypto_wipe(pt, data_len + 1);
	free(pt);
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int crypto_aesgcm_decrypt_b64(const void *key, size_t key_len, const char *nonce, const char *aad,
                              const char *ct_b64, struct buf *out, struct wxr_err *err)
{
	struct buf ct;
	int r;

	buf_init_max(&ct, out->max ? out->max + CRYPTO_GCM_TAG_LEN : 0);
	r = crypto_b64_decode(ct_b64, strlen(ct_b64), &ct, err);
	if (r < 0) {
		err_prefix(err, "AES-GCM ciphertext");
		goto out;
	}
	r = crypto_aesgcm_decrypt(key, key_len, nonce, strlen(nonce), aad, strlen(aad), ct.data,
	                          ct.len, out, err);
out:
	buf_release(&ct);
	return r;
}

int crypto_aesgcm_encrypt(const void *key, size_t key_len, const void *nonce, size_t nonce_len,
                          const void *aad, size_t aad_len, const void *pt, size_t pt_len,
                          struct buf *out, struct wxr_err *err)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *ct = NULL;
	int len = 0;
	int total = 0;
	int r;

	r = gcm_check(key_len, nonce_len, aad_len, pt_len, err);
	if (r < 0)
		return r;
	ct = xmalloc(pt_len + CRYPTO_GCM_TAG_LEN + 16);
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx) {
		r = ossl_fail(err, WXR_EFAIL, "EVP_CIPHER_CTX_new");
		goto out;
	}
	if (EVP_EncryptInit_ex(ctx, gcm_cipher(key_len), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)nonce_len, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1) {
		r = ossl_fail(err, WXR_EFAIL, "cannot start AES-GCM");
		goto out;
	}
	if ((aad_len && EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aad_len) != 1) ||
	    (pt_len && EVP_EncryptUpdate(ctx, ct, &len, pt, (int)pt_len) != 1)) {
		r = ossl_fail(err, WXR_EFAIL, "AES-GCM encrypt");
		goto out;
	}
	total = pt_len ? len : 0;
	if (EVP_EncryptFinal_ex(ctx, ct + total, &len) != 1) {
		r = ossl_fail(err, WXR_EFAIL, "AES-GCM encrypt");
		goto out;
	}
	total += len;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_GCM_TAG_LEN, ct + total) != 1) {
		r = ossl_fail(err, WXR_EFAIL, "AES-GCM tag");
		goto out;
	}
	total += CRYPTO_GCM_TAG_LEN;
	if (buf_add(out, ct, (size_t)total) < 0)
		r = err_set(err, WXR_ETOOBIG, "ciphertext larger than %zu bytes", out->max);
out:
	free(ct);
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

/* ---- RSA-OAEP ---- */

static int oaep_setup(EVP_PKEY_CTX *pctx)
{
	return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
	       EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha1()) > 0 &&
	       EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha1()) > 0;
}

int crypto_oaep_encrypt(const struct crypto_key *pub, const void *pt, size_t n, char **out_b64,
                        struct wxr_err *err)
{
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *ct = NULL;
	size_t ct_len = 0;
	int r = 0;

	pctx = EVP_PKEY_CTX_new(pub->pkey, NULL);
	if (!pctx)
		return ossl_fail(err, WXR_EFAIL, "EVP_PKEY_CTX_new");
	if (EVP_PKEY_encrypt_init(pctx) != 1 || !oaep_setup(pctx) ||
	    EVP_PKEY_encrypt(pctx, NULL, &ct_len, pt, n) != 1) {
		r = ossl_fail(err, WXR_EFAIL, "cannot start RSA-OAEP encryption");
		goto out;
	}
	ct = xmalloc(ct_len);
	if (EVP_PKEY_encrypt(pctx, ct, &ct_len, pt, n) != 1) {
		r = ossl_fail(err, WXR_EDATA, "RSA-OAEP encryption failed (input too long?)");
		goto out;
	}
	*out_b64 = crypto_b64_encode(ct, ct_len);
out:
	free(ct);
	EVP_PKEY_CTX_free(pctx);
	return r;
}

int crypto_oaep_decrypt(const struct crypto_key *priv, const char *ct_b64, struct buf *out,
                        struct wxr_err *err)
{
	EVP_PKEY_CTX *pctx = NULL;
	struct buf ct;
	unsigned char *pt = NULL;
	size_t pt_len = 0;
	int r;

	buf_init_max(&ct, RSA_SIG_MAX);
	r = crypto_b64_decode(ct_b64, strlen(ct_b64), &ct, err);
	if (r < 0) {
		err_prefix(err, "RSA-OAEP ciphertext");
		goto out;
	}
	pctx = EVP_PKEY_CTX_new(priv->pkey, NULL);
	if (!pctx) {
		r = ossl_fail(err, WXR_EFAIL, "EVP_PKEY_CTX_new");
		goto out;
	}
	if (EVP_PKEY_decrypt_init(pctx) != 1 || !oaep_setup(pctx) ||
	    EVP_PKEY_decrypt(pctx, NULL, &pt_len, (const unsigned char *)ct.data, ct.len) != 1) {
		r = ossl_fail(err, WXR_EFAIL, "cannot start RSA-OAEP decryption");
		goto out;
	}
	pt = xmalloc(pt_len + 1);
	if (EVP_PKEY_decrypt(pctx, pt, &pt_len, (const unsigned char *)ct.data, ct.len) != 1) {
		ERR_clear_error();
		r = err_set(err, WXR_ESIG, "RSA-OAEP decryption failed");
		goto out;
	}
	if (buf_add(out, pt, pt_len) < 0)
		r = err_set(err, WXR_ETOOBIG, "decrypted data larger than %zu bytes", out->max);
out:
	if (pt)
		crypto_wipe(pt, pt_len);
	free(pt);
	EVP_PKEY_CTX_free(pctx);
	buf_release(&ct);
	return r;
}

/* ---- randomness ---- */

int crypto_random(void *p, size_t n, struct wxr_err *err)
{
	if (n > INT_MAX)
		return err_set(err, WXR_EFAIL, "too many random bytes asked for");
	if (RAND_bytes(p, (int)n) != 1)
		return ossl_fail(err, WXR_EFAIL, "no randomness");
	return 0;
}

int crypto_nonce(char out[CRYPTO_NONCE_LEN + 1], struct wxr_err *err)
{
	static const char chars[] =
	        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	unsigned char rnd[64];
	size_t have = 0;
	int r;

	while (have < CRYPTO_NONCE_LEN) {
		r = crypto_random(rnd, sizeof(rnd), err);
		if (r < 0)
			return r;
		/* Rejection sampling: 248 = 4 * 62 keeps every character equally likely. */
		for (size_t i = 0; i < sizeof(rnd) && have < CRYPTO_NONCE_LEN; i++)
			if (rnd[i] < 248)
				out[have++] = chars[rnd[i] % 62];
	}
	out[CRYPTO_NONCE_LEN] = '\0';
	return 0;
}

void crypto_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}
