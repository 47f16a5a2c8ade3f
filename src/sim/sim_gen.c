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
#include "sim/sim.h"
#include "sim/sim_gen_plant.h"
#include "sim/sim_gen_rows.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/xalloc.h"

#define ROWS_MAX       100000000 /* ids have room for this many */
#define PLANT_MIN_ROWS 50        /* room for every planted case */
#define OPENING_FEN    100000000 /* fund account opening balance: 1,000,000.00 yuan */

static const char usage_text[] =
        "usage: wxrecon-sim generate --rows N --date YYYY-MM-DD --out DIR [--seed S]\n"
        "                            [--mchid M] [--appid A] [--no-plant]\n"
        "                            [--plant-summary-mismatch] [--gzip-level 1-9]\n"
        "                            [--anomaly-rate R] [--rate KIND=R]...\n"
        "  --anomaly-rate R  plant R of the rows as each row kind of discrepancy (R: 0.001\n"
        "                    or 0.1%; default: one case of each kind)\n"
        "  --rate KIND=R     the same for one kind (e.g. MISSING_IN_LEDGER=10%: the ledger\n"
        "                    lost a tenth of the day); 0 plants none of that kind\n";

/* ---- the discrepancies that can be planted (SPEC 6) ---- */

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

/* ---- options and run state ---- */

/* ---- the day ---- */

static int plants_flush(struct gen *g);

/* A normal row: mostly a payment, else a refund of a payment still in the ring. */
static int normal_row(struct gen *g, int64_t i)
{
	int64_t ts = gen_row_ts(g, i);
	uint64_t fill = g->ring_head - g->ring_tail;
	char orn[40], rid[40];

	if (fill > 0 && gen_rnd_below(g, 100) < 10) {
		struct pay *p = &g->ring[(g->ring_head - 1 - gen_rnd_below(g, fill)) % RING_SIZE];
		int64_t left = p->amount - p->refunded;

		if (p->live && p->in_bill && p->plant == P_NONE && left > 0) {
			int64_t amt;

			if (p->refunded == 0 && gen_rnd_below(g, 100) < 70)
				amt = left;
			else
				amt = 1 + (int64_t)gen_rnd_below(g, (uint64_t)left);
			return gen_refund(g, p, ts, amt, P_NONE, orn, rid);
		}
	}
	return gen_payment(g, ts, P_NONE, 0, 0, 0) ? 0 : -1;
}

#define ROW_KINDS (P_ROW_KINDS - 1) /* the kinds planted at a row: P_NONE + 1 ... */

/* How many cases of a row kind the day gets: one each by default, else its rate. */
static int64_t plant_count(const struct gen *g, int kind)
{
	int64_t ppm = g->o.rate_ppm[kind];

	if (!g->o.plant)
		return 0;
	if (ppm < 0)
		return 1;
	return (g->o.rows * ppm + 500000) / 1000000;
}

/* The row of case j (of n) of the kind with index k: the cases of every kind
 * spread evenly over the day, interleaved so kinds do not fall on one row. */
static int64_t plant_row(const struct gen *g, int k, int64_t j, int64_t n)
{
	return (((j * ROW_KINDS + k) * 2 + 1) * g->o.rows) / (2 * n * ROW_KINDS);
}

