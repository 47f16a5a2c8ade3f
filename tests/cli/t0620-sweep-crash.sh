#!/bin/sh
# A sweep killed at every step of a close and of an abnormal refund (kill -9
# while the call is in flight; _exit at the steps around it through the
# test-only WXRECON_TEST_CRASH_AT hook) is settled by the next sweep with a
# query, and the simulator's journal shows no second close or abnormal refund.
. "$(dirname "$0")/test-lib.sh"
. "$FIXTURES/sweep/lib-sweep.sh"

sweep_setup || { echo "Bail out! no simulator"; exit 1; }

OHDR=out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref
RHDR=out_refund_no,out_trade_no,refund_id,amount_refund,state,created_at,success_at

new_order() {
	seed_orders "{\"out_trade_no\":\"$1\",\"total\":100,\"create_time\":\"2026-11-02T08:00:00+08:00\"}" &&
	printf "$OHDR\n$1,,100,CNY,NOTPAY,2026-11-02T08:00:00+08:00,,,,\n" >o.csv &&
	ledger_orders o.csv
}

new_refund() {
	seed_refunds "{\"out_refund_no\":\"$1\",\"out_trade_no\":\"ORDCRASHPAY\",\"refund\":100,\"status\":\"ABNORMAL\"}" &&
	printf "$RHDR\n$1,ORDCRASHPAY,,100,ABNORMAL,2026-11-01T09:00:00+08:00,\n" >r.csv &&
	ledger_refunds r.csv
}

test_expect_success 'setup: a paid order for the refunds' '
	seed_orders "{\"out_trade_no\":\"ORDCRASHPAY\",\"total\":10000,\"create_time\":\"2026-11-01T08:00:00+08:00\",\"trade_state\":\"SUCCESS\",\"success_time\":\"2026-11-01T08:01:00+08:00\"}"
'

i=0
for point in after-intent after-sent after-call; do
	i=$((i + 1))
	otn=ORDCRASH00$i
	case $point in
	after-intent) left=intent closes=0 ;;
	after-sent) left=sent closes=0 ;;
	after-call) left=sent closes=1 ;;
	esac
	test_expect_code 137 "close: the process dies $point" "
		new_order $otn &&
		WXRECON_TEST_CRASH_AT=$point wxrecon sweep orders >out 2>err
	"
	test_expect_success "close: the action is left $left, $closes close sent" "
		test \"\$(action_of ORDER_CLOSE $otn)\" = $left &&
		test \"\$(calls \"POST $ORDER_PATH/$otn/close\")\" = $closes &&
		test \"\$(db \"SELECT state FROM ledger_orders WHERE out_trade_no = '$otn'\")\" = NOTPAY
	"
	test_expect_success "close ($point): the next sweep settles it; one close in all" "
		age_sent && wxrecon sweep orders >out &&
		test \"\$(action_of ORDER_CLOSE $otn)\" = done &&
		test \"\$(db \"SELECT state FROM ledger_orders WHERE out_trade_no = '$otn'\")\" = CLOSED &&
		test \"\$(calls \"POST $ORDER_PATH/$otn/close\")\" = 1 &&
		grep -q '1 settled from earlier runs' out &&
		test \"\$(db \"SELECT count(*) FROM audit_log WHERE event = 'lock.takeover'\")\" = $i
	"
done

test_expect_success 'close: kill -9 while the close is in flight' '
	new_order ORDCRASHFLY &&
	fault "{\"match\":\"close\",\"kind\":\"delay\",\"ms\":1500}" &&
	{ "$WXRECON_BIN" sweep orders >out 2>err & } &&
	pid=$! &&
	wait_for "test \"\$(action_of ORDER_CLOSE ORDCRASHFLY)\" = sent" &&
	sleep 0.3 &&
	kill -9 $pid && { wait $pid; test $? = 137; } &&
	test "$(action_of ORDER_CLOSE ORDCRASHFLY)" = sent
'
test_expect_success 'the close lands at WeChat Pay after the process died' '
	wait_for "test \"\$(calls \"POST $ORDER_PATH/ORDCRASHFLY/close\")\" = 1"
'
test_expect_success 'a re-run at once leaves it: the call may still be in flight' '
	wxrecon sweep orders >out &&
	test "$(action_of ORDER_CLOSE ORDCRASHFLY)" = sent &&
	grep -q "ORDER_CLOSE action [0-9]* was sent [0-9]* s ago and its call may still be in flight" out &&
	test "$(calls "POST $ORDER_PATH/ORDCRASHFLY/close")" = 1
