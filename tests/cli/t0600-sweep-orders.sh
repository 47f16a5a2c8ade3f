#!/bin/sh
# wxrecon sweep orders against the simulator: every branch, the dry run, --limit,
# a second sweep doing nothing, approval, the brake, rate limits and a response
# that fails verification.
. "$(dirname "$0")/test-lib.sh"
. "$FIXTURES/sweep/lib-sweep.sh"

sweep_setup || { echo "Bail out! no simulator"; exit 1; }

test_expect_success 'setup' '
	seed_orders "[
	 {\"out_trade_no\":\"ORDNOTPAY01\",\"total\":100,\"create_time\":\"2026-11-02T08:00:00+08:00\"},
	 {\"out_trade_no\":\"ORDPAID0001\",\"total\":200,\"create_time\":\"2026-11-02T08:00:00+08:00\",\"trade_state\":\"SUCCESS\",\"success_time\":\"2026-11-01T23:59:30+08:00\",\"transaction_id\":\"4200000001202611019999999901\"},
	 {\"out_trade_no\":\"ORDCLOSED01\",\"total\":300,\"create_time\":\"2026-11-02T08:00:00+08:00\",\"trade_state\":\"CLOSED\"},
	 {\"out_trade_no\":\"ORDREFUND01\",\"total\":500,\"create_time\":\"2026-11-02T08:00:00+08:00\",\"trade_state\":\"SUCCESS\",\"success_time\":\"2026-11-02T08:01:00+08:00\"},
	 {\"out_trade_no\":\"ORDYOUNG001\",\"total\":100,\"create_time\":\"2026-11-02T10:20:00+08:00\"},
	 {\"out_trade_no\":\"ORDNOTEXP01\",\"total\":100,\"create_time\":\"2026-11-02T08:00:00+08:00\",\"time_expire\":\"2026-11-02T11:00:00+08:00\"},
	 {\"out_trade_no\":\"ORDEXPIRED1\",\"total\":100,\"create_time\":\"2026-11-02T08:00:00+08:00\",\"time_expire\":\"2026-11-02T09:00:00+08:00\"}]" &&
	seed_refunds "{\"out_refund_no\":\"RFPART1\",\"out_trade_no\":\"ORDREFUND01\",\"refund\":200,\"status\":\"SUCCESS\",\"success_time\":\"2026-11-02T09:00:00+08:00\"}" &&
	cat >orders.csv <<-\EOF &&
	out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref
	ORDNOTPAY01,,100,CNY,NOTPAY,2026-11-02T08:00:00+08:00,,,,
	ORDPAID0001,,200,CNY,NOTPAY,2026-11-02T08:00:00+08:00,,,,
	ORDCLOSED01,,300,CNY,NOTPAY,2026-11-02T08:00:00+08:00,,,,
	ORDREFUND01,,500,CNY,NOTPAY,2026-11-02T08:00:00+08:00,,,,
	ORDUNKNOWN1,,700,CNY,NOTPAY,2026-11-02T08:00:00+08:00,,,,
	ORDYOUNG001,,100,CNY,NOTPAY,2026-11-02T10:20:00+08:00,,,,
	ORDNOTEXP01,,100,CNY,NOTPAY,2026-11-02T08:00:00+08:00,2026-11-02T11:00:00+08:00,,,
	ORDEXPIRED1,,100,CNY,NOTPAY,2026-11-02T08:00:00+08:00,2026-11-02T09:00:00+08:00,,,
	EOF
	ledger_orders orders.csv &&
	cat >refunds.csv <<-\EOF &&
	out_refund_no,out_trade_no,refund_id,amount_refund,state,created_at,success_at
	RFPART1,ORDREFUND01,,200,SUCCESS,2026-11-02T08:30:00+08:00,2026-11-02T09:00:00+08:00
	EOF
	ledger_refunds refunds.csv &&
	sim_admin DELETE /_sim/journal >/dev/null
'

test_expect_code 3 'a dry run exits as the run would (one order to hold)' '
	wxrecon sweep orders --dry-run >out 2>err
'
test_expect_success 'the dry run prints the plan' '
	grep -q "^would_close  *ORDNOTPAY01  *would close: NOTPAY at WeChat Pay" out &&
	grep -q "^would_close  *ORDEXPIRED1 " out &&
	grep -q "^would_mark_paid  *ORDPAID0001  *would mark PAID" out &&
	grep -q "^would_mark_paid  *ORDREFUND01  *would mark PARTIAL_REFUNDED" out &&
	grep -q "^would_record_closed  *ORDCLOSED01 " out &&
	grep -q "^would_hold  *ORDUNKNOWN1 " out &&
	grep -q "dry run: nothing was changed" out &&
	! grep -q -e ORDYOUNG001 -e ORDNOTEXP01 out
'
test_expect_success 'and makes only queries: no close, no intent, no ledger change' '
	test "$(calls "POST .*")" = 0 &&
	test "$(calls "GET $ORDER_PATH/.*")" = 6 &&
	test "$(db "SELECT count(*) FROM actions")" = 0 &&
	test "$(db "SELECT count(*) FROM ledger_orders WHERE state <> \"NOTPAY\"")" = 0
'

test_expect_code 3 'the sweep: exit 3, one order waits for approval' '
	wxrecon sweep orders >out 2>err
'
test_expect_success 'says why on stderr, in one line' '
	test "$(wc -l <err)" = 1 &&
	grep -q "^wxrecon: sweep orders: 1 action waits for approval" err
'
test_expect_success 'NOTPAY orders were closed: intent, one close, a query confirms' '
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORDNOTPAY01\"")" = CLOSED &&
	test "$(db "SELECT state || \"|\" || result || \"|\" || attempts FROM actions WHERE kind = \"ORDER_CLOSE\" AND target = \"ORDNOTPAY01\"")" = "done|CLOSED|1" &&
	test "$(calls "POST $ORDER_PATH/ORDNOTPAY01/close")" = 1 &&
	test "$(calls "GET $ORDER_PATH/ORDNOTPAY01")" = 3 &&
	journal | grep ORDNOTPAY01 | tail -2 >seq &&
	printf "POST $ORDER_PATH/ORDNOTPAY01/close 204\nGET $ORDER_PATH/ORDNOTPAY01 200\n" >expect &&
	test_cmp expect seq &&
	grep -q "^closed  *ORDNOTPAY01  *closed (204; the query after it says CLOSED) \[action" out
'
test_expect_success 'an order past its time_expire is closed too' '
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORDEXPIRED1\"")" = CLOSED
'
test_expect_success 'too young, and not past time_expire: not even queried' '
	test "$(calls "GET $ORDER_PATH/ORDYOUNG001")" = 0 &&
	test "$(calls "GET $ORDER_PATH/ORDNOTEXP01")" = 0 &&
	test "$(db "SELECT count(*) FROM ledger_orders WHERE out_trade_no IN (\"ORDYOUNG001\", \"ORDNOTEXP01\") AND state = \"NOTPAY\"")" = 2
'
test_expect_success 'a missed payment is marked paid, paid_date in Asia/Shanghai' '
	test "$(db "SELECT state || \"|\" || transaction_id || \"|\" || paid_at || \"|\" || paid_date FROM ledger_orders WHERE out_trade_no = \"ORDPAID0001\"")" = "PAID|4200000001202611019999999901|2026-11-01T23:59:30+08:00|2026-11-01" &&
	test "$(db "SELECT state || \"|\" || result FROM actions WHERE kind = \"ORDER_MARK_PAID\" AND target = \"ORDPAID0001\"")" = "done|PAID" &&
	test "$(calls "POST $ORDER_PATH/ORDPAID0001/close")" = 0
'
test_expect_success 'REFUND at WeChat Pay with a partial refund in the ledger: PARTIAL_REFUNDED' '
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORDREFUND01\"")" = PARTIAL_REFUNDED
'
test_expect_success 'CLOSED at WeChat Pay already: recorded, ledger CLOSED, no close sent' '
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORDCLOSED01\"")" = CLOSED &&
	test "$(calls "POST $ORDER_PATH/ORDCLOSED01/close")" = 0 &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"order.sync\" AND subject = \"ORDCLOSED01\"")" = 1
