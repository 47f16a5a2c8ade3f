/*
 * t-wxpay.c - the WeChat Pay client without a network: request signing (V8,
 * V13), notifications (V11, V12), key selection, parsing, config checks and
 * the APP invoke signature. The HTTP paths are in t-wxpay-http.c.
 */
#include "base/hex.h"
#include "tap.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "wx/crypto.h"
#include "wx/wxpay_int.h"
#include "wxpay.h"

/* A string literal and its length. */
#define SL(s) (s), (sizeof(s) - 1)

static char vec_dir[4096];
static int64_t fake_now;

static int64_t fixed_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static void find_vectors(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');

	if (access("fixtures/vectors/README.md", R_OK) == 0) {
		snprintf(vec_dir, sizeof(vec_dir), "fixtures/vectors");
		return;
	}
	snprintf(vec_dir, sizeof(vec_dir), "%.*s/../../../fixtures/vectors",
	         slash ? (int)(slash - argv0) : 1, slash ? argv0 : ".");
}

static char *vec_read(const char *name, size_t *out_len)
{
	char path[8192];

	snprintf(path, sizeof(path), "%s/%s", vec_dir, name);
	return t_slurp(path, out_len);
}

/* A handle with an in-memory merchant key from the vectors. */
static struct wxpay *make(const char *mchid, const char *serial, const char *keyfile,
                          struct wxpay_config *extra, struct wxr_err *err)
{
	struct wxpay_config cfg;
	struct wxpay *w;
	size_t len;
	char *pem = vec_read(keyfile, &len);

	if (extra)
		cfg = *extra;
	else
		memset(&cfg, 0, sizeof(cfg));
	cfg.mchid = mchid;
	cfg.serial_no = serial;
	cfg.private_key_pem = pem;
	cfg.private_key_pem_len = len;
	if (!cfg.clock)
		cfg.clock = fixed_clock;
	w = wxpay_new(&cfg, err);
	crypto_wipe(pem, len);
	free(pem);
	return w;
}

/* V8: GET with a query; message layout and the (derived) signature. */
static void test_v8(void)
{
	static const char sig[] =
	        "I3rBjiGKeDrfOqpT4aW2VvjhsA2GEpOyCQivyRwmSroe6EftplTwTBtIyg0QKmxX+"
	        "5xWmgOkHEWjebST5Vt8"
	        "NL9Dka8cNN3oZsRvG8hvBxuTLMrvigG7tOF2YNUW6AKzKlCCXMAo0MF6BE/d7jNKyM7nAK+ZaiI/"
	        "22T4v2Rm"
	        "lQFFGo1op6Li+"
	        "MBeLb7624rDqkw5VKY97jMavtEFgaVWy0DKTmiXinujsU9kpYVJq8noO0NiyhDWG5RFYQmG"
	        "YRzd3wio9IWRDWYi+qNWuGhg1CoSOgo02UbmT9W8/"
	        "RXXxP+w0c9RLLhL3aBPT5coCp6cEbyA+KukOGAhKi93"
	        "HHIYAg==";
	static const char target[] = "/v3/pay/transactions/id/1217752501201407033233368018"
	                             "?mchid=1230000109";
	static const char nonce[] = "eBYqCOxa0QudMnPvVilkTzOg3gHh5Z3u";
	struct wxr_err err = WXR_ERR_INIT;
	struct buf msg = BUF_INIT;
	unsigned char d[CRYPTO_SHA256_LEN];
	char hex[65];
	char *want, *auth = NULL;
	struct wxpay *w;

	wxpay_sign_message("GET", target, 1652750623, nonce, NULL, 0, &msg);
	is_int(msg.len, 119, "V8 message is 119 bytes");
	crypto_sha256(msg.data, msg.len, d);
	hex_encode(d, sizeof(d), hex);
	is_str(hex, "287dfdf96f9d72417f6109e56a3232be66e7de08346fce44cecef89d9ed8f6fa",
	       "V8 message sha256");
	ok(msg.len > 2 && memcmp(msg.data + msg.len - 2, "\n\n", 2) == 0,
	   "empty body: message ends with two LFs");
	buf_release(&msg);

	w = make("1234567891", "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
	         "java/merchant_private_key.pem", NULL, &err);
	ok(w != NULL, "handle with the Java merchant key");
	if (!w) {
		diag("%s", err.msg);
		return;
	}
	ok(wxpay_authorization(w, "GET", target, 1652750623, nonce, NULL, 0, &auth, &err) == 0,
	   "V8 Authorization built");
	want = xasprintf("WECHATPAY2-SHA256-RSA2048 mchid=\"1234567891\",nonce_str=\"%s\","
	                 "timestamp=\"1652750623\",serial_no=\"5F1C72E2A8931B72A2E13AF8DEE92471EB"
	                 "397115\",signature=\"%s\"",
	                 nonce, sig);
	is_str(auth, want, "V8 Authorization header byte for byte");
	free(want);
	free(auth);
	wxpay_free(w);
}

