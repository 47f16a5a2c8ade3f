#!/bin/sh
# t0900-demo: scripts/demo.sh (`make demo`) in a temporary directory, with the
# built binaries ($WXRECON_BUILD): it ends well, records its run, stops its
# simulator, finds what fixtures/demo/planted.tsv planted (once the commands
# that find them are built) and takes less than a minute.
. "$(dirname "$0")/test-lib.sh"

DEMO=$TRASH/demo
has() { wxrecon help | awk '/^commands:/ { f = 1; next } /^$/ { f = 0 } f { print $1 }' | grep -qx "$1"; }

test_expect_success 'the demo runs and exits 0 in under a minute' '
	t0=$(date +%s) &&
	DEMO_DIR=$DEMO sh "$SRC_ROOT/scripts/demo.sh" --no-build >demo.out 2>demo.err &&
	t1=$(date +%s) &&
	echo "$((t1 - t0))" >secs &&
	test "$(cat secs)" -lt 60 &&
	test_grep "^== done in" demo.out
'
echo "# the demo took $(cat secs 2>/dev/null) s"

test_expect_success 'the nightly run over the week was recorded' '
	now=$(date +%s) &&
	from=$(date -u -d "@$((now + 28800 - 7 * 86400))" +%F) &&
	to=$(date -u -d "@$((now + 28800 - 86400))" +%F) &&
	wxrecon --db "$DEMO/wxrecon.db" --json runs --last 1 >runs.json &&
	test_grep "\"job\": *\"nightly\"" runs.json &&
	test_grep "\"from\": *\"$from\"" runs.json &&
	test_grep "\"to\": *\"$to\"" runs.json &&
	grep -E "^\[\{\"id\": *1,.*\"state\": *\"(ok|attention)\"" runs.json
'

q() { sqlite3 "$DEMO/wxrecon.db" "$1"; }

test_expect_success 'the run stored both bills of each of the 7 days' '
	test "$(q "SELECT count(*) FROM bill_files WHERE status = '"'ok'"' AND source = '"'api'"'")" = 14 &&
	test "$(q "SELECT count(DISTINCT bill_date) FROM bill_files")" = 7
'

test_expect_success 'the ledger was imported with the planted differences' '
	test "$(q "SELECT amount_total FROM ledger_orders WHERE out_trade_no LIKE '"'%-P4'"'")" = 12300 &&
	test "$(q "SELECT count(*) FROM ledger_refunds WHERE out_refund_no LIKE '"'%-R5'"'")" = 0 &&
	test "$(q "SELECT count(*) FROM ledger_orders")" -gt 200
'

test_expect_success 'the simulator was stopped and the keys are private' '
	port=$(cat "$DEMO/sim/port") &&
	! curl -s -m 2 "http://127.0.0.1:$port/_sim/clock" &&
	test "$(stat -c %a "$DEMO/keys/apiclient_key.pem")" = 600 &&
	test_grep "^base_url = http://127.0.0.1:$port\$" "$DEMO/wxrecon.conf"
'

if has discrepancies || has actions; then
	test_expect_success 'every planted case was found, and nothing else' '
		test -s "$DEMO/check.txt" &&
		test_grep "^found " "$DEMO/check.txt" &&
		! grep -E "^(missed|extra) " "$DEMO/check.txt"
	'
else
	test_expect_success 'without the finding commands the demo says so' '
		test_grep "discrepancies. is not built yet" demo.out
	'
fi

if has report; then
	test_expect_success 'the reports were written and the HTML path printed' '
		html=$(sed -n "s/^open the HTML report in a browser: //p" demo.out) &&
		test -s "$html" &&
		case $html in "$DEMO"/reports/*.html) ;; *) false ;; esac &&
		xlsx=${html%.html}.xlsx &&
		unzip -p "$xlsx" xl/workbook.xml >wb.xml &&
		test_grep "<sheet name=\"actions\"" wb.xml &&
		test_grep "href=\"${xlsx##*/}\"" "$DEMO/reports/index.html"
	'
else
	test_expect_success 'without report the demo says so' '
		test_grep "report. is not built yet" demo.out
	'
fi

if has report && has actions; then
	test_expect_success "the run's report lists every action the run took, each once" '
		json=$(ls "$DEMO"/reports/nightly_*.json) &&
		wxrecon --db "$DEMO/wxrecon.db" --json actions >acts.json &&
		sed "s/},{\"id\"/}\n{\"id\"/g" acts.json |
			sed -n "s/^\[\{0,1\}{\"id\":\([0-9]*\),.*\"run_id\":1,.*/\1/p" | sort -n >want &&
		awk "/^  \"actions\": \[/ { f = 1; next } f && /^  \]/ { f = 0 }
			f && /^    {/ { id = \"\" } f && /^      \"id\": / { id = \$2 }
			f && /^      \"run_id\": 1,/ { sub(\",\", \"\", id); print id }" "$json" |
			sort -n >got &&
		test "$(wc -l <want)" -ge 8 &&
		test_cmp want got
	'
fi

test_expect_success 'the demo runs again in the same directory, from scratch' '
	DEMO_DIR=$DEMO sh "$SRC_ROOT/scripts/demo.sh" --no-build >demo2.out 2>demo2.err &&
	wxrecon --db "$DEMO/wxrecon.db" --json runs >runs2.json &&
	test "$(grep -o "\"job\": *\"nightly\"" runs2.json | wc -l)" = 1
'

test_expect_success 'the demo refuses a directory it did not make' '
	mkdir other && echo precious >other/file &&
	{ DEMO_DIR=$TRASH/other sh "$SRC_ROOT/scripts/demo.sh" --no-build >o 2>e; rc=$?; } &&
	test "$rc" = 1 &&
	test_grep "was not made by the demo" e &&
	test "$(cat other/file)" = precious
'

test_expect_success 'a broken ./wxrecon.conf does not stop the demo: it uses its own config' '
	mkdir broken && cd broken && echo junk >wxrecon.conf &&
	DEMO_DIR=$TRASH/broken/demo sh "$SRC_ROOT/scripts/demo.sh" --no-build >o 2>e &&
	test_grep "done in [0-9]* s" o &&
	test "$(cat wxrecon.conf)" = junk
'

test_done
