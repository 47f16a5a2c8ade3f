/*
 * sim_http.c - libmicrohttpd glue of the simulator: one thread per
 * connection, the raw request target (from the URI log callback, before any
 * unescaping), request checks in WeChat Pay's order, fault injection, the
 * journal, and response signing.
 */
#include "sim/sim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "sim/sim_notify.h"

struct conn {
	char *uri;
	struct buf body;
	bool started;
	bool too_big;
};

/* ---- request ids ---- */

/* The part after the last '-' is an internal numeric error code (PROTOCOL.md 0). */
static long reqid_code(const char *code)
{
	if (!code)
		return 0;
	if (strcmp(code, "ORDER_NOT_EXIST") == 0)
		return 268512771;
	if (strcmp(code, SIM_CODE_ORDER_PAID) == 0)
		return 268449538;
	return 268435456; /* any other error: one made-up number */
}

static char *make_request_id(struct sim *s, const char *code)
{
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	n = ++s->reqno;
	pthread_mutex_unlock(&s->lock);
	return xasprintf("%s%016llX-%ld", s->reqid_prefix, (unsigned long long)n, reqid_code(code));
}

/* ---- request parsing ---- */

static void req_release(struct sim_req *rq)
{
	for (size_t i = 0; i < rq->nargs; i++) {
		free(rq->args[i].key);
		free(rq->args[i].val);
	}
	free(rq->args);
	free(rq->path);
}

/* Splits the raw query into decoded parameters; -1 on a malformed one. */
static int parse_query(struct sim_req *rq)
{
	const char *p = rq->raw_query;

	if (!p)
		return 0;
	if (!*p)
		return -1;
	while (*p) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		char *k, *v;

		if (!eq || eq == p)
			return -1;
		k = sim_pct_decode(p, (size_t)(eq - p));
		v = sim_pct_decode(eq + 1, n - (size_t)(eq - p) - 1);
		if (!k || !v || sim_req_arg(rq, k)) {
			free(k);
			free(v);
			return -1;
		}
		rq->args = xreallocarray(rq->args, rq->nargs + 1, sizeof(*rq->args));
		rq->args[rq->nargs].key = k;
		rq->args[rq->nargs].val = v;
		rq->nargs++;
		if (!amp)
			break;
		p = amp + 1;
		if (!*p)
			return -1;
	}
	return 0;
}

/* ---- responses ---- */

static ssize_t dl_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	long n = sim_download_read(cls, buf, max);

	(void)pos;
	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return (ssize_t)n;
}

static void dl_free(void *cls)
{
	sim_download_free(cls);
}

static enum MHD_Result queue(struct MHD_Connection *con, struct sim_resp *rs,
                             const char *const *headers)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (rs->dl) {
		int64_t size = sim_download_size(rs->dl);

		r = MHD_create_response_from_callback(size < 0 ? MHD_SIZE_UNKNOWN : (uint64_t)size,
		                                      64 * 1024, dl_reader, rs->dl, dl_free);
		rs->dl = NULL;
		if (!r)
			return MHD_NO;
		MHD_add_response_header(r, "Content-Type", "application/octet-stream");
	} else {
		r = MHD_create_response_from_buffer(rs->body.len,
		                                    rs->body.len ? rs->body.data : (void *)"",
		                                    MHD_RESPMEM_MUST_COPY);
		if (!r)
			return MHD_NO;
		if (rs->status != 204)
			MHD_add_response_header(r, "Content-Type", "application/json");
	}
	for (size_t i = 0; headers && headers[i]; i += 2)
		MHD_add_response_header(r, headers[i], headers[i + 1]);
	ret = MHD_queue_response(con, (unsigned)rs->status, r);
	MHD_destroy_response(r);
	return ret;
}

static void resp_release(struct sim_resp *rs)
{
	buf_release(&rs->body);
	sim_download_free(rs->dl);
	rs->dl = NULL;
}

/* ---- the request flow ---- */

static const char *header(struct MHD_Connection *con, const char *name)
{
	return MHD_lookup_connection_value(con, MHD_HEADER_KIND, name);
}

