#!/bin/sh
# The engine's own refunds against the simulator: an order we closed that the
# payer pays afterwards; the bill shows it; reconcile (paid_after_close =
# refund) files one REFUND action; sweep refunds sends exactly one full refund
# (the ledger order PAID and the ledger refund written first), a later sweep
# syncs SUCCESS and the order becomes REFUNDED. Approval, the brakes, the dry
# run, a refusal, a lost answer, and a sweep killed at each step: never a
# second refund.
. "$(dirname "$0")/test-lib.sh"
. "$FIXTURES/sweep/lib-sweep.sh"

sweep_setup || { echo "Bail out! no simulator"; exit 1; }
sed -i "s/^paid_after_close = .*/paid_after_close = refund/" wxrecon.conf

OHDR=out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref

at() { # the business clock and the simulator's
	WXRECON_NOW=$1 && export WXRECON_NOW &&
	sim_admin POST /_sim/clock "{\"now\":\"$1\"}" >/dev/null
}

next_day() { # YYYY-MM-DD -> the day after (dates of November 2026 only)
	printf "2026-11-%02d" "$(expr "${1#2026-11-}" + 1)"
}

# paid_after_close DAY AMOUNT OTN...: the orders are placed at 09:00, swept
# (closed) at 10:00, paid at 10:05; the next morning the day's bills are
# fetched and reconciled.
paid_after_close() {
	_d=$1 _amt=$2 && shift 2 &&
	at "${_d}T09:00:00+08:00" &&
	printf "$OHDR\n" >o.csv &&
	for _o in "$@"; do
		seed_orders "{\"out_trade_no\":\"$_o\",\"total\":$_amt,\"create_time\":\"${_d}T09:00:00+08:00\"}" &&
		printf "$_o,,$_amt,CNY,NOTPAY,${_d}T09:00:00+08:00,,,,\n" >>o.csv || return 1
	done &&
	ledger_orders o.csv &&
	at "${_d}T10:00:00+08:00" &&
	wxrecon sweep orders >/dev/null &&
	for _o in "$@"; do
		test "$(action_of ORDER_CLOSE $_o)" = done &&
		sim_admin POST /_sim/orders/$_o/pay "{\"success_time\":\"${_d}T10:05:00+08:00\"}" >/dev/null ||
			return 1
	done &&
	at "$(next_day $_d)T10:30:00+08:00" &&
	wxrecon bill fetch --date $_d >/dev/null &&
	{ wxrecon reconcile --date $_d >reconcile.out; _rc=$?; test $_rc = 0 || test $_rc = 3; } &&
	sim_admin DELETE /_sim/journal >/dev/null
}

posts() { # refund requests in the journal (cleared when each order's day is reconciled)
	calls "POST $REFUND_PATH"
}

sim_refunds_of() { # OUT_TRADE_NO -> how many refunds the simulator has for it
	sim_admin GET /_sim/state | sed 's/.*"refunds":\[//; s/},{/}\n{/g' |
		grep -c "\"out_trade_no\":\"$1\"" || true
}

sim_refund() { # OUT_REFUND_NO FIELD -> the simulator's value
	sim_admin GET /_sim/refunds/$1 | sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p"
}

# ---- one order closed by us and paid afterwards -----------------------------

test_expect_success 'closed by us, paid afterwards: reconcile files one REFUND action' '
	paid_after_close 2026-11-01 1000 ORDPAC0001 &&
	test "$(action_of REFUND PAC-ORDPAC0001)" = intent &&
	test "$(db "SELECT amount FROM actions WHERE kind = \"REFUND\"")" = 1000 &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORDPAC0001\"")" = CLOSED &&
	db "SELECT status || \"|\" || resolution FROM discrepancies WHERE kind = \"MISSED_PAYMENT\"" |
		grep -q "^auto_resolved|paid after we closed the order: full refund filed as REFUND action [0-9]* (out_refund_no PAC-ORDPAC0001, intent)"
'
test_expect_success 'a re-run of reconcile files no second action' '
	wxrecon reconcile --date 2026-11-01 >out &&
	test "$(db "SELECT count(*) FROM actions WHERE kind = \"REFUND\"")" = 1 &&
	test "$(action_of REFUND PAC-ORDPAC0001)" = intent
