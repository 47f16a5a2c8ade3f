/*
 * recon_state.c - the discrepancy state machine of the reconciliation
 * engine (db_reconcile.h): the auto-resolution inputs, the actions and
 * ledger changes it takes, merging a day's findings into discrepancies and
 * their events, runs, a person's resolve, the day totals, the transaction.
 */
#include "db/db_reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/money.h"
#include "base/xalloc.h"
#include "db/recon_sql.h"

/* ---- auto-resolution inputs ------------------------------------------------ */

int db_recon_missed(struct db *db, const struct db_recon_day *day, struct db_recon_missed **out,
                    size_t *out_n, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	struct db_recon_missed *v = NULL;
	size_t n = 0, cap = 0;
	int r;

	r = recon_prepare_day(db, day,
	                      "SELECT f.key, f.ledger_key, COALESCE(f.transaction_id, ''),"
	                      " COALESCE(f.bill_time, ''), COALESCE(f.ledger_state, ''),"
	                      " f.ledger_amount, f.bill_amount,"
	                      " EXISTS (SELECT 1 FROM actions a WHERE a.mchid = :m"
	                      "   AND a.kind = 'ORDER_CLOSE' AND a.target = f.ledger_key"
	                      "   AND a.state IN ('sent', 'done'))"
	                      " FROM recon_found f WHERE f.kind = 'MISSED_PAYMENT' ORDER BY f.key",
	                      &st, err);
	if (r < 0)
		return r;
	while ((r = db_step(st)) == DB_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n].key = recon_col_dup(st, 0);
		v[n].ledger_key = recon_col_dup(st, 1);
		v[n].transaction_id = recon_col_dup(st, 2);
		v[n].bill_time = recon_col_dup(st, 3);
		v[n].ledger_state = recon_col_dup(st, 4);
		v[n].ledger_amount = recon_col_amount(st, 5);
		v[n].bill_amount = recon_col_amount(st, 6);
		v[n].closed_by_us = (int)db_col_i64(st, 7) != 0;
		n++;
	}
	if (r != DB_DONE) {
		r = db_error(db, err, "read MISSED_PAYMENT findings");
		db_recon_missed_free(v, n);
		goto out;
	}
	*out = v;
	*out_n = n;
	r = 0;
out:
	db_finalize(st);
	return r;
}

void db_recon_missed_free(struct db_recon_missed *m, size_t n)
{
	if (!m)
		return;
	for (size_t i = 0; i < n; i++) {
		free(m[i].key);
		free(m[i].ledger_key);
		free(m[i].transaction_id);
		free(m[i].bill_time);
		free(m[i].ledger_state);
	}
	free(m);
}

int db_recon_rstatus(struct db *db, struct db_recon_rstatus **out, size_t *out_n,
                     struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	struct db_recon_rstatus *v = NULL;
	size_t n = 0, cap = 0;
	int r;

	r = db_prepare(db,
	               "SELECT f.key, f.ledger_key, COALESCE(f.ledger_state, ''),"
	               " COALESCE(f.bill_state, ''), COALESCE(a.state, ''), COALESCE(a.ext_id, ''),"
	               " COALESCE(a.success_ts, 0)"
	               " FROM recon_found f"
	               " JOIN recon_answers a ON a.kind = 'refund' AND a.key = f.key AND a.ok = 1"
	               " WHERE f.kind = 'REFUND_STATUS_MISMATCH' ORDER BY f.key",
	               &st, err);
	if (r < 0)
		return r;
	while ((r = db_step(st)) == DB_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n].key = recon_col_dup(st, 0);
		v[n].ledger_key = recon_col_dup(st, 1);
		v[n].ledger_state = recon_col_dup(st, 2);
		v[n].bill_state = recon_col_dup(st, 3);
		v[n].answer_state = recon_col_dup(st, 4);
		v[n].answer_refund_id = recon_col_dup(st, 5);
		v[n].answer_success_ts = db_col_i64(st, 6);
		n++;
	}
	if (r != DB_DONE) {
		r = db_error(db, err, "read REFUND_STATUS_MISMATCH findings");
		db_recon_rstatus_free(v, n);
		goto out;
	}
	*out = v;
	*out_n = n;
	r = 0;
out:
	db_finalize(st);
	return r;
}

