/*
 * payflow_notify.c - the payment and refund notifications (payflow.h): each
 * one verified, applied to the ledger once, recorded and audited; those
 * refused are counted and audited in batches.
 */
#include "core/payflow.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/utf8.h"
#include "base/xalloc.h"
#include "db/audit.h"
#include "db/db_payflow.h"

/* ---- notifications ---- */

/* What one notification did, for its record and its audit entry. */
struct applied {
	const char *outcome; /* applied, unchanged, held, unknown, ignored */
	char reason[400];
	struct payflow_db_notification rec;
};

static void set_reason(struct applied *ap, const char *outcome, const char *fmt, ...)
        WXR_PRINTF(3, 4);

static void set_reason(struct applied *ap, const char *outcome, const char *fmt, ...)
{
	va_list va;

	ap->outcome = outcome;
	va_start(va, fmt);
	vsnprintf(ap->reason, sizeof(ap->reason), fmt, va);
	va_end(va);
}

static int apply_payment(const struct payflow_env *env, const char *nid,
                         const struct wxpay_transaction *t, struct applied *ap, struct wxr_err *err)
{
	struct payflow_db_order o;
	bool found = false, changed = false;
	int64_t paid_ts = 0;
	char from[24];
	int r;

	memset(&o, 0, sizeof(o));
	if (strcmp(t->mchid, env->mchid) != 0) {
		set_reason(ap, "held", "for merchant '%s', not '%s'", t->mchid, env->mchid);
		return 0;
	}
	if (strcmp(t->trade_state, "SUCCESS") != 0) {
		set_reason(ap, "held", "trade_state '%s' in a TRANSACTION.SUCCESS", t->trade_state);
		return 0;
	}
	if (!*t->out_trade_no || !*t->transaction_id) {
		set_reason(ap, "held", "no out_trade_no or transaction_id");
		return 0;
	}
	if (*t->currency && strcmp(t->currency, "CNY") != 0) {
		set_reason(ap, "held", "currency '%s'", t->currency);
		return 0;
	}
	if (time_parse_rfc3339(t->success_time, &paid_ts, NULL) < 0) {
		set_reason(ap, "held", "bad success_time '%s'", t->success_time);
		return 0;
	}
	r = payflow_db_order_get(env->db, env->mchid, t->out_trade_no, &o, &found, err);
	if (r < 0)
		return r;
	if (!found) {
		set_reason(ap, "unknown", "no order '%s' in the ledger", t->out_trade_no);
		goto out;
	}
	snprintf(from, sizeof(from), "%s", o.state);
	if (strcmp(o.state, "NOTPAY") == 0 || strcmp(o.state, "CLOSED") == 0) {
		if (t->amount_total != o.amount_total) {
			set_reason(ap, "held",
			           "paid %" PRId64 " fen, the ledger says %" PRId64
			           " fen: the order is left %s for a person to look at",
			           t->amount_total, o.amount_total, o.state);
			goto out;
		}
		if (strcmp(o.state, "CLOSED") == 0 &&
		    env->paid_after_close != PAID_AFTER_CLOSE_MARK_PAID) {
			set_reason(ap, "held",
			           "paid after it was closed; policy paid_after_close = %s: left "
			           "CLOSED for reconcile",
			           env->paid_after_close == PAID_AFTER_CLOSE_REFUND ? "refund"
			                                                            : "hold");
			goto out;
		}
		r = payflow_db_order_mark_paid(env->db, env->mchid, t->out_trade_no,
		                               t->transaction_id, paid_ts, env->tz_offset_s,
		                               &changed, err);
		if (r < 0)
			goto out;
		if (!changed) {
			set_reason(ap, "unchanged", "the order changed meanwhile");
			goto out;
		}
		r = payflow_audit_state(env, "order.state", t->out_trade_no, from, "PAID", "notify",
		                        nid, err);
		if (r < 0)
			goto out;
		set_reason(ap, "applied", "%s -> PAID%s", from,
		           strcmp(from, "CLOSED") == 0 ? " (paid after close; paid_after_close = "
		                                         "mark_paid)"
		                                       : "");
		goto out;
	}
	/* PAID, PARTIAL_REFUNDED, REFUNDED */
	if (t->amount_total != o.amount_total) {
		set_reason(ap, "held", "paid %" PRId64 " fen, the ledger says %" PRId64 " fen",
		           t->amount_total, o.amount_total);
		goto out;
	}
	if (!*o.transaction_id) {
		r = payflow_db_order_set_txn(env->db, env->mchid, t->out_trade_no,
		                             t->transaction_id, err);
		if (r < 0)
			goto out;
		set_reason(ap, "applied", "transaction_id recorded");
		goto out;
	}
	if (strcmp(o.transaction_id, t->transaction_id) != 0) {
		set_reason(ap, "held",
		           "the ledger has it paid by transaction '%s' (a second payment?)",
		           o.transaction_id);
		goto out;
	}
	set_reason(ap, "unchanged", "already %s", o.state);
out:
	payflow_db_order_release(&o);
	return r;
}

