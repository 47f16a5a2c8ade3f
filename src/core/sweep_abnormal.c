/*
 * sweep_abnormal.c - refunds synced from WeChat Pay and the abnormal refunds
 * `sweep refunds` files for them (the life of one: sweep.c).
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

/* ---- refunds ---- */

static const char *const rearm_abnormal[] = { "failed", "cancelled", NULL };
static const char *const rearm_any[] = { "intent",           "sent",      "done", "failed",
	                                 "pending_approval", "cancelled", NULL };

/*
 * A paid ledger order follows its successful refunds
 * (payflow_order_follow_refunds), audited as order.sync with why, inside the
 * caller's transaction.
 */
int sw_order_follow_refunds(struct sw *sw, const char *out_trade_no, const char *why,
                            struct wxr_err *err)
{
	struct payflow_follow f;
	int r = payflow_order_follow_refunds(sw->db, sw->o->mchid, out_trade_no, &f, err);

	if (r < 0 || !f.changed)
		return r;
	r = sw_audit_ev(sw, "order.sync", out_trade_no,
	                json_pack("{s:s, s:s, s:I, s:I, s:s}", "ledger_before", f.from,
	                          "ledger_after", f.to, "refunded", (json_int_t)f.refunded_fen,
	                          "amount_total", (json_int_t)f.amount_total, "why", why),
	                err);
	if (r < 0)
		return r;
	sw_item_add(sw, out_trade_no, "order_synced", 0,
	            "ledger order %s -> %s: %" PRId64 " of %" PRId64 " fen refunded", f.from, f.to,
	            f.refunded_fen, f.amount_total);
	return 0;
}

/* The ledger follows WeChat Pay's refund status (REFUND_SYNC), inside the
 * caller's transaction. rf->state is updated; the refund's order follows
 * when the refund becomes (or stops being) SUCCESS. */
int sw_refund_sync_tx(struct sw *sw, struct sweep_refund *rf, const char *status,
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
	r = sw_open_action(sw, "REFUND_SYNC", rf->out_refund_no, "intent", true, rf->amount_refund,
	                   p, why, rearm_any, "refund.sync.intent", NULL, &a, &written, err);
	if (r < 0)
		return r;
	r = actions_refund_sync(sw->db, sw->o->mchid, rf->out_refund_no, rf->state, status,
	                        refund_id, success_at[0] ? success_at : NULL, success_ts, sw->now,
	                        &changed, err);
	if (r >= 0)
		r = sw_move(sw, &a, "done", status, "", "refund.sync",
		            json_pack("{s:s, s:s, s:b, s:s?, s:s}", "ledger_before", rf->state,
		                      "ledger_after", status, "ledger_changed", changed,
		                      "success_at", success_at[0] ? success_at : NULL, "why", why),
		            err);
	if (r >= 0) {
		sw->res->synced++;
		sw_item_add(sw, rf->out_refund_no, "synced", a.id, "ledger %s -> %s (%s)",
		            rf->state, status, why);
		snprintf(rf->state, sizeof(rf->state), "%s", status);
	}
	if (r >= 0 && changed && success_changed && rf->out_trade_no)
		r = sw_order_follow_refunds(sw, rf->out_trade_no, "a refund of the order synced",
		                            err);
	action_release(&a);
	return r;
}

/* Calls apply-abnormal-refund for action a (intent: first time; sent: again
 * with the same refund_id and out_refund_no). req: the call (the card, for
 * USER_BANK_CARD, is wiped by the call). */
