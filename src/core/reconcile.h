/*
 * reconcile.h - the reconciliation engine (SPEC 4-8): diffs a day's stored
 * bills against the ledger, records findings as discrepancies with a stable
 * lifecycle, applies the auto-resolutions that policy allows.
 *
 * A day D:
 *   - a payment belongs to the ledger's paid_date, a refund to its
 *     created_date; bill rows belong to the bill's date;
 *   - bill rows and ledger rows match by mchid + out_trade_no (refunds:
 *     out_refund_no), falling back to transaction_id (refunds: refund_id);
 *   - every finding is keyed (mchid, date, kind, key); re-running a date
 *     updates the same row. An open finding that is no longer found is
 *     marked resolved (resolved_by 'reconcile', resolved_run_id = the run);
 *     one that comes back is reopened, same id. A finding resolved by a
 *     person (or auto-resolved) stays so while its amounts and states are
 *     unchanged; a change reopens it.
 *
 * The rule of each kind (key in brackets; "bill amount" and "ledger amount"
 * are the discrepancy's bill_amount and ledger_amount columns):
 *   MISSING_IN_LEDGER [out_trade_no]  a SUCCESS row of D's trade bill that
 *       matches no ledger order. bill amount = 订单金额 (see AMOUNT_MISMATCH).
 *   MISSED_PAYMENT [out_trade_no]  a SUCCESS row of D's bill whose ledger
 *       order is NOTPAY or CLOSED. Auto-resolution below.
 *   AMOUNT_MISMATCH [out_trade_no]  a SUCCESS row of D's bill whose ledger
 *       order (any state) has amount_total != the row's 订单金额
 *       (order_amount): both are the order's full amount before coupons.
 *       应结订单金额 is net of merchant-funded coupons and so differs from
 *       amount_total whenever such a coupon is used. Legacy-layout bills have
 *       no 订单金额 (stored 0); then 总金额 (stored in settlement_amount) is used.
 *   MISSING_IN_BILL [out_trade_no]  a ledger order PAID / PARTIAL_REFUNDED /
 *       REFUNDED with paid_date D that has no SUCCESS row in the bills of
 *       D-1, D or D+1 (those stored). Only looked for when D's trade bill is
 *       stored. When D+1's bill is not stored yet the order query hook
 *       decides: paid after D -> pending (wait for D+1's bill); not paid,
 *       unknown to WeChat Pay, or paid on/before D -> raised. Without a hook
 *       (or dry run, or the query failed) it stays pending: not raised, and
 *       an open one is not resolved.
 *   REFUND_MISSING_IN_LEDGER [out_refund_no]  a REFUND row of D's bill that
 *       matches no ledger refund. bill amount = 申请退款金额 (see below).
 *   REFUND_MISSING_IN_BILL [out_refund_no]  a ledger refund SUCCESS with
 *       created_date D that has no REFUND row in the bills of D-1, D or D+1
 *       (those stored). Only looked for when D's trade bill is stored.
 *   REFUND_AMOUNT_MISMATCH [out_refund_no]  amount_refund != the row's
 *       申请退款金额 (refund_apply_amount, what was asked for; 退款金额 is net of
 *       coupons); legacy bills without it: 退款金额.
 *   REFUND_STATUS_MISMATCH [out_refund_no]  the ledger's state != the row's
 *       退款状态 (REFUNDCLOSE read as CLOSED, CHANGE as ABNORMAL; an empty
 *       status is not compared). The bill's status is a snapshot, so the
 *       refund query hook settles it: the ledger is synced to the answer (a
 *       REFUND_SYNC action, intent -> done, audited) and the finding is
 *       auto_resolved. Without an answer it stays open.
 *   DUPLICATE_PAYMENT [out_trade_no of the extra payment]  a SUCCESS row of
 *       D's bill (a) whose ledger order has a business_ref that another
 *       ledger order has too, the other paid per a SUCCESS row of any stored
 *       bill earlier (trade time, then out_trade_no) - the first payment of a
 *       business_ref is not a finding, each later one is; or (b) whose
 *       transaction_id is on an earlier SUCCESS row (earlier date, or same
 *       file and earlier line). Dates reconciled out of order can miss (a)
 *       or (b): re-run the later date.
 *   BILL_SUMMARY_MISMATCH [trade:FIELD | fundflow:FIELD | trade:summary |
 *       fundflow:summary]  a summary value != the same sum over the stored
 *       rows (trade: total_count, settlement_total, refund_total,
 *       recharge_refund_total, fee_total, order_total, refund_apply_total;
 *       fund flow: total_count, income_count, income_amount, expense_count,
 *       expense_amount). bill amount = the summary's value, ledger amount =
 *       the rows' sum. ":summary" = a bill with rows but no summary.
 *   BILL_MISSING [trade]  no trade bill stored for D, the ledger has a
 *       payment (paid_date D) or a refund (created_date D) that day, and
 *       now >= 00:00 of D+1 + release_time + missing_after.
 *       ledger amount = the day's paid amount_total sum.
 *   BALANCE_DISCONTINUITY [资金流水单号 (flow_no)]  a fund-flow row whose
 *       balance != previous balance + income - expense, in line order; the
 *       first row of D uses the last balance of the nearest earlier stored
 *       non-empty fund-flow bill when every day in between is stored.
 *       bill amount = the row's balance, ledger amount = the expected one.
 *   FEE_MISMATCH [微信支付业务单号]  |recon_fee_to_fen(trade row 手续费)| !=
 *       the sum of the fund-flow lines with that 微信支付业务单号 (payments:
 *       transaction_id, 业务类型 扣除交易手续费; refunds: refund_id, 退还交易手续费),
 *       on whatever day they were booked. No line yet: no finding. Dated by
 *       the later of the trade row's date and its lines' dates (so the
 *       nightly run of the day a late line is booked sees it).
 *       bill amount = the trade row's fee in fen, ledger amount = the lines'.
 *
 * MISSED_PAYMENT auto-resolution. Only when the ledger amount equals the
 * bill's (else it stays open with an AMOUNT_MISMATCH beside it). If the
 * order was closed by us (an ORDER_CLOSE action in state sent or done),
 * paid_after_close applies: mark_paid as below; hold keeps it open; refund
 * files a REFUND action for the full 订单金额, out_refund_no
 * recon_pac_refund_no(out_trade_no), state intent, or pending_approval when
 * above approval_above - sending it (and writing its ledger_refunds row) is
 * the action runner's job; the finding is auto_resolved while the action is
 * intent/sent/done and open while it waits for approval, failed or was
 * cancelled. Otherwise, mark_paid_on_missed_notify: an ORDER_MARK_PAID
 * action (intent -> done), the ledger order set PAID with the bill's
 * transaction_id and trade time, audited, finding auto_resolved.
 *
 * Effects go in one transaction per day (a savepoint when the caller has
 * one open). The query hooks are called before it, outside any transaction
 * of ours, so a slow WeChat Pay does not hold the database's write lock:
 * call reconcile_day outside a transaction. Dry run computes everything,
 * rolls it all back and calls no hook (findings that need a query are then
 * reported as when offline).
 */
