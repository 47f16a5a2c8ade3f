/*
 * db.h - the database module: every SQL statement of wxrecon goes through
 * here or through a store module (src/db_*.c) built on it.
 *
 * One interface, several backends (issue 16): struct db and struct db_stmt
 * are opaque, and the backend behind them (src/db/db_backend.h) is chosen by
 * db_open() from its target. SQLite (src/db/db_sqlite.c) is the only one
 * today and the only file that calls the SQLite API. SQL given to
 * db_prepare() uses '?' placeholders, or ':name' ones bound through
 * db_param_index(); core SQL stays portable (SPEC 10).
 *
 * Errors: a failing call returns a negative WXR_E* code. A busy or locked
 * database (PostgreSQL: a serialization failure or a deadlock) is WXR_EBUSY,
 * which a caller may retry; a unique or primary key violation is
 * WXR_EUNIQUE; a full disk is WXR_EIO; anything else WXR_EDB. db_step() and
 * the bind calls leave the message on the connection: db_error() turns it
 * into one line of err.
 */
#ifndef WXR_DB_H
#define WXR_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wxrecon.h"

struct db;
struct db_stmt;

/* What db_step() returns when it did not fail (failures are negative). */
enum db_step_result { DB_ROW = 100, DB_DONE = 101 };

/*
 * Opens the database named by target. A path opens (creating if needed)
 * the SQLite file with WAL, foreign keys and a busy timeout; its parent
 * directory must exist. A postgresql:// (postgres://) URI or key=value
 * conninfo connects to that PostgreSQL server (src/db/db_pg.c).
 */
int db_open(const char *target, struct db **out_db, struct wxr_err *err);
/*
 * Opens the store to read only, for the commands that never write (audit, report, the
 * listings): it works on a read-only filesystem or directory, where db_open cannot even
 * switch on WAL. An SQLite file there is read as immutable (nothing can change it), unless
 * a WAL with frames not yet folded into the file was left beside it: that fails, saying so.
 * Any write through it fails.
 */
int db_open_readonly(const char *target, struct db **out_db, struct wxr_err *err);
void db_close(struct db *db);
/* The target db_open() was given (a path for SQLite), for messages. */
const char *db_target(const struct db *db);
/* "SQLite 3.40.1": the backend's library and its version, for `version`. */
const char *db_library_name(void);
const char *db_library_version(void);

/* Applies the embedded schema migrations that are not yet recorded in
 * schema_migrations, each in its own transaction, in order. out_applied
 * (may be NULL) receives how many were applied. */
int db_migrate(struct db *db, int *out_applied, struct wxr_err *err);
/* Fails with a clear message when the database has not been initialised or
 * is behind the binary's schema. */
int db_check_schema(struct db *db, struct wxr_err *err);

/* Runs one or more statements that return no rows. */
int db_exec(struct db *db, const char *sql, struct wxr_err *err);
/* A page cache of DB_BULK_CACHE_KIB for the rest of the connection, for one
 * large transaction whose index pages are hit at random (a bill, a ledger
 * import): with SQLite's 2 MiB default the dirty pages spill to the WAL and
 * are written there again and again. Peak RSS stays within 64 MiB. */
#define DB_BULK_CACHE_KIB 24576
int db_bulk_cache(struct db *db, struct wxr_err *err);
/* After a load of DB_STATS_ROWS rows or more into table: the planner's
 * statistics of it refreshed (PostgreSQL: ANALYZE, so the next statements
 * are not planned as for an empty table; SQLite: nothing). */
#define DB_STATS_ROWS 1000
int db_refresh_stats(struct db *db, const char *table, struct wxr_err *err);
/* How long a statement waits for a lock held by another connection before
 * it fails with WXR_EBUSY. */
void db_busy_timeout(struct db *db, int ms);

/* Makes fn callable from this connection's SQL as name(x): a deterministic
 * function of one integer, NULL giving NULL (recon_fee_to_fen). A server
 * backend checks that the schema defines it instead. */
int db_function_i64(struct db *db, const char *name, int64_t (*fn)(int64_t), struct wxr_err *err);

/*
 * A lock named key (a run lock: "MCHID/run") held by this connection until
 * db_session_unlock() or until the connection ends, however it ends: a
 * holder that dies cannot leave it behind. PostgreSQL: a session advisory
 * lock. Returns DB_LOCK_TAKEN, DB_LOCK_HELD (another connection holds it),
 * DB_LOCK_NONE (the backend has no such lock: SQLite; the caller tells a
 * live holder from a dead one itself) or a negative WXR_E* code.
 */
enum db_lock_result { DB_LOCK_NONE = 0, DB_LOCK_TAKEN = 1, DB_LOCK_HELD = 2 };
int db_session_lock(struct db *db, const char *key, struct wxr_err *err);
/* Releases every hold this connection has on key; nothing when it has none. */
int db_session_unlock(struct db *db, const char *key, struct wxr_err *err);

/* ---- transactions ---- */

/* BEGIN IMMEDIATE (takes the write lock) / COMMIT / ROLLBACK. A failed
 * commit rolls back; so does one into a store that is no longer the one
 * opened (its file removed or replaced meanwhile: WXR_EIO, saying so).
 * Rollback never fails the caller. */
int db_begin(struct db *db, struct wxr_err *err);
int db_commit(struct db *db, struct wxr_err *err);
void db_rollback(struct db *db);
/* A read transaction: one snapshot for several queries, no write lock.
 * Ended by db_commit() or db_rollback(). */
