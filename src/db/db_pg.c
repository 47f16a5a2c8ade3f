/*
 * db_pg.c - the PostgreSQL backend of db.h over libpq (issue 16, SPEC 10).
 *
 * Statements. The store modules write SQLite's SQL; db_pg_translate() below is
 * the one place where it becomes PostgreSQL's (the dialect list is at its
 * head). A statement is prepared at its first step, when its bindings are
 * known, under a name s1, s2... kept in a per-connection cache keyed by the
 * translated SQL and the kinds of its bindings, so a statement the store
 * modules prepare again and again is parsed by the server once (at most
 * PG_CACHE_MAX of them, then the cache starts again). Parameters
 * go as text (an int64 in decimal, NULL as NULL); their types are left to
 * the server (text and NULL "unknown", integers int8), and where the server
 * cannot tell a parameter's type from the SQL alone ("?3 IS NULL") the
 * statement is prepared again with that one parameter as text (or int8 for
 * a NULL where text does not fit), the others still the server's. Inside a
 * transaction a prepare runs under a savepoint so that a failed one does not
 * abort the caller's transaction (as a failed sqlite3_prepare does not).
 *
 * Results. Every statement runs in single-row mode (PQsetSingleRowMode): a
 * SELECT of a million rows never sits in memory whole; db_step() reads one
 * row at a time off the socket. libpq runs one query at a time, so when
 * another statement needs the connection while a SELECT is still being
 * read (a loop that writes as it reads), the rest of that SELECT is read
 * into memory first and handed out from there: the store modules' big reads
 * (bills, reports, events) are not interleaved, so they stay streamed.
 *
 * Bulk loads (db_bulk_*): COPY table (cols) FROM STDIN in text format. Rows
 * are buffered up to PG_BULK_FLUSH bytes and then sent as one COPY; a
 * statement that needs the connection between rows (the bill writer's
 * rejected lines) first sends what is buffered. So memory stays bounded and
 * the rows are all in once db_bulk_end() returns; a bad row fails the COPY
 * that carries it, and so the load.
 *
 * Transactions and races (SPEC 10): db_begin() is BEGIN then
 * pg_advisory_xact_lock(PG_WRITER_KEY): the write transactions of wxrecon on
 * one database run one at a time, as SQLite's BEGIN IMMEDIATE makes them,
 * released at COMMIT or ROLLBACK (or when the connection dies); inside one,
 * READ COMMITTED sees every earlier commit, and no serialization failure
 * needs a retry. A writer waits lock_timeout (db_busy_timeout, 5 s) and then
 * fails WXR_EBUSY, as SQLite's busy timeout does. db_begin_read() is
 * REPEATABLE READ: one snapshot for several queries, no lock. The run lock
 * (db_jobs.c) is a session advisory lock (db_session_lock), which the
 * server drops when the holder's connection ends.
 *
 * Errors: SQLSTATE 40001, 40P01, 55P03 -> WXR_EBUSY; 23505 -> WXR_EUNIQUE;
 * 53100 -> WXR_EIO; a lost connection (or 57P01-57P03, the server ending the
 * session) names the server. db_error() gives
 * the server's primary message (and its detail) on one line.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "db/db.h"
#include "db/db_backend.h"
#include "db/db_pg_conn.h"
#include "db/db_pg_translate.h"
#include "db/schema.h"

#define PG_BUSY_TIMEOUT_MS 5000
/* The advisory lock every write transaction takes (an arbitrary constant:
 * "wxrecon" in ASCII). */
#define PG_WRITER_KEY "33884928217820014"
/* The first key of the two-key advisory locks db_session_lock() takes. */
#define PG_SESSION_CLASS "2026"
/* A bulk load sends a COPY when this much is buffered. */
#define PG_BULK_FLUSH    (1024 * 1024)
#define PG_CACHE_BUCKETS 256
/* At most this many prepared statements per connection: past it they are
 * all deallocated and prepared again as used (SQL built per call, a
 * long-lived worker). */
#define PG_CACHE_MAX 1024
#define PG_MSG_LEN   768

#define OID_UNKNOWN 0
#define OID_INT8    20
#define OID_TEXT    25

struct pg_cached {
	char *key; /* owned: translated SQL, '\0', binding kinds */
	size_t keylen;
	char name[16];
	struct pg_cached *next;
};

struct pg_stmt;

struct pg_db {
	struct db base;
	PGconn *c;
	char where[256]; /* HOST:PORT/DBNAME, for messages */
	int64_t changes;
	/* the last error */
	int code;
	char state[6];
	char msg[PG_MSG_LEN];
	struct pg_stmt *streaming; /* whose rows are being read off the socket */
	struct pg_stmt *bulk;      /* the bulk load with rows buffered */
	struct pg_cached *cache[PG_CACHE_BUCKETS];
	unsigned ncached;
	unsigned next_name;
};

enum pg_state { ST_IDLE, ST_STREAM, ST_BUFFERED, ST_DONE };

