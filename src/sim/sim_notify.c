/*
 * sim_notify.c - signed, encrypted callback notifications from the
 * simulator to the merchant's notify_url (see sim_notify.h).
 */
#include "sim/sim_notify.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/xalloc.h"

#define NOTIFY_DEFAULT_RETRIES    3
#define NOTIFY_DEFAULT_RETRY_MS   200
#define NOTIFY_DEFAULT_TIMEOUT_MS 3000
#define NOTIFY_STALE_S            600
#define NOTIFY_LOG_MAX            10000

enum nfault { NF_NONE, NF_TAMPERED, NF_STALE, NF_PROBE, NF_BAD_TAG };

static const char *const nfault_names[] = { "none", "tampered", "stale", "probe", "bad_tag" };

struct notif {
	char *id;
	char *event_type;
	char *subject; /* out_trade_no or out_refund_no */
	char *url;
	char *body; /* the JSON as signed */
	enum nfault fault;
	const char *state; /* pending, sending, delivered, failed, skipped */
	int attempts;
	long status; /* last HTTP status, 0 = none */
	char *error;
};

struct sim_notifier {
	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cv;
	pthread_t th;
	bool started, stop;
	struct notif **log;
	size_t n, cap;
	size_t next; /* first entry the sender has not taken yet */
	int retries;
	long retry_ms, timeout_ms;
	bool enabled;
	enum nfault *faults;
	long *fault_counts;
	size_t nfaults;
	char **url_keys, **url_vals; /* refund notify_urls */
	size_t nurls;
	struct sim *s;
};

static void notif_free(struct notif *x)
{
	if (!x)
		return;
	free(x->id);
	free(x->event_type);
	free(x->subject);
	free(x->url);
	free(x->body);
	free(x->error);
	free(x);
}

static bool is_enabled(struct sim_notifier *nf)
{
	bool on;

	pthread_mutex_lock(&nf->mu);
	on = nf->enabled;
	pthread_mutex_unlock(&nf->mu);
	return on;
}

static void sleep_ms(long ms)
{
	struct timespec d = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&d, &d) < 0 && errno == EINTR)
		;
}

/* ---- delivery ---- */

/* Loopback only: http(s)://127.0.0.1, localhost or [::1]. */
static bool url_is_local(const char *url)
{
	static const char *const hosts[] = { "127.0.0.1", "localhost", "[::1]" };
	const char *h;

	if (strncmp(url, "http://", 7) == 0)
		h = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		h = url + 8;
	else
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(hosts); i++) {
		size_t k = strlen(hosts[i]);

		if (strncmp(h, hosts[i], k) == 0 && (h[k] == ':' || h[k] == '/' || h[k] == '\0'))
			return true;
	}
	return false;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

/* One POST; returns the HTTP status (0 when none) and sets *out_error. */
static long post_once(struct sim *s, const struct notif *x, long timeout_ms, char **out_error)
{
	char ts[24], nonce[33], reqid[40];
	struct buf msg = BUF_INIT;
	struct curl_slist *h = NULL;
	char *sig = NULL, *line;
	const char *body = x->body;
	char *sent = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURL *c;
	CURLcode cr;

	*out_error = NULL;
	snprintf(ts, sizeof(ts), "%lld",
	         (long long)(sim_real_now() - (x->fault == NF_STALE ? NOTIFY_STALE_S : 0)));
	sim_rand_alnum(nonce, 32);
	buf_addf(&msg, "%s\n%s\n%s\n", ts, nonce, body);
	if (x->fault == NF_PROBE) {
		char rnd[65];

		sim_rand_alnum(rnd, 64);
		sig = xasprintf("WECHATPAY/SIGNTEST/%s", rnd);
	} else {
		sig = sim_sign(s->keys.wechat_key, msg.data, msg.len);
		if (!sig)
			sig = xstrdup("");
	}
	if (x->fault == NF_TAMPERED) {
		/* Signed as it was, sent with one more byte. */
		sent = xasprintf("%s ", body);
		body = sent;
	}
	sim_rand_hex(reqid, 32);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Accept:");
	h = curl_slist_append(h, "Expect:");
	line = xasprintf("Wechatpay-Timestamp: %s", ts);
	h = curl_slist_append(h, line);
	free(line);
	line = xasprintf("Wechatpay-Nonce: %s", nonce);
	h = curl_slist_append(h, line);
	free(line);
	line = xasprintf("Wechatpay-Signature: %s", sig);
	h = curl_slist_append(h, line);
	free(line);
	line = xasprintf("Wechatpay-Serial: %s",
	                 s->cfg.cert_mode ? s->keys.cert_serial : s->keys.pub_key_id);
	h = curl_slist_append(h, line);
	free(line);
	h = curl_slist_append(h, "Wechatpay-Signature-Type: WECHATPAY2-SHA256-RSA2048");
	line = xasprintf("Request-ID: %s", reqid);
	h = curl_slist_append(h, line);
	free(line);
	c = curl_easy_init();
	if (!c) {
		*out_error = xstrdup("curl_easy_init failed");
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, x->url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "Mozilla/4.0 (wxrecon-sim notify)");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	cr = curl_easy_perform(c);
	if (cr != CURLE_OK)
		*out_error = xstrdup(errbuf[0] ? errbuf : curl_easy_strerror(cr));
	else
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
out:
	curl_slist_free_all(h);
	buf_release(&msg);
	free(sig);
	free(sent);
	return status;
}

