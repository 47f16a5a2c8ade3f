#include "db/audit.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/compat.h"
#include "base/err.h"
#include "base/hex.h"
#include "db/db_backend.h"

#define GENESIS_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define ALG_SHA256   "sha256"
#define ALG_HMAC     "hmac-sha256"
#define CHAIN        "" /* the one chain; a merchant's mchid when issue 17 splits it */

/* What keeps the log append-only, per backend: each object as the backend
 * shows it (db_schema_sql), and how init puts it back. SQLite: the two
 * triggers of schema/001_core.sql, as written. PostgreSQL
 * (schema/pg/001_core.sql): the function the triggers call, the three
 * triggers as pg_get_triggerdef() shows them (a disabled one is not the
 * same), and no UPDATE, DELETE or TRUNCATE for PUBLIC. */
struct guard {
	const char *type;   /* of db_schema_sql() */
	const char *name;   /* the object, as messages name it */
	const char *expect; /* its definition ("": none expected) */
	const char *drop;   /* run before create, or NULL */
	const char *create;
};

#define SQ_RAISE "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
static const struct guard sq_guards[] = {
	{ "trigger", "audit_log_no_update",
	  "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log\n" SQ_RAISE,
	  "DROP TRIGGER IF EXISTS audit_log_no_update",
	  "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log\n" SQ_RAISE },
	{ "trigger", "audit_log_no_delete",
	  "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log\n" SQ_RAISE,
	  "DROP TRIGGER IF EXISTS audit_log_no_delete",
	  "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log\n" SQ_RAISE },
	{ NULL, NULL, NULL, NULL, NULL },
};

#define PG_BODY                                                                  \
	"\nBEGIN\n\tRAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = " \
	"'insufficient_privilege';\nEND\n"
#define PG_TRIGGER(name, when, each)                                                          \
	{                                                                                     \
		"trigger", name,                                                              \
		        "CREATE TRIGGER " name " BEFORE " when                                \
		        " ON public.audit_log FOR EACH " each                                 \
		        " EXECUTE FUNCTION audit_log_append_only()",                          \
		        "DROP TRIGGER IF EXISTS " name " ON audit_log",                       \
		        "CREATE TRIGGER " name " BEFORE " when " ON audit_log FOR EACH " each \
		        " EXECUTE FUNCTION audit_log_append_only()"                           \
	}
static const struct guard pg_guards[] = {
	{ "function", "audit_log_append_only", PG_BODY, NULL,
	  "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql"
	  " AS $$" PG_BODY "$$" },
	PG_TRIGGER("audit_log_no_update", "UPDATE", "ROW"),
	PG_TRIGGER("audit_log_no_delete", "DELETE", "ROW"),
	PG_TRIGGER("audit_log_no_truncate", "TRUNCATE", "STATEMENT"),
	{ "public_grants", "audit_log", "", NULL,
	  "REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC" },
	{ NULL, NULL, NULL, NULL, NULL },
};

static const struct guard *guards_of(const struct db *db)
{
	return strcmp(db_engine(db), "PostgreSQL") == 0 ? pg_guards : sq_guards;
}

void audit_use_key(struct db *db, const unsigned char *key, int64_t keyed_from, const char *where)
{
	explicit_bzero(&db->audit, sizeof(db->audit));
	if (key) {
		memcpy(db->audit.key, key, AUDIT_KEY_LEN);
		db->audit.keyed_from = keyed_from > 0 ? keyed_from : 1;
		db->audit.set = true;
	}
	snprintf(db->audit.where, sizeof(db->audit.where), "%s", where ? where : "");
}

int64_t audit_keyed_from(const struct db *db)
{
	return db->audit.set ? db->audit.keyed_from : 0;
}

static void add_field(struct buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	buf_addf(b, "%zu:", n);
	if (n)
		buf_add(b, s, n);
	buf_addc(b, '\n');
}

static void add_int(struct buf *b, int64_t v)
{
	char num[32];

	snprintf(num, sizeof(num), "%" PRId64, v);
	add_field(b, num);
}

/* HMAC-SHA256 of the bytes of b under the chain's key; out is hex. */
static int chain_mac(const struct db *db, const struct buf *b, char out[AUDIT_HASH_LEN],
                     struct wxr_err *err)
{
	static const char label[] = "wxrecon audit chain\n" CHAIN;
	unsigned char ck[EVP_MAX_MD_SIZE], md[EVP_MAX_MD_SIZE];
	unsigned int cklen = 0, mdlen = 0;
	int r = 0;

