/*
 * sim_bill.c - writes WeChat Pay bills exactly as PROTOCOL.md section 6 says,
 * one row at a time: BOM, header, rows with a backtick before every value,
 * summary header and summary line, CRLF on every line.
 *
 * This is the independent second implementation of the bill format (the
 * production parser is src/billparse.c); it shares no code with it on purpose.
 * Numbers are formatted by hand from int64 (fen, 0.00001 yuan), never through
 * floating point; times are Beijing time (UTC+8, no DST) computed here, never
 * with the machine's TZ.
 */
#include "sim/sim_bill.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

/* One line may not grow past this (a runaway 备注, say). */
#define SIM_BILL_LINE_MAX (1u << 20)

#define BJ_OFFSET_S (8 * 3600)

struct sim_bill_writer {
	enum sim_bill_layout layout;
	enum sim_bill_style style;
	sim_bill_sink sink;
	void *ctx;
	int err;    /* first failure; sticky */
	char *line; /* the reused line buffer */
	size_t len;
	size_t cap;
	int64_t skew_fen;
	struct sim_bill_totals t;
	int64_t cached_ts; /* last formatted time, rows often share a second */
	char cached_time[32];
	size_t cached_time_len;
};

/* Column ids; each layout is a list of them (PROTOCOL 6.2). */
enum col {
	C_TRADE_TIME,
	C_APPID,
	C_MCHID,
	C_SUB_MCHID,
	C_DEVICE,
	C_TXN,
	C_OUT_TRADE_NO,
	C_OPENID,
	C_TRADE_TYPE,
	C_ROW_KIND,
	C_BANK,
	C_CURRENCY,
	C_SETTLEMENT,
	C_COUPON,
	C_REFUND_ID,
	C_OUT_REFUND_NO,
	C_REFUND,
	C_RECHARGE_REFUND,
	C_REFUND_TYPE,
	C_REFUND_STATUS,
	C_DESC,
	C_ATTACH,
	C_FEE,
	C_RATE,
	C_ORDER,
	C_REFUND_APPLY,
	C_RATE_NOTE,
	C_APPLY_TIME,
	C_SUCCESS_TIME
};

static const unsigned char cols_all[] = {
	C_TRADE_TIME,   C_APPID,         C_MCHID,      C_SUB_MCHID,     C_DEVICE, C_TXN,
	C_OUT_TRADE_NO, C_OPENID,        C_TRADE_TYPE, C_ROW_KIND,      C_BANK,   C_CURRENCY,
	C_SETTLEMENT,   C_COUPON,        C_REFUND_ID,  C_OUT_REFUND_NO, C_REFUND, C_RECHARGE_REFUND,
	C_REFUND_TYPE,  C_REFUND_STATUS, C_DESC,       C_ATTACH,        C_FEE,    C_RATE,
	C_ORDER,        C_REFUND_APPLY,  C_RATE_NOTE
};

static const unsigned char cols_success[] = {
	C_TRADE_TIME, C_APPID,        C_MCHID,      C_SUB_MCHID,  C_DEVICE,
	C_TXN,        C_OUT_TRADE_NO, C_OPENID,     C_TRADE_TYPE, C_ROW_KIND,
	C_BANK,       C_CURRENCY,     C_SETTLEMENT, C_COUPON,     C_DESC,
	C_ATTACH,     C_FEE,          C_RATE,       C_ORDER,      C_RATE_NOTE
};

static const unsigned char cols_refund[] = {
	C_TRADE_TIME,   C_APPID,         C_MCHID,         C_SUB_MCHID,  C_DEVICE,
	C_TXN,          C_OUT_TRADE_NO,  C_OPENID,        C_TRADE_TYPE, C_ROW_KIND,
	C_BANK,         C_CURRENCY,      C_SETTLEMENT,    C_COUPON,     C_APPLY_TIME,
	C_SUCCESS_TIME, C_REFUND_ID,     C_OUT_REFUND_NO, C_REFUND,     C_RECHARGE_REFUND,
	C_REFUND_TYPE,  C_REFUND_STATUS, C_DESC,          C_ATTACH,     C_FEE,
	C_RATE,         C_ORDER,         C_REFUND_APPLY,  C_RATE_NOTE
};

static const char bom_header_all[] =
        "\xEF\xBB\xBF"
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
        "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
        "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
        "费率备注\r\n";

static const char bom_header_success[] =
        "\xEF\xBB\xBF"
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
        "交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,"
        "订单金额,费率备注\r\n";

