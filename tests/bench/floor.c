/*
 * floor.c - the bill import floor for `make bench` (issue 14): what storing a
 * trade bill costs with nothing of wxrecon's own around it. zlib (base/gz),
 * the project's parser (core/billparse) and one prepared INSERT of the same
 * columns into the same bill_trades table, in one transaction, with the same
 * page cache wxrecon uses for a bulk load. No SHA-1, no archive, no audit, no
 * summary checks, no bill_files row (foreign keys off).
 *
 *   floor DB FILE.gz indexed       the table keeps its indexes during the load
 *   floor DB FILE.gz index-after   its secondary indexes are dropped first and
 *                                  built again after the rows are in
 *
 * DB must be a database `wxrecon init` made. Prints "rows N" on success.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "base/err.h"
#include "base/gz.h"
#include "core/billparse.h"
#include "db/db.h"

static const char SQL_TRADE[] =
        "INSERT INTO bill_trades (file_id, line, mchid, bill_date, trade_time, appid, sub_mchid,"
        " device_info, transaction_id, out_trade_no, openid, trade_type, row_kind, bank_type,"
        " currency, settlement_amount, coupon_amount, refund_id, out_refund_no, refund_amount,"
        " recharge_refund_amount, refund_type, refund_status, description, attach, fee, rate,"
        " order_amount, refund_apply_amount, rate_note, refund_apply_time, refund_success_time)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " ?, ?, ?, ?, ?)";

struct floor {
	sqlite3 *h;
	sqlite3_stmt *ins;
	int64_t rows;
};

static void die(sqlite3 *h, const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, h ? sqlite3_errmsg(h) : "failed");
	exit(1);
}

static void bt(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static int on_trade(void *ctx, int64_t line, const struct bill_trade *t, char *reason,
                    size_t reason_size, struct wxr_err *err)
{
	struct floor *f = ctx;
	sqlite3_stmt *st = f->ins;

	(void)reason;
	(void)reason_size;
	(void)err;
	sqlite3_bind_int64(st, 1, 1);
	sqlite3_bind_int64(st, 2, line);
	bt(st, 3, t->mchid);
	bt(st, 4, "2000-01-01");
	bt(st, 5, t->trade_time);
	bt(st, 6, t->appid);
	bt(st, 7, t->sub_mchid);
	bt(st, 8, t->device_info);
	bt(st, 9, t->transaction_id);
	bt(st, 10, t->out_trade_no);
	bt(st, 11, t->openid);
	bt(st, 12, t->trade_type);
	bt(st, 13, billparse_row_kind_name(t->row_kind));
	bt(st, 14, t->bank_type);
	bt(st, 15, t->currency);
	sqlite3_bind_int64(st, 16, t->settlement_amount);
	sqlite3_bind_int64(st, 17, t->coupon_amount);
	bt(st, 18, t->refund_id);
	bt(st, 19, t->out_refund_no);
	sqlite3_bind_int64(st, 20, t->refund_amount);
	sqlite3_bind_int64(st, 21, t->recharge_refund_amount);
	bt(st, 22, t->refund_type);
	bt(st, 23, t->refund_status);
	bt(st, 24, t->description);
	bt(st, 25, t->attach);
	sqlite3_bind_int64(st, 26, t->fee);
	bt(st, 27, t->rate);
	sqlite3_bind_int64(st, 28, t->order_amount);
	sqlite3_bind_int64(st, 29, t->refund_apply_amount);
	bt(st, 30, t->rate_note);
	bt(st, 31, t->refund_apply_time);
	bt(st, 32, t->refund_success_time);
	if (sqlite3_step(st) != SQLITE_DONE)
		die(f->h, "insert");
	sqlite3_reset(st);
	f->rows++;
	return 0;
}

static int to_parser(void *ctx, const void *p, size_t n, struct wxr_err *err)
{
	return billparse_feed(ctx, p, n, err);
}

static void exec(sqlite3 *h, const char *sql)
{
	if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
		die(h, sql);
}

int main(int argc, char **argv)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct billparse_cb cb = { 0 };
	struct billparse_result res;
	struct billparse *bp = NULL;
	struct gz *gz = NULL;
	struct floor f = { 0 };
	char **indexes = NULL;
	size_t nindexes = 0;
	unsigned char buf[1 << 16];
	size_t n;
	FILE *in;
	int after;

	if (argc != 4 || (strcmp(argv[3], "indexed") != 0 && strcmp(argv[3], "index-after") != 0)) {
		fputs("usage: floor DB FILE.gz indexed|index-after\n", stderr);
		return 2;
	}
	after = strcmp(argv[3], "index-after") == 0;
	if (sqlite3_open(argv[1], &f.h) != SQLITE_OK)
		die(f.h, "open");
	exec(f.h, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=OFF;");
	{
		char pragma[64];

		snprintf(pragma, sizeof(pragma), "PRAGMA cache_size=-%d", DB_BULK_CACHE_KIB);
		exec(f.h, pragma);
	}
	if (after) {
		sqlite3_stmt *st;
		char **names = NULL;

		if (sqlite3_prepare_v2(
		            f.h,
		            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
		            "tbl_name = 'bill_trades' AND sql IS NOT NULL",
		            -1, &st, NULL) != SQLITE_OK)
			die(f.h, "list indexes");
		while (sqlite3_step(st) == SQLITE_ROW) {
			indexes = realloc(indexes, (nindexes + 1) * sizeof(*indexes));
			names = realloc(names, (nindexes + 1) * sizeof(*names));
			if (!indexes || !names)
				die(NULL, "out of memory");
			indexes[nindexes] = strdup((const char *)sqlite3_column_text(st, 1));
			names[nindexes++] = strdup((const char *)sqlite3_column_text(st, 0));
		}
		sqlite3_finalize(st);
		for (size_t i = 0; i < nindexes; i++) {
			char drop[256];

			snprintf(drop, sizeof(drop), "DROP INDEX \"%s\"", names[i]);
			exec(f.h, drop);
			free(names[i]);
		}
		free(names);
	}
	if (sqlite3_prepare_v2(f.h, SQL_TRADE, -1, &f.ins, NULL) != SQLITE_OK)
		die(f.h, "prepare");
	cb.ctx = &f;
	cb.trade = on_trade;
	in = fopen(argv[2], "rb");
	if (!in) {
		perror(argv[2]);
		return 1;
	}
	if (billparse_new(&cb, 0, &bp, &err) < 0 || gz_new(0, &gz, &err) < 0)
		goto fail;
	exec(f.h, "BEGIN");
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (gz_feed(gz, buf, n, to_parser, bp, &err) < 0)
			goto fail;
	if (gz_finish(gz, &err) < 0 || billparse_finish(bp, &res, &err) < 0)
		goto fail;
	for (size_t i = 0; i < nindexes; i++) {
		exec(f.h, indexes[i]);
		free(indexes[i]);
	}
	free(indexes);
	exec(f.h, "COMMIT");
	sqlite3_finalize(f.ins);
	sqlite3_close(f.h);
	fclose(in);
	gz_free(gz);
	billparse_free(bp);
	printf("rows %lld\n", (long long)f.rows);
	return 0;
fail:
	fprintf(stderr, "floor: %s\n", err.msg);
	return 1;
}