int sw_abnormal_send(struct sw *sw, struct sweep_refund *rf, struct action *a,
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
	r = sw_move_tx(sw, a, "sent", NULL, NULL,
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
	sw_checkpoint(sw, SWEEP_AT_AFTER_SENT);
	cr = sw->api->abnormal_refund(sw->api->ctx, req, &ans, &e);
	sw_checkpoint(sw, SWEEP_AT_AFTER_CALL);
	c = sw_classify(sw, cr, NULL, &e);
	if (c == CC_STOP) {
		sw_item_add(
		        sw, rf->out_refund_no, "stopped", a->id,
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
		c = sw_query_refund(sw, rf->out_refund_no, &q, why, sizeof(why));
		if (c == CC_STOP)
			goto out;
		if (c != CC_OK) {
			sw->res->failed++;
			sw_item_add(
			        sw, rf->out_refund_no, "failed", a->id,
			        "abnormal refund answered %s; the query after it failed: %s; left "
			        "as sent, the next sweep settles it",
			        answer, why);
			r = sw_audit_ev(sw, "refund.abnormal.unknown", rf->out_refund_no,
			                json_pack("{s:I, s:s, s:s}", "action_id", (json_int_t)a->id,
			                          "answer", answer, "why", why),
			                err);
			goto out;
		}
		if (strcmp(q.status, "ABNORMAL") == 0) {
			sw->res->failed++;
			snprintf(why, sizeof(why), "abnormal refund refused: %s", e.msg);
			sw_item_add(sw, rf->out_refund_no, "failed", a->id, "%s", why);
			r = sw_move_tx(sw, a, "failed", "ABNORMAL", why, "refund.abnormal.failed",
			               NULL, err);
			goto out;
		}
	}
	/* accepted (or the query shows it took effect): WeChat Pay pays it out */
	r = sw_begin(sw, err);
	if (r < 0)
		goto out;
	{
		const struct wxpay_refund *now_ = cr == 0 ? &ans : &q;
		const char *status = now_->status && *now_->status ? now_->status : "PROCESSING";

		r = sw_move(sw, a, "done", status, "", "refund.abnormal.done",
		            json_pack("{s:s, s:s, s:s}", "answer", answer, "type", req->type,
		                      "status_after", status),
		            err);
		if (r >= 0)
			r = sw_refund_sync_tx(sw, rf, status, now_->refund_id, now_->success_time,
			                      "abnormal refund filed", err);
		r = sw_end(sw, r, err);
		if (r < 0)
			goto out;
		sw->res->abnormal_refunds++;
		sw_item_add(sw, rf->out_refund_no, "abnormal_refund", a->id,
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
	return sw_abnormal_send(sw, rf, a, &req, err);
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

	c = sw_query_refund(sw, rf->out_refund_no, &q, why, sizeof(why));
	if (c == CC_STOP)
		goto out;
	if (c == CC_FAIL) {
		r = sw_query_failed(sw, rf->out_refund_no, a->id, why, err);
		goto out;
	}
	if (sw->o->dry_run) {
		sw->res->settled++;
		sw_item_add(sw, rf->out_refund_no, "would_settle", a->id,
		            "would settle ABNORMAL_REFUND action %" PRId64
		            " (%s): WeChat Pay says %s",
		            a->id, a->state, c == CC_NOTFOUND ? "RESOURCE_NOT_EXISTS" : q.status);
		goto out;
	}
	sw->res->settled++;
	if (c == CC_NOTFOUND) {
		sw->res->attention++;
		sw_item_add(sw, rf->out_refund_no, "attention", a->id,
		            "WeChat Pay does not know this refund: ABNORMAL_REFUND action %" PRId64
		            " failed",
		            a->id);
		r = sw_move_tx(sw, a, "failed", "NOT_EXIST", "WeChat Pay does not know the refund",
		               "refund.abnormal.failed", NULL, err);
		goto out;
	}
	if (strcmp(q.status, "ABNORMAL") != 0) {
		bool was_sent = strcmp(a->state, "sent") == 0;

		r = sw_begin(sw, err);
		if (r < 0)
			goto out;
		r = sw_move(sw, a, "done", q.status, "", "refund.abnormal.done",
		            json_pack("{s:s, s:b, s:b}", "status_after", q.status, "settled", 1,
		                      "was_sent", was_sent),
		            err);
		if (r >= 0)
			r = sw_refund_sync_tx(sw, rf, q.status, q.refund_id, q.success_time,
			                      "settled an abnormal refund", err);
		r = sw_end(sw, r, err);
		if (r < 0)
			goto out;
		if (was_sent)
			sw->res->abnormal_refunds++;
		sw_item_add(sw, rf->out_refund_no, "abnormal_refund", a->id,
		            "settled ABNORMAL_REFUND action %" PRId64
		            ": %s at WeChat Pay, not sent "
		            "again",
		            a->id, q.status);
		goto out;
	}
	if (type && strcmp(type, "USER_BANK_CARD") == 0) {
		sw->res->failed++;
		snprintf(why, sizeof(why),
		         "still ABNORMAL; the card details are never kept: file "
		         "again with 'wxrecon refund abnormal --user-card'");
		sw_item_add(sw, rf->out_refund_no, "failed", a->id, "%s", why);
		r = sw_move_tx(sw, a, "failed", "ABNORMAL", why, "refund.abnormal.failed", NULL,
		               err);
		goto out;
	}
	if (rid && q.refund_id && *q.refund_id && strcmp(rid, q.refund_id) != 0) {
		sw->res->attention++;
		snprintf(why, sizeof(why), "refund_id '%s' of the action is not WeChat Pay's '%s'",
		         rid, q.refund_id);
		sw_item_add(sw, rf->out_refund_no, "attention", a->id, "%s", why);
		r = sw_move_tx(sw, a, "failed", "ABNORMAL", why, "refund.abnormal.failed", NULL,
		               err);
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

/* An unfinished ABNORMAL_REFUND: its refund, settled by query. */
static int settle_refund_action(struct sw *sw, struct action *a, bool *out_found,
                                struct wxr_err *err)
{
	struct sweep_refund rf;
	int r = actions_refund_get(sw->db, sw->o->mchid, a->target, &rf, out_found, err);

	if (r < 0 || !*out_found)
		return r;
	r = settle_abnormal(sw, a, &rf, err);
	free(rf.out_refund_no);
	free(rf.out_trade_no);
	free(rf.refund_id);
	return r;
}

int sw_settle_refunds(struct sw *sw, struct wxr_err *err)
{
	return sw_settle_unfinished(sw, sw_refund_kinds, "refund", settle_refund_action, err);
}

int sw_refund_candidate(struct sw *sw, struct sweep_refund *rf, struct plan **plan, size_t *nplan,
                        struct wxr_err *err)
{
	struct wxpay_refund q;
	struct action ab;
	bool found = false;
	char why[WHY_LEN];
	enum cc c;
	int r = 0;

	memset(&ab, 0, sizeof(ab));
	c = sw_query_refund(sw, rf->out_refund_no, &q, why, sizeof(why));
	if (c == CC_STOP)
		goto out;
	if (c == CC_FAIL) {
		r = sw_query_failed(sw, rf->out_refund_no, 0, why, err);
		goto out;
	}
	if (c == CC_NOTFOUND) {
		sw->res->attention++;
		r = sw_skip(
		        sw, err, rf->out_refund_no, "attention",
		        "WeChat Pay does not know this refund (RESOURCE_NOT_EXISTS): left alone");
		goto out;
	}
	if (q.amount_refund != rf->amount_refund)
		sw_item_add(sw, rf->out_refund_no, "note", 0,
		            "amounts differ: ledger %" PRId64 " fen, WeChat Pay %" PRId64 " fen",
		            rf->amount_refund, q.amount_refund);
	if (strcmp(q.status, rf->state) != 0) {
		if (sw->o->dry_run) {
			sw->res->synced++;
			sw_item_add(sw, rf->out_refund_no, "would_sync", 0,
			            "would sync ledger %s -> %s", rf->state, q.status);
		} else {
			r = sw_begin(sw, err);
			if (r < 0)
				goto out;
			r = sw_refund_sync_tx(sw, rf, q.status, q.refund_id, q.success_time,
			                      "refund query", err);
			r = sw_end(sw, r, err);
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
				sw_item_add(sw, rf->out_refund_no, "would_cancel", ab.id,
				            "would cancel held ABNORMAL_REFUND action %" PRId64
				            ": %s at WeChat Pay",
				            ab.id, q.status);
			} else {
				r = sw_move_tx(sw, &ab, "cancelled", q.status, "",
				               "refund.abnormal.cancelled",
				               json_pack("{s:s}", "why", "no longer ABNORMAL"),
				               err);
				if (r < 0)
					goto out;
				sw_item_add(sw, rf->out_refund_no, "cancelled", ab.id,
				            "held abnormal refund cancelled: %s at WeChat Pay",
				            q.status);
			}
		} else if (strcmp(q.status, "PROCESSING") == 0) {
			sw->res->skipped++;
		}
		goto out;
	}
	if (found && strcmp(ab.state, "pending_approval") == 0) {
		sw_item_add(sw, rf->out_refund_no, "held", ab.id,
		            "ABNORMAL; abnormal refund action %" PRId64 " waits for approval",
		            ab.id);
		goto out;
	}
	if (found && (strcmp(ab.state, "intent") == 0 || strcmp(ab.state, "sent") == 0)) {
		/* settling it failed earlier in this run */
		goto out;
	}
	if (found && strcmp(ab.state, "done") == 0) {
		sw->res->attention++;
		char *type = params_str(ab.params, "type");

		r = sw_skip(sw, err, rf->out_refund_no, "attention",
		            "ABNORMAL again after abnormal refund action %" PRId64
		            " (%s) was accepted: not filed twice; a person must act (e.g. 'wxrecon "
		            "refund abnormal --user-card')",
		            ab.id, type ? type : "?");
		free(type);
		goto out;
	}
	if (!q.refund_id || !*q.refund_id) {
		sw->res->failed++;
		sw_item_add(sw, rf->out_refund_no, "failed", 0,
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

int sw_file_abnormal(struct sw *sw, struct plan *p, struct wxr_err *err)
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
			sw_item_add(sw, p->rf->out_refund_no, "would_hold", 0,
			            "would hold an abnormal refund (MERCHANT_BANK_CARD): %s", note);
		} else {
			sw->res->abnormal_refunds++;
			sw_item_add(sw, p->rf->out_refund_no, "would_file", 0,
			            "would file an abnormal refund (MERCHANT_BANK_CARD) of %" PRId64
			            " fen, refund_id %s",
			            p->amount, p->refund_id);
		}
		return 0;
	}
	memset(&a, 0, sizeof(a));
	r = sw_begin(sw, err);
	if (r < 0)
		return r;
	r = sw_open_action(
	        sw, "ABNORMAL_REFUND", p->rf->out_refund_no,
	        p->hold ? "pending_approval" : "intent", true, p->amount,
	        abnormal_params(p, "MERCHANT_BANK_CARD"), p->hold ? note : NULL, rearm_abnormal,
	        p->hold ? "refund.abnormal.held" : "refund.abnormal.intent",
	        json_pack("{s:s, s:s}", "refund_status", "ABNORMAL", "type", "MERCHANT_BANK_CARD"),
	        &a, &written, err);
	r = sw_end(sw, r, err);
	if (r < 0)
		return r;
	if (!written) {
		sw->res->attention++;
		sw_item_add(sw, p->rf->out_refund_no, "attention", a.id,
		            "ABNORMAL_REFUND action %" PRId64 " is %s: not filed again", a.id,
		            a.state);
		goto out;
	}
	if (p->hold) {
		sw->res->new_held++;
		sw_item_add(sw, p->rf->out_refund_no, "held", a.id, "held for approval: %s", note);
		goto out;
	}
	sw_checkpoint(sw, SWEEP_AT_AFTER_INTENT);
	r = abnormal_merchant(sw, p->rf, &a, p->refund_id, err);
out:
	action_release(&a);
	return r;
}
