/*
 * sweep_run.h - what the sweep's files share, private to src/core/sweep_*.c:
 * the run's state, the intent log's moves and the classified calls
 * (sweep_run.c). sweep.c holds the decisions and the result, sweep_orders.c
 * the order sweep, sweep_abnormal.c the abnormal refunds, sweep_refunds.c
 * the engine refunds and `sweep refunds` itself.
 */
#ifndef WXR_SWEEP_RUN_H
#define WXR_SWEEP_RUN_H

#include "core/sweep.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/err.h"
#include "db/db_actions.h"
#include "db/db_payflow.h"

#define WHY_LEN 768

struct sw {
	struct db *db;
	const struct sweep_api *api;
	const struct sweep_opts *o;
	struct sweep_result *res;
	const char *actor;
	int tz;
	char now[CLOCK_RFC3339_LEN];
	char date[CLOCK_DATE_LEN];
	size_t items_cap, actions_cap;
};

/* What a call's result means for the sweep. */
enum cc { CC_OK, CC_STOP, CC_NOTFOUND, CC_FAIL };

/* An abnormal refund this run would file. */
struct plan {
	struct sweep_refund *rf; /* borrowed */
	char *refund_id;
	int64_t amount;
	bool hold; /* above approval_above */
};

/* The kinds `sweep refunds` files itself (abnormal refunds). */
extern const char *const sw_refund_kinds[];

void sw_item_add(struct sw *sw, const char *target, const char *what, int64_t action_id,
                 const char *fmt, ...) WXR_PRINTF(5, 6);
void sw_checkpoint(struct sw *sw, const char *point);
void sw_jset(json_t *o, const char *key, const char *v);
void sw_jint(json_t *o, const char *key, int64_t v);
int sw_audit_ev(struct sw *sw, const char *event, const char *subject, json_t *detail,
                struct wxr_err *err);
int sw_begin(struct sw *sw, struct wxr_err *err);
int sw_end(struct sw *sw, int r, struct wxr_err *err);
int sw_move_note(struct sw *sw, struct action *a, const char *to, const char *result,
                 const char *error, const char *note, const char *event, json_t *extra,
                 struct wxr_err *err);
int sw_move(struct sw *sw, struct action *a, const char *to, const char *result, const char *error,
            const char *event, json_t *extra, struct wxr_err *err);
int sw_move_tx(struct sw *sw, struct action *a, const char *to, const char *result,
               const char *error, const char *event, json_t *extra, struct wxr_err *err);
int sw_open_action(struct sw *sw, const char *kind, const char *target, const char *state,
                   bool has_amount, int64_t amount, json_t *params, const char *note,
                   const char *const *rearm, const char *event, json_t *extra, struct action *out,
                   bool *out_written, struct wxr_err *err);
int sw_in_flight(struct sw *sw, struct action *a, bool *wait, struct wxr_err *err);
void sw_stop(struct sw *sw, int code, const char *why);
enum cc sw_classify(struct sw *sw, int r, const char *notfound_code, const struct wxr_err *e);
enum cc sw_query_order(struct sw *sw, const char *otn, struct wxpay_transaction *t, char *why,
                       size_t n);
enum cc sw_query_refund(struct sw *sw, const char *orn, struct wxpay_refund *q, char *why,
                        size_t n);
int sw_query_failed(struct sw *sw, const char *target, int64_t action_id, const char *why,
                    struct wxr_err *err);
int sw_skip(struct sw *sw, struct wxr_err *err, const char *target, const char *what,
            const char *fmt, ...) WXR_PRINTF(5, 6);
void sw_init(struct sw *sw, struct db *db, const struct sweep_api *api, const struct sweep_opts *o,
             struct sweep_result *res, const char *actor);
int sw_finish(struct sw *sw, const char *what, const char *const *kinds, int r,
              struct wxr_err *err);
/*
 * Settles each action of kinds left intent or sent by an earlier run (a crash,
 * a lost answer), or approved, unless another process has it in flight:
 * settle reads its target (a noun: "order", "refund") and settles it by
 * query; *out_found false when the ledger has no such target, and the action
 * fails (counted for attention). Stops with the run (sw_stop).
 */
typedef int (*sw_settle_fn)(struct sw *sw, struct action *a, bool *out_found, struct wxr_err *err);
int sw_settle_unfinished(struct sw *sw, const char *const *kinds, const char *target,
                         sw_settle_fn settle, struct wxr_err *err);
int sw_cancel_stale_holds(struct sw *sw, bool refunds, struct wxr_err *err);
int sw_order_follow_refunds(struct sw *sw, const char *out_trade_no, const char *why,
                            struct wxr_err *err);
int sw_refund_sync_tx(struct sw *sw, struct sweep_refund *rf, const char *status,
                      const char *refund_id, const char *success_time, const char *why,
                      struct wxr_err *err);
int sw_abnormal_send(struct sw *sw, struct sweep_refund *rf, struct action *a,
                     struct wxpay_abnormal_refund_req *req, struct wxr_err *err);
int sw_settle_refunds(struct sw *sw, struct wxr_err *err);
int sw_refund_candidate(struct sw *sw, struct sweep_refund *rf, struct plan **plan, size_t *nplan,
                        struct wxr_err *err);
int sw_file_abnormal(struct sw *sw, struct plan *p, struct wxr_err *err);

#endif
