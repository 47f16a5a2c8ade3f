/*
 * exceptions.h - the exception queue (issue 19): what an open discrepancy
 * weighs (age, severity, WeChat Pay's due date) and what a person does to
 * it (assign, comment, resolve several at once), each change audited.
 *
 * Nothing here is stored that the clock would make stale: age, severity
 * and due dates are computed when read, from "now" (WXRECON_NOW in tests)
 * and the [policy] thresholds. Owners, the assignment history and comments
 * are stored (schema/013_exceptions.sql).
 *
 * Due dates (PROTOCOL 4.6, 4.7, 6.6):
 *   a refund-type fix (the remedy may be a refund: MISSED_PAYMENT,
 *   MISSING_IN_LEDGER, AMOUNT_MISMATCH, DUPLICATE_PAYMENT,
 *   REFUND_MISSING_IN_BILL, REFUND_AMOUNT_MISMATCH, REFUND_STATUS_MISMATCH)
 *   is due within 365 days of the payment's success time, fixed: the
 *   deadline is payment + 365 days. The payment is the ledger order's
 *   paid_ts, else the bill's SUCCESS row's trade time, else (payment kinds,
 *   dated by their payment) the start of the discrepancy's date; a refund
 *   kind whose payment is unknown has no due date.
 *   A bill-type fix (the proof is a bill to fetch again: BILL_MISSING,
 *   BILL_SUMMARY_MISMATCH, BALANCE_DISCONTINUITY, FEE_MISMATCH,
 *   MISSING_IN_BILL) is due while the bill of its date is downloadable:
 *   WeChat Pay keeps "the last 3 months" without saying where the edge is,
 *   so the last day taken is the day before the date plus three calendar
 *   months (2026-11-30 -> 2027-02-27: 02-30 is clamped to 02-28 first).
 *   REFUND_MISSING_IN_LEDGER (the money went back already) has none.
 * due_date is the last day to act, in the configured timezone; the
 * discrepancy is overdue from the first second after it.
 *
 * Severity is the worst of three: the amount at stake (|ledger - bill|
 * when both sides have one, else the one there) against
 * severity_{medium,high,critical}_above, the age since it was first found
 * against severity_{medium,high,critical}_after, and critical from
 * due_warn_days days before the due date on (overdue included).
 */
#ifndef WXR_EXCEPTIONS_H
#define WXR_EXCEPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"
#include "core/config.h"
#include "db/db_exceptions.h"
#include "db/exc_rows.h"
#include "wxrecon.h"

#define EXC_REFUND_WINDOW_S ((int64_t)365 * 86400) /* refunds: success_time + 365 days */
#define EXC_BILL_WINDOW_MON 3                      /* bills: the last 3 months */
#define EXC_DAY_S           ((int64_t)86400)

struct exc_policy {
	int64_t above[EXC_SEVERITY_COUNT];   /* fen; [EXC_MEDIUM..EXC_CRITICAL] used */
	int64_t after_s[EXC_SEVERITY_COUNT]; /* seconds; [EXC_MEDIUM..EXC_CRITICAL] used */
	int64_t due_warn_days;
	int tz_offset_s;
};

/* The [policy] keys of cfg. */
void exc_policy_from_config(const struct config *cfg, struct exc_policy *out);

/* "low", "medium", "high", "critical". */
const char *exc_severity_name(enum exc_severity s);
/* Parses a severity name; -1 when it is none. */
int exc_severity_parse(const char *s);
/* Which deadline the fix of a discrepancy kind has. */
enum exc_fix exc_kind_fix(const char *kind);

/* What the assessment reads (borrowed). */
struct exc_facts {
	const char *kind;
	const char *date; /* the discrepancy's date */
	bool has_ledger_amount, has_bill_amount;
	int64_t ledger_amount, bill_amount;
	int64_t found_ts; /* when it was first found */
	bool has_payment_ts;
	int64_t payment_ts; /* the payment behind it, when known */
};

/* Assesses f at now. Pure: no clock, no database. */
void exc_assess(const struct exc_policy *p, const struct exc_facts *f, int64_t now,
                struct exc_assessment *out);

/* The facts of a stored row (borrowing its strings). */
void exc_facts_of_row(const struct db_exc_row *row, int tz_offset_s, struct exc_facts *out);

/* ---- the queue ---- */

struct exc_filter {
	struct db_exc_query q;
	int min_severity;     /* -1 = any; else only open ones at least this severe */
	int64_t older_than_s; /* 0 = any; else only open ones at least this old */
};

/* One listed discrepancy: the stored row and, when open, its assessment. */
struct exc_item {
	const struct db_exc_row *row;
	bool open;
	struct exc_assessment a; /* zero when not open */
};

/* Calls cb for each discrepancy matching f, assessed at now. */
int exc_list(struct db *db, const struct exc_filter *f, const struct exc_policy *p, int64_t now,
             int (*cb)(void *ctx, const struct exc_item *it, struct wxr_err *err), void *ctx,
             struct wxr_err *err);

/* The ids of the open discrepancies matching f, by date then id (a new
 * array; caller frees). */
int exc_match_ids(struct db *db, const struct exc_filter *f, const struct exc_policy *p,
                  int64_t now, int64_t **out_ids, size_t *out_n, struct wxr_err *err);

/*
 * Gives discrepancies ids[0..n) of mchid ("" = any) to assignee, in one
 * transaction: each gets an assignment row and an audit entry
 * discrepancy.assigned {id, date, kind, key, from, to} by who. All or
 * nothing: an unknown id fails the lot (WXR_ENOTFOUND names it). Assigning
 * to the current owner changes nothing and is not recorded. *out_changed
 * (may be NULL) counts the real changes.
 */
int exc_assign(struct db *db, const char *mchid, const int64_t *ids, size_t n, const char *assignee,
               const char *who, int64_t now, size_t *out_changed, struct wxr_err *err);

/* Adds a comment to discrepancy id (audit: discrepancy.commented {id,
 * date, kind, key, note}). */
int exc_comment(struct db *db, const char *mchid, int64_t id, const char *note, const char *who,
                int64_t now, struct wxr_err *err);

/*
 * Resolves discrepancies ids[0..n) with note, in one transaction, each as
 * `resolve ID` does (reconcile_resolve: its event and its
 * discrepancy.resolved audit entry); with several, or chosen by a filter,
 * one more audit entry discrepancy.bulk_resolved {count, ids, note,
 * filter} (filter: the text that chose them, NULL for a list of ids). Ids that are not open fail
 * the lot.
 */
int exc_resolve(struct db *db, const char *mchid, const int64_t *ids, size_t n, const char *note,
                const char *who, const char *filter, struct wxr_err *err);

/* The history of discrepancy id: comments and assignments, oldest first. */
int exc_history(struct db *db, int64_t id,
                int (*cb)(void *ctx, const struct db_exc_event *e, struct wxr_err *err), void *ctx,
                struct wxr_err *err);

#endif
