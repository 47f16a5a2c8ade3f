#!/bin/sh
# wxrecon bill fetch against wxrecon-sim: download, verify, store; skip an
# unchanged bill; retry and refuse a bad hash; SPEC 5's empty/not-ready/missing.
. "$(dirname "$0")/test-lib.sh"

db() { db_sql var/test.db "$1"; }
at() { # sets both clocks (business clock of wxrecon and the simulator's)
	WXRECON_NOW=$1 && export WXRECON_NOW &&
	sim_admin POST /_sim/clock "{\"now\":\"$1\"}" >/dev/null
}

sim_start
config_setup
sim_admin POST /_sim/orders '[
 {"out_trade_no":"ORD20261101A","total":2500,"trade_state":"SUCCESS","success_time":"2026-11-01T09:15:02+08:00","description":"月卡","attach":"u=42"},
 {"out_trade_no":"ORD20261101B","total":1000,"trade_state":"SUCCESS","success_time":"2026-11-01T23:59:59+08:00","description":"礼包,\"大号\""},
 {"out_trade_no":"ORD20261102C","total":700,"trade_state":"SUCCESS","success_time":"2026-11-02T00:00:00+08:00"}]' >/dev/null
sim_admin POST /_sim/refunds '{"out_refund_no":"RF20261101-1","out_trade_no":"ORD20261101A","refund":1000,"create_time":"2026-11-01T18:40:11+08:00"}' >/dev/null
at 2026-11-02T11:00:00+08:00

test_expect_success 'setup' 'wxrecon init 2>/dev/null'
test_expect_success 'fetch stores both bills of the day' '
	wxrecon bill fetch --date 2026-11-01 >out &&
	grep -q "^2026-11-01 trade    stored 3 rows" out &&
	grep -q "^2026-11-01 fundflow stored [0-9]* rows" out &&
	test "$(db "SELECT count(*) FROM bill_trades WHERE bill_date = \"2026-11-01\"")" = 3 &&
	test "$(db "SELECT sum(settlement_amount) FROM bill_trades WHERE row_kind = \"SUCCESS\"")" = 3500 &&
	test "$(db "SELECT refund_amount FROM bill_trades WHERE row_kind = \"REFUND\"")" = 1000
'
test_expect_success 'the goods name with a comma and quotes survives' '
	test "$(db "SELECT description FROM bill_trades WHERE out_trade_no = \"ORD20261101B\"")" = "礼包,\"大号\""