/* V13: Go layout with GET and a POST body that ends in LF; derived signatures. */
static void test_v13(void)
{
	static const char get_sig[] =
	        "mG2drrUCDR7EVrJmQVI6eW5VlDB0zzpcYLC83UiNxe1aNAomazwWci4q/"
	        "HPA7MmlbGAswwSE7iPiLy3vflXo"
	        "hf42WXNA031htDbpBCVt1ti2teKFPh531KK07unc+CrCiepz6veTgsylXYO4iBI+DYQ4UDj+r8A/"
	        "lhqj7yHm"
	        "tLjvcJ45Og6Wdecd/"
	        "T7jGgMwcEe1mR7HLzC7R6snnLOaRwnPCe6WyiWGDHHuQzvNFeaztpM3noedCPEwGcul"
	        "oy2MPVvNER6TpM8CUijpKChWM7Q5vIwg8QYv9bH7IuZitLMAgx0+"
	        "cgaNzFbzZuXxwGB6wIAmv70dWcQx8F2e"
	        "rR/Nzw==";
	static const char post_sig[] =
	        "DCeawJDRmQK8OKC60oPDUI1pUEB+Tf/"
	        "v5wotGvNAElMqaQkT+tO853h+wADc8ryvvx1CWznNPflug1+p0CXW"
	        "H3lMFQ/"
	        "IDWkJFRoHO2fYFitv2nN1CNz0OXsDyTJtAOG1bklr9RH2JA2tzYmrbi3GwXX5WOyOWkyXKLy6IdU0"
	        "yVkVZRiOkiwm7cLsFmFkJ66T2X6oOCsECJfvRu/"
	        "8rrWnYAMZhyXPNSOF1zeRIR22eWOwEUbdi5NmZlsY8klJ"
	        "PP33UKaYy5XIMBuTT+MpoDbPs7XCUC0qsB+"
	        "CsK5Qxloo4HofHiPlVqls4ZqCtGsKD3oYEgOCDsupkzO0r7Od"
	        "XYUsKw==";
	static const char prefix[] = "WECHATPAY2-SHA256-RSA2048 mchid=\"1234567890\","
	                             "nonce_str=\"A1B2C3D4E5F6G7\",timestamp=\"1624523846\","
	                             "serial_no=\"0123456789ABC\",signature=\"";
	struct wxr_err err = WXR_ERR_INIT;
	struct buf msg = BUF_INIT;
	char *auth = NULL, *want;
	struct wxpay *w;

	wxpay_sign_message("GET", "/v3/certificates", 1624523846, "A1B2C3D4E5F6G7", "", 0, &msg);
	is_str(buf_str(&msg), "GET\n/v3/certificates\n1624523846\nA1B2C3D4E5F6G7\n\n",
	       "V13 GET message layout");
	is_int(msg.len, 48, "V13 GET message is 48 bytes");
	buf_reset(&msg);
	wxpay_sign_message("POST", "/v3/certificates", 1624523846, "A1B2C3D4E5F6G7",
	                   "Hello World!\n", 13, &msg);
	is_str(buf_str(&msg),
	       "POST\n/v3/certificates\n1624523846\nA1B2C3D4E5F6G7\nHello World!\n\n",
	       "V13 POST message: body signed verbatim, then one more LF");
	is_int(msg.len, 62, "V13 POST message is 62 bytes");
	buf_release(&msg);

	w = make("1234567890", "0123456789ABC", "go/test_private_key.pem", NULL, &err);
	ok(w != NULL, "handle with the Go key");
	if (!w) {
		diag("%s", err.msg);
		return;
	}
	ok(wxpay_authorization(w, "GET", "/v3/certificates", 1624523846, "A1B2C3D4E5F6G7", NULL, 0,
	                       &auth, &err) == 0,
	   "V13 GET signed");
	want = xasprintf("%s%s\"", prefix, get_sig);
	is_str(auth, want, "V13 GET Authorization byte for byte");
	free(want);
	free(auth);
	ok(wxpay_authorization(w, "POST", "/v3/certificates", 1624523846, "A1B2C3D4E5F6G7",
	                       "Hello World!\n", 13, &auth, &err) == 0,
	   "V13 POST signed");
	want = xasprintf("%s%s\"", prefix, post_sig);
	is_str(auth, want, "V13 POST Authorization byte for byte");
	free(want);
	free(auth);
	wxpay_free(w);
}

