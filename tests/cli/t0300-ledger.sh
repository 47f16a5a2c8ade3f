#!/bin/sh
# wxrecon ledger import: validation with line numbers, upsert, all-or-nothing.
. "$(dirname "$0")/test-lib.sh"

db() { db_sql db.sqlite "$1"; }

test_expect_success 'setup' '
	wxrecon --db db.sqlite init 2>/dev/null &&
	cp "$FIXTURES/ledger/orders.csv" "$FIXTURES/ledger/refunds.csv" .
'
test_expect_success 'a good import reports what it did' '
	wxrecon --db db.sqlite ledger import --orders orders.csv --refunds refunds.csv >out &&
	printf "orders: 4 rows: 4 new, 0 updated, 0 unchanged\nrefunds: 2 rows: 2 new, 0 updated, 0 unchanged\n" >expect &&
	test_cmp expect out
'
test_expect_success 'amounts are integer fen and quoted fields survive' '
	test "$(db "SELECT amount_total || \"|\" || attach FROM ledger_orders WHERE out_trade_no = \"ORD20261101C\"")" = "100|attach, with \"quotes\""
'
test_expect_success 'a payment belongs to its paid_at date in Asia/Shanghai, whatever TZ says' '
	test "$(db "SELECT paid_date FROM ledger_orders WHERE out_trade_no = \"ORD20261101C\"")" = 2026-11-02 &&
	test "$(db "SELECT paid_at FROM ledger_orders WHERE out_trade_no = \"ORD20261101C\"")" = 2026-11-02T00:00:30+08:00
'
test_expect_success 'an empty currency is CNY' '
	test "$(db "SELECT currency FROM ledger_orders WHERE out_trade_no = \"ORD20261101C\"")" = CNY
'
test_expect_success 'a refund belongs to its created_at date' '
	test "$(db "SELECT created_date FROM ledger_refunds WHERE out_refund_no = \"RF20261101-2\"")" = 2026-11-01
'
test_expect_success 're-importing the same file changes nothing' '
	wxrecon --db db.sqlite ledger import --orders orders.csv >out &&
	grep -q "4 rows: 0 new, 0 updated, 4 unchanged" out
'
test_expect_success 'a changed state is an update and is audited' '
	sed "s/^ORD20261101B,.*/ORD20261101B,4200000001202611010000000002,1999,CNY,PAID,2026-11-01T10:00:00+08:00,2026-11-01T12:00:00+08:00,2026-11-01T10:05:00+08:00,,BIZ-2/" orders.csv >orders2.csv &&
	wxrecon --db db.sqlite ledger import --orders orders2.csv >out &&
	grep -q "4 rows: 0 new, 1 updated, 3 unchanged" out &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"order.state\" AND subject = \"ORD20261101B\" AND detail LIKE \"%NOTPAY%PAID%\"")" = 1
'
test_expect_success 'the import itself is audited' '
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"ledger.import\"")" -ge 3
'

# bad_row NAME ROW EXPECTED-MESSAGE
bad_row() {
	{ cat orders.csv; echo "ORD20261102X,,100,CNY,PAID,2026-11-02T09:00:00+08:00,,2026-11-02T09:01:00+08:00,,"; printf "%s\n" "$2"; } >bad.csv
	test_expect_success "bad row: $1 (line 7, nothing kept)" "
		before=\$(db 'SELECT count(*) FROM ledger_orders') &&
		test_exit_code 1 wxrecon --db db.sqlite ledger import --orders bad.csv 2>err &&
		grep -q \"^wxrecon: ledger import: bad.csv:7: $3\" err &&
		test \"\$(db 'SELECT count(*) FROM ledger_orders')\" = \"\$before\"
	"
}
bad_row 'amount with decimals' 'ORD20261102Y,,12.50,CNY,NOTPAY,2026-11-02T09:00:00+08:00,,,,' "bad amount_total '12.50' (want a whole number of fen"
bad_row 'negative amount' 'ORD20261102Y,,-5,CNY,NOTPAY,2026-11-02T09:00:00+08:00,,,,' "bad amount_total '-5'"
bad_row 'unknown state' 'ORD20261102Y,,5,CNY,SUCCESS,2026-11-02T09:00:00+08:00,,,,' "bad state 'SUCCESS'"
bad_row 'time without offset' 'ORD20261102Y,,5,CNY,NOTPAY,2026-11-02 09:00:00,,,,' "created_at: bad time '2026-11-02 09:00:00'"
bad_row 'paid without paid_at' 'ORD20261102Y,,5,CNY,PAID,2026-11-02T09:00:00+08:00,,,,' 'paid_at is empty'
bad_row 'NOTPAY with paid_at' 'ORD20261102Y,,5,CNY,NOTPAY,2026-11-02T09:00:00+08:00,,2026-11-02T09:00:00+08:00,,' 'state NOTPAY with a paid_at'
bad_row 'bad out_trade_no' 'ORD 1;DROP,,5,CNY,NOTPAY,2026-11-02T09:00:00+08:00,,,,' "bad out_trade_no 'ORD 1;DROP'"
bad_row 'too few fields' 'ORD20261102Y,,5,CNY' '4 fields, the header has 10'
bad_row 'other currency' 'ORD20261102Y,,5,USD,NOTPAY,2026-11-02T09:00:00+08:00,,,,' "currency 'USD'"

