#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static enum log_level level = LOG_NORMAL;
static int tty = -1;
static bool progress_open;

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

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	if (progress_open)
		log_progress_done();
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
	vlog(NULL, fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (level < LOG_VERBOSE)
		return;
	va_start(ap, fmt);
	vlog(NULL, fmt, ap);
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

void log_progress_done(void)
{
	if (!progress_open)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	progress_open = false;
}
