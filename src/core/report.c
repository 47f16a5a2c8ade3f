/*
 * report.c - the report model: loading it (through db_report.c), the JSON
 * rendering, and the exact integer formatting shared by the renderings.
 */
#include "core/report.h"
#include "base/utf8.h"

#include "base/money.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/compat.h"
#include "base/err.h"
#include "base/xalloc.h"
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

const char *report_local_time(const char *s, int tz_offset_s, char out[CLOCK_RFC3339_LEN])
{
	int64_t ts;

	if (!s || time_parse_rfc3339(s, &ts, NULL) < 0)
		return s;
	time_format_rfc3339(ts, tz_offset_s, out);
	return out;
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

char *report_utf8_dup(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	struct buf b = BUF_INIT;
	size_t i = 0;

	while (i < n) {
		size_t len = p[i] ? utf8_seq(p + i, n - i) : 0;

		if (len == 0) {                       /* NUL too */
			buf_adds(&b, "\xEF\xBF\xBD"); /* U+FFFD */
			i++;
			continue;
		}
		buf_add(&b, p + i, len);
		i += len;
	}
	return buf_detach(&b, NULL); /* "" when nothing was added */
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
	if (in_tx) {
		in_tx = false;
		r = db_commit(db, err);
		if (r < 0)
			goto out;
	}
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
	for (size_t i = 0; i < rep->ndiscs; i++) {
		struct report_disc *d = &rep->discs[i];

		free(d->kind);
		free(d->out_trade_no);
		free(d->out_refund_no);
		free(d->transaction_id);
		free(d->ledger_state);
		free(d->bill_state);
		free(d->status);
		free(d->resolution);
		free(d->resolved_by);
		free(d->detail);
		free(d->description);
	}
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
	free(rep->discs);
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
	set(u, "times", jstr("RFC 3339 in the configured timezone"));
	return u;
}

int report_render_json(const struct report *rep, struct buf *out, struct wxr_err *err)
{
	json_t *root = json_object();
	json_t *days = json_array(), *discs = json_array(), *actions = json_array();
	json_t *kinds = json_array(), *missing = json_array(), *totals;
	char *text = NULL;
	int r;

	for (size_t i = 0; i < rep->ndays; i++) {
		json_array_append_new(days, json_day(&rep->days[i], true));
		if (rep->days[i].bill == REPORT_BILL_MISSING)
			json_array_append_new(missing, jstr(rep->days[i].date));
	}
	for (size_t i = 0; i < rep->ndiscs; i++)
		json_array_append_new(discs, json_disc(&rep->discs[i]));
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
	set(root, "discrepancies", discs);
	set(root, "actions", actions);
	set(root, "totals", totals);
	set(root, "discrepancies_by_kind", kinds);
	set(root, "missing_bills", missing);
	set(root, "generated_from", json_stamp(rep));

	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text) {
		r = err_set(err, WXR_EFAIL, "cannot build the JSON report");
		goto out;
	}
	r = buf_adds(out, text);
	if (r == 0)
		r = buf_addc(out, '\n');
	if (r < 0)
		r = err_set(err, WXR_ETOOBIG, "the JSON report is larger than %zu bytes", out->max);
out:
	free(text);
	json_decref(root);
	return r;
}