/* Notification fixture V11, kept as separate strings so tests can tamper with them. */
struct notif {
	const char *ts, *nonce, *sig, *serial, *body;
	size_t body_len;
};

static void notif_load(struct notif *n)
{
	json_t *h;
	size_t len;
	char *text = vec_read("notification/go_notify_headers.json", &len);

	h = json_loadb(text, len, 0, NULL);
	free(text);
	n->ts = xstrdup(json_string_value(json_object_get(h, "Wechatpay-Timestamp")));
	n->nonce = xstrdup(json_string_value(json_object_get(h, "Wechatpay-Nonce")));
	n->sig = xstrdup(json_string_value(json_object_get(h, "Wechatpay-Signature")));
	n->serial = xstrdup(json_string_value(json_object_get(h, "Wechatpay-Serial")));
	json_decref(h);
	n->body = vec_read("notification/go_notify_body.json", &n->body_len);
}

static void notif_free(struct notif *n)
{
	free((void *)n->ts);
	free((void *)n->nonce);
	free((void *)n->sig);
	free((void *)n->serial);
	free((void *)n->body);
}

static int notif_parse(struct wxpay *w, const struct notif *n, struct wxpay_notification *out,
                       struct wxr_err *err)
{
	struct wxpay_notify_headers h = { n->ts, n->nonce, n->sig, n->serial, NULL };

	return wxpay_notify_parse(w, &h, n->body, n->body_len, out, err);
}

/* Signs ts\nnonce\nbody\n with the Go key: a valid notification for other bodies. */
static char *go_sign(const char *ts, const char *nonce, const char *body, size_t len)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct crypto_key *k = NULL;
	struct buf msg = BUF_INIT;
	char *sig = NULL;
	size_t plen;
	char *pem = vec_read("go/test_private_key.pem", &plen);

	crypto_key_private_from_pem(pem, plen, &k, &err);
	buf_addf(&msg, "%s\n%s\n", ts, nonce);
	buf_add(&msg, body, len);
	buf_addc(&msg, '\n');
	crypto_sign_sha256(k, msg.data, msg.len, &sig, &err);
	buf_release(&msg);
	crypto_key_free(k);
	free(pem);
	return sig;
}

static void expect_sig_fail(struct wxpay *w, const struct notif *n, const char *name,
                            const char *needle)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_notification out;
	char label[200];
	int r;

	memset(&out, 0, sizeof(out));
	r = notif_parse(w, n, &out, &err);
	is_int(r, WXR_ESIG, name);
	if (needle) {
		snprintf(label, sizeof(label), "%s: message says '%s'", name, needle);
		ok(strstr(err.msg, needle) != NULL, label);
		if (!strstr(err.msg, needle))
			diag("message: %s", err.msg);
	}
	ok(out.plaintext == NULL, "nothing is output on failure");
}

