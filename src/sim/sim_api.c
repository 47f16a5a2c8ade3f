/*
 * sim_api.c - the WeChat Pay /v3 endpoints of the simulator (PROTOCOL.md
 * section 4): routing, strict request validation, the order and refund state
 * machine. The HTTP layer has already verified the request's signature.
 */
#include "base/utf8.h"
#include "sim/sim.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "sim/sim_notify.h"

#define NINETY_DAYS_S (90 * 86400)
#define SEVEN_DAYS_S  (7 * 86400)
#define ONE_YEAR_S    (365 * 86400)

/* ---- responses ---- */

static int bad_field(struct sim_resp *rs, const char *field, const char *issue)
{
	return sim_resp_error(
	        rs, 400, "PARAM_ERROR", "参数错误",
	        json_pack("{s:s, s:s, s:s}", "field", field, "issue", issue, "location", "body"));
}

static int bad_query(struct sim_resp *rs, const char *field, const char *issue)
{
	return sim_resp_error(
	        rs, 400, "PARAM_ERROR", "参数错误",
	        json_pack("{s:s, s:s, s:s}", "field", field, "issue", issue, "location", "query"));
}

/* Every query parameter must be in the list. */
static int only_args(struct sim_req *rq, struct sim_resp *rs, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < rq->nargs; i++) {
		size_t k;

		for (k = 0; k < n; k++)
			if (strcmp(rq->args[i].key, keys[k]) == 0)
				break;
		if (k == n)
			return bad_query(rs, rq->args[i].key, "unknown query parameter");
	}
	return 0;
}

/* ---- routing ---- */

static char *segment(const char *p, size_t n)
{
	char *s;

	if (n == 0 || memchr(p, '/', n))
		return NULL;
	s = sim_pct_decode(p, n);
	if (s && (!*s || strchr(s, '/'))) {
		free(s);
		return NULL;
	}
	return s;
}

/* Matches "prefix{param}suffix" against path. */
static bool match_param(const char *path, const char *prefix, const char *suffix, char **out)
{
	size_t pl = strlen(prefix), sl = strlen(suffix), n = strlen(path);

	if (n <= pl + sl || strncmp(path, prefix, pl) != 0 || strcmp(path + n - sl, suffix) != 0)
		return false;
	*out = segment(path + pl, n - pl - sl);
	return *out != NULL;
}

enum sim_ep sim_api_route(const char *method, const char *path, char **out_param)
{
	bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;

	*out_param = NULL;
	if (post && strcmp(path, "/v3/pay/transactions/app") == 0)
		return SIM_EP_PREPAY;
	if (post && match_param(path, "/v3/pay/transactions/out-trade-no/", "/close", out_param))
		return SIM_EP_CLOSE;
	if (get && match_param(path, "/v3/pay/transactions/out-trade-no/", "", out_param))
		return SIM_EP_QUERY;
	if (get && match_param(path, "/v3/pay/transactions/id/", "", out_param))
		return SIM_EP_QUERY_ID;
	if (post && strcmp(path, "/v3/refund/domestic/refunds") == 0)
		return SIM_EP_REFUND;
	if (post &&
	    match_param(path, "/v3/refund/domestic/refunds/", "/apply-abnormal-refund", out_param))
		return SIM_EP_ABNORMAL_REFUND;
	if (get && match_param(path, "/v3/refund/domestic/refunds/", "", out_param))
		return SIM_EP_REFUND_QUERY;
	if (get && strcmp(path, "/v3/bill/tradebill") == 0)
		return SIM_EP_TRADEBILL;
	if (get && strcmp(path, "/v3/bill/fundflowbill") == 0)
		return SIM_EP_FUNDFLOWBILL;
	if (get && strcmp(path, "/v3/billdownload/file") == 0)
		return SIM_EP_DOWNLOAD;
	if (get && strcmp(path, "/v3/certificates") == 0)
		return SIM_EP_CERTIFICATES;
	free(*out_param);
	*out_param = NULL;
	return SIM_EP_NONE;
}

/* ---- JSON body validation ---- */

static bool strings_bmp(json_t *j)
{
	const char *key;
	json_t *v;
	size_t i;

	switch (json_typeof(j)) {
	case JSON_STRING:
		return utf8_valid_bmp(json_string_value(j), json_string_length(j));
	case JSON_OBJECT:
		json_object_foreach(j, key, v)
		{
			if (!utf8_valid_bmp(key, strlen(key)) || !strings_bmp(v))
				return false;
		}
		return true;
	case JSON_ARRAY:
		json_array_foreach(j, i, v)
		{
			if (!strings_bmp(v))
				return false;
		}
		return true;
	default:
		return true;
	}
}

static json_t *parse_body(struct sim_req *rq, struct sim_resp *rs)
{
	json_error_t jerr;
	json_t *j;

	if (rq->body_len == 0) {
		sim_resp_error(rs, 400, "PARAM_ERROR", "请求体为空", NULL);
		return NULL;
	}
	j = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		sim_resp_error(rs, 400, "PARAM_ERROR", "请求体不是合法的JSON",
		               json_pack("{s:s, s:s}", "location", "body", "issue", jerr.text));
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		sim_resp_error(rs, 400, "PARAM_ERROR", "请求体必须是JSON对象", NULL);
		return NULL;
	}
	if (!strings_bmp(j)) {
		json_decref(j);
		sim_resp_error(rs, 400, "PARAM_ERROR",
		               "请求参数含有不支持的字符（仅支持1至3字节的UTF-8字符）", NULL);
		return NULL;
	}
	return j;
}