'
test_expect_success 'unknown to WeChat Pay: recorded, held, not closed' '
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORDUNKNOWN1\"")" = NOTPAY &&
	test "$(db "SELECT state FROM actions WHERE target = \"ORDUNKNOWN1\"")" = pending_approval &&
	test "$(calls "POST $ORDER_PATH/ORDUNKNOWN1/close")" = 0
'
test_expect_success 'every step is audited with the states before and after' '
	db "SELECT event FROM audit_log WHERE subject = \"ORDNOTPAY01\" AND actor = \"sweep\" ORDER BY id" >events &&
	printf "order.close.intent\norder.close.sent\norder.close.done\n" >expect &&
	test_cmp expect events &&
	db "SELECT detail FROM audit_log WHERE event = \"order.close.sent\"" | grep -q "\"before\":\"intent\",\"kind\":\"ORDER_CLOSE\",\"ledger_state\":\"NOTPAY\"" &&
	wxrecon audit --verify >/dev/null
'

test_expect_code 3 'a second sweep right after the first' '
	sim_admin DELETE /_sim/journal >/dev/null &&
	wxrecon --json sweep orders >out
'
test_expect_success 'does nothing: no call at all' '
	test "$(calls_total)" = 0 &&
	grep -q "^{\"candidates\":0,\"closed\":0,\"marked_paid\":0,\"held\":1,\"failed\":0," out &&
	grep -q "\"actions\":\[\]" out