static int refund_rank(const char *s)
{
	if (strcmp(s, "PROCESSING") == 0)
		return 0;
	if (strcmp(s, "ABNORMAL") == 0)
		return 1;
	return 2; /* SUCCESS, CLOSED: final */
}

static int apply_refund(const struct payflow_env *env, const char *nid, const char *event_type,
                        const struct wxpay_refund *n, struct applied *ap, struct wxr_err *err)
{
	struct payflow_db_refund f;
	bool found = false;
	const char *st = n->status;
	int64_t success_ts = 0;
	int r;

	memset(&f, 0, sizeof(f));
	if (strcmp(st, "SUCCESS") != 0 && strcmp(st, "ABNORMAL") != 0 &&
	    strcmp(st, "CLOSED") != 0) {
		set_reason(ap, "held", "refund_status '%s' in a %s", st, event_type);
		return 0;
	}
	if (strcmp(event_type + strlen("REFUND."), st) != 0) {
		set_reason(ap, "held", "refund_status '%s' in a %s", st, event_type);
		return 0;
	}
	if (!*n->out_refund_no) {
		set_reason(ap, "held", "no out_refund_no");
		return 0;
	}
	if (strcmp(st, "SUCCESS") == 0 &&
	    time_parse_rfc3339(n->success_time, &success_ts, NULL) < 0)
		success_ts = env->now; /* documented as present on SUCCESS; be lenient */
	r = payflow_db_refund_get(env->db, env->mchid, n->out_refund_no, &f, &found, err);
	if (r < 0)
		return r;
	if (!found) {
		set_reason(ap, "unknown", "no refund '%s' in the ledger", n->out_refund_no);
		goto out;
	}
	if (*n->out_trade_no && strcmp(n->out_trade_no, f.out_trade_no) != 0) {
		set_reason(ap, "held", "for order '%s', the ledger says order '%s'",
		           n->out_trade_no, f.out_trade_no);
		goto out;
	}
	if (n->amount_refund != f.amount_refund) {
		set_reason(ap, "held", "refund of %" PRId64 " fen, the ledger says %" PRId64 " fen",
		           n->amount_refund, f.amount_refund);
		goto out;
	}
	if (*n->refund_id && *f.refund_id && strcmp(n->refund_id, f.refund_id) != 0) {
		set_reason(ap, "held", "refund_id '%s', the ledger says '%s'", n->refund_id,
		           f.refund_id);
		goto out;
	}
	if (strcmp(st, f.state) == 0) {
		if (!*f.refund_id && *n->refund_id) {
			r = payflow_db_refund_update(env->db, env->mchid, n->out_refund_no, st,
			                             n->refund_id, 0, 0, env->tz_offset_s, err);
			if (r < 0)
				goto out;
			set_reason(ap, "applied", "refund_id recorded");
		} else {
			set_reason(ap, "unchanged", "already %s", st);
		}
		goto out;
	}
	if (refund_rank(st) < refund_rank(f.state)) {
		set_reason(ap, "unchanged", "late: the ledger says %s already", f.state);
		goto out;
	}
	if (refund_rank(st) == refund_rank(f.state)) {
		set_reason(ap, "held", "%s, but the ledger says %s (both final)", st, f.state);
		goto out;
	}
	r = payflow_db_refund_update(env->db, env->mchid, n->out_refund_no, st, n->refund_id, 0,
	                             success_ts, env->tz_offset_s, err);
	if (r < 0)
		goto out;
	r = payflow_audit_state(env, "refund.state", n->out_refund_no, f.state, st, "notify", nid,
	                        err);
	if (r < 0)
		goto out;
	if (strcmp(st, "SUCCESS") == 0) {
		r = payflow_order_sync_refunds(env, f.out_trade_no, "notify", nid, err);
		if (r < 0)
			goto out;
	}
	set_reason(ap, "applied", "%s -> %s", f.state, st);
out:
	payflow_db_refund_release(&f);
	return r;
}

