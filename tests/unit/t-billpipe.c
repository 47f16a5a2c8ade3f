/* t-billpipe.c - gunzip, the bill pipeline and the bill tables. */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "base/buf.h"
#include "base/gz.h"
#include "core/billparse.h"
#include "core/billpipe.h"
#include "db/db.h"
#include "db/db_bills.h"
#include "tap.h"
#include "testutil.h"

#define FIX      "fixtures/bills/"
#define V16_SHA1 "9bb6cd819be348f17a9cbcedddc8eb62fefbd790"
#define DATE     "2019-02-19"

static char tmpdir[256];

/* ---- helpers ---- */

/* gzip of data (one member) into out. */
static void gzip_buf(const void *data, size_t n, struct buf *out)
{
	z_stream z;
	unsigned char tmp[16384];
	int r;

	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (unsigned char *)(uintptr_t)data;
	z.avail_in = (uInt)n;
	do {
		z.next_out = tmp;
		z.avail_out = sizeof(tmp);
		r = deflate(&z, Z_FINISH);
		buf_add(out, tmp, sizeof(tmp) - z.avail_out);
	} while (r != Z_STREAM_END);
	deflateEnd(&z);
}

static int collect(void *ctx, const void *p, size_t n, struct wxr_err *err)
{
	(void)err;
	return buf_add(ctx, p, n);
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static struct db *open_db(const char *name)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct db *db = NULL;
	char path[512];

	if (name)
		snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	else
		snprintf(path, sizeof(path), ":memory:");
	if (db_open(path, &db, &err) < 0 || db_migrate(db, NULL, &err) < 0) {
		printf("Bail out! db: %s\n", err.msg);
		exit(1);
	}
	return db;
}

static int64_t q_int(struct db *db, const char *sql)
{
	struct db_stmt *st = NULL;
	struct wxr_err err = WXR_ERR_INIT;
	int64_t v = -999;

	if (db_prepare(db, sql, &st, &err) < 0) {
		diag("sql error: %s: %s", sql, err.msg);
		return -999;
	}
	if (db_step(st) == DB_ROW)
		v = db_col_i64(st, 0);
	db_finalize(st);
	return v;
}

static char qbuf[4096];

static const char *q_text(struct db *db, const char *sql)
{
	struct db_stmt *st = NULL;
	struct wxr_err err = WXR_ERR_INIT;

	snprintf(qbuf, sizeof(qbuf), "(error)");
	if (db_prepare(db, sql, &st, &err) < 0) {
		diag("sql error: %s: %s", sql, err.msg);
		return qbuf;
	}
	if (db_step(st) == DB_ROW)
		snprintf(qbuf, sizeof(qbuf), "%s",
		         db_col_is_null(st, 0) ? "(null)" : db_col_text(st, 0));
	else
		snprintf(qbuf, sizeof(qbuf), "(no row)");
	db_finalize(st);
	return qbuf;
}

static struct billpipe_opts opts(const char *date, enum bill_kind kind, const char *archive)
{
	struct billpipe_opts o;

	memset(&o, 0, sizeof(o));
	o.mchid = ""; /* a database kept without a config; bills of any merchant */
	o.bill_date = date;
	o.kind = kind;
	o.source = "import";
	o.archive_dir = archive;
	return o;
}

/* Feeds data to a new pipe in chunks of `chunk` bytes (0 = one go). */
static int pipe_data(struct db *db, const struct billpipe_opts *o, const void *data, size_t len,
                     size_t chunk, const char *sha1, struct billpipe_result *res,
                     struct wxr_err *err)
{
	struct billpipe *p = NULL;
	const char *s = data;
	size_t off = 0;
	int r;

	r = billpipe_new(db, o, &p, err);
	if (r < 0)
		return r;
	if (chunk == 0)
		chunk = len ? len : 1;
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;

		r = billpipe_feed(p, s + off, n, err);
		if (r < 0)
			goto out;
		off += n;
	}
	r = billpipe_finish(p, sha1, res, err);
out:
	billpipe_free(p);
	return r;
}

/* The bill at path with every "`from" (a date at the start of a value) made "`to": the same
 * bill for another day (a bill is refused whole when a row is of another day). Caller frees. */
static char *redated(const char *path, const char *from, const char *to, size_t *out_len)
{
	char *data = t_slurp(path, out_len);
	char pat[16];

	snprintf(pat, sizeof(pat), "`%s", from);
	for (char *m = strstr(data, pat); m; m = strstr(m + 1, pat))
		memcpy(m + 1, to, strlen(to));
	return data;
}

static int64_t nothing_pending(struct db *db)
{
	return q_int(db, "SELECT count(*) FROM bill_files WHERE bill_date = 'pending'");
}

/* ---- gz ---- */

static void test_gz(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct buf z1 = BUF_INIT, z2 = BUF_INIT, out = BUF_INIT;
	struct gz *g = NULL;
	size_t i;
	int r;

	gzip_buf("hello ", 6, &z1);
	gzip_buf("world\n", 6, &z2);
	buf_add(&z1, z2.data, z2.len); /* two members */

	gz_new(0, &g, &err);
	for (i = 0, r = 0; i < z1.len && r == 0; i++)
		r = gz_feed(g, z1.data + i, 1, collect, &out, &err);
	is_int(r, 0, "gz: two members fed byte by byte");
	is_int(gz_finish(g, &err), 0, "gz: finish after two complete members");
	is_str(buf_str(&out), "hello world\n", "gz: concatenated members decompress in order");
	is_int(gz_members(g), 2, "gz: 2 members");
	is_int(gz_total_out(g), 12, "gz: 12 bytes out");
	g = gz_free(g);

	buf_reset(&out);
	gz_new(0, &g, &err);
	r = gz_feed(g, z1.data, z1.len - 3, collect, &out, &err);
	is_int(r, 0, "gz: truncated input feeds");
	r = gz_finish(g, &err);
	ok(r == WXR_EDATA && strstr(err.msg, "truncated gzip stream"),
	   "gz: truncated stream is an error");
	g = gz_free(g);

	gz_new(0, &g, &err);
	ok(gz_finish(g, &err) == WXR_EDATA, "gz: nothing fed is an error");
	g = gz_free(g);

	buf_reset(&out);
	gz_new(0, &g, &err);
	r = gz_feed(g, "not gzip at all", 15, collect, &out, &err);
	ok(r == WXR_EDATA && strstr(err.msg, "corrupt"), "gz: not gzip is an error");
	g = gz_free(g);

	buf_reset(&out);
	gz_new(0, &g, &err);
	r = gz_feed(g, z2.data, z2.len, collect, &out, &err);
	r = r < 0 ? r : gz_feed(g, "\0\0\0\0", 4, collect, &out, &err);
	ok(r == WXR_EDATA && strstr(err.msg, "garbage after gzip member 1"),
	   "gz: garbage after a member is an error");
	g = gz_free(g);

	/* corrupt deflate data: flip a byte in the middle */
	buf_reset(&out);
	buf_reset(&z2);
	{
		char big[4096];

		for (i = 0; i < sizeof(big); i++)
			big[i] = (char)('a' + (i * 7) % 26);
		gzip_buf(big, sizeof(big), &z2);
	}
	z2.data[z2.len / 2] ^= 0x55;
	gz_new(0, &g, &err);
	r = gz_feed(g, z2.data, z2.len, collect, &out, &err);
	if (r == 0)
		r = gz_finish(g, &err);
	ok(r == WXR_EDATA, "gz: corrupt data or crc is an error");
	g = gz_free(g);

	/* output cap (zip bomb) */
	buf_reset(&z2);
	{
		char *zeros = calloc(1, 1 << 20);

		gzip_buf(zeros, 1 << 20, &z2);
		free(zeros);
	}
	buf_reset(&out);
	gz_new(100000, &g, &err);
	r = gz_feed(g, z2.data, z2.len, collect, &out, &err);
	ok(r == WXR_ETOOBIG && strstr(err.msg, "larger than 100000"), "gz: output cap");
	ok(out.len <= 100000, "gz: no more than the cap was handed out");
	ok(gz_feed(g, "x", 1, collect, &out, &err) < 0, "gz: feed after an error refused");
	g = gz_free(g);
	ok(z2.len < 2000, "gz: 1 MiB of zeros is a small gzip (bomb-like ratio)");

	buf_release(&z1);
	buf_release(&z2);
	buf_release(&out);
	ok(gz_free(NULL) == NULL, "gz_free(NULL)");
}

