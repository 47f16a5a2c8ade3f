/*
 * t-pg.c - the PostgreSQL connection (db_pg_conn) and the PostgreSQL schema
 * (schema/pg, embedded as schema_pg_migrations[]).
 *
 * The string checks run everywhere. With a server (make test-pg sets
 * WXRECON_TEST_PGHOST/PGPORT/PGUSER, scripts/pg-tmp.sh) it also connects,
 * migrates a fresh database with the embedded migrations as db_migrate
 * records them, and compares recon_fee_to_fen() on PostgreSQL with the C
 * function SQLite registers (recon_fee_to_fen, core/reconcile.c) on the same
 * inputs: every value from -5000 to 5000, the halves, the int64 ends and
 * pseudo-random large values.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/compat.h"
#include "base/xalloc.h"
#include "core/reconcile.h"
#include "db/db.h"
#include "db/db_pg_conn.h"
#include "db/schema.h"
#include "tap.h"

static void redact_is(const char *in, const char *want)
{
	char *got = db_pg_redact(in);
	char name[256];

	snprintf(name, sizeof(name), "redact '%s'", want);
	is_str(got, want, name);
	free(got);
}

static void check_is(const char *in, int want, const char *needle, const char *name)
{
	struct wxr_err err = WXR_ERR_INIT;
	int r = db_pg_check_conninfo(in, &err);

	if (!ok(r == want && (!needle || strstr(err.msg, needle)), name))
		diag("r=%d msg=%s", r, err.msg);
	ok(!strstr(err.msg, "Sesame"), "... and the message holds no password");
}

static void strings(void)
{
	ok(db_pg_is_uri("postgresql://h/db"), "postgresql:// is a URI");
	ok(db_pg_is_uri("postgres://h/db"), "postgres:// is a URI");
	ok(!db_pg_is_uri("var/wxrecon.db"), "a path is not");
	ok(!db_pg_is_uri("host=h dbname=d"), "key=value conninfo is not a URI");
	ok(!db_pg_is_uri("postgresql:/h/db"), "one slash is not");

	redact_is("postgresql://wx:Sesame@db:5432/wx", "postgresql://wx@db:5432/wx");
	redact_is("postgresql://wx:Ses@me@db/wx", "postgresql://wx@db/wx");
	redact_is("postgres://db/wx?password=Sesame&sslmode=require",
	          "postgres://db/wx?sslmode=require");
	redact_is("postgresql://db/wx?sslmode=require&password=Sesame",
	          "postgresql://db/wx?sslmode=require");
	redact_is("postgresql:///wx?host=/run/pg&port=5433",
	          "postgresql:///wx?host=/run/pg&port=5433");
	redact_is("host=db password=Sesame dbname=wx", "host=db password=*** dbname=wx");
	redact_is("host=db password = 'Ses ame\\' x' dbname=wx", "host=db password=*** dbname=wx");
	redact_is("host=db dbname=wx", "host=db dbname=wx");
	redact_is("", "");

	check_is("postgresql://wx@db/wx?sslmode=require", 0, NULL, "a good URI passes");
	check_is("host=db dbname=wx", 0, NULL, "good key=value passes");
	check_is("postgresql://db/wx?nosuch=1", WXR_ECONFIG, "invalid URI query parameter",
	         "a bad parameter is a config error");
	check_is("host=db dbname", WXR_ECONFIG, "missing \"=\"", "bad key=value is too");
	check_is("postgresql://wx:Sesame@db/wx", WXR_ECONFIG, "carries a password",
	         "a password in the URI is refused");
	check_is("host=db password=Sesame", WXR_ECONFIG, "password=***",
	         "a password in key=value is refused, masked");
	check_is("postgresql://wx:Ses%zzame@db/wx", WXR_ECONFIG, "\"***\"",
	         "libpq quoting a bad password: masked");
}

/* ---- with a server -------------------------------------------------------- */

static const char *env_or(const char *k, const char *d)
{
	const char *v = getenv(k);

	return v && *v ? v : d;
}

static char *conninfo_for(const char *dbname)
{
	return xasprintf("host=%s port=%s user=%s dbname=%s", getenv("WXRECON_TEST_PGHOST"),
	                 env_or("WXRECON_TEST_PGPORT", "5432"),
	                 env_or("WXRECON_TEST_PGUSER", "postgres"), dbname);
}

static int exec_ok(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	int good =
	        PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!good)
		diag("%s: %s", sql, PQerrorMessage(c));
	PQclear(res);
	return good;
}

/* What db_migrate does, on PostgreSQL: each migration not yet recorded, in one
 * transaction with its record. Returns how many it applied, -1 on an error. */
