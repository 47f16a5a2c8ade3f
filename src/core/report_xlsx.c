/*
 * report_xlsx.c - the report as a workbook for people (libxlsxwriter): one
 * sheet per table (days, discrepancies, actions, stamp), a frozen header
 * row and set column widths on each.
 *
 * Cell types are what a person needs: ids (out_trade_no, transaction_id,
 * targets) are text cells, so a 28-digit transaction_id is neither rounded
 * nor shown with an apostrophe, and text starting with '=' is text, never
 * a formula; amounts are numbers in yuan with a yuan number format; dates
 * and times are date cells in the configured timezone.
 *
 * The same report gives the same bytes: the document's created time is the
 * start of the report's last day (from the data, not the clock), and
 * libxlsxwriter stamps the zip entries with that time too.
 */
#include "core/report.h"

#include <stdio.h>
#include <string.h>
#include <xlsxwriter.h>

#include "base/compat.h"
#include "base/err.h"

#define YUAN_FORMAT "#,##0.00"
#define DATE_FORMAT "yyyy-mm-dd"
#define TIME_FORMAT "yyyy-mm-dd hh:mm:ss"

struct sheet {
	lxw_worksheet *ws;
	lxw_row_t row;
	lxw_col_t col;
	lxw_error e; /* the first error of the sheet */
	const struct xfmt *f;
	int rc; /* reading the discrepancies failed: why, in *err */
	struct wxr_err *err;
};

struct xfmt {
	lxw_format *head;
	lxw_format *yuan;
	lxw_format *date;
	lxw_format *time;
};

static void note(struct sheet *s, lxw_error e)
{
	if (e != LXW_NO_ERROR && s->e == LXW_NO_ERROR)
		s->e = e;
	s->col++;
}

static void text(struct sheet *s, const char *v)
{
	if (!v || !*v) {
		s->col++;
		return;
	}
	note(s, worksheet_write_string(s->ws, s->row, s->col, v, NULL));
}

static void integer(struct sheet *s, int64_t v)
{
	/* row ids and counts: far below 2^53, exact as a double */
	note(s, worksheet_write_number(s->ws, s->row, s->col, (double)v, NULL));
}

/*
 * An amount in units of 1/div yuan (100 for fen, 100000 for fees) as a
 * number in yuan. The only floating-point value of wxrecon, made at the very
 * edge from integers: |v| < 2^53 is exact as a double, and one IEEE division
 * is correctly rounded, so the cell holds the double nearest to the exact
 * decimal (what a spreadsheet would read from "12.34"); nothing is summed or
 * compared in floating point.
 */
static void amount(struct sheet *s, int64_t v, int64_t div)
{
	note(s, worksheet_write_number(s->ws, s->row, s->col, (double)v / (double)div, s->f->yuan));
}

static void amount_or_empty(struct sheet *s, bool has, int64_t v)
{
	if (has)
		amount(s, v, 100);
	else
		s->col++;
}

/* "YYYY-MM-DD" or an RFC 3339 time already in the configured timezone
 * ("YYYY-MM-DDTHH:MM:SS+08:00") as a date cell of that local time; anything
 * else as text. */
static void when(struct sheet *s, const char *v)
{
	lxw_datetime dt = { 0 };
	int sec = 0, n = 0;
	bool with_time;

	if (!v || !*v) {
		s->col++;
		return;
	}
	with_time = strlen(v) > 10;
	if (with_time) {
		if (sscanf(v, "%4d-%2d-%2dT%2d:%2d:%2d%n", &dt.year, &dt.month, &dt.day, &dt.hour,
		           &dt.min, &sec, &n) != 6 ||
		    n != 19) {
			text(s, v);
			return;
		}
		dt.sec = sec;
	} else if (!date_is_valid(v) ||
	           sscanf(v, "%4d-%2d-%2d", &dt.year, &dt.month, &dt.day) != 3) {
		text(s, v);
		return;
	}
	note(s, worksheet_write_datetime(s->ws, s->row, s->col, &dt,
	                                 with_time ? s->f->time : s->f->date));
}

static void end_row(struct sheet *s)
{
	s->row++;
	s->col = 0;
}

/* The header row (bold, frozen) and the width of each column. */
static void header(struct sheet *s, const char *const *names, const double *widths, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		note(s, worksheet_write_string(s->ws, 0, (lxw_col_t)i, names[i], s->f->head));
		note(s, worksheet_set_column(s->ws, (lxw_col_t)i, (lxw_col_t)i, widths[i], NULL));
	}
	worksheet_freeze_panes(s->ws, 1, 0);
	s->row = 1;
	s->col = 0;
}

#define HEADER(s, names, widths)                                                               \
	do {                                                                                   \
		_Static_assert(ARRAY_SIZE(names) == ARRAY_SIZE(widths), "a width per column"); \
		header((s), (names), (widths), ARRAY_SIZE(names));                             \
	} while (0)

