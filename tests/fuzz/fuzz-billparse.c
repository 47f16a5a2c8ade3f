/*
 * fuzz-billparse.c - the bill push parser (billparse.h) on arbitrary bytes.
 *
 * The input is a bill as downloaded (fixtures/corpus/billparse/ holds the
 * bills of fixtures/bills/). It is parsed twice: in one billparse_feed() call,
 * and in chunks whose sizes come from a PRNG seeded with a hash of the input
 * (from single bytes to a few kB). Oracles:
 *   - chunking changes nothing: the same callbacks with the same values, the
 *     same result or the same error message;
 *   - every row callback gets what billparse.h promises (RFC 3339 times,
 *     non-empty ids, known kinds, fund-flow amounts >= 0), reject lines are
 *     capped at the line cap, line numbers only grow;
 *   - the result's sums are the sums of the rows the callbacks accepted, and
 *     mismatch is set exactly where the summary and the sums disagree.
 * The callback refuses some rows (chosen by a hash of the out_trade_no) so the
 * refusal path runs too; the line cap is sometimes small (from the hash).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/money.h"
#include "core/billparse.h"
#include "fuzzutil.h"

struct run {
	uint64_t digest;   /* of every callback and its values */
	int64_t last_line; /* line numbers only grow */
	int64_t refused;   /* line of the row the callback just refused: its reject follows */
	size_t max_line;
	int headers;
	struct bill_totals sums; /* of the accepted rows */
};

static void mix(struct run *r, const void *p, size_t n)
{
	r->digest = fuzz_hash(p, n, r->digest);
}

static void mix_s(struct run *r, const char *s)
{
	if (!s) {
		mix(r, "\xff", 1);
		return;
	}
	mix(r, s, strlen(s) + 1);
}

static void mix_i(struct run *r, int64_t v)
{
	mix(r, &v, sizeof(v));
}

static void check_time(const char *what, const char *t, bool required)
{
	if (!t) {
		FUZZ_ASSERT(!required, "%s missing", what);
		return;
	}
	FUZZ_ASSERT(strlen(t) == 25 && t[10] == 'T' && strcmp(t + 19, "+08:00") == 0,
	            "%s '%s' is not RFC 3339 at +08:00", what, t);
}

static void line_no(struct run *r, int64_t line)
{
	if (r->refused) {
		FUZZ_ASSERT(line == r->refused, "refused row of line %lld not rejected next",
		            (long long)r->refused);
		r->refused = 0;
		mix_i(r, line);
		return;
	}
	FUZZ_ASSERT(line > r->last_line, "line %lld after line %lld", (long long)line,
	            (long long)r->last_line);
	r->last_line = line;
	mix_i(r, line);
}

static int on_header(void *ctx, enum bill_kind kind, enum bill_layout layout, struct wxr_err *err)
{
	struct run *r = ctx;

	(void)err;
	r->headers++;
	FUZZ_ASSERT(r->headers == 1, "header callback called %d times", r->headers);
	FUZZ_ASSERT(billparse_kind_name(kind)[0] && billparse_layout_name(layout)[0],
	            "unnamed kind %d or layout %d", (int)kind, (int)layout);
	mix_i(r, kind);
	mix_i(r, layout);
	return 0;
}

/* Refuses roughly one row in five, by a hash of its id. */
static bool refuse(const char *id)
{
	return fuzz_hash(id, strlen(id), FUZZ_HASH_INIT) % 5 == 0;
}

static int on_trade(void *ctx, int64_t line, const struct bill_trade *t, char *reason,
                    size_t reason_size, struct wxr_err *err)
{
	struct run *r = ctx;

	(void)err;
	line_no(r, line);
	check_time("trade_time", t->trade_time, true);
	check_time("refund_apply_time", t->refund_apply_time, false);
	check_time("refund_success_time", t->refund_success_time, false);
	FUZZ_ASSERT(t->transaction_id && t->transaction_id[0] && t->out_trade_no &&
	                    t->out_trade_no[0],
	            "empty ids at line %lld", (long long)line);
	FUZZ_ASSERT(t->appid && t->mchid && t->trade_type && t->currency && t->description &&
	                    t->attach && t->rate,
	            "a required text column is NULL at line %lld", (long long)line);
	FUZZ_ASSERT(billparse_row_kind_name(t->row_kind)[0], "row kind %d", (int)t->row_kind);
	mix_s(r, t->trade_time);
	mix_s(r, t->appid);
	mix_s(r, t->mchid);
	mix_s(r, t->sub_mchid);
	mix_s(r, t->device_info);
	mix_s(r, t->transaction_id);
	mix_s(r, t->out_trade_no);
	mix_s(r, t->openid);
	mix_s(r, t->trade_type);
	mix_i(r, t->row_kind);
	mix_s(r, t->bank_type);
	mix_s(r, t->currency);
	mix_i(r, t->settlement_amount);
	mix_i(r, t->coupon_amount);
	mix_s(r, t->refund_id);
	mix_s(r, t->out_refund_no);
	mix_i(r, t->refund_amount);
	mix_i(r, t->recharge_refund_amount);
	mix_s(r, t->refund_type);
	mix_s(r, t->refund_status);
	mix_s(r, t->description);
	mix_s(r, t->attach);
	mix_i(r, t->fee);
	mix_s(r, t->rate);
	mix_i(r, t->order_amount);
	mix_i(r, t->refund_apply_amount);
	mix_s(r, t->rate_note);
	mix_s(r, t->refund_apply_time);
	mix_s(r, t->refund_success_time);
	if (refuse(t->out_trade_no)) {
		r->refused = line;
		snprintf(reason, reason_size, "refused by the fuzzer");
		return BILLPARSE_REJECT;
	}
	r->sums.count++;
	r->sums.settlement += t->settlement_amount;
	r->sums.refund += t->refund_amount;
	r->sums.recharge_refund += t->recharge_refund_amount;
	r->sums.fee += t->fee;
	r->sums.order += t->order_amount;
	r->sums.refund_apply += t->refund_apply_amount;
	return 0;
}

