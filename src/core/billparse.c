#include "core/billparse.h"
#include "base/utf8.h"

#include <csv.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/money.h"
#include "base/xalloc.h"

#define BEIJING_OFFSET_S (8 * 3600)
#define MAX_SUMMARY_COLS 32
#define QUOTE_MAX        40 /* bytes of a bad value quoted in a reason */

/* Columns wxrecon knows; the order is the order of coltab[]. */
enum col {
	C_TRADE_TIME,
	C_APPID,
	C_MCHID,
	C_SUB_MCHID,
	C_DEVICE,
	C_TXN,
	C_OTN,
	C_OPENID,
	C_TRADE_TYPE,
	C_STATE,
	C_BANK,
	C_CURRENCY,
	C_SETTLE,
	C_COUPON,
	C_REFUND_ID,
	C_ORN,
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
	C_REFUND_APPLY_TIME,
	C_REFUND_SUCCESS_TIME,
	F_BOOKED,
	F_BIZ_NO,
	F_FLOW_NO,
	F_BIZ_NAME,
	F_BIZ_TYPE,
	F_DIR,
	F_AMOUNT,
	F_BALANCE,
	F_APPLICANT,
	F_REMARK,
	F_VOUCHER,
	NCOLS
};

#define FIRST_FUND_COL F_BOOKED

/* In which layouts a column is required. */
#define R_TRADE   0x01u /* every trade layout */
#define R_REFUNDS 0x02u /* trade layouts with refund columns (ALL, REFUND, legacy ALL/REFUND) */
#define R_REFUNDL 0x04u /* REFUND layouts */
#define R_CURRENT 0x08u /* current (not legacy) trade layouts */
#define R_CURREF  0x10u /* current trade layouts with refund columns */
#define R_FUND    0x20u /* the fund-flow bill */

struct colspec {
	enum col id;
	unsigned required;
	const char *names[4]; /* names[0] is the current name; the others are aliases */
};

static const struct colspec coltab[NCOLS] = {
	{ C_TRADE_TIME, R_TRADE, { "交易时间" } },
	{ C_APPID, R_TRADE, { "公众账号ID" } },
	{ C_MCHID, R_TRADE, { "商户号" } },
	{ C_SUB_MCHID, 0, { "特约商户号", "子商户号" } },
	{ C_DEVICE, 0, { "设备号" } },
	{ C_TXN, R_TRADE, { "微信订单号" } },
	{ C_OTN, R_TRADE, { "商户订单号" } },
	{ C_OPENID, 0, { "用户标识" } },
	{ C_TRADE_TYPE, R_TRADE, { "交易类型" } },
	{ C_STATE, R_TRADE, { "交易状态" } },
	{ C_BANK, 0, { "付款银行" } },
	{ C_CURRENCY, R_TRADE, { "货币种类" } },
	{ C_SETTLE, R_TRADE, { "应结订单金额", "总金额" } },
	{ C_COUPON, R_TRADE, { "代金券金额", "企业红包金额", "代金券或立减优惠金额" } },
	{ C_REFUND_ID, R_REFUNDS, { "微信退款单号" } },
	{ C_ORN, R_REFUNDS, { "商户退款单号" } },
	{ C_REFUND, R_REFUNDS, { "退款金额" } },
	{ C_RECHARGE_REFUND,
	  R_REFUNDS,
	  { "充值券退款金额", "企业红包退款金额", "代金券或立减优惠退款金额" } },
	{ C_REFUND_TYPE, R_REFUNDS, { "退款类型" } },
	{ C_REFUND_STATUS, R_REFUNDS, { "退款状态" } },
	{ C_DESC, R_TRADE, { "商品名称" } },
	{ C_ATTACH, R_TRADE, { "商户数据包" } },
	{ C_FEE, R_TRADE, { "手续费" } },
	{ C_RATE, R_TRADE, { "费率" } },
	{ C_ORDER, R_CURRENT, { "订单金额" } },
	{ C_REFUND_APPLY, R_CURREF, { "申请退款金额" } },
	{ C_RATE_NOTE, 0, { "费率备注" } },
	{ C_REFUND_APPLY_TIME, R_REFUNDL, { "退款申请时间" } },
	{ C_REFUND_SUCCESS_TIME, R_REFUNDL, { "退款成功时间" } },
	{ F_BOOKED, R_FUND, { "记账时间" } },
	{ F_BIZ_NO, R_FUND, { "微信支付业务单号" } },
	{ F_FLOW_NO, R_FUND, { "资金流水单号" } },
	{ F_BIZ_NAME, R_FUND, { "业务名称" } },
	{ F_BIZ_TYPE, R_FUND, { "业务类型" } },
	{ F_DIR, R_FUND, { "收支类型" } },
	{ F_AMOUNT, R_FUND, { "收支金额(元)", "收支金额（元）", "收支金额" } },
	{ F_BALANCE, R_FUND, { "账户结余(元)", "账户结余（元）", "账户结余" } },
	{ F_APPLICANT, 0, { "资金变更提交申请人" } },
	{ F_REMARK, 0, { "备注" } },
	{ F_VOUCHER, 0, { "业务凭证号" } },
};

