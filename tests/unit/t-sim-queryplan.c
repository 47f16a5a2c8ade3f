/*
 * t-sim-queryplan.c - no statement of reconcile, the imports, the sweeps'
 * candidate queries or the reports may cost (rows looked at) x (table size).
 *
 * The real code runs on generated days (wxrecon-sim generate, every planted
 * discrepancy kind, two days of history) while sqlite3_trace_v2 records the
 * text of every statement it runs, so a new statement is checked without
 * being listed here. Each one is then put through EXPLAIN QUERY PLAN twice:
 * as the planner sees a database that was never analysed (what wxrecon
 * runs on) and with the sqlite_stat1 figures of a 1,000,000-row trade day
 * (ANALYZE of `wxrecon-sim generate --rows 1000000` after import and
 * reconcile). A plan fails when it reads ledger_orders, ledger_refunds,
 * bill_trades or bill_fundflows by a full SCAN, or by a SEARCH whose only
 * constraint is the merchant (one merchant is the whole table) or an
 * open-ended range (all of history), unless the allow-list below names that
 * access with a reason (a statement's one driving scan of the day's rows).
 */
#include "tap.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "core/billpipe.h"
#include "core/reconcile.h"
#include "core/report.h"
#include "db/db.h"
#include "db/db_actions.h"
#include "db/db_ledger.h"
#include "db/db_sqlite.h"
#include "sim/sim_bill.h"

#define MCH "1900000001"

static char tmproot[256];

static void bail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void bail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("Bail out! ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	exit(1);
}
static struct wxr_err err = WXR_ERR_INIT;

/* ---- the statements the code runs ---------------------------------------- */

static char **seen;
static size_t nseen, capseen;

/* The indexes some plan read (names, one string "|a|b|...|"). */
static struct buf used_indexes = BUF_INIT;

static int on_trace(unsigned type, void *ctx, void *p, void *x)
{
	const char *sql = x;

	(void)ctx;
	if (type != SQLITE_TRACE_STMT || !sql || strncmp(sql, "--", 2) == 0)
		return 0;
	sql = sqlite3_sql(p) ? sqlite3_sql(p) : sql;
	for (size_t i = 0; i < nseen; i++)
		if (strcmp(seen[i], sql) == 0)
			return 0;
	if (nseen == capseen) {
		capseen = capseen ? 2 * capseen : 64;
		seen = xrealloc(seen, capseen * sizeof(*seen));
	}
	seen[nseen++] = xstrdup(sql);
	return 0;
}

static bool seen_containing(const char *frag)
{
	for (size_t i = 0; i < nseen; i++)
		if (strstr(seen[i], frag))
			return true;
	return false;
}

/* ---- the allow-list -------------------------------------------------------- */

struct allowed {
	const char *sql;    /* a fragment of the statement's text */
	const char *access; /* the start of the plan line */
	const char *why;
};

static const struct allowed allow[] = {
	{ NULL, NULL, NULL },
};

/* ---- reading a plan -------------------------------------------------------- */

static const char *const watched[] = { "ledger_orders", "ledger_refunds", "bill_trades",
	                               "bill_fundflows", NULL };

static bool is_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static bool is_keyword(const char *w, size_t n)
{
	static const char *const kw[] = { "WHERE",  "JOIN",      "LEFT",    "INNER",   "CROSS",
		                          "ON",     "SET",       "USING",   "GROUP",   "ORDER",
		                          "LIMIT",  "VALUES",    "DEFAULT", "NATURAL", "UNION",
		                          "EXCEPT", "INTERSECT", "INDEXED", "NOT",     "AS",
		                          "SELECT", NULL };

	for (size_t i = 0; kw[i]; i++)
		if (strlen(kw[i]) == n && strncasecmp(kw[i], w, n) == 0)
			return true;
	return false;
}

/* True when name (a table or its alias as EXPLAIN QUERY PLAN prints it) is
 * one of the watched tables in sql. An alias used for two tables counts as
 * watched if either is. */
static bool watched_name(const char *sql, const char *name, size_t namelen)
{
	for (size_t t = 0; watched[t]; t++) {
		size_t tl = strlen(watched[t]);

		if (tl == namelen && strncmp(watched[t], name, namelen) == 0)
			return true;
		for (const char *p = sql; (p = strstr(p, watched[t])) != NULL; p += tl) {
			const char *q = p + tl, *w;

			if ((p > sql && is_ident(p[-1])) || is_ident(*q))
				continue;
			for (int k = 0; k < 2; k++) {
				while (*q == ' ' || *q == '\n' || *q == '\t')
					q++;
				w = q;
				while (is_ident(*q))
					q++;
				if (q == w)
					break;
				if ((size_t)(q - w) == 2 && strncasecmp(w, "AS", 2) == 0)
					continue;
				if (!is_keyword(w, (size_t)(q - w)) && (size_t)(q - w) == namelen &&
				    strncmp(w, name, namelen) == 0)
					return true;
				break;
			}
		}
	}
	return false;
}

