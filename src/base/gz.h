/*
 * gz.h - streaming gunzip with an output cap (zip-bomb guard).
 *
 * inflateInit2(15 + 32): gzip or zlib framing, auto-detected. Concatenated
 * gzip members are decompressed one after the other (as gzip -d does).
 * Whether the input is compressed at all is the caller's business (the bill
 * pipeline looks at the magic bytes 1f 8b).
 */
#ifndef WXR_GZ_H
#define WXR_GZ_H

#include <stddef.h>
#include <stdint.h>

#include "wxrecon.h"

#define GZ_DEFAULT_MAX ((uint64_t)4 << 30) /* 4 GiB of output */

struct gz;

/* Receives each chunk of decompressed output (borrowed until it returns).
 * A negative return stops gz_feed, which returns it. */
typedef int (*gz_sink_fn)(void *ctx, const void *p, size_t n, struct wxr_err *err);

/* max_out: most decompressed bytes allowed in all (0 = GZ_DEFAULT_MAX). */
int gz_new(uint64_t max_out, struct gz **out_g, struct wxr_err *err);
/* Decompresses n bytes (any split) and hands the output to sink.
 * Errors: WXR_EDATA corrupt data or trailing garbage, WXR_ETOOBIG over the
 * cap, or the sink's error. After an error the object can only be freed. */
int gz_feed(struct gz *g, const void *in, size_t n, gz_sink_fn sink, void *ctx,
            struct wxr_err *err);
/* Checks that the input ended at the end of a complete member:
 * WXR_EDATA "truncated gzip stream" otherwise (also when nothing was fed). */
int gz_finish(struct gz *g, struct wxr_err *err);
/* Decompressed bytes so far, and complete members seen. */
uint64_t gz_total_out(const struct gz *g);
unsigned gz_members(const struct gz *g);
/* NULL-safe; returns NULL. */
struct gz *gz_free(struct gz *g);

#endif
