/*
 * db_sqlite.c - the SQLite backend of db.h, and the one file of wxrecon that
 * calls the SQLite API: open and its pragmas, statements, error mapping,
 * the C functions callable from SQL.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "db/db.h"
#include "db/db_backend.h"
#include "db/db_sqlite.h"
#include "db/schema.h"

#define DB_BUSY_TIMEOUT_MS 5000
/* Finalized statements kept for the next prepare of the same SQL: the store
 * prepares its per-row statements (the audit log's three, reconcile's per
 * case ones) again each time, and parsing them cost more than running them. */
#define SQ_STMT_CACHE 32

struct sq_db {
	struct db base;
	sqlite3 *h;                         /* owned */
	sqlite3_stmt *cache[SQ_STMT_CACHE]; /* owned, reset and unbound; NULL: free */
	unsigned cache_next;                /* the slot to reuse when all are taken */
	/* the file opened (st_dev, st_ino), to tell it was removed or replaced meanwhile */
	bool have_id;
	dev_t dev;
	ino_t ino;
};

struct sq_stmt {
	struct db_stmt base;
	sqlite3_stmt *h; /* owned */
};

static const struct db_ops sq_ops;

static sqlite3 *H(struct db *db)
{
	return ((struct sq_db *)db)->h;
}

static sqlite3_stmt *S(struct db_stmt *st)
{
	return ((struct sq_stmt *)st)->h;
}

struct sqlite3 *db_sqlite_handle(struct db *db)
{
	return db->ops == &sq_ops ? H(db) : NULL;
}

const char *db_sqlite_version(void)
{
	return sqlite3_libversion();
}

/* The WXR_E* code of an (extended) SQLite result code that is an error. */
static int sq_code(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return WXR_EBUSY;
	case SQLITE_FULL:
		return WXR_EIO;
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return WXR_EUNIQUE;
		return WXR_EDB;
	default:
		return WXR_EDB;
	}
}

static int sq_error(struct db *db, struct wxr_err *err, const char *what)
{
	int rc = sqlite3_extended_errcode(H(db));
	int code = sq_code(rc);

	if (code == WXR_EBUSY)
		return err_set(err, code, "%s: database '%s' is locked by another process (%s)",
		               what, db->target, sqlite3_errmsg(H(db)));
	if (code == WXR_EIO)
		return err_set(err, code, "%s: disk full writing '%s'", what, db->target);
	return err_set(err, code, "%s: %s", what, sqlite3_errmsg(H(db)));
}

