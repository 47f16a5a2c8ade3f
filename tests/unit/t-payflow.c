/*
 * t-payflow.c - the payment flow's checks and rules, and notification
 * handling against a real (temporary) database: verification, dedupe,
 * payments, refund states, held problems, a locked database.
 *
 * Notifications are made here as WeChat Pay makes them: the resource
 * AES-256-GCM-encrypted with the APIv3 key, the body signed with the
 * "WeChat Pay" test key of fixtures/keys (whose public half the client
 * trusts as PUB_KEY_ID_...).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/xalloc.h"
#include "core/payflow.h"
#include "db/audit.h"
#include "db/db.h"
#include "db/db_payflow.h"
#include "wx/crypto.h"
#include "wxpay.h"

#define MCHID  "1900000001"
#define SERIAL "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
#define PUBID  "PUB_KEY_ID_0119000000012024000000000000"
#define SH     (8 * 3600)

static char keys_dir[4096];
static char tmpdir[256];
static struct crypto_key *wechat_key;
static char apiv3[33];
static int seq;

static void find_keys(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');

	if (access("fixtures/keys/README.md", R_OK) == 0) {
		snprintf(keys_dir, sizeof(keys_dir), "fixtures/keys");
		return;
	}
	snprintf(keys_dir, sizeof(keys_dir), "%.*s/../../../fixtures/keys",
	         slash ? (int)(slash - argv0) : 1, slash ? argv0 : ".");
}

static char *read_key_file(const char *name, size_t *out_len)
{
	char path[8192];

	snprintf(path, sizeof(path), "%s/%s", keys_dir, name);
	return t_slurp(path, out_len);
}

static struct wxpay *client(void)
{
	struct wxpay_config cfg;
	struct wxr_err err = WXR_ERR_INIT;
	char path[8192];
	size_t len = 0;
	char *pem = read_key_file("apiclient_key.pem", &len);
	struct wxpay *w;

	snprintf(path, sizeof(path), "%s/pub_key.pem", keys_dir);
	memset(&cfg, 0, sizeof(cfg));
	cfg.mchid = MCHID;
	cfg.appid = "wx8888888888888888";
	cfg.serial_no = SERIAL;
	cfg.private_key_pem = pem;
	cfg.private_key_pem_len = len;
	cfg.apiv3_key = apiv3;
	cfg.apiv3_key_len = 32;
	cfg.wechatpay_public_key_path = path;
	cfg.wechatpay_public_key_id = PUBID;
	cfg.base_url = "http://127.0.0.1:1";
	w = wxpay_new(&cfg, &err);
	if (!w)
		diag("wxpay_new: %s", err.msg);
	free(pem);
	return w;
}

/* ---- notifications as WeChat Pay makes them ---- */

enum fault { F_NONE, F_TAMPER, F_STALE, F_PROBE, F_BADTAG, F_NOTJSON };

struct notif {
	char *body;
	char ts[24], nonce[40];
	char *sig;
	struct wxpay_notify_headers h;
};

static void notif_release(struct notif *n)
{
	free(n->body);
	free(n->sig);
	memset(n, 0, sizeof(*n));
}

static void make_notif(struct notif *n, const char *id, const char *event, const char *otype,
                       const char *payload, enum fault f)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct buf ct = BUF_INIT, msg = BUF_INIT;
	const char nonce12[] = "abcdefABCDEF";
	char *ct64;

	memset(n, 0, sizeof(*n));
	crypto_aesgcm_encrypt(apiv3, 32, nonce12, 12, otype, strlen(otype), payload,
	                      strlen(payload), &ct, &err);
	if (f == F_BADTAG)
		ct.data[0] ^= 1;
	ct64 = crypto_b64_encode(ct.data, ct.len);
	if (f == F_NOTJSON)
		n->body = xstrdup("this is not JSON");
	else
		n->body = xasprintf("{\"id\":\"%s\",\"create_time\":\"2026-11-01T10:00:05+08:00\","
		                    "\"resource_type\":\"encrypt-resource\",\"event_type\":\"%s\","
		                    "\"summary\":\"s\",\"resource\":{\"original_type\":\"%s\","
		                    "\"algorithm\":\"AEAD_AES_256_GCM\",\"ciphertext\":\"%s\","
		                    "\"associated_data\":\"%s\",\"nonce\":\"%s\"}}",
		                    id, event, otype, ct64, otype, nonce12);
	snprintf(n->ts, sizeof(n->ts), "%lld", (long long)time(NULL) - (f == F_STALE ? 600 : 0));
	snprintf(n->nonce, sizeof(n->nonce), "n%08d", ++seq);
	buf_addf(&msg, "%s\n%s\n%s\n", n->ts, n->nonce, n->body);
	if (f == F_PROBE)
		n->sig = xstrdup("WECHATPAY/SIGNTEST/abcdefg");
	else
		crypto_sign_sha256(wechat_key, msg.data, msg.len, &n->sig, &err);
	if (f == F_TAMPER) {
		char *t = xasprintf("%s ", n->body);

		free(n->body);
		n->body = t;
	}
	n->h.timestamp = n->ts;
	n->h.nonce = n->nonce;
	n->h.signature = n->sig;
	n->h.serial = PUBID;
	n->h.signature_type = "WECHATPAY2-SHA256-RSA2048";
	free(ct64);
	buf_release(&ct);
	buf_release(&msg);
}

