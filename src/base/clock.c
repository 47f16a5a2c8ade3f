#include "base/clock.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"

int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	*y = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y += *m <= 2;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Reads exactly n digits. */
static bool digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* Parses "YYYY-MM-DD" at s (10 chars); fills y m d. */
static bool parse_ymd(const char *s, int *y, int *m, int *d)
{
	if (!digits(s, 4, y) || s[4] != '-' || !digits(s + 5, 2, m) || s[7] != '-' ||
	    !digits(s + 8, 2, d))
		return false;
	if (*y < 1970 || *m < 1 || *m > 12 || *d < 1 ||
	    (unsigned)*d > days_in_month(*y, (unsigned)*m))
		return false;
	return true;
}

/* Parses "HH:MM:SS" at s (8 chars). */
static bool parse_hms(const char *s, int *h, int *mi, int *se)
{
	if (!digits(s, 2, h) || s[2] != ':' || !digits(s + 3, 2, mi) || s[5] != ':' ||
	    !digits(s + 6, 2, se))
		return false;
	return *h < 24 && *mi < 60 && *se < 60; /* no leap seconds: Unix time has none */
}

bool date_is_valid(const char *s)
{
	int y, m, d;

	return strlen(s) == 10 && parse_ymd(s, &y, &m, &d);
}

int date_parse(const char *s, int offset_s, int64_t *out_start_ts, struct wxr_err *err)
{
	int y, m, d;

	if (strlen(s) != 10 || !parse_ymd(s, &y, &m, &d))
		return err_set(err, WXR_EUSAGE, "bad date '%s' (want YYYY-MM-DD)", s);
	*out_start_ts = days_from_civil(y, (unsigned)m, (unsigned)d) * 86400 - offset_s;
	return 0;
}

int date_add_days(const char *date, int n, char out[CLOCK_DATE_LEN], struct wxr_err *err)
{
	int y, m, d;
	int64_t yy;
	unsigned mm, dd;

	if (strlen(date) != 10 || !parse_ymd(date, &y, &m, &d))
		return err_set(err, WXR_EUSAGE, "bad date '%s' (want YYYY-MM-DD)", date);
	civil_from_days(days_from_civil(y, (unsigned)m, (unsigned)d) + n, &yy, &mm, &dd);
	if (yy > 9999) /* would not fit YYYY-MM-DD (and was cut short) */
		return err_set(err, WXR_EUSAGE, "date '%s' plus %d days is after 9999-12-31", date,
		               n);
	snprintf(out, CLOCK_DATE_LEN, "%04lld-%02u-%02u", (long long)yy, mm, dd);
	return 0;
}

static int parse_offset(const char *s, int *out_offset_s)
{
	int h, m;

	if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0') {
		*out_offset_s = 0;
		return 0;
	}
	if ((s[0] != '+' && s[0] != '-') || !digits(s + 1, 2, &h) || s[3] != ':' ||
	    !digits(s + 4, 2, &m) || s[6] != '\0' || h > 23 || m > 59)
		return -1;
	*out_offset_s = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
	return 0;
}

int time_parse_rfc3339(const char *s, int64_t *out_ts, struct wxr_err *err)
{
	int y, mo, d, h, mi, se, off;
	const char *p;

	if (strlen(s) < 20 || !parse_ymd(s, &y, &mo, &d) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !parse_hms(s + 11, &h, &mi, &se))
		goto bad;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (parse_offset(p, &off) < 0)
		goto bad;
	*out_ts = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se -
	          off;
	return 0;
bad:
	return err_set(err, WXR_EDATA,
	               "bad time '%s' (want RFC 3339, e.g. 2026-11-02T10:30:00+08:00)", s);
}

int time_parse_local(const char *s, int offset_s, int64_t *out_ts, struct wxr_err *err)
{
	int y, mo, d, h, mi, se;

	if (strlen(s) != 19 || !parse_ymd(s, &y, &mo, &d) || s[10] != ' ' ||
	    !parse_hms(s + 11, &h, &mi, &se))
		return err_set(err, WXR_EDATA, "bad time '%s' (want YYYY-MM-DD HH:MM:SS)", s);
	*out_ts = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se -
	          offset_s;
	return 0;
}

