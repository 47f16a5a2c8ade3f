#!/bin/sh
# End to end against the simulator: order create -> the app pays -> the
# payment notification -> ledger PAID -> the next day's bill -> reconcile
# clean -> refund create -> WeChat Pay marks it ABNORMAL -> the refund
# notification -> ledger ABNORMAL -> that day's bill -> reconcile clean.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-payflow.sh"

pf_setup || exit 1
test_when_finished notify_kill
notify_start || exit 1

test_expect_success 'the merchant places an order' '
	wxrecon --json order create --out-trade-no ORD-E2E-0001 --amount 2500 \
		--description "会员月卡" --attach "user=42" --notify-url "$NOTIFY_URL" >order.json &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORD-E2E-0001\"")" = NOTPAY
'
test_expect_success 'the app gets its invoke parameters' '
	wxrecon order sign --prepay-id "$(jget prepay_id order.json)" >sign.json &&
	test "$(jget prepayid sign.json)" = "$(jget prepay_id order.json)" &&
	test "$(jget package sign.json)" = Sign=WXPay
'
test_expect_success 'the payer pays; the notification makes the ledger PAID' '
	sim_admin POST /_sim/orders/ORD-E2E-0001/pay "{\"success_time\":\"2026-11-01T10:02:00+08:00\"}" >pay.json &&
	wait_for "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORD-E2E-0001\"" PAID &&
	test "$(db "SELECT transaction_id || \"|\" || paid_at FROM ledger_orders WHERE out_trade_no = \"ORD-E2E-0001\"")" = "$(jget transaction_id pay.json)|2026-11-01T10:02:00+08:00"
'

# The next morning, after the bills are released.
PF_NOW=2026-11-02T10:30:00+08:00
WXRECON_NOW=$PF_NOW
sim_admin POST /_sim/clock "{\"now\":\"$PF_NOW\"}" >/dev/null

test_expect_success 'the day'"'"'s trade bill has the payment' '
	wxrecon bill fetch --date 2026-11-01 >out 2>err &&
	test "$(db "SELECT count(*) FROM bill_trades WHERE out_trade_no = \"ORD-E2E-0001\" AND transaction_id = (SELECT transaction_id FROM ledger_orders WHERE out_trade_no = \"ORD-E2E-0001\")")" = 1
'
test_expect_success 'reconcile finds the day clean' '
	wxrecon reconcile --date 2026-11-01 >out 2>err &&
	test "$(db "SELECT count(*) FROM discrepancies WHERE status = \"open\"")" = 0
'

test_expect_success 'the merchant refunds; the ledger has it PROCESSING' '
	wxrecon refund create --out-trade-no ORD-E2E-0001 --out-refund-no RF-E2E-0001 \
		--amount 2500 --reason "不想要了" >out &&
	test "$(db "SELECT state FROM ledger_refunds WHERE out_refund_no = \"RF-E2E-0001\"")" = PROCESSING
'
test_expect_success 'the bank refund fails: REFUND.ABNORMAL makes the ledger ABNORMAL' '
	sim_admin POST /_sim/refunds/RF-E2E-0001/status "{\"status\":\"ABNORMAL\"}" >/dev/null &&
	wait_for "SELECT state FROM ledger_refunds WHERE out_refund_no = \"RF-E2E-0001\"" ABNORMAL &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORD-E2E-0001\"")" = PAID
'
# The morning after the refund: its bill, and reconcile again.
PF_NOW=2026-11-03T10:30:00+08:00
WXRECON_NOW=$PF_NOW
sim_admin POST /_sim/clock "{\"now\":\"$PF_NOW\"}" >/dev/null

test_expect_success 'the refund day'"'"'s bill has the refund; reconcile finds it clean' '
	wxrecon bill fetch --date 2026-11-02 >out 2>err &&
	test "$(db "SELECT count(*) FROM bill_trades WHERE out_refund_no = \"RF-E2E-0001\"")" = 1 &&
	wxrecon reconcile --date 2026-11-02 >out 2>err &&
	test "$(db "SELECT count(*) FROM discrepancies WHERE status = \"open\"")" = 0
'
test_expect_success 'every notification was received once and applied' '
	test "$(db "SELECT group_concat(event_type || \":\" || outcome, \" \") FROM (SELECT * FROM notifications ORDER BY event_type) AS n")" = "REFUND.ABNORMAL:applied TRANSACTION.SUCCESS:applied"
'
notify_stop
STOP_RC=$?
test_expect_success 'notify serve stops on SIGTERM with exit 0' 'test "$STOP_RC" = 0'
test_expect_success 'the whole story is in the audit log, and the log is intact' '
	for e in order.create order.prepay order.state notify.applied refund.create refund.accepted refund.state; do
		test "$(db "SELECT count(*) FROM audit_log WHERE event = \"$e\"")" -ge 1 || { echo "no $e"; exit 1; }
	done &&
	wxrecon audit --verify >/dev/null
'
test_done
