/* cmd_report.c - `wxrecon report DATES [--format csv|json|html] [-o FILE|DIR]`. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "cmd/cmd.h"
#include "core/exceptions.h"
#include "core/report.h"

enum format { FMT_NONE, FMT_CSV, FMT_JSON, FMT_HTML, FMT_XLSX };

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* mkdir -p */
static int make_dirs(const char *path, struct wxr_err *err)
{
	char *p = xstrdup(path);
	int r = 0;

	for (char *s = p + 1;; s++) {
		char c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) < 0 && errno != EEXIST) {
			r = err_set(err, WXR_EIO, "cannot create directory '%s': %s", p,
			            strerror(errno));
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	if (r == 0 && !is_dir(path))
		r = err_set(err, WXR_EIO, "'%s' is not a directory", path);
	free(p);
	return r;
}

/* A new temporary file next to path, mode 0666 & ~umask, for a write and a
 * rename: a report file is either the whole new report or what was there
 * before. Returns the open fd and sets *out_tmp (caller frees). */
static int open_tmp(const char *path, char **out_tmp, struct wxr_err *err)
{
	char *tmp = xasprintf("%s.XXXXXX", path);
	mode_t um;
	int fd;

	*out_tmp = tmp;
	fd = mkstemp(tmp);
	if (fd < 0)
		return err_set(err, WXR_EIO, "cannot create '%s': %s", tmp, strerror(errno));
	um = umask(0);
	umask(um);
	if (fchmod(fd, 0666 & ~um) < 0) {
		int r = err_set(err, WXR_EIO, "cannot chmod '%s': %s", tmp, strerror(errno));

		close(fd);
		unlink(tmp);
		return r;
	}
	return fd;
}

/* Renames the written tmp over path (removing tmp when r < 0 or the rename
 * fails) and frees tmp. */
static int close_tmp(char *tmp, const char *path, int r, struct wxr_err *err)
{
	if (r >= 0 && rename(tmp, path) < 0)
		r = err_set(err, WXR_EIO, "cannot rename '%s' to '%s': %s", tmp, path,
		            strerror(errno));
	if (r < 0)
		unlink(tmp);
	else
		log_info("wrote %s", path);
	free(tmp);
	return r < 0 ? r : 0;
}

static int write_file(const char *path, const struct buf *data, struct wxr_err *err)
{
	char *tmp;
	FILE *f;
	int fd = open_tmp(path, &tmp, err);
	int r;

	if (fd < 0) {
		free(tmp);
		return fd;
	}
	f = fdopen(fd, "wb");
	if (!f) {
		r = err_set(err, WXR_EIO, "cannot open '%s': %s", tmp, strerror(errno));
		close(fd);
		return close_tmp(tmp, path, r, err);
	}
	r = 0;
	if ((data->len && fwrite(data->data, 1, data->len, f) != data->len) || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0)
		r = err_set(err, WXR_EIO, "cannot write '%s': %s", path, strerror(errno));
	if (fclose(f) != 0 && r == 0)
		r = err_set(err, WXR_EIO, "cannot write '%s': %s", path, strerror(errno));
	return close_tmp(tmp, path, r, err);
}

/* The workbook, through a temporary file and a rename like write_file. */
static int write_xlsx(const struct report *rep, const char *path, struct wxr_err *err)
{
	char *tmp;
	int fd = open_tmp(path, &tmp, err);

	if (fd < 0) {
		free(tmp);
		return fd;
	}
	close(fd);
	return close_tmp(tmp, path, report_render_xlsx(rep, tmp, err), err);
}

typedef int (*render_fn)(const struct report *, struct buf *, struct wxr_err *);

/* On a terminal: the discrepancies written of the range's. */
static void list_progress(void *arg, size_t done, size_t total)
{
	(void)arg;
	log_progress_part("report", (int64_t)done, (int64_t)total, (int64_t)done, "discrepancies");
}

/* Where a renderer's output goes while it lists the discrepancies (report_flush). */
struct file_sink {
	FILE *f;
	const char *name;
};

static int sink_write(void *arg, const char *data, size_t n, struct wxr_err *err)
{
	struct file_sink *fs = arg;

	if (n && fwrite(data, 1, n, fs->f) != n)
		return err_set(err, WXR_EIO, "cannot write %s: %s", fs->name, strerror(errno));
	return 0;
}

/* Renders into path (through a temporary file and a rename) or stdout, streaming: the
 * renderer's buffer is written out as it fills, so the report is never whole in memory. */
