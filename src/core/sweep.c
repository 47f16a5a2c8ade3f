/*
 * sweep.c - the order and refund sweeps: decisions, the intent log, the
 * calls and the ledger changes (see sweep.h for the rules).
 *
 * The life of a close (ORDER_CLOSE), each arrow one committed transaction
 * with its audit entries; a crash anywhere leaves the action in the state
 * of the last arrow, and the next sweep settles it by a query first:
 *
 *   query NOTPAY -> intent -> sent -> [POST close] -> query -> done (CLOSED)
 *                                                           -> cancelled + ORDER_MARK_PAID (paid)
 *                                                           -> failed (still NOTPAY: retried)
 *
 * An abnormal refund (ABNORMAL_REFUND) goes the same way:
 *
 *   query ABNORMAL -> [brakes, approval] -> intent -> sent -> [POST] -> done / failed
 *                                        -> pending_approval -> (approve) intent -> ...
 *
 * An engine refund (REFUND, filed by reconcile as intent or pending_approval):
 *
 *   intent -> [approval, brakes] -> sent (+ ledger order PAID, ledger refund
 *   PROCESSING) -> [POST refund] -> done / failed (refused: ledger refund removed)
 *   sent (earlier run) -> query -> done, or (RESOURCE_NOT_EXISTS) sent again
 */
#include "core/sweep.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "core/payflow.h"
#include "db/audit.h"
#include "db/db_actions.h"
#include "db/db_payflow.h"
#include "wx/crypto.h"

#define WHY_LEN 768

/* ---- the wxpay calls ---- */

static int w_query_order(void *ctx, const char *no, struct wxpay_transaction *out,
                         struct wxr_err *err)
{
	return wxpay_query_order(ctx, no, out, err);
}

static int w_close_order(void *ctx, const char *no, struct wxr_err *err)
{
	return wxpay_close_order(ctx, no, err);
}

static int w_query_refund(void *ctx, const char *no, struct wxpay_refund *out, struct wxr_err *err)
{
	return wxpay_refund_query(ctx, no, out, err);
}

static int w_abnormal(void *ctx, struct wxpay_abnormal_refund_req *req, struct wxpay_refund *out,
                      struct wxr_err *err)
{
	return wxpay_refund_abnormal(ctx, req, out, err);
}

static int w_create_refund(void *ctx, const struct wxpay_refund_req *req, struct wxpay_refund *out,
                           struct wxr_err *err)
{
	return wxpay_refund_create(ctx, req, out, err);
}

static const struct wxpay_status *w_last(void *ctx)
{
	return wxpay_last(ctx);
}

static bool w_poisoned(void *ctx)
{
	return wxpay_poisoned(ctx);
}

void sweep_api_wxpay(struct sweep_api *api, struct wxpay *w)
{
	memset(api, 0, sizeof(*api));
	api->ctx = w;
	api->query_order = w_query_order;
	api->close_order = w_close_order;
	api->query_refund = w_query_refund;
	api->abnormal_refund = w_abnormal;
	api->last = w_last;
	api->poisoned = w_poisoned;
	api->create_refund = w_create_refund;
}

/* ---- decisions ---- */

static bool is(const char *a, const char *b)
{
	return a && strcmp(a, b) == 0;
}

enum sweep_order_decision sweep_decide_order(const char *trade_state, bool has_expire,
                                             int64_t expire_ts, int64_t now)
{
	if (is(trade_state, "SUCCESS") || is(trade_state, "REFUND"))
		return SWEEP_ORDER_MARK_PAID;
	if (is(trade_state, "NOTPAY"))
		return SWEEP_ORDER_CLOSE;
	if (is(trade_state, "CLOSED"))
		return SWEEP_ORDER_CLOSED;
	if (is(trade_state, "USERPAYING"))
		return has_expire && expire_ts < now ? SWEEP_ORDER_CLOSE : SWEEP_ORDER_WAIT;
	return SWEEP_ORDER_SKIP;
}

enum sweep_close_outcome sweep_after_close(const char *trade_state)
{
	if (is(trade_state, "CLOSED"))
		return SWEEP_CLOSE_DONE;
	if (is(trade_state, "SUCCESS") || is(trade_state, "REFUND"))
		return SWEEP_CLOSE_PAID;
	return SWEEP_CLOSE_FAILED;
}

const char *sweep_paid_state(const char *trade_state, int64_t total_fen, int64_t refunded_fen)
{
	if (!is(trade_state, "REFUND") || refunded_fen <= 0)
		return "PAID";
	return refunded_fen >= total_fen ? "REFUNDED" : "PARTIAL_REFUNDED";
}

bool sweep_brake(long count, long max_count, const char *count_key, int64_t amount_fen,
                 int64_t max_amount_fen, const char *amount_key, const char *what, char *why,
                 size_t n)
{
	if (count > max_count) {
		snprintf(why, n, "brake: %ld %s, more than %s = %ld; nothing was done", count, what,
		         count_key, max_count);
		return true;
	}
	if (max_amount_fen >= 0 && amount_fen > max_amount_fen) {
		snprintf(why, n,
		         "brake: %ld %s for %" PRId64 " fen, more than %s = %" PRId64
		         " fen; nothing was done",
		         count, what, amount_fen, amount_key, max_amount_fen);
		return true;
	}
	return false;
}

/* ---- the result ---- */

void sweep_result_release(struct sweep_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nitems; i++) {
		free(r->items[i].target);
		free(r->items[i].detail);
	}
	free(r->items);
	free(r->actions);
	memset(r, 0, sizeof(*r));
}

int sweep_status(const struct sweep_result *r, const char *what, struct wxr_err *err)
{
	/* a dry run exits as the run it plans would */
	long held = r->held + (r->dry_run ? r->new_held : 0);

	if (r->stopped)
		return err_set(err, r->stop_code ? r->stop_code : WXR_ESIG, "%s: stopped: %s", what,
		               r->stop);
	if (r->failed)
		return err_set(err, WXR_EFAIL,
		               "%s: %ld failed (a later sweep tries again; see above)", what,
		               r->failed);
	if (r->braked)
		return err_set(err, WXR_EATTENTION, "%s: %s", what, r->brake);
	if (held || r->attention) {
		if (r->attention && held)
			return err_set(err, WXR_EATTENTION,
			               "%s: %ld need a person (see above); %ld action%s for "
			               "approval ('wxrecon actions --pending')",
			               what, r->attention, held, held == 1 ? " waits" : "s wait");
		if (r->attention)
			return err_set(err, WXR_EATTENTION, "%s: %ld need a person (see above)",
			               what, r->attention);
		return err_set(err, WXR_EATTENTION,
		               "%s: %ld action%s for approval ('wxrecon actions --pending', "
		               "'wxrecon approve ID')",
		               what, held, held == 1 ? " waits" : "s wait");
	}
	return 0;
}

/* ---- the run ---- */

struct sw {
	struct db *db;
	const struct sweep_api *api;
	const struct sweep_opts *o;
	struct sweep_result *res;
	const char *actor;
	int tz;
	char now[CLOCK_RFC3339_LEN];
	char date[CLOCK_DATE_LEN];
	size_t items_cap, actions_cap;
};

static void item_add(struct sw *sw, const char *target, const char *what, int64_t action_id,
                     const char *fmt, ...) WXR_PRINTF(5, 6);

static void item_add(struct sw *sw, const char *target, const char *what, int64_t action_id,
                     const char *fmt, ...)
{
	struct sweep_result *res = sw->res;
	struct sweep_item *it;
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (res->nitems == sw->items_cap) {
		sw->items_cap = sw->items_cap ? 2 * sw->items_cap : 64;
		res->items = xreallocarray(res->items, sw->items_cap, sizeof(*res->items));
	}
	it = &res->items[res->nitems++];
	it->target = xstrdup(target);
	it->what = what;
	it->detail = xstrdup(line);
	it->action_id = action_id;
}

static void action_seen(struct sw *sw, int64_t id)
{
	struct sweep_result *res = sw->res;

	if (id <= 0 || (res->nactions && res->actions[res->nactions - 1] == id))
		return;
	if (res->nactions == sw->actions_cap) {
		sw->actions_cap = sw->actions_cap ? 2 * sw->actions_cap : 64;
		res->actions = xreallocarray(res->actions, sw->actions_cap, sizeof(*res->actions));
	}
	res->actions[res->nactions++] = id;
}

static void checkpoint(struct sw *sw, const char *point)
{
	if (sw->o->checkpoint)
		sw->o->checkpoint(sw->o->checkpoint_ctx, point);
}

