/*
 * report.h - finance reports for a date range (SPEC 8): the report model
 * loaded from the database, and its renderings (JSON, CSV, HTML, xlsx).
 *
 * A report is a pure function of the database state and its options: it
 * carries a stamp of what it was made from (bill SHA1s, run ids, wxrecon
 * version, policy hash) and nothing that changes by itself (no wall clock),
 * so the same inputs give the same bytes. Loading only reads the database.
 *
 * Units: amounts are int64 fen; fees int64 0.00001 yuan (fee_e5). Never a
 * floating-point number anywhere here, but for the xlsx cells, made at the
 * edge from integers (report_xlsx.c).
 */
#ifndef WXR_REPORT_H
#define WXR_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/clock.h"
#include "core/exceptions.h"
#include "db/db.h"
#include "wxrecon.h"

#define REPORT_MAX_DAYS   3660              /* about ten years; longer ranges are refused */
#define REPORT_OUT_MAX    ((size_t)1 << 30) /* cap of one rendered report */
#define REPORT_AMOUNT_LEN 32                /* buffer for report_format_amount */

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
extern const char *const report_aging_buckets[REPORT_AGING_BUCKETS]; /* "<1d" ... "90d+" */
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

struct report_opts {
	const char *from;        /* YYYY-MM-DD, inclusive */
	const char *to;          /* YYYY-MM-DD, inclusive */
	const char *mchid;       /* "" = every merchant in the database */
	int tz_offset_s;         /* the configured timezone */
	const char *timezone;    /* its name, for the stamp; may be NULL */
	const char *policy_hash; /* config_policy_hash() */
	/* the severity thresholds for the aging table; NULL = the defaults */
	const struct exc_policy *exc;
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

	/* The discrepancies dated in the range: how many; report_each_disc() reads them, by
	 * date then id, one at a time from the load's snapshot (a day of 1% of every kind is
	 * 110000 of them: never all in memory). */
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
	 * opened (ended by report_free), the queue's policy for the assessments. */
	struct db *db;
	bool own_tx;
	struct exc_policy exc;
	/* Where renderers flush their output while listing (report_flush); NULL: they append
	 * the whole document to their buffer. */
	int (*sink)(void *arg, const char *data, size_t n, struct wxr_err *err);
	void *sink_arg;
	/* Called every few thousand discrepancies listed: done of ndiscs; NULL: none. */
	void (*progress)(void *arg, size_t done, size_t total);
	void *progress_arg;
};

/*
 * Calls fn for each discrepancy of the range, by date then id (strings borrowed for the
 * call); the queue's view (queued, assignee, assessment) of the open ones as of as_of.
 */
int report_each_disc(const struct report *rep,
                     int (*fn)(void *arg, const struct report_disc *d, struct wxr_err *err),
                     void *arg, struct wxr_err *err);
/* Hands out's bytes to rep->sink and empties out, once it holds enough to be worth a
 * write (always when force); without a sink, nothing. */
int report_flush(const struct report *rep, struct buf *out, bool force, struct wxr_err *err);

/*
 * Loads the report for opts from db in one read transaction (none is opened
 * when the caller has one). Actions included, each once: those whose
 * business date (the payment's or refund's date in the ledger, else the
 * action's own date) is in the range; those taken by a run whose date range
 * overlaps the range (the nightly run's closes, dated the night after); and
 * those with neither whose created_at falls in the range (configured
 * timezone). An action's date is its business date. Returns a new report; free it with
 * report_free().
 */
int report_load(struct db *db, const struct report_opts *opts, struct report **out_report,
                struct wxr_err *err);
struct report *report_free(struct report *rep);

/*
 * Reads the audit head a written report was stamped with: a JSON report
 * (generated_from.audit) or a stamp.csv (its audit row). Returns 1 and sets
 * the outputs when path holds one, 0 when it is no report or has no audit
 * stamp (made before it existed), < 0 when it cannot be read.
 */
int report_read_audit_stamp(const char *path, int64_t *out_entries, char out_head[65],
                            struct wxr_err *err);

