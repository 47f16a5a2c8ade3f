/*
 * db_exceptions.c - every SQL statement of the exception queue.
 *
 * Portable SQL only (SPEC 10): plain '?' placeholders, COALESCE, no date
 * functions (ages and due dates are computed in C from base/clock.h).
 */
#include "db/db_exceptions.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"

/* Steps a statement that returns no rows, then frees it. */
static int run_once(struct db *db, struct db_stmt *st, const char *what, struct wxr_err *err)
{
	int r = db_step(st);

	r = r == DB_DONE ? 0 : db_error(db, err, what);
	db_finalize(st);
	return r;
}

/* The queue's listing; with q->report, the report's two columns more (20, 21). */
#define EXC_LIST_SELECT                                                         \
	"SELECT d.id, d.mchid, d.date, d.kind, d.key, d.out_trade_no,"          \
	" d.out_refund_no, d.transaction_id, d.ledger_amount, d.bill_amount,"   \
	" d.ledger_state, d.bill_state, d.status, d.resolution, d.resolved_by," \
	" d.assignee, d.created_at,"                                            \
	" (SELECT o.paid_ts FROM ledger_orders o"                               \
	"   WHERE o.mchid = d.mchid AND o.out_trade_no = d.out_trade_no),"      \
	" (SELECT MIN(t.trade_time) FROM bill_trades t"                         \
	"   WHERE t.mchid = d.mchid AND t.out_trade_no = d.out_trade_no"        \
	"   AND t.row_kind = 'SUCCESS'),"                                       \
	" (SELECT COUNT(*) FROM discrepancy_comments c WHERE c.discrepancy_id = d.id)"
#define EXC_LIST_REPORT                                                                       \
	", d.detail,"                                                                         \
	" (SELECT t.description FROM bill_trades t WHERE t.transaction_id = d.transaction_id" \
	"  ORDER BY CASE WHEN t.row_kind = 'SUCCESS' THEN 0 ELSE 1 END, t.file_id, t.line"    \
	"  LIMIT 1)"
#define EXC_LIST_WHERE                                                             \
	" FROM discrepancies d"                                                    \
	" WHERE (? = '' OR d.mchid = ?) AND d.date >= ? AND d.date <= ?"           \
	" AND (? = 'all' OR (? = 'open' AND d.status = 'open')"                    \
	"      OR (? = 'resolved' AND d.status IN ('resolved', 'auto_resolved')))" \
	" AND (? = '' OR d.kind = ?)"                                              \
	" AND (? = 0 OR (? = 1 AND d.assignee IS NULL)"                            \
	"      OR (? = 2 AND d.assignee = ?))"                                     \
	" AND (? = 0 OR d.id = ?)"                                                 \
	" ORDER BY d.date, d.id"

int db_exc_list(struct db *db, const struct db_exc_query *q,
                int (*cb)(void *ctx, const struct db_exc_row *row, struct wxr_err *err), void *ctx,
                struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	const char *mchid = q->mchid ? q->mchid : "";
	const char *kind = q->kind ? q->kind : "";
	int amode = !q->assignee ? 0 : !*q->assignee ? 1 : 2;
	int i = 1;
	int r;

	r = db_prepare(db,
	               q->report ? EXC_LIST_SELECT EXC_LIST_REPORT EXC_LIST_WHERE
	                         : EXC_LIST_SELECT EXC_LIST_WHERE,
	               &st, err);
	if (r < 0)
		return r;

	db_bind_text(st, i++, mchid);
	db_bind_text(st, i++, mchid);
	db_bind_text(st, i++, q->from ? q->from : "0000-00-00");
	db_bind_text(st, i++, q->to ? q->to : "9999-99-99");
	for (int k = 0; k < 3; k++)
		db_bind_text(st, i++, q->status);
	db_bind_text(st, i++, kind);
	db_bind_text(st, i++, kind);
	for (int k = 0; k < 3; k++)
		db_bind_i64(st, i++, amode);
	db_bind_text(st, i++, q->assignee ? q->assignee : "");
	db_bind_i64(st, i++, q->id);
	db_bind_i64(st, i++, q->id);
	while ((r = db_step(st)) == DB_ROW) {
		struct db_exc_row row;

		memset(&row, 0, sizeof(row));
		row.id = db_col_i64(st, 0);
		row.mchid = db_col_text(st, 1);
		row.date = db_col_text(st, 2);
		row.kind = db_col_text(st, 3);
		row.key = db_col_text(st, 4);
		row.out_trade_no = db_col_opt(st, 5);
		row.out_refund_no = db_col_opt(st, 6);
		row.transaction_id = db_col_opt(st, 7);
		row.has_ledger_amount = !db_col_is_null(st, 8);
		row.ledger_amount = db_col_i64(st, 8);
		row.has_bill_amount = !db_col_is_null(st, 9);
		row.bill_amount = db_col_i64(st, 9);
		row.ledger_state = db_col_opt(st, 10);
		row.bill_state = db_col_opt(st, 11);
		row.status = db_col_text(st, 12);
		row.resolution = db_col_opt(st, 13);
		row.resolved_by = db_col_opt(st, 14);
		row.assignee = db_col_opt(st, 15);
		row.created_at = db_col_text(st, 16);
		row.has_paid_ts = !db_col_is_null(st, 17);
		row.paid_ts = db_col_i64(st, 17);
		row.bill_paid_time = db_col_opt(st, 18);
		row.comments = db_col_i64(st, 19);
		if (q->report) {
			row.detail = db_col_opt(st, 20);
			row.description = db_col_opt(st, 21);
		}
		r = cb(ctx, &row, err);
		if (r < 0)
			goto out;
	}
	r = r == DB_DONE ? 0 : db_error(db, err, "read discrepancies");
out:
	db_finalize(st);
	return r;
}

