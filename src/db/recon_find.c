/*
 * recon_find.c - the finders of the reconciliation engine (db_reconcile.h):
 * the day's facts, the set-based statements that find discrepancies, what
 * to ask WeChat Pay, findings computed in C, the bill summaries.
 *
 * The finders are set-based INSERT ... SELECT statements into the temp
 * table recon_found, each walking one day's rows once through indexes
 * (bill_trades by file, ledger orders by (mchid, paid_date), point lookups
 * by primary key or by the transaction_id / refund_id indexes). Nothing is
 * looked up row by row from C. The statements stay within portable SQL
 * (window functions, ON CONFLICT, UPDATE ... FROM, IS NOT DISTINCT FROM);
 * the fee rounding is the C function recon_fee_to_fen() registered as an
 * SQL function of the same name.
 */
#include "db/db_reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/money.h"
#include "base/xalloc.h"
#include "db/recon_sql.h"

#define PAID_STATES "('PAID','PARTIAL_REFUNDED','REFUNDED')"
#define FEE_PAY     "'扣除交易手续费'"
#define FEE_REFUND  "'退还交易手续费'"

/* ---- setup --------------------------------------------------------------- */

static const char temp_schema[] =
        "CREATE TEMP TABLE IF NOT EXISTS recon_found ("
        " kind TEXT NOT NULL, key TEXT NOT NULL, ledger_key TEXT,"
        " out_trade_no TEXT, out_refund_no TEXT, transaction_id TEXT,"
        " ledger_amount INTEGER, bill_amount INTEGER, ledger_state TEXT, bill_state TEXT,"
        " bill_time TEXT, detail TEXT, pending INTEGER NOT NULL DEFAULT 0,"
        " status TEXT NOT NULL DEFAULT 'open', resolution TEXT,"
        " PRIMARY KEY (kind, key));"
        "CREATE TEMP TABLE IF NOT EXISTS recon_ask ("
        " kind TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (kind, key));"
        "CREATE TEMP TABLE IF NOT EXISTS recon_answers ("
        " kind TEXT NOT NULL, key TEXT NOT NULL, ok INTEGER NOT NULL, state TEXT,"
        " amount INTEGER, ext_id TEXT, success_ts INTEGER, success_date TEXT,"
        " PRIMARY KEY (kind, key));"
        "CREATE TEMP TABLE IF NOT EXISTS recon_pay ("
        " key TEXT, line INTEGER, out_trade_no TEXT, transaction_id TEXT, trade_time TEXT,"
        " amt INTEGER, fee INTEGER, fee_fen INTEGER, fee_lines INTEGER, lkey TEXT, lstate TEXT,"
        " lamount INTEGER, bref TEXT, bref_dup INTEGER, txn_multi INTEGER);"
        "CREATE TEMP TABLE IF NOT EXISTS recon_ref ("
        " key TEXT, out_refund_no TEXT, refund_id TEXT, out_trade_no TEXT, transaction_id TEXT,"
        " amt INTEGER, bstatus TEXT, lkey TEXT, lstate TEXT, lamount INTEGER);"
        "CREATE TEMP TABLE IF NOT EXISTS recon_checked (kind TEXT PRIMARY KEY);"
        "CREATE TEMP TABLE IF NOT EXISTS recon_merge ("
        " kind TEXT NOT NULL, key TEXT NOT NULL, did INTEGER, old_status TEXT,"
        " new_status TEXT, event TEXT, same INTEGER,"
        " p_la INTEGER, p_ba INTEGER, p_ls TEXT, p_bs TEXT, PRIMARY KEY (kind, key));"
        "CREATE TEMP TABLE IF NOT EXISTS recon_events ("
        " seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL, event TEXT NOT NULL,"
        " p_la INTEGER, p_ba INTEGER, p_ls TEXT, p_bs TEXT);"
        "DELETE FROM recon_found; DELETE FROM recon_ask; DELETE FROM recon_answers;"
        "DELETE FROM recon_pay; DELETE FROM recon_ref; DELETE FROM recon_checked;"
        "DELETE FROM recon_merge; DELETE FROM recon_events;";

int db_recon_setup(struct db *db, struct wxr_err *err)
{
	int r;

	r = db_function_i64(db, "recon_fee_to_fen", money_fee_to_fen, err);
	if (r < 0)
		return r;
	r = db_exec(db, temp_schema, err);
	if (r < 0)
		return err_prefix(err, "reconcile work tables");
	return 0;
}

/* ---- day facts ------------------------------------------------------------ */

int db_recon_bill_file(struct db *db, const char *mchid, const char *date, const char *kind,
                       int64_t *out_id, char out_status[8], struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int64_t id = 0;
	char status[8] = "missing";
	int r;

	r = db_prepare(db,
	               "SELECT id, CASE WHEN pruned_at IS NULL THEN status ELSE 'pruned' END"
	               " FROM bill_files WHERE mchid = ? AND bill_date = ? AND kind = ?",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, date);
	db_bind_text(st, 3, kind);
	r = db_step(st);
	if (r == DB_ROW) {
		id = db_col_i64(st, 0);
		recon_copy_status(status, db_col_text(st, 1));
	} else if (r != DB_DONE) {
		r = db_error(db, err, "read bill_files");
		goto out;
	}
	*out_id = id;
	memcpy(out_status, status, sizeof(status));
	r = 0;
out:
	db_finalize(st);
	return r;
}