static int on_fundflow(void *ctx, int64_t line, const struct bill_fundflow *f, char *reason,
                       size_t reason_size, struct wxr_err *err)
{
	struct run *r = ctx;

	(void)err;
	(void)reason;
	(void)reason_size;
	line_no(r, line);
	check_time("booked_at", f->booked_at, true);
	FUZZ_ASSERT(f->amount >= 0, "negative fund-flow amount %lld", (long long)f->amount);
	FUZZ_ASSERT(billparse_direction_name(f->direction)[0], "direction %d", (int)f->direction);
	FUZZ_ASSERT(f->biz_no && f->flow_no && f->biz_name && f->biz_type,
	            "a required text column is NULL at line %lld", (long long)line);
	mix_s(r, f->booked_at);
	mix_s(r, f->biz_no);
	mix_s(r, f->flow_no);
	mix_s(r, f->biz_name);
	mix_s(r, f->biz_type);
	mix_i(r, f->direction);
	mix_i(r, f->amount);
	mix_i(r, f->balance);
	mix_s(r, f->applicant);
	mix_s(r, f->remark);
	mix_s(r, f->voucher_no);
	if (refuse(f->flow_no)) {
		r->refused = line;
		return BILLPARSE_REJECT; /* no reason: the parser writes "refused" */
	}
	r->sums.count++;
	if (f->direction == BILL_DIR_IN) {
		r->sums.income_count++;
		r->sums.income += f->amount;
	} else {
		r->sums.expense_count++;
		r->sums.expense += f->amount;
	}
	return 0;
}

static int on_reject(void *ctx, int64_t line, const char *raw, size_t raw_len, const char *reason,
                     struct wxr_err *err)
{
	struct run *r = ctx;

	(void)err;
	line_no(r, line);
	FUZZ_ASSERT(raw_len <= r->max_line, "reject of %zu bytes, cap %zu", raw_len, r->max_line);
	FUZZ_ASSERT(reason && reason[0] && strlen(reason) < BILLPARSE_REASON_MAX, "bad reason");
	mix(r, raw, raw_len);
	mix_s(r, reason);
	return 0;
}

