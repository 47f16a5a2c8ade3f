/*
 * exceptions.c - the exception queue: assessment (pure) and the audited
 * changes a person makes (exceptions.h states the rules).
 */
#include "core/exceptions.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "core/reconcile.h"
#include "db/audit.h"
#include "db/db_reconcile.h"

static const char *const severity_names[EXC_SEVERITY_COUNT] = { "low", "medium", "high",
	                                                        "critical" };

const char *exc_severity_name(enum exc_severity s)
{
	return (unsigned)s < EXC_SEVERITY_COUNT ? severity_names[s] : "?";
}

int exc_severity_parse(const char *s)
{
	for (int i = 0; i < EXC_SEVERITY_COUNT; i++) {
		if (strcmp(s, severity_names[i]) == 0)
			return i;
	}
	return -1;
}

void exc_policy_from_config(const struct config *cfg, struct exc_policy *out)
{
	memset(out, 0, sizeof(*out));
	out->above[EXC_MEDIUM] = cfg->severity_medium_above;
	out->above[EXC_HIGH] = cfg->severity_high_above;
	out->above[EXC_CRITICAL] = cfg->severity_critical_above;
	out->after_s[EXC_MEDIUM] = cfg->severity_medium_after_s;
	out->after_s[EXC_HIGH] = cfg->severity_high_after_s;
	out->after_s[EXC_CRITICAL] = cfg->severity_critical_after_s;
	out->due_warn_days = cfg->due_warn_days;
	out->tz_offset_s = cfg->tz_offset_s;
}

enum exc_fix exc_kind_fix(const char *kind)
{
	static const char *const refund[] = { "MISSED_PAYMENT",         "MISSING_IN_LEDGER",
		                              "AMOUNT_MISMATCH",        "DUPLICATE_PAYMENT",
		                              "REFUND_MISSING_IN_BILL", "REFUND_AMOUNT_MISMATCH",
		                              "REFUND_STATUS_MISMATCH" };
	static const char *const bill[] = { "BILL_MISSING", "BILL_SUMMARY_MISMATCH",
		                            "BALANCE_DISCONTINUITY", "FEE_MISMATCH",
		                            "MISSING_IN_BILL" };

	for (size_t i = 0; i < ARRAY_SIZE(refund); i++) {
		if (strcmp(kind, refund[i]) == 0)
			return EXC_FIX_REFUND;
	}
	for (size_t i = 0; i < ARRAY_SIZE(bill); i++) {
		if (strcmp(kind, bill[i]) == 0)
			return EXC_FIX_BILL;
	}
	return EXC_FIX_NONE;
}

/* Payment kinds are dated by their payment (the bill's success day). */
static bool is_payment_kind(const char *kind)
{
	return strncmp(kind, "REFUND_", 7) != 0;
}

static int64_t abs64(int64_t v)
{
	return v < 0 ? (v == INT64_MIN ? INT64_MAX : -v) : v;
}

/* The first second after the bill of date stops being downloadable (at
 * offset_s), i.e. the start of date + 3 calendar months, the day clamped
 * to the month's end; false when date does not parse. */