static bool is_json_type(const char *ct)
{
	size_t n = strlen("application/json");

	return ct && strncasecmp(ct, "application/json", n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static enum MHD_Result handle_admin(struct sim *s, struct MHD_Connection *con, const char *method,
                                    struct sim_req *rq, bool too_big)
{
	struct sim_resp rs;
	enum MHD_Result ret;

	memset(&rs, 0, sizeof(rs));
	buf_init(&rs.body);
	if (too_big) {
		sim_resp_error(&rs, 413, "TOO_BIG", "the admin body is over the limit", NULL);
	} else {
		pthread_mutex_lock(&s->lock);
		sim_admin_handle(s, method, rq->path, rq->body, rq->body_len, &rs);
		pthread_mutex_unlock(&s->lock);
	}
	ret = queue(con, &rs, NULL);
	resp_release(&rs);
	return ret;
}

static void sign_response(struct sim *s, struct sim_resp *rs, const struct sim_fault *fault,
                          char **hdrs, size_t *nh)
{
	char ts[24], nonce[33];
	struct buf msg = BUF_INIT;
	char *sig;

	snprintf(ts, sizeof(ts), "%lld", (long long)sim_real_now());
	sim_rand_alnum(nonce, 32);
	buf_addf(&msg, "%s\n%s\n", ts, nonce);
	buf_add(&msg, rs->body.data ? rs->body.data : "", rs->body.len);
	buf_addc(&msg, '\n');
	if (fault && fault->kind == SIM_FAULT_BAD_SIGNATURE && fault->probe) {
		char rnd[65];

		sim_rand_alnum(rnd, 64);
		sig = xasprintf("WECHATPAY/SIGNTEST/%s", rnd);
	} else {
		if (fault && fault->kind == SIM_FAULT_BAD_SIGNATURE)
			buf_adds(&msg, "tampered"); /* a valid signature of another message */
		sig = sim_sign(s->keys.wechat_key, msg.data, msg.len);
		if (!sig)
			sig = xstrdup("");
	}
	hdrs[(*nh)++] = xstrdup("Wechatpay-Timestamp");
	hdrs[(*nh)++] = xstrdup(ts);
	hdrs[(*nh)++] = xstrdup("Wechatpay-Nonce");
	hdrs[(*nh)++] = xstrdup(nonce);
	hdrs[(*nh)++] = xstrdup("Wechatpay-Signature");
	hdrs[(*nh)++] = sig;
	hdrs[(*nh)++] = xstrdup("Wechatpay-Serial");
	hdrs[(*nh)++] = xstrdup(s->cfg.cert_mode ? s->keys.cert_serial : s->keys.pub_key_id);
	hdrs[(*nh)++] = xstrdup("Wechatpay-Signature-Type");
	hdrs[(*nh)++] = xstrdup("WECHATPAY2-SHA256-RSA2048");
	buf_release(&msg);
}

static enum MHD_Result handle_api(struct sim *s, struct MHD_Connection *con, const char *method,
                                  struct sim_req *rq, bool too_big)
{
	struct sim_resp rs;
	struct sim_fault fault;
	bool have_fault = false, auth_ok = false, drop = false;
	char *hdrs[16];
	size_t nh = 0;
	char *param = NULL, *mchid = NULL, *reqid = NULL;
	const char *ua = header(con, "User-Agent"), *accept = header(con, "Accept");
	enum sim_ep ep = SIM_EP_NONE;
	enum MHD_Result ret;

	memset(&rs, 0, sizeof(rs));
	memset(&fault, 0, sizeof(fault));
	buf_init(&rs.body);
	rq->wechatpay_serial = header(con, "Wechatpay-Serial");

	if (!ua || !*ua || !accept || !*accept) {
		sim_resp_error(&rs, 400, SIM_CODE_NO_UA_ACCEPT, "Http头缺少Accept或User-Agent",
		               NULL);
		goto respond;
	}
	if (too_big) {
		sim_resp_error(&rs, 400, "PARAM_ERROR", "请求体过大", NULL);
		goto respond;
	}
	if (sim_auth_verify(s, method, rq->target, rq->body, rq->body_len,
	                    header(con, "Authorization"), &rs, &mchid) < 0)
		goto respond;
	auth_ok = true;
	rq->auth_mchid = mchid;
	if (parse_query(rq) < 0) {
		sim_resp_error(&rs, 400, "PARAM_ERROR", "查询参数格式错误",
		               json_pack("{s:s}", "location", "query"));
		goto respond;
	}
	if (rq->wechatpay_serial && strcmp(rq->wechatpay_serial, s->keys.pub_key_id) != 0 &&
	    strcmp(rq->wechatpay_serial, s->keys.cert_serial) != 0) {
		sim_resp_error(&rs, 400, "INVALID_REQUEST",
		               "Wechatpay-Serial对应的微信支付公钥或平台证书不存在", NULL);
		goto respond;
	}
	if (rq->body_len && !is_json_type(header(con, "Content-Type"))) {
		sim_resp_error(&rs, 400, SIM_CODE_BAD_CONTENT_TYPE,
		               "Content-Type必须为application/json", NULL);
		goto respond;
	}
	ep = sim_api_route(method, rq->path, &param);
	pthread_mutex_lock(&s->lock);
	have_fault = sim_fault_take(s, ep, rq->path, &fault);
	pthread_mutex_unlock(&s->lock);
	if (have_fault && fault.kind == SIM_FAULT_DELAY) {
		struct timespec d = { fault.ms / 1000, (fault.ms % 1000) * 1000000L };

		while (nanosleep(&d, &d) < 0 && errno == EINTR)
			;
	}
	if (have_fault && fault.kind == SIM_FAULT_STATUS) {
		sim_resp_error(&rs, fault.status, fault.code, fault.message, NULL);
		goto respond;
	}
	if (have_fault && fault.kind == SIM_FAULT_DROP && !fault.after) {
		drop = true;
		goto respond;
	}
	pthread_mutex_lock(&s->lock);
	sim_api_handle(s, ep, param, rq, &rs, have_fault ? &fault : NULL);
	pthread_mutex_unlock(&s->lock);
	if (have_fault && fault.kind == SIM_FAULT_DROP)
		drop = true;
respond:
	if (drop) {
		sim_journal_add(s, method, rq->path, rq->target, 0, NULL, auth_ok, "drop");
		ret = MHD_NO; /* closes the connection without an answer */
		goto out;
	}
	reqid = make_request_id(s, rs.code);
	if (!rs.dl)
		sign_response(s, &rs, have_fault ? &fault : NULL, hdrs, &nh);
	hdrs[nh++] = xstrdup("Request-ID");
	hdrs[nh++] = xstrdup(reqid);
	hdrs[nh] = NULL;
	sim_journal_add(s, method, rq->path, rq->target, rs.status, reqid, auth_ok,
	                have_fault ? sim_fault_kind_name(fault.kind) : NULL);
	ret = queue(con, &rs, (const char *const *)hdrs);
	for (size_t i = 0; i < nh; i++)
		free(hdrs[i]);
out:
	resp_release(&rs);
	sim_fault_release(&fault);
	free(param);
	free(mchid);
	free(reqid);
	return ret;
}

static enum MHD_Result handle_other(struct sim *s, struct MHD_Connection *con, const char *method,
                                    struct sim_req *rq)
{
	struct sim_resp rs;
	enum MHD_Result ret;

	memset(&rs, 0, sizeof(rs));
	buf_init(&rs.body);
	sim_resp_error(&rs, 404, SIM_CODE_NOT_FOUND, "not found", NULL);
	sim_journal_add(s, method, rq->path, rq->target, 404, NULL, false, NULL);
	ret = queue(con, &rs, NULL);
	resp_release(&rs);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	struct sim *s = cls;
	struct conn *c = *con_cls;
	struct sim_req rq;
	const char *q;
	enum MHD_Result ret;

	(void)version;
	if (!c) {
		/* no URI log callback ran (should not happen): make one from the path */
		c = xcalloc(1, sizeof(*c));
		c->uri = xstrdup(url);
		buf_init_max(&c->body, SIM_BODY_MAX);
		*con_cls = c;
	}
	if (!c->started) {
		c->started = true;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (buf_add(&c->body, upload_data, *upload_data_size) < 0)
			c->too_big = true;
		*upload_data_size = 0;
		return MHD_YES;
	}
	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.target = c->uri;
	q = strchr(c->uri, '?');
	rq.path = q ? xstrndup(c->uri, (size_t)(q - c->uri)) : xstrdup(c->uri);
	rq.raw_query = q ? q + 1 : NULL;
	rq.body = c->body.data ? c->body.data : "";
	rq.body_len = c->too_big ? 0 : c->body.len;
	if (strcmp(rq.path, "/_sim") == 0 || strncmp(rq.path, "/_sim/", 6) == 0)
		ret = handle_admin(s, con, method, &rq, c->too_big);
	else if (strncmp(rq.path, "/v3/", 4) == 0)
		ret = handle_api(s, con, method, &rq, c->too_big);
	else
		ret = handle_other(s, con, method, &rq);
	req_release(&rq);
	return ret;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	(void)cls;
	(void)con;
	c->uri = xstrdup(uri);
	buf_init_max(&c->body, strncmp(uri, "/_sim", 5) == 0 ? SIM_ADMIN_BODY_MAX : SIM_BODY_MAX);
	return c;
}

static void on_done(void *cls, struct MHD_Connection *con, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
	struct conn *c = *con_cls;

	(void)cls;
	(void)con;
	(void)toe;
	if (!c)
		return;
	free(c->uri);
	buf_release(&c->body);
	free(c);
	*con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct sim *s = cls;

	if (s->cfg.quiet)
		return;
	fputs("wxrecon-sim: microhttpd: ", stderr);
	vfprintf(stderr, fmt, ap);
}

/* ---- life ---- */

int sim_init(struct sim *s, const struct sim_config *cfg, struct wxr_err *err)
{
	char tmpl[4096];
	const char *tmp = cfg->tmp_dir;
	char rnd[17];
	int r;

	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	pthread_mutex_init(&s->lock, NULL);
	sim_state_init(&s->st);
	r = sim_keys_load(&s->keys, cfg->keys_dir, err);
	if (r < 0)
		return err_prefix(err, "keys '%s'", cfg->keys_dir);
	if (cfg->state_dir) {
		if (mkdir(cfg->state_dir, 0700) < 0 && errno != EEXIST)
			return err_set(err, WXR_EIO, "cannot create '%s': %s", cfg->state_dir,
			               strerror(errno));
		s->state_path = xasprintf("%s/state.json", cfg->state_dir);
		r = sim_state_load(&s->st, cfg->appid, s->state_path, err);
		if (r < 0)
			return r;
	}
	if (cfg->journal_path) {
		s->journal_fp = fopen(cfg->journal_path, "a");
		if (!s->journal_fp)
			return err_set(err, WXR_EIO, "cannot open '%s': %s", cfg->journal_path,
			               strerror(errno));
	}
	snprintf(tmpl, sizeof(tmpl), "%s/wxrecon-sim.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmpl))
		return err_set(err, WXR_EIO, "cannot create a temporary directory '%s': %s", tmpl,
		               strerror(errno));
	s->tmpdir = xstrdup(tmpl);
	sim_rand_hex(rnd, 16);
	for (char *p = rnd; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	snprintf(s->reqid_prefix, sizeof(s->reqid_prefix), "%s", rnd);
	return 0;
}

int sim_start(struct sim *s, unsigned port, struct wxr_err *err)
{
	struct sockaddr_in sin;
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                             MHD_USE_POLL | MHD_USE_ERROR_LOG,
	                     0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
	                     s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	                     MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_NOTIFY_COMPLETED,
	                     on_done, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
	                     MHD_OPTION_END);
	if (!d)
		return err_set(err, WXR_ENET, "cannot listen on 127.0.0.1:%u", port);
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (!info || !info->port) {
		MHD_stop_daemon(d);
		return err_set(err, WXR_ENET, "cannot learn the port that was bound");
	}
	s->daemon = d;
	s->port = info->port;
	return 0;
}

void sim_stop(struct sim *s)
{
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	s->daemon = NULL;
}

void sim_release(struct sim *s)
{
	if (!s)
		return;
	sim_notify_release(s);
	sim_tokens_sweep(s, true);
	free(s->tokens);
	if (s->tmpdir)
		rmdir(s->tmpdir);
	free(s->tmpdir);
	sim_faults_clear(s);
	free(s->faults);
	sim_journal_clear(s);
	free(s->journal);
	sim_state_release(&s->st);
	sim_keys_release(&s->keys);
	if (s->journal_fp)
		fclose(s->journal_fp);
	free(s->state_path);
	pthread_mutex_destroy(&s->lock);
	memset(s, 0, sizeof(*s));
}
