/*
 * tasks.c - listing the work queue and retrying a held task (tasks.h).
 */
#include "core/tasks.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "db/audit.h"
#include "db/db.h"

bool tasks_state_valid(const char *s)
{
	static const char *const states[] = { "blocked", "ready", "running", "done", "held" };

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		if (strcmp(s, states[i]) == 0)
			return true;
	}
	return false;
}

struct list_filter {
	const char *const *mchids;
	size_t n;
	int (*fn)(void *arg, const struct db_task *t, struct wxr_err *err);
	void *arg;
};

static int list_one(void *arg, const struct db_task *t, struct wxr_err *err)
{
	const struct list_filter *f = arg;

	for (size_t i = 0; i < f->n; i++) {
		if (strcmp(t->mchid, f->mchids[i]) == 0)
			return f->fn(f->arg, t, err);
	}
	return f->n ? 0 : f->fn(f->arg, t, err);
}

int tasks_list(struct db *db, const char *state, const char *const *mchids, size_t n_mchids,
               int (*fn)(void *arg, const struct db_task *t, struct wxr_err *err), void *arg,
               struct wxr_err *err)
{
	struct list_filter f = { .mchids = mchids, .n = n_mchids, .fn = fn, .arg = arg };

	return db_tasks_list(db, state, list_one, &f, err);
}

int tasks_retry(struct db *db, int64_t run_id, int64_t id, const char *who, char **out_key,
                struct wxr_err *err)
{
	struct db_task was = { 0 };
	json_t *d;
	char *text = NULL;
	int r;

	*out_key = NULL;
	r = db_begin(db, err);
	if (r < 0)
		return r;
	r = db_task_retry(db, id, &was, err);
	if (r < 0)
		goto fail;
	d = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:s?, s:s, s:s}", "task_id", (json_int_t)id,
	              "mchid", was.mchid, "job", was.job, "step", was.step, "by", who, "attempts",
	              (json_int_t)was.attempts, "last_error", was.last_error, "before", "held",
	              "after", "ready");
	text = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(d);
	if (!text) {
		r = err_set(err, WXR_EFAIL, "cannot build the audit entry");
		goto fail;
	}
	r = audit_append(db, run_id, "tasks", "task.retry", was.key, text, err);
	if (r < 0)
		goto fail;
	r = db_commit(db, err);
	if (r < 0)
		goto out;
	*out_key = xstrdup(was.key);
	goto out;
fail:
	db_rollback(db);
out:
	free(text);
	db_task_release(&was);
	return r;
}
