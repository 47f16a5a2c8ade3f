#!/bin/sh
# wxrecon-sim under valgrind memcheck: a few requests of every kind, then
# SIGTERM; any memory error or definite/indirect leak fails the test.
. "$(dirname "$0")/test-lib.sh"
. "$FIXTURES/sim/lib-sim.sh"

command -v valgrind >/dev/null 2>&1 || test_skip_all 'valgrind is not installed'
if nm "$WXRECON_SIM_BIN" 2>/dev/null | grep -q __asan_init; then
	test_skip_all 'an AddressSanitizer build cannot run under valgrind'
fi

keys_setup
mkdir -p bills
printf 'x\r\n' | gzip -c >bills/2026-02-20.trade.ALL.csv.gz
valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --log-file=vg.log \
	"$WXRECON_SIM_BIN" --port 0 --keys keys --portfile port --state st --bills bills \
	--journal journal.jsonl >sim.out 2>sim.err &
SIM_PID=$!
i=0
while [ ! -s port ] && [ $i -lt 300 ] && kill -0 "$SIM_PID" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
SIM_PORT=$(cat port 2>/dev/null)
SIM_URL="http://127.0.0.1:$SIM_PORT"

test_expect_success 'the simulator starts under valgrind' 'test -n "$SIM_PORT"'

test_expect_success 'a session of every kind of request' '
	sim_admin POST /_sim/clock "{\"now\":\"2026-03-02T11:00:00+08:00\"}" >/dev/null &&
	sim_admin POST /_sim/orders "[{\"out_trade_no\":\"ORD-V-1\",\"total\":1000,\"trade_state\":\"SUCCESS\",\"success_time\":\"2026-03-01T10:00:00+08:00\"},{\"out_trade_no\":\"ORD-V-2\",\"total\":10}]" >/dev/null &&
	! sim_admin POST /_sim/orders "[{\"out_trade_no\":\"ORD-V-3\",\"total\":1},{\"total\":1}]" &&
	wx_call GET "/v3/pay/transactions/out-trade-no/ORD-V-1?mchid=1900000001" >/dev/null && wx_verify &&
	WX_AUTH= wx_call GET "/v3/pay/transactions/out-trade-no/ORD-V-1?mchid=1900000001" >/dev/null &&
	WX_SIGN_BODY=x wx_call POST /v3/pay/transactions/out-trade-no/ORD-V-2/close "{\"mchid\":\"1900000001\"}" >/dev/null &&
	wx_call POST /v3/pay/transactions/app "{\"appid\":\"wx8888888888888888\",\"mchid\":\"1900000001\",\"description\":\"d\",\"out_trade_no\":\"ORD-V-4\",\"notify_url\":\"https://example.com/n\",\"amount\":{\"total\":100}}" >/dev/null &&
	wx_call POST /v3/pay/transactions/app "{\"bad\":1}" >/dev/null &&
	wx_call POST /v3/pay/transactions/out-trade-no/ORD-V-2/close "{\"mchid\":\"1900000001\"}" >/dev/null &&
	wx_call POST /v3/refund/domestic/refunds "{\"out_trade_no\":\"ORD-V-1\",\"out_refund_no\":\"RF-V-1\",\"amount\":{\"refund\":100,\"total\":1000,\"currency\":\"CNY\"}}" >/dev/null &&
	wx_call GET /v3/refund/domestic/refunds/RF-V-1 >/dev/null &&
	sim_admin POST /_sim/refunds/RF-V-1/status "{\"status\":\"ABNORMAL\"}" >r &&
	rid=$(json_str refund_id r) &&
	acc=$(printf 6225880000000000 | openssl pkeyutl -encrypt -pubin -inkey keys/pub_key.pem -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1 | base64 -w0) &&
	WX_HEADER="Wechatpay-Serial: $(cat keys/pub_key_id.txt)" wx_call POST "/v3/refund/domestic/refunds/$rid/apply-abnormal-refund" "{\"out_refund_no\":\"RF-V-1\",\"type\":\"USER_BANK_CARD\",\"bank_type\":\"CMB_DEBIT\",\"bank_account\":\"$acc\",\"real_name\":\"$acc\"}" >/dev/null &&
	wx_call GET /v3/certificates >/dev/null &&
	for q in "tradebill?bill_date=2026-03-01&tar_type=GZIP" "tradebill?bill_date=2026-03-01" \
		"fundflowbill?bill_date=2026-03-01&tar_type=GZIP" "tradebill?bill_date=2026-02-20&tar_type=GZIP" \
		"tradebill?bill_date=2026-02-01"; do
		wx_call GET "/v3/bill/$q" >/dev/null &&
		u=$(json_str download_url) &&
		{ [ -z "$u" ] || wx_call GET "${u#http://127.0.0.1:$SIM_PORT}" >/dev/null; } || exit 1
	done &&
	sim_admin POST /_sim/faults "[{\"match\":\"query\",\"kind\":\"drop\"},{\"match\":\"query\",\"kind\":\"status\",\"status\":500},{\"match\":\"query\",\"kind\":\"bad_signature\"},{\"match\":\"download\",\"kind\":\"truncate_download\"},{\"match\":\"close\",\"kind\":\"pay_during_close\"}]" >/dev/null &&
	{ wx_call GET "/v3/pay/transactions/out-trade-no/ORD-V-1?mchid=1900000001" >/dev/null; true; } &&
	wx_call GET "/v3/pay/transactions/out-trade-no/ORD-V-1?mchid=1900000001" >/dev/null &&
	wx_call GET "/v3/pay/transactions/out-trade-no/ORD-V-1?mchid=1900000001" >/dev/null &&
	wx_call GET "/v3/bill/tradebill?bill_date=2026-03-01&tar_type=GZIP" >/dev/null &&
	u=$(json_str download_url) &&
	{ wx_call GET "${u#http://127.0.0.1:$SIM_PORT}" >/dev/null; true; } &&
	sim_admin POST /_sim/tokens/expire >/dev/null &&
	wx_call GET "${u#http://127.0.0.1:$SIM_PORT}" >/dev/null &&
	wx_call POST /v3/pay/transactions/out-trade-no/ORD-V-4/close "{\"mchid\":\"1900000001\"}" >/dev/null &&
	sim_admin GET /_sim/journal >/dev/null &&
	sim_admin GET /_sim/state >/dev/null &&
	sim_admin POST /_sim/faults "{\"match\":\"/v3/\",\"kind\":\"delay\",\"ms\":1,\"count\":-1}" >/dev/null &&
	sim_admin DELETE /_sim/faults >/dev/null &&
	sim_admin POST /_sim/reset >/dev/null
'

kill -TERM "$SIM_PID" 2>/dev/null
wait "$SIM_PID"
rc=$?
SIM_PID=

test_expect_success 'it exits 0 with no memory errors or leaks' '
	{ test "$rc" = 0 || { cat vg.log; false; }; }
'

test_done