int db_recon_ledger_activity(struct db *db, const char *mchid, const char *date,
                             int64_t *out_payments, int64_t *out_amount, int64_t *out_refunds,
                             struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "SELECT (SELECT COUNT(*) FROM ledger_orders WHERE mchid = ?1 AND paid_date ="
	               " ?2"
	               "        AND state IN " PAID_STATES "),"
	               " (SELECT COALESCE(SUM(amount_total), 0) FROM ledger_orders"
	               "  WHERE mchid = ?1 AND paid_date = ?2 AND state IN " PAID_STATES "),"
	               " (SELECT COUNT(*) FROM ledger_refunds WHERE mchid = ?1 AND created_date ="
	               " ?2)",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, date);
	if (db_step(st) != DB_ROW) {
		r = db_error(db, err, "count ledger activity");
		goto out;
	}
	*out_payments = db_col_i64(st, 0);
	*out_amount = db_col_i64(st, 1);
	*out_refunds = db_col_i64(st, 2);
	r = 0;
out:
	db_finalize(st);
	return r;
}

int db_recon_closing_balance(struct db *db, int64_t file_id, bool *out_have, int64_t *out_balance,
                             struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "SELECT balance FROM bill_fundflows WHERE file_id = ? ORDER BY line DESC"
	               " LIMIT 1",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_i64(st, 1, file_id);
	r = db_step(st);
	if (r == DB_ROW) {
		*out_have = true;
		*out_balance = db_col_i64(st, 0);
	} else if (r == DB_DONE) {
		*out_have = false;
	} else {
		r = db_error(db, err, "read fund-flow balance");
		goto out;
	}
	r = 0;
out:
	db_finalize(st);
	return r;
}

int db_recon_fund_rows(struct db *db, int64_t file_id,
                       int (*cb)(void *ctx, const struct db_recon_flow *f, struct wxr_err *err),
                       void *ctx, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "SELECT line, flow_no, biz_no, direction, amount, balance FROM"
	               " bill_fundflows"
	               " WHERE file_id = ? ORDER BY line",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_i64(st, 1, file_id);
	while ((r = db_step(st)) == DB_ROW) {
		struct db_recon_flow f;

		f.line = db_col_i64(st, 0);
		f.flow_no = db_col_text(st, 1);
		f.biz_no = db_col_text(st, 2);
		f.income = strcmp(db_col_text(st, 3), "IN") == 0;
		f.amount = db_col_i64(st, 4);
		f.balance = db_col_i64(st, 5);
		r = cb(ctx, &f, err);
		if (r < 0)
			goto out;
	}
	if (r != DB_DONE) {
		r = db_error(db, err, "read fund flow");
		goto out;
	}
	r = 0;
out:
	db_finalize(st);
	return r;
}

/* ---- payments ------------------------------------------------------------- */

/*
 * One pass over the day's SUCCESS rows keeps those that need a look, with
 * what the payment finders need: the ledger order (matched by out_trade_no,
 * one primary-key probe), whether its business_ref is on another ledger
 * order, whether the transaction_id is on another bill row (both counted on
 * covering indexes), and the fund-flow fee lines (FEE_MISMATCH part A).
 * Rows left unmatched are then matched by transaction_id.
 */
#define BILL_ORDER_AMOUNT \
	"CASE WHEN t.order_amount > 0 THEN t.order_amount ELSE t.settlement_amount END"

static const char sql_fill_pay[] =
        "INSERT INTO recon_pay (key, line, out_trade_no, transaction_id, trade_time, amt, fee,"
        " fee_fen, fee_lines, lkey, lstate, lamount, bref, bref_dup, txn_multi)"
        " SELECT COALESCE(NULLIF(x.out_trade_no, ''), x.transaction_id), x.line, x.out_trade_no,"
        "  x.transaction_id, x.trade_time, x.amt, x.fee, x.fee_fen, x.fee_lines, x.lkey, x.lstate,"
        "  x.lamount, x.bref, x.bref_dup, x.txn_multi"
        " FROM (SELECT t.line AS line, t.out_trade_no AS out_trade_no,"
        "        t.transaction_id AS transaction_id, t.trade_time AS trade_time,"
        "        " BILL_ORDER_AMOUNT " AS amt, t.fee AS fee,"
        "        ABS(recon_fee_to_fen(t.fee)) AS fee_fen,"
        "        (SELECT SUM(l.amount) FROM bill_fundflows l WHERE l.biz_no = t.transaction_id"
        "         AND l.biz_type = " FEE_PAY " AND l.mchid = :m) AS fee_lines,"
        "        o.out_trade_no AS lkey, o.state AS lstate, o.amount_total AS lamount,"
        "        o.business_ref AS bref,"
        "        CASE WHEN o.business_ref <> ''"
        "              AND (SELECT COUNT(*) FROM ledger_orders c WHERE c.mchid = :m"
        "                   AND c.business_ref = o.business_ref) > 1 THEN 1 ELSE 0 END AS bref_dup,"
        "        CASE WHEN t.transaction_id <> ''"
        "              AND (SELECT COUNT(*) FROM bill_trades c"
        "                   WHERE c.transaction_id = t.transaction_id"
        "                     AND c.row_kind = 'SUCCESS') > 1 THEN 1 ELSE 0 END"
        "          AS txn_multi"
        "       FROM bill_trades t"
        "       LEFT JOIN ledger_orders o ON o.mchid = :m AND o.out_trade_no = t.out_trade_no"
        "       WHERE t.file_id = :tf AND t.row_kind = 'SUCCESS') x"
        " WHERE x.lkey IS NULL OR x.lstate IN ('NOTPAY', 'CLOSED') OR x.lamount <> x.amt"
        "    OR x.bref_dup = 1 OR x.txn_multi = 1 OR COALESCE(x.fee_lines, x.fee_fen) <> x.fee_fen";

