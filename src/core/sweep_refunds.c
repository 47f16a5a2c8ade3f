/*
 * sweep_refunds.c - the engine refunds (REFUND actions filed by reconcile)
 * and `sweep refunds`, which settles, syncs and files them all.
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
	return sw_audit_ev(
	        sw, "refund.engine.intent", e->p.out_refund_no,
	        json_pack("{s:I, s:s, s:s, s:I, s:I, s:s, s:s}", "action_id", (json_int_t)e->a.id,
	                  "out_trade_no", e->p.out_trade_no, "transaction_id", e->p.transaction_id,
	                  "amount_refund", (json_int_t)e->p.refund, "amount_total",
	                  (json_int_t)e->p.total, "ledger_refund", "PROCESSING", "why", why),
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
	r = sw_begin(sw, err);
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
		r = sw_move(sw, &e->a, "done", status, "", "refund.engine.done",
		            json_pack("{s:s, s:s?, s:s, s:s, s:s, s:I, s:b}", "answer", how,
		                      "refund_id",
		                      q->refund_id && *q->refund_id ? q->refund_id : NULL,
		                      "status_after", status, "ledger_before", before,
		                      "ledger_after", status, "amount_refund",
		                      (json_int_t)q->amount_refund, "settled", settled),
		            err);
	if (r >= 0 && strcmp(status, "SUCCESS") == 0)
		r = sw_order_follow_refunds(sw, e->p.out_trade_no, "the engine refund succeeded",
		                            err);
	r = sw_end(sw, r, err);
	if (r < 0)
		goto out;
	sw->res->refunds++;
	if (settled)
		sw->res->settled++;
	sw_item_add(sw, e->p.out_refund_no, "refunded", e->a.id,
	            "refund of %" PRId64 " fen of order %s accepted: %s at WeChat Pay%s",
	            e->p.refund, e->p.out_trade_no, status,
	            settled ? " (settled by a query; not sent again)" : "");
	if (q->amount_refund > 0 && q->amount_refund != e->p.refund) {
		sw->res->attention++;
		sw_item_add(sw, e->p.out_refund_no, "attention", e->a.id,
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
	sw_item_add(sw, e->a.target, "attention", e->a.id, "REFUND action %" PRId64 " not sent: %s",
	            e->a.id, why);
	if (sw->o->dry_run)
		return 0;
	return sw_move_tx(sw, &e->a, "failed", result, why, "refund.engine.failed",
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
	r = sw_begin(sw, err);
	if (r < 0)
		return r;
	r = payflow_db_refund_delete(sw->db, sw->o->mchid, e->p.out_refund_no, err);
	if (r >= 0)
		r = sw_move(sw, &e->a, "failed", code, why, "refund.engine.failed",
		            json_pack("{s:s, s:s, s:s}", "answer", answer, "why", msg,
		                      "ledger_refund", "removed (nothing was refunded)"),
		            err);
	r = sw_end(sw, r, err);
	if (r < 0)
		return r;
	sw->res->attention++;
	sw_item_add(sw, e->p.out_refund_no, "attention", e->a.id,
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
	c = sw_query_order(sw, e->p.out_trade_no, &t, why, n);
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
	} else if (payflow_order_is_paid(o.state) && *o.transaction_id && *e->p.transaction_id &&
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
	r = sw_begin(sw, err);
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
		r = sw_audit_ev(sw, "ledger.order_paid", e->p.out_trade_no,
		                json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "from",
		                          paid->before, "to", "PAID", "transaction_id",
		                          paid->transaction_id, "paid_at", paid_at, "source",
		                          paid->source, "action_id", (json_int_t)e->a.id, "why",
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
	r = sw_move(sw, &e->a, "sent", NULL, NULL,
	            resend ? "refund.engine.resent" : "refund.engine.sent",
	            json_pack("{s:s, s:s, s:s, s:I, s:I, s:b, s:b}", "out_trade_no",
	                      e->p.out_trade_no, "transaction_id", e->p.transaction_id,
	                      "out_refund_no", e->p.out_refund_no, "amount_refund",
	                      (json_int_t)e->p.refund, "amount_total", (json_int_t)e->p.total,
	                      "ledger_order_marked_paid", mark_paid, "ledger_refund_written",
	                      !have_row),
	            err);
out:
	if (*v == EV_FAIL) {
		db_rollback(sw->db);
		return 0;
	}
	return sw_end(sw, r, err);
}

/* After a call without an answer (network, 5xx or 429 after the retries):
 * the query decides; without one the action stays sent. */
