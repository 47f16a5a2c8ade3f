#include "db/db_bills.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "db/audit.h"

#define SAVEPOINT_NAME "db_bills"
#define PENDING_DATE   "pending" /* bill_date of the provisional bill_files row */
#define AUDIT_ACTOR    "wxrecon"

struct db_bills_writer {
	struct db *db;
	int own_tx; /* 1: BEGIN .. COMMIT; 0: SAVEPOINT .. RELEASE */
	int open;   /* the transaction / savepoint is open */
	char *bill_date;
	enum bill_kind kind;
	char *source;
	int64_t file_id;
	struct db_bulk *rows; /* the bill's rows: bill_trades or bill_fundflows */
	struct db_stmt *ins_reject;
};

/* ---- transactions that nest under the caller's ---- */

static int tx_begin(struct db *db, int *out_own, struct wxr_err *err)
{
	int r;

	if (db_tx_depth(db) == 0) {
		r = db_begin(db, err);
		if (r < 0)
			return r;
		*out_own = 1;
		return 0;
	}
	r = db_savepoint(db, SAVEPOINT_NAME, err);
	if (r < 0)
		return r;
	*out_own = 0;
	return 0;
}

static int tx_commit(struct db *db, int own, struct wxr_err *err)
{
	if (own)
		return db_commit(db, err);
	return db_release(db, SAVEPOINT_NAME, err);
}

static void tx_rollback(struct db *db, int own)
{
	if (own) {
		db_rollback(db);
		return;
	}
	db_rollback_to(db, SAVEPOINT_NAME);
}

/* ---- binding (strings live until the step returns: not copied) ---- */

static void bt(struct db_stmt *st, int i, const char *s)
{
	if (s)
		db_bind_text_ref(st, i, s, -1);
	else
		db_bind_null(st, i);
}

static void bi(struct db_stmt *st, int i, int64_t v)
{
	db_bind_i64(st, i, v);
}

static int step_done(struct db *db, struct db_stmt *st, const char *what, struct wxr_err *err)
{
	int r = db_step(st);

	if (r != DB_DONE) {
		db_error(db, err, what);
		db_reset(st);
		return err ? err->code : WXR_EDB;
	}
	db_reset(st);
	return 0;
}

static int now_text(char out[CLOCK_RFC3339_LEN], struct wxr_err *err)
{
	int64_t now;
	int r = clock_now(&now, err);

	if (r < 0)
		return r;
	time_format_rfc3339(now, 0, out);
	return 0;
}

/* Finds the bill of (mchid, date, kind) other than except_id. Returns 1 with
 * its id and sha1 (may be ""), 0 if none. */
static int find_old(struct db *db, const char *mchid, const char *date, const char *kind,
                    int64_t except_id, int64_t *out_id, char out_sha1[DB_BILLS_SHA1_LEN],
                    struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(
	        db,
	        "SELECT id, sha1 FROM bill_files WHERE mchid = ? AND bill_date = ? AND kind = ?"
	        " AND id <> ?",
	        &st, err);
	if (r < 0)
		return r;
	bt(st, 1, mchid);
	bt(st, 2, date);
	bt(st, 3, kind);
	bi(st, 4, except_id);
	r = db_step(st);
	if (r == DB_ROW) {
		*out_id = db_col_i64(st, 0);
		snprintf(out_sha1, DB_BILLS_SHA1_LEN, "%s", db_col_text(st, 1));
		r = 1;
	} else if (r == DB_DONE) {
		r = 0;
	} else {
		r = db_error(db, err, "read bill_files");
	}
	db_finalize(st);
	return r;
}

static int delete_file(struct db *db, int64_t id, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db, "DELETE FROM bill_files WHERE id = ?", &st, err);
	if (r < 0)
		return r;
	bi(st, 1, id);
	r = step_done(db, st, "delete the old bill", err);
	db_finalize(st);
	return r;
}

/* ---- queries ---- */

