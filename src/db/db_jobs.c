#include "db/db_jobs.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* ---- which process a pid is ---- */

/* The first line of path into out ("" when it cannot be read). */
static void read_line(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "r");

	out[0] = '\0';
	if (!f)
		return;
	if (!fgets(out, (int)n, f))
		out[0] = '\0';
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
}

/* The start time of pid in clock ticks since boot (field 22 of /proc/PID/stat), 0 when
 * it cannot be read (no such process, no /proc). */
static int64_t pid_start_ticks(long pid)
{
	char path[64], line[1024];
	const char *p;
	int field = 2;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	read_line(path, line, sizeof(line));
	p = strrchr(line, ')'); /* the command name may hold spaces and parentheses */
	if (!p)
		return 0;
	while (*p && field < 22) {
		if (*p++ == ' ')
			field++;
	}
	return field == 22 ? strtoll(p, NULL, 10) : 0;
}

/* This process as a lock holder: host, the kernel's boot, its PID namespace, its start. */
struct proc_id {
	char host[256];
	char boot_id[64];
	char pid_ns[64];
	long pid;
	int64_t start;
};

static void proc_self(struct proc_id *me)
{
	ssize_t n;

	hostname(me->host, sizeof(me->host));
	read_line("/proc/sys/kernel/random/boot_id", me->boot_id, sizeof(me->boot_id));
	n = readlink("/proc/self/ns/pid", me->pid_ns, sizeof(me->pid_ns) - 1);
	me->pid_ns[n > 0 ? n : 0] = '\0';
	me->pid = (long)getpid();
	me->start = pid_start_ticks(me->pid);
}

/* ---- the holder of a lock ---- */

static int read_holder(struct db *db, const char *mchid, const char *name, bool *out_found,
                       struct lock_holder *h, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(
	        db,
	        "SELECT coalesce(run_id, 0), pid, host, acquired_at, coalesce(heartbeat_ts, 0),"
	        " coalesce(stale_s, 0), coalesce(boot_id, ''), coalesce(pid_ns, ''),"
	        " coalesce(pid_start, 0) FROM locks WHERE mchid = ? AND name = ?",
	        &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, name);
	r = db_step(st);
	*out_found = r == DB_ROW;
	memset(h, 0, sizeof(*h));
	if (r == DB_ROW) {
		h->run_id = db_col_i64(st, 0);
		h->pid = (long)db_col_i64(st, 1);
		snprintf(h->host, sizeof(h->host), "%s", db_col_text(st, 2));
		snprintf(h->since, sizeof(h->since), "%s", db_col_text(st, 3));
		h->heartbeat_ts = db_col_i64(st, 4);
		h->stale_s = db_col_i64(st, 5);
		snprintf(h->boot_id, sizeof(h->boot_id), "%s", db_col_text(st, 6));
		snprintf(h->pid_ns, sizeof(h->pid_ns), "%s", db_col_text(st, 7));
		h->pid_start = db_col_i64(st, 8);
		r = 0;
	} else if (r == DB_DONE) {
		r = 0;
	} else {
		r = db_error(db, err, "read locks");
	}
	db_finalize(st);
	return r;
}

/* Seconds since the holder last showed it was alive: its heartbeat, else (a lock of an older
 * wxrecon) when it took the lock; -1 when neither can be read. */
static int64_t holder_quiet_s(const struct lock_holder *h, int64_t now)
{
	int64_t ts = h->heartbeat_ts;

	if (ts <= 0 && time_parse_rfc3339(h->since, &ts, NULL) < 0)
		return -1;
	return now - ts;
}

/*
 * Judges the holder from this process. It can be checked when it runs on this host, in this
 * boot and PID namespace (a lock of an older wxrecon, which recorded none of them: on this
 * host): then it is alive when its pid is and is still the process that took the lock (the
 * same start time); a dead or reused pid is gone. A holder that cannot be checked (another
 * host, container or pod) is gone once it has not refreshed its heartbeat for stale_s.
 */
