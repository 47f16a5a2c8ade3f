/*
 * db_jobs.h - job runs, their steps, and the run lock (a row per
 * (mchid, name) in `locks`, so it can become a row lock on a server
 * database; SPEC 10).
 */
#ifndef WXR_DB_JOBS_H
#define WXR_DB_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

/* How often a holder refreshes its lock's heartbeat, and how long a holder that cannot be
 * checked (another host, container or pod) may go without one before its lock is taken
 * over. The limit is written in the lock, so each holder's own one is honoured. */
#define JOBS_LOCK_HEARTBEAT_S 30
#define JOBS_LOCK_STALE_S     600

struct lock_holder {
	int64_t run_id;
	long pid;
	char host[256];
	char since[40];       /* acquired_at */
	int64_t heartbeat_ts; /* unix seconds; 0 = none (a lock of an older wxrecon) */
	int64_t stale_s;      /* its limit; 0 = none recorded */
	char boot_id[64];     /* "" = not recorded */
	char pid_ns[64];
	int64_t pid_start;
};

/* What this process finds of a lock's holder. */
enum lock_verdict {
	LOCK_MINE,        /* this process, or the run the caller is a step of */
	LOCK_ALIVE,       /* checked here: its process runs */
	LOCK_GONE,        /* checked here: its pid is dead, or another process now */
	LOCK_UNCHECKABLE, /* another host, boot or PID namespace, heartbeat within its limit */
	LOCK_STALE,       /* cannot be checked, and no heartbeat for longer than its limit */
};

/*
 * Takes the lock (mchid, name) for run_id, recording this process (host, boot, PID
 * namespace, start time) and a first heartbeat. When run_id is the holder already (a step
 * of the run holding it), succeeds. A holder that is gone (a dead or reused pid on this
 * host) or stale (cannot be checked and no heartbeat for longer than its limit) is taken
 * over, audited as lock.takeover with the reason. Otherwise fails with WXR_ELOCKED naming
 * the run, pid and host (and, for a holder that cannot be checked, its last heartbeat and
 * what to do).
 */
int jobs_lock(struct db *db, const char *mchid, const char *name, int64_t run_id,
              struct wxr_err *err);
/* "run 7 (pid 123 on host) holds the lock since T" (or "pid ... holds ..."). */
void jobs_lock_holder_text(const struct lock_holder *h, char *out, size_t n);
/* Records run_id in a lock this process holds. */
int jobs_lock_attach_run(struct db *db, const char *mchid, const char *name, int64_t run_id,
                         struct wxr_err *err);
/* Releases it when this process (or run_id) holds it. */
int jobs_unlock(struct db *db, const char *mchid, const char *name, int64_t run_id,
                struct wxr_err *err);
/*
 * `wxrecon unlock`: releases the lock of another holder, audited as lock.release with the
 * holder and the reason. A holder that is gone or stale is released; one that cannot be
 * checked only with force; a live one never (WXR_ELOCKED naming it, as for a holder that
 * cannot be checked without force). *out_released false and 0 when no lock is held;
 * *out_holder is set whenever a lock was found.
 */
int jobs_lock_release(struct db *db, const char *mchid, const char *name, bool force,
                      struct lock_holder *out_holder, bool *out_released, struct wxr_err *err);

/*
 * The holder's heartbeat: a thread with its own connection to db_path that sets the lock's
 * heartbeat_ts every interval_s (0: JOBS_LOCK_HEARTBEAT_S) while this process holds it, so
 * the lock of a live holder is never taken for stale however long a step runs (a step
 * waiting on the network, a long transaction: a beat that finds the database busy is
 * counted as failed and tried again at the next tick). Signals stay with the other threads.
 * stop joins the thread and frees it; NULL-safe, returns NULL.
 */
struct jobs_heartbeat;
int jobs_heartbeat_start(const char *db_path, const char *mchid, const char *name, int interval_s,
                         struct jobs_heartbeat **out, struct wxr_err *err);
void jobs_heartbeat_counts(struct jobs_heartbeat *hb, int64_t *out_beats, int64_t *out_failures);
struct jobs_heartbeat *jobs_heartbeat_stop(struct jobs_heartbeat *hb);

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
