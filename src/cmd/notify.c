/*
 * cmd_notify.c - `wxrecon notify serve`: the HTTP receiver of WeChat Pay's
 * payment and refund notifications (PROTOCOL section 3), on libmicrohttpd.
 *
 * One internal thread serves every connection, so notifications are handled
 * one at a time on the one database connection; each takes milliseconds,
 * and the database's busy timeout is cut to NOTIFY_DB_BUSY_MS so that an
 * answer always leaves well within WeChat Pay's 5 seconds. The verifying,
 * deduping and ledger work is payflow_notify_handle()'s.
 *
 * SIGTERM/SIGINT: stop accepting, let the requests in hand finish (up to
 * NOTIFY_DRAIN_S), exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "cmd/cmd.h"
#include "cmd/wxclient.h"
#include "core/auditlog.h"
#include "core/payflow.h"

#define NOTIFY_DEFAULT_PORT 8080
#define NOTIFY_DB_BUSY_MS   1000 /* a locked database answers 500 after this */
#define NOTIFY_STOP_BUSY_MS 5000 /* at the stop, for the last rejections' audit entry */
/*
 * Against slow clients holding every slot (slowloris): a connection silent this long is
 * dropped; one address holds at most NOTIFY_PER_IP_LIMIT connections (WeChat Pay sends
 * from many addresses, an attacker's trickle from one is capped), the slots are many, and
 * a body must arrive whole within NOTIFY_BODY_DEADLINE_S of its headers (else the
 * connection is closed), however slowly it trickles.
 */
#define NOTIFY_CONN_TIMEOUT    5
#define NOTIFY_CONN_LIMIT      512
#define NOTIFY_PER_IP_LIMIT    8
#define NOTIFY_BODY_DEADLINE_S 5
#define NOTIFY_DRAIN_S         10 /* how long SIGTERM waits for requests in hand */
/* Rejections are audited as one entry per this many seconds (--reject-interval). */
#define NOTIFY_REJECT_INTERVAL_S 60

static const char fail_body[] = "{\"code\":\"FAIL\",\"message\":\"失败\"}";

struct server {
	struct ctx *ctx;
	struct wxpay *w;
	atomic_int inflight; /* requests begun and not yet completed */
	/* The database connection and rejects are used by the server's thread and
	 * by the main one (the interval's flush): one at a time. */
	pthread_mutex_t lock;
	struct payflow_rejects rejects;
	long reject_interval_s;
};

/* Audits the rejections counted, when their interval is over (or force); false
 * when they could not be written (they stay counted). */
static bool flush_rejects(struct server *sv, bool force)
{
	struct payflow_env env;
	struct wxr_err err = WXR_ERR_INIT;

	if (!sv->rejects.count ||
	    (!force && !payflow_rejects_due(&sv->rejects, clock_real_now(), sv->reject_interval_s)))
		return true;
	memset(&env, 0, sizeof(env));
	env.db = sv->ctx->db;
	env.mchid = sv->ctx->mchid;
	env.run_id = sv->ctx->run_id;
	if (payflow_rejects_flush(&env, &sv->rejects, &err) < 0) {
		log_warn("notify: cannot audit %lld rejected notification(s) yet: %s",
		         (long long)sv->rejects.count, err.msg);
		return false;
	}
	return true;
}

struct request {
	struct buf body;
	bool too_big;
	int64_t started; /* monotonic ms when the headers were complete */
};

static enum MHD_Result respond(struct MHD_Connection *con, unsigned status)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	bool ok = status == MHD_HTTP_NO_CONTENT;

	r = MHD_create_response_from_buffer(ok ? 0 : strlen(fail_body),
	                                    (void *)(ok ? "" : fail_body), MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	if (!ok)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		                        "application/json; charset=utf-8");
	ret = MHD_queue_response(con, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void peer(struct MHD_Connection *con, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
	        MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, n, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
		          (socklen_t)n);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		          out, (socklen_t)n);
}

static const char *header(struct MHD_Connection *con, const char *name)
{
	return MHD_lookup_connection_value(con, MHD_HEADER_KIND, name);
}

static void log_answer(struct MHD_Connection *con, const struct payflow_notify_answer *a)
{
	char from[INET6_ADDRSTRLEN + 1];

	if (strcmp(a->outcome, "rejected") == 0) {
		peer(con, from, sizeof(from));
		log_warn("notify: rejected a notification from %s (%d): %s", from, a->http_status,
		         a->detail);
	} else if (strcmp(a->outcome, "error") == 0) {
		log_warn("notify: notification %s: answered %d, WeChat Pay will retry: %s",
		         a->id[0] ? a->id : "?", a->http_status, a->detail);
	} else if (strcmp(a->outcome, "held") == 0 || strcmp(a->outcome, "unknown") == 0) {
		log_warn("notify: %s %s '%s': %s: %s", a->id, a->event_type, a->subject, a->outcome,
		         a->detail);
	} else {
		log_info("notify: %s %s '%s': %s%s%s", a->id, a->event_type, a->subject, a->outcome,
		         a->detail[0] ? ": " : "", a->detail);
	}
}

