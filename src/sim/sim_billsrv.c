/*
 * sim_billsrv.c - bill apply (GET /v3/bill/tradebill, /v3/bill/fundflowbill)
 * and download (GET /v3/billdownload/file) of the simulator.
 *
 * A bill is made from the state through the sim_bill.h writer, streamed into
 * a gzip file in the simulator's temporary directory while its SHA-1 (of the
 * decompressed bytes) is computed; or, with --bills DIR, a prepared file
 * DIR/YYYY-MM-DD.trade.ALL.csv.gz (with a .sha1 side file) is used as it is.
 * The apply answer names a token; the download streams the file (gzip as is,
 * or inflated on the fly), so a bill of a million rows never sits in memory.
 */
#include "base/hex.h"
#include "sim/sim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "sim/sim_bill.h"

#define IO_CHUNK (64 * 1024)

/* ---- making a bill from the state ---- */

struct gz_sink {
	gzFile gz;
	EVP_MD_CTX *md;
};

static int gz_sink_write(void *ctx, const void *p, size_t n)
{
	struct gz_sink *g = ctx;

	if (n == 0)
		return 0;
	if (EVP_DigestUpdate(g->md, p, n) != 1)
		return WXR_EFAIL;
	if (gzwrite(g->gz, p, (unsigned)n) != (int)n)
		return WXR_EIO;
	return 0;
}

struct entry {
	int64_t ts;
	int kind;   /* 0 payment, 1 refund */
	size_t idx; /* into orders or refunds */
};

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind - y->kind;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Payments (by success time) and refunds (by creation time) up to end_ts, sorted. */
static struct entry *collect(const struct sim_state *st, int64_t from_ts, int64_t end_ts, bool pays,
                             bool refunds, size_t *out_n)
{
	struct entry *e = xreallocarray(NULL, st->norders + st->nrefunds + 1, sizeof(*e));
	size_t n = 0;

	for (size_t i = 0; pays && i < st->norders; i++) {
		const struct sim_order *o = st->orders[i];

		if (o->success_ts && o->transaction_id && o->success_ts >= from_ts &&
		    o->success_ts < end_ts)
			e[n++] = (struct entry){ o->success_ts, 0, i };
	}
	for (size_t i = 0; refunds && i < st->nrefunds; i++) {
		const struct sim_refund *r = st->refunds[i];

		if (r->create_ts >= from_ts && r->create_ts < end_ts)
			e[n++] = (struct entry){ r->create_ts, 1, i };
	}
	qsort(e, n, sizeof(*e), entry_cmp);
	*out_n = n;
	return e;
}

static int write_trade(struct sim *s, struct sim_bill_writer *w, const struct entry *e, size_t n)
{
	const struct sim_state *st = &s->st;

	for (size_t i = 0; i < n; i++) {
		struct sim_trade_row row;
		const struct sim_order *o;
		int r;

		memset(&row, 0, sizeof(row));
		row.trade_ts = e[i].ts;
		row.mchid = s->cfg.mchid;
		row.trade_type = "APP";
		row.currency = "CNY";
		row.rate = SIM_FEE_RATE_TEXT;
		row.rate_note = "";
		row.device_info = "";
		if (e[i].kind == 0) {
			o = st->orders[e[i].idx];
			row.row_kind = "SUCCESS";
			row.settlement_fen = o->total_fen;
			row.order_fen = o->total_fen;
			row.fee_e5 = o->fee_fen * 1000;
		} else {
			const struct sim_refund *rf = st->refunds[e[i].idx];

			o = sim_state_order(st, rf->out_trade_no);
			if (!o)
				continue;
			row.row_kind = "REFUND";
			row.refund_id = rf->refund_id;
			row.out_refund_no = rf->out_refund_no;
			row.refund_fen = rf->refund_fen;
			row.refund_apply_fen = rf->refund_fen;
			row.refund_type = "ORIGINAL";
			row.refund_status = sim_refund_status_name(rf->status);
			row.refund_apply_ts = rf->create_ts;
			row.refund_success_ts = rf->status == SIM_RS_SUCCESS ? rf->success_ts : 0;
			row.fee_e5 = -rf->fee_fen * 1000;
		}
		row.appid = o->appid;
		row.transaction_id = o->transaction_id;
		row.out_trade_no = o->out_trade_no;
		row.openid = o->openid;
		row.bank_type = o->bank_type;
		row.description = o->description;
		row.attach = o->attach;
		r = sim_bill_trade_row(w, &row);
		if (r < 0)
			return r;
	}
	return 0;
}