static enum lock_verdict judge(const struct lock_holder *h, const struct proc_id *me,
                               int64_t run_id, int64_t now, char *why, size_t whylen)
{
	bool legacy = !h->boot_id[0];
	bool checkable = strcmp(h->host, me->host) == 0 &&
	                 (legacy || (strcmp(h->boot_id, me->boot_id) == 0 &&
	                             strcmp(h->pid_ns, me->pid_ns) == 0));
	int64_t limit = h->stale_s > 0 ? h->stale_s : JOBS_LOCK_STALE_S;
	int64_t quiet = holder_quiet_s(h, now);

	why[0] = '\0';
	if (run_id > 0 && h->run_id == run_id)
		return LOCK_MINE;
	if (checkable) {
		int64_t start;

		if (h->pid == me->pid && (legacy || h->pid_start == me->start))
			return LOCK_MINE;
		if (kill((pid_t)h->pid, 0) < 0 && errno == ESRCH) {
			snprintf(why, whylen, "pid %ld is gone", h->pid);
			return LOCK_GONE;
		}
		start = h->pid_start > 0 ? pid_start_ticks(h->pid) : 0;
		if (start > 0 && start != h->pid_start) {
			snprintf(why, whylen, "pid %ld is another process now (started later)",
			         h->pid);
			return LOCK_GONE;
		}
		return LOCK_ALIVE;
	}
	if (quiet >= 0 && quiet > limit) {
		snprintf(why, whylen, "no heartbeat for %lld s (limit %lld s)", (long long)quiet,
		         (long long)limit);
		return LOCK_STALE;
	}
	if (quiet >= 0)
		snprintf(why, whylen, "last heartbeat %lld s ago", (long long)quiet);
	else
		snprintf(why, whylen, "no heartbeat");
	return LOCK_UNCHECKABLE;
}

void jobs_lock_holder_text(const struct lock_holder *h, char *out, size_t n)
{
	if (h->run_id)
		snprintf(out, n, "run %lld (pid %ld on %s) holds the lock since %s",
		         (long long)h->run_id, h->pid, h->host, h->since);
	else
		snprintf(out, n, "pid %ld on %s holds the lock since %s", h->pid, h->host,
		         h->since);
}

static int lock_refused(const struct lock_holder *h, enum lock_verdict v, const char *why,
                        struct wxr_err *err)
{
	char who[512];

	jobs_lock_holder_text(h, who, sizeof(who));
	if (v == LOCK_UNCHECKABLE)
		return err_set(err, WXR_ELOCKED,
		               "locked: %s (%s; it cannot be checked from here: it is taken over "
		               "after %lld s without a heartbeat, or by `wxrecon unlock --force` "
		               "once you know it is gone)",
		               who, why,
		               (long long)(h->stale_s > 0 ? h->stale_s : JOBS_LOCK_STALE_S));
	return err_set(err, WXR_ELOCKED, "locked: %s", who);
}

/* Audits the end of a holder's lock: event lock.takeover or lock.release. */
static int audit_lock_end(struct db *db, int64_t run_id, const char *event, const char *name,
                          const struct lock_holder *h, const char *why, bool forced,
                          struct wxr_err *err)
{
	json_t *d = json_pack(
	        "{s:I, s:I, s:s, s:s, s:I, s:s, s:b}", "stale_run_id", (json_int_t)h->run_id,
	        "stale_pid", (json_int_t)h->pid, "host", h->host, "since", h->since, "heartbeat_ts",
	        (json_int_t)h->heartbeat_ts, "reason", why ? why : "", "forced", forced);
	char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
	int r;

	json_decref(d);
	if (!text)
		return err_set(err, WXR_EFAIL, "cannot build the audit entry %s", event);
	r = audit_append(db, run_id, "jobs", event, name, text, err);
	free(text);
	return r;
}

/* Writes this process as the holder (INSERT, or UPDATE of a taken-over row). */
static int write_holder(struct db *db, bool update, const char *mchid, const char *name,
                        int64_t run_id, const struct proc_id *me, struct wxr_err *err)
{
	static const char *const sql_insert =
	        "INSERT INTO locks (mchid, name, run_id, pid, host, acquired_at, heartbeat_ts,"
	        " stale_s, boot_id, pid_ns, pid_start) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
	static const char *const sql_update =
	        "UPDATE locks SET run_id = ?, pid = ?, host = ?, acquired_at = ?, heartbeat_ts = ?,"
	        " stale_s = ?, boot_id = ?, pid_ns = ?, pid_start = ? WHERE mchid = ? AND name = ?";
	/* the holder's values from v, the key at k */
	int v = update ? 1 : 3, k = update ? 10 : 1;
	struct db_stmt *st = NULL;
	char now[CLOCK_RFC3339_LEN];
	int r;

	now_utc(now);
	r = db_prepare(db, update ? sql_update : sql_insert, &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, k, mchid);
	db_bind_text(st, k + 1, name);
	if (run_id > 0)
		db_bind_i64(st, v, run_id);
	else
		db_bind_null(st, v);
	db_bind_i64(st, v + 1, (int64_t)me->pid);
	db_bind_text(st, v + 2, me->host);
	db_bind_text(st, v + 3, now);
	db_bind_i64(st, v + 4, clock_real_now());
	db_bind_i64(st, v + 5, JOBS_LOCK_STALE_S);
	db_bind_text(st, v + 6, me->boot_id[0] ? me->boot_id : NULL);
	db_bind_text(st, v + 7, me->pid_ns[0] ? me->pid_ns : NULL);
	if (me->start > 0)
		db_bind_i64(st, v + 8, me->start);
	else
		db_bind_null(st, v + 8);
	r = db_step(st) == DB_DONE ? 0 : db_error(db, err, "write locks");
	db_finalize(st);
	return r;
}

