/*
 * http.h - a small libcurl easy wrapper for the WeChat Pay client: one reused
 * handle (keep-alive, except for non-idempotent requests), explicit connect
 * and total timeouts, no signals, no redirects, http/https only, TLS
 * verification always on, plain http only to the loopback simulator,
 * response headers captured, bodies capped or streamed. One attempt per call: retries belong to the
 * caller, which must re-sign every attempt.
 */
#ifndef WXR_HTTP_H
#define WXR_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "wxrecon.h"

#define HTTP_BODY_MAX       (4u * 1024 * 1024) /* default cap of a captured body */
#define HTTP_ERROR_BODY_MAX (64u * 1024)       /* what is kept of a non-2xx body while streaming */

struct http_opts {
	long timeout_s;         /* total time per attempt; 0 -> 30 */
	long connect_timeout_s; /* 0 -> min(10, timeout_s) */
	const char *ca_bundle;  /* CA file for a private CA; NULL -> the system store */
	const char *user_agent; /* NULL -> "wxrecon/<version>" */
};

/* Receives the body of a 2xx response in pieces; a negative WXR_E* stops the transfer. */
typedef int (*http_sink)(void *ctx, const void *p, size_t n);

struct http_request {
	const char *method;         /* "GET" or "POST" */
	const char *url;            /* absolute; checked with http_url_check() */
	const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
	const void *body;           /* POST body (borrowed); may be NULL */
	size_t body_len;
	size_t body_max; /* cap of the captured body; 0 -> HTTP_BODY_MAX */
	long timeout_s;  /* 0 -> the handle's; else overrides it for this request */
	bool fresh;      /* non-idempotent: a new connection, closed after (see http_do) */
	http_sink sink;  /* if set, 2xx bodies go here, not into the response */
	void *sink_ctx;
};

struct http_header {
	char *name;  /* owned */
	char *value; /* owned, trimmed */
};

struct http_response {
	long status;                 /* last status line seen; 0 if none (trust it only when
	                                http_do() returned 0) */
	struct buf body;             /* captured body (all of it, or non-2xx ones when streaming) */
	struct http_header *headers; /* of the final response (owned) */
	size_t nheaders;
	size_t streamed; /* bytes handed to the sink */
	bool timed_out;
	bool unreachable; /* no connection was made (name, proxy or connect failed, or the
	                     connect timed out): nothing was sent */
	bool sink_failed; /* the sink stopped the transfer */
};

/* Returns NULL (and sets err) only when libcurl cannot start. */
struct http *http_new(const struct http_opts *opts, struct wxr_err *err);
/* NULL-safe. */
void http_free(struct http *h);

void http_response_init(struct http_response *r);
/* Frees the contents; the response can be reused after http_response_init(). NULL-safe. */
void http_response_release(struct http_response *r);
/* Case-insensitive lookup; NULL when absent. Borrowed from r. */
const char *http_header_get(const struct http_response *r, const char *name);

/*
 * Performs one request. Returns 0 whenever an HTTP response arrived, whatever
 * its status (see resp->status); WXR_ENET for transport failures and timeouts
 * (resp->timed_out), WXR_ETOOBIG when the body cap is hit, WXR_ECONFIG for a
 * refused URL, or the sink's negative code. resp must be initialised; it is
 * reset first.
 */
int http_do(struct http *h, const struct http_request *req, struct http_response *resp,
            struct wxr_err *err);

/*
 * 0 when url is https://..., or http:// to 127.0.0.1, localhost or [::1] (the
 * simulator); WXR_ECONFIG otherwise, with the reason.
 */
int http_url_check(const char *url, struct wxr_err *err);

/*
 * Splits an absolute URL into *out_origin "scheme://host[:port]" (lower-case
 * scheme and host) and *out_target "/path[?query]" exactly as given (no
 * re-encoding). Both new strings; caller frees.
 */
int http_url_split(const char *url, char **out_origin, char **out_target, struct wxr_err *err);

#endif