	if (!HMAC(EVP_sha256(), db->audit.key, AUDIT_KEY_LEN, (const unsigned char *)label,
	          sizeof(label) - 1, ck, &cklen) ||
	    !HMAC(EVP_sha256(), ck, (int)cklen, (const unsigned char *)b->data, b->len, md,
	          &mdlen) ||
	    mdlen != 32)
		r = err_set(err, WXR_EFAIL, "hmac-sha256 failed");
	else
		hex_encode(md, mdlen, out);
	explicit_bzero(ck, sizeof(ck));
	return r;
}

/* out: 65 bytes of lower-case hex + NUL; keyed: the HMAC of the key's era. */
static int entry_hash(const struct db *db, bool keyed, const char *prev, int64_t id, const char *at,
                      int64_t run_id, const char *actor, const char *event, const char *subject,
                      const char *detail, char out[AUDIT_HASH_LEN], struct wxr_err *err)
{
	struct buf b = BUF_INIT;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int r = 0;

	if (keyed) {
		add_field(&b, "wxrecon-audit-v2");
		add_field(&b, CHAIN);
	}
	add_field(&b, prev);
	add_int(&b, id);
	add_field(&b, at);
	if (run_id > 0)
		add_int(&b, run_id);
	else
		add_field(&b, "");
	add_field(&b, actor);
	add_field(&b, event);
	add_field(&b, subject);
	add_field(&b, detail);
	if (keyed) {
		r = chain_mac(db, &b, out, err);
	} else if (!EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
		r = err_set(err, WXR_EFAIL, "sha-256 failed");
	} else {
		hex_encode(md, mdlen, out);
	}
	buf_release(&b);
	return r;
}

/* The MAC of a checkpoint: kind "head" (audit_heads) or "run" (job_runs, of run_id). */
static int checkpoint_mac(const struct db *db, const char *kind, int64_t run_id, int64_t entries,
                          const char *head, char out[AUDIT_HASH_LEN], struct wxr_err *err)
{
	struct buf b = BUF_INIT;
	int r;

	add_field(&b, kind);
	add_field(&b, CHAIN);
	if (run_id > 0)
		add_int(&b, run_id);
	add_int(&b, entries);
	add_field(&b, head);
	r = chain_mac(db, &b, out, err);
	buf_release(&b);
	return r;
}

static const char *no_key_hint(const struct db *db)
{
	return db->audit.where[0] ? db->audit.where : "[audit] key_file";
}

static int write_head(struct db *db, int64_t entries, const char *hash, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char mac[AUDIT_HASH_LEN];
	int r = checkpoint_mac(db, "head", 0, entries, hash, mac, err);

	if (r < 0)
		return r;
	r = db_prepare(db,
	               "INSERT INTO audit_heads (chain, entries, head, mac) VALUES (?, ?, ?, ?)"
	               " ON CONFLICT (chain) DO UPDATE SET entries = excluded.entries,"
	               " head = excluded.head, mac = excluded.mac",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, CHAIN);
	db_bind_i64(st, 2, entries);
	db_bind_text(st, 3, hash);
	db_bind_text(st, 4, mac);
	r = db_step(st) == DB_DONE ? 0 : db_error(db, err, "write audit_heads");
	db_finalize(st);
	return r;
}