static void jset(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

static void jint(json_t *o, const char *key, int64_t v)
{
	json_object_set_new(o, key, json_integer((json_int_t)v));
}

static char *json_text(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(o);
	if (!s)
		abort(); /* only on out of memory */
	return s;
}

/* Appends an audit entry; detail is stolen. */
static int audit_ev(struct sw *sw, const char *event, const char *subject, json_t *detail,
                    struct wxr_err *err)
{
	char *text;
	int r;

	if (!detail)
		detail = json_object();
	if (sw->o->dry_run)
		json_object_set_new(detail, "dry_run", json_true());
	if (sw->o->who)
		jset(detail, "by", sw->o->who);
	text = json_text(detail);
	r = audit_append(sw->db, sw->o->run_id, sw->actor, event, subject, text, err);
	free(text);
	return r;
}

static int begin(struct sw *sw, struct wxr_err *err)
{
	return db_begin(sw->db, err);
}

static int end(struct sw *sw, int r, struct wxr_err *err)
{
	if (r < 0) {
		db_rollback(sw->db);
		return r;
	}
	return db_commit(sw->db, err);
}

/*
 * Moves a to state `to` (compare-and-set on its current state) and audits
 * it as event with the states before and after; extra (stolen, may be
 * NULL) adds to the detail; note (NULL keeps) is the action's note for
 * people. Inside the caller's transaction.
 */
static int move_note(struct sw *sw, struct action *a, const char *to, const char *result,
                     const char *error, const char *note, const char *event, json_t *extra,
                     struct wxr_err *err)
{
	struct action_change c;
	json_t *d = extra ? extra : json_object();
	int r;

	memset(&c, 0, sizeof(c));
	c.to = to;
	c.result = result;
	c.error = error;
	c.note = note;
	c.run_id = sw->o->run_id;
	c.now = sw->now;
	if (strcmp(to, "sent") == 0)
		c.sent_ts = (int64_t)time(NULL);
	r = actions_move(sw->db, a->id, a->state, &c, err);
	if (r >= 0)
		a->sent_ts = c.sent_ts ? c.sent_ts : a->sent_ts;
	if (r < 0) {
		json_decref(d);
		return r;
	}
	jint(d, "action_id", a->id);
	jset(d, "kind", a->kind);
	jset(d, "before", a->state);
	jset(d, "after", to);
	jset(d, "result", result);
	if (error && *error)
		jset(d, "error", error);
	if (strcmp(to, "sent") == 0)
		jint(d, "attempt", a->attempts + 1);
	r = audit_ev(sw, event, a->target, d, err);
	if (strcmp(to, "sent") == 0)
		a->attempts++;
	snprintf(a->state, sizeof(a->state), "%s", to);
	action_seen(sw, a->id);
	return r;
}

static int move(struct sw *sw, struct action *a, const char *to, const char *result,
                const char *error, const char *event, json_t *extra, struct wxr_err *err)
{
	return move_note(sw, a, to, result, error, NULL, event, extra, err);
}

/* The same in a transaction of its own. */
static int move_tx(struct sw *sw, struct action *a, const char *to, const char *result,
                   const char *error, const char *event, json_t *extra, struct wxr_err *err)
{
	int r = begin(sw, err);

	if (r < 0) {
		json_decref(extra);
		return r;
	}
	r = move(sw, a, to, result, error, event, extra, err);
	return end(sw, r, err);
}

/* Opens (or re-arms) an action and audits it; inside the caller's transaction. */
static int open_action(struct sw *sw, const char *kind, const char *target, const char *state,
                       bool has_amount, int64_t amount, json_t *params, const char *note,
                       const char *const *rearm, const char *event, json_t *extra,
                       struct action *out, bool *out_written, struct wxr_err *err)
{
	struct action_new n;
	struct action before;
	bool found = false;
	char *ptext = params ? json_text(params) : NULL;
	json_t *d = extra ? extra : json_object();
	int r;

	memset(&n, 0, sizeof(n));
	n.mchid = sw->o->mchid;
	n.kind = kind;
	n.target = target;
	n.state = state;
	n.has_amount = has_amount;
	n.amount = amount;
	n.date = sw->date;
	n.params = ptext;
	n.note = note;
	n.run_id = sw->o->run_id;
	n.now = sw->now;
	memset(&before, 0, sizeof(before));
	r = actions_get(sw->db, sw->o->mchid, kind, target, &before, &found, err);
	if (r < 0)
		goto out;
	r = actions_open(sw->db, &n, rearm, out, out_written, err);
	if (r < 0)
		goto out;
	if (*out_written) {
		jint(d, "action_id", out->id);
		jset(d, "kind", kind);
		if (found)
			jset(d, "before", before.state);
		else
			json_object_set_new(d, "before", json_null());
		jset(d, "after", state);
		if (has_amount)
			jint(d, "amount", amount);
		jset(d, "why", note);
		r = audit_ev(sw, event, target, d, err);
		d = NULL;
		action_seen(sw, out->id);
		if (r < 0) {
			action_release(out);
			goto out;
		}
	}
out:
	json_decref(d);
	action_release(&before);
	free(ptext);
	return r;
}

/*
 * How long one call may take, by the real clock: every attempt timing out
 * and the backoffs between them, plus a margin for WeChat Pay to act on a
 * request whose sender is gone. A 'sent' action younger than this may be
 * the call of a run that crashed (kill -9) and is still in flight.
 */
static int64_t inflight_window_s(const struct config *cfg)
{
	int64_t ms = 0;
	long d = cfg->retry_base_ms > 0 ? cfg->retry_base_ms : 0;

	for (int i = 0; i < cfg->retries; i++) {
		ms += d < SWEEP_BACKOFF_CAP_MS ? d : SWEEP_BACKOFF_CAP_MS;
		if (d < SWEEP_BACKOFF_CAP_MS)
			d *= 2;
	}
	return (int64_t)(cfg->retries + 1) * cfg->timeout_s + (ms + 999) / 1000 +
	       SWEEP_INFLIGHT_MARGIN_S;
}

/*
 * A 'sent' action whose call may still be in flight is not settled (a query
 * could see the state before WeChat Pay acted, and the sweep would send
 * again): *wait is set, and it is listed and audited for a later run.
 */
static int in_flight(struct sw *sw, struct action *a, bool *wait, struct wxr_err *err)
{
	int64_t win = inflight_window_s(sw->o->cfg);
	int64_t age = (int64_t)time(NULL) - a->sent_ts;
	char why[WHY_LEN];

	*wait = false;
	if (strcmp(a->state, "sent") != 0 || a->sent_ts <= 0 || age >= win)
		return 0;
	*wait = true;
	sw->res->skipped++;
	action_seen(sw, a->id);
	snprintf(why, sizeof(why),
	         "%s action %" PRId64 " was sent %" PRId64 " s ago and its call may still be in "
	         "flight (limit %" PRId64 " s: the timeout and retries of [api] and a margin): "
	         "left for a later run, not sent again",
	         a->kind, a->id, age < 0 ? 0 : age, win);
	item_add(sw, a->target, "waits", a->id, "%s", why);
	return audit_ev(sw, "decision.skip", a->target,
	                json_pack("{s:I, s:s, s:I, s:I}", "action_id", (json_int_t)a->id, "why",
	                          why, "sent_age_s", (json_int_t)age, "limit_s", (json_int_t)win),
	                err);
}

/* ---- calls ---- */

enum cc { CC_OK, CC_STOP, CC_NOTFOUND, CC_FAIL };

static void stop(struct sw *sw, int code, const char *why)
{
	if (sw->res->stopped)
		return;
	sw->res->stopped = true;
	sw->res->stop_code = code;
	snprintf(sw->res->stop, sizeof(sw->res->stop), "%s", why);
}

/* What a call's result means for the sweep; notfound_code: the 404 code that
 * says "no such thing" (NULL: none). A failed verification stops the run,
 * but a signature probe only fails its call: its answer is not believed and
 * the call's fate is settled by a query, like a timeout. */
static enum cc classify(struct sw *sw, int r, const char *notfound_code, const struct wxr_err *e)
{
	const struct wxpay_status *st;

	if (r >= 0)
		return CC_OK;
	st = sw->api->last(sw->api->ctx);
	if (r == WXR_ESIG && st && st->probe && !sw->api->poisoned(sw->api->ctx))
		return CC_FAIL;
	if (r == WXR_ESIG || sw->api->poisoned(sw->api->ctx)) {
		stop(sw, WXR_ESIG, e->msg);
		return CC_STOP;
	}
	/* unreachable: every later call would fail alike; one line says it */
	if (r == WXR_ENET && st && st->unreachable) {
		stop(sw, WXR_ENET, e->msg);
		return CC_STOP;
	}
	if (r == WXR_EAPI && notfound_code && st && st->http_status == 404 &&
	    wxpay_code_is(st->code, notfound_code))
		return CC_NOTFOUND;
	return CC_FAIL;
}

static enum cc query_order(struct sw *sw, const char *otn, struct wxpay_transaction *t, char *why,
                           size_t n)
{
	struct wxr_err e = WXR_ERR_INIT;
	enum cc c;
	int r;

	memset(t, 0, sizeof(*t));
	r = sw->api->query_order(sw->api->ctx, otn, t, &e);
	c = classify(sw, r, "ORDER_NOT_EXIST", &e);
	if (c == CC_OK && t->out_trade_no && *t->out_trade_no &&
	    strcmp(t->out_trade_no, otn) != 0) {
		snprintf(why, n, "the query answer names another order '%s'", t->out_trade_no);
		return CC_FAIL;
	}
	if (c == CC_OK && t->mchid && *t->mchid && strcmp(t->mchid, sw->o->mchid) != 0) {
		snprintf(why, n, "the query answer names another merchant '%s'", t->mchid);
		return CC_FAIL;
	}
	if (c == CC_OK && (!t->trade_state || !*t->trade_state)) {
		snprintf(why, n, "the query answer has no trade_state");
		return CC_FAIL;
	}
	if (c != CC_OK)
		snprintf(why, n, "%s", e.msg);
	return c;
}

static enum cc query_refund(struct sw *sw, const char *orn, struct wxpay_refund *q, char *why,
                            size_t n)
{
	struct wxr_err e = WXR_ERR_INIT;
	enum cc c;
	int r;

	memset(q, 0, sizeof(*q));
	r = sw->api->query_refund(sw->api->ctx, orn, q, &e);
	c = classify(sw, r, "RESOURCE_NOT_EXISTS", &e);
	if (c == CC_OK && q->out_refund_no && *q->out_refund_no &&
	    strcmp(q->out_refund_no, orn) != 0) {
		snprintf(why, n, "the query answer names another refund '%s'", q->out_refund_no);
		return CC_FAIL;
	}
	if (c == CC_OK && (!q->status || !*q->status)) {
		snprintf(why, n, "the query answer has no status");
		return CC_FAIL;
	}
	if (c != CC_OK)
		snprintf(why, n, "%s", e.msg);
	return c;
}

/* A query failed: counted, audited, and the run goes on with the next one. */
static int query_failed(struct sw *sw, const char *target, int64_t action_id, const char *why,
                        struct wxr_err *err)
{
	json_t *d = json_object();

	sw->res->failed++;
	item_add(sw, target, "failed", action_id, "query failed: %s", why);
	jset(d, "why", why);
	if (action_id)
		jint(d, "action_id", action_id);
	return audit_ev(sw, "decision.fail", target, d, err);
}

static int skip(struct sw *sw, struct wxr_err *err, const char *target, const char *what,
                const char *fmt, ...) WXR_PRINTF(5, 6);

/* A decision to do nothing, audited. */
static int skip(struct sw *sw, struct wxr_err *err, const char *target, const char *what,
                const char *fmt, ...)
{
	char why[WHY_LEN];
	va_list ap;
	json_t *d = json_object();
	int r;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	item_add(sw, target, what, 0, "%s", why);
	jset(d, "why", why);
	r = audit_ev(sw, "decision.skip", target, d, err);
	return r;
}

/* ---- orders ---- */

static const char *const order_kinds[] = { "ORDER_CLOSE", "ORDER_MARK_PAID", NULL };
static const char *const refund_kinds[] = { "ABNORMAL_REFUND", NULL };
static const char *const rearm_failed[] = { "failed", NULL };
static const char *const rearm_mark_paid[] = { "failed", "done", NULL };

static json_t *order_params(const struct sweep_order *o, const struct wxpay_transaction *t)
{
	json_t *p = json_object();

	jset(p, "out_trade_no", o->out_trade_no);
	jint(p, "ledger_amount", o->amount_total);
	jset(p, "created_at", o->created_at);
	if (t) {
		jset(p, "trade_state", t->trade_state);
		if (t->transaction_id && *t->transaction_id)
			jset(p, "transaction_id", t->transaction_id);
		if (t->success_time && *t->success_time)
			jset(p, "success_time", t->success_time);
		jint(p, "amount_total", t->amount_total);
	}
	return p;
}

/*
 * A payment WeChat Pay confirms (SUCCESS or REFUND) that the ledger has as
 * NOTPAY: recorded as ORDER_MARK_PAID (intent and done in this one
 * transaction: no call is made), or held for approval when the amounts
 * differ or policy says not to. approved: an approved ORDER_MARK_PAID intent
 * being settled (or NULL). Inside the caller's transaction.
 */
static int mark_paid_tx(struct sw *sw, const struct sweep_order *o,
                        const struct wxpay_transaction *t, struct action *approved, const char *why,
                        struct wxr_err *err)
{
	struct action own;
	struct action *a = approved;
	char paid_at[CLOCK_RFC3339_LEN], paid_date[CLOCK_DATE_LEN];
	char hold[WHY_LEN] = "";
	const char *new_state;
	int64_t paid_ts = 0, refunded = 0;
	bool written = false, changed = false;
	json_t *d;
	int r;

	memset(&own, 0, sizeof(own));
	if (!t->transaction_id || !*t->transaction_id || !t->success_time ||
	    time_parse_rfc3339(t->success_time, &paid_ts, NULL) < 0) {
		sw->res->failed++;
		item_add(sw, o->out_trade_no, "failed", approved ? approved->id : 0,
		         "WeChat Pay says %s but gives no usable transaction_id and success_time; "
		         "not marked paid",
		         t->trade_state);
		d = json_pack("{s:s, s:s}", "why",
		              "paid answer without transaction_id/success_time", "trade_state",
		              t->trade_state);
		return audit_ev(sw, "decision.fail", o->out_trade_no, d, err);
	}
	r = actions_order_refunded(sw->db, sw->o->mchid, o->out_trade_no, &refunded, err);
	if (r < 0)
		return r;
	new_state = sweep_paid_state(t->trade_state, o->amount_total, refunded);
	time_format_rfc3339(paid_ts, sw->tz, paid_at);
	time_date(paid_ts, sw->tz, paid_date);
	if (!approved) {
		if (t->amount_total != o->amount_total)
			snprintf(hold, sizeof(hold),
			         "amounts differ: ledger %" PRId64 " fen, WeChat Pay %" PRId64
			         " fen; approve to mark it paid anyway",
			         o->amount_total, t->amount_total);
		else if (!sw->o->cfg->mark_paid_on_missed_notify)
			snprintf(hold, sizeof(hold),
			         "WeChat Pay says %s (transaction %s) but "
			         "mark_paid_on_missed_notify "
			         "= false; approve to mark it paid",
			         t->trade_state, t->transaction_id);
	}
	if (sw->o->dry_run) {
		if (hold[0]) {
			sw->res->new_held++;
			item_add(sw, o->out_trade_no, "would_hold", 0,
			         "would hold ORDER_MARK_PAID: %s", hold);
		} else {
			sw->res->marked_paid++;
			item_add(sw, o->out_trade_no, "would_mark_paid", 0,
			         "would mark %s: WeChat Pay says %s, transaction %s, paid %s (%s)",
			         new_state, t->trade_state, t->transaction_id, paid_at, why);
		}
		return 0;
	}
	if (hold[0]) {
		r = open_action(sw, "ORDER_MARK_PAID", o->out_trade_no, "pending_approval", true,
		                t->amount_total, order_params(o, t), hold, rearm_mark_paid,
		                "order.mark_paid.held", NULL, &own, &written, err);
		if (r < 0)
			return r;
		if (written) {
			sw->res->new_held++;
			item_add(sw, o->out_trade_no, "held", own.id, "held for approval: %s",
			         hold);
		} else {
			sw->res->attention++;
			item_add(sw, o->out_trade_no, "attention", own.id,
			         "WeChat Pay says %s; ORDER_MARK_PAID action %" PRId64
			         " is %s: not changed",
			         t->trade_state, own.id, own.state);
		}
		action_release(&own);
		return 0;
	}
	if (!a) {
		r = open_action(sw, "ORDER_MARK_PAID", o->out_trade_no, "intent", true,
		                t->amount_total, order_params(o, t), why, rearm_mark_paid,
		                "order.mark_paid.intent", NULL, &own, &written, err);
		if (r < 0)
			return r;
		a = &own;
		if (!written) {
			sw->res->attention++;
			item_add(sw, o->out_trade_no, "attention", own.id,
			         "WeChat Pay says %s; ORDER_MARK_PAID action %" PRId64
			         " is %s: not changed",
			         t->trade_state, own.id, own.state);
			action_release(&own);
			return 0;
		}
	}
	r = actions_order_paid(sw->db, sw->o->mchid, o->out_trade_no, new_state, t->transaction_id,
	                       paid_at, paid_ts, paid_date, sw->now, &changed, err);
	if (r < 0)
		goto out;
	if (!changed) {
		r = move(sw, a, "failed", NULL, "the ledger no longer has the order as NOTPAY",
		         "order.mark_paid.failed", NULL, err);
		if (r >= 0) {
			sw->res->attention++;
			item_add(sw, o->out_trade_no, "attention", a->id,
			         "WeChat Pay says %s but the ledger no longer has it as NOTPAY",
			         t->trade_state);
		}
		goto out;
	}
	d = json_object();
	jset(d, "ledger_before", "NOTPAY");
	jset(d, "ledger_after", new_state);
	jset(d, "trade_state", t->trade_state);
	jset(d, "transaction_id", t->transaction_id);
	jset(d, "paid_at", paid_at);
	jset(d, "paid_date", paid_date);
	jset(d, "why", why);
	if (approved)
		jset(d, "approved_by", approved->approved_by);
	r = move(sw, a, "done", new_state, "", "order.mark_paid.done", d, err);
	if (r < 0)
		goto out;
	sw->res->marked_paid++;
	item_add(sw, o->out_trade_no, "marked_paid", a->id,
	         "marked %s: WeChat Pay says %s, transaction %s, paid %s (%s)", new_state,
	         t->trade_state, t->transaction_id, paid_at, why);
	if (strcmp(t->trade_state, "REFUND") == 0)
		item_add(sw, o->out_trade_no, "note", a->id,
		         "WeChat Pay says REFUND: %" PRId64 " fen of refunds are in the ledger; "
		         "reconcile will find any the ledger lacks",
		         refunded);
out:
	action_release(&own);
	return r;
}

static int mark_paid_commit(struct sw *sw, const struct sweep_order *o,
                            const struct wxpay_transaction *t, struct action *approved,
                            const char *why, struct wxr_err *err)
{
	int r;

	if (sw->o->dry_run)
		return mark_paid_tx(sw, o, t, approved, why, err);
	r = begin(sw, err);
	if (r < 0)
		return r;
	r = mark_paid_tx(sw, o, t, approved, why, err);
	return end(sw, r, err);
}

/* CLOSED at WeChat Pay: the ledger follows (an order WeChat Pay closed on its
 * own, e.g. unpaid for 7 days, or closed elsewhere). */
static int closed_at_wechat(struct sw *sw, const struct sweep_order *o, struct wxr_err *err)
{
	struct action late;
	bool found = false, changed = false;
	json_t *d;
	int r;

	if (sw->o->dry_run) {
		sw->res->closed_at_wechat++;
		item_add(sw, o->out_trade_no, "would_record_closed", 0,
		         "CLOSED at WeChat Pay already: would close it in the ledger");
		return 0;
	}
	memset(&late, 0, sizeof(late));
	r = begin(sw, err);
	if (r < 0)
		return r;
	r = actions_order_close(sw->db, sw->o->mchid, o->out_trade_no, sw->now, &changed, err);
	if (r < 0)
		goto out;
	d = json_pack("{s:s, s:s, s:s, s:b, s:s}", "ledger_before", o->state, "ledger_after",
	              "CLOSED", "trade_state", "CLOSED", "changed", changed, "why",
	              "closed at WeChat Pay (time_expire passed, 7-day auto-close or closed "
	              "elsewhere)");
	r = audit_ev(sw, "order.sync", o->out_trade_no, d, err);
	if (r < 0)
		goto out;
	/* a close of ours that was judged failed took effect after all */
	r = actions_get(sw->db, sw->o->mchid, "ORDER_CLOSE", o->out_trade_no, &late, &found, err);
	if (r < 0)
		goto out;
	if (found && strcmp(late.state, "failed") == 0) {
		r = move(sw, &late, "done", "CLOSED", "", "order.close.done",
		         json_pack("{s:s}", "why", "the earlier close took effect later"), err);
		if (r < 0)
			goto out;
	}
	sw->res->closed_at_wechat++;
	item_add(sw, o->out_trade_no, "closed_at_wechat", found ? late.id : 0,
	         "CLOSED at WeChat Pay already: closed in the ledger");
out:
	action_release(&late);
	return end(sw, r, err);
}

/* Judges a close (action a, state sent) by the query after it. */
static int close_judge(struct sw *sw, const struct sweep_order *o, struct action *a,
                       const char *close_answer, struct wxr_err *err)
{
	struct wxpay_transaction t;
	char why[WHY_LEN], msg[WHY_LEN];
	bool changed = false;
	enum cc c;
	int r = 0;

	c = query_order(sw, o->out_trade_no, &t, why, sizeof(why));
	if (c == CC_STOP) {
		item_add(sw, o->out_trade_no, "stopped", a->id,
		         "close sent (%s); the query after it was stopped: left as sent",
		         close_answer);
		goto out;
	}
	if (c == CC_FAIL) {
		sw->res->failed++;
		item_add(sw, o->out_trade_no, "failed", a->id,
		         "close sent (%s); the query after it failed: %s; left as sent, the next "
		         "sweep settles it",
		         close_answer, why);
		r = audit_ev(sw, "order.close.unknown", o->out_trade_no,
		             json_pack("{s:I, s:s, s:s}", "action_id", (json_int_t)a->id,
		                       "close_answer", close_answer, "why", why),
		             err);
		goto out;
	}
	if (c == CC_NOTFOUND) {
		sw->res->failed++;
		snprintf(msg, sizeof(msg),
		         "WeChat Pay does not know the order after the close (%s)", close_answer);
		item_add(sw, o->out_trade_no, "failed", a->id, "%s", msg);
		r = move_tx(sw, a, "failed", "NOT_EXIST", msg, "order.close.failed", NULL, err);
		goto out;
	}
	switch (sweep_after_close(t.trade_state)) {
	case SWEEP_CLOSE_DONE:
		r = begin(sw, err);
		if (r < 0)
			goto out;
		r = actions_order_close(sw->db, sw->o->mchid, o->out_trade_no, sw->now, &changed,
		                        err);
		if (r >= 0)
			r = move(sw, a, "done", "CLOSED", "", "order.close.done",
			         json_pack("{s:s, s:s, s:b, s:s, s:s}", "ledger_before", o->state,
			                   "ledger_after", "CLOSED", "ledger_changed", changed,
			                   "close_answer", close_answer, "trade_state",
			                   t.trade_state),
			         err);
		r = end(sw, r, err);
		if (r < 0)
			goto out;
		sw->res->closed++;
		item_add(sw, o->out_trade_no, "closed", a->id,
		         "closed (%s; the query after it says CLOSED)", close_answer);
		break;
	case SWEEP_CLOSE_PAID:
		r = begin(sw, err);
		if (r < 0)
			goto out;
		r = move(sw, a, "cancelled", "PAID", "", "order.close.cancelled",
		         json_pack("{s:s, s:s, s:s}", "trade_state", t.trade_state, "close_answer",
		                   close_answer, "why", "paid before the close took effect"),
		         err);
		if (r >= 0)
			r = mark_paid_tx(sw, o, &t, NULL, "paid while we closed it", err);
		r = end(sw, r, err);
		break;
	case SWEEP_CLOSE_FAILED:
		sw->res->failed++;
		snprintf(msg, sizeof(msg), "still %s after the close (close answered %s)",
		         t.trade_state, close_answer);
		item_add(sw, o->out_trade_no, "failed", a->id, "%s; a later sweep tries again",
		         msg);
		r = move_tx(sw, a, "failed", t.trade_state, msg, "order.close.failed", NULL, err);
		break;
	}
out:
	wxpay_transaction_release(&t);
	return r;
}

/* Sends the close of action a (intent: first time; sent: again, same out_trade_no). */
static int close_send(struct sw *sw, const struct sweep_order *o, struct action *a,
                      struct wxr_err *err)
{
	struct wxr_err e = WXR_ERR_INIT;
	char answer[WHY_LEN];
	const struct wxpay_status *st;
	enum cc c;
	int r;

	r = move_tx(sw, a, "sent", NULL, NULL,
	            strcmp(a->state, "sent") == 0 ? "order.close.resent" : "order.close.sent",
	            json_pack("{s:s}", "ledger_state", o->state), err);
	if (r < 0)
		return r;
	checkpoint(sw, SWEEP_AT_AFTER_SENT);
	r = sw->api->close_order(sw->api->ctx, o->out_trade_no, &e);
	checkpoint(sw, SWEEP_AT_AFTER_CALL);
	c = classify(sw, r, NULL, &e);
	if (c == CC_STOP) {
		item_add(sw, o->out_trade_no, "stopped", a->id,
		         "the close was stopped before a verified answer: left as sent");
		return 0;
	}
	st = sw->api->last(sw->api->ctx);
	if (r == 0)
		snprintf(answer, sizeof(answer), "%ld", st ? st->http_status : 204L);
	else if (st && st->code_raw[0])
		snprintf(answer, sizeof(answer), "%ld %s", st->http_status, st->code_raw);
	else
		snprintf(answer, sizeof(answer), "%s", e.msg);
	/* 204 proves nothing and an error proves nothing either: the query decides */
	return close_judge(sw, o, a, answer, err);
}

static json_t *close_why(const struct sw *sw, const struct sweep_order *o,
                         const struct wxpay_transaction *t, int64_t older_than)
{
	json_t *d = json_object();

	jset(d, "trade_state", t->trade_state);
	jset(d, "ledger_state", o->state);
	jset(d, "created_at", o->created_at);
	jint(d, "age_s", sw->o->now - o->created_ts);
	jint(d, "older_than_s", older_than);
	if (o->has_expire)
		jint(d, "expired_s_ago", sw->o->now - o->expire_ts);
	return d;
}

static int close_new(struct sw *sw, const struct sweep_order *o, const struct wxpay_transaction *t,
                     int64_t older_than, struct wxr_err *err)
{
	struct action a;
	bool written = false;
	int r;

	if (sw->o->dry_run) {
		sw->res->closed++;
		item_add(sw, o->out_trade_no, "would_close", 0,
		         "would close: %s at WeChat Pay, created %s (%" PRId64 " min ago)",
		         t->trade_state, o->created_at, (sw->o->now - o->created_ts) / 60);
		return 0;
	}
	memset(&a, 0, sizeof(a));
	r = begin(sw, err);
	if (r < 0)
		return r;
	r = open_action(sw, "ORDER_CLOSE", o->out_trade_no, "intent", true, o->amount_total,
	                order_params(o, t), NULL, rearm_failed, "order.close.intent",
	                close_why(sw, o, t, older_than), &a, &written, err);
	r = end(sw, r, err);
	if (r < 0)
		return r;
	if (!written) {
		sw->res->attention++;
		item_add(sw, o->out_trade_no, "attention", a.id,
		         "WeChat Pay says %s but ORDER_CLOSE action %" PRId64
		         " is %s (result %s): not closed again",
		         t->trade_state, a.id, a.state, a.result ? a.result : "-");
		r = audit_ev(sw, "decision.conflict", o->out_trade_no,
		             json_pack("{s:I, s:s, s:s}", "action_id", (json_int_t)a.id, "state",
		                       a.state, "trade_state", t->trade_state),
		             err);
		goto out;
	}
	checkpoint(sw, SWEEP_AT_AFTER_INTENT);
	r = close_send(sw, o, &a, err);
out:
	action_release(&a);
	return r;
}

/* WeChat Pay does not know the order. Recorded and held: a person may
 * approve closing it in the ledger (no policy closes it on its own). */
static int not_found(struct sw *sw, const struct sweep_order *o, struct wxr_err *err)
{
	static const char note[] = "WeChat Pay does not know this order (ORDER_NOT_EXIST); "
	                           "approve to close it in the ledger only";
	struct action a;
	bool written = false;
	int r;

	sw->res->not_found++;
	if (sw->o->dry_run) {
		sw->res->new_held++;
		item_add(sw, o->out_trade_no, "would_hold", 0,
		         "unknown to WeChat Pay: would hold for approval");
		return 0;
	}
	memset(&a, 0, sizeof(a));
	r = begin(sw, err);
	if (r < 0)
		return r;
	r = open_action(sw, "ORDER_CLOSE", o->out_trade_no, "pending_approval", true,
	                o->amount_total, order_params(o, NULL), note, rearm_failed,
	                "order.not_found.held", NULL, &a, &written, err);
	r = end(sw, r, err);
	if (r < 0)
		return r;
	if (written) {
		sw->res->new_held++;
		item_add(sw, o->out_trade_no, "held", a.id, "%s", note);
	} else {
		sw->res->attention++;
		item_add(sw, o->out_trade_no, "attention", a.id,
		         "unknown to WeChat Pay, but ORDER_CLOSE action %" PRId64 " is %s", a.id,
		         a.state);
	}
	action_release(&a);
	return 0;
}

static int order_candidate(struct sw *sw, const struct sweep_order *o, int64_t older_than,
                           struct wxr_err *err)
{
	struct wxpay_transaction t;
	char why[WHY_LEN];
	enum cc c;
	int r = 0;

	c = query_order(sw, o->out_trade_no, &t, why, sizeof(why));
	switch (c) {
	case CC_STOP:
		goto out;
	case CC_FAIL:
		r = query_failed(sw, o->out_trade_no, 0, why, err);
		goto out;
	case CC_NOTFOUND:
		r = not_found(sw, o, err);
		goto out;
	case CC_OK:
		break;
	}
	switch (sweep_decide_order(t.trade_state, o->has_expire, o->expire_ts, sw->o->now)) {
	case SWEEP_ORDER_CLOSE:
		r = close_new(sw, o, &t, older_than, err);
		break;
	case SWEEP_ORDER_MARK_PAID:
		r = mark_paid_commit(sw, o, &t, NULL, "missed payment notification", err);
		break;
	case SWEEP_ORDER_CLOSED:
		r = closed_at_wechat(sw, o, err);
		break;
	case SWEEP_ORDER_WAIT:
		sw->res->skipped++;
		r = skip(sw, err, o->out_trade_no, "skipped",
		         "USERPAYING at WeChat Pay and not past its time_expire: left alone");
		break;
	case SWEEP_ORDER_SKIP:
		sw->res->skipped++;
		r = skip(sw, err, o->out_trade_no, "skipped",
		         "%s at WeChat Pay: not the sweep's to decide", t.trade_state);
		break;
	}
out:
	wxpay_transaction_release(&t);
	return r;
}

/* An ORDER_CLOSE left intent or sent by an earlier run (a crash, a lost
 * answer), or approved: the query says what became of it. */
static int settle_close(struct sw *sw, struct action *a, const struct sweep_order *o,
                        struct wxr_err *err)
{
	struct wxpay_transaction t;
	char why[WHY_LEN];
	bool changed = false;
	bool was_sent = strcmp(a->state, "sent") == 0;
	enum cc c;
	int r = 0;

	c = query_order(sw, o->out_trade_no, &t, why, sizeof(why));
	if (c == CC_STOP)
		goto out;
	if (c == CC_FAIL) {
		r = query_failed(sw, o->out_trade_no, a->id, why, err);
		goto out;
	}
	if (sw->o->dry_run) {
		sw->res->settled++;
		item_add(sw, o->out_trade_no, "would_settle", a->id,
		         "would settle ORDER_CLOSE action %" PRId64 " (%s): WeChat Pay says %s",
		         a->id, a->state, c == CC_NOTFOUND ? "ORDER_NOT_EXIST" : t.trade_state);
		goto out;
	}
	if (c == CC_NOTFOUND) {
		if (!was_sent && a->approved_by) {
			/* approved: the ledger only, WeChat Pay has nothing to close */
			r = begin(sw, err);
			if (r < 0)
				goto out;
			r = actions_order_close(sw->db, sw->o->mchid, o->out_trade_no, sw->now,
			                        &changed, err);
			if (r >= 0)
				r = move(sw, a, "done", "CLOSED_LOCALLY", "", "order.close.local",
				         json_pack("{s:s, s:s, s:b, s:s?}", "ledger_before",
				                   o->state, "ledger_after", "CLOSED",
				                   "ledger_changed", changed, "approved_by",
				                   a->approved_by),
				         err);
			r = end(sw, r, err);
			if (r < 0)
				goto out;
			sw->res->settled++;
			sw->res->closed++;
			item_add(
			        sw, o->out_trade_no, "closed_locally", a->id,
			        "closed in the ledger only (unknown to WeChat Pay; approved by %s)",
			        a->approved_by);
			goto out;
		}
		r = move_tx(sw, a, "pending_approval", "NOT_EXIST",
		            "WeChat Pay does not know this order; approve to close it in the "
		            "ledger only",
		            "order.not_found.held", NULL, err);
		if (r >= 0) {
			sw->res->not_found++;
			sw->res->new_held++;
			item_add(sw, o->out_trade_no, "held", a->id,
			         "unknown to WeChat Pay: held for approval");
		}
		goto out;
	}
	sw->res->settled++;
	switch (sweep_decide_order(t.trade_state, o->has_expire, o->expire_ts, sw->o->now)) {
	case SWEEP_ORDER_CLOSED:
		r = begin(sw, err);
		if (r < 0)
			goto out;
		r = actions_order_close(sw->db, sw->o->mchid, o->out_trade_no, sw->now, &changed,
		                        err);
		if (r >= 0)
			r = move(sw, a, "done", "CLOSED", "", "order.close.done",
			         json_pack("{s:s, s:s, s:b, s:s, s:b}", "ledger_before", o->state,
			                   "ledger_after", "CLOSED", "ledger_changed", changed,
			                   "trade_state", t.trade_state, "settled", 1),
			         err);
		r = end(sw, r, err);
		if (r < 0)
			goto out;
		if (was_sent)
			sw->res->closed++;
		else
			sw->res->closed_at_wechat++;
		item_add(sw, o->out_trade_no, was_sent ? "closed" : "closed_at_wechat", a->id,
		         "settled ORDER_CLOSE action %" PRId64 " (%s): CLOSED at WeChat Pay, no "
		         "close sent again",
		         a->id, was_sent ? "sent before" : "never sent");
		break;
	case SWEEP_ORDER_MARK_PAID:
		r = begin(sw, err);
		if (r < 0)
			goto out;
		r = move(sw, a, "cancelled", "PAID", "", "order.close.cancelled",
		         json_pack("{s:s, s:b}", "trade_state", t.trade_state, "settled", 1), err);
		if (r >= 0)
			r = mark_paid_tx(sw, o, &t, NULL, "paid before our close took effect", err);
		r = end(sw, r, err);
		break;
	case SWEEP_ORDER_CLOSE:
		if (strcmp(o->state, "NOTPAY") != 0) {
			sw->res->attention++;
			snprintf(why, sizeof(why), "WeChat Pay says %s but the ledger says %s",
			         t.trade_state, o->state);
			item_add(sw, o->out_trade_no, "attention", a->id, "%s: not closed", why);
			r = move_tx(sw, a, "failed", t.trade_state, why, "order.close.failed", NULL,
			            err);
			break;
		}
		/* not closed yet: send it (again), same out_trade_no */
		r = close_send(sw, o, a, err);
		break;
	case SWEEP_ORDER_WAIT:
		sw->res->skipped++;
		item_add(sw, o->out_trade_no, "skipped", a->id,
		         "ORDER_CLOSE action %" PRId64 " waits: USERPAYING before its time_expire",
		         a->id);
		break;
	case SWEEP_ORDER_SKIP:
		sw->res->attention++;
		snprintf(why, sizeof(why), "%s at WeChat Pay", t.trade_state);
		item_add(sw, o->out_trade_no, "attention", a->id, "%s: not closed", why);
		r = move_tx(sw, a, "failed", t.trade_state, why, "order.close.failed", NULL, err);
		break;
	}
out:
	wxpay_transaction_release(&t);
	return r;
}

/* An approved ORDER_MARK_PAID: marked paid if WeChat Pay still says so. */
static int settle_mark_paid(struct sw *sw, struct action *a, const struct sweep_order *o,
                            struct wxr_err *err)
{
	struct wxpay_transaction t;
	char why[WHY_LEN];
	enum cc c;
	int r = 0;

	c = query_order(sw, o->out_trade_no, &t, why, sizeof(why));
	if (c == CC_STOP)
		goto out;
	if (c == CC_FAIL) {
		r = query_failed(sw, o->out_trade_no, a->id, why, err);
		goto out;
	}
	if (sw->o->dry_run) {
		sw->res->settled++;
		item_add(sw, o->out_trade_no, "would_settle", a->id,
		         "would settle ORDER_MARK_PAID action %" PRId64 ": WeChat Pay says %s",
		         a->id, c == CC_NOTFOUND ? "ORDER_NOT_EXIST" : t.trade_state);
		goto out;
	}
	sw->res->settled++;
	if (c == CC_OK && sweep_decide_order(t.trade_state, false, 0, 0) == SWEEP_ORDER_MARK_PAID &&
	    strcmp(o->state, "NOTPAY") == 0) {
		r = mark_paid_commit(sw, o, &t, a, "approved", err);
		goto out;
	}
	snprintf(why, sizeof(why), "WeChat Pay says %s, the ledger %s: not marked paid",
	         c == CC_NOTFOUND ? "ORDER_NOT_EXIST" : t.trade_state, o->state);
	sw->res->attention++;
	item_add(sw, o->out_trade_no, "attention", a->id, "%s", why);
	r = move_tx(sw, a, "failed", c == CC_NOTFOUND ? "NOT_EXIST" : t.trade_state, why,
	            "order.mark_paid.failed", NULL, err);
out:
	wxpay_transaction_release(&t);
	return r;
}

/*
 * Held actions whose reason is gone: an order the ledger no longer has as
 * NOTPAY (paid by a notification, closed by reconcile...) or a refund the
 * ledger has as SUCCESS or CLOSED needs no approval any more: cancelled, so
 * that it stops holding every later sweep at exit 3.
 */
static int cancel_stale_holds(struct sw *sw, bool refunds, struct wxr_err *err)
{
	static const char *const held[] = { "pending_approval", NULL };
	struct action_filter f;
	struct action *v = NULL;
	size_t n = 0;
	int r;

	memset(&f, 0, sizeof(f));
	f.mchid = sw->o->mchid;
	f.kinds = refunds ? refund_kinds : order_kinds;
	f.states = held;
	r = actions_list(sw->db, &f, &v, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct action *a = &v[i];
		char state[24] = "";
		char why[WHY_LEN], result[40];
		bool found = false, stale;

		if (refunds) {
			struct sweep_refund rf;

			r = actions_refund_get(sw->db, sw->o->mchid, a->target, &rf, &found, err);
			if (r < 0)
				break;
			if (found) {
				snprintf(state, sizeof(state), "%s", rf.state);
				free(rf.out_refund_no);
				free(rf.out_trade_no);
				free(rf.refund_id);
			}
			stale = !found || strcmp(state, "SUCCESS") == 0 ||
			        strcmp(state, "CLOSED") == 0;
		} else {
			struct sweep_order o;

			r = actions_order_get(sw->db, sw->o->mchid, a->target, &o, &found, err);
			if (r < 0)
				break;
			if (found) {
				snprintf(state, sizeof(state), "%s", o.state);
				free(o.out_trade_no);
				free(o.created_at);
			}
			stale = !found || strcmp(state, "NOTPAY") != 0;
		}
		if (!stale)
			continue;
		snprintf(why, sizeof(why), "no longer needed: the ledger %s%s",
		         found ? "has it as " : "has no such ",
		         found ? state : (refunds ? "refund" : "order"));
		snprintf(result, sizeof(result), "LEDGER_%s", found ? state : "MISSING");
		if (sw->o->dry_run) {
			item_add(sw, a->target, "would_cancel", a->id, "would cancel held %s: %s",
			         a->kind, why);
			continue;
		}
		r = move_tx(sw, a, "cancelled", result, "",
		            refunds ? "refund.abnormal.cancelled" : "action.cancelled",
		            json_pack("{s:s}", "why", why), err);
		if (r >= 0)
			item_add(sw, a->target, "cancelled", a->id, "held %s cancelled: %s",
			         a->kind, why);
	}
	actions_free(v, n);
	return r;
}

static int settle_orders(struct sw *sw, struct wxr_err *err)
{
	static const char *const unfinished[] = { "intent", "sent", NULL };
	struct action_filter f;
	struct action *v = NULL;
	size_t n = 0;
	int r;

	memset(&f, 0, sizeof(f));
	f.mchid = sw->o->mchid;
	f.kinds = order_kinds;
	f.states = unfinished;
	r = actions_list(sw->db, &f, &v, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && !sw->res->stopped; i++) {
		struct action *a = &v[i];
		struct sweep_order o;
		bool found = false, wait = false;

		r = in_flight(sw, a, &wait, err);
		if (r < 0)
			break;
		if (wait)
			continue;
		r = actions_order_get(sw->db, sw->o->mchid, a->target, &o, &found, err);
		if (r < 0)
			break;
		if (!found) {
			sw->res->attention++;
			item_add(sw, a->target, "attention", a->id,
			         "%s action %" PRId64 " is %s but the ledger has no such order",
			         a->kind, a->id, a->state);
			if (!sw->o->dry_run)
				r = move_tx(sw, a, "failed", NULL, "the ledger has no such order",
				            "action.failed", NULL, err);
			if (r < 0)
				break;
			continue;
		}
		if (strcmp(a->kind, "ORDER_CLOSE") == 0)
			r = settle_close(sw, a, &o, err);
		else
			r = settle_mark_paid(sw, a, &o, err);
		free(o.out_trade_no);
		free(o.created_at);
		if (r < 0)
			break;
	}
	actions_free(v, n);
	return r;
}

static void sw_init(struct sw *sw, struct db *db, const struct sweep_api *api,
                    const struct sweep_opts *o, struct sweep_result *res, const char *actor)
{
	memset(res, 0, sizeof(*res));
	memset(sw, 0, sizeof(*sw));
	res->dry_run = o->dry_run;
	sw->db = db;
	sw->api = api;
	sw->o = o;
	sw->res = res;
	sw->actor = actor;
	sw->tz = o->cfg->tz_offset_s;
	time_format_rfc3339(o->now, sw->tz, sw->now);
	time_date(o->now, sw->tz, sw->date);
}

static json_t *counts_json(const struct sweep_result *res)
{
	return json_pack(
	        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	        "s:b, s:b}",
	        "eligible", (json_int_t)res->eligible, "candidates", (json_int_t)res->candidates,
	        "settled", (json_int_t)res->settled, "closed", (json_int_t)res->closed,
	        "closed_at_wechat", (json_int_t)res->closed_at_wechat, "marked_paid",
	        (json_int_t)res->marked_paid, "not_found", (json_int_t)res->not_found, "synced",
	        (json_int_t)res->synced, "abnormal_refunds", (json_int_t)res->abnormal_refunds,
	        "refunds", (json_int_t)res->refunds, "skipped", (json_int_t)res->skipped, "failed",
	        (json_int_t)res->failed, "attention", (json_int_t)res->attention, "new_held",
	        (json_int_t)res->new_held, "held", (json_int_t)res->held, "braked", res->braked,
	        "stopped", res->stopped);
}

static int finish(struct sw *sw, const char *what, const char *const *kinds, int r,
                  struct wxr_err *err)
{
	json_t *d;
	int r2;

	if (r < 0)
		return r;
	r = actions_count(sw->db, sw->o->mchid, kinds, "pending_approval", &sw->res->held, err);
	if (r < 0)
		return r;
	d = counts_json(sw->res);
	jset(d, "what", what);
	if (sw->res->braked)
		jset(d, "brake", sw->res->brake);
	if (sw->res->stopped)
		jset(d, "stop", sw->res->stop);
	r2 = audit_ev(sw, "sweep.end", what, d, err);
	return r2;
}

int sweep_orders(struct db *db, const struct sweep_api *api, const struct sweep_opts *o,
                 struct sweep_result *out, struct wxr_err *err)
{
	struct sw sw;
	struct sweep_order *cands = NULL;
	size_t n = 0;
	long total = 0;
	int64_t older = o->older_than_s >= 0 ? o->older_than_s : o->cfg->close_after_s;
	int r;

	if (older < SWEEP_CLOSE_MIN_AGE_S)
		return err_set(err, WXR_ECONFIG,
		               "%s of %" PRId64 " s is too short: WeChat Pay asks that an order "
		               "is not closed within 5 minutes of its creation; use at least 5m",
		               o->older_than_s >= 0 ? "--older-than" : "[policy] close_after",
		               older);
	sw_init(&sw, db, api, o, out, "sweep");
	r = audit_ev(&sw, "sweep.start", "orders",
	             json_pack("{s:s, s:I, s:I, s:s}", "what", "sweep orders", "older_than_s",
	                       (json_int_t)older, "limit", (json_int_t)o->limit, "now", sw.now),
	             err);
	if (r < 0)
		return r;
	/* 1. what earlier runs left unfinished, or a person approved; stale holds */
	r = cancel_stale_holds(&sw, false, err);
	if (r >= 0)
		r = settle_orders(&sw, err);
	if (r < 0 || out->stopped)
		goto out;
	/* 2. the candidates, and the brake */
	r = actions_order_candidates(db, o->mchid, o->now - older, o->now, o->limit, &cands, &n,
	                             &total, err);
	if (r < 0)
		goto out;
	out->eligible = total;
	out->candidates = (long)n;
	if (sweep_brake(total, o->cfg->close_max_per_run, "close_max_per_run", 0, -1, NULL,
	                "orders to sweep", out->brake, sizeof(out->brake))) {
		out->braked = true;
		r = audit_ev(&sw, "sweep.brake", "orders",
		             json_pack("{s:s, s:I, s:I}", "why", out->brake, "candidates",
		                       (json_int_t)total, "close_max_per_run",
		                       (json_int_t)o->cfg->close_max_per_run),
		             err);
		goto out;
	}
	/* 3. each candidate: query, decide, act */
	for (size_t i = 0; i < n && !out->stopped; i++) {
		if (o->progress)
			o->progress(o->progress_ctx, i, n);
		r = order_candidate(&sw, &cands[i], older, err);
		if (r < 0)
			break;
	}
out:
	sweep_orders_free(cands, n);
	return finish(&sw, "sweep orders", order_kinds, r, err);
}

/* ---- refunds ---- */

static const char *const rearm_abnormal[] = { "failed", "cancelled", NULL };
static const char *const rearm_any[] = { "intent",           "sent",      "done", "failed",
	                                 "pending_approval", "cancelled", NULL };

static bool order_is_paid(const char *state)
{
	return strcmp(state, "PAID") == 0 || strcmp(state, "PARTIAL_REFUNDED") == 0 ||
	       strcmp(state, "REFUNDED") == 0;
}

/*
 * A paid ledger order follows its successful refunds: PAID, PARTIAL_REFUNDED
 * or REFUNDED by their sum (as `refund create` and the refund notifications
 * do); an order in another state, or none, is left alone. Audited, inside
 * the caller's transaction.
 */
static int order_follow_refunds(struct sw *sw, const char *out_trade_no, const char *why,
                                struct wxr_err *err)
{
	struct payflow_db_order o;
	struct payflow_db_refund_stats rs;
	bool found = false;
	const char *to;
	int r;

	memset(&o, 0, sizeof(o));
	r = payflow_db_order_get(sw->db, sw->o->mchid, out_trade_no, &o, &found, err);
	if (r < 0 || !found || !order_is_paid(o.state))
		goto out;
	r = payflow_db_refund_stats(sw->db, sw->o->mchid, out_trade_no, &rs, err);
	if (r < 0)
		goto out;
	to = sweep_paid_state("REFUND", o.amount_total, rs.success_fen);
	if (strcmp(to, o.state) == 0)
		goto out;
	r = payflow_db_order_set_state(sw->db, sw->o->mchid, out_trade_no, to, err);
	if (r < 0)
		goto out;
	r = audit_ev(sw, "order.sync", out_trade_no,
	             json_pack("{s:s, s:s, s:I, s:I, s:s}", "ledger_before", o.state,
	                       "ledger_after", to, "refunded", (json_int_t)rs.success_fen,
	                       "amount_total", (json_int_t)o.amount_total, "why", why),
	             err);
	if (r < 0)
		goto out;
	item_add(sw, out_trade_no, "order_synced", 0,
	         "ledger order %s -> %s: %" PRId64 " of %" PRId64 " fen refunded", o.state, to,
	         rs.success_fen, o.amount_total);
out:
	payflow_db_order_release(&o);
	return r;
}

/* The ledger follows WeChat Pay's refund status (REFUND_SYNC), inside the
 * caller's transaction. rf->state is updated; the refund's order follows
 * when the refund becomes (or stops being) SUCCESS. */
static int refund_sync_tx(struct sw *sw, struct sweep_refund *rf, const char *status,
                          const char *refund_id, const char *success_time, const char *why,
                          struct wxr_err *err)
{
	struct action a;
	char success_at[CLOCK_RFC3339_LEN] = "";
	int64_t success_ts = 0;
	bool written = false, changed = false;
	bool success_changed = strcmp(rf->state, "SUCCESS") == 0 || strcmp(status, "SUCCESS") == 0;
	json_t *p;
	int r;

	if (strcmp(rf->state, status) == 0)
		return 0;
	memset(&a, 0, sizeof(a));
	if (strcmp(status, "SUCCESS") == 0 && success_time && *success_time &&
	    time_parse_rfc3339(success_time, &success_ts, NULL) == 0)
		time_format_rfc3339(success_ts, sw->tz, success_at);
	p = json_pack("{s:s, s:s, s:s?}", "from", rf->state, "to", status, "refund_id",
	              refund_id && *refund_id ? refund_id : NULL);
	r = open_action(sw, "REFUND_SYNC", rf->out_refund_no, "intent", true, rf->amount_refund, p,
	                why, rearm_any, "refund.sync.intent", NULL, &a, &written, err);
	if (r < 0)
		return r;
	r = actions_refund_sync(sw->db, sw->o->mchid, rf->out_refund_no, rf->state, status,
	                        refund_id, success_at[0] ? success_at : NULL, success_ts, sw->now,
	                        &changed, err);
	if (r >= 0)
		r = move(sw, &a, "done", status, "", "refund.sync",
		         json_pack("{s:s, s:s, s:b, s:s?, s:s}", "ledger_before", rf->state,
		                   "ledger_after", status, "ledger_changed", changed, "success_at",
		                   success_at[0] ? success_at : NULL, "why", why),
		         err);
	if (r >= 0) {
		sw->res->synced++;
		item_add(sw, rf->out_refund_no, "synced", a.id, "ledger %s -> %s (%s)", rf->state,
		         status, why);
		snprintf(rf->state, sizeof(rf->state), "%s", status);
	}
	if (r >= 0 && changed && success_changed && rf->out_trade_no)
		r = order_follow_refunds(sw, rf->out_trade_no, "a refund of the order synced", err);
	action_release(&a);
	return r;
}

/* Calls apply-abnormal-refund for action a (intent: first time; sent: again
 * with the same refund_id and out_refund_no). req: the call (the card, for
 * USER_BANK_CARD, is wiped by the call). */
static int abnormal_send(struct sw *sw, struct sweep_refund *rf, struct action *a,
                         struct wxpay_abnormal_refund_req *req, struct wxr_err *err)
{
	struct wxr_err e = WXR_ERR_INIT;
	struct wxpay_refund ans, q;
	char why[WHY_LEN], answer[WHY_LEN];
	const struct wxpay_status *st;
	enum cc c;
	int r, cr;

	memset(&ans, 0, sizeof(ans));
	memset(&q, 0, sizeof(q));
	r = move_tx(sw, a, "sent", NULL, NULL,
	            strcmp(a->state, "sent") == 0 ? "refund.abnormal.resent"
	                                          : "refund.abnormal.sent",
	            json_pack("{s:s, s:s, s:s}", "refund_id", req->refund_id, "type", req->type,
	                      "ledger_state", rf->state),
	            err);
	if (r < 0) {
		if (req->bank_account)
			crypto_wipe(req->bank_account, strlen(req->bank_account));
		if (req->real_name)
			crypto_wipe(req->real_name, strlen(req->real_name));
		return r;
	}
	checkpoint(sw, SWEEP_AT_AFTER_SENT);
	cr = sw->api->abnormal_refund(sw->api->ctx, req, &ans, &e);
	checkpoint(sw, SWEEP_AT_AFTER_CALL);
	c = classify(sw, cr, NULL, &e);
	if (c == CC_STOP) {
		item_add(sw, rf->out_refund_no, "stopped", a->id,
		         "the abnormal refund was stopped before a verified answer: left as sent");
		goto out;
	}
	st = sw->api->last(sw->api->ctx);
	if (c == CC_OK) {
		snprintf(answer, sizeof(answer), "%s", ans.status ? ans.status : "");
	} else {
		if (st && st->code_raw[0])
			snprintf(answer, sizeof(answer), "%ld %s", st->http_status, st->code_raw);
		else
			snprintf(answer, sizeof(answer), "%s", e.msg);
		/* an error proves nothing: the query decides */
		c = query_refund(sw, rf->out_refund_no, &q, why, sizeof(why));
		if (c == CC_STOP)
			goto out;
		if (c != CC_OK) {
			sw->res->failed++;
			item_add(sw, rf->out_refund_no, "failed", a->id,
			         "abnormal refund answered %s; the query after it failed: %s; left "
			         "as sent, the next sweep settles it",
			         answer, why);
			r = audit_ev(sw, "refund.abnormal.unknown", rf->out_refund_no,
			             json_pack("{s:I, s:s, s:s}", "action_id", (json_int_t)a->id,
			                       "answer", answer, "why", why),
			             err);
			goto out;
		}
		if (strcmp(q.status, "ABNORMAL") == 0) {
			sw->res->failed++;
			snprintf(why, sizeof(why), "abnormal refund refused: %s", e.msg);
			item_add(sw, rf->out_refund_no, "failed", a->id, "%s", why);
			r = move_tx(sw, a, "failed", "ABNORMAL", why, "refund.abnormal.failed",
			            NULL, err);
			goto out;
		}
	}
	/* accepted (or the query shows it took effect): WeChat Pay pays it out */
	r = begin(sw, err);
	if (r < 0)
		goto out;
	{
		const struct wxpay_refund *now_ = cr == 0 ? &ans : &q;
		const char *status = now_->status && *now_->status ? now_->status : "PROCESSING";

		r = move(sw, a, "done", status, "", "refund.abnormal.done",
		         json_pack("{s:s, s:s, s:s}", "answer", answer, "type", req->type,
		                   "status_after", status),
		         err);
		if (r >= 0)
			r = refund_sync_tx(sw, rf, status, now_->refund_id, now_->success_time,
			                   "abnormal refund filed", err);
		r = end(sw, r, err);
		if (r < 0)
			goto out;
		sw->res->abnormal_refunds++;
		item_add(sw, rf->out_refund_no, "abnormal_refund", a->id,
		         "abnormal refund (%s) accepted: %s at WeChat Pay", req->type, status);
	}
out:
	wxpay_refund_release(&ans);
	wxpay_refund_release(&q);
	return r;
}

static int abnormal_merchant(struct sw *sw, struct sweep_refund *rf, struct action *a,
                             const char *refund_id, struct wxr_err *err)
{
	struct wxpay_abnormal_refund_req req;

	memset(&req, 0, sizeof(req));
	req.refund_id = refund_id;
	req.out_refund_no = rf->out_refund_no;
	req.type = "MERCHANT_BANK_CARD";
	return abnormal_send(sw, rf, a, &req, err);
}

static char *params_str(const char *params, const char *key)
{
	json_t *p = params ? json_loads(params, 0, NULL) : NULL;
	const char *v = json_string_value(json_object_get(p, key));
	char *s = v ? xstrdup(v) : NULL;

	json_decref(p);
	return s;
}

static int settle_abnormal(struct sw *sw, struct action *a, struct sweep_refund *rf,
                           struct wxr_err *err)
{
	struct wxpay_refund q;
	char why[WHY_LEN];
	char *type = params_str(a->params, "type");
	char *rid = params_str(a->params, "refund_id");
	enum cc c;
	int r = 0;

	c = query_refund(sw, rf->out_refund_no, &q, why, sizeof(why));
	if (c == CC_STOP)
		goto out;
	if (c == CC_FAIL) {
		r = query_failed(sw, rf->out_refund_no, a->id, why, err);
		goto out;
	}
	if (sw->o->dry_run) {
		sw->res->settled++;
		item_add(sw, rf->out_refund_no, "would_settle", a->id,
		         "would settle ABNORMAL_REFUND action %" PRId64 " (%s): WeChat Pay says %s",
		         a->id, a->state, c == CC_NOTFOUND ? "RESOURCE_NOT_EXISTS" : q.status);
		goto out;
	}
	sw->res->settled++;
	if (c == CC_NOTFOUND) {
		sw->res->attention++;
		item_add(sw, rf->out_refund_no, "attention", a->id,
		         "WeChat Pay does not know this refund: ABNORMAL_REFUND action %" PRId64
		         " failed",
		         a->id);
		r = move_tx(sw, a, "failed", "NOT_EXIST", "WeChat Pay does not know the refund",
		            "refund.abnormal.failed", NULL, err);
		goto out;
	}
	if (strcmp(q.status, "ABNORMAL") != 0) {
		bool was_sent = strcmp(a->state, "sent") == 0;

		r = begin(sw, err);
		if (r < 0)
			goto out;
		r = move(sw, a, "done", q.status, "", "refund.abnormal.done",
		         json_pack("{s:s, s:b, s:b}", "status_after", q.status, "settled", 1,
		                   "was_sent", was_sent),
		         err);
		if (r >= 0)
			r = refund_sync_tx(sw, rf, q.status, q.refund_id, q.success_time,
			                   "settled an abnormal refund", err);
		r = end(sw, r, err);
		if (r < 0)
			goto out;
		if (was_sent)
			sw->res->abnormal_refunds++;
		item_add(sw, rf->out_refund_no, "abnormal_refund", a->id,
		         "settled ABNORMAL_REFUND action %" PRId64 ": %s at WeChat Pay, not sent "
		         "again",
		         a->id, q.status);
		goto out;
	}
	if (type && strcmp(type, "USER_BANK_CARD") == 0) {
		sw->res->failed++;
		snprintf(why, sizeof(why),
		         "still ABNORMAL; the card details are never kept: file "
		         "again with 'wxrecon refund abnormal --user-card'");
		item_add(sw, rf->out_refund_no, "failed", a->id, "%s", why);
		r = move_tx(sw, a, "failed", "ABNORMAL", why, "refund.abnormal.failed", NULL, err);
		goto out;
	}
	if (rid && q.refund_id && *q.refund_id && strcmp(rid, q.refund_id) != 0) {
		sw->res->attention++;
		snprintf(why, sizeof(why), "refund_id '%s' of the action is not WeChat Pay's '%s'",
		         rid, q.refund_id);
		item_add(sw, rf->out_refund_no, "attention", a->id, "%s", why);
		r = move_tx(sw, a, "failed", "ABNORMAL", why, "refund.abnormal.failed", NULL, err);
		goto out;
	}
	/* still ABNORMAL: not filed (intent) or not taken (sent): send, same keys */
	r = abnormal_merchant(sw, rf, a, q.refund_id, err);
out:
	free(type);
	free(rid);
	wxpay_refund_release(&q);
	return r;
}

static int settle_refunds(struct sw *sw, struct wxr_err *err)
{
	static const char *const unfinished[] = { "intent", "sent", NULL };
	struct action_filter f;
	struct action *v = NULL;
	size_t n = 0;
	int r;

	memset(&f, 0, sizeof(f));
	f.mchid = sw->o->mchid;
	f.kinds = refund_kinds;
	f.states = unfinished;
	r = actions_list(sw->db, &f, &v, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && !sw->res->stopped; i++) {
		struct action *a = &v[i];
		struct sweep_refund rf;
		bool found = false, wait = false;

		r = in_flight(sw, a, &wait, err);
		if (r < 0)
			break;
		if (wait)
			continue;
		r = actions_refund_get(sw->db, sw->o->mchid, a->target, &rf, &found, err);
		if (r < 0)
			break;
		if (!found) {
			sw->res->attention++;
			item_add(sw, a->target, "attention", a->id,
			         "ABNORMAL_REFUND action %" PRId64 " is %s but the ledger has no "
			         "such refund",
			         a->id, a->state);
			if (!sw->o->dry_run)
				r = move_tx(sw, a, "failed", NULL, "the ledger has no such refund",
				            "action.failed", NULL, err);
			if (r < 0)
				break;
			continue;
		}
		r = settle_abnormal(sw, a, &rf, err);
		free(rf.out_refund_no);
		free(rf.out_trade_no);
		free(rf.refund_id);
		if (r < 0)
			break;
	}
	actions_free(v, n);
	return r;
}

/* An abnormal refund this run would file. */
struct plan {
	struct sweep_refund *rf; /* borrowed */
	char *refund_id;
	int64_t amount;
	bool hold; /* above approval_above */
};

static int refund_candidate(struct sw *sw, struct sweep_refund *rf, struct plan **plan,
                            size_t *nplan, struct wxr_err *err)
{
	struct wxpay_refund q;
	struct action ab;
	bool found = false;
	char why[WHY_LEN];
	enum cc c;
	int r = 0;

	memset(&ab, 0, sizeof(ab));
	c = query_refund(sw, rf->out_refund_no, &q, why, sizeof(why));
	if (c == CC_STOP)
		goto out;
	if (c == CC_FAIL) {
		r = query_failed(sw, rf->out_refund_no, 0, why, err);
		goto out;
	}
	if (c == CC_NOTFOUND) {
		sw->res->attention++;
		r = skip(sw, err, rf->out_refund_no, "attention",
		         "WeChat Pay does not know this refund (RESOURCE_NOT_EXISTS): left alone");
		goto out;
	}
	if (q.amount_refund != rf->amount_refund)
		item_add(sw, rf->out_refund_no, "note", 0,
		         "amounts differ: ledger %" PRId64 " fen, WeChat Pay %" PRId64 " fen",
		         rf->amount_refund, q.amount_refund);
	if (strcmp(q.status, rf->state) != 0) {
		if (sw->o->dry_run) {
			sw->res->synced++;
			item_add(sw, rf->out_refund_no, "would_sync", 0,
			         "would sync ledger %s -> %s", rf->state, q.status);
		} else {
			r = begin(sw, err);
			if (r < 0)
				goto out;
			r = refund_sync_tx(sw, rf, q.status, q.refund_id, q.success_time,
			                   "refund query", err);
			r = end(sw, r, err);
			if (r < 0)
				goto out;
		}
	}
	r = actions_get(sw->db, sw->o->mchid, "ABNORMAL_REFUND", rf->out_refund_no, &ab, &found,
	                err);
	if (r < 0)
		goto out;
	if (strcmp(q.status, "ABNORMAL") != 0) {
		if (found && strcmp(ab.state, "pending_approval") == 0) {
			/* held, and not needed any more */
			if (sw->o->dry_run) {
				item_add(sw, rf->out_refund_no, "would_cancel", ab.id,
				         "would cancel held ABNORMAL_REFUND action %" PRId64
				         ": %s at WeChat Pay",
				         ab.id, q.status);
			} else {
				r = move_tx(sw, &ab, "cancelled", q.status, "",
				            "refund.abnormal.cancelled",
				            json_pack("{s:s}", "why", "no longer ABNORMAL"), err);
				if (r < 0)
					goto out;
				item_add(sw, rf->out_refund_no, "cancelled", ab.id,
				         "held abnormal refund cancelled: %s at WeChat Pay",
				         q.status);
			}
		} else if (strcmp(q.status, "PROCESSING") == 0) {
			sw->res->skipped++;
		}
		goto out;
	}
	if (found && strcmp(ab.state, "pending_approval") == 0) {
		item_add(sw, rf->out_refund_no, "held", ab.id,
		         "ABNORMAL; abnormal refund action %" PRId64 " waits for approval", ab.id);
		goto out;
	}
	if (found && (strcmp(ab.state, "intent") == 0 || strcmp(ab.state, "sent") == 0)) {
		/* settling it failed earlier in this run */
		goto out;
	}
	if (found && strcmp(ab.state, "done") == 0) {
		sw->res->attention++;
		char *type = params_str(ab.params, "type");

		r = skip(sw, err, rf->out_refund_no, "attention",
		         "ABNORMAL again after abnormal refund action %" PRId64
		         " (%s) was accepted: not filed twice; a person must act (e.g. 'wxrecon "
		         "refund abnormal --user-card')",
		         ab.id, type ? type : "?");
		free(type);
		goto out;
	}
	if (!q.refund_id || !*q.refund_id) {
		sw->res->failed++;
		item_add(sw, rf->out_refund_no, "failed", 0,
		         "ABNORMAL but the query answer has no refund_id");
		goto out;
	}
	*plan = xreallocarray(*plan, *nplan + 1, sizeof(**plan));
	(*plan)[*nplan].rf = rf;
	(*plan)[*nplan].refund_id = xstrdup(q.refund_id);
	(*plan)[*nplan].amount =
	        q.amount_refund > rf->amount_refund ? q.amount_refund : rf->amount_refund;
	(*plan)[*nplan].hold = (*plan)[*nplan].amount > sw->o->cfg->approval_above;
	(*nplan)++;
out:
	action_release(&ab);
	wxpay_refund_release(&q);
	return r;
}

static json_t *abnormal_params(const struct plan *p, const char *type)
{
	return json_pack("{s:s, s:s, s:s, s:I}", "refund_id", p->refund_id, "out_refund_no",
	                 p->rf->out_refund_no, "type", type, "amount", (json_int_t)p->amount);
}

static int file_abnormal(struct sw *sw, struct plan *p, struct wxr_err *err)
{
	struct action a;
	bool written = false;
	char note[WHY_LEN] = "";
	int r;

	if (p->hold)
		snprintf(note, sizeof(note),
		         "%" PRId64 " fen is above approval_above = %" PRId64
		         " fen: 'wxrecon approve ID' releases it",
		         p->amount, sw->o->cfg->approval_above);
	if (sw->o->dry_run) {
		if (p->hold) {
			sw->res->new_held++;
			item_add(sw, p->rf->out_refund_no, "would_hold", 0,
			         "would hold an abnormal refund (MERCHANT_BANK_CARD): %s", note);
		} else {
			sw->res->abnormal_refunds++;
			item_add(sw, p->rf->out_refund_no, "would_file", 0,
			         "would file an abnormal refund (MERCHANT_BANK_CARD) of %" PRId64
			         " fen, refund_id %s",
			         p->amount, p->refund_id);
		}
		return 0;
	}
	memset(&a, 0, sizeof(a));
	r = begin(sw, err);
	if (r < 0)
		return r;
	r = open_action(
	        sw, "ABNORMAL_REFUND", p->rf->out_refund_no,
	        p->hold ? "pending_approval" : "intent", true, p->amount,
	        abnormal_params(p, "MERCHANT_BANK_CARD"), p->hold ? note : NULL, rearm_abnormal,
	        p->hold ? "refund.abnormal.held" : "refund.abnormal.intent",
	        json_pack("{s:s, s:s}", "refund_status", "ABNORMAL", "type", "MERCHANT_BANK_CARD"),
	        &a, &written, err);
	r = end(sw, r, err);
	if (r < 0)
		return r;
	if (!written) {
		sw->res->attention++;
		item_add(sw, p->rf->out_refund_no, "attention", a.id,
		         "ABNORMAL_REFUND action %" PRId64 " is %s: not filed again", a.id,
		         a.state);
		goto out;
	}
	if (p->hold) {
		sw->res->new_held++;
		item_add(sw, p->rf->out_refund_no, "held", a.id, "held for approval: %s", note);
		goto out;
	}
	checkpoint(sw, SWEEP_AT_AFTER_INTENT);
	r = abnormal_merchant(sw, p->rf, &a, p->refund_id, err);
out:
	action_release(&a);
	return r;
}

/* ---- engine refunds (REFUND actions) ---- */

/* The kinds whose held actions make `sweep refunds` exit 3. */
static const char *const refund_sweep_kinds[] = { "ABNORMAL_REFUND", "REFUND", NULL };

/* The body of an engine refund, as its action's params hold it. */
struct eng_params {
	char *out_trade_no, *transaction_id, *out_refund_no, *currency, *reason;
	int64_t refund, total; /* fen */
};

static void eng_params_release(struct eng_params *p)
{
	free(p->out_trade_no);
	free(p->transaction_id);
	free(p->out_refund_no);
	free(p->currency);
	free(p->reason);
	memset(p, 0, sizeof(*p));
}

static char *jdup(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return xstrdup(v ? v : "");
}

static bool jfen(json_t *o, const char *key, int64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return false;
	*out = (int64_t)json_integer_value(v);
	return true;
}

/* Reads and checks the params of REFUND action a; why gets one line when
 * they are not a refund that can be sent. */
static bool eng_params_parse(const struct action *a, struct eng_params *p, char *why, size_t n)
{
	json_t *o = a->params ? json_loads(a->params, 0, NULL) : NULL;
	json_t *amount = json_object_get(o, "amount");
	struct wxr_err e = WXR_ERR_INIT;
	bool ok = false;

	memset(p, 0, sizeof(*p));
	if (!json_is_object(o) || !json_is_object(amount) || !jfen(amount, "refund", &p->refund) ||
	    !jfen(amount, "total", &p->total)) {
		snprintf(why, n,
		         "the action's params are not a refund (amount.refund, amount.total)");
		goto out;
	}
	p->out_trade_no = jdup(o, "out_trade_no");
	p->transaction_id = jdup(o, "transaction_id");
	p->out_refund_no = jdup(o, "out_refund_no");
	p->currency = jdup(amount, "currency");
	p->reason = jdup(o, "reason");
	if (!*p->currency) {
		free(p->currency);
		p->currency = xstrdup("CNY");
	}
	if (!payflow_is_out_trade_no(p->out_trade_no))
		snprintf(why, n, "bad out_trade_no '%s' in the action's params", p->out_trade_no);
	else if (strcmp(p->out_refund_no, a->target) != 0 ||
	         !payflow_is_out_refund_no(p->out_refund_no))
		snprintf(why, n, "the params' out_refund_no '%s' is not the action's target",
		         p->out_refund_no);
	else if (p->refund < 1 || p->total < p->refund)
		snprintf(why, n, "a refund of %" PRId64 " fen of an order of %" PRId64 " fen",
		         p->refund, p->total);
	else if (strcmp(p->currency, "CNY") != 0)
		snprintf(why, n, "currency '%s' (only CNY)", p->currency);
	else if (payflow_check_text("reason", p->reason, PAYFLOW_REASON_MAX, false, &e) < 0)
		snprintf(why, n, "%s", e.msg);
	else if (*p->transaction_id && strlen(p->transaction_id) > 32)
		snprintf(why, n, "bad transaction_id in the action's params");
	else
		ok = true;
out:
	json_decref(o);
	if (!ok)
		eng_params_release(p);
	return ok;
}

/* A REFUND action this run looked at. */
struct eng {
	struct action a;
	struct eng_params p;
	bool send;   /* to send this run (else: settled, or seen only) */
	bool resend; /* sent by an earlier run and unknown to WeChat Pay: sent again */
};

static void engs_free(struct eng *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		action_release(&v[i].a);
		eng_params_release(&v[i].p);
	}
	free(v);
}

