/*
 * jobrun.h - the run-lock protocol every command that changes the ledger
 * follows, written once: take the lock (or check that the run this command
 * is a step of holds it), start a job_runs row and attach it to the lock,
 * finish the row, release the lock. And the records of a run's steps that
 * `wxrecon run` and `wxrecon runs` keep and read (db_jobs.h).
 */
#ifndef WXR_CORE_JOBRUN_H
#define WXR_CORE_JOBRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db_jobs.h"
#include "wxrecon.h"

/* Where a lock is taken: the store, its path or connection string, the merchant,
 * and the run this command is a step of (0 = none). */
struct runlock_where {
	struct db *db;
	const char *db_path; /* the heartbeat's own connection opens it */
	const char *mchid;
	int64_t run_id;
};

struct runlock {
	struct runlock_where at;          /* as runlock_take was given it */
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
 * Takes the run lock. A step of a run (where->run_id set) only checks that
 * its run holds the lock and releases nothing. Otherwise the lock is
 * taken for this process; when wait_s > 0 and a live run holds it, waits
 * up to wait_s seconds for it (polling with backoff, progress on a
 * terminal). Fails with WXR_ELOCKED naming the holder. While this process
 * holds the lock, a heartbeat thread refreshes it (db_jobs.h), so it is
 * never taken for stale; runlock_end stops it.
 */
int runlock_take(struct runlock *rl, const struct runlock_where *where, int64_t wait_s,
                 struct wxr_err *err);

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
 * `wxrecon unlock [--force]`: releases the run lock of mchid when its holder is
 * gone, or (force) cannot be checked from here; never a live one (WXR_ELOCKED naming it).
 * Audited. *out_released false when no lock was held; out_holder ("run 7 (pid 123 on
 * host) holds the lock since T") names what was released.
 */
int runlock_release_stale(struct db *db, const char *mchid, bool force, char *out_holder,
                          size_t holder_size, bool *out_released, struct wxr_err *err);

/* "ok", "attention" or "failed" for an exit code. */
const char *runlock_state(int exit_code);

/* The steps of a run (db_jobs.h): a new step of run_id (*out_step_id), a step's
 * state and why it did not end ok. */
int jobrun_step_add(struct db *db, int64_t run_id, int seq, const char *step, const char *date,
                    int64_t *out_step_id, struct wxr_err *err);
int jobrun_step_set(struct db *db, int64_t step_id, const char *state, int exit_code,
                    const char *message, const char *reason, struct wxr_err *err);
/* A recorded run (jobrun_release), and fn for each of its steps that did not end
 * ok or attention (what a resumed run does again). */
int jobrun_get(struct db *db, int64_t run_id, struct job_run_row *out, struct wxr_err *err);
void jobrun_release(struct job_run_row *row);
int jobrun_steps_unfinished(struct db *db, int64_t run_id,
                            int (*fn)(void *arg, const char *step, const char *date,
                                      struct wxr_err *err),
                            void *arg, struct wxr_err *err);
/* The last runs with their steps, newest first, through cb. */
int jobrun_list(struct db *db, long last, const struct jobs_list_cb *cb, struct wxr_err *err);

#endif
