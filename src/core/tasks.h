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

#endif
