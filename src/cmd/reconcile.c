/*
 * cmd_reconcile.c - `wxrecon reconcile`, `wxrecon discrepancies`,
 * `wxrecon resolve`.
 *
 * reconcile diffs the stored bills against the ledger day by day
 * (reconcile.h). With a merchant config it may ask WeChat Pay about an
 * order or a refund (MISSING_IN_BILL, REFUND_STATUS_MISMATCH); without one
 * it works offline and such findings wait. Run on its own it records a
 * one-step run (job 'reconcile') and takes the database lock; as a step of
 * `wxrecon run` it is part of that run.
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "cmd/cmd.h"
#include "cmd/runlock.h"
#include "cmd/wxclient.h"
#include "core/reconcile.h"
#include "core/report.h"
#include "db/db_reconcile.h"

/* ---- the query hooks, over the WeChat Pay client ---- */

static int hook_map_error(struct wxpay *w, int r)
{
	if (r == WXR_EAPI) {
		const struct wxpay_status *s = wxpay_last(w);

		if (s->http_status == 404 || wxpay_code_is(s->code, "ORDER_NOT_EXIST") ||
		    wxpay_code_is(s->code, "RESOURCE_NOT_EXISTS"))
			return WXR_ENOTFOUND;
	}
	return r;
}

static int64_t ts_or_zero(const char *s)
{
	int64_t ts = 0;

	if (s && *s && time_parse_rfc3339(s, &ts, NULL) == 0)
		return ts;
	return 0;
}

static int hook_query_order(void *ctx, const char *mchid, const char *out_trade_no,
                            struct recon_order_answer *out, struct wxr_err *err)
{
	struct wxpay *w = ctx;
	struct wxpay_transaction t;
	int r;

	(void)mchid;
	r = wxpay_query_order(w, out_trade_no, &t, err);
	if (r < 0)
		return hook_map_error(w, r);
	memset(out, 0, sizeof(*out));
	snprintf(out->trade_state, sizeof(out->trade_state), "%s", t.trade_state);
	snprintf(out->transaction_id, sizeof(out->transaction_id), "%s", t.transaction_id);
	out->amount_total = t.amount_total;
	out->success_ts = ts_or_zero(t.success_time);
	wxpay_transaction_release(&t);
	return 0;
}

static int hook_query_refund(void *ctx, const char *mchid, const char *out_refund_no,
                             struct recon_refund_answer *out, struct wxr_err *err)
{
	struct wxpay *w = ctx;
	struct wxpay_refund rf;
	int r;

	(void)mchid;
	r = wxpay_refund_query(w, out_refund_no, &rf, err);
	if (r < 0)
		return hook_map_error(w, r);
	memset(out, 0, sizeof(*out));
	snprintf(out->status, sizeof(out->status), "%s", rf.status);
	snprintf(out->refund_id, sizeof(out->refund_id), "%s", rf.refund_id);
	out->amount_refund = rf.amount_refund;
	out->success_ts = ts_or_zero(rf.success_time);
	wxpay_refund_release(&rf);
	return 0;
}

/* ---- reconcile ---- */

static void progress(void *p, const char *date, const struct recon_result *day)
{
	(void)p;
	log_progress("reconciled %s: %" PRId64 " open", date, day->total.open);
}

static json_t *result_json(const struct recon_result *res, const char *from, const char *to,
                           int64_t run_id)
{
	json_t *kinds = json_object();

	for (int k = 0; k < RECON_KIND_COUNT; k++) {
		const struct recon_status_count *c = &res->by_kind[k];

		if (c->open || c->resolved || c->auto_resolved)
			json_object_set_new(kinds, recon_kind_name((enum recon_kind)k),
			                    json_pack("{s:I, s:I, s:I}", "open",
			                              (json_int_t)c->open, "resolved",
			                              (json_int_t)c->resolved, "auto_resolved",
			                              (json_int_t)c->auto_resolved));
	}
	return json_pack(
	        "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:o}",
	        "from", from, "to", to, "run_id", (json_int_t)run_id, "days", (json_int_t)res->days,
	        "open", (json_int_t)res->total.open, "opened", (json_int_t)res->opened, "reopened",
	        (json_int_t)res->reopened, "resolved", (json_int_t)res->resolved, "auto_resolved",
	        (json_int_t)res->auto_resolved, "pending", (json_int_t)res->pending, "queries",
	        (json_int_t)res->queries, "query_failures", (json_int_t)res->query_failures,
	        "bills_missing", (json_int_t)res->bills_missing, "needs_attention",
	        res->needs_attention, "by_kind", kinds);
}

