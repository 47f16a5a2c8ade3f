#!/bin/sh
# wxrecon-sim: every fault kind of POST /_sim/faults is observable.
. "$(dirname "$0")/test-lib.sh"
. "$FIXTURES/sim/lib-sim.sh"

keys_setup
sim_start
sim_admin POST /_sim/clock '{"now":"2026-03-02T11:00:00+08:00"}' >/dev/null
sim_admin POST /_sim/orders '[
 {"out_trade_no":"ORD-F-1","total":100},
 {"out_trade_no":"ORD-F-2","total":100},
 {"out_trade_no":"ORD-F-3","total":2000,"trade_state":"SUCCESS","success_time":"2026-03-01T10:00:00+08:00"}]' >/dev/null

Q1="/v3/pay/transactions/out-trade-no/ORD-F-1?mchid=1900000001"
fault() {
	sim_admin POST /_sim/faults "$1" >/dev/null
}

test_expect_success 'bad fault rules are refused' '
	! sim_admin POST /_sim/faults "{\"match\":\"query\",\"kind\":\"explode\"}" &&
	! sim_admin POST /_sim/faults "{\"match\":\"nosuchendpoint\",\"kind\":\"drop\"}" &&
	! sim_admin POST /_sim/faults "{\"match\":\"query\",\"kind\":\"status\"}" &&
	! sim_admin POST /_sim/faults "{\"match\":\"query\",\"kind\":\"drop\",\"count\":0}" &&
	test "$(sim_admin GET /_sim/faults)" = "[]"
'

test_expect_success 'status: two 500 SYSTEM_ERROR answers, then normal again' '
	fault "{\"match\":\"query\",\"kind\":\"status\",\"status\":500,\"count\":2}" &&
	sim_admin GET /_sim/faults | grep -q "\"count\":2" &&
	code=$(wx_call GET "$Q1") && test "$code" = 500 &&
	test "$(json_str code)" = SYSTEM_ERROR && wx_verify &&
	code=$(wx_call GET "$Q1") && test "$code" = 500 &&
	code=$(wx_call GET "$Q1") && test "$code" = 200 &&
	test "$(sim_admin GET /_sim/faults)" = "[]"
'

test_expect_success 'status: 429 FREQUENCY_LIMITED and 503 with a chosen code' '
	fault "[{\"match\":\"query\",\"kind\":\"status\",\"status\":429},{\"match\":\"query\",\"kind\":\"status\",\"status\":503,\"code\":\"SERVICE_UNAVAILABLE\"}]" &&
	code=$(wx_call GET "$Q1") && test "$code" = 429 && test "$(json_str code)" = FREQUENCY_LIMITED &&
	code=$(wx_call GET "$Q1") && test "$code" = 503 && test "$(json_str code)" = SERVICE_UNAVAILABLE &&
	code=$(wx_call GET "$Q1") && test "$code" = 200
'

test_expect_success 'a path prefix matches every endpoint under it, an endpoint name only its own' '
	fault "{\"match\":\"/v3/pay/\",\"kind\":\"status\",\"status\":500,\"count\":-1}" &&
	code=$(wx_call GET "$Q1") && test "$code" = 500 &&
	code=$(wx_call POST /v3/pay/transactions/out-trade-no/ORD-F-2/close "{\"mchid\":\"1900000001\"}") &&
	test "$code" = 500 &&
	code=$(wx_call GET /v3/refund/domestic/refunds/NOPE) && test "$code" = 404 &&
	sim_admin DELETE /_sim/faults >/dev/null &&
	code=$(wx_call GET "$Q1") && test "$code" = 200 &&
	fault "{\"match\":\"close\",\"kind\":\"status\",\"status\":500}" &&
	code=$(wx_call GET "$Q1") && test "$code" = 200 &&
	sim_admin GET /_sim/faults | grep -q "\"count\":1" &&
	sim_admin DELETE /_sim/faults >/dev/null
'

test_expect_success 'delay: the answer comes late but whole' '
	fault "{\"match\":\"query\",\"kind\":\"delay\",\"ms\":800}" &&
	t0=$(date +%s%N) && code=$(wx_call GET "$Q1") && t1=$(date +%s%N) &&
	test "$code" = 200 && wx_verify &&
	test $(( (t1 - t0) / 1000000 )) -ge 800
'

test_expect_success 'bad_signature: the answer does not verify' '
	fault "{\"match\":\"query\",\"kind\":\"bad_signature\"}" &&
	code=$(wx_call GET "$Q1") && test "$code" = 200 &&
	test -n "$(wx_hdr Wechatpay-Signature)" &&
	! wx_verify &&
	code=$(wx_call GET "$Q1") && wx_verify
