/*
 * t-tasks.c - the work queue (db/db_tasks.c, issue 17): enqueue is
 * idempotent, order between tasks holds, a claim is exclusive, a lapsed
 * lease is taken over and the old claim is fenced out, failures back off
 * and then wait for a person, and four processes claiming at once finish
 * every task exactly once.
 *
 * On a SQLite file always; on PostgreSQL too when make test-pg gives a
 * server (WXRECON_TEST_PGHOST/PGPORT/PGUSER).
 */
#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/compat.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "db/db.h"
#include "db/db_tasks.h"
#include "testutil.h"

#define T0 1800000000LL /* the wall clock of the tests */

/* Test names carry the backend: ok/is_int/is_str with a format. */
static const char *tname(const char *fmt, ...) WXR_PRINTF(1, 2);
static const char *tname(const char *fmt, ...)
{
	static char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}
#undef ok
#undef is_int
#undef is_str
#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, tname(__VA_ARGS__))
#define is_int(got, want, ...) \
	tap_is_int((int64_t)(got), (int64_t)(want), __FILE__, __LINE__, tname(__VA_ARGS__))
#define is_str(got, want, ...) tap_is_str((got), (want), __FILE__, __LINE__, tname(__VA_ARGS__))

static struct db *open_db(const char *target)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct db *db = NULL;

	if (db_open(target, &db, &err) < 0) {
		diag("open %s: %s", target, err.msg);
		return NULL;
	}
	return db;
}

static int64_t q_int(struct db *db, const char *sql)
{
	struct db_stmt *st = NULL;
	int64_t v = -1;

	if (db_prepare(db, sql, &st, NULL) == 0 && db_step(st) == DB_ROW)
		v = db_col_i64(st, 0);
	db_finalize(st);
	return v;
}

/* Claims one task for owner at time now: its id, 0 for none, -1 on error. */
static int64_t claim(struct db *db, const char *owner, int64_t now, int64_t lease,
                     struct db_task *out)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct db_task t;
	int r = db_task_claim(db, owner, now, lease, NULL, 0, &t, &err);
	int64_t id = r == 1 ? t.id : r == 0 ? 0 : -1;

	if (r < 0)
		diag("claim: %s", err.msg);
	if (out && r == 1)
		*out = t;
	else
		db_task_release(&t);
	return id;
}

/* Finishes a claim in a transaction of its own, as a worker would. */
static int finish(struct db *db, const struct db_task *t, int64_t now, struct wxr_err *err)
{
	int r = db_begin(db, err);

	if (r < 0)
		return r;
	r = db_task_fence(db, t->id, t->lease_gen, now, err);
	if (r == 0)
		r = db_task_done(db, t->id, t->lease_gen, "2027-01-15T08:00:00Z", err);
	if (r < 0) {
		db_rollback(db);
		return r;
	}
	return db_commit(db, err);
}

static const char *state_of(struct db *db, const char *key, char *buf, size_t n)
{
	struct db_stmt *st = NULL;

	snprintf(buf, n, "(none)");
	if (db_prepare(db, "SELECT state FROM tasks WHERE task_key = ?", &st, NULL) == 0) {
		db_bind_text(st, 1, key);
		if (db_step(st) == DB_ROW)
			snprintf(buf, n, "%s", db_col_text(st, 0));
	}
	db_finalize(st);
	return buf;
}

