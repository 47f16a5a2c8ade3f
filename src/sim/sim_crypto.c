/*
 * sim_crypto.c - the simulator's own crypto on OpenSSL EVP: key loading,
 * SHA256withRSA, AES-256-GCM, RSA-OAEP(SHA-1). Deliberately independent of
 * src/crypto.c so that one implementation checks the other.
 */
#include "base/hex.h"
#include "sim/sim.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/xalloc.h"

static int ossl_err(struct wxr_err *err, int code, const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_clear_error();
	if (!e)
		return err_set(err, code, "%s", what);
	ERR_error_string_n(e, buf, sizeof(buf));
	return err_set(err, code, "%s: %s", what, buf);
}

static char *key_path(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static int read_text(const char *dir, const char *name, char *out, size_t n, struct wxr_err *err)
{
	char *path = key_path(dir, name);
	char *raw = sim_read_file(path, 4096, NULL);
	char *s = NULL;
	int r = 0;

	if (!raw) {
		r = err_set(err, WXR_ECONFIG, "cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	s = sim_strip(raw);
	if (!*s || strlen(s) >= n) {
		r = err_set(err, WXR_ECONFIG, "'%s': empty or too long", path);
		goto out;
	}
	memcpy(out, s, strlen(s) + 1);
out:
	free(raw);
	free(s);
	free(path);
	return r;
}

static int64_t asn1_time_ts(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return sim_days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) * 86400 +
	       tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

static X509 *load_cert(const char *path, struct wxr_err *err)
{
	FILE *fp = fopen(path, "r");
	X509 *x;

	if (!fp) {
		err_set(err, WXR_ECONFIG, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (!x)
		ossl_err(err, WXR_ECONFIG, "bad certificate");
	return x;
}

static char *cert_serial_hex(X509 *x)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	char *out = hex ? xstrdup(hex) : NULL;

	OPENSSL_free(hex);
	BN_free(bn);
	return out;
}

int sim_keys_load(struct sim_keys *k, const char *dir, struct wxr_err *err)
{
	char *path = NULL;
	char *serial = NULL;
	char *apiv3 = NULL;
	char *stripped = NULL;
	X509 *mcert = NULL;
	X509 *wcert = NULL;
	EVP_PKEY *pub = NULL;
	FILE *fp = NULL;
	int r = 0;

	memset(k, 0, sizeof(*k));

	path = key_path(dir, "apiclient_cert.pem");
	mcert = load_cert(path, err);
	if (!mcert) {
		r = err_prefix(err, "'%s'", path);
		goto out;
	}
	r = read_text(dir, "merchant_serial.txt", k->merchant_serial, sizeof(k->merchant_serial),
	              err);
	if (r < 0)
		goto out;
	serial = cert_serial_hex(mcert);
	if (!serial || strcasecmp(serial, k->merchant_serial) != 0) {
		r = err_set(err, WXR_ECONFIG,
		            "'%s': serial '%s' does not match merchant_serial.txt '%s'", path,
		            serial ? serial : "?", k->merchant_serial);
		goto out;
	}
	k->merchant_pub = X509_get_pubkey(mcert);
	if (!k->merchant_pub) {
		r = ossl_err(err, WXR_ECONFIG, "merchant certificate has no usable public key");
		goto out;
	}

	free(path);
	path = key_path(dir, "wechatpay_key.pem");
	fp = fopen(path, "r");
	if (!fp) {
		r = err_set(err, WXR_ECONFIG, "cannot open '%s': %s", path, strerror(errno));
		goto out;
	}
	k->wechat_key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	fp = NULL;
	if (!k->wechat_key) {
		r = ossl_err(err, WXR_ECONFIG, "bad private key");
		r = err_prefix(err, "'%s'", path);
		goto out;
	}

	free(path);
	path = key_path(dir, "pub_key.pem");
	fp = fopen(path, "r");
	if (fp) {
		pub = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
		fclose(fp);
		fp = NULL;
		if (!pub || EVP_PKEY_eq(pub, k->wechat_key) != 1) {
			r = err_set(err, WXR_ECONFIG,
			            "'%s' is not the public half of wechatpay_key.pem", path);
			goto out;
		}
	}
	r = read_text(dir, "pub_key_id.txt", k->pub_key_id, sizeof(k->pub_key_id), err);
	if (r < 0)
		goto out;
	r = read_text(dir, "wechatpay_cert_serial.txt", k->cert_serial, sizeof(k->cert_serial),
	              err);
	if (r < 0)
		goto out;

	free(path);
	path = key_path(dir, "wechatpay_cert.pem");
	k->cert_pem = sim_read_file(path, 65536, NULL);
	if (!k->cert_pem) {
		r = err_set(err, WXR_ECONFIG, "cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	wcert = load_cert(path, err);
	if (!wcert) {
		r = err_prefix(err, "'%s'", path);
		goto out;
	}
	k->cert_not_before = asn1_time_ts(X509_get0_notBefore(wcert));
	k->cert_not_after = asn1_time_ts(X509_get0_notAfter(wcert));

	free(path);
	path = key_path(dir, "apiv3.key");
	apiv3 = sim_read_file(path, 4096, NULL);
	if (!apiv3) {
		r = err_set(err, WXR_ECONFIG, "cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	stripped = sim_strip(apiv3);
	if (strlen(stripped) != 32) {
		r = err_set(err, WXR_ECONFIG, "'%s': the APIv3 key must be 32 bytes", path);
		goto out;
	}
	memcpy(k->apiv3, stripped, 32);
out:
	if (apiv3)
		OPENSSL_cleanse(apiv3, strlen(apiv3));
	if (stripped)
		OPENSSL_cleanse(stripped, strlen(stripped));
	free(apiv3);
	free(stripped);
	EVP_PKEY_free(pub);
	X509_free(mcert);
	X509_free(wcert);
	free(serial);
	free(path);
	if (r < 0)
		sim_keys_release(k);
	return r;
}

void sim_keys_release(struct sim_keys *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->merchant_pub);
	EVP_PKEY_free(k->wechat_key);
	free(k->cert_pem);
	OPENSSL_cleanse(k->apiv3, sizeof(k->apiv3));
	memset(k, 0, sizeof(*k));
}

char *sim_sign(EVP_PKEY *key, const void *p, size_t n)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char sig[1024];
	size_t sig_len = sizeof(sig);
	char *out = NULL;

	if (!ctx)
		return NULL;
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, sig, &sig_len, p, n) != 1) {
		ERR_clear_error();
		goto out;
	}
	out = sim_b64_encode(sig, sig_len);
out:
	EVP_MD_CTX_free(ctx);
	return out;
}

int sim_verify(EVP_PKEY *key, const void *msg, size_t n, const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok = 0;

	if (!ctx)
		return 0;
	if (EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, key) != 1)
		goto out;
	if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		goto out;
	ok = EVP_DigestVerify(ctx, sig, sig_len, msg, n) == 1;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	return ok;
}

char *sim_aes_gcm_encrypt(const unsigned char key[32], const char *nonce12, const char *aad,
                          const void *pt, size_t n)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	unsigned char *ct = xmalloc(n + 16);
	char *out = NULL;
	int len = 0, fin = 0;

	if (!ctx)
		goto out;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)strlen(nonce12), NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, (const unsigned char *)nonce12) != 1)
		goto out;
	if (aad && *aad &&
	    EVP_EncryptUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) != 1)
		goto out;
	if (EVP_EncryptUpdate(ctx, ct, &len, pt, (int)n) != 1 ||
	    EVP_EncryptFinal_ex(ctx, ct + len, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, ct + len + fin) != 1)
		goto out;
	out = sim_b64_encode(ct, (size_t)(len + fin) + 16);
