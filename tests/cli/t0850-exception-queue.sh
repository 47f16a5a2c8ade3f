#!/bin/sh
# The exception queue (issue 19): assign, comment, bulk resolve, each with its
# audit entries and history; the queue's filters; severity and due dates near
# each WeChat Pay deadline, computed from the business clock.
. "$(dirname "$0")/test-lib.sh"

export USER=fin1
db() { db_sql db.sqlite "$@"; }
# the fixture's open ones: 1 AMOUNT_MISMATCH 2026-10-31, 2 AMOUNT_MISMATCH
# 2026-11-01 (paid 10:00 per the bill), 6 BILL_MISSING 2026-11-03,
# 7 REFUND_MISSING_IN_LEDGER 2026-11-04; 3 and 8 resolved, 4 and 5 auto_resolved

test_expect_success 'setup: the report fixture' '
	wxrecon --db db.sqlite init 2>/dev/null &&
	db <"$FIXTURES/report/fill.sql"
'
test_expect_success 'assign ID... --to WHO: owner set, history row and audit entry each' '
	wxrecon --db db.sqlite assign 1 2 --to alice >out &&
	test_grep "^2 discrepancies assigned to alice by user:fin1$" out &&
	test "$(db "SELECT id || \":\" || assignee FROM discrepancies WHERE assignee IS NOT NULL ORDER BY id" | tr "\n" " ")" = "1:alice 2:alice " &&
	test "$(db "SELECT count(*) FROM discrepancy_assignments WHERE assignee = \"alice\" AND previous IS NULL AND who = \"user:fin1\"")" = 2 &&
	wxrecon --db db.sqlite audit >audit.txt &&
	test "$(grep -c "	user:fin1	discrepancy.assigned	AMOUNT_MISMATCH ORD-[02]	.*\"from\":null.*\"to\":\"alice\"" audit.txt)" = 2
'
test_expect_success 'reassigning keeps the history; the same owner again records nothing' '
	wxrecon --db db.sqlite assign 1 --to bob >/dev/null &&
	wxrecon --db db.sqlite assign 1 --to bob >out &&
	test_grep "(1 already bob.s)" out &&
	test "$(db "SELECT group_concat(COALESCE(previous, \"-\") || \">\" || assignee, \" \") FROM (SELECT * FROM discrepancy_assignments WHERE discrepancy_id = 1 ORDER BY id) AS a")" = "->alice alice>bob" &&
	wxrecon --db db.sqlite audit >audit.txt &&
	test "$(grep -c "discrepancy.assigned	AMOUNT_MISMATCH ORD-0	.*\"from\":\"alice\".*\"to\":\"bob\"" audit.txt)" = 1 &&
	test "$(grep -c discrepancy.assigned audit.txt)" = 3
'
test_expect_code 2 'assign with an unknown id: a usage error' '
	wxrecon --db db.sqlite assign 2 99 --to carol
'
test_expect_success '... and it assigned none of them' '
	test_must_fail wxrecon --db db.sqlite assign 2 99 --to carol 2>err &&
	test_grep "no discrepancy 99" err &&
	test "$(db "SELECT assignee FROM discrepancies WHERE id = 2")" = alice &&
	test "$(db "SELECT count(*) FROM discrepancy_assignments WHERE assignee = \"carol\"")" = 0
'
test_expect_code 2 'assign without --to: a usage error' '
	wxrecon --db db.sqlite assign 1
'
test_expect_success 'comment ID --note TEXT: kept, audited, counted in the listing' '
	wxrecon --db db.sqlite comment 2 --note "asked the bank for the slip" >out &&
	test_grep "^comment added to discrepancy 2 by user:fin1$" out &&
	wxrecon --db db.sqlite comment 2 --note "slip received" >/dev/null &&
	test "$(db "SELECT group_concat(who || \"|\" || note, \";\") FROM (SELECT * FROM discrepancy_comments WHERE discrepancy_id = 2 ORDER BY id) AS c")" = "user:fin1|asked the bank for the slip;user:fin1|slip received" &&
	wxrecon --db db.sqlite audit >audit.txt &&
	test_grep "	user:fin1	discrepancy.commented	AMOUNT_MISMATCH ORD-2	.*\"note\":\"asked the bank for the slip\"" audit.txt &&
	wxrecon --db db.sqlite --json discrepancies >d.json &&
	python3 -c "
