/*
 * t-wxpay-sim.c - the WeChat Pay client against the real simulator binary
 * (wxrecon-sim, from $WXRECON_BUILD or next to this test): every API call of
 * include/wxpay.h and every fault kind of POST /_sim/faults, each checked
 * from both ends: the client's audit hook (attempts, statuses, retries) and
 * the simulator's journal (what really reached it, and whether its signature
 * verified).
 *
 * Two simulators run: one in WeChat Pay public-key mode, one with
 * --sign-mode cert (platform certificates). They are stopped on every exit
 * path: atexit, the usual termination signals, a watchdog alarm, and
 * PR_SET_PDEATHSIG should this process die without running any of those.
 */
#include "base/hex.h"
#include "tap.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/gz.h"
#include "base/xalloc.h"
#include "wx/crypto.h"
#include "wxpay.h"

#define MAXCALLS  64
#define WATCHDOG  180 /* seconds; the test takes a few */
#define MCHID     "1900000001"
#define NOTIFY    "https://example.com/wxpay/notify"
#define BILL_DATE "2026-11-19"

/* ---- processes and clean-up ---- */

struct sim {
	const char *name;
	volatile pid_t pid;
	int port;
	char base[64];
	char log[4200];
};

static struct sim sim_pk = { "pubkey", 0, 0, "", "" };
static struct sim sim_cert = { "cert", 0, 0, "", "" };
static char tmp_dir[4096];
static char tmp_files[16][4200]; /* what we put in tmp_dir, for the signal handler */
static volatile sig_atomic_t ntmp_files;
static char fx_dir[4096];
static char sim_bin[4096];

/* Async-signal-safe: SIGTERM (the simulator then removes its own temporary
 * files), a grace period, then SIGKILL. Returns the wait status, -1 if none. */
static int sim_kill(struct sim *s)
{
	pid_t pid = s->pid;
	struct timespec ts = { 0, 10 * 1000000L };
	int status = -1;

	if (pid <= 0)
		return -1;
	s->pid = 0;
	kill(pid, SIGTERM);
	for (int i = 0; i < 300; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return status;
}

static void rm_tmp(void)
{
	DIR *d;
	struct dirent *e;

	if (!tmp_dir[0])
		return;
	d = opendir(tmp_dir);
	while (d && (e = readdir(d))) {
		char p[8400];

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmp_dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(tmp_dir);
	tmp_dir[0] = '\0';
}

static void at_exit(void)
{
	sim_kill(&sim_pk);
	sim_kill(&sim_cert);
	rm_tmp();
}

/* Records a file made in tmp_dir (path copied). */
static void tmp_made(const char *path)
{
	if (ntmp_files < (sig_atomic_t)(sizeof(tmp_files) / sizeof(tmp_files[0]))) {
		snprintf(tmp_files[ntmp_files], sizeof(tmp_files[0]), "%s", path);
		ntmp_files++;
	}
}

static void on_signal(int sig)
{
	static const char msg[] = "Bail out! t-wxpay-sim: signal, the simulators are stopped\n";

	sim_kill(&sim_pk);
	sim_kill(&sim_cert);
	for (sig_atomic_t i = 0; i < ntmp_files; i++)
		unlink(tmp_files[i]);
	if (tmp_dir[0])
		rmdir(tmp_dir);
	if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0)
		sig = 0;
	_exit(sig == SIGALRM ? 3 : 128 + sig);
}

static void bail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void bail(const char *fmt, ...)
{
	va_list ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(1);
}

/* ---- files ---- */

static void find_paths(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');
	const char *build = getenv("WXRECON_BUILD");
	int dl = slash ? (int)(slash - argv0) : 1;
	const char *dir = slash ? argv0 : ".";

	if (access("fixtures/keys/README.md", R_OK) == 0)
		snprintf(fx_dir, sizeof(fx_dir), "fixtures");
	else
		snprintf(fx_dir, sizeof(fx_dir), "%.*s/../../../fixtures", dl, dir);
	if (build && *build)
		snprintf(sim_bin, sizeof(sim_bin), "%s/wxrecon-sim", build);
	else
		snprintf(sim_bin, sizeof(sim_bin), "%.*s/../../wxrecon-sim", dl, dir);
	if (access(sim_bin, X_OK) != 0)
		bail("no simulator binary at '%s' (set WXRECON_BUILD)", sim_bin);
}

/* tmp_dir/<name>, a new string. */
static char *tmp_path(const char *name)
{
	return xasprintf("%s/%s", tmp_dir, name);
}

static char *key_text(const char *name)
{
	char *p = tmp_path(name);
	char *t = t_slurp(p, NULL);

	free(p);
	t[strcspn(t, "\r\n")] = '\0';
	return t;
}

/* Copies the test keys (fixtures/keys) into tmp_dir; the private keys mode 0600 as the tools
 * demand. */
static void keys_setup(void)
{
	static const char *const files[] = { "apiclient_key.pem",
		                             "apiclient_cert.pem",
		                             "wechatpay_key.pem",
		                             "pub_key.pem",
		                             "pub_key_id.txt",
		                             "wechatpay_cert.pem",
		                             "wechatpay_cert_serial.txt",
		                             "merchant_serial.txt",
		                             "apiv3.key" };

	t_tmpdir(tmp_dir, sizeof(tmp_dir), "t-wxpay-sim");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *src = xasprintf("%s/keys/%s", fx_dir, files[i]);
		char *dst = tmp_path(files[i]);
		size_t len;
		char *data = t_slurp(src, &len);
		int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd >= 0)
			tmp_made(dst);
		if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd) < 0)
			bail("cannot write '%s'", dst);
		free(src);
		free(dst);
		free(data);
	}
}

/* ---- the simulator ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void show_log(const struct sim *s)
{
	FILE *f = fopen(s->log, "r");
	char line[512];
	int n = 0;

	while (f && fgets(line, sizeof(line), f) && n++ < 40)
		printf("#   sim: %s", line);
	if (f)
		fclose(f);
}

static void sim_start(struct sim *s, bool cert_mode)
{
	char *portfile = xasprintf("%s/%s.port", tmp_dir, s->name);
	char *argv[12];
	int argc = 0;
	pid_t parent = getpid(), pid;
	int64_t t0;

	snprintf(s->log, sizeof(s->log), "%s/%s.log", tmp_dir, s->name);
	tmp_made(s->log);
	tmp_made(portfile);
	argv[argc++] = sim_bin;
	argv[argc++] = (char *)"--port";
	argv[argc++] = (char *)"0";
	argv[argc++] = (char *)"--keys";
	argv[argc++] = tmp_dir;
	argv[argc++] = (char *)"--portfile";
	argv[argc++] = portfile;
	if (cert_mode) {
		argv[argc++] = (char *)"--sign-mode";
		argv[argc++] = (char *)"cert";
	}
	argv[argc] = NULL;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		/* dies with us, whatever way we go */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		execv(sim_bin, argv);
		_exit(127);
	}
	s->pid = pid;
	t0 = now_ms();
	for (;;) {
		FILE *f = fopen(portfile, "r");
		int port = 0;

		if (f) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
		}
		if (port > 0) {
			s->port = port;
			break;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			s->pid = 0;
			show_log(s);
			bail("the %s simulator exited at start", s->name);
		}
		if (now_ms() - t0 > 10000) {
			show_log(s);
			bail("the %s simulator did not start in 10 s", s->name);
		}
		nap_ms(10);
	}
	snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", s->port);
	free(portfile);
}

static size_t admin_body(char *p, size_t size, size_t n, void *ctx)
{
	buf_add(ctx, p, size * n);
	return size * n;
}

/* Calls an admin endpoint with libcurl (not the client's HTTP module under test);
 * returns the HTTP status, the parsed body in *out (may be NULL). */
