#!/bin/sh
# wxrecon-sim: refunds, refund queries and abnormal refunds.
. "$(dirname "$0")/test-lib.sh"
. "$FIXTURES/sim/lib-sim.sh"

keys_setup
sim_start
sim_admin POST /_sim/clock '{"now":"2026-03-02T12:00:00+08:00"}' >/dev/null
sim_admin POST /_sim/orders '[
 {"out_trade_no":"ORD-R-1","total":1000,"trade_state":"SUCCESS","success_time":"2026-03-01T09:00:00+08:00","transaction_id":"4200000001202603010000000001"},
 {"out_trade_no":"ORD-R-2","total":500},
 {"out_trade_no":"ORD-R-3","total":333,"trade_state":"SUCCESS","success_time":"2026-03-01T09:30:00+08:00"},
 {"out_trade_no":"ORD-R-OLD","total":100,"trade_state":"SUCCESS","success_time":"2025-02-01T09:30:00+08:00"}]' >/dev/null

refund_body() { # out_trade_no out_refund_no refund total
	printf '{"out_trade_no":"%s","out_refund_no":"%s","reason":"测试","amount":{"refund":%s,"total":%s,"currency":"CNY"}}' "$1" "$2" "$3" "$4"
}

refund() {
	wx_call POST /v3/refund/domestic/refunds "$(refund_body "$@")"
}

oaep() { # plaintext -> base64 RSA-OAEP(SHA-1) with the WeChat Pay public key
	printf '%s' "$1" | openssl pkeyutl -encrypt -pubin -inkey keys/pub_key.pem \
		-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1 |
		base64 -w0
}

test_expect_success 'a refund of an unpaid order is 404 RESOURCE_NOT_EXISTS' '
	code=$(refund ORD-R-2 RF-X-1 100 500) &&
	test "$code" = 404 && test "$(json_str code)" = RESOURCE_NOT_EXISTS && wx_verify
'

test_expect_success 'a refund of an unknown order is 404 RESOURCE_NOT_EXISTS' '
	code=$(refund NO-SUCH RF-X-2 100 500) &&
	test "$code" = 404 && test "$(json_str code)" = RESOURCE_NOT_EXISTS
'

test_expect_success 'a refund is accepted as PROCESSING and the order becomes REFUND' '
	code=$(refund ORD-R-1 RF-1 300 1000) &&
	test "$code" = 200 && wx_verify &&
	test "$(json_str status)" = PROCESSING &&
	test "$(json_str out_refund_no)" = RF-1 &&
	test "$(json_str transaction_id)" = 4200000001202603010000000001 &&
	test "$(json_str create_time)" = 2026-03-02T12:00:00+08:00 &&
	json_str refund_id | grep -q "^5030000001[0-9]\{19\}\$" &&
	test "$(json_num refund)" = 300 &&
	test "$(json_num refund_fee)" = 2 &&
	json_str refund_id >rid &&
	code=$(wx_call GET "/v3/pay/transactions/out-trade-no/ORD-R-1?mchid=1900000001") &&
	test "$(json_str trade_state)" = REFUND
'

test_expect_success 'the same out_refund_no returns the same refund' '
	code=$(refund ORD-R-1 RF-1 300 1000) &&
	test "$code" = 200 && test "$(json_str refund_id)" = "$(cat rid)" &&
	sim_admin GET /_sim/state >st && test "$(grep -o "\"out_refund_no\"" st | wc -l)" = 1
'

test_expect_success 'the same out_refund_no with another amount is refused' '
	code=$(refund ORD-R-1 RF-1 301 1000) &&
	test "$code" = 400 && test "$(json_str code)" = INVALID_REQUEST
'

test_expect_success 'a wrong order total is 400 INVALID_REQUEST' '
	code=$(refund ORD-R-1 RF-2 100 999) &&
	test "$code" = 400 && test "$(json_str code)" = INVALID_REQUEST
'

test_expect_success 'refunds beyond the order total are refused' '
	code=$(refund ORD-R-1 RF-3 701 1000) &&
	test "$code" = 400 && test "$(json_str code)" = INVALID_REQUEST &&
	code=$(refund ORD-R-1 RF-3 700 1000) && test "$code" = 200 &&
	test "$(json_num refund_fee)" = 4
