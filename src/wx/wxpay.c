/*
 * wxpay.c - the WeChat Pay client core: configuration and keys, request
 * signing (PROTOCOL section 1), response verification (section 2) and the
 * request engine with retries, the audit hook and the last-call status.
 */
#include "wx/wxpay_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/xalloc.h"

/* ---- small helpers ---- */

static int64_t default_clock(void *ctx)
{
	(void)ctx;
	return (int64_t)time(NULL);
}

int64_t wxpay_now(const struct wxpay *w)
{
	return w->clock(w->clock_ctx);
}

static void sleep_ms(long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Copies untrusted text for messages: printable ASCII and UTF-8 kept, the rest '?'. */
static void safe_copy(char *out, size_t size, const char *s, size_t max_in)
{
	size_t o = 0;
	size_t i;

	if (!size)
		return;
	for (i = 0; s && s[i] && i < max_in && o + 1 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	if (s && s[i] && o > 0) {
		/* Cut short: do not end inside a UTF-8 sequence. */
		size_t k = o;
		unsigned char lead;
		size_t need;

		while (k > 0 && o - k < 4 && ((unsigned char)out[k - 1] & 0xC0) == 0x80)
			k--;
		if (k > 0) {
			lead = (unsigned char)out[k - 1];
			need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
			if (o - (k - 1) < need)
				o = k - 1;
		}
	}
	out[o] = '\0';
}

/* Short printable form of a header value for error messages. */
static const char *shown(const char *s, char *tmp, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; s[i] && o + 4 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		tmp[o++] = (c < 0x21 || c > 0x7e || c == '\'') ? '?' : (char)c;
	}
	tmp[o] = '\0';
	if (strlen(s) > o)
		memcpy(tmp + o, "...", 4);
	return tmp;
}

char *wxpay_pct(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b = BUF_INIT;

	buf_adds(&b, "");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			buf_addc(&b, (char)*p);
		} else {
			buf_addc(&b, '%');
			buf_addc(&b, hex[*p >> 4]);
			buf_addc(&b, hex[*p & 15]);
		}
	}
	return buf_detach(&b, NULL);
}

bool wxpay_code_is(const char *code, const char *want)
{
	const char *a = code, *b = want;

	if (!a || !b)
		return false;
	for (;;) {
		while (*a == '_')
			a++;
		while (*b == '_')
			b++;
		if (!*a || !*b)
			return !*a && !*b;
		if (toupper((unsigned char)*a) != toupper((unsigned char)*b))
			return false;
		a++;
		b++;
	}
}

static void normalise_code(char *out, size_t size, const char *code)
{
	size_t o = 0;

	for (size_t i = 0; code[i] && o + 1 < size; i++)
		if (code[i] != '_')
			out[o++] = (char)toupper((unsigned char)code[i]);
	out[o] = '\0';
}

/* Leading zeros and case do not matter in serials (PROTOCOL 2.3; V14). */
static bool serial_eq(const char *a, const char *b)
{
	while (*a == '0')
		a++;
	while (*b == '0')
		b++;
	return strcasecmp(a, b) == 0;
}

static bool is_hex_serial(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return false;
	return true;
}

/* Characters allowed inside the quoted Authorization fields. */
static bool is_plain_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '"' ||
		    *s == ',')
			return false;
	return true;
}

/* ---- handle ---- */

static char *default_user_agent(void)
{
	struct utsname u;
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

	if (uname(&u) < 0) {
		snprintf(u.sysname, sizeof(u.sysname), "unknown");
		snprintf(u.machine, sizeof(u.machine), "unknown");
	}
	return xasprintf("wxrecon/%s (%s %s) libcurl/%s", WXR_VERSION, u.sysname, u.machine,
	                 cv && cv->version ? cv->version : "?");
}

static int load_private_key(struct wxpay *w, const struct wxpay_config *cfg, struct wxr_err *err)
{
	struct stat st;

	if (cfg->private_key_path && *cfg->private_key_path) {
		if (stat(cfg->private_key_path, &st) < 0)
			return err_set(err, WXR_EIO, "cannot open private key '%s': %s",
			               cfg->private_key_path, strerror(errno));
		if (st.st_mode & 077)
			return err_set(
			        err, WXR_ECONFIG,
			        "private key '%s' is readable by group or others (mode %03o): "
			        "chmod 600 it",
			        cfg->private_key_path, (unsigned)(st.st_mode & 0777));
		return crypto_key_private_load(cfg->private_key_path, &w->priv, err);
	}
	if (cfg->private_key_pem && cfg->private_key_pem_len)
		return crypto_key_private_from_pem(cfg->private_key_pem, cfg->private_key_pem_len,
		                                   &w->priv, err);
	return err_set(err, WXR_ECONFIG, "no merchant private key configured");
}