/* ---- V16 ---- */

static void test_v16(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct billpipe_result res;
	struct db_bills_file f;
	struct db *db = open_db(NULL);
	char archive[512], path[600];
	struct billpipe_opts o;
	struct buf out = BUF_INIT;
	struct gz *g = NULL;
	size_t len, zlen;
	char *plain = t_slurp(FIX "bill.ALL.csv", &len);
	char *z;
	int r;

	snprintf(archive, sizeof(archive), "%s/archive-v16", tmpdir);
	o = opts(DATE, BILL_KIND_TRADE, archive);
	o.mchid = "1921000401"; /* the SDK sample's merchant */
	r = billpipe_import_file(db, &o, FIX "bill.ALL.csv",
	                         "9BB6CD819BE348F17A9CBCEDDDC8EB62FEFBD790", &res, &err);
	if (!is_int(r, 0, "V16 imports (expected sha1 given in upper case)"))
		diag("%s", err.msg);
	is_int(res.rows, 45, "V16 45 rows");
	is_int(res.rejects, 0, "V16 0 rejects");
	is_str(res.sha1, V16_SHA1, "V16 sha1 of the bill bytes");
	is_int(res.bytes, 14686, "V16 14686 bytes");
	ok(!res.gzip, "V16 plain input");
	ok(res.summary_ok, "V16 summary agrees");
	is_str(res.mismatch_text, "", "V16 no mismatch text");
	ok(!res.replaced, "V16 first import replaces nothing");
	is_str(res.mchid, "1921000401", "V16 stored under its merchant");
	ok(res.file_id > 0, "V16 file id");

	is_int(q_int(db, "SELECT count(*) FROM bill_trades"), 45, "db: 45 bill_trades rows");
	is_int(q_int(db, "SELECT count(*) FROM bill_trades WHERE row_kind = 'SUCCESS'"), 31,
	       "db: 31 SUCCESS");
	is_int(q_int(db, "SELECT count(*) FROM bill_trades WHERE row_kind = 'REFUND'"), 14,
	       "db: 14 REFUND");
	is_int(q_int(db, "SELECT sum(settlement_amount) FROM bill_trades"), 47,
	       "db: Σ应结订单金额 47");
	is_int(q_int(db, "SELECT sum(refund_amount) FROM bill_trades"), 14, "db: Σ退款金额 14");
	is_int(q_int(db, "SELECT sum(fee) FROM bill_trades"), 8000, "db: Σ手续费 8000");
	is_int(q_int(db, "SELECT sum(order_amount) FROM bill_trades"), 47, "db: Σ订单金额 47");
	is_int(q_int(db, "SELECT sum(refund_apply_amount) FROM bill_trades"), 14,
	       "db: Σ申请退款金额 14");
	is_int(q_int(db, "SELECT sum(coupon_amount) FROM bill_trades"), 4, "db: Σ代金券金额 4");
	is_int(q_int(db, "SELECT count(*) FROM bill_trades WHERE mchid = '1921000401' AND "
	                 "bill_date = '2019-02-19'"),
	       45, "db: rows carry mchid and bill date");
	is_str(q_text(db, "SELECT trade_time FROM bill_trades WHERE line = 2"),
	       "2019-02-19T05:01:46+08:00", "db: trade time RFC 3339");
	is_str(q_text(db, "SELECT rate_note FROM bill_trades WHERE line = 2"), "",
	       "db: empty value is ''");
	is_str(q_text(db, "SELECT refund_apply_time FROM bill_trades WHERE line = 2"), "(null)",
	       "db: absent column is NULL");
	is_str(q_text(db,
	              "SELECT total_count || ',' || settlement_total || ',' || refund_total || ',' "
	              "||"
	              " recharge_refund_total || ',' || fee_total || ',' || order_total || ',' ||"
	              " refund_apply_total FROM bill_trade_summary"),
	       "45,47,14,0,8000,47,14", "db: summary row");
	is_str(q_text(db,
	              "SELECT status || ',' || sha1 || ',' || bytes || ',' || rows || ',' || "
	              "rejects"
	              " || ',' || layout || ',' || source || ',' || kind || ',' || mchid || ',' ||"
	              " bill_date || ',' || coalesce(summary_mismatch, 'agree') FROM bill_files"),
	       "ok," V16_SHA1 ",14686,45,0,ALL,import,trade,1921000401,2019-02-19,agree",
	       "db: bill_files row");
	is_int(nothing_pending(db), 0, "db: no provisional row left");
	is_int(q_int(db, "SELECT count(*) FROM audit_log WHERE event = 'bill.store' AND subject ="
	                 " 'trade 1921000401 2019-02-19' AND detail LIKE '%\"sha1\":\"" V16_SHA1
	                 "\"%'"),
	       1, "audit: bill.store entry");

	r = db_bills_get(db, "1921000401", DATE, BILL_KIND_TRADE, &f, &err);
	is_int(r, 1, "db_bills_get finds it");
	is_str(f.status, "ok", "get: status");
	is_str(f.sha1, V16_SHA1, "get: sha1");
	is_int(f.rows, 45, "get: rows");
	is_int(f.bytes, 14686, "get: bytes");
	is_str(f.layout, "ALL", "get: layout");
	ok(f.summary_ok, "get: summary ok");
	is_int(db_bills_get(db, "1900000001", DATE, BILL_KIND_TRADE, &f, &err), 0,
	       "db_bills_get: none for the caller's mchid");
	is_int(db_bills_get(db, "1921000401", DATE, BILL_KIND_FUNDFLOW, &f, &err), 0,
	       "db_bills_get: none of the other kind");

	/* the archive: <sha1>.gz, gzip of the plain bill */
	snprintf(path, sizeof(path), "%s/%s.gz", archive, V16_SHA1);
	is_str(q_text(db, "SELECT archive_path FROM bill_files"), path, "db: archive path");
	is_int(count_files(archive), 1, "archive: one file, no temp left");
	z = t_slurp(path, &zlen);
	gz_new(0, &g, &err);
	r = gz_feed(g, z, zlen, collect, &out, &err);
	ok(r == 0 && gz_finish(g, &err) == 0 && out.len == len && memcmp(out.data, plain, len) == 0,
	   "archive: plain input stored gzipped, gunzips to the hashed bytes");
	g = gz_free(g);
	free(z);
	buf_release(&out);

	/* re-import: replaces, not doubles */
	r = billpipe_import_file(db, &o, FIX "bill.ALL.csv", V16_SHA1, &res, &err);
	is_int(r, 0, "V16 re-import");
	ok(res.replaced, "re-import replaced the older bill");
	is_int(q_int(db, "SELECT count(*) FROM bill_trades"), 45,
	       "re-import: still 45 rows, not 90");
	is_int(q_int(db, "SELECT count(*) FROM bill_files"), 1, "re-import: one bill_files row");
	is_int(q_int(db, "SELECT count(*) FROM bill_trade_summary"), 1,
	       "re-import: one summary row");
	is_int(q_int(db, "SELECT count(*) FROM bill_trades WHERE file_id = "
	                 "(SELECT id FROM bill_files)"),
	       45, "re-import: rows belong to the new file row");
	is_int(q_int(db,
	             "SELECT count(*) FROM audit_log WHERE event = 'bill.replace' AND detail LIKE"
	             " '%\"replaced_sha1\":\"" V16_SHA1 "\"%'"),
	       1, "audit: bill.replace entry names the old sha1");
	is_int(count_files(archive), 1, "archive: same content, same single file");

	/* byte-at-a-time gives the same stored rows */
	{
		struct db *db2 = open_db(NULL);
		char d1[4096], d2[4096];
		const char *dump =
		        "SELECT group_concat(line || '|' || transaction_id || '|' || fee, ';')"
		        " FROM (SELECT * FROM bill_trades ORDER BY line)";

		o.archive_dir = NULL;
		r = pipe_data(db2, &o, plain, len, 1, V16_SHA1, &res, &err);
		is_int(r, 0, "V16 fed one byte at a time");
		snprintf(d1, sizeof(d1), "%s", q_text(db, dump));
		snprintf(d2, sizeof(d2), "%s", q_text(db2, dump));
		ok(strlen(d1) > 100 && strcmp(d1, d2) == 0, "byte-at-a-time stores the same rows");
		db_close(db2);
	}
	free(plain);
	db_close(db);
}

