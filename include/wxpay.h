/*
 * wxpay.h - WeChat Pay API v3 client (direct merchant, APP payments).
 *
 * Every request is signed (PROTOCOL.md section 1); every 2xx response except
 * a bill download is verified before it is believed (section 2). A response
 * that fails verification fails its call with WXR_ESIG, is never retried, and
 * poisons the handle: from then on every money-moving call (prepay, close,
 * refund, abnormal refund) fails at once with WXR_ESIG (SPEC section 7).
 * A WECHATPAY/SIGNTEST/ signature probe (PROTOCOL 2.5) is rejected the same
 * way but does not poison: an idempotent call is retried once, a
 * money-moving one fails with WXR_ESIG and wxpay_last()->probe set, so the
 * caller settles it by a query.
 *
 * Idempotent calls (queries, close, refund, abnormal refund, bill apply, bill
 * download, certificates) are retried on 5xx, 429 and transport errors with
 * exponential backoff and jitter (Retry-After honoured), re-signed each time,
 * with the same identifiers and body. Prepay is not retried. Other 4xx are
 * never retried.
 *
 * Conventions: functions return 0 (or a count) on success and a negative
 * WXR_E* code on failure with the reason in err. A non-2xx answer is
 * WXR_EAPI; wxpay_last() then tells the HTTP status and WeChat Pay's code.
 * Strings in result structs are owned by the struct (never NULL; "" when the
 * field was absent) and freed by its *_release() function; out structs are
 * written only on success. Secrets (private key, APIv3 key, bank account and
 * name) never appear in errors, in the call hook or anywhere else.
 *
 * A handle is not thread-safe; use one per thread.
 */
#ifndef WXPAY_H
#define WXPAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wxrecon.h"

#define WXPAY_DEFAULT_BASE_URL "https://api.mch.weixin.qq.com"
/* WeChat Pay's documented backup access point (PROTOCOL 0). */
#define WXPAY_BACKUP_BASE_URL "https://api2.mch.weixin.qq.com"

/* One attempt of one API call, as reported to the audit hook. Never holds secrets. */
struct wxpay_call {
	const char *method;     /* "GET" or "POST" */
	const char *path;       /* request target; for /v3/billdownload/file without its query */
	long http_status;       /* 0 when no response arrived */
	const char *request_id; /* Request-ID of the response; "" when absent */
	int attempt;            /* 1, 2, ... */
	int64_t elapsed_ms;     /* of this attempt */
	int result;             /* 0 or the WXR_E* of this attempt */
	const char *error;      /* NULL on success; else WeChat Pay's code (e.g. "ORDER_NOT_EXIST"),
	                           or "HTTP_<status>", "NETWORK", "TIMEOUT", "SIGNATURE",
	                           "TOO_BIG", "RECEIVER" (the download sink stopped),
	                           "ERROR" (anything else) */
	bool will_retry;        /* another attempt follows */
};

struct wxpay_config {
	/* Merchant identity (required): mchid and the merchant API certificate's serial (hex). */
	const char *mchid;
	const char *serial_no;
	/* Required for prepay and the APP invoke signature. */
	const char *appid;
	/* Merchant API private key, PKCS#8 PEM: a file (refused when group or others can read
	   it) or, when private_key_path is NULL, the PEM itself. */
	const char *private_key_path;
	const char *private_key_pem;
	size_t private_key_pem_len;
	/* APIv3 key as its ASCII bytes (32; 16 and 24 are accepted for test vectors). Needed
	   for certificates and notifications only. */
	const void *apiv3_key;
	size_t apiv3_key_len;
	/* WeChat Pay public-key mode: the SPKI PEM file and its id (PUB_KEY_ID_...), both or
	   neither. Platform certificates are added with wxpay_add_platform_cert(). */
	const char *wechatpay_public_key_path;
	const char *wechatpay_public_key_id;
	/* NULL -> WXPAY_DEFAULT_BASE_URL; plain http only to 127.0.0.1/localhost/[::1]. */
	const char *base_url;
	long timeout_s;          /* per attempt; 0 -> 15 */
	long download_timeout_s; /* per bill-download attempt; 0 -> 300 */
	int retries;             /* extra attempts of idempotent calls; 0 = none; max 10 */
	long retry_base_ms;      /* backoff base; 0 -> 500 */
	const char *ca_bundle;   /* CA file for a private CA; NULL -> system store */
	const char *user_agent;  /* NULL -> "wxrecon/<WXR_VERSION> (<os> <arch>) libcurl/<v>" */
	/* Audit hook: called after every attempt. */
	void (*on_call)(void *ctx, const struct wxpay_call *call);
	void *on_call_ctx;
	/* Real clock for signature timestamps and the 5-minute response check only;
	   NULL -> time(NULL). Never the business clock (WXRECON_NOW). */
	int64_t (*clock)(void *ctx);
	void *clock_ctx;
};

