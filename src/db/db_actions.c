/*
 * db_actions.c - SQL of the actions table and of the ledger changes the
 * sweeps make. Portable SQL only (SPEC 10): bound parameters, no
 * SQLite-only syntax except ON CONFLICT ... DO NOTHING (PostgreSQL has it).
 */
#include "db/db_actions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"

#define ACTION_COLS                                                                          \
	"id, mchid, kind, target, state, amount, date, params, result, error, note, run_id," \
	" attempts, created_at, updated_at, approved_by, approval_note, approved_at, sent_ts"

static void col_copy(struct db_stmt *st, int i, char *out, size_t n)
{
	snprintf(out, n, "%s", db_col_text(st, i));
}

void action_release(struct action *a)
{
	if (!a)
		return;
	free(a->mchid);
	free(a->target);
	free(a->params);
	free(a->result);
	free(a->error);
	free(a->note);
	free(a->created_at);
	free(a->updated_at);
	free(a->approved_by);
	free(a->approval_note);
	free(a->approved_at);
	memset(a, 0, sizeof(*a));
}

void actions_free(struct action *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		action_release(&v[i]);
	free(v);
}

static void action_read(struct db_stmt *st, struct action *a)
{
	memset(a, 0, sizeof(*a));
	a->id = db_col_i64(st, 0);
	a->mchid = db_col_dup(st, 1);
	col_copy(st, 2, a->kind, sizeof(a->kind));
	a->target = db_col_dup(st, 3);
	col_copy(st, 4, a->state, sizeof(a->state));
	a->has_amount = !db_col_is_null(st, 5);
	a->amount = db_col_i64(st, 5);
	col_copy(st, 6, a->date, sizeof(a->date));
	a->params = db_col_dup(st, 7);
	a->result = db_col_dup(st, 8);
	a->error = db_col_dup(st, 9);
	a->note = db_col_dup(st, 10);
	a->run_id = db_col_i64(st, 11);
	a->attempts = (int)db_col_i64(st, 12);
	a->created_at = db_col_dup(st, 13);
	a->updated_at = db_col_dup(st, 14);
	a->approved_by = db_col_dup(st, 15);
	a->approval_note = db_col_dup(st, 16);
	a->approved_at = db_col_dup(st, 17);
	a->sent_ts = db_col_i64(st, 18);
}

static bool in_list(const char *s, const char *const *list)
{
	for (; list && *list; list++) {
		if (strcmp(s, *list) == 0)
			return true;
	}
	return false;
}

static void bind_run(struct db_stmt *st, int i, int64_t run_id)
{
	if (run_id > 0)
		db_bind_i64(st, i, run_id);
	else
		db_bind_null(st, i);
}

/* Runs a statement that returns nothing. */
static int step_done(struct db *db, struct db_stmt *st, const char *what, struct wxr_err *err)
{
	int r = db_step(st) == DB_DONE ? 0 : db_error(db, err, what);

	db_finalize(st);
	return r;
}

int actions_get(struct db *db, const char *mchid, const char *kind, const char *target,
                struct action *out, bool *out_found, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "SELECT " ACTION_COLS " FROM actions WHERE mchid = ? AND kind = ?"
	               " AND target = ?",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, kind);
	db_bind_text(st, 3, target);
	r = db_step(st);
	if (r == DB_ROW) {
		action_read(st, out);
		*out_found = true;
		r = 0;
	} else if (r == DB_DONE) {
		*out_found = false;
		r = 0;
	} else {
		r = db_error(db, err, "read action");
	}
	db_finalize(st);
	return r;
}

int actions_get_id(struct db *db, int64_t id, struct action *out, bool *out_found,
                   struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db, "SELECT " ACTION_COLS " FROM actions WHERE id = ?", &st, err);
	if (r < 0)
		return r;
	db_bind_i64(st, 1, id);
	r = db_step(st);
	if (r == DB_ROW) {
		action_read(st, out);
		*out_found = true;
		r = 0;
	} else if (r == DB_DONE) {
		*out_found = false;
		r = 0;
	} else {
		r = db_error(db, err, "read action");
	}
	db_finalize(st);
	return r;
}

