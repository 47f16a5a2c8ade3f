/*
 * fuzz-money.c - money_parse / money_parse_n / money_parse_count and
 * money_format against an independent model of the grammar in money.h:
 *
 *   - the parser accepts exactly what the model accepts, at scales 0, 2, 5
 *     and 18 (plain "[-]digits[.digits]", extra decimals only zeros, the
 *     magnitude fits in int64);
 *   - when it accepts, money_format gives the canonical text (no leading
 *     zeros, exactly scale decimals, "-0" as "0") and parsing that gives the
 *     same value back;
 *   - money_parse on the NUL-terminated text agrees with money_parse_n;
 *   - money_fee_to_fen rounds half away from zero.
 *
 * The input is the text itself (fixtures/corpus/money/ holds amounts as they
 * appear in bills and ledgers).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/money.h"
#include "fuzzutil.h"

/* Writes the canonical form of s at scale into out; false when the model refuses s. */
static bool model(const char *s, size_t n, int scale, char *out, size_t size)
{
	static const char max[] = "9223372036854775807";
	char digits[64];
	size_t i = 0, int_start, int_end, frac_start = 0, frac_end = 0, nd = 0, o = 0;
	bool neg = false, zero = true;

	if (n > 0 && s[0] == '-') {
		neg = true;
		i = 1;
	}
	int_start = i;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	int_end = i;
	if (int_end == int_start)
		return false;
	if (i < n && s[i] == '.') {
		frac_start = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		frac_end = i;
		if (frac_end == frac_start)
			return false;
	}
	if (i != n)
		return false;
	/* decimals past the scale must be zeros */
	for (size_t k = frac_start + (size_t)scale; k < frac_end; k++)
		if (s[k] != '0')
			return false;
	/* the digits of the value in units: integer part without leading zeros + scale decimals */
	while (int_start < int_end - 1 && s[int_start] == '0')
		int_start++;
	for (size_t k = int_start; k < int_end; k++) {
		if (nd == sizeof(digits) - 1)
			return false; /* far too large */
		digits[nd++] = s[k];
	}
	for (int k = 0; k < scale; k++) {
		size_t pos = frac_start + (size_t)k;

		if (nd == sizeof(digits) - 1)
			return false;
		digits[nd++] = frac_start && pos < frac_end ? s[pos] : '0';
	}
	digits[nd] = '\0';
	/* magnitude <= INT64_MAX, compared as decimal strings */
	{
		const char *d = digits;
		size_t dn = nd;

		while (dn > 1 && *d == '0') {
			d++;
			dn--;
		}
		if (dn > strlen(max) || (dn == strlen(max) && strcmp(d, max) > 0))
			return false;
	}
	for (size_t k = 0; k < nd; k++)
		if (digits[k] != '0')
			zero = false;
	/* canonical text */
	if (neg && !zero)
		out[o++] = '-';
	for (size_t k = 0; k < nd - (size_t)scale; k++)
		out[o++] = digits[k];
	if (scale > 0) {
		out[o++] = '.';
		for (size_t k = nd - (size_t)scale; k < nd; k++)
			out[o++] = digits[k];
	}
	if (o >= size)
		abort();
	out[o] = '\0';
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int scales[] = { 0, 2, 5, 18 };
	char *s;
	size_t slen;

	if (size > 256)
		return 0;
	s = fuzz_strndup(data, size);
	slen = strlen(s);
	for (size_t i = 0; i < sizeof(scales) / sizeof(scales[0]); i++) {
		int scale = scales[i];
		struct wxr_err err = WXR_ERR_INIT;
		char want[128], got[MONEY_FMT_LEN];
		int64_t v = 0, v2 = 0, back = 0;
		bool ok_model = model((const char *)data, size, scale, want, sizeof(want));
		int r = money_parse_n((const char *)data, size, scale, &v, &err);
		int r2, len;

		FUZZ_ASSERT((r == 0) == ok_model, "scale %d: parser says %d (%s), model says %s",
		            scale, r, err.msg, ok_model ? want : "refuse");
		FUZZ_ASSERT(r == 0 || err.msg[0], "an error without a message");
		/* money_parse sees the text up to the first NUL */
		r2 = money_parse(s, scale, &v2, NULL);
		if (slen == size)
			FUZZ_ASSERT(r2 == r && (r < 0 || v2 == v), "money_parse disagrees with _n");
		if (r < 0)
			continue;
		len = money_format(v, scale, got, sizeof(got));
		FUZZ_ASSERT(len > 0 && (size_t)len == strlen(got), "money_format returned %d", len);
		FUZZ_ASSERT(strcmp(got, want) == 0, "scale %d: format gives '%s', want '%s'", scale,
		            got, want);
		FUZZ_ASSERT(money_parse(got, scale, &back, NULL) == 0 && back == v,
		            "'%s' does not parse back to %lld", got, (long long)v);
		/* a too small buffer is an error and leaves "" */
		{
			char small[8];
			int rs = money_format(v, scale, small, sizeof(small));

			FUZZ_ASSERT(rs == WXR_ETOOBIG
			                    ? small[0] == '\0' && (size_t)len >= sizeof(small)
			                    : rs == len && strcmp(small, got) == 0,
			            "money_format into 8 bytes: %d '%s'", rs, small);
		}
		if (scale == MONEY_SCALE_FEE) {
			int64_t fen = money_fee_to_fen(v);
			/* fee - fen * 1000 in [-500, 500), or (-500, 500] below zero */
			__extension__ __int128 diff = (__int128)v - (__int128)fen * 1000;

			FUZZ_ASSERT(v >= 0 ? diff >= -500 && diff < 500
			                   : diff > -500 && diff <= 500,
			            "money_fee_to_fen(%lld) = %lld", (long long)v, (long long)fen);
		}
		if (scale == 0) {
			int64_t c = 0;
			int rc = money_parse_count(s, &c, NULL);

			if (slen == size)
				FUZZ_ASSERT((rc == 0) == (v >= 0 && s[0] != '-') &&
				                    (rc < 0 || c == v),
				            "money_parse_count('%s') = %d", s, rc);
		}
	}
	free(s);
	return 0;
}
