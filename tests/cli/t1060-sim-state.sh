#!/bin/sh
# wxrecon-sim: the sim clock, --state persistence across a restart, the
# journal file, reset.
. "$(dirname "$0")/test-lib.sh"
. "$FIXTURES/sim/lib-sim.sh"

keys_setup
sim_start --state st --journal journal.jsonl

test_expect_success 'the clock follows the real clock by default' '
	sim_admin GET /_sim/clock >c &&
	test "$(json_str mode c)" = real
'

test_expect_success 'the clock can be set, advanced, set ticking, and given back' '
	sim_admin POST /_sim/clock "{\"now\":\"2026-03-01T23:59:00Z\"}" >c &&
	test "$(json_str now c)" = 2026-03-02T07:59:00+08:00 &&
	test "$(json_str mode c)" = fixed &&
	sim_admin POST /_sim/clock "{\"advance\":3600}" >c &&
	test "$(json_str now c)" = 2026-03-02T08:59:00+08:00 &&
	sim_admin POST /_sim/clock "{\"now\":\"2026-03-02T08:59:00+08:00\",\"tick\":true}" >c &&
	test "$(json_str mode c)" = offset &&
	sim_admin POST /_sim/clock "{\"real\":true}" >c &&
	test "$(json_str mode c)" = real &&
	! sim_admin POST /_sim/clock "{\"now\":\"yesterday\"}" &&
	sim_admin POST /_sim/clock "{\"now\":\"2026-03-02T09:00:00+08:00\"}" >c
'

test_expect_success 'business times come from the sim clock, signatures from the real one' '
	code=$(wx_call POST /v3/pay/transactions/app "{\"appid\":\"wx8888888888888888\",\"mchid\":\"1900000001\",\"description\":\"d\",\"out_trade_no\":\"ORD-ST-1\",\"notify_url\":\"https://example.com/n\",\"amount\":{\"total\":100}}") &&
	test "$code" = 200 &&
	now=$(date +%s) && ts=$(wx_hdr Wechatpay-Timestamp) &&
	test $((now - ts)) -le 5 && test $((ts - now)) -le 5 &&
	sim_admin GET /_sim/orders/ORD-ST-1 >o &&
	test "$(json_str create_time o)" = 2026-03-02T09:00:00+08:00
'

test_expect_success 'changes are saved to DIR/state.json' '
	sim_admin POST /_sim/orders "{\"out_trade_no\":\"ORD-ST-2\",\"total\":700,\"trade_state\":\"SUCCESS\",\"success_time\":\"2026-03-02T08:00:00+08:00\"}" >/dev/null &&
	code=$(wx_call POST /v3/refund/domestic/refunds "{\"out_trade_no\":\"ORD-ST-2\",\"out_refund_no\":\"RF-ST-1\",\"amount\":{\"refund\":200,\"total\":700,\"currency\":\"CNY\"}}") &&
	test "$code" = 200 &&
	grep -q ORD-ST-1 st/state.json &&
	grep -q RF-ST-1 st/state.json &&
	! ls st | grep -v "^state.json\$"
'

code=$(wx_call GET /v3/refund/domestic/refunds/RF-ST-1)
cp out refund.before
sim_stop
sim_start --state st --journal journal.jsonl

test_expect_success 'a restart with the same --state keeps orders, refunds and the clock' '
	sim_admin GET /_sim/clock >c &&
	test "$(json_str now c)" = 2026-03-02T09:00:00+08:00 &&
	code=$(wx_call GET "/v3/pay/transactions/out-trade-no/ORD-ST-2?mchid=1900000001") &&
	test "$code" = 200 && test "$(json_str trade_state)" = REFUND &&
	code=$(wx_call GET /v3/refund/domestic/refunds/RF-ST-1) &&
	test "$code" = 200 && test_cmp refund.before out &&
	code=$(wx_call POST /v3/pay/transactions/app "{\"appid\":\"wx8888888888888888\",\"mchid\":\"1900000001\",\"description\":\"d\",\"out_trade_no\":\"ORD-ST-1\",\"notify_url\":\"https://example.com/n\",\"amount\":{\"total\":100}}") &&
	test "$code" = 200
'

test_expect_success 'new ids after the restart do not repeat old ones' '
	sim_admin POST /_sim/orders/ORD-ST-1/pay >o &&
	tid=$(json_str transaction_id o) &&
	test -n "$tid" &&
	test "$(grep -c "$tid" st/state.json)" = 1
'

test_expect_success 'the journal file has one JSON line per /v3 request' '
	test "$(wc -l <journal.jsonl)" -ge 6 &&
	grep -q "^{\"method\":\"POST\",\"path\":\"/v3/refund/domestic/refunds\"" journal.jsonl &&
	! grep -q "/_sim/" journal.jsonl
'

test_expect_success 'GET /_sim/state shows everything' '
	sim_admin GET /_sim/state >s &&
	grep -q "\"orders\":\\[" s && grep -q "\"refunds\":\\[" s && grep -q "\"clock\":{" s
'

test_expect_success 'reset empties the state (and the saved file)' '
	sim_admin POST /_sim/reset >/dev/null &&
	code=$(wx_call GET "/v3/pay/transactions/out-trade-no/ORD-ST-2?mchid=1900000001") &&
	test "$code" = 404 &&
	! grep -q ORD-ST-2 st/state.json &&
	test "$(sim_admin GET /_sim/journal)" != "[]"
'

test_expect_success 'a corrupt state file stops the start with a message' '
	echo "{not json" >bad.json && mkdir -p badst && cp bad.json badst/state.json &&
	test_expect_code_inner=$(wxrecon_sim --port 0 --keys keys --state badst 2>err; echo $?) &&
	test "$test_expect_code_inner" = 1 &&
	grep -q "state.json" err
'

test_done
