/*
 * db_backend.h - what a database backend provides (private to src/db).
 *
 * db_open.c picks the backend for a target. db.c holds the backend-neutral
 * part of db.h (dispatch, transactions counted in tx_depth, migrations, bulk
 * loads) and calls a backend through its struct db_ops. A backend embeds
 * struct db at the start of its connection and struct db_stmt at the start
 * of its statement. Every dialect difference lives in a backend's file;
 * nothing above src/db sees one.
 *
 * The SQL the store modules give prepare() is SQLite's, kept portable where
 * SQLite allows. What another backend has to translate or provide:
 *   - placeholders: '?' (the next number), '?NNN' (that number, reused) and
 *     ':name' (numbered by first appearance, as sqlite3_bind_parameter_index
 *     does; param_index() answers the same), never inside a '...' literal
 *     ("COALESCE(x, '?')" occurs) or a comment;
 *   - '+t.col', SQLite's "use no index for this" hint: a unary plus that
 *     PostgreSQL refuses on text; drop the '+';
 *   - parameters whose type only the binding tells (":run" in a CASE, "?3 IS
 *     NULL"): prepare with the bound types (int8, text);
 *   - results: booleans (EXISTS ... OR EXISTS) and SUM() (numeric) are read
 *     through col_i64; text orders bytewise (COLLATE "C");
 *   - recon_fee_to_fen() (function_i64), and the temp table recon_events,
 *     whose "seq INTEGER PRIMARY KEY" numbers rows in insertion order.
 */
#ifndef WXR_DB_BACKEND_H
#define WXR_DB_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wxrecon.h"

struct db;
struct db_stmt;

struct db_ops {
	const char *name; /* "SQLite" */
	void (*close)(struct db *db);
	int (*exec)(struct db *db, const char *sql, struct wxr_err *err);
	int (*error)(struct db *db, struct wxr_err *err, const char *what);
	bool (*in_tx)(struct db *db);
	/* the statement that opens a write / a read transaction */
	const char *begin_sql, *begin_read_sql;
	int (*bulk_cache)(struct db *db, struct wxr_err *err);
	void (*busy_timeout)(struct db *db, int ms);
	int64_t (*changes)(struct db *db);
	int (*function_i64)(struct db *db, const char *name, int64_t (*fn)(int64_t),
	                    struct wxr_err *err);

	int (*prepare)(struct db *db, const char *sql, struct db_stmt **out, struct wxr_err *err);
	void (*finalize)(struct db_stmt *st);
	void (*reset)(struct db_stmt *st);
	void (*clear_bindings)(struct db_stmt *st);
	int (*step)(struct db_stmt *st);
	int (*param_index)(struct db_stmt *st, const char *name);
	int (*bind_i64)(struct db_stmt *st, int i, int64_t v);
	int (*bind_null)(struct db_stmt *st, int i);
	int (*bind_text)(struct db_stmt *st, int i, const char *s, ptrdiff_t len, bool copy);
	int (*col_count)(struct db_stmt *st);
	bool (*col_is_null)(struct db_stmt *st, int i);
	int64_t (*col_i64)(struct db_stmt *st, int i);
	const char *(*col_text)(struct db_stmt *st, int i);
	size_t (*col_bytes)(struct db_stmt *st, int i);

	/* db_schema_sql(): the definition of a schema object as the backend holds it
	 * (PostgreSQL: pg_get_triggerdef and the like), NULL when there is none */
	int (*schema_sql)(struct db *db, const char *type, const char *name, char **out_sql,
	                  struct wxr_err *err);
	/* The migrations this backend applies (schema.h). */
	const struct schema_migration *migrations;
	/* A streaming bulk load (NULL: db.c runs one INSERT a row): bulk_begin
	 * returns a statement that only holds the n column bindings of a row;
	 * bulk_row sends them; bulk_end sends what is held and finishes (the
	 * statement is then finalized by db.c). */
	int (*bulk_begin)(struct db *db, const char *table, const char *columns, int n,
	                  struct db_stmt **out, struct wxr_err *err);
	int (*bulk_row)(struct db_stmt *st, struct wxr_err *err);
	int (*bulk_end)(struct db_stmt *st, struct wxr_err *err);
	/* A lock named key held by this connection until it is released or the
	 * connection ends (NULL: the backend has none, db_session_lock() says
	 * DB_LOCK_NONE). lock: DB_LOCK_TAKEN or DB_LOCK_HELD; unlock: 0. */
	int (*session_lock)(struct db *db, const char *key, bool unlock, struct wxr_err *err);
	/* Refreshes the planner's statistics of table after a large load (NULL:
	 * the backend plans without them). */
	int (*refresh_stats)(struct db *db, const char *table, struct wxr_err *err);
	/* Whether the store is still the one opened (a file not removed or replaced);
	 * checked before every COMMIT. NULL: nothing to check. */
	int (*check_same)(struct db *db, struct wxr_err *err);
};

/* The key of the audit chain (db/audit.h), set by audit_use_key(); wiped at close. */
struct db_audit_key {
	bool set;              /* the key is known: appends are keyed, verify checks MACs */
	unsigned char key[32]; /* the secret, from the key file; never written anywhere */
	int64_t keyed_from;    /* the first entry id the key covers */
	char where[512];       /* the key file, for messages (also when it is missing) */
};

struct db {
	const struct db_ops *ops;
	char *target; /* owned: the path or URI given to db_open */
	int tx_depth;
	bool tx_write; /* the open transaction was begun by db_begin */
	struct db_audit_key audit;
	/* db_on_commit(): run inside every write transaction before COMMIT */
	int (*commit_check)(struct db *db, void *arg, struct wxr_err *err);
	void *commit_check_arg;
};

struct db_stmt {
	const struct db_ops *ops;
	struct db *db;
};

/* The SQLite backend (db_sqlite.c): opens the file at path. */
int db_sqlite_open(const char *path, struct db **out_db, struct wxr_err *err);
/* Opens the file at path to read only (db_open_readonly). */
int db_sqlite_open_readonly(const char *path, struct db **out_db, struct wxr_err *err);
const char *db_sqlite_version(void);
/* The PostgreSQL backend (db_pg.c): connects to conninfo (a URI or key=value). */
int db_pg_open(const char *conninfo, struct db **out_db, struct wxr_err *err);
/* Whether target is a connection string rather than a path: a postgresql:// or
 * postgres:// URI, or key=value conninfo libpq parses ("host=... dbname=..."). */
bool db_pg_is_target(const char *target);

#endif