struct changes {
	json_t *arr;
	int n;
};

static int print_change(void *p, const struct recon_change *c, struct wxr_err *err)
{
	struct changes *ch = p;

	(void)err;
	ch->n++;
	if (ch->arr) {
		json_array_append_new(
		        ch->arr,
		        json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s?, s:o, s:o, s:o, s:o}",
		                  "discrepancy_id", (json_int_t)c->discrepancy_id, "run_id",
		                  (json_int_t)c->run_id, "event", c->event, "date", c->date, "kind",
		                  c->kind, "key", c->key, "status", c->status, "note", c->note,
		                  "ledger_amount",
		                  c->ledger_amount == RECON_NULL_AMOUNT
		                          ? json_null()
		                          : json_integer(c->ledger_amount),
		                  "bill_amount",
		                  c->bill_amount == RECON_NULL_AMOUNT
		                          ? json_null()
		                          : json_integer(c->bill_amount),
		                  "prev_ledger_amount",
		                  c->prev_ledger_amount == RECON_NULL_AMOUNT
		                          ? json_null()
		                          : json_integer(c->prev_ledger_amount),
		                  "prev_bill_amount",
		                  c->prev_bill_amount == RECON_NULL_AMOUNT
		                          ? json_null()
		                          : json_integer(c->prev_bill_amount)));
		return 0;
	}
	printf("  %-13s #%-6" PRId64 " %s %-24s %s", c->event, c->discrepancy_id, c->date, c->kind,
	       c->key);
	if (c->prev_ledger_amount != RECON_NULL_AMOUNT || c->prev_bill_amount != RECON_NULL_AMOUNT)
		printf("  (amounts were %" PRId64 "/%" PRId64 ")", c->prev_ledger_amount,
		       c->prev_bill_amount);
	if (c->note)
		printf("  note: %s", c->note);
	printf("\n");
	return 0;
}