/* Whether the index is on a watched table; *partial: it has a WHERE clause
 * (holds only the rows a query wants, e.g. the open refunds). */
static bool watched_index(struct db *db, const char *idx, size_t n, bool *partial)
{
	char name[128];
	struct db_stmt *st = NULL;
	bool w = false;

	*partial = false;
	snprintf(name, sizeof(name), "%.*s", (int)n, idx);
	if (db_prepare(db,
	               "SELECT tbl_name, instr(upper(sql), 'WHERE') > 0 FROM sqlite_schema"
	               " WHERE type = 'index' AND name = ?1"
	               " UNION ALL SELECT tbl_name, 0 FROM sqlite_temp_schema"
	               " WHERE type = 'index' AND name = ?1",
	               &st, &err) < 0)
		return false;
	db_bind_text(st, 1, name);
	if (db_step(st) == DB_ROW) {
		for (size_t t = 0; watched[t]; t++)
			if (strcmp(db_col_text(st, 0), watched[t]) == 0)
				w = true;
		*partial = (int)db_col_i64(st, 1) != 0;
	}
	db_finalize(st);
	return w;
}

/* A constraint list "(a=? AND b>? AND b<?)" narrows when it has an equality
 * on a column other than mchid, or a range closed on both sides. */
static bool narrows(const char *cons)
{
	char buf[512];
	char *save = NULL, *term;
	char lo[64] = "", hi[64] = "";
	bool n = false;

	snprintf(buf, sizeof(buf), "%s", cons);
	for (term = strtok_r(buf, "() ", &save); term; term = strtok_r(NULL, "() ", &save)) {
		char *op = strpbrk(term, "=<>");

		if (!op || strcmp(term, "AND") == 0)
			continue;
		if (*op == '=' && strncmp(term, "mchid=", 6) != 0)
			n = true;
		else if (*op == '>')
			snprintf(lo, sizeof(lo), "%.*s", (int)(op - term), term);
		else if (*op == '<')
			snprintf(hi, sizeof(hi), "%.*s", (int)(op - term), term);
	}
	return n || (*lo && strcmp(lo, hi) == 0);
}

/* Why the plan line is a whole-table read of a watched table, or NULL. */
static const char *bad_access(struct db *db, const char *sql, const char *d)
{
	bool scan = strncmp(d, "SCAN ", 5) == 0;
	const char *name, *e, *idx;
	size_t namelen;
	bool partial = false;

	if (!scan && strncmp(d, "SEARCH ", 7) != 0)
		return NULL;
	name = d + (scan ? 5 : 7);
	for (e = name; is_ident(*e); e++)
		;
	namelen = (size_t)(e - name);
	idx = strstr(d, "INDEX ");
	if (idx && strncmp(idx - 8, "PRIMARY ", 8) != 0) {
		const char *ie;

		idx += 6;
		for (ie = idx; is_ident(*ie); ie++)
			;
		if (!watched_index(db, idx, (size_t)(ie - idx), &partial))
			return NULL;
	} else if (!watched_name(sql, name, namelen)) {
		return NULL;
	}
	if (scan)
		return "a full scan";
	e = strchr(d, '(');
	if (!partial && (!e || !narrows(e)))
		return "a search by the merchant or an open range only (the whole table)";
	return NULL;
}

static const struct allowed *allowed_for(const char *sql, const char *d)
{
	for (size_t i = 0; allow[i].sql; i++)
		if (strstr(sql, allow[i].sql) &&
		    strncmp(d, allow[i].access, strlen(allow[i].access)) == 0)
			return &allow[i];
	return NULL;
}

static bool skip_stmt(const char *sql)
{
	static const char *const kw[] = { "BEGIN",   "COMMIT", "ROLLBACK", "SAVEPOINT",
		                          "RELEASE", "PRAGMA", "CREATE",   "DROP",
		                          "ANALYZE", "END",    NULL };

	while (*sql == ' ' || *sql == '\n' || *sql == '\t')
		sql++;
	for (size_t i = 0; kw[i]; i++)
		if (strncasecmp(sql, kw[i], strlen(kw[i])) == 0)
			return true;
	return false;
}