struct wxpay *wxpay_new(const struct wxpay_config *cfg, struct wxr_err *err)
{
	struct wxpay *w = xcalloc(1, sizeof(*w));
	struct http_opts ho;
	const char *base = cfg->base_url && *cfg->base_url ? cfg->base_url : WXPAY_DEFAULT_BASE_URL;
	char *target = NULL;
	char *ua = NULL;
	size_t tl;
	int r;

	w->clock = cfg->clock ? cfg->clock : default_clock;
	w->clock_ctx = cfg->clock_ctx;
	w->on_call = cfg->on_call;
	w->on_call_ctx = cfg->on_call_ctx;
	if (!cfg->mchid || !is_plain_token(cfg->mchid)) {
		r = err_set(err, WXR_ECONFIG, "merchant id (mchid) missing or malformed");
		goto fail;
	}
	if (!cfg->serial_no || !is_hex_serial(cfg->serial_no)) {
		r = err_set(err, WXR_ECONFIG,
		            "merchant certificate serial (serial_no) missing or not hexadecimal");
		goto fail;
	}
	if (cfg->appid && *cfg->appid && !is_plain_token(cfg->appid)) {
		r = err_set(err, WXR_ECONFIG, "appid is malformed");
		goto fail;
	}
	w->mchid = xstrdup(cfg->mchid);
	w->serial_no = xstrdup(cfg->serial_no);
	w->appid = xstrdup(cfg->appid ? cfg->appid : "");
	r = load_private_key(w, cfg, err);
	if (r < 0)
		goto fail;
	if (cfg->apiv3_key_len) {
		if (cfg->apiv3_key_len != 16 && cfg->apiv3_key_len != 24 &&
		    cfg->apiv3_key_len != 32) {
			r = err_set(err, WXR_ECONFIG, "APIv3 key must be 32 bytes, not %zu",
			            cfg->apiv3_key_len);
			goto fail;
		}
		memcpy(w->apiv3_key, cfg->apiv3_key, cfg->apiv3_key_len);
		w->apiv3_key_len = cfg->apiv3_key_len;
	}
	if (!!(cfg->wechatpay_public_key_path && *cfg->wechatpay_public_key_path) !=
	    !!(cfg->wechatpay_public_key_id && *cfg->wechatpay_public_key_id)) {
		r = err_set(err, WXR_ECONFIG,
		            "the WeChat Pay public key needs both its file and its id");
		goto fail;
	}
	if (cfg->wechatpay_public_key_path && *cfg->wechatpay_public_key_path) {
		if (!is_plain_token(cfg->wechatpay_public_key_id)) {
			r = err_set(err, WXR_ECONFIG, "WeChat Pay public key id is malformed");
			goto fail;
		}
		r = crypto_key_public_load(cfg->wechatpay_public_key_path, &w->pubkey, NULL, err);
		if (r < 0)
			goto fail;
		w->pubkey_id = xstrdup(cfg->wechatpay_public_key_id);
	}
	r = http_url_check(base, err);
	if (r < 0)
		goto fail;
	r = http_url_split(base, &w->origin, &target, err);
	if (r < 0)
		goto fail;
	if (strchr(target, '?')) {
		r = err_set(err, WXR_ECONFIG, "base_url '%s' must not have a query", base);
		goto fail;
	}
	tl = strlen(target);
	while (tl > 0 && target[tl - 1] == '/')
		target[--tl] = '\0';
	w->base_path = target;
	target = NULL;
	w->retries = cfg->retries < 0 ? 0 : cfg->retries;
	if (w->retries > WXPAY_RETRIES_MAX)
		w->retries = WXPAY_RETRIES_MAX;
	w->retry_base_ms = cfg->retry_base_ms > 0 ? cfg->retry_base_ms : 500;
	w->download_timeout_s = cfg->download_timeout_s > 0 ? cfg->download_timeout_s : 300;
	ua = cfg->user_agent && *cfg->user_agent ? xstrdup(cfg->user_agent) : default_user_agent();
	memset(&ho, 0, sizeof(ho));
	ho.timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : 15;
	ho.ca_bundle = cfg->ca_bundle;
	ho.user_agent = ua;
	w->http = http_new(&ho, err);
	free(ua);
	if (!w->http)
		goto fail;
	return w;
fail:
	free(target);
	wxpay_free(w);
	return NULL;
}