/* What the last API call's final attempt got back. */
struct wxpay_status {
	long http_status;     /* 0 when no response arrived */
	char code[64];        /* normalised: upper case, '_' removed ("ORDERNOTEXIST"); "" on 2xx */
	char code_raw[64];    /* as sent ("ORDER_NOT_EXIST") */
	char message[512];    /* WeChat Pay's message (control characters replaced) */
	char request_id[128]; /* Request-ID; "" when absent */
	bool probe;           /* the answer carried a signature probe (not believed) */
	bool unsure;          /* an earlier attempt of this call may have reached WeChat Pay
	                         and been acted on (transport error, 5xx, 429, probe) */
	bool unreachable;     /* the last attempt reached no server (DNS, proxy, connect): the
	                         error is WXPAY_UNREACHABLE ..., naming the origin and what to
	                         check; later calls would fail alike, so callers stop */
};

/* How the error of an unreachable WeChat Pay begins (the run looks for it). */
#define WXPAY_UNREACHABLE "cannot reach WeChat Pay at"

struct wxpay;

/* Loads the keys and checks the config; NULL on failure (WXR_ECONFIG, WXR_EIO, WXR_EDATA). */
struct wxpay *wxpay_new(const struct wxpay_config *cfg, struct wxr_err *err);
/* NULL-safe. */
void wxpay_free(struct wxpay *w);

/*
 * Adds a platform certificate (PEM) for platform-certificate mode. Several may
 * be loaded; responses pick theirs by Wechatpay-Serial; requests name the one
 * with the latest start of validity that has not expired.
 */
int wxpay_add_platform_cert(struct wxpay *w, const char *pem, size_t len, struct wxr_err *err);

/* True once a response failed verification on this handle. */
bool wxpay_poisoned(const struct wxpay *w);
/* Status of the last call made on w (borrowed; valid until the next call). */
const struct wxpay_status *wxpay_last(const struct wxpay *w);
/* Compares WeChat Pay codes ignoring case and '_' (ORDERNOTEXIST == ORDER_NOT_EXIST). NULL-safe. */
bool wxpay_code_is(const char *code, const char *want);

/* ---- orders ---- */

struct wxpay_transaction {
	char *appid, *mchid, *out_trade_no, *transaction_id, *trade_type;
	char *trade_state; /* SUCCESS, REFUND, NOTPAY, CLOSED, REVOKED, USERPAYING, PAYERROR */
	char *trade_state_desc, *bank_type, *attach;
	char *success_time; /* RFC 3339; "" until paid */
	char *payer_openid;
	int64_t amount_total;       /* fen */
	int64_t amount_payer_total; /* fen */
	char *currency, *payer_currency;
};
void wxpay_transaction_release(struct wxpay_transaction *t);
/* Parses a Transaction JSON (query answer or decrypted TRANSACTION.SUCCESS). */
int wxpay_transaction_parse(const char *json, size_t len, struct wxpay_transaction *out,
                            struct wxr_err *err);

/* GET /v3/pay/transactions/out-trade-no/{no}?mchid= ; 404 -> WXR_EAPI (ORDER_NOT_EXIST). */
int wxpay_query_order(struct wxpay *w, const char *out_trade_no, struct wxpay_transaction *out,
                      struct wxr_err *err);
/* GET /v3/pay/transactions/id/{transaction_id}?mchid= */
int wxpay_query_order_by_id(struct wxpay *w, const char *transaction_id,
                            struct wxpay_transaction *out, struct wxr_err *err);