'
test_expect_success 'a dry run lists it in the plan and sends nothing' '
	wxrecon sweep refunds --dry-run >out &&
	grep -q "^would_refund  *PAC-ORDPAC0001  *would refund 1000 fen of order ORDPAC0001 (transaction [0-9]*); the ledger order (CLOSED) would be marked PAID first" out &&
	wxrecon --json sweep refunds --dry-run >out.json &&
	grep -q "\"refunds\":1," out.json && grep -q "\"plan\":\[{\"target\":\"PAC-ORDPAC0001\",\"what\":\"would_refund\"" out.json &&
	test "$(calls "POST .*")" = 0 &&
	test "$(action_of REFUND PAC-ORDPAC0001)" = intent &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORDPAC0001\"")" = CLOSED &&
	test "$(db "SELECT count(*) FROM ledger_refunds")" = 0
'
test_expect_success 'sweep refunds sends exactly one refund, for the full amount' '
	wxrecon sweep refunds >out &&
	grep -q "^refunded  *PAC-ORDPAC0001  *refund of 1000 fen of order ORDPAC0001 accepted: PROCESSING at WeChat Pay" out &&
	test "$(posts)" = 1 && test "$(sim_refunds_of ORDPAC0001)" = 1 &&
	test "$(sim_refund PAC-ORDPAC0001 refund)" = 1000 &&
	test "$(sim_refund PAC-ORDPAC0001 total)" = 1000 &&
	test "$(sim_refund PAC-ORDPAC0001 out_trade_no)" = ORDPAC0001 &&
	test "$(sim_refund PAC-ORDPAC0001 status)" = PROCESSING &&
	test "$(db "SELECT state || \"|\" || result || \"|\" || attempts FROM actions WHERE kind = \"REFUND\"")" = "done|PROCESSING|1"
'
test_expect_success 'the ledger: the order PAID from the bill, the refund PROCESSING with its refund_id' '
	txn=$(db "SELECT transaction_id FROM bill_trades WHERE out_trade_no = \"ORDPAC0001\" AND row_kind = \"SUCCESS\"") &&
	test -n "$txn" &&
	test "$(db "SELECT state || \"|\" || transaction_id || \"|\" || paid_at FROM ledger_orders WHERE out_trade_no = \"ORDPAC0001\"")" = "PAID|$txn|2026-11-01T10:05:00+08:00" &&
	test "$(db "SELECT state || \"|\" || amount_refund || \"|\" || out_trade_no || \"|\" || refund_id FROM ledger_refunds WHERE out_refund_no = \"PAC-ORDPAC0001\"")" = "PROCESSING|1000|ORDPAC0001|$(sim_refund PAC-ORDPAC0001 refund_id)"
'
test_expect_success 'audited: the ledger changes before the call, then the answer' '
	db "SELECT event FROM audit_log WHERE event LIKE \"refund.engine.%\" OR event = \"ledger.order_paid\" ORDER BY id" >events &&
	printf "ledger.order_paid\nrefund.engine.intent\nrefund.engine.sent\nrefund.engine.done\n" >expect &&
	test_cmp expect events &&
	wxrecon audit --verify >/dev/null
'
test_expect_success 'a second sweep sends nothing' '
	wxrecon sweep refunds >out &&
	test "$(calls "POST .*")" = 1 &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORDPAC0001\"")" = PAID
'
test_expect_success 'WeChat Pay pays it out: the next sweep syncs SUCCESS, the order is REFUNDED' '
	sim_admin POST /_sim/refunds/PAC-ORDPAC0001/status "{\"status\":\"SUCCESS\",\"success_time\":\"2026-11-02T10:40:00+08:00\"}" >/dev/null &&
	wxrecon sweep refunds >out &&
	test "$(db "SELECT state || \"|\" || success_at FROM ledger_refunds WHERE out_refund_no = \"PAC-ORDPAC0001\"")" = "SUCCESS|2026-11-02T10:40:00+08:00" &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORDPAC0001\"")" = REFUNDED &&
	grep -q "^order_synced  *ORDPAC0001  *ledger order PAID -> REFUNDED: 1000 of 1000 fen refunded" out &&
	test "$(posts)" = 1 && test "$(sim_refunds_of ORDPAC0001)" = 1
