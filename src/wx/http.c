#include "wx/http.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "base/err.h"
#include "base/xalloc.h"

#define HEADERS_MAX       200
#define HEADER_BYTES_MAX  (64 * 1024)
#define CONNECT_DEFAULT_S 10L

struct http {
	CURL *curl; /* owned; reused so connections are kept alive */
	long timeout_s;
	long connect_timeout_s;
	char *ca_bundle;  /* owned or NULL */
	char *user_agent; /* owned */
	char errbuf[CURL_ERROR_SIZE];
};

/* State of one transfer, shared by the callbacks. */
struct xfer {
	const struct http_request *req;
	struct http_response *resp;
	size_t header_bytes;
	int sink_rc;   /* the sink's negative code, when it stopped the transfer */
	bool too_big;  /* the captured body hit its cap */
	bool too_many; /* too many or too large headers */
};

struct http *http_new(const struct http_opts *opts, struct wxr_err *err)
{
	struct http *h;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		err_set(err, WXR_ENET, "cannot initialise libcurl");
		return NULL;
	}
	h = xcalloc(1, sizeof(*h));
	h->curl = curl_easy_init();
	if (!h->curl) {
		err_set(err, WXR_ENET, "cannot create a libcurl handle");
		free(h);
		curl_global_cleanup();
		return NULL;
	}
	h->timeout_s = opts && opts->timeout_s > 0 ? opts->timeout_s : 30;
	h->connect_timeout_s =
	        opts && opts->connect_timeout_s > 0 ? opts->connect_timeout_s : CONNECT_DEFAULT_S;
	if (h->connect_timeout_s > h->timeout_s)
		h->connect_timeout_s = h->timeout_s;
	if (opts && opts->ca_bundle && *opts->ca_bundle)
		h->ca_bundle = xstrdup(opts->ca_bundle);
	h->user_agent =
	        xstrdup(opts && opts->user_agent ? opts->user_agent : "wxrecon/" WXR_VERSION);
	return h;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h->ca_bundle);
	free(h->user_agent);
	free(h);
	curl_global_cleanup();
}

void http_response_init(struct http_response *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body);
}

static void clear_headers(struct http_response *r)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	r->headers = NULL;
	r->nheaders = 0;
}

void http_response_release(struct http_response *r)
{
	if (!r)
		return;
	clear_headers(r);
	buf_release(&r->body);
}

