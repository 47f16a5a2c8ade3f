#include "core/billpipe.h"
#include "base/hex.h"

#include "base/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/err.h"
#include "base/gz.h"
#include "base/xalloc.h"
#include "db/db_ledger.h"

#define ARCHIVE_CHUNK (64 * 1024)
#define READ_CHUNK    (64 * 1024)

struct billpipe {
	struct db *db;
	struct db_bills_writer *w;
	struct billparse *parser;
	struct gz *gz;
	EVP_MD_CTX *sha;
	enum bill_kind kind;
	char bill_date[11]; /* YYYY-MM-DD; "" when the caller gave none */
	/* The first row that shows the bill is not this merchant's bill of bill_date: the
	 * bill will be refused, after the SHA-1 is checked (a corrupt download is told as
	 * such, and retried); rows after it are not written. */
	struct wxr_err refusal;
	char *caller_mchid;
	char *bill_mchid; /* from the first accepted row's 商户号 */
	int64_t run_id;
	uint64_t max_bytes;
	uint64_t bytes; /* decompressed bytes seen */
	int failed;
	int finished;

	/* input type: decided on the first two bytes */
	unsigned char magic[2];
	size_t nmagic;
	int decided;
	int is_gzip;

	/* archive */
	char *archive_dir;
	char *tmp_path; /* NULL when no archive or already renamed/removed */
	FILE *tmp;
	z_stream defl; /* gzips plain input on its way to the archive */
	int defl_inited;
	unsigned char *defl_out;
};

/* ---- archive ---- */

static int archive_open(struct billpipe *p, const char *dir, struct wxr_err *err)
{
	int fd;

	if (fs_mkdir_p(dir, 0750, err) < 0)
		return err_prefix(err, "archive");
	p->archive_dir = xstrdup(dir);
	p->tmp_path = xasprintf("%s/.bill-XXXXXX", dir);
	fd = mkstemp(p->tmp_path);
	if (fd < 0) {
		int e = errno;

		free(p->tmp_path);
		p->tmp_path = NULL;
		return err_set(err, WXR_EIO, "cannot create a temp file in '%s': %s", dir,
		               strerror(e));
	}
	p->tmp = fdopen(fd, "wb");
	if (!p->tmp) {
		close(fd);
		return err_set(err, WXR_EIO, "cannot open '%s': %s", p->tmp_path, strerror(errno));
	}
	return 0;
}

static int archive_write(struct billpipe *p, const void *data, size_t n, struct wxr_err *err)
{
	if (n && fwrite(data, 1, n, p->tmp) != n)
		return err_set(err, WXR_EIO, "cannot write '%s': %s", p->tmp_path, strerror(errno));
	return 0;
}

/* Deflates plain input into the archive (flush = Z_NO_FLUSH or Z_FINISH). */
static int archive_deflate(struct billpipe *p, const void *data, size_t n, int flush,
                           struct wxr_err *err)
{
	int r;

	if (!p->defl_inited) {
		if (deflateInit2(&p->defl, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
		                 Z_DEFAULT_STRATEGY) != Z_OK)
			return err_set(err, WXR_EFAIL, "cannot start gzip for the archive");
		p->defl_inited = 1;
		p->defl_out = xmalloc(ARCHIVE_CHUNK);
	}
	do {
		/* zlib counts in uInt: at most 1 GiB per round */
		size_t take = n > (1u << 30) ? (1u << 30) : n;
		int f = take == n ? flush : Z_NO_FLUSH;

		p->defl.next_in = (unsigned char *)(uintptr_t)data;
		p->defl.avail_in = (uInt)take;
		data = (const unsigned char *)data + take;
		n -= take;
		do {
			p->defl.next_out = p->defl_out;
			p->defl.avail_out = ARCHIVE_CHUNK;
			r = deflate(&p->defl, f);
			if (r == Z_STREAM_ERROR)
				return err_set(err, WXR_EFAIL, "gzip for the archive failed");
			r = archive_write(p, p->defl_out, ARCHIVE_CHUNK - p->defl.avail_out, err);
			if (r < 0)
				return r;
		} while (p->defl.avail_out == 0);
	} while (n > 0);
	return 0;
}

static void archive_discard(struct billpipe *p)
{
	if (p->tmp) {
		fclose(p->tmp);
		p->tmp = NULL;
	}
	if (p->tmp_path) {
		unlink(p->tmp_path);
		free(p->tmp_path);
		p->tmp_path = NULL;
	}
}

