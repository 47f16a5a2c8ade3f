#include "db/db_pg_conn.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/xalloc.h"

bool db_pg_is_uri(const char *target)
{
	return target && (strncmp(target, "postgresql://", 13) == 0 ||
	                  strncmp(target, "postgres://", 11) == 0);
}

/* ---- redaction ------------------------------------------------------------ */

/* The URI form: "scheme://[user[:password]@]host.../db?k=v&k=v". */
static void redact_uri(const char *s, struct buf *out, char **pw)
{
	const char *auth = strstr(s, "://") + 3;
	size_t alen = strcspn(auth, "/?");
	const char *at = NULL;
	const char *q;

	for (const char *p = auth; p < auth + alen; p++) {
		if (*p == '@')
			at = p;
	}
	buf_add(out, s, (size_t)(auth - s));
	if (at) {
		const char *colon = memchr(auth, ':', (size_t)(at - auth));

		if (colon) {
			buf_add(out, auth, (size_t)(colon - auth));
			if (!*pw && at > colon + 1)
				*pw = xstrndup(colon + 1, (size_t)(at - colon - 1));
		} else {
			buf_add(out, auth, (size_t)(at - auth));
		}
		buf_add(out, at, (size_t)(auth + alen - at));
	} else {
		buf_add(out, auth, alen);
	}
	s = auth + alen;
	q = strchr(s, '?');
	if (!q) {
		buf_adds(out, s);
		return;
	}
	buf_add(out, s, (size_t)(q - s));
	/* the parameters, without password=... */
	{
		const char *p = q + 1;
		char sep = '?';

		while (*p) {
			size_t len = strcspn(p, "&");

			if (len >= 9 && strncmp(p, "password=", 9) == 0) {
				if (!*pw && len > 9)
					*pw = xstrndup(p + 9, len - 9);
			} else if (len) {
				buf_addc(out, sep);
				buf_add(out, p, len);
				sep = '&';
			}
			p += len;
			if (*p == '&')
				p++;
		}
	}
}

/* key=value conninfo: "k = v k='quoted \' value'"; copies all but the password's value. */
static void redact_kv(const char *s, struct buf *out, char **pw)
{
	const char *p = s;

	while (*p) {
		const char *k, *v;
		size_t klen;
		bool is_pw;

		while (isspace((unsigned char)*p))
			buf_addc(out, *p++);
		if (!*p)
			break;
		k = p;
		while (*p && *p != '=' && !isspace((unsigned char)*p))
			p++;
		klen = (size_t)(p - k);
		is_pw = klen == 8 && strncmp(k, "password", 8) == 0;
		while (isspace((unsigned char)*p))
			p++;
		buf_add(out, k, klen);
		if (*p != '=')
			continue; /* libpq refuses it; show the rest as it is */
		p++;
		buf_addc(out, '=');
		while (isspace((unsigned char)*p))
			p++;
		v = p;
		if (*p == '\'') {
			p++;
			while (*p && *p != '\'') {
				if (*p == '\\' && p[1])
					p++;
				p++;
			}
			if (*p == '\'')
				p++;
		} else {
			while (*p && !isspace((unsigned char)*p))
				p++;
		}
		if (is_pw) {
			buf_adds(out, "***");
			if (!*pw && p > v)
				*pw = xstrndup(v, (size_t)(p - v));
		} else {
			buf_add(out, v, (size_t)(p - v));
		}
	}
}

/* The redacted string; *pw (may be NULL) receives the password as written, if any. */
static char *redact(const char *conninfo, char **pw)
{
	struct buf out = BUF_INIT;
	char *found = NULL;

	if (db_pg_is_uri(conninfo))
		redact_uri(conninfo, &out, &found);
	else
		redact_kv(conninfo, &out, &found);
	if (pw)
		*pw = found;
	else
		free(found);
	return buf_detach(&out, NULL);
}

char *db_pg_redact(const char *conninfo)
{
	return redact(conninfo, NULL);
}

/*
 * libpq's message as one line: the first line, without "connection to server
 * ... failed: " and "FATAL:  ", with any occurrence of pw masked.
 */
static void pq_line(const char *msg, const char *pw, char *out, size_t n)
{
	struct buf b = BUF_INIT;
	const char *s = msg ? msg : "";
	const char *f = strstr(s, " failed: ");
	size_t len;

	if (strncmp(s, "connection to server", 20) == 0 && f && f < s + strcspn(s, "\n"))
		s = f + 9;
	if (strncmp(s, "FATAL:  ", 8) == 0)
		s += 8;
	len = strcspn(s, "\n");
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	buf_add(&b, s, len);
	s = buf_str(&b);
	out[0] = '\0';
	if (pw && *pw) {
		const char *hit;
		size_t used = 0;

		while ((hit = strstr(s, pw)) && used < n) {
			used += (size_t)snprintf(out + used, n - used, "%.*s***", (int)(hit - s),
			                         s);
			s = hit + strlen(pw);
		}
		if (used < n)
			snprintf(out + used, n - used, "%s", s);
	} else {
		snprintf(out, n, "%s", s);
	}
	buf_release(&b);
}

/* ---- checks and connection ------------------------------------------------ */

int db_pg_check_conninfo(const char *conninfo, struct wxr_err *err)
{
	PQconninfoOption *opts = NULL;
	char *errmsg = NULL;
	char *pw = NULL;
	char *shown = redact(conninfo, &pw);
	char line[400];
	bool has_pw = false;
	int r = 0;

	opts = PQconninfoParse(conninfo, &errmsg);
	if (!opts) {
		pq_line(errmsg ? errmsg : "out of memory", pw, line, sizeof(line));
		r = err_set(err, WXR_ECONFIG, "bad PostgreSQL connection string '%s': %s", shown,
		            line);
		goto out;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
			has_pw = true;
	}
	if (has_pw)
		r = err_set(err, WXR_ECONFIG,
		            "PostgreSQL connection string '%s' carries a password: remove it; the "
		            "password comes from PGPASSWORD, ~/.pgpass or a service file",
		            shown);
out:
	PQfreemem(errmsg);
	PQconninfoFree(opts);
	free(shown);
	free(pw);
	return r;
}

