/*
 * t-sim-bill.c - the simulator's bill writer against PROTOCOL.md 6.5 and the
 * official sample bill (fixtures/bills/bill.ALL.csv, VECTORS V16), byte for byte.
 */
#include "tap.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "sim/sim_bill.h"

/* Unix seconds of Beijing wall-clock times used below (checked with python). */
#define TS_0915_02 1740791702 /* 2025-03-01 09:15:02 +08:00 */
#define TS_1840_11 1740825611 /* 2025-03-01 18:40:11 +08:00 */
#define TS_0915_03 1740791703 /* 2025-03-01 09:15:03 +08:00 */

struct memsink {
	struct buf b;
	size_t fail_after; /* 0: never fail; else fail once this many bytes would be passed */
	int calls;
};

static int mem_sink(void *ctx, const void *p, size_t n)
{
	struct memsink *m = ctx;

	m->calls++;
	if (m->fail_after && m->b.len + n > m->fail_after)
		return WXR_EIO;
	return buf_add(&m->b, p, n);
}

/* The docs' notation: every "⏎\n" is CRLF, and the text starts with a BOM. */
static char *from_doc(const char *doc)
{
	struct buf b = BUF_INIT;
	const char *mark = "⏎\n";
	const char *p = doc;
	const char *q;

	buf_adds(&b, "\xEF\xBB\xBF");
	while ((q = strstr(p, mark)) != NULL) {
		buf_add(&b, p, (size_t)(q - p));
		buf_adds(&b, "\r\n");
		p = q + strlen(mark);
	}
	buf_adds(&b, p);
	return buf_detach(&b, NULL);
}

static void is_bytes(const struct buf *got, const char *want, const char *name)
{
	size_t wl = strlen(want);
	size_t i = 0;

	if (ok(got->len == wl && memcmp(got->data, want, wl) == 0, name))
		return;
	while (i < got->len && i < wl && got->data[i] == want[i])
		i++;
	diag("lengths got %zu want %zu; first difference at byte %zu", got->len, wl, i);
	diag("got:  '%.*s'", (int)(got->len - i < 80 ? got->len - i : 80), got->data + i);
	diag("want: '%.*s'", (int)(wl - i < 80 ? wl - i : 80), want + i);
}

static const struct sim_trade_row pay_row = {
	.trade_ts = TS_0915_02,
	.appid = "wx1111222233334444",
	.mchid = "1900000001",
	.sub_mchid = NULL,
	.device_info = NULL,
	.transaction_id = "4200000001202503010000000001",
	.out_trade_no = "ORD20250301A",
	.openid = "oABCdefGHIjklMNOpqr",
	.trade_type = "APP",
	.row_kind = "SUCCESS",
	.bank_type = "CMB_DEBIT",
	.currency = "CNY",
	.settlement_fen = 2500,
	.coupon_fen = 0,
	.refund_id = NULL,
	.out_refund_no = NULL,
	.refund_fen = 0,
	.recharge_refund_fen = 0,
	.refund_type = NULL,
	.refund_status = NULL,
	.description = "月卡",
	.attach = "u=42",
	.fee_e5 = 15000,
	.rate = "0.60%",
	.order_fen = 2500,
	.refund_apply_fen = 0,
	.rate_note = NULL,
};

static const struct sim_trade_row refund_row = {
	.trade_ts = TS_1840_11,
	.appid = "wx1111222233334444",
	.mchid = "1900000001",
	.transaction_id = "4200000001202502280000000007",
	.out_trade_no = "ORD20250228Z",
	.openid = "oXYZuvw",
	.trade_type = "APP",
	.row_kind = "REFUND",
	.bank_type = "OTHERS",
	.currency = "CNY",
	.refund_id = "50300000012025030100000000001",
	.out_refund_no = "RF20250301-1",
	.refund_fen = 1000,
	.refund_type = "ORIGINAL",
	.refund_status = "PROCESSING",
	.refund_apply_ts = TS_1840_11,
	.refund_success_ts = 0,
	.description = "季卡",
	.attach = "",
	.fee_e5 = -6000,
	.rate = "0.60%",
	.refund_apply_fen = 1000,
};

