/*
 * sim_admin.c - the simulator's admin endpoints under /_sim/ (JSON, no auth;
 * the server listens on 127.0.0.1 only). Shapes are documented in the
 * report and exercised by tests/cli/t1*-sim-*.sh.
 */
#include "sim/sim.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "sim/sim_notify.h"

static void admin_error(struct sim_resp *rs, int status, const char *code, const char *msg)
{
	sim_resp_error(rs, status, code, msg, NULL);
}

static json_t *admin_body(const char *body, size_t len, bool optional, struct sim_resp *rs)
{
	json_error_t jerr;
	json_t *j;

	if (len == 0) {
		if (optional)
			return json_object();
		admin_error(rs, 400, "BAD_REQUEST", "a JSON body is required");
		return NULL;
	}
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		char *m = xasprintf("bad JSON: %s", jerr.text);

		admin_error(rs, 400, "BAD_REQUEST", m);
		free(m);
	}
	return j;
}

static json_t *clock_json(const struct sim_state *st)
{
	char t[40];

	sim_fmt_rfc3339(sim_state_now(st), t, sizeof(t));
	return json_pack("{s:s, s:s}", "now", t, "mode",
	                 st->clock_mode == SIM_CLOCK_FIXED    ? "fixed"
	                 : st->clock_mode == SIM_CLOCK_OFFSET ? "offset"
	                                                      : "real");
}

/* POST /_sim/clock {"now": T[, "tick": true]} | {"advance": S} | {"real": true} */
static void admin_clock(struct sim *s, json_t *b, struct sim_resp *rs)
{
	struct sim_state *st = &s->st;
	json_t *now = json_object_get(b, "now"), *adv = json_object_get(b, "advance");
	int64_t ts;

	if (json_is_true(json_object_get(b, "real"))) {
		st->clock_mode = SIM_CLOCK_REAL;
		st->clock_value = 0;
	} else if (now) {
		if (!json_is_string(now) ||
		    sim_parse_rfc3339(json_string_value(now), true, &ts) < 0) {
			admin_error(rs, 400, "BAD_REQUEST", "'now' must be an RFC 3339 time");
			return;
		}
		if (json_is_true(json_object_get(b, "tick"))) {
			st->clock_mode = SIM_CLOCK_OFFSET;
			st->clock_value = ts - sim_real_now();
		} else {
			st->clock_mode = SIM_CLOCK_FIXED;
			st->clock_value = ts;
		}
	} else if (adv) {
		if (!json_is_integer(adv)) {
			admin_error(rs, 400, "BAD_REQUEST",
			            "'advance' must be an integer (seconds)");
			return;
		}
		if (st->clock_mode == SIM_CLOCK_REAL)
			st->clock_mode = SIM_CLOCK_OFFSET;
		st->clock_value += json_integer_value(adv);
	} else {
		admin_error(rs, 400, "BAD_REQUEST", "give 'now', 'advance' or 'real'");
		return;
	}
	sim_persist(s);
	sim_resp_json(rs, 200, clock_json(st));
}

/* POST /_sim/orders: one order object or an array; all or nothing. */
static void admin_seed_orders(struct sim *s, json_t *b, struct sim_resp *rs)
{
	struct sim_state *st = &s->st;
	size_t keep = st->norders, i;
	json_t *items = json_is_array(b) ? b : NULL, *v, *out = json_array();
	struct wxr_err err = WXR_ERR_INIT;

	for (i = 0; i < (items ? json_array_size(items) : 1); i++) {
		struct sim_order *o = NULL;

		v = items ? json_array_get(items, i) : b;
		if (sim_order_from_json(st, s->cfg.appid, v, &o, &err) < 0)
			goto fail;
		if (sim_state_order(st, o->out_trade_no)) {
			err_set(&err, WXR_EDATA, "order '%s' already exists", o->out_trade_no);
			sim_order_free(o);
			goto fail;
		}
		sim_state_add_order(st, o);
		json_array_append_new(out, sim_order_to_json(o));
	}
	sim_persist(s);
	if (items) {
		sim_resp_json(rs, 200, out);
	} else {
		sim_resp_json(rs, 200, json_incref(json_array_get(out, 0)));
		json_decref(out);
	}
	return;
fail:
	sim_state_truncate(st, keep, st->nrefunds);
	json_decref(out);
	if (items)
		err_prefix(&err, "item %zu", i);
	admin_error(rs, 400, "BAD_REQUEST", err.msg);
}

