/* cmd_audit.c - `wxrecon audit [DATES] [--verify]`. */
#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "cmd/cmd.h"
#include "core/auditlog.h"
#include "core/report.h"

/* One written report's stamp against the log; a file with none is passed over
 * (named == false) or refused (named: given with --stamp). */
static int check_stamp(struct ctx *ctx, const char *path, bool named, struct audit_verify_result *v,
                       struct wxr_err *err)
{
	char head[65], what[PATH_MAX + 16];
	int64_t n = 0;
	int r = report_read_audit_stamp(path, &n, head, err);

	if (r < 0)
		return r;
	if (r == 0)
		return named ? err_set(err, WXR_EUSAGE,
		                       "--stamp '%s': not a JSON report or stamp.csv with an"
		                       " audit stamp",
		                       path)
		             : 0;
	snprintf(what, sizeof(what), "report '%s'", path);
	return auditlog_verify_stamp(ctx->db, what, n, head, v, err);
}

/* The reports that `wxrecon run` wrote to reports_dir (their JSON and stamp.csv
 * files), when a config names it: a log cut below what they recorded is found
 * even when the database's own records were cut with it. */
static int check_reports_dir(struct ctx *ctx, struct audit_verify_result *v, struct wxr_err *err)
{
	const char *dir = ctx->cfg.reports_dir;
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (!ctx->have_config || !dir || !*dir || !(d = opendir(dir)))
		return 0;
	while (r == 0 && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char *path = NULL;

		if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0)
			path = xasprintf("%s/%s", dir, de->d_name);
		else if (len > 4 && strcmp(de->d_name + len - 4, "-csv") == 0)
			path = xasprintf("%s/%s/stamp.csv", dir, de->d_name);
		if (path && access(path, R_OK) == 0)
			r = check_stamp(ctx, path, false, v, err);
		free(path);
	}
	closedir(d);
	return r;
}

static int verify(struct ctx *ctx, char **stamps, int nstamps, struct wxr_err *err)
{
	struct audit_verify_result v;
	int r = auditlog_verify(ctx->db, &v, err);

	if (r < 0)
		return r;
	for (int i = 0; r == 0 && i < nstamps; i++)
		r = check_stamp(ctx, stamps[i], true, &v, err);
	if (r == 0)
		r = check_reports_dir(ctx, &v, err);
	if (r < 0)
		return r;
	if (ctx->json) {
		r = cmd_print_json(json_pack("{s:b, s:I, s:I, s:s, s:I, s:I, s:s}", "ok", v.ok,
		                             "entries", (json_int_t)v.entries, "first_bad",
		                             (json_int_t)v.first_bad, "why", v.why, "keyed_from",
		                             (json_int_t)v.keyed_from, "checkpoints",
		                             (json_int_t)v.checkpoints, "missing_triggers",
		                             v.missing_triggers),
		                   err);
		if (r < 0)
			return r;
	} else if (v.ok) {
		printf("audit log intact: %" PRId64 " entries\n", v.entries);
	}
	if (v.ok)
		return 0;
	if (v.why[0] && v.missing_triggers[0])
		log_error("audit log: trigger(s) %s missing or altered: run 'wxrecon init' to"
		          " restore them",
		          v.missing_triggers);
	if (v.why[0] && v.first_bad)
		return err_set(err, WXR_EFAIL, "audit log broken at entry %" PRId64 ": %s",
		               v.first_bad, v.why);
	if (v.why[0])
		return err_set(err, WXR_EFAIL, "audit log broken: %s", v.why);
	return err_set(err, WXR_EFAIL,
	               "audit log: trigger(s) %s missing or altered, so it is not append-only:"
	               " run 'wxrecon init' to restore them",
	               v.missing_triggers);
}

struct list {
	struct ctx *ctx;
	json_t *arr; /* --json: the entries, else printed one a line */
};