#define SCALE_COUNT (-1)

struct sumspec {
	enum bill_kind kind;
	unsigned bit;
	int scale; /* SCALE_COUNT, MONEY_SCALE_FEN or MONEY_SCALE_FEE */
	const char *names[4];
};

static const struct sumspec sumtab[] = {
	{ BILL_KIND_TRADE, BILL_T_COUNT, SCALE_COUNT, { "总交易单数" } },
	{ BILL_KIND_TRADE, BILL_T_SETTLEMENT, MONEY_SCALE_FEN, { "应结订单总金额", "总交易额" } },
	{ BILL_KIND_TRADE, BILL_T_REFUND, MONEY_SCALE_FEN, { "退款总金额", "总退款金额" } },
	{ BILL_KIND_TRADE,
	  BILL_T_RECHARGE_REFUND,
	  MONEY_SCALE_FEN,
	  { "充值券退款总金额", "总企业红包退款金额", "总代金券或立减优惠退款金额" } },
	{ BILL_KIND_TRADE, BILL_T_FEE, MONEY_SCALE_FEE, { "手续费总金额" } },
	{ BILL_KIND_TRADE, BILL_T_ORDER, MONEY_SCALE_FEN, { "订单总金额" } },
	{ BILL_KIND_TRADE, BILL_T_REFUND_APPLY, MONEY_SCALE_FEN, { "申请退款总金额" } },
	{ BILL_KIND_FUNDFLOW, BILL_T_COUNT, SCALE_COUNT, { "资金流水总笔数" } },
	{ BILL_KIND_FUNDFLOW, BILL_T_INCOME_COUNT, SCALE_COUNT, { "收入笔数" } },
	{ BILL_KIND_FUNDFLOW, BILL_T_INCOME, MONEY_SCALE_FEN, { "收入金额" } },
	{ BILL_KIND_FUNDFLOW, BILL_T_EXPENSE_COUNT, SCALE_COUNT, { "支出笔数" } },
	{ BILL_KIND_FUNDFLOW, BILL_T_EXPENSE, MONEY_SCALE_FEN, { "支出金额" } },
};

#define TRADE_SUM_BITS                                                                            \
	(BILL_T_COUNT | BILL_T_SETTLEMENT | BILL_T_REFUND | BILL_T_RECHARGE_REFUND | BILL_T_FEE | \
	 BILL_T_ORDER | BILL_T_REFUND_APPLY)
#define FUND_SUM_BITS \
	(BILL_T_COUNT | BILL_T_INCOME_COUNT | BILL_T_INCOME | BILL_T_EXPENSE_COUNT | BILL_T_EXPENSE)
/* Summary columns a bill must have. */
#define TRADE_SUM_REQUIRED (BILL_T_COUNT | BILL_T_SETTLEMENT | BILL_T_FEE)
#define FUND_SUM_REQUIRED  FUND_SUM_BITS

enum state {
	ST_HEADER,     /* waiting for the detail header */
	ST_DETAIL,     /* detail lines, until the summary header */
	ST_SUM_VALUES, /* the summary header was seen */
	ST_DONE,       /* the summary values were seen: only blank lines may follow */
};

struct billparse {
	struct billparse_cb cb;
	size_t max_line;
	enum state state;
	int failed;
	int64_t lineno;

	/* the current partial line */
	struct buf line;
	int overlong;

	/* libcsv and the fields of the line being split */
	struct csv_parser csv;
	int csv_inited;
	int fold;          /* fold fields without a leading backtick into the previous one */
	struct buf fields; /* field bytes, each followed by a NUL */
	size_t *foff;      /* start of each field in fields */
	size_t nf, fcap;

	/* the detail header */
	enum bill_kind kind;
	enum bill_layout layout;
	size_t ncols;
	int map[NCOLS];   /* column -> field index, or -1 */
	int alias[NCOLS]; /* which name of coltab matched */
	const char **val; /* ncols values of the current row (borrowed from fields) */

	/* the summary header: field index -> sumtab index or -1 */
	size_t nsum;
	int sumcol[MAX_SUMMARY_COLS];

	struct bill_totals summary;
	struct bill_totals sums;
	int fee_total_2dp;
	int64_t rows, rejects;

	char reason[BILLPARSE_REASON_MAX];
	char t_trade[BILLPARSE_TIME_LEN], t_apply[BILLPARSE_TIME_LEN],
	        t_success[BILLPARSE_TIME_LEN];
};