int db_bills_get(struct db *db, const char *mchid, const char *bill_date, enum bill_kind kind,
                 struct db_bills_file *out, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	struct db_bills_file f;
	int r;

	r = db_prepare(db,
	               "SELECT id, status, sha1, rows, rejects, bytes, layout, source, fetched_at,"
	               " summary_mismatch IS NULL, pruned_at IS NOT NULL, archive_path"
	               " FROM bill_files WHERE mchid = ? AND bill_date = ? AND kind = ?",
	               &st, err);
	if (r < 0)
		return r;
	bt(st, 1, mchid);
	bt(st, 2, bill_date);
	bt(st, 3, billparse_kind_name(kind));
	r = db_step(st);
	if (r == DB_DONE) {
		r = 0;
		goto out;
	}
	if (r != DB_ROW) {
		r = db_error(db, err, "read bill_files");
		goto out;
	}
	memset(&f, 0, sizeof(f));
	f.id = db_col_i64(st, 0);
	snprintf(f.status, sizeof(f.status), "%s", db_col_text(st, 1));
	snprintf(f.sha1, sizeof(f.sha1), "%s", db_col_text(st, 2));
	f.rows = db_col_i64(st, 3);
	f.rejects = db_col_i64(st, 4);
	f.bytes = db_col_i64(st, 5);
	snprintf(f.layout, sizeof(f.layout), "%s", db_col_text(st, 6));
	snprintf(f.source, sizeof(f.source), "%s", db_col_text(st, 7));
	snprintf(f.fetched_at, sizeof(f.fetched_at), "%s", db_col_text(st, 8));
	f.summary_ok = (int)db_col_i64(st, 9) != 0;
	f.pruned = (int)db_col_i64(st, 10) != 0;
	if (!db_col_is_null(st, 11))
		snprintf(f.archive_path, sizeof(f.archive_path), "%s", db_col_text(st, 11));
	*out = f;
	r = 1;
out:
	db_finalize(st);
	return r;
}

static int check_source(const char *source, struct wxr_err *err)
{
	if (!source || (strcmp(source, "api") != 0 && strcmp(source, "import") != 0))
		return err_set(err, WXR_EFAIL, "bill source '%s' is neither 'api' nor 'import'",
		               source ? source : "(null)");
	return 0;
}

static int check_args(const char *bill_date, enum bill_kind kind, const char *source,
                      struct wxr_err *err)
{
	if (!bill_date || !date_is_valid(bill_date))
		return err_set(err, WXR_EUSAGE, "bad bill date '%s' (want YYYY-MM-DD)",
		               bill_date ? bill_date : "(null)");
	if (kind != BILL_KIND_TRADE && kind != BILL_KIND_FUNDFLOW)
		return err_set(err, WXR_EFAIL, "bill kind %d is neither trade nor fundflow",
		               (int)kind);
	return check_source(source, err);
}

int db_bills_store_empty(struct db *db, const char *mchid, const char *bill_date,
                         enum bill_kind kind, const char *source, int64_t run_id,
                         struct wxr_err *err)
{
	const char *kname = billparse_kind_name(kind);
	struct db_stmt *st = NULL;
	struct buf detail = BUF_INIT;
	struct buf subject = BUF_INIT;
	char now[CLOCK_RFC3339_LEN];
	char old_sha1[DB_BILLS_SHA1_LEN] = "";
	int64_t old_id = 0;
	int own = 0, open = 0;
	int replaced;
	int r;

