#include "base/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "wxrecon.h"

void buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = 0;
}

void buf_init_max(struct buf *b, size_t max)
{
	buf_init(b);
	b->max = max;
}

static int grow(struct buf *b, size_t extra)
{
	size_t need;

	if (extra > (size_t)-1 - b->len - 1)
		return WXR_ETOOBIG;
	need = b->len + extra + 1;
	if (b->max && b->len + extra > b->max)
		return WXR_ETOOBIG;
	if (need <= b->cap)
		return 0;
	if (b->cap * 2 > need)
		need = b->cap * 2;
	if (need < 64)
		need = 64;
	b->data = xrealloc(b->data, need);
	b->cap = need;
	return 0;
}

int buf_add(struct buf *b, const void *p, size_t n)
{
	int r = grow(b, n);

	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_addc(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int buf_add_json_str(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	int r = buf_addc(b, '"');

	for (; *p && r == 0; p++) {
		if (*p == '"' || *p == '\\')
			r = buf_addf(b, "\\%c", *p);
		else if (*p < 0x20)
			r = buf_addf(b, "\\u%04x", *p);
		else
			r = buf_addc(b, (char)*p);
	}
	return r < 0 ? r : buf_addc(b, '"');
}

int buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;
	int r;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return WXR_EFAIL;
	r = grow(b, (size_t)n);
	if (r < 0)
		return r;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vaddf(b, fmt, ap);
	va_end(ap);
	return r;
}

const char *buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void buf_release(struct buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

char *buf_detach(struct buf *b, size_t *out_len)
{
	char *p = b->data ? b->data : xstrdup("");

	if (out_len)
		*out_len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

int buf_read_file(struct buf *b, const char *path, size_t max, struct wxr_err *err)
{
	FILE *f = fopen(path, "rbe");
	size_t start = b->len;
	struct stat st;
	int r = 0;

	if (!f)
		return err_set(err, WXR_EIO, "cannot open '%s': %s", path, strerror(errno));
	/* One allocation for a regular file: no realloc leaves a copy of a key behind. */
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 &&
	    (uint64_t)st.st_size < max)
		(void)grow(b, (size_t)st.st_size + 1); /* + 1: the read that sees EOF */
	for (;;) {
		size_t room = b->cap > b->len + 1 ? b->cap - b->len - 1 : 0, n;

		if (room > max - (b->len - start) + 1)
			room = max - (b->len - start) + 1; /* one past max tells "too big" */
		if (b->max && room > b->max - b->len)
			room = b->max - b->len; /* the capacity may run past b's own cap */
		if (room == 0) {
			if (grow(b, 4096) == 0 || grow(b, 1) == 0)
				continue;
			if (fgetc(f) == EOF && !ferror(f))
				break; /* b's own cap is reached, and the file ended there */
			r = err_set(err, WXR_ETOOBIG, "'%s' is larger than %zu bytes", path,
			            b->max - start < max ? b->max - start : max);
			break;
		}
		n = fread(b->data + b->len, 1, room, f);
		b->len += n;
		b->data[b->len] = '\0';
		if (b->len - start > max) {
			r = err_set(err, WXR_ETOOBIG, "'%s' is larger than %zu bytes", path, max);
			break;
		}
		if (n < room) {
			if (ferror(f))
				r = err_set(err, WXR_EIO, "cannot read '%s': %s", path,
				            strerror(errno));
			break;
		}
	}
	fclose(f);
	return r;
}
