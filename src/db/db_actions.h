/*
 * db_actions.h - the actions table (SPEC 7, 8): the intent log of every
 * money-moving or fate-changing action, and the ledger reads and writes that
 * the sweeps make. Every statement of the sweeps and of `actions`/`approve`
 * is here; sweep.c holds the decisions.
 *
 * An action is keyed by (mchid, kind, target) (UNIQUE), so one order has at
 * most one ORDER_CLOSE and one refund at most one ABNORMAL_REFUND: the key is
 * the idempotency of the engine, never process memory (SPEC 10). States:
 *
 *   intent            written (committed) before the call; not sent yet
 *   sent              the call may have reached WeChat Pay; answer not recorded
 *   done / failed     the answer (or the query after it) was recorded
 *   pending_approval  held until `wxrecon approve` (which makes it an intent)
 *   cancelled         called off (e.g. a close whose order turned out paid)
 *
 * Changes are compare-and-set on the state (actions_move), so two processes
 * can never both move one action on. These functions do not open
 * transactions: the caller groups them with the audit entries.
 */
#ifndef WXR_DB_ACTIONS_H
#define WXR_DB_ACTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"
#include "db/db.h"

#define ACTION_KIND_LEN  24
#define ACTION_STATE_LEN 24

/* One row of actions. Strings are owned (NULL when the column is NULL). */
struct action {
	int64_t id;
	char *mchid;
	char kind[ACTION_KIND_LEN];
	char *target;
	char state[ACTION_STATE_LEN];
	bool has_amount;
	int64_t amount;            /* fen */
	char date[CLOCK_DATE_LEN]; /* "" when NULL */
	char *params;              /* JSON object text; never holds a secret */
	char *result;
	char *error;
	char *note;
	int64_t run_id; /* 0 when NULL */
	int attempts;
	char *created_at, *updated_at;
	char *approved_by, *approval_note, *approved_at;
	int64_t sent_ts; /* real clock (Unix s) of the last move to sent; 0 when unknown */
};
void action_release(struct action *a);
void actions_free(struct action *v, size_t n);

struct action_new {
	const char *mchid;
	const char *kind;
	const char *target;
	const char *state; /* "intent" or "pending_approval" */
	bool has_amount;
	int64_t amount;
	const char *date;   /* business date YYYY-MM-DD */
	const char *params; /* JSON text or NULL */
	const char *note;   /* or NULL */
	int64_t run_id;     /* 0 = none */
	const char *now;    /* RFC 3339 */
};

/*
 * Inserts the action. When (mchid, kind, target) exists already and its
 * state is one of rearm (NULL-terminated, may be NULL), the row is set back
 * to a->state with the new amount, params, note and run, result and error
 * cleared (attempts and approval kept); otherwise it is left alone.
 * *out is the row as it is afterwards; *out_written tells whether it was
 * inserted or re-armed.
 */
int actions_open(struct db *db, const struct action_new *a, const char *const *rearm,
                 struct action *out, bool *out_written, struct wxr_err *err);

/* *out_found false (and out untouched) when there is no such action. */
int actions_get(struct db *db, const char *mchid, const char *kind, const char *target,
                struct action *out, bool *out_found, struct wxr_err *err);
int actions_get_id(struct db *db, int64_t id, struct action *out, bool *out_found,
                   struct wxr_err *err);

struct action_change {
	const char *to;     /* new state */
	const char *result; /* NULL keeps the column */
	const char *error;  /* NULL keeps; "" clears */
	const char *note;   /* NULL keeps */
	const char *params; /* NULL keeps */
	int64_t run_id;     /* 0 keeps */
	const char *now;
	int64_t sent_ts; /* moving to "sent": the real clock (Unix s), kept as sent_ts */
};
/*
 * Moves action id from state `from` to c->to, compare-and-set: WXR_EFAIL
 * ("action N is no longer <from>") when the row is not in `from` any more.
 * Moving to "sent" counts an attempt.
 */
int actions_move(struct db *db, int64_t id, const char *from, const struct action_change *c,
                 struct wxr_err *err);

/* `wxrecon approve`: pending_approval -> intent, with who, note and when.
 * WXR_ENOTFOUND when there is no such action (of mchid, unless mchid is "");
 * WXR_EFAIL naming the state when it is not pending_approval. *out: the row
 * before the change. */
