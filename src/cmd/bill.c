/*
 * cmd_bill.c - `wxrecon bill fetch` and `wxrecon bill import`.
 *
 * fetch: for each day and kind, ask for the bill (gzip), skip it when the
 * stored one has the same SHA-1 (unless --force), else download it straight
 * into the bill pipeline (archive, gunzip, SHA-1, parse, INSERT, one
 * transaction), whose SHA-1 check decides before anything is committed. A
 * SHA-1 mismatch is retried with a fresh download link, then refused.
 * NO_STATEMENT_EXIST and STATEMENT_CREATING follow SPEC section 5.
 */
#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "cmd/cmd.h"
#include "cmd/wxclient.h"
#include "core/billpipe.h"
#include "core/jobrun.h"

/* WeChat Pay keeps bills for three months (PROTOCOL 4.7); we say 92 days. */
#define BILL_RETENTION_DAYS 92

enum outcome {
	OUT_STORED,    /* downloaded and stored */
	OUT_UNCHANGED, /* same SHA-1 as the stored bill */
	OUT_EMPTY,     /* an empty day, recorded */
	OUT_NOT_READY, /* not released yet; a later run tries again */
	OUT_MISSING,   /* past release + grace, still no bill, ledger has activity */
	OUT_FAILED,
};

static const char *const outcome_names[] = { "stored",    "unchanged", "empty",
	                                     "not_ready", "missing",   "failed" };

struct fetch {
	struct ctx *ctx;
	struct wxpay *w;
	bool force;
	json_t *results; /* array, for --json */
	int attention;   /* rejects, summary mismatches, missing bills */
	int failed;
};

static bool kind_wanted(const char *opt, enum bill_kind k)
{
	return strcmp(opt, "all") == 0 || (strcmp(opt, "trade") == 0 && k == BILL_KIND_TRADE) ||
	       (strcmp(opt, "fundflow") == 0 && k == BILL_KIND_FUNDFLOW);
}

static const char *kind_name(enum bill_kind k)
{
	return k == BILL_KIND_TRADE ? "trade" : "fundflow";
}

/* Seconds since the day's bill was released (negative: not yet). */
static int64_t since_release(struct ctx *ctx, const char *date)
{
	char next[CLOCK_DATE_LEN];
	int64_t start = 0;

	date_add_days(date, 1, next, NULL);
	date_parse(next, ctx->cfg.tz_offset_s, &start, NULL);
	return ctx->now - (start + ctx->cfg.release_time_s);
}

/* The download sink: bytes into the pipeline, progress on a terminal. */
struct dl {
	struct fetch *f;
	struct billpipe_opts opts;
	struct billpipe *pipe;
	int64_t got;
	int64_t next_progress;
	const char *label;
	struct wxr_err perr;
};

static int dl_sink(void *p, const void *data, size_t n)
{
	struct dl *d = p;
	int r = billpipe_feed(d->pipe, data, n, &d->perr);

	if (r < 0)
		return r;
	d->got += (int64_t)n;
	if (d->got >= d->next_progress) {
		log_progress("%s: %.1f MB", d->label, (double)d->got / 1e6);
		d->next_progress = d->got + 4 * 1000 * 1000;
	}
	return 0;
}

/* The client retries a broken download from the start: start the pipe anew. */
static int dl_reset(void *p)
{
	struct dl *d = p;

	billpipe_free(d->pipe);
	d->pipe = NULL;
	d->got = 0;
	d->next_progress = 0;
	return billpipe_new(d->f->ctx->db, &d->opts, &d->pipe, &d->perr);
}

static void add_result(struct fetch *f, const char *date, enum bill_kind k, enum outcome o,
                       const struct billpipe_result *res, const char *note)
{
	if (f->results)
		json_array_append_new(f->results,
		                      json_pack("{s:s, s:s, s:s, s:s?, s:I, s:I, s:b, s:s?}",
		                                "date", date, "kind", kind_name(k), "outcome",
		                                outcome_names[o], "sha1",
		                                res && res->sha1[0] ? res->sha1 : NULL, "rows",
		                                (json_int_t)(res ? res->rows : 0), "rejects",
		                                (json_int_t)(res ? res->rejects : 0), "summary_ok",
		                                res ? res->summary_ok : true, "note", note));
	else if (o == OUT_STORED)
		printf("%s %-8s stored %" PRId64 " rows (sha1 %.12s)%s%s\n", date, kind_name(k),
		       res->rows, res->sha1, res->summary_ok ? "" : "; summary mismatch: ",
		       res->summary_ok ? "" : res->mismatch_text);
	else if (o == OUT_FAILED) /* why: on stderr, once */
		printf("%s %-8s %s\n", date, kind_name(k), outcome_names[o]);
	else
		printf("%s %-8s %s%s%s\n", date, kind_name(k), outcome_names[o], note ? ": " : "",
		       note ? note : "");
	if (!f->results && o == OUT_STORED && res->rejects)
		printf("%s %-8s %" PRId64 " rejected rows: see bill_rejects\n", date, kind_name(k),
		       res->rejects);
}

