/*
 * runlock.h - the run-lock protocol every command that changes the ledger
 * follows, written once: take the lock (or check that the run this command
 * is a step of holds it), start a job_runs row and attach it to the lock,
 * finish the row, release the lock.
 */
#ifndef WXR_CMD_RUNLOCK_H
#define WXR_CMD_RUNLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmd/cmd.h"

struct jobs_heartbeat;

struct runlock {
	struct ctx *ctx;
	struct jobs_heartbeat *heartbeat; /* while this process holds the lock; owned */
	int64_t run_id;                   /* the run the work is recorded under; 0 = none */
	bool locked;                      /* this process took the lock and releases it */
	bool own_run;                     /* this process started run_id and finishes it */
	bool finished;                    /* run_id has its final state */
};

/* What a run is: its job name, dates ("" = none), mode, the run it resumes. */
struct runlock_run {
	const char *job;
	const char *from;
	const char *to;
	bool dry_run;
	int64_t resumed_from;
};

/*
 * Takes the run lock. A step of a run (ctx->run_id set) only checks that
 * its run holds the lock and releases nothing. Otherwise the lock is
 * taken for this process; when wait_s > 0 and a live run holds it, waits
 * up to wait_s seconds for it (polling with backoff, progress on a
 * terminal). Fails with WXR_ELOCKED naming the holder. While this process
 * holds the lock, a heartbeat thread refreshes it (db_jobs.h), so it is
 * never taken for stale; runlock_end stops it.
 */
int runlock_take(struct runlock *rl, struct ctx *ctx, int64_t wait_s, struct wxr_err *err);

/* Records a new job_runs row for what and attaches it to the lock taken by
 * runlock_take (which must have taken it, not just checked it). */
int runlock_start(struct runlock *rl, const struct runlock_run *what, struct wxr_err *err);

/* Ends the run started by runlock_start: state ok | attention | failed,
 * summary JSON or NULL. Marks it finished even when the write fails. */
int runlock_finish(struct runlock *rl, const char *state, int exit_code, const char *summary,
                   struct wxr_err *err);

/*
 * The end of every path: a run started and not finished is finished from
 * status r (the command's result); a lock taken is released. Failures are
 * logged, never returned: r stands.
 */
void runlock_end(struct runlock *rl, int r);

/*
 * `wxrecon unlock [--force]`: releases the run lock of ctx's merchant when its holder is
 * gone, or (force) cannot be checked from here; never a live one (WXR_ELOCKED naming it).
 * Audited. *out_released false when no lock was held; out_holder ("run 7 (pid 123 on
 * host) holds the lock since T") names what was released.
 */
int runlock_release_stale(struct ctx *ctx, bool force, char *out_holder, size_t holder_size,
                          bool *out_released, struct wxr_err *err);

/* "ok", "attention" or "failed" for an exit code. */
const char *runlock_state(int exit_code);

#endif
