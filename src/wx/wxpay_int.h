/*
 * wxpay_int.h - internals shared by src/wxpay*.c (and the unit tests):
 * the handle, request signing, response verification and the request
 * engine with its retries.
 */
#ifndef WXR_WXPAY_INT_H
#define WXR_WXPAY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "wx/crypto.h"
#include "wx/http.h"
#include "wxpay.h"

#define WXPAY_AUTH_SCHEME     "WECHATPAY2-SHA256-RSA2048"
#define WXPAY_PROBE_PREFIX    "WECHATPAY/SIGNTEST/"
#define WXPAY_PUBKEY_PREFIX   "PUB_KEY_ID_"
#define WXPAY_CLOCK_SKEW_S    300
#define WXPAY_JSON_MAX        (4u * 1024 * 1024)
#define WXPAY_RETRIES_MAX     10
#define WXPAY_RETRY_CAP_MS    30000L
#define WXPAY_RETRY_AFTER_MAX 60L

struct wxpay_key {
	char serial[CRYPTO_SERIAL_MAX]; /* certificate serial, upper-case hex */
	int64_t not_before, not_after;
	struct crypto_key *key; /* owned */
};

struct wxpay {
	char *mchid, *appid, *serial_no; /* owned */
	struct crypto_key *priv;         /* merchant key */
	unsigned char apiv3_key[32];
	size_t apiv3_key_len;      /* 0: none */
	struct crypto_key *pubkey; /* WeChat Pay public key, or NULL */
	char *pubkey_id;           /* its id, or NULL */
	struct wxpay_key *certs;   /* platform certificates (owned) */
	size_t ncerts;
	char *origin;    /* "https://api.mch.weixin.qq.com" */
	char *base_path; /* "" or "/prefix" of base_url */
	int retries;
	long retry_base_ms;
	long download_timeout_s;
	void (*on_call)(void *ctx, const struct wxpay_call *call);
	void *on_call_ctx;
	int64_t (*clock)(void *ctx);
	void *clock_ctx;
	struct http *http;
	bool poisoned;
	struct wxpay_status last;
};

/* Extra verification keys a request's bootstrap step may supply (certificates). */
struct wxpay_keyset {
	struct wxpay_key *keys; /* owned by whoever filled it */
	size_t n;
};

/* One logical API call for wxpay_request(). */
struct wxpay_req {
	const char *method; /* "GET" or "POST" */
	const char *target; /* canonical URL (path?query), percent-encoded: sent and signed */
	const char *body;   /* NULL for none */
	size_t body_len;
	bool retry;                   /* idempotent: retry 5xx/429/transport errors */
	bool verify;                  /* verify 2xx responses */
	bool money;                   /* money-moving: refused once poisoned */
	bool hide_query;              /* the query holds a token: keep it out of logs and errors */
	const char *wechatpay_serial; /* Wechatpay-Serial to send; NULL -> wxpay_request_serial() */
	http_sink sink;               /* stream 2xx bodies here (bill download) */
	wxpay_sink_reset reset;
	void *sink_ctx;
	long timeout_s;     /* 0 -> the handle's */
	const char *origin; /* "https://host[:port]" to send to; NULL -> the handle's base_url's */
	/* Runs on a 2xx body before verification; may fill *extra with more keys. */
	int (*bootstrap)(struct wxpay *w, const struct http_response *resp,
	                 struct wxpay_keyset *extra, void *ctx, struct wxr_err *err);
	void *bootstrap_ctx;
	struct wxpay_keyset *extra;
};

/* The real clock (cfg->clock or time(NULL)). */
int64_t wxpay_now(const struct wxpay *w);

/* Appends "METHOD\nTARGET\nTS\nNONCE\nBODY\n" to out. */
void wxpay_sign_message(const char *method, const char *target, int64_t ts, const char *nonce,
                        const void *body, size_t len, struct buf *out);
/* *out_auth = the Authorization header value (new string). */
int wxpay_authorization(const struct wxpay *w, const char *method, const char *target, int64_t ts,
                        const char *nonce, const void *body, size_t len, char **out_auth,
                        struct wxr_err *err);

/*
 * Verifies "TS\nNONCE\nBODY\n" against the signature with the key that serial
 * names (configured public key, platform certificates, then extra). WXR_ESIG
 * with the reason (missing header, probe, stale, unknown serial, mismatch).
 */
int wxpay_verify(const struct wxpay *w, const char *what, const char *ts, const char *nonce,
                 const char *signature, const char *serial, const char *sig_type, const void *body,
                 size_t len, const struct wxpay_keyset *extra, struct wxr_err *err);

/* The Wechatpay-Serial for requests: public key id, else the newest platform cert, else NULL;
 *out_key (may be NULL) gets its key. */
const char *wxpay_request_serial(const struct wxpay *w, const struct crypto_key **out_key);

/*
 * Performs the call with signing, retries, verification, the hook and
 * w->last. Returns 0 with a verified 2xx response in resp (initialised by
 * the caller, released by the caller), or a negative WXR_E*.
 */
int wxpay_request(struct wxpay *w, const struct wxpay_req *rq, struct http_response *resp,
                  struct wxr_err *err);

/* Percent-encodes everything but [A-Za-z0-9-._~]; new string. */
char *wxpay_pct(const char *s);

void wxpay_keyset_release(struct wxpay_keyset *ks);

/* ---- JSON helpers (jansson; json_t is opaque here) ---- */
struct json_t;
/* New copy of obj[key] when it is a string, else "" (absent, null, other type). */
char *wxpay_jstr(const struct json_t *obj, const char *key);
/* obj[key] as an integer: absent/null -> 0; another type -> WXR_EDATA naming key. */
int wxpay_jint(const struct json_t *obj, const char *key, int64_t *out, struct wxr_err *err);
/* Parses a JSON object from text (WXR_EDATA when it is not one). */
int wxpay_jparse(const char *text, size_t len, struct json_t **out, struct wxr_err *err);

#endif