static int fetch_one(struct fetch *f, const char *date, enum bill_kind k, struct wxr_err *err)
{
	struct ctx *ctx = f->ctx;
	struct wxpay_bill bill;
	const struct billpipe_opts o = {
		.mchid = ctx->mchid,
		.bill_date = date,
		.kind = k,
		.source = "api",
		.archive_dir = ctx->cfg.archive_dir,
		.run_id = ctx->run_id,
	};
	bool unchanged = false;
	struct billpipe_result res;
	struct dl d;
	int attempts = ctx->cfg.retries + 1;
	char label[64];
	int r;

	memset(&bill, 0, sizeof(bill));
	memset(&res, 0, sizeof(res));
	snprintf(label, sizeof(label), "%s %s", date, kind_name(k));
	for (int attempt = 1;; attempt++) {
		r = k == BILL_KIND_TRADE
		            ? wxpay_bill_trade(f->w, date, "ALL", true, &bill, err)
		            : wxpay_bill_fundflow(f->w, date, "BASIC", true, &bill, err);
		if (r == WXR_EAPI) {
			const struct wxpay_status *s = wxpay_last(f->w);
			int64_t since = since_release(ctx, date);

			if (wxpay_code_is(s->code, "STATEMENT_CREATING")) {
				add_result(
				        f, date, k, OUT_NOT_READY, NULL,
				        "WeChat Pay is still making it; a later run tries again");
				return 0;
			}
			if (wxpay_code_is(s->code, "NO_STATEMENT_EXIST")) {
				enum billpipe_absent a;

				r = billpipe_absent(ctx->db, &o, since, ctx->cfg.missing_after_s,
				                    &a, err);
				if (r < 0)
					return r;
				switch (a) {
				case BILLPIPE_ABSENT_EARLY:
					add_result(
					        f, date, k, OUT_NOT_READY, NULL,
					        "before the release time; a later run tries again");
					return 0;
				case BILLPIPE_ABSENT_EMPTY:
					add_result(f, date, k, OUT_EMPTY, NULL,
					           "no activity that day");
					return 0;
				case BILLPIPE_ABSENT_WAIT:
					add_result(f, date, k, OUT_NOT_READY, NULL,
					           "the ledger has activity that day; a later run "
					           "tries again");
					return 0;
				case BILLPIPE_ABSENT_MISSING:
					break;
				}
				f->attention++;
				add_result(
				        f, date, k, OUT_MISSING, NULL,
				        "BILL_MISSING: the ledger has activity that day and WeChat "
				        "Pay has no bill");
				return 0;
			}
		}
		if (r < 0)
			return err_prefix(err, "bill fetch %s %s", date, kind_name(k));

		r = billpipe_unchanged(ctx->db, &o, bill.hash_value, &unchanged, err);
		if (r < 0)
			goto out;
		if (unchanged && !f->force) {
			add_result(f, date, k, OUT_UNCHANGED, NULL, NULL);
			r = 0;
			goto out;
		}
		if (strcasecmp(bill.hash_type, "SHA1") != 0) {
			r = err_set(err, WXR_EDATA, "bill fetch %s %s: unknown hash_type '%s'",
			            date, kind_name(k), bill.hash_type);
			goto out;
		}

		memset(&d, 0, sizeof(d));
		d.f = f;
		d.label = label;
		d.opts = o;
		r = billpipe_new(ctx->db, &d.opts, &d.pipe, err);
		if (r < 0)
			goto out;
		r = wxpay_bill_download(f->w, bill.download_url, dl_sink, dl_reset, &d, NULL, err);
		if (r < 0 && d.perr.msg[0])
			*err = d.perr; /* the pipeline's reason is the better one */
		if (r >= 0 && d.pipe)
			r = billpipe_finish(d.pipe, bill.hash_value, &res, err);
		else if (r >= 0)
			r = err_set(err, WXR_EFAIL, "%s", d.perr.msg);
		billpipe_free(d.pipe);
		log_progress_done();
		if (r == WXR_ESIG && attempt < attempts) {
			log_warn("%s: %s; asking again (%d of %d)", label, err->msg, attempt + 1,
			         attempts);
			wxpay_bill_release(&bill);
			continue;
		}
		if (r < 0) {
			err_prefix(err, "bill fetch %s %s", date, kind_name(k));
			goto out;
		}
		break;
	}
	if (res.mchid[0] && ctx->mchid[0] && strcmp(res.mchid, ctx->mchid) != 0)
		log_warn("%s: the bill is for merchant %s, the config says %s", label, res.mchid,
		         ctx->mchid);
	if (res.rejects || !res.summary_ok)
		f->attention++;
	add_result(f, date, k, OUT_STORED, &res, NULL);
	r = 0;
out:
	wxpay_bill_release(&bill);
	return r;
}