int actions_open(struct db *db, const struct action_new *a, const char *const *rearm,
                 struct action *out, bool *out_written, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	struct action cur;
	bool found = false;
	bool written = false;
	int r;

	/* Look first: PostgreSQL's ON CONFLICT DO NOTHING takes an id from the
	 * sequence even when nothing is inserted, and the ids would then differ
	 * from SQLite's (the reports show them). The conflict clause stays for a
	 * concurrent worker. */
	r = actions_get(db, a->mchid, a->kind, a->target, &cur, &found, err);
	if (r < 0)
		return r;
	if (found)
		goto exists;
	r = db_prepare(
	        db,
	        "INSERT INTO actions (mchid, kind, target, state, amount, date, params, note,"
	        " run_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	        " ON CONFLICT (mchid, kind, target) DO NOTHING",
	        &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, a->mchid);
	db_bind_text(st, 2, a->kind);
	db_bind_text(st, 3, a->target);
	db_bind_text(st, 4, a->state);
	if (a->has_amount)
		db_bind_i64(st, 5, a->amount);
	db_bind_text(st, 6, a->date);
	db_bind_text(st, 7, a->params);
	db_bind_text(st, 8, a->note);
	bind_run(st, 9, a->run_id);
	db_bind_text(st, 10, a->now);
	db_bind_text(st, 11, a->now);
	r = step_done(db, st, "write action", err);
	if (r < 0)
		return r;
	written = db_changes(db) > 0;
	r = actions_get(db, a->mchid, a->kind, a->target, &cur, &found, err);
	if (r < 0)
		return r;
	if (!found)
		return err_set(err, WXR_EDB, "action %s '%s' vanished", a->kind, a->target);
exists:
	if (!written && in_list(cur.state, rearm)) {
		r = db_prepare(db,
		               "UPDATE actions SET state = ?, amount = ?, date = ?, params = ?,"
		               " note = ?, result = NULL, error = NULL, run_id = ?, updated_at = ?"
		               " WHERE id = ? AND state = ?",
		               &st, err);
		if (r < 0)
			goto out;
		db_bind_text(st, 1, a->state);
		if (a->has_amount)
			db_bind_i64(st, 2, a->amount);
		db_bind_text(st, 3, a->date);
		db_bind_text(st, 4, a->params);
		db_bind_text(st, 5, a->note);
		bind_run(st, 6, a->run_id);
		db_bind_text(st, 7, a->now);
		db_bind_i64(st, 8, cur.id);
		db_bind_text(st, 9, cur.state);
		r = step_done(db, st, "re-arm action", err);
		if (r < 0)
			goto out;
		if (db_changes(db) != 1) {
			r = err_set(err, WXR_EFAIL, "action %lld changed under us",
			            (long long)cur.id);
			goto out;
		}
		action_release(&cur);
		r = actions_get(db, a->mchid, a->kind, a->target, &cur, &found, err);
		if (r < 0)
			return r;
		written = true;
	}
	*out = cur;
	*out_written = written;
	return 0;
out:
	action_release(&cur);
	return r;
}

int actions_move(struct db *db, int64_t id, const char *from, const struct action_change *c,
                 struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               /* the casts type the parameters that are often NULL, for PostgreSQL */
	               "UPDATE actions SET state = ?1, result = COALESCE(CAST(?2 AS TEXT), result),"
	               " error = CASE WHEN CAST(?3 AS TEXT) IS NULL THEN error"
	               " WHEN CAST(?3 AS TEXT) = '' THEN NULL ELSE CAST(?3 AS TEXT) END,"
	               " note = COALESCE(CAST(?4 AS TEXT), note), params = COALESCE(CAST(?5 AS "
	               "TEXT), params),"
	               " run_id = COALESCE(CAST(?6 AS BIGINT), run_id), updated_at = ?7,"
	               " attempts = attempts + CASE WHEN ?1 = 'sent' THEN 1 ELSE 0 END,"
	               " sent_ts = CASE WHEN ?1 = 'sent' THEN ?10 ELSE sent_ts END"
	               " WHERE id = ?8 AND state = ?9",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, c->to);
	db_bind_text(st, 2, c->result);
	db_bind_text(st, 3, c->error);
	db_bind_text(st, 4, c->note);
	db_bind_text(st, 5, c->params);
	bind_run(st, 6, c->run_id);
	db_bind_text(st, 7, c->now);
	db_bind_i64(st, 8, id);
	db_bind_text(st, 9, from);
	db_bind_i64(st, 10, c->sent_ts);
	r = step_done(db, st, "update action", err);
	if (r < 0)
		return r;
	if (db_changes(db) != 1)
		return err_set(err, WXR_EFAIL, "action %lld is no longer %s", (long long)id, from);
	return 0;
}

