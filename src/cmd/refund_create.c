/*
 * refund_create.c - `wxrecon refund create`: a refund filed by hand. The
 * sub-command table of `refund` (refund.c) holds it through
 * cmd/refund_create.h.
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "cmd/cmd.h"
#include "cmd/refund_create.h"
#include "cmd/wxclient.h"
#include "core/payflow.h"

const char cmd_refund_create_usage[] =
        "refund create --out-trade-no NO --out-refund-no NO --amount FEN [--reason TEXT]";
const char cmd_refund_create_summary[] = "refund a paid order (ledger row first)";
const char cmd_refund_create_help[] =
        "Checks the rules WeChat Pay applies that the ledger can check (the order is PAID or\n"
        "PARTIAL_REFUNDED; its refunds total at most its amount; at most 50 refunds per\n"
        "order; within a year of payment; refunds of one order at least a minute apart),\n"
        "writes the refund to the ledger as PROCESSING, then files it with WeChat Pay\n"
        "(POST /v3/refund/domestic/refunds; 5xx are retried with the same out_refund_no and\n"
        "body) and records refund_id and status. Prints one line; with --json:\n"
        "{\"out_refund_no\", \"out_trade_no\", \"refund_id\", \"amount\", \"status\", "
        "\"created_at\",\n"
        "\"new\", \"sent\"}.\n"
        "  --out-trade-no NO   the paid order (6 to 32 of 0-9 A-Z a-z _ - | *)\n"
        "  --out-refund-no NO  your refund number (1 to 64 of 0-9 A-Z a-z _ - | * @): the\n"
        "                      same number is at most one refund, whatever happens\n"
        "  --amount FEN        whole fen, at least 1\n"
        "  --reason TEXT       shown to the payer; at most 80 bytes of UTF-8\n"
        "Run again with the same numbers and amount, it files nothing new: a refund WeChat\n"
        "Pay accepted is shown as the ledger has it; one whose answer was lost is asked\n"
        "again with the same body. Other parameters for a known out_refund_no: exit 2. A\n"
        "broken rule, or a refund WeChat Pay refuses (the ledger row is then removed):\n"
        "exit 1. The outcome (SUCCESS, ABNORMAL, CLOSED) arrives by notification\n"
        "('notify serve') or 'sweep refunds'.\n";

int cmd_refund_create_run(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		{ "out-trade-no", required_argument, NULL, 'o' },
		{ "out-refund-no", required_argument, NULL, 'r' },
		{ "amount", required_argument, NULL, 'a' },
		{ "reason", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct payflow_refund_args a;
	struct payflow_refund_result res;
	struct payflow_env env;
	struct wxpay *w = NULL;
	const char *amount = NULL;
	int c, r;

	memset(&a, 0, sizeof(a));
	memset(&res, 0, sizeof(res));
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			a.out_trade_no = optarg;
			break;
		case 'r':
			a.out_refund_no = optarg;
			break;
		case 'a':
			amount = optarg;
			break;
		case 'R':
			a.reason = optarg;
			break;
		default:
			return cmd_option(ctx, NULL, c, argv, err);
		}
	}
	if (optind < argc)
		return cmd_usage_error(ctx, err, "unexpected argument '%s'", argv[optind]);
	if (!a.out_trade_no || !a.out_refund_no || !amount)
		return cmd_usage_error(ctx, err,
		                       "--out-trade-no, --out-refund-no and --amount are required");
	if (!payflow_is_out_trade_no(a.out_trade_no))
		return err_set(
		        err, WXR_EUSAGE,
		        "--out-trade-no: bad out_trade_no '%s' (6 to 32 of 0-9 A-Z a-z _ - | *)",
		        a.out_trade_no);
	if (!payflow_is_out_refund_no(a.out_refund_no))
		return err_set(
		        err, WXR_EUSAGE,
		        "--out-refund-no: bad out_refund_no '%s' (1 to 64 of 0-9 A-Z a-z _ - | "
		        "* @)",
		        a.out_refund_no);
	r = payflow_parse_fen("--amount", amount, &a.amount, err);
	if (r == 0)
		r = payflow_check_text("--reason", a.reason, PAYFLOW_REASON_MAX, false, err);
	if (r < 0)
		return r;
	/* The refund's result goes where the orders' does, when one is configured. */
	a.notify_url = ctx->cfg.notify_url;
	r = wxclient_open(ctx, &w, err);
	if (r < 0)
		return r;
	memset(&env, 0, sizeof(env));
	env.db = ctx->db;
	env.wx = w;
	env.mchid = ctx->mchid;
	env.tz_offset_s = ctx->cfg.tz_offset_s;
	env.now = ctx->now;
	env.run_id = ctx->run_id;
	env.paid_after_close = ctx->cfg.paid_after_close;
	r = payflow_refund_create(&env, &a, &res, err);
	if (r < 0) {
		err_prefix(err, "refund create");
		goto out;
	}
	if (!res.sent)
		log_info("refund '%s' was filed before: nothing sent", res.out_refund_no);
	if (ctx->json) {
		r = cmd_print_json(
		        json_pack("{s:s, s:s, s:s?, s:I, s:s, s:s, s:b, s:b}", "out_refund_no",
		                  res.out_refund_no, "out_trade_no", res.out_trade_no, "refund_id",
		                  *res.refund_id ? res.refund_id : NULL, "amount",
		                  (json_int_t)res.amount, "status", res.status, "created_at",
		                  res.created_at, "new", res.is_new, "sent", res.sent),
		        err);
	} else {
		printf("refund %s of order %s: %" PRId64 " fen, %s%s%s\n", res.out_refund_no,
		       res.out_trade_no, res.amount, res.status,
		       *res.refund_id ? ", refund_id " : "", res.refund_id);
	}
out:
	payflow_refund_result_release(&res);
	wxpay_free(w);
	return r;
}
