/*
 * sim_bill_stub.c - TEMPORARY minimal implementation of the sim_bill.h
 * interface so that the server's bill endpoints work and can be tested
 * before the real writer (src/sim/sim_bill.c) and generator (src/sim/sim_gen.c)
 * are merged. DELETE THIS FILE AT MERGE.
 *
 * It writes the documented shape (BOM, headers, backtick-prefixed values,
 * summary, CRLF) without any escaping of special characters.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sim/sim.h"
#include "sim/sim_bill.h"
#include "xalloc.h"

struct sim_bill_writer {
	enum sim_bill_layout layout;
	sim_bill_sink sink;
	void *ctx;
	struct buf line;
	int64_t rows;
	int64_t settlement, refund, recharge, fee_e5, order, refund_apply;
	int64_t in_n, in_fen, out_n, out_fen;
};

static const char HDR_ALL[] =
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
        "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
        "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
        "费率备注";
static const char HDR_SUCCESS[] =
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
        "交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,"
        "订单金额,费率备注";
static const char HDR_REFUND[] =
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
        "交易状态,付款银行,货币种类,应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,"
        "商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,"
        "订单金额,申请退款金额,费率备注";
static const char HDR_FUND[] = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,"
                               "收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号";
static const char SUM_TRADE[] = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,"
                                "手续费总金额,订单总金额,申请退款总金额";
static const char SUM_SUCCESS[] = "总交易单数,应结订单总金额,手续费总金额,订单总金额";
static const char SUM_FUND[] = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额";

static int flush_line(struct sim_bill_writer *w)
{
	int r;

	buf_adds(&w->line, "\r\n");
	r = w->sink(w->ctx, w->line.data, w->line.len);
	buf_reset(&w->line);
	return r;
}

static void val(struct sim_bill_writer *w, const char *s)
{
	if (w->line.len)
		buf_addc(&w->line, ',');
	buf_addc(&w->line, '`');
	buf_adds(&w->line, s ? s : "");
}

static void money(struct sim_bill_writer *w, int64_t v, int64_t unit, int decimals)
{
	uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	char s[64];

	snprintf(s, sizeof(s), "%s%" PRIu64 ".%0*" PRIu64, v < 0 ? "-" : "", a / (uint64_t)unit,
	         decimals, a % (uint64_t)unit);
	val(w, s);
}

static void yuan(struct sim_bill_writer *w, int64_t fen)
{
	money(w, fen, 100, 2);
}

static void fee5(struct sim_bill_writer *w, int64_t e5)
{
	money(w, e5, 100000, 5);
}

static void when(struct sim_bill_writer *w, int64_t ts)
{
	char t[40];

	if (!ts) {
		val(w, "");
		return;
	}
	sim_fmt_rfc3339(ts, t, sizeof(t));
	t[10] = ' ';
	t[19] = '\0';
	val(w, t);
}

static void count(struct sim_bill_writer *w, int64_t n, bool dot0)
{
	char s[32];

	snprintf(s, sizeof(s), "%" PRId64 "%s", n, dot0 ? ".0" : "");
	val(w, s);
}

struct sim_bill_writer *sim_bill_begin(enum sim_bill_layout layout, sim_bill_sink sink, void *ctx)
{
	struct sim_bill_writer *w;
	const char *hdr;

	switch (layout) {
	case SIM_BILL_ALL:
		hdr = HDR_ALL;
		break;
	case SIM_BILL_SUCCESS:
		hdr = HDR_SUCCESS;
		break;
	case SIM_BILL_REFUND:
		hdr = HDR_REFUND;
		break;
	case SIM_BILL_FUNDFLOW:
		hdr = HDR_FUND;
		break;
	default:
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->layout = layout;
	w->sink = sink;
	w->ctx = ctx;
	buf_init(&w->line);
	buf_adds(&w->line, "\xEF\xBB\xBF");
	buf_adds(&w->line, hdr);
	if (flush_line(w) < 0) {
		/* the sink's error shows again at the first row */
	}
	return w;
}

