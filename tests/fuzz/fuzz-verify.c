/*
 * fuzz-verify.c - response/notification verification and AES-GCM decryption
 * (wxpay_notify_parse, wxpay_verify, crypto_aesgcm_decrypt_b64) with fixed
 * test keys: the V11 notification of fixtures/vectors (platform certificate
 * D7CE59D1F522D701, the same key as WeChat Pay public key PUB_KEY_ID below,
 * APIv3 key "testMchAPIv3Key0") and a clock fixed at its timestamp.
 *
 * The first byte of the input picks the mode (the rest of the first line is
 * ignored); then come lines ("\n"), an empty header line meaning an absent
 * header (headers are C strings: a NUL ends one early):
 *
 *   N (and any other byte)  TS NONCE SIGNATURE SERIAL SIGNATURE-TYPE then the
 *        body (the rest, any bytes): wxpay_notify_parse() and wxpay_verify()
 *        as it checks responses. Oracle: it verifies ONLY when timestamp,
 *        nonce, signature and body are byte-identical to the V11 seed (the
 *        serial may name the same key in another accepted form, and the
 *        signature type may be absent or WECHATPAY2-SHA256-RSA2048); then the
 *        plaintext is V11's. Nothing the fuzzer makes may verify otherwise.
 *   S    TS NONCE SERIAL then the body: the body is signed here with the test
 *        key, so the JSON and decryption steps after the signature check are
 *        fuzzed too. Oracle: it succeeds only with V11's plaintext (the
 *        AES-GCM tag can't be forged).
 *   G    NONCE AAD then the base64 ciphertext: crypto_aesgcm_decrypt_b64 with
 *        the APIv3 key. Oracle: only V11's nonce, AAD and ciphertext decrypt.
 *
 * Every error must be one of the documented codes and leave the output
 * untouched.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "base/buf.h"
#include "fuzzutil.h"
#include "wx/crypto.h"
#include "wx/wxpay_int.h"
#include "wxpay.h"

#define V11_TS     1624523846
#define PUB_KEY_ID "PUB_KEY_ID_0114232134912410000000000000"
#define SCHEME     "WECHATPAY2-SHA256-RSA2048"
#define MAX_LINES  5

static struct wxpay *w;
static struct crypto_key *signer;
static char *v11_ts, *v11_nonce, *v11_sig, *v11_body, *v11_plain;
static size_t v11_body_len, v11_plain_len;
static char *v11_res_nonce, *v11_res_aad, *v11_res_ct;
static char apiv3[64];
static size_t apiv3_len;

static int64_t fixed_clock(void *ctx)
{
	(void)ctx;
	return V11_TS;
}

static char *jdup(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	FUZZ_ASSERT(s != NULL, "fixture lacks '%s'", key);
	return strdup(s);
}

static void setup(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_config cfg;
	size_t len;
	char *pem, *text, *key;
	json_t *h, *b;
	char pubkey_path[8400];

	text = fuzz_fixture_read("vectors/notification/go_notify_headers.json", &len);
	h = json_loadb(text, len, 0, NULL);
	FUZZ_ASSERT(h != NULL, "bad go_notify_headers.json");
	v11_ts = jdup(h, "Wechatpay-Timestamp");
	v11_nonce = jdup(h, "Wechatpay-Nonce");
	v11_sig = jdup(h, "Wechatpay-Signature");
	json_decref(h);
	free(text);
	v11_body = fuzz_fixture_read("vectors/notification/go_notify_body.json", &v11_body_len);
	b = json_loadb(v11_body, v11_body_len, 0, NULL);
	FUZZ_ASSERT(b != NULL, "bad go_notify_body.json");
	v11_res_nonce = jdup(json_object_get(b, "resource"), "nonce");
	v11_res_aad = jdup(json_object_get(b, "resource"), "associated_data");
	v11_res_ct = jdup(json_object_get(b, "resource"), "ciphertext");
	json_decref(b);
	v11_plain = fuzz_fixture_read("vectors/notification/go_notify_expected_plaintext.json",
	                              &v11_plain_len);
	key = fuzz_fixture_read("vectors/notification/apiv3_key.txt", &apiv3_len);
	FUZZ_ASSERT(apiv3_len <= sizeof(apiv3), "APIv3 key file too long");
	memcpy(apiv3, key, apiv3_len);
	free(key);

	pem = fuzz_fixture_read("vectors/go/test_private_key.pem", &len);
	FUZZ_ASSERT(crypto_key_private_from_pem(pem, len, &signer, &err) == 0, "%s", err.msg);
	snprintf(pubkey_path, sizeof(pubkey_path), "%s",
	         fuzz_fixture("vectors/go/test_public_key.pem"));
	memset(&cfg, 0, sizeof(cfg));
	cfg.mchid = "1900000001";
	cfg.serial_no = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
	cfg.private_key_pem = pem;
	cfg.private_key_pem_len = len;
	cfg.apiv3_key = apiv3;
	cfg.apiv3_key_len = apiv3_len;
	cfg.wechatpay_public_key_path = pubkey_path;
	cfg.wechatpay_public_key_id = PUB_KEY_ID;
	cfg.clock = fixed_clock;
	w = wxpay_new(&cfg, &err);
	FUZZ_ASSERT(w != NULL, "wxpay_new: %s", err.msg);
	free(pem);
	pem = fuzz_fixture_read("vectors/go/cert_D7CE59D1F522D701.pem", &len);
	FUZZ_ASSERT(wxpay_add_platform_cert(w, pem, len, &err) == 0, "%s", err.msg);
	free(pem);
}

/*
 * Splits the input after its first line (the mode line) into n NUL-terminated
 * lines (an empty one gives NULL) and the rest. False when there are fewer lines.
 */
