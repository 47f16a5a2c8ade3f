#!/bin/sh
# wxrecon refund create against the simulator: the ledger row before the
# call, the local rules, idempotent repeats, retries, refusals, lost answers.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-payflow.sh"

pf_setup || exit 1

H=out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref
{
	echo "$H"
	for i in 1 2 3 4 5; do
		echo "ORD-R-$i,420000000120261101000000000$i,1000,CNY,PAID,2026-11-01T08:00:00+08:00,,2026-11-01T09:00:00+08:00,,"
	done
	echo "ORD-R-6,,1000,CNY,NOTPAY,2026-11-01T08:00:00+08:00,,,,"
	echo "ORD-R-7,4200000001202510010000000007,1000,CNY,PAID,2025-10-01T08:00:00+08:00,,2025-10-01T09:00:00+08:00,,"
} >orders.csv
{
	echo "out_refund_no,out_trade_no,refund_id,amount_refund,state,created_at,success_at"
	i=0
	while [ $i -lt 50 ]; do
		i=$((i + 1))
		echo "RF-OLD-$i,ORD-R-2,5030$i,1,SUCCESS,2026-11-01T09:10:00+08:00,2026-11-01T09:11:00+08:00"
	done
} >refunds.csv
wxrecon ledger import --orders orders.csv --refunds refunds.csv >/dev/null
for i in 1 2 3 4 5; do
	sim_admin POST /_sim/orders "{\"out_trade_no\":\"ORD-R-$i\",\"total\":1000,\"trade_state\":\"SUCCESS\",\"transaction_id\":\"420000000120261101000000000$i\",\"success_time\":\"2026-11-01T09:00:00+08:00\"}" >/dev/null
done

refund_posts() {
	sim_admin GET /_sim/journal >j.json && grep -o '"path":"/v3/refund/domestic/refunds"' j.json | wc -l
}

test_expect_success 'refund create files the refund and prints one line' '
	wxrecon refund create --out-trade-no ORD-R-1 --out-refund-no RF-1 --amount 300 --reason "退货" >out &&
	grep -q "^refund RF-1 of order ORD-R-1: 300 fen, PROCESSING, refund_id 503[0-9]*$" out
'
test_expect_success 'the ledger has it PROCESSING with its refund_id, dated when WeChat Pay took it' '
	test "$(db "SELECT state || \"|\" || amount_refund || \"|\" || created_at || \"|\" || created_date || \"|\" || length(refund_id) FROM ledger_refunds WHERE out_refund_no = \"RF-1\"")" = "PROCESSING|300|2026-11-01T10:00:00+08:00|2026-11-01|29" &&
	test "$(db "SELECT reason FROM payflow_refunds WHERE out_refund_no = \"RF-1\"")" = "退货"
'
test_expect_success 'written and audited before the call' '
	c=$(db "SELECT id FROM audit_log WHERE event = \"refund.create\" AND subject = \"RF-1\"") &&
	h=$(db "SELECT min(id) FROM audit_log WHERE subject = \"POST /v3/refund/domestic/refunds\"") &&
	a=$(db "SELECT id FROM audit_log WHERE event = \"refund.accepted\" AND subject = \"RF-1\"") &&
	test "$c" -lt "$h" && test "$h" -lt "$a"
'
test_expect_success 'the same command again files nothing (--json)' '
	before=$(refund_posts) &&
	wxrecon --json refund create --out-trade-no ORD-R-1 --out-refund-no RF-1 --amount 300 >r.json &&
	test "$(refund_posts)" = "$before" &&
	test "$(jget new r.json)" = 0 && test "$(jget sent r.json)" = 0 &&
	test "$(jget status r.json)" = PROCESSING && test "$(jget amount r.json)" = 300 &&
	test "$(db "SELECT count(*) FROM ledger_refunds WHERE out_trade_no = \"ORD-R-1\"")" = 1
'
test_expect_success 'the same out_refund_no with another amount: refused (exit 2)' '
	test_exit_code 2 wxrecon refund create --out-trade-no ORD-R-1 --out-refund-no RF-1 --amount 301 2>err &&
	grep -q "refund .RF-1. exists already, for order .ORD-R-1. and 300 fen" err
