/*
 * cmd_tasks.c - `wxrecon tasks [--state S]` and `wxrecon tasks retry ID`:
 * the tasks of `run --enqueue` that the workers do (SPEC 10), and a held
 * task put back to ready by a person.
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "cmd/cmd.h"
#include "core/tasks.h"

struct list_out {
	struct ctx *ctx;
	json_t *arr; /* --json */
	size_t n;
};

static json_t *time_or_null(const struct ctx *ctx, int64_t ts)
{
	char t[CLOCK_RFC3339_LEN];

	if (ts <= 0)
		return json_null();
	time_format_rfc3339(ts, ctx->cfg.tz_offset_s, t);
	return json_string(t);
}

static int list_task(void *arg, const struct db_task *t, struct wxr_err *err)
{
	struct list_out *o = arg;
	char when[CLOCK_RFC3339_LEN];

	(void)err;
	o->n++;
	if (o->arr) {
		json_t *j = json_pack(
		        "{s:I, s:s, s:s, s:s, s:s, s:s?, s:s, s:I, s:I, s:I, s:I, s:s?, s:o, s:o, "
		        "s:s?}",
		        "id", (json_int_t)t->id, "key", t->key, "mchid", t->mchid, "job", t->job,
		        "step", t->step, "date", t->date, "state", t->state, "pending",
		        (json_int_t)t->pending, "attempts", (json_int_t)t->attempts, "max_attempts",
		        (json_int_t)t->max_attempts, "lease_gen", (json_int_t)t->lease_gen,
		        "lease_owner", t->lease_owner, "lease_until",
		        time_or_null(o->ctx, t->lease_until), "not_before",
		        time_or_null(o->ctx, t->not_before), "last_error", t->last_error);

		if (t->run_id > 0)
			json_object_set_new(j, "run_id", json_integer(t->run_id));
		return json_array_append_new(o->arr, j) == 0
		               ? 0
		               : err_set(err, WXR_EFAIL, "cannot build the JSON output");
	}
	printf("%6" PRId64 "  %-7s  %s %s %s %s  tries %" PRId64 "/%" PRId64, t->id, t->state,
	       t->mchid[0] ? t->mchid : "-", t->job, t->step, t->date ? t->date : "-", t->attempts,
	       t->max_attempts);
	if (strcmp(t->state, "running") == 0 && t->lease_until > 0) {
		time_format_rfc3339(t->lease_until, o->ctx->cfg.tz_offset_s, when);
		printf("  by %s until %s", t->lease_owner ? t->lease_owner : "?", when);
	} else if (strcmp(t->state, "ready") == 0 && t->not_before > o->ctx->now) {
		time_format_rfc3339(t->not_before, o->ctx->cfg.tz_offset_s, when);
		printf("  not before %s", when);
	} else if (strcmp(t->state, "blocked") == 0) {
		printf("  after %" PRId64 " more", t->pending);
	}
	putchar('\n');
	if (t->last_error && strcmp(t->state, "done") != 0)
		printf("          last error: %s\n", t->last_error);
	return 0;
}

static int tasks_retry_cmd(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	char who[256];
	char *key = NULL;
	int64_t id;
	int r;

	if (argc != 3)
		return cmd_usage_error(ctx, err,
		                       argc < 3 ? "which task? (its id: wxrecon tasks)"
		                                : "unexpected argument '%s'",
		                       argc > 3 ? argv[3] : "");
	if (cmd_parse_id(argv[2], &id) < 0)
		return cmd_usage_error(ctx, err, "bad task id '%s'", argv[2]);
	r = tasks_retry(ctx->db, ctx->run_id, id, cmd_whoami(who, sizeof(who)), &key, err);
	if (r < 0)
		return err_prefix(err, "tasks retry %" PRId64, id);
	if (ctx->json)
		r = cmd_print_json(json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "key", key,
		                             "state", "ready"),
		                   err);
	else
		printf("task %" PRId64 " (%s) is ready again, its attempts counted from 0 "
		       "(audited)\n",
		       id, key);
	free(key);
	return r;
}

static int run_tasks(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct list_out o = { .ctx = ctx };
	const char *state = NULL;
	const char **mchids;
	size_t n_mchids;
	int c;
	int r;

	if (argc >= 2 && strcmp(argv[1], "retry") == 0)
		return tasks_retry_cmd(ctx, argc, argv, err);
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 's') {
			if (!tasks_state_valid(optarg))
				return cmd_usage_error(ctx, err,
				                       "--state: no state '%s' (blocked, ready, "
				                       "running, done, held)",
				                       optarg);
			state = optarg;
			continue;
		}
		r = cmd_option(ctx, NULL, c, argv, err);
		if (r < 0)
			return r;
	}
	if (optind < argc)
		return cmd_usage_error(ctx, err, "unexpected argument '%s'", argv[optind]);
	if (ctx->json)
		o.arr = json_array();
	n_mchids = cmd_merchant_mchids(ctx, false, &mchids);
	r = tasks_list(ctx->db, state, mchids, n_mchids, list_task, &o, err);
	free(mchids);
	if (r >= 0 && o.arr) {
		r = cmd_print_json(o.arr, err);
		o.arr = NULL;
	} else if (r >= 0 && o.n == 0) {
		printf("no tasks%s%s\n", state ? " " : "", state ? state : "");
	}
	json_decref(o.arr);
	return r;
}

static const char tasks_help[] =
        "Lists the tasks that 'run JOB --enqueue' recorded for the workers, one per\n"
        "merchant, date and step, by id: its state (blocked: waits for an earlier step of\n"
        "its day; ready; running: under a worker's lease; done; held: failed too often or\n"
        "its worker lapsed too often, and waits for a person), the merchant, job, step and\n"
        "date, its tries, and its last error. --state S lists only those in S. --merchant\n"
        "NAME|MCHID (repeatable) lists only those merchants' tasks.\n"
        "'tasks retry ID' puts a held task back to ready with its tries counted from 0,\n"
        "once what failed is fixed; it is written to the audit log (task.retry).\n";

const struct cmd cmd_tasks = {
	.name = "tasks",
	.run = run_tasks,
	.flags = CMD_DB | CMD_MERCHANTS,
	.usage = "tasks [--state S] | tasks retry ID",
	.summary = "the workers' tasks (run --enqueue), and a held one back to ready",
	.help = tasks_help,
};