/* PROTOCOL.md 6.5, copied verbatim (hence the long lines). */
static const char doc_all[] =
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
        "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
        "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
        "费率备注⏎\n"
        "`2025-03-01 "
        "09:15:02,`wx1111222233334444,`1900000001,`0,`,`4200000001202503010000000001,`ORD20250301A,"
        "`oABCdefGHIjklMNOpqr,`APP,`SUCCESS,`CMB_DEBIT,`CNY,`25.00,`0.00,`0,`0,`0.00,`0.00,`,`,`"
        "月卡,`u=42,`0.15000,`0.60%,`25.00,`0.00,`⏎\n"
        "`2025-03-01 "
        "18:40:11,`wx1111222233334444,`1900000001,`0,`,`4200000001202502280000000007,`ORD20250228Z,"
        "`oXYZuvw,`APP,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50300000012025030100000000001,`RF20250301-"
        "1,`10.00,`0.00,`ORIGINAL,`PROCESSING,`季卡,`,`-0.06000,`0.60%,`0.00,`10.00,`⏎\n"
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,"
        "申请退款总金额⏎\n"
        "`2,`25.00,`10.00,`0.00,`0.09000,`25.00,`10.00⏎\n";

static const char doc_success[] =
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
        "交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,"
        "订单金额,费率备注⏎\n"
        "`2025-03-01 "
        "09:15:02,`wx1111222233334444,`1900000001,`0,`,`4200000001202503010000000001,`ORD20250301A,"
        "`oABCdefGHIjklMNOpqr,`APP,`SUCCESS,`CMB_DEBIT,`CNY,`25.00,`0.00,`月卡,`u=42,`0.15000,`0."
        "60%,`25.00,`⏎\n"
        "总交易单数,应结订单总金额,手续费总金额,订单总金额⏎\n"
        "`1,`25.00,`0.15000,`25.00⏎\n";

static const char doc_refund[] =
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
        "交易状态,付款银行,货币种类,应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,"
        "商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,"
        "订单金额,申请退款金额,费率备注⏎\n"
        "`2025-03-01 "
        "18:40:11,`wx1111222233334444,`1900000001,`0,`,`4200000001202502280000000007,`ORD20250228Z,"
        "`oXYZuvw,`APP,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`2025-03-01 "
        "18:40:11,`,`50300000012025030100000000001,`RF20250301-1,`10.00,`0.00,`ORIGINAL,`"
        "PROCESSING,`季卡,`,`-0.06000,`0.60%,`0.00,`10.00,`⏎\n"
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,"
        "申请退款总金额⏎\n"
        "`1,`0.00,`10.00,`0.00,`-0.06000,`0.00,`10.00⏎\n";

static const char doc_fundflow[] =
        "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余("
        "元),资金变更提交申请人,备注,业务凭证号⏎\n"
        "`2025-03-01 "
        "09:15:03,`4200000001202503010000000001,`1900000001202503010000000101,`交易,`交易,`收入,`"
        "25.00,`125.00,`system,`,`ORD20250301A⏎\n"
        "`2025-03-01 "
        "09:15:03,`4200000001202503010000000001,`1900000001202503010000000102,`交易,`"
        "扣除交易手续费,`支出,`0.15,`124.85,`system,`,`ORD20250301A⏎\n"
        "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额⏎\n"
        "`2.0,`1.0,`25.00,`1.0,`0.15⏎\n";

static const struct sim_fund_row fund_rows[] = {
	{ TS_0915_03, "4200000001202503010000000001", "1900000001202503010000000101", "交易",
	  "交易", 1, 2500, 12500, "system", NULL, "ORD20250301A" },
	{ TS_0915_03, "4200000001202503010000000001", "1900000001202503010000000102", "交易",
	  "扣除交易手续费", 0, 15, 12485, "system", "", "ORD20250301A" },
};

