/*
 * auditkey.h - the key file of the audit chain (issue 20 item 5).
 *
 * The audit log's entries are HMAC-SHA256 under a key the database does not
 * hold ([audit] key_file, by default audit.key beside the database), so
 * whoever can write the database but not read that file cannot edit, cut
 * or re-hash the log unseen (db/audit.h). A separate random key rather than
 * one derived from the APIv3 key: WeChat Pay knows the APIv3 key, merchants
 * reset it, and a reset would orphan every entry made under the old one.
 *
 * The file is text, owner-only (refused when group or others can read it,
 * as the private key is):
 *   key = <64 hex digits>
 *   keyed_from = <the first entry id it covers>
 * keyed_from is what stops a downgrade: the database cannot say which of
 * its entries were keyed, the key file does.
 */
#ifndef WXR_AUDITKEY_H
#define WXR_AUDITKEY_H

#include <stdbool.h>

#include "db/db.h"
#include "wxrecon.h"

/* The key file of a database: configured (may be NULL), else audit.key in
 * the database's directory. Owned by the caller. */
char *auditkey_path(const char *configured, const char *db_path, bool db_is_server,
                    const char *config_path);

/* Gives db the key in path; a missing file leaves db without one (it then
 * refuses appends to a keyed log, naming path). Any other problem with the
 * file (mode, content) fails. */
int auditkey_attach(struct db *db, const char *path, struct wxr_err *err);

struct auditkey_init_result {
	bool key_made;               /* the key file was created */
	char restored_triggers[256]; /* the append-only triggers recreated, ", "-separated */
};

/*
 * For `wxrecon init`: recreates the audit log's append-only triggers when
 * they were dropped or altered; attaches path, creating it when missing and
 * the log was never keyed; when the log has no keyed entry yet, appends the
 * audit.keyed entry that opens the keyed era (the key covers it). A keyed
 * log whose key file is missing fails: a new key cannot prove old entries.
 */
int auditkey_init(struct db *db, const char *path, struct auditkey_init_result *out,
                  struct wxr_err *err);

#endif
