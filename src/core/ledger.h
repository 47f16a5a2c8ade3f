/*
 * ledger.h - `wxrecon ledger import`: the merchant's orders and refunds CSV
 * files into the ledger (db/db_ledger.h reads them), both in one transaction.
 */
#ifndef WXR_CORE_LEDGER_H
#define WXR_CORE_LEDGER_H

#include <stdint.h>

#include "db/db_ledger.h"
#include "wxrecon.h"

struct ledger_files {
	const char *orders;  /* a path, "-" for stdin, or NULL */
	const char *refunds; /* the same */
	const char *mchid;
	int tz_offset_s;
	int64_t run_id;
};

/*
 * Imports f->orders and f->refunds (at least one) in one transaction: a bad
 * row in either keeps nothing. *out_orders and *out_refunds count the rows of
 * each. Errors name the file and row; WXR_EIO when a file cannot be opened.
 */
int ledger_import_files(struct db *db, const struct ledger_files *f,
                        struct ledger_import_result *out_orders,
                        struct ledger_import_result *out_refunds, struct wxr_err *err);

#endif