#ifndef WXR_RECONCILE_H
#define WXR_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "db/db.h"
#include "db/recon_rows.h"

/* What the order query (GET .../out-trade-no/{no}) said. */
struct recon_order_answer {
	char trade_state[32];    /* SUCCESS, REFUND, NOTPAY, CLOSED, ... */
	char transaction_id[64]; /* "" until paid */
	int64_t amount_total;    /* fen */
	int64_t success_ts;      /* Unix seconds; 0 when not paid */
};

/* What the refund query (GET /v3/refund/domestic/refunds/{no}) said. */
struct recon_refund_answer {
	char status[32]; /* SUCCESS, PROCESSING, CLOSED, ABNORMAL */
	char refund_id[64];
	int64_t amount_refund; /* fen */
	int64_t success_ts;    /* Unix seconds; 0 unless SUCCESS */
};

/*
 * Queries the caller implements with the WeChat Pay client. Each returns
 * 0 with *out filled when WeChat Pay answered; WXR_ENOTFOUND when it said
 * the order/refund does not exist; WXR_ESIG (an unverifiable answer) stops
 * the day with that error; any other negative code means "no answer" (the
 * finding stays pending or open and result.query_failures counts it).
 * Either pointer may be NULL.
 */
struct recon_hooks {
	int (*query_order)(void *ctx, const char *mchid, const char *out_trade_no,
	                   struct recon_order_answer *out, struct wxr_err *err);
	int (*query_refund)(void *ctx, const char *mchid, const char *out_refund_no,
	                    struct recon_refund_answer *out, struct wxr_err *err);
	void *ctx;
};

