/*
 * report.c - the report model: loading it (through db_report.c), the JSON
 * rendering, and the exact integer formatting shared by the renderings.
 */
#include "core/report.h"

#include "base/money.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/compat.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "db/audit.h"
#include "db/db_report.h"

const char *report_bill_name(enum report_bill b)
{
	switch (b) {
	case REPORT_BILL_OK:
		return "ok";
	case REPORT_BILL_EMPTY:
		return "empty";
	case REPORT_BILL_MISSING:
		return "missing";
	}
	return "missing";
}

int64_t report_fee_to_fen(int64_t fee_e5)
{
	return money_fee_to_fen(fee_e5); /* the one rounding rule (SPEC 8) */
}

int report_format_amount(int64_t v, int scale, bool group, char out[REPORT_AMOUNT_LEN])
{
	/* The magnitude as unsigned, so INT64_MIN is exact too. */
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	char digits[24];
	char tmp[REPORT_AMOUNT_LEN + 8];
	int nd = 0, len = 0, intlen;

	if (scale < 0)
		scale = 0;
	if (scale > 18)
		scale = 18;
	do {
		digits[nd++] = (char)('0' + mag % 10);
		mag /= 10;
	} while (mag);
	while (nd <= scale) /* at least one digit before the point */
		digits[nd++] = '0';
	/* digits[] is least significant first */
	intlen = nd - scale;
	if (v < 0)
		tmp[len++] = '-';
	for (int i = 0; i < intlen; i++) {
		tmp[len++] = digits[nd - 1 - i];
		if (group && (intlen - 1 - i) % 3 == 0 && i != intlen - 1)
			tmp[len++] = ',';
	}
	if (scale > 0) {
		tmp[len++] = '.';
		for (int i = scale - 1; i >= 0; i--)
			tmp[len++] = digits[i];
	}
	tmp[len] = '\0';
	memcpy(out, tmp, (size_t)len + 1);
	return len;
}

static bool add_ok(int64_t *acc, int64_t v)
{
	if ((v > 0 && *acc > INT64_MAX - v) || (v < 0 && *acc < INT64_MIN - v))
		return false;
	*acc += v;
	return true;
}

static int cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int sum_days(struct report *rep, struct wxr_err *err)
{
	struct report_day *t = &rep->total;

	memset(t, 0, sizeof(*t));
	snprintf(t->date, sizeof(t->date), "total");
	rep->nmissing = 0;
	for (size_t i = 0; i < rep->ndays; i++) {
		struct report_day *d = &rep->days[i];
		int64_t net = d->pay_fen;

		if (!add_ok(&net, -d->refund_fen) || !add_ok(&net, -report_fee_to_fen(d->fees_e5)))
			goto overflow;
		d->net_fen = net;
		if (!add_ok(&t->pay_count, d->pay_count) || !add_ok(&t->pay_fen, d->pay_fen) ||
		    !add_ok(&t->refund_count, d->refund_count) ||
		    !add_ok(&t->refund_fen, d->refund_fen) || !add_ok(&t->fees_e5, d->fees_e5) ||
		    !add_ok(&t->net_fen, d->net_fen))
			goto overflow;
		t->disc.open += d->disc.open;
		t->disc.resolved += d->disc.resolved;
		t->disc.auto_resolved += d->disc.auto_resolved;
		if (d->bill == REPORT_BILL_MISSING)
			rep->nmissing++;
	}
	return 0;
overflow:
	return err_set(err, WXR_EDATA, "report %s..%s: amounts overflow 64 bits", rep->from,
	               rep->to);
}

static void unique_runs(struct report *rep)
{
	size_t j = 0;

	if (rep->nruns == 0)
		return;
	qsort(rep->runs, rep->nruns, sizeof(*rep->runs), cmp_int64);
	for (size_t i = 0; i < rep->nruns; i++) {
		if (j == 0 || rep->runs[j - 1] != rep->runs[i])
			rep->runs[j++] = rep->runs[i];
	}
	rep->nruns = j;
}

const char *const report_aging_buckets[REPORT_AGING_BUCKETS] = { "<1d",   "1-3d",   "3-7d",
	                                                         "7-30d", "30-90d", "90d+" };

static size_t aging_bucket(int64_t age_s)
{
	static const int64_t upto_days[REPORT_AGING_BUCKETS - 1] = { 1, 3, 7, 30, 90 };
	size_t i = 0;

	while (i < REPORT_AGING_BUCKETS - 1 && age_s >= upto_days[i] * EXC_DAY_S)
		i++;
	return i;
}

