/*
 * payflow.h - the payment flow on top of the WeChat Pay client: placing APP
 * orders (prepay), filing refunds, and applying WeChat Pay's payment and
 * refund notifications to the ledger (SPEC 2, 4, 7, 8; PROTOCOL 3, 4.1, 4.4).
 *
 * The ledger row is always written before WeChat Pay is called, so a run
 * killed at any point leaves a record that the same command (or a sweep)
 * completes without doing anything twice. Every state change and decision
 * is audited in the same transaction as the change. Nothing here prints.
 */
#ifndef WXR_PAYFLOW_H
#define WXR_PAYFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"
#include "core/config.h"
#include "core/payflow_ledger.h"
#include "db/db.h"
#include "wxpay.h"

#define PAYFLOW_PREPAY_TTL_S      (2 * 3600)    /* a prepay_id lives 2 h (PROTOCOL 4.1) */
#define PAYFLOW_PAYABLE_DEFAULT_S (7 * 86400)   /* no time_expire: payable 7 days */
#define PAYFLOW_EXPIRE_MIN_S      60            /* time_expire >= order time + 1 min */
#define PAYFLOW_EXPIRE_MAX_S      (90 * 86400)  /* time_expire <= order time + 90 days */
#define PAYFLOW_REFUNDS_MAX       50            /* refunds per order (PROTOCOL 4.4) */
#define PAYFLOW_REFUND_WINDOW_S   (365 * 86400) /* refunds within a year of payment */
#define PAYFLOW_REFUND_GAP_S      60            /* refunds of one order >= 1 min apart */
#define PAYFLOW_NOTIFY_BODY_MAX   (64 * 1024)   /* notification bodies above this: 413 */
#define PAYFLOW_DESCRIPTION_MAX   127           /* bytes of UTF-8 */
#define PAYFLOW_ATTACH_MAX        128
#define PAYFLOW_REASON_MAX        80
#define PAYFLOW_URL_MAX           255

/* ---- checks (no I/O) ---- */

/* 6-32 characters of [0-9A-Za-z_-|*] (PROTOCOL 4.1). */
bool payflow_is_out_trade_no(const char *s);
/* 1-64 characters of [0-9A-Za-z_-|*@] (PROTOCOL 4.4). */
bool payflow_is_out_refund_no(const char *s);
/* A whole positive number of fen (1 to 9999999999999); WXR_EUSAGE naming what. */
int payflow_parse_fen(const char *what, const char *s, int64_t *out, struct wxr_err *err);
/* Text WeChat Pay accepts: valid UTF-8 of 1-3-byte characters, no control
 * characters, at most max_bytes bytes; required: not empty. WXR_EUSAGE. */
int payflow_check_text(const char *what, const char *s, size_t max_bytes, bool required,
                       struct wxr_err *err);
/* An absolute http(s) URL without query or fragment, at most 255 bytes. WXR_EUSAGE. */
int payflow_check_notify_url(const char *url, struct wxr_err *err);
/*
 * Parses a time_expire (RFC 3339) and writes it as WeChat Pay gets it: the
 * same instant at the business timezone, whole seconds. Format only; the
 * window is payflow_check_expire_window()'s job.
 */
int payflow_time_expire(const char *text, int tz_offset_s, char out[CLOCK_RFC3339_LEN],
                        int64_t *out_ts, struct wxr_err *err);
/*
 * time_expire must be at least 1 minute and at most 90 days after the order
 * time. WeChat Pay would silently clamp it; wxrecon refuses instead, so that
 * the ledger's time_expire is the one WeChat Pay applies. WXR_EUSAGE.
 */
int payflow_check_expire_window(int64_t expire_ts, int64_t order_ts, int tz_offset_s,
                                struct wxr_err *err);

/* The facts the local refund rules of PROTOCOL 4.4 look at. */
struct payflow_refund_facts {
	const char *out_trade_no;
	const char *order_state; /* ledger state */
	int64_t order_total;     /* fen */
	int64_t paid_ts;         /* 0 when unknown */
	long refunds;            /* refunds of the order so far (any state) */
	int64_t refunded_fen;    /* of those, the sum not CLOSED */
	int64_t last_refund_ts;  /* created_ts of the latest, 0 when none */
	int64_t amount;          /* the new refund, fen */
	int64_t now;
	int tz_offset_s; /* for the times in messages */
};
/* 0, or WXR_EDATA saying which rule the refund would break. */
int payflow_refund_check(const struct payflow_refund_facts *f, struct wxr_err *err);

/* ---- order create ---- */

struct payflow_order_args {
	const char *out_trade_no;
	const char *description;
	int64_t amount_total;    /* fen */
	const char *time_expire; /* RFC 3339, or NULL */
	const char *attach;      /* or NULL */
	const char *notify_url;
};
struct payflow_order_result {
	char *prepay_id;                    /* new string */
	char expires_at[CLOCK_RFC3339_LEN]; /* min(now + 2 h, the order's payable-until) */
	bool is_new;                        /* the ledger order was written by this call */
};
void payflow_order_result_release(struct payflow_order_result *r);
/*
 * Places an APP order: writes the ledger order (NOTPAY, created_at = now) and
 * its parameters, then asks WeChat Pay for a prepay_id. The same out_trade_no
 * with identical parameters, while the order is NOTPAY and payable, gets a
 * fresh prepay_id without a second ledger row; other parameters are refused
 * (WXR_EUSAGE), as is an out_trade_no that the ledger has from elsewhere.
 */