static bool engs_have(const struct eng *v, size_t n, const char *out_refund_no)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].a.target, out_refund_no) == 0)
			return true;
	}
	return false;
}

static bool refund_status_known(const char *s)
{
	return s && (strcmp(s, "PROCESSING") == 0 || strcmp(s, "SUCCESS") == 0 ||
	             strcmp(s, "CLOSED") == 0 || strcmp(s, "ABNORMAL") == 0);
}

static int64_t time_or_zero(const char *s)
{
	int64_t ts = 0;

	if (!s || !*s || time_parse_rfc3339(s, &ts, NULL) < 0)
		return 0;
	return ts;
}

/* Writes the ledger refund of e (PROCESSING, created now) and audits it. */
static int eng_ledger_refund(struct sw *sw, const struct eng *e, const char *why,
                             struct wxr_err *err)
{
	struct payflow_db_new_refund nr;
	int r;

	memset(&nr, 0, sizeof(nr));
	nr.out_refund_no = e->p.out_refund_no;
	nr.out_trade_no = e->p.out_trade_no;
	nr.reason = e->p.reason;
	nr.amount_refund = e->p.refund;
	nr.amount_total = e->p.total;
	nr.created_ts = sw->o->now;
	r = payflow_db_refund_insert(sw->db, sw->o->mchid, sw->tz, &nr, err);
	if (r < 0)
		return r;
	return audit_ev(sw, "refund.engine.intent", e->p.out_refund_no,
	                json_pack("{s:I, s:s, s:s, s:I, s:I, s:s, s:s}", "action_id",
	                          (json_int_t)e->a.id, "out_trade_no", e->p.out_trade_no,
	                          "transaction_id", e->p.transaction_id, "amount_refund",
	                          (json_int_t)e->p.refund, "amount_total", (json_int_t)e->p.total,
	                          "ledger_refund", "PROCESSING", "why", why),
	                err);
}

