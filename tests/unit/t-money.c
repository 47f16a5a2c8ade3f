/* t-money.c - exact decimal parsing, formatting and the fee rounding rule. */
#include <stdint.h>
#include <string.h>

#include "base/money.h"
#include "tap.h"

static void parse_ok(const char *s, int scale, int64_t want)
{
	struct wxr_err err = WXR_ERR_INIT;
	int64_t v = -12345;
	char name[128];
	int r = money_parse(s, scale, &v, &err);

	snprintf(name, sizeof(name), "parse '%s' at scale %d", s, scale);
	if (!ok(r == 0 && v == want, name))
		diag("r=%d v=%" PRId64 " want=%" PRId64 " err=%s", r, v, want, err.msg);
}

static void parse_bad(const char *s, int scale)
{
	struct wxr_err err = WXR_ERR_INIT;
	int64_t v = -12345;
	char name[128];
	int r = money_parse(s, scale, &v, &err);

	snprintf(name, sizeof(name), "refuse '%s' at scale %d", s, scale);
	ok(r == WXR_EDATA && v == -12345 && err.code == WXR_EDATA && strstr(err.msg, "bad amount"),
	   name);
}

static void fmt_is(int64_t v, int scale, const char *want)
{
	char out[MONEY_FMT_LEN];
	char name[128];
	int r = money_format(v, scale, out, sizeof(out));

	snprintf(name, sizeof(name), "format %" PRId64 " at scale %d", v, scale);
	is_str(out, want, name);
	is_int(r, (int64_t)strlen(want), "format returns the length");
}

