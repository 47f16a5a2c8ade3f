/*
 * buf.h - growable byte buffer with an optional hard cap (git strbuf +
 * curl dynbuf). data is always NUL-terminated when non-NULL.
 */
#ifndef WXR_BUF_H
#define WXR_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "base/compat.h"

struct buf {
	char *data; /* owned; NULL until the first add */
	size_t len;
	size_t cap;
	size_t max; /* 0 = no cap; else adds that would exceed it fail */
};

#define BUF_INIT              \
	{                     \
		NULL, 0, 0, 0 \
	}

void buf_init(struct buf *b);
void buf_init_max(struct buf *b, size_t max);
/* Each add returns 0, or WXR_ETOOBIG when the cap would be exceeded. */
int buf_add(struct buf *b, const void *p, size_t n);
int buf_adds(struct buf *b, const char *s);
int buf_addc(struct buf *b, char c);
int buf_addf(struct buf *b, const char *fmt, ...) WXR_PRINTF(2, 3);
int buf_vaddf(struct buf *b, const char *fmt, va_list ap);
/* Appends s (NULL as "") as a JSON string: quoted, '"' and '\\' escaped, control bytes
 * as \u00XX; other bytes as they are (the caller's text is UTF-8). */
int buf_add_json_str(struct buf *b, const char *s);
/* Returns the string ("" when empty); valid until the next change. */
const char *buf_str(const struct buf *b);
void buf_reset(struct buf *b);
void buf_release(struct buf *b);
/* Hands the data to the caller (free() it); b is left empty. */
char *buf_detach(struct buf *b, size_t *out_len);

struct wxr_err;
/*
 * Appends the whole file at path to b; max (> 0, mandatory) caps the bytes read.
 * WXR_EIO when it cannot be opened or read, WXR_ETOOBIG past max; the error
 * names the path. Reads straight into b (no copy left on the stack: keys, too).
 */
int buf_read_file(struct buf *b, const char *path, size_t max, struct wxr_err *err);

#endif
