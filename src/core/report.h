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
#include "db/report_rows.h"
#include "wxrecon.h"

#define REPORT_MAX_DAYS   3660              /* about ten years; longer ranges are refused */
#define REPORT_OUT_MAX    ((size_t)1 << 30) /* cap of one rendered report */
#define REPORT_AMOUNT_LEN 32                /* buffer for report_format_amount */

/* The aging table's age buckets (REPORT_AGING_BUCKETS). */
extern const char *const report_aging_buckets[REPORT_AGING_BUCKETS]; /* "<1d" ... "90d+" */

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

#endif
