#!/bin/sh
# wxrecon reconcile against a generated day with one planted discrepancy of
# every kind: each found, nothing else, stable across re-runs; resolve;
# --since-run; the offline mode without a config.
. "$(dirname "$0")/test-lib.sh"

D=2026-11-01
db() { db_sql var/test.db "$1"; }
at() {
	WXRECON_NOW=$1 && export WXRECON_NOW &&
	sim_admin POST /_sim/clock "{\"now\":\"$1\"}" >/dev/null
}
kinds() { # the kinds in a JSON document on stdin, sorted, one per line
	grep -o '"kind":"[A-Z_]*"' | sed 's/"kind":"\(.*\)"/\1/' | sort
}

test_expect_success 'generate a day with planted discrepancies' '
	wxrecon_sim generate --rows 400 --date $D --out gen --seed 7 >/dev/null &&
	test -f gen/manifest.json &&
	tr -d "\n" <gen/manifest.json | sed "s/\": *\"/\":\"/g; s/\": */\":/g; s/, *\"/,\"/g; s/{ */{/g; s/ *}/}/g" |
		grep -o "{[^{}]*\"kind\"[^{}]*}" >planted.jsonl &&
	test "$(wc -l <planted.jsonl)" -ge 12
'
planted_key() { # KIND FIELD: the field of the planted entry of that kind
	grep "\"kind\":\"$1\"" planted.jsonl | head -1 | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p"
}
sim_start --bills gen
config_setup
at 2026-11-03T11:00:00+08:00

test_expect_success 'setup: init, ledger import, fetch the bills' '
	wxrecon init 2>/dev/null &&
	wxrecon ledger import --orders gen/ledger_orders.csv --refunds gen/ledger_refunds.csv >/dev/null &&
	test_exit_code 3 wxrecon bill fetch --from 2026-10-31 --to 2026-11-02 >out &&
	grep -q "^$D trade    stored" out && grep -q "^2026-10-31 trade    missing" out
'
test_expect_code 3 'reconcile finds discrepancies and exits 3' '
	wxrecon reconcile --from 2026-10-31 --to $D >out
'
test_expect_success 'every planted kind is found, and no other kind' '
	kinds <planted.jsonl | uniq >planted &&
	wxrecon discrepancies --status all --json | kinds | uniq >found &&
	test_cmp planted found
'
test_expect_success 'one finding per planted discrepancy (auto-resolved ones included)' '
	test "$(wc -l <planted.jsonl)" = "$(db "SELECT count(*) FROM discrepancies")"
'
test_expect_success 'the planted keys are the ones found' '
	for k in MISSING_IN_LEDGER MISSED_PAYMENT MISSING_IN_BILL AMOUNT_MISMATCH DUPLICATE_PAYMENT; do
		otn=$(planted_key $k out_trade_no) && test -n "$otn" &&
		test "$(db "SELECT count(*) FROM discrepancies WHERE kind = \"$k\" AND out_trade_no = \"$otn\"")" = 1 ||
			{ echo "not found: $k $otn"; exit 1; }
	done &&
	for k in REFUND_MISSING_IN_LEDGER REFUND_MISSING_IN_BILL REFUND_AMOUNT_MISMATCH REFUND_STATUS_MISMATCH; do
		orn=$(planted_key $k out_refund_no) && test -n "$orn" &&
		test "$(db "SELECT count(*) FROM discrepancies WHERE kind = \"$k\" AND out_refund_no = \"$orn\"")" = 1 ||
			{ echo "not found: $k $orn"; exit 1; }
	done
'
test_expect_success 'MISSED_PAYMENT was auto-resolved: the ledger order is PAID, by an audited action' '
	otn=$(planted_key MISSED_PAYMENT out_trade_no) &&
	test -n "$otn" &&
	test "$(db "SELECT status FROM discrepancies WHERE kind = \"MISSED_PAYMENT\"")" = auto_resolved &&
	test "$(db "SELECT state FROM ledger_orders WHERE out_trade_no = \"$otn\"")" = PAID &&
	test "$(db "SELECT state FROM actions WHERE kind = \"ORDER_MARK_PAID\" AND target = \"$otn\"")" = done
'
test_expect_success 'a re-run changes nothing: same rows, same ids' '
	db "SELECT id, kind, key, status FROM discrepancies ORDER BY id" >before &&
	test_exit_code 3 wxrecon reconcile --from 2026-10-31 --to $D >out &&
	db "SELECT id, kind, key, status FROM discrepancies ORDER BY id" >after &&
	test_cmp before after && grep -q "(0 new, 0 reopened)" out
