/*
 * sweep_run.c - the machinery every sweep shares: the run's state, the
 * intent log's compare-and-set moves with their audit entries, and the calls
 * classified (go on, stop the run, not found, failed).
 */
#include "core/sweep_run.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "core/payflow.h"
#include "db/audit.h"
#include "db/db_actions.h"
#include "db/db_payflow.h"
#include "wx/crypto.h"

const char *const sw_refund_kinds[] = { "ABNORMAL_REFUND", NULL };

/* ---- the run ---- */

void sw_item_add(struct sw *sw, const char *target, const char *what, int64_t action_id,
                 const char *fmt, ...)
{
	struct sweep_result *res = sw->res;
	struct sweep_item *it;
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (res->nitems == sw->items_cap) {
		sw->items_cap = sw->items_cap ? 2 * sw->items_cap : 64;
		res->items = xreallocarray(res->items, sw->items_cap, sizeof(*res->items));
	}
	it = &res->items[res->nitems++];
	it->target = xstrdup(target);
	it->what = what;
	it->detail = xstrdup(line);
	it->action_id = action_id;
}

static void sw_action_seen(struct sw *sw, int64_t id)
{
	struct sweep_result *res = sw->res;

	if (id <= 0 || (res->nactions && res->actions[res->nactions - 1] == id))
		return;
	if (res->nactions == sw->actions_cap) {
		sw->actions_cap = sw->actions_cap ? 2 * sw->actions_cap : 64;
		res->actions = xreallocarray(res->actions, sw->actions_cap, sizeof(*res->actions));
	}
	res->actions[res->nactions++] = id;
}

void sw_checkpoint(struct sw *sw, const char *point)
{
	if (sw->o->checkpoint)
		sw->o->checkpoint(sw->o->checkpoint_ctx, point);
}

