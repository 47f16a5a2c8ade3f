/*
 * sim_gen_rows.h - the generator's run state and its row makers (private to
 * src/sim/sim_gen*.c). sim_gen_rows.c writes payments, refunds, their ledger
 * lines and fund flows; sim_gen_plant.c plants the discrepancies with them;
 * sim_gen.c drives the day and writes the manifest.
 */
#ifndef WXR_SIM_GEN_ROWS_H
#define WXR_SIM_GEN_ROWS_H

#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "sim/sim_bill.h"
#include "sim/sim_gzout.h"

#define RING_SIZE    16384u /* payments remembered for refunds; power of 2 */
#define BJ_OFFSET_S  (8 * 3600)
#define FEE_RATE_PPT 6 /* 0.60% = 6 per thousand */

enum plant_kind {
	P_NONE,
	P_MISSING_IN_LEDGER,
	P_MISSED_PAYMENT,
	P_MISSING_IN_BILL,
	P_AMOUNT_MISMATCH,
	P_REFUND_MISSING_IN_LEDGER,
	P_REFUND_MISSING_IN_BILL,
	P_REFUND_AMOUNT_MISMATCH,
	P_REFUND_STATUS_MISMATCH,
	P_DUPLICATE_PAYMENT,
	P_FEE_MISMATCH,
	P_BALANCE_DISCONTINUITY,
	P_ROW_KINDS, /* above: planted at a row of the day */
	P_BILL_MISSING = P_ROW_KINDS,
	P_BILL_SUMMARY_MISMATCH,
	P_KINDS
};

/* One manifest entry; strings are owned. */
struct planted {
	enum plant_kind kind;
	char date[11];
	char *out_trade_no;
	char *out_refund_no;
	char *refund_id;
	char *transaction_id;
	int has_ledger, has_bill;
	int64_t ledger_amount;
	int64_t bill_amount;
	char *note;
};

struct gen_opts {
	int64_t rows;
	const char *date;
	const char *out;
	uint64_t seed;
	const char *mchid;
	const char *appid;
	int plant;
	int plant_summary;
	int level;
	/* Planted cases of each row kind per million rows; -1: one (the default). */
	int64_t rate_ppm[P_ROW_KINDS];
};

/* A payment still in the ring. */
struct pay {
	uint64_t seq;      /* ids derive from it */
	uint64_t bref_seq; /* business_ref BIZ<ymd><bref_seq> */
	int64_t paid_ts;
	int64_t created_ts;
	int64_t amount;   /* fen, as the bill says */
	int64_t fee;      /* fen, 0.60% half-up */
	int64_t refunded; /* bill side, fen */
	int64_t fee_refunded;
	int64_t ledger_refunded; /* ledger side, fen */
	uint32_t user;
	uint8_t bank, desc, attach;
	uint8_t plant; /* enum plant_kind or P_NONE */
	uint8_t in_bill;
	uint8_t live;
};

struct gen {
	struct gen_opts o;
	struct wxr_err *err;
	uint64_t rng;
	int64_t day_start; /* Unix seconds of D 00:00:00 +08:00 */
	char ymd[9];       /* D as YYYYMMDD */
	char ymd_prev[9];
	char date_prev[11];
	struct sim_gzout trade_gz, fund_gz;
	struct sim_bill_writer *trade, *fund;
	FILE *orders, *refunds;
	char *orders_tmp, *orders_path, *refunds_tmp, *refunds_path;
	struct pay *ring;
	uint64_t ring_head; /* number of payments ever pushed */
	uint64_t ring_tail; /* number evicted */
	uint64_t pay_seq, refund_seq, flow_seq;
	uint64_t users;
	int64_t balance; /* running fund-flow balance, fen */
	int64_t orders_written, refunds_written;
	int64_t pay_rows, refund_rows; /* bill rows written */
	struct planted pending[2];     /* the current case's entries, not yet in the manifest */
	size_t npending;
	FILE *plants_f; /* the manifest's planted entries so far (streamed) */
	char *plants_tmp;
	int64_t nplants; /* entries written to plants_f */
	char line[8192]; /* ledger line buffer */
};

uint64_t gen_rnd_below(struct gen *g, uint64_t n);
int64_t gen_fee_of(int64_t amount_fen);
void gen_out_trade_no_of(const char *ymd, uint64_t seq, char out[40]);
void gen_txn_of(const char *ymd, uint64_t seq, char out[40]);
void gen_bref_of(const char *ymd, uint64_t seq, char out[40]);
void gen_refund_id_of(const char *ymd, uint64_t seq, char out[40]);
void gen_out_refund_no_of(const char *ymd, uint64_t seq, char out[40]);
int64_t gen_row_ts(const struct gen *g, int64_t i);
int gen_ledger_order(struct gen *g, const char *ymd, const struct pay *p, const char *state,
                     int64_t amount, int with_payment);
int gen_ledger_refund(struct gen *g, const char *orn, const char *otn, const char *refund_id,
                      int64_t amount, const char *state, int64_t created_ts, int64_t success_ts);
struct pay *gen_ring_push(struct gen *g);
struct pay *gen_payment(struct gen *g, int64_t ts, enum plant_kind plant, int64_t amount,
                        int64_t fee_skew_fen, int64_t balance_jump);
int gen_refund(struct gen *g, struct pay *p, int64_t ts, int64_t amount, enum plant_kind plant,
               char orn[40], char rid[40]);
int gen_parse_date(const char *s, int64_t *out_day_start);
void gen_date_strings(int64_t ts, char date[11], char ymd[9]);
int gen_ring_evict(struct gen *g);

#endif
