#!/bin/sh
# Issue 20 item 11: storing a bill is one long write transaction. It runs under the run
# lock, so a reconcile started meanwhile is told at once who holds the database (exit
# 75, naming it) instead of failing after the 5 s busy timeout with an unnamed 'another
# process'; and the archive temp files a killed fetch left are removed at the start.
. "$(dirname "$0")/test-lib.sh"

db() { db_sql var/test.db "$1"; }
B=$FIXTURES/bills
ms() { date +%s%3N; }

config_setup
WXRECON_NOW=2026-11-03T11:00:00+08:00 && export WXRECON_NOW

test_expect_success 'setup' 'wxrecon init 2>/dev/null'
test_expect_code 75 'bill import while a live run holds the lock exits 75' '
	{ sleep 30 & } && holder=$! && echo $holder >holder &&
	db "INSERT INTO locks (mchid, name, run_id, pid, host, acquired_at) VALUES (\"1900000001\", \"run\", 91, $holder, \"$(hostname)\", \"2026-11-03T02:00:00Z\")" &&
	wxrecon bill import "$B/hand_all_bom_crlf.csv" --date 2025-03-01 --kind trade 2>err
'
test_expect_success 'naming the holder; nothing stored' '
	test_grep "^wxrecon: locked: run 91 (pid $(cat holder) on $(hostname)) holds the lock since" err &&
	test "$(db "SELECT count(*) FROM bill_files")" = 0
'
test_expect_success 'a reconcile meanwhile, while the holder writes for long, is told at once who it is' '
	db_hold_writer var/test.db 4 && writer=$DB_WRITER_PID &&
	t0=$(ms) &&
	{ wxrecon reconcile --date 2026-11-01 2>err; rc=$?; } &&
	t1=$(ms) && wait $writer &&
	test $rc = 75 &&
	test_grep "^wxrecon: locked: run 91 (pid $(cat holder) on $(hostname))" err &&
	! grep -q "another process" err &&
	test $((t1 - t0)) -lt 3000 &&
	kill $(cat holder) && db "DELETE FROM locks"
'
test_expect_success 'a temp file a killed fetch left in the archive is removed at the start' '
	mkdir -p var/bills &&
	echo partial >var/bills/.bill-Ab12Cd && echo keep >var/bills/.bill-notours.txt &&
	wxrecon -v bill import "$B/hand_all_bom_crlf.csv" --date 2025-03-01 --kind trade >out 2>err &&
	test_grep "removed 1 temp file(s) left in .var/bills. by an interrupted bill fetch" err &&
	! test -e var/bills/.bill-Ab12Cd && test -e var/bills/.bill-notours.txt &&
	test "$(ls var/bills | wc -l)" = 1
'
test_expect_success 'the lock is released after a bill import' '
	test "$(db "SELECT count(*) FROM locks")" = 0
'
test_done
