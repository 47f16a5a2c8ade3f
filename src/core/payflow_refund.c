/*
 * payflow_refund.c - `wxrecon refund create` (payflow.h): the refund's
 * checks against the ledger, the call, settling an unknown outcome by
 * query, the result.
 */
#include "core/payflow.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "db/audit.h"
#include "db/db_payflow.h"

/* ---- refund create ---- */

void payflow_refund_result_release(struct payflow_refund_result *r)
{
	if (!r)
		return;
	free(r->out_trade_no);
	free(r->out_refund_no);
	free(r->refund_id);
	free(r->status);
	free(r->created_at);
	memset(r, 0, sizeof(*r));
}

static bool refund_state_known(const char *s)
{
	return strcmp(s, "PROCESSING") == 0 || strcmp(s, "SUCCESS") == 0 ||
	       strcmp(s, "CLOSED") == 0 || strcmp(s, "ABNORMAL") == 0;
}

static int64_t parse_time_or_zero(const char *s)
{
	int64_t ts = 0;

	if (!s || !*s || time_parse_rfc3339(s, &ts, NULL) < 0)
		return 0;
	return ts;
}

/* A 4xx answer (except 429) means WeChat Pay did not take the refund, unless
 * an earlier attempt of the call may have been taken (timeout, 429, 5xx). */
static bool refused_outright(struct wxpay *w, int r)
{
	const struct wxpay_status *st;

	if (r != WXR_EAPI)
		return false;
	st = wxpay_last(w);
	return st && !st->unsure && st->http_status >= 400 && st->http_status < 500 &&
	       st->http_status != 429;
}

/* A 4xx after an ambiguous attempt, or a probe answer: only a query tells. */
static bool refund_needs_query(struct wxpay *w, int r)
{
	const struct wxpay_status *st = wxpay_last(w);

	if (!st)
		return false;
	if (r == WXR_ESIG)
		return st->probe && !wxpay_poisoned(w);
	return r == WXR_EAPI && st->unsure && st->http_status >= 400 && st->http_status < 500 &&
	       st->http_status != 429;
}

/*
 * Settles an ambiguous refund by a query of its out_refund_no: 0 with *ans
 * filled when WeChat Pay has it; *absent when it definitely has not (404
 * RESOURCE_NOT_EXISTS); else the query's error (the fate stays unknown).
 */
static int refund_settle_by_query(struct wxpay *w, const char *out_refund_no,
                                  struct wxpay_refund *ans, bool *absent, struct wxr_err *err)
{
	struct wxr_err qerr = WXR_ERR_INIT;
	const struct wxpay_status *st;
	int r;

	*absent = false;
	r = wxpay_refund_query(w, out_refund_no, ans, &qerr);
	if (r == 0)
		return 0;
	st = wxpay_last(w);
	if (r == WXR_EAPI && st && st->http_status == 404 &&
	    wxpay_code_is(st->code, "RESOURCE_NOT_EXISTS"))
		*absent = true;
	if (err) {
		size_t l = strlen(err->msg);

		snprintf(err->msg + l, sizeof(err->msg) - l, "; the query after it: %s", qerr.msg);
	}
	return r;
}

static int refund_fill_result(const struct payflow_env *env, const char *out_refund_no,
                              struct payflow_refund_result *out, struct wxr_err *err)
{
	struct payflow_db_refund f;
	bool found = false;
	int r;

	memset(&f, 0, sizeof(f));
	r = payflow_db_refund_get(env->db, env->mchid, out_refund_no, &f, &found, err);
	if (r < 0)
		return r;
	if (!found)
		return err_set(err, WXR_ENOTFOUND, "refund '%s' vanished from the ledger",
		               out_refund_no);
	out->out_refund_no = xstrdup(out_refund_no);
	out->out_trade_no = xstrdup(f.out_trade_no);
	out->refund_id = xstrdup(f.refund_id);
	out->status = xstrdup(f.state);
	out->created_at = xstrdup(f.created_at);
	out->amount = f.amount_refund;
	payflow_db_refund_release(&f);
	return 0;
}

int payflow_refund_create(const struct payflow_env *env, const struct payflow_refund_args *a,
                          struct payflow_refund_result *out, struct wxr_err *err)
{
	struct payflow_db_refund f;
	struct payflow_db_order o;
	struct payflow_db_refund_stats rs;
	struct payflow_refund_facts facts;
	struct payflow_db_new_refund nr;
	struct wxpay_refund_req rq;
	struct wxpay_refund ans;
	struct payflow_refund_result res;
	struct wxr_err sub = WXR_ERR_INIT;
	bool found = false, ofound = false, in_tx = false, is_new = false;
	bool queried_absent = false;
	char *reason = NULL, *notify_url = NULL;
	int64_t total = 0;
	const char *state;
	int r;