'
test_expect_success 'the archive holds the gzip under the SHA-1 of its content' '
	for f in var/bills/*.gz; do
		test "$(gzip -dc "$f" | sha1sum | cut -c1-40).gz" = "$(basename "$f")" || exit 1
	done &&
	test "$(ls var/bills/*.gz | wc -l)" = 2
'
test_expect_success 'a second fetch skips the unchanged bills' '
	wxrecon bill fetch --date 2026-11-01 >out &&
	grep -q "^2026-11-01 trade    unchanged" out && grep -q "^2026-11-01 fundflow unchanged" out
'
test_expect_success '--force fetches again and replaces, never doubles' '
	wxrecon bill fetch --date 2026-11-01 --kind trade --force >out &&
	grep -q "stored 3 rows" out &&
	test "$(db "SELECT count(*) FROM bill_trades")" = 3
'
test_expect_success 'every API call is in the audit log, without the download token' '
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"http\"")" -ge 4 &&
	! db "SELECT subject || detail FROM audit_log" | grep -q "token="
'
test_expect_success 'a wrong hash is retried with a fresh link and then stored' '
	sim_admin POST /_sim/faults "{\"match\":\"tradebill\",\"kind\":\"wrong_bill_hash\",\"count\":1}" >/dev/null &&
	wxrecon bill fetch --date 2026-11-01 --kind trade --force >out 2>err &&
	grep -q "asking again" err && grep -q "stored 3 rows" out
'
test_expect_success 'a hash that stays wrong is refused and nothing changes' '
	before=$(db "SELECT sha1 || fetched_at FROM bill_files WHERE kind = \"trade\"") &&
	sim_admin POST /_sim/faults "{\"match\":\"tradebill\",\"kind\":\"wrong_bill_hash\",\"count\":3}" >/dev/null &&
	test_exit_code 1 wxrecon bill fetch --date 2026-11-01 --kind trade --force >out 2>err &&
	grep -q "sha-1\|SHA-1\|sha1" err &&
	test "$(db "SELECT sha1 || fetched_at FROM bill_files WHERE kind = \"trade\"")" = "$before" &&
	test "$(db "SELECT count(*) FROM bill_trades")" = 3 &&
	test "$(ls var/bills | grep -c "^\.bill-")" = 0
'
test_expect_success 'a download broken half way is retried from the start' '
	sim_admin DELETE /_sim/faults >/dev/null &&
	sim_admin POST /_sim/faults "{\"match\":\"download\",\"kind\":\"truncate_download\",\"count\":1}" >/dev/null &&
	wxrecon bill fetch --date 2026-11-01 --kind trade --force >out &&
	grep -q "stored 3 rows" out && test "$(db "SELECT count(*) FROM bill_trades")" = 3
'
test_expect_success 'a 500 on the bill apply is retried' '
	sim_admin POST /_sim/faults "{\"match\":\"fundflowbill\",\"kind\":\"status\",\"status\":500,\"count\":1}" >/dev/null &&
	wxrecon bill fetch --date 2026-11-01 --kind fundflow --force >out && grep -q stored out
'
test_expect_success 'a bad response signature fails closed: exit 1, nothing stored' '
	sim_admin POST /_sim/faults "{\"match\":\"tradebill\",\"kind\":\"bad_signature\",\"count\":1}" >/dev/null &&
	before=$(db "SELECT count(*) FROM bill_files") &&
	test_exit_code 1 wxrecon bill fetch --date 2026-10-31 --kind trade >out 2>err &&
	grep -q "signature" err &&
	test "$(db "SELECT count(*) FROM bill_files")" = "$before"
'
test_expect_success 'a day without activity anywhere is an empty day' '
	wxrecon bill fetch --date 2026-10-30 >out &&
	grep -q "^2026-10-30 trade    empty" out && grep -q "^2026-10-30 fundflow empty" out &&
	test "$(db "SELECT status || rows FROM bill_files WHERE bill_date = \"2026-10-30\" AND kind = \"trade\"")" = empty0
'
test_expect_success 'before the release time the bill is not ready (exit 0)' '
	at 2026-11-03T09:30:00+08:00 &&
	wxrecon bill fetch --date 2026-11-02 >out && grep -q "^2026-11-02 trade    not_ready" out
'
test_expect_success 'a day the ledger has activity on, and no bill: not ready within the grace' '
	printf "out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref\nORD20261029Z,4200000001202610290000000009,100,CNY,PAID,2026-10-29T10:00:00+08:00,,2026-10-29T10:01:00+08:00,,\n" >o.csv &&
	wxrecon ledger import --orders o.csv >/dev/null &&
	at 2026-10-30T12:00:00+08:00 &&
	wxrecon bill fetch --date 2026-10-29 --kind trade >out && grep -q "not_ready" out
'
test_expect_code 3 'and BILL_MISSING after release time + missing_after' '
	at 2026-10-31T12:00:00+08:00 &&
	wxrecon bill fetch --date 2026-10-29 --kind trade
'
test_expect_code 2 'a date in the future is refused' '
	at 2026-11-02T11:00:00+08:00 && wxrecon bill fetch --date 2026-11-05
'
test_expect_code 2 'a date older than WeChat Pay keeps bills is refused with advice' '
	wxrecon bill fetch --date 2026-06-01
'
test_expect_success 'bill fetch --json lists each outcome' '
	wxrecon bill fetch --date 2026-11-01 --json >out &&
	grep -q "\"outcome\":\"unchanged\"" out
'
test_expect_success 'bill fetch needs the merchant config (exit 2)' '
	mkdir bare && cd bare && wxrecon --db x.db init 2>/dev/null &&
	test_exit_code 2 wxrecon --db x.db bill fetch --date 2026-11-01
'
test_done
