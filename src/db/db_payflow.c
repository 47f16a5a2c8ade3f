/*
 * db_payflow.c - the SQL of the payment flow. Portable SQL with bound
 * parameters only (SPEC 10); callers hold the transaction.
 */
#include "db/db_payflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/xalloc.h"

static int64_t col_i64(struct db_stmt *st, int i)
{
	return db_col_is_null(st, i) ? 0 : db_col_i64(st, i);
}

static const char *null_if_empty(const char *s)
{
	return s && *s ? s : NULL;
}

/* The real clock as the ledger's updated_at (UTC, like ledger import). */
static void stamp_now(char out[CLOCK_RFC3339_LEN])
{
	time_format_rfc3339(clock_real_now(), 0, out);
}

/* Steps a statement that returns no row; frees it. */
static int step_done(struct db *db, struct db_stmt *st, const char *what, struct wxr_err *err)
{
	int r = db_step(st) == DB_DONE ? 0 : db_error(db, err, what);

	db_finalize(st);
	return r;
}

/* ---- orders ---- */

void payflow_db_order_release(struct payflow_db_order *o)
{
	if (!o)
		return;
	free(o->transaction_id);
	free(o->description);
	free(o->time_expire);
	free(o->attach);
	free(o->notify_url);
	free(o->prepay_id);
	free(o->prepay_expires_at);
	memset(o, 0, sizeof(*o));
}

int payflow_db_order_get(struct db *db, const char *mchid, const char *out_trade_no,
                         struct payflow_db_order *out, bool *out_found, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	struct payflow_db_order o;
	int r;

	r = db_prepare(db,
	               "SELECT o.state, o.transaction_id, o.amount_total, o.created_ts, o.paid_ts,"
	               " p.out_trade_no IS NOT NULL, p.description, p.time_expire, p.attach,"
	               " p.notify_url, p.payable_until_ts, p.prepay_id, p.prepay_expires_at"
	               " FROM ledger_orders o LEFT JOIN payflow_orders p"
	               " ON p.mchid = o.mchid AND p.out_trade_no = o.out_trade_no"
	               " WHERE o.mchid = ? AND o.out_trade_no = ?",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, out_trade_no);
	r = db_step(st);
	if (r == DB_DONE) {
		*out_found = false;
		r = 0;
		goto out;
	}
	if (r != DB_ROW) {
		r = db_error(db, err, "read ledger_orders");
		goto out;
	}
	memset(&o, 0, sizeof(o));
	snprintf(o.state, sizeof(o.state), "%s", db_col_text(st, 0));
	o.transaction_id = db_col_text_dup(st, 1);
	o.amount_total = col_i64(st, 2);
	o.created_ts = col_i64(st, 3);
	o.paid_ts = col_i64(st, 4);
	o.placed = (int)db_col_i64(st, 5) != 0;
	o.description = db_col_text_dup(st, 6);
	o.time_expire = db_col_text_dup(st, 7);
	o.attach = db_col_text_dup(st, 8);
	o.notify_url = db_col_text_dup(st, 9);
	o.payable_until_ts = col_i64(st, 10);
	o.prepay_id = db_col_text_dup(st, 11);
	o.prepay_expires_at = db_col_text_dup(st, 12);
	*out = o;
	*out_found = true;
	r = 0;
out:
	db_finalize(st);
	return r;
}