static long admin(const struct sim *s, const char *method, const char *path, const char *json,
                  json_t **out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	struct buf body = BUF_INIT;
	char *url = xasprintf("%s%s", s->base, path);
	long status = 0;
	CURLcode rc;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, admin_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	if (json) {
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		diag("admin %s %s: %s", method, path, curl_easy_strerror(rc));
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (status < 200 || status >= 300)
			diag("admin %s %s: %ld %s", method, path, status, buf_str(&body));
		if (out)
			*out = json_loadb(buf_str(&body), body.len, 0, NULL);
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	buf_release(&body);
	free(url);
	return status;
}

/* Like admin(), for a setup step that must work. */
static void must(const struct sim *s, const char *method, const char *path, const char *json)
{
	if (admin(s, method, path, json, NULL) != 200)
		bail("simulator setup failed: %s", path);
}

/* The journal (an array, owned), after it has at least min entries (the simulator
 * writes an entry when it answers, so a late answer may come after its retry's). */
static json_t *journal(const struct sim *s, size_t min)
{
	int64_t t0 = now_ms();
	json_t *j = NULL;

	for (;;) {
		json_decref(j);
		j = NULL;
		admin(s, "GET", "/_sim/journal", NULL, &j);
		if ((j && json_array_size(j) >= min) || now_ms() - t0 > 5000)
			return j;
		nap_ms(20);
	}
}

static void journal_clear(const struct sim *s)
{
	must(s, "DELETE", "/_sim/journal", NULL);
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

static long jint(const json_t *o, const char *key)
{
	return (long)json_integer_value(json_object_get(o, key));
}

/* Entry i of the journal (NULL-safe). */
static const json_t *jent(const json_t *j, size_t i)
{
	return json_array_get(j, i);
}

/* Every request the simulator saw carried a signature it verified. */
static bool all_auth_ok(const json_t *j)
{
	size_t i;
	json_t *e;

	json_array_foreach(j, i, e)
	{
		if (!json_is_true(json_object_get(e, "auth_ok")))
			return false;
	}
	return true;
}

/* How many refunds of order otn the simulator holds. */
static size_t sim_refunds_of(const struct sim *s, const char *otn)
{
	json_t *st = NULL, *r;
	size_t i, n = 0;

	admin(s, "GET", "/_sim/state", NULL, &st);
	json_array_foreach(json_object_get(st, "refunds"), i, r)
	{
		if (strcmp(jstr(r, "out_trade_no"), otn) == 0)
			n++;
	}
	json_decref(st);
	return n;
}

static size_t sim_faults_left(const struct sim *s)
{
	json_t *f = NULL;
	size_t n;

	admin(s, "GET", "/_sim/faults", NULL, &f);
	n = json_array_size(f);
	json_decref(f);
	return n;
}

/* ---- the client side ---- */

struct call {
	char method[8];
	char path[256];
	char error[64];
	char request_id[128];
	long status;
	int attempt, result;
	bool will_retry;
	int64_t elapsed_ms;
	int64_t end_ms; /* monotonic time the hook ran */
};

static struct call calls[MAXCALLS];
static int ncalls;

static void on_call(void *ctx, const struct wxpay_call *c)
{
	struct call *k;

	(void)ctx;
	if (ncalls >= MAXCALLS)
		return;
	k = &calls[ncalls++];
	snprintf(k->method, sizeof(k->method), "%s", c->method);
	snprintf(k->path, sizeof(k->path), "%s", c->path);
	snprintf(k->error, sizeof(k->error), "%s", c->error ? c->error : "");
	snprintf(k->request_id, sizeof(k->request_id), "%s", c->request_id ? c->request_id : "");
	k->status = c->http_status;
	k->attempt = c->attempt;
	k->result = c->result;
	k->will_retry = c->will_retry;
	k->elapsed_ms = c->elapsed_ms;
	k->end_ms = now_ms();
}

/* Forgets the hook's calls and the simulator's journal: a scenario starts. */
static void fresh(const struct sim *s)
{
	ncalls = 0;
	journal_clear(s);
}

struct copts {
	bool pubkey;
	int retries;
	long timeout_s;
	long retry_base_ms;
};

static struct wxpay *client(const struct sim *s, const struct copts *o)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_config cfg;
	struct wxpay *w;
	char *keyp = tmp_path("apiclient_key.pem");
	char *pubp = tmp_path("pub_key.pem");
	char *serial = key_text("merchant_serial.txt");
	char *pubid = key_text("pub_key_id.txt");
	char *v3 = tmp_path("apiv3.key");
	size_t v3len;
	char *v3key = t_slurp(v3, &v3len);

	memset(&cfg, 0, sizeof(cfg));
	cfg.mchid = MCHID;
	cfg.appid = "wx8888888888888888";
	cfg.serial_no = serial;
	cfg.private_key_path = keyp;
	cfg.apiv3_key = v3key;
	cfg.apiv3_key_len = v3len;
	if (o->pubkey) {
		cfg.wechatpay_public_key_path = pubp;
		cfg.wechatpay_public_key_id = pubid;
	}
	cfg.base_url = s->base;
	cfg.timeout_s = o->timeout_s;
	cfg.download_timeout_s = 10;
	cfg.retries = o->retries;
	cfg.retry_base_ms = o->retry_base_ms;
	cfg.user_agent = "t-wxpay-sim";
	cfg.on_call = on_call;
	w = wxpay_new(&cfg, &err);
	if (!w)
		bail("wxpay_new: %s", err.msg);
	crypto_wipe(v3key, v3len);
	free(v3key);
	free(v3);
	free(keyp);
	free(pubp);
	free(serial);
	free(pubid);
	return w;
}

static const struct copts std_opts = { true, 2, 3, 10 };

/* ---- scenarios: every call ---- */

static void seed(const struct sim *s)
{
	must(s, "POST", "/_sim/clock", "{\"now\":\"2026-11-20T11:00:00+08:00\"}");
	must(s, "POST", "/_sim/orders",
	     "[{\"out_trade_no\":\"ORD-NOTPAY-1\",\"total\":100},"
	     "{\"out_trade_no\":\"ORD-NOTPAY-2\",\"total\":100},"
	     "{\"out_trade_no\":\"ORD-NOTPAY-3\",\"total\":100},"
	     "{\"out_trade_no\":\"ORD-NOTPAY-4\",\"total\":100},"
	     "{\"out_trade_no\":\"ORD-PAID-1\",\"total\":2500,\"trade_state\":\"SUCCESS\","
	     "\"success_time\":\"2026-11-19T09:15:02+08:00\",\"description\":\"月卡\","
	     "\"transaction_id\":\"4200000001202611190000000001\"},"
	     "{\"out_trade_no\":\"ORD-PAID-2\",\"total\":9900,\"trade_state\":\"SUCCESS\","
	     "\"success_time\":\"2026-11-19T20:00:00+08:00\"},"
	     "{\"out_trade_no\":\"ORD-PAID-3\",\"total\":5000,\"trade_state\":\"SUCCESS\","
	     "\"success_time\":\"2026-11-19T21:00:00+08:00\"},"
	     "{\"out_trade_no\":\"ORD-CLOSED-1\",\"total\":300,\"trade_state\":\"CLOSED\"}]");
}

static void test_queries(struct wxpay *w)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_transaction t;
	const struct wxpay_status *st;
	json_t *j;

	fresh(&sim_pk);
	memset(&t, 0, sizeof(t));
	if (!ok(wxpay_query_order(w, "ORD-NOTPAY-1", &t, &err) == 0,
	        "query NOTPAY by out_trade_no"))
		diag("%s", err.msg);
	is_str(t.trade_state, "NOTPAY", "trade_state NOTPAY");
	is_str(t.transaction_id, "", "no transaction_id before payment");
	is_int(t.amount_total, 100, "amount.total");
	wxpay_transaction_release(&t);
	st = wxpay_last(w);
	is_int(st->http_status, 200, "wxpay_last: 200");
	is_str(st->code, "", "wxpay_last: no code on success");

	ok(wxpay_query_order(w, "ORD-PAID-1", &t, &err) == 0, "query SUCCESS by out_trade_no");
	is_str(t.trade_state, "SUCCESS", "trade_state SUCCESS");
	is_str(t.transaction_id, "4200000001202611190000000001", "transaction_id");
	is_str(t.success_time, "2026-11-19T09:15:02+08:00", "success_time");
	is_str(t.trade_state_desc, "支付成功", "UTF-8 description");
	is_int(t.amount_payer_total, 2500, "payer_total");
	is_str(t.trade_type, "APP", "trade_type APP");
	ok(t.payer_openid[0] != '\0', "payer openid");
	wxpay_transaction_release(&t);

	if (!ok(wxpay_query_order_by_id(w, "4200000001202611190000000001", &t, &err) == 0,
	        "query by transaction_id"))
		diag("%s", err.msg);
	is_str(t.out_trade_no, "ORD-PAID-1", "the order of that transaction_id");
	wxpay_transaction_release(&t);

	ok(wxpay_query_order(w, "ORD-CLOSED-1", &t, &err) == 0, "query CLOSED");
	is_str(t.trade_state, "CLOSED", "trade_state CLOSED");
	wxpay_transaction_release(&t);

	ncalls = 0;
	is_int(wxpay_query_order(w, "ORD-NOPE-404", &t, &err), WXR_EAPI, "unknown order: WXR_EAPI");
	st = wxpay_last(w);
	is_int(st->http_status, 404, "wxpay_last: 404");
	is_str(st->code_raw, "ORDER_NOT_EXIST", "wxpay_last: raw code");
	is_str(st->code, "ORDERNOTEXIST", "wxpay_last: normalised code");
	ok(wxpay_code_is(st->code, "ORDER_NOT_EXIST") &&
	           wxpay_code_is(st->code_raw, "ORDERNOTEXIST"),
	   "wxpay_code_is: either spelling");
	ok(strlen(st->request_id) > 10 &&
	           strcmp(st->request_id + strlen(st->request_id) - 10, "-268512771") == 0,
	   "Request-ID ends in the order-not-found number");
	ok(strstr(err.msg, "ORDER_NOT_EXIST") != NULL, "the message names the code");
	is_int(ncalls, 1, "404: one attempt, not retried");
	is_int(wxpay_query_order_by_id(w, "4200000001209999999999999999", &t, &err), WXR_EAPI,
	       "unknown transaction_id: WXR_EAPI");
	is_int(wxpay_last(w)->http_status, 404, "404 by id");

	j = journal(&sim_pk, 6);
	is_int(json_array_size(j), 6, "the journal has the six queries");
	ok(all_auth_ok(j), "the simulator verified every request signature");
	is_str(jstr(jent(j, 0), "url"),
	       "/v3/pay/transactions/out-trade-no/ORD-NOTPAY-1?mchid=" MCHID,
	       "the request target as sent");
	is_str(jstr(jent(j, 4), "request_id"), calls[0].request_id,
	       "hook and journal agree on the Request-ID");
	json_decref(j);
}