static void log_line(struct sim *s, const struct notif *x)
{
	if (s->cfg.quiet)
		return;
	fprintf(stderr, "wxrecon-sim: notify %s %s '%s' -> %s: %s (%d attempt%s, HTTP %ld)%s%s\n",
	        x->id, x->event_type, x->subject, x->url, x->state, x->attempts,
	        x->attempts == 1 ? "" : "s", x->status, x->error ? ": " : "",
	        x->error ? x->error : "");
}

/*
 * Delivers x with up to 1 + retries attempts (mu not held). x stays in state
 * "sending" until its last attempt, so nothing frees it meanwhile; its final
 * state is set and logged under mu.
 */
static void deliver(struct sim_notifier *nf, struct notif *x, int retries, long retry_ms,
                    long timeout_ms)
{
	struct sim *s = nf->s;

	if (!url_is_local(x->url)) {
		pthread_mutex_lock(&nf->mu);
		x->state = "skipped";
		x->error = xstrdup("not a loopback URL: the simulator calls 127.0.0.1 only");
		log_line(s, x);
		pthread_mutex_unlock(&nf->mu);
		return;
	}
	for (int i = 0;; i++) {
		char *error = NULL;
		long status;
		bool done, last;

		status = post_once(s, x, timeout_ms, &error);
		pthread_mutex_lock(&nf->mu);
		x->attempts++;
		x->status = status;
		free(x->error);
		x->error = error;
		/* PROTOCOL 3.5: 200 or 204 is received, anything else is a failure. */
		done = status == 200 || status == 204;
		last = done || i >= retries || nf->stop;
		if (last) {
			x->state = done ? "delivered" : "failed";
			log_line(s, x);
		}
		pthread_mutex_unlock(&nf->mu);
		if (last)
			return;
		sleep_ms(retry_ms);
	}
}

static void *sender(void *p)
{
	struct sim_notifier *nf = p;

	pthread_mutex_lock(&nf->mu);
	for (;;) {
		struct notif *x;
		int retries;
		long retry_ms, timeout_ms;

		while (!nf->stop && nf->next >= nf->n)
			pthread_cond_wait(&nf->cv, &nf->mu);
		if (nf->stop)
			break;
		x = nf->log[nf->next++];
		if (strcmp(x->state, "pending") != 0)
			continue;
		x->state = "sending";
		retries = nf->retries;
		retry_ms = nf->retry_ms;
		timeout_ms = nf->timeout_ms;
		pthread_mutex_unlock(&nf->mu);
		deliver(nf, x, retries, retry_ms, timeout_ms);
		pthread_mutex_lock(&nf->mu);
	}
	pthread_mutex_unlock(&nf->mu);
	return NULL;
}

/* ---- the notifier ---- */

static struct sim_notifier *notifier(struct sim *s)
{
	struct sim_notifier *nf = s->notifier;

