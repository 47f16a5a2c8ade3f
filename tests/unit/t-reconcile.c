/*
 * t-reconcile.c - the reconciliation engine on small fixture days: each
 * discrepancy kind, clean days, cross-day payments, re-run stability,
 * resolve, MISSED_PAYMENT policy branches, dry run, query hooks.
 */
#include "tap.h"

#include "recon-fixture.h"

#include "base/clock.h"
#include "db/audit.h"

#define D     "2026-11-01"
#define DPREV "2026-10-31"
#define DNEXT "2026-11-02"

static struct wxr_err err = WXR_ERR_INIT;

/* ---- fake query hooks --------------------------------------------------- */

struct fake {
	int order_calls;
	int refund_calls;
	int order_rc; /* < 0: fail with it */
	const char *order_state;
	int64_t order_success_ts;
	int refund_rc;
	const char *refund_state;
	int64_t refund_success_ts;
};

static int fake_order(void *ctx, const char *mchid, const char *otn, struct recon_order_answer *out,
                      struct wxr_err *e)
{
	struct fake *f = ctx;

	(void)mchid;
	f->order_calls++;
	if (f->order_rc < 0)
		return err_set(e, f->order_rc, "fake order query failed");
	snprintf(out->trade_state, sizeof(out->trade_state), "%s", f->order_state);
	snprintf(out->transaction_id, sizeof(out->transaction_id), "T-%s", otn);
	out->success_ts = f->order_success_ts;
	return 0;
}

static int fake_refund(void *ctx, const char *mchid, const char *orn,
                       struct recon_refund_answer *out, struct wxr_err *e)
{
	struct fake *f = ctx;

	(void)mchid;
	f->refund_calls++;
	if (f->refund_rc < 0)
		return err_set(e, f->refund_rc, "fake refund query failed");
	snprintf(out->status, sizeof(out->status), "%s", f->refund_state);
	snprintf(out->refund_id, sizeof(out->refund_id), "R-%s", orn);
	out->success_ts = f->refund_success_ts;
	return 0;
}

static int64_t ts_of(const char *rfc3339)
{
	int64_t ts = 0;

	if (time_parse_rfc3339(rfc3339, &ts, NULL) < 0)
		exit(99);
	return ts;
}

static const char *status_of(struct db *db, const char *date, const char *kind, const char *key)
{
	return qstr(db,
	            "SELECT status FROM discrepancies WHERE mchid = '" MCH "' AND date = '%s'"
	            " AND kind = '%s' AND key = '%s'",
	            date, kind, key);
}

/* "kind key status" lines of a date's discrepancies, sorted; valid until
 * the fourth next call. */
static const char *findings(struct db *db, const char *date)
{
	static char ring[4][2048];
	static int slot;
	char *out = ring[slot++ % 4];
	struct buf b = BUF_INIT;
	struct db_stmt *st = NULL;
	char *sql = xasprintf("SELECT kind, key, status FROM discrepancies WHERE mchid = '" MCH
	                      "' AND date = '%s' ORDER BY kind, key",
	                      date);

	if (db_prepare(db, sql, &st, &err) < 0)
		exit(99);
	while (db_step(st) == DB_ROW)
		buf_addf(&b, "%s %s %s\n", db_col_text(st, 0), db_col_text(st, 1),
		         db_col_text(st, 2));
	db_finalize(st);
	free(sql);
	snprintf(out, sizeof(ring[0]), "%s", buf_str(&b));
	buf_release(&b);
	return out;
}

/* Every row of every table of the main database, as text. */
static char *dump(struct db *db)
{
	struct buf b = BUF_INIT;
	struct db_stmt *tables = NULL;

	if (db_prepare(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
	               &tables, &err) < 0)
		exit(99);
	while (db_step(tables) == DB_ROW) {
		char *sql = xasprintf("SELECT * FROM \"%s\"", db_col_text(tables, 0));
		struct db_stmt *st = NULL;

		buf_addf(&b, "[%s]\n", db_col_text(tables, 0));
		if (db_prepare(db, sql, &st, &err) < 0)
			exit(99);
		while (db_step(st) == DB_ROW) {
			for (int i = 0; i < db_col_count(st); i++)
				buf_addf(&b, "%s|", db_col_text(st, i));
			buf_addc(&b, '\n');
		}
		db_finalize(st);
		free(sql);
	}
	db_finalize(tables);
	return buf_detach(&b, NULL);
}

/* A clean day: two payments (one partly refunded), one refund, fees and
 * fund flow that agree. Returns the closing balance. */
static int64_t clean_day(struct db *db, const char *date, const char *tag, int64_t bal)
{
	char otn1[32], otn2[32], txn1[48], txn2[48], orn[32], rid[48], at1[40], at2[40];
	int64_t tf, ff;

	snprintf(otn1, sizeof(otn1), "A%s1", tag);
	snprintf(otn2, sizeof(otn2), "A%s2", tag);
	snprintf(txn1, sizeof(txn1), "4200%s1", tag);
	snprintf(txn2, sizeof(txn2), "4200%s2", tag);
	snprintf(orn, sizeof(orn), "RA%s1", tag);
	snprintf(rid, sizeof(rid), "5030%s1", tag);
	snprintf(at1, sizeof(at1), "%sT09:00:00+08:00", date);
	snprintf(at2, sizeof(at2), "%sT10:00:00+08:00", date);
	fx_order(db, otn1, txn1, 1000, "PARTIAL_REFUNDED", at1, NULL);
	fx_order(db, otn2, txn2, 2500, "PAID", at2, NULL);
	fx_refund(db, orn, otn1, rid, 200, "SUCCESS", date);
	tf = fx_bill(db, date, "trade", "ok");
	fx_pay(db, tf, 1, date, "09:00:00", txn1, otn1, 1000, 6000);
	fx_pay(db, tf, 2, date, "10:00:00", txn2, otn2, 2500, 15000);
	fx_bill_refund(db, tf, 3, date, txn1, otn1, rid, orn, 200, "SUCCESS", -1200);
	fx_trade_summary(db, tf);
	ff = fx_bill(db, date, "fundflow", "ok");
	fx_flow(db, ff, 1, date, txn1, "交易", "IN", 1000, bal += 1000);
	fx_flow(db, ff, 2, date, txn1, "扣除交易手续费", "OUT", 6, bal -= 6);
	fx_flow(db, ff, 3, date, txn2, "交易", "IN", 2500, bal += 2500);
	fx_flow(db, ff, 4, date, txn2, "扣除交易手续费", "OUT", 15, bal -= 15);
	fx_flow(db, ff, 5, date, rid, "退款", "OUT", 200, bal -= 200);
	fx_flow(db, ff, 6, date, rid, "退还交易手续费", "IN", 1, bal += 1);
	fx_fund_summary(db, ff);
	return bal;
}