static void test_close(struct wxpay *w)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_transaction t;
	json_t *j;

	fresh(&sim_pk);
	memset(&t, 0, sizeof(t));
	if (!ok(wxpay_close_order(w, "ORD-NOTPAY-1", &err) == 0, "close NOTPAY: 204"))
		diag("%s", err.msg);
	is_int(wxpay_last(w)->http_status, 204, "status 204");
	ok(wxpay_query_order(w, "ORD-NOTPAY-1", &t, &err) == 0 &&
	           strcmp(t.trade_state, "CLOSED") == 0,
	   "the query confirms CLOSED");
	wxpay_transaction_release(&t);
	ok(wxpay_close_order(w, "ORD-NEVER-SEEN", &err) == 0, "close of an unknown order: 204 too");
	ncalls = 0;
	is_int(wxpay_close_order(w, "ORD-PAID-2", &err), WXR_EAPI,
	       "close of a paid order: refused");
	ok(wxpay_code_is(wxpay_last(w)->code, "ORDER_PAID"), "code ORDER_PAID");
	is_int(ncalls, 1, "a 400 is not retried");
	ok(wxpay_query_order(w, "ORD-PAID-2", &t, &err) == 0 &&
	           strcmp(t.trade_state, "SUCCESS") == 0,
	   "the paid order stays SUCCESS");
	wxpay_transaction_release(&t);
	j = journal(&sim_pk, 5);
	is_int(json_array_size(j), 5, "journal: close, query, close, close, query");
	is_str(jstr(jent(j, 0), "method"), "POST", "close is a POST");
	is_int(jint(jent(j, 2), "status"), 204, "journal: unknown order 204");
	is_int(jint(jent(j, 3), "status"), 400, "journal: paid order 400");
	json_decref(j);
}

static void test_prepay(struct wxpay *w)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_prepay_req pr;
	struct wxpay_transaction t;
	char *id1 = NULL, *id2 = NULL, *id3 = NULL;

	fresh(&sim_pk);
	memset(&pr, 0, sizeof(pr));
	memset(&t, 0, sizeof(t));
	pr.description = "月卡 30 天";
	pr.out_trade_no = "ORD-PREPAY-1";
	pr.notify_url = NOTIFY;
	pr.amount_total = 2500;
	pr.attach = "u=42";
	pr.payer_client_ip = "127.0.0.1";
	if (!ok(wxpay_prepay_app(w, &pr, &id1, &err) == 0, "APP prepay"))
		diag("%s", err.msg);
	ok(id1 && strncmp(id1, "wx", 2) == 0 && strlen(id1) == 36, "a prepay_id like wx...(36)");
	ok(wxpay_query_order(w, "ORD-PREPAY-1", &t, &err) == 0 &&
	           strcmp(t.trade_state, "NOTPAY") == 0 && t.amount_total == 2500,
	   "the order exists at WeChat Pay, NOTPAY");
	wxpay_transaction_release(&t);
	ok(wxpay_prepay_app(w, &pr, &id2, &err) == 0, "the same parameters again");
	ok(id1 && id2 && strcmp(id1, id2) != 0, "a new prepay_id");
	ncalls = 0;
	pr.amount_total = 2600;
	is_int(wxpay_prepay_app(w, &pr, &id3, &err), WXR_EAPI, "different parameters: refused");
	ok(wxpay_code_is(wxpay_last(w)->code, "INVALID_REQUEST"), "INVALID_REQUEST");
	is_int(ncalls, 1, "one attempt");
	ok(id3 == NULL, "no prepay_id written on failure");

	/* prepay is never retried, not even on a 500 */
	must(&sim_pk, "POST", "/_sim/faults",
	     "{\"match\":\"prepay\",\"kind\":\"status\",\"status\":500}");
	ncalls = 0;
	pr.amount_total = 2500;
	is_int(wxpay_prepay_app(w, &pr, &id3, &err), WXR_EAPI, "prepay 500: fails");
	is_int(ncalls, 1, "prepay is not retried");
	ok(!calls[0].will_retry, "the hook says no retry");
	is_int(sim_faults_left(&sim_pk), 0, "the fault was used once");
	pr.out_trade_no = "ORD-PAID-2";
	is_int(wxpay_prepay_app(w, &pr, &id3, &err), WXR_EAPI, "prepay of a paid order: refused");
	ok(wxpay_code_is(wxpay_last(w)->code, "ORDER_PAID"), "ORDER_PAID");
	free(id1);
	free(id2);
	free(id3);
}

static void test_refunds(struct wxpay *w)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_refund_req rr;
	struct wxpay_refund f, g;
	json_t *j;

	fresh(&sim_pk);
	memset(&rr, 0, sizeof(rr));
	memset(&f, 0, sizeof(f));
	memset(&g, 0, sizeof(g));
	rr.out_trade_no = "ORD-PAID-1";
	rr.out_refund_no = "RF-PAID-1-A";
	rr.reason = "客户退货";
	rr.amount_refund = 1000;
	rr.amount_total = 2500;
	if (!ok(wxpay_refund_create(w, &rr, &f, &err) == 0, "refund create"))
		diag("%s", err.msg);
	is_str(f.status, "PROCESSING", "PROCESSING");
	is_str(f.out_refund_no, "RF-PAID-1-A", "out_refund_no");
	is_int(f.amount_refund, 1000, "amount.refund");
	is_int(f.amount_total, 2500, "amount.total");
	ok(strlen(f.refund_id) == 29, "a 29-digit refund_id");
	ok(wxpay_refund_create(w, &rr, &g, &err) == 0, "the same out_refund_no again");
	is_str(g.refund_id, f.refund_id, "the same refund comes back");
	is_int(sim_refunds_of(&sim_pk, "ORD-PAID-1"), 1, "the simulator holds one refund, not two");
	wxpay_refund_release(&g);

	ok(wxpay_refund_query(w, "RF-PAID-1-A", &g, &err) == 0, "refund query");
	is_str(g.refund_id, f.refund_id, "refund query: refund_id");
	is_str(g.transaction_id, "4200000001202611190000000001", "refund query: transaction_id");
	is_str(g.channel, "ORIGINAL", "refund query: channel");
	wxpay_refund_release(&g);
	ncalls = 0;
	is_int(wxpay_refund_query(w, "RF-NOPE", &g, &err), WXR_EAPI, "unknown refund: WXR_EAPI");
	ok(wxpay_code_is(wxpay_last(w)->code, "RESOURCE_NOT_EXISTS"), "RESOURCE_NOT_EXISTS");
	is_int(ncalls, 1, "not retried");
	rr.out_refund_no = "RF-PAID-1-B";
	rr.amount_refund = 2000;
	is_int(wxpay_refund_create(w, &rr, &g, &err), WXR_EAPI, "more than is left: refused");
	j = journal(&sim_pk, 5);
	is_int(json_array_size(j), 5, "journal: 5 requests");
	ok(all_auth_ok(j), "all signatures verified by the simulator");
	json_decref(j);
	wxpay_refund_release(&f);
}

