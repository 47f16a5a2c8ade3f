#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "core/auditkey.h"
#include "db/audit.h"

static int64_t count(struct db *db, const char *sql)
{
	struct db_stmt *st = NULL;
	int64_t n = -1;
	struct wxr_err err = WXR_ERR_INIT;

	if (db_prepare(db, sql, &st, &err) == 0 && db_step(st) == DB_ROW)
		n = db_col_i64(st, 0);
	db_finalize(st);
	return n;
}

/* A log of before the key, keyed from its 4th entry on (issue 20 item 5). */
static void keyed_era(void)
{
	static const unsigned char key[AUDIT_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct wxr_err err = WXR_ERR_INIT;
	struct audit_verify_result v;
	struct db *db = NULL;

	is_int(db_open(":memory:", &db, &err), 0, "keyed: open");
	is_int(db_migrate(db, NULL, &err), 0, "keyed: migrate");
	for (int i = 0; i < 3; i++)
		audit_append(db, 0, "test", "old", NULL, NULL, &err);
	audit_use_key(db, key, 4, "test.key");
	is_int(audit_append(db, 0, "test", "audit.keyed", NULL, NULL, &err), 0, "opens the era");
	is_int(audit_append(db, 0, "test", "new", "S", NULL, &err), 0, "a keyed entry");
	is_int(count(db, "SELECT count(*) FROM audit_log WHERE alg = 'sha256'"), 3,
	       "the old entries stay unkeyed");
	is_int(count(db, "SELECT count(*) FROM audit_log WHERE alg = 'hmac-sha256'"), 2,
	       "the new ones are keyed");
	is_int(audit_verify(db, &v, &err), 0, "verify runs");
	ok(v.ok, "both eras verify");
	is_int(v.entries, 5, "five entries");

	/* an old backup of the head record, then a run's checkpoint further on */
	db_exec(db, "CREATE TABLE old_head AS SELECT * FROM audit_heads", &err);
	db_exec(db, "INSERT INTO job_runs (id, job, state, started_at) VALUES (1, 'j', 'ok', 'x')",
	        &err);
	audit_append(db, 1, "jobs", "run.start", "j", NULL, &err);
	audit_append(db, 1, "jobs", "run.end", "j", NULL, &err);
	is_int(audit_checkpoint_run(db, 1, &err), 0, "checkpoint the run");
	is_int(count(db, "SELECT audit_entries FROM job_runs WHERE id = 1"), 7, "at entry 7");
	is_int(audit_verify(db, &v, &err), 0, "verify runs");
	ok(v.ok && v.checkpoints == 1, "intact, one checkpoint checked");

	/* rolled back to the backup: the head verifies, the run's checkpoint does not */
	db_exec(db, "DROP TRIGGER audit_log_no_delete", &err);
	db_exec(db, "DELETE FROM audit_log WHERE id > 5", &err);
	db_exec(db, "DELETE FROM audit_heads; INSERT INTO audit_heads SELECT * FROM old_head",
	        &err);
	is_int(audit_verify(db, &v, &err), 0, "verify runs");
	ok(!v.ok, "a rollback below a run's checkpoint is found");
	is_int(v.first_bad, 6, "at the first entry gone");
	is_str(v.why, "entries 6 to 7 were deleted: run 1 recorded 7 entries", "saying which run");
	is_str(v.missing_triggers, "audit_log_no_delete", "and the dropped trigger");

	/* the unkeyed era is pinned by the first keyed entry */
	db_exec(db, "DELETE FROM job_runs", &err);
	db_exec(db, "DROP TRIGGER audit_log_no_update", &err);
	db_exec(db, "UPDATE audit_log SET actor = 'x' WHERE id = 2", &err);
	is_int(audit_verify(db, &v, &err), 0, "verify runs");
	is_int(v.first_bad, 2, "an edit of before the key is found");

	/* without the key, the keyed log takes no unkeyed entry */
	audit_use_key(db, NULL, 0, "gone.key");
	ok(audit_append(db, 0, "test", "sneak", NULL, NULL, &err) < 0, "no unkeyed append");
	ok(strstr(err.msg, "'gone.key' is missing") != NULL, "naming the key file");
	db_close(db);
}

/* An older database (unkeyed entries) meets `wxrecon init` (core/auditkey.c). */
static void upgrade(void)
{
	char dir[] = "/tmp/t-audit.XXXXXX";
	char path[64];
	struct wxr_err err = WXR_ERR_INIT;
	struct auditkey_init_result ki;
	struct audit_verify_result v;
	struct stat st;
	struct db *db = NULL;

	if (!mkdtemp(dir)) {
		skip("mkdtemp failed", "upgrade");
		return;
	}
	snprintf(path, sizeof(path), "%s/audit.key", dir);
	db_open(":memory:", &db, &err);
	db_migrate(db, NULL, &err);
	for (int i = 0; i < 3; i++)
		audit_append(db, 0, "test", "old", NULL, NULL, &err);
	is_int(auditkey_attach(db, path, &err), 0, "upgrade: no key file yet is fine");
	is_int(auditkey_init(db, path, &ki, &err), 0, "upgrade: init makes the key");
	ok(ki.key_made, "upgrade: says so");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "upgrade: the key file is 0600");
	is_int(count(db, "SELECT id FROM audit_log WHERE event = 'audit.keyed' AND alg ="
	                 " 'hmac-sha256'"),
	       4, "upgrade: the keyed era opens after the 3 old entries");
	is_int(audit_verify(db, &v, &err), 0, "upgrade: verify runs");
	ok(v.ok && v.keyed_from == 4, "upgrade: both eras verify, keyed from 4");
	is_int(auditkey_init(db, path, &ki, &err), 0, "upgrade: init again");
	ok(!ki.key_made && count(db, "SELECT count(*) FROM audit_log") == 4,
	   "upgrade: keeps the key and adds no entry");
	unlink(path);
	ok(auditkey_init(db, path, &ki, &err) < 0 && strstr(err.msg, "restore it"),
	   "upgrade: a keyed log whose key is gone gets no new one");
	ok(access(path, F_OK) != 0, "upgrade: and no key file is left behind");
	db_close(db);
	rmdir(dir);
}

