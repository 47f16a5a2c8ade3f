#!/bin/sh
# One unit and one clock per view: what a person reads (HTML report, runs,
# audit) is in yuan with two decimals and in the configured timezone with its
# offset; the JSON report names the unit of every amount field.
. "$(dirname "$0")/test-lib.sh"

RANGE="--from 2026-11-01 --to 2026-11-04"

test_expect_success 'setup: the report fixture, an audit entry recorded in UTC' '
	wxrecon --db db.sqlite init 2>/dev/null &&
	db_sql db.sqlite <"$FIXTURES/report/fill.sql" &&
	db_sql db.sqlite "INSERT INTO audit_log (id, at, actor, event, subject, detail, prev_hash, hash) SELECT coalesce(max(id), 0) + 1, '"'"'2026-11-04T02:00:00Z'"'"', '"'"'test'"'"', '"'"'test.event'"'"', '"'"'S'"'"', '"'"'{}'"'"', '"'"'x'"'"', '"'"'y'"'"' FROM audit_log"
'
test_expect_success 'HTML: fees in yuan with two decimals, rounded half away from zero' '
	wxrecon --db db.sqlite report $RANGE --format html >r.html &&
	! grep -E "[0-9]\.[0-9]{3}" r.html &&
	# 2026-11-04: -0.33500 yuan of fees is shown -0.34; the total 1.71390 is 1.71
	grep -q "<span class=\"neg\">-0.34</span>" r.html &&
	grep -q ">1.71<" r.html
'
test_expect_success 'JSON: the exact fees, and a units object naming every amount unit' '
	wxrecon --db db.sqlite report $RANGE --format json >r.json &&
	python3 -c "
import json
d = json.load(open(\"r.json\"))
u = d[\"units\"]
assert u[\"days[].fees\"] == \"0.00001 yuan\", u
for k in (\"days[].payments.amount\", \"days[].refunds.amount\", \"days[].net\",
          \"discrepancies[].ledger_amount\", \"discrepancies[].bill_amount\", \"actions[].amount\"):
    assert u[k].startswith(\"fen\"), (k, u)
assert d[\"days\"][3][\"fees\"] == -33500, d[\"days\"][3]
"
'
test_expect_success 'runs: times in the configured timezone (+08:00 by default)' '
	wxrecon --db db.sqlite runs >runs.txt &&
	test_grep "^run 5 .* 2026-11-05T10:00:00+08:00 .. 2026-11-05T10:10:00+08:00" runs.txt &&
	! grep -q "T[0-9:]*Z" runs.txt &&
	wxrecon --db db.sqlite --json runs >runs.json &&
	test_grep "\"started_at\": *\"2026-11-05T10:00:00+08:00\"" runs.json &&
	printf "[policy]\ntimezone = UTC\n" >utc.conf &&
	wxrecon -c utc.conf --db db.sqlite runs >utc.txt &&
	test_grep "^run 5 .* 2026-11-05T02:00:00+00:00 " utc.txt
'
test_expect_success 'audit: times in the configured timezone (+08:00 by default)' '
	wxrecon --db db.sqlite audit >audit.txt &&
	test_grep "	2026-11-04T10:00:00+08:00	test	test.event	S	" audit.txt &&
	! grep -q "T[0-9:]*Z" audit.txt
'
test_expect_success 'discrepancies: amounts in yuan (fen stay in --json)' '
	wxrecon --db db.sqlite discrepancies --from 2026-11-01 --to 2026-11-04 >d.txt &&
	test_grep "^2 .* AMOUNT_MISMATCH .* ledger 100.00 bill 100.50 yuan \[PAID/SUCCESS\]" d.txt &&
	test_grep " REFUND_MISSING_IN_LEDGER .* ledger - bill 50.00 yuan" d.txt &&
	wxrecon --db db.sqlite --json discrepancies --from 2026-11-01 --to 2026-11-04 >d.json &&
	grep -q "\"bill_amount\": *10050" d.json
'

test_done
