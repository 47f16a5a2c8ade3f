/*
 * db.h - the database module: every SQL statement of wxrecon goes through
 * here or through a store module (src/db_*.c) built on it. SQLite is the
 * embedded store; core SQL stays portable (SPEC 10).
 */
#ifndef WXR_DB_H
#define WXR_DB_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "wxrecon.h"

/* The key of the audit chain (db/audit.h), set by audit_use_key(); wiped at close. */
struct db_audit_key {
	bool set;              /* the key is known: appends are keyed, verify checks MACs */
	unsigned char key[32]; /* the secret, from the key file; never written anywhere */
	int64_t keyed_from;    /* the first entry id the key covers */
	char where[512];       /* the key file, for messages (also when it is missing) */
};

struct db {
	sqlite3 *h; /* owned */
	char *path; /* owned */
	int tx_depth;
	struct db_audit_key audit;
};

/*
 * Opens (creating if needed) the database at path with WAL, foreign keys
 * and a busy timeout. The parent directory must exist.
 */
int db_open(const char *path, struct db **out_db, struct wxr_err *err);
void db_close(struct db *db);

/* Applies the embedded schema migrations that are not yet recorded in
 * schema_migrations, each in its own transaction, in order. out_applied
 * (may be NULL) receives how many were applied. */
int db_migrate(struct db *db, int *out_applied, struct wxr_err *err);
/* Fails with a clear message when the database has not been initialised or
 * is behind the binary's schema. */
int db_check_schema(struct db *db, struct wxr_err *err);

int db_exec(struct db *db, const char *sql, struct wxr_err *err);
/* A page cache of DB_BULK_CACHE_KIB for the rest of the connection, for one
 * large transaction whose index pages are hit at random (a bill, a ledger
 * import): with SQLite's 2 MiB default the dirty pages spill to the WAL and
 * are written there again and again. Peak RSS stays within 64 MiB. */
#define DB_BULK_CACHE_KIB 24576
int db_bulk_cache(struct db *db, struct wxr_err *err);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. Rollback never fails the caller. */
int db_begin(struct db *db, struct wxr_err *err);
int db_commit(struct db *db, struct wxr_err *err);
void db_rollback(struct db *db);

int db_prepare(struct db *db, const char *sql, sqlite3_stmt **out_stmt, struct wxr_err *err);
/* Sets err from the connection's last error: "<what>: <sqlite message>". */
int db_error(struct db *db, struct wxr_err *err, const char *what);

/* Bind helpers: a NULL string binds SQL NULL. */
int db_bind_text(sqlite3_stmt *st, int i, const char *s);
/* Column helper: NULL reads as "". */
const char *db_col_text(sqlite3_stmt *st, int i);

#endif