static int only_keys(json_t *obj, const char *where, const char *const *keys, size_t n,
                     struct sim_resp *rs)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		size_t k;

		(void)v;
		for (k = 0; k < n; k++)
			if (strcmp(key, keys[k]) == 0)
				break;
		if (k == n) {
			char *f = xasprintf("%s/%s", where, key);

			bad_field(rs, f, "unknown field");
			free(f);
			return -1;
		}
	}
	return 0;
}

/* A string field of 1..max bytes; *out NULL when absent and optional. */
static int str_field(json_t *obj, const char *where, const char *key, bool required, size_t max,
                     const char **out, struct sim_resp *rs)
{
	json_t *v = json_object_get(obj, key);
	char field[128];

	snprintf(field, sizeof(field), "%s/%s", where, key);
	*out = NULL;
	if (!v) {
		if (required)
			return bad_field(rs, field, "required field is missing");
		return 0;
	}
	if (!json_is_string(v))
		return bad_field(rs, field, "must be a string");
	if (json_string_length(v) < 1 || json_string_length(v) > max) {
		char issue[64];

		snprintf(issue, sizeof(issue), "length must be 1..%zu bytes", max);
		return bad_field(rs, field, issue);
	}
	*out = json_string_value(v);
	return 0;
}

static int int_field(json_t *obj, const char *where, const char *key, bool required, int64_t min,
                     int64_t *out, bool *present, struct sim_resp *rs)
{
	json_t *v = json_object_get(obj, key);
	char field[128];

	snprintf(field, sizeof(field), "%s/%s", where, key);
	if (present)
		*present = v != NULL;
	if (!v) {
		if (required)
			return bad_field(rs, field, "required field is missing");
		return 0;
	}
	if (!json_is_integer(v))
		return bad_field(rs, field, "must be an integer");
	if (json_integer_value(v) < min || json_integer_value(v) > 100000000000LL)
		return bad_field(rs, field, "out of range");
	*out = json_integer_value(v);
	return 0;
}

static int obj_field(json_t *obj, const char *where, const char *key, bool required, json_t **out,
                     struct sim_resp *rs)
{
	json_t *v = json_object_get(obj, key);
	char field[128];

	snprintf(field, sizeof(field), "%s/%s", where, key);
	*out = NULL;
	if (!v) {
		if (required)
			return bad_field(rs, field, "required field is missing");
		return 0;
	}
	if (!json_is_object(v))
		return bad_field(rs, field, "must be an object");
	*out = v;
	return 0;
}

static int bool_field(json_t *obj, const char *where, const char *key, struct sim_resp *rs)
{
	json_t *v = json_object_get(obj, key);
	char field[128];

	snprintf(field, sizeof(field), "%s/%s", where, key);
	if (v && !json_is_boolean(v))
		return bad_field(rs, field, "must be a boolean");
	return 0;
}

static int mchid_matches(struct sim_req *rq, struct sim_resp *rs, const char *mchid,
                         const char *location)
{
	if (strcmp(mchid, rq->auth_mchid) == 0)
		return 0;
	return sim_resp_error(rs, 400, SIM_CODE_MCHID_MISMATCH,
	                      "请求中的商户号与Authorization中的商户号不一致",
	                      json_pack("{s:s, s:s, s:s}", "field", "mchid", "location", location,
	                                "issue", "mchid does not match the Authorization header"));
}

/* ---- objects ---- */

static const char *trade_state_desc(enum sim_trade_state s)
{
	switch (s) {
	case SIM_TS_SUCCESS:
		return "支付成功";
	case SIM_TS_REFUND:
		return "转入退款";
	case SIM_TS_NOTPAY:
		return "订单未支付";
	case SIM_TS_CLOSED:
		return "已关闭";
	case SIM_TS_REVOKED:
		return "已撤销（刷卡支付）";
	case SIM_TS_USERPAYING:
		return "用户支付中（刷卡支付）";
	case SIM_TS_PAYERROR:
		return "支付失败(其他原因，如银行返回失败)";
	}
	return "";
}

static json_t *transaction_json(struct sim *s, const struct sim_order *o)
{
	bool paid = o->success_ts && o->transaction_id;
	json_t *j = json_object();
	json_t *amount = json_object();
	char t[40];

	json_object_set_new(j, "appid", json_string(o->appid));
	json_object_set_new(j, "mchid", json_string(s->cfg.mchid));
	json_object_set_new(j, "out_trade_no", json_string(o->out_trade_no));
	if (paid) {
		json_object_set_new(j, "transaction_id", json_string(o->transaction_id));
		json_object_set_new(j, "trade_type", json_string("APP"));
	}
	json_object_set_new(j, "trade_state", json_string(sim_trade_state_name(o->state)));
	json_object_set_new(j, "trade_state_desc", json_string(trade_state_desc(o->state)));
	if (paid) {
		json_object_set_new(j, "bank_type", json_string(o->bank_type));
		json_object_set_new(j, "attach", json_string(o->attach ? o->attach : ""));
		sim_fmt_rfc3339(o->success_ts, t, sizeof(t));
		json_object_set_new(j, "success_time", json_string(t));
		json_object_set_new(j, "payer", json_pack("{s:s}", "openid", o->openid));
	}
	json_object_set_new(amount, "total", json_integer(o->total_fen));
	if (paid)
		json_object_set_new(amount, "payer_total", json_integer(o->total_fen));
	json_object_set_new(amount, "currency", json_string("CNY"));
	json_object_set_new(amount, "payer_currency", json_string("CNY"));
	json_object_set_new(j, "amount", amount);
	json_object_set_new(j, "scene_info", json_pack("{s:s}", "device_id", ""));
	json_object_set_new(j, "promotion_detail", json_array());
	return j;
}

