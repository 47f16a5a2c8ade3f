/*
 * db_report.c - the SQL of the reports (see db_report.h).
 *
 * Every query takes the range as ?1 (from) and ?2 (to), dates as TEXT
 * YYYY-MM-DD (which sort as dates), and the merchant as ?3 ('' = every
 * merchant of the database).
 */
#include "db/db_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"

/* Index of date in rep->days, or -1 when it is not a date of the range. */
static long day_index(const struct report *rep, const char *date)
{
	int64_t a, b;

	if (!date_is_valid(date) || strcmp(date, rep->from) < 0 || strcmp(date, rep->to) > 0)
		return -1;
	if (date_parse(rep->from, 0, &a, NULL) < 0 || date_parse(date, 0, &b, NULL) < 0)
		return -1;
	return (long)((b - a) / 86400);
}

static int prepare_range(struct db *db, const struct report *rep, const char *sql,
                         struct db_stmt **out_st, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r = db_prepare(db, sql, &st, err);

	if (r < 0)
		return r;
	db_bind_text(st, 1, rep->from);
	db_bind_text(st, 2, rep->to);
	db_bind_text(st, 3, rep->mchid);
	*out_st = st;
	return 0;
}

/* The text of column i, as an owned valid-UTF-8 string; NULL for SQL NULL. */
static char *col_utf8_dup(struct db_stmt *st, int i)
{
	const char *s;

	if (db_col_is_null(st, i))
		return NULL;
	s = db_col_text(st, i);
	return report_utf8_dup(s, db_col_bytes(st, i));
}

static bool col_is_null(struct db_stmt *st, int i)
{
	return db_col_is_null(st, i);
}

static void copy_date(char out[CLOCK_DATE_LEN], struct db_stmt *st, int i)
{
	const char *s = db_col_text(st, i);

	snprintf(out, CLOCK_DATE_LEN, "%s", s);
}

int db_report_bills(struct db *db, struct report *rep, struct wxr_err *err)
{
	static const char sql[] = "SELECT bill_date, kind, status, sha1 FROM bill_files"
	                          " WHERE bill_date >= ?1 AND bill_date <= ?2"
	                          " AND (?3 = '' OR mchid = ?3)"
	                          " ORDER BY bill_date, kind, mchid";
	struct db_stmt *st = NULL;
	size_t cap = 0;
	int r;

	r = prepare_range(db, rep, sql, &st, err);
	if (r < 0)
		return r;
	while ((r = db_step(st)) == DB_ROW) {
		struct report_bill_file *bf;
		long i;

		if (rep->nbills == cap) {
			cap = cap ? 2 * cap : 64;
			rep->bills = xreallocarray(rep->bills, cap, sizeof(*rep->bills));
		}
		bf = &rep->bills[rep->nbills++];
		copy_date(bf->date, st, 0);
		bf->kind = col_utf8_dup(st, 1);
		bf->status = col_utf8_dup(st, 2);
		bf->sha1 = col_utf8_dup(st, 3);
		i = day_index(rep, bf->date);
		if (i < 0 || !bf->kind || strcmp(bf->kind, "trade") != 0)
			continue;
		if (bf->status && strcmp(bf->status, "ok") == 0)
			rep->days[i].bill = REPORT_BILL_OK;
		else if (rep->days[i].bill == REPORT_BILL_MISSING)
			rep->days[i].bill = REPORT_BILL_EMPTY;
	}
	if (r != DB_DONE) {
		r = db_error(db, err, "read bill_files");
		goto out;
	}
	r = 0;
out:
	db_finalize(st);
	return r;
}