static int run_reconcile(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		DATES_LONG_OPTIONS,
		{ "dry-run", no_argument, NULL, 'n' },
		{ "since-run", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct dates d = { .given = false };
	struct recon_opts ro;
	struct recon_hooks hooks;
	struct recon_result res;
	struct wxpay *w = NULL;
	bool dry = false;
	int64_t since = 0;
	struct runlock rl = { .ctx = ctx, .run_id = ctx->run_id };
	json_t *out = NULL;
	int c;
	int r;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			dry = true;
			break;
		case 's': {
			char *end;

			since = strtoll(optarg, &end, 10);
			if (*end || since <= 0)
				return cmd_usage_error(ctx, err, "--since-run: bad run id '%s'",
				                       optarg);
			break;
		}
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

	recon_opts_init(&ro);
	ro.mchid = ctx->mchid;
	ro.dry_run = dry;
	ro.tz_offset_s = ctx->cfg.tz_offset_s;
	ro.now_ts = ctx->now;
	ro.mark_paid_on_missed_notify = ctx->cfg.mark_paid_on_missed_notify;
	ro.paid_after_close = ctx->cfg.paid_after_close;
	ro.approval_above = ctx->cfg.approval_above;
	ro.release_time_s = ctx->cfg.release_time_s;
	ro.missing_after_s = ctx->cfg.missing_after_s;
	if (ctx->have_config && ctx->cfg.mchid && !dry) {
		r = wxclient_open(ctx, &w, err);
		if (r < 0)
			return r;
		memset(&hooks, 0, sizeof(hooks));
		hooks.query_order = hook_query_order;
		hooks.query_refund = hook_query_refund;
		hooks.ctx = w;
		ro.hooks = &hooks;
	}
	if (!dry) {
		struct runlock_run what = { .job = "reconcile", .from = d.from, .to = d.to };

		r = runlock_take(&rl, ctx, 0, err);
		if (r >= 0 && rl.locked)
			r = runlock_start(&rl, &what, err);
		if (r < 0)
			goto out;
	}
	ro.run_id = rl.run_id;
	r = reconcile_range(ctx->db, &ro, d.from, d.to, progress, NULL, &res, err);
	log_progress_done();
	if (r < 0) {
		err_prefix(err, "reconcile");
		goto out;
	}
	if (ctx->json)
		out = result_json(&res, d.from, d.to, rl.run_id);
	else
		printf("reconcile %s%s%s%s: %" PRId64 " open (%" PRId64 " new, %" PRId64
		       " reopened), %" PRId64 " resolved, %" PRId64 " auto-resolved, %" PRId64
		       " pending%s\n",
		       d.from, strcmp(d.from, d.to) ? ".." : "", strcmp(d.from, d.to) ? d.to : "",
		       dry ? " (dry run: nothing written)" : "", res.total.open, res.opened,
		       res.reopened, res.resolved, res.auto_resolved, res.pending,
		       res.bills_missing ? "; some days have no trade bill" : "");
	if (!ctx->json && res.total.open) {
		for (int k = 0; k < RECON_KIND_COUNT; k++) {
			if (res.by_kind[k].open)
				printf("  %-26s %" PRId64 " open\n",
				       recon_kind_name((enum recon_kind)k), res.by_kind[k].open);
		}
		printf("see: wxrecon discrepancies --from %s --to %s\n", d.from, d.to);
	}
	if (res.query_failures)
		log_warn("%" PRId64
		         " WeChat Pay queries failed; those findings wait for the next run",
		         res.query_failures);
	if (since) {
		struct changes ch = { ctx->json ? json_array() : NULL, 0 };

		if (!ctx->json)
			printf("changes since run %" PRId64 ":\n", since);
		r = reconcile_changes_since(ctx->db, ctx->mchid, since, d.from, d.to, print_change,
		                            &ch, err);
		if (r < 0) {
			json_decref(ch.arr);
			goto out;
		}
		if (out)
			json_object_set_new(out, "changes", ch.arr);
		else if (!ch.n)
			printf("  none\n");
	}
	if (out) {
		r = cmd_print_json(out, err);
		out = NULL;
		if (r < 0)
			goto out;
	}
	if (w && wxpay_poisoned(w)) {
		r = err_set(err, WXR_ESIG, "reconcile: a WeChat Pay answer failed verification");
		goto out;
	}
	r = res.needs_attention
	            ? err_set(err, WXR_EATTENTION, "reconcile: %" PRId64 " discrepancies are open",
	                      res.total.open)
	            : 0;
out:
	json_decref(out);
	runlock_end(&rl, r);
	wxpay_free(w);
	return r;
}

/* ---- discrepancies ---- */

static json_t *opt_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

static int list_one(void *p, const struct recon_disc *d, struct wxr_err *err)
{
	json_t *arr = p;

	(void)err;
	if (arr) {
		json_array_append_new(
		        arr,
		        json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o}",
		                  "id", (json_int_t)d->id, "date", d->date, "kind", d->kind,
		                  "out_trade_no", opt_str(d->out_trade_no), "out_refund_no",
		                  opt_str(d->out_refund_no), "transaction_id",
		                  opt_str(d->transaction_id), "ledger_amount",
		                  d->has_ledger_amount ? json_integer(d->ledger_amount)
		                                       : json_null(),
		                  "bill_amount",
		                  d->has_bill_amount ? json_integer(d->bill_amount) : json_null(),
		                  "ledger_state", opt_str(d->ledger_state), "bill_state",
		                  opt_str(d->bill_state), "status", d->status, "resolution",
		                  opt_str(d->resolution)));
		return 0;
	}
	printf("%-6" PRId64 " %s %-13s %-26s %-32s", d->id, d->date, d->status, d->kind, d->key);
	if (d->has_ledger_amount || d->has_bill_amount) {
		/* in yuan, like every amount a person reads; fen in --json */
		char la[REPORT_AMOUNT_LEN] = "-", ba[REPORT_AMOUNT_LEN] = "-";

		if (d->has_ledger_amount)
			report_format_amount(d->ledger_amount, 2, false, la);
		if (d->has_bill_amount)
			report_format_amount(d->bill_amount, 2, false, ba);
		printf(" ledger %s bill %s yuan", la, ba);
	}
	if (d->ledger_state || d->bill_state)
		printf(" [%s/%s]", d->ledger_state ? d->ledger_state : "-",
		       d->bill_state ? d->bill_state : "-");
	if (d->resolution)
		printf(" note: %s", d->resolution);
	printf("\n");
	return 0;
}