static const char bom_header_refund[] =
        "\xEF\xBB\xBF"
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
        "交易状态,付款银行,货币种类,应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,"
        "商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,"
        "订单金额,申请退款金额,费率备注\r\n";

static const char bom_header_fundflow[] =
        "\xEF\xBB\xBF"
        "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),"
        "账户结余(元),资金变更提交申请人,备注,业务凭证号\r\n";

static const char summary_header_trade7[] =
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,"
        "申请退款总金额\r\n";

static const char summary_header_trade4[] = "总交易单数,应结订单总金额,手续费总金额,订单总金额\r\n";

static const char summary_header_fundflow[] =
        "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额\r\n";

/* ---- number and time formatting (no libc time, no floating point) ---- */

static uint64_t magnitude(int64_t v)
{
	return v < 0 ? (uint64_t)(-(v + 1)) + 1u : (uint64_t)v;
}

/* Writes the decimal digits of u; returns their count. dst needs 20 bytes. */
static size_t fmt_u64(char *dst, uint64_t u)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	for (size_t i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	return n;
}

static uint64_t pow10u(int scale)
{
	uint64_t p = 1;

	while (scale-- > 0)
		p *= 10;
	return p;
}

/*
 * v in units of 10^-scale, written with exactly `scale` decimals; with
 * trim, trailing zero decimals are dropped down to one (`0.0`, `0.47`).
 * dst needs 48 bytes.
 */
static size_t fmt_decimal(char *dst, int64_t v, int scale, int trim)
{
	uint64_t m = magnitude(v);
	uint64_t p = pow10u(scale);
	uint64_t frac = m % p;
	size_t n = 0;
	char digits[20];
	int keep = scale;

	if (v < 0)
		dst[n++] = '-';
	n += fmt_u64(dst + n, m / p);
	dst[n++] = '.';
	for (int i = scale - 1; i >= 0; i--) {
		digits[i] = (char)('0' + frac % 10);
		frac /= 10;
	}
	if (trim)
		while (keep > 1 && digits[keep - 1] == '0')
			keep--;
	memcpy(dst + n, digits, (size_t)keep);
	return n + (size_t)keep;
}

static size_t fmt_count(char *dst, int64_t v, int with_dot_zero)
{
	size_t n = 0;

	if (v < 0)
		dst[n++] = '-';
	n += fmt_u64(dst + n, magnitude(v));
	if (with_dot_zero) {
		dst[n++] = '.';
		dst[n++] = '0';
	}
	return n;
}

/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *out_y, unsigned *out_m, unsigned *out_d)
{
	int64_t era, y;
	uint64_t doe, yoe, doy, mp;
	unsigned m;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (uint64_t)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*out_d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*out_m = m;
	*out_y = y + (m <= 2);
}

static void put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

/* Unix seconds -> "yyyy-MM-dd HH:mm:ss" in Beijing time; dst needs 32 bytes. */
static size_t fmt_bj_time(char *dst, int64_t ts)
{
	int64_t t = ts + BJ_OFFSET_S;
	int64_t days = t / 86400;
	int64_t sec = t % 86400;
	int64_t y;
	unsigned mo, d;

	if (sec < 0) {
		sec += 86400;
		days--;
	}
	civil_from_days(days, &y, &mo, &d);
	if (y < 0 || y > 9999)
		return (size_t)snprintf(dst, 32, "%04lld-%02u-%02u %02u:%02u:%02u", (long long)y,
		                        mo, d, (unsigned)(sec / 3600), (unsigned)(sec / 60 % 60),
		                        (unsigned)(sec % 60));
	put2(dst, (unsigned)(y / 100));
	put2(dst + 2, (unsigned)(y % 100));
	dst[4] = '-';
	put2(dst + 5, mo);
	dst[7] = '-';
	put2(dst + 8, d);
	dst[10] = ' ';
	put2(dst + 11, (unsigned)(sec / 3600));
	dst[13] = ':';
	put2(dst + 14, (unsigned)(sec / 60 % 60));
	dst[16] = ':';
	put2(dst + 17, (unsigned)(sec % 60));
	return 19;
}

size_t sim_bill_fmt_time(char *dst, int64_t ts)
{
	size_t n = fmt_bj_time(dst, ts);

	dst[n] = '\0';
	return n;
}

/* ---- the line buffer ---- */

static int line_reserve(struct sim_bill_writer *w, size_t more)
{
	size_t want;

	if (more > SIM_BILL_LINE_MAX || w->len > SIM_BILL_LINE_MAX - more)
		return WXR_ETOOBIG;
	want = w->len + more;
	if (want <= w->cap)
		return 0;
	if (want < w->cap * 2)
		want = w->cap * 2;
	w->line = xrealloc(w->line, want);
	w->cap = want;
	return 0;
}