void db_recon_rstatus_free(struct db_recon_rstatus *r, size_t n)
{
	if (!r)
		return;
	for (size_t i = 0; i < n; i++) {
		free(r[i].key);
		free(r[i].ledger_key);
		free(r[i].ledger_state);
		free(r[i].bill_state);
		free(r[i].answer_state);
		free(r[i].answer_refund_id);
	}
	free(r);
}

/* ---- actions and ledger changes -------------------------------------------- */

/* The id and state of the day's merchant's action KIND on TARGET, if any. */
static int action_find(struct db *db, const struct db_recon_day *day, const char *kind,
                       const char *target, int64_t *out_id, char out_state[24], bool *out_found,
                       struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = recon_prepare_day(db, day,
	                      "SELECT id, state FROM actions WHERE mchid = :m AND kind = :kind"
	                      " AND target = :target",
	                      &st, err);
	if (r < 0)
		return r;
	recon_bind_text(st, ":kind", kind);
	recon_bind_text(st, ":target", target);
	r = db_step(st);
	*out_found = r == DB_ROW;
	if (r == DB_ROW) {
		*out_id = db_col_i64(st, 0);
		snprintf(out_state, 24, "%s", db_col_text(st, 1));
		r = 0;
	} else if (r == DB_DONE) {
		r = 0;
	} else {
		r = db_error(db, err, "read action");
	}
	db_finalize(st);
	return r;
}

int db_recon_action_put(struct db *db, const struct db_recon_day *day, const char *kind,
                        const char *target, const char *state, int64_t amount, const char *params,
                        bool rearm, int64_t *out_id, char out_state[24], bool *out_written,
                        struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	bool written, found;
	int64_t id = 0;
	char cur[24] = "";
	int r;

	/* Look first: PostgreSQL's ON CONFLICT DO NOTHING takes an id from the
	 * sequence even when nothing is inserted, and the ids would then differ
	 * from SQLite's (the reports show them). The conflict clause stays for a
	 * concurrent worker. */
	r = action_find(db, day, kind, target, &id, cur, &found, err);
	if (r < 0)
		return r;
	written = false;
	if (!found) {
		r = recon_prepare_day(
		        db, day,
		        "INSERT INTO actions (mchid, kind, target, state, amount, date,"
		        " params, run_id, created_at, updated_at)"
		        " VALUES (:m, :kind, :target, :state, :amount, :d, :params, :run,"
		        " :now, :now)"
		        " ON CONFLICT (mchid, kind, target) DO NOTHING",
		        &st, err);
		if (r < 0)
			return r;
		recon_bind_text(st, ":kind", kind);
		recon_bind_text(st, ":target", target);
		recon_bind_text(st, ":state", state);
		recon_bind_amount(st, ":amount", amount);
		recon_bind_text(st, ":params", params);
		r = recon_finish(db, st, "write action", err);
		if (r < 0)
			return r;
		written = db_changes(db) > 0;
		r = action_find(db, day, kind, target, &id, cur, &found, err);
		if (r < 0)
			return r;
		if (!found)
			return err_set(err, WXR_EDB, "action %s '%s' vanished", kind, target);
	}

	if (!written && rearm && (strcmp(cur, "done") == 0 || strcmp(cur, "failed") == 0)) {
		r = recon_prepare_day(
		        db, day,
		        "UPDATE actions SET state = :state, amount = :amount, params ="
		        " :params,"
		        " date = :d, result = NULL, error = NULL,"
		        " run_id = COALESCE(:run, run_id), updated_at = :now WHERE id ="
		        " :id",
		        &st, err);
		if (r < 0)
			return r;
		recon_bind_text(st, ":state", state);
		recon_bind_amount(st, ":amount", amount);
		recon_bind_text(st, ":params", params);
		recon_bind_int(st, ":id", id);
		r = recon_finish(db, st, "rearm action", err);
		if (r < 0)
			return r;
		written = true;
		snprintf(cur, sizeof(cur), "%s", state);
	}
	*out_id = id;
	memcpy(out_state, cur, sizeof(cur));
	*out_written = written;
	return 0;
}

