/*
 * t-reconcile-bench.c - reconcile a generated day of N payments (default
 * 5000; RECON_BENCH_ROWS=1000000 for the real measurement) in an on-disk
 * database, with a handful of planted discrepancies, and report the time.
 *
 *   RECON_BENCH_ROWS=1000000 build/tests/unit/t-reconcile-bench.t
 */
#include "tap.h"

#include "db/db_sqlite.h"
#include "recon-fixture.h"

#include <sqlite3.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define D "2026-11-01"

static struct wxr_err err = WXR_ERR_INIT;

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

#define SERIES "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %ld) "

static void generate(struct db *db, long n)
{
	int64_t tf, ff;

	sqlf(db, "BEGIN");
	/* Ledger: n paid orders, each with its own business_ref; every 20th refunded 50 fen. */
	sqlf(db,
	     SERIES "INSERT INTO ledger_orders (mchid, out_trade_no, transaction_id, amount_total,"
	            " state, created_at, created_ts, paid_at, paid_ts, paid_date, business_ref,"
	            " updated_at)"
	            " SELECT '" MCH "', printf('O%%09d', i), printf('4200000001202611010%%09d', i),"
	            " 100 + i %% 5000, CASE WHEN i %% 20 = 0 THEN 'PARTIAL_REFUNDED' ELSE 'PAID'"
	            " END,"
	            " '2026-11-01T00:00:00+08:00', 0,"
	            " printf('2026-11-01T%%02d:%%02d:%%02d+08:00', i / 3600 %% 24, i / 60 %% 60, i"
	            " %% 60),"
	            " 0, '" D "', printf('B%%09d', i), 'bench' FROM s",
	     n);
	sqlf(db,
	     SERIES "INSERT INTO ledger_refunds (mchid, out_refund_no, out_trade_no, refund_id,"
	            " amount_refund, state, created_at, created_ts, created_date, updated_at)"
	            " SELECT '" MCH "', printf('R%%09d', i), printf('O%%09d', i),"
	            " printf('5030000001202611010%%09d', i), 50, 'SUCCESS',"
	            " '2026-11-01T20:00:00+08:00', 0, '" D "', 'bench' FROM s WHERE i %% 20 = 0",
	     n);

	/* Trade bill: one SUCCESS row per order (fee 0.6%), one REFUND row per refund. */
	tf = fx_bill(db, D, "trade", "ok");
	sqlf(db,
	     SERIES "INSERT INTO bill_trades (file_id, line, mchid, bill_date, trade_time,"
	            " transaction_id, out_trade_no, trade_type, row_kind, currency,"
	            " settlement_amount, refund_id, out_refund_no, fee, order_amount)"
	            " SELECT %" PRId64 ", i, '" MCH "', '" D "',"
	            " printf('2026-11-01T%%02d:%%02d:%%02d+08:00', i / 3600 %% 24, i / 60 %% 60, i"
	            " %% 60),"
	            " printf('4200000001202611010%%09d', i), printf('O%%09d', i), 'APP', 'SUCCESS',"
	            " 'CNY', 100 + i %% 5000, '0', '0', (100 + i %% 5000) * 6, 100 + i %% 5000 FROM"
	            " s",
	     n, tf);
	sqlf(db,
	     SERIES "INSERT INTO bill_trades (file_id, line, mchid, bill_date, trade_time,"
	            " transaction_id, out_trade_no, trade_type, row_kind, currency, refund_id,"
	            " out_refund_no, refund_amount, refund_status, fee, refund_apply_amount)"
	            " SELECT %" PRId64 ", %ld + i, '" MCH "', '" D "', '2026-11-01T20:00:00+08:00',"
	            " printf('4200000001202611010%%09d', i), printf('O%%09d', i), 'APP', 'REFUND',"
	            " 'CNY', printf('5030000001202611010%%09d', i), printf('R%%09d', i), 50,"
	            " 'SUCCESS', -300, 50 FROM s WHERE i %% 20 = 0",
	     n, tf, n);

	/* Fund flow: income and fee per payment, refund out per refund; running balance. */
	ff = fx_bill(db, D, "fundflow", "ok");
	sqlf(db,
	     SERIES ", l(line, biz_no, biz_type, dir, amount) AS ("
	            "  SELECT 3 * i - 2, printf('4200000001202611010%%09d', i), '交易', 'IN',"
	            "   100 + i %% 5000 FROM s"
	            "  UNION ALL SELECT 3 * i - 1, printf('4200000001202611010%%09d', i),"
	            "   '扣除交易手续费', 'OUT', ((100 + i %% 5000) * 6 + 500) / 1000 FROM s"
	            "  UNION ALL SELECT 3 * i, printf('5030000001202611010%%09d', i), '退款',"
	            " 'OUT', 50"
	            "   FROM s WHERE i %% 20 = 0)"
	            " INSERT INTO bill_fundflows (file_id, line, mchid, bill_date, booked_at,"
	            " biz_no,"
	            " flow_no, biz_name, biz_type, direction, amount, balance)"
	            " SELECT %" PRId64 ", line, '" MCH "', '" D "', '2026-11-01T23:00:00+08:00',"
	            " biz_no,"
	            " printf('F%%012d', line), '交易', biz_type, dir, amount,"
	            " 1000000 + SUM(CASE dir WHEN 'IN' THEN amount ELSE -amount END)"
	            "   OVER (ORDER BY line ROWS UNBOUNDED PRECEDING)"
	            " FROM l",
	     n, ff);
	fx_bill(db, "2026-11-02", "trade", "empty");

	/* Planted: 5 orders missing in the ledger, 5 amounts off, 5 fees off,
	 * 5 payments missing in the bill. */
	sqlf(db, "DELETE FROM ledger_orders WHERE out_trade_no IN"
	         " ('O000000011', 'O000000012', 'O000000013', 'O000000014', 'O000000015')");
	sqlf(db, "UPDATE ledger_orders SET amount_total = amount_total + 1 WHERE out_trade_no IN"
	         " ('O000000031', 'O000000032', 'O000000033', 'O000000034', 'O000000035')");
	sqlf(db, "UPDATE bill_trades SET fee = fee + 1000 WHERE out_trade_no IN"
	         " ('O000000051', 'O000000052', 'O000000053', 'O000000054', 'O000000055')"
	         " AND row_kind = 'SUCCESS'");
	sqlf(db, "DELETE FROM bill_trades WHERE out_trade_no IN"
	         " ('O000000071', 'O000000072', 'O000000073', 'O000000074', 'O000000075')");
	fx_trade_summary(db, tf);
	fx_fund_summary(db, ff);
	sqlf(db, "COMMIT");
	sqlf(db, "ANALYZE");
}

