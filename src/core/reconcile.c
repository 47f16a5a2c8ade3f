/*
 * reconcile.c - the decisions of the reconciliation engine; the SQL is in
 * db/recon_find.c and recon_state.c. See reconcile.h for the rule of each kind.
 *
 * One day, in three phases:
 *   1. (no transaction of ours) list what needs a query and ask the hooks;
 *   2. (one transaction) find every kind set-based, apply the policy's
 *      auto-resolutions, merge the findings into discrepancies with their
 *      events, audit;
 *   3. commit, or roll back for a dry run.
 */
#include "core/reconcile.h"

#include "base/money.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "db/audit.h"
#include "db/db_reconcile.h"

#define ACTOR          "reconcile"
#define CARRY_MAX_DAYS 31 /* how far back an empty fund-flow day may carry a balance */

void recon_opts_init(struct recon_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->mchid = "";
	opts->tz_offset_s = 8 * 3600;
	opts->mark_paid_on_missed_notify = true;
	opts->paid_after_close = PAID_AFTER_CLOSE_MARK_PAID;
	opts->approval_above = 50000;
	opts->release_time_s = 10 * 3600;
	opts->missing_after_s = 24 * 3600;
}

int64_t recon_fee_to_fen(int64_t fee_e5)
{
	return money_fee_to_fen(fee_e5); /* the one rounding rule (SPEC 8) */
}

char *recon_pac_refund_no(const char *out_trade_no)
{
	return xasprintf("PAC-%s", out_trade_no);
}

/* ---- one day --------------------------------------------------------------- */

struct day_ctx {
	struct db *db;
	const struct recon_opts *opts;
	struct db_recon_day day;
	struct recon_result *res;
	char date[CLOCK_DATE_LEN];
	char prev[CLOCK_DATE_LEN];
	char next[CLOCK_DATE_LEN];
	char now[CLOCK_RFC3339_LEN];
	bool audit; /* false in a dry run: everything is rolled back anyway */
};

static void jset_str(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, v ? json_string(v) : json_null());
}

static void jset_int(json_t *o, const char *k, int64_t v)
{
	json_object_set_new(o, k, v == RECON_NULL_AMOUNT ? json_null() : json_integer(v));
}

/* Appends an audit entry with detail o (consumed). */
static int audit_json(struct day_ctx *c, const char *event, const char *subject, json_t *o,
                      struct wxr_err *err)
{
	char *text = NULL;
	int r = 0;

	if (c->audit) {
		text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		if (!text)
			BUG("json_dumps failed");
		r = audit_append(c->db, c->opts->run_id, ACTOR, event, subject, text, err);
	}
	free(text);
	json_decref(o);
	return r;
}

static int audit_action(struct day_ctx *c, const char *event, int64_t id, const char *kind,
                        const char *target, const char *state, int64_t amount, const char *why,
                        struct wxr_err *err)
{
	json_t *o = json_object();

	jset_int(o, "action_id", id);
	jset_str(o, "kind", kind);
	jset_str(o, "target", target);
	jset_str(o, "state", state);
	jset_int(o, "amount", amount);
	jset_str(o, "date", c->date);
	jset_str(o, "why", why);
	return audit_json(c, event, target, o, err);
}

static char *params_text(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);

	if (!s)
		BUG("json_dumps failed");
	json_decref(o);
	return s;
}

/* Parses a bill time: RFC 3339 as stored, else "YYYY-MM-DD HH:MM:SS" in
 * Beijing time as the bill writes it. */
static int bill_time_parse(const char *s, int64_t *out_ts)
{
	if (time_parse_rfc3339(s, out_ts, NULL) == 0)
		return 0;
	return time_parse_local(s, 8 * 3600, out_ts, NULL);
}

static int mark_paid(struct day_ctx *c, const struct db_recon_missed *m, const char *why,
                     struct wxr_err *err)
{
	char paid_at[CLOCK_RFC3339_LEN];
	char paid_date[CLOCK_DATE_LEN];
	char state[24];
	char *params = NULL, *note = NULL, *resolution = NULL;
	json_t *o;
	int64_t ts, id;
	bool written, changed;
	int r;

	if (bill_time_parse(m->bill_time, &ts) < 0) {
		note = xasprintf("not marked paid: bad bill trade time '%s'", m->bill_time);
		r = db_recon_found_set(c->db, "MISSED_PAYMENT", m->key, "open", NULL, note, err);
		goto out;
	}
	time_format_rfc3339(ts, c->opts->tz_offset_s, paid_at);
	time_date(ts, c->opts->tz_offset_s, paid_date);