int actions_approve(struct db *db, int64_t id, const char *mchid, const char *who, const char *note,
                    const char *now, struct action *out, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	struct action a;
	bool found = false;
	int r;

	r = actions_get_id(db, id, &a, &found, err);
	if (r < 0)
		return r;
	if (!found || (mchid && *mchid && strcmp(a.mchid ? a.mchid : "", mchid) != 0)) {
		if (found)
			action_release(&a);
		return err_set(err, WXR_ENOTFOUND, "no action %lld", (long long)id);
	}
	if (strcmp(a.state, "pending_approval") != 0) {
		r = err_set(err, WXR_EFAIL, "action %lld (%s '%s') is %s, not pending_approval",
		            (long long)id, a.kind, a.target, a.state);
		goto out;
	}
	r = db_prepare(
	        db,
	        "UPDATE actions SET state = 'intent', approved_by = ?, approval_note = ?,"
	        " approved_at = ?, updated_at = ? WHERE id = ? AND state = 'pending_approval'",
	        &st, err);
	if (r < 0)
		goto out;
	db_bind_text(st, 1, who);
	db_bind_text(st, 2, note);
	db_bind_text(st, 3, now);
	db_bind_text(st, 4, now);
	db_bind_i64(st, 5, id);
	r = step_done(db, st, "approve action", err);
	if (r < 0)
		goto out;
	if (db_changes(db) != 1) {
		r = err_set(err, WXR_EFAIL, "action %lld changed while approving it",
		            (long long)id);
		goto out;
	}
	*out = a;
	return 0;
out:
	action_release(&a);
	return r;
}

/* Appends " AND col IN (?, ?, ...)" for a NULL-terminated list. */
static void add_in(char *sql, size_t n, const char *col, const char *const *list)
{
	size_t len = strlen(sql);

	if (!list)
		return;
	snprintf(sql + len, n - len, " AND %s IN (", col);
	for (size_t i = 0; list[i]; i++) {
		len = strlen(sql);
		snprintf(sql + len, n - len, "%s?", i ? ", " : "");
	}
	len = strlen(sql);
	snprintf(sql + len, n - len, ")");
}

static int bind_list(struct db_stmt *st, int i, const char *const *list)
{
	for (; list && *list; list++)
		db_bind_text(st, i++, *list);
	return i;
}

#define MAX_LIST 8

static int check_list(const char *const *list, struct wxr_err *err)
{
	size_t n = 0;

	while (list && list[n])
		n++;
	if (n > MAX_LIST)
		return err_set(err, WXR_EFAIL, "too many kinds or states in a filter");
	return 0;
}

int actions_list(struct db *db, const struct action_filter *f, struct action **out, size_t *out_n,
                 struct wxr_err *err)
{
	static const char *const pending[] = { "intent", "sent", "failed", "pending_approval",
		                               NULL };
	char sql[1024];
	struct db_stmt *st = NULL;
	struct action *v = NULL;
	size_t n = 0, cap = 0;
	int i = 1;
	int r;

	r = check_list(f->kinds, err);
	if (r == 0)
		r = check_list(f->states, err);
	if (r < 0)
		return r;
	snprintf(sql, sizeof(sql),
	         "SELECT " ACTION_COLS " FROM actions WHERE (? = '' OR mchid = ?)"
	         " AND (? IS NULL OR COALESCE(date, substr(created_at, 1, 10)) >= ?)"
	         " AND (? IS NULL OR COALESCE(date, substr(created_at, 1, 10)) <= ?)");
	add_in(sql, sizeof(sql), "kind", f->kinds);
	add_in(sql, sizeof(sql), "state", f->pending ? pending : f->states);
	snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql), " ORDER BY id");
	r = db_prepare(db, sql, &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, i++, f->mchid ? f->mchid : "");
	db_bind_text(st, i++, f->mchid ? f->mchid : "");
	db_bind_text(st, i++, f->from);
	db_bind_text(st, i++, f->from);
	db_bind_text(st, i++, f->to);
	db_bind_text(st, i++, f->to);
	i = bind_list(st, i, f->kinds);
	bind_list(st, i, f->pending ? pending : f->states);
	while ((r = db_step(st)) == DB_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		action_read(st, &v[n++]);
	}
	if (r != DB_DONE) {
		r = db_error(db, err, "list actions");
		actions_free(v, n);
		goto out;
	}
	r = 0;
	*out = v;
	*out_n = n;
