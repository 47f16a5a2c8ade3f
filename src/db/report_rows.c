/*
 * report_rows.c - the report model's helpers (report_rows.h).
 */
#include "db/report_rows.h"

#include "base/buf.h"
#include "base/utf8.h"

const char *report_local_time(const char *s, int tz_offset_s, char out[CLOCK_RFC3339_LEN])
{
	int64_t ts;

	if (!s || time_parse_rfc3339(s, &ts, NULL) < 0)
		return s;
	time_format_rfc3339(ts, tz_offset_s, out);
	return out;
}

char *report_utf8_dup(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	struct buf b = BUF_INIT;
	size_t i = 0;

	while (i < n) {
		size_t len = p[i] ? utf8_seq(p + i, n - i) : 0;

		if (len == 0) {                       /* NUL too */
			buf_adds(&b, "\xEF\xBF\xBD"); /* U+FFFD */
			i++;
			continue;
		}
		buf_add(&b, p + i, len);
		i += len;
	}
	return buf_detach(&b, NULL); /* "" when nothing was added */
}