int main(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct db *db = NULL;
	struct audit_verify_result v;
	int applied = -1;

	is_int(db_open(":memory:", &db, &err), 0, "open in-memory db");
	is_int(db_migrate(db, &applied, &err), 0, "migrate");
	ok(applied >= 3, "applied the migrations");
	is_int(db_migrate(db, &applied, &err), 0, "migrate again");
	is_int(applied, 0, "second migrate is a no-op");
	is_int(db_check_schema(db, &err), 0, "schema is current");

	is_int(audit_append(db, 0, "test", "start", NULL, NULL, &err), 0, "append 1");
	is_int(audit_append(db, 7, "test", "state", "ORD1",
	                    "{\"from\":\"NOTPAY\",\"to\":\"CLOSED\"}", &err),
	       0, "append 2");
	is_int(audit_append(db, 7, "test", "http", "GET /v3/x", "{\"status\":200}", &err), 0,
	       "append 3");
	is_int(audit_verify(db, &v, &err), 0, "verify runs");
	is_int(v.entries, 3, "three entries");
	is_int(v.first_bad, 0, "chain intact");

	ok(db_exec(db, "UPDATE audit_log SET detail = '{}' WHERE id = 2", &err) < 0,
	   "UPDATE is rejected");
	ok(strstr(err.msg, "append-only") != NULL, "by the trigger");
	ok(db_exec(db, "DELETE FROM audit_log WHERE id = 3", &err) < 0, "DELETE is rejected");

	db_exec(db, "DROP TRIGGER audit_log_no_update", &err);
	is_int(db_exec(db,
	               "UPDATE audit_log SET detail = '{\"from\":\"NOTPAY\",\"to\":\"PAID\"}' "
	               "WHERE id = 2",
	               &err),
	       0, "tamper with the trigger gone");
	is_int(audit_verify(db, &v, &err), 0, "verify runs");
	is_int(v.first_bad, 2, "names the edited entry");

	db_close(db);
	keyed_era();
	upgrade();
	return done_testing();
}
