#!/bin/sh
# wxrecon certs update / certs list against wxrecon-sim in platform-certificate
# mode (--sign-mode cert), with a config that has neither wechatpay_public_key
# nor platform_cert_dir: the certificates live in the database.
. "$(dirname "$0")/test-lib.sh"

db() { db_sql var/test.db "$1"; }
at() { # sets both clocks (business clock of wxrecon and the simulator's)
	WXRECON_NOW=$1 && export WXRECON_NOW &&
	sim_admin POST /_sim/clock "{\"now\":\"$1\"}" >/dev/null
}

sim_start --sign-mode cert
config_setup
sed -i -e '/^wechatpay_public_key/d' wxrecon.conf
SERIAL=$(cat keys/wechatpay_cert_serial.txt)
sim_admin POST /_sim/orders '[
 {"out_trade_no":"ORD20261101A","total":2500,"trade_state":"SUCCESS","success_time":"2026-11-01T09:15:02+08:00"},
 {"out_trade_no":"ORD20261101B","total":1000,"trade_state":"SUCCESS","success_time":"2026-11-01T23:59:59+08:00"}]' >/dev/null
at 2026-11-02T11:00:00+08:00

test_expect_success 'setup: no WeChat Pay public key in the config' '
	! grep -q wechatpay_public_key wxrecon.conf && ! grep -q platform_cert_dir wxrecon.conf &&
	wxrecon init 2>/dev/null
'
test_expect_success 'config check accepts certificates kept in the database' '
	wxrecon config check >out && grep -q "verifying  platform certificates" out
'
test_expect_success 'certs list is empty at first' '
	wxrecon certs list >out 2>err && test ! -s out &&
	wxrecon certs list --json >out && test "$(cat out)" = "[]"
'
test_expect_code 1 'without a certificate nothing WeChat Pay says is believed' '
	wxrecon bill fetch --date 2026-11-01 --kind trade 2>err
'
test_expect_success 'says why and stores no bill' '
	test_grep "no platform certificates loaded" err &&
	test "$(db "SELECT count(*) FROM bill_files")" = 0
'
test_expect_success 'setup: the certificate download is tampered with' '
	sim_admin POST /_sim/faults "{\"match\":\"certificates\",\"kind\":\"bad_signature\"}" >/dev/null
'
test_expect_code 1 'a tampered first download is refused' 'wxrecon certs update >out 2>err'
test_expect_success 'names the signature, prints nothing' '
	test_grep "signature" err && test ! -s out
'
test_expect_success 'and nothing was stored or audited' '
	test "$(db "SELECT count(*) FROM platform_certs")" = 0 &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event LIKE \"cert.%\"")" = 0 &&
	test "$(sim_admin GET /_sim/faults)" = "[]"
'
test_expect_success 'certs update stores the platform certificate' '
	wxrecon certs update >out &&
	grep -q "^$SERIAL .* stored$" out &&
	test "$(db "SELECT serial_no FROM platform_certs")" = "$SERIAL" &&
	printf "%s\n" "$(db "SELECT pem FROM platform_certs")" >got.pem &&
	cmp got.pem keys/wechatpay_cert.pem &&
	test "$(db "SELECT fetched_at FROM platform_certs")" = 2026-11-02T03:00:00+00:00
'
test_expect_success 'the store is audited, the audit chain intact' '
	test "$(db "SELECT event || \" \" || subject FROM audit_log WHERE event LIKE \"cert.%\"")" = "cert.store $SERIAL" &&
	db "SELECT detail FROM audit_log WHERE event = \"cert.store\"" | grep -q "\"expire_time\":\"2036-" &&
	wxrecon audit --verify >/dev/null
'
test_expect_success 'bill fetch now verifies the answers with the stored certificate' '
	wxrecon bill fetch --date 2026-11-01 >out &&
	grep -q "^2026-11-01 trade    stored 2 rows" out &&
	grep -q "^2026-11-01 fundflow stored" out
'
test_expect_success 'certs list: serial, validity, fetched_at' '
	wxrecon certs list >out &&
	test "$(wc -l <out)" = 1 &&
	grep -q "^$SERIAL 20.* \.\. 2036-.* valid (fetched 2026-11-02T03:00:00+00:00)$" out &&
	wxrecon certs list --json >out &&
	grep -q "\"serial_no\":\"$SERIAL\"" out && grep -q "\"status\":\"valid\"" out &&
	grep -q "\"fetched_at\":\"2026-11-02T03:00:00+00:00\"" out
'
test_expect_success 'a second update finds it unchanged and refreshes fetched_at' '
	at 2026-11-03T11:00:00+08:00 &&
	wxrecon --json certs update >out &&
	grep -q "\"outcome\":\"unchanged\"" out &&
	test "$(db "SELECT count(*) FROM platform_certs")" = 1 &&
	test "$(db "SELECT fetched_at FROM platform_certs")" = 2026-11-03T03:00:00+00:00 &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"cert.refresh\"")" = 1
'
test_expect_success 'setup: the next download is tampered with' '
	sim_admin POST /_sim/faults "{\"match\":\"certificates\",\"kind\":\"bad_signature\"}" >/dev/null
'
test_expect_code 1 'a tampered download with the certificate known: refused' '
	at 2026-11-04T11:00:00+08:00 && wxrecon certs update >out 2>err
'
test_expect_success 'says the signature does not match' 'test_grep "does not match" err'
test_expect_success 'the stored certificate is untouched and still works' '
	test "$(db "SELECT fetched_at FROM platform_certs")" = 2026-11-03T03:00:00+00:00 &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event LIKE \"cert.%\"")" = 2 &&
	wxrecon bill fetch --date 2026-11-01 --kind trade >out && grep -q unchanged out
'
test_expect_code 2 'certs list takes no arguments' 'wxrecon certs list extra'
test_expect_success 'certs update needs the merchant config (exit 2)' '
	mkdir bare && cd bare && wxrecon --db x.db init 2>/dev/null &&
	test_exit_code 2 wxrecon --db x.db certs update
'
test_done