static json_t *refund_json(const struct sim_refund *r)
{
	json_t *j = json_object();
	char t[40];

	json_object_set_new(j, "refund_id", json_string(r->refund_id));
	json_object_set_new(j, "out_refund_no", json_string(r->out_refund_no));
	json_object_set_new(j, "transaction_id", json_string(r->transaction_id));
	json_object_set_new(j, "out_trade_no", json_string(r->out_trade_no));
	json_object_set_new(j, "channel", json_string(r->channel));
	json_object_set_new(j, "user_received_account", json_string(r->user_received_account));
	if (r->status == SIM_RS_SUCCESS && r->success_ts) {
		sim_fmt_rfc3339(r->success_ts, t, sizeof(t));
		json_object_set_new(j, "success_time", json_string(t));
	}
	sim_fmt_rfc3339(r->create_ts, t, sizeof(t));
	json_object_set_new(j, "create_time", json_string(t));
	json_object_set_new(j, "status", json_string(sim_refund_status_name(r->status)));
	json_object_set_new(j, "funds_account", json_string(r->funds_account));
	json_object_set_new(
	        j, "amount",
	        json_pack("{s:I, s:I, s:[], s:I, s:I, s:I, s:I, s:I, s:s, s:I}", "total",
	                  (json_int_t)r->total_fen, "refund", (json_int_t)r->refund_fen, "from",
	                  "payer_total", (json_int_t)r->total_fen, "payer_refund",
	                  (json_int_t)r->refund_fen, "settlement_refund", (json_int_t)r->refund_fen,
	                  "settlement_total", (json_int_t)r->total_fen, "discount_refund",
	                  (json_int_t)0, "currency", "CNY", "refund_fee", (json_int_t)r->fee_fen));
	json_object_set_new(j, "promotion_detail", json_array());
	return j;
}

/* ---- endpoints ---- */

static void new_prepay_id(struct sim_order *o, int64_t now)
{
	char t[40], rnd[21];

	/* wx + yyyyMMddHHmmss (Beijing) + 20 hex, 36 characters like the real ones */
	sim_fmt_rfc3339(now, t, sizeof(t));
	sim_rand_hex(rnd, 20);
	free(o->prepay_id);
	o->prepay_id = xasprintf("wx%.4s%.2s%.2s%.2s%.2s%.2s%s", t, t + 5, t + 8, t + 11, t + 14,
	                         t + 17, rnd);
}