/* POST /v3/pay/transactions/out-trade-no/{no}/close; 204 proves nothing: query afterwards. */
int wxpay_close_order(struct wxpay *w, const char *out_trade_no, struct wxr_err *err);

/* APP prepay: POST /v3/pay/transactions/app. Not retried. */
struct wxpay_prepay_req {
	const char *description;     /* required */
	const char *out_trade_no;    /* required */
	const char *notify_url;      /* required */
	int64_t amount_total;        /* fen, >= 1 */
	const char *currency;        /* NULL -> "CNY" */
	const char *time_expire;     /* optional RFC 3339 */
	const char *attach;          /* optional */
	const char *payer_client_ip; /* optional */
};
/* *out_prepay_id: new string, free(). */
int wxpay_prepay_app(struct wxpay *w, const struct wxpay_prepay_req *req, char **out_prepay_id,
                     struct wxr_err *err);

/* APP invoke parameters (PROTOCOL section 5): sign = SHA256withRSA over
   "appid\ntimestamp\nnoncestr\nprepayid\n" with the merchant key. */
struct wxpay_app_invoke {
	char *appid, *partnerid, *prepayid, *package, *noncestr, *timestamp, *sign;
};
void wxpay_app_invoke_release(struct wxpay_app_invoke *a);
/* Timestamp from the clock, nonce from the CSPRNG. */
int wxpay_app_invoke(struct wxpay *w, const char *prepay_id, struct wxpay_app_invoke *out,
                     struct wxr_err *err);
/* The same with a given timestamp and nonce (reproducible). */
int wxpay_app_invoke_at(struct wxpay *w, const char *prepay_id, int64_t timestamp,
                        const char *nonce, struct wxpay_app_invoke *out, struct wxr_err *err);

/* ---- refunds ---- */

struct wxpay_refund {
	char *refund_id, *out_refund_no, *transaction_id, *out_trade_no;
	char *status; /* SUCCESS, CLOSED, PROCESSING, ABNORMAL ("refund_status" too) */
	char *channel, *user_received_account, *funds_account;
	char *create_time, *success_time;
	int64_t amount_total, amount_refund, amount_payer_total, amount_payer_refund; /* fen */
	char *currency;
};
void wxpay_refund_release(struct wxpay_refund *r);
/* Parses a Refund JSON (API answer or decrypted REFUND.* notification). */
int wxpay_refund_parse(const char *json, size_t len, struct wxpay_refund *out, struct wxr_err *err);

struct wxpay_refund_req {
	const char *transaction_id; /* one of transaction_id and out_trade_no */
	const char *out_trade_no;
	const char *out_refund_no; /* required; the same on every retry */
	const char *reason;        /* optional */
	const char *notify_url;    /* optional */
	const char *funds_account; /* optional */
	int64_t amount_refund;     /* fen, >= 1 */
	int64_t amount_total;      /* fen, the original order's total */
	const char *currency;      /* NULL -> "CNY" */
};
/* POST /v3/refund/domestic/refunds; 200 means accepted (usually PROCESSING). */
int wxpay_refund_create(struct wxpay *w, const struct wxpay_refund_req *req,
                        struct wxpay_refund *out, struct wxr_err *err);
/* GET /v3/refund/domestic/refunds/{out_refund_no} */
int wxpay_refund_query(struct wxpay *w, const char *out_refund_no, struct wxpay_refund *out,
                       struct wxr_err *err);

struct wxpay_abnormal_refund_req {
	const char *refund_id;     /* required */
	const char *out_refund_no; /* required */
	const char *type;          /* "MERCHANT_BANK_CARD" or "USER_BANK_CARD" */
	const char *bank_type;     /* USER_BANK_CARD: e.g. "CMB_DEBIT" */
	char *bank_account;        /* USER_BANK_CARD: plain text; WIPED (zeroed) by the call */
	char *real_name;           /* USER_BANK_CARD: plain text; WIPED (zeroed) by the call */
};
/*
 * POST /v3/refund/domestic/refunds/{refund_id}/apply-abnormal-refund. The
 * account and name are RSA-OAEP-encrypted for the WeChat Pay public key (or
 * the newest platform certificate), whose id goes in Wechatpay-Serial.
 */