struct pg_stmt {
	struct db_stmt base;
	char *sql; /* owned, translated; NULL for a bulk load's row holder */
	int nparams;
	char **names; /* owned: ":name" of each parameter (index 1..n), or NULL */
	char **vals;  /* owned: the bound values as text, NULL for NULL */
	char *kinds;  /* 'n' NULL, 'i' integer, 't' text: one a parameter */
	enum pg_state state;
	PGresult *row; /* the current row */
	PGresult **q;  /* buffered rows (ST_BUFFERED) */
	size_t qhead, qlen, qcap;
	int fin_code;  /* ST_BUFFERED: how the statement ended (0 or WXR_E*) */
	char *fin_msg; /* owned: its error, with fin_state */
	char fin_state[6];
	/* a bulk load */
	char *copy_sql;
	struct buf rows;
	int bulk_code;
	char *bulk_msg;
};

static const struct db_ops pg_ops;

static struct pg_db *P(struct db *db)
{
	return (struct pg_db *)db;
}

static struct pg_stmt *PS(struct db_stmt *st)
{
	return (struct pg_stmt *)st;
}

/* ---- errors ----------------------------------------------------------------- */

static int code_of_state(const char *state)
{
	if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03"))
		return WXR_EBUSY;
	if (!strcmp(state, "23505"))
		return WXR_EUNIQUE;
	if (!strcmp(state, "53100"))
		return WXR_EIO;
	return WXR_EDB;
}

/* msg without its trailing newlines and with inner ones as "; ". */
static void one_line(char *out, size_t n, const char *msg)
{
	size_t j = 0;

	for (const char *p = msg; *p && j + 1 < n; p++) {
		if (*p == '\n') {
			if (p[1] && j + 3 < n) {
				out[j++] = ';';
				out[j++] = ' ';
			}
		} else {
			out[j++] = *p;
		}
	}
	out[j] = '\0';
}

static int set_conn_error(struct pg_db *d)
{
	char line[PG_MSG_LEN - 128];

	one_line(line, sizeof(line), PQerrorMessage(d->c));
	if (PQstatus(d->c) == CONNECTION_BAD)
		snprintf(d->msg, sizeof(d->msg),
		         "lost the connection to the PostgreSQL server %s (%s): check that it is "
		         "up and run the command again",
		         d->where, line);
	else
		snprintf(d->msg, sizeof(d->msg), "%s", line);
	snprintf(d->state, sizeof(d->state), "08006");
	d->code = WXR_EDB;
	return d->code;
}

/* Records res's error on the connection (res NULL: the connection's). */
static int set_result_error(struct pg_db *d, const PGresult *res)
{
	const char *state, *primary, *detail;

	if (!res || PQstatus(d->c) == CONNECTION_BAD)
		return set_conn_error(d);
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	if (!primary) {
		char line[PG_MSG_LEN];

		one_line(line, sizeof(line), PQresultErrorMessage(res));
		snprintf(d->msg, sizeof(d->msg), "%s",
		         line[0] ? line : PQresStatus(PQresultStatus(res)));
	} else if (detail) {
		char line[PG_MSG_LEN / 2];

		one_line(line, sizeof(line), detail);
		snprintf(d->msg, sizeof(d->msg), "%s (%s)", primary, line);
	} else {
		snprintf(d->msg, sizeof(d->msg), "%s", primary);
	}
	snprintf(d->state, sizeof(d->state), "%s", state ? state : "XX000");
	d->code = code_of_state(d->state);
	/* 57P01-57P03: an administrator or a restart ended the session (pg_terminate_backend,
	 * a fast shutdown): as lost as a dropped socket, and said the same way */
	if (strncmp(d->state, "57P0", 4) == 0 && d->state[4] >= '1' && d->state[4] <= '3') {
		char line[PG_MSG_LEN - 128];

		snprintf(line, sizeof(line), "%s", d->msg);
		snprintf(d->msg, sizeof(d->msg),
		         "lost the connection to the PostgreSQL server %s (%s): check that it is "
		         "up and run the command again",
		         d->where, line);
		d->code = WXR_EDB;
	}
	return d->code;
}

static int pg_error(struct db *db, struct wxr_err *err, const char *what)
{
	struct pg_db *d = P(db);
	int code = d->code ? d->code : WXR_EDB;

	if (code == WXR_EBUSY)
		return err_set(err, code, "%s: database '%s' is locked by another process (%s)",
		               what, db->target, d->msg);
	if (code == WXR_EIO)
		return err_set(err, code, "%s: disk full on the PostgreSQL server %s (%s)", what,
		               d->where, d->msg);
	return err_set(err, code, "%s: %s", what, d->msg[0] ? d->msg : "unknown PostgreSQL error");
}

/* The error of the connection as err, without a "what:". */
static int conn_err(struct pg_db *d, struct wxr_err *err)
{
	if (d->code == WXR_EBUSY)
		return err_set(err, d->code, "database '%s' is locked by another process (%s)",
		               d->base.target, d->msg);
	if (d->code == WXR_EIO)
		return err_set(err, d->code, "disk full on the PostgreSQL server %s (%s)", d->where,
		               d->msg);
	return err_set(err, d->code ? d->code : WXR_EDB, "%s", d->msg);
}