	if (nf)
		return nf;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	nf = xcalloc(1, sizeof(*nf));
	pthread_mutex_init(&nf->mu, NULL);
	pthread_cond_init(&nf->cv, NULL);
	nf->retries = NOTIFY_DEFAULT_RETRIES;
	nf->retry_ms = NOTIFY_DEFAULT_RETRY_MS;
	nf->timeout_ms = NOTIFY_DEFAULT_TIMEOUT_MS;
	nf->enabled = true;
	nf->s = s;
	s->notifier = nf;
	return nf;
}

static bool is_final(const struct notif *x)
{
	return strcmp(x->state, "pending") != 0 && strcmp(x->state, "sending") != 0;
}

static void log_append(struct sim_notifier *nf, struct notif *x)
{
	if (nf->n == NOTIFY_LOG_MAX && nf->next > 0 && is_final(nf->log[0])) {
		/* drop the oldest finished entry */
		notif_free(nf->log[0]);
		memmove(nf->log, nf->log + 1, (nf->n - 1) * sizeof(*nf->log));
		nf->n--;
		nf->next--;
	}
	if (nf->n == nf->cap) {
		nf->cap = nf->cap ? nf->cap * 2 : 32;
		nf->log = xreallocarray(nf->log, nf->cap, sizeof(*nf->log));
	}
	nf->log[nf->n++] = x;
}

/* Queues x for the sender thread (mu not held). */
static void enqueue(struct sim_notifier *nf, struct notif *x)
{
	pthread_mutex_lock(&nf->mu);
	if (!nf->started) {
		if (pthread_create(&nf->th, NULL, sender, nf) == 0)
			nf->started = true;
	}
	x->state = "pending";
	log_append(nf, x);
	if (nf->started) {
		pthread_cond_signal(&nf->cv);
	} else {
		x->state = "failed";
		x->error = xstrdup("cannot start the sender thread");
		nf->next = nf->n;
	}
	pthread_mutex_unlock(&nf->mu);
}

static enum nfault take_fault(struct sim_notifier *nf)
{
	enum nfault f = NF_NONE;

	pthread_mutex_lock(&nf->mu);
	if (nf->nfaults) {
		f = nf->faults[0];
		if (nf->fault_counts[0] > 0 && --nf->fault_counts[0] == 0) {
			memmove(nf->faults, nf->faults + 1,
			        (nf->nfaults - 1) * sizeof(*nf->faults));
			memmove(nf->fault_counts, nf->fault_counts + 1,
			        (nf->nfaults - 1) * sizeof(*nf->fault_counts));
			nf->nfaults--;
		}
	}
	pthread_mutex_unlock(&nf->mu);
	return f;
}

static const char *refund_url(struct sim_notifier *nf, const char *out_refund_no)
{
	const char *u = NULL;

	pthread_mutex_lock(&nf->mu);
	for (size_t i = 0; i < nf->nurls; i++)
		if (strcmp(nf->url_keys[i], out_refund_no) == 0)
			u = nf->url_vals[i];
	pthread_mutex_unlock(&nf->mu);
	return u;
}

void sim_notify_refund_url(struct sim *s, const char *out_refund_no, const char *url)
{
	struct sim_notifier *nf;

	if (!out_refund_no || !url || !*url)
		return;
	nf = notifier(s);
	pthread_mutex_lock(&nf->mu);
	nf->url_keys = xreallocarray(nf->url_keys, nf->nurls + 1, sizeof(*nf->url_keys));
	nf->url_vals = xreallocarray(nf->url_vals, nf->nurls + 1, sizeof(*nf->url_vals));
	nf->url_keys[nf->nurls] = xstrdup(out_refund_no);
	nf->url_vals[nf->nurls] = xstrdup(url);
	nf->nurls++;
	pthread_mutex_unlock(&nf->mu);
}