/* V11 (+V12): full notification with platform certificate D7CE59D1F522D701. */
static void test_v11(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_config cfg;
	struct wxpay_notification out;
	struct notif n, t;
	struct wxpay *w;
	char *want, *cert, *key, *mut, *sig;
	size_t want_len, cert_len, key_len;
	char *save;

	key = vec_read("notification/apiv3_key.txt", &key_len);
	memset(&cfg, 0, sizeof(cfg));
	cfg.apiv3_key = key;
	cfg.apiv3_key_len = key_len;
	w = make("1900000001", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
	         "go/test_private_key.pem", &cfg, &err);
	free(key);
	ok(w != NULL, "handle with the 16-byte V11 APIv3 key");
	if (!w) {
		diag("%s", err.msg);
		return;
	}
	notif_load(&n);
	fake_now = 1624523846;
	expect_sig_fail(w, &n, "V11 without platform certificates fails", "no platform cert");
	cert = vec_read("go/cert_D7CE59D1F522D701.pem", &cert_len);
	ok(wxpay_add_platform_cert(w, cert, cert_len, &err) == 0, "platform cert D7CE59D1F522D701");
	free(cert);

	memset(&out, 0, sizeof(out));
	ok(notif_parse(w, &n, &out, &err) == 0, "V11 verifies and decrypts");
	if (out.plaintext == NULL)
		diag("%s", err.msg);
	want = vec_read("notification/go_notify_expected_plaintext.json", &want_len);
	ok(out.plaintext && out.plaintext_len == want_len &&
	           memcmp(out.plaintext, want, want_len) == 0,
	   "V11 plaintext byte for byte");
	free(want);
	is_str(out.id, "3119dfba-e649-5eec-ab1e-3412bc4d2e17", "V11 id");
	is_str(out.event_type, "PAYSCORE.USER_OPEN_SERVICE", "V11 event_type");
	is_str(out.create_time, "2021-06-24T16:37:26+08:00", "V11 create_time");
	is_str(out.resource_type, "encrypt-resource", "V11 resource_type");
	is_str(out.summary, "签约成功", "V11 summary (UTF-8)");
	is_str(out.original_type, "payscore", "V11 original_type");
	is_str(out.associated_data, "payscore", "V11 associated_data");
	wxpay_notification_release(&out);

	/* Lower-case serial and leading zeros do not matter. */
	t = n;
	t.serial = "d7ce59d1f522d701";
	ok(notif_parse(w, &t, &out, &err) == 0, "serial compared case-insensitively");
	wxpay_notification_release(&out);
	t.serial = "00D7CE59D1F522D701";
	ok(notif_parse(w, &t, &out, &err) == 0, "serial compared ignoring leading zeros");
	wxpay_notification_release(&out);

	/* The 5-minute window, both sides. */
	fake_now = 1624523846 + 299;
	ok(notif_parse(w, &n, &out, &err) == 0, "299 s late is accepted");
	wxpay_notification_release(&out);
	fake_now = 1624523846 - 299;
	ok(notif_parse(w, &n, &out, &err) == 0, "299 s early is accepted");
	wxpay_notification_release(&out);
	fake_now = 1624523846 + 300;
	expect_sig_fail(w, &n, "300 s late is stale", "away from the local clock");
	fake_now = 1624523846 - 300;
	expect_sig_fail(w, &n, "300 s early is stale", "away from the local clock");
	fake_now = 1624523846;

	/* Tampering. */
	t = n;
	mut = xstrdup(n.sig);
	mut[10] = mut[10] == 'A' ? 'B' : 'A';
	t.sig = mut;
	expect_sig_fail(w, &t, "tampered signature rejected", "does not match");
	free(mut);
	t = n;
	t.ts = "1624523847";
	expect_sig_fail(w, &t, "tampered timestamp rejected", "does not match");
	t = n;
	t.nonce = "EcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBZ";
	expect_sig_fail(w, &t, "tampered nonce rejected", "does not match");
	t = n;
	t.serial = "F5765756002FDD77";
	expect_sig_fail(w, &t, "unknown serial rejected", "'F5765756002FDD77'");
	t = n;
	mut = xstrdup(n.body);
	save = strstr(mut, "签约成功");
	ok(save != NULL, "body has 签约成功");
	if (save)
		memcpy(save, "签约失败", strlen("签约失败"));
	t.body = mut;
	expect_sig_fail(w, &t, "tampered body (签约失败) rejected", "does not match");
	free(mut);
	t = n;
	mut = vec_read("notification/java_wechat_pay_notification.json", &t.body_len);
	t.body = mut;
	expect_sig_fail(w, &t, "V12 body under the V11 signature rejected", "does not match");
	free(mut);
	t = n;
	t.body_len = n.body_len - 1;
	expect_sig_fail(w, &t, "truncated body rejected", NULL);

	/* Probe, missing headers, foreign algorithms. */
	t = n;
	t.sig = "WECHATPAY/SIGNTEST/MIIBxyz==";
	expect_sig_fail(w, &t, "signature probe rejected", "signature probe");
	t.sig = "WECHATPAY/SIGNTEST/";
	expect_sig_fail(w, &t, "bare probe prefix rejected", "WECHATPAY/SIGNTEST/");
	t = n;
	t.sig = "not*base64";
	expect_sig_fail(w, &t, "garbage signature rejected", "base64");
	t = n;
	t.sig = NULL;
	expect_sig_fail(w, &t, "missing signature rejected", "lacks Wechatpay-Signature");
	t = n;
	t.ts = "";
	expect_sig_fail(w, &t, "empty timestamp rejected", "lacks Wechatpay-Timestamp");
	t = n;
	t.ts = "16245238x6";
	expect_sig_fail(w, &t, "non-numeric timestamp rejected", "malformed");
	t = n;
	t.nonce = NULL;
	expect_sig_fail(w, &t, "missing nonce rejected", "lacks Wechatpay-Nonce");
	t = n;
	t.serial = NULL;
	expect_sig_fail(w, &t, "missing serial rejected", "lacks Wechatpay-Serial");
	{
		struct wxpay_notify_headers h = { n.ts, n.nonce, n.sig, n.serial,
			                          "WECHATPAY2-SM2-WITH-SM3" };

		is_int(wxpay_notify_parse(w, &h, n.body, n.body_len, &out, &err), WXR_ESIG,
		       "SM2 signature type rejected");
		h.signature_type = "WECHATPAY2-SHA256-RSA2048";
		is_int(wxpay_notify_parse(w, &h, n.body, n.body_len, &out, &err), 0,
		       "explicit RSA signature type accepted");
		wxpay_notification_release(&out);
	}

	/* A correctly signed body whose ciphertext was altered: the AES-GCM tag catches it. */
	t = n;
	mut = xstrdup(n.body);
	save = strstr(mut, "YDS3lKPa");
	if (save)
		save[0] = 'Z';
	t.body = mut;
	sig = go_sign(n.ts, n.nonce, t.body, t.body_len);
	t.sig = sig;
	expect_sig_fail(w, &t, "bad AES-GCM tag rejected", "authentication failed");
	free(sig);
	free(mut);

	/* Signed but malformed JSON. */
	t = n;
	t.body = "{\"id\":\"x\"";
	t.body_len = strlen(t.body);
	sig = go_sign(n.ts, n.nonce, t.body, t.body_len);
	t.sig = sig;
	is_int(notif_parse(w, &t, &out, &err), WXR_EDATA, "signed but malformed JSON is EDATA");
	free(sig);
	t.body = "{\"id\":\"x\",\"event_type\":\"T\"}";
	t.body_len = strlen(t.body);
	sig = go_sign(n.ts, n.nonce, t.body, t.body_len);
	t.sig = sig;
	is_int(notif_parse(w, &t, &out, &err), WXR_EDATA, "notification without resource is EDATA");
	free(sig);

	ok(!wxpay_poisoned(w), "bad notifications do not poison the handle");
	wxpay_free(w);

	/* Without an APIv3 key the signature verifies but nothing decrypts. */
	w = make("1900000001", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
	         "go/test_private_key.pem", NULL, &err);
	cert = vec_read("go/cert_D7CE59D1F522D701.pem", &cert_len);
	wxpay_add_platform_cert(w, cert, cert_len, &err);
	free(cert);
	is_int(notif_parse(w, &n, &out, &err), WXR_ECONFIG, "no APIv3 key: configuration error");
	wxpay_free(w);
	notif_free(&n);
}

