/*
 * t-crypto.c - src/wx/crypto.c against the published WeChat Pay SDK vectors
 * (fixtures/vectors/, see its README and /work/shared/ref/VECTORS.md).
 */
#include "base/hex.h"
#include "tap.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "wx/crypto.h"

static char vec_dir[4096];

/* fixtures/vectors, found from the working directory or from argv[0] (build/tests/unit/x.t). */
static void find_vectors(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');
	FILE *f;

	snprintf(vec_dir, sizeof(vec_dir), "fixtures/vectors");
	f = fopen("fixtures/vectors/README.md", "r");
	if (f) {
		fclose(f);
		return;
	}
	if (slash)
		snprintf(vec_dir, sizeof(vec_dir), "%.*s/../../../fixtures/vectors",
		         (int)(slash - argv0), argv0);
}

/* Reads fixtures/vectors/<name>; returns a new NUL-terminated buffer, aborts the test if missing.
 */
static char *vec_read(const char *name, size_t *out_len)
{
	char path[8192];

	snprintf(path, sizeof(path), "%s/%s", vec_dir, name);
	return t_slurp(path, out_len);
}

static char *vec_path(const char *name)
{
	return xasprintf("%s/%s", vec_dir, name);
}

static struct crypto_key *load_priv(const char *name)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct crypto_key *k = NULL;
	char *path = vec_path(name);

	if (crypto_key_private_load(path, &k, &err) < 0)
		diag("load %s: %s", name, err.msg);
	free(path);
	return k;
}

static struct crypto_key *load_pub(const char *name, struct crypto_cert_info *info)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct crypto_key *k = NULL;
	char *path = vec_path(name);

	if (crypto_key_public_load(path, &k, info, &err) < 0)
		diag("load %s: %s", name, err.msg);
	free(path);
	return k;
}

static void test_digests(void)
{
	unsigned char d1[CRYPTO_SHA1_LEN], d2[CRYPTO_SHA256_LEN], d3[CRYPTO_SHA1_LEN];
	char hex[2 * CRYPTO_SHA256_LEN + 1];
	struct crypto_sha1 *c;

	/* V7 */
	crypto_sha1("message", 7, d1);
	hex_encode(d1, sizeof(d1), hex);
	is_str(hex, "6f9b9af3cd6e8b8a73c2cdced37fe9f59226e27d", "V7 sha1('message')");
	crypto_sha256("message", 7, d2);
	hex_encode(d2, sizeof(d2), hex);
	is_str(hex, "ab530a13e45914982b79f9b7e3fba994cfd1f3fb22f71cea1afbf02b460c6d1d",
	       "V7 sha256('message')");

	c = crypto_sha1_new();
	crypto_sha1_update(c, "mes", 3);
	crypto_sha1_update(c, "", 0);
	crypto_sha1_update(c, "sage", 4);
	crypto_sha1_final(c, d3);
	crypto_sha1_free(c);
	ok(memcmp(d1, d3, sizeof(d1)) == 0, "streaming sha1 in pieces equals one-shot");
	crypto_sha1_free(NULL);
}