/*
 * WeChat Pay has the refund (q: the answer to the call, or a query): the
 * action is done with its status, the ledger refund gets refund_id and
 * status (and is written again if it went missing), and the order follows
 * a SUCCESS. how: what told us, for the audit; settled: sent by an earlier run.
 */
static int eng_done(struct sw *sw, struct eng *e, const struct wxpay_refund *q, const char *how,
                    bool settled, struct wxr_err *err)
{
	struct payflow_db_refund f;
	const char *status = refund_status_known(q->status) ? q->status : "PROCESSING";
	bool found = false;
	char before[16] = "none";
	int r;

	memset(&f, 0, sizeof(f));
	r = begin(sw, err);
	if (r < 0)
		return r;
	r = payflow_db_refund_get(sw->db, sw->o->mchid, e->p.out_refund_no, &f, &found, err);
	if (r >= 0 && found)
		snprintf(before, sizeof(before), "%s", f.state);
	if (r >= 0 && !found)
		r = eng_ledger_refund(sw, e, "WeChat Pay has it; the ledger row was missing", err);
	if (r >= 0)
		r = payflow_db_refund_update(
		        sw->db, sw->o->mchid, e->p.out_refund_no, status, q->refund_id,
		        time_or_zero(q->create_time),
		        strcmp(status, "SUCCESS") == 0 ? time_or_zero(q->success_time) : 0, sw->tz,
		        err);
	if (r >= 0)
		r = move(sw, &e->a, "done", status, "", "refund.engine.done",
		         json_pack("{s:s, s:s?, s:s, s:s, s:s, s:I, s:b}", "answer", how,
		                   "refund_id", q->refund_id && *q->refund_id ? q->refund_id : NULL,
		                   "status_after", status, "ledger_before", before, "ledger_after",
		                   status, "amount_refund", (json_int_t)q->amount_refund, "settled",
		                   settled),
		         err);
	if (r >= 0 && strcmp(status, "SUCCESS") == 0)
		r = order_follow_refunds(sw, e->p.out_trade_no, "the engine refund succeeded", err);
	r = end(sw, r, err);
	if (r < 0)
		goto out;
	sw->res->refunds++;
	if (settled)
		sw->res->settled++;
	item_add(sw, e->p.out_refund_no, "refunded", e->a.id,
	         "refund of %" PRId64 " fen of order %s accepted: %s at WeChat Pay%s", e->p.refund,
	         e->p.out_trade_no, status, settled ? " (settled by a query; not sent again)" : "");
	if (q->amount_refund > 0 && q->amount_refund != e->p.refund) {
		sw->res->attention++;
		item_add(sw, e->p.out_refund_no, "attention", e->a.id,
		         "WeChat Pay has %" PRId64 " fen for this refund, the action %" PRId64
		         " fen",
		         q->amount_refund, e->p.refund);
	}
out:
	payflow_db_refund_release(&f);
	return r;
}