struct saved_state {
	struct sim_order *o;
	enum sim_trade_state state;
};

/* POST /_sim/refunds: one refund object or an array; all or nothing. */
static void admin_seed_refunds(struct sim *s, json_t *b, struct sim_resp *rs)
{
	struct sim_state *st = &s->st;
	size_t keep = st->nrefunds, i, n;
	json_t *items = json_is_array(b) ? b : NULL, *v, *out = json_array();
	struct wxr_err err = WXR_ERR_INIT;
	struct saved_state *saved;
	size_t nsaved = 0;

	n = items ? json_array_size(items) : 1;
	saved = xcalloc(n + 1, sizeof(*saved));
	for (i = 0; i < n; i++) {
		struct sim_refund *r = NULL;
		struct sim_order *o;

		v = items ? json_array_get(items, i) : b;
		if (sim_refund_from_json(st, v, &r, &err) < 0)
			goto fail;
		o = sim_state_order(st, r->out_trade_no);
		if (r->status != SIM_RS_CLOSED &&
		    sim_refunded_fen(st, o->out_trade_no, NULL) + r->refund_fen > o->total_fen) {
			err_set(&err, WXR_EDATA, "refunds of '%s' would exceed its total",
			        o->out_trade_no);
			sim_refund_free(r);
			goto fail;
		}
		sim_state_add_refund(st, r);
		saved[nsaved].o = o;
		saved[nsaved++].state = o->state;
		if (o->state == SIM_TS_SUCCESS)
			o->state = SIM_TS_REFUND;
		json_array_append_new(out, sim_refund_to_json(r));
	}
	sim_persist(s);
	if (items) {
		sim_resp_json(rs, 200, out);
	} else {
		sim_resp_json(rs, 200, json_incref(json_array_get(out, 0)));
		json_decref(out);
	}
	free(saved);
	return;
fail:
	while (nsaved--)
		saved[nsaved].o->state = saved[nsaved].state;
	free(saved);
	sim_state_truncate(st, st->norders, keep);
	json_decref(out);
	if (items)
		err_prefix(&err, "item %zu", i);
	admin_error(rs, 400, "BAD_REQUEST", err.msg);
}

static int opt_time(json_t *b, const char *key, int64_t *out, struct sim_resp *rs)
{
	json_t *v = json_object_get(b, key);

	if (!v)
		return 0;
	if (!json_is_string(v) || sim_parse_rfc3339(json_string_value(v), true, out) < 0) {
		char *m = xasprintf("'%s' must be an RFC 3339 time", key);

		admin_error(rs, 400, "BAD_REQUEST", m);
		free(m);
		return -1;
	}
	return 1;
}

static int opt_string(json_t *b, const char *key, const char **out, struct sim_resp *rs)
{
	json_t *v = json_object_get(b, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v) || !*json_string_value(v)) {
		char *m = xasprintf("'%s' must be a non-empty string", key);

		admin_error(rs, 400, "BAD_REQUEST", m);
		free(m);
		return -1;
	}
	*out = json_string_value(v);
	return 1;
}

/* POST /_sim/orders/{no}/pay {"success_time"?, "transaction_id"?, "openid"?, "bank_type"?} */
static void admin_pay(struct sim *s, struct sim_order *o, json_t *b, struct sim_resp *rs)
{
	int64_t ts = sim_state_now(&s->st);
	const char *tid, *openid, *bank;

	if (o->state == SIM_TS_SUCCESS || o->state == SIM_TS_REFUND || o->state == SIM_TS_REVOKED) {
		admin_error(rs, 409, "CONFLICT", "the order is already paid (or revoked)");
		return;
	}
	if (opt_time(b, "success_time", &ts, rs) < 0 ||
	    opt_string(b, "transaction_id", &tid, rs) < 0 ||
	    opt_string(b, "openid", &openid, rs) < 0 || opt_string(b, "bank_type", &bank, rs) < 0)
		return;
	if (tid && sim_state_order_by_tid(&s->st, tid)) {
		admin_error(rs, 409, "CONFLICT", "that transaction_id is already used");
		return;
	}
	sim_state_pay(&s->st, o, ts, tid, openid, bank);
	sim_persist(s);
	sim_notify_paid(s, o);
	sim_resp_json(rs, 200, sim_order_to_json(o));
}

