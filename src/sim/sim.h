/*
 * sim.h - internals of wxrecon-sim, the local WeChat Pay API v3 server.
 *
 * Modules:
 *   sim_util.c     time (UTC / Asia/Shanghai), RFC 3339, base64, random, checks
 *   sim_crypto.c   keys, SHA256withRSA sign/verify, AES-256-GCM, RSA-OAEP (OpenSSL EVP)
 *   sim_auth.c     the Authorization header and request verification
 *   sim_state.c    orders, refunds, the sim clock, JSON (de)serialisation, --state
 *   sim_resp.c     endpoint names, query arguments, JSON and error responses
 *   sim_record.c   the fault queue, the journal, saving --state
 *   sim_api.c      the /v3 endpoints as functions of (request) -> (response)
 *   sim_billsrv.c  bill apply/download: bills from state or --bills DIR, tokens
 *   sim_admin.c    the /_sim admin endpoints
 *   sim_http.c     libmicrohttpd glue, request checks, response signing
 *
 * Calls go one way: http -> api, admin, auth -> billsrv, notify -> record, resp
 * -> state -> crypto, util.
 *   sim_main.c     command line
 *
 * This verification code is written independently of src/crypto.c on purpose:
 * a bug in the client's signer should be caught by the simulator, not shared.
 */
#ifndef WXSIM_SIM_H
#define WXSIM_SIM_H

#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "wxrecon.h"

/* ---- codes for statuses PROTOCOL.md marks unconfirmed: one constant each ---- */
#define SIM_CODE_ORDER_PAID           "ORDER_PAID" /* 400: close/prepay of a paid order */
#define SIM_STATUS_ORDER_PAID         400
#define SIM_CODE_STATEMENT_CREATING   "STATEMENT_CREATING" /* 400: bill not released yet */
#define SIM_STATUS_STATEMENT_CREATING 400
#define SIM_CODE_BILL_TOO_OLD         "PARAM_ERROR"     /* 400: bill_date older than 3 months */
#define SIM_CODE_BILL_FUTURE          "PARAM_ERROR"     /* 400: bill_date after today */
#define SIM_CODE_NO_UA_ACCEPT         "INVALID_REQUEST" /* 400: missing User-Agent or Accept */
#define SIM_CODE_AUTH_MALFORMED       "SIGN_ERROR"      /* 401: bad/missing Authorization */
#define SIM_STATUS_AUTH_MALFORMED     401
#define SIM_CODE_MCHID_MISMATCH       "INVALID_REQUEST" /* 400: body/query mchid != header */
#define SIM_CODE_REFUND_TOO_MUCH      "INVALID_REQUEST" /* 400: refunds would exceed total */
#define SIM_CODE_REFUND_TOO_LATE      "INVALID_REQUEST" /* 400: more than a year after pay */
#define SIM_CODE_REFUND_TOO_MANY      "INVALID_REQUEST" /* 400: more than 50 refunds */
#define SIM_CODE_TOKEN_EXPIRED        "INVALID_REQUEST" /* 400: download link expired */
#define SIM_CODE_BAD_CONTENT_TYPE     "INVALID_REQUEST" /* 400: body not application/json */
#define SIM_CODE_NOT_FOUND            "NOT_FOUND"       /* 404: no such endpoint */
#define SIM_CODE_NO_SERIAL            "PARAM_ERROR" /* 400: abnormal refund, no Wechatpay-Serial */

#define SIM_AUTH_WINDOW_S  300                 /* |now - timestamp| allowed, real clock */
#define SIM_TOKEN_TTL_S    300                 /* download links live 5 minutes, real clock */
#define SIM_BODY_MAX       (64 * 1024)         /* request bodies above this: 400 PARAM_ERROR */
#define SIM_ADMIN_BODY_MAX (256 * 1024 * 1024) /* /_sim bodies (seeding in bulk) */
#define SIM_SIGN_TRUNCATE  300                 /* bytes of the sign message echoed in SIGN_ERROR */
#define SIM_FEE_RATE_BP    60                  /* 0.60 % in basis points */
#define SIM_FEE_RATE_TEXT  "0.60%"
#define SIM_MAX_REFUNDS    50
#define SIM_JOURNAL_MAX    100000