out:
	ERR_clear_error();
	EVP_CIPHER_CTX_free(ctx);
	free(ct);
	return out;
}

int sim_oaep_decrypt(EVP_PKEY *key, const char *b64, char **out, size_t *out_len)
{
	EVP_PKEY_CTX *ctx = NULL;
	unsigned char *ct = NULL;
	size_t ct_len = 0;
	unsigned char *pt = NULL;
	size_t pt_len = 0;
	int r = -1;

	if (sim_b64_decode(b64, strlen(b64), &ct, &ct_len) < 0)
		goto out;
	ctx = EVP_PKEY_CTX_new(key, NULL);
	if (!ctx || EVP_PKEY_decrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()) != 1)
		goto out;
	if (EVP_PKEY_decrypt(ctx, NULL, &pt_len, ct, ct_len) != 1)
		goto out;
	pt = xmalloc(pt_len + 1);
	if (EVP_PKEY_decrypt(ctx, pt, &pt_len, ct, ct_len) != 1) {
		OPENSSL_cleanse(pt, pt_len);
		free(pt);
		pt = NULL;
		goto out;
	}
	pt[pt_len] = '\0';
	*out = (char *)pt;
	*out_len = pt_len;
	r = 0;
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	free(ct);
	return r;
}

void sim_sha1_hex(const void *p, size_t n, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	EVP_Digest(p, n, md, &len, EVP_sha1(), NULL);
	hex_encode(md, len, out);
}
