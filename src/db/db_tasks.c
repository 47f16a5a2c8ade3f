/*
 * db_tasks.c - every SQL statement of the work queue (db_tasks.h).
 *
 * Portable SQL only (SPEC 10): '?' placeholders, ON CONFLICT ... DO
 * NOTHING, no date functions (the caller passes the times). Each statement's
 * cost: the claim reads one row through tasks_claim or tasks_lease; a
 * finished task touches the tasks after it through task_deps_after; nothing
 * reads the whole queue but db_tasks_list and db_tasks_count.
 */
#include "db/db_tasks.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"

#define TASK_COLS                                                                       \
	"id, run_id, task_key, mchid, job, step, date, state, lease_owner, last_error," \
	" pending, attempts, max_attempts, not_before, lease_gen, lease_until"

static void task_read(struct db_stmt *st, struct db_task *t)
{
	memset(t, 0, sizeof(*t));
	t->id = db_col_i64(st, 0);
	t->run_id = db_col_is_null(st, 1) ? 0 : db_col_i64(st, 1);
	t->key = xstrdup(db_col_text(st, 2));
	t->mchid = xstrdup(db_col_text(st, 3));
	t->job = xstrdup(db_col_text(st, 4));
	t->step = xstrdup(db_col_text(st, 5));
	t->date = db_col_dup(st, 6);
	t->state = xstrdup(db_col_text(st, 7));
	t->lease_owner = db_col_dup(st, 8);
	t->last_error = db_col_dup(st, 9);
	t->pending = db_col_i64(st, 10);
	t->attempts = db_col_i64(st, 11);
	t->max_attempts = db_col_i64(st, 12);
	t->not_before = db_col_i64(st, 13);
	t->lease_gen = db_col_i64(st, 14);
	t->lease_until = db_col_is_null(st, 15) ? 0 : db_col_i64(st, 15);
}

void db_task_release(struct db_task *t)
{
	if (!t)
		return;
	free(t->key);
	free(t->mchid);
	free(t->job);
	free(t->step);
	free(t->date);
	free(t->state);
	free(t->lease_owner);
	free(t->last_error);
	memset(t, 0, sizeof(*t));
}

/* Steps a statement that returns no rows; *out_changes (may be NULL) gets
 * the rows it changed. The statement is reset, not freed. */
static int step_done(struct db *db, struct db_stmt *st, const char *what, int64_t *out_changes,
                     struct wxr_err *err)
{
	int r = db_step(st);

	if (r != DB_DONE)
		r = db_error(db, err, what);
	else
		r = 0;
	if (r == 0 && out_changes)
		*out_changes = db_changes(db);
	db_reset(st);
	db_clear_bindings(st);
	return r;
}

/* Prepares, binds i64s, steps once, frees: the one-shot UPDATEs below. */
static int exec_i64(struct db *db, const char *sql, const int64_t *v, int n, const char *what,
                    int64_t *out_changes, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r = db_prepare(db, sql, &st, err);

	if (r < 0)
		return r;
	for (int i = 0; i < n; i++)
		db_bind_i64(st, i + 1, v[i]);
	r = step_done(db, st, what, out_changes, err);
	db_finalize(st);
	return r;
}

/* The id of the task with that key: 1 found, 0 not. */
static int task_id_of(struct db *db, struct db_stmt *st, const char *key, int64_t *out,
                      struct wxr_err *err)
{
	int r;

	db_bind_text(st, 1, key);
	r = db_step(st);
	if (r == DB_ROW)
		*out = db_col_i64(st, 0);
	r = r == DB_ROW ? 1 : r == DB_DONE ? 0 : db_error(db, err, "find a task");
	db_reset(st);
	db_clear_bindings(st);
	return r;
}