static int sq_exec(struct db *db, const char *sql, struct wxr_err *err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(H(db), sql, NULL, NULL, &msg);
	int code;

	if (rc == SQLITE_OK)
		return 0;
	code = sq_code(rc);
	if (code == WXR_EBUSY)
		err_set(err, code, "database '%s' is locked by another process", db->target);
	else if (code == WXR_EIO)
		err_set(err, code, "disk full writing '%s'", db->target);
	else
		err_set(err, code, "%s", msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return code;
}

static void sq_close(struct db *db)
{
	struct sq_db *s = (struct sq_db *)db;

	for (unsigned i = 0; i < SQ_STMT_CACHE; i++)
		sqlite3_finalize(s->cache[i]);
	if (H(db))
		sqlite3_close_v2(H(db));
	free(db->target);
	free(db);
}

static void remember_file(struct sq_db *s, const char *path)
{
	struct stat sb;

	s->have_id = stat(path, &sb) == 0;
	if (s->have_id) {
		s->dev = sb.st_dev;
		s->ino = sb.st_ino;
	}
}

int db_sqlite_open(const char *path, struct db **out_db, struct wxr_err *err)
{
	struct sq_db *s = xcalloc(1, sizeof(*s));
	struct db *db = &s->base;
	int r;

	db->ops = &sq_ops;
	db->target = xstrdup(path);
	r = sqlite3_open_v2(path, &s->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (r != SQLITE_OK) {
		r = err_set(err, WXR_EDB, "cannot open database '%s': %s", path,
		            s->h ? sqlite3_errmsg(s->h) : sqlite3_errstr(r));
		goto fail;
	}
	sqlite3_extended_result_codes(s->h, 1);
	sqlite3_busy_timeout(s->h, DB_BUSY_TIMEOUT_MS);
	r = sq_exec(db, "PRAGMA foreign_keys = ON", err);
	if (r < 0)
		goto fail;
	/* WAL is persistent; on a read-only or odd filesystem fall back quietly. */
	r = sq_exec(db, "PRAGMA journal_mode = WAL", err);
	if (r < 0)
		goto fail;
	r = sq_exec(db, "PRAGMA synchronous = NORMAL", err);
	if (r < 0)
		goto fail;
	remember_file(s, path);
	*out_db = db;
	return 0;
fail:
	err_prefix(err, "database '%s'", path);
	sq_close(db);
	return err ? err->code : WXR_EDB;
}

/* "file:PATH?mode=ro&immutable=1", PATH percent-encoded where a URI needs it. */
static char *immutable_uri(const char *path)
{
	struct buf b = BUF_INIT;

	buf_adds(&b, "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (*p == '%' || *p == '?' || *p == '#' || *p < 0x21 || *p >= 0x7f)
			buf_addf(&b, "%%%02X", *p);
		else
			buf_addc(&b, (char)*p);
	}
	buf_adds(&b, "?mode=ro&immutable=1");
	return buf_detach(&b, NULL);
}

/* Whether the WAL file beside path holds frames (not yet copied into the database). */
static bool wal_has_frames(const char *path)
{
	char *wal = xasprintf("%s-wal", path);
	struct stat sb;
	bool frames = stat(wal, &sb) == 0 && sb.st_size > 0;

	free(wal);
	return frames;
}

int db_sqlite_open_readonly(const char *path, struct db **out_db, struct wxr_err *err)
{
	struct sq_db *s = xcalloc(1, sizeof(*s));
	struct db *db = &s->base;
	char *uri = NULL;
	int r;

	db->ops = &sq_ops;
	db->target = xstrdup(path);
	r = sqlite3_open_v2(path, &s->h, SQLITE_OPEN_READONLY, NULL);
	if (r == SQLITE_OK) {
		sqlite3_extended_result_codes(s->h, 1);
		sqlite3_busy_timeout(s->h, DB_BUSY_TIMEOUT_MS);
		/* the first read opens the WAL index: it needs the -shm, which a read-only
		 * directory cannot get */
		r = sqlite3_exec(s->h, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
	}
	if (r != SQLITE_OK) {
		int rc = r;

		if (!s->h || ((rc & 0xff) != SQLITE_CANTOPEN && (rc & 0xff) != SQLITE_READONLY)) {
			r = err_set(err, WXR_EDB, "cannot open database '%s' to read: %s", path,
			            s->h ? sqlite3_errmsg(s->h) : sqlite3_errstr(rc));
			goto fail;
		}
		/* Nothing on this filesystem can change the file: read it as immutable, unless
		 * a WAL with frames was left, which immutable would not read. */
		if (wal_has_frames(path)) {
			r = err_set(
			        err, WXR_EIO,
			        "cannot read database '%s' on a read-only filesystem: its WAL "
			        "('%s-wal') holds changes not yet in the file, and reading them "
			        "needs '%s-shm'; open it once where it is writable (any wxrecon "
			        "command) to fold them in",
			        path, path, path);
			goto fail;
		}
		sqlite3_close_v2(s->h);
		s->h = NULL;
		uri = immutable_uri(path);
		r = sqlite3_open_v2(uri, &s->h, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
		if (r == SQLITE_OK)
			r = sqlite3_exec(s->h, "SELECT count(*) FROM sqlite_schema", NULL, NULL,
			                 NULL);
		if (r != SQLITE_OK) {
			r = err_set(err, WXR_EDB, "cannot open database '%s' to read: %s", path,
			            s->h ? sqlite3_errmsg(s->h) : sqlite3_errstr(r));
			goto fail;
		}
		sqlite3_extended_result_codes(s->h, 1);
	}
	free(uri);
	remember_file(s, path);
	*out_db = db;
	return 0;
fail:
	free(uri);
	sq_close(db);
	return r;
}

/* Before a COMMIT: the file at the path is still the one opened. A database removed (or
 * its directory) or replaced meanwhile would take the commit into a deleted file, and a
 * step would report 'ok' for work that is gone. */
static int sq_check_same(struct db *db, struct wxr_err *err)
{
	struct sq_db *s = (struct sq_db *)db;
	struct stat sb;
	bool there;

	if (!s->have_id)
		return 0; /* ":memory:", or a file that could not be looked at when opened */
	there = stat(db->target, &sb) == 0;
	if (there && sb.st_dev == s->dev && sb.st_ino == s->ino)
		return 0;
	return err_set(err, WXR_EIO,
	               "database '%s' was %s since this command opened it: nothing of this "
	               "step was kept (it would have gone into a deleted file); restore the "
	               "database and run it again",
	               db->target, there ? "replaced" : "removed");
}

static bool sq_in_tx(struct db *db)
{
	return !sqlite3_get_autocommit(H(db));
}

static int sq_bulk_cache(struct db *db, struct wxr_err *err)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", DB_BULK_CACHE_KIB);
	return sq_exec(db, sql, err);
}

static void sq_busy_timeout(struct db *db, int ms)
{
	sqlite3_busy_timeout(H(db), ms);
}

static int64_t sq_changes(struct db *db)
{
	return sqlite3_changes64(H(db));
}

struct sq_fn {
	int64_t (*fn)(int64_t);
};

static void sql_function_i64(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct sq_fn *f = sqlite3_user_data(ctx);

	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_int64(ctx, f->fn(sqlite3_value_int64(argv[0])));
}

static int sq_function_i64(struct db *db, const char *name, int64_t (*fn)(int64_t),
                           struct wxr_err *err)
{
	struct sq_fn *f = xmalloc(sizeof(*f));

	f->fn = fn;
	/* SQLite frees f with the function, even when registering fails. */
	if (sqlite3_create_function_v2(H(db), name, 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, f,
	                               sql_function_i64, NULL, NULL, free) != SQLITE_OK) {
		char what[96];

		snprintf(what, sizeof(what), "register %s", name);
		return sq_error(db, err, what);
	}
	return 0;
}

/* ---- statements ---- */

/* A cached statement of exactly this SQL, taken out of the cache, or NULL. */
static sqlite3_stmt *cache_take(struct sq_db *s, const char *sql)
{
	for (unsigned i = 0; i < SQ_STMT_CACHE; i++) {
		sqlite3_stmt *h = s->cache[i];

		if (h && strcmp(sqlite3_sql(h), sql) == 0) {
			s->cache[i] = NULL;
			return h;
		}
	}
	return NULL;
}

/* Keep h (reset, unbound) for the next prepare of its SQL, or finalize it. */
static void cache_put(struct sq_db *s, sqlite3_stmt *h)
{
	unsigned i;

	sqlite3_reset(h);
	sqlite3_clear_bindings(h);
	for (i = 0; i < SQ_STMT_CACHE && s->cache[i]; i++)
		;
	if (i == SQ_STMT_CACHE) {
		i = s->cache_next++ % SQ_STMT_CACHE;
		sqlite3_finalize(s->cache[i]);
	}
	s->cache[i] = h;
}

static int sq_prepare(struct db *db, const char *sql, struct db_stmt **out, struct wxr_err *err)
{
	sqlite3_stmt *h = cache_take((struct sq_db *)db, sql);
	struct sq_stmt *st;

	if (!h && sqlite3_prepare_v2(H(db), sql, -1, &h, NULL) != SQLITE_OK)
		return sq_error(db, err, "prepare");
	st = xmalloc(sizeof(*st));
	st->base.ops = &sq_ops;
	st->base.db = db;
	st->h = h;
	*out = &st->base;
	return 0;
}

static void sq_finalize(struct db_stmt *st)
{
	if (S(st))
		cache_put((struct sq_db *)st->db, S(st));
	free(st);
}

static void sq_reset(struct db_stmt *st)
{
	sqlite3_reset(S(st));
}

static void sq_clear_bindings(struct db_stmt *st)
{
	sqlite3_clear_bindings(S(st));
}

static int sq_step(struct db_stmt *st)
{
	int rc = sqlite3_step(S(st));

	if (rc == SQLITE_ROW)
		return DB_ROW;
	if (rc == SQLITE_DONE)
		return DB_DONE;
	return sq_code(rc);
}

static int sq_param_index(struct db_stmt *st, const char *name)
{
	return sqlite3_bind_parameter_index(S(st), name);
}

static int bind_rc(int rc)
{
	return rc == SQLITE_OK ? 0 : sq_code(rc);
}

static int sq_bind_i64(struct db_stmt *st, int i, int64_t v)
{
	return bind_rc(sqlite3_bind_int64(S(st), i, v));
}

static int sq_bind_null(struct db_stmt *st, int i)
{
	return bind_rc(sqlite3_bind_null(S(st), i));
}

static int sq_bind_text(struct db_stmt *st, int i, const char *s, ptrdiff_t len, bool copy)
{
	if (!s)
		return bind_rc(sqlite3_bind_null(S(st), i));
	if (len < 0)
		return bind_rc(sqlite3_bind_text(S(st), i, s, -1,
		                                 copy ? SQLITE_TRANSIENT : SQLITE_STATIC));
	return bind_rc(sqlite3_bind_text64(S(st), i, s, (sqlite3_uint64)len,
	                                   copy ? SQLITE_TRANSIENT : SQLITE_STATIC, SQLITE_UTF8));
}

static int sq_col_count(struct db_stmt *st)
{
	return sqlite3_column_count(S(st));
}

static bool sq_col_is_null(struct db_stmt *st, int i)
{
	return sqlite3_column_type(S(st), i) == SQLITE_NULL;
}

static int64_t sq_col_i64(struct db_stmt *st, int i)
{
	return sqlite3_column_int64(S(st), i);
}

static const char *sq_col_text(struct db_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(S(st), i);

	return t ? (const char *)t : "";
}

static size_t sq_col_bytes(struct db_stmt *st, int i)
{
	return (size_t)sqlite3_column_bytes(S(st), i);
}

/* SQLite keeps each object's CREATE statement as it was written. */
static int sq_schema_sql(struct db *db, const char *type, const char *name, char **out_sql,
                         struct wxr_err *err)
{
	sqlite3_stmt *st = NULL;
	int r;

	*out_sql = NULL;
	if (sqlite3_prepare_v2(H(db), "SELECT sql FROM sqlite_master WHERE type = ? AND name = ?",
	                       -1, &st, NULL) != SQLITE_OK)
		return sq_error(db, err, "read the schema");
	sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		*out_sql = xstrdup(t ? (const char *)t : "");
		r = 0;
	} else if (r == SQLITE_DONE) {
		r = 0;
	} else {
		r = sq_error(db, err, "read the schema");
	}
	sqlite3_finalize(st);
	return r;
}

static const struct db_ops sq_ops = {
	.name = "SQLite",
	.close = sq_close,
	.exec = sq_exec,
	.error = sq_error,
	.in_tx = sq_in_tx,
	.begin_sql = "BEGIN IMMEDIATE",
	.begin_read_sql = "BEGIN",
	.bulk_cache = sq_bulk_cache,
	.busy_timeout = sq_busy_timeout,
	.changes = sq_changes,
	.function_i64 = sq_function_i64,
	.prepare = sq_prepare,
	.finalize = sq_finalize,
	.reset = sq_reset,
	.clear_bindings = sq_clear_bindings,
	.step = sq_step,
	.param_index = sq_param_index,
	.bind_i64 = sq_bind_i64,
	.bind_null = sq_bind_null,
	.bind_text = sq_bind_text,
	.col_count = sq_col_count,
	.col_is_null = sq_col_is_null,
	.col_i64 = sq_col_i64,
	.col_text = sq_col_text,
	.col_bytes = sq_col_bytes,
	.schema_sql = sq_schema_sql,
	.migrations = schema_migrations,
	.check_same = sq_check_same,
};