static void test_base64(void)
{
	static const struct {
		const char *in;
		const char *why;
	} bad[] = {
		{ "WECHATPAY/SIGNTEST/", "signature probe prefix (length 19)" },
		{ "WECHATPAY/SIGNTEST/ABCDEFGHIJKLMNOPQRSTUVWXYZ==", "probe with padding" },
		{ "invalid cipher", "space and odd length" },
		{ "abc", "length not a multiple of 4" },
		{ "ab=c", "padding in the middle" },
		{ "a===", "three padding chars" },
		{ "ab\ncd==", "line break" },
		{ "YQ==YQ==", "padding before the end" },
		{ "YR==", "non-zero unused bits" },
		{ "YWI*", "character outside the alphabet" },
		{ "YWI-", "url-safe alphabet" },
	};
	struct wxr_err err = WXR_ERR_INIT;
	struct buf b = BUF_INIT;
	struct buf capped;
	unsigned char all[256];
	char *s;

	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	for (size_t n = 0; n <= 7; n++) {
		char name[64];

		s = crypto_b64_encode("foobarx", n);
		buf_reset(&b);
		snprintf(name, sizeof(name), "round trip of %zu bytes", n);
		ok(crypto_b64_decode(s, strlen(s), &b, &err) == 0 && b.len == n &&
		           memcmp(b.data ? b.data : "", "foobarx", n) == 0,
		   name);
		free(s);
	}
	s = crypto_b64_encode("foobar", 6);
	is_str(s, "Zm9vYmFy", "RFC 4648 'foobar'");
	free(s);
	s = crypto_b64_encode("fo", 2);
	is_str(s, "Zm8=", "RFC 4648 'fo'");
	free(s);
	s = crypto_b64_encode(all, sizeof(all));
	buf_reset(&b);
	ok(crypto_b64_decode(s, strlen(s), &b, &err) == 0 && b.len == 256 &&
	           memcmp(b.data, all, 256) == 0,
	   "all 256 byte values round-trip");
	free(s);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char name[128];
		int r;

		buf_reset(&b);
		buf_adds(&b, "keep");
		r = crypto_b64_decode(bad[i].in, strlen(bad[i].in), &b, &err);
		snprintf(name, sizeof(name), "rejects %s", bad[i].why);
		ok(r == WXR_EDATA && b.len == 4 && strcmp(b.data, "keep") == 0, name);
	}
	ok(strstr(err.msg, "bad base64") != NULL, "error message says bad base64");

	buf_init_max(&capped, 2);
	ok(crypto_b64_decode("Zm9vYmFy", 8, &capped, &err) == WXR_ETOOBIG,
	   "decode honours the cap");
	buf_release(&capped);
	buf_release(&b);
}

static void test_keys(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct crypto_cert_info info;
	struct crypto_key *k = NULL;
	struct crypto_key *k2 = NULL;
	char *pem;
	size_t len;

	/* V2: Java PEMs without a final newline. */
	k = load_priv("java/merchant_private_key.pem");
	ok(k != NULL, "V2 PKCS#8 key without trailing newline loads");
	crypto_key_free(k);
	k = load_pub("java/merchant_certificate.pem", &info);
	ok(k != NULL, "V2 certificate without trailing newline loads");
	is_str(info.serial, "5F1C72E2A8931B72A2E13AF8DEE92471EB397115", "V2 merchant cert serial");
	is_int(info.not_before, 1652147830, "V2 notBefore 2022-05-10T01:57:10Z");
	is_int(info.not_after, 1746755830, "V2 notAfter 2025-05-09T01:57:10Z");
	crypto_key_free(k);
	k = load_pub("java/wechat_pay_certificate.pem", &info);
	is_str(info.serial, "440024045C4A427599D09BB4E3DE0279F2E813FD", "V2 platform cert serial");
	k2 = load_pub("java/wechat_pay_public_key.pem", &info);
	ok(k2 != NULL, "V2 SPKI public key loads");
	is_str(info.serial, "", "a bare public key has no serial");
	ok(crypto_key_same_public(k, k2), "V2 platform cert and public key are one key");
	crypto_key_free(k);
	crypto_key_free(k2);

	/* V14: serial keeps its leading zero, upper case. */
	pem = vec_read("go/cert_0C4AEF34B89340881BB2B25226393DC2E47F094B.pem", &len);
	ok(crypto_cert_info(pem, len, &info, &err) == 0, "V14 certificate parses");
	is_str(info.serial, "0C4AEF34B89340881BB2B25226393DC2E47F094B",
	       "V14 serial keeps leading 0");
	is_int(info.not_after - info.not_before > 0, 1, "V14 validity period");
	free(pem);
	k = load_pub("go/cert_D7CE59D1F522D701.pem", &info);
	is_str(info.serial, "D7CE59D1F522D701", "short (8-byte) serial");
	is_int(info.not_before, 1619513723, "notBefore 2021-04-27T08:55:23Z");
	is_int(info.not_after, 1934873723, "notAfter 2031-04-25T08:55:23Z");
	crypto_key_free(k);

	/* Bad input. */
	ok(crypto_key_private_from_pem("nope", 4, &k, &err) == WXR_EDATA, "garbage is not a key");
	ok(strstr(err.msg, "private key") != NULL, "error names what it read");
	pem = vec_read("java/merchant_certificate.pem", &len);
	ok(crypto_key_private_from_pem(pem, len, &k, &err) == WXR_EDATA,
	   "a certificate is not a private key");
	free(pem);
	pem = vec_read("java/merchant_private_key.pem", &len);
	ok(crypto_cert_info(pem, len, &info, &err) == WXR_EDATA, "a key is not a certificate");
	ok(crypto_key_public_from_pem(pem, len, &k, NULL, &err) == WXR_EDATA,
	   "a private key PEM is not a public key PEM");
	ok(strstr(err.msg, "MII") == NULL, "error text carries no key material");
	free(pem);
	ok(crypto_key_private_load("/nonexistent/key.pem", &k, &err) == WXR_EIO,
	   "missing file is an I/O error");
	ok(strstr(err.msg, "/nonexistent/key.pem") != NULL, "error names the file");
}