/* ---- util ---- */
int64_t sim_days_from_civil(int y, int m, int d);
void sim_civil_from_days(int64_t z, int *y, int *m, int *d);
/* Real clock, Unix seconds. */
int64_t sim_real_now(void);
/* "2025-03-01T09:15:02+08:00" (Beijing time); out must hold 32 bytes. */
void sim_fmt_rfc3339(int64_t ts, char *out, size_t n);
/* "2025-03-01" of ts in Asia/Shanghai. */
void sim_fmt_date_sh(int64_t ts, char *out, size_t n);
/* "20250301" of ts in Asia/Shanghai. */
void sim_fmt_ymd_sh(int64_t ts, char *out, size_t n);
/* Parses RFC 3339 with a Z or +hh:mm offset; allow_frac accepts ".123". 0 or -1. */
int sim_parse_rfc3339(const char *s, bool allow_frac, int64_t *out_ts);
/* Parses "YYYY-MM-DD" (strict) into days since the epoch. 0 or -1. */
int sim_parse_date(const char *s, int64_t *out_days);
/* Day number (Asia/Shanghai) of ts. */
int64_t sim_day_sh(int64_t ts);
/* Unix seconds of 00:00 Asia/Shanghai on day. */
int64_t sim_day_start_sh(int64_t day);

/* Standard base64 with padding, no newlines. Returns a new string. */
char *sim_b64_encode(const unsigned char *p, size_t n);
/* Strict decoder: length multiple of 4, only the alphabet, padding at the end. -1 on error. */
int sim_b64_decode(const char *s, size_t len, unsigned char **out, size_t *out_len);
/* n random characters of [0-9A-Za-z] into out (n+1 bytes). */
void sim_rand_alnum(char *out, size_t n);
void sim_rand_hex(char *out, size_t n);
/* 1: s has 1..max chars all in the set (ASCII). */
bool sim_str_charset(const char *s, size_t min, size_t max, const char *extra);
/* Percent-decodes s[0..n) into a new string; NULL on a bad escape or a NUL. */
char *sim_pct_decode(const char *s, size_t n);
/* Writes a file atomically (temp + rename). 0 or -1 (errno set). */
int sim_write_file_atomic(const char *path, const void *p, size_t n);
/* Reads a small file into a new NUL-terminated buffer; NULL on error. */
char *sim_read_file(const char *path, size_t max, size_t *out_len);
/* Copies s without surrounding whitespace into a new string. */
char *sim_strip(const char *s);

/* A string -> index hash (keys borrowed from the records, no deletion). */
struct sim_index {
	const char **keys;
	size_t *vals;
	size_t cap;
	size_t n;
};
void sim_index_put(struct sim_index *ix, const char *key, size_t val);
/* Returns 1 and *out_val when found. */
int sim_index_get(const struct sim_index *ix, const char *key, size_t *out_val);
void sim_index_release(struct sim_index *ix);

/* ---- crypto ---- */
struct sim_keys {
	EVP_PKEY *merchant_pub; /* from apiclient_cert.pem: verifies requests */
	char merchant_serial[64];
	EVP_PKEY *wechat_key; /* wechatpay_key.pem: signs responses, decrypts OAEP */
	char pub_key_id[80];
	char cert_serial[64];
	char *cert_pem; /* wechatpay_cert.pem text, for /v3/certificates */
	int64_t cert_not_before;
	int64_t cert_not_after;
	unsigned char apiv3[32];
};
int sim_keys_load(struct sim_keys *k, const char *dir, struct wxr_err *err);
void sim_keys_release(struct sim_keys *k);
/* SHA256withRSA over p[0..n), base64; returns a new string or NULL. */
char *sim_sign(EVP_PKEY *key, const void *p, size_t n);
/* 1 good, 0 bad signature (raw bytes). */
int sim_verify(EVP_PKEY *key, const void *msg, size_t n, const unsigned char *sig, size_t sig_len);
/* AES-256-GCM: returns base64(ciphertext||tag) as a new string. */
char *sim_aes_gcm_encrypt(const unsigned char key[32], const char *nonce12, const char *aad,
                          const void *pt, size_t n);
/* RSA-OAEP(SHA-1, MGF1-SHA1) decrypt of base64 text; plaintext is a new NUL-terminated
 * buffer that the caller must cleanse and free. -1 on any failure. */
int sim_oaep_decrypt(EVP_PKEY *key, const char *b64, char **out, size_t *out_len);
/* SHA-1 hex of a buffer; out holds 41 bytes. */
void sim_sha1_hex(const void *p, size_t n, char *out);

/* ---- auth ---- */
struct sim_auth {
	char *mchid;
	char *nonce_str;
	char *timestamp;
	char *serial_no;
	char *signature;
};
/* Parses the header strictly; 0, or -1 with a reason in err. */
int sim_auth_parse(const char *hdr, struct sim_auth *out, struct wxr_err *err);
void sim_auth_release(struct sim_auth *a);
struct sim;
struct sim_resp;
/* Verifies a request's Authorization and signature with the real clock. 0 and the
 * header's mchid (new string) in *out_mchid, or -1 with the error answer in rs. */