	if (!mchid)
		mchid = "";
	r = check_args(bill_date, kind, source, err);
	if (r < 0)
		return r;
	r = now_text(now, err);
	if (r < 0)
		return r;
	r = tx_begin(db, &own, err);
	if (r < 0)
		return r;
	open = 1;
	r = find_old(db, mchid, bill_date, kname, 0, &old_id, old_sha1, err);
	if (r < 0)
		goto out;
	replaced = r;
	if (replaced) {
		r = delete_file(db, old_id, err);
		if (r < 0)
			goto out;
	}
	r = db_prepare(
	        db,
	        "INSERT INTO bill_files (mchid, bill_date, kind, status, bytes, rows, rejects,"
	        " source, fetched_at) VALUES (?, ?, ?, 'empty', 0, 0, 0, ?, ?)",
	        &st, err);
	if (r < 0)
		goto out;
	bt(st, 1, mchid);
	bt(st, 2, bill_date);
	bt(st, 3, kname);
	bt(st, 4, source);
	bt(st, 5, now);
	r = step_done(db, st, "insert bill_files", err);
	if (r < 0)
		goto out;

	buf_adds(&detail, "{\"mchid\":");
	buf_add_json_str(&detail, mchid);
	buf_addf(&detail, ",\"date\":\"%s\",\"kind\":\"%s\",\"status\":\"empty\",\"source\":\"%s\"",
	         bill_date, kname, source);
	buf_adds(&detail, ",\"replaced_sha1\":");
	if (replaced)
		buf_add_json_str(&detail, old_sha1);
	else
		buf_adds(&detail, "null");
	buf_addc(&detail, '}');
	buf_addf(&subject, "%s %s %s", kname, mchid, bill_date);
	r = audit_append(db, run_id, AUDIT_ACTOR, replaced ? "bill.replace" : "bill.store",
	                 buf_str(&subject), buf_str(&detail), err);
	if (r < 0)
		goto out;
	r = tx_commit(db, own, err);
	if (r < 0 && !own)
		tx_rollback(db, 0);
	open = 0;
out:
	db_finalize(st);
	if (open && r < 0)
		tx_rollback(db, own);
	buf_release(&detail);
	buf_release(&subject);
	if (r < 0)
		return err_prefix(err, "store empty %s bill of %s", kname, bill_date);
	return 0;
}

/* ---- the writer ---- */

/* The rows go in through a bulk load (COPY where the backend has it). */
static const char TRADE_COLS[] =
        "file_id, line, mchid, bill_date, trade_time, appid, sub_mchid,"
        " device_info, transaction_id, out_trade_no, openid, trade_type, row_kind, bank_type,"
        " currency, settlement_amount, coupon_amount, refund_id, out_refund_no, refund_amount,"
        " recharge_refund_amount, refund_type, refund_status, description, attach, fee, rate,"
        " order_amount, refund_apply_amount, rate_note, refund_apply_time, refund_success_time";

static const char FUND_COLS[] =
        "file_id, line, mchid, bill_date, booked_at, biz_no, flow_no,"
        " biz_name, biz_type, direction, amount, balance, applicant, remark, voucher_no";

static const char SQL_REJECT[] =
        "INSERT INTO bill_rejects (file_id, line, raw, reason) VALUES (?, ?, ?, ?)";

