#!/bin/sh
# wxrecon-sim: APP prepay, query, close and the order state machine.
. "$(dirname "$0")/test-lib.sh"
. "$FIXTURES/sim/lib-sim.sh"

keys_setup
sim_start
sim_admin POST /_sim/clock '{"now":"2026-03-01T10:00:00+08:00"}' >/dev/null

prepay_body() { # out_trade_no total [extra json]
	printf '{"appid":"wx8888888888888888","mchid":"1900000001","description":"月卡","out_trade_no":"%s","notify_url":"https://example.com/notify","amount":{"total":%s,"currency":"CNY"}%s}' "$1" "$2" "${3:-}"
}

query() { # out_trade_no
	wx_call GET "/v3/pay/transactions/out-trade-no/$1?mchid=1900000001"
}

close() { # out_trade_no
	wx_call POST "/v3/pay/transactions/out-trade-no/$1/close" '{"mchid":"1900000001"}'
}

test_expect_success 'prepay creates a NOTPAY order and answers a prepay_id' '
	code=$(wx_call POST /v3/pay/transactions/app "$(prepay_body ORD-P-1 2500)") &&
	test "$code" = 200 && wx_verify &&
	json_str prepay_id | grep -q "^wx20260301100000[0-9a-f]\{20\}\$" &&
	json_str prepay_id >first &&
	code=$(query ORD-P-1) && test "$code" = 200 &&
	test "$(json_str trade_state)" = NOTPAY &&
	test "$(json_num total)" = 2500 &&
	! grep -q transaction_id out
'

test_expect_success 'the same prepay again gives a new prepay_id' '
	code=$(wx_call POST /v3/pay/transactions/app "$(prepay_body ORD-P-1 2500)") &&
	test "$code" = 200 &&
	test "$(json_str prepay_id)" != "$(cat first)"
'

test_expect_success 'the same out_trade_no with other parameters is 400 INVALID_REQUEST' '
	code=$(wx_call POST /v3/pay/transactions/app "$(prepay_body ORD-P-1 2600)") &&
	test "$code" = 400 && test "$(json_str code)" = INVALID_REQUEST && wx_verify
'