/* ---- the connection is one query at a time ---------------------------------- */

static void note_changes(struct pg_db *d, const PGresult *res)
{
	const char *tag = PQcmdStatus((PGresult *)res);

	if (!strncmp(tag, "INSERT", 6) || !strncmp(tag, "UPDATE", 6) ||
	    !strncmp(tag, "DELETE", 6) || !strncmp(tag, "MERGE", 5))
		d->changes = strtoll(PQcmdTuples((PGresult *)res), NULL, 10);
}

static void q_clear(struct pg_stmt *s)
{
	while (s->qhead < s->qlen)
		PQclear(s->q[s->qhead++]);
	s->qhead = s->qlen = 0;
}

static void fin_clear(struct pg_stmt *s)
{
	free(s->fin_msg);
	s->fin_msg = NULL;
	s->fin_code = 0;
}

/* Reads the rest of the streaming statement's results: into its queue
 * (keep) or away. */
static void finish_stream(struct pg_db *d, bool keep)
{
	struct pg_stmt *s = d->streaming;
	PGresult *res;

	if (!s)
		return;
	d->streaming = NULL;
	while ((res = PQgetResult(d->c)) != NULL) {
		ExecStatusType t = PQresultStatus(res);

		if (t == PGRES_SINGLE_TUPLE && keep) {
			if (s->qlen == s->qcap) {
				s->qcap = s->qcap ? 2 * s->qcap : 64;
				s->q = xreallocarray(s->q, s->qcap, sizeof(*s->q));
			}
			s->q[s->qlen++] = res;
			continue;
		}
		if (t == PGRES_TUPLES_OK || t == PGRES_COMMAND_OK) {
			note_changes(d, res);
		} else if (t != PGRES_SINGLE_TUPLE && keep && !s->fin_code) {
			s->fin_code = set_result_error(d, res);
			s->fin_msg = xstrdup(d->msg);
			memcpy(s->fin_state, d->state, sizeof(s->fin_state));
		}
		PQclear(res);
	}
	if (PQstatus(d->c) == CONNECTION_BAD && keep && !s->fin_code) {
		s->fin_code = set_conn_error(d);
		s->fin_msg = xstrdup(d->msg);
		memcpy(s->fin_state, d->state, sizeof(s->fin_state));
	}
	s->state = keep ? ST_BUFFERED : ST_DONE;
}

static int bulk_flush(struct pg_db *d, struct pg_stmt *b);

/* Makes the connection free for a new query: the rows of a SELECT still
 * being read are read into memory, buffered bulk rows are sent. */
static int claim(struct pg_db *d)
{
	finish_stream(d, true);
	if (d->bulk && d->bulk->rows.len) {
		int r = bulk_flush(d, d->bulk);

		if (r < 0) {
			snprintf(d->msg, sizeof(d->msg), "%s", d->bulk->bulk_msg);
			d->code = r;
			return r;
		}
	}
	return 0;
}

static bool pg_in_tx(struct db *db)
{
	struct pg_db *d = P(db);

	if (PQtransactionStatus(d->c) == PQTRANS_ACTIVE)
		finish_stream(d, true);
	switch (PQtransactionStatus(d->c)) {
	case PQTRANS_INTRANS:
	case PQTRANS_INERROR:
	case PQTRANS_ACTIVE:
		return true;
	default:
		return false;
	}
}

/* Runs sql (one or more statements, no parameters, already translated). */
static int run_exec(struct pg_db *d, const char *sql)
{
	bool was_in_tx;
	PGresult *res;
	int r = 0;

	r = claim(d);
	if (r < 0)
		return r;
	was_in_tx = PQtransactionStatus(d->c) != PQTRANS_IDLE;
	res = PQexec(d->c, sql);
	if (!res) {
		r = set_conn_error(d);
	} else if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	           PQresultStatus(res) != PGRES_TUPLES_OK) {
		r = set_result_error(d, res);
	} else if (!strcmp(sql, "COMMIT") && !strcmp(PQcmdStatus(res), "ROLLBACK")) {
		snprintf(d->msg, sizeof(d->msg),
		         "the transaction had failed and was rolled back by the server");
		d->code = r = WXR_EDB;
	} else {
		note_changes(d, res);
	}
	PQclear(res);
	/* a BEGIN whose lock timed out leaves an aborted transaction nobody owns */
	if (r < 0 && !was_in_tx && PQtransactionStatus(d->c) == PQTRANS_INERROR)
		PQclear(PQexec(d->c, "ROLLBACK"));
	return r;
}

static int pg_exec(struct db *db, const char *sql, struct wxr_err *err)
{
	char *t = db_pg_translate(sql, false, NULL, NULL);
	int r = run_exec(P(db), t);

	free(t);
	if (r < 0)
		return conn_err(P(db), err);
	return 0;
}

/* ---- open and close ---------------------------------------------------------- */

