#!/bin/sh
# wxrecon-sim: trade and fund-flow bills: availability by the sim clock, the
# SHA-1 of the decompressed bill, the unsigned download, links that expire,
# prepared bills from --bills DIR.
. "$(dirname "$0")/test-lib.sh"
. "$FIXTURES/sim/lib-sim.sh"

keys_setup
sim_start
sim_admin POST /_sim/orders '[
 {"out_trade_no":"ORD-B-1","total":2500,"trade_state":"SUCCESS","success_time":"2026-03-01T09:15:02+08:00","transaction_id":"4200000001202603010000000001","description":"月卡","attach":"u=42"},
 {"out_trade_no":"ORD-B-2","total":1000,"trade_state":"SUCCESS","success_time":"2026-03-01T23:59:59+08:00"},
 {"out_trade_no":"ORD-B-3","total":700,"trade_state":"SUCCESS","success_time":"2026-03-02T00:00:00+08:00"},
 {"out_trade_no":"ORD-B-4","total":900,"create_time":"2026-03-01T08:00:00+08:00"}]' >/dev/null
sim_admin POST /_sim/refunds '{"out_refund_no":"RF-B-1","out_trade_no":"ORD-B-1","refund":1000,"create_time":"2026-03-01T18:40:11+08:00"}' >/dev/null

clock() {
	sim_admin POST /_sim/clock "{\"now\":\"$1\"}" >/dev/null
}

trade() { # date [extra query]
	wx_call GET "/v3/bill/tradebill?bill_date=$1&bill_type=ALL&tar_type=GZIP${2:-}"
}

fund() {
	wx_call GET "/v3/bill/fundflowbill?bill_date=$1&account_type=BASIC&tar_type=GZIP"
}

download() { # the download_url in ./out -> ./bill (prints the status)
	url=$(json_str download_url) &&
	wx_call GET "${url#http://127.0.0.1:$SIM_PORT}" >code &&
	mv out bill && cat code
}

test_expect_success 'before 10:00 the next day the bill is 400 STATEMENT_CREATING' '
	clock 2026-03-02T09:59:59+08:00 &&
	code=$(trade 2026-03-01) &&
	test "$code" = 400 && test "$(json_str code)" = STATEMENT_CREATING && wx_verify &&
	code=$(trade 2026-03-02) &&
	test "$code" = 400 && test "$(json_str code)" = STATEMENT_CREATING
'

test_expect_success 'a date after today is refused' '
	code=$(trade 2026-03-03) &&
	test "$code" = 400 && test "$(json_str code)" = PARAM_ERROR
'

test_expect_success 'a day without payments or refunds is 400 NO_STATEMENT_EXIST' '
	clock 2026-03-02T10:00:00+08:00 &&
	code=$(trade 2026-02-27) &&
	test "$code" = 400 && test "$(json_str code)" = NO_STATEMENT_EXIST && wx_verify &&
	code=$(fund 2026-02-27) &&
	test "$code" = 400 && test "$(json_str code)" = NO_STATEMENT_EXIST
'

test_expect_success 'a bill older than three months is refused' '
	code=$(trade 2025-12-01) &&
	test "$code" = 400 && test "$(json_str code)" = PARAM_ERROR &&
	code=$(trade 2025-12-02) &&
	test "$code" = 400 && test "$(json_str code)" = NO_STATEMENT_EXIST
'

test_expect_success 'bad bill parameters are 400 PARAM_ERROR' '
	for q in "bill_date=2026-3-1" "bill_date=20260301" "bill_date=2026-03-01&bill_type=NOPE" \
		"bill_date=2026-03-01&tar_type=ZIP" "bill_type=ALL" "bill_date=2026-03-01&x=1"
	do
		code=$(wx_call GET "/v3/bill/tradebill?$q") &&
		test "$code" = 400 && test "$(json_str code)" = PARAM_ERROR ||
			{ echo "not refused ($code): $q"; exit 1; }
	done
'

