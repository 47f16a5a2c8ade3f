/*
 * t-db.c - the database interface of db.h on its SQLite backend: statements,
 * NULLs both ways, named parameters, savepoints, the bulk load, the C
 * function callable from SQL, and the error codes a caller tells apart
 * (WXR_EUNIQUE, WXR_EBUSY from a second connection).
 */
#include "tap.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "db/db.h"

static int64_t twice(int64_t v)
{
	return 2 * v;
}

static int64_t q_int(struct db *db, const char *sql)
{
	struct db_stmt *st = NULL;
	struct wxr_err err = WXR_ERR_INIT;
	int64_t v = -999;

	if (db_prepare(db, sql, &st, &err) < 0) {
		diag("%s: %s", sql, err.msg);
		return v;
	}
	if (db_step(st) == DB_ROW)
		v = db_col_i64(st, 0);
	db_finalize(st);
	return v;
}

static void statements(struct db *db)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct db_stmt *st = NULL;
	const char raw[] = "abcdef";

	is_int(db_exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v INTEGER)",
	               &err),
	       0, "create a table");
	is_int(db_prepare(db, "INSERT INTO t (k, v) VALUES (?, ?) RETURNING id", &st, &err), 0,
	       "prepare");
	db_bind_text(st, 1, "a");
	db_bind_i64(st, 2, INT64_MAX);
	is_int(db_step(st), DB_ROW, "insert ... RETURNING steps to a row");
	is_int(db_col_i64(st, 0), 1, "the new id");
	is_int(db_step(st), DB_DONE, "then done");
	is_int(db_changes(db), 1, "one row changed");
	db_reset(st);
	db_bind_text(st, 1, NULL);
	db_bind_null(st, 2);
	is_int(db_step(st), DB_ROW, "NULL text binds SQL NULL");
	db_reset(st);
	db_bind_text_ref(st, 1, raw, 3);
	db_clear_bindings(st);
	db_bind_text_ref(st, 1, raw, 3);
	is_int(db_step(st), DB_ROW, "a counted string, not copied");
	db_finalize(st);
	is_int(q_int(db, "SELECT count(*) FROM t WHERE k = 'abc' AND v IS NULL"), 1,
	       "three bytes of it, and cleared bindings are NULL");

	is_int(db_prepare(db, "SELECT k, v FROM t WHERE id = 2", &st, &err), 0, "select");
	is_int(db_step(st), DB_ROW, "a row");
	is_int(db_col_count(st), 2, "two columns");
	ok(db_col_is_null(st, 0) && db_col_is_null(st, 1), "both NULL");
	is_str(db_col_text(st, 0), "", "NULL text reads \"\"");
	is_int(db_col_i64(st, 1), 0, "NULL integer reads 0");
	is_int(db_step(st), DB_DONE, "then done");
	db_finalize(st);

	is_int(db_prepare(db, "SELECT v, k FROM t WHERE k = :k OR id = :k + 0 AND :n = 1", &st,
	                  &err),
	       0, "named parameters");
	is_int(db_param_index(st, ":k"), 1, ":k is the first");
	is_int(db_param_index(st, ":n"), 2, ":n the second");
	is_int(db_param_index(st, ":none"), 0, "an unknown name is 0");
	db_bind_text(st, db_param_index(st, ":k"), "a");
	db_bind_i64(st, db_param_index(st, ":n"), 0);
	is_int(db_step(st), DB_ROW, "found by name");
	ok(db_col_i64(st, 0) == INT64_MAX, "an int64 round-trips");
	is_int((int)db_col_bytes(st, 1), 1, "its key is one byte");
	db_finalize(st);
	db_finalize(NULL);

	is_int(db_prepare(db, "SELEC 1", &st, &err), WXR_EDB, "a syntax error");
	if (!ok(strstr(err.msg, "prepare: ") == err.msg, "names what failed"))
		diag("%s", err.msg);
}

/* A finalized statement is kept for the next prepare of its SQL (the
 * SQLite backend's cache): that one must start afresh, unbound and at its
 * first row, and two live ones of the same SQL must not share a handle. */
static void reuse(struct db *db)
{
	struct wxr_err err = WXR_ERR_INIT;
	static const char sql[] = "SELECT id, ?1 IS NULL FROM t WHERE id <= 2 ORDER BY id";
	struct db_stmt *a = NULL, *b = NULL;

	is_int(db_prepare(db, sql, &a, &err), 0, "reuse: prepare");
	db_bind_i64(a, 1, 5);
	is_int(db_step(a), DB_ROW, "reuse: a first row");
	is_int(db_col_i64(a, 1), 0, "reuse: its parameter bound");
	db_finalize(a); /* in the middle of its rows, still bound */
	is_int(db_prepare(db, sql, &a, &err), 0, "reuse: prepare the same SQL again");
	is_int(db_step(a), DB_ROW, "reuse: a row again");
	is_int(db_col_i64(a, 0), 1, "reuse: from the first row, not the second");
	is_int(db_col_i64(a, 1), 1, "reuse: and the parameter unbound (NULL)");
	is_int(db_prepare(db, sql, &b, &err), 0, "reuse: a second live one of that SQL");
	is_int(db_step(b), DB_ROW, "reuse: the second steps");
	is_int(db_col_i64(b, 0), 1, "reuse: from its own first row");
	is_int(db_step(a), DB_ROW, "reuse: the first goes on");
	is_int(db_col_i64(a, 0), 2, "reuse: to its second row, unmoved by the other");
	db_finalize(b);
	db_finalize(a);
}

