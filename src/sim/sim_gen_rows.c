/*
 * sim_gen_rows.c - the rows of a generated day: ids, payments and refunds in
 * the trade bill, their fund flows, and the merchant's ledger lines, written
 * as they are made (a payment's ledger line when it leaves the ring).
 */
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

/* ---- small helpers ---- */

static uint64_t rnd(struct gen *g)
{
	uint64_t z = (g->rng += 0x9E3779B97F4A7C15u);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

uint64_t gen_rnd_below(struct gen *g, uint64_t n)
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

int64_t gen_fee_of(int64_t amount_fen)
{
	return (amount_fen * FEE_RATE_PPT + 500) / 1000;
}

/* "YYYY-MM-DD" -> Unix seconds of its 00:00:00 Beijing time. */
int gen_parse_date(const char *s, int64_t *out_day_start)
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
void gen_date_strings(int64_t ts, char date[11], char ymd[9])
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

void gen_out_trade_no_of(const char *ymd, uint64_t seq, char out[40])
{
	char *p = cat(out, "ORD");

	p = cat(p, ymd);
	p = catu(p, seq, 9);
	*p = '\0';
}

void gen_txn_of(const char *ymd, uint64_t seq, char out[40])
{
	char *p = cat(out, "4200000001");

	p = cat(p, ymd);
	p = catu(p, seq, 10);
	*p = '\0';
}

void gen_bref_of(const char *ymd, uint64_t seq, char out[40])
{
	char *p = cat(out, "BIZ");

	p = cat(p, ymd);
	p = catu(p, seq, 9);
	*p = '\0';
}

void gen_refund_id_of(const char *ymd, uint64_t seq, char out[40])
{
	char *p = cat(out, "5030000001");

	p = cat(p, ymd);
	p = catu(p, seq, 11);
	*p = '\0';
}

void gen_out_refund_no_of(const char *ymd, uint64_t seq, char out[40])
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
	uint64_t r = gen_rnd_below(g, 100);

	if (r < 3)
		return 1 + (int64_t)gen_rnd_below(g, 99); /* 0.01 - 0.99 */
	if (r < 60)
		return 100 + (int64_t)gen_rnd_below(g, 19900); /* 1 - 199.99 */
	if (r < 92)
		return 20000 + (int64_t)gen_rnd_below(g, 80000); /* 200 - 999.99 */
	if (r < 99)
		return 100000 + (int64_t)gen_rnd_below(g, 400000); /* 1000 - 4999.99 */
	return 500000 + (int64_t)gen_rnd_below(g, 300001);         /* 5000 - 8000 */
}

/* Time of bill row i: spread over the day, never decreasing, ends before 23:59:50. */
int64_t gen_row_ts(const struct gen *g, int64_t i)
{
	return g->day_start + 1 + i * 86388 / g->o.rows;
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
int gen_ledger_order(struct gen *g, const char *ymd, const struct pay *p, const char *state,
                     int64_t amount, int with_payment)
{
	char otn[40], txn[40], bref[40], att[64];
	char *e = g->line;

	gen_out_trade_no_of(ymd, p->seq, otn);
	gen_txn_of(ymd, p->seq, txn);
	gen_bref_of(ymd, p->bref_seq, bref);
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

int gen_ledger_refund(struct gen *g, const char *orn, const char *otn, const char *refund_id,
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
int gen_ring_evict(struct gen *g)
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
		r = gen_ledger_order(g, g->ymd, p, "NOTPAY", p->amount, 0);
		break;
	case P_AMOUNT_MISMATCH:
		r = gen_ledger_order(g, g->ymd, p, NULL, p->amount + 100, 1);
		break;
	default:
		r = gen_ledger_order(g, g->ymd, p, NULL, p->amount, 1);
		break;
	}
	return r;
}

struct pay *gen_ring_push(struct gen *g)
{
	struct pay *p;

	if (g->ring_head - g->ring_tail == RING_SIZE && gen_ring_evict(g) < 0)
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
	gen_out_trade_no_of(g->ymd, p->seq, pt->otn);
	gen_txn_of(g->ymd, p->seq, pt->txn);
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
struct pay *gen_payment(struct gen *g, int64_t ts, enum plant_kind plant, int64_t amount,
                        int64_t fee_skew_fen, int64_t balance_jump)
{
	struct sim_trade_row t;
	struct pay_text pt;
	struct pay *p;
	int r;

	p = gen_ring_push(g);
	if (!p)
		return NULL;
	p->seq = ++g->pay_seq;
	p->bref_seq = p->seq;
	p->paid_ts = ts;
	p->created_ts = ts - 10 - (int64_t)gen_rnd_below(g, 600);
	p->amount = amount ? amount : random_amount(g);
	p->fee = gen_fee_of(p->amount);
	p->user = (uint32_t)gen_rnd_below(g, g->users);
	p->bank = (uint8_t)gen_rnd_below(g, sizeof(banks) / sizeof(banks[0]));
	p->desc = (uint8_t)gen_rnd_below(g, sizeof(goods) / sizeof(goods[0]));
	/* attach: 40% empty, else "u=N" (8/20), "u=N,ch=app" (8/20), "src=\"push\";u=N" (4/20) */
	p->attach = (uint8_t)(gen_rnd_below(g, 10) < 4 ? 0 : 1 + gen_rnd_below(g, 20) / 8);
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
int gen_refund(struct gen *g, struct pay *p, int64_t ts, int64_t amount, enum plant_kind plant,
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
	gen_out_refund_no_of(g->ymd, g->refund_seq, orn);
	gen_refund_id_of(g->ymd, g->refund_seq, rid);

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

	reason = refund_reasons[gen_rnd_below(g,
	                                      sizeof(refund_reasons) / sizeof(refund_reasons[0]))];
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
	return gen_ledger_refund(g, orn, pt.otn, rid, ledger_amount, "SUCCESS", ts, ts + 1);
}
