#!/bin/sh
# wxrecon-sim: strict request verification. Every way of getting the
# Authorization wrong is refused with the documented status and code.
. "$(dirname "$0")/test-lib.sh"
. "$FIXTURES/sim/lib-sim.sh"

keys_setup
sim_start

Q="/v3/pay/transactions/out-trade-no/ORD-AUTH-1?mchid=1900000001"
sim_admin POST /_sim/orders '{"out_trade_no":"ORD-AUTH-1","total":100}' >/dev/null

expect_sign_error() { # status code... : the last call was refused as SIGN_ERROR and logged so
	test "$1" = 401 && test "$(json_str code)" = SIGN_ERROR && test -n "$(json_str message)"
}

test_expect_success 'the good request is accepted' '
	code=$(wx_call GET "$Q") && test "$code" = 200
'

test_expect_success 'a tampered body is refused with sign_information' '
	sim_admin POST /_sim/orders "{\"out_trade_no\":\"ORD-AUTH-2\",\"total\":100}" &&
	code=$(WX_SIGN_BODY="{\"mchid\":\"1900000002\"}" wx_call POST \
		/v3/pay/transactions/out-trade-no/ORD-AUTH-2/close "{\"mchid\":\"1900000001\"}") &&
	expect_sign_error "$code" &&
	grep -q "\"sign_information\":{" out &&
	test "$(json_str method)" = POST &&
	test "$(json_str url)" = /v3/pay/transactions/out-trade-no/ORD-AUTH-2/close &&
	json_num sign_message_length | grep -q "^[0-9][0-9]*\$" &&
	grep -q "truncated_sign_message\":\"POST\\\\n/v3/pay/transactions" out &&
	wx_verify
'

test_expect_success 'the refused close did not close the order' '
	sim_admin GET /_sim/orders/ORD-AUTH-2 >out &&
	test "$(json_str trade_state)" = NOTPAY
'

test_expect_success 'a tampered URL (query) is refused' '
	code=$(WX_SIGN_TARGET="/v3/pay/transactions/out-trade-no/ORD-AUTH-1?mchid=1900000002" \
		wx_call GET "$Q") &&
	expect_sign_error "$code"
'

test_expect_success 'signing the path without the query is refused' '
	code=$(WX_SIGN_TARGET="/v3/pay/transactions/out-trade-no/ORD-AUTH-1" wx_call GET "$Q") &&
	expect_sign_error "$code"
'

test_expect_success 'a percent-encoded target must be signed byte for byte as sent' '
	code=$(wx_call GET "/v3/pay/transactions/out-trade-no/ORD%2DAUTH%2D1?mchid=1900000001") &&
	test "$code" = 200 &&
	code=$(WX_SIGN_TARGET="/v3/pay/transactions/out-trade-no/ORD-AUTH-1?mchid=1900000001" \
		wx_call GET "/v3/pay/transactions/out-trade-no/ORD%2DAUTH%2D1?mchid=1900000001") &&
	expect_sign_error "$code"
'

test_expect_success 'a wrong certificate serial is refused' '
	code=$(WX_SERIAL=1234567890ABCDEF1234567890ABCDEF12345678 wx_call GET "$Q") &&
	expect_sign_error "$code"
'

test_expect_success 'a lower-cased serial is refused (sent as issued, upper case)' '
	code=$(WX_SERIAL=$(tr A-F a-f <keys/merchant_serial.txt) wx_call GET "$Q") &&
	expect_sign_error "$code"
'

test_expect_success 'an unknown mchid in the header is refused' '
	code=$(WX_MCHID=1900000002 wx_call GET "$Q") &&
	expect_sign_error "$code"
'

test_expect_success 'a query mchid that differs from the header is refused' '
	code=$(wx_call GET "/v3/pay/transactions/out-trade-no/ORD-AUTH-1?mchid=1900000002") &&
	test "$code" = 400 && test "$(json_str code)" = INVALID_REQUEST
'

test_expect_success 'a body mchid that differs from the header is refused' '
	code=$(wx_call POST /v3/pay/transactions/out-trade-no/ORD-AUTH-2/close \
		"{\"mchid\":\"1900000002\"}") &&
	test "$code" = 400 && test "$(json_str code)" = INVALID_REQUEST
'

test_expect_success 'a timestamp 10 minutes old is refused' '
	code=$(WX_TS=$(( $(date +%s) - 600 )) wx_call GET "$Q") &&
	expect_sign_error "$code"
'

test_expect_success 'a timestamp 10 minutes ahead is refused' '
	code=$(WX_TS=$(( $(date +%s) + 600 )) wx_call GET "$Q") &&
	expect_sign_error "$code"
'

test_expect_success 'a timestamp 4 minutes old is still accepted' '
	code=$(WX_TS=$(( $(date +%s) - 240 )) wx_call GET "$Q") &&
	test "$code" = 200
'

test_expect_success 'a timestamp in milliseconds is refused' '
	code=$(WX_TS=$(( $(date +%s) * 1000 )) wx_call GET "$Q") &&
	expect_sign_error "$code"