static int enqueue_one(struct db *db, struct db_stmt *ins, struct db_stmt *find,
                       struct db_stmt *dep, int64_t run_id, const struct db_task_new *t,
                       int max_attempts, const char *created_at, int *added, struct wxr_err *err)
{
	int64_t changes = 0, id = 0;
	int r;

	db_bind_text(ins, 1, t->key);
	if (run_id > 0)
		db_bind_i64(ins, 2, run_id);
	else
		db_bind_null(ins, 2);
	db_bind_text(ins, 3, t->mchid);
	db_bind_text(ins, 4, t->job);
	db_bind_text(ins, 5, t->step);
	if (t->date)
		db_bind_text(ins, 6, t->date);
	else
		db_bind_null(ins, 6);
	db_bind_text(ins, 7, t->n_after > 0 ? "blocked" : "ready");
	db_bind_i64(ins, 8, max_attempts);
	db_bind_text(ins, 9, created_at);
	r = step_done(db, ins, "store a task", &changes, err);
	if (r < 0 || changes == 0)
		return r; /* stored before: its order was stored with it */
	(*added)++;
	r = task_id_of(db, find, t->key, &id, err);
	if (r == 0)
		r = err_set(err, WXR_EDB, "task %s: stored but not found", t->key);
	if (r < 0)
		return r;
	for (int i = 0; i < t->n_after; i++) {
		int64_t after = 0;

		r = task_id_of(db, find, t->after[i], &after, err);
		if (r == 0)
			return err_set(err, WXR_EDATA,
			               "task %s comes after %s, which is not queued", t->key,
			               t->after[i]);
		if (r < 0)
			return r;
		db_bind_i64(dep, 1, id);
		db_bind_i64(dep, 2, after);
		r = step_done(db, dep, "store a task's order", NULL, err);
		if (r < 0)
			return r;
	}
	if (t->n_after == 0)
		return 0;
	/* pending: the stored order rows (a task named twice counts once) whose
	 * task is not done yet; through task_deps' primary key */
	r = exec_i64(db,
	             "UPDATE tasks SET pending = (SELECT COUNT(*) FROM task_deps d"
	             " JOIN tasks a ON a.id = d.after_id WHERE d.task_id = ? AND a.state <> 'done')"
	             " WHERE id = ?",
	             (int64_t[]){ id, id }, 2, "count a task's pending ones", NULL, err);
	if (r < 0)
		return r;
	return exec_i64(db, "UPDATE tasks SET state = 'ready' WHERE id = ? AND pending = 0",
	                (int64_t[]){ id }, 1, "ready a task", NULL, err);
}

int db_tasks_enqueue(struct db *db, int64_t run_id, const struct db_task_new *tasks, int n,
                     int max_attempts, const char *created_at, int *out_added, struct wxr_err *err)
{
	struct db_stmt *ins = NULL, *find = NULL, *dep = NULL;
	int added = 0;
	bool own;
	int r;

	*out_added = 0;
	if (max_attempts < 1)
		return err_set(err, WXR_EUSAGE, "a task needs at least one attempt");
	own = db_tx_depth(db) == 0;
	r = own ? db_begin(db, err) : 0;
	if (r < 0)
		return r;
	r = db_prepare(db,
	               "INSERT INTO tasks (task_key, run_id, mchid, job, step, date, state,"
	               " max_attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
	               " ON CONFLICT (task_key) DO NOTHING",
	               &ins, err);
	if (r == 0)
		r = db_prepare(db, "SELECT id FROM tasks WHERE task_key = ?", &find, err);
	if (r == 0)
		r = db_prepare(db,
		               "INSERT INTO task_deps (task_id, after_id) VALUES (?, ?)"
		               " ON CONFLICT (task_id, after_id) DO NOTHING",
		               &dep, err);
	for (int i = 0; r == 0 && i < n; i++)
		r = enqueue_one(db, ins, find, dep, run_id, &tasks[i], max_attempts, created_at,
		                &added, err);
	db_finalize(ins);
	db_finalize(find);
	db_finalize(dep);
	if (r < 0) {
		if (own)
			db_rollback(db);
		return r;
	}
	r = own ? db_commit(db, err) : 0;
	if (r == 0)
		*out_added = added;
	return r;
}

/* Steps st (its one row at most) into *out: 1, or 0 when there is none. */
static int task_one(struct db *db, struct db_stmt *st, struct db_task *out, struct wxr_err *err)
{
	int r = db_step(st);

	if (r == DB_ROW)
		task_read(st, out);
	r = r == DB_ROW ? 1 : r == DB_DONE ? 0 : db_error(db, err, "read a task");
	db_finalize(st);
	return r;
}

int db_task_find(struct db *db, const char *key, struct db_task *out, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r = db_prepare(db, "SELECT " TASK_COLS " FROM tasks WHERE task_key = ?", &st, err);

	if (r < 0)
		return r;
	db_bind_text(st, 1, key);
	return task_one(db, st, out, err);
}

