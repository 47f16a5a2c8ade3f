#!/bin/sh
# wxrecon order create / order sign against the simulator: ledger row first,
# prepay, repeats, refusals, and the APP invoke signature (checked with openssl).
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-payflow.sh"

pf_setup || exit 1
N=http://127.0.0.1:9/wxpay/notify

test_expect_success 'order create prints the prepay_id' '
	wxrecon order create --out-trade-no ORD-A-0001 --amount 2500 --description "月卡" \
		--notify-url $N >out 2>err &&
	grep -q "^wx20261101100000[0-9a-f]\{20\}$" out && test "$(wc -l <out)" = 1 &&
	cp out prepay1
'
test_expect_success 'the ledger has the order NOTPAY, created at business now' '
	test "$(db "SELECT state || \"|\" || amount_total || \"|\" || created_at FROM ledger_orders WHERE out_trade_no = \"ORD-A-0001\"")" = "NOTPAY|2500|2026-11-01T10:00:00+08:00"
'
test_expect_success 'written (and audited) before the prepay call' '
	c=$(db "SELECT id FROM audit_log WHERE event = \"order.create\" AND subject = \"ORD-A-0001\"") &&
	h=$(db "SELECT min(id) FROM audit_log WHERE event = \"http\" AND subject = \"POST /v3/pay/transactions/app\"") &&
	p=$(db "SELECT id FROM audit_log WHERE event = \"order.prepay\" AND subject = \"ORD-A-0001\"") &&
	test "$c" -lt "$h" && test "$h" -lt "$p"
'
test_expect_success 'WeChat Pay got the order as asked' '
	sim_admin GET /_sim/orders/ORD-A-0001 >o.json &&
	test "$(jget total o.json)" = 2500 && test "$(jget notify_url o.json)" = $N &&
	test "$(jget prepay_id o.json)" = "$(cat prepay1)"
'
test_expect_success 'the same order again: a fresh prepay_id, one ledger row (--json)' '
	wxrecon --json order create --out-trade-no ORD-A-0001 --amount 2500 --description "月卡" \
		--notify-url $N >out.json &&
	test "$(jget out_trade_no out.json)" = ORD-A-0001 &&
	test "$(jget prepay_id out.json)" != "$(cat prepay1)" &&
	test "$(jget expires_at out.json)" = 2026-11-01T12:00:00+08:00 &&
	test "$(jget new out.json)" = 0 &&
	test "$(db "SELECT count(*) FROM ledger_orders")" = 1 &&
	test "$(db "SELECT prepays FROM payflow_orders WHERE out_trade_no = \"ORD-A-0001\"")" = 2
'
test_expect_code 2 'other parameters for the same out_trade_no: refused (exit 2)' '
	wxrecon order create --out-trade-no ORD-A-0001 --amount 2600 --description "月卡" --notify-url $N
'
test_expect_success 'saying what differs' '
	test_must_fail wxrecon order create --out-trade-no ORD-A-0001 --amount 2600 --description "月卡" \
		--notify-url $N 2>err &&
	grep -q "^wxrecon: order create: order .ORD-A-0001.: placed before with other parameters (amount 2500 fen, not 2600)" err &&
	test_must_fail wxrecon order create --out-trade-no ORD-A-0001 --amount 2500 --description "年卡" \
		--notify-url $N 2>err &&
	grep -q "another description" err &&
	test_must_fail wxrecon order create --out-trade-no ORD-A-0001 --amount 2500 --description "月卡" \
		--notify-url $N --time-expire 2026-11-01T11:00:00+08:00 2>err &&
	grep -q "time_expire (none)" err &&
	test "$(db "SELECT amount_total FROM ledger_orders")" = 2500
'
test_expect_success 'time_expire is sent at the business timezone; expires_at is capped by it' '
	wxrecon --json order create --out-trade-no ORD-A-0002 --amount 100 --description d \
		--notify-url $N --time-expire 2026-11-01T03:00:00Z >out.json &&
	test "$(jget expires_at out.json)" = 2026-11-01T11:00:00+08:00 &&
	test "$(jget new out.json)" = 1 &&
	test "$(db "SELECT time_expire FROM ledger_orders WHERE out_trade_no = \"ORD-A-0002\"")" = 2026-11-01T11:00:00+08:00 &&
	sim_admin GET /_sim/orders/ORD-A-0002 >o.json &&
	test "$(jget time_expire o.json)" = 2026-11-01T11:00:00+08:00 &&
	wxrecon order create --out-trade-no ORD-A-0002 --amount 100 --description d \
		--notify-url $N --time-expire 2026-11-01T11:00:00+08:00 >/dev/null
