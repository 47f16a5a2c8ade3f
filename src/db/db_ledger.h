/*
 * db_ledger.h - the merchant's ledger tables (SPEC 4): CSV import and the
 * row-level operations the engine needs.
 */
#ifndef WXR_DB_LEDGER_H
#define WXR_DB_LEDGER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "db/db.h"

enum ledger_kind { LEDGER_ORDERS, LEDGER_REFUNDS };

struct ledger_import_result {
	long rows; /* data rows read */
	long inserted;
	long updated; /* existing rows whose content changed */
	long unchanged;
};

/* Called every few thousand rows of an import: rows read so far, bytes read of the file. */
struct ledger_progress {
	void (*fn)(void *arg, long rows, int64_t bytes);
	void *arg;
};

/*
 * Imports a CSV (UTF-8, header row, RFC 4180) of orders or refunds in one
 * transaction (the caller's when it has one open, else its own): every row is validated, then
 * upserted; the first bad row stops the import with "<name>:<line>: <why>" and nothing is kept.
 * A key appearing twice in the file is such a bad row (the message names both lines). Rows get
 * the given mchid; business dates use tz_offset_s. A changed existing row is audited as
 * <kind>.update with every changed field old -> new (and <kind>.state when its state changed),
 * the import as a whole once (one summary entry, not one per row). New keys are inserted
 * without a read; only a key already stored is read and compared. progress may be NULL.
 */
int ledger_import(struct db *db, FILE *in, const char *name, enum ledger_kind kind,
                  const char *mchid, int tz_offset_s, int64_t run_id,
                  const struct ledger_progress *progress, struct ledger_import_result *out,
                  struct wxr_err *err);

/* Whether the ledger has a payment or a refund of mchid on date (a day a bill is due for). */
int ledger_day_has_activity(struct db *db, const char *mchid, const char *date, bool *out,
                            struct wxr_err *err);

#endif
