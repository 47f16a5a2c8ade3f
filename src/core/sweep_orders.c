/*
 * sweep_orders.c - `sweep orders`: open orders closed at WeChat Pay or marked
 * paid, each close an intent first (the life of a close: sweep.c).
 */
#include "core/sweep_run.h"

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

/* ---- orders ---- */

static const char *const order_kinds[] = { "ORDER_CLOSE", "ORDER_MARK_PAID", NULL };
static const char *const rearm_failed[] = { "failed", NULL };
static const char *const rearm_mark_paid[] = { "failed", "done", NULL };

static json_t *order_params(const struct sweep_order *o, const struct wxpay_transaction *t)
{
	json_t *p = json_object();

	sw_jset(p, "out_trade_no", o->out_trade_no);
	sw_jint(p, "ledger_amount", o->amount_total);
	sw_jset(p, "created_at", o->created_at);
	if (t) {
		sw_jset(p, "trade_state", t->trade_state);
		if (t->transaction_id && *t->transaction_id)
			sw_jset(p, "transaction_id", t->transaction_id);
		if (t->success_time && *t->success_time)
			sw_jset(p, "success_time", t->success_time);
		sw_jint(p, "amount_total", t->amount_total);
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
		sw_item_add(
		        sw, o->out_trade_no, "failed", approved ? approved->id : 0,
		        "WeChat Pay says %s but gives no usable transaction_id and success_time; "
		        "not marked paid",
		        t->trade_state);
		d = json_pack("{s:s, s:s}", "why",
		              "paid answer without transaction_id/success_time", "trade_state",
		              t->trade_state);
		return sw_audit_ev(sw, "decision.fail", o->out_trade_no, d, err);
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
			sw_item_add(sw, o->out_trade_no, "would_hold", 0,
			            "would hold ORDER_MARK_PAID: %s", hold);
		} else {
			sw->res->marked_paid++;
			sw_item_add(
			        sw, o->out_trade_no, "would_mark_paid", 0,
			        "would mark %s: WeChat Pay says %s, transaction %s, paid %s (%s)",
			        new_state, t->trade_state, t->transaction_id, paid_at, why);
		}
		return 0;
	}
	if (hold[0]) {
		r = sw_open_action(sw, "ORDER_MARK_PAID", o->out_trade_no, "pending_approval", true,
		                   t->amount_total, order_params(o, t), hold, rearm_mark_paid,
		                   "order.mark_paid.held", NULL, &own, &written, err);
		if (r < 0)
			return r;
		if (written) {
			sw->res->new_held++;
			sw_item_add(sw, o->out_trade_no, "held", own.id, "held for approval: %s",
			            hold);
		} else {
			sw->res->attention++;
			sw_item_add(sw, o->out_trade_no, "attention", own.id,
			            "WeChat Pay says %s; ORDER_MARK_PAID action %" PRId64
			            " is %s: not changed",
			            t->trade_state, own.id, own.state);
		}
		action_release(&own);
		return 0;
	}
	if (!a) {
		r = sw_open_action(sw, "ORDER_MARK_PAID", o->out_trade_no, "intent", true,
		                   t->amount_total, order_params(o, t), why, rearm_mark_paid,
		                   "order.mark_paid.intent", NULL, &own, &written, err);
		if (r < 0)
			return r;
		a = &own;
		if (!written) {
			sw->res->attention++;
			sw_item_add(sw, o->out_trade_no, "attention", own.id,
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
		r = sw_move(sw, a, "failed", NULL, "the ledger no longer has the order as NOTPAY",
		            "order.mark_paid.failed", NULL, err);
		if (r >= 0) {
			sw->res->attention++;
			sw_item_add(sw, o->out_trade_no, "attention", a->id,
			            "WeChat Pay says %s but the ledger no longer has it as NOTPAY",
			            t->trade_state);
		}
		goto out;
	}
	d = json_object();
	sw_jset(d, "ledger_before", "NOTPAY");
	sw_jset(d, "ledger_after", new_state);
	sw_jset(d, "trade_state", t->trade_state);
	sw_jset(d, "transaction_id", t->transaction_id);
	sw_jset(d, "paid_at", paid_at);
	sw_jset(d, "paid_date", paid_date);
	sw_jset(d, "why", why);
	if (approved)
		sw_jset(d, "approved_by", approved->approved_by);
	r = sw_move(sw, a, "done", new_state, "", "order.mark_paid.done", d, err);
	if (r < 0)
		goto out;
	sw->res->marked_paid++;
	sw_item_add(sw, o->out_trade_no, "marked_paid", a->id,
	            "marked %s: WeChat Pay says %s, transaction %s, paid %s (%s)", new_state,
	            t->trade_state, t->transaction_id, paid_at, why);
	if (strcmp(t->trade_state, "REFUND") == 0)
		sw_item_add(sw, o->out_trade_no, "note", a->id,
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
	r = sw_begin(sw, err);
	if (r < 0)
		return r;
	r = mark_paid_tx(sw, o, t, approved, why, err);
	return sw_end(sw, r, err);
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
		sw_item_add(sw, o->out_trade_no, "would_record_closed", 0,
		            "CLOSED at WeChat Pay already: would close it in the ledger");
		return 0;
	}
	memset(&late, 0, sizeof(late));
	r = sw_begin(sw, err);
	if (r < 0)
		return r;
	r = actions_order_close(sw->db, sw->o->mchid, o->out_trade_no, sw->now, &changed, err);
	if (r < 0)
		goto out;
	d = json_pack("{s:s, s:s, s:s, s:b, s:s}", "ledger_before", o->state, "ledger_after",
	              "CLOSED", "trade_state", "CLOSED", "changed", changed, "why",
	              "closed at WeChat Pay (time_expire passed, 7-day auto-close or closed "
	              "elsewhere)");
	r = sw_audit_ev(sw, "order.sync", o->out_trade_no, d, err);
	if (r < 0)
		goto out;
	/* a close of ours that was judged failed took effect after all */
	r = actions_get(sw->db, sw->o->mchid, "ORDER_CLOSE", o->out_trade_no, &late, &found, err);
	if (r < 0)
		goto out;
	if (found && strcmp(late.state, "failed") == 0) {
		r = sw_move(sw, &late, "done", "CLOSED", "", "order.close.done",
		            json_pack("{s:s}", "why", "the earlier close took effect later"), err);
		if (r < 0)
			goto out;
	}
	sw->res->closed_at_wechat++;
	sw_item_add(sw, o->out_trade_no, "closed_at_wechat", found ? late.id : 0,
	            "CLOSED at WeChat Pay already: closed in the ledger");
out:
	action_release(&late);
	return sw_end(sw, r, err);
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

	c = sw_query_order(sw, o->out_trade_no, &t, why, sizeof(why));
	if (c == CC_STOP) {
		sw_item_add(sw, o->out_trade_no, "stopped", a->id,
		            "close sent (%s); the query after it was stopped: left as sent",
		            close_answer);
		goto out;
	}
	if (c == CC_FAIL) {
		sw->res->failed++;
		sw_item_add(
		        sw, o->out_trade_no, "failed", a->id,
		        "close sent (%s); the query after it failed: %s; left as sent, the next "
		        "sweep settles it",
		        close_answer, why);
		r = sw_audit_ev(sw, "order.close.unknown", o->out_trade_no,
		                json_pack("{s:I, s:s, s:s}", "action_id", (json_int_t)a->id,
		                          "close_answer", close_answer, "why", why),
		                err);
		goto out;
	}
	if (c == CC_NOTFOUND) {
		sw->res->failed++;
		snprintf(msg, sizeof(msg),
		         "WeChat Pay does not know the order after the close (%s)", close_answer);
		sw_item_add(sw, o->out_trade_no, "failed", a->id, "%s", msg);
		r = sw_move_tx(sw, a, "failed", "NOT_EXIST", msg, "order.close.failed", NULL, err);
		goto out;
	}
	switch (sweep_after_close(t.trade_state)) {
	case SWEEP_CLOSE_DONE:
		r = sw_begin(sw, err);
		if (r < 0)
			goto out;
		r = actions_order_close(sw->db, sw->o->mchid, o->out_trade_no, sw->now, &changed,
		                        err);
		if (r >= 0)
			r = sw_move(sw, a, "done", "CLOSED", "", "order.close.done",
			            json_pack("{s:s, s:s, s:b, s:s, s:s}", "ledger_before",
			                      o->state, "ledger_after", "CLOSED", "ledger_changed",
			                      changed, "close_answer", close_answer, "trade_state",
			                      t.trade_state),
			            err);
		r = sw_end(sw, r, err);
		if (r < 0)
			goto out;
		sw->res->closed++;
		sw_item_add(sw, o->out_trade_no, "closed", a->id,
		            "closed (%s; the query after it says CLOSED)", close_answer);
		break;
	case SWEEP_CLOSE_PAID:
		r = sw_begin(sw, err);
		if (r < 0)
			goto out;
		r = sw_move(sw, a, "cancelled", "PAID", "", "order.close.cancelled",
		            json_pack("{s:s, s:s, s:s}", "trade_state", t.trade_state,
		                      "close_answer", close_answer, "why",
		                      "paid before the close took effect"),
		            err);
		if (r >= 0)
			r = mark_paid_tx(sw, o, &t, NULL, "paid while we closed it", err);
		r = sw_end(sw, r, err);
		break;
	case SWEEP_CLOSE_FAILED:
		sw->res->failed++;
		snprintf(msg, sizeof(msg), "still %s after the close (close answered %s)",
		         t.trade_state, close_answer);
		sw_item_add(sw, o->out_trade_no, "failed", a->id, "%s; a later sweep tries again",
		            msg);
		r = sw_move_tx(sw, a, "failed", t.trade_state, msg, "order.close.failed", NULL,
		               err);
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

	r = sw_move_tx(sw, a, "sent", NULL, NULL,
	               strcmp(a->state, "sent") == 0 ? "order.close.resent" : "order.close.sent",
	               json_pack("{s:s}", "ledger_state", o->state), err);
	if (r < 0)
		return r;
	sw_checkpoint(sw, SWEEP_AT_AFTER_SENT);
	r = sw->api->close_order(sw->api->ctx, o->out_trade_no, &e);
	sw_checkpoint(sw, SWEEP_AT_AFTER_CALL);
	c = sw_classify(sw, r, NULL, &e);
	if (c == CC_STOP) {
		sw_item_add(sw, o->out_trade_no, "stopped", a->id,
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

	sw_jset(d, "trade_state", t->trade_state);
	sw_jset(d, "ledger_state", o->state);
	sw_jset(d, "created_at", o->created_at);
	sw_jint(d, "age_s", sw->o->now - o->created_ts);
	sw_jint(d, "older_than_s", older_than);
	if (o->has_expire)
		sw_jint(d, "expired_s_ago", sw->o->now - o->expire_ts);
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
		sw_item_add(sw, o->out_trade_no, "would_close", 0,
		            "would close: %s at WeChat Pay, created %s (%" PRId64 " min ago)",
		            t->trade_state, o->created_at, (sw->o->now - o->created_ts) / 60);
		return 0;
	}
	memset(&a, 0, sizeof(a));
	r = sw_begin(sw, err);
	if (r < 0)
		return r;
	r = sw_open_action(sw, "ORDER_CLOSE", o->out_trade_no, "intent", true, o->amount_total,
	                   order_params(o, t), NULL, rearm_failed, "order.close.intent",
	                   close_why(sw, o, t, older_than), &a, &written, err);
	r = sw_end(sw, r, err);
	if (r < 0)
		return r;
	if (!written) {
		sw->res->attention++;
		sw_item_add(sw, o->out_trade_no, "attention", a.id,
		            "WeChat Pay says %s but ORDER_CLOSE action %" PRId64
		            " is %s (result %s): not closed again",
		            t->trade_state, a.id, a.state, a.result ? a.result : "-");
		r = sw_audit_ev(sw, "decision.conflict", o->out_trade_no,
		                json_pack("{s:I, s:s, s:s}", "action_id", (json_int_t)a.id, "state",
		                          a.state, "trade_state", t->trade_state),
		                err);
		goto out;
	}
	sw_checkpoint(sw, SWEEP_AT_AFTER_INTENT);
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
		sw_item_add(sw, o->out_trade_no, "would_hold", 0,
		            "unknown to WeChat Pay: would hold for approval");
		return 0;
	}
	memset(&a, 0, sizeof(a));
	r = sw_begin(sw, err);
	if (r < 0)
		return r;
	r = sw_open_action(sw, "ORDER_CLOSE", o->out_trade_no, "pending_approval", true,
	                   o->amount_total, order_params(o, NULL), note, rearm_failed,
	                   "order.not_found.held", NULL, &a, &written, err);
	r = sw_end(sw, r, err);
	if (r < 0)
		return r;
	if (written) {
		sw->res->new_held++;
		sw_item_add(sw, o->out_trade_no, "held", a.id, "%s", note);
	} else {
		sw->res->attention++;
		sw_item_add(sw, o->out_trade_no, "attention", a.id,
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

	c = sw_query_order(sw, o->out_trade_no, &t, why, sizeof(why));
	switch (c) {
	case CC_STOP:
		goto out;
	case CC_FAIL:
		r = sw_query_failed(sw, o->out_trade_no, 0, why, err);
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
		r = sw_skip(sw, err, o->out_trade_no, "skipped",
		            "USERPAYING at WeChat Pay and not past its time_expire: left alone");
		break;
	case SWEEP_ORDER_SKIP:
		sw->res->skipped++;
		r = sw_skip(sw, err, o->out_trade_no, "skipped",
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

	c = sw_query_order(sw, o->out_trade_no, &t, why, sizeof(why));
	if (c == CC_STOP)
		goto out;
	if (c == CC_FAIL) {
		r = sw_query_failed(sw, o->out_trade_no, a->id, why, err);
		goto out;
	}
	if (sw->o->dry_run) {
		sw->res->settled++;
		sw_item_add(sw, o->out_trade_no, "would_settle", a->id,
		            "would settle ORDER_CLOSE action %" PRId64 " (%s): WeChat Pay says %s",
		            a->id, a->state, c == CC_NOTFOUND ? "ORDER_NOT_EXIST" : t.trade_state);
		goto out;
	}
	if (c == CC_NOTFOUND) {
		if (!was_sent && a->approved_by) {
			/* approved: the ledger only, WeChat Pay has nothing to close */
			r = sw_begin(sw, err);
			if (r < 0)
				goto out;
			r = actions_order_close(sw->db, sw->o->mchid, o->out_trade_no, sw->now,
			                        &changed, err);
			if (r >= 0)
				r = sw_move(sw, a, "done", "CLOSED_LOCALLY", "",
				            "order.close.local",
				            json_pack("{s:s, s:s, s:b, s:s?}", "ledger_before",
				                      o->state, "ledger_after", "CLOSED",
				                      "ledger_changed", changed, "approved_by",
				                      a->approved_by),
				            err);
			r = sw_end(sw, r, err);
			if (r < 0)
				goto out;
			sw->res->settled++;
			sw->res->closed++;
			sw_item_add(
			        sw, o->out_trade_no, "closed_locally", a->id,
			        "closed in the ledger only (unknown to WeChat Pay; approved by %s)",
			        a->approved_by);
			goto out;
		}
		r = sw_move_tx(sw, a, "pending_approval", "NOT_EXIST",
		               "WeChat Pay does not know this order; approve to close it in the "
		               "ledger only",
		               "order.not_found.held", NULL, err);
		if (r >= 0) {
			sw->res->not_found++;
			sw->res->new_held++;
			sw_item_add(sw, o->out_trade_no, "held", a->id,
			            "unknown to WeChat Pay: held for approval");
		}
		goto out;
	}
	sw->res->settled++;
	switch (sweep_decide_order(t.trade_state, o->has_expire, o->expire_ts, sw->o->now)) {
	case SWEEP_ORDER_CLOSED:
		r = sw_begin(sw, err);
		if (r < 0)
			goto out;
		r = actions_order_close(sw->db, sw->o->mchid, o->out_trade_no, sw->now, &changed,
		                        err);
		if (r >= 0)
			r = sw_move(sw, a, "done", "CLOSED", "", "order.close.done",
			            json_pack("{s:s, s:s, s:b, s:s, s:b}", "ledger_before",
			                      o->state, "ledger_after", "CLOSED", "ledger_changed",
			                      changed, "trade_state", t.trade_state, "settled", 1),
			            err);
		r = sw_end(sw, r, err);
		if (r < 0)
			goto out;
		if (was_sent)
			sw->res->closed++;
		else
			sw->res->closed_at_wechat++;
		sw_item_add(sw, o->out_trade_no, was_sent ? "closed" : "closed_at_wechat", a->id,
		            "settled ORDER_CLOSE action %" PRId64 " (%s): CLOSED at WeChat Pay, no "
		            "close sent again",
		            a->id, was_sent ? "sent before" : "never sent");
		break;
	case SWEEP_ORDER_MARK_PAID:
		r = sw_begin(sw, err);
		if (r < 0)
			goto out;
		r = sw_move(sw, a, "cancelled", "PAID", "", "order.close.cancelled",
		            json_pack("{s:s, s:b}", "trade_state", t.trade_state, "settled", 1),
		            err);
		if (r >= 0)
			r = mark_paid_tx(sw, o, &t, NULL, "paid before our close took effect", err);
		r = sw_end(sw, r, err);
		break;
	case SWEEP_ORDER_CLOSE:
		if (strcmp(o->state, "NOTPAY") != 0) {
			sw->res->attention++;
			snprintf(why, sizeof(why), "WeChat Pay says %s but the ledger says %s",
			         t.trade_state, o->state);
			sw_item_add(sw, o->out_trade_no, "attention", a->id, "%s: not closed", why);
			r = sw_move_tx(sw, a, "failed", t.trade_state, why, "order.close.failed",
			               NULL, err);
			break;
		}
		/* not closed yet: send it (again), same out_trade_no */
		r = close_send(sw, o, a, err);
		break;
	case SWEEP_ORDER_WAIT:
		sw->res->skipped++;
		sw_item_add(sw, o->out_trade_no, "skipped", a->id,
		            "ORDER_CLOSE action %" PRId64
		            " waits: USERPAYING before its time_expire",
		            a->id);
		break;
	case SWEEP_ORDER_SKIP:
		sw->res->attention++;
		snprintf(why, sizeof(why), "%s at WeChat Pay", t.trade_state);
		sw_item_add(sw, o->out_trade_no, "attention", a->id, "%s: not closed", why);
		r = sw_move_tx(sw, a, "failed", t.trade_state, why, "order.close.failed", NULL,
		               err);
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

	c = sw_query_order(sw, o->out_trade_no, &t, why, sizeof(why));
	if (c == CC_STOP)
		goto out;
	if (c == CC_FAIL) {
		r = sw_query_failed(sw, o->out_trade_no, a->id, why, err);
		goto out;
	}
	if (sw->o->dry_run) {
		sw->res->settled++;
		sw_item_add(sw, o->out_trade_no, "would_settle", a->id,
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
	sw_item_add(sw, o->out_trade_no, "attention", a->id, "%s", why);
	r = sw_move_tx(sw, a, "failed", c == CC_NOTFOUND ? "NOT_EXIST" : t.trade_state, why,
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
int sw_cancel_stale_holds(struct sw *sw, bool refunds, struct wxr_err *err)
{
	static const char *const held[] = { "pending_approval", NULL };
	struct action_filter f;
	struct action *v = NULL;
	size_t n = 0;
	int r;

	memset(&f, 0, sizeof(f));
	f.mchid = sw->o->mchid;
	f.kinds = refunds ? sw_refund_kinds : order_kinds;
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
			sw_item_add(sw, a->target, "would_cancel", a->id,
			            "would cancel held %s: %s", a->kind, why);
			continue;
		}
		r = sw_move_tx(sw, a, "cancelled", result, "",
		               refunds ? "refund.abnormal.cancelled" : "action.cancelled",
		               json_pack("{s:s}", "why", why), err);
		if (r >= 0)
			sw_item_add(sw, a->target, "cancelled", a->id, "held %s cancelled: %s",
			            a->kind, why);
	}
	actions_free(v, n);
	return r;
}

/* An unfinished ORDER_CLOSE or ORDER_MARK_PAID: its order, settled by query. */
static int settle_order_action(struct sw *sw, struct action *a, bool *out_found,
                               struct wxr_err *err)
{
	struct sweep_order o;
	int r = actions_order_get(sw->db, sw->o->mchid, a->target, &o, out_found, err);

	if (r < 0 || !*out_found)
		return r;
	if (strcmp(a->kind, "ORDER_CLOSE") == 0)
		r = settle_close(sw, a, &o, err);
	else
		r = settle_mark_paid(sw, a, &o, err);
	free(o.out_trade_no);
	free(o.created_at);
	return r;
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
	r = sw_audit_ev(&sw, "sweep.start", "orders",
	                json_pack("{s:s, s:I, s:I, s:s}", "what", "sweep orders", "older_than_s",
	                          (json_int_t)older, "limit", (json_int_t)o->limit, "now", sw.now),
	                err);
	if (r < 0)
		return r;
	/* 1. what earlier runs left unfinished, or a person approved; stale holds */
	r = sw_cancel_stale_holds(&sw, false, err);
	if (r >= 0)
		r = sw_settle_unfinished(&sw, order_kinds, "order", settle_order_action, err);
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
		r = sw_audit_ev(&sw, "sweep.brake", "orders",
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
	return sw_finish(&sw, "sweep orders", order_kinds, r, err);
}