'

test_expect_success 'approve the unknown order' '
	id=$(db "SELECT id FROM actions WHERE target = \"ORDUNKNOWN1\"") &&
	USER=alice wxrecon approve "$id" --note "never reached WeChat Pay" >out &&
	grep -q "^approved action $id: ORDER_CLOSE ORDUNKNOWN1 (7.00 yuan) by alice" out
'
test_expect_success 'the next sweep closes it in the ledger only; exit 0' '
	wxrecon sweep orders >out &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORDUNKNOWN1\"")" = CLOSED &&
	test "$(db "SELECT state || \"|\" || result || \"|\" || approved_by FROM actions WHERE target = \"ORDUNKNOWN1\"")" = "done|CLOSED_LOCALLY|alice" &&
	test "$(calls "POST $ORDER_PATH/ORDUNKNOWN1/close")" = 0
'

# More orders for --limit, the brake and the faults.
test_expect_success 'setup: five more stale orders' '
	for i in 1 2 3 4 5; do
		seed_orders "{\"out_trade_no\":\"ORDMORE000$i\",\"total\":100,\"create_time\":\"2026-11-02T07:0$i:00+08:00\"}" || exit 1
		echo "ORDMORE000$i,,100,CNY,NOTPAY,2026-11-02T07:0$i:00+08:00,,,,"
	done >more.csv &&
	sed -i "1i out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref" more.csv &&
	ledger_orders more.csv &&
	sed "s/^close_max_per_run = .*/close_max_per_run = 4/" wxrecon.conf >brake.conf &&
	sim_admin DELETE /_sim/journal >/dev/null
'
test_expect_code 3 'more candidates than close_max_per_run: the brake' '
	wxrecon -c brake.conf sweep orders >out 2>err
'
test_expect_success 'acts on none and says why in one line' '
	test "$(calls_total)" = 0 &&
	test "$(db "SELECT count(*) FROM ledger_orders WHERE out_trade_no LIKE \"ORDMORE%\" AND state = \"NOTPAY\"")" = 5 &&
	test "$(wc -l <err)" = 1 &&
	grep -q "^wxrecon: sweep orders: brake: 5 orders to sweep, more than close_max_per_run = 4; nothing was done$" err &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"sweep.brake\"")" = 1
'
test_expect_code 3 '--limit does not lift the brake' '
	wxrecon -c brake.conf sweep orders --limit 2 >out 2>err
'
test_expect_success '--limit 2 closes the two oldest and exits 0' '
	wxrecon sweep orders --limit 2 >out &&
	test "$(db "SELECT group_concat(out_trade_no) FROM (SELECT out_trade_no FROM ledger_orders WHERE out_trade_no LIKE \"ORDMORE%\" AND state = \"CLOSED\" ORDER BY out_trade_no) AS o")" = "ORDMORE0001,ORDMORE0002" &&
	grep -q "2 candidates of 5 eligible, 2 closed" out
'

test_expect_code 1 'FREQUENCY_LIMITED beyond the retries: that order fails, exit 1' '
	fault "{\"match\":\"$ORDER_PATH/ORDMORE0003\",\"kind\":\"status\",\"status\":429,\"count\":3}" &&
	wxrecon sweep orders >out 2>err
