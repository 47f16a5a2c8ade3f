#include "core/job.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/ini.h"
#include "base/xalloc.h"

static const char *const step_names[STEP_KIND_COUNT] = {
	"sweep-orders", "sweep-refunds", "fetch-bills", "reconcile", "report",
};

const char *step_name(enum step_kind k)
{
	return step_names[k];
}

bool step_is_per_day(enum step_kind k)
{
	return k == STEP_FETCH_BILLS || k == STEP_RECONCILE;
}

static int parse_steps(struct job *job, char *v, const char *where, struct wxr_err *err)
{
	char *save = NULL;

	job->nsteps = 0;
	for (char *tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *t = ini_trim(tok);
		int k;

		for (k = 0; k < STEP_KIND_COUNT; k++) {
			if (strcmp(step_names[k], t) == 0)
				break;
		}
		if (k == STEP_KIND_COUNT)
			return err_set(err, WXR_ECONFIG,
			               "%s: unknown step '%s' (steps: sweep-orders, sweep-refunds, "
			               "fetch-bills, reconcile, report)",
			               where, t);
		for (int i = 0; i < job->nsteps; i++) {
			if (job->steps[i] == (enum step_kind)k)
				return err_set(err, WXR_ECONFIG, "%s: step '%s' listed twice",
				               where, t);
		}
		if (job->nsteps == JOB_MAX_STEPS)
			return err_set(err, WXR_ECONFIG, "%s: too many steps", where);
		job->steps[job->nsteps++] = (enum step_kind)k;
	}
	if (job->nsteps == 0)
		return err_set(err, WXR_ECONFIG, "%s: no steps", where);
	return 0;
}

static int parse_limit(const char *v, long *out, const char *where, struct wxr_err *err)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (!*v || *end || errno || n < 1)
		return err_set(err, WXR_ECONFIG, "%s: bad limit '%s' (want a whole number >= 1)",
		               where, v);
	*out = n;
	return 0;
}

static int set_key(struct job *job, const char *section, const char *k, char *v, const char *where,
                   struct wxr_err *err)
{
	struct wxr_err sub = WXR_ERR_INIT;
	int64_t secs;

	if (strcmp(section, "job") == 0) {
		if (strcmp(k, "description") == 0) {
			free(job->description);
			job->description = xstrdup(v);
			return 0;
		}
		if (strcmp(k, "steps") == 0)
			return parse_steps(job, v, where, err);
		if (strcmp(k, "dates") == 0) {
			if (strcmp(v, "yesterday") == 0)
				job->default_yesterday = true;
			else if (strcmp(v, "none") == 0)
				job->default_yesterday = false;
			else
				return err_set(err, WXR_ECONFIG,
				               "%s: bad dates '%s' (want yesterday or none)", where,
				               v);
			return 0;
		}
	} else if (strcmp(section, "fetch-bills") == 0 && strcmp(k, "kind") == 0) {
		if (strcmp(v, "trade") != 0 && strcmp(v, "fundflow") != 0 && strcmp(v, "all") != 0)
			return err_set(err, WXR_ECONFIG,
			               "%s: bad kind '%s' (want trade, fundflow or all)", where, v);
		free(job->bill_kind);
		job->bill_kind = xstrdup(v);
		return 0;
	} else if (strcmp(section, "sweep-orders") == 0 && strcmp(k, "older_than") == 0) {
		if (duration_parse(v, &secs, &sub) < 0)
			return err_set(err, WXR_ECONFIG, "%s: %s", where, sub.msg);
		free(job->older_than);
		job->older_than = xstrdup(v);
		return 0;
	} else if (strcmp(section, "sweep-orders") == 0 && strcmp(k, "limit") == 0) {
		return parse_limit(v, &job->sweep_orders_limit, where, err);
	} else if (strcmp(section, "sweep-refunds") == 0 && strcmp(k, "limit") == 0) {
		return parse_limit(v, &job->sweep_refunds_limit, where, err);
	} else if (strcmp(section, "report") == 0 && strcmp(k, "formats") == 0) {
		char *copy = xstrdup(v);
		char *save = NULL;
		char *out = xstrdup("");

		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			char *f = ini_trim(t);
			char *n;

			if (strcmp(f, "html") != 0 && strcmp(f, "csv") != 0 &&
			    strcmp(f, "json") != 0) {
				/* f points into copy: format the message before freeing it */
				int r = err_set(err, WXR_ECONFIG,
				                "%s: bad format '%s' (want html, csv or json)",
				                where, f);

				free(copy);
				free(out);
				return r;
			}
			n = xasprintf("%s%s%s", out, *out ? "," : "", f);
			free(out);
			out = n;
		}
		free(copy);
		free(job->report_formats);
		job->report_formats = out;
		return 0;
	}
	return err_set(err, WXR_ECONFIG, "%s: unknown key '%s' in [%s]", where, k, section);
}

static int on_section(void *ctx, const char *where, const char *section, const char *name,
                      struct wxr_err *err)
{
	static const char *const known[] = { "job",           "fetch-bills", "sweep-orders",
		                             "sweep-refunds", "reconcile",   "report" };

	(void)ctx;
	for (size_t i = 0; !name && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(section, known[i]) == 0)
			return 0;
	if (name)
		return err_set(err, WXR_ECONFIG, "%s: unknown section '[%s \"%s\"]'", where,
		               section, name);
	return err_set(err, WXR_ECONFIG, "%s: unknown section '[%s]'", where, section);
}

static int on_key(void *ctx, const char *where, int lineno, const char *section, const char *name,
                  const char *k, const char *v, struct wxr_err *err)
{
	char *value = xstrdup(v);
	int r;

	(void)lineno;
	(void)name;
	r = set_key(ctx, section, k, value, where, err);
	free(value);
	return r;
}

int job_load(struct job *job, const char *dir, const char *name, struct wxr_err *err)
{
	const struct ini_cb cb = { .ctx = job, .section = on_section, .key = on_key };
	FILE *f = NULL;
	size_t nlen = strlen(name);
	int r = 0;

	memset(job, 0, sizeof(*job));
	if (nlen > 4 && strcmp(name + nlen - 4, ".job") == 0) {
		const char *slash = strrchr(name, '/');

		job->path = xstrdup(name);
		job->name =
		        xstrndup(slash ? slash + 1 : name, strlen(slash ? slash + 1 : name) - 4);
	} else {
		for (const char *p = name; *p; p++) {
			if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
				return err_set(err, WXR_EUSAGE, "bad job name '%s'", name);
		}
		job->path = xasprintf("%s/%s.job", dir, name);
		job->name = xstrdup(name);
	}
	f = fopen(job->path, "r");
	if (!f) {
		r = err_set(err, errno == ENOENT ? WXR_EUSAGE : WXR_EIO, "cannot open job '%s': %s",
		            job->path, strerror(errno));
		goto out;
	}
	r = ini_parse(f, job->path, &cb, err);
	if (r < 0)
		goto out;
	if (job->nsteps == 0)
		r = err_set(err, WXR_ECONFIG, "%s: no 'steps' in [job]", job->path);
out:
	if (f)
		fclose(f);
	if (r < 0)
		job_release(job);
	return r;
}

void job_release(struct job *job)
{
	if (!job)
		return;
	free(job->name);
	free(job->path);
	free(job->description);
	free(job->bill_kind);
	free(job->older_than);
	free(job->report_formats);
	memset(job, 0, sizeof(*job));
}