'
test_expect_success 'a second refund of the order within a minute: refused (exit 1), nothing written' '
	WXRECON_NOW=2026-11-01T10:00:59+08:00 test_exit_code 1 wxrecon refund create --out-trade-no ORD-R-1 \
		--out-refund-no RF-2 --amount 300 2>err &&
	grep -q "at least a minute apart (try again in 1 s)" err &&
	test "$(db "SELECT count(*) FROM ledger_refunds WHERE out_refund_no = \"RF-2\"")" = 0
'
test_expect_success 'a minute later it is filed' '
	WXRECON_NOW=2026-11-01T10:01:00+08:00 wxrecon refund create --out-trade-no ORD-R-1 \
		--out-refund-no RF-2 --amount 300 >/dev/null
'
test_expect_success 'refunds beyond the order total: refused (exit 1)' '
	WXRECON_NOW=2026-11-01T10:05:00+08:00 test_exit_code 1 wxrecon refund create --out-trade-no ORD-R-1 \
		--out-refund-no RF-X --amount 401 2>err &&
	grep -q "would total 1001 fen, more than its 1000 fen (600 fen refunded or in progress already)" err
'
test_expect_success 'a 51st refund: refused (exit 1)' '
	test_exit_code 1 wxrecon refund create --out-trade-no ORD-R-2 --out-refund-no RF-51 --amount 1 2>err &&
	grep -q "has 50 refunds already" err
'
test_expect_success 'an unpaid order, an unknown order: refused (exit 1)' '
	test_exit_code 1 wxrecon refund create --out-trade-no ORD-R-6 --out-refund-no RF-6 --amount 1 2>err &&
	grep -q "order .ORD-R-6. is NOTPAY: only PAID or PARTIAL_REFUNDED" err &&
	test_exit_code 1 wxrecon refund create --out-trade-no ORD-R-9 --out-refund-no RF-9 --amount 1 2>err &&
	grep -q "no order .ORD-R-9. in the ledger" err
'
test_expect_success 'more than a year after payment: refused (exit 1)' '
	test_exit_code 1 wxrecon refund create --out-trade-no ORD-R-7 --out-refund-no RF-7 --amount 1 2>err &&
	grep -q "paid at 2025-10-01T09:00:00+08:00, more than a year ago" err
'
test_expect_success 'a 500 is retried with the same out_refund_no and body: one refund' '
	sim_admin DELETE /_sim/journal >/dev/null &&
	sim_admin POST /_sim/faults "{\"match\":\"refund\",\"kind\":\"status\",\"status\":500}" >/dev/null &&
	wxrecon refund create --out-trade-no ORD-R-3 --out-refund-no RF-3 --amount 100 >out &&
	test "$(refund_posts)" = 2 &&
	sim_admin GET /_sim/state >st.json &&
	test "$(grep -o "\"out_refund_no\":\"RF-3\"" st.json | wc -l)" = 1 &&
	grep -q "PROCESSING, refund_id" out
'
test_expect_success 'refused outright (403 NOT_ENOUGH): exit 1, the ledger row is removed, audited' '
	sim_admin POST /_sim/faults "{\"match\":\"refund\",\"kind\":\"status\",\"status\":403,\"code\":\"NOT_ENOUGH\",\"message\":\"余额不足\"}" >/dev/null &&
	test_exit_code 1 wxrecon refund create --out-trade-no ORD-R-4 --out-refund-no RF-4 --amount 100 2>err &&
	grep -q "refund .RF-4. refused (nothing was refunded; the ledger row is removed)" err &&
	grep -q NOT_ENOUGH err &&
	test "$(db "SELECT count(*) FROM ledger_refunds WHERE out_refund_no = \"RF-4\"")" = 0 &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"refund.refused\" AND subject = \"RF-4\"")" = 1
'
test_expect_success 'the answer lost on every attempt: exit 1, PROCESSING without refund_id' '
	sim_admin POST /_sim/faults "{\"match\":\"refund\",\"kind\":\"drop\",\"after\":true,\"count\":3}" >/dev/null &&
	test_exit_code 1 wxrecon refund create --out-trade-no ORD-R-5 --out-refund-no RF-5 --amount 100 2>err &&
	grep -q "its fate is unknown; it stays PROCESSING" err &&
	test "$(db "SELECT state || \"|\" || coalesce(refund_id, \"\") FROM ledger_refunds WHERE out_refund_no = \"RF-5\"")" = "PROCESSING|"
