/*
 * ini.h - the INI dialect of wxrecon's config (SPEC 3) and job files:
 * `[section]` or `[section "name"]` headers, `key = value` lines, comments
 * from a ';' or '#' at the start of a line or after a blank, a UTF-8 byte
 * order mark at the very start ignored. A NUL byte, a malformed header, a
 * line without '=' or a key before any section is an error naming
 * "path:line". What the sections and keys mean is the caller's.
 */
#ifndef WXR_INI_H
#define WXR_INI_H

#include <stdio.h>

#include "wxrecon.h"

struct ini_cb {
	void *ctx;
	/* A header: section as written, name the quoted part of [section "name"]
	 * or NULL. where is "path:line". Negative refuses it (err set). */
	int (*section)(void *ctx, const char *where, const char *section, const char *name,
	               struct wxr_err *err);
	/* key = value (both trimmed) in the current section. */
	int (*key)(void *ctx, const char *where, int lineno, const char *section, const char *name,
	           const char *key, const char *value, struct wxr_err *err);
};

/* Cuts the blanks (isspace) at both ends of s in place; returns its first
 * non-blank byte. */
char *ini_trim(char *s);

/* Reads f to its end; path names it in messages. 0 or the first error. */
int ini_parse(FILE *f, const char *path, const struct ini_cb *cb, struct wxr_err *err);

#endif