static void cache_free(struct pg_db *d)
{
	for (int i = 0; i < PG_CACHE_BUCKETS; i++) {
		struct pg_cached *e = d->cache[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e->key);
			free(e);
		}
		d->cache[i] = NULL;
	}
	d->ncached = 0;
}

static void pg_close(struct db *db)
{
	struct pg_db *d = P(db);

	if (d->c)
		PQfinish(d->c);
	cache_free(d);
	free(db->target);
	free(db);
}

bool db_pg_is_target(const char *target)
{
	PQconninfoOption *o;
	char *msg = NULL;

	if (db_pg_is_uri(target))
		return true;
	/* key=value conninfo: at least one '=' and libpq reads all of it */
	if (!strchr(target, '=') || strchr(target, '/') == target)
		return false;
	o = PQconninfoParse(target, &msg);
	PQfreemem(msg);
	if (!o)
		return false;
	PQconninfoFree(o);
	return true;
}

static void busy_timeout_sql(char *out, size_t n, int ms)
{
	snprintf(out, n, "SET lock_timeout = %d", ms);
}

int db_pg_open(const char *conninfo, struct db **out_db, struct wxr_err *err)
{
	struct pg_db *d = xcalloc(1, sizeof(*d));
	char sql[64];
	int r;

	d->base.ops = &pg_ops;
	d->base.target = db_pg_redact(conninfo);
	r = db_pg_connect(conninfo, &d->c, err);
	if (r < 0) {
		pg_close(&d->base);
		return r;
	}
	db_pg_where(d->c, d->where, sizeof(d->where));
	if (PQsetClientEncoding(d->c, "UTF8") != 0) {
		set_conn_error(d);
		r = conn_err(d, err);
		goto fail;
	}
	busy_timeout_sql(sql, sizeof(sql), PG_BUSY_TIMEOUT_MS);
	r = run_exec(d, sql);
	if (r == 0)
		r = run_exec(d, "SET client_min_messages = error");
	if (r < 0) {
		conn_err(d, err);
		goto fail;
	}
	*out_db = &d->base;
	return 0;
fail:
	err_prefix(err, "database '%s'", d->base.target);
	pg_close(&d->base);
	return r;
}

static int pg_bulk_cache(struct db *db, struct wxr_err *err)
{
	/* the server has its own buffers; nothing to size per connection */
	(void)db;
	(void)err;
	return 0;
}

static void pg_busy_timeout(struct db *db, int ms)
{
	char sql[64];

	busy_timeout_sql(sql, sizeof(sql), ms);
	if (PQtransactionStatus(P(db)->c) != PQTRANS_INERROR)
		run_exec(P(db), sql);
}

static int64_t pg_changes(struct db *db)
{
	return P(db)->changes;
}

/* ---- statements ---------------------------------------------------------------- */

static int pg_prepare(struct db *db, const char *sql, struct db_stmt **out, struct wxr_err *err)
{
	struct pg_stmt *s = xcalloc(1, sizeof(*s));

	(void)err;
	s->base.ops = &pg_ops;
	s->base.db = db;
	s->sql = db_pg_translate(sql, true, &s->nparams, &s->names);
	s->vals = xcalloc((size_t)s->nparams + 1, sizeof(*s->vals));
	s->kinds = xmalloc((size_t)s->nparams + 1);
	memset(s->kinds, 'n', (size_t)s->nparams);
	s->kinds[s->nparams] = '\0';
	buf_init(&s->rows);
	*out = &s->base;
	return 0;
}

static void stmt_stop(struct pg_stmt *s)
{
	struct pg_db *d = P(s->base.db);

	if (d->streaming == s)
		finish_stream(d, false);
	PQclear(s->row);
	s->row = NULL;
	q_clear(s);
	fin_clear(s);
	s->state = ST_IDLE;
}

static void pg_finalize(struct db_stmt *st)
{
	struct pg_stmt *s = PS(st);
	struct pg_db *d = P(st->db);

	stmt_stop(s);
	if (d->bulk == s)
		d->bulk = NULL;
	for (int i = 0; i <= s->nparams; i++) {
		free(s->vals[i]);
		free(s->names[i]);
	}
	free(s->vals);
	free(s->names);
	free(s->kinds);
	free(s->q);
	free(s->sql);
	free(s->copy_sql);
	free(s->bulk_msg);
	buf_release(&s->rows);
	free(s);
}

static void pg_reset(struct db_stmt *st)
{
	stmt_stop(PS(st));
}

static void pg_clear_bindings(struct db_stmt *st)
{
	struct pg_stmt *s = PS(st);

	for (int i = 1; i <= s->nparams; i++) {
		free(s->vals[i]);
		s->vals[i] = NULL;
		s->kinds[i - 1] = 'n';
	}
}

/* The prepared statement for s's SQL and binding kinds: from the cache, or
 * prepared now. */