static int check_dates(struct ctx *ctx, const struct dates *d, struct wxr_err *err)
{
	char today[CLOCK_DATE_LEN], oldest[CLOCK_DATE_LEN];

	time_date(ctx->now, ctx->cfg.tz_offset_s, today);
	if (strcmp(d->to, today) > 0)
		return err_set(err, WXR_EUSAGE, "no bill can exist for %s yet: it is %s in %s",
		               d->to, today, ctx->cfg.timezone);
	date_add_days(today, -BILL_RETENTION_DAYS, oldest, err);
	if (strcmp(d->from, oldest) < 0)
		return err_set(err, WXR_EUSAGE,
		               "%s is older than WeChat Pay keeps bills (3 months); download it "
		               "from the merchant platform and use 'wxrecon bill import'",
		               d->from);
	return 0;
}

/*
 * Storing a bill is one long write transaction: it runs under the run lock (a step of a
 * run shares its run's), so that a reconcile or a run started meanwhile is told at once
 * who holds the database (exit 75) instead of failing after the busy timeout. Holding
 * it, the archive temp files of a pipe that was killed are removed.
 */
static int bill_lock(struct ctx *ctx, struct runlock *rl, struct wxr_err *err)
{
	int removed = 0;
	int r = cmd_runlock_take(ctx, rl, 0, err);

	if (r < 0)
		return r;
	if (!ctx->cfg.archive_dir)
		return 0;
	if (billpipe_clean_temp(ctx->cfg.archive_dir, &removed, err) < 0) {
		log_warn("%s", err->msg);
		err_clear(err);
	} else if (removed) {
		log_info("removed %d temp file(s) left in '%s' by an interrupted bill fetch",
		         removed, ctx->cfg.archive_dir);
	}
	return 0;
}

