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

#endif