/* ---- names ---- */

const char *billparse_total_name(enum bill_kind kind, unsigned bit)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sumtab); i++)
		if (sumtab[i].kind == kind && sumtab[i].bit == bit)
			return sumtab[i].names[0];
	return "";
}

static int total_scale(enum bill_kind kind, unsigned bit)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sumtab); i++)
		if (sumtab[i].kind == kind && sumtab[i].bit == bit)
			return sumtab[i].scale;
	return SCALE_COUNT;
}

static int64_t *total_field(struct bill_totals *t, unsigned bit)
{
	switch (bit) {
	case BILL_T_COUNT:
		return &t->count;
	case BILL_T_SETTLEMENT:
		return &t->settlement;
	case BILL_T_REFUND:
		return &t->refund;
	case BILL_T_RECHARGE_REFUND:
		return &t->recharge_refund;
	case BILL_T_FEE:
		return &t->fee;
	case BILL_T_ORDER:
		return &t->order;
	case BILL_T_REFUND_APPLY:
		return &t->refund_apply;
	case BILL_T_INCOME_COUNT:
		return &t->income_count;
	case BILL_T_INCOME:
		return &t->income;
	case BILL_T_EXPENSE_COUNT:
		return &t->expense_count;
	case BILL_T_EXPENSE:
		return &t->expense;
	default:
		BUG("unknown total bit %#x", bit);
	}
}

static int64_t total_get(const struct bill_totals *t, unsigned bit)
{
	return *total_field((struct bill_totals *)(uintptr_t)t, bit);
}

static void fmt_total(enum bill_kind kind, unsigned bit, int64_t v, char *out, size_t size)
{
	int scale = total_scale(kind, bit);

	if (scale == SCALE_COUNT)
		snprintf(out, size, "%lld", (long long)v);
	else
		money_format(v, scale, out, size);
}

void billparse_mismatch_text(const struct billparse_result *res, char *out, size_t size)
{
	struct buf b = BUF_INIT;
	unsigned bit;

	if (size == 0)
		return;
	for (bit = 1; bit <= BILL_T_EXPENSE; bit <<= 1) {
		char s[MONEY_FMT_LEN], r[MONEY_FMT_LEN];

		if (!(res->mismatch & bit))
			continue;
		fmt_total(res->kind, bit, total_get(&res->summary, bit), s, sizeof(s));
		fmt_total(res->kind, bit, total_get(&res->sums, bit), r, sizeof(r));
		buf_addf(&b, "%s%s: summary %s, rows %s", b.len ? "; " : "",
		         billparse_total_name(res->kind, bit), s, r);
	}
	snprintf(out, size, "%s", buf_str(&b));
	buf_release(&b);
}

/* ---- small helpers ---- */

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_ws(s[i]))
			return false;
	return true;
}