/* Opens a value: a comma unless it is the first, then the backtick. */
static void open_value(struct sim_bill_writer *w, int first)
{
	if (!first)
		w->line[w->len++] = ',';
	w->line[w->len++] = '`';
}

/*
 * A text value. CR and LF become the two-character sequences \r and \n and
 * 0x01 a space (PROTOCOL 6.1); commas, quotes and backticks stay as they are.
 */
static int put_text(struct sim_bill_writer *w, int first, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	int r;

	r = line_reserve(w, 2 + 2 * n);
	if (r < 0)
		return r;
	open_value(w, first);
	while (n) {
		size_t plain = strcspn(s, "\r\n\x01");

		memcpy(w->line + w->len, s, plain);
		w->len += plain;
		s += plain;
		n -= plain;
		if (!n)
			break;
		if (*s == '\x01') {
			w->line[w->len++] = ' ';
		} else {
			w->line[w->len++] = '\\';
			w->line[w->len++] = *s == '\r' ? 'r' : 'n';
		}
		s++;
		n--;
	}
	return 0;
}

static int put_raw(struct sim_bill_writer *w, int first, const char *s, size_t n)
{
	int r;

	r = line_reserve(w, 2 + n);
	if (r < 0)
		return r;
	open_value(w, first);
	memcpy(w->line + w->len, s, n);
	w->len += n;
	return 0;
}

static int put_yuan(struct sim_bill_writer *w, int first, int64_t fen)
{
	char b[48];

	return put_raw(w, first, b, fmt_decimal(b, fen, 2, 0));
}

static int put_fee(struct sim_bill_writer *w, int first, int64_t e5)
{
	char b[48];

	return put_raw(w, first, b, fmt_decimal(b, e5, 5, 0));
}

static int put_time(struct sim_bill_writer *w, int first, int64_t ts)
{
	if (ts != w->cached_ts || w->cached_time_len == 0) {
		w->cached_time_len = fmt_bj_time(w->cached_time, ts);
		w->cached_ts = ts;
	}
	return put_raw(w, first, w->cached_time, w->cached_time_len);
}

static int put_time_or_empty(struct sim_bill_writer *w, int first, int64_t ts)
{
	if (ts == 0)
		return put_raw(w, first, "", 0);
	return put_time(w, first, ts);
}

static int emit(struct sim_bill_writer *w, const void *p, size_t n)
{
	int r;

	if (w->err < 0)
		return w->err;
	r = w->sink(w->ctx, p, n);
	if (r < 0) {
		w->err = r;
		return r;
	}
	w->t.bytes += n;
	return 0;
}

/* Ends the line with CRLF and hands it to the sink. */
static int flush_line(struct sim_bill_writer *w)
{
	int r;

	r = line_reserve(w, 2);
	if (r < 0)
		return r;
	w->line[w->len++] = '\r';
	w->line[w->len++] = '\n';
	r = emit(w, w->line, w->len);
	w->len = 0;
	return r;
}

/* ---- the API ---- */

struct sim_bill_writer *sim_bill_begin(enum sim_bill_layout layout, sim_bill_sink sink, void *ctx)
{
	struct sim_bill_writer *w;
	const char *head;

	switch (layout) {
	case SIM_BILL_ALL:
		head = bom_header_all;
		break;
	case SIM_BILL_SUCCESS:
		head = bom_header_success;
		break;
	case SIM_BILL_REFUND:
		head = bom_header_refund;
		break;
	case SIM_BILL_FUNDFLOW:
		head = bom_header_fundflow;
		break;
	default:
		return NULL;
	}
	if (!sink)
		return NULL;
	w = xcalloc(1, sizeof(*w));
	w->layout = layout;
	w->style = SIM_BILL_STYLE_DEFAULT;
	w->sink = sink;
	w->ctx = ctx;
	w->cap = 1024;
	w->line = xmalloc(w->cap);
	/* A sink failure here is kept and returned by the next call. */
	emit(w, head, strlen(head));
	return w;
}

void sim_bill_set_style(struct sim_bill_writer *w, enum sim_bill_style style)
{
	if (w)
		w->style = style;
}

void sim_bill_skew_summary(struct sim_bill_writer *w, int64_t fen)
{
	if (w)
		w->skew_fen += fen;
}