static int stmt_name(struct pg_stmt *s, const char **out)
{
	struct pg_db *d = P(s->base.db);
	size_t sl = strlen(s->sql), kl = (size_t)s->nparams, keylen = sl + 1 + kl;
	uint32_t h = 2166136261u;
	struct pg_cached *e;
	Oid *types;
	bool in_tx, ok = false;
	int r = 0;

	for (size_t i = 0; i < sl; i++)
		h = (h ^ (unsigned char)s->sql[i]) * 16777619u;
	for (size_t i = 0; i < kl; i++)
		h = (h ^ (unsigned char)s->kinds[i]) * 16777619u;
	for (e = d->cache[h % PG_CACHE_BUCKETS]; e; e = e->next) {
		if (e->keylen == keylen && !memcmp(e->key, s->sql, sl + 1) &&
		    !memcmp(e->key + sl + 1, s->kinds, kl)) {
			*out = e->name;
			return 0;
		}
	}
	if (d->ncached >= PG_CACHE_MAX && PQtransactionStatus(d->c) != PQTRANS_INERROR) {
		r = run_exec(d, "DEALLOCATE ALL");
		if (r < 0)
			return r;
		cache_free(d);
	}
	e = xcalloc(1, sizeof(*e));
	e->keylen = keylen;
	e->key = xmalloc(keylen);
	memcpy(e->key, s->sql, sl + 1);
	memcpy(e->key + sl + 1, s->kinds, kl);
	snprintf(e->name, sizeof(e->name), "s%u", ++d->next_name);
	types = xcalloc((size_t)s->nparams + 1, sizeof(*types));
	for (int i = 0; i < s->nparams; i++)
		types[i] = s->kinds[i] == 'i' ? OID_INT8 : OID_UNKNOWN;
	in_tx = PQtransactionStatus(d->c) == PQTRANS_INTRANS;
	if (in_tx)
		r = run_exec(d, "SAVEPOINT wxr_prepare");
	/* First the server's types for text and NULL. A parameter it cannot
	 * type ("?3 IS NULL" alone) is named in the error: that one is text,
	 * and if text does not fit there either (a type mismatch next, ":run"
	 * in a CASE that gives a BIGINT column) and it is NULL, int8. So each
	 * parameter keeps the type the server infers wherever it can. */
	for (int attempt = 0, guessed = -1, fallback = 0;
	     r == 0 && !ok && attempt <= 2 * s->nparams + 3; attempt++) {
		PGresult *res = PQprepare(d->c, e->name, s->sql, s->nparams, types);
		const char *state, *msg;
		long n;

		if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
			ok = true;
			PQclear(res);
			break;
		}
		state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
		r = set_result_error(d, res);
		if (in_tx)
			run_exec(d, "ROLLBACK TO wxr_prepare");
		n = 0;
		if (state && (!strcmp(state, "42P18") || !strcmp(state, "42P08")) && msg &&
		    strstr(msg, "parameter $"))
			n = strtol(strstr(msg, "parameter $") + 11, NULL, 10);
		if (n >= 1 && n <= s->nparams && types[n - 1] == OID_UNKNOWN) {
			/* 42P18 indeterminate_datatype, 42P08 ambiguous_parameter:
			 * this one as text */
			types[n - 1] = OID_TEXT;
			guessed = (int)n - 1;
			r = 0;
		} else if (n >= 1 && n <= s->nparams && types[n - 1] == OID_TEXT &&
		           s->kinds[n - 1] == 'n') {
			types[n - 1] = OID_INT8;
			guessed = -1;
			r = 0;
		} else if (state && guessed >= 0 && s->kinds[guessed] == 'n' &&
		           types[guessed] == OID_TEXT &&
		           (!strcmp(state, "42804") || !strcmp(state, "42883") ||
		            !strcmp(state, "42725") || !strcmp(state, "42P08"))) {
			/* 42804 datatype_mismatch, 42883 undefined_function, 42725
			 * ambiguous_function, 42P08 ambiguous_parameter: the text
			 * guessed last does not fit; a NULL there is int8 */
			types[guessed] = OID_INT8;
			guessed = -1;
			r = 0;
		} else if (state && fallback < 2 &&
		           (!strcmp(state, "42P18") || !strcmp(state, "42804") ||
		            !strcmp(state, "42883") || !strcmp(state, "42725") ||
		            !strcmp(state, "42P08"))) {
			/* none of that: every text and NULL as text, then NULL as int8 */
			fallback++;
			for (int i = 0; i < s->nparams; i++) {
				if (s->kinds[i] != 'i')
					types[i] = s->kinds[i] == 't' || fallback == 1 ? OID_TEXT
					                                               : OID_INT8;
			}
			guessed = -1;
			r = 0;
		}
		PQclear(res);
	}
	if (in_tx && PQtransactionStatus(d->c) == PQTRANS_INTRANS)
		run_exec(d, "RELEASE wxr_prepare");
	free(types);
	if (!ok) {
		char first[PG_MSG_LEN];

		/* keep the prepare's message, not the savepoint's */
		memcpy(first, d->msg, sizeof(first));
		free(e->key);
		free(e);
		memcpy(d->msg, first, sizeof(first));
		return r < 0 ? r : WXR_EDB;
	}
	e->next = d->cache[h % PG_CACHE_BUCKETS];
	d->cache[h % PG_CACHE_BUCKETS] = e;
	d->ncached++;
	*out = e->name;
	return 0;
}

