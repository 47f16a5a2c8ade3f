/*
 * ledger.c - importing the ledger's files (ledger.h).
 */
#include "core/ledger.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/log.h"
#include "db/db.h"

/* Progress on a terminal: the part of the file read (its size known unless a pipe). */
struct import_progress {
	const char *path;
	int64_t size;
};

static void on_progress(void *arg, long rows, int64_t bytes)
{
	const struct import_progress *p = arg;

	log_progress_part(p->path, bytes, p->size, rows, "rows");
}

static int import_one(struct db *db, const struct ledger_files *lf, const char *path,
                      enum ledger_kind kind, struct ledger_import_result *res, struct wxr_err *err)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	struct import_progress ip = { path, 0 };
	struct ledger_progress prog = { on_progress, &ip };
	struct stat sb;
	int r;

	if (!f)
		return err_set(err, WXR_EIO, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode))
		ip.size = (int64_t)sb.st_size;
	r = ledger_import(db, f, path, kind, lf->mchid, lf->tz_offset_s, lf->run_id, &prog, res,
	                  err);
	log_progress_done();
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