test_expect_success 'a bad refund file rolls back the orders of the same import too' '
	before=$(db "SELECT count(*) FROM ledger_orders") &&
	{ echo "out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref"; echo "ORD20261103A,,7,CNY,NOTPAY,2026-11-03T09:00:00+08:00,,,,"; } >o3.csv &&
	{ head -1 refunds.csv; echo "RF-X,ORD20261103A,,7,DONE,2026-11-03T09:00:00+08:00,"; } >r3.csv &&
	test_must_fail wxrecon --db db.sqlite ledger import --orders o3.csv --refunds r3.csv 2>err &&
	grep -q "r3.csv:2: bad state .DONE." err &&
	test "$(db "SELECT count(*) FROM ledger_orders")" = "$before"
'
test_expect_success 'a missing column is named' '
	printf "out_trade_no,amount_total\nORD20261101A,1\n" >m.csv &&
	test_must_fail wxrecon --db db.sqlite ledger import --orders m.csv 2>err &&
	grep -q "m.csv:1: missing column .transaction_id." err
'
test_expect_success 'an unknown column is named' '
	{ head -1 orders.csv | sed "s/$/,colour/"; } >u.csv &&
	test_must_fail wxrecon --db db.sqlite ledger import --orders u.csv 2>err && grep -q "unknown column .colour." err
'
test_expect_success 'an unterminated quote is reported' '
	{ head -1 orders.csv; echo "ORD20261101A,,1,CNY,NOTPAY,2026-11-01T09:00:00+08:00,,,\"open,"; } >q.csv &&
	test_must_fail wxrecon --db db.sqlite ledger import --orders q.csv 2>err && grep -q "q.csv" err
'
test_expect_success 'a header with a UTF-8 BOM and CRLF lines is fine' '
	printf "\357\273\277" >bom.csv && sed "s/$/\r/" orders.csv >>bom.csv &&
	wxrecon --db db.sqlite ledger import --orders bom.csv >out && grep -q "4 rows" out
'
test_expect_success 'a BOM before a quoted header is fine (Excel writes both)' '
	{ printf "\357\273\277" && head -1 orders.csv | sed "s/\([a-z_]*\)/\"\1\"/g" && tail -n +2 orders.csv; } >bomq.csv &&
	head -c 20 bomq.csv | grep -q "\"out_trade_no\"," &&
	wxrecon --db db.sqlite ledger import --orders bomq.csv >out && grep -q "4 rows" out
'
test_expect_success 'a stray quote is explained, not just "error parsing data"' '
	{ head -1 orders.csv; echo "ORD20261101A,,1,CNY,NOTPAY,2026-11-01T09:00:00+08:00,,,a\"b,"; } >sq.csv &&
	test_must_fail wxrecon --db db.sqlite ledger import --orders sq.csv 2>err &&
	grep -q "sq.csv:2: not valid CSV (.*): a quote inside an unquoted field" err
'
test_expect_code 2 'import needs a file option' 'wxrecon --db db.sqlite ledger import'
test_expect_code 1 'a missing file exits 1' 'wxrecon --db db.sqlite ledger import --orders nope.csv'
test_expect_success 'hostile values are stored as data, not run as SQL' '
	{ head -1 orders.csv; echo "ORD20261104A,,1,CNY,NOTPAY,2026-11-04T09:00:00+08:00,,,\"x'\''); DROP TABLE ledger_orders; --\","; } >h.csv &&
	wxrecon --db db.sqlite ledger import --orders h.csv >/dev/null &&
	test "$(db "SELECT attach FROM ledger_orders WHERE out_trade_no = \"ORD20261104A\"")" = "x'\''); DROP TABLE ledger_orders; --"
