/* t-sim-server.c - unit tests of the simulator's pure parts: Authorization
 * parsing, base64, times, fees, routing, crypto round trips, bills from state. */
#include "base/utf8.h"
#include "tap.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "sim/sim.h"

#define SERIAL "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"

static void test_auth_parse(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct sim_auth a;
	static const char *const bad[] = {
		"",
		"WECHATPAY2-SHA256-RSA2048",
		"WECHATPAY2-SHA256-RSA2048 ",
		"Basic abc",
		"WECHATPAY2-SHA256-RSA2048 mchid=\"1\",nonce_str=\"n\",timestamp=\"1554208460\","
		"serial_no=\"S\"",
		"WECHATPAY2-SHA256-RSA2048 mchid=\"1\",nonce_str=\"n\",timestamp=\"1554208460\","
		"serial_no=\"S\",signature=\"x\",mchid=\"1\"",
		"WECHATPAY2-SHA256-RSA2048 mchid=\"1\", nonce_str=\"n\",timestamp=\"1554208460\","
		"serial_no=\"S\",signature=\"x\"",
		"WECHATPAY2-SHA256-RSA2048 mchid=\"1\",nonce_str=\"n\",timestamp=\"1554208460\","
		"serial_no=\"S\",signature=\"x\",other=\"y\"",
		"WECHATPAY2-SHA256-RSA2048 mchid=\"1\",nonce_str=\"n-n\",timestamp=\"1554208460\","
		"serial_no=\"S\",signature=\"x\"",
		"WECHATPAY2-SHA256-RSA2048 mchid=\"1\",nonce_str=\"n\",timestamp=\"1554208460000\","
		"serial_no=\"S\",signature=\"x\"",
		"WECHATPAY2-SHA256-RSA2048 mchid=\"\",nonce_str=\"n\",timestamp=\"1554208460\","
		"serial_no=\"S\",signature=\"x\"",
		"WECHATPAY2-SHA256-RSA2048 mchid=\"1\",nonce_str=\"n\",timestamp=\"1554208460\","
		"serial_no=\"S\",signature=\"x\",",
		"WECHATPAY2-SHA256-RSA2048 mchid=1,nonce_str=\"n\",timestamp=\"1554208460\","
		"serial_no=\"S\",signature=\"x\"",
	};

	ok(sim_auth_parse("WECHATPAY2-SHA256-RSA2048 signature=\"c2ln\",mchid=\"1900000001\","
	                  "serial_no=\"" SERIAL "\",timestamp=\"1554208460\",nonce_str=\"abc123\"",
	                  &a, &err) == 0,
	   "any field order parses");
	is_str(a.mchid, "1900000001", "mchid");
	is_str(a.nonce_str, "abc123", "nonce_str");
	is_str(a.timestamp, "1554208460", "timestamp");
	is_str(a.serial_no, SERIAL, "serial_no");
	is_str(a.signature, "c2ln", "signature");
	sim_auth_release(&a);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int r = sim_auth_parse(bad[i], &a, &err);

		if (!ok(r < 0, "malformed header refused"))
			diag("accepted: %s", bad[i]);
		if (r == 0)
			sim_auth_release(&a);
	}
	ok(sim_auth_parse(NULL, &a, &err) < 0, "missing header refused");
}

static void test_base64(void)
{
	unsigned char *p = NULL;
	size_t n = 0;
	char *e = sim_b64_encode((const unsigned char *)"message", 7);

	is_str(e, "bWVzc2FnZQ==", "encode with padding");
	ok(sim_b64_decode(e, strlen(e), &p, &n) == 0 && n == 7 && memcmp(p, "message", 7) == 0,
	   "decode round trip");
	free(p);
	free(e);
	ok(sim_b64_decode("bWVzc2FnZQ", 10, &p, &n) < 0, "missing padding refused");
	ok(sim_b64_decode("bWVz\nc2Fn", 9, &p, &n) < 0, "newline refused");
	ok(sim_b64_decode("bWVzc2FnZR==", 12, &p, &n) < 0, "non-canonical trailing bits refused");
	ok(sim_b64_decode("WECHATPAY/SIGNTEST/abc", 22, &p, &n) < 0, "probe value refused");
	ok(sim_b64_decode("bW=zc2Fn", 8, &p, &n) < 0, "padding in the middle refused");
}