int main(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	int64_t v;
	char small[4];

	/* fen */
	parse_ok("0.01", 2, 1);
	parse_ok("0.00", 2, 0);
	parse_ok("45", 2, 4500);
	parse_ok("45.0", 2, 4500);
	parse_ok("45.5", 2, 4550);
	parse_ok("25.00", 2, 2500);
	parse_ok("0.15000", 2, 15);
	parse_ok("-0.06", 2, -6);
	parse_ok("-0", 2, 0);
	parse_ok("-0.00", 2, 0);
	parse_ok("007.5", 2, 750);
	parse_ok("92233720368547758.07", 2, INT64_MAX);
	parse_ok("-92233720368547758.07", 2, -INT64_MAX);
	parse_ok("9223372036854775807", 0, INT64_MAX);
	parse_ok("1.0000000000000000000000000", 0, 1);
	parse_bad("0.0000000000000000000000001", 0);
	/* 0.00001 yuan */
	parse_ok("-0.06000", 5, -6000);
	parse_ok("0.01000", 5, 1000);
	parse_ok("0.08", 5, 8000);
	parse_ok("0.0", 5, 0);
	parse_ok("1", 5, 100000);
	parse_ok("0.00001", 5, 1);
	parse_ok("0.000010", 5, 1);

	parse_bad("", 2);
	parse_bad("-", 2);
	parse_bad(".5", 2);
	parse_bad("5.", 2);
	parse_bad("-.5", 2);
	parse_bad("+1", 2);
	parse_bad(" 1", 2);
	parse_bad("1 ", 2);
	parse_bad("1 000", 2);
	parse_bad("1,234", 2);
	parse_bad("1,234.00", 2);
	parse_bad("0.155", 2);
	parse_bad("0.001", 2);
	parse_bad("0.000001", 5);
	parse_bad("1e5", 2);
	parse_bad("--1", 2);
	parse_bad("1.2.3", 2);
	parse_bad("0x10", 2);
	parse_bad("`1.00", 2);
	parse_bad("1.00\r", 2);
	parse_bad("Infinity", 2);
	parse_bad("92233720368547758.08", 2);
	parse_bad("-92233720368547758.08", 2);
	parse_bad("9223372036854775808", 0);
	parse_bad("99999999999999999999999999", 2);
	parse_bad("100000000000000", 5);

	ok(money_parse("1", 19, &v, &err) < 0, "scale above 18 refused");
	ok(money_parse("1", -1, &v, &err) < 0, "negative scale refused");

	/* money_parse_n reads exactly n bytes */
	ok(money_parse_n("12.34xyz", 5, 2, &v, &err) == 0 && v == 1234, "parse_n stops at n");
	ok(money_parse_n("12.34xyz", 6, 2, &v, &err) < 0, "parse_n sees the byte at n-1");

	/* counts */
	ok(money_parse_count("45.0", &v, &err) == 0 && v == 45, "count '45.0'");
	ok(money_parse_count("45", &v, &err) == 0 && v == 45, "count '45'");
	ok(money_parse_count("20.00", &v, &err) == 0 && v == 20, "count '20.00'");
	ok(money_parse_count("0", &v, &err) == 0 && v == 0, "count '0'");
	ok(money_parse_count("-0", &v, &err) < 0, "count '-0' refused");
	ok(money_parse_count("45.5", &v, &err) < 0, "count '45.5' refused");
	ok(money_parse_count("-1", &v, &err) < 0, "count '-1' refused");
	ok(money_parse_count("", &v, &err) < 0, "count '' refused");
	ok(money_parse_count("4 5", &v, &err) < 0, "count '4 5' refused");

	/* format */
	fmt_is(-6, 2, "-0.06");
	fmt_is(15000, 5, "0.15000");
	fmt_is(-6000, 5, "-0.06000");
	fmt_is(0, 2, "0.00");
	fmt_is(4500, 2, "45.00");
	fmt_is(45, 0, "45");
	fmt_is(-45, 0, "-45");
	fmt_is(1, 5, "0.00001");
	fmt_is(INT64_MAX, 2, "92233720368547758.07");
	fmt_is(INT64_MIN, 2, "-92233720368547758.08");
	fmt_is(INT64_MIN, 18, "-9.223372036854775808");
	fmt_is(1, 18, "0.000000000000000001");
	is_int(money_format(12345, 2, small, sizeof(small)), WXR_ETOOBIG,
	       "format into a small buffer");
	is_str(small, "", "format leaves \"\" on overflow");

	/* round trip */
	{
		static const int64_t vals[] = {
			0, 1, -1, 99, -100, 123456789, -987654321, INT64_MAX
		};
		size_t i;
		int good = 1;

		for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
			char buf[MONEY_FMT_LEN];
			int64_t back = 0;

			money_format(vals[i], 2, buf, sizeof(buf));
			if (money_parse(buf, 2, &back, &err) < 0 || back != vals[i])
				good = 0;
			money_format(vals[i], 5, buf, sizeof(buf));
			if (money_parse(buf, 5, &back, &err) < 0 || back != vals[i])
				good = 0;
		}
		ok(good, "format then parse gives the same value");
	}

	/* the fee rounding rule: half away from zero */
	is_int(money_fee_to_fen(0), 0, "fee 0");
	is_int(money_fee_to_fen(15000), 15, "fee 0.15000 -> 15 fen");
	is_int(money_fee_to_fen(-6000), -6, "fee -0.06000 -> -6 fen");
	is_int(money_fee_to_fen(499), 0, "fee 0.00499 -> 0");
	is_int(money_fee_to_fen(500), 1, "fee 0.00500 -> 1 (half up)");
	is_int(money_fee_to_fen(501), 1, "fee 0.00501 -> 1");
	is_int(money_fee_to_fen(1499), 1, "fee 0.01499 -> 1");
	is_int(money_fee_to_fen(1500), 2, "fee 0.01500 -> 2");
	is_int(money_fee_to_fen(-499), 0, "fee -0.00499 -> 0");
	is_int(money_fee_to_fen(-500), -1, "fee -0.00500 -> -1 (away from zero)");
	is_int(money_fee_to_fen(-1500), -2, "fee -0.01500 -> -2");
	is_int(money_fee_to_fen(INT64_MAX), INT64_MAX / 1000 + 1,
	       "fee INT64_MAX does not overflow");
	is_int(money_fee_to_fen(INT64_MIN), INT64_MIN / 1000 - 1,
	       "fee INT64_MIN does not overflow");

	return done_testing();
}