'
test_expect_success 'ledger import --json' '
	wxrecon --db db.sqlite ledger import --orders orders.csv --json >out &&
	grep -q "^{\"orders\":{\"rows\":4," out
'
# Issue 20 item 8: a key twice in one file was merged ("1 new, 1 updated"): NOTPAY 100
# then PAID 99999 kept the second row. The whole file is refused, naming both lines.
test_expect_success 'a duplicate out_trade_no in one file refuses the file, naming both lines' '
	{ head -1 orders.csv &&
	  echo "ORDDUP0001,,100,CNY,NOTPAY,2026-11-05T09:00:00+08:00,,,," &&
	  echo "ORD20261105B,,7,CNY,NOTPAY,2026-11-05T09:00:00+08:00,,,," &&
	  echo "ORDDUP0001,4200000001202611050000000001,99999,CNY,PAID,2026-11-05T09:00:00+08:00,,2026-11-05T09:01:00+08:00,,"; } >dup.csv &&
	before=$(db "SELECT count(*) FROM ledger_orders") &&
	test_exit_code 1 wxrecon --db db.sqlite ledger import --orders dup.csv 2>err &&
	grep -q "^wxrecon: ledger import: dup.csv:4: out_trade_no .ORDDUP0001. is also on line 2" err &&
	test "$(db "SELECT count(*) FROM ledger_orders")" = "$before" &&
	test "$(db "SELECT count(*) FROM ledger_orders WHERE out_trade_no IN (\"ORDDUP0001\", \"ORD20261105B\")")" = 0
'
test_expect_success 'a duplicate out_refund_no in one file refuses it too' '
	{ head -1 refunds.csv &&
	  echo "RFDUP-1,ORD20261101A,,100,PROCESSING,2026-11-05T09:00:00+08:00," &&
	  echo "RFDUP-1,ORD20261101A,,2400,PROCESSING,2026-11-05T09:00:00+08:00,"; } >rdup.csv &&
	test_exit_code 1 wxrecon --db db.sqlite ledger import --refunds rdup.csv 2>err &&
	grep -q "rdup.csv:3: out_refund_no .RFDUP-1. is also on line 2" err &&
	test "$(db "SELECT count(*) FROM ledger_refunds WHERE out_refund_no = \"RFDUP-1\"")" = 0
'
test_expect_success 'the same key in the orders and the refunds file is no duplicate' '
	{ head -1 orders.csv && echo "ORD20261106A,,5,CNY,NOTPAY,2026-11-06T09:00:00+08:00,,,,"; } >o6.csv &&
	{ head -1 refunds.csv && echo "ORD20261106A,ORD20261106A,,5,PROCESSING,2026-11-06T09:00:00+08:00,"; } >r6.csv &&
	wxrecon --db db.sqlite ledger import --orders o6.csv --refunds r6.csv >out &&
	grep -q "orders: 1 rows: 1 new" out && grep -q "refunds: 1 rows: 1 new" out
'
test_expect_success 'a changed amount on re-import is audited, old -> new, with every changed field' '
	sed "s/^ORD20261101D,,88800,CNY,CLOSED,\(.*\),,,,$/ORD20261101D,,88000,CNY,CLOSED,\1,,,,BIZ-4/" orders.csv >amt.csv &&
	! cmp -s orders.csv amt.csv &&
	wxrecon --db db.sqlite ledger import --orders amt.csv >out &&
	grep -q "1 updated" out &&
	db "SELECT detail FROM audit_log WHERE event = \"order.update\" AND subject = \"ORD20261101D\"" >detail &&
	test "$(wc -l <detail)" -eq 1 &&
	grep -q "\"amount_total\":{\"from\":\"88800\",\"to\":\"88000\"}" detail &&
	grep -q "\"business_ref\":{\"from\":\"\",\"to\":\"BIZ-4\"}" detail &&
	! grep -q "\"state\"" detail &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"order.state\" AND subject = \"ORD20261101D\"")" = 0
