/*
 * queue.c - the exception queue's commands (issue 19): `wxrecon assign ID...
 * --to WHO` and `wxrecon comment ID --note TEXT`. Both are audited, and
 * both keep their history (core/exceptions.h). Listing is `discrepancies`,
 * resolving `resolve` (cmd/reconcile.c).
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "cmd/cmd.h"
#include "core/exceptions.h"

static int not_found_is_usage(int r, struct wxr_err *err)
{
	char msg[sizeof(err->msg)];

	if (r != WXR_ENOTFOUND)
		return r;
	snprintf(msg, sizeof(msg), "%s", err->msg);
	return err_set(err, WXR_EUSAGE, "%s (see 'wxrecon discrepancies --status all')", msg);
}

static int run_assign(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *to = NULL;
	int64_t *ids = NULL;
	size_t n, changed = 0;
	char who[128];
	int c;
	int r;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			to = optarg;
			break;
		default:
			r = cmd_option(ctx, NULL, c, argv, err);
			if (r < 0)
				return r;
			break;
		}
	}
	if (!to || !*to)
		return cmd_usage_error(ctx, err, "--to WHO is required: who owns them now");
	if (optind >= argc)
		return cmd_usage_error(ctx, err, "give one or more discrepancy IDs");
	n = (size_t)(argc - optind);
	ids = xcalloc(n, sizeof(*ids));
	for (size_t i = 0; i < n; i++) {
		if (cmd_parse_id(argv[optind + (int)i], &ids[i]) < 0) {
			r = cmd_usage_error(ctx, err, "bad discrepancy id '%s'",
			                    argv[optind + (int)i]);
			goto out;
		}
	}
	cmd_whoami(who, sizeof(who));
	r = exc_assign(ctx->db, ctx->mchid, ids, n, to, who, ctx->now, &changed, err);
	r = not_found_is_usage(r, err);
	if (r < 0)
		goto out;
	if (ctx->json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_integer(ids[i]));
		r = cmd_print_json(json_pack("{s:o, s:s, s:I, s:s}", "ids", arr, "assignee", to,
		                             "changed", (json_int_t)changed, "by", who),
		                   err);
	} else {
		printf("%zu discrepanc%s assigned to %s by %s", n, n == 1 ? "y" : "ies", to, who);
		if (changed < n)
			printf(" (%zu already %s's)", n - changed, to);
		printf("\n");
	}
out:
	free(ids);
	return r;
}

static int run_comment(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		{ "note", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *note = NULL;
	char who[128];
	int64_t id;
	int c;
	int r;

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
	if (optind != argc - 1)
		return cmd_usage_error(ctx, err, "give one discrepancy ID");
	if (cmd_parse_id(argv[optind], &id) < 0)
		return cmd_usage_error(ctx, err, "bad discrepancy id '%s'", argv[optind]);
	if (!note || !*note)
		return cmd_usage_error(ctx, err, "--note TEXT is required");
	cmd_whoami(who, sizeof(who));
	r = exc_comment(ctx->db, ctx->mchid, id, note, who, ctx->now, err);
	r = not_found_is_usage(r, err);
	if (r < 0)
		return r;
	if (ctx->json)
		return cmd_print_json(
		        json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "by", who, "note", note),
		        err);
	printf("comment added to discrepancy %" PRId64 " by %s\n", id, who);
	return 0;
}

static const char assign_help[] =
        "Makes WHO the owner of each discrepancy, in one transaction: an unknown ID\n"
        "assigns none. Each change is kept in the assignment history and audited\n"
        "(discrepancy.assigned, from and to); giving one to its current owner changes\n"
        "nothing. See them with: wxrecon discrepancies --assignee WHO\n";

const struct cmd cmd_assign = {
	.name = "assign",
	.run = run_assign,
	.flags = CMD_DB,
	.usage = "assign ID... --to WHO",
	.summary = "give discrepancies an owner (audited, history kept)",
	.help = assign_help,
};

static const char comment_help[] =
        "Appends a comment to the discrepancy's history (who, when, the note) and to\n"
        "the audit log (discrepancy.commented). Comments are never edited or deleted.\n";

const struct cmd cmd_comment = {
	.name = "comment",
	.run = run_comment,
	.flags = CMD_DB,
	.usage = "comment ID --note TEXT",
	.summary = "add a comment to a discrepancy (audited, history kept)",
	.help = comment_help,
};