'

test_expect_success 'bad_signature probe: WECHATPAY/SIGNTEST/ that is not base64' '
	fault "{\"match\":\"query\",\"kind\":\"bad_signature\",\"probe\":true}" &&
	code=$(wx_call GET "$Q1") && test "$code" = 200 &&
	wx_hdr Wechatpay-Signature | grep -q "^WECHATPAY/SIGNTEST/" &&
	! wx_verify
'

test_expect_success 'pay_during_close: the close answers 204 but the order is paid' '
	fault "{\"match\":\"close\",\"kind\":\"pay_during_close\"}" &&
	code=$(wx_call POST /v3/pay/transactions/out-trade-no/ORD-F-2/close "{\"mchid\":\"1900000001\"}") &&
	test "$code" = 204 && wx_verify &&
	code=$(wx_call GET "/v3/pay/transactions/out-trade-no/ORD-F-2?mchid=1900000001") &&
	test "$(json_str trade_state)" = SUCCESS &&
	test -n "$(json_str transaction_id)"
'

test_expect_success 'drop: the connection closes without an answer, nothing changes' '
	fault "{\"match\":\"close\",\"kind\":\"drop\"}" &&
	{ code=$(wx_call POST /v3/pay/transactions/out-trade-no/ORD-F-1/close "{\"mchid\":\"1900000001\"}"); rc=$?; } &&
	test "$rc" != 0 && test "$code" = 000 &&
	code=$(wx_call GET "$Q1") && test "$(json_str trade_state)" = NOTPAY
'

test_expect_success 'drop after: the refund is made but its answer is lost' '
	fault "{\"match\":\"refund\",\"kind\":\"drop\",\"after\":true}" &&
	{ code=$(wx_call POST /v3/refund/domestic/refunds "{\"out_trade_no\":\"ORD-F-3\",\"out_refund_no\":\"RF-F-1\",\"amount\":{\"refund\":100,\"total\":2000,\"currency\":\"CNY\"}}"); rc=$?; } &&
	test "$rc" != 0 &&
	code=$(wx_call GET /v3/refund/domestic/refunds/RF-F-1) && test "$code" = 200
'

sim_admin POST /_sim/orders '{"out_trade_no":"ORD-F-4","total":2000,"trade_state":"SUCCESS","success_time":"2026-03-01T11:00:00+08:00"}' >/dev/null

bill_url() { # -> the download target of a fresh trade bill for 2026-03-01
	wx_call GET "/v3/bill/tradebill?bill_date=2026-03-01&bill_type=ALL&tar_type=GZIP" >/dev/null &&
	json_str hash_value >hash &&
	u=$(json_str download_url) && echo "${u#http://127.0.0.1:$SIM_PORT}"
}

test_expect_success 'wrong_bill_hash: the hash does not match the download' '
	t=$(bill_url) && good=$(cat hash) &&
	fault "{\"match\":\"tradebill\",\"kind\":\"wrong_bill_hash\"}" &&
	t=$(bill_url) && bad=$(cat hash) &&
	code=$(wx_call GET "$t") && test "$code" = 200 &&
	test "$(gzip -dc out | sha1sum | cut -c1-40)" = "$good" &&
	test "$bad" != "$good" && test ${#bad} = 40
'

test_expect_success 'truncate_download: the transfer breaks off half way' '
	t=$(bill_url) &&
	fault "{\"match\":\"download\",\"kind\":\"truncate_download\"}" &&
	{ code=$(wx_call GET "$t"); rc=$?; } &&
	test "$rc" = 18 &&
	code=$(wx_call GET "$t") && test "$code" = 200 && gzip -t out
'

test_expect_success 'truncate_download short: a clean but truncated gzip' '
	t=$(bill_url) &&
	fault "{\"match\":\"download\",\"kind\":\"truncate_download\",\"short\":true,\"bytes\":40}" &&
	code=$(wx_call GET "$t") && test "$code" = 200 &&
	test "$(wc -c <out)" = 40 &&
	! gzip -t out 2>/dev/null
'

test_expect_success 'the journal names the faults' '
	sim_admin GET /_sim/journal >j &&
	for k in status delay bad_signature pay_during_close drop wrong_bill_hash truncate_download; do
		grep -q "\"fault\":\"$k\"" j || { echo "no $k"; exit 1; }
	done &&
	grep -q "\"status\":0" j
'

test_done
