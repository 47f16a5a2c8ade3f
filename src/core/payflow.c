/*
 * payflow.c - order create, refund create and notification handling: the
 * decisions, the order of writes and calls, and the audit trail. SQL lives
 * in db_payflow.c.
 */
#include "core/payflow.h"
#include "base/utf8.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "db/audit.h"
#include "db/db_payflow.h"

#define ACTOR "payflow"

/* ---- checks ---- */

static bool charset_ok(const char *s, size_t min, size_t max, const char *extra)
{
	size_t n = s ? strlen(s) : 0;

	if (n < min || n > max)
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
			return false;
	}
	return true;
}

bool payflow_is_out_trade_no(const char *s)
{
	return charset_ok(s, 6, 32, "_-|*");
}

bool payflow_is_out_refund_no(const char *s)
{
	return charset_ok(s, 1, 64, "_-|*@");
}

int payflow_parse_fen(const char *what, const char *s, int64_t *out, struct wxr_err *err)
{
	int64_t v = 0;
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 13)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			goto bad;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1)
		goto bad;
	*out = v;
	return 0;
bad:
	return err_set(err, WXR_EUSAGE,
	               "bad %s '%s' (want a whole number of fen from 1, e.g. 2500 for 25.00 yuan)",
	               what, s ? s : "");
}

int payflow_check_text(const char *what, const char *s, size_t max_bytes, bool required,
                       struct wxr_err *err)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p);
	const unsigned char *end;

	if (required && n == 0)
		return err_set(err, WXR_EUSAGE, "%s is empty", what);
	if (n > max_bytes)
		return err_set(err, WXR_EUSAGE, "%s is %zu bytes long (at most %zu bytes of UTF-8)",
		               what, n, max_bytes);
	end = p + n;
	while (*p) {
		size_t k = utf8_seq(p, (size_t)(end - p));

		if (k == 0 || k == 4)
			return err_set(err, WXR_EUSAGE,
			               "%s is not UTF-8 or has a 4-byte character (e.g. an emoji), "
			               "which WeChat Pay refuses",
			               what);
		if (k == 1 && (*p < 0x20 || *p == 0x7f))
			return err_set(err, WXR_EUSAGE, "%s contains a control character", what);
		p += k;
	}
	return 0;
}

int payflow_check_notify_url(const char *url, struct wxr_err *err)
{
	const char *host;
	size_t n = url ? strlen(url) : 0;

	if (n == 0)
		return err_set(err, WXR_EUSAGE, "notify_url is empty");
	if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else
		return err_set(err, WXR_EUSAGE, "notify_url '%s' is not an absolute http(s) URL",
		               url);
	if (n > PAYFLOW_URL_MAX)
		return err_set(err, WXR_EUSAGE, "notify_url is longer than %d bytes",
		               PAYFLOW_URL_MAX);
	if (!*host || *host == '/')
		return err_set(err, WXR_EUSAGE, "notify_url '%s' has no host", url);
	for (const char *p = url; *p; p++) {
		if (*p == '?' || *p == '#')
			return err_set(err, WXR_EUSAGE,
			               "notify_url '%s' has a query or fragment (WeChat Pay wants "
			               "none)",
			               url);
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return err_set(err, WXR_EUSAGE,
			               "notify_url has a space or a non-ASCII character");
	}
	return 0;
}

int payflow_time_expire(const char *text, int tz_offset_s, char out[CLOCK_RFC3339_LEN],
                        int64_t *out_ts, struct wxr_err *err)
{
	int64_t ts;

	if (time_parse_rfc3339(text, &ts, NULL) < 0)
		return err_set(err, WXR_EUSAGE,
		               "bad time_expire '%s' (want RFC 3339 with an offset, e.g. "
		               "2026-11-02T12:00:00+08:00)",
		               text);
	time_format_rfc3339(ts, tz_offset_s, out);
	*out_ts = ts;
	return 0;
}

int payflow_check_expire_window(int64_t expire_ts, int64_t order_ts, int tz_offset_s,
                                struct wxr_err *err)
{
	char a[CLOCK_RFC3339_LEN], b[CLOCK_RFC3339_LEN];

	time_format_rfc3339(expire_ts, tz_offset_s, a);
	time_format_rfc3339(order_ts, tz_offset_s, b);
	if (expire_ts < order_ts + PAYFLOW_EXPIRE_MIN_S)
		return err_set(err, WXR_EUSAGE,
		               "time_expire %s is less than a minute after the order time %s "
		               "(WeChat Pay would move it; give a later one)",
		               a, b);
	if (expire_ts > order_ts + PAYFLOW_EXPIRE_MAX_S)
		return err_set(err, WXR_EUSAGE,
		               "time_expire %s is more than 90 days after the order time %s "
		               "(WeChat Pay would move it; give an earlier one)",
		               a, b);
	return 0;
}

int payflow_refund_check(const struct payflow_refund_facts *f, struct wxr_err *err)
{
	char t[CLOCK_RFC3339_LEN];

	if (strcmp(f->order_state, "PAID") != 0 && strcmp(f->order_state, "PARTIAL_REFUNDED") != 0)
		return err_set(err, WXR_EDATA,
		               "order '%s' is %s: only PAID or PARTIAL_REFUNDED orders can be "
		               "refunded",
		               f->out_trade_no, f->order_state);
	if (f->amount < 1)
		return err_set(err, WXR_EDATA, "a refund must be at least 1 fen");
	if (f->refunded_fen + f->amount > f->order_total)
		return err_set(err, WXR_EDATA,
		               "refunds of order '%s' would total %" PRId64
		               " fen, more than its %" PRId64 " fen (%" PRId64
		               " fen refunded or in progress already)",
		               f->out_trade_no, f->refunded_fen + f->amount, f->order_total,
		               f->refunded_fen);
	if (f->refunds >= PAYFLOW_REFUNDS_MAX)
		return err_set(err, WXR_EDATA,
		               "order '%s' has %ld refunds already (WeChat Pay allows at most %d)",
		               f->out_trade_no, f->refunds, PAYFLOW_REFUNDS_MAX);
	if (f->paid_ts <= 0)
		return err_set(err, WXR_EDATA, "order '%s' has no paid_at in the ledger",
		               f->out_trade_no);
	if (f->now > f->paid_ts + PAYFLOW_REFUND_WINDOW_S) {
		time_format_rfc3339(f->paid_ts, f->tz_offset_s, t);
		return err_set(
		        err, WXR_EDATA,
		        "order '%s' was paid at %s, more than a year ago (WeChat Pay refunds "
		        "only within a year of payment)",
		        f->out_trade_no, t);
	}
	if (f->last_refund_ts > 0 && f->now < f->last_refund_ts + PAYFLOW_REFUND_GAP_S)
		return err_set(err, WXR_EDATA,
		               "the last refund of order '%s' was filed %" PRId64
		               " s ago; refunds of one order must be at least a minute apart "
		               "(try again in %" PRId64 " s)",
		               f->out_trade_no, f->now - f->last_refund_ts,
		               f->last_refund_ts + PAYFLOW_REFUND_GAP_S - f->now);
	return 0;
}

