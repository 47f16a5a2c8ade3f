/*
 * wxpay_notify.c - the calls that decrypt or sign locally: callback
 * notifications (PROTOCOL section 3), platform certificates (4.10) and the
 * APP invoke signature (section 5).
 */
#include "wx/wxpay_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "base/err.h"
#include "base/xalloc.h"

#define NOTIFY_BODY_MAX (1024 * 1024)

/* Decrypts an encrypt-resource/encrypt_certificate object with the APIv3 key. */
static int decrypt_resource(const struct wxpay *w, const json_t *res, struct buf *out,
                            struct wxr_err *err)
{
	const char *alg = json_string_value(json_object_get(res, "algorithm"));
	const char *nonce = json_string_value(json_object_get(res, "nonce"));
	const char *aad = json_string_value(json_object_get(res, "associated_data"));
	const char *ct = json_string_value(json_object_get(res, "ciphertext"));

	if (!w->apiv3_key_len)
		return err_set(err, WXR_ECONFIG, "no APIv3 key configured to decrypt with");
	if (!json_is_object(res) || !nonce || !ct)
		return err_set(err, WXR_EDATA, "encrypted resource lacks nonce or ciphertext");
	if (alg && strcmp(alg, "AEAD_AES_256_GCM") != 0)
		return err_set(err, WXR_EDATA, "unsupported resource algorithm '%.40s'", alg);
	return crypto_aesgcm_decrypt_b64(w->apiv3_key, w->apiv3_key_len, nonce, aad ? aad : "", ct,
	                                 out, err);
}

/* ---- notifications ---- */

void wxpay_notification_release(struct wxpay_notification *n)
{
	if (!n)
		return;
	free(n->id);
	free(n->create_time);
	free(n->event_type);
	free(n->resource_type);
	free(n->summary);
	free(n->original_type);
	free(n->associated_data);
	if (n->plaintext)
		crypto_wipe(n->plaintext, n->plaintext_len);
	free(n->plaintext);
	memset(n, 0, sizeof(*n));
}

int wxpay_notify_parse(struct wxpay *w, const struct wxpay_notify_headers *hdr, const void *body,
                       size_t len, struct wxpay_notification *out, struct wxr_err *err)
{
	struct wxpay_notification n;
	struct buf pt;
	json_t *root = NULL;
	const json_t *res;
	int r;

	memset(&n, 0, sizeof(n));
	buf_init_max(&pt, NOTIFY_BODY_MAX);
	if (len > NOTIFY_BODY_MAX)
		return err_set(err, WXR_ETOOBIG, "notification body larger than %d bytes",
		               NOTIFY_BODY_MAX);
	r = wxpay_verify(w, "notification", hdr->timestamp, hdr->nonce, hdr->signature, hdr->serial,
	                 hdr->signature_type, body, len, NULL, err);
	if (r < 0)
		goto out;
	r = wxpay_jparse(body, len, &root, err);
	if (r < 0) {
		err_prefix(err, "notification");
		goto out;
	}
	res = json_object_get(root, "resource");
	n.id = wxpay_jstr(root, "id");
	n.event_type = wxpay_jstr(root, "event_type");
	if (!n.id[0] || !n.event_type[0] || !json_is_object(res)) {
		r = err_set(err, WXR_EDATA, "notification lacks id, event_type or resource");
		goto out;
	}
	n.create_time = wxpay_jstr(root, "create_time");
	n.resource_type = wxpay_jstr(root, "resource_type");
	n.summary = wxpay_jstr(root, "summary");
	n.original_type = wxpay_jstr(res, "original_type");
	n.associated_data = wxpay_jstr(res, "associated_data");
	r = decrypt_resource(w, res, &pt, err);
	if (r < 0) {
		err_prefix(err, "notification '%s' resource", n.id);
		goto out;
	}
	n.plaintext = buf_detach(&pt, &n.plaintext_len);
	*out = n;
	memset(&n, 0, sizeof(n));
out:
	wxpay_notification_release(&n);
	crypto_wipe(pt.data, pt.len);
	buf_release(&pt);
	json_decref(root);
	return r;
}

/* ---- platform certificates ---- */

void wxpay_cert_list_release(struct wxpay_cert_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].serial_no);
		free(l->items[i].effective_time);
		free(l->items[i].expire_time);
		free(l->items[i].pem);
	}
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

struct certs_ctx {
	struct wxpay_cert_list list; /* decrypted certificates */
};

/* Bootstrap step of GET /v3/certificates: decrypt every certificate before verifying. */
static int certs_bootstrap(struct wxpay *w, const struct http_response *resp,
                           struct wxpay_keyset *extra, void *vctx, struct wxr_err *err)
{
	struct certs_ctx *ctx = vctx;
	json_t *root = NULL;
	const json_t *data;
	size_t i;
	int r;