static bool wiped(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void test_abnormal(struct wxpay *w, const struct sim *s, const char *otn, const char *label)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_refund_req rr;
	struct wxpay_abnormal_refund_req ar;
	struct wxpay_refund f, g;
	char orn1[64], orn2[64], path[128], name[64];
	char account[] = "6222020202020202";
	char holder[] = "张三";
	char bad_account[] = "62220202x";
	char holder2[] = "李四";
	json_t *j;

	fresh(s);
	memset(&f, 0, sizeof(f));
	memset(&g, 0, sizeof(g));
	snprintf(orn1, sizeof(orn1), "RF-%s-AB1", otn);
	snprintf(orn2, sizeof(orn2), "RF-%s-AB2", otn);
	memset(&rr, 0, sizeof(rr));
	rr.out_trade_no = otn;
	rr.out_refund_no = orn1;
	rr.amount_refund = 100;
	rr.amount_total = 5000;
	if (wxpay_refund_create(w, &rr, &f, &err) < 0)
		bail("refund for the abnormal refund: %s", err.msg);
	rr.out_refund_no = orn2;
	if (wxpay_refund_create(w, &rr, &g, &err) < 0)
		bail("refund for the abnormal refund: %s", err.msg);

	memset(&ar, 0, sizeof(ar));
	ar.refund_id = f.refund_id;
	ar.out_refund_no = orn1;
	ar.type = "MERCHANT_BANK_CARD";
	ncalls = 0;
	snprintf(name, sizeof(name), "%s: abnormal refund of a PROCESSING refund: refused", label);
	is_int(wxpay_refund_abnormal(w, &ar, &f, &err), WXR_EAPI, name);
	is_int(wxpay_last(w)->http_status, 400, "400");
	ok(wxpay_code_is(wxpay_last(w)->code, "INVALID_REQUEST"), "INVALID_REQUEST");
	is_int(ncalls, 1, "a 400 is not retried");

	snprintf(path, sizeof(path), "/_sim/refunds/%s/status", orn1);
	must(s, "POST", path, "{\"status\":\"ABNORMAL\"}");
	snprintf(path, sizeof(path), "/_sim/refunds/%s/status", orn2);
	must(s, "POST", path, "{\"status\":\"ABNORMAL\"}");
	{
		struct wxpay_refund h;

		memset(&h, 0, sizeof(h));
		snprintf(name, sizeof(name), "%s: MERCHANT_BANK_CARD", label);
		if (!ok(wxpay_refund_abnormal(w, &ar, &h, &err) == 0, name))
			diag("%s", err.msg);
		else
			is_str(h.user_received_account, "商户银行卡", "to the merchant's card");
		is_str(h.status, "PROCESSING", "PROCESSING again");
		is_str(h.channel, "OTHER_BANKCARD", "channel OTHER_BANKCARD");
		wxpay_refund_release(&h);
	}

	/* The simulator decrypts both fields and checks them: a value that is not a card
	 * number is refused, which shows it really reads what the client encrypted. */
	ar.refund_id = g.refund_id;
	ar.out_refund_no = orn2;
	ar.type = "USER_BANK_CARD";
	ar.bank_type = "ICBC_DEBIT";
	ar.bank_account = bad_account;
	ar.real_name = holder2;
	ncalls = 0;
	is_int(wxpay_refund_abnormal(w, &ar, &f, &err), WXR_EAPI,
	       "USER_BANK_CARD with a bad card number: the simulator refuses what it decrypted");
	is_str(wxpay_last(w)->code_raw, "PARAM_ERROR", "PARAM_ERROR");
	is_int(ncalls, 1, "not retried");
	ok(wiped(bad_account, sizeof(bad_account)) && wiped(holder2, sizeof(holder2)),
	   "the buffers are wiped on failure too");

	ar.bank_account = account;
	ar.real_name = holder;
	snprintf(name, sizeof(name), "%s: USER_BANK_CARD, fields encrypted", label);
	{
		struct wxpay_refund h;

		if (!ok(wxpay_refund_abnormal(w, &ar, &h, &err) == 0, name)) {
			diag("%s", err.msg);
		} else {
			is_str(h.user_received_account, "用户银行卡(ICBC_DEBIT)",
			       "the simulator decrypted and accepted the account and name");
			wxpay_refund_release(&h);
		}
	}
	ok(wiped(account, sizeof(account)) && wiped(holder, sizeof(holder)),
	   "the caller's account and name buffers are zeroed");
	j = journal(s, 6);
	ok(all_auth_ok(j), "abnormal refunds: every signature verified");
	json_decref(j);
	wxpay_refund_release(&f);
	wxpay_refund_release(&g);
}

/* ---- bills ---- */

struct sink {
	struct buf data;
	int resets;
};

static int sink_write(void *ctx, const void *p, size_t n)
{
	struct sink *s = ctx;

	return buf_add(&s->data, p, n) < 0 ? WXR_ETOOBIG : 0;
}

static int sink_reset(void *ctx)
{
	struct sink *s = ctx;

	s->resets++;
	buf_reset(&s->data);
	return 0;
}

static int gz_to_sha1(void *ctx, const void *p, size_t n, struct wxr_err *err)
{
	(void)err;
	crypto_sha1_update(ctx, p, n);
	return 0;
}

/* SHA-1 hex of the bytes, gunzipped first when gz; false when they do not gunzip. */
static bool sha1_of(const struct buf *b, bool gz, char out[41])
{
	unsigned char md[CRYPTO_SHA1_LEN];
	struct crypto_sha1 *c = crypto_sha1_new();
	struct wxr_err err = WXR_ERR_INIT;
	bool good = true;

	if (gz) {
		struct gz *g = NULL;

		good = gz_new(0, &g, &err) == 0 &&
		       gz_feed(g, b->data, b->len, gz_to_sha1, c, &err) == 0 &&
		       gz_finish(g, &err) == 0;
		gz_free(g);
	} else {
		crypto_sha1_update(c, b->data, b->len);
	}
	crypto_sha1_final(c, md);
	crypto_sha1_free(c);
	hex_encode(md, sizeof(md), out);
	return good;
}

static bool contains(const struct buf *b, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; i + n <= b->len; i++)
		if (memcmp(b->data + i, needle, n) == 0)
			return true;
	return false;
}

