#include "base/gz.h"

#include <stdlib.h>
#include <zlib.h>

#include "base/err.h"
#include "base/xalloc.h"

#define GZ_CHUNK (64 * 1024)

struct gz {
	z_stream z;
	int inited;
	int failed;
	int member_done; /* the last inflate() ended a member */
	unsigned members;
	uint64_t total_out;
	uint64_t max_out;
	unsigned char out[GZ_CHUNK];
};

int gz_new(uint64_t max_out, struct gz **out_g, struct wxr_err *err)
{
	struct gz *g = xcalloc(1, sizeof(*g));
	int r;

	g->max_out = max_out ? max_out : GZ_DEFAULT_MAX;
	r = inflateInit2(&g->z, 15 + 32);
	if (r != Z_OK) {
		free(g);
		return err_set(err, WXR_EFAIL, "cannot start gunzip: %s", zError(r));
	}
	g->inited = 1;
	*out_g = g;
	return 0;
}

static int fail(struct gz *g, struct wxr_err *err, int code, const char *what)
{
	g->failed = 1;
	return err_set(err, code, "%s", what);
}

int gz_feed(struct gz *g, const void *in, size_t n, gz_sink_fn sink, void *ctx, struct wxr_err *err)
{
	const unsigned char *p = in;

	if (g->failed)
		return err_set(err, WXR_EFAIL, "gunzip: feed after an error");
	while (n > 0) {
		/* zlib counts in uInt: feed at most 1 GiB per round. */
		uInt take = n > (1u << 30) ? (1u << 30) : (uInt)n;

		g->z.next_in = (unsigned char *)(uintptr_t)p;
		g->z.avail_in = take;
		p += take;
		n -= take;
		do {
			size_t got;
			int r;

			if (g->member_done) {
				if (g->z.avail_in == 0)
					break;
				/* More input after a complete member: the next member. */
				r = inflateReset(&g->z);
				if (r != Z_OK)
					return fail(g, err, WXR_EFAIL, "gunzip: cannot reset");
				g->member_done = 0;
			}
			g->z.next_out = g->out;
			g->z.avail_out = sizeof(g->out);
			r = inflate(&g->z, Z_NO_FLUSH);
			if (r == Z_NEED_DICT || r == Z_DATA_ERROR || r == Z_STREAM_ERROR) {
				g->failed = 1;
				if (g->members > 0)
					return err_set(err, WXR_EDATA,
					               "gunzip: garbage after gzip member %u: %s",
					               g->members, g->z.msg ? g->z.msg : zError(r));
				return err_set(err, WXR_EDATA, "gunzip: corrupt data: %s",
				               g->z.msg ? g->z.msg : zError(r));
			}
			if (r == Z_MEM_ERROR)
				return fail(g, err, WXR_EFAIL, "gunzip: out of memory");
			got = sizeof(g->out) - g->z.avail_out;
			if (got > 0) {
				int sr;

				if (got > g->max_out - g->total_out) {
					g->failed = 1;
					return err_set(err, WXR_ETOOBIG,
					               "gunzip: output larger than %llu bytes",
					               (unsigned long long)g->max_out);
				}
				g->total_out += got;
				sr = sink(ctx, g->out, got, err);
				if (sr < 0) {
					g->failed = 1;
					return sr;
				}
			}
			if (r == Z_STREAM_END) {
				g->member_done = 1;
				g->members++;
			}
			/* Z_BUF_ERROR: no progress possible until more input comes. */
		} while (g->z.avail_in > 0 || g->z.avail_out == 0);
	}
	return 0;
}

int gz_finish(struct gz *g, struct wxr_err *err)
{
	if (g->failed)
		return err_set(err, WXR_EFAIL, "gunzip: finish after an error");
	if (!g->member_done || g->members == 0) {
		g->failed = 1;
		return err_set(err, WXR_EDATA, "truncated gzip stream (%llu bytes decompressed)",
		               (unsigned long long)g->total_out);
	}
	return 0;
}

uint64_t gz_total_out(const struct gz *g)
{
	return g->total_out;
}

unsigned gz_members(const struct gz *g)
{
	return g->members;
}

struct gz *gz_free(struct gz *g)
{
	if (!g)
		return NULL;
	if (g->inited)
		inflateEnd(&g->z);
	free(g);
	return NULL;
}