int payflow_db_order_insert(struct db *db, const char *mchid, int tz_offset_s,
                            const struct payflow_db_new_order *o, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char created[CLOCK_RFC3339_LEN], now[CLOCK_RFC3339_LEN];
	int r;

	time_format_rfc3339(o->created_ts, tz_offset_s, created);
	stamp_now(now);
	r = db_prepare(
	        db,
	        "INSERT INTO ledger_orders (mchid, out_trade_no, amount_total, currency, state,"
	        " created_at, created_ts, time_expire, expire_ts, attach, updated_at)"
	        " VALUES (?, ?, ?, 'CNY', 'NOTPAY', ?, ?, ?, ?, ?, ?)",
	        &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, o->out_trade_no);
	db_bind_i64(st, 3, o->amount_total);
	db_bind_text(st, 4, created);
	db_bind_i64(st, 5, o->created_ts);
	db_bind_text(st, 6, o->time_expire);
	if (o->time_expire)
		db_bind_i64(st, 7, o->expire_ts);
	db_bind_text(st, 8, null_if_empty(o->attach));
	db_bind_text(st, 9, now);
	r = step_done(db, st, "insert ledger order", err);
	if (r < 0)
		return r;
	r = db_prepare(db,
	               "INSERT INTO payflow_orders (mchid, out_trade_no, description, amount_total,"
	               " time_expire, attach, notify_url, payable_until_ts, created_at, updated_at)"
	               " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, o->out_trade_no);
	db_bind_text(st, 3, o->description);
	db_bind_i64(st, 4, o->amount_total);
	db_bind_text(st, 5, o->time_expire);
	db_bind_text(st, 6, null_if_empty(o->attach));
	db_bind_text(st, 7, o->notify_url);
	db_bind_i64(st, 8, o->payable_until_ts);
	db_bind_text(st, 9, created);
	db_bind_text(st, 10, now);
	return step_done(db, st, "insert payflow order", err);
}

int payflow_db_prepay_record(struct db *db, const char *mchid, const char *out_trade_no,
                             const char *prepay_id, const char *prepay_at, const char *expires_at,
                             struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char now[CLOCK_RFC3339_LEN];
	int r;

	stamp_now(now);
	r = db_prepare(
	        db,
	        "UPDATE payflow_orders SET prepay_id = ?, prepay_at = ?, prepay_expires_at = ?,"
	        " prepays = prepays + 1, last_error = NULL, updated_at = ?"
	        " WHERE mchid = ? AND out_trade_no = ?",
	        &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, prepay_id);
	db_bind_text(st, 2, prepay_at);
	db_bind_text(st, 3, expires_at);
	db_bind_text(st, 4, now);
	db_bind_text(st, 5, mchid);
	db_bind_text(st, 6, out_trade_no);
	return step_done(db, st, "record prepay", err);
}

int payflow_db_prepay_error(struct db *db, const char *mchid, const char *out_trade_no,
                            const char *error, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char now[CLOCK_RFC3339_LEN];
	int r;

	stamp_now(now);
	r = db_prepare(db,
	               "UPDATE payflow_orders SET last_error = ?, updated_at = ?"
	               " WHERE mchid = ? AND out_trade_no = ?",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, error);
	db_bind_text(st, 2, now);
	db_bind_text(st, 3, mchid);
	db_bind_text(st, 4, out_trade_no);
	return step_done(db, st, "record prepay error", err);
}

int payflow_db_order_mark_paid(struct db *db, const char *mchid, const char *out_trade_no,
                               const char *transaction_id, int64_t paid_ts, int tz_offset_s,
                               bool *out_changed, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char paid_at[CLOCK_RFC3339_LEN], paid_date[CLOCK_DATE_LEN], now[CLOCK_RFC3339_LEN];
	int r;

	time_format_rfc3339(paid_ts, tz_offset_s, paid_at);
	time_date(paid_ts, tz_offset_s, paid_date);
	stamp_now(now);
	r = db_prepare(db,
	               "UPDATE ledger_orders SET state = 'PAID', transaction_id = ?, paid_at = ?,"
	               " paid_ts = ?, paid_date = ?, updated_at = ?"
	               " WHERE mchid = ? AND out_trade_no = ? AND state IN ('NOTPAY', 'CLOSED')",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, transaction_id);
	db_bind_text(st, 2, paid_at);
	db_bind_i64(st, 3, paid_ts);
	db_bind_text(st, 4, paid_date);
	db_bind_text(st, 5, now);
	db_bind_text(st, 6, mchid);
	db_bind_text(st, 7, out_trade_no);
	if (db_step(st) != DB_DONE) {
		r = db_error(db, err, "mark order paid");
		goto out;
	}
	*out_changed = db_changes(db) == 1;
	r = 0;
out:
	db_finalize(st);
	return r;
}

int payflow_db_order_set_txn(struct db *db, const char *mchid, const char *out_trade_no,
                             const char *transaction_id, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char now[CLOCK_RFC3339_LEN];
	int r;

	stamp_now(now);
	r = db_prepare(db,
	               "UPDATE ledger_orders SET transaction_id = ?, updated_at = ?"
	               " WHERE mchid = ? AND out_trade_no = ?"
	               " AND (transaction_id IS NULL OR transaction_id = '')",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, transaction_id);
	db_bind_text(st, 2, now);
	db_bind_text(st, 3, mchid);
	db_bind_text(st, 4, out_trade_no);
	return step_done(db, st, "record transaction_id", err);
}

int payflow_db_order_set_state(struct db *db, const char *mchid, const char *out_trade_no,
                               const char *state, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char now[CLOCK_RFC3339_LEN];
	int r;

	stamp_now(now);
	r = db_prepare(db,
	               "UPDATE ledger_orders SET state = ?, updated_at = ?"
	               " WHERE mchid = ? AND out_trade_no = ?",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, state);
	db_bind_text(st, 2, now);
	db_bind_text(st, 3, mchid);
	db_bind_text(st, 4, out_trade_no);
	return step_done(db, st, "update order state", err);
}

/* ---- refunds ---- */

void payflow_db_refund_release(struct payflow_db_refund *f)
{
	if (!f)
		return;
	free(f->out_trade_no);
	free(f->refund_id);
	free(f->created_at);
	free(f->reason);
	free(f->notify_url);
	memset(f, 0, sizeof(*f));
}

int payflow_db_refund_get(struct db *db, const char *mchid, const char *out_refund_no,
                          struct payflow_db_refund *out, bool *out_found, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	struct payflow_db_refund f;
	int r;

	r = db_prepare(db,
	               "SELECT r.state, r.out_trade_no, r.refund_id, r.amount_refund, r.created_ts,"
	               " r.created_at, p.out_refund_no IS NOT NULL, p.amount_total, p.reason,"
	               " p.notify_url"
	               " FROM ledger_refunds r LEFT JOIN payflow_refunds p"
	               " ON p.mchid = r.mchid AND p.out_refund_no = r.out_refund_no"
	               " WHERE r.mchid = ? AND r.out_refund_no = ?",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, out_refund_no);
	r = db_step(st);
	if (r == DB_DONE) {
		*out_found = false;
		r = 0;
		goto out;
	}
	if (r != DB_ROW) {
		r = db_error(db, err, "read ledger_refunds");
		goto out;
	}
	memset(&f, 0, sizeof(f));
	snprintf(f.state, sizeof(f.state), "%s", db_col_text(st, 0));
	f.out_trade_no = db_col_text_dup(st, 1);
	f.refund_id = db_col_text_dup(st, 2);
	f.amount_refund = col_i64(st, 3);
	f.created_ts = col_i64(st, 4);
	f.created_at = db_col_text_dup(st, 5);
	f.filed = (int)db_col_i64(st, 6) != 0;
	f.amount_total = col_i64(st, 7);
	f.reason = db_col_text_dup(st, 8);
	f.notify_url = db_col_text_dup(st, 9);
	*out = f;
	*out_found = true;
	r = 0;
out:
	db_finalize(st);
	return r;
}

int payflow_db_refund_stats(struct db *db, const char *mchid, const char *out_trade_no,
                            struct payflow_db_refund_stats *out, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "SELECT count(*),"
	               " coalesce(sum(CASE WHEN state <> 'CLOSED' THEN amount_refund END), 0),"
	               " coalesce(sum(CASE WHEN state = 'SUCCESS' THEN amount_refund END), 0),"
	               " coalesce(max(created_ts), 0)"
	               " FROM ledger_refunds WHERE mchid = ? AND out_trade_no = ?",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, out_trade_no);
	if (db_step(st) != DB_ROW) {
		r = db_error(db, err, "read refunds of an order");
		goto out;
	}
	out->count = (long)db_col_i64(st, 0);
	out->active_fen = db_col_i64(st, 1);
	out->success_fen = db_col_i64(st, 2);
	out->last_created_ts = db_col_i64(st, 3);
	r = 0;
out:
	db_finalize(st);
	return r;
}