/* Action e is not sent, now or later: failed with why, for a person. */
static int eng_give_up(struct sw *sw, struct eng *e, const char *result, const char *why,
                       struct wxr_err *err)
{
	sw->res->attention++;
	item_add(sw, e->a.target, "attention", e->a.id, "REFUND action %" PRId64 " not sent: %s",
	         e->a.id, why);
	if (sw->o->dry_run)
		return 0;
	return move_tx(sw, &e->a, "failed", result, why, "refund.engine.failed",
	               json_pack("{s:s, s:s}", "why", why, "ledger_refund", "untouched"), err);
}

/* A 4xx (but 429) answer: WeChat Pay did not take the refund. The action
 * fails with WeChat Pay's code and the ledger refund is removed again,
 * as `refund create` does. */
static int eng_refused(struct sw *sw, struct eng *e, const char *code, const char *answer,
                       const char *msg, struct wxr_err *err)
{
	char why[WHY_LEN];
	int r;

	snprintf(why, sizeof(why), "refused by WeChat Pay (%s): %s", answer, msg);
	r = begin(sw, err);
	if (r < 0)
		return r;
	r = payflow_db_refund_delete(sw->db, sw->o->mchid, e->p.out_refund_no, err);
	if (r >= 0)
		r = move(sw, &e->a, "failed", code, why, "refund.engine.failed",
		         json_pack("{s:s, s:s, s:s}", "answer", answer, "why", msg, "ledger_refund",
		                   "removed (nothing was refunded)"),
		         err);
	r = end(sw, r, err);
	if (r < 0)
		return r;
	sw->res->attention++;
	item_add(sw, e->p.out_refund_no, "attention", e->a.id,
	         "%s; nothing was refunded, the ledger refund is removed", why);
	return 0;
}