	o = json_object();
	jset_str(o, "out_trade_no", m->ledger_key);
	jset_str(o, "transaction_id", m->transaction_id);
	jset_str(o, "paid_at", paid_at);
	jset_int(o, "amount", m->bill_amount);
	jset_str(o, "source", "trade bill");
	jset_str(o, "bill_date", c->date);
	params = params_text(o);
	r = db_recon_action_put(c->db, &c->day, "ORDER_MARK_PAID", m->ledger_key, "intent",
	                        m->bill_amount, params, false, &id, state, &written, err);
	if (r < 0)
		goto out;
	if (written) {
		c->res->actions++;
		const char *reason = why ? why : "bill shows a payment the ledger missed";

		r = audit_action(c, "action.intent", id, "ORDER_MARK_PAID", m->ledger_key, state,
		                 m->bill_amount, reason, err);
		if (r < 0)
			goto out;
	}
	if (strcmp(state, "cancelled") == 0 || strcmp(state, "pending_approval") == 0) {
		note = xasprintf("ORDER_MARK_PAID action %lld is %s", (long long)id, state);
		r = db_recon_found_set(c->db, "MISSED_PAYMENT", m->key, "open", NULL, note, err);
		goto out;
	}
	r = db_recon_order_mark_paid(c->db, &c->day, m->ledger_key, m->transaction_id, paid_at, ts,
	                             paid_date, &changed, err);
	if (r < 0)
		goto out;
	if (changed) {
		o = json_object();
		jset_str(o, "out_trade_no", m->ledger_key);
		jset_str(o, "from", m->ledger_state);
		jset_str(o, "to", "PAID");
		jset_str(o, "transaction_id", m->transaction_id);
		jset_str(o, "paid_at", paid_at);
		jset_int(o, "action_id", id);
		r = audit_json(c, "ledger.order_paid", m->ledger_key, o, err);
		if (r < 0)
			goto out;
	}
	if (strcmp(state, "done") != 0) {
		r = db_recon_action_done(c->db, &c->day, id, "PAID", err);
		if (r < 0)
			goto out;
		if (!written)
			c->res->actions++;
		r = audit_action(c, "action.done", id, "ORDER_MARK_PAID", m->ledger_key, "done",
		                 m->bill_amount, "PAID", err);
		if (r < 0)
			goto out;
	}
	resolution = xasprintf("marked PAID from the trade bill (ORDER_MARK_PAID action %lld)%s%s",
	                       (long long)id, why ? "; " : "", why ? why : "");
	r = db_recon_found_set(c->db, "MISSED_PAYMENT", m->key, "auto_resolved", resolution, NULL,
	                       err);
out:
	free(params);
	free(note);
	free(resolution);
	return r;
}

/* paid_after_close = refund: one full refund, filed as an action for the
 * runner to send. */
static int file_pac_refund(struct day_ctx *c, const struct db_recon_missed *m, struct wxr_err *err)
{
	char *orn = recon_pac_refund_no(m->ledger_key);
	char *params = NULL, *text = NULL;
	const char *want;
	char state[24];
	json_t *o, *amount;
	int64_t id;
	bool written;
	int r;

	want = m->bill_amount > c->opts->approval_above ? "pending_approval" : "intent";
	o = json_object();
	jset_str(o, "out_trade_no", m->ledger_key);
	jset_str(o, "transaction_id", m->transaction_id);
	jset_str(o, "out_refund_no", orn);
	amount = json_object();
	jset_int(amount, "refund", m->bill_amount);
	jset_int(amount, "total", m->bill_amount);
	jset_str(amount, "currency", "CNY");
	json_object_set_new(o, "amount", amount);
	jset_str(o, "reason", "paid after close");
	params = params_text(o);
	r = db_recon_action_put(c->db, &c->day, "REFUND", orn, want, m->bill_amount, params, false,
	                        &id, state, &written, err);
	if (r < 0)
		goto out;
	if (written) {
		c->res->actions++;
		r = audit_action(c,
		                 strcmp(state, "pending_approval") == 0 ? "action.pending_approval"
		                                                        : "action.intent",
		                 id, "REFUND", orn, state, m->bill_amount,
		                 "paid after close; paid_after_close = refund", err);
		if (r < 0)
			goto out;
	}
	if (strcmp(state, "intent") == 0 || strcmp(state, "sent") == 0 ||
	    strcmp(state, "done") == 0) {
		text = xasprintf("paid after we closed the order: full refund filed as "
		                 "REFUND action %lld (out_refund_no %s, %s)",
		                 (long long)id, orn, state);
		r = db_recon_found_set(c->db, "MISSED_PAYMENT", m->key, "auto_resolved", text, NULL,
		                       err);
	} else {
		text = xasprintf("paid after we closed the order: REFUND action %lld "
		                 "(out_refund_no %s) is %s",
		                 (long long)id, orn, state);
		r = db_recon_found_set(c->db, "MISSED_PAYMENT", m->key, "open", NULL, text, err);
	}
out:
	free(orn);
	free(params);
	free(text);
	return r;
}