static void fund_lines(const struct sim_state *st, const struct entry *e, int64_t *out_in1,
                       int64_t *out_out1)
{
	/* the net effect of one entry: (income, expense) in fen */
	if (e->kind == 0) {
		const struct sim_order *o = st->orders[e->idx];

		*out_in1 = o->total_fen;
		*out_out1 = o->fee_fen;
	} else {
		const struct sim_refund *r = st->refunds[e->idx];

		*out_in1 = r->fee_fen;
		*out_out1 = r->refund_fen;
	}
}

static int write_fundflow(struct sim *s, struct sim_bill_writer *w, const struct entry *e, size_t n,
                          int64_t day_start, int64_t balance)
{
	const struct sim_state *st = &s->st;
	uint64_t seq = 0;
	char ymd[16];

	sim_fmt_ymd_sh(day_start, ymd, sizeof(ymd));
	for (size_t i = 0; i < n; i++) {
		struct sim_fund_row a, b;
		char flow_a[64], flow_b[64];
		int64_t in, out;
		int r;

		if (e[i].ts < day_start)
			continue;
		fund_lines(st, &e[i], &in, &out);
		memset(&a, 0, sizeof(a));
		a.booked_ts = e[i].ts;
		a.applicant = "system";
		a.remark = "";
		b = a;
		snprintf(flow_a, sizeof(flow_a), "%s%s%010llu", s->cfg.mchid, ymd,
		         (unsigned long long)++seq);
		snprintf(flow_b, sizeof(flow_b), "%s%s%010llu", s->cfg.mchid, ymd,
		         (unsigned long long)++seq);
		a.flow_no = flow_a;
		b.flow_no = flow_b;
		if (e[i].kind == 0) {
			const struct sim_order *o = st->orders[e[i].idx];

			a.biz_no = b.biz_no = o->transaction_id;
			a.voucher_no = b.voucher_no = o->out_trade_no;
			a.biz_name = b.biz_name = "交易";
			a.biz_type = "交易";
			a.income = 1;
			a.amount_fen = in;
			b.biz_type = "扣除交易手续费";
			b.income = 0;
			b.amount_fen = out;
			balance += in;
			a.balance_fen = balance;
			balance -= out;
			b.balance_fen = balance;
		} else {
			const struct sim_refund *rf = st->refunds[e[i].idx];

			a.biz_no = b.biz_no = rf->refund_id;
			a.voucher_no = b.voucher_no = rf->out_refund_no;
			a.biz_name = b.biz_name = "退款";
			a.biz_type = "退款";
			a.income = 0;
			a.amount_fen = out;
			b.biz_type = "退还交易手续费";
			b.income = 1;
			b.amount_fen = in;
			balance -= out;
			a.balance_fen = balance;
			balance += in;
			b.balance_fen = balance;
		}
		r = sim_bill_fund_row(w, &a);
		if (r < 0)
			return r;
		if (b.amount_fen == 0)
			continue; /* no fee line for a zero fee */
		r = sim_bill_fund_row(w, &b);
		if (r < 0)
			return r;
	}
	return 0;
}