int db_report_trades(struct db *db, struct report *rep, struct wxr_err *err)
{
	/* The bill files of the range first (a handful of rows), then their
	 * rows by primary key (file_id, line): the month asked for is read,
	 * not the whole table. */
	static const char sql[] =
	        "SELECT f.bill_date, s.pay_n, s.pay, s.ref_n, s.ref, s.fee"
	        " FROM bill_files f JOIN ("
	        "  SELECT t.file_id,"
	        "   SUM(CASE WHEN t.row_kind = 'SUCCESS' THEN 1 ELSE 0 END) AS pay_n,"
	        "   SUM(CASE WHEN t.row_kind = 'SUCCESS' THEN t.settlement_amount ELSE 0 END) AS "
	        "pay,"
	        "   SUM(CASE WHEN t.row_kind = 'REFUND' THEN 1 ELSE 0 END) AS ref_n,"
	        "   SUM(CASE WHEN t.row_kind = 'REFUND' THEN t.refund_amount ELSE 0 END) AS ref,"
	        "   SUM(t.fee) AS fee"
	        "  FROM bill_trades t"
	        "  WHERE t.file_id IN (SELECT id FROM bill_files WHERE kind = 'trade'"
	        "   AND bill_date >= ?1 AND bill_date <= ?2 AND (?3 = '' OR mchid = ?3))"
	        "  GROUP BY t.file_id) s ON s.file_id = f.id"
	        /* a pruned bill (schema 014): the totals its rows had */
	        " UNION ALL SELECT bill_date, pruned_pay_count, pruned_pay, pruned_refund_count,"
	        "  pruned_refund, pruned_fee FROM bill_files WHERE kind = 'trade'"
	        "  AND pruned_at IS NOT NULL AND bill_date >= ?1 AND bill_date <= ?2"
	        "  AND (?3 = '' OR mchid = ?3)"
	        " ORDER BY 1";
	struct db_stmt *st = NULL;
	int r;

	r = prepare_range(db, rep, sql, &st, err);
	if (r < 0)
		return r;
	while ((r = db_step(st)) == DB_ROW) {
		long i = day_index(rep, db_col_text(st, 0));
		struct report_day *d;

		if (i < 0)
			continue;
		/* += : with every merchant (mchid ''), a date can have several files */
		d = &rep->days[i];
		d->pay_count += db_col_i64(st, 1);
		d->pay_fen += db_col_i64(st, 2);
		d->refund_count += db_col_i64(st, 3);
		d->refund_fen += db_col_i64(st, 4);
		d->fees_e5 += db_col_i64(st, 5);
	}
	if (r != DB_DONE) {
		r = db_error(db, err, "sum bill_trades");
		goto out;
	}
	r = 0;
out:
	db_finalize(st);
	return r;
}

#define STATUS_COUNTS                                                \
	" SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END),"         \
	" SUM(CASE WHEN status = 'resolved' THEN 1 ELSE 0 END),"     \
	" SUM(CASE WHEN status = 'auto_resolved' THEN 1 ELSE 0 END)" \
	" FROM discrepancies WHERE date >= ?1 AND date <= ?2 AND (?3 = '' OR mchid = ?3)"

static void read_counts(struct db_stmt *st, int first, struct report_counts *c)
{
	c->open = db_col_i64(st, first);
	c->resolved = db_col_i64(st, first + 1);
	c->auto_resolved = db_col_i64(st, first + 2);
}

static int disc_per_day(struct db *db, struct report *rep, struct wxr_err *err)
{
	static const char sql[] = "SELECT date," STATUS_COUNTS " GROUP BY date";
	struct db_stmt *st = NULL;
	int r;

	r = prepare_range(db, rep, sql, &st, err);
	if (r < 0)
		return r;
	while ((r = db_step(st)) == DB_ROW) {
		long i = day_index(rep, db_col_text(st, 0));

		if (i >= 0)
			read_counts(st, 1, &rep->days[i].disc);
	}
	if (r != DB_DONE) {
		r = db_error(db, err, "count discrepancies");
		goto out;
	}
	r = 0;
out:
	db_finalize(st);
	return r;
}

static int disc_per_kind(struct db *db, struct report *rep, struct wxr_err *err)
{
	static const char sql[] = "SELECT kind," STATUS_COUNTS " GROUP BY kind ORDER BY kind";
	struct db_stmt *st = NULL;
	size_t cap = 0;
	int r;

	r = prepare_range(db, rep, sql, &st, err);
	if (r < 0)
		return r;
	while ((r = db_step(st)) == DB_ROW) {
		struct report_kind *k;

		if (rep->nkinds == cap) {
			cap = cap ? 2 * cap : 16;
			rep->kinds = xreallocarray(rep->kinds, cap, sizeof(*rep->kinds));
		}
		k = &rep->kinds[rep->nkinds++];
		k->kind = col_utf8_dup(st, 0);
		if (!k->kind)
			k->kind = xstrdup("");
		read_counts(st, 1, &k->c);
	}
	if (r != DB_DONE) {
		r = db_error(db, err, "count discrepancies by kind");
		goto out;
	}
	r = 0;
out:
	db_finalize(st);
	return r;
}

/* How many discrepancies the range has, and the runs behind them (their listing is
 * streamed while the report is written: report_each_disc). */
