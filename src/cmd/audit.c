/* cmd_audit.c - `wxrecon audit [DATES] [--verify]`. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "cmd/cmd.h"
#include "core/report.h"
#include "db/audit.h"

static int verify(struct ctx *ctx, struct wxr_err *err)
{
	struct audit_verify_result v;
	int r = audit_verify(ctx->db, &v, err);

	if (r < 0)
		return r;
	if (ctx->json) {
		r = cmd_print_json(json_pack("{s:b, s:I, s:I, s:s}", "ok", v.first_bad == 0,
		                             "entries", (json_int_t)v.entries, "first_bad",
		                             (json_int_t)v.first_bad, "why", v.why),
		                   err);
		if (r < 0)
			return r;
	} else if (v.first_bad == 0) {
		printf("audit log intact: %" PRId64 " entries\n", v.entries);
	}
	if (v.first_bad)
		return err_set(err, WXR_EFAIL, "audit log broken at entry %" PRId64 ": %s",
		               v.first_bad, v.why);
	return 0;
}

static int list(struct ctx *ctx, const struct dates *d, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	json_t *arr = NULL;
	char from[CLOCK_RFC3339_LEN] = "", to[CLOCK_RFC3339_LEN] = "9999";
	int r;

	if (d->given) {
		int64_t a, b;
		char next[CLOCK_DATE_LEN];

		date_parse(d->from, ctx->cfg.tz_offset_s, &a, err);
		date_add_days(d->to, 1, next, err);
		date_parse(next, ctx->cfg.tz_offset_s, &b, err);
		time_format_rfc3339(a, 0, from);
		time_format_rfc3339(b, 0, to);
		/* stored as ...Z; compare the same form */
		from[19] = 'Z', from[20] = '\0';
		to[19] = 'Z', to[20] = '\0';
	}
	r = db_prepare(ctx->db,
	               "SELECT id, at, run_id, actor, event, subject, detail FROM audit_log"
	               " WHERE at >= ? AND at < ? ORDER BY id",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, from);
	db_bind_text(st, 2, to);
	if (ctx->json)
		arr = json_array();
	while ((r = db_step(st)) == DB_ROW) {
		if (arr) {
			json_t *detail = json_loads(db_col_text(st, 6), 0, NULL);

			json_array_append_new(
			        arr,
			        json_pack("{s:I, s:s, s:o, s:s, s:s, s:s?, s:o}", "id",
			                  (json_int_t)db_col_i64(st, 0), "at", db_col_text(st, 1),
			                  "run_id",
			                  db_col_is_null(st, 2) ? json_null()
			                                        : json_integer(db_col_i64(st, 2)),
			                  "actor", db_col_text(st, 3), "event", db_col_text(st, 4),
			                  "subject",
			                  db_col_is_null(st, 5) ? NULL : db_col_text(st, 5),
			                  "detail",
			                  detail ? detail : json_string(db_col_text(st, 6))));
		} else {
			char at[CLOCK_RFC3339_LEN];

			/* the recorded time (UTC, hashed) in the configured timezone */
			printf("%" PRId64 "\t%s\t%s\t%s\t%s\t%s\n", (int64_t)db_col_i64(st, 0),
			       report_local_time(db_col_text(st, 1), ctx->cfg.tz_offset_s, at),
			       db_col_text(st, 3), db_col_text(st, 4), db_col_text(st, 5),
			       db_col_text(st, 6));
		}
	}
	if (r != DB_DONE) {
		r = db_error(ctx->db, err, "read audit_log");
		json_decref(arr);
		goto out;
	}
	r = arr ? cmd_print_json(arr, err) : 0;
out:
	db_finalize(st);
	return r;
}

static int run(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		DATES_LONG_OPTIONS,
		{ "verify", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct dates d = { .given = false };
	bool do_verify = false;
	int c;
	int r;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'V':
			do_verify = true;
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
	if (do_verify) {
		if (d.given)
			return cmd_usage_error(ctx, err,
			                       "--verify checks the whole log; drop the dates");
		return verify(ctx, err);
	}
	return list(ctx, &d, err);
}

static const char audit_help[] =
        "Lists audit entries (all, or those of DATES in the configured timezone):\n"
        "id, time (in the configured timezone, with its offset), actor, event, subject,\n"
        "detail. --verify recomputes the hash chain and names the first entry that was\n"
        "edited, removed or inserted (exit 1).\n"
        "DATES: --date D | --from D --to D | --yesterday\n";

const struct cmd cmd_audit = {
	.name = "audit",
	.run = run,
	.flags = CMD_DB | CMD_DB_READONLY,
	.usage = "audit [DATES] [--verify]",
	.summary = "list the audit log, or prove it was not edited",
	.help = audit_help,
};
