/*
 * log.h - leveled messages on stderr for the command layer. The core
 * library does not log; it returns errors and results.
 */
#ifndef WXR_LOG_H
#define WXR_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/compat.h"

enum log_level { LOG_QUIET = 0, LOG_NORMAL = 1, LOG_VERBOSE = 2 };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* A notice the user should see (suppressed by -q). */
void log_info(const char *fmt, ...) WXR_PRINTF(1, 2);
/* An error line, the one a failed command ends with (shown even with -q). */
void log_error(const char *fmt, ...) WXR_PRINTF(1, 2);
/* A warning (shown even with -q). */
void log_warn(const char *fmt, ...) WXR_PRINTF(1, 2);
/* Detail shown with -v. */
void log_debug(const char *fmt, ...) WXR_PRINTF(1, 2);
/* Progress on one line, only when stderr is a terminal and not -q. */
void log_progress(const char *fmt, ...) WXR_PRINTF(1, 2);
/* The same for work of a known size: "WHAT: P% (COUNT UNIT)", P = done of total (any
 * measure, e.g. bytes read); total <= 0 prints "WHAT: COUNT UNIT". */
void log_progress_part(const char *what, int64_t done, int64_t total, int64_t count,
                       const char *unit);
/* Ends a progress line. */
void log_progress_done(void);
bool log_is_tty(void);
/* Under journald (stderr is its stream): each line starts with its syslog
 * priority, "<3>" errors, "<4>" warnings, "<6>" notices, "<7>" detail. */
void log_set_journal(bool on);

#endif