/* Opens the write transaction and reads and judges the holder of (mchid, name), if any
 * (found false: no lock). On failure the transaction is rolled back. */
struct judged {
	struct proc_id me;
	struct lock_holder h;
	bool found;
	enum lock_verdict v;
	char why[160];
};

static int begin_judged(struct db *db, const char *mchid, const char *name, int64_t run_id,
                        struct judged *j, struct wxr_err *err)
{
	int r;

	memset(j, 0, sizeof(*j));
	proc_self(&j->me);
	r = db_begin(db, err);
	if (r < 0)
		return r;
	r = read_holder(db, mchid, name, &j->found, &j->h, err);
	if (r < 0) {
		db_rollback(db);
		return r;
	}
	if (j->found)
		j->v = judge(&j->h, &j->me, run_id, clock_real_now(), j->why, sizeof(j->why));
	return 0;
}

int jobs_lock(struct db *db, const char *mchid, const char *name, int64_t run_id,
              struct wxr_err *err)
{
	struct judged j;
	int r;

	/* A live holder is named at once, from a read: a write transaction would wait for
	 * the holder's own long one (a bill being stored) and fail after the busy timeout
	 * with no name. Only a free or stale lock is then taken under the write lock. */
	memset(&j, 0, sizeof(j));
	proc_self(&j.me);
	r = read_holder(db, mchid, name, &j.found, &j.h, err);
	if (r < 0)
		return r;
	if (j.found) {
		j.v = judge(&j.h, &j.me, run_id, clock_real_now(), j.why, sizeof(j.why));
		if (j.v == LOCK_MINE)
			return 0;
		if (j.v == LOCK_ALIVE || j.v == LOCK_UNCHECKABLE)
			return lock_refused(&j.h, j.v, j.why, err);
	}
	r = begin_judged(db, mchid, name, run_id, &j, err);
	if (r < 0)
		return r;
	if (j.found) {
		if (j.v == LOCK_MINE) {
			db_rollback(db);
			return 0;
		}
		if (j.v == LOCK_ALIVE || j.v == LOCK_UNCHECKABLE) {
			r = lock_refused(&j.h, j.v, j.why, err);
			goto fail;
		}
		r = audit_lock_end(db, run_id, "lock.takeover", name, &j.h, j.why, false, err);
		if (r < 0)
			goto fail;
	}
	r = write_holder(db, j.found, mchid, name, run_id, &j.me, err);
	if (r < 0)
		goto fail;
	return db_commit(db, err);
fail:
	db_rollback(db);
	return r;
}

int jobs_lock_release(struct db *db, const char *mchid, const char *name, bool force,
                      struct lock_holder *out_holder, bool *out_released, struct wxr_err *err)
{
	struct judged j;
	struct db_stmt *st = NULL;
	char who[512];
	bool forced;
	int r;

	*out_released = false;
	r = begin_judged(db, mchid, name, 0, &j, err);
	if (r < 0)
		return r;
	if (!j.found)
		goto fail; /* nothing to release: rolls back the empty transaction */
	*out_holder = j.h;
	jobs_lock_holder_text(&j.h, who, sizeof(who));
	if (j.v == LOCK_ALIVE || j.v == LOCK_MINE) {
		r = err_set(err, WXR_ELOCKED,
		            "%s and is alive: not released (let it finish, or stop pid %ld)", who,
		            j.h.pid);
		goto fail;
	}
	if (j.v == LOCK_UNCHECKABLE && !force) {
		r = err_set(err, WXR_ELOCKED,
		            "%s (%s) and cannot be checked from here: not released; when you know "
		            "it is gone: wxrecon unlock --force",
		            who, j.why);
		goto fail;
	}
	forced = j.v == LOCK_UNCHECKABLE;
	if (forced)
		snprintf(j.why + strlen(j.why), sizeof(j.why) - strlen(j.why), "; forced");
	r = audit_lock_end(db, 0, "lock.release", name, &j.h, j.why, forced, err);
	if (r < 0)
		goto fail;
	r = db_prepare(db, "DELETE FROM locks WHERE mchid = ? AND name = ?", &st, err);
	if (r < 0)
		goto fail;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, name);
	r = db_step(st) == DB_DONE ? 0 : db_error(db, err, "release lock");
	db_finalize(st);
	if (r < 0)
		goto fail;
	r = db_commit(db, err);
	if (r == 0)
		*out_released = true;
	return r;