static char *txn_payload(const char *otn, const char *tid, int64_t total, const char *mchid)
{
	return xasprintf(
	        "{\"appid\":\"wx8888888888888888\",\"mchid\":\"%s\",\"out_trade_no\":\"%s\","
	        "\"transaction_id\":\"%s\",\"trade_type\":\"APP\",\"trade_state\":"
	        "\"SUCCESS\",\"trade_state_desc\":\"ok\",\"bank_type\":\"OTHERS\","
	        "\"attach\":\"\",\"success_time\":\"2026-11-01T23:59:30+08:00\","
	        "\"payer\":{\"openid\":\"o1\"},\"amount\":{\"total\":%lld,\"payer_total\":"
	        "%lld,\"currency\":\"CNY\",\"payer_currency\":\"CNY\"}}",
	        mchid, otn, tid, (long long)total, (long long)total);
}

static char *refund_payload(const char *orn, const char *otn, const char *rid, const char *status,
                            int64_t amount, int64_t total)
{
	return xasprintf(
	        "{\"mchid\":\"" MCHID "\",\"transaction_id\":\"4200\",\"out_trade_no\":\"%s\","
	        "\"refund_id\":\"%s\",\"out_refund_no\":\"%s\",\"refund_status\":\"%s\","
	        "%s\"user_received_account\":\"x\",\"amount\":{\"total\":%lld,\"refund\":%lld,"
	        "\"payer_total\":%lld,\"payer_refund\":%lld}}",
	        otn, rid, orn, status,
	        strcmp(status, "SUCCESS") == 0 ? "\"success_time\":\"2026-11-02T09:00:00+08:00\","
	                                       : "",
	        (long long)total, (long long)amount, (long long)total, (long long)amount);
}

/* ---- database helpers ---- */

static struct db *db;

static int64_t q_int(const char *sql, const char *arg)
{
	struct db_stmt *st = NULL;
	struct wxr_err err = WXR_ERR_INIT;
	int64_t v = -1;

	if (db_prepare(db, sql, &st, &err) < 0) {
		diag("%s", err.msg);
		return -1;
	}
	if (arg)
		db_bind_text(st, 1, arg);
	if (db_step(st) == DB_ROW)
		v = db_col_i64(st, 0);
	db_finalize(st);
	return v;
}

static char qbuf[512];

static const char *q_str(const char *sql, const char *arg)
{
	struct db_stmt *st = NULL;
	struct wxr_err err = WXR_ERR_INIT;

	snprintf(qbuf, sizeof(qbuf), "(none)");
	if (db_prepare(db, sql, &st, &err) < 0) {
		diag("%s", err.msg);
		return qbuf;
	}
	if (arg)
		db_bind_text(st, 1, arg);
	if (db_step(st) == DB_ROW)
		snprintf(qbuf, sizeof(qbuf), "%s", db_col_text(st, 0));
	db_finalize(st);
	return qbuf;
}

static void add_order(const char *otn, int64_t total, const char *state)
{
	struct payflow_db_new_order o;
	struct wxr_err err = WXR_ERR_INIT;
	int64_t created;

	time_parse_rfc3339("2026-11-01T10:00:00+08:00", &created, NULL);
	memset(&o, 0, sizeof(o));
	o.out_trade_no = otn;
	o.description = "d";
	o.notify_url = "https://example.com/n";
	o.amount_total = total;
	o.created_ts = created;
	o.payable_until_ts = created + 7 * 86400;
	if (payflow_db_order_insert(db, MCHID, SH, &o, &err) < 0)
		diag("add_order: %s", err.msg);
	if (strcmp(state, "NOTPAY") != 0) {
		char *sql = xasprintf(
		        "UPDATE ledger_orders SET state = '%s'%s WHERE out_trade_no = ?", state,
		        strcmp(state, "CLOSED") == 0
		                ? ""
		                : ", transaction_id = 'T-PRE', paid_ts = 1793500000,"
		                  " paid_at = '2026-11-01T10:00:00+08:00'");
		struct db_stmt *st = NULL;

		db_prepare(db, sql, &st, &err);
		db_bind_text(st, 1, otn);
		db_step(st);
		db_finalize(st);
		free(sql);
	}
}