static void test_bills(struct wxpay *w)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_bill b, fb;
	struct sink s;
	char sha[41];
	int64_t bytes = 0;
	json_t *j;

	fresh(&sim_pk);
	memset(&b, 0, sizeof(b));
	memset(&fb, 0, sizeof(fb));
	memset(&s, 0, sizeof(s));
	buf_init_max(&s.data, 16 * 1024 * 1024);
	if (!ok(wxpay_bill_trade(w, BILL_DATE, NULL, true, &b, &err) == 0,
	        "trade bill apply (gzip)"))
		diag("%s", err.msg);
	is_str(b.hash_type, "SHA1", "hash_type SHA1");
	ok(strncmp(b.download_url, sim_pk.base, strlen(sim_pk.base)) == 0,
	   "download_url on the simulator");
	if (!ok(wxpay_bill_download(w, b.download_url, sink_write, sink_reset, &s, &bytes, &err) ==
	                0,
	        "trade bill download"))
		diag("%s", err.msg);
	is_int(bytes, (int64_t)s.data.len, "out_bytes = bytes delivered");
	ok(s.data.len > 2 && (unsigned char)s.data.data[0] == 0x1f &&
	           (unsigned char)s.data.data[1] == 0x8b,
	   "gzip bytes");
	sha1_of(&s.data, true, sha);
	is_str(sha, b.hash_value, "SHA-1 of the gunzipped trade bill = hash_value");
	is_str(calls[ncalls - 1].path, "/v3/billdownload/file", "the hook path has no token");

	buf_reset(&s.data);
	if (!ok(wxpay_bill_fundflow(w, BILL_DATE, NULL, false, &fb, &err) == 0,
	        "fund-flow bill apply (plain)"))
		diag("%s", err.msg);
	ok(wxpay_bill_download(w, fb.download_url, sink_write, sink_reset, &s, NULL, &err) == 0,
	   "fund-flow bill download");
	sha1_of(&s.data, false, sha);
	is_str(sha, fb.hash_value, "SHA-1 of the fund-flow bill = hash_value");
	ok(contains(&s.data, "4200000001202611190000000001"),
	   "the fund-flow bill names our payment");
	wxpay_bill_release(&fb);

	is_int(wxpay_bill_trade(w, "2026-11-20", NULL, true, &fb, &err), WXR_EAPI,
	       "today's bill: not ready");
	ok(wxpay_code_is(wxpay_last(w)->code, "STATEMENT_CREATING"), "STATEMENT_CREATING");
	is_int(wxpay_bill_trade(w, "2026-11-10", NULL, true, &fb, &err), WXR_EAPI,
	       "a day without activity");
	ok(wxpay_code_is(wxpay_last(w)->code, "NO_STATEMENT_EXIST"), "NO_STATEMENT_EXIST");

	/* wrong_bill_hash: the client hands the bytes over; the caller's check catches it */
	must(&sim_pk, "POST", "/_sim/faults",
	     "{\"match\":\"tradebill\",\"kind\":\"wrong_bill_hash\"}");
	wxpay_bill_release(&b);
	buf_reset(&s.data);
	ok(wxpay_bill_trade(w, BILL_DATE, NULL, true, &b, &err) == 0 &&
	           wxpay_bill_download(w, b.download_url, sink_write, sink_reset, &s, NULL, &err) ==
	                   0,
	   "wrong_bill_hash: apply and download work");
	sha1_of(&s.data, true, sha);
	ok(strcmp(sha, b.hash_value) != 0, "wrong_bill_hash: the SHA-1 check catches it");
	j = journal(&sim_pk, 8);
	ok(all_auth_ok(j), "bills: every signature verified, the download's too");
	is_str(jstr(jent(j, 6), "fault"), "wrong_bill_hash", "journal: the fault");
	json_decref(j);
	wxpay_bill_release(&b);
	buf_release(&s.data);
}

/* ---- certificates ---- */

static void test_certs_pubkey(struct wxpay *w)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_cert_list l;
	size_t pem_len;
	char *pem_path = tmp_path("wechatpay_cert.pem");
	char *pem = t_slurp(pem_path, &pem_len);
	char *serial = key_text("wechatpay_cert_serial.txt");

	memset(&l, 0, sizeof(l));
	if (!ok(wxpay_certificates(w, &l, &err) == 0, "certificates in public-key mode"))
		diag("%s", err.msg);
	is_int(l.n, 1, "one certificate");
	if (l.n == 1) {
		is_str(l.items[0].serial_no, serial, "its serial");
		ok(l.items[0].pem_len == pem_len && memcmp(l.items[0].pem, pem, pem_len) == 0,
		   "decrypted with the APIv3 key: the simulator's certificate");
		ok(l.items[0].effective_time[0] && l.items[0].expire_time[0], "validity times");
	}
	wxpay_cert_list_release(&l);
	free(pem);
	free(pem_path);
	free(serial);
}

static void test_certs_cert_mode(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct copts o = { false, 2, 3, 10 };
	struct wxpay *w;
	struct wxpay_cert_list l;
	struct wxpay_transaction t;
	char *serial = key_text("wechatpay_cert_serial.txt");
	json_t *j;

	memset(&l, 0, sizeof(l));
	memset(&t, 0, sizeof(t));
	must(&sim_cert, "POST", "/_sim/clock", "{\"now\":\"2026-11-20T11:00:00+08:00\"}");
	must(&sim_cert, "POST", "/_sim/orders",
	     "[{\"out_trade_no\":\"ORD-CM-1\",\"total\":5000,\"trade_state\":\"SUCCESS\","
	     "\"success_time\":\"2026-11-19T09:00:00+08:00\"}]");

	/* No certificate known: nothing the simulator says can be believed. */
	fresh(&sim_cert);
	w = client(&sim_cert, &o);
	is_int(wxpay_query_order(w, "ORD-CM-1", &t, &err), WXR_ESIG,
	       "cert mode, no certificate yet: a query fails verification");
	ok(strstr(err.msg, serial) && strstr(err.msg, "no platform certificates loaded"),
	   "the message names the unknown serial");
	wxpay_free(w);

	/* Bootstrap: the first download verifies with the certificate it carries. */
	w = client(&sim_cert, &o);
	ncalls = 0;
	if (!ok(wxpay_certificates(w, &l, &err) == 0, "cert mode: first certificates download"))
		diag("%s", err.msg);
	ok(!wxpay_poisoned(w), "not poisoned");
	if (l.n == 1) {
		is_str(l.items[0].serial_no, serial, "the platform certificate");
		ok(wxpay_add_platform_cert(w, l.items[0].pem, l.items[0].pem_len, &err) == 0,
		   "kept with wxpay_add_platform_cert");
	} else {
		ok(0, "one certificate");
	}
	wxpay_cert_list_release(&l);
	if (!ok(wxpay_query_order(w, "ORD-CM-1", &t, &err) == 0,
	        "queries now verify with the platform certificate"))
		diag("%s", err.msg);
	is_str(t.trade_state, "SUCCESS", "SUCCESS");
	wxpay_transaction_release(&t);
	ok(wxpay_certificates(w, &l, &err) == 0, "a second download verifies with the known cert");
	wxpay_cert_list_release(&l);
	test_abnormal(w, &sim_cert, "ORD-CM-1", "cert mode");

	/* A tampered download: the known certificate does not verify it. */
	fresh(&sim_cert);
	must(&sim_cert, "POST", "/_sim/faults",
	     "{\"match\":\"certificates\",\"kind\":\"bad_signature\"}");
	is_int(wxpay_certificates(w, &l, &err), WXR_ESIG, "tampered certificates: WXR_ESIG");
	ok(wxpay_poisoned(w), "and the handle is poisoned");
	is_int(ncalls, 1, "not retried");
	wxpay_free(w);

	/* Nor does the bootstrap accept one. */
	w = client(&sim_cert, &o);
	must(&sim_cert, "POST", "/_sim/faults",
	     "{\"match\":\"certificates\",\"kind\":\"bad_signature\"}");
	ncalls = 0;
	is_int(wxpay_certificates(w, &l, &err), WXR_ESIG,
	       "tampered first download: refused, the bootstrap is not fooled");
	is_int(ncalls, 1, "one attempt");
	j = journal(&sim_cert, 2);
	is_int(json_array_size(j), 2, "journal: the two tampered downloads");
	is_str(jstr(jent(j, 1), "fault"), "bad_signature", "journal: fault bad_signature");
	json_decref(j);
	wxpay_free(w);
	free(serial);
}

/* ---- faults ---- */

