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
	/* Whether the store is still the one opened (a file not removed or replaced);
	 * checked before every COMMIT. NULL: nothing to check. */
	int (*check_same)(struct db *db, struct wxr_err *err);
};

struct db {
	const struct db_ops *ops;
	char *target; /* owned: the path or URI given to db_open */
	int tx_depth;
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

#endif