fail:
	db_rollback(db);
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
	return r;
}

/* ---- the heartbeat ---- */

struct jobs_heartbeat {
	struct db *db; /* its own connection, used by the thread only */
	char *mchid;
	char *name;
	long pid;
	char host[256];
	int interval_s;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	int64_t beats;    /* heartbeats written */
	int64_t failures; /* heartbeats that could not be written (busy, I/O) */
};

static void beat(struct jobs_heartbeat *hb)
{
	struct db_stmt *st = NULL;
	bool ok = false;

	if (db_prepare(hb->db,
	               "UPDATE locks SET heartbeat_ts = ? WHERE mchid = ? AND name = ? AND pid = ?"
	               " AND host = ?",
	               &st, NULL) == 0) {
		db_bind_i64(st, 1, clock_real_now());
		db_bind_text(st, 2, hb->mchid);
		db_bind_text(st, 3, hb->name);
		db_bind_i64(st, 4, (int64_t)hb->pid);
		db_bind_text(st, 5, hb->host);
		ok = db_step(st) == DB_DONE;
		db_finalize(st);
	}
	pthread_mutex_lock(&hb->mu);
	if (ok)
		hb->beats++;
	else
		hb->failures++;
	pthread_mutex_unlock(&hb->mu);
}

static void *heartbeat_main(void *arg)
{
	struct jobs_heartbeat *hb = arg;
	sigset_t all;

	/* signals stay with the main thread (SIGTERM, SIGINT, SIGCHLD handlers) */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&hb->mu);
	while (!hb->stop) {
		struct timespec until;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += hb->interval_s;
		while (!hb->stop && pthread_cond_timedwait(&hb->cv, &hb->mu, &until) == 0)
			;
		if (hb->stop)
			break;
		pthread_mutex_unlock(&hb->mu);
		beat(hb);
		pthread_mutex_lock(&hb->mu);
	}
	pthread_mutex_unlock(&hb->mu);
	return NULL;
}

static void heartbeat_free(struct jobs_heartbeat *hb)
{
	pthread_cond_destroy(&hb->cv);
	pthread_mutex_destroy(&hb->mu);
	db_close(hb->db);
	free(hb->mchid);
	free(hb->name);
	free(hb);
}

int jobs_heartbeat_start(const char *db_path, const char *mchid, const char *name, int interval_s,
                         struct jobs_heartbeat **out, struct wxr_err *err)
{
	struct jobs_heartbeat *hb = xcalloc(1, sizeof(*hb));
	pthread_condattr_t ca;
	int r;

	r = db_open(db_path, &hb->db, err);
	if (r < 0) {
		free(hb);
		return err_prefix(err, "lock heartbeat");
	}
	hb->mchid = xstrdup(mchid ? mchid : "");
	hb->name = xstrdup(name);
	hb->pid = (long)getpid();
	hostname(hb->host, sizeof(hb->host));
	hb->interval_s = interval_s > 0 ? interval_s : JOBS_LOCK_HEARTBEAT_S;
	pthread_mutex_init(&hb->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&hb->cv, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&hb->thread, NULL, heartbeat_main, hb);
	if (r != 0) {
		heartbeat_free(hb);
		return err_set(err, WXR_EFAIL, "lock heartbeat: cannot start a thread: %s",
		               strerror(r));
	}
	*out = hb;
	return 0;
}

void jobs_heartbeat_counts(struct jobs_heartbeat *hb, int64_t *out_beats, int64_t *out_failures)
{
	pthread_mutex_lock(&hb->mu);
	*out_beats = hb->beats;
	*out_failures = hb->failures;
	pthread_mutex_unlock(&hb->mu);
}

struct jobs_heartbeat *jobs_heartbeat_stop(struct jobs_heartbeat *hb)
{
	if (!hb)
		return NULL;
	pthread_mutex_lock(&hb->mu);
	hb->stop = true;
	pthread_cond_signal(&hb->cv);
	pthread_mutex_unlock(&hb->mu);
	pthread_join(hb->thread, NULL);
	heartbeat_free(hb);
	return NULL;
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

int jobs_run_checkpoint(struct db *db, int64_t run_id, struct wxr_err *err)
{
	return audit_checkpoint_run(db, run_id, err);
}