static int disc_count_runs(struct db *db, struct report *rep, struct wxr_err *err)
{
	static const char count_sql[] =
	        "SELECT COUNT(*) FROM discrepancies"
	        " WHERE date >= ?1 AND date <= ?2 AND (?3 = '' OR mchid = ?3)";
#define RUN_OF(col)                                                               \
	" SELECT " col " AS r FROM discrepancies WHERE date >= ?1 AND date <= ?2" \
	" AND (?3 = '' OR mchid = ?3) AND " col " IS NOT NULL"
	static const char runs_sql[] = "SELECT r FROM (" RUN_OF("first_run_id") " UNION" RUN_OF(
	        "last_run_id") " UNION" RUN_OF("resolved_run_id") ") u ORDER BY r";
#undef RUN_OF
	struct db_stmt *st = NULL;
	size_t rcap = rep->nruns;
	int r;

	r = prepare_range(db, rep, count_sql, &st, err);
	if (r < 0)
		return r;
	if (db_step(st) != DB_ROW) {
		r = db_error(db, err, "count discrepancies");
		goto out;
	}
	rep->ndiscs = (size_t)db_col_i64(st, 0);
	db_finalize(st);
	st = NULL;
	r = prepare_range(db, rep, runs_sql, &st, err);
	if (r < 0)
		return r;
	while ((r = db_step(st)) == DB_ROW) {
		if (rep->nruns == rcap) {
			rcap = rcap ? 2 * rcap : 64;
			rep->runs = xreallocarray(rep->runs, rcap, sizeof(*rep->runs));
		}
		rep->runs[rep->nruns++] = db_col_i64(st, 0);
	}
	if (r != DB_DONE) {
		r = db_error(db, err, "read the runs of the discrepancies");
		goto out;
	}
	r = 0;
out:
	db_finalize(st);
	return r;
}

int db_report_discrepancies(struct db *db, struct report *rep, struct wxr_err *err)
{
	int r = disc_per_day(db, rep, err);

	if (r < 0)
		return r;
	r = disc_per_kind(db, rep, err);
	if (r < 0)
		return r;
	return disc_count_runs(db, rep, err);
}

/* The local date of an RFC 3339 time, or "" when it does not parse. */
static void local_date(const char *rfc3339, int tz_offset_s, char out[CLOCK_DATE_LEN])
{
	int64_t ts;

	out[0] = '\0';
	if (rfc3339 && time_parse_rfc3339(rfc3339, &ts, NULL) >= 0)
		time_date(ts, tz_offset_s, out);
}