static void test_fee_rounding(void)
{
	is_int(recon_fee_to_fen(0), 0, "fee 0");
	is_int(recon_fee_to_fen(15000), 15, "fee 0.15000 -> 15 fen");
	is_int(recon_fee_to_fen(499), 0, "fee 0.00499 -> 0");
	is_int(recon_fee_to_fen(500), 1, "fee 0.00500 -> 1 (half away from zero)");
	is_int(recon_fee_to_fen(1499), 1, "fee 0.01499 -> 1");
	is_int(recon_fee_to_fen(1500), 2, "fee 0.01500 -> 2");
	is_int(recon_fee_to_fen(-500), -1, "fee -0.00500 -> -1");
	is_int(recon_fee_to_fen(-1200), -1, "fee -0.01200 -> -1");
	is_int(recon_fee_to_fen(-1500), -2, "fee -0.01500 -> -2");
	is_str(recon_kind_name(RECON_FEE_MISMATCH), "FEE_MISMATCH", "kind names");
	is_int(recon_kind_from_name("BILL_MISSING"), RECON_BILL_MISSING, "kind by name");
	is_int(recon_kind_from_name("NOPE"), -1, "unknown kind");
}

static void count_day(void *ctx, const char *date, const struct recon_result *day)
{
	int *n = ctx;

	(void)date;
	(void)day;
	(*n)++;
}

static void test_clean_days(void)
{
	struct db *db = fx_open();
	struct recon_opts o;
	struct recon_result res;
	struct recon_day_totals t;
	int64_t bal;
	int calls = 0;

	bal = clean_day(db, DPREV, "p", 10000);
	bal = clean_day(db, D, "d", bal);
	clean_day(db, DNEXT, "n", bal);
	fx_opts(&o, 1);
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "clean day reconciles");
	is_int(res.total.open + res.total.resolved + res.total.auto_resolved, 0, "no findings");
	is_int(res.opened, 0, "nothing opened");
	ok(!res.needs_attention, "no attention needed");
	is_str(res.trade_bill, "ok", "trade bill ok");
	is_str(res.fundflow_bill, "ok", "fund-flow bill ok");
	is_int(qint(db, "SELECT COUNT(*) FROM discrepancies"), 0, "nothing stored");
	is_int(qint(db, "SELECT COUNT(*) FROM recon_runs WHERE run_id = 1 AND date = '" D "'"), 1,
	       "the run is recorded");
	is_int(qint(db, "SELECT COUNT(*) FROM audit_log WHERE event = 'reconcile.day'"), 1,
	       "and audited");

	/* A range, day by day. */
	{
		struct recon_result sum;

		is_int(reconcile_range(db, &o, DPREV, DNEXT, count_day, &calls, &sum, &err), 0,
		       "range reconciles");
		is_int(calls, 3, "called back for each day");
		is_int(sum.days, 3, "three days");
		is_int(sum.total.open, 0, "all clean");
		ok(reconcile_range(db, &o, DNEXT, DPREV, NULL, NULL, &sum, &err) == WXR_EUSAGE,
		   "from after to is a usage error");
	}

	is_int(recon_day_totals(db, MCH, D, &t, &err), 0, "day totals");
	is_str(t.bill, "ok", "bill ok");
	is_int(t.payments_count, 2, "2 payments");
	is_int(t.payments_amount, 3500, "3500 fen paid");
	is_int(t.refunds_count, 1, "1 refund");
	is_int(t.refunds_amount, 200, "200 fen refunded");
	is_int(t.fees, 19800, "fees 0.19800 yuan");
	is_int(t.net, 3500 - 200 - 20, "net in fen");
	is_int(qint(db, "SELECT payments_amount FROM recon_day_totals_v WHERE date = '" D "'"),
	       3500, "the view agrees");
	is_int(recon_day_totals(db, MCH, "2026-12-01", &t, &err), 0,
	       "totals of a day without bills");
	is_str(t.bill, "missing", "bill missing");
	is_int(t.payments_count, 0, "no payments");

	/* A broken carry: D's first balance does not follow D-1's last. */
	sqlf(db, "UPDATE bill_fundflows SET balance = balance + 5 WHERE bill_date = '" D "'");
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "reconcile with a broken carry");
	is_str(findings(db, D), "BALANCE_DISCONTINUITY F2026-11-01-1 open\n",
	       "BALANCE_DISCONTINUITY across days, at the first line only");
	is_int(qint(db,
	            "SELECT ledger_amount FROM discrepancies WHERE kind = 'BALANCE_DISCONTINUITY'"),
	       qint(db, "SELECT balance FROM bill_fundflows WHERE bill_date = '" DPREV "'"
	                " ORDER BY line DESC LIMIT 1") +
	               1000,
	       "expected balance = previous closing + income");
	ok(res.needs_attention, "attention needed");
	db_close(db);
}