/* "+o.mchid" keeps SQLite's min() optimisation off the primary key (mchid,
 * out_trade_no), which would walk every ledger order of the merchant per
 * unmatched bill row: ledger_orders_txn finds the one or two rows. */
static const char sql_pay_by_txn[] =
        "UPDATE recon_pay SET lkey = (SELECT MIN(o.out_trade_no) FROM ledger_orders o"
        "  WHERE o.transaction_id = recon_pay.transaction_id AND +o.mchid = :m)"
        " WHERE lkey IS NULL AND transaction_id <> ''";

static const char sql_pay_by_txn_fill[] =
        "UPDATE recon_pay SET lstate = o.state, lamount = o.amount_total"
        " FROM ledger_orders o"
        " WHERE recon_pay.lkey IS NOT NULL AND recon_pay.lstate IS NULL"
        "   AND o.mchid = :m AND o.out_trade_no = recon_pay.lkey";

static const char sql_missing_in_ledger[] =
        "INSERT INTO recon_found (kind, key, out_trade_no, transaction_id, bill_amount, bill_state,"
        " bill_time, detail)"
        " SELECT 'MISSING_IN_LEDGER', key, NULLIF(out_trade_no, ''), NULLIF(transaction_id, ''),"
        "  amt, 'SUCCESS', trade_time, 'bill: paid at ' || trade_time || ', no ledger order'"
        " FROM recon_pay WHERE lkey IS NULL"
        " ON CONFLICT DO NOTHING";

static const char sql_missed_payment[] =
        "INSERT INTO recon_found (kind, key, ledger_key, out_trade_no, transaction_id,"
        " ledger_amount, bill_amount, ledger_state, bill_state, bill_time, detail)"
        " SELECT 'MISSED_PAYMENT', key, lkey, NULLIF(out_trade_no, ''),"
        "  NULLIF(transaction_id, ''), lamount, amt, lstate, 'SUCCESS', trade_time,"
        "  'bill: paid at ' || trade_time || '; ledger: ' || lstate"
        " FROM recon_pay WHERE lkey IS NOT NULL AND lstate IN ('NOTPAY', 'CLOSED')"
        " ON CONFLICT DO NOTHING";

static const char sql_amount_mismatch[] =
        "INSERT INTO recon_found (kind, key, ledger_key, out_trade_no, transaction_id,"
        " ledger_amount, bill_amount, ledger_state, bill_state, bill_time, detail)"
        " SELECT 'AMOUNT_MISMATCH', key, lkey, NULLIF(out_trade_no, ''),"
        "  NULLIF(transaction_id, ''), lamount, amt, lstate, 'SUCCESS', trade_time,"
        "  'ledger amount_total ' || lamount || ' fen, bill order amount ' || amt || ' fen'"
        " FROM recon_pay WHERE lkey IS NOT NULL AND lamount <> amt"
        " ON CONFLICT DO NOTHING";

/* (a) another ledger order with the same business_ref was paid earlier per
 * a stored bill (trade time, then out_trade_no): this payment is the extra.
 * CROSS JOIN keeps the ledger orders of that business_ref outermost, so each
 * finds its bill rows by out_trade_no (else SQLite may walk the merchant's
 * bill rows per duplicate). */
static const char sql_dup_business_ref[] =
        "INSERT INTO recon_found (kind, key, ledger_key, out_trade_no, transaction_id,"
        " ledger_amount, bill_amount, ledger_state, bill_state, bill_time, detail)"
        " SELECT 'DUPLICATE_PAYMENT', x.key, x.lkey, x.lkey, NULLIF(x.transaction_id, ''),"
        "  x.lamount, x.amt, x.lstate, 'SUCCESS', x.trade_time,"
        "  'business_ref ' || x.bref || ' was already paid by order ' || x.other"
        " FROM (SELECT p.key AS key, p.lkey AS lkey, p.transaction_id AS transaction_id,"
        "        p.lamount AS lamount, p.amt AS amt, p.lstate AS lstate, p.trade_time AS"
        " trade_time,"
        "        p.bref AS bref,"
        "        (SELECT o2.out_trade_no FROM ledger_orders o2"
        "         CROSS JOIN bill_trades t2 ON t2.mchid = :m AND t2.out_trade_no = o2.out_trade_no"
        "         WHERE o2.mchid = :m AND o2.business_ref = p.bref"
        "           AND o2.out_trade_no <> p.lkey AND t2.row_kind = 'SUCCESS'"
        "           AND (t2.trade_time < p.trade_time"
        "                OR (t2.trade_time = p.trade_time AND o2.out_trade_no < p.lkey))"
        "         ORDER BY t2.trade_time, o2.out_trade_no LIMIT 1) AS other"
        "       FROM recon_pay p WHERE p.bref_dup = 1) x"
        " WHERE x.other IS NOT NULL"
        " ON CONFLICT DO NOTHING";

/* (b) the transaction_id is on an earlier SUCCESS row of any stored bill
 * (earlier date, or same file and earlier line). */