/* A body refused for its size, counted with the rejections. */
static void count_too_large(struct server *sv, struct MHD_Connection *con, size_t len)
{
	char from[INET6_ADDRSTRLEN + 1];
	struct wxpay_notify_headers h = { 0 };

	peer(con, from, sizeof(from));
	h.serial = header(con, "Wechatpay-Serial");
	h.timestamp = header(con, "Wechatpay-Timestamp");
	pthread_mutex_lock(&sv->lock);
	payflow_rejects_add(&sv->rejects, PAYFLOW_REJECT_TOO_LARGE, from, &h, len,
	                    "the body is larger than the limit", clock_real_now());
	pthread_mutex_unlock(&sv->lock);
}

static enum MHD_Result handle(struct server *sv, struct MHD_Connection *con, struct request *rq)
{
	struct wxpay_notify_headers h;
	struct payflow_notify_answer a;
	struct payflow_env env;
	struct wxr_err err = WXR_ERR_INIT;
	char from[INET6_ADDRSTRLEN + 1];
	int64_t now;

	if (rq->too_big) {
		log_warn("notify: refused a body larger than %d bytes", PAYFLOW_NOTIFY_BODY_MAX);
		count_too_large(sv, con, rq->body.len);
		return respond(con, 413);
	}
	memset(&h, 0, sizeof(h));
	h.timestamp = header(con, "Wechatpay-Timestamp");
	h.nonce = header(con, "Wechatpay-Nonce");
	h.signature = header(con, "Wechatpay-Signature");
	h.serial = header(con, "Wechatpay-Serial");
	h.signature_type = header(con, "Wechatpay-Signature-Type");
	if (clock_now(&now, &err) < 0)
		now = clock_real_now();
	memset(&env, 0, sizeof(env));
	env.db = sv->ctx->db;
	env.wx = sv->w;
	env.mchid = sv->ctx->mchid;
	env.tz_offset_s = sv->ctx->cfg.tz_offset_s;
	env.now = now;
	env.run_id = sv->ctx->run_id;
	env.paid_after_close = sv->ctx->cfg.paid_after_close;
	peer(con, from, sizeof(from));
	env.peer = from;
	env.rejects = &sv->rejects;
	pthread_mutex_lock(&sv->lock);
	flush_rejects(sv, false);
	payflow_notify_handle(&env, &h, rq->body.data ? rq->body.data : "", rq->body.len, &a);
	pthread_mutex_unlock(&sv->lock);
	log_answer(con, &a);
	return respond(con, (unsigned)a.http_status);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	struct server *sv = cls;
	struct request *rq = *con_cls;

	(void)url;
	(void)version;
	if (!rq) {
		const char *cl = header(con, MHD_HTTP_HEADER_CONTENT_LENGTH);

		rq = xcalloc(1, sizeof(*rq));
		buf_init_max(&rq->body, PAYFLOW_NOTIFY_BODY_MAX);
		rq->started = clock_mono_ms();
		*con_cls = rq;
		atomic_fetch_add(&sv->inflight, 1);
		if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
			return respond(con, MHD_HTTP_METHOD_NOT_ALLOWED);
		if (cl && (strlen(cl) > 9 || strtol(cl, NULL, 10) > PAYFLOW_NOTIFY_BODY_MAX)) {
			/* answered before the body is read; MHD then closes the connection */
			log_warn("notify: refused a body of %.20s bytes (at most %d)", cl,
			         PAYFLOW_NOTIFY_BODY_MAX);
			count_too_large(sv, con, 0);
			return respond(con, 413);
		}
		return MHD_YES;
	}
	if (clock_mono_ms() - rq->started > NOTIFY_BODY_DEADLINE_S * 1000) {
		char from[INET6_ADDRSTRLEN + 1];

		/* No answer: MHD would hold a response until the body is whole. */
		peer(con, from, sizeof(from));
		log_warn("notify: %s sent its body too slowly (over %d s); connection closed", from,
		         NOTIFY_BODY_DEADLINE_S);
		return MHD_NO;
	}
	if (*upload_size) {
		if (!rq->too_big && buf_add(&rq->body, upload, *upload_size) < 0)
			rq->too_big = true;
		*upload_size = 0;
		return MHD_YES;
	}
	return handle(sv, con, rq);
}

