#!/bin/sh
# wxrecon init: creates and migrates the database, in order, once.
. "$(dirname "$0")/test-lib.sh"

nmig=$(ls "$SRC_ROOT"/schema/*.sql | wc -l)
# insertion order: SQLite's rowid, PostgreSQL's ctid (a fresh table, never updated)
if test_db_is_pg; then rowid=ctid; else rowid=rowid; fi
test_expect_success 'init creates the database' '
	wxrecon --db db.sqlite init 2>err &&
	{ test_db_is_pg || test -f db.sqlite; } && grep -q "applied $nmig migration" err &&
	test "$(db_sql db.sqlite "SELECT count(*) FROM schema_migrations")" = $nmig
'
test_expect_success 'migrations are recorded in order, every schema file once' '
	db_sql db.sqlite "SELECT name FROM schema_migrations ORDER BY $rowid" >out &&
	for f in "$SRC_ROOT"/schema/*.sql; do basename "$f" .sql; done >expect &&
	test_cmp expect out && head -3 out | tr "\n" " " | grep -q "^001_core 002_bills 003_discrepancies "
'
test_expect_success 'a second init is a no-op' '
	wxrecon --db db.sqlite init 2>err && grep -q "up to date" err &&
	test "$(db_sql db.sqlite "SELECT count(*) FROM schema_migrations")" = $nmig
'
test_expect_success 'init --json reports what it applied' '
	wxrecon --db db.sqlite init --json >out &&
	grep -q "\"applied\":0" out
'
if test_db_is_pg; then
	test_skip 'WAL mode and foreign keys are on' 'SQLite journal mode; PostgreSQL has WAL and enforces foreign keys always'
else
	test_expect_success 'WAL mode and foreign keys are on' '
		test "$(sqlite3 db.sqlite "PRAGMA journal_mode")" = wal
	'
fi
test_expect_success 'a database behind the binary gets only the missing migrations' '
	{ test_db_is_pg && cascade=" CASCADE" || cascade=; } &&
	db_sql db.sqlite "DROP TABLE discrepancies$cascade; DELETE FROM schema_migrations WHERE name = \"003_discrepancies\"" &&
	test_must_fail wxrecon --db db.sqlite audit 2>err && grep -q "missing migration 003_discrepancies" err &&
	wxrecon --db db.sqlite init 2>err && grep -q "applied 1 migration" err &&
	db_sql db.sqlite "SELECT count(*) FROM discrepancies" >/dev/null
'
test_expect_success 'init creates the parent directory of the default path' '
	mkdir w && cd w && printf "[api]\nretries = 1\n" >wxrecon.conf &&
	wxrecon init 2>/dev/null && test -f var/wxrecon.db
'
test_expect_success 'with no config and no --db, init and reconcile say so (exit 2) and create nothing' '
	mkdir empty && cd empty &&
	{ wxrecon init 2>err; test $? = 2; } &&
	test_grep "^wxrecon: no config file and no --db: which database? give -c CONFIG" err &&
	{ wxrecon reconcile --yesterday 2>err; test $? = 2; } && test "$(wc -l <err)" = 1 &&
	test_grep "or --db PATH$" err && ! test -e var
'
test_expect_success 'with --db alone they work' '
	mkdir alone && cd alone && wxrecon --db x.db init 2>/dev/null &&
	wxrecon --db x.db reconcile --date 2026-11-01 --dry-run >/dev/null
'
if test_db_is_pg; then
	# the twin of a path that cannot be created: a database the server does not have
	test_expect_code 1 'init on a database that does not exist fails' '
		wxrecon --db "$(pg_url wxt_no_such_database)" init
	'
else
	test_expect_code 1 'init on a path that cannot be created fails' '
		wxrecon --db /proc/nope/db.sqlite init
	'
fi
test_done
