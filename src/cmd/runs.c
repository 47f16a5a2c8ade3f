/* cmd/runs.c - `wxrecon runs [--last N]`: the job runs and their steps, newest first. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "cmd/cmd.h"
#include "cmd/steprun.h"
#include "core/jobrun.h"
#include "core/report.h"

/* `runs`: the rows as text, or as one JSON array (arr) built run by run. */
struct runs_out {
	int tz;        /* times shown in the configured timezone */
	json_t *arr;   /* --json */
	json_t *run;   /* the run being listed */
	json_t *steps; /* its steps */
};

static const char *or_null(const char *s)
{
	return s && *s ? s : NULL;
}

static int runs_run(void *arg, const struct job_list_run *r, struct wxr_err *err)
{
	struct runs_out *o = arg;
	bool range = strcmp(r->from, r->to) != 0;
	char t0[CLOCK_RFC3339_LEN], t1[CLOCK_RFC3339_LEN];
	const char *started = report_local_time(r->started_at, o->tz, t0);
	const char *ended = report_local_time(r->ended_at, o->tz, t1);

	if (!o->arr) {
		printf("run %" PRId64 "  %-10s %s%s%s  %-9s exit %d  %s .. %s%s\n", r->id, r->job,
		       r->from, range ? ".." : "", range ? r->to : "", r->state, r->exit_code,
		       started, ended, r->dry_run ? "  (dry run)" : "");
		return 0;
	}
	o->steps = json_array();
	o->run = json_pack("{s:I, s:s, s:s?, s:s?, s:b, s:s, s:i, s:s, s:s?}", "id",
	                   (json_int_t)r->id, "job", r->job, "from", or_null(r->from), "to",
	                   or_null(r->to), "dry_run", r->dry_run, "state", r->state, "exit_code",
	                   r->exit_code, "started_at", started, "ended_at", or_null(ended));
	if (!o->run || !o->steps)
		return err_set(err, WXR_EFAIL, "cannot build the JSON output");
	return 0;
}

static int runs_step(void *arg, const struct job_list_step *st, struct wxr_err *err)
{
	struct runs_out *o = arg;
	char s0[CLOCK_RFC3339_LEN], s1[CLOCK_RFC3339_LEN];

	(void)err;
	if (!o->arr) {
		const char *msg = st->message;

		printf("    %3d %-9s %-13s %-10s %s\n", st->seq, st->state, st->step,
		       *st->date ? st->date : "-",
		       msg[0] == '{' || msg[0] == '[' || st->reason ? "" : msg);
		cmd_print_reason(st->reason);
		return 0;
	}
	json_array_append_new(o->steps,
	                      json_pack("{s:i, s:s, s:s?, s:s, s:i, s:s, s:s, s:s?}", "seq",
	                                st->seq, "step", st->step, "date", or_null(st->date),
	                                "state", st->state, "exit_code", st->exit_code,
	                                "started_at", report_local_time(st->started_at, o->tz, s0),
	                                "ended_at", report_local_time(st->ended_at, o->tz, s1),
	                                "reason", st->reason));
	return 0;
}

static int runs_run_end(void *arg, struct wxr_err *err)
{
	struct runs_out *o = arg;

	(void)err;
	if (!o->arr)
		return 0;
	json_object_set_new(o->run, "steps", o->steps);
	json_array_append_new(o->arr, o->run);
	o->run = o->steps = NULL;
	return 0;
}

static int run_runs(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		{ "last", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct runs_out o = { .tz = ctx->cfg.tz_offset_s, .arr = NULL };
	struct jobs_list_cb cb = { runs_run, runs_step, runs_run_end, &o };
	long last = 10;
	int c;
	int r;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'l': {
			char *end;

			last = strtol(optarg, &end, 10);
			if (*end || last < 1)
				return cmd_usage_error(ctx, err, "--last: bad number '%s'", optarg);
			break;
		}
		default:
			r = cmd_option(ctx, NULL, c, argv, err);
			if (r < 0)
				return r;
			break;
		}
	}
	if (optind < argc)
		return cmd_usage_error(ctx, err, "unexpected argument '%s'", argv[optind]);
	if (ctx->json)
		o.arr = json_array();
	r = jobrun_list(ctx->db, last, &cb, err);
	if (r >= 0 && o.arr) {
		r = cmd_print_json(o.arr, err);
		o.arr = NULL;
	}
	json_decref(o.run);
	json_decref(o.steps);
	json_decref(o.arr);
	return r;
}

const struct cmd cmd_runs = {
	.name = "runs",
	.run = run_runs,
	.flags = CMD_DB | CMD_DB_READONLY | CMD_STORE,
	.usage = "runs [--last N]",
	.summary = "job runs and their steps, newest first",
};
