/*
 * audit.h - the append-only, hash-chained audit log (SPEC 7).
 *
 * Every external call, state change and decision is appended with
 * audit_append(). Each entry's hash covers the previous entry's hash and
 * this entry's fields, each written as "<length>:<bytes>\n":
 *   prev_hash, id, at, run_id ("" when none), actor, event, subject, detail.
 * The first entry's prev_hash is 64 zeros. Secrets never go in here.
 *
 * Two eras (issue 20 item 5). Entries before the audit key's keyed_from
 * (alg 'sha256') hash those fields with plain SHA-256, as every entry did
 * before the key existed. From keyed_from on (alg 'hmac-sha256') the hash
 * is HMAC-SHA256 under the chain key over "wxrecon-audit-v2\n", the chain's
 * name ("" today) and then the same fields: whoever can write the database
 * but not read the key file can neither edit an entry nor re-hash the chain
 * after one. keyed_from comes from the key file, not from the database, so
 * keyed entries cannot be passed off as unkeyed ones; the first keyed entry
 * (event audit.keyed) covers the last unkeyed one's hash, which pins the
 * older entries too.
 *
 * The chain key is HMAC-SHA256(file key, "wxrecon audit chain\n" chain), so
 * one key file serves one chain per merchant when issue 17 splits the log.
 * Every keyed append also writes the chain's head (entries, last hash) to
 * audit_heads under a MAC ("head\n" entries head), in the same transaction;
 * runs checkpoint it into job_runs ("run\n" run_id entries head) and
 * reports into their stamp: a log cut short below any of them, or emptied,
 * no longer matches.
 */
#ifndef WXR_AUDIT_H
#define WXR_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"

#define AUDIT_KEY_LEN  32
#define AUDIT_HASH_LEN 65 /* 64 hex digits and a NUL */

/*
 * The key of db's audit chain: appends from now on are keyed and
 * audit_verify() checks MACs. key NULL: there is none (the key file where is
 * missing); a keyed log then refuses appends and fails verification, saying
 * so. keyed_from: the first entry id the key covers. where: the key file,
 * for messages. The key is copied; it is wiped when db is closed.
 */
void audit_use_key(struct db *db, const unsigned char *key, int64_t keyed_from, const char *where);

/* The first entry id db's key covers; 0 when db has no key. */
int64_t audit_keyed_from(const struct db *db);

/*
 * Appends one entry. run_id <= 0 stores NULL; subject may be NULL; detail is
 * a JSON object as text (NULL stores "{}"). Inside the caller's transaction
 * when there is one, else in its own. Fails on a keyed log when db has no
 * key.
 */
int audit_append(struct db *db, int64_t run_id, const char *actor, const char *event,
                 const char *subject, const char *detail, struct wxr_err *err);

/* One entry as audit_list() reads it; the strings live until fn returns. */
struct audit_row {
	int64_t id;
	const char *at; /* RFC 3339 UTC, as hashed */
	bool has_run_id;
	int64_t run_id;
	const char *actor;
	const char *event;
	const char *subject; /* NULL when there is none */
	const char *detail;  /* JSON object as text */
};

/* Calls fn for each entry written at from <= at < to (the stored ...Z form), by
 * id; a negative return from fn stops and is returned. */
int audit_list(struct db *db, const char *from, const char *to,
               int (*fn)(void *arg, const struct audit_row *row, struct wxr_err *err), void *arg,
               struct wxr_err *err);

/* The chain's length and its last entry's hash (64 zeros when empty). */
struct audit_head {
	int64_t entries;
	char hash[AUDIT_HASH_LEN];
};
int audit_get_head(struct db *db, struct audit_head *out, struct wxr_err *err);
/* How many entries are keyed (alg other than 'sha256'). */
int audit_count_keyed(struct db *db, int64_t *out, struct wxr_err *err);

/* Records the chain's head now into job_runs row run_id, under a MAC (no-op
 * without a key). */
int audit_checkpoint_run(struct db *db, int64_t run_id, struct wxr_err *err);

/* The triggers that keep audit_log append-only. */
#define AUDIT_TRIGGERS_MAX 4
/* Recreates the ones that are missing; out_restored (may be NULL) receives
 * their names, comma-separated ("" when none was). */
int audit_restore_triggers(struct db *db, char out_restored[256], struct wxr_err *err);

struct audit_verify_result {
	int64_t entries;            /* how many entries were checked */
	int64_t keyed_from;         /* the key's first entry (0: no key) */
	int64_t checkpoints;        /* run checkpoints and stamps checked */
	int64_t first_bad;          /* id of the first entry that breaks the chain, 0 = none */
	bool ok;                    /* the chain, its head and checkpoints, the cross-checks */
	char why[512];              /* what is wrong (first_bad, or the whole log when 0) */
	char missing_triggers[256]; /* comma-separated; "" = all there */
};

/*
 * Recomputes the chain (both eras), checks the head record, every run's
 * checkpoint, that every action and every run has its audit entries, and
 * that the append-only triggers are there. Returns 0 when it was read
 * (whether intact or not: see out->ok).
 */
int audit_verify(struct db *db, struct audit_verify_result *out, struct wxr_err *err);

/*
 * Checks one outside checkpoint (a report's stamp): the log must hold at
 * least entries entries, the entries-th with hash head. Sets out->ok false
 * and out->why when not.
 */
int audit_verify_checkpoint(struct db *db, const char *what, int64_t entries, const char *head,
                            struct audit_verify_result *out, struct wxr_err *err);

#endif
