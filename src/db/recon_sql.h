/*
 * recon_sql.h - binding and running the statements of the reconciliation
 * engine, shared by its finders (recon_find.c) and its state machine
 * (recon_state.c). Inside src/db only.
 */
#ifndef WXR_RECON_SQL_H
#define WXR_RECON_SQL_H

#include <stdint.h>

#include "db/db.h"
#include "db/db_reconcile.h"
#include "wxrecon.h"

/* Bind v to the named parameter (":m") when the statement has it. An amount
 * of RECON_NULL_AMOUNT binds NULL. */
void recon_bind_text(struct db_stmt *st, const char *name, const char *v);
void recon_bind_int(struct db_stmt *st, const char *name, int64_t v);
void recon_bind_null(struct db_stmt *st, const char *name);
void recon_bind_amount(struct db_stmt *st, const char *name, int64_t v);

/* Prepares sql with the day's parameters bound (:m :d :dprev :dnext :now :tf
 * :ff :next_stored :carry :run, those it has; day may be NULL). */
int recon_prepare_day(struct db *db, const struct db_recon_day *day, const char *sql,
                      struct db_stmt **out_st, struct wxr_err *err);
/* Steps st to the end and finalizes it; what names it in an error. */
int recon_finish(struct db *db, struct db_stmt *st, const char *what, struct wxr_err *err);
/* Prepares, binds and runs sql for day to the end. */
int recon_run_day(struct db *db, const struct db_recon_day *day, const char *what, const char *sql,
                  struct wxr_err *err);

/* Column i: a copy of its text (caller frees; "" for NULL), an amount
 * (RECON_NULL_AMOUNT for NULL). */
char *recon_col_dup(struct db_stmt *st, int i);
int64_t recon_col_amount(struct db_stmt *st, int i);
/* Copies a status word into out (at most 7 bytes). */
void recon_copy_status(char out[8], const char *s);

#endif
