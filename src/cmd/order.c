/*
 * cmd_order.c - `wxrecon order create` (APP prepay, ledger row first) and
 * `wxrecon order sign` (the APP invoke parameters, PROTOCOL section 5).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "cmd/cmd.h"
#include "cmd/wxclient.h"
#include "core/payflow.h"

static int run_create(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		{ "out-trade-no", required_argument, NULL, 'o' },
		{ "amount", required_argument, NULL, 'a' },
		{ "description", required_argument, NULL, 'd' },
		{ "time-expire", required_argument, NULL, 't' },
		{ "attach", required_argument, NULL, 'A' },
		{ "notify-url", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct payflow_order_args a;
	struct payflow_order_result res;
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
		case 'a':
			amount = optarg;
			break;
		case 'd':
			a.description = optarg;
			break;
		case 't':
			a.time_expire = optarg;
			break;
		case 'A':
			a.attach = optarg;
			break;
		case 'n':
			a.notify_url = optarg;
			break;
		default:
			return cmd_option(ctx, NULL, c, argv, err);
		}
	}
	if (optind < argc)
		return cmd_usage_error(ctx, err, "unexpected argument '%s'", argv[optind]);
	if (!a.out_trade_no || !amount || !a.description)
		return cmd_usage_error(ctx, err,
		                       "--out-trade-no, --amount and --description are "
		                       "required");
	if (!payflow_is_out_trade_no(a.out_trade_no))
		return err_set(
		        err, WXR_EUSAGE,
		        "--out-trade-no: bad out_trade_no '%s' (6 to 32 of 0-9 A-Z a-z _ - | *)",
		        a.out_trade_no);
	r = payflow_parse_fen("--amount", amount, &a.amount_total, err);
	if (r < 0)
		return r;
	if (!a.notify_url)
		a.notify_url = ctx->cfg.notify_url;
	if (!a.notify_url)
		return err_set(
		        err, WXR_EUSAGE,
		        "order create: no notify_url: give --notify-url URL or set [notify] url "
		        "in the config");
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
	r = payflow_order_create(&env, &a, &res, err);
	if (r < 0) {
		err_prefix(err, "order create");
		goto out;
	}
	if (res.is_new)
		log_info("order '%s': %lld fen, NOTPAY in the ledger; prepay_id valid until %s",
		         a.out_trade_no, (long long)a.amount_total, res.expires_at);
	else
		log_info("order '%s' (placed before): a fresh prepay_id, valid until %s",
		         a.out_trade_no, res.expires_at);
	if (ctx->json)
		r = cmd_print_json(json_pack("{s:s, s:s, s:s, s:b}", "out_trade_no", a.out_trade_no,
		                             "prepay_id", res.prepay_id, "expires_at",
		                             res.expires_at, "new", res.is_new),
		                   err);
	else
		printf("%s\n", res.prepay_id);
out:
	payflow_order_result_release(&res);
	wxpay_free(w);
	return r;
}

/* A prepay_id as WeChat Pay hands them out: "wx" + digits and hex; we allow 1-64 of
 * [0-9A-Za-z_-]. */
static bool prepay_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (; *s; s++) {
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= 'A' && *s <= 'Z') || *s == '_' || *s == '-'))
			return false;
	}
	return true;
}

static int run_sign(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		{ "prepay-id", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct wxpay_app_invoke a;
	struct wxpay *w = NULL;
	const char *prepay_id = NULL;
	int c, r;

	memset(&a, 0, sizeof(a));
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			prepay_id = optarg;
			break;
		default:
			return cmd_option(ctx, NULL, c, argv, err);
		}
	}
	if (optind < argc)
		return cmd_usage_error(ctx, err, "unexpected argument '%s'", argv[optind]);
	if (!prepay_id)
		return cmd_usage_error(ctx, err, "--prepay-id is required");
	if (!prepay_id_ok(prepay_id))
		return err_set(err, WXR_EUSAGE,
		               "--prepay-id: bad prepay_id '%.80s' (1 to 64 of 0-9 A-Z a-z _ -)",
		               prepay_id);
	r = wxclient_open(ctx, &w, err);
	if (r < 0)
		return r;
	r = wxpay_app_invoke(w, prepay_id, &a, err);
	if (r < 0) {
		err_prefix(err, "order sign");
		goto out;
	}
	/* The parameters are JSON whether or not --json was given. */
	r = cmd_print_json(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "appid", a.appid,
	                             "partnerid", a.partnerid, "prepayid", a.prepayid, "package",
	                             a.package, "noncestr", a.noncestr, "timestamp", a.timestamp,
	                             "sign", a.sign),
	                   err);
out:
	wxpay_app_invoke_release(&a);
	wxpay_free(w);
	return r;
}

static const char create_help[] =
        "Writes the order to the ledger as NOTPAY (created_at = now) and then asks WeChat\n"
        "Pay for a prepay_id (POST /v3/pay/transactions/app), printed on stdout; with --json:\n"
        "{\"out_trade_no\", \"prepay_id\", \"expires_at\", \"new\"} (a prepay_id lives 2 hours;\n"
        "expires_at is that, or the order's time_expire if sooner).\n"
        "  --out-trade-no NO  6 to 32 of 0-9 A-Z a-z _ - | *\n"
        "  --amount FEN       whole fen, at least 1 (2500 = 25.00 yuan)\n"
        "  --description TEXT shown to the payer; at most 127 bytes of UTF-8, no emoji\n"
        "  --time-expire T    RFC 3339 payment deadline, 1 minute to 90 days after now\n"
        "                     (refused outside that window; WeChat Pay would move it).\n"
        "                     Without it the order is payable for 7 days.\n"
        "  --attach A         echoed back when paid; at most 128 bytes\n"
        "  --notify-url URL   where WeChat Pay posts the result; default [notify] url\n"
        "The same out_trade_no with the same parameters, while the order is unpaid and\n"
        "payable, gets a fresh prepay_id (the ledger row is not duplicated). Other\n"
        "parameters, or an out_trade_no the ledger has from elsewhere, are refused (exit 2);\n"
        "a paid or expired order: exit 1. A failed prepay leaves the order NOTPAY: run the\n"
        "same command again, or let 'sweep orders' close it.\n";

static const char sign_help[] =
        "Prints {\"appid\", \"partnerid\", \"prepayid\", \"package\": \"Sign=WXPay\", "
        "\"noncestr\",\n"
        "\"timestamp\", \"sign\"} for the app's OpenSDK PayReq. sign is SHA256withRSA, with the\n"
        "merchant API key, over \"appid\\ntimestamp\\nnoncestr\\nprepayid\\n\" (the bare\n"
        "prepay_id). The app's result code proves nothing: wait for the notification.\n";

static const struct cmd order_subs[] = {
	{
	        .name = "create",
	        .run = run_create,
	        .flags = CMD_DB,
	        .usage = "order create --out-trade-no NO --amount FEN --description TEXT "
	                 "[--time-expire T] "
	                 "[--attach A] [--notify-url URL]",
	        .summary = "place an APP order: ledger row first, then WeChat Pay's prepay_id",
	        .help = create_help,
	},
	{
	        .name = "sign",
	        .run = run_sign,
	        .flags = 0,
	        .usage = "order sign --prepay-id ID",
	        .summary = "the APP invoke parameters for a prepay_id, as JSON",
	        .help = sign_help,
	},
	{ .name = NULL },
};

const struct cmd cmd_order = {
	.name = "order",
	.subs = order_subs,
	.usage = "order create|sign ...",
	.summary = "place APP orders",
};