static int render_to(struct report *rep, render_fn fn, const char *path, struct wxr_err *err)
{
	struct file_sink fs = { stdout, "the report" };
	char *tmp = NULL;
	struct buf b;
	int r;

	if (path) {
		int fd = open_tmp(path, &tmp, err);

		if (fd < 0) {
			free(tmp);
			return fd;
		}
		fs.f = fdopen(fd, "wb");
		if (!fs.f) {
			r = err_set(err, WXR_EIO, "cannot open '%s': %s", tmp, strerror(errno));
			close(fd);
			return close_tmp(tmp, path, r, err);
		}
		fs.name = path;
	}
	buf_init_max(&b, REPORT_OUT_MAX);
	rep->sink = sink_write;
	rep->sink_arg = &fs;
	r = fn(rep, &b, err);
	if (r >= 0)
		r = report_flush(rep, &b, true, err);
	rep->sink = NULL;
	rep->sink_arg = NULL;
	buf_release(&b);
	if (!path) {
		if (r >= 0 && fflush(stdout) != 0)
			r = err_set(err, WXR_EIO, "cannot write the report: %s", strerror(errno));
		return r;
	}
	if (r >= 0 && (fflush(fs.f) != 0 || fsync(fileno(fs.f)) != 0))
		r = err_set(err, WXR_EIO, "cannot write '%s': %s", path, strerror(errno));
	if (fclose(fs.f) != 0 && r >= 0)
		r = err_set(err, WXR_EIO, "cannot write '%s': %s", path, strerror(errno));
	return close_tmp(tmp, path, r, err);
}

/* The CSV tables: -o DIR writes each to DIR/NAME.csv, --table picks one. */
static const struct csv_table {
	const char *name;
	const char *what;
	render_fn fn;
} csv_tables[] = {
	{ "days", "the daily totals", report_render_csv_days },
	{ "discrepancies", "the discrepancies", report_render_csv_discrepancies },
	{ "actions", "the actions", report_render_csv_actions },
	{ "aging", "the open discrepancies by age and severity", report_render_csv_aging },
	{ "stamp", "the stamp (what the report was made from)", report_render_csv_stamp },
};

static const struct csv_table *csv_table_named(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(csv_tables); i++) {
		if (strcmp(csv_tables[i].name, name) == 0)
			return &csv_tables[i];
	}
	return NULL;
}

static int write_csv_dir(struct report *rep, const char *dir, struct wxr_err *err)
{
	int r = make_dirs(dir, err);

	for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(csv_tables); i++) {
		char *path = xasprintf("%s%s%s.csv", dir, ends_with(dir, "/") ? "" : "/",
		                       csv_tables[i].name);

		r = render_to(rep, csv_tables[i].fn, path, err);
		free(path);
	}
	return r;
}

/*
 * Where -o PATH goes for csv: a directory when PATH is one, ends in '/',
 * or is a new path not ending in ".csv"; otherwise a file.
 */
static bool csv_wants_dir(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0)
		return S_ISDIR(st.st_mode);
	return ends_with(path, "/") || !ends_with(path, ".csv");
}

/*
 * When the report went into reports_dir (the run's report step), rewrites
 * reports_dir/index.html: every report there with its dates, run and state.
 * A failure is a warning: the report itself was written.
 */
static void write_index(struct ctx *ctx, const char *output)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct report_index_row *rows = NULL;
	char *parent = xstrdup(output), *slash, *a = NULL, *b = NULL, *path = NULL;
	size_t n = 0, len = strlen(parent);
	struct buf page;
	int r;

	buf_init_max(&page, REPORT_OUT_MAX);
	while (len > 1 && parent[len - 1] == '/')
		parent[--len] = '\0';
	slash = strrchr(parent, '/');
	if (slash)
		slash[slash == parent] = '\0';
	a = realpath(slash ? parent : ".", NULL);
	b = ctx->cfg.reports_dir && ctx->cfg.reports_dir[0] ? realpath(ctx->cfg.reports_dir, NULL)
	                                                    : NULL;
	if (!a || !b || strcmp(a, b) != 0)
		goto out;
	r = report_index_load(ctx->db, b, ctx->mchid, &rows, &n, &err);
	if (r >= 0)
		r = report_render_index(rows, n, &page, &err);
	path = xasprintf("%s/index.html", b);
	if (r >= 0)
		r = write_file(path, &page, &err);
	if (r < 0)
		log_warn("the reports index %s was not written: %s", path, err.msg);
out:
	buf_release(&page);
	free(rows);
	free(parent);
	free(a);
	free(b);
	free(path);
}

static int parse_format(struct ctx *ctx, const char *s, enum format *out, struct wxr_err *err)
{
	if (strcmp(s, "csv") == 0)
		*out = FMT_CSV;
	else if (strcmp(s, "json") == 0)
		*out = FMT_JSON;
	else if (strcmp(s, "html") == 0)
		*out = FMT_HTML;
	else if (strcmp(s, "xlsx") == 0)
		*out = FMT_XLSX;
	else
		return cmd_usage_error(
		        ctx, err, "--format: unknown format '%s' (csv, json, html or xlsx)", s);
	return 0;
}