int db_recon_action_done(struct db *db, const struct db_recon_day *day, int64_t id,
                         const char *result, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = recon_prepare_day(db, day,
	                      "UPDATE actions SET state = 'done', result = :result, error = NULL,"
	                      " run_id = COALESCE(:run, run_id), updated_at = :now WHERE id = :id",
	                      &st, err);
	if (r < 0)
		return r;
	recon_bind_text(st, ":result", result);
	recon_bind_int(st, ":id", id);
	return recon_finish(db, st, "complete action", err);
}

int db_recon_order_mark_paid(struct db *db, const struct db_recon_day *day,
                             const char *out_trade_no, const char *transaction_id,
                             const char *paid_at, int64_t paid_ts, const char *paid_date,
                             bool *out_changed, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = recon_prepare_day(db, day,
	                      "UPDATE ledger_orders SET state = 'PAID',"
	                      " transaction_id = COALESCE(NULLIF(:txn, ''), transaction_id),"
	                      " paid_at = :paid_at, paid_ts = :paid_ts, paid_date = :paid_date,"
	                      " updated_at = :now"
	                      " WHERE mchid = :m AND out_trade_no = :otn AND state IN ('NOTPAY',"
	                      " 'CLOSED')",
	                      &st, err);
	if (r < 0)
		return r;
	recon_bind_text(st, ":txn", transaction_id);
	recon_bind_text(st, ":paid_at", paid_at);
	recon_bind_int(st, ":paid_ts", paid_ts);
	recon_bind_text(st, ":paid_date", paid_date);
	recon_bind_text(st, ":otn", out_trade_no);
	r = recon_finish(db, st, "mark ledger order paid", err);
	if (r < 0)
		return r;
	*out_changed = db_changes(db) > 0;
	return 0;
}

int db_recon_refund_sync(struct db *db, const struct db_recon_day *day, const char *out_refund_no,
                         const char *state, const char *refund_id, const char *success_at,
                         int64_t success_ts, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = recon_prepare_day(db, day,
	                      "UPDATE ledger_refunds SET state = :state,"
	                      " refund_id = COALESCE(NULLIF(refund_id, ''), NULLIF(:rid, '')),"
	                      " success_at = COALESCE(:sat, success_at),"
	                      " success_ts = COALESCE(:sts, success_ts), updated_at = :now"
	                      " WHERE mchid = :m AND out_refund_no = :orn",
	                      &st, err);
	if (r < 0)
		return r;
	recon_bind_text(st, ":state", state);
	recon_bind_text(st, ":rid", refund_id);
	recon_bind_text(st, ":sat", success_at);
	if (success_at)
		recon_bind_int(st, ":sts", success_ts);
	else
		recon_bind_null(st, ":sts");
	recon_bind_text(st, ":orn", out_refund_no);
	return recon_finish(db, st, "sync ledger refund", err);
}

/* ---- merge ------------------------------------------------------------------ */

/*
 * new_status: a person's resolution stands while the values are the same;
 * an auto-resolution of this run wins next; an open or new finding is open;
 * one that went away and came back is open again; an auto-resolution stands
 * while the values are the same; any other change reopens.
 */
static const char sql_merge_classify[] =
        "INSERT INTO recon_merge (kind, key, did, old_status, new_status, same, p_la, p_ba, p_ls,"
        " p_bs)"
        " SELECT j.kind, j.key, j.did, j.old_status,"
        "  CASE WHEN j.did IS NOT NULL AND j.old_status = 'resolved'"
        "            AND COALESCE(j.old_by, '') <> 'reconcile' AND j.same = 1 THEN 'resolved'"
        "       WHEN j.fstatus = 'auto_resolved' THEN 'auto_resolved'"
        "       WHEN j.did IS NULL OR j.old_status = 'open' THEN 'open'"
        "       WHEN j.old_status = 'resolved' THEN 'open'"
        "       WHEN j.same = 1 THEN j.old_status"
        "       ELSE 'open' END,"
        "  j.same, j.p_la, j.p_ba, j.p_ls, j.p_bs"
        " FROM (SELECT f.kind AS kind, f.key AS key, f.status AS fstatus, d.id AS did,"
        "        d.status AS old_status, d.resolved_by AS old_by,"
        "        CASE WHEN d.id IS NOT NULL"
        "              AND d.ledger_amount IS NOT DISTINCT FROM f.ledger_amount"
        "              AND d.bill_amount IS NOT DISTINCT FROM f.bill_amount"
        "              AND d.ledger_state IS NOT DISTINCT FROM f.ledger_state"
        "              AND d.bill_state IS NOT DISTINCT FROM f.bill_state THEN 1 ELSE 0 END AS"
        " same,"
        "        d.ledger_amount AS p_la, d.bill_amount AS p_ba, d.ledger_state AS p_ls,"
        "        d.bill_state AS p_bs"
        "       FROM recon_found f"
        "       LEFT JOIN discrepancies d ON d.mchid = :m AND d.date = :d AND d.kind = f.kind"
        "         AND d.key = f.key"
        "       WHERE f.pending = 0) j";