int payflow_db_refund_insert(struct db *db, const char *mchid, int tz_offset_s,
                             const struct payflow_db_new_refund *f, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char created[CLOCK_RFC3339_LEN], date[CLOCK_DATE_LEN], now[CLOCK_RFC3339_LEN];
	int r;

	time_format_rfc3339(f->created_ts, tz_offset_s, created);
	time_date(f->created_ts, tz_offset_s, date);
	stamp_now(now);
	r = db_prepare(
	        db,
	        "INSERT INTO ledger_refunds (mchid, out_refund_no, out_trade_no, amount_refund,"
	        " state, created_at, created_ts, created_date, updated_at)"
	        " VALUES (?, ?, ?, ?, 'PROCESSING', ?, ?, ?, ?)",
	        &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, f->out_refund_no);
	db_bind_text(st, 3, f->out_trade_no);
	db_bind_i64(st, 4, f->amount_refund);
	db_bind_text(st, 5, created);
	db_bind_i64(st, 6, f->created_ts);
	db_bind_text(st, 7, date);
	db_bind_text(st, 8, now);
	r = step_done(db, st, "insert ledger refund", err);
	if (r < 0)
		return r;
	r = db_prepare(
	        db,
	        "INSERT INTO payflow_refunds (mchid, out_refund_no, out_trade_no, amount_refund,"
	        " amount_total, reason, notify_url, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	        &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, f->out_refund_no);
	db_bind_text(st, 3, f->out_trade_no);
	db_bind_i64(st, 4, f->amount_refund);
	db_bind_i64(st, 5, f->amount_total);
	db_bind_text(st, 6, null_if_empty(f->reason));
	db_bind_text(st, 7, null_if_empty(f->notify_url));
	db_bind_text(st, 8, created);
	return step_done(db, st, "insert payflow refund", err);
}

int payflow_db_refund_delete(struct db *db, const char *mchid, const char *out_refund_no,
                             struct wxr_err *err)
{
	static const char *const sql[] = {
		"DELETE FROM payflow_refunds WHERE mchid = ? AND out_refund_no = ?",
		"DELETE FROM ledger_refunds WHERE mchid = ? AND out_refund_no = ?",
	};

	for (size_t i = 0; i < 2; i++) {
		struct db_stmt *st = NULL;
		int r = db_prepare(db, sql[i], &st, err);

		if (r < 0)
			return r;
		db_bind_text(st, 1, mchid);
		db_bind_text(st, 2, out_refund_no);
		r = step_done(db, st, "delete refund", err);
		if (r < 0)
			return r;
	}
	return 0;
}

int payflow_db_refund_update(struct db *db, const char *mchid, const char *out_refund_no,
                             const char *state, const char *refund_id, int64_t created_ts,
                             int64_t success_ts, int tz_offset_s, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char created[CLOCK_RFC3339_LEN], date[CLOCK_DATE_LEN], success[CLOCK_RFC3339_LEN];
	char now[CLOCK_RFC3339_LEN];
	int r;

	stamp_now(now);
	r = db_prepare(
	        db,
	        "UPDATE ledger_refunds SET state = ?,"
	        " refund_id = CASE WHEN refund_id IS NULL OR refund_id = ''"
	        "   THEN coalesce(?, refund_id) ELSE refund_id END,"
	        " created_at = coalesce(?, created_at), created_ts = coalesce(?, created_ts),"
	        " created_date = coalesce(?, created_date),"
	        " success_at = coalesce(?, success_at), success_ts = coalesce(?, success_ts),"
	        " updated_at = ? WHERE mchid = ? AND out_refund_no = ?",
	        &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, state);
	db_bind_text(st, 2, null_if_empty(refund_id));
	if (created_ts > 0) {
		time_format_rfc3339(created_ts, tz_offset_s, created);
		time_date(created_ts, tz_offset_s, date);
		db_bind_text(st, 3, created);
		db_bind_i64(st, 4, created_ts);
		db_bind_text(st, 5, date);
	}
	if (success_ts > 0) {
		time_format_rfc3339(success_ts, tz_offset_s, success);
		db_bind_text(st, 6, success);
		db_bind_i64(st, 7, success_ts);
	}
	db_bind_text(st, 8, now);
	db_bind_text(st, 9, mchid);
	db_bind_text(st, 10, out_refund_no);
	return step_done(db, st, "update refund", err);
}

/* ---- notifications ---- */

int payflow_db_notification_seen(struct db *db, const char *mchid, const char *id, bool *out_found,
                                 char out_outcome[16], struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db, "SELECT outcome FROM notifications WHERE mchid = ? AND id = ?", &st,
	               err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, id);
	r = db_step(st);
	if (r == DB_ROW) {
		*out_found = true;
		snprintf(out_outcome, 16, "%s", db_col_text(st, 0));
		r = 0;
	} else if (r == DB_DONE) {
		*out_found = false;
		r = 0;
	} else {
		r = db_error(db, err, "read notifications");
	}
	db_finalize(st);
	return r;
}

