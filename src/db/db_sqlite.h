/*
 * db_sqlite.h - the SQLite connection behind a struct db, for the unit and
 * fuzz tests that poke the file on purpose (tracing query plans, a
 * snapshot to restore). Nothing in src/ uses it: the rest of wxrecon goes
 * through db.h.
 */
#ifndef WXR_DB_SQLITE_H
#define WXR_DB_SQLITE_H

struct db;
struct sqlite3;

/* The connection handle; NULL when db is another backend's. */
struct sqlite3 *db_sqlite_handle(struct db *db);

#endif
