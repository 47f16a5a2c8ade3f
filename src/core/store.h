/*
 * store.h - which store a database target names (issue 16, SPEC 10): a
 * SQLite file path, or a PostgreSQL connection string (a postgresql:// URI
 * from --db or [database] url; key=value conninfo from [database] url
 * only). For main and the commands, which do not see db/.
 */
#ifndef WXR_STORE_H
#define WXR_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "wxrecon.h"

/* The open store (db/db.h): a handle the commands pass to core, never look into. */
struct db;

/* True when target is a postgresql:// or postgres:// URI. */
bool store_is_pg_uri(const char *target);

/*
 * Checks a --db value: a URI must be one libpq takes and carry no password;
 * a path must not look like a mistyped URI ("postgresql:/x"). WXR_EUSAGE
 * (exit 2) naming --db.
 */
int store_check_db_option(const char *target, struct wxr_err *err);

/* A new string (caller frees): the connection string without its password,
 * for messages and output. */
char *store_redact(const char *conninfo);

/* The database library the store is built with ("SQLite") and its version, for
 * `wxrecon version`. */
const char *store_library_name(void);
const char *store_library_version(void);

/* How long (ms) a write waits for another writer before it fails busy. */
void store_busy_timeout(struct db *db, int ms);

/* Applies the schema migrations the store lacks; *out_applied counts them. */
int store_migrate(struct db *db, int *out_applied, struct wxr_err *err);

/* Connects to the PostgreSQL server of conninfo and writes "PostgreSQL 15.4
 * at HOST:PORT/DBNAME" into out (n bytes). Errors: db_pg_connect()'s. */
int store_probe(const char *conninfo, char *out, size_t n, struct wxr_err *err);

#endif