static int validate_prepay(struct sim *s, struct sim_req *rq, json_t *b, struct sim_resp *rs)
{
	static const char *const top[] = { "appid",        "mchid",       "description",
		                           "out_trade_no", "time_expire", "attach",
		                           "notify_url",   "goods_tag",   "support_fapiao",
		                           "limit_pay",    "amount",      "detail",
		                           "scene_info",   "settle_info" };
	static const char *const amount_keys[] = { "total", "currency" };
	static const char *const detail_keys[] = { "cost_price", "invoice_id", "goods_detail" };
	static const char *const goods_keys[] = { "merchant_goods_id", "wechatpay_goods_id",
		                                  "goods_name", "quantity", "unit_price" };
	static const char *const scene_keys[] = { "payer_client_ip", "device_id", "store_info" };
	static const char *const store_keys[] = { "id", "name", "area_code", "address" };
	static const char *const settle_keys[] = { "profit_sharing" };
	static const char *const limit_values[] = { "no_balance", "no_credit", "no_debit",
		                                    "balance_only" };
	const char *appid, *mchid, *desc, *otn, *te, *attach, *url, *tag, *cur, *sv;
	json_t *amount, *detail, *scene, *settle, *limit, *v, *store;
	int64_t total = 0, iv;
	int64_t ts;
	size_t i;

	if (only_keys(b, "", top, ARRAY_SIZE(top), rs) < 0 ||
	    str_field(b, "", "appid", true, 32, &appid, rs) < 0 ||
	    str_field(b, "", "mchid", true, 32, &mchid, rs) < 0 ||
	    str_field(b, "", "description", true, 127, &desc, rs) < 0 ||
	    str_field(b, "", "out_trade_no", true, 32, &otn, rs) < 0 ||
	    str_field(b, "", "time_expire", false, 64, &te, rs) < 0 ||
	    str_field(b, "", "attach", false, 128, &attach, rs) < 0 ||
	    str_field(b, "", "notify_url", true, 255, &url, rs) < 0 ||
	    str_field(b, "", "goods_tag", false, 32, &tag, rs) < 0 ||
	    bool_field(b, "", "support_fapiao", rs) < 0 ||
	    obj_field(b, "", "amount", true, &amount, rs) < 0 ||
	    obj_field(b, "", "detail", false, &detail, rs) < 0 ||
	    obj_field(b, "", "scene_info", false, &scene, rs) < 0 ||
	    obj_field(b, "", "settle_info", false, &settle, rs) < 0)
		return -1;
	if (mchid_matches(rq, rs, mchid, "body") < 0)
		return -1;
	if (strcmp(appid, s->cfg.appid) != 0)
		return sim_resp_error(rs, 400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配",
		                      NULL);
	if (!sim_str_charset(otn, 6, 32, "_-|*"))
		return bad_field(rs, "/out_trade_no", "6-32 characters of [0-9A-Za-z_-|*]");
	if (te && sim_parse_rfc3339(te, false, &ts) < 0)
		return bad_field(rs, "/time_expire", "must be yyyy-MM-DDTHH:mm:ss+TIMEZONE");
	if ((strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) ||
	    strchr(url, '?') || strchr(url, '#') || strchr(url, ' '))
		return bad_field(rs, "/notify_url", "must be an absolute URL without a query");
	limit = json_object_get(b, "limit_pay");
	if (limit) {
		if (!json_is_array(limit))
			return bad_field(rs, "/limit_pay", "must be an array of strings");
		json_array_foreach(limit, i, v)
		{
			size_t k;

			for (k = 0; k < ARRAY_SIZE(limit_values); k++)
				if (json_is_string(v) &&
				    strcmp(json_string_value(v), limit_values[k]) == 0)
					break;
			if (k == ARRAY_SIZE(limit_values))
				return bad_field(rs, "/limit_pay", "unknown value");
		}
	}
	if (only_keys(amount, "/amount", amount_keys, ARRAY_SIZE(amount_keys), rs) < 0 ||
	    int_field(amount, "/amount", "total", true, 1, &total, NULL, rs) < 0 ||
	    str_field(amount, "/amount", "currency", false, 16, &cur, rs) < 0)
		return -1;
	if (cur && strcmp(cur, "CNY") != 0)
		return bad_field(rs, "/amount/currency", "only CNY is supported");
	if (detail) {
		json_t *goods;

		if (only_keys(detail, "/detail", detail_keys, ARRAY_SIZE(detail_keys), rs) < 0 ||
		    int_field(detail, "/detail", "cost_price", false, 0, &iv, NULL, rs) < 0 ||
		    str_field(detail, "/detail", "invoice_id", false, 32, &sv, rs) < 0)
			return -1;
		goods = json_object_get(detail, "goods_detail");
		if (goods && !json_is_array(goods))
			return bad_field(rs, "/detail/goods_detail", "must be an array");
		json_array_foreach(goods, i, v)
		{
			if (!json_is_object(v))
				return bad_field(rs, "/detail/goods_detail", "must hold objects");
			if (only_keys(v, "/detail/goods_detail", goods_keys, ARRAY_SIZE(goods_keys),
			              rs) < 0 ||
			    str_field(v, "/detail/goods_detail", "merchant_goods_id", true, 32, &sv,
			              rs) < 0 ||
			    str_field(v, "/detail/goods_detail", "wechatpay_goods_id", false, 32,
			              &sv, rs) < 0 ||
			    str_field(v, "/detail/goods_detail", "goods_name", false, 256, &sv,
			              rs) < 0 ||
			    int_field(v, "/detail/goods_detail", "quantity", true, 1, &iv, NULL,
			              rs) < 0 ||
			    int_field(v, "/detail/goods_detail", "unit_price", true, 0, &iv, NULL,
			              rs) < 0)
				return -1;
		}
	}
	if (scene) {
		if (only_keys(scene, "/scene_info", scene_keys, ARRAY_SIZE(scene_keys), rs) < 0 ||
		    str_field(scene, "/scene_info", "payer_client_ip", true, 45, &sv, rs) < 0 ||
		    str_field(scene, "/scene_info", "device_id", false, 32, &sv, rs) < 0 ||
		    obj_field(scene, "/scene_info", "store_info", false, &store, rs) < 0)
			return -1;
		if (store &&
		    (only_keys(store, "/scene_info/store_info", store_keys, ARRAY_SIZE(store_keys),
		               rs) < 0 ||
		     str_field(store, "/scene_info/store_info", "id", true, 32, &sv, rs) < 0 ||
		     str_field(store, "/scene_info/store_info", "name", false, 256, &sv, rs) < 0 ||
		     str_field(store, "/scene_info/store_info", "area_code", false, 32, &sv, rs) <
		             0 ||
		     str_field(store, "/scene_info/store_info", "address", false, 512, &sv, rs) <
		             0))
			return -1;
	}
	if (settle &&
	    (only_keys(settle, "/settle_info", settle_keys, ARRAY_SIZE(settle_keys), rs) < 0 ||
	     bool_field(settle, "/settle_info", "profit_sharing", rs) < 0))
		return -1;
	return 0;
}