int db_report_actions(struct db *db, struct report *rep, struct wxr_err *err)
{
	/*
	 * An action belongs to the range when its business date (the date of
	 * the payment or refund it concerns: the ledger's paid_date or the
	 * order's local creation date, the refund's created_date; the
	 * action's own date when the ledger does not know the target) lies in
	 * it, or when a run that reconciled days of the range took it: the
	 * nightly run's closes are dated the night they were taken, after the
	 * range, and belong to the range's report all the same. One SELECT
	 * over actions: each action once. Column 11 says whether the action
	 * has neither a date nor a dated run: those belong to the range when
	 * created_at falls in it, which needs the timezone and is decided
	 * below. ?4 is the timezone's offset in seconds.
	 */
	static const char sql[] =
	        "SELECT a.id, a.kind, a.target, a.state, a.result, a.error, a.run_id, a.amount,"
	        " a.bdate, a.updated_at, a.created_at,"
	        " CASE WHEN a.bdate IS NULL AND r.date_from IS NULL THEN 1 ELSE 0 END"
	        " FROM (SELECT x.*, COALESCE(CASE WHEN x.kind IN ('ORDER_CLOSE', 'ORDER_MARK_PAID')"
	        "   THEN (SELECT COALESCE(o.paid_date, date(o.created_ts + ?4, 'unixepoch'))"
	        "         FROM ledger_orders o WHERE o.mchid = x.mchid AND o.out_trade_no = "
	        "x.target)"
	        "   ELSE (SELECT f.created_date FROM ledger_refunds f"
	        "         WHERE f.mchid = x.mchid AND f.out_refund_no = x.target) END,"
	        "   x.date) AS bdate"
	        "  FROM actions x WHERE (?3 = '' OR x.mchid = ?3)) a"
	        " LEFT JOIN job_runs r ON r.id = a.run_id"
	        " WHERE (a.bdate >= ?1 AND a.bdate <= ?2)"
	        "  OR (r.date_from IS NOT NULL AND r.date_from <= ?2"
	        "      AND COALESCE(r.date_to, r.date_from) >= ?1)"
	        "  OR (a.bdate IS NULL AND r.date_from IS NULL)"
	        " ORDER BY a.id";
	struct db_stmt *st = NULL;
	size_t cap = 0, rcap = rep->nruns;
	int r;

	r = prepare_range(db, rep, sql, &st, err);
	if (r < 0)
		return r;
	db_bind_i64(st, 4, rep->tz_offset_s);
	while ((r = db_step(st)) == DB_ROW) {
		struct report_action *a;

		if ((int)db_col_i64(st, 11)) {
			char day[CLOCK_DATE_LEN];

			local_date(db_col_text(st, 10), rep->tz_offset_s, day);
			if (!day[0] || strcmp(day, rep->from) < 0 || strcmp(day, rep->to) > 0)
				continue;
		}
		if (rep->nactions == cap) {
			cap = cap ? 2 * cap : 64;
			rep->actions = xreallocarray(rep->actions, cap, sizeof(*rep->actions));
		}
		a = &rep->actions[rep->nactions++];
		memset(a, 0, sizeof(*a));
		a->id = db_col_i64(st, 0);
		a->kind = col_utf8_dup(st, 1);
		a->target = col_utf8_dup(st, 2);
		a->state = col_utf8_dup(st, 3);
		a->result = col_utf8_dup(st, 4);
		a->error = col_utf8_dup(st, 5);
		a->has_run_id = !col_is_null(st, 6);
		a->run_id = db_col_i64(st, 6);
		a->has_amount = !col_is_null(st, 7);
		a->amount = db_col_i64(st, 7);
		a->date = col_utf8_dup(st, 8);
		a->at = col_utf8_dup(st, 9);
		/* "at" in the configured timezone, like every time a person reads */
		if (a->at) {
			char buf[CLOCK_RFC3339_LEN];
			char *at = xstrdup(report_local_time(a->at, rep->tz_offset_s, buf));

			free(a->at);
			a->at = at;
		}
		if (a->has_run_id) {
			if (rep->nruns >= rcap) {
				rcap = rcap ? 2 * rcap : 64;
				rep->runs = xreallocarray(rep->runs, rcap, sizeof(*rep->runs));
			}
			rep->runs[rep->nruns++] = a->run_id;
		}
	}
	if (r != DB_DONE) {
		r = db_error(db, err, "read actions");
		goto out;
	}
	r = 0;
out:
	db_finalize(st);
	return r;
}

int db_report_index_row(struct db *db, struct report_index_row *row, const char *mchid,
                        struct wxr_err *err)
{
	static const char sql[] =
	        "SELECT"
	        " (SELECT id FROM job_runs WHERE job = ?4 AND date_from = ?1 AND date_to = ?2"
	        "   AND (?3 = '' OR mchid = ?3) ORDER BY id DESC LIMIT 1),"
	        " (SELECT state FROM job_runs WHERE job = ?4 AND date_from = ?1 AND date_to = ?2"
	        "   AND (?3 = '' OR mchid = ?3) ORDER BY id DESC LIMIT 1),"
	        " (SELECT count(*) FROM discrepancies WHERE date >= ?1 AND date <= ?2"
	        "   AND status = 'open' AND (?3 = '' OR mchid = ?3)),"
	        " (SELECT count(DISTINCT bill_date) FROM bill_files WHERE kind = 'trade'"
	        "   AND bill_date >= ?1 AND bill_date <= ?2 AND (?3 = '' OR mchid = ?3))";
	struct db_stmt *st = NULL;
	int64_t a, b;
	int r;

	if (date_parse(row->from, 0, &a, err) < 0 || date_parse(row->to, 0, &b, err) < 0)
		return WXR_EDATA;
	r = db_prepare(db, sql, &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, row->from);
	db_bind_text(st, 2, row->to);
	db_bind_text(st, 3, mchid);
	db_bind_text(st, 4, row->job);
	if (db_step(st) != DB_ROW) {
		r = db_error(db, err, "read the reports' runs");
		goto out;
	}
	row->run_id = db_col_i64(st, 0);
	snprintf(row->state, sizeof(row->state), "%s", db_col_text(st, 1));
	row->open = db_col_i64(st, 2);
	row->missing = (b - a) / 86400 + 1 - db_col_i64(st, 3);
	r = 0;
out:
	db_finalize(st);
	return r;
}
