/*
 * clock.h - the one source of business "now", timezones as fixed offsets,
 * RFC 3339 and calendar dates. No libc local-time functions: the machine's
 * TZ never matters.
 */
#ifndef WXR_CLOCK_H
#define WXR_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "wxrecon.h"

#define CLOCK_RFC3339_LEN 32 /* buffer size for time_format_rfc3339 */
#define CLOCK_DATE_LEN    11 /* "YYYY-MM-DD" + NUL */

/*
 * Business now in Unix seconds: $WXRECON_NOW (RFC 3339) when set, else the
 * real clock. Order ages, expiries, --yesterday and bill availability use it.
 */
int clock_now(int64_t *out_ts, struct wxr_err *err);
/* Sets the business clock to the RFC 3339 time text (NULL or "": the real
 * clock); source names it in clock_now()'s message ("environment
 * WXRECON_NOW"). The string must outlive the calls. */
void clock_set_now(const char *text, const char *source);
/* The real clock, for protocol timestamps and audit entries. */
int64_t clock_real_now(void);
/* Milliseconds of a monotonic clock, for timeouts, backoffs and durations only. */
int64_t clock_mono_ms(void);

/* Offset in seconds east of UTC for a zone name: Asia/Shanghai, Asia/Hong_Kong,
 * Asia/Taipei, Asia/Singapore, Asia/Tokyo, UTC, Etc/UTC or "+HH:MM"/"-HH:MM". */
int tz_offset(const char *name, int *out_offset_s, struct wxr_err *err);

/* Parses RFC 3339 / ISO 8601 with offset ("2026-11-02T10:30:00+08:00", "Z",
 * optional fraction which is dropped). Seconds are 00-59: a leap second
 * (":60") is refused, as Unix time has none. */
int time_parse_rfc3339(const char *s, int64_t *out_ts, struct wxr_err *err);
/* Parses "YYYY-MM-DD HH:MM:SS" taken to be at offset_s. */
int time_parse_local(const char *s, int offset_s, int64_t *out_ts, struct wxr_err *err);
/* Formats ts at offset_s as "2026-11-02T10:30:00+08:00" ("Z" for UTC if z). */
void time_format_rfc3339(int64_t ts, int offset_s, char out[CLOCK_RFC3339_LEN]);
/* The calendar date of ts at offset_s. */
void time_date(int64_t ts, int offset_s, char out[CLOCK_DATE_LEN]);

/* Validates "YYYY-MM-DD"; returns the Unix time of its 00:00 at offset_s. */
int date_parse(const char *s, int offset_s, int64_t *out_start_ts, struct wxr_err *err);
/* out = date + n days (date must be valid); an error past 9999-12-31. */
int date_add_days(const char *date, int n, char out[CLOCK_DATE_LEN], struct wxr_err *err);
bool date_is_valid(const char *s);

/* Days since 1970-01-01 for a civil date, and back (Howard Hinnant's algorithms). */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* Parses a duration like "30m", "2h", "7d", "45s", "90" (seconds). */
int duration_parse(const char *s, int64_t *out_seconds, struct wxr_err *err);

#endif