static int migrate(PGconn *c)
{
	int applied = 0;

	if (!exec_ok(c, "SET client_min_messages = warning"))
		return -1;
	if (!exec_ok(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	                " name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"))
		return -1;
	for (const struct schema_migration *m = schema_pg_migrations; m->name; m++) {
		const char *params[1] = { m->name };
		PGresult *res;
		int done, good;

		res = PQexecParams(c, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, NULL,
		                   params, NULL, NULL, 0);
		done = PQntuples(res) > 0;
		PQclear(res);
		if (done)
			continue;
		if (!exec_ok(c, "BEGIN") || !exec_ok(c, m->sql))
			return -1;
		res = PQexecParams(
		        c,
		        "INSERT INTO schema_migrations (name, applied_at) VALUES ($1,"
		        " to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))",
		        1, NULL, params, NULL, NULL, 0);
		good = PQresultStatus(res) == PGRES_COMMAND_OK;
		PQclear(res);
		if (!good || !exec_ok(c, "COMMIT"))
			return -1;
		applied++;
	}
	return applied;
}

static int count(const struct schema_migration *m)
{
	int n = 0;

	for (; m->name; m++)
		n++;
	return n;
}

static void migrations_same_as_sqlite(PGconn *c)
{
	PGresult *res = PQexec(c, "SELECT name FROM schema_migrations ORDER BY name");
	int n = 0;
	int same = PQresultStatus(res) == PGRES_TUPLES_OK;

	for (const struct schema_migration *m = schema_migrations; same && m->name; m++, n++)
		same = n < PQntuples(res) && strcmp(PQgetvalue(res, n, 0), m->name) == 0;
	ok(same && n == PQntuples(res), "schema_migrations holds the SQLite migrations' names");
	PQclear(res);
	is_int(count(schema_pg_migrations), count(schema_migrations),
	       "one PostgreSQL migration for each SQLite one");
}

/* The inputs: -5000..5000, the int64 ends and around them, and pseudo-random values. */
static void fee_inputs(struct buf *arr, int64_t **out_v, size_t *out_n)
{
	static const int64_t edge[] = { INT64_MAX,        INT64_MAX - 499,     INT64_MAX - 500,
		                        INT64_MIN,        INT64_MIN + 499,     INT64_MIN + 500,
		                        INT64_MIN + 501,  9223372036854775000, -9223372036854775000,
		                        1000000000000499, 1000000000000500,    -1000000000000500,
		                        -1000000000000499 };
	size_t cap = 10001 + ARRAY_SIZE(edge) + 2000;
	int64_t *v = xcalloc(cap, sizeof(*v));
	size_t n = 0;
	uint64_t x = 0x9E3779B97F4A7C15u;

	for (int64_t i = -5000; i <= 5000; i++)
		v[n++] = i;
	for (size_t i = 0; i < ARRAY_SIZE(edge); i++)
		v[n++] = edge[i];
	for (int i = 0; i < 2000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* every magnitude, both signs, and the last three digits near the half */
		v[n] = (int64_t)(x >> (i % 60));
		if (i % 3 == 0)
			v[n] = v[n] / 1000 * 1000 + 499 + (i % 4);
		if (i % 2)
			v[n] = -v[n];
		n++;
	}
	buf_adds(arr, "{");
	for (size_t i = 0; i < n; i++)
		buf_addf(arr, "%s%" PRId64, i ? "," : "", v[i]);
	buf_adds(arr, "}");
	*out_v = v;
	*out_n = n;
}

static void fee_same_as_c(PGconn *c)
{
	struct buf arr = BUF_INIT;
	int64_t *v = NULL;
	size_t n = 0;
	const char *params[1];
	PGresult *res;
	size_t differ = 0;

	fee_inputs(&arr, &v, &n);
	params[0] = buf_str(&arr);
	res = PQexecParams(c,
	                   "SELECT x::text, recon_fee_to_fen(x)::text FROM unnest($1::bigint[])"
	                   " WITH ORDINALITY AS u(x, i) ORDER BY i",
	                   1, NULL, params, NULL, NULL, 0);
	if (!ok(PQresultStatus(res) == PGRES_TUPLES_OK && (size_t)PQntuples(res) == n,
	        "recon_fee_to_fen runs on PostgreSQL over every input"))
		diag("%s", PQerrorMessage(c));
	for (int i = 0; i < PQntuples(res) && (size_t)i < n; i++) {
		char want[32];

		snprintf(want, sizeof(want), "%" PRId64, recon_fee_to_fen(v[i]));
		if (strcmp(PQgetvalue(res, i, 1), want) != 0) {
			if (differ++ < 5)
				diag("recon_fee_to_fen(%s): PostgreSQL %s, C %s",
				     PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), want);
		}
	}
	ok(differ == 0, "recon_fee_to_fen: PostgreSQL and C agree on all inputs");
	diag("%zu inputs compared", n);
	PQclear(res);
	res = PQexec(c, "SELECT recon_fee_to_fen(NULL) IS NULL");
	ok(PQresultStatus(res) == PGRES_TUPLES_OK && strcmp(PQgetvalue(res, 0, 0), "t") == 0,
	   "recon_fee_to_fen(NULL) is NULL, as SQLite's");
	PQclear(res);
	res = PQexec(c, "SELECT provolatile FROM pg_proc WHERE proname = 'recon_fee_to_fen'");
	ok(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	           strcmp(PQgetvalue(res, 0, 0), "i") == 0,
	   "recon_fee_to_fen is IMMUTABLE (usable in indexes, as SQLITE_DETERMINISTIC)");
	PQclear(res);
	buf_release(&arr);
	free(v);
}