static int resolve_missed(struct day_ctx *c, struct wxr_err *err)
{
	struct db_recon_missed *v = NULL;
	size_t n = 0;
	int r;

	r = db_recon_missed(c->db, &c->day, &v, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		const struct db_recon_missed *m = &v[i];

		if (m->ledger_amount != m->bill_amount)
			r = db_recon_found_set(c->db, "MISSED_PAYMENT", m->key, "open", NULL,
			                       "not marked paid: the amounts differ", err);
		else if (m->closed_by_us && c->opts->paid_after_close == PAID_AFTER_CLOSE_HOLD)
			r = db_recon_found_set(c->db, "MISSED_PAYMENT", m->key, "open", NULL,
			                       "paid after we closed the order; held "
			                       "(paid_after_close = hold)",
			                       err);
		else if (m->closed_by_us && c->opts->paid_after_close == PAID_AFTER_CLOSE_REFUND)
			r = file_pac_refund(c, m, err);
		else if (m->closed_by_us)
			r = mark_paid(c, m,
			              "paid after we closed the order (paid_after_close = "
			              "mark_paid)",
			              err);
		else if (c->opts->mark_paid_on_missed_notify)
			r = mark_paid(c, m, NULL, err);
		else
			r = db_recon_found_set(c->db, "MISSED_PAYMENT", m->key, "open", NULL,
			                       "not marked paid (mark_paid_on_missed_notify = "
			                       "false)",
			                       err);
	}
	db_recon_missed_free(v, n);
	return r;
}

static int sync_refund(struct day_ctx *c, const struct db_recon_rstatus *s, struct wxr_err *err)
{
	char success_at[CLOCK_RFC3339_LEN];
	const char *sat = NULL;
	char *params = NULL, *text = NULL;
	char state[24];
	json_t *o;
	int64_t id;
	bool written;
	int r;

	o = json_object();
	jset_str(o, "out_refund_no", s->ledger_key);
	jset_str(o, "from", s->ledger_state);
	jset_str(o, "to", s->answer_state);
	jset_str(o, "refund_id", s->answer_refund_id);
	jset_str(o, "bill_state", s->bill_state);
	params = params_text(o);
	r = db_recon_action_put(c->db, &c->day, "REFUND_SYNC", s->ledger_key, "intent",
	                        RECON_NULL_AMOUNT, params, true, &id, state, &written, err);
	if (r < 0)
		goto out;
	if (written) {
		c->res->actions++;
		r = audit_action(c, "action.intent", id, "REFUND_SYNC", s->ledger_key, "intent",
		                 RECON_NULL_AMOUNT, "refund status: ledger and bill disagree", err);
		if (r < 0)
			goto out;
	}
	if (strcmp(s->answer_state, "SUCCESS") == 0 && s->answer_success_ts > 0) {
		time_format_rfc3339(s->answer_success_ts, c->opts->tz_offset_s, success_at);
		sat = success_at;
	}
	r = db_recon_refund_sync(c->db, &c->day, s->ledger_key, s->answer_state,
	                         s->answer_refund_id, sat, s->answer_success_ts, err);
	if (r < 0)
		goto out;
	o = json_object();
	jset_str(o, "out_refund_no", s->ledger_key);
	jset_str(o, "from", s->ledger_state);
	jset_str(o, "to", s->answer_state);
	jset_str(o, "success_at", sat);
	jset_int(o, "action_id", id);
	r = audit_json(c, "ledger.refund_sync", s->ledger_key, o, err);
	if (r < 0)
		goto out;
	r = db_recon_action_done(c->db, &c->day, id, s->answer_state, err);
	if (r < 0)
		goto out;
	if (!written)
		c->res->actions++;
	r = audit_action(c, "action.done", id, "REFUND_SYNC", s->ledger_key, "done",
	                 RECON_NULL_AMOUNT, s->answer_state, err);
	if (r < 0)
		goto out;
	text = xasprintf("ledger synced from the refund query: %s -> %s (REFUND_SYNC action %lld)",
	                 s->ledger_state, s->answer_state, (long long)id);
	r = db_recon_found_set(c->db, "REFUND_STATUS_MISMATCH", s->key, "auto_resolved", text, NULL,
	                       err);
out:
	free(params);
	free(text);
	return r;
}

/* The ledger's refund states (schema 001). */
static bool is_refund_state(const char *s)
{
	return strcmp(s, "SUCCESS") == 0 || strcmp(s, "PROCESSING") == 0 ||
	       strcmp(s, "CLOSED") == 0 || strcmp(s, "ABNORMAL") == 0;
}