static int eng_unknown(struct sw *sw, struct eng *e, const char *answer, struct wxr_err *err)
{
	struct wxpay_refund q;
	char why[WHY_LEN];
	enum cc c;
	int r = 0;

	c = sw_query_refund(sw, e->p.out_refund_no, &q, why, sizeof(why));
	if (c == CC_STOP)
		goto out;
	if (c == CC_OK) {
		r = eng_done(sw, e, &q, answer, false, err);
		goto out;
	}
	if (c == CC_NOTFOUND)
		snprintf(why, sizeof(why), "WeChat Pay does not have it");
	sw->res->failed++;
	sw_item_add(sw, e->p.out_refund_no, "failed", e->a.id,
	            "refund answered %s; %s: left as sent, the next sweep settles it (same "
	            "out_refund_no and body)",
	            answer, why);
	r = sw_audit_ev(sw, "refund.engine.unknown", e->p.out_refund_no,
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
	sw_item_add(sw, e->p.out_refund_no, "would_refund", e->a.id,
	            "would %s %" PRId64 " fen of order %s (transaction %s)%s",
	            e->resend ? "refund again (sent before, unknown to WeChat Pay)" : "refund",
	            e->p.refund, e->p.out_trade_no,
	            *e->p.transaction_id ? e->p.transaction_id : "-", first);
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
		sw_item_add(sw, e->a.target, "waits", e->a.id, "not sent this time: %s", why);
		return sw_audit_ev(
		        sw, "decision.skip", e->a.target,
		        json_pack("{s:I, s:s}", "action_id", (json_int_t)e->a.id, "why", why), err);
	case EV_FAIL:
		sw->res->failed++;
		sw_item_add(sw, e->a.target, "failed", e->a.id,
		            "not sent this time: %s; a later sweep tries again", why);
		return sw_audit_ev(
		        sw, "decision.fail", e->a.target,
		        json_pack("{s:I, s:s}", "action_id", (json_int_t)e->a.id, "why", why), err);
	case EV_GIVE_UP:
		return eng_give_up(sw, e, "NOT_SENT", why, err);
	}
	sw_checkpoint(sw, SWEEP_AT_AFTER_SENT);
	memset(&rq, 0, sizeof(rq));
	rq.transaction_id = e->p.transaction_id;
	rq.out_trade_no = e->p.out_trade_no;
	rq.out_refund_no = e->p.out_refund_no;
	rq.reason = *e->p.reason ? e->p.reason : NULL;
	rq.amount_refund = e->p.refund;
	rq.amount_total = e->p.total;
	rq.currency = e->p.currency;
	cr = sw->api->create_refund(sw->api->ctx, &rq, &ans, &e2);
	sw_checkpoint(sw, SWEEP_AT_AFTER_CALL);
	if (cr == WXR_EUSAGE) {
		/* refused by the client before anything was sent */
		r = eng_refused(sw, e, "NOT_SENT", "not sent", e2.msg, err);
		goto out;
	}
	c = sw_classify(sw, cr, NULL, &e2);
	if (c == CC_STOP) {
		sw_item_add(sw, e->p.out_refund_no, "stopped", e->a.id,
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
			sw_item_add(sw, e->a.target, "held", e->a.id,
			            "REFUND action %" PRId64 " (%" PRId64
			            " fen) waits for approval: "
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

			r = sw_in_flight(sw, &e->a, &wait, err);
			if (r < 0 || wait)
				continue;
			c = sw_query_refund(sw, e->p.out_refund_no, &q, why, sizeof(why));
			if (c == CC_FAIL) {
				r = sw_query_failed(sw, e->p.out_refund_no, e->a.id, why, err);
			} else if (c == CC_OK && sw->o->dry_run) {
				sw->res->settled++;
				sw_item_add(sw, e->p.out_refund_no, "would_settle", e->a.id,
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
				sw_item_add(sw, e->a.target, "would_hold", e->a.id,
				            "would hold: %s", note);
				continue;
			}
			r = sw_begin(sw, err);
			if (r >= 0)
				r = sw_move_note(sw, &e->a, "pending_approval", NULL, NULL, note,
				                 "refund.engine.held",
				                 json_pack("{s:s}", "why", note), err);
			r = sw_end(sw, r, err);
			if (r >= 0)
				sw_item_add(sw, e->a.target, "held", e->a.id,
				            "held for approval: %s", note);
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
	r = sw_audit_ev(&sw, "sweep.start", "refunds",
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
	r = sw_cancel_stale_holds(&sw, true, err);
	if (r >= 0)
		r = sw_settle_refunds(&sw, err);
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
		r = sw_refund_candidate(&sw, &cands[i], &plan, &nplan, err);
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
		r = sw_audit_ev(&sw, "sweep.brake", "refunds",
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
		r = sw_file_abnormal(&sw, &plan[i], err);
		if (r < 0)
			break;
	}
out:
	for (size_t i = 0; i < nplan; i++)
		free(plan[i].refund_id);
	free(plan);
	engs_free(eng, neng);
	sweep_refunds_free(cands, n);
	return sw_finish(&sw, "sweep refunds", refund_sweep_kinds, r, err);
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
	c = sw_query_refund(&sw, card->out_refund_no, &q, why, sizeof(why));
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
		r = sw_begin(&sw, err);
		if (r >= 0)
			r = sw_refund_sync_tx(&sw, &rf, q.status, q.refund_id, q.success_time,
			                      "refund query", err);
		r = sw_end(&sw, r, err);
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
	r = sw_begin(&sw, err);
	if (r < 0)
		goto out;
	if (strcmp(rf.state, "ABNORMAL") != 0)
		r = sw_refund_sync_tx(&sw, &rf, q.status, q.refund_id, q.success_time,
		                      "refund query", err);
	if (r >= 0)
		r = sw_open_action(&sw, "ABNORMAL_REFUND", card->out_refund_no, "intent", true,
		                   q.amount_refund,
		                   json_pack("{s:s, s:s, s:s, s:s, s:I, s:s?}", "refund_id",
		                             q.refund_id, "out_refund_no", card->out_refund_no,
		                             "type", "USER_BANK_CARD", "bank_type", card->bank_type,
		                             "amount", (json_int_t)q.amount_refund, "by", o->who),
		                   "filed by hand", rearm_hand, "refund.abnormal.intent",
		                   json_pack("{s:s, s:s}", "type", "USER_BANK_CARD", "bank_type",
		                             card->bank_type),
		                   &a, &written, err);
	r = sw_end(&sw, r, err);
	if (r < 0)
		goto out;
	if (!written) {
		r = err_set(err, WXR_EFAIL, "abnormal refund action %" PRId64 " of '%s' is %s",
		            a.id, card->out_refund_no, a.state);
		goto out;
	}
	sw_checkpoint(&sw, SWEEP_AT_AFTER_INTENT);
	memset(&req, 0, sizeof(req));
	req.refund_id = q.refund_id;
	req.out_refund_no = card->out_refund_no;
	req.type = "USER_BANK_CARD";
	req.bank_type = card->bank_type;
	req.bank_account = card->bank_account;
	req.real_name = card->real_name;
	r = sw_abnormal_send(&sw, &rf, &a, &req, err);
	if (r >= 0)
		r = sw_finish(&sw, "refund abnormal", sw_refund_kinds, 0, err);
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