static bool bill_deadline(const char *date, int offset_s, int64_t *out_ts)
{
	static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int64_t start;
	int y, m, d;
	unsigned last;

	if (date_parse(date, offset_s, &start, NULL) < 0 ||
	    sscanf(date, "%4d-%2d-%2d", &y, &m, &d) != 3)
		return false;
	m += EXC_BILL_WINDOW_MON;
	while (m > 12) {
		m -= 12;
		y++;
	}
	last = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		last = 29;
	if ((unsigned)d > last)
		d = (int)last;
	*out_ts = days_from_civil(y, (unsigned)m, (unsigned)d) * EXC_DAY_S - offset_s;
	return true;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void exc_assess(const struct exc_policy *p, const struct exc_facts *f, int64_t now,
                struct exc_assessment *out)
{
	enum exc_severity s = EXC_LOW;

	memset(out, 0, sizeof(*out));
	out->age_s = now > f->found_ts ? now - f->found_ts : 0;
	if (f->has_ledger_amount && f->has_bill_amount)
		out->amount = abs64(f->ledger_amount - f->bill_amount);
	else if (f->has_ledger_amount)
		out->amount = abs64(f->ledger_amount);
	else if (f->has_bill_amount)
		out->amount = abs64(f->bill_amount);
	for (int i = EXC_MEDIUM; i < EXC_SEVERITY_COUNT; i++) {
		if (out->amount > p->above[i] || out->age_s >= p->after_s[i])
			s = (enum exc_severity)i;
	}
	out->fix = exc_kind_fix(f->kind);
	if (out->fix == EXC_FIX_REFUND) {
		int64_t paid;

		if (f->has_payment_ts) {
			paid = f->payment_ts;
			out->has_due = true;
		} else if (is_payment_kind(f->kind) &&
		           date_parse(f->date, p->tz_offset_s, &paid, NULL) == 0) {
			out->has_due = true;
		}
		if (out->has_due)
			out->due_ts = paid + EXC_REFUND_WINDOW_S;
	} else if (out->fix == EXC_FIX_BILL) {
		out->has_due = bill_deadline(f->date, p->tz_offset_s, &out->due_ts);
	}
	if (out->has_due) {
		time_date(out->due_ts - 1, p->tz_offset_s, out->due_date);
		out->overdue = now >= out->due_ts;
		out->days_left = floor_div(out->due_ts - now, EXC_DAY_S);
		if (now >= out->due_ts - p->due_warn_days * EXC_DAY_S)
			s = EXC_CRITICAL;
	}
	out->severity = s;
}

void exc_facts_of_row(const struct db_exc_row *row, int tz_offset_s, struct exc_facts *out)
{
	int64_t ts;

	memset(out, 0, sizeof(*out));
	out->kind = row->kind;
	out->date = row->date;
	out->has_ledger_amount = row->has_ledger_amount;
	out->has_bill_amount = row->has_bill_amount;
	out->ledger_amount = row->ledger_amount;
	out->bill_amount = row->bill_amount;
	if (time_parse_rfc3339(row->created_at, &ts, NULL) == 0)
		out->found_ts = ts;
	if (row->has_paid_ts) {
		out->has_payment_ts = true;
		out->payment_ts = row->paid_ts;
	} else if (row->bill_paid_time &&
	           time_parse_local(row->bill_paid_time, tz_offset_s, &ts, NULL) == 0) {
		out->has_payment_ts = true;
		out->payment_ts = ts;
	}
}

/* ---- the queue ---- */

struct list_ctx {
	const struct exc_filter *f;
	const struct exc_policy *p;
	int64_t now;
	int (*cb)(void *ctx, const struct exc_item *it, struct wxr_err *err);
	void *ctx;
};

static int list_row(void *p, const struct db_exc_row *row, struct wxr_err *err)
{
	struct list_ctx *lc = p;
	struct exc_item it;

	memset(&it, 0, sizeof(it));
	it.row = row;
	it.open = strcmp(row->status, "open") == 0;
	if (it.open) {
		struct exc_facts facts;

		exc_facts_of_row(row, lc->p->tz_offset_s, &facts);
		if (facts.found_ts == 0)
			facts.found_ts = lc->now;
		exc_assess(lc->p, &facts, lc->now, &it.a);
	}
	if (lc->f->min_severity >= 0 && (!it.open || (int)it.a.severity < lc->f->min_severity))
		return 0;
	if (lc->f->older_than_s > 0 && (!it.open || it.a.age_s < lc->f->older_than_s))
		return 0;
	return lc->cb(lc->ctx, &it, err);
}

int exc_list(struct db *db, const struct exc_filter *f, const struct exc_policy *p, int64_t now,
             int (*cb)(void *ctx, const struct exc_item *it, struct wxr_err *err), void *ctx,
             struct wxr_err *err)
{
	struct list_ctx lc = { f, p, now, cb, ctx };

	return db_exc_list(db, &f->q, list_row, &lc, err);
}

struct ids {
	int64_t *v;
	size_t n, alloc;
};

static int collect_id(void *p, const struct exc_item *it, struct wxr_err *err)
{
	struct ids *ids = p;

	(void)err;
	if (!it->open)
		return 0;
	if (ids->n == ids->alloc) {
		ids->alloc = ids->alloc ? 2 * ids->alloc : 16;
		ids->v = xrealloc(ids->v, ids->alloc * sizeof(*ids->v));
	}
	ids->v[ids->n++] = it->row->id;
	return 0;
}

int exc_match_ids(struct db *db, const struct exc_filter *f, const struct exc_policy *p,
                  int64_t now, int64_t **out_ids, size_t *out_n, struct wxr_err *err)
{
	struct ids ids = { NULL, 0, 0 };
	struct exc_filter open = *f;
	int r;

	open.q.status = "open";
	r = exc_list(db, &open, p, now, collect_id, &ids, err);
	if (r < 0) {
		free(ids.v);
		return r;
	}
	*out_ids = ids.v;
	*out_n = ids.n;
	return 0;
}

/* ---- changes a person makes ---- */

static int audit_json(struct db *db, const char *who, const char *event,
                      const struct db_exc_brief *b, json_t *detail, struct wxr_err *err)
{
	char *text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
	char *subject;
	int r;

	json_decref(detail);
	if (!text)
		BUG("json_dumps failed");
	subject = b ? xasprintf("%s %s", b->kind, b->key) : NULL;
	r = audit_append(db, 0, who, event, subject, text, err);
	free(subject);
	free(text);
	return r;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* One transaction, or a savepoint inside the caller's. */
static int end(struct db *db, struct db_recon_tx *tx, int r, struct wxr_err *err)
{
	if (r < 0) {
		db_recon_end(db, tx, false, NULL);
		return r;
	}
	return db_recon_end(db, tx, true, err);
}

int exc_assign(struct db *db, const char *mchid, const int64_t *ids, size_t n, const char *assignee,
               const char *who, int64_t now, size_t *out_changed, struct wxr_err *err)
{
	struct db_exc_brief b;
	char at[CLOCK_RFC3339_LEN];
	size_t changed = 0;
	struct db_recon_tx tx = { false, false };
	int r;

	if (!assignee || !*assignee)
		return err_set(err, WXR_EUSAGE, "assign: say to whom");
	time_format_rfc3339(now, 0, at);
	memset(&b, 0, sizeof(b));
	r = db_recon_begin(db, &tx, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		r = db_exc_get(db, mchid, ids[i], &b, err);
		if (r < 0)
			break;
		if (!b.assignee || strcmp(b.assignee, assignee) != 0) {
			r = db_exc_assign(db, ids[i], assignee, b.assignee, who, at, err);
			if (r < 0)
				break;
			r = audit_json(db, who, "discrepancy.assigned", &b,
			               json_pack("{s:I, s:s, s:s, s:s, s:o, s:s}", "id",
			                         (json_int_t)ids[i], "date", b.date, "kind", b.kind,
			                         "key", b.key, "from", str_or_null(b.assignee),
			                         "to", assignee),
			               err);
			if (r < 0)
				break;
			changed++;
		}
		db_exc_brief_release(&b);
	}
	db_exc_brief_release(&b);
	r = end(db, &tx, r, err);
	if (r < 0)
		return err_prefix(err, "assign");
	if (out_changed)
		*out_changed = changed;
	return 0;
}

int exc_comment(struct db *db, const char *mchid, int64_t id, const char *note, const char *who,
                int64_t now, struct wxr_err *err)
{
	struct db_exc_brief b;
	char at[CLOCK_RFC3339_LEN];
	struct db_recon_tx tx = { false, false };
	int r;

	if (!note || !*note)
		return err_set(err, WXR_EUSAGE, "comment: the note is empty");
	time_format_rfc3339(now, 0, at);
	memset(&b, 0, sizeof(b));
	r = db_recon_begin(db, &tx, err);
	if (r < 0)
		return r;
	r = db_exc_get(db, mchid, id, &b, err);
	if (r >= 0)
		r = db_exc_comment(db, id, who, at, note, err);
	if (r >= 0)
		r = audit_json(db, who, "discrepancy.commented", &b,
		               json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)id, "date",
		                         b.date, "kind", b.kind, "key", b.key, "note", note),
		               err);
	db_exc_brief_release(&b);
	r = end(db, &tx, r, err);
	return r < 0 ? err_prefix(err, "comment %lld", (long long)id) : 0;
}

