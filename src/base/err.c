#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int err_set(struct wxr_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

int err_prefix(struct wxr_err *err, const char *fmt, ...)
{
	char head[512];
	char old[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return WXR_EFAIL;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", head, old);
	return err->code;
}

void err_clear(struct wxr_err *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}

const char *wxr_strerror(int code)
{
	switch (code) {
	case WXR_OK:
		return "ok";
	case WXR_EFAIL:
		return "failed";
	case WXR_EUSAGE:
		return "usage error";
	case WXR_ECONFIG:
		return "configuration error";
	case WXR_EIO:
		return "i/o error";
	case WXR_EDB:
		return "database error";
	case WXR_ENET:
		return "network error";
	case WXR_ESIG:
		return "verification failed";
	case WXR_EDATA:
		return "malformed data";
	case WXR_EAPI:
		return "api error";
	case WXR_ELOCKED:
		return "locked";
	case WXR_ENOTFOUND:
		return "not found";
	case WXR_ETOOBIG:
		return "too big";
	case WXR_EATTENTION:
		return "needs attention";
	case WXR_EBUSY:
		return "database busy";
	case WXR_EUNIQUE:
		return "duplicate key";
	default:
		return "unknown error";
	}
}

int wxr_exit_code(int status)
{
	if (status >= 0)
		return 0;
	switch (status) {
	case WXR_EUSAGE:
	case WXR_ECONFIG:
		return 2;
	case WXR_EATTENTION:
		return 3;
	case WXR_ELOCKED:
		return 75; /* EX_TEMPFAIL: try later */
	default:
		return 1;
	}
}

void wxr_bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "wxrecon: BUG at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