static void ep_prepay(struct sim *s, struct sim_req *rq, struct sim_resp *rs)
{
	json_t *b = parse_body(rq, rs);
	char *canon = NULL;
	struct sim_order *o;
	int64_t now = sim_state_now(&s->st);
	const char *otn, *te;

	if (!b)
		return;
	if (validate_prepay(s, rq, b, rs) < 0)
		goto out;
	canon = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	otn = json_string_value(json_object_get(b, "out_trade_no"));
	o = sim_state_order(&s->st, otn);
	if (o) {
		if (o->state == SIM_TS_SUCCESS || o->state == SIM_TS_REFUND) {
			sim_resp_error(rs, SIM_STATUS_ORDER_PAID, SIM_CODE_ORDER_PAID,
			               "该订单已支付", NULL);
			goto out;
		}
		if (o->state != SIM_TS_NOTPAY && o->state != SIM_TS_USERPAYING) {
			sim_resp_error(rs, 400, "ORDER_CLOSED", "该订单已关闭", NULL);
			goto out;
		}
		if (!o->prepay_params || strcmp(o->prepay_params, canon) != 0) {
			sim_resp_error(rs, 400, "INVALID_REQUEST",
			               "请求重入时，参数与首次请求时不一致", NULL);
			goto out;
		}
		if (now > o->time_expire_ts) {
			sim_resp_error(rs, 400, "ORDER_CLOSED", "订单已过支付截止时间", NULL);
			goto out;
		}
		new_prepay_id(o, now);
	} else {
		o = xcalloc(1, sizeof(*o));
		o->out_trade_no = xstrdup(otn);
		o->appid = xstrdup(s->cfg.appid);
		o->description = xstrdup(json_string_value(json_object_get(b, "description")));
		if (json_object_get(b, "attach"))
			o->attach = xstrdup(json_string_value(json_object_get(b, "attach")));
		o->notify_url = xstrdup(json_string_value(json_object_get(b, "notify_url")));
		o->total_fen =
		        json_integer_value(json_object_get(json_object_get(b, "amount"), "total"));
		o->state = SIM_TS_NOTPAY;
		o->create_ts = now;
		o->time_expire_ts = now + SEVEN_DAYS_S;
		te = json_string_value(json_object_get(b, "time_expire"));
		if (te) {
			sim_parse_rfc3339(te, false, &o->time_expire_ts);
			if (o->time_expire_ts < now + 60)
				o->time_expire_ts = now + 60;
			if (o->time_expire_ts > now + NINETY_DAYS_S)
				o->time_expire_ts = now + NINETY_DAYS_S;
		}
		o->prepay_params = canon;
		canon = NULL;
		new_prepay_id(o, now);
		sim_state_add_order(&s->st, o);
	}
	sim_persist(s);
	sim_resp_json(rs, 200, json_pack("{s:s}", "prepay_id", o->prepay_id));
out:
	free(canon);
	json_decref(b);
}

static int query_mchid(struct sim_req *rq, struct sim_resp *rs)
{
	static const char *const keys[] = { "mchid" };
	const char *m;

	if (only_args(rq, rs, keys, 1) < 0)
		return -1;
	m = sim_req_arg(rq, "mchid");
	if (!m)
		return bad_query(rs, "mchid", "required query parameter is missing");
	return mchid_matches(rq, rs, m, "query");
}

static void ep_query(struct sim *s, struct sim_req *rq, struct sim_resp *rs, const char *param,
                     bool by_id)
{
	const struct sim_order *o;

	if (query_mchid(rq, rs) < 0)
		return;
	o = by_id ? sim_state_order_by_tid(&s->st, param) : sim_state_order(&s->st, param);
	if (!o) {
		sim_resp_error(rs, 404, "ORDER_NOT_EXIST", "订单不存在", NULL);
		return;
	}
	sim_resp_json(rs, 200, transaction_json(s, o));
}

static void ep_close(struct sim *s, struct sim_req *rq, struct sim_resp *rs, const char *param,
                     const struct sim_fault *fault)
{
	static const char *const keys[] = { "mchid" };
	json_t *b = parse_body(rq, rs);
	struct sim_order *o;
	const char *mchid;

	if (!b)
		return;
	if (only_keys(b, "", keys, 1, rs) < 0 ||
	    str_field(b, "", "mchid", true, 32, &mchid, rs) < 0 ||
	    mchid_matches(rq, rs, mchid, "body") < 0)
		goto out;
	o = sim_state_order(&s->st, param);
	if (o && (o->state == SIM_TS_SUCCESS || o->state == SIM_TS_REFUND)) {
		sim_resp_error(rs, SIM_STATUS_ORDER_PAID, SIM_CODE_ORDER_PAID,
		               "订单已支付，不能关单，如需退款请调用退款接口", NULL);
		goto out;
	}
	if (o && (o->state == SIM_TS_NOTPAY || o->state == SIM_TS_USERPAYING)) {
		if (fault && fault->kind == SIM_FAULT_PAY_DURING_CLOSE) {
			sim_state_pay(&s->st, o, sim_state_now(&s->st), NULL, NULL, NULL);
			rs->pay_during_close = true;
			sim_notify_paid(s, o);
		} else {
			o->state = SIM_TS_CLOSED;
		}
		sim_persist(s);
	}
	/* unknown and already closed orders: 204 as well */
	rs->status = 204;
	buf_reset(&rs->body);
out:
	json_decref(b);
}

