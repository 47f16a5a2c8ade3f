/*
 * db_tasks.h - the work queue of many workers (issue 17, SPEC 10;
 * schema/015_tasks.sql): tasks with a unique key, the order between them,
 * claims under a lease with a fencing token, retries with backoff, and the
 * tasks that wait for a person.
 *
 * Exactly once: a task is done only by a transaction that finds its claim's
 * generation (lease_gen) still there: db_task_fence() inside the worker's
 * committing transaction, db_task_done() as its last statement. A worker
 * whose lease lapsed and was taken over finds a higher generation and rolls
 * back (WXR_ELOCKED): its results are never committed.
 *
 * Write transactions are serialised on both backends (SQLite's BEGIN
 * IMMEDIATE, PostgreSQL's writer advisory lock in db_begin), so a claim's
 * read and its update cannot interleave with another claim's. The update
 * re-checks the state besides, so a claim stays exclusive if that lock is
 * ever narrowed (PostgreSQL row locks: the UPDATE waits for a concurrent
 * one and re-reads the row).
 *
 * Times are Unix seconds of the wall clock, passed in by the caller.
 */
#ifndef WXR_DB_TASKS_H
#define WXR_DB_TASKS_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"

/* One task to enqueue. Strings borrowed. after[] names, by key, the tasks
 * of the same enqueue (or already stored) that must be done first. */
struct db_task_new {
	const char *key; /* unique: mchid/job/date/step */
	const char *mchid, *job, *step;
	const char *date; /* NULL for a step over the range */
	const char *const *after;
	int n_after;
};

/* Stores the tasks that are not stored yet, with their order, in one
 * transaction (the caller's when there is one, else its own); *out_added
 * counts the new ones (enqueuing again adds 0).
 * A task after one that is not stored and not in the list is WXR_EDATA.
 * run_id may be 0 (no run row). */
int db_tasks_enqueue(struct db *db, int64_t run_id, const struct db_task_new *tasks, int n,
                     int max_attempts, const char *created_at, int *out_added, struct wxr_err *err);

/* A claimed (or listed) task. Strings owned: db_task_release(). */
struct db_task {
	int64_t id, run_id;
	char *key, *mchid, *job, *step, *date; /* date NULL for a range step */
	char *state, *lease_owner, *last_error;
	int64_t pending, attempts, max_attempts, not_before, lease_gen, lease_until;
	bool taken_over; /* this claim took a lapsed lease over */
};
void db_task_release(struct db_task *t);

/* The task of that key into *out: 1 found, 0 not. */
int db_task_find(struct db *db, const char *key, struct db_task *out, struct wxr_err *err);

/* Claims one task for owner until now + lease_s, in its own transaction:
 * first a lapsed lease (oldest first), then the oldest ready task whose
 * not_before has come. mchids[0..n_mchids) limits the merchants (n_mchids 0:
 * any). A lapsed task that has had max_attempts claims is held for a
 * person instead (its last_error says so) and the search goes on.
 * Returns 1 with *out filled, 0 when nothing is claimable. */
int db_task_claim(struct db *db, const char *owner, int64_t now, int64_t lease_s,
                  const char *const *mchids, int n_mchids, struct db_task *out,
                  struct wxr_err *err);

/* Renews the lease to now + lease_s: WXR_ELOCKED when the claim of
 * generation gen is no longer the task's (taken over, or finished). */
int db_task_renew(struct db *db, int64_t id, int64_t gen, int64_t now, int64_t lease_s,
                  struct wxr_err *err);

/* Inside the caller's write transaction: WXR_ELOCKED unless generation gen
 * still holds the task (the caller must then roll back). On PostgreSQL the
 * UPDATE it runs keeps the row locked until the caller commits. */
int db_task_fence(struct db *db, int64_t id, int64_t gen, int64_t now, struct wxr_err *err);

/* Fences every later write transaction of db (a step's process, run for a
 * claimed task): each commits only if the claim of generation f->gen still
 * holds task f->id, checked inside the transaction (db_on_commit), else it
 * is rolled back with WXR_ELOCKED. So an intent to move money, which is
 * committed before it is sent, is never committed by a worker that lost its
 * lease. *f is borrowed for as long as db is used; NULL ends the fence.
 * Statements run outside db_begin are not fenced. */
struct db_task_fence {
	int64_t id, gen;
};
void db_task_fence_commits(struct db *db, const struct db_task_fence *f);

/* Inside the caller's write transaction: marks the task done (fenced like
 * db_task_fence) and readies the tasks whose last pending one it was. */
int db_task_done(struct db *db, int64_t id, int64_t gen, const char *finished_at,
                 struct wxr_err *err);

/* In its own transaction: records a failure of generation gen. Below
 * max_attempts the task is ready again from now + backoff_s; at it, held.
 * *out_held tells which. WXR_ELOCKED when the claim is no longer ours. */
int db_task_fail(struct db *db, int64_t id, int64_t gen, int64_t now, int64_t backoff_s,
                 const char *error, bool *out_held, struct wxr_err *err);

/* A held task back to ready, its attempts counted from 0 (tasks retry ID),
 * inside the caller's write transaction when there is one (so its audit
 * entry goes with it), else in its own. On success *out_was (may be NULL)
 * receives the task as it was (db_task_release). WXR_ENOTFOUND without that task,
 * WXR_EDATA when it is not held. */
int db_task_retry(struct db *db, int64_t id, struct db_task *out_was, struct wxr_err *err);

/* Every task, or those in state (NULL: any), by id. cb's task is borrowed. */
int db_tasks_list(struct db *db, const char *state,
                  int (*cb)(void *ctx, const struct db_task *t, struct wxr_err *err), void *ctx,
                  struct wxr_err *err);

/* How many tasks are in each state (blocked, ready, running, done, held). */
struct db_task_counts {
	int64_t blocked, ready, running, done, held;
};
int db_tasks_count(struct db *db, struct db_task_counts *out, struct wxr_err *err);

#endif
