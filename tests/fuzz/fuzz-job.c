/*
 * fuzz-job.c - the job file parser (job.h) on arbitrary bytes.
 *
 * job_load() reads a file, so the input is written to a temporary file named
 * *.job (fuzz_tmpfile()). Oracles: an error is WXR_ECONFIG with a message
 * that names the file and leaves the struct empty; a loaded job has 1 to
 * JOB_MAX_STEPS distinct known steps, a known bill kind, limits >= 1, an
 * older_than that duration_parse() accepts and report formats from html, csv
 * and json; CRLF line ends change nothing.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "core/job.h"
#include "fuzzutil.h"

struct outcome {
	int rc;
	char msg[sizeof(((struct wxr_err *)0)->msg)];
	uint64_t digest;
};

static const char *path;

static uint64_t mix_s(uint64_t h, const char *s)
{
	return s ? fuzz_hash(s, strlen(s) + 1, h) : fuzz_hash("\xff", 1, h);
}

static void check_job(const struct job *job)
{
	int64_t secs;

	FUZZ_ASSERT(job->nsteps >= 1 && job->nsteps <= JOB_MAX_STEPS, "nsteps %d", job->nsteps);
	for (int i = 0; i < job->nsteps; i++) {
		FUZZ_ASSERT(job->steps[i] >= 0 && job->steps[i] < STEP_KIND_COUNT, "step %d",
		            (int)job->steps[i]);
		FUZZ_ASSERT(step_name(job->steps[i])[0], "unnamed step");
		for (int k = 0; k < i; k++)
			FUZZ_ASSERT(job->steps[k] != job->steps[i], "step listed twice");
	}
	FUZZ_ASSERT(!job->bill_kind || strcmp(job->bill_kind, "trade") == 0 ||
	                    strcmp(job->bill_kind, "fundflow") == 0 ||
	                    strcmp(job->bill_kind, "all") == 0,
	            "bill kind '%s'", job->bill_kind);
	FUZZ_ASSERT(job->sweep_orders_limit >= 0 && job->sweep_refunds_limit >= 0, "limit < 0");
	FUZZ_ASSERT(!job->older_than || duration_parse(job->older_than, &secs, NULL) == 0,
	            "older_than '%s'", job->older_than);
	if (job->report_formats) {
		char *copy = strdup(job->report_formats);
		char *save = NULL;

		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			FUZZ_ASSERT(strcmp(t, "html") == 0 || strcmp(t, "csv") == 0 ||
			                    strcmp(t, "json") == 0,
			            "report format '%s' in '%s'", t, job->report_formats);
		free(copy);
	}
}

static void load(const void *data, size_t size, struct outcome *o)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct job job;
	uint64_t h = FUZZ_HASH_INIT;

	memset(o, 0, sizeof(*o));
	fuzz_tmpfile_write(path, data, size);
	o->rc = job_load(&job, NULL, path, &err);
	if (o->rc < 0) {
		FUZZ_ASSERT(o->rc == WXR_ECONFIG, "error code %d: %s", o->rc, err.msg);
		FUZZ_ASSERT(strncmp(err.msg, path, strlen(path)) == 0,
		            "message '%s' lacks the path", err.msg);
		FUZZ_ASSERT(!job.name && !job.path && !job.description && job.nsteps == 0,
		            "a failed load left data in the job");
		snprintf(o->msg, sizeof(o->msg), "%s", err.msg);
		return;
	}
	check_job(&job);
	h = mix_s(h, job.description);
	h = fuzz_hash(job.steps, sizeof(job.steps[0]) * (size_t)job.nsteps, h);
	h = fuzz_hash(&job.default_yesterday, sizeof(job.default_yesterday), h);
	h = mix_s(h, job.bill_kind);
	h = mix_s(h, job.older_than);
	h = fuzz_hash(&job.sweep_orders_limit, sizeof(long), h);
	h = fuzz_hash(&job.sweep_refunds_limit, sizeof(long), h);
	h = mix_s(h, job.report_formats);
	o->digest = h;
	job_release(&job);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outcome plain, crlf;
	uint8_t *alt;
	size_t n = 0;

	if (size > 16384)
		return 0;
	if (!path)
		path = fuzz_tmpfile(".job");
	load(data, size, &plain);
	alt = malloc(2 * size + 1);
	if (!alt)
		abort();
	for (size_t i = 0; i < size; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			alt[n++] = '\r';
		alt[n++] = data[i];
	}
	load(alt, n, &crlf);
	FUZZ_ASSERT(crlf.rc == plain.rc && strcmp(crlf.msg, plain.msg) == 0 &&
	                    crlf.digest == plain.digest,
	            "CRLF changed the outcome: %d '%s' vs %d '%s'", plain.rc, plain.msg, crlf.rc,
	            crlf.msg);
	free(alt);
	return 0;
}
