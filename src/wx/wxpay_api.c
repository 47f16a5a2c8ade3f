/*
 * wxpay_api.c - the typed WeChat Pay calls: orders, prepay, refunds,
 * abnormal refunds, bills and the bill download (PROTOCOL section 4).
 */
#include "wx/wxpay_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "base/err.h"
#include "base/xalloc.h"

#define ID_MAX 128 /* longest identifier we put in a URL path */

/* ---- JSON helpers ---- */

char *wxpay_jstr(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return xstrdup(s ? s : "");
}

int wxpay_jint(const json_t *obj, const char *key, int64_t *out, struct wxr_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v)) {
		*out = 0;
		return 0;
	}
	if (!json_is_integer(v))
		return err_set(err, WXR_EDATA, "field '%s' is not an integer", key);
	*out = (int64_t)json_integer_value(v);
	return 0;
}

int wxpay_jparse(const char *text, size_t len, json_t **out, struct wxr_err *err)
{
	json_error_t je;
	json_t *root = json_loadb(text ? text : "", len, 0, &je);

	if (!root)
		return err_set(err, WXR_EDATA, "bad JSON at line %d column %d: %s", je.line,
		               je.column, je.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return err_set(err, WXR_EDATA, "JSON is not an object");
	}
	*out = root;
	return 0;
}

/* Sets obj[key] = s; WXR_EDATA when s is not valid UTF-8 (secrets never in the message). */
static int jset_str(json_t *obj, const char *key, const char *s, struct wxr_err *err)
{
	if (json_object_set_new(obj, key, json_string(s)) < 0)
		return err_set(err, WXR_EDATA, "field '%s' is not valid UTF-8", key);
	return 0;
}

static int jset_opt(json_t *obj, const char *key, const char *s, struct wxr_err *err)
{
	return s && *s ? jset_str(obj, key, s, err) : 0;
}

/*
 * Serialises a request body compactly. WeChat Pay accepts only 1-3-byte UTF-8
 * characters (PROTOCOL section 0): 4-byte ones (emoji) are refused here.
 */
static int dump_body(json_t *obj, char **out, struct wxr_err *err)
{
	char *s = json_dumps(obj, JSON_COMPACT);

	if (!s)
		return err_set(err, WXR_EFAIL, "cannot serialise the request body");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0xF0) {
			free(s);
			return err_set(err, WXR_EDATA,
			               "request text contains a 4-byte UTF-8 character (e.g. an "
			               "emoji), which WeChat Pay refuses");
		}
	}
	*out = s;
	return 0;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* An identifier for a URL path or body: 1..ID_MAX printable ASCII characters. */
static int check_id(const char *what, const char *s, struct wxr_err *err)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0)
		return err_set(err, WXR_EUSAGE, "%s is missing", what);
	if (n > ID_MAX)
		return err_set(err, WXR_EUSAGE, "%s is longer than %d characters", what, ID_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return err_set(err, WXR_EUSAGE,
			               "%s '%.*s' has a character outside "
			               "printable ASCII",
			               what, (int)i, s);
	return 0;
}