static void aging_add(struct report_aging_row *row, const struct exc_assessment *a)
{
	row->sev[a->severity].count++;
	row->sev[a->severity].amount += a->amount;
	row->total.count++;
	row->total.amount += a->amount;
	if (a->overdue) {
		row->overdue.count++;
		row->overdue.amount += a->amount;
	}
}

static int aging_one(void *p, const struct exc_item *it, struct wxr_err *err)
{
	struct report *rep = p;

	(void)err;
	if (!it->open)
		return 0;
	aging_add(&rep->aging[aging_bucket(it->a.age_s)], &it->a);
	aging_add(&rep->aging_total, &it->a);
	return 0;
}

/* The queue's view of the range's open discrepancies, as of rep->as_of_ts. */
static int load_aging(struct db *db, const struct report_opts *opts, struct report *rep,
                      struct wxr_err *err)
{
	struct exc_policy defaults;
	struct exc_filter f;
	const struct exc_policy *p = opts->exc;
	char next[CLOCK_DATE_LEN];
	int r;

	if (!p) {
		struct config cfg;

		config_defaults(&cfg);
		exc_policy_from_config(&cfg, &defaults);
		config_release(&cfg);
		defaults.tz_offset_s = opts->tz_offset_s;
		p = &defaults;
	}
	r = date_add_days(rep->to, 1, next, err);
	if (r < 0)
		return r;
	r = date_parse(next, opts->tz_offset_s, &rep->as_of_ts, err);
	if (r < 0)
		return r;
	time_format_rfc3339(rep->as_of_ts, opts->tz_offset_s, rep->as_of);
	memset(&f, 0, sizeof(f));
	f.q.mchid = rep->mchid;
	f.q.from = rep->from;
	f.q.to = rep->to;
	f.q.status = "open";
	f.min_severity = -1;
	rep->exc = xmalloc(sizeof(*rep->exc));
	*rep->exc = *p;
	return exc_list(db, &f, p, rep->as_of_ts, aging_one, rep, err);
}

/* ---- the listing, streamed ---- */

struct each_ctx {
	const struct report *rep;
	int (*fn)(void *arg, const struct report_disc *d, struct wxr_err *err);
	void *arg;
	size_t done;
};

static char *dup_opt(const char *s)
{
	return s ? report_utf8_dup(s, strlen(s)) : NULL;
}

static int each_one(void *p, const struct exc_item *it, struct wxr_err *err)
{
	struct each_ctx *ec = p;
	const struct db_exc_row *row = it->row;
	struct report_disc d;
	int r;

	memset(&d, 0, sizeof(d));
	d.id = row->id;
	snprintf(d.date, sizeof(d.date), "%s", row->date);
	d.kind = dup_opt(row->kind);
	d.out_trade_no = dup_opt(row->out_trade_no);
	d.out_refund_no = dup_opt(row->out_refund_no);
	d.transaction_id = dup_opt(row->transaction_id);
	d.has_ledger_amount = row->has_ledger_amount;
	d.ledger_amount = row->ledger_amount;
	d.has_bill_amount = row->has_bill_amount;
	d.bill_amount = row->bill_amount;
	d.ledger_state = dup_opt(row->ledger_state);
	d.bill_state = dup_opt(row->bill_state);
	d.status = dup_opt(row->status);
	d.resolution = dup_opt(row->resolution);
	d.resolved_by = dup_opt(row->resolved_by);
	d.detail = dup_opt(row->detail);
	d.description = dup_opt(row->description);
	d.queued = it->open;
	if (it->open) {
		d.assignee = row->assignee ? xstrdup(row->assignee) : NULL;
		d.a = it->a;
	}
	r = ec->fn(ec->arg, &d, err);
	free(d.kind);
	free(d.out_trade_no);
	free(d.out_refund_no);
	free(d.transaction_id);
	free(d.ledger_state);
	free(d.bill_state);
	free(d.status);
	free(d.resolution);
	free(d.resolved_by);
	free(d.assignee);
	free(d.detail);
	free(d.description);
	ec->done++;
	if (ec->rep->progress && (ec->done % 4096 == 0 || ec->done == ec->rep->ndiscs))
		ec->rep->progress(ec->rep->progress_arg, ec->done, ec->rep->ndiscs);
	return r;
}