/* ---- gzip input, third-party bills ---- */

static void test_gunsluo(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct billpipe_result res, res1;
	struct db *db = open_db(NULL);
	char archive[512], path[600];
	struct billpipe_opts o;
	size_t zlen, alen;
	char *z, *a;
	int r;

	snprintf(archive, sizeof(archive), "%s/archive-gunsluo", tmpdir);
	o = opts("2021-01-28", BILL_KIND_TRADE, archive);
	o.source = "api";
	r = billpipe_import_file(db, &o, FIX "gunsluo_tradebill_ALL.csv.gz",
	                         "b18b51eb64422040e5ad738d47b358a40b1a7997", &res, &err);
	if (!is_int(r, 0, "gunsluo ALL.gz through the pipeline"))
		diag("%s", err.msg);
	ok(res.gzip, "gzip detected by magic");
	is_int(res.rows, 3, "gunsluo ALL.gz 3 rows");
	is_int(res.bytes, 1347, "bytes = decompressed size");
	ok(res.summary_ok, "gunsluo ALL.gz summary agrees");
	is_str(res.mchid, "1601959334", "gunsluo mchid from the bill");
	snprintf(path, sizeof(path), "%s/b18b51eb64422040e5ad738d47b358a40b1a7997.gz", archive);
	z = t_slurp(path, &zlen);
	a = t_slurp(FIX "gunsluo_tradebill_ALL.csv.gz", &alen);
	ok(zlen == alen && memcmp(z, a, alen) == 0, "archive: gzip input kept byte for byte");
	free(z);

	/* the same bill, plain, 1 byte at a time, replaces the gz one */
	res1 = res;
	z = t_slurp(FIX "gunsluo_tradebill_ALL.csv", &zlen);
	r = pipe_data(db, &o, z, zlen, 1, "b18b51eb64422040e5ad738d47b358a40b1a7997", &res, &err);
	is_int(r, 0, "gunsluo ALL plain byte-at-a-time");
	ok(res.replaced && res.rows == res1.rows && strcmp(res.sha1, res1.sha1) == 0,
	   "plain and gzip give the same bill");
	is_int(q_int(db, "SELECT count(*) FROM bill_trades"), 3, "replaced, not doubled");
	free(z);

	/* gzip fed one byte at a time */
	r = pipe_data(db, &o, a, alen, 1, "b18b51eb64422040e5ad738d47b358a40b1a7997", &res, &err);
	ok(r == 0 && res.gzip && res.rows == 3, "gzip input fed one byte at a time");
	free(a);

	o.bill_date = "2021-02-01";
	r = billpipe_import_file(db, &o, FIX "gunsluo_tradebill_SUCCESS.csv", NULL, &res, &err);
	ok(r == 0 && res.rows == 1 && res.summary_ok && res.parse.layout == BILL_LAYOUT_SUCCESS,
	   "gunsluo SUCCESS stored");
	o.bill_date = "2021-02-01"; /* 退款申请时间; its 交易时间 are the payments' days */
	r = billpipe_import_file(db, &o, FIX "gunsluo_tradebill_REFUND.csv", NULL, &res, &err);
	ok(r == 0 && res.rows == 2 && res.summary_ok && res.parse.layout == BILL_LAYOUT_REFUND,
	   "gunsluo REFUND stored");
	is_str(q_text(db, "SELECT refund_apply_time || ' ' || refund_success_time FROM bill_trades"
	                  " WHERE out_refund_no = 'S20210201143320649393'"),
	       "2021-02-01T14:33:21+08:00 2021-02-01T14:33:24+08:00", "REFUND times stored");

	/* fund flow .gz whose summary disagrees: stored, mismatch reported */
	o = opts("2021-02-01", BILL_KIND_FUNDFLOW, archive);
	o.source = "api";
	o.mchid = "1900000001";
	r = billpipe_import_file(db, &o, FIX "gunsluo_fundflowbill_BASIC.csv.gz",
	                         "0d4e4e2518a94c053f58e0db78d62ccc6e46ac34", &res, &err);
	if (!is_int(r, 0, "gunsluo fund flow .gz stored despite its summary"))
		diag("%s", err.msg);
	ok(!res.summary_ok, "fund flow summary mismatch reported");
	is_int(res.parse.mismatch, BILL_T_COUNT | BILL_T_INCOME_COUNT | BILL_T_INCOME,
	       "which totals differ");
	ok(strstr(res.mismatch_text, "资金流水总笔数: summary 3, rows 2") != NULL, "mismatch text");
	is_str(res.mchid, "1900000001", "fund flow stored under the caller's mchid");
	is_int(q_int(db, "SELECT count(*) FROM bill_fundflows"), 2, "fund flow rows stored");
	is_str(q_text(db, "SELECT summary_mismatch FROM bill_files WHERE kind = 'fundflow'"),
	       res.mismatch_text, "bill_files.summary_mismatch recorded");
	is_str(q_text(db,
	              "SELECT total_count || ',' || income_count || ',' || income_amount || ',' ||"
	              " expense_count || ',' || expense_amount FROM bill_fundflow_summary"),
	       "3,1,1,2,2", "fund flow summary row as the bill says");
	is_str(q_text(db,
	              "SELECT direction || ' ' || amount || ' ' || balance || ' ' || biz_no FROM"
	              " bill_fundflows WHERE line = 2"),
	       "OUT 1 22 50300806962021020105978994968", "fund flow row values");
	{
		struct db_bills_file f;

		ok(db_bills_get(db, "1900000001", "2021-02-01", BILL_KIND_FUNDFLOW, &f, &err) ==
		                   1 &&
		           !f.summary_ok,
		   "db_bills_get: summary_ok false");
	}
	db_close(db);
}