static void day_row(struct sheet *s, const struct report_day *d, bool total)
{
	if (total)
		text(s, "total");
	else
		when(s, d->date);
	text(s, total ? "" : report_bill_name(d->bill));
	integer(s, d->pay_count);
	amount(s, d->pay_fen, 100);
	integer(s, d->refund_count);
	amount(s, d->refund_fen, 100);
	amount(s, d->fees_e5, 100000);
	amount(s, d->net_fen, 100);
	integer(s, d->disc.open);
	integer(s, d->disc.resolved);
	integer(s, d->disc.auto_resolved);
	end_row(s);
}

static void days_sheet(struct sheet *s, const struct report *rep)
{
	static const char *const names[] = {
		"date",    "bill",           "payments",      "payments (yuan)",
		"refunds", "refunds (yuan)", "fees (yuan)",   "net (yuan)",
		"open",    "resolved",       "auto resolved",
	};
	static const double widths[] = { 12, 9, 10, 16, 9, 15, 13, 15, 7, 9, 13 };

	HEADER(s, names, widths);
	for (size_t i = 0; i < rep->ndays; i++)
		day_row(s, &rep->days[i], false);
	day_row(s, &rep->total, true);
}

static int disc_xrow(void *arg, const struct report_disc *d, struct wxr_err *err)
{
	struct sheet *s = arg;

	(void)err;
	integer(s, d->id);
	when(s, d->date);
	text(s, d->kind);
	text(s, d->status);
	text(s, d->out_trade_no);
	text(s, d->out_refund_no);
	text(s, d->transaction_id);
	amount_or_empty(s, d->has_ledger_amount, d->ledger_amount);
	amount_or_empty(s, d->has_bill_amount, d->bill_amount);
	text(s, d->ledger_state);
	text(s, d->bill_state);
	text(s, d->description);
	text(s, d->resolution);
	text(s, d->resolved_by);
	text(s, d->detail);
	/* the queue, as of the report's aging_as_of, for open ones */
	text(s, d->queued ? exc_severity_name(d->a.severity) : NULL);
	if (d->queued && d->a.has_due)
		when(s, d->a.due_date);
	else
		s->col++;
	text(s, d->queued && d->a.overdue ? "OVERDUE" : NULL);
	text(s, d->queued ? d->assignee : NULL);
	end_row(s);
	return 0;
}

static void discs_sheet(struct sheet *s, const struct report *rep)
{
	static const char *const names[] = {
		"id",           "date",          "kind",           "status",
		"out_trade_no", "out_refund_no", "transaction_id", "ledger (yuan)",
		"bill (yuan)",  "ledger state",  "bill state",     "description",
		"resolution",   "resolved by",   "detail",         "severity",
		"due date",     "overdue",       "owner",
	};
	static const double widths[] = { 6,  12, 26, 14, 24, 24, 32, 14, 14, 12,
		                         12, 24, 24, 16, 40, 10, 12, 8,  16 };

	HEADER(s, names, widths);
	s->rc = report_each_disc(rep, disc_xrow, s, s->err);
}

static void aging_row(struct sheet *s, const char *age, const struct report_aging_row *a)
{
	text(s, age);
	for (int k = 0; k < EXC_SEVERITY_COUNT; k++) {
		integer(s, a->sev[k].count);
		amount(s, a->sev[k].amount, 100);
	}
	integer(s, a->total.count);
	amount(s, a->total.amount, 100);
	integer(s, a->overdue.count);
	amount(s, a->overdue.amount, 100);
	end_row(s);
}

/* The open discrepancies by age and severity: count and yuan at stake. */
static void aging_sheet(struct sheet *s, const struct report *rep)
{
	static const char *const names[] = {
		"age",         "low",         "low (yuan)",     "medium",          "medium (yuan)",
		"high",        "high (yuan)", "critical",       "critical (yuan)", "open",
		"open (yuan)", "overdue",     "overdue (yuan)",
	};
	static const double widths[] = { 10, 8, 14, 8, 14, 8, 14, 8, 14, 8, 14, 8, 14 };

	HEADER(s, names, widths);
	for (size_t i = 0; i < REPORT_AGING_BUCKETS; i++)
		aging_row(s, report_aging_buckets[i], &rep->aging[i]);
	aging_row(s, "total", &rep->aging_total);
}

static void actions_sheet(struct sheet *s, const struct report *rep)
{
	static const char *const names[] = {
		"id",   "kind",   "target", "state", "amount (yuan)",
		"date", "result", "error",  "run",   "at",
	};
	static const double widths[] = { 6, 18, 24, 16, 14, 12, 12, 32, 6, 20 };

	HEADER(s, names, widths);
	for (size_t i = 0; i < rep->nactions; i++) {
		const struct report_action *a = &rep->actions[i];

		integer(s, a->id);
		text(s, a->kind);
		text(s, a->target);
		text(s, a->state);
		amount_or_empty(s, a->has_amount, a->amount);
		when(s, a->date);
		text(s, a->result);
		text(s, a->error);
		if (a->has_run_id)
			integer(s, a->run_id);
		else
			s->col++;
		when(s, a->at);
		end_row(s);
	}
}

