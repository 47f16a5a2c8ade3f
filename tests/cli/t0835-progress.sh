#!/bin/sh
# Progress on a terminal (issue 14): ledger import, bill import and reconcile of a
# range say how far they are on stderr when it is a terminal (run here under
# script(1), which gives the command a pty), and say nothing under cron (no tty).
. "$(dirname "$0")/test-lib.sh"
# The binary runs directly (timed, or on a pty), so on SQLite whatever WXRECON_TEST_DB says.

command -v script >/dev/null 2>&1 || test_skip_all "no script(1) (util-linux) for a pty"

D=2026-11-01
# on_tty FILE CMD...: runs CMD with stdin, stdout and stderr on a pty; all it wrote, in FILE
on_tty() {
	out=$1 && shift &&
	script -qec "$*" /dev/null </dev/null | tr "\r" "\n" >"$out"
}
test_expect_success 'setup: a generated day of 40000 rows' '
	wxrecon_sim generate --rows 40000 --date $D --out gen --seed 3 >/dev/null &&
	"$WXRECON_BIN" --db tty.db init 2>/dev/null &&
	"$WXRECON_BIN" --db cron.db init 2>/dev/null
'
test_expect_success 'ledger import on a terminal: the part of the file done, and its rows' '
	on_tty out "\"$WXRECON_BIN\" --db tty.db ledger import --orders gen/ledger_orders.csv" &&
	grep "gen/ledger_orders.csv: [0-9]*% ([0-9]* rows)" out >lines &&
	test "$(wc -l <lines)" -ge 2 &&
	grep -q "orders: 3[0-9]* rows: " out
'
test_expect_success 'bill import on a terminal: the part of the file read' '
	on_tty out "\"$WXRECON_BIN\" --db tty.db bill import gen/$D.trade.ALL.csv.gz --date $D --kind trade" &&
	grep -q "$D.trade.ALL.csv.gz: [0-9]*% ([0-9]* MB read)" out
'
test_expect_success 'reconcile of a range on a terminal: days done of the days' '
	on_tty out "\"$WXRECON_BIN\" --db tty.db reconcile --from 2026-10-31 --to $D" &&
	grep -q "reconcile: day 1 of 2 (50%): 2026-10-31" out &&
	grep -q "reconcile: day 2 of 2 (100%): $D" out
'
test_expect_success 'under cron (stderr no terminal) the same steps print no progress' '
	"$WXRECON_BIN" --db cron.db ledger import --orders gen/ledger_orders.csv >/dev/null 2>err &&
	! test -s err &&
	{ "$WXRECON_BIN" --db cron.db bill import gen/$D.trade.ALL.csv.gz --date $D --kind trade >/dev/null 2>err; rc=$?; } &&
	test "$rc" = 0 -o "$rc" = 3 &&
	! grep "%" err &&
	{ "$WXRECON_BIN" --db cron.db reconcile --from 2026-10-31 --to $D >/dev/null 2>err; rc=$?; } &&
	! grep "reconcile: day" err
'
test_done