/* Public-key mode: Wechatpay-Serial PUB_KEY_ID_... selects the WeChat Pay public key. */
static void test_pubkey_mode(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_config cfg;
	struct wxpay_notification out;
	struct notif n, t;
	struct wxpay *w;
	char *path = xasprintf("%s/go/test_public_key.pem", vec_dir);
	char *key;
	size_t key_len;
	const struct crypto_key *k = NULL;

	key = vec_read("notification/apiv3_key.txt", &key_len);
	memset(&cfg, 0, sizeof(cfg));
	cfg.apiv3_key = key;
	cfg.apiv3_key_len = key_len;
	cfg.wechatpay_public_key_path = path;
	cfg.wechatpay_public_key_id = "PUB_KEY_ID_0112345678901234567890123456789012";
	w = make("1900000001", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
	         "go/test_private_key.pem", &cfg, &err);
	free(key);
	ok(w != NULL, "public-key mode handle");
	if (!w) {
		diag("%s", err.msg);
		free(path);
		return;
	}
	is_str(wxpay_request_serial(w, &k), "PUB_KEY_ID_0112345678901234567890123456789012",
	       "requests name the public key id");
	ok(k != NULL, "and its key");
	notif_load(&n);
	fake_now = 1624523846;
	t = n;
	t.serial = "PUB_KEY_ID_0112345678901234567890123456789012";
	ok(notif_parse(w, &t, &out, &err) == 0, "V11 body verified with the public key");
	wxpay_notification_release(&out);
	t.serial = "PUB_KEY_ID_0999999999999999999999999999999999";
	expect_sig_fail(w, &t, "another public key id rejected", "unknown WeChat Pay public key");
	expect_sig_fail(w, &n, "platform serial without certificates rejected",
	                "unknown platform certificate");
	notif_free(&n);
	wxpay_free(w);
	free(path);
}

