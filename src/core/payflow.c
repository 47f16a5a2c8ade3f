/*
 * payflow.c - the checks, the audit trail, order create and an order that
 * follows its refunds (payflow.h); refund create is in payflow_refund.c,
 * the notifications in payflow_notify.c. SQL lives in db_payflow.c.
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

/* ---- order create ---- */

void payflow_order_result_release(struct payflow_order_result *r)
{
	if (!r)
		return;
	free(r->prepay_id);
	memset(r, 0, sizeof(*r));
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
	if (strcmp(o->attach, payflow_nz(a->attach)) != 0)
		return "another attach";
	if (strcmp(o->notify_url, a->notify_url) != 0) {
		snprintf(why, n, "notify_url '%s'", o->notify_url);
		return why;
	}
	if (strcmp(o->time_expire, payflow_nz(time_expire)) != 0) {
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
		               payflow_nz(a->out_trade_no));
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
		              "time_expire", payflow_jstr_or_null(no.time_expire), "state",
		              "NOTPAY");
		r = payflow_audit_json(env, "order.create", a->out_trade_no, j, err);
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
			    payflow_audit_json(env, "order.prepay_failed", a->out_trade_no,
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
	r = payflow_audit_json(env, "order.prepay", a->out_trade_no,
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