int payflow_db_notification_insert(struct db *db, const char *mchid,
                                   const struct payflow_db_notification *n, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char at[CLOCK_RFC3339_LEN];
	int r;

	time_format_rfc3339(n->received_ts, 0, at);
	r = db_prepare(
	        db,
	        "INSERT INTO notifications (mchid, id, event_type, create_time, out_trade_no,"
	        " out_refund_no, transaction_id, refund_id, amount, state, outcome, reason,"
	        " received_at, received_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	        &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, n->id);
	db_bind_text(st, 3, n->event_type);
	db_bind_text(st, 4, null_if_empty(n->create_time));
	db_bind_text(st, 5, null_if_empty(n->out_trade_no));
	db_bind_text(st, 6, null_if_empty(n->out_refund_no));
	db_bind_text(st, 7, null_if_empty(n->transaction_id));
	db_bind_text(st, 8, null_if_empty(n->refund_id));
	if (n->has_amount)
		db_bind_i64(st, 9, n->amount);
	db_bind_text(st, 10, null_if_empty(n->state));
	db_bind_text(st, 11, n->outcome);
	db_bind_text(st, 12, null_if_empty(n->reason));
	db_bind_text(st, 13, at);
	db_bind_i64(st, 14, n->received_ts);
	return step_done(db, st, "record notification", err);
}

int payflow_db_notification_repeat(struct db *db, const char *mchid, const char *id, int64_t at_ts,
                                   struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char at[CLOCK_RFC3339_LEN];
	int r;

	time_format_rfc3339(at_ts, 0, at);
	r = db_prepare(db,
	               "UPDATE notifications SET repeats = repeats + 1, last_repeat_at = ?"
	               " WHERE mchid = ? AND id = ?",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, at);
	db_bind_text(st, 2, mchid);
	db_bind_text(st, 3, id);
	return step_done(db, st, "count a repeated notification", err);
}