'
test_expect_success 'a changed refund amount is audited too' '
	sed "s/^RF20261101-2,ORD20261101C,,100,/RF20261101-2,ORD20261101C,,90,/" refunds.csv >ramt.csv &&
	wxrecon --db db.sqlite ledger import --refunds ramt.csv >out &&
	grep -q "1 updated" out &&
	db "SELECT detail FROM audit_log WHERE event = \"refund.update\" AND subject = \"RF20261101-2\"" >detail &&
	grep -q "\"amount_refund\":{\"from\":\"100\",\"to\":\"90\"}" detail
'
# Each compared field alone makes a re-import an update (on PostgreSQL the comparison is
# one SQL statement over the staged rows, on SQLite a read per row: both must see each).
# one_row NOUN KEY ROW: f.csv, the header of NOUN's file (orders|refunds) and KEY,ROW
one_row() { printf "%s\n%s,%s\n" "$(head -n 1 "$1.csv")" "$2" "$3" >f.csv; }
# changes NOUN KEY FIELD:ROW...: each ROW after the first changes FIELD of KEY alone
changes() {
	_noun=$1 _key=$2 _first=$3
	shift 2
	test_expect_success "setup: one ${_noun%s} to change field by field" '
		one_row $_noun $_key "$_first" &&
		wxrecon --db db.sqlite ledger import --$_noun f.csv >out &&
		grep -q "1 rows: 1 new" out
	'
	shift
	for _c in "$@"; do
		_field=${_c%%:*} _row=${_c#*:}
		test_expect_success "$_noun: a change of $_field alone is an update, audited" '
			one_row $_noun $_key "$_row" &&
			wxrecon --db db.sqlite ledger import --$_noun f.csv >out &&
			grep -q "1 rows: 0 new, 1 updated, 0 unchanged" out &&
			db "SELECT detail FROM audit_log WHERE event = \"${_noun%s}.update\" AND subject = \"$_key\" ORDER BY id DESC LIMIT 1" >detail &&
			grep -q "^{\"changes\":{\"$_field\":{[^}]*}}," detail &&
			wxrecon --db db.sqlite ledger import --$_noun f.csv >out &&
			grep -q "1 rows: 0 new, 0 updated, 1 unchanged" out
		'
	done
}
T=2026-11-07T
changes orders ORD20261107A \
	"4200000001202611070000000001,700,CNY,PAID,${T}09:00:00+08:00,${T}11:00:00+08:00,${T}09:01:00+08:00,a,b" \
	"transaction_id:4200000001202611070000000009,700,CNY,PAID,${T}09:00:00+08:00,${T}11:00:00+08:00,${T}09:01:00+08:00,a,b" \
	"amount_total:4200000001202611070000000009,701,CNY,PAID,${T}09:00:00+08:00,${T}11:00:00+08:00,${T}09:01:00+08:00,a,b" \
	"created_at:4200000001202611070000000009,701,CNY,PAID,${T}08:59:00+08:00,${T}11:00:00+08:00,${T}09:01:00+08:00,a,b" \
	"time_expire:4200000001202611070000000009,701,CNY,PAID,${T}08:59:00+08:00,,${T}09:01:00+08:00,a,b" \
	"paid_at:4200000001202611070000000009,701,CNY,PAID,${T}08:59:00+08:00,,${T}09:02:00+08:00,a,b" \
	"attach:4200000001202611070000000009,701,CNY,PAID,${T}08:59:00+08:00,,${T}09:02:00+08:00,a2,b" \
	"business_ref:4200000001202611070000000009,701,CNY,PAID,${T}08:59:00+08:00,,${T}09:02:00+08:00,a2,"
changes refunds RF20261107-1 \
	"ORD20261107A,,100,PROCESSING,${T}10:00:00+08:00," \
	"out_trade_no:ORD20261101A,,100,PROCESSING,${T}10:00:00+08:00," \
	"refund_id:ORD20261101A,50300000012026110700000000001,100,PROCESSING,${T}10:00:00+08:00," \
	"amount_refund:ORD20261101A,50300000012026110700000000001,90,PROCESSING,${T}10:00:00+08:00," \
	"created_at:ORD20261101A,50300000012026110700000000001,90,PROCESSING,${T}10:01:00+08:00," \
	"state:ORD20261101A,50300000012026110700000000001,90,CLOSED,${T}10:01:00+08:00,"
test_expect_success 'the audit chain holds after the field audits' '
	wxrecon --db db.sqlite audit --verify >/dev/null
'
test_done