void wxpay_free(struct wxpay *w)
{
	if (!w)
		return;
	free(w->mchid);
	free(w->appid);
	free(w->serial_no);
	crypto_key_free(w->priv);
	crypto_wipe(w->apiv3_key, sizeof(w->apiv3_key));
	crypto_key_free(w->pubkey);
	free(w->pubkey_id);
	for (size_t i = 0; i < w->ncerts; i++)
		crypto_key_free(w->certs[i].key);
	free(w->certs);
	free(w->origin);
	free(w->base_path);
	http_free(w->http);
	free(w);
}

int wxpay_add_platform_cert(struct wxpay *w, const char *pem, size_t len, struct wxr_err *err)
{
	struct crypto_key *key = NULL;
	struct crypto_cert_info info;
	struct wxpay_key *k;
	int r;

	r = crypto_key_public_from_pem(pem, len, &key, &info, err);
	if (r < 0)
		return err_prefix(err, "platform certificate");
	if (!info.serial[0]) {
		crypto_key_free(key);
		return err_set(err, WXR_EDATA,
		               "platform certificate: PEM is a bare public key, "
		               "not a certificate");
	}
	for (size_t i = 0; i < w->ncerts; i++) {
		if (serial_eq(w->certs[i].serial, info.serial)) {
			crypto_key_free(w->certs[i].key);
			w->certs[i].key = key;
			return 0;
		}
	}
	w->certs = xreallocarray(w->certs, w->ncerts + 1, sizeof(*w->certs));
	k = &w->certs[w->ncerts++];
	memcpy(k->serial, info.serial, sizeof(k->serial));
	k->not_before = info.not_before;
	k->not_after = info.not_after;
	k->key = key;
	return 0;
}

bool wxpay_poisoned(const struct wxpay *w)
{
	return w->poisoned;
}

const struct wxpay_status *wxpay_last(const struct wxpay *w)
{
	return &w->last;
}

void wxpay_keyset_release(struct wxpay_keyset *ks)
{
	if (!ks)
		return;
	for (size_t i = 0; i < ks->n; i++)
		crypto_key_free(ks->keys[i].key);
	free(ks->keys);
	ks->keys = NULL;
	ks->n = 0;
}

const char *wxpay_request_serial(const struct wxpay *w, const struct crypto_key **out_key)
{
	const struct wxpay_key *best = NULL;
	int64_t now;
	bool best_valid = false;

	if (w->pubkey_id) {
		if (out_key)
			*out_key = w->pubkey;
		return w->pubkey_id;
	}
	now = wxpay_now(w);
	for (size_t i = 0; i < w->ncerts; i++) {
		const struct wxpay_key *k = &w->certs[i];
		bool valid = k->not_after > now;

		if (!best || (valid && !best_valid) ||
		    (valid == best_valid && k->not_before > best->not_before)) {
			best = k;
			best_valid = valid;
		}
	}
	if (out_key)
		*out_key = best ? best->key : NULL;
	return best ? best->serial : NULL;
}

/* ---- signing ---- */

void wxpay_sign_message(const char *method, const char *target, int64_t ts, const char *nonce,
                        const void *body, size_t len, struct buf *out)
{
	buf_addf(out, "%s\n%s\n%lld\n%s\n", method, target, (long long)ts, nonce);
	buf_add(out, body ? body : "", body ? len : 0);
	buf_addc(out, '\n');
}

int wxpay_authorization(const struct wxpay *w, const char *method, const char *target, int64_t ts,
                        const char *nonce, const void *body, size_t len, char **out_auth,
                        struct wxr_err *err)
{
	struct buf msg = BUF_INIT;
	char *sig = NULL;
	int r;