static const char sql_merge_event[] =
        "UPDATE recon_merge SET event ="
        " CASE WHEN did IS NULL THEN"
        "        CASE new_status WHEN 'auto_resolved' THEN 'auto_resolved' ELSE 'opened' END"
        "      WHEN new_status <> old_status THEN"
        "        CASE new_status WHEN 'open' THEN 'reopened' ELSE new_status END"
        "      WHEN same = 0 THEN 'changed'"
        "      ELSE NULL END";

static const char sql_merge_events[] =
        "INSERT INTO recon_events (kind, key, event, p_la, p_ba, p_ls, p_bs)"
        " SELECT kind, key, event, p_la, p_ba, p_ls, p_bs FROM recon_merge"
        " WHERE event IS NOT NULL ORDER BY kind, key";

static const char sql_merge_insert[] =
        "INSERT INTO discrepancies (mchid, date, kind, key, out_trade_no, out_refund_no,"
        " transaction_id, ledger_amount, bill_amount, ledger_state, bill_state, detail, status,"
        " resolution, resolved_by, first_run_id, last_run_id, resolved_run_id, created_at,"
        " updated_at)"
        " SELECT :m, :d, f.kind, f.key, f.out_trade_no, f.out_refund_no, f.transaction_id,"
        "  f.ledger_amount, f.bill_amount, f.ledger_state, f.bill_state, f.detail, m.new_status,"
        "  CASE WHEN m.new_status = 'auto_resolved' THEN f.resolution END,"
        "  CASE WHEN m.new_status = 'auto_resolved' THEN 'reconcile' END,"
        "  :run, :run, CASE WHEN m.new_status = 'auto_resolved' THEN :run END, :now, :now"
        " FROM recon_merge m JOIN recon_found f ON f.kind = m.kind AND f.key = m.key"
        " WHERE m.did IS NULL ORDER BY f.kind, f.key";

static const char sql_merge_update[] =
        "UPDATE discrepancies SET"
        " out_trade_no = f.out_trade_no, out_refund_no = f.out_refund_no,"
        " transaction_id = f.transaction_id, ledger_amount = f.ledger_amount,"
        " bill_amount = f.bill_amount, ledger_state = f.ledger_state, bill_state = f.bill_state,"
        " detail = f.detail, status = m.new_status,"
        " resolution = CASE WHEN m.new_status = 'open' THEN NULL"
        "   WHEN m.new_status = 'auto_resolved' AND f.status = 'auto_resolved' THEN f.resolution"
        "   ELSE discrepancies.resolution END,"
        " resolved_by = CASE WHEN m.new_status = 'open' THEN NULL"
        "   WHEN m.new_status = 'auto_resolved' AND f.status = 'auto_resolved' THEN 'reconcile'"
        "   ELSE discrepancies.resolved_by END,"
        " resolved_run_id = CASE WHEN m.new_status = 'open' THEN NULL"
        "   WHEN m.event = 'auto_resolved' THEN :run"
        "   ELSE discrepancies.resolved_run_id END,"
        " last_run_id = COALESCE(:run, discrepancies.last_run_id),"
        " updated_at = CASE WHEN m.event IS NULL THEN discrepancies.updated_at ELSE :now END"
        " FROM recon_merge m JOIN recon_found f ON f.kind = m.kind AND f.key = m.key"
        " WHERE m.did IS NOT NULL AND discrepancies.id = m.did";

/* Open findings of a looked-at kind that were not found (pending ones are
 * in recon_found, so they stay). */