int sim_auth_verify(struct sim *s, const char *method, const char *target, const char *body,
                    size_t body_len, const char *hdr, struct sim_resp *rs, char **out_mchid);

/* ---- state ---- */
enum sim_trade_state {
	SIM_TS_NOTPAY,
	SIM_TS_USERPAYING,
	SIM_TS_SUCCESS,
	SIM_TS_CLOSED,
	SIM_TS_REFUND,
	SIM_TS_PAYERROR,
	SIM_TS_REVOKED
};
enum sim_refund_status { SIM_RS_PROCESSING, SIM_RS_SUCCESS, SIM_RS_ABNORMAL, SIM_RS_CLOSED };

const char *sim_trade_state_name(enum sim_trade_state s);
int sim_trade_state_parse(const char *s, enum sim_trade_state *out);
const char *sim_refund_status_name(enum sim_refund_status s);
int sim_refund_status_parse(const char *s, enum sim_refund_status *out);

struct sim_order {
	char *out_trade_no;
	char *transaction_id; /* NULL until paid */
	char *appid;
	char *description;
	char *attach;        /* may be NULL */
	char *notify_url;    /* may be NULL */
	char *openid;        /* may be NULL until paid */
	char *bank_type;     /* may be NULL until paid */
	char *prepay_id;     /* last one handed out; may be NULL */
	char *prepay_params; /* canonical JSON of the prepay body; NULL for seeded orders */
	enum sim_trade_state state;
	int64_t total_fen;
	int64_t create_ts;
	int64_t time_expire_ts;
	int64_t success_ts; /* 0 until paid */
	int64_t fee_fen;    /* fee of the payment (0.60 % half-up), set when paid */
};

struct sim_refund {
	char *out_refund_no;
	char *refund_id;
	char *out_trade_no;
	char *transaction_id;
	char *channel;
	char *user_received_account;
	char *reason; /* may be NULL */
	char *funds_account;
	enum sim_refund_status status;
	int64_t refund_fen;
	int64_t total_fen;
	int64_t fee_fen; /* fee returned with this refund */
	int64_t create_ts;
	int64_t success_ts; /* 0 unless SUCCESS */
};

enum sim_clock_mode { SIM_CLOCK_REAL, SIM_CLOCK_FIXED, SIM_CLOCK_OFFSET };

struct sim_state {
	struct sim_order **orders;
	size_t norders, orders_cap;
	struct sim_refund **refunds;
	size_t nrefunds, refunds_cap;
	struct sim_index ix_otn, ix_tid, ix_orn, ix_rid;
	enum sim_clock_mode clock_mode;
	int64_t clock_value; /* FIXED: the time; OFFSET: seconds added to the real clock */
	uint64_t seq;        /* for transaction/refund ids */
};

void sim_state_init(struct sim_state *st);
void sim_state_release(struct sim_state *st);
/* Business "now": the sim clock. */
int64_t sim_state_now(const struct sim_state *st);
struct sim_order *sim_state_order(const struct sim_state *st, const char *out_trade_no);
struct sim_order *sim_state_order_by_tid(const struct sim_state *st, const char *tid);
struct sim_refund *sim_state_refund(const struct sim_state *st, const char *out_refund_no);
struct sim_refund *sim_state_refund_by_id(const struct sim_state *st, const char *refund_id);
/* Takes ownership. */
void sim_state_add_order(struct sim_state *st, struct sim_order *o);
void sim_state_add_refund(struct sim_state *st, struct sim_refund *r);
/* Call after setting o->transaction_id / r->refund_id on an existing record. */
void sim_state_index_tid(struct sim_state *st, const struct sim_order *o);
void sim_order_free(struct sim_order *o);
void sim_refund_free(struct sim_refund *r);
/* New ids: 28-digit transaction id, 29-digit refund id. */
char *sim_state_new_tid(struct sim_state *st, int64_t ts);
char *sim_state_new_refund_id(struct sim_state *st, int64_t ts);
/* Marks o paid at ts (fee computed). tid/openid/bank may be NULL (generated/defaults). */
void sim_state_pay(struct sim_state *st, struct sim_order *o, int64_t ts, const char *tid,
                   const char *openid, const char *bank_type);
/* Fee of a payment: 0.60 % half-up to the fen. */
int64_t sim_fee_fen(int64_t total_fen);
/* Fee returned with a new refund of refund_fen on o (proportional; the last refund
 * takes the remainder). */
