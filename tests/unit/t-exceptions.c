/* t-exceptions.c - the exception queue's assessment: severity from amount and
 * age, and WeChat Pay's deadlines (refund: payment + 365 days; bill: the
 * 3-month download window), with cases planted on each side of each edge. */
#include <stdint.h>
#include <string.h>

#include "base/clock.h"
#include "core/config.h"
#include "core/exceptions.h"
#include "tap.h"

#define TZ (8 * 3600)

static struct exc_policy pol;

static int64_t at(const char *rfc3339)
{
	int64_t ts = 0;

	if (time_parse_rfc3339(rfc3339, &ts, NULL) < 0)
		diag("bad time in the test: %s", rfc3339);
	return ts;
}

/* A small, fresh finding of kind dated date, found an hour before now. */
static struct exc_facts facts(const char *kind, const char *date, int64_t now)
{
	struct exc_facts f;

	memset(&f, 0, sizeof(f));
	f.kind = kind;
	f.date = date;
	f.has_ledger_amount = f.has_bill_amount = true;
	f.ledger_amount = 10000;
	f.bill_amount = 10050; /* 0.50 yuan at stake: low */
	f.found_ts = now - 3600;
	return f;
}

static struct exc_assessment assess(const struct exc_facts *f, int64_t now)
{
	struct exc_assessment a;

	exc_assess(&pol, f, now, &a);
	return a;
}

static void refund_deadline(void)
{
	/* paid 2025-12-20 15:00 +08:00: refundable until 2026-12-20 15:00 (365 days) */
	int64_t paid = at("2025-12-20T15:00:00+08:00");
	int64_t due = at("2026-12-20T15:00:00+08:00");
	struct exc_facts f = facts("AMOUNT_MISMATCH", "2025-12-20", due - 15 * 86400);
	struct exc_assessment a;

	f.has_payment_ts = true;
	f.payment_ts = paid;
	a = assess(&f, due - 15 * 86400);
	ok(a.fix == EXC_FIX_REFUND && a.has_due, "AMOUNT_MISMATCH has a refund deadline");
	is_int(a.due_ts, due, "refund deadline = payment + 365 days");
	is_str(a.due_date, "2026-12-20", "due date: the last day to act, local");
	is_int(a.days_left, 15, "15 days left");
	is_str(exc_severity_name(a.severity), "low",
	       "15 days before: still low (due_warn_days 14)");

	f.found_ts = due - 14 * 86400 - 3600;
	a = assess(&f, due - 14 * 86400);
	is_str(exc_severity_name(a.severity), "critical", "14 days before: critical");
	ok(!a.overdue, "... not overdue");

	f.found_ts = due - 3600;
	a = assess(&f, due - 1);
	ok(a.severity == EXC_CRITICAL && !a.overdue && a.days_left == 0,
	   "one second before: critical, not overdue, 0 days left");
	a = assess(&f, due);
	ok(a.severity == EXC_CRITICAL && a.overdue && a.days_left == 0, "at the deadline: overdue");
	a = assess(&f, due + 86400);
	ok(a.overdue && a.days_left == -1, "a day past: overdue, -1 days left");

	/* a payment kind with no payment time: the start of its date (the bill's
	 * success day), the earliest it can have been paid */
	f = facts("DUPLICATE_PAYMENT", "2025-12-20", due);
	a = assess(&f, at("2026-12-01T00:00:00+08:00"));
	is_int(a.due_ts, at("2026-12-20T00:00:00+08:00"), "no payment time: from its date's start");
	is_str(a.due_date, "2026-12-19", "... so the last day is the 19th");
	ok(a.severity == EXC_LOW, "... 19 days before: low");
	a = assess(&f, at("2026-12-06T00:00:00+08:00"));
	ok(a.severity == EXC_CRITICAL, "... 14 days before: critical");

	/* a refund kind is dated by the refund: without the payment, no due date */
	f = facts("REFUND_AMOUNT_MISMATCH", "2026-11-20", due);
	a = assess(&f, due);
	ok(a.fix == EXC_FIX_REFUND && !a.has_due && !a.overdue && !a.due_date[0],
	   "refund kind, payment unknown: no due date");
	f.has_payment_ts = true;
	f.payment_ts = paid;
	a = assess(&f, due);
	ok(a.has_due && a.due_ts == due && a.overdue, "refund kind: due from the payment");

	f = facts("REFUND_MISSING_IN_LEDGER", "2026-11-20", due);
	f.has_payment_ts = true;
	f.payment_ts = paid;
	a = assess(&f, due + 86400);
	ok(a.fix == EXC_FIX_NONE && !a.has_due && a.severity == EXC_LOW,
	   "REFUND_MISSING_IN_LEDGER: the money went back already, no deadline");
}

