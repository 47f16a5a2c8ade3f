/*
 * db_reconcile.h - the SQL of the reconciliation engine (src/reconcile.c
 * holds the decisions; every statement is here).
 *
 * A day's work happens in TEMP tables of the connection:
 *   recon_found   the findings of this run (kind, key, both sides, pending)
 *   recon_ask     what needs a query hook; recon_answers what it said
 *   recon_pay / recon_ref   bill payment / refund rows of the day that
 *                 need a look, with their ledger match
 *   recon_merge / recon_events / recon_checked   the merge into
 *                 discrepancies
 * db_recon_setup() creates them (once per connection) and empties them.
 */
#ifndef WXR_DB_RECONCILE_H
#define WXR_DB_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "db/recon_rows.h"

/* Everything a day's statements bind, by name (:m, :d, ...). */
struct db_recon_day {
	const char *mchid;      /* :m */
	const char *date;       /* :d */
	const char *prev;       /* :dprev, D-1 */
	const char *next;       /* :dnext, D+1 */
	int64_t trade_file;     /* :tf, bill_files.id of D's trade bill; 0 = none */
	int64_t fund_file;      /* :ff, fund-flow bill; 0 = none */
	bool next_trade_stored; /* :next_stored */
	bool have_carry;        /* :carry = carry when set, else NULL */
	int64_t carry;          /* closing balance before D's first fund-flow row */
	int64_t run_id;         /* :run; 0 binds NULL */
	const char *now;        /* :now, RFC 3339 */
};

/* Creates (if needed) and empties the temp tables; registers the SQL
 * function recon_fee_to_fen() on the connection. */
int db_recon_setup(struct db *db, struct wxr_err *err);

/* The bill_files row of (mchid, date, kind): id (0 when none) and status
 * ("ok", "empty", "missing", or "pruned" when prune dropped its rows). */
int db_recon_bill_file(struct db *db, const char *mchid, const char *date, const char *kind,
                       int64_t *out_id, char out_status[8], struct wxr_err *err);

/* Ledger activity of a date: paid orders with that paid_date (count and
 * amount_total sum) plus refunds with that created_date (count). */
int db_recon_ledger_activity(struct db *db, const char *mchid, const char *date,
                             int64_t *out_payments, int64_t *out_amount, int64_t *out_refunds,
                             struct wxr_err *err);

/* Balance of the last line of a fund-flow file; *out_have false when it has
 * no rows. */
int db_recon_closing_balance(struct db *db, int64_t file_id, bool *out_have, int64_t *out_balance,
                             struct wxr_err *err);

/* One fund-flow line; strings borrowed for the callback. */
struct db_recon_flow {
	int64_t line;
	const char *flow_no;
	const char *biz_no;
	bool income;     /* direction IN */
	int64_t amount;  /* fen, unsigned */
	int64_t balance; /* fen, after this line */
};

/* Streams a fund-flow file's lines in line order (one index-ordered scan). */
int db_recon_fund_rows(struct db *db, int64_t file_id,
                       int (*cb)(void *ctx, const struct db_recon_flow *f, struct wxr_err *err),
                       void *ctx, struct wxr_err *err);

/* Phase 1: fills recon_ask with the orders (kind "order") whose
 * MISSING_IN_BILL needs a query and the refunds (kind "refund") whose status
 * mismatch needs one, as far as asked for. */
int db_recon_collect_asks(struct db *db, const struct db_recon_day *day, bool orders, bool refunds,
                          struct wxr_err *err);

struct db_recon_ask {
	char kind[8]; /* "order" | "refund" */
	char *key;    /* owned: out_trade_no / out_refund_no */
};

/* Returns the asks as a new array (free with db_recon_asks_free). */
int db_recon_asks(struct db *db, struct db_recon_ask **out, size_t *out_n, struct wxr_err *err);
void db_recon_asks_free(struct db_recon_ask *asks, size_t n);

/* Records a hook's answer. ok false = no answer. success_date may be NULL. */
int db_recon_put_answer(struct db *db, const char *kind, const char *key, bool ok,
                        const char *state, int64_t amount, const char *ext_id, int64_t success_ts,
                        const char *success_date, struct wxr_err *err);

/* Runs the set-based finders into recon_found: with D's trade bill the
 * payment, refund, duplicate and MISSING_IN_BILL ones; the fee ones with
 * either bill. */
int db_recon_find(struct db *db, const struct db_recon_day *day, struct wxr_err *err);

/* Marks a kind as looked at in this run: its open findings that were not
 * found again are resolved by the merge. */
int db_recon_check_kind(struct db *db, const char *kind, struct wxr_err *err);

/* A finding computed in C. Amounts RECON_NULL_AMOUNT = NULL; strings may be
 * NULL. Ignored if (kind, key) is already found. */
struct db_recon_finding {
	const char *kind;
	const char *key;
	const char *out_trade_no;
	const char *out_refund_no;
	const char *transaction_id;
	int64_t ledger_amount;
	int64_t bill_amount;
	const char *ledger_state;
	const char *bill_state;
	const char *detail;
};

int db_recon_add_found(struct db *db, const struct db_recon_finding *f, struct wxr_err *err);

/* Sets a finding's status ("open" | "auto_resolved") and resolution, and
 * appends note (may be NULL) to its detail. */
int db_recon_found_set(struct db *db, const char *kind, const char *key, const char *status,
                       const char *resolution, const char *note, struct wxr_err *err);

