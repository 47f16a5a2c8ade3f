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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "cmd/cmd.h"
#include "cmd/wxclient.h"
#include "core/exceptions.h"
#include "core/jobrun.h"
#include "core/reconcile.h"
#include "core/report.h"

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

/* The days of the range done, after each day. */
struct range_progress {
	int64_t done, days;
};

static void progress(void *p, const char *date, const struct recon_result *day)
{
	struct range_progress *rp = p;

	rp->done++;
	log_progress("reconcile: day %" PRId64 " of %" PRId64 " (%d%%): %s, %" PRId64 " open",
	             rp->done, rp->days, (int)(rp->done * 100 / rp->days), date, day->total.open);
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
	        "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:o}",
	        "from", from, "to", to, "run_id", (json_int_t)run_id, "days", (json_int_t)res->days,
	        "open", (json_int_t)res->total.open, "opened", (json_int_t)res->opened, "reopened",
	        (json_int_t)res->reopened, "resolved", (json_int_t)res->resolved, "auto_resolved",
	        (json_int_t)res->auto_resolved, "pending", (json_int_t)res->pending, "queries",
	        (json_int_t)res->queries, "query_failures", (json_int_t)res->query_failures,
	        "bills_missing", (json_int_t)res->bills_missing, "pruned_days",
	        (json_int_t)res->pruned, "needs_attention", res->needs_attention, "by_kind", kinds);
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
	struct runlock rl = { .run_id = ctx->run_id };
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

		r = cmd_runlock_take(ctx, &rl, 0, err);
		if (r >= 0 && rl.locked)
			r = runlock_start(&rl, &what, err);
		if (r < 0)
			goto out;
	}
	ro.run_id = rl.run_id;
	{
		struct range_progress rp = { 0, 1 };
		int64_t a, b;

		if (date_parse(d.from, 0, &a, NULL) == 0 && date_parse(d.to, 0, &b, NULL) == 0 &&
		    b > a)
			rp.days = (b - a) / 86400 + 1;
		r = reconcile_range(ctx->db, &ro, d.from, d.to, progress, &rp, &res, err);
	}
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
	if (!ctx->json && res.pruned)
		printf("%" PRId64
		       " day%s not reconciled (%s%s): the bill rows were pruned; restore "
		       "them with 'wxrecon bill import --date %s' and reconcile again\n",
		       res.pruned, res.pruned > 1 ? "s" : "", res.pruned_date,
		       res.pruned > 1 ? " and later" : "", res.pruned_date);
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
	if (res.pruned)
		r = err_set(err, WXR_EATTENTION,
		            "reconcile: %s was not reconciled, its bill rows were pruned: run "
		            "'wxrecon bill import --date %s' (from the archive), then reconcile it",
		            res.pruned_date, res.pruned_date);
	else
		r = res.needs_attention ? err_set(err, WXR_EATTENTION,
		                                  "reconcile: %" PRId64 " discrepancies are open",
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

static json_t *item_json(const struct exc_item *it)
{
	const struct db_exc_row *d = it->row;
	json_t *o = json_pack(
	        "{s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:I}", "id",
	        (json_int_t)d->id, "date", d->date, "kind", d->kind, "out_trade_no",
	        opt_str(d->out_trade_no), "out_refund_no", opt_str(d->out_refund_no),
	        "transaction_id", opt_str(d->transaction_id), "ledger_amount",
	        d->has_ledger_amount ? json_integer(d->ledger_amount) : json_null(), "bill_amount",
	        d->has_bill_amount ? json_integer(d->bill_amount) : json_null(), "ledger_state",
	        opt_str(d->ledger_state), "bill_state", opt_str(d->bill_state), "status", d->status,
	        "resolution", opt_str(d->resolution), "assignee", opt_str(d->assignee), "comments",
	        (json_int_t)d->comments);

	/* computed at read time: null for what is no longer open */
	json_object_set_new(o, "age_s", it->open ? json_integer(it->a.age_s) : json_null());
	json_object_set_new(o, "age_days",
	                    it->open ? json_integer(it->a.age_s / EXC_DAY_S) : json_null());
	json_object_set_new(o, "severity",
	                    it->open ? json_string(exc_severity_name(it->a.severity))
	                             : json_null());
	json_object_set_new(o, "due_date",
	                    it->open && it->a.has_due ? json_string(it->a.due_date) : json_null());
	json_object_set_new(o, "overdue", it->open ? json_boolean(it->a.overdue) : json_null());
	return o;
}

struct list_ctx {
	struct ctx *ctx;
	json_t *arr;  /* --json */
	bool history; /* --id: each one's comments and assignments too */
	json_t *hist; /* the current entry's, for --json */
};

static int history_one(void *p, const struct db_exc_event *e, struct wxr_err *err)
{
	struct list_ctx *lc = p;
	char at[CLOCK_RFC3339_LEN];
	const char *when = report_local_time(e->at, lc->ctx->cfg.tz_offset_s, at);
	bool comment = strcmp(e->what, "comment") == 0;

	(void)err;
	if (lc->hist) {
		json_array_append_new(
		        lc->hist, comment ? json_pack("{s:s, s:s, s:s, s:s}", "event", "comment",
		                                      "at", when, "by", e->who, "note", e->text)
		                          : json_pack("{s:s, s:s, s:s, s:s, s:o}", "event",
		                                      "assigned", "at", when, "by", e->who, "to",
		                                      e->text, "from", opt_str(e->previous)));
		return 0;
	}
	if (comment)
		printf("       %s %s: %s\n", when, e->who, e->text);
	else
		printf("       %s %s: assigned to %s (was %s)\n", when, e->who, e->text,
		       e->previous ? e->previous : "nobody");
	return 0;
}

static int list_one(void *p, const struct exc_item *it, struct wxr_err *err)
{
	struct list_ctx *lc = p;
	const struct db_exc_row *d = it->row;

	if (lc->arr) {
		json_t *o = item_json(it);

		json_array_append_new(lc->arr, o);
		if (!lc->history)
			return 0;
		lc->hist = json_array();
		json_object_set_new(o, "history", lc->hist);
		return exc_history(lc->ctx->db, d->id, history_one, lc, err);
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
	if (it->open) {
		printf(" | %s, %" PRId64 "d old", exc_severity_name(it->a.severity),
		       it->a.age_s / EXC_DAY_S);
		if (it->a.has_due)
			printf(", due %s%s", it->a.due_date, it->a.overdue ? " OVERDUE" : "");
		printf(", owner %s", d->assignee ? d->assignee : "-");
		if (d->comments)
			printf(", %" PRId64 " comment%s", d->comments, d->comments == 1 ? "" : "s");
	}
	if (d->resolution)
		printf(" note: %s", d->resolution);
	printf("\n");
	return lc->history ? exc_history(lc->ctx->db, d->id, history_one, lc, err) : 0;
}

/* The queue's filter options, shared by discrepancies and resolve. */
#define FILTER_LONG_OPTIONS                                     \
	{ "assignee", required_argument, NULL, 'a' },           \
	        { "severity", required_argument, NULL, 'S' },   \
	        { "older-than", required_argument, NULL, 'O' }, \
	{                                                       \
		"kind", required_argument, NULL, 'K'            \
	}

/* Handles one filter option; 1 when c was one, 0 when not, < 0 on error. */
static int filter_option(struct ctx *ctx, struct exc_filter *f, int c, const char *arg,
                         struct wxr_err *err)
{
	struct wxr_err derr = WXR_ERR_INIT;
	bool known = false;

	switch (c) {
	case 'a':
		/* "none": the unassigned ones */
		f->q.assignee = strcmp(arg, "none") == 0 ? "" : arg;
		return 1;
	case 'S':
		f->min_severity = exc_severity_parse(arg);
		if (f->min_severity < 0)
			return cmd_usage_error(
			        ctx, err, "--severity: '%s' (want low, medium, high or critical)",
			        arg);
		return 1;
	case 'O':
		if (duration_parse(arg, &f->older_than_s, &derr) < 0 || f->older_than_s <= 0)
			return cmd_usage_error(ctx, err, "--older-than: %s",
			                       derr.msg[0] ? derr.msg : "want a duration like 7d");
		return 1;
	case 'K':
		for (int k = 0; k < RECON_KIND_COUNT; k++)
			known = known || strcmp(arg, recon_kind_name((enum recon_kind)k)) == 0;
		if (!known)
			return cmd_usage_error(
			        ctx, err,
			        "--kind: '%s' is no discrepancy kind (see SPEC 6, e.g. "
			        "AMOUNT_MISMATCH)",
			        arg);
		f->q.kind = arg;
		return 1;
	default:
		return 0;
	}
}

static void filter_init(struct ctx *ctx, struct exc_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->q.mchid = ctx->mchid;
	f->q.status = "open";
	f->min_severity = -1;
}

static int run_discrepancies(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		DATES_LONG_OPTIONS,
		FILTER_LONG_OPTIONS,
		{ "status", required_argument, NULL, 's' },
		{ "id", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	struct dates d = { .given = false };
	struct exc_filter f;
	struct exc_policy pol;
	struct list_ctx lc = { ctx, NULL, false, NULL };
	bool status_given = false;
	int c;
	int r;

	filter_init(ctx, &f);
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		r = filter_option(ctx, &f, c, optarg, err);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		switch (c) {
		case 'i':
			if (cmd_parse_id(optarg, &f.q.id) < 0)
				return cmd_usage_error(ctx, err, "--id: bad discrepancy id '%s'",
				                       optarg);
			lc.history = true;
			break;
		case 's':
			status_given = true;
			f.q.status = optarg;
			if (strcmp(optarg, "open") && strcmp(optarg, "resolved") &&
			    strcmp(optarg, "all"))
				return cmd_usage_error(
				        ctx, err, "--status: '%s' (want open, resolved or all)",
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
	r = dates_finish(ctx, &d, false, err);
	if (r < 0)
		return r;
	f.q.from = d.given ? d.from : NULL;
	f.q.to = d.given ? d.to : NULL;
	if (lc.history && !status_given)
		f.q.status = "all"; /* --id shows it whatever its status */
	exc_policy_from_config(&ctx->cfg, &pol);
	if (ctx->json)
		lc.arr = json_array();
	r = exc_list(ctx->db, &f, &pol, ctx->now, list_one, &lc, err);
	if (r < 0) {
		json_decref(lc.arr);
		return r;
	}
	return lc.arr ? cmd_print_json(lc.arr, err) : 0;
}

/* ---- resolve ---- */

static int run_resolve(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		DATES_LONG_OPTIONS,
		FILTER_LONG_OPTIONS,
		{ "note", required_argument, NULL, 'n' },
		{ "yes", no_argument, NULL, 'y' },
		{ NULL, 0, NULL, 0 },
	};
	struct dates d = { .given = false };
	struct exc_filter f;
	struct exc_policy pol;
	const char *note = NULL;
	bool yes = false, filtered = false;
	int64_t *ids = NULL;
	size_t n = 0;
	char who[128];
	char *filter_text = NULL;
	int c;
	int r;

	filter_init(ctx, &f);
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		r = filter_option(ctx, &f, c, optarg, err);
		if (r < 0)
			return r;
		if (r > 0) {
			filtered = true;
			continue;
		}
		switch (c) {
		case 'n':
			note = optarg;
			break;
		case 'y':
			yes = true;
			break;
		default:
			r = cmd_option(ctx, &d, c, argv, err);
			if (r < 0)
				return r;
			filtered = true;
			break;
		}
	}
	if (!note || !*note)
		return cmd_usage_error(ctx, err, "--note TEXT is required: say how it was handled");
	if (filtered && optind < argc)
		return cmd_usage_error(ctx, err, "give discrepancy IDs or a filter, not both");
	if (!filtered && optind >= argc)
		return cmd_usage_error(ctx, err,
		                       "give one or more discrepancy IDs, or a filter (--kind K "
		                       "--date D ...)");
	exc_policy_from_config(&ctx->cfg, &pol);
	cmd_whoami(who, sizeof(who));
	if (filtered) {
		r = dates_finish(ctx, &d, false, err);
		if (r < 0)
			return r;
		f.q.from = d.given ? d.from : NULL;
		f.q.to = d.given ? d.to : NULL;
		r = exc_match_ids(ctx->db, &f, &pol, ctx->now, &ids, &n, err);
		if (r < 0)
			return r;
		filter_text = xasprintf(
		        "dates %s..%s kind %s assignee %s severity %s older_than %llds",
		        d.given ? d.from : "-", d.given ? d.to : "-", f.q.kind ? f.q.kind : "-",
		        !f.q.assignee   ? "-"
		        : *f.q.assignee ? f.q.assignee
		                        : "none",
		        f.min_severity < 0 ? "-" : exc_severity_name(f.min_severity),
		        (long long)f.older_than_s);
	} else {
		n = (size_t)(argc - optind);
		ids = xcalloc(n, sizeof(*ids));
		for (size_t i = 0; i < n; i++) {
			r = cmd_parse_id(argv[optind + (int)i], &ids[i]);
			if (r < 0) {
				r = cmd_usage_error(ctx, err, "bad discrepancy id '%s'",
				                    argv[optind + (int)i]);
				goto out;
			}
		}
	}
	if (filtered && !ctx->json)
		printf("%zu open discrepanc%s match%s\n", n, n == 1 ? "y" : "ies",
		       n == 1 ? "es" : "");
	if (n == 0) {
		r = ctx->json ? cmd_print_json(json_pack("{s:i, s:[]}", "resolved", 0, "ids"), err)
		              : 0;
		goto out;
	}
	if (n > (size_t)ctx->cfg.resolve_confirm_above && !yes) {
		r = err_set(err, WXR_EUSAGE,
		            "resolve: %zu discrepancies is more than [policy] "
		            "resolve_confirm_above = %ld; check the list (wxrecon discrepancies "
		            "with the same filter) and add --yes",
		            n, ctx->cfg.resolve_confirm_above);
		goto out;
	}
	if (n == 1 && !filtered)
		r = reconcile_resolve(ctx->db, ids[0], note, who, err);
	else
		r = exc_resolve(ctx->db, ctx->mchid, ids, n, note, who, filter_text, err);
	if (r == WXR_ENOTFOUND && n == 1) {
		r = err_set(err, WXR_EUSAGE, "no discrepancy %" PRId64, ids[0]);
		goto out;
	}
	if (r == WXR_ENOTFOUND) {
		char msg[sizeof(err->msg)];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		r = err_set(err, WXR_EUSAGE, "%s; nothing resolved", msg);
		goto out;
	}
	if (r < 0)
		goto out;
	if (ctx->json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_integer(ids[i]));
		r = cmd_print_json(n == 1 && !filtered
		                           ? json_pack("{s:I, s:s, s:s}", "id", (json_int_t)ids[0],
		                                       "status", "resolved", "resolved_by", who)
		                           : json_pack("{s:I, s:o, s:s, s:s}", "resolved",
		                                       (json_int_t)n, "ids", arr, "status",
		                                       "resolved", "resolved_by", who),
		                   err);
		if (n == 1 && !filtered)
			json_decref(arr);
	} else if (n == 1) {
		printf("discrepancy %" PRId64 " resolved by %s\n", ids[0], who);
	} else {
		printf("%zu discrepancies resolved by %s\n", n, who);
	}
out:
	free(ids);
	free(filter_text);
	return r;
}

static const char reconcile_help[] =
        "Diffs each day's stored bills against the ledger tables and records every\n"
        "finding as a discrepancy with a stable kind (listed in the README). Re-running a\n"
        "day updates the same rows; a finding that went away is marked resolved with the\n"
        "run that saw it go. MISSED_PAYMENT is marked paid when [policy] allows; the rest\n"
        "stay open for finance. With a merchant config it asks WeChat Pay about orders\n"
        "missing from the bill and refunds whose status disagrees; without one, those\n"
        "wait. --dry-run shows the result and writes nothing. --since-run RUN_ID also\n"
        "lists what changed since that run (opened, resolved, amounts changed). Exit 3\n"
        "while discrepancies are open.\n"
        "DATES: --date D | --from D --to D | --yesterday (default)\n";

const struct cmd cmd_reconcile = {
	.name = "reconcile",
	.run = run_reconcile,
	.flags = CMD_DB,
	.usage = "reconcile DATES [--dry-run] [--since-run RUN_ID]",
	.summary = "diff the stored bills against the ledger; record discrepancies",
	.help = reconcile_help,
};

static const char discrepancies_help[] =
        "Lists discrepancies by date then id (--status open, the default, resolved or\n"
        "all). An open one shows its severity, its age (since it was first found), its\n"
        "due date where WeChat Pay imposes one (a\n"
        "refund-type fix: 365 days after the payment; a bill-type fix: while the bill\n"
        "of its date can still be downloaded, about three months), OVERDUE past it, its\n"
        "owner and how many comments it has. Severity is the worst of: the amount at\n"
        "stake against [policy] severity_{medium,high,critical}_above (yuan), the age\n"
        "against severity_{medium,high,critical}_after (DUR), and critical from\n"
        "due_warn_days days before the due date. Filters: --kind K; --assignee WHO\n"
        "(none: nobody's); --severity S: S or worse; --older-than DUR (7d, 36h): open\n"
        "ones at least that old. --json adds assignee, comments, age_s, age_days,\n"
        "severity, due_date and overdue (null when not open) to each entry. --id ID\n"
        "shows that one, whatever its status, with its history: every comment and\n"
        "assignment, oldest first (--json: a history array).\n"
        "DATES: --date D | --from D --to D (default: every date)\n";

const struct cmd cmd_discrepancies = {
	.name = "discrepancies",
	.run = run_discrepancies,
	.flags = CMD_DB | CMD_DB_READONLY,
	.usage = "discrepancies [DATES] [--status S] [--kind K] [--assignee WHO] [--severity S] "
	         "[--older-than DUR] [--id ID]",
	.summary = "list discrepancies (default: the open ones, every date)",
	.help = discrepancies_help,
};

static const char resolve_help[] =
        "Resolves the discrepancies named by their IDs, or the open ones a filter picks\n"
        "(DATES, --kind K, --assignee WHO|none, --severity S, --older-than DUR, as for\n"
        "discrepancies), all with the note, in one transaction: an unknown ID, or one\n"
        "already resolved among several, resolves nothing. It prints how many match\n"
        "first; more than [policy] resolve_confirm_above (default 20) needs --yes,\n"
        "else nothing is resolved and it exits 2. Each is audited (discrepancy.resolved);\n"
        "several at once also get one discrepancy.bulk_resolved entry.\n";

const struct cmd cmd_resolve = {
	.name = "resolve",
	.run = run_resolve,
	.flags = CMD_DB,
	.usage = "resolve ID...|FILTER --note TEXT [--yes]",
	.summary = "finance marks discrepancies handled (audited)",
	.help = resolve_help,
};