/* ---- hand-made bills ---- */

static void test_hand(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct billpipe_result res;
	struct db *db = open_db(NULL);
	struct billpipe_opts o = opts("2025-03-01", BILL_KIND_TRADE, NULL);
	int r;

	r = billpipe_import_file(db, &o, FIX "hand_all_bom_crlf.csv", NULL, &res, &err);
	ok(r == 0 && res.rows == 3 && res.summary_ok, "hand ALL stored");
	is_str(q_text(db, "SELECT description || ' / ' || attach FROM bill_trades WHERE line = 2"),
	       "礼包,\"大号\" / u=42,k=\"v,w\"",
	       "comma and quote in 商品名称 and 商户数据包 stored");
	is_str(q_text(db, "SELECT row_kind || ' ' || fee || ' ' || recharge_refund_amount || ' ' ||"
	                  " refund_apply_amount || ' ' || refund_status FROM bill_trades WHERE "
	                  "line = 3"),
	       "REFUND -6000 50 1050 PROCESSING", "refund row stored");
	is_str(q_text(db, "SELECT row_kind FROM bill_trades WHERE line = 4"), "REVOKED",
	       "REVOKED row");
	is_str(q_text(db, "SELECT sub_mchid || ' ' || device_info || ' ' || bank_type || ' ' ||"
	                  " rate_note FROM bill_trades WHERE line = 2"),
	       "1900000099 DEV-01 CMB_DEBIT 费率备注一", "every column stored");

	/* a 商户号 that cannot name a merchant is rejected */
	{
		size_t len;
		char *data = redated(FIX "hand_all_bom_crlf.csv", "2025-03-01", "2025-03-04", &len);
		char *m = strstr(strstr(data, "`1900000001,") + 1, "`1900000001,");

		memcpy(m, "`19000!0001,", 12);
		o.bill_date = "2025-03-04";
		r = pipe_data(db, &o, data, len, 0, NULL, &res, &err);
		ok(r == 0 && res.rows == 2 && res.rejects == 1 && !res.summary_ok,
		   "bad 商户号 row rejected");
		is_str(q_text(db, "SELECT line || ' ' || reason FROM bill_rejects r JOIN "
		                  "bill_files f ON"
		                  " f.id = r.file_id WHERE f.bill_date = '2025-03-04'"),
		       "3 bad 商户号 '19000!0001'", "bad 商户号 reason");
		free(data);
	}

	o.bill_date = "2025-03-02";
	r = billpipe_import_file(db, &o, FIX "hand_success_lf.csv", NULL, &res, &err);
	ok(r == 0 && res.rows == 2 && res.summary_ok, "hand SUCCESS stored");
	is_str(q_text(db, "SELECT total_count || ' ' || refund_total FROM bill_trade_summary s JOIN"
	                  " bill_files f ON f.id = s.file_id WHERE f.bill_date = '2025-03-02'"),
	       "2 0", "SUCCESS summary: count '2.0', absent totals 0");

	{
		size_t len;
		char *data = redated(FIX "hand_refund_crlf.csv", "2025-03-01", "2025-03-03", &len);

		o.bill_date = "2025-03-03";
		r = pipe_data(db, &o, data, len, 0, NULL, &res, &err);
		ok(r == 0 && res.rows == 2 && res.summary_ok, "hand REFUND stored");
		free(data);
	}

	o.bill_date = "2017-05-01";
	o.mchid = "1900007291";
	r = billpipe_import_file(db, &o, FIX "hand_legacy_all.csv", NULL, &res, &err);
	ok(r == 0 && res.rows == 2 && res.summary_ok, "legacy bill stored");
	is_str(q_text(db, "SELECT layout || ' ' || mchid FROM bill_files WHERE bill_date = "
	                  "'2017-05-01'"),
	       "LEGACY_ALL 1900007291", "legacy layout recorded");
	o.mchid = "";
	is_str(q_text(db,
	              "SELECT settlement_total || ' ' || refund_total || ' ' || fee_total || ' ' ||"
	              " order_total FROM bill_trade_summary s JOIN bill_files f ON f.id = s.file_id"
	              " WHERE f.bill_date = '2017-05-01'"),
	       "1234 200 6000 0", "legacy summary stored");

	o = opts("2025-03-01", BILL_KIND_FUNDFLOW, NULL);
	r = billpipe_import_file(db, &o, FIX "hand_fundflow_bom_crlf.csv", NULL, &res, &err);
	ok(r == 0 && res.rows == 3 && res.summary_ok, "hand fund flow stored");
	is_str(q_text(db, "SELECT remark FROM bill_fundflows WHERE line = 4"),
	       "退款总金额10.00元;含手续费0.06元,其他\\n第二行", "fund flow remark kept");

	/* a row of another merchant makes it another merchant's bill: refused whole */
	{
		size_t len;
		char *data =
		        redated(FIX "hand_malformed_rows.csv", "2025-03-01", "2025-03-05", &len);
		char *m = strstr(data, "`1900000002,");

		o = opts("2025-03-05", BILL_KIND_TRADE, NULL);
		r = pipe_data(db, &o, data, len, 0, NULL, &res, &err);
		is_int(r, WXR_EDATA, "a row of a second merchant refuses the bill");
		is_str(err.msg,
		       "line 8: 商户号 '1900000002' differs from the bill's '1900000001' (rows of "
		       "two "
		       "merchants); refused whole, nothing of it stored",
		       "the message names the line and both merchants");
		is_int(q_int(db, "SELECT count(*) FROM bill_files WHERE bill_date = '2025-03-05'"),
		       0, "nothing stored");

		/* malformed rows: rejected with their lines, the others stored */
		memcpy(m, "`19000!0002,", 12);
		r = pipe_data(db, &o, data, len, 0, NULL, &res, &err);
		free(data);
	}
	ok(r == 0, "malformed bill stored");
	is_int(res.rows, 2, "2 good rows stored");
	is_int(res.rejects, 6, "6 rejects (5 malformed + 1 bad 商户号)");
	ok(res.summary_ok, "summary agrees with the stored rows");
	is_str(q_text(db,
	              "SELECT group_concat(line, ',') FROM (SELECT line FROM bill_rejects r JOIN"
	              " bill_files f ON f.id = r.file_id WHERE f.bill_date = '2025-03-05' ORDER BY "
	              "line)"),
	       "3,4,5,6,7,8", "reject lines");
	is_str(q_text(db, "SELECT reason FROM bill_rejects WHERE line = 8"),
	       "bad 商户号 '19000!0002'", "bad 商户号 row rejected");
	ok(strncmp(q_text(db, "SELECT raw FROM bill_rejects WHERE line = 7"), "ORD-no-backtick,`wx",
	           19) == 0,
	   "raw line stored");
	is_str(q_text(db,
	              "SELECT group_concat(line, ',') FROM (SELECT t.line FROM bill_trades t JOIN"
	              " bill_files f ON f.id = t.file_id WHERE f.bill_date = '2025-03-05' ORDER BY "
	              "t.line)"),
	       "2,9", "good rows stored with their lines");
	is_str(q_text(db, "SELECT rows || ' ' || rejects FROM bill_files WHERE bill_date = "
	                  "'2025-03-05'"),
	       "2 6", "bill_files rows and rejects");
	db_close(db);
}