	wxpay_sign_message(method, target, ts, nonce, body, len, &msg);
	r = crypto_sign_sha256(w->priv, msg.data, msg.len, &sig, err);
	buf_release(&msg);
	if (r < 0)
		return err_prefix(err, "signing request");
	*out_auth = xasprintf(WXPAY_AUTH_SCHEME " mchid=\"%s\",nonce_str=\"%s\",timestamp=\"%lld\","
	                                        "serial_no=\"%s\",signature=\"%s\"",
	                      w->mchid, nonce, (long long)ts, w->serial_no, sig);
	free(sig);
	return 0;
}

/* ---- verification ---- */

static const struct crypto_key *find_cert(const struct wxpay_key *keys, size_t n,
                                          const char *serial)
{
	for (size_t i = 0; i < n; i++)
		if (serial_eq(keys[i].serial, serial))
			return keys[i].key;
	return NULL;
}

static int parse_ts(const char *s, int64_t *out)
{
	int64_t v = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (!isdigit((unsigned char)s[i]) || i >= 12)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (i == 0)
		return -1;
	*out = v;
	return 0;
}

int wxpay_verify(const struct wxpay *w, const char *what, const char *ts, const char *nonce,
                 const char *signature, const char *serial, const char *sig_type, const void *body,
                 size_t len, const struct wxpay_keyset *extra, struct wxr_err *err)
{
	const struct crypto_key *key = NULL;
	struct buf msg = BUF_INIT;
	char tmp[80];
	int64_t t = 0, now, skew;
	int r;

	if (!ts || !*ts)
		return err_set(err, WXR_ESIG, "%s lacks Wechatpay-Timestamp", what);
	if (!nonce || !*nonce)
		return err_set(err, WXR_ESIG, "%s lacks Wechatpay-Nonce", what);
	if (!signature || !*signature)
		return err_set(err, WXR_ESIG, "%s lacks Wechatpay-Signature", what);
	if (!serial || !*serial)
		return err_set(err, WXR_ESIG, "%s lacks Wechatpay-Serial", what);
	if (strncmp(signature, WXPAY_PROBE_PREFIX, strlen(WXPAY_PROBE_PREFIX)) == 0)
		return err_set(err, WXR_ESIG,
		               "%s carries a WeChat Pay signature probe (Wechatpay-Signature "
		               "starts with " WXPAY_PROBE_PREFIX "): rejected as unverifiable",
		               what);
	if (sig_type && *sig_type && strcmp(sig_type, WXPAY_AUTH_SCHEME) != 0)
		return err_set(err, WXR_ESIG, "%s has unsupported Wechatpay-Signature-Type '%s'",
		               what, shown(sig_type, tmp, sizeof(tmp)));
	if (parse_ts(ts, &t) < 0)
		return err_set(err, WXR_ESIG, "%s has a malformed Wechatpay-Timestamp '%s'", what,
		               shown(ts, tmp, sizeof(tmp)));
	now = wxpay_now(w);
	skew = now > t ? now - t : t - now;
	if (skew >= WXPAY_CLOCK_SKEW_S)
		return err_set(err, WXR_ESIG,
		               "%s timestamp %lld is %lld s away from the local clock (limit %d s; "
		               "is the clock synchronised?)",
		               what, (long long)t, (long long)skew, WXPAY_CLOCK_SKEW_S);
	if (w->pubkey_id && strcmp(serial, w->pubkey_id) == 0) {
		key = w->pubkey;
	} else if (strncmp(serial, WXPAY_PUBKEY_PREFIX, strlen(WXPAY_PUBKEY_PREFIX)) == 0) {
		return err_set(err, WXR_ESIG,
		               "%s is signed with unknown WeChat Pay public key '%s'%s", what,
		               shown(serial, tmp, sizeof(tmp)),
		               w->pubkey_id ? " (not the configured one)"
		                            : " (no WeChat Pay public key configured)");
	} else {
		key = find_cert(w->certs, w->ncerts, serial);
		if (!key && extra)
			key = find_cert(extra->keys, extra->n, serial);
		if (!key)
			return err_set(
			        err, WXR_ESIG,
			        "%s is signed with unknown platform certificate serial '%s'%s",
			        what, shown(serial, tmp, sizeof(tmp)),
			        w->ncerts ? ""
			                  : " (no platform certificates loaded: run 'wxrecon certs "
			                    "update')");
	}
	buf_addf(&msg, "%s\n%s\n", ts, nonce);
	buf_add(&msg, body ? body : "", body ? len : 0);
	buf_addc(&msg, '\n');
	r = crypto_verify_sha256(key, msg.data, msg.len, signature, err);
	buf_release(&msg);
	if (r < 0)
		return err_prefix(err, "%s signature (serial '%s')", what,
		                  shown(serial, tmp, sizeof(tmp)));
	return 0;
}