/* RECON_BENCH_TRACE=1: each statement slower than 20 ms, with its time. */
static int trace(unsigned type, void *ctx, void *p, void *x)
{
	int64_t ns = *(int64_t *)x;
	char *sql;

	(void)type;
	(void)ctx;
	if (ns < 20000000)
		return 0;
	sql = sqlite3_expanded_sql(p);
	diag("%6" PRId64 " ms  %.160s", ns / 1000000, sql ? sql : "?");
	sqlite3_free(sql);
	return 0;
}

int main(void)
{
	const char *env = getenv("RECON_BENCH_ROWS");
	long n = env ? strtol(env, NULL, 10) : 5000;
	char path[] = "/tmp/wxr-recon-bench-XXXXXX";
	char *wal, *shm;
	struct db *db = NULL;
	struct recon_opts o;
	struct recon_result res;
	int64_t t0, c0, t_gen, t_run1, t_run2, c_run1, c_run2;
	int fd;

	if (n < 100)
		n = 100;
	fd = mkstemp(path);
	if (fd < 0)
		return 99;
	close(fd);
	wal = xasprintf("%s-wal", path);
	shm = xasprintf("%s-shm", path);
	if (db_open(path, &db, &err) < 0 || db_migrate(db, NULL, &err) < 0) {
		diag("%s", err.msg);
		return 99;
	}
	t0 = ms_now();
	generate(db, n);
	t_gen = ms_now() - t0;
	diag("generated %ld payments, %ld refunds, %ld fund-flow lines in %" PRId64 " ms", n,
	     n / 20, 2 * n + n / 20, t_gen);

	if (getenv("RECON_BENCH_TRACE"))
		sqlite3_trace_v2(db_sqlite_handle(db), SQLITE_TRACE_PROFILE, trace, NULL);
	fx_opts(&o, 1);
	t0 = ms_now();
	c0 = cpu_ms();
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "first run");
	t_run1 = ms_now() - t0;
	c_run1 = cpu_ms() - c0;
	if (err.code)
		diag("%s", err.msg);
	is_int(res.by_kind[RECON_MISSING_IN_LEDGER].open, 5, "5 MISSING_IN_LEDGER");
	is_int(res.by_kind[RECON_AMOUNT_MISMATCH].open, 5, "5 AMOUNT_MISMATCH");
	is_int(res.by_kind[RECON_FEE_MISMATCH].open, 5, "5 FEE_MISMATCH");
	is_int(res.by_kind[RECON_MISSING_IN_BILL].open, 5, "5 MISSING_IN_BILL");
	is_int(res.total.open, 20, "nothing else");
	diag("reconcile of %ld payments: first run %" PRId64 " ms (cpu %" PRId64 " ms)", n, t_run1,
	     c_run1);

	fx_opts(&o, 2);
	t0 = ms_now();
	c0 = cpu_ms();
	is_int(reconcile_day(db, &o, D, &res, &err), 0, "second run");
	t_run2 = ms_now() - t0;
	c_run2 = cpu_ms() - c0;
	is_int(res.unchanged, 20, "re-run finds the same 20");
	diag("reconcile of %ld payments: re-run %" PRId64 " ms (cpu %" PRId64 " ms)", n, t_run2,
	     c_run2);

	db_close(db);
	if (getenv("RECON_BENCH_KEEP"))
		diag("database kept: %s", path);
	else
		unlink(path);
	unlink(wal);
	unlink(shm);
	free(wal);
	free(shm);
	return done_testing();
}
