/*
 * report_rows.h - the report model (SPEC 8) as core/report.c builds it and
 * db_report.c reads it from the database: the days of a range, its
 * discrepancies, actions and bill files, the aging table, the reports index.
 * Units: amounts int64 fen; fees int64 0.00001 yuan (fee_e5). And the two
 * helpers the reading needs: local times and clean UTF-8 copies.
 */
#ifndef WXR_REPORT_ROWS_H
#define WXR_REPORT_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"
#include "db/exc_rows.h"

struct db;
struct exc_policy; /* core/exceptions.h */
struct wxr_err;

enum report_bill { REPORT_BILL_MISSING, REPORT_BILL_EMPTY, REPORT_BILL_OK };

struct report_counts {
	int64_t open;
	int64_t resolved;
	int64_t auto_resolved;
};

/* One day of the range: the trade bill's totals and the day's findings. */
struct report_day {
	char date[CLOCK_DATE_LEN];
	enum report_bill bill; /* from bill_files, kind trade */
	int64_t pay_count;     /* SUCCESS rows */
	int64_t pay_fen;       /* sum of 应结订单金额 of SUCCESS rows */
	int64_t refund_count;  /* REFUND rows */
	int64_t refund_fen;    /* sum of 退款金额 of REFUND rows */
	int64_t fees_e5;       /* sum of 手续费 of every row (refund rows' are negative) */
	int64_t net_fen;       /* pay_fen - refund_fen - report_fee_to_fen(fees_e5) */
	struct report_counts disc;
};

/* A discrepancy. Strings are owned (freed by report_free); NULL = SQL NULL. */
struct report_disc {
	int64_t id;
	char date[CLOCK_DATE_LEN];
	char *kind;
	char *out_trade_no;
	char *out_refund_no;
	char *transaction_id;
	bool has_ledger_amount;
	bool has_bill_amount;
	int64_t ledger_amount; /* fen */
	int64_t bill_amount;   /* fen */
	char *ledger_state;
	char *bill_state;
	char *status; /* open | resolved | auto_resolved */
	char *resolution;
	char *resolved_by;
	char *detail;
	char *description; /* 商品名称 of the bill row with this transaction_id, if any */
	/* The exception queue, for one open as of the report's as_of (queued). */
	bool queued;
	char *assignee;          /* NULL = nobody */
	struct exc_assessment a; /* as of as_of */
};

/* The aging table: open discrepancies by age (as of the report's as_of,
 * since each was first found) and severity, counted and with the fen at
 * stake; overdue ones also on their own. */
#define REPORT_AGING_BUCKETS 6
struct report_aging_cell {
	int64_t count;
	int64_t amount; /* fen at stake */
};
struct report_aging_row {
	struct report_aging_cell sev[EXC_SEVERITY_COUNT];
	struct report_aging_cell total;
	struct report_aging_cell overdue;
};

/* An action. Strings owned; NULL = SQL NULL. */
struct report_action {
	int64_t id;
	char *kind;
	char *target;
	char *state;
	char *result;
	char *error;
	bool has_run_id;
	bool has_amount;
	int64_t run_id;
	int64_t amount; /* fen */
	char *date;     /* the business date it concerns */
	char *at;       /* updated_at, in the configured timezone when it parses */
};

/* A bill file of the range (trade or fundflow). Strings owned. */
struct report_bill_file {
	char date[CLOCK_DATE_LEN];
	char *kind;
	char *status;
	char *sha1; /* NULL for an empty day */
};

struct report_kind {
	char *kind; /* owned */
	struct report_counts c;
};

struct report {
	char from[CLOCK_DATE_LEN];
	char to[CLOCK_DATE_LEN];
	char *mchid;
	char *timezone;
	char policy_hash[65];
	int tz_offset_s;

	struct report_day *days; /* one per date of the range, in order */
	size_t ndays;
	struct report_day total; /* sums over the days; date "total"; bill unused */
	size_t nmissing;         /* days whose trade bill was never fetched */

	/* The discrepancies dated in the range: how many; report_each_disc() (core/report.h)
	 * reads them, by date then id, one at a time from the load's snapshot (a day of 1% of
	 * every kind is 110000 of them: never all in memory). */
	size_t ndiscs;
	struct report_kind *kinds; /* those counted by kind and status, by kind */
	size_t nkinds;
	struct report_action *actions; /* by id; see report_load for which */
	size_t nactions;
	struct report_bill_file *bills; /* bill files of the range, by date then kind */
	size_t nbills;
	int64_t *runs; /* distinct run ids behind the discrepancies and actions, ascending */
	size_t nruns;

	/* Aging is as of the end of the range (the start of the day after `to`,
	 * in the timezone), not the clock: the same inputs give the same bytes. */
	int64_t as_of_ts;
	char as_of[CLOCK_RFC3339_LEN]; /* in the configured timezone */
	struct report_aging_row aging[REPORT_AGING_BUCKETS];
	struct report_aging_row aging_total;
	/* The audit log's head when the report was made (issue 20 item 5): a log
	 * later cut below it no longer holds this entry with this hash. */
	int64_t audit_entries;
	char audit_head[65];

	/* What report_each_disc reads from: the database, in the read transaction the load
	 * opened (ended by report_free), and the queue's policy for the assessments (a copy
	 * the report owns). */
	struct db *db;
	bool own_tx;
	struct exc_policy *exc;
	/* Where renderers flush their output while listing (report_flush); NULL: they append
	 * the whole document to their buffer. */
	int (*sink)(void *arg, const char *data, size_t n, struct wxr_err *err);
	void *sink_arg;
	/* Called every few thousand discrepancies listed: done of ndiscs; NULL: none. */
	void (*progress)(void *arg, size_t done, size_t total);
	void *progress_arg;
};

/* One report of the reports directory (reports_dir/index.html): the files
 * named JOB_FROM_TO.html|.json|.xlsx and the JOB_FROM_TO-csv directory. */
struct report_index_row {
	char job[64];
	char from[CLOCK_DATE_LEN];
	char to[CLOCK_DATE_LEN];
	char files[4][96]; /* the names present, "" for none: html, xlsx, json, csv */
	int64_t run_id;    /* latest run of job over from..to; 0 = none */
	char state[16];    /* its state: ok, attention, failed, running */
	int64_t open;      /* open discrepancies dated in the range */
	int64_t missing;   /* days of the range without a trade bill */
};

/*
 * The RFC 3339 time s in the configured timezone, with its offset
 * ("2026-11-02T02:31:05Z" at +08:00 is "2026-11-02T10:31:05+08:00"): the one
 * clock of every view a person reads (reports, runs, audit, actions).
 * Returns out, or s itself when it does not parse (NULL stays NULL).
 */
const char *report_local_time(const char *s, int tz_offset_s, char out[CLOCK_RFC3339_LEN]);

/* Returns a copy of the n bytes at s with every invalid UTF-8 sequence
 * replaced by U+FFFD (caller frees). */
char *report_utf8_dup(const char *s, size_t n);

#endif
