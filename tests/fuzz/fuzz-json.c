/*
 * fuzz-json.c - the JSON decoding of WeChat Pay answers:
 * wxpay_transaction_parse() and wxpay_refund_parse() (include/wxpay.h) on the
 * same arbitrary bytes. Oracles: an error is WXR_EDATA with a message and
 * writes nothing; on success every string of the result is set (never NULL,
 * "" when absent) and the struct releases cleanly; parsing is deterministic.
 * Seeds (fixtures/corpus/json/) are query answers and decrypted notification
 * resources in the shapes of PROTOCOL.md.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "wxpay.h"

static void check_strings(char *const *s, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(s[i] != NULL, "%s string %zu is NULL", what, i);
}

static void transaction(const char *json, size_t len)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_transaction t, t2;
	int r, r2;

	memset(&t, 0x5a, sizeof(t));
	r = wxpay_transaction_parse(json, len, &t, &err);
	if (r < 0) {
		FUZZ_ASSERT(r == WXR_EDATA && err.msg[0], "error %d '%s'", r, err.msg);
		for (size_t i = 0; i < sizeof(t); i++)
			FUZZ_ASSERT(((unsigned char *)&t)[i] == 0x5a,
			            "a failed parse wrote the result");
		return;
	}
	{
		char *const s[] = {
			t.appid,         t.mchid,        t.out_trade_no,     t.transaction_id,
			t.trade_type,    t.trade_state,  t.trade_state_desc, t.bank_type,
			t.attach,        t.success_time, t.payer_openid,     t.currency,
			t.payer_currency
		};

		check_strings(s, sizeof(s) / sizeof(s[0]), "transaction");
	}
	r2 = wxpay_transaction_parse(json, len, &t2, &err);
	FUZZ_ASSERT(r2 == 0 && t2.amount_total == t.amount_total &&
	                    t2.amount_payer_total == t.amount_payer_total &&
	                    strcmp(t2.out_trade_no, t.out_trade_no) == 0,
	            "a second parse differs");
	wxpay_transaction_release(&t2);
	wxpay_transaction_release(&t);
	wxpay_transaction_release(&t); /* released twice: a no-op */
}

static void refund(const char *json, size_t len)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_refund f;
	int r;

	memset(&f, 0x5a, sizeof(f));
	r = wxpay_refund_parse(json, len, &f, &err);
	if (r < 0) {
		FUZZ_ASSERT(r == WXR_EDATA && err.msg[0], "error %d '%s'", r, err.msg);
		for (size_t i = 0; i < sizeof(f); i++)
			FUZZ_ASSERT(((unsigned char *)&f)[i] == 0x5a,
			            "a failed parse wrote the result");
		return;
	}
	{
		char *const s[] = { f.refund_id,
			            f.out_refund_no,
			            f.transaction_id,
			            f.out_trade_no,
			            f.status,
			            f.channel,
			            f.user_received_account,
			            f.funds_account,
			            f.create_time,
			            f.success_time,
			            f.currency };

		check_strings(s, sizeof(s) / sizeof(s[0]), "refund");
	}
	wxpay_refund_release(&f);
	wxpay_refund_release(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy without a NUL: the parsers take (pointer, length) */
	char *json = malloc(size ? size : 1);

	if (!json)
		abort();
	if (size)
		memcpy(json, data, size);
	transaction(json, size);
	refund(json, size);
	free(json);
	return 0;
}