/* Every kind on one day; D-1 and D+1 trade bills stored. */
static void messy_day(struct db *db)
{
	int64_t tp, tf, tn, ff;

	tp = fx_bill(db, DPREV, "trade", "ok");
	fx_order(db, "DUPT", "T-DUP", 300, "PAID", DPREV "T20:00:00+08:00", NULL);
	fx_pay(db, tp, 1, DPREV, "20:00:00", "T-DUP", "DUPT", 300, 0);
	fx_trade_summary(db, tp);
	tn = fx_bill(db, DNEXT, "trade", "empty");
	(void)tn;

	fx_order(db, "OK1", "T-OK1", 1000, "PAID", D "T09:00:00+08:00", NULL);
	fx_order(db, "MP", NULL, 800, "NOTPAY", NULL, NULL);
	fx_order(db, "AM", "T-AM", 1000, "PAID", D "T10:00:00+08:00", NULL);
	fx_order(db, "MIB", "T-MIB", 700, "PAID", D "T11:00:00+08:00", NULL);
	fx_order(db, "D1", "T-D1", 500, "PAID", D "T08:00:00+08:00", "CART-9");
	fx_order(db, "D2", "T-D2", 500, "PAID", D "T08:30:00+08:00", "CART-9");
	fx_refund(db, "RF-OK", "OK1", "R-OK", 100, "SUCCESS", D);
	fx_refund(db, "RF-AM", "OK1", "R-AM", 500, "SUCCESS", D);
	fx_refund(db, "RF-SM", "D1", "R-SM", 100, "PROCESSING", D);
	fx_refund(db, "RF-MIB", "OK1", "R-MIB", 50, "SUCCESS", D);

	tf = fx_bill(db, D, "trade", "ok");
	fx_pay(db, tf, 1, D, "09:00:00", "T-OK1", "OK1", 1000, 6000);
	fx_pay(db, tf, 2, D, "13:00:00", "T-MP", "MP", 800, 0);
	fx_pay(db, tf, 3, D, "10:00:00", "T-AM", "AM", 900, 0);
	fx_pay(db, tf, 4, D, "08:00:00", "T-D1", "D1", 500, 0);
	fx_pay(db, tf, 5, D, "08:30:00", "T-D2", "D2", 500, 0);
	fx_pay(db, tf, 6, D, "07:00:00", "T-DUP", "DUPT", 300, 0);
	fx_pay(db, tf, 7, D, "14:00:00", "T-ML", "ML", 400, 0);
	fx_bill_refund(db, tf, 8, D, "T-OK1", "OK1", "R-OK", "RF-OK", 100, "SUCCESS", 0);
	fx_bill_refund(db, tf, 9, D, "T-OK1", "OK1", "R-AM", "RF-AM", 400, "SUCCESS", 0);
	fx_bill_refund(db, tf, 10, D, "T-D1", "D1", "R-SM", "RF-SM", 100, "SUCCESS", 0);
	fx_bill_refund(db, tf, 11, D, "T-X", "X", "R-ML", "RF-ML", 30, "SUCCESS", 0);
	fx_trade_summary(db, tf);
	sqlf(db, "UPDATE bill_trade_summary SET fee_total = fee_total + 1 WHERE file_id = %" PRId64,
	     tf);

	ff = fx_bill(db, D, "fundflow", "ok");
	fx_flow(db, ff, 1, D, "T-OK1", "交易", "IN", 1000, 11000);
	fx_flow(db, ff, 2, D, "T-OK1", "扣除交易手续费", "OUT", 7, 10993);
	fx_flow(db, ff, 3, D, "T-MP", "交易", "IN", 800, 11800);
	fx_fund_summary(db, ff);
}

static const char messy_expected[] = "AMOUNT_MISMATCH AM open\n"
                                     "BALANCE_DISCONTINUITY F2026-11-01-3 open\n"
                                     "BILL_SUMMARY_MISMATCH trade:fee_total open\n"
                                     "DUPLICATE_PAYMENT D2 open\n"
                                     "DUPLICATE_PAYMENT DUPT open\n"
                                     "FEE_MISMATCH T-OK1 open\n"
                                     "MISSED_PAYMENT MP auto_resolved\n"
                                     "MISSING_IN_BILL MIB open\n"
                                     "MISSING_IN_LEDGER ML open\n"
                                     "REFUND_AMOUNT_MISMATCH RF-AM open\n"
                                     "REFUND_MISSING_IN_BILL RF-MIB open\n"
                                     "REFUND_MISSING_IN_LEDGER RF-ML open\n"
                                     "REFUND_STATUS_MISMATCH RF-SM open\n";

static int count_change(void *ctx, const struct recon_change *c, struct wxr_err *e)
{
	struct buf *b = ctx;

	(void)e;
	buf_addf(b, "%s %s %s", c->event, c->kind, c->key);
	if (strcmp(c->event, "changed") == 0)
		buf_addf(b, " %" PRId64 "->%" PRId64, c->prev_ledger_amount, c->ledger_amount);
	buf_addc(b, '\n');
	return 0;
}

