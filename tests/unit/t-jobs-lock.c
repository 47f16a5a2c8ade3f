/*
 * t-jobs-lock.c - the run lock never sticks for good (issue 20 item 9): who holds it
 * is judged by process identity on this host and by heartbeat age elsewhere; the
 * holder's heartbeat thread keeps a live lock fresh; unlock releases what is gone.
 */
#include "tap.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/compat.h"
#include "base/err.h"
#include "db/audit.h"
#include "db/db.h"
#include "db/db_jobs.h"
#include "testutil.h"

static char tmpdir[4096];
static char path[4200];

static int64_t q_int(struct db *db, const char *sql)
{
	struct db_stmt *st = NULL;
	int64_t v = -1;

	if (db_prepare(db, sql, &st, NULL) == 0 && db_step(st) == DB_ROW)
		v = db_col_i64(st, 0);
	db_finalize(st);
	return v;
}

static void exec_f(struct db *db, const char *fmt, ...) WXR_PRINTF(2, 3);
static void exec_f(struct db *db, const char *fmt, ...)
{
	char sql[512];
	struct wxr_err err = WXR_ERR_INIT;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (db_exec(db, sql, &err) < 0)
		diag("%s: %s", sql, err.msg);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A child process that takes the lock with its own connection and waits to be killed. */
static pid_t holder_child(void)
{
	int pfd[2];
	char c = 0;
	pid_t pid;

	if (pipe(pfd) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct wxr_err err = WXR_ERR_INIT;
		struct db *db = NULL;

		close(pfd[0]);
		c = db_open(path, &db, &err) == 0 && jobs_lock(db, "M", "run", 0, &err) == 0;
		if (write(pfd[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &c, 1) != 1 || !c) {
		close(pfd[0]);
		return -1;
	}
	close(pfd[0]);
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int main(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct db *db = NULL;
	struct jobs_heartbeat *hb = NULL;
	struct lock_holder h;
	bool released;
	int64_t beats = 0, failures = 0;
	pid_t child;

	t_tmpdir(tmpdir, sizeof(tmpdir), "t-jobs-lock");
	snprintf(path, sizeof(path), "%s/lock.db", tmpdir);
	is_int(db_open(path, &db, &err), 0, "open");
	is_int(db_migrate(db, NULL, &err), 0, "migrate");

	/* a lock records who holds it */
	is_int(jobs_lock(db, "M", "run", 0, &err), 0, "take the lock");
	ok(q_int(db, "SELECT heartbeat_ts FROM locks") >= clock_real_now() - 5,
	   "a first heartbeat is written with the lock");
	is_int(q_int(db, "SELECT stale_s FROM locks"), JOBS_LOCK_STALE_S, "with its limit");
	is_int(q_int(db, "SELECT count(*) FROM locks WHERE boot_id <> '' AND pid_ns <> ''"
	                 " AND pid_start > 0"),
	       1, "and the process: boot, PID namespace, start time");
	is_int(jobs_lock(db, "M", "run", 0, &err), 0, "taken again by its holder");

	/* the heartbeat thread keeps it fresh */
	exec_f(db, "UPDATE locks SET heartbeat_ts = 1");
	is_int(jobs_heartbeat_start(path, "M", "run", 1, &hb, &err), 0, "heartbeat started");
	for (int i = 0; i < 40 && q_int(db, "SELECT heartbeat_ts FROM locks") == 1; i++)
		sleep_ms(100);
	ok(q_int(db, "SELECT heartbeat_ts FROM locks") >= clock_real_now() - 5,
	   "the heartbeat refreshes the lock");
	jobs_heartbeat_counts(hb, &beats, &failures);
	ok(beats >= 1 && failures == 0, "beats counted, none failed");
	ok(jobs_heartbeat_stop(hb) == NULL, "heartbeat stopped");
	exec_f(db, "UPDATE locks SET heartbeat_ts = 1");
	sleep_ms(1300);
	is_int(q_int(db, "SELECT heartbeat_ts FROM locks"), 1, "and beats no more once stopped");
	ok(jobs_heartbeat_stop(NULL) == NULL, "stop is NULL-safe");

	/* another host: cannot be checked; its heartbeat decides */
	exec_f(db, "UPDATE locks SET host = 'pod-7', run_id = 9, heartbeat_ts = %lld",
	       (long long)clock_real_now() - 30);
	is_int(jobs_lock(db, "M", "run", 0, &err), WXR_ELOCKED,
	       "another host's lock with a recent heartbeat is held");
	ok(strstr(err.msg, "locked: run 9 (pid ") && strstr(err.msg, " on pod-7)") &&
	           strstr(err.msg, "last heartbeat 30 s ago") &&
	           strstr(err.msg, "cannot be checked from here") &&
	           strstr(err.msg, "wxrecon unlock --force"),
	   "the message names it, its heartbeat and what to do");
	diag("%s", err.msg);
	exec_f(db, "UPDATE locks SET heartbeat_ts = %lld",
	       (long long)clock_real_now() - JOBS_LOCK_STALE_S - 5);
	is_int(jobs_lock(db, "M", "run", 0, &err), 0,
	       "another host's lock past its limit is taken over");
	is_int(q_int(db,
	             "SELECT count(*) FROM audit_log WHERE event = 'lock.takeover' AND"
	             " detail LIKE '%\"host\":\"pod-7\"%no heartbeat for 60_ s (limit 600 s)%'"),
	       1, "audited, with the holder and the reason");
	exec_f(db, "UPDATE locks SET host = 'pod-7', stale_s = 3600, heartbeat_ts = %lld",
	       (long long)clock_real_now() - 700);
	is_int(jobs_lock(db, "M", "run", 0, &err), WXR_ELOCKED, "the limit is the holder's own");
	exec_f(db, "UPDATE locks SET host = 'pod-7', heartbeat_ts = NULL, stale_s = NULL,"
	           " acquired_at = '2020-01-01T00:00:00Z'");
	is_int(jobs_lock(db, "M", "run", 0, &err), 0,
	       "a lock of an older wxrecon on another host ages from acquired_at");

	/* this host, another PID namespace (a container): cannot be checked either */
	exec_f(db, "UPDATE locks SET pid = 1, pid_ns = 'pid:[1]', heartbeat_ts = %lld",
	       (long long)clock_real_now());
	is_int(jobs_lock(db, "M", "run", 0, &err), WXR_ELOCKED,
	       "a pid of another PID namespace is not judged by this one's pid 1");

	/* this host: a live holder, then the same pid gone, then reused */
	db_exec(db, "DELETE FROM locks", &err);
	child = holder_child();
	ok(child > 0, "a child process holds the lock");
	is_int(jobs_lock(db, "M", "run", 0, &err), WXR_ELOCKED, "a live holder here is held");
	exec_f(db, "UPDATE locks SET heartbeat_ts = 1");
	is_int(jobs_lock(db, "M", "run", 0, &err), WXR_ELOCKED,
	       "even with an old heartbeat: a holder that can be checked is checked");
	is_int(jobs_lock_release(db, "M", "run", false, &h, &released, &err), WXR_ELOCKED,
	       "unlock refuses a live holder");
	ok(strstr(err.msg, "is alive: not released") && h.pid == (long)child, "naming it");
	is_int(jobs_lock_release(db, "M", "run", true, &h, &released, &err), WXR_ELOCKED,
	       "unlock --force too");
	exec_f(db, "UPDATE locks SET pid_start = pid_start + 1");
	is_int(jobs_lock(db, "M", "run", 0, &err), 0,
	       "the pid running another process than the holder's (reused): taken over");
	ok(q_int(db, "SELECT count(*) FROM audit_log WHERE event = 'lock.takeover' AND detail"
	             " LIKE '%is another process now%'") == 1,
	   "audited as a reused pid");
	reap(child);
	db_exec(db, "DELETE FROM locks", &err);
	child = holder_child();
	reap(child);
	is_int(jobs_lock(db, "M", "run", 0, &err), 0, "a dead holder's lock is taken over");
	ok(q_int(db, "SELECT count(*) FROM audit_log WHERE event = 'lock.takeover' AND detail"
	             " LIKE '%is gone%'") == 1,
	   "audited as gone");

	/* unlock */
	exec_f(db, "UPDATE locks SET host = 'pod-8', heartbeat_ts = %lld",
	       (long long)clock_real_now());
	is_int(jobs_lock_release(db, "M", "run", false, &h, &released, &err), WXR_ELOCKED,
	       "unlock without --force keeps a holder that cannot be checked");
	ok(strstr(err.msg, "wxrecon unlock --force") && !released, "and says how to release it");
	is_int(jobs_lock_release(db, "M", "run", true, &h, &released, &err), 0, "--force does");
	ok(released && strcmp(h.host, "pod-8") == 0, "naming what it released");
	is_int(q_int(db, "SELECT count(*) FROM locks"), 0, "the lock is gone");
	is_int(q_int(db, "SELECT count(*) FROM audit_log WHERE event = 'lock.release' AND"
	                 " detail LIKE '%\"forced\":true%'"),
	       1, "audited as forced");
	is_int(jobs_lock_release(db, "M", "run", false, &h, &released, &err), 0,
	       "no lock: nothing to do");
	ok(!released, "nothing released");
	exec_f(db,
	       "INSERT INTO locks (mchid, name, pid, host, acquired_at, heartbeat_ts) VALUES"
	       " ('M', 'run', 4242, 'pod-9', 'x', %lld)",
	       (long long)clock_real_now() - 7200);
	is_int(jobs_lock_release(db, "M", "run", false, &h, &released, &err), 0,
	       "a stale lock is released without --force");
	ok(released && q_int(db, "SELECT count(*) FROM audit_log WHERE event = 'lock.release'"
	                         " AND detail LIKE '%\"forced\":false%'") == 1,
	   "audited, not forced");
	{
		struct audit_verify_result v;

		is_int(audit_verify(db, &v, &err), 0, "audit verify");
		is_int(v.first_bad, 0, "the chain holds");
	}
	db_close(db);
	t_rm_tree(tmpdir);
	return done_testing();
}
