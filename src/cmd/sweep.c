/*
 * sweep.c - `wxrecon sweep orders` and `wxrecon sweep refunds`.
 *
 * Takes the run lock (or shares it, as a step of `wxrecon run`), builds the
 * client, runs the sweep (src/core/sweep*.c) and prints what it did: one line per
 * item and a summary, or with --json one document:
 *   {"candidates":N, "closed":N, "marked_paid":N, "held":N, "failed":N,
 *    "actions":[ids], ...}   (refunds: "synced", "abnormal_refunds", "refunds")
 * Exit 0 clean, 3 a brake held or actions wait for approval, 1 failures
 * (including a response that failed verification, which stops every call).
 *
 * WXRECON_TEST_CRASH_AT=after-intent|after-sent|after-call is a test hook
 * (tests/cli/t0620-sweep-crash.sh, t0640-sweep-engine-refund.sh): the process
 * _exit(137)s at that point of the first close, abnormal refund or engine
 * refund, as a kill -9 would. Unset, it is inert.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "cmd/cmd.h"
#include "cmd/wxclient.h"
#include "core/jobrun.h"
#include "core/sweep.h"

#define JSON_ITEMS_MAX 500

static void crash_hook(void *ctx, const char *point)
{
	const char *at = getenv("WXRECON_TEST_CRASH_AT");

	(void)ctx;
	if (at && strcmp(at, point) == 0)
		_exit(137);
}

static void progress(void *ctx, size_t done, size_t total)
{
	(void)ctx;
	if (done % 50 == 0)
		log_progress("sweeping %zu/%zu", done, total);
}

static bool is_problem(const char *what)
{
	return strcmp(what, "failed") == 0 || strcmp(what, "attention") == 0 ||
	       strcmp(what, "held") == 0 || strcmp(what, "stopped") == 0;
}

static json_t *item_json(const struct sweep_item *it)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "target", it->target, "what", it->what, "detail",
	                      it->detail);

	if (it->action_id)
		json_object_set_new(o, "action_id", json_integer(it->action_id));
	return o;
}

static int print_json(const struct sweep_result *r, bool refunds, struct wxr_err *err)
{
	json_t *o, *ids = json_array(), *items = json_array();
	size_t shown = 0, more = 0;

	for (size_t i = 0; i < r->nactions; i++)
		json_array_append_new(ids, json_integer(r->actions[i]));
	for (size_t i = 0; i < r->nitems; i++) {
		if (!r->dry_run && !is_problem(r->items[i].what))
			continue;
		if (shown == JSON_ITEMS_MAX) {
			more++;
			continue;
		}
		json_array_append_new(items, item_json(&r->items[i]));
		shown++;
	}
	if (refunds)
		o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "candidates",
		              (json_int_t)r->candidates, "synced", (json_int_t)r->synced,
		              "abnormal_refunds", (json_int_t)r->abnormal_refunds, "held",
		              (json_int_t)r->held, "failed", (json_int_t)r->failed, "skipped",
		              (json_int_t)r->skipped, "attention", (json_int_t)r->attention);
	else
		o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "candidates",
		              (json_int_t)r->candidates, "closed", (json_int_t)r->closed,
		              "marked_paid", (json_int_t)r->marked_paid, "held",
		              (json_int_t)r->held, "failed", (json_int_t)r->failed,
		              "closed_at_wechat", (json_int_t)r->closed_at_wechat, "not_found",
		              (json_int_t)r->not_found, "skipped", (json_int_t)r->skipped,
		              "attention", (json_int_t)r->attention);
	if (!o) {
		json_decref(ids);
		json_decref(items);
		return err_set(err, WXR_EFAIL, "cannot build the JSON output");
	}
	if (refunds)
		json_object_set_new(o, "refunds", json_integer(r->refunds));
	json_object_set_new(o, "eligible", json_integer(r->eligible));
	json_object_set_new(o, "settled", json_integer(r->settled));
	json_object_set_new(o, "new_held", json_integer(r->new_held));
	json_object_set_new(o, "dry_run", json_boolean(r->dry_run));
	json_object_set_new(o, "brake", r->braked ? json_string(r->brake) : json_null());
	json_object_set_new(o, "stopped", r->stopped ? json_string(r->stop) : json_null());
	json_object_set_new(o, "actions", ids);
	json_object_set_new(o, r->dry_run ? "plan" : "problems", items);
	if (more)
		json_object_set_new(o, "omitted", json_integer((json_int_t)more));
	return cmd_print_json(o, err);
}

static void print_human(const struct sweep_result *r, const char *what, bool refunds)
{
	for (size_t i = 0; i < r->nitems; i++) {
		const struct sweep_item *it = &r->items[i];

		printf("%-20s %-32s %s", it->what, it->target, it->detail);
		if (it->action_id)
			printf(" [action %" PRId64 "]", it->action_id);
		printf("\n");
	}
	printf("%s%s: %ld candidate%s", what, r->dry_run ? " (dry run: nothing was changed)" : "",
	       r->candidates, r->candidates == 1 ? "" : "s");
	if (r->eligible != r->candidates)
		printf(" of %ld eligible", r->eligible);
	if (refunds)
		printf(", %ld synced, %ld abnormal refund%s, %ld refund%s %s", r->synced,
		       r->abnormal_refunds, r->abnormal_refunds == 1 ? "" : "s", r->refunds,
		       r->refunds == 1 ? "" : "s", r->dry_run ? "to send" : "sent");
	else
		printf(", %ld closed, %ld closed at WeChat Pay, %ld marked paid, %ld unknown to "
		       "WeChat Pay",
		       r->closed, r->closed_at_wechat, r->marked_paid, r->not_found);
	if (r->dry_run)
		printf(", %ld would be held, %ld failed", r->new_held, r->failed);
	else
		printf(", %ld held, %ld failed", r->held, r->failed);
	if (r->settled)
		printf(", %ld settled from earlier runs", r->settled);
	if (r->attention)
		printf(", %ld need a person", r->attention);
	printf("\n");
	if (r->braked)
		printf("%s\n", r->brake);
}

static int run_sweep(struct ctx *ctx, int argc, char **argv, bool refunds, struct wxr_err *err)
{
	static const struct option opts[] = {
		{ "older-than", required_argument, NULL, 'o' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *what = refunds ? "sweep refunds" : "sweep orders";
	struct sweep_opts so;
	struct sweep_api api;
	struct sweep_result res;
	struct wxpay *w = NULL;
	struct runlock rl = { .run_id = 0 };
	int c;
	int r;

	memset(&so, 0, sizeof(so));
	memset(&res, 0, sizeof(res));
	so.older_than_s = -1;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'o': {
			struct wxr_err derr = WXR_ERR_INIT;

			if (refunds)
				return cmd_usage_error(ctx, err, "unknown option '--older-than'");
			r = duration_parse(optarg, &so.older_than_s, &derr);
			if (r < 0)
				return cmd_usage_error(ctx, err, "--older-than: %s", derr.msg);
			break;
		}
		case 'n':
			so.dry_run = true;
			break;
		case 'l': {
			char *end;

			errno = 0;
			so.limit = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || so.limit < 1)
				return cmd_usage_error(ctx, err,
				                       "--limit: want a whole number >= 1, "
				                       "not '%s'",
				                       optarg);
			break;
		}
		default:
			r = cmd_option(ctx, NULL, c, argv, err);
			if (r < 0)
				return r;
			break;
		}
	}
	if (optind < argc)
		return cmd_usage_error(ctx, err, "unexpected argument '%s'", argv[optind]);
	r = wxclient_open(ctx, &w, err);
	if (r < 0)
		return r;
	r = cmd_runlock_take(ctx, &rl, 0, err);
	if (r < 0)
		goto out;
	sweep_api_wxpay(&api, w);
	so.mchid = ctx->mchid;
	so.cfg = &ctx->cfg;
	so.now = ctx->now;
	so.run_id = ctx->run_id;
	so.checkpoint = crash_hook;
	so.progress = progress;
	r = refunds ? sweep_refunds(ctx->db, &api, &so, &res, err)
	            : sweep_orders(ctx->db, &api, &so, &res, err);
	log_progress_done();
	if (r < 0) {
		err_prefix(err, "%s", what);
		goto out;
	}
	if (ctx->json)
		r = print_json(&res, refunds, err);
	else
		print_human(&res, what, refunds);
	if (r >= 0)
		r = sweep_status(&res, what, err);
out:
	runlock_end(&rl, r);
	sweep_result_release(&res);
	wxpay_free(w);
	return r;
}

static int run_orders(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	return run_sweep(ctx, argc, argv, false, err);
}

static int run_refunds(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	return run_sweep(ctx, argc, argv, true, err);
}

static const char orders_help[] =
        "Looks at the ledger's NOTPAY orders created longer ago than close_after (or\n"
        "--older-than, e.g. 30m, 2h, 7d) and past their time_expire, oldest first, and\n"
        "asks WeChat Pay about each: SUCCESS is recorded as paid (ORDER_MARK_PAID,\n"
        "when mark_paid_on_missed_notify), NOTPAY is closed (ORDER_CLOSE: intent,\n"
        "close, then a query confirms CLOSED), CLOSED is copied to the ledger, and an\n"
        "order WeChat Pay does not know is held for approval. Unfinished actions of\n"
        "earlier runs are settled first, by a query. More candidates than\n"
        "close_max_per_run: nothing is done (exit 3). --dry-run only queries and\n"
        "prints the plan. --limit N looks at N candidates this run.\n";

static const char refunds_help[] =
        "Queries the ledger's PROCESSING and ABNORMAL refunds: SUCCESS and CLOSED are\n"
        "synced into the ledger (REFUND_SYNC), and an order whose successful refunds\n"
        "reach its total becomes REFUNDED (PARTIAL_REFUNDED below); an ABNORMAL one\n"
        "gets one abnormal refund to the merchant's bank card (ABNORMAL_REFUND,\n"
        "abnormal_refund_type), intent first, at most once per refund. It also sends\n"
        "the refunds the engine filed itself (REFUND actions, e.g. paid_after_close =\n"
        "refund): the ledger order is marked PAID from the trade bill and the ledger\n"
        "refund written before the call; one sent by a run that died is settled by a\n"
        "query first and sent again, same out_refund_no, only when WeChat Pay does not\n"
        "have it. A refund above approval_above waits for 'wxrecon approve ID'; more\n"
        "than abnormal_refund_max_per_run refunds or abnormal_refund_max_amount_per_run\n"
        "fen to send (abnormal and engine refunds together): nothing is sent (exit 3).\n";

static const struct cmd sweep_subs[] = {
	{
	        .name = "orders",
	        .run = run_orders,
	        .flags = CMD_DB,
	        .usage = "sweep orders [--older-than DUR] [--dry-run] [--limit N]",
	        .summary = "close stale unpaid orders, record missed payments",
	        .help = orders_help,
	},
	{
	        .name = "refunds",
	        .run = run_refunds,
	        .flags = CMD_DB,
	        .usage = "sweep refunds [--dry-run] [--limit N]",
	        .summary = "sync refunds in PROCESSING, file abnormal refunds, send the engine's "
	                   "refunds",
	        .help = refunds_help,
	},
	{ .name = NULL },
};

const struct cmd cmd_sweep = {
	.name = "sweep",
	.subs = sweep_subs,
	.usage = "sweep orders|refunds ...",
	.summary = "the order and refund sweeps",
};