/* ---- refusals: nothing stored ---- */

static void test_refusals(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct billpipe_result res;
	struct db *db = open_db(NULL);
	char archive[512];
	struct billpipe_opts o;
	size_t len;
	char *z;
	int64_t audit0;
	int r;

	snprintf(archive, sizeof(archive), "%s/archive-refusals", tmpdir);
	o = opts("2025-03-01", BILL_KIND_TRADE, archive);
	audit0 = q_int(db, "SELECT count(*) FROM audit_log");

	r = billpipe_import_file(db, &o, FIX "hand_missing_column.csv", NULL, &res, &err);
	ok(r == WXR_EDATA && strstr(err.msg, "lacks column '商户订单号'"),
	   "missing column: bill refused");
	is_int(q_int(db, "SELECT count(*) FROM bill_files"), 0, "missing column: nothing stored");
	is_int(count_files(archive), 0, "missing column: no archive file");

	/* truncated gzip */
	z = t_slurp(FIX "gunsluo_tradebill_ALL.csv.gz", &len);
	r = pipe_data(db, &o, z, len - 8, 0, NULL, &res, &err);
	ok(r == WXR_EDATA && strstr(err.msg, "truncated gzip"), "truncated gzip: error");
	is_int(q_int(db, "SELECT count(*) FROM bill_files"), 0, "truncated gzip: nothing stored");
	is_int(q_int(db, "SELECT count(*) FROM bill_trades"), 0, "truncated gzip: no rows");
	is_int(count_files(archive), 0, "truncated gzip: no archive file");
	r = pipe_data(db, &o, z, len / 2, 7, NULL, &res, &err);
	ok(r < 0 && q_int(db, "SELECT count(*) FROM bill_files") == 0,
	   "gzip cut in half: nothing stored");
	free(z);

	/* wrong sha1 */
	r = billpipe_import_file(db, &o, FIX "bill.ALL.csv",
	                         "0000000000000000000000000000000000000000", &res, &err);
	is_int(r, WXR_ESIG, "wrong sha1: WXR_ESIG");
	ok(strstr(err.msg, "0000000000000000000000000000000000000000") && strstr(err.msg, V16_SHA1),
	   "wrong sha1: both hashes in the message");
	is_int(q_int(db, "SELECT count(*) FROM bill_files"), 0, "wrong sha1: nothing stored");
	is_int(q_int(db, "SELECT count(*) FROM bill_trades"), 0, "wrong sha1: no rows");
	is_int(count_files(archive), 0, "wrong sha1: archive temp removed");
	is_int(q_int(db, "SELECT count(*) FROM audit_log"), audit0, "refusals: nothing audited");

	/* a wrong sha1 does not touch the bill already stored for that day */
	o.bill_date = DATE;
	r = billpipe_import_file(db, &o, FIX "bill.ALL.csv", V16_SHA1, &res, &err);
	is_int(r, 0, "V16 stored");
	r = billpipe_import_file(db, &o, FIX "bill.ALL.csv", "deadbeef", &res, &err);
	is_int(r, WXR_ESIG, "refetch with a bad hash refused");
	is_int(q_int(db, "SELECT count(*) FROM bill_trades WHERE bill_date = '" DATE "'"), 45,
	       "the earlier bill of that day stays");

	/* the kind asked for and the kind received */
	o = opts("2025-03-09", BILL_KIND_TRADE, archive);
	r = billpipe_import_file(db, &o, FIX "hand_fundflow_bom_crlf.csv", NULL, &res, &err);
	ok(r == WXR_EDATA && strstr(err.msg, "expected a trade bill, got a fundflow bill"),
	   "fund-flow bill for a trade fetch refused");
	is_int(q_int(db, "SELECT count(*) FROM bill_files WHERE bill_date = '2025-03-09'"), 0,
	       "wrong kind: nothing stored");

	/* empty input, garbage */
	r = pipe_data(db, &o, "", 0, 0, NULL, &res, &err);
	ok(r == WXR_EDATA && strstr(err.msg, "empty bill"), "empty input refused");
	r = pipe_data(db, &o, "x", 1, 0, NULL, &res, &err);
	ok(r == WXR_EDATA, "one byte refused");
	r = pipe_data(db, &o, "\x1f\x8b", 2, 0, NULL, &res, &err);
	ok(r == WXR_EDATA && strstr(err.msg, "truncated gzip"), "gzip magic only refused");

	/* decompressed size cap */
	o.max_bytes = 1000;
	r = billpipe_import_file(db, &o, FIX "bill.ALL.csv", NULL, &res, &err);
	ok(r == WXR_ETOOBIG, "plain bill over the size cap refused");
	r = billpipe_import_file(db, &o, FIX "gunsluo_tradebill_ALL.csv.gz", NULL, &res, &err);
	ok(r == WXR_ETOOBIG, "gzip bill over the size cap refused");
	o.max_bytes = 0;

	/* bad options */
	o.source = "web";
	r = billpipe_import_file(db, &o, FIX "bill.ALL.csv", NULL, &res, &err);
	ok(r < 0 && strstr(err.msg, "neither 'api' nor 'import'"), "bad source refused");
	o.source = "import";
	o.bill_date = "2025-13-01";
	r = billpipe_import_file(db, &o, FIX "bill.ALL.csv", NULL, &res, &err);
	ok(r == WXR_EUSAGE, "bad date refused");
	is_int(count_files(archive), 1, "archive: only the stored bill's file");
	is_int(nothing_pending(db), 0, "no provisional row left behind");
	db_close(db);
}

