/*
 * db_sqlite.h - the SQLite handles behind a struct db, for the unit tests
 * that poke the file on purpose (tracing a query plan, a short busy
 * timeout, a snapshot). Nothing in src/ uses them: the rest of wxrecon
 * goes through db.h.
 */
#ifndef WXR_DB_SQLITE_H
#define WXR_DB_SQLITE_H

struct db;
struct db_stmt;
struct sqlite3;
struct sqlite3_stmt;

/* The connection and statement handles; NULL when db is another backend's. */
struct sqlite3 *db_sqlite_handle(struct db *db);
struct sqlite3_stmt *db_sqlite_stmt(struct db_stmt *st);

#endif