/* Which platform certificate requests name; certificates without a key. */
static void test_cert_choice(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay *w;
	char *pem;
	size_t len;

	w = make("1900000001", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
	         "go/test_private_key.pem", NULL, &err);
	ok(wxpay_request_serial(w, NULL) == NULL, "no key: no Wechatpay-Serial");
	pem = vec_read("go/cert_F5765756002FDD77.pem", &len);
	wxpay_add_platform_cert(w, pem, len, &err);
	free(pem);
	pem = vec_read("go/cert_D7CE59D1F522D701.pem", &len);
	wxpay_add_platform_cert(w, pem, len, &err);
	wxpay_add_platform_cert(w, pem, len, &err); /* duplicate: replaced, not added */
	free(pem);
	fake_now = 1700000000;
	is_str(wxpay_request_serial(w, NULL), "D7CE59D1F522D701",
	       "the certificate with the latest start is named");
	pem = vec_read("java/wechat_pay_certificate.pem", &len);
	wxpay_add_platform_cert(w, pem, len, &err);
	free(pem);
	is_str(wxpay_request_serial(w, NULL), "440024045C4A427599D09BB4E3DE0279F2E813FD",
	       "a newer certificate wins while valid");
	fake_now = 1800000000; /* after 2025-05-09: the Java certificate expired */
	is_str(wxpay_request_serial(w, NULL), "D7CE59D1F522D701",
	       "an expired certificate is not named");
	pem = vec_read("go/test_public_key.pem", &len);
	is_int(wxpay_add_platform_cert(w, pem, len, &err), WXR_EDATA,
	       "a bare public key is not a platform certificate");
	free(pem);
	is_int(wxpay_add_platform_cert(w, "junk", 4, &err), WXR_EDATA, "junk is refused");
	wxpay_free(w);
}

/* An empty-body (204) response message is "ts\nnonce\n\n". */
static void test_empty_body(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay *w;
	char *pem, *sig;
	size_t len;

	w = make("1900000001", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
	         "go/test_private_key.pem", NULL, &err);
	pem = vec_read("go/cert_F5765756002FDD77.pem", &len);
	wxpay_add_platform_cert(w, pem, len, &err);
	free(pem);
	fake_now = 1700000000;
	sig = go_sign("1700000000", "nonce204", "", 0);
	is_int(wxpay_verify(w, "response", "1700000000", "nonce204", sig, "F5765756002FDD77", NULL,
	                    NULL, 0, NULL, &err),
	       0, "empty body verifies over ts\\nnonce\\n\\n");
	is_int(wxpay_verify(w, "response", "1700000000", "nonce204", sig, "F5765756002FDD77", NULL,
	                    "{}", 2, NULL, &err),
	       WXR_ESIG, "and not over another body");
	ok(strncmp(err.msg, "response signature (serial 'F5765756002FDD77')", 46) == 0,
	   "message names what failed and the serial");
	free(sig);
	wxpay_free(w);
}

static void test_app_invoke(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_config cfg;
	struct wxpay_app_invoke a;
	struct crypto_key *pub = NULL;
	struct wxpay *w;
	char *path = xasprintf("%s/go/test_public_key.pem", vec_dir);
	static const char msg[] =
	        "wx2421b1c4370ec43b\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n"
	        "wx201410272009395522657a690389285100\n";

	memset(&cfg, 0, sizeof(cfg));
	cfg.appid = "wx2421b1c4370ec43b";
	w = make("1900007291", "408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB",
	         "go/test_private_key.pem", &cfg, &err);
	memset(&a, 0, sizeof(a));
	ok(wxpay_app_invoke_at(w, "wx201410272009395522657a690389285100", 1554208460,
	                       "593BEC0C930BF1AFEB40B4A08C8FB242", &a, &err) == 0,
	   "APP invoke signed");
	is_str(a.appid, "wx2421b1c4370ec43b", "appid");
	is_str(a.partnerid, "1900007291", "partnerid is the mchid");
	is_str(a.prepayid, "wx201410272009395522657a690389285100", "prepayid is bare");
	is_str(a.package, "Sign=WXPay", "package");
	is_str(a.noncestr, "593BEC0C930BF1AFEB40B4A08C8FB242", "noncestr");
	is_str(a.timestamp, "1554208460", "timestamp as text");
	crypto_key_public_load(path, &pub, NULL, &err);
	is_int(crypto_verify_sha256(pub, msg, strlen(msg), a.sign ? a.sign : "", &err), 0,
	       "sign is SHA256withRSA over appid\\nts\\nnonce\\nprepayid\\n");
	wxpay_app_invoke_release(&a);
	fake_now = 1700000123;
	ok(wxpay_app_invoke(w, "wx201410272009395522657a690389285100", &a, &err) == 0,
	   "APP invoke with clock and random nonce");
	is_str(a.timestamp, "1700000123", "timestamp from the clock");
	is_int(a.noncestr ? strlen(a.noncestr) : 0, 32, "32-character nonce");
	wxpay_app_invoke_release(&a);
	is_int(wxpay_app_invoke_at(w, "", 1, "n", &a, &err), WXR_EUSAGE, "empty prepay_id refused");
	crypto_key_free(pub);
	wxpay_free(w);
	w = make("1900007291", "408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB",
	         "go/test_private_key.pem", NULL, &err);
	is_int(wxpay_app_invoke_at(w, "wx1", 1, "n", &a, &err), WXR_ECONFIG,
	       "no appid: configuration error");
	wxpay_free(w);
	free(path);
}