int db_bills_writer_begin(struct db *db, const char *bill_date, enum bill_kind kind,
                          const char *source, struct db_bills_writer **out_w, struct wxr_err *err)
{
	struct db_bills_writer *w = NULL;
	struct db_stmt *st = NULL;
	int r;

	r = check_args(bill_date, kind, source, err);
	if (r < 0)
		return r;
	w = xcalloc(1, sizeof(*w));
	w->db = db;
	w->bill_date = xstrdup(bill_date);
	w->kind = kind;
	w->source = xstrdup(source);
	r = tx_begin(db, &w->own_tx, err);
	if (r < 0)
		goto out;
	w->open = 1;
	/* Peak RSS of a 1M-row bill import: 42 MiB with it, 16 MiB without. */
	r = db_bulk_cache(db, err);
	if (r < 0)
		goto out;
	/* The provisional row: its (mchid, date) are set at commit, once the
	 * bill's own 商户号 is known, after the old bill is deleted. */
	r = db_prepare(db,
	               "INSERT INTO bill_files (mchid, bill_date, kind, status, source, fetched_at)"
	               " VALUES ('', '" PENDING_DATE "', ?, 'ok', ?, '') RETURNING id",
	               &st, err);
	if (r < 0)
		goto out;
	bt(st, 1, billparse_kind_name(kind));
	bt(st, 2, source);
	if (db_step(st) != DB_ROW) {
		r = db_error(db, err, "insert bill_files");
		if (r == WXR_EUNIQUE)
			r = err_set(err, WXR_EDB,
			            "another %s bill is being stored on this connection",
			            billparse_kind_name(kind));
		goto out;
	}
	w->file_id = db_col_i64(st, 0);
	if (kind == BILL_KIND_TRADE)
		r = db_bulk_begin(db, "bill_trades", TRADE_COLS, &w->rows, err);
	else
		r = db_bulk_begin(db, "bill_fundflows", FUND_COLS, &w->rows, err);
	if (r < 0)
		goto out;
	r = db_prepare(db, SQL_REJECT, &w->ins_reject, err);
	if (r < 0)
		goto out;
	r = 0;
out:
	db_finalize(st);
	if (r < 0) {
		db_bills_writer_free(w);
		return err_prefix(err, "store %s bill of %s", billparse_kind_name(kind), bill_date);
	}
	*out_w = w;
	return 0;
}

int db_bills_writer_trade(struct db_bills_writer *w, int64_t line, const char *mchid,
                          const struct bill_trade *t, struct wxr_err *err)
{
	struct db_stmt *st;

	if (w->kind != BILL_KIND_TRADE || !w->rows)
		return err_set(err, WXR_EFAIL, "bill writer: a trade row for a %s writer",
		               billparse_kind_name(w->kind));
	st = db_bulk_stmt(w->rows);
	bi(st, 1, w->file_id);
	bi(st, 2, line);
	bt(st, 3, mchid ? mchid : "");
	bt(st, 4, w->bill_date);
	bt(st, 5, t->trade_time);
	bt(st, 6, t->appid);
	bt(st, 7, t->sub_mchid);
	bt(st, 8, t->device_info);
	bt(st, 9, t->transaction_id);
	bt(st, 10, t->out_trade_no);
	bt(st, 11, t->openid);
	bt(st, 12, t->trade_type);
	bt(st, 13, billparse_row_kind_name(t->row_kind));
	bt(st, 14, t->bank_type);
	bt(st, 15, t->currency);
	bi(st, 16, t->settlement_amount);
	bi(st, 17, t->coupon_amount);
	bt(st, 18, t->refund_id);
	bt(st, 19, t->out_refund_no);
	bi(st, 20, t->refund_amount);
	bi(st, 21, t->recharge_refund_amount);
	bt(st, 22, t->refund_type);
	bt(st, 23, t->refund_status);
	bt(st, 24, t->description);
	bt(st, 25, t->attach);
	bi(st, 26, t->fee);
	bt(st, 27, t->rate);
	bi(st, 28, t->order_amount);
	bi(st, 29, t->refund_apply_amount);
	bt(st, 30, t->rate_note);
	bt(st, 31, t->refund_apply_time);
	bt(st, 32, t->refund_success_time);
	if (db_bulk_row(w->rows, err) < 0)
		return err_prefix(err, "line %lld", (long long)line);
	return 0;
}

int db_bills_writer_fundflow(struct db_bills_writer *w, int64_t line, const char *mchid,
                             const struct bill_fundflow *f, struct wxr_err *err)
{
	struct db_stmt *st;

	if (w->kind == BILL_KIND_TRADE || !w->rows)
		return err_set(err, WXR_EFAIL, "bill writer: a fundflow row for a %s writer",
		               billparse_kind_name(w->kind));
	st = db_bulk_stmt(w->rows);
	bi(st, 1, w->file_id);
	bi(st, 2, line);
	bt(st, 3, mchid ? mchid : "");
	bt(st, 4, w->bill_date);
	bt(st, 5, f->booked_at);
	bt(st, 6, f->biz_no);
	bt(st, 7, f->flow_no);
	bt(st, 8, f->biz_name);
	bt(st, 9, f->biz_type);
	bt(st, 10, billparse_direction_name(f->direction));
	bi(st, 11, f->amount);
	bi(st, 12, f->balance);
	bt(st, 13, f->applicant);
	bt(st, 14, f->remark);
	bt(st, 15, f->voucher_no);
	if (db_bulk_row(w->rows, err) < 0)
		return err_prefix(err, "line %lld", (long long)line);
	return 0;
}