static int stmt_send(struct pg_stmt *s)
{
	struct pg_db *d = P(s->base.db);
	const char *name = NULL;
	int r;

	r = claim(d);
	if (r < 0)
		return r;
	r = stmt_name(s, &name);
	if (r < 0)
		return r;
	if (!PQsendQueryPrepared(d->c, name, s->nparams, (const char *const *)s->vals + 1, NULL,
	                         NULL, 0))
		return set_conn_error(d);
	if (!PQsetSingleRowMode(d->c)) {
		finish_stream(d, false);
		snprintf(d->msg, sizeof(d->msg), "cannot read rows one at a time");
		return d->code = WXR_EDB;
	}
	d->streaming = s;
	s->state = ST_STREAM;
	return 0;
}

/* Sets the connection's error from s's end (ST_BUFFERED). */
static int fin_result(struct pg_stmt *s)
{
	struct pg_db *d = P(s->base.db);
	int code = s->fin_code;

	s->state = ST_DONE;
	if (!code)
		return DB_DONE;
	snprintf(d->msg, sizeof(d->msg), "%s", s->fin_msg);
	memcpy(d->state, s->fin_state, sizeof(d->state));
	d->code = code;
	fin_clear(s);
	return code;
}

static int pg_step(struct db_stmt *st)
{
	struct pg_stmt *s = PS(st);
	struct pg_db *d = P(st->db);
	PGresult *res;
	int r;

	PQclear(s->row);
	s->row = NULL;
	if (s->state == ST_DONE)
		s->state = ST_IDLE; /* as sqlite3_step runs a finished statement again */
	if (s->state == ST_IDLE) {
		r = stmt_send(s);
		if (r < 0) {
			s->state = ST_IDLE;
			return r;
		}
	}
	if (s->state == ST_BUFFERED) {
		if (s->qhead < s->qlen) {
			s->row = s->q[s->qhead++];
			return DB_ROW;
		}
		q_clear(s);
		return fin_result(s);
	}
	res = PQgetResult(d->c);
	if (res && PQresultStatus(res) == PGRES_SINGLE_TUPLE) {
		s->row = res;
		return DB_ROW;
	}
	r = DB_DONE;
	if (!res)
		r = set_conn_error(d);
	else if (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK)
		note_changes(d, res);
	else
		r = set_result_error(d, res);
	PQclear(res);
	/* the end of the query */
	while ((res = PQgetResult(d->c)) != NULL)
		PQclear(res);
	d->streaming = NULL;
	s->state = ST_DONE;
	return r;
}

static int pg_param_index(struct db_stmt *st, const char *name)
{
	struct pg_stmt *s = PS(st);

	for (int i = 1; i <= s->nparams; i++) {
		if (s->names[i] && !strcmp(s->names[i], name))
			return i;
	}
	return 0;
}

static int bind_set(struct pg_stmt *s, int i, char *v, char kind)
{
	if (i < 1 || i > s->nparams) {
		free(v);
		snprintf(P(s->base.db)->msg, sizeof(P(s->base.db)->msg),
		         "parameter %d out of range (the statement has %d)", i, s->nparams);
		return P(s->base.db)->code = WXR_EDB;
	}
	if (s->state != ST_IDLE)
		stmt_stop(s);
	free(s->vals[i]);
	s->vals[i] = v;
	s->kinds[i - 1] = kind;
	return 0;
}

static int pg_bind_i64(struct db_stmt *st, int i, int64_t v)
{
	return bind_set(PS(st), i, xasprintf("%lld", (long long)v), 'i');
}

static int pg_bind_null(struct db_stmt *st, int i)
{
	return bind_set(PS(st), i, NULL, 'n');
}

static int pg_bind_text(struct db_stmt *st, int i, const char *s, ptrdiff_t len, bool copy)
{
	(void)copy; /* libpq wants a NUL at the end: always a copy */
	if (!s)
		return pg_bind_null(st, i);
	return bind_set(PS(st), i, len < 0 ? xstrdup(s) : xstrndup(s, (size_t)len), 't');
}

static int pg_col_count(struct db_stmt *st)
{
	return PS(st)->row ? PQnfields(PS(st)->row) : 0;
}

static bool pg_col_is_null(struct db_stmt *st, int i)
{
	struct pg_stmt *s = PS(st);

	return !s->row || i >= PQnfields(s->row) || PQgetisnull(s->row, 0, i);
}

static const char *pg_col_text(struct db_stmt *st, int i)
{
	struct pg_stmt *s = PS(st);

	if (!s->row || i >= PQnfields(s->row))
		return "";
	return PQgetvalue(s->row, 0, i);
}

static size_t pg_col_bytes(struct db_stmt *st, int i)
{
	struct pg_stmt *s = PS(st);

	if (!s->row || i >= PQnfields(s->row))
		return 0;
	return (size_t)PQgetlength(s->row, 0, i);
}