test_expect_success 'prepay validates its fields' '
	for b in \
		"$(prepay_body ORD-P-2 0)" \
		"$(prepay_body ORD1 100)" \
		"$(prepay_body "ORD P 3" 100)" \
		"$(prepay_body ORD-P-4 100 ",\"unknown\":1")" \
		"$(prepay_body ORD-P-5 100 ",\"time_expire\":\"2026-03-01 12:00:00\"")" \
		"$(prepay_body ORD-P-6 100 ",\"limit_pay\":[\"no_cash\"]")" \
		"$(prepay_body ORD-P-7 100 ",\"attach\":\"$(printf "%0129d" 0)\"")" \
		"{\"appid\":\"wx8888888888888888\",\"mchid\":\"1900000001\",\"out_trade_no\":\"ORD-P-8\",\"notify_url\":\"https://example.com/n\",\"amount\":{\"total\":1}}" \
		"{\"appid\":\"wx8888888888888888\",\"mchid\":\"1900000001\",\"description\":\"x\",\"out_trade_no\":\"ORD-P-9\",\"notify_url\":\"https://example.com/n?a=1\",\"amount\":{\"total\":1}}" \
		"{\"appid\":\"wx8888888888888888\",\"mchid\":\"1900000001\",\"description\":\"x\",\"out_trade_no\":\"ORD-P-10\",\"notify_url\":\"https://example.com/n\",\"amount\":{\"total\":1,\"currency\":\"USD\"}}" \
		"{\"appid\":\"wx8888888888888888\",\"mchid\":\"1900000001\",\"description\":\"x\",\"out_trade_no\":\"ORD-P-11\",\"notify_url\":\"https://example.com/n\",\"amount\":{\"total\":\"1\"}}" \
		"not json"
	do
		code=$(wx_call POST /v3/pay/transactions/app "$b") &&
		test "$code" = 400 && test "$(json_str code)" = PARAM_ERROR ||
			{ echo "not refused ($code): $b"; cat out; exit 1; }
	done &&
	code=$(query ORD-P-2) && test "$code" = 404
'

test_expect_success 'a 4-byte UTF-8 character (emoji) is refused' '
	code=$(wx_call POST /v3/pay/transactions/app "$(prepay_body ORD-P-12 100 ",\"attach\":\"x😀\"")") &&
	test "$code" = 400 && test "$(json_str code)" = PARAM_ERROR
'

test_expect_success 'another appid is 400 APPID_MCHID_NOT_MATCH' '
	b=$(prepay_body ORD-P-13 100 | sed s/wx8888888888888888/wx1111111111111111/) &&
	code=$(wx_call POST /v3/pay/transactions/app "$b") &&
	test "$code" = 400 && test "$(json_str code)" = APPID_MCHID_NOT_MATCH
'

test_expect_success 'a body without Content-Type: application/json is refused' '
	ts=$(date +%s) && n=ctnonce && b=$(prepay_body ORD-P-14 100) &&
	sig=$(printf "POST\n/v3/pay/transactions/app\n%s\n%s\n%s\n" "$ts" "$n" "$b" | wx_sign) &&
	code=$(curl -sS -o out -w "%{http_code}" -H "Accept: application/json" -H "User-Agent: t" \
		-H "Content-Type: text/plain" \
		-H "Authorization: WECHATPAY2-SHA256-RSA2048 mchid=\"1900000001\",nonce_str=\"$n\",timestamp=\"$ts\",serial_no=\"$(cat keys/merchant_serial.txt)\",signature=\"$sig\"" \
		--data-binary "$b" "$SIM_URL/v3/pay/transactions/app") &&
	test "$code" = 400 && test "$(json_str code)" = INVALID_REQUEST
'

test_expect_success 'time_expire is clamped to at least one minute and at most 90 days' '
	code=$(wx_call POST /v3/pay/transactions/app \
		"$(prepay_body ORD-P-15 100 ",\"time_expire\":\"2026-03-01T10:00:10+08:00\"")") &&
	test "$code" = 200 &&
	sim_admin GET /_sim/orders/ORD-P-15 >o &&
	test "$(json_str time_expire o)" = 2026-03-01T10:01:00+08:00 &&
	code=$(wx_call POST /v3/pay/transactions/app \
		"$(prepay_body ORD-P-16 100 ",\"time_expire\":\"2027-03-01T10:00:00+08:00\"")") &&
	test "$code" = 200 &&
	sim_admin GET /_sim/orders/ORD-P-16 >o &&
	test "$(json_str time_expire o)" = 2026-05-30T10:00:00+08:00 &&
	code=$(wx_call POST /v3/pay/transactions/app "$(prepay_body ORD-P-17 100)") &&
	sim_admin GET /_sim/orders/ORD-P-17 >o &&
	test "$(json_str time_expire o)" = 2026-03-08T10:00:00+08:00
'

test_expect_success 'close NOTPAY -> CLOSED (204, signed empty body), and 204 again' '
	code=$(close ORD-P-1) && test "$code" = 204 && test ! -s out && wx_verify &&
	code=$(query ORD-P-1) && test "$(json_str trade_state)" = CLOSED &&
	code=$(close ORD-P-1) && test "$code" = 204
'

test_expect_success 'close of an unknown order is 204 too' '
	code=$(close NO-SUCH-ORDER) && test "$code" = 204 &&
	code=$(query NO-SUCH-ORDER) && test "$code" = 404
'

test_expect_success 'prepay of a closed order is 400 ORDER_CLOSED' '
	code=$(wx_call POST /v3/pay/transactions/app "$(prepay_body ORD-P-1 2500)") &&
	test "$code" = 400 && test "$(json_str code)" = ORDER_CLOSED
'

test_expect_success 'a paid order: queries by both ids show it; close and prepay are refused' '
	sim_admin POST /_sim/orders/ORD-P-17/pay "{\"success_time\":\"2026-03-01T10:05:00+08:00\",\"transaction_id\":\"4200000001202603010000000042\",\"openid\":\"oUser1\",\"bank_type\":\"CMB_DEBIT\"}" >/dev/null &&
	code=$(query ORD-P-17) && test "$code" = 200 &&
	test "$(json_str trade_state)" = SUCCESS &&
	test "$(json_str transaction_id)" = 4200000001202603010000000042 &&
	test "$(json_str success_time)" = 2026-03-01T10:05:00+08:00 &&
	test "$(json_str openid)" = oUser1 &&
	test "$(json_str bank_type)" = CMB_DEBIT &&
	test "$(json_num payer_total)" = 100 &&
	code=$(wx_call GET "/v3/pay/transactions/id/4200000001202603010000000042?mchid=1900000001") &&
	test "$code" = 200 && test "$(json_str out_trade_no)" = ORD-P-17 && wx_verify &&
	code=$(close ORD-P-17) &&
	test "$code" = 400 && test "$(json_str code)" = ORDER_PAID && wx_verify &&
	code=$(query ORD-P-17) && test "$(json_str trade_state)" = SUCCESS &&
	code=$(wx_call POST /v3/pay/transactions/app "$(prepay_body ORD-P-17 100)") &&
	test "$code" = 400 && test "$(json_str code)" = ORDER_PAID
'

test_expect_success 'query by transaction id of an unpaid or unknown order is 404' '
	code=$(wx_call GET "/v3/pay/transactions/id/4200000001202603019999999999?mchid=1900000001") &&
	test "$code" = 404 && test "$(json_str code)" = ORDER_NOT_EXIST
'

test_expect_success 'query without mchid, or with an extra parameter, is 400 PARAM_ERROR' '
	code=$(wx_call GET /v3/pay/transactions/out-trade-no/ORD-P-17) &&
	test "$code" = 400 && test "$(json_str code)" = PARAM_ERROR &&
	code=$(wx_call GET "/v3/pay/transactions/out-trade-no/ORD-P-17?mchid=1900000001&x=1") &&
	test "$code" = 400 && test "$(json_str code)" = PARAM_ERROR
'

test_expect_success 'an admin-expired order is CLOSED' '
	code=$(wx_call POST /v3/pay/transactions/app "$(prepay_body ORD-P-18 300)") &&
	sim_admin POST /_sim/orders/ORD-P-18/expire >/dev/null &&
	code=$(query ORD-P-18) && test "$(json_str trade_state)" = CLOSED
'

test_expect_success 'seeded orders in other states are reported as such' '
	sim_admin POST /_sim/orders "[{\"out_trade_no\":\"ORD-S-1\",\"total\":5,\"trade_state\":\"USERPAYING\"},{\"out_trade_no\":\"ORD-S-2\",\"total\":5,\"trade_state\":\"PAYERROR\"}]" >/dev/null &&
	code=$(query ORD-S-1) && test "$(json_str trade_state)" = USERPAYING &&
	code=$(query ORD-S-2) && test "$(json_str trade_state)" = PAYERROR &&
	code=$(close ORD-S-1) && test "$code" = 204 &&
	code=$(query ORD-S-1) && test "$(json_str trade_state)" = CLOSED
'

test_expect_success 'a bad seed is refused and nothing of the batch is kept' '
	! sim_admin POST /_sim/orders "[{\"out_trade_no\":\"ORD-S-3\",\"total\":5},{\"out_trade_no\":\"ORD-S-4\"}]" >o &&
	grep -q BAD_REQUEST o &&
	! sim_admin GET /_sim/orders/ORD-S-3
'

test_done