static void on_done(void *cls, struct MHD_Connection *con, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
	struct server *sv = cls;
	struct request *rq = *con_cls;

	(void)con;
	(void)toe;
	if (!rq)
		return;
	buf_release(&rq->body);
	free(rq);
	*con_cls = NULL;
	atomic_fetch_sub(&sv->inflight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("notify: microhttpd: %s", msg);
}

static int parse_port(const char *s, unsigned *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 65535)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int write_portfile(const char *path, unsigned port, struct wxr_err *err)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	int r = 0;

	if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0) {
		r = err_set(err, WXR_EIO, "cannot write '%s': %s", tmp, strerror(errno));
		if (f)
			f = NULL;
	} else if (rename(tmp, path) < 0) {
		r = err_set(err, WXR_EIO, "cannot rename '%s' to '%s': %s", tmp, path,
		            strerror(errno));
	}
	if (r < 0)
		unlink(tmp);
	free(tmp);
	return r;
}

static void sleep_ms(long ms)
{
	struct timespec d = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&d, &d) < 0 && errno == EINTR)
		;
}

static void audit_event(struct ctx *ctx, const char *event, const char *detail)
{
	struct wxr_err err = WXR_ERR_INIT;

	if (auditlog_append(ctx->db, ctx->run_id, "payflow", event, NULL, detail, &err) < 0)
		log_warn("notify: cannot audit '%s': %s", event, err.msg);
}

static int run_serve(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		{ "bind", required_argument, NULL, 'b' },
		{ "port", required_argument, NULL, 'p' },
		{ "portfile", required_argument, NULL, 'P' },
		{ "reject-interval", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct server sv;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	const struct sockaddr *sa;
	const char *bind_addr = "127.0.0.1", *portfile = NULL;
	unsigned port = NOTIFY_DEFAULT_PORT, flags;
	long reject_interval_s = NOTIFY_REJECT_INTERVAL_S;
	struct timespec tick = { 1, 0 };
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d = NULL;
	MHD_socket lsock = MHD_INVALID_SOCKET;
	bool v6 = false;
	sigset_t set, old;
	char *detail;
	int c, sig, r;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			bind_addr = optarg;
			break;
		case 'p':
			if (parse_port(optarg, &port) < 0)
				return err_set(err, WXR_EUSAGE,
				               "--port: '%s' is not a port (0-65535)", optarg);
			break;
		case 'P':
			portfile = optarg;
			break;
		case 'R': {
			char *end;

			errno = 0;
			reject_interval_s = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || reject_interval_s < 1 ||
			    reject_interval_s > 86400)
				return err_set(err, WXR_EUSAGE,
				               "--reject-interval: '%s' is not a number of seconds"
				               " (1-86400)",
				               optarg);
			break;
		}
		default:
			return cmd_option(ctx, NULL, c, argv, err);
		}
	}
	if (optind < argc)
		return cmd_usage_error(ctx, err, "unexpected argument '%s'", argv[optind]);
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, bind_addr, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)port);
		sa = (const struct sockaddr *)&sin;
	} else if (inet_pton(AF_INET6, bind_addr, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons((uint16_t)port);
		sa = (const struct sockaddr *)&sin6;
		v6 = true;
	} else {
		return err_set(err, WXR_EUSAGE, "--bind: '%s' is not an IPv4 or IPv6 address",
		               bind_addr);
	}

	memset(&sv, 0, sizeof(sv));
	sv.ctx = ctx;
	sv.reject_interval_s = reject_interval_s;
	atomic_init(&sv.inflight, 0);
	pthread_mutex_init(&sv.lock, NULL);
	r = wxclient_open(ctx, &sv.w, err);
	if (r < 0)
		return err_prefix(err, "notify serve");
	/* A locked database must not hold an answer past WeChat Pay's 5 seconds. */
	store_busy_timeout(ctx->db, NOTIFY_DB_BUSY_MS);

	/* The server's thread inherits this mask; only sigwait() below sees the signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	signal(SIGPIPE, SIG_IGN);

	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC;
	if (v6)
		flags |= MHD_USE_IPv6;
	if (log_get_level() >= LOG_VERBOSE)
		flags |= MHD_USE_ERROR_LOG;
	d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, &sv,
	                     MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_NOTIFY_COMPLETED, on_done, &sv,
	                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)NOTIFY_CONN_TIMEOUT,
	                     MHD_OPTION_CONNECTION_LIMIT, (unsigned)NOTIFY_CONN_LIMIT,
	                     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)NOTIFY_PER_IP_LIMIT,
	                     MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, &sv, MHD_OPTION_END);
	if (!d) {
		r = err_set(err, WXR_ENET, "notify serve: cannot listen on %s port %u: %s",
		            bind_addr, port, strerror(errno));
		goto out;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (!info || !info->port) {
		r = err_set(err, WXR_ENET, "notify serve: cannot learn the port that was bound");
		goto out;
	}
	port = info->port;
	printf(v6 ? "listening on http://[%s]:%u\n" : "listening on http://%s:%u\n", bind_addr,
	       port);
	fflush(stdout);
	{
		json_t *j = json_pack("{s:s, s:i}", "bind", bind_addr, "port", (int)port);

		detail = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (!detail) {
			r = err_set(err, WXR_EFAIL, "notify serve: cannot build the audit entry");
			goto out;
		}
	}
	/* the server's thread may be handling a request already */
	pthread_mutex_lock(&sv.lock);
	audit_event(ctx, "notify.start", detail);
	pthread_mutex_unlock(&sv.lock);
	free(detail);
	/* The portfile last: it tells a waiting script that everything is ready. */
	if (portfile) {
		r = write_portfile(portfile, port, err);
		if (r < 0) {
			err_prefix(err, "notify serve");
			goto out;
		}
	}
	log_info("notify: serving on %s port %u (SIGTERM stops)", bind_addr, port);

	/* Each second: the rejections of an interval that ended are audited. */
	for (;;) {
		sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig < 0 && errno != EAGAIN && errno != EINTR) {
			sig = SIGTERM;
			break;
		}
		pthread_mutex_lock(&sv.lock);
		flush_rejects(&sv, false);
		pthread_mutex_unlock(&sv.lock);
	}

	/* Stop accepting, let the requests in hand finish, then stop. */
	lsock = MHD_quiesce_daemon(d);
	for (int i = 0; i < NOTIFY_DRAIN_S * 50 && atomic_load(&sv.inflight) > 0; i++)
		sleep_ms(20);
	if (atomic_load(&sv.inflight) > 0)
		log_warn("notify: %d request(s) still open after %d s; stopping anyway",
		         atomic_load(&sv.inflight), NOTIFY_DRAIN_S);
	MHD_stop_daemon(d);
	d = NULL;
	if (lsock != MHD_INVALID_SOCKET)
		close(lsock);
	/* what the last interval counted, before the stop: no answer waits on it now, so a
	 * busy database gets the usual timeout */
	store_busy_timeout(ctx->db, NOTIFY_STOP_BUSY_MS);
	flush_rejects(&sv, true);
	audit_event(ctx, "notify.stop",
	            sig == SIGINT ? "{\"signal\":\"INT\"}" : "{\"signal\":\"TERM\"}");
	log_info("notify: stopped");
	r = 0;