static bool split(const uint8_t *data, size_t size, int n, char **lines, char **store,
                  const uint8_t **rest, size_t *rest_len)
{
	const uint8_t *p = memchr(data, '\n', size), *end = data + size;
	char *s;

	s = *store = malloc(size + 1);
	if (!s)
		abort();
	if (!p)
		return false;
	p++;
	for (int i = 0; i < n; i++) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len;

		if (!nl)
			return false;
		len = (size_t)(nl - p);
		memcpy(s, p, len);
		s[len] = '\0';
		lines[i] = len ? s : NULL;
		s += len + 1;
		p = nl + 1;
	}
	*rest = p;
	*rest_len = (size_t)(end - p);
	return true;
}

static bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* A serial the verifier may accept for the V11 key. */
static bool names_v11_key(const char *serial)
{
	const char *s = serial;

	if (streq(serial, PUB_KEY_ID))
		return true;
	while (s && *s == '0')
		s++;
	return s && strcasecmp(s, "D7CE59D1F522D701") == 0;
}

static void check_plaintext(const struct wxpay_notification *n, const char *what)
{
	FUZZ_ASSERT(n->plaintext && n->plaintext_len == v11_plain_len &&
	                    memcmp(n->plaintext, v11_plain, v11_plain_len) == 0,
	            "%s: accepted with a plaintext that is not V11's", what);
}

static void mode_n(const uint8_t *data, size_t size)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_notification n;
	char *l[MAX_LINES] = { NULL }, *store = NULL;
	const uint8_t *body;
	size_t body_len;
	bool same;
	int r, rv;

	if (!split(data, size, 5, l, &store, &body, &body_len))
		goto out;
	{
		struct wxpay_notify_headers h = { l[0], l[1], l[2], l[3], l[4] };

		memset(&n, 0, sizeof(n));
		r = wxpay_notify_parse(w, &h, body, body_len, &n, &err);
	}
	rv = wxpay_verify(w, "response", l[0], l[1], l[2], l[3], l[4], body, body_len, NULL, &err);
	same = streq(l[0], v11_ts) && streq(l[1], v11_nonce) && streq(l[2], v11_sig) &&
	       names_v11_key(l[3]) && (!l[4] || !*l[4] || streq(l[4], SCHEME)) &&
	       body_len == v11_body_len && memcmp(body, v11_body, body_len) == 0;
	FUZZ_ASSERT(rv < 0 || same, "a tampered response verified (serial '%s')", l[3]);
	FUZZ_ASSERT(!same || (rv == 0 && r == 0), "the V11 seed was refused: %s", err.msg);
	FUZZ_ASSERT(rv == 0 || rv == WXR_ESIG, "wxpay_verify returned %d: %s", rv, err.msg);
	FUZZ_ASSERT(r < 0 || same, "a tampered notification was accepted (serial '%s')", l[3]);
	if (r == 0) {
		check_plaintext(&n, "notification");
		wxpay_notification_release(&n);
	} else {
		FUZZ_ASSERT(r == WXR_ESIG || r == WXR_EDATA || r == WXR_ETOOBIG, "error %d: %s", r,
		            err.msg);
		FUZZ_ASSERT(!n.plaintext && !n.id, "a failed parse wrote its output");
	}
	FUZZ_ASSERT(!wxpay_poisoned(w), "verification poisoned the handle");
