#include "core/store.h"

#include <string.h>

#include "base/err.h"
#include "db/db.h"
#include "db/db_pg_conn.h"

bool store_is_pg_uri(const char *target)
{
	return db_pg_is_uri(target);
}

int store_check_db_option(const char *target, struct wxr_err *err)
{
	int r;

	if (!*target)
		return err_set(err, WXR_EUSAGE, "--db needs a path or a postgresql:// URI");
	if (!db_pg_is_uri(target)) {
		if (strncmp(target, "postgresql:", 11) == 0 || strncmp(target, "postgres:", 9) == 0)
			return err_set(
			        err, WXR_EUSAGE,
			        "--db: a value starting with 'postgres...:' is neither a path "
			        "nor a PostgreSQL URI: write postgresql://USER@HOST:PORT/DBNAME "
			        "(or start a file name with ./)");
		return 0;
	}
	r = db_pg_check_conninfo(target, err);
	if (r < 0)
		return err_prefix(err, "--db");
	return 0;
}

char *store_redact(const char *conninfo)
{
	return db_pg_redact(conninfo);
}

int store_probe(const char *conninfo, char *out, size_t n, struct wxr_err *err)
{
	return db_pg_probe(conninfo, out, n, err);
}

const char *store_library_name(void)
{
	return db_library_name();
}

const char *store_library_version(void)
{
	return db_library_version();
}

void store_busy_timeout(struct db *db, int ms)
{
	db_busy_timeout(db, ms);
}

int store_migrate(struct db *db, int *out_applied, struct wxr_err *err)
{
	return db_migrate(db, out_applied, err);
}