static void test_fault_500(struct wxpay *w)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_transaction t;
	json_t *j;

	fresh(&sim_pk);
	memset(&t, 0, sizeof(t));
	must(&sim_pk, "POST", "/_sim/faults",
	     "{\"match\":\"query\",\"kind\":\"status\",\"status\":500}");
	ok(wxpay_query_order(w, "ORD-PAID-1", &t, &err) == 0, "500 then OK: succeeds");
	wxpay_transaction_release(&t);
	is_int(ncalls, 2, "two attempts");
	is_int(calls[0].status, 500, "attempt 1: 500");
	is_str(calls[0].error, "SYSTEM_ERROR", "attempt 1: SYSTEM_ERROR");
	ok(calls[0].will_retry, "attempt 1: will retry");
	is_int(calls[1].attempt, 2, "attempt 2");
	is_int(calls[1].result, 0, "attempt 2: OK");
	j = journal(&sim_pk, 2);
	is_int(json_array_size(j), 2, "journal: two requests");
	is_int(jint(jent(j, 0), "status"), 500, "journal: 500 first");
	is_str(jstr(jent(j, 0), "fault"), "status", "journal: by the status fault");
	is_int(jint(jent(j, 1), "status"), 200, "journal: then 200");
	ok(strcmp(jstr(jent(j, 0), "request_id"), calls[0].request_id) == 0 &&
	           strcmp(jstr(jent(j, 1), "request_id"), calls[1].request_id) == 0,
	   "the Request-IDs match attempt by attempt");
	json_decref(j);

	/* close is retried too (idempotent), and the order ends CLOSED */
	fresh(&sim_pk);
	must(&sim_pk, "POST", "/_sim/faults",
	     "{\"match\":\"close\",\"kind\":\"status\",\"status\":500}");
	ok(wxpay_close_order(w, "ORD-NOTPAY-2", &err) == 0, "close: 500 then 204");
	is_int(ncalls, 2, "close: two attempts");
	ok(wxpay_query_order(w, "ORD-NOTPAY-2", &t, &err) == 0 &&
	           strcmp(t.trade_state, "CLOSED") == 0,
	   "closed");
	wxpay_transaction_release(&t);
}

static void test_fault_503(struct wxpay *w)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_transaction t;
	json_t *j, *f = NULL;

	fresh(&sim_pk);
	must(&sim_pk, "POST", "/_sim/faults",
	     "{\"match\":\"query\",\"kind\":\"status\",\"status\":503,\"count\":5}");
	is_int(wxpay_query_order(w, "ORD-PAID-1", &t, &err), WXR_EAPI,
	       "503 beyond the retries: fails");
	is_int(ncalls, 3, "exactly retries + 1 = 3 attempts");
	ok(calls[0].will_retry && calls[1].will_retry && !calls[2].will_retry, "retry flags");
	is_str(calls[2].error, "SERVICE_UNAVAILABLE", "SERVICE_UNAVAILABLE");
	ok(strstr(err.msg, "(after 3 attempts)") != NULL, "the message counts the attempts");
	is_int(wxpay_last(w)->http_status, 503, "wxpay_last: 503");
	j = journal(&sim_pk, 3);
	is_int(json_array_size(j), 3, "journal: three requests");
	json_decref(j);
	admin(&sim_pk, "GET", "/_sim/faults", NULL, &f);
	is_int(jint(json_array_get(f, 0), "count"), 2, "two 503s left unused");
	json_decref(f);
	must(&sim_pk, "DELETE", "/_sim/faults", NULL);
}

static void test_fault_429(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct copts o = { true, 2, 3, 400 };
	struct wxpay *w = client(&sim_pk, &o);
	struct wxpay_transaction t;
	int64_t gap;
	json_t *j;

	fresh(&sim_pk);
	must(&sim_pk, "POST", "/_sim/faults",
	     "{\"match\":\"query\",\"kind\":\"status\",\"status\":429}");
	ok(wxpay_query_order(w, "ORD-PAID-1", &t, &err) == 0, "429 then OK");
	wxpay_transaction_release(&t);
	is_int(ncalls, 2, "two attempts");
	is_int(calls[0].status, 429, "attempt 1: 429");
	is_str(calls[0].error, "FREQUENCY_LIMITED", "FREQUENCY_LIMITED");
	gap = calls[1].end_ms - calls[1].elapsed_ms - calls[0].end_ms;
	ok(gap >= 190, "backed off between the attempts (at least half the 400 ms base)");
	diag("429 backoff: %lld ms", (long long)gap);
	j = journal(&sim_pk, 2);
	is_int(jint(jent(j, 0), "status"), 429, "journal: 429");
	is_int(jint(jent(j, 1), "status"), 200, "journal: 200");
	json_decref(j);
	wxpay_free(w);
}

static void test_fault_delay(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct copts o = { true, 2, 1, 10 };
	struct wxpay *w = client(&sim_pk, &o);
	struct wxpay_transaction t;
	json_t *j;
	int delayed = -1;

	fresh(&sim_pk);
	memset(&t, 0, sizeof(t));
	must(&sim_pk, "POST", "/_sim/faults",
	     "{\"match\":\"query\",\"kind\":\"delay\",\"ms\":1600}");
	ok(wxpay_query_order(w, "ORD-PAID-1", &t, &err) == 0,
	   "a delay beyond timeout_s: retried, OK");
	wxpay_transaction_release(&t);
	is_int(ncalls, 2, "two attempts");
	is_str(calls[0].error, "TIMEOUT", "attempt 1: TIMEOUT");
	is_int(calls[0].status, 0, "no status");
	ok(calls[0].will_retry, "will retry");
	ok(calls[0].elapsed_ms >= 900 && calls[0].elapsed_ms < 1600, "it gave up after about 1 s");
	/* the delayed request is journalled when its late answer goes out */
	j = journal(&sim_pk, 2);
	is_int(json_array_size(j), 2, "journal: both requests");
	for (size_t i = 0; i < json_array_size(j); i++)
		if (strcmp(jstr(jent(j, i), "fault"), "delay") == 0)
			delayed = (int)i;
	ok(delayed >= 0, "journal: one was delayed");
	json_decref(j);
	wxpay_free(w);
}

/*
 * A WECHATPAY/SIGNTEST/ probe (PROTOCOL 2.5) fails its one answer: an
 * idempotent call is retried once, a money-moving one fails with the probe
 * flag (to be settled by a query), and the handle is never poisoned.
 */
static void test_fault_probe(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay *w = client(&sim_pk, &std_opts);
	struct wxpay_transaction t;
	json_t *o = NULL;

	fresh(&sim_pk);
	memset(&t, 0, sizeof(t));
	must(&sim_pk, "POST", "/_sim/orders", "[{\"out_trade_no\":\"ORD-PROBE-1\",\"total\":100}]");
	must(&sim_pk, "POST", "/_sim/faults",
	     "{\"match\":\"query\",\"kind\":\"bad_signature\",\"probe\":true}");
	if (!ok(wxpay_query_order(w, "ORD-PROBE-1", &t, &err) == 0,
	        "probe on a query: retried, OK"))
		diag("%s", err.msg);
	wxpay_transaction_release(&t);
	is_int(ncalls, 2, "two attempts");
	is_str(calls[0].error, "SIGNATURE", "attempt 1: SIGNATURE");
	ok(calls[0].will_retry, "attempt 1: will retry");
	ok(!wxpay_poisoned(w), "a probe does not poison the handle");

	fresh(&sim_pk);
	must(&sim_pk, "POST", "/_sim/faults",
	     "{\"match\":\"query\",\"kind\":\"bad_signature\",\"probe\":true,\"count\":2}");
	is_int(wxpay_query_order(w, "ORD-PROBE-1", &t, &err), WXR_ESIG,
	       "two probes in a row: WXR_ESIG");
	is_int(ncalls, 2, "retried once only");
	ok(wxpay_last(w)->probe, "wxpay_last: probe");
	ok(!wxpay_poisoned(w), "still not poisoned");

	fresh(&sim_pk);
	must(&sim_pk, "POST", "/_sim/faults",
	     "{\"match\":\"close\",\"kind\":\"bad_signature\",\"probe\":true}");
	is_int(wxpay_close_order(w, "ORD-PROBE-1", &err), WXR_ESIG, "probe on a close: WXR_ESIG");
	ok(strstr(err.msg, "settle it by a query") != NULL, "the message says to query");
	is_int(ncalls, 1, "a money-moving call is not retried on a probe");
	ok(wxpay_last(w)->probe, "wxpay_last: probe");
	ok(!wxpay_poisoned(w), "not poisoned");
	ok(wxpay_query_order(w, "ORD-PROBE-1", &t, &err) == 0 &&
	           strcmp(t.trade_state, "CLOSED") == 0,
	   "the query settles it: CLOSED");
	wxpay_transaction_release(&t);
	admin(&sim_pk, "GET", "/_sim/orders/ORD-PROBE-1", NULL, &o);
	is_str(jstr(o, "trade_state"), "CLOSED", "the simulator closed it once");
	json_decref(o);
	must(&sim_pk, "DELETE", "/_sim/faults", NULL);
	wxpay_free(w);
}