/* ---- the request engine ---- */

static bool is_probe(const struct http_response *resp)
{
	const char *sig = http_header_get(resp, "Wechatpay-Signature");

	return sig && strncmp(sig, WXPAY_PROBE_PREFIX, strlen(WXPAY_PROBE_PREFIX)) == 0;
}

/*
 * A verification failure: a signature probe fails this answer only (an
 * idempotent call may retry once: *retriable); anything else poisons the
 * handle. err gets the message.
 */
static void verify_failed(struct wxpay *w, const struct wxpay_req *rq, const char *path,
                          const struct http_response *resp, int r, const struct wxr_err *aerr,
                          bool *probe_retry, bool *retriable, struct wxr_err *err)
{
	const char *tail = "";

	if (r == WXR_ESIG && is_probe(resp)) {
		w->last.probe = true;
		*retriable = !rq->money && !*probe_retry;
		*probe_retry = true;
		tail = rq->money ? "; the call's fate is unknown: settle it by a query"
		                 : "; not believed";
	} else if (r == WXR_ESIG) {
		w->poisoned = true;
		*retriable = false;
		tail = "; no money-moving call will be made by this process";
	} else {
		*retriable = false;
	}
	err_set(err, r, "%s %s: %s%s", rq->method, path, aerr->msg, tail);
}

/* Fills w->last from a response (error body parsed when not 2xx). */
static void set_last(struct wxpay *w, const struct http_response *resp, bool got)
{
	struct wxpay_status *st = &w->last;
	const char *rid;
	json_t *root = NULL;

	memset(st, 0, sizeof(*st));
	if (!got)
		return;
	st->http_status = resp->status;
	rid = http_header_get(resp, "Request-ID");
	if (rid)
		safe_copy(st->request_id, sizeof(st->request_id), rid, sizeof(st->request_id));
	if (resp->status >= 200 && resp->status < 300)
		return;
	if (resp->body.len)
		root = json_loadb(resp->body.data, resp->body.len, 0, NULL);
	if (json_is_object(root)) {
		const char *code = json_string_value(json_object_get(root, "code"));
		const char *msg = json_string_value(json_object_get(root, "message"));

		if (code) {
			safe_copy(st->code_raw, sizeof(st->code_raw), code, sizeof(st->code_raw));
			normalise_code(st->code, sizeof(st->code), st->code_raw);
		}
		if (msg)
			safe_copy(st->message, sizeof(st->message), msg, sizeof(st->message));
	} else if (resp->body.len) {
		safe_copy(st->message, sizeof(st->message), resp->body.data, 200);
	}
	json_decref(root);
}

static bool status_retriable(long status)
{
	return status >= 500 || status == 429;
}

/* Backoff before attempt n+1 (n >= 1): exponential with jitter, at least Retry-After. */
static long backoff_ms(const struct wxpay *w, int n, const struct http_response *resp)
{
	long d = w->retry_base_ms;
	long jitter = 0;
	unsigned int rnd = 0;
	const char *ra;

	for (int i = 1; i < n && d < WXPAY_RETRY_CAP_MS; i++)
		d *= 2;
	if (d > WXPAY_RETRY_CAP_MS)
		d = WXPAY_RETRY_CAP_MS;
	if (crypto_random(&rnd, sizeof(rnd), NULL) == 0)
		jitter = (long)(rnd % (unsigned int)(d / 2 + 1));
	d = d / 2 + jitter;
	ra = http_header_get(resp, "Retry-After");
	if (ra && *ra) {
		long secs = -1;

		if (isdigit((unsigned char)ra[0])) {
			char *end;

			secs = strtol(ra, &end, 10);
			if (*end)
				secs = -1;
		} else {
			time_t when = curl_getdate(ra, NULL);

			if (when != -1)
				secs = (long)(when - time(NULL));
		}
		if (secs > WXPAY_RETRY_AFTER_MAX)
			secs = WXPAY_RETRY_AFTER_MAX;
		if (secs > 0 && secs * 1000 > d)
			d = secs * 1000;
	}
	return d;
}