static void test_times(void)
{
	char t[40];
	int64_t ts = 0, day = 0;

	ok(sim_parse_rfc3339("2025-05-20T13:29:35+08:00", false, &ts) == 0, "parses +08:00");
	is_int(ts, 1747718975, "as Unix seconds");
	sim_fmt_rfc3339(ts, t, sizeof(t));
	is_str(t, "2025-05-20T13:29:35+08:00", "formats Beijing time");
	ok(sim_parse_rfc3339("2025-05-20T05:29:35Z", false, &ts) == 0 && ts == 1747718975,
	   "parses Z");
	ok(sim_parse_rfc3339("2025-05-20T05:29:35.123Z", false, &ts) < 0,
	   "fractions refused in strict mode");
	ok(sim_parse_rfc3339("2025-05-20T05:29:35.123Z", true, &ts) == 0 && ts == 1747718975,
	   "fractions accepted in lenient mode");
	ok(sim_parse_rfc3339("2025-02-30T00:00:00Z", true, &ts) < 0, "Feb 30 refused");
	ok(sim_parse_rfc3339("2025-05-20 13:29:35+08:00", true, &ts) < 0, "space refused");
	ok(sim_parse_date("2026-03-01", &day) == 0, "date parses");
	is_int(sim_day_start_sh(day), 1772294400, "00:00 Beijing = 16:00Z the day before");
	is_int(sim_day_sh(1772294399), day - 1, "23:59:59 Beijing is the day before");
	is_int(sim_day_sh(1772294400), day, "00:00:00 Beijing starts the day");
	ok(sim_parse_date("2026-3-01", &day) < 0, "short month refused");
	sim_fmt_date_sh(1772294400, t, sizeof(t));
	is_str(t, "2026-03-01", "date in Beijing");
}

static void test_checks(void)
{
	char *s;

	ok(utf8_valid_bmp("月卡", strlen("月卡")), "3-byte characters pass");
	ok(!utf8_valid_bmp("x\xF0\x9F\x98\x80", 5), "4-byte characters (emoji) fail");
	ok(!utf8_valid_bmp("\xC0\x80", 2), "overlong encodings fail");
	ok(!utf8_valid_bmp("\xED\xA0\x80", 3), "surrogates fail");
	ok(sim_str_charset("ORD-1_a|*", 6, 32, "_-|*"), "out_trade_no charset");
	ok(!sim_str_charset("ORD 1", 1, 32, "_-|*"), "space refused");
	ok(!sim_str_charset("ORD1", 6, 32, "_-|*"), "too short refused");
	s = sim_pct_decode("ORD%2D1%7C", 10);
	is_str(s, "ORD-1|", "percent-decoding");
	free(s);
	ok(sim_pct_decode("a%2", 3) == NULL, "truncated escape refused");
	ok(sim_pct_decode("a%00", 4) == NULL, "NUL refused");
}

static void test_fees(void)
{
	struct sim_state st;
	struct sim_order o;

	is_int(sim_fee_fen(2500), 15, "0.60% of 25.00 = 0.15");
	is_int(sim_fee_fen(1000), 6, "0.60% of 10.00 = 0.06");
	is_int(sim_fee_fen(75), 0, "0.45 fen rounds down");
	is_int(sim_fee_fen(84), 1, "0.504 fen rounds up");
	is_int(sim_fee_fen(250), 2, "1.5 fen rounds half up");
	is_int(sim_fee_fen(1), 0, "1 fen: no fee");
	sim_state_init(&st);
	memset(&o, 0, sizeof(o));
	o.out_trade_no = (char *)"O";
	o.total_fen = 2500;
	o.fee_fen = 15;
	is_int(sim_refund_fee_fen(&st, &o, 1000), 6, "proportional refund fee");
	is_int(sim_refund_fee_fen(&st, &o, 2500), 15, "full refund returns the whole fee");
	sim_state_release(&st);
}

static void test_route(void)
{
	char *p = NULL;

	is_int(sim_api_route("GET", "/v3/pay/transactions/out-trade-no/ORD1", &p), SIM_EP_QUERY,
	       "query route");
	is_str(p, "ORD1", "with its parameter");
	free(p);
	is_int(sim_api_route("POST", "/v3/pay/transactions/out-trade-no/O%2D1/close", &p),
	       SIM_EP_CLOSE, "close route");
	is_str(p, "O-1", "parameter decoded");
	free(p);
	is_int(sim_api_route("GET", "/v3/pay/transactions/out-trade-no/a/b", &p), SIM_EP_NONE,
	       "no slash inside a parameter");
	is_int(sim_api_route("GET", "/v3/pay/transactions/out-trade-no/a%2Fb", &p), SIM_EP_NONE,
	       "no encoded slash either");
	is_int(sim_api_route("POST", "/v3/refund/domestic/refunds/503/apply-abnormal-refund", &p),
	       SIM_EP_ABNORMAL_REFUND, "abnormal refund route");
	free(p);
	is_int(sim_api_route("GET", "/v3/refund/domestic/refunds/RF1", &p), SIM_EP_REFUND_QUERY,
	       "refund query route");
	free(p);
	is_int(sim_api_route("POST", "/v3/bill/tradebill", &p), SIM_EP_NONE, "wrong method");
	is_str(sim_ep_name(SIM_EP_FUNDFLOWBILL), "fundflowbill", "endpoint names");
}

