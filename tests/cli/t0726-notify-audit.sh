#!/bin/sh
# wxrecon notify serve and the audit log (issue 20 item 6): rejected requests
# cannot fill the disk through it (one entry per interval with counts, the
# sender's headers cut to 128 bytes of valid UTF-8, nothing lost on SIGTERM),
# and a database locked longer than WeChat Pay waits is answered 500 within
# its 5 s, the retry recorded once.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-payflow.sh"

pf_setup || exit 1
test_when_finished notify_kill
notify_start --reject-interval 2 || exit 1

rejected() { db "SELECT count(*) FROM audit_log WHERE event = 'notify.rejected'"; }
# post N SERIAL: N unsigned POSTs with that Wechatpay-Serial over one connection
# (quickly, and within the cap per address); prints the codes, one a line
post() {
	_urls= _i=0
	while [ $_i -lt "$1" ]; do _urls="$_urls -o /dev/null $NOTIFY_URL"; _i=$((_i + 1)); done
	curl -s -w '%{http_code}\n' -H "Wechatpay-Serial: $2" -H "Wechatpay-Timestamp: 1" \
		-H "Content-Type: application/json" --data-binary '{"id":"x"}' $_urls
}
BIG=$(head -c 16384 /dev/zero | tr '\0' S)

test_expect_success '30 requests with a 16 KB header: 401 each, and no audit entry yet' '
	before=$(db "SELECT count(*) FROM audit_log") &&
	post 30 "$BIG" >codes &&
	test "$(sort -u codes)" = 401 && test "$(wc -l <codes)" = 30 &&
	test "$(db "SELECT count(*) FROM audit_log")" = "$before"
'
test_expect_success 'the interval over, one entry counts them, the header cut to 128 bytes' '
	wait_for "SELECT count(*) FROM audit_log WHERE event = '"'notify.rejected'"'" 1 &&
	db "SELECT detail FROM audit_log WHERE event = '"'notify.rejected'"'" >rej.json &&
	test "$(jget count rej.json)" = 30 &&
	test "$(jget reasons.unverified rej.json)" = 30 &&
	test "$(jget "sources.\"127.0.0.1\"" rej.json)" = 30 &&
	test "$(jget sample.serial rej.json)" = "$(echo "$BIG" | cut -c1-128)...(16384 bytes)" &&
	test "$(wc -c <rej.json)" -lt 1500
'
test_expect_success 'a header that is not UTF-8 is kept as valid UTF-8' '
	post 1 "$(printf "ab\377\376cd")" >codes && test "$(cat codes)" = 401 &&
	wait_for "SELECT count(*) FROM audit_log WHERE event = '"'notify.rejected'"'" 2 &&
	db "SELECT detail FROM audit_log WHERE event = '"'notify.rejected'"' ORDER BY id DESC LIMIT 1" >rej2.json &&
	test "$(jget sample.serial rej2.json)" = "ab??cd"
'
post 3 x >codes3
notify_stop
STOP_RC=$?
test_expect_success 'rejections of an unfinished interval are audited at SIGTERM' '
	test "$STOP_RC" = 0 && test "$(sort -u codes3)" = 401 &&
	test "$(rejected)" = 3 &&
	test "$(db "SELECT max(id) FROM audit_log WHERE event = '"'notify.rejected'"'")" -lt \
		"$(db "SELECT max(id) FROM audit_log WHERE event = '"'notify.stop'"'")" &&
	db "SELECT detail FROM audit_log WHERE event = '"'notify.rejected'"' ORDER BY id DESC LIMIT 1" >rej3.json &&
	test "$(jget count rej3.json)" = 3 &&
	wxrecon audit --verify >/dev/null
'

# A writer holding the database for 8 s, longer than WeChat Pay waits.
lock_db() { # seconds
	db_hold_writer db.sqlite "$1"
	LOCK_PID=$DB_WRITER_PID
}
notify_start || exit 1
wxrecon order create --out-trade-no ORD-B-1 --amount 700 --description d \
	--notify-url http://127.0.0.1:9/wxpay/notify >/dev/null 2>&1
sim_admin POST /_sim/orders/ORD-B-1/pay '{}' >/dev/null
lock_db 8
test_expect_success 'a database locked for 8 s: a valid notification is answered 500 within 5 s' '
	t0=$(date +%s) &&
	sim_admin POST /_sim/notify "{\"out_trade_no\":\"ORD-B-1\",\"url\":\"$NOTIFY_URL\",\"sync\":true,\"id\":\"BUSY-1\"}" >n.json &&
	t1=$(date +%s) &&
	test "$(jget status n.json)" = 500 &&
	test $((t1 - t0)) -lt 5
'
wait "$LOCK_PID"
test_expect_success 'its retry once the lock is gone is recorded exactly once' '
	test "$(db "SELECT count(*) FROM notifications WHERE id = '"'BUSY-1'"'")" = 0 &&
	sim_admin POST /_sim/notify "{\"out_trade_no\":\"ORD-B-1\",\"url\":\"$NOTIFY_URL\",\"sync\":true,\"id\":\"BUSY-1\"}" >n.json &&
	test "$(jget status n.json)" = 204 &&
	sim_admin POST /_sim/notify "{\"out_trade_no\":\"ORD-B-1\",\"url\":\"$NOTIFY_URL\",\"sync\":true,\"id\":\"BUSY-1\"}" >n.json &&
	test "$(jget status n.json)" = 204 &&
	test "$(db "SELECT count(*) || '"'|'"' || max(repeats) FROM notifications WHERE id = '"'BUSY-1'"'")" = "1|1" &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = '"'order.state'"' AND subject = '"'ORD-B-1'"'")" = 1 &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = '"'ORD-B-1'"'")" = PAID
'
test_expect_code 2 'a bad --reject-interval' 'wxrecon notify serve --port 0 --reject-interval 0'
notify_stop
test_expect_success 'the audit log is intact' 'wxrecon audit --verify >/dev/null'
test_done