int audit_append(struct db *db, int64_t run_id, const char *actor, const char *event,
                 const char *subject, const char *detail, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char prev[AUDIT_HASH_LEN] = GENESIS_HASH;
	char hash[AUDIT_HASH_LEN];
	char at[CLOCK_RFC3339_LEN];
	bool prev_keyed = false, keyed;
	int64_t id = 1;
	int own_tx = db_tx_depth(db) == 0;
	int r;

	if (!detail)
		detail = "{}";
	if (own_tx) {
		r = db_begin(db, err);
		if (r < 0)
			return r;
	}
	r = db_prepare(db, "SELECT id, hash, alg FROM audit_log ORDER BY id DESC LIMIT 1", &st,
	               err);
	if (r < 0)
		goto out;
	r = db_step(st);
	if (r == DB_ROW) {
		id = db_col_i64(st, 0) + 1;
		snprintf(prev, sizeof(prev), "%s", db_col_text(st, 1));
		prev_keyed = strcmp(db_col_text(st, 2), ALG_SHA256) != 0;
	} else if (r != DB_DONE) {
		r = db_error(db, err, "read audit_log");
		goto out;
	}
	db_finalize(st);
	st = NULL;

	if (!db->audit.set && prev_keyed) {
		r = err_set(err, WXR_ECONFIG,
		            "the audit log is keyed but its key is not there ('%s' is missing): "
		            "restore the key file from its backup",
		            no_key_hint(db));
		goto out;
	}
	if (db->audit.set && id < db->audit.keyed_from) {
		r = err_set(err, WXR_ECONFIG,
		            "audit key '%s' covers entries from %" PRId64 " on but this audit log"
		            " has %" PRId64 ": the key belongs to another database (set [audit]"
		            " key_file)",
		            no_key_hint(db), db->audit.keyed_from, id - 1);
		goto out;
	}
	keyed = db->audit.set;
	time_format_rfc3339(clock_real_now(), 0, at);
	r = entry_hash(db, keyed, prev, id, at, run_id, actor, event, subject, detail, hash, err);
	if (r < 0)
		goto out;
	r = db_prepare(db,
	               "INSERT INTO audit_log (id, at, run_id, actor, event, subject, detail,"
	               " prev_hash, hash, alg) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	               &st, err);
	if (r < 0)
		goto out;
	db_bind_i64(st, 1, id);
	db_bind_text(st, 2, at);
	if (run_id > 0)
		db_bind_i64(st, 3, run_id);
	else
		db_bind_null(st, 3);
	db_bind_text(st, 4, actor);
	db_bind_text(st, 5, event);
	db_bind_text(st, 6, subject);
	db_bind_text(st, 7, detail);
	db_bind_text(st, 8, prev);
	db_bind_text(st, 9, hash);
	db_bind_text(st, 10, keyed ? ALG_HMAC : ALG_SHA256);
	if (db_step(st) != DB_DONE) {
		r = db_error(db, err, "append to audit_log");
		goto out;
	}
	r = keyed ? write_head(db, id, hash, err) : 0;
out:
	db_finalize(st);
	if (own_tx) {
		if (r < 0)
			db_rollback(db);
		else
			r = db_commit(db, err);
	}
	return r;
}

int audit_get_head(struct db *db, struct audit_head *out, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db, "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1", &st, err);
	if (r < 0)
		return r;
	r = db_step(st);
	if (r == DB_ROW) {
		out->entries = db_col_i64(st, 0);
		snprintf(out->hash, sizeof(out->hash), "%s", db_col_text(st, 1));
		r = 0;
	} else if (r == DB_DONE) {
		out->entries = 0;
		snprintf(out->hash, sizeof(out->hash), "%s", GENESIS_HASH);
		r = 0;
	} else {
		r = db_error(db, err, "read audit_log");
	}
	db_finalize(st);
	return r;
}

int audit_count_keyed(struct db *db, int64_t *out, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r;

	r = db_prepare(db, "SELECT count(*) FROM audit_log WHERE alg <> 'sha256'", &st, err);
	if (r < 0)
		return r;
	if (db_step(st) == DB_ROW) {
		*out = db_col_i64(st, 0);
		r = 0;
	} else {
		r = db_error(db, err, "read audit_log");
	}
	db_finalize(st);
	return r;
}