'
test_expect_success 'time_expire less than a minute ahead, or past 90 days: refused, nothing written' '
	test_must_fail wxrecon order create --out-trade-no ORD-A-0003 --amount 1 --description d --notify-url $N \
		--time-expire 2026-11-01T10:00:59+08:00 2>err &&
	grep -q "less than a minute after the order time" err &&
	test_must_fail wxrecon order create --out-trade-no ORD-A-0003 --amount 1 --description d --notify-url $N \
		--time-expire 2027-01-30T10:00:01+08:00 2>err &&
	grep -q "more than 90 days" err &&
	wxrecon order create --out-trade-no ORD-A-0003 --amount 1 --description d --notify-url $N \
		--time-expire 2027-01-30T10:00:00+08:00 >/dev/null &&
	test "$(db "SELECT count(*) FROM ledger_orders WHERE out_trade_no = \"ORD-A-0003\"")" = 1
'
bad() { # description, expected message, args...
	_d=$1 _m=$2
	shift 2
	test_expect_success "refused with exit 2: $_d" "
		test_exit_code 2 wxrecon order create $* 2>err && grep -q -e \"$_m\" err &&
		test \"\$(db 'SELECT count(*) FROM ledger_orders')\" = 3
	"
}
bad 'a short out_trade_no' "--out-trade-no: bad out_trade_no 'ORD1'" --out-trade-no ORD1 --amount 1 --description d --notify-url $N
bad 'decimals in the amount' "bad --amount '12.50' (want a whole number of fen" --out-trade-no ORD-B-1 --amount 12.50 --description d --notify-url $N
bad 'a zero amount' "bad --amount '0'" --out-trade-no ORD-B-1 --amount 0 --description d --notify-url $N
test_expect_success 'refused with exit 2: an emoji in the description' '
	test_exit_code 2 wxrecon order create --out-trade-no ORD-B-1 --amount 1 --notify-url $N \
		--description "$(printf "cake \360\237\216\202")" 2>err &&
	grep -q "description is not UTF-8 or has a 4-byte character" err
'
bad 'no description' '--out-trade-no, --amount and --description are required' --out-trade-no ORD-B-1 --amount 1 --notify-url $N
bad 'a notify_url with a query' 'has a query or fragment' --out-trade-no ORD-B-1 --amount 1 --description d --notify-url "https://x.example/n?a=1"
bad 'no notify_url and no [notify] url' 'give --notify-url URL or set \[notify\] url' --out-trade-no ORD-B-1 --amount 1 --description d
bad 'a bad time_expire' "bad time_expire '2026-11-01 12:00:00'" --out-trade-no ORD-B-1 --amount 1 --description d --notify-url $N --time-expire "'2026-11-01 12:00:00'"
bad 'an unexpected argument' 'unexpected argument' --out-trade-no ORD-B-1 --amount 1 --description d --notify-url $N extra

test_expect_success '[notify] url is the default notify_url' '
	cp wxrecon.conf plain.conf &&
	printf "\n[notify]\nurl = http://127.0.0.1:9/from-config\n" >>wxrecon.conf &&
	wxrecon order create --out-trade-no ORD-A-0004 --amount 1 --description d >/dev/null &&
	test "$(db "SELECT notify_url FROM payflow_orders WHERE out_trade_no = \"ORD-A-0004\"")" = http://127.0.0.1:9/from-config &&
	cp plain.conf wxrecon.conf
'
test_expect_success 'an order the ledger has from elsewhere is refused (exit 2)' '
	printf "out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref\nORD-IMP-01,,100,CNY,NOTPAY,2026-11-01T09:00:00+08:00,,,,\n" >imp.csv &&
	wxrecon ledger import --orders imp.csv >/dev/null &&
	test_exit_code 2 wxrecon order create --out-trade-no ORD-IMP-01 --amount 100 --description d --notify-url $N 2>err &&
	grep -q "not placed by .order create." err
'
test_expect_success 'a paid order is not paid again (exit 1)' '
	db "UPDATE ledger_orders SET state = \"PAID\", paid_at = \"2026-11-01T10:00:00+08:00\", paid_ts = 1, paid_date = \"2026-11-01\" WHERE out_trade_no = \"ORD-A-0004\"" &&
	cp wxrecon.conf plain.conf && printf "\n[notify]\nurl = http://127.0.0.1:9/from-config\n" >>wxrecon.conf &&
	{ wxrecon order create --out-trade-no ORD-A-0004 --amount 1 --description d 2>err;
	  rc=$?; cp plain.conf wxrecon.conf; test $rc = 1; } && grep -q "the ledger has it PAID: nothing to pay" err
