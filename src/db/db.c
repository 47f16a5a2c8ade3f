#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "db/schema.h"

#define DB_BUSY_TIMEOUT_MS 5000

int db_error(struct db *db, struct wxr_err *err, const char *what)
{
	int code = sqlite3_extended_errcode(db->h);

	if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
		return err_set(err, WXR_EDB, "%s: database '%s' is locked by another process (%s)",
		               what, db->path, sqlite3_errmsg(db->h));
	if ((code & 0xff) == SQLITE_FULL)
		return err_set(err, WXR_EIO, "%s: disk full writing '%s'", what, db->path);
	return err_set(err, WXR_EDB, "%s: %s", what, sqlite3_errmsg(db->h));
}

int db_open(const char *path, struct db **out_db, struct wxr_err *err)
{
	struct db *db = xcalloc(1, sizeof(*db));
	int r;

	db->path = xstrdup(path);
	r = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (r != SQLITE_OK) {
		r = err_set(err, WXR_EDB, "cannot open database '%s': %s", path,
		            db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(r));
		goto fail;
	}
	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_busy_timeout(db->h, DB_BUSY_TIMEOUT_MS);
	r = db_exec(db, "PRAGMA foreign_keys = ON", err);
	if (r < 0)
		goto fail;
	/* WAL is persistent; on a read-only or odd filesystem fall back quietly. */
	r = db_exec(db, "PRAGMA journal_mode = WAL", err);
	if (r < 0)
		goto fail;
	r = db_exec(db, "PRAGMA synchronous = NORMAL", err);
	if (r < 0)
		goto fail;
	*out_db = db;
	return 0;
fail:
	err_prefix(err, "database '%s'", path);
	db_close(db);
	return err ? err->code : WXR_EDB;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	if (db->h)
		sqlite3_close_v2(db->h);
	explicit_bzero(&db->audit, sizeof(db->audit));
	free(db->path);
	free(db);
}

int db_exec(struct db *db, const char *sql, struct wxr_err *err)
{
	char *msg = NULL;
	int r = sqlite3_exec(db->h, sql, NULL, NULL, &msg);

	if (r != SQLITE_OK) {
		int code = (r & 0xff) == SQLITE_BUSY ? WXR_EDB : WXR_EDB;

		if ((r & 0xff) == SQLITE_BUSY || (r & 0xff) == SQLITE_LOCKED)
			err_set(err, code, "database '%s' is locked by another process", db->path);
		else if ((r & 0xff) == SQLITE_FULL)
			err_set(err, WXR_EIO, "disk full writing '%s'", db->path);
		else
			err_set(err, code, "%s", msg ? msg : sqlite3_errstr(r));
		sqlite3_free(msg);
		return err ? err->code : code;
	}
	return 0;
}

int db_begin(struct db *db, struct wxr_err *err)
{
	int r = db_exec(db, "BEGIN IMMEDIATE", err);

	if (r < 0)
		return err_prefix(err, "begin transaction");
	db->tx_depth++;
	return 0;
}

int db_commit(struct db *db, struct wxr_err *err)
{
	int r = db_exec(db, "COMMIT", err);

	if (r < 0) {
		db_rollback(db);
		return err_prefix(err, "commit");
	}
	db->tx_depth--;
	return 0;
}

void db_rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	db->tx_depth = 0;
}

int db_bulk_cache(struct db *db, struct wxr_err *err)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", DB_BULK_CACHE_KIB);
	return db_exec(db, sql, err);
}

int db_prepare(struct db *db, const char *sql, sqlite3_stmt **out_stmt, struct wxr_err *err)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
		return db_error(db, err, "prepare");
	*out_stmt = st;
	return 0;
}

int db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (!s)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

const char *db_col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

static int migration_done(struct db *db, const char *name, bool *out_done, struct wxr_err *err)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = db_prepare(db, "SELECT 1 FROM schema_migrations WHERE name = ?", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, name);
	r = sqlite3_step(st);
	if (r != SQLITE_ROW && r != SQLITE_DONE) {
		r = db_error(db, err, "read schema_migrations");
		goto out;
	}
	*out_done = (r == SQLITE_ROW);
	r = 0;
out:
	sqlite3_finalize(st);
	return r;
}

int db_migrate(struct db *db, int *out_applied, struct wxr_err *err)
{
	int applied = 0;
	int r;
	const struct schema_migration *m;

	r = db_exec(db,
	            "CREATE TABLE IF NOT EXISTS schema_migrations ("
	            " name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)",
	            err);
	if (r < 0)
		return err_prefix(err, "create schema_migrations");
	for (m = schema_migrations; m->name; m++) {
		bool done = false;
		sqlite3_stmt *st = NULL;

		r = db_begin(db, err);
		if (r < 0)
			return r;
		r = migration_done(db, m->name, &done, err);
		if (r < 0)
			goto fail;
		if (done) {
			db_rollback(db);
			continue;
		}
		r = db_exec(db, m->sql, err);
		if (r < 0) {
			err_prefix(err, "migration %s", m->name);
			goto fail;
		}
		r = db_prepare(db,
		               "INSERT INTO schema_migrations (name, applied_at)"
		               " VALUES (?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
		               &st, err);
		if (r < 0)
			goto fail;
		db_bind_text(st, 1, m->name);
		r = sqlite3_step(st);
		sqlite3_finalize(st);
		if (r != SQLITE_DONE) {
			r = db_error(db, err, "record migration");
			goto fail;
		}
		r = db_commit(db, err);
		if (r < 0)
			return r;
		applied++;
	}
	if (out_applied)
		*out_applied = applied;
	return 0;
fail:
	db_rollback(db);
	return r;
}

int db_check_schema(struct db *db, struct wxr_err *err)
{
	const struct schema_migration *m;
	int r;

	for (m = schema_migrations; m->name; m++) {
		bool done = false;

		r = migration_done(db, m->name, &done, err);
		if (r < 0 || !done)
			return err_set(err, WXR_EDB,
			               "database '%s' is not initialised or is older than this "
			               "wxrecon (missing migration %s): run 'wxrecon init'",
			               db->path, m->name);
	}
	return 0;
}