int actions_approve(struct db *db, int64_t id, const char *mchid, const char *who, const char *note,
                    const char *now, struct action *out, struct wxr_err *err);

struct action_filter {
	const char *mchid;         /* "" = every merchant */
	bool pending;              /* intent, sent, failed, pending_approval: whatever the date */
	const char *from, *to;     /* business dates, inclusive; NULL = any */
	const char *const *kinds;  /* NULL-terminated; NULL = any */
	const char *const *states; /* NULL-terminated; NULL = any */
};
/* Matching actions by id. *out: new array, actions_free(). */
int actions_list(struct db *db, const struct action_filter *f, struct action **out, size_t *out_n,
                 struct wxr_err *err);
/* How many actions of mchid with one of kinds are in state. */
int actions_count(struct db *db, const char *mchid, const char *const *kinds, const char *state,
                  long *out, struct wxr_err *err);

/* ---- the ledger, as the sweeps read and change it ---- */

struct sweep_order {
	char *out_trade_no;
	int64_t amount_total; /* fen */
	char state[20];
	int64_t created_ts;
	bool has_expire;
	int64_t expire_ts;
	char *created_at;
};
void sweep_orders_free(struct sweep_order *v, size_t n);

/*
 * NOTPAY orders of mchid created before created_before (strictly) and, when
 * they have a time_expire, past it at now; oldest first. Orders with an
 * ORDER_CLOSE or ORDER_MARK_PAID action that is intent, sent or
 * pending_approval are left out (they are settled or held). *out_total =
 * every eligible order; at most limit (0 = all) are returned.
 */
int actions_order_candidates(struct db *db, const char *mchid, int64_t created_before, int64_t now,
                             long limit, struct sweep_order **out, size_t *out_n, long *out_total,
                             struct wxr_err *err);
int actions_order_get(struct db *db, const char *mchid, const char *out_trade_no,
                      struct sweep_order *out, bool *out_found, struct wxr_err *err);
/* Sum (fen) of the ledger's SUCCESS refunds of an order. */
int actions_order_refunded(struct db *db, const char *mchid, const char *out_trade_no,
                           int64_t *out_fen, struct wxr_err *err);
/* NOTPAY -> CLOSED. *out_changed false when the order was not NOTPAY. */
int actions_order_close(struct db *db, const char *mchid, const char *out_trade_no, const char *now,
                        bool *out_changed, struct wxr_err *err);
/* NOTPAY -> state (PAID, PARTIAL_REFUNDED, REFUNDED) with the payment. */
int actions_order_paid(struct db *db, const char *mchid, const char *out_trade_no,
                       const char *state, const char *transaction_id, const char *paid_at,
                       int64_t paid_ts, const char *paid_date, const char *now, bool *out_changed,
                       struct wxr_err *err);

/*
 * The payment a stored trade bill shows for out_trade_no: the SUCCESS row
 * with transaction_id (any, when NULL or ""), earliest bill and line first.
 * *out_trade_time and *out_transaction_id: new strings, the trade time as
 * stored (RFC 3339, or the bill's "YYYY-MM-DD HH:MM:SS" in Beijing time).
 * *out_found false (outputs untouched) when no stored bill has it.
 */
int actions_bill_payment(struct db *db, const char *mchid, const char *out_trade_no,
                         const char *transaction_id, char **out_trade_time,
                         char **out_transaction_id, bool *out_found, struct wxr_err *err);

struct sweep_refund {
	char *out_refund_no;
	char *out_trade_no;
	char *refund_id; /* NULL when the ledger does not know it */
	int64_t amount_refund;
	char state[20];
};
void sweep_refunds_free(struct sweep_refund *v, size_t n);

/* PROCESSING and ABNORMAL refunds of mchid, oldest first; *out_total and limit as above. */
int actions_refund_candidates(struct db *db, const char *mchid, long limit,
                              struct sweep_refund **out, size_t *out_n, long *out_total,
                              struct wxr_err *err);
int actions_refund_get(struct db *db, const char *mchid, const char *out_refund_no,
                       struct sweep_refund *out, bool *out_found, struct wxr_err *err);
/* from -> to, with refund_id (NULL keeps) and success time (NULL keeps). */
int actions_refund_sync(struct db *db, const char *mchid, const char *out_refund_no,
                        const char *from, const char *to, const char *refund_id,
                        const char *success_at, int64_t success_ts, const char *now,
                        bool *out_changed, struct wxr_err *err);

#endif