int audit_checkpoint_run(struct db *db, int64_t run_id, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	struct audit_head h;
	char mac[AUDIT_HASH_LEN];
	int r;

	if (!db->audit.set || run_id <= 0)
		return 0;
	r = audit_get_head(db, &h, err);
	if (r < 0)
		return r;
	r = checkpoint_mac(db, "run", run_id, h.entries, h.hash, mac, err);
	if (r < 0)
		return r;
	r = db_prepare(db,
	               "UPDATE job_runs SET audit_entries = ?, audit_head = ?, audit_mac = ?"
	               " WHERE id = ?",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_i64(st, 1, h.entries);
	db_bind_text(st, 2, h.hash);
	db_bind_text(st, 3, mac);
	db_bind_i64(st, 4, run_id);
	r = db_step(st) == DB_DONE ? 0 : db_error(db, err, "checkpoint the audit log");
	db_finalize(st);
	return r;
}

/* a and b equal but for runs of white space */
static bool same_sql(const char *a, const char *b)
{
	for (;;) {
		bool sa = false, sb = false;

		while (*a == ' ' || *a == '\t' || *a == '\n' || *a == '\r')
			a++, sa = true;
		while (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r')
			b++, sb = true;
		if (!*a || !*b)
			return !*a && !*b;
		if (sa != sb || *a != *b)
			return false;
		a++, b++;
	}
}

/* Which guards are missing or altered: bit i for guards_of(db)[i]. */
static int triggers_state(struct db *db, unsigned *out_bad, struct wxr_err *err)
{
	const struct guard *g = guards_of(db);
	unsigned bad = 0;

	/* a backend that cannot show its schema is not checked here */
	if (!db_has_schema_sql(db)) {
		*out_bad = 0;
		return 0;
	}
	for (size_t i = 0; g[i].type; i++) {
		char *sql = NULL;
		int r = db_schema_sql(db, g[i].type, g[i].name, &sql, err);

		if (r < 0)
			return r;
		if (*g[i].expect ? !sql || !same_sql(sql, g[i].expect) : sql && *sql)
			bad |= 1u << i;
		free(sql);
	}
	*out_bad = bad;
	return 0;
}

static void names_of(const struct guard *g, unsigned bad, char out[256])
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; g[i].type; i++) {
		if (bad & (1u << i))
			n += (size_t)snprintf(out + n, n < 256 ? 256 - n : 0, "%s%s%s",
			                      n ? ", " : "", g[i].name,
			                      !strcmp(g[i].type, "function")        ? "()"
			                      : !strcmp(g[i].type, "public_grants") ? " (PUBLIC's "
			                                                              "privileges)"
			                                                            : "");
	}
}

int audit_restore_triggers(struct db *db, char out_restored[256], struct wxr_err *err)
{
	const struct guard *g = guards_of(db);
	unsigned bad = 0;
	int r = triggers_state(db, &bad, err);

	if (r < 0)
		return r;
	for (size_t i = 0; g[i].type; i++) {
		if (!(bad & (1u << i)))
			continue;
		r = g[i].drop ? db_exec(db, g[i].drop, err) : 0;
		if (r == 0)
			r = db_exec(db, g[i].create, err);
		if (r < 0)
			return err_prefix(err, "restore %s %s", g[i].type, g[i].name);
	}
	if (out_restored)
		names_of(g, bad, out_restored);
	return 0;
}

static void set_bad(struct audit_verify_result *out, int64_t id, const char *fmt, ...)
        WXR_PRINTF(3, 4);
static void set_bad(struct audit_verify_result *out, int64_t id, const char *fmt, ...)
{
	va_list ap;

	if (!out->ok)
		return; /* the first problem is the one named */
	out->ok = false;
	out->first_bad = id;
	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
}

/* The hash of entry id into out ("" when there is no such entry). */
static int hash_of(struct db *db, int64_t id, char out[AUDIT_HASH_LEN], struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r = db_prepare(db, "SELECT hash FROM audit_log WHERE id = ?", &st, err);

	if (r < 0)
		return r;
	db_bind_i64(st, 1, id);
	r = db_step(st);
	out[0] = '\0';
	if (r == DB_ROW)
		snprintf(out, AUDIT_HASH_LEN, "%s", db_col_text(st, 0));
	r = (r == DB_ROW || r == DB_DONE) ? 0 : db_error(db, err, "read audit_log");
	db_finalize(st);
	return r;
}

int audit_verify_checkpoint(struct db *db, const char *what, int64_t entries, const char *head,
                            struct audit_verify_result *out, struct wxr_err *err)
{
	char h[AUDIT_HASH_LEN];
	int r;

	out->checkpoints++;
	if (entries <= 0)
		return 0;
	if (entries > out->entries) {
		set_bad(out, out->entries + 1,
		        "entries %" PRId64 " to %" PRId64 " were deleted: %s recorded %" PRId64
		        " entries",
		        out->entries + 1, entries, what, entries);
		return 0;
	}
	r = hash_of(db, entries, h, err);
	if (r < 0)
		return r;
	if (strcmp(h, head) != 0)
		set_bad(out, entries, "it is not the entry %s recorded as the head", what);
	return 0;
}

