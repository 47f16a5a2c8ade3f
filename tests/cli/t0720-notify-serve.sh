#!/bin/sh
# wxrecon notify serve: notifications from the simulator applied to the
# ledger; rejections (tampered, stale, probes), dedupe, problems held, a
# locked database (500, WeChat Pay retries), SIGTERM.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-payflow.sh"

pf_setup || exit 1
test_when_finished notify_kill
notify_start || exit 1
NOWHERE=http://127.0.0.1:9/wxpay/notify
FAIL='{"code":"FAIL","message":"失败"}'

# notify_by_hand JSON: POST /_sim/notify (sync); prints the receiver's HTTP status
notify_by_hand() {
	sim_admin POST /_sim/notify "$1" >n.json && jget status n.json
}
count() { db "SELECT count(*) FROM notifications"; }

test_expect_success 'notify serve prints where it listens (--port 0 picks a port)' '
	grep -q "^listening on http://127.0.0.1:$NOTIFY_PORT$" notify.out &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"notify.start\"")" = 1
'
test_expect_success 'a payment: order create, the simulator pays, the ledger is PAID' '
	wxrecon order create --out-trade-no ORD-N-1 --amount 1000 --description d \
		--notify-url "$NOTIFY_URL" >/dev/null &&
	sim_admin POST /_sim/orders/ORD-N-1/pay "{\"transaction_id\":\"4200000001202611010000000101\"}" >/dev/null &&
	wait_for "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORD-N-1\"" PAID &&
	test "$(db "SELECT transaction_id || \"|\" || paid_at || \"|\" || paid_date FROM ledger_orders WHERE out_trade_no = \"ORD-N-1\"")" = "4200000001202611010000000101|2026-11-01T10:00:00+08:00|2026-11-01" &&
	test "$(db "SELECT event_type || \"|\" || outcome FROM notifications WHERE out_trade_no = \"ORD-N-1\"")" = "TRANSACTION.SUCCESS|applied" &&
	sim_admin GET /_sim/notify >s.json && test "$(jget notifications[0].status s.json)" = 204
'
test_expect_success 'GET is 405 with the FAIL body' '
	code=$(curl -s -o body -w "%{http_code}" "$NOTIFY_URL") && test "$code" = 405 &&
	test "$(cat body)" = "$FAIL"
'
test_expect_success 'an unsigned POST is 401 with the FAIL body, on any path' '
	code=$(curl -s -o body -w "%{http_code}" -H "Content-Type: application/json" \
		--data-binary "{\"id\":\"x\"}" "http://127.0.0.1:$NOTIFY_PORT/any/path") &&
	test "$code" = 401 && test "$(cat body)" = "$FAIL"
'
test_expect_success 'a body over 64 KiB is 413 (with a Content-Length or chunked)' '
	head -c 70000 /dev/zero | tr "\0" a >big &&
	code=$(curl -s -o body -w "%{http_code}" --data-binary @big "$NOTIFY_URL") && test "$code" = 413 &&
	code=$(curl -s -o body -w "%{http_code}" -H "Transfer-Encoding: chunked" --data-binary @big \
		"$NOTIFY_URL") && test "$code" = 413 && test "$(cat body)" = "$FAIL"
'

# ORD-N-2: paid at the simulator, whose own delivery goes nowhere (port 9).
wxrecon order create --out-trade-no ORD-N-2 --amount 500 --description d --notify-url $NOWHERE >/dev/null 2>&1
sim_admin POST /_sim/orders/ORD-N-2/pay '{}' >/dev/null

for f in tampered stale probe bad_tag; do
	test_expect_success "a $f notification is 401 and changes nothing" "
		before=\$(count) &&
		test \"\$(notify_by_hand '{\"out_trade_no\":\"ORD-N-2\",\"url\":\"$NOTIFY_URL\",\"sync\":true,\"fault\":\"$f\"}')\" = 401 &&
		test \"\$(count)\" = \"\$before\" &&
		test \"\$(db 'SELECT state FROM ledger_orders WHERE out_trade_no = \"ORD-N-2\"')\" = NOTPAY
	"
done
test_expect_success 'the rejections are logged (and audited in one entry a minute)' '
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"notify.rejected\"")" = 0 &&
	grep -q "rejected a notification from 127.0.0.1 (401): notification timestamp .* is 600 s away" notify.err &&
	grep -q "signature probe" notify.err
