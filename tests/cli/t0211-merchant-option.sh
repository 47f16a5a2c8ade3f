#!/bin/sh
# --merchant NAME|MCHID (SPEC 10, issue 17): with [merchant "NAME"] sections
# a command acts on the merchant it is given (its mchid, its [policy "NAME"]),
# refuses to guess, and `run` runs each merchant in turn; with [merchant]
# alone nothing changes.
. "$(dirname "$0")/test-lib.sh"

db() { db_sql var/test.db "$1"; }
mchid_of() { sed -n 's/.*"mchid": *"\([0-9]*\)".*/\1/p' "$1" | head -n 1; }
policy_of() { sed -n 's/.*"policy_hash": *"\([0-9a-f]*\)".*/\1/p' "$1" | head -n 1; }

merchants_config_setup
printf '\n[policy "shop-b"]\nclose_after = 2h\n' >>wxrecon.conf
cp "$FIXTURES/ledger/orders.csv" .
head -n 3 orders.csv >orders-b.csv
mkdir jobs reports
printf '[job]\nsteps = report\n[report]\nformats = json\n' >jobs/rep.job

test_expect_success 'setup' '
	wxrecon init 2>/dev/null
'
test_expect_success 'with several merchants a one-merchant command does not guess' '
	test_exit_code 2 wxrecon ledger import --orders orders.csv 2>err &&
	test "$(wc -l <err)" = 1 &&
	grep -q "^wxrecon: wxrecon.conf has several merchants: say which with --merchant NAME|MCHID (shop-a (1900000001), shop-b (1900000002))$" err &&
	test "$(db "SELECT count(*) FROM ledger_orders")" = 0
'
test_expect_success '--merchant NAME imports into that merchant' '
	wxrecon ledger import --merchant shop-a --orders orders.csv >out &&
	grep -q "4 rows: 4 new" out &&
	test "$(db "SELECT count(*) FROM ledger_orders WHERE mchid = \"1900000001\"")" = 4 &&
	test "$(db "SELECT count(*) FROM ledger_orders WHERE mchid <> \"1900000001\"")" = 0
'
test_expect_success '--merchant=MCHID, before the command, picks the other' '
	wxrecon --merchant=1900000002 ledger import --orders orders-b.csv >out &&
	grep -q "2 rows: 2 new" out &&
	test "$(db "SELECT count(*) FROM ledger_orders WHERE mchid = \"1900000002\"")" = 2 &&
	test "$(db "SELECT count(*) FROM ledger_orders WHERE mchid = \"1900000001\"")" = 4
'
test_expect_success 'a report is the given merchant'"'"'s, with its own policy' '
	wxrecon --merchant shop-a report --date 2026-11-01 --format json >a.json &&
	wxrecon report --date 2026-11-01 --format json --merchant shop-b >b.json &&
	test "$(mchid_of a.json)" = 1900000001 &&
	test "$(mchid_of b.json)" = 1900000002 &&
	test -n "$(policy_of a.json)" &&
	test "$(policy_of a.json)" != "$(policy_of b.json)"
'
test_expect_success 'an unknown merchant is named with the choices' '
	test_exit_code 2 wxrecon --merchant shop-c report --date 2026-11-01 2>err &&
	grep -q "^wxrecon: wxrecon.conf: no merchant .shop-c.; the config has shop-a (1900000001), shop-b (1900000002)$" err
'
test_expect_success 'a one-merchant command refuses a second --merchant' '
	test_exit_code 2 wxrecon --merchant shop-a report --merchant shop-b 2>err &&
	grep -q "^wxrecon: .report. acts on one merchant: give --merchant once (usage: wxrecon report" err
'
test_expect_success 'a command on the whole store refuses --merchant' '
	test_exit_code 2 wxrecon init --merchant shop-a 2>err &&
	grep -q "^wxrecon: .init. acts on the whole store, not on one merchant: drop --merchant" err &&
	test_exit_code 2 wxrecon config check --merchant shop-a 2>err &&
	grep -q "acts on the whole store" err
'
test_expect_success '--merchant needs a value' '
	test_exit_code 2 wxrecon report --merchant= 2>err &&
	grep -q "^wxrecon: --merchant needs a NAME or an mchid$" err &&
	test_exit_code 2 wxrecon report --merchant 2>err &&
	grep -q "^wxrecon: --merchant needs a NAME or an mchid$" err
'
test_expect_success 'run without --merchant runs each merchant in turn, each its own report' '
	wxrecon run rep --date 2026-11-01 >out &&
	test "$(db "SELECT count(*) FROM job_runs")" = 2 &&
	test "$(mchid_of reports/rep_shop-a_2026-11-01_2026-11-01.json)" = 1900000001 &&
	test "$(mchid_of reports/rep_shop-b_2026-11-01_2026-11-01.json)" = 1900000002 &&
	test "$(db "SELECT group_concat(mchid, \",\") FROM (SELECT mchid FROM job_runs ORDER BY id) AS r")" = 1900000001,1900000002
'
test_expect_success 'run --merchant M (repeatable) runs only those, its summary naming it' '
	wxrecon run rep --date 2026-11-02 --merchant shop-b --json >out &&
	grep -q "\"merchant\":\"shop-b\"" out &&
	test "$(grep -c "\"run_id\"" out)" = 1 &&
	test -f reports/rep_shop-b_2026-11-02_2026-11-02.json &&
	! test -e reports/rep_shop-a_2026-11-02_2026-11-02.json &&
	wxrecon --merchant 1900000002 --merchant shop-a run rep --date 2026-11-03 --json >out &&
	test "$(grep -c "\"run_id\"" out)" = 2
'
test_expect_success 'with [merchant] alone, --merchant MCHID changes nothing and another is refused' '
	wxrecon -c one.conf --merchant 1900000001 ledger import --orders orders.csv >out &&
	grep -q "4 rows: 0 new, 0 updated, 4 unchanged" out &&
	wxrecon -c one.conf run rep --date 2026-11-04 >out &&
	test -f reports/rep_2026-11-04_2026-11-04.json &&
	test_exit_code 2 wxrecon -c one.conf --merchant 1900000002 report 2>err &&
	grep -q "^wxrecon: one.conf: no merchant .1900000002.; the config has one, \[merchant\] mchid 1900000001$" err
'
test_done