int64_t sim_refund_fee_fen(const struct sim_state *st, const struct sim_order *o,
                           int64_t refund_fen);
/* Sum of refund_fen of o's refunds that are not CLOSED. */
int64_t sim_refunded_fen(const struct sim_state *st, const char *out_trade_no, size_t *out_count);

json_t *sim_order_to_json(const struct sim_order *o);
json_t *sim_refund_to_json(const struct sim_refund *r);
json_t *sim_state_to_json(const struct sim_state *st);
/* Builds an order from admin/persisted JSON with defaults (now = sim clock). */
int sim_order_from_json(struct sim_state *st, const char *appid, json_t *j, struct sim_order **out,
                        struct wxr_err *err);
int sim_refund_from_json(struct sim_state *st, json_t *j, struct sim_refund **out,
                         struct wxr_err *err);
int sim_state_load(struct sim_state *st, const char *appid, const char *path, struct wxr_err *err);
int sim_state_save(const struct sim_state *st, const char *path, struct wxr_err *err);
void sim_state_clear(struct sim_state *st);
/* Drops the records past the counts (a failed batch) and rebuilds the indexes. */
void sim_state_truncate(struct sim_state *st, size_t norders, size_t nrefunds);

/* ---- faults ---- */
enum sim_fault_kind {
	SIM_FAULT_STATUS,
	SIM_FAULT_DELAY,
	SIM_FAULT_BAD_SIGNATURE,
	SIM_FAULT_WRONG_BILL_HASH,
	SIM_FAULT_TRUNCATE_DOWNLOAD,
	SIM_FAULT_PAY_DURING_CLOSE,
	SIM_FAULT_DROP
};

struct sim_fault {
	char *match; /* path prefix ("/v3/...") or endpoint name */
	enum sim_fault_kind kind;
	long count;      /* remaining; -1 = forever */
	int status;      /* STATUS */
	char *code;      /* STATUS: error code */
	char *message;   /* STATUS: error message */
	long ms;         /* DELAY */
	bool after;      /* DROP: after handling (the state changes, the answer is lost) */
	bool probe;      /* BAD_SIGNATURE: a WECHATPAY/SIGNTEST/ probe */
	bool short_body; /* TRUNCATE_DOWNLOAD: consistent Content-Length */
	long bytes;      /* TRUNCATE_DOWNLOAD: bytes to send (default half) */
};

/* ---- server ---- */
struct sim_config {
	const char *keys_dir;
	const char *state_dir;
	const char *mchid;
	const char *appid;
	const char *journal_path;
	const char *bills_dir;
	const char *tmp_dir; /* where made bills live ($TMPDIR; NULL: /tmp) */
	int release_minutes; /* minutes after midnight, Asia/Shanghai */
	bool cert_mode;      /* Wechatpay-Serial = platform cert serial */
	bool quiet;
};

struct sim_token {
	char token[40];
	char *path; /* the .gz file */
	bool owned; /* delete the file when the token goes */
	bool gzip;  /* serve the gz bytes as they are */
	int64_t expires_real;
};

struct sim_journal_entry {
	char *method;
	char *path;
	char *url;
	int status;
	char *request_id;
	bool auth_ok;
	char *fault;
	int64_t ts;
};

struct sim_notifier; /* sim_notify.c */

struct sim {
	struct sim_config cfg;
	struct sim_keys keys;
	pthread_mutex_t lock; /* guards everything below */
	struct sim_state st;
	struct sim_fault *faults;
	size_t nfaults, faults_cap;
	struct sim_journal_entry *journal;
	size_t njournal, journal_cap;
	struct sim_token *tokens;
	size_t ntokens, tokens_cap;
	char *state_path; /* <state_dir>/state.json or NULL */
	char *tmpdir;     /* made bills live here */
	unsigned port;
	uint64_t reqno;
	char reqid_prefix[24];
	FILE *journal_fp;
	void *daemon;                  /* struct MHD_Daemon * */
	struct sim_notifier *notifier; /* callback notifications; NULL until first used */
};

/* A parsed request, as the handlers see it. */
struct sim_kv {
	char *key;
	char *val;
};

struct sim_req {
	const char *method;
	const char *target;    /* raw request target: path + '?' + raw query */
	char *path;            /* raw path (not decoded) */
	const char *raw_query; /* NULL when the target has no '?' */
	struct sim_kv *args;   /* decoded query parameters */
	size_t nargs;
	const char *body;
	size_t body_len;
	const char *wechatpay_serial; /* request header or NULL */
	const char *auth_mchid;       /* verified mchid from Authorization */
};