static void test_fault_signature(bool probe)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay *w = client(&sim_pk, &std_opts);
	struct wxpay_transaction t;
	struct wxpay_refund f;
	struct wxpay_refund_req rr;
	json_t *j, *o = NULL;
	const char *what = probe ? "probe" : "bad signature";
	char name[128];

	fresh(&sim_pk);
	memset(&t, 0, sizeof(t));
	must(&sim_pk, "POST", "/_sim/faults",
	     probe ? "{\"match\":\"query\",\"kind\":\"bad_signature\",\"probe\":true}"
	           : "{\"match\":\"query\",\"kind\":\"bad_signature\",\"count\":3}");
	snprintf(name, sizeof(name), "%s: WXR_ESIG", what);
	is_int(wxpay_query_order(w, "ORD-NOTPAY-3", &t, &err), WXR_ESIG, name);
	ok(strstr(err.msg, probe ? "signature probe" : "does not match") != NULL, "the reason");
	is_int(ncalls, 1, "not retried");
	is_str(calls[0].error, "SIGNATURE", "hook: SIGNATURE");
	ok(wxpay_poisoned(w), "the handle is poisoned");

	ncalls = 0;
	is_int(wxpay_close_order(w, "ORD-NOTPAY-3", &err), WXR_ESIG, "then close fails at once");
	ok(strstr(err.msg, "refusing POST") != NULL, "refusal message");
	memset(&rr, 0, sizeof(rr));
	rr.out_trade_no = "ORD-PAID-2";
	rr.out_refund_no = "RF-POISONED";
	rr.amount_refund = 100;
	rr.amount_total = 9900;
	is_int(wxpay_refund_create(w, &rr, &f, &err), WXR_ESIG, "and refund fails at once");
	is_int(ncalls, 0, "no attempt was made");
	j = journal(&sim_pk, 1);
	is_int(json_array_size(j), 1, "journal: only the query reached the simulator");
	is_str(jstr(jent(j, 0), "fault"), "bad_signature", "journal: bad_signature");
	json_decref(j);
	admin(&sim_pk, "GET", "/_sim/orders/ORD-NOTPAY-3", NULL, &o);
	is_str(jstr(o, "trade_state"), "NOTPAY", "the order was not closed");
	json_decref(o);
	is_int(sim_refunds_of(&sim_pk, "ORD-PAID-2"), 0, "no refund was made");
	must(&sim_pk, "DELETE", "/_sim/faults", NULL);
	ok(wxpay_query_order(w, "ORD-NOTPAY-3", &t, &err) == 0, "queries still work");
	wxpay_transaction_release(&t);
	wxpay_free(w);
}

static void test_fault_4xx(struct wxpay *w)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_transaction t;
	struct wxpay_refund f;
	json_t *j;

	fresh(&sim_pk);
	must(&sim_pk, "POST", "/_sim/faults",
	     "[{\"match\":\"query\",\"kind\":\"status\",\"status\":400,\"code\":\"PARAM_ERROR\","
	     "\"count\":2},"
	     "{\"match\":\"refund_query\",\"kind\":\"status\",\"status\":404,"
	     "\"code\":\"RESOURCE_NOT_EXISTS\",\"count\":2}]");
	is_int(wxpay_query_order(w, "ORD-PAID-1", &t, &err), WXR_EAPI, "400 PARAM_ERROR: fails");
	is_int(ncalls, 1, "400: one attempt");
	ok(!calls[0].will_retry, "400: no retry");
	ok(wxpay_code_is(wxpay_last(w)->code, "PARAM_ERROR"), "PARAM_ERROR");
	ncalls = 0;
	is_int(wxpay_refund_query(w, "RF-PAID-1-A", &f, &err), WXR_EAPI, "404: fails");
	is_int(ncalls, 1, "404: one attempt");
	j = journal(&sim_pk, 2);
	is_int(json_array_size(j), 2, "journal: one request each");
	json_decref(j);
	must(&sim_pk, "DELETE", "/_sim/faults", NULL);
}

static void test_fault_pay_during_close(struct wxpay *w)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_transaction t;
	json_t *j;

	fresh(&sim_pk);
	memset(&t, 0, sizeof(t));
	must(&sim_pk, "POST", "/_sim/faults",
	     "{\"match\":\"close\",\"kind\":\"pay_during_close\"}");
	ok(wxpay_close_order(w, "ORD-NOTPAY-4", &err) == 0, "pay_during_close: close answers 204");
	is_int(wxpay_last(w)->http_status, 204, "204");
	ok(wxpay_query_order(w, "ORD-NOTPAY-4", &t, &err) == 0, "then the query");
	is_str(t.trade_state, "SUCCESS", "says SUCCESS: a 204 proves nothing");
	ok(t.transaction_id[0] != '\0', "with a transaction_id");
	wxpay_transaction_release(&t);
	j = journal(&sim_pk, 2);
	is_str(jstr(jent(j, 0), "fault"), "pay_during_close", "journal: the fault on the close");
	is_int(jint(jent(j, 0), "status"), 204, "journal: 204");
	json_decref(j);
}

static void test_fault_truncate(struct wxpay *w)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_bill b;
	struct sink s;
	char sha[41];
	json_t *j;

	memset(&b, 0, sizeof(b));
	memset(&s, 0, sizeof(s));
	buf_init_max(&s.data, 16 * 1024 * 1024);
	if (wxpay_bill_trade(w, BILL_DATE, NULL, true, &b, &err) < 0)
		bail("bill apply: %s", err.msg);

	fresh(&sim_pk);
	must(&sim_pk, "POST", "/_sim/faults",
	     "{\"match\":\"download\",\"kind\":\"truncate_download\"}");
	if (!ok(wxpay_bill_download(w, b.download_url, sink_write, sink_reset, &s, NULL, &err) == 0,
	        "truncate_download: retried and complete"))
		diag("%s", err.msg);
	is_int(ncalls, 2, "two attempts");
	is_str(calls[0].error, "NETWORK", "attempt 1: transport error");
	ok(calls[0].will_retry, "will retry");
	is_int(s.resets, 1, "the reset callback ran once");
	sha1_of(&s.data, true, sha);
	is_str(sha, b.hash_value, "the SHA-1 matches after the retry");
	j = journal(&sim_pk, 2);
	is_str(jstr(jent(j, 0), "fault"), "truncate_download", "journal: the cut download");
	is_int(json_array_size(j), 2, "journal: two downloads");
	json_decref(j);

	/* without a reset callback, bytes already delivered cannot be taken back */
	fresh(&sim_pk);
	buf_reset(&s.data);
	must(&sim_pk, "POST", "/_sim/faults",
	     "{\"match\":\"download\",\"kind\":\"truncate_download\"}");
	is_int(wxpay_bill_download(w, b.download_url, sink_write, NULL, &s, NULL, &err), WXR_ENET,
	       "no reset callback: not retried after bytes");
	is_int(ncalls, 1, "one attempt");

	/* a short body with a consistent length looks complete: the SHA-1 tells */
	fresh(&sim_pk);
	buf_reset(&s.data);
	must(&sim_pk, "POST", "/_sim/faults",
	     "{\"match\":\"download\",\"kind\":\"truncate_download\",\"short\":true}");
	ok(wxpay_bill_download(w, b.download_url, sink_write, sink_reset, &s, NULL, &err) == 0,
	   "short download: the transfer itself succeeds");
	ok(s.data.len > 0 && (!sha1_of(&s.data, true, sha) || strcmp(sha, b.hash_value) != 0),
	   "and only the caller's gunzip and SHA-1 check can catch it");
	wxpay_bill_release(&b);
	buf_release(&s.data);
}

/* Leaves a kept-alive connection open on w, then loses the next answer to
 * match after the simulator acted on it. */