static void test_doc_examples(void)
{
	struct memsink m = { BUF_INIT, 0, 0 };
	struct sim_bill_writer *w;
	struct sim_bill_totals t;
	char *want;

	w = sim_bill_begin(SIM_BILL_ALL, mem_sink, &m);
	ok(w != NULL, "ALL: begin");
	is_int(sim_bill_trade_row(w, &pay_row), 0, "ALL: payment row");
	is_int(sim_bill_trade_row(w, &refund_row), 0, "ALL: refund row");
	sim_bill_get_totals(w, &t);
	is_int(t.rows, 2, "ALL: two rows counted");
	is_int(t.settlement_fen, 2500, "ALL: settlement total");
	is_int(t.refund_fen, 1000, "ALL: refund total");
	is_int(t.fee_e5, 9000, "ALL: fee total, refund fee negative");
	is_int(t.order_fen, 2500, "ALL: order total");
	is_int(t.refund_apply_fen, 1000, "ALL: refund apply total");
	is_int(sim_bill_end(w), 0, "ALL: end");
	want = from_doc(doc_all);
	is_bytes(&m.b, want, "ALL: PROTOCOL 6.5 example byte for byte");
	is_int(m.calls, 5, "ALL: one sink call per line");
	free(want);
	buf_release(&m.b);

	m.calls = 0;
	w = sim_bill_begin(SIM_BILL_SUCCESS, mem_sink, &m);
	is_int(sim_bill_trade_row(w, &pay_row), 0, "SUCCESS: payment row");
	is_int(sim_bill_end(w), 0, "SUCCESS: end");
	want = from_doc(doc_success);
	is_bytes(&m.b, want, "SUCCESS: PROTOCOL 6.5 example byte for byte");
	free(want);
	buf_release(&m.b);

	w = sim_bill_begin(SIM_BILL_REFUND, mem_sink, &m);
	is_int(sim_bill_trade_row(w, &refund_row), 0, "REFUND: refund row");
	is_int(sim_bill_end(w), 0, "REFUND: end");
	want = from_doc(doc_refund);
	is_bytes(&m.b, want, "REFUND: PROTOCOL 6.5 example byte for byte");
	free(want);
	buf_release(&m.b);

	w = sim_bill_begin(SIM_BILL_FUNDFLOW, mem_sink, &m);
	for (size_t i = 0; i < sizeof(fund_rows) / sizeof(fund_rows[0]); i++)
		is_int(sim_bill_fund_row(w, &fund_rows[i]), 0, "FUNDFLOW: row");
	sim_bill_get_totals(w, &t);
	is_int(t.income_rows, 1, "FUNDFLOW: one income row");
	is_int(t.expense_fen, 15, "FUNDFLOW: expense total");
	is_int(sim_bill_trade_row(w, &pay_row), WXR_EFAIL, "FUNDFLOW: a trade row is refused");
	is_int(sim_bill_end(w), 0, "FUNDFLOW: end");
	want = from_doc(doc_fundflow);
	is_bytes(&m.b, want, "FUNDFLOW: PROTOCOL 6.5 example byte for byte");
	free(want);
	buf_release(&m.b);

	ok(sim_bill_begin((enum sim_bill_layout)42, mem_sink, &m) == NULL, "bad layout: NULL");
	ok(sim_bill_begin(SIM_BILL_ALL, NULL, &m) == NULL, "no sink: NULL");
	w = sim_bill_begin(SIM_BILL_ALL, mem_sink, &m);
	is_int(sim_bill_fund_row(w, &fund_rows[0]), WXR_EFAIL, "ALL: a fund row is refused");
	sim_bill_abort(w);
	sim_bill_abort(NULL);
	buf_release(&m.b);
}

