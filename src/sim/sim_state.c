/*
 * sim_state.c - the simulator's state: orders, refunds, the sim clock; their
 * JSON form (GET /_sim/state, the admin seeding bodies, --state DIR/state.json).
 */
#include "sim/sim.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"

#define DEFAULT_OPENID      "oSimDefaultOpenid000000000000"
#define DEFAULT_BANK        "OTHERS"
#define DEFAULT_DESCRIPTION "sim order"
#define DEFAULT_ACCOUNT     "支付用户零钱"
#define SEVEN_DAYS_S        (7 * 86400)

static const char *const trade_state_names[] = { "NOTPAY", "USERPAYING", "SUCCESS", "CLOSED",
	                                         "REFUND", "PAYERROR",   "REVOKED" };
static const char *const refund_status_names[] = { "PROCESSING", "SUCCESS", "ABNORMAL", "CLOSED" };

const char *sim_trade_state_name(enum sim_trade_state s)
{
	return trade_state_names[s];
}

int sim_trade_state_parse(const char *s, enum sim_trade_state *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(trade_state_names); i++) {
		if (strcmp(s, trade_state_names[i]) == 0) {
			*out = (enum sim_trade_state)i;
			return 0;
		}
	}
	return -1;
}

const char *sim_refund_status_name(enum sim_refund_status s)
{
	return refund_status_names[s];
}

int sim_refund_status_parse(const char *s, enum sim_refund_status *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(refund_status_names); i++) {
		if (strcmp(s, refund_status_names[i]) == 0) {
			*out = (enum sim_refund_status)i;
			return 0;
		}
	}
	return -1;
}

void sim_state_init(struct sim_state *st)
{
	memset(st, 0, sizeof(*st));
	st->clock_mode = SIM_CLOCK_REAL;
	st->seq = 1;
}

void sim_order_free(struct sim_order *o)
{
	if (!o)
		return;
	free(o->out_trade_no);
	free(o->transaction_id);
	free(o->appid);
	free(o->description);
	free(o->attach);
	free(o->notify_url);
	free(o->openid);
	free(o->bank_type);
	free(o->prepay_id);
	free(o->prepay_params);
	free(o);
}

void sim_refund_free(struct sim_refund *r)
{
	if (!r)
		return;
	free(r->out_refund_no);
	free(r->refund_id);
	free(r->out_trade_no);
	free(r->transaction_id);
	free(r->channel);
	free(r->user_received_account);
	free(r->reason);
	free(r->funds_account);
	free(r);
}

void sim_state_clear(struct sim_state *st)
{
	for (size_t i = 0; i < st->norders; i++)
		sim_order_free(st->orders[i]);
	for (size_t i = 0; i < st->nrefunds; i++)
		sim_refund_free(st->refunds[i]);
	st->norders = 0;
	st->nrefunds = 0;
	sim_index_release(&st->ix_otn);
	sim_index_release(&st->ix_tid);
	sim_index_release(&st->ix_orn);
	sim_index_release(&st->ix_rid);
	st->clock_mode = SIM_CLOCK_REAL;
	st->clock_value = 0;
}

void sim_state_truncate(struct sim_state *st, size_t norders, size_t nrefunds)
{
	for (size_t i = norders; i < st->norders; i++)
		sim_order_free(st->orders[i]);
	for (size_t i = nrefunds; i < st->nrefunds; i++)
		sim_refund_free(st->refunds[i]);
	if (norders < st->norders)
		st->norders = norders;
	if (nrefunds < st->nrefunds)
		st->nrefunds = nrefunds;
	sim_index_release(&st->ix_otn);
	sim_index_release(&st->ix_tid);
	sim_index_release(&st->ix_orn);
	sim_index_release(&st->ix_rid);
	for (size_t i = 0; i < st->norders; i++) {
		sim_index_put(&st->ix_otn, st->orders[i]->out_trade_no, i);
		if (st->orders[i]->transaction_id)
			sim_index_put(&st->ix_tid, st->orders[i]->transaction_id, i);
	}
	for (size_t i = 0; i < st->nrefunds; i++) {
		sim_index_put(&st->ix_orn, st->refunds[i]->out_refund_no, i);
		sim_index_put(&st->ix_rid, st->refunds[i]->refund_id, i);
	}
}

