/*
 * bill_rows.h - what a WeChat Pay bill is made of, as the parser
 * (core/billparse.c) produces it and the store (db_bills.c) keeps it: the
 * kinds, layouts, row kinds, the typed trade and fund-flow rows, and the
 * summary totals. Amounts are integer fen, fees 0.00001 yuan.
 */
#ifndef WXR_BILL_ROWS_H
#define WXR_BILL_ROWS_H

#include <stdint.h>

enum bill_kind {
	BILL_KIND_NONE = 0,
	BILL_KIND_TRADE,    /* "trade" in bill_files.kind */
	BILL_KIND_FUNDFLOW, /* "fundflow" */
};

enum bill_layout {
	BILL_LAYOUT_NONE = 0,
	BILL_LAYOUT_ALL,
	BILL_LAYOUT_SUCCESS,
	BILL_LAYOUT_REFUND,
	BILL_LAYOUT_LEGACY_ALL,
	BILL_LAYOUT_LEGACY_SUCCESS,
	BILL_LAYOUT_LEGACY_REFUND,
	BILL_LAYOUT_FUNDFLOW,
};

/* 交易状态: what the row is, not the order's live state. */
enum bill_row_kind {
	BILL_ROW_SUCCESS = 1,
	BILL_ROW_REFUND,
	BILL_ROW_REVOKED,
};

/* 收支类型 */
enum bill_direction {
	BILL_DIR_IN = 1, /* 收入 */
	BILL_DIR_OUT,    /* 支出 */
};

/*
 * One trade-bill detail row. Every string is borrowed until the callback
 * returns. A column the layout does not have is NULL (text) or 0 (amount);
 * an empty value is "" (text) or NULL (refund times). Amounts are fen; fee is
 * in 0.00001 yuan. Times are RFC 3339 at +08:00 (bills are in Beijing time).
 */
struct bill_trade {
	const char *trade_time;      /* 交易时间 */
	const char *appid;           /* 公众账号ID */
	const char *mchid;           /* 商户号 */
	const char *sub_mchid;       /* 特约商户号 (legacy 子商户号) */
	const char *device_info;     /* 设备号 */
	const char *transaction_id;  /* 微信订单号, never empty */
	const char *out_trade_no;    /* 商户订单号, never empty */
	const char *openid;          /* 用户标识 */
	const char *trade_type;      /* 交易类型 */
	enum bill_row_kind row_kind; /* 交易状态 */
	const char *bank_type;       /* 付款银行 */
	const char *currency;        /* 货币种类 */
	int64_t settlement_amount;   /* 应结订单金额 (legacy 总金额) */
	int64_t coupon_amount; /* 代金券金额 (legacy 企业红包金额 / 代金券或立减优惠金额) */
	const char *refund_id;     /* 微信退款单号 */
	const char *out_refund_no; /* 商户退款单号 */
	int64_t refund_amount;     /* 退款金额 */
	int64_t recharge_refund_amount; /* 充值券退款金额 (legacy 企业红包退款金额 / ...) */
	const char *refund_type;        /* 退款类型 */
	const char *refund_status;       /* 退款状态 (a snapshot) */
	const char *description;         /* 商品名称 */
	const char *attach;              /* 商户数据包 */
	int64_t fee;                     /* 手续费, 0.00001 yuan */
	const char *rate;                /* 费率, e.g. "0.60%" */
	int64_t order_amount;            /* 订单金额 */
	int64_t refund_apply_amount;     /* 申请退款金额 */
	const char *rate_note;           /* 费率备注 */
	const char *refund_apply_time;   /* 退款申请时间 (REFUND layout) */
	const char *refund_success_time; /* 退款成功时间 (REFUND layout) */
};

/* One fund-flow detail row; same conventions. */
struct bill_fundflow {
	const char *booked_at;         /* 记账时间 */
	const char *biz_no;            /* 微信支付业务单号 */
	const char *flow_no;           /* 资金流水单号 */
	const char *biz_name;          /* 业务名称 */
	const char *biz_type;          /* 业务类型 */
	enum bill_direction direction; /* 收支类型 */
	int64_t amount;                /* 收支金额(元), fen, >= 0 */
	int64_t balance;               /* 账户结余(元), fen */
	const char *applicant;         /* 资金变更提交申请人 */
	const char *remark;            /* 备注 */
	const char *voucher_no;        /* 业务凭证号 */
};

/* Summary fields, one bit each. */
enum bill_total {
	BILL_T_COUNT = 1u << 0,           /* 总交易单数 / 资金流水总笔数 */
	BILL_T_SETTLEMENT = 1u << 1,      /* 应结订单总金额 (legacy 总交易额) */
	BILL_T_REFUND = 1u << 2,          /* 退款总金额 */
	BILL_T_RECHARGE_REFUND = 1u << 3, /* 充值券退款总金额 */
	BILL_T_FEE = 1u << 4,             /* 手续费总金额 */
	BILL_T_ORDER = 1u << 5,           /* 订单总金额 */
	BILL_T_REFUND_APPLY = 1u << 6,    /* 申请退款总金额 */
	BILL_T_INCOME_COUNT = 1u << 7,    /* 收入笔数 */
	BILL_T_INCOME = 1u << 8,          /* 收入金额 */
	BILL_T_EXPENSE_COUNT = 1u << 9,   /* 支出笔数 */
	BILL_T_EXPENSE = 1u << 10,        /* 支出金额 */
};
#define BILL_T_ALL 0x7ffu

struct bill_totals {
	unsigned present; /* BILL_T_* bits that are set */
	int64_t count;
	int64_t settlement;      /* fen */
	int64_t refund;          /* fen */
	int64_t recharge_refund; /* fen */
	int64_t fee;             /* 0.00001 yuan */
	int64_t order;           /* fen */
	int64_t refund_apply;    /* fen */
	int64_t income_count;
	int64_t income; /* fen */
	int64_t expense_count;
	int64_t expense; /* fen */
};

struct billparse_result {
	enum bill_kind kind;
	enum bill_layout layout;
	int64_t lines;              /* physical lines read */
	int64_t rows;               /* accepted detail rows */
	int64_t rejects;            /* rejected detail lines */
	struct bill_totals summary; /* what the summary line says (present = its columns) */
	struct bill_totals sums;    /* the same fields summed over the accepted rows */
	/* 手续费总金额 was written with at most 2 decimals: it is then compared
	 * with the row sum rounded to the fen by money_fee_to_fen(). */
	int fee_total_2dp;
	unsigned mismatch; /* BILL_T_* bits where summary and sums differ; 0 = agree */
};

/* "trade", "fundflow"; "ALL", "SUCCESS", "REFUND", "LEGACY_ALL", ...,
 * "FUNDFLOW"; "SUCCESS", "REFUND", "REVOKED"; "IN", "OUT". Static strings,
 * "" for NONE. */
const char *billparse_kind_name(enum bill_kind kind);
const char *billparse_layout_name(enum bill_layout layout);
const char *billparse_row_kind_name(enum bill_row_kind kind);
const char *billparse_direction_name(enum bill_direction dir);

#endif
