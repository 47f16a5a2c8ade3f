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
	{
		char clipped[64], big[300];

		utf8_clip("short", 8, clipped, sizeof(clipped));
		is_str(clipped, "short", "clip: a short string is kept");
		utf8_clip("abcdefghij", 4, clipped, sizeof(clipped));
		is_str(clipped, "abcd...(10 bytes)",
		       "clip: cut, with the marker and the whole length");
		utf8_clip("a\xe4\xbd\xa0\xe5\xa5\xbd", 5, clipped, sizeof(clipped));
		is_str(clipped, "a\xe4\xbd\xa0...(7 bytes)", "clip: never inside a character");
		utf8_clip("x\xff\xfey\xc3", 16, clipped, sizeof(clipped));
		is_str(clipped, "x??y?", "clip: invalid bytes become '?'");
		memset(big, 'S', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		utf8_clip(big, 128, clipped, sizeof(clipped));
		ok(strlen(clipped) < sizeof(clipped) && utf8_valid(clipped, strlen(clipped)),
		   "clip: a small clipped is never overrun");
	}
	return done_testing();
}
