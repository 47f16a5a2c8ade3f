#!/bin/sh
# wxrecon prune --bills-older-than DUR (issue 14): a day's bill rows dropped past a
# retention period, its bill_files row, summary, totals, findings and archived .gz
# kept; reconcile of a pruned day says so (exit 3) instead of reporting it clean;
# bill import --date D restores the day from the archive. Audited.
. "$(dirname "$0")/test-lib.sh"

D=2026-11-01
db() { db_sql wx.db "$1"; }
now() { WXRECON_NOW=$1 && export WXRECON_NOW; }
findings() { db "SELECT id, kind, key, status FROM discrepancies ORDER BY id"; }

test_expect_success 'setup: a day with 1% of every kind, its bills imported and reconciled' '
	wxrecon_sim generate --rows 3000 --date $D --out gen --seed 7 --anomaly-rate 1% >/dev/null &&
	now 2026-11-03T11:00:00+08:00 &&
	wxrecon --db wx.db init 2>/dev/null &&
	wxrecon --db wx.db ledger import --orders gen/ledger_orders.csv --refunds gen/ledger_refunds.csv >/dev/null &&
	for k in trade.ALL:trade fundflow.BASIC:fundflow; do
		{ wxrecon --db wx.db bill import gen/$D.${k%:*}.csv.gz --date $D --kind ${k#*:} >/dev/null; rc=$?; } &&
		test "$rc" = 0 -o "$rc" = 3 || return 1
	done &&
	{ wxrecon --db wx.db reconcile --date $D >/dev/null; rc=$?; } &&
	test "$rc" = 3 &&
	findings >findings.before &&
	test "$(wc -l <findings.before)" -gt 20 &&
	wxrecon --db wx.db report --date $D --format csv --table days -o days.before.csv 2>/dev/null &&
	test "$(db "SELECT COUNT(*) FROM bill_trades")" = 3000
'
test_expect_success 'prune needs --bills-older-than (nothing is pruned by default)' '
	test_exit_code 2 wxrecon --db wx.db prune 2>err &&
	test_grep "bills-older-than DUR is required" err &&
	test_exit_code 2 wxrecon --db wx.db prune --bills-older-than 2h 2>err &&
	test_grep "at least a day" err
'
test_expect_success 'a day within the retention is not pruned' '
	now 2026-11-20T10:00:00+08:00 &&
	wxrecon --db wx.db prune --bills-older-than 30d >out &&
	test_grep "no bill rows dated before 2026-10-21 to prune" out &&
	test "$(db "SELECT COUNT(*) FROM bill_trades")" = 3000
'
test_expect_success '--dry-run says what would go and changes nothing' '
	now 2026-12-15T10:00:00+08:00 &&
	wxrecon --db wx.db prune --bills-older-than 30d --dry-run >out &&
	test_grep "would prune 2 bills of $D..$D" out &&
	test "$(db "SELECT COUNT(*) FROM bill_trades")" = 3000 &&
	test "$(db "SELECT COUNT(*) FROM bill_files WHERE pruned_at IS NOT NULL")" = 0
'
test_expect_success 'prune drops the rows, keeps the file rows, summaries, findings and .gz' '
	wxrecon --db wx.db prune --bills-older-than 30d >out &&
	test_grep "pruned 2 bills of $D..$D" out &&
	test "$(db "SELECT COUNT(*) FROM bill_trades")" = 0 &&
	test "$(db "SELECT COUNT(*) FROM bill_fundflows")" = 0 &&
	test "$(db "SELECT COUNT(*) FROM bill_files WHERE bill_date = \"$D\" AND pruned_at IS NOT NULL")" = 2 &&
	test "$(db "SELECT COUNT(*) FROM bill_trade_summary")" = 1 &&
	test "$(db "SELECT COUNT(*) FROM bill_fundflow_summary")" = 1 &&
	findings >findings.pruned &&
	test_cmp findings.before findings.pruned &&
	for s in $(db "SELECT sha1 FROM bill_files"); do test -s var/bills/$s.gz || return 1; done
'
test_expect_success 'each pruned bill is audited, and the chain holds' '
	test "$(db "SELECT COUNT(*) FROM audit_log WHERE event = \"bill.prune\"")" = 2 &&
	db "SELECT detail FROM audit_log WHERE event = \"bill.prune\" ORDER BY id" >detail &&
	test_grep "\"kind\":\"trade\",\"rows\":3000" detail &&
	wxrecon --db wx.db audit --verify >/dev/null
'
test_expect_success 'a report of the pruned day shows the totals its rows had' '
	wxrecon --db wx.db report --date $D --format csv --table days -o days.pruned.csv 2>/dev/null &&
	test_cmp days.before.csv days.pruned.csv
'
test_expect_success 'reconcile of a pruned day says so and exits 3; its findings stay' '
	now 2026-12-15T10:00:00+08:00 &&
	{ wxrecon --db wx.db reconcile --date $D >out 2>err; rc=$?; } &&
	test "$rc" = 3 &&
	test_grep "1 day not reconciled ($D): the bill rows were pruned" out &&
	test_grep "wxrecon bill import --date $D" err &&
	findings >findings.after &&
	test_cmp findings.before findings.after &&
	{ wxrecon --db wx.db --json reconcile --date $D >out.json 2>/dev/null; rc=$?; } &&
	test "$rc" = 3 &&
	test_grep "\"pruned_days\":1" out.json
'
test_expect_success 'a pruned day is not pruned again' '
	wxrecon --db wx.db prune --bills-older-than 30d >out &&
	test_grep "no bill rows dated before" out &&
	test "$(db "SELECT COUNT(*) FROM audit_log WHERE event = \"bill.prune\"")" = 2
'
test_expect_success 'bill import --date D restores the day from the archive' '
	{ wxrecon --db wx.db bill import --date $D >out; rc=$?; } &&
	test "$rc" = 0 -o "$rc" = 3 &&
	test_grep "$D trade: stored 3000 rows" out &&
	test_grep "$D fundflow: stored" out &&
	test "$(db "SELECT COUNT(*) FROM bill_trades")" = 3000 &&
	test "$(db "SELECT COUNT(*) FROM bill_files WHERE pruned_at IS NOT NULL")" = 0 &&
	now 2026-11-03T11:00:00+08:00 &&
	{ wxrecon --db wx.db reconcile --date $D >out; rc=$?; } &&
	test "$rc" = 3 &&
	! grep -q "not reconciled" out &&
	findings >findings.restored &&
	test_cmp findings.before findings.restored
'
test_expect_success 'a bill whose .gz left the archive is kept whole' '
	now 2026-12-15T10:00:00+08:00 &&
	rm var/bills/$(db "SELECT sha1 FROM bill_files WHERE kind = \"fundflow\"").gz &&
	wxrecon --db wx.db prune --bills-older-than 30d >out 2>err &&
	test_grep "pruned 1 bill of $D..$D" out &&
	test_grep "1 bill from $D on kept whole: its archived .gz is missing" err &&
	test "$(db "SELECT COUNT(*) FROM bill_trades")" = 0 &&
	test "$(db "SELECT COUNT(*) FROM bill_fundflows")" -gt 0
'
test_expect_success 'bill import --date D with no stored bill says what to do' '
	test_must_fail wxrecon --db wx.db bill import --date 2026-10-01 2>err &&
	test_grep "no stored trade or fund-flow bill of 2026-10-01 to restore" err
'
test_done
