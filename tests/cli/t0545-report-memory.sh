#!/bin/sh
# A report's memory does not grow with its discrepancies (issue 14: peak RSS
# <= 64 MiB at 1M rows and 1% of every kind): they are read and written one at
# a time, never all held. 24000 of them (20000 payments missing in the ledger)
# against none, in each format that
# lists them; the peak RSS (GNU time) may differ by a few MiB, not by the
# ~5 KB per discrepancy it took when the report held them all.
. "$(dirname "$0")/test-lib.sh"
# The binary runs directly (timed, or on a pty), so on SQLite whatever WXRECON_TEST_DB says.

[ -x /usr/bin/time ] || test_skip_all "no GNU time (/usr/bin/time) for the peak RSS"
# ASan keeps freed memory in quarantine and shadows the rest: its RSS says nothing here
grep -qa __asan_init "$WXRECON_BIN" && test_skip_all "an ASan build: its peak RSS is not the program's"

D=2026-11-01
# peak_kb FILE CMD...: runs CMD, the peak RSS of it (KiB) in FILE
peak_kb() {
	out=$1 && shift &&
	/usr/bin/time -f %M -o "$out.t" "$@" >/dev/null 2>"$out.err" &&
	tail -n 1 "$out.t" >"$out"
}
test_expect_success 'setup: a day whose ledger lost a quarter of 80000 payments' '
	wxrecon_sim generate --rows 80000 --date $D --out gen --seed 5 --anomaly-rate 0 \
		--rate MISSING_IN_LEDGER=25% >/dev/null &&
	WXRECON_NOW=2026-11-03T11:00:00+08:00 && export WXRECON_NOW &&
	"$WXRECON_BIN" --db r.db init 2>/dev/null &&
	"$WXRECON_BIN" --db r.db ledger import --orders gen/ledger_orders.csv >/dev/null &&
	{ "$WXRECON_BIN" --db r.db bill import gen/$D.trade.ALL.csv.gz --date $D --kind trade >/dev/null; rc=$?; } &&
	test "$rc" = 0 -o "$rc" = 3 &&
	{ "$WXRECON_BIN" --db r.db reconcile --date $D >/dev/null; rc=$?; } &&
	test "$rc" = 3 &&
	test "$(sqlite3 r.db "SELECT COUNT(*) FROM discrepancies WHERE kind = \"MISSING_IN_LEDGER\"")" = 20000
'
for fmt in json html "csv --table discrepancies"; do
	test_expect_success "report --format $fmt: 24000 discrepancies in about the memory of none" '
		peak_kb none "$WXRECON_BIN" --db r.db report --date 2026-10-20 --format '"$fmt"' -o none.out &&
		peak_kb many "$WXRECON_BIN" --db r.db report --date $D --format '"$fmt"' -o many.out &&
		test "$(grep -o "ORD20261101[0-9]*" many.out | sort -u | wc -l)" -ge 20000 &&
		echo "peak RSS: none $(cat none) KiB, 24000 discrepancies $(cat many) KiB" &&
		test $(($(cat many) - $(cat none))) -lt 8192
	'
done
test_done
