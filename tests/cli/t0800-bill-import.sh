#!/bin/sh
# wxrecon bill import: bills saved by hand, through the same pipeline as fetch.
. "$(dirname "$0")/test-lib.sh"

db() { db_sql db.sqlite "$1"; }
B=$FIXTURES/bills

test_expect_success 'setup' 'wxrecon --db db.sqlite init 2>/dev/null'
test_expect_success 'the official SDK sample imports with every total equal to its summary' '
	wxrecon --db db.sqlite bill import "$B/bill.ALL.csv" --date 2019-02-19 --kind trade >out &&
	grep -q "stored 45 rows for merchant 1921000401 (sha1 9bb6cd819be348f17a9cbcedddc8eb62fefbd790)" out &&
	test "$(db "SELECT count(*), sum(row_kind = \"SUCCESS\"), sum(row_kind = \"REFUND\") FROM bill_trades")" = "45|31|14" &&
	test "$(db "SELECT sum(settlement_amount), sum(refund_amount), sum(fee), sum(order_amount), sum(refund_apply_amount) FROM bill_trades")" = "47|14|8000|47|14" &&
	test "$(db "SELECT total_count, settlement_total, refund_total, fee_total, order_total, refund_apply_total FROM bill_trade_summary")" = "45|47|14|8000|47|14"
'
test_expect_success 'the bill is archived under its SHA-1 and gunzips to the same bytes' '
	gzip -dc var/bills/9bb6cd819be348f17a9cbcedddc8eb62fefbd790.gz | cmp - "$B/bill.ALL.csv"
'
test_expect_success 'bill_files records it' '
	test "$(db "SELECT status, rows, bytes, source FROM bill_files WHERE kind = \"trade\"")" = "ok|45|14686|import"
'
test_expect_success 'times are RFC 3339 at +08:00 and amounts integers' '
	db "SELECT trade_time FROM bill_trades LIMIT 1" | grep -q "^20[0-9-]*T[0-9:]*+08:00$" &&
	test "$(db "SELECT typeof(fee) FROM bill_trades LIMIT 1")" = integer
'
test_expect_success 're-importing replaces the rows, never doubles them' '
	wxrecon --db db.sqlite bill import "$B/bill.ALL.csv" --date 2019-02-19 --kind trade >out &&
	grep -q "replacing the earlier bill" out &&
	test "$(db "SELECT count(*) FROM bill_trades")" = 45 &&
	test "$(db "SELECT count(*) FROM bill_files")" = 1
'
test_expect_success 'a gzip bill imports the same way' '
	wxrecon --db db.sqlite bill import "$B/gunsluo_tradebill_ALL.csv.gz" --date 2021-01-28 --kind trade >out &&
	grep -q "stored 3 rows" out
'
test_expect_code 3 'a bill whose summary disagrees with its rows is stored and exits 3' '
	wxrecon --db db.sqlite bill import "$B/gunsluo_fundflowbill_BASIC.csv.gz" --date 2021-02-01 --kind fundflow
'
test_expect_success 'and the mismatch is recorded for reconcile' '
	db "SELECT summary_mismatch FROM bill_files WHERE kind = \"fundflow\"" | grep -q "资金流水总笔数"
'
test_expect_success 'setup: malformed rows of one merchant (line 8 is another merchant'"'"'s)' '
	sed 8d "$B/hand_malformed_rows.csv" >malformed.csv
'
test_expect_code 3 'malformed rows are rejected with their line, stored in bill_rejects, exit 3' '
	wxrecon --db db.sqlite bill import malformed.csv --date 2025-03-01 --kind trade
'
test_expect_success 'the rejects carry line numbers and reasons' '
	test "$(db "SELECT count(*) FROM bill_rejects WHERE line > 1 AND reason <> \"\"")" -ge 1
'
test_expect_code 1 'a bill missing a column is refused whole' '
	wxrecon --db db.sqlite bill import "$B/hand_missing_column.csv" --date 2020-01-04 --kind trade
'
test_expect_success 'and nothing of it is stored' '
	test "$(db "SELECT count(*) FROM bill_files WHERE bill_date = \"2020-01-04\"")" = 0
'
test_expect_success 'setup: a truncated gzip' '
	head -c 300 "$B/gunsluo_tradebill_ALL.csv.gz" >trunc.gz && test -s trunc.gz
'
test_expect_code 1 'a truncated gzip is refused' '
	wxrecon --db db.sqlite bill import trunc.gz --date 2020-01-05 --kind trade
'
test_expect_code 1 'a trade bill given as fundflow is refused' '
	wxrecon --db db.sqlite bill import "$B/bill.ALL.csv" --date 2020-01-06 --kind fundflow
'
test_expect_code 2 'import needs --date and --kind' 'wxrecon --db db.sqlite bill import "$B/bill.ALL.csv"'
test_expect_code 2 'a bad kind is a usage error' 'wxrecon --db db.sqlite bill import "$B/bill.ALL.csv" --date 2019-02-19 --kind all'
test_done