struct outcome {
	int rc; /* of the first failing call, or 0 */
	char msg[sizeof(((struct wxr_err *)0)->msg)];
	struct billparse_result res;
	struct run run;
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* chunk_bits 0: one feed; else chunks of 1 .. 2^chunk_bits bytes. */
static void parse(const uint8_t *data, size_t size, size_t max_line, unsigned chunk_bits,
                  uint64_t seed, struct outcome *o)
{
	struct billparse_cb cb = { NULL, on_header, on_trade, on_fundflow, on_reject };
	struct wxr_err err = WXR_ERR_INIT;
	struct billparse *p = NULL;
	size_t off = 0;
	int r;

	memset(o, 0, sizeof(*o));
	o->run.digest = FUZZ_HASH_INIT;
	o->run.max_line = max_line ? max_line : BILLPARSE_MAX_LINE;
	cb.ctx = &o->run;
	r = billparse_new(&cb, max_line, &p, &err);
	FUZZ_ASSERT(r == 0, "billparse_new: %s", err.msg);
	while (off < size) {
		size_t n = size - off;

		if (chunk_bits) {
			size_t c = 1 + (size_t)(xorshift(&seed) % ((uint64_t)1 << chunk_bits));

			if (c < n)
				n = c;
		}
		r = billparse_feed(p, data + off, n, &err);
		if (r < 0)
			break;
		off += n;
	}
	if (r == 0) {
		r = billparse_finish(p, &o->res, &err);
	} else {
		struct wxr_err e2 = WXR_ERR_INIT;

		FUZZ_ASSERT(billparse_feed(p, "x", 1, &e2) < 0, "feed after an error succeeded");
		FUZZ_ASSERT(billparse_finish(p, &o->res, &e2) < 0,
		            "finish after an error succeeded");
		memset(&o->res, 0, sizeof(o->res));
	}
	o->rc = r;
	if (r < 0) {
		FUZZ_ASSERT(err.msg[0], "error %d without a message", r);
		snprintf(o->msg, sizeof(o->msg), "%s", err.msg);
	}
	billparse_free(p);
}

static int64_t total(const struct bill_totals *t, unsigned bit)
{
	switch (bit) {
	case BILL_T_COUNT:
		return t->count;
	case BILL_T_SETTLEMENT:
		return t->settlement;
	case BILL_T_REFUND:
		return t->refund;
	case BILL_T_RECHARGE_REFUND:
		return t->recharge_refund;
	case BILL_T_FEE:
		return t->fee;
	case BILL_T_ORDER:
		return t->order;
	case BILL_T_REFUND_APPLY:
		return t->refund_apply;
	case BILL_T_INCOME_COUNT:
		return t->income_count;
	case BILL_T_INCOME:
		return t->income;
	case BILL_T_EXPENSE_COUNT:
		return t->expense_count;
	case BILL_T_EXPENSE:
		return t->expense;
	}
	abort();
}

static void check_result(const struct outcome *o)
{
	const struct billparse_result *res = &o->res;
	char text[512];

	if (o->rc < 0)
		return;
	FUZZ_ASSERT(o->run.headers == 1, "a bill without a header callback");
	FUZZ_ASSERT(res->rows >= 0 && res->rejects >= 0 && res->rows + res->rejects <= res->lines,
	            "rows %lld + rejects %lld > lines %lld", (long long)res->rows,
	            (long long)res->rejects, (long long)res->lines);
	FUZZ_ASSERT(res->rows == o->run.sums.count, "rows %lld, callbacks accepted %lld",
	            (long long)res->rows, (long long)o->run.sums.count);
	for (unsigned bit = 1; bit <= BILL_T_EXPENSE; bit <<= 1) {
		bool differ;

		if (!(res->sums.present & bit))
			continue;
		FUZZ_ASSERT(total(&res->sums, bit) == total(&o->run.sums, bit),
		            "sum of bit %#x: parser %lld, rows %lld", bit,
		            (long long)total(&res->sums, bit), (long long)total(&o->run.sums, bit));
		if (!(res->summary.present & bit)) {
			FUZZ_ASSERT(!(res->mismatch & bit), "mismatch on absent summary bit %#x",
			            bit);
			continue;
		}
		if (bit == BILL_T_FEE && res->fee_total_2dp)
			differ = money_fee_to_fen(total(&res->sums, bit)) !=
			         total(&res->summary, bit) / 1000;
		else
			differ = total(&res->sums, bit) != total(&res->summary, bit);
		FUZZ_ASSERT(differ == !!(res->mismatch & bit), "mismatch bit %#x wrong", bit);
	}
	billparse_mismatch_text(res, text, sizeof(text));
	FUZZ_ASSERT(!res->mismatch == !text[0], "mismatch text '%s' for mismatch %#x", text,
	            res->mismatch);
}

static bool same_totals(const struct bill_totals *x, const struct bill_totals *y)
{
	if (x->present != y->present)
		return false;
	for (unsigned bit = 1; bit <= BILL_T_EXPENSE; bit <<= 1)
		if (total(x, bit) != total(y, bit))
			return false;
	return true;
}

static bool same_result(const struct billparse_result *x, const struct billparse_result *y)
{
	return x->kind == y->kind && x->layout == y->layout && x->lines == y->lines &&
	       x->rows == y->rows && x->rejects == y->rejects &&
	       same_totals(&x->summary, &y->summary) && same_totals(&x->sums, &y->sums) &&
	       x->fee_total_2dp == y->fee_total_2dp && x->mismatch == y->mismatch;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outcome a, b;
	uint64_t h = fuzz_hash(data, size, FUZZ_HASH_INIT);
	size_t max_line = (h & 3) == 0 ? 16 + (size_t)(h >> 8) % 512 : 0;
	unsigned bits = 1 + (unsigned)((h >> 20) % 12);

	parse(data, size, max_line, 0, 0, &a);
	parse(data, size, max_line, bits, h | 1, &b);
	FUZZ_ASSERT(a.rc == b.rc && strcmp(a.msg, b.msg) == 0,
	            "chunking changed the outcome: %d '%s' vs %d '%s'", a.rc, a.msg, b.rc, b.msg);
	FUZZ_ASSERT(a.run.digest == b.run.digest, "chunking changed the callbacks");
	FUZZ_ASSERT(same_result(&a.res, &b.res), "chunking changed the result");
	check_result(&a);
	return 0;
}