static bool is_date(const char *s)
{
	if (!s || strlen(s) != 10)
		return false;
	for (int i = 0; i < 10; i++) {
		if (i == 4 || i == 7) {
			if (s[i] != '-')
				return false;
		} else if (!isdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

/* target = base_path + fmt..., new string. */
static char *target_of(const struct wxpay *w, const char *rest)
{
	return xasprintf("%s%s", w->base_path, rest);
}

/* Runs a JSON call and parses the answer (when out_root is not NULL). */
static int call_json(struct wxpay *w, struct wxpay_req *rq, json_t **out_root, struct wxr_err *err)
{
	struct http_response resp;
	int r;

	http_response_init(&resp);
	r = wxpay_request(w, rq, &resp, err);
	if (r < 0 || !out_root)
		goto out;
	r = wxpay_jparse(resp.body.data, resp.body.len, out_root, err);
	if (r < 0)
		err_prefix(err, "%s %s: answer", rq->method, rq->target);
out:
	http_response_release(&resp);
	return r;
}

/* ---- transactions ---- */

void wxpay_transaction_release(struct wxpay_transaction *t)
{
	if (!t)
		return;
	free(t->appid);
	free(t->mchid);
	free(t->out_trade_no);
	free(t->transaction_id);
	free(t->trade_type);
	free(t->trade_state);
	free(t->trade_state_desc);
	free(t->bank_type);
	free(t->attach);
	free(t->success_time);
	free(t->payer_openid);
	free(t->currency);
	free(t->payer_currency);
	memset(t, 0, sizeof(*t));
}

static int transaction_from(const json_t *o, struct wxpay_transaction *out, struct wxr_err *err)
{
	struct wxpay_transaction t;
	const json_t *amount = json_object_get(o, "amount");
	int r;

	memset(&t, 0, sizeof(t));
	r = wxpay_jint(amount, "total", &t.amount_total, err);
	if (r == 0)
		r = wxpay_jint(amount, "payer_total", &t.amount_payer_total, err);
	if (r < 0)
		return err_prefix(err, "transaction amount");
	t.appid = wxpay_jstr(o, "appid");
	t.mchid = wxpay_jstr(o, "mchid");
	t.out_trade_no = wxpay_jstr(o, "out_trade_no");
	t.transaction_id = wxpay_jstr(o, "transaction_id");
	t.trade_type = wxpay_jstr(o, "trade_type");
	t.trade_state = wxpay_jstr(o, "trade_state");
	t.trade_state_desc = wxpay_jstr(o, "trade_state_desc");
	t.bank_type = wxpay_jstr(o, "bank_type");
	t.attach = wxpay_jstr(o, "attach");
	t.success_time = wxpay_jstr(o, "success_time");
	t.payer_openid = wxpay_jstr(json_object_get(o, "payer"), "openid");
	t.currency = wxpay_jstr(amount, "currency");
	t.payer_currency = wxpay_jstr(amount, "payer_currency");
	*out = t;
	return 0;
}

int wxpay_transaction_parse(const char *json, size_t len, struct wxpay_transaction *out,
                            struct wxr_err *err)
{
	json_t *root = NULL;
	int r;

	r = wxpay_jparse(json, len, &root, err);
	if (r < 0)
		return err_prefix(err, "transaction");
	r = transaction_from(root, out, err);
	json_decref(root);
	return r;
}

static int query_order(struct wxpay *w, const char *kind, const char *id, const char *want_no,
                       struct wxpay_transaction *out, struct wxr_err *err)
{
	struct wxpay_req rq;
	struct wxpay_transaction t;
	json_t *root = NULL;
	char *eid = NULL, *emch = NULL, *rest = NULL, *target = NULL;
	int r;

	eid = wxpay_pct(id);
	emch = wxpay_pct(w->mchid);
	rest = xasprintf("/v3/pay/transactions/%s/%s?mchid=%s", kind, eid, emch);
	target = target_of(w, rest);
	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.target = target;
	rq.retry = true;
	rq.verify = true;
	r = call_json(w, &rq, &root, err);
	if (r < 0)
		goto out;
	r = transaction_from(root, &t, err);
	if (r < 0)
		goto out;
	if (want_no && t.out_trade_no[0] && strcmp(t.out_trade_no, want_no) != 0) {
		r = err_set(err, WXR_EDATA, "query of order '%s' answered for order '%s'", want_no,
		            t.out_trade_no);
		wxpay_transaction_release(&t);
		goto out;
	}
	*out = t;
out:
	json_decref(root);
	free(eid);
	free(emch);
	free(rest);
	free(target);
	return r;
}

int wxpay_query_order(struct wxpay *w, const char *out_trade_no, struct wxpay_transaction *out,
                      struct wxr_err *err)
{
	int r = check_id("out_trade_no", out_trade_no, err);

	if (r < 0)
		return r;
	return query_order(w, "out-trade-no", out_trade_no, out_trade_no, out, err);
}

int wxpay_query_order_by_id(struct wxpay *w, const char *transaction_id,
                            struct wxpay_transaction *out, struct wxr_err *err)
{
	int r = check_id("transaction_id", transaction_id, err);

	if (r < 0)
		return r;
	return query_order(w, "id", transaction_id, NULL, out, err);
}

int wxpay_close_order(struct wxpay *w, const char *out_trade_no, struct wxr_err *err)
{
	struct wxpay_req rq;
	json_t *body = NULL;
	char *text = NULL, *eno = NULL, *rest = NULL, *target = NULL;
	int r;

	r = check_id("out_trade_no", out_trade_no, err);
	if (r < 0)
		return r;
	body = json_object();
	r = jset_str(body, "mchid", w->mchid, err);
	if (r == 0)
		r = dump_body(body, &text, err);
	if (r < 0)
		goto out;
	eno = wxpay_pct(out_trade_no);
	rest = xasprintf("/v3/pay/transactions/out-trade-no/%s/close", eno);
	target = target_of(w, rest);
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.target = target;
	rq.body = text;
	rq.body_len = strlen(text);
	rq.retry = true;
	rq.verify = true;
	rq.money = true;
	r = call_json(w, &rq, NULL, err);
out:
	json_decref(body);
	free(text);
	free(eno);
	free(rest);
	free(target);
	return r;
}

/* ---- prepay ---- */

int wxpay_prepay_app(struct wxpay *w, const struct wxpay_prepay_req *req, char **out_prepay_id,
                     struct wxr_err *err)
{
	struct wxpay_req rq;
	json_t *body = NULL, *amount = NULL, *scene = NULL, *root = NULL;
	char *text = NULL, *target = NULL;
	const char *id;
	int r;

	if (!w->appid[0])
		return err_set(err, WXR_ECONFIG, "prepay needs the appid");
	r = check_id("out_trade_no", req->out_trade_no, err);
	if (r < 0)
		return r;
	if (!req->description || !*req->description)
		return err_set(err, WXR_EUSAGE, "prepay needs a description");
	if (!req->notify_url || !*req->notify_url)
		return err_set(err, WXR_EUSAGE, "prepay needs a notify_url");
	if (req->amount_total < 1)
		return err_set(err, WXR_EUSAGE, "prepay amount must be at least 1 fen");
	body = json_object();
	r = jset_str(body, "appid", w->appid, err);
	if (r == 0)
		r = jset_str(body, "mchid", w->mchid, err);
	if (r == 0)
		r = jset_str(body, "description", req->description, err);
	if (r == 0)
		r = jset_str(body, "out_trade_no", req->out_trade_no, err);
	if (r == 0)
		r = jset_opt(body, "time_expire", req->time_expire, err);
	if (r == 0)
		r = jset_opt(body, "attach", req->attach, err);
	if (r == 0)
		r = jset_str(body, "notify_url", req->notify_url, err);
	if (r < 0)
		goto out;
	amount = json_object();
	json_object_set_new(amount, "total", json_integer((json_int_t)req->amount_total));
	r = jset_str(amount, "currency", req->currency ? req->currency : "CNY", err);
	json_object_set(body, "amount", amount);
	if (r == 0 && req->payer_client_ip && *req->payer_client_ip) {
		scene = json_object();
		r = jset_str(scene, "payer_client_ip", req->payer_client_ip, err);
		json_object_set(body, "scene_info", scene);
	}
	if (r == 0)
		r = dump_body(body, &text, err);
	if (r < 0)
		goto out;
	target = target_of(w, "/v3/pay/transactions/app");
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.target = target;
	rq.body = text;
	rq.body_len = strlen(text);
	rq.retry = false;
	rq.verify = true;
	rq.money = true;
	r = call_json(w, &rq, &root, err);
	if (r < 0)
		goto out;
	id = json_string_value(json_object_get(root, "prepay_id"));
	if (!id || !*id) {
		r = err_set(err, WXR_EDATA,
		            "POST /v3/pay/transactions/app: answer has no prepay_id");
		goto out;
	}
	*out_prepay_id = xstrdup(id);
out:
	json_decref(root);
	json_decref(amount);
	json_decref(scene);
	json_decref(body);
	free(text);
	free(target);
	return r;
}

/* ---- refunds ---- */

void wxpay_refund_release(struct wxpay_refund *f)
{
	if (!f)
		return;
	free(f->refund_id);
	free(f->out_refund_no);
	free(f->transaction_id);
	free(f->out_trade_no);
	free(f->status);
	free(f->channel);
	free(f->user_received_account);
	free(f->funds_account);
	free(f->create_time);
	free(f->success_time);
	free(f->currency);
	memset(f, 0, sizeof(*f));
}

static int refund_from(const json_t *o, struct wxpay_refund *out, struct wxr_err *err)
{
	struct wxpay_refund f;
	const json_t *amount = json_object_get(o, "amount");
	int r;

	memset(&f, 0, sizeof(f));
	r = wxpay_jint(amount, "total", &f.amount_total, err);
	if (r == 0)
		r = wxpay_jint(amount, "refund", &f.amount_refund, err);
	if (r == 0)
		r = wxpay_jint(amount, "payer_total", &f.amount_payer_total, err);
	if (r == 0)
		r = wxpay_jint(amount, "payer_refund", &f.amount_payer_refund, err);
	if (r < 0)
		return err_prefix(err, "refund amount");
	f.refund_id = wxpay_jstr(o, "refund_id");
	f.out_refund_no = wxpay_jstr(o, "out_refund_no");
	f.transaction_id = wxpay_jstr(o, "transaction_id");
	f.out_trade_no = wxpay_jstr(o, "out_trade_no");
	/* "status" in the API, "refund_status" in notifications (PROTOCOL 3.4). */
	f.status = wxpay_jstr(o, "status");
	if (!f.status[0]) {
		free(f.status);
		f.status = wxpay_jstr(o, "refund_status");
	}
	f.channel = wxpay_jstr(o, "channel");
	f.user_received_account = wxpay_jstr(o, "user_received_account");
	f.funds_account = wxpay_jstr(o, "funds_account");
	f.create_time = wxpay_jstr(o, "create_time");
	f.success_time = wxpay_jstr(o, "success_time");
	f.currency = wxpay_jstr(amount, "currency");
	*out = f;
	return 0;
}

int wxpay_refund_parse(const char *json, size_t len, struct wxpay_refund *out, struct wxr_err *err)
{
	json_t *root = NULL;
	int r;

	r = wxpay_jparse(json, len, &root, err);
	if (r < 0)
		return err_prefix(err, "refund");
	r = refund_from(root, out, err);
	json_decref(root);
	return r;
}

/* Runs a refund-returning call and checks the answer names the refund asked for. */
static int call_refund(struct wxpay *w, struct wxpay_req *rq, const char *want_no,
                       struct wxpay_refund *out, struct wxr_err *err)
{
	struct wxpay_refund f;
	json_t *root = NULL;
	int r;

	r = call_json(w, rq, &root, err);
	if (r < 0)
		return r;
	r = refund_from(root, &f, err);
	json_decref(root);
	if (r < 0)
		return r;
	if (f.out_refund_no[0] && strcmp(f.out_refund_no, want_no) != 0) {
		r = err_set(err, WXR_EDATA, "refund '%s' answered for refund '%s'", want_no,
		            f.out_refund_no);
		wxpay_refund_release(&f);
		return r;
	}
	*out = f;
	return 0;
}

int wxpay_refund_create(struct wxpay *w, const struct wxpay_refund_req *req,
                        struct wxpay_refund *out, struct wxr_err *err)
{
	struct wxpay_req rq;
	json_t *body = NULL, *amount = NULL;
	char *text = NULL, *target = NULL;
	bool by_tid = req->transaction_id && *req->transaction_id;
	int r;

	r = check_id("out_refund_no", req->out_refund_no, err);
	if (r == 0)
		r = check_id(by_tid ? "transaction_id" : "out_trade_no",
		             by_tid ? req->transaction_id : req->out_trade_no, err);
	if (r < 0)
		return r;
	if (req->amount_refund < 1 || req->amount_total < req->amount_refund)
		return err_set(err, WXR_EUSAGE,
		               "refund of %lld fen from an order of %lld fen is not possible",
		               (long long)req->amount_refund, (long long)req->amount_total);
	body = json_object();
	r = jset_str(body, by_tid ? "transaction_id" : "out_trade_no",
	             by_tid ? req->transaction_id : req->out_trade_no, err);
	if (r == 0)
		r = jset_str(body, "out_refund_no", req->out_refund_no, err);
	if (r == 0)
		r = jset_opt(body, "reason", req->reason, err);
	if (r == 0)
		r = jset_opt(body, "notify_url", req->notify_url, err);
	if (r == 0)
		r = jset_opt(body, "funds_account", req->funds_account, err);
	if (r < 0)
		goto out;
	amount = json_object();
	json_object_set_new(amount, "refund", json_integer((json_int_t)req->amount_refund));
	json_object_set_new(amount, "total", json_integer((json_int_t)req->amount_total));
	r = jset_str(amount, "currency", req->currency ? req->currency : "CNY", err);
	json_object_set(body, "amount", amount);
	if (r == 0)
		r = dump_body(body, &text, err);
	if (r < 0)
		goto out;
	target = target_of(w, "/v3/refund/domestic/refunds");
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.target = target;
	rq.body = text;
	rq.body_len = strlen(text);
	rq.retry = true; /* same out_refund_no and body: at most one refund */
	rq.verify = true;
	rq.money = true;
	r = call_refund(w, &rq, req->out_refund_no, out, err);
out:
	json_decref(amount);
	json_decref(body);
	free(text);
	free(target);
	return r;
}

int wxpay_refund_query(struct wxpay *w, const char *out_refund_no, struct wxpay_refund *out,
                       struct wxr_err *err)
{
	struct wxpay_req rq;
	char *eno = NULL, *rest = NULL, *target = NULL;
	int r;

	r = check_id("out_refund_no", out_refund_no, err);
	if (r < 0)
		return r;
	eno = wxpay_pct(out_refund_no);
	rest = xasprintf("/v3/refund/domestic/refunds/%s", eno);
	target = target_of(w, rest);
	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.target = target;
	rq.retry = true;
	rq.verify = true;
	r = call_refund(w, &rq, out_refund_no, out, err);
	free(eno);
	free(rest);
	free(target);
	return r;
}

static void wipe_str(char *s)
{
	if (s)
		crypto_wipe(s, strlen(s));
}

int wxpay_refund_abnormal(struct wxpay *w, struct wxpay_abnormal_refund_req *req,
                          struct wxpay_refund *out, struct wxr_err *err)
{
	struct wxpay_req rq;
	const struct crypto_key *key = NULL;
	const char *serial = NULL;
	json_t *body = NULL;
	char *text = NULL, *eid = NULL, *rest = NULL, *target = NULL;
	char *enc_account = NULL, *enc_name = NULL;
	bool user_card;
	int r;

	r = check_id("refund_id", req->refund_id, err);
	if (r == 0)
		r = check_id("out_refund_no", req->out_refund_no, err);
	if (r < 0)
		goto out;
	user_card = req->type && strcmp(req->type, "USER_BANK_CARD") == 0;
	if (!user_card && !(req->type && strcmp(req->type, "MERCHANT_BANK_CARD") == 0)) {
		r = err_set(err, WXR_EUSAGE,
		            "abnormal refund type must be MERCHANT_BANK_CARD or USER_BANK_CARD");
		goto out;
	}
	body = json_object();
	r = jset_str(body, "out_refund_no", req->out_refund_no, err);
	if (r == 0)
		r = jset_str(body, "type", req->type, err);
	if (r < 0)
		goto out;
	if (user_card) {
		if (!req->bank_type || !*req->bank_type || !req->bank_account ||
		    !*req->bank_account || !req->real_name || !*req->real_name) {
			r = err_set(err, WXR_EUSAGE,
			            "USER_BANK_CARD needs bank_type, bank_account and real_name");
			goto out;
		}
		serial = wxpay_request_serial(w, &key);
		if (!serial || !key) {
			r = err_set(err, WXR_ECONFIG,
			            "USER_BANK_CARD needs the WeChat Pay public key or a platform "
			            "certificate to encrypt the account");
			goto out;
		}
		r = crypto_oaep_encrypt(key, req->bank_account, strlen(req->bank_account),
		                        &enc_account, err);
		if (r == 0)
			r = crypto_oaep_encrypt(key, req->real_name, strlen(req->real_name),
			                        &enc_name, err);
		if (r < 0) {
			err_prefix(err, "encrypting the bank details");
			goto out;
		}
		r = jset_str(body, "bank_type", req->bank_type, err);
		if (r == 0)
			r = jset_str(body, "bank_account", enc_account, err);
		if (r == 0)
			r = jset_str(body, "real_name", enc_name, err);
		if (r < 0)
			goto out;
	}
	r = dump_body(body, &text, err);
	if (r < 0)
		goto out;
	eid = wxpay_pct(req->refund_id);
	rest = xasprintf("/v3/refund/domestic/refunds/%s/apply-abnormal-refund", eid);
	target = target_of(w, rest);
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.target = target;
	rq.body = text;
	rq.body_len = strlen(text);
	rq.retry = true;
	rq.verify = true;
	rq.money = true;
	rq.wechatpay_serial = serial; /* the key the fields were encrypted for */
	r = call_refund(w, &rq, req->out_refund_no, out, err);
out:
	wipe_str(req->bank_account);
	wipe_str(req->real_name);
	json_decref(body);
	free(text);
	free(enc_account);
	free(enc_name);
	free(eid);
	free(rest);
	free(target);
	return r;
}

/* ---- bills ---- */

void wxpay_bill_release(struct wxpay_bill *b)
{
	if (!b)
		return;
	free(b->hash_type);
	free(b->hash_value);
	free(b->download_url);
	memset(b, 0, sizeof(*b));
}

static int apply_bill(struct wxpay *w, const char *rest, struct wxpay_bill *out,
                      struct wxr_err *err)
{
	struct wxpay_req rq;
	struct wxpay_bill b;
	json_t *root = NULL;
	char *target = target_of(w, rest);
	int r;

	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.target = target;
	rq.retry = true;
	rq.verify = true;
	r = call_json(w, &rq, &root, err);
	if (r < 0)
		goto out;
	b.hash_type = wxpay_jstr(root, "hash_type");
	b.hash_value = wxpay_jstr(root, "hash_value");
	b.download_url = wxpay_jstr(root, "download_url");
	if (!b.download_url[0] || !b.hash_value[0]) {
		r = err_set(err, WXR_EDATA, "GET %s: answer lacks download_url or hash_value",
		            target);
		wxpay_bill_release(&b);
		goto out;
	}
	*out = b;
out:
	json_decref(root);
	free(target);
	return r;
}

static int check_bill_arg(const char *what, const char *s, struct wxr_err *err)
{
	for (const char *p = s; *p; p++)
		if (!isupper((unsigned char)*p) && *p != '_')
			return err_set(err, WXR_EUSAGE, "bad %s '%s'", what, s);
	return 0;
}

int wxpay_bill_trade(struct wxpay *w, const char *bill_date, const char *bill_type, bool gzip,
                     struct wxpay_bill *out, struct wxr_err *err)
{
	const char *type = bill_type && *bill_type ? bill_type : "ALL";
	char *rest;
	int r;

	if (!is_date(bill_date))
		return err_set(err, WXR_EUSAGE, "bill date '%s' is not YYYY-MM-DD", nz(bill_date));
	r = check_bill_arg("bill_type", type, err);
	if (r < 0)
		return r;
	rest = xasprintf("/v3/bill/tradebill?bill_date=%s&bill_type=%s%s", bill_date, type,
	                 gzip ? "&tar_type=GZIP" : "");
	r = apply_bill(w, rest, out, err);
	free(rest);
	return r;
}

int wxpay_bill_fundflow(struct wxpay *w, const char *bill_date, const char *account_type, bool gzip,
                        struct wxpay_bill *out, struct wxr_err *err)
{
	const char *type = account_type && *account_type ? account_type : "BASIC";
	char *rest;
	int r;

	if (!is_date(bill_date))
		return err_set(err, WXR_EUSAGE, "bill date '%s' is not YYYY-MM-DD", nz(bill_date));
	r = check_bill_arg("account_type", type, err);
	if (r < 0)
		return r;
	rest = xasprintf("/v3/bill/fundflowbill?bill_date=%s&account_type=%s%s", bill_date, type,
	                 gzip ? "&tar_type=GZIP" : "");
	r = apply_bill(w, rest, out, err);
	free(rest);
	return r;
}

int wxpay_bill_download(struct wxpay *w, const char *download_url, wxpay_sink sink,
                        wxpay_sink_reset reset, void *ctx, int64_t *out_bytes, struct wxr_err *err)
{
	struct wxpay_req rq;
	struct http_response resp;
	char *origin = NULL, *target = NULL;
	int r;

	http_response_init(&resp);
	/* The URL holds a token: keep it out of the message. */
	r = http_url_split(download_url ? download_url : "", &origin, &target, NULL);
	if (r < 0) {
		r = err_set(err, WXR_EDATA, "bill download: download_url is not a usable URL");
		goto out;
	}
	if (strcmp(origin, w->origin) != 0 && strcmp(origin, WXPAY_DEFAULT_BASE_URL) != 0 &&
	    strcmp(origin, WXPAY_BACKUP_BASE_URL) != 0) {
		r = err_set(err, WXR_EDATA,
		            "refusing to download a bill from '%s': signed requests go only to "
		            "the configured WeChat Pay host '%s' or WeChat Pay's documented API "
		            "hosts (%s, %s)",
		            origin, w->origin, WXPAY_DEFAULT_BASE_URL, WXPAY_BACKUP_BASE_URL);
		goto out;
	}
	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.target = target;
	rq.retry = true;
	rq.verify = false; /* bill files are not signed: the caller checks the SHA-1 */
	rq.hide_query = true;
	rq.sink = sink;
	rq.reset = reset;
	rq.sink_ctx = ctx;
	rq.timeout_s = w->download_timeout_s;
	rq.origin = origin;
	r = wxpay_request(w, &rq, &resp, err);
	if (r == 0 && out_bytes)
		*out_bytes = (int64_t)resp.streamed;
out:
	http_response_release(&resp);
	free(origin);
	free(target);
	return r;
}
