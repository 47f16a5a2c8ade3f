/*
 * sim_gen.c - `wxrecon-sim generate`: a big day of WeChat Pay activity.
 *
 * Writes, for one date D, the trade bill (ALL) and the fund-flow bill (BASIC)
 * as the bill-download API serves them (gzip + SHA-1 of the decompressed
 * bytes), the merchant's ledger for the same day in the SPEC 4 import format,
 * and manifest.json naming every discrepancy planted on purpose.
 *
 * Everything streams: rows are made one at a time from a seeded splitmix64
 * generator and written at once. The only memory that grows is bounded: a
 * ring of the last RING_SIZE payments (refunds pick their original there, and
 * a payment's ledger line is written when it leaves the ring, when its
 * refunds are known) and the small fixed list of planted discrepancies.
 */
#include "sim/sim_bill.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/xalloc.h"

#define RING_SIZE      16384u         /* payments remembered for refunds; power of 2 */
#define ROWS_MAX       100000000      /* ids have room for this many */
#define PLANT_MIN_ROWS 50             /* room for every planted case */
#define CHUNK          (256u * 1024u) /* gzip input/output chunk */
#define OPENING_FEN    100000000      /* fund account opening balance: 1,000,000.00 yuan */
#define BJ_OFFSET_S    (8 * 3600)
#define FEE_RATE_PPT   6 /* 0.60% = 6 per thousand */

static const char usage_text[] =
        "usage: wxrecon-sim generate --rows N --date YYYY-MM-DD --out DIR [--seed S]\n"
        "                            [--mchid M] [--appid A] [--no-plant]\n"
        "                            [--plant-summary-mismatch] [--gzip-level 1-9]\n";

/* ---- the discrepancies that can be planted (SPEC 6) ---- */

enum plant_kind {
	P_NONE,
	P_MISSING_IN_LEDGER,
	P_MISSED_PAYMENT,
	P_MISSING_IN_BILL,
	P_AMOUNT_MISMATCH,
	P_REFUND_MISSING_IN_LEDGER,
	P_REFUND_MISSING_IN_BILL,
	P_REFUND_AMOUNT_MISMATCH,
	P_REFUND_STATUS_MISMATCH,
	P_DUPLICATE_PAYMENT,
	P_FEE_MISMATCH,
	P_BALANCE_DISCONTINUITY,
	P_ROW_KINDS, /* above: planted at a row of the day */
	P_BILL_MISSING = P_ROW_KINDS,
	P_BILL_SUMMARY_MISMATCH,
	P_KINDS
};

static const char *const plant_names[P_KINDS] = {
	[P_NONE] = "NONE",
	[P_MISSING_IN_LEDGER] = "MISSING_IN_LEDGER",
	[P_MISSED_PAYMENT] = "MISSED_PAYMENT",
	[P_MISSING_IN_BILL] = "MISSING_IN_BILL",
	[P_AMOUNT_MISMATCH] = "AMOUNT_MISMATCH",
	[P_REFUND_MISSING_IN_LEDGER] = "REFUND_MISSING_IN_LEDGER",
	[P_REFUND_MISSING_IN_BILL] = "REFUND_MISSING_IN_BILL",
	[P_REFUND_AMOUNT_MISMATCH] = "REFUND_AMOUNT_MISMATCH",
	[P_REFUND_STATUS_MISMATCH] = "REFUND_STATUS_MISMATCH",
	[P_DUPLICATE_PAYMENT] = "DUPLICATE_PAYMENT",
	[P_FEE_MISMATCH] = "FEE_MISMATCH",
	[P_BALANCE_DISCONTINUITY] = "BALANCE_DISCONTINUITY",
	[P_BILL_MISSING] = "BILL_MISSING",
	[P_BILL_SUMMARY_MISMATCH] = "BILL_SUMMARY_MISMATCH",
};

/* One manifest entry; strings are owned. */
struct planted {
	enum plant_kind kind;
	char date[11];
	char *out_trade_no;
	char *out_refund_no;
	char *refund_id;
	char *transaction_id;
	int has_ledger, has_bill;
	int64_t ledger_amount;
	int64_t bill_amount;
	char *note;
};

/* ---- options and run state ---- */

struct gen_opts {
	int64_t rows;
	const char *date;
	const char *out;
	uint64_t seed;
	const char *mchid;
	const char *appid;
	int plant;
	int plant_summary;
	int level;
};

/* A payment still in the ring. */
struct pay {
	uint64_t seq;      /* ids derive from it */
	uint64_t bref_seq; /* business_ref BIZ<ymd><bref_seq> */
	int64_t paid_ts;
	int64_t created_ts;
	int64_t amount;   /* fen, as the bill says */
	int64_t fee;      /* fen, 0.60% half-up */
	int64_t refunded; /* bill side, fen */
	int64_t fee_refunded;
	int64_t ledger_refunded; /* ledger side, fen */
	uint32_t user;
	uint8_t bank, desc, attach;
	uint8_t plant; /* enum plant_kind or P_NONE */
	uint8_t in_bill;
	uint8_t live;
};

/*
 * A gzip file that also hashes what it compresses. The generator fills one
 * chunk while a worker thread hashes, deflates and writes the previous one
 * (two bills, two workers: the day is bound by deflate, not by formatting).
 * Chunk boundaries depend only on the byte stream, so the output is the same
 * bytes whatever the timing.
 */
struct gzout {
	FILE *f;
	char *tmp_path;
	char *path;
	z_stream z;
	int z_ready;
	EVP_MD_CTX *sha;
	unsigned char *fill; /* generator side */
	size_t fill_len;
	unsigned char *work; /* worker side */
	size_t work_len;
	unsigned char *out;
	uint64_t raw_bytes;
	uint64_t gz_bytes;
	pthread_t thread;
	int thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int sync_ready; /* mu and cv initialised */
	int work_ready; /* guarded by mu: a chunk is handed over */
	int work_last;  /* guarded by mu: and it is the last */
	int err;        /* guarded by mu: first failure */
	char sha1_hex[41];
};

struct gen {
	struct gen_opts o;
	struct wxr_err *err;
	uint64_t rng;
	int64_t day_start; /* Unix seconds of D 00:00:00 +08:00 */
	char ymd[9];       /* D as YYYYMMDD */
	char ymd_prev[9];
	char date_prev[11];
	struct gzout trade_gz, fund_gz;
	struct sim_bill_writer *trade, *fund;
	FILE *orders, *refunds;
	char *orders_tmp, *orders_path, *refunds_tmp, *refunds_path;
	struct pay *ring;
	uint64_t ring_head; /* number of payments ever pushed */
	uint64_t ring_tail; /* number evicted */
	uint64_t pay_seq, refund_seq, flow_seq;
	uint64_t users;
	int64_t balance; /* running fund-flow balance, fen */
	int64_t orders_written, refunds_written;
	int64_t pay_rows, refund_rows; /* bill rows written */
	struct planted plants[P_KINDS + 4];
	size_t nplants;
	char line[8192]; /* ledger line buffer */
};

/* ---- small helpers ---- */

