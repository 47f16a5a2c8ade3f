/*
 * jobrun.c - the run-lock protocol and a run's step records (jobrun.h).
 */
#include "core/jobrun.h"

#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "db/db_jobs.h"

#define RUNLOCK_POLL_FIRST_MS 100
#define RUNLOCK_POLL_MAX_MS   5000

const char *runlock_state(int exit_code)
{
	switch (exit_code) {
	case 0:
		return "ok";
	case 3:
		return "attention";
	default:
		return "failed";
	}
}

/* Sleeps ms milliseconds (a signal cuts it short; the caller polls again). */
static void sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

int runlock_take(struct runlock *rl, const struct runlock_where *where, int64_t wait_s,
                 struct wxr_err *err)
{
	int64_t deadline = clock_mono_ms() + wait_s * 1000;
	int64_t pause = RUNLOCK_POLL_FIRST_MS;
	int r;

	memset(rl, 0, sizeof(*rl));
	rl->at = *where;
	rl->run_id = where->run_id;
	for (;;) {
		int64_t left;

		r = jobs_lock(rl->at.db, rl->at.mchid, "run", rl->run_id, err);
		if (r != WXR_ELOCKED || wait_s <= 0)
			break;
		left = deadline - clock_mono_ms();
		if (left <= 0) {
			log_progress_done();
			err_prefix(err, "gave up waiting after %lld s", (long long)wait_s);
			return r;
		}
		log_progress("waiting for the lock (%lld s left): %s",
		             (long long)(left + 999) / 1000, err->msg);
		sleep_ms(pause < left ? pause : left);
		pause = pause * 2 > RUNLOCK_POLL_MAX_MS ? RUNLOCK_POLL_MAX_MS : pause * 2;
	}
	log_progress_done();
	if (r < 0)
		return r;
	rl->locked = rl->run_id <= 0;
	if (rl->locked) {
		r = jobs_heartbeat_start(rl->at.db_path, rl->at.mchid, "run", 0, &rl->heartbeat,
		                         err);
		if (r < 0) {
			runlock_end(rl, r);
			return r;
		}
	}
	return 0;
}

int runlock_start(struct runlock *rl, const struct runlock_run *what, struct wxr_err *err)
{
	int r;

	if (!rl->locked)
		BUG("runlock_start without the lock");
	r = jobs_run_start(rl->at.db, rl->at.mchid, what->job, what->from, what->to, what->dry_run,
	                   what->resumed_from, &rl->run_id, err);
	if (r < 0)
		return r;
	rl->own_run = true;
	return jobs_lock_attach_run(rl->at.db, rl->at.mchid, "run", rl->run_id, err);
}

int runlock_finish(struct runlock *rl, const char *state, int exit_code, const char *summary,
                   struct wxr_err *err)
{
	rl->finished = true;
	return jobs_run_finish(rl->at.db, rl->run_id, state, exit_code, summary, err);
}

void runlock_end(struct runlock *rl, int r)
{
	struct wxr_err e2 = WXR_ERR_INIT;
	/* A command that failed on the database (a lost connection, a server
	 * restart) fails at these too: its own error is the one line to show. The
	 * lock row it leaves names this process, which is about to be gone, so
	 * the next run takes it over (audited as lock.takeover). */
	bool quiet = r == WXR_EDB;

	if (rl->own_run && !rl->finished) {
		int code = wxr_exit_code(r);

		if (runlock_finish(rl, runlock_state(code), code, NULL, &e2) < 0 && !quiet)
			log_warn("cannot record the end of run %lld: %s", (long long)rl->run_id,
			         e2.msg);
		err_clear(&e2);
	}
	rl->heartbeat = jobs_heartbeat_stop(rl->heartbeat);
	/* the audit log's head as the run leaves it: a log later cut below it is found */
	if (rl->own_run && jobs_run_checkpoint(rl->at.db, rl->run_id, &e2) < 0 && !quiet)
		log_warn("cannot checkpoint the audit log into run %lld: %s", (long long)rl->run_id,
		         e2.msg);
	err_clear(&e2);
	if (rl->locked) {
		if (jobs_unlock(rl->at.db, rl->at.mchid, "run", rl->run_id, &e2) < 0 && !quiet)
			log_warn("cannot release the lock: %s", e2.msg);
		err_clear(&e2);
		rl->locked = false;
	}
}

int runlock_release_stale(struct db *db, const char *mchid, bool force, char *out_holder,
                          size_t holder_size, bool *out_released, struct wxr_err *err)
{
	struct lock_holder h;
	int r = jobs_lock_release(db, mchid, "run", force, &h, out_released, err);

	if (r < 0)
		return r;
	if (*out_released)
		jobs_lock_holder_text(&h, out_holder, holder_size);
	return 0;
}

int jobrun_step_add(struct db *db, int64_t run_id, int seq, const char *step, const char *date,
                    int64_t *out_step_id, struct wxr_err *err)
{
	return jobs_step_add(db, run_id, seq, step, date, out_step_id, err);
}

int jobrun_step_set(struct db *db, int64_t step_id, const char *state, int exit_code,
                    const char *message, const char *reason, struct wxr_err *err)
{
	return jobs_step_set(db, step_id, state, exit_code, message, reason, err);
}

int jobrun_get(struct db *db, int64_t run_id, struct job_run_row *out, struct wxr_err *err)
{
	return jobs_run_get(db, run_id, out, err);
}

void jobrun_release(struct job_run_row *row)
{
	jobs_run_row_release(row);
}

int jobrun_steps_unfinished(struct db *db, int64_t run_id,
                            int (*fn)(void *arg, const char *step, const char *date,
                                      struct wxr_err *err),
                            void *arg, struct wxr_err *err)
{
	return jobs_steps_unfinished(db, run_id, fn, arg, err);
}

int jobrun_list(struct db *db, long last, const struct jobs_list_cb *cb, struct wxr_err *err)
{
	return jobs_runs_list(db, last, cb, err);
}