static void test_messy_day_and_lifecycle(void)
{
	struct db *db = fx_open();
	struct recon_opts o;
	struct recon_result res;
	struct audit_verify_result v;
	struct buf ch = BUF_INIT;
	const char *f;
	char *ids1, *ids2;
	int64_t ml_id, am_id;

	messy_day(db);
	fx_opts(&o, 1);
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "messy day reconciles");
	f = findings(db, D);
	is_str(f, messy_expected, "every kind found, with its key");
	is_int(res.opened, 12, "12 opened");
	is_int(res.auto_resolved, 1, "1 auto-resolved");
	is_int(res.total.open, 12, "12 open");
	is_int(res.by_kind[RECON_DUPLICATE_PAYMENT].open, 2, "2 duplicates");
	ok(res.needs_attention, "needs attention");
	is_int(res.pending, 0, "nothing pending (D+1 stored)");

	/* The compared columns. */
	is_int(qint(db, "SELECT ledger_amount FROM discrepancies WHERE kind = 'AMOUNT_MISMATCH'"),
	       1000, "AMOUNT_MISMATCH ledger side");
	is_int(qint(db, "SELECT bill_amount FROM discrepancies WHERE kind = 'AMOUNT_MISMATCH'"),
	       900, "AMOUNT_MISMATCH bill side (订单金额)");
	is_int(qint(db, "SELECT bill_amount FROM discrepancies WHERE kind = 'FEE_MISMATCH'"), 6,
	       "FEE_MISMATCH trade fee in fen");
	is_int(qint(db, "SELECT ledger_amount FROM discrepancies WHERE kind = 'FEE_MISMATCH'"), 7,
	       "FEE_MISMATCH fund-flow fee");
	is_int(qint(db, "SELECT bill_amount - ledger_amount FROM discrepancies"
	                " WHERE kind = 'BILL_SUMMARY_MISMATCH'"),
	       1, "summary vs rows");
	is_int(qint(db,
	            "SELECT ledger_amount FROM discrepancies WHERE kind = 'BALANCE_DISCONTINUITY'"),
	       11793, "expected balance");
	is_str(qstr(db, "SELECT ledger_state || '/' || bill_state FROM discrepancies"
	                " WHERE kind = 'REFUND_STATUS_MISMATCH'"),
	       "PROCESSING/SUCCESS", "refund states");
	is_int(qint(db,
	            "SELECT bill_amount FROM discrepancies WHERE kind = 'REFUND_AMOUNT_MISMATCH'"),
	       400, "refund bill amount (申请退款金额)");
	is_str(qstr(db, "SELECT out_trade_no FROM discrepancies WHERE kind = 'MISSING_IN_LEDGER'"),
	       "ML", "out_trade_no kept");
	is_int(qint(db, "SELECT first_run_id FROM discrepancies WHERE key = 'AM'"), 1, "first run");

	/* MISSED_PAYMENT was marked paid. */
	is_str(qstr(db,
	            "SELECT state || ' ' || transaction_id || ' ' || paid_date || ' ' || paid_at"
	            " FROM ledger_orders WHERE out_trade_no = 'MP'"),
	       "PAID T-MP 2026-11-01 2026-11-01T13:00:00+08:00",
	       "ledger order marked paid from the"
	       " bill");
	is_str(qstr(db, "SELECT state || ' ' || result FROM actions WHERE kind = 'ORDER_MARK_PAID'"
	                " AND target = 'MP'"),
	       "done PAID", "ORDER_MARK_PAID action done");
	is_int(qint(db, "SELECT COUNT(*) FROM audit_log WHERE event = 'ledger.order_paid'"), 1,
	       "ledger change audited");
	is_int(qint(db, "SELECT COUNT(*) FROM audit_log WHERE event = 'action.intent'"), 1,
	       "intent audited");
	is_int(qint(db, "SELECT COUNT(*) FROM audit_log WHERE event = 'discrepancy.opened'"), 12,
	       "each opening audited");
	is_int(qint(db, "SELECT COUNT(*) FROM audit_log WHERE event = 'discrepancy.auto_resolved'"),
	       1, "the auto-resolution audited");
	is_int(qint(db, "SELECT COUNT(*) FROM discrepancy_events WHERE run_id = 1"), 13,
	       "13 events");

	/* Re-run: same rows, nothing new. */
	ids1 = xstrdup(qstr(db, "SELECT group_concat(id) FROM (SELECT id FROM discrepancies"
	                        " ORDER BY kind, key)"));
	fx_opts(&o, 2);
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "re-run");
	ids2 = xstrdup(qstr(db, "SELECT group_concat(id) FROM (SELECT id FROM discrepancies"
	                        " ORDER BY kind, key)"));
	is_str(ids2, ids1, "same ids");
	f = findings(db, D);
	is_str(f, messy_expected, "same findings");
	is_int(res.opened + res.reopened + res.changed + res.resolved + res.auto_resolved, 0,
	       "no changes");
	is_int(res.unchanged, 12, "12 found as they were");
	is_int(qint(db, "SELECT COUNT(*) FROM discrepancies"), 13, "no duplicates");
	is_int(qint(db, "SELECT COUNT(*) FROM discrepancies WHERE status = 'open'"
	                " AND last_run_id = 2"),
	       12, "last_run_id moves on");
	is_int(qint(db, "SELECT COUNT(*) FROM actions WHERE kind = 'ORDER_MARK_PAID'"), 1,
	       "no second mark-paid");
	free(ids1);
	free(ids2);

	/* Run 3: one finding fixed, one changed. */
	ml_id = qint(db, "SELECT id FROM discrepancies WHERE kind = 'MISSING_IN_LEDGER'");
	am_id = qint(db, "SELECT id FROM discrepancies WHERE kind = 'AMOUNT_MISMATCH'");
	fx_order(db, "ML", "T-ML", 400, "PAID", D "T14:00:00+08:00", NULL);
	sqlf(db, "UPDATE ledger_orders SET amount_total = 1100 WHERE out_trade_no = 'AM'");
	fx_opts(&o, 3);
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "run 3");
	is_int(res.resolved, 1, "one went away");
	is_int(res.changed, 1, "one changed");
	is_str(qstr(db,
	            "SELECT status || ' ' || resolved_by || ' ' || resolved_run_id"
	            " FROM discrepancies WHERE id = %" PRId64,
	            ml_id),
	       "resolved reconcile 3", "resolved by the run that saw it go");
	is_int(qint(db, "SELECT ledger_amount FROM discrepancies WHERE id = %" PRId64, am_id), 1100,
	       "amount refreshed");
	is_int(qint(db, "SELECT id FROM discrepancies WHERE kind = 'AMOUNT_MISMATCH'"), am_id,
	       "same row");

	/* Run 4: it comes back. */
	sqlf(db, "DELETE FROM ledger_orders WHERE out_trade_no = 'ML'");
	fx_opts(&o, 4);
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "run 4");
	is_int(res.reopened, 1, "reopened");
	is_str(qstr(db,
	            "SELECT status || ' ' || COALESCE(resolved_by, '-') || ' '"
	            " || COALESCE(resolved_run_id, '-') FROM discrepancies WHERE id = %" PRId64,
	            ml_id),
	       "open - -", "reopened, same id");
	is_int(qint(db, "SELECT COUNT(*) FROM discrepancies WHERE kind = 'MISSING_IN_LEDGER'"), 1,
	       "still one row");

	/* What changed since run 2. */
	is_int(reconcile_changes_since(db, MCH, 2, NULL, NULL, count_change, &ch, &err), 0,
	       "changes since run 2");
	is_str(buf_str(&ch),
	       "changed AMOUNT_MISMATCH AM 1000->1100\n"
	       "resolved MISSING_IN_LEDGER ML\n"
	       "reopened MISSING_IN_LEDGER ML\n",
	       "lists what changed");
	buf_reset(&ch);
	is_int(reconcile_changes_since(db, MCH, 3, D, D, count_change, &ch, &err), 0,
	       "changes since run 3");
	is_str(buf_str(&ch), "reopened MISSING_IN_LEDGER ML\n", "only run 4's");
	buf_reset(&ch);
	is_int(reconcile_changes_since(db, MCH, 4, "2026-12-01", NULL, count_change, &ch, &err), 0,
	       "changes of later dates");
	is_str(buf_str(&ch), "", "none");
	ok(reconcile_changes_since(db, MCH, 99, NULL, NULL, count_change, &ch, &err) ==
	           WXR_ENOTFOUND,
	   "unknown run");

	/* Finance resolves; it stays resolved while unchanged. */
	is_int(reconcile_resolve(db, am_id, "agreed with ops: ledger typo", "alice", &err), 0,
	       "resolve");
	is_str(qstr(db,
	            "SELECT status || '|' || resolution || '|' || resolved_by FROM discrepancies"
	            " WHERE id = %" PRId64,
	            am_id),
	       "resolved|agreed with ops: ledger typo|alice", "resolved with the note");
	is_int(qint(db, "SELECT COUNT(*) FROM audit_log WHERE event = 'discrepancy.resolved'"
	                " AND actor = 'alice'"),
	       1, "audited as alice");
	fx_opts(&o, 5);
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "run 5");
	is_str(status_of(db, D, "AMOUNT_MISMATCH", "AM"), "resolved", "stays resolved");
	is_str(qstr(db, "SELECT resolved_by FROM discrepancies WHERE id = %" PRId64, am_id),
	       "alice", "by alice");
	buf_reset(&ch);
	is_int(reconcile_changes_since(db, MCH, 4, NULL, NULL, count_change, &ch, &err), 0,
	       "changes since run 4");
	is_str(buf_str(&ch), "resolved AMOUNT_MISMATCH AM\n", "the person's resolve is listed");
	sqlf(db, "UPDATE ledger_orders SET amount_total = 1200 WHERE out_trade_no = 'AM'");
	fx_opts(&o, 6);
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "run 6");
	is_str(status_of(db, D, "AMOUNT_MISMATCH", "AM"), "open", "a change reopens it");
	ok(reconcile_resolve(db, 99999, "x", "alice", &err) == WXR_ENOTFOUND, "unknown id");
	ok(reconcile_resolve(db, am_id, "", "alice", &err) == WXR_EUSAGE, "a note is required");

	is_int(audit_verify(db, &v, &err), 0, "audit verifies");
	is_int(v.first_bad, 0, "audit chain intact");
	buf_release(&ch);
	db_close(db);
}

