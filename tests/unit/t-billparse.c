/* t-billparse.c - the streaming bill parser on real, third-party and hand-made bills. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/money.h"
#include "core/billparse.h"
#include "tap.h"
#include "testutil.h"

#define FIX "fixtures/bills/"

/* Everything the callbacks saw, as text, plus some counters. */
struct seen {
	struct buf trace;
	struct bill_trade first; /* shallow; strings copied into names below */
	int64_t n_success, n_refund, n_revoked;
	int64_t coupon_sum;
	int64_t reject_lines[16];
	char reject_reasons[16][BILLPARSE_REASON_MAX];
	char reject_raw[16][512];
	int nrej;
	enum bill_kind kind;
	enum bill_layout layout;
	const char *refuse_otn; /* the trade callback refuses this out_trade_no */
	struct buf rowtext[8];  /* full text of the first 8 rows */
	int nrows;
};

static const char *S(const char *s)
{
	return s ? s : "(null)";
}

static int on_header(void *ctx, enum bill_kind kind, enum bill_layout layout, struct wxr_err *err)
{
	struct seen *s = ctx;

	(void)err;
	s->kind = kind;
	s->layout = layout;
	buf_addf(&s->trace, "H|%s|%s\n", billparse_kind_name(kind), billparse_layout_name(layout));
	return 0;
}

static int on_trade(void *ctx, int64_t line, const struct bill_trade *t, char *reason,
                    size_t reason_size, struct wxr_err *err)
{
	struct seen *s = ctx;
	struct buf b = BUF_INIT;

	(void)err;
	if (s->refuse_otn && strcmp(t->out_trade_no, s->refuse_otn) == 0) {
		snprintf(reason, reason_size, "refused by the test");
		return BILLPARSE_REJECT;
	}
	buf_addf(&b,
	         "T%lld|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%lld|%lld|%s|%s|%lld|%lld|%s|%s|%s|%s|"
	         "%lld|%s|%lld|%lld|%s|%s|%s\n",
	         (long long)line, S(t->trade_time), S(t->appid), S(t->mchid), S(t->sub_mchid),
	         S(t->device_info), S(t->transaction_id), S(t->out_trade_no), S(t->openid),
	         S(t->trade_type), billparse_row_kind_name(t->row_kind), S(t->bank_type),
	         S(t->currency), (long long)t->settlement_amount, (long long)t->coupon_amount,
	         S(t->refund_id), S(t->out_refund_no), (long long)t->refund_amount,
	         (long long)t->recharge_refund_amount, S(t->refund_type), S(t->refund_status),
	         S(t->description), S(t->attach), (long long)t->fee, S(t->rate),
	         (long long)t->order_amount, (long long)t->refund_apply_amount, S(t->rate_note),
	         S(t->refund_apply_time), S(t->refund_success_time));
	buf_add(&s->trace, b.data, b.len);
	if (s->nrows < 8)
		buf_add(&s->rowtext[s->nrows], b.data, b.len);
	s->nrows++;
	buf_release(&b);
	if (t->row_kind == BILL_ROW_SUCCESS)
		s->n_success++;
	else if (t->row_kind == BILL_ROW_REFUND)
		s->n_refund++;
	else
		s->n_revoked++;
	s->coupon_sum += t->coupon_amount;
	return 0;
}

static int on_fund(void *ctx, int64_t line, const struct bill_fundflow *f, char *reason,
                   size_t reason_size, struct wxr_err *err)
{
	struct seen *s = ctx;
	struct buf b = BUF_INIT;

	(void)err;
	(void)reason;
	(void)reason_size;
	buf_addf(&b, "F%lld|%s|%s|%s|%s|%s|%s|%lld|%lld|%s|%s|%s\n", (long long)line,
	         S(f->booked_at), S(f->biz_no), S(f->flow_no), S(f->biz_name), S(f->biz_type),
	         billparse_direction_name(f->direction), (long long)f->amount,
	         (long long)f->balance, S(f->applicant), S(f->remark), S(f->voucher_no));
	buf_add(&s->trace, b.data, b.len);
	if (s->nrows < 8)
		buf_add(&s->rowtext[s->nrows], b.data, b.len);
	s->nrows++;
	buf_release(&b);
	return 0;
}

static int on_reject(void *ctx, int64_t line, const char *raw, size_t raw_len, const char *reason,
                     struct wxr_err *err)
{
	struct seen *s = ctx;

	(void)err;
	buf_addf(&s->trace, "R%lld|%s|%zu\n", (long long)line, reason, raw_len);
	if (s->nrej < 16) {
		size_t n = raw_len < 511 ? raw_len : 511;

		s->reject_lines[s->nrej] = line;
		snprintf(s->reject_reasons[s->nrej], BILLPARSE_REASON_MAX, "%s", reason);
		memcpy(s->reject_raw[s->nrej], raw, n);
		s->reject_raw[s->nrej][n] = '\0';
		s->nrej++;
	}
	return 0;
}

static void seen_release(struct seen *s)
{
	int i;

	buf_release(&s->trace);
	for (i = 0; i < 8; i++)
		buf_release(&s->rowtext[i]);
}

