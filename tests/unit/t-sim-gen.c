/*
 * t-sim-gen.c - `wxrecon-sim generate`: determinism, gzip + SHA-1, summary
 * totals against the rows, the running balance, fees, the ledger CSVs and the
 * manifest. The bills are read back with this file's own simple code (split
 * on ",`"), not with the production parser.
 */
#include "tap.h"
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "base/buf.h"
#include "sim/sim_bill.h"

#define DATE "2025-03-01"

static char tmproot[256];

static int slurp(const char *path, struct buf *b);

/* Runs sim_gen_main with stdout and stderr captured into out and errout (each may be NULL). */
static int run_gen2(const char *const *args, struct buf *out, struct buf *errout)
{
	char *argv[32];
	int argc = 0;
	char opath[512], epath[512];
	int saved1, saved2, fd, rc;

	argv[argc++] = (char *)"generate";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	snprintf(opath, sizeof(opath), "%s/stdout.txt", tmproot);
	snprintf(epath, sizeof(epath), "%s/stderr.txt", tmproot);
	fflush(stdout);
	fflush(stderr);
	saved1 = dup(1);
	saved2 = dup(2);
	fd = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 1);
	close(fd);
	fd = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	rc = sim_gen_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved1, 1);
	dup2(saved2, 2);
	close(saved1);
	close(saved2);
	if (out)
		slurp(opath, out);
	if (errout)
		slurp(epath, errout);
	return rc;
}

static int run_gen(const char *const *args, struct buf *out)
{
	return run_gen2(args, out, NULL);
}

static int slurp(const char *path, struct buf *b)
{
	FILE *f = fopen(path, "rb");
	char tmp[65536];
	size_t n;

	buf_reset(b);
	if (!f)
		return -1;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(b, tmp, n);
	fclose(f);
	return 0;
}

static int gunzip(const char *path, struct buf *b)
{
	gzFile z = gzopen(path, "rb");
	char tmp[65536];
	int n;

	buf_reset(b);
	if (!z)
		return -1;
	while ((n = gzread(z, tmp, sizeof(tmp))) > 0)
		buf_add(b, tmp, (size_t)n);
	gzclose(z);
	return n < 0 ? -1 : 0;
}