static void test_crypto(const struct sim_keys *k)
{
	static const char pem[] = "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n";
	char *ct = sim_aes_gcm_encrypt(k->apiv3, "uluk4a9R25RW", "certificate", pem, strlen(pem));
	unsigned char *raw = NULL, out[256];
	size_t n = 0;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	unsigned char enc[512];
	size_t enc_len = sizeof(enc);
	char *b64, *pt = NULL, *sig;
	int len = 0, fin = 0;

	ok(ct && sim_b64_decode(ct, strlen(ct), &raw, &n) == 0 && n == strlen(pem) + 16,
	   "GCM ciphertext is plaintext + 16-byte tag");
	EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL);
	EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL);
	EVP_DecryptInit_ex(c, NULL, NULL, k->apiv3, (const unsigned char *)"uluk4a9R25RW");
	EVP_DecryptUpdate(c, NULL, &len, (const unsigned char *)"certificate", 11);
	EVP_DecryptUpdate(c, out, &len, raw, (int)(n - 16));
	EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, raw + n - 16);
	ok(EVP_DecryptFinal_ex(c, out + len, &fin) == 1 && (size_t)(len + fin) == strlen(pem) &&
	           memcmp(out, pem, strlen(pem)) == 0,
	   "decrypts with an independent EVP AES-256-GCM");
	EVP_CIPHER_CTX_free(c);
	free(raw);
	free(ct);

	/* OAEP: encrypt with the public half, decrypt with the simulator */
	pc = EVP_PKEY_CTX_new(k->wechat_key, NULL);
	EVP_PKEY_encrypt_init(pc);
	EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING);
	EVP_PKEY_CTX_set_rsa_oaep_md(pc, EVP_sha1());
	EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha1());
	ok(EVP_PKEY_encrypt(pc, enc, &enc_len, (const unsigned char *)"6225880000000000", 16) == 1,
	   "OAEP encrypt");
	EVP_PKEY_CTX_free(pc);
	b64 = sim_b64_encode(enc, enc_len);
	ok(sim_oaep_decrypt(k->wechat_key, b64, &pt, &n) == 0 && n == 16 &&
	           strcmp(pt, "6225880000000000") == 0,
	   "OAEP(SHA-1) decrypt");
	free(pt);
	b64[10] = b64[10] == 'A' ? 'B' : 'A';
	ok(sim_oaep_decrypt(k->wechat_key, b64, &pt, &n) < 0, "tampered OAEP refused");
	free(b64);

	sig = sim_sign(k->wechat_key, "a\nb\n\n", 5);
	ok(sig && strlen(sig) == 344, "RSA-2048 signature is 344 base64 characters");
	ok(sim_b64_decode(sig, strlen(sig), &raw, &n) == 0, "signature decodes");
	ok(!sim_verify(k->merchant_pub, "a\nb\n\n", 5, raw, n), "wrong key does not verify");
	free(raw);
	free(sig);
}

static void test_bill_make(struct sim *s)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct sim_order *o = NULL;
	char sha1[41], want[41], path[] = "/tmp/t-sim-bill-XXXXXX";
	json_t *j;
	gzFile gz;
	char buf[8192];
	int n, fd;
	struct buf plain = BUF_INIT;
	int64_t day;

	j = json_pack("{s:s, s:i, s:s, s:s}", "out_trade_no", "ORD-U-1", "total", 2500,
	              "trade_state", "SUCCESS", "success_time", "2026-03-01T09:15:02+08:00");
	ok(sim_order_from_json(&s->st, "wx8888888888888888", j, &o, &err) == 0, "seed order");
	json_decref(j);
	sim_state_add_order(&s->st, o);
	is_int(o->fee_fen, 15, "fee set at payment");
	fd = mkstemp(path);
	close(fd);
	sim_parse_date("2026-03-02", &day);
	is_int(sim_bill_make(s, true, "ALL", day, path, sha1, &err), 0, "empty day: no bill");
	sim_parse_date("2026-03-01", &day);
	is_int(sim_bill_make(s, true, "ALL", day, path, sha1, &err), 1, "a day with a payment");
	gz = gzopen(path, "rb");
	while (gz && (n = gzread(gz, buf, sizeof(buf))) > 0)
		buf_add(&plain, buf, (size_t)n);
	if (gz)
		gzclose(gz);
	sim_sha1_hex(plain.data, plain.len, want);
	is_str(sha1, want, "SHA-1 is of the decompressed bytes");
	ok(plain.len > 3 && memcmp(plain.data, "\xEF\xBB\xBF", 3) == 0, "starts with a BOM");
	ok(strstr(buf_str(&plain), "`ORD-U-1,") != NULL, "the payment row is there");
	buf_release(&plain);
	is_int(sim_bill_make(s, false, "BASIC", day, path, sha1, &err), 1, "fund-flow bill");
	unlink(path);
}

int main(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct sim_keys k;
	struct sim *s = xcalloc(1, sizeof(*s));

	test_auth_parse();
	test_base64();
	test_times();
	test_checks();
	test_fees();
	test_route();
	if (sim_keys_load(&k, "fixtures/keys", &err) == 0) {
		test_crypto(&k);
		sim_keys_release(&k);
	} else {
		diag("skipping crypto: %s", err.msg);
	}
	ok(sim_keys_load(&k, "/nonexistent", &err) < 0 && err.code == WXR_ECONFIG,
	   "missing keys are a configuration error");
	sim_state_init(&s->st);
	s->cfg.mchid = "1900000001";
	test_bill_make(s);
	sim_state_release(&s->st);
	free(s);
	return done_testing();
}
