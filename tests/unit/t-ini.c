/* t-ini.c - the INI reader of config and job files (src/base/ini.c). */
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/ini.h"

struct seen {
	char log[1024];
	int refuse_section; /* on_section refuses this header */
};

static int on_section(void *ctx, const char *where, const char *section, const char *name,
                      struct wxr_err *err)
{
	struct seen *s = ctx;
	size_t n = strlen(s->log);

	snprintf(s->log + n, sizeof(s->log) - n, "[%s|%s]@%s ", section, name ? name : "-", where);
	if (s->refuse_section)
		return err_set(err, WXR_ECONFIG, "%s: refused", where);
	return 0;
}

static int on_key(void *ctx, const char *where, int lineno, const char *section, const char *name,
                  const char *key, const char *value, struct wxr_err *err)
{
	struct seen *s = ctx;
	size_t n = strlen(s->log);

	(void)where;
	(void)err;
	snprintf(s->log + n, sizeof(s->log) - n, "%s%s%s.%s=%s@%d ", section, name ? "/" : "",
	         name ? name : "", key, value, lineno);
	return 0;
}

/* Parses text (len bytes); returns the code, the log in s, the message in err. */
static int parse(const char *text, size_t len, struct seen *s, struct wxr_err *err)
{
	const struct ini_cb cb = { .ctx = s, .section = on_section, .key = on_key };
	FILE *f = fmemopen((void *)(uintptr_t)text, len, "r");
	int r;

	if (!f)
		abort();
	r = ini_parse(f, "t.conf", &cb, err);
	fclose(f);
	return r;
}

#define P(text, s, err) parse((text), sizeof(text) - 1, (s), (err))

int main(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct seen s = { 0 };

	is_int(P("\xEF\xBB\xBF; comment\n[merchant]\nmchid = 19 ; trailing\n# x\n"
	         "url = http://a/b#frag\n[merchant \"shop-a\"]\n  appid=wx1  \n",
	         &s, &err),
	       0, "a file with a BOM, comments, a named section");
	is_str(s.log,
	       "[merchant|-]@t.conf:2 merchant.mchid=19@3 merchant.url=http://a/b#frag@5 "
	       "[merchant|shop-a]@t.conf:6 merchant/shop-a.appid=wx1@7 ",
	       "sections, names, keys, values and lines as written");

	memset(&s, 0, sizeof(s));
	is_int(P("[policy\n", &s, &err), WXR_ECONFIG, "an unclosed header");
	is_str(err.msg, "t.conf:1: malformed section header '[policy'", "names the line");
	is_int(P("[merchant \"shop-a]\n", &s, &err), WXR_ECONFIG, "an unclosed name");
	ok(strstr(err.msg, "a named section is [section \"name\"]") != NULL, "says the form");
	is_int(P("[merchant shop-a]\n", &s, &err), 0, "an unquoted name is the section's own");
	is_int(P("[a] [b]\n", &s, &err), WXR_ECONFIG, "two headers on a line");
	is_int(P("[merchant \"\"]\n", &s, &err), WXR_ECONFIG, "an empty name");
	is_int(P("mchid = 1\n", &s, &err), WXR_ECONFIG, "a key before any section");
	is_str(err.msg, "t.conf:1: key 'mchid' outside any section", "names the key");
	is_int(P("[a]\njust words\n", &s, &err), WXR_ECONFIG, "a line without =");
	is_str(err.msg, "t.conf:2: expected 'key = value', got 'just words'", "quotes it");
	is_int(P("[a]\nk = v\0w\n", &s, &err), WXR_ECONFIG, "a NUL byte");
	is_str(err.msg, "t.conf:2: NUL byte in the file", "names the line of the NUL");
	s.refuse_section = 1;
	is_int(P("[a]\nk = v\n", &s, &err), WXR_ECONFIG, "the caller refuses a section");
	is_str(err.msg, "t.conf:1: refused", "its message is kept");
	return done_testing();
}