/* ---- a bill is one merchant's bill of one day (issue 20 item 7) ---- */

static void test_day_and_merchant(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct billpipe_result res;
	struct db *db = open_db(NULL);
	char archive[512];
	struct billpipe_opts o;
	size_t len;
	char *data;
	int r;

	snprintf(archive, sizeof(archive), "%s/archive-day", tmpdir);
	o = opts("2025-03-01", BILL_KIND_TRADE, archive);
	o.mchid = "1900000001";
	r = billpipe_import_file(db, &o, FIX "hand_all_bom_crlf.csv", NULL, &res, &err);
	ok(r == 0 && res.rows == 3, "the merchant's bill of 2025-03-01 stored");

	/* another merchant's bill of that day: every row was rejected, and the 0-row bill
	 * replaced the good one */
	data = t_slurp(FIX "hand_all_bom_crlf.csv", &len);
	for (char *m = strstr(data, "`1900000001,"); m; m = strstr(m + 1, "`1900000001,"))
		memcpy(m, "`1900000077,", 12);
	r = pipe_data(db, &o, data, len, 0, NULL, &res, &err);
	is_int(r, WXR_EDATA, "another merchant's bill refused");
	ok(strstr(err.msg, "line 2: 商户号 '1900000077' is not this merchant ('1900000001')") !=
	           NULL,
	   "the message names the line and both merchants");
	is_str(q_text(db, "SELECT rows || ' ' || rejects FROM bill_files WHERE bill_date = "
	                  "'2025-03-01'"),
	       "3 0", "the stored bill stays");
	is_int(q_int(db, "SELECT count(*) FROM bill_rejects"), 0, "no rejects written for it");

	/* streaming: a bad row after good ones still refuses it all; one byte at a time */
	free(data);
	data = t_slurp(FIX "hand_all_bom_crlf.csv", &len);
	{
		char *m = strstr(data, "`2025-03-01 ");

		m = strstr(m + 1, "`2025-03-01 ");
		m = strstr(m + 1, "`2025-03-01 "); /* line 4, the last detail row */
		memcpy(m, "`2025-02-28", 11);
	}
	r = pipe_data(db, &o, data, len, 1, NULL, &res, &err);
	is_int(r, WXR_EDATA, "a last row of the day before refuses the bill");
	ok(strstr(err.msg, "line 4: 交易时间 '2025-02-28 ") != NULL &&
	           strstr(err.msg, "is not on 2025-03-01 (Beijing time)") != NULL,
	   "the message names the line, its time and the date");
	is_str(q_text(db, "SELECT rows FROM bill_files WHERE bill_date = '2025-03-01'"), "3",
	       "the stored bill still stays");

	/* integrity first: a download whose hash is wrong is told as such (and retried) */
	r = pipe_data(db, &o, data, len, 0, "0000000000000000000000000000000000000000", &res, &err);
	is_int(r, WXR_ESIG, "a wrong SHA-1 is reported before the day");
	free(data);

	/* a bill of 2025-03-01 given as 2026-11-01 */
	o.bill_date = "2026-11-01";
	r = billpipe_import_file(db, &o, FIX "hand_all_bom_crlf.csv", NULL, &res, &err);
	is_int(r, WXR_EDATA, "a bill of another day refused");
	is_int(q_int(db, "SELECT count(*) FROM bill_files WHERE bill_date = '2026-11-01'"), 0,
	       "nothing stored for the date given");
	is_int(q_int(db, "SELECT count(*) FROM bill_trades WHERE bill_date = '2026-11-01'"), 0,
	       "no rows");

	/* a refund's day is its 退款申请时间 where the layout has one */
	o = opts("2021-01-24", BILL_KIND_TRADE, archive);
	r = billpipe_import_file(db, &o, FIX "gunsluo_tradebill_REFUND.csv", NULL, &res, &err);
	ok(r == WXR_EDATA && strstr(err.msg, "line 2: 退款申请时间 '2021-02-01 14:33:21'"),
	   "REFUND layout: the day of 退款申请时间, not of the payment");

	/* fund flow: 记账时间 */
	o = opts("2025-03-02", BILL_KIND_FUNDFLOW, archive);
	r = billpipe_import_file(db, &o, FIX "hand_fundflow_bom_crlf.csv", NULL, &res, &err);
	ok(r == WXR_EDATA && strstr(err.msg, "line 2: 记账时间 '2025-03-01 "),
	   "a fund-flow bill of another day refused");
	is_int(count_files(archive), 1, "archive: only the stored bill's file");
	is_int(nothing_pending(db), 0, "no provisional row left behind");
	db_close(db);
}

/* ---- empty days, transactions ---- */