/* POST /_sim/orders/{no}/expire: an unpaid order times out at WeChat Pay (CLOSED). */
static void admin_expire(struct sim *s, struct sim_order *o, struct sim_resp *rs)
{
	int64_t now = sim_state_now(&s->st);

	if (o->state != SIM_TS_NOTPAY && o->state != SIM_TS_USERPAYING) {
		admin_error(rs, 409, "CONFLICT", "only NOTPAY/USERPAYING orders can expire");
		return;
	}
	o->state = SIM_TS_CLOSED;
	if (o->time_expire_ts > now)
		o->time_expire_ts = now;
	sim_persist(s);
	sim_resp_json(rs, 200, sim_order_to_json(o));
}

/* POST /_sim/orders/{no}/state {"trade_state": S}: forces an unpaid state. */
static void admin_order_state(struct sim *s, struct sim_order *o, json_t *b, struct sim_resp *rs)
{
	const char *v = json_string_value(json_object_get(b, "trade_state"));
	enum sim_trade_state ts;

	if (!v || sim_trade_state_parse(v, &ts) < 0) {
		admin_error(rs, 400, "BAD_REQUEST", "'trade_state' must be a trade state");
		return;
	}
	if ((ts == SIM_TS_SUCCESS || ts == SIM_TS_REFUND) && !o->success_ts) {
		admin_error(rs, 409, "CONFLICT", "use /pay to make an order paid");
		return;
	}
	o->state = ts;
	sim_persist(s);
	sim_resp_json(rs, 200, sim_order_to_json(o));
}

/* POST /_sim/refunds/{no}/status {"status": S, "success_time"?, "user_received_account"?} */
static void admin_refund_status(struct sim *s, struct sim_refund *r, json_t *b, struct sim_resp *rs)
{
	const char *v = json_string_value(json_object_get(b, "status"));
	const char *account;
	enum sim_refund_status st;
	int64_t ts = sim_state_now(&s->st);
	bool changed;

	if (!v || sim_refund_status_parse(v, &st) < 0) {
		admin_error(rs, 400, "BAD_REQUEST",
		            "'status' must be PROCESSING, SUCCESS, ABNORMAL or CLOSED");
		return;
	}
	if (opt_time(b, "success_time", &ts, rs) < 0 ||
	    opt_string(b, "user_received_account", &account, rs) < 0)
		return;
	changed = r->status != st;
	r->status = st;
	r->success_ts = st == SIM_RS_SUCCESS ? ts : 0;
	if (account) {
		free(r->user_received_account);
		r->user_received_account = xstrdup(account);
	}
	sim_persist(s);
	if (changed)
		sim_notify_refund(s, r);
	sim_resp_json(rs, 200, sim_refund_to_json(r));
}

static json_t *faults_json(const struct sim *s)
{
	json_t *a = json_array();

	for (size_t i = 0; i < s->nfaults; i++)
		json_array_append_new(a, sim_fault_to_json(&s->faults[i]));
	return a;
}

/* POST /_sim/faults: one rule or an array, appended to the queue; all or nothing. */
static void admin_faults(struct sim *s, json_t *b, struct sim_resp *rs)
{
	json_t *items = json_is_array(b) ? b : NULL;
	size_t n = items ? json_array_size(items) : 1, i;
	struct sim_fault *tmp = xcalloc(n + 1, sizeof(*tmp));
	struct wxr_err err = WXR_ERR_INIT;

	for (i = 0; i < n; i++) {
		if (sim_fault_from_json(items ? json_array_get(items, i) : b, &tmp[i], &err) < 0) {
			for (size_t k = 0; k < i; k++) {
				free(tmp[k].match);
				free(tmp[k].code);
				free(tmp[k].message);
			}
			free(tmp);
			if (items)
				err_prefix(&err, "item %zu", i);
			admin_error(rs, 400, "BAD_REQUEST", err.msg);
			return;
		}
	}
	for (i = 0; i < n; i++) {
		if (s->nfaults == s->faults_cap) {
			s->faults_cap = s->faults_cap ? s->faults_cap * 2 : 16;
			s->faults = xreallocarray(s->faults, s->faults_cap, sizeof(*s->faults));
		}
		s->faults[s->nfaults++] = tmp[i];
	}
	free(tmp);
	sim_resp_json(rs, 200, faults_json(s));
}

/* Splits "/_sim/a/b/c" into decoded segments after "_sim"; returns the count. */
static size_t segments(const char *path, char **out, size_t max)
{
	const char *p = path + strlen("/_sim");
	size_t n = 0;

	while (*p == '/' && n < max) {
		const char *q = strchr(p + 1, '/');
		size_t len = q ? (size_t)(q - p - 1) : strlen(p + 1);

		if (len == 0)
			break;
		out[n] = sim_pct_decode(p + 1, len);
		if (!out[n])
			break;
		n++;
		if (!q)
			break;
		p = q;
	}
	return n;
}

