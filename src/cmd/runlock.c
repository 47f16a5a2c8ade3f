/*
 * runlock.c - the run-lock protocol (runlock.h).
 */
#include "cmd/runlock.h"

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

int runlock_take(struct runlock *rl, struct ctx *ctx, int64_t wait_s, struct wxr_err *err)
{
	int64_t deadline = clock_mono_ms() + wait_s * 1000;
	int64_t pause = RUNLOCK_POLL_FIRST_MS;
	int r;

	memset(rl, 0, sizeof(*rl));
	rl->ctx = ctx;
	rl->run_id = ctx->run_id;
	for (;;) {
		int64_t left;

		r = jobs_lock(ctx->db, ctx->mchid, "run", ctx->run_id, err);
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
	rl->locked = ctx->run_id <= 0;
	if (rl->locked) {
		r = jobs_heartbeat_start(ctx->db_path, ctx->mchid, "run", 0, &rl->heartbeat, err);
		if (r < 0) {
			runlock_end(rl, r);
			return r;
		}
	}
	return 0;
}

int runlock_start(struct runlock *rl, const struct runlock_run *what, struct wxr_err *err)
{
	struct ctx *ctx = rl->ctx;
	int r;

	if (!rl->locked)
		BUG("runlock_start without the lock");
	r = jobs_run_start(ctx->db, ctx->mchid, what->job, what->from, what->to, what->dry_run,
	                   what->resumed_from, &rl->run_id, err);
	if (r < 0)
		return r;
	rl->own_run = true;
	return jobs_lock_attach_run(ctx->db, ctx->mchid, "run", rl->run_id, err);
}

int runlock_finish(struct runlock *rl, const char *state, int exit_code, const char *summary,
                   struct wxr_err *err)
{
	rl->finished = true;
	return jobs_run_finish(rl->ctx->db, rl->run_id, state, exit_code, summary, err);
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
	if (rl->own_run && jobs_run_checkpoint(rl->ctx->db, rl->run_id, &e2) < 0 && !quiet)
		log_warn("cannot checkpoint the audit log into run %lld: %s", (long long)rl->run_id,
		         e2.msg);
	err_clear(&e2);
	if (rl->locked) {
		if (jobs_unlock(rl->ctx->db, rl->ctx->mchid, "run", rl->run_id, &e2) < 0 && !quiet)
			log_warn("cannot release the lock: %s", e2.msg);
		err_clear(&e2);
		rl->locked = false;
	}
}

int runlock_release_stale(struct ctx *ctx, bool force, char *out_holder, size_t holder_size,
                          bool *out_released, struct wxr_err *err)
{
	struct lock_holder h;
	int r = jobs_lock_release(ctx->db, ctx->mchid, "run", force, &h, out_released, err);

	if (r < 0)
		return r;
	if (*out_released)
		jobs_lock_holder_text(&h, out_holder, holder_size);
	return 0;
}