'
test_expect_success 'the genuine notification is applied; repeats of its id are acknowledged once' '
	test "$(notify_by_hand "{\"out_trade_no\":\"ORD-N-2\",\"url\":\"$NOTIFY_URL\",\"sync\":true,\"id\":\"DUP-1\"}")" = 204 &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORD-N-2\"")" = PAID &&
	test "$(notify_by_hand "{\"out_trade_no\":\"ORD-N-2\",\"url\":\"$NOTIFY_URL\",\"sync\":true,\"id\":\"DUP-1\"}")" = 204 &&
	test "$(notify_by_hand "{\"out_trade_no\":\"ORD-N-2\",\"url\":\"$NOTIFY_URL\",\"sync\":true,\"id\":\"DUP-1\"}")" = 204 &&
	test "$(db "SELECT count(*) || \"|\" || max(repeats) || \"|\" || max(outcome) FROM notifications WHERE id = \"DUP-1\"")" = "1|2|applied" &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"notify.duplicate\" AND subject = \"DUP-1\"")" = 2 &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"order.state\" AND subject = \"ORD-N-2\"")" = 1
'
test_expect_success 'the same payment under a new id: acknowledged, unchanged' '
	test "$(notify_by_hand "{\"out_trade_no\":\"ORD-N-2\",\"url\":\"$NOTIFY_URL\",\"sync\":true}")" = 204 &&
	test "$(db "SELECT outcome FROM notifications WHERE out_trade_no = \"ORD-N-2\" AND id <> \"DUP-1\"")" = unchanged
'
test_expect_success 'a payment of another amount is held: acknowledged, the ledger left alone, a warning' '
	printf "out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref\nORD-N-3,,600,CNY,NOTPAY,2026-11-01T09:00:00+08:00,,,,\n" >o.csv &&
	wxrecon ledger import --orders o.csv >/dev/null &&
	sim_admin POST /_sim/orders "{\"out_trade_no\":\"ORD-N-3\",\"total\":500,\"notify_url\":\"$NOTIFY_URL\"}" >/dev/null &&
	sim_admin POST /_sim/orders/ORD-N-3/pay "{}" >/dev/null &&
	wait_for "SELECT outcome FROM notifications WHERE out_trade_no = \"ORD-N-3\"" held &&
	test "$(db "SELECT state || \"|\" || amount_total FROM ledger_orders WHERE out_trade_no = \"ORD-N-3\"")" = "NOTPAY|600" &&
	test "$(db "SELECT reason FROM notifications WHERE out_trade_no = \"ORD-N-3\"")" = "paid 500 fen, the ledger says 600 fen: the order is left NOTPAY for a person to look at" &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"notify.held\"")" = 1 &&
	grep -q "warning: notify: .* TRANSACTION.SUCCESS .ORD-N-3.: held: paid 500 fen" notify.err
'
test_expect_success 'a payment for an order the ledger does not know is recorded' '
	sim_admin POST /_sim/orders "{\"out_trade_no\":\"ORD-N-4\",\"total\":10,\"notify_url\":\"$NOTIFY_URL\"}" >/dev/null &&
	sim_admin POST /_sim/orders/ORD-N-4/pay "{}" >/dev/null &&
	wait_for "SELECT outcome FROM notifications WHERE out_trade_no = \"ORD-N-4\"" unknown &&
	test "$(db "SELECT count(*) FROM ledger_orders WHERE out_trade_no = \"ORD-N-4\"")" = 0
'
test_expect_success 'refund notifications set the refund state; success: PARTIAL_REFUNDED' '
	wxrecon refund create --out-trade-no ORD-N-1 --out-refund-no RF-N-1 --amount 400 >/dev/null &&
	sim_admin POST /_sim/refunds/RF-N-1/status "{\"status\":\"ABNORMAL\"}" >/dev/null &&
	wait_for "SELECT state FROM ledger_refunds WHERE out_refund_no = \"RF-N-1\"" ABNORMAL &&
	sim_admin POST /_sim/refunds/RF-N-1/status "{\"status\":\"SUCCESS\"}" >/dev/null &&
	wait_for "SELECT state FROM ledger_refunds WHERE out_refund_no = \"RF-N-1\"" SUCCESS &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORD-N-1\"")" = PARTIAL_REFUNDED &&
	test "$(db "SELECT group_concat(event_type || \":\" || outcome, \" \") FROM notifications WHERE out_refund_no = \"RF-N-1\"")" = "REFUND.ABNORMAL:applied REFUND.SUCCESS:applied"
'