static void test_dry_run(void)
{
	struct db *db = fx_open();
	struct recon_opts o;
	struct recon_result dry, real;
	struct fake fk = { 0, 0, 0, "SUCCESS", 0, 0, "SUCCESS", 0 };
	struct recon_hooks hooks = { fake_order, fake_refund, &fk };
	char *before, *after;

	messy_day(db);
	fx_opts(&o, 1);
	o.dry_run = true;
	o.hooks = &hooks;
	before = dump(db);
	is_int(reconcile_day(db, &o, D, &dry, &err), 0, "dry run");
	after = dump(db);
	ok(strcmp(before, after) == 0, "dry run wrote nothing (every table identical)");
	is_int(fk.refund_calls + fk.order_calls, 0, "and called no hook");
	is_int(dry.opened, 12, "reports 12 to open");
	is_int(dry.auto_resolved, 1, "reports the auto-resolution");
	is_int(dry.total.open, 12, "reports the open total");
	ok(dry.needs_attention, "and that attention would be needed");
	free(after);

	/* A dry run inside the caller's transaction rolls back only its own work. */
	is_int(db_begin(db, &err), 0, "caller's transaction");
	is_int(reconcile_day(db, &o, D, &dry, &err), 0, "dry run in a transaction");
	is_int(db_commit(db, &err), 0, "caller commits");
	after = dump(db);
	ok(strcmp(before, after) == 0, "still nothing written");
	free(after);

	o.dry_run = false;
	o.hooks = NULL;
	is_int(reconcile_day(db, &o, D, &real, &err), 0, "real run");
	is_int(real.opened, dry.opened, "same openings as the dry run");
	is_int(real.auto_resolved, dry.auto_resolved, "same auto-resolutions");
	is_int(qint(db, "SELECT COUNT(*) FROM discrepancies"), 13, "now written");
	free(before);
	db_close(db);
}

/* One missed payment of 1000 fen for order X on D. */
static struct db *missed_setup(const char *ledger_state, bool closed_by_us, int64_t bill_amount)
{
	struct db *db = fx_open();
	int64_t tf;

	fx_order(db, "X", NULL, 1000, ledger_state, NULL, NULL);
	if (closed_by_us)
		sqlf(db, "INSERT INTO actions (mchid, kind, target, state, created_at, updated_at)"
		         " VALUES ('" MCH "', 'ORDER_CLOSE', 'X', 'done', 'x', 'x')");
	tf = fx_bill(db, D, "trade", "ok");
	fx_pay(db, tf, 1, D, "12:00:00", "T-X", "X", bill_amount, 0);
	fx_trade_summary(db, tf);
	fx_bill(db, DNEXT, "trade", "empty");
	return db;
}