/* The chain itself, entry by entry. */
static int verify_chain(struct db *db, struct audit_verify_result *out, char last[AUDIT_HASH_LEN],
                        struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char prev[AUDIT_HASH_LEN] = GENESIS_HASH;
	char hash[AUDIT_HASH_LEN];
	int64_t expect_id = 1;
	int r;
	int step;

	r = db_prepare(db,
	               "SELECT id, at, run_id, actor, event, subject, detail, prev_hash, hash, alg"
	               " FROM audit_log ORDER BY id",
	               &st, err);
	if (r < 0)
		return r;
	while ((step = db_step(st)) == DB_ROW) {
		int64_t id = db_col_i64(st, 0);
		int64_t run_id = db_col_is_null(st, 2) ? 0 : db_col_i64(st, 2);
		const char *subject = db_col_is_null(st, 5) ? NULL : db_col_text(st, 5);
		bool keyed = strcmp(db_col_text(st, 9), ALG_SHA256) != 0;
		bool want_keyed = db->audit.set && id >= db->audit.keyed_from;

		out->entries++;
		if (id != expect_id) {
			set_bad(out, id > expect_id ? expect_id : id,
			        "entry %" PRId64 " is missing (found %" PRId64 " next)", expect_id,
			        id);
			break;
		}
		if (strcmp(db_col_text(st, 7), prev) != 0) {
			set_bad(out, id, "its prev_hash does not match entry %" PRId64, id - 1);
			break;
		}
		if (keyed && strcmp(db_col_text(st, 9), ALG_HMAC) != 0) {
			set_bad(out, id, "its algorithm '%s' is unknown", db_col_text(st, 9));
			break;
		}
		if (keyed && !db->audit.set) {
			set_bad(out, id,
			        "it is keyed and the audit key is not there to check it ('%s' is"
			        " missing)",
			        no_key_hint(db));
			break;
		}
		if (want_keyed && !keyed) {
			set_bad(out, id,
			        "it is not keyed, but the audit key covers every entry from "
			        "%" PRId64 " on (re-hashed without the key?)",
			        db->audit.keyed_from);
			break;
		}
		if (keyed && !want_keyed) {
			set_bad(out, id, "it is keyed, but the audit key starts at entry %" PRId64,
			        db->audit.keyed_from);
			break;
		}
		r = entry_hash(db, keyed, prev, id, db_col_text(st, 1), run_id, db_col_text(st, 3),
		               db_col_text(st, 4), subject, db_col_text(st, 6), hash, err);
		if (r < 0)
			goto out;
		if (strcmp(hash, db_col_text(st, 8)) != 0) {
			set_bad(out, id, "its content does not match its hash");
			break;
		}
		memcpy(prev, hash, sizeof(prev));
		expect_id++;
	}
	if (step != DB_ROW && step != DB_DONE) {
		r = db_error(db, err, "read audit_log");
		goto out;
	}
	memcpy(last, prev, AUDIT_HASH_LEN);
	r = 0;
out:
	db_finalize(st);
	return r;
}

/* The head record and the runs' checkpoints (keyed logs only). */
static int verify_checkpoints(struct db *db, struct audit_verify_result *out,
                              const char last[AUDIT_HASH_LEN], struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char mac[AUDIT_HASH_LEN];
	int r, step;

	if (out->entries < db->audit.keyed_from) {
		set_bad(out, out->entries + 1,
		        "the log ends at entry %" PRId64 " but its key was made at entry %" PRId64
		        ": the entries from %" PRId64 " on were deleted",
		        out->entries, db->audit.keyed_from, out->entries + 1);
		return 0;
	}
	r = db_prepare(db, "SELECT entries, head, mac FROM audit_heads WHERE chain = ?", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, CHAIN);
	step = db_step(st);
	if (step == DB_DONE) {
		set_bad(out, 0, "its head record (audit_heads) is missing");
	} else if (step == DB_ROW) {
		int64_t n = db_col_i64(st, 0);

		r = checkpoint_mac(db, "head", 0, n, db_col_text(st, 1), mac, err);
		if (r < 0)
			goto out;
		if (strcmp(mac, db_col_text(st, 2)) != 0)
			set_bad(out, 0,
			        "its head record (audit_heads) was not written with the key");
		else if (n > out->entries)
			set_bad(out, out->entries + 1,
			        "entries %" PRId64 " to %" PRId64 " were deleted: the head record"
			        " counts %" PRId64,
			        out->entries + 1, n, n);
		else if (n < out->entries)
			set_bad(out, n + 1,
			        "it was added after the head record (entry %" PRId64 ")", n);
		else if (strcmp(db_col_text(st, 1), last) != 0)
			set_bad(out, n, "it is not the entry the head record names");
	} else {
		r = db_error(db, err, "read audit_heads");
		goto out;
	}
	db_finalize(st);
	st = NULL;

	r = db_prepare(db,
	               "SELECT id, audit_entries, audit_head, audit_mac FROM job_runs"
	               " WHERE audit_entries IS NOT NULL ORDER BY id",
	               &st, err);
	if (r < 0)
		return r;
	while ((step = db_step(st)) == DB_ROW) {
		int64_t run = db_col_i64(st, 0);
		int64_t n = db_col_i64(st, 1);
		char what[64];

		r = checkpoint_mac(db, "run", run, n, db_col_text(st, 2), mac, err);
		if (r < 0)
			goto out;
		if (strcmp(mac, db_col_text(st, 3)) != 0) {
			set_bad(out, 0,
			        "the checkpoint of run %" PRId64 " (job_runs) was not written with"
			        " the key",
			        run);
			break;
		}
		snprintf(what, sizeof(what), "run %" PRId64, run);
		r = audit_verify_checkpoint(db, what, n, db_col_text(st, 2), out, err);
		if (r < 0)
			goto out;
	}
	r = step == DB_ROW || step == DB_DONE ? 0 : db_error(db, err, "read job_runs");
out:
	db_finalize(st);
	return r;
}