#define WENT_AWAY                                             \
	" d.mchid = :m AND d.date = :d AND d.status = 'open'" \
	" AND d.kind IN (SELECT kind FROM recon_checked)"     \
	" AND NOT EXISTS (SELECT 1 FROM recon_found f WHERE f.kind = d.kind AND f.key = d.key)"

static const char sql_gone_events[] =
        "INSERT INTO recon_events (kind, key, event)"
        " SELECT d.kind, d.key, 'resolved' FROM discrepancies d WHERE" WENT_AWAY
        " ORDER BY d.kind, d.key";

static const char sql_gone_update[] =
        "UPDATE discrepancies SET status = 'resolved', resolution = 'no longer found',"
        " resolved_by = 'reconcile', resolved_run_id = :run,"
        " last_run_id = COALESCE(:run, last_run_id), updated_at = :now"
        " WHERE id IN (SELECT d.id FROM discrepancies d WHERE" WENT_AWAY ")";

static const char sql_events_copy[] =
        "INSERT INTO discrepancy_events (discrepancy_id, mchid, date, kind, key, run_id, event,"
        " status, ledger_amount, bill_amount, ledger_state, bill_state, prev_ledger_amount,"
        " prev_bill_amount, prev_ledger_state, prev_bill_state, actor, note, at)"
        " SELECT d.id, d.mchid, d.date, d.kind, d.key, :run, e.event, d.status, d.ledger_amount,"
        "  d.bill_amount, d.ledger_state, d.bill_state,"
        "  CASE WHEN e.event IN ('changed', 'reopened') THEN e.p_la END,"
        "  CASE WHEN e.event IN ('changed', 'reopened') THEN e.p_ba END,"
        "  CASE WHEN e.event IN ('changed', 'reopened') THEN e.p_ls END,"
        "  CASE WHEN e.event IN ('changed', 'reopened') THEN e.p_bs END,"
        "  'reconcile', CASE WHEN d.status <> 'open' THEN d.resolution END, :now"
        " FROM recon_events e"
        " JOIN discrepancies d ON d.mchid = :m AND d.date = :d AND d.kind = e.kind AND d.key ="
        " e.key"
        " ORDER BY e.seq";

static int count_rows(struct db *db, const struct db_recon_day *day, const char *sql, int64_t *out,
                      struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r = recon_prepare_day(db, day, sql, &st, err);

	if (r < 0)
		return r;
	if (db_step(st) != DB_ROW) {
		r = db_error(db, err, "count");
		db_finalize(st);
		return r;
	}
	*out = db_col_i64(st, 0);
	db_finalize(st);
	return 0;
}

int db_recon_merge(struct db *db, const struct db_recon_day *day, struct recon_result *out,
                   struct wxr_err *err)
{
	static const struct {
		const char *what;
		const char *sql;
	} steps[] = {
		{ "classify findings", sql_merge_classify },
		{ "classify findings", sql_merge_event },
		{ "list changes", sql_merge_events },
		{ "list findings gone", sql_gone_events },
		{ "add discrepancies", sql_merge_insert },
		{ "update discrepancies", sql_merge_update },
		{ "resolve discrepancies gone", sql_gone_update },
		{ "write discrepancy events", sql_events_copy },
	};
	struct db_stmt *st = NULL;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		r = recon_run_day(db, day, steps[i].what, steps[i].sql, err);
		if (r < 0)
			return r;
	}
	r = recon_prepare_day(db, day, "SELECT event, COUNT(*) FROM recon_events GROUP BY event",
	                      &st, err);
	if (r < 0)
		return r;
	while ((r = db_step(st)) == DB_ROW) {
		const char *ev = db_col_text(st, 0);
		int64_t n = db_col_i64(st, 1);

		if (strcmp(ev, "opened") == 0)
			out->opened += n;
		else if (strcmp(ev, "reopened") == 0)
			out->reopened += n;
		else if (strcmp(ev, "changed") == 0)
			out->changed += n;
		else if (strcmp(ev, "resolved") == 0)
			out->resolved += n;
		else if (strcmp(ev, "auto_resolved") == 0)
			out->auto_resolved += n;
	}
	if (r != DB_DONE) {
		r = db_error(db, err, "count changes");
		db_finalize(st);
		return r;
	}
	db_finalize(st);
	r = count_rows(db, day, "SELECT COUNT(*) FROM recon_merge WHERE event IS NULL",
	               &out->unchanged, err);
	if (r < 0)
		return r;
	return count_rows(db, day, "SELECT COUNT(*) FROM recon_found WHERE pending = 1",
	                  &out->pending, err);
}

