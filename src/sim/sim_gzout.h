/*
 * sim_gzout.h - a gzip file written beside its SHA-1, as the bill-download
 * API serves a bill: the generator's output stream (sim_gen.c).
 */
#ifndef WXR_SIM_GZOUT_H
#define WXR_SIM_GZOUT_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <zlib.h>

#include "base/err.h"

/*
 * A gzip file that also hashes what it compresses. The generator fills one
 * chunk while a worker thread hashes, deflates and writes the previous one
 * (two bills, two workers: the day is bound by deflate, not by formatting).
 * Chunk boundaries depend only on the byte stream, so the output is the same
 * bytes whatever the timing.
 */
struct sim_gzout {
	FILE *f;
	char *tmp_path;
	char *path;
	z_stream z;
	int z_ready;
	EVP_MD_CTX *sha;
	unsigned char *fill; /* generator side */
	size_t fill_len;
	unsigned char *work; /* worker side */
	size_t work_len;
	unsigned char *out;
	uint64_t raw_bytes;
	uint64_t gz_bytes;
	pthread_t thread;
	int thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int sync_ready; /* mu and cv initialised */
	int work_ready; /* guarded by mu: a chunk is handed over */
	int work_last;  /* guarded by mu: and it is the last */
	int err;        /* guarded by mu: first failure */
	char sha1_hex[41];
};

/* Creates DIR/NAME.tmp and starts the worker; level is zlib's. */
int sim_gzout_open(struct sim_gzout *gz, const char *dir, const char *name, int level,
                   struct wxr_err *err);
/* A bill writer's sink (ctx is the sim_gzout). */
int sim_gzout_sink(void *ctx, const void *p, size_t n);
/* Finishes the stream, renames the file into place and writes <file>.sha1
 * (the SHA-1 of the uncompressed bytes, which gz->sha1_hex also holds). */
int sim_gzout_finish(struct sim_gzout *gz, struct wxr_err *err);
/* Stops the worker and frees everything; an unfinished file is removed. */
void sim_gzout_release(struct sim_gzout *gz);

#endif
