/*
 * tasks.h - the work queue of many workers as people see it (SPEC 10,
 * issue 17; db/db_tasks.h keeps it): `wxrecon tasks` lists the tasks, and
 * `tasks retry ID` puts one that waits for a person back to ready, audited.
 */
#ifndef WXR_CORE_TASKS_H
#define WXR_CORE_TASKS_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db_tasks.h"
#include "wxrecon.h"

/* Whether s names a task state: blocked, ready, running, done or held. */
bool tasks_state_valid(const char *s);

/* Calls fn for each task in state (NULL: any) of one of mchids[0..n_mchids)
 * (n_mchids 0: any merchant), by id. fn's task is borrowed. */
int tasks_list(struct db *db, const char *state, const char *const *mchids, size_t n_mchids,
               int (*fn)(void *arg, const struct db_task *t, struct wxr_err *err), void *arg,
               struct wxr_err *err);

/* Held task id back to ready with its attempts counted from 0, and the
 * task.retry audit entry (who, the attempts it had, its last error), in one
 * transaction. *out_key (owned) is the task's key. WXR_ENOTFOUND without
 * that task, WXR_EDATA when it is not held. */
int tasks_retry(struct db *db, int64_t run_id, int64_t id, const char *who, char **out_key,
                struct wxr_err *err);

/* ---- a worker's side (db/db_tasks.h has the details) ---- */

/* Claims one task for owner until now + lease_s (db_task_claim): 1 with *out
 * filled (tasks_release), 0 when none is claimable. */
int tasks_claim(struct db *db, const char *owner, int64_t now, int64_t lease_s,
                const char *const *mchids, size_t n_mchids, struct db_task *out,
                struct wxr_err *err);
void tasks_release(struct db_task *t);
/* Renews the lease of generation gen to now + lease_s; WXR_ELOCKED when lost. */
int tasks_renew(struct db *db, int64_t id, int64_t gen, int64_t now, int64_t lease_s,
                struct wxr_err *err);
/* Marks the task done in a transaction fenced by gen, readying those after it;
 * WXR_ELOCKED when the claim is no longer gen's (the result is another's). */
int tasks_done(struct db *db, int64_t id, int64_t gen, const char *finished_at,
               struct wxr_err *err);
/* A failure of generation gen: ready again after the backoff for its attempts
 * (backoff_base_s doubled per attempt, at most an hour), or held at
 * max_attempts (*out_held). WXR_ELOCKED when the claim is no longer gen's. */
int tasks_fail(struct db *db, const struct db_task *t, int64_t now, int64_t backoff_base_s,
               const char *error, bool *out_held, struct wxr_err *err);
/* A step's process run for a claimed task: every write transaction of db
 * commits only while generation f->gen still holds task f->id
 * (db_task_fence_commits; *f borrowed while db is used). */
void tasks_fence_commits(struct db *db, const struct db_task_fence *f);

/* The attempts of an enqueued task before it is held for a person. */
#define TASKS_MAX_ATTEMPTS 3

struct job;

/* What `run JOB --enqueue` did. */
struct tasks_enqueued {
	int64_t run_id; /* the new run, or with added 0 the run that queued them first */
	int total;      /* tasks of the job, dates and merchants */
	int added;      /* of those, the ones not queued before */
};

/*
 * Queues job over from..to ("" for none: a job with per-day steps needs
 * them) for each of mchids[0..n): one task per merchant, date and step,
 * keyed MCHID/JOB/DATE/STEP (DATE is FROM..TO for a step over the range),
 * each after the tasks of the job's step before it (of its day, for a day's
 * step after a day's step), so a merchant's order is kept while days and
 * merchants run in parallel. With a new task, records a job_runs row for
 * run_mchid (the merchant, or "" for several) that the tasks name, and
 * run.enqueue in the audit log, all in one transaction; with none, records
 * nothing.
 */
int tasks_enqueue_job(struct db *db, const struct job *job, const char *from, const char *to,
                      const char *const *mchids, size_t n, const char *run_mchid,
                      const char *created_at, struct tasks_enqueued *out, struct wxr_err *err);

#endif