/* Parses data fed in chunks of `chunk` bytes (0 = all at once). Returns the
 * first error, or 0; res is written on success. */
static int parse(const char *data, size_t len, size_t chunk, size_t max_line, struct seen *s,
                 struct billparse_result *res, struct wxr_err *err)
{
	struct billparse_cb cb = { s, on_header, on_trade, on_fund, on_reject };
	struct billparse *p = NULL;
	size_t off = 0;
	int r;

	r = billparse_new(&cb, max_line, &p, err);
	if (r < 0)
		return r;
	if (chunk == 0)
		chunk = len ? len : 1;
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;

		r = billparse_feed(p, data + off, n, err);
		if (r < 0)
			goto out;
		off += n;
	}
	r = billparse_finish(p, res, err);
out:
	billparse_free(p);
	return r;
}

static int parse_file(const char *name, struct seen *s, struct billparse_result *res,
                      struct wxr_err *err)
{
	size_t len;
	char *data = t_slurp(name, &len);
	int r = parse(data, len, 0, 0, s, res, err);

	free(data);
	return r;
}

/* Replaces every "\r\n" by "\n" and drops a leading BOM; returns a new string. */
static char *to_lf_nobom(const char *in, size_t len, size_t *out_len)
{
	char *out = malloc(len + 1);
	size_t i = 0, o = 0;

	if (len >= 3 && memcmp(in, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	for (; i < len; i++) {
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
			continue;
		out[o++] = in[i];
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

/* Parses a NUL-terminated bill given as a string. */
static int parse_str(const char *bill, struct seen *s, struct billparse_result *res,
                     struct wxr_err *err)
{
	return parse(bill, strlen(bill), 0, 0, s, res, err);
}

static void test_v16(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct billparse_result res;
	struct seen s = { 0 };
	int r = parse_file(FIX "bill.ALL.csv", &s, &res, &err);

	if (!is_int(r, 0, "V16 bill.ALL.csv parses"))
		diag("%s", err.msg);
	is_str(billparse_layout_name(res.layout), "ALL", "V16 layout ALL");
	is_int(res.kind, BILL_KIND_TRADE, "V16 kind trade");
	is_int(res.lines, 48, "V16 48 lines");
	is_int(res.rows, 45, "V16 45 rows");
	is_int(res.rejects, 0, "V16 no rejects");
	is_int(s.n_success, 31, "V16 31 SUCCESS rows");
	is_int(s.n_refund, 14, "V16 14 REFUND rows");
	is_int(res.sums.settlement, 47, "V16 sum 应结订单金额 47 fen");
	is_int(res.sums.refund, 14, "V16 sum 退款金额 14 fen");
	is_int(res.sums.fee, 8000, "V16 sum 手续费 8000 (0.00001 yuan)");
	is_int(res.sums.order, 47, "V16 sum 订单金额 47 fen");
	is_int(res.sums.refund_apply, 14, "V16 sum 申请退款金额 14 fen");
	is_int(res.sums.recharge_refund, 0, "V16 sum 充值券退款金额 0");
	is_int(s.coupon_sum, 4, "V16 sum 代金券金额 4 fen");
	is_int(res.summary.count, 45, "V16 summary count '45.0' = 45");
	is_int(res.summary.settlement, 47, "V16 summary 应结订单总金额");
	is_int(res.summary.refund, 14, "V16 summary 退款总金额");
	is_int(res.summary.recharge_refund, 0, "V16 summary 充值券退款总金额 '0.0'");
	is_int(res.summary.fee, 8000, "V16 summary 手续费总金额 '0.08' = 8000");
	is_int(res.summary.order, 47, "V16 summary 订单总金额");
	is_int(res.summary.refund_apply, 14, "V16 summary 申请退款总金额");
	is_int(res.summary.present, 0x7f, "V16 summary has the 7 trade columns");
	is_int(res.mismatch, 0, "V16 every total equals its summary");
	ok(res.fee_total_2dp, "V16 fee total written with 2 decimals");
	ok(strstr(s.rowtext[0].data ? s.rowtext[0].data : "",
	          "T2|2019-02-19T05:01:46+08:00|wxab8acd895ab1638a|1921000401|0|harryma007|"
	          "4200000263201902167700134212|autotest_20190216081946_82335|"
	          "oHkLxtx0vUqe-18p_AXTZ1innxkCY|JSAPI|REFUND|OTHERS|CNY|0|0|") != NULL,
	   "V16 first row: BOM stripped, time as RFC 3339 +08:00, values without backticks");
	ok(s.rowtext[0].data && strstr(s.rowtext[0].data, "|39.00%|0|1||(null)|(null)\n"),
	   "V16 first row: rate, 订单金额 0, 申请退款金额 1, empty 费率备注 is \"\"");
	seen_release(&s);
}

static void test_chunking(const char *file)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct billparse_result r1, r2, r3;
	struct seen a = { 0 }, b = { 0 }, c = { 0 };
	size_t len;
	char *data = t_slurp(file, &len);
	char name[256];
	int x, y, z;

	x = parse(data, len, 0, 0, &a, &r1, &err);
	y = parse(data, len, 1, 0, &b, &r2, &err);
	z = parse(data, len, 7, 0, &c, &r3, &err);
	snprintf(name, sizeof(name), "%s: one chunk, 1-byte and 7-byte feeding all succeed", file);
	ok(x == 0 && y == 0 && z == 0, name);
	snprintf(name, sizeof(name), "%s: byte-at-a-time gives the same rows as one chunk", file);
	ok(a.trace.len > 0 && b.trace.len == a.trace.len &&
	           memcmp(a.trace.data, b.trace.data, a.trace.len) == 0 &&
	           c.trace.len == a.trace.len &&
	           memcmp(a.trace.data, c.trace.data, a.trace.len) == 0,
	   name);
	snprintf(name, sizeof(name), "%s: and the same result", file);
	ok(memcmp(&r1, &r2, sizeof(r1)) == 0 && memcmp(&r1, &r3, sizeof(r1)) == 0, name);
	seen_release(&a);
	seen_release(&b);
	seen_release(&c);
	free(data);
}

static void test_gunsluo(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct billparse_result res;
	struct seen s = { 0 };
	char text[512];

	is_int(parse_file(FIX "gunsluo_tradebill_ALL.csv", &s, &res, &err), 0,
	       "gunsluo ALL parses");
	is_str(billparse_layout_name(res.layout), "ALL", "gunsluo ALL layout");
	is_int(res.rows, 3, "gunsluo ALL 3 rows");
	is_int(res.sums.settlement, 3, "gunsluo ALL Σ应结 3");
	is_int(res.summary.fee, 0, "gunsluo ALL fee total '0.00000'");
	ok(!res.fee_total_2dp, "gunsluo ALL fee total has 5 decimals");
	is_int(res.mismatch, 0, "gunsluo ALL summary agrees");
	ok(strstr(s.trace.data, "|for testing|cipher code|0|1.00%|1|0||(null)|(null)\n") != NULL,
	   "gunsluo ALL values");
	seen_release(&s);

	memset(&s, 0, sizeof(s));
	is_int(parse_file(FIX "gunsluo_tradebill_SUCCESS.csv", &s, &res, &err), 0,
	       "gunsluo SUCCESS parses");
	is_str(billparse_layout_name(res.layout), "SUCCESS", "gunsluo SUCCESS layout (20 columns)");
	is_int(res.rows, 1, "gunsluo SUCCESS 1 row");
	is_int(res.summary.present, 0x7f, "gunsluo SUCCESS summary has 7 columns, mapped by name");
	is_int(res.mismatch, 0, "gunsluo SUCCESS summary agrees");
	ok(strstr(s.trace.data,
	          "|SUCCESS|OTHERS|CNY|1|0|(null)|(null)|0|0|(null)|(null)|for testing|") != NULL,
	   "gunsluo SUCCESS: refund columns absent are NULL / 0");
	seen_release(&s);

	memset(&s, 0, sizeof(s));
	is_int(parse_file(FIX "gunsluo_tradebill_REFUND.csv", &s, &res, &err), 0,
	       "gunsluo REFUND parses");
	is_str(billparse_layout_name(res.layout), "REFUND", "gunsluo REFUND layout (29 columns)");
	is_int(res.rows, 2, "gunsluo REFUND 2 rows");
	is_int(s.n_refund, 2, "gunsluo REFUND rows are REFUND");
	is_int(res.sums.refund, 2, "gunsluo REFUND Σ退款 2");
	is_int(res.sums.refund_apply, 2, "gunsluo REFUND Σ申请退款 2");
	is_int(res.mismatch, 0, "gunsluo REFUND summary agrees");
	ok(strstr(s.trace.data, "|2021-02-01T14:33:21+08:00|2021-02-01T14:33:24+08:00\n") != NULL,
	   "gunsluo REFUND apply and success times");
	seen_release(&s);

	memset(&s, 0, sizeof(s));
	is_int(parse_file(FIX "gunsluo_fundflowbill_BASIC.csv", &s, &res, &err), 0,
	       "gunsluo fund flow parses");
	is_int(res.kind, BILL_KIND_FUNDFLOW, "gunsluo fund flow kind");
	is_str(billparse_layout_name(res.layout), "FUNDFLOW", "gunsluo fund flow layout");
	is_int(res.rows, 2, "gunsluo fund flow 2 rows");
	is_int(res.sums.expense, 2, "gunsluo fund flow Σ支出 2 fen");
	is_int(res.mismatch, BILL_T_COUNT | BILL_T_INCOME_COUNT | BILL_T_INCOME,
	       "gunsluo fund flow: summary disagrees on count, income count and income");
	billparse_mismatch_text(&res, text, sizeof(text));
	is_str(text,
	       "资金流水总笔数: summary 3, rows 2; 收入笔数: summary 1, rows 0; 收入金额: summary "
	       "0.01, rows 0.00",
	       "mismatch text names them");
	ok(strstr(s.trace.data, "F2|2021-02-01T13:54:01+08:00|50300806962021020105978994968|"
	                        "4200000920202101197964319284|退款|退款|OUT|1|22|1601959334API|"
	                        "退款总金额0.01元;含手续费0.00元|S20210201135356381941\n") != NULL,
	   "gunsluo fund flow row values");
	seen_release(&s);
}

static void test_hand_all(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct billparse_result res, res2;
	struct seen s = { 0 }, s2 = { 0 };
	size_t len, len2;
	char *data = t_slurp(FIX "hand_all_bom_crlf.csv", &len);
	char *lf = to_lf_nobom(data, len, &len2);

	is_int(parse(data, len, 0, 0, &s, &res, &err), 0, "hand ALL (BOM, CRLF) parses");
	is_int(res.rows, 3, "hand ALL 3 rows");
	is_int(res.mismatch, 0, "hand ALL summary agrees (count given as '3')");
	is_int(s.n_revoked, 1, "hand ALL REVOKED row kind");
	is_str(s.rowtext[0].data,
	       "T2|2025-03-01T09:15:02+08:00|wx1111222233334444|1900000001|1900000099|DEV-01|"
	       "4200000001202503010000000001|ORD20250301A|oABCdefGHIjklMNOpqr|APP|SUCCESS|CMB_"
	       "DEBIT|"
	       "CNY|2500|100|0|0|0|0|||礼包,\"大号\"|u=42,k=\"v,w\"|15000|0.60%|2600|0|费率备注一|("
	       "null)|"
	       "(null)\n",
	       "hand ALL row 1: every column, comma and quote in 商品名称 and 商户数据包");
	is_str(s.rowtext[1].data,
	       "T3|2025-03-01T18:40:11+08:00|wx1111222233334444|1900000001|1900000099|DEV-02|"
	       "4200000001202502280000000007|ORD20250228Z|oXYZuvw|APP|REFUND|OTHERS|CNY|0|0|"
	       "50300000012025030100000000001|RF20250301-1|1000|50|ORIGINAL|PROCESSING|季卡 "
	       "\"Pro\"|"
	       "a,b,,c|-6000|0.60%|0|1050|r|(null)|(null)\n",
	       "hand ALL row 2: refund row, negative fee, empty field folded back ('a,b,,c')");
	ok(s.rowtext[2].data && strstr(s.rowtext[2].data, "|撤销, 测试|x|0|") != NULL,
	   "hand ALL row 3: a space after the comma is kept");

	is_int(parse(lf, len2, 0, 0, &s2, &res2, &err), 0, "hand ALL as LF without BOM parses");
	ok(s.trace.len == s2.trace.len && memcmp(s.trace.data, s2.trace.data, s.trace.len) == 0,
	   "LF/no BOM gives the same rows as CRLF/BOM");
	seen_release(&s);
	seen_release(&s2);
	free(data);
	free(lf);
}

static void test_layouts(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct billparse_result res, res2;
	struct seen s = { 0 }, s2 = { 0 };
	size_t len;
	char *data;
	char *p;

	is_int(parse_file(FIX "hand_success_lf.csv", &s, &res, &err), 0, "hand SUCCESS parses");
	is_str(billparse_layout_name(res.layout), "SUCCESS", "hand SUCCESS layout");
	is_int(res.summary.count, 2, "hand SUCCESS count '2.0'");
	is_int(res.summary.present, BILL_T_COUNT | BILL_T_SETTLEMENT | BILL_T_FEE | BILL_T_ORDER,
	       "hand SUCCESS 4-column summary");
	is_int(res.mismatch, 0, "hand SUCCESS summary agrees");
	is_int(res.sums.order, 10001, "hand SUCCESS Σ订单金额");
	ok(strstr(s.trace.data, "T3|2025-03-02T23:59:59+08:00|") != NULL,
	   "hand SUCCESS row line 3");
	seen_release(&s);

	memset(&s, 0, sizeof(s));
	is_int(parse_file(FIX "hand_refund_crlf.csv", &s, &res, &err), 0, "hand REFUND parses");
	is_str(billparse_layout_name(res.layout), "REFUND", "hand REFUND layout");
	is_int(res.mismatch, 0, "hand REFUND summary agrees (negative fee total)");
	is_int(res.sums.fee, -9000, "hand REFUND Σ手续费 -0.09000");
	ok(strstr(s.rowtext[0].data, "|2025-03-01T18:40:11+08:00|(null)\n") != NULL,
	   "hand REFUND empty 退款成功时间 is NULL");
	ok(strstr(s.rowtext[1].data, "|2025-03-01T19:00:00+08:00|2025-03-01T19:00:05+08:00\n") !=
	           NULL,
	   "hand REFUND both times");
	seen_release(&s);

	memset(&s, 0, sizeof(s));
	is_int(parse_file(FIX "hand_legacy_all.csv", &s, &res, &err), 0, "hand legacy parses");
	is_str(billparse_layout_name(res.layout), "LEGACY_ALL", "legacy 24-column layout");
	is_int(res.sums.settlement, 1234, "legacy 总金额 read as 应结订单金额");
	is_int(res.summary.settlement, 1234, "legacy 总交易额 read as settlement total");
	is_int(res.summary.refund, 200, "legacy 总退款金额");
	is_int(res.summary.present,
	       BILL_T_COUNT | BILL_T_SETTLEMENT | BILL_T_REFUND | BILL_T_RECHARGE_REFUND |
	               BILL_T_FEE,
	       "legacy 5-column summary");
	is_int(res.mismatch, 0, "legacy summary agrees");
	ok(strstr(s.rowtext[0].data, "|0.60%|0|0|(null)|(null)|(null)\n") != NULL,
	   "legacy: 订单金额/申请退款金额/费率备注 absent");

	/* the v2 names of the same columns */
	data = t_slurp(FIX "hand_legacy_all.csv", &len);
	p = strstr(data, "特约商户号");
	memcpy(p, "子商户号", strlen("子商户号"));
	memmove(p + strlen("子商户号"), p + strlen("特约商户号"),
	        strlen(p + strlen("特约商户号")) + 1);
	len = strlen(data);
	is_int(parse(data, len, 0, 0, &s2, &res2, &err), 0, "legacy with 子商户号 parses");
	ok(s.trace.len == s2.trace.len && memcmp(s.trace.data, s2.trace.data, s.trace.len) == 0,
	   "子商户号 is 特约商户号");
	seen_release(&s);
	seen_release(&s2);
	free(data);

	memset(&s, 0, sizeof(s));
	is_int(parse_file(FIX "hand_fundflow_bom_crlf.csv", &s, &res, &err), 0,
	       "hand fund flow parses");
	is_int(res.kind, BILL_KIND_FUNDFLOW, "hand fund flow kind");
	is_int(res.rows, 3, "hand fund flow 3 rows");
	is_int(res.summary.count, 3, "hand fund flow count '3.0'");
	is_int(res.summary.expense, 1015, "hand fund flow 支出金额");
	is_int(res.mismatch, 0, "hand fund flow summary agrees");
	is_str(s.rowtext[2].data,
	       "F4|2025-03-01T18:40:12+08:00|50300000012025030100000000001|"
	       "1900000001202503010000000103|退款|退款|OUT|1000|11485|1900000001API|"
	       "退款总金额10.00元;含手续费0.06元,其他\\n第二行|RF20250301-1\n",
	       "hand fund flow: comma and literal \\n in 备注 kept");
	ok(strstr(s.rowtext[0].data, "|交易|交易|IN|2500|12500|system||ORD20250301A\n") != NULL,
	   "hand fund flow income row");
	seen_release(&s);
}

static void test_malformed(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct billparse_result res;
	struct seen s = { 0 };
	size_t len;
	char *data = t_slurp(FIX "hand_malformed_rows.csv", &len);
	char line3[2048];
	const char *a, *b;

	is_int(parse(data, len, 0, 0, &s, &res, &err), 0, "malformed rows do not stop the bill");
	is_int(res.rows, 3, "3 well-formed rows accepted");
	is_int(res.rejects, 5, "5 rows rejected");
	is_int(s.nrej, 5, "reject callback called 5 times");
	is_int(s.reject_lines[0], 3, "bad amount on line 3");
	ok(strstr(s.reject_reasons[0], "bad 应结订单金额 '1.2.3'") != NULL,
	   "reason names the column and value");
	is_int(s.reject_lines[1], 4, "short row on line 4");
	is_str(s.reject_reasons[1], "26 fields, the header has 27",
	       "reason gives the field counts");
	is_int(s.reject_lines[2], 5, "unknown 交易状态 on line 5");
	is_str(s.reject_reasons[2], "unknown 交易状态 'PAYING'", "reason for the row kind");
	is_int(s.reject_lines[3], 6, "bad time on line 6");
	is_str(s.reject_reasons[3], "bad 交易时间 '2025-02-30 10:00:00'", "reason for the time");
	is_int(s.reject_lines[4], 7, "no backtick on line 7");
	ok(strstr(s.reject_reasons[4], "backtick") != NULL, "reason for the missing backtick");
	/* the raw line is line 3 of the file without its line end */
	a = data;
	a = strchr(a, '\n') + 1;
	a = strchr(a, '\n') + 1;
	b = strchr(a, '\n');
	snprintf(line3, sizeof(line3), "%.*s", (int)(b - a), a);
	is_str(s.reject_raw[0], line3, "raw line of the reject");
	is_int(res.mismatch, BILL_T_COUNT | BILL_T_SETTLEMENT | BILL_T_FEE | BILL_T_ORDER,
	       "the other merchant's row makes the summary disagree");
	seen_release(&s);

	/* the row callback refuses the other merchant's row: now the summary agrees */
	memset(&s, 0, sizeof(s));
	s.refuse_otn = "ORD-M7";
	is_int(parse(data, len, 0, 0, &s, &res, &err), 0, "callback refusal parses");
	is_int(res.rows, 2, "refused row not counted");
	is_int(res.rejects, 6, "refused row counted as a reject");
	is_int(s.reject_lines[5], 8, "refused row line 8");
	is_str(s.reject_reasons[5], "refused by the test", "callback's reason kept");
	is_int(res.mismatch, 0, "summary agrees with the accepted rows");
	seen_release(&s);
	free(data);
}

static void test_bill_errors(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct billparse_result res;
	struct seen s = { 0 };
	size_t len;
	char *data;
	char *cut;
	int r;

	r = parse_file(FIX "hand_missing_column.csv", &s, &res, &err);
	is_int(r, WXR_EDATA, "missing column refuses the bill");
	ok(strstr(err.msg, "lacks column '商户订单号'") != NULL, "error names the column");
	ok(strstr(err.msg, "line 1:") != NULL, "error names line 1");
	is_int(s.nrows, 0, "no row reported");
	seen_release(&s);

	/* no summary */
	data = t_slurp(FIX "bill.ALL.csv", &len);
	cut = strstr(data, "总交易单数");
	memset(&s, 0, sizeof(s));
	r = parse(data, (size_t)(cut - data), 0, 0, &s, &res, &err);
	is_int(r, WXR_EDATA, "bill without a summary is an error");
	ok(strstr(err.msg, "without a summary") != NULL, "error says so");
	seen_release(&s);

	/* summary header without values */
	memset(&s, 0, sizeof(s));
	r = parse(data, (size_t)(strstr(cut, "\n") + 1 - data), 0, 0, &s, &res, &err);
	is_int(r, WXR_EDATA, "summary header without values is an error");
	seen_release(&s);

	/* the last line without its line end is fine */
	memset(&s, 0, sizeof(s));
	r = parse(data, len - 2, 1, 0, &s, &res, &err);
	ok(r == 0 && res.rows == 45 && res.mismatch == 0, "last line without CRLF");
	seen_release(&s);
	free(data);

	memset(&s, 0, sizeof(s));
	r = parse_str("", &s, &res, &err);
	ok(r == WXR_EDATA && strstr(err.msg, "empty bill"), "empty input is an error");
	seen_release(&s);
	memset(&s, 0, sizeof(s));
	r = parse_str("\xef\xbb\xbf", &s, &res, &err);
	ok(r == WXR_EDATA && strstr(err.msg, "empty bill"), "only a BOM is an error");
	seen_release(&s);
	memset(&s, 0, sizeof(s));
	r = parse_str("a,b,c\n`1,`2,`3\n", &s, &res, &err);
	ok(r == WXR_EDATA && strstr(err.msg, "not a trade or fund-flow bill header"),
	   "unknown header is an error");
	seen_release(&s);
	memset(&s, 0, sizeof(s));
	r = parse_str("`2025-03-01 09:15:02,`x\n", &s, &res, &err);
	ok(r == WXR_EDATA, "data without a header is an error");
	seen_release(&s);

#define FF_HEAD                                                                                                                           \
	"记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(" \
	"元),资金变更提交申请人,备注,业务凭证号\n"
#define FF_ROW  "`2025-03-01 09:15:03,`42,`19,`交易,`交易,`收入,`25.00,`125.00,`system,`,`O1\n"
#define FF_SUMH "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额\n"
	memset(&s, 0, sizeof(s));
	r = parse_str(FF_HEAD FF_ROW FF_SUMH "`1,`1,`25.00,`0,`0.00\n\r\n\n  \n", &s, &res, &err);
	ok(r == 0 && res.rows == 1 && res.mismatch == 0,
	   "blank lines after the summary are ignored");
	seen_release(&s);
	memset(&s, 0, sizeof(s));
	r = parse_str(FF_HEAD FF_ROW FF_SUMH "`1,`1,`25.00,`0,`0.00\n" FF_ROW, &s, &res, &err);
	ok(r == WXR_EDATA && strstr(err.msg, "line 5: data after the summary"),
	   "data after the summary is an error");
	seen_release(&s);
	memset(&s, 0, sizeof(s));
	r = parse_str(FF_HEAD FF_ROW FF_SUMH "`1,`1,`25.00,`0\n", &s, &res, &err);
	ok(r == WXR_EDATA && strstr(err.msg, "summary has 4 values"), "short summary is an error");
	seen_release(&s);
	memset(&s, 0, sizeof(s));
	r = parse_str(FF_HEAD FF_ROW FF_SUMH "`1,`1,`25.0x,`0,`0.00\n", &s, &res, &err);
	ok(r == WXR_EDATA && strstr(err.msg, "summary '收入金额'"),
	   "bad summary value is an error");
	seen_release(&s);
	memset(&s, 0, sizeof(s));
	r = parse_str(FF_HEAD FF_ROW FF_SUMH "`1.5,`1,`25.00,`0,`0.00\n", &s, &res, &err);
	ok(r == WXR_EDATA, "fractional summary count is an error");
	seen_release(&s);
	memset(&s, 0, sizeof(s));
	r = parse_str(FF_HEAD FF_ROW "总交易单数,应结订单总金额,手续费总金额\n`1,`1,`1\n", &s, &res,
	              &err);
	ok(r == WXR_EDATA && strstr(err.msg, "trade bill summary in a fundflow bill"),
	   "trade summary in a fund-flow bill is an error");
	seen_release(&s);
	memset(&s, 0, sizeof(s));
	r = parse_str(FF_HEAD FF_ROW "资金流水总笔数,收入笔数,收入金额,支出笔数\n`1,`1,`25.00,`0\n",
	              &s, &res, &err);
	ok(r == WXR_EDATA && strstr(err.msg, "summary lacks column '支出金额'"),
	   "summary without a required column is an error");
	seen_release(&s);
	/* stray whitespace in summary values (WxJava #862) */
	memset(&s, 0, sizeof(s));
	r = parse_str(FF_HEAD FF_ROW FF_SUMH "`1.0 ,`1\t,` 25.00,`0 \r,`0.00 \r\n", &s, &res, &err);
	ok(r == 0 && res.mismatch == 0 && res.summary.income == 2500,
	   "stray whitespace in summary values is stripped");
	seen_release(&s);

	/* bad fund-flow rows */
	memset(&s, 0, sizeof(s));
	r = parse_str(
	        FF_HEAD
	        "`2025-03-01 09:15:03,`42,`19,`交易,`交易,`转账,`25.00,`125.00,`system,`,`O1\n"
	        "`2025-03-01 09:15:03,`42,`19,`交易,`交易,`收入,`-25.00,`125.00,`system,`,`O1\n"
	        "`2025-03-01 09:15:03,`42,`19,`交易,`交易,`收入,`25.00,`-1.00,`system,`,`O1\n"
	        "`2025-03-01,`42,`19,`交易,`交易,`收入,`25.00,`125.00,`system,`,`O1\n"
	        "`2025-03-01 09:15:03,`42,`19,`交易,`交易,`支出,`,`125.00,`system,`,`O1\n" FF_SUMH
	        "`1,`1,`25.00,`0,`0.00\n",
	        &s, &res, &err);
	ok(r == 0 && res.rows == 1 && res.rejects == 4, "fund flow: 3 bad rows of 5 rejected");
	ok(s.nrej == 4 && strstr(s.reject_reasons[0], "unknown 收支类型 '转账'") &&
	           strstr(s.reject_reasons[1], "negative 收支金额(元)") &&
	           strstr(s.reject_reasons[2], "bad 记账时间") &&
	           strstr(s.reject_reasons[3], "bad 收支金额(元) ''"),
	   "fund flow reject reasons");
	ok(strstr(s.trace.data, "|IN|2500|-100|") != NULL, "negative balance accepted");
	seen_release(&s);
}

/* A tiny trade bill around the given detail lines (SUCCESS layout). */
#define SU_HEAD                                                                                                                      \
	"交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型," \
	"交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,"   \
	"订单金额,费率备注\n"
#define SU_ROW(amount, fee)                                                                 \
	"`2025-03-02 "                                                                      \
	"08:00:00,`wx1,`1900000001,`0,`,`42001,`O1,`oA,`APP,`SUCCESS,`OTHERS,`CNY,`" amount \
	",`0.00,`n,`,`" fee ",`0.60%,`" amount ",`\n"
#define SU_SUMH "总交易单数,应结订单总金额,手续费总金额,订单总金额\n"

static void test_rows_edge(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct billparse_result res;
	struct seen s = { 0 };
	struct buf b = BUF_INIT;
	int r, i;

	/* fee total with 2 decimals is compared at the fen (money_fee_to_fen) */
	r = parse_str(SU_HEAD SU_ROW("1.00", "0.00600") SU_ROW("1.00", "0.00000") SU_SUMH
	              "`2,`2.00,`0.01,`2.00\n",
	              &s, &res, &err);
	ok(r == 0 && res.mismatch == 0 && res.sums.fee == 600,
	   "fee total '0.01' agrees with 0.00600");
	seen_release(&s);
	memset(&s, 0, sizeof(s));
	r = parse_str(SU_HEAD SU_ROW("1.00", "0.00600") SU_SUMH "`1,`1.00,`0.00600,`1.00\n", &s,
	              &res, &err);
	ok(r == 0 && res.mismatch == 0, "fee total '0.00600' agrees exactly");
	seen_release(&s);
	memset(&s, 0, sizeof(s));
	r = parse_str(SU_HEAD SU_ROW("1.00", "0.00600") SU_SUMH "`1,`1.00,`0.00700,`1.00\n", &s,
	              &res, &err);
	ok(r == 0 && res.mismatch == BILL_T_FEE, "fee total '0.00700' disagrees with 0.00600");
	seen_release(&s);
	memset(&s, 0, sizeof(s));
	r = parse_str(SU_HEAD SU_ROW("1.00", "0.00600") SU_SUMH "`1,`1.00,`0.02,`1.00\n", &s, &res,
	              &err);
	ok(r == 0 && res.mismatch == BILL_T_FEE, "fee total '0.02' disagrees with 0.00600");
	seen_release(&s);

	/* amounts: too many decimals, huge, overflow of the totals */
	memset(&s, 0, sizeof(s));
	r = parse_str(SU_HEAD SU_ROW("1.001", "0.00000") SU_ROW("1.000", "0.000001")
	                      SU_ROW("99999999999999999999",
	                             "0.00000") SU_ROW("92233720368547758.07", "0.00000")
	                              SU_ROW("1.00", "0.00000") SU_SUMH "`2,`1.00,`0,`1.00\n",
	              &s, &res, &err);
	ok(r == 0 && res.rows == 1 && res.rejects == 4, "bad amounts and total overflow rejected");
	ok(s.nrej == 4 && strstr(s.reject_reasons[0], "bad 应结订单金额 '1.001'") &&
	           strstr(s.reject_reasons[1], "bad 手续费 '0.000001'") &&
	           strstr(s.reject_reasons[2], "bad 应结订单金额") &&
	           strstr(s.reject_reasons[3], "amount totals overflow") && s.reject_lines[3] == 6,
	   "amount reject reasons");
	seen_release(&s);

	/* NUL byte and invalid UTF-8 */
	memset(&s, 0, sizeof(s));
	buf_adds(&b, SU_HEAD);
	buf_add(&b, "`2025-03-02 08:00:00,`wx1\0,`1900000001\n",
	        sizeof("`2025-03-02 08:00:00,`wx1\0,`1900000001\n") - 1);
	buf_adds(&b, "`2025-03-02 08:00:00,`wx1\xff\xfe,`1900000001\n");
	buf_adds(&b, "`2025-03-02 08:00:00,`wx1\xed\xa0\x80,`1900000001\n");
	buf_adds(&b, SU_ROW("1.00", "0.00000") SU_SUMH "`1,`1.00,`0,`1.00\n");
	r = parse(b.data, b.len, 0, 0, &s, &res, &err);
	if (!ok(r == 0 && res.rows == 1 && res.rejects == 3, "NUL and bad UTF-8 rows rejected"))
		diag("r=%d rows=%lld rej=%lld %s\n%s", r, (long long)res.rows,
		     (long long)res.rejects, err.msg, s.trace.data);
	ok(s.nrej == 3 && strstr(s.reject_reasons[0], "NUL") &&
	           strstr(s.reject_reasons[1], "UTF-8") && strstr(s.reject_reasons[2], "UTF-8"),
	   "NUL / UTF-8 reasons");
	seen_release(&s);
	buf_reset(&b);

	/* a line longer than the cap is a reject, not a crash; the cap bounds memory */
	memset(&s, 0, sizeof(s));
	buf_adds(&b, SU_HEAD);
	buf_adds(&b, "`2025-03-02 08:00:00,`");
	for (i = 0; i < 100000; i++)
		buf_addc(&b, 'x');
	buf_adds(&b, "\n" SU_ROW("1.00", "0.00000") SU_SUMH "`1,`1.00,`0,`1.00\n");
	r = parse(b.data, b.len, 1000, 4096, &s, &res, &err);
	ok(r == 0 && res.rows == 1 && res.rejects == 1, "overlong line rejected, rest parsed");
	ok(s.nrej == 1 && s.reject_lines[0] == 2 && strstr(s.reject_reasons[0], "longer than 4096"),
	   "overlong reason");
	ok(strstr(s.trace.data, "R2|line longer than 4096 bytes|4096\n") != NULL,
	   "overlong raw is cut at the cap");
	seen_release(&s);
	/* the same bill with the default 64 KiB cap */
	memset(&s, 0, sizeof(s));
	r = parse(b.data, b.len, 0, 0, &s, &res, &err);
	ok(r == 0 && res.rejects == 1 && strstr(s.reject_reasons[0], "longer than 65536"),
	   "default cap 64 KiB");
	seen_release(&s);
	/* an overlong header is an error */
	memset(&s, 0, sizeof(s));
	r = parse(b.data, b.len, 0, 64, &s, &res, &err);
	ok(r == WXR_ETOOBIG && strstr(err.msg, "line 1: longer than 64"),
	   "overlong header is an error");
	seen_release(&s);
	buf_release(&b);

	/* a quote at the start of a value does not swallow the rest (quoting is off) */
	memset(&s, 0, sizeof(s));
	r = parse_str(
	        SU_HEAD
	        "`2025-03-02 08:00:00,`wx1,`1900000001,`0,`,`42001,`O1,`oA,`APP,`SUCCESS,`OTHERS,"
	        "`CNY,`1.00,`0.00,`\"礼包,`\"x\"y,`0.00000,`0.60%,`1.00,`\n" SU_ROW(
	                "1.00", "0.00000") SU_SUMH "`2,`2.00,`0,`2.00\n",
	        &s, &res, &err);
	ok(r == 0 && res.rows == 2 && res.mismatch == 0,
	   "leading double quotes are plain characters");
	ok(strstr(s.trace.data, "|\"礼包|\"x\"y|0|") != NULL,
	   "quoted-looking values kept verbatim");
	seen_release(&s);

	/* names */
	is_str(billparse_kind_name(BILL_KIND_FUNDFLOW), "fundflow", "kind name");
	is_str(billparse_kind_name(BILL_KIND_NONE), "", "kind name none");
	is_str(billparse_total_name(BILL_KIND_TRADE, BILL_T_COUNT), "总交易单数",
	       "total name trade");
	is_str(billparse_total_name(BILL_KIND_FUNDFLOW, BILL_T_COUNT), "资金流水总笔数",
	       "total name fund");
	is_str(billparse_total_name(BILL_KIND_FUNDFLOW, BILL_T_FEE), "", "total name absent");
}

int main(void)
{
	test_v16();
	test_chunking(FIX "bill.ALL.csv");
	test_chunking(FIX "hand_all_bom_crlf.csv");
	test_chunking(FIX "hand_fundflow_bom_crlf.csv");
	test_chunking(FIX "hand_malformed_rows.csv");
	test_gunsluo();
	test_hand_all();
	test_layouts();
	test_malformed();
	test_bill_errors();
	test_rows_edge();
	return done_testing();
}