'

test_expect_success 'a missing Authorization is refused' '
	code=$(WX_AUTH= wx_call GET "$Q") &&
	expect_sign_error "$code"
'

test_expect_success 'malformed Authorization values are refused' '
	ts=$(date +%s) &&
	good="mchid=\"1900000001\",nonce_str=\"abc\",timestamp=\"$ts\",serial_no=\"$(cat keys/merchant_serial.txt)\",signature=\"AAAA\"" &&
	for a in "WECHATPAY2-SHA256-RSA2048" \
		"WECHATPAY2-SHA256-RSA2048 $good,mchid=\"1900000001\"" \
		"WECHATPAY2-SHA256-RSA2048  $good" \
		"wechatpay2-sha256-rsa2048 $good" \
		"WECHATPAY2-SHA256-RSA2048 $good,extra=\"1\"" \
		"WECHATPAY2-SHA256-RSA2048 $good," \
		"WECHATPAY2-SHA256-RSA2048 mchid=1900000001,nonce_str=\"abc\"" \
		"Bearer abc"
	do
		code=$(WX_AUTH="$a" wx_call GET "$Q") &&
		expect_sign_error "$code" || { echo "accepted: $a"; exit 1; }
	done
'

test_expect_success 'the five fields may come in any order' '
	ts=$(date +%s) && n=AnyOrderNonce123 &&
	sig=$(printf "GET\n%s\n%s\n%s\n\n" "$Q" "$ts" "$n" | wx_sign) &&
	a="WECHATPAY2-SHA256-RSA2048 signature=\"$sig\",serial_no=\"$(cat keys/merchant_serial.txt)\",timestamp=\"$ts\",mchid=\"1900000001\",nonce_str=\"$n\"" &&
	code=$(WX_AUTH="$a" wx_call GET "$Q") &&
	test "$code" = 200
'

test_expect_success 'a nonce in the header that differs from the signed one is refused' '
	ts=$(date +%s) &&
	sig=$(printf "GET\n%s\n%s\n%s\n\n" "$Q" "$ts" signednonce | wx_sign) &&
	a="WECHATPAY2-SHA256-RSA2048 mchid=\"1900000001\",nonce_str=\"othernonce\",timestamp=\"$ts\",serial_no=\"$(cat keys/merchant_serial.txt)\",signature=\"$sig\"" &&
	code=$(WX_AUTH="$a" wx_call GET "$Q") &&
	expect_sign_error "$code"
'

test_expect_success 'a signature that is not base64 (a probe) is refused' '
	ts=$(date +%s) &&
	a="WECHATPAY2-SHA256-RSA2048 mchid=\"1900000001\",nonce_str=\"abc\",timestamp=\"$ts\",serial_no=\"$(cat keys/merchant_serial.txt)\",signature=\"WECHATPAY/SIGNTEST/abc\"" &&
	code=$(WX_AUTH="$a" wx_call GET "$Q") &&
	expect_sign_error "$code"
'

test_expect_success 'a signature by another key is refused' '
	ts=$(date +%s) && n=otherkeynonce &&
	sig=$(printf "GET\n%s\n%s\n%s\n\n" "$Q" "$ts" "$n" | openssl dgst -sha256 -sign keys/wechatpay_key.pem | base64 -w0) &&
	a="WECHATPAY2-SHA256-RSA2048 mchid=\"1900000001\",nonce_str=\"$n\",timestamp=\"$ts\",serial_no=\"$(cat keys/merchant_serial.txt)\",signature=\"$sig\"" &&
	code=$(WX_AUTH="$a" wx_call GET "$Q") &&
	expect_sign_error "$code"
'

test_expect_success 'missing User-Agent is 400 INVALID_REQUEST' '
	code=$(WX_NO_UA=1 wx_call GET "$Q") &&
	test "$code" = 400 && test "$(json_str code)" = INVALID_REQUEST
'

test_expect_success 'missing Accept is 400 INVALID_REQUEST' '
	code=$(WX_NO_ACCEPT=1 wx_call GET "$Q") &&
	test "$code" = 400 && test "$(json_str code)" = INVALID_REQUEST
'

test_expect_success 'an unknown Wechatpay-Serial in the request is 400 INVALID_REQUEST' '
	code=$(WX_HEADER="Wechatpay-Serial: PUB_KEY_ID_0000" wx_call GET "$Q") &&
	test "$code" = 400 && test "$(json_str code)" = INVALID_REQUEST &&
	code=$(WX_HEADER="Wechatpay-Serial: $(cat keys/pub_key_id.txt)" wx_call GET "$Q") &&
	test "$code" = 200
'

test_expect_success 'the journal records every /v3 request with auth_ok' '
	sim_admin GET /_sim/journal >j &&
	grep -q "\"auth_ok\":false" j &&
	grep -q "\"auth_ok\":true" j &&
	grep -q "\"status\":401" j &&
	! grep -q "/_sim/" j
'

test_done