static void add_refund(const char *orn, const char *otn, int64_t amount, int64_t created_ts)
{
	struct payflow_db_new_refund r;
	struct wxr_err err = WXR_ERR_INIT;

	memset(&r, 0, sizeof(r));
	r.out_refund_no = orn;
	r.out_trade_no = otn;
	r.amount_refund = amount;
	r.amount_total = 1000;
	r.created_ts = created_ts;
	if (payflow_db_refund_insert(db, MCHID, SH, &r, &err) < 0)
		diag("add_refund: %s", err.msg);
}

/* ---- the tests ---- */

static void test_checks(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	int64_t v = 0, ts = 0, now;
	char out[CLOCK_RFC3339_LEN];

	ok(payflow_is_out_trade_no("ORD001"), "6 characters is an out_trade_no");
	ok(!payflow_is_out_trade_no("ORD01"), "5 is too short");
	ok(payflow_is_out_trade_no("A_b-c|d*e0123456789012345678901"), "32 with _-|*");
	ok(!payflow_is_out_trade_no("A0123456789012345678901234567890X"), "33 is too long");
	ok(!payflow_is_out_trade_no("ORD 01"), "no spaces");
	ok(!payflow_is_out_trade_no("ORD@01"), "no @ in an out_trade_no");
	ok(payflow_is_out_refund_no("R"), "1 character is an out_refund_no");
	ok(payflow_is_out_refund_no("R@1|2*3-4_5"), "@ | * - _ in an out_refund_no");
	ok(!payflow_is_out_refund_no(""), "empty is not");
	ok(!payflow_is_out_refund_no("R;DROP"), "no ;");

	is_int(payflow_parse_fen("--amount", "2500", &v, &err), 0, "2500 fen");
	is_int(v, 2500, "parsed");
	is_int(payflow_parse_fen("--amount", "0", &v, &err), WXR_EUSAGE, "0 fen refused");
	is_int(payflow_parse_fen("--amount", "12.50", &v, &err), WXR_EUSAGE, "decimals refused");
	ok(strstr(err.msg, "whole number of fen") != NULL, "the message says fen");
	is_int(payflow_parse_fen("--amount", "-5", &v, &err), WXR_EUSAGE, "negative refused");
	is_int(payflow_parse_fen("--amount", "99999999999999", &v, &err), WXR_EUSAGE,
	       "14 digits refused");
	is_int(payflow_parse_fen("--amount", "", &v, &err), WXR_EUSAGE, "empty refused");

	is_int(payflow_check_text("description", "测试商品", 127, true, &err), 0,
	       "Chinese is fine");
	is_int(payflow_check_text("description", "", 127, true, &err), WXR_EUSAGE,
	       "empty required text refused");
	is_int(payflow_check_text("attach", NULL, 128, false, &err), 0, "absent optional text");
	is_int(payflow_check_text("description", "cake \xF0\x9F\x8E\x82", 127, true, &err),
	       WXR_EUSAGE, "an emoji (4-byte UTF-8) refused");
	is_int(payflow_check_text("description", "a\tb", 127, true, &err), WXR_EUSAGE,
	       "a control character refused");
	is_int(payflow_check_text("description", "\xC3(", 127, true, &err), WXR_EUSAGE,
	       "broken UTF-8 refused");
	is_int(payflow_check_text("description", "\xED\xA0\x80", 127, true, &err), WXR_EUSAGE,
	       "a UTF-16 surrogate refused");
	is_int(payflow_check_text("reason",
	                          "一二三四五六七八九十一二三四五六七八九十一二三四五六七", 80,
	                          false, &err),
	       WXR_EUSAGE, "81 bytes is over 80");

	is_int(payflow_check_notify_url("https://pay.example.com/wx/notify", &err), 0,
	       "an https URL");
	is_int(payflow_check_notify_url("http://127.0.0.1:8080/n", &err), 0, "an http URL");
	is_int(payflow_check_notify_url("https://x.com/n?a=1", &err), WXR_EUSAGE,
	       "a query string refused");
	is_int(payflow_check_notify_url("ftp://x.com/n", &err), WXR_EUSAGE, "ftp refused");
	is_int(payflow_check_notify_url("https:///n", &err), WXR_EUSAGE, "no host refused");
	is_int(payflow_check_notify_url("https://x.com/a b", &err), WXR_EUSAGE, "a space refused");

	is_int(payflow_time_expire("2026-11-01T04:00:00Z", SH, out, &ts, &err), 0,
	       "time_expire in UTC");
	is_str(out, "2026-11-01T12:00:00+08:00", "sent at the business timezone");
	is_int(payflow_time_expire("2026-11-01T12:00:00.5+08:00", SH, out, &ts, &err), 0,
	       "a fraction is accepted");
	is_str(out, "2026-11-01T12:00:00+08:00", "and dropped");
	is_int(payflow_time_expire("2026-11-01 12:00:00", SH, out, &ts, &err), WXR_EUSAGE,
	       "no offset: refused");
	time_parse_rfc3339("2026-11-01T10:00:00+08:00", &now, NULL);
	is_int(payflow_check_expire_window(now + 60, now, SH, &err), 0, "now + 1 min is fine");
	is_int(payflow_check_expire_window(now + 59, now, SH, &err), WXR_EUSAGE,
	       "now + 59 s refused");
	ok(strstr(err.msg, "less than a minute") != NULL, "saying why");
	is_int(payflow_check_expire_window(now + 90 * 86400, now, SH, &err), 0, "90 days is fine");
	is_int(payflow_check_expire_window(now + 90 * 86400 + 1, now, SH, &err), WXR_EUSAGE,
	       "90 days + 1 s refused");
}