'

test_expect_success 'a refund more than a year after the payment is refused' '
	code=$(refund ORD-R-OLD RF-OLD 10 100) &&
	test "$code" = 400 && test "$(json_str code)" = INVALID_REQUEST
'

test_expect_success 'refund by transaction_id finds the order (fully refunded: refused)' '
	b="{\"transaction_id\":\"4200000001202603010000000001\",\"out_refund_no\":\"RF-4\",\"amount\":{\"refund\":1,\"total\":1000,\"currency\":\"CNY\"}}" &&
	code=$(wx_call POST /v3/refund/domestic/refunds "$b") &&
	test "$code" = 400 && test "$(json_str code)" = INVALID_REQUEST
'

test_expect_success 'refund requests are validated' '
	for b in \
		"{\"out_refund_no\":\"RF-V1\",\"amount\":{\"refund\":1,\"total\":333,\"currency\":\"CNY\"}}" \
		"$(refund_body ORD-R-3 "RF V2" 1 333)" \
		"$(refund_body ORD-R-3 RF-V3 0 333)" \
		"{\"out_trade_no\":\"ORD-R-3\",\"out_refund_no\":\"RF-V4\",\"amount\":{\"refund\":1,\"total\":333}}"
	do
		code=$(wx_call POST /v3/refund/domestic/refunds "$b") &&
		test "$code" = 400 && test "$(json_str code)" = PARAM_ERROR ||
			{ echo "not refused ($code): $b"; cat out; exit 1; }
	done
'

test_expect_success 'query refund: found, and 404 RESOURCE_NOT_EXISTS when unknown' '
	code=$(wx_call GET /v3/refund/domestic/refunds/RF-1) &&
	test "$code" = 200 && wx_verify &&
	test "$(json_str status)" = PROCESSING &&
	test "$(json_str channel)" = ORIGINAL &&
	code=$(wx_call GET /v3/refund/domestic/refunds/RF-NOPE) &&
	test "$code" = 404 && test "$(json_str code)" = RESOURCE_NOT_EXISTS
'

test_expect_success 'admin moves a refund to SUCCESS; the query shows success_time' '
	sim_admin POST /_sim/refunds/RF-1/status "{\"status\":\"SUCCESS\",\"success_time\":\"2026-03-02T12:30:00+08:00\"}" >/dev/null &&
	code=$(wx_call GET /v3/refund/domestic/refunds/RF-1) &&
	test "$(json_str status)" = SUCCESS &&
	test "$(json_str success_time)" = 2026-03-02T12:30:00+08:00
'

test_expect_success 'abnormal refund of a refund that is not ABNORMAL is 400 INVALID_REQUEST' '
	S="Wechatpay-Serial: $(cat keys/pub_key_id.txt)" &&
	code=$(WX_HEADER="$S" wx_call POST "/v3/refund/domestic/refunds/$(cat rid)/apply-abnormal-refund" \
		"{\"out_refund_no\":\"RF-1\",\"type\":\"MERCHANT_BANK_CARD\"}") &&
	test "$code" = 400 && test "$(json_str code)" = INVALID_REQUEST && wx_verify
'

test_expect_success 'abnormal refund of an unknown refund is 404' '
	S="Wechatpay-Serial: $(cat keys/pub_key_id.txt)" &&
	code=$(WX_HEADER="$S" wx_call POST /v3/refund/domestic/refunds/50300000012026030200000000999/apply-abnormal-refund \
		"{\"out_refund_no\":\"RF-1\",\"type\":\"MERCHANT_BANK_CARD\"}") &&
	test "$code" = 404 && test "$(json_str code)" = RESOURCE_NOT_EXISTS
'

sim_admin POST /_sim/refunds/RF-3/status '{"status":"ABNORMAL"}' >/dev/null
RID3=$(sim_admin GET /_sim/refunds/RF-3 | sed 's/.*"refund_id":"\([0-9]*\)".*/\1/')
ABN="/v3/refund/domestic/refunds/$RID3/apply-abnormal-refund"

