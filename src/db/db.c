/*
 * db.c - the backend-neutral part of db.h: it calls the backend db_open()
 * chose through its struct db_ops (db_backend.h); transactions and
 * savepoints are counted here, migrations and bulk loads are built on the
 * statement calls.
 */
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "db/db_backend.h"
#include "db/schema.h"

void db_close(struct db *db)
{
	if (!db)
		return;
	explicit_bzero(&db->audit, sizeof(db->audit));
	db->ops->close(db);
}

const char *db_target(const struct db *db)
{
	return db->target;
}

int db_error(struct db *db, struct wxr_err *err, const char *what)
{
	return db->ops->error(db, err, what);
}

int db_exec(struct db *db, const char *sql, struct wxr_err *err)
{
	return db->ops->exec(db, sql, err);
}

int db_bulk_cache(struct db *db, struct wxr_err *err)
{
	return db->ops->bulk_cache(db, err);
}

const char *db_engine(const struct db *db)
{
	return db->ops->name;
}

bool db_has_schema_sql(const struct db *db)
{
	return db->ops->schema_sql != NULL;
}

int db_schema_sql(struct db *db, const char *type, const char *name, char **out_sql,
                  struct wxr_err *err)
{
	if (!db->ops->schema_sql) {
		*out_sql = NULL;
		return 0;
	}
	return db->ops->schema_sql(db, type, name, out_sql, err);
}

void db_busy_timeout(struct db *db, int ms)
{
	db->ops->busy_timeout(db, ms);
}

int db_function_i64(struct db *db, const char *name, int64_t (*fn)(int64_t), struct wxr_err *err)
{
	return db->ops->function_i64(db, name, fn, err);
}

int64_t db_changes(struct db *db)
{
	return db->ops->changes(db);
}

int db_session_lock(struct db *db, const char *key, struct wxr_err *err)
{
	if (!db->ops->session_lock)
		return DB_LOCK_NONE;
	return db->ops->session_lock(db, key, false, err);
}

int db_session_unlock(struct db *db, const char *key, struct wxr_err *err)
{
	if (!db->ops->session_lock)
		return 0;
	return db->ops->session_lock(db, key, true, err);
}

/* ---- transactions ---- */

static int begin_with(struct db *db, const char *sql, struct wxr_err *err)
{
	int r = db_exec(db, sql, err);

	if (r < 0)
		return err_prefix(err, "begin transaction");
	db->tx_depth++;
	return 0;
}

int db_begin(struct db *db, struct wxr_err *err)
{
	int r = begin_with(db, db->ops->begin_sql, err);

	db->tx_write = r == 0;
	return r;
}

int db_begin_read(struct db *db, struct wxr_err *err)
{
	db->tx_write = false;
	return begin_with(db, db->ops->begin_read_sql, err);
}

void db_on_commit(struct db *db, int (*check)(struct db *db, void *arg, struct wxr_err *err),
                  void *arg)
{
	db->commit_check = check;
	db->commit_check_arg = arg;
}

int db_commit(struct db *db, struct wxr_err *err)
{
	int r = db->ops->check_same ? db->ops->check_same(db, err) : 0;

	if (r == 0 && db->commit_check && db->tx_write)
		r = db->commit_check(db, db->commit_check_arg, err);
	if (r < 0) {
		db_rollback(db);
		return r;
	}
	r = db_exec(db, "COMMIT", err);

	if (r < 0) {
		db_rollback(db);
		return err_prefix(err, "commit");
	}
	db->tx_depth--;
	return 0;
}

void db_rollback(struct db *db)
{
	if (db->ops->in_tx(db))
		db->ops->exec(db, "ROLLBACK", NULL);
	db->tx_depth = 0;
}

int db_tx_depth(const struct db *db)
{
	return db->tx_depth;
}

bool db_in_tx(struct db *db)
{
	return db->ops->in_tx(db);
}

int db_savepoint(struct db *db, const char *name, struct wxr_err *err)
{
	char sql[80];
	int r;

	snprintf(sql, sizeof(sql), "SAVEPOINT %s", name);
	r = db_exec(db, sql, err);
	if (r < 0)
		return err_prefix(err, "savepoint");
	db->tx_depth++;
	return 0;
}

int db_release(struct db *db, const char *name, struct wxr_err *err)
{
	char sql[80];
	int r;

	snprintf(sql, sizeof(sql), "RELEASE %s", name);
	r = db_exec(db, sql, err);
	if (r < 0)
		return err_prefix(err, "release savepoint");
	db->tx_depth--;
	return 0;
}

void db_rollback_to(struct db *db, const char *name)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "ROLLBACK TO %s; RELEASE %s", name, name);
	db->ops->exec(db, sql, NULL);
	if (db->tx_depth > 0)
		db->tx_depth--;
}

/* ---- statements ---- */

int db_prepare(struct db *db, const char *sql, struct db_stmt **out_stmt, struct wxr_err *err)
{
	return db->ops->prepare(db, sql, out_stmt, err);
}

void db_finalize(struct db_stmt *st)
{
	if (st)
		st->ops->finalize(st);
}

void db_reset(struct db_stmt *st)
{
	st->ops->reset(st);
}

void db_clear_bindings(struct db_stmt *st)
{
	st->ops->clear_bindings(st);
}

int db_step(struct db_stmt *st)
{
	return st->ops->step(st);
}

int db_param_index(struct db_stmt *st, const char *name)
{
	return st->ops->param_index(st, name);
}

int db_bind_i64(struct db_stmt *st, int i, int64_t v)
{
	return st->ops->bind_i64(st, i, v);
}

int db_bind_null(struct db_stmt *st, int i)
{
	return st->ops->bind_null(st, i);
}

