/*
 * tap.h - a tiny TAP producer for C unit tests run under prove.
 * Use: plan_lazy(); ok(cond, "name"); is_int(a, b, "name"); is_str(a, b, "name");
 *      skip("why", "name") where a check cannot run here (counted, never a failure,
 *      shown by prove as skipped - not ok(1, ...), which claims a pass);
 *      return done_testing();
 */
#ifndef WXR_TAP_H
#define WXR_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int tap_n;
static int tap_failed;

static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

static int tap_ok(int cond, const char *file, int line, const char *name)
{
	tap_n++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tap_n, name);
	if (!cond) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

__attribute__((unused)) static int tap_is_int(int64_t got, int64_t want, const char *file, int line,
                                              const char *name)
{
	int r = tap_ok(got == want, file, line, name);

	if (!r)
		printf("#   got: %" PRId64 "\n#  want: %" PRId64 "\n", got, want);
	return r;
}

__attribute__((unused)) static int tap_is_str(const char *got, const char *want, const char *file,
                                              int line, const char *name)
{
	int same = (got == NULL && want == NULL) ||
	           (got != NULL && want != NULL && strcmp(got, want) == 0);
	int r = tap_ok(same, file, line, name);

	if (!r)
		printf("#   got: '%s'\n#  want: '%s'\n", got ? got : "(null)",
		       want ? want : "(null)");
	return r;
}

/* skip: the check "name" does not run here, for the reason "why" (TAP's "# SKIP"). */
__attribute__((unused)) static void tap_skip(const char *why, const char *name)
{
	tap_n++;
	printf("ok %d - %s # SKIP %s\n", tap_n, name, why);
	fflush(stdout);
}

static int done_testing(void) __attribute__((unused));
static int done_testing(void)
{
	printf("1..%d\n", tap_n);
	if (tap_n == 0) {
		printf("# no tests were run\n");
		return 1;
	}
	return tap_failed ? 1 : 0;
}

#define ok(cond, name) tap_ok(!!(cond), __FILE__, __LINE__, (name))
#define is_int(got, want, name) \
	tap_is_int((int64_t)(got), (int64_t)(want), __FILE__, __LINE__, (name))
#define is_str(got, want, name) tap_is_str((got), (want), __FILE__, __LINE__, (name))
#define skip(why, name)         tap_skip((why), (name))

#endif
