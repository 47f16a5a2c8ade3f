/*
 * report_csv.c - the CSV renderings: UTF-8 with a BOM (so Excel reads the
 * Chinese text as UTF-8), CRLF line ends, RFC 4180 quoting, and formula
 * escaping of text cells.
 *
 * Numbers are written by us from integers (report_format_amount: yuan with
 * 2 decimals, fees with 5, the exact value), never escaped, so "-12.34"
 * stays a number in a spreadsheet. Everything else is a text cell and gets
 * a leading apostrophe when its first byte would make a spreadsheet run it
 * as a formula. Digit-only ids are written as they are: CSV is for scripts,
 * which must find the id they look up; a person opens the xlsx, whose id
 * cells are text.
 */
#include "core/report.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

#define CSV_BOM "\xEF\xBB\xBF"

static bool is_formula_start(char c)
{
	return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

static int csv_cell(struct buf *b, const char *s, bool text)
{
	bool quote;
	int r = 0;

	if (!s)
		s = "";
	quote = strpbrk(s, ",\"\r\n") != NULL;
	if (quote)
		r |= buf_addc(b, '"');
	if (text && is_formula_start(s[0]))
		r |= buf_addc(b, '\'');
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			r |= buf_addc(b, '"');
		r |= buf_addc(b, *p);
	}
	if (quote)
		r |= buf_addc(b, '"');
	return r ? WXR_ETOOBIG : 0;
}

int report_csv_text(struct buf *b, const char *s)
{
	return csv_cell(b, s, true);
}

int report_csv_number(struct buf *b, const char *s)
{
	return csv_cell(b, s, false);
}

/* A row being written: cells are separated by commas; r collects failures. */
struct row {
	struct buf *b;
	int ncells;
	int r;
};

static void sep(struct row *w)
{
	if (w->ncells++)
		w->r |= buf_addc(w->b, ',');
}

static void text(struct row *w, const char *s)
{
	sep(w);
	w->r |= report_csv_text(w->b, s);
}

static void integer(struct row *w, int64_t v)
{
	char s[24];

	sep(w);
	snprintf(s, sizeof(s), "%" PRId64, v);
	w->r |= report_csv_number(w->b, s);
}

static void amount(struct row *w, int64_t v, int scale)
{
	char s[REPORT_AMOUNT_LEN];

	sep(w);
	report_format_amount(v, scale, false, s);
	w->r |= report_csv_number(w->b, s);
}

static void amount_or_empty(struct row *w, bool has, int64_t v)
{
	if (has)
		amount(w, v, 2);
	else
		sep(w);
}

static void end_row(struct row *w)
{
	w->r |= buf_add(w->b, "\r\n", 2);
	w->ncells = 0;
}

/* Appends a header row from a comma-separated list of plain names. */
static void header(struct row *w, const char *names)
{
	w->r |= buf_adds(w->b, names);
	end_row(w);
}

static int finish(struct row *w, const struct buf *out, struct wxr_err *err)
{
	if (w->r)
		return err_set(err, WXR_ETOOBIG, "the CSV report is larger than %zu bytes",
		               out->max);
	return 0;
}

static void day_row(struct row *w, const struct report_day *d, const char *bill)
{
	text(w, d->date);
	text(w, bill);
	integer(w, d->pay_count);
	amount(w, d->pay_fen, 2);
	integer(w, d->refund_count);
	amount(w, d->refund_fen, 2);
	amount(w, d->fees_e5, 5);
	amount(w, d->net_fen, 2);
	integer(w, d->disc.open);
	integer(w, d->disc.resolved);
	integer(w, d->disc.auto_resolved);
	end_row(w);
}

int report_render_csv_days(const struct report *rep, struct buf *out, struct wxr_err *err)
{
	struct row w = { out, 0, 0 };

	w.r |= buf_adds(out, CSV_BOM);
	header(&w,
	       "date,bill,payments_count,payments_yuan,refunds_count,refunds_yuan,fees_yuan,"
	       "net_yuan,discrepancies_open,discrepancies_resolved,discrepancies_auto_resolved");
	for (size_t i = 0; i < rep->ndays; i++)
		day_row(&w, &rep->days[i], report_bill_name(rep->days[i].bill));
	day_row(&w, &rep->total, "");
	return finish(&w, out, err);
}

/* The first two cells of a stamp row; a bill row adds kind, status, sha1. */
static void stamp_row(struct row *w, const char *field, const char *value)
{
	text(w, field);
	text(w, value);
}

