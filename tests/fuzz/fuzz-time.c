/*
 * fuzz-time.c - the text-to-time parsers of clock.h.
 *
 * time_parse_rfc3339: when it accepts, formatting the result at the offset
 * the text gave must give the text back in canonical form (upper-case 'T',
 * fraction dropped, "Z" and "-00:00" written "+00:00"), and parsing that must
 * give the same instant. time_parse_local, date_parse / date_is_valid /
 * date_add_days, tz_offset and duration_parse run on the same text with
 * round trips where there is one. The input is the text (fixtures/corpus/time/).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "fuzzutil.h"

/* Offset in seconds of the text's zone suffix (already accepted by the parser). */
static int text_offset(const char *s)
{
	size_t n = strlen(s);
	const char *z = s + n - 6;

	if (s[n - 1] == 'Z' || s[n - 1] == 'z')
		return 0;
	return (z[0] == '-' ? -1 : 1) * (((z[1] - '0') * 10 + (z[2] - '0')) * 3600 +
	                                 ((z[4] - '0') * 10 + (z[5] - '0')) * 60);
}

static void check_rfc3339(const char *s)
{
	struct wxr_err err = WXR_ERR_INIT;
	char out[CLOCK_RFC3339_LEN], want[CLOCK_RFC3339_LEN];
	int64_t ts = 0, back = 0;
	int off;

	if (time_parse_rfc3339(s, &ts, &err) < 0) {
		FUZZ_ASSERT(err.code == WXR_EDATA && err.msg[0], "error without code or message");
		return;
	}
	off = text_offset(s);
	time_format_rfc3339(ts, off, out);
	/* canonical: the date and time as written, 'T', the offset as +HH:MM */
	snprintf(want, sizeof(want), "%.10sT%.8s%c%02d:%02d", s, s + 11, off < 0 ? '-' : '+',
	         (off < 0 ? -off : off) / 3600, (off < 0 ? -off : off) / 60 % 60);
	FUZZ_ASSERT(strcmp(out, want) == 0, "'%s' formats as '%s', want '%s'", s, out, want);
	FUZZ_ASSERT(time_parse_rfc3339(out, &back, NULL) == 0 && back == ts,
	            "'%s' does not parse back to %lld", out, (long long)ts);
	/* the UTC form names the same instant (only years 1970 to 9999 are read, and
	 * "1970-01-01T00:00:00+08:00" is in 1969 at UTC, "9999-12-31T23:00:00-05:00"
	 * in 10000) */
	time_format_rfc3339(ts, 0, out);
	FUZZ_ASSERT(ts < 0 || ts >= 253402300800 ||
	                    (time_parse_rfc3339(out, &back, NULL) == 0 && back == ts),
	            "UTC form '%s' does not parse back", out);
}

static void check_local(const char *s)
{
	static const int offsets[] = { 0, 8 * 3600, -5 * 3600 };
	char out[CLOCK_RFC3339_LEN];
	int64_t ts = 0;

	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		if (time_parse_local(s, offsets[i], &ts, NULL) < 0)
			return;
		time_format_rfc3339(ts, offsets[i], out);
		FUZZ_ASSERT(strncmp(out, s, 10) == 0 && out[10] == 'T' &&
		                    strncmp(out + 11, s + 11, 8) == 0,
		            "local '%s' at %d formats as '%s'", s, offsets[i], out);
	}
}

static void check_date(const char *s)
{
	struct wxr_err err = WXR_ERR_INIT;
	char d[CLOCK_DATE_LEN], back[CLOCK_DATE_LEN];
	int64_t start = 0;
	bool valid = date_is_valid(s);
	int r = date_parse(s, 8 * 3600, &start, &err);

	FUZZ_ASSERT(valid == (r == 0), "date_is_valid and date_parse disagree on '%s'", s);
	if (!valid)
		return;
	time_date(start, 8 * 3600, d);
	FUZZ_ASSERT(strcmp(d, s) == 0, "date '%s' comes back as '%s'", s, d);
	/* past 9999-12-31 is an error, never a date cut short */
	if (strcmp(s, "9999-12-31") < 0)
		FUZZ_ASSERT(date_add_days(s, 1, d, NULL) == 0 &&
		                    date_add_days(d, -1, back, NULL) == 0 && strcmp(back, s) == 0,
		            "date '%s' + 1 - 1 = '%s'", s, back);
	else
		FUZZ_ASSERT(date_add_days(s, 1, d, NULL) < 0, "9999-12-31 + 1 = '%s'", d);
	if (date_add_days(s, 400, d, NULL) == 0)
		FUZZ_ASSERT(date_is_valid(d), "date '%s' + 400 = '%s'", s, d);
	else
		FUZZ_ASSERT(strncmp(s, "9998", 4) >= 0, "date '%s' + 400 refused", s);
}

static void check_misc(const char *s)
{
	int64_t secs = 0;
	int off = 0;

	if (duration_parse(s, &secs, NULL) == 0)
		FUZZ_ASSERT(secs >= 0, "duration '%s' = %lld", s, (long long)secs);
	if (tz_offset(s, &off, NULL) == 0)
		FUZZ_ASSERT(off > -24 * 3600 && off < 24 * 3600, "tz '%s' = %d", s, off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > 128)
		return 0;
	s = fuzz_strndup(data, size);
	check_rfc3339(s);
	check_local(s);
	check_date(s);
	check_misc(s);
	free(s);
	return 0;
}