int sim_bill_make(struct sim *s, bool trade, const char *bill_type, int64_t day,
                  const char *gz_path, char out_sha1[41], struct wxr_err *err)
{
	const struct sim_state *st = &s->st;
	int64_t from = sim_day_start_sh(day), to = from + 86400, balance = 0;
	struct gz_sink g = { NULL, NULL };
	struct sim_bill_writer *w = NULL;
	enum sim_bill_layout layout = SIM_BILL_FUNDFLOW;
	struct entry *e = NULL;
	size_t n = 0, rows = 0;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int r = 0;

	if (trade) {
		bool pays = strcmp(bill_type, "REFUND") != 0;
		bool refunds = strcmp(bill_type, "SUCCESS") != 0;

		layout = !pays ? SIM_BILL_REFUND : !refunds ? SIM_BILL_SUCCESS : SIM_BILL_ALL;
		e = collect(st, from, to, pays, refunds, &n);
		rows = n;
	} else {
		/* every entry up to the day's end: the earlier ones give the opening balance */
		e = collect(st, INT64_MIN, to, true, true, &n);
		for (size_t i = 0; i < n; i++) {
			int64_t in, out;

			if (e[i].ts >= from) {
				rows++;
				continue;
			}
			fund_lines(st, &e[i], &in, &out);
			balance += in - out;
		}
	}
	if (rows == 0)
		goto out; /* r = 0: no statement */
	g.gz = gzopen(gz_path, "wb6");
	g.md = EVP_MD_CTX_new();
	if (!g.gz || !g.md || EVP_DigestInit_ex(g.md, EVP_sha1(), NULL) != 1) {
		r = err_set(err, WXR_EIO, "cannot create '%s': %s", gz_path, strerror(errno));
		goto out;
	}
	w = sim_bill_begin(layout, gz_sink_write, &g);
	if (!w) {
		r = err_set(err, WXR_EFAIL, "bill writer refused the layout");
		goto out;
	}
	r = trade ? write_trade(s, w, e, n) : write_fundflow(s, w, e, n, from, balance);
	if (r < 0) {
		sim_bill_abort(w);
		err_set(err, r, "cannot write '%s'", gz_path);
		goto out;
	}
	r = sim_bill_end(w);
	if (r < 0) {
		err_set(err, r, "cannot write '%s'", gz_path);
		goto out;
	}
	r = gzclose(g.gz);
	g.gz = NULL;
	if (r != Z_OK) {
		r = err_set(err, WXR_EIO, "cannot write '%s'", gz_path);
		goto out;
	}
	EVP_DigestFinal_ex(g.md, md, &mdlen);
	hex_encode(md, mdlen, out_sha1);
	r = 1;
out:
	if (g.gz)
		gzclose(g.gz);
	EVP_MD_CTX_free(g.md);
	free(e);
	if (r <= 0)
		unlink(gz_path);
	return r;
}

/* SHA-1 of the decompressed content of a gzip file. */
static int gz_file_sha1(const char *path, char out[41], struct wxr_err *err)
{
	gzFile gz = gzopen(path, "rb");
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *buf = xmalloc(IO_CHUNK);
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	int n, r = 0;

	if (!gz || !md) {
		r = err_set(err, WXR_EIO, "cannot open '%s'", path);
		goto out;
	}
	EVP_DigestInit_ex(md, EVP_sha1(), NULL);
	while ((n = gzread(gz, buf, IO_CHUNK)) > 0)
		EVP_DigestUpdate(md, buf, (size_t)n);
	if (n < 0) {
		r = err_set(err, WXR_EDATA, "'%s' is not a valid gzip file", path);
		goto out;
	}
	EVP_DigestFinal_ex(md, d, &dlen);
	hex_encode(d, dlen, out);
out:
	if (gz)
		gzclose(gz);
	EVP_MD_CTX_free(md);
	free(buf);
	return r;
}

