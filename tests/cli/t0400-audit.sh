#!/bin/sh
# The audit log: append-only by trigger, hash-chained, tamper-evident.
. "$(dirname "$0")/test-lib.sh"

db() { db_sql db.sqlite "$1"; }

test_expect_success 'setup: a few audited changes' '
	wxrecon --db db.sqlite init 2>/dev/null &&
	wxrecon --db db.sqlite ledger import --orders "$FIXTURES/ledger/orders.csv" >/dev/null &&
	wxrecon --db db.sqlite ledger import --refunds "$FIXTURES/ledger/refunds.csv" >/dev/null &&
	sed "s/,NOTPAY,/,CLOSED,/" "$FIXTURES/ledger/orders.csv" | sed "s/2026-11-01T12:00:00+08:00,,,BIZ-2/2026-11-01T12:00:00+08:00,,,BIZ-2/" >o2.csv &&
	wxrecon --db db.sqlite ledger import --orders o2.csv >/dev/null &&
	test "$(db "SELECT count(*) FROM audit_log")" -ge 4
'
test_expect_success 'verify says the chain is intact' '
	wxrecon --db db.sqlite audit --verify >out && grep -q "^audit log intact: [0-9]* entries$" out
'
test_expect_success 'audit lists the entries' '
	wxrecon --db db.sqlite audit >out && grep -q "ledger.import" out && grep -q "order.state" out
'
test_expect_success 'audit --json lists them as JSON with the detail as an object' '
	wxrecon --db db.sqlite audit --json >out && grep -q "\"detail\":{\"kind\":\"orders\"" out
'
test_expect_success 'audit --date selects by day' '
	today=$(TZ=Asia/Shanghai date +%Y-%m-%d) &&
	wxrecon --db db.sqlite audit --date "$today" >out && test -s out &&
	wxrecon --db db.sqlite audit --date 2001-01-01 >out && ! test -s out
'
test_expect_success 'UPDATE is rejected by a trigger' '
	! db "UPDATE audit_log SET actor = \"x\" WHERE id = 1" 2>err && grep -q "append-only" err
'
test_expect_success 'DELETE is rejected by a trigger' '
	! db "DELETE FROM audit_log WHERE id = 1" 2>err && grep -q "append-only" err
'
test_expect_success 'an edited entry is found and named (trigger dropped by hand)' '
	cp db.sqlite edited.sqlite &&
	sqlite3 edited.sqlite "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET detail = replace(detail, \"CLOSED\", \"PAID\") WHERE event = \"order.state\"" &&
	id=$(sqlite3 edited.sqlite "SELECT min(id) FROM audit_log WHERE event = \"order.state\"") &&
	test_exit_code 1 wxrecon --db edited.sqlite audit --verify 2>err &&
	grep -q "^wxrecon: audit log broken at entry $id: its content does not match its hash$" err
'
test_expect_success 'a removed entry is found' '
	cp db.sqlite removed.sqlite &&
	sqlite3 removed.sqlite "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE id = 2" &&
	test_exit_code 1 wxrecon --db removed.sqlite audit --verify 2>err &&
	grep -q "broken at entry 2: entry 2 is missing" err
'
test_expect_success 'a re-hashed edit is still found by the next entry' '
	cp db.sqlite rehash.sqlite &&
	sqlite3 rehash.sqlite "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET hash = \"00\" || substr(hash, 3) WHERE id = 1" &&
	test_exit_code 1 wxrecon --db rehash.sqlite audit --verify 2>err &&
	grep -q "broken at entry 1" err
'
test_expect_success 'verify --json reports the break' '
	test_exit_code 1 wxrecon --db edited.sqlite --json audit --verify >out 2>/dev/null &&
	grep -q "\"ok\":false" out
'
test_expect_code 2 'verify with dates is a usage error' 'wxrecon --db db.sqlite audit --verify --date 2026-11-01'
test_done