	memset(&f, 0, sizeof(f));
	memset(&o, 0, sizeof(o));
	memset(&ans, 0, sizeof(ans));
	memset(&res, 0, sizeof(res));
	if (!payflow_is_out_trade_no(a->out_trade_no))
		return err_set(err, WXR_EUSAGE,
		               "bad out_trade_no '%s' (6 to 32 of 0-9 A-Z a-z _ - | *)",
		               payflow_nz(a->out_trade_no));
	if (!payflow_is_out_refund_no(a->out_refund_no))
		return err_set(err, WXR_EUSAGE,
		               "bad out_refund_no '%s' (1 to 64 of 0-9 A-Z a-z _ - | * @)",
		               payflow_nz(a->out_refund_no));
	if (a->amount < 1)
		return err_set(err, WXR_EUSAGE, "the amount must be at least 1 fen");
	r = payflow_check_text("reason", a->reason, PAYFLOW_REASON_MAX, false, err);
	if (r == 0 && a->notify_url)
		r = payflow_check_notify_url(a->notify_url, err);
	if (r < 0)
		return r;

	r = db_begin(env->db, err);
	if (r < 0)
		return err_prefix(err, "refund '%s'", a->out_refund_no);
	in_tx = true;
	r = payflow_db_refund_get(env->db, env->mchid, a->out_refund_no, &f, &found, err);
	if (r < 0)
		goto fail;
	if (found) {
		if (strcmp(f.out_trade_no, a->out_trade_no) != 0 || f.amount_refund != a->amount) {
			r = err_set(err, WXR_EUSAGE,
			            "refund '%s' exists already, for order '%s' and %" PRId64
			            " fen; an out_refund_no cannot be reused with other parameters",
			            a->out_refund_no, f.out_trade_no, f.amount_refund);
			goto fail;
		}
		if (*f.refund_id) {
			/* WeChat Pay accepted it before: nothing to do. */
			db_rollback(env->db);
			in_tx = false;
			r = refund_fill_result(env, a->out_refund_no, &res, err);
			if (r < 0)
				goto fail;
			goto done;
		}
		/* Written, but its answer never arrived: ask again with the same body. */
		reason = xstrdup(f.filed ? f.reason : payflow_nz(a->reason));
		notify_url = xstrdup(f.filed ? f.notify_url : payflow_nz(a->notify_url));
		total = f.filed ? f.amount_total : 0;
		if (total <= 0) {
			r = payflow_db_order_get(env->db, env->mchid, a->out_trade_no, &o, &ofound,
			                         err);
			if (r < 0)
				goto fail;
			if (!ofound) {
				r = err_set(err, WXR_EDATA, "no order '%s' in the ledger",
				            a->out_trade_no);
				goto fail;
			}
			total = o.amount_total;
		}
		db_rollback(env->db);
		in_tx = false;
	} else {
		r = payflow_db_order_get(env->db, env->mchid, a->out_trade_no, &o, &ofound, err);
		if (r < 0)
			goto fail;
		if (!ofound) {
			r = err_set(err, WXR_EDATA, "no order '%s' in the ledger", a->out_trade_no);
			goto fail;
		}
		r = payflow_db_refund_stats(env->db, env->mchid, a->out_trade_no, &rs, err);
		if (r < 0)
			goto fail;
		memset(&facts, 0, sizeof(facts));
		facts.out_trade_no = a->out_trade_no;
		facts.order_state = o.state;
		facts.order_total = o.amount_total;
		facts.paid_ts = o.paid_ts;
		facts.refunds = rs.count;
		facts.refunded_fen = rs.active_fen;
		facts.last_refund_ts = rs.last_created_ts;
		facts.amount = a->amount;
		facts.now = env->now;
		facts.tz_offset_s = env->tz_offset_s;
		r = payflow_refund_check(&facts, err);
		if (r < 0)
			goto fail;
		total = o.amount_total;
		reason = xstrdup(payflow_nz(a->reason));
		notify_url = xstrdup(payflow_nz(a->notify_url));
		memset(&nr, 0, sizeof(nr));
		nr.out_refund_no = a->out_refund_no;
		nr.out_trade_no = a->out_trade_no;
		nr.reason = reason;
		nr.notify_url = notify_url;
		nr.amount_refund = a->amount;
		nr.amount_total = total;
		nr.created_ts = env->now;
		r = payflow_db_refund_insert(env->db, env->mchid, env->tz_offset_s, &nr, err);
		if (r < 0)
			goto fail;
		r = payflow_audit_json(env, "refund.create", a->out_refund_no,
		                       json_pack("{s:s, s:I, s:I, s:s}", "out_trade_no",
		                                 a->out_trade_no, "amount_refund",
		                                 (json_int_t)a->amount, "amount_total",
		                                 (json_int_t)total, "state", "PROCESSING"),
		                       err);
		if (r < 0)
			goto fail;
		r = db_commit(env->db, err);
		in_tx = false;
		if (r < 0)
			goto fail;
		is_new = true;
	}