'
test_expect_success 'discrepancies lists the open ones by default' '
	wxrecon discrepancies >out &&
	test "$(wc -l <out)" = "$(db "SELECT count(*) FROM discrepancies WHERE status = \"open\"")"
'
test_expect_success 'the JSON has the SPEC shape' '
	wxrecon discrepancies --json >out &&
	for k in id date kind out_trade_no out_refund_no transaction_id ledger_amount bill_amount ledger_state bill_state status resolution; do
		grep -q "\"$k\":" out || { echo "missing $k"; exit 1; }
	done
'
test_expect_success 'resolve marks one handled, audited with who did it' '
	id=$(db "SELECT id FROM discrepancies WHERE kind = \"AMOUNT_MISMATCH\"") &&
	USER=finance wxrecon resolve $id --note "customer paid the difference in cash" >out &&
	test "$(db "SELECT status || \"|\" || resolved_by FROM discrepancies WHERE id = $id")" = "resolved|user:finance" &&
	test "$(db "SELECT count(*) FROM audit_log WHERE actor = \"user:finance\"")" -ge 1
'
test_expect_success 'a resolved finding stays resolved on a re-run while unchanged' '
	id=$(db "SELECT id FROM discrepancies WHERE kind = \"AMOUNT_MISMATCH\"") &&
	test_exit_code 3 wxrecon reconcile --date $D >/dev/null &&
	test "$(db "SELECT status FROM discrepancies WHERE id = $id")" = resolved
'
test_expect_success '--since-run lists what changed since a run' '
	first=$(db "SELECT min(id) FROM job_runs WHERE job = \"reconcile\"") &&
	test_exit_code 3 wxrecon reconcile --date $D --since-run $first >out &&
	grep -q "changes since run $first" out && grep -q "resolved .*AMOUNT_MISMATCH" out
'
test_expect_success 'a finding fixed in the ledger is marked resolved by the run that saw it go' '
	otn=$(db "SELECT out_trade_no FROM discrepancies WHERE kind = \"MISSING_IN_LEDGER\"") &&
	txn=$(db "SELECT transaction_id FROM bill_trades WHERE out_trade_no = \"$otn\" AND row_kind = \"SUCCESS\"") &&
	amt=$(db "SELECT order_amount FROM bill_trades WHERE out_trade_no = \"$otn\" AND row_kind = \"SUCCESS\"") &&
	paid=$(db "SELECT trade_time FROM bill_trades WHERE out_trade_no = \"$otn\" AND row_kind = \"SUCCESS\"") &&
	printf "out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref\n%s,%s,%s,CNY,PAID,%s,,%s,,\n" "$otn" "$txn" "$amt" "$paid" "$paid" >fix.csv &&
	wxrecon ledger import --orders fix.csv >/dev/null &&
	test_exit_code 3 wxrecon reconcile --date $D >/dev/null &&
	run=$(db "SELECT max(id) FROM job_runs") &&
	test "$(db "SELECT status || \"|\" || resolved_run_id FROM discrepancies WHERE kind = \"MISSING_IN_LEDGER\"")" = "resolved|$run"
'
test_expect_success 'reconcile --dry-run writes nothing' '
	db ".dump" | grep -v "^INSERT INTO audit_log\|job_runs" >d1 &&
	test_exit_code 3 wxrecon reconcile --date $D --dry-run >out &&
	grep -q "dry run" out &&
	db ".dump" | grep -v "^INSERT INTO audit_log\|job_runs" >d2 &&
	test_cmp d1 d2
'
test_expect_success 'offline: the same day reconciles with no config at all' '
	mkdir off && cd off &&
	wxrecon --db o.db init 2>/dev/null &&
	wxrecon --db o.db ledger import --orders ../gen/ledger_orders.csv --refunds ../gen/ledger_refunds.csv >/dev/null &&
	wxrecon --db o.db bill import ../gen/$D.trade.ALL.csv.gz --date $D --kind trade >/dev/null &&
	wxrecon --db o.db bill import ../gen/$D.fundflow.BASIC.csv.gz --date $D --kind fundflow >/dev/null &&
	WXRECON_NOW=2026-11-03T11:00:00+08:00 test_exit_code 3 wxrecon --db o.db reconcile --date $D >out &&
	wxrecon --db o.db discrepancies --status all --json | kinds | uniq >found &&
	grep -q AMOUNT_MISMATCH found && grep -q MISSING_IN_LEDGER found && grep -q FEE_MISMATCH found
'
test_done