static int run_discrepancies(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		DATES_LONG_OPTIONS,
		{ "status", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct dates d = { .given = false };
	const char *status = "open";
	json_t *arr = NULL;
	int c;
	int r;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			status = optarg;
			if (strcmp(status, "open") && strcmp(status, "resolved") &&
			    strcmp(status, "all"))
				return cmd_usage_error(
				        ctx, err, "--status: '%s' (want open, resolved or all)",
				        status);
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
	if (ctx->json)
		arr = json_array();
	r = db_recon_list(ctx->db, ctx->mchid, d.given ? d.from : NULL, d.given ? d.to : NULL,
	                  status, list_one, arr, err);
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	return arr ? cmd_print_json(arr, err) : 0;
}

/* ---- resolve ---- */

static const char *who_am_i(char *buf, size_t n)
{
	const char *u = getenv("USER");
	struct passwd *pw;

	if (u && *u) {
		snprintf(buf, n, "user:%s", u);
		return buf;
	}
	pw = getpwuid(getuid());
	snprintf(buf, n, "user:%s", pw ? pw->pw_name : "unknown");
	return buf;
}

static int run_resolve(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		{ "note", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *note = NULL;
	char who[128];
	char *end;
	int64_t id;
	int c;
	int r;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			note = optarg;
			break;
		default:
			r = cmd_option(ctx, NULL, c, argv, err);
			if (r < 0)
				return r;
			break;
		}
	}
	if (optind != argc - 1)
		return cmd_usage_error(ctx, err, "give one discrepancy ID");
	id = strtoll(argv[optind], &end, 10);
	if (*end || id <= 0)
		return cmd_usage_error(ctx, err, "bad discrepancy id '%s'", argv[optind]);
	if (!note || !*note)
		return cmd_usage_error(ctx, err, "--note TEXT is required: say how it was handled");
	r = reconcile_resolve(ctx->db, id, note, who_am_i(who, sizeof(who)), err);
	if (r == WXR_ENOTFOUND)
		return err_set(err, WXR_EUSAGE, "no discrepancy %" PRId64, id);
	if (r < 0)
		return r;
	if (ctx->json)
		return cmd_print_json(json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "status",
		                                "resolved", "resolved_by", who),
		                      err);
	printf("discrepancy %" PRId64 " resolved by %s\n", id, who);
	return 0;
}

static const char reconcile_help[] =
        "Diffs each day's stored bills against the ledger tables and records every\n"
        "finding as a discrepancy with a stable kind (SPEC 6). Re-running a day updates\n"
        "the same rows; a finding that went away is marked resolved with the run that saw\n"
        "it go. MISSED_PAYMENT is marked paid when [policy] allows; the rest stay open for\n"
        "finance. With a merchant config it asks WeChat Pay about orders missing from the\n"
        "bill and refunds whose status disagrees; without one, those wait. --dry-run shows\n"
        "the result and writes nothing. --since-run RUN_ID also lists what changed since\n"
        "that run (opened, resolved, amounts changed). Exit 3 while discrepancies are open.\n"
        "DATES: --date D | --from D --to D | --yesterday (default)\n";

const struct cmd cmd_reconcile = {
	.name = "reconcile",
	.run = run_reconcile,
	.flags = CMD_DB,
	.usage = "reconcile DATES [--dry-run] [--since-run RUN_ID]",
	.summary = "diff the stored bills against the ledger; record discrepancies",
	.help = reconcile_help,
};

const struct cmd cmd_discrepancies = {
	.name = "discrepancies",
	.run = run_discrepancies,
	.flags = CMD_DB | CMD_DB_READONLY,
	.usage = "discrepancies [DATES] [--status open|resolved|all]",
	.summary = "list discrepancies (default: the open ones, every date)",
};

const struct cmd cmd_resolve = {
	.name = "resolve",
	.run = run_resolve,
	.flags = CMD_DB,
	.usage = "resolve ID --note TEXT",
	.summary = "finance marks a discrepancy handled (audited)",
};