static void errors(struct db *db, const char *path)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct db_stmt *st = NULL;
	struct db *other = NULL;

	is_int(db_prepare(db, "INSERT INTO t (k) VALUES ('a')", &st, &err), 0,
	       "prepare a duplicate");
	is_int(db_step(st), WXR_EUNIQUE, "a unique violation is WXR_EUNIQUE");
	is_int(db_error(db, &err, "insert t"), WXR_EUNIQUE, "and so is its error");
	if (!ok(strstr(err.msg, "insert t: UNIQUE constraint failed") == err.msg,
	        "the message says so"))
		diag("%s", err.msg);
	db_finalize(st);
	is_int(db_exec(db, "INSERT INTO t (k) VALUES ('a')", &err), WXR_EUNIQUE,
	       "db_exec says it too");

	is_int(db_open(path, &other, &err), 0, "a second connection");
	db_busy_timeout(other, 10);
	is_int(db_begin(db, &err), 0, "the first takes the write lock");
	is_int(db_begin(other, &err), WXR_EBUSY, "the second is busy: WXR_EBUSY");
	if (!ok(strstr(err.msg, "is locked by another process") != NULL, "the message says so"))
		diag("%s", err.msg);
	is_int(wxr_exit_code(WXR_EBUSY), wxr_exit_code(WXR_EDB), "it exits as a database error");
	db_rollback(db);
	is_int(db_begin(other, &err), 0, "free again");
	db_rollback(other);
	db_close(other);

	is_int(db_open("postgresql://127.0.0.1:1/wxrecon", &other, &err), WXR_EDB,
	       "a URI goes to the PostgreSQL backend: no server there");
	if (!ok(strstr(err.msg, "postgresql://127.0.0.1:1/wxrecon") != NULL, "the message says so"))
		diag("%s", err.msg);
}

static void transactions(struct db *db)
{
	struct wxr_err err = WXR_ERR_INIT;

	is_int(db_tx_depth(db), 0, "no transaction");
	ok(!db_in_tx(db), "none on the connection");
	is_int(db_begin(db, &err), 0, "begin");
	ok(db_in_tx(db), "in a transaction");
	is_int(db_savepoint(db, "sp", &err), 0, "savepoint");
	is_int(db_tx_depth(db), 2, "depth 2");
	db_exec(db, "INSERT INTO t (k) VALUES ('undone')", &err);
	db_rollback_to(db, "sp");
	is_int(db_tx_depth(db), 1, "rolled back to it");
	is_int(db_savepoint(db, "sp", &err), 0, "savepoint again");
	db_exec(db, "INSERT INTO t (k) VALUES ('kept')", &err);
	is_int(db_release(db, "sp", &err), 0, "release");
	is_int(db_commit(db, &err), 0, "commit");
	is_int(db_tx_depth(db), 0, "depth 0");
	is_int(q_int(db, "SELECT count(*) FROM t WHERE k IN ('undone', 'kept')"), 1,
	       "only the released savepoint's row");
	is_int(db_begin_read(db, &err), 0, "a read transaction");
	is_int(db_tx_depth(db), 1, "counts");
	is_int(db_commit(db, &err), 0, "ends");
}

static void bulk(struct db *db)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct db_bulk *b = NULL;

	is_int(db_exec(db, "CREATE TABLE b (x INTEGER, y TEXT, z INTEGER)", &err), 0, "a table");
	is_int(db_begin(db, &err), 0, "in a transaction");
	is_int(db_bulk_begin(db, "b", "x, y, z", &b, &err), 0, "bulk begin");
	for (int i = 0; i < 1000; i++) {
		char y[16];

		snprintf(y, sizeof(y), "y%d", i);
		db_bind_i64(db_bulk_stmt(b), 1, i);
		db_bind_text(db_bulk_stmt(b), 2, y);
		db_bind_null(db_bulk_stmt(b), 3);
		if (db_bulk_row(b, &err) < 0)
			break;
	}
	is_int(db_bulk_end(b, &err), 0, "bulk end");
	is_int(db_commit(db, &err), 0, "commit");
	is_int(q_int(db, "SELECT count(*) FROM b WHERE y = 'y' || x AND z IS NULL"), 1000,
	       "1000 rows, every column where it belongs");
	is_int(db_bulk_begin(db, "nosuch", "x", &b, &err), WXR_EDB, "an unknown table");
	if (!ok(strstr(err.msg, "bulk load into nosuch") == err.msg, "the message says so"))
		diag("%s", err.msg);

	is_int(db_function_i64(db, "twice", twice, &err), 0, "a C function for SQL");
	is_int(q_int(db, "SELECT twice(21)"), 42, "called");
	is_int(q_int(db, "SELECT twice(NULL) IS NULL"), 1, "NULL gives NULL");
}

int main(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	char dir[256], path[300];
	struct db *db = NULL;

	t_tmpdir(dir, sizeof(dir), "t-db");
	snprintf(path, sizeof(path), "%s/t.db", dir);
	if (db_open(path, &db, &err) < 0) {
		diag("open: %s", err.msg);
		return 1;
	}
	is_str(db_target(db), path, "the target it was opened with");
	is_str(db_library_name(), "SQLite", "the backend's library");
	ok(db_library_version()[0] == '3', "and its version");
	statements(db);
	reuse(db);
	errors(db, path);
	transactions(db);
	bulk(db);
	db_close(db);
	t_rm_tree(dir);
	return done_testing();
}