void sw_jset(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

void sw_jint(json_t *o, const char *key, int64_t v)
{
	json_object_set_new(o, key, json_integer((json_int_t)v));
}

static char *sw_json_text(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(o);
	if (!s)
		abort(); /* only on out of memory */
	return s;
}

/* Appends an audit entry; detail is stolen. */
int sw_audit_ev(struct sw *sw, const char *event, const char *subject, json_t *detail,
                struct wxr_err *err)
{
	char *text;
	int r;

	if (!detail)
		detail = json_object();
	if (sw->o->dry_run)
		json_object_set_new(detail, "dry_run", json_true());
	if (sw->o->who)
		sw_jset(detail, "by", sw->o->who);
	text = sw_json_text(detail);
	r = audit_append(sw->db, sw->o->run_id, sw->actor, event, subject, text, err);
	free(text);
	return r;
}

int sw_begin(struct sw *sw, struct wxr_err *err)
{
	return db_begin(sw->db, err);
}

int sw_end(struct sw *sw, int r, struct wxr_err *err)
{
	if (r < 0) {
		db_rollback(sw->db);
		return r;
	}
	return db_commit(sw->db, err);
}

/*
 * Moves a to state `to` (compare-and-set on its current state) and audits
 * it as event with the states before and after; extra (stolen, may be
 * NULL) adds to the detail; note (NULL keeps) is the action's note for
 * people. Inside the caller's transaction.
 */
int sw_move_note(struct sw *sw, struct action *a, const char *to, const char *result,
                 const char *error, const char *note, const char *event, json_t *extra,
                 struct wxr_err *err)
{
	struct action_change c;
	json_t *d = extra ? extra : json_object();
	int r;

	memset(&c, 0, sizeof(c));
	c.to = to;
	c.result = result;
	c.error = error;
	c.note = note;
	c.run_id = sw->o->run_id;
	c.now = sw->now;
	if (strcmp(to, "sent") == 0)
		c.sent_ts = (int64_t)time(NULL);
	r = actions_move(sw->db, a->id, a->state, &c, err);
	if (r >= 0)
		a->sent_ts = c.sent_ts ? c.sent_ts : a->sent_ts;
	if (r < 0) {
		json_decref(d);
		return r;
	}
	sw_jint(d, "action_id", a->id);
	sw_jset(d, "kind", a->kind);
	sw_jset(d, "before", a->state);
	sw_jset(d, "after", to);
	sw_jset(d, "result", result);
	if (error && *error)
		sw_jset(d, "error", error);
	if (strcmp(to, "sent") == 0)
		sw_jint(d, "attempt", a->attempts + 1);
	r = sw_audit_ev(sw, event, a->target, d, err);
	if (strcmp(to, "sent") == 0)
		a->attempts++;
	snprintf(a->state, sizeof(a->state), "%s", to);
	sw_action_seen(sw, a->id);
	return r;
}

int sw_move(struct sw *sw, struct action *a, const char *to, const char *result, const char *error,
            const char *event, json_t *extra, struct wxr_err *err)
{
	return sw_move_note(sw, a, to, result, error, NULL, event, extra, err);
}

/* The same in a transaction of its own. */
int sw_move_tx(struct sw *sw, struct action *a, const char *to, const char *result,
               const char *error, const char *event, json_t *extra, struct wxr_err *err)
{
	int r = sw_begin(sw, err);

	if (r < 0) {
		json_decref(extra);
		return r;
	}
	r = sw_move(sw, a, to, result, error, event, extra, err);
	return sw_end(sw, r, err);
}

/* Opens (or re-arms) an action and audits it; inside the caller's transaction. */
int sw_open_action(struct sw *sw, const char *kind, const char *target, const char *state,
                   bool has_amount, int64_t amount, json_t *params, const char *note,
                   const char *const *rearm, const char *event, json_t *extra, struct action *out,
                   bool *out_written, struct wxr_err *err)
{
	struct action_new n;
	struct action before;
	bool found = false;
	char *ptext = params ? sw_json_text(params) : NULL;
	json_t *d = extra ? extra : json_object();
	int r;

	memset(&n, 0, sizeof(n));
	n.mchid = sw->o->mchid;
	n.kind = kind;
	n.target = target;
	n.state = state;
	n.has_amount = has_amount;
	n.amount = amount;
	n.date = sw->date;
	n.params = ptext;
	n.note = note;
	n.run_id = sw->o->run_id;
	n.now = sw->now;
	memset(&before, 0, sizeof(before));
	r = actions_get(sw->db, sw->o->mchid, kind, target, &before, &found, err);
	if (r < 0)
		goto out;
	r = actions_open(sw->db, &n, rearm, out, out_written, err);
	if (r < 0)
		goto out;
	if (*out_written) {
		sw_jint(d, "action_id", out->id);
		sw_jset(d, "kind", kind);
		if (found)
			sw_jset(d, "before", before.state);
		else
			json_object_set_new(d, "before", json_null());
		sw_jset(d, "after", state);
		if (has_amount)
			sw_jint(d, "amount", amount);
		sw_jset(d, "why", note);
		r = sw_audit_ev(sw, event, target, d, err);
		d = NULL;
		sw_action_seen(sw, out->id);
		if (r < 0) {
			action_release(out);
			goto out;
		}
	}
out:
	json_decref(d);
	action_release(&before);
	free(ptext);
	return r;
}

/*
 * How long one call may take, by the real clock: every attempt timing out
 * and the backoffs between them, plus a margin for WeChat Pay to act on a
 * request whose sender is gone. A 'sent' action younger than this may be
 * the call of a run that crashed (kill -9) and is still in flight.
 */
static int64_t inflight_window_s(const struct config *cfg)
{
	int64_t ms = 0;
	long d = cfg->retry_base_ms > 0 ? cfg->retry_base_ms : 0;

	for (int i = 0; i < cfg->retries; i++) {
		ms += d < SWEEP_BACKOFF_CAP_MS ? d : SWEEP_BACKOFF_CAP_MS;
		if (d < SWEEP_BACKOFF_CAP_MS)
			d *= 2;
	}
	return (int64_t)(cfg->retries + 1) * cfg->timeout_s + (ms + 999) / 1000 +
	       SWEEP_INFLIGHT_MARGIN_S;
}

/*
 * A 'sent' action whose call may still be in flight is not settled (a query
 * could see the state before WeChat Pay acted, and the sweep would send
 * again): *wait is set, and it is listed and audited for a later run.
 */
int sw_in_flight(struct sw *sw, struct action *a, bool *wait, struct wxr_err *err)
{
	int64_t win = inflight_window_s(sw->o->cfg);
	int64_t age = (int64_t)time(NULL) - a->sent_ts;
	char why[WHY_LEN];

	*wait = false;
	if (strcmp(a->state, "sent") != 0 || a->sent_ts <= 0 || age >= win)
		return 0;
	*wait = true;
	sw->res->skipped++;
	sw_action_seen(sw, a->id);
	snprintf(why, sizeof(why),
	         "%s action %" PRId64 " was sent %" PRId64 " s ago and its call may still be in "
	         "flight (limit %" PRId64 " s: the timeout and retries of [api] and a margin): "
	         "left for a later run, not sent again",
	         a->kind, a->id, age < 0 ? 0 : age, win);
	sw_item_add(sw, a->target, "waits", a->id, "%s", why);
	return sw_audit_ev(sw, "decision.skip", a->target,
	                   json_pack("{s:I, s:s, s:I, s:I}", "action_id", (json_int_t)a->id, "why",
	                             why, "sent_age_s", (json_int_t)age, "limit_s",
	                             (json_int_t)win),
	                   err);
}

/* ---- calls ---- */

void sw_stop(struct sw *sw, int code, const char *why)
{
	if (sw->res->stopped)
		return;
	sw->res->stopped = true;
	sw->res->stop_code = code;
	snprintf(sw->res->stop, sizeof(sw->res->stop), "%s", why);
}

/* What a call's result means for the sweep; notfound_code: the 404 code that
 * says "no such thing" (NULL: none). A failed verification stops the run,
 * but a signature probe only fails its call: its answer is not believed and
 * the call's fate is settled by a query, like a timeout. */
enum cc sw_classify(struct sw *sw, int r, const char *notfound_code, const struct wxr_err *e)
{
	const struct wxpay_status *st;

	if (r >= 0)
		return CC_OK;
	st = sw->api->last(sw->api->ctx);
	if (r == WXR_ESIG && st && st->probe && !sw->api->poisoned(sw->api->ctx))
		return CC_FAIL;
	if (r == WXR_ESIG || sw->api->poisoned(sw->api->ctx)) {
		sw_stop(sw, WXR_ESIG, e->msg);
		return CC_STOP;
	}
	/* unreachable: every later call would fail alike; one line says it */
	if (r == WXR_ENET && st && st->unreachable) {
		sw_stop(sw, WXR_ENET, e->msg);
		return CC_STOP;
	}
	if (r == WXR_EAPI && notfound_code && st && st->http_status == 404 &&
	    wxpay_code_is(st->code, notfound_code))
		return CC_NOTFOUND;
	return CC_FAIL;
}

enum cc sw_query_order(struct sw *sw, const char *otn, struct wxpay_transaction *t, char *why,
                       size_t n)
{
	struct wxr_err e = WXR_ERR_INIT;
	enum cc c;
	int r;

	memset(t, 0, sizeof(*t));
	r = sw->api->query_order(sw->api->ctx, otn, t, &e);
	c = sw_classify(sw, r, "ORDER_NOT_EXIST", &e);
	if (c == CC_OK && t->out_trade_no && *t->out_trade_no &&
	    strcmp(t->out_trade_no, otn) != 0) {
		snprintf(why, n, "the query answer names another order '%s'", t->out_trade_no);
		return CC_FAIL;
	}
	if (c == CC_OK && t->mchid && *t->mchid && strcmp(t->mchid, sw->o->mchid) != 0) {
		snprintf(why, n, "the query answer names another merchant '%s'", t->mchid);
		return CC_FAIL;
	}
	if (c == CC_OK && (!t->trade_state || !*t->trade_state)) {
		snprintf(why, n, "the query answer has no trade_state");
		return CC_FAIL;
	}
	if (c != CC_OK)
		snprintf(why, n, "%s", e.msg);
	return c;
}

enum cc sw_query_refund(struct sw *sw, const char *orn, struct wxpay_refund *q, char *why, size_t n)
{
	struct wxr_err e = WXR_ERR_INIT;
	enum cc c;
	int r;

	memset(q, 0, sizeof(*q));
	r = sw->api->query_refund(sw->api->ctx, orn, q, &e);
	c = sw_classify(sw, r, "RESOURCE_NOT_EXISTS", &e);
	if (c == CC_OK && q->out_refund_no && *q->out_refund_no &&
	    strcmp(q->out_refund_no, orn) != 0) {
		snprintf(why, n, "the query answer names another refund '%s'", q->out_refund_no);
		return CC_FAIL;
	}
	if (c == CC_OK && (!q->status || !*q->status)) {
		snprintf(why, n, "the query answer has no status");
		return CC_FAIL;
	}
	if (c != CC_OK)
		snprintf(why, n, "%s", e.msg);
	return c;
}

/* A query failed: counted, audited, and the run goes on with the next one. */
int sw_query_failed(struct sw *sw, const char *target, int64_t action_id, const char *why,
                    struct wxr_err *err)
{
	json_t *d = json_object();

	sw->res->failed++;
	sw_item_add(sw, target, "failed", action_id, "query failed: %s", why);
	sw_jset(d, "why", why);
	if (action_id)
		sw_jint(d, "action_id", action_id);
	return sw_audit_ev(sw, "decision.fail", target, d, err);
}

/* A decision to do nothing, audited. */
int sw_skip(struct sw *sw, struct wxr_err *err, const char *target, const char *what,
            const char *fmt, ...)
{
	char why[WHY_LEN];
	va_list ap;
	json_t *d = json_object();
	int r;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	sw_item_add(sw, target, what, 0, "%s", why);
	sw_jset(d, "why", why);
	r = sw_audit_ev(sw, "decision.skip", target, d, err);
	return r;
}

void sw_init(struct sw *sw, struct db *db, const struct sweep_api *api, const struct sweep_opts *o,
             struct sweep_result *res, const char *actor)
{
	memset(res, 0, sizeof(*res));
	memset(sw, 0, sizeof(*sw));
	res->dry_run = o->dry_run;
	sw->db = db;
	sw->api = api;
	sw->o = o;
	sw->res = res;
	sw->actor = actor;
	sw->tz = o->cfg->tz_offset_s;
	time_format_rfc3339(o->now, sw->tz, sw->now);
	time_date(o->now, sw->tz, sw->date);
}

static json_t *counts_json(const struct sweep_result *res)
{
	return json_pack(
	        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	        "s:b, s:b}",
	        "eligible", (json_int_t)res->eligible, "candidates", (json_int_t)res->candidates,
	        "settled", (json_int_t)res->settled, "closed", (json_int_t)res->closed,
	        "closed_at_wechat", (json_int_t)res->closed_at_wechat, "marked_paid",
	        (json_int_t)res->marked_paid, "not_found", (json_int_t)res->not_found, "synced",
	        (json_int_t)res->synced, "abnormal_refunds", (json_int_t)res->abnormal_refunds,
	        "refunds", (json_int_t)res->refunds, "skipped", (json_int_t)res->skipped, "failed",
	        (json_int_t)res->failed, "attention", (json_int_t)res->attention, "new_held",
	        (json_int_t)res->new_held, "held", (json_int_t)res->held, "braked", res->braked,
	        "stopped", res->stopped);
}

int sw_finish(struct sw *sw, const char *what, const char *const *kinds, int r, struct wxr_err *err)
{
	json_t *d;
	int r2;

	if (r < 0)
		return r;
	r = actions_count(sw->db, sw->o->mchid, kinds, "pending_approval", &sw->res->held, err);
	if (r < 0)
		return r;
	d = counts_json(sw->res);
	sw_jset(d, "what", what);
	if (sw->res->braked)
		sw_jset(d, "brake", sw->res->brake);
	if (sw->res->stopped)
		sw_jset(d, "stop", sw->res->stop);
	r2 = sw_audit_ev(sw, "sweep.end", what, d, err);
	return r2;
}

int sw_settle_unfinished(struct sw *sw, const char *const *kinds, const char *target,
                         sw_settle_fn settle, struct wxr_err *err)
{
	static const char *const unfinished[] = { "intent", "sent", NULL };
	struct action_filter f;
	struct action *v = NULL;
	size_t n = 0;
	int r;

	memset(&f, 0, sizeof(f));
	f.mchid = sw->o->mchid;
	f.kinds = kinds;
	f.states = unfinished;
	r = actions_list(sw->db, &f, &v, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && !sw->res->stopped; i++) {
		struct action *a = &v[i];
		bool found = false, wait = false;

		r = sw_in_flight(sw, a, &wait, err);
		if (r < 0)
			break;
		if (wait)
			continue;
		r = settle(sw, a, &found, err);
		if (r < 0)
			break;
		if (found)
			continue;
		sw->res->attention++;
		sw_item_add(sw, a->target, "attention", a->id,
		            "%s action %" PRId64 " is %s but the ledger has no such %s", a->kind,
		            a->id, a->state, target);
		if (!sw->o->dry_run) {
			char why[64];

			snprintf(why, sizeof(why), "the ledger has no such %s", target);
			r = sw_move_tx(sw, a, "failed", NULL, why, "action.failed", NULL, err);
		}
		if (r < 0)
			break;
	}
	actions_free(v, n);
	return r;
}