'
test_expect_success 'the same command then completes it, and WeChat Pay has one refund' '
	wxrecon refund create --out-trade-no ORD-R-5 --out-refund-no RF-5 --amount 100 >out &&
	grep -q "refund_id 503" out &&
	sim_admin GET /_sim/state >st.json &&
	test "$(grep -o "\"out_refund_no\":\"RF-5\"" st.json | wc -l)" = 1 &&
	test -n "$(db "SELECT refund_id FROM ledger_refunds WHERE out_refund_no = \"RF-5\"")"
'
test_expect_success 'answer lost after WeChat Pay took it, then a 4xx: queried, recorded, not removed' '
	sim_admin DELETE /_sim/faults >/dev/null &&
	for i in 8 9; do
		sim_admin POST /_sim/orders "{\"out_trade_no\":\"ORD-R-$i\",\"total\":1000,\"trade_state\":\"SUCCESS\",\"transaction_id\":\"420000000120261101000000000$i\",\"success_time\":\"2026-11-01T09:00:00+08:00\"}" >/dev/null &&
		echo "ORD-R-$i,420000000120261101000000000$i,1000,CNY,PAID,2026-11-01T08:00:00+08:00,,2026-11-01T09:00:00+08:00,," || return 1
	done >o8.csv &&
	sed -i "1i $H" o8.csv && wxrecon ledger import --orders o8.csv >/dev/null &&
	sim_admin POST /_sim/faults "{\"match\":\"refund\",\"kind\":\"drop\",\"after\":true,\"count\":1}" >/dev/null &&
	sim_admin POST /_sim/faults "{\"match\":\"refund\",\"kind\":\"status\",\"status\":400,\"code\":\"INVALID_REQUEST\",\"count\":1}" >/dev/null &&
	{ wxrecon refund create --out-trade-no ORD-R-8 --out-refund-no RF-8 --amount 100 >out 2>err; rc=$?; cat out err >&2; } &&
	test $rc = 0 && grep -q "refund_id 503" out &&
	test "$(db "SELECT count(*) FROM ledger_refunds WHERE out_refund_no = \"RF-8\" AND refund_id IS NOT NULL")" = 1 &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"refund.refused\" AND subject = \"RF-8\"")" = 0
'
test_expect_success 'a timeout, then a 4xx, and WeChat Pay has no such refund: removed, the message says to keep the number' '
	sim_admin DELETE /_sim/faults >/dev/null &&
	sim_admin POST /_sim/faults "{\"match\":\"refund\",\"kind\":\"drop\",\"count\":1}" >/dev/null &&
	sim_admin POST /_sim/faults "{\"match\":\"refund\",\"kind\":\"status\",\"status\":400,\"code\":\"INVALID_REQUEST\",\"count\":1}" >/dev/null &&
	{ wxrecon refund create --out-trade-no ORD-R-9 --out-refund-no RF-9 --amount 100 2>err; rc=$?; cat err >&2; } &&
	test $rc = 1 && grep -q "refund .RF-9. not made" err && grep -q "same out_refund_no, never a new one" err &&
	test "$(db "SELECT count(*) FROM ledger_refunds WHERE out_refund_no = \"RF-9\"")" = 0 &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"refund.refused\" AND subject = \"RF-9\" AND CAST(json_extract(detail, \"$.queried_absent\") AS INTEGER) = 1")" = 1
'
test_expect_code 2 'an emoji in the reason' '
	wxrecon refund create --out-trade-no ORD-R-3 --out-refund-no RF-3b --amount 1 \
		--reason "$(printf "\360\237\216\202")"
'
test_expect_code 2 'a bad out_refund_no' 'wxrecon refund create --out-trade-no ORD-R-3 --out-refund-no "R F" --amount 1'
test_expect_code 2 'the options are required' 'wxrecon refund create --out-trade-no ORD-R-3 --amount 1'
test_expect_code 2 'without a configuration' '
	wxrecon -c /dev/null --db db.sqlite refund create --out-trade-no ORD-R-3 --out-refund-no RF-3c --amount 1
'
test_expect_success 'refund create -h' '
	wxrecon refund create -h >out && grep -q "^usage: wxrecon refund create --out-trade-no NO --out-refund-no NO --amount FEN" out
'
test_expect_success 'the audit log is intact' 'wxrecon audit --verify >/dev/null'
test_done