/* V1, V9: PKCS#1 v1.5 signing is deterministic: byte-for-byte equal. */
static void test_sign_verify(void)
{
	static const char v1[] = "Rq+5ZpWV6IHTWE1+9gCrYJKguNgbItpMdlIA+"
	                         "PVCPCdUAKNlohZz7CL7Y8xWDIFJjdGnErMj6Z+Q/h9CF5MV"
	                         "+nAVkqDmBR0uP5ppsUEzco4ijvKHsvI2ro4boSW6vSfQs3W8I4QSI9a0/"
	                         "NFIgvj83Fv27LIYZf7deaFWmEwd"
	                         "1fpAeJRCyoKyBeJPdsjVx0//"
	                         "Lqe6Wze2zVdliLcBvaHCfpd8+rAVGS+FQDeWgHqJ7n/Zy09LmV1/ghs7pO1m"
	                         "djdD16SHKlysAD3K5hNGUJX/SHrEXEcu1yO1AOb/"
	                         "YvOVkjNh8243rcfXNE5L4ph2XS11vS+2aToKYSOcKUag"
	                         "f0LLaw==";
	static const char v9[] = "BKyAfU4iMCuvXMXS0Wzam3V/"
	                         "cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4"
	                         "hAm6pHU4ld815U4jsKu1RkyaII+"
	                         "1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLw"
	                         "vpUHlCqIMzoZUguLli/"
	                         "K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FE"
	                         "A70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj1aJGH6/"
	                         "L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+"
	                         "8m1rLg==";
	struct wxr_err err = WXR_ERR_INIT;
	struct crypto_key *jpriv = load_priv("java/merchant_private_key.pem");
	struct crypto_key *jcert = load_pub("java/merchant_certificate.pem", NULL);
	struct crypto_key *wxpub = load_pub("java/wechat_pay_public_key.pem", NULL);
	struct crypto_key *gpriv = load_priv("go/test_private_key.pem");
	struct crypto_key *gpub = load_pub("go/test_public_key.pem", NULL);
	struct crypto_key *gcert = load_pub("go/cert_F5765756002FDD77.pem", NULL);
	char *sig = NULL;

	ok(crypto_sign_sha256(jpriv, "message", 7, &sig, &err) == 0, "V1 sign");
	is_str(sig, v1, "V1 signature byte for byte");
	is_int(strlen(sig), 344, "RSA-2048 signature is 344 base64 chars");
	free(sig);
	is_int(crypto_verify_sha256(jcert, "message", 7, v1, &err), 0, "V1 verifies with the cert");
	is_int(crypto_verify_sha256(wxpub, "message", 7, v1, &err), WXR_ESIG,
	       "V1 does not verify under another key");
	is_int(crypto_verify_sha256(jcert, "messagE", 7, v1, &err), WXR_ESIG,
	       "V1 does not verify over another message");

	ok(crypto_sign_sha256(gpriv, "source", 6, &sig, &err) == 0, "V9 sign");
	is_str(sig, v9, "V9 signature byte for byte");
	free(sig);
	is_int(crypto_verify_sha256(gpub, "source", 6, v9, &err), 0, "V9 verifies with SPKI key");
	is_int(crypto_verify_sha256(gcert, "source", 6, v9, &err), 0, "V9 verifies with the cert");
	is_int(crypto_verify_sha256(gpub, "wrong source", 12, v9, &err), WXR_ESIG,
	       "V9 'wrong source' fails");
	is_str(err.msg, "signature does not match", "mismatch message");
	is_int(crypto_verify_sha256(gpub, "", 0, v9, &err), WXR_ESIG, "V9 empty message fails");
	is_int(crypto_verify_sha256(gpub, "source", 6, "", &err), WXR_ESIG,
	       "empty signature fails");
	is_int(crypto_verify_sha256(gpub, "source", 6, "WECHATPAY/SIGNTEST/", &err), WXR_ESIG,
	       "probe signature fails cleanly");
	ok(strstr(err.msg, "base64") != NULL, "probe failure says base64");
	is_int(crypto_verify_sha256(gpub, "source", 6, "!!!!", &err), WXR_ESIG,
	       "non-base64 signature fails");
	is_int(crypto_verify_sha256(gpub, "source", 6, "AAAA", &err), WXR_ESIG,
	       "short signature fails");
	ok(crypto_sign_sha256(gpub, "source", 6, &sig, &err) < 0, "a public key cannot sign");

	crypto_key_free(jpriv);
	crypto_key_free(jcert);
	crypto_key_free(wxpub);
	crypto_key_free(gpriv);
	crypto_key_free(gpub);
	crypto_key_free(gcert);
}