static void answer_set(struct payflow_notify_answer *a, int status, const char *outcome,
                       const char *detail)
{
	a->http_status = status;
	a->outcome = outcome;
	snprintf(a->detail, sizeof(a->detail), "%s", detail ? detail : "");
}

/* ---- rejected notifications ---- */

static const char *const reject_names[PAYFLOW_REJECT_NREASONS] = { "unverified", "malformed",
	                                                           "too_large" };

static void clip(const char *s, size_t max, char *out, size_t cap)
{
	utf8_clip(s ? s : "", max, out, cap);
}

void payflow_rejects_add(struct payflow_rejects *rj, enum payflow_reject_reason reason,
                         const char *source, const struct wxpay_notify_headers *hdr, size_t len,
                         const char *why, int64_t now_ts)
{
	char addr[sizeof(rj->sources[0].addr)];
	int i;

	if (rj->count++ == 0) {
		rj->first_ts = now_ts;
		clip(why, 2 * PAYFLOW_CLIP_LEN, rj->error, sizeof(rj->error));
		clip(hdr ? hdr->serial : NULL, PAYFLOW_CLIP_LEN, rj->serial, sizeof(rj->serial));
		clip(hdr ? hdr->timestamp : NULL, PAYFLOW_CLIP_LEN, rj->timestamp,
		     sizeof(rj->timestamp));
		rj->bytes = (int64_t)len;
	}
	rj->last_ts = now_ts;
	rj->by_reason[reason]++;
	clip(source && *source ? source : "?", sizeof(addr) - 1, addr, sizeof(addr));
	for (i = 0; i < rj->nsources; i++) {
		if (strcmp(rj->sources[i].addr, addr) == 0)
			break;
	}
	if (i == rj->nsources && i < PAYFLOW_REJECT_SOURCES) {
		memcpy(rj->sources[i].addr, addr, sizeof(addr));
		rj->nsources++;
	}
	if (i < rj->nsources)
		rj->sources[i].n++;
	else
		rj->other_sources++;
}

bool payflow_rejects_due(const struct payflow_rejects *rj, int64_t now_ts, int64_t interval_s)
{
	return rj->count > 0 && now_ts - rj->first_ts >= interval_s;
}

int payflow_rejects_flush(const struct payflow_env *env, struct payflow_rejects *rj,
                          struct wxr_err *err)
{
	char from[CLOCK_RFC3339_LEN], to[CLOCK_RFC3339_LEN];
	json_t *reasons, *sources, *j;
	int r;

