#include "db/db_jobs.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "db/audit.h"

static void now_utc(char out[CLOCK_RFC3339_LEN])
{
	time_format_rfc3339(clock_real_now(), 0, out);
}

static void hostname(char *out, size_t n)
{
	if (gethostname(out, n) < 0)
		snprintf(out, n, "unknown");
	out[n - 1] = '\0';
}

static int read_holder(struct db *db, const char *mchid, const char *name, bool *out_found,
                       struct lock_holder *h, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "SELECT coalesce(run_id, 0), pid, host, acquired_at FROM locks"
	               " WHERE mchid = ? AND name = ?",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, name);
	r = db_step(st);
	*out_found = r == DB_ROW;
	if (r == DB_ROW) {
		h->run_id = db_col_i64(st, 0);
		h->pid = (long)db_col_i64(st, 1);
		snprintf(h->host, sizeof(h->host), "%s", db_col_text(st, 2));
		snprintf(h->since, sizeof(h->since), "%s", db_col_text(st, 3));
		r = 0;
	} else if (r == DB_DONE) {
		r = 0;
	} else {
		r = db_error(db, err, "read locks");
	}
	db_finalize(st);
	return r;
}

static int exec_lock(struct db *db, const char *sql, const char *mchid, const char *name,
                     int64_t run_id, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char host[256];
	char now[CLOCK_RFC3339_LEN];
	int r;

	hostname(host, sizeof(host));
	now_utc(now);
	r = db_prepare(db, sql, &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, name);
	if (run_id > 0)
		db_bind_i64(st, 3, run_id);
	db_bind_i64(st, 4, (int64_t)getpid());
	db_bind_text(st, 5, host);
	db_bind_text(st, 6, now);
	r = db_step(st) == DB_DONE ? 0 : db_error(db, err, "write locks");
	db_finalize(st);
	return r;
}

static void lock_key(char *out, size_t n, const char *mchid, const char *name)
{
	snprintf(out, n, "wxrecon.lock/%s/%s", mchid, name);
}

/*
 * The lock is a row of `locks` (who holds it, for the message) and, where
 * the backend has one, a session lock on the same name (PostgreSQL: a
 * session advisory lock) that says whether the holder is alive: the server
 * drops it when the holder's connection ends, on any host. Without one
 * (SQLite) a holder on this host whose pid is gone is dead. The session
 * lock is taken before the row is read, so two processes cannot both find
 * the row free; on SQLite BEGIN IMMEDIATE serialises them.
 */
int jobs_lock(struct db *db, const char *mchid, const char *name, int64_t run_id,
              struct wxr_err *err)
{
	struct lock_holder h;
	bool found = false;
	char host[256], key[256];
	int r, sess;

	lock_key(key, sizeof(key), mchid, name);
	sess = db_session_lock(db, key, err);
	if (sess < 0)
		return sess;
	r = db_begin(db, err);
	if (r < 0)
		goto out;
	r = read_holder(db, mchid, name, &found, &h, err);
	if (r < 0)
		goto fail;
	hostname(host, sizeof(host));
	if (found || sess == DB_LOCK_HELD) {
		bool mine = found && ((run_id > 0 && h.run_id == run_id) ||
		                      (h.pid == (long)getpid() && strcmp(h.host, host) == 0));
		bool dead = sess == DB_LOCK_TAKEN ||
		            (sess == DB_LOCK_NONE && strcmp(h.host, host) == 0 &&
		             kill((pid_t)h.pid, 0) < 0 && errno == ESRCH);

		if (mine) {
			db_rollback(db);
			return 0;
		}
		if (!found) {
			r = err_set(err, WXR_ELOCKED, "locked: another process is taking the lock");
			goto fail;
		}
		if (!dead) {
			if (h.run_id)
				r = err_set(
				        err, WXR_ELOCKED,
				        "locked: run %lld (pid %ld on %s) holds the lock since %s",
				        (long long)h.run_id, h.pid, h.host, h.since);
			else
				r = err_set(err, WXR_ELOCKED,
				            "locked: pid %ld on %s holds the lock since %s", h.pid,
				            h.host, h.since);
			goto fail;
		}
		{
			char detail[512];

			snprintf(detail, sizeof(detail),
			         "{\"stale_run_id\":%lld,\"stale_pid\":%ld,\"since\":\"%s\"}",
			         (long long)h.run_id, h.pid, h.since);
			r = audit_append(db, run_id, "jobs", "lock.takeover", name, detail, err);
			if (r < 0)
				goto fail;
		}
		r = exec_lock(db,
		              "UPDATE locks SET run_id = ?3, pid = ?4, host = ?5, acquired_at = ?6"
		              " WHERE mchid = ?1 AND name = ?2",
		              mchid, name, run_id, err);
	} else {
		r = exec_lock(db,
		              "INSERT INTO locks (mchid, name, run_id, pid, host, acquired_at)"
		              " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
		              mchid, name, run_id, err);
	}
	if (r < 0)
		goto fail;
	r = db_commit(db, err);
	goto out;
fail:
	db_rollback(db);
out:
	if (r < 0 && sess == DB_LOCK_TAKEN)
		db_session_unlock(db, key, NULL);
	return r;
}