/* ---- events and runs ---------------------------------------------------------- */

int db_recon_max_event_id(struct db *db, int64_t *out_id, struct wxr_err *err)
{
	return count_rows(db, NULL, "SELECT COALESCE(MAX(id), 0) FROM discrepancy_events", out_id,
	                  err);
}

int db_recon_events(struct db *db, int64_t after_id, const char *mchid, const char *from,
                    const char *to,
                    int (*cb)(void *ctx, const struct recon_change *c, struct wxr_err *err),
                    void *ctx, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "SELECT id, discrepancy_id, COALESCE(run_id, 0), event, date, kind, key,"
	               " status, actor, note, at, ledger_amount, bill_amount, ledger_state,"
	               " bill_state, prev_ledger_amount, prev_bill_amount, prev_ledger_state,"
	               " prev_bill_state"
	               " FROM discrepancy_events"
	               " WHERE id > :after AND (:mchid IS NULL OR mchid = :mchid)"
	               "   AND (:from IS NULL OR date >= :from) AND (:to IS NULL OR date <= :to)"
	               " ORDER BY id",
	               &st, err);
	if (r < 0)
		return r;
	recon_bind_int(st, ":after", after_id);
	recon_bind_text(st, ":mchid", mchid);
	recon_bind_text(st, ":from", from);
	recon_bind_text(st, ":to", to);
	while ((r = db_step(st)) == DB_ROW) {
		struct recon_change c;

		c.event_id = db_col_i64(st, 0);
		c.discrepancy_id = db_col_i64(st, 1);
		c.run_id = db_col_i64(st, 2);
		c.event = db_col_text(st, 3);
		c.date = db_col_text(st, 4);
		c.kind = db_col_text(st, 5);
		c.key = db_col_text(st, 6);
		c.status = db_col_text(st, 7);
		c.actor = db_col_text(st, 8);
		c.note = db_col_opt(st, 9);
		c.at = db_col_text(st, 10);
		c.ledger_amount = recon_col_amount(st, 11);
		c.bill_amount = recon_col_amount(st, 12);
		c.ledger_state = db_col_opt(st, 13);
		c.bill_state = db_col_opt(st, 14);
		c.prev_ledger_amount = recon_col_amount(st, 15);
		c.prev_bill_amount = recon_col_amount(st, 16);
		c.prev_ledger_state = db_col_opt(st, 17);
		c.prev_bill_state = db_col_opt(st, 18);
		r = cb(ctx, &c, err);
		if (r < 0)
			goto out;
	}
	if (r != DB_DONE) {
		r = db_error(db, err, "read discrepancy_events");
		goto out;
	}
	r = 0;
out:
	db_finalize(st);
	return r;
}

int db_recon_run_mark(struct db *db, const char *mchid, int64_t run_id, int64_t *out_event_id,
                      struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "SELECT MAX(last_event_id) FROM recon_runs WHERE mchid = ? AND run_id = ?",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_i64(st, 2, run_id);
	if (db_step(st) != DB_ROW) {
		r = db_error(db, err, "read recon_runs");
		goto out;
	}
	if (db_col_is_null(st, 0)) {
		r = err_set(err, WXR_ENOTFOUND, "run %lld reconciled nothing for merchant '%s'",
		            (long long)run_id, mchid);
		goto out;
	}
	*out_event_id = db_col_i64(st, 0);
	r = 0;
out:
	db_finalize(st);
	return r;
}

