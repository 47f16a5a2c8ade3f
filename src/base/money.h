/*
 * money.h - exact decimal amounts as int64 minor units. No floating point.
 *
 * A scale is the number of decimals of the unit: 2 = fen (0.01 yuan),
 * 5 = 0.00001 yuan (the unit of the bill's fee columns, SPEC 5).
 */
#ifndef WXR_MONEY_H
#define WXR_MONEY_H

#include <stddef.h>
#include <stdint.h>

#include "wxrecon.h"

#define MONEY_SCALE_FEN 2
#define MONEY_SCALE_FEE 5
#define MONEY_SCALE_MAX 18
/* Longest text money_format writes: sign, 19 digits, point, NUL. */
#define MONEY_FMT_LEN 24

/*
 * Parses a plain decimal "[-]digits[.digits]" into units of 10^-scale.
 * Accepts: "45", "45.0", "0.01", "-0.06000", "007.5". More fractional digits
 * than the scale are accepted only when the extra ones are zeros ("0.15000"
 * at scale 2 is 15; "0.155" is an error). Refuses: "", "-", ".5", "5.",
 * "+1", spaces anywhere, thousands separators, exponents, and values whose
 * magnitude does not fit in int64. "-0" and "-0.00" read as 0.
 */
int money_parse(const char *s, int scale, int64_t *out, struct wxr_err *err);

/* Same as money_parse on the n bytes at s (need not be NUL-terminated). */
int money_parse_n(const char *s, size_t n, int scale, int64_t *out, struct wxr_err *err);

/* A count written as a number, possibly with zero decimals: "45" and "45.0"
 * give 45; "45.5", "-1" and "" are errors. */
int money_parse_count(const char *s, int64_t *out, struct wxr_err *err);

/*
 * Writes v in units of 10^-scale as a decimal with exactly scale decimals
 * ("-0.06" for -6 at scale 2, "0.15000" for 15000 at scale 5, "45" for 45 at
 * scale 0). Returns the length, or WXR_ETOOBIG when size is too small
 * (MONEY_FMT_LEN is always enough); out is then "".
 */
int money_format(int64_t v, int scale, char *out, size_t size);

/*
 * THE rounding of a fee in 0.00001 yuan to the fen: half away from zero
 * (0.00500 -> 0.01, -0.00500 -> -0.01, 0.00499 -> 0.00). WeChat Pay does not
 * document its rule (SPEC 8), so every such rounding calls this function.
 */
int64_t money_fee_to_fen(int64_t fee_e5);

#endif