/* Summary vs rows of one bill file. */
#define DB_RECON_TRADE_FIELDS 7
#define DB_RECON_FUND_FIELDS  5
struct db_recon_sums {
	bool have_summary;
	int64_t rows;
	int64_t summary[DB_RECON_TRADE_FIELDS]; /* in the order of the field names */
	int64_t sums[DB_RECON_TRADE_FIELDS];
};
extern const char *const db_recon_trade_fields[DB_RECON_TRADE_FIELDS];
extern const char *const db_recon_fund_fields[DB_RECON_FUND_FIELDS];

int db_recon_trade_sums(struct db *db, int64_t file_id, struct db_recon_sums *out,
                        struct wxr_err *err);
/* Only the fund-flow summary (sums are left 0: the balance walk adds the
 * rows up in the same scan). */
int db_recon_fund_summary(struct db *db, int64_t file_id, struct db_recon_sums *out,
                          struct wxr_err *err);

/* A MISSED_PAYMENT finding with what its auto-resolution needs. */
struct db_recon_missed {
	char *key;            /* owned: the bill's out_trade_no */
	char *ledger_key;     /* owned: the ledger order's out_trade_no */
	char *transaction_id; /* owned */
	char *bill_time;      /* owned: the bill's trade time as stored */
	char *ledger_state;   /* owned */
	int64_t ledger_amount;
	int64_t bill_amount;
	bool closed_by_us; /* an ORDER_CLOSE action in state sent or done */
};

int db_recon_missed(struct db *db, const struct db_recon_day *day, struct db_recon_missed **out,
                    size_t *out_n, struct wxr_err *err);
void db_recon_missed_free(struct db_recon_missed *m, size_t n);

/* A REFUND_STATUS_MISMATCH finding that has a refund query answer. */
struct db_recon_rstatus {
	char *key;              /* owned: the bill's out_refund_no */
	char *ledger_key;       /* owned: the ledger refund's out_refund_no */
	char *ledger_state;     /* owned */
	char *bill_state;       /* owned */
	char *answer_state;     /* owned: the query's status, "NOT_FOUND" when unknown */
	char *answer_refund_id; /* owned */
	int64_t answer_success_ts;
};

int db_recon_rstatus(struct db *db, struct db_recon_rstatus **out, size_t *out_n,
                     struct wxr_err *err);
void db_recon_rstatus_free(struct db_recon_rstatus *r, size_t n);

/*
 * The action (mchid, kind, target): inserted with state/amount/params when
 * absent; when present and rearm is true and its state is done or failed,
 * set back to state with the new params. Returns its id and current state
 * and whether this call wrote it.
 */
int db_recon_action_put(struct db *db, const struct db_recon_day *day, const char *kind,
                        const char *target, const char *state, int64_t amount, const char *params,
                        bool rearm, int64_t *out_id, char out_state[24], bool *out_written,
                        struct wxr_err *err);
int db_recon_action_done(struct db *db, const struct db_recon_day *day, int64_t id,
                         const char *result, struct wxr_err *err);

/* Sets the ledger order PAID (only from NOTPAY or CLOSED). */
int db_recon_order_mark_paid(struct db *db, const struct db_recon_day *day,
                             const char *out_trade_no, const char *transaction_id,
                             const char *paid_at, int64_t paid_ts, const char *paid_date,
                             bool *out_changed, struct wxr_err *err);

/* Sets a ledger refund's state from a query (success_at NULL: unchanged). */
int db_recon_refund_sync(struct db *db, const struct db_recon_day *day, const char *out_refund_no,
                         const char *state, const char *refund_id, const char *success_at,
                         int64_t success_ts, struct wxr_err *err);

/* Merges recon_found into discrepancies and writes discrepancy_events;
 * counts what it did into out (opened ... unchanged). */
int db_recon_merge(struct db *db, const struct db_recon_day *day, struct recon_result *out,
                   struct wxr_err *err);

/* Largest discrepancy_events id (0 when none). */
int db_recon_max_event_id(struct db *db, int64_t *out_id, struct wxr_err *err);

/* Calls cb for each discrepancy event with id > after_id, optionally only of
 * mchid and dates from..to (NULLs: any), in id order. */
int db_recon_events(struct db *db, int64_t after_id, const char *mchid, const char *from,
                    const char *to,
                    int (*cb)(void *ctx, const struct recon_change *c, struct wxr_err *err),
                    void *ctx, struct wxr_err *err);

/* The last_event_id of run_id for mchid; WXR_ENOTFOUND when none. */
int db_recon_run_mark(struct db *db, const char *mchid, int64_t run_id, int64_t *out_event_id,
                      struct wxr_err *err);

/* Adds the findings of (mchid, date) by kind and status into out. */
int db_recon_counts(struct db *db, const char *mchid, const char *date, struct recon_result *out,
                    struct wxr_err *err);

/* Records (upserts) the recon_runs row of this day. */
int db_recon_record_run(struct db *db, const struct db_recon_day *day, const struct recon_result *r,
                        int64_t last_event_id, struct wxr_err *err);

/* Person's resolve of discrepancy id. out_* describe it for the audit
 * (owned strings, free()). */
int db_recon_resolve(struct db *db, int64_t id, const char *note, const char *who, const char *now,
                     char **out_old_status, char **out_kind, char **out_key, char **out_date,
                     struct wxr_err *err);

int db_recon_day_totals(struct db *db, const char *mchid, const char *date,
                        struct recon_day_totals *out, struct wxr_err *err);

/* A transaction for the day: BEGIN IMMEDIATE when none is open, else a
 * SAVEPOINT. end commits (or releases) when commit is true, else rolls back
 * to where begin was. */
struct db_recon_tx {
	bool savepoint;
	bool active;
};
int db_recon_begin(struct db *db, struct db_recon_tx *tx, struct wxr_err *err);
int db_recon_end(struct db *db, struct db_recon_tx *tx, bool commit, struct wxr_err *err);

#endif