struct recon_opts {
	const char *mchid; /* borrowed; must be the mchid the ledger rows, bill_files
	                      and bill_trades/bill_fundflows rows carry */
	int64_t run_id;    /* job_runs id: first/last/resolved_run_id; 0 = none */
	bool dry_run;      /* compute and report, write nothing, no hooks */
	int tz_offset_s;   /* the configured timezone, seconds east of UTC */
	int64_t now_ts;    /* business now (clock_now()); never read here */
	bool mark_paid_on_missed_notify;
	enum paid_after_close paid_after_close;
	int64_t approval_above;          /* fen; a refund above it is pending_approval */
	int64_t release_time_s;          /* [bills] release_time as seconds after 00:00 */
	int64_t missing_after_s;         /* [bills] missing_after */
	const struct recon_hooks *hooks; /* borrowed; NULL = offline */
};

/* SPEC 3 defaults: +08:00, mark paid, paid_after_close mark_paid,
 * approval_above 50000, release 10:00, missing_after 24h; no hooks. */
void recon_opts_init(struct recon_opts *opts);

/*
 * Reconciles one date (YYYY-MM-DD) for opts->mchid. out is overwritten.
 * Returns 0, or a negative WXR_E* with nothing of that date written.
 */
int reconcile_day(struct db *db, const struct recon_opts *opts, const char *date,
                  struct recon_result *out, struct wxr_err *err);

/*
 * Each date from..to (inclusive, ascending), one transaction each; day_cb
 * (may be NULL) is called after each with that day's result (for progress).
 * out sums the days (by_kind, total and needs_attention cover every date;
 * trade_bill/fundflow_bill are the last date's). Stops at the first error;
 * the dates before it stay done.
 */
int reconcile_range(struct db *db, const struct recon_opts *opts, const char *from, const char *to,
                    void (*day_cb)(void *ctx, const char *date, const struct recon_result *day),
                    void *cb_ctx, struct recon_result *out, struct wxr_err *err);

/*
 * Finance marks discrepancy id handled: status resolved, resolution = note
 * (required), resolved_by = who; an event and an audit entry are written.
 * WXR_ENOTFOUND when there is no such id.
 */
int reconcile_resolve(struct db *db, int64_t id, const char *note, const char *who,
                      struct wxr_err *err);

/*
 * Calls cb for each discrepancy event of mchid with a date in from..to
 * (either may be NULL: open-ended) recorded after run since_run_id finished
 * reconciling (later reconcile runs and people's resolutions), oldest
 * first. WXR_ENOTFOUND when that run reconciled nothing for mchid. A
 * negative return from cb stops and is returned.
 */
int reconcile_changes_since(struct db *db, const char *mchid, int64_t since_run_id,
                            const char *from, const char *to,
                            int (*cb)(void *ctx, const struct recon_change *c, struct wxr_err *err),
                            void *cb_ctx, struct wxr_err *err);

int recon_day_totals(struct db *db, const char *mchid, const char *date,
                     struct recon_day_totals *out, struct wxr_err *err);

/*
 * The one rounding of a bill fee (0.00001 yuan) to fen: half away from zero
 * (0.00500 -> 0.01, -0.00500 -> -0.01). WeChat Pay does not document its
 * rule; FEE_MISMATCH and the report's net use only this function.
 */
int64_t recon_fee_to_fen(int64_t fee_e5);

/* The out_refund_no of the paid_after_close refund of an order:
 * "PAC-<out_trade_no>" (at most 4 + 32 chars, allowed by WeChat Pay).
 * Returns a new string; caller frees. */
char *recon_pac_refund_no(const char *out_trade_no);

#endif