int payflow_order_create(const struct payflow_env *env, const struct payflow_order_args *a,
                         struct payflow_order_result *out, struct wxr_err *err);

/* ---- refund create ---- */

struct payflow_refund_args {
	const char *out_trade_no;
	const char *out_refund_no;
	int64_t amount;         /* fen */
	const char *reason;     /* or NULL */
	const char *notify_url; /* or NULL (WeChat Pay's platform setting) */
};
struct payflow_refund_result {
	char *out_trade_no, *out_refund_no, *refund_id, *status, *created_at; /* new strings */
	int64_t amount;
	bool is_new; /* the ledger refund was written by this call */
	bool sent;   /* WeChat Pay was asked by this call */
};
void payflow_refund_result_release(struct payflow_refund_result *r);
/*
 * Files a refund: checks the local rules, writes the ledger refund
 * (PROCESSING) before the call, asks WeChat Pay (the client retries 5xx with
 * the same out_refund_no and body), records refund_id and status. Repeating
 * it with the same out_refund_no, order and amount files nothing new: a
 * refund WeChat Pay already accepted is reported as the ledger has it, one
 * whose answer was lost is asked again with the same body. A refund WeChat
 * Pay refuses outright (4xx other than 429) is removed from the ledger again.
 */
int payflow_refund_create(const struct payflow_env *env, const struct payflow_refund_args *a,
                          struct payflow_refund_result *out, struct wxr_err *err);

/* ---- notifications ---- */

struct payflow_notify_answer {
	int http_status;     /* 204 received (incl. repeats), 400 malformed, 401 not verified,
	                        500 could not be recorded (WeChat Pay retries) */
	const char *outcome; /* applied, unchanged, held, unknown, ignored, duplicate,
	                        rejected, error (static) */
	char id[64];         /* notification id ("" when not verified) */
	char event_type[48];
	char subject[72]; /* out_trade_no or out_refund_no */
	char detail[512]; /* why (held, unknown, rejected, error) */
};
/*
 * Rejected notifications (not verified, malformed, too large) counted over
 * an interval, for one audit entry instead of one each (issue 20 item 6):
 * whoever can reach the receiver must not fill the disk through the audit
 * log. Text from the sender (its headers, the error naming them) is kept to
 * PAYFLOW_CLIP_LEN bytes of valid UTF-8.
 */
#define PAYFLOW_CLIP_LEN       128
#define PAYFLOW_REJECT_SOURCES 5
enum payflow_reject_reason {
	PAYFLOW_REJECT_UNVERIFIED, /* 401: signature, serial, timestamp, tag */
	PAYFLOW_REJECT_MALFORMED,  /* 400 */
	PAYFLOW_REJECT_TOO_LARGE,  /* 413 */
	PAYFLOW_REJECT_NREASONS
};
struct payflow_rejects {
	int64_t count;
	int64_t first_ts, last_ts; /* real time of the first and the last counted */
	int64_t by_reason[PAYFLOW_REJECT_NREASONS];
	struct {
		char addr[48];
		int64_t n;
	} sources[PAYFLOW_REJECT_SOURCES]; /* the first addresses seen, with their counts */
	int nsources;
	int64_t other_sources; /* rejections from addresses past those */
	/* the first rejection's error and headers, clipped */
	char error[2 * PAYFLOW_CLIP_LEN + 32];
	char serial[PAYFLOW_CLIP_LEN + 32];
	char timestamp[PAYFLOW_CLIP_LEN + 32];
	int64_t bytes;
};
/* Counts one rejection at real time now_ts; hdr may be NULL. */
void payflow_rejects_add(struct payflow_rejects *rj, enum payflow_reject_reason reason,
                         const char *source, const struct wxpay_notify_headers *hdr, size_t len,
                         const char *why, int64_t now_ts);
/* Whether rj holds rejections counted interval_s or more ago. */
bool payflow_rejects_due(const struct payflow_rejects *rj, int64_t now_ts, int64_t interval_s);
/*
 * Writes what rj counted as one notify.rejected audit entry ({from, to,
 * count, reasons, sources, other_sources, sample}) and empties it; nothing
 * when it is empty. When the entry cannot be written rj keeps its counts,
 * so the next flush writes them all.
 */
int payflow_rejects_flush(const struct payflow_env *env, struct payflow_rejects *rj,
                          struct wxr_err *err);

/*
 * Handles one notification: verifies and decrypts it with env->wx (5-minute
 * window, probes and tampering rejected), dedupes it by id, applies
 * TRANSACTION.SUCCESS (order -> PAID) and REFUND.SUCCESS/ABNORMAL/CLOSED
 * (refund state; the order becomes PARTIAL_REFUNDED/REFUNDED on success),
 * records it in `notifications` and audits it, all in one transaction.
 * env->now must be the business now of this request.
 */
void payflow_notify_handle(const struct payflow_env *env, const struct wxpay_notify_headers *hdr,
                           const void *body, size_t len, struct payflow_notify_answer *out);

#endif
