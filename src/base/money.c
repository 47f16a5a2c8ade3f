#include "base/money.h"

#include <string.h>

#include "base/err.h"

/* At most this many characters of a bad value are quoted in messages. */
#define QUOTE_MAX 40

static int bad(struct wxr_err *err, const char *s, size_t n, const char *why)
{
	int q = n > QUOTE_MAX ? QUOTE_MAX : (int)n;

	return err_set(err, WXR_EDATA, "bad amount '%.*s%s': %s", q, s, n > QUOTE_MAX ? "..." : "",
	               why);
}

int money_parse_n(const char *s, size_t n, int scale, int64_t *out, struct wxr_err *err)
{
	const uint64_t limit = (uint64_t)INT64_MAX;
	uint64_t mag = 0;
	size_t i = 0;
	size_t int_digits = 0;
	size_t frac_digits = 0;
	int neg = 0;
	int k;

	if (scale < 0 || scale > MONEY_SCALE_MAX)
		return err_set(err, WXR_EFAIL, "money scale %d out of range", scale);
	if (n == 0)
		return bad(err, s, n, "empty");
	if (s[0] == '-') {
		neg = 1;
		i = 1;
	}
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (mag > (limit - d) / 10)
			return bad(err, s, n, "too large");
		mag = mag * 10 + d;
		int_digits++;
	}
	if (int_digits == 0)
		return bad(err, s, n, "no digits before the decimal point");
	if (i < n && s[i] == '.') {
		i++;
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
			unsigned d = (unsigned)(s[i] - '0');

			frac_digits++;
			if (frac_digits > (size_t)scale) {
				if (d != 0)
					return bad(err, s, n, "more decimals than allowed");
				continue;
			}
			if (mag > (limit - d) / 10)
				return bad(err, s, n, "too large");
			mag = mag * 10 + d;
		}
		if (frac_digits == 0)
			return bad(err, s, n, "no digits after the decimal point");
	}
	if (i != n)
		return bad(err, s, n, "not a plain decimal number");
	for (k = (int)(frac_digits < (size_t)scale ? frac_digits : (size_t)scale); k < scale; k++) {
		if (mag > limit / 10)
			return bad(err, s, n, "too large");
		mag *= 10;
	}
	*out = neg ? -(int64_t)mag : (int64_t)mag;
	return 0;
}

int money_parse(const char *s, int scale, int64_t *out, struct wxr_err *err)
{
	return money_parse_n(s, strlen(s), scale, out, err);
}

int money_parse_count(const char *s, int64_t *out, struct wxr_err *err)
{
	int64_t v;
	int r;

	r = money_parse(s, 0, &v, err);
	if (r < 0)
		return r;
	if (s[0] == '-')
		return bad(err, s, strlen(s), "a count cannot be negative");
	*out = v;
	return 0;
}

int money_format(int64_t v, int scale, char *out, size_t size)
{
	char tmp[MONEY_FMT_LEN];
	char *p = tmp + sizeof(tmp);
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	size_t len;
	int i;

	if (size > 0)
		out[0] = '\0';
	if (scale < 0 || scale > MONEY_SCALE_MAX)
		return WXR_EFAIL;
	*--p = '\0';
	for (i = 0; i < scale; i++) {
		*--p = (char)('0' + mag % 10);
		mag /= 10;
	}
	if (scale > 0)
		*--p = '.';
	do {
		*--p = (char)('0' + mag % 10);
		mag /= 10;
	} while (mag);
	if (v < 0)
		*--p = '-';
	len = (size_t)(tmp + sizeof(tmp) - 1 - p);
	if (len + 1 > size)
		return WXR_ETOOBIG;
	memcpy(out, p, len + 1);
	return (int)len;
}

int64_t money_fee_to_fen(int64_t fee_e5)
{
	int64_t q = fee_e5 / 1000;
	int64_t r = fee_e5 % 1000;

	if (r >= 500)
		q++;
	else if (r <= -500)
		q--;
	return q;
}