static char *pathf(const char *dir, const char *name)
{
	static char p[4][512];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

/* "12.34" / "-0.06000" -> integer units of 10^-scale; the test's own parser. */
static int64_t dec(const char *s, int scale)
{
	int64_t v = 0;
	int neg = 0, frac = -1;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	for (; *s; s++) {
		if (*s == '.') {
			frac = 0;
			continue;
		}
		v = v * 10 + (*s - '0');
		if (frac >= 0)
			frac++;
	}
	for (frac = frac < 0 ? 0 : frac; frac < scale; frac++)
		v *= 10;
	return neg ? -v : v;
}

/* ---- a bill read back: lines split on ",`" ---- */

#define MAXF 32

struct bill_line {
	char *f[MAXF];
	int n;
};

struct bill {
	struct buf raw;
	char *text; /* copy we cut up */
	struct bill_line *rows;
	int nrows;
	struct bill_line summary;
	int crlf_ok, bom_ok, shape_ok;
};

static void split(char *line, struct bill_line *out)
{
	char *p = line + 1;

	out->n = 0;
	out->f[out->n++] = p;
	while ((p = strstr(p, ",`")) != NULL && out->n < MAXF) {
		*p = '\0';
		p += 2;
		out->f[out->n++] = p;
	}
}

static int bill_load(const char *path, int ncols, struct bill *b)
{
	char *p, *eol;
	int lineno = 0, total = 0;

	memset(b, 0, sizeof(*b));
	if (gunzip(path, &b->raw) < 0)
		return -1;
	b->bom_ok = b->raw.len > 3 && memcmp(b->raw.data, "\xEF\xBB\xBF", 3) == 0;
	b->crlf_ok = b->raw.len > 2 && memcmp(b->raw.data + b->raw.len - 2, "\r\n", 2) == 0;
	b->shape_ok = 1;
	b->text = malloc(b->raw.len + 1);
	memcpy(b->text, b->raw.data, b->raw.len + 1);
	for (p = b->text + 3; *p; p = eol + 2)
		if (!(eol = strstr(p, "\r\n")))
			break;
		else
			total++;
	b->rows = calloc((size_t)total, sizeof(*b->rows));
	for (p = b->text + 3; (eol = strstr(p, "\r\n")) != NULL; p = eol + 2) {
		*eol = '\0';
		if (strchr(p, '\n') || strchr(p, '\r'))
			b->crlf_ok = 0;
		lineno++;
		if (lineno == 1 || lineno == total - 1) {
			if (*p == '`')
				b->shape_ok = 0;
			continue;
		}
		if (*p != '`') {
			b->shape_ok = 0;
			continue;
		}
		if (lineno == total) {
			split(p, &b->summary);
			continue;
		}
		split(p, &b->rows[b->nrows]);
		if (b->rows[b->nrows].n != ncols) {
			diag("line %d has %d fields", lineno, b->rows[b->nrows].n);
			b->shape_ok = 0;
		}
		b->nrows++;
	}
	if (*p)
		b->crlf_ok = 0;
	return 0;
}

static void bill_free(struct bill *b)
{
	buf_release(&b->raw);
	free(b->text);
	free(b->rows);
}

/* ---- RFC 4180 CSV read back ---- */

struct csv {
	char ***rows; /* rows[i][j] */
	int *nf;
	int nrows;
	char *header;
};

static void csv_load(const char *path, struct csv *c)
{
	struct buf b = BUF_INIT;
	const char *p;
	struct buf field = BUF_INIT;
	char **cur = NULL;
	int ncur = 0;

	memset(c, 0, sizeof(*c));
	slurp(path, &b);
	p = buf_str(&b);
	c->header = strndup(p, strcspn(p, "\n"));
	p += strlen(c->header) + (p[strlen(c->header)] ? 1 : 0);
	while (*p) {
		int quoted = 0;

		buf_reset(&field);
		if (*p == '"') {
			quoted = 1;
			p++;
			while (*p) {
				if (*p == '"' && p[1] == '"') {
					buf_addc(&field, '"');
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					buf_addc(&field, *p++);
				}
			}
		}
		while (*p && *p != ',' && *p != '\n')
			buf_addc(&field, *p++);
		(void)quoted;
		cur = realloc(cur, sizeof(*cur) * (size_t)(ncur + 1));
		cur[ncur++] = strdup(buf_str(&field));
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '\n')
			p++;
		c->rows = realloc(c->rows, sizeof(*c->rows) * (size_t)(c->nrows + 1));
		c->nf = realloc(c->nf, sizeof(*c->nf) * (size_t)(c->nrows + 1));
		c->rows[c->nrows] = cur;
		c->nf[c->nrows] = ncur;
		c->nrows++;
		cur = NULL;
		ncur = 0;
	}
	buf_release(&b);
	buf_release(&field);
}

static void csv_free(struct csv *c)
{
	for (int i = 0; i < c->nrows; i++) {
		for (int j = 0; j < c->nf[i]; j++)
			free(c->rows[i][j]);
		free(c->rows[i]);
	}
	free(c->rows);
	free(c->nf);
	free(c->header);
}

static int csv_find(const struct csv *c, int col, const char *key)
{
	for (int i = 0; i < c->nrows; i++)
		if (c->nf[i] > col && strcmp(c->rows[i][col], key) == 0)
			return i;
	return -1;
}

/* Bill time "yyyy-MM-dd HH:mm:ss" as the ledger writes it. */
static void as_rfc3339(const char *t, char out[40])
{
	snprintf(out, 40, "%.10sT%.8s+08:00", t, t + 11);
}

