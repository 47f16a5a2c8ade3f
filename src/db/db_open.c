/*
 * db_open.c - db_open() picks the backend for a target: a connection string
 * (a postgresql:// URI or key=value conninfo) names a PostgreSQL server,
 * anything else an SQLite file.
 */
#include "base/err.h"
#include "db/db.h"
#include "db/db_backend.h"

int db_open(const char *target, struct db **out_db, struct wxr_err *err)
{
	if (db_pg_is_target(target))
		return db_pg_open(target, out_db, err);
	return db_sqlite_open(target, out_db, err);
}

int db_open_readonly(const char *target, struct db **out_db, struct wxr_err *err)
{
	/* A server needs no read-only open: the commands that only read never write. */
	if (db_pg_is_target(target))
		return db_pg_open(target, out_db, err);
	return db_sqlite_open_readonly(target, out_db, err);
}

const char *db_library_name(void)
{
	return "SQLite";
}

const char *db_library_version(void)
{
	return db_sqlite_version();
}