/* ---- audit ---- */

/* Appends an audit entry whose detail is j (stolen). */
static int audit_json(const struct payflow_env *env, const char *event, const char *subject,
                      json_t *j, struct wxr_err *err)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int r;

	json_decref(j);
	if (!text)
		return err_set(err, WXR_EFAIL, "cannot build an audit entry for '%s'", event);
	r = audit_append(env->db, env->run_id, ACTOR, event, subject, text, err);
	free(text);
	return r;
}

static json_t *jstr_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static int audit_state(const struct payflow_env *env, const char *event, const char *subject,
                       const char *from, const char *to, const char *source, const char *nid,
                       struct wxr_err *err)
{
	json_t *j = json_object();

	json_object_set_new(j, "from", json_string(from));
	json_object_set_new(j, "to", json_string(to));
	json_object_set_new(j, "source", json_string(source));
	if (nid)
		json_object_set_new(j, "notification", json_string(nid));
	return audit_json(env, event, subject, j, err);
}

/* ---- order create ---- */

void payflow_order_result_release(struct payflow_order_result *r)
{
	if (!r)
		return;
	free(r->prepay_id);
	memset(r, 0, sizeof(*r));
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* Names the first parameter that differs from the stored order, or NULL. */
static const char *order_differs(const struct payflow_db_order *o,
                                 const struct payflow_order_args *a, const char *time_expire,
                                 char *why, size_t n)
{
	if (o->amount_total != a->amount_total) {
		snprintf(why, n, "amount %" PRId64 " fen, not %" PRId64, o->amount_total,
		         a->amount_total);
		return why;
	}
	if (strcmp(o->description, a->description) != 0)
		return "another description";
	if (strcmp(o->attach, nz(a->attach)) != 0)
		return "another attach";
	if (strcmp(o->notify_url, a->notify_url) != 0) {
		snprintf(why, n, "notify_url '%s'", o->notify_url);
		return why;
	}
	if (strcmp(o->time_expire, nz(time_expire)) != 0) {
		snprintf(why, n, "time_expire %s", *o->time_expire ? o->time_expire : "(none)");
		return why;
	}
	return NULL;
}

/* Checks an existing order for a repeat prepay; 0 when it may be paid. */
static int order_repeat_ok(const struct payflow_env *env, const struct payflow_db_order *o,
                           const struct payflow_order_args *a, const char *time_expire,
                           struct wxr_err *err)
{
	char why[320];
	const char *d;
	char t[CLOCK_RFC3339_LEN];

	if (!o->placed)
		return err_set(
		        err, WXR_EUSAGE,
		        "already in the ledger but not placed by 'order create' (imported?); "
		        "use another out_trade_no");
	d = order_differs(o, a, time_expire, why, sizeof(why));
	if (d)
		return err_set(
		        err, WXR_EUSAGE,
		        "placed before with other parameters (%s); an out_trade_no cannot be "
		        "reused with new parameters",
		        d);
	if (strcmp(o->state, "NOTPAY") != 0)
		return err_set(err, WXR_EDATA, "the ledger has it %s: nothing to pay", o->state);
	if (env->now >= o->payable_until_ts) {
		time_format_rfc3339(o->payable_until_ts, env->tz_offset_s, t);
		return err_set(err, WXR_EDATA,
		               "it was payable until %s; place a new order with a new out_trade_no",
		               t);
	}
	return 0;
}

int payflow_order_create(const struct payflow_env *env, const struct payflow_order_args *a,
                         struct payflow_order_result *out, struct wxr_err *err)
{
	struct payflow_db_order o;
	struct payflow_db_new_order no;
	struct wxpay_prepay_req rq;
	struct wxr_err sub = WXR_ERR_INIT;
	char expire[CLOCK_RFC3339_LEN] = "", prepay_at[CLOCK_RFC3339_LEN];
	char expires_at[CLOCK_RFC3339_LEN];
	int64_t expire_ts = 0, payable_until;
	char *prepay_id = NULL;
	bool found = false, is_new = false, in_tx = false;
	json_t *j;
	int r;

	memset(&o, 0, sizeof(o));
	if (!payflow_is_out_trade_no(a->out_trade_no))
		return err_set(err, WXR_EUSAGE,
		               "bad out_trade_no '%s' (6 to 32 of 0-9 A-Z a-z _ - | *)",
		               nz(a->out_trade_no));
	if (a->amount_total < 1)
		return err_set(err, WXR_EUSAGE, "the amount must be at least 1 fen");
	r = payflow_check_text("description", a->description, PAYFLOW_DESCRIPTION_MAX, true, err);
	if (r == 0)
		r = payflow_check_text("attach", a->attach, PAYFLOW_ATTACH_MAX, false, err);
	if (r == 0)
		r = payflow_check_notify_url(a->notify_url, err);
	if (r == 0 && a->time_expire)
		r = payflow_time_expire(a->time_expire, env->tz_offset_s, expire, &expire_ts, err);
	if (r < 0)
		return r;

	r = db_begin(env->db, err);
	if (r < 0)
		return err_prefix(err, "order '%s'", a->out_trade_no);
	in_tx = true;
	r = payflow_db_order_get(env->db, env->mchid, a->out_trade_no, &o, &found, err);
	if (r < 0)
		goto fail;
	if (found) {
		r = order_repeat_ok(env, &o, a, a->time_expire ? expire : NULL, err);
		if (r < 0)
			goto fail;
		payable_until = o.payable_until_ts;
		db_rollback(env->db); /* nothing written */
		in_tx = false;
	} else {
		if (a->time_expire) {
			r = payflow_check_expire_window(expire_ts, env->now, env->tz_offset_s, err);
			if (r < 0)
				goto fail;
		}
		payable_until = a->time_expire ? expire_ts : env->now + PAYFLOW_PAYABLE_DEFAULT_S;
		memset(&no, 0, sizeof(no));
		no.out_trade_no = a->out_trade_no;
		no.description = a->description;
		no.attach = a->attach;
		no.notify_url = a->notify_url;
		no.time_expire = a->time_expire ? expire : NULL;
		no.expire_ts = expire_ts;
		no.amount_total = a->amount_total;
		no.created_ts = env->now;
		no.payable_until_ts = payable_until;
		r = payflow_db_order_insert(env->db, env->mchid, env->tz_offset_s, &no, err);
		if (r < 0)
			goto fail;
		j = json_pack("{s:I, s:o, s:s}", "amount_total", (json_int_t)a->amount_total,
		              "time_expire", jstr_or_null(no.time_expire), "state", "NOTPAY");
		r = audit_json(env, "order.create", a->out_trade_no, j, err);
		if (r < 0)
			goto fail;
		r = db_commit(env->db, err);
		in_tx = false;
		if (r < 0)
			goto out;
		is_new = true;
	}

	memset(&rq, 0, sizeof(rq));
	rq.out_trade_no = a->out_trade_no;
	rq.description = a->description;
	rq.notify_url = a->notify_url;
	rq.amount_total = a->amount_total;
	rq.time_expire = a->time_expire ? expire : NULL;
	rq.attach = a->attach && *a->attach ? a->attach : NULL;
	r = wxpay_prepay_app(env->wx, &rq, &prepay_id, err);
	if (r < 0) {
		/* The ledger order stays NOTPAY: the same command asks again, a sweep closes it. */
		if (db_begin(env->db, &sub) == 0) {
			if (payflow_db_prepay_error(env->db, env->mchid, a->out_trade_no, err->msg,
			                            &sub) == 0 &&
			    audit_json(env, "order.prepay_failed", a->out_trade_no,
			               json_pack("{s:s}", "error", err->msg), &sub) == 0)
				db_commit(env->db, &sub);
			else
				db_rollback(env->db);
		}
		err_prefix(err, "order '%s': prepay", a->out_trade_no);
		goto out;
	}
	time_format_rfc3339(env->now, env->tz_offset_s, prepay_at);
	time_format_rfc3339(env->now + PAYFLOW_PREPAY_TTL_S < payable_until
	                            ? env->now + PAYFLOW_PREPAY_TTL_S
	                            : payable_until,
	                    env->tz_offset_s, expires_at);
	r = db_begin(env->db, err);
	if (r < 0)
		goto recorded;
	in_tx = true;
	r = payflow_db_prepay_record(env->db, env->mchid, a->out_trade_no, prepay_id, prepay_at,
	                             expires_at, err);
	if (r < 0)
		goto fail;
	r = audit_json(env, "order.prepay", a->out_trade_no,
	               json_pack("{s:s, s:s, s:b}", "prepay_id", prepay_id, "expires_at",
	                         expires_at, "repeat", !is_new),
	               err);
	if (r < 0)
		goto fail;
	r = db_commit(env->db, err);
	in_tx = false;
recorded:
	if (r < 0) {
		/* WeChat Pay has the order and we have the ledger row: only the prepay_id's
		 * record is missing. Say so, but hand the prepay_id out. */
		r = 0;
		err_clear(err);
	}
	out->prepay_id = prepay_id;
	prepay_id = NULL;
	memcpy(out->expires_at, expires_at, sizeof(out->expires_at));
	out->is_new = is_new;
	goto out;
fail:
	if (in_tx)
		db_rollback(env->db);
	err_prefix(err, "order '%s'", a->out_trade_no);
out:
	payflow_db_order_release(&o);
	free(prepay_id);
	return r;
}

/* ---- refund create ---- */

void payflow_refund_result_release(struct payflow_refund_result *r)
{
	if (!r)
		return;
	free(r->out_trade_no);
	free(r->out_refund_no);
	free(r->refund_id);
	free(r->status);
	free(r->created_at);
	memset(r, 0, sizeof(*r));
}

static bool refund_state_known(const char *s)
{
	return strcmp(s, "PROCESSING") == 0 || strcmp(s, "SUCCESS") == 0 ||
	       strcmp(s, "CLOSED") == 0 || strcmp(s, "ABNORMAL") == 0;
}

/*
 * After a refund succeeded: the order becomes PARTIAL_REFUNDED or REFUNDED
 * by the sum of its successful refunds. Only paid orders change.
 */
static int order_sync_refunds(const struct payflow_env *env, const char *out_trade_no,
                              const char *source, const char *nid, struct wxr_err *err)
{
	struct payflow_db_order o;
	struct payflow_db_refund_stats rs;
	bool found = false;
	const char *to;
	int r;

	memset(&o, 0, sizeof(o));
	r = payflow_db_order_get(env->db, env->mchid, out_trade_no, &o, &found, err);
	if (r < 0 || !found)
		goto out;
	if (strcmp(o.state, "PAID") != 0 && strcmp(o.state, "PARTIAL_REFUNDED") != 0 &&
	    strcmp(o.state, "REFUNDED") != 0)
		goto out;
	r = payflow_db_refund_stats(env->db, env->mchid, out_trade_no, &rs, err);
	if (r < 0)
		goto out;
	to = rs.success_fen <= 0                ? "PAID"
	     : rs.success_fen >= o.amount_total ? "REFUNDED"
	                                        : "PARTIAL_REFUNDED";
	if (strcmp(to, o.state) == 0)
		goto out;
	r = payflow_db_order_set_state(env->db, env->mchid, out_trade_no, to, err);
	if (r == 0)
		r = audit_state(env, "order.state", out_trade_no, o.state, to, source, nid, err);
out:
	payflow_db_order_release(&o);
	return r;
}

static int64_t parse_time_or_zero(const char *s)
{
	int64_t ts = 0;

	if (!s || !*s || time_parse_rfc3339(s, &ts, NULL) < 0)
		return 0;
	return ts;
}

/* A 4xx answer (except 429) means WeChat Pay did not take the refund, unless
 * an earlier attempt of the call may have been taken (timeout, 429, 5xx). */
static bool refused_outright(struct wxpay *w, int r)
{
	const struct wxpay_status *st;

	if (r != WXR_EAPI)
		return false;
	st = wxpay_last(w);
	return st && !st->unsure && st->http_status >= 400 && st->http_status < 500 &&
	       st->http_status != 429;
}

/* A 4xx after an ambiguous attempt, or a probe answer: only a query tells. */
static bool refund_needs_query(struct wxpay *w, int r)
{
	const struct wxpay_status *st = wxpay_last(w);

	if (!st)
		return false;
	if (r == WXR_ESIG)
		return st->probe && !wxpay_poisoned(w);
	return r == WXR_EAPI && st->unsure && st->http_status >= 400 && st->http_status < 500 &&
	       st->http_status != 429;
}

/*
 * Settles an ambiguous refund by a query of its out_refund_no: 0 with *ans
 * filled when WeChat Pay has it; *absent when it definitely has not (404
 * RESOURCE_NOT_EXISTS); else the query's error (the fate stays unknown).
 */
static int refund_settle_by_query(struct wxpay *w, const char *out_refund_no,
                                  struct wxpay_refund *ans, bool *absent, struct wxr_err *err)
{
	struct wxr_err qerr = WXR_ERR_INIT;
	const struct wxpay_status *st;
	int r;

	*absent = false;
	r = wxpay_refund_query(w, out_refund_no, ans, &qerr);
	if (r == 0)
		return 0;
	st = wxpay_last(w);
	if (r == WXR_EAPI && st && st->http_status == 404 &&
	    wxpay_code_is(st->code, "RESOURCE_NOT_EXISTS"))
		*absent = true;
	if (err) {
		size_t l = strlen(err->msg);

		snprintf(err->msg + l, sizeof(err->msg) - l, "; the query after it: %s", qerr.msg);
	}
	return r;
}

static int refund_fill_result(const struct payflow_env *env, const char *out_refund_no,
                              struct payflow_refund_result *out, struct wxr_err *err)
{
	struct payflow_db_refund f;
	bool found = false;
	int r;

	memset(&f, 0, sizeof(f));
	r = payflow_db_refund_get(env->db, env->mchid, out_refund_no, &f, &found, err);
	if (r < 0)
		return r;
	if (!found)
		return err_set(err, WXR_ENOTFOUND, "refund '%s' vanished from the ledger",
		               out_refund_no);
	out->out_refund_no = xstrdup(out_refund_no);
	out->out_trade_no = xstrdup(f.out_trade_no);
	out->refund_id = xstrdup(f.refund_id);
	out->status = xstrdup(f.state);
	out->created_at = xstrdup(f.created_at);
	out->amount = f.amount_refund;
	payflow_db_refund_release(&f);
	return 0;
}

int payflow_refund_create(const struct payflow_env *env, const struct payflow_refund_args *a,
                          struct payflow_refund_result *out, struct wxr_err *err)
{
	struct payflow_db_refund f;
	struct payflow_db_order o;
	struct payflow_db_refund_stats rs;
	struct payflow_refund_facts facts;
	struct payflow_db_new_refund nr;
	struct wxpay_refund_req rq;
	struct wxpay_refund ans;
	struct payflow_refund_result res;
	struct wxr_err sub = WXR_ERR_INIT;
	bool found = false, ofound = false, in_tx = false, is_new = false;
	bool queried_absent = false;
	char *reason = NULL, *notify_url = NULL;
	int64_t total = 0;
	const char *state;
	int r;

	memset(&f, 0, sizeof(f));
	memset(&o, 0, sizeof(o));
	memset(&ans, 0, sizeof(ans));
	memset(&res, 0, sizeof(res));
	if (!payflow_is_out_trade_no(a->out_trade_no))
		return err_set(err, WXR_EUSAGE,
		               "bad out_trade_no '%s' (6 to 32 of 0-9 A-Z a-z _ - | *)",
		               nz(a->out_trade_no));
	if (!payflow_is_out_refund_no(a->out_refund_no))
		return err_set(err, WXR_EUSAGE,
		               "bad out_refund_no '%s' (1 to 64 of 0-9 A-Z a-z _ - | * @)",
		               nz(a->out_refund_no));
	if (a->amount < 1)
		return err_set(err, WXR_EUSAGE, "the amount must be at least 1 fen");
	r = payflow_check_text("reason", a->reason, PAYFLOW_REASON_MAX, false, err);
	if (r == 0 && a->notify_url)
		r = payflow_check_notify_url(a->notify_url, err);
	if (r < 0)
		return r;

	r = db_begin(env->db, err);
	if (r < 0)
		return err_prefix(err, "refund '%s'", a->out_refund_no);
	in_tx = true;
	r = payflow_db_refund_get(env->db, env->mchid, a->out_refund_no, &f, &found, err);
	if (r < 0)
		goto fail;
	if (found) {
		if (strcmp(f.out_trade_no, a->out_trade_no) != 0 || f.amount_refund != a->amount) {
			r = err_set(err, WXR_EUSAGE,
			            "refund '%s' exists already, for order '%s' and %" PRId64
			            " fen; an out_refund_no cannot be reused with other parameters",
			            a->out_refund_no, f.out_trade_no, f.amount_refund);
			goto fail;
		}
		if (*f.refund_id) {
			/* WeChat Pay accepted it before: nothing to do. */
			db_rollback(env->db);
			in_tx = false;
			r = refund_fill_result(env, a->out_refund_no, &res, err);
			if (r < 0)
				goto fail;
			goto done;
		}
		/* Written, but its answer never arrived: ask again with the same body. */
		reason = xstrdup(f.filed ? f.reason : nz(a->reason));
		notify_url = xstrdup(f.filed ? f.notify_url : nz(a->notify_url));
		total = f.filed ? f.amount_total : 0;
		if (total <= 0) {
			r = payflow_db_order_get(env->db, env->mchid, a->out_trade_no, &o, &ofound,
			                         err);
			if (r < 0)
				goto fail;
			if (!ofound) {
				r = err_set(err, WXR_EDATA, "no order '%s' in the ledger",
				            a->out_trade_no);
				goto fail;
			}
			total = o.amount_total;
		}
		db_rollback(env->db);
		in_tx = false;
	} else {
		r = payflow_db_order_get(env->db, env->mchid, a->out_trade_no, &o, &ofound, err);
		if (r < 0)
			goto fail;
		if (!ofound) {
			r = err_set(err, WXR_EDATA, "no order '%s' in the ledger", a->out_trade_no);
			goto fail;
		}
		r = payflow_db_refund_stats(env->db, env->mchid, a->out_trade_no, &rs, err);
		if (r < 0)
			goto fail;
		memset(&facts, 0, sizeof(facts));
		facts.out_trade_no = a->out_trade_no;
		facts.order_state = o.state;
		facts.order_total = o.amount_total;
		facts.paid_ts = o.paid_ts;
		facts.refunds = rs.count;
		facts.refunded_fen = rs.active_fen;
		facts.last_refund_ts = rs.last_created_ts;
		facts.amount = a->amount;
		facts.now = env->now;
		facts.tz_offset_s = env->tz_offset_s;
		r = payflow_refund_check(&facts, err);
		if (r < 0)
			goto fail;
		total = o.amount_total;
		reason = xstrdup(nz(a->reason));
		notify_url = xstrdup(nz(a->notify_url));
		memset(&nr, 0, sizeof(nr));
		nr.out_refund_no = a->out_refund_no;
		nr.out_trade_no = a->out_trade_no;
		nr.reason = reason;
		nr.notify_url = notify_url;
		nr.amount_refund = a->amount;
		nr.amount_total = total;
		nr.created_ts = env->now;
		r = payflow_db_refund_insert(env->db, env->mchid, env->tz_offset_s, &nr, err);
		if (r < 0)
			goto fail;
		r = audit_json(env, "refund.create", a->out_refund_no,
		               json_pack("{s:s, s:I, s:I, s:s}", "out_trade_no", a->out_trade_no,
		                         "amount_refund", (json_int_t)a->amount, "amount_total",
		                         (json_int_t)total, "state", "PROCESSING"),
		               err);
		if (r < 0)
			goto fail;
		r = db_commit(env->db, err);
		in_tx = false;
		if (r < 0)
			goto fail;
		is_new = true;
	}

	memset(&rq, 0, sizeof(rq));
	rq.out_trade_no = a->out_trade_no;
	rq.out_refund_no = a->out_refund_no;
	rq.reason = *reason ? reason : NULL;
	rq.notify_url = *notify_url ? notify_url : NULL;
	rq.amount_refund = a->amount;
	rq.amount_total = total;
	r = wxpay_refund_create(env->wx, &rq, &ans, err);
	if (r < 0 && refund_needs_query(env->wx, r)) {
		bool absent = false;

		if (refund_settle_by_query(env->wx, a->out_refund_no, &ans, &absent, err) == 0) {
			r = 0;
		} else if (absent) {
			queried_absent = true;
		}
	}
	if (r < 0) {
		bool refused = refused_outright(env->wx, r) || queried_absent;

		if (db_begin(env->db, &sub) == 0) {
			int w = refused ? payflow_db_refund_delete(env->db, env->mchid,
			                                           a->out_refund_no, &sub)
			                : 0;

			if (w == 0)
				w = audit_json(env, refused ? "refund.refused" : "refund.unknown",
				               a->out_refund_no,
				               json_pack("{s:s, s:s, s:b}", "out_trade_no",
				                         a->out_trade_no, "error", err->msg,
				                         "queried_absent", queried_absent),
				               &sub);
			if (w == 0)
				db_commit(env->db, &sub);
			else
				db_rollback(env->db);
		}
		if (queried_absent)
			err_prefix(err,
			           "refund '%s' not made (nothing was refunded; the ledger row is "
			           "removed); if you retry it, use the same out_refund_no, never a "
			           "new one, in case WeChat Pay takes it late",
			           a->out_refund_no);
		else if (refused)
			err_prefix(err,
			           "refund '%s' refused (nothing was refunded; the ledger "
			           "row is removed)",
			           a->out_refund_no);
		else
			err_prefix(err,
			           "refund '%s': its fate is unknown; it stays PROCESSING in "
			           "the ledger: run the same command again (same out_refund_no "
			           "and amount) or 'wxrecon sweep refunds'",
			           a->out_refund_no);
		goto out;
	}
	state = refund_state_known(ans.status) ? ans.status : "PROCESSING";
	r = db_begin(env->db, err);
	if (r < 0)
		goto recorded;
	in_tx = true;
	r = payflow_db_refund_update(
	        env->db, env->mchid, a->out_refund_no, state, ans.refund_id,
	        parse_time_or_zero(ans.create_time),
	        strcmp(state, "SUCCESS") == 0 ? parse_time_or_zero(ans.success_time) : 0,
	        env->tz_offset_s, err);
	if (r < 0)
		goto fail;
	r = audit_json(env, "refund.accepted", a->out_refund_no,
	               json_pack("{s:s, s:s, s:s, s:b}", "out_trade_no", a->out_trade_no,
	                         "refund_id", ans.refund_id, "status", state, "repeat", !is_new),
	               err);
	if (r < 0)
		goto fail;
	if (strcmp(state, "SUCCESS") == 0) {
		r = order_sync_refunds(env, a->out_trade_no, "refund create", NULL, err);
		if (r < 0)
			goto fail;
	}
	r = db_commit(env->db, err);
	in_tx = false;
recorded:
	if (r < 0) {
		err_prefix(err,
		           "refund '%s' was accepted by WeChat Pay (refund_id %s, %s) but "
		           "could not be recorded",
		           a->out_refund_no, ans.refund_id, state);
		goto out;
	}
	r = refund_fill_result(env, a->out_refund_no, &res, err);
	if (r < 0)
		goto out;
	res.sent = true;
done:
	res.is_new = is_new;
	*out = res;
	memset(&res, 0, sizeof(res));
	r = 0;
	goto out;
fail:
	if (in_tx)
		db_rollback(env->db);
	err_prefix(err, "refund '%s'", a->out_refund_no);
out:
	payflow_refund_result_release(&res);
	wxpay_refund_release(&ans);
	payflow_db_refund_release(&f);
	payflow_db_order_release(&o);
	free(reason);
	free(notify_url);
	return r;
}

/* ---- notifications ---- */

/* What one notification did, for its record and its audit entry. */
struct applied {
	const char *outcome; /* applied, unchanged, held, unknown, ignored */
	char reason[400];
	struct payflow_db_notification rec;
};

static void set_reason(struct applied *ap, const char *outcome, const char *fmt, ...)
        WXR_PRINTF(3, 4);

static void set_reason(struct applied *ap, const char *outcome, const char *fmt, ...)
{
	va_list va;

	ap->outcome = outcome;
	va_start(va, fmt);
	vsnprintf(ap->reason, sizeof(ap->reason), fmt, va);
	va_end(va);
}

static int apply_payment(const struct payflow_env *env, const char *nid,
                         const struct wxpay_transaction *t, struct applied *ap, struct wxr_err *err)
{
	struct payflow_db_order o;
	bool found = false, changed = false;
	int64_t paid_ts = 0;
	char from[24];
	int r;

	memset(&o, 0, sizeof(o));
	if (strcmp(t->mchid, env->mchid) != 0) {
		set_reason(ap, "held", "for merchant '%s', not '%s'", t->mchid, env->mchid);
		return 0;
	}
	if (strcmp(t->trade_state, "SUCCESS") != 0) {
		set_reason(ap, "held", "trade_state '%s' in a TRANSACTION.SUCCESS", t->trade_state);
		return 0;
	}
	if (!*t->out_trade_no || !*t->transaction_id) {
		set_reason(ap, "held", "no out_trade_no or transaction_id");
		return 0;
	}
	if (*t->currency && strcmp(t->currency, "CNY") != 0) {
		set_reason(ap, "held", "currency '%s'", t->currency);
		return 0;
	}
	if (time_parse_rfc3339(t->success_time, &paid_ts, NULL) < 0) {
		set_reason(ap, "held", "bad success_time '%s'", t->success_time);
		return 0;
	}
	r = payflow_db_order_get(env->db, env->mchid, t->out_trade_no, &o, &found, err);
	if (r < 0)
		return r;
	if (!found) {
		set_reason(ap, "unknown", "no order '%s' in the ledger", t->out_trade_no);
		goto out;
	}
	snprintf(from, sizeof(from), "%s", o.state);
	if (strcmp(o.state, "NOTPAY") == 0 || strcmp(o.state, "CLOSED") == 0) {
		if (t->amount_total != o.amount_total) {
			set_reason(ap, "held",
			           "paid %" PRId64 " fen, the ledger says %" PRId64
			           " fen: the order is left %s for a person to look at",
			           t->amount_total, o.amount_total, o.state);
			goto out;
		}
		if (strcmp(o.state, "CLOSED") == 0 &&
		    env->paid_after_close != PAID_AFTER_CLOSE_MARK_PAID) {
			set_reason(ap, "held",
			           "paid after it was closed; policy paid_after_close = %s: left "
			           "CLOSED for reconcile",
			           env->paid_after_close == PAID_AFTER_CLOSE_REFUND ? "refund"
			                                                            : "hold");
			goto out;
		}
		r = payflow_db_order_mark_paid(env->db, env->mchid, t->out_trade_no,
		                               t->transaction_id, paid_ts, env->tz_offset_s,
		                               &changed, err);
		if (r < 0)
			goto out;
		if (!changed) {
			set_reason(ap, "unchanged", "the order changed meanwhile");
			goto out;
		}
		r = audit_state(env, "order.state", t->out_trade_no, from, "PAID", "notify", nid,
		                err);
		if (r < 0)
			goto out;
		set_reason(ap, "applied", "%s -> PAID%s", from,
		           strcmp(from, "CLOSED") == 0 ? " (paid after close; paid_after_close = "
		                                         "mark_paid)"
		                                       : "");
		goto out;
	}
	/* PAID, PARTIAL_REFUNDED, REFUNDED */
	if (t->amount_total != o.amount_total) {
		set_reason(ap, "held", "paid %" PRId64 " fen, the ledger says %" PRId64 " fen",
		           t->amount_total, o.amount_total);
		goto out;
	}
	if (!*o.transaction_id) {
		r = payflow_db_order_set_txn(env->db, env->mchid, t->out_trade_no,
		                             t->transaction_id, err);
		if (r < 0)
			goto out;
		set_reason(ap, "applied", "transaction_id recorded");
		goto out;
	}
	if (strcmp(o.transaction_id, t->transaction_id) != 0) {
		set_reason(ap, "held",
		           "the ledger has it paid by transaction '%s' (a second payment?)",
		           o.transaction_id);
		goto out;
	}
	set_reason(ap, "unchanged", "already %s", o.state);
out:
	payflow_db_order_release(&o);
	return r;
}

static int refund_rank(const char *s)
{
	if (strcmp(s, "PROCESSING") == 0)
		return 0;
	if (strcmp(s, "ABNORMAL") == 0)
		return 1;
	return 2; /* SUCCESS, CLOSED: final */
}

static int apply_refund(const struct payflow_env *env, const char *nid, const char *event_type,
                        const struct wxpay_refund *n, struct applied *ap, struct wxr_err *err)
{
	struct payflow_db_refund f;
	bool found = false;
	const char *st = n->status;
	int64_t success_ts = 0;
	int r;

	memset(&f, 0, sizeof(f));
	if (strcmp(st, "SUCCESS") != 0 && strcmp(st, "ABNORMAL") != 0 &&
	    strcmp(st, "CLOSED") != 0) {
		set_reason(ap, "held", "refund_status '%s' in a %s", st, event_type);
		return 0;
	}
	if (strcmp(event_type + strlen("REFUND."), st) != 0) {
		set_reason(ap, "held", "refund_status '%s' in a %s", st, event_type);
		return 0;
	}
	if (!*n->out_refund_no) {
		set_reason(ap, "held", "no out_refund_no");
		return 0;
	}
	if (strcmp(st, "SUCCESS") == 0 &&
	    time_parse_rfc3339(n->success_time, &success_ts, NULL) < 0)
		success_ts = env->now; /* documented as present on SUCCESS; be lenient */
	r = payflow_db_refund_get(env->db, env->mchid, n->out_refund_no, &f, &found, err);
	if (r < 0)
		return r;
	if (!found) {
		set_reason(ap, "unknown", "no refund '%s' in the ledger", n->out_refund_no);
		goto out;
	}
	if (*n->out_trade_no && strcmp(n->out_trade_no, f.out_trade_no) != 0) {
		set_reason(ap, "held", "for order '%s', the ledger says order '%s'",
		           n->out_trade_no, f.out_trade_no);
		goto out;
	}
	if (n->amount_refund != f.amount_refund) {
		set_reason(ap, "held", "refund of %" PRId64 " fen, the ledger says %" PRId64 " fen",
		           n->amount_refund, f.amount_refund);
		goto out;
	}
	if (*n->refund_id && *f.refund_id && strcmp(n->refund_id, f.refund_id) != 0) {
		set_reason(ap, "held", "refund_id '%s', the ledger says '%s'", n->refund_id,
		           f.refund_id);
		goto out;
	}
	if (strcmp(st, f.state) == 0) {
		if (!*f.refund_id && *n->refund_id) {
			r = payflow_db_refund_update(env->db, env->mchid, n->out_refund_no, st,
			                             n->refund_id, 0, 0, env->tz_offset_s, err);
			if (r < 0)
				goto out;
			set_reason(ap, "applied", "refund_id recorded");
		} else {
			set_reason(ap, "unchanged", "already %s", st);
		}
		goto out;
	}
	if (refund_rank(st) < refund_rank(f.state)) {
		set_reason(ap, "unchanged", "late: the ledger says %s already", f.state);
		goto out;
	}
	if (refund_rank(st) == refund_rank(f.state)) {
		set_reason(ap, "held", "%s, but the ledger says %s (both final)", st, f.state);
		goto out;
	}
	r = payflow_db_refund_update(env->db, env->mchid, n->out_refund_no, st, n->refund_id, 0,
	                             success_ts, env->tz_offset_s, err);
	if (r < 0)
		goto out;
	r = audit_state(env, "refund.state", n->out_refund_no, f.state, st, "notify", nid, err);
	if (r < 0)
		goto out;
	if (strcmp(st, "SUCCESS") == 0) {
		r = order_sync_refunds(env, f.out_trade_no, "notify", nid, err);
		if (r < 0)
			goto out;
	}
	set_reason(ap, "applied", "%s -> %s", f.state, st);
out:
	payflow_db_refund_release(&f);
	return r;
}

static void answer_set(struct payflow_notify_answer *a, int status, const char *outcome,
                       const char *detail)
{
	a->http_status = status;
	a->outcome = outcome;
	snprintf(a->detail, sizeof(a->detail), "%s", detail ? detail : "");
}

/* ---- rejected notifications ---- */

static const char *const reject_names[PAYFLOW_REJECT_NREASONS] = { "unverified", "malformed",
	                                                           "too_large" };

static void clip(const char *s, size_t max, char *out, size_t cap)
{
	utf8_clip(s ? s : "", max, out, cap);
}

void payflow_rejects_add(struct payflow_rejects *rj, enum payflow_reject_reason reason,
                         const char *source, const struct wxpay_notify_headers *hdr, size_t len,
                         const char *why, int64_t now_ts)
{
	char addr[sizeof(rj->sources[0].addr)];
	int i;

	if (rj->count++ == 0) {
		rj->first_ts = now_ts;
		clip(why, 2 * PAYFLOW_CLIP_LEN, rj->error, sizeof(rj->error));
		clip(hdr ? hdr->serial : NULL, PAYFLOW_CLIP_LEN, rj->serial, sizeof(rj->serial));
		clip(hdr ? hdr->timestamp : NULL, PAYFLOW_CLIP_LEN, rj->timestamp,
		     sizeof(rj->timestamp));
		rj->bytes = (int64_t)len;
	}
	rj->last_ts = now_ts;
	rj->by_reason[reason]++;
	clip(source && *source ? source : "?", sizeof(addr) - 1, addr, sizeof(addr));
	for (i = 0; i < rj->nsources; i++) {
		if (strcmp(rj->sources[i].addr, addr) == 0)
			break;
	}
	if (i == rj->nsources && i < PAYFLOW_REJECT_SOURCES) {
		memcpy(rj->sources[i].addr, addr, sizeof(addr));
		rj->nsources++;
	}
	if (i < rj->nsources)
		rj->sources[i].n++;
	else
		rj->other_sources++;
}

bool payflow_rejects_due(const struct payflow_rejects *rj, int64_t now_ts, int64_t interval_s)
{
	return rj->count > 0 && now_ts - rj->first_ts >= interval_s;
}

int payflow_rejects_flush(const struct payflow_env *env, struct payflow_rejects *rj,
                          struct wxr_err *err)
{
	char from[CLOCK_RFC3339_LEN], to[CLOCK_RFC3339_LEN];
	json_t *reasons, *sources, *j;
	int r;

	if (rj->count == 0)
		return 0;
	reasons = json_object();
	for (int i = 0; i < PAYFLOW_REJECT_NREASONS; i++) {
		if (rj->by_reason[i])
			json_object_set_new(reasons, reject_names[i],
			                    json_integer((json_int_t)rj->by_reason[i]));
	}
	sources = json_object();
	for (int i = 0; i < rj->nsources; i++)
		json_object_set_new(sources, rj->sources[i].addr,
		                    json_integer((json_int_t)rj->sources[i].n));
	time_format_rfc3339(rj->first_ts, 0, from);
	time_format_rfc3339(rj->last_ts, 0, to);
	j = json_pack("{s:s, s:s, s:I, s:o, s:o, s:I, s:{s:s, s:s, s:s, s:I}}", "from", from, "to",
	              to, "count", (json_int_t)rj->count, "reasons", reasons, "sources", sources,
	              "other_sources", (json_int_t)rj->other_sources, "sample", "error", rj->error,
	              "serial", rj->serial, "timestamp", rj->timestamp, "bytes",
	              (json_int_t)rj->bytes);
	r = audit_json(env, "notify.rejected", NULL, j, err);
	if (r == 0)
		memset(rj, 0, sizeof(*rj));
	return r;
}

/* A rejected notification: counted in env->rejects, else audited in its own
 * transaction (best effort); the sender's text clipped either way. */
static void audit_rejected(const struct payflow_env *env, const struct wxpay_notify_headers *hdr,
                           enum payflow_reject_reason reason, size_t len, const char *why)
{
	struct payflow_rejects one;
	struct wxr_err sub = WXR_ERR_INIT;

	if (env->rejects) {
		payflow_rejects_add(env->rejects, reason, env->peer, hdr, len, why,
		                    clock_real_now());
		return;
	}
	memset(&one, 0, sizeof(one));
	payflow_rejects_add(&one, reason, env->peer, hdr, len, why, clock_real_now());
	payflow_rejects_flush(env, &one, &sub);
}

void payflow_notify_handle(const struct payflow_env *env, const struct wxpay_notify_headers *hdr,
                           const void *body, size_t len, struct payflow_notify_answer *out)
{
	struct wxpay_notification n;
	struct wxpay_transaction t;
	struct wxpay_refund f;
	struct applied ap;
	struct wxr_err err = WXR_ERR_INIT, perr = WXR_ERR_INIT;
	bool seen = false, pay = false, refund = false;
	char prev[16];
	json_t *j;
	int r;

	memset(out, 0, sizeof(*out));
	memset(&n, 0, sizeof(n));
	memset(&t, 0, sizeof(t));
	memset(&f, 0, sizeof(f));
	memset(&ap, 0, sizeof(ap));
	r = wxpay_notify_parse(env->wx, hdr, body, len, &n, &err);
	if (r < 0) {
		answer_set(out,
		           r == WXR_ESIG                        ? 401
		           : r == WXR_EDATA || r == WXR_ETOOBIG ? 400
		                                                : 500,
		           r == WXR_ESIG || r == WXR_EDATA || r == WXR_ETOOBIG ? "rejected"
		                                                               : "error",
		           err.msg);
		if (r == WXR_ESIG || r == WXR_EDATA || r == WXR_ETOOBIG)
			audit_rejected(env, hdr,
			               r == WXR_ESIG    ? PAYFLOW_REJECT_UNVERIFIED
			               : r == WXR_EDATA ? PAYFLOW_REJECT_MALFORMED
			                                : PAYFLOW_REJECT_TOO_LARGE,
			               len, err.msg);
		goto out;
	}
	snprintf(out->id, sizeof(out->id), "%s", n.id);
	snprintf(out->event_type, sizeof(out->event_type), "%s", n.event_type);

	/* Parsed before the transaction: the write lock is held only for the writes. */
	if (strcmp(n.event_type, "TRANSACTION.SUCCESS") == 0) {
		pay = wxpay_transaction_parse(n.plaintext, n.plaintext_len, &t, &perr) == 0;
		if (pay)
			snprintf(out->subject, sizeof(out->subject), "%s", t.out_trade_no);
	} else if (strncmp(n.event_type, "REFUND.", 7) == 0) {
		refund = wxpay_refund_parse(n.plaintext, n.plaintext_len, &f, &perr) == 0;
		if (refund)
			snprintf(out->subject, sizeof(out->subject), "%s", f.out_refund_no);
	}

	r = db_begin(env->db, &err);
	if (r < 0) {
		answer_set(out, 500, "error", err.msg);
		goto out;
	}
	r = payflow_db_notification_seen(env->db, env->mchid, n.id, &seen, prev, &err);
	if (r < 0)
		goto fail;
	if (seen) {
		r = payflow_db_notification_repeat(env->db, env->mchid, n.id, clock_real_now(),
		                                   &err);
		if (r == 0)
			r = audit_json(env, "notify.duplicate", n.id,
			               json_pack("{s:s, s:s}", "event_type", n.event_type,
			                         "first_outcome", prev),
			               &err);
		if (r < 0)
			goto fail;
		r = db_commit(env->db, &err);
		if (r < 0) {
			answer_set(out, 500, "error", err.msg);
			goto out;
		}
		answer_set(out, 204, "duplicate", "");
		snprintf(out->detail, sizeof(out->detail), "first outcome: %s", prev);
		goto out;
	}

	if (strcmp(n.event_type, "TRANSACTION.SUCCESS") == 0) {
		if (!pay)
			set_reason(&ap, "held", "cannot read the payment: %s", perr.msg);
		else
			r = apply_payment(env, n.id, &t, &ap, &err);
		ap.rec.out_trade_no = t.out_trade_no;
		ap.rec.transaction_id = t.transaction_id;
		ap.rec.has_amount = pay;
		ap.rec.amount = t.amount_total;
		ap.rec.state = t.trade_state;
	} else if (strncmp(n.event_type, "REFUND.", 7) == 0) {
		if (!refund)
			set_reason(&ap, "held", "cannot read the refund: %s", perr.msg);
		else
			r = apply_refund(env, n.id, n.event_type, &f, &ap, &err);
		ap.rec.out_trade_no = f.out_trade_no;
		ap.rec.out_refund_no = f.out_refund_no;
		ap.rec.transaction_id = f.transaction_id;
		ap.rec.refund_id = f.refund_id;
		ap.rec.has_amount = refund;
		ap.rec.amount = f.amount_refund;
		ap.rec.state = f.status;
	} else {
		set_reason(&ap, "ignored", "event type '%s' is not handled", n.event_type);
	}
	if (r < 0)
		goto fail;
	ap.rec.id = n.id;
	ap.rec.event_type = n.event_type;
	ap.rec.create_time = n.create_time;
	ap.rec.outcome = ap.outcome;
	ap.rec.reason = ap.reason;
	ap.rec.received_ts = clock_real_now();
	r = payflow_db_notification_insert(env->db, env->mchid, &ap.rec, &err);
	if (r < 0)
		goto fail;
	j = json_pack("{s:s, s:o, s:o, s:s}", "event_type", n.event_type, "out_trade_no",
	              jstr_or_null(ap.rec.out_trade_no), "out_refund_no",
	              jstr_or_null(ap.rec.out_refund_no), "reason", ap.reason);
	if (ap.rec.has_amount)
		json_object_set_new(j, "amount", json_integer((json_int_t)ap.rec.amount));
	{
		char event[32];

		snprintf(event, sizeof(event), "notify.%s", ap.outcome);
		r = audit_json(env, event, n.id, j, &err);
	}
	if (r < 0)
		goto fail;
	r = db_commit(env->db, &err);
	if (r < 0) {
		answer_set(out, 500, "error", err.msg);
		goto out;
	}
	answer_set(out, 204, ap.outcome, ap.reason);
	goto out;
fail:
	db_rollback(env->db);
	answer_set(out, 500, "error", err.msg);
out:
	wxpay_transaction_release(&t);
	wxpay_refund_release(&f);
	wxpay_notification_release(&n);
}
