/*
 * recon-fixture.h - helpers for the reconcile tests: an in-memory database
 * and small functions that insert ledger and bill rows with SQL. Included
 * by t-reconcile*.c only (static functions, unused ones are fine).
 */
#ifndef WXR_RECON_FIXTURE_H
#define WXR_RECON_FIXTURE_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "core/reconcile.h"
#include "db/db.h"

#define MCH "1900000001"

#define FX_UNUSED __attribute__((unused))

FX_UNUSED static struct db *fx_open(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct db *db = NULL;

	if (db_open(":memory:", &db, &err) < 0 || db_migrate(db, NULL, &err) < 0) {
		fprintf(stderr, "fixture: %s\n", err.msg);
		exit(99);
	}
	return db;
}

FX_UNUSED static void sqlf(struct db *db, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
FX_UNUSED static void sqlf(struct db *db, const char *fmt, ...)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (db_exec(db, buf_str(&b), &err) < 0) {
		fprintf(stderr, "fixture SQL failed: %s\n  %s\n", err.msg, buf_str(&b));
		exit(99);
	}
	buf_release(&b);
}

/* The first column of the first row as an integer (-1 when no row). */
FX_UNUSED static int64_t qint(struct db *db, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
FX_UNUSED static int64_t qint(struct db *db, const char *fmt, ...)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct buf b = BUF_INIT;
	struct db_stmt *st = NULL;
	int64_t v = -1;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (db_prepare(db, buf_str(&b), &st, &err) < 0) {
		fprintf(stderr, "fixture SQL failed: %s\n  %s\n", err.msg, buf_str(&b));
		exit(99);
	}
	if (db_step(st) == DB_ROW && !db_col_is_null(st, 0))
		v = db_col_i64(st, 0);
	db_finalize(st);
	buf_release(&b);
	return v;
}

/* The first column of the first row as text into a rotating buffer ("(none)"
 * when no row, "(null)" for NULL). */