static void test_empty_and_tx(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct billpipe_result res;
	struct db_bills_file f;
	struct db *db = open_db(NULL);
	struct billpipe_opts o = opts(DATE, BILL_KIND_TRADE, NULL);
	struct billpipe *p = NULL;
	int r;

	o.mchid = "1921000401";
	r = db_bills_store_empty(db, "1921000401", DATE, BILL_KIND_TRADE, "api", 0, &err);
	is_int(r, 0, "store an empty day");
	r = db_bills_get(db, "1921000401", DATE, BILL_KIND_TRADE, &f, &err);
	ok(r == 1 && strcmp(f.status, "empty") == 0 && f.rows == 0 && f.sha1[0] == '\0' &&
	           strcmp(f.source, "api") == 0,
	   "empty day: status empty, 0 rows, no sha1");
	r = db_bills_store_empty(db, "1921000401", DATE, BILL_KIND_TRADE, "api", 0, &err);
	is_int(q_int(db, "SELECT count(*) FROM bill_files"), 1, "empty day twice: one row");

	/* a later real bill replaces the empty day */
	r = billpipe_import_file(db, &o, FIX "bill.ALL.csv", NULL, &res, &err);
	ok(r == 0 && res.replaced, "bill replaces the empty day");
	r = db_bills_get(db, "1921000401", DATE, BILL_KIND_TRADE, &f, &err);
	ok(r == 1 && strcmp(f.status, "ok") == 0 && f.rows == 45, "now ok with 45 rows");
	/* and an empty day replaces a bill, its rows going by cascade */
	r = db_bills_store_empty(db, "1921000401", DATE, BILL_KIND_TRADE, "import", 0, &err);
	is_int(r, 0, "empty day replaces the bill");
	is_int(q_int(db, "SELECT count(*) FROM bill_trades"), 0, "cascade removed the rows");
	is_int(q_int(db, "SELECT count(*) FROM bill_trade_summary"), 0,
	       "cascade removed the summary");
	is_int(q_int(db, "SELECT count(*) FROM audit_log WHERE event = 'bill.replace'"), 3,
	       "audit: empty-over-empty, bill-over-empty, empty-over-bill are replacements");
	ok(db_bills_store_empty(db, "1", "2025-02-30", BILL_KIND_TRADE, "api", 0, &err) ==
	           WXR_EUSAGE,
	   "empty day: bad date refused");

	/* inside the caller's transaction: a savepoint */
	r = db_begin(db, &err);
	is_int(r, 0, "caller begins a transaction");
	db_exec(db,
	        "INSERT INTO ledger_orders (out_trade_no, amount_total, state, created_at,"
	        " created_ts, updated_at) VALUES ('OUTER', 1, 'NOTPAY', 'x', 0, 'x')",
	        &err);
	r = billpipe_import_file(db, &o, FIX "bill.ALL.csv", NULL, &res, &err);
	is_int(r, 0, "pipe inside the caller's transaction");
	r = billpipe_import_file(db, &o, FIX "bill.ALL.csv", "deadbeef", &res, &err);
	is_int(r, WXR_ESIG, "failing pipe inside the caller's transaction");
	ok(db_in_tx(db), "the caller's transaction is still open");
	is_int(db_tx_depth(db), 1, "tx depth back to the caller's");
	is_int(db_commit(db, &err), 0, "caller commits");
	is_int(q_int(db, "SELECT count(*) FROM ledger_orders WHERE out_trade_no = 'OUTER'"), 1,
	       "the caller's own write survived");
	is_int(q_int(db, "SELECT count(*) FROM bill_trades"), 45, "the good bill is there");

	/* a caller's rollback takes the bill with it */
	db_begin(db, &err);
	o.bill_date = "2019-02-20";
	{
		size_t len;
		char *data = redated(FIX "bill.ALL.csv", DATE, "2019-02-20", &len);

		r = pipe_data(db, &o, data, len, 0, NULL, &res, &err);
		free(data);
	}
	is_int(r, 0, "pipe in a transaction the caller then rolls back");
	db_rollback(db);
	is_int(q_int(db, "SELECT count(*) FROM bill_files WHERE bill_date = '2019-02-20'"), 0,
	       "rolled back with the caller");

	/* freeing a pipe before finish stores nothing */
	r = billpipe_new(db, &o, &p, &err);
	r = r < 0 ? r : billpipe_feed(p, "\xef\xbb\xbf", 3, &err);
	is_int(r, 0, "pipe started");
	ok(db_in_tx(db), "pipe holds a transaction");
	p = billpipe_free(p);
	ok(!db_in_tx(db), "free rolled it back");
	is_int(nothing_pending(db), 0, "no provisional row");
	ok(billpipe_free(NULL) == NULL && db_bills_writer_free(NULL) == NULL, "NULL-safe frees");
	db_close(db);
}

/* ---- large generated bills ---- */

struct gen {
	struct buf chunk;
	int64_t rows;
	int64_t settle, fee, refund;
	int gzip;
	z_stream z;
	unsigned char zout[65536];
	int (*sink)(void *ctx, const void *p, size_t n, struct wxr_err *err);
	void *ctx;
	struct wxr_err *err;
	int r;
	uint64_t raw_bytes, fed_bytes;
};

static void gen_push(struct gen *g, int flush)
{
	if (g->r < 0)
		return;
	g->raw_bytes += g->chunk.len;
	if (!g->gzip) {
		g->fed_bytes += g->chunk.len;
		g->r = g->sink(g->ctx, g->chunk.data, g->chunk.len, g->err);
	} else {
		g->z.next_in = (unsigned char *)g->chunk.data;
		g->z.avail_in = (uInt)g->chunk.len;
		do {
			g->z.next_out = g->zout;
			g->z.avail_out = sizeof(g->zout);
			deflate(&g->z, flush ? Z_FINISH : Z_NO_FLUSH);
			if (sizeof(g->zout) - g->z.avail_out > 0 && g->r >= 0) {
				g->fed_bytes += sizeof(g->zout) - g->z.avail_out;
				g->r = g->sink(g->ctx, g->zout, sizeof(g->zout) - g->z.avail_out,
				               g->err);
			}
		} while (g->z.avail_out == 0);
	}
	buf_reset(&g->chunk);
}

#define GEN_HEADER                                                                                                                      \
	"\xef\xbb\xbf交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,"     \
	"交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号," \
	"退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,"      \
	"申请退款金额,费率备注\r\n"

/* A trade bill of n rows (every 10th a refund), gzip or plain, pushed to sink. */
static int gen_bill(int64_t n, int gzip,
                    int (*sink)(void *, const void *, size_t, struct wxr_err *), void *ctx,
                    struct wxr_err *err, uint64_t *out_raw, uint64_t *out_fed)
{
	struct gen g;
	int64_t i;