/* EXPLAIN QUERY PLAN of every statement seen; returns how many were bad. */
static int check_plans(struct db *db, const char *pass)
{
	int bad_stmts = 0, checked = 0;

	for (size_t i = 0; i < nseen; i++) {
		struct buf q = BUF_INIT, why = BUF_INIT;
		struct db_stmt *st = NULL;
		int r;

		if (skip_stmt(seen[i]))
			continue;
		buf_addf(&q, "EXPLAIN QUERY PLAN %s", seen[i]);
		r = db_prepare(db, buf_str(&q), &st, &err);
		if (r < 0) {
			ok(0, "explain a statement");
			diag("%s\n  %s", err.msg, seen[i]);
			buf_release(&q);
			bad_stmts++;
			continue;
		}
		while (db_step(st) == DB_ROW) {
			const char *d = db_col_text(st, 3);
			const char *b = bad_access(db, seen[i], d);
			const char *ix = strstr(d, "INDEX ");

			if (ix) {
				size_t k = 6;

				while (is_ident(ix[k]))
					k++;
				buf_addf(&used_indexes, "|%.*s|", (int)(k - 6), ix + 6);
			}

			if (b && !allowed_for(seen[i], d))
				buf_addf(&why, "    %s: %s\n", d, b);
		}
		db_finalize(st);
		checked++;
		if (why.len) {
			bad_stmts++;
			diag("%s: reads a whole table:\n%s  in: %s", pass, buf_str(&why), seen[i]);
		}
		buf_release(&q);
		buf_release(&why);
	}
	ok(checked > 50, "plans checked");
	diag("%s: %d statements checked", pass, checked);
	return bad_stmts;
}

/* ---- a 1,000,000-row day's figures ------------------------------------------ */

/*
 * sqlite_stat1 of a database holding 30 days of 1,000,000-row trade days.
 * Measured on one such day (`wxrecon-sim generate --rows 1000000`: 902,535
 * ledger orders, 96,468 refunds, 1,974,407 fund-flow lines; ledger import,
 * bill import of both bills, reconcile, ANALYZE) and scaled to 30 days: the
 * row counts and the figures of prefixes that do not name the day (mchid,
 * state) times 30; those that name the day (file_id, bill_date, paid_date,
 * created_date) or a key as measured. One day alone would not do: its
 * "rows of the day" are the whole table, so every driving scan would read
 * as a full one.
 */
static const char *const stat1_30d[][3] = {
	{ "bill_trades", "sqlite_autoindex_bill_trades_1", "30000000 1000000 1" },
	{ "bill_trades", "bill_trades_orn", "3000000 3000000 1" },
	{ "bill_trades", "bill_trades_otn", "30000000 30000000 2 1 1" },
	{ "bill_trades", "bill_trades_refund_id", "3000000 1" },
	{ "bill_trades", "bill_trades_txn", "30000000 2 1 1 1" },
	{ "bill_fundflows", "sqlite_autoindex_bill_fundflows_1", "59232210 1974407 1" },
	{ "bill_fundflows", "bill_fundflows_fee_pay", "27000000 1 1 1 1" },
	{ "bill_fundflows", "bill_fundflows_fee_refund", "2600000 1 1 1 1" },
	{ "ledger_orders", "sqlite_autoindex_ledger_orders_1", "27076050 27076050 1" },
	{ "ledger_orders", "ledger_orders_bref", "27076050 27076050 1" },
	{ "ledger_orders", "ledger_orders_paid_date", "27076050 27076050 902535 451268 1 1 1" },
	{ "ledger_orders", "ledger_orders_state", "27076050 27076050 9025350 6" },
	{ "ledger_orders", "ledger_orders_txn", "27076050 1" },
	{ "ledger_refunds", "sqlite_autoindex_ledger_refunds_1", "2894040 2894040 1" },
	{ "ledger_refunds", "ledger_refunds_date", "2894040 2894040 96468" },
	{ "ledger_refunds", "ledger_refunds_refund_id", "2894040 1" },
	{ "ledger_refunds", "ledger_refunds_state", "2894040 2894040 964680" },
	{ "ledger_refunds", "ledger_refunds_trade", "2894040 2894040 1" },
	{ "actions", "sqlite_autoindex_actions_1", "30000 30000 10000 1" },
	{ "actions", "actions_date", "30000 30000 1000" },
	{ "actions", "actions_mchid_state", "30000 30000 6000 1000" },
	{ "actions", "actions_state", "30000 6000" },
	{ "bill_files", "sqlite_autoindex_bill_files_1", "60 60 2 1" },
	{ "discrepancies", "discrepancies_status", "57420 19140 957" },
	{ "discrepancies", "sqlite_autoindex_discrepancies_1", "57420 57420 1914 174 1" },
	{ "discrepancy_events", "discrepancy_events_day", "57420 57420 1914" },
	{ "discrepancy_events", "discrepancy_events_disc", "57420 1" },
	{ NULL, NULL, NULL },
};