static int resolve_refund_status(struct day_ctx *c, struct wxr_err *err)
{
	struct db_recon_rstatus *v = NULL;
	size_t n = 0;
	int r;

	r = db_recon_rstatus(c->db, &v, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		const struct db_recon_rstatus *s = &v[i];
		char *text;

		if (strcmp(s->answer_state, "NOT_FOUND") == 0) {
			r = db_recon_found_set(c->db, "REFUND_STATUS_MISMATCH", s->key, "open",
			                       NULL, "refund query: WeChat Pay does not know it",
			                       err);
		} else if (!is_refund_state(s->answer_state)) {
			text = xasprintf("refund query: unexpected status '%s'", s->answer_state);
			r = db_recon_found_set(c->db, "REFUND_STATUS_MISMATCH", s->key, "open",
			                       NULL, text, err);
			free(text);
		} else if (strcmp(s->answer_state, s->ledger_state) == 0) {
			text = xasprintf("refund query says %s: the ledger is right, the bill's "
			                 "status is a snapshot",
			                 s->answer_state);
			r = db_recon_found_set(c->db, "REFUND_STATUS_MISMATCH", s->key,
			                       "auto_resolved", text, NULL, err);
			free(text);
		} else {
			r = sync_refund(c, s, err);
		}
	}
	db_recon_rstatus_free(v, n);
	return r;
}

static int check_sums(struct day_ctx *c, const char *bill, const struct db_recon_sums *s,
                      const char *const *fields, int nfields, struct wxr_err *err)
{
	struct db_recon_finding f;
	int r = 0;

	memset(&f, 0, sizeof(f));
	f.kind = "BILL_SUMMARY_MISMATCH";
	if (!s->have_summary) {
		char *key, *detail;

		if (s->rows == 0)
			return 0;
		key = xasprintf("%s:summary", bill);
		detail = xasprintf("the %s bill has %lld rows and no summary line", bill,
		                   (long long)s->rows);
		f.key = key;
		f.ledger_amount = s->rows;
		f.bill_amount = RECON_NULL_AMOUNT;
		f.detail = detail;
		r = db_recon_add_found(c->db, &f, err);
		free(key);
		free(detail);
		return r;
	}
	for (int i = 0; i < nfields && r >= 0; i++) {
		char *key, *detail;

		if (s->summary[i] == s->sums[i])
			continue;
		key = xasprintf("%s:%s", bill, fields[i]);
		detail = xasprintf("%s bill summary %s is %lld, the stored rows sum to %lld", bill,
		                   fields[i], (long long)s->summary[i], (long long)s->sums[i]);
		f.key = key;
		f.bill_amount = s->summary[i];
		f.ledger_amount = s->sums[i];
		f.detail = detail;
		r = db_recon_add_found(c->db, &f, err);
		free(key);
		free(detail);
	}
	return r;
}

static int find_trade_summary(struct day_ctx *c, struct wxr_err *err)
{
	struct db_recon_sums s;
	int r;

	if (c->day.trade_file > 0) {
		r = db_recon_trade_sums(c->db, c->day.trade_file, &s, err);
		if (r < 0)
			return r;
		r = check_sums(c, "trade", &s, db_recon_trade_fields, DB_RECON_TRADE_FIELDS, err);
		if (r < 0)
			return r;
	}
	return 0;
}

struct balance_walk {
	struct day_ctx *c;
	bool have_prev;
	int64_t prev;
	struct db_recon_sums *sums; /* the rows added up, as db_recon_fund_fields */
};

/* BALANCE_DISCONTINUITY: previous balance + income - expense must be this
 * line's balance, in line order, starting from the carried balance. */
static int balance_line(void *ctx, const struct db_recon_flow *l, struct wxr_err *err)
{
	struct balance_walk *w = ctx;
	int64_t expected = w->prev + (l->income ? l->amount : -l->amount);
	struct db_recon_finding f;
	char *key, *detail;
	int r;

	w->sums->rows++;
	w->sums->sums[0]++;
	w->sums->sums[l->income ? 1 : 3]++;
	w->sums->sums[l->income ? 2 : 4] += l->amount;
	if (!w->have_prev || expected == l->balance) {
		w->have_prev = true;
		w->prev = l->balance;
		return 0;
	}
	key = *l->flow_no ? xstrdup(l->flow_no) : xasprintf("line %lld", (long long)l->line);
	detail = xasprintf("line %lld: balance before %lld %c %lld = %lld fen, the bill says %lld",
	                   (long long)l->line, (long long)w->prev, l->income ? '+' : '-',
	                   (long long)l->amount, (long long)expected, (long long)l->balance);
	memset(&f, 0, sizeof(f));
	f.kind = "BALANCE_DISCONTINUITY";
	f.key = key;
	f.transaction_id = *l->biz_no ? l->biz_no : NULL;
	f.ledger_amount = expected;
	f.bill_amount = l->balance;
	f.detail = detail;
	r = db_recon_add_found(w->c->db, &f, err);
	free(key);
	free(detail);
	w->prev = l->balance;
	return r;
}

/* One scan of D's fund flow: balance breaks, and the sums its summary must
 * match. */