void sim_notify_release(struct sim *s)
{
	struct sim_notifier *nf = s ? s->notifier : NULL;

	if (!nf)
		return;
	pthread_mutex_lock(&nf->mu);
	nf->stop = true;
	pthread_cond_broadcast(&nf->cv);
	pthread_mutex_unlock(&nf->mu);
	if (nf->started)
		pthread_join(nf->th, NULL);
	for (size_t i = 0; i < nf->n; i++)
		notif_free(nf->log[i]);
	free(nf->log);
	free(nf->faults);
	free(nf->fault_counts);
	for (size_t i = 0; i < nf->nurls; i++) {
		free(nf->url_keys[i]);
		free(nf->url_vals[i]);
	}
	free(nf->url_keys);
	free(nf->url_vals);
	pthread_cond_destroy(&nf->cv);
	pthread_mutex_destroy(&nf->mu);
	free(nf);
	s->notifier = NULL;
	curl_global_cleanup();
}

/* ---- building a notification ---- */

static char *new_id(void)
{
	char h[33];

	sim_rand_hex(h, 32);
	return xasprintf("%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

/*
 * Encrypts the payload (stolen) and wraps it in the notification body.
 * Returns a new notif, or NULL when encryption failed.
 */
static struct notif *build(struct sim *s, const char *id, const char *event_type,
                           const char *summary, const char *original_type, json_t *payload,
                           const char *subject, const char *url, enum nfault fault)
{
	char *pt = json_dumps(payload, JSON_COMPACT);
	char nonce[13], t[40];
	char *ct = NULL;
	json_t *body;
	struct notif *x = NULL;

	json_decref(payload);
	if (!pt)
		return NULL;
	sim_rand_alnum(nonce, 12);
	ct = sim_aes_gcm_encrypt(s->keys.apiv3, nonce, original_type, pt, strlen(pt));
	free(pt);
	if (!ct)
		return NULL;
	if (fault == NF_BAD_TAG) {
		/* flip one base64 character of the ciphertext (still valid base64) */
		ct[0] = ct[0] == 'A' ? 'B' : 'A';
	}
	sim_fmt_rfc3339(sim_state_now(&s->st), t, sizeof(t));
	body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}}", "id", id,
	                 "create_time", t, "resource_type", "encrypt-resource", "event_type",
	                 event_type, "summary", summary, "resource", "original_type", original_type,
	                 "algorithm", "AEAD_AES_256_GCM", "ciphertext", ct, "associated_data",
	                 original_type, "nonce", nonce);
	free(ct);
	if (!body)
		return NULL;
	x = xcalloc(1, sizeof(*x));
	x->body = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!x->body) {
		free(x);
		return NULL;
	}
	x->id = xstrdup(id);
	x->event_type = xstrdup(event_type);
	x->subject = xstrdup(subject);
	x->url = xstrdup(url);
	x->fault = fault;
	x->state = "pending";
	return x;
}

static json_t *transaction_payload(struct sim *s, const struct sim_order *o)
{
	char t[40];

	sim_fmt_rfc3339(o->success_ts, t, sizeof(t));
	return json_pack(
	        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s},"
	        " s:{s:I, s:I, s:s, s:s}, s:{s:s}, s:[]}",
	        "appid", o->appid, "mchid", s->cfg.mchid, "out_trade_no", o->out_trade_no,
	        "transaction_id", o->transaction_id, "trade_type", "APP", "trade_state", "SUCCESS",
	        "trade_state_desc", "支付成功", "bank_type", o->bank_type ? o->bank_type : "OTHERS",
	        "attach", o->attach ? o->attach : "", "success_time", t, "payer", "openid",
	        o->openid ? o->openid : "", "amount", "total", (json_int_t)o->total_fen,
	        "payer_total", (json_int_t)o->total_fen, "currency", "CNY", "payer_currency", "CNY",
	        "scene_info", "device_id", "", "promotion_detail");
}

static const char *refund_event(enum sim_refund_status st, const char **summary)
{
	switch (st) {
	case SIM_RS_SUCCESS:
		*summary = "退款成功";
		return "REFUND.SUCCESS";
	case SIM_RS_ABNORMAL:
		*summary = "退款异常";
		return "REFUND.ABNORMAL";
	case SIM_RS_CLOSED:
		*summary = "退款关闭";
		return "REFUND.CLOSED";
	case SIM_RS_PROCESSING:
		break;
	}
	return NULL;
}