/* Renderings. Each appends the whole document to out. */
int report_render_json(const struct report *rep, struct buf *out, struct wxr_err *err);
/* days.csv: the daily totals and a total row. */
int report_render_csv_days(const struct report *rep, struct buf *out, struct wxr_err *err);
/* stamp.csv: field,value,kind,status,sha1 rows: version, policy_hash,
 * timezone, mchid, one bill row per bill file, one run row per run, one
 * missing_bill row per day never fetched, and the audit row: its value the
 * log's entries, its sha1 cell the last entry's hash. */
int report_render_csv_stamp(const struct report *rep, struct buf *out, struct wxr_err *err);
int report_render_csv_discrepancies(const struct report *rep, struct buf *out, struct wxr_err *err);
int report_render_csv_actions(const struct report *rep, struct buf *out, struct wxr_err *err);
/* aging.csv: one row per age bucket and a total row: count and yuan at stake
 * per severity, in total, and overdue. */
int report_render_csv_aging(const struct report *rep, struct buf *out, struct wxr_err *err);
int report_render_html(const struct report *rep, struct buf *out, struct wxr_err *err);
/* The workbook (days, discrepancies, actions, stamp sheets) written to path;
 * on failure path may hold a partial file, which the caller removes. */
int report_render_xlsx(const struct report *rep, const char *path, struct wxr_err *err);

/*
 * The RFC 3339 time s in the configured timezone, with its offset
 * ("2026-11-02T02:31:05Z" at +08:00 is "2026-11-02T10:31:05+08:00"): the one
 * clock of every view a person reads (reports, runs, audit, actions).
 * Returns out, or s itself when it does not parse (NULL stays NULL).
 */
const char *report_local_time(const char *s, int tz_offset_s, char out[CLOCK_RFC3339_LEN]);

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

/* Parses a reports_dir entry name into row (job, dates, the file's slot);
 * returns the slot 0..3, or -1 when name is not a report's. */
int report_index_parse(const char *name, struct report_index_row *row);
/* Reads dir's reports (report_index_parse) into *out_rows, one per job and
 * range, newest first, each with its latest run and open discrepancies
 * (db_report_index_row); the caller frees *out_rows. */
int report_index_load(struct db *db, const char *dir, const char *mchid,
                      struct report_index_row **out_rows, size_t *out_n, struct wxr_err *err);
/* The static index page of rows (sorted by the caller), one self-contained
 * HTML file like the reports. */
int report_render_index(const struct report_index_row *rows, size_t n, struct buf *out,
                        struct wxr_err *err);

/* "ok", "empty" or "missing". */
const char *report_bill_name(enum report_bill b);

/*
 * Writes v (in units of 10^-scale yuan, scale 0..18) as a plain decimal with
 * exactly scale decimals: -6 at scale 2 is "-0.06", 15000 at scale 5 is
 * "0.15000". Exact for every int64 (INT64_MIN included). With group, the
 * integer part gets thousands separators ("1,234.50"). Returns the length.
 */
int report_format_amount(int64_t v, int scale, bool group, char out[REPORT_AMOUNT_LEN]);

/* A day's fee in 0.00001 yuan rounded to the fen, half away from zero (the
 * rule of money_fee_to_fen in the bill module). */
int64_t report_fee_to_fen(int64_t fee_e5);

/*
 * CSV cells (RFC 4180). A text cell that a spreadsheet would run as a formula
 * (first byte '=', '+', '-', '@', TAB or CR) gets a leading apostrophe; a
 * digit-only id is written as it is (scripts look ids up; people use the
 * xlsx, where ids are text cells); a cell
 * holding ',', '"', CR or LF is quoted with '"' doubled. Number cells are
 * written as they are: only report_format_amount and integers go there, so
 * a negative amount such as "-12.34" stays a number.
 */
int report_csv_text(struct buf *b, const char *s);
int report_csv_number(struct buf *b, const char *s);

/* Appends s HTML-escaped (& < > " '), control characters replaced by U+FFFD. */
int report_html_escape(struct buf *b, const char *s);

/* Returns a copy of the n bytes at s with every invalid UTF-8 sequence
 * replaced by U+FFFD (caller frees). */
char *report_utf8_dup(const char *s, size_t n);

#endif