void sim_state_release(struct sim_state *st)
{
	if (!st)
		return;
	sim_state_clear(st);
	free(st->orders);
	free(st->refunds);
	st->orders = NULL;
	st->refunds = NULL;
	st->orders_cap = 0;
	st->refunds_cap = 0;
}

int64_t sim_state_now(const struct sim_state *st)
{
	switch (st->clock_mode) {
	case SIM_CLOCK_FIXED:
		return st->clock_value;
	case SIM_CLOCK_OFFSET:
		return sim_real_now() + st->clock_value;
	case SIM_CLOCK_REAL:
		break;
	}
	return sim_real_now();
}

struct sim_order *sim_state_order(const struct sim_state *st, const char *out_trade_no)
{
	size_t i;

	return sim_index_get(&st->ix_otn, out_trade_no, &i) ? st->orders[i] : NULL;
}

struct sim_order *sim_state_order_by_tid(const struct sim_state *st, const char *tid)
{
	size_t i;

	return sim_index_get(&st->ix_tid, tid, &i) ? st->orders[i] : NULL;
}

struct sim_refund *sim_state_refund(const struct sim_state *st, const char *out_refund_no)
{
	size_t i;

	return sim_index_get(&st->ix_orn, out_refund_no, &i) ? st->refunds[i] : NULL;
}

struct sim_refund *sim_state_refund_by_id(const struct sim_state *st, const char *refund_id)
{
	size_t i;

	return sim_index_get(&st->ix_rid, refund_id, &i) ? st->refunds[i] : NULL;
}

void sim_state_add_order(struct sim_state *st, struct sim_order *o)
{
	if (st->norders == st->orders_cap) {
		st->orders_cap = st->orders_cap ? st->orders_cap * 2 : 64;
		st->orders = xreallocarray(st->orders, st->orders_cap, sizeof(*st->orders));
	}
	st->orders[st->norders] = o;
	sim_index_put(&st->ix_otn, o->out_trade_no, st->norders);
	if (o->transaction_id)
		sim_index_put(&st->ix_tid, o->transaction_id, st->norders);
	st->norders++;
}

void sim_state_index_tid(struct sim_state *st, const struct sim_order *o)
{
	size_t i;

	if (!o->transaction_id || !sim_index_get(&st->ix_otn, o->out_trade_no, &i))
		return;
	sim_index_put(&st->ix_tid, o->transaction_id, i);
}

void sim_state_add_refund(struct sim_state *st, struct sim_refund *r)
{
	if (st->nrefunds == st->refunds_cap) {
		st->refunds_cap = st->refunds_cap ? st->refunds_cap * 2 : 64;
		st->refunds = xreallocarray(st->refunds, st->refunds_cap, sizeof(*st->refunds));
	}
	st->refunds[st->nrefunds] = r;
	sim_index_put(&st->ix_orn, r->out_refund_no, st->nrefunds);
	sim_index_put(&st->ix_rid, r->refund_id, st->nrefunds);
	st->nrefunds++;
}

char *sim_state_new_tid(struct sim_state *st, int64_t ts)
{
	char ymd[16];
	char *id;

	sim_fmt_ymd_sh(ts, ymd, sizeof(ymd));
	for (;;) {
		id = xasprintf("4200000001%s%010" PRIu64, ymd,
		               (uint64_t)(st->seq++ % 10000000000ULL));
		if (!sim_state_order_by_tid(st, id))
			return id;
		free(id);
	}
}