int report_each_disc(const struct report *rep,
                     int (*fn)(void *arg, const struct report_disc *d, struct wxr_err *err),
                     void *arg, struct wxr_err *err)
{
	struct each_ctx ec = { rep, fn, arg, 0 };
	struct exc_filter f;

	if (rep->ndiscs == 0)
		return 0;
	memset(&f, 0, sizeof(f));
	f.q.mchid = rep->mchid;
	f.q.from = rep->from;
	f.q.to = rep->to;
	f.q.status = "all";
	f.q.report = true;
	f.min_severity = -1;
	return exc_list(rep->db, &f, rep->exc, rep->as_of_ts, each_one, &ec, err);
}

#define FLUSH_AT (256 * 1024)

int report_flush(const struct report *rep, struct buf *out, bool force, struct wxr_err *err)
{
	int r;

	if (!rep->sink || out->len == 0 || (!force && out->len < FLUSH_AT))
		return 0;
	r = rep->sink(rep->sink_arg, out->data, out->len, err);
	buf_reset(out);
	return r;
}

int report_load(struct db *db, const struct report_opts *opts, struct report **out_report,
                struct wxr_err *err)
{
	struct report *rep = xcalloc(1, sizeof(*rep));
	bool in_tx = false;
	int64_t a, b, n;
	int r;

	if (date_parse(opts->from, 0, &a, err) < 0 || date_parse(opts->to, 0, &b, err) < 0) {
		r = WXR_EUSAGE;
		goto out;
	}
	n = (b - a) / 86400 + 1;
	if (n < 1) {
		r = err_set(err, WXR_EUSAGE, "report: --from %s is after --to %s", opts->from,
		            opts->to);
		goto out;
	}
	if (n > REPORT_MAX_DAYS) {
		r = err_set(err, WXR_EUSAGE,
		            "report: %lld days is more than the %d a report covers", (long long)n,
		            REPORT_MAX_DAYS);
		goto out;
	}
	memcpy(rep->from, opts->from, CLOCK_DATE_LEN);
	memcpy(rep->to, opts->to, CLOCK_DATE_LEN);
	rep->mchid = xstrdup(opts->mchid ? opts->mchid : "");
	rep->timezone = opts->timezone ? xstrdup(opts->timezone) : NULL;
	snprintf(rep->policy_hash, sizeof(rep->policy_hash), "%s",
	         opts->policy_hash ? opts->policy_hash : "");
	rep->tz_offset_s = opts->tz_offset_s;
	rep->ndays = (size_t)n;
	rep->days = xcalloc(rep->ndays, sizeof(*rep->days));
	for (size_t i = 0; i < rep->ndays; i++) {
		r = date_add_days(rep->from, (int)i, rep->days[i].date, err);
		if (r < 0)
			goto out;
		rep->days[i].bill = REPORT_BILL_MISSING;
	}

	/* One snapshot for every query (a read transaction: takes no write lock). */
	if (db_tx_depth(db) == 0) {
		r = db_begin_read(db, err);
		if (r < 0)
			goto out;
		in_tx = true;
	}
	r = db_report_bills(db, rep, err);
	if (r < 0)
		goto out;
	r = db_report_trades(db, rep, err);
	if (r < 0)
		goto out;
	r = db_report_discrepancies(db, rep, err);
	if (r < 0)
		goto out;
	r = db_report_actions(db, rep, err);
	if (r < 0)
		goto out;
	r = load_aging(db, opts, rep, err);
	if (r < 0)
		goto out;
	{
		struct audit_head h;

		r = audit_get_head(db, &h, err);
		if (r < 0)
			goto out;
		rep->audit_entries = h.entries;
		memcpy(rep->audit_head, h.hash, sizeof(rep->audit_head));
	}
	/* The read transaction stays open for report_each_disc: ended by report_free. */
	rep->db = db;
	rep->own_tx = in_tx;
	in_tx = false;
	r = sum_days(rep, err);
	if (r < 0)
		goto out;
	unique_runs(rep);
	*out_report = rep;
	rep = NULL;
	r = 0;
out:
	if (in_tx)
		db_rollback(db);
	report_free(rep);
	return r;
}