static void bill_deadline(void)
{
	/* the bill of 2026-09-10 is downloadable through 2026-12-09 */
	int64_t edge = at("2026-12-10T00:00:00+08:00");
	struct exc_facts f = facts("BILL_MISSING", "2026-09-10", edge);
	struct exc_assessment a;

	f.has_ledger_amount = f.has_bill_amount = false;
	a = assess(&f, edge - 15 * 86400);
	ok(a.fix == EXC_FIX_BILL && a.has_due, "BILL_MISSING has a bill deadline");
	is_int(a.due_ts, edge, "deadline: the start of the date + 3 months");
	is_str(a.due_date, "2026-12-09", "due date: the day before");
	ok(a.severity == EXC_LOW, "15 days before: low");
	a = assess(&f, edge - 14 * 86400);
	ok(a.severity == EXC_CRITICAL && !a.overdue, "14 days before: critical");
	a = assess(&f, edge - 1);
	ok(!a.overdue, "its last second: not overdue");
	a = assess(&f, edge);
	ok(a.overdue, "the next day: overdue (the bill is gone)");

	f = facts("FEE_MISMATCH", "2026-11-30", edge);
	a = assess(&f, edge);
	is_str(a.due_date, "2027-02-27", "11-30 + 3 months clamps to 02-28, due the 27th");
	f = facts("BALANCE_DISCONTINUITY", "2027-11-30", edge);
	a = assess(&f, edge);
	is_str(a.due_date, "2028-02-28", "a leap February: 02-29, due the 28th");
	f = facts("MISSING_IN_BILL", "2026-10-15", edge);
	a = assess(&f, edge);
	is_str(a.due_date, "2027-01-14", "across the year: 2027-01-15, due the 14th");
	f = facts("BILL_SUMMARY_MISMATCH", "2026-09-10", edge);
	a = assess(&f, edge);
	ok(a.fix == EXC_FIX_BILL && a.overdue, "BILL_SUMMARY_MISMATCH: a bill-type fix");
}

static void amount_and_age(void)
{
	int64_t now = at("2026-12-07T10:00:00+08:00");
	struct exc_facts f = facts("REFUND_MISSING_IN_LEDGER", "2026-12-06", now);
	struct exc_assessment a;

	f.has_ledger_amount = false;
	f.bill_amount = 10000;
	a = assess(&f, now);
	ok(a.amount == 10000 && a.severity == EXC_LOW, "100.00 yuan: not above 100.00, low");
	f.bill_amount = 10001;
	ok(assess(&f, now).severity == EXC_MEDIUM, "100.01 yuan: medium");
	f.bill_amount = -100001;
	a = assess(&f, now);
	ok(a.amount == 100001 && a.severity == EXC_HIGH, "-1000.01 yuan: the magnitude, high");
	f.bill_amount = 1000001;
	ok(assess(&f, now).severity == EXC_CRITICAL, "10000.01 yuan: critical");
	f.has_ledger_amount = true;
	f.ledger_amount = 1000001;
	f.bill_amount = 1000000;
	a = assess(&f, now);
	ok(a.amount == 1 && a.severity == EXC_LOW, "both sides: the difference is at stake");

	f.found_ts = now - 3 * 86400 + 1;
	ok(assess(&f, now).severity == EXC_LOW, "a second short of 3 days: low");
	f.found_ts = now - 3 * 86400;
	a = assess(&f, now);
	ok(a.severity == EXC_MEDIUM && a.age_s == 3 * 86400, "3 days old: medium");
	f.found_ts = now - 7 * 86400;
	ok(assess(&f, now).severity == EXC_HIGH, "7 days old: high");
	f.found_ts = now - 30 * 86400;
	ok(assess(&f, now).severity == EXC_CRITICAL, "30 days old: critical");
	f.found_ts = now + 60;
	ok(assess(&f, now).age_s == 0, "found after now (a report as of a past day): age 0");
}

int main(void)
{
	struct config cfg;

	config_defaults(&cfg);
	exc_policy_from_config(&cfg, &pol);
	config_release(&cfg);
	pol.tz_offset_s = TZ;
	ok(pol.above[EXC_HIGH] == 100000 && pol.due_warn_days == 14,
	   "defaults: severity_high_above 1000.00 yuan, due_warn_days 14");
	is_int(exc_severity_parse("high"), EXC_HIGH, "parse high");
	is_int(exc_severity_parse("urgent"), -1, "parse refuses urgent");
	refund_deadline();
	bill_deadline();
	amount_and_age();
	return done_testing();
}
