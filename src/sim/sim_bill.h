/*
 * sim_bill.h - the simulator's bill writer: WeChat Pay's exact bill formats
 * (PROTOCOL.md section 6), streamed row by row so that a day of millions of
 * rows never sits in memory. Owned by the bill-writer work; the simulator's
 * server maps its state into these rows.
 *
 * Output: UTF-8 BOM, header line, one line per row with every value prefixed
 * by a backtick, the summary header and the summary line, CRLF everywhere.
 * Amounts: yuan with 2 decimals; fee columns with 5.
 */
#ifndef WXSIM_BILL_H
#define WXSIM_BILL_H

#include <stddef.h>
#include <stdint.h>

#include "wxrecon.h"

/* A trade-bill row. Strings are borrowed for the call; NULL writes an empty value. */
struct sim_trade_row {
	int64_t trade_ts; /* Unix seconds; written as Beijing time */
	const char *appid;
	const char *mchid;
	const char *sub_mchid; /* NULL -> "0" */
	const char *device_info;
	const char *transaction_id;
	const char *out_trade_no;
	const char *openid;
	const char *trade_type; /* "APP" */
	const char *row_kind;   /* "SUCCESS" (payment row) or "REFUND" (refund row) */
	const char *bank_type;
	const char *currency;        /* "CNY" */
	int64_t settlement_fen;      /* 应结订单金额 */
	int64_t coupon_fen;          /* 代金券金额 */
	const char *refund_id;       /* NULL -> "0" */
	const char *out_refund_no;   /* NULL -> "0" */
	int64_t refund_fen;          /* 退款金额 */
	int64_t recharge_refund_fen; /* 充值券退款金额 */
	const char *refund_type;     /* "ORIGINAL"; NULL on payment rows */
	const char *refund_status;   /* "SUCCESS", "PROCESSING"...; NULL on payment rows */
	int64_t refund_apply_ts;     /* REFUND layout only; 0 = empty */
	int64_t refund_success_ts;   /* REFUND layout only; 0 = empty */
	const char *description;     /* 商品名称 */
	const char *attach;          /* 商户数据包 */
	int64_t fee_e5;              /* 手续费 in 0.00001 yuan, signed */
	const char *rate;            /* "0.60%" */
	int64_t order_fen;           /* 订单金额 */
	int64_t refund_apply_fen;    /* 申请退款金额 */
	const char *rate_note;       /* 费率备注 */
};

/* A fund-flow (BASIC) row. */
struct sim_fund_row {
	int64_t booked_ts;    /* 记账时间 */
	const char *biz_no;   /* 微信支付业务单号 */
	const char *flow_no;  /* 资金流水单号 */
	const char *biz_name; /* 业务名称: 交易, 退款 ... */
	const char *biz_type; /* 业务类型: 交易, 扣除交易手续费, 退款, 退还交易手续费 ... */
	int income;             /* 1: 收入, 0: 支出 */
	int64_t amount_fen;     /* 收支金额(元), unsigned */
	int64_t balance_fen;    /* 账户结余(元) */
	const char *applicant;  /* 资金变更提交申请人 */
	const char *remark;     /* 备注 */
	const char *voucher_no; /* 业务凭证号 */
};

enum sim_bill_layout {
	SIM_BILL_ALL,     /* trade bill, 27 columns */
	SIM_BILL_SUCCESS, /* trade bill, 20 columns */
	SIM_BILL_REFUND,  /* trade bill, 29 columns */
	SIM_BILL_FUNDFLOW /* fund-flow bill, 11 columns */
};

/* Receives the bill's bytes in order; returns 0 or a negative WXR_E* to stop. */
typedef int (*sim_bill_sink)(void *ctx, const void *p, size_t n);

struct sim_bill_writer;

/*
 * Starts a bill; writes the BOM and the header. Returns NULL only on a bad
 * layout (or a NULL sink).
 */
struct sim_bill_writer *sim_bill_begin(enum sim_bill_layout layout, sim_bill_sink sink, void *ctx);
/* Adds a row (the matching struct for the layout); keeps the summary totals. */
int sim_bill_trade_row(struct sim_bill_writer *w, const struct sim_trade_row *row);
int sim_bill_fund_row(struct sim_bill_writer *w, const struct sim_fund_row *row);
/*
 * Additions (not in the first cut of this interface; nothing above changed).
 *
 * Number style of the summary line. DEFAULT is PROTOCOL 6.5: trade bills write
 * the count as `2`, money with 2 decimals, the fee total with 5; the fund-flow
 * bill writes counts as `2.0` and money with 2 decimals. SAMPLE renders every
 * summary number like the official sample bill.ALL.csv (VECTORS V16): the
 * shortest decimal with at least one fraction digit (`45.0`, `0.47`, `0.0`,
 * fee total `0.08`). Detail rows are the same in both styles.
 */
enum sim_bill_style { SIM_BILL_STYLE_DEFAULT, SIM_BILL_STYLE_SAMPLE };
/* Call before sim_bill_end(); the last call wins. */
void sim_bill_set_style(struct sim_bill_writer *w, enum sim_bill_style style);
/*
 * Adds fen to the first money total of the summary line (应结订单总金额, or
 * 收入金额 for the fund flow) without touching the rows: a planted
 * BILL_SUMMARY_MISMATCH. Calls add up.
 */
void sim_bill_skew_summary(struct sim_bill_writer *w, int64_t fen);

/* The running totals of the rows written so far (not skewed). */
struct sim_bill_totals {
	int64_t rows;           /* detail rows */
	int64_t settlement_fen; /* trade: sums of the columns */
	int64_t coupon_fen;
	int64_t refund_fen;
	int64_t recharge_refund_fen;
	int64_t fee_e5;
	int64_t order_fen;
	int64_t refund_apply_fen;
	int64_t income_rows; /* fund flow */
	int64_t income_fen;
	int64_t expense_rows;
	int64_t expense_fen;
	uint64_t bytes; /* bytes given to the sink so far */
};
void sim_bill_get_totals(const struct sim_bill_writer *w, struct sim_bill_totals *out);

/*
 * Unix seconds -> "yyyy-MM-dd HH:mm:ss" in Beijing time (UTC+8 fixed, never
 * the machine's TZ), as the bills write it. dst needs 32 bytes; returns the
 * length written (19 for years 0000-9999) and NUL-terminates.
 */
size_t sim_bill_fmt_time(char *dst, int64_t ts);

/* Writes the summary lines and frees w (also on error). */
int sim_bill_end(struct sim_bill_writer *w);
/* Frees w without writing the summary (NULL-safe). */
void sim_bill_abort(struct sim_bill_writer *w);

/* The generator: `wxrecon-sim generate ...`; returns a process exit code. */
int sim_gen_main(int argc, char **argv);

#endif