static json_t *refund_payload(struct sim *s, const struct sim_refund *r)
{
	json_t *j = json_pack(
	        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:I, s:I, s:I, s:I}}", "mchid",
	        s->cfg.mchid, "transaction_id", r->transaction_id ? r->transaction_id : "",
	        "out_trade_no", r->out_trade_no, "refund_id", r->refund_id, "out_refund_no",
	        r->out_refund_no, "refund_status", sim_refund_status_name(r->status),
	        "user_received_account", r->user_received_account ? r->user_received_account : "",
	        "amount", "total", (json_int_t)r->total_fen, "refund", (json_int_t)r->refund_fen,
	        "payer_total", (json_int_t)r->total_fen, "payer_refund", (json_int_t)r->refund_fen);
	char t[40];

	if (j && r->status == SIM_RS_SUCCESS && r->success_ts) {
		sim_fmt_rfc3339(r->success_ts, t, sizeof(t));
		json_object_set_new(j, "success_time", json_string(t));
	}
	return j;
}

static const char *order_url(const struct sim *s, const char *out_trade_no)
{
	const struct sim_order *o = sim_state_order(&s->st, out_trade_no);

	return o && o->notify_url && *o->notify_url ? o->notify_url : NULL;
}

void sim_notify_paid(struct sim *s, const struct sim_order *o)
{
	struct sim_notifier *nf;
	struct notif *x;
	char *id;

	if (!o->notify_url || !*o->notify_url || !o->transaction_id)
		return;
	nf = notifier(s);
	if (!is_enabled(nf))
		return;
	id = new_id();
	x = build(s, id, "TRANSACTION.SUCCESS", "支付成功", "transaction",
	          transaction_payload(s, o), o->out_trade_no, o->notify_url, take_fault(nf));
	free(id);
	if (x)
		enqueue(nf, x);
}

void sim_notify_refund(struct sim *s, const struct sim_refund *r)
{
	struct sim_notifier *nf;
	struct notif *x;
	const char *event, *summary = "", *url;
	char *id;

	event = refund_event(r->status, &summary);
	if (!event)
		return;
	nf = notifier(s);
	if (!is_enabled(nf))
		return;
	url = refund_url(nf, r->out_refund_no);
	if (!url)
		url = order_url(s, r->out_trade_no);
	if (!url)
		return;
	id = new_id();
	x = build(s, id, event, summary, "refund", refund_payload(s, r), r->out_refund_no, url,
	          take_fault(nf));
	free(id);
	if (x)
		enqueue(nf, x);
}

/* ---- admin ---- */

static void admin_error(struct sim_resp *rs, int status, const char *msg)
{
	sim_resp_error(rs, status, status == 404 ? "NOT_FOUND" : "BAD_REQUEST", msg, NULL);
}

static int fault_parse(const char *name, enum nfault *out)
{
	for (size_t i = 1; i < ARRAY_SIZE(nfault_names); i++) {
		if (strcmp(name, nfault_names[i]) == 0) {
			*out = (enum nfault)i;
			return 0;
		}
	}
	return -1;
}

static json_t *notif_json(const struct notif *x)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:s?, s:s}", "id", x->id,
	                 "event_type", x->event_type, "subject", x->subject, "url", x->url, "state",
	                 x->state, "attempts", x->attempts, "status", (json_int_t)x->status,
	                 "error", x->error, "fault", nfault_names[x->fault]);
}

static json_t *status_json(struct sim_notifier *nf)
{
	json_t *items = json_array(), *faults = json_array();

	pthread_mutex_lock(&nf->mu);
	for (size_t i = 0; i < nf->n; i++)
		json_array_append_new(items, notif_json(nf->log[i]));
	for (size_t i = 0; i < nf->nfaults; i++)
		json_array_append_new(faults,
		                      json_pack("{s:s, s:I}", "kind", nfault_names[nf->faults[i]],
		                                "count", (json_int_t)nf->fault_counts[i]));
	pthread_mutex_unlock(&nf->mu);
	return json_pack("{s:{s:i, s:I, s:I, s:b}, s:o, s:o}", "config", "retries", nf->retries,
	                 "retry_ms", (json_int_t)nf->retry_ms, "timeout_ms",
	                 (json_int_t)nf->timeout_ms, "enabled", nf->enabled, "faults", faults,
	                 "notifications", items);
}