static const char sql_dup_transaction[] =
        "INSERT INTO recon_found (kind, key, out_trade_no, transaction_id, bill_amount, bill_state,"
        " bill_time, detail)"
        " SELECT 'DUPLICATE_PAYMENT', p.key, NULLIF(p.out_trade_no, ''), p.transaction_id, p.amt,"
        "  'SUCCESS', p.trade_time,"
        "  'transaction_id ' || p.transaction_id || ' is on an earlier bill row too'"
        " FROM recon_pay p"
        " WHERE p.txn_multi = 1"
        "   AND EXISTS (SELECT 1 FROM bill_trades t2"
        "               WHERE t2.transaction_id = p.transaction_id AND t2.row_kind = 'SUCCESS'"
        "                 AND t2.mchid = :m"
        "                 AND (t2.bill_date < :d OR (t2.file_id = :tf AND t2.line < p.line)))"
        " ON CONFLICT DO NOTHING";

/* FEE_MISMATCH part A for payments, from the pass above. "+l.mchid" (here and
 * in FEE_SELECT) keeps the max() optimisation off (mchid, bill_date), which
 * would walk every fund-flow line of the merchant per row: the business
 * number index finds the lines. */
static const char sql_fee_pay_a[] =
        "INSERT INTO recon_found (kind, key, out_trade_no, transaction_id, ledger_amount,"
        " bill_amount, bill_state, detail)"
        " SELECT 'FEE_MISMATCH', p.transaction_id, NULLIF(p.out_trade_no, ''), p.transaction_id,"
        "  p.fee_lines, p.fee_fen, 'SUCCESS',"
        "  'trade bill ' || :d || ' fee ' || p.fee || ' (0.00001 yuan) = ' || p.fee_fen"
        "  || ' fen; fund flow ' || " FEE_PAY " || ' ' || p.fee_lines || ' fen'"
        " FROM recon_pay p"
        " WHERE p.fee_lines IS NOT NULL AND p.fee_lines <> p.fee_fen AND p.transaction_id <> ''"
        "   AND (SELECT MAX(l.bill_date) FROM bill_fundflows l WHERE l.biz_no = p.transaction_id"
        "        AND l.biz_type = " FEE_PAY " AND +l.mchid = :m) <= :d"
        " ON CONFLICT DO NOTHING";

/* Ledger payments of D with no SUCCESS row in the bills of D-1, D, D+1. */
#define LEDGER_NOT_IN_BILL                                                            \
	" WHERE o.mchid = :m AND o.paid_date = :d AND o.state IN " PAID_STATES        \
	"   AND NOT EXISTS (SELECT 1 FROM bill_trades t WHERE t.mchid = :m"           \
	"       AND t.out_trade_no = o.out_trade_no AND t.row_kind = 'SUCCESS'"       \
	"       AND t.bill_date BETWEEN :dprev AND :dnext)"                           \
	"   AND NOT EXISTS (SELECT 1 FROM bill_trades t WHERE o.transaction_id <> ''" \
	"       AND t.transaction_id = o.transaction_id AND t.row_kind = 'SUCCESS'"   \
	"       AND t.mchid = :m AND t.bill_date BETWEEN :dprev AND :dnext)"

/* pending: D+1's bill not stored and no answer says it must be raised.
 * paid_at is fetched only for the rows found, so the scan of the day's
 * ledger orders stays on the covering index ledger_orders_paid_date. */
static const char sql_missing_in_bill[] =
        "INSERT INTO recon_found (kind, key, ledger_key, out_trade_no, transaction_id,"
        " ledger_amount, ledger_state, detail, pending)"
        " SELECT 'MISSING_IN_BILL', o.out_trade_no, o.out_trade_no, o.out_trade_no,"
        "  NULLIF(o.transaction_id, ''), o.amount_total, o.state,"
        "  'ledger: paid at ' || COALESCE((SELECT p.paid_at FROM ledger_orders p"
        "   WHERE p.mchid = :m AND p.out_trade_no = o.out_trade_no), '?')"
        "  || CASE WHEN :next_stored = 1 THEN '; not in the bills of ' || :dprev || '..' || :dnext"
        "          WHEN a.ok = 1 THEN '; query: ' || COALESCE(a.state, '?')"
        "               || COALESCE(' at ' || a.success_date, '')"
        "          ELSE '' END,"
        "  CASE WHEN :next_stored = 1 THEN 0"
        "       WHEN a.ok IS NULL OR a.ok = 0 THEN 1"
        "       WHEN a.state IN ('SUCCESS', 'REFUND') AND a.success_date > :d THEN 1"
        "       ELSE 0 END"
        " FROM ledger_orders o"
        " LEFT JOIN recon_answers a ON a.kind = 'order' AND a.key = "
        "o.out_trade_no" LEDGER_NOT_IN_BILL " ON CONFLICT DO NOTHING";

/* Phase 1: the orders whose MISSING_IN_BILL a query must decide. */
static const char sql_ask_orders[] =
        "INSERT INTO recon_ask (kind, key) SELECT 'order', o.out_trade_no"
        " FROM ledger_orders o" LEDGER_NOT_IN_BILL " ON CONFLICT DO NOTHING";

/* ---- refunds -------------------------------------------------------------- */

/* The day's REFUND rows that need a look, with their ledger refund (by
 * out_refund_no, else refund_id). Bill statuses REFUNDCLOSE and CHANGE
 * (older spellings) read as CLOSED and ABNORMAL. */