out:
	db_finalize(st);
	return r;
}

int actions_count(struct db *db, const char *mchid, const char *const *kinds, const char *state,
                  long *out, struct wxr_err *err)
{
	char sql[512];
	struct db_stmt *st = NULL;
	int r;

	r = check_list(kinds, err);
	if (r < 0)
		return r;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM actions WHERE mchid = ? AND state = ?");
	add_in(sql, sizeof(sql), "kind", kinds);
	r = db_prepare(db, sql, &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, state);
	bind_list(st, 3, kinds);
	if (db_step(st) != DB_ROW) {
		r = db_error(db, err, "count actions");
	} else {
		*out = (long)db_col_i64(st, 0);
		r = 0;
	}
	db_finalize(st);
	return r;
}

/* ---- ledger: orders ---- */

void sweep_orders_free(struct sweep_order *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].out_trade_no);
		free(v[i].created_at);
	}
	free(v);
}

#define ORDER_COLS "out_trade_no, amount_total, state, created_ts, expire_ts, created_at"

static void order_read(struct db_stmt *st, struct sweep_order *o)
{
	memset(o, 0, sizeof(*o));
	o->out_trade_no = db_col_dup(st, 0);
	o->amount_total = db_col_i64(st, 1);
	col_copy(st, 2, o->state, sizeof(o->state));
	o->created_ts = db_col_i64(st, 3);
	o->has_expire = !db_col_is_null(st, 4);
	o->expire_ts = db_col_i64(st, 4);
	o->created_at = db_col_dup(st, 5);
}

/* What a sweep's candidates are: a count and a list statement with the same
 * parameters (?1 mchid, then args; the list's next one is the limit), and how
 * one row of the list is read into an element of size bytes (freed by release
 * on a failure). */
struct candidates {
	const char *count_sql;
	const char *list_sql;
	int64_t args[2];
	int nargs;
	size_t size;
	void (*read)(struct db_stmt *st, void *elem);
	void (*release)(void *v, size_t n);
	const char *count_what; /* "count candidate orders" */
	const char *read_what;  /* "read candidate orders" */
};

static void bind_candidates(struct db_stmt *st, const struct candidates *c, const char *mchid)
{
	db_bind_text(st, 1, mchid);
	for (int i = 0; i < c->nargs; i++)
		db_bind_i64(st, 2 + i, c->args[i]);
}

/* *out_total the matching rows, *out the first limit of them (<= 0: all). */
static int candidates_read(struct db *db, const struct candidates *c, const char *mchid, long limit,
                           void **out, size_t *out_n, long *out_total, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char *v = NULL;
	size_t n = 0, cap = 0;
	long total;
	int r;

	r = db_prepare(db, c->count_sql, &st, err);
	if (r < 0)
		return r;
	bind_candidates(st, c, mchid);
	if (db_step(st) != DB_ROW) {
		r = db_error(db, err, c->count_what);
		db_finalize(st);
		return r;
	}
	total = (long)db_col_i64(st, 0);
	db_finalize(st);
	st = NULL;

	r = db_prepare(db, c->list_sql, &st, err);
	if (r < 0)
		return r;
	bind_candidates(st, c, mchid);
	db_bind_i64(st, 2 + c->nargs, limit > 0 ? limit : -1);
	while ((r = db_step(st)) == DB_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			v = xreallocarray(v, cap, c->size);
		}
		c->read(st, v + n++ * c->size);
	}
	if (r != DB_DONE) {
		r = db_error(db, err, c->read_what);
		c->release(v, n);
		goto out;
	}
	r = 0;
	*out = v;
	*out_n = n;
	*out_total = total;
out:
	db_finalize(st);
	return r;
}

/* Shared WHERE of the candidates: ?1 mchid, ?2 created before, ?3 now. */
#define ORDER_CANDIDATES                                                                    \
	" FROM ledger_orders o WHERE o.mchid = ?1 AND o.state = 'NOTPAY'"                   \
	" AND o.created_ts < ?2 AND (o.expire_ts IS NULL OR o.expire_ts < ?3)"              \
	" AND NOT EXISTS (SELECT 1 FROM actions a WHERE a.mchid = o.mchid"                  \
	"   AND a.target = o.out_trade_no AND a.kind IN ('ORDER_CLOSE', 'ORDER_MARK_PAID')" \
	"   AND a.state IN ('intent', 'sent', 'pending_approval'))"

static void order_read_any(struct db_stmt *st, void *o)
{
	order_read(st, o);
}