struct sim_download;

struct sim_resp {
	int status;
	struct buf body;         /* JSON (or empty) */
	const char *code;        /* error code for the Request-ID suffix, NULL on success */
	struct sim_download *dl; /* bill download instead of body */
	bool pay_during_close;   /* consumed a pay_during_close fault */
};

/* Query parameter lookup (decoded); NULL when absent. */
const char *sim_req_arg(const struct sim_req *rq, const char *key);

/* Error response helpers: body {"code","message"[,"detail"]}; detail is stolen. */
int sim_resp_error(struct sim_resp *rs, int status, const char *code, const char *message,
                   json_t *detail);
/* Sets status and the compact JSON of j (stolen). */
void sim_resp_json(struct sim_resp *rs, int status, json_t *j);

/* Endpoint names, for fault matching and the journal. */
enum sim_ep {
	SIM_EP_NONE,
	SIM_EP_PREPAY,
	SIM_EP_QUERY,
	SIM_EP_QUERY_ID,
	SIM_EP_CLOSE,
	SIM_EP_REFUND,
	SIM_EP_REFUND_QUERY,
	SIM_EP_ABNORMAL_REFUND,
	SIM_EP_TRADEBILL,
	SIM_EP_FUNDFLOWBILL,
	SIM_EP_DOWNLOAD,
	SIM_EP_CERTIFICATES
};
const char *sim_ep_name(enum sim_ep ep);
/* Finds the endpoint of method+path; *out_param gets the decoded path parameter. */
enum sim_ep sim_api_route(const char *method, const char *path, char **out_param);
/* Runs a /v3 endpoint (auth already verified). Called with s->lock held. */
void sim_api_handle(struct sim *s, enum sim_ep ep, const char *param, struct sim_req *rq,
                    struct sim_resp *rs, const struct sim_fault *fault);
/* The APIs' shared persistence hook: saves the state when --state is set
 * (sim_record.c). */
void sim_persist(struct sim *s);

/* Bills (sim_billsrv.c). Called with s->lock held. */
void sim_bill_apply(struct sim *s, bool trade, struct sim_req *rq, struct sim_resp *rs,
                    bool wrong_hash);
void sim_bill_download(struct sim *s, struct sim_req *rq, struct sim_resp *rs,
                       const struct sim_fault *truncate);
void sim_tokens_sweep(struct sim *s, bool all);
void sim_tokens_expire(struct sim *s);
/* Download body source for MHD: returns the content size or -1 (unknown). */
int64_t sim_download_size(const struct sim_download *dl);
/* Fills buf with up to max bytes at the stream's position: >0 bytes, 0 end, -1 error/cut. */
long sim_download_read(struct sim_download *dl, char *buf, size_t max);
void sim_download_free(struct sim_download *dl);
/* Makes the bill for a date from state into a gz file; used by apply and tests.
 * Returns 1 made, 0 no rows, negative on error. */
int sim_bill_make(struct sim *s, bool trade, const char *bill_type, int64_t day,
                  const char *gz_path, char out_sha1[41], struct wxr_err *err);

/* Admin (sim_admin.c). Called with s->lock held. */
void sim_admin_handle(struct sim *s, const char *method, const char *path, const char *body,
                      size_t body_len, struct sim_resp *rs);

/* Server life (sim_http.c). */
int sim_init(struct sim *s, const struct sim_config *cfg, struct wxr_err *err);
int sim_start(struct sim *s, unsigned port, struct wxr_err *err);
void sim_stop(struct sim *s);
void sim_release(struct sim *s);

/* The fault queue and the journal (sim_record.c). */
void sim_journal_clear(struct sim *s);
void sim_faults_clear(struct sim *s);
int sim_fault_from_json(json_t *j, struct sim_fault *out, struct wxr_err *err);
json_t *sim_fault_to_json(const struct sim_fault *f);
json_t *sim_journal_to_json(const struct sim *s);
/* "status", "delay", ... as POST /_sim/faults names them. */
const char *sim_fault_kind_name(enum sim_fault_kind kind);
/* Takes the first queued fault that applies to ep at path (queue order) into
 * out (release it with sim_fault_release); a counted one is used up. */
bool sim_fault_take(struct sim *s, enum sim_ep ep, const char *path, struct sim_fault *out);
void sim_fault_release(struct sim_fault *f);
/* Journals one request (and prints it unless quiet); takes s->lock. */
void sim_journal_add(struct sim *s, const char *method, const char *path, const char *url,
                     int status, const char *request_id, bool auth_ok, const char *fault);

#endif