/* Completes the archive file and renames it to <dir>/<sha1>.gz. */
static int archive_commit(struct billpipe *p, const char *sha1, char **out_path,
                          struct wxr_err *err)
{
	char *final = NULL;
	int fd, r;

	if (!p->is_gzip) {
		r = archive_deflate(p, "", 0, Z_FINISH, err);
		if (r < 0)
			return r;
	}
	if (fflush(p->tmp) != 0 || fsync(fileno(p->tmp)) != 0)
		return err_set(err, WXR_EIO, "cannot write '%s': %s", p->tmp_path, strerror(errno));
	if (fclose(p->tmp) != 0) {
		p->tmp = NULL;
		return err_set(err, WXR_EIO, "cannot close '%s': %s", p->tmp_path, strerror(errno));
	}
	p->tmp = NULL;
	final = xasprintf("%s/%s.gz", p->archive_dir, sha1);
	if (rename(p->tmp_path, final) < 0) {
		r = err_set(err, WXR_EIO, "cannot rename '%s' to '%s': %s", p->tmp_path, final,
		            strerror(errno));
		free(final);
		return r;
	}
	free(p->tmp_path);
	p->tmp_path = NULL;
	/* make the rename durable */
	fd = open(p->archive_dir, O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	*out_path = final;
	return 0;
}

/* ---- parser callbacks ---- */

static int on_header(void *ctx, enum bill_kind kind, enum bill_layout layout, struct wxr_err *err)
{
	struct billpipe *p = ctx;

	(void)layout;
	if (kind != p->kind)
		return err_set(err, WXR_EDATA, "expected a %s bill, got a %s bill",
		               billparse_kind_name(p->kind), billparse_kind_name(kind));
	return 0;
}

/* A merchant id as it may name a stored bill: 1-32 letters and digits. */
static bool mchid_ok(const char *s)
{
	size_t n = 0;

	for (; *s; s++, n++) {
		char c = *s;

		if (n >= 32 ||
		    !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
			return false;
	}
	return n > 0;
}

/*
 * A bill is of one day, cut at 00:00:00 Beijing time (PROTOCOL 6.1), and the parser gives
 * its times at +08:00: a row of another day means the file is another day's bill (a bill of
 * 2025-03-01 imported as 2026-11-01), so the whole bill is refused and the stored one of
 * that day stays. Decided per row, while the rows stream in, before anything commits.
 */
static bool check_day(struct billpipe *p, int64_t line, const char *col, const char *t)
{
	if (!p->bill_date[0] || !t || strncmp(t, p->bill_date, 10) == 0)
		return true;
	err_set(&p->refusal, WXR_EDATA,
	        "line %lld: %s '%.10s %.8s' is not on %s (Beijing time): not the bill of %s; "
	        "refused whole, nothing of it stored",
	        (long long)line, col, t, strlen(t) > 11 ? t + 11 : "", p->bill_date, p->bill_date);
	return false;
}

/*
 * Rows are stored under the caller's merchant (the configured mchid; "" for
 * a database kept without a config), so that the ledger, the bills and
 * reconcile always speak of the same merchant. The bill's own 商户号 must be
 * that merchant when one is configured, and the same on every row: a row of
 * another merchant refuses the whole bill (it would otherwise replace the
 * merchant's good bill of that day with one of 0 rows).
 */
static int on_trade(void *ctx, int64_t line, const struct bill_trade *t, char *reason,
                    size_t reason_size, struct wxr_err *err)
{
	struct billpipe *p = ctx;
	bool day_ok;

	if (p->refusal.code)
		return 0;
	/* a refund's day is when it was accepted: 退款申请时间 where the layout has it
	 * (REFUND), else 交易时间 (PROTOCOL 6.2) */
	if (t->refund_apply_time && *t->refund_apply_time)
		day_ok = check_day(p, line, "退款申请时间", t->refund_apply_time);
	else
		day_ok = check_day(p, line, "交易时间", t->trade_time);
	if (!day_ok)
		return 0;
	if (t->mchid && *t->mchid) {
		if (!mchid_ok(t->mchid)) {
			snprintf(reason, reason_size, "bad 商户号 '%.40s'", t->mchid);
			return BILLPARSE_REJECT;
		}
		if (p->caller_mchid[0] && strcmp(t->mchid, p->caller_mchid) != 0) {
			err_set(&p->refusal, WXR_EDATA,
			        "line %lld: 商户号 '%.40s' is not this merchant ('%.40s'): another "
			        "merchant's bill; refused whole, nothing of it stored (check the "
			        "file "
			        "and [merchant] mchid)",
			        (long long)line, t->mchid, p->caller_mchid);
			return 0;
		}
		if (!p->bill_mchid) {
			p->bill_mchid = xstrdup(t->mchid);
		} else if (strcmp(t->mchid, p->bill_mchid) != 0) {
			err_set(&p->refusal, WXR_EDATA,
			        "line %lld: 商户号 '%.40s' differs from the bill's '%.40s' (rows "
			        "of two "
			        "merchants); refused whole, nothing of it stored",
			        (long long)line, t->mchid, p->bill_mchid);
			return 0;
		}
	}
	return db_bills_writer_trade(p->w, line, p->caller_mchid, t, err);
}

static int on_fundflow(void *ctx, int64_t line, const struct bill_fundflow *f, char *reason,
                       size_t reason_size, struct wxr_err *err)
{
	struct billpipe *p = ctx;

	(void)reason;
	(void)reason_size;
	if (p->refusal.code || !check_day(p, line, "记账时间", f->booked_at))
		return 0;
	return db_bills_writer_fundflow(p->w, line, p->caller_mchid, f, err);
}

static int on_reject(void *ctx, int64_t line, const char *raw, size_t raw_len, const char *reason,
                     struct wxr_err *err)
{
	struct billpipe *p = ctx;

	if (p->refusal.code)
		return 0;
	return db_bills_writer_reject(p->w, line, raw, raw_len, reason, err);
}

/* ---- the stream ---- */

/* Decompressed (or plain) bytes: hash, count, parse. */
static int plain_sink(void *ctx, const void *data, size_t n, struct wxr_err *err)
{
	struct billpipe *p = ctx;

	if (n > p->max_bytes - p->bytes)
		return err_set(err, WXR_ETOOBIG, "bill larger than %llu bytes",
		               (unsigned long long)p->max_bytes);
	p->bytes += n;
	if (EVP_DigestUpdate(p->sha, data, n) != 1)
		return err_set(err, WXR_EFAIL, "sha1 update failed");
	return billparse_feed(p->parser, data, n, err);
}

/* Raw bytes once the input type is known. */
static int raw_bytes(struct billpipe *p, const void *data, size_t n, struct wxr_err *err)
{
	int r;

	if (n == 0)
		return 0;
	if (p->tmp) {
		r = p->is_gzip ? archive_write(p, data, n, err)
		               : archive_deflate(p, data, n, Z_NO_FLUSH, err);
		if (r < 0)
			return r;
	}
	if (p->is_gzip)
		return gz_feed(p->gz, data, n, plain_sink, p, err);
	return plain_sink(p, data, n, err);
}

static int decide(struct billpipe *p, struct wxr_err *err)
{
	int r;

	p->decided = 1;
	p->is_gzip = p->nmagic == 2 && p->magic[0] == 0x1f && p->magic[1] == 0x8b;
	if (p->is_gzip) {
		r = gz_new(p->max_bytes, &p->gz, err);
		if (r < 0)
			return r;
	}
	return raw_bytes(p, p->magic, p->nmagic, err);
}

/* Undoes everything: nothing of this bill stays. */
static void abort_pipe(struct billpipe *p)
{
	p->failed = 1;
	p->w = db_bills_writer_free(p->w);
	archive_discard(p);
}

int billpipe_new(struct db *db, const struct billpipe_opts *o, struct billpipe **out_p,
                 struct wxr_err *err)
{
	struct billparse_cb cb;
	struct billpipe *p;
	int r;

	if (o->kind != BILL_KIND_TRADE && o->kind != BILL_KIND_FUNDFLOW)
		return err_set(err, WXR_EFAIL, "bill pipe: kind must be trade or fundflow");
	p = xcalloc(1, sizeof(*p));
	p->db = db;
	p->kind = o->kind;
	p->caller_mchid = xstrdup(o->mchid ? o->mchid : "");
	if (o->bill_date)
		snprintf(p->bill_date, sizeof(p->bill_date), "%s", o->bill_date);
	p->run_id = o->run_id;
	p->max_bytes = o->max_bytes ? o->max_bytes : GZ_DEFAULT_MAX;
	p->sha = EVP_MD_CTX_new();
	if (!p->sha || EVP_DigestInit_ex(p->sha, EVP_sha1(), NULL) != 1) {
		r = err_set(err, WXR_EFAIL, "cannot start sha1");
		goto fail;
	}
	memset(&cb, 0, sizeof(cb));
	cb.ctx = p;
	cb.header = on_header;
	cb.trade = on_trade;
	cb.fundflow = on_fundflow;
	cb.reject = on_reject;
	r = billparse_new(&cb, o->max_line, &p->parser, err);
	if (r < 0)
		goto fail;
	if (o->archive_dir) {
		r = archive_open(p, o->archive_dir, err);
		if (r < 0)
			goto fail;
	}
	r = db_bills_writer_begin(db, o->bill_date, o->kind, o->source, &p->w, err);
	if (r < 0)
		goto fail;
	*out_p = p;
	return 0;
fail:
	billpipe_free(p);
	return r;
}

int billpipe_feed(struct billpipe *p, const void *data, size_t n, struct wxr_err *err)
{
	const unsigned char *s = data;
	int r;

	if (p->failed || p->finished)
		return err_set(err, WXR_EFAIL, "bill pipe: feed after %s",
		               p->failed ? "an error" : "finish");
	if (!p->decided) {
		while (n > 0 && p->nmagic < 2) {
			p->magic[p->nmagic++] = *s++;
			n--;
		}
		if (p->nmagic < 2)
			return 0;
		r = decide(p, err);
		if (r < 0)
			goto fail;
	}
	r = raw_bytes(p, s, n, err);
	if (r < 0)
		goto fail;
	return 0;
fail:
	abort_pipe(p);
	return r;
}

int billpipe_finish(struct billpipe *p, const char *expected_sha1,
                    struct billpipe_result *out_result, struct wxr_err *err)
{
	struct billpipe_result res;
	struct db_bills_final fin;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char *archive_path = NULL;
	int r;

	if (p->failed || p->finished)
		return err_set(err, WXR_EFAIL, "bill pipe: finish after %s",
		               p->failed ? "an error" : "finish");
	memset(&res, 0, sizeof(res));
	if (!p->decided) {
		r = decide(p, err);
		if (r < 0)
			goto fail;
	}
	if (p->is_gzip) {
		r = gz_finish(p->gz, err);
		if (r < 0)
			goto fail;
	}
	if (EVP_DigestFinal_ex(p->sha, md, &mdlen) != 1 || mdlen != 20) {
		r = err_set(err, WXR_EFAIL, "sha1 final failed");
		goto fail;
	}
	hex_encode(md, mdlen, res.sha1);
	/* integrity first: a corrupt download must not be judged by its content */
	if (expected_sha1 && strcasecmp(expected_sha1, res.sha1) != 0) {
		r = err_set(err, WXR_ESIG,
		            "bill sha1 mismatch: expected '%.64s', got '%s' (%llu bytes)",
		            expected_sha1, res.sha1, (unsigned long long)p->bytes);
		goto fail;
	}
	r = billparse_finish(p->parser, &res.parse, err);
	if (r < 0)
		goto fail;
	if (p->refusal.code) {
		r = err_set(err, p->refusal.code, "%s", p->refusal.msg);
		goto fail;
	}
	res.gzip = p->is_gzip;
	res.bytes = (int64_t)p->bytes;
	res.rows = res.parse.rows;
	res.rejects = res.parse.rejects;
	res.summary_ok = res.parse.mismatch == 0;
	billparse_mismatch_text(&res.parse, res.mismatch_text, sizeof(res.mismatch_text));
	snprintf(res.mchid, sizeof(res.mchid), "%s",
	         p->bill_mchid ? p->bill_mchid : p->caller_mchid);

	if (p->tmp) {
		r = archive_commit(p, res.sha1, &archive_path, err);
		if (r < 0)
			goto fail;
	}
	memset(&fin, 0, sizeof(fin));
	fin.mchid = p->caller_mchid;
	fin.sha1 = res.sha1;
	fin.bytes = res.bytes;
	fin.archive_path = archive_path;
	fin.res = &res.parse;
	fin.summary_mismatch = res.summary_ok ? NULL : res.mismatch_text;
	fin.run_id = p->run_id;
	/* The archive file stays even if this fails: it is named by its content,
	 * and another stored bill may already point at it. */
	r = db_bills_writer_commit(p->w, &fin, &res.file_id, &res.replaced, err);
	free(archive_path);
	if (r < 0)
		goto fail;
	p->w = db_bills_writer_free(p->w);
	p->finished = 1;
	*out_result = res;
	return 0;
fail:
	abort_pipe(p);
	return r;
}

struct billpipe *billpipe_free(struct billpipe *p)
{
	if (!p)
		return NULL;
	db_bills_writer_free(p->w);
	archive_discard(p);
	if (p->defl_inited)
		deflateEnd(&p->defl);
	free(p->defl_out);
	free(p->archive_dir);
	billparse_free(p->parser);
	gz_free(p->gz);
	EVP_MD_CTX_free(p->sha);
	free(p->caller_mchid);
	free(p->bill_mchid);
	free(p);
	return NULL;
}

int billpipe_clean_temp(const char *dir, int *out_removed, struct wxr_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int removed = 0;
	int r = 0;

	if (!d) {
		if (errno == ENOENT)
			goto out;
		return err_set(err, WXR_EIO, "cannot read '%s': %s", dir, strerror(errno));
	}
	while ((e = readdir(d)) != NULL) {
		char *path;
		struct stat sb;

		/* mkstemp's name: ".bill-" and six characters */
		if (strncmp(e->d_name, ".bill-", 6) != 0 || strlen(e->d_name) != 12)
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
			if (unlink(path) == 0)
				removed++;
			else if (errno != ENOENT)
				r = err_set(err, WXR_EIO, "cannot remove '%s': %s", path,
				            strerror(errno));
		}
		free(path);
		if (r < 0)
			break;
	}
	closedir(d);
out:
	if (r == 0 && out_removed)
		*out_removed = removed;
	return r;
}

int billpipe_import_file(struct db *db, const struct billpipe_opts *opts, const char *path,
                         const char *expected_sha1, struct billpipe_result *out_result,
                         struct wxr_err *err)
{
	struct billpipe *p = NULL;
	unsigned char *chunk = NULL;
	int64_t done = 0, size = 0;
	struct stat sb;
	FILE *f = NULL;
	int r;