static int int_in(json_t *b, const char *key, long min, long max, long *out, struct sim_resp *rs)
{
	json_t *v = json_object_get(b, key);
	char *m;

	if (!v)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= min && json_integer_value(v) <= max) {
		*out = (long)json_integer_value(v);
		return 0;
	}
	m = xasprintf("'%s' must be an integer from %ld to %ld", key, min, max);
	admin_error(rs, 400, m);
	free(m);
	return -1;
}

static void admin_config(struct sim_notifier *nf, json_t *b, struct sim_resp *rs)
{
	long retries, retry_ms, timeout_ms;
	json_t *en = json_object_get(b, "enabled");

	pthread_mutex_lock(&nf->mu);
	retries = nf->retries;
	retry_ms = nf->retry_ms;
	timeout_ms = nf->timeout_ms;
	pthread_mutex_unlock(&nf->mu);
	if (int_in(b, "retries", 0, 20, &retries, rs) < 0 ||
	    int_in(b, "retry_ms", 0, 60000, &retry_ms, rs) < 0 ||
	    int_in(b, "timeout_ms", 100, 60000, &timeout_ms, rs) < 0)
		return;
	if (en && !json_is_boolean(en)) {
		admin_error(rs, 400, "'enabled' must be true or false");
		return;
	}
	pthread_mutex_lock(&nf->mu);
	nf->retries = (int)retries;
	nf->retry_ms = retry_ms;
	nf->timeout_ms = timeout_ms;
	if (en)
		nf->enabled = json_is_true(en);
	pthread_mutex_unlock(&nf->mu);
	sim_resp_json(rs, 200, status_json(nf));
}

static void admin_faults(struct sim_notifier *nf, json_t *b, struct sim_resp *rs)
{
	const char *kind = json_string_value(json_object_get(b, "kind"));
	long count = 1;
	enum nfault f;

	if (!kind || fault_parse(kind, &f) < 0) {
		admin_error(rs, 400, "'kind' must be tampered, stale, probe or bad_tag");
		return;
	}
	if (int_in(b, "count", -1, 1000000, &count, rs) < 0)
		return;
	if (count == 0) {
		admin_error(rs, 400, "'count' must be >= 1, or -1 for always");
		return;
	}
	pthread_mutex_lock(&nf->mu);
	nf->faults = xreallocarray(nf->faults, nf->nfaults + 1, sizeof(*nf->faults));
	nf->fault_counts =
	        xreallocarray(nf->fault_counts, nf->nfaults + 1, sizeof(*nf->fault_counts));
	nf->faults[nf->nfaults] = f;
	nf->fault_counts[nf->nfaults] = count;
	nf->nfaults++;
	pthread_mutex_unlock(&nf->mu);
	sim_resp_json(rs, 200, status_json(nf));
}

static void admin_clear(struct sim_notifier *nf, struct sim_resp *rs)
{
	pthread_mutex_lock(&nf->mu);
	/* entries the sender holds stay until it is done with them */
	for (size_t i = 0; i < nf->n; i++) {
		if (strcmp(nf->log[i]->state, "sending") == 0)
			continue; /* the sender holds it */
		notif_free(nf->log[i]);
		nf->log[i] = NULL;
	}
	{
		size_t k = 0, next = 0;

		for (size_t i = 0; i < nf->n; i++) {
			if (!nf->log[i])
				continue;
			if (i < nf->next)
				next++;
			nf->log[k++] = nf->log[i];
		}
		nf->n = k;
		nf->next = next;
	}
	nf->nfaults = 0;
	pthread_mutex_unlock(&nf->mu);
	sim_resp_json(rs, 200, status_json(nf));
}

