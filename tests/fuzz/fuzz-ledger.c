/*
 * fuzz-ledger.c - the ledger CSV import (db_ledger.h) on arbitrary bytes,
 * through fmemopen() into an in-memory SQLite database migrated once; the
 * database is restored from a snapshot (sqlite3_serialize / deserialize)
 * before each input, so every run starts from the same empty ledger.
 *
 * The input is imported as orders, then as refunds, then as orders again.
 * Oracles:
 *   - an error is WXR_EDATA naming "fuzz.csv" (a row that passes validation
 *     but breaks a CHECK of the schema would be WXR_EDB: a validation gap),
 *     and nothing of that import is kept (no row, no audit entry);
 *   - a success counts rows = inserted + updated + unchanged, the table holds
 *     `inserted` rows, one audit entry is added for the import;
 *   - importing the same orders again inserts nothing.
 */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "db/db_ledger.h"
#include "db/db_sqlite.h"
#include "fuzzutil.h"

#define NAME  "fuzz.csv"
#define MCHID "1900000001"

static struct db *db;
static unsigned char *snapshot;
static sqlite3_int64 snapshot_len;

static void setup(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	unsigned char *p;

	FUZZ_ASSERT(db_open(":memory:", &db, &err) == 0, "db_open: %s", err.msg);
	FUZZ_ASSERT(db_migrate(db, NULL, &err) == 0, "db_migrate: %s", err.msg);
	p = sqlite3_serialize(db_sqlite_handle(db), "main", &snapshot_len, 0);
	FUZZ_ASSERT(p != NULL, "sqlite3_serialize failed");
	snapshot = malloc((size_t)snapshot_len);
	if (!snapshot)
		abort();
	memcpy(snapshot, p, (size_t)snapshot_len);
	sqlite3_free(p);
}

static void restore(void)
{
	unsigned char *p = sqlite3_malloc64((sqlite3_uint64)snapshot_len);
	int r;

	if (!p)
		abort();
	memcpy(p, snapshot, (size_t)snapshot_len);
	r = sqlite3_deserialize(db_sqlite_handle(db), "main", p, snapshot_len, snapshot_len,
	                        SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE);
	FUZZ_ASSERT(r == SQLITE_OK, "sqlite3_deserialize: %d", r);
	db_rollback(db); /* resets the transaction count */
}

static long count(const char *table)
{
	char sql[128];
	struct db_stmt *st = NULL;
	long n;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	FUZZ_ASSERT(db_prepare(db, sql, &st, NULL) == 0, "prepare %s", sql);
	FUZZ_ASSERT(db_step(st) == DB_ROW, "step %s", sql);
	n = (long)db_col_i64(st, 0);
	db_finalize(st);
	return n;
}

/* Imports; returns the result code and fills *res on success. */
static int import(const uint8_t *data, size_t size, enum ledger_kind kind,
                  struct ledger_import_result *res)
{
	const char *table = kind == LEDGER_ORDERS ? "ledger_orders" : "ledger_refunds";
	struct wxr_err err = WXR_ERR_INIT;
	long rows_before = count(table), audit_before = count("audit_log");
	FILE *in = fmemopen((void *)(uintptr_t)data, size, "r");
	int r;

	FUZZ_ASSERT(in != NULL, "fmemopen");
	memset(res, 0, sizeof(*res));
	r = ledger_import(db, in, NAME, kind, MCHID, 8 * 3600, 0, NULL, res, &err);
	fclose(in);
	FUZZ_ASSERT(db_tx_depth(db) == 0, "transaction left open (depth %d)", db_tx_depth(db));
	if (r < 0) {
		FUZZ_ASSERT(r == WXR_EDATA, "error %d: %s", r, err.msg);
		FUZZ_ASSERT(strncmp(err.msg, NAME ":", strlen(NAME ":")) == 0,
		            "message '%s' does not name the file", err.msg);
		FUZZ_ASSERT(count(table) == rows_before && count("audit_log") == audit_before,
		            "a failed import kept something");
		return r;
	}
	FUZZ_ASSERT(res->rows == res->inserted + res->updated + res->unchanged,
	            "rows %ld != %ld + %ld + %ld", res->rows, res->inserted, res->updated,
	            res->unchanged);
	FUZZ_ASSERT(count(table) == rows_before + res->inserted, "table has %ld rows, want %ld",
	            count(table), rows_before + res->inserted);
	FUZZ_ASSERT(count("audit_log") > audit_before, "the import was not audited");
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ledger_import_result first, refunds, again;

	if (size == 0 || size > 65536)
		return 0;
	if (!db)
		setup();
	restore();
	if (import(data, size, LEDGER_ORDERS, &first) == 0) {
		FUZZ_ASSERT(import(data, size, LEDGER_ORDERS, &again) == 0, "second import failed");
		FUZZ_ASSERT(again.rows == first.rows && again.inserted == 0,
		            "second import: rows %ld (first %ld), inserted %ld", again.rows,
		            first.rows, again.inserted);
	}
	import(data, size, LEDGER_REFUNDS, &refunds);
	return 0;
}