static void test_refund_rules(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct payflow_refund_facts f;
	int64_t now;

	time_parse_rfc3339("2026-11-02T10:00:00+08:00", &now, NULL);
	memset(&f, 0, sizeof(f));
	f.out_trade_no = "ORD001";
	f.order_state = "PAID";
	f.order_total = 1000;
	f.paid_ts = now - 86400;
	f.amount = 1000;
	f.now = now;
	f.tz_offset_s = SH;
	is_int(payflow_refund_check(&f, &err), 0, "a full refund of a paid order");
	f.order_state = "PARTIAL_REFUNDED";
	f.refunded_fen = 400;
	f.refunds = 1;
	f.last_refund_ts = now - 60;
	f.amount = 600;
	is_int(payflow_refund_check(&f, &err), 0, "the rest of a partly refunded order");
	f.amount = 601;
	is_int(payflow_refund_check(&f, &err), WXR_EDATA, "1 fen more than the rest: refused");
	ok(strstr(err.msg, "would total 1001 fen, more than its 1000 fen") != NULL, "saying so");
	f.amount = 100;
	f.last_refund_ts = now - 59;
	is_int(payflow_refund_check(&f, &err), WXR_EDATA, "59 s after the last refund: refused");
	ok(strstr(err.msg, "at least a minute apart (try again in 1 s)") != NULL, "saying when");
	f.last_refund_ts = now - 3600;
	f.refunds = 50;
	f.refunded_fen = 0;
	is_int(payflow_refund_check(&f, &err), WXR_EDATA, "a 51st refund: refused");
	f.refunds = 49;
	is_int(payflow_refund_check(&f, &err), 0, "a 50th is fine");
	f.paid_ts = now - 365 * 86400;
	is_int(payflow_refund_check(&f, &err), 0, "exactly a year after payment is fine");
	f.paid_ts = now - 365 * 86400 - 1;
	is_int(payflow_refund_check(&f, &err), WXR_EDATA, "a year and a second: refused");
	ok(strstr(err.msg, "more than a year ago") != NULL, "saying so");
	f.paid_ts = now - 10;
	f.order_state = "NOTPAY";
	is_int(payflow_refund_check(&f, &err), WXR_EDATA, "an unpaid order: refused");
	f.order_state = "REFUNDED";
	is_int(payflow_refund_check(&f, &err), WXR_EDATA, "a refunded order: refused");
	f.order_state = "PAID";
	f.paid_ts = 0;
	is_int(payflow_refund_check(&f, &err), WXR_EDATA, "no paid_at: refused");
}

/*
 * The APP invoke signature of `order sign`, for fixed inputs (the timestamp,
 * nonce and prepay_id of PROTOCOL section 7 item 10, whose published key
 * pairing is unconfirmed) with the test merchant key of fixtures/keys. The
 * expected value was made and checked with the OpenSSL command line, not
 * with this code:
 *   printf 'wx8888888888888888\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n'\
 *          'wx201410272009395522657a690389285100\n' >msg
 *   openssl dgst -sha256 -sign fixtures/keys/apiclient_key.pem msg | base64 -w0
 *   openssl x509 -in fixtures/keys/apiclient_cert.pem -pubkey -noout >pub.pem
 *   openssl dgst -sha256 -verify pub.pem -signature <(base64 -d sig.b64) msg  # Verified OK
 */