'
test_expect_success 'the next sweep settles it by a query, with no second close' '
	age_sent && wxrecon sweep orders >out &&
	test "$(action_of ORDER_CLOSE ORDCRASHFLY)" = done &&
	test "$(calls "POST $ORDER_PATH/ORDCRASHFLY/close")" = 1 &&
	journal | grep ORDCRASHFLY | tail -1 | grep -q "^GET $ORDER_PATH/ORDCRASHFLY 200" &&
	grep -q "settled ORDER_CLOSE action [0-9]* (sent before): CLOSED at WeChat Pay, no close sent again" out
'

i=0
for point in after-intent after-sent after-call; do
	i=$((i + 1))
	orn=RFCRASH0$i
	case $point in
	after-intent) left=intent sent=0 ;;
	after-sent) left=sent sent=0 ;;
	after-call) left=sent sent=1 ;;
	esac
	test_expect_code 137 "abnormal refund: the process dies $point" "
		new_refund $orn &&
		WXRECON_TEST_CRASH_AT=$point wxrecon sweep refunds >out 2>err
	"
	test_expect_success "abnormal refund: the action is left $left, $sent sent" "
		test \"\$(action_of ABNORMAL_REFUND $orn)\" = $left &&
		rid=\$(sim_admin GET /_sim/refunds/$orn | sed 's/.*\"refund_id\":\"\\([0-9]*\\)\".*/\\1/') &&
		test \"\$(calls \"POST $REFUND_PATH/\$rid/apply-abnormal-refund\")\" = $sent
	"
	test_expect_success "abnormal refund ($point): the next sweep settles it; one in all" "
		age_sent && wxrecon sweep refunds >out &&
		test \"\$(action_of ABNORMAL_REFUND $orn)\" = done &&
		rid=\$(sim_admin GET /_sim/refunds/$orn | sed 's/.*\"refund_id\":\"\\([0-9]*\\)\".*/\\1/') &&
		test \"\$(calls \"POST $REFUND_PATH/\$rid/apply-abnormal-refund\")\" = 1 &&
		test \"\$(db \"SELECT state FROM ledger_refunds WHERE out_refund_no = '$orn'\")\" = PROCESSING
	"
done

test_expect_success 'abnormal refund: kill -9 while the call is in flight' '
	new_refund RFCRASHFLY &&
	fault "{\"match\":\"abnormal_refund\",\"kind\":\"delay\",\"ms\":1500}" &&
	{ "$WXRECON_BIN" sweep refunds >out 2>err & } &&
	pid=$! &&
	wait_for "test \"\$(action_of ABNORMAL_REFUND RFCRASHFLY)\" = sent" &&
	sleep 0.3 &&
	kill -9 $pid && { wait $pid; test $? = 137; } &&
	rid=$(sim_admin GET /_sim/refunds/RFCRASHFLY | sed "s/.*\"refund_id\":\"\([0-9]*\)\".*/\1/") &&
	wait_for "test \"\$(calls \"POST $REFUND_PATH/$rid/apply-abnormal-refund\")\" = 1"
'
test_expect_success 'the next sweep settles it by a query, with no second abnormal refund' '
	age_sent && wxrecon sweep refunds >out &&
	test "$(action_of ABNORMAL_REFUND RFCRASHFLY)" = done &&
	rid=$(sim_admin GET /_sim/refunds/RFCRASHFLY | sed "s/.*\"refund_id\":\"\([0-9]*\)\".*/\1/") &&
	test "$(calls "POST $REFUND_PATH/$rid/apply-abnormal-refund")" = 1 &&
	grep -q "settled ABNORMAL_REFUND action [0-9]*: PROCESSING at WeChat Pay, not sent again" out
'

test_expect_success 'the audit log is intact after all the crashes' '
	wxrecon audit --verify >out && grep -q "^audit log intact" out
'
test_expect_success 'WXRECON_TEST_CRASH_AT is inert for other values' '
	new_order ORDCRASHNOT &&
	WXRECON_TEST_CRASH_AT=nowhere wxrecon sweep orders >out &&
	test "$(action_of ORDER_CLOSE ORDCRASHNOT)" = done
'
test_done
