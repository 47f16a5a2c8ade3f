/*
 * db_pg_conn.h - connecting to PostgreSQL (issue 16, SPEC 10): the
 * connection string, the connection, and errors a person can act on.
 *
 * A connection string is anything libpq takes: a postgresql:// (or
 * postgres://) URI or key=value conninfo. It never carries the password
 * (that comes from PGPASSWORD, ~/.pgpass or a service file, as libpq reads
 * them), and nothing here ever prints one: strings shown in messages are
 * redacted first, and a password found in a string is masked in libpq's own
 * messages too.
 *
 * The PostgreSQL backend (db_pg.c) opens its connection with
 * db_pg_connect(); `wxrecon config check` reports the server through
 * db_pg_probe().
 */
#ifndef WXR_DB_PG_CONN_H
#define WXR_DB_PG_CONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "wxrecon.h"

/* The oldest server wxrecon works with (PQserverVersion's form: 15.0). */
#define DB_PG_MIN_VERSION 150000
/* Seconds libpq waits for a server when the string does not say. */
#define DB_PG_CONNECT_TIMEOUT_S "10"

/* True when target is a postgresql:// or postgres:// URI (what --db takes
 * besides a path). */
bool db_pg_is_uri(const char *target);

/*
 * Returns a new string (caller frees) that is conninfo without its password:
 * a URI loses the ":password" of its user part and any password= parameter;
 * key=value conninfo shows password=***. Works on strings libpq would
 * refuse, too.
 */
char *db_pg_redact(const char *conninfo);

/*
 * Checks conninfo's syntax with libpq, and that it carries no password.
 * WXR_ECONFIG (exit 2) naming the redacted string on either failure.
 */
int db_pg_check_conninfo(const char *conninfo, struct wxr_err *err);

/*
 * Connects (connect_timeout DB_PG_CONNECT_TIMEOUT_S and application_name
 * wxrecon unless conninfo sets them) and checks that the server is at least
 * DB_PG_MIN_VERSION. On success *out is the connection (caller: PQfinish).
 * Errors, one line each, WXR_EDB unless said:
 *   the string's syntax or a password in it (WXR_ECONFIG, as above);
 *   the server unreachable (names host and port);
 *   authentication failed or no password (says where the password comes from);
 *   no such database or role (says createdb / createuser, or fix the url);
 *   a server older than 15.
 */
int db_pg_connect(const char *conninfo, PGconn **out, struct wxr_err *err);
/* db_pg_connect() with another minimum server version (for the tests). */
int db_pg_connect_min(const char *conninfo, int min_version, PGconn **out, struct wxr_err *err);

/* "PostgreSQL 15.4" for the server of c, into out (n bytes). */
void db_pg_server_version(PGconn *c, char *out, size_t n);
/* "HOST:PORT/DBNAME" of the open connection c (HOST may be a socket
 * directory), into out (n bytes). */
void db_pg_where(PGconn *c, char *out, size_t n);

/*
 * Connects to conninfo, writes "PostgreSQL 15.4 at HOST:PORT/DBNAME" into
 * out (n bytes) and disconnects: what `config check` reports. Errors as
 * db_pg_connect().
 */
int db_pg_probe(const char *conninfo, char *out, size_t n, struct wxr_err *err);

#endif
