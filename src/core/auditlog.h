/*
 * auditlog.h - the audit log as the commands use it (db/audit.h keeps it):
 * append an entry, list entries, verify the chain and a report's stamp.
 */
#ifndef WXR_CORE_AUDITLOG_H
#define WXR_CORE_AUDITLOG_H

#include <stdint.h>

#include "db/audit.h"
#include "wxrecon.h"

/* Appends one entry (audit_append()): run_id <= 0 stores NULL; subject and
 * detail (a JSON object as text) may be NULL. */
int auditlog_append(struct db *db, int64_t run_id, const char *actor, const char *event,
                    const char *subject, const char *detail, struct wxr_err *err);

/* Calls fn for each entry written at from <= at < to (RFC 3339 UTC, ...Z), by id. */
int auditlog_list(struct db *db, const char *from, const char *to,
                  int (*fn)(void *arg, const struct audit_row *row, struct wxr_err *err), void *arg,
                  struct wxr_err *err);

/* Checks the whole log (audit_verify()); 0 when it was read, out->ok says
 * whether it is intact. */
int auditlog_verify(struct db *db, struct audit_verify_result *out, struct wxr_err *err);

/* Checks one report's stamp (entries, head) against the log, into out. */
int auditlog_verify_stamp(struct db *db, const char *what, int64_t entries, const char *head,
                          struct audit_verify_result *out, struct wxr_err *err);

#endif