static void order_and_idempotence(struct db *db, const char *be)
{
	struct wxr_err err = WXR_ERR_INIT;
	const char *const after_r1[] = { "m1/nightly/2027-01-01/fetch-bills" };
	const char *const after_r2[] = { "m1/nightly/2027-01-02/fetch-bills" };
	const char *const after_rep[] = { "m1/nightly/2027-01-01/reconcile",
		                          "m1/nightly/2027-01-02/reconcile" };
	const struct db_task_new plan[] = {
		{ "m1/nightly/2027-01-01/fetch-bills", "m1", "nightly", "fetch-bills", "2027-01-01",
		  NULL, 0 },
		{ "m1/nightly/2027-01-01/reconcile", "m1", "nightly", "reconcile", "2027-01-01",
		  after_r1, 1 },
		{ "m1/nightly/2027-01-02/fetch-bills", "m1", "nightly", "fetch-bills", "2027-01-02",
		  NULL, 0 },
		{ "m1/nightly/2027-01-02/reconcile", "m1", "nightly", "reconcile", "2027-01-02",
		  after_r2, 1 },
		{ "m1/nightly/report", "m1", "nightly", "report", NULL, after_rep, 2 },
	};
	struct db_task_counts c;
	struct db_task a, b;
	char buf[32];
	int added = -1;

	ok(db_tasks_enqueue(db, 0, plan, 5, 3, "2027-01-15T00:00:00Z", &added, &err) == 0 &&
	           added == 5,
	   "%s: a job over two days enqueues its five tasks", be);
	ok(db_tasks_enqueue(db, 0, plan, 5, 3, "2027-01-15T00:00:01Z", &added, &err) == 0 &&
	           added == 0,
	   "%s: enqueuing it again adds nothing", be);
	is_int(q_int(db, "SELECT COUNT(*) FROM tasks"), 5, "%s: five rows", be);
	db_tasks_count(db, &c, &err);
	ok(c.ready == 2 && c.blocked == 3,
	   "%s: the fetches are ready, the rest blocked (%lld/%lld)", be, (long long)c.ready,
	   (long long)c.blocked);

	{
		const char *const bad_after[] = { "m1/nightly/2027-01-09/fetch-bills" };
		const struct db_task_new bad[] = {
			{ "m1/other/2027-01-03/fetch-bills", "m1", "other", "fetch-bills",
			  "2027-01-03", NULL, 0 },
			{ "m1/other/2027-01-03/reconcile", "m1", "other", "reconcile", "2027-01-03",
			  bad_after, 1 },
		};
		int r = db_tasks_enqueue(db, 0, bad, 2, 3, "2027-01-15T00:00:02Z", &added, &err);

		ok(r == WXR_EDATA && strstr(err.msg, "not queued"),
		   "%s: a task after one not queued is refused", be);
		is_int(q_int(db, "SELECT COUNT(*) FROM tasks"), 5,
		       "%s: ... and none of that enqueue is stored", be);
	}

	is_int(claim(db, "w1", T0, 60, &a),
	       q_int(db, "SELECT id FROM tasks WHERE task_key ="
	                 " 'm1/nightly/2027-01-01/fetch-bills'"),
	       "%s: the first claim takes the oldest ready task", be);
	is_int(a.lease_gen, 1, "%s: ... generation 1", be);
	ok(claim(db, "w2", T0, 60, &b) > 0 &&
	           strcmp(b.key, "m1/nightly/2027-01-02/fetch-bills") == 0,
	   "%s: a second worker gets the other day's fetch", be);
	is_int(claim(db, "w3", T0, 60, NULL), 0, "%s: then nothing is claimable (the rest wait)",
	       be);
	ok(finish(db, &a, T0 + 5, &err) == 0, "%s: the first fetch is done", be);
	is_str(state_of(db, "m1/nightly/2027-01-01/reconcile", buf, sizeof(buf)), "ready",
	       "%s: ... which readies its day's reconcile", be);
	is_str(state_of(db, "m1/nightly/report", buf, sizeof(buf)), "blocked",
	       "%s: the report still waits for both days", be);
	ok(finish(db, &b, T0 + 6, &err) == 0, "%s: the second fetch is done", be);
	db_task_release(&a);
	db_task_release(&b);

	/* The two reconciles, then the report. */
	for (int i = 0; i < 2; i++) {
		ok(claim(db, "w1", T0 + 10, 60, &a) > 0 && strcmp(a.step, "reconcile") == 0,
		   "%s: reconcile %d claimed", be, i + 1);
		if (i == 0)
			is_str(state_of(db, "m1/nightly/report", buf, sizeof(buf)), "blocked",
			       "%s: the report waits while a reconcile runs", be);
		ok(finish(db, &a, T0 + 11, &err) == 0, "%s: ... and done", be);
		db_task_release(&a);
	}
	ok(claim(db, "w1", T0 + 20, 60, &a) > 0 && strcmp(a.step, "report") == 0 && !a.date,
	   "%s: the report is ready once both days are done", be);
	ok(finish(db, &a, T0 + 21, &err) == 0, "%s: ... and done", be);
	db_task_release(&a);
	db_tasks_count(db, &c, &err);
	is_int(c.done, 5, "%s: all five done", be);
}