static void stamp_sheet(struct sheet *s, const struct report *rep)
{
	static const char *const names[] = { "field", "value", "kind", "status", "sha1" };
	static const double widths[] = { 14, 66, 10, 8, 42 };

	HEADER(s, names, widths);
	text(s, "version");
	text(s, WXR_VERSION);
	end_row(s);
	text(s, "policy_hash");
	text(s, rep->policy_hash);
	end_row(s);
	text(s, "timezone");
	text(s, rep->timezone);
	end_row(s);
	text(s, "aging_as_of");
	when(s, rep->as_of);
	end_row(s);
	if (rep->mchid[0]) {
		text(s, "mchid");
		text(s, rep->mchid);
		end_row(s);
	}
	for (size_t i = 0; i < rep->nbills; i++) {
		text(s, "bill");
		when(s, rep->bills[i].date);
		text(s, rep->bills[i].kind);
		text(s, rep->bills[i].status);
		text(s, rep->bills[i].sha1);
		end_row(s);
	}
	for (size_t i = 0; i < rep->nruns; i++) {
		text(s, "run");
		integer(s, rep->runs[i]);
		end_row(s);
	}
	for (size_t i = 0; i < rep->ndays; i++) {
		if (rep->days[i].bill == REPORT_BILL_MISSING) {
			text(s, "missing_bill");
			when(s, rep->days[i].date);
			end_row(s);
		}
	}
	text(s, "audit");
	integer(s, rep->audit_entries);
	text(s, "");
	text(s, "");
	text(s, rep->audit_head);
	end_row(s);
}

static lxw_format *add_format(lxw_workbook *wb, const char *num_format, bool bold)
{
	lxw_format *f = workbook_add_format(wb);

	if (f && num_format)
		format_set_num_format(f, num_format);
	if (f && bold)
		format_set_bold(f);
	return f;
}

int report_render_xlsx(const struct report *rep, const char *path, struct wxr_err *err)
{
	static void (*const fill[])(struct sheet *, const struct report *) = {
		days_sheet, discs_sheet, actions_sheet, aging_sheet, stamp_sheet,
	};
	static const char *const sheet_names[] = { "days", "discrepancies", "actions", "aging",
		                                   "stamp" };
	char title[64];
	char author[] = "wxrecon " WXR_VERSION;
	lxw_doc_properties props = { 0 };
	struct xfmt f;
	lxw_workbook *wb;
	lxw_error e = LXW_NO_ERROR;
	int64_t created;

	_Static_assert(ARRAY_SIZE(fill) == ARRAY_SIZE(sheet_names), "a name per sheet");
	wb = workbook_new(path);
	if (!wb)
		return err_set(err, WXR_EIO, "cannot create the workbook '%s'", path);
	/* Fixed properties: the created time is the start of the report's last
	 * day in the configured timezone, never the clock. */
	if (date_parse(rep->to, rep->tz_offset_s, &created, NULL) < 0)
		created = 0;
	snprintf(title, sizeof(title), "wxrecon report %s..%s", rep->from, rep->to);
	props.title = title;
	props.author = author;
	props.created = (time_t)created;
	e = workbook_set_properties(wb, &props);

	f.head = add_format(wb, NULL, true);
	f.yuan = add_format(wb, YUAN_FORMAT, false);
	f.date = add_format(wb, DATE_FORMAT, false);
	f.time = add_format(wb, TIME_FORMAT, false);
	if (!f.head || !f.yuan || !f.date || !f.time)
		e = LXW_ERROR_MEMORY_MALLOC_FAILED;
	for (size_t i = 0; e == LXW_NO_ERROR && i < ARRAY_SIZE(fill); i++) {
		struct sheet s = {
			workbook_add_worksheet(wb, sheet_names[i]), 0, 0, LXW_NO_ERROR, &f, 0, err
		};

		if (!s.ws) {
			e = LXW_ERROR_MEMORY_MALLOC_FAILED;
			break;
		}
		fill[i](&s, rep);
		e = s.e;
		if (s.rc < 0) {
			workbook_close(wb);
			return s.rc;
		}
	}
	if (e != LXW_NO_ERROR) {
		workbook_close(wb); /* frees it; the caller removes the file */
		return err_set(err, WXR_EIO, "cannot write the workbook '%s': %s", path,
		               lxw_strerror(e));
	}
	e = workbook_close(wb);
	if (e != LXW_NO_ERROR)
		return err_set(err, WXR_EIO, "cannot write the workbook '%s': %s", path,
		               lxw_strerror(e));
	return 0;
}