const char *http_header_get(const struct http_response *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

/* ---- URLs ---- */

static bool is_loopback(const char *host)
{
	return strcasecmp(host, "127.0.0.1") == 0 || strcasecmp(host, "localhost") == 0 ||
	       strcmp(host, "[::1]") == 0;
}

/* Parses url with libcurl; fills the lower-cased scheme and host and the port (or NULL). */
static int url_parts(const char *url, char **out_scheme, char **out_host, char **out_port,
                     struct wxr_err *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	CURLUcode rc;
	int r = 0;

	if (!u)
		return err_set(err, WXR_EFAIL, "out of memory parsing a URL");
	rc = curl_url_set(u, CURLUPART_URL, url, CURLU_PATH_AS_IS);
	if (rc != CURLUE_OK) {
		r = err_set(err, WXR_ECONFIG, "bad URL '%s': %s", url, curl_url_strerror(rc));
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		r = err_set(err, WXR_ECONFIG, "bad URL '%s': no scheme or host", url);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	for (char *p = scheme; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	for (char *p = host; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	*out_scheme = xstrdup(scheme);
	*out_host = xstrdup(host);
	*out_port = port ? xstrdup(port) : NULL;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return r;
}

int http_url_check(const char *url, struct wxr_err *err)
{
	char *scheme = NULL, *host = NULL, *port = NULL;
	int r;

	r = url_parts(url, &scheme, &host, &port, err);
	if (r < 0)
		return r;
	if (strcmp(scheme, "https") == 0)
		r = 0;
	else if (strcmp(scheme, "http") != 0)
		r = err_set(err, WXR_ECONFIG, "refusing URL scheme '%s': only https is allowed",
		            scheme);
	else if (!is_loopback(host))
		r = err_set(
		        err, WXR_ECONFIG,
		        "refusing plain http to '%s': WeChat Pay is https only; http is allowed "
		        "only to the local simulator (127.0.0.1, localhost or [::1])",
		        host);
	free(scheme);
	free(host);
	free(port);
	return r;
}

int http_url_split(const char *url, char **out_origin, char **out_target, struct wxr_err *err)
{
	char *scheme = NULL, *host = NULL, *port = NULL;
	const char *p;
	const char *t;
	size_t tlen;
	int r;

	r = url_parts(url, &scheme, &host, &port, err);
	if (r < 0)
		return r;
	p = strstr(url, "://");
	if (!p) {
		r = err_set(err, WXR_ECONFIG, "bad URL '%s': not absolute", url);
		goto out;
	}
	t = p + 3 + strcspn(p + 3, "/?#");
	tlen = strcspn(t, "#");
	for (size_t i = 0; i < tlen; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c <= 0x20 || c >= 0x7f) {
			r = err_set(err, WXR_EDATA,
			            "bad URL: character 0x%02x in its path or query must be "
			            "percent-encoded",
			            c);
			goto out;
		}
	}
	*out_origin = port ? xasprintf("%s://%s:%s", scheme, host, port)
	                   : xasprintf("%s://%s", scheme, host);
	if (tlen == 0 || t[0] == '?')
		*out_target = xasprintf("/%.*s", (int)tlen, t);
	else
		*out_target = xstrndup(t, tlen);
out:
	free(scheme);
	free(host);
	free(port);
	return r;
}

/* ---- transfers ---- */

static bool is_2xx(long status)
{
	return status >= 200 && status < 300;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	struct http_response *resp = x->resp;
	size_t len = size * n;
	size_t end = len;
	const char *colon;
	struct http_header *hd;
	size_t vs;

	x->header_bytes += len;
	if (x->header_bytes > HEADER_BYTES_MAX) {
		x->too_many = true;
		return 0;
	}
	while (end > 0 && (p[end - 1] == '\r' || p[end - 1] == '\n'))
		end--;
	if (end >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* A new status line (after 1xx or in a new response): start over. */
		size_t i = 5;
		long status = 0;

		while (i < end && p[i] != ' ')
			i++;
		while (i < end && p[i] == ' ')
			i++;
		for (int d = 0; d < 3 && i < end && isdigit((unsigned char)p[i]); d++, i++)
			status = status * 10 + (p[i] - '0');
		resp->status = status;
		clear_headers(resp);
		return len;
	}
	colon = memchr(p, ':', end);
	if (!colon || colon == p)
		return len; /* blank line, continuation or junk: ignored */
	if (resp->nheaders >= HEADERS_MAX) {
		x->too_many = true;
		return 0;
	}
	vs = (size_t)(colon - p) + 1;
	while (vs < end && (p[vs] == ' ' || p[vs] == '\t'))
		vs++;
	while (end > vs && (p[end - 1] == ' ' || p[end - 1] == '\t'))
		end--;
	resp->headers = xreallocarray(resp->headers, resp->nheaders + 1, sizeof(*resp->headers));
	hd = &resp->headers[resp->nheaders++];
	hd->name = xstrndup(p, (size_t)(colon - p));
	hd->value = xstrndup(p + vs, end - vs);
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	int r;

	if (len == 0)
		return 0;
	if (x->req->sink && is_2xx(x->resp->status)) {
		r = x->req->sink(x->req->sink_ctx, p, len);
		if (r < 0) {
			x->sink_rc = r;
			return 0;
		}
		x->resp->streamed += len;
		return len;
	}
	if (buf_add(&x->resp->body, p, len) < 0) {
		if (x->req->sink) {
			/* An error body while streaming: keep what fits, drop the rest. */
			size_t room = x->resp->body.max - x->resp->body.len;

			if (room)
				buf_add(&x->resp->body, p, room);
			return len;
		}
		x->too_big = true;
		return 0;
	}
	return len;
}

/* Whether the transfer got a TCP connection (to the server or its proxy). */
static bool connected(CURL *c)
{
	curl_off_t us = 0;

	return curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &us) == CURLE_OK && us > 0;
}

int http_do(struct http *h, const struct http_request *req, struct http_response *resp,
            struct wxr_err *err)
{
	CURL *c = h->curl;
	struct curl_slist *hdrs = NULL;
	struct curl_slist *tmp;
	struct xfer x;
	size_t max;
	long timeout = req->timeout_s > 0 ? req->timeout_s : h->timeout_s;
	CURLcode rc;
	int r;

	http_response_release(resp);
	http_response_init(resp);
	r = http_url_check(req->url, err);
	if (r < 0)
		return r;
	memset(&x, 0, sizeof(x));
	x.req = req;
	x.resp = resp;
	max = req->body_max ? req->body_max : HTTP_BODY_MAX;
	if (req->sink && max > HTTP_ERROR_BODY_MAX)
		max = HTTP_ERROR_BODY_MAX;
	buf_init_max(&resp->body, max);

	/* Disable "Expect: 100-continue": WeChat Pay bodies are small. */
	hdrs = curl_slist_append(NULL, "Expect:");
	for (const char *const *hp = req->headers; hp && *hp && hdrs; hp++) {
		tmp = curl_slist_append(hdrs, *hp);
		if (!tmp)
			curl_slist_free_all(hdrs);
		hdrs = tmp;
	}
	if (!hdrs)
		return err_set(err, WXR_EFAIL, "out of memory building request headers");

	curl_easy_reset(c);
	h->errbuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->connect_timeout_s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_bundle)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_bundle);
	/* The simulator is never reached through a proxy; the real API honours *_proxy. */
	curl_easy_setopt(c, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1");
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	/*
	 * On a reused connection that dies before any answer byte libcurl sends
	 * the request again by itself (Curl_retry_request, no switch), unseen by
	 * the caller: harmless for a query, a second money movement for a POST
	 * that WeChat Pay already acted on. A fresh connection is never retried.
	 */
	if (req->fresh) {
		curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	}
	curl_easy_setopt(c, CURLOPT_USERAGENT, h->user_agent);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	if (strcmp(req->method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(req->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
	} else {
		curl_slist_free_all(hdrs);
		return err_set(err, WXR_EFAIL, "unsupported HTTP method '%s'", req->method);
	}

	rc = curl_easy_perform(c);
	if (rc == CURLE_OK) {
		long code = 0;

		if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code)
			resp->status = code;
		r = 0;
	} else if (x.sink_rc < 0) {
		resp->sink_failed = true;
		r = err_set(err, x.sink_rc, "download stopped by its receiver after %zu bytes: %s",
		            resp->streamed, wxr_strerror(x.sink_rc));
	} else if (x.too_big) {
		r = err_set(err, WXR_ETOOBIG, "response body larger than %zu bytes", max);
	} else if (x.too_many) {
		r = err_set(err, WXR_ETOOBIG, "response headers too large");
	} else {
		resp->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
		resp->unreachable =
		        rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY ||
		        rc == CURLE_COULDNT_CONNECT || (resp->timed_out && !connected(c));
		r = err_set(err, WXR_ENET, "%s", h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdrs);
	return r;
}