int wxpay_refund_abnormal(struct wxpay *w, struct wxpay_abnormal_refund_req *req,
                          struct wxpay_refund *out, struct wxr_err *err);

/* ---- bills ---- */

struct wxpay_bill {
	char *hash_type;  /* "SHA1" */
	char *hash_value; /* hex digest of the uncompressed bill */
	char *download_url;
};
void wxpay_bill_release(struct wxpay_bill *b);
/* GET /v3/bill/tradebill; bill_date YYYY-MM-DD; bill_type NULL -> "ALL"; gzip -> tar_type=GZIP.
   An empty day is WXR_EAPI with code NO_STATEMENT_EXIST. */
int wxpay_bill_trade(struct wxpay *w, const char *bill_date, const char *bill_type, bool gzip,
                     struct wxpay_bill *out, struct wxr_err *err);
/* GET /v3/bill/fundflowbill; account_type NULL -> "BASIC". */
int wxpay_bill_fundflow(struct wxpay *w, const char *bill_date, const char *account_type, bool gzip,
                        struct wxpay_bill *out, struct wxr_err *err);

/* Receives the downloaded bytes in order; a negative WXR_E* stops the download. */
typedef int (*wxpay_sink)(void *ctx, const void *p, size_t n);
/* Called before a retry when bytes were already delivered; NULL -> no retry after bytes. */
typedef int (*wxpay_sink_reset)(void *ctx);
/*
 * GETs download_url (signed; its origin must be the configured base_url's or
 * one of WeChat Pay's documented API hosts, WXPAY_DEFAULT_BASE_URL and
 * WXPAY_BACKUP_BASE_URL, which a download_url may name; else WXR_EDATA:
 * signed requests go nowhere else) and streams the raw bytes
 * (gzip when asked for) to sink, unverified: the caller checks the SHA-1.
 * *out_bytes (may be NULL) = bytes delivered by the final attempt.
 */
int wxpay_bill_download(struct wxpay *w, const char *download_url, wxpay_sink sink,
                        wxpay_sink_reset reset, void *ctx, int64_t *out_bytes, struct wxr_err *err);

/* ---- platform certificates ---- */

struct wxpay_platform_cert {
	char *serial_no;
	char *effective_time, *expire_time; /* RFC 3339 */
	char *pem;                          /* decrypted certificate */
	size_t pem_len;
};
struct wxpay_cert_list {
	struct wxpay_platform_cert *items;
	size_t n;
};
void wxpay_cert_list_release(struct wxpay_cert_list *l);
/*
 * GET /v3/certificates: decrypts each certificate with the APIv3 key, checks
 * its serial, then verifies the response with the known keys or, for a
 * serial not known yet (first download, rotation), with the certificate just
 * decrypted (its AES-GCM tag proves it came with our APIv3 key). The
 * certificates are not added to w: call wxpay_add_platform_cert() for those
 * you keep.
 */
int wxpay_certificates(struct wxpay *w, struct wxpay_cert_list *out, struct wxr_err *err);

/* ---- notifications ---- */

/* The notification's request headers (values borrowed; NULL when absent). */
struct wxpay_notify_headers {
	const char *timestamp;      /* Wechatpay-Timestamp */
	const char *nonce;          /* Wechatpay-Nonce */
	const char *signature;      /* Wechatpay-Signature */
	const char *serial;         /* Wechatpay-Serial */
	const char *signature_type; /* Wechatpay-Signature-Type (optional) */
};
struct wxpay_notification {
	char *id, *create_time, *event_type, *resource_type, *summary;
	char *original_type, *associated_data;
	char *plaintext; /* decrypted resource, NUL-terminated JSON */
	size_t plaintext_len;
};
void wxpay_notification_release(struct wxpay_notification *n);
/*
 * Verifies headers and raw body (5-minute window, key by Wechatpay-Serial)
 * and decrypts the resource with the APIv3 key. WXR_ESIG for a bad or probe
 * signature, a stale timestamp or a bad AES-GCM tag; WXR_EDATA for a
 * malformed body. Does not poison the handle (anyone can post to notify_url).
 */
int wxpay_notify_parse(struct wxpay *w, const struct wxpay_notify_headers *hdr, const void *body,
                       size_t len, struct wxpay_notification *out, struct wxr_err *err);

#endif