int report_render_csv_stamp(const struct report *rep, struct buf *out, struct wxr_err *err)
{
	struct row w = { out, 0, 0 };

	w.r |= buf_adds(out, CSV_BOM);
	header(&w, "field,value,kind,status,sha1");
	stamp_row(&w, "version", WXR_VERSION);
	end_row(&w);
	stamp_row(&w, "policy_hash", rep->policy_hash);
	end_row(&w);
	stamp_row(&w, "timezone", rep->timezone);
	end_row(&w);
	stamp_row(&w, "aging_as_of", rep->as_of);
	end_row(&w);
	if (rep->mchid[0]) {
		stamp_row(&w, "mchid", rep->mchid);
		end_row(&w);
	}
	for (size_t i = 0; i < rep->nbills; i++) {
		const struct report_bill_file *bf = &rep->bills[i];

		stamp_row(&w, "bill", bf->date);
		text(&w, bf->kind);
		text(&w, bf->status);
		text(&w, bf->sha1);
		end_row(&w);
	}
	for (size_t i = 0; i < rep->nruns; i++) {
		text(&w, "run");
		integer(&w, rep->runs[i]);
		end_row(&w);
	}
	for (size_t i = 0; i < rep->ndays; i++) {
		if (rep->days[i].bill == REPORT_BILL_MISSING) {
			stamp_row(&w, "missing_bill", rep->days[i].date);
			end_row(&w);
		}
	}
	/* field audit, value the entry count, sha1 column the head's hash */
	text(&w, "audit");
	integer(&w, rep->audit_entries);
	sep(&w);
	sep(&w);
	text(&w, rep->audit_head);
	end_row(&w);
	return finish(&w, out, err);
}

struct csv_each {
	const struct report *rep;
	struct row *w;
};

static int disc_row(void *p, const struct report_disc *d, struct wxr_err *err)
{
	struct csv_each *ce = p;
	struct row *w = ce->w;

	integer(w, d->id);
	text(w, d->date);
	text(w, d->kind);
	text(w, d->status);
	text(w, d->out_trade_no);
	text(w, d->out_refund_no);
	text(w, d->transaction_id);
	amount_or_empty(w, d->has_ledger_amount, d->ledger_amount);
	amount_or_empty(w, d->has_bill_amount, d->bill_amount);
	text(w, d->ledger_state);
	text(w, d->bill_state);
	text(w, d->description);
	text(w, d->resolution);
	text(w, d->resolved_by);
	text(w, d->detail);
	end_row(w);
	if (w->r)
		return finish(w, w->b, err);
	return report_flush(ce->rep, w->b, false, err);
}

int report_render_csv_discrepancies(const struct report *rep, struct buf *out, struct wxr_err *err)
{
	struct row w = { out, 0, 0 };
	struct csv_each ce = { rep, &w };
	int r;

	w.r |= buf_adds(out, CSV_BOM);
	header(&w, "id,date,kind,status,out_trade_no,out_refund_no,transaction_id,"
	           "ledger_amount_yuan,bill_amount_yuan,ledger_state,bill_state,description,"
	           "resolution,resolved_by,detail");
	r = report_each_disc(rep, disc_row, &ce, err);
	if (r < 0)
		return r;
	return finish(&w, out, err);
}

int report_render_csv_actions(const struct report *rep, struct buf *out, struct wxr_err *err)
{
	struct row w = { out, 0, 0 };

	w.r |= buf_adds(out, CSV_BOM);
	header(&w, "id,kind,target,state,amount_yuan,date,result,error,run_id,at");
	for (size_t i = 0; i < rep->nactions; i++) {
		const struct report_action *a = &rep->actions[i];

		integer(&w, a->id);
		text(&w, a->kind);
		text(&w, a->target);
		text(&w, a->state);
		amount_or_empty(&w, a->has_amount, a->amount);
		text(&w, a->date);
		text(&w, a->result);
		text(&w, a->error);
		if (a->has_run_id)
			integer(&w, a->run_id);
		else
			sep(&w);
		text(&w, a->at);
		end_row(&w);
	}
	return finish(&w, out, err);
}

static void aging_cell(struct row *w, const struct report_aging_cell *c)
{
	integer(w, c->count);
	amount(w, c->amount, 2);
}

static void aging_row(struct row *w, const char *age, const struct report_aging_row *a)
{
	text(w, age);
	for (int s = 0; s < EXC_SEVERITY_COUNT; s++)
		aging_cell(w, &a->sev[s]);
	aging_cell(w, &a->total);
	aging_cell(w, &a->overdue);
	end_row(w);
}

int report_render_csv_aging(const struct report *rep, struct buf *out, struct wxr_err *err)
{
	struct row w = { out, 0, 0 };

	w.r |= buf_adds(out, CSV_BOM);
	header(&w, "age,low_count,low_yuan,medium_count,medium_yuan,high_count,high_yuan,"
	           "critical_count,critical_yuan,open_count,open_yuan,overdue_count,overdue_yuan");
	for (size_t i = 0; i < REPORT_AGING_BUCKETS; i++)
		aging_row(&w, report_aging_buckets[i], &rep->aging[i]);
	aging_row(&w, "total", &rep->aging_total);
	return finish(&w, out, err);
}