static int find_fund_flow(struct day_ctx *c, struct wxr_err *err)
{
	struct db_recon_sums s;
	struct balance_walk w = { c, c->day.have_carry, c->day.carry, &s };
	int r;

	if (c->day.fund_file <= 0)
		return 0;
	r = db_recon_fund_summary(c->db, c->day.fund_file, &s, err);
	if (r < 0)
		return r;
	r = db_recon_fund_rows(c->db, c->day.fund_file, balance_line, &w, err);
	if (r < 0)
		return r;
	return check_sums(c, "fundflow", &s, db_recon_fund_fields, DB_RECON_FUND_FIELDS, err);
}

static int find_bill_missing(struct day_ctx *c, struct wxr_err *err)
{
	int64_t payments, amount, refunds, start, deadline;
	char due[CLOCK_RFC3339_LEN];
	struct db_recon_finding f;
	char *detail;
	int r;

	if (c->day.trade_file > 0)
		return 0;
	r = db_recon_ledger_activity(c->db, c->opts->mchid, c->date, &payments, &amount, &refunds,
	                             err);
	if (r < 0)
		return r;
	if (payments + refunds == 0)
		return 0;
	r = date_parse(c->next, c->opts->tz_offset_s, &start, err);
	if (r < 0)
		return r;
	deadline = start + c->opts->release_time_s + c->opts->missing_after_s;
	if (c->opts->now_ts < deadline)
		return 0;
	time_format_rfc3339(deadline, c->opts->tz_offset_s, due);
	detail = xasprintf("no trade bill stored; the ledger has %lld payments and %lld refunds "
	                   "that day; the bill was due by %s",
	                   (long long)payments, (long long)refunds, due);
	memset(&f, 0, sizeof(f));
	f.kind = "BILL_MISSING";
	f.key = "trade";
	f.ledger_amount = amount;
	f.bill_amount = RECON_NULL_AMOUNT;
	f.detail = detail;
	r = db_recon_add_found(c->db, &f, err);
	free(detail);
	return r;
}

/* The closing balance before D: the nearest earlier stored fund-flow bill
 * with rows, every day in between stored (empty). */
static int find_carry(struct day_ctx *c, struct wxr_err *err)
{
	char d[CLOCK_DATE_LEN];
	char status[8];
	int64_t id, bal;
	bool have;
	int r;

	memcpy(d, c->date, sizeof(d));
	for (int i = 0; i < CARRY_MAX_DAYS; i++) {
		r = date_add_days(d, -1, d, err);
		if (r < 0)
			return r;
		r = db_recon_bill_file(c->db, c->opts->mchid, d, "fundflow", &id, status, err);
		if (r < 0)
			return r;
		if (id == 0)
			return 0;
		r = db_recon_closing_balance(c->db, id, &have, &bal, err);
		if (r < 0)
			return r;
		if (have) {
			c->day.have_carry = true;
			c->day.carry = bal;
			return 0;
		}
	}
	return 0;
}

static int ask_hooks(struct day_ctx *c, struct wxr_err *err)
{
	const struct recon_hooks *h = c->opts->hooks;
	struct db_recon_ask *asks = NULL;
	size_t n = 0;
	bool orders, refunds;
	int r;

	if (c->opts->dry_run || !h || c->day.trade_file <= 0)
		return 0;
	orders = h->query_order && !c->day.next_trade_stored;
	refunds = h->query_refund != NULL;
	if (!orders && !refunds)
		return 0;
	r = db_recon_collect_asks(c->db, &c->day, orders, refunds, err);
	if (r < 0)
		return r;
	r = db_recon_asks(c->db, &asks, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct wxr_err herr = WXR_ERR_INIT;
		char sdate[CLOCK_DATE_LEN];
		const char *state = NULL, *ext = NULL, *sd = NULL;
		int64_t amount = 0, sts = 0;
		bool is_order = strcmp(asks[i].kind, "order") == 0;
		bool ok = true;
		struct recon_order_answer oa;
		struct recon_refund_answer ra;
		int q;

		memset(&oa, 0, sizeof(oa));
		memset(&ra, 0, sizeof(ra));
		c->res->queries++;
		if (is_order)
			q = h->query_order(h->ctx, c->opts->mchid, asks[i].key, &oa, &herr);
		else
			q = h->query_refund(h->ctx, c->opts->mchid, asks[i].key, &ra, &herr);
		oa.trade_state[sizeof(oa.trade_state) - 1] = '\0';
		oa.transaction_id[sizeof(oa.transaction_id) - 1] = '\0';
		ra.status[sizeof(ra.status) - 1] = '\0';
		ra.refund_id[sizeof(ra.refund_id) - 1] = '\0';
		if (q == WXR_ESIG) {
			r = err_set(err, WXR_ESIG, "query %s '%s': %s",
			            is_order ? "order" : "refund", asks[i].key, herr.msg);
			break;
		} else if (q == WXR_ENOTFOUND) {
			state = is_order ? "ORDER_NOT_EXIST" : "NOT_FOUND";
		} else if (q < 0) {
			ok = false;
			c->res->query_failures++;
		} else if (is_order) {
			state = oa.trade_state;
			ext = oa.transaction_id;
			amount = oa.amount_total;
			sts = oa.success_ts;
		} else {
			state = ra.status;
			ext = ra.refund_id;
			amount = ra.amount_refund;
			sts = ra.success_ts;
		}
		if (sts > 0) {
			time_date(sts, c->opts->tz_offset_s, sdate);
			sd = sdate;
		}
		r = db_recon_put_answer(c->db, asks[i].kind, asks[i].key, ok, state, amount, ext,
		                        sts, sd, err);
	}
	db_recon_asks_free(asks, n);
	return r;
}

