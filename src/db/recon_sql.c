/*
 * recon_sql.c - binding and running the reconciliation statements
 * (recon_sql.h).
 */
#include "db/recon_sql.h"

#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"

/* ---- binding and running ------------------------------------------------ */

void recon_bind_text(struct db_stmt *st, const char *name, const char *v)
{
	int i = db_param_index(st, name);

	if (i > 0)
		db_bind_text(st, i, v);
}

void recon_bind_int(struct db_stmt *st, const char *name, int64_t v)
{
	int i = db_param_index(st, name);

	if (i > 0)
		db_bind_i64(st, i, v);
}

void recon_bind_null(struct db_stmt *st, const char *name)
{
	int i = db_param_index(st, name);

	if (i > 0)
		db_bind_null(st, i);
}

void recon_bind_amount(struct db_stmt *st, const char *name, int64_t v)
{
	if (v == RECON_NULL_AMOUNT)
		recon_bind_null(st, name);
	else
		recon_bind_int(st, name, v);
}

static void bind_day(struct db_stmt *st, const struct db_recon_day *d)
{
	recon_bind_text(st, ":m", d->mchid);
	recon_bind_text(st, ":d", d->date);
	recon_bind_text(st, ":dprev", d->prev);
	recon_bind_text(st, ":dnext", d->next);
	recon_bind_text(st, ":now", d->now);
	if (d->trade_file > 0)
		recon_bind_int(st, ":tf", d->trade_file);
	else
		recon_bind_null(st, ":tf");
	if (d->fund_file > 0)
		recon_bind_int(st, ":ff", d->fund_file);
	else
		recon_bind_null(st, ":ff");
	recon_bind_int(st, ":next_stored", d->next_trade_stored ? 1 : 0);
	if (d->have_carry)
		recon_bind_int(st, ":carry", d->carry);
	else
		recon_bind_null(st, ":carry");
	if (d->run_id > 0)
		recon_bind_int(st, ":run", d->run_id);
	else
		recon_bind_null(st, ":run");
}

int recon_prepare_day(struct db *db, const struct db_recon_day *day, const char *sql,
                      struct db_stmt **out_st, struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r = db_prepare(db, sql, &st, err);

	if (r < 0)
		return r;
	if (day)
		bind_day(st, day);
	*out_st = st;
	return 0;
}

/* Steps st to the end and finalizes it. */
int recon_finish(struct db *db, struct db_stmt *st, const char *what, struct wxr_err *err)
{
	int r;

	do
		r = db_step(st);
	while (r == DB_ROW);
	if (r != DB_DONE) {
		r = db_error(db, err, what);
		db_finalize(st);
		return r;
	}
	db_finalize(st);
	return 0;
}

int recon_run_day(struct db *db, const struct db_recon_day *day, const char *what, const char *sql,
                  struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r = recon_prepare_day(db, day, sql, &st, err);

	if (r < 0)
		return err_prefix(err, "%s", what);
	return recon_finish(db, st, what, err);
}

char *recon_col_dup(struct db_stmt *st, int i)
{
	return xstrdup(db_col_text(st, i));
}

int64_t recon_col_amount(struct db_stmt *st, int i)
{
	if (db_col_is_null(st, i))
		return RECON_NULL_AMOUNT;
	return db_col_i64(st, i);
}

void recon_copy_status(char out[8], const char *s)
{
	size_t n = strlen(s);

	if (n > 7)
		n = 7;
	memcpy(out, s, n);
	out[n] = '\0';
}