/* The i-th CRLF-terminated line of b (0 = header after the BOM), NUL-terminated copy. */
static char *nth_line(const struct buf *b, int i)
{
	const char *p = b->data + 3;
	const char *end = b->data + b->len;

	while (p < end) {
		const char *q = strstr(p, "\r\n");

		if (!q)
			return NULL;
		if (i-- == 0)
			return strndup(p, (size_t)(q - p));
		p = q + 2;
	}
	return NULL;
}

static void test_values(void)
{
	struct memsink m = { BUF_INIT, 0, 0 };
	struct sim_bill_writer *w;
	struct sim_fund_row f = fund_rows[0];
	struct sim_trade_row r = pay_row;
	char *line;

	/* The machine's TZ must not matter. */
	setenv("TZ", "America/New_York", 1);
	tzset();

	w = sim_bill_begin(SIM_BILL_FUNDFLOW, mem_sink, &m);
	f.remark = "line1\r\nline2\nend\x01x";
	f.booked_ts = 946656000; /* 2000-01-01 00:00:00 +08:00 */
	f.amount_fen = 1;
	f.balance_fen = -5;
	f.applicant = NULL;
	sim_bill_fund_row(w, &f);
	f.remark = "a,b\"c\"`d";
	f.booked_ts = 1709222399; /* 2024-02-29 23:59:59 +08:00 */
	f.amount_fen = 123456789012;
	f.balance_fen = -100;
	f.income = 0;
	sim_bill_fund_row(w, &f);
	f.booked_ts = 0;
	f.amount_fen = 99;
	f.balance_fen = 0;
	sim_bill_fund_row(w, &f);
	sim_bill_skew_summary(w, 1);
	is_int(sim_bill_end(w), 0, "fund flow with odd values");
	line = nth_line(&m.b, 1);
	is_str(line,
	       "`2000-01-01 00:00:00,`4200000001202503010000000001,`1900000001202503010000000101,"
	       "`交易,`交易,`收入,`0.01,`-0.05,`,`line1\\r\\nline2\\nend x,`ORD20250301A",
	       "CR/LF become \\r and \\n, 0x01 a space, NULL empty, small and negative money");
	free(line);
	line = nth_line(&m.b, 2);
	is_str(line,
	       "`2024-02-29 23:59:59,`4200000001202503010000000001,`1900000001202503010000000101,"
	       "`交易,`交易,`支出,`1234567890.12,`-1.00,`,`a,b\"c\"`d,`ORD20250301A",
	       "commas, quotes and backticks are written as they are; leap day; big amount");
	free(line);
	line = nth_line(&m.b, 3);
	ok(line && strncmp(line, "`1970-01-01 08:00:00,", 21) == 0, "epoch is 08:00 in Beijing");
	free(line);
	line = nth_line(&m.b, 5);
	is_str(line, "`3.0,`1.0,`0.02,`2.0,`1234567891.11",
	       "fund-flow summary: counts as N.0, income skewed by one fen");
	free(line);
	ok(m.b.len > 2 && memcmp(m.b.data + m.b.len - 2, "\r\n", 2) == 0, "last line ends in CRLF");
	buf_release(&m.b);

	/* Fees: 5 decimals both ways; negative sub-fen values keep the sign. */
	w = sim_bill_begin(SIM_BILL_SUCCESS, mem_sink, &m);
	r.fee_e5 = -1;
	r.settlement_fen = -7;
	r.order_fen = 0;
	r.sub_mchid = "1900000109";
	r.device_info = "dev,1";
	r.description = NULL;
	r.attach = NULL;
	r.rate_note = "note";
	sim_bill_trade_row(w, &r);
	sim_bill_skew_summary(w, -1);
	is_int(sim_bill_end(w), 0, "SUCCESS with odd values");
	line = nth_line(&m.b, 1);
	is_str(line,
	       "`2025-03-01 09:15:02,`wx1111222233334444,`1900000001,`1900000109,`dev,1,"
	       "`4200000001202503010000000001,`ORD20250301A,`oABCdefGHIjklMNOpqr,`APP,`SUCCESS,"
	       "`CMB_DEBIT,`CNY,`-0.07,`0.00,`,`,`-0.00001,`0.60%,`0.00,`note",
	       "negative fee -0.00001, negative money -0.07, sub_mchid given, empty values");
	free(line);
	line = nth_line(&m.b, 3);
	is_str(line, "`1,`-0.08,`-0.00001,`0.00", "SUCCESS summary, skewed by -1 fen");
	free(line);
	buf_release(&m.b);

	/* A value too long for one line: the row is refused whole, the bill goes on. */
	{
		size_t n = (1u << 20) + 10;
		char *big = malloc(n + 1);
		struct sim_bill_totals t;

		memset(big, 'x', n);
		big[n] = '\0';
		r = pay_row;
		r.description = big;
		w = sim_bill_begin(SIM_BILL_ALL, mem_sink, &m);
		is_int(sim_bill_trade_row(w, &r), WXR_ETOOBIG, "an over-long line is refused");
		is_int(sim_bill_trade_row(w, &pay_row), 0, "the next row is fine");
		sim_bill_get_totals(w, &t);
		is_int(t.rows, 1, "only the good row counted");
		is_int(sim_bill_end(w), 0, "and the bill ends");
		line = nth_line(&m.b, 3);
		is_str(line, "`1,`25.00,`0.00,`0.00,`0.15000,`25.00,`0.00", "summary of one row");
		free(line);
		free(big);
		buf_release(&m.b);
	}
}