static uint64_t rnd(struct gen *g)
{
	uint64_t z = (g->rng += 0x9E3779B97F4A7C15u);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(struct gen *g, uint64_t n)
{
	return n ? rnd(g) % n : 0;
}

/* Appends s at p; returns the new end. */
static char *cat(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

/* Appends v in decimal, zero-padded to width. */
static char *catu(char *p, uint64_t v, int width)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width)
		tmp[n++] = '0';
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* Appends fen as yuan with 2 decimals. */
static char *cat_yuan(char *p, int64_t fen)
{
	if (fen < 0) {
		*p++ = '-';
		fen = -fen;
	}
	p = catu(p, (uint64_t)(fen / 100), 1);
	*p++ = '.';
	return catu(p, (uint64_t)(fen % 100), 2);
}

/* Appends the RFC 3339 form "yyyy-MM-ddTHH:mm:ss+08:00". */
static char *cat_rfc3339(char *p, int64_t ts)
{
	char b[32];
	size_t n = sim_bill_fmt_time(b, ts);

	if (n == 19)
		b[10] = 'T';
	memcpy(p, b, n);
	return cat(p + n, "+08:00");
}

/* Appends a CSV field with RFC 4180 quoting when it needs it. */
static char *cat_csv(char *p, const char *s)
{
	if (!strpbrk(s, ",\"\r\n"))
		return cat(p, s);
	*p++ = '"';
	for (; *s; s++) {
		if (*s == '"')
			*p++ = '"';
		*p++ = *s;
	}
	*p++ = '"';
	return p;
}

static int64_t fee_of(int64_t amount_fen)
{
	return (amount_fen * FEE_RATE_PPT + 500) / 1000;
}

/* "YYYY-MM-DD" -> Unix seconds of its 00:00:00 Beijing time. */
static int parse_date(const char *s, int64_t *out_day_start)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned y, m, d;
	int leap;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	y = (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0'));
	m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
	d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1971 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] ||
	    (m == 2 && d == 29 && !leap))
		return -1;
	*out_day_start = days_from_civil(y, m, d) * 86400 - BJ_OFFSET_S;
	return 0;
}

/* The Beijing date of ts as "YYYY-MM-DD" and "YYYYMMDD". */
static void date_strings(int64_t ts, char date[11], char ymd[9])
{
	char b[32];

	sim_bill_fmt_time(b, ts);
	memcpy(date, b, 10);
	date[10] = '\0';
	memcpy(ymd, b, 4);
	memcpy(ymd + 4, b + 5, 2);
	memcpy(ymd + 6, b + 8, 2);
	ymd[8] = '\0';
}

/* ---- ids and row content ---- */

static const char *const banks[] = {
	"OTHERS", "CMB_DEBIT", "ICBC_DEBIT", "CCB_CREDIT", "ABC_DEBIT", "BOC_CREDIT", "CFT",
};

/* Goods names: Chinese, some with a comma or double quotes (the parser's hard cases). */
static const char *const goods[] = {
	"月卡",           "季卡",
	"年卡会员",       "金币礼包x100",
	"皮肤:星河漫游",  "VIP会员(连续包月)",
	"礼包,\"大号\"",  "限定礼盒,含周边",
	"\"新春\"特惠包", "咖啡兑换券",
	"电子书《三体》", "课程:C语言入门",
	"充值 50 元",     "外卖订单 #A-17",
	"Premium plan",   "月卡",
};

static const char *const refund_reasons[] = {
	"",
	"",
	"",
	"用户申请退款",
	"用户申请退款\n原因:不想要了", /* a newline: the bill writes it as \n */
};

/* The i-th byte of a 27-char openid tail, base64url-ish, from the user number. */
static void openid_of(const struct gen *g, uint32_t user, char out[29])
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint64_t h = g->o.seed ^ ((uint64_t)user * 0xD1B54A32D192ED03u);

	out[0] = 'o';
	for (int i = 1; i < 28; i++) {
		h ^= h >> 29;
		h *= 0xBF58476D1CE4E5B9u;
		h ^= h >> 32;
		out[i] = al[h & 63];
	}
	out[28] = '\0';
}

static void attach_of(const struct pay *p, char *out, size_t cap)
{
	switch (p->attach) {
	case 0:
		out[0] = '\0';
		break;
	case 1:
		snprintf(out, cap, "u=%" PRIu32, p->user);
		break;
	case 2:
		snprintf(out, cap, "u=%" PRIu32 ",ch=app", p->user);
		break;
	default:
		snprintf(out, cap, "src=\"push\";u=%" PRIu32, p->user);
		break;
	}
}

static void out_trade_no_of(const char *ymd, uint64_t seq, char out[40])
{
	char *p = cat(out, "ORD");

	p = cat(p, ymd);
	p = catu(p, seq, 9);
	*p = '\0';
}

static void txn_of(const char *ymd, uint64_t seq, char out[40])
{
	char *p = cat(out, "4200000001");

	p = cat(p, ymd);
	p = catu(p, seq, 10);
	*p = '\0';
}

static void bref_of(const char *ymd, uint64_t seq, char out[40])
{
	char *p = cat(out, "BIZ");

	p = cat(p, ymd);
	p = catu(p, seq, 9);
	*p = '\0';
}

static void refund_id_of(const char *ymd, uint64_t seq, char out[40])
{
	char *p = cat(out, "5030000001");

	p = cat(p, ymd);
	p = catu(p, seq, 11);
	*p = '\0';
}

static void out_refund_no_of(const char *ymd, uint64_t seq, char out[40])
{
	char *p = cat(out, "RF");

	p = cat(p, ymd);
	*p++ = '-';
	p = catu(p, seq, 1);
	*p = '\0';
}

static void flow_no_of(struct gen *g, char out[64])
{
	char *p = cat(out, g->o.mchid);

	p = cat(p, g->ymd);
	p = catu(p, ++g->flow_seq, 10);
	*p = '\0';
}

static int64_t random_amount(struct gen *g)
{
	uint64_t r = rnd_below(g, 100);

	if (r < 3)
		return 1 + (int64_t)rnd_below(g, 99); /* 0.01 - 0.99 */
	if (r < 60)
		return 100 + (int64_t)rnd_below(g, 19900); /* 1 - 199.99 */
	if (r < 92)
		return 20000 + (int64_t)rnd_below(g, 80000); /* 200 - 999.99 */
	if (r < 99)
		return 100000 + (int64_t)rnd_below(g, 400000); /* 1000 - 4999.99 */
	return 500000 + (int64_t)rnd_below(g, 300001);         /* 5000 - 8000 */
}

/* Time of bill row i: spread over the day, never decreasing, ends before 23:59:50. */
static int64_t row_ts(const struct gen *g, int64_t i)
{
	return g->day_start + 1 + i * 86388 / g->o.rows;
}

/* ---- gzip + SHA-1 output ---- */