'
test_expect_success 'reconcile: the payment day and the refund day are clean, still one action' '
	wxrecon reconcile --date 2026-11-01 >out &&
	at 2026-11-03T10:30:00+08:00 &&
	wxrecon bill fetch --date 2026-11-02 >/dev/null &&
	test "$(db "SELECT refund_amount FROM bill_trades WHERE out_refund_no = \"PAC-ORDPAC0001\"")" = 1000 &&
	wxrecon reconcile --date 2026-11-02 >out &&
	test "$(db "SELECT count(*) FROM discrepancies WHERE status = \"open\"")" = 0 &&
	test "$(db "SELECT count(*) FROM actions WHERE kind = \"REFUND\"")" = 1
'

# ---- above approval_above: it waits for approve ------------------------------

test_expect_success 'above approval_above: filed pending_approval' '
	paid_after_close 2026-11-05 60000 ORDPAC0002 &&
	test "$(action_of REFUND PAC-ORDPAC0002)" = pending_approval
'
test_expect_code 3 'the sweep sends nothing and exits 3' '
	wxrecon sweep refunds >out 2>err
'
test_expect_success 'it says the action waits for approval' '
	test "$(calls "POST .*")" = 0 &&
	grep -q "^held  *PAC-ORDPAC0002  *REFUND action [0-9]* (60000 fen) waits for approval" out &&
	grep -q "^wxrecon: sweep refunds: 1 action waits for approval" err &&
	wxrecon actions --pending | grep -q "PAC-ORDPAC0002" &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORDPAC0002\"")" = CLOSED
'
test_expect_success 'approve it: the next sweep sends it, once' '
	id=$(db "SELECT id FROM actions WHERE target = \"PAC-ORDPAC0002\"") &&
	USER=carol wxrecon approve "$id" --note "customer asked" >out &&
	grep -q "the next .wxrecon sweep refunds. sends it" out &&
	wxrecon sweep refunds >out &&
	test "$(posts)" = 1 && test "$(sim_refunds_of ORDPAC0002)" = 1 &&
	test "$(sim_refund PAC-ORDPAC0002 refund)" = 60000 &&
	test "$(db "SELECT state || \"|\" || approved_by FROM actions WHERE target = \"PAC-ORDPAC0002\"")" = "done|carol" &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORDPAC0002\"")" = PAID
'

# ---- the brakes count the engine's refunds ---------------------------------

test_expect_success 'three orders paid after close' '
	paid_after_close 2026-11-07 20000 ORDPAC0003 ORDPAC0004 ORDPAC0005 &&
	test "$(db "SELECT count(*) FROM actions WHERE kind = \"REFUND\" AND state = \"intent\"")" = 3 &&
	sed "s/^\[policy\]/[policy]\nabnormal_refund_max_per_run = 2/" wxrecon.conf >count.conf &&
	sed "s/^\[policy\]/[policy]\nabnormal_refund_max_amount_per_run = 50000/" wxrecon.conf >amount.conf
'
test_expect_code 3 'more than abnormal_refund_max_per_run: the brake' '
	wxrecon -c count.conf sweep refunds >out 2>err
'
test_expect_success 'nothing sent, one line why' '
	test "$(calls "POST .*")" = 0 &&
	test "$(wc -l <err)" = 1 &&
	grep -q "^wxrecon: sweep refunds: brake: 3 refunds to send, more than abnormal_refund_max_per_run = 2; nothing was done$" err &&
	test "$(db "SELECT count(*) FROM actions WHERE kind = \"REFUND\" AND state = \"intent\"")" = 3 &&
	test "$(db "SELECT count(*) FROM ledger_refunds WHERE out_trade_no IN (\"ORDPAC0003\", \"ORDPAC0004\", \"ORDPAC0005\")")" = 0 &&
	test "$(db "SELECT count(*) FROM ledger_orders WHERE state = \"CLOSED\"")" = 3
'
test_expect_code 3 'more money than abnormal_refund_max_amount_per_run: the brake' '
	wxrecon -c amount.conf sweep refunds >out 2>err
'
test_expect_success 'names the amount brake' '
	test_grep "brake: 3 refunds to send for 60000 fen, more than abnormal_refund_max_amount_per_run = 50000 fen" err
'
test_expect_code 3 'the dry run exits as the run would' '
	wxrecon -c count.conf sweep refunds --dry-run >out 2>err
