/*
 * sim_gen_plant.c - the discrepancies `wxrecon-sim generate` plants into its
 * day (SPEC 6), each one written to the manifest with the ids that find it.
 */
#include "sim/sim_gen_plant.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

/* ---- planting ---- */

struct planted *gen_plant_add(struct gen *g, enum plant_kind kind, const char *date)
{
	struct planted *pl;

	if (g->npending >= sizeof(g->pending) / sizeof(g->pending[0]))
		BUG("too many entries for one planted case");
	pl = &g->pending[g->npending++];
	memset(pl, 0, sizeof(*pl));
	pl->kind = kind;
	snprintf(pl->date, sizeof(pl->date), "%s", date);
	return pl;
}

static void plant_ids(struct gen *g, struct planted *pl, const struct pay *p)
{
	char b[40];

	gen_out_trade_no_of(g->ymd, p->seq, b);
	pl->out_trade_no = xstrdup(b);
	gen_txn_of(g->ymd, p->seq, b);
	pl->transaction_id = xstrdup(b);
}

void gen_plant_amounts(struct planted *pl, int has_ledger, int64_t ledger, int has_bill,
                       int64_t bill)
{
	pl->has_ledger = has_ledger;
	pl->ledger_amount = ledger;
	pl->has_bill = has_bill;
	pl->bill_amount = bill;
}

/* Runs the planted case `kind` at bill row i; returns the bill rows it used, or < 0. */
int64_t gen_plant_at(struct gen *g, enum plant_kind kind, int64_t i)
{
	int64_t ts = gen_row_ts(g, i);
	int64_t ts2 = gen_row_ts(g, i + 1);
	const char *date = g->o.date;
	struct planted *pl;
	struct pay *p, *q;
	char orn[40], rid[40];
	int64_t amt;
	int r;

	switch (kind) {
	case P_MISSING_IN_LEDGER:
		p = gen_payment(g, ts, kind, 0, 0, 0);
		if (!p)
			return -1;
		pl = gen_plant_add(g, kind, date);
		plant_ids(g, pl, p);
		gen_plant_amounts(pl, 0, 0, 1, p->amount);
		pl->note = xstrdup("paid in the bill and the fund flow; no ledger_orders line");
		return 1;
	case P_MISSED_PAYMENT:
		p = gen_payment(g, ts, kind, 0, 0, 0);
		if (!p)
			return -1;
		pl = gen_plant_add(g, kind, date);
		plant_ids(g, pl, p);
		gen_plant_amounts(pl, 1, p->amount, 1, p->amount);
		pl->note = xstrdup("ledger NOTPAY (no transaction_id, no paid_at); the bill says "
		                   "paid; the query should answer SUCCESS");
		return 1;
	case P_MISSING_IN_BILL:
		p = gen_ring_push(g);
		if (!p)
			return -1;
		p->seq = ++g->pay_seq;
		p->bref_seq = p->seq;
		p->paid_ts = ts;
		p->created_ts = ts - 120;
		p->amount = 8800;
		p->fee = gen_fee_of(p->amount);
		p->user = 1;
		p->desc = 0;
		p->attach = 1;
		p->plant = (uint8_t)kind;
		p->in_bill = 0;
		pl = gen_plant_add(g, kind, date);
		plant_ids(g, pl, p);
		gen_plant_amounts(pl, 1, p->amount, 0, 0);
		pl->note = xstrdup("ledger PAID on this date with a transaction_id WeChat Pay does "
		                   "not know; in no bill and no fund flow, and not paid on the "
		                   "next day either (the query should answer NOTPAY or CLOSED)");
		return 0;
	case P_AMOUNT_MISMATCH:
		p = gen_payment(g, ts, kind, 0, 0, 0);
		if (!p)
			return -1;
		pl = gen_plant_add(g, kind, date);
		plant_ids(g, pl, p);
		gen_plant_amounts(pl, 1, p->amount + 100, 1, p->amount);
		pl->note = xstrdup("ledger amount_total is the bill's 应结订单金额 + 100 fen");
		return 1;
	case P_REFUND_MISSING_IN_LEDGER:
	case P_REFUND_AMOUNT_MISMATCH:
	case P_REFUND_STATUS_MISMATCH:
		p = gen_payment(g, ts, kind, 20000 + (int64_t)gen_rnd_below(g, 30000), 0, 0);
		if (!p)
			return -1;
		amt = p->amount / 2;
		r = gen_refund(g, p, ts2, amt, kind, orn, rid);
		if (r < 0)
			return r;
		pl = gen_plant_add(g, kind, date);
		plant_ids(g, pl, p);
		pl->out_refund_no = xstrdup(orn);
		pl->refund_id = xstrdup(rid);
		if (kind == P_REFUND_MISSING_IN_LEDGER) {
			gen_plant_amounts(pl, 0, 0, 1, amt);
			pl->note = xstrdup("refund row in the bill and the fund flow; no "
			                   "ledger_refunds line (ledger order stays PAID)");
		} else if (kind == P_REFUND_AMOUNT_MISMATCH) {
			gen_plant_amounts(pl, 1, p->ledger_refunded, 1, amt);
			pl->note = xstrdup("ledger amount_refund is the bill's 退款金额 + 100 fen");
		} else {
			gen_plant_amounts(pl, 1, amt, 1, amt);
			pl->note = xstrdup(
			        "bill 退款状态 PROCESSING (a snapshot, 退款成功时间 empty), "
			        "ledger SUCCESS; the refund query decides: it should "
			        "answer SUCCESS");
		}
		return 2;
	case P_REFUND_MISSING_IN_BILL:
		p = gen_payment(g, ts, kind, 20000 + (int64_t)gen_rnd_below(g, 30000), 0, 0);
		if (!p)
			return -1;
		amt = p->amount / 4;
		g->refund_seq++;
		gen_out_refund_no_of(g->ymd, g->refund_seq, orn);
		gen_refund_id_of(g->ymd, g->refund_seq, rid);
		{
			char otn[40];
			/* 30 s after the payment, but on the day: a refund belongs to the
			 * date of its created_at (SPEC 4), and a case in the day's last
			 * seconds must not slip to the next one. */
			int64_t rts =
			        ts + 30 < g->day_start + 86398 ? ts + 30 : g->day_start + 86398;

			gen_out_trade_no_of(g->ymd, p->seq, otn);
			r = gen_ledger_refund(g, orn, otn, rid, amt, "SUCCESS", rts, rts + 1);
		}
		if (r < 0)
			return r;
		p->ledger_refunded += amt;
		pl = gen_plant_add(g, kind, date);
		plant_ids(g, pl, p);
		pl->out_refund_no = xstrdup(orn);
		pl->refund_id = xstrdup(rid);
		gen_plant_amounts(pl, 1, amt, 0, 0);
		pl->note = xstrdup("ledger refund SUCCESS created on this date; the payment is in "
		                   "the bill, the refund is in neither bill");
		return 1;
	case P_DUPLICATE_PAYMENT:
		p = gen_payment(g, ts, kind, 0, 0, 0);
		if (!p)
			return -1;
		q = gen_payment(g, ts2, kind, p->amount, 0, 0);
		if (!q)
			return -1;
		q->bref_seq = p->bref_seq;
		pl = gen_plant_add(g, kind, date);
		plant_ids(g, pl, q);
		gen_plant_amounts(pl, 1, q->amount, 1, q->amount);
		{
			char bref[40], first[40];

			gen_bref_of(g->ymd, p->bref_seq, bref);
			gen_out_trade_no_of(g->ymd, p->seq, first);
			pl->note = xasprintf("second paid order for business_ref %s (the first is "
			                     "%s); both in the bill and the ledger",
			                     bref, first);
		}
		return 2;
	case P_FEE_MISMATCH:
		p = gen_payment(g, ts, kind, 10000 + (int64_t)gen_rnd_below(g, 90000), 1, 0);
		if (!p)
			return -1;
		pl = gen_plant_add(g, kind, date);
		plant_ids(g, pl, p);
		gen_plant_amounts(pl, 1, p->fee, 1, p->fee + 1);
		pl->note = xstrdup("amounts are fees in fen: ledger_amount = the fund flow's "
		                   "扣除交易手续费 line, bill_amount = the trade bill's 手续费 "
		                   "(one fen more)");
		return 1;
	case P_BALANCE_DISCONTINUITY: {
		int64_t before = g->balance;

		p = gen_payment(g, ts, kind, 0, 0, 10000);
		if (!p)
			return -1;
		pl = gen_plant_add(g, kind, date);
		plant_ids(g, pl, p);
		gen_plant_amounts(pl, 1, before + p->amount, 1, before + p->amount + 10000);
		pl->note =
		        xasprintf("fund flow: the 交易 income line of this payment (资金流水单号 "
		                  "%s%s%010" PRIu64 ") shows a balance 100.00 yuan above the "
		                  "running sum (ledger_amount = expected, bill_amount = "
		                  "written); later lines continue from it, so there is exactly "
		                  "one break",
		                  g->o.mchid, g->ymd, g->flow_seq - (p->fee > 0 ? 1 : 0));
		return 1;
	}
	default:
		BUG("no row plant for kind %d", (int)kind);
	}
}

