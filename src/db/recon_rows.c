/*
 * recon_rows.c - the names of the discrepancy kinds (SPEC 6).
 */
#include "db/recon_rows.h"

#include <string.h>

static const char *const kind_names[RECON_KIND_COUNT] = {
	[RECON_MISSING_IN_LEDGER] = "MISSING_IN_LEDGER",
	[RECON_MISSED_PAYMENT] = "MISSED_PAYMENT",
	[RECON_MISSING_IN_BILL] = "MISSING_IN_BILL",
	[RECON_AMOUNT_MISMATCH] = "AMOUNT_MISMATCH",
	[RECON_REFUND_MISSING_IN_LEDGER] = "REFUND_MISSING_IN_LEDGER",
	[RECON_REFUND_MISSING_IN_BILL] = "REFUND_MISSING_IN_BILL",
	[RECON_REFUND_AMOUNT_MISMATCH] = "REFUND_AMOUNT_MISMATCH",
	[RECON_REFUND_STATUS_MISMATCH] = "REFUND_STATUS_MISMATCH",
	[RECON_DUPLICATE_PAYMENT] = "DUPLICATE_PAYMENT",
	[RECON_BILL_SUMMARY_MISMATCH] = "BILL_SUMMARY_MISMATCH",
	[RECON_BILL_MISSING] = "BILL_MISSING",
	[RECON_BALANCE_DISCONTINUITY] = "BALANCE_DISCONTINUITY",
	[RECON_FEE_MISMATCH] = "FEE_MISMATCH",
};

const char *recon_kind_name(enum recon_kind kind)
{
	if ((int)kind < 0 || kind >= RECON_KIND_COUNT)
		return NULL;
	return kind_names[kind];
}

int recon_kind_from_name(const char *s)
{
	for (int i = 0; i < RECON_KIND_COUNT; i++)
		if (s && strcmp(s, kind_names[i]) == 0)
			return i;
	return -1;
}
