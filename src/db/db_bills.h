/*
 * db_bills.h - all the SQL of the bill tables (schema 002 + 004): one bill
 * is written by a writer inside ONE transaction (or a savepoint when the
 * caller already holds one), so a bill is stored whole or not at all, and a
 * re-fetch of the same (mchid, date, kind) replaces the old bill in that same
 * transaction.
 */
#ifndef WXR_DB_BILLS_H
#define WXR_DB_BILLS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/clock.h"
#include "db/bill_rows.h"
#include "db/db.h"

#define DB_BILLS_SHA1_LEN 41 /* 40 hex + NUL */

/* One bill_files row as db_bills_get reads it. */
struct db_bills_file {
	int64_t id;
	char status[8];               /* "ok" or "empty" */
	char sha1[DB_BILLS_SHA1_LEN]; /* lowercase hex; "" for an empty day */
	int64_t rows, rejects, bytes; /* bytes: decompressed bill size */
	char layout[24];              /* billparse_layout_name(); "" for an empty day */
	char source[8];               /* "api" or "import" */
	char fetched_at[CLOCK_RFC3339_LEN];
	bool summary_ok;         /* summary_mismatch IS NULL */
	bool pruned;             /* its rows were dropped by prune (pruned_at set) */
	char archive_path[1024]; /* the .gz kept in the archive; "" when none */
};

/*
 * Reads the bill of (mchid, bill_date, kind). Returns 1 and fills out when
 * there is one, 0 when there is none (out untouched), negative on error.
 * The fetch command compares sha1 case-insensitively with the API's
 * hash_value to skip an unchanged bill.
 */
int db_bills_get(struct db *db, const char *mchid, const char *bill_date, enum bill_kind kind,
                 struct db_bills_file *out, struct wxr_err *err);

/* ---- prune (schema 014) ---- */

/* A stored bill whose rows a prune would drop. */
struct db_prune_file {
	int64_t id;
	char date[CLOCK_DATE_LEN];
	char kind[12];
	int64_t rows;
	char sha1[DB_BILLS_SHA1_LEN];
	const char *archive_path; /* borrowed for the callback; NULL when none */
};

/* Calls cb for each bill of mchid ("" = any) dated before `before` (YYYY-MM-DD) with
 * rows stored and not pruned yet, by date then kind. */
int db_bills_prune_list(struct db *db, const char *mchid, const char *before,
                        int (*cb)(void *arg, const struct db_prune_file *f, struct wxr_err *err),
                        void *arg, struct wxr_err *err);
/* Drops the rows of bill file id (trade or fund-flow rows; its few rejects stay), keeping
 * its bill_files row with pruned_at = now and, for a trade bill, the report's totals
 * of the rows; *out_rows: rows dropped. In the caller's transaction. */
int db_bills_prune_file(struct db *db, int64_t id, const char *now, int64_t *out_rows,
                        struct wxr_err *err);

/*
 * Records an empty day (NO_STATEMENT_EXIST judged final): a bill_files row
 * with status 'empty' and 0 rows, replacing any earlier bill of that day, and
 * an audit entry. source: "api" or "import"; run_id <= 0: none.
 */
int db_bills_store_empty(struct db *db, const char *mchid, const char *bill_date,
                         enum bill_kind kind, const char *source, int64_t run_id,
                         struct wxr_err *err);

/* ---- the writer used by the bill pipeline ---- */

struct db_bills_writer;

/*
 * Starts the transaction (BEGIN IMMEDIATE, or SAVEPOINT inside the caller's
 * transaction) and a provisional bill_files row whose id the rows refer to.
 * Only one writer per kind may be open on a connection at a time.
 */
int db_bills_writer_begin(struct db *db, const char *bill_date, enum bill_kind kind,
                          const char *source, struct db_bills_writer **out_w, struct wxr_err *err);
/* Insert one row (prepared statements, re-bound per row). mchid: the row's
 * merchant as the pipeline decided it. */
int db_bills_writer_trade(struct db_bills_writer *w, int64_t line, const char *mchid,
                          const struct bill_trade *t, struct wxr_err *err);
int db_bills_writer_fundflow(struct db_bills_writer *w, int64_t line, const char *mchid,
                             const struct bill_fundflow *f, struct wxr_err *err);
int db_bills_writer_reject(struct db_bills_writer *w, int64_t line, const char *raw, size_t raw_len,
                           const char *reason, struct wxr_err *err);

/* What the finished bill is. */
struct db_bills_final {
	const char *mchid;                  /* the bill's merchant ("" allowed) */
	const char *sha1;                   /* lowercase hex of the decompressed bill */
	int64_t bytes;                      /* decompressed size */
	const char *archive_path;           /* NULL when not archived */
	const struct billparse_result *res; /* layout, rows, rejects, summary */
	const char *summary_mismatch;       /* NULL when the summary agrees */
	int64_t run_id;                     /* for the audit log; <= 0 none */
};

/*
 * Deletes an older bill of the same (mchid, date, kind) (its rows go by
 * cascade), completes the bill_files row, inserts the summary row, appends
 * the audit entry and commits. On failure everything is rolled back.
 * out_replaced (may be NULL): whether an older bill was replaced.
 */
int db_bills_writer_commit(struct db_bills_writer *w, const struct db_bills_final *f,
                           int64_t *out_file_id, bool *out_replaced, struct wxr_err *err);

/* Rolls back unless committed, and frees. NULL-safe; returns NULL. */
struct db_bills_writer *db_bills_writer_free(struct db_bills_writer *w);

#endif