static void drop_after_kept_alive(struct wxpay *w, const char *match)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_transaction t;
	char body[128];

	memset(&t, 0, sizeof(t));
	if (wxpay_query_order(w, "ORD-PAID-1", &t, &err) < 0)
		bail("warming the connection: %s", err.msg);
	wxpay_transaction_release(&t);
	fresh(&sim_pk);
	snprintf(body, sizeof(body), "{\"match\":\"%s\",\"kind\":\"drop\",\"after\":true}", match);
	must(&sim_pk, "POST", "/_sim/faults", body);
}

/* The simulator saw exactly the attempts the hook saw (want of them). */
static void once_per_attempt(const char *label, int want)
{
	char name[160];
	json_t *j = journal(&sim_pk, (size_t)ncalls);

	nap_ms(300); /* a hidden resend would arrive by now */
	json_decref(j);
	j = journal(&sim_pk, 0);
	snprintf(name, sizeof(name), "%s: %d attempt(s)", label, want);
	is_int(ncalls, want, name);
	snprintf(name, sizeof(name), "%s: the server saw exactly one request per attempt", label);
	is_int((long)json_array_size(j), ncalls, name);
	json_decref(j);
	must(&sim_pk, "DELETE", "/_sim/faults", NULL);
}

static void test_fault_drop(struct wxpay *w)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay *w2 = client(&sim_pk, &std_opts);
	struct wxpay_transaction t;
	struct wxpay_refund_req rr;
	struct wxpay_refund f;
	char *id = NULL;
	struct wxpay_prepay_req pr;
	json_t *j;
	int r;

	/* a new handle: its first request opens a new connection */
	fresh(&sim_pk);
	memset(&t, 0, sizeof(t));
	must(&sim_pk, "POST", "/_sim/faults", "{\"match\":\"query\",\"kind\":\"drop\"}");
	ok(wxpay_query_order(w2, "ORD-PAID-1", &t, &err) == 0, "drop: retried, OK");
	wxpay_transaction_release(&t);
	is_int(ncalls, 2, "two attempts");
	is_str(calls[0].error, "NETWORK", "attempt 1: NETWORK");
	is_int(calls[0].status, 0, "no status");
	ok(calls[0].will_retry, "will retry");
	j = journal(&sim_pk, 2);
	is_int(json_array_size(j), 2, "journal: two requests");
	is_str(jstr(jent(j, 0), "fault"), "drop", "journal: dropped");
	is_int(jint(jent(j, 0), "status"), 0, "journal: no answer");
	is_int(jint(jent(j, 1), "status"), 200, "journal: then 200");
	json_decref(j);

	/*
	 * On a kept-alive connection libcurl itself sends the request again on a
	 * new connection when the reused one dies before any answer byte (its
	 * Curl_retry_request, not switchable off): for a query the hook sees one
	 * attempt where the server got two, which is harmless. A money-moving
	 * call never rides a reused connection, so the server sees exactly the
	 * attempts the hook (and so the audit log) sees.
	 */
	fresh(&sim_pk);
	must(&sim_pk, "POST", "/_sim/faults", "{\"match\":\"query\",\"kind\":\"drop\"}");
	ok(wxpay_query_order(w, "ORD-PAID-1", &t, &err) == 0,
	   "drop on a kept-alive connection: OK");
	wxpay_transaction_release(&t);
	j = journal(&sim_pk, 2);
	is_int(json_array_size(j), 2, "journal: the dropped query and its resend");
	json_decref(j);

	must(&sim_pk, "POST", "/_sim/orders",
	     "[{\"out_trade_no\":\"ORD-DROP-CLOSE\",\"total\":100},"
	     "{\"out_trade_no\":\"ORD-DROP-PAID\",\"total\":9900,\"trade_state\":\"SUCCESS\","
	     "\"success_time\":\"2026-11-19T20:00:00+08:00\"}]");
	drop_after_kept_alive(w, "close");
	r = wxpay_close_order(w, "ORD-DROP-CLOSE", &err);
	once_per_attempt("close, answer lost", 2);

	drop_after_kept_alive(w, "prepay");
	memset(&pr, 0, sizeof(pr));
	pr.description = "drop";
	pr.out_trade_no = "ORD-PREPAY-DROP";
	pr.notify_url = NOTIFY;
	pr.amount_total = 100;
	r = wxpay_prepay_app(w, &pr, &id, &err);
	free(id);
	ok(r < 0, "prepay, answer lost: a failure, never resent");
	once_per_attempt("prepay, answer lost", 1);

	memset(&rr, 0, sizeof(rr));
	rr.out_trade_no = "ORD-DROP-PAID";
	rr.out_refund_no = "RF-DROP-KEPT";
	rr.amount_refund = 100;
	rr.amount_total = 9900;
	drop_after_kept_alive(w, "refund");
	r = wxpay_refund_create(w, &rr, &f, &err);
	if (r == 0)
		wxpay_refund_release(&f);
	once_per_attempt("refund create, answer lost", 2);

	must(&sim_pk, "POST", "/_sim/refunds/RF-DROP-KEPT/status", "{\"status\":\"ABNORMAL\"}");
	{
		struct wxpay_abnormal_refund_req ar;
		json_t *o = NULL;

		admin(&sim_pk, "GET", "/_sim/refunds/RF-DROP-KEPT", NULL, &o);
		memset(&ar, 0, sizeof(ar));
		ar.refund_id = jstr(o, "refund_id");
		ar.out_refund_no = "RF-DROP-KEPT";
		ar.type = "MERCHANT_BANK_CARD";
		drop_after_kept_alive(w, "abnormal_refund");
		r = wxpay_refund_abnormal(w, &ar, &f, &err);
		if (r == 0)
			wxpay_refund_release(&f);
		once_per_attempt("apply-abnormal-refund, answer lost", 2);
		json_decref(o);
	}

	/* dropped after the refund was made: the retry with the same out_refund_no
	 * gets the same refund, and there is still only one */
	wxpay_free(w2);
	w2 = client(&sim_pk, &std_opts);
	fresh(&sim_pk);
	must(&sim_pk, "POST", "/_sim/faults",
	     "{\"match\":\"refund\",\"kind\":\"drop\",\"after\":true}");
	memset(&rr, 0, sizeof(rr));
	rr.transaction_id = "4200000001202611190000000001";
	rr.out_refund_no = "RF-PAID-1-DROP";
	rr.amount_refund = 500;
	rr.amount_total = 2500;
	if (!ok(wxpay_refund_create(w2, &rr, &f, &err) == 0, "refund, answer lost: retried, OK"))
		diag("%s", err.msg);
	else
		wxpay_refund_release(&f);
	is_int(ncalls, 2, "two attempts");
	is_int(sim_refunds_of(&sim_pk, "ORD-PAID-1"), 2, "one new refund (two in all), not two");
	wxpay_free(w2);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM };
	struct wxpay *w;
	int64_t t0 = now_ms();

	(void)argc;
	find_paths(argv[0]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	atexit(at_exit);
	alarm(WATCHDOG);

	keys_setup();
	sim_start(&sim_pk, false);
	sim_start(&sim_cert, true);
	seed(&sim_pk);

	w = client(&sim_pk, &std_opts);
	test_queries(w);
	test_close(w);
	test_prepay(w);
	test_refunds(w);
	test_abnormal(w, &sim_pk, "ORD-PAID-3", "public-key mode");
	test_bills(w);
	test_certs_pubkey(w);
	test_fault_500(w);
	test_fault_503(w);
	test_fault_4xx(w);
	test_fault_pay_during_close(w);
	test_fault_truncate(w);
	test_fault_drop(w);
	ok(!wxpay_poisoned(w), "the main handle was never poisoned");
	wxpay_free(w);
	test_fault_429();
	test_fault_delay();
	test_fault_signature(false);
	test_fault_probe();
	test_certs_cert_mode();

	diag("took %lld ms", (long long)(now_ms() - t0));
	/* a clean stop: no crash, and under ASan no leak report (that exits non-zero) */
	is_int(sim_kill(&sim_pk), 0, "the public-key simulator stops cleanly (exit 0)");
	is_int(sim_kill(&sim_cert), 0, "the cert-mode simulator stops cleanly (exit 0)");
	at_exit();
	return done_testing();
}
