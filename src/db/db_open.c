/*
 * db_open.c - db_open() picks the backend for a target: a postgresql://
 * URI names a PostgreSQL server, anything else an SQLite file.
 */
#include <string.h>

#include "base/err.h"
#include "db/db.h"
#include "db/db_backend.h"

static bool is_pg_uri(const char *target)
{
	return strncmp(target, "postgresql://", 13) == 0 || strncmp(target, "postgres://", 11) == 0;
}

int db_open(const char *target, struct db **out_db, struct wxr_err *err)
{
	if (is_pg_uri(target))
		return err_set(err, WXR_ECONFIG,
		               "database '%s': this wxrecon has no PostgreSQL backend yet", target);
	return db_sqlite_open(target, out_db, err);
}

int db_open_readonly(const char *target, struct db **out_db, struct wxr_err *err)
{
	if (is_pg_uri(target))
		return err_set(err, WXR_ECONFIG,
		               "database '%s': this wxrecon has no PostgreSQL backend yet", target);
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