static const char sql_fill_ref[] =
        "INSERT INTO recon_ref (key, out_refund_no, refund_id, out_trade_no, transaction_id, amt,"
        " bstatus, lkey, lstate, lamount)"
        " SELECT b.key, b.out_refund_no, b.refund_id, b.out_trade_no, b.transaction_id, b.amt,"
        "  b.bstatus, r.out_refund_no, r.state, r.amount_refund"
        " FROM (SELECT COALESCE(NULLIF(t.out_refund_no, ''), t.refund_id) AS key,"
        "        NULLIF(t.out_refund_no, '') AS out_refund_no, NULLIF(t.refund_id, '') AS"
        " refund_id,"
        "        NULLIF(t.out_trade_no, '') AS out_trade_no,"
        "        NULLIF(t.transaction_id, '') AS transaction_id,"
        "        CASE WHEN t.refund_apply_amount > 0 THEN t.refund_apply_amount"
        "             ELSE t.refund_amount END AS amt,"
        "        CASE upper(COALESCE(t.refund_status, '')) WHEN 'REFUNDCLOSE' THEN 'CLOSED'"
        "             WHEN 'CHANGE' THEN 'ABNORMAL'"
        "             ELSE upper(COALESCE(t.refund_status, '')) END AS bstatus,"
        "        COALESCE((SELECT r1.out_refund_no FROM ledger_refunds r1"
        "                  WHERE r1.mchid = :m AND r1.out_refund_no = t.out_refund_no),"
        /* "+r2.mchid": the min() optimisation would walk the primary key. */
        "                 (SELECT MIN(r2.out_refund_no) FROM ledger_refunds r2"
        "                  WHERE r2.refund_id = t.refund_id AND +r2.mchid = :m"
        "                    AND t.refund_id <> '')) AS lk"
        "       FROM bill_trades t WHERE t.file_id = :tf AND t.row_kind = 'REFUND') b"
        " LEFT JOIN ledger_refunds r ON r.mchid = :m AND r.out_refund_no = b.lk"
        " WHERE r.out_refund_no IS NULL OR r.amount_refund <> b.amt"
        "    OR (b.bstatus <> '' AND r.state <> b.bstatus)";

static const char sql_refund_missing_in_ledger[] =
        "INSERT INTO recon_found (kind, key, out_trade_no, out_refund_no, transaction_id,"
        " bill_amount, bill_state, detail)"
        " SELECT 'REFUND_MISSING_IN_LEDGER', key, out_trade_no, out_refund_no, transaction_id,"
        "  amt, NULLIF(bstatus, ''), 'bill: refund ' || COALESCE(refund_id, '?')"
        "  || ' of order ' || COALESCE(out_trade_no, '?') || ', no ledger refund'"
        " FROM recon_ref WHERE lkey IS NULL"
        " ON CONFLICT DO NOTHING";

static const char sql_refund_amount_mismatch[] =
        "INSERT INTO recon_found (kind, key, ledger_key, out_trade_no, out_refund_no,"
        " transaction_id, ledger_amount, bill_amount, ledger_state, bill_state, detail)"
        " SELECT 'REFUND_AMOUNT_MISMATCH', key, lkey, out_trade_no, out_refund_no, transaction_id,"
        "  lamount, amt, lstate, NULLIF(bstatus, ''),"
        "  'ledger amount_refund ' || lamount || ' fen, bill refund amount ' || amt || ' fen'"
        " FROM recon_ref WHERE lkey IS NOT NULL AND lamount <> amt"
        " ON CONFLICT DO NOTHING";

static const char sql_refund_status_mismatch[] =
        "INSERT INTO recon_found (kind, key, ledger_key, out_trade_no, out_refund_no,"
        " transaction_id, ledger_amount, bill_amount, ledger_state, bill_state, detail)"
        " SELECT 'REFUND_STATUS_MISMATCH', key, lkey, out_trade_no, out_refund_no, transaction_id,"
        "  lamount, amt, lstate, bstatus,"
        "  'ledger ' || lstate || ', bill snapshot ' || bstatus"
        " FROM recon_ref WHERE lkey IS NOT NULL AND bstatus <> '' AND lstate <> bstatus"
        " ON CONFLICT DO NOTHING";

static const char sql_refund_missing_in_bill[] =
        "INSERT INTO recon_found (kind, key, ledger_key, out_trade_no, out_refund_no,"
        " ledger_amount, ledger_state, detail)"
        " SELECT 'REFUND_MISSING_IN_BILL', r.out_refund_no, r.out_refund_no, r.out_trade_no,"
        "  r.out_refund_no, r.amount_refund, r.state,"
        "  'ledger: refund SUCCESS created ' || r.created_at || ', not in the bills of '"
        "  || :dprev || '..' || :dnext"
        " FROM ledger_refunds r"
        " WHERE r.mchid = :m AND r.created_date = :d AND r.state = 'SUCCESS'"
        /* The refund-number indexes (partial: REFUND rows, which the plain
         * "t.row_kind = 'REFUND'" selects) find the one row; "+t.bill_date"
         * keeps SQLite off any (mchid, bill_date) prefix, which would scan the
         * whole day per refund. */
        "   AND NOT EXISTS (SELECT 1 FROM bill_trades t WHERE t.mchid = :m"
        "       AND t.out_refund_no = r.out_refund_no AND t.row_kind = 'REFUND'"
        "       AND +t.bill_date BETWEEN :dprev AND :dnext)"
        "   AND NOT EXISTS (SELECT 1 FROM bill_trades t WHERE r.refund_id <> ''"
        "       AND t.refund_id = r.refund_id AND t.row_kind = 'REFUND'"
        "       AND +t.mchid = :m AND +t.bill_date BETWEEN :dprev AND :dnext)"
        " ON CONFLICT DO NOTHING";

