/*
 * banned.h - C library calls that are not used in wxrecon (after git's banned.h).
 *
 * Each becomes a compile error naming it: "sorry_strcpy_is_a_banned_function".
 * The Makefile force-includes this header (-include) into every object under
 * src/, before anything else. Use instead:
 *
 *   strcpy, strcat, strncpy, strncat   buf_adds / buf_addf (base/buf.h), or memcpy with a
 *                                      checked size
 *   sprintf, vsprintf                  snprintf / vsnprintf, or buf_addf
 *   strtok                             strtok_r (reentrant)
 *   atoi, atol, atoll, atof            strtol / strtoll / strtoull with errno and end checks;
 *                                      money_parse (base/money.h) for amounts
 *   gmtime, localtime, ctime, asctime  time_format_rfc3339, time_date, civil_from_days
 *                                      (base/clock.h), or gmtime_r
 *   gets, tmpnam, tempnam, mktemp      fgets; mkstemp / mkdtemp
 *
 * The system headers that declare them come first, so their own declarations
 * are not rewritten; a file including them again later gets nothing new.
 */
#ifndef WXR_BANNED_H
#define WXR_BANNED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)

#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)

#undef strtok
#define strtok(x, y) BANNED(strtok)

#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef atoll
#define atoll(x) BANNED(atoll)
#undef atof
#define atof(x) BANNED(atof)

#undef gmtime
#define gmtime(t) BANNED(gmtime)
#undef localtime
#define localtime(t) BANNED(localtime)
#undef ctime
#define ctime(t) BANNED(ctime)
#undef ctime_r
#define ctime_r(t, b) BANNED(ctime_r)
#undef asctime
#define asctime(t) BANNED(asctime)
#undef asctime_r
#define asctime_r(t, b) BANNED(asctime_r)

#undef gets
#define gets(s) BANNED(gets)
#undef tmpnam
#define tmpnam(s) BANNED(tmpnam)
#undef tempnam
#define tempnam(d, p) BANNED(tempnam)
#undef mktemp
#define mktemp(t) BANNED(mktemp)

#endif
