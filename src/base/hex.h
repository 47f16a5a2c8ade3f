/* hex.h - the one lowercase hex encoder (digests, nonces, ids). */
#ifndef WXR_HEX_H
#define WXR_HEX_H

#include <stddef.h>

/* Writes 2n lowercase hex digits and a NUL to out (2n + 1 bytes). */
void hex_encode(const void *p, size_t n, char *out);

#endif