static int audit_event(void *ctx, const struct recon_change *e, struct wxr_err *err)
{
	struct day_ctx *c = ctx;
	char event[48];
	char *subject;
	json_t *o = json_object();
	int r;

	snprintf(event, sizeof(event), "discrepancy.%s", e->event);
	jset_int(o, "id", e->discrepancy_id);
	jset_str(o, "date", e->date);
	jset_str(o, "kind", e->kind);
	jset_str(o, "key", e->key);
	jset_str(o, "status", e->status);
	jset_int(o, "ledger_amount", e->ledger_amount);
	jset_int(o, "bill_amount", e->bill_amount);
	jset_str(o, "ledger_state", e->ledger_state);
	jset_str(o, "bill_state", e->bill_state);
	if (e->note)
		jset_str(o, "resolution", e->note);
	if (strcmp(e->event, "changed") == 0 || strcmp(e->event, "reopened") == 0) {
		jset_int(o, "prev_ledger_amount", e->prev_ledger_amount);
		jset_int(o, "prev_bill_amount", e->prev_bill_amount);
		jset_str(o, "prev_ledger_state", e->prev_ledger_state);
		jset_str(o, "prev_bill_state", e->prev_bill_state);
	}
	subject = xasprintf("%s %s", e->kind, e->key);
	r = audit_json(c, event, subject, o, err);
	free(subject);
	return r;
}

/* The kinds that need D's trade bill to be looked for. */
static const enum recon_kind trade_kinds[] = {
	RECON_MISSING_IN_LEDGER,      RECON_MISSED_PAYMENT,           RECON_MISSING_IN_BILL,
	RECON_AMOUNT_MISMATCH,        RECON_REFUND_MISSING_IN_LEDGER, RECON_REFUND_MISSING_IN_BILL,
	RECON_REFUND_AMOUNT_MISMATCH, RECON_REFUND_STATUS_MISMATCH,   RECON_DUPLICATE_PAYMENT,
};

static int mark_checked(struct day_ctx *c, struct wxr_err *err)
{
	int r = 0;

	if (c->day.trade_file > 0)
		for (size_t i = 0; i < ARRAY_SIZE(trade_kinds) && r >= 0; i++)
			r = db_recon_check_kind(c->db, recon_kind_name(trade_kinds[i]), err);
	if (r >= 0)
		r = db_recon_check_kind(c->db, "BILL_MISSING", err);
	if (r >= 0)
		r = db_recon_check_kind(c->db, "BILL_SUMMARY_MISMATCH", err);
	if (r >= 0 && c->day.fund_file > 0)
		r = db_recon_check_kind(c->db, "BALANCE_DISCONTINUITY", err);
	if (r >= 0 && (c->day.trade_file > 0 || c->day.fund_file > 0))
		r = db_recon_check_kind(c->db, "FEE_MISMATCH", err);
	return r;
}

/* Phase 2, inside the transaction. */
static int day_work(struct day_ctx *c, struct wxr_err *err)
{
	int64_t before = 0, last = 0;
	json_t *o;
	int r;

	r = db_recon_find(c->db, &c->day, err);
	if (r < 0)
		return r;
	r = find_trade_summary(c, err);
	if (r < 0)
		return r;
	r = find_bill_missing(c, err);
	if (r < 0)
		return r;
	r = find_fund_flow(c, err);
	if (r < 0)
		return r;
	r = mark_checked(c, err);
	if (r < 0)
		return r;
	r = resolve_missed(c, err);
	if (r < 0)
		return r;
	r = resolve_refund_status(c, err);
	if (r < 0)
		return r;
	r = db_recon_max_event_id(c->db, &before, err);
	if (r < 0)
		return r;
	r = db_recon_merge(c->db, &c->day, c->res, err);
	if (r < 0)
		return r;
	r = db_recon_counts(c->db, c->opts->mchid, c->date, c->res, err);
	if (r < 0)
		return r;
	c->res->needs_attention = c->res->total.open > 0;
	if (c->audit) {
		r = db_recon_events(c->db, before, c->opts->mchid, c->date, c->date, audit_event, c,
		                    err);
		if (r < 0)
			return r;
	}
	r = db_recon_max_event_id(c->db, &last, err);
	if (r < 0)
		return r;
	r = db_recon_record_run(c->db, &c->day, c->res, last, err);
	if (r < 0)
		return r;
	o = json_object();
	jset_str(o, "date", c->date);
	jset_str(o, "trade_bill", c->res->trade_bill);
	jset_str(o, "fundflow_bill", c->res->fundflow_bill);
	jset_int(o, "opened", c->res->opened);
	jset_int(o, "reopened", c->res->reopened);
	jset_int(o, "changed", c->res->changed);
	jset_int(o, "resolved", c->res->resolved);
	jset_int(o, "auto_resolved", c->res->auto_resolved);
	jset_int(o, "pending", c->res->pending);
	jset_int(o, "open", c->res->total.open);
	jset_int(o, "queries", c->res->queries);
	jset_int(o, "actions", c->res->actions);
	return audit_json(c, "reconcile.day", c->date, o, err);
}

