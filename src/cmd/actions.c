/*
 * cmd_actions.c - `wxrecon actions [--pending] [DATES]` (the money-moving
 * actions and their states, SPEC 8) and `wxrecon approve ACTION_ID [--note
 * TEXT]` (releases an action held for approval; the next sweep sends it).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "cmd/cmd.h"
#include "core/approve.h"

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* SPEC 8's action object, with more fields after the documented ones. */
static json_t *action_json(const struct action *a)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(a->id));
	json_object_set_new(o, "kind", json_string(a->kind));
	json_object_set_new(o, "target", str_or_null(a->target));
	json_object_set_new(o, "state", json_string(a->state));
	json_object_set_new(o, "result", str_or_null(a->result));
	json_object_set_new(o, "run_id", a->run_id > 0 ? json_integer(a->run_id) : json_null());
	json_object_set_new(o, "at", str_or_null(a->updated_at));
	json_object_set_new(o, "amount", a->has_amount ? json_integer(a->amount) : json_null());
	json_object_set_new(o, "date", a->date[0] ? json_string(a->date) : json_null());
	json_object_set_new(o, "attempts", json_integer(a->attempts));
	json_object_set_new(o, "error", str_or_null(a->error));
	json_object_set_new(o, "note", str_or_null(a->note));
	json_object_set_new(o, "created_at", str_or_null(a->created_at));
	json_object_set_new(o, "approved_by", str_or_null(a->approved_by));
	json_object_set_new(o, "approval_note", str_or_null(a->approval_note));
	if (a->params) {
		json_t *p = json_loads(a->params, 0, NULL);

		json_object_set_new(o, "params", p ? p : json_string(a->params));
	}
	return o;
}

static void amount_text(const struct action *a, char *out, size_t n)
{
	if (!a->has_amount)
		snprintf(out, n, "-");
	else
		snprintf(out, n, "%" PRId64 ".%02" PRId64, a->amount / 100, a->amount % 100);
}

static int run_actions(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		DATES_LONG_OPTIONS,
		{ "pending", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct dates d = { .given = false };
	struct action_filter f;
	struct action *v = NULL;
	size_t n = 0;
	int c;
	int r;

	memset(&f, 0, sizeof(f));
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			f.pending = true;
			break;
		default:
			r = cmd_option(ctx, &d, c, argv, err);
			if (r < 0)
				return r;
			break;
		}
	}
	if (optind < argc)
		return cmd_usage_error(ctx, err, "unexpected argument '%s'", argv[optind]);
	r = dates_finish(ctx, &d, false, err);
	if (r < 0)
		return r;
	f.mchid = ctx->mchid;
	if (d.given && !f.pending) {
		f.from = d.from;
		f.to = d.to;
	}
	r = approve_list(ctx->db, &f, &v, &n, err);
	if (r < 0)
		return err_prefix(err, "actions");
	if (ctx->json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, action_json(&v[i]));
		r = cmd_print_json(arr, err);
	} else {
		if (n)
			printf("%-6s %-16s %-32s %-16s %12s %-16s %s\n", "ID", "KIND", "TARGET",
			       "STATE", "AMOUNT", "RESULT", "AT");
		for (size_t i = 0; i < n; i++) {
			const struct action *a = &v[i];
			char amount[32];

			amount_text(a, amount, sizeof(amount));
			printf("%-6" PRId64 " %-16s %-32s %-16s %12s %-16s %s\n", a->id, a->kind,
			       a->target ? a->target : "", a->state, amount,
			       a->result ? a->result : "-", a->updated_at ? a->updated_at : "");
			if (strcmp(a->state, "pending_approval") == 0 && a->note)
				printf("       %s\n", a->note);
			else if (strcmp(a->state, "failed") == 0 && a->error)
				printf("       %s\n", a->error);
		}
		if (!n)
			printf("no actions\n");
	}
	actions_free(v, n);
	return r;
}

static const char *who_am_i(void)
{
	const char *u = getenv("USER");

	return u && *u ? u : "unknown";
}

static const char *sent_by(const char *kind)
{
	if (strcmp(kind, "ABNORMAL_REFUND") == 0 || strcmp(kind, "REFUND") == 0)
		return "'wxrecon sweep refunds'";
	if (strncmp(kind, "ORDER_", 6) == 0)
		return "'wxrecon sweep orders'";
	return "the engine";
}

static int run_approve(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		{ "note", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *note = NULL;
	const char *who = who_am_i();
	char now[CLOCK_RFC3339_LEN];
	struct action a;
	char *end;
	int64_t id;
	int c;
	int r;

	memset(&a, 0, sizeof(a));
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			note = optarg;
			break;
		default:
			r = cmd_option(ctx, NULL, c, argv, err);
			if (r < 0)
				return r;
			break;
		}
	}
	if (optind >= argc)
		return cmd_usage_error(ctx, err,
		                       "give the ACTION_ID ('wxrecon actions --pending')");
	if (optind + 1 < argc)
		return cmd_usage_error(ctx, err, "unexpected argument '%s'", argv[optind + 1]);
	errno = 0;
	id = strtoll(argv[optind], &end, 10);
	if (errno || *end || end == argv[optind] || id < 1)
		return cmd_usage_error(ctx, err, "bad ACTION_ID '%s'", argv[optind]);
	time_format_rfc3339(ctx->now, ctx->cfg.tz_offset_s, now);
	r = approve_action(ctx->db, ctx->run_id, ctx->mchid, id, who, note, now, &a, err);
	if (r < 0) {
		err_prefix(err, "approve");
		goto out;
	}
	if (ctx->json) {
		bool found = false;

		action_release(&a);
		r = approve_get(ctx->db, id, &a, &found, err);
		if (r >= 0)
			r = cmd_print_json(action_json(&a), err);
	} else {
		char amount[32];

		amount_text(&a, amount, sizeof(amount));
		printf("approved action %" PRId64 ": %s %s (%s yuan) by %s; the next %s sends it\n",
		       id, a.kind, a.target, amount, who, sent_by(a.kind));
	}
out:
	action_release(&a);
	return r;
}

static const char actions_help[] =
        "Lists the actions (ORDER_CLOSE, ORDER_MARK_PAID, REFUND_SYNC, ABNORMAL_REFUND,\n"
        "REFUND) of the dates given (all when none), or with --pending those not\n"
        "finished, whatever their date: intent, sent, failed and pending_approval.\n"
        "--json prints an array of {id, kind, target, state, result, run_id, at, ...}.\n";

const struct cmd cmd_actions = {
	.name = "actions",
	.run = run_actions,
	.flags = CMD_DB | CMD_DB_READONLY,
	.usage = "actions [--pending] [DATES]",
	.summary = "money-moving actions and their states",
	.help = actions_help,
};

static const char approve_help[] =
        "Moves a pending_approval action to intent, recording who ($USER) and the note;\n"
        "the next sweep sends it (ABNORMAL_REFUND, REFUND: 'sweep refunds'; ORDER_*:\n"
        "'sweep orders'), ABNORMAL_REFUND and ORDER_* after a query shows it is still\n"
        "needed.\n";

const struct cmd cmd_approve = {
	.name = "approve",
	.run = run_approve,
	.flags = CMD_DB,
	.usage = "approve ACTION_ID [--note TEXT]",
	.summary = "release an action held for approval (audited)",
	.help = approve_help,
};
