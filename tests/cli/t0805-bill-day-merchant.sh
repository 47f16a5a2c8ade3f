#!/bin/sh
# Issue 20 item 7: a bill is one merchant's bill of one day. A bill of another merchant
# (whose rows were all rejected, so it replaced the good bill with one of 0 rows) or of
# another day (a bill of 2025-03-01 imported as 2026-11-01: wrong totals, a false
# DUPLICATE_PAYMENT) is refused whole, and the stored bill of that day stays; for
# bill import and for a downloaded bill alike.
. "$(dirname "$0")/test-lib.sh"

db() { db_sql var/test.db "$1"; }
B=$FIXTURES/bills

sim_start --bills billsdir
config_setup
WXRECON_NOW=2026-11-03T11:00:00+08:00 && export WXRECON_NOW

test_expect_success 'setup: the merchant'"'"'s bill of 2025-03-01, and bills that are not it' '
	wxrecon init 2>/dev/null &&
	wxrecon bill import "$B/hand_all_bom_crlf.csv" --date 2025-03-01 --kind trade >out &&
	grep -q "stored 3 rows for merchant 1900000001" out &&
	sed "s/\`1900000001,/\`1900000077,/" "$B/hand_all_bom_crlf.csv" >other-merchant.csv &&
	! cmp -s "$B/hand_all_bom_crlf.csv" other-merchant.csv &&
	db "SELECT sha1 FROM bill_files WHERE bill_date = \"2025-03-01\"" >sha1.before
'
test_expect_code 1 'another merchant'"'"'s bill of a stored day is refused' '
	wxrecon bill import other-merchant.csv --date 2025-03-01 --kind trade
'
test_expect_success 'naming the line and both merchants; the stored bill stays' '
	test_must_fail wxrecon bill import other-merchant.csv --date 2025-03-01 --kind trade 2>err &&
	grep -q "^wxrecon: .*line 2: 商户号 .1900000077. is not this merchant (.1900000001.)" err &&
	test "$(db "SELECT rows FROM bill_files WHERE bill_date = \"2025-03-01\" AND kind = \"trade\"")" = 3 &&
	db "SELECT sha1 FROM bill_files WHERE bill_date = \"2025-03-01\"" | cmp - sha1.before &&
	test "$(db "SELECT count(*) FROM bill_trades WHERE bill_date = \"2025-03-01\"")" = 3
'
test_expect_code 1 'a bill of 2025-03-01 imported as 2026-11-01 is refused' '
	wxrecon bill import "$B/hand_all_bom_crlf.csv" --date 2026-11-01 --kind trade
'
test_expect_success 'naming the line, its time and the date; nothing stored for that date' '
	test_must_fail wxrecon bill import "$B/hand_all_bom_crlf.csv" --date 2026-11-01 --kind trade 2>err &&
	grep -q "line 2: 交易时间 .2025-03-01 09:15:02. is not on 2026-11-01 (Beijing time)" err &&
	test "$(db "SELECT count(*) FROM bill_files WHERE bill_date = \"2026-11-01\"")" = 0
'
test_expect_success 'the day is Beijing time: 00:00:00 of the next day is another day' '
	sed "4s/^\`2025-03-01 [0-9:]*/\`2025-03-02 00:00:00/" "$B/hand_all_bom_crlf.csv" >midnight.csv &&
	! cmp -s "$B/hand_all_bom_crlf.csv" midnight.csv &&
	test_must_fail wxrecon bill import midnight.csv --date 2025-03-01 --kind trade 2>err &&
	grep -q "line 4: 交易时间 .2025-03-02 00:00:00. is not on 2025-03-01" err
'
test_expect_success 'a fund-flow bill of another day is refused by its 记账时间' '
	test_must_fail wxrecon bill import "$B/hand_fundflow_bom_crlf.csv" --date 2025-03-02 --kind fundflow 2>err &&
	grep -q "line 2: 记账时间 .2025-03-01 [0-9:]*. is not on 2025-03-02" err &&
	test "$(db "SELECT count(*) FROM bill_files WHERE kind = \"fundflow\"")" = 0
'
test_expect_success 'refused bills leave no archive file and no temp file' '
	test "$(ls -A var/bills | wc -l)" = 1
'
test_expect_success 'setup: the simulator serves another day'"'"'s bill for 2026-11-01 and another merchant'"'"'s for 2026-11-02' '
	mkdir -p billsdir &&
	gzip -c "$B/hand_all_bom_crlf.csv" >billsdir/2026-11-01.trade.ALL.csv.gz &&
	sed "s/2025-03-01/2026-11-02/g" other-merchant.csv | gzip -c >billsdir/2026-11-02.trade.ALL.csv.gz
'
test_expect_code 1 'bill fetch refuses a downloaded bill of another day' '
	wxrecon bill fetch --date 2026-11-01 --kind trade
'
test_expect_success 'and says so; nothing stored' '
	test_must_fail wxrecon bill fetch --date 2026-11-01 --kind trade 2>err &&
	grep -q "line 2: 交易时间 .2025-03-01 09:15:02. is not on 2026-11-01" err &&
	test "$(db "SELECT count(*) FROM bill_files WHERE bill_date = \"2026-11-01\"")" = 0
'
test_expect_success 'bill fetch refuses a downloaded bill of another merchant' '
	test_must_fail wxrecon bill fetch --date 2026-11-02 --kind trade 2>err &&
	grep -q "line 2: 商户号 .1900000077. is not this merchant" err &&
	test "$(db "SELECT count(*) FROM bill_files WHERE bill_date = \"2026-11-02\"")" = 0 &&
	test "$(ls -A var/bills | wc -l)" = 1
'
test_done