int db_exc_get(struct db *db, const char *mchid, int64_t id, struct db_exc_brief *out,
               struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "SELECT date, kind, key, status, assignee FROM discrepancies"
	               " WHERE id = ? AND (? = '' OR mchid = ?)",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_i64(st, 1, id);
	db_bind_text(st, 2, mchid ? mchid : "");
	db_bind_text(st, 3, mchid ? mchid : "");
	r = db_step(st);
	if (r == DB_ROW) {
		out->date = xstrdup(db_col_text(st, 0));
		out->kind = xstrdup(db_col_text(st, 1));
		out->key = xstrdup(db_col_text(st, 2));
		out->status = xstrdup(db_col_text(st, 3));
		out->assignee = db_col_dup(st, 4);
		r = 0;
	} else if (r == DB_DONE) {
		r = err_set(err, WXR_ENOTFOUND, "no discrepancy %lld", (long long)id);
	} else {
		r = db_error(db, err, "read discrepancy");
	}
	db_finalize(st);
	return r;
}

void db_exc_brief_release(struct db_exc_brief *b)
{
	if (!b)
		return;
	free(b->date);
	free(b->kind);
	free(b->key);
	free(b->status);
	free(b->assignee);
	memset(b, 0, sizeof(*b));
}

int db_exc_assign(struct db *db, int64_t id, const char *assignee, const char *previous,
                  const char *who, const char *now, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db, "UPDATE discrepancies SET assignee = ?, updated_at = ? WHERE id = ?",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, assignee);
	db_bind_text(st, 2, now);
	db_bind_i64(st, 3, id);
	r = run_once(db, st, "assign discrepancy", err);
	if (r < 0)
		return r;
	r = db_prepare(db,
	               "INSERT INTO discrepancy_assignments (discrepancy_id, at, who, assignee,"
	               " previous) VALUES (?, ?, ?, ?, ?)",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_i64(st, 1, id);
	db_bind_text(st, 2, now);
	db_bind_text(st, 3, who);
	db_bind_text(st, 4, assignee);
	db_bind_text(st, 5, previous);
	return run_once(db, st, "record assignment", err);
}

int db_exc_comment(struct db *db, int64_t id, const char *who, const char *now, const char *note,
                   struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "INSERT INTO discrepancy_comments (discrepancy_id, at, who, note)"
	               " VALUES (?, ?, ?, ?)",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_i64(st, 1, id);
	db_bind_text(st, 2, now);
	db_bind_text(st, 3, who);
	db_bind_text(st, 4, note);
	return run_once(db, st, "record comment", err);
}

int db_exc_history(struct db *db, int64_t id,
                   int (*cb)(void *ctx, const struct db_exc_event *e, struct wxr_err *err),
                   void *ctx, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "SELECT 'comment' AS what, at, who, note AS text, NULL AS previous, id"
	               " FROM discrepancy_comments WHERE discrepancy_id = ?"
	               " UNION ALL"
	               " SELECT 'assign', at, who, assignee, previous, id"
	               " FROM discrepancy_assignments WHERE discrepancy_id = ?"
	               " ORDER BY 2, 1 DESC, 6",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_i64(st, 1, id);
	db_bind_i64(st, 2, id);
	while ((r = db_step(st)) == DB_ROW) {
		struct db_exc_event e = {
			.what = db_col_text(st, 0),
			.at = db_col_text(st, 1),
			.who = db_col_text(st, 2),
			.text = db_col_text(st, 3),
			.previous = db_col_opt(st, 4),
		};

		r = cb(ctx, &e, err);
		if (r < 0)
			goto out;
	}
	r = r == DB_DONE ? 0 : db_error(db, err, "read discrepancy history");
out:
	db_finalize(st);
	return r;
}