/* bigint, numeric (SUM) and boolean (EXISTS) columns read as integers */
static int64_t pg_col_i64(struct db_stmt *st, int i)
{
	const char *v = pg_col_text(st, i);

	if (!strcmp(v, "t"))
		return 1;
	if (!strcmp(v, "f"))
		return 0;
	if (strchr(v, '.') || strchr(v, 'e'))
		return (int64_t)strtod(v, NULL);
	return strtoll(v, NULL, 10);
}

/* ---- what a server provides itself ---------------------------------------------- */

/* Runs sql with one text parameter; *out gets the first column of its one row. */
static int query1(struct pg_db *d, const char *sql, const char *arg, int64_t *out)
{
	struct db_stmt *st = NULL;
	int r;

	pg_prepare(&d->base, sql, &st, NULL);
	pg_bind_text(st, 1, arg, -1, true);
	r = pg_step(st);
	if (r == DB_ROW) {
		*out = pg_col_is_null(st, 0) ? 0 : pg_col_i64(st, 0);
		r = 0;
	} else if (r == DB_DONE) {
		*out = 0;
		r = 0;
	}
	pg_finalize(st);
	return r;
}

static int pg_function_i64(struct db *db, const char *name, int64_t (*fn)(int64_t),
                           struct wxr_err *err)
{
	int64_t found = 0;
	int r;

	(void)fn; /* the schema defines it in SQL (schema/pg/001_core.sql) */
	r = query1(P(db), "SELECT count(*) FROM pg_proc WHERE proname = ?", name, &found);
	if (r < 0) {
		conn_err(P(db), err);
		return err_prefix(err, "look for function %s", name);
	}
	if (!found)
		return err_set(err, WXR_EDB,
		               "database '%s' has no function %s(): it is not initialised or is "
		               "older than this wxrecon: run 'wxrecon init'",
		               db->target, name);
	return 0;
}

static int pg_session_lock(struct db *db, const char *key, bool unlock, struct wxr_err *err)
{
	int64_t got = 0;
	int r;

	if (!unlock) {
		r = query1(P(db), "SELECT pg_try_advisory_lock(" PG_SESSION_CLASS ", hashtext(?))",
		           key, &got);
		if (r < 0)
			return conn_err(P(db), err);
		return got ? DB_LOCK_TAKEN : DB_LOCK_HELD;
	}
	/* advisory locks count: a session that took it twice releases it twice */
	for (int i = 0; i < 1000; i++) {
		r = query1(P(db), "SELECT pg_advisory_unlock(" PG_SESSION_CLASS ", hashtext(?))",
		           key, &got);
		if (r < 0)
			return conn_err(P(db), err);
		if (!got)
			break;
	}
	return 0;
}

/* ---- bulk loads ---------------------------------------------------------------- */

static int pg_bulk_begin(struct db *db, const char *table, const char *columns, int n,
                         struct db_stmt **out, struct wxr_err *err)
{
	struct pg_db *d = P(db);
	struct pg_stmt *s;

	if (d->bulk)
		return err_set(err, WXR_EDB, "a bulk load into another table is still open");
	s = xcalloc(1, sizeof(*s));
	s->base.ops = &pg_ops;
	s->base.db = db;
	s->nparams = n;
	s->names = xcalloc((size_t)n + 1, sizeof(*s->names));
	s->vals = xcalloc((size_t)n + 1, sizeof(*s->vals));
	s->kinds = xmalloc((size_t)n + 1);
	memset(s->kinds, 'n', (size_t)n);
	s->kinds[n] = '\0';
	s->copy_sql = xasprintf("COPY %s (%s) FROM STDIN", table, columns);
	buf_init(&s->rows);
	d->bulk = s;
	*out = &s->base;
	return 0;
}

/* One value in COPY's text format. */
static void copy_value(struct buf *b, const char *v)
{
	if (!v) {
		buf_adds(b, "\\N");
		return;
	}
	for (const char *p = v; *p; p++) {
		switch (*p) {
		case '\\':
			buf_adds(b, "\\\\");
			break;
		case '\t':
			buf_adds(b, "\\t");
			break;
		case '\n':
			buf_adds(b, "\\n");
			break;
		case '\r':
			buf_adds(b, "\\r");
			break;
		default:
			buf_addc(b, *p);
		}
	}
}

static int bulk_fail(struct pg_db *d, struct pg_stmt *b, int code)
{
	b->bulk_code = code;
	free(b->bulk_msg);
	/* the table, not the COPY's column list: the server's message names the column */
	b->bulk_msg = xasprintf("COPY %.*s: %s", (int)strcspn(b->copy_sql + 5, " "),
	                        b->copy_sql + 5, d->msg);
	buf_reset(&b->rows);
	return code;
}