static void test_app_sign(struct wxpay *w)
{
	static const char want[] =
	        "deCG30x5HPTY+GLm4S8k7Bwp9yGgli+QleF/87YsqnVNZvW6ovSHYFgwQZkQky7HFeCWC13eWiDb"
	        "EeKPvSv1mwr6m7YVbH6W6xqSE6e1urbVe3OE34Y+/BV22+gqKvC8qDpjpi0MjfOl3KEFYhRyFNBN"
	        "T9ZWFqOjCgB0AFwjMe74egbJWtYEz7SjxTXkJQSStyYhpsQamIUz1btfRIi6xvAm4G4cDSicCZG7"
	        "OwXSPCHzrisEHWcy6y7k9x6UEfic3Y0xjwhc1E1Grp6kJLnc14wTdzrh2NIO10H0Z2vA/XVKupR8"
	        "pI0At3rvtnTnI0nAUnolZvT96vGZUs1qr7oCww==";
	struct wxpay_app_invoke a;
	struct wxr_err err = WXR_ERR_INIT;

	memset(&a, 0, sizeof(a));
	is_int(wxpay_app_invoke_at(w, "wx201410272009395522657a690389285100", 1554208460,
	                           "593BEC0C930BF1AFEB40B4A08C8FB242", &a, &err),
	       0, "APP invoke parameters for fixed inputs");
	is_str(a.sign, want, "sign equals the one openssl made (and verified) over the 4 lines");
	is_str(a.package, "Sign=WXPay", "package");
	is_str(a.partnerid, MCHID, "partnerid is the mchid");
	wxpay_app_invoke_release(&a);
}

static void handle(struct wxpay *w, struct notif *n, enum paid_after_close pac,
                   struct payflow_notify_answer *a)
{
	struct payflow_env env;

	memset(&env, 0, sizeof(env));
	env.db = db;
	env.wx = w;
	env.mchid = MCHID;
	env.tz_offset_s = SH;
	env.now = time(NULL);
	env.paid_after_close = pac;
	payflow_notify_handle(&env, &n->h, n->body, strlen(n->body), a);
}

static void send_txn(struct wxpay *w, const char *id, const char *otn, const char *tid,
                     int64_t total, const char *mchid, enum fault f, enum paid_after_close pac,
                     struct payflow_notify_answer *a)
{
	struct notif n;
	char *p = txn_payload(otn, tid, total, mchid);

	make_notif(&n, id, "TRANSACTION.SUCCESS", "transaction", p, f);
	handle(w, &n, pac, a);
	notif_release(&n);
	free(p);
}

static void send_refund(struct wxpay *w, const char *id, const char *orn, const char *otn,
                        const char *status, int64_t amount, struct payflow_notify_answer *a)
{
	struct notif n;
	char *p = refund_payload(orn, otn, "5030001", status, amount, 1000);
	char *event = xasprintf("REFUND.%s", status);

	make_notif(&n, id, event, "refund", p, F_NONE);
	handle(w, &n, PAID_AFTER_CLOSE_MARK_PAID, a);
	notif_release(&n);
	free(p);
	free(event);
}

static const char count_notifications[] = "SELECT count(*) FROM notifications";
static const char order_state[] = "SELECT state FROM ledger_orders WHERE out_trade_no = ?";
static const char refund_state[] = "SELECT state FROM ledger_refunds WHERE out_refund_no = ?";