static void leases_and_fencing(struct db *db, const char *be)
{
	struct wxr_err err = WXR_ERR_INIT;
	const struct db_task_new one[] = {
		{ "m2/nightly/2027-01-01/fetch-bills", "m2", "nightly", "fetch-bills", "2027-01-01",
		  NULL, 0 },
	};
	struct db_task a, b;
	int added = 0;
	int r;

	db_tasks_enqueue(db, 0, one, 1, 3, "2027-01-15T00:00:00Z", &added, &err);
	ok(claim(db, "w-old", T0, 30, &a) > 0, "%s: a worker claims for 30 s", be);
	is_int(claim(db, "w-new", T0 + 29, 30, NULL), 0, "%s: within the lease nobody else gets it",
	       be);
	ok(db_task_renew(db, a.id, a.lease_gen, T0 + 20, 30, &err) == 0,
	   "%s: the holder renews its lease to T+50", be);
	is_int(claim(db, "w-new", T0 + 45, 30, NULL), 0, "%s: so at T+45 it is still held", be);
	ok(claim(db, "w-new", T0 + 51, 30, &b) == a.id && b.taken_over && b.lease_gen == 2 &&
	           b.attempts == 2,
	   "%s: at T+51 the lapsed lease is taken over: generation 2, attempt 2", be);

	r = db_begin(db, &err);
	if (r == 0)
		r = db_task_fence(db, a.id, a.lease_gen, T0 + 52, &err);
	ok(r == WXR_ELOCKED && strstr(err.msg, "took it over"),
	   "%s: the old worker, waking, is fenced out of its commit", be);
	db_rollback(db);
	r = db_begin(db, &err);
	if (r == 0)
		r = db_task_done(db, a.id, a.lease_gen, "2027-01-15T08:00:00Z", &err);
	ok(r == WXR_ELOCKED, "%s: ... and cannot mark the task done", be);
	db_rollback(db);
	ok(db_task_renew(db, a.id, a.lease_gen, T0 + 52, 30, &err) == WXR_ELOCKED,
	   "%s: ... nor renew the lease", be);
	{
		bool held = false;

		ok(db_task_fail(db, a.id, a.lease_gen, T0 + 52, 60, "x", &held, &err) ==
		           WXR_ELOCKED,
		   "%s: ... nor record a failure over the new claim", be);
	}
	ok(finish(db, &b, T0 + 53, &err) == 0, "%s: the new holder finishes it", be);
	db_task_release(&a);
	db_task_release(&b);
}