static void ep_refund(struct sim *s, struct sim_req *rq, struct sim_resp *rs)
{
	static const char *const top[] = { "transaction_id", "out_trade_no", "out_refund_no",
		                           "reason",         "notify_url",   "funds_account",
		                           "amount",         "goods_detail" };
	static const char *const amount_keys[] = { "refund", "total", "currency", "from" };
	json_t *b = parse_body(rq, rs);
	const char *tid, *otn, *orn, *reason, *url, *funds, *cur;
	json_t *amount, *from, *v;
	int64_t refund = 0, total = 0, now = sim_state_now(&s->st), sum;
	struct sim_order *o;
	struct sim_refund *r;
	size_t count, i;

	if (!b)
		return;
	if (only_keys(b, "", top, ARRAY_SIZE(top), rs) < 0 ||
	    str_field(b, "", "transaction_id", false, 32, &tid, rs) < 0 ||
	    str_field(b, "", "out_trade_no", false, 32, &otn, rs) < 0 ||
	    str_field(b, "", "out_refund_no", true, 64, &orn, rs) < 0 ||
	    str_field(b, "", "reason", false, 80, &reason, rs) < 0 ||
	    str_field(b, "", "notify_url", false, 256, &url, rs) < 0 ||
	    str_field(b, "", "funds_account", false, 32, &funds, rs) < 0 ||
	    obj_field(b, "", "amount", true, &amount, rs) < 0 ||
	    only_keys(amount, "/amount", amount_keys, ARRAY_SIZE(amount_keys), rs) < 0 ||
	    int_field(amount, "/amount", "refund", true, 1, &refund, NULL, rs) < 0 ||
	    int_field(amount, "/amount", "total", true, 1, &total, NULL, rs) < 0 ||
	    str_field(amount, "/amount", "currency", true, 16, &cur, rs) < 0)
		goto out;
	if (!tid && !otn) {
		bad_field(rs, "/out_trade_no", "transaction_id or out_trade_no is required");
		goto out;
	}
	if (!sim_str_charset(orn, 1, 64, "_-|*@")) {
		bad_field(rs, "/out_refund_no", "1-64 characters of [0-9A-Za-z_-|*@]");
		goto out;
	}
	if (strcmp(cur, "CNY") != 0) {
		bad_field(rs, "/amount/currency", "only CNY is supported");
		goto out;
	}
	if (funds && strcmp(funds, "AVAILABLE") != 0 && strcmp(funds, "UNSETTLED") != 0) {
		bad_field(rs, "/funds_account", "must be AVAILABLE or UNSETTLED");
		goto out;
	}
	from = json_object_get(amount, "from");
	if (from && !json_is_array(from)) {
		bad_field(rs, "/amount/from", "must be an array");
		goto out;
	}
	json_array_foreach(from, i, v)
	{
		json_t *acc = json_is_object(v) ? json_object_get(v, "account") : NULL;
		json_t *amt = json_is_object(v) ? json_object_get(v, "amount") : NULL;

		if (!json_is_string(acc) || !json_is_integer(amt)) {
			bad_field(rs, "/amount/from", "items need account and amount");
			goto out;
		}
	}
	if (json_object_get(b, "goods_detail") &&
	    !json_is_array(json_object_get(b, "goods_detail"))) {
		bad_field(rs, "/goods_detail", "must be an array");
		goto out;
	}
	o = tid ? sim_state_order_by_tid(&s->st, tid) : sim_state_order(&s->st, otn);
	if (o && tid && otn && strcmp(o->out_trade_no, otn) != 0) {
		sim_resp_error(rs, 400, "INVALID_REQUEST", "您的请求参数与订单信息不一致", NULL);
		goto out;
	}
	r = sim_state_refund(&s->st, orn);
	if (r) {
		if (!o || strcmp(r->out_trade_no, o->out_trade_no) != 0 ||
		    r->refund_fen != refund || r->total_fen != total) {
			sim_resp_error(rs, 400, "INVALID_REQUEST",
			               "退款单号已存在，且请求参数与原退款单不一致", NULL);
			goto out;
		}
		sim_resp_json(rs, 200, refund_json(r));
		goto out;
	}
	if (!o || (o->state != SIM_TS_SUCCESS && o->state != SIM_TS_REFUND)) {
		sim_resp_error(rs, 404, "RESOURCE_NOT_EXISTS", "订单不存在或未支付", NULL);
		goto out;
	}
	if (total != o->total_fen) {
		sim_resp_error(rs, 400, "INVALID_REQUEST", "您的请求参数与订单信息不一致",
		               json_pack("{s:s, s:s, s:s}", "field", "/amount/total", "location",
		                         "body", "issue", "not the order's total"));
		goto out;
	}
	if (now > o->success_ts + ONE_YEAR_S) {
		sim_resp_error(rs, 400, SIM_CODE_REFUND_TOO_LATE, "订单已超过可退款的最大期限",
		               NULL);
		goto out;
	}
	sum = sim_refunded_fen(&s->st, o->out_trade_no, &count);
	if (count >= SIM_MAX_REFUNDS) {
		sim_resp_error(rs, 400, SIM_CODE_REFUND_TOO_MANY, "订单退款次数已达上限", NULL);
		goto out;
	}
	if (sum + refund > o->total_fen) {
		sim_resp_error(rs, 400, SIM_CODE_REFUND_TOO_MUCH, "申请退款金额超过订单可退金额",
		               NULL);
		goto out;
	}
	r = xcalloc(1, sizeof(*r));
	r->out_refund_no = xstrdup(orn);
	r->refund_id = sim_state_new_refund_id(&s->st, now);
	r->out_trade_no = xstrdup(o->out_trade_no);
	r->transaction_id = xstrdup(o->transaction_id);
	r->channel = xstrdup("ORIGINAL");
	r->user_received_account = xstrdup("支付用户零钱");
	r->reason = reason ? xstrdup(reason) : NULL;
	r->funds_account = xstrdup(funds ? funds : "AVAILABLE");
	r->status = SIM_RS_PROCESSING;
	r->refund_fen = refund;
	r->total_fen = o->total_fen;
	r->fee_fen = sim_refund_fee_fen(&s->st, o, refund);
	r->create_ts = now;
	sim_state_add_refund(&s->st, r);
	sim_notify_refund_url(s, orn, url);
	o->state = SIM_TS_REFUND;
	sim_persist(s);
	sim_resp_json(rs, 200, refund_json(r));
out:
	json_decref(b);
}

