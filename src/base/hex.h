/* hex.h - the one lowercase hex encoder (digests, nonces, ids) and its decoder. */
#ifndef WXR_HEX_H
#define WXR_HEX_H

#include <stddef.h>

/* Writes 2n lowercase hex digits and a NUL to out (2n + 1 bytes). */
void hex_encode(const void *p, size_t n, char *out);
/* Reads the n hex digits at s (either case) into n / 2 bytes at out; returns
 * n / 2, or -1 when n is odd or a character is not a hex digit. */
/* The value of one hex digit (either case), -1 for any other character. */
int hex_digit(char c);
int hex_decode(const char *s, size_t n, void *out);

#endif