void sim_bill_get_totals(const struct sim_bill_writer *w, struct sim_bill_totals *out)
{
	if (w)
		*out = w->t;
}

static int put_trade_col(struct sim_bill_writer *w, int first, unsigned col,
                         const struct sim_trade_row *row)
{
	switch (col) {
	case C_TRADE_TIME:
		return put_time(w, first, row->trade_ts);
	case C_APPID:
		return put_text(w, first, row->appid);
	case C_MCHID:
		return put_text(w, first, row->mchid);
	case C_SUB_MCHID:
		return put_text(w, first, row->sub_mchid ? row->sub_mchid : "0");
	case C_DEVICE:
		return put_text(w, first, row->device_info);
	case C_TXN:
		return put_text(w, first, row->transaction_id);
	case C_OUT_TRADE_NO:
		return put_text(w, first, row->out_trade_no);
	case C_OPENID:
		return put_text(w, first, row->openid);
	case C_TRADE_TYPE:
		return put_text(w, first, row->trade_type);
	case C_ROW_KIND:
		return put_text(w, first, row->row_kind);
	case C_BANK:
		return put_text(w, first, row->bank_type);
	case C_CURRENCY:
		return put_text(w, first, row->currency);
	case C_SETTLEMENT:
		return put_yuan(w, first, row->settlement_fen);
	case C_COUPON:
		return put_yuan(w, first, row->coupon_fen);
	case C_REFUND_ID:
		return put_text(w, first, row->refund_id ? row->refund_id : "0");
	case C_OUT_REFUND_NO:
		return put_text(w, first, row->out_refund_no ? row->out_refund_no : "0");
	case C_REFUND:
		return put_yuan(w, first, row->refund_fen);
	case C_RECHARGE_REFUND:
		return put_yuan(w, first, row->recharge_refund_fen);
	case C_REFUND_TYPE:
		return put_text(w, first, row->refund_type);
	case C_REFUND_STATUS:
		return put_text(w, first, row->refund_status);
	case C_DESC:
		return put_text(w, first, row->description);
	case C_ATTACH:
		return put_text(w, first, row->attach);
	case C_FEE:
		return put_fee(w, first, row->fee_e5);
	case C_RATE:
		return put_text(w, first, row->rate);
	case C_ORDER:
		return put_yuan(w, first, row->order_fen);
	case C_REFUND_APPLY:
		return put_yuan(w, first, row->refund_apply_fen);
	case C_RATE_NOTE:
		return put_text(w, first, row->rate_note);
	case C_APPLY_TIME:
		return put_time_or_empty(w, first, row->refund_apply_ts);
	case C_SUCCESS_TIME:
		return put_time_or_empty(w, first, row->refund_success_ts);
	default:
		return WXR_EFAIL;
	}
}

int sim_bill_trade_row(struct sim_bill_writer *w, const struct sim_trade_row *row)
{
	const unsigned char *cols;
	size_t ncols;
	int r;

	if (!w || !row)
		return WXR_EFAIL;
	if (w->err < 0)
		return w->err;
	switch (w->layout) {
	case SIM_BILL_ALL:
		cols = cols_all;
		ncols = sizeof(cols_all);
		break;
	case SIM_BILL_SUCCESS:
		cols = cols_success;
		ncols = sizeof(cols_success);
		break;
	case SIM_BILL_REFUND:
		cols = cols_refund;
		ncols = sizeof(cols_refund);
		break;
	default:
		return WXR_EFAIL;
	}
	w->len = 0;
	for (size_t i = 0; i < ncols; i++) {
		r = put_trade_col(w, i == 0, cols[i], row);
		if (r < 0)
			goto fail;
	}
	r = flush_line(w);
	if (r < 0)
		return r;
	w->t.rows++;
	w->t.settlement_fen += row->settlement_fen;
	w->t.coupon_fen += row->coupon_fen;
	w->t.refund_fen += row->refund_fen;
	w->t.recharge_refund_fen += row->recharge_refund_fen;
	w->t.fee_e5 += row->fee_e5;
	w->t.order_fen += row->order_fen;
	w->t.refund_apply_fen += row->refund_apply_fen;
	return 0;
fail:
	/* A row that cannot be written is skipped whole; the bill stays usable. */
	w->len = 0;
	return r;
}

