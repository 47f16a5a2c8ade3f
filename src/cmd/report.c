/* cmd_report.c - `wxrecon report DATES [--format csv|json|html] [-o FILE|DIR]`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "base/err.h"
#include "base/log.h"
#include "core/report.h"
#include "base/xalloc.h"

enum format { FMT_NONE, FMT_CSV, FMT_JSON, FMT_HTML };

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

/* Writes data to path through a temporary file and a rename: a report file
 * is either the whole new report or what was there before. */
static int write_file(const char *path, const struct buf *data, struct wxr_err *err)
{
	char *tmp = xasprintf("%s.XXXXXX", path);
	FILE *f = NULL;
	mode_t um;
	int fd;
	int r;

	fd = mkstemp(tmp);
	if (fd < 0) {
		r = err_set(err, WXR_EIO, "cannot create '%s': %s", tmp, strerror(errno));
		goto out;
	}
	um = umask(0);
	umask(um);
	if (fchmod(fd, 0666 & ~um) < 0) {
		r = err_set(err, WXR_EIO, "cannot chmod '%s': %s", tmp, strerror(errno));
		close(fd);
		goto fail;
	}
	f = fdopen(fd, "wb");
	if (!f) {
		r = err_set(err, WXR_EIO, "cannot open '%s': %s", tmp, strerror(errno));
		close(fd);
		goto fail;
	}
	if ((data->len && fwrite(data->data, 1, data->len, f) != data->len) || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		r = err_set(err, WXR_EIO, "cannot write '%s': %s", path, strerror(errno));
		goto fail;
	}
	r = fclose(f);
	f = NULL;
	if (r != 0) {
		r = err_set(err, WXR_EIO, "cannot write '%s': %s", path, strerror(errno));
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		r = err_set(err, WXR_EIO, "cannot rename '%s' to '%s': %s", tmp, path,
			    strerror(errno));
		goto fail;
	}
	log_info("wrote %s", path);
	r = 0;
	goto out;
fail:
	if (f)
		fclose(f);
	unlink(tmp);
out:
	free(tmp);
	return r;
}

static int write_stdout(const struct buf *data, struct wxr_err *err)
{
	if (data->len && fwrite(data->data, 1, data->len, stdout) != data->len)
		return err_set(err, WXR_EIO, "cannot write the report: %s", strerror(errno));
	return 0;
}

typedef int (*render_fn)(const struct report *, struct buf *, struct wxr_err *);

static int render_to(const struct report *rep, render_fn fn, const char *path,
		     struct wxr_err *err)
{
	struct buf b;
	int r;

	buf_init_max(&b, REPORT_OUT_MAX);
	r = fn(rep, &b, err);
	if (r < 0)
		goto out;
	r = path ? write_file(path, &b, err) : write_stdout(&b, err);
out:
	buf_release(&b);
	return r;
}

/* -o DIR for csv: the three files. */
static int write_csv_dir(const struct report *rep, const char *dir, struct wxr_err *err)
{
	static const struct {
		const char *name;
		render_fn fn;
	} files[] = {
		{ "days.csv", report_render_csv_days },
		{ "discrepancies.csv", report_render_csv_discrepancies },
		{ "actions.csv", report_render_csv_actions },
	};
	int r = make_dirs(dir, err);

	for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(files); i++) {
		char *path = xasprintf("%s%s%s", dir, ends_with(dir, "/") ? "" : "/", files[i].name);

		r = render_to(rep, files[i].fn, path, err);
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

static int parse_format(struct ctx *ctx, const char *s, enum format *out, struct wxr_err *err)
{
	if (strcmp(s, "csv") == 0)
		*out = FMT_CSV;
	else if (strcmp(s, "json") == 0)
		*out = FMT_JSON;
	else if (strcmp(s, "html") == 0)
		*out = FMT_HTML;
	else
		return cmd_usage_error(ctx, err, "--format: unknown format '%s' (csv, json or html)",
				       s);
	return 0;
}

static int run(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		DATES_LONG_OPTIONS,
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct dates d = { .given = false };
	enum format fmt = FMT_NONE;
	const char *output = NULL;
	char policy_hash[65];
	struct report_opts ro;
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
			output = strcmp(optarg, "-") == 0 ? NULL : optarg; /* -o -: stdout */
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
			return cmd_usage_error(ctx, err, "--json asks for JSON; drop it or --format");
		fmt = FMT_JSON;
	}
	if (fmt == FMT_NONE)
		fmt = FMT_CSV;
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
	r = report_load(ctx->db, &ro, &rep, err);
	if (r < 0)
		goto out;

	if (fmt == FMT_CSV) {
		if (output && csv_wants_dir(output))
			r = write_csv_dir(rep, output, err);
		else
			r = render_to(rep, report_render_csv_days, output, err);
		goto out;
	}
	if (output && is_dir(output)) {
		path = xasprintf("%s%sreport.%s", output, ends_with(output, "/") ? "" : "/",
				 fmt == FMT_JSON ? "json" : "html");
		output = path;
	}
	r = render_to(rep, fmt == FMT_JSON ? report_render_json : report_render_html, output, err);
out:
	if (r < 0 && r != WXR_EUSAGE)
		err_prefix(err, "report %s..%s", d.from, d.to);
	report_free(rep);
	free(path);
	return r;
}

const struct cmd cmd_report = {
	"report", run, NULL, CMD_DB, "report [DATES] [--format csv|json|html] [-o FILE|DIR]",
	"finance reports: daily totals, discrepancies and actions of a date range",
	"Writes, for each day of DATES (default --yesterday, in the configured timezone):\n"
	"the trade bill's status (ok, empty, missing), payments, refunds, fees, net and the\n"
	"day's discrepancies; then the range's discrepancies and actions. Reads only.\n"
	"\n"
	"  --format csv   (default) UTF-8 with BOM, CRLF; amounts in yuan (fees 5 decimals)\n"
	"  --format json  amounts in fen, fees in 0.00001 yuan (SPEC 8); also --json\n"
	"  --format html  one self-contained page with a chart, prints on A4\n"
	"  -o PATH        a file (default, or -, stdout). For csv a directory (an existing one,\n"
	"                 PATH/ or a new PATH not ending in .csv) receives days.csv,\n"
	"                 discrepancies.csv and actions.csv; a file gets days.csv only.\n"
	"                 For json/html an existing directory gets report.json/.html.\n"
	"\n"
	"Every report is stamped with what it was made from (bill SHA1s, run ids, version,\n"
	"policy hash) and nothing else: the same database and options give the same bytes.\n"
	"DATES: --date D | --from D --to D | --yesterday\n",
};