/* The backend's statement cache stays bounded: 1,100 distinct statements on
 * one connection leave at most PG_CACHE_MAX (1,024) prepared on the server. */
static void cache_bounded(const char *ci)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct db *db = NULL;
	struct db_stmt *st = NULL;
	int64_t n = -1;
	int bad = 0;

	if (!ok(db_open(ci, &db, &err) == 0, "db_open on the test database")) {
		diag("%s", err.msg);
		return;
	}
	for (int i = 0; i < 1100 && !bad; i++) {
		char sql[64];

		snprintf(sql, sizeof(sql), "SELECT %d", i);
		if (db_prepare(db, sql, &st, &err) < 0 || db_step(st) != DB_ROW ||
		    db_col_i64(st, 0) != i)
			bad = 1;
		db_finalize(st);
		st = NULL;
	}
	ok(!bad, "1,100 distinct statements run on one connection");
	if (db_prepare(db, "SELECT count(*) FROM pg_prepared_statements", &st, &err) == 0 &&
	    db_step(st) == DB_ROW)
		n = db_col_i64(st, 0);
	db_finalize(st);
	if (!ok(n > 0 && n <= 1024, "at most 1,024 of them stay prepared"))
		diag("%" PRId64 " prepared", n);
	db_close(db);
}

static void with_server(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	PGconn *admin = NULL;
	PGconn *c = NULL;
	char dbname[64];
	char create[128];
	char *ci_admin = conninfo_for("postgres");
	char *ci = NULL;
	char buf[512];
	PGresult *res;
	int r;

	snprintf(dbname, sizeof(dbname), "wxu_pg_%ld", (long)getpid());
	ci = conninfo_for(dbname);
	r = db_pg_connect(ci_admin, &admin, &err);
	if (!ok(r == 0, "connects to the test server")) {
		diag("%s", err.msg);
		goto out;
	}
	db_pg_server_version(admin, buf, sizeof(buf));
	ok(strncmp(buf, "PostgreSQL 1", 12) == 0 && PQserverVersion(admin) >= DB_PG_MIN_VERSION,
	   "the server version reads 'PostgreSQL 15.N' or later");
	diag("%s", buf);
	res = PQexec(admin, "SELECT current_setting('application_name')");
	is_str(PQgetvalue(res, 0, 0), "wxrecon", "application_name is wxrecon");
	PQclear(res);
	{
		PQconninfoOption *all = PQconninfo(admin);
		const char *timeout = NULL;

		for (PQconninfoOption *o = all; o && o->keyword; o++) {
			if (strcmp(o->keyword, "connect_timeout") == 0)
				timeout = o->val;
		}
		is_str(timeout, DB_PG_CONNECT_TIMEOUT_S, "connect_timeout defaults to 10 s");
		PQconninfoFree(all);
	}
	r = db_pg_connect_min(ci_admin, 990000, &c, &err);
	ok(r == WXR_EDB && strstr(err.msg, "; wxrecon needs PostgreSQL 99 or later") &&
	           strstr(err.msg, "the server at ") && strstr(err.msg, " is PostgreSQL 1"),
	   "a server older than the minimum is refused, saying which it is");
	diag("%s", err.msg);

	snprintf(create, sizeof(create), "CREATE DATABASE %s", dbname);
	if (!ok(exec_ok(admin, create), "a fresh database"))
		goto out;
	r = db_pg_connect(ci, &c, &err);
	if (!ok(r == 0, "connects to it")) {
		diag("%s", err.msg);
		goto drop;
	}
	db_pg_where(c, buf, sizeof(buf));
	ok(strstr(buf, dbname) != NULL, "db_pg_where names the database");
	r = migrate(c);
	if (is_int(r, count(schema_pg_migrations), "the embedded PostgreSQL migrations apply")) {
		migrations_same_as_sqlite(c);
		is_int(migrate(c), 0, "... and a second run applies none");
		fee_same_as_c(c);
		cache_bounded(ci);
	}
	PQfinish(c);
	c = NULL;
drop:
	snprintf(create, sizeof(create), "DROP DATABASE %s WITH (FORCE)", dbname);
	ok(exec_ok(admin, create), "the database is dropped");
out:
	PQfinish(c);
	PQfinish(admin);
	free(ci_admin);
	free(ci);
}

int main(void)
{
	strings();
	if (getenv("WXRECON_TEST_PGHOST") && *getenv("WXRECON_TEST_PGHOST"))
		with_server();
	else
		skip("no PostgreSQL server (make test-pg starts one)",
		     "connect, migrate and compare recon_fee_to_fen with C");
	return done_testing();
}