int sim_bill_fund_row(struct sim_bill_writer *w, const struct sim_fund_row *row)
{
	int r;

	if (!w || !row)
		return WXR_EFAIL;
	if (w->err < 0)
		return w->err;
	if (w->layout != SIM_BILL_FUNDFLOW)
		return WXR_EFAIL;
	w->len = 0;
	r = put_time(w, 1, row->booked_ts);
	if (r >= 0)
		r = put_text(w, 0, row->biz_no);
	if (r >= 0)
		r = put_text(w, 0, row->flow_no);
	if (r >= 0)
		r = put_text(w, 0, row->biz_name);
	if (r >= 0)
		r = put_text(w, 0, row->biz_type);
	if (r >= 0)
		r = put_text(w, 0, row->income ? "收入" : "支出");
	if (r >= 0)
		r = put_yuan(w, 0, row->amount_fen);
	if (r >= 0)
		r = put_yuan(w, 0, row->balance_fen);
	if (r >= 0)
		r = put_text(w, 0, row->applicant);
	if (r >= 0)
		r = put_text(w, 0, row->remark);
	if (r >= 0)
		r = put_text(w, 0, row->voucher_no);
	if (r < 0) {
		w->len = 0;
		return r;
	}
	r = flush_line(w);
	if (r < 0)
		return r;
	w->t.rows++;
	if (row->income) {
		w->t.income_rows++;
		w->t.income_fen += row->amount_fen;
	} else {
		w->t.expense_rows++;
		w->t.expense_fen += row->amount_fen;
	}
	return 0;
}

/* Summary values in the writer's style. */
static int sum_count(struct sim_bill_writer *w, int first, int64_t v, int dot_zero)
{
	char b[48];

	return put_raw(w, first, b, fmt_count(b, v, dot_zero || w->style == SIM_BILL_STYLE_SAMPLE));
}

static int sum_money(struct sim_bill_writer *w, int first, int64_t fen)
{
	char b[48];

	return put_raw(w, first, b, fmt_decimal(b, fen, 2, w->style == SIM_BILL_STYLE_SAMPLE));
}

static int sum_fee(struct sim_bill_writer *w, int first, int64_t e5)
{
	char b[48];

	return put_raw(w, first, b, fmt_decimal(b, e5, 5, w->style == SIM_BILL_STYLE_SAMPLE));
}

static int write_summary(struct sim_bill_writer *w)
{
	const struct sim_bill_totals *t = &w->t;
	int r;

	w->len = 0;
	switch (w->layout) {
	case SIM_BILL_ALL:
	case SIM_BILL_REFUND:
		r = emit(w, summary_header_trade7, strlen(summary_header_trade7));
		if (r < 0)
			return r;
		r = sum_count(w, 1, t->rows, 0);
		if (r >= 0)
			r = sum_money(w, 0, t->settlement_fen + w->skew_fen);
		if (r >= 0)
			r = sum_money(w, 0, t->refund_fen);
		if (r >= 0)
			r = sum_money(w, 0, t->recharge_refund_fen);
		if (r >= 0)
			r = sum_fee(w, 0, t->fee_e5);
		if (r >= 0)
			r = sum_money(w, 0, t->order_fen);
		if (r >= 0)
			r = sum_money(w, 0, t->refund_apply_fen);
		break;
	case SIM_BILL_SUCCESS:
		r = emit(w, summary_header_trade4, strlen(summary_header_trade4));
		if (r < 0)
			return r;
		r = sum_count(w, 1, t->rows, 0);
		if (r >= 0)
			r = sum_money(w, 0, t->settlement_fen + w->skew_fen);
		if (r >= 0)
			r = sum_fee(w, 0, t->fee_e5);
		if (r >= 0)
			r = sum_money(w, 0, t->order_fen);
		break;
	case SIM_BILL_FUNDFLOW:
		r = emit(w, summary_header_fundflow, strlen(summary_header_fundflow));
		if (r < 0)
			return r;
		r = sum_count(w, 1, t->rows, 1);
		if (r >= 0)
			r = sum_count(w, 0, t->income_rows, 1);
		if (r >= 0)
			r = sum_money(w, 0, t->income_fen + w->skew_fen);
		if (r >= 0)
			r = sum_count(w, 0, t->expense_rows, 1);
		if (r >= 0)
			r = sum_money(w, 0, t->expense_fen);
		break;
	default:
		return WXR_EFAIL;
	}
	if (r < 0)
		return r;
	return flush_line(w);
}

int sim_bill_end(struct sim_bill_writer *w)
{
	int r;

	if (!w)
		return WXR_EFAIL;
	r = w->err;
	if (r >= 0)
		r = write_summary(w);
	sim_bill_abort(w);
	return r;
}

void sim_bill_abort(struct sim_bill_writer *w)
{
	if (!w)
		return;
	free(w->line);
	free(w);
}
