/* schema.h - the migrations embedded from the schema directory (build/gen/schema_sql.c). */
#ifndef WXR_SCHEMA_H
#define WXR_SCHEMA_H

struct schema_migration {
	const char *name; /* "001_init": file name without .sql; applied in this order */
	const char *sql;
};

/* Terminated by an entry whose name is NULL. */
extern const struct schema_migration schema_migrations[];
/* The same migrations, in the same order and under the same names, for
 * PostgreSQL (build/gen/schema_pg_sql.c: schema/pg/ where the dialects differ). */
extern const struct schema_migration schema_pg_migrations[];

#endif