int jobs_lock_attach_run(struct db *db, const char *mchid, const char *name, int64_t run_id,
                         struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char host[256];
	int r;

	hostname(host, sizeof(host));
	r = db_prepare(db,
	               "UPDATE locks SET run_id = ? WHERE mchid = ? AND name = ? AND pid = ?"
	               " AND host = ?",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_i64(st, 1, run_id);
	db_bind_text(st, 2, mchid);
	db_bind_text(st, 3, name);
	db_bind_i64(st, 4, (int64_t)getpid());
	db_bind_text(st, 5, host);
	r = db_step(st) == DB_DONE ? 0 : db_error(db, err, "update lock");
	db_finalize(st);
	return r;
}

int jobs_unlock(struct db *db, const char *mchid, const char *name, int64_t run_id,
                struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char host[256];
	int r;

	hostname(host, sizeof(host));
	r = db_prepare(db,
	               "DELETE FROM locks WHERE mchid = ? AND name = ?"
	               " AND ((run_id IS NOT NULL AND run_id = ?) OR (pid = ? AND host = ?))",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, name);
	db_bind_i64(st, 3, run_id);
	db_bind_i64(st, 4, (int64_t)getpid());
	db_bind_text(st, 5, host);
	r = db_step(st) == DB_DONE ? 0 : db_error(db, err, "release lock");
	db_finalize(st);
	if (r == 0) {
		char key[256];

		lock_key(key, sizeof(key), mchid, name);
		r = db_session_unlock(db, key, err);
	}
	return r;
}

int jobs_run_start(struct db *db, const char *mchid, const char *job, const char *from,
                   const char *to, bool dry_run, int64_t resumed_from, int64_t *out_run_id,
                   struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char host[256];
	char now[CLOCK_RFC3339_LEN];
	int r;

	hostname(host, sizeof(host));
	now_utc(now);
	r = db_prepare(
	        db,
	        "INSERT INTO job_runs (mchid, job, date_from, date_to, dry_run, state, pid,"
	        " host, resumed_from, started_at) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)"
	        " RETURNING id",
	        &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, job);
	db_bind_text(st, 3, from && *from ? from : NULL);
	db_bind_text(st, 4, to && *to ? to : NULL);
	db_bind_i64(st, 5, dry_run);
	db_bind_i64(st, 6, (int64_t)getpid());
	db_bind_text(st, 7, host);
	if (resumed_from > 0)
		db_bind_i64(st, 8, resumed_from);
	db_bind_text(st, 9, now);
	if (db_step(st) != DB_ROW) {
		r = db_error(db, err, "record job run");
		goto out;
	}
	*out_run_id = db_col_i64(st, 0);
	r = 0;
out:
	db_finalize(st);
	return r;
}

int jobs_run_checkpoint(struct db *db, int64_t run_id, struct wxr_err *err)
{
	return audit_checkpoint_run(db, run_id, err);
}

int jobs_run_finish(struct db *db, int64_t run_id, const char *state, int exit_code,
                    const char *summary_json, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char now[CLOCK_RFC3339_LEN];
	int r;

	now_utc(now);
	r = db_prepare(db,
	               "UPDATE job_runs SET state = ?, exit_code = ?, ended_at = ?, summary = ?"
	               " WHERE id = ?",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, state);
	db_bind_i64(st, 2, exit_code);
	db_bind_text(st, 3, now);
	db_bind_text(st, 4, summary_json);
	db_bind_i64(st, 5, run_id);
	r = db_step(st) == DB_DONE ? 0 : db_error(db, err, "finish job run");
	db_finalize(st);
	return r;
}

int jobs_step_add(struct db *db, int64_t run_id, int seq, const char *step, const char *date,
                  int64_t *out_step_id, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "INSERT INTO job_steps (run_id, seq, step, date, state) VALUES (?, ?, ?, ?,"
	               " 'pending') RETURNING id",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_i64(st, 1, run_id);
	db_bind_i64(st, 2, seq);
	db_bind_text(st, 3, step);
	db_bind_text(st, 4, date);
	if (db_step(st) != DB_ROW) {
		r = db_error(db, err, "record job step");
		goto out;
	}
	*out_step_id = db_col_i64(st, 0);
	r = 0;
out:
	db_finalize(st);
	return r;
}

int jobs_step_set(struct db *db, int64_t step_id, const char *state, int exit_code,
                  const char *message, const char *reason, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char now[CLOCK_RFC3339_LEN];
	int r;
	bool starting = strcmp(state, "running") == 0;

	now_utc(now);
	r = db_prepare(db,
	               starting ? "UPDATE job_steps SET state = ?1, started_at = ?4 WHERE id = ?5"
	                        : "UPDATE job_steps SET state = ?1, exit_code = ?2, message = ?3,"
	                          " ended_at = ?4, reason = ?6 WHERE id = ?5",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, state);
	db_bind_i64(st, 2, exit_code);
	db_bind_text(st, 3, message);
	db_bind_text(st, 4, now);
	db_bind_i64(st, 5, step_id);
	if (!starting)
		db_bind_text(st, 6, reason);
	r = db_step(st) == DB_DONE ? 0 : db_error(db, err, "update job step");
	db_finalize(st);
	return r;
}

int jobs_run_get(struct db *db, int64_t run_id, struct job_run_row *out, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	r = db_prepare(db,
	               "SELECT job, coalesce(date_from,''), coalesce(date_to,''), dry_run"
	               " FROM job_runs WHERE id = ?",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_i64(st, 1, run_id);
	r = db_step(st);
	if (r == DB_ROW) {
		out->id = run_id;
		out->job = xstrdup(db_col_text(st, 0));
		out->from = xstrdup(db_col_text(st, 1));
		out->to = xstrdup(db_col_text(st, 2));
		out->dry_run = (int)db_col_i64(st, 3) != 0;
		r = 0;
	} else {
		r = r == DB_DONE ? err_set(err, WXR_ENOTFOUND, "no run %lld", (long long)run_id)
		                 : db_error(db, err, "read job_runs");
	}
	db_finalize(st);
	return r;
}

void jobs_run_row_release(struct job_run_row *row)
{
	free(row->job);
	free(row->from);
	free(row->to);
	memset(row, 0, sizeof(*row));
}

int jobs_steps_unfinished(struct db *db, int64_t run_id,
                          int (*fn)(void *arg, const char *step, const char *date,
                                    struct wxr_err *err),
                          void *arg, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db,
	               "SELECT step, coalesce(date, '') FROM job_steps WHERE run_id = ?"
	               " AND state NOT IN ('ok', 'attention') ORDER BY seq",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_i64(st, 1, run_id);
	while ((r = db_step(st)) == DB_ROW) {
		r = fn(arg, db_col_text(st, 0), db_col_text(st, 1), err);
		if (r < 0)
			goto out;
	}
	r = r == DB_DONE ? 0 : db_error(db, err, "read job_steps");
out:
	db_finalize(st);
	return r;
}

int jobs_runs_list(struct db *db, long last, const struct jobs_list_cb *cb, struct wxr_err *err)
{
	struct db_stmt *st = NULL, *ss = NULL;
	int r;

	r = db_prepare(
	        db,
	        "SELECT id, job, coalesce(date_from,''), coalesce(date_to,''), dry_run, state,"
	        " coalesce(exit_code, -1), started_at, coalesce(ended_at,'')"
	        " FROM job_runs ORDER BY id DESC LIMIT ?",
	        &st, err);
	if (r < 0)
		return r;
	r = db_prepare(
	        db,
	        "SELECT seq, step, coalesce(date,''), state, coalesce(exit_code, -1),"
	        " coalesce(started_at,''), coalesce(ended_at,''), coalesce(message,''), reason"
	        " FROM job_steps WHERE run_id = ? ORDER BY seq",
	        &ss, err);
	if (r < 0)
		goto out;
	db_bind_i64(st, 1, last);
	while ((r = db_step(st)) == DB_ROW) {
		struct job_list_run run = {
			.id = db_col_i64(st, 0),
			.job = db_col_text(st, 1),
			.from = db_col_text(st, 2),
			.to = db_col_text(st, 3),
			.dry_run = (int)db_col_i64(st, 4) != 0,
			.state = db_col_text(st, 5),
			.exit_code = (int)db_col_i64(st, 6),
			.started_at = db_col_text(st, 7),
			.ended_at = db_col_text(st, 8),
		};

		r = cb->run(cb->arg, &run, err);
		if (r < 0)
			goto out;
		db_reset(ss);
		db_bind_i64(ss, 1, run.id);
		while ((r = db_step(ss)) == DB_ROW) {
			struct job_list_step step = {
				.seq = (int)db_col_i64(ss, 0),
				.step = db_col_text(ss, 1),
				.date = db_col_text(ss, 2),
				.state = db_col_text(ss, 3),
				.exit_code = (int)db_col_i64(ss, 4),
				.started_at = db_col_text(ss, 5),
				.ended_at = db_col_text(ss, 6),
				.message = db_col_text(ss, 7),
				.reason = db_col_is_null(ss, 8) ? NULL : db_col_text(ss, 8),
			};

			r = cb->step(cb->arg, &step, err);
			if (r < 0)
				goto out;
		}
		if (r != DB_DONE) {
			r = db_error(db, err, "read job_steps");
			goto out;
		}
		r = cb->run_end(cb->arg, err);
		if (r < 0)
			goto out;
	}
	r = r == DB_DONE ? 0 : db_error(db, err, "read job_runs");
out:
	db_finalize(st);
	db_finalize(ss);
	return r;
}