static const char *error_token(int r, const struct http_response *resp, const struct wxpay *w,
                               char *tmp, size_t size)
{
	switch (r) {
	case 0:
		return NULL;
	case WXR_EAPI:
		if (w->last.code_raw[0])
			return w->last.code_raw;
		snprintf(tmp, size, "HTTP_%ld", resp->status);
		return tmp;
	case WXR_ENET:
		return resp->timed_out ? "TIMEOUT" : "NETWORK";
	case WXR_ESIG:
		return "SIGNATURE";
	case WXR_ETOOBIG:
		return "TOO_BIG";
	default:
		return resp->sink_failed ? "RECEIVER" : "ERROR";
	}
}

static int api_error(struct wxpay *w, const char *method, const char *path, struct wxr_err *err)
{
	const struct wxpay_status *st = &w->last;
	char rid[160] = "";

	if (st->request_id[0])
		snprintf(rid, sizeof(rid), " (request-id %s)", st->request_id);
	if (st->code_raw[0])
		return err_set(err, WXR_EAPI, "%s %s: %ld %s: %s%s", method, path, st->http_status,
		               st->code_raw, st->message[0] ? st->message : "(no message)", rid);
	return err_set(err, WXR_EAPI, "%s %s: HTTP %ld%s%s%s", method, path, st->http_status,
	               st->message[0] ? ": " : "", st->message, rid);
}

int wxpay_request(struct wxpay *w, const struct wxpay_req *rq, struct http_response *resp,
                  struct wxr_err *err)
{
	char *path = NULL;
	char *url = NULL;
	char *auth = NULL;
	char *h_auth = NULL, *h_serial = NULL;
	const char *serial;
	const char *hdrs[6];
	int max_attempts = rq->retry ? w->retries + 1 : 1;
	int attempts = 0;
	bool probe_retry = false, unsure = false;
	char net_why[sizeof(err->msg)] = "";
	int r = 0;

	memset(&w->last, 0, sizeof(w->last));
	path = rq->hide_query ? xstrndup(rq->target, strcspn(rq->target, "?"))
	                      : xstrdup(rq->target);
	if (rq->money && w->poisoned) {
		r = err_set(
		        err, WXR_ESIG,
		        "refusing %s %s: an earlier WeChat Pay response failed verification, so "
		        "no money-moving call is made by this process",
		        rq->method, path);
		goto out;
	}
	url = xasprintf("%s%s", rq->origin ? rq->origin : w->origin, rq->target);
	serial = rq->wechatpay_serial ? rq->wechatpay_serial : wxpay_request_serial(w, NULL);
	h_serial = serial ? xasprintf("Wechatpay-Serial: %s", serial) : NULL;

