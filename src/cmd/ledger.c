/* cmd_ledger.c - `wxrecon ledger import`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/log.h"
#include "cmd/cmd.h"
#include "db/db_ledger.h"

/* Progress on a terminal: the part of the file read (its size known unless a pipe). */
struct import_progress {
	const char *path;
	int64_t size;
};

static void on_progress(void *arg, long rows, int64_t bytes)
{
	const struct import_progress *p = arg;

	log_progress_part(p->path, bytes, p->size, rows, "rows");
}

static int import_one(struct ctx *ctx, const char *path, enum ledger_kind kind,
                      struct ledger_import_result *res, struct wxr_err *err)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	struct import_progress ip = { path, 0 };
	struct ledger_progress prog = { on_progress, &ip };
	struct stat sb;
	int r;

	if (!f)
		return err_set(err, WXR_EIO, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode))
		ip.size = (int64_t)sb.st_size;
	r = ledger_import(ctx->db, f, path, kind, ctx->mchid, ctx->cfg.tz_offset_s, ctx->run_id,
	                  &prog, res, err);
	log_progress_done();
	if (f != stdin)
		fclose(f);
	return r;
}

static void print_result(const char *what, const struct ledger_import_result *r)
{
	printf("%s: %ld rows: %ld new, %ld updated, %ld unchanged\n", what, r->rows, r->inserted,
	       r->updated, r->unchanged);
}

static void json_result(const char *what, const struct ledger_import_result *r)
{
	printf("\"%s\":{\"rows\":%ld,\"inserted\":%ld,\"updated\":%ld,\"unchanged\":%ld}", what,
	       r->rows, r->inserted, r->updated, r->unchanged);
}

static int run_import(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		{ "orders", required_argument, NULL, 'o' },
		{ "refunds", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *orders = NULL, *refunds = NULL;
	struct ledger_import_result ro = { 0 }, rr = { 0 };
	int c;
	int r;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			orders = optarg;
			break;
		case 'r':
			refunds = optarg;
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
	if (!orders && !refunds)
		return cmd_usage_error(ctx, err, "give --orders FILE, --refunds FILE or both");
	/* Both files in one transaction: a bad row in either keeps nothing. */
	r = db_begin(ctx->db, err);
	if (r < 0)
		return err_prefix(err, "ledger import");
	if (orders) {
		r = import_one(ctx, orders, LEDGER_ORDERS, &ro, err);
		if (r < 0)
			goto fail;
	}
	if (refunds) {
		r = import_one(ctx, refunds, LEDGER_REFUNDS, &rr, err);
		if (r < 0)
			goto fail;
	}
	r = db_commit(ctx->db, err);
	if (r < 0)
		return err_prefix(err, "ledger import");
	if (ctx->json) {
		printf("{");
		if (orders)
			json_result("orders", &ro);
		if (orders && refunds)
			printf(",");
		if (refunds)
			json_result("refunds", &rr);
		printf("}\n");
	} else {
		if (orders)
			print_result("orders", &ro);
		if (refunds)
			print_result("refunds", &rr);
	}
	return 0;
fail:
	db_rollback(ctx->db);
	return err_prefix(err, "ledger import");
}

static const char import_help[] =
        "Reads UTF-8 CSV with a header row (RFC 4180 quoting; '-' reads stdin):\n"
        "  orders:  out_trade_no,transaction_id,amount_total,currency,state,created_at,\n"
        "           time_expire,paid_at,attach,business_ref\n"
        "  refunds: "
        "out_refund_no,out_trade_no,refund_id,amount_refund,state,created_at,success_at\n"
        "Amounts are integer fen; times ISO-8601 with an offset. Both files are imported in\n"
        "one transaction: a bad row in either is reported with its file and line number and\n"
        "nothing of the import is kept. A key appears once per file (a second row with\n"
        "it is refused, naming both lines); a re-imported row that changes is audited\n"
        "field by field.\n";

static const struct cmd ledger_subs[] = {
	{
	        .name = "import",
	        .run = run_import,
	        .flags = CMD_DB,
	        .usage = "ledger import [--orders F.csv] [--refunds F.csv]",
	        .summary = "upsert ledger rows from CSV",
	        .help = import_help,
	},
	{ .name = NULL },
};

const struct cmd cmd_ledger = {
	.name = "ledger",
	.subs = ledger_subs,
	.usage = "ledger import ...",
	.summary = "the merchant's ledger",
};