static void test_sink_failure(void)
{
	struct memsink m = { BUF_INIT, 0, 0 };
	struct sim_bill_writer *w;

	m.fail_after = 10; /* the BOM + header already fails */
	w = sim_bill_begin(SIM_BILL_ALL, mem_sink, &m);
	ok(w != NULL, "begin returns a writer even when the sink fails");
	is_int(sim_bill_trade_row(w, &pay_row), WXR_EIO, "the failure comes back on the next row");
	is_int(sim_bill_end(w), WXR_EIO, "and from end, which frees the writer");
	buf_release(&m.b);

	m.fail_after = 700; /* header and one row pass, the second row fails */
	w = sim_bill_begin(SIM_BILL_ALL, mem_sink, &m);
	is_int(sim_bill_trade_row(w, &pay_row), 0, "first row passes");
	is_int(sim_bill_trade_row(w, &refund_row), WXR_EIO, "second row fails");
	is_int(sim_bill_trade_row(w, &pay_row), WXR_EIO, "failure is sticky");
	is_int(sim_bill_end(w), WXR_EIO, "end reports it and writes no summary");
	ok(strstr(m.b.data, "总交易单数") == NULL, "no summary written after a failure");
	buf_release(&m.b);
}

/* ---- the official sample, re-rendered ---- */

/* "12.34" with up to `scale` decimals -> integer units; the test's own parser. */
static int64_t dec(const char *s, int scale)
{
	int64_t v = 0;
	int neg = 0;
	int frac = -1;

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
	if (frac < 0)
		frac = 0;
	for (; frac < scale; frac++)
		v *= 10;
	return neg ? -v : v;
}

/* "yyyy-MM-dd HH:mm:ss" Beijing -> Unix seconds (days_from_civil, H. Hinnant). */
static int64_t bj_ts(const char *s)
{
	int y, mo, d, hh, mi, ss;
	int64_t era, yoe, doy, doe;

	if (sscanf(s, "%d-%d-%d %d:%d:%d", &y, &mo, &d, &hh, &mi, &ss) != 6)
		return -1;
	y -= mo <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468) * 86400 + hh * 3600 + mi * 60 + ss - 8 * 3600;
}

