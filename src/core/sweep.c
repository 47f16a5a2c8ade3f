/*
 * sweep.c - the order and refund sweeps: decisions, the intent log, the
 * calls and the ledger changes (see sweep.h for the rules).
 *
 * The life of a close (ORDER_CLOSE), each arrow one committed transaction
 * with its audit entries; a crash anywhere leaves the action in the state
 * of the last arrow, and the next sweep settles it by a query first:
 *
 *   query NOTPAY -> intent -> sent -> [POST close] -> query -> done (CLOSED)
 *                                                           -> cancelled + ORDER_MARK_PAID (paid)
 *                                                           -> failed (still NOTPAY: retried)
 *
 * An abnormal refund (ABNORMAL_REFUND) goes the same way:
 *
 *   query ABNORMAL -> [brakes, approval] -> intent -> sent -> [POST] -> done / failed
 *                                        -> pending_approval -> (approve) intent -> ...
 *
 * An engine refund (REFUND, filed by reconcile as intent or pending_approval):
 *
 *   intent -> [approval, brakes] -> sent (+ ledger order PAID, ledger refund
 *   PROCESSING) -> [POST refund] -> done / failed (refused: ledger refund removed)
 *   sent (earlier run) -> query -> done, or (RESOURCE_NOT_EXISTS) sent again
 */
#include "core/sweep.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "core/payflow.h"
#include "db/audit.h"
#include "db/db_actions.h"
#include "db/db_payflow.h"
#include "wx/crypto.h"

/* ---- the wxpay calls ---- */

static int w_query_order(void *ctx, const char *no, struct wxpay_transaction *out,
                         struct wxr_err *err)
{
	return wxpay_query_order(ctx, no, out, err);
}

static int w_close_order(void *ctx, const char *no, struct wxr_err *err)
{
	return wxpay_close_order(ctx, no, err);
}

static int w_query_refund(void *ctx, const char *no, struct wxpay_refund *out, struct wxr_err *err)
{
	return wxpay_refund_query(ctx, no, out, err);
}

static int w_abnormal(void *ctx, struct wxpay_abnormal_refund_req *req, struct wxpay_refund *out,
                      struct wxr_err *err)
{
	return wxpay_refund_abnormal(ctx, req, out, err);
}

static int w_create_refund(void *ctx, const struct wxpay_refund_req *req, struct wxpay_refund *out,
                           struct wxr_err *err)
{
	return wxpay_refund_create(ctx, req, out, err);
}

static const struct wxpay_status *w_last(void *ctx)
{
	return wxpay_last(ctx);
}

static bool w_poisoned(void *ctx)
{
	return wxpay_poisoned(ctx);
}

void sweep_api_wxpay(struct sweep_api *api, struct wxpay *w)
{
	memset(api, 0, sizeof(*api));
	api->ctx = w;
	api->query_order = w_query_order;
	api->close_order = w_close_order;
	api->query_refund = w_query_refund;
	api->abnormal_refund = w_abnormal;
	api->last = w_last;
	api->poisoned = w_poisoned;
	api->create_refund = w_create_refund;
}

/* ---- decisions ---- */

static bool is(const char *a, const char *b)
{
	return a && strcmp(a, b) == 0;
}

enum sweep_order_decision sweep_decide_order(const char *trade_state, bool has_expire,
                                             int64_t expire_ts, int64_t now)
{
	if (is(trade_state, "SUCCESS") || is(trade_state, "REFUND"))
		return SWEEP_ORDER_MARK_PAID;
	if (is(trade_state, "NOTPAY"))
		return SWEEP_ORDER_CLOSE;
	if (is(trade_state, "CLOSED"))
		return SWEEP_ORDER_CLOSED;
	if (is(trade_state, "USERPAYING"))
		return has_expire && expire_ts < now ? SWEEP_ORDER_CLOSE : SWEEP_ORDER_WAIT;
	return SWEEP_ORDER_SKIP;
}

enum sweep_close_outcome sweep_after_close(const char *trade_state)
{
	if (is(trade_state, "CLOSED"))
		return SWEEP_CLOSE_DONE;
	if (is(trade_state, "SUCCESS") || is(trade_state, "REFUND"))
		return SWEEP_CLOSE_PAID;
	return SWEEP_CLOSE_FAILED;
}

const char *sweep_paid_state(const char *trade_state, int64_t total_fen, int64_t refunded_fen)
{
	if (!is(trade_state, "REFUND") || refunded_fen <= 0)
		return "PAID";
	return refunded_fen >= total_fen ? "REFUNDED" : "PARTIAL_REFUNDED";
}

bool sweep_brake(long count, long max_count, const char *count_key, int64_t amount_fen,
                 int64_t max_amount_fen, const char *amount_key, const char *what, char *why,
                 size_t n)
{
	if (count > max_count) {
		snprintf(why, n, "brake: %ld %s, more than %s = %ld; nothing was done", count, what,
		         count_key, max_count);
		return true;
	}
	if (max_amount_fen >= 0 && amount_fen > max_amount_fen) {
		snprintf(why, n,
		         "brake: %ld %s for %" PRId64 " fen, more than %s = %" PRId64
		         " fen; nothing was done",
		         count, what, amount_fen, amount_key, max_amount_fen);
		return true;
	}
	return false;
}

/* ---- the result ---- */

void sweep_result_release(struct sweep_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nitems; i++) {
		free(r->items[i].target);
		free(r->items[i].detail);
	}
	free(r->items);
	free(r->actions);
	memset(r, 0, sizeof(*r));
}

int sweep_status(const struct sweep_result *r, const char *what, struct wxr_err *err)
{
	/* a dry run exits as the run it plans would */
	long held = r->held + (r->dry_run ? r->new_held : 0);

	if (r->stopped)
		return err_set(err, WXR_ESIG, "%s: stopped: %s", what, r->stop);
	if (r->failed)
		return err_set(err, WXR_EFAIL,
		               "%s: %ld failed (a later sweep tries again; see above)", what,
		               r->failed);
	if (r->braked)
		return err_set(err, WXR_EATTENTION, "%s: %s", what, r->brake);
	if (held || r->attention) {
		if (r->attention && held)
			return err_set(err, WXR_EATTENTION,
			               "%s: %ld need a person (see above); %ld action%s for "
			               "approval ('wxrecon actions --pending')",
			               what, r->attention, held, held == 1 ? " waits" : "s wait");
		if (r->attention)
			return err_set(err, WXR_EATTENTION, "%s: %ld need a person (see above)",
			               what, r->attention);
		return err_set(err, WXR_EATTENTION,
		               "%s: %ld action%s for approval ('wxrecon actions --pending', "
		               "'wxrecon approve ID')",
		               what, held, held == 1 ? " waits" : "s wait");
	}
	return 0;
}
