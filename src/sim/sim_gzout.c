/*
 * sim_gzout.c - the generator's gzip + SHA-1 output: one worker thread per
 * file hashes, deflates and writes a chunk while the generator fills the next.
 */
#include "sim/sim_gzout.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "sim/sim.h"

#define CHUNK (256u * 1024u) /* gzip input/output chunk */

/* Worker: hashes and deflates one chunk into the file. */
static int gz_pump(struct sim_gzout *gz, const unsigned char *in, size_t len, int flush)
{
	int zr;

	if (len && EVP_DigestUpdate(gz->sha, in, len) != 1)
		return WXR_EFAIL;
	gz->z.next_in = (unsigned char *)(uintptr_t)in;
	gz->z.avail_in = (uInt)len;
	do {
		size_t have;

		gz->z.next_out = gz->out;
		gz->z.avail_out = CHUNK;
		zr = deflate(&gz->z, flush);
		if (zr == Z_STREAM_ERROR)
			return WXR_EFAIL;
		have = CHUNK - gz->z.avail_out;
		if (have && fwrite(gz->out, 1, have, gz->f) != have)
			return WXR_EIO;
		gz->gz_bytes += have;
	} while (gz->z.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
	return 0;
}

static void *gz_worker(void *arg)
{
	struct sim_gzout *gz = arg;
	int last, failed, r = 0;

	do {
		pthread_mutex_lock(&gz->mu);
		while (!gz->work_ready)
			pthread_cond_wait(&gz->cv, &gz->mu);
		last = gz->work_last;
		failed = gz->err < 0;
		pthread_mutex_unlock(&gz->mu);

		if (!failed)
			r = gz_pump(gz, gz->work, gz->work_len, last ? Z_FINISH : Z_NO_FLUSH);

		pthread_mutex_lock(&gz->mu);
		if (r < 0 && gz->err == 0)
			gz->err = r;
		gz->work_ready = 0;
		pthread_cond_broadcast(&gz->cv);
		pthread_mutex_unlock(&gz->mu);
	} while (!last);
	return NULL;
}

int sim_gzout_open(struct sim_gzout *gz, const char *dir, const char *name, int level,
                   struct wxr_err *err)
{
	memset(gz, 0, sizeof(*gz));
	gz->path = xasprintf("%s/%s", dir, name);
	gz->tmp_path = xasprintf("%s.tmp", gz->path);
	gz->f = fopen(gz->tmp_path, "wb");
	if (!gz->f)
		return err_set(err, WXR_EIO, "cannot create '%s': %s", gz->tmp_path,
		               strerror(errno));
	if (deflateInit2(&gz->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return err_set(err, WXR_EFAIL, "deflateInit2 failed");
	gz->z_ready = 1;
	gz->sha = EVP_MD_CTX_new();
	if (!gz->sha || EVP_DigestInit_ex(gz->sha, EVP_sha1(), NULL) != 1)
		return err_set(err, WXR_EFAIL, "sha1 init failed");
	gz->fill = xmalloc(CHUNK);
	gz->work = xmalloc(CHUNK);
	gz->out = xmalloc(CHUNK);
	pthread_mutex_init(&gz->mu, NULL);
	pthread_cond_init(&gz->cv, NULL);
	gz->sync_ready = 1;
	if (pthread_create(&gz->thread, NULL, gz_worker, gz) != 0)
		return err_set(err, WXR_EFAIL, "cannot start a gzip thread");
	gz->thread_started = 1;
	return 0;
}

/* Hands the filled chunk to the worker once it is free; returns its error, if any. */
static int gz_handoff(struct sim_gzout *gz, int last)
{
	unsigned char *t;
	int r;

	pthread_mutex_lock(&gz->mu);
	while (gz->work_ready)
		pthread_cond_wait(&gz->cv, &gz->mu);
	t = gz->work;
	gz->work = gz->fill;
	gz->fill = t;
	gz->work_len = gz->fill_len;
	gz->fill_len = 0;
	gz->work_last = last;
	gz->work_ready = 1;
	r = gz->err;
	pthread_cond_broadcast(&gz->cv);
	pthread_mutex_unlock(&gz->mu);
	return r;
}

/* Ends the worker (if it runs) and waits for it; returns the stream's error. */
static int gz_stop(struct sim_gzout *gz)
{
	int r;

	if (!gz->thread_started)
		return gz->err;
	gz_handoff(gz, 1);
	pthread_join(gz->thread, NULL);
	gz->thread_started = 0;
	r = gz->err;
	return r;
}

/* The bill writer's sink. */
int sim_gzout_sink(void *ctx, const void *p, size_t n)
{
	struct sim_gzout *gz = ctx;
	const unsigned char *s = p;

	gz->raw_bytes += n;
	while (n) {
		size_t room = CHUNK - gz->fill_len;
		size_t take = n < room ? n : room;

		memcpy(gz->fill + gz->fill_len, s, take);
		gz->fill_len += take;
		s += take;
		n -= take;
		if (gz->fill_len == CHUNK) {
			int r = gz_handoff(gz, 0);

			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Finishes the stream, renames the file into place and writes <file>.sha1. */
int sim_gzout_finish(struct sim_gzout *gz, struct wxr_err *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *sha_path = NULL;
	char text[48];
	int r;

	r = gz_stop(gz);
	if (r < 0)
		return err_set(err, r, "cannot write '%s'", gz->tmp_path);
	if (EVP_DigestFinal_ex(gz->sha, md, &mdlen) != 1 || mdlen != 20)
		return err_set(err, WXR_EFAIL, "sha1 failed");
	for (unsigned i = 0; i < 20; i++)
		snprintf(gz->sha1_hex + 2 * i, 3, "%02x", md[i]);
	r = fclose(gz->f);
	gz->f = NULL;
	if (r != 0)
		return err_set(err, WXR_EIO, "cannot write '%s': %s", gz->tmp_path,
		               strerror(errno));
	if (rename(gz->tmp_path, gz->path) != 0)
		return err_set(err, WXR_EIO, "cannot rename '%s': %s", gz->tmp_path,
		               strerror(errno));
	snprintf(text, sizeof(text), "%s\n", gz->sha1_hex);
	sha_path = xasprintf("%s.sha1", gz->path);
	if (sim_write_file_atomic(sha_path, text, strlen(text)) != 0)
		r = err_set(err, WXR_EIO, "cannot write '%s': %s", sha_path, strerror(errno));
	free(sha_path);
	return r;
}

void sim_gzout_release(struct sim_gzout *gz)
{
	gz_stop(gz);
	if (gz->f) {
		fclose(gz->f);
		remove(gz->tmp_path);
	}
	if (gz->z_ready)
		deflateEnd(&gz->z);
	if (gz->sync_ready) {
		pthread_mutex_destroy(&gz->mu);
		pthread_cond_destroy(&gz->cv);
	}
	EVP_MD_CTX_free(gz->sha);
	free(gz->fill);
	free(gz->work);
	free(gz->out);
	free(gz->path);
	free(gz->tmp_path);
	memset(gz, 0, sizeof(*gz));
}