void sim_admin_handle(struct sim *s, const char *method, const char *path, const char *body,
                      size_t body_len, struct sim_resp *rs)
{
	char *seg[4] = { NULL, NULL, NULL, NULL };
	size_t n = segments(path, seg, 4);
	bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0,
	     del = strcmp(method, "DELETE") == 0;
	json_t *b = NULL;

	if (post) {
		b = admin_body(body, body_len, true, rs);
		if (!b)
			goto out;
	}
	if (n == 1 && strcmp(seg[0], "state") == 0 && get) {
		sim_resp_json(rs, 200, sim_state_to_json(&s->st));
	} else if (n == 1 && strcmp(seg[0], "reset") == 0 && post) {
		sim_state_clear(&s->st);
		sim_faults_clear(s);
		sim_journal_clear(s);
		sim_tokens_sweep(s, true);
		sim_persist(s);
		sim_resp_json(rs, 200, json_pack("{s:b}", "reset", 1));
	} else if (n == 1 && strcmp(seg[0], "clock") == 0 && (get || post)) {
		if (get)
			sim_resp_json(rs, 200, clock_json(&s->st));
		else
			admin_clock(s, b, rs);
	} else if (n == 1 && strcmp(seg[0], "orders") == 0 && post) {
		if (body_len == 0)
			admin_error(rs, 400, "BAD_REQUEST", "a JSON body is required");
		else
			admin_seed_orders(s, b, rs);
	} else if (n == 1 && strcmp(seg[0], "refunds") == 0 && post) {
		if (body_len == 0)
			admin_error(rs, 400, "BAD_REQUEST", "a JSON body is required");
		else
			admin_seed_refunds(s, b, rs);
	} else if (n >= 2 && strcmp(seg[0], "orders") == 0) {
		struct sim_order *o = sim_state_order(&s->st, seg[1]);

		if (!o)
			admin_error(rs, 404, "NOT_FOUND", "no such order");
		else if (n == 2 && get)
			sim_resp_json(rs, 200, sim_order_to_json(o));
		else if (n == 3 && post && strcmp(seg[2], "pay") == 0)
			admin_pay(s, o, b, rs);
		else if (n == 3 && post && strcmp(seg[2], "expire") == 0)
			admin_expire(s, o, rs);
		else if (n == 3 && post && strcmp(seg[2], "state") == 0)
			admin_order_state(s, o, b, rs);
		else
			admin_error(rs, 404, "NOT_FOUND", "no such admin endpoint");
	} else if (n >= 2 && strcmp(seg[0], "refunds") == 0) {
		struct sim_refund *r = sim_state_refund(&s->st, seg[1]);

		if (!r)
			admin_error(rs, 404, "NOT_FOUND", "no such refund");
		else if (n == 2 && get)
			sim_resp_json(rs, 200, sim_refund_to_json(r));
		else if (n == 3 && post && strcmp(seg[2], "status") == 0)
			admin_refund_status(s, r, b, rs);
		else
			admin_error(rs, 404, "NOT_FOUND", "no such admin endpoint");
	} else if (n >= 1 && strcmp(seg[0], "notify") == 0) {
		sim_notify_admin(s, method, seg + 1, n - 1, b, rs);
	} else if (n == 1 && strcmp(seg[0], "faults") == 0 && (get || post || del)) {
		if (del)
			sim_faults_clear(s);
		if (post)
			admin_faults(s, b, rs);
		else
			sim_resp_json(rs, 200, faults_json(s));
	} else if (n == 1 && strcmp(seg[0], "journal") == 0 && (get || del)) {
		if (del)
			sim_journal_clear(s);
		sim_resp_json(rs, 200, sim_journal_to_json(s));
	} else if (n == 2 && strcmp(seg[0], "tokens") == 0 && strcmp(seg[1], "expire") == 0 &&
	           post) {
		sim_tokens_expire(s);
		sim_resp_json(rs, 200, json_pack("{s:i}", "expired", (int)s->ntokens));
	} else {
		admin_error(rs, 404, "NOT_FOUND", "no such admin endpoint");
	}
out:
	json_decref(b);
	for (size_t i = 0; i < n; i++)
		free(seg[i]);
}