struct report *report_free(struct report *rep)
{
	if (!rep)
		return NULL;
	if (rep->own_tx)
		db_rollback(rep->db); /* a read transaction: nothing to keep */
	free(rep->exc);
	for (size_t i = 0; i < rep->nactions; i++) {
		struct report_action *a = &rep->actions[i];

		free(a->kind);
		free(a->target);
		free(a->state);
		free(a->result);
		free(a->error);
		free(a->date);
		free(a->at);
	}
	for (size_t i = 0; i < rep->nbills; i++) {
		free(rep->bills[i].kind);
		free(rep->bills[i].status);
		free(rep->bills[i].sha1);
	}
	for (size_t i = 0; i < rep->nkinds; i++)
		free(rep->kinds[i].kind);
	free(rep->actions);
	free(rep->bills);
	free(rep->kinds);
	free(rep->runs);
	free(rep->days);
	free(rep->mchid);
	free(rep->timezone);
	free(rep);
	return NULL;
}

/* ---- JSON ---- */

static json_t *jstr(const char *s)
{
	json_t *v;

	if (!s)
		return json_null();
	v = json_string(s);
	return v ? v : json_string("\xEF\xBF\xBD");
}

static json_t *jint(int64_t v)
{
	return json_integer((json_int_t)v);
}

static json_t *jint_or_null(bool has, int64_t v)
{
	return has ? jint(v) : json_null();
}

static void set(json_t *o, const char *key, json_t *v)
{
	json_object_set_new(o, key, v);
}

static json_t *json_counts(const struct report_counts *c)
{
	json_t *o = json_object();

	set(o, "open", jint(c->open));
	set(o, "resolved", jint(c->resolved));
	set(o, "auto_resolved", jint(c->auto_resolved));
	return o;
}

static json_t *json_count_amount(int64_t count, int64_t amount)
{
	json_t *o = json_object();

	set(o, "count", jint(count));
	set(o, "amount", jint(amount));
	return o;
}

static json_t *json_day(const struct report_day *d, bool with_bill)
{
	json_t *o = json_object();

	if (with_bill) {
		set(o, "date", jstr(d->date));
		set(o, "bill", jstr(report_bill_name(d->bill)));
	}
	set(o, "payments", json_count_amount(d->pay_count, d->pay_fen));
	set(o, "refunds", json_count_amount(d->refund_count, d->refund_fen));
	set(o, "fees", jint(d->fees_e5));
	set(o, "net", jint(d->net_fen));
	set(o, "discrepancies", json_counts(&d->disc));
	return o;
}

static json_t *json_disc(const struct report_disc *d)
{
	json_t *o = json_object();

	set(o, "id", jint(d->id));
	set(o, "date", jstr(d->date));
	set(o, "kind", jstr(d->kind));
	set(o, "out_trade_no", jstr(d->out_trade_no));
	set(o, "out_refund_no", jstr(d->out_refund_no));
	set(o, "transaction_id", jstr(d->transaction_id));
	set(o, "ledger_amount", jint_or_null(d->has_ledger_amount, d->ledger_amount));
	set(o, "bill_amount", jint_or_null(d->has_bill_amount, d->bill_amount));
	set(o, "ledger_state", jstr(d->ledger_state));
	set(o, "bill_state", jstr(d->bill_state));
	set(o, "status", jstr(d->status));
	set(o, "resolution", jstr(d->resolution));
	set(o, "resolved_by", jstr(d->resolved_by));
	set(o, "description", jstr(d->description));
	set(o, "detail", jstr(d->detail));
	/* the queue, as of the report's aging_as_of: null when not open */
	set(o, "assignee", d->queued ? jstr(d->assignee) : json_null());
	set(o, "age_s", d->queued ? jint(d->a.age_s) : json_null());
	set(o, "severity", d->queued ? jstr(exc_severity_name(d->a.severity)) : json_null());
	set(o, "due_date", d->queued && d->a.has_due ? jstr(d->a.due_date) : json_null());
	set(o, "overdue", d->queued ? json_boolean(d->a.overdue) : json_null());
	return o;
}

static json_t *json_aging_cell(const struct report_aging_cell *c)
{
	json_t *o = json_object();

	set(o, "count", jint(c->count));
	set(o, "amount", jint(c->amount));
	return o;
}

static json_t *json_aging_row(const char *age, const struct report_aging_row *a)
{
	json_t *o = json_object();

	set(o, "age", jstr(age));
	for (int s = 0; s < EXC_SEVERITY_COUNT; s++)
		set(o, exc_severity_name((enum exc_severity)s), json_aging_cell(&a->sev[s]));
	set(o, "open", json_aging_cell(&a->total));
	set(o, "overdue", json_aging_cell(&a->overdue));
	return o;
}