	for (int attempt = 1;; attempt++) {
		struct http_request hr;
		struct wxpay_call call;
		struct wxr_err aerr = WXR_ERR_INIT;
		char nonce[CRYPTO_NONCE_LEN + 1];
		char tok[32];
		size_t nh = 0;
		int64_t t0;
		bool retriable = false;
		bool got;

		r = crypto_nonce(nonce, err);
		if (r < 0)
			goto out;
		free(auth);
		auth = NULL;
		r = wxpay_authorization(w, rq->method, rq->target, wxpay_now(w), nonce, rq->body,
		                        rq->body_len, &auth, err);
		if (r < 0)
			goto out;
		free(h_auth);
		h_auth = xasprintf("Authorization: %s", auth);
		hdrs[nh++] = h_auth;
		hdrs[nh++] = "Accept: application/json";
		if (rq->body)
			hdrs[nh++] = "Content-Type: application/json";
		if (h_serial)
			hdrs[nh++] = h_serial;
		hdrs[nh] = NULL;

		memset(&hr, 0, sizeof(hr));
		hr.method = rq->method;
		hr.url = url;
		hr.headers = hdrs;
		hr.body = rq->body;
		hr.body_len = rq->body_len;
		hr.body_max = WXPAY_JSON_MAX;
		hr.timeout_s = rq->timeout_s;
		hr.fresh = rq->money;
		hr.sink = rq->sink;
		hr.sink_ctx = rq->sink_ctx;

		t0 = clock_mono_ms();
		r = http_do(w->http, &hr, resp, &aerr);
		got = r == 0 || resp->sink_failed;
		if (r < 0) {
			set_last(w, resp, got);
			retriable = r == WXR_ENET && (resp->streamed == 0 || rq->reset);
			err_set(err, r, "%s %s: %s", rq->method, path, aerr.msg);
			snprintf(net_why, sizeof(net_why), "%s", aerr.msg);
		} else if (resp->status >= 200 && resp->status < 300) {
			set_last(w, resp, true);
			if (rq->verify) {
				if (rq->bootstrap)
					r = rq->bootstrap(w, resp, rq->extra, rq->bootstrap_ctx,
					                  &aerr);
				if (r == 0)
					r = wxpay_verify(
					        w, "response",
					        http_header_get(resp, "Wechatpay-Timestamp"),
					        http_header_get(resp, "Wechatpay-Nonce"),
					        http_header_get(resp, "Wechatpay-Signature"),
					        http_header_get(resp, "Wechatpay-Serial"),
					        http_header_get(resp, "Wechatpay-Signature-Type"),
					        resp->body.data, resp->body.len, rq->extra, &aerr);
				if (r < 0)
					verify_failed(w, rq, path, resp, r, &aerr, &probe_retry,
					              &retriable, err);
			}
		} else {
			set_last(w, resp, true);
			retriable = status_retriable(resp->status);
			r = api_error(w, rq->method, path, err);
			/*
			 * Whether WeChat Pay signs error answers is not documented and
			 * the SDKs do not check them. But a decision can rest on an
			 * error code (NO_STATEMENT_EXIST makes an empty day), so an
			 * error answer that carries a signature must carry a good one.
			 */
			if (rq->verify && http_header_get(resp, "Wechatpay-Signature")) {
				int v = wxpay_verify(
				        w, "error response",
				        http_header_get(resp, "Wechatpay-Timestamp"),
				        http_header_get(resp, "Wechatpay-Nonce"),
				        http_header_get(resp, "Wechatpay-Signature"),
				        http_header_get(resp, "Wechatpay-Serial"),
				        http_header_get(resp, "Wechatpay-Signature-Type"),
				        resp->body.data, resp->body.len, NULL, &aerr);

				if (v < 0) {
					r = v;
					verify_failed(w, rq, path, resp, r, &aerr, &probe_retry,
					              &retriable, err);
				}
			}
		}
		attempts = attempt;
		w->last.unsure = unsure;
		if (attempt >= max_attempts + (probe_retry ? 1 : 0))
			retriable = false;
		/* what a later attempt's answer cannot undo: this one may have acted */
		if (r == WXR_ENET || w->last.probe ||
		    (r == WXR_EAPI && status_retriable(resp->status)))
			unsure = true;

		memset(&call, 0, sizeof(call));
		call.method = rq->method;
		call.path = path;
		call.http_status = got ? resp->status : 0;
		call.request_id = w->last.request_id;
		call.attempt = attempt;
		call.elapsed_ms = clock_mono_ms() - t0;
		call.result = r;
		call.error = error_token(r, resp, w, tok, sizeof(tok));
		call.will_retry = retriable;
		if (w->on_call)
			w->on_call(w->on_call_ctx, &call);

		if (r == 0 || !retriable)
			break;
		sleep_ms(backoff_ms(w, attempt, resp));
		if (resp->streamed && rq->reset) {
			int rr = rq->reset(rq->sink_ctx);

			if (rr < 0) {
				err_prefix(err, "cannot restart the download");
				break;
			}
		}
	}
	if (r == WXR_ENET && resp->unreachable) {
		/* not about this call: every call would fail alike; said once, with what to do */
		char n[32] = "";

		w->last.unreachable = true;
		if (attempts > 1)
			snprintf(n, sizeof(n), " (after %d attempts)", attempts);
		err_set(err, WXR_ENET,
		        WXPAY_UNREACHABLE " '%s': %s%s; check DNS, the proxy (https_proxy) and "
		                          "[api] base_url",
		        w->origin, net_why, n);
	} else if (r < 0 && attempts > 1 && err) {
		size_t l = strlen(err->msg);

		snprintf(err->msg + l, sizeof(err->msg) - l, " (after %d attempts)", attempts);
	}
out:
	if (auth)
		crypto_wipe(auth, strlen(auth));
	free(auth);
	free(h_auth);
	free(h_serial);
	free(url);
	free(path);
	return r;
}