char *sim_state_new_refund_id(struct sim_state *st, int64_t ts)
{
	char ymd[16];
	char *id;

	sim_fmt_ymd_sh(ts, ymd, sizeof(ymd));
	for (;;) {
		id = xasprintf("5030000001%s%011" PRIu64, ymd,
		               (uint64_t)(st->seq++ % 100000000000ULL));
		if (!sim_state_refund_by_id(st, id))
			return id;
		free(id);
	}
}

int64_t sim_fee_fen(int64_t total_fen)
{
	/* 0.60 %, rounded half-up to the fen (amounts are positive) */
	return (total_fen * SIM_FEE_RATE_BP + 5000) / 10000;
}

int64_t sim_refunded_fen(const struct sim_state *st, const char *out_trade_no, size_t *out_count)
{
	int64_t sum = 0;
	size_t n = 0;

	for (size_t i = 0; i < st->nrefunds; i++) {
		const struct sim_refund *r = st->refunds[i];

		if (strcmp(r->out_trade_no, out_trade_no) != 0)
			continue;
		n++;
		if (r->status != SIM_RS_CLOSED)
			sum += r->refund_fen;
	}
	if (out_count)
		*out_count = n;
	return sum;
}

int64_t sim_refund_fee_fen(const struct sim_state *st, const struct sim_order *o,
                           int64_t refund_fen)
{
	int64_t refunded = 0, fee_back = 0;

	for (size_t i = 0; i < st->nrefunds; i++) {
		const struct sim_refund *r = st->refunds[i];

		if (strcmp(r->out_trade_no, o->out_trade_no) != 0 || r->status == SIM_RS_CLOSED)
			continue;
		refunded += r->refund_fen;
		fee_back += r->fee_fen;
	}
	if (o->total_fen <= 0)
		return 0;
	if (refunded + refund_fen >= o->total_fen)
		return o->fee_fen - fee_back > 0 ? o->fee_fen - fee_back : 0;
	/* proportional, half-up */
	return (o->fee_fen * refund_fen * 2 + o->total_fen) / (o->total_fen * 2);
}

void sim_state_pay(struct sim_state *st, struct sim_order *o, int64_t ts, const char *tid,
                   const char *openid, const char *bank_type)
{
	o->state = SIM_TS_SUCCESS;
	o->success_ts = ts;
	if (tid) {
		free(o->transaction_id);
		o->transaction_id = xstrdup(tid);
	} else if (!o->transaction_id) {
		o->transaction_id = sim_state_new_tid(st, ts);
	}
	sim_state_index_tid(st, o);
	if (openid || !o->openid) {
		free(o->openid);
		o->openid = xstrdup(openid ? openid : DEFAULT_OPENID);
	}
	if (bank_type || !o->bank_type) {
		free(o->bank_type);
		o->bank_type = xstrdup(bank_type ? bank_type : DEFAULT_BANK);
	}
	o->fee_fen = sim_fee_fen(o->total_fen);
}

/* ---- JSON ---- */

static void set_time(json_t *j, const char *key, int64_t ts)
{
	char t[40];

	if (!ts)
		return;
	sim_fmt_rfc3339(ts, t, sizeof(t));
	json_object_set_new(j, key, json_string(t));
}

static void set_str(json_t *j, const char *key, const char *v)
{
	if (v)
		json_object_set_new(j, key, json_string(v));
}

json_t *sim_order_to_json(const struct sim_order *o)
{
	json_t *j = json_object();

	set_str(j, "out_trade_no", o->out_trade_no);
	set_str(j, "transaction_id", o->transaction_id);
	set_str(j, "appid", o->appid);
	set_str(j, "trade_state", sim_trade_state_name(o->state));
	json_object_set_new(j, "total", json_integer(o->total_fen));
	json_object_set_new(j, "fee", json_integer(o->fee_fen));
	set_str(j, "description", o->description);
	set_str(j, "attach", o->attach);
	set_str(j, "notify_url", o->notify_url);
	set_str(j, "openid", o->openid);
	set_str(j, "bank_type", o->bank_type);
	set_time(j, "create_time", o->create_ts);
	set_time(j, "time_expire", o->time_expire_ts);
	set_time(j, "success_time", o->success_ts);
	set_str(j, "prepay_id", o->prepay_id);
	set_str(j, "prepay_params", o->prepay_params);
	return j;
}

