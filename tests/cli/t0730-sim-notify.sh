#!/bin/sh
# wxrecon-sim's notifications (/_sim/notify): who gets them, retries, queued
# faults, the by-hand trigger and its errors; the simulator under valgrind
# while it sends them. `wxrecon notify serve` is the receiver that checks
# every signature and decryption.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-payflow.sh"

pf_setup || exit 1
test_when_finished notify_kill
notify_start || exit 1

# last FIELD: a field of the newest entry of the simulator's notification log
last() {
	sim_admin GET /_sim/notify >log.json &&
	sqlite3 :memory: "SELECT json_extract(CAST(readfile('log.json') AS TEXT), '\$.notifications[#-1].$1')"
}
# wait_sent: until the newest notification is no longer pending or sending
wait_sent() {
	_i=0
	while :; do
		_s=$(last state)
		[ "$_s" != pending ] && [ "$_s" != sending ] && return 0
		_i=$((_i + 1))
		[ $_i -gt 200 ] && return 1
		sleep 0.05
	done
}
seed_paid() { # out_trade_no total notify_url
	sim_admin POST /_sim/orders "{\"out_trade_no\":\"$1\",\"total\":$2,\"notify_url\":\"$3\"}" >/dev/null &&
	sim_admin POST "/_sim/orders/$1/pay" "{}" >/dev/null
}
admin_code() { # METHOD PATH [JSON]: the HTTP status of an admin call
	curl -s -o body -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' \
		${3:+--data-binary "$3"} "$SIM_URL$2"
}

test_expect_success 'a payment is notified once to a loopback notify_url, and logged' '
	seed_paid ORD-S-1 100 "$NOTIFY_URL" && wait_sent &&
	test "$(last state)|$(last attempts)|$(last status)|$(last event_type)|$(last subject)|$(last fault)" = "delivered|1|204|TRANSACTION.SUCCESS|ORD-S-1|none" &&
	test "$(last url)" = "$NOTIFY_URL" &&
	wait_for "SELECT count(*) FROM notifications WHERE out_trade_no = \"ORD-S-1\" AND outcome = \"unknown\"" 1
'
test_expect_success 'an id looks like WeChat Pay'"'"'s (36 characters)' '
	last id | grep -q "^[0-9a-f]\{8\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{12\}$"
'
test_expect_success 'a notify_url that is not loopback is never called' '
	seed_paid ORD-S-2 100 https://merchant.example.com/wxpay/notify && wait_sent &&
	test "$(last state)|$(last attempts)" = "skipped|0" &&
	last error | grep -q "not a loopback URL"
'
test_expect_success 'a receiver that is down: 1 + retries attempts (POST /_sim/notify/config)' '
	sim_admin POST /_sim/notify/config "{\"retries\":2,\"retry_ms\":20}" >/dev/null &&
	seed_paid ORD-S-3 100 http://127.0.0.1:9/n && wait_sent &&
	test "$(last state)|$(last attempts)|$(last status)" = "failed|3|0" &&
	test -n "$(last error)"
'
test_expect_success 'a queued fault spoils the next automatic notification: refused every time' '
	sim_admin POST /_sim/notify/faults "{\"kind\":\"stale\"}" >/dev/null &&
	seed_paid ORD-S-4 100 "$NOTIFY_URL" && wait_sent &&
	test "$(last state)|$(last attempts)|$(last status)|$(last fault)" = "failed|3|401|stale" &&
	sim_admin GET /_sim/notify >log.json && test "$(jget "faults" log.json)" = "[]" &&
	test "$(db "SELECT count(*) FROM notifications WHERE out_trade_no = \"ORD-S-4\"")" = 0
'
test_expect_success 'by hand (sync) the receiver'"'"'s status comes back; faults too' '
	sim_admin POST /_sim/notify "{\"out_trade_no\":\"ORD-S-4\",\"sync\":true}" >n.json &&
	test "$(jget status n.json)|$(jget state n.json)" = "204|delivered" &&
	sim_admin POST /_sim/notify "{\"out_trade_no\":\"ORD-S-4\",\"sync\":true,\"fault\":\"tampered\"}" >n.json &&
	test "$(jget status n.json)|$(jget state n.json)|$(jget fault n.json)" = "401|failed|tampered"
'
test_expect_success 'by hand, not sync: queued and delivered' '
	sim_admin POST /_sim/notify "{\"out_trade_no\":\"ORD-S-1\"}" >n.json &&
	case $(jget state n.json) in pending|sending|delivered) ;; *) exit 1 ;; esac &&
	wait_sent && test "$(last state)" = delivered
'
test_expect_success 'enabled: false sends nothing' '
	sim_admin POST /_sim/notify/config "{\"enabled\":false}" >/dev/null &&
	n=$(sim_admin GET /_sim/notify | grep -o "\"id\":" | wc -l) &&
	seed_paid ORD-S-5 100 "$NOTIFY_URL" &&
	test "$(sim_admin GET /_sim/notify | grep -o "\"id\":" | wc -l)" = "$n" &&
	sim_admin POST /_sim/notify/config "{\"enabled\":true}" >/dev/null
