/*
 * db_pg_translate.c - SQLite's SQL as PostgreSQL's, for the PostgreSQL
 * backend (db_pg.c; issue 16). The list of what changes is in
 * db_pg_translate.h and at struct tr below.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/xalloc.h"
#include "db/db_pg_translate.h"

/*
 * SQLite's SQL -> PostgreSQL's. Everything the store modules write that
 * PostgreSQL reads otherwise is here, outside '...' literals, "..." names,
 * comments and $$...$$ bodies:
 *   - placeholders: '?' (the next number), '?NNN' and ':name' (numbered by
 *     first appearance, as SQLite does) become $n ('::' casts stay);
 *   - '+t.col', SQLite's "use no index for this" hint: the '+' goes;
 *   - INTEGER (SQLite's is 64-bit, PostgreSQL's 32) is BIGINT, and
 *     "INTEGER PRIMARY KEY" (SQLite's rowid: numbered in insertion order,
 *     the temp table recon_events) an identity column;
 *   - date(X, 'unixepoch') is X's UTC date, YYYY-MM-DD;
 *   - "CROSS JOIN t ON ..." (SQLite: an inner join in the order written) is
 *     an INNER JOIN;
 *   - "LIMIT ?" is "LIMIT NULLIF(?, -1)": SQLite's LIMIT -1 is no limit,
 *     PostgreSQL's LIMIT NULL.
 * The schema's own dialect lives in schema/pg/ (its README).
 */
struct tr {
	const char *s, *end;
	struct buf out;
	bool params;
	bool limit; /* the placeholder next is a LIMIT's */
	int maxn;
	char **names; /* by number, 1..maxn; owned */
	int ncap;
};

static bool is_word(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_';
}

static void tr_name(struct tr *t, int n, const char *name, size_t len)
{
	if (n >= t->ncap) {
		int cap = t->ncap ? t->ncap : 8;

		while (cap <= n)
			cap *= 2;
		t->names = xreallocarray(t->names, (size_t)cap, sizeof(*t->names));
		memset(t->names + t->ncap, 0, (size_t)(cap - t->ncap) * sizeof(*t->names));
		t->ncap = cap;
	}
	if (name && !t->names[n])
		t->names[n] = xstrndup(name, len);
	if (n > t->maxn)
		t->maxn = n;
}

/* The end of the quoted text that starts at p (p[0] is the quote). */
static const char *skip_quoted(const char *p, const char *end, char q)
{
	for (p++; p < end; p++) {
		if (*p == q) {
			if (p + 1 < end && p[1] == q) {
				p++;
				continue;
			}
			return p + 1;
		}
	}
	return end;
}

/* The end of a $tag$...$tag$ body starting at p, or NULL when p is not one. */
static const char *skip_dollar(const char *p, const char *end)
{
	const char *q = p + 1;
	size_t tag;

	while (q < end && is_word(*q) && !(*q >= '0' && *q <= '9'))
		q++;
	if (q >= end || *q != '$')
		return NULL;
	tag = (size_t)(q - p + 1);
	for (q++; q + tag <= end; q++) {
		if (memcmp(q, p, tag) == 0)
			return q + tag;
	}
	return end;
}

static bool word_is(const char *w, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(w, kw, n) == 0;
}

static void tr_run(struct tr *t, const char *s, const char *end);

/* $n; after LIMIT, SQLite's "no limit" -1 is PostgreSQL's NULL */
static void tr_param(struct tr *t, int n)
{
	if (t->limit)
		buf_addf(&t->out, "NULLIF($%d, -1)", n);
	else
		buf_addf(&t->out, "$%d", n);
	t->limit = false;
}

/* After "CROSS" at p: "JOIN table [AS] [alias] ON"? */
static bool cross_on(const char *p, const char *end)
{
	for (int w = 0; w < 5; w++) {
		const char *q;

		while (p < end && (*p == ' ' || *p == '\n' || *p == '\t'))
			p++;
		for (q = p; q < end && is_word(*q); q++)
			;
		if (q == p)
			return false;
		if (w == 0 && !word_is(p, (size_t)(q - p), "JOIN"))
			return false;
		if (w > 1 && word_is(p, (size_t)(q - p), "ON"))
			return true;
		p = q;
	}
	return false;
}

/* date(X, 'unixepoch') at p ("date" read, p at '('): translated, or false. */
static bool tr_date(struct tr *t, const char **pp, const char *end)
{
	static const char tail[] = ", 'unixepoch')";
	const char *p = *pp, *q;
	int depth = 0;

	for (q = p; q < end; q++) {
		if (*q == '\'' || *q == '"') {
			q = skip_quoted(q, end, *q) - 1;
			continue;
		}
		if (*q == '(')
			depth++;
		else if (*q == ')' && --depth == 0)
			break;
	}
	if (q >= end || (size_t)(q + 1 - p) < sizeof(tail) ||
	    strncasecmp(q + 1 - (sizeof(tail) - 1), tail, sizeof(tail) - 1) != 0)
		return false;
	buf_adds(&t->out, "to_char(to_timestamp(");
	tr_run(t, p + 1, q + 1 - (sizeof(tail) - 1));
	buf_adds(&t->out, ") AT TIME ZONE 'UTC', 'YYYY-MM-DD')");
	*pp = q + 1;
	return true;
}

