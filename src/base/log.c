#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

/* syslog(3) priorities, without <syslog.h> */
enum { LOG_PRIO_ERR = 3, LOG_PRIO_WARNING = 4, LOG_PRIO_INFO = 6, LOG_PRIO_DEBUG = 7 };

static enum log_level level = LOG_NORMAL;
static int tty = -1;
static bool progress_open;
static bool journal;

void log_set_journal(bool on)
{
	journal = on;
}

void log_set_level(enum log_level l)
{
	level = l;
}

enum log_level log_get_level(void)
{
	return level;
}

bool log_is_tty(void)
{
	if (tty < 0)
		tty = isatty(STDERR_FILENO);
	return tty == 1;
}

/* prio: the syslog priority journald reads from a "<N>" prefix (sd-daemon(3)) */
static void vlog(int prio, const char *prefix, const char *fmt, va_list ap)
{
	if (progress_open)
		log_progress_done();
	if (journal)
		fprintf(stderr, "<%d>", prio);
	fputs("wxrecon: ", stderr);
	if (prefix)
		fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (level < LOG_NORMAL)
		return;
	va_start(ap, fmt);
	vlog(LOG_PRIO_INFO, NULL, fmt, ap);
	va_end(ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_PRIO_ERR, NULL, fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_PRIO_WARNING, "warning: ", fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (level < LOG_VERBOSE)
		return;
	va_start(ap, fmt);
	vlog(LOG_PRIO_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void log_progress(const char *fmt, ...)
{
	va_list ap;

	if (level < LOG_NORMAL || !log_is_tty())
		return;
	fputs("\r\033[K", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
	progress_open = true;
}

void log_progress_part(const char *what, int64_t done, int64_t total, int64_t count,
                       const char *unit)
{
	if (total > 0)
		log_progress("%s: %d%% (%lld %s)", what,
		             (int)(done >= total ? 100 : done * 100 / total), (long long)count,
		             unit);
	else
		log_progress("%s: %lld %s", what, (long long)count, unit);
}

void log_progress_done(void)
{
	if (!progress_open)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	progress_open = false;
}