static int run_fetch(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		DATES_LONG_OPTIONS,
		{ "kind", required_argument, NULL, 'k' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct dates d = { .given = false };
	struct fetch f;
	struct runlock rl;
	const char *kind = "all";
	char date[CLOCK_DATE_LEN];
	int c;
	int r;

	memset(&f, 0, sizeof(f));
	f.ctx = ctx;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			kind = optarg;
			if (strcmp(kind, "trade") && strcmp(kind, "fundflow") &&
			    strcmp(kind, "all"))
				return cmd_usage_error(ctx, err,
				                       "--kind: '%s' (want trade, fundflow or all)",
				                       kind);
			break;
		case 'f':
			f.force = true;
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
	r = dates_finish(ctx, &d, true, err);
	if (r < 0)
		return r;
	r = check_dates(ctx, &d, err);
	if (r < 0)
		return r;
	r = wxclient_open(ctx, &f.w, err);
	if (r < 0)
		return r;
	r = bill_lock(ctx, &rl, err);
	if (r < 0) {
		wxpay_free(f.w);
		return r;
	}
	if (ctx->json)
		f.results = json_array();
	memcpy(date, d.from, sizeof(date));
	for (;;) {
		for (enum bill_kind k = BILL_KIND_TRADE; k <= BILL_KIND_FUNDFLOW; k++) {
			struct wxr_err e = WXR_ERR_INIT;

			if (!kind_wanted(kind, k))
				continue;
			r = fetch_one(&f, date, k, &e);
			if (r < 0) {
				/* each failure on stderr once: the last one is the error */
				if (f.failed++)
					log_warn("%s", err->msg);
				add_result(&f, date, k, OUT_FAILED, NULL, e.msg);
				*err = e;
				if (wxpay_poisoned(f.w))
					goto done; /* nothing more is believed in this invocation */
				if (wxpay_last(f.w)->unreachable)
					goto done; /* every other bill would fail alike */
			}
		}
		if (strcmp(date, d.to) >= 0)
			break;
		date_add_days(date, 1, date, err);
	}
done:
	wxpay_free(f.w);
	if (f.results) {
		r = cmd_print_json(f.results, err);
		if (r < 0)
			goto out;
	}
	if (f.failed > 1) {
		size_t l = strlen(err->msg);

		snprintf(err->msg + l, sizeof(err->msg) - l, " (%d bills failed: the others above)",
		         f.failed);
	}
	if (f.failed)
		r = err->code < 0 ? err->code : WXR_EFAIL;
	else if (f.attention)
		r = err_set(err, WXR_EATTENTION,
		            "bill fetch: %d bill(s) need a look (rejected rows, a summary "
		            "mismatch or a missing bill)",
		            f.attention);
	else
		r = 0;
out:
	runlock_end(&rl, r);
	return r;
}

/* bill import: the part of the file read, on a terminal. */
static void import_progress(void *arg, int64_t done, int64_t total)
{
	log_progress_part(arg, done, total, done / 1000000, "MB read");
}

/* Stores one bill file; its result as JSON (*out_json, with --json) or a line. Exit 3
 * (WXR_EATTENTION) for rejected rows or a summary mismatch, once the bill is stored. */
static int import_one(struct ctx *ctx, const char *path, const char *date, enum bill_kind k,
                      const char *expected_sha1, json_t **out_json, struct wxr_err *err)
{
	struct billpipe_opts po;
	struct billpipe_result res;
	const char *kind = kind_name(k);
	int r;

	memset(&po, 0, sizeof(po));
	po.mchid = ctx->mchid;
	po.bill_date = date;
	po.kind = k;
	po.source = "import";
	po.archive_dir = ctx->cfg.archive_dir;
	po.run_id = ctx->run_id;
	po.progress = import_progress;
	po.progress_arg = (void *)path;
	r = billpipe_import_file(ctx->db, &po, path, expected_sha1, &res, err);
	log_progress_done();
	if (r < 0)
		return err_prefix(err, "bill import");
	if (ctx->json) {
		*out_json = json_pack(
		        "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:b, s:s?, s:b}", "date", date, "kind",
		        kind, "mchid", res.mchid, "sha1", res.sha1, "rows", (json_int_t)res.rows,
		        "rejects", (json_int_t)res.rejects, "bytes", (json_int_t)res.bytes,
		        "summary_ok", res.summary_ok, "summary_mismatch",
		        res.summary_ok ? NULL : res.mismatch_text, "replaced", res.replaced);
	} else {
		printf("%s %s: stored %" PRId64 " rows for merchant %s (sha1 %s)%s\n", date, kind,
		       res.rows, res.mchid[0] ? res.mchid : "(unknown)", res.sha1,
		       res.replaced ? ", replacing the earlier bill" : "");
		if (res.rejects)
			printf("%" PRId64 " rows rejected: see the bill_rejects table\n",
			       res.rejects);
		if (!res.summary_ok)
			printf("summary mismatch: %s\n", res.mismatch_text);
	}
	if (res.rejects || !res.summary_ok)
		return err_set(err, WXR_EATTENTION, "bill import: %s",
		               res.rejects ? "rows were rejected"
		                           : "the summary disagrees with the rows");
	return 0;
}

/*
 * bill import --date D [--kind K] without a file: the day's stored bills again from
 * their archived .gz (the SHA-1 checked against the stored one), e.g. after prune.
 */
static int restore_day(struct ctx *ctx, const char *date, const char *kind, json_t *arr,
                       struct wxr_err *err)
{
	static const enum bill_kind kinds[] = { BILL_KIND_TRADE, BILL_KIND_FUNDFLOW };
	int done = 0, rc = 0;

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		struct db_bills_file have;
		json_t *j = NULL;
		int r;

		if (kind && strcmp(kind, kind_name(kinds[i])) != 0)
			continue;
		r = billpipe_stored(ctx->db, ctx->mchid, date, kinds[i], &have, err);
		if (r < 0)
			return err_prefix(err, "bill import");
		if (r == 0 || strcmp(have.status, "ok") != 0)
			continue;
		if (!have.archive_path[0])
			return err_set(
			        err, WXR_EIO,
			        "bill import: the %s bill of %s (sha1 %s) has no archived .gz; "
			        "fetch it again with 'wxrecon bill fetch --date %s --force'",
			        kind_name(kinds[i]), date, have.sha1, date);
		r = import_one(ctx, have.archive_path, date, kinds[i], have.sha1, &j, err);
		if (j)
			json_array_append_new(arr, j);
		if (r < 0 && r != WXR_EATTENTION)
			return r;
		if (r < 0)
			rc = r;
		done++;
	}
	if (!done)
		return err_set(err, WXR_ENOTFOUND,
		               "bill import: no stored %s bill of %s to restore from the archive "
		               "(give the FILE, or 'wxrecon bill fetch --date %s')",
		               kind ? kind : "trade or fund-flow", date, date);
	return rc;
}