json_t *sim_refund_to_json(const struct sim_refund *r)
{
	json_t *j = json_object();

	set_str(j, "out_refund_no", r->out_refund_no);
	set_str(j, "refund_id", r->refund_id);
	set_str(j, "out_trade_no", r->out_trade_no);
	set_str(j, "transaction_id", r->transaction_id);
	set_str(j, "status", sim_refund_status_name(r->status));
	json_object_set_new(j, "refund", json_integer(r->refund_fen));
	json_object_set_new(j, "total", json_integer(r->total_fen));
	json_object_set_new(j, "fee", json_integer(r->fee_fen));
	set_str(j, "channel", r->channel);
	set_str(j, "user_received_account", r->user_received_account);
	set_str(j, "reason", r->reason);
	set_str(j, "funds_account", r->funds_account);
	set_time(j, "create_time", r->create_ts);
	set_time(j, "success_time", r->success_ts);
	return j;
}

static const char *clock_mode_name(enum sim_clock_mode m)
{
	return m == SIM_CLOCK_FIXED ? "fixed" : m == SIM_CLOCK_OFFSET ? "offset" : "real";
}

json_t *sim_state_to_json(const struct sim_state *st)
{
	json_t *j = json_object();
	json_t *orders = json_array(), *refunds = json_array();
	char now[40];

	for (size_t i = 0; i < st->norders; i++)
		json_array_append_new(orders, sim_order_to_json(st->orders[i]));
	for (size_t i = 0; i < st->nrefunds; i++)
		json_array_append_new(refunds, sim_refund_to_json(st->refunds[i]));
	sim_fmt_rfc3339(sim_state_now(st), now, sizeof(now));
	json_object_set_new(j, "version", json_integer(1));
	json_object_set_new(j, "clock",
	                    json_pack("{s:s, s:I, s:s}", "mode", clock_mode_name(st->clock_mode),
	                              "value", (json_int_t)st->clock_value, "now", now));
	json_object_set_new(j, "seq", json_integer((json_int_t)st->seq));
	json_object_set_new(j, "orders", orders);
	json_object_set_new(j, "refunds", refunds);
	return j;
}