static const char *or_default(const char *s, const char *d)
{
	return s && *s ? s : d;
}

/* "database 'D' does not exist" etc.: which failure libpq's message names. */
static int connect_error(PGconn *c, const char *shown, struct wxr_err *err)
{
	const char *msg = PQerrorMessage(c);
	const char *host = or_default(PQhost(c), "localhost");
	const char *port = or_default(PQport(c), "5432");
	const char *user = or_default(PQuser(c), "?");
	const char *dbname = or_default(PQdb(c), user);
	char line[400];

	pq_line(msg, PQpass(c), line, sizeof(line));
	if (strstr(msg, "password authentication failed") ||
	    strstr(msg, "authentication failed for user"))
		return err_set(err, WXR_EDB,
		               "database '%s': PostgreSQL at %s:%s refused user '%s': %s; the "
		               "password comes from PGPASSWORD or ~/.pgpass (or a service file)",
		               shown, host, port, user, line);
	if (strstr(msg, "no password supplied") || strstr(msg, "password is required"))
		return err_set(err, WXR_EDB,
		               "database '%s': PostgreSQL at %s:%s wants a password for user '%s' "
		               "and none was found: set PGPASSWORD or add it to ~/.pgpass",
		               shown, host, port, user);
	if (strstr(msg, "database \"") && strstr(msg, "does not exist"))
		return err_set(err, WXR_EDB,
		               "database '%s': PostgreSQL at %s:%s has no database '%s': create it "
		               "(createdb %s) or fix the url's database name",
		               shown, host, port, dbname, dbname);
	if (strstr(msg, "role \"") && strstr(msg, "does not exist"))
		return err_set(err, WXR_EDB,
		               "database '%s': PostgreSQL at %s:%s has no role '%s': create it "
		               "(createuser %s) or fix the url's user",
		               shown, host, port, user, user);
	if (strstr(msg, "Connection refused") || strstr(msg, "No such file or directory") ||
	    strstr(msg, "timeout expired") || strstr(msg, "could not translate host name") ||
	    strstr(msg, "Network is unreachable") || strstr(msg, "No route to host") ||
	    strstr(msg, "could not connect"))
		return err_set(err, WXR_EDB,
		               "database '%s': cannot reach PostgreSQL at %s:%s (%s): check that "
		               "the server is running and the url's host and port",
		               shown, host, port, line);
	return err_set(err, WXR_EDB, "database '%s': cannot connect to PostgreSQL at %s:%s: %s",
	               shown, host, port, line);
}

int db_pg_connect_min(const char *conninfo, int min_version, PGconn **out, struct wxr_err *err)
{
	/* earlier entries are defaults: the string (expanded from dbname) overrides them */
	const char *const keys[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *const vals[] = { DB_PG_CONNECT_TIMEOUT_S, "wxrecon", conninfo, NULL };
	PGconn *c = NULL;
	char *shown = NULL;
	int r;

	r = db_pg_check_conninfo(conninfo, err);
	if (r < 0)
		return r;
	shown = redact(conninfo, NULL);
	c = PQconnectdbParams(keys, vals, 1);
	if (!c) {
		r = err_set(err, WXR_EDB, "database '%s': out of memory in libpq", shown);
		goto out;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		r = connect_error(c, shown, err);
		goto out;
	}
	if (PQserverVersion(c) < min_version) {
		char have[64];
		char where[512];

		db_pg_server_version(c, have, sizeof(have));
		db_pg_where(c, where, sizeof(where));
		r = err_set(err, WXR_EDB,
		            "database '%s': the server at %s is %s; wxrecon needs PostgreSQL %d "
		            "or later",
		            shown, where, have, min_version / 10000);
		goto out;
	}
	*out = c;
	c = NULL;
	r = 0;
out:
	PQfinish(c);
	free(shown);
	return r;
}

int db_pg_connect(const char *conninfo, PGconn **out, struct wxr_err *err)
{
	return db_pg_connect_min(conninfo, DB_PG_MIN_VERSION, out, err);
}

void db_pg_server_version(PGconn *c, char *out, size_t n)
{
	int v = PQserverVersion(c);

	/* 10 and later: MAJOR * 10000 + MINOR; before: MAJOR * 10000 + MINOR * 100 + PATCH */
	if (v >= 100000)
		snprintf(out, n, "PostgreSQL %d.%d", v / 10000, v % 10000);
	else
		snprintf(out, n, "PostgreSQL %d.%d.%d", v / 10000, v / 100 % 100, v % 100);
}

void db_pg_where(PGconn *c, char *out, size_t n)
{
	snprintf(out, n, "%s:%s/%s", or_default(PQhost(c), "localhost"),
	         or_default(PQport(c), "5432"), or_default(PQdb(c), "?"));
}

int db_pg_probe(const char *conninfo, char *out, size_t n, struct wxr_err *err)
{
	PGconn *c = NULL;
	char version[64];
	char where[512];
	int r;

	r = db_pg_connect(conninfo, &c, err);
	if (r < 0)
		return r;
	db_pg_server_version(c, version, sizeof(version));
	db_pg_where(c, where, sizeof(where));
	snprintf(out, n, "%s at %s", version, where);
	PQfinish(c);
	return 0;
}