static void load_stats(struct db *db)
{
	struct db_stmt *st = NULL;

	if (db_exec(db, "ANALYZE; DELETE FROM sqlite_stat1", &err) < 0 ||
	    db_prepare(db, "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", &st,
	               &err) < 0)
		bail("stat1: %s", err.msg);
	for (size_t i = 0; stat1_30d[i][0]; i++) {
		db_bind_text(st, 1, stat1_30d[i][0]);
		db_bind_text(st, 2, stat1_30d[i][1]);
		db_bind_text(st, 3, stat1_30d[i][2]);
		if (db_step(st) != DB_DONE)
			bail("stat1 insert: %s", (db_error(db, &err, "step"), err.msg));
		db_reset(st);
	}
	db_finalize(st);
	/* Reloads the figures into the planner. */
	if (db_exec(db, "ANALYZE sqlite_schema", &err) < 0)
		bail("stat1 reload: %s", err.msg);
	if (db_prepare(db, "SELECT count(*) FROM sqlite_stat1 WHERE stat LIKE '30000000 %'", &st,
	               &err) < 0)
		bail("stat1: %s", err.msg);
	ok(db_step(st) == DB_ROW && (int)db_col_i64(st, 0) == 3, "the 30-day figures are in place");
	db_finalize(st);
}

/* Every index of the bill tables (a million rows a day each) is read by
 * some statement: one that none reads only slows the import and grows the
 * file. */
static void unused_bill_indexes(struct db *db)
{
	struct db_stmt *st = NULL;
	int unused = 0;

	if (db_prepare(db,
	               "SELECT name FROM sqlite_schema WHERE type = 'index'"
	               " AND tbl_name IN ('bill_trades', 'bill_fundflows')"
	               " AND name NOT LIKE 'sqlite_autoindex_%'",
	               &st, &err) < 0)
		bail("indexes: %s", err.msg);
	while (db_step(st) == DB_ROW) {
		char key[160];

		snprintf(key, sizeof(key), "|%s|", db_col_text(st, 0));
		if (!strstr(buf_str(&used_indexes), key)) {
			diag("index %s is read by no statement", db_col_text(st, 0));
			unused++;
		}
	}
	db_finalize(st);
	is_int(unused, 0, "every index of the bill tables is read by some statement");
}

/* ---- running the code --------------------------------------------------------- */

