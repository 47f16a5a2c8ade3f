/*
 * db_jobs.h - job runs, their steps, and the run lock (a row per
 * (mchid, name) in `locks`, so it can become a row lock on a server
 * database; SPEC 10).
 */
#ifndef WXR_DB_JOBS_H
#define WXR_DB_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"

struct lock_holder {
	int64_t run_id;
	long pid;
	char host[256];
	char since[40];
};

/*
 * Takes the lock (mchid, name) for run_id. When another live process holds
 * it, fails with WXR_ELOCKED naming the run, pid and host. A lock left by a
 * dead process on this host is taken over (and audited). When run_id is the
 * holder already (a step of the run holding it), succeeds.
 */
int jobs_lock(struct db *db, const char *mchid, const char *name, int64_t run_id,
              struct wxr_err *err);
/* Records run_id in a lock this process holds. */
int jobs_lock_attach_run(struct db *db, const char *mchid, const char *name, int64_t run_id,
                         struct wxr_err *err);
/* Releases it when this process (or run_id) holds it. */
int jobs_unlock(struct db *db, const char *mchid, const char *name, int64_t run_id,
                struct wxr_err *err);

int jobs_run_start(struct db *db, const char *mchid, const char *job, const char *from,
                   const char *to, bool dry_run, int64_t resumed_from, int64_t *out_run_id,
                   struct wxr_err *err);
/* Records the audit log's head (count, last hash, under the audit key) into
 * run_id's row, for `audit --verify` (db/audit.h). */
int jobs_run_checkpoint(struct db *db, int64_t run_id, struct wxr_err *err);
/* state: ok | attention | failed */
int jobs_run_finish(struct db *db, int64_t run_id, const char *state, int exit_code,
                    const char *summary_json, struct wxr_err *err);

int jobs_step_add(struct db *db, int64_t run_id, int seq, const char *step, const char *date,
                  int64_t *out_step_id, struct wxr_err *err);
/* state: running | ok | attention | failed | skipped; reason: why it did not
 * end ok (NULL when it did), kept in job_steps.reason. */
int jobs_step_set(struct db *db, int64_t step_id, const char *state, int exit_code,
                  const char *message, const char *reason, struct wxr_err *err);

/* A run's job, dates ("" = none) and mode; strings owned (jobs_run_row_release). */
struct job_run_row {
	int64_t id;
	char *job;
	char *from;
	char *to;
	bool dry_run;
};

/* Reads run_id; WXR_ENOTFOUND when there is none. */
int jobs_run_get(struct db *db, int64_t run_id, struct job_run_row *out, struct wxr_err *err);
void jobs_run_row_release(struct job_run_row *row);

/* Calls fn(arg, step, date or "") for each step of run_id that did not end
 * ok or attention, in order; a negative return from fn stops and is returned. */
int jobs_steps_unfinished(struct db *db, int64_t run_id,
                          int (*fn)(void *arg, const char *step, const char *date,
                                    struct wxr_err *err),
                          void *arg, struct wxr_err *err);

/* One row of `wxrecon runs`: text valid during the callback; "" for none. */
struct job_list_run {
	int64_t id;
	const char *job, *from, *to;
	bool dry_run;
	const char *state;
	int exit_code; /* -1 while running */
	const char *started_at, *ended_at;
};
struct job_list_step {
	int seq;
	const char *step, *date, *state;
	int exit_code;
	const char *started_at, *ended_at;
	const char *message; /* the step's JSON result or note, "" */
	const char *reason;  /* why it did not end ok, NULL when it did */
};
struct jobs_list_cb {
	int (*run)(void *arg, const struct job_list_run *run, struct wxr_err *err);
	int (*step)(void *arg, const struct job_list_step *step, struct wxr_err *err);
	int (*run_end)(void *arg, struct wxr_err *err);
	void *arg;
};

/* The last `last` runs, newest first, each with its steps in order. */
int jobs_runs_list(struct db *db, long last, const struct jobs_list_cb *cb, struct wxr_err *err);

#endif
