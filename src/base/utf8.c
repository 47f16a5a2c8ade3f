#include "base/utf8.h"

#include <stdio.h>
#include <string.h>

size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	unsigned lo = 0x80, hi = 0xbf; /* the range of the second byte */
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* past U+10FFFF */
	} else {
		return 0; /* a continuation byte, C0, C1 or F5-FF */
	}
	if (len > n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

static bool valid_upto(const char *s, size_t n, size_t max_len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t len = utf8_seq(p + i, n - i);

		if (len == 0 || len > max_len)
			return false;
		i += len;
	}
	return true;
}

bool utf8_valid(const char *s, size_t n)
{
	return valid_upto(s, n, 4);
}

bool utf8_valid_bmp(const char *s, size_t n)
{
	return valid_upto(s, n, 3);
}

void utf8_clip(const char *s, size_t max, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, o = 0;

	if (cap == 0)
		return;
	if (max > cap - 1)
		max = cap - 1;
	while (i < n) {
		size_t len = utf8_seq(p + i, n - i);

		if (o + (len ? len : 1) > max)
			break;
		if (len == 0) {
			out[o++] = '?';
			i++;
		} else {
			memcpy(out + o, s + i, len);
			o += len;
			i += len;
		}
	}
	out[o] = '\0';
	if (i < n)
		snprintf(out + o, cap - o, "...(%zu bytes)", n);
}