static void ep_refund_query(struct sim *s, struct sim_req *rq, struct sim_resp *rs,
                            const char *param)
{
	const struct sim_refund *r;

	if (only_args(rq, rs, NULL, 0) < 0)
		return;
	r = sim_state_refund(&s->st, param);
	if (!r) {
		sim_resp_error(rs, 404, "RESOURCE_NOT_EXISTS", "退款单不存在", NULL);
		return;
	}
	sim_resp_json(rs, 200, refund_json(r));
}

static bool all_digits(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	return n >= min && n <= max && strspn(s, "0123456789") == n;
}

/* Decrypts one encrypted field to validate it; the plaintext never leaves. */
static int check_secret(struct sim *s, const char *b64, const char *field, bool digits,
                        struct sim_resp *rs)
{
	char *pt = NULL;
	size_t n = 0;
	bool good;

	if (sim_oaep_decrypt(s->keys.wechat_key, b64, &pt, &n) < 0)
		return bad_field(rs, field,
		                 "cannot be decrypted (RSA-OAEP with the WeChat Pay key)");
	good = digits ? all_digits(pt, 10, 30)
	              : (n >= 1 && n <= 64 && strlen(pt) == n && utf8_valid_bmp(pt, n));
	OPENSSL_cleanse(pt, n);
	free(pt);
	if (!good)
		return bad_field(rs, field,
		                 digits ? "decrypted value is not a card number"
		                        : "decrypted value is not a name");
	return 0;
}

static void ep_abnormal_refund(struct sim *s, struct sim_req *rq, struct sim_resp *rs,
                               const char *param)
{
	static const char *const top[] = { "out_refund_no", "type", "bank_type", "bank_account",
		                           "real_name" };
	static const char *const banks[] = { "CMB_DEBIT", "COMM_DEBIT", "ABC_DEBIT",
		                             "CCB_DEBIT", "ICBC_DEBIT", "BOC_DEBIT",
		                             "PAB_DEBIT", "SPDB_DEBIT", "CITIC_DEBIT",
		                             "CEB_DEBIT", "CMBC_DEBIT", "CIB_DEBIT",
		                             "GDB_DEBIT", "PSBC_DEBIT", "NBCB_DEBIT" };
	json_t *b;
	const char *orn, *type, *bank, *account, *name;
	struct sim_refund *r;
	bool user;

	if (!rq->wechatpay_serial) {
		sim_resp_error(rs, 400, SIM_CODE_NO_SERIAL,
		               "Http头缺少Wechatpay-Serial，请求中含有加密的敏感信息时必须提供",
		               NULL);
		return;
	}
	b = parse_body(rq, rs);
	if (!b)
		return;
	if (only_keys(b, "", top, ARRAY_SIZE(top), rs) < 0 ||
	    str_field(b, "", "out_refund_no", true, 64, &orn, rs) < 0 ||
	    str_field(b, "", "type", true, 32, &type, rs) < 0 ||
	    str_field(b, "", "bank_type", false, 16, &bank, rs) < 0 ||
	    str_field(b, "", "bank_account", false, 1024, &account, rs) < 0 ||
	    str_field(b, "", "real_name", false, 1024, &name, rs) < 0)
		goto out;
	user = strcmp(type, "USER_BANK_CARD") == 0;
	if (!user && strcmp(type, "MERCHANT_BANK_CARD") != 0) {
		bad_field(rs, "/type", "must be USER_BANK_CARD or MERCHANT_BANK_CARD");
		goto out;
	}
	r = sim_state_refund_by_id(&s->st, param);
	if (!r) {
		sim_resp_error(rs, 404, "RESOURCE_NOT_EXISTS", "退款单不存在", NULL);
		goto out;
	}
	if (strcmp(r->out_refund_no, orn) != 0) {
		sim_resp_error(rs, 400, "INVALID_REQUEST", "out_refund_no与refund_id不匹配", NULL);
		goto out;
	}
	if (r->status != SIM_RS_ABNORMAL) {
		sim_resp_error(rs, 400, "INVALID_REQUEST",
		               "退款单状态不是异常状态，无需发起异常退款", NULL);
		goto out;
	}
	if (user) {
		size_t k;

		if (!bank || !account || !name) {
			bad_field(rs,
			          !bank      ? "/bank_type"
			          : !account ? "/bank_account"
			                     : "/real_name",
			          "required for USER_BANK_CARD");
			goto out;
		}
		for (k = 0; k < ARRAY_SIZE(banks); k++)
			if (strcmp(bank, banks[k]) == 0)
				break;
		if (k == ARRAY_SIZE(banks)) {
			bad_field(rs, "/bank_type", "not a supported debit card bank");
			goto out;
		}
		if (check_secret(s, account, "/bank_account", true, rs) < 0 ||
		    check_secret(s, name, "/real_name", false, rs) < 0)
			goto out;
	} else if (bank || account || name) {
		bad_field(rs,
		          bank      ? "/bank_type"
		          : account ? "/bank_account"
		                    : "/real_name",
		          "only for USER_BANK_CARD");
		goto out;
	}
	r->status = SIM_RS_PROCESSING;
	free(r->channel);
	r->channel = xstrdup("OTHER_BANKCARD");
	free(r->user_received_account);
	r->user_received_account = user ? xasprintf("用户银行卡(%s)", bank) : xstrdup("商户银行卡");
	sim_persist(s);
	sim_resp_json(rs, 200, refund_json(r));
out:
	json_decref(b);
}