import json
d = {x[\"id\"]: x for x in json.load(open(\"d.json\"))}
assert d[2][\"comments\"] == 2 and d[2][\"assignee\"] == \"alice\", d[2]
assert d[1][\"assignee\"] == \"bob\" and d[6][\"assignee\"] is None, d
"
'
test_expect_success 'discrepancies --id ID: the one, with its history oldest first' '
	wxrecon --db db.sqlite discrepancies --id 1 >h.txt &&
	test "$(wc -l <h.txt)" = 3 &&
	head -1 h.txt | grep -q "^1 .* AMOUNT_MISMATCH .*, owner bob$" &&
	sed -n 2p h.txt | grep -q "^       [0-9T:-]*+08:00 user:fin1: assigned to alice (was nobody)$" &&
	sed -n 3p h.txt | grep -q "^       [0-9T:-]*+08:00 user:fin1: assigned to bob (was alice)$" &&
	wxrecon --db db.sqlite --json discrepancies --id 2 >h.json &&
	python3 -c "
import json
d = json.load(open(\"h.json\"))
assert [x[\"id\"] for x in d] == [2], d
h = d[0][\"history\"]
# by time; within one second comments come first (two tables, no common order)
assert sorted((e[\"event\"], e.get(\"note\") or e.get(\"to\")) for e in h) == [
    (\"assigned\", \"alice\"), (\"comment\", \"asked the bank for the slip\"),
    (\"comment\", \"slip received\")], h
assert [e[\"at\"] for e in h] == sorted(e[\"at\"] for e in h), h
" &&
	wxrecon --db db.sqlite discrepancies --id 3 >r.txt &&
	test_grep "^3 .* resolved .* MISSING_IN_LEDGER" r.txt
'
test_expect_code 2 'comment without a note: a usage error' '
	wxrecon --db db.sqlite comment 2
'
test_expect_code 2 'comment on an unknown id: a usage error' '
	wxrecon --db db.sqlite comment 99 --note x
'

test_expect_success 'discrepancies --assignee WHO / none, --kind K' '
	wxrecon --db db.sqlite --json discrepancies --assignee alice >a.json &&
	test "$(grep -o "\"id\": *[0-9]*" a.json | tr -d " " | tr "\n" " ")" = "\"id\":2 " &&
	wxrecon --db db.sqlite --json discrepancies --assignee none >n.json &&
	test "$(grep -o "\"id\": *[0-9]*" n.json | tr -d " " | tr "\n" " ")" = "\"id\":6 \"id\":7 " &&
	wxrecon --db db.sqlite --json discrepancies --kind BILL_MISSING --status all >k.json &&
	test "$(grep -o "\"id\": *[0-9]*" k.json | tr -d " " | tr "\n" " ")" = "\"id\":6 "
'
test_expect_code 2 'discrepancies --kind with no such kind: a usage error' '
	wxrecon --db db.sqlite discrepancies --kind AMOUNT_MISMATCHES
'
test_expect_code 2 'discrepancies --severity with no such severity: a usage error' '
	wxrecon --db db.sqlite discrepancies --severity urgent
'

# Age from when it was found: 6 and 7 were found 2026-11-05T02:05Z, 2 on 11-02.
# The age thresholds are set out of the way so that the amounts and the
# deadlines decide.
cat >late.conf <<EOF
[policy]
severity_medium_after = 3650d
severity_high_after = 3650d
severity_critical_after = 3650d
EOF
test_expect_success 'age and --older-than DUR follow WXRECON_NOW' '
	WXRECON_NOW=2026-11-08T10:05:00+08:00 wxrecon -c late.conf --db db.sqlite --json discrepancies >d.json &&
	python3 -c "
import json
d = {x[\"id\"]: x for x in json.load(open(\"d.json\"))}
assert d[6][\"age_s\"] == 3 * 86400 and d[6][\"age_days\"] == 3, d[6]
assert d[2][\"age_days\"] == 6, d[2]
" &&
	WXRECON_NOW=2026-11-08T10:05:00+08:00 wxrecon -c late.conf --db db.sqlite --json discrepancies --older-than 4d >o.json &&
	test "$(grep -o "\"id\": *[0-9]*" o.json | tr -d " " | tr "\n" " ")" = "\"id\":1 \"id\":2 " &&
	WXRECON_NOW=2026-11-08T10:05:00+08:00 wxrecon -c late.conf --db db.sqlite --json discrepancies --older-than 72h >o.json &&
	test "$(grep -o "\"id\": *[0-9]*" o.json | tr -d " " | tr "\n" " ")" = "\"id\":1 \"id\":2 \"id\":6 \"id\":7 "
'
test_expect_success 'severity from the amount: [policy] thresholds in yuan' '
	WXRECON_NOW=2026-11-08T10:05:00+08:00 wxrecon -c late.conf --db db.sqlite --json discrepancies >d.json &&
	python3 -c "
import json
d = {x[\"id\"]: x[\"severity\"] for x in json.load(open(\"d.json\"))}
assert d == {1: \"low\", 2: \"low\", 6: \"low\", 7: \"low\"}, d
" &&
	printf "severity_medium_above = 0.50\nseverity_high_above = 49.99\n" >>late.conf &&
	WXRECON_NOW=2026-11-08T10:05:00+08:00 wxrecon -c late.conf --db db.sqlite --json discrepancies >d.json &&
	python3 -c "
import json
d = {x[\"id\"]: x[\"severity\"] for x in json.load(open(\"d.json\"))}
# 1: 0.01 at stake, 2: 0.50 (not above 0.50), 7: 50.00 (above 49.99)
assert d == {1: \"low\", 2: \"low\", 6: \"low\", 7: \"high\"}, d
" &&
	WXRECON_NOW=2026-11-08T10:05:00+08:00 wxrecon -c late.conf --db db.sqlite --json discrepancies --severity medium >s.json &&
	test "$(grep -o "\"id\": *[0-9]*" s.json | tr -d " " | tr "\n" " ")" = "\"id\":7 "
'
test_expect_success 'the bill deadline: BILL_MISSING 2026-11-03 is due 2027-02-02' '
	WXRECON_NOW=2027-01-19T23:59:59+08:00 wxrecon -c late.conf --db db.sqlite --json discrepancies --kind BILL_MISSING >d.json &&
	grep -q "\"severity\": *\"low\", *\"due_date\": *\"2027-02-02\", *\"overdue\": *false" d.json &&
	WXRECON_NOW=2027-01-20T00:00:00+08:00 wxrecon -c late.conf --db db.sqlite --json discrepancies --kind BILL_MISSING >d.json &&
	grep -q "\"severity\": *\"critical\", *\"due_date\": *\"2027-02-02\", *\"overdue\": *false" d.json &&
	WXRECON_NOW=2027-02-03T00:00:00+08:00 wxrecon -c late.conf --db db.sqlite discrepancies --kind BILL_MISSING >d.txt &&
	test_grep "^6 .* BILL_MISSING .*| critical, 89d old, due 2027-02-02 OVERDUE, owner -$" d.txt
'
test_expect_success 'the refund deadline: AMOUNT_MISMATCH paid 2026-11-01 10:00 is due 2027-11-01' '
	WXRECON_NOW=2027-10-18T09:59:59+08:00 wxrecon -c late.conf --db db.sqlite --json discrepancies --date 2026-11-01 >d.json &&
	grep -q "\"severity\": *\"low\", *\"due_date\": *\"2027-11-01\", *\"overdue\": *false" d.json &&
	WXRECON_NOW=2027-10-18T10:00:00+08:00 wxrecon -c late.conf --db db.sqlite --json discrepancies --date 2026-11-01 >d.json &&
	grep -q "\"severity\": *\"critical\", *\"due_date\": *\"2027-11-01\", *\"overdue\": *false" d.json &&
	WXRECON_NOW=2027-11-01T10:00:00+08:00 wxrecon -c late.conf --db db.sqlite --json discrepancies --date 2026-11-01 >d.json &&
	grep -q "\"due_date\": *\"2027-11-01\", *\"overdue\": *true" d.json
'
test_expect_success 'REFUND_MISSING_IN_LEDGER has no WeChat Pay deadline' '
	wxrecon --db db.sqlite --json discrepancies --kind REFUND_MISSING_IN_LEDGER >d.json &&
	grep -q "\"due_date\": *null, *\"overdue\": *false" d.json
'

test_expect_success 'resolve ID --note TEXT works as it always did' '
	wxrecon --db db.sqlite resolve 7 --note "booked by hand" >out &&
	test_grep "^discrepancy 7 resolved by user:fin1$" out &&
	test "$(db "SELECT status || \"|\" || resolution FROM discrepancies WHERE id = 7")" = "resolved|booked by hand"
'
test_expect_success 'setup: 25 open FEE_MISMATCH findings on 2026-11-02' '
	for i in $(seq 1 25); do
		echo "INSERT INTO discrepancies (date, kind, key, status, created_at, updated_at) VALUES (\"2026-11-02\", \"FEE_MISMATCH\", \"T$i\", \"open\", \"2026-11-03T02:00:00Z\", \"2026-11-03T02:00:00Z\");"
	done | db
'
test_expect_code 2 'resolve FILTER above resolve_confirm_above without --yes: exit 2' '
	wxrecon --db db.sqlite resolve --kind FEE_MISMATCH --date 2026-11-02 --note "fees checked"
'
test_expect_success '... showing the count first, and resolving nothing' '
	test_must_fail wxrecon --db db.sqlite resolve --kind FEE_MISMATCH --date 2026-11-02 --note "fees checked" >out 2>err &&
	test_grep "^25 open discrepancies match$" out &&
	test_grep "25 discrepancies is more than \[policy\] resolve_confirm_above = 20.*--yes" err &&
	test "$(db "SELECT count(*) FROM discrepancies WHERE kind = \"FEE_MISMATCH\" AND status = \"open\"")" = 25
'
test_expect_success 'resolve FILTER --yes: all of them, each audited, plus one bulk entry' '
	wxrecon --db db.sqlite audit >before.txt &&
	wxrecon --db db.sqlite resolve --kind FEE_MISMATCH --date 2026-11-02 --note "fees checked" --yes >out &&
	test_grep "^25 discrepancies resolved by user:fin1$" out &&
	test "$(db "SELECT count(*) FROM discrepancies WHERE kind = \"FEE_MISMATCH\" AND status = \"resolved\" AND resolution = \"fees checked\"")" = 25 &&
	wxrecon --db db.sqlite audit >after.txt &&
	test "$(($(wc -l <after.txt) - $(wc -l <before.txt)))" = 26 &&
	test "$(grep -c "	discrepancy.resolved	FEE_MISMATCH T" after.txt)" = 25 &&
	test_grep "	user:fin1	discrepancy.bulk_resolved		.*\"count\":25.*\"filter\":\"dates 2026-11-02..2026-11-02 kind FEE_MISMATCH" after.txt &&
	test "$(db "SELECT count(*) FROM discrepancy_events WHERE event = \"resolved\" AND note = \"fees checked\"")" = 25
'
test_expect_success 'resolve with a filter that matches nothing: says so, exit 0' '
	wxrecon --db db.sqlite resolve --kind FEE_MISMATCH --note again >out &&
	test_grep "^0 open discrepancies match$" out
'
test_expect_code 2 'resolve several ids, one already resolved: exit 2' '
	wxrecon --db db.sqlite resolve 1 7 --note "both done"
'
test_expect_success '... and nothing resolved; several open ids resolve together' '
	test "$(db "SELECT status FROM discrepancies WHERE id = 1")" = open &&
	wxrecon --db db.sqlite resolve 1 2 --note "both done" >out &&
	test_grep "^2 discrepancies resolved by user:fin1$" out &&
	test "$(db "SELECT group_concat(status) FROM discrepancies WHERE id IN (1, 2)")" = "resolved,resolved" &&
	wxrecon --db db.sqlite audit >audit.txt &&
	test_grep "discrepancy.bulk_resolved		.*\"count\":2,\"filter\":null,\"ids\":\[1,2\]" audit.txt
'
test_expect_code 2 'resolve with ids and a filter: a usage error' '
	wxrecon --db db.sqlite resolve 6 --kind BILL_MISSING --note x
'
# The report's aging is as of the end of its range, whatever the clock.
test_expect_success 'setup: a bill missing since 2026-08-01, past its download window by 11-05' '
	db "INSERT INTO discrepancies (date, kind, key, status, created_at, updated_at, assignee) VALUES (\"2026-08-01\", \"BILL_MISSING\", \"trade\", \"open\", \"2026-08-03T02:00:00Z\", \"2026-08-03T02:00:00Z\", \"dana\")" &&
	db "SELECT id FROM discrepancies WHERE date = \"2026-08-01\"" >old.id
'
test_expect_success 'report: the aging table in JSON and aging.csv, overdue counted' '
	wxrecon --db db.sqlite report --from 2026-08-01 --to 2026-11-04 --format json >r.json &&
	python3 -c "
import json
d = json.load(open(\"r.json\"))
a = d[\"aging\"]
assert a[\"as_of\"] == \"2026-11-05T00:00:00+08:00\", a
old = [b for b in a[\"buckets\"] if b[\"age\"] == \"90d+\"][0]
assert old[\"critical\"][\"count\"] == 1 and old[\"overdue\"][\"count\"] == 1, old
assert a[\"total\"][\"open\"][\"count\"] == 2 and a[\"total\"][\"overdue\"][\"count\"] == 1, a
x = [x for x in d[\"discrepancies\"] if x[\"date\"] == \"2026-08-01\"][0]
assert (x[\"due_date\"], x[\"overdue\"], x[\"severity\"], x[\"assignee\"]) == \\
    (\"2026-10-31\", True, \"critical\", \"dana\"), x
" &&
	wxrecon -q --db db.sqlite report --from 2026-08-01 --to 2026-11-04 -o csv &&
	test_grep "age,low_count,low_yuan,medium_count,medium_yuan,high_count,high_yuan,critical_count,critical_yuan,open_count,open_yuan,overdue_count,overdue_yuan" csv/aging.csv &&
	grep -a -q "^90d+,0,0.00,0,0.00,0,0.00,1,0.00,1,0.00,1,0.00" csv/aging.csv &&
	grep -a -q "^total,1,0.00,0,0.00,0,0.00,1,0.00,2,0.00,1,0.00" csv/aging.csv
'
test_expect_success 'report HTML: the aging table, and the overdue row marked' '
	wxrecon --db db.sqlite report --from 2026-08-01 --to 2026-11-04 --format html >r.html &&
	test_grep "<h2>Aging of open discrepancies</h2>" r.html &&
	test_grep "1 open discrepancy is overdue" r.html &&
	test_grep "<tr class=\"overdue\"><td class=\"n\">$(cat old.id)</td>" r.html &&
	test_grep "due 2026-10-31</span><br><span class=\"overdue\">OVERDUE</span><br>owner dana" r.html &&
	test "$(grep -c "<tr class=\"overdue\">" r.html)" = 1 &&
	WXRECON_NOW=2031-01-01T00:00:00+08:00 wxrecon --db db.sqlite report --from 2026-08-01 --to 2026-11-04 --format html >later.html &&
	cmp r.html later.html
'
test_expect_success 'resolve FILTER matching one: resolved, and the filter audited' '
	wxrecon --db db.sqlite resolve --kind BILL_MISSING --date 2026-11-03 --note "fetched by hand" >out &&
	test_grep "^1 open discrepancy matches$" out &&
	test "$(db "SELECT status FROM discrepancies WHERE id = 6")" = resolved &&
	wxrecon --db db.sqlite audit >audit.txt &&
	test_grep "discrepancy.bulk_resolved		.*\"count\":1,\"filter\":\"dates 2026-11-03..2026-11-03 kind BILL_MISSING.*\"ids\":\[6\]" audit.txt
'
test_expect_success 'the audit chain holds (fill.sql seeds actions and runs no audit entry made: gone first)' '
	db "DELETE FROM actions; DELETE FROM job_steps; DELETE FROM job_runs" &&
	wxrecon --db db.sqlite audit --verify
'

test_done
