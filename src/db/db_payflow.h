/*
 * db_payflow.h - the SQL of the payment flow (schema/007_payflow.sql and the
 * ledger rows it writes): orders placed by `order create`, refunds filed by
 * `refund create`, and the ledger changes and dedupe records of `notify
 * serve`. Every function runs inside the caller's transaction (db_begin);
 * none audits or decides anything: that is payflow.c's job.
 */
#ifndef WXR_DB_PAYFLOW_H
#define WXR_DB_PAYFLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"

/* A ledger order and, when `order create` placed it, its prepay parameters. */
struct payflow_db_order {
	char state[24];       /* NOTPAY, PAID, CLOSED, REFUNDED, PARTIAL_REFUNDED */
	char *transaction_id; /* "" when none */
	int64_t amount_total; /* fen */
	int64_t created_ts;
	int64_t paid_ts; /* 0 when not paid */
	/* payflow_orders (placed == true only) */
	bool placed;
	char *description, *time_expire, *attach, *notify_url; /* "" when NULL */
	int64_t payable_until_ts;
	char *prepay_id, *prepay_expires_at; /* "" when none yet */
};
void payflow_db_order_release(struct payflow_db_order *o);

/* Reads an order; *out_found false (and out untouched) when there is none. */
int payflow_db_order_get(struct db *db, const char *mchid, const char *out_trade_no,
                         struct payflow_db_order *out, bool *out_found, struct wxr_err *err);

/* What `order create` writes before it calls prepay. Times are Unix seconds;
 * tz_offset_s formats them for the ledger's text columns. */
struct payflow_db_new_order {
	const char *out_trade_no, *description, *attach, *notify_url;
	const char *time_expire; /* the RFC 3339 text sent, or NULL */
	int64_t expire_ts;       /* when time_expire != NULL */
	int64_t amount_total;
	int64_t created_ts;
	int64_t payable_until_ts;
};
/* Inserts the ledger order (NOTPAY) and its payflow_orders row. */
int payflow_db_order_insert(struct db *db, const char *mchid, int tz_offset_s,
                            const struct payflow_db_new_order *o, struct wxr_err *err);
/* Records a prepay_id handed out (prepays + 1, last_error cleared). */
int payflow_db_prepay_record(struct db *db, const char *mchid, const char *out_trade_no,
                             const char *prepay_id, const char *prepay_at, const char *expires_at,
                             struct wxr_err *err);
/* Records why the last prepay failed. */
int payflow_db_prepay_error(struct db *db, const char *mchid, const char *out_trade_no,
                            const char *error, struct wxr_err *err);

/*
 * Marks an order PAID (from NOTPAY or CLOSED only): transaction_id, paid_at
 * (at tz_offset_s), paid_ts, paid_date. *out_changed false when the row was
 * not in one of those states any more.
 */
int payflow_db_order_mark_paid(struct db *db, const char *mchid, const char *out_trade_no,
                               const char *transaction_id, int64_t paid_ts, int tz_offset_s,
                               bool *out_changed, struct wxr_err *err);
/* Fills an empty transaction_id of a paid order. */
int payflow_db_order_set_txn(struct db *db, const char *mchid, const char *out_trade_no,
                             const char *transaction_id, struct wxr_err *err);
/* Sets the state of a paid order (PAID, PARTIAL_REFUNDED, REFUNDED). */
int payflow_db_order_set_state(struct db *db, const char *mchid, const char *out_trade_no,
                               const char *state, struct wxr_err *err);

/* A ledger refund and, when `refund create` filed it, its request. */
struct payflow_db_refund {
	char state[16]; /* PROCESSING, SUCCESS, CLOSED, ABNORMAL */
	char *out_trade_no;
	char *refund_id; /* "" when none */
	int64_t amount_refund;
	int64_t created_ts;
	char *created_at;
	/* payflow_refunds (filed == true only) */
	bool filed;
	int64_t amount_total;
	char *reason, *notify_url; /* "" when NULL */
};
void payflow_db_refund_release(struct payflow_db_refund *r);
int payflow_db_refund_get(struct db *db, const char *mchid, const char *out_refund_no,
                          struct payflow_db_refund *out, bool *out_found, struct wxr_err *err);

/* The refunds of one order, as the local refund rules need them. */
struct payflow_db_refund_stats {
	long count;              /* every refund of the order */
	int64_t active_fen;      /* sum of those not CLOSED */
	int64_t success_fen;     /* sum of SUCCESS */
	int64_t last_created_ts; /* 0 when none */
};
int payflow_db_refund_stats(struct db *db, const char *mchid, const char *out_trade_no,
                            struct payflow_db_refund_stats *out, struct wxr_err *err);

struct payflow_db_new_refund {
	const char *out_refund_no, *out_trade_no, *reason, *notify_url;
	int64_t amount_refund, amount_total;
	int64_t created_ts;
};
/* Inserts the ledger refund (PROCESSING) and its payflow_refunds row. */
int payflow_db_refund_insert(struct db *db, const char *mchid, int tz_offset_s,
                             const struct payflow_db_new_refund *r, struct wxr_err *err);
/* Deletes a refund that WeChat Pay refused outright (both rows). */
int payflow_db_refund_delete(struct db *db, const char *mchid, const char *out_refund_no,
                             struct wxr_err *err);
/*
 * Updates a refund from an answer or a notification: state; refund_id when
 * given and the row has none; created_at/ts/date when created_ts > 0;
 * success_at/ts when success_ts > 0.
 */
int payflow_db_refund_update(struct db *db, const char *mchid, const char *out_refund_no,
                             const char *state, const char *refund_id, int64_t created_ts,
                             int64_t success_ts, int tz_offset_s, struct wxr_err *err);

/* ---- notifications ---- */

struct payflow_db_notification {
	const char *id, *event_type, *create_time;
	const char *out_trade_no, *out_refund_no, *transaction_id,
	        *refund_id; /* NULL or "" -> NULL */
	bool has_amount;
	int64_t amount;
	const char *state;
	const char *outcome; /* applied, unchanged, held, unknown, ignored */
	const char *reason;  /* may be NULL */
	int64_t received_ts;
};
/* *out_found: a notification with this id was already recorded. */
int payflow_db_notification_seen(struct db *db, const char *mchid, const char *id, bool *out_found,
                                 char out_outcome[16], struct wxr_err *err);
int payflow_db_notification_insert(struct db *db, const char *mchid,
                                   const struct payflow_db_notification *n, struct wxr_err *err);
/* Counts a repeat of a recorded notification. */
int payflow_db_notification_repeat(struct db *db, const char *mchid, const char *id, int64_t at_ts,
                                   struct wxr_err *err);

#endif
