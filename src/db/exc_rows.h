/*
 * exc_rows.h - what the exception queue says of an open discrepancy (its
 * severity, the fix and its deadline), as core/exceptions.c computes it and
 * the report model (report_rows.h) carries it. Amounts are integer fen.
 */
#ifndef WXR_EXC_ROWS_H
#define WXR_EXC_ROWS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/clock.h"

enum exc_severity { EXC_LOW, EXC_MEDIUM, EXC_HIGH, EXC_CRITICAL };
#define EXC_SEVERITY_COUNT 4

enum exc_fix { EXC_FIX_NONE, EXC_FIX_REFUND, EXC_FIX_BILL };

/* What an open discrepancy weighs as of a time (exc_assess()). */
struct exc_assessment {
	int64_t age_s;  /* now - found_ts, never negative */
	int64_t amount; /* fen at stake, never negative */
	enum exc_severity severity;
	enum exc_fix fix;
	bool has_due;
	int64_t due_ts;                /* the deadline: overdue from here on */
	char due_date[CLOCK_DATE_LEN]; /* the last day to act; "" when none */
	bool overdue;
	int64_t days_left; /* whole days from now to due_ts, rounded down; < 0 overdue */
};

#endif