static int run_day(struct gen *g)
{
	int64_t count[ROW_KINDS], done[ROW_KINDS], next_at[ROW_KINDS];
	int64_t i = 0, left = 0;
	int r;

	for (int k = 0; k < ROW_KINDS; k++) {
		count[k] = plant_count(g, P_NONE + 1 + k);
		done[k] = 0;
		next_at[k] = count[k] ? plant_row(g, k, 0, count[k]) : INT64_MAX;
		left += count[k];
	}
	if (g->o.plant) {
		r = gen_plant_prev_day(g);
		if (r >= 0)
			r = plants_flush(g);
		if (r < 0)
			return r;
	}
	while (i < g->o.rows) {
		int best = -1;

		for (int k = 0; k < ROW_KINDS && left; k++)
			if (next_at[k] <= i && (best < 0 || next_at[k] < next_at[best]))
				best = k;
		/* A planted case uses at most 2 rows; it must not run past the day. */
		if (best >= 0 && i + 2 <= g->o.rows) {
			int64_t used = gen_plant_at(g, (enum plant_kind)(P_NONE + 1 + best), i);

			if (used < 0)
				return g->err->code < 0 ? g->err->code : WXR_EFAIL;
			r = plants_flush(g);
			if (r < 0)
				return r;
			i += used;
			left--;
			done[best]++;
			next_at[best] = done[best] < count[best]
			                        ? plant_row(g, best, done[best], count[best])
			                        : INT64_MAX;
			continue;
		}
		r = normal_row(g, i);
		if (r < 0)
			return r;
		i++;
	}
	if (left)
		return err_set(g->err, WXR_EUSAGE,
		               "%" PRId64 " planted cases did not fit in %" PRId64
		               " rows: lower the rates or raise --rows",
		               left, g->o.rows);
	while (g->ring_tail < g->ring_head) {
		r = gen_ring_evict(g);
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

/* The JSON of one planted entry, as the manifest's "planted" array holds it. */
static json_t *planted_json(const struct planted *pl)
{
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
	                    pl->has_bill ? json_integer((json_int_t)pl->bill_amount) : json_null());
	json_object_set_new(e, "note", jstr_or_null(pl->note));
	return e;
}

static void planted_release(struct planted *pl)
{
	free(pl->out_trade_no);
	free(pl->out_refund_no);
	free(pl->refund_id);
	free(pl->transaction_id);
	free(pl->note);
	memset(pl, 0, sizeof(*pl));
}

/* Writes the current case's entries to the manifest's scratch file: the
 * planted list streams, so a day with 1% of every kind stays small in memory. */
static int plants_flush(struct gen *g)
{
	int r = 0;

	for (size_t k = 0; k < g->npending; k++) {
		json_t *e = planted_json(&g->pending[k]);
		char *text = json_dumps(e, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		json_decref(e);
		if (!text)
			abort(); /* only on out of memory */
		if (r == 0 && !g->plants_f) {
			g->plants_tmp = xasprintf("%s/.manifest-planted.tmp", g->o.out);
			g->plants_f = fopen(g->plants_tmp, "w+b");
			if (!g->plants_f)
				r = err_set(g->err, WXR_EIO, "cannot create '%s': %s",
				            g->plants_tmp, strerror(errno));
		}
		if (r == 0) {
			/* Indented as the entry of an array inside the root object. */
			fputs(g->nplants ? ",\n    " : "    ", g->plants_f);
			for (const char *c = text; *c; c++) {
				putc(*c, g->plants_f);
				if (*c == '\n')
					fputs("    ", g->plants_f);
			}
			if (ferror(g->plants_f))
				r = err_set(g->err, WXR_EIO, "cannot write '%s'", g->plants_tmp);
			g->nplants++;
		}
		free(text);
		planted_release(&g->pending[k]);
	}
	g->npending = 0;
	return r;
}

static int write_manifest(struct gen *g, const struct sim_bill_totals *tt,
                          const struct sim_bill_totals *ft)
{
	json_t *root = json_object();
	json_t *files = json_object();
	json_t *totals = json_object();
	char *path = NULL, *tmp = NULL, *text = NULL;
	FILE *f = NULL;
	size_t len;
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

	/* The root without "planted", then the streamed entries as its last key. */
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text) {
		r = err_set(g->err, WXR_EFAIL, "cannot render manifest.json");
		goto out;
	}
	len = strlen(text);
	if (len < 2 || text[len - 1] != '}' || text[len - 2] != '\n')
		BUG("unexpected JSON layout from json_dumps");
	text[len - 2] = '\0';
	path = xasprintf("%s/manifest.json", g->o.out);
	tmp = xasprintf("%s.tmp", path);
	f = fopen(tmp, "wb");
	if (!f) {
		r = err_set(g->err, WXR_EIO, "cannot create '%s': %s", tmp, strerror(errno));
		goto out;
	}
	fprintf(f, "%s,\n  \"planted\": [", text);
	if (g->nplants) {
		char chunk[65536];
		size_t n;

		fputs("\n", f);
		rewind(g->plants_f);
		while ((n = fread(chunk, 1, sizeof(chunk), g->plants_f)) > 0)
			fwrite(chunk, 1, n, f);
		if (ferror(g->plants_f)) {
			r = err_set(g->err, WXR_EIO, "cannot read '%s'", g->plants_tmp);
			goto out;
		}
		fputs("\n  ", f);
	}
	fputs("]\n}\n", f);
	r = fclose(f);
	f = NULL;
	if (r != 0) {
		r = err_set(g->err, WXR_EIO, "cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, path) != 0) {
		r = err_set(g->err, WXR_EIO, "cannot rename '%s': %s", tmp, strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (f) {
		fclose(f);
		remove(tmp);
	}
	json_decref(root);
	free(text);
	free(tmp);
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

/* A rate as parts per million: "0.001" (a fraction) or "0.1%" (a percentage),
 * exactly, without floating point; at most 1 (100%). */
static int parse_ppm(const char *s, int64_t *out)
{
	size_t n = strlen(s);
	int64_t scale = 1000000, whole = 0, frac = 0, div = 1;
	const char *p = s;

	if (n && s[n - 1] == '%') {
		scale = 10000;
		n--;
	}
	if (n == 0 || *p < '0' || *p > '9')
		return -1;
	for (; p < s + n && *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (*p - '0');
		if (whole > 100)
			return -1;
	}
	if (p < s + n && *p == '.') {
		for (p++; p < s + n && *p >= '0' && *p <= '9'; p++) {
			if (div >= 1000000)
				return -1;
			frac = frac * 10 + (*p - '0');
			div *= 10;
		}
	}
	if (p != s + n || (frac * scale) % div != 0)
		return -1;
	*out = whole * scale + frac * scale / div;
	return *out <= 1000000 ? 0 : -1;
}

/* The row kind named by the n bytes at name, or -1. */
static int row_kind_of(const char *name, size_t n)
{
	for (int k = P_NONE + 1; k < P_ROW_KINDS; k++)
		if (strlen(plant_names[k]) == n && memcmp(plant_names[k], name, n) == 0)
			return k;
	return -1;
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
		{ "anomaly-rate", required_argument, NULL, 'R' },
		{ "rate", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t kind_ppm[P_ROW_KINDS];
	int64_t all_ppm = -1, total = 0;
	int64_t day_start;
	uint64_t v;
	int c;

	for (int k = 0; k < P_ROW_KINDS; k++)
		kind_ppm[k] = -1;
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
		case 'R':
			if (parse_ppm(optarg, &all_ppm) < 0)
				return err_set(
				        err, WXR_EUSAGE,
				        "bad --anomaly-rate '%s' (a fraction such as 0.001, or "
				        "0.1%%; at most 6 decimals)",
				        optarg);
			break;
		case 'K': {
			const char *eq = strchr(optarg, '=');
			int kind = eq ? row_kind_of(optarg, (size_t)(eq - optarg)) : -1;
			int64_t ppm;

			if (kind < 0 || parse_ppm(eq + 1, &ppm) < 0)
				return err_set(err, WXR_EUSAGE,
				               "bad --rate '%s' (KIND=R, KIND one of the row kinds "
				               "MISSING_IN_LEDGER ... BALANCE_DISCONTINUITY)",
				               optarg);
			kind_ppm[kind] = ppm;
			break;
		}
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
	if (gen_parse_date(o->date, &day_start) < 0)
		return err_set(err, WXR_EUSAGE, "bad --date '%s' (YYYY-MM-DD)", o->date);
	if (!valid_id(o->mchid) || !valid_id(o->appid))
		return err_set(err, WXR_EUSAGE, "--mchid and --appid take 1-32 letters or digits");
	if (o->plant && o->rows < PLANT_MIN_ROWS)
		return err_set(err, WXR_EUSAGE, "planting needs --rows %d or more (or --no-plant)",
		               PLANT_MIN_ROWS);
	for (int k = P_NONE + 1; k < P_ROW_KINDS; k++) {
		o->rate_ppm[k] = kind_ppm[k] >= 0 ? kind_ppm[k] : all_ppm;
		total += o->rate_ppm[k] < 0 ? 1 : (o->rows * o->rate_ppm[k] + 500000) / 1000000;
	}
	/* Each case takes at most 2 rows; half the day stays normal. */
	if (o->plant && 4 * total > o->rows)
		return err_set(err, WXR_EUSAGE,
		               "%" PRId64 " planted cases need more than --rows %" PRId64
		               " (4 rows each): lower the rates",
		               total, o->rows);
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

	r = gen_parse_date(g->o.date, &g->day_start);
	if (r < 0)
		return err_set(g->err, WXR_EUSAGE, "bad --date '%s' (YYYY-MM-DD)", g->o.date);
	if (mkdir(g->o.out, 0777) != 0 && errno != EEXIST)
		return err_set(g->err, WXR_EIO, "cannot create '%s': %s", g->o.out,
		               strerror(errno));
	gen_date_strings(g->day_start, date, g->ymd);
	gen_date_strings(g->day_start - 86400, g->date_prev, g->ymd_prev);
	g->rng = g->o.seed;
	g->balance = OPENING_FEN;
	g->users = (uint64_t)(g->o.rows / 4 > 100 ? g->o.rows / 4 : 100);
	g->ring = xcalloc(RING_SIZE, sizeof(*g->ring));

	name = xasprintf("%s.trade.ALL.csv.gz", g->o.date);
	r = sim_gzout_open(&g->trade_gz, g->o.out, name, g->o.level, g->err);
	free(name);
	if (r < 0)
		return r;
	name = xasprintf("%s.fundflow.BASIC.csv.gz", g->o.date);
	r = sim_gzout_open(&g->fund_gz, g->o.out, name, g->o.level, g->err);
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
	g->trade = sim_bill_begin(SIM_BILL_ALL, sim_gzout_sink, &g->trade_gz);
	g->fund = sim_bill_begin(SIM_BILL_FUNDFLOW, sim_gzout_sink, &g->fund_gz);

	r = run_day(g);
	if (r < 0)
		return r;

	sim_bill_get_totals(g->trade, &tt);
	sim_bill_get_totals(g->fund, &ft);
	if (g->o.plant_summary) {
		struct planted *pl = gen_plant_add(g, P_BILL_SUMMARY_MISMATCH, g->o.date);

		sim_bill_skew_summary(g->trade, 1);
		gen_plant_amounts(pl, 1, tt.settlement_fen, 1, tt.settlement_fen + 1);
		pl->note =
		        xstrdup("trade bill summary 应结订单总金额 is the sum of the rows + 1 fen "
		                "(ledger_amount = row sum, bill_amount = summary)");
		r = plants_flush(g);
		if (r < 0)
			return r;
	}
	r = sim_bill_end(g->trade);
	g->trade = NULL;
	if (r < 0)
		return err_set(g->err, r, "cannot write the trade bill");
	r = sim_bill_end(g->fund);
	g->fund = NULL;
	if (r < 0)
		return err_set(g->err, r, "cannot write the fund-flow bill");
	r = sim_gzout_finish(&g->trade_gz, g->err);
	if (r >= 0)
		r = sim_gzout_finish(&g->fund_gz, g->err);
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
	sim_gzout_release(&g->trade_gz);
	sim_gzout_release(&g->fund_gz);
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
	for (size_t k = 0; k < g->npending; k++)
		planted_release(&g->pending[k]);
	if (g->plants_f) {
		fclose(g->plants_f);
		remove(g->plants_tmp);
	}
	free(g->plants_tmp);
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
	       " refunds), manifest.json (%" PRId64 " planted) into %s in %" PRId64 ".%03" PRId64
	       " s\n",
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