void time_format_rfc3339(int64_t ts, int offset_s, char out[CLOCK_RFC3339_LEN])
{
	int64_t t = ts + offset_s;
	int64_t days = floor_div(t, 86400);
	int64_t secs = t - days * 86400;
	int64_t y;
	unsigned m, d;
	int off = offset_s < 0 ? -offset_s : offset_s;

	civil_from_days(days, &y, &m, &d);
	snprintf(out, CLOCK_RFC3339_LEN, "%04lld-%02u-%02uT%02d:%02d:%02d%c%02d:%02d", (long long)y,
	         m, d, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60),
	         offset_s < 0 ? '-' : '+', off / 3600, off / 60 % 60);
}

void time_date(int64_t ts, int offset_s, char out[CLOCK_DATE_LEN])
{
	int64_t y;
	unsigned m, d;

	civil_from_days(floor_div(ts + offset_s, 86400), &y, &m, &d);
	snprintf(out, CLOCK_DATE_LEN, "%04lld-%02u-%02u", (long long)y, m, d);
}

int64_t clock_real_now(void)
{
	return (int64_t)time(NULL);
}

int64_t clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *now_text;   /* the business clock's override, or NULL */
static const char *now_source; /* where it came from, for the message */

void clock_set_now(const char *text, const char *source)
{
	now_text = text && *text ? text : NULL;
	now_source = source;
}

int clock_now(int64_t *out_ts, struct wxr_err *err)
{
	int r;

	if (!now_text) {
		*out_ts = clock_real_now();
		return 0;
	}
	r = time_parse_rfc3339(now_text, out_ts, NULL);
	if (r < 0)
		return err_set(err, WXR_ECONFIG,
		               "%s: bad time '%s' (want RFC 3339, e.g. 2026-11-02T10:30:00+08:00)",
		               now_source ? now_source : "the business clock", now_text);
	return 0;
}

int tz_offset(const char *name, int *out_offset_s, struct wxr_err *err)
{
	static const struct {
		const char *name;
		int offset_s;
	} zones[] = {
		{ "Asia/Shanghai", 8 * 3600 },
		{ "Asia/Chongqing", 8 * 3600 },
		{ "Asia/Harbin", 8 * 3600 },
		{ "PRC", 8 * 3600 },
		{ "Asia/Hong_Kong", 8 * 3600 },
		{ "Asia/Macau", 8 * 3600 },
		{ "Asia/Taipei", 8 * 3600 },
		{ "Asia/Singapore", 8 * 3600 },
		{ "Asia/Tokyo", 9 * 3600 },
		{ "UTC", 0 },
		{ "Etc/UTC", 0 },
		{ "GMT", 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(zones); i++) {
		if (strcmp(zones[i].name, name) == 0) {
			*out_offset_s = zones[i].offset_s;
			return 0;
		}
	}
	if (parse_offset(name, out_offset_s) == 0)
		return 0;
	return err_set(err, WXR_ECONFIG,
	               "unknown timezone '%s' (use Asia/Shanghai, UTC or an offset like +08:00)",
	               name);
}

int duration_parse(const char *s, int64_t *out_seconds, struct wxr_err *err)
{
	int64_t v = 0;
	const char *p = s;
	int64_t mul = 1;

	if (!isdigit((unsigned char)*p))
		goto bad;
	while (isdigit((unsigned char)*p)) {
		if (v > (INT64_MAX - 9) / 10)
			goto bad;
		v = v * 10 + (*p - '0');
		p++;
	}
	switch (*p) {
	case '\0':
	case 's':
		mul = 1;
		break;
	case 'm':
		mul = 60;
		break;
	case 'h':
		mul = 3600;
		break;
	case 'd':
		mul = 86400;
		break;
	default:
		goto bad;
	}
	if (*p && p[1] != '\0')
		goto bad;
	if (v > INT64_MAX / mul)
		goto bad;
	*out_seconds = v * mul;
	return 0;
bad:
	return err_set(err, WXR_EUSAGE, "bad duration '%s' (want e.g. 30m, 2h, 7d)", s);
}
