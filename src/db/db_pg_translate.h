/*
 * db_pg_translate.h - the SQL dialect of the PostgreSQL backend (issue 16).
 *
 * The store modules write SQLite's SQL; db_pg_translate() is the one place
 * where it becomes PostgreSQL's, outside '...' literals, "..." names,
 * comments and $$...$$ bodies: placeholders ('?', '?NNN', ':name') become
 * $n, SQLite's '+col' no-index hint goes, INTEGER is BIGINT (INTEGER
 * PRIMARY KEY an identity column), date(X, 'unixepoch') is X's UTC date,
 * "CROSS JOIN t ON" is an INNER JOIN, and "LIMIT ?" takes SQLite's -1 as no
 * limit. The schema's own dialect lives in schema/pg/ (its README).
 */
#ifndef WXR_DB_PG_TRANSLATE_H
#define WXR_DB_PG_TRANSLATE_H

#include <stdbool.h>

/*
 * Returns sql in PostgreSQL's dialect, a new string (caller frees). With
 * params the placeholders are translated too: *out_n (if not NULL) gets the
 * number of parameters and *out_names (if not NULL) a new array, indexes
 * 0..*out_n, of each parameter's ":name" or NULL (caller frees each and the
 * array).
 */
char *db_pg_translate(const char *sql, bool params, int *out_n, char ***out_names);

#endif
