/* cmd_prune.c - `wxrecon prune --bills-older-than DUR`: bill rows past a retention period. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "cmd/cmd.h"
#include "core/jobrun.h"
#include "core/prune.h"

static int run_prune(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		{ "bills-older-than", required_argument, NULL, 'b' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct prune_opts po = { 0 };
	struct prune_result res;
	struct runlock rl;
	char before[CLOCK_DATE_LEN], now[CLOCK_RFC3339_LEN];
	const char *older = NULL;
	int64_t dur = 0;
	int c;
	int r;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			older = optarg;
			r = duration_parse(optarg, &dur, err);
			if (r < 0 || dur < 86400)
				return cmd_usage_error(
				        ctx, err,
				        "--bills-older-than: '%s' (a retention of at "
				        "least a day, e.g. 90d)",
				        optarg);
			break;
		case 'n':
			po.dry_run = true;
			break;
		default:
			r = cmd_option(ctx, NULL, c, argv, err);
			if (r < 0)
				return r;
			break;
		}
	}
	if (optind < argc)
		return cmd_usage_error(ctx, err, "unexpected argument '%s'", argv[optind]);
	if (!older)
		return cmd_usage_error(ctx, err,
		                       "--bills-older-than DUR is required (nothing is pruned by "
		                       "default)");
	/* the bills of the days before the day that was DUR ago, in the configured timezone */
	time_date(ctx->now - dur, ctx->cfg.tz_offset_s, before);
	time_format_rfc3339(ctx->now, 0, now);
	po.mchid = ctx->mchid;
	po.before = before;
	po.now = now;
	r = cmd_runlock_take(ctx, &rl, 0, err);
	if (r < 0)
		return r;
	po.run_id = rl.run_id > 0 ? rl.run_id : ctx->run_id;
	r = prune_bills(ctx->db, &po, &res, err);
	runlock_end(&rl, r);
	if (r < 0)
		return r;
	if (ctx->json)
		return cmd_print_json(json_pack("{s:s, s:b, s:I, s:I, s:s?, s:s?, s:I}", "before",
		                                before, "dry_run", po.dry_run, "bills",
		                                (json_int_t)res.files, "rows", (json_int_t)res.rows,
		                                "first", res.first[0] ? res.first : NULL, "last",
		                                res.last[0] ? res.last : NULL, "kept",
		                                (json_int_t)res.kept),
		                      err);
	if (res.files)
		printf("%s %" PRId64 " bill%s of %s..%s: %" PRId64 " rows%s\n",
		       po.dry_run ? "would prune" : "pruned", res.files, res.files > 1 ? "s" : "",
		       res.first, res.last, res.rows,
		       po.dry_run ? " (dry run: nothing changed)"
		                  : " (audited; restore a day with "
		                    "'wxrecon bill import --date D')");
	else
		printf("no bill rows dated before %s to prune\n", before);
	if (res.kept)
		log_warn("%" PRId64 " bill%s from %s on kept whole: %s archived .gz is missing "
		         "(a bill is pruned only while the archive can restore it)",
		         res.kept, res.kept > 1 ? "s" : "", res.kept_first,
		         res.kept > 1 ? "their" : "its");
	return 0;
}

static const char prune_help[] =
        "Drops the stored rows of the bills (trade and fund-flow) dated before the day that\n"
        "was DUR ago (e.g. 90d; in the configured timezone). Off unless asked: nothing is\n"
        "pruned by default. Each bill keeps its bill_files row (marked pruned), its summary,\n"
        "the totals a report shows for it and the day's discrepancies; its .gz stays in the\n"
        "archive, and a bill whose .gz is not there is kept whole. Every pruned bill is an\n"
        "audit entry (bill.prune). 'wxrecon bill import --date D' restores a day's rows from\n"
        "the archive; until then reconcile of that day says it was pruned and exits 3\n"
        "instead of reporting it clean. --dry-run says what would go.\n";

const struct cmd cmd_prune = {
	.name = "prune",
	.run = run_prune,
	.flags = CMD_DB,
	.usage = "prune --bills-older-than DUR [--dry-run]",
	.summary = "drop bill rows past a retention period, keeping what proves them (audited)",
	.help = prune_help,
};
