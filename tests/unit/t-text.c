/* t-text.c - the one UTF-8 validator and the one hex encoder (src/base/utf8.c, hex.c). */
#include <string.h>

#include "base/hex.h"
#include "base/utf8.h"
#include "tap.h"

static int valid(const char *s)
{
	return utf8_valid(s, strlen(s));
}

static int bmp(const char *s)
{
	return utf8_valid_bmp(s, strlen(s));
}

int main(void)
{
	char out[64];

	ok(valid("plain ASCII"), "ASCII is valid");
	ok(valid("月卡 ok"), "3-byte characters are valid");
	ok(valid("\xC2\x80"), "U+0080, the smallest 2-byte form");
	ok(valid("\xF0\x9F\x98\x80"), "an emoji (4 bytes) is valid UTF-8");
	ok(valid("\xF4\x8F\xBF\xBF"), "U+10FFFF, the largest code point");
	ok(utf8_valid("a\0b", 3), "NUL counts as a valid byte (callers refuse it themselves)");
	ok(!valid("\xC0\x80"), "overlong 2-byte NUL refused");
	ok(!valid("\xC1\xBF"), "C1 lead byte refused");
	ok(!valid("\xE0\x9F\xBF"), "overlong 3-byte form refused");
	ok(!valid("\xF0\x8F\xBF\xBF"), "overlong 4-byte form refused");
	ok(!valid("\xED\xA0\x80"), "a surrogate refused");
	ok(valid("\xED\x9F\xBF"), "U+D7FF, just below the surrogates");
	ok(!valid("\xF4\x90\x80\x80"), "past U+10FFFF refused");
	ok(!valid("\xF5\x80\x80\x80"), "F5 lead byte refused");
	ok(!valid("\x80"), "a lone continuation byte refused");
	ok(!valid("\xE6\x9C"), "a truncated 3-byte character refused");
	ok(!utf8_valid("\xE6\x9C\x88", 2), "a character cut by the length refused");
	ok(!valid("\xE6\x28\x88"), "a bad continuation byte refused");
	is_int(utf8_seq((const unsigned char *)"\xE6\x9C\x88x", 4), 3,
	       "utf8_seq: the length of one character");
	is_int(utf8_seq((const unsigned char *)"\xFF", 1), 0, "utf8_seq: 0 when invalid");

	ok(bmp("月卡"), "BMP text passes the BMP check");
	ok(!bmp("x\xF0\x9F\x98\x80"), "an emoji fails the BMP check");
	ok(!bmp("\xC0\x80"), "overlong fails the BMP check");

	hex_encode("\x00\x01\xab\xff", 4, out);
	is_str(out, "0001abff", "hex_encode: lowercase, two digits a byte");
	hex_encode("", 0, out);
	is_str(out, "", "hex_encode of nothing is the empty string");
	return done_testing();
}