test_expect_success 'at 10:00 the trade bill is ready: SHA1 of the decompressed bytes' '
	code=$(trade 2026-03-01) &&
	test "$code" = 200 && wx_verify &&
	test "$(json_str hash_type)" = SHA1 &&
	json_str hash_value >hash &&
	json_str download_url | grep -q "^http://127.0.0.1:$SIM_PORT/v3/billdownload/file?token=[0-9A-Za-z]*&tartype=gzip\$" &&
	code=$(download) && test "$code" = 200 &&
	gzip -t bill &&
	test "$(gzip -dc bill | sha1sum | cut -c1-40)" = "$(cat hash)"
'

test_expect_success 'the download answer carries no signature' '
	! grep -qi "^Wechatpay-Signature:" hdr &&
	! grep -qi "^Wechatpay-Timestamp:" hdr
'

test_expect_success 'the trade bill has the documented shape and the day'"'"'s rows' '
	gzip -dc bill >bill.csv &&
	test "$(head -c 3 bill.csv | od -An -tx1 | tr -d " ")" = efbbbf &&
	test "$(grep -c "$(printf "\r")\$" bill.csv)" = "$(wc -l <bill.csv)" &&
	test "$(wc -l <bill.csv)" = 6 &&
	grep -q "^.*交易时间,公众账号ID,商户号" bill.csv &&
	grep -q "^\`2026-03-01 09:15:02,\`wx8888888888888888,\`1900000001,\`0,\`,\`4200000001202603010000000001,\`ORD-B-1," bill.csv &&
	grep "ORD-B-1" bill.csv | grep "SUCCESS" | grep -q "\`月卡,\`u=42,\`0.15000,\`0.60%,\`25.00," &&
	grep -q "^\`2026-03-01 18:40:11,.*\`ORD-B-1,.*\`REFUND,.*\`RF-B-1,\`10.00,.*\`-0.06000," bill.csv &&
	grep -q "\`ORD-B-2," bill.csv &&
	! grep -q "ORD-B-3\|ORD-B-4" bill.csv &&
	grep -q "^总交易单数," bill.csv &&
	tail -n 1 bill.csv | grep -q "^\`3,\`35.00,\`10.00,"
'

test_expect_success 'without tar_type the plain bill is served, with the same hash' '
	code=$(wx_call GET "/v3/bill/tradebill?bill_date=2026-03-01") &&
	test "$code" = 200 &&
	test "$(json_str hash_value)" = "$(cat hash)" &&
	! json_str download_url | grep -q tartype &&
	code=$(download) && test "$code" = 200 &&
	test "$(sha1sum <bill | cut -c1-40)" = "$(cat hash)"
'

test_expect_success 'SUCCESS and REFUND bills have only their rows' '
	code=$(wx_call GET "/v3/bill/tradebill?bill_date=2026-03-01&bill_type=SUCCESS") &&
	test "$code" = 200 && download >/dev/null && test "$(wc -l <bill)" = 5 &&
	! grep -q RF-B-1 bill &&
	code=$(wx_call GET "/v3/bill/tradebill?bill_date=2026-03-01&bill_type=REFUND") &&
	test "$code" = 200 && download >/dev/null && test "$(wc -l <bill)" = 4 &&
	grep -q RF-B-1 bill
'

test_expect_success 'the fund-flow bill books income, fees, refunds with a running balance' '
	code=$(fund 2026-03-01) &&
	test "$code" = 200 && wx_verify &&
	json_str hash_value >fhash &&
	code=$(download) && test "$code" = 200 &&
	test "$(gzip -dc bill | sha1sum | cut -c1-40)" = "$(cat fhash)" &&
	gzip -dc bill >fund.csv &&
	test "$(wc -l <fund.csv)" = 9 &&
	grep -q "^\`2026-03-01 09:15:02,\`4200000001202603010000000001,.*\`交易,\`交易,\`收入,\`25.00,\`25.00," fund.csv &&
	grep -q "\`交易,\`扣除交易手续费,\`支出,\`0.15,\`24.85," fund.csv &&
	grep -q "\`退款,\`退款,\`支出,\`10.00,\`14.85," fund.csv &&
	grep -q "\`退款,\`退还交易手续费,\`收入,\`0.06,\`14.91," fund.csv &&
	grep -q "\`交易,\`扣除交易手续费,\`支出,\`0.06,\`24.85," fund.csv &&
	grep -q "^资金流水总笔数," fund.csv