static void test_aesgcm(void)
{
	static const char k32[] = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
	static const char k16[] = "testAPIv3Key0000";
	struct wxr_err err = WXR_ERR_INIT;
	struct buf out = BUF_INIT;
	struct buf ct = BUF_INIT;
	unsigned char zeros[128];
	char *s;

	/* V3: AES-256-GCM */
	ok(crypto_aesgcm_decrypt_b64(k32, 32, "uluk4a9R25RW", "associatedData",
	                             "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=", &out, &err) == 0,
	   "V3 decrypts");
	is_str(buf_str(&out), "message", "V3 plaintext");
	ok(crypto_aesgcm_encrypt(k32, 32, "uluk4a9R25RW", 12, "associatedData", 14, "message", 7,
	                         &ct, &err) == 0,
	   "V3 encrypts");
	s = crypto_b64_encode(ct.data, ct.len);
	is_str(s, "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=", "V3 ciphertext byte for byte");
	free(s);
	buf_reset(&out);
	is_int(crypto_aesgcm_decrypt_b64(k32, 32, "uluk4a9R25RW", "bad-associatedData",
	                                 "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=", &out, &err),
	       WXR_ESIG, "V3 wrong AAD fails");
	ok(strstr(err.msg, "authentication failed") != NULL, "tag failure message");
	is_int(out.len, 0, "nothing is output on failure");
	is_int(crypto_aesgcm_decrypt_b64(k32, 32, "bad-4a9R25RW", "associatedData",
	                                 "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=", &out, &err),
	       WXR_ESIG, "V3 wrong nonce fails");
	memset(zeros, 0, sizeof(zeros));
	is_int(crypto_aesgcm_decrypt(k32, 32, "uluk4a9R25RW", 12, "associatedData", 14, zeros,
	                             sizeof(zeros), &out, &err),
	       WXR_ESIG, "V3 128 zero bytes fail");
	is_int(crypto_aesgcm_decrypt(k32, 32, "uluk4a9R25RW", 12, "", 0, zeros, 15, &out, &err),
	       WXR_ESIG, "data shorter than the tag fails authentication");

	/* V10: 16-byte key -> AES-128-GCM */
	buf_reset(&out);
	ok(crypto_aesgcm_decrypt_b64(k16, 16, "wCq51qZv4Yfg", "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8",
	                             "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC", &out, &err) == 0,
	   "V10 decrypts with AES-128");
	is_str(buf_str(&out), "Hello World", "V10 plaintext");
	is_int(crypto_aesgcm_decrypt_b64("testAPIv3Key1111", 16, "wCq51qZv4Yfg",
	                                 "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8",
	                                 "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC", &out, &err),
	       WXR_ESIG, "V10 wrong key fails");
	is_int(crypto_aesgcm_decrypt_b64("not a aes key", 13, "wCq51qZv4Yfg", "x",
	                                 "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC", &out, &err),
	       WXR_EDATA, "V10 13-byte key is an invalid key size");
	ok(strstr(err.msg, "16, 24 or 32") != NULL, "key size message");
	is_int(crypto_aesgcm_decrypt_b64(k16, 16, "wCq51qZv4Yfg", "x", "invalid cipher", &out,
	                                 &err),
	       WXR_EDATA, "V10 'invalid cipher' is a base64 error");
	ok(strstr(err.msg, "base64") != NULL, "base64 error message");
	is_int(crypto_aesgcm_decrypt_b64(k16, 16, "wCq51qZv4Yfg",
	                                 "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8", "SGVsbG8gV29ybGQK",
	                                 &out, &err),
	       WXR_ESIG, "V10 'SGVsbG8gV29ybGQK' fails authentication");
	is_int(crypto_aesgcm_decrypt(k16, 16, "", 0, "", 0, zeros, 32, &out, &err), WXR_EDATA,
	       "empty nonce refused");

	/* Empty plaintext and empty AAD round trip. */
	buf_reset(&ct);
	buf_reset(&out);
	ok(crypto_aesgcm_encrypt(k32, 32, "000000000000", 12, "", 0, "", 0, &ct, &err) == 0 &&
	           ct.len == CRYPTO_GCM_TAG_LEN,
	   "empty plaintext encrypts to just a tag");
	ok(crypto_aesgcm_decrypt(k32, 32, "000000000000", 12, "", 0, ct.data, ct.len, &out, &err) ==
	                   0 &&
	           out.len == 0,
	   "and decrypts to nothing");

	buf_release(&out);
	buf_release(&ct);
}