	wxpay_cert_list_release(&ctx->list);
	wxpay_keyset_release(extra);
	r = wxpay_jparse(resp->body.data, resp->body.len, &root, err);
	if (r < 0)
		return err_prefix(err, "certificates");
	data = json_object_get(root, "data");
	if (!json_is_array(data) || json_array_size(data) == 0) {
		r = err_set(err, WXR_EDATA, "certificates: answer has no data");
		goto out;
	}
	ctx->list.items = xcalloc(json_array_size(data), sizeof(*ctx->list.items));
	extra->keys = xcalloc(json_array_size(data), sizeof(*extra->keys));
	for (i = 0; i < json_array_size(data); i++) {
		const json_t *item = json_array_get(data, i);
		struct wxpay_platform_cert *pc = &ctx->list.items[ctx->list.n];
		struct wxpay_key *k = &extra->keys[extra->n];
		struct crypto_cert_info info;
		struct buf pem;

		buf_init_max(&pem, 64 * 1024);
		pc->serial_no = wxpay_jstr(item, "serial_no");
		pc->effective_time = wxpay_jstr(item, "effective_time");
		pc->expire_time = wxpay_jstr(item, "expire_time");
		ctx->list.n++;
		r = decrypt_resource(w, json_object_get(item, "encrypt_certificate"), &pem, err);
		if (r == 0)
			r = crypto_key_public_from_pem(buf_str(&pem), pem.len, &k->key, &info, err);
		pc->pem = buf_detach(&pem, &pc->pem_len);
		if (r < 0) {
			err_prefix(err, "certificate '%.64s'", pc->serial_no);
			goto out;
		}
		extra->n++;
		if (!info.serial[0] || strcasecmp(info.serial, pc->serial_no) != 0) {
			r = err_set(err, WXR_EDATA, "certificate listed as '%.64s' has serial '%s'",
			            pc->serial_no, info.serial);
			goto out;
		}
		memcpy(k->serial, info.serial, sizeof(k->serial));
		k->not_before = info.not_before;
		k->not_after = info.not_after;
	}
out:
	json_decref(root);
	return r;
}

int wxpay_certificates(struct wxpay *w, struct wxpay_cert_list *out, struct wxr_err *err)
{
	struct wxpay_req rq;
	struct http_response resp;
	struct wxpay_keyset extra = { NULL, 0 };
	struct certs_ctx ctx;
	char *target = NULL;
	int r;

	if (!w->apiv3_key_len)
		return err_set(err, WXR_ECONFIG,
		               "downloading platform certificates needs the "
		               "APIv3 key");
	memset(&ctx, 0, sizeof(ctx));
	http_response_init(&resp);
	target = xasprintf("%s/v3/certificates", w->base_path);
	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.target = target;
	rq.retry = true;
	rq.verify = true;
	rq.bootstrap = certs_bootstrap;
	rq.bootstrap_ctx = &ctx;
	rq.extra = &extra;
	r = wxpay_request(w, &rq, &resp, err);
	if (r == 0) {
		*out = ctx.list;
		memset(&ctx.list, 0, sizeof(ctx.list));
	}
	wxpay_cert_list_release(&ctx.list);
	wxpay_keyset_release(&extra);
	http_response_release(&resp);
	free(target);
	return r;
}

/* ---- APP invoke signature ---- */

void wxpay_app_invoke_release(struct wxpay_app_invoke *a)
{
	if (!a)
		return;
	free(a->appid);
	free(a->partnerid);
	free(a->prepayid);
	free(a->package);
	free(a->noncestr);
	free(a->timestamp);
	free(a->sign);
	memset(a, 0, sizeof(*a));
}

int wxpay_app_invoke_at(struct wxpay *w, const char *prepay_id, int64_t timestamp,
                        const char *nonce, struct wxpay_app_invoke *out, struct wxr_err *err)
{
	struct wxpay_app_invoke a;
	struct buf msg = BUF_INIT;
	char *sig = NULL;
	int r;

	if (!w->appid[0])
		return err_set(err, WXR_ECONFIG, "the APP invoke signature needs the appid");
	if (!prepay_id || !*prepay_id || strchr(prepay_id, '\n'))
		return err_set(err, WXR_EUSAGE, "prepay_id missing or malformed");
	if (!nonce || !*nonce || strlen(nonce) > 32 || strchr(nonce, '\n'))
		return err_set(err, WXR_EUSAGE, "nonce must be 1 to 32 characters");
	/* PROTOCOL section 5: the bare prepay_id, not "prepay_id=..." (that is JSAPI). */
	buf_addf(&msg, "%s\n%lld\n%s\n%s\n", w->appid, (long long)timestamp, nonce, prepay_id);
	r = crypto_sign_sha256(w->priv, msg.data, msg.len, &sig, err);
	buf_release(&msg);
	if (r < 0)
		return err_prefix(err, "APP invoke signature");
	a.appid = xstrdup(w->appid);
	a.partnerid = xstrdup(w->mchid);
	a.prepayid = xstrdup(prepay_id);
	a.package = xstrdup("Sign=WXPay");
	a.noncestr = xstrdup(nonce);
	a.timestamp = xasprintf("%lld", (long long)timestamp);
	a.sign = sig;
	*out = a;
	return 0;
}

int wxpay_app_invoke(struct wxpay *w, const char *prepay_id, struct wxpay_app_invoke *out,
                     struct wxr_err *err)
{
	char nonce[CRYPTO_NONCE_LEN + 1];
	int r;

	r = crypto_nonce(nonce, err);
	if (r < 0)
		return r;
	return wxpay_app_invoke_at(w, prepay_id, wxpay_now(w), nonce, out, err);
}
