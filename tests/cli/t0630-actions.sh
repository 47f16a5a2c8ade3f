#!/bin/sh
# wxrecon actions [--pending] [DATES] and wxrecon approve ACTION_ID [--note TEXT].
. "$(dirname "$0")/test-lib.sh"
. "$FIXTURES/sweep/lib-sweep.sh"

sweep_setup || { echo "Bail out! no simulator"; exit 1; }

test_expect_success 'setup: a closed order, a held one (one day), a held refund (the next)' '
	seed_orders "[{\"out_trade_no\":\"ORDACT0001\",\"total\":100,\"create_time\":\"2026-11-02T08:00:00+08:00\"},
	 {\"out_trade_no\":\"ORDACTPAY1\",\"total\":100000,\"create_time\":\"2026-11-01T08:00:00+08:00\",\"trade_state\":\"SUCCESS\",\"success_time\":\"2026-11-01T08:01:00+08:00\"}]" &&
	seed_refunds "{\"out_refund_no\":\"RFACT01\",\"out_trade_no\":\"ORDACTPAY1\",\"refund\":60000,\"status\":\"ABNORMAL\"}" &&
	printf "out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref\nORDACT0001,,100,CNY,NOTPAY,2026-11-02T08:00:00+08:00,,,,\nORDACTNONE,,250,CNY,NOTPAY,2026-11-02T08:00:00+08:00,,,,\n" >o.csv &&
	ledger_orders o.csv &&
	printf "out_refund_no,out_trade_no,refund_id,amount_refund,state,created_at,success_at\nRFACT01,ORDACTPAY1,,60000,ABNORMAL,2026-11-01T09:00:00+08:00,\n" >r.csv &&
	ledger_refunds r.csv &&
	{ wxrecon sweep orders >/dev/null; test $? = 3; } &&
	{ WXRECON_NOW=2026-11-03T10:30:00+08:00 wxrecon sweep refunds >/dev/null; test $? = 3; }
'
test_expect_success 'actions lists them all, oldest first' '
	wxrecon actions >out &&
	head -1 out | grep -q "^ID  *KIND  *TARGET  *STATE  *AMOUNT  *RESULT  *AT$" &&
	sed -n 2p out | grep -q "^1  *ORDER_CLOSE  *ORDACT0001  *done  *1.00  *CLOSED  *2026-11-02T10:30:00+08:00$" &&
	grep -q "^2  *ORDER_CLOSE  *ORDACTNONE  *pending_approval  *2.50  *-  " out &&
	grep -q "^3  *ABNORMAL_REFUND  *RFACT01  *pending_approval  *600.00  *-  *2026-11-03T10:30:00+08:00$" out &&
	grep -q "^       60000 fen is above approval_above = 50000 fen" out
'
test_expect_success 'actions --json: the SPEC 8 fields' '
	wxrecon actions --json >out &&
	grep -q "^\[{\"id\":1,\"kind\":\"ORDER_CLOSE\",\"target\":\"ORDACT0001\",\"state\":\"done\",\"result\":\"CLOSED\",\"run_id\":null,\"at\":\"2026-11-02T10:30:00+08:00\"," out
'
test_expect_success '--json may stand after the command' '
	wxrecon actions --json >a && wxrecon --json actions >b && test_cmp a b
'
test_expect_success 'actions DATES: those of the dates' '
	wxrecon actions --date 2026-11-03 --json >out &&
	test "$(grep -o "\"id\":[0-9]*" out | tr "\n" " ")" = "\"id\":3 " &&
	wxrecon actions --from 2026-11-01 --to 2026-11-02 --json >out &&
	test "$(grep -o "\"id\":[0-9]*" out | tr "\n" " ")" = "\"id\":1 \"id\":2 "
'
test_expect_success 'actions --pending: the unfinished ones, whatever their date' '
	wxrecon actions --pending --date 2026-11-03 --json >out &&
	test "$(grep -o "\"id\":[0-9]*" out | tr "\n" " ")" = "\"id\":2 \"id\":3 "
'
test_expect_success 'a day without actions' '
	wxrecon actions --date 2026-10-01 >out && grep -q "^no actions$" out &&
	wxrecon actions --date 2026-10-01 --json >out && test "$(cat out)" = "[]"
'
test_expect_success 'actions works without a config (--db alone)' '
	mv wxrecon.conf away.conf &&
	{ wxrecon --db var/test.db actions --json >out;
	  rc=$?; mv away.conf wxrecon.conf; test $rc = 0; } &&
	grep -q "\"id\":3" out
'
test_expect_code 2 'actions: bad date' 'wxrecon actions --date 2026-13-01'
test_expect_code 2 'approve needs an id' 'wxrecon approve'
test_expect_code 2 'approve: a bad id' 'wxrecon approve x1'
test_expect_code 1 'approve: no such action' 'wxrecon approve 99 2>err'
test_expect_success 'says so' 'grep -q "^wxrecon: approve: no action 99$" err'
test_expect_code 1 'approve: an action that is not held' 'wxrecon approve 1 2>err'
test_expect_success 'names its state' '
	grep -q "^wxrecon: approve: action 1 (ORDER_CLOSE .ORDACT0001.) is done, not pending_approval$" err
'
test_expect_success 'approve: who and the note are kept and audited' '
	USER=erin wxrecon --json approve 3 --note "customer confirmed the card" >out &&
	grep -q "\"id\":3,\"kind\":\"ABNORMAL_REFUND\",\"target\":\"RFACT01\",\"state\":\"intent\"" out &&
	grep -q "\"approved_by\":\"erin\",\"approval_note\":\"customer confirmed the card\"" out &&
	db "SELECT actor || \"|\" || event || \"|\" || subject FROM audit_log WHERE event = \"action.approve\"" >a &&
	echo "approve|action.approve|RFACT01" >expect && test_cmp expect a &&
	db "SELECT detail FROM audit_log WHERE event = \"action.approve\"" | grep -q "\"after\":\"intent\",\"amount\":60000,\"before\":\"pending_approval\",\"by\":\"erin\""
'
test_expect_success 'approve without $USER: "unknown"' '
	env -u USER "$WXRECON_BIN" approve 2 >out &&
	grep -q "by unknown; the next .wxrecon sweep orders. sends it" out
'
test_expect_success 'approve twice: the second is refused' '
	test_must_fail wxrecon approve 3 2>err && grep -q "is intent, not pending_approval" err
'
test_expect_success 'help for both' '
	wxrecon actions -h >out && grep -q "^usage: wxrecon actions \[--pending\] \[DATES\]" out &&
	wxrecon approve -h >out && grep -q "^usage: wxrecon approve ACTION_ID \[--note TEXT\]" out &&
	wxrecon refund abnormal -h >out && grep -q "^usage: wxrecon refund abnormal OUT_REFUND_NO --user-card" out
'
test_done
