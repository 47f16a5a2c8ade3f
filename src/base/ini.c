/*
 * ini.c - the one INI reader of wxrecon (config and job files).
 */
#include "base/ini.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "base/err.h"

#define INI_SECTION_MAX 64
#define INI_NAME_MAX    64

char *ini_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static void cut_comment(char *s)
{
	for (char *p = s; *p; p++) {
		if ((*p == ';' || *p == '#') && (p == s || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			return;
		}
	}
}

/* "[section]" or "[section "name"]" at s (trimmed); fills section and name. */
static int header(char *s, const char *where, char section[INI_SECTION_MAX],
                  char name[INI_NAME_MAX], int *has_name, struct wxr_err *err)
{
	char *e = strrchr(s, ']');
	char *q;

	if (!e || e[1] != '\0' || strchr(s + 1, '[') || strchr(s, ']') != e)
		return err_set(err, WXR_ECONFIG, "%s: malformed section header '%s'", where, s);
	*e = '\0';
	s = ini_trim(s + 1);
	*has_name = 0;
	q = strchr(s, '"');
	if (q) {
		char *end = strchr(q + 1, '"');

		if (q == s || !isspace((unsigned char)q[-1]) || !end || end[1] != '\0' ||
		    end == q + 1 || (size_t)(end - q - 1) >= INI_NAME_MAX)
			return err_set(err, WXR_ECONFIG,
			               "%s: malformed section header '[%s]' (a named section is "
			               "[section \"name\"])",
			               where, s);
		*end = '\0';
		snprintf(name, INI_NAME_MAX, "%s", q + 1);
		*q = '\0';
		s = ini_trim(s);
		*has_name = 1;
	}
	if (!*s || strlen(s) >= INI_SECTION_MAX)
		return err_set(err, WXR_ECONFIG, "%s: malformed section header '[%s]'", where, s);
	snprintf(section, INI_SECTION_MAX, "%s", s);
	return 0;
}

int ini_parse(FILE *f, const char *path, const struct ini_cb *cb, struct wxr_err *err)
{
	char section[INI_SECTION_MAX] = "";
	char name[INI_NAME_MAX] = "";
	int has_name = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0;
	int r = 0;

	while ((n = getline(&line, &cap, f)) >= 0) {
		char where[600];
		char *s, *eq;

		lineno++;
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		if (lineno == 1 && n >= 3 && (unsigned char)line[0] == 0xEF &&
		    (unsigned char)line[1] == 0xBB && (unsigned char)line[2] == 0xBF) {
			memmove(line, line + 3, (size_t)n - 3 + 1);
			n -= 3; /* else the NUL check below takes every BOM for a NUL byte */
		}
		if (strlen(line) != (size_t)n) {
			r = err_set(err, WXR_ECONFIG, "%s: NUL byte in the file", where);
			break;
		}
		cut_comment(line);
		s = ini_trim(line);
		if (!*s)
			continue;
		if (*s == '[') {
			r = header(s, where, section, name, &has_name, err);
			if (r >= 0)
				r = cb->section(cb->ctx, where, section, has_name ? name : NULL,
				                err);
			if (r < 0)
				break;
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			r = err_set(err, WXR_ECONFIG, "%s: expected 'key = value', got '%s'", where,
			            s);
			break;
		}
		*eq = '\0';
		if (!*section) {
			r = err_set(err, WXR_ECONFIG, "%s: key '%s' outside any section", where,
			            ini_trim(s));
			break;
		}
		r = cb->key(cb->ctx, where, lineno, section, has_name ? name : NULL, ini_trim(s),
		            ini_trim(eq + 1), err);
		if (r < 0)
			break;
	}
	if (r >= 0 && ferror(f))
		r = err_set(err, WXR_ECONFIG, "cannot read '%s': %s", path, strerror(errno));
	free(line);
	return r;
}