	if (rj->count == 0)
		return 0;
	reasons = json_object();
	for (int i = 0; i < PAYFLOW_REJECT_NREASONS; i++) {
		if (rj->by_reason[i])
			json_object_set_new(reasons, reject_names[i],
			                    json_integer((json_int_t)rj->by_reason[i]));
	}
	sources = json_object();
	for (int i = 0; i < rj->nsources; i++)
		json_object_set_new(sources, rj->sources[i].addr,
		                    json_integer((json_int_t)rj->sources[i].n));
	time_format_rfc3339(rj->first_ts, 0, from);
	time_format_rfc3339(rj->last_ts, 0, to);
	j = json_pack("{s:s, s:s, s:I, s:o, s:o, s:I, s:{s:s, s:s, s:s, s:I}}", "from", from, "to",
	              to, "count", (json_int_t)rj->count, "reasons", reasons, "sources", sources,
	              "other_sources", (json_int_t)rj->other_sources, "sample", "error", rj->error,
	              "serial", rj->serial, "timestamp", rj->timestamp, "bytes",
	              (json_int_t)rj->bytes);
	r = payflow_audit_json(env, "notify.rejected", NULL, j, err);
	if (r == 0)
		memset(rj, 0, sizeof(*rj));
	return r;
}

/* A rejected notification: counted in env->rejects, else audited in its own
 * transaction (best effort); the sender's text clipped either way. */
static void audit_rejected(const struct payflow_env *env, const struct wxpay_notify_headers *hdr,
                           enum payflow_reject_reason reason, size_t len, const char *why)
{
	struct payflow_rejects one;
	struct wxr_err sub = WXR_ERR_INIT;

	if (env->rejects) {
		payflow_rejects_add(env->rejects, reason, env->peer, hdr, len, why,
		                    clock_real_now());
		return;
	}
	memset(&one, 0, sizeof(one));
	payflow_rejects_add(&one, reason, env->peer, hdr, len, why, clock_real_now());
	payflow_rejects_flush(env, &one, &sub);
}