/* Trims whitespace in place; s must be NUL-terminated and writable. */
static char *trim(char *s)
{
	size_t n;

	while (is_ws(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_ws(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* ---- splitting with libcsv ---- */

static int never(unsigned char c)
{
	(void)c;
	return 0;
}

static void field_cb(void *s, size_t len, void *data)
{
	struct billparse *p = data;
	const char *f = s;

	if (p->fold && p->nf > 0 && (len == 0 || f[0] != '`')) {
		/* "`礼包,大号": put the comma back where the previous value's NUL is */
		p->fields.data[p->fields.len - 1] = ',';
	} else {
		if (p->nf == p->fcap) {
			p->fcap = p->fcap ? p->fcap * 2 : 64;
			p->foff = xreallocarray(p->foff, p->fcap, sizeof(*p->foff));
		}
		p->foff[p->nf++] = p->fields.len;
	}
	(void)buf_add(&p->fields, f, len);
	(void)buf_addc(&p->fields, '\0');
}

static int split(struct billparse *p, const char *line, size_t len, int fold, struct wxr_err *err)
{
	p->nf = 0;
	buf_reset(&p->fields);
	p->fold = fold;
	if (csv_parse(&p->csv, line, len, field_cb, NULL, p) != len ||
	    csv_fini(&p->csv, field_cb, NULL, p) != 0)
		return err_set(err, WXR_EFAIL, "line %lld: csv: %s", (long long)p->lineno,
		               csv_strerror(csv_error(&p->csv)));
	return 0;
}

static char *field(struct billparse *p, size_t i)
{
	return p->fields.data + p->foff[i];
}

/* ---- the detail header ---- */

static int find_col(const char *name, enum col *out_col, int *out_alias)
{
	size_t c, a;

	for (c = 0; c < NCOLS; c++)
		for (a = 0; a < ARRAY_SIZE(coltab[c].names) && coltab[c].names[a]; a++)
			if (strcmp(name, coltab[c].names[a]) == 0) {
				*out_col = (enum col)c;
				*out_alias = (int)a;
				return 1;
			}
	return 0;
}

static unsigned layout_requires(enum bill_layout l)
{
	switch (l) {
	case BILL_LAYOUT_ALL:
		return R_TRADE | R_REFUNDS | R_CURRENT | R_CURREF;
	case BILL_LAYOUT_SUCCESS:
		return R_TRADE | R_CURRENT;
	case BILL_LAYOUT_REFUND:
		return R_TRADE | R_REFUNDS | R_REFUNDL | R_CURRENT | R_CURREF;
	case BILL_LAYOUT_LEGACY_ALL:
		return R_TRADE | R_REFUNDS;
	case BILL_LAYOUT_LEGACY_SUCCESS:
		return R_TRADE;
	case BILL_LAYOUT_LEGACY_REFUND:
		return R_TRADE | R_REFUNDS | R_REFUNDL;
	case BILL_LAYOUT_FUNDFLOW:
		return R_FUND;
	case BILL_LAYOUT_NONE:
		break;
	}
	return 0;
}

static int do_header(struct billparse *p, const char *line, size_t len, struct wxr_err *err)
{
	size_t i;
	int r;

	if (memchr(line, '\0', len))
		return err_set(err, WXR_EDATA, "line %lld: NUL byte in the bill header",
		               (long long)p->lineno);
	r = split(p, line, len, 0, err);
	if (r < 0)
		return r;
	for (i = 0; i < NCOLS; i++)
		p->map[i] = -1;
	for (i = 0; i < p->nf; i++) {
		const char *name = trim(field(p, i));
		enum col c;
		int alias;

		if (!find_col(name, &c, &alias))
			continue; /* a column wxrecon does not use */
		if (p->map[c] >= 0)
			return err_set(err, WXR_EDATA, "line %lld: column '%s' appears twice",
			               (long long)p->lineno, name);
		p->map[c] = (int)i;
		p->alias[c] = alias;
	}
	if (p->map[C_TRADE_TIME] >= 0 && p->map[F_BOOKED] < 0) {
		int legacy = p->map[C_SETTLE] >= 0 && p->alias[C_SETTLE] > 0;

		p->kind = BILL_KIND_TRADE;
		if (p->map[C_REFUND_APPLY_TIME] >= 0 || p->map[C_REFUND_SUCCESS_TIME] >= 0)
			p->layout = legacy ? BILL_LAYOUT_LEGACY_REFUND : BILL_LAYOUT_REFUND;
		else if (p->map[C_REFUND_ID] >= 0 || p->map[C_ORN] >= 0 || p->map[C_REFUND] >= 0)
			p->layout = legacy ? BILL_LAYOUT_LEGACY_ALL : BILL_LAYOUT_ALL;
		else
			p->layout = legacy ? BILL_LAYOUT_LEGACY_SUCCESS : BILL_LAYOUT_SUCCESS;
	} else if (p->map[F_BOOKED] >= 0 && p->map[C_TRADE_TIME] < 0) {
		p->kind = BILL_KIND_FUNDFLOW;
		p->layout = BILL_LAYOUT_FUNDFLOW;
	} else {
		char first[64];

		snprintf(first, sizeof(first), "%s", p->nf ? field(p, 0) : "");
		return err_set(
		        err, WXR_EDATA,
		        "line %lld: not a trade or fund-flow bill header (first column '%s')",
		        (long long)p->lineno, first);
	}
	for (i = 0; i < NCOLS; i++) {
		if ((coltab[i].required & layout_requires(p->layout)) && p->map[i] < 0)
			return err_set(err, WXR_EDATA,
			               "line %lld: %s bill (layout %s) lacks column '%s'",
			               (long long)p->lineno, billparse_kind_name(p->kind),
			               billparse_layout_name(p->layout), coltab[i].names[0]);
	}
	p->ncols = p->nf;
	p->val = xcalloc(p->ncols, sizeof(*p->val));
	p->state = ST_DETAIL;
	if (p->cb.header) {
		r = p->cb.header(p->cb.ctx, p->kind, p->layout, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- detail rows ---- */

static int reject(struct billparse *p, const char *raw, size_t len, const char *reason,
                  struct wxr_err *err)
{
	p->rejects++;
	if (p->cb.reject)
		return p->cb.reject(p->cb.ctx, p->lineno, raw, len, reason, err);
	return 0;
}

static const char *colname(const struct billparse *p, enum col c)
{
	return coltab[c].names[p->alias[c]];
}

static const char *tv(const struct billparse *p, enum col c)
{
	return p->map[c] < 0 ? NULL : p->val[p->map[c]];
}

/* Sets the reason and returns -1. */
static int why(struct billparse *p, const char *fmt, ...) WXR_PRINTF(2, 3);
static int why(struct billparse *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
	va_end(ap);
	return -1;
}

static int bad_value(struct billparse *p, enum col c, const char *v)
{
	size_t n = strlen(v);

	return why(p, "bad %s '%.*s%s'", colname(p, c), (int)(n > QUOTE_MAX ? QUOTE_MAX : n), v,
	           n > QUOTE_MAX ? "..." : "");
}

static int amount(struct billparse *p, enum col c, int scale, int64_t *out)
{
	const char *v = tv(p, c);

	*out = 0;
	if (!v)
		return 0;
	if (money_parse(v, scale, out, NULL) < 0)
		return bad_value(p, c, v);
	return 0;
}

/* "2019-02-19 05:01:46" (Beijing) -> "2019-02-19T05:01:46+08:00". An absent
 * column gives NULL; an empty value NULL too unless required. */
static int btime(struct billparse *p, enum col c, int required, char out[BILLPARSE_TIME_LEN],
                 const char **res)
{
	const char *v = tv(p, c);
	int64_t ts;

	*res = NULL;
	if (!v)
		return 0;
	if (!*v) {
		if (required)
			return why(p, "empty %s", colname(p, c));
		return 0;
	}
	if (strlen(v) != 19 || time_parse_local(v, BEIJING_OFFSET_S, &ts, NULL) < 0)
		return bad_value(p, c, v);
	memcpy(out, v, 10);
	out[10] = 'T';
	memcpy(out + 11, v + 11, 8);
	memcpy(out + 19, "+08:00", 7);
	*res = out;
	return 0;
}

static int add(int64_t *acc, int64_t v)
{
	return __builtin_add_overflow(*acc, v, acc) ? -1 : 0;
}

static int build_trade(struct billparse *p, struct bill_trade *t, struct bill_totals *sums)
{
	const char *state;

	memset(t, 0, sizeof(*t));
	if (btime(p, C_TRADE_TIME, 1, p->t_trade, &t->trade_time) < 0)
		return -1;
	t->appid = tv(p, C_APPID);
	t->mchid = tv(p, C_MCHID);
	t->sub_mchid = tv(p, C_SUB_MCHID);
	t->device_info = tv(p, C_DEVICE);
	t->transaction_id = tv(p, C_TXN);
	if (!*t->transaction_id)
		return why(p, "empty %s", colname(p, C_TXN));
	t->out_trade_no = tv(p, C_OTN);
	if (!*t->out_trade_no)
		return why(p, "empty %s", colname(p, C_OTN));
	t->openid = tv(p, C_OPENID);
	t->trade_type = tv(p, C_TRADE_TYPE);
	state = tv(p, C_STATE);
	if (strcmp(state, "SUCCESS") == 0)
		t->row_kind = BILL_ROW_SUCCESS;
	else if (strcmp(state, "REFUND") == 0)
		t->row_kind = BILL_ROW_REFUND;
	else if (strcmp(state, "REVOKED") == 0)
		t->row_kind = BILL_ROW_REVOKED;
	else
		return why(p, "unknown %s '%.*s'", colname(p, C_STATE), QUOTE_MAX, state);
	t->bank_type = tv(p, C_BANK);
	t->currency = tv(p, C_CURRENCY);
	if (amount(p, C_SETTLE, MONEY_SCALE_FEN, &t->settlement_amount) < 0 ||
	    amount(p, C_COUPON, MONEY_SCALE_FEN, &t->coupon_amount) < 0)
		return -1;
	t->refund_id = tv(p, C_REFUND_ID);
	t->out_refund_no = tv(p, C_ORN);
	if (amount(p, C_REFUND, MONEY_SCALE_FEN, &t->refund_amount) < 0 ||
	    amount(p, C_RECHARGE_REFUND, MONEY_SCALE_FEN, &t->recharge_refund_amount) < 0)
		return -1;
	t->refund_type = tv(p, C_REFUND_TYPE);
	t->refund_status = tv(p, C_REFUND_STATUS);
	t->description = tv(p, C_DESC);
	t->attach = tv(p, C_ATTACH);
	if (amount(p, C_FEE, MONEY_SCALE_FEE, &t->fee) < 0)
		return -1;
	t->rate = tv(p, C_RATE);
	if (amount(p, C_ORDER, MONEY_SCALE_FEN, &t->order_amount) < 0 ||
	    amount(p, C_REFUND_APPLY, MONEY_SCALE_FEN, &t->refund_apply_amount) < 0)
		return -1;
	t->rate_note = tv(p, C_RATE_NOTE);
	if (btime(p, C_REFUND_APPLY_TIME, 0, p->t_apply, &t->refund_apply_time) < 0 ||
	    btime(p, C_REFUND_SUCCESS_TIME, 0, p->t_success, &t->refund_success_time) < 0)
		return -1;

	*sums = p->sums;
	if (add(&sums->count, 1) < 0 || add(&sums->settlement, t->settlement_amount) < 0 ||
	    add(&sums->refund, t->refund_amount) < 0 ||
	    add(&sums->recharge_refund, t->recharge_refund_amount) < 0 ||
	    add(&sums->fee, t->fee) < 0 || add(&sums->order, t->order_amount) < 0 ||
	    add(&sums->refund_apply, t->refund_apply_amount) < 0)
		return why(p, "amount totals overflow");
	return 0;
}

static int build_fundflow(struct billparse *p, struct bill_fundflow *f, struct bill_totals *sums)
{
	const char *dir;

	memset(f, 0, sizeof(*f));
	if (btime(p, F_BOOKED, 1, p->t_trade, &f->booked_at) < 0)
		return -1;
	f->biz_no = tv(p, F_BIZ_NO);
	f->flow_no = tv(p, F_FLOW_NO);
	f->biz_name = tv(p, F_BIZ_NAME);
	f->biz_type = tv(p, F_BIZ_TYPE);
	dir = tv(p, F_DIR);
	if (strcmp(dir, "收入") == 0)
		f->direction = BILL_DIR_IN;
	else if (strcmp(dir, "支出") == 0)
		f->direction = BILL_DIR_OUT;
	else
		return why(p, "unknown %s '%.*s'", colname(p, F_DIR), QUOTE_MAX, dir);
	if (amount(p, F_AMOUNT, MONEY_SCALE_FEN, &f->amount) < 0 ||
	    amount(p, F_BALANCE, MONEY_SCALE_FEN, &f->balance) < 0)
		return -1;
	if (f->amount < 0)
		return why(p, "negative %s '%s' (the direction is in %s)", colname(p, F_AMOUNT),
		           tv(p, F_AMOUNT), colname(p, F_DIR));
	f->applicant = tv(p, F_APPLICANT);
	f->remark = tv(p, F_REMARK);
	f->voucher_no = tv(p, F_VOUCHER);

	*sums = p->sums;
	if (add(&sums->count, 1) < 0 ||
	    (f->direction == BILL_DIR_IN
	             ? add(&sums->income_count, 1) < 0 || add(&sums->income, f->amount) < 0
	             : add(&sums->expense_count, 1) < 0 || add(&sums->expense, f->amount) < 0))
		return why(p, "amount totals overflow");
	return 0;
}

static int do_detail(struct billparse *p, const char *line, size_t len, struct wxr_err *err)
{
	struct bill_totals sums;
	size_t i;
	int r;

	if (memchr(line, '\0', len))
		return reject(p, line, len, "NUL byte in line", err);
	if (!utf8_valid(line, len))
		return reject(p, line, len, "invalid UTF-8", err);
	r = split(p, line, len, 1, err);
	if (r < 0)
		return r;
	if (p->nf != p->ncols) {
		why(p, "%zu fields, the header has %zu", p->nf, p->ncols);
		return reject(p, line, len, p->reason, err);
	}
	for (i = 0; i < p->nf; i++)
		p->val[i] = field(p, i) + 1; /* every field starts with the backtick */

	p->reason[0] = '\0';
	if (p->kind == BILL_KIND_TRADE) {
		struct bill_trade t;

		if (build_trade(p, &t, &sums) < 0)
			return reject(p, line, len, p->reason, err);
		r = p->cb.trade ? p->cb.trade(p->cb.ctx, p->lineno, &t, p->reason,
		                              sizeof(p->reason), err)
		                : 0;
	} else {
		struct bill_fundflow f;

		if (build_fundflow(p, &f, &sums) < 0)
			return reject(p, line, len, p->reason, err);
		r = p->cb.fundflow ? p->cb.fundflow(p->cb.ctx, p->lineno, &f, p->reason,
		                                    sizeof(p->reason), err)
		                   : 0;
	}
	if (r < 0)
		return r;
	if (r == BILLPARSE_REJECT) {
		if (!p->reason[0])
			why(p, "refused");
		return reject(p, line, len, p->reason, err);
	}
	p->sums = sums;
	p->rows++;
	return 0;
}

/* ---- the summary ---- */

static const struct sumspec *find_sum(const char *name, int *out_index)
{
	size_t i, a;

	for (i = 0; i < ARRAY_SIZE(sumtab); i++)
		for (a = 0; a < ARRAY_SIZE(sumtab[i].names) && sumtab[i].names[a]; a++)
			if (strcmp(name, sumtab[i].names[a]) == 0) {
				*out_index = (int)i;
				return &sumtab[i];
			}
	return NULL;
}

/* Returns 1 when the line is the summary header, 0 when it is not one,
 * negative on a bill error. */
static int try_summary_header(struct billparse *p, const char *line, size_t len,
                              struct wxr_err *err)
{
	const struct sumspec *s;
	unsigned seen = 0, required;
	size_t i;
	int idx, r;

	if (memchr(line, '\0', len))
		return 0;
	r = split(p, line, len, 0, err);
	if (r < 0)
		return r;
	s = find_sum(trim(field(p, 0)), &idx);
	if (!s || s->bit != BILL_T_COUNT)
		return 0;
	if (s->kind != p->kind)
		return err_set(err, WXR_EDATA, "line %lld: %s bill summary in a %s bill",
		               (long long)p->lineno, billparse_kind_name(s->kind),
		               billparse_kind_name(p->kind));
	if (p->nf > MAX_SUMMARY_COLS)
		return err_set(err, WXR_EDATA, "line %lld: summary header has %zu columns",
		               (long long)p->lineno, p->nf);
	for (i = 0; i < p->nf; i++) {
		const char *name = trim(field(p, i));

		p->sumcol[i] = -1;
		s = find_sum(name, &idx);
		if (!s || s->kind != p->kind)
			continue;
		if (seen & s->bit)
			return err_set(err, WXR_EDATA,
			               "line %lld: summary column '%s' appears twice",
			               (long long)p->lineno, name);
		seen |= s->bit;
		p->sumcol[i] = idx;
	}
	required = p->kind == BILL_KIND_TRADE ? TRADE_SUM_REQUIRED : FUND_SUM_REQUIRED;
	for (i = 0; i < ARRAY_SIZE(sumtab); i++)
		if (sumtab[i].kind == p->kind && (sumtab[i].bit & required) &&
		    !(seen & sumtab[i].bit))
			return err_set(err, WXR_EDATA, "line %lld: summary lacks column '%s'",
			               (long long)p->lineno, sumtab[i].names[0]);
	p->nsum = p->nf;
	p->state = ST_SUM_VALUES;
	return 1;
}

static int do_summary_values(struct billparse *p, const char *line, size_t len, struct wxr_err *err)
{
	size_t i;
	int r;

	if (memchr(line, '\0', len))
		return err_set(err, WXR_EDATA, "line %lld: NUL byte in the summary",
		               (long long)p->lineno);
	r = split(p, line, len, 1, err);
	if (r < 0)
		return r;
	if (p->nf != p->nsum)
		return err_set(err, WXR_EDATA, "line %lld: summary has %zu values, its header %zu",
		               (long long)p->lineno, p->nf, p->nsum);
	memset(&p->summary, 0, sizeof(p->summary));
	for (i = 0; i < p->nf; i++) {
		char *v = field(p, i);
		const struct sumspec *s;
		int64_t *dst;

		if (v[0] != '`')
			return err_set(err, WXR_EDATA,
			               "line %lld: summary value %zu has no leading backtick",
			               (long long)p->lineno, i + 1);
		v = trim(v + 1);
		if (p->sumcol[i] < 0)
			continue;
		s = &sumtab[p->sumcol[i]];
		dst = total_field(&p->summary, s->bit);
		if (s->scale == SCALE_COUNT)
			r = money_parse_count(v, dst, err);
		else
			r = money_parse(v, s->scale, dst, err);
		if (r < 0)
			return err_prefix(err, "line %lld: summary '%s'", (long long)p->lineno,
			                  s->names[0]);
		if (s->bit == BILL_T_FEE) {
			const char *dot = strchr(v, '.');

			p->fee_total_2dp = !dot || strlen(dot + 1) <= 2;
		}
		p->summary.present |= s->bit;
	}
	p->state = ST_DONE;
	return 0;
}

/* ---- lines ---- */

static int end_line(struct billparse *p, const char *line, size_t len, int overlong,
                    struct wxr_err *err)
{
	int r;

	p->lineno++;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (p->lineno == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;
		len -= 3;
	}
	if (overlong && p->state != ST_DETAIL)
		return err_set(err, WXR_ETOOBIG, "line %lld: longer than %zu bytes",
		               (long long)p->lineno, p->max_line);
	if (!overlong && is_blank(line, len))
		return 0;
	switch (p->state) {
	case ST_HEADER:
		return do_header(p, line, len, err);
	case ST_DETAIL:
		if (overlong) {
			why(p, "line longer than %zu bytes", p->max_line);
			return reject(p, line, len, p->reason, err);
		}
		if (line[0] == '`')
			return do_detail(p, line, len, err);
		r = try_summary_header(p, line, len, err);
		if (r != 0)
			return r < 0 ? r : 0;
		return reject(p, line, len, "value without the leading backtick", err);
	case ST_SUM_VALUES:
		return do_summary_values(p, line, len, err);
	case ST_DONE:
		break;
	}
	return err_set(err, WXR_EDATA, "line %lld: data after the summary", (long long)p->lineno);
}

static void append(struct billparse *p, const char *s, size_t n)
{
	size_t room = p->max_line - p->line.len;

	if (p->overlong)
		return;
	if (n > room) {
		n = room;
		p->overlong = 1;
	}
	(void)buf_add(&p->line, s, n);
}

int billparse_new(const struct billparse_cb *cb, size_t max_line, struct billparse **out_p,
                  struct wxr_err *err)
{
	struct billparse *p;
	size_t i;

	for (i = 0; i < NCOLS; i++)
		if (coltab[i].id != (enum col)i)
			BUG("coltab[%zu] out of order", i);
	p = xcalloc(1, sizeof(*p));
	p->cb = *cb;
	p->max_line = max_line ? max_line : BILLPARSE_MAX_LINE;
	buf_init(&p->line);
	buf_init(&p->fields);
	if (csv_init(&p->csv, 0) != 0) {
		free(p);
		return err_set(err, WXR_EFAIL, "cannot start the csv parser");
	}
	p->csv_inited = 1;
	/* PROTOCOL 6.1: no quoting (a '"' in a goods name is a character), no
	 * trimming of spaces, and no line ends: we hand libcsv one line at a time. */
	csv_set_quote(&p->csv, '\0');
	csv_set_space_func(&p->csv, never);
	csv_set_term_func(&p->csv, never);
	csv_set_realloc_func(&p->csv, xrealloc);
	csv_set_blk_size(&p->csv, 4096);
	*out_p = p;
	return 0;
}

int billparse_feed(struct billparse *p, const void *data, size_t n, struct wxr_err *err)
{
	const char *s = data;
	int r = 0;

	if (p->failed)
		return err_set(err, WXR_EFAIL, "bill parser: feed after an error");
	while (n > 0) {
		const char *nl = memchr(s, '\n', n);
		size_t take = nl ? (size_t)(nl - s) : n;

		if (nl && p->line.len == 0 && !p->overlong && take <= p->max_line) {
			r = end_line(p, s, take, 0, err); /* a whole line in the chunk: no copy */
		} else {
			append(p, s, take);
			if (nl) {
				r = end_line(p, buf_str(&p->line), p->line.len, p->overlong, err);
				buf_reset(&p->line);
				p->overlong = 0;
			}
		}
		if (r < 0) {
			p->failed = 1;
			return r;
		}
		if (!nl)
			break;
		s = nl + 1;
		n -= take + 1;
	}
	return 0;
}

int billparse_finish(struct billparse *p, struct billparse_result *out, struct wxr_err *err)
{
	struct billparse_result res;
	unsigned bit;
	int r;

	if (p->failed)
		return err_set(err, WXR_EFAIL, "bill parser: finish after an error");
	if (p->line.len > 0 || p->overlong) {
		r = end_line(p, buf_str(&p->line), p->line.len, p->overlong, err);
		buf_reset(&p->line);
		p->overlong = 0;
		if (r < 0) {
			p->failed = 1;
			return r;
		}
	}
	p->failed = 1; /* finish once */
	switch (p->state) {
	case ST_HEADER:
		return err_set(err, WXR_EDATA, "empty bill: no header line");
	case ST_DETAIL:
		return err_set(err, WXR_EDATA,
		               "bill ends after line %lld without a summary (truncated?)",
		               (long long)p->lineno);
	case ST_SUM_VALUES:
		return err_set(err, WXR_EDATA, "bill ends after the summary header (line %lld)",
		               (long long)p->lineno);
	case ST_DONE:
		break;
	}
	memset(&res, 0, sizeof(res));
	res.kind = p->kind;
	res.layout = p->layout;
	res.lines = p->lineno;
	res.rows = p->rows;
	res.rejects = p->rejects;
	res.summary = p->summary;
	res.sums = p->sums;
	res.sums.present = p->kind == BILL_KIND_TRADE ? TRADE_SUM_BITS : FUND_SUM_BITS;
	res.fee_total_2dp = p->kind == BILL_KIND_TRADE && p->fee_total_2dp;
	for (bit = 1; bit <= BILL_T_EXPENSE; bit <<= 1) {
		int64_t want, got;

		if (!(res.summary.present & bit))
			continue;
		want = total_get(&res.summary, bit);
		got = total_get(&res.sums, bit);
		if (bit == BILL_T_FEE && res.fee_total_2dp) {
			/* "0.08" in the summary vs rows in 0.00001: compare at the fen */
			if (money_fee_to_fen(got) != want / 1000)
				res.mismatch |= bit;
		} else if (want != got) {
			res.mismatch |= bit;
		}
	}
	*out = res;
	return 0;
}

struct billparse *billparse_free(struct billparse *p)
{
	if (!p)
		return NULL;
	if (p->csv_inited)
		csv_free(&p->csv);
	buf_release(&p->line);
	buf_release(&p->fields);
	free(p->foff);
	free(p->val);
	free(p);
	return NULL;
}