int db_bills_writer_reject(struct db_bills_writer *w, int64_t line, const char *raw, size_t raw_len,
                           const char *reason, struct wxr_err *err)
{
	struct db_stmt *st = w->ins_reject;

	bi(st, 1, w->file_id);
	bi(st, 2, line);
	db_bind_text_ref(st, 3, raw ? raw : "", raw ? (ptrdiff_t)raw_len : 0);
	bt(st, 4, reason);
	if (step_done(w->db, st, "insert bill_rejects", err) < 0)
		return err_prefix(err, "line %lld", (long long)line);
	return 0;
}

static int insert_summary(struct db_bills_writer *w, const struct billparse_result *res,
                          struct wxr_err *err)
{
	const struct bill_totals *s = &res->summary;
	struct db_stmt *st = NULL;
	int r;

	if (w->kind == BILL_KIND_TRADE) {
		r = db_prepare(
		        w->db,
		        "INSERT INTO bill_trade_summary (file_id, total_count, settlement_total,"
		        " refund_total, recharge_refund_total, fee_total, order_total,"
		        " refund_apply_total) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		        &st, err);
		if (r < 0)
			return r;
		bi(st, 1, w->file_id);
		bi(st, 2, s->count);
		bi(st, 3, s->settlement);
		bi(st, 4, s->refund);
		bi(st, 5, s->recharge_refund);
		bi(st, 6, s->fee);
		bi(st, 7, s->order);
		bi(st, 8, s->refund_apply);
	} else {
		r = db_prepare(
		        w->db,
		        "INSERT INTO bill_fundflow_summary (file_id, total_count, income_count,"
		        " income_amount, expense_count, expense_amount) VALUES (?, ?, ?, ?, ?, ?)",
		        &st, err);
		if (r < 0)
			return r;
		bi(st, 1, w->file_id);
		bi(st, 2, s->count);
		bi(st, 3, s->income_count);
		bi(st, 4, s->income);
		bi(st, 5, s->expense_count);
		bi(st, 6, s->expense);
	}
	r = step_done(w->db, st, "insert the bill summary", err);
	db_finalize(st);
	return r;
}

int db_bills_writer_commit(struct db_bills_writer *w, const struct db_bills_final *f,
                           int64_t *out_file_id, bool *out_replaced, struct wxr_err *err)
{
	const char *kname = billparse_kind_name(w->kind);
	const char *mchid = f->mchid ? f->mchid : "";
	struct db_stmt *st = NULL;
	struct buf detail = BUF_INIT;
	struct buf subject = BUF_INIT;
	char now[CLOCK_RFC3339_LEN];
	char old_sha1[DB_BILLS_SHA1_LEN] = "";
	int64_t old_id = 0;
	int replaced = 0;
	int r;

	if (!w->open)
		return err_set(err, WXR_EFAIL, "bill writer: commit without an open transaction");
	if (f->res->kind != w->kind)
		return err_set(err, WXR_EFAIL, "bill writer: a %s bill for a %s writer",
		               billparse_kind_name(f->res->kind), kname);
	/* the rows are all in before anything reads them */
	r = db_bulk_end(w->rows, err);
	w->rows = NULL;
	if (r < 0)
		goto out;
	r = now_text(now, err);
	if (r < 0)
		goto out;
	r = find_old(w->db, mchid, w->bill_date, kname, w->file_id, &old_id, old_sha1, err);
	if (r < 0)
		goto out;
	replaced = r;
	if (replaced) {
		r = delete_file(w->db, old_id, err);
		if (r < 0)
			goto out;
	}
	r = db_prepare(
	        w->db,
	        "UPDATE bill_files SET mchid = ?, bill_date = ?, status = 'ok', layout = ?,"
	        " sha1 = ?, bytes = ?, rows = ?, rejects = ?, archive_path = ?, fetched_at = ?,"
	        " summary_mismatch = ? WHERE id = ?",
	        &st, err);
	if (r < 0)
		goto out;
	bt(st, 1, mchid);
	bt(st, 2, w->bill_date);
	bt(st, 3, billparse_layout_name(f->res->layout));
	bt(st, 4, f->sha1);
	bi(st, 5, f->bytes);
	bi(st, 6, f->res->rows);
	bi(st, 7, f->res->rejects);
	bt(st, 8, f->archive_path);
	bt(st, 9, now);
	bt(st, 10, f->summary_mismatch);
	bi(st, 11, w->file_id);
	r = step_done(w->db, st, "update bill_files", err);
	if (r < 0)
		goto out;
	r = insert_summary(w, f->res, err);
	if (r < 0)
		goto out;

	buf_adds(&detail, "{\"mchid\":");
	buf_add_json_str(&detail, mchid);
	buf_addf(&detail,
	         ",\"date\":\"%s\",\"kind\":\"%s\",\"status\":\"ok\",\"source\":\"%s\","
	         "\"layout\":\"%s\",\"sha1\":",
	         w->bill_date, kname, w->source, billparse_layout_name(f->res->layout));
	buf_add_json_str(&detail, f->sha1);
	buf_addf(&detail, ",\"bytes\":%lld,\"rows\":%lld,\"rejects\":%lld,\"summary_ok\":%s",
	         (long long)f->bytes, (long long)f->res->rows, (long long)f->res->rejects,
	         f->summary_mismatch ? "false" : "true");
	buf_adds(&detail, ",\"replaced_sha1\":");
	if (replaced)
		buf_add_json_str(&detail, old_sha1);
	else
		buf_adds(&detail, "null");
	buf_addc(&detail, '}');
	buf_addf(&subject, "%s %s %s", kname, mchid, w->bill_date);
	r = audit_append(w->db, f->run_id, AUDIT_ACTOR, replaced ? "bill.replace" : "bill.store",
	                 buf_str(&subject), buf_str(&detail), err);
	if (r < 0)
		goto out;

	/* the statements must be finalized before COMMIT/RELEASE */
	db_finalize(w->ins_reject);
	w->ins_reject = NULL;
	r = tx_commit(w->db, w->own_tx, err);
	if (r < 0) {
		/* db_commit rolled back already; a savepoint is still open */
		if (!w->own_tx)
			tx_rollback(w->db, 0);
		w->open = 0;
		goto out;
	}
	w->open = 0;
	if (out_file_id)
		*out_file_id = w->file_id;
	if (out_replaced)
		*out_replaced = replaced;
out:
	db_finalize(st);
	buf_release(&detail);
	buf_release(&subject);
	if (r < 0) {
		if (w->open) {
			db_bulk_end(w->rows, NULL);
			db_finalize(w->ins_reject);
			w->rows = NULL;
			w->ins_reject = NULL;
			tx_rollback(w->db, w->own_tx);
			w->open = 0;
		}
		return err_prefix(err, "store %s bill of %s", kname, w->bill_date);
	}
	return 0;
}

struct db_bills_writer *db_bills_writer_free(struct db_bills_writer *w)
{
	if (!w)
		return NULL;
	db_bulk_end(w->rows, NULL);
	db_finalize(w->ins_reject);
	if (w->open)
		tx_rollback(w->db, w->own_tx);
	free(w->bill_date);
	free(w->source);
	free(w);
	return NULL;
}

/* ---- prune ---- */

int db_bills_prune_list(struct db *db, const char *mchid, const char *before,
                        int (*cb)(void *arg, const struct db_prune_file *f, struct wxr_err *err),
                        void *arg, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "SELECT id, bill_date, kind, rows, coalesce(sha1, ''), archive_path"
	               " FROM bill_files WHERE (?1 = '' OR mchid = ?1) AND bill_date < ?2"
	               " AND status = 'ok' AND pruned_at IS NULL ORDER BY bill_date, kind, id",
	               &st, err);
	if (r < 0)
		return r;
	bt(st, 1, mchid ? mchid : "");
	bt(st, 2, before);
	while ((r = db_step(st)) == DB_ROW) {
		struct db_prune_file f;

		memset(&f, 0, sizeof(f));
		f.id = db_col_i64(st, 0);
		snprintf(f.date, sizeof(f.date), "%s", db_col_text(st, 1));
		snprintf(f.kind, sizeof(f.kind), "%s", db_col_text(st, 2));
		f.rows = db_col_i64(st, 3);
		snprintf(f.sha1, sizeof(f.sha1), "%s", db_col_text(st, 4));
		f.archive_path = db_col_is_null(st, 5) ? NULL : db_col_text(st, 5);
		r = cb(arg, &f, err);
		if (r < 0)
			goto out;
	}
	r = r == DB_DONE ? 0 : db_error(db, err, "read bill_files");
out:
	db_finalize(st);
	return r;
}