static void failures(struct db *db, const char *be)
{
	struct wxr_err err = WXR_ERR_INIT;
	const struct db_task_new one[] = {
		{ "m3/nightly/2027-01-01/fetch-bills", "m3", "nightly", "fetch-bills", "2027-01-01",
		  NULL, 0 },
		{ "m3/nightly/2027-01-02/fetch-bills", "m3", "nightly", "fetch-bills", "2027-01-02",
		  NULL, 0 },
	};
	struct db_task a;
	bool held = true;
	int added = 0;
	char buf[32];
	int64_t id;

	db_tasks_enqueue(db, 0, one, 2, 2, "2027-01-15T00:00:00Z", &added, &err);
	id = claim(db, "w", T0, 30, &a);
	ok(db_task_fail(db, a.id, a.lease_gen, T0 + 1, 60, "the API timed out", &held, &err) == 0 &&
	           !held,
	   "%s: a first failure sends the task back, to wait 60 s", be);
	db_task_release(&a);
	ok(claim(db, "w", T0 + 2, 30, &a) > 0 && a.id != id, "%s: meanwhile the other is claimed",
	   be);
	finish(db, &a, T0 + 3, &err);
	db_task_release(&a);
	is_int(claim(db, "w", T0 + 60, 30, NULL), 0, "%s: not before its backoff ends", be);
	ok(claim(db, "w", T0 + 61, 30, &a) == id && a.attempts == 2,
	   "%s: after it, claimed again: attempt 2", be);
	ok(db_task_fail(db, a.id, a.lease_gen, T0 + 62, 120, "the API timed out", &held, &err) ==
	                   0 &&
	           held,
	   "%s: the last allowed attempt failing holds the task for a person", be);
	db_task_release(&a);
	is_str(state_of(db, "m3/nightly/2027-01-01/fetch-bills", buf, sizeof(buf)), "held",
	       "%s: ... state held", be);
	is_int(claim(db, "w", T0 + 10000, 30, NULL), 0, "%s: a held task is never claimed", be);
	ok(db_task_retry(db, id, NULL, &err) == 0, "%s: tasks retry puts it back", be);
	ok(claim(db, "w", T0 + 10001, 30, &a) == id && a.attempts == 1,
	   "%s: ... its attempts counted from 0 again", be);
	ok(db_task_retry(db, id, NULL, &err) == WXR_EDATA && strstr(err.msg, "not held"),
	   "%s: a running task is not retried", be);
	ok(db_task_retry(db, 987654, NULL, &err) == WXR_ENOTFOUND,
	   "%s: nor a task that does not exist", be);
	/* Its worker dies twice: the second lapse holds it (2 attempts allowed). */
	db_task_release(&a);
	ok(claim(db, "w", T0 + 10040, 30, &a) == id && a.taken_over,
	   "%s: its worker died: the lease is taken over (attempt 2)", be);
	db_task_release(&a);
	is_int(claim(db, "w", T0 + 10080, 30, NULL), 0,
	       "%s: when that worker dies too, the task is held, not claimed a third time", be);
	is_str(state_of(db, "m3/nightly/2027-01-01/fetch-bills", buf, sizeof(buf)), "held",
	       "%s: ... held", be);
	is_int(q_int(db, "SELECT COUNT(*) FROM tasks WHERE last_error LIKE"
	                 " '%stopped answering 2 times%'"),
	       1, "%s: ... saying why", be);
}

/* A step's own connection, fenced by the claim it runs for: its commits
 * hold while the claim does, and stop the moment the lease is taken over. */
static void fenced_commits(const char *target, const char *be)
{
	struct wxr_err err = WXR_ERR_INIT;
	const struct db_task_new one[] = {
		{ "m4/nightly/2027-01-01/sweep", "m4", "nightly", "sweep", "2027-01-01", NULL, 0 },
	};
	struct db *db = open_db(target), *step = open_db(target);
	struct db_task_fence fence;
	struct db_task a, b;
	int added = 0, r;

	if (!ok(db && step, "%s: two connections", be))
		goto out;
	db_exec(db, "CREATE TABLE fence_probe (x BIGINT)", &err);
	db_tasks_enqueue(db, 0, one, 1, 3, "2027-01-15T00:00:00Z", &added, &err);
	ok(claim(db, "w-old", T0, 30, &a) > 0, "%s: a worker claims the sweep", be);
	fence = (struct db_task_fence){ a.id, a.lease_gen };
	db_task_fence_commits(step, &fence);
	r = db_begin(step, &err);
	if (r == 0)
		r = db_exec(step, "INSERT INTO fence_probe VALUES (1)", &err);
	if (r == 0)
		r = db_commit(step, &err);
	ok(r == 0, "%s: the step commits while its claim holds", be);
	ok(claim(db, "w-new", T0 + 31, 30, &b) == a.id, "%s: the lease lapses and is taken over",
	   be);
	r = db_begin(step, &err);
	if (r == 0)
		r = db_exec(step, "INSERT INTO fence_probe VALUES (2)", &err);
	if (r == 0)
		r = db_commit(step, &err);
	ok(r == WXR_ELOCKED && strstr(err.msg, "took it over"),
	   "%s: then the old step's commit is refused", be);
	is_int(q_int(db, "SELECT COUNT(*) FROM fence_probe"), 1,
	       "%s: ... and what it wrote is not stored", be);
	fence.gen = b.lease_gen;
	r = db_begin(step, &err);
	if (r == 0)
		r = db_exec(step, "INSERT INTO fence_probe VALUES (3)", &err);
	if (r == 0)
		r = db_commit(step, &err);
	ok(r == 0, "%s: a step fenced by the new claim commits", be);
	db_task_fence_commits(step, NULL);
	db_task_release(&a);
	db_task_release(&b);
out:
	db_close(step);
	db_close(db);
}