'
test_expect_success 'the others went on and were closed' '
	grep -q "^failed  *ORDMORE0003  *query failed: .*429 FREQUENCY_LIMITED" out &&
	test "$(db "SELECT count(*) FROM ledger_orders WHERE out_trade_no IN (\"ORDMORE0004\", \"ORDMORE0005\") AND state = \"CLOSED\"")" = 2 &&
	grep -q "^wxrecon: sweep orders: 1 failed" err &&
	test "$(calls "GET $ORDER_PATH/ORDMORE0003")" = 3
'
test_expect_success 'a rate limit the client retries through is no failure' '
	fault "{\"match\":\"$ORDER_PATH/ORDMORE0003\",\"kind\":\"status\",\"status\":429,\"count\":2}" &&
	wxrecon sweep orders >out &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORDMORE0003\"")" = CLOSED
'

test_expect_success 'setup: a payment that lands during the close' '
	seed_orders "{\"out_trade_no\":\"ORDRACE0001\",\"total\":100,\"create_time\":\"2026-11-02T08:00:00+08:00\"}" &&
	printf "out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref\nORDRACE0001,,100,CNY,NOTPAY,2026-11-02T08:00:00+08:00,,,,\n" >race.csv &&
	ledger_orders race.csv &&
	fault "{\"match\":\"close\",\"kind\":\"pay_during_close\"}"
'
test_expect_success 'becomes a mark-paid, never a failure' '
	wxrecon sweep orders >out &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORDRACE0001\"")" = PAID &&
	test "$(db "SELECT state || \"|\" || result FROM actions WHERE kind = \"ORDER_CLOSE\" AND target = \"ORDRACE0001\"")" = "cancelled|PAID" &&
	test "$(db "SELECT state FROM actions WHERE kind = \"ORDER_MARK_PAID\" AND target = \"ORDRACE0001\"")" = done
'

test_expect_success 'setup: two more stale orders and a bad signature on the first query' '
	seed_orders "[{\"out_trade_no\":\"ORDSIG00001\",\"total\":100,\"create_time\":\"2026-11-02T06:00:00+08:00\"},{\"out_trade_no\":\"ORDSIG00002\",\"total\":100,\"create_time\":\"2026-11-02T06:01:00+08:00\"}]" &&
	printf "out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref\nORDSIG00001,,100,CNY,NOTPAY,2026-11-02T06:00:00+08:00,,,,\nORDSIG00002,,100,CNY,NOTPAY,2026-11-02T06:01:00+08:00,,,,\n" >sig.csv &&
	ledger_orders sig.csv &&
	sim_admin DELETE /_sim/journal >/dev/null &&
	fault "{\"match\":\"query\",\"kind\":\"bad_signature\"}"
'
test_expect_code 1 'a response that fails verification: exit 1' '
	wxrecon sweep orders >out 2>err
'
test_expect_success 'and no call at all after it' '
	journal >j &&
	test "$(wc -l <j)" = 1 &&
	grep -q "^GET $ORDER_PATH/ORDSIG00001 200" j &&
	grep -q "^wxrecon: sweep orders: stopped: .*no money-moving call will be made" err &&
	test "$(db "SELECT count(*) FROM actions WHERE target LIKE \"ORDSIG%\"")" = 0
'
test_expect_success 'the next sweep closes both' '
	wxrecon sweep orders >out &&
	test "$(db "SELECT count(*) FROM ledger_orders WHERE out_trade_no LIKE \"ORDSIG%\" AND state = \"CLOSED\"")" = 2
'

test_expect_success 'setup: a bad signature on the close answer' '
	seed_orders "{\"out_trade_no\":\"ORDSIG00003\",\"total\":100,\"create_time\":\"2026-11-02T06:00:00+08:00\"}" &&
	printf "out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref\nORDSIG00003,,100,CNY,NOTPAY,2026-11-02T06:00:00+08:00,,,,\n" >sig3.csv &&
	ledger_orders sig3.csv &&
	sim_admin DELETE /_sim/journal >/dev/null &&
	fault "{\"match\":\"close\",\"kind\":\"bad_signature\"}"
'
test_expect_code 1 'the close answer fails verification: exit 1' '
	wxrecon sweep orders >out 2>err