/* Splits a data line in place: drop the first backtick, split on ",`". */
static int split_fields(char *line, char **f, int max)
{
	int n = 0;
	char *p = line + 1;

	if (*line != '`')
		return -1;
	f[n++] = p;
	while ((p = strstr(p, ",`")) != NULL && n < max) {
		*p = '\0';
		p += 2;
		f[n++] = p;
	}
	return n;
}

static const char *sample_path(void)
{
	static char path[4096];
	const char *build = getenv("WXRECON_BUILD");
	FILE *f;

	f = fopen("fixtures/bills/bill.ALL.csv", "rb");
	if (f) {
		fclose(f);
		return "fixtures/bills/bill.ALL.csv";
	}
	if (build) {
		snprintf(path, sizeof(path), "%s/../fixtures/bills/bill.ALL.csv", build);
		return path;
	}
	return "fixtures/bills/bill.ALL.csv";
}

static void test_sample(void)
{
	struct memsink m = { BUF_INIT, 0, 0 };
	struct sim_bill_writer *w = NULL;
	size_t len = 0;
	char *text = t_slurp(sample_path(), &len);
	char *p, *eol;
	int lineno = 0;
	int rows = 0;

	if (!ok(text != NULL, "read the sample fixtures/bills/bill.ALL.csv"))
		return;
	w = sim_bill_begin(SIM_BILL_ALL, mem_sink, &m);
	sim_bill_set_style(w, SIM_BILL_STYLE_SAMPLE);
	p = text + 3;
	while ((eol = strstr(p, "\r\n")) != NULL) {
		char *f[40];
		struct sim_trade_row r;
		int n;

		*eol = '\0';
		lineno++;
		if (lineno == 1 || *p != '`' || strncmp(p, "`45.0", 5) == 0)
			goto next;
		n = split_fields(p, f, 40);
		if (n != 27) {
			diag("line %d has %d fields", lineno, n);
			goto next;
		}
		memset(&r, 0, sizeof(r));
		r.trade_ts = bj_ts(f[0]);
		r.appid = f[1];
		r.mchid = f[2];
		r.sub_mchid = f[3];
		r.device_info = f[4];
		r.transaction_id = f[5];
		r.out_trade_no = f[6];
		r.openid = f[7];
		r.trade_type = f[8];
		r.row_kind = f[9];
		r.bank_type = f[10];
		r.currency = f[11];
		r.settlement_fen = dec(f[12], 2);
		r.coupon_fen = dec(f[13], 2);
		r.refund_id = f[14];
		r.out_refund_no = f[15];
		r.refund_fen = dec(f[16], 2);
		r.recharge_refund_fen = dec(f[17], 2);
		r.refund_type = f[18];
		r.refund_status = f[19];
		r.description = f[20];
		r.attach = f[21];
		r.fee_e5 = dec(f[22], 5);
		r.rate = f[23];
		r.order_fen = dec(f[24], 2);
		r.refund_apply_fen = dec(f[25], 2);
		r.rate_note = f[26];
		if (sim_bill_trade_row(w, &r) == 0)
			rows++;
next:
		p = eol + 2;
	}
	is_int(rows, 45, "sample: 45 rows re-rendered");
	is_int(sim_bill_end(w), 0, "sample: end");
	free(text);
	text = t_slurp(sample_path(), &len);
	ok(m.b.len == len && memcmp(m.b.data, text, len) == 0,
	   "sample style re-renders bill.ALL.csv byte for byte (45.0, 0.0, fee 0.08)");
	{
		char *last = nth_line(&m.b, 47);

		is_str(last, "`45.0,`0.47,`0.14,`0.0,`0.08,`0.47,`0.14", "sample summary line");
		free(last);
	}
	free(text);
	buf_release(&m.b);
}

int main(void)
{
	test_doc_examples();
	test_values();
	test_sink_failure();
	test_sample();
	return done_testing();
}