	memset(&rq, 0, sizeof(rq));
	rq.out_trade_no = a->out_trade_no;
	rq.out_refund_no = a->out_refund_no;
	rq.reason = *reason ? reason : NULL;
	rq.notify_url = *notify_url ? notify_url : NULL;
	rq.amount_refund = a->amount;
	rq.amount_total = total;
	r = wxpay_refund_create(env->wx, &rq, &ans, err);
	if (r < 0 && refund_needs_query(env->wx, r)) {
		bool absent = false;

		if (refund_settle_by_query(env->wx, a->out_refund_no, &ans, &absent, err) == 0) {
			r = 0;
		} else if (absent) {
			queried_absent = true;
		}
	}
	if (r < 0) {
		bool refused = refused_outright(env->wx, r) || queried_absent;

		if (db_begin(env->db, &sub) == 0) {
			int w = refused ? payflow_db_refund_delete(env->db, env->mchid,
			                                           a->out_refund_no, &sub)
			                : 0;

			if (w == 0)
				w = payflow_audit_json(
				        env, refused ? "refund.refused" : "refund.unknown",
				        a->out_refund_no,
				        json_pack("{s:s, s:s, s:b}", "out_trade_no",
				                  a->out_trade_no, "error", err->msg,
				                  "queried_absent", queried_absent),
				        &sub);
			if (w == 0)
				db_commit(env->db, &sub);
			else
				db_rollback(env->db);
		}
		if (queried_absent)
			err_prefix(err,
			           "refund '%s' not made (nothing was refunded; the ledger row is "
			           "removed); if you retry it, use the same out_refund_no, never a "
			           "new one, in case WeChat Pay takes it late",
			           a->out_refund_no);
		else if (refused)
			err_prefix(err,
			           "refund '%s' refused (nothing was refunded; the ledger "
			           "row is removed)",
			           a->out_refund_no);
		else
			err_prefix(err,
			           "refund '%s': its fate is unknown; it stays PROCESSING in "
			           "the ledger: run the same command again (same out_refund_no "
			           "and amount) or 'wxrecon sweep refunds'",
			           a->out_refund_no);
		goto out;
	}
	state = refund_state_known(ans.status) ? ans.status : "PROCESSING";
	r = db_begin(env->db, err);
	if (r < 0)
		goto recorded;
	in_tx = true;
	r = payflow_db_refund_update(
	        env->db, env->mchid, a->out_refund_no, state, ans.refund_id,
	        parse_time_or_zero(ans.create_time),
	        strcmp(state, "SUCCESS") == 0 ? parse_time_or_zero(ans.success_time) : 0,
	        env->tz_offset_s, err);
	if (r < 0)
		goto fail;
	r = payflow_audit_json(env, "refund.accepted", a->out_refund_no,
	                       json_pack("{s:s, s:s, s:s, s:b}", "out_trade_no", a->out_trade_no,
	                                 "refund_id", ans.refund_id, "status", state, "repeat",
	                                 !is_new),
	                       err);
	if (r < 0)
		goto fail;
	if (strcmp(state, "SUCCESS") == 0) {
		r = payflow_order_sync_refunds(env, a->out_trade_no, "refund create", NULL, err);
		if (r < 0)
			goto fail;
	}
	r = db_commit(env->db, err);
	in_tx = false;
recorded:
	if (r < 0) {
		err_prefix(err,
		           "refund '%s' was accepted by WeChat Pay (refund_id %s, %s) but "
		           "could not be recorded",
		           a->out_refund_no, ans.refund_id, state);
		goto out;
	}
	r = refund_fill_result(env, a->out_refund_no, &res, err);
	if (r < 0)
		goto out;
	res.sent = true;
done:
	res.is_new = is_new;
	*out = res;
	memset(&res, 0, sizeof(res));
	r = 0;
	goto out;
fail:
	if (in_tx)
		db_rollback(env->db);
	err_prefix(err, "refund '%s'", a->out_refund_no);
out:
	payflow_refund_result_release(&res);
	wxpay_refund_release(&ans);
	payflow_db_refund_release(&f);
	payflow_db_order_release(&o);
	free(reason);
	free(notify_url);
	return r;
}