static int run(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		DATES_LONG_OPTIONS,
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "table", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const struct csv_table *table = NULL;
	struct dates d = { .given = false };
	enum format fmt = FMT_NONE;
	const char *output = NULL;
	char policy_hash[65];
	struct report_opts ro;
	struct exc_policy pol;
	struct report *rep = NULL;
	char *path = NULL;
	int c;
	int r;

	while ((c = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			r = parse_format(ctx, optarg, &fmt, err);
			if (r < 0)
				return r;
			break;
		case 'o':
			if (!optarg[0])
				return cmd_usage_error(ctx, err, "-o needs a file or directory");
			output = strcmp(optarg, "-") == 0 ? NULL : optarg;
			break;
		case 't':
			table = csv_table_named(optarg);
			if (!table)
				return cmd_usage_error(ctx, err,
				                       "--table: unknown table '%s' (days, "
				                       "discrepancies, actions or stamp)",
				                       optarg);
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
	if (ctx->json) {
		if (fmt != FMT_NONE && fmt != FMT_JSON)
			return cmd_usage_error(ctx, err,
			                       "--json asks for JSON; drop it or --format");
		fmt = FMT_JSON;
	}
	if (fmt == FMT_NONE)
		fmt = FMT_CSV;
	if (table && fmt != FMT_CSV)
		return cmd_usage_error(
		        ctx, err,
		        "--table is for --format csv; the other formats hold every table");
	if (fmt == FMT_XLSX && !output)
		return cmd_usage_error(
		        ctx, err,
		        "--format xlsx needs -o FILE.xlsx (a workbook is not for a terminal)");
	r = dates_finish(ctx, &d, true, err);
	if (r < 0)
		return r;

	config_policy_hash(&ctx->cfg, policy_hash);
	ro.from = d.from;
	ro.to = d.to;
	ro.mchid = ctx->mchid;
	ro.tz_offset_s = ctx->cfg.tz_offset_s;
	ro.timezone = ctx->cfg.timezone;
	ro.policy_hash = policy_hash;
	exc_policy_from_config(&ctx->cfg, &pol);
	ro.exc = &pol;
	r = report_load(ctx->db, &ro, &rep, err);
	if (r < 0)
		goto out;
	rep->progress = list_progress;

	if (fmt == FMT_CSV) {
		if (output && !table && csv_wants_dir(output)) {
			r = write_csv_dir(rep, output, err);
			goto out;
		}
		/* One file holds one table: say which when it was not asked for. */
		if (!table) {
			table = &csv_tables[0];
			if (output)
				log_warn("%s holds %s only (the days table); -o DIR/ writes every "
				         "table, --table NAME picks one",
				         output, table->what);
		}
		r = render_to(rep, table->fn, output, err);
		goto out;
	}
	if (output && is_dir(output)) {
		path = xasprintf("%s%sreport.%s", output, ends_with(output, "/") ? "" : "/",
		                 fmt == FMT_JSON   ? "json"
		                 : fmt == FMT_XLSX ? "xlsx"
		                                   : "html");
		output = path;
	}
	if (fmt == FMT_XLSX) {
		r = write_xlsx(rep, output, err);
		goto out;
	}
	r = render_to(rep, fmt == FMT_JSON ? report_render_json : report_render_html, output, err);
out:
	log_progress_done();
	if (r >= 0 && output)
		write_index(ctx, output);
	if (r < 0 && r != WXR_EUSAGE)
		err_prefix(err, "report %s..%s", d.from, d.to);
	report_free(rep);
	free(path);
	return r;
}

static const char report_help[] =
        "Writes, for each day of DATES (default --yesterday, in the configured timezone):\n"
        "the trade bill's status (ok, empty, missing), payments, refunds, fees, net and the\n"
        "day's discrepancies; then the range's discrepancies and actions, and the aging\n"
        "table: the open ones by age (since first found) and severity, with the yuan at\n"
        "stake and what is overdue, as of the end of the range (not the clock), with the\n"
        "[policy] severity thresholds (see 'wxrecon help discrepancies'). Reads only.\n"
        "\n"
        "  --format csv   (default) for scripts: UTF-8 with BOM, CRLF; amounts in yuan,\n"
        "                 fees exact (5 decimals); ids as they are. People: --format xlsx\n"
        "  --format json  amounts in fen, fees in 0.00001 yuan (\"units\" names each); also "
        "--json\n"
        "  --format html  one self-contained page with a chart, prints on A4\n"
        "  --format xlsx  for people: sheets days, discrepancies, actions, aging, stamp; ids as\n"
        "                 text, amounts as numbers in yuan, dates as dates (needs -o)\n"
        "  -o PATH        a file (default, or -o -: stdout). For csv a directory (an\n"
        "                 existing one, PATH/ or a new PATH not ending in .csv) receives\n"
        "                 days.csv, discrepancies.csv, actions.csv, aging.csv and\n"
        "                 stamp.csv; a file or stdout gets one table, days unless\n"
        "                 --table says which.\n"
        "  --table T      csv: days, discrepancies, actions, aging or stamp\n"
        "                 For json/html/xlsx an existing directory gets report.json etc.\n"
        "\n"
        "Every report is stamped with what it was made from (bill SHA1s, run ids, version,\n"
        "policy hash) and nothing else: the same database and options give the same bytes.\n"
        "DATES: --date D | --from D --to D | --yesterday\n";

const struct cmd cmd_report = {
	.name = "report",
	.run = run,
	.flags = CMD_DB | CMD_DB_READONLY,
	.usage = "report [DATES] [--format csv|json|html|xlsx] [--table T] [-o FILE|DIR|-]",
	.summary = "finance reports: daily totals, discrepancies and actions of a date range",
	.help = report_help,
};