'
test_expect_success 'the action stays sent; nothing after the close' '
	test "$(db "SELECT state FROM actions WHERE target = \"ORDSIG00003\"")" = sent &&
	journal | tail -1 | grep -q "^POST $ORDER_PATH/ORDSIG00003/close 204"
'
test_expect_success 'the next sweep settles it by a query, without a second close' '
	age_sent && wxrecon sweep orders >out &&
	test "$(db "SELECT state FROM actions WHERE target = \"ORDSIG00003\"")" = done &&
	test "$(calls "POST $ORDER_PATH/ORDSIG00003/close")" = 1 &&
	grep -q "1 settled from earlier runs" out
'

test_expect_success 'setup: another process holds the lock' '
	db "INSERT INTO locks (mchid, name, run_id, pid, host, acquired_at) VALUES (\"1900000001\", \"run\", 77, $$, \"$(uname -n)\", \"2026-11-02T02:00:00Z\")"
'
test_expect_code 75 'another process holding the lock: exit 75, naming it' 'wxrecon sweep orders 2>err'
test_expect_success 'the lock message names the run' '
	grep -q "^wxrecon: locked: run 77 (pid $$" err &&
	db "DELETE FROM locks"
'
test_expect_success 'a step of the run holding the lock shares it' '
	db "INSERT INTO locks (mchid, name, run_id, pid, host, acquired_at) VALUES (\"1900000001\", \"run\", 77, $$, \"$(uname -n)\", \"2026-11-02T02:00:00Z\")" &&
	WXRECON_RUN_ID=77 wxrecon -q --json sweep orders >out &&
	test "$(db "SELECT count(*) FROM locks")" = 1 &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"sweep.start\" AND run_id = 77")" = 1 &&
	db "DELETE FROM locks"
'

test_expect_code 2 'a missing merchant key is a configuration error' '
	sed "/^private_key/d" wxrecon.conf >nokey.conf &&
	wxrecon -c nokey.conf sweep orders 2>err
'
test_expect_code 2 '--older-than takes a duration' 'wxrecon sweep orders --older-than soon'
test_expect_code 2 '--limit takes a number' 'wxrecon sweep orders --limit 0'
test_expect_code 2 'sweep refunds has no --older-than' 'wxrecon sweep refunds --older-than 1h'
test_expect_success '--older-than overrides close_after' '
	seed_orders "{\"out_trade_no\":\"ORDOLDER001\",\"total\":100,\"create_time\":\"2026-11-02T10:24:00+08:00\"}" &&
	printf "out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref\nORDOLDER001,,100,CNY,NOTPAY,2026-11-02T10:24:00+08:00,,,,\n" >older.csv &&
	ledger_orders older.csv &&
	wxrecon sweep orders >out &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORDOLDER001\"")" = NOTPAY &&
	wxrecon sweep orders --older-than 5m >out &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORDOLDER001\"")" = CLOSED
'
test_expect_code 2 'an --older-than under 5 minutes: refused, nothing closed' '
	printf "out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref\nORDFRESH001,,100,CNY,NOTPAY,2026-11-02T10:29:00+08:00,,,,\n" >young.csv &&
	ledger_orders young.csv &&
	wxrecon sweep orders --older-than 0m 2>err
'
test_expect_success 'it says why; the order is untouched, no action filed' '
	grep -q "^wxrecon: .*--older-than of 0 s is too short: WeChat Pay asks that an order is not closed within 5 minutes of its creation; use at least 5m" err &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORDFRESH001\"")" = NOTPAY &&
	test "$(db "SELECT count(*) FROM actions WHERE target = \"ORDFRESH001\"")" = 0 &&
	test "$(calls "GET $ORDER_PATH/ORDFRESH001")" = 0
'
test_expect_code 2 'close_after = 0m: refused the same way' '
	sed "s/^close_after = .*/close_after = 0m/" wxrecon.conf >young.conf &&
	wxrecon --config young.conf sweep orders 2>err &&
	false
'
test_expect_success 'naming close_after' '
	grep -q "\[policy\] close_after of 0 s is too short" err &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORDFRESH001\"")" = NOTPAY
'
test_expect_success 'help shows both sweeps' '
	wxrecon sweep -h >out && grep -q "sweep orders \[--older-than DUR\]" out &&
	grep -q "sweep refunds \[--dry-run\] \[--limit N\]" out
'
test_done