/* ---- fees ----------------------------------------------------------------- */

/*
 * FEE_MISMATCH per trade row: |recon_fee_to_fen(fee)| against the sum of the
 * fund-flow fee lines with the same business number, dated by the later of
 * the row's and its lines' dates. Part A: rows of D whose lines are all on
 * or before D. Part B: rows of earlier days with a line booked on D and none
 * later.
 */
#define FEE_LINES(IDCOL, BIZTYPE, AGG)                                    \
	"(SELECT " AGG " FROM bill_fundflows l WHERE l.biz_no = t." IDCOL \
	" AND l.biz_type = " BIZTYPE " AND l.mchid = :m)"

#define FEE_SELECT(ROWKIND, IDCOL, BIZTYPE, ORN, FROM_WHERE)                                     \
	"INSERT INTO recon_found (kind, key, out_trade_no, out_refund_no, transaction_id,"       \
	" ledger_amount, bill_amount, bill_state, detail)"                                       \
	" SELECT 'FEE_MISMATCH', x.biz, NULLIF(x.out_trade_no, ''), x.orn,"                      \
	"  NULLIF(x.transaction_id, ''), x.lines, x.fee_fen, '" ROWKIND "',"                     \
	"  'trade bill ' || x.bill_date || ' fee ' || x.fee || ' (0.00001 yuan) = '"             \
	"  || x.fee_fen || ' fen; fund flow ' || " BIZTYPE " || ' ' || x.lines || ' fen'"        \
	" FROM (SELECT t.out_trade_no AS out_trade_no, " ORN " AS orn,"                          \
	"        t.transaction_id AS transaction_id, t.bill_date AS bill_date, t.fee AS fee,"    \
	"        t." IDCOL " AS biz, ABS(recon_fee_to_fen(t.fee)) AS fee_fen,"                   \
	"        " FEE_LINES(IDCOL, BIZTYPE,                                                     \
	                     "SUM(l.amount)") " AS lines"                                        \
	                                      "       " FROM_WHERE " AND t.row_kind = '" ROWKIND \
	                                      "' AND t." IDCOL " <> '') x"                       \
	                                      " WHERE COALESCE(x.lines, x.fee_fen) <> x.fee_fen" \
	                                      "   AND (SELECT MAX(l.bill_date) FROM "            \
	                                      "bill_fundflows l WHERE l.biz_no = x.biz"          \
	                                      "        AND l.biz_type = " BIZTYPE                \
	                                      " AND +l.mchid = :m) <= :d"                        \
	                                      " ON CONFLICT DO NOTHING"

#define FEE_ROWS_OF_D "FROM bill_trades t WHERE t.file_id = :tf"
/* Driven by D's fee lines (CROSS JOIN keeps that order), rows of earlier days,
 * found by their transaction_id / refund_id index ("+" keeps SQLite off the
 * (mchid, bill_date) index: all of history per line). */
#define FEE_ROWS_BEFORE(IDCOL, BIZTYPE)                                                  \
	"FROM bill_fundflows d CROSS JOIN bill_trades t"                                 \
	" WHERE d.file_id = :ff AND d.biz_type = " BIZTYPE " AND t." IDCOL " = d.biz_no" \
	"   AND +t.mchid = :m AND +t.bill_date < :d"

static const char sql_fee_refund_a[] =
        FEE_SELECT("REFUND", "refund_id", FEE_REFUND, "NULLIF(t.out_refund_no, '')", FEE_ROWS_OF_D);
static const char sql_fee_pay_b[] = FEE_SELECT("SUCCESS", "transaction_id", FEE_PAY, "NULL",
                                               FEE_ROWS_BEFORE("transaction_id", FEE_PAY));
static const char sql_fee_refund_b[] =
        FEE_SELECT("REFUND", "refund_id", FEE_REFUND, "NULLIF(t.out_refund_no, '')",
                   FEE_ROWS_BEFORE("refund_id", FEE_REFUND));

struct finder {
	const char *what;
	const char *sql;
	int needs; /* NEED_* */
};

#define NEED_TRADE 1
#define NEED_FUND  2