void payflow_notify_handle(const struct payflow_env *env, const struct wxpay_notify_headers *hdr,
                           const void *body, size_t len, struct payflow_notify_answer *out)
{
	struct wxpay_notification n;
	struct wxpay_transaction t;
	struct wxpay_refund f;
	struct applied ap;
	struct wxr_err err = WXR_ERR_INIT, perr = WXR_ERR_INIT;
	bool seen = false, pay = false, refund = false;
	char prev[16];
	json_t *j;
	int r;

	memset(out, 0, sizeof(*out));
	memset(&n, 0, sizeof(n));
	memset(&t, 0, sizeof(t));
	memset(&f, 0, sizeof(f));
	memset(&ap, 0, sizeof(ap));
	r = wxpay_notify_parse(env->wx, hdr, body, len, &n, &err);
	if (r < 0) {
		answer_set(out,
		           r == WXR_ESIG                        ? 401
		           : r == WXR_EDATA || r == WXR_ETOOBIG ? 400
		                                                : 500,
		           r == WXR_ESIG || r == WXR_EDATA || r == WXR_ETOOBIG ? "rejected"
		                                                               : "error",
		           err.msg);
		if (r == WXR_ESIG || r == WXR_EDATA || r == WXR_ETOOBIG)
			audit_rejected(env, hdr,
			               r == WXR_ESIG    ? PAYFLOW_REJECT_UNVERIFIED
			               : r == WXR_EDATA ? PAYFLOW_REJECT_MALFORMED
			                                : PAYFLOW_REJECT_TOO_LARGE,
			               len, err.msg);
		goto out;
	}
	snprintf(out->id, sizeof(out->id), "%s", n.id);
	snprintf(out->event_type, sizeof(out->event_type), "%s", n.event_type);

	/* Parsed before the transaction: the write lock is held only for the writes. */
	if (strcmp(n.event_type, "TRANSACTION.SUCCESS") == 0) {
		pay = wxpay_transaction_parse(n.plaintext, n.plaintext_len, &t, &perr) == 0;
		if (pay)
			snprintf(out->subject, sizeof(out->subject), "%s", t.out_trade_no);
	} else if (strncmp(n.event_type, "REFUND.", 7) == 0) {
		refund = wxpay_refund_parse(n.plaintext, n.plaintext_len, &f, &perr) == 0;
		if (refund)
			snprintf(out->subject, sizeof(out->subject), "%s", f.out_refund_no);
	}

	r = db_begin(env->db, &err);
	if (r < 0) {
		answer_set(out, 500, "error", err.msg);
		goto out;
	}
	r = payflow_db_notification_seen(env->db, env->mchid, n.id, &seen, prev, &err);
	if (r < 0)
		goto fail;
	if (seen) {
		r = payflow_db_notification_repeat(env->db, env->mchid, n.id, clock_real_now(),
		                                   &err);
		if (r == 0)
			r = payflow_audit_json(env, "notify.duplicate", n.id,
			                       json_pack("{s:s, s:s}", "event_type", n.event_type,
			                                 "first_outcome", prev),
			                       &err);
		if (r < 0)
			goto fail;
		r = db_commit(env->db, &err);
		if (r < 0) {
			answer_set(out, 500, "error", err.msg);
			goto out;
		}
		answer_set(out, 204, "duplicate", "");
		snprintf(out->detail, sizeof(out->detail), "first outcome: %s", prev);
		goto out;
	}

	if (strcmp(n.event_type, "TRANSACTION.SUCCESS") == 0) {
		if (!pay)
			set_reason(&ap, "held", "cannot read the payment: %s", perr.msg);
		else
			r = apply_payment(env, n.id, &t, &ap, &err);
		ap.rec.out_trade_no = t.out_trade_no;
		ap.rec.transaction_id = t.transaction_id;
		ap.rec.has_amount = pay;
		ap.rec.amount = t.amount_total;
		ap.rec.state = t.trade_state;
	} else if (strncmp(n.event_type, "REFUND.", 7) == 0) {
		if (!refund)
			set_reason(&ap, "held", "cannot read the refund: %s", perr.msg);
		else
			r = apply_refund(env, n.id, n.event_type, &f, &ap, &err);
		ap.rec.out_trade_no = f.out_trade_no;
		ap.rec.out_refund_no = f.out_refund_no;
		ap.rec.transaction_id = f.transaction_id;
		ap.rec.refund_id = f.refund_id;
		ap.rec.has_amount = refund;
		ap.rec.amount = f.amount_refund;
		ap.rec.state = f.status;
	} else {
		set_reason(&ap, "ignored", "event type '%s' is not handled", n.event_type);
	}
	if (r < 0)
		goto fail;
	ap.rec.id = n.id;
	ap.rec.event_type = n.event_type;
	ap.rec.create_time = n.create_time;
	ap.rec.outcome = ap.outcome;
	ap.rec.reason = ap.reason;
	ap.rec.received_ts = clock_real_now();
	r = payflow_db_notification_insert(env->db, env->mchid, &ap.rec, &err);
	if (r < 0)
		goto fail;
	j = json_pack("{s:s, s:o, s:o, s:s}", "event_type", n.event_type, "out_trade_no",
	              payflow_jstr_or_null(ap.rec.out_trade_no), "out_refund_no",
	              payflow_jstr_or_null(ap.rec.out_refund_no), "reason", ap.reason);
	if (ap.rec.has_amount)
		json_object_set_new(j, "amount", json_integer((json_int_t)ap.rec.amount));
	{
		char event[32];

		snprintf(event, sizeof(event), "notify.%s", ap.outcome);
		r = payflow_audit_json(env, event, n.id, j, &err);
	}
	if (r < 0)
		goto fail;
	r = db_commit(env->db, &err);
	if (r < 0) {
		answer_set(out, 500, "error", err.msg);
		goto out;
	}
	answer_set(out, 204, ap.outcome, ap.reason);
	goto out;
fail:
	db_rollback(env->db);
	answer_set(out, 500, "error", err.msg);
out:
	wxpay_transaction_release(&t);
	wxpay_refund_release(&f);
	wxpay_notification_release(&n);
}