test_expect_success 'abnormal refund without Wechatpay-Serial is refused' '
	code=$(wx_call POST "$ABN" "{\"out_refund_no\":\"RF-3\",\"type\":\"MERCHANT_BANK_CARD\"}") &&
	test "$code" = 400 &&
	sim_admin GET /_sim/refunds/RF-3 >r && test "$(json_str status r)" = ABNORMAL
'

test_expect_success 'USER_BANK_CARD needs bank_type and decryptable fields' '
	S="Wechatpay-Serial: $(cat keys/pub_key_id.txt)" &&
	code=$(WX_HEADER="$S" wx_call POST "$ABN" "{\"out_refund_no\":\"RF-3\",\"type\":\"USER_BANK_CARD\"}") &&
	test "$code" = 400 && test "$(json_str code)" = PARAM_ERROR &&
	code=$(WX_HEADER="$S" wx_call POST "$ABN" "{\"out_refund_no\":\"RF-3\",\"type\":\"USER_BANK_CARD\",\"bank_type\":\"CMB_DEBIT\",\"bank_account\":\"6225880000000000\",\"real_name\":\"张三\"}") &&
	test "$code" = 400 && test "$(json_str code)" = PARAM_ERROR &&
	test "$(json_str field)" = /bank_account &&
	code=$(WX_HEADER="$S" wx_call POST "$ABN" "{\"out_refund_no\":\"RF-3\",\"type\":\"USER_BANK_CARD\",\"bank_type\":\"VISA\",\"bank_account\":\"$(oaep 6225880000000000)\",\"real_name\":\"$(oaep 张三)\"}") &&
	test "$code" = 400 &&
	sim_admin GET /_sim/refunds/RF-3 >r && test "$(json_str status r)" = ABNORMAL
'

test_expect_success 'USER_BANK_CARD with encrypted card and name goes back to PROCESSING' '
	S="Wechatpay-Serial: $(cat keys/pub_key_id.txt)" &&
	code=$(WX_HEADER="$S" wx_call POST "$ABN" "{\"out_refund_no\":\"RF-3\",\"type\":\"USER_BANK_CARD\",\"bank_type\":\"CMB_DEBIT\",\"bank_account\":\"$(oaep 6225880000000000)\",\"real_name\":\"$(oaep 张三)\"}") &&
	test "$code" = 200 && wx_verify &&
	test "$(json_str status)" = PROCESSING &&
	test "$(json_str channel)" = OTHER_BANKCARD &&
	! grep -q 6225880000000000 out &&
	sim_admin GET /_sim/state >st && ! grep -q 6225880000000000 st && ! grep -q 张三 st &&
	! grep -q 6225880000000000 "$TRASH/sim.log"
'

test_expect_success 'MERCHANT_BANK_CARD needs no card data' '
	sim_admin POST /_sim/refunds/RF-3/status "{\"status\":\"ABNORMAL\"}" >/dev/null &&
	S="Wechatpay-Serial: $(cat keys/pub_key_id.txt)" &&
	code=$(WX_HEADER="$S" wx_call POST "$ABN" "{\"out_refund_no\":\"RF-3\",\"type\":\"MERCHANT_BANK_CARD\"}") &&
	test "$code" = 200 && test "$(json_str status)" = PROCESSING
'

test_expect_success 'seeded refunds: the order becomes REFUND, over-refunds are refused' '
	sim_admin POST /_sim/refunds "{\"out_refund_no\":\"RF-S-1\",\"out_trade_no\":\"ORD-R-3\",\"refund\":333,\"status\":\"SUCCESS\"}" >o &&
	test "$(json_num fee o)" = 2 &&
	! sim_admin POST /_sim/refunds "{\"out_refund_no\":\"RF-S-2\",\"out_trade_no\":\"ORD-R-3\",\"refund\":1}" &&
	! sim_admin POST /_sim/refunds "{\"out_refund_no\":\"RF-S-3\",\"out_trade_no\":\"ORD-R-2\",\"refund\":1}"
'

test_done