static void test_codes(void)
{
	ok(wxpay_code_is("ORDERNOTEXIST", "ORDER_NOT_EXIST"), "ORDERNOTEXIST == ORDER_NOT_EXIST");
	ok(wxpay_code_is("order_not_exist", "ORDER_NOT_EXIST"), "case ignored");
	ok(wxpay_code_is("SYSTEM_ERROR", "SYSTEMERROR"), "SYSTEM_ERROR == SYSTEMERROR");
	ok(!wxpay_code_is("ORDER_NOT_EXIST", "ORDER_NOT_EXISTS"), "different codes differ");
	ok(!wxpay_code_is("", "X"), "empty differs");
	ok(!wxpay_code_is(NULL, "X"), "NULL-safe");
	ok(wxpay_code_is("", ""), "empty equals empty");
}

static void test_pct(void)
{
	char *s = wxpay_pct("ORD-1_a.b~c|d*e f/é");

	is_str(s, "ORD-1_a.b~c%7Cd%2Ae%20f%2F%C3%A9", "path segments percent-encoded like Go");
	free(s);
}

static void test_parse(void)
{
	static const char tx[] =
	        "{\"amount\":{\"currency\":\"CNY\",\"payer_currency\":\"CNY\",\"payer_total\":90,"
	        "\"total\":100},\"appid\":\"wx8888888888888888\",\"attach\":\"u=1\","
	        "\"bank_type\":\"CMB_DEBIT\",\"mchid\":\"1900000001\",\"out_trade_no\":\"ORD1\","
	        "\"payer\":{\"openid\":\"oUser\"},\"promotion_detail\":[{\"amount\":10}],"
	        "\"success_time\":\"2025-03-01T09:15:02+08:00\",\"trade_state\":\"SUCCESS\","
	        "\"trade_state_desc\":\"ok\",\"trade_type\":\"APP\",\"transaction_id\":"
	        "\"42000001\","
	        "\"new_field\":{\"x\":[1,2]}}";
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_transaction t;
	struct wxpay_refund f;

	memset(&t, 0, sizeof(t));
	ok(wxpay_transaction_parse(tx, strlen(tx), &t, &err) == 0, "transaction parses");
	is_str(t.out_trade_no, "ORD1", "out_trade_no");
	is_str(t.transaction_id, "42000001", "transaction_id");
	is_str(t.trade_state, "SUCCESS", "trade_state");
	is_str(t.payer_openid, "oUser", "payer.openid");
	is_int(t.amount_total, 100, "amount.total");
	is_int(t.amount_payer_total, 90, "amount.payer_total");
	is_str(t.currency, "CNY", "amount.currency");
	is_str(t.success_time, "2025-03-01T09:15:02+08:00", "success_time");
	wxpay_transaction_release(&t);
	ok(wxpay_transaction_parse(SL("{\"trade_state\":\"NOTPAY\"}"), &t, &err) == 0,
	   "a sparse transaction parses");
	is_str(t.transaction_id, "", "absent transaction_id is empty");
	is_int(t.amount_total, 0, "absent amount is 0");
	wxpay_transaction_release(&t);
	is_int(wxpay_transaction_parse(SL("{\"amount\":{\"total\":1.5}}"), &t, &err), WXR_EDATA,
	       "a fractional amount is refused");
	ok(strstr(err.msg, "total") != NULL, "message names the field");
	is_int(wxpay_transaction_parse("[1]", 3, &t, &err), WXR_EDATA, "an array is refused");
	is_int(wxpay_transaction_parse("{", 1, &t, &err), WXR_EDATA, "bad JSON is refused");

	memset(&f, 0, sizeof(f));
	ok(wxpay_refund_parse(SL("{\"refund_status\":\"SUCCESS\",\"out_refund_no\":\"R1\","
	                         "\"amount\":{\"refund\":5,\"total\":10,\"payer_refund\":5,"
	                         "\"payer_total\":10}}"),
	                      &f, &err) == 0,
	   "refund notification parses");
	is_str(f.status, "SUCCESS", "refund_status read as status");
	is_int(f.amount_refund, 5, "amount.refund");
	is_int(f.amount_payer_total, 10, "amount.payer_total");
	wxpay_refund_release(&f);
	ok(wxpay_refund_parse(SL("{\"status\":\"PROCESSING\",\"refund_status\":\"X\"}"), &f,
	                      &err) == 0,
	   "refund answer parses");
	is_str(f.status, "PROCESSING", "status wins over refund_status");
	wxpay_refund_release(&f);
}