static int exec_id(struct db *db, const char *sql, int64_t id, const char *now, int64_t *changes,
                   const char *what, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r = db_prepare(db, sql, &st, err);

	if (r < 0)
		return r;
	db_bind_i64(st, 1, id);
	if (now)
		bt(st, 2, now);
	r = db_step(st) == DB_DONE ? 0 : db_error(db, err, what);
	if (r == 0 && changes)
		*changes += db_changes(db);
	db_finalize(st);
	return r;
}

int db_bills_prune_file(struct db *db, int64_t id, const char *now, int64_t *out_rows,
                        struct wxr_err *err)
{
	/* The totals the report sums from the rows (db_report_trades), kept with the file. */
	static const char keep_sql[] =
	        "UPDATE bill_files SET pruned_at = ?2,"
	        " pruned_pay_count = (SELECT COUNT(*) FROM bill_trades t"
	        "  WHERE t.file_id = ?1 AND t.row_kind = 'SUCCESS'),"
	        " pruned_pay = (SELECT coalesce(SUM(t.settlement_amount), 0) FROM bill_trades t"
	        "  WHERE t.file_id = ?1 AND t.row_kind = 'SUCCESS'),"
	        " pruned_refund_count = (SELECT COUNT(*) FROM bill_trades t"
	        "  WHERE t.file_id = ?1 AND t.row_kind = 'REFUND'),"
	        " pruned_refund = (SELECT coalesce(SUM(t.refund_amount), 0) FROM bill_trades t"
	        "  WHERE t.file_id = ?1 AND t.row_kind = 'REFUND'),"
	        " pruned_fee = (SELECT coalesce(SUM(t.fee), 0) FROM bill_trades t"
	        "  WHERE t.file_id = ?1)"
	        " WHERE id = ?1 AND pruned_at IS NULL";
	int64_t rows = 0;
	int r;

	r = exec_id(db, keep_sql, id, now, NULL, "keep the totals of a pruned bill", err);
	if (r < 0)
		return r;
	r = exec_id(db, "DELETE FROM bill_trades WHERE file_id = ?", id, NULL, &rows,
	            "prune bill_trades", err);
	if (r < 0)
		return r;
	r = exec_id(db, "DELETE FROM bill_fundflows WHERE file_id = ?", id, NULL, &rows,
	            "prune bill_fundflows", err);
	if (r < 0)
		return r;
	*out_rows = rows;
	return 0;
}