'
test_expect_success 'past its payable time an order is not refreshed (exit 1)' '
	WXRECON_NOW=2026-11-01T11:00:00+08:00 test_exit_code 1 wxrecon order create --out-trade-no ORD-A-0002 \
		--amount 100 --description d --notify-url $N --time-expire 2026-11-01T11:00:00+08:00 2>err &&
	grep -q "payable until 2026-11-01T11:00:00+08:00" err
'
test_expect_success 'a failed prepay (not retried) leaves the order NOTPAY; the same command completes it' '
	sim_admin DELETE /_sim/journal >/dev/null &&
	sim_admin POST /_sim/faults "{\"match\":\"prepay\",\"kind\":\"status\",\"status\":500}" >/dev/null &&
	test_exit_code 1 wxrecon order create --out-trade-no ORD-A-0005 --amount 300 --description d --notify-url $N 2>err &&
	grep -q "order .ORD-A-0005.: prepay" err &&
	sim_admin GET /_sim/journal >j.json &&
	test "$(grep -o "/v3/pay/transactions/app" j.json | wc -l)" = 2 &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"ORD-A-0005\"")" = NOTPAY &&
	db "SELECT last_error FROM payflow_orders WHERE out_trade_no = \"ORD-A-0005\"" | grep -q SYSTEM_ERROR &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"order.prepay_failed\"")" = 1 &&
	wxrecon order create --out-trade-no ORD-A-0005 --amount 300 --description d --notify-url $N >/dev/null &&
	test "$(db "SELECT prepays || \"|\" || coalesce(last_error, \"\") FROM payflow_orders WHERE out_trade_no = \"ORD-A-0005\"")" = "1|"
'
test_expect_success 'order create without a configuration names the missing key (exit 2)' '
	mkdir -p noconf && cd noconf && test_exit_code 2 wxrecon --db ../db.sqlite -c /dev/null order create \
		--out-trade-no ORD-A-0006 --amount 1 --description d --notify-url '$N'
'

# ---- order sign ----
openssl x509 -in keys/apiclient_cert.pem -pubkey -noout >merchant_pub.pem

test_expect_success 'order sign prints the APP invoke parameters as JSON, in order' '
	wxrecon order sign --prepay-id "$(cat prepay1)" >sign.json &&
	sed -n "s/^{\"appid\":\"wx8888888888888888\",\"partnerid\":\"1900000001\",\"prepayid\":\"$(cat prepay1)\",\"package\":\"Sign=WXPay\",\"noncestr\":\"[0-9A-Za-z]\{32\}\",\"timestamp\":\"[0-9]\{10\}\",\"sign\":\"[A-Za-z0-9+\/=]\{344\}\"}$/x/p" sign.json | grep -q x
'
test_expect_success 'its sign verifies with openssl over appid\\ntimestamp\\nnoncestr\\nprepayid\\n' '
	printf "%s\n%s\n%s\n%s\n" "$(jget appid sign.json)" "$(jget timestamp sign.json)" \
		"$(jget noncestr sign.json)" "$(jget prepayid sign.json)" >msg &&
	jget sign sign.json | base64 -d >sig &&
	openssl dgst -sha256 -verify merchant_pub.pem -signature sig msg >/dev/null
'
test_expect_success 'and not over the JSAPI message (prepay_id=...)' '
	printf "%s\n%s\n%s\nprepay_id=%s\n" "$(jget appid sign.json)" "$(jget timestamp sign.json)" \
		"$(jget noncestr sign.json)" "$(jget prepayid sign.json)" >msg2 &&
	! openssl dgst -sha256 -verify merchant_pub.pem -signature sig msg2 >/dev/null
'
test_expect_success 'its timestamp is the real clock, not WXRECON_NOW' '
	ts=$(jget timestamp sign.json) && now=$(date +%s) &&
	test $((now - ts)) -lt 60 && test $((ts - now)) -lt 60
'
test_expect_success 'order sign needs no database' '
	mkdir -p nodb && (cd nodb && wxrecon -c ../wxrecon.conf --db none.db order sign --prepay-id wx1 >out) &&
	test ! -e nodb/none.db
'
test_expect_code 2 'order sign: a bad prepay_id is a usage error' 'wxrecon order sign --prepay-id "wx 1"'
test_expect_code 2 'order sign: --prepay-id is required' 'wxrecon order sign'
test_expect_code 2 'order sign without a configuration' 'wxrecon -c /dev/null order sign --prepay-id wx1'
test_expect_success '-h shows the usage of both' '
	wxrecon order create -h >out && grep -q "^usage: wxrecon order create --out-trade-no NO" out &&
	wxrecon order sign -h >out && grep -q "^usage: wxrecon order sign --prepay-id ID" out &&
	wxrecon help >out && grep -q "^  order create" out && grep -q "^  order sign" out
'
test_expect_success 'the audit log is intact' 'wxrecon audit --verify >/dev/null'
test_done