static void test_missed_payment_policy(void)
{
	struct recon_opts o;
	struct recon_result res;
	struct db *db;

	/* Policy off. */
	db = missed_setup("NOTPAY", false, 1000);
	fx_opts(&o, 1);
	o.mark_paid_on_missed_notify = false;
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "policy off");
	is_str(status_of(db, D, "MISSED_PAYMENT", "X"), "open", "stays open");
	is_str(qstr(db, "SELECT state FROM ledger_orders WHERE out_trade_no = 'X'"), "NOTPAY",
	       "ledger untouched");
	is_int(qint(db, "SELECT COUNT(*) FROM actions"), 0, "no action");
	db_close(db);

	/* Policy on. */
	db = missed_setup("NOTPAY", false, 1000);
	fx_opts(&o, 1);
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "policy on");
	is_str(status_of(db, D, "MISSED_PAYMENT", "X"), "auto_resolved", "auto-resolved");
	is_str(qstr(db,
	            "SELECT state || ' ' || transaction_id || ' ' || paid_date FROM ledger_orders"
	            " WHERE out_trade_no = 'X'"),
	       "PAID T-X 2026-11-01", "ledger marked paid");
	is_str(qstr(db, "SELECT state FROM actions WHERE kind = 'ORDER_MARK_PAID'"), "done",
	       "action intent -> done");
	is_int(res.actions, 1, "one action");
	ok(!res.needs_attention, "nothing left open");
	ok(strstr(qstr(db, "SELECT resolution FROM discrepancies"), "ORDER_MARK_PAID action") !=
	           NULL,
	   "resolution names the action");
	db_close(db);

	/* A CLOSED order nobody closed (expired): mark paid even under hold. */
	db = missed_setup("CLOSED", false, 1000);
	fx_opts(&o, 1);
	o.paid_after_close = PAID_AFTER_CLOSE_HOLD;
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "closed by timeout");
	is_str(status_of(db, D, "MISSED_PAYMENT", "X"), "auto_resolved",
	       "not closed by us: ordinary mark-paid");
	db_close(db);

	/* Closed by us, mark_paid. */
	db = missed_setup("CLOSED", true, 1000);
	fx_opts(&o, 1);
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "paid after close, mark_paid");
	is_str(status_of(db, D, "MISSED_PAYMENT", "X"), "auto_resolved", "auto-resolved");
	is_str(qstr(db, "SELECT state FROM ledger_orders WHERE out_trade_no = 'X'"), "PAID",
	       "marked paid");
	db_close(db);

	/* Closed by us, hold. */
	db = missed_setup("CLOSED", true, 1000);
	fx_opts(&o, 1);
	o.paid_after_close = PAID_AFTER_CLOSE_HOLD;
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "paid after close, hold");
	is_str(status_of(db, D, "MISSED_PAYMENT", "X"), "open", "held open");
	is_str(qstr(db, "SELECT state FROM ledger_orders WHERE out_trade_no = 'X'"), "CLOSED",
	       "ledger untouched");
	is_int(qint(db, "SELECT COUNT(*) FROM actions"), 1, "no new action");
	ok(strstr(qstr(db, "SELECT detail FROM discrepancies"), "hold") != NULL, "detail says why");
	db_close(db);

	/* Closed by us, refund below approval. */
	db = missed_setup("CLOSED", true, 1000);
	fx_opts(&o, 1);
	o.paid_after_close = PAID_AFTER_CLOSE_REFUND;
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "paid after close, refund");
	is_str(qstr(db, "SELECT state || ' ' || amount FROM actions WHERE kind = 'REFUND'"
	                " AND target = 'PAC-X'"),
	       "intent 1000", "REFUND action filed as intent, stable out_refund_no");
	ok(strstr(qstr(db, "SELECT params FROM actions WHERE kind = 'REFUND'"),
	          "\"out_refund_no\":\"PAC-X\"") != NULL,
	   "params carry the out_refund_no");
	is_str(status_of(db, D, "MISSED_PAYMENT", "X"), "auto_resolved",
	       "auto-resolved by the refund");
	is_str(qstr(db, "SELECT state FROM ledger_orders WHERE out_trade_no = 'X'"), "CLOSED",
	       "ledger stays CLOSED");
	fx_opts(&o, 2);
	o.paid_after_close = PAID_AFTER_CLOSE_REFUND;
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "re-run");
	is_int(qint(db, "SELECT COUNT(*) FROM actions WHERE kind = 'REFUND'"), 1,
	       "never a second refund");
	is_int(res.actions, 0, "no action written on re-run");
	db_close(db);

	/* Closed by us, refund above approval. */
	db = missed_setup("CLOSED", true, 1000);
	fx_opts(&o, 1);
	o.paid_after_close = PAID_AFTER_CLOSE_REFUND;
	o.approval_above = 500;
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "refund above approval");
	is_str(qstr(db, "SELECT state FROM actions WHERE kind = 'REFUND'"), "pending_approval",
	       "held for approval");
	is_str(status_of(db, D, "MISSED_PAYMENT", "X"), "open", "open until approved");
	ok(res.needs_attention, "needs a person");
	sqlf(db, "UPDATE actions SET state = 'intent' WHERE kind = 'REFUND'");
	fx_opts(&o, 2);
	o.paid_after_close = PAID_AFTER_CLOSE_REFUND;
	o.approval_above = 500;
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "after approval");
	is_str(status_of(db, D, "MISSED_PAYMENT", "X"), "auto_resolved", "auto-resolved");
	is_int(res.auto_resolved, 1, "counted");
	db_close(db);

	/* Amounts differ: never marked paid. */
	db = missed_setup("NOTPAY", false, 900);
	fx_opts(&o, 1);
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "amount differs");
	is_str(findings(db, D), "AMOUNT_MISMATCH X open\nMISSED_PAYMENT X open\n",
	       "both findings, both open");
	is_str(qstr(db, "SELECT state FROM ledger_orders WHERE out_trade_no = 'X'"), "NOTPAY",
	       "ledger untouched");
	db_close(db);
}

static void test_cross_day(void)
{
	struct db *db = fx_open();
	struct recon_opts o;
	struct recon_result res;
	struct fake fk = { 0, 0, 0, "SUCCESS", 0, 0, "SUCCESS", 0 };
	struct recon_hooks hooks = { fake_order, NULL, &fk };
	int64_t tf, tn;

	fx_order(db, "LATE", "T-LATE", 600, "PAID", D "T23:59:59+08:00", NULL);
	fx_order(db, "LOST", "T-LOST", 700, "PAID", D "T23:50:00+08:00", NULL);
	fx_order(db, "OK", "T-OK", 100, "PAID", D "T09:00:00+08:00", NULL);
	tf = fx_bill(db, D, "trade", "ok");
	fx_pay(db, tf, 1, D, "09:00:00", "T-OK", "OK", 100, 0);
	fx_trade_summary(db, tf);

	fx_opts(&o, 1);
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "D+1 not stored, offline");
	is_str(findings(db, D), "", "no MISSING_IN_BILL yet");
	is_int(res.pending, 2, "two pending");
	ok(!res.needs_attention, "pending needs nobody");

	fk.order_success_ts = ts_of(DNEXT "T00:00:01+08:00");
	o.hooks = &hooks;
	fx_opts(&o, 2);
	o.hooks = &hooks;
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "query says paid on D+1");
	is_int(fk.order_calls, 2, "both queried");
	is_str(findings(db, D), "", "still pending");
	is_int(res.pending, 2, "two pending");

	fk.order_state = "NOTPAY";
	fk.order_success_ts = 0;
	fx_opts(&o, 3);
	o.hooks = &hooks;
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "query says not paid");
	is_str(findings(db, D), "MISSING_IN_BILL LATE open\nMISSING_IN_BILL LOST open\n",
	       "raised on the query's word");
	ok(strstr(qstr(db, "SELECT detail FROM discrepancies WHERE key = 'LATE'"), "NOTPAY") !=
	           NULL,
	   "detail has the query's answer");

	fk.order_rc = WXR_ENET;
	fx_opts(&o, 4);
	o.hooks = &hooks;
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "query fails");
	is_int(res.query_failures, 2, "failures counted");
	is_int(res.pending, 2, "pending again");
	is_int(res.resolved, 0, "a pending finding is not resolved");
	is_str(status_of(db, D, "MISSING_IN_BILL", "LATE"), "open", "stays open");

	fk.order_rc = WXR_ESIG;
	fx_opts(&o, 5);
	o.hooks = &hooks;
	ok(reconcile_day(db, &o, D, &res, &err) == WXR_ESIG,
	   "an unverifiable answer stops the day");
	ok(strstr(err.msg, "query order") != NULL, "error names the query");
	is_int(qint(db, "SELECT COUNT(*) FROM recon_runs WHERE run_id = 5"), 0, "nothing written");
	fk.order_rc = 0;

	/* D+1's bill arrives with LATE in it. */
	tn = fx_bill(db, DNEXT, "trade", "ok");
	fx_pay(db, tn, 1, DNEXT, "00:00:01", "T-LATE", "LATE", 600, 0);
	fx_trade_summary(db, tn);
	fk.order_calls = 0;
	fx_opts(&o, 6);
	o.hooks = &hooks;
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "D+1 stored");
	is_int(fk.order_calls, 0, "no query once D+1 is stored");
	is_str(status_of(db, D, "MISSING_IN_BILL", "LATE"), "resolved", "LATE found in D+1's bill");
	is_str(status_of(db, D, "MISSING_IN_BILL", "LOST"), "open", "LOST is in neither");
	is_int(res.pending, 0, "nothing pending");
	is_int(reconcile_day(db, &o, DNEXT, &res, &err), 0, "reconcile D+1");
	is_str(findings(db, DNEXT), "", "LATE matches on D+1 (bill date), no finding");

	/* Fresh: D+1 stored first, LATE in it: never raised. */
	db_close(db);
	db = fx_open();
	fx_order(db, "LATE", "T-LATE", 600, "PAID", D "T23:59:59+08:00", NULL);
	tf = fx_bill(db, D, "trade", "empty");
	tn = fx_bill(db, DNEXT, "trade", "ok");
	fx_pay(db, tn, 1, DNEXT, "00:00:01", "T-LATE", "LATE", 600, 0);
	fx_trade_summary(db, tn);
	fx_opts(&o, 1);
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "empty D, LATE on D+1");
	is_str(findings(db, D), "", "no finding");
	(void)tf;
	db_close(db);
}

