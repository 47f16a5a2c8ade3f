#!/bin/sh
# What wxrecon writes is the owner's alone, whatever the umask it starts with
# (issue 20 item 10): the database and its WAL/SHM hold openids and the ledger,
# reports hold amounts; files 0600, directories 0700.
. "$(dirname "$0")/test-lib.sh"

mode() { stat -c %a "$1"; }
umask 022

if test_db_is_pg; then
	test_skip 'the database file and its WAL are 0600' 'a PostgreSQL store is no file of ours (the server owns its files)'
	wxrecon --db var/new/w.db init 2>/dev/null # what the tests below use
else
	test_expect_success 'under umask 022, init creates the database 0600 (and its directory 0700)' '
		wxrecon --db var/new/w.db init 2>/dev/null &&
		test "$(mode var/new/w.db)" = 600 &&
		test "$(mode var/new)" = 700
	'
	test_expect_success 'its WAL and shared-memory files are 0600 too' '
		sqlite3 var/new/w.db "PRAGMA journal_mode" >jm &&
		{ test "$(cat jm)" != wal || for f in var/new/w.db-wal var/new/w.db-shm; do
			test ! -e "$f" || test "$(mode "$f")" = 600 || exit 1; done; }
	'
fi
test_expect_success 'report files and a report directory are the owner'"'"'s alone' '
	wxrecon --db var/new/w.db report --date 2026-11-01 --format html -o r.html &&
	test "$(mode r.html)" = 600 &&
	wxrecon --db var/new/w.db report --date 2026-11-01 -o csvdir/ &&
	test "$(mode csvdir)" = 700 &&
	for f in csvdir/*.csv; do test "$(mode "$f")" = 600 || exit 1; done
'
test_done