/* BILL_MISSING: two orders paid on D-1 in the ledger, and no D-1 bill in DIR. */
int gen_plant_prev_day(struct gen *g)
{
	struct planted *pl;
	struct pay p;
	char b[40];
	int64_t total = 0;
	int r;

	for (int k = 1; k <= 2; k++) {
		memset(&p, 0, sizeof(p));
		p.seq = (uint64_t)k;
		p.bref_seq = (uint64_t)k;
		p.paid_ts = g->day_start - 86400 + 36000 + 3600 * k;
		p.created_ts = p.paid_ts - 60;
		p.amount = 1200 * k;
		p.user = (uint32_t)k;
		p.attach = 1;
		r = gen_ledger_order(g, g->ymd_prev, &p, "PAID", p.amount, 1);
		if (r < 0)
			return r;
		total += p.amount;
	}
	pl = gen_plant_add(g, P_BILL_MISSING, g->date_prev);
	gen_out_trade_no_of(g->ymd_prev, 1, b);
	pl->out_trade_no = xstrdup(b);
	gen_txn_of(g->ymd_prev, 1, b);
	pl->transaction_id = xstrdup(b);
	gen_plant_amounts(pl, 1, total, 0, 0);
	pl->note = xasprintf("2 ledger orders paid on %s (ORD%s000000001, ORD%s000000002; "
	                     "ledger_amount is their sum); DIR has no bill for that date, so the "
	                     "trade-bill API should answer NO_STATEMENT_EXIST or not ready",
	                     g->date_prev, g->ymd_prev, g->ymd_prev);
	return 0;
}
