#include "db/audit.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"

#define GENESIS_HASH "0000000000000000000000000000000000000000000000000000000000000000"

static void add_field(struct buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	buf_addf(b, "%zu:", n);
	if (n)
		buf_add(b, s, n);
	buf_addc(b, '\n');
}

/* out: 65 bytes of lower-case hex + NUL. */
static int entry_hash(const char *prev, int64_t id, const char *at, int64_t run_id,
                      const char *actor, const char *event, const char *subject, const char *detail,
                      char out[65], struct wxr_err *err)
{
	struct buf b = BUF_INIT;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char num[32];
	int r = 0;

	add_field(&b, prev);
	snprintf(num, sizeof(num), "%" PRId64, id);
	add_field(&b, num);
	add_field(&b, at);
	if (run_id > 0)
		snprintf(num, sizeof(num), "%" PRId64, run_id);
	else
		num[0] = '\0';
	add_field(&b, num);
	add_field(&b, actor);
	add_field(&b, event);
	add_field(&b, subject);
	add_field(&b, detail);
	if (!EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
		r = err_set(err, WXR_EFAIL, "sha-256 failed");
		goto out;
	}
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
out:
	buf_release(&b);
	return r;
}

int audit_append(struct db *db, int64_t run_id, const char *actor, const char *event,
                 const char *subject, const char *detail, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char prev[65] = GENESIS_HASH;
	char hash[65];
	char at[CLOCK_RFC3339_LEN];
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
	r = db_prepare(db, "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1", &st, err);
	if (r < 0)
		goto out;
	r = db_step(st);
	if (r == DB_ROW) {
		id = db_col_i64(st, 0) + 1;
		snprintf(prev, sizeof(prev), "%s", db_col_text(st, 1));
	} else if (r != DB_DONE) {
		r = db_error(db, err, "read audit_log");
		goto out;
	}
	db_finalize(st);
	st = NULL;

	time_format_rfc3339(clock_real_now(), 0, at);
	r = entry_hash(prev, id, at, run_id, actor, event, subject, detail, hash, err);
	if (r < 0)
		goto out;
	r = db_prepare(db,
	               "INSERT INTO audit_log (id, at, run_id, actor, event, subject, detail,"
	               " prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
	if (db_step(st) != DB_DONE) {
		r = db_error(db, err, "append to audit_log");
		goto out;
	}
	r = 0;
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

int audit_verify(struct db *db, struct audit_verify_result *out, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	char prev[65] = GENESIS_HASH;
	char hash[65];
	int64_t expect_id = 1;
	int r;
	int step;

	memset(out, 0, sizeof(*out));
	r = db_prepare(db,
	               "SELECT id, at, run_id, actor, event, subject, detail, prev_hash, hash"
	               " FROM audit_log ORDER BY id",
	               &st, err);
	if (r < 0)
		return r;
	while ((step = db_step(st)) == DB_ROW) {
		int64_t id = db_col_i64(st, 0);
		int64_t run_id = db_col_is_null(st, 2) ? 0 : db_col_i64(st, 2);
		const char *subject = db_col_is_null(st, 5) ? NULL : db_col_text(st, 5);

		out->entries++;
		if (id != expect_id) {
			out->first_bad = id;
			snprintf(out->why, sizeof(out->why),
			         "entry %" PRId64 " is missing (found %" PRId64 " next)", expect_id,
			         id);
			if (id > expect_id)
				out->first_bad = expect_id;
			break;
		}
		if (strcmp(db_col_text(st, 7), prev) != 0) {
			out->first_bad = id;
			snprintf(out->why, sizeof(out->why),
			         "its prev_hash does not match entry %" PRId64, id - 1);
			break;
		}
		r = entry_hash(prev, id, db_col_text(st, 1), run_id, db_col_text(st, 3),
		               db_col_text(st, 4), subject, db_col_text(st, 6), hash, err);
		if (r < 0)
			goto out;
		if (strcmp(hash, db_col_text(st, 8)) != 0) {
			out->first_bad = id;
			snprintf(out->why, sizeof(out->why), "its content does not match its hash");
			break;
		}
		memcpy(prev, hash, sizeof(prev));
		expect_id++;
	}
	if (step != DB_ROW && step != DB_DONE) {
		r = db_error(db, err, "read audit_log");
		goto out;
	}
	r = 0;
out:
	db_finalize(st);
	return r;
}