static int bulk_flush(struct pg_db *d, struct pg_stmt *b)
{
	PGresult *res;
	int r = 0;

	if (b->bulk_code)
		return b->bulk_code;
	if (!b->rows.len)
		return 0;
	finish_stream(d, true);
	res = PQexec(d->c, b->copy_sql);
	if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
		r = set_result_error(d, res);
		PQclear(res);
		return bulk_fail(d, b, r);
	}
	PQclear(res);
	if (PQputCopyData(d->c, b->rows.data, (int)b->rows.len) != 1 ||
	    PQputCopyEnd(d->c, NULL) != 1) {
		set_conn_error(d);
		return bulk_fail(d, b, d->code);
	}
	while ((res = PQgetResult(d->c)) != NULL) {
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			note_changes(d, res);
		else if (!r)
			r = set_result_error(d, res);
		PQclear(res);
	}
	buf_reset(&b->rows);
	return r < 0 ? bulk_fail(d, b, r) : 0;
}

static int bulk_err(struct pg_stmt *b, struct wxr_err *err)
{
	return err_set(err, b->bulk_code, "bulk load: %s", b->bulk_msg);
}

static int pg_bulk_row(struct db_stmt *st, struct wxr_err *err)
{
	struct pg_stmt *b = PS(st);

	if (b->bulk_code)
		return bulk_err(b, err);
	for (int i = 1; i <= b->nparams; i++) {
		if (i > 1)
			buf_addc(&b->rows, '\t');
		copy_value(&b->rows, b->vals[i]);
	}
	buf_addc(&b->rows, '\n');
	if (b->rows.len >= PG_BULK_FLUSH && bulk_flush(P(st->db), b) < 0)
		return bulk_err(b, err);
	return 0;
}

static int pg_bulk_end(struct db_stmt *st, struct wxr_err *err)
{
	struct pg_stmt *b = PS(st);
	struct pg_db *d = P(st->db);
	int r = bulk_flush(d, b);

	if (d->bulk == b)
		d->bulk = NULL;
	return r < 0 ? bulk_err(b, err) : 0;
}

static int pg_schema_sql(struct db *db, const char *type, const char *name, char **out_sql,
                         struct wxr_err *err)
{
	const char *sql;
	struct db_stmt *st = NULL;
	int r;

	*out_sql = NULL;
	if (!strcmp(type, "trigger"))
		sql = "SELECT pg_get_triggerdef(oid) || CASE WHEN tgenabled = 'D' THEN ' DISABLED'"
		      " ELSE '' END FROM pg_trigger WHERE tgname = ? AND NOT tgisinternal";
	else if (!strcmp(type, "function"))
		sql = "SELECT prosrc FROM pg_proc WHERE proname = ?";
	else if (!strcmp(type, "public_grants"))
		sql = "SELECT string_agg(privilege_type, ',' ORDER BY privilege_type)"
		      " FROM information_schema.role_table_grants WHERE grantee = 'PUBLIC'"
		      " AND table_name = ? AND privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')";
	else
		return 0;
	pg_prepare(db, sql, &st, NULL);
	pg_bind_text(st, 1, name, -1, true);
	r = pg_step(st);
	if (r == DB_ROW) {
		if (!pg_col_is_null(st, 0))
			*out_sql = xstrdup(pg_col_text(st, 0));
		r = 0;
	} else if (r == DB_DONE) {
		r = 0;
	} else {
		conn_err(P(db), err);
		r = err_prefix(err, "read the schema");
	}
	pg_finalize(st);
	return r;
}

static int pg_refresh_stats(struct db *db, const char *table, struct wxr_err *err)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "ANALYZE %s", table);
	if (run_exec(P(db), sql) < 0) {
		conn_err(P(db), err);
		return err_prefix(err, "analyze %s", table);
	}
	return 0;
}

static const struct db_ops pg_ops = {
	.name = "PostgreSQL",
	.close = pg_close,
	.exec = pg_exec,
	.error = pg_error,
	.in_tx = pg_in_tx,
	/* the write lock: one wxrecon write transaction at a time (see the head) */
	.begin_sql = "BEGIN; SELECT pg_advisory_xact_lock(" PG_WRITER_KEY ")",
	.begin_read_sql = "BEGIN ISOLATION LEVEL REPEATABLE READ",
	.bulk_cache = pg_bulk_cache,
	.busy_timeout = pg_busy_timeout,
	.changes = pg_changes,
	.function_i64 = pg_function_i64,
	.prepare = pg_prepare,
	.finalize = pg_finalize,
	.reset = pg_reset,
	.clear_bindings = pg_clear_bindings,
	.step = pg_step,
	.param_index = pg_param_index,
	.bind_i64 = pg_bind_i64,
	.bind_null = pg_bind_null,
	.bind_text = pg_bind_text,
	.col_count = pg_col_count,
	.col_is_null = pg_col_is_null,
	.col_i64 = pg_col_i64,
	.col_text = pg_col_text,
	.col_bytes = pg_col_bytes,
	.migrations = schema_pg_migrations,
	.bulk_begin = pg_bulk_begin,
	.bulk_row = pg_bulk_row,
	.bulk_end = pg_bulk_end,
	.session_lock = pg_session_lock,
	.refresh_stats = pg_refresh_stats,
	.schema_sql = pg_schema_sql,
};