static void test_payments(struct wxpay *w)
{
	struct payflow_notify_answer a;
	int64_t before;

	add_order("ORD-PAY-1", 1000, "NOTPAY");
	send_txn(w, "N-1", "ORD-PAY-1", "4200000001", 1000, MCHID, F_NONE,
	         PAID_AFTER_CLOSE_MARK_PAID, &a);
	is_int(a.http_status, 204, "a payment is acknowledged with 204");
	is_str(a.outcome, "applied", "and applied");
	is_str(q_str(order_state, "ORD-PAY-1"), "PAID", "the order is PAID");
	is_str(q_str("SELECT transaction_id || ' ' || paid_at || ' ' || paid_date FROM "
	             "ledger_orders"
	             " WHERE out_trade_no = ?",
	             "ORD-PAY-1"),
	       "4200000001 2026-11-01T23:59:30+08:00 2026-11-01",
	       "with transaction_id, paid_at and paid_date (Asia/Shanghai)");
	is_int(q_int("SELECT count(*) FROM audit_log WHERE event = 'order.state' AND subject = ?"
	             " AND detail LIKE '%\"from\":\"NOTPAY\",\"to\":\"PAID\"%'",
	             "ORD-PAY-1"),
	       1, "the state change is audited");
	is_int(q_int("SELECT count(*) FROM audit_log WHERE event = 'notify.applied' AND subject = "
	             "?",
	             "N-1"),
	       1, "and the notification");

	send_txn(w, "N-1", "ORD-PAY-1", "4200000001", 1000, MCHID, F_NONE,
	         PAID_AFTER_CLOSE_MARK_PAID, &a);
	is_int(a.http_status, 204, "a repeat is acknowledged");
	is_str(a.outcome, "duplicate", "as a duplicate");
	is_int(q_int("SELECT repeats FROM notifications WHERE id = ?", "N-1"), 1,
	       "counted, not recorded twice");
	is_int(q_int("SELECT count(*) FROM audit_log WHERE event = 'order.state' AND subject = ?",
	             "ORD-PAY-1"),
	       1, "and changes nothing");

	send_txn(w, "N-2", "ORD-PAY-1", "4200000001", 1000, MCHID, F_NONE,
	         PAID_AFTER_CLOSE_MARK_PAID, &a);
	is_str(a.outcome, "unchanged", "the same payment under a new id: unchanged");

	send_txn(w, "N-3", "ORD-PAY-1", "4200000999", 1000, MCHID, F_NONE,
	         PAID_AFTER_CLOSE_MARK_PAID, &a);
	is_str(a.outcome, "held", "another transaction for a paid order: held");
	ok(strstr(a.detail, "a second payment?") != NULL, "saying why");

	add_order("ORD-PAY-2", 1000, "NOTPAY");
	send_txn(w, "N-4", "ORD-PAY-2", "4200000002", 999, MCHID, F_NONE,
	         PAID_AFTER_CLOSE_MARK_PAID, &a);
	is_int(a.http_status, 204, "an amount mismatch is acknowledged");
	is_str(a.outcome, "held", "and held");
	is_str(q_str(order_state, "ORD-PAY-2"), "NOTPAY", "the order is left NOTPAY");
	is_int(q_int("SELECT amount_total FROM ledger_orders WHERE out_trade_no = ?", "ORD-PAY-2"),
	       1000, "its amount is not overwritten");
	is_str(q_str("SELECT outcome || ': ' || reason FROM notifications WHERE id = ?", "N-4"),
	       "held: paid 999 fen, the ledger says 1000 fen: the order is left NOTPAY for a "
	       "person "
	       "to look at",
	       "the notification records the problem");
	is_int(q_int("SELECT count(*) FROM audit_log WHERE event = 'notify.held' AND subject = ?",
	             "N-4"),
	       1, "and it is audited");

	send_txn(w, "N-5", "NO-SUCH-ORDER", "4200000003", 5, MCHID, F_NONE,
	         PAID_AFTER_CLOSE_MARK_PAID, &a);
	is_int(a.http_status, 204, "an unknown order is acknowledged");
	is_str(a.outcome, "unknown", "and recorded as unknown");
	is_int(q_int("SELECT count(*) FROM notifications WHERE out_trade_no = ? AND outcome ="
	             " 'unknown'",
	             "NO-SUCH-ORDER"),
	       1, "with its out_trade_no");

	add_order("ORD-PAY-3", 1000, "NOTPAY");
	send_txn(w, "N-6", "ORD-PAY-3", "4200000004", 1000, "1900000999", F_NONE,
	         PAID_AFTER_CLOSE_MARK_PAID, &a);
	is_str(a.outcome, "held", "another merchant's payment: held");
	is_str(q_str(order_state, "ORD-PAY-3"), "NOTPAY", "nothing changes");

	add_order("ORD-PAY-4", 1000, "CLOSED");
	send_txn(w, "N-7", "ORD-PAY-4", "4200000005", 1000, MCHID, F_NONE, PAID_AFTER_CLOSE_HOLD,
	         &a);
	is_str(a.outcome, "held", "paid after close, policy hold: held");
	is_str(q_str(order_state, "ORD-PAY-4"), "CLOSED", "left CLOSED");
	send_txn(w, "N-8", "ORD-PAY-4", "4200000005", 1000, MCHID, F_NONE,
	         PAID_AFTER_CLOSE_MARK_PAID, &a);
	is_str(a.outcome, "applied", "paid after close, policy mark_paid: applied");
	is_str(q_str(order_state, "ORD-PAY-4"), "PAID", "PAID");

	/* Rejections change nothing. */
	add_order("ORD-PAY-5", 1000, "NOTPAY");
	before = q_int(count_notifications, NULL);
	{
		static const struct {
			enum fault f;
			int status;
			const char *name;
		} bad[] = {
			{ F_TAMPER, 401, "a tampered body" },
			{ F_STALE, 401, "a stale timestamp (10 minutes)" },
			{ F_PROBE, 401, "a signature probe" },
			{ F_BADTAG, 401, "a bad AES-GCM tag" },
			{ F_NOTJSON, 400, "a signed body that is not JSON" },
		};

		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			char name[128];

			send_txn(w, "N-9", "ORD-PAY-5", "4200000006", 1000, MCHID, bad[i].f,
			         PAID_AFTER_CLOSE_MARK_PAID, &a);
			snprintf(name, sizeof(name), "%s: %d", bad[i].name, bad[i].status);
			is_int(a.http_status, bad[i].status, name);
			is_str(a.outcome, "rejected", "rejected");
		}
	}
	is_str(q_str(order_state, "ORD-PAY-5"), "NOTPAY", "the order did not change");
	is_int(q_int(count_notifications, NULL), before, "nothing was recorded as received");
	is_int(q_int("SELECT count(*) FROM audit_log WHERE event = 'notify.rejected'", NULL), 5,
	       "every rejection is audited");
	send_txn(w, "N-9", "ORD-PAY-5", "4200000006", 1000, MCHID, F_NONE,
	         PAID_AFTER_CLOSE_MARK_PAID, &a);
	is_str(a.outcome, "applied", "the genuine one, sent again, is applied");

	{
		struct notif n;
		char *p = xstrdup("{\"x\":1}");

		make_notif(&n, "N-10", "MCHTRANSFER.BILL.FINISHED", "mch_payment", p, F_NONE);
		handle(w, &n, PAID_AFTER_CLOSE_MARK_PAID, &a);
		is_int(a.http_status, 204, "an event type we do not handle is acknowledged");
		is_str(a.outcome, "ignored", "and recorded as ignored");
		notif_release(&n);
		free(p);
	}
}