static void tr_run(struct tr *t, const char *s, const char *end)
{
	const char *p = s;

	while (p < end) {
		const char *q;
		char ch = *p;

		if (ch == '\'' || ch == '"') {
			q = skip_quoted(p, end, ch);
			buf_add(&t->out, p, (size_t)(q - p));
			p = q;
		} else if (ch == '-' && p + 1 < end && p[1] == '-') {
			q = memchr(p, '\n', (size_t)(end - p));
			q = q ? q : end;
			buf_add(&t->out, p, (size_t)(q - p));
			p = q;
		} else if (ch == '/' && p + 1 < end && p[1] == '*') {
			q = strstr(p + 2, "*/");
			q = q && q < end ? q + 2 : end;
			buf_add(&t->out, p, (size_t)(q - p));
			p = q;
		} else if (ch == '$' && (q = skip_dollar(p, end)) != NULL) {
			buf_add(&t->out, p, (size_t)(q - p));
			p = q;
		} else if (t->params && ch == '?') {
			int n = 0;

			for (p++; p < end && *p >= '0' && *p <= '9'; p++)
				n = n * 10 + (*p - '0');
			if (!n)
				n = t->maxn + 1;
			tr_name(t, n, NULL, 0);
			tr_param(t, n);
		} else if (ch == ':' && p + 1 < end && p[1] == ':') {
			buf_add(&t->out, p, 2);
			p += 2;
		} else if (t->params && ch == ':' && p + 1 < end && is_word(p[1])) {
			int n;

			for (q = p + 1; q < end && is_word(*q); q++)
				;
			for (n = 1; n <= t->maxn; n++) {
				if (t->names[n] && strlen(t->names[n]) == (size_t)(q - p) &&
				    memcmp(t->names[n], p, (size_t)(q - p)) == 0)
					break;
			}
			if (n > t->maxn)
				tr_name(t, n, p, (size_t)(q - p));
			tr_param(t, n);
			p = q;
		} else if (ch == '+' && p + 1 < end && is_word(p[1]) &&
		           !(p[1] >= '0' && p[1] <= '9') && t->out.len &&
		           (t->out.data[t->out.len - 1] == ' ' ||
		            t->out.data[t->out.len - 1] == '(')) {
			p++; /* the no-index hint */
		} else if (is_word(ch)) {
			for (q = p; q < end && is_word(*q); q++)
				;
			if (word_is(p, (size_t)(q - p), "INTEGER")) {
				const char *r = q;

				while (r < end && *r == ' ')
					r++;
				if ((size_t)(end - r) >= 11 &&
				    strncasecmp(r, "PRIMARY KEY", 11) == 0) {
					buf_adds(&t->out, "BIGINT GENERATED BY DEFAULT AS IDENTITY "
					                  "PRIMARY KEY");
					q = r + 11;
				} else {
					buf_adds(&t->out, "BIGINT");
				}
				p = q;
			} else if (word_is(p, (size_t)(q - p), "LIMIT")) {
				const char *r = q;

				while (r < end && *r == ' ')
					r++;
				t->limit = r < end && (*r == '?' || *r == ':');
				buf_add(&t->out, p, (size_t)(q - p));
				p = q;
			} else if (word_is(p, (size_t)(q - p), "CROSS") && cross_on(q, end)) {
				buf_adds(&t->out, "INNER");
				p = q;
			} else if (word_is(p, (size_t)(q - p), "date") && q < end && *q == '(' &&
			           (p == s || !is_word(p[-1])) && tr_date(t, &q, end)) {
				p = q;
			} else {
				buf_add(&t->out, p, (size_t)(q - p));
				p = q;
			}
		} else {
			buf_addc(&t->out, ch);
			p++;
		}
	}
}

char *db_pg_translate(const char *sql, bool params, int *out_n, char ***out_names)
{
	struct tr t;

	memset(&t, 0, sizeof(t));
	buf_init(&t.out);
	t.params = params;
	tr_run(&t, sql, sql + strlen(sql));
	buf_addc(&t.out, '\0');
	if (out_n)
		*out_n = t.maxn;
	if (out_names) {
		tr_name(&t, t.maxn, NULL, 0);
		*out_names = t.names;
	} else {
		for (int i = 0; i < t.ncap; i++)
			free(t.names[i]);
		free(t.names);
	}
	return buf_detach(&t.out, NULL);
}
