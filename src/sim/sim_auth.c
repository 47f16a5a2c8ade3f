/*
 * sim_auth.c - strict parsing of the Authorization header and verification
 * of a request's signature (PROTOCOL.md section 1).
 *
 *   Authorization: WECHATPAY2-SHA256-RSA2048 k="v",k="v",... (five fields, any order)
 *   signed message: METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n
 */
#include "sim/sim.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"

#define AUTH_SCHEME "WECHATPAY2-SHA256-RSA2048 "

static const char MSG_MALFORMED[] =
        "Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》";

void sim_auth_release(struct sim_auth *a)
{
	if (!a)
		return;
	free(a->mchid);
	free(a->nonce_str);
	free(a->timestamp);
	free(a->serial_no);
	free(a->signature);
	memset(a, 0, sizeof(*a));
}

static char **auth_slot(struct sim_auth *a, const char *key, size_t n)
{
	static const char *const names[] = { "mchid", "nonce_str", "timestamp", "serial_no",
		                             "signature" };
	char **slots[] = { &a->mchid, &a->nonce_str, &a->timestamp, &a->serial_no, &a->signature };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strlen(names[i]) == n && memcmp(names[i], key, n) == 0)
			return slots[i];
	return NULL;
}

int sim_auth_parse(const char *hdr, struct sim_auth *out, struct wxr_err *err)
{
	struct sim_auth a;
	const char *p;
	int r = 0;

	memset(&a, 0, sizeof(a));
	if (!hdr)
		return err_set(err, WXR_ESIG, "no Authorization header");
	if (strncmp(hdr, AUTH_SCHEME, strlen(AUTH_SCHEME)) != 0)
		return err_set(err, WXR_ESIG, "scheme is not '%s'", "WECHATPAY2-SHA256-RSA2048");
	p = hdr + strlen(AUTH_SCHEME);
	for (;;) {
		const char *k = p, *v;
		size_t kn, vn;
		char **slot;

		while ((*p >= 'a' && *p <= 'z') || *p == '_')
			p++;
		kn = (size_t)(p - k);
		if (kn == 0 || p[0] != '=' || p[1] != '"') {
			r = err_set(err, WXR_ESIG, "expected key=\"value\" at offset %zu",
			            (size_t)(k - hdr));
			goto out;
		}
		p += 2;
		v = p;
		while (*p && *p != '"' && (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f)
			p++;
		if (*p != '"') {
			r = err_set(err, WXR_ESIG, "unterminated or bad value of '%.*s'", (int)kn,
			            k);
			goto out;
		}
		vn = (size_t)(p - v);
		p++;
		slot = auth_slot(&a, k, kn);
		if (!slot) {
			r = err_set(err, WXR_ESIG, "unknown field '%.*s'", (int)kn, k);
			goto out;
		}
		if (*slot) {
			r = err_set(err, WXR_ESIG, "field '%.*s' given twice", (int)kn, k);
			goto out;
		}
		if (vn == 0) {
			r = err_set(err, WXR_ESIG, "field '%.*s' is empty", (int)kn, k);
			goto out;
		}
		*slot = xstrndup(v, vn);
		if (*p == '\0')
			break;
		if (*p != ',') {
			r = err_set(err, WXR_ESIG, "expected ',' at offset %zu", (size_t)(p - hdr));
			goto out;
		}
		p++;
	}
	if (!a.mchid || !a.nonce_str || !a.timestamp || !a.serial_no || !a.signature) {
		r = err_set(err, WXR_ESIG,
		            "a field is missing (need mchid, nonce_str, timestamp, "
		            "serial_no, signature)");
		goto out;
	}
	if (!sim_str_charset(a.nonce_str, 1, 32, NULL)) {
		r = err_set(err, WXR_ESIG, "nonce_str must be 1-32 characters of [0-9A-Za-z]");
		goto out;
	}
	if (strlen(a.timestamp) != 10 || !sim_str_charset(a.timestamp, 10, 10, NULL) ||
	    strspn(a.timestamp, "0123456789") != 10) {
		r = err_set(err, WXR_ESIG, "timestamp '%s' is not 10 digits of Unix seconds",
		            a.timestamp);
		goto out;
	}
	*out = a;
	return 0;
out:
	sim_auth_release(&a);
	return r;
}

/* Fills rs with 401 SIGN_ERROR and the sign_information detail. */
static void sign_error(struct sim_resp *rs, const char *method, const char *target, const char *msg,
                       size_t msg_len)
{
	size_t cut = msg_len > SIM_SIGN_TRUNCATE ? SIM_SIGN_TRUNCATE : msg_len;
	json_t *info, *detail, *shown;

	/* do not split a UTF-8 character */
	while (cut < msg_len && cut > 0 && ((unsigned char)msg[cut] & 0xC0) == 0x80)
		cut--;
	shown = json_stringn(msg, cut);
	if (!shown) {
		/* not UTF-8: show the bytes above 0x7f as '?' */
		char *copy = xstrndup(msg, cut);

		for (size_t i = 0; i < cut; i++)
			if ((unsigned char)copy[i] >= 0x80 || copy[i] == '\0')
				copy[i] = '?';
		shown = json_stringn(copy, cut);
		free(copy);
	}
	info = json_pack("{s:s, s:s, s:I, s:o}", "method", method, "url", target,
	                 "sign_message_length", (json_int_t)msg_len, "truncated_sign_message",
	                 shown);
	detail = json_pack("{s:s, s:s, s:s, s:o}", "field", "signature", "location",
	                   "authorization", "issue", "sign not match", "sign_information", info);
	sim_resp_error(rs, 401, "SIGN_ERROR", "错误的签名，验签失败", detail);
}

int sim_auth_verify(struct sim *s, const char *method, const char *target, const char *body,
                    size_t body_len, const char *hdr, struct sim_resp *rs, char **out_mchid)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct sim_auth a;
	struct buf msg = BUF_INIT;
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	int64_t ts, now;
	int r = -1;

	memset(&a, 0, sizeof(a));
	if (sim_auth_parse(hdr, &a, &err) < 0) {
		sim_resp_error(
		        rs, SIM_STATUS_AUTH_MALFORMED, SIM_CODE_AUTH_MALFORMED, MSG_MALFORMED,
		        json_pack("{s:s, s:s}", "location", "authorization", "issue", err.msg));
		goto out;
	}
	if (strcmp(a.mchid, s->cfg.mchid) != 0) {
		sim_resp_error(rs, 401, "SIGN_ERROR", "商户号不存在或与签名证书不匹配",
		               json_pack("{s:s, s:s, s:s}", "field", "mchid", "location",
		                         "authorization", "issue", "unknown merchant"));
		goto out;
	}
	if (strcmp(a.serial_no, s->keys.merchant_serial) != 0) {
		sim_resp_error(rs, 401, "SIGN_ERROR",
		               "商户证书序列号有误。请使用签名私钥匹配的证书序列号",
		               json_pack("{s:s, s:s, s:s}", "field", "serial_no", "location",
		                         "authorization", "issue", "unknown certificate serial"));
		goto out;
	}
	ts = strtoll(a.timestamp, NULL, 10);
	now = sim_real_now();
	if (ts > now + SIM_AUTH_WINDOW_S || ts < now - SIM_AUTH_WINDOW_S) {
		sim_resp_error(rs, 401, "SIGN_ERROR", "请求的时间戳已过期或无效",
		               json_pack("{s:s, s:s, s:s}", "field", "timestamp", "location",
		                         "authorization", "issue",
		                         "timestamp differs from server time by more than 300s"));
		goto out;
	}
	buf_addf(&msg, "%s\n%s\n%s\n%s\n", method, target, a.timestamp, a.nonce_str);
	buf_add(&msg, body, body_len);
	buf_addc(&msg, '\n');
	if (sim_b64_decode(a.signature, strlen(a.signature), &sig, &sig_len) < 0 ||
	    !sim_verify(s->keys.merchant_pub, msg.data, msg.len, sig, sig_len)) {
		sign_error(rs, method, target, msg.data, msg.len);
		goto out;
	}
	*out_mchid = a.mchid;
	a.mchid = NULL;
	r = 0;
out:
	free(sig);
	buf_release(&msg);
	sim_auth_release(&a);
	return r;
}