static void test_config(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_config cfg;
	struct wxpay *w;
	char tmpl[] = "/tmp/t-wxpay-key.XXXXXX";
	char *pem;
	size_t len;
	FILE *f;
	int fd;

	memset(&cfg, 0, sizeof(cfg));
	cfg.base_url = "http://example.com";
	w = make("1900000001", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
	         "go/test_private_key.pem", &cfg, &err);
	ok(w == NULL && err.code == WXR_ECONFIG, "plain http to example.com refused");
	ok(strstr(err.msg, "simulator") != NULL, "the message says http is for the simulator");
	cfg.base_url = "ftp://127.0.0.1/";
	w = make("1900000001", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
	         "go/test_private_key.pem", &cfg, &err);
	ok(w == NULL && err.code == WXR_ECONFIG, "ftp refused");
	cfg.base_url = "http://127.0.0.1:8080/";
	w = make("1900000001", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
	         "go/test_private_key.pem", &cfg, &err);
	ok(w != NULL, "http to 127.0.0.1 accepted");
	wxpay_free(w);
	cfg.base_url = "http://[::1]:8080";
	w = make("1900000001", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
	         "go/test_private_key.pem", &cfg, &err);
	ok(w != NULL, "http to [::1] accepted");
	wxpay_free(w);
	cfg.base_url = "http://LOCALHOST:8080";
	w = make("1900000001", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
	         "go/test_private_key.pem", &cfg, &err);
	ok(w != NULL, "http to localhost accepted");
	wxpay_free(w);
	cfg.base_url = "http://127.0.0.1.example.com";
	w = make("1900000001", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
	         "go/test_private_key.pem", &cfg, &err);
	ok(w == NULL, "http to 127.0.0.1.example.com refused");
	cfg.base_url = NULL;

	w = make("1900000001", "not-hex", "go/test_private_key.pem", NULL, &err);
	ok(w == NULL && err.code == WXR_ECONFIG, "non-hex serial refused");
	w = make("", "ABC", "go/test_private_key.pem", NULL, &err);
	ok(w == NULL && err.code == WXR_ECONFIG, "empty mchid refused");
	w = make("19\"00", "ABC", "go/test_private_key.pem", NULL, &err);
	ok(w == NULL && err.code == WXR_ECONFIG, "a quote in the mchid is refused");
	cfg.apiv3_key = "short";
	cfg.apiv3_key_len = 5;
	w = make("1900000001", "ABC", "go/test_private_key.pem", &cfg, &err);
	ok(w == NULL && err.code == WXR_ECONFIG, "5-byte APIv3 key refused");
	ok(strstr(err.msg, "short") == NULL, "the key is not in the message");
	cfg.apiv3_key_len = 0;
	cfg.wechatpay_public_key_path = "x.pem";
	w = make("1900000001", "ABC", "go/test_private_key.pem", &cfg, &err);
	ok(w == NULL && err.code == WXR_ECONFIG, "public key without its id refused");
	cfg.wechatpay_public_key_path = NULL;
	w = make("1900000001", "ABC", "go/test_public_key.pem", NULL, &err);
	ok(w == NULL && err.code == WXR_EDATA, "a public key is not a merchant private key");

	/* Private key file permissions. */
	fd = mkstemp(tmpl);
	pem = vec_read("go/test_private_key.pem", &len);
	f = fdopen(fd, "wb");
	fwrite(pem, 1, len, f);
	fclose(f);
	free(pem);
	chmod(tmpl, 0644);
	memset(&cfg, 0, sizeof(cfg));
	cfg.mchid = "1900000001";
	cfg.serial_no = "ABC";
	cfg.private_key_path = tmpl;
	w = wxpay_new(&cfg, &err);
	ok(w == NULL && err.code == WXR_ECONFIG, "a world-readable private key is refused");
	ok(strstr(err.msg, "chmod 600") != NULL, "and the message says what to do");
	chmod(tmpl, 0600);
	w = wxpay_new(&cfg, &err);
	ok(w != NULL, "a 0600 private key file loads");
	wxpay_free(w);
	unlink(tmpl);
	w = wxpay_new(&cfg, &err);
	ok(w == NULL && err.code == WXR_EIO, "a missing private key file is an I/O error");
}

int main(int argc, char **argv)
{
	(void)argc;
	find_vectors(argv[0]);
	test_v8();
	test_v13();
	test_v11();
	test_pubkey_mode();
	test_cert_choice();
	test_empty_body();
	test_app_invoke();
	test_codes();
	test_pct();
	test_parse();
	test_config();
	return done_testing();
}