static int list_row(void *arg, const struct audit_row *row, struct wxr_err *err)
{
	struct list *l = arg;

	(void)err;
	if (l->arr) {
		json_t *detail = json_loads(row->detail, 0, NULL);

		json_array_append_new(
		        l->arr,
		        json_pack("{s:I, s:s, s:o, s:s, s:s, s:s?, s:o}", "id", (json_int_t)row->id,
		                  "at", row->at, "run_id",
		                  row->has_run_id ? json_integer(row->run_id) : json_null(),
		                  "actor", row->actor, "event", row->event, "subject", row->subject,
		                  "detail", detail ? detail : json_string(row->detail)));
	} else {
		char at[CLOCK_RFC3339_LEN];

		/* the recorded time (UTC, hashed) in the configured timezone */
		printf("%" PRId64 "\t%s\t%s\t%s\t%s\t%s\n", row->id,
		       report_local_time(row->at, l->ctx->cfg.tz_offset_s, at), row->actor,
		       row->event, row->subject ? row->subject : "", row->detail);
	}
	return 0;
}

static int list(struct ctx *ctx, const struct dates *d, struct wxr_err *err)
{
	struct list l = { .ctx = ctx, .arr = NULL };
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
	if (ctx->json)
		l.arr = json_array();
	r = auditlog_list(ctx->db, from, to, list_row, &l, err);
	if (r < 0) {
		json_decref(l.arr);
		return r;
	}
	return l.arr ? cmd_print_json(l.arr, err) : 0;
}

static int run(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		DATES_LONG_OPTIONS,
		{ "verify", no_argument, NULL, 'V' },
		{ "stamp", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct dates d = { .given = false };
	bool do_verify = false;
	char **stamps = NULL;
	int nstamps = 0;
	int c;
	int r;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'V':
			do_verify = true;
			break;
		case 'S':
			stamps = xrealloc(stamps, (size_t)(nstamps + 1) * sizeof(*stamps));
			stamps[nstamps++] = optarg;
			break;
		default:
			r = cmd_option(ctx, &d, c, argv, err);
			if (r < 0)
				goto out;
			break;
		}
	}
	if (optind < argc) {
		r = cmd_usage_error(ctx, err, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	r = dates_finish(ctx, &d, false, err);
	if (r < 0)
		goto out;
	if (nstamps && !do_verify) {
		r = cmd_usage_error(ctx, err, "--stamp goes with --verify");
		goto out;
	}
	if (do_verify) {
		if (d.given)
			r = cmd_usage_error(ctx, err,
			                    "--verify checks the whole log; drop the dates");
		else
			r = verify(ctx, stamps, nstamps, err);
		goto out;
	}
	r = list(ctx, &d, err);
out:
	free(stamps);
	return r;
}

static const char audit_help[] =
        "Lists audit entries (all, or those written on DATES, in the configured timezone:\n"
        "an entry's date is when it was written, not the business day it is about):\n"
        "id, time (in the configured timezone, with its offset), actor, event, subject,\n"
        "detail. --verify recomputes the hash chain (HMAC under the audit key from the\n"
        "key's first entry on) and names the first entry that was edited, removed or\n"
        "inserted; checks the head record and every run's checkpoint, so a log cut short\n"
        "or emptied is found; that every action and run has audit entries; and that the\n"
        "append-only triggers are there (exit 1 naming what is wrong). The reports in\n"
        "reports_dir (with a config) and each --stamp REPORT (a JSON report or a\n"
        "stamp.csv) must find the log still holding the entries their stamp recorded.\n"
        "DATES: --date D | --from D --to D | --yesterday\n";

const struct cmd cmd_audit = {
	.name = "audit",
	.run = run,
	.flags = CMD_DB | CMD_DB_READONLY | CMD_STORE,
	.usage = "audit [DATES] [--verify [--stamp REPORT]...]",
	.summary = "list the audit log, or prove it was not edited",
	.help = audit_help,
};
