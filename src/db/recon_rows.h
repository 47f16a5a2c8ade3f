/*
 * recon_rows.h - what reconciliation records, as core/reconcile.c decides it
 * and db/recon_find.c, recon_state.c store and read it: the discrepancy kinds (SPEC 6),
 * the counts of a run, one discrepancy event, a day's totals. Amounts are
 * integer fen, fees 0.00001 yuan.
 */
#ifndef WXR_RECON_ROWS_H
#define WXR_RECON_ROWS_H

#include <stdbool.h>
#include <stdint.h>

enum recon_kind {
	RECON_MISSING_IN_LEDGER,
	RECON_MISSED_PAYMENT,
	RECON_MISSING_IN_BILL,
	RECON_AMOUNT_MISMATCH,
	RECON_REFUND_MISSING_IN_LEDGER,
	RECON_REFUND_MISSING_IN_BILL,
	RECON_REFUND_AMOUNT_MISMATCH,
	RECON_REFUND_STATUS_MISMATCH,
	RECON_DUPLICATE_PAYMENT,
	RECON_BILL_SUMMARY_MISMATCH,
	RECON_BILL_MISSING,
	RECON_BALANCE_DISCONTINUITY,
	RECON_FEE_MISMATCH,
	RECON_KIND_COUNT
};

/* "MISSING_IN_LEDGER" ...; NULL for an out-of-range value. */
const char *recon_kind_name(enum recon_kind kind);
/* The kind named s, or -1. */
int recon_kind_from_name(const char *s);

struct recon_status_count {
	int64_t open;
	int64_t resolved;
	int64_t auto_resolved;
};

struct recon_result {
	/* The findings of the date(s) after the run, by kind and status. */
	struct recon_status_count by_kind[RECON_KIND_COUNT];
	struct recon_status_count total;
	/* What this run did (the discrepancy_events it wrote). */
	int64_t opened;        /* new findings (auto_resolved ones not included) */
	int64_t reopened;      /* came back, or changed after a resolution */
	int64_t changed;       /* still open, amounts or states refreshed */
	int64_t unchanged;     /* found again as it was */
	int64_t resolved;      /* went away */
	int64_t auto_resolved; /* resolved by policy in this run */
	int64_t pending;       /* MISSING_IN_BILL held back until D+1's bill */
	int64_t queries;       /* hook calls */
	int64_t query_failures;
	int64_t actions;       /* action rows written or moved on */
	int64_t days;          /* dates reconciled */
	int64_t bills_missing; /* dates with no trade bill stored */
	int64_t pruned;        /* dates not reconciled: prune dropped their bill rows */
	char pruned_date[11];  /* the first of them */
	/* Trade and fund-flow bill of the (last) date: "ok", "empty", "missing", "pruned". */
	char trade_bill[8];
	char fundflow_bill[8];
	bool needs_attention; /* open findings remain: the command exits 3 */
};

#define RECON_NULL_AMOUNT INT64_MIN /* an amount that is NULL in the database */

/* One discrepancy_events row; every pointer is borrowed for the callback. */
struct recon_change {
	int64_t event_id;
	int64_t discrepancy_id;
	int64_t run_id;    /* 0: a person's resolve */
	const char *event; /* opened, reopened, changed, resolved, auto_resolved */
	const char *date;
	const char *kind;
	const char *key;
	const char *status; /* the discrepancy's status after the event */
	const char *actor;  /* "reconcile" or the person */
	const char *note;   /* resolution text, or NULL */
	const char *at;
	int64_t ledger_amount; /* RECON_NULL_AMOUNT when NULL */
	int64_t bill_amount;
	const char *ledger_state; /* NULL when NULL */
	const char *bill_state;
	int64_t prev_ledger_amount; /* before a 'changed'/'reopened'; else NULL */
	int64_t prev_bill_amount;
	const char *prev_ledger_state;
	const char *prev_bill_state;
};

/* Per-day totals for reports (SPEC 8). */
struct recon_day_totals {
	char bill[8]; /* trade bill: "ok", "empty", "missing" */
	char fundflow_bill[8];
	int64_t payments_count;  /* SUCCESS rows */
	int64_t payments_amount; /* fen: sum of 应结订单金额 of SUCCESS rows */
	int64_t refunds_count;   /* REFUND rows */
	int64_t refunds_amount;  /* fen: sum of 退款金额 of REFUND rows */
	int64_t fees;            /* 0.00001 yuan: sum of 手续费 of every row */
	int64_t net;             /* fen: payments - refunds - recon_fee_to_fen(fees) */
	struct recon_status_count discrepancies; /* of that date */
};

#endif