/* Reads "<40 hex>..." from a side file. */
static int read_sha1_file(const char *path, char out[41])
{
	char *text = sim_read_file(path, 4096, NULL);
	size_t i;

	if (!text)
		return -1;
	for (i = 0; i < 40; i++) {
		char c = text[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			break;
		out[i] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
	}
	free(text);
	if (i != 40)
		return -1;
	out[40] = '\0';
	return 0;
}

/* ---- tokens ---- */

static void token_drop(struct sim_token *t)
{
	if (t->owned && t->path)
		unlink(t->path);
	free(t->path);
	t->path = NULL;
}

void sim_tokens_sweep(struct sim *s, bool all)
{
	int64_t now = sim_real_now();
	size_t o = 0;

	for (size_t i = 0; i < s->ntokens; i++) {
		if (all || s->tokens[i].expires_real <= now - SIM_TOKEN_TTL_S) {
			/* expired tokens stay one more TTL so their answer is "expired" */
			token_drop(&s->tokens[i]);
			continue;
		}
		s->tokens[o++] = s->tokens[i];
	}
	s->ntokens = o;
}

void sim_tokens_expire(struct sim *s)
{
	for (size_t i = 0; i < s->ntokens; i++)
		s->tokens[i].expires_real = sim_real_now() - 1;
}

static struct sim_token *token_new(struct sim *s)
{
	struct sim_token *t;

	if (s->ntokens == s->tokens_cap) {
		s->tokens_cap = s->tokens_cap ? s->tokens_cap * 2 : 16;
		s->tokens = xreallocarray(s->tokens, s->tokens_cap, sizeof(*s->tokens));
	}
	t = &s->tokens[s->ntokens++];
	memset(t, 0, sizeof(*t));
	sim_rand_alnum(t->token, 32);
	t->expires_real = sim_real_now() + SIM_TOKEN_TTL_S;
	return t;
}

/* ---- apply ---- */

static int bad_arg(struct sim_resp *rs, const char *field, const char *issue)
{
	return sim_resp_error(
	        rs, 400, "PARAM_ERROR", "参数错误",
	        json_pack("{s:s, s:s, s:s}", "field", field, "issue", issue, "location", "query"));
}

/* The first day that is still within the 3 months the API keeps. */
static int64_t oldest_day(int64_t today)
{
	int y, m, d, dim;

	sim_civil_from_days(today, &y, &m, &d);
	m -= 3;
	if (m < 1) {
		m += 12;
		y--;
	}
	dim = (int)(sim_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) -
	            sim_days_from_civil(y, m, 1));
	if (d > dim)
		d = dim;
	return sim_days_from_civil(y, m, d);
}

static bool in_list(const char *v, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v, list[i]) == 0)
			return true;
	return false;
}