/* V4: the certificate download response decrypts to the published PEM. */
static void test_certdownload(void)
{
	static const char k32[] = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
	struct wxr_err err = WXR_ERR_INIT;
	struct buf out = BUF_INIT;
	struct crypto_cert_info info;
	char *json, *want, *ct, *p, *q;
	size_t len, want_len;

	json = vec_read("certdownload/java_download_certificate_response.json", &len);
	want = vec_read(
	        "certdownload/decrypted_certificate_5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC.pem",
	        &want_len);
	/* Pull the ciphertext out without a JSON parser (the wxpay tests use jansson). */
	p = strstr(json, "\"ciphertext\": \"");
	ok(p != NULL, "V4 fixture has a ciphertext");
	if (!p)
		goto out;
	p += strlen("\"ciphertext\": \"");
	q = strchr(p, '"');
	ct = xstrndup(p, (size_t)(q - p));
	ok(crypto_aesgcm_decrypt_b64(k32, 32, "14b16c03dc1b", "certificate", ct, &out, &err) == 0,
	   "V4 decrypts");
	ok(out.len == want_len && memcmp(out.data, want, want_len) == 0,
	   "V4 plaintext equals the published PEM byte for byte");
	ok(crypto_cert_info(out.data, out.len, &info, &err) == 0, "V4 plaintext is a certificate");
	is_str(info.serial, "5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC",
	       "V4 serial matches serial_no");
	free(ct);
out:
	buf_release(&out);
	free(json);
	free(want);
}