static json_t *json_aging(const struct report *rep)
{
	json_t *o = json_object();
	json_t *rows = json_array();

	for (size_t i = 0; i < REPORT_AGING_BUCKETS; i++)
		json_array_append_new(rows,
		                      json_aging_row(report_aging_buckets[i], &rep->aging[i]));
	set(o, "as_of", jstr(rep->as_of));
	set(o, "buckets", rows);
	set(o, "total", json_aging_row("total", &rep->aging_total));
	return o;
}

static json_t *json_action(const struct report_action *a)
{
	json_t *o = json_object();

	set(o, "id", jint(a->id));
	set(o, "kind", jstr(a->kind));
	set(o, "target", jstr(a->target));
	set(o, "state", jstr(a->state));
	set(o, "result", jstr(a->result));
	set(o, "run_id", jint_or_null(a->has_run_id, a->run_id));
	set(o, "at", jstr(a->at));
	set(o, "amount", jint_or_null(a->has_amount, a->amount));
	set(o, "date", jstr(a->date));
	set(o, "error", jstr(a->error));
	return o;
}

static json_t *json_stamp(const struct report *rep)
{
	json_t *o = json_object();
	json_t *bills = json_array();
	json_t *runs = json_array();

	for (size_t i = 0; i < rep->nbills; i++) {
		const struct report_bill_file *bf = &rep->bills[i];
		json_t *b = json_object();

		set(b, "date", jstr(bf->date));
		set(b, "kind", jstr(bf->kind));
		set(b, "status", jstr(bf->status));
		set(b, "sha1", jstr(bf->sha1));
		json_array_append_new(bills, b);
	}
	for (size_t i = 0; i < rep->nruns; i++)
		json_array_append_new(runs, jint(rep->runs[i]));
	set(o, "bills", bills);
	set(o, "runs", runs);
	set(o, "version", jstr(WXR_VERSION));
	set(o, "policy_hash", jstr(rep->policy_hash));
	set(o, "timezone", jstr(rep->timezone));
	set(o, "mchid", rep->mchid[0] ? jstr(rep->mchid) : json_null());
	set(o, "audit",
	    json_pack("{s:I, s:s}", "entries", (json_int_t)rep->audit_entries, "head",
	              rep->audit_head));
	return o;
}

/* The unit of every amount field of the JSON report, by its path: a script
 * reading "fees": 2201000 learns here that it is 22.01 yuan. */
static json_t *json_units(void)
{
	static const char *const fen[] = {
		"days[].payments.amount",        "days[].refunds.amount",       "days[].net",
		"totals.payments.amount",        "totals.refunds.amount",       "totals.net",
		"discrepancies[].ledger_amount", "discrepancies[].bill_amount", "actions[].amount",
	};
	json_t *u = json_object();

	for (size_t i = 0; i < ARRAY_SIZE(fen); i++)
		set(u, fen[i], jstr("fen (0.01 yuan)"));
	set(u, "days[].fees", jstr("0.00001 yuan"));
	set(u, "totals.fees", jstr("0.00001 yuan"));
	set(u, "aging.*.amount", jstr("fen (0.01 yuan) at stake"));
	set(u, "discrepancies[].age_s", jstr("seconds"));
	set(u, "times", jstr("RFC 3339 in the configured timezone"));
	return u;
}

#define STAMP_FILE_MAX ((size_t)256 << 20)

static bool is_head(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (const char *p = s; *p; p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	}
	return true;
}

int report_read_audit_stamp(const char *path, int64_t *out_entries, char out_head[65],
                            struct wxr_err *err)
{
	struct buf b = BUF_INIT;
	const char *text, *row;
	long long n = 0;
	char head[65] = "";
	int r = buf_read_file(&b, path, STAMP_FILE_MAX, err);

	if (r < 0)
		return r;
	text = buf_str(&b);
	r = 0;
	if (strncmp(text, "\xEF\xBB\xBF", 3) == 0)
		text += 3;
	if (text[0] == '{') {
		json_t *root = json_loads(text, 0, NULL);
		json_t *a = json_object_get(json_object_get(root, "generated_from"), "audit");
		json_t *e = json_object_get(a, "entries"), *h = json_object_get(a, "head");

		if (json_is_integer(e) && json_is_string(h)) {
			n = json_integer_value(e);
			snprintf(head, sizeof(head), "%s", json_string_value(h));
		}
		json_decref(root);
	} else if (strncmp(text, "field,value,", 12) == 0 &&
	           (row = strstr(text, "\naudit,")) != NULL) {
		if (sscanf(row, "\naudit,%lld,,,%64[0-9a-f]", &n, head) != 2)
			n = 0;
	}
	if (n > 0 && is_head(head)) {
		*out_entries = (int64_t)n;
		memcpy(out_head, head, 65);
		r = 1;
	}
	buf_release(&b);
	return r;
}