'
test_expect_success 'and names the brake' 'test_grep "brake: 3 refunds to send" err'
test_expect_success 'within the brakes all three are sent, once each' '
	test "$(calls "POST .*")" = 0 &&
	wxrecon sweep refunds >out &&
	test "$(posts)" = 3 &&
	for o in ORDPAC0003 ORDPAC0004 ORDPAC0005; do
		test "$(sim_refunds_of $o)" = 1 && test "$(action_of REFUND PAC-$o)" = done ||
			return 1
	done
'

# ---- a sweep killed after sent, and after the call --------------------------

d=2026-11-09
for point in after-sent after-call; do
	case $point in
	after-sent) otn=ORDPACKS01 before=0 query=404 ;;
	after-call) otn=ORDPACKC01 before=1 query=200 ;;
	esac
	test_expect_success "setup: $otn paid after close" "
		paid_after_close $d 800 $otn
	"
	test_expect_code 137 "the sweep dies $point" "
		WXRECON_TEST_CRASH_AT=$point wxrecon sweep refunds >out 2>err
	"
	test_expect_success "$point: the action is left sent, the ledger written, $before refund sent" "
		test \"\$(action_of REFUND PAC-$otn)\" = sent &&
		test \"\$(db \"SELECT state FROM ledger_refunds WHERE out_refund_no = 'PAC-$otn'\")\" = PROCESSING &&
		test \"\$(db \"SELECT state FROM ledger_orders WHERE out_trade_no = '$otn'\")\" = PAID &&
		test \"\$(posts)\" = $before && test \"\$(sim_refunds_of $otn)\" = $before
	"
	test_expect_success "$point: the next sweep settles it by a query ($query); one refund in all" "
		age_sent && wxrecon sweep refunds >out &&
		test \"\$(action_of REFUND PAC-$otn)\" = done &&
		journal | grep -q \"^GET $REFUND_PATH/PAC-$otn $query\\$\" &&
		test \"\$(posts)\" = 1 && test \"\$(sim_refunds_of $otn)\" = 1 &&
		test \"\$(sim_refund PAC-$otn refund)\" = 800 &&
		test \"\$(db \"SELECT count(*) FROM ledger_refunds WHERE out_trade_no = '$otn'\")\" = 1
	"
	d=2026-11-11
done
test_expect_success 'after-sent: unknown to WeChat Pay, so it was sent again, same out_refund_no' '
	test "$(db "SELECT attempts FROM actions WHERE target = \"PAC-ORDPACKS01\"")" = 2 &&
	test "$(db "SELECT attempts FROM actions WHERE target = \"PAC-ORDPACKC01\"")" = 1 &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"refund.engine.resent\" AND subject = \"PAC-ORDPACKS01\"")" = 1
'

test_expect_success 'kill -9 while the refund is in flight' '
	paid_after_close 2026-11-13 900 ORDPACFLY1 &&
	fault "{\"match\":\"refund\",\"kind\":\"delay\",\"ms\":1500}" &&
	{ "$WXRECON_BIN" sweep refunds >out 2>err & } &&
	pid=$! &&
	wait_for "test \"\$(action_of REFUND PAC-ORDPACFLY1)\" = sent" &&
	sleep 0.3 &&
	kill -9 $pid && { wait $pid; test $? = 137; } &&
	wait_for "test \"\$(sim_refunds_of ORDPACFLY1)\" = 1"
'
test_expect_success 'a re-run at once sends nothing: the refund may still be in flight' '
	wxrecon sweep refunds >out &&
	test "$(action_of REFUND PAC-ORDPACFLY1)" = sent && test "$(posts)" = 1 &&
	grep -q "REFUND action [0-9]* was sent [0-9]* s ago and its call may still be in flight" out
'
test_expect_success 'the next sweep settles it by a query, with no second refund' '
	age_sent && wxrecon sweep refunds >out &&
	test "$(action_of REFUND PAC-ORDPACFLY1)" = done &&
	test "$(posts)" = 1 && test "$(sim_refunds_of ORDPACFLY1)" = 1 &&
	grep -q "^refunded  *PAC-ORDPACFLY1  *refund of 900 fen of order ORDPACFLY1 accepted: PROCESSING at WeChat Pay (settled by a query; not sent again)" out
'

# ---- answers: lost, refused ------------------------------------------------

