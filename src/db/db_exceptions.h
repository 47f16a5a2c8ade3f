/*
 * db_exceptions.h - the SQL of the exception queue (issue 19): a
 * discrepancy's owner, its assignment history and its comments
 * (schema/013_exceptions.sql), and the one listing that carries what the
 * queue needs to compute age, severity and due dates (core/exceptions.c
 * holds those rules; nothing computed is stored).
 */
#ifndef WXR_DB_EXCEPTIONS_H
#define WXR_DB_EXCEPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"

/* What to list. Strings borrowed; "" (or NULL) means any. */
struct db_exc_query {
	const char *mchid;    /* "" = every merchant */
	const char *from;     /* YYYY-MM-DD, inclusive; NULL = open-ended */
	const char *to;       /* inclusive; NULL = open-ended */
	const char *status;   /* "open", "resolved" (with auto_resolved) or "all" */
	const char *kind;     /* a SPEC 6 kind, or "" */
	const char *assignee; /* NULL = anyone's or nobody's; "" = nobody's; else that owner's */
	int64_t id;           /* 0 = any; else only that discrepancy */
	bool report;          /* also read detail and description (the report's listing) */
};

/* One discrepancy as the queue reads it. Strings borrowed for the
 * callback; NULL where the column is NULL. */
struct db_exc_row {
	int64_t id;
	const char *mchid, *date, *kind, *key;
	const char *out_trade_no, *out_refund_no, *transaction_id;
	bool has_ledger_amount, has_bill_amount;
	int64_t ledger_amount, bill_amount; /* fen */
	const char *ledger_state, *bill_state;
	const char *status;
	const char *resolution, *resolved_by;
	const char *assignee;
	const char *created_at; /* RFC 3339: when it was first found */
	/* The payment behind it, for the refund deadline: the ledger order's
	 * paid_ts (has_paid_ts false when unknown), else the trade time of the
	 * bill's SUCCESS row for its out_trade_no ("YYYY-MM-DD HH:MM:SS" in the
	 * configured timezone, NULL when none). */
	bool has_paid_ts;
	int64_t paid_ts;
	const char *bill_paid_time;
	int64_t comments; /* how many comments it has */
	/* with q->report only: the finding's detail, and the goods name (商品名称) of the
	 * bill row with its transaction_id, the payment row first; NULL otherwise */
	const char *detail, *description;
};

/* Calls cb for each discrepancy matching q, by date then id. */
int db_exc_list(struct db *db, const struct db_exc_query *q,
                int (*cb)(void *ctx, const struct db_exc_row *row, struct wxr_err *err), void *ctx,
                struct wxr_err *err);

/* Discrepancy id of mchid ("" = any merchant): WXR_ENOTFOUND when there is
 * none; out's strings are owned (db_exc_brief_release). */
struct db_exc_brief {
	char *date, *kind, *key, *status;
	char *assignee; /* NULL = nobody */
};
int db_exc_get(struct db *db, const char *mchid, int64_t id, struct db_exc_brief *out,
               struct wxr_err *err);
void db_exc_brief_release(struct db_exc_brief *b);

/* Sets the owner of discrepancy id and appends the change to its
 * assignment history (previous may be NULL). */
int db_exc_assign(struct db *db, int64_t id, const char *assignee, const char *previous,
                  const char *who, const char *now, struct wxr_err *err);

/* Appends a comment to discrepancy id. */
int db_exc_comment(struct db *db, int64_t id, const char *who, const char *now, const char *note,
                   struct wxr_err *err);

/* One comment or assignment of a discrepancy's history; borrowed. what is
 * "comment" (text = the note) or "assign" (text = the new owner, previous
 * the one before or NULL). */
struct db_exc_event {
	const char *what;
	const char *at, *who, *text, *previous;
};

/* Calls cb for the comments and assignments of discrepancy id, oldest first
 * (comments before assignments at the same time). */
int db_exc_history(struct db *db, int64_t id,
                   int (*cb)(void *ctx, const struct db_exc_event *e, struct wxr_err *err),
                   void *ctx, struct wxr_err *err);

#endif