static void ep_certificates(struct sim *s, struct sim_req *rq, struct sim_resp *rs)
{
	static const char *const keys[] = { "algorithm_type" };
	const char *alg;
	char nonce[13], eff[40], exp[40];
	char *ct;
	json_t *data = json_array();

	if (only_args(rq, rs, keys, 1) < 0) {
		json_decref(data);
		return;
	}
	alg = sim_req_arg(rq, "algorithm_type");
	if (alg && strcmp(alg, "RSA") != 0 && strcmp(alg, "SM2") != 0 && strcmp(alg, "ALL") != 0) {
		json_decref(data);
		bad_query(rs, "algorithm_type", "must be RSA, SM2 or ALL");
		return;
	}
	if (!alg || strcmp(alg, "SM2") != 0) {
		sim_rand_alnum(nonce, 12);
		ct = sim_aes_gcm_encrypt(s->keys.apiv3, nonce, "certificate", s->keys.cert_pem,
		                         strlen(s->keys.cert_pem));
		if (!ct) {
			json_decref(data);
			sim_resp_error(rs, 500, "SYSTEM_ERROR", "系统错误", NULL);
			return;
		}
		sim_fmt_rfc3339(s->keys.cert_not_before, eff, sizeof(eff));
		sim_fmt_rfc3339(s->keys.cert_not_after, exp, sizeof(exp));
		json_array_append_new(
		        data,
		        json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "serial_no",
		                  s->keys.cert_serial, "effective_time", eff, "expire_time", exp,
		                  "encrypt_certificate", "algorithm", "AEAD_AES_256_GCM", "nonce",
		                  nonce, "associated_data", "certificate", "ciphertext", ct));
		free(ct);
	}
	sim_resp_json(rs, 200, json_pack("{s:o}", "data", data));
}

void sim_api_handle(struct sim *s, enum sim_ep ep, const char *param, struct sim_req *rq,
                    struct sim_resp *rs, const struct sim_fault *fault)
{
	bool post = strcmp(rq->method, "POST") == 0;

	if (!post && rq->body_len) {
		sim_resp_error(rs, 400, "PARAM_ERROR", "GET请求不能带请求体", NULL);
		return;
	}
	if (post && rq->nargs) {
		bad_query(rs, rq->args[0].key, "this endpoint takes no query parameters");
		return;
	}
	switch (ep) {
	case SIM_EP_PREPAY:
		ep_prepay(s, rq, rs);
		break;
	case SIM_EP_QUERY:
		ep_query(s, rq, rs, param, false);
		break;
	case SIM_EP_QUERY_ID:
		ep_query(s, rq, rs, param, true);
		break;
	case SIM_EP_CLOSE:
		ep_close(s, rq, rs, param, fault);
		break;
	case SIM_EP_REFUND:
		ep_refund(s, rq, rs);
		break;
	case SIM_EP_REFUND_QUERY:
		ep_refund_query(s, rq, rs, param);
		break;
	case SIM_EP_ABNORMAL_REFUND:
		ep_abnormal_refund(s, rq, rs, param);
		break;
	case SIM_EP_TRADEBILL:
	case SIM_EP_FUNDFLOWBILL:
		sim_bill_apply(s, ep == SIM_EP_TRADEBILL, rq, rs,
		               fault && fault->kind == SIM_FAULT_WRONG_BILL_HASH);
		break;
	case SIM_EP_DOWNLOAD:
		sim_bill_download(s, rq, rs,
		                  fault && fault->kind == SIM_FAULT_TRUNCATE_DOWNLOAD ? fault
		                                                                      : NULL);
		break;
	case SIM_EP_CERTIFICATES:
		ep_certificates(s, rq, rs);
		break;
	case SIM_EP_NONE:
		sim_resp_error(rs, 404, SIM_CODE_NOT_FOUND, "接口不存在", NULL);
		break;
	}
}
