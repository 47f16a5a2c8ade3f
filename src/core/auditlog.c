/*
 * auditlog.c - the audit log for the commands (auditlog.h).
 */
#include "core/auditlog.h"

int auditlog_append(struct db *db, int64_t run_id, const char *actor, const char *event,
                    const char *subject, const char *detail, struct wxr_err *err)
{
	return audit_append(db, run_id, actor, event, subject, detail, err);
}

int auditlog_list(struct db *db, const char *from, const char *to,
                  int (*fn)(void *arg, const struct audit_row *row, struct wxr_err *err), void *arg,
                  struct wxr_err *err)
{
	return audit_list(db, from, to, fn, arg, err);
}

int auditlog_verify(struct db *db, struct audit_verify_result *out, struct wxr_err *err)
{
	return audit_verify(db, out, err);
}

int auditlog_verify_stamp(struct db *db, const char *what, int64_t entries, const char *head,
                          struct audit_verify_result *out, struct wxr_err *err)
{
	return audit_verify_checkpoint(db, what, entries, head, out, err);
}