/* Reads the task with that id into *out: 1, or 0 when there is none. */
static int task_get(struct db *db, int64_t id, struct db_task *out, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r = db_prepare(db, "SELECT " TASK_COLS " FROM tasks WHERE id = ?", &st, err);

	if (r < 0)
		return r;
	db_bind_i64(st, 1, id);
	return task_one(db, st, out, err);
}

/* The candidate of one search: the id of the oldest task the statement
 * finds for that merchant filter, 0 for none. */
static int candidate(struct db *db, bool lapsed, int64_t now, const char *mchid, int64_t *out,
                     struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	*out = 0;
	r = db_prepare(db,
	               lapsed ? "SELECT id FROM tasks WHERE state = 'running' AND lease_until < ?"
	                        " AND (? = '' OR mchid = ?) ORDER BY lease_until, id LIMIT 1"
	                      : "SELECT id FROM tasks WHERE state = 'ready' AND not_before <= ?"
	                        " AND (? = '' OR mchid = ?) ORDER BY not_before, id LIMIT 1",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_i64(st, 1, now);
	db_bind_text(st, 2, mchid);
	db_bind_text(st, 3, mchid);
	r = db_step(st);
	if (r == DB_ROW)
		*out = db_col_i64(st, 0);
	r = r == DB_ROW || r == DB_DONE ? 0 : db_error(db, err, "find a task to claim");
	db_finalize(st);
	return r;
}

/* Holds a lapsed task whose claims are spent; 1 when it was held. */
static int hold_spent(struct db *db, int64_t id, int64_t now, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int64_t changes = 0;
	int r = db_prepare(
	        db,
	        "UPDATE tasks SET state = 'held', lease_owner = NULL, lease_until = NULL,"
	        " last_error = 'its worker stopped answering ' || attempts || ' times'"
	        " WHERE id = ? AND state = 'running' AND lease_until < ?"
	        " AND attempts >= max_attempts",
	        &st, err);

	if (r < 0)
		return r;
	db_bind_i64(st, 1, id);
	db_bind_i64(st, 2, now);
	r = step_done(db, st, "hold a task", &changes, err);
	db_finalize(st);
	return r < 0 ? r : changes > 0;
}

/* Claims task id if it is still claimable: 1 claimed, 0 not. */
static int take(struct db *db, int64_t id, const char *owner, int64_t now, int64_t lease_s,
                struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int64_t changes = 0;
	int r = db_prepare(db,
	                   "UPDATE tasks SET state = 'running', lease_gen = lease_gen + 1,"
	                   " lease_owner = ?, lease_until = ?, attempts = attempts + 1"
	                   " WHERE id = ? AND ((state = 'ready' AND not_before <= ?)"
	                   " OR (state = 'running' AND lease_until < ?))",
	                   &st, err);

	if (r < 0)
		return r;
	db_bind_text(st, 1, owner);
	db_bind_i64(st, 2, now + lease_s);
	db_bind_i64(st, 3, id);
	db_bind_i64(st, 4, now);
	db_bind_i64(st, 5, now);
	r = step_done(db, st, "claim a task", &changes, err);
	db_finalize(st);
	return r < 0 ? r : changes > 0;
}

static int claim_in_tx(struct db *db, const char *owner, int64_t now, int64_t lease_s,
                       const char *mchid, struct db_task *out, struct wxr_err *err)
{
	for (;;) {
		int64_t id = 0;
		bool lapsed = true;
		int r = candidate(db, true, now, mchid, &id, err);

		if (r == 0 && id == 0) {
			lapsed = false;
			r = candidate(db, false, now, mchid, &id, err);
		}
		if (r < 0 || id == 0)
			return r;
		if (lapsed) {
			r = hold_spent(db, id, now, err);
			if (r < 0)
				return r;
			if (r == 1)
				continue; /* held for a person: look again */
		}
		r = take(db, id, owner, now, lease_s, err);
		if (r < 0)
			return r;
		if (r == 0)
			continue; /* claimed by another since it was read */
		r = task_get(db, id, out, err);
		if (r == 0)
			r = err_set(err, WXR_EDB, "task %lld: claimed but not found",
			            (long long)id);
		if (r < 0)
			return r;
		out->taken_over = lapsed;
		return 1;
	}
}

int db_task_claim(struct db *db, const char *owner, int64_t now, int64_t lease_s,
                  const char *const *mchids, int n_mchids, struct db_task *out, struct wxr_err *err)
{
	int r;

	memset(out, 0, sizeof(*out));
	if (lease_s < 1)
		return err_set(err, WXR_EUSAGE, "a lease must last at least a second");
	r = db_begin(db, err);
	if (r < 0)
		return r;
	r = 0;
	for (int i = 0; r == 0 && i < (n_mchids > 0 ? n_mchids : 1); i++)
		r = claim_in_tx(db, owner, now, lease_s, n_mchids > 0 ? mchids[i] : "", out, err);
	if (r < 0) {
		db_task_release(out);
		db_rollback(db);
		return r;
	}
	int c = db_commit(db, err);

	if (c < 0) {
		db_task_release(out);
		return c;
	}
	return r;
}

/* The fencing UPDATE: moves the lease to until (never back), on the claim
 * of generation gen only. */
static int fenced_touch(struct db *db, int64_t id, int64_t gen, int64_t until, const char *what,
                        struct wxr_err *err)
{
	int64_t changes = 0;
	int r = exec_i64(db,
	                 "UPDATE tasks SET lease_until = CASE WHEN lease_until > ? THEN lease_until"
	                 " ELSE ? END WHERE id = ? AND lease_gen = ? AND state = 'running'",
	                 (int64_t[]){ until, until, id, gen }, 4, what, &changes, err);

	if (r == 0 && changes == 0)
		r = err_set(
		        err, WXR_ELOCKED,
		        "task %lld: this worker's claim (generation %lld) is no longer the task's:"
		        " its lease lapsed and another worker took it over",
		        (long long)id, (long long)gen);
	return r;
}

int db_task_renew(struct db *db, int64_t id, int64_t gen, int64_t now, int64_t lease_s,
                  struct wxr_err *err)
{
	int r = db_begin(db, err);

	if (r < 0)
		return r;
	r = fenced_touch(db, id, gen, now + lease_s, "renew a task's lease", err);
	if (r < 0) {
		db_rollback(db);
		return r;
	}
	return db_commit(db, err);
}

int db_task_fence(struct db *db, int64_t id, int64_t gen, int64_t now, struct wxr_err *err)
{
	if (!db_in_tx(db))
		return err_set(err, WXR_EDB, "task %lld: fenced outside a transaction",
		               (long long)id);
	return fenced_touch(db, id, gen, now, "check a task's claim", err);
}

static int fence_check(struct db *db, void *arg, struct wxr_err *err)
{
	const struct db_task_fence *f = arg;

	return fenced_touch(db, f->id, f->gen, 0, "check the worker's claim before a commit", err);
}

void db_task_fence_commits(struct db *db, const struct db_task_fence *f)
{
	if (f)
		db_on_commit(db, fence_check, (void *)f);
	else
		db_on_commit(db, NULL, NULL);
}

int db_task_done(struct db *db, int64_t id, int64_t gen, const char *finished_at,
                 struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int64_t changes = 0;
	int r;

	if (!db_in_tx(db))
		return err_set(err, WXR_EDB, "task %lld: finished outside a transaction",
		               (long long)id);
	r = db_prepare(db,
	               "UPDATE tasks SET state = 'done', finished_at = ?, lease_owner = NULL,"
	               " lease_until = NULL, last_error = NULL"
	               " WHERE id = ? AND lease_gen = ? AND state = 'running'",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, finished_at);
	db_bind_i64(st, 2, id);
	db_bind_i64(st, 3, gen);
	r = step_done(db, st, "finish a task", &changes, err);
	db_finalize(st);
	if (r < 0)
		return r;
	if (changes == 0)
		return err_set(err, WXR_ELOCKED,
		               "task %lld: this worker's claim (generation %lld) is no longer the"
		               " task's: its results are not committed",
		               (long long)id, (long long)gen);
	r = exec_i64(db,
	             "UPDATE tasks SET pending = pending - 1,"
	             " state = CASE WHEN pending = 1 AND state = 'blocked' THEN 'ready'"
	             " ELSE state END"
	             " WHERE id IN (SELECT task_id FROM task_deps WHERE after_id = ?)",
	             (int64_t[]){ id }, 1, "ready the tasks after a task", NULL, err);
	return r;
}

int db_task_fail(struct db *db, int64_t id, int64_t gen, int64_t now, int64_t backoff_s,
                 const char *error, bool *out_held, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int64_t changes = 0;
	int r;

	*out_held = false;
	r = db_begin(db, err);
	if (r < 0)
		return r;
	r = db_prepare(db,
	               "UPDATE tasks SET state = CASE WHEN attempts >= max_attempts THEN 'held'"
	               " ELSE 'ready' END, not_before = ?, lease_owner = NULL, lease_until = NULL,"
	               " last_error = ? WHERE id = ? AND lease_gen = ? AND state = 'running'",
	               &st, err);
	if (r == 0) {
		db_bind_i64(st, 1, now + (backoff_s > 0 ? backoff_s : 0));
		db_bind_text(st, 2, error ? error : "failed");
		db_bind_i64(st, 3, id);
		db_bind_i64(st, 4, gen);
		r = step_done(db, st, "record a task's failure", &changes, err);
	}
	db_finalize(st);
	if (r == 0 && changes == 0)
		r = err_set(
		        err, WXR_ELOCKED,
		        "task %lld: this worker's claim (generation %lld) is no longer the task's",
		        (long long)id, (long long)gen);
	if (r == 0) {
		struct db_task t = { 0 };

		r = task_get(db, id, &t, err);
		if (r == 1)
			*out_held = strcmp(t.state, "held") == 0;
		db_task_release(&t);
		r = r < 0 ? r : 0;
	}
	if (r < 0) {
		db_rollback(db);
		return r;
	}
	return db_commit(db, err);
}

int db_task_retry(struct db *db, int64_t id, struct db_task *out_was, struct wxr_err *err)
{
	struct db_task t = { 0 };
	bool own = db_tx_depth(db) == 0;
	int r = own ? db_begin(db, err) : 0;

	if (r < 0)
		return r;
	r = task_get(db, id, &t, err);
	if (r == 0)
		r = err_set(err, WXR_ENOTFOUND, "no task %lld (list them: wxrecon tasks)",
		            (long long)id);
	else if (r == 1 && strcmp(t.state, "held") != 0)
		r = err_set(err, WXR_EDATA,
		            "task %lld is %s, not held: only a held task is retried", (long long)id,
		            t.state);
	else if (r == 1)
		r = exec_i64(db,
		             "UPDATE tasks SET state = 'ready', attempts = 0, not_before = 0"
		             " WHERE id = ? AND state = 'held'",
		             (int64_t[]){ id }, 1, "retry a task", NULL, err);
	if (r >= 0 && own)
		r = db_commit(db, err);
	else if (r < 0 && own)
		db_rollback(db);
	if (r >= 0 && out_was)
		*out_was = t;
	else
		db_task_release(&t);
	return r < 0 ? r : 0;
}

int db_tasks_list(struct db *db, const char *state,
                  int (*cb)(void *ctx, const struct db_task *t, struct wxr_err *err), void *ctx,
                  struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r = db_prepare(
	        db, "SELECT " TASK_COLS " FROM tasks WHERE (? = '' OR state = ?) ORDER BY id", &st,
	        err);

	if (r < 0)
		return r;
	db_bind_text(st, 1, state ? state : "");
	db_bind_text(st, 2, state ? state : "");
	while ((r = db_step(st)) == DB_ROW) {
		struct db_task t;

		task_read(st, &t);
		r = cb(ctx, &t, err);
		db_task_release(&t);
		if (r < 0)
			goto out;
	}
	r = r == DB_DONE ? 0 : db_error(db, err, "list the tasks");
out:
	db_finalize(st);
	return r;
}

int db_tasks_count(struct db *db, struct db_task_counts *out, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r = db_prepare(db, "SELECT state, COUNT(*) FROM tasks GROUP BY state", &st, err);

	memset(out, 0, sizeof(*out));
	if (r < 0)
		return r;
	while ((r = db_step(st)) == DB_ROW) {
		const char *s = db_col_text(st, 0);
		int64_t n = db_col_i64(st, 1);

		if (strcmp(s, "blocked") == 0)
			out->blocked = n;
		else if (strcmp(s, "ready") == 0)
			out->ready = n;
		else if (strcmp(s, "running") == 0)
			out->running = n;
		else if (strcmp(s, "done") == 0)
			out->done = n;
		else if (strcmp(s, "held") == 0)
			out->held = n;
	}
	r = r == DB_DONE ? 0 : db_error(db, err, "count the tasks");
	db_finalize(st);
	return r;
}