void sim_bill_apply(struct sim *s, bool trade, struct sim_req *rq, struct sim_resp *rs,
                    bool wrong_hash)
{
	static const char *const trade_types[] = { "ALL", "SUCCESS", "REFUND" };
	static const char *const trade_other[] = { "RECHARGE_REFUND", "ALL_SPECIAL", "SUC_SPECIAL",
		                                   "REF_SPECIAL" };
	static const char *const accounts[] = { "BASIC", "OPERATION", "FEES" };
	const char *date = sim_req_arg(rq, "bill_date");
	const char *type = sim_req_arg(rq, trade ? "bill_type" : "account_type");
	const char *tar = sim_req_arg(rq, "tar_type");
	struct wxr_err err = WXR_ERR_INIT;
	char sha1[41], *file = NULL, *url = NULL;
	struct sim_token *t;
	int64_t day, now, today;
	bool owned = false;
	int r;

	for (size_t i = 0; i < rq->nargs; i++) {
		const char *k = rq->args[i].key;

		if (strcmp(k, "bill_date") != 0 && strcmp(k, "tar_type") != 0 &&
		    strcmp(k, trade ? "bill_type" : "account_type") != 0) {
			bad_arg(rs, k, "unknown query parameter");
			return;
		}
	}
	if (!date) {
		bad_arg(rs, "bill_date", "required query parameter is missing");
		return;
	}
	if (sim_parse_date(date, &day) < 0) {
		bad_arg(rs, "bill_date", "must be yyyy-MM-dd");
		return;
	}
	if (!type)
		type = trade ? "ALL" : "BASIC";
	if (trade && !in_list(type, trade_types, ARRAY_SIZE(trade_types)) &&
	    !in_list(type, trade_other, ARRAY_SIZE(trade_other))) {
		bad_arg(rs, "bill_type", "must be ALL, SUCCESS, REFUND, ...");
		return;
	}
	if (!trade && !in_list(type, accounts, ARRAY_SIZE(accounts))) {
		bad_arg(rs, "account_type", "must be BASIC, OPERATION or FEES");
		return;
	}
	if (tar && strcmp(tar, "GZIP") != 0) {
		bad_arg(rs, "tar_type", "must be GZIP");
		return;
	}
	sim_tokens_sweep(s, false);
	now = sim_state_now(&s->st);
	today = sim_day_sh(now);
	if (day > today) {
		sim_resp_error(rs, 400, SIM_CODE_BILL_FUTURE, "账单日期不能晚于今天", NULL);
		return;
	}
	if (now < sim_day_start_sh(day + 1) + (int64_t)s->cfg.release_minutes * 60) {
		sim_resp_error(rs, SIM_STATUS_STATEMENT_CREATING, SIM_CODE_STATEMENT_CREATING,
		               "账单生成中", NULL);
		return;
	}
	if (day < oldest_day(today)) {
		sim_resp_error(rs, 400, SIM_CODE_BILL_TOO_OLD, "只能下载三个月以内的账单", NULL);
		return;
	}

	if (s->cfg.bills_dir) {
		struct stat sb;

		file = xasprintf("%s/%s.%s.%s.csv.gz", s->cfg.bills_dir, date,
		                 trade ? "trade" : "fundflow", type);
		if (stat(file, &sb) == 0) {
			char *side = xasprintf("%s.sha1", file);
			char *side2 = xasprintf("%s/%s.%s.%s.csv.sha1", s->cfg.bills_dir, date,
			                        trade ? "trade" : "fundflow", type);

			r = read_sha1_file(side, sha1);
			if (r < 0)
				r = read_sha1_file(side2, sha1);
			if (r < 0)
				r = gz_file_sha1(file, sha1, &err);
			free(side);
			free(side2);
			if (r < 0) {
				fprintf(stderr, "wxrecon-sim: %s\n", err.msg);
				sim_resp_error(rs, 500, "SYSTEM_ERROR", "系统错误", NULL);
				goto out;
			}
			goto found;
		}
		free(file);
		file = NULL;
	}
	if ((trade && !in_list(type, trade_types, ARRAY_SIZE(trade_types))) ||
	    (!trade && strcmp(type, "BASIC") != 0)) {
		sim_resp_error(rs, 400, "NO_STATEMENT_EXIST", "请求的账单文件不存在", NULL);
		goto out;
	}
	{
		char rnd[17];

		sim_rand_hex(rnd, 16);
		file = xasprintf("%s/%s.%s.%s.%s.csv.gz", s->tmpdir, date,
		                 trade ? "trade" : "fundflow", type, rnd);
	}
	r = sim_bill_make(s, trade, type, day, file, sha1, &err);
	if (r < 0) {
		fprintf(stderr, "wxrecon-sim: bill %s: %s\n", date, err.msg);
		sim_resp_error(rs, 500, "SYSTEM_ERROR", "系统错误", NULL);
		goto out;
	}
	if (r == 0) {
		sim_resp_error(rs, 400, "NO_STATEMENT_EXIST", "请求的账单文件不存在", NULL);
		goto out;
	}
	owned = true;
found:
	t = token_new(s);
	t->path = file;
	t->owned = owned;
	t->gzip = tar != NULL;
	file = NULL;
	if (wrong_hash)
		sha1[0] = sha1[0] == '0' ? '1' : '0';
	url = xasprintf("http://127.0.0.1:%u/v3/billdownload/file?token=%s%s", s->port, t->token,
	                t->gzip ? "&tartype=gzip" : "");
	sim_resp_json(rs, 200,
	              json_pack("{s:s, s:s, s:s}", "hash_type", "SHA1", "hash_value", sha1,
	                        "download_url", url));
out:
	free(url);
	free(file);
}

/* ---- download ---- */

struct sim_download {
	int fd;
	bool inflate;
	bool zs_ready;
	bool zs_end;
	z_stream zs;
	unsigned char *in;
	int64_t size; /* declared size, -1 unknown */
	int64_t sent;
	int64_t limit;  /* stop after this many bytes, -1 none */
	bool cut_error; /* at the limit: error (abort) rather than a clean end */
};

int64_t sim_download_size(const struct sim_download *dl)
{
	return dl->size;
}

static long inflate_some(struct sim_download *dl, char *buf, size_t max)
{
	dl->zs.next_out = (unsigned char *)buf;
	dl->zs.avail_out = (uInt)max;
	while (dl->zs.avail_out == max) {
		int zr;

		if (dl->zs_end)
			return 0;
		if (dl->zs.avail_in == 0) {
			ssize_t n = read(dl->fd, dl->in, IO_CHUNK);

			if (n < 0)
				return -1;
			if (n == 0)
				return -1; /* truncated gzip */
			dl->zs.next_in = dl->in;
			dl->zs.avail_in = (uInt)n;
		}
		zr = inflate(&dl->zs, Z_NO_FLUSH);
		if (zr == Z_STREAM_END) {
			/* a concatenated member may follow */
			if (dl->zs.avail_in == 0) {
				ssize_t n = read(dl->fd, dl->in, IO_CHUNK);

				if (n <= 0) {
					dl->zs_end = true;
					break;
				}
				dl->zs.next_in = dl->in;
				dl->zs.avail_in = (uInt)n;
			}
			inflateReset(&dl->zs);
		} else if (zr != Z_OK && zr != Z_BUF_ERROR) {
			return -1;
		}
	}
	return (long)(max - dl->zs.avail_out);
}

