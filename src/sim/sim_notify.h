/*
 * sim_notify.h - the simulator's callback notifications (PROTOCOL section 3):
 * TRANSACTION.SUCCESS when an order is paid, REFUND.SUCCESS/ABNORMAL/CLOSED
 * when a refund reaches that status, POSTed to the order's notify_url (a
 * refund's own notify_url when its request named one) with the resource
 * AES-256-GCM-encrypted under the APIv3 key and the body signed like the
 * simulator's responses. Only loopback URLs are called (anything else is
 * logged as skipped). A sender thread delivers them in order, retrying
 * failures a few times quickly (POST /_sim/notify/config).
 *
 * Admin endpoints (JSON):
 *   GET    /_sim/notify           {"config", "faults", "notifications": [...]}
 *   DELETE /_sim/notify           clears the log and the queued faults
 *   POST   /_sim/notify           send one by hand: {"out_trade_no": NO} (a paid order)
 *                                 or {"out_refund_no": NO} (SUCCESS/ABNORMAL/CLOSED refund);
 *                                 optional "url", "id" (reuse an id: a repeat), "fault",
 *                                 "sync": true (send once now; the answer carries the
 *                                 receiver's HTTP status)
 *   POST   /_sim/notify/config    {"retries": 0-20, "retry_ms": 0-60000,
 *                                  "timeout_ms": 100-60000, "enabled": bool}
 *   POST   /_sim/notify/faults    {"kind": K[, "count": N]}: the next N automatic
 *                                 notifications carry fault K
 * Fault kinds: tampered (body changed after signing), stale (signed with a
 * timestamp 10 minutes old), probe (a WECHATPAY/SIGNTEST/ signature),
 * bad_tag (ciphertext altered before signing: the signature is good, the
 * AES-GCM tag is not).
 */
#ifndef WXSIM_SIM_NOTIFY_H
#define WXSIM_SIM_NOTIFY_H

#include <jansson.h>
#include <stddef.h>

#include "sim/sim.h"

/* Hooks; called with s->lock held. */
void sim_notify_paid(struct sim *s, const struct sim_order *o);
void sim_notify_refund(struct sim *s, const struct sim_refund *r);
/* Remembers the notify_url a refund request named. */
void sim_notify_refund_url(struct sim *s, const char *out_refund_no, const char *url);
/* /_sim/notify[/...]; seg are the path segments after "notify". */
void sim_notify_admin(struct sim *s, const char *method, char **seg, size_t n, json_t *body,
                      struct sim_resp *rs);
/* Stops the sender thread and frees everything (from sim_release). */
void sim_notify_release(struct sim *s);

#endif