/* Gets an optional string field: 0 absent (out NULL), 1 present, -1 wrong type. */
static int get_str(json_t *j, const char *key, size_t max, const char **out, struct wxr_err *err)
{
	json_t *v = json_object_get(j, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return err_set(err, WXR_EDATA, "'%s' must be a string", key);
	if (json_string_length(v) > max)
		return err_set(err, WXR_EDATA, "'%s' is longer than %zu bytes", key, max);
	*out = json_string_value(v);
	return 1;
}

static int get_time(json_t *j, const char *key, int64_t *out, struct wxr_err *err)
{
	const char *s;
	int r = get_str(j, key, 64, &s, err);

	if (r <= 0)
		return r;
	if (sim_parse_rfc3339(s, true, out) < 0)
		return err_set(err, WXR_EDATA, "'%s': '%s' is not an RFC 3339 time", key, s);
	return 1;
}

static int get_int(json_t *j, const char *key, int64_t *out, struct wxr_err *err)
{
	json_t *v = json_object_get(j, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return err_set(err, WXR_EDATA, "'%s' must be an integer", key);
	*out = json_integer_value(v);
	return 1;
}

static char *dup_or(const char *s, const char *dflt)
{
	return s ? xstrdup(s) : dflt ? xstrdup(dflt) : NULL;
}

static int check_keys(json_t *j, const char *const *allowed, size_t n, struct wxr_err *err)
{
	const char *key;
	json_t *v;

	if (!json_is_object(j))
		return err_set(err, WXR_EDATA, "expected a JSON object");
	json_object_foreach(j, key, v)
	{
		size_t i;

		(void)v;
		for (i = 0; i < n; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (i == n)
			return err_set(err, WXR_EDATA, "unknown field '%s'", key);
	}
	return 0;
}

int sim_order_from_json(struct sim_state *st, const char *appid, json_t *j, struct sim_order **out,
                        struct wxr_err *err)
{
	static const char *const keys[] = { "out_trade_no", "transaction_id", "appid",
		                            "trade_state",  "total",          "fee",
		                            "description",  "attach",         "notify_url",
		                            "openid",       "bank_type",      "create_time",
		                            "time_expire",  "success_time",   "prepay_id",
		                            "prepay_params" };
	struct sim_order *o = xcalloc(1, sizeof(*o));
	const char *otn, *tid, *app, *state, *desc, *attach, *url, *openid, *bank, *pid, *pp;
	int64_t fee = -1;
	int r;

	r = check_keys(j, keys, ARRAY_SIZE(keys), err);
	if (r < 0)
		goto out;
	if ((r = get_str(j, "out_trade_no", 32, &otn, err)) < 0 ||
	    (r = get_str(j, "transaction_id", 32, &tid, err)) < 0 ||
	    (r = get_str(j, "appid", 32, &app, err)) < 0 ||
	    (r = get_str(j, "trade_state", 16, &state, err)) < 0 ||
	    (r = get_str(j, "description", 127, &desc, err)) < 0 ||
	    (r = get_str(j, "attach", 128, &attach, err)) < 0 ||
	    (r = get_str(j, "notify_url", 256, &url, err)) < 0 ||
	    (r = get_str(j, "openid", 128, &openid, err)) < 0 ||
	    (r = get_str(j, "bank_type", 32, &bank, err)) < 0 ||
	    (r = get_str(j, "prepay_id", 64, &pid, err)) < 0 ||
	    (r = get_str(j, "prepay_params", SIM_BODY_MAX, &pp, err)) < 0)
		goto out;
	if (!otn || !sim_str_charset(otn, 1, 32, "_-|*")) {
		r = err_set(err, WXR_EDATA, "'out_trade_no' is required: 1-32 of [0-9A-Za-z_-|*]");
		goto out;
	}
	o->out_trade_no = xstrdup(otn);
	r = get_int(j, "total", &o->total_fen, err);
	if (r < 0)
		goto out;
	if (r == 0 || o->total_fen < 1) {
		r = err_set(err, WXR_EDATA, "'total' (fen, >= 1) is required");
		goto out;
	}
	r = get_int(j, "fee", &fee, err);
	if (r < 0)
		goto out;
	o->state = SIM_TS_NOTPAY;
	if (state && sim_trade_state_parse(state, &o->state) < 0) {
		r = err_set(err, WXR_EDATA, "unknown trade_state '%s'", state);
		goto out;
	}
	o->create_ts = sim_state_now(st);
	if ((r = get_time(j, "create_time", &o->create_ts, err)) < 0)
		goto out;
	o->time_expire_ts = o->create_ts + SEVEN_DAYS_S;
	if ((r = get_time(j, "time_expire", &o->time_expire_ts, err)) < 0)
		goto out;
	if ((r = get_time(j, "success_time", &o->success_ts, err)) < 0)
		goto out;
	o->appid = dup_or(app, appid);
	o->description = dup_or(desc, DEFAULT_DESCRIPTION);
	o->attach = dup_or(attach, NULL);
	o->notify_url = dup_or(url, NULL);
	o->prepay_id = dup_or(pid, NULL);
	o->prepay_params = dup_or(pp, NULL);
	if (o->state == SIM_TS_SUCCESS || o->state == SIM_TS_REFUND) {
		enum sim_trade_state keep = o->state;

		if (tid && sim_state_order_by_tid(st, tid)) {
			r = err_set(err, WXR_EDATA, "transaction_id '%s' is already used", tid);
			goto out;
		}
		sim_state_pay(st, o, o->success_ts ? o->success_ts : sim_state_now(st), tid, openid,
		              bank);
		o->state = keep;
	} else {
		if (o->success_ts || tid) {
			r = err_set(
			        err, WXR_EDATA,
			        "success_time/transaction_id only for SUCCESS or REFUND orders");
			goto out;
		}
		o->openid = dup_or(openid, NULL);
		o->bank_type = dup_or(bank, NULL);
	}
	if (fee >= 0)
		o->fee_fen = fee;
	*out = o;
	o = NULL;
	r = 0;
out:
	sim_order_free(o);
	return r;
}

int sim_refund_from_json(struct sim_state *st, json_t *j, struct sim_refund **out,
                         struct wxr_err *err)
{
	static const char *const keys[] = { "out_refund_no", "refund_id",
		                            "out_trade_no",  "transaction_id",
		                            "status",        "refund",
		                            "total",         "fee",
		                            "channel",       "user_received_account",
		                            "reason",        "funds_account",
		                            "create_time",   "success_time" };
	struct sim_refund *rf = xcalloc(1, sizeof(*rf));
	const char *orn, *rid, *otn, *status, *channel, *account, *reason, *funds;
	const struct sim_order *o;
	int64_t fee = -1;
	int r;

	r = check_keys(j, keys, ARRAY_SIZE(keys), err);
	if (r < 0)
		goto out;
	if ((r = get_str(j, "out_refund_no", 64, &orn, err)) < 0 ||
	    (r = get_str(j, "refund_id", 32, &rid, err)) < 0 ||
	    (r = get_str(j, "out_trade_no", 32, &otn, err)) < 0 ||
	    (r = get_str(j, "status", 16, &status, err)) < 0 ||
	    (r = get_str(j, "channel", 32, &channel, err)) < 0 ||
	    (r = get_str(j, "user_received_account", 128, &account, err)) < 0 ||
	    (r = get_str(j, "reason", 80, &reason, err)) < 0 ||
	    (r = get_str(j, "funds_account", 32, &funds, err)) < 0)
		goto out;
	if (!orn || !sim_str_charset(orn, 1, 64, "_-|*@")) {
		r = err_set(err, WXR_EDATA,
		            "'out_refund_no' is required: 1-64 of [0-9A-Za-z_-|*@]");
		goto out;
	}
	if (sim_state_refund(st, orn)) {
		r = err_set(err, WXR_EDATA, "refund '%s' already exists", orn);
		goto out;
	}
	o = otn ? sim_state_order(st, otn) : NULL;
	if (!o) {
		r = err_set(err, WXR_EDATA, "'out_trade_no' must name an existing order");
		goto out;
	}
	if (!o->success_ts || !o->transaction_id) {
		r = err_set(err, WXR_EDATA, "order '%s' was never paid", otn);
		goto out;
	}
	r = get_int(j, "refund", &rf->refund_fen, err);
	if (r < 0)
		goto out;
	if (r == 0 || rf->refund_fen < 1 || rf->refund_fen > o->total_fen) {
		r = err_set(err, WXR_EDATA, "'refund' (fen, 1..order total) is required");
		goto out;
	}
	rf->total_fen = o->total_fen;
	if ((r = get_int(j, "fee", &fee, err)) < 0)
		goto out;
	rf->status = SIM_RS_PROCESSING;
	if (status && sim_refund_status_parse(status, &rf->status) < 0) {
		r = err_set(err, WXR_EDATA, "unknown refund status '%s'", status);
		goto out;
	}
	rf->create_ts = sim_state_now(st);
	if ((r = get_time(j, "create_time", &rf->create_ts, err)) < 0)
		goto out;
	if ((r = get_time(j, "success_time", &rf->success_ts, err)) < 0)
		goto out;
	if (rf->status == SIM_RS_SUCCESS && !rf->success_ts)
		rf->success_ts = sim_state_now(st);
	if (rf->status != SIM_RS_SUCCESS)
		rf->success_ts = 0;
	if (rid && sim_state_refund_by_id(st, rid)) {
		r = err_set(err, WXR_EDATA, "refund_id '%s' is already used", rid);
		goto out;
	}
	rf->out_refund_no = xstrdup(orn);
	rf->refund_id = rid ? xstrdup(rid) : sim_state_new_refund_id(st, rf->create_ts);
	rf->out_trade_no = xstrdup(o->out_trade_no);
	rf->transaction_id = xstrdup(o->transaction_id);
	rf->channel = dup_or(channel, "ORIGINAL");
	rf->user_received_account = dup_or(account, DEFAULT_ACCOUNT);
	rf->reason = dup_or(reason, NULL);
	rf->funds_account = dup_or(funds, "AVAILABLE");
	rf->fee_fen = fee >= 0 ? fee : sim_refund_fee_fen(st, o, rf->refund_fen);
	*out = rf;
	rf = NULL;
	r = 0;
out:
	sim_refund_free(rf);
	return r;
}

int sim_state_save(const struct sim_state *st, const char *path, struct wxr_err *err)
{
	json_t *j = sim_state_to_json(st);
	char *text = json_dumps(j, JSON_INDENT(1));
	int r = 0;

	json_decref(j);
	if (!text)
		return err_set(err, WXR_EFAIL, "cannot serialise the state");
	if (sim_write_file_atomic(path, text, strlen(text)) < 0)
		r = err_set(err, WXR_EIO, "cannot write '%s': %s", path, strerror(errno));
	free(text);
	return r;
}

int sim_state_load(struct sim_state *st, const char *appid, const char *path, struct wxr_err *err)
{
	json_error_t jerr;
	json_t *j = NULL, *v;
	const char *mode = NULL;
	json_int_t clock_value = 0, seq = 1;
	size_t i;
	int r = 0;

	j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		if (errno == ENOENT && jerr.line == -1)
			return 0;
		return err_set(err, WXR_EDATA, "'%s':%d: %s", path, jerr.line, jerr.text);
	}
	if (json_unpack_ex(j, &jerr, 0, "{s:{s:s, s:I}, s:I}", "clock", "mode", &mode, "value",
	                   &clock_value, "seq", &seq) < 0) {
		r = err_set(err, WXR_EDATA, "'%s': %s", path, jerr.text);
		goto out;
	}
	st->clock_value = clock_value;
	st->seq = seq > 0 ? (uint64_t)seq : 1;
	st->clock_mode = strcmp(mode, "fixed") == 0    ? SIM_CLOCK_FIXED
	                 : strcmp(mode, "offset") == 0 ? SIM_CLOCK_OFFSET
	                                               : SIM_CLOCK_REAL;
	json_array_foreach(json_object_get(j, "orders"), i, v)
	{
		struct sim_order *o = NULL;

		r = sim_order_from_json(st, appid, v, &o, err);
		if (r < 0) {
			err_prefix(err, "'%s': order %zu", path, i);
			goto out;
		}
		if (sim_state_order(st, o->out_trade_no)) {
			r = err_set(err, WXR_EDATA, "'%s': order '%s' twice", path,
			            o->out_trade_no);
			sim_order_free(o);
			goto out;
		}
		sim_state_add_order(st, o);
	}
	json_array_foreach(json_object_get(j, "refunds"), i, v)
	{
		struct sim_refund *rf = NULL;

		r = sim_refund_from_json(st, v, &rf, err);
		if (r < 0) {
			err_prefix(err, "'%s': refund %zu", path, i);
			goto out;
		}
		sim_state_add_refund(st, rf);
	}
out:
	json_decref(j);
	return r;
}
