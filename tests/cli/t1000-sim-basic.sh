#!/bin/sh
# wxrecon-sim: start, port file, options, a signed query whose answer verifies,
# signing modes, certificates, clean exit on SIGTERM.
. "$(dirname "$0")/test-lib.sh"
. "$FIXTURES/sim/lib-sim.sh"

keys_setup

test_expect_code 2 'an unknown option is a usage error' 'wxrecon_sim --nope'
test_expect_code 2 'a bad port is a usage error' 'wxrecon_sim --port 70000'
test_expect_code 2 'a bad release time is a usage error' 'wxrecon_sim --release-time 25:00'
test_expect_code 2 'a bad sign mode is a usage error' 'wxrecon_sim --sign-mode sm2'
test_expect_code 2 'a missing keys directory is a configuration error' '
	wxrecon_sim --port 0 --keys nokeys
'
test_expect_success 'generate is dispatched to the generator' '
	wxrecon_sim generate --help >out && grep -q "^usage: wxrecon-sim generate --rows N" out
'
test_expect_success 'generate writes a bill the simulator can serve' '
	wxrecon_sim generate --rows 200 --date 2026-11-01 --out gen >out &&
	test -f gen/2026-11-01.trade.ALL.csv.gz && test -f gen/2026-11-01.trade.ALL.csv.gz.sha1 &&
	test "$(gzip -dc gen/2026-11-01.trade.ALL.csv.gz | sha1sum | cut -c1-40)" = "$(cut -c1-40 gen/2026-11-01.trade.ALL.csv.gz.sha1)"
'

sim_start
test_expect_success 'starts on a free port and writes the port file' '
	test "$SIM_PORT" -gt 0 &&
	grep -q "^wxrecon-sim listening on http://127.0.0.1:$SIM_PORT\$" "$TRASH/sim.log"
'

test_expect_success 'a correctly signed query is answered and its signature verifies' '
	sim_admin POST /_sim/orders "{\"out_trade_no\":\"ORD-BASIC-1\",\"total\":100}" &&
	code=$(wx_call GET "/v3/pay/transactions/out-trade-no/ORD-BASIC-1?mchid=1900000001") &&
	test "$code" = 200 &&
	test "$(json_str trade_state)" = NOTPAY &&
	wx_verify &&
	test "$(wx_hdr Wechatpay-Serial)" = "$(cat keys/pub_key_id.txt)" &&
	test "$(wx_hdr Wechatpay-Signature-Type)" = WECHATPAY2-SHA256-RSA2048 &&
	test -n "$(wx_hdr Request-ID)"
'

test_expect_success 'a tampered answer does not verify (the check can fail)' '
	code=$(wx_call GET "/v3/pay/transactions/out-trade-no/ORD-BASIC-1?mchid=1900000001") &&
	sed -i "s/NOTPAY/SUCCESS/" out &&
	! wx_verify
'

test_expect_success 'Request-IDs are unique' '
	wx_call GET "/v3/pay/transactions/out-trade-no/ORD-BASIC-1?mchid=1900000001" >/dev/null &&
	a=$(wx_hdr Request-ID) &&
	wx_call GET "/v3/pay/transactions/out-trade-no/ORD-BASIC-1?mchid=1900000001" >/dev/null &&
	b=$(wx_hdr Request-ID) &&
	test -n "$a" && test "$a" != "$b"
'

test_expect_success 'an error answer is signed too and carries code and message' '
	code=$(wx_call GET "/v3/pay/transactions/out-trade-no/NOSUCHORDER?mchid=1900000001") &&
	test "$code" = 404 &&
	test "$(json_str code)" = ORDER_NOT_EXIST &&
	test -n "$(json_str message)" &&
	wx_verify &&
	wx_hdr Request-ID | grep -q -- "-268512771\$"
'

test_expect_success 'GET /v3/certificates answers an encrypted, signed certificate' '
	code=$(wx_call GET /v3/certificates) &&
	test "$code" = 200 &&
	wx_verify &&
	test "$(json_str serial_no)" = "$(cat keys/wechatpay_cert_serial.txt)" &&
	test "$(json_str algorithm)" = AEAD_AES_256_GCM &&
	test "$(json_str associated_data)" = certificate &&
	test "$(json_str nonce | wc -c)" = 13 &&
	test -n "$(json_str ciphertext)"
'

test_expect_success 'an unknown /v3 endpoint is 404' '
	code=$(wx_call GET /v3/nothing/here) &&
	test "$code" = 404
'

# The server is a child of this shell, so the signals and wait happen here.
kill -TERM "$SIM_PID"
wait "$SIM_PID"
rc=$?
SIM_PID=
test_expect_success 'SIGTERM stops it cleanly with exit 0' 'test "$rc" = 0'

sim_start
kill -INT "$SIM_PID"
wait "$SIM_PID"
rc=$?
SIM_PID=
test_expect_success 'SIGINT stops it cleanly with exit 0' 'test "$rc" = 0'

sim_start --sign-mode cert
test_expect_success 'cert mode names the platform certificate serial' '
	code=$(wx_call GET /v3/certificates) &&
	test "$code" = 200 &&
	test "$(wx_hdr Wechatpay-Serial)" = "$(cat keys/wechatpay_cert_serial.txt)" &&
	wx_verify
'

sim_stop
sim_start --mchid 1900000099 --appid wx9999999999999999
test_expect_success 'another mchid and appid can be configured' '
	code=$(WX_MCHID=1900000099 wx_call GET "/v3/pay/transactions/out-trade-no/X123456?mchid=1900000099") &&
	test "$code" = 404 &&
	code=$(wx_call GET "/v3/pay/transactions/out-trade-no/X123456?mchid=1900000001") &&
	test "$code" = 401
'

test_done