/* POST /_sim/notify: one notification by hand. */
static void admin_send(struct sim *s, struct sim_notifier *nf, json_t *b, struct sim_resp *rs)
{
	const char *otn = json_string_value(json_object_get(b, "out_trade_no"));
	const char *orn = json_string_value(json_object_get(b, "out_refund_no"));
	const char *url = json_string_value(json_object_get(b, "url"));
	const char *id_in = json_string_value(json_object_get(b, "id"));
	const char *fname = json_string_value(json_object_get(b, "fault"));
	bool sync = json_is_true(json_object_get(b, "sync"));
	enum nfault fault = NF_NONE;
	struct notif *x = NULL;
	char *id;

	if ((!otn) == (!orn)) {
		admin_error(rs, 400, "give one of 'out_trade_no' and 'out_refund_no'");
		return;
	}
	if (json_object_get(b, "fault") && (!fname || fault_parse(fname, &fault) < 0)) {
		admin_error(rs, 400, "'fault' must be tampered, stale, probe or bad_tag");
		return;
	}
	if (json_object_get(b, "url") && (!url || !*url)) {
		admin_error(rs, 400, "'url' must be a non-empty string");
		return;
	}
	if (json_object_get(b, "id") && (!id_in || !*id_in || strlen(id_in) > 64)) {
		admin_error(rs, 400, "'id' must be a string of 1 to 64 characters");
		return;
	}
	id = id_in ? xstrdup(id_in) : new_id();
	if (otn) {
		const struct sim_order *o = sim_state_order(&s->st, otn);

		if (!o) {
			admin_error(rs, 404, "no such order");
			goto out;
		}
		if (!o->success_ts || !o->transaction_id) {
			admin_error(rs, 409, "the order is not paid");
			goto out;
		}
		if (!url)
			url = o->notify_url;
		if (!url || !*url) {
			admin_error(rs, 400, "the order has no notify_url: give 'url'");
			goto out;
		}
		x = build(s, id, "TRANSACTION.SUCCESS", "支付成功", "transaction",
		          transaction_payload(s, o), otn, url, fault);
	} else {
		const struct sim_refund *r = sim_state_refund(&s->st, orn);
		const char *event, *summary = "";

		if (!r) {
			admin_error(rs, 404, "no such refund");
			goto out;
		}
		event = refund_event(r->status, &summary);
		if (!event) {
			admin_error(rs, 409, "the refund is PROCESSING: nothing to notify");
			goto out;
		}
		if (!url)
			url = refund_url(nf, orn);
		if (!url)
			url = order_url(s, r->out_trade_no);
		if (!url) {
			admin_error(rs, 400, "no notify_url known for the refund: give 'url'");
			goto out;
		}
		x = build(s, id, event, summary, "refund", refund_payload(s, r), orn, url, fault);
	}
	if (!x) {
		sim_resp_error(rs, 500, "SYSTEM_ERROR", "cannot build the notification", NULL);
		goto out;
	}
	if (sync) {
		struct notif *keep = x;

		pthread_mutex_lock(&nf->mu);
		x->state = "sending";
		log_append(nf, x);
		if (nf->next == nf->n - 1)
			nf->next = nf->n; /* the sender must not take it */
		pthread_mutex_unlock(&nf->mu);
		deliver(nf, x, 0, 0, nf->timeout_ms);
		pthread_mutex_lock(&nf->mu);
		sim_resp_json(rs, 200, notif_json(keep));
		pthread_mutex_unlock(&nf->mu);
	} else {
		enqueue(nf, x);
		pthread_mutex_lock(&nf->mu);
		sim_resp_json(rs, 200, notif_json(x));
		pthread_mutex_unlock(&nf->mu);
	}
out:
	free(id);
}

void sim_notify_admin(struct sim *s, const char *method, char **seg, size_t n, json_t *body,
                      struct sim_resp *rs)
{
	struct sim_notifier *nf = notifier(s);
	bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0,
	     del = strcmp(method, "DELETE") == 0;

	if (n == 0 && get)
		sim_resp_json(rs, 200, status_json(nf));
	else if (n == 0 && del)
		admin_clear(nf, rs);
	else if (n == 0 && post)
		admin_send(s, nf, body, rs);
	else if (n == 1 && post && strcmp(seg[0], "config") == 0)
		admin_config(nf, body, rs);
	else if (n == 1 && post && strcmp(seg[0], "faults") == 0)
		admin_faults(nf, body, rs);
	else
		admin_error(rs, 404, "no such admin endpoint");
}
