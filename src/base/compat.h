/* compat.h - attributes and small macros used everywhere. */
#ifndef WXR_COMPAT_H
#define WXR_COMPAT_H

#include <stddef.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define WXR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define WXR_NORETURN     __attribute__((noreturn))
#define WXR_UNUSED       __attribute__((unused))
#else
#define WXR_PRINTF(f, a)
#define WXR_NORETURN
#define WXR_UNUSED
#endif

/* BUG(): a broken invariant. Prints file:line and aborts. */
#define BUG(...) wxr_bug(__FILE__, __LINE__, __VA_ARGS__)
WXR_NORETURN void wxr_bug(const char *file, int line, const char *fmt, ...) WXR_PRINTF(3, 4);

#endif