'
test_expect_success 'a refund'"'"'s own notify_url wins over its order'"'"'s' '
	wxrecon order create --out-trade-no ORD-S-6 --amount 100 --description d \
		--notify-url http://127.0.0.1:9/n >/dev/null 2>&1 &&
	sim_admin POST /_sim/orders/ORD-S-6/pay "{}" >/dev/null && wait_sent &&
	db "UPDATE ledger_orders SET state = \"PAID\", paid_ts = 1793498400, paid_at = \"2026-11-01T10:00:00+08:00\", paid_date = \"2026-11-01\" WHERE out_trade_no = \"ORD-S-6\"" &&
	cp wxrecon.conf plain.conf && printf "\n[notify]\nurl = %s\n" "$NOTIFY_URL" >>wxrecon.conf &&
	wxrecon refund create --out-trade-no ORD-S-6 --out-refund-no RF-S-6 --amount 100 >/dev/null &&
	cp plain.conf wxrecon.conf &&
	sim_admin POST /_sim/refunds/RF-S-6/status "{\"status\":\"CLOSED\"}" >/dev/null && wait_sent &&
	test "$(last event_type)|$(last url)|$(last state)" = "REFUND.CLOSED|$NOTIFY_URL|delivered" &&
	wait_for "SELECT state FROM ledger_refunds WHERE out_refund_no = \"RF-S-6\"" CLOSED
'
test_expect_success 'the same status again is not notified again' '
	n=$(sim_admin GET /_sim/notify | grep -o "\"id\":" | wc -l) &&
	sim_admin POST /_sim/refunds/RF-S-6/status "{\"status\":\"CLOSED\"}" >/dev/null &&
	test "$(sim_admin GET /_sim/notify | grep -o "\"id\":" | wc -l)" = "$n"
'
test_expect_success 'by-hand errors: 400, 404, 409' '
	test "$(admin_code POST /_sim/notify "{}")" = 400 &&
	test "$(admin_code POST /_sim/notify "{\"out_trade_no\":\"NOPE-1\"}")" = 404 &&
	sim_admin POST /_sim/orders "{\"out_trade_no\":\"ORD-S-7\",\"total\":1,\"notify_url\":\"$NOTIFY_URL\"}" >/dev/null &&
	test "$(admin_code POST /_sim/notify "{\"out_trade_no\":\"ORD-S-7\"}")" = 409 &&
	test "$(admin_code POST /_sim/notify "{\"out_trade_no\":\"ORD-S-1\",\"fault\":\"loud\"}")" = 400 &&
	test "$(admin_code POST /_sim/notify/config "{\"retries\":99}")" = 400 &&
	test "$(admin_code POST /_sim/notify/faults "{\"kind\":\"nope\"}")" = 400 &&
	test "$(admin_code GET /_sim/notify/nope)" = 404
'
test_expect_success 'DELETE /_sim/notify clears the log' '
	sim_admin DELETE /_sim/notify >/dev/null &&
	sim_admin GET /_sim/notify >log.json && test "$(jget notifications log.json)" = "[]"
'

# The simulator itself under valgrind while it sends notifications.
if command -v valgrind >/dev/null 2>&1 && ! nm "$WXRECON_SIM_BIN" 2>/dev/null | grep -q __asan_init; then
	valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --log-file=vg.log \
		"$WXRECON_SIM_BIN" --port 0 --keys keys --portfile vg.port --quiet >vg.out 2>vg.err &
	VG_PID=$!
	i=0
	while [ ! -s vg.port ] && [ $i -lt 300 ] && kill -0 "$VG_PID" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	VG_URL="http://127.0.0.1:$(cat vg.port 2>/dev/null)"
	vg() { curl -sS --fail-with-body -X POST -H 'Content-Type: application/json' --data-binary "$2" "$VG_URL$1"; }
	vg /_sim/notify/config '{"retries":1,"retry_ms":10}' >/dev/null
	vg /_sim/orders "{\"out_trade_no\":\"ORD-V-1\",\"total\":5,\"notify_url\":\"$NOTIFY_URL\"}" >/dev/null
	vg /_sim/orders/ORD-V-1/pay '{}' >/dev/null
	vg /_sim/orders "{\"out_trade_no\":\"ORD-V-2\",\"total\":5,\"notify_url\":\"http://127.0.0.1:9/n\"}" >/dev/null
	vg /_sim/orders/ORD-V-2/pay '{}' >/dev/null
	vg /_sim/refunds '{"out_refund_no":"RF-V-1","out_trade_no":"ORD-V-1","refund":5}' >/dev/null
	vg /_sim/refunds/RF-V-1/status '{"status":"SUCCESS"}' >/dev/null
	vg /_sim/notify/faults '{"kind":"probe","count":2}' >/dev/null
	vg /_sim/notify '{"out_trade_no":"ORD-V-1","sync":true,"fault":"bad_tag"}' >/dev/null
	vg /_sim/notify '{"out_refund_no":"RF-V-1","url":"https://elsewhere.example/n"}' >/dev/null
	sleep 2
	kill -TERM "$VG_PID"
	wait "$VG_PID"
	VG_RC=$?
	test_expect_success 'the simulator sending notifications is valgrind-clean (exit 0 on SIGTERM)' '
		{ test "$VG_RC" = 0 || { cat vg.log; exit 1; }; }
	'
fi

notify_stop
STOP_RC=$?
test_expect_success 'the receiver stops with exit 0' 'test "$STOP_RC" = 0'
test_done