out:
	if (d)
		MHD_stop_daemon(d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_destroy(&sv.lock);
	wxpay_free(sv.w);
	return r;
}

static const char serve_help[] =
        "Serves HTTP on ADDR (default 127.0.0.1; put it behind the proxy that owns the\n"
        "public notify_url) and port P (default 8080; 0 picks a free one). The address is\n"
        "printed on stdout; --portfile F also writes the port to F. Accepts POST on any path;\n"
        "bodies up to 64 KiB. Each notification is verified (signature by Wechatpay-Serial,\n"
        "5-minute window, AES-GCM) and deduplicated by its id, then applied to the ledger:\n"
        "TRANSACTION.SUCCESS -> order PAID (transaction_id, paid_at); REFUND.SUCCESS,\n"
        "REFUND.ABNORMAL, REFUND.CLOSED -> the refund's state (the order becomes\n"
        "PARTIAL_REFUNDED/REFUNDED on success). A payment whose amount differs from the\n"
        "ledger's, or that contradicts it, is held: recorded and audited, the ledger left as\n"
        "it was. Unknown orders/refunds are recorded. Every notification is in the\n"
        "'notifications' table and the audit log.\n"
        "Answers: 204 received (repeats too); 401 not verified (tampered, stale, a probe);\n"
        "400 malformed; 413 too big; 405 not POST; 500 not recorded (database locked for\n"
        "more than a second, or cannot write): WeChat Pay retries. Failures carry\n"
        "{\"code\":\"FAIL\",\"message\":\"失败\"}. SIGTERM or SIGINT: stop accepting, finish\n"
        "the requests in hand, exit 0.\n"
        "Rejected requests (401, 400, 413) are audited as one notify.rejected entry per\n"
        "--reject-interval S seconds (default 60, and at the stop): counts by reason and by\n"
        "sender, the first one's headers cut to 128 bytes.\n";

static const struct cmd notify_subs[] = {
	{
	        .name = "serve",
	        .run = run_serve,
	        .flags = CMD_DB,
	        .usage = "notify serve [--bind ADDR] [--port P] [--portfile F] [--reject-interval "
	                 "S]",
	        .summary = "receive WeChat Pay's payment and refund notifications",
	        .help = serve_help,
	},
	{ .name = NULL },
};

const struct cmd cmd_notify = {
	.name = "notify",
	.subs = notify_subs,
	.usage = "notify serve ...",
	.summary = "receive WeChat Pay notifications",
};