	f = fopen(path, "rb");
	if (!f)
		return err_set(err, WXR_EIO, "cannot open '%s': %s", path, strerror(errno));
	r = billpipe_new(db, opts, &p, err);
	if (r < 0)
		goto out;
	if (opts->progress && fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode))
		size = (int64_t)sb.st_size;
	chunk = xmalloc(READ_CHUNK);
	for (;;) {
		size_t n = fread(chunk, 1, READ_CHUNK, f);

		if (n > 0) {
			r = billpipe_feed(p, chunk, n, err);
			if (r < 0)
				goto out;
			done += (int64_t)n;
			if (opts->progress && done % (16 * READ_CHUNK) < (int64_t)n)
				opts->progress(opts->progress_arg, done, size);
		}
		if (n < READ_CHUNK) {
			if (ferror(f)) {
				r = err_set(err, WXR_EIO, "cannot read '%s': %s", path,
				            strerror(errno));
				goto out;
			}
			break;
		}
	}
	r = billpipe_finish(p, expected_sha1, out_result, err);
out:
	billpipe_free(p);
	free(chunk);
	fclose(f);
	if (r < 0)
		return err_prefix(err, "'%s'", path);
	return 0;
}

int billpipe_absent(struct db *db, const struct billpipe_opts *o, int64_t since_release_s,
                    int64_t missing_after_s, enum billpipe_absent *out, struct wxr_err *err)
{
	bool active = false;
	int r;

	if (since_release_s < 0) {
		*out = BILLPIPE_ABSENT_EARLY;
		return 0;
	}
	if (o->kind == BILL_KIND_TRADE) {
		r = ledger_day_has_activity(db, o->mchid, o->bill_date, &active, err);
		if (r < 0)
			return r;
	}
	if (!active) {
		r = db_bills_store_empty(db, o->mchid, o->bill_date, o->kind, o->source, o->run_id,
		                         err);
		if (r < 0)
			return r;
		*out = BILLPIPE_ABSENT_EMPTY;
		return 0;
	}
	*out = since_release_s < missing_after_s ? BILLPIPE_ABSENT_WAIT : BILLPIPE_ABSENT_MISSING;
	return 0;
}

int billpipe_unchanged(struct db *db, const struct billpipe_opts *o, const char *sha1,
                       bool *out_unchanged, struct wxr_err *err)
{
	struct db_bills_file have;
	int r = db_bills_get(db, o->mchid, o->bill_date, o->kind, &have, err);

	*out_unchanged = false;
	if (r < 0)
		return r;
	*out_unchanged = r == 1 && strcmp(have.status, "ok") == 0 &&
	                 strcasecmp(have.sha1, sha1) == 0 && !have.pruned;
	return 0;
}

int billpipe_stored(struct db *db, const char *mchid, const char *bill_date, enum bill_kind kind,
                    struct db_bills_file *out, struct wxr_err *err)
{
	return db_bills_get(db, mchid, bill_date, kind, out, err);
}