static const struct finder finders[] = {
	{ "find payments", sql_fill_pay, NEED_TRADE },
	{ "match payments by transaction_id", sql_pay_by_txn, NEED_TRADE },
	{ "match payments by transaction_id", sql_pay_by_txn_fill, NEED_TRADE },
	{ "find MISSING_IN_LEDGER", sql_missing_in_ledger, NEED_TRADE },
	{ "find MISSED_PAYMENT", sql_missed_payment, NEED_TRADE },
	{ "find AMOUNT_MISMATCH", sql_amount_mismatch, NEED_TRADE },
	{ "find DUPLICATE_PAYMENT by business_ref", sql_dup_business_ref, NEED_TRADE },
	{ "find DUPLICATE_PAYMENT by transaction_id", sql_dup_transaction, NEED_TRADE },
	{ "find MISSING_IN_BILL", sql_missing_in_bill, NEED_TRADE },
	{ "clear refunds", "DELETE FROM recon_ref", NEED_TRADE },
	{ "find refunds", sql_fill_ref, NEED_TRADE },
	{ "find REFUND_MISSING_IN_LEDGER", sql_refund_missing_in_ledger, NEED_TRADE },
	{ "find REFUND_AMOUNT_MISMATCH", sql_refund_amount_mismatch, NEED_TRADE },
	{ "find REFUND_STATUS_MISMATCH", sql_refund_status_mismatch, NEED_TRADE },
	{ "find REFUND_MISSING_IN_BILL", sql_refund_missing_in_bill, NEED_TRADE },
	{ "find FEE_MISMATCH of payments", sql_fee_pay_a, NEED_TRADE },
	{ "find FEE_MISMATCH of refunds", sql_fee_refund_a, NEED_TRADE },
	{ "find FEE_MISMATCH of earlier payments", sql_fee_pay_b, NEED_FUND },
	{ "find FEE_MISMATCH of earlier refunds", sql_fee_refund_b, NEED_FUND },
};

