/*
 * prune.h - `wxrecon prune --bills-older-than DUR` (issue 14): bill rows dropped
 * past a retention period. Each bill keeps its bill_files row (pruned_at set),
 * its summary, the report's totals of its rows and the day's findings; the
 * archived .gz that proves them stays, and `bill import --date D` restores the
 * rows from it. A bill whose .gz is not in the archive is never pruned.
 */
#ifndef WXR_PRUNE_H
#define WXR_PRUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/clock.h"
#include "db/db.h"

struct prune_opts {
	const char *mchid;  /* "" = every merchant */
	const char *before; /* YYYY-MM-DD: bills dated before this day */
	int64_t run_id;     /* for the audit log; <= 0 none */
	bool dry_run;       /* say what would go, change nothing */
	const char *now;    /* RFC 3339, stored as pruned_at */
};

struct prune_result {
	int64_t files; /* bills pruned (or that would be) */
	int64_t rows;  /* rows dropped (or that would be) */
	int64_t kept;  /* bills left whole: their .gz is not in the archive */
	char first[CLOCK_DATE_LEN], last[CLOCK_DATE_LEN]; /* dates pruned; "" when none */
	char kept_first[CLOCK_DATE_LEN];                  /* the first one left whole */
};

/* In one transaction: each bill pruned and audited (bill.prune, one entry a bill,
 * naming its date, kind, rows and SHA-1), or nothing. */
int prune_bills(struct db *db, const struct prune_opts *o, struct prune_result *out,
                struct wxr_err *err);

#endif