/* ---- checks ---- */

static int files_equal(const char *a, const char *b)
{
	struct buf x = BUF_INIT, y = BUF_INIT;
	int same;

	slurp(a, &x);
	slurp(b, &y);
	same = x.len == y.len && x.len > 0 && memcmp(x.data, y.data, x.len) == 0;
	buf_release(&x);
	buf_release(&y);
	return same;
}

static void sha1_hex(const void *p, size_t n, char out[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	EVP_Digest(p, n, md, &len, EVP_sha1(), NULL);
	for (unsigned i = 0; i < 20; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void check_sha1(const char *dir, const char *name)
{
	struct buf raw = BUF_INIT, file = BUF_INIT;
	char want[41], msg[256];
	char *gz = pathf(dir, name);
	char shaname[256];

	snprintf(shaname, sizeof(shaname), "%s.sha1", name);
	gunzip(gz, &raw);
	sha1_hex(raw.data, raw.len, want);
	slurp(pathf(dir, shaname), &file);
	snprintf(msg, sizeof(msg), "%s.sha1 is 40 lower-case hex + LF of the decompressed bytes",
	         name);
	ok(file.len == 41 && memcmp(file.data, want, 40) == 0 && file.data[40] == '\n', msg);
	buf_release(&raw);
	buf_release(&file);
}

struct trade_sums {
	int64_t rows, settle, refund, recharge, fee, order, apply;
	int pays, refunds;
};

static void check_trade_summary(const struct bill *t, int64_t skew, const char *what)
{
	struct trade_sums s = { 0 };
	char msg[256];

	for (int i = 0; i < t->nrows; i++) {
		char **f = t->rows[i].f;

		s.rows++;
		s.settle += dec(f[12], 2);
		s.refund += dec(f[16], 2);
		s.recharge += dec(f[17], 2);
		s.fee += dec(f[22], 5);
		s.order += dec(f[24], 2);
		s.apply += dec(f[25], 2);
	}
	snprintf(msg, sizeof(msg), "%s: trade summary has 7 values", what);
	if (!is_int(t->summary.n, 7, msg))
		return;
	snprintf(msg, sizeof(msg), "%s: 总交易单数 = rows", what);
	is_int(dec(t->summary.f[0], 0), s.rows, msg);
	snprintf(msg, sizeof(msg), "%s: 应结订单总金额 = row sum%s", what, skew ? " + skew" : "");
	is_int(dec(t->summary.f[1], 2), s.settle + skew, msg);
	snprintf(msg, sizeof(msg), "%s: 退款总金额, 充值券退款总金额, 订单总金额, 申请退款总金额",
	         what);
	ok(dec(t->summary.f[2], 2) == s.refund && dec(t->summary.f[3], 2) == s.recharge &&
	           dec(t->summary.f[5], 2) == s.order && dec(t->summary.f[6], 2) == s.apply,
	   msg);
	snprintf(msg, sizeof(msg), "%s: 手续费总金额 = row sum, 5 decimals", what);
	ok(dec(t->summary.f[4], 5) == s.fee && strlen(strchr(t->summary.f[4], '.')) == 6, msg);
}

/*
 * Fund flow: summary vs rows, the running balance (returns the number of
 * breaks), and the fee lines against the trade rows (returns mismatches).
 */
static void check_fund(const struct bill *t, const struct bill *ff, int64_t opening,
                       int *out_breaks, int *out_fee_bad, const char *what)
{
	int64_t in = 0, out = 0, nin = 0, nout = 0, bal = opening;
	int breaks = 0, fee_bad = 0, fee_seen = 0;
	char msg[256];

	for (int i = 0; i < ff->nrows; i++) {
		char **f = ff->rows[i].f;
		int64_t amt = dec(f[6], 2);
		int income = strcmp(f[5], "收入") == 0;

		if (income) {
			in += amt;
			nin++;
			bal += amt;
		} else {
			out += amt;
			nout++;
			bal -= amt;
		}
		if (dec(f[7], 2) != bal) {
			breaks++;
			bal = dec(f[7], 2);
		}
	}
	snprintf(msg, sizeof(msg), "%s: fund-flow summary = rows (counts as N.0)", what);
	ok(ff->summary.n == 5 && dec(ff->summary.f[0], 1) == ff->nrows * 10 &&
	           dec(ff->summary.f[1], 1) == nin * 10 && dec(ff->summary.f[2], 2) == in &&
	           dec(ff->summary.f[3], 1) == nout * 10 && dec(ff->summary.f[4], 2) == out,
	   msg);

	/* Fee lines: payment -> 扣除交易手续费 by transaction_id; refund -> 退还 by refund_id. */
	for (int i = 0; i < t->nrows; i++) {
		char **r = t->rows[i].f;
		int refund = strcmp(r[9], "REFUND") == 0;
		const char *key = refund ? r[14] : r[5];
		const char *type = refund ? "退还交易手续费" : "扣除交易手续费";
		int64_t fee_e5 = dec(r[22], 5);
		int64_t fee_fen = (fee_e5 < 0 ? -fee_e5 : fee_e5) / 1000;
		int64_t line_fen = 0;

		for (int j = 0; j < ff->nrows; j++)
			if (strcmp(ff->rows[j].f[1], key) == 0 &&
			    strcmp(ff->rows[j].f[4], type) == 0) {
				line_fen = dec(ff->rows[j].f[6], 2);
				fee_seen++;
				break;
			}
		if (line_fen != fee_fen)
			fee_bad++;
	}
	ok(fee_seen > 0, "fee lines found");
	*out_breaks = breaks;
	*out_fee_bad = fee_bad;
}

static void check_ledger_vs_bill(const struct bill *t, const char *dir)
{
	struct csv o, r;
	int bad_pay = 0, bad_ref = 0, pays = 0, refs = 0, bad_state = 0, attach_quoted = 0;

	csv_load(pathf(dir, "ledger_orders.csv"), &o);
	csv_load(pathf(dir, "ledger_refunds.csv"), &r);
	for (int i = 0; i < t->nrows; i++) {
		char **f = t->rows[i].f;
		char when[40];
		int k;

		as_rfc3339(f[0], when);
		if (strcmp(f[9], "SUCCESS") == 0) {
			pays++;
			k = csv_find(&o, 0, f[6]);
			if (k < 0 || o.nf[k] != 10 || strcmp(o.rows[k][1], f[5]) != 0 ||
			    dec(o.rows[k][2], 0) != dec(f[24], 2) ||
			    strcmp(o.rows[k][3], "CNY") != 0 || strcmp(o.rows[k][7], when) != 0 ||
			    strcmp(o.rows[k][8], f[21]) != 0) {
				if (bad_pay++ < 3)
					diag("payment %s does not match its ledger line", f[6]);
			}
			if (k >= 0 && strcmp(o.rows[k][4], "PAID") != 0 &&
			    strcmp(o.rows[k][4], "REFUNDED") != 0 &&
			    strcmp(o.rows[k][4], "PARTIAL_REFUNDED") != 0)
				bad_state++;
			if (strpbrk(f[21], ",\""))
				attach_quoted++;
		} else {
			refs++;
			k = csv_find(&r, 0, f[15]);
			if (k < 0 || r.nf[k] != 7 || strcmp(r.rows[k][1], f[6]) != 0 ||
			    strcmp(r.rows[k][2], f[14]) != 0 ||
			    dec(r.rows[k][3], 0) != dec(f[16], 2) ||
			    strcmp(r.rows[k][4], "SUCCESS") != 0 ||
			    strcmp(r.rows[k][5], when) != 0 || strcmp(f[19], "SUCCESS") != 0) {
				if (bad_ref++ < 3)
					diag("refund %s does not match its ledger line", f[15]);
			}
		}
	}
	is_int(bad_pay, 0,
	       "--no-plant: every bill payment has its ledger order (ids, amount, "
	       "paid_at, attach)");
	is_int(bad_state, 0, "--no-plant: every paid order is PAID, REFUNDED or PARTIAL_REFUNDED");
	is_int(o.nrows, pays, "--no-plant: the ledger has no other order");
	is_int(bad_ref, 0, "--no-plant: every bill refund has its ledger refund");
	is_int(r.nrows, refs, "--no-plant: the ledger has no other refund");
	ok(pays > 150 && refs > 5, "mostly payments, some refunds");
	ok(attach_quoted > 0, "some attach values needed RFC 4180 quoting and came back intact");

	/* Each order's state agrees with the sum of its refunds. */
	{
		int bad = 0;

		for (int i = 0; i < o.nrows; i++) {
			int64_t sum = 0, amt = dec(o.rows[i][2], 0);
			const char *want;

			for (int j = 0; j < r.nrows; j++)
				if (strcmp(r.rows[j][1], o.rows[i][0]) == 0)
					sum += dec(r.rows[j][3], 0);
			want = sum == 0 ? "PAID" : sum == amt ? "REFUNDED" : "PARTIAL_REFUNDED";
			if (strcmp(o.rows[i][4], want) != 0 || sum > amt)
				bad++;
		}
		is_int(bad, 0, "--no-plant: order states agree with their refunds");
	}
	csv_free(&o);
	csv_free(&r);
}

static json_t *manifest(const char *dir)
{
	return json_load_file(pathf(dir, "manifest.json"), 0, NULL);
}

static int has_kind(json_t *m, const char *kind)
{
	json_t *arr = json_object_get(m, "planted");
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e) if (strcmp(json_string_value(json_object_get(e, "kind")),
	                                         kind) == 0) return 1;
	return 0;
}

static int count_lines(const char *path)
{
	struct buf b = BUF_INIT;
	int n = 0;

	slurp(path, &b);
	for (size_t i = 0; i < b.len; i++)
		n += b.data[i] == '\n';
	buf_release(&b);
	return n;
}

int main(void)
{
	char d1[300], d2[300], d3[300], d4[300], d5[300], d6[300];
	static const char *const names[] = {
		DATE ".trade.ALL.csv.gz",
		DATE ".trade.ALL.csv.gz.sha1",
		DATE ".fundflow.BASIC.csv.gz",
		DATE ".fundflow.BASIC.csv.gz.sha1",
		"ledger_orders.csv",
		"ledger_refunds.csv",
		"manifest.json",
	};
	static const char *const kinds[] = {
		"MISSING_IN_LEDGER",      "MISSED_PAYMENT",           "MISSING_IN_BILL",
		"AMOUNT_MISMATCH",        "REFUND_MISSING_IN_LEDGER", "REFUND_MISSING_IN_BILL",
		"REFUND_AMOUNT_MISMATCH", "REFUND_STATUS_MISMATCH",   "DUPLICATE_PAYMENT",
		"FEE_MISMATCH",           "BALANCE_DISCONTINUITY",    "BILL_MISSING",
		"BILL_SUMMARY_MISMATCH",
	};
	struct buf out = BUF_INIT;
	struct bill t, ff;
	json_t *m;
	int breaks, fee_bad, same = 1;

	/* The machine's TZ must not matter. */
	setenv("TZ", "America/Los_Angeles", 1);
	tzset();
	t_tmpdir(tmproot, sizeof(tmproot), "t-sim-gen");
	snprintf(d1, sizeof(d1), "%s/a", tmproot);
	snprintf(d2, sizeof(d2), "%s/b", tmproot);
	snprintf(d3, sizeof(d3), "%s/c", tmproot);
	snprintf(d4, sizeof(d4), "%s/d", tmproot);
	snprintf(d5, sizeof(d5), "%s/e", tmproot);
	snprintf(d6, sizeof(d6), "%s/f", tmproot);

	/* 1. Planted run, twice: same bytes. */
	{
		const char *a1[] = { "--rows", "200",   "--date",
			             DATE,     "--out", d1,
			             "--seed", "42",    "--plant-summary-mismatch",
			             NULL };
		const char *a2[] = { "--rows", "200",   "--date",
			             DATE,     "--out", d2,
			             "--seed", "42",    "--plant-summary-mismatch",
			             NULL };
		const char *a3[] = { "--rows", "200",    "--date", DATE, "--out",
			             d3,       "--seed", "43",     NULL };

		is_int(run_gen(a1, &out), 0, "generate 200 rows, planted");
		ok(strncmp(buf_str(&out), "generate: wrote " DATE ".trade.ALL.csv.gz (200 rows",
		           40) == 0 &&
		           strchr(buf_str(&out), '\n') == buf_str(&out) + out.len - 1 &&
		           strstr(buf_str(&out), " s\n"),
		   "one line on stdout: what, and how long");
		is_int(run_gen(a2, NULL), 0, "again with the same seed");
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!files_equal(pathf(d1, names[i]), pathf(d2, names[i]))) {
				diag("%s differs", names[i]);
				same = 0;
			}
		ok(same, "the same seed gives the same bytes in all 7 files");
		is_int(run_gen(a3, NULL), 0, "another seed");
		ok(!files_equal(pathf(d1, names[0]), pathf(d3, names[0])),
		   "another seed gives another trade bill");
	}

	check_sha1(d1, DATE ".trade.ALL.csv.gz");
	check_sha1(d1, DATE ".fundflow.BASIC.csv.gz");

	/* 2. The planted bills read back. */
	m = manifest(d1);
	ok(m != NULL, "manifest.json is JSON");
	bill_load(pathf(d1, DATE ".trade.ALL.csv.gz"), 27, &t);
	bill_load(pathf(d1, DATE ".fundflow.BASIC.csv.gz"), 11, &ff);
	ok(t.bom_ok && t.crlf_ok && t.shape_ok, "trade bill: BOM, CRLF everywhere, 27 backticked "
	                                        "values a row");
	ok(ff.bom_ok && ff.crlf_ok && ff.shape_ok, "fund flow: BOM, CRLF everywhere, 11 values");
	is_int(t.nrows, 200, "trade bill has --rows rows");
	check_trade_summary(&t, 1, "planted");
	check_fund(&t, &ff, json_integer_value(json_object_get(m, "opening_balance")), &breaks,
	           &fee_bad, "planted");
	is_int(breaks, 1, "planted: exactly one balance break");
	is_int(fee_bad, 1, "planted: exactly one trade fee disagrees with its fund-flow line");
	{
		int desc_comma = 0, desc_quote = 0, processing = 0;

		for (int i = 0; i < t.nrows; i++) {
			desc_comma += strchr(t.rows[i].f[20], ',') != NULL;
			desc_quote += strchr(t.rows[i].f[20], '"') != NULL;
			processing += strcmp(t.rows[i].f[19], "PROCESSING") == 0;
		}
		ok(desc_comma > 0 && desc_quote > 0, "some goods names carry a comma or a quote");
		is_int(processing, 1, "one refund is PROCESSING in the bill");
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		char msg[128];

		snprintf(msg, sizeof(msg), "manifest lists %s", kinds[i]);
		ok(has_kind(m, kinds[i]), msg);
	}
	{
		json_t *tot = json_object_get(m, "totals");

		is_str(json_string_value(json_object_get(m, "date")), DATE, "manifest date");
		is_int(json_integer_value(json_object_get(m, "rows")), 200, "manifest rows");
		is_int(json_integer_value(json_object_get(m, "seed")), 42, "manifest seed");
		is_str(json_string_value(json_object_get(m, "mchid")), "1900000001",
		       "manifest mchid");
		is_int(count_lines(pathf(d1, "ledger_orders.csv")) - 1,
		       json_integer_value(json_object_get(tot, "ledger_orders")),
		       "ledger_orders.csv rows = manifest count");
		is_int(count_lines(pathf(d1, "ledger_refunds.csv")) - 1,
		       json_integer_value(json_object_get(tot, "ledger_refunds")),
		       "ledger_refunds.csv rows = manifest count");
	}
	{
		struct csv o, r;

		csv_load(pathf(d1, "ledger_orders.csv"), &o);
		csv_load(pathf(d1, "ledger_refunds.csv"), &r);
		is_str(o.header,
		       "out_trade_no,transaction_id,amount_total,currency,state,created_at,"
		       "time_expire,paid_at,attach,business_ref",
		       "ledger_orders header");
		is_str(r.header,
		       "out_refund_no,out_trade_no,refund_id,amount_refund,state,created_at,"
		       "success_at",
		       "ledger_refunds header");
		ok(csv_find(&o, 4, "NOTPAY") >= 0, "the planted NOTPAY order is in the ledger");
		ok(csv_find(&o, 0, "ORD20250228000000001") >= 0, "a D-1 order is in the ledger");
		csv_free(&o);
		csv_free(&r);
	}
	{
		struct stat st;

		ok(stat(pathf(d1, "2025-02-28.trade.ALL.csv.gz"), &st) != 0, "no D-1 bill in DIR");
	}
	json_decref(m);
	bill_free(&t);
	bill_free(&ff);

	/* 3. Without --plant-summary-mismatch the summary is clean. */
	bill_load(pathf(d3, DATE ".trade.ALL.csv.gz"), 27, &t);
	check_trade_summary(&t, 0, "seed 43");
	m = manifest(d3);
	ok(!has_kind(m, "BILL_SUMMARY_MISMATCH") && has_kind(m, "FEE_MISMATCH"),
	   "summary mismatch only on request");
	json_decref(m);
	bill_free(&t);

	/* 4. --no-plant: a perfectly matching pair. */
	{
		const char *a[] = { "--rows",
			            "300",
			            "--date",
			            DATE,
			            "--out",
			            d4,
			            "--seed",
			            "9",
			            "--no-plant",
			            "--mchid",
			            "1900000002",
			            "--appid",
			            "wx1111222233334444",
			            NULL };

		is_int(run_gen(a, NULL), 0, "generate 300 rows, --no-plant");
	}
	m = manifest(d4);
	is_int(json_array_size(json_object_get(m, "planted")), 0, "--no-plant: nothing planted");
	bill_load(pathf(d4, DATE ".trade.ALL.csv.gz"), 27, &t);
	bill_load(pathf(d4, DATE ".fundflow.BASIC.csv.gz"), 11, &ff);
	ok(t.shape_ok && ff.shape_ok && t.nrows == 300, "--no-plant: bills well formed");
	is_str(t.rows[0].f[2], "1900000002", "--mchid is the bill's 商户号");
	is_str(t.rows[0].f[1], "wx1111222233334444", "--appid is the bill's 公众账号ID");
	check_trade_summary(&t, 0, "--no-plant");
	check_fund(&t, &ff, json_integer_value(json_object_get(m, "opening_balance")), &breaks,
	           &fee_bad, "--no-plant");
	is_int(breaks, 0, "--no-plant: the running balance never breaks");
	is_int(fee_bad, 0, "--no-plant: every fee agrees with its fund-flow line");
	{
		int64_t last = dec(ff.rows[ff.nrows - 1].f[7], 2);

		is_int(json_integer_value(json_object_get(m, "closing_balance")), last,
		       "manifest closing_balance is the last fund-flow balance");
	}
	{
		int bad = 0;

		for (int i = 0; i < t.nrows; i++) {
			int64_t order = dec(t.rows[i].f[24], 2);

			if (strcmp(t.rows[i].f[9], "SUCCESS") == 0 &&
			    dec(t.rows[i].f[22], 5) != (order * 6 + 500) / 1000 * 1000)
				bad++;
			if (strcmp(t.rows[i].f[9], "REFUND") == 0 && dec(t.rows[i].f[22], 5) > 0)
				bad++;
		}
		is_int(bad, 0,
		       "--no-plant: payment fees are 0.60% half-up to the fen, refund fees "
		       "negative or zero");
	}
	check_ledger_vs_bill(&t, d4);
	json_decref(m);
	bill_free(&t);
	bill_free(&ff);

	/* 5. Usage and errors. */
	{
		const char *no_rows[] = { "--date", DATE, "--out", d5, NULL };
		const char *bad_date[] = { "--rows", "100", "--date", "2025-02-29",
			                   "--out",  d5,    NULL };
		const char *few[] = { "--rows", "10", "--date", DATE, "--out", d5, NULL };
		const char *few_ok[] = { "--rows", "1", "--date",     DATE,
			                 "--out",  d5,  "--no-plant", NULL };
		const char *bad_id[] = { "--rows", "100",     "--date", DATE, "--out",
			                 d5,       "--mchid", "19,00",  NULL };
		const char *extra[] = {
			"--rows", "100", "--date", DATE, "--out", d5, "junk", NULL
		};
		const char *help[] = { "--help", NULL };
		char notdir[400];
		const char *bad_out[] = { "--rows", "100", "--date", DATE, "--out", notdir, NULL };
		FILE *f;

		is_int(run_gen(no_rows, NULL), 2, "missing --rows: usage error 2");
		is_int(run_gen2(bad_date, NULL, &out), 2, "2025-02-29 is not a date: 2");
		ok(strncmp(buf_str(&out), "wxrecon-sim generate: bad --date '2025-02-29'", 45) == 0,
		   "and stderr says why");
		is_int(run_gen(few, NULL), 2, "planting needs at least 50 rows: 2");
		is_int(run_gen(bad_id, NULL), 2, "a comma in --mchid: 2");
		is_int(run_gen(extra, NULL), 2, "a stray argument: 2");
		is_int(run_gen(help, &out), 0, "--help: 0");
		ok(strstr(buf_str(&out), "usage: wxrecon-sim generate") != NULL,
		   "--help prints usage");
		is_int(run_gen(few_ok, NULL), 0, "one row without planting is fine");
		snprintf(notdir, sizeof(notdir), "%s/file", tmproot);
		f = fopen(notdir, "w");
		if (f)
			fclose(f);
		strncat(notdir, "/sub", sizeof(notdir) - strlen(notdir) - 1);
		is_int(run_gen2(bad_out, NULL, &out), 1, "an --out that cannot be made: 1");
		ok(strstr(buf_str(&out), "cannot create") != NULL, "and stderr says why");
		{
			struct stat st;

			ok(stat(d5, &st) == 0 && stat(pathf(d5, "manifest.json"), &st) == 0 &&
			           stat(pathf(d5, "ledger_orders.csv.tmp"), &st) != 0,
			   "no .tmp file is left behind after a run");
		}
		{
			const char *blocked[] = {
				"--rows", "100", "--date", DATE, "--out", d6, NULL
			};
			struct stat st;

			mkdir(d6, 0700);
			mkdir(pathf(d6, "ledger_orders.csv.tmp"), 0700);
			is_int(run_gen(blocked, NULL), 1, "a file that cannot be created: 1");
			ok(stat(pathf(d6, DATE ".trade.ALL.csv.gz.tmp"), &st) != 0 &&
			           stat(pathf(d6, DATE ".trade.ALL.csv.gz"), &st) != 0,
			   "and the half-made bill is removed, not left in place");
		}
	}

	buf_release(&out);
	t_rm_tree(tmproot);
	return done_testing();
}
