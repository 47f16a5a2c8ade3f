/*
 * payflow_ledger.c - the audit entries of the payment flow and an order that
 * follows its refunds (payflow_ledger.h).
 */
#include "core/payflow_ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "db/audit.h"
#include "db/db_payflow.h"

/* ---- audit ---- */

/* Appends an audit entry whose detail is j (stolen). */
int payflow_audit_json(const struct payflow_env *env, const char *event, const char *subject,
                       json_t *j, struct wxr_err *err)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int r;

	json_decref(j);
	if (!text)
		return err_set(err, WXR_EFAIL, "cannot build an audit entry for '%s'", event);
	r = audit_append(env->db, env->run_id, PAYFLOW_ACTOR, event, subject, text, err);
	free(text);
	return r;
}

json_t *payflow_jstr_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

int payflow_audit_state(const struct payflow_env *env, const char *event, const char *subject,
                        const char *from, const char *to, const char *source, const char *nid,
                        struct wxr_err *err)
{
	json_t *j = json_object();

	json_object_set_new(j, "from", json_string(from));
	json_object_set_new(j, "to", json_string(to));
	json_object_set_new(j, "source", json_string(source));
	if (nid)
		json_object_set_new(j, "notification", json_string(nid));
	return payflow_audit_json(env, event, subject, j, err);
}

const char *payflow_nz(const char *s)
{
	return s ? s : "";
}

/* ---- an order follows its refunds ---- */

bool payflow_order_is_paid(const char *state)
{
	return strcmp(state, "PAID") == 0 || strcmp(state, "PARTIAL_REFUNDED") == 0 ||
	       strcmp(state, "REFUNDED") == 0;
}

int payflow_order_follow_refunds(struct db *db, const char *mchid, const char *out_trade_no,
                                 struct payflow_follow *out, struct wxr_err *err)
{
	struct payflow_db_order o;
	struct payflow_db_refund_stats rs;
	bool found = false;
	int r;

	memset(out, 0, sizeof(*out));
	memset(&o, 0, sizeof(o));
	r = payflow_db_order_get(db, mchid, out_trade_no, &o, &found, err);
	if (r < 0 || !found || !payflow_order_is_paid(o.state))
		goto out;
	r = payflow_db_refund_stats(db, mchid, out_trade_no, &rs, err);
	if (r < 0)
		goto out;
	snprintf(out->from, sizeof(out->from), "%s", o.state);
	out->to = rs.success_fen <= 0                ? "PAID"
	          : rs.success_fen >= o.amount_total ? "REFUNDED"
	                                             : "PARTIAL_REFUNDED";
	out->refunded_fen = rs.success_fen;
	out->amount_total = o.amount_total;
	if (strcmp(out->to, o.state) == 0)
		goto out;
	r = payflow_db_order_set_state(db, mchid, out_trade_no, out->to, err);
	out->changed = r == 0;
out:
	payflow_db_order_release(&o);
	return r;
}

/* After a refund succeeded: the order follows its refunds, audited as
 * order.state from source (and notification nid). */
int payflow_order_sync_refunds(const struct payflow_env *env, const char *out_trade_no,
                               const char *source, const char *nid, struct wxr_err *err)
{
	struct payflow_follow f;
	int r = payflow_order_follow_refunds(env->db, env->mchid, out_trade_no, &f, err);

	if (r == 0 && f.changed)
		r = payflow_audit_state(env, "order.state", out_trade_no, f.from, f.to, source, nid,
		                        err);
	return r;
}