int db_recon_counts(struct db *db, const char *mchid, const char *date, struct recon_result *out,
                    struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "SELECT kind, status, COUNT(*) FROM discrepancies"
	               " WHERE mchid = ? AND date = ? GROUP BY kind, status",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, date);
	while ((r = db_step(st)) == DB_ROW) {
		int k = recon_kind_from_name(db_col_text(st, 0));
		const char *status = db_col_text(st, 1);
		int64_t n = db_col_i64(st, 2);
		int64_t *slot, *tot;

		if (k < 0)
			continue;
		if (strcmp(status, "open") == 0) {
			slot = &out->by_kind[k].open;
			tot = &out->total.open;
		} else if (strcmp(status, "resolved") == 0) {
			slot = &out->by_kind[k].resolved;
			tot = &out->total.resolved;
		} else {
			slot = &out->by_kind[k].auto_resolved;
			tot = &out->total.auto_resolved;
		}
		*slot += n;
		*tot += n;
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

int db_recon_record_run(struct db *db, const struct db_recon_day *day, const struct recon_result *r,
                        int64_t last_event_id, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int rc;

	rc = recon_prepare_day(
	        db, day,
	        "INSERT INTO recon_runs (mchid, date, run_id, at, trade_bill,"
	        " fundflow_bill,"
	        " opened, reopened, changed, resolved, auto_resolved, pending, open_total,"
	        " last_event_id)"
	        " VALUES (:m, :d, :run_id, :now, :tb, :fb, :opened, :reopened, :changed,"
	        "  :resolved, :auto, :pending, :open_total, :last)"
	        " ON CONFLICT (mchid, date, run_id) DO UPDATE SET at = excluded.at,"
	        " trade_bill = excluded.trade_bill, fundflow_bill ="
	        " excluded.fundflow_bill,"
	        " opened = recon_runs.opened + excluded.opened,"
	        " reopened = recon_runs.reopened + excluded.reopened,"
	        " changed = recon_runs.changed + excluded.changed,"
	        " resolved = recon_runs.resolved + excluded.resolved,"
	        " auto_resolved = recon_runs.auto_resolved + excluded.auto_resolved,"
	        " pending = excluded.pending, open_total = excluded.open_total,"
	        " last_event_id = excluded.last_event_id",
	        &st, err);
	if (rc < 0)
		return rc;
	recon_bind_int(st, ":run_id", day->run_id);
	recon_bind_text(st, ":tb", r->trade_bill);
	recon_bind_text(st, ":fb", r->fundflow_bill);
	recon_bind_int(st, ":opened", r->opened);
	recon_bind_int(st, ":reopened", r->reopened);
	recon_bind_int(st, ":changed", r->changed);
	recon_bind_int(st, ":resolved", r->resolved);
	recon_bind_int(st, ":auto", r->auto_resolved);
	recon_bind_int(st, ":pending", r->pending);
	recon_bind_int(st, ":open_total", r->total.open);
	recon_bind_int(st, ":last", last_event_id);
	return recon_finish(db, st, "record reconcile run", err);
}

/* ---- a person's resolve ----------------------------------------------------- */

int db_recon_resolve(struct db *db, int64_t id, const char *note, const char *who, const char *now,
                     char **out_old_status, char **out_kind, char **out_key, char **out_date,
                     struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char *old_status = NULL, *kind = NULL, *key = NULL, *date = NULL;
	int r;

	r = db_prepare(db, "SELECT status, kind, key, date FROM discrepancies WHERE id = ?", &st,
	               err);
	if (r < 0)
		return r;
	db_bind_i64(st, 1, id);
	r = db_step(st);
	if (r == DB_DONE) {
		r = err_set(err, WXR_ENOTFOUND, "no discrepancy with id %lld", (long long)id);
		goto out;
	}
	if (r != DB_ROW) {
		r = db_error(db, err, "read discrepancy");
		goto out;
	}
	old_status = recon_col_dup(st, 0);
	kind = recon_col_dup(st, 1);
	key = recon_col_dup(st, 2);
	date = recon_col_dup(st, 3);
	db_finalize(st);
	st = NULL;

	r = db_prepare(db,
	               "UPDATE discrepancies SET status = 'resolved', resolution = :note,"
	               " resolved_by = :who, resolved_run_id = NULL, updated_at = :now"
	               " WHERE id = :id",
	               &st, err);
	if (r < 0)
		goto out;
	recon_bind_text(st, ":note", note);
	recon_bind_text(st, ":who", who);
	recon_bind_text(st, ":now", now);
	recon_bind_int(st, ":id", id);
	r = recon_finish(db, st, "resolve discrepancy", err);
	st = NULL;
	if (r < 0)
		goto out;

	r = db_prepare(db,
	               "INSERT INTO discrepancy_events (discrepancy_id, mchid, date, kind, key,"
	               " run_id, event, status, ledger_amount, bill_amount, ledger_state,"
	               " bill_state,"
	               " actor, note, at)"
	               " SELECT id, mchid, date, kind, key, NULL, 'resolved', status,"
	               " ledger_amount,"
	               "  bill_amount, ledger_state, bill_state, :who, :note, :now"
	               " FROM discrepancies WHERE id = :id",
	               &st, err);
	if (r < 0)
		goto out;
	recon_bind_text(st, ":note", note);
	recon_bind_text(st, ":who", who);
	recon_bind_text(st, ":now", now);
	recon_bind_int(st, ":id", id);
	r = recon_finish(db, st, "record resolve", err);
	st = NULL;
	if (r < 0)
		goto out;
	*out_old_status = old_status;
	*out_kind = kind;
	*out_key = key;
	*out_date = date;
	old_status = kind = key = date = NULL;
out:
	db_finalize(st);
	free(old_status);
	free(kind);
	free(key);
	free(date);
	return r;
}

/* ---- report totals ------------------------------------------------------------ */

int db_recon_day_totals(struct db *db, const char *mchid, const char *date,
                        struct recon_day_totals *out, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	struct recon_day_totals t;
	struct recon_result counts;
	int64_t trade = 0, fund = 0;
	int r;

	memset(&t, 0, sizeof(t));
	memset(&counts, 0, sizeof(counts));
	r = db_recon_bill_file(db, mchid, date, "trade", &trade, t.bill, err);
	if (r < 0)
		return r;
	r = db_recon_bill_file(db, mchid, date, "fundflow", &fund, t.fundflow_bill, err);
	if (r < 0)
		return r;
	if (trade > 0) {
		r = db_prepare(db,
		               "SELECT COALESCE(SUM(CASE WHEN row_kind = 'SUCCESS' THEN 1 ELSE 0"
		               " END), 0),"
		               " COALESCE(SUM(CASE WHEN row_kind = 'SUCCESS' THEN settlement_amount"
		               "              ELSE 0 END), 0),"
		               " COALESCE(SUM(CASE WHEN row_kind = 'REFUND' THEN 1 ELSE 0 END), 0),"
		               " COALESCE(SUM(CASE WHEN row_kind = 'REFUND' THEN refund_amount"
		               "              ELSE 0 END), 0),"
		               " COALESCE(SUM(fee), 0)"
		               " FROM bill_trades WHERE file_id = ?",
		               &st, err);
		if (r < 0)
			return r;
		db_bind_i64(st, 1, trade);
		if (db_step(st) != DB_ROW) {
			r = db_error(db, err, "sum trade bill");
			db_finalize(st);
			return r;
		}
		t.payments_count = db_col_i64(st, 0);
		t.payments_amount = db_col_i64(st, 1);
		t.refunds_count = db_col_i64(st, 2);
		t.refunds_amount = db_col_i64(st, 3);
		t.fees = db_col_i64(st, 4);
		db_finalize(st);
	}
	t.net = t.payments_amount - t.refunds_amount - money_fee_to_fen(t.fees);
	r = db_recon_counts(db, mchid, date, &counts, err);
	if (r < 0)
		return r;
	t.discrepancies = counts.total;
	*out = t;
	return 0;
}

/* ---- transactions ------------------------------------------------------------- */

int db_recon_begin(struct db *db, struct db_recon_tx *tx, struct wxr_err *err)
{
	int r;

	tx->active = false;
	tx->savepoint = db_in_tx(db);
	if (tx->savepoint) {
		r = db_savepoint(db, "recon_day", err);
		if (r < 0)
			return r;
	} else {
		r = db_begin(db, err);
		if (r < 0)
			return r;
	}
	tx->active = true;
	return 0;
}

int db_recon_end(struct db *db, struct db_recon_tx *tx, bool commit, struct wxr_err *err)
{
	int r = 0;

	if (!tx->active)
		return 0;
	tx->active = false;
	if (tx->savepoint) {
		if (!commit) {
			db_rollback_to(db, "recon_day");
			return 0;
		}
		return db_release(db, "recon_day", err);
	}
	if (commit)
		return db_commit(db, err);
	db_rollback(db);
	return r;
}