int db_bind_text(struct db_stmt *st, int i, const char *s)
{
	return st->ops->bind_text(st, i, s, -1, true);
}

int db_bind_text_ref(struct db_stmt *st, int i, const char *s, ptrdiff_t len)
{
	return st->ops->bind_text(st, i, s, len, false);
}

int db_col_count(struct db_stmt *st)
{
	return st->ops->col_count(st);
}

bool db_col_is_null(struct db_stmt *st, int i)
{
	return st->ops->col_is_null(st, i);
}

int64_t db_col_i64(struct db_stmt *st, int i)
{
	return st->ops->col_i64(st, i);
}

const char *db_col_text(struct db_stmt *st, int i)
{
	return st->ops->col_text(st, i);
}

size_t db_col_bytes(struct db_stmt *st, int i)
{
	return st->ops->col_bytes(st, i);
}

const char *db_col_opt(struct db_stmt *st, int i)
{
	return db_col_is_null(st, i) ? NULL : db_col_text(st, i);
}

char *db_col_dup(struct db_stmt *st, int i)
{
	const char *s = db_col_opt(st, i);

	return s ? xstrdup(s) : NULL;
}

char *db_col_text_dup(struct db_stmt *st, int i)
{
	return xstrdup(db_col_text(st, i));
}

/* ---- bulk load ---- */

struct db_bulk {
	struct db *db;
	struct db_stmt *st;
	char *table;
	int64_t rows;
};

int db_refresh_stats(struct db *db, const char *table, struct wxr_err *err)
{
	if (!db->ops->refresh_stats)
		return 0;
	return db->ops->refresh_stats(db, table, err);
}

int db_bulk_begin(struct db *db, const char *table, const char *columns, struct db_bulk **out,
                  struct wxr_err *err)
{
	struct db_bulk *b;
	char *sql;
	size_t n = 1, len, i;
	int r;

	for (i = 0; columns[i]; i++)
		n += columns[i] == ',';
	b = xcalloc(1, sizeof(*b));
	b->db = db;
	b->table = xstrdup(table);
	if (db->ops->bulk_begin) {
		r = db->ops->bulk_begin(db, table, columns, (int)n, &b->st, err);
	} else {
		len = strlen(table) + strlen(columns) + 3 * n + 32;
		sql = xmalloc(len);
		i = (size_t)snprintf(sql, len, "INSERT INTO %s (%s) VALUES (", table, columns);
		while (n--)
			i += (size_t)snprintf(sql + i, len - i, n ? "?, " : "?)");
		r = db_prepare(db, sql, &b->st, err);
		free(sql);
	}
	if (r < 0) {
		free(b->table);
		free(b);
		return err_prefix(err, "bulk load into %s", table);
	}
	*out = b;
	return 0;
}

struct db_stmt *db_bulk_stmt(struct db_bulk *b)
{
	return b->st;
}

int db_bulk_row(struct db_bulk *b, struct wxr_err *err)
{
	int r;

	b->rows++;
	if (b->db->ops->bulk_row)
		return b->db->ops->bulk_row(b->st, err);
	r = db_step(b->st);
	if (r != DB_DONE) {
		char what[96];

		snprintf(what, sizeof(what), "insert %s", b->table);
		r = db_error(b->db, err, what);
		db_reset(b->st);
		return r;
	}
	db_reset(b->st);
	return 0;
}

int db_bulk_end(struct db_bulk *b, struct wxr_err *err)
{
	int r = 0;

	if (!b)
		return 0;
	if (b->db->ops->bulk_end)
		r = b->db->ops->bulk_end(b->st, err);
	db_finalize(b->st);
	if (r == 0 && b->rows >= DB_STATS_ROWS)
		r = db_refresh_stats(b->db, b->table, err);
	free(b->table);
	free(b);
	return r;
}

static int migration_done(struct db *db, const char *name, bool *out_done, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db, "SELECT 1 FROM schema_migrations WHERE name = ?", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, name);
	r = db_step(st);
	if (r != DB_ROW && r != DB_DONE) {
		r = db_error(db, err, "read schema_migrations");
		goto out;
	}
	*out_done = (r == DB_ROW);
	r = 0;
out:
	db_finalize(st);
	return r;
}

int db_migrate(struct db *db, int *out_applied, struct wxr_err *err)
{
	int applied = 0;
	int r;
	const struct schema_migration *m;
	char now[CLOCK_RFC3339_LEN];

	/* UTC with a Z, as strftime('%Y-%m-%dT%H:%M:%SZ', 'now') wrote it */
	time_format_rfc3339(clock_real_now(), 0, now);
	now[19] = 'Z', now[20] = '\0';

	r = db_exec(db,
	            "CREATE TABLE IF NOT EXISTS schema_migrations ("
	            " name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)",
	            err);
	if (r < 0)
		return err_prefix(err, "create schema_migrations");
	for (m = db->ops->migrations; m->name; m++) {
		bool done = false;
		struct db_stmt *st = NULL;

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
		               " VALUES (?, ?)",
		               &st, err);
		if (r < 0)
			goto fail;
		db_bind_text(st, 1, m->name);
		db_bind_text(st, 2, now);
		r = db_step(st);
		db_finalize(st);
		if (r != DB_DONE) {
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

	for (m = db->ops->migrations; m->name; m++) {
		bool done = false;

		r = migration_done(db, m->name, &done, err);
		if (r < 0 || !done)
			return err_set(err, WXR_EDB,
			               "database '%s' is not initialised or is older than this "
			               "wxrecon (missing migration %s): run 'wxrecon init'",
			               db->target, m->name);
	}
	return 0;
}