int db_begin_read(struct db *db, struct wxr_err *err);
/* check runs inside every transaction db_begin opened, just before its
 * COMMIT; an error from it rolls the transaction back and is what db_commit
 * returns (db_tasks.h: a worker's fence). NULL removes it. One at a time. */
void db_on_commit(struct db *db, int (*check)(struct db *db, void *arg, struct wxr_err *err),
                  void *arg);
/* Transactions and savepoints opened through this interface and still open
 * (0: none). */
int db_tx_depth(const struct db *db);
/* Whether the connection is inside a transaction, however it was opened. */
bool db_in_tx(struct db *db);
/* SAVEPOINT name / RELEASE name / ROLLBACK TO name then RELEASE name (the
 * last never fails the caller). Each counts in db_tx_depth(). */
int db_savepoint(struct db *db, const char *name, struct wxr_err *err);
int db_release(struct db *db, const char *name, struct wxr_err *err);
void db_rollback_to(struct db *db, const char *name);

/* ---- statements ---- */

int db_prepare(struct db *db, const char *sql, struct db_stmt **out_stmt, struct wxr_err *err);
/* Frees the statement; NULL is fine. */
void db_finalize(struct db_stmt *st);
/* Rewinds the statement to run again; its bindings stay. */
void db_reset(struct db_stmt *st);
/* Sets every parameter back to NULL. */
void db_clear_bindings(struct db_stmt *st);
/* DB_ROW (a row is there to read), DB_DONE, or a negative WXR_E* code with
 * the message left for db_error(). */
int db_step(struct db_stmt *st);
/* Rows changed by the last INSERT, UPDATE or DELETE of the connection. The
 * id of a row an INSERT adds: INSERT ... RETURNING id (DB_ROW). */
int64_t db_changes(struct db *db);
/* Sets err from the connection's last error: "<what>: <message>", and
 * returns its code (WXR_EBUSY, WXR_EUNIQUE, WXR_EIO or WXR_EDB). */
int db_error(struct db *db, struct wxr_err *err, const char *what);

/* Bindings, parameters numbered from 1. A NULL string binds SQL NULL.
 * db_bind_text copies the string; db_bind_text_ref does not: the len bytes
 * at s (len < 0: up to its NUL) must stay until the statement is next
 * stepped, reset or finalized. */
int db_param_index(struct db_stmt *st, const char *name);
int db_bind_i64(struct db_stmt *st, int i, int64_t v);
int db_bind_null(struct db_stmt *st, int i);
int db_bind_text(struct db_stmt *st, int i, const char *s);
int db_bind_text_ref(struct db_stmt *st, int i, const char *s, ptrdiff_t len);

/* Columns of the current row, numbered from 0. Text of SQL NULL reads "";
 * db_col_bytes is the length of db_col_text. */
int db_col_count(struct db_stmt *st);
bool db_col_is_null(struct db_stmt *st, int i);
int64_t db_col_i64(struct db_stmt *st, int i);
const char *db_col_text(struct db_stmt *st, int i);
size_t db_col_bytes(struct db_stmt *st, int i);
/* Column i's text, or NULL for SQL NULL; and a copy of that (caller frees). */
const char *db_col_opt(struct db_stmt *st, int i);
char *db_col_dup(struct db_stmt *st, int i);
/* A copy of column i's text with SQL NULL as "" (caller frees): for models whose
 * absent strings are empty, never NULL. */
char *db_col_text_dup(struct db_stmt *st, int i);

/* ---- the schema itself ---- */

/* The backend's name: "SQLite" or "PostgreSQL". */
const char *db_engine(const struct db *db);

/* The definition of the schema object of that type ("trigger") and name, as
 * the backend keeps it (a new string in *out_sql), or NULL when there is no
 * such object: for checks that the schema was not altered (audit triggers).
 * PostgreSQL: "trigger" (pg_get_triggerdef, " DISABLED" after a disabled
 * one), "function" (its body) and "public_grants" (the UPDATE, DELETE and
 * TRUNCATE PUBLIC holds on the table, comma-separated; NULL: none). */
/* Whether db_schema_sql() can show this backend's schema objects. */
bool db_has_schema_sql(const struct db *db);
int db_schema_sql(struct db *db, const char *type, const char *name, char **out_sql,
                  struct wxr_err *err);

/* ---- bulk load ---- */

/*
 * Loads many rows into one table inside the caller's open transaction:
 * db_bulk_begin names the table and its columns ("a, b, c"), db_bulk_row
 * adds one row (bind its values with the db_bind_* calls on db_bulk_stmt()
 * first, parameters 1..n in the column order), db_bulk_end finishes and
 * frees. SQLite runs one prepared INSERT per row; PostgreSQL can stream
 * COPY ... FROM STDIN. Other statements may run between rows (the bill
 * writer stores rejected lines as it meets them), so a streaming backend
 * sends what it holds before it runs one; the rows are only sure to be
 * readable after db_bulk_end. A failed row fails the load: end it and roll
 * back.
 */
struct db_bulk;
int db_bulk_begin(struct db *db, const char *table, const char *columns, struct db_bulk **out,
                  struct wxr_err *err);
struct db_stmt *db_bulk_stmt(struct db_bulk *b);
int db_bulk_row(struct db_bulk *b, struct wxr_err *err);
int db_bulk_end(struct db_bulk *b, struct wxr_err *err);

#endif