out:
	free(store);
}

static void mode_s(const uint8_t *data, size_t size)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_notification n;
	struct buf msg = BUF_INIT;
	char *l[MAX_LINES] = { NULL }, *store = NULL, *sig = NULL;
	const uint8_t *body;
	size_t body_len;
	int r;

	if (!split(data, size, 3, l, &store, &body, &body_len))
		goto out;
	buf_addf(&msg, "%s\n%s\n", l[0] ? l[0] : "", l[1] ? l[1] : "");
	buf_add(&msg, body, body_len);
	buf_addc(&msg, '\n');
	FUZZ_ASSERT(crypto_sign_sha256(signer, msg.data, msg.len, &sig, &err) == 0, "sign: %s",
	            err.msg);
	{
		struct wxpay_notify_headers h = { l[0], l[1], sig, l[2], NULL };

		memset(&n, 0, sizeof(n));
		r = wxpay_notify_parse(w, &h, body, body_len, &n, &err);
	}
	if (r == 0) {
		check_plaintext(&n, "self-signed notification");
		FUZZ_ASSERT(n.id && n.id[0] && n.event_type && n.event_type[0] && n.create_time &&
		                    n.resource_type && n.summary && n.original_type &&
		                    n.associated_data,
		            "accepted notification lacks fields");
		wxpay_notification_release(&n);
	} else {
		FUZZ_ASSERT(r == WXR_ESIG || r == WXR_EDATA || r == WXR_ETOOBIG, "error %d: %s", r,
		            err.msg);
		FUZZ_ASSERT(!n.plaintext && !n.id, "a failed parse wrote its output");
	}
out:
	buf_release(&msg);
	free(sig);
	free(store);
}

static void mode_g(const uint8_t *data, size_t size)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct buf out;
	char *l[MAX_LINES] = { NULL }, *store = NULL, *ct = NULL;
	const uint8_t *rest;
	size_t rest_len;
	int r;

	buf_init_max(&out, 1024 * 1024);
	if (!split(data, size, 2, l, &store, &rest, &rest_len))
		goto out;
	ct = fuzz_strndup(rest, rest_len);
	r = crypto_aesgcm_decrypt_b64(apiv3, apiv3_len, l[0] ? l[0] : "", l[1] ? l[1] : "", ct,
	                              &out, &err);
	FUZZ_ASSERT(r == 0 || !(streq(l[0], v11_res_nonce) && streq(l[1], v11_res_aad) &&
	                        strcmp(ct, v11_res_ct) == 0),
	            "the V11 resource did not decrypt: %s", err.msg);
	if (r == 0) {
		FUZZ_ASSERT(streq(l[0], v11_res_nonce) && streq(l[1], v11_res_aad) &&
		                    strcmp(ct, v11_res_ct) == 0,
		            "a tampered AES-GCM ciphertext decrypted");
		FUZZ_ASSERT(out.len == v11_plain_len && memcmp(out.data, v11_plain, out.len) == 0,
		            "wrong plaintext");
	} else {
		FUZZ_ASSERT(r == WXR_ESIG || r == WXR_EDATA || r == WXR_ETOOBIG, "error %d: %s", r,
		            err.msg);
		FUZZ_ASSERT(out.len == 0, "a failed decryption wrote output");
	}
out:
	buf_release(&out);
	free(ct);
	free(store);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	if (!w)
		setup();
	switch (data[0]) {
	case 'S':
		mode_s(data, size);
		break;
	case 'G':
		mode_g(data, size);
		break;
	default:
		mode_n(data, size);
		break;
	}
	return 0;
}