static void test_refund_hooks(void)
{
	struct db *db = fx_open();
	struct recon_opts o;
	struct recon_result res;
	struct fake fk = { 0, 0, 0, "SUCCESS", 0, 0, "SUCCESS", 0 };
	struct recon_hooks hooks = { NULL, fake_refund, &fk };
	int64_t tf;

	fx_order(db, "P", "T-P", 1000, "PARTIAL_REFUNDED", DPREV "T09:00:00+08:00", NULL);
	fx_refund(db, "RS1", "P", "R-RS1", 100, "PROCESSING", D);
	fx_refund(db, "RS2", "P", "R-RS2", 100, "SUCCESS", D);
	tf = fx_bill(db, D, "trade", "ok");
	fx_bill_refund(db, tf, 1, D, "T-P", "P", "R-RS1", "RS1", 100, "SUCCESS", 0);
	fx_bill_refund(db, tf, 2, D, "T-P", "P", "R-RS2", "RS2", 100, "PROCESSING", 0);
	fx_trade_summary(db, tf);
	fk.refund_success_ts = ts_of(D "T18:05:00+08:00");

	fx_opts(&o, 1);
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "offline");
	is_str(findings(db, D),
	       "REFUND_STATUS_MISMATCH RS1 open\nREFUND_STATUS_MISMATCH RS2 open\n",
	       "without a hook both stay open");

	fx_opts(&o, 2);
	o.hooks = &hooks;
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "with the refund hook");
	is_int(fk.refund_calls, 2, "both queried");
	is_str(findings(db, D),
	       "REFUND_STATUS_MISMATCH RS1 auto_resolved\nREFUND_STATUS_MISMATCH RS2"
	       " auto_resolved\n",
	       "both settled");
	is_str(qstr(db, "SELECT state || ' ' || success_at FROM ledger_refunds"
	                " WHERE out_refund_no = 'RS1'"),
	       "SUCCESS 2026-11-01T18:05:00+08:00", "RS1 synced from the query");
	is_str(qstr(db, "SELECT state || ' ' || result FROM actions WHERE kind = 'REFUND_SYNC'"
	                " AND target = 'RS1'"),
	       "done SUCCESS", "REFUND_SYNC action done");
	is_int(qint(db, "SELECT COUNT(*) FROM actions WHERE target = 'RS2'"), 0,
	       "RS2: the ledger was right, nothing to sync");
	ok(strstr(qstr(db, "SELECT resolution FROM discrepancies WHERE key = 'RS2'"), "snapshot") !=
	           NULL,
	   "resolution says the bill is a snapshot");
	is_int(res.auto_resolved, 2, "two auto-resolved");
	is_int(qint(db, "SELECT COUNT(*) FROM audit_log WHERE event = 'ledger.refund_sync'"), 1,
	       "sync audited");

	fx_opts(&o, 3);
	o.hooks = &hooks;
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "re-run");
	is_int(fk.refund_calls, 2, "settled findings are not queried again");
	is_str(findings(db, D),
	       "REFUND_STATUS_MISMATCH RS1 auto_resolved\nREFUND_STATUS_MISMATCH RS2"
	       " auto_resolved\n",
	       "still settled");
	is_int(res.opened + res.reopened + res.resolved, 0, "no churn");

	/* An unknown refund stays open. */
	fx_refund(db, "RS3", "P", "R-RS3", 100, "PROCESSING", D);
	fx_bill_refund(db, tf, 3, D, "T-P", "P", "R-RS3", "RS3", 100, "SUCCESS", 0);
	sqlf(db, "DELETE FROM bill_trade_summary");
	fx_trade_summary(db, tf);
	fk.refund_rc = WXR_ENOTFOUND;
	fx_opts(&o, 4);
	o.hooks = &hooks;
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "refund unknown to WeChat Pay");
	is_str(status_of(db, D, "REFUND_STATUS_MISMATCH", "RS3"), "open", "stays open");
	is_str(qstr(db, "SELECT state FROM ledger_refunds WHERE out_refund_no = 'RS3'"),
	       "PROCESSING", "ledger untouched");
	fk.refund_rc = 0;
	fk.refund_state = "WEIRD";
	fx_opts(&o, 5);
	o.hooks = &hooks;
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "an unexpected refund status");
	is_str(status_of(db, D, "REFUND_STATUS_MISMATCH", "RS3"), "open", "stays open");
	ok(strstr(qstr(db, "SELECT detail FROM discrepancies WHERE key = 'RS3'"), "WEIRD") != NULL,
	   "detail names it");
	db_close(db);
}