int sim_bill_trade_row(struct sim_bill_writer *w, const struct sim_trade_row *r)
{
	if (w->layout == SIM_BILL_FUNDFLOW)
		return WXR_EFAIL;
	when(w, r->trade_ts);
	val(w, r->appid);
	val(w, r->mchid);
	val(w, r->sub_mchid ? r->sub_mchid : "0");
	val(w, r->device_info);
	val(w, r->transaction_id);
	val(w, r->out_trade_no);
	val(w, r->openid);
	val(w, r->trade_type);
	val(w, r->row_kind);
	val(w, r->bank_type);
	val(w, r->currency);
	yuan(w, r->settlement_fen);
	yuan(w, r->coupon_fen);
	if (w->layout == SIM_BILL_REFUND) {
		when(w, r->refund_apply_ts);
		when(w, r->refund_success_ts);
	}
	if (w->layout != SIM_BILL_SUCCESS) {
		val(w, r->refund_id ? r->refund_id : "0");
		val(w, r->out_refund_no ? r->out_refund_no : "0");
		yuan(w, r->refund_fen);
		yuan(w, r->recharge_refund_fen);
		val(w, r->refund_type);
		val(w, r->refund_status);
	}
	val(w, r->description);
	val(w, r->attach);
	fee5(w, r->fee_e5);
	val(w, r->rate);
	yuan(w, r->order_fen);
	if (w->layout != SIM_BILL_SUCCESS)
		yuan(w, r->refund_apply_fen);
	val(w, r->rate_note);
	w->rows++;
	w->settlement += r->settlement_fen;
	w->refund += r->refund_fen;
	w->recharge += r->recharge_refund_fen;
	w->fee_e5 += r->fee_e5;
	w->order += r->order_fen;
	w->refund_apply += r->refund_apply_fen;
	return flush_line(w);
}

int sim_bill_fund_row(struct sim_bill_writer *w, const struct sim_fund_row *r)
{
	if (w->layout != SIM_BILL_FUNDFLOW)
		return WXR_EFAIL;
	when(w, r->booked_ts);
	val(w, r->biz_no);
	val(w, r->flow_no);
	val(w, r->biz_name);
	val(w, r->biz_type);
	val(w, r->income ? "收入" : "支出");
	yuan(w, r->amount_fen);
	yuan(w, r->balance_fen);
	val(w, r->applicant);
	val(w, r->remark);
	val(w, r->voucher_no);
	w->rows++;
	if (r->income) {
		w->in_n++;
		w->in_fen += r->amount_fen;
	} else {
		w->out_n++;
		w->out_fen += r->amount_fen;
	}
	return flush_line(w);
}

int sim_bill_end(struct sim_bill_writer *w)
{
	int r;

	buf_reset(&w->line);
	buf_adds(&w->line, w->layout == SIM_BILL_FUNDFLOW  ? SUM_FUND
	                   : w->layout == SIM_BILL_SUCCESS ? SUM_SUCCESS
	                                                   : SUM_TRADE);
	r = flush_line(w);
	if (r < 0)
		goto out;
	if (w->layout == SIM_BILL_FUNDFLOW) {
		count(w, w->rows, true);
		count(w, w->in_n, true);
		yuan(w, w->in_fen);
		count(w, w->out_n, true);
		yuan(w, w->out_fen);
	} else if (w->layout == SIM_BILL_SUCCESS) {
		count(w, w->rows, false);
		yuan(w, w->settlement);
		fee5(w, w->fee_e5);
		yuan(w, w->order);
	} else {
		count(w, w->rows, false);
		yuan(w, w->settlement);
		yuan(w, w->refund);
		yuan(w, w->recharge);
		fee5(w, w->fee_e5);
		yuan(w, w->order);
		yuan(w, w->refund_apply);
	}
	r = flush_line(w);
out:
	sim_bill_abort(w);
	return r;
}

void sim_bill_abort(struct sim_bill_writer *w)
{
	if (!w)
		return;
	buf_release(&w->line);
	free(w);
}

int sim_gen_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "wxrecon-sim generate: not built yet\n");
	return 2;
}