static int run_import(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		{ "date", required_argument, NULL, 'D' },
		{ "kind", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	struct runlock rl;
	const char *date = NULL, *kind = NULL;
	json_t *out = NULL;
	int c;
	int r;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'D':
			date = optarg;
			if (!date_is_valid(date))
				return cmd_usage_error(ctx, err, "--date: bad date '%s'", date);
			break;
		case 'k':
			kind = optarg;
			break;
		default:
			r = cmd_option(ctx, NULL, c, argv, err);
			if (r < 0)
				return r;
			break;
		}
	}
	if (optind < argc - 1)
		return cmd_usage_error(ctx, err, "one file at a time");
	if (!date)
		return cmd_usage_error(ctx, err, "--date is required");
	if (optind == argc - 1 && !kind)
		return cmd_usage_error(ctx, err, "--kind is required with a FILE");
	if (kind && strcmp(kind, "trade") != 0 && strcmp(kind, "fundflow") != 0)
		return cmd_usage_error(ctx, err, "--kind: '%s' (want trade or fundflow)", kind);
	r = bill_lock(ctx, &rl, err);
	if (r < 0)
		return r;
	if (optind == argc - 1) {
		r = import_one(ctx, argv[optind], date,
		               strcmp(kind, "trade") == 0 ? BILL_KIND_TRADE : BILL_KIND_FUNDFLOW,
		               NULL, &out, err);
	} else {
		out = ctx->json ? json_array() : NULL;
		r = restore_day(ctx, date, kind, out, err);
	}
	runlock_end(&rl, r);
	if (out) {
		struct wxr_err perr = WXR_ERR_INIT;
		int pr = cmd_print_json(out, &perr);

		if (pr < 0 && (r >= 0 || r == WXR_EATTENTION)) {
			*err = perr;
			r = pr;
		}
	}
	return r;
}

static const char fetch_help[] =
        "For each day: asks WeChat Pay for the trade bill (ALL) and the fund-flow bill\n"
        "(BASIC), skips a bill whose SHA-1 equals the stored one (unless --force), else\n"
        "downloads the gzip, checks the SHA-1 of the decompressed bytes, parses and stores\n"
        "every row in one transaction, and keeps the .gz in [bills] archive_dir as\n"
        "<sha1>.gz. A SHA-1 mismatch is retried, then refused with nothing stored.\n"
        "A day without a bill: before the release time, 'not ready' (exit 0); after it,\n"
        "an empty day when the ledger has no activity that day, else 'not ready' until\n"
        "[bills] missing_after has passed, then BILL_MISSING (exit 3). Rejected rows and\n"
        "a summary that disagrees with the rows also exit 3.\n"
        "DATES: --date D | --from D --to D | --yesterday (default)\n";

static const char import_help[] =
        "Parses and stores a bill file (plain or gzip) as WeChat Pay wrote it, exactly as\n"
        "bill fetch would, and archives it. Rejected rows or a summary mismatch: exit 3.\n"
        "Without FILE: the day's stored bills (both kinds, or --kind) again from their\n"
        ".gz in the archive, the SHA-1 checked against the stored one: this restores a day\n"
        "that 'wxrecon prune' dropped the rows of.\n";

static const struct cmd bill_subs[] = {
	{
	        .name = "fetch",
	        .run = run_fetch,
	        .flags = CMD_DB,
	        .usage = "bill fetch DATES [--kind trade|fundflow|all] [--force]",
	        .summary = "download, verify and store the day's bills",
	        .help = fetch_help,
	},
	{
	        .name = "import",
	        .run = run_import,
	        .flags = CMD_DB,
	        .usage = "bill import [FILE(.csv|.gz)] --date D [--kind trade|fundflow]",
	        .summary = "store a bill saved by hand",
	        .help = import_help,
	},
	{ .name = NULL },
};

const struct cmd cmd_bill = {
	.name = "bill",
	.subs = bill_subs,
	.usage = "bill fetch|import ...",
	.summary = "the daily bills",
};