FX_UNUSED static const char *qstr(struct db *db, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
FX_UNUSED static const char *qstr(struct db *db, const char *fmt, ...)
{
	static char ring[8][512];
	static int slot;
	struct wxr_err err = WXR_ERR_INIT;
	struct buf b = BUF_INIT;
	struct db_stmt *st = NULL;
	char *out = ring[slot++ % 8];
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (db_prepare(db, buf_str(&b), &st, &err) < 0) {
		fprintf(stderr, "fixture SQL failed: %s\n  %s\n", err.msg, buf_str(&b));
		exit(99);
	}
	snprintf(out, 512, "(none)");
	if (db_step(st) == DB_ROW)
		snprintf(out, 512, "%s", db_col_is_null(st, 0) ? "(null)" : db_col_text(st, 0));
	db_finalize(st);
	buf_release(&b);
	return out;
}

/* 'text' or NULL, quoted for SQL (fixture values have no quotes). */
FX_UNUSED static const char *q(const char *s)
{
	static char ring[16][256];
	static int slot;
	char *out = ring[slot++ % 16];

	if (!s)
		return "NULL";
	snprintf(out, 256, "'%s'", s);
	return out;
}

/* A ledger order; paid_at "YYYY-MM-DDTHH:MM:SS+08:00" or NULL; its date is
 * the paid_date. */
FX_UNUSED static void fx_order(struct db *db, const char *otn, const char *txn, int64_t amount,
                               const char *state, const char *paid_at, const char *bref)
{
	char date[11] = "";

	if (paid_at)
		snprintf(date, sizeof(date), "%.10s", paid_at);
	sqlf(db,
	     "INSERT INTO ledger_orders (mchid, out_trade_no, transaction_id, amount_total, state,"
	     " created_at, created_ts, paid_at, paid_ts, paid_date, business_ref, updated_at)"
	     " VALUES ('" MCH "', '%s', %s, %" PRId64 ", '%s', '2026-10-31T12:00:00+08:00', 0, %s,"
	     " NULL, %s, %s, 'fixture')",
	     otn, q(txn), amount, state, q(paid_at), paid_at ? q(date) : "NULL", q(bref));
}

FX_UNUSED static void fx_refund(struct db *db, const char *orn, const char *otn, const char *rid,
                                int64_t amount, const char *state, const char *created_date)
{
	sqlf(db,
	     "INSERT INTO ledger_refunds (mchid, out_refund_no, out_trade_no, refund_id,"
	     " amount_refund, state, created_at, created_ts, created_date, updated_at)"
	     " VALUES ('" MCH "', '%s', '%s', %s, %" PRId64 ", '%s', '%sT12:00:00+08:00', 0, '%s',"
	     " 'fixture')",
	     orn, otn, q(rid), amount, state, created_date, created_date);
}

FX_UNUSED static int64_t fx_bill(struct db *db, const char *date, const char *kind,
                                 const char *status)
{
	sqlf(db,
	     "INSERT INTO bill_files (mchid, bill_date, kind, status, source, fetched_at)"
	     " VALUES ('" MCH "', '%s', '%s', '%s', 'import', '2026-11-02T10:00:00+08:00')",
	     date, kind, status);
	return qint(db,
	            "SELECT id FROM bill_files WHERE mchid = '" MCH "' AND bill_date = '%s'"
	            " AND kind = '%s'",
	            date, kind);
}

/* A SUCCESS row: 应结订单金额 = 订单金额 = amount; fee in 0.00001 yuan. */
FX_UNUSED static void fx_pay(struct db *db, int64_t file, int line, const char *date,
                             const char *hms, const char *txn, const char *otn, int64_t amount,
                             int64_t fee)
{
	sqlf(db,
	     "INSERT INTO bill_trades (file_id, line, mchid, bill_date, trade_time, transaction_id,"
	     " out_trade_no, trade_type, row_kind, currency, settlement_amount, refund_id,"
	     " out_refund_no, fee, order_amount)"
	     " VALUES (%" PRId64 ", %d, '" MCH "', '%s', '%sT%s+08:00', '%s', '%s', 'APP',"
	     " 'SUCCESS',"
	     " 'CNY', %" PRId64 ", '0', '0', %" PRId64 ", %" PRId64 ")",
	     file, line, date, date, hms, txn, otn, amount, fee, amount);
}

/* A REFUND row: 退款金额 = 申请退款金额 = amount, 应结/订单金额 0. */
FX_UNUSED static void fx_bill_refund(struct db *db, int64_t file, int line, const char *date,
                                     const char *txn, const char *otn, const char *rid,
                                     const char *orn, int64_t amount, const char *status,
                                     int64_t fee)
{
	sqlf(db,
	     "INSERT INTO bill_trades (file_id, line, mchid, bill_date, trade_time, transaction_id,"
	     " out_trade_no, trade_type, row_kind, currency, refund_id, out_refund_no,"
	     " refund_amount, refund_status, fee, refund_apply_amount)"
	     " VALUES (%" PRId64 ", %d, '" MCH "', '%s', '%sT18:00:00+08:00', '%s', '%s', 'APP',"
	     " 'REFUND', 'CNY', '%s', '%s', %" PRId64 ", '%s', %" PRId64 ", %" PRId64 ")",
	     file, line, date, date, txn, otn, rid, orn, amount, status, fee, amount);
}

/* The trade bill's summary, equal to the sums of its rows. */
FX_UNUSED static void fx_trade_summary(struct db *db, int64_t file)
{
	sqlf(db,
	     "INSERT INTO bill_trade_summary (file_id, total_count, settlement_total, refund_total,"
	     " recharge_refund_total, fee_total, order_total, refund_apply_total)"
	     " SELECT %" PRId64 ", COUNT(*), COALESCE(SUM(settlement_amount), 0),"
	     " COALESCE(SUM(refund_amount), 0), COALESCE(SUM(recharge_refund_amount), 0),"
	     " COALESCE(SUM(fee), 0), COALESCE(SUM(order_amount), 0),"
	     " COALESCE(SUM(refund_apply_amount), 0) FROM bill_trades WHERE file_id = %" PRId64,
	     file, file);
}

/* A fund-flow line; dir "IN" or "OUT"; amounts in fen. */
FX_UNUSED static void fx_flow(struct db *db, int64_t file, int line, const char *date,
                              const char *biz_no, const char *biz_type, const char *dir,
                              int64_t amount, int64_t balance)
{
	sqlf(db,
	     "INSERT INTO bill_fundflows (file_id, line, mchid, bill_date, booked_at, biz_no,"
	     " flow_no, biz_name, biz_type, direction, amount, balance)"
	     " VALUES (%" PRId64 ", %d, '" MCH "', '%s', '%sT10:00:00+08:00', '%s', 'F%s-%d',"
	     " '交易',"
	     " '%s', '%s', %" PRId64 ", %" PRId64 ")",
	     file, line, date, date, biz_no, date, line, biz_type, dir, amount, balance);
}

FX_UNUSED static void fx_fund_summary(struct db *db, int64_t file)
{
	sqlf(db,
	     "INSERT INTO bill_fundflow_summary (file_id, total_count, income_count, income_amount,"
	     " expense_count, expense_amount)"
	     " SELECT %" PRId64 ", COUNT(*),"
	     " COALESCE(SUM(CASE WHEN direction = 'IN' THEN 1 ELSE 0 END), 0),"
	     " COALESCE(SUM(CASE WHEN direction = 'IN' THEN amount ELSE 0 END), 0),"
	     " COALESCE(SUM(CASE WHEN direction = 'OUT' THEN 1 ELSE 0 END), 0),"
	     " COALESCE(SUM(CASE WHEN direction = 'OUT' THEN amount ELSE 0 END), 0)"
	     " FROM bill_fundflows WHERE file_id = %" PRId64,
	     file, file);
}

/* Options for the tests: run id, now = 2026-11-05T12:00+08:00 (long after
 * every fixture day's release). */
FX_UNUSED static void fx_opts(struct recon_opts *o, int64_t run_id)
{
	recon_opts_init(o);
	o->mchid = MCH;
	o->run_id = run_id;
	o->now_ts = 1793851200; /* 2026-11-05T12:00:00+08:00 */
}

#endif