long sim_download_read(struct sim_download *dl, char *buf, size_t max)
{
	long n;

	if (dl->limit >= 0) {
		if (dl->sent >= dl->limit)
			return dl->cut_error ? -1 : 0;
		if ((int64_t)max > dl->limit - dl->sent)
			max = (size_t)(dl->limit - dl->sent);
	}
	if (max > IO_CHUNK)
		max = IO_CHUNK;
	if (dl->inflate) {
		n = inflate_some(dl, buf, max);
	} else {
		ssize_t k = read(dl->fd, buf, max);

		n = k < 0 ? -1 : (long)k;
	}
	if (n > 0)
		dl->sent += n;
	return n;
}

void sim_download_free(struct sim_download *dl)
{
	if (!dl)
		return;
	if (dl->zs_ready)
		inflateEnd(&dl->zs);
	if (dl->fd >= 0)
		close(dl->fd);
	free(dl->in);
	free(dl);
}

void sim_bill_download(struct sim *s, struct sim_req *rq, struct sim_resp *rs,
                       const struct sim_fault *truncate)
{
	const char *token = sim_req_arg(rq, "token");
	const char *tartype = sim_req_arg(rq, "tartype");
	struct sim_download *dl;
	struct sim_token *t = NULL;
	struct stat sb;

	for (size_t i = 0; i < rq->nargs; i++) {
		if (strcmp(rq->args[i].key, "token") != 0 &&
		    strcmp(rq->args[i].key, "tartype") != 0) {
			bad_arg(rs, rq->args[i].key, "unknown query parameter");
			return;
		}
	}
	if (!token) {
		bad_arg(rs, "token", "required query parameter is missing");
		return;
	}
	for (size_t i = 0; i < s->ntokens; i++)
		if (strcmp(s->tokens[i].token, token) == 0)
			t = &s->tokens[i];
	if (!t) {
		sim_resp_error(rs, 400, "INVALID_REQUEST", "下载链接无效，请重新请求文件下载",
		               NULL);
		return;
	}
	if (t->expires_real <= sim_real_now()) {
		sim_resp_error(rs, 400, SIM_CODE_TOKEN_EXPIRED, "下载链接过期，请重新请求文件下载",
		               NULL);
		return;
	}
	if ((tartype != NULL) != t->gzip || (tartype && strcmp(tartype, "gzip") != 0)) {
		bad_arg(rs, "tartype", "not the download_url that was issued");
		return;
	}
	dl = xcalloc(1, sizeof(*dl));
	dl->limit = -1;
	dl->fd = open(t->path, O_RDONLY | O_CLOEXEC);
	if (dl->fd < 0 || fstat(dl->fd, &sb) < 0) {
		fprintf(stderr, "wxrecon-sim: cannot open '%s': %s\n", t->path, strerror(errno));
		sim_download_free(dl);
		sim_resp_error(rs, 500, "SYSTEM_ERROR", "系统错误", NULL);
		return;
	}
	dl->inflate = !t->gzip;
	dl->size = dl->inflate ? -1 : (int64_t)sb.st_size;
	if (dl->inflate) {
		dl->in = xmalloc(IO_CHUNK);
		if (inflateInit2(&dl->zs, 15 + 32) != Z_OK) {
			sim_download_free(dl);
			sim_resp_error(rs, 500, "SYSTEM_ERROR", "系统错误", NULL);
			return;
		}
		dl->zs_ready = true;
	}
	if (truncate) {
		int64_t half = (int64_t)sb.st_size / 2 > 0 ? (int64_t)sb.st_size / 2 : 1;

		dl->limit = truncate->bytes > 0 ? truncate->bytes : half;
		dl->cut_error = !truncate->short_body;
		if (truncate->short_body && dl->size >= 0 && dl->limit < dl->size)
			dl->size = dl->limit;
	}
	rs->status = 200;
	rs->dl = dl;
}