/* How the ledger order shows the payment before its refund. */
struct eng_paid {
	char before[24]; /* the ledger order's state: NOTPAY or CLOSED */
	char transaction_id[64];
	int64_t ts;
	const char *source; /* static */
};

enum eng_verdict { EV_GO, EV_WAIT, EV_GIVE_UP, EV_FAIL, EV_STOP };

/*
 * The payment of an order the ledger has as NOTPAY/CLOSED: the trade
 * bill's row (transaction_id and trade time) or, when no stored bill has it,
 * a query of the order.
 */
static int eng_payment(struct sw *sw, const struct eng *e, struct eng_paid *out,
                       enum eng_verdict *v, char *why, size_t n, struct wxr_err *err)
{
	struct wxpay_transaction t;
	char *when = NULL, *txn = NULL;
	bool found = false;
	enum cc c;
	int r;

	memset(&t, 0, sizeof(t));
	r = actions_bill_payment(sw->db, sw->o->mchid, e->p.out_trade_no, e->p.transaction_id,
	                         &when, &txn, &found, err);
	if (r < 0)
		return r;
	if (found) {
		if (time_parse_rfc3339(when, &out->ts, NULL) == 0 ||
		    time_parse_local(when, 8 * 3600, &out->ts, NULL) == 0) {
			snprintf(out->transaction_id, sizeof(out->transaction_id), "%s", txn);
			out->source = "trade bill";
			*v = EV_GO;
		} else {
			snprintf(why, n, "the trade bill's payment time '%s' is not a time", when);
			*v = EV_GIVE_UP;
		}
		goto out;
	}
	c = query_order(sw, e->p.out_trade_no, &t, why, n);
	if (c == CC_STOP) {
		*v = EV_STOP;
	} else if (c == CC_FAIL) {
		*v = EV_FAIL;
	} else if (c == CC_NOTFOUND) {
		snprintf(why, n,
		         "no stored bill has the payment and WeChat Pay does not know the "
		         "order");
		*v = EV_GIVE_UP;
	} else if (sweep_decide_order(t.trade_state, false, 0, 0) != SWEEP_ORDER_MARK_PAID ||
	           !t.transaction_id || !*t.transaction_id ||
	           (*e->p.transaction_id && strcmp(t.transaction_id, e->p.transaction_id) != 0) ||
	           time_parse_rfc3339(t.success_time ? t.success_time : "", &out->ts, NULL) < 0) {
		snprintf(why, n,
		         "no stored bill has the payment and WeChat Pay says %s (transaction %s): "
		         "not the payment to refund",
		         t.trade_state,
		         t.transaction_id && *t.transaction_id ? t.transaction_id : "-");
		*v = EV_GIVE_UP;
	} else {
		snprintf(out->transaction_id, sizeof(out->transaction_id), "%s", t.transaction_id);
		out->source = "order query";
		*v = EV_GO;
	}
out:
	free(when);
	free(txn);
	wxpay_transaction_release(&t);
	return 0;
}

