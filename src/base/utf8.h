/*
 * utf8.h - the one UTF-8 validator: bill rows, request text and report cells.
 *
 * Strict RFC 3629: no overlong forms, no surrogates (U+D800-DFFF), nothing past
 * U+10FFFF. NUL counts as a valid one-byte character; callers that refuse it
 * say so themselves.
 */
#ifndef WXR_UTF8_H
#define WXR_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* The length (1-4) of the valid character at s, n > 0 bytes left; 0 when invalid. */
size_t utf8_seq(const unsigned char *s, size_t n);

/* Whether the n bytes at s are all valid UTF-8. */
bool utf8_valid(const char *s, size_t n);

/* Valid, and every character in the BMP (at most 3 bytes): what WeChat Pay takes in text. */
bool utf8_valid_bmp(const char *s, size_t n);

/*
 * Copies the string s to out (cap bytes with the NUL) as valid UTF-8 of at
 * most max bytes, for text from outside that goes into a log or an audit row:
 * an invalid byte becomes '?'; a longer s is cut at a character boundary and
 * "...(N bytes)" appended, N its whole length (cap should leave room for it).
 */
void utf8_clip(const char *s, size_t max, char *out, size_t cap);

#endif
