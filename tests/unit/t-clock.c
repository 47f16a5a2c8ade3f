#include "tap.h"

#include <stdlib.h>

#include "base/clock.h"
#include "base/err.h"

int main(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	char s[CLOCK_RFC3339_LEN];
	char d[CLOCK_DATE_LEN];
	int64_t ts = 0;
	int off = 0;

	is_int(time_parse_rfc3339("2026-11-02T10:30:00+08:00", &ts, &err), 0, "parses +08:00");
	is_int(ts, 1793586600, "to the right epoch");
	is_int(time_parse_rfc3339("2026-11-02T02:30:00Z", &ts, &err), 0, "parses Z");
	is_int(ts, 1793586600, "same instant");
	is_int(time_parse_rfc3339("2026-11-02T02:30:00.123Z", &ts, &err), 0, "drops a fraction");
	ok(time_parse_rfc3339("2026-11-02 10:30:00", &ts, &err) < 0, "no offset is refused");
	ok(time_parse_rfc3339("2026-02-30T00:00:00+08:00", &ts, &err) < 0, "Feb 30 is refused");
	ok(time_parse_rfc3339("2026-11-02T24:00:00+08:00", &ts, &err) < 0, "hour 24 is refused");
	time_format_rfc3339(1793586600, 8 * 3600, s);
	is_str(s, "2026-11-02T10:30:00+08:00", "formats at +08:00");
	time_format_rfc3339(1793586600, -5 * 3600 - 30 * 60, s);
	is_str(s, "2026-11-01T21:00:00-05:30", "formats a negative offset");
	time_date(1793548800 - 1, 8 * 3600, d); /* 2026-11-01T23:59:59+08:00 */
	is_str(d, "2026-11-01", "date just before midnight Beijing");
	time_date(1793548800, 8 * 3600, d);
	is_str(d, "2026-11-02", "date at midnight Beijing");
	is_int(date_parse("2026-11-02", 8 * 3600, &ts, &err), 0, "date_parse");
	is_int(ts, 1793548800, "start of the day in Beijing");
	date_add_days("2026-12-31", 1, d, &err);
	is_str(d, "2027-01-01", "year roll");
	date_add_days("2028-03-01", -1, d, &err);
	is_str(d, "2028-02-29", "leap day");
	ok(!date_is_valid("2026-13-01"), "month 13 invalid");
	is_int(tz_offset("Asia/Shanghai", &off, &err), 0, "Asia/Shanghai known");
	is_int(off, 28800, "is +8h");
	ok(tz_offset("Mars/Olympus", &off, &err) < 0, "unknown zone refused");
	is_int(time_parse_local("2025-03-01 09:15:02", 28800, &ts, &err), 0, "local bill time");
	time_format_rfc3339(ts, 28800, s);
	is_str(s, "2025-03-01T09:15:02+08:00", "round trip of a bill time");

	is_int(duration_parse("30m", &ts, &err), 0, "30m");
	is_int(ts, 1800, "is 1800 s");
	duration_parse("7d", &ts, &err);
	is_int(ts, 604800, "7d");
	ok(duration_parse("3w", &ts, &err) < 0, "3w refused");
	ok(duration_parse("m", &ts, &err) < 0, "no number refused");

	clock_set_now("2026-11-02T10:30:00+08:00", "environment WXRECON_NOW");
	is_int(clock_now(&ts, &err), 0, "WXRECON_NOW is read");
	is_int(ts, 1793586600, "and overrides now");
	clock_set_now("yesterday", "environment WXRECON_NOW");
	is_int(clock_now(&ts, &err), WXR_ECONFIG, "a bad WXRECON_NOW is a config error");
	ok(strstr(err.msg, "WXRECON_NOW") != NULL, "the message names it");
	return done_testing();
}