#define RACE_TASKS   120
#define RACE_WORKERS 4

/* Four processes claim and finish until nothing is left; each writes the
 * ids it finished to its own file. Every id must be finished exactly once. */
static void race(const char *target, const char *dir, const char *be)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct db_task_new *plan = xcalloc(RACE_TASKS, sizeof(*plan));
	char **keys = xcalloc(RACE_TASKS, sizeof(*keys));
	int seen[RACE_TASKS + 1] = { 0 };
	pid_t pids[RACE_WORKERS];
	struct db *db = open_db(target);
	int added = 0, twice = 0, total = 0, failed = 0;
	int64_t base;

	if (!db) {
		ok(0, "%s: open for the race", be);
		return;
	}
	for (int i = 0; i < RACE_TASKS; i++) {
		keys[i] = xasprintf("r%d/nightly/2027-02-%02d/reconcile", i % 12, i / 12 + 1);
		plan[i] = (struct db_task_new){ keys[i],      "r",  "nightly", "reconcile",
			                        "2027-02-01", NULL, 0 };
	}
	db_tasks_enqueue(db, 0, plan, RACE_TASKS, 3, "2027-01-15T00:00:00Z", &added, &err);
	is_int(added, RACE_TASKS, "%s: %d tasks for the race", be, RACE_TASKS);
	base = q_int(db, "SELECT MIN(id) FROM tasks WHERE mchid = 'r'");
	db_close(db);
	fflush(NULL);
	for (int w = 0; w < RACE_WORKERS; w++) {
		pids[w] = fork();
		if (pids[w] == 0) {
			char path[4200];
			struct db *d = open_db(target);
			FILE *f;
			char owner[16];

			snprintf(path, sizeof(path), "%s/w%d", dir, w);
			snprintf(owner, sizeof(owner), "w%d", w);
			f = fopen(path, "w");
			if (!d || !f)
				_exit(2);
			db_busy_timeout(d, 30000);
			for (;;) {
				struct wxr_err e = WXR_ERR_INIT;
				struct db_task t;
				int r = db_task_claim(d, owner, T0, 600, NULL, 0, &t, &e);

				if (r == 0)
					break;
				if (r < 0 || finish(d, &t, T0, &e) < 0) {
					fprintf(stderr, "%s: %s\n", owner, e.msg);
					_exit(3);
				}
				fprintf(f, "%lld\n", (long long)t.id);
				db_task_release(&t);
			}
			fclose(f);
			db_close(d);
			_exit(0);
		}
	}
	for (int w = 0; w < RACE_WORKERS; w++) {
		int status = 0;
		char path[4200];
		FILE *f;
		long long id;

		waitpid(pids[w], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
		snprintf(path, sizeof(path), "%s/w%d", dir, w);
		f = fopen(path, "r");
		while (f && fscanf(f, "%lld", &id) == 1) {
			long long k = id - base + 1;

			if (k >= 1 && k <= RACE_TASKS && seen[k]++)
				twice++;
			total++;
		}
		if (f)
			fclose(f);
	}
	is_int(failed, 0, "%s: the %d workers ran without an error", be, RACE_WORKERS);
	is_int(total, RACE_TASKS, "%s: %d tasks finished in all", be, RACE_TASKS);
	is_int(twice, 0, "%s: none twice", be);
	for (int i = 0; i < RACE_TASKS; i++)
		free(keys[i]);
	free(keys);
	free(plan);
}