/* Worker: hashes and deflates one chunk into the file. */
static int gz_pump(struct gzout *gz, const unsigned char *in, size_t len, int flush)
{
	int zr;

	if (len && EVP_DigestUpdate(gz->sha, in, len) != 1)
		return WXR_EFAIL;
	gz->z.next_in = (unsigned char *)(uintptr_t)in;
	gz->z.avail_in = (uInt)len;
	do {
		size_t have;

		gz->z.next_out = gz->out;
		gz->z.avail_out = CHUNK;
		zr = deflate(&gz->z, flush);
		if (zr == Z_STREAM_ERROR)
			return WXR_EFAIL;
		have = CHUNK - gz->z.avail_out;
		if (have && fwrite(gz->out, 1, have, gz->f) != have)
			return WXR_EIO;
		gz->gz_bytes += have;
	} while (gz->z.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
	return 0;
}

static void *gz_worker(void *arg)
{
	struct gzout *gz = arg;
	int last, failed, r = 0;

	do {
		pthread_mutex_lock(&gz->mu);
		while (!gz->work_ready)
			pthread_cond_wait(&gz->cv, &gz->mu);
		last = gz->work_last;
		failed = gz->err < 0;
		pthread_mutex_unlock(&gz->mu);

		if (!failed)
			r = gz_pump(gz, gz->work, gz->work_len, last ? Z_FINISH : Z_NO_FLUSH);

		pthread_mutex_lock(&gz->mu);
		if (r < 0 && gz->err == 0)
			gz->err = r;
		gz->work_ready = 0;
		pthread_cond_broadcast(&gz->cv);
		pthread_mutex_unlock(&gz->mu);
	} while (!last);
	return NULL;
}

static int gz_open(struct gzout *gz, const char *dir, const char *name, int level,
                   struct wxr_err *err)
{
	memset(gz, 0, sizeof(*gz));
	gz->path = xasprintf("%s/%s", dir, name);
	gz->tmp_path = xasprintf("%s.tmp", gz->path);
	gz->f = fopen(gz->tmp_path, "wb");
	if (!gz->f)
		return err_set(err, WXR_EIO, "cannot create '%s': %s", gz->tmp_path,
		               strerror(errno));
	if (deflateInit2(&gz->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return err_set(err, WXR_EFAIL, "deflateInit2 failed");
	gz->z_ready = 1;
	gz->sha = EVP_MD_CTX_new();
	if (!gz->sha || EVP_DigestInit_ex(gz->sha, EVP_sha1(), NULL) != 1)
		return err_set(err, WXR_EFAIL, "sha1 init failed");
	gz->fill = xmalloc(CHUNK);
	gz->work = xmalloc(CHUNK);
	gz->out = xmalloc(CHUNK);
	pthread_mutex_init(&gz->mu, NULL);
	pthread_cond_init(&gz->cv, NULL);
	gz->sync_ready = 1;
	if (pthread_create(&gz->thread, NULL, gz_worker, gz) != 0)
		return err_set(err, WXR_EFAIL, "cannot start a gzip thread");
	gz->thread_started = 1;
	return 0;
}

/* Hands the filled chunk to the worker once it is free; returns its error, if any. */
static int gz_handoff(struct gzout *gz, int last)
{
	unsigned char *t;
	int r;

	pthread_mutex_lock(&gz->mu);
	while (gz->work_ready)
		pthread_cond_wait(&gz->cv, &gz->mu);
	t = gz->work;
	gz->work = gz->fill;
	gz->fill = t;
	gz->work_len = gz->fill_len;
	gz->fill_len = 0;
	gz->work_last = last;
	gz->work_ready = 1;
	r = gz->err;
	pthread_cond_broadcast(&gz->cv);
	pthread_mutex_unlock(&gz->mu);
	return r;
}

/* Ends the worker (if it runs) and waits for it; returns the stream's error. */
static int gz_stop(struct gzout *gz)
{
	int r;

	if (!gz->thread_started)
		return gz->err;
	gz_handoff(gz, 1);
	pthread_join(gz->thread, NULL);
	gz->thread_started = 0;
	r = gz->err;
	return r;
}

/* The bill writer's sink. */
static int gz_sink(void *ctx, const void *p, size_t n)
{
	struct gzout *gz = ctx;
	const unsigned char *s = p;

	gz->raw_bytes += n;
	while (n) {
		size_t room = CHUNK - gz->fill_len;
		size_t take = n < room ? n : room;

		memcpy(gz->fill + gz->fill_len, s, take);
		gz->fill_len += take;
		s += take;
		n -= take;
		if (gz->fill_len == CHUNK) {
			int r = gz_handoff(gz, 0);

			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int write_small_file(const char *path, const char *text, struct wxr_err *err)
{
	char *tmp = xasprintf("%s.tmp", path);
	FILE *f = fopen(tmp, "wb");
	int r = 0;

	if (!f) {
		r = err_set(err, WXR_EIO, "cannot create '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (fputs(text, f) == EOF)
		r = err_set(err, WXR_EIO, "cannot write '%s'", tmp);
	if (fclose(f) != 0 && r == 0)
		r = err_set(err, WXR_EIO, "cannot write '%s': %s", tmp, strerror(errno));
	if (r == 0 && rename(tmp, path) != 0)
		r = err_set(err, WXR_EIO, "cannot rename '%s': %s", tmp, strerror(errno));
out:
	free(tmp);
	return r;
}

/* Finishes the stream, renames the file into place and writes <file>.sha1. */
static int gz_finish(struct gzout *gz, struct wxr_err *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *sha_path = NULL;
	char text[48];
	int r;

	r = gz_stop(gz);
	if (r < 0)
		return err_set(err, r, "cannot write '%s'", gz->tmp_path);
	if (EVP_DigestFinal_ex(gz->sha, md, &mdlen) != 1 || mdlen != 20)
		return err_set(err, WXR_EFAIL, "sha1 failed");
	for (unsigned i = 0; i < 20; i++)
		snprintf(gz->sha1_hex + 2 * i, 3, "%02x", md[i]);
	r = fclose(gz->f);
	gz->f = NULL;
	if (r != 0)
		return err_set(err, WXR_EIO, "cannot write '%s': %s", gz->tmp_path,
		               strerror(errno));
	if (rename(gz->tmp_path, gz->path) != 0)
		return err_set(err, WXR_EIO, "cannot rename '%s': %s", gz->tmp_path,
		               strerror(errno));
	snprintf(text, sizeof(text), "%s\n", gz->sha1_hex);
	sha_path = xasprintf("%s.sha1", gz->path);
	r = write_small_file(sha_path, text, err);
	free(sha_path);
	return r;
}

static void gz_release(struct gzout *gz)
{
	gz_stop(gz);
	if (gz->f) {
		fclose(gz->f);
		remove(gz->tmp_path);
	}
	if (gz->z_ready)
		deflateEnd(&gz->z);
	if (gz->sync_ready) {
		pthread_mutex_destroy(&gz->mu);
		pthread_cond_destroy(&gz->cv);
	}
	EVP_MD_CTX_free(gz->sha);
	free(gz->fill);
	free(gz->work);
	free(gz->out);
	free(gz->path);
	free(gz->tmp_path);
	memset(gz, 0, sizeof(*gz));
}

/* ---- the ledger CSVs ---- */

static int ledger_put(struct gen *g, FILE *f, const char *end)
{
	size_t n = (size_t)(end - g->line);

	if (fwrite(g->line, 1, n, f) != n)
		return err_set(g->err, WXR_EIO, "cannot write the ledger: %s", strerror(errno));
	return 0;
}

/*
 * One ledger_orders line. state NULL: from the refunds (PAID, REFUNDED,
 * PARTIAL_REFUNDED). amount is what the ledger says.
 */
static int ledger_order(struct gen *g, const char *ymd, const struct pay *p, const char *state,
                        int64_t amount, int with_payment)
{
	char otn[40], txn[40], bref[40], att[64];
	char *e = g->line;

	out_trade_no_of(ymd, p->seq, otn);
	txn_of(ymd, p->seq, txn);
	bref_of(ymd, p->bref_seq, bref);
	attach_of(p, att, sizeof(att));
	if (!state) {
		if (p->ledger_refunded == 0)
			state = "PAID";
		else if (p->ledger_refunded >= amount)
			state = "REFUNDED";
		else
			state = "PARTIAL_REFUNDED";
	}
	e = cat(e, otn);
	*e++ = ',';
	if (with_payment)
		e = cat(e, txn);
	*e++ = ',';
	e = catu(e, (uint64_t)amount, 1);
	e = cat(e, ",CNY,");
	e = cat(e, state);
	*e++ = ',';
	e = cat_rfc3339(e, p->created_ts);
	*e++ = ',';
	e = cat_rfc3339(e, p->created_ts + 7200);
	*e++ = ',';
	if (with_payment)
		e = cat_rfc3339(e, p->paid_ts);
	*e++ = ',';
	e = cat_csv(e, att);
	*e++ = ',';
	e = cat(e, bref);
	*e++ = '\n';
	g->orders_written++;
	return ledger_put(g, g->orders, e);
}

static int ledger_refund(struct gen *g, const char *orn, const char *otn, const char *refund_id,
                         int64_t amount, const char *state, int64_t created_ts, int64_t success_ts)
{
	char *e = g->line;

	e = cat(e, orn);
	*e++ = ',';
	e = cat(e, otn);
	*e++ = ',';
	e = cat(e, refund_id);
	*e++ = ',';
	e = catu(e, (uint64_t)amount, 1);
	*e++ = ',';
	e = cat(e, state);
	*e++ = ',';
	e = cat_rfc3339(e, created_ts);
	*e++ = ',';
	if (success_ts)
		e = cat_rfc3339(e, success_ts);
	*e++ = '\n';
	g->refunds_written++;
	return ledger_put(g, g->refunds, e);
}

/* A payment leaves the ring: its ledger line, with whatever was planted on it. */
static int ring_evict(struct gen *g)
{
	struct pay *p = &g->ring[g->ring_tail % RING_SIZE];
	int r = 0;

	g->ring_tail++;
	if (!p->live)
		return 0;
	p->live = 0;
	switch (p->plant) {
	case P_MISSING_IN_LEDGER:
		break;
	case P_MISSED_PAYMENT:
		r = ledger_order(g, g->ymd, p, "NOTPAY", p->amount, 0);
		break;
	case P_AMOUNT_MISMATCH:
		r = ledger_order(g, g->ymd, p, NULL, p->amount + 100, 1);
		break;
	default:
		r = ledger_order(g, g->ymd, p, NULL, p->amount, 1);
		break;
	}
	return r;
}

static struct pay *ring_push(struct gen *g)
{
	struct pay *p;

	if (g->ring_head - g->ring_tail == RING_SIZE && ring_evict(g) < 0)
		return NULL;
	p = &g->ring[g->ring_head % RING_SIZE];
	g->ring_head++;
	memset(p, 0, sizeof(*p));
	p->live = 1;
	return p;
}

/* ---- bill rows ---- */

static int fund_line(struct gen *g, int64_t ts, const char *biz_no, const char *name,
                     const char *type, int income, int64_t amount, const char *applicant,
                     const char *remark, const char *voucher, int64_t balance_jump)
{
	struct sim_fund_row f;
	char flow[64];
	int r;

	flow_no_of(g, flow);
	g->balance += income ? amount : -amount;
	g->balance += balance_jump;
	f.booked_ts = ts;
	f.biz_no = biz_no;
	f.flow_no = flow;
	f.biz_name = name;
	f.biz_type = type;
	f.income = income;
	f.amount_fen = amount;
	f.balance_fen = g->balance;
	f.applicant = applicant;
	f.remark = remark;
	f.voucher_no = voucher;
	r = sim_bill_fund_row(g->fund, &f);
	if (r < 0)
		return err_set(g->err, r, "cannot write the fund-flow bill");
	return 0;
}

/* The text of a payment, for its rows. */
struct pay_text {
	char otn[40], txn[40], openid[29], att[64];
};

/* The columns a payment's rows share (payment and refund rows alike). */
static void trade_row_of(const struct gen *g, const struct pay *p, int64_t ts, struct pay_text *pt,
                         struct sim_trade_row *t)
{
	out_trade_no_of(g->ymd, p->seq, pt->otn);
	txn_of(g->ymd, p->seq, pt->txn);
	openid_of(g, p->user, pt->openid);
	attach_of(p, pt->att, sizeof(pt->att));
	memset(t, 0, sizeof(*t));
	t->trade_ts = ts;
	t->appid = g->o.appid;
	t->mchid = g->o.mchid;
	t->transaction_id = pt->txn;
	t->out_trade_no = pt->otn;
	t->openid = pt->openid;
	t->trade_type = "APP";
	t->bank_type = banks[p->bank];
	t->currency = "CNY";
	t->description = goods[p->desc];
	t->attach = pt->att;
	t->rate = "0.60%";
}

/* A new payment at ts: its bill row and fund-flow lines; returns it (in the ring). */
static struct pay *payment(struct gen *g, int64_t ts, enum plant_kind plant, int64_t amount,
                           int64_t fee_skew_fen, int64_t balance_jump)
{
	struct sim_trade_row t;
	struct pay_text pt;
	struct pay *p;
	int r;

	p = ring_push(g);
	if (!p)
		return NULL;
	p->seq = ++g->pay_seq;
	p->bref_seq = p->seq;
	p->paid_ts = ts;
	p->created_ts = ts - 10 - (int64_t)rnd_below(g, 600);
	p->amount = amount ? amount : random_amount(g);
	p->fee = fee_of(p->amount);
	p->user = (uint32_t)rnd_below(g, g->users);
	p->bank = (uint8_t)rnd_below(g, sizeof(banks) / sizeof(banks[0]));
	p->desc = (uint8_t)rnd_below(g, sizeof(goods) / sizeof(goods[0]));
	/* attach: 40% empty, else "u=N" (8/20), "u=N,ch=app" (8/20), "src=\"push\";u=N" (4/20) */
	p->attach = (uint8_t)(rnd_below(g, 10) < 4 ? 0 : 1 + rnd_below(g, 20) / 8);
	p->plant = (uint8_t)plant;
	p->in_bill = 1;

	trade_row_of(g, p, ts, &pt, &t);
	t.row_kind = "SUCCESS";
	t.settlement_fen = p->amount;
	t.fee_e5 = (p->fee + fee_skew_fen) * 1000;
	t.order_fen = p->amount;
	r = sim_bill_trade_row(g->trade, &t);
	if (r < 0) {
		err_set(g->err, r, "cannot write the trade bill");
		return NULL;
	}
	g->pay_rows++;
	r = fund_line(g, ts + 1, pt.txn, "交易", "交易", 1, p->amount, "system", "", pt.otn,
	              balance_jump);
	if (r >= 0 && p->fee > 0)
		r = fund_line(g, ts + 1, pt.txn, "交易", "扣除交易手续费", 0, p->fee, "system", "",
		              pt.otn, 0);
	return r < 0 ? NULL : p;
}

/*
 * A refund of p accepted at ts: its bill row, fund-flow lines and (unless
 * planted otherwise) its ledger line. out: the refund's ids.
 */
static int refund(struct gen *g, struct pay *p, int64_t ts, int64_t amount, enum plant_kind plant,
                  char orn[40], char rid[40])
{
	struct sim_trade_row t;
	struct pay_text pt;
	char remark[160];
	const char *reason;
	int64_t fee_back;
	int64_t ledger_amount = amount;
	int r;

	if (p->refunded + amount >= p->amount)
		fee_back = p->fee - p->fee_refunded;
	else
		fee_back = (p->fee * amount * 2 + p->amount) / (2 * p->amount);
	if (fee_back > p->fee - p->fee_refunded)
		fee_back = p->fee - p->fee_refunded;
	p->refunded += amount;
	p->fee_refunded += fee_back;
	g->refund_seq++;
	out_refund_no_of(g->ymd, g->refund_seq, orn);
	refund_id_of(g->ymd, g->refund_seq, rid);

	trade_row_of(g, p, ts, &pt, &t);
	t.row_kind = "REFUND";
	t.refund_id = rid;
	t.out_refund_no = orn;
	t.refund_fen = amount;
	t.refund_type = "ORIGINAL";
	t.refund_status = plant == P_REFUND_STATUS_MISMATCH ? "PROCESSING" : "SUCCESS";
	t.refund_apply_ts = ts;
	t.refund_success_ts = plant == P_REFUND_STATUS_MISMATCH ? 0 : ts + 1;
	t.fee_e5 = -fee_back * 1000;
	t.refund_apply_fen = amount;
	r = sim_bill_trade_row(g->trade, &t);
	if (r < 0)
		return err_set(g->err, r, "cannot write the trade bill");
	g->refund_rows++;

	reason = refund_reasons[rnd_below(g, sizeof(refund_reasons) / sizeof(refund_reasons[0]))];
	{
		char *e = cat(remark, "退款总金额");

		e = cat_yuan(e, amount);
		e = cat(e, "元;含手续费");
		e = cat_yuan(e, fee_back);
		e = cat(e, "元");
		if (*reason) {
			*e++ = ';';
			e = cat(e, reason);
		}
		*e = '\0';
	}
	{
		char applicant[48];

		snprintf(applicant, sizeof(applicant), "%sAPI", g->o.mchid);
		r = fund_line(g, ts + 1, rid, "退款", "退款", 0, amount, applicant, remark, orn, 0);
		if (r >= 0 && fee_back > 0)
			r = fund_line(g, ts + 1, rid, "退款", "退还交易手续费", 1, fee_back,
			              applicant, "", orn, 0);
		if (r < 0)
			return r;
	}

	switch (plant) {
	case P_REFUND_MISSING_IN_LEDGER:
		return 0;
	case P_REFUND_AMOUNT_MISMATCH:
		ledger_amount = amount + 100;
		break;
	default:
		break;
	}
	p->ledger_refunded += ledger_amount;
	return ledger_refund(g, orn, pt.otn, rid, ledger_amount, "SUCCESS", ts, ts + 1);
}

/* ---- planting ---- */

static struct planted *plant_add(struct gen *g, enum plant_kind kind, const char *date)
{
	struct planted *pl;

	if (g->nplants >= sizeof(g->plants) / sizeof(g->plants[0]))
		BUG("too many planted entries");
	pl = &g->plants[g->nplants++];
	memset(pl, 0, sizeof(*pl));
	pl->kind = kind;
	snprintf(pl->date, sizeof(pl->date), "%s", date);
	return pl;
}

static void plant_ids(struct gen *g, struct planted *pl, const struct pay *p)
{
	char b[40];

	out_trade_no_of(g->ymd, p->seq, b);
	pl->out_trade_no = xstrdup(b);
	txn_of(g->ymd, p->seq, b);
	pl->transaction_id = xstrdup(b);
}

static void plant_amounts(struct planted *pl, int has_ledger, int64_t ledger, int has_bill,
                          int64_t bill)
{
	pl->has_ledger = has_ledger;
	pl->ledger_amount = ledger;
	pl->has_bill = has_bill;
	pl->bill_amount = bill;
}

/* Runs the planted case `kind` at bill row i; returns the bill rows it used, or < 0. */
static int64_t plant_at(struct gen *g, enum plant_kind kind, int64_t i)
{
	int64_t ts = row_ts(g, i);
	int64_t ts2 = row_ts(g, i + 1);
	const char *date = g->o.date;
	struct planted *pl;
	struct pay *p, *q;
	char orn[40], rid[40];
	int64_t amt;
	int r;

	switch (kind) {
	case P_MISSING_IN_LEDGER:
		p = payment(g, ts, kind, 0, 0, 0);
		if (!p)
			return -1;
		pl = plant_add(g, kind, date);
		plant_ids(g, pl, p);
		plant_amounts(pl, 0, 0, 1, p->amount);
		pl->note = xstrdup("paid in the bill and the fund flow; no ledger_orders line");
		return 1;
	case P_MISSED_PAYMENT:
		p = payment(g, ts, kind, 0, 0, 0);
		if (!p)
			return -1;
		pl = plant_add(g, kind, date);
		plant_ids(g, pl, p);
		plant_amounts(pl, 1, p->amount, 1, p->amount);
		pl->note = xstrdup("ledger NOTPAY (no transaction_id, no paid_at); the bill says "
		                   "paid; the query should answer SUCCESS");
		return 1;
	case P_MISSING_IN_BILL:
		p = ring_push(g);
		if (!p)
			return -1;
		p->seq = ++g->pay_seq;
		p->bref_seq = p->seq;
		p->paid_ts = ts;
		p->created_ts = ts - 120;
		p->amount = 8800;
		p->fee = fee_of(p->amount);
		p->user = 1;
		p->desc = 0;
		p->attach = 1;
		p->plant = (uint8_t)kind;
		p->in_bill = 0;
		pl = plant_add(g, kind, date);
		plant_ids(g, pl, p);
		plant_amounts(pl, 1, p->amount, 0, 0);
		pl->note = xstrdup("ledger PAID on this date with a transaction_id WeChat Pay does "
		                   "not know; in no bill and no fund flow, and not paid on the "
		                   "next day either (the query should answer NOTPAY or CLOSED)");
		return 0;
	case P_AMOUNT_MISMATCH:
		p = payment(g, ts, kind, 0, 0, 0);
		if (!p)
			return -1;
		pl = plant_add(g, kind, date);
		plant_ids(g, pl, p);
		plant_amounts(pl, 1, p->amount + 100, 1, p->amount);
		pl->note = xstrdup("ledger amount_total is the bill's 应结订单金额 + 100 fen");
		return 1;
	case P_REFUND_MISSING_IN_LEDGER:
	case P_REFUND_AMOUNT_MISMATCH:
	case P_REFUND_STATUS_MISMATCH:
		p = payment(g, ts, kind, 20000 + (int64_t)rnd_below(g, 30000), 0, 0);
		if (!p)
			return -1;
		amt = p->amount / 2;
		r = refund(g, p, ts2, amt, kind, orn, rid);
		if (r < 0)
			return r;
		pl = plant_add(g, kind, date);
		plant_ids(g, pl, p);
		pl->out_refund_no = xstrdup(orn);
		pl->refund_id = xstrdup(rid);
		if (kind == P_REFUND_MISSING_IN_LEDGER) {
			plant_amounts(pl, 0, 0, 1, amt);
			pl->note = xstrdup("refund row in the bill and the fund flow; no "
			                   "ledger_refunds line (ledger order stays PAID)");
		} else if (kind == P_REFUND_AMOUNT_MISMATCH) {
			plant_amounts(pl, 1, p->ledger_refunded, 1, amt);
			pl->note = xstrdup("ledger amount_refund is the bill's 退款金额 + 100 fen");
		} else {
			plant_amounts(pl, 1, amt, 1, amt);
			pl->note = xstrdup(
			        "bill 退款状态 PROCESSING (a snapshot, 退款成功时间 empty), "
			        "ledger SUCCESS; the refund query decides: it should "
			        "answer SUCCESS");
		}
		return 2;
	case P_REFUND_MISSING_IN_BILL:
		p = payment(g, ts, kind, 20000 + (int64_t)rnd_below(g, 30000), 0, 0);
		if (!p)
			return -1;
		amt = p->amount / 4;
		g->refund_seq++;
		out_refund_no_of(g->ymd, g->refund_seq, orn);
		refund_id_of(g->ymd, g->refund_seq, rid);
		{
			char otn[40];

			out_trade_no_of(g->ymd, p->seq, otn);
			r = ledger_refund(g, orn, otn, rid, amt, "SUCCESS", ts + 30, ts + 31);
		}
		if (r < 0)
			return r;
		p->ledger_refunded += amt;
		pl = plant_add(g, kind, date);
		plant_ids(g, pl, p);
		pl->out_refund_no = xstrdup(orn);
		pl->refund_id = xstrdup(rid);
		plant_amounts(pl, 1, amt, 0, 0);
		pl->note = xstrdup("ledger refund SUCCESS created on this date; the payment is in "
		                   "the bill, the refund is in neither bill");
		return 1;
	case P_DUPLICATE_PAYMENT:
		p = payment(g, ts, kind, 0, 0, 0);
		if (!p)
			return -1;
		q = payment(g, ts2, kind, p->amount, 0, 0);
		if (!q)
			return -1;
		q->bref_seq = p->bref_seq;
		pl = plant_add(g, kind, date);
		plant_ids(g, pl, q);
		plant_amounts(pl, 1, q->amount, 1, q->amount);
		{
			char bref[40], first[40];

			bref_of(g->ymd, p->bref_seq, bref);
			out_trade_no_of(g->ymd, p->seq, first);
			pl->note = xasprintf("second paid order for business_ref %s (the first is "
			                     "%s); both in the bill and the ledger",
			                     bref, first);
		}
		return 2;
	case P_FEE_MISMATCH:
		p = payment(g, ts, kind, 10000 + (int64_t)rnd_below(g, 90000), 1, 0);
		if (!p)
			return -1;
		pl = plant_add(g, kind, date);
		plant_ids(g, pl, p);
		plant_amounts(pl, 1, p->fee, 1, p->fee + 1);
		pl->note = xstrdup("amounts are fees in fen: ledger_amount = the fund flow's "
		                   "扣除交易手续费 line, bill_amount = the trade bill's 手续费 "
		                   "(one fen more)");
		return 1;
	case P_BALANCE_DISCONTINUITY: {
		int64_t before = g->balance;

		p = payment(g, ts, kind, 0, 0, 10000);
		if (!p)
			return -1;
		pl = plant_add(g, kind, date);
		plant_ids(g, pl, p);
		plant_amounts(pl, 1, before + p->amount, 1, before + p->amount + 10000);
		pl->note =
		        xasprintf("fund flow: the 交易 income line of this payment (资金流水单号 "
		                  "%s%s%010" PRIu64 ") shows a balance 100.00 yuan above the "
		                  "running sum (ledger_amount = expected, bill_amount = "
		                  "written); later lines continue from it, so there is exactly "
		                  "one break",
		                  g->o.mchid, g->ymd, g->flow_seq - (p->fee > 0 ? 1 : 0));
		return 1;
	}
	default:
		BUG("no row plant for kind %d", (int)kind);
	}
}

/* BILL_MISSING: two orders paid on D-1 in the ledger, and no D-1 bill in DIR. */
static int plant_prev_day(struct gen *g)
{
	struct planted *pl;
	struct pay p;
	char b[40];
	int64_t total = 0;
	int r;

	for (int k = 1; k <= 2; k++) {
		memset(&p, 0, sizeof(p));
		p.seq = (uint64_t)k;
		p.bref_seq = (uint64_t)k;
		p.paid_ts = g->day_start - 86400 + 36000 + 3600 * k;
		p.created_ts = p.paid_ts - 60;
		p.amount = 1200 * k;
		p.user = (uint32_t)k;
		p.attach = 1;
		r = ledger_order(g, g->ymd_prev, &p, "PAID", p.amount, 1);
		if (r < 0)
			return r;
		total += p.amount;
	}
	pl = plant_add(g, P_BILL_MISSING, g->date_prev);
	out_trade_no_of(g->ymd_prev, 1, b);
	pl->out_trade_no = xstrdup(b);
	txn_of(g->ymd_prev, 1, b);
	pl->transaction_id = xstrdup(b);
	plant_amounts(pl, 1, total, 0, 0);
	pl->note = xasprintf("2 ledger orders paid on %s (ORD%s000000001, ORD%s000000002; "
	                     "ledger_amount is their sum); DIR has no bill for that date, so the "
	                     "trade-bill API should answer NO_STATEMENT_EXIST or not ready",
	                     g->date_prev, g->ymd_prev, g->ymd_prev);
	return 0;
}

/* ---- the day ---- */

/* A normal row: mostly a payment, else a refund of a payment still in the ring. */
static int normal_row(struct gen *g, int64_t i)
{
	int64_t ts = row_ts(g, i);
	uint64_t fill = g->ring_head - g->ring_tail;
	char orn[40], rid[40];

	if (fill > 0 && rnd_below(g, 100) < 10) {
		struct pay *p = &g->ring[(g->ring_head - 1 - rnd_below(g, fill)) % RING_SIZE];
		int64_t left = p->amount - p->refunded;

		if (p->live && p->in_bill && p->plant == P_NONE && left > 0) {
			int64_t amt;

			if (p->refunded == 0 && rnd_below(g, 100) < 70)
				amt = left;
			else
				amt = 1 + (int64_t)rnd_below(g, (uint64_t)left);
			return refund(g, p, ts, amt, P_NONE, orn, rid);
		}
	}
	return payment(g, ts, P_NONE, 0, 0, 0) ? 0 : -1;
}

static int run_day(struct gen *g)
{
	enum plant_kind sched[P_ROW_KINDS];
	int64_t at[P_ROW_KINDS];
	size_t nsched = 0, next = 0;
	int64_t i = 0;
	int r;

	if (g->o.plant) {
		size_t k = P_ROW_KINDS - 1;

		for (int kind = P_NONE + 1; kind < P_ROW_KINDS; kind++)
			sched[nsched++] = (enum plant_kind)kind;
		for (size_t j = 0; j < k; j++)
			at[j] = (int64_t)((2 * j + 1) * (uint64_t)g->o.rows / (2 * k));
		r = plant_prev_day(g);
		if (r < 0)
			return r;
	}
	while (i < g->o.rows) {
		/* A planted case uses at most 2 rows; it must not run past the day. */
		if (next < nsched && at[next] <= i && i + 2 <= g->o.rows) {
			int64_t used = plant_at(g, sched[next], i);

			if (used < 0)
				return g->err->code < 0 ? g->err->code : WXR_EFAIL;
			i += used;
			next++;
			continue;
		}
		r = normal_row(g, i);
		if (r < 0)
			return r;
		i++;
	}
	if (next != nsched)
		BUG("planted %zu of %zu cases", next, nsched);
	while (g->ring_tail < g->ring_head) {
		r = ring_evict(g);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- manifest ---- */

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static int write_manifest(struct gen *g, const struct sim_bill_totals *tt,
                          const struct sim_bill_totals *ft)
{
	json_t *root = json_object();
	json_t *arr = json_array();
	json_t *files = json_object();
	json_t *totals = json_object();
	char *path = NULL, *text = NULL, *full = NULL;
	int r;

	json_object_set_new(root, "date", json_string(g->o.date));
	json_object_set_new(root, "rows", json_integer((json_int_t)g->o.rows));
	json_object_set_new(root, "seed", json_integer((json_int_t)g->o.seed));
	json_object_set_new(root, "mchid", json_string(g->o.mchid));
	json_object_set_new(root, "appid", json_string(g->o.appid));
	json_object_set_new(root, "opening_balance", json_integer(OPENING_FEN));
	json_object_set_new(root, "closing_balance", json_integer((json_int_t)g->balance));
	json_object_set_new(root, "amount_unit", json_string("fen"));

	json_object_set_new(files, "trade_bill", json_string(strrchr(g->trade_gz.path, '/') + 1));
	json_object_set_new(files, "trade_bill_sha1", json_string(g->trade_gz.sha1_hex));
	json_object_set_new(files, "fundflow_bill", json_string(strrchr(g->fund_gz.path, '/') + 1));
	json_object_set_new(files, "fundflow_bill_sha1", json_string(g->fund_gz.sha1_hex));
	json_object_set_new(files, "ledger_orders", json_string("ledger_orders.csv"));
	json_object_set_new(files, "ledger_refunds", json_string("ledger_refunds.csv"));
	json_object_set_new(root, "files", files);

	{
		json_t *pay = json_object(), *ref = json_object();

		json_object_set_new(pay, "count", json_integer((json_int_t)g->pay_rows));
		json_object_set_new(pay, "amount", json_integer((json_int_t)tt->settlement_fen));
		json_object_set_new(ref, "count", json_integer((json_int_t)g->refund_rows));
		json_object_set_new(ref, "amount", json_integer((json_int_t)tt->refund_fen));
		json_object_set_new(totals, "trade_rows", json_integer((json_int_t)tt->rows));
		json_object_set_new(totals, "payments", pay);
		json_object_set_new(totals, "refunds", ref);
		json_object_set_new(totals, "fees", json_integer((json_int_t)tt->fee_e5));
		json_object_set_new(totals, "fundflow_rows", json_integer((json_int_t)ft->rows));
		json_object_set_new(totals, "fundflow_income",
		                    json_integer((json_int_t)ft->income_fen));
		json_object_set_new(totals, "fundflow_expense",
		                    json_integer((json_int_t)ft->expense_fen));
		json_object_set_new(totals, "ledger_orders", json_integer(g->orders_written));
		json_object_set_new(totals, "ledger_refunds", json_integer(g->refunds_written));
		json_object_set_new(root, "totals", totals);
	}

	for (size_t k = 0; k < g->nplants; k++) {
		const struct planted *pl = &g->plants[k];
		json_t *e = json_object();

		json_object_set_new(e, "kind", json_string(plant_names[pl->kind]));
		json_object_set_new(e, "date", json_string(pl->date));
		json_object_set_new(e, "out_trade_no", jstr_or_null(pl->out_trade_no));
		json_object_set_new(e, "out_refund_no", jstr_or_null(pl->out_refund_no));
		json_object_set_new(e, "transaction_id", jstr_or_null(pl->transaction_id));
		json_object_set_new(e, "refund_id", jstr_or_null(pl->refund_id));
		json_object_set_new(e, "ledger_amount",
		                    pl->has_ledger ? json_integer((json_int_t)pl->ledger_amount)
		                                   : json_null());
		json_object_set_new(e, "bill_amount",
		                    pl->has_bill ? json_integer((json_int_t)pl->bill_amount)
		                                 : json_null());
		json_object_set_new(e, "note", jstr_or_null(pl->note));
		json_array_append_new(arr, e);
	}
	json_object_set_new(root, "planted", arr);

	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text) {
		r = err_set(g->err, WXR_EFAIL, "cannot render manifest.json");
		goto out;
	}
	full = xasprintf("%s\n", text);
	path = xasprintf("%s/manifest.json", g->o.out);
	r = write_small_file(path, full, g->err);
out:
	json_decref(root);
	free(text);
	free(full);
	free(path);
	return r;
}

/* ---- command line ---- */

static int valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= 'A' && *s <= 'Z') || *s == '_'))
			return 0;
	return 1;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct gen_opts *o, struct wxr_err *err)
{
	static const struct option longopts[] = {
		{ "rows", required_argument, NULL, 'n' },
		{ "date", required_argument, NULL, 'd' },
		{ "out", required_argument, NULL, 'o' },
		{ "seed", required_argument, NULL, 's' },
		{ "mchid", required_argument, NULL, 'm' },
		{ "appid", required_argument, NULL, 'a' },
		{ "no-plant", no_argument, NULL, 'P' },
		{ "plant-summary-mismatch", no_argument, NULL, 'S' },
		{ "gzip-level", required_argument, NULL, 'z' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t day_start;
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->rows = -1;
	o->seed = 1;
	o->mchid = "1900000001";
	o->appid = "wx8888888888888888";
	o->plant = 1;
	o->level = 1;
	optind = 0; /* glibc: full re-initialisation, so sim_gen_main can run twice */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_u64(optarg, ROWS_MAX, &v) < 0 || v == 0)
				return err_set(err, WXR_EUSAGE, "bad --rows '%s' (1 to %d)", optarg,
				               ROWS_MAX);
			o->rows = (int64_t)v;
			break;
		case 'd':
			o->date = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 's':
			if (parse_u64(optarg, INT64_MAX, &v) < 0)
				return err_set(err, WXR_EUSAGE, "bad --seed '%s'", optarg);
			o->seed = v;
			break;
		case 'm':
			o->mchid = optarg;
			break;
		case 'a':
			o->appid = optarg;
			break;
		case 'P':
			o->plant = 0;
			break;
		case 'S':
			o->plant_summary = 1;
			break;
		case 'z':
			if (parse_u64(optarg, 9, &v) < 0 || v == 0)
				return err_set(err, WXR_EUSAGE, "bad --gzip-level '%s' (1 to 9)",
				               optarg);
			o->level = (int)v;
			break;
		case 'h':
			return 1;
		default:
			return err_set(err, WXR_EUSAGE, "unknown or incomplete option '%s'",
			               argv[optind - 1]);
		}
	}
	if (optind < argc)
		return err_set(err, WXR_EUSAGE, "unexpected argument '%s'", argv[optind]);
	if (o->rows < 0 || !o->date || !o->out)
		return err_set(err, WXR_EUSAGE, "--rows, --date and --out are required");
	if (parse_date(o->date, &day_start) < 0)
		return err_set(err, WXR_EUSAGE, "bad --date '%s' (YYYY-MM-DD)", o->date);
	if (!valid_id(o->mchid) || !valid_id(o->appid))
		return err_set(err, WXR_EUSAGE, "--mchid and --appid take 1-32 letters or digits");
	if (o->plant && o->rows < PLANT_MIN_ROWS)
		return err_set(err, WXR_EUSAGE, "planting needs --rows %d or more (or --no-plant)",
		               PLANT_MIN_ROWS);
	return 0;
}

static int open_text(const char *dir, const char *name, char **out_tmp, char **out_path,
                     FILE **out_f, struct wxr_err *err)
{
	*out_path = xasprintf("%s/%s", dir, name);
	*out_tmp = xasprintf("%s.tmp", *out_path);
	*out_f = fopen(*out_tmp, "wb");
	if (!*out_f)
		return err_set(err, WXR_EIO, "cannot create '%s': %s", *out_tmp, strerror(errno));
	setvbuf(*out_f, NULL, _IOFBF, 1 << 20);
	return 0;
}

static int close_text(FILE **f, const char *tmp, const char *path, struct wxr_err *err)
{
	int r = fclose(*f);

	*f = NULL;
	if (r != 0)
		return err_set(err, WXR_EIO, "cannot write '%s': %s", tmp, strerror(errno));
	if (rename(tmp, path) != 0)
		return err_set(err, WXR_EIO, "cannot rename '%s': %s", tmp, strerror(errno));
	return 0;
}

static int generate(struct gen *g, int64_t *out_ms)
{
	struct sim_bill_totals tt, ft;
	int64_t t0 = clock_mono_ms();
	char date[11];
	char *name = NULL;
	int r;

	r = parse_date(g->o.date, &g->day_start);
	if (r < 0)
		return err_set(g->err, WXR_EUSAGE, "bad --date '%s' (YYYY-MM-DD)", g->o.date);
	if (mkdir(g->o.out, 0777) != 0 && errno != EEXIST)
		return err_set(g->err, WXR_EIO, "cannot create '%s': %s", g->o.out,
		               strerror(errno));
	date_strings(g->day_start, date, g->ymd);
	date_strings(g->day_start - 86400, g->date_prev, g->ymd_prev);
	g->rng = g->o.seed;
	g->balance = OPENING_FEN;
	g->users = (uint64_t)(g->o.rows / 4 > 100 ? g->o.rows / 4 : 100);
	g->ring = xcalloc(RING_SIZE, sizeof(*g->ring));

	name = xasprintf("%s.trade.ALL.csv.gz", g->o.date);
	r = gz_open(&g->trade_gz, g->o.out, name, g->o.level, g->err);
	free(name);
	if (r < 0)
		return r;
	name = xasprintf("%s.fundflow.BASIC.csv.gz", g->o.date);
	r = gz_open(&g->fund_gz, g->o.out, name, g->o.level, g->err);
	free(name);
	if (r < 0)
		return r;
	r = open_text(g->o.out, "ledger_orders.csv", &g->orders_tmp, &g->orders_path, &g->orders,
	              g->err);
	if (r < 0)
		return r;
	r = open_text(g->o.out, "ledger_refunds.csv", &g->refunds_tmp, &g->refunds_path,
	              &g->refunds, g->err);
	if (r < 0)
		return r;
	fputs("out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,"
	      "paid_at,attach,business_ref\n",
	      g->orders);
	fputs("out_refund_no,out_trade_no,refund_id,amount_refund,state,created_at,success_at\n",
	      g->refunds);
	g->trade = sim_bill_begin(SIM_BILL_ALL, gz_sink, &g->trade_gz);
	g->fund = sim_bill_begin(SIM_BILL_FUNDFLOW, gz_sink, &g->fund_gz);

	r = run_day(g);
	if (r < 0)
		return r;

	sim_bill_get_totals(g->trade, &tt);
	sim_bill_get_totals(g->fund, &ft);
	if (g->o.plant_summary) {
		struct planted *pl = plant_add(g, P_BILL_SUMMARY_MISMATCH, g->o.date);

		sim_bill_skew_summary(g->trade, 1);
		plant_amounts(pl, 1, tt.settlement_fen, 1, tt.settlement_fen + 1);
		pl->note =
		        xstrdup("trade bill summary 应结订单总金额 is the sum of the rows + 1 fen "
		                "(ledger_amount = row sum, bill_amount = summary)");
	}
	r = sim_bill_end(g->trade);
	g->trade = NULL;
	if (r < 0)
		return err_set(g->err, r, "cannot write the trade bill");
	r = sim_bill_end(g->fund);
	g->fund = NULL;
	if (r < 0)
		return err_set(g->err, r, "cannot write the fund-flow bill");
	r = gz_finish(&g->trade_gz, g->err);
	if (r >= 0)
		r = gz_finish(&g->fund_gz, g->err);
	if (r >= 0)
		r = close_text(&g->orders, g->orders_tmp, g->orders_path, g->err);
	if (r >= 0)
		r = close_text(&g->refunds, g->refunds_tmp, g->refunds_path, g->err);
	if (r >= 0)
		r = write_manifest(g, &tt, &ft);
	if (r >= 0)
		*out_ms = clock_mono_ms() - t0;
	return r;
}

static void gen_release(struct gen *g)
{
	sim_bill_abort(g->trade);
	sim_bill_abort(g->fund);
	gz_release(&g->trade_gz);
	gz_release(&g->fund_gz);
	if (g->orders) {
		fclose(g->orders);
		remove(g->orders_tmp);
	}
	if (g->refunds) {
		fclose(g->refunds);
		remove(g->refunds_tmp);
	}
	free(g->orders_tmp);
	free(g->orders_path);
	free(g->refunds_tmp);
	free(g->refunds_path);
	free(g->ring);
	for (size_t k = 0; k < g->nplants; k++) {
		free(g->plants[k].out_trade_no);
		free(g->plants[k].out_refund_no);
		free(g->plants[k].refund_id);
		free(g->plants[k].transaction_id);
		free(g->plants[k].note);
	}
}

int sim_gen_main(int argc, char **argv)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct gen *g = xcalloc(1, sizeof(*g));
	int64_t ms = 0;
	int rc = 1;
	int r;

	g->err = &err;
	r = parse_args(argc, argv, &g->o, &err);
	if (r > 0) {
		fputs(usage_text, stdout);
		rc = 0;
		goto out;
	}
	if (r < 0) {
		fprintf(stderr, "wxrecon-sim generate: %s\n%s", err.msg, usage_text);
		rc = 2;
		goto out;
	}
	r = generate(g, &ms);
	if (r < 0) {
		fprintf(stderr, "wxrecon-sim generate: %s\n", err.msg);
		rc = r == WXR_EUSAGE ? 2 : 1;
		goto out;
	}
	printf("generate: wrote %s (%" PRId64 " rows, %" PRIu64 " bytes, sha1 %s), %s (%" PRIu64
	       " bytes), ledger_orders.csv (%" PRId64 " orders), ledger_refunds.csv (%" PRId64
	       " refunds), manifest.json (%zu planted) into %s in %" PRId64 ".%03" PRId64 " s\n",
	       strrchr(g->trade_gz.path, '/') + 1, g->o.rows, g->trade_gz.raw_bytes,
	       g->trade_gz.sha1_hex, strrchr(g->fund_gz.path, '/') + 1, g->fund_gz.raw_bytes,
	       g->orders_written, g->refunds_written, g->nplants, g->o.out, ms / 1000, ms % 1000);
	fflush(stdout);
	rc = 0;
out:
	gen_release(g);
	free(g);
	return rc;
}