int reconcile_day(struct db *db, const struct recon_opts *opts, const char *date,
                  struct recon_result *out, struct wxr_err *err)
{
	struct recon_result res;
	struct day_ctx c;
	struct db_recon_tx tx = { false, false };
	int64_t next_id;
	char next_status[8];
	int r;

	if (!opts->mchid)
		return err_set(err, WXR_EUSAGE, "reconcile: no merchant id");
	if (!date_is_valid(date))
		return err_set(err, WXR_EUSAGE, "reconcile: bad date '%s'", date ? date : "");
	memset(&res, 0, sizeof(res));
	memset(&c, 0, sizeof(c));
	c.db = db;
	c.opts = opts;
	c.res = &res;
	c.audit = !opts->dry_run;
	snprintf(c.date, sizeof(c.date), "%s", date);
	r = date_add_days(c.date, -1, c.prev, err);
	if (r < 0)
		goto fail;
	r = date_add_days(c.date, 1, c.next, err);
	if (r < 0)
		goto fail;
	time_format_rfc3339(opts->now_ts, opts->tz_offset_s, c.now);
	c.day.mchid = opts->mchid;
	c.day.date = c.date;
	c.day.prev = c.prev;
	c.day.next = c.next;
	c.day.run_id = opts->run_id;
	c.day.now = c.now;

	r = db_recon_setup(db, err);
	if (r < 0)
		goto fail;
	r = db_recon_bill_file(db, opts->mchid, c.date, "trade", &c.day.trade_file, res.trade_bill,
	                       err);
	if (r < 0)
		goto fail;
	r = db_recon_bill_file(db, opts->mchid, c.date, "fundflow", &c.day.fund_file,
	                       res.fundflow_bill, err);
	if (r < 0)
		goto fail;
	r = db_recon_bill_file(db, opts->mchid, c.next, "trade", &next_id, next_status, err);
	if (r < 0)
		goto fail;
	/* a pruned next day's rows cannot clear a MISSING_IN_BILL: held, as if not there */
	c.day.next_trade_stored = next_id > 0 && strcmp(next_status, "pruned") != 0;
	res.days = 1;
	if (strcmp(res.trade_bill, "pruned") == 0 || strcmp(res.fundflow_bill, "pruned") == 0) {
		/* Its rows are gone (wxrecon prune): nothing to diff, and a finding must not be
		 * taken for gone. Not reconciled, said so; the findings stay as they were. */
		res.pruned = 1;
		snprintf(res.pruned_date, sizeof(res.pruned_date), "%s", c.date);
		r = db_recon_counts(db, opts->mchid, c.date, &res, err); /* as they stand */
		if (r < 0)
			goto fail;
		res.needs_attention = true;
		*out = res;
		return 0;
	}
	res.bills_missing = c.day.trade_file > 0 ? 0 : 1;
	if (c.day.fund_file > 0) {
		r = find_carry(&c, err);
		if (r < 0)
			goto fail;
	}

	r = ask_hooks(&c, err);
	if (r < 0)
		goto fail;

	r = db_recon_begin(db, &tx, err);
	if (r < 0)
		goto fail;
	r = day_work(&c, err);
	if (r < 0)
		goto fail;
	r = db_recon_end(db, &tx, !opts->dry_run, err);
	if (r < 0)
		goto fail;
	*out = res;
	return 0;
fail:
	db_recon_end(db, &tx, false, NULL);
	return err_prefix(err, "reconcile %s", date ? date : "");
}

