/*
 * tasks.c - listing the work queue and retrying a held task (tasks.h).
 */
#include "core/tasks.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "core/job.h"
#include "db/audit.h"
#include "db/db.h"
#include "db/db_jobs.h"

#define ENQUEUE_MAX_DAYS  3660
#define ENQUEUE_MAX_TASKS 1000000

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

/* The days from..to into *out (owned), their count; one "" without dates. */
static int enqueue_days(const struct job *job, const char *from, const char *to,
                        char (**out)[CLOCK_DATE_LEN], int *out_n, struct wxr_err *err)
{
	bool per_day = false;
	int n = 0;

	for (int i = 0; i < job->nsteps; i++)
		per_day = per_day || step_is_per_day(job->steps[i]);
	*out = xcalloc(ENQUEUE_MAX_DAYS, sizeof(**out));
	if (!from[0]) {
		*out_n = 1;
		if (!per_day)
			return 0;
		return err_set(err, WXR_EUSAGE,
		               "job '%s' has per-day steps: give DATES (--date, --from/--to or "
		               "--yesterday)",
		               job->name);
	}
	for (snprintf((*out)[0], CLOCK_DATE_LEN, "%s", from);; n++) {
		if (n + 1 >= ENQUEUE_MAX_DAYS)
			return err_set(err, WXR_EUSAGE, "%s..%s: more than %d days to queue", from,
			               to, ENQUEUE_MAX_DAYS - 1);
		if (strcmp((*out)[n], to) >= 0)
			break;
		if (date_add_days((*out)[n], 1, (*out)[n + 1], err) < 0)
			return -1;
	}
	*out_n = n + 1;
	return 0;
}

int tasks_enqueue_job(struct db *db, const struct job *job, const char *from, const char *to,
                      const char *const *mchids, size_t n, const char *run_mchid,
                      const char *created_at, struct tasks_enqueued *out, struct wxr_err *err)
{
	char(*days)[CLOCK_DATE_LEN] = NULL;
	int ndays = 0, ns = job->nsteps, nt = 0;
	char **keys = NULL; /* [merchant][step][day]; a step over the range: day 0 */
	struct db_task_new *tasks = NULL;
	struct db_task first = { 0 };
	char range[2 * CLOCK_DATE_LEN + 2];
	char *detail = NULL;
	size_t nkeys;
	int r;

	memset(out, 0, sizeof(*out));
	r = enqueue_days(job, from, to, &days, &ndays, err);
	if (r < 0)
		goto out;
	nkeys = n * (size_t)ns * (size_t)ndays;
	if (nkeys == 0 || nkeys > ENQUEUE_MAX_TASKS) {
		r = err_set(err, WXR_EUSAGE, "job '%s': %zu tasks to queue (at most %d)", job->name,
		            nkeys, ENQUEUE_MAX_TASKS);
		goto out;
	}
	snprintf(range, sizeof(range), "%s..%s", from[0] ? from : "-", to[0] ? to : "-");
	keys = xcalloc(nkeys, sizeof(*keys));
	tasks = xcalloc(nkeys, sizeof(*tasks));
	for (size_t m = 0; m < n; m++) {
		for (int i = 0; i < ns; i++) {
			bool day = step_is_per_day(job->steps[i]);
			bool prev_day = i > 0 && step_is_per_day(job->steps[i - 1]);
			char **row = keys + (m * (size_t)ns + (size_t)i) * (size_t)ndays;

			for (int d = 0; d < (day ? ndays : 1); d++) {
				struct db_task_new *t = &tasks[nt++];

				row[d] = xasprintf("%s/%s/%s/%s", mchids[m], job->name,
				                   day ? days[d] : range, step_name(job->steps[i]));
				t->key = row[d];
				t->mchid = mchids[m];
				t->job = job->name;
				t->step = step_name(job->steps[i]);
				t->date = day ? days[d] : NULL;
				if (i == 0)
					continue;
				/* after the step before: its day's, or all its days, or its one */
				t->after = (const char *const *)(row - ndays +
				                                 (day && prev_day ? d : 0));
				t->n_after = !day && prev_day ? ndays : 1;
			}
		}
	}
	r = db_begin(db, err);
	if (r < 0)
		goto out;
	r = jobs_run_start(db, run_mchid, job->name, from, to, false, 0, &out->run_id, err);
	if (r == 0)
		r = db_tasks_enqueue(db, out->run_id, tasks, nt, TASKS_MAX_ATTEMPTS, created_at,
		                     &out->added, err);
	if (r == 0 && out->added > 0) {
		json_t *d = json_pack("{s:s, s:I, s:I, s:s}", "from", from, "tasks", (json_int_t)nt,
		                      "new", (json_int_t)out->added, "to", to);

		detail = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(d);
		r = detail ? audit_append(db, out->run_id, "jobs", "run.enqueue", job->name, detail,
		                          err)
		           : err_set(err, WXR_EFAIL, "cannot build the audit entry");
	}
	if (r < 0 || out->added == 0) {
		/* nothing new: no run to record; the run that queued them says which */
		db_rollback(db);
		if (r == 0)
			r = db_task_find(db, tasks[0].key, &first, err);
		out->run_id = r > 0 ? first.run_id : 0;
	} else {
		r = db_commit(db, err);
	}
	out->total = nt;
out:
	for (size_t k = 0; keys && k < nkeys; k++)
		free(keys[k]);
	free(keys);
	free(tasks);
	free(days);
	free(detail);
	db_task_release(&first);
	return r < 0 ? r : 0;
}

int tasks_claim(struct db *db, const char *owner, int64_t now, int64_t lease_s,
                const char *const *mchids, size_t n_mchids, struct db_task *out,
                struct wxr_err *err)
{
	return db_task_claim(db, owner, now, lease_s, mchids, (int)n_mchids, out, err);
}

void tasks_release(struct db_task *t)
{
	db_task_release(t);
}

int tasks_renew(struct db *db, int64_t id, int64_t gen, int64_t now, int64_t lease_s,
                struct wxr_err *err)
{
	return db_task_renew(db, id, gen, now, lease_s, err);
}

int tasks_done(struct db *db, int64_t id, int64_t gen, const char *finished_at, struct wxr_err *err)
{
	int r = db_begin(db, err);

	if (r < 0)
		return r;
	r = db_task_done(db, id, gen, finished_at, err);
	if (r < 0) {
		db_rollback(db);
		return r;
	}
	return db_commit(db, err);
}

#define TASKS_BACKOFF_MAX_S 3600

int tasks_fail(struct db *db, const struct db_task *t, int64_t now, int64_t backoff_base_s,
               const char *error, bool *out_held, struct wxr_err *err)
{
	int64_t backoff = backoff_base_s > 0 ? backoff_base_s : 1;

	for (int64_t k = 1; k < t->attempts && backoff < TASKS_BACKOFF_MAX_S; k++)
		backoff *= 2;
	if (backoff > TASKS_BACKOFF_MAX_S)
		backoff = TASKS_BACKOFF_MAX_S;
	return db_task_fail(db, t->id, t->lease_gen, now, backoff, error, out_held, err);
}

void tasks_fence_commits(struct db *db, const struct db_task_fence *f)
{
	db_task_fence_commits(db, f);
}