/* A task named twice in after[] is waited for once. */
static void after_twice(struct db *db, const char *be)
{
	struct wxr_err err = WXR_ERR_INIT;
	const char *const twice[] = { "m5/nightly/2027-01-01/fetch-bills",
		                      "m5/nightly/2027-01-01/fetch-bills" };
	const struct db_task_new plan[] = {
		{ "m5/nightly/2027-01-01/fetch-bills", "m5", "nightly", "fetch-bills", "2027-01-01",
		  NULL, 0 },
		{ "m5/nightly/2027-01-01/reconcile", "m5", "nightly", "reconcile", "2027-01-01",
		  twice, 2 },
	};
	const char *const mine[] = { "m5" };
	struct db_task a;
	char buf[32];
	int added = 0;

	ok(db_tasks_enqueue(db, 0, plan, 2, 3, "2027-01-15T00:00:00Z", &added, &err) == 0 &&
	           q_int(db, "SELECT pending FROM tasks WHERE task_key ="
	                     " 'm5/nightly/2027-01-01/reconcile'") == 1,
	   "%s: a task named twice in after[] is counted once", be);
	ok(db_task_claim(db, "w", T0, 30, mine, 1, &a, &err) == 1 &&
	           strcmp(a.step, "fetch-bills") == 0 && finish(db, &a, T0 + 1, &err) == 0,
	   "%s: ... and once it is done", be);
	db_task_release(&a);
	is_str(state_of(db, "m5/nightly/2027-01-01/reconcile", buf, sizeof(buf)), "ready",
	       "%s: ... the task after it is ready", be);
	ok(db_task_claim(db, "w", T0 + 2, 30, mine, 1, &a, &err) == 1 &&
	           finish(db, &a, T0 + 3, &err) == 0,
	   "%s: ... and runs", be);
	db_task_release(&a);
}

static void suite(const char *target, const char *dir, const char *be)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct db *db = open_db(target);
	int applied = 0;

	if (!ok(db && db_migrate(db, &applied, &err) == 0, "%s: a fresh store", be)) {
		diag("%s", err.msg);
		db_close(db);
		return;
	}
	order_and_idempotence(db, be);
	leases_and_fencing(db, be);
	failures(db, be);
	after_twice(db, be);
	db_close(db);
	fenced_commits(target, be);
	race(target, dir, be);
}

static const char *env_or(const char *k, const char *d)
{
	const char *v = getenv(k);

	return v && *v ? v : d;
}

static void on_pg(const char *dir)
{
	struct wxr_err err = WXR_ERR_INIT;
	char *admin_ci = xasprintf(
	        "host=%s port=%s user=%s dbname=postgres", getenv("WXRECON_TEST_PGHOST"),
	        env_or("WXRECON_TEST_PGPORT", "5432"), env_or("WXRECON_TEST_PGUSER", "postgres"));
	char dbname[64];
	char *ci, *sql;
	struct db *admin = open_db(admin_ci);

	snprintf(dbname, sizeof(dbname), "t_tasks_%ld", (long)getpid());
	ci = xasprintf("host=%s port=%s user=%s dbname=%s", getenv("WXRECON_TEST_PGHOST"),
	               env_or("WXRECON_TEST_PGPORT", "5432"),
	               env_or("WXRECON_TEST_PGUSER", "postgres"), dbname);
	sql = xasprintf("CREATE DATABASE %s", dbname);
	if (ok(admin && db_exec(admin, sql, &err) == 0, "PostgreSQL: a fresh database")) {
		suite(ci, dir, "PostgreSQL");
		free(sql);
		sql = xasprintf("DROP DATABASE %s WITH (FORCE)", dbname);
		ok(db_exec(admin, sql, &err) == 0, "PostgreSQL: the database is dropped");
	} else {
		diag("%s", err.msg);
	}
	db_close(admin);
	free(sql);
	free(ci);
	free(admin_ci);
}

int main(void)
{
	char dir[4096], path[4200], pgdir[4200];

	t_tmpdir(dir, sizeof(dir), "t-tasks");
	snprintf(path, sizeof(path), "%s/tasks.db", dir);
	suite(path, dir, "SQLite");
	snprintf(pgdir, sizeof(pgdir), "%s/pg", dir);
	if (getenv("WXRECON_TEST_PGHOST") && *getenv("WXRECON_TEST_PGHOST")) {
		if (mkdir(pgdir, 0700) == 0)
			on_pg(pgdir);
	} else {
		skip("no PostgreSQL server (make test-pg starts one)",
		     "the queue on PostgreSQL: order, leases, fencing, four workers racing");
	}
	t_rm_tree(dir);
	return done_testing();
}