int exc_resolve(struct db *db, const char *mchid, const int64_t *ids, size_t n, const char *note,
                const char *who, const char *filter, struct wxr_err *err)
{
	struct db_exc_brief b;
	json_t *list = NULL;
	struct db_recon_tx tx = { false, false };
	int r;

	memset(&b, 0, sizeof(b));
	r = db_recon_begin(db, &tx, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		r = db_exc_get(db, mchid, ids[i], &b, err);
		if (r >= 0 && n > 1 && strcmp(b.status, "open") != 0)
			r = err_set(err, WXR_EUSAGE,
			            "discrepancy %lld is %s already; nothing resolved",
			            (long long)ids[i], b.status);
		db_exc_brief_release(&b);
		if (r >= 0)
			r = reconcile_resolve(db, ids[i], note, who, err);
	}
	if (r >= 0 && (n > 1 || filter)) {
		list = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(list, json_integer(ids[i]));
		r = audit_json(db, who, "discrepancy.bulk_resolved", NULL,
		               json_pack("{s:I, s:o, s:s, s:o}", "count", (json_int_t)n, "ids",
		                         list, "note", note, "filter", str_or_null(filter)),
		               err);
	}
	return end(db, &tx, r, err);
}

int exc_history(struct db *db, int64_t id,
                int (*cb)(void *ctx, const struct db_exc_event *e, struct wxr_err *err), void *ctx,
                struct wxr_err *err)
{
	return db_exc_history(db, id, cb, ctx, err);
}