/* The first row of sql (id, what) names a row the log does not account for. */
static int cross_one(struct db *db, struct audit_verify_result *out, const char *sql,
                     const char *kind, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r = db_prepare(db, sql, &st, err);
	int step;

	if (r < 0)
		return r;
	step = db_step(st);
	if (step == DB_ROW)
		set_bad(out, 0, "%s %" PRId64 " (%s) has no audit entry", kind, db_col_i64(st, 0),
		        db_col_text(st, 1));
	r = step == DB_ROW || step == DB_DONE ? 0 : db_error(db, err, "cross-check");
	db_finalize(st);
	return r;
}

/* Every action and every run has audit entries: rows the log does not
 * account for were added behind its back (or its tail is gone). */
static int verify_cross(struct db *db, struct audit_verify_result *out, struct wxr_err *err)
{
	int r = cross_one(db, out,
	                  "SELECT id, kind || ' ''' || target || '''' FROM actions WHERE target"
	                  " NOT IN (SELECT subject FROM audit_log WHERE subject IS NOT NULL)"
	                  " ORDER BY id LIMIT 1",
	                  "action", err);

	if (r < 0)
		return r;
	return cross_one(db, out,
	                 "SELECT id, '''' || job || '''' FROM job_runs WHERE id NOT IN"
	                 " (SELECT run_id FROM audit_log WHERE run_id IS NOT NULL)"
	                 " ORDER BY id LIMIT 1",
	                 "run", err);
}

int audit_verify(struct db *db, struct audit_verify_result *out, struct wxr_err *err)
{
	char last[AUDIT_HASH_LEN];
	unsigned bad = 0;
	int r;

	memset(out, 0, sizeof(*out));
	out->ok = true;
	out->keyed_from = db->audit.set ? db->audit.keyed_from : 0;
	r = verify_chain(db, out, last, err);
	if (r == 0 && out->ok && db->audit.set)
		r = verify_checkpoints(db, out, last, err);
	if (r == 0)
		r = verify_cross(db, out, err);
	if (r == 0)
		r = triggers_state(db, &bad, err);
	if (r < 0)
		return r;
	names_of(guards_of(db), bad, out->missing_triggers);
	if (bad)
		out->ok = false;
	return 0;
}

int audit_list(struct db *db, const char *from, const char *to,
               int (*fn)(void *arg, const struct audit_row *row, struct wxr_err *err), void *arg,
               struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r = db_prepare(db,
	                   "SELECT id, at, run_id, actor, event, subject, detail FROM audit_log"
	                   " WHERE at >= ? AND at < ? ORDER BY id",
	                   &st, err);

	if (r < 0)
		return r;
	db_bind_text(st, 1, from);
	db_bind_text(st, 2, to);
	while ((r = db_step(st)) == DB_ROW) {
		struct audit_row row = {
			.id = db_col_i64(st, 0),
			.at = db_col_text(st, 1),
			.has_run_id = !db_col_is_null(st, 2),
			.run_id = db_col_i64(st, 2),
			.actor = db_col_text(st, 3),
			.event = db_col_text(st, 4),
			.subject = db_col_is_null(st, 5) ? NULL : db_col_text(st, 5),
			.detail = db_col_text(st, 6),
		};

		r = fn(arg, &row, err);
		if (r < 0)
			goto out;
	}
	r = r == DB_DONE ? 0 : db_error(db, err, "read audit_log");
out:
	db_finalize(st);
	return r;
}