static void test_refunds(struct wxpay *w)
{
	struct payflow_notify_answer a;
	int64_t t0;

	time_parse_rfc3339("2026-11-02T08:00:00+08:00", &t0, NULL);
	add_order("ORD-RF-1", 1000, "PAID");
	add_refund("RF-1", "ORD-RF-1", 400, t0);
	add_refund("RF-2", "ORD-RF-1", 600, t0 + 120);

	send_refund(w, "R-1", "RF-1", "ORD-RF-1", "ABNORMAL", 400, &a);
	is_int(a.http_status, 204, "REFUND.ABNORMAL acknowledged");
	is_str(a.outcome, "applied", "applied");
	is_str(q_str(refund_state, "RF-1"), "ABNORMAL", "the refund is ABNORMAL");
	is_str(q_str("SELECT refund_id FROM ledger_refunds WHERE out_refund_no = ?", "RF-1"),
	       "5030001", "its refund_id is recorded");
	is_str(q_str(order_state, "ORD-RF-1"), "PAID", "the order is still PAID");

	send_refund(w, "R-2", "RF-1", "ORD-RF-1", "SUCCESS", 400, &a);
	is_str(a.outcome, "applied", "REFUND.SUCCESS after ABNORMAL: applied");
	is_str(q_str("SELECT state || ' ' || success_at FROM ledger_refunds WHERE out_refund_no = "
	             "?",
	             "RF-1"),
	       "SUCCESS 2026-11-02T09:00:00+08:00", "SUCCESS, with success_at");
	is_str(q_str(order_state, "ORD-RF-1"), "PARTIAL_REFUNDED", "the order: PARTIAL_REFUNDED");

	send_refund(w, "R-3", "RF-1", "ORD-RF-1", "ABNORMAL", 400, &a);
	is_str(a.outcome, "unchanged", "a late ABNORMAL after SUCCESS: unchanged");
	is_str(q_str(refund_state, "RF-1"), "SUCCESS", "still SUCCESS");

	send_refund(w, "R-4", "RF-1", "ORD-RF-1", "CLOSED", 400, &a);
	is_str(a.outcome, "held", "CLOSED after SUCCESS (both final): held");

	send_refund(w, "R-5", "RF-2", "ORD-RF-1", "SUCCESS", 599, &a);
	is_str(a.outcome, "held", "a refund amount that differs: held");
	is_str(q_str(refund_state, "RF-2"), "PROCESSING", "the refund is left PROCESSING");

	send_refund(w, "R-6", "RF-2", "ORD-RF-1", "SUCCESS", 600, &a);
	is_str(a.outcome, "applied", "the right amount: applied");
	is_str(q_str(order_state, "ORD-RF-1"), "REFUNDED", "all refunded: the order is REFUNDED");
	is_int(q_int("SELECT count(*) FROM audit_log WHERE event = 'order.state' AND subject = ?",
	             "ORD-RF-1"),
	       2, "both order changes are audited");

	send_refund(w, "R-7", "RF-NONE", "ORD-RF-1", "CLOSED", 1, &a);
	is_str(a.outcome, "unknown", "an unknown refund: recorded as unknown");
	{
		struct notif n;
		char *p = refund_payload("RF-2", "ORD-RF-1", "5030001", "SUCCESS", 600, 1000);

		make_notif(&n, "R-8", "REFUND.CLOSED", "refund", p, F_NONE);
		handle(w, &n, PAID_AFTER_CLOSE_MARK_PAID, &a);
		is_str(a.outcome, "held", "an event type that contradicts refund_status: held");
		notif_release(&n);
		free(p);
	}
}