# A writer holding the database: the answer is 500 within WeChat Pay's 5 s.
lock_db() { # seconds
	db_hold_writer db.sqlite "$1"
	LOCK_PID=$DB_WRITER_PID
}
wxrecon order create --out-trade-no ORD-N-5 --amount 700 --description d --notify-url $NOWHERE >/dev/null 2>&1
sim_admin POST /_sim/orders/ORD-N-5/pay '{}' >/dev/null
lock_db 3
test_expect_success 'a locked database: 500 with the FAIL body, quickly, nothing recorded' '
	t0=$(date +%s) &&
	test "$(notify_by_hand "{\"out_trade_no\":\"ORD-N-5\",\"url\":\"$NOTIFY_URL\",\"sync\":true,\"id\":\"LOCK-1\"}")" = 500 &&
	test $(( $(date +%s) - t0 )) -lt 5 &&
	grep -q "notification LOCK-1: answered 500, WeChat Pay will retry" notify.err
'
wait "$LOCK_PID"
test_expect_success 'once the lock is gone the same notification is applied' '
	test "$(db "SELECT count(*) FROM notifications WHERE id = \"LOCK-1\"")" = 0 &&
	test "$(notify_by_hand "{\"out_trade_no\":\"ORD-N-5\",\"url\":\"$NOTIFY_URL\",\"sync\":true,\"id\":\"LOCK-1\"}")" = 204 &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORD-N-5\"")" = PAID
'
sim_admin POST /_sim/notify/config '{"retries":20,"retry_ms":250}' >/dev/null
wxrecon order create --out-trade-no ORD-N-6 --amount 800 --description d --notify-url "$NOTIFY_URL" >/dev/null 2>&1
lock_db 2
sim_admin POST /_sim/orders/ORD-N-6/pay '{}' >/dev/null
test_expect_success 'the simulator retries a 500 like WeChat Pay; it gets through after the lock' '
	wait_for "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORD-N-6\"" PAID &&
	sim_admin GET /_sim/notify >s.json &&
	sqlite3 :memory: "SELECT json_extract(value, \"\$.attempts\") > 1 AND json_extract(value, \"\$.state\") = \"delivered\" FROM json_each(CAST(readfile(\"s.json\") AS TEXT), \"\$.notifications\") WHERE json_extract(value, \"\$.subject\") = \"ORD-N-6\"" >r &&
	test "$(cat r)" = 1
'
wait "$LOCK_PID"

# SIGTERM while a request is being uploaded slowly: it is answered, then exit 0.
head -c 4000 /dev/zero | tr "\0" a >slow.body
curl -s -o slow.out -w '%{http_code}' --limit-rate 2K --data-binary @slow.body "$NOTIFY_URL" >slow.code &
CURL_PID=$!
sleep 0.5
notify_stop
STOP_RC=$?
wait $CURL_PID
test_expect_success 'SIGTERM: the request in hand is answered, then exit 0' '
	test "$STOP_RC" = 0 && test "$(cat slow.code)" = 401 &&
	grep -q "notify: stopped" notify.err
'
test_expect_success 'it no longer listens; the stop is audited' '
	! curl -s -o /dev/null --max-time 2 "$NOTIFY_URL" &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"notify.stop\"")" = 1
'
test_expect_success 'the rejections were audited in one entry at the stop, before it' '
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"notify.rejected\"")" = 1 &&
	db "SELECT detail FROM audit_log WHERE event = \"notify.rejected\"" >rej.json &&
	test "$(jget count rej.json)" -ge 8 &&
	test "$(jget reasons.unverified rej.json)" -ge 6 &&
	test "$(jget reasons.too_large rej.json)" = 2 &&
	test "$(jget "sources.\"127.0.0.1\"" rej.json)" = "$(jget count rej.json)" &&
	test "$(db "SELECT max(id) FROM audit_log WHERE event = \"notify.rejected\"")" -lt \
		"$(db "SELECT max(id) FROM audit_log WHERE event = \"notify.stop\"")"
'
test_expect_code 2 'notify serve without a configuration names the missing key' '
	wxrecon -c /dev/null --db db.sqlite notify serve --port 0
'
test_expect_code 2 'a bad --bind' 'wxrecon notify serve --bind nowhere --port 0'
test_expect_code 2 'a bad --port' 'wxrecon notify serve --port 70000'
test_expect_success 'notify serve -h' '
	wxrecon notify serve -h >out && grep -q "^usage: wxrecon notify serve \[--bind ADDR\] \[--port P\]" out
'
test_expect_success 'the audit log is intact' 'wxrecon audit --verify >/dev/null'
test_done
