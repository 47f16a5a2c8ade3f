/* xalloc.h - allocation that aborts on out-of-memory (tmux xmalloc.c). */
#ifndef WXR_XALLOC_H
#define WXR_XALLOC_H

#include <stddef.h>

#include "base/compat.h"

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a new string; caller frees with free(). */
char *xasprintf(const char *fmt, ...) WXR_PRINTF(1, 2);

#endif