	memset(&g, 0, sizeof(g));
	g.gzip = gzip;
	g.sink = sink;
	g.ctx = ctx;
	g.err = err;
	if (gzip)
		deflateInit2(&g.z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	buf_adds(&g.chunk, GEN_HEADER);
	for (i = 0; i < n && g.r >= 0; i++) {
		int refund = i % 10 == 9;
		int64_t amount = 1 + i % 9973;
		int64_t fee = refund ? -(amount * 6) : amount * 6; /* 0.6% in 0.00001 yuan */
		int sec = (int)(i % 86400);

		buf_addf(&g.chunk,
		         "`2025-03-01 %02d:%02d:%02d,`wx1111222233334444,`1900000001,`0,`,"
		         "`42000000012025030%011lld,`ORD%011lld,`oUser%05lld,`APP,`%s,`OTHERS,`CNY,"
		         "`%lld.%02lld,`0.00,`%s,`%s,`%lld.%02lld,`0.00,`%s,`%s,`商品%lld,"
		         "`attach=%lld,`%s0.%05lld,`0.60%%,`%lld.%02lld,`%lld.%02lld,`\r\n",
		         sec / 3600, sec / 60 % 60, sec % 60, (long long)i, (long long)i,
		         (long long)(i % 100000), refund ? "REFUND" : "SUCCESS",
		         (long long)(refund ? 0 : amount / 100),
		         (long long)(refund ? 0 : amount % 100),
		         refund ? "503000000120250301" : "0", refund ? "RF" : "0",
		         (long long)(refund ? amount / 100 : 0),
		         (long long)(refund ? amount % 100 : 0), refund ? "ORIGINAL" : "",
		         refund ? "SUCCESS" : "", (long long)(i % 50), (long long)i,
		         fee < 0 ? "-" : "", (long long)(fee < 0 ? -fee : fee),
		         (long long)(refund ? 0 : amount / 100),
		         (long long)(refund ? 0 : amount % 100),
		         (long long)(refund ? amount / 100 : 0),
		         (long long)(refund ? amount % 100 : 0));
		if (refund)
			g.refund += amount;
		else
			g.settle += amount;
		g.fee += fee;
		if (g.chunk.len > 60000)
			gen_push(&g, 0);
	}
	{
		char s[64], f[64], rf[64];

		snprintf(s, sizeof(s), "%lld.%02lld", (long long)(g.settle / 100),
		         (long long)(g.settle % 100));
		snprintf(rf, sizeof(rf), "%lld.%02lld", (long long)(g.refund / 100),
		         (long long)(g.refund % 100));
		snprintf(f, sizeof(f), "%s%lld.%05lld", g.fee < 0 ? "-" : "",
		         (long long)((g.fee < 0 ? -g.fee : g.fee) / 100000),
		         (long long)((g.fee < 0 ? -g.fee : g.fee) % 100000));
		buf_addf(&g.chunk,
		         "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,"
		         "订单总金额,"
		         "申请退款总金额\r\n`%lld.0,`%s,`%s,`0.00,`%s,`%s,`%s\r\n",
		         (long long)n, s, rf, f, s, rf);
	}
	gen_push(&g, 1);
	if (gzip)
		deflateEnd(&g.z);
	buf_release(&g.chunk);
	if (out_raw)
		*out_raw = g.raw_bytes;
	if (out_fed)
		*out_fed = g.fed_bytes;
	return g.r;
}

static int pipe_sink(void *ctx, const void *p, size_t n, struct wxr_err *err)
{
	return billpipe_feed(ctx, p, n, err);
}

static int parse_sink(void *ctx, const void *p, size_t n, struct wxr_err *err)
{
	return billparse_feed(ctx, p, n, err);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void test_big(int64_t nrows)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct billpipe_result res;
	struct billpipe *p = NULL;
	struct db *db = open_db("big.sqlite");
	char archive[512];
	struct billpipe_opts o;
	uint64_t raw = 0, fed = 0;
	long rss0 = peak_rss_kib(), rss1;
	double t0 = now_s(), t1;
	int r;

	snprintf(archive, sizeof(archive), "%s/archive-big", tmpdir);
	o = opts("2025-03-01", BILL_KIND_TRADE, archive);
	r = billpipe_new(db, &o, &p, &err);
	r = r < 0 ? r : gen_bill(nrows, 1, pipe_sink, p, &err, &raw, &fed);
	r = r < 0 ? r : billpipe_finish(p, NULL, &res, &err);
	p = billpipe_free(p);
	t1 = now_s();
	rss1 = peak_rss_kib();
	if (!is_int(r, 0, "generated gzip bill through the pipeline"))
		diag("%s", err.msg);
	is_int(res.rows, nrows, "every generated row stored");
	ok(res.summary_ok, "generated bill's summary agrees");
	is_int(res.bytes, (int64_t)raw, "bytes = generated size");
	is_int(q_int(db, "SELECT count(*) FROM bill_trades"), nrows, "rows in the table");
	diag("%lld rows, %.1f MiB bill (%.1f MiB gzip): %.2f s, %.0f rows/s; peak RSS %ld KiB -> "
	     "%ld KiB",
	     (long long)nrows, (double)raw / 1048576.0, (double)fed / 1048576.0, t1 - t0,
	     (double)nrows / (t1 - t0), rss0, rss1);
#if defined(__SANITIZE_ADDRESS__)
	skip("ASan's shadow memory is in the RSS", "peak RSS stays under 64 MiB");
#else
	if (getenv("WXRECON_VALGRIND"))
		skip("valgrind's memory is in the RSS", "peak RSS stays under 64 MiB");
	else
		ok(rss1 < 64 * 1024, "peak RSS stays under 64 MiB");
#endif
	db_close(db);
}

static int null_sink(void *ctx, const void *p, size_t n, struct wxr_err *err)
{
	(void)ctx;
	(void)p;
	(void)n;
	(void)err;
	return 0;
}

/* WXR_BENCH=1: 1M rows, generation alone, parse only, and the full pipeline. */
static void bench(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct billparse_result res;
	struct billparse_cb cb;
	struct billparse *p = NULL;
	uint64_t raw = 0;
	double t0, tg, tp;
	int64_t n = 1000000;
	int r;

	t0 = now_s();
	gen_bill(n, 0, null_sink, NULL, &err, &raw, NULL);
	tg = now_s() - t0;
	memset(&cb, 0, sizeof(cb));
	billparse_new(&cb, 0, &p, &err);
	t0 = now_s();
	r = gen_bill(n, 0, parse_sink, p, &err, &raw, NULL);
	r = r < 0 ? r : billparse_finish(p, &res, &err);
	tp = now_s() - t0 - tg;
	billparse_free(p);
	ok(r == 0 && res.rows == n && res.mismatch == 0, "bench: 1M-row parse");
	diag("bench: generating %lld rows (%.1f MiB) alone: %.2f s", (long long)n,
	     (double)raw / 1048576.0, tg);
	diag("bench: parse only: %.2f s, %.0f rows/s, %.1f MiB/s", tp, (double)n / tp,
	     (double)raw / 1048576.0 / tp);
	test_big(n);
}

int main(void)
{
	const char *rows_env = getenv("WXR_BIG_ROWS");
	int64_t big = getenv("WXRECON_VALGRIND") ? 20000 : 200000;

	if (rows_env)
		big = atoll(rows_env);
	t_tmpdir(tmpdir, sizeof(tmpdir), "t-billpipe");
	clock_set_now("2025-03-02T10:30:00+08:00", "environment WXRECON_NOW");
	test_big(big); /* first: peak RSS is the process's */
	test_gz();
	test_v16();
	test_gunsluo();
	test_hand();
	test_refusals();
	test_day_and_merchant();
	test_empty_and_tx();
	if (getenv("WXR_BENCH"))
		bench();
	t_rm_tree(tmpdir);
	return done_testing();
}