/* The discrepancies array is written one element at a time where the root's dump has
 * this placeholder: what json_dumps(root, JSON_INDENT(2)) would write, byte for byte. */
#define DISCS_MARK  "\"discrepancies\": \"@@discrepancies@@\""
#define DISCS_KEY   "\"discrepancies\": "
#define DISCS_DEPTH "    " /* an element of a member of the root */

struct json_each {
	const struct report *rep;
	struct buf *out;
	size_t n;
};

static int json_disc_one(void *p, const struct report_disc *d, struct wxr_err *err)
{
	struct json_each *je = p;
	json_t *o = json_disc(d);
	char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	int r = 0;

	json_decref(o);
	if (!text)
		return err_set(err, WXR_EFAIL, "cannot build the JSON report");
	r |= buf_adds(je->out, je->n++ ? ",\n" DISCS_DEPTH : "[\n" DISCS_DEPTH);
	for (const char *c = text; *c && r == 0; c++) {
		r |= buf_addc(je->out, *c);
		if (*c == '\n')
			r |= buf_adds(je->out, DISCS_DEPTH);
	}
	free(text);
	if (r < 0)
		return err_set(err, WXR_ETOOBIG, "the JSON report is larger than %zu bytes",
		               je->out->max);
	return report_flush(je->rep, je->out, false, err);
}

int report_render_json(const struct report *rep, struct buf *out, struct wxr_err *err)
{
	json_t *root = json_object();
	json_t *days = json_array(), *actions = json_array();
	json_t *kinds = json_array(), *missing = json_array(), *totals;
	struct json_each je = { rep, out, 0 };
	char *text = NULL;
	const char *mark;
	int r;

	for (size_t i = 0; i < rep->ndays; i++) {
		json_array_append_new(days, json_day(&rep->days[i], true));
		if (rep->days[i].bill == REPORT_BILL_MISSING)
			json_array_append_new(missing, jstr(rep->days[i].date));
	}
	for (size_t i = 0; i < rep->nactions; i++)
		json_array_append_new(actions, json_action(&rep->actions[i]));
	for (size_t i = 0; i < rep->nkinds; i++) {
		const struct report_kind *rk = &rep->kinds[i];
		json_t *k = json_object();

		set(k, "kind", jstr(rk->kind));
		set(k, "open", jint(rk->c.open));
		set(k, "resolved", jint(rk->c.resolved));
		set(k, "auto_resolved", jint(rk->c.auto_resolved));
		json_array_append_new(kinds, k);
	}
	totals = json_day(&rep->total, false);
	set(totals, "days", jint((int64_t)rep->ndays));
	set(totals, "missing_bills", jint((int64_t)rep->nmissing));

	set(root, "from", jstr(rep->from));
	set(root, "to", jstr(rep->to));
	set(root, "units", json_units());
	set(root, "days", days);
	set(root, "discrepancies", json_string("@@discrepancies@@"));
	set(root, "actions", actions);
	set(root, "totals", totals);
	set(root, "discrepancies_by_kind", kinds);
	set(root, "missing_bills", missing);
	set(root, "aging", json_aging(rep));
	set(root, "generated_from", json_stamp(rep));

	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	mark = text ? strstr(text, DISCS_MARK) : NULL;
	if (!mark) {
		r = err_set(err, WXR_EFAIL, "cannot build the JSON report");
		goto out;
	}
	r = buf_add(out, text, (size_t)(mark - text) + strlen(DISCS_KEY));
	if (r < 0)
		goto toobig;
	r = report_each_disc(rep, json_disc_one, &je, err);
	if (r < 0)
		goto out;
	r = buf_adds(out, je.n ? "\n  ]" : "[]");
	if (r == 0)
		r = buf_adds(out, mark + strlen(DISCS_MARK));
	if (r == 0)
		r = buf_addc(out, '\n');
toobig:
	if (r < 0)
		r = err_set(err, WXR_ETOOBIG, "the JSON report is larger than %zu bytes", out->max);
out:
	free(text);
	json_decref(root);
	return r;
}