/*
 * What must hold before e is sent, read outside any transaction (it may
 * query WeChat Pay): *have_row: the ledger has the refund already (a resend,
 * or written by hand with the same order and amount); *mark_paid: the
 * ledger order is NOTPAY/CLOSED and paid gets the payment.
 */
static int eng_check(struct sw *sw, struct eng *e, bool *have_row, bool *mark_paid,
                     struct eng_paid *paid, enum eng_verdict *v, char *why, size_t n,
                     struct wxr_err *err)
{
	struct payflow_db_refund f;
	struct payflow_db_order o;
	struct payflow_db_refund_stats rs;
	struct payflow_refund_facts facts;
	struct wxr_err e2 = WXR_ERR_INIT;
	bool found = false;
	int r;

	memset(&f, 0, sizeof(f));
	memset(&o, 0, sizeof(o));
	*v = EV_GO;
	*have_row = *mark_paid = false;
	r = payflow_db_refund_get(sw->db, sw->o->mchid, e->p.out_refund_no, &f, &found, err);
	if (r < 0)
		goto out;
	if (found) {
		*have_row = true;
		if (strcmp(f.out_trade_no, e->p.out_trade_no) != 0 ||
		    f.amount_refund != e->p.refund) {
			snprintf(why, n,
			         "the ledger has refund '%s' already, for order '%s' and %" PRId64
			         " fen",
			         e->p.out_refund_no, f.out_trade_no, f.amount_refund);
			*v = EV_GIVE_UP;
		}
		goto out; /* the row shows the refund: its order was checked when it was written */
	}
	r = payflow_db_order_get(sw->db, sw->o->mchid, e->p.out_trade_no, &o, &found, err);
	if (r < 0)
		goto out;
	if (!found) {
		snprintf(why, n, "no order '%s' in the ledger", e->p.out_trade_no);
		*v = EV_GIVE_UP;
		goto out;
	}
	if (o.amount_total != e->p.total) {
		snprintf(why, n,
		         "the ledger order is %" PRId64 " fen, the refund's total %" PRId64 " fen",
		         o.amount_total, e->p.total);
		*v = EV_GIVE_UP;
		goto out;
	}
	if (strcmp(o.state, "NOTPAY") == 0 || strcmp(o.state, "CLOSED") == 0) {
		*mark_paid = true;
		snprintf(paid->before, sizeof(paid->before), "%s", o.state);
		r = eng_payment(sw, e, paid, v, why, n, err);
		if (r < 0 || *v != EV_GO)
			goto out;
	} else if (order_is_paid(o.state) && *o.transaction_id && *e->p.transaction_id &&
	           strcmp(o.transaction_id, e->p.transaction_id) != 0) {
		snprintf(why, n,
		         "the ledger has order '%s' paid by transaction %s, the refund names %s",
		         e->p.out_trade_no, o.transaction_id, e->p.transaction_id);
		*v = EV_GIVE_UP;
		goto out;
	}
	r = payflow_db_refund_stats(sw->db, sw->o->mchid, e->p.out_trade_no, &rs, err);
	if (r < 0)
		goto out;
	if (rs.last_created_ts > 0 && sw->o->now < rs.last_created_ts + PAYFLOW_REFUND_GAP_S) {
		snprintf(why, n,
		         "the last refund of order '%s' is less than a minute old (WeChat Pay "
		         "wants a minute between refunds of one order)",
		         e->p.out_trade_no);
		*v = EV_WAIT;
		goto out;
	}
	memset(&facts, 0, sizeof(facts));
	facts.out_trade_no = e->p.out_trade_no;
	facts.order_state = *mark_paid ? "PAID" : o.state;
	facts.order_total = o.amount_total;
	facts.paid_ts = *mark_paid ? paid->ts : o.paid_ts;
	facts.refunds = rs.count;
	facts.refunded_fen = rs.active_fen;
	facts.last_refund_ts = rs.last_created_ts;
	facts.amount = e->p.refund;
	facts.now = sw->o->now;
	facts.tz_offset_s = sw->tz;
	if (payflow_refund_check(&facts, &e2) < 0) {
		snprintf(why, n, "%s", e2.msg);
		*v = EV_GIVE_UP;
	}
out:
	payflow_db_refund_release(&f);
	payflow_db_order_release(&o);
	return r;
}

/*
 * One transaction before the call: the ledger order marked PAID (when it
 * still is NOTPAY/CLOSED), the ledger refund written PROCESSING (unless it
 * is there already), the action moved to sent. *v: EV_GO when committed.
 */
static int eng_commit_sent(struct sw *sw, struct eng *e, bool have_row, bool mark_paid,
                           const struct eng_paid *paid, enum eng_verdict *v, char *why, size_t n,
                           struct wxr_err *err)
{
	bool resend = strcmp(e->a.state, "sent") == 0;
	bool changed = false;
	char paid_at[CLOCK_RFC3339_LEN];
	int r;

	*v = EV_GO;
	r = begin(sw, err);
	if (r < 0)
		return r;
	if (mark_paid) {
		r = payflow_db_order_mark_paid(sw->db, sw->o->mchid, e->p.out_trade_no,
		                               paid->transaction_id, paid->ts, sw->tz, &changed,
		                               err);
		if (r < 0)
			goto out;
		if (!changed) {
			/* nothing written: rolled back below, a later sweep looks again */
			snprintf(why, n,
			         "the ledger order '%s' changed while its refund was prepared",
			         e->p.out_trade_no);
			*v = EV_FAIL;
			goto out;
		}
		time_format_rfc3339(paid->ts, sw->tz, paid_at);
		r = audit_ev(sw, "ledger.order_paid", e->p.out_trade_no,
		             json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "from", paid->before,
		                       "to", "PAID", "transaction_id", paid->transaction_id,
		                       "paid_at", paid_at, "source", paid->source, "action_id",
		                       (json_int_t)e->a.id, "why",
		                       "paid after we closed it; before its refund"),
		             err);
		if (r < 0)
			goto out;
	}
	if (!have_row) {
		r = eng_ledger_refund(sw, e, "paid after close: written before the call", err);
		if (r < 0)
			goto out;
	}
	r = move(sw, &e->a, "sent", NULL, NULL,
	         resend ? "refund.engine.resent" : "refund.engine.sent",
	         json_pack("{s:s, s:s, s:s, s:I, s:I, s:b, s:b}", "out_trade_no", e->p.out_trade_no,
	                   "transaction_id", e->p.transaction_id, "out_refund_no",
	                   e->p.out_refund_no, "amount_refund", (json_int_t)e->p.refund,
	                   "amount_total", (json_int_t)e->p.total, "ledger_order_marked_paid",
	                   mark_paid, "ledger_refund_written", !have_row),
	         err);
out:
	if (*v == EV_FAIL) {
		db_rollback(sw->db);
		return 0;
	}
	return end(sw, r, err);
}

/* After a call without an answer (network, 5xx or 429 after the retries):
 * the query decides; without one the action stays sent. */
static int eng_unknown(struct sw *sw, struct eng *e, const char *answer, struct wxr_err *err)
{
	struct wxpay_refund q;
	char why[WHY_LEN];
	enum cc c;
	int r = 0;

	c = query_refund(sw, e->p.out_refund_no, &q, why, sizeof(why));
	if (c == CC_STOP)
		goto out;
	if (c == CC_OK) {
		r = eng_done(sw, e, &q, answer, false, err);
		goto out;
	}
	if (c == CC_NOTFOUND)
		snprintf(why, sizeof(why), "WeChat Pay does not have it");
	sw->res->failed++;
	item_add(sw, e->p.out_refund_no, "failed", e->a.id,
	         "refund answered %s; %s: left as sent, the next sweep settles it (same "
	         "out_refund_no and body)",
	         answer, why);
	r = audit_ev(sw, "refund.engine.unknown", e->p.out_refund_no,
	             json_pack("{s:I, s:s, s:s}", "action_id", (json_int_t)e->a.id, "answer",
	                       answer, "why", why),
	             err);
out:
	wxpay_refund_release(&q);
	return r;
}

static void eng_plan_item(struct sw *sw, const struct eng *e)
{
	struct wxr_err e2 = WXR_ERR_INIT;
	struct payflow_db_order o;
	bool found = false;
	char first[96] = "";

	memset(&o, 0, sizeof(o));
	if (payflow_db_order_get(sw->db, sw->o->mchid, e->p.out_trade_no, &o, &found, &e2) == 0 &&
	    found && (strcmp(o.state, "NOTPAY") == 0 || strcmp(o.state, "CLOSED") == 0))
		snprintf(first, sizeof(first), "; the ledger order (%s) would be marked PAID first",
		         o.state);
	payflow_db_order_release(&o);
	sw->res->refunds++;
	item_add(sw, e->p.out_refund_no, "would_refund", e->a.id,
	         "would %s %" PRId64 " fen of order %s (transaction %s)%s",
	         e->resend ? "refund again (sent before, unknown to WeChat Pay)" : "refund",
	         e->p.refund, e->p.out_trade_no, *e->p.transaction_id ? e->p.transaction_id : "-",
	         first);
}

/* Sends engine refund e: intent (first time) or sent (again, same body). */
static int eng_send(struct sw *sw, struct eng *e, struct wxr_err *err)
{
	struct wxr_err e2 = WXR_ERR_INIT;
	struct wxpay_refund_req rq;
	struct wxpay_refund ans;
	struct eng_paid paid;
	const struct wxpay_status *st;
	bool have_row = false, mark_paid = false;
	enum eng_verdict v = EV_GO;
	char why[WHY_LEN] = "", answer[WHY_LEN];
	enum cc c;
	int r, cr;

	if (sw->o->dry_run) {
		eng_plan_item(sw, e);
		return 0;
	}
	memset(&ans, 0, sizeof(ans));
	memset(&paid, 0, sizeof(paid));
	r = eng_check(sw, e, &have_row, &mark_paid, &paid, &v, why, sizeof(why), err);
	if (r >= 0 && v == EV_GO)
		r = eng_commit_sent(sw, e, have_row, mark_paid, &paid, &v, why, sizeof(why), err);
	if (r < 0)
		return r;
	switch (v) {
	case EV_GO:
		break;
	case EV_STOP:
		return 0;
	case EV_WAIT:
		sw->res->skipped++;
		item_add(sw, e->a.target, "waits", e->a.id, "not sent this time: %s", why);
		return audit_ev(
		        sw, "decision.skip", e->a.target,
		        json_pack("{s:I, s:s}", "action_id", (json_int_t)e->a.id, "why", why), err);
	case EV_FAIL:
		sw->res->failed++;
		item_add(sw, e->a.target, "failed", e->a.id,
		         "not sent this time: %s; a later sweep tries again", why);
		return audit_ev(
		        sw, "decision.fail", e->a.target,
		        json_pack("{s:I, s:s}", "action_id", (json_int_t)e->a.id, "why", why), err);
	case EV_GIVE_UP:
		return eng_give_up(sw, e, "NOT_SENT", why, err);
	}
	checkpoint(sw, SWEEP_AT_AFTER_SENT);
	memset(&rq, 0, sizeof(rq));
	rq.transaction_id = e->p.transaction_id;
	rq.out_trade_no = e->p.out_trade_no;
	rq.out_refund_no = e->p.out_refund_no;
	rq.reason = *e->p.reason ? e->p.reason : NULL;
	rq.amount_refund = e->p.refund;
	rq.amount_total = e->p.total;
	rq.currency = e->p.currency;
	cr = sw->api->create_refund(sw->api->ctx, &rq, &ans, &e2);
	checkpoint(sw, SWEEP_AT_AFTER_CALL);
	if (cr == WXR_EUSAGE) {
		/* refused by the client before anything was sent */
		r = eng_refused(sw, e, "NOT_SENT", "not sent", e2.msg, err);
		goto out;
	}
	c = classify(sw, cr, NULL, &e2);
	if (c == CC_STOP) {
		item_add(sw, e->p.out_refund_no, "stopped", e->a.id,
		         "the refund was stopped before a verified answer: left as sent");
		goto out;
	}
	if (c == CC_OK) {
		r = eng_done(sw, e, &ans, ans.status ? ans.status : "accepted", false, err);
		goto out;
	}
	st = sw->api->last(sw->api->ctx);
	if (st && st->code_raw[0])
		snprintf(answer, sizeof(answer), "%ld %s", st->http_status, st->code_raw);
	else
		snprintf(answer, sizeof(answer), "%s", e2.msg);
	/* a 4xx after an attempt that may have been taken (timeout, 429, 5xx)
	 * proves nothing: the query decides (eng_unknown) */
	if (cr == WXR_EAPI && st && !st->unsure && st->http_status >= 400 &&
	    st->http_status < 500 && st->http_status != 429) {
		r = eng_refused(sw, e, st->code_raw[0] ? st->code_raw : "REFUSED", answer, e2.msg,
		                err);
		goto out;
	}
	r = eng_unknown(sw, e, answer, err);
out:
	wxpay_refund_release(&ans);
	return r;
}

