/*
 * sweep.h - the order and refund sweeps (SPEC 1, 7): the only code that
 * changes the fate of money on its own. Library code: never prints, never
 * exits; the command layer (cmd_sweep.c, cmd_refund.c) prints the result.
 *
 * The rules, each enforced here:
 *  - never on a guess: an order is closed only after a query in the same
 *    run says NOTPAY (or USERPAYING past its time_expire); a close is judged
 *    by the query after it, never by its 204; a payment is recorded only
 *    from a query that says SUCCESS/REFUND with the ledger's amount;
 *  - never twice: every close and abnormal refund is written as an intent
 *    (committed) before the call and moved to sent, then done/failed; the
 *    next sweep first settles unfinished intents by a query, and sends again
 *    (same out_trade_no / refund_id + out_refund_no) only when the query
 *    shows the first did not take effect (PROTOCOL 4.12);
 *  - never in bulk by mistake: more candidates than close_max_per_run, or
 *    more refunds to send (abnormal and engine refunds together, count or
 *    fen) than the per-run brakes, and nothing is done; a refund above
 *    approval_above waits for approval;
 *  - a response that fails verification stops every further call; a
 *    signature probe only fails its call, which a query then settles.
 * Every decision and every state change is in the audit log, with the
 * states before and after.
 */
#ifndef WXR_SWEEP_H
#define WXR_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "db/db.h"
#include "wxpay.h"

/* The WeChat Pay calls a sweep makes: wxpay (sweep_api_wxpay) or a fake in tests. */
struct sweep_api {
	void *ctx;
	int (*query_order)(void *ctx, const char *out_trade_no, struct wxpay_transaction *out,
	                   struct wxr_err *err);
	int (*close_order)(void *ctx, const char *out_trade_no, struct wxr_err *err);
	int (*query_refund)(void *ctx, const char *out_refund_no, struct wxpay_refund *out,
	                    struct wxr_err *err);
	int (*abnormal_refund)(void *ctx, struct wxpay_abnormal_refund_req *req,
	                       struct wxpay_refund *out, struct wxr_err *err);
	/* What the last call got back (borrowed). */
	const struct wxpay_status *(*last)(void *ctx);
	/* True once a response failed verification. */
	bool (*poisoned)(void *ctx);
	/* POST /v3/refund/domestic/refunds (the engine's own refunds). */
	int (*create_refund)(void *ctx, const struct wxpay_refund_req *req,
	                     struct wxpay_refund *out, struct wxr_err *err);
};
/* Fills api with w's calls (w is borrowed). */
void sweep_api_wxpay(struct sweep_api *api, struct wxpay *w);

/* Test hook points, in the order a close or abnormal refund passes them (an
 * engine refund passes the last two: its intent is filed by reconcile). */
#define SWEEP_AT_AFTER_INTENT "after-intent" /* intent committed, nothing sent */
#define SWEEP_AT_AFTER_SENT   "after-sent"   /* state sent committed, call not made */
#define SWEEP_AT_AFTER_CALL   "after-call"   /* call answered, answer not recorded */

/* A 'sent' action is settled only once its call cannot be in flight any more:
 * (retries + 1) * timeout_s of [api], the backoffs between the attempts (each
 * capped like the client's) and this margin, by the real clock. */
#define SWEEP_INFLIGHT_MARGIN_S 5
/* Orders younger than this are never closed (WeChat Pay: not within 5 minutes of
 * ordering); a shorter close_after or --older-than is refused. */
#define SWEEP_CLOSE_MIN_AGE_S 300
#define SWEEP_BACKOFF_CAP_MS  30000L

struct sweep_opts {
	const char *mchid;
	const struct config *cfg; /* [policy] and the timezone */
	int64_t now;              /* business now (WXRECON_NOW or the clock) */
	int64_t run_id;           /* 0 = not a step of a run */
	int64_t older_than_s;     /* orders: < 0 -> cfg->close_after_s */
	long limit;               /* candidates looked at in this run; 0 = all */
	bool dry_run;             /* queries only: no call that changes anything, no writes */
	const char *who;          /* a person's name, for `refund abnormal` (audited) */
	/* Test hook: called at the SWEEP_AT_* points; may not return. NULL = none. */
	void (*checkpoint)(void *ctx, const char *point);
	void *checkpoint_ctx;
	/* Progress over the candidates (may be NULL). */
	void (*progress)(void *ctx, size_t done, size_t total);
	void *progress_ctx;
};

/* One line of the outcome, for people. */
struct sweep_item {
	char *target; /* out_trade_no or out_refund_no */
	const char
	        *what; /* static: "closed", "marked_paid", "held", "failed", "would_close", ... */
	char *detail;  /* one line */
	int64_t action_id; /* 0 = none */
};