/* V5, V6, V15: OAEP decrypt of the Java vector, round trips with the Go key pair. */
static void test_oaep(void)
{
	static const char v5[] =
	        "Qqsluo7R1IZyAqdkm/"
	        "jBzwXDP5VndCwwFbRA+yILFTYciZzrRChQIQ7SKuI2k3YSR5auB3ZspdjR1WPB3PTC"
	        "Ke6BCFx3NnaPWhSwonYTmW8ZseXjkbcYSbKL5O/"
	        "6dr6Zftg3t2A2FUd97acjM1fr2EIvIvRieQ3Hl8qVkDBY"
	        "9520wm1rzvePUnxQWN70RZiBcqr7O7Gb0gU3l7FkvoUFSbY44HgDJetmVow3yGIV3Tcd45o2MNQ+"
	        "5F1qvjIj"
	        "b3/6dkGKce4/kNTYraUMO6o6kfFXlfg+bFRIiz8hiUpbToWdu7g0R5Hq0/YIE5vw/"
	        "5Ms4gbk2HIQIfOLkY8s"
	        "EPjYHA==";
	static const char v6[] =
	        "ckMdMJormpuX4nBmmhiDJqFBqPsrFIi6uLQEY5s8+Dbr91q2kC29yfghp97zG/BCo6KBGp+Blh+lIPg4/"
	        "WQu"
	        "QiCxJ5ZkwWvxtVd1TO7UkZVpgrW9cxDGZP28Rn5pbSMqeGA4rKMROJDblb+KBSCu/"
	        "Nkvejo3yxoFDasf8ehW"
	        "7rrXR21eQq1SgbvO/"
	        "uUR+c81I3fUr5gO+gKgV9aKn8kTgqIRTprZkUE5CE6hvk3ybqAP7gRXAJsMGpHeoxr2"
	        "uuYDBOhCeXPpRG/"
	        "6ypkLd52bYOWXFHdd68GWWhN3OGXpdPUwaaJafEW4vnYTMhkacyicxVH3AtWLcsOKJoyl"
	        "IxjFHQ==";
	struct wxr_err err = WXR_ERR_INIT;
	struct buf out = BUF_INIT;
	struct crypto_key *jpriv = load_priv("java/merchant_private_key.pem");
	struct crypto_key *gpriv = load_priv("go/test_private_key.pem");
	struct crypto_key *gpub = load_pub("go/test_public_key.pem", NULL);
	struct crypto_key *gcert = load_pub("go/cert_D7CE59D1F522D701.pem", NULL);
	char *c1 = NULL, *c2 = NULL;
	char big[300];

	ok(crypto_oaep_decrypt(jpriv, v5, &out, &err) == 0, "V5 OAEP ciphertext decrypts");
	is_str(buf_str(&out), "plaintext", "V5 plaintext");
	buf_reset(&out);
	is_int(crypto_oaep_decrypt(jpriv, "MTIzNA==", &out, &err), WXR_ESIG, "V5 'MTIzNA==' fails");
	is_int(crypto_oaep_decrypt(jpriv, v6, &out, &err), WXR_ESIG,
	       "V6 PKCS#1 v1.5 ciphertext is not accepted as OAEP");

	ok(crypto_oaep_encrypt(gpub, "hello world", 11, &c1, &err) == 0, "V15 encrypt (SPKI)");
	ok(crypto_oaep_encrypt(gcert, "hello world", 11, &c2, &err) == 0, "V15 encrypt (cert)");
	ok(c1 && c2 && strcmp(c1, c2) != 0, "OAEP is randomised");
	ok(c1 && strlen(c1) == 344, "RSA-2048 OAEP ciphertext is 344 base64 chars");
	buf_reset(&out);
	ok(c1 && crypto_oaep_decrypt(gpriv, c1, &out, &err) == 0 &&
	           strcmp(buf_str(&out), "hello world") == 0,
	   "V15 round trip (SPKI)");
	buf_reset(&out);
	ok(c2 && crypto_oaep_decrypt(gpriv, c2, &out, &err) == 0 &&
	           strcmp(buf_str(&out), "hello world") == 0,
	   "V15 round trip (cert)");
	is_int(crypto_oaep_decrypt(jpriv, c1, &out, &err), WXR_ESIG, "wrong private key fails");
	free(c1);
	free(c2);
	c1 = NULL;
	memset(big, 'x', sizeof(big));
	ok(crypto_oaep_encrypt(gpub, big, sizeof(big), &c1, &err) < 0 && c1 == NULL,
	   "plaintext longer than OAEP allows is refused");

	buf_release(&out);
	crypto_key_free(jpriv);
	crypto_key_free(gpriv);
	crypto_key_free(gpub);
	crypto_key_free(gcert);
}

static void test_nonce(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	char a[CRYPTO_NONCE_LEN + 1], b[CRYPTO_NONCE_LEN + 1];
	int good = 1;
	int seen[256] = { 0 };

	ok(crypto_nonce(a, &err) == 0 && crypto_nonce(b, &err) == 0, "nonces generated");
	is_int(strlen(a), 32, "nonce has 32 characters");
	ok(strcmp(a, b) != 0, "two nonces differ");
	for (int i = 0; i < 200; i++) {
		crypto_nonce(a, &err);
		for (int j = 0; j < 32; j++) {
			unsigned char c = (unsigned char)a[j];

			seen[c] = 1;
			if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
			      (c >= 'a' && c <= 'z')))
				good = 0;
		}
	}
	ok(good, "nonce characters are [0-9A-Za-z]");
	ok(seen['0'] && seen['9'] && seen['A'] && seen['Z'] && seen['a'] && seen['z'],
	   "the whole alphabet is used");
	crypto_wipe(NULL, 5);
	crypto_wipe(a, sizeof(a));
	ok(a[0] == 0 && a[31] == 0, "wipe zeroes");
}

int main(int argc, char **argv)
{
	(void)argc;
	find_vectors(argv[0]);
	test_digests();
	test_base64();
	test_keys();
	test_sign_verify();
	test_aesgcm();
	test_certdownload();
	test_oaep();
	test_nonce();
	return done_testing();
}