static void test_bill_missing(void)
{
	struct db *db = fx_open();
	struct recon_opts o;
	struct recon_result res;
	int64_t tf;

	fx_order(db, "P", "T-P", 1000, "PAID", D "T09:00:00+08:00", NULL);
	fx_opts(&o, 1);
	o.now_ts = ts_of(DNEXT "T09:00:00+08:00");
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "before the release time");
	is_str(findings(db, D), "", "not missing yet");
	is_str(res.trade_bill, "missing", "bill missing");
	is_int(res.bills_missing, 1, "counted");
	o.now_ts = ts_of("2026-11-03T09:59:59+08:00");
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "within the grace");
	is_str(findings(db, D), "", "not missing yet");
	o.now_ts = ts_of("2026-11-03T10:00:00+08:00");
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "after release + grace");
	is_str(findings(db, D), "BILL_MISSING trade open\n", "BILL_MISSING");
	is_int(qint(db, "SELECT ledger_amount FROM discrepancies"), 1000, "the day's paid amount");
	is_int(reconcile_day(db, &o, "2026-10-20", &res, &err), 0, "a day without activity");
	is_str(findings(db, "2026-10-20"), "", "no bill needed");

	tf = fx_bill(db, D, "trade", "ok");
	fx_pay(db, tf, 1, D, "09:00:00", "T-P", "P", 1000, 0);
	fx_trade_summary(db, tf);
	fx_bill(db, DNEXT, "trade", "empty");
	fx_opts(&o, 2);
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "the bill arrived");
	is_str(findings(db, D), "BILL_MISSING trade resolved\n", "BILL_MISSING resolved");
	db_close(db);
}

static void test_fee_late_line(void)
{
	struct db *db = fx_open();
	struct recon_opts o;
	struct recon_result res;
	int64_t tf, ff, fn;

	fx_order(db, "P", "T-P", 2500, "PAID", D "T09:00:00+08:00", NULL);
	tf = fx_bill(db, D, "trade", "ok");
	fx_pay(db, tf, 1, D, "09:00:00", "T-P", "P", 2500, 15000);
	fx_trade_summary(db, tf);
	ff = fx_bill(db, D, "fundflow", "ok");
	fx_flow(db, ff, 1, D, "T-P", "交易", "IN", 2500, 2500);
	fx_fund_summary(db, ff);
	fx_bill(db, DNEXT, "trade", "empty");
	fn = fx_bill(db, DNEXT, "fundflow", "ok");
	fx_flow(db, fn, 1, DNEXT, "T-P", "扣除交易手续费", "OUT", 16, 2484);
	fx_fund_summary(db, fn);

	fx_opts(&o, 1);
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "D: the fee line is booked later");
	is_str(findings(db, D), "", "no finding on D");
	is_int(reconcile_day(db, &o, DNEXT, &res, &err), 0, "D+1");
	is_str(findings(db, DNEXT), "FEE_MISMATCH T-P open\n",
	       "FEE_MISMATCH dated when the line came");
	is_int(qint(db, "SELECT bill_amount * 100 + ledger_amount FROM discrepancies"), 1516,
	       "15 fen in the trade bill, 16 in the fund flow");
	sqlf(db, "UPDATE bill_fundflows SET amount = 15, balance = 2485 WHERE file_id = %" PRId64,
	     fn);
	sqlf(db, "DELETE FROM bill_fundflow_summary WHERE file_id = %" PRId64, fn);
	fx_fund_summary(db, fn);
	is_int(reconcile_day(db, &o, DNEXT, &res, &err), 0, "fixed");
	is_str(findings(db, DNEXT), "FEE_MISMATCH T-P resolved\n", "resolved");
	db_close(db);
}

static void test_amount_columns(void)
{
	struct db *db = fx_open();
	struct recon_opts o;
	struct recon_result res;
	int64_t tf;

	/* Coupon: 应结订单金额 900 < 订单金额 1000 = ledger: no finding. */
	fx_order(db, "C", "T-C", 1000, "PAID", D "T09:00:00+08:00", NULL);
	/* Legacy layout: no 订单金额 (0), 总金额 in settlement_amount. */
	fx_order(db, "L", "T-L", 800, "PAID", D "T09:10:00+08:00", NULL);
	fx_order(db, "LB", "T-LB", 800, "PAID", D "T09:20:00+08:00", NULL);
	tf = fx_bill(db, D, "trade", "ok");
	fx_pay(db, tf, 1, D, "09:00:00", "T-C", "C", 1000, 0);
	fx_pay(db, tf, 2, D, "09:10:00", "T-L", "L", 800, 0);
	fx_pay(db, tf, 3, D, "09:20:00", "T-LB", "LB", 750, 0);
	sqlf(db, "UPDATE bill_trades SET settlement_amount = 900, coupon_amount = 100"
	         " WHERE out_trade_no = 'C'");
	sqlf(db, "UPDATE bill_trades SET order_amount = 0 WHERE out_trade_no IN ('L', 'LB')");
	fx_trade_summary(db, tf);
	fx_bill(db, DNEXT, "trade", "empty");
	fx_opts(&o, 1);
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "coupons and legacy rows");
	is_str(findings(db, D), "AMOUNT_MISMATCH LB open\n",
	       "订单金额 is compared; legacy rows use 总金额");
	is_int(qint(db, "SELECT bill_amount FROM discrepancies"), 750, "legacy bill amount");

	/* Fallback match by transaction_id. */
	sqlf(db, "UPDATE bill_trades SET out_trade_no = 'C-RENAMED' WHERE out_trade_no = 'C'");
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "matched by transaction_id");
	is_str(status_of(db, D, "MISSING_IN_LEDGER", "C-RENAMED"), "(none)",
	       "not missing in ledger");
	is_str(status_of(db, D, "MISSING_IN_BILL", "C"), "(none)", "not missing in bill");
	db_close(db);
}

int main(void)
{
	test_fee_rounding();
	test_clean_days();
	test_messy_day_and_lifecycle();
	test_dry_run();
	test_missed_payment_policy();
	test_cross_day();
	test_refund_hooks();
	test_bill_missing();
	test_fee_late_line();
	test_amount_columns();
	return done_testing();
}