static void result_add(struct recon_result *sum, const struct recon_result *d)
{
	for (int k = 0; k < RECON_KIND_COUNT; k++) {
		sum->by_kind[k].open += d->by_kind[k].open;
		sum->by_kind[k].resolved += d->by_kind[k].resolved;
		sum->by_kind[k].auto_resolved += d->by_kind[k].auto_resolved;
	}
	sum->total.open += d->total.open;
	sum->total.resolved += d->total.resolved;
	sum->total.auto_resolved += d->total.auto_resolved;
	sum->opened += d->opened;
	sum->reopened += d->reopened;
	sum->changed += d->changed;
	sum->unchanged += d->unchanged;
	sum->resolved += d->resolved;
	sum->auto_resolved += d->auto_resolved;
	sum->pending += d->pending;
	sum->queries += d->queries;
	sum->query_failures += d->query_failures;
	sum->actions += d->actions;
	sum->days += d->days;
	sum->bills_missing += d->bills_missing;
	if (d->pruned && !sum->pruned)
		memcpy(sum->pruned_date, d->pruned_date, sizeof(sum->pruned_date));
	sum->pruned += d->pruned;
	memcpy(sum->trade_bill, d->trade_bill, sizeof(sum->trade_bill));
	memcpy(sum->fundflow_bill, d->fundflow_bill, sizeof(sum->fundflow_bill));
	sum->needs_attention = sum->needs_attention || d->needs_attention;
}

int reconcile_range(struct db *db, const struct recon_opts *opts, const char *from, const char *to,
                    void (*day_cb)(void *ctx, const char *date, const struct recon_result *day),
                    void *cb_ctx, struct recon_result *out, struct wxr_err *err)
{
	struct recon_result sum;
	char d[CLOCK_DATE_LEN];
	int r;

	if (!date_is_valid(from))
		return err_set(err, WXR_EUSAGE, "reconcile: bad date '%s'", from ? from : "");
	if (!date_is_valid(to))
		return err_set(err, WXR_EUSAGE, "reconcile: bad date '%s'", to ? to : "");
	if (strcmp(from, to) > 0)
		return err_set(err, WXR_EUSAGE, "reconcile: '%s' is after '%s'", from, to);
	memset(&sum, 0, sizeof(sum));
	snprintf(d, sizeof(d), "%s", from);
	for (;;) {
		struct recon_result day;

		r = reconcile_day(db, opts, d, &day, err);
		if (r < 0)
			return r;
		result_add(&sum, &day);
		if (day_cb)
			day_cb(cb_ctx, d, &day);
		if (strcmp(d, to) == 0)
			break;
		r = date_add_days(d, 1, d, err);
		if (r < 0)
			return r;
	}
	*out = sum;
	return 0;
}

int reconcile_resolve(struct db *db, int64_t id, const char *note, const char *who,
                      struct wxr_err *err)
{
	struct db_recon_tx tx = { false, false };
	char now[CLOCK_RFC3339_LEN];
	char *old = NULL, *kind = NULL, *key = NULL, *date = NULL, *subject = NULL, *text = NULL;
	int64_t ts;
	json_t *o;
	int r;

	if (!note || !*note)
		return err_set(err, WXR_EUSAGE, "resolve: a note is required");
	if (!who || !*who)
		return err_set(err, WXR_EUSAGE, "resolve: who resolves it is required");
	r = clock_now(&ts, err);
	if (r < 0)
		return r;
	time_format_rfc3339(ts, 0, now);
	r = db_recon_begin(db, &tx, err);
	if (r < 0)
		return r;
	r = db_recon_resolve(db, id, note, who, now, &old, &kind, &key, &date, err);
	if (r < 0)
		goto out;
	o = json_object();
	jset_int(o, "id", id);
	jset_str(o, "date", date);
	jset_str(o, "kind", kind);
	jset_str(o, "key", key);
	jset_str(o, "from", old);
	jset_str(o, "to", "resolved");
	jset_str(o, "note", note);
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (!text)
		BUG("json_dumps failed");
	subject = xasprintf("%s %s", kind, key);
	r = audit_append(db, 0, who, "discrepancy.resolved", subject, text, err);
	if (r < 0)
		goto out;
	r = db_recon_end(db, &tx, true, err);
out:
	if (r < 0)
		db_recon_end(db, &tx, false, NULL);
	free(old);
	free(kind);
	free(key);
	free(date);
	free(subject);
	free(text);
	return r < 0 ? err_prefix(err, "resolve %lld", (long long)id) : 0;
}

int reconcile_changes_since(struct db *db, const char *mchid, int64_t since_run_id,
                            const char *from, const char *to,
                            int (*cb)(void *ctx, const struct recon_change *c, struct wxr_err *err),
                            void *cb_ctx, struct wxr_err *err)
{
	int64_t after;
	int r;

	if (!mchid)
		mchid = "";
	r = db_recon_run_mark(db, mchid, since_run_id, &after, err);
	if (r < 0)
		return r;
	return db_recon_events(db, after, mchid, from, to, cb, cb_ctx, err);
}

int recon_day_totals(struct db *db, const char *mchid, const char *date,
                     struct recon_day_totals *out, struct wxr_err *err)
{
	if (!date_is_valid(date))
		return err_set(err, WXR_EUSAGE, "report: bad date '%s'", date ? date : "");
	return db_recon_day_totals(db, mchid ? mchid : "", date, out, err);
}