static void orders_release(void *v, size_t n)
{
	sweep_orders_free(v, n);
}

int actions_order_candidates(struct db *db, const char *mchid, int64_t created_before, int64_t now,
                             long limit, struct sweep_order **out, size_t *out_n, long *out_total,
                             struct wxr_err *err)
{
	const struct candidates c = {
		.count_sql = "SELECT count(*)" ORDER_CANDIDATES,
		.list_sql = "SELECT " ORDER_COLS ORDER_CANDIDATES
		            " ORDER BY o.created_ts, o.out_trade_no LIMIT ?4",
		.args = { created_before, now },
		.nargs = 2,
		.size = sizeof(**out),
		.read = order_read_any,
		.release = orders_release,
		.count_what = "count candidate orders",
		.read_what = "read candidate orders",
	};
	void *v = NULL;
	int r = candidates_read(db, &c, mchid, limit, &v, out_n, out_total, err);

	if (r == 0)
		*out = v;
	return r;
}

/*
 * Reads at most one row of `sql` (two text parameters) through read into out;
 * *out_found says whether there was one.
 */
static int get_one(struct db *db, const char *sql, const char *a, const char *b,
                   void (*read)(struct db_stmt *, void *), void *out, bool *out_found,
                   const char *what, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db, sql, &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, a);
	db_bind_text(st, 2, b);
	r = db_step(st);
	if (r == DB_ROW) {
		read(st, out);
		*out_found = true;
		r = 0;
	} else if (r == DB_DONE) {
		*out_found = false;
		r = 0;
	} else {
		r = db_error(db, err, what);
	}
	db_finalize(st);
	return r;
}

int actions_order_get(struct db *db, const char *mchid, const char *out_trade_no,
                      struct sweep_order *out, bool *out_found, struct wxr_err *err)
{
	return get_one(db,
	               "SELECT " ORDER_COLS " FROM ledger_orders WHERE mchid = ?"
	               " AND out_trade_no = ?",
	               mchid, out_trade_no, order_read_any, out, out_found, "read order", err);
}

int actions_order_refunded(struct db *db, const char *mchid, const char *out_trade_no,
                           int64_t *out_fen, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "SELECT COALESCE(sum(amount_refund), 0) FROM ledger_refunds"
	               " WHERE mchid = ? AND out_trade_no = ? AND state = 'SUCCESS'",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, out_trade_no);
	if (db_step(st) != DB_ROW) {
		r = db_error(db, err, "sum refunds");
	} else {
		*out_fen = db_col_i64(st, 0);
		r = 0;
	}
	db_finalize(st);
	return r;
}

int actions_order_close(struct db *db, const char *mchid, const char *out_trade_no, const char *now,
                        bool *out_changed, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "UPDATE ledger_orders SET state = 'CLOSED', updated_at = ?"
	               " WHERE mchid = ? AND out_trade_no = ? AND state = 'NOTPAY'",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, now);
	db_bind_text(st, 2, mchid);
	db_bind_text(st, 3, out_trade_no);
	r = step_done(db, st, "close order in the ledger", err);
	if (r < 0)
		return r;
	*out_changed = db_changes(db) > 0;
	return 0;
}

int actions_order_paid(struct db *db, const char *mchid, const char *out_trade_no,
                       const char *state, const char *transaction_id, const char *paid_at,
                       int64_t paid_ts, const char *paid_date, const char *now, bool *out_changed,
                       struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "UPDATE ledger_orders SET state = ?, transaction_id = ?, paid_at = ?,"
	               " paid_ts = ?, paid_date = ?, updated_at = ?"
	               " WHERE mchid = ? AND out_trade_no = ? AND state = 'NOTPAY'",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, state);
	db_bind_text(st, 2, transaction_id);
	db_bind_text(st, 3, paid_at);
	db_bind_i64(st, 4, paid_ts);
	db_bind_text(st, 5, paid_date);
	db_bind_text(st, 6, now);
	db_bind_text(st, 7, mchid);
	db_bind_text(st, 8, out_trade_no);
	r = step_done(db, st, "mark order paid in the ledger", err);
	if (r < 0)
		return r;
	*out_changed = db_changes(db) > 0;
	return 0;
}