static void test_locked(struct wxpay *w, const char *path)
{
	struct payflow_notify_answer a;
	struct db *other = NULL;
	struct wxr_err err = WXR_ERR_INIT;
	int64_t before;
	time_t t0;

	add_order("ORD-LOCK-1", 1000, "NOTPAY");
	before = q_int(count_notifications, NULL);
	if (db_open(path, &other, &err) < 0 || db_begin(other, &err) < 0) {
		diag("%s", err.msg);
		ok(0, "a second connection holds the write lock");
		db_close(other);
		return;
	}
	db_exec(other, "UPDATE ledger_orders SET updated_at = updated_at WHERE 0", &err);
	db_busy_timeout(db, 200);
	t0 = time(NULL);
	send_txn(w, "N-L-1", "ORD-LOCK-1", "4200000010", 1000, MCHID, F_NONE,
	         PAID_AFTER_CLOSE_MARK_PAID, &a);
	is_int(a.http_status, 500, "a locked database: 500, so that WeChat Pay retries");
	is_str(a.outcome, "error", "an error");
	ok(time(NULL) - t0 < 4, "answered quickly");
	db_rollback(other);
	db_close(other);
	is_int(q_int(count_notifications, NULL), before, "nothing recorded");
	is_str(q_str(order_state, "ORD-LOCK-1"), "NOTPAY", "nothing changed");
	send_txn(w, "N-L-1", "ORD-LOCK-1", "4200000010", 1000, MCHID, F_NONE,
	         PAID_AFTER_CLOSE_MARK_PAID, &a);
	is_str(a.outcome, "applied", "the retry after the lock is gone: applied");
}

static void test_audit_chain(void)
{
	struct audit_verify_result v;
	struct wxr_err err = WXR_ERR_INIT;

	is_int(audit_verify(db, &v, &err), 0, "the audit log reads");
	is_int(v.first_bad, 0, "and its chain is intact");
}

int main(int argc, char **argv)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay *w = NULL;
	char path[512];
	size_t len = 0;
	char *pem, *key;

	(void)argc;
	find_keys(argv[0]);
	key = read_key_file("apiv3.key", &len);
	if (!key || len < 32) {
		ok(0, "read the APIv3 key");
		free(key);
		return done_testing();
	}
	memcpy(apiv3, key, 32);
	free(key);
	pem = read_key_file("wechatpay_key.pem", &len);
	ok(pem && crypto_key_private_from_pem(pem, len, &wechat_key, &err) == 0,
	   "the simulator's WeChat Pay key");
	free(pem);
	t_tmpdir(tmpdir, sizeof(tmpdir), "t-payflow");
	snprintf(path, sizeof(path), "%s/db.sqlite", tmpdir);
	ok(db_open(path, &db, &err) == 0 && db_migrate(db, NULL, &err) == 0, "a migrated database");
	w = client();
	ok(w != NULL, "a client with the test keys");

	test_checks();
	test_refund_rules();
	if (w)
		test_app_sign(w);
	if (db && w) {
		test_payments(w);
		test_refunds(w);
		test_locked(w, path);
		test_audit_chain();
	}

	wxpay_free(w);
	crypto_key_free(wechat_key);
	db_close(db);
	{
		char p[600];

		snprintf(p, sizeof(p), "%s/db.sqlite-wal", tmpdir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/db.sqlite-shm", tmpdir);
		unlink(p);
		unlink(path);
		rmdir(tmpdir);
	}
	return done_testing();
}
