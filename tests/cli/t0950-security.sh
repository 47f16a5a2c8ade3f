#!/bin/sh
# Security: no secret anywhere (stdout, stderr, audit log, database, reports,
# archive, simulator journal); TLS cannot be switched off except for the
# loopback simulator; hostile values are data, never SQL or markup.
. "$(dirname "$0")/test-lib.sh"

db() { db_sql var/test.db "$1"; }
D=2026-11-01

sim_start
config_setup
WXRECON_NOW=2026-11-02T11:00:00+08:00; export WXRECON_NOW
sim_admin POST /_sim/clock '{"now":"2026-11-02T11:00:00+08:00"}' >/dev/null
# A goods name, attach and ids written to hurt: SQL, HTML, a formula.
sim_admin POST /_sim/orders '[
 {"out_trade_no":"ORD20261101X1","total":100,"trade_state":"SUCCESS","success_time":"2026-11-01T10:00:00+08:00",
  "description":"x\u0027); DROP TABLE ledger_orders; -- <script>alert(1)</script>","attach":"=HYPERLINK(\"http://evil\")"},
 {"out_trade_no":"ORD20261101X2","total":200,"create_time":"2026-11-02T08:00:00+08:00"}]' >/dev/null
secret_key=$(cat keys/apiv3.key)
# a line from the middle of the private key's base64 body
secret_pem=$(sed -n 5p keys/apiclient_key.pem)

test_expect_success 'a full working session: init, import, fetch, reconcile, sweep, report, audit' '
	wxrecon init 2>>all.err >>all.out &&
	printf "out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref\nORD20261101X2,,200,CNY,NOTPAY,2026-11-02T08:00:00+08:00,,,,\n" >o.csv &&
	wxrecon ledger import --orders o.csv >>all.out 2>>all.err &&
	wxrecon -v bill fetch --date $D >>all.out 2>>all.err &&
	{ wxrecon -v reconcile --date $D >>all.out 2>>all.err; test $? = 3; } &&
	{ wxrecon -v sweep orders >>all.out 2>>all.err; true; } &&
	wxrecon report --date $D --format html -o report.html 2>>all.err &&
	wxrecon report --date $D --format csv -o csvdir 2>>all.err &&
	wxrecon report --date $D --format json >report.json 2>>all.err &&
	wxrecon audit >>all.out 2>>all.err &&
	wxrecon config check >>all.out 2>>all.err &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"http\"")" -ge 3
'
test_expect_success 'the APIv3 key and the private key appear nowhere' '
	db ".dump" >dump.sql &&
	sim_admin GET /_sim/journal >journal.json &&
	for f in all.out all.err dump.sql report.html report.json csvdir/*.csv journal.json; do
		! grep -a -q -F -e "$secret_key" -e "$secret_pem" "$f" || { echo "secret in $f"; exit 1; }
	done &&
	! grep -a -q -F -e "$secret_key" -e "$secret_pem" var/test.db var/test.db-wal 2>/dev/null &&
	for f in var/bills/*.gz; do
		! gzip -dc "$f" | grep -a -q -F -e "$secret_key" -e "$secret_pem" || exit 1
	done
'
test_expect_success 'no Authorization header, signature or download token is logged' '
	! grep -a -q -e "WECHATPAY2-SHA256" -e "signature=" -e "token=" all.out all.err dump.sql
'
test_expect_success 'hostile text is stored as data: the tables are intact' '
	test "$(db "SELECT count(*) FROM ledger_orders")" = 1 &&
	db "SELECT description FROM bill_trades WHERE out_trade_no = \"ORD20261101X1\"" | grep -q "DROP TABLE ledger_orders"
'
test_expect_success 'and escaped where people read it: HTML and CSV' '
	! grep -q "<script>alert" report.html && grep -q "&lt;script&gt;" report.html &&
	! grep -q "^=HYPERLINK\|,=HYPERLINK" csvdir/*.csv
'
test_expect_code 2 'plain http is refused for anything but loopback' '
	sed "s|^base_url = .*|base_url = http://api.mch.weixin.qq.com|" wxrecon.conf >plain.conf &&
	wxrecon -c plain.conf bill fetch --date $D 2>err; rc=$?; cat err >&2; exit $rc
'
test_expect_success 'saying why' '
	sed "s|^base_url = .*|base_url = http://api.mch.weixin.qq.com|" wxrecon.conf >plain.conf &&
	test_must_fail wxrecon -c plain.conf bill fetch --date $D 2>err && grep -qi "http" err && grep -qi "127.0.0.1\|loopback\|simulator" err
'
test_expect_code 2 'there is no switch to turn TLS verification off' '
	printf "[api]\nverify_tls = false\n" >>plain.conf && wxrecon -c plain.conf config check
'
test_expect_success 'https with an unknown CA fails (verification is on), and says so' '
	sed -e "s|^base_url = .*|base_url = https://127.0.0.1:$SIM_PORT|" wxrecon.conf >tls.conf &&
	test_must_fail wxrecon -c tls.conf bill fetch --date $D --force 2>err &&
	grep -qi "ssl\|tls\|certificate\|connect" err
'
test_expect_success 'the database directory is created for the owner alone (0700)' '
	test "$(stat -c %a var)" = 700
'
test_done