'

test_expect_success 'the next day opens with the previous closing balance' '
	clock 2026-03-03T10:00:00+08:00 &&
	code=$(fund 2026-03-02) && test "$code" = 200 &&
	code=$(download) && gzip -dc bill >fund2.csv &&
	grep -q "\`交易,\`交易,\`收入,\`7.00,\`31.85," fund2.csv
'

test_expect_success 'a bill download needs a signed request' '
	code=$(trade 2026-03-01) && url=$(json_str download_url) &&
	code=$(WX_AUTH= wx_call GET "${url#http://127.0.0.1:$SIM_PORT}") &&
	test "$code" = 401 && test "$(json_str code)" = SIGN_ERROR
'

test_expect_success 'an expired download link is 400 INVALID_REQUEST' '
	code=$(trade 2026-03-01) && url=$(json_str download_url) &&
	sim_admin POST /_sim/tokens/expire >/dev/null &&
	code=$(wx_call GET "${url#http://127.0.0.1:$SIM_PORT}") &&
	test "$code" = 400 && test "$(json_str code)" = INVALID_REQUEST &&
	grep -q "下载链接过期" out
'

test_expect_success 'an unknown token is 400 INVALID_REQUEST' '
	code=$(wx_call GET "/v3/billdownload/file?token=nosuchtoken&tartype=gzip") &&
	test "$code" = 400 && test "$(json_str code)" = INVALID_REQUEST
'

# A restart with a 09:00 release time and prepared bills in --bills DIR.
sim_stop
mkdir -p bills
printf '\357\273\277h1,h2\r\n`a,`b\r\ns1\r\n`1\r\n' >bills/plain.csv
gzip -c bills/plain.csv >bills/2026-02-15.trade.ALL.csv.gz
sha1sum bills/plain.csv | cut -c1-40 >bills/2026-02-15.trade.ALL.csv.gz.sha1
printf 'fund\r\n' | gzip -c >bills/2026-02-15.fundflow.BASIC.csv.gz
sim_start --release-time 09:00 --bills bills
sim_admin POST /_sim/orders '{"out_trade_no":"ORD-C-1","total":100,"trade_state":"SUCCESS","success_time":"2026-03-01T12:00:00+08:00"}' >/dev/null

test_expect_success 'the release time can be configured' '
	clock 2026-03-02T08:59:59+08:00 &&
	code=$(trade 2026-03-01) && test "$code" = 400 &&
	clock 2026-03-02T09:00:00+08:00 &&
	code=$(trade 2026-03-01) && test "$code" = 200
'

test_expect_success 'a prepared bill in --bills DIR is served with its .sha1' '
	code=$(trade 2026-02-15) && test "$code" = 200 &&
	test "$(json_str hash_value)" = "$(cat bills/2026-02-15.trade.ALL.csv.gz.sha1)" &&
	code=$(download) && test "$code" = 200 &&
	cmp bill bills/2026-02-15.trade.ALL.csv.gz &&
	test -f bills/2026-02-15.trade.ALL.csv.gz
'

test_expect_success 'a prepared bill without a side file gets its hash computed' '
	code=$(fund 2026-02-15) && test "$code" = 200 &&
	test "$(json_str hash_value)" = "$(printf "fund\r\n" | sha1sum | cut -c1-40)"
'

test_expect_success 'dates without a prepared file come from the state' '
	code=$(trade 2026-02-16) && test "$code" = 400 &&
	test "$(json_str code)" = NO_STATEMENT_EXIST
'

test_done
