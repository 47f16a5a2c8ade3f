#!/bin/sh
# What keeps the audit log append-only is checked by audit --verify and put
# back by init, on both stores (issue 16): SQLite's two triggers; PostgreSQL's
# three triggers, the function they call and PUBLIC's lack of UPDATE, DELETE
# and TRUNCATE. Each is broken the way someone with the schema could (sqlite3
# or psql on the store), then found, then restored.
. "$(dirname "$0")/test-lib.sh"

verify() { wxrecon --db db.sqlite audit --verify >out 2>err; }
# broken WHAT: verify fails naming WHAT as missing or altered
broken() {
	{ verify; _rc=$?; } && test $_rc = 1 &&
	test_grep "trigger(s) $1 missing or altered, so it is not append-only: run .wxrecon init." err
}
# restored WHAT: init puts WHAT back and the log verifies intact
restored() {
	wxrecon --db db.sqlite init 2>err &&
	test_grep "restored the audit log.s trigger(s) $1, which" err &&
	verify && test_grep "^audit log intact" out
}

test_expect_success 'setup: an initialised store verifies intact' '
	wxrecon --db db.sqlite init 2>/dev/null &&
	verify && test_grep "^audit log intact" out
'
test_expect_success 'a dropped trigger: verify names it and fails' '
	if test_db_is_pg; then
		db_sql db.sqlite "DROP TRIGGER audit_log_no_delete ON audit_log"
	else
		db_sql db.sqlite "DROP TRIGGER audit_log_no_delete"
	fi &&
	broken audit_log_no_delete
'
test_expect_success 'init restores it, and a DELETE is refused again' '
	restored audit_log_no_delete &&
	test_must_fail db_sql db.sqlite "DELETE FROM audit_log" 2>err &&
	test_grep "append-only" err
'
if test_db_is_pg; then
	test_expect_success 'PostgreSQL: a disabled trigger, a defanged function, a grant to PUBLIC' '
		db_sql db.sqlite "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update" &&
		db_sql db.sqlite "GRANT UPDATE, TRUNCATE ON audit_log TO PUBLIC" &&
		db_sql db.sqlite "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger
			LANGUAGE plpgsql AS \$\$BEGIN RETURN NEW; END\$\$" &&
		broken "audit_log_append_only(), audit_log_no_update, audit_log (PUBLIC.s privileges)"
	'
	test_expect_success 'PostgreSQL: init restores all three; UPDATE and TRUNCATE are refused' '
		restored "audit_log_append_only(), audit_log_no_update, audit_log (PUBLIC.s privileges)" &&
		test_must_fail db_sql db.sqlite "UPDATE audit_log SET actor = actor" 2>err &&
		test_grep "append-only" err &&
		test_must_fail db_sql db.sqlite "TRUNCATE audit_log" 2>err &&
		test_grep "append-only" err &&
		test "$(db_sql db.sqlite "SELECT has_table_privilege(\"public\", \"audit_log\", \"UPDATE\")")" = f
	'
else
	test_skip 'PostgreSQL: a disabled trigger, a defanged function, a grant to PUBLIC' 'SQLite has no trigger function, no disabled trigger and no grants'
	test_skip 'PostgreSQL: init restores all three; UPDATE and TRUNCATE are refused' 'SQLite has no trigger function, no disabled trigger and no grants'
fi
test_done