static int gen_day(const char *date, const char *dir)
{
	char *argv[] = { (char *)"generate", (char *)"--rows", (char *)"400", (char *)"--date",
		         (char *)date,       (char *)"--out",  (char *)dir,   NULL };
	int saved = dup(1), fd = open("/dev/null", O_WRONLY), rc;

	fflush(stdout);
	dup2(fd, 1);
	close(fd);
	rc = sim_gen_main(7, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	return rc;
}

static void import_ledger(struct db *db, const char *dir, const char *name, enum ledger_kind k)
{
	char path[512];
	struct ledger_import_result res;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		bail("open %s", path);
	is_int(ledger_import(db, f, path, k, MCH, 8 * 3600, 0, NULL, &res, &err), 0,
	       "ledger import");
	fclose(f);
}

static void import_bill(struct db *db, const char *dir, const char *date, enum bill_kind k)
{
	char path[512], arch[512];
	struct billpipe_opts o = { MCH, date, k, "import", arch, 0, 0, 0, NULL, NULL };
	struct billpipe_result res;
	int r;

	snprintf(arch, sizeof(arch), "%s/archive", tmproot);
	snprintf(path, sizeof(path), "%s/%s.%s.csv.gz", dir, date,
	         k == BILL_KIND_TRADE ? "trade.ALL" : "fundflow.BASIC");
	r = billpipe_import_file(db, &o, path, NULL, &res, &err);
	ok(r == 0 || r == WXR_EATTENTION, "bill import");
	if (r < 0 && r != WXR_EATTENTION)
		diag("%s", err.msg);
}

static int fake_order(void *ctx, const char *mchid, const char *otn, struct recon_order_answer *out,
                      struct wxr_err *e)
{
	(void)ctx, (void)mchid, (void)e;
	snprintf(out->trade_state, sizeof(out->trade_state), "SUCCESS");
	snprintf(out->transaction_id, sizeof(out->transaction_id), "T-%s", otn);
	out->success_ts = 1796000000;
	return 0;
}

static int fake_refund(void *ctx, const char *mchid, const char *orn,
                       struct recon_refund_answer *out, struct wxr_err *e)
{
	(void)ctx, (void)mchid, (void)e;
	snprintf(out->status, sizeof(out->status), "SUCCESS");
	snprintf(out->refund_id, sizeof(out->refund_id), "R-%s", orn);
	out->success_ts = 1796000000;
	return 0;
}

static void run_everything(struct db *db)
{
	static const char *const days[] = { "2026-11-25", "2026-11-26" };
	struct recon_hooks hooks = { fake_order, fake_refund, NULL };
	struct report_opts ro = { "2026-11-01",    "2026-11-30", MCH, 8 * 3600,
		                  "Asia/Shanghai", "",           NULL };
	struct recon_opts o;
	struct recon_result res;
	struct report *rep = NULL;
	struct sweep_order *so = NULL, one;
	struct sweep_refund *sr = NULL, onr;
	size_t n = 0;
	long total = 0;
	bool found;
	int64_t fen;
	char *tt = NULL, *tid = NULL;

	for (size_t i = 0; i < 2; i++) {
		char dir[300];

		snprintf(dir, sizeof(dir), "%s/%s", tmproot, days[i]);
		if (gen_day(days[i], dir) != 0)
			bail("generate %s", days[i]);
		import_ledger(db, dir, "ledger_orders.csv", LEDGER_ORDERS);
		import_ledger(db, dir, "ledger_refunds.csv", LEDGER_REFUNDS);
		import_bill(db, dir, days[i], BILL_KIND_TRADE);
		import_bill(db, dir, days[i], BILL_KIND_FUNDFLOW);
	}
	recon_opts_init(&o);
	o.mchid = MCH;
	o.release_time_s = 0;
	for (int pass = 0; pass < 2; pass++) {
		o.hooks = pass ? &hooks : NULL;
		for (size_t i = 0; i < 2; i++) {
			int r = reconcile_day(db, &o, days[i], &res, &err);

			ok(r == 0, "reconcile");
			if (r < 0)
				diag("%s", err.msg);
		}
	}
	is_int(actions_order_candidates(db, MCH, 1900000000, 1900000000, 0, &so, &n, &total, &err),
	       0, "order candidates");
	sweep_orders_free(so, n);
	is_int(actions_order_get(db, MCH, "ORD20261126000000001", &one, &found, &err), 0,
	       "order get");
	if (found) {
		free(one.out_trade_no);
		free(one.created_at);
	}
	is_int(actions_order_refunded(db, MCH, "ORD20261126000000001", &fen, &err), 0,
	       "order refunded");
	is_int(actions_bill_payment(db, MCH, "ORD20261126000000001", "", &tt, &tid, &found, &err),
	       0, "bill payment");
	free(tt);
	free(tid);
	is_int(actions_refund_candidates(db, MCH, 0, &sr, &n, &total, &err), 0,
	       "refund candidates");
	sweep_refunds_free(sr, n);
	is_int(actions_refund_get(db, MCH, "RF20261126-1", &onr, &found, &err), 0, "refund get");
	if (found) {
		free(onr.out_refund_no);
		free(onr.out_trade_no);
		free(onr.refund_id);
	}
	is_int(report_load(db, &ro, &rep, &err), 0, "report");
	report_free(rep);
}

int main(void)
{
	struct db *db = NULL;
	char path[300];

	snprintf(tmproot, sizeof(tmproot), "%s/wxr-qp.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmproot))
		bail("mkdtemp");
	snprintf(path, sizeof(path), "%s/q.db", tmproot);
	if (db_open(path, &db, &err) < 0 || db_migrate(db, NULL, &err) < 0)
		bail("db: %s", err.msg);
	sqlite3_trace_v2(db_sqlite_handle(db), SQLITE_TRACE_STMT, on_trace, NULL);
	run_everything(db);
	sqlite3_trace_v2(db_sqlite_handle(db), 0, NULL, NULL);

	ok(seen_containing("UPDATE recon_pay SET lkey"), "reconcile's statements were seen");
	ok(seen_containing("INSERT INTO bill_trades"), "the bill import's were seen");
	ok(seen_containing("ledger_refunds"), "the ledger import's were seen");
	is_int(check_plans(db, "never analysed"), 0, "no whole-table read, no statistics");
	load_stats(db);
	is_int(check_plans(db, "30 days of 1M rows"), 0,
	       "no whole-table read, statistics of 30 days of 1M rows");

	unused_bill_indexes(db);

	db_close(db);
	buf_release(&used_indexes);
	for (size_t i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
	{
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmproot);
		if (system(cmd) != 0)
			diag("could not remove %s", tmproot);
	}
	return done_testing();
}
