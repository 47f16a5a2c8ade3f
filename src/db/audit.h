/*
 * audit.h - the append-only, hash-chained audit log (SPEC 7).
 *
 * Every external call, state change and decision is appended with
 * audit_append(). Each entry's hash is SHA-256 over the previous entry's
 * hash and this entry's fields, each written as "<length>:<bytes>\n":
 *   prev_hash, id, at, run_id ("" when none), actor, event, subject, detail.
 * The first entry's prev_hash is 64 zeros. Secrets never go in here.
 */
#ifndef WXR_AUDIT_H
#define WXR_AUDIT_H

#include <stdint.h>

#include "db/db.h"

/*
 * Appends one entry. run_id <= 0 stores NULL; subject may be NULL; detail is
 * a JSON object as text (NULL stores "{}"). Inside the caller's transaction
 * when there is one, else in its own.
 */
int audit_append(struct db *db, int64_t run_id, const char *actor, const char *event,
                 const char *subject, const char *detail, struct wxr_err *err);

struct audit_verify_result {
	int64_t entries;   /* how many entries were checked */
	int64_t first_bad; /* id of the first entry that breaks the chain, 0 = none */
	char why[256];     /* what is wrong with it */
};

/* Recomputes the chain. Returns 0 when it was read (whether intact or not). */
int audit_verify(struct db *db, struct audit_verify_result *out, struct wxr_err *err);

#endif
