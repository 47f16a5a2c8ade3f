/*
 * wxclient.c - builds the WeChat Pay client from the configuration for
 * everything that talks to WeChat Pay, with every API call audited.
 */
#include "core/wxclient.h"

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
#include "core/certs.h"
#include "db/audit.h"

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

int wxclient_new(const struct config *cfg, struct db *db, int64_t run_id, struct wxpay **out,
                 struct wxr_err *err)
{
	struct wxpay_config wc;
	struct wxpay *w = NULL;
	char key[33];
	int r;

	r = config_check_merchant(cfg, key, err);
	if (r < 0)
		return r;
	hook.db = db;
	hook.run_id = run_id;
	memset(&wc, 0, sizeof(wc));
	wc.mchid = cfg->mchid;
	wc.appid = cfg->appid;
	wc.serial_no = cfg->serial_no;
	wc.private_key_path = cfg->private_key;
	wc.apiv3_key = key;
	wc.apiv3_key_len = 32;
	wc.wechatpay_public_key_path = cfg->wechatpay_public_key;
	wc.wechatpay_public_key_id = cfg->wechatpay_public_key_id;
	wc.base_url = cfg->base_url;
	wc.timeout_s = cfg->timeout_s;
	wc.retries = cfg->retries;
	wc.ca_bundle = cfg->ca_bundle;
	wc.on_call = db ? on_call : NULL;
	wc.on_call_ctx = &hook;
	wc.retry_base_ms = cfg->retry_base_ms;
	w = wxpay_new(&wc, err);
	OPENSSL_cleanse(key, sizeof(key));
	if (!w)
		return err ? err->code : WXR_ECONFIG;
	if (cfg->platform_cert_dir) {
		r = load_cert_dir(w, cfg->platform_cert_dir, err);
		if (r < 0)
			goto fail;
	}
	if (db) {
		r = certs_load(w, db, err);
		if (r < 0)
			goto fail;
	}
	*out = w;
	return 0;
fail:
	wxpay_free(w);
	return r;
}