/*
 * The REFUND actions to look at: sent ones are settled by a query (found:
 * done; unknown to WeChat Pay: sent again), intents are checked against
 * approval_above (unless approved), held ones are listed. *out: what to send
 * and what was settled (engs_free).
 */
static int eng_collect(struct sw *sw, struct eng **out, size_t *out_n, struct wxr_err *err)
{
	static const char *const kinds[] = { "REFUND", NULL };
	static const char *const states[] = { "intent", "sent", "pending_approval", NULL };
	struct action_filter f;
	struct action *v = NULL;
	struct eng *engs = NULL;
	size_t n = 0, ne = 0;
	int r;

	memset(&f, 0, sizeof(f));
	f.mchid = sw->o->mchid;
	f.kinds = kinds;
	f.states = states;
	r = actions_list(sw->db, &f, &v, &n, err);
	if (r < 0)
		return r;
	engs = xcalloc(n ? n : 1, sizeof(*engs));
	for (size_t i = 0; i < n && r >= 0 && !sw->res->stopped; i++) {
		struct eng *e = &engs[ne];
		struct wxpay_refund q;
		char why[WHY_LEN], note[WHY_LEN];
		enum cc c;

		e->a = v[i];
		memset(&v[i], 0, sizeof(v[i]));
		ne++;
		if (strcmp(e->a.state, "pending_approval") == 0) {
			item_add(sw, e->a.target, "held", e->a.id,
			         "REFUND action %" PRId64 " (%" PRId64 " fen) waits for approval: "
			         "'wxrecon approve %" PRId64 "'",
			         e->a.id, e->a.amount, e->a.id);
			continue;
		}
		if (!eng_params_parse(&e->a, &e->p, why, sizeof(why))) {
			r = eng_give_up(sw, e, "BAD_PARAMS", why, err);
			continue;
		}
		if (strcmp(e->a.state, "sent") == 0) {
			bool wait = false;

			r = in_flight(sw, &e->a, &wait, err);
			if (r < 0 || wait)
				continue;
			c = query_refund(sw, e->p.out_refund_no, &q, why, sizeof(why));
			if (c == CC_FAIL) {
				r = query_failed(sw, e->p.out_refund_no, e->a.id, why, err);
			} else if (c == CC_OK && sw->o->dry_run) {
				sw->res->settled++;
				item_add(sw, e->p.out_refund_no, "would_settle", e->a.id,
				         "would settle REFUND action %" PRId64 " (sent): %s at "
				         "WeChat Pay, not sent again",
				         e->a.id, q.status);
			} else if (c == CC_OK) {
				r = eng_done(sw, e, &q, "query", true, err);
			} else if (c == CC_NOTFOUND) {
				/* the call never reached WeChat Pay: again, same body */
				e->send = e->resend = true;
			}
			wxpay_refund_release(&q);
			continue;
		}
		if (!e->a.approved_by && e->p.refund > sw->o->cfg->approval_above) {
			snprintf(note, sizeof(note),
			         "%" PRId64 " fen is above approval_above = %" PRId64
			         " fen: 'wxrecon approve %" PRId64 "' releases it",
			         e->p.refund, sw->o->cfg->approval_above, e->a.id);
			sw->res->new_held++;
			if (sw->o->dry_run) {
				item_add(sw, e->a.target, "would_hold", e->a.id, "would hold: %s",
				         note);
				continue;
			}
			r = begin(sw, err);
			if (r >= 0)
				r = move_note(sw, &e->a, "pending_approval", NULL, NULL, note,
				              "refund.engine.held", json_pack("{s:s}", "why", note),
				              err);
			r = end(sw, r, err);
			if (r >= 0)
				item_add(sw, e->a.target, "held", e->a.id, "held for approval: %s",
				         note);
			continue;
		}
		e->send = true;
	}
	actions_free(v, n);
	*out = engs;
	*out_n = ne;
	return r;
}

int sweep_refunds(struct db *db, const struct sweep_api *api, const struct sweep_opts *o,
                  struct sweep_result *out, struct wxr_err *err)
{
	struct sw sw;
	struct sweep_refund *cands = NULL;
	struct plan *plan = NULL;
	struct eng *eng = NULL;
	size_t n = 0, nplan = 0, neng = 0;
	long total = 0, count = 0, ecount = 0;
	int64_t amount = 0, eamount = 0;
	char what[96];
	int r;

	sw_init(&sw, db, api, o, out, "sweep");
	r = audit_ev(&sw, "sweep.start", "refunds",
	             json_pack("{s:s, s:I, s:s}", "what", "sweep refunds", "limit",
	                       (json_int_t)o->limit, "now", sw.now),
	             err);
	if (r < 0)
		return r;
	if (strcmp(o->cfg->abnormal_refund_type, "MERCHANT_BANK_CARD") != 0) {
		r = err_set(err, WXR_ECONFIG,
		            "abnormal_refund_type '%s': the sweep files only "
		            "MERCHANT_BANK_CARD",
		            o->cfg->abnormal_refund_type);
		goto out;
	}
	/* 1. unfinished and approved abnormal refunds; stale holds; the engine's
	 * refunds: settle those sent before, collect those to send */
	r = cancel_stale_holds(&sw, true, err);
	if (r >= 0)
		r = settle_refunds(&sw, err);
	if (r >= 0 && !out->stopped)
		r = eng_collect(&sw, &eng, &neng, err);
	if (r < 0 || out->stopped)
		goto out;
	/* 2. query every candidate; sync the ledger; collect the abnormal refunds to file */
	r = actions_refund_candidates(db, o->mchid, o->limit, &cands, &n, &total, err);
	if (r < 0)
		goto out;
	out->eligible = total;
	out->candidates = (long)n;
	for (size_t i = 0; i < n && !out->stopped; i++) {
		if (o->progress)
			o->progress(o->progress_ctx, i, n);
		/* the engine's refunds of this run are settled or sent below */
		if (engs_have(eng, neng, cands[i].out_refund_no))
			continue;
		r = refund_candidate(&sw, &cands[i], &plan, &nplan, err);
		if (r < 0)
			goto out;
	}
	if (out->stopped)
		goto out;
	/* 3. the brakes count every refund this run would send: abnormal and engine */
	for (size_t i = 0; i < nplan; i++) {
		if (plan[i].hold)
			continue;
		count++;
		amount += plan[i].amount;
	}
	for (size_t i = 0; i < neng; i++) {
		if (!eng[i].send)
			continue;
		ecount++;
		eamount += eng[i].p.refund;
	}
	if (ecount == 0)
		snprintf(what, sizeof(what), "abnormal refunds to file");
	else if (count == 0)
		snprintf(what, sizeof(what), "refunds to send");
	else
		snprintf(what, sizeof(what), "refunds to send (%ld abnormal, %ld engine)", count,
		         ecount);
	if (sweep_brake(count + ecount, o->cfg->abnormal_refund_max_per_run,
	                "abnormal_refund_max_per_run", amount + eamount,
	                o->cfg->abnormal_refund_max_amount_per_run,
	                "abnormal_refund_max_amount_per_run", what, out->brake,
	                sizeof(out->brake))) {
		out->braked = true;
		r = audit_ev(&sw, "sweep.brake", "refunds",
		             json_pack("{s:s, s:I, s:I, s:I, s:I}", "why", out->brake, "count",
		                       (json_int_t)(count + ecount), "amount",
		                       (json_int_t)(amount + eamount), "abnormal",
		                       (json_int_t)count, "engine", (json_int_t)ecount),
		             err);
		goto out;
	}
	/* 4. send them, one at a time, intent first */
	for (size_t i = 0; i < neng && !out->stopped; i++) {
		if (!eng[i].send)
			continue;
		r = eng_send(&sw, &eng[i], err);
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < nplan && !out->stopped; i++) {
		r = file_abnormal(&sw, &plan[i], err);
		if (r < 0)
			break;
	}
out:
	for (size_t i = 0; i < nplan; i++)
		free(plan[i].refund_id);
	free(plan);
	engs_free(eng, neng);
	sweep_refunds_free(cands, n);
	return finish(&sw, "sweep refunds", refund_sweep_kinds, r, err);
}

int sweep_refund_user_card(struct db *db, const struct sweep_api *api, const struct sweep_opts *o,
                           struct sweep_user_card *card, struct sweep_result *out,
                           struct wxr_err *err)
{
	static const char *const rearm_hand[] = { "failed", "done", "cancelled", "pending_approval",
		                                  NULL };
	struct sw sw;
	struct sweep_refund rf;
	struct wxpay_refund q;
	struct wxpay_abnormal_refund_req req;
	struct action a, ab;
	bool found = false, written = false;
	char why[WHY_LEN];
	enum cc c;
	int r;

	memset(&rf, 0, sizeof(rf));
	memset(&q, 0, sizeof(q));
	memset(&a, 0, sizeof(a));
	memset(&ab, 0, sizeof(ab));
	sw_init(&sw, db, api, o, out, "refund abnormal");
	r = actions_refund_get(db, o->mchid, card->out_refund_no, &rf, &found, err);
	if (r < 0)
		goto out;
	if (!found) {
		r = err_set(err, WXR_ENOTFOUND, "no refund '%s' in the ledger",
		            card->out_refund_no);
		goto out;
	}
	r = actions_get(db, o->mchid, "ABNORMAL_REFUND", card->out_refund_no, &ab, &found, err);
	if (r < 0)
		goto out;
	if (found && (strcmp(ab.state, "intent") == 0 || strcmp(ab.state, "sent") == 0)) {
		r = err_set(err, WXR_EFAIL,
		            "abnormal refund action %" PRId64 " of '%s' is %s (unfinished): run "
		            "'wxrecon sweep refunds' to settle it first",
		            ab.id, card->out_refund_no, ab.state);
		goto out;
	}
	c = query_refund(&sw, card->out_refund_no, &q, why, sizeof(why));
	if (c == CC_STOP) {
		r = err_set(err, out->stop_code ? out->stop_code : WXR_ESIG, "%s", out->stop);
		goto out;
	}
	if (c == CC_NOTFOUND) {
		r = err_set(err, WXR_EAPI, "WeChat Pay does not know refund '%s'",
		            card->out_refund_no);
		goto out;
	}
	if (c == CC_FAIL) {
		r = err_set(err, WXR_EAPI, "query refund '%s': %s", card->out_refund_no, why);
		goto out;
	}
	if (strcmp(q.status, "ABNORMAL") != 0) {
		r = begin(&sw, err);
		if (r >= 0)
			r = refund_sync_tx(&sw, &rf, q.status, q.refund_id, q.success_time,
			                   "refund query", err);
		r = end(&sw, r, err);
		if (r >= 0)
			r = err_set(
			        err, WXR_EFAIL,
			        "refund '%s' is %s at WeChat Pay, not ABNORMAL: nothing to file",
			        card->out_refund_no, q.status);
		goto out;
	}
	if (!q.refund_id || !*q.refund_id) {
		r = err_set(err, WXR_EAPI, "the query answer for '%s' has no refund_id",
		            card->out_refund_no);
		goto out;
	}
	r = begin(&sw, err);
	if (r < 0)
		goto out;
	if (strcmp(rf.state, "ABNORMAL") != 0)
		r = refund_sync_tx(&sw, &rf, q.status, q.refund_id, q.success_time, "refund query",
		                   err);
	if (r >= 0)
		r = open_action(&sw, "ABNORMAL_REFUND", card->out_refund_no, "intent", true,
		                q.amount_refund,
		                json_pack("{s:s, s:s, s:s, s:s, s:I, s:s?}", "refund_id",
		                          q.refund_id, "out_refund_no", card->out_refund_no, "type",
		                          "USER_BANK_CARD", "bank_type", card->bank_type, "amount",
		                          (json_int_t)q.amount_refund, "by", o->who),
		                "filed by hand", rearm_hand, "refund.abnormal.intent",
		                json_pack("{s:s, s:s}", "type", "USER_BANK_CARD", "bank_type",
		                          card->bank_type),
		                &a, &written, err);
	r = end(&sw, r, err);
	if (r < 0)
		goto out;
	if (!written) {
		r = err_set(err, WXR_EFAIL, "abnormal refund action %" PRId64 " of '%s' is %s",
		            a.id, card->out_refund_no, a.state);
		goto out;
	}
	checkpoint(&sw, SWEEP_AT_AFTER_INTENT);
	memset(&req, 0, sizeof(req));
	req.refund_id = q.refund_id;
	req.out_refund_no = card->out_refund_no;
	req.type = "USER_BANK_CARD";
	req.bank_type = card->bank_type;
	req.bank_account = card->bank_account;
	req.real_name = card->real_name;
	r = abnormal_send(&sw, &rf, &a, &req, err);
	if (r >= 0)
		r = finish(&sw, "refund abnormal", refund_kinds, 0, err);
out:
	if (card->bank_account)
		crypto_wipe(card->bank_account, strlen(card->bank_account));
	if (card->real_name)
		crypto_wipe(card->real_name, strlen(card->real_name));
	free(rf.out_refund_no);
	free(rf.out_trade_no);
	free(rf.refund_id);
	wxpay_refund_release(&q);
	action_release(&a);
	action_release(&ab);
	return r;
}
