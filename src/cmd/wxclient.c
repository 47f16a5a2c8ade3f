/*
 * cmd_wxclient.c - builds the WeChat Pay client from the configuration for the
 * commands that talk to WeChat Pay, with every API call audited.
 */
#include "cmd/wxclient.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "db/audit.h"
#include "db/db_certs.h"

#define CERT_FILE_MAX (64 * 1024) /* a PEM certificate is a few KiB */

struct hook_ctx {
	struct db *db;
	int64_t run_id;
};

static struct hook_ctx hook;

/* Every attempt of every call goes into the audit log: method, path (the
 * client strips the bill-download token), status, Request-ID; never a secret. */
static void on_call(void *p, const struct wxpay_call *c)
{
	struct hook_ctx *h = p;
	struct wxr_err err = WXR_ERR_INIT;
	json_t *d = json_pack("{s:s, s:s, s:i, s:s, s:i, s:I, s:s?, s:b}", "method", c->method,
	                      "path", c->path, "status", (int)c->http_status, "request_id",
	                      c->request_id ? c->request_id : "", "attempt", c->attempt, "ms",
	                      (json_int_t)c->elapsed_ms, "error", c->error, "will_retry",
	                      c->will_retry);
	char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
	char subject[300];

	snprintf(subject, sizeof(subject), "%s %s", c->method, c->path);
	if (audit_append(h->db, h->run_id, "wxpay", "http", subject, text, &err) < 0)
		log_warn("cannot audit an API call: %s", err.msg);
	log_debug("%s %s -> %ld %s%s", c->method, c->path, c->http_status,
	          c->request_id ? c->request_id : "", c->will_retry ? " (will retry)" : "");
	free(text);
	json_decref(d);
}

static int load_cert_dir(struct wxpay *w, const char *dir, struct wxr_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int r = 0;

	if (!d)
		return err_set(err, WXR_ECONFIG, "platform_cert_dir '%s': %s", dir,
		               strerror(errno));
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		char *path;
		struct buf b = BUF_INIT;

		if (n < 5 || strcmp(e->d_name + n - 4, ".pem") != 0)
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		if (buf_read_file(&b, path, CERT_FILE_MAX, err) < 0) {
			r = err->code = WXR_ECONFIG; /* a bad file in the configured directory */
			buf_release(&b);
			free(path);
			break;
		}
		r = wxpay_add_platform_cert(w, buf_str(&b), b.len, err);
		buf_release(&b);
		if (r < 0) {
			err_prefix(err, "'%s'", path);
			free(path);
			break;
		}
		free(path);
	}
	closedir(d);
	return r;
}

static int add_db_cert(void *arg, const struct db_cert *c, struct wxr_err *err)
{
	return wxpay_add_platform_cert(arg, c->pem, strlen(c->pem), err);
}

static int load_db_certs(struct wxpay *w, struct db *db, struct wxr_err *err)
{
	return db_certs_each(db, add_db_cert, w, err);
}

int wxclient_open(struct ctx *ctx, struct wxpay **out, struct wxr_err *err)
{
	struct wxpay_config wc;
	struct wxpay *w = NULL;
	char key[33];
	int r;

	r = config_check_merchant(&ctx->cfg, key, err);
	if (r < 0)
		return r;
	hook.db = ctx->db;
	hook.run_id = ctx->run_id;
	memset(&wc, 0, sizeof(wc));
	wc.mchid = ctx->cfg.mchid;
	wc.appid = ctx->cfg.appid;
	wc.serial_no = ctx->cfg.serial_no;
	wc.private_key_path = ctx->cfg.private_key;
	wc.apiv3_key = key;
	wc.apiv3_key_len = 32;
	wc.wechatpay_public_key_path = ctx->cfg.wechatpay_public_key;
	wc.wechatpay_public_key_id = ctx->cfg.wechatpay_public_key_id;
	wc.base_url = ctx->cfg.base_url;
	wc.timeout_s = ctx->cfg.timeout_s;
	wc.retries = ctx->cfg.retries;
	wc.ca_bundle = ctx->cfg.ca_bundle;
	wc.on_call = ctx->db ? on_call : NULL;
	wc.on_call_ctx = &hook;
	wc.retry_base_ms = ctx->cfg.retry_base_ms;
	w = wxpay_new(&wc, err);
	OPENSSL_cleanse(key, sizeof(key));
	if (!w)
		return err ? err->code : WXR_ECONFIG;
	if (ctx->cfg.platform_cert_dir) {
		r = load_cert_dir(w, ctx->cfg.platform_cert_dir, err);
		if (r < 0)
			goto fail;
	}
	if (ctx->db) {
		r = load_db_certs(w, ctx->db, err);
		if (r < 0)
			goto fail;
	}
	*out = w;
	return 0;
fail:
	wxpay_free(w);
	return r;
}
