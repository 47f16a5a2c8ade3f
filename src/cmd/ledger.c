/* cmd_ledger.c - `wxrecon ledger import`. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "cmd/cmd.h"
#include "core/ledger.h"

static void print_result(const char *what, const struct ledger_import_result *r)
{
	printf("%s: %ld rows: %ld new, %ld updated, %ld unchanged\n", what, r->rows, r->inserted,
	       r->updated, r->unchanged);
}

static json_t *json_result(const struct ledger_import_result *r)
{
	return json_pack("{s:I, s:I, s:I, s:I}", "rows", (json_int_t)r->rows, "inserted",
	                 (json_int_t)r->inserted, "updated", (json_int_t)r->updated, "unchanged",
	                 (json_int_t)r->unchanged);
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
	struct ledger_files lf = {
		.mchid = ctx->mchid,
		.tz_offset_s = ctx->cfg.tz_offset_s,
		.run_id = ctx->run_id,
	};
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
	lf.orders = orders;
	lf.refunds = refunds;
	r = ledger_import_files(ctx->db, &lf, &ro, &rr, err);
	if (r < 0)
		return err_prefix(err, "ledger import");
	if (ctx->json) {
		json_t *o = json_object();

		if (orders)
			json_object_set_new(o, "orders", json_result(&ro));
		if (refunds)
			json_object_set_new(o, "refunds", json_result(&rr));
		return cmd_print_json(o, err);
	}
	if (orders)
		print_result("orders", &ro);
	if (refunds)
		print_result("refunds", &rr);
	return 0;
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
