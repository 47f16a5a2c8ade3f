/*
 * payflow_ledger.h - what order create, refund create and the notifications
 * (payflow.h; payflow.c, payflow_refund.c, payflow_notify.c) share below them,
 * and the sweep with them: the call's environment, its audit entries (actor
 * "payflow"), and a paid order that follows its refunds.
 */
#ifndef WXR_PAYFLOW_LEDGER_H
#define WXR_PAYFLOW_LEDGER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "db/db.h"
#include "wxpay.h"
#include "wxrecon.h"

struct payflow_rejects;

/* What every payflow call works with (all borrowed). */
struct payflow_env {
	struct db *db;
	struct wxpay *wx; /* NULL for notifications (only the verifier is used then) */
	const char *mchid;
	int tz_offset_s; /* business timezone, for the ledger's dates */
	int64_t now;     /* business now (WXRECON_NOW or the clock) */
	int64_t run_id;  /* audit run id, 0 = none */
	enum paid_after_close paid_after_close;
	const char *peer;                /* notifications: the sender's address, or NULL */
	struct payflow_rejects *rejects; /* notifications: rejections are counted here
	                                    (payflow_rejects_flush audits them) instead
	                                    of one audit entry each; NULL: one each */
};

/* ---- an order follows its refunds ---- */

/* PAID, PARTIAL_REFUNDED or REFUNDED: an order its refunds move. */
bool payflow_order_is_paid(const char *state);

/* What payflow_order_follow_refunds did. */
struct payflow_follow {
	bool changed;         /* the order's state was set */
	char from[24];        /* its state before ("" when not paid or not there) */
	const char *to;       /* after (static; NULL when not paid or not there) */
	int64_t refunded_fen; /* the sum of its successful refunds */
	int64_t amount_total; /* the order's amount, fen */
};

/*
 * A paid ledger order follows its successful refunds: PAID, PARTIAL_REFUNDED
 * or REFUNDED by their sum (refund create, the refund notifications, the
 * sweep); an order in another state, or none, is left alone. Not audited:
 * the caller records out its way. Inside the caller's transaction.
 */
int payflow_order_follow_refunds(struct db *db, const char *mchid, const char *out_trade_no,
                                 struct payflow_follow *out, struct wxr_err *err);

/* The audit entries' actor. */
#define PAYFLOW_ACTOR "payflow"

/* Appends an audit entry whose detail is j (stolen). */
int payflow_audit_json(const struct payflow_env *env, const char *event, const char *subject,
                       json_t *j, struct wxr_err *err);
/* An audited state change from -> to, from source (and notification nid, may be NULL). */
int payflow_audit_state(const struct payflow_env *env, const char *event, const char *subject,
                        const char *from, const char *to, const char *source, const char *nid,
                        struct wxr_err *err);
/* s, or "" for NULL. */
const char *payflow_nz(const char *s);
/* s as a JSON string, null when NULL or "". */
json_t *payflow_jstr_or_null(const char *s);

/* After a refund succeeded: the order follows its refunds
 * (payflow_order_follow_refunds), audited as order.state from source. */
int payflow_order_sync_refunds(const struct payflow_env *env, const char *out_trade_no,
                               const char *source, const char *nid, struct wxr_err *err);

#endif
