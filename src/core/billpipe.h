/*
 * billpipe.h - one downloaded (or imported) bill, streamed into the database.
 *
 * Raw bytes (gzip or plain, told apart by the magic bytes 1f 8b) go through:
 *   - the archive writer (optional): a temp file in archive_dir, renamed to
 *     "<sha1>.gz" when the bill is stored. Gzip input is kept byte for byte;
 *     plain input is gzipped on the way, so the archive is always
 *     "<sha1 of the bill>.gz" and `gzip -dc` gives back the hashed bytes;
 *   - gunzip (gz.h, capped) when the input is gzip;
 *   - SHA-1 of the decompressed bytes (BOM and CRLF included, SPEC 5);
 *   - the bill parser (billparse.h) and prepared INSERTs (db_bills.h), all
 *     in one transaction begun by billpipe_new.
 * Memory stays flat whatever the size of the bill.
 *
 * The merchant: rows are stored under opts->mchid (the configured merchant;
 * "" for a database kept without a config), so the ledger, the bills and
 * reconcile always agree on it. The trade bill's 商户号 must equal opts->mchid
 * when that is set, and be the same on every row; and every row must be of
 * opts->bill_date in Beijing time (交易时间; 退款申请时间 where the layout has
 * it; the fund flow's 记账时间). A row that breaks either makes it another
 * merchant's or another day's bill: it is refused whole (WXR_EDATA, the
 * message names the line) at finish, after the SHA-1 check, and the stored
 * bill of that day stays. The result's mchid names the bill's own 商户号 when
 * it has one.
 */
#ifndef WXR_BILLPIPE_H
#define WXR_BILLPIPE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/billparse.h"
#include "db/db.h"
#include "db/db_bills.h"

struct billpipe_opts {
	const char *mchid;       /* the caller's merchant id; NULL or "" when unknown */
	const char *bill_date;   /* YYYY-MM-DD, the day the bill is for */
	enum bill_kind kind;     /* what was asked for; the header must agree */
	const char *source;      /* "api" or "import" */
	const char *archive_dir; /* NULL: no archive; created (one level) if missing */
	int64_t run_id;          /* for the audit log; <= 0 none */
	uint64_t max_bytes;      /* cap on the decompressed bill (0 = 4 GiB) */
	size_t max_line;         /* line cap (0 = BILLPARSE_MAX_LINE) */
	/* billpipe_import_file: called every few MB with the bytes of the file read and its
	 * size (0 when unknown); NULL: none */
	void (*progress)(void *arg, int64_t done, int64_t total);
	void *progress_arg;
};

struct billpipe_result {
	int64_t file_id;               /* bill_files.id */
	int64_t rows;                  /* stored detail rows */
	int64_t rejects;               /* stored in bill_rejects */
	int64_t bytes;                 /* decompressed size */
	char sha1[DB_BILLS_SHA1_LEN];  /* lowercase hex of the decompressed bill */
	bool gzip;                     /* the input was gzip */
	bool replaced;                 /* an older bill of that (mchid, date, kind) was replaced */
	bool summary_ok;               /* the summary line agrees with the stored rows */
	char mismatch_text[1024];      /* which totals differ ("" when summary_ok) */
	char mchid[64];                /* the merchant the bill was stored under */
	struct billparse_result parse; /* layout, summary, sums, mismatch bits */
};

struct billpipe;

/* Validates opts, opens the archive temp file and the transaction. */
int billpipe_new(struct db *db, const struct billpipe_opts *opts, struct billpipe **out_p,
                 struct wxr_err *err);
/* Pushes raw bytes, any chunking. On error nothing is stored (rolled back at
 * once) and the pipe can only be freed. */
int billpipe_feed(struct billpipe *p, const void *data, size_t n, struct wxr_err *err);
/*
 * Ends the input. expected_sha1 (NULL: not checked) is compared
 * case-insensitively with the SHA-1 of the decompressed bytes: on a mismatch
 * nothing is stored, the archive temp file is removed and WXR_ESIG is
 * returned with both hashes in the message. Otherwise the archive file is
 * put in place, the bill_files and summary rows written, the audit entry
 * appended and the transaction committed. A bill whose summary disagrees
 * with its rows is stored (summary_ok false).
 */
int billpipe_finish(struct billpipe *p, const char *expected_sha1,
                    struct billpipe_result *out_result, struct wxr_err *err);
/* Rolls back unless finished, removes the temp file, frees. NULL-safe. */
struct billpipe *billpipe_free(struct billpipe *p);

/*
 * Removes the archive temp files (".bill-XXXXXX") that a bill pipe killed before it
 * finished left in dir; for a caller holding the run lock, so that no other pipe is
 * writing one. *out_removed (may be NULL) counts them; a missing dir is no error.
 */
int billpipe_clean_temp(const char *dir, int *out_removed, struct wxr_err *err);

/* What a day WeChat Pay says has no bill (NO_STATEMENT_EXIST) is. */
enum billpipe_absent {
	BILLPIPE_ABSENT_EARLY,   /* before the release time: a later run asks again */
	BILLPIPE_ABSENT_EMPTY,   /* no ledger activity that day: stored as an empty day */
	BILLPIPE_ABSENT_WAIT,    /* activity, missing_after not yet passed: ask again later */
	BILLPIPE_ABSENT_MISSING, /* activity and missing_after passed: BILL_MISSING */
};

/*
 * Judges a day without a bill: since_release_s is how long after the bill's
 * release time it is now (< 0: before it), missing_after_s the config's
 * [bills] missing_after. A fund-flow bill is never awaited (its absence is an
 * empty day). An empty day is stored (db_bills_store_empty(), audited) under
 * o->mchid, o->source and o->run_id.
 */
int billpipe_absent(struct db *db, const struct billpipe_opts *o, int64_t since_release_s,
                    int64_t missing_after_s, enum billpipe_absent *out, struct wxr_err *err);

/* *out_unchanged: the stored bill of (o->mchid, o->bill_date, o->kind) is a whole one
 * ("ok") with the SHA-1 sha1 (case-insensitive) whose rows are still stored (not
 * pruned): fetching it again changes nothing. */
int billpipe_unchanged(struct db *db, const struct billpipe_opts *o, const char *sha1,
                       bool *out_unchanged, struct wxr_err *err);

/* The stored bill of (mchid, bill_date, kind) (db_bills_get()): 1 and *out, 0 when there
 * is none. bill import --date D without a file restores from its archive_path. */
int billpipe_stored(struct db *db, const char *mchid, const char *bill_date, enum bill_kind kind,
                    struct db_bills_file *out, struct wxr_err *err);

/* Convenience: the whole file at path through a pipe (source as in opts). */
int billpipe_import_file(struct db *db, const struct billpipe_opts *opts, const char *path,
                         const char *expected_sha1, struct billpipe_result *out_result,
                         struct wxr_err *err);

#endif