int actions_bill_payment(struct db *db, const char *mchid, const char *out_trade_no,
                         const char *transaction_id, char **out_trade_time,
                         char **out_transaction_id, bool *out_found, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "SELECT trade_time, transaction_id FROM bill_trades"
	               " WHERE mchid = ?1 AND out_trade_no = ?2 AND row_kind = 'SUCCESS'"
	               " AND (?3 IS NULL OR transaction_id = ?3)"
	               " ORDER BY bill_date, file_id, line LIMIT 1",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, out_trade_no);
	db_bind_text(st, 3, transaction_id && *transaction_id ? transaction_id : NULL);
	r = db_step(st);
	if (r == DB_ROW) {
		/* both columns are NOT NULL */
		*out_trade_time = xstrdup(db_col_text(st, 0));
		*out_transaction_id = xstrdup(db_col_text(st, 1));
		*out_found = true;
		r = 0;
	} else if (r == DB_DONE) {
		*out_found = false;
		r = 0;
	} else {
		r = db_error(db, err, "read the bill's payment");
	}
	db_finalize(st);
	return r;
}

/* ---- ledger: refunds ---- */

void sweep_refunds_free(struct sweep_refund *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].out_refund_no);
		free(v[i].out_trade_no);
		free(v[i].refund_id);
	}
	free(v);
}

#define REFUND_COLS "out_refund_no, out_trade_no, refund_id, amount_refund, state"

static void refund_read(struct db_stmt *st, struct sweep_refund *r)
{
	memset(r, 0, sizeof(*r));
	r->out_refund_no = db_col_dup(st, 0);
	r->out_trade_no = db_col_dup(st, 1);
	r->refund_id = db_col_dup(st, 2);
	r->amount_refund = db_col_i64(st, 3);
	col_copy(st, 4, r->state, sizeof(r->state));
}

static void refund_read_any(struct db_stmt *st, void *r)
{
	refund_read(st, r);
}

static void refunds_release(void *v, size_t n)
{
	sweep_refunds_free(v, n);
}

int actions_refund_candidates(struct db *db, const char *mchid, long limit,
                              struct sweep_refund **out, size_t *out_n, long *out_total,
                              struct wxr_err *err)
{
	const struct candidates c = {
		.count_sql = "SELECT count(*) FROM ledger_refunds WHERE mchid = ?1"
		             " AND state IN ('PROCESSING', 'ABNORMAL')",
		.list_sql = "SELECT " REFUND_COLS " FROM ledger_refunds WHERE mchid = ?1"
		            " AND state IN ('PROCESSING', 'ABNORMAL')"
		            " ORDER BY created_ts, out_refund_no LIMIT ?2",
		.nargs = 0,
		.size = sizeof(**out),
		.read = refund_read_any,
		.release = refunds_release,
		.count_what = "count candidate refunds",
		.read_what = "read candidate refunds",
	};
	void *v = NULL;
	int r = candidates_read(db, &c, mchid, limit, &v, out_n, out_total, err);

	if (r == 0)
		*out = v;
	return r;
}

int actions_refund_get(struct db *db, const char *mchid, const char *out_refund_no,
                       struct sweep_refund *out, bool *out_found, struct wxr_err *err)
{
	return get_one(db,
	               "SELECT " REFUND_COLS " FROM ledger_refunds WHERE mchid = ?"
	               " AND out_refund_no = ?",
	               mchid, out_refund_no, refund_read_any, out, out_found, "read refund", err);
}

int actions_refund_sync(struct db *db, const char *mchid, const char *out_refund_no,
                        const char *from, const char *to, const char *refund_id,
                        const char *success_at, int64_t success_ts, const char *now,
                        bool *out_changed, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "UPDATE ledger_refunds SET state = ?1, refund_id = COALESCE(?2, refund_id),"
	               " success_at = CASE WHEN ?3 IS NULL THEN success_at ELSE ?3 END,"
	               " success_ts = CASE WHEN ?3 IS NULL THEN success_ts ELSE ?4 END,"
	               " updated_at = ?5 WHERE mchid = ?6 AND out_refund_no = ?7 AND state = ?8",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, to);
	db_bind_text(st, 2, refund_id && *refund_id ? refund_id : NULL);
	db_bind_text(st, 3, success_at);
	db_bind_i64(st, 4, success_ts);
	db_bind_text(st, 5, now);
	db_bind_text(st, 6, mchid);
	db_bind_text(st, 7, out_refund_no);
	db_bind_text(st, 8, from);
	r = step_done(db, st, "sync refund in the ledger", err);
	if (r < 0)
		return r;
	*out_changed = db_changes(db) > 0;
	return 0;
}