int db_recon_find(struct db *db, const struct db_recon_day *day, struct wxr_err *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(finders); i++) {
		const struct finder *f = &finders[i];
		int r;

		if ((f->needs & NEED_TRADE) && day->trade_file <= 0)
			continue;
		if ((f->needs & NEED_FUND) && day->fund_file <= 0)
			continue;
		r = recon_run_day(db, day, f->what, f->sql, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- phase 1: what to ask -------------------------------------------------- */

/* Refund status mismatches that a query must settle: not those already
 * settled (auto_resolved, or resolved by a person) with the same values. */
static const char sql_ask_refunds[] =
        "INSERT INTO recon_ask (kind, key) SELECT 'refund', x.key FROM recon_ref x"
        " WHERE x.lkey IS NOT NULL AND x.bstatus <> '' AND x.lstate <> x.bstatus"
        "   AND NOT EXISTS (SELECT 1 FROM discrepancies d WHERE d.mchid = :m AND d.date = :d"
        "       AND d.kind = 'REFUND_STATUS_MISMATCH' AND d.key = x.key"
        "       AND (d.status = 'auto_resolved'"
        "            OR (d.status = 'resolved' AND COALESCE(d.resolved_by, '') <> 'reconcile'))"
        "       AND d.ledger_amount IS NOT DISTINCT FROM x.lamount"
        "       AND d.bill_amount IS NOT DISTINCT FROM x.amt"
        "       AND d.ledger_state IS NOT DISTINCT FROM x.lstate"
        "       AND d.bill_state IS NOT DISTINCT FROM x.bstatus)"
        " ON CONFLICT DO NOTHING";

int db_recon_collect_asks(struct db *db, const struct db_recon_day *day, bool orders, bool refunds,
                          struct wxr_err *err)
{
	int r;

	if (day->trade_file <= 0)
		return 0;
	if (orders) {
		r = recon_run_day(db, day, "find orders to query", sql_ask_orders, err);
		if (r < 0)
			return r;
	}
	if (refunds) {
		r = recon_run_day(db, day, "clear refunds", "DELETE FROM recon_ref", err);
		if (r < 0)
			return r;
		r = recon_run_day(db, day, "find refunds", sql_fill_ref, err);
		if (r < 0)
			return r;
		r = recon_run_day(db, day, "find refunds to query", sql_ask_refunds, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int db_recon_asks(struct db *db, struct db_recon_ask **out, size_t *out_n, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	struct db_recon_ask *v = NULL;
	size_t n = 0, cap = 0;
	int r;

	r = db_prepare(db, "SELECT kind, key FROM recon_ask ORDER BY kind, key", &st, err);
	if (r < 0)
		return r;
	while ((r = db_step(st)) == DB_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		memset(&v[n], 0, sizeof(v[n]));
		recon_copy_status(v[n].kind, db_col_text(st, 0));
		v[n].key = recon_col_dup(st, 1);
		n++;
	}
	if (r != DB_DONE) {
		r = db_error(db, err, "read recon_ask");
		db_recon_asks_free(v, n);
		goto out;
	}
	*out = v;
	*out_n = n;
	r = 0;
out:
	db_finalize(st);
	return r;
}

void db_recon_asks_free(struct db_recon_ask *asks, size_t n)
{
	if (!asks)
		return;
	for (size_t i = 0; i < n; i++)
		free(asks[i].key);
	free(asks);
}

int db_recon_put_answer(struct db *db, const char *kind, const char *key, bool ok,
                        const char *state, int64_t amount, const char *ext_id, int64_t success_ts,
                        const char *success_date, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "INSERT INTO recon_answers (kind, key, ok, state, amount, ext_id,"
	               " success_ts,"
	               " success_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
	               " ON CONFLICT (kind, key) DO UPDATE SET ok = excluded.ok,"
	               " state = excluded.state, amount = excluded.amount, ext_id ="
	               " excluded.ext_id,"
	               " success_ts = excluded.success_ts, success_date = excluded.success_date",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, kind);
	db_bind_text(st, 2, key);
	db_bind_i64(st, 3, ok ? 1 : 0);
	db_bind_text(st, 4, state);
	db_bind_i64(st, 5, amount);
	db_bind_text(st, 6, ext_id);
	if (success_ts > 0)
		db_bind_i64(st, 7, success_ts);
	else
		db_bind_null(st, 7);
	db_bind_text(st, 8, success_date);
	return recon_finish(db, st, "record query answer", err);
}

/* ---- findings from C ------------------------------------------------------ */

int db_recon_check_kind(struct db *db, const char *kind, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db, "INSERT INTO recon_checked (kind) VALUES (?) ON CONFLICT DO NOTHING",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, kind);
	return recon_finish(db, st, "record checked kind", err);
}

static void bind_amount(struct db_stmt *st, int i, int64_t v)
{
	if (v == RECON_NULL_AMOUNT)
		db_bind_null(st, i);
	else
		db_bind_i64(st, i, v);
}

int db_recon_add_found(struct db *db, const struct db_recon_finding *f, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "INSERT INTO recon_found (kind, key, out_trade_no, out_refund_no,"
	               " transaction_id, ledger_amount, bill_amount, ledger_state, bill_state,"
	               " detail)"
	               " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, f->kind);
	db_bind_text(st, 2, f->key);
	db_bind_text(st, 3, f->out_trade_no);
	db_bind_text(st, 4, f->out_refund_no);
	db_bind_text(st, 5, f->transaction_id);
	bind_amount(st, 6, f->ledger_amount);
	bind_amount(st, 7, f->bill_amount);
	db_bind_text(st, 8, f->ledger_state);
	db_bind_text(st, 9, f->bill_state);
	db_bind_text(st, 10, f->detail);
	return recon_finish(db, st, "record finding", err);
}

int db_recon_found_set(struct db *db, const char *kind, const char *key, const char *status,
                       const char *resolution, const char *note, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "UPDATE recon_found SET status = ?, resolution = ?,"
	               " detail = CASE WHEN ? IS NULL THEN detail"
	               "          ELSE COALESCE(detail || '; ', '') || ? END"
	               " WHERE kind = ? AND key = ?",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, status);
	db_bind_text(st, 2, resolution);
	db_bind_text(st, 3, note);
	db_bind_text(st, 4, note);
	db_bind_text(st, 5, kind);
	db_bind_text(st, 6, key);
	return recon_finish(db, st, "update finding", err);
}

/* ---- bill summaries --------------------------------------------------------- */

const char *const db_recon_trade_fields[DB_RECON_TRADE_FIELDS] = {
	"total_count", "settlement_total", "refund_total",       "recharge_refund_total",
	"fee_total",   "order_total",      "refund_apply_total",
};

const char *const db_recon_fund_fields[DB_RECON_FUND_FIELDS] = {
	"total_count", "income_count", "income_amount", "expense_count", "expense_amount",
};

static int read_sums(struct db *db, int64_t file_id, const char *sql_rows, const char *sql_summary,
                     int nfields, struct db_recon_sums *out, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	struct db_recon_sums s;
	int r;

	memset(&s, 0, sizeof(s));
	r = db_prepare(db, sql_rows, &st, err);
	if (r < 0)
		return r;
	db_bind_i64(st, 1, file_id);
	if (db_step(st) != DB_ROW) {
		r = db_error(db, err, "sum bill rows");
		goto out;
	}
	for (int i = 0; i < nfields; i++)
		s.sums[i] = db_col_i64(st, i);
	s.rows = s.sums[0];
	db_finalize(st);
	st = NULL;

	r = db_prepare(db, sql_summary, &st, err);
	if (r < 0)
		return r;
	db_bind_i64(st, 1, file_id);
	r = db_step(st);
	if (r == DB_ROW) {
		s.have_summary = true;
		for (int i = 0; i < nfields; i++)
			s.summary[i] = db_col_i64(st, i);
	} else if (r != DB_DONE) {
		r = db_error(db, err, "read bill summary");
		goto out;
	}
	*out = s;
	r = 0;
out:
	db_finalize(st);
	return r;
}

int db_recon_trade_sums(struct db *db, int64_t file_id, struct db_recon_sums *out,
                        struct wxr_err *err)
{
	return read_sums(db, file_id,
	                 "SELECT COUNT(*), COALESCE(SUM(settlement_amount), 0),"
	                 " COALESCE(SUM(refund_amount), 0), COALESCE(SUM(recharge_refund_amount),"
	                 " 0),"
	                 " COALESCE(SUM(fee), 0), COALESCE(SUM(order_amount), 0),"
	                 " COALESCE(SUM(refund_apply_amount), 0)"
	                 " FROM bill_trades WHERE file_id = ?",
	                 "SELECT total_count, settlement_total, refund_total,"
	                 " recharge_refund_total,"
	                 " fee_total, order_total, refund_apply_total"
	                 " FROM bill_trade_summary WHERE file_id = ?",
	                 DB_RECON_TRADE_FIELDS, out, err);
}

int db_recon_fund_summary(struct db *db, int64_t file_id, struct db_recon_sums *out,
                          struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	r = db_prepare(db,
	               "SELECT total_count, income_count, income_amount, expense_count,"
	               " expense_amount FROM bill_fundflow_summary WHERE file_id = ?",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_i64(st, 1, file_id);
	r = db_step(st);
	if (r == DB_ROW) {
		out->have_summary = true;
		for (int i = 0; i < DB_RECON_FUND_FIELDS; i++)
			out->summary[i] = db_col_i64(st, i);
	} else if (r != DB_DONE) {
		r = db_error(db, err, "read fund-flow summary");
		goto out;
	}
	r = 0;
out:
	db_finalize(st);
	return r;
}