test_expect_success 'the answer is lost after WeChat Pay took it: the query after it decides' '
	paid_after_close 2026-11-15 300 ORDPACLOST &&
	fault "{\"match\":\"refund\",\"kind\":\"drop\",\"after\":true,\"count\":20}" &&
	wxrecon sweep refunds >out 2>err &&
	sim_admin DELETE /_sim/faults >/dev/null &&
	test "$(action_of REFUND PAC-ORDPACLOST)" = done &&
	test "$(posts)" -ge 2 && test "$(sim_refunds_of ORDPACLOST)" = 1 &&
	test "$(sim_refund PAC-ORDPACLOST refund)" = 300 &&
	journal | tail -1 | grep -q "^GET $REFUND_PATH/PAC-ORDPACLOST 200" &&
	test "$(db "SELECT state FROM ledger_refunds WHERE out_refund_no = \"PAC-ORDPACLOST\"")" = PROCESSING
'
test_expect_success 'refused (403 NOT_ENOUGH): exit 3' '
	paid_after_close 2026-11-17 400 ORDPACNOPE &&
	fault "{\"match\":\"refund\",\"kind\":\"status\",\"status\":403,\"code\":\"NOT_ENOUGH\",\"message\":\"基本账户余额不足\"}" &&
	test_exit_code 3 wxrecon sweep refunds >out 2>err
'
test_expect_success 'the action failed with the code; the ledger refund is removed, the payment kept' '
	test "$(db "SELECT state || \"|\" || result FROM actions WHERE target = \"PAC-ORDPACNOPE\"")" = "failed|NOT_ENOUGH" &&
	test "$(db "SELECT count(*) FROM ledger_refunds WHERE out_refund_no = \"PAC-ORDPACNOPE\"")" = 0 &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORDPACNOPE\"")" = PAID &&
	grep -q "^attention  *PAC-ORDPACNOPE  *refused by WeChat Pay (403 NOT_ENOUGH)" out &&
	grep -q "^wxrecon: sweep refunds: 1 need a person" err &&
	test "$(sim_refunds_of ORDPACNOPE)" = 0 &&
	db "SELECT detail FROM audit_log WHERE event = \"refund.engine.failed\" AND subject = \"PAC-ORDPACNOPE\"" |
		grep -q "\"ledger_refund\":\"removed (nothing was refunded)\""
'
test_expect_success 'a failed one is not sent again; it stays on the pending list' '
	wxrecon sweep refunds >out &&
	test "$(posts)" = 1 &&
	wxrecon actions --pending --json | grep -q "\"kind\":\"REFUND\",\"target\":\"PAC-ORDPACNOPE\",\"state\":\"failed\",\"result\":\"NOT_ENOUGH\""
'
test_expect_success 'reconcile sees the payment in the ledger now and files nothing again' '
	wxrecon reconcile --date 2026-11-17 >out &&
	test "$(db "SELECT count(*) FROM actions WHERE target = \"PAC-ORDPACNOPE\"")" = 1
'
test_expect_success 'the answer lost after WeChat Pay took it, then a 400: the query decides, nothing removed' '
	paid_after_close 2026-11-19 500 ORDPACAMBI &&
	fault "{\"match\":\"refund\",\"kind\":\"drop\",\"after\":true,\"count\":1}" &&
	fault "{\"match\":\"refund\",\"kind\":\"status\",\"status\":400,\"code\":\"INVALID_REQUEST\",\"count\":1}" &&
	{ wxrecon sweep refunds >out 2>err; rc=$?; cat out err >&2; } && test $rc = 0 &&
	test "$(action_of REFUND PAC-ORDPACAMBI)" = done &&
	test "$(sim_refunds_of ORDPACAMBI)" = 1 &&
	test "$(db "SELECT state FROM ledger_refunds WHERE out_refund_no = \"PAC-ORDPACAMBI\"")" = PROCESSING
'
test_expect_success 'ten refunds done, one for each order; the audit log is intact' '
	test "$(db "SELECT count(*) FROM actions WHERE kind = \"REFUND\" AND state = \"done\"")" = 10 &&
	test "$(sim_admin GET /_sim/state | sed "s/.*\"refunds\":\[//; s/},{/}\n{/g" | grep -c "\"out_refund_no\":\"PAC-")" = 10 &&
	wxrecon audit --verify >out && grep -q "^audit log intact" out
'
test_done
