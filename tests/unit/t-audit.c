#include "tap.h"

#include "base/err.h"
#include "db/audit.h"

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
	return done_testing();
}
