#include "db/db_certs.h"

#include "base/err.h"

/* 0 not stored, 1 stored with the same PEM and times, 2 stored but different. */
static int stored_as(struct db *db, const struct db_cert *c, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r = db_prepare(db,
	                   "SELECT pem = ? AND effective_time = ? AND expire_time = ?"
	                   " FROM platform_certs WHERE serial_no = ?",
	                   &st, err);

	if (r < 0)
		return r;
	db_bind_text(st, 1, c->pem);
	db_bind_text(st, 2, c->effective_time);
	db_bind_text(st, 3, c->expire_time);
	db_bind_text(st, 4, c->serial_no);
	r = db_step(st);
	if (r == DB_ROW)
		r = (int)db_col_i64(st, 0) ? 1 : 2;
	else if (r == DB_DONE)
		r = 0;
	else
		r = db_error(db, err, "read platform_certs");
	db_finalize(st);
	return r;
}

int db_cert_store(struct db *db, const struct db_cert *c, enum db_cert_outcome *out,
                  struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r = stored_as(db, c, err);

	if (r < 0)
		return r;
	*out = r == 0 ? DB_CERT_STORED : r == 1 ? DB_CERT_UNCHANGED : DB_CERT_REPLACED;
	r = db_prepare(db,
	               "INSERT INTO platform_certs (serial_no, effective_time, expire_time, pem,"
	               " fetched_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (serial_no) DO UPDATE SET"
	               " effective_time = excluded.effective_time,"
	               " expire_time = excluded.expire_time, pem = excluded.pem,"
	               " fetched_at = excluded.fetched_at",
	               &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, c->serial_no);
	db_bind_text(st, 2, c->effective_time);
	db_bind_text(st, 3, c->expire_time);
	db_bind_text(st, 4, c->pem);
	db_bind_text(st, 5, c->fetched_at);
	r = db_step(st) == DB_DONE ? 0 : db_error(db, err, "store platform certificate");
	db_finalize(st);
	return r;
}

int db_certs_each(struct db *db, int (*fn)(void *arg, const struct db_cert *c, struct wxr_err *err),
                  void *arg, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r = db_prepare(db,
	                   "SELECT serial_no, effective_time, expire_time, pem, fetched_at"
	                   " FROM platform_certs ORDER BY effective_time, serial_no",
	                   &st, err);

	if (r < 0)
		return r;
	while ((r = db_step(st)) == DB_ROW) {
		struct db_cert c = { db_col_text(st, 0), db_col_text(st, 1), db_col_text(st, 2),
			             db_col_text(st, 3), db_col_text(st, 4) };

		r = fn(arg, &c, err);
		if (r < 0)
			goto out;
	}
	r = r == DB_DONE ? 0 : db_error(db, err, "read platform_certs");
out:
	db_finalize(st);
	return r;
}
