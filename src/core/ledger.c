/*
 * ledger.c - importing the ledger's files (ledger.h).
 */
#include "core/ledger.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "db/db.h"

static int import_one(struct db *db, const struct ledger_files *lf, const char *path,
                      enum ledger_kind kind, struct ledger_import_result *res, struct wxr_err *err)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	int r;

	if (!f)
		return err_set(err, WXR_EIO, "cannot open '%s': %s", path, strerror(errno));
	r = ledger_import(db, f, path, kind, lf->mchid, lf->tz_offset_s, lf->run_id, res, err);
	if (f != stdin)
		fclose(f);
	return r;
}

int ledger_import_files(struct db *db, const struct ledger_files *f,
                        struct ledger_import_result *out_orders,
                        struct ledger_import_result *out_refunds, struct wxr_err *err)
{
	int r = db_begin(db, err);

	if (r < 0)
		return r;
	if (f->orders) {
		r = import_one(db, f, f->orders, LEDGER_ORDERS, out_orders, err);
		if (r < 0)
			goto fail;
	}
	if (f->refunds) {
		r = import_one(db, f, f->refunds, LEDGER_REFUNDS, out_refunds, err);
		if (r < 0)
			goto fail;
	}
	return db_commit(db, err);
fail:
	db_rollback(db);
	return r;
}