struct sweep_result {
	bool dry_run;
	long eligible;   /* every candidate in the ledger */
	long candidates; /* looked at in this run (--limit) */
	long settled;    /* unfinished actions of earlier runs finished */
	/* orders */
	long closed;           /* closed by this run (confirmed CLOSED by query) */
	long closed_at_wechat; /* found CLOSED at WeChat Pay (e.g. auto-closed): ledger synced */
	long marked_paid;      /* missed payments recorded */
	long not_found;        /* unknown to WeChat Pay: held for approval */
	/* refunds */
	long synced;           /* ledger refund states synced from the query */
	long abnormal_refunds; /* abnormal refunds filed and accepted */
	long refunds;          /* engine refunds (REFUND actions) sent and accepted */
	/* both */
	long skipped;   /* nothing to do (still paying, still processing, ...) */
	long failed;    /* could not be decided or done this time; a later sweep retries */
	long attention; /* a person must look (conflicting history) */
	long new_held;  /* held for approval by this run */
	long held;      /* actions of this sweep's kinds waiting for approval after the run */
	bool braked;
	char brake[256]; /* why, one line */
	bool stopped;
	char stop[512];   /* why every call stopped (a response failed verification, or
	                     WeChat Pay could not be reached) */
	int stop_code;    /* WXR_ESIG or WXR_ENET, when stopped */
	int64_t *actions; /* ids of the actions this run wrote or moved, in order */
	size_t nactions;
	struct sweep_item *items;
	size_t nitems;
};
void sweep_result_release(struct sweep_result *r);

/*
 * The sweeps. *out is always initialised (release it); it holds what was
 * done even when the sweep stops. Returns 0 when the sweep ran (whatever it
 * found: see sweep_status), or a negative error that stopped it (database,
 * usage). The caller holds the run lock.
 */
int sweep_orders(struct db *db, const struct sweep_api *api, const struct sweep_opts *o,
                 struct sweep_result *out, struct wxr_err *err);
int sweep_refunds(struct db *db, const struct sweep_api *api, const struct sweep_opts *o,
                  struct sweep_result *out, struct wxr_err *err);
/*
 * sweep_refunds also sends the engine's own refunds: REFUND actions (filed
 * by reconcile under paid_after_close = refund, params {out_trade_no,
 * transaction_id, out_refund_no, amount{refund,total,currency}, reason}).
 *
 *   sent (an earlier run) -> query out_refund_no: found -> done (ledger synced);
 *                            RESOURCE_NOT_EXISTS -> sent again, same body
 *   intent -> [approval_above, unless approved] -> [brakes, with the abnormal
 *             refunds] -> one transaction: the ledger order marked PAID from
 *             the trade bill when it is still NOTPAY/CLOSED, the ledger refund
 *             written PROCESSING, the action moved to sent -> [POST refund]
 *             -> done (result: the refund status; ledger refund_id/status) |
 *             failed (4xx but 429: WeChat Pay's code; the ledger refund is
 *             removed, as `refund create` does) | left sent (no answer)
 *   pending_approval -> listed, waits for `wxrecon approve`
 *
 * A ledger refund that becomes SUCCESS (or stops being SUCCESS) moves its
 * paid order to PARTIAL_REFUNDED or REFUNDED (or back to PAID) by the sum of
 * the order's successful refunds.
 */

/* USER_BANK_CARD by hand (`refund abnormal --user-card`). */
struct sweep_user_card {
	const char *out_refund_no;
	const char *bank_type;
	char *bank_account; /* plain text; WIPED by the call, whatever happens */
	char *real_name;    /* plain text; WIPED by the call, whatever happens */
};
/* Queries the refund (it must be ABNORMAL), writes the intent (type and
 * bank_type only: never the card or the name), sends, records. */
int sweep_refund_user_card(struct db *db, const struct sweep_api *api, const struct sweep_opts *o,
                           struct sweep_user_card *card, struct sweep_result *out,
                           struct wxr_err *err);

/*
 * The exit status of a result: stop_code when calls were stopped, WXR_EFAIL
 * when something failed, WXR_EATTENTION for a brake, a held action or a
 * conflict, else 0; err gets one line saying why.
 */
int sweep_status(const struct sweep_result *r, const char *what, struct wxr_err *err);

/* ---- the decisions, without I/O (unit-tested) ---- */

enum sweep_order_decision {
	SWEEP_ORDER_CLOSE,     /* NOTPAY, or USERPAYING past its time_expire */
	SWEEP_ORDER_MARK_PAID, /* SUCCESS or REFUND: the merchant missed the payment */
	SWEEP_ORDER_CLOSED,    /* CLOSED at WeChat Pay already */
	SWEEP_ORDER_WAIT,      /* USERPAYING before its time_expire (or without one) */
	SWEEP_ORDER_SKIP       /* PAYERROR, REVOKED or unknown: not ours to decide */
};
enum sweep_order_decision sweep_decide_order(const char *trade_state, bool has_expire,
                                             int64_t expire_ts, int64_t now);

enum sweep_close_outcome {
	SWEEP_CLOSE_DONE,  /* CLOSED: the close took effect */
	SWEEP_CLOSE_PAID,  /* SUCCESS/REFUND: paid meanwhile: mark paid, never retry */
	SWEEP_CLOSE_FAILED /* anything else: failed; a later sweep tries again */
};
/* Judges a close by the query after it. */
enum sweep_close_outcome sweep_after_close(const char *trade_state);

/* Ledger state of an order WeChat Pay says is paid: PAID, PARTIAL_REFUNDED
 * or REFUNDED by the ledger's successful refunds (REFUND state only). */
const char *sweep_paid_state(const char *trade_state, int64_t total_fen, int64_t refunded_fen);

/*
 * Whether this run's count (or amount, when max_amount_fen >= 0) goes over a
 * brake; why gets one line naming the policy key, e.g. "brake: 1500 orders
 * to close, more than close_max_per_run = 1000; nothing was done".
 */
bool sweep_brake(long count, long max_count, const char *count_key, int64_t amount_fen,
                 int64_t max_amount_fen, const char *amount_key, const char *what, char *why,
                 size_t n);

#endif
