#!/bin/sh
# Issue 16: the same inputs give byte-identical reports on SQLite and on
# PostgreSQL (ordering, number formatting, timestamps): one generated day with a
# planted discrepancy of every kind goes through init, ledger import, bill fetch
# and reconcile into each store, and every report format is compared byte for byte.
. "$(dirname "$0")/test-lib.sh"

if ! pg_available; then
	test_skip 'reports byte-identical on both backends' 'no PostgreSQL server (make test-pg starts one)'
	test_done
fi

D=2026-11-01
RANGE="--from 2026-10-31 --to 2026-11-02"
WXRECON_NOW=2026-11-03T11:00:00+08:00
export WXRECON_NOW

test_expect_success 'generate a day with planted discrepancies' '
	wxrecon_sim generate --rows 400 --date $D --out gen --seed 7 >/dev/null
'
sim_start --bills gen
sim_admin POST /_sim/clock "{\"now\":\"$WXRECON_NOW\"}" >/dev/null
config_setup
pg_createdb wxt_t0152 >/dev/null
sed "s#^path = .*#path = sq.db#; s#^url = .*#path = sq.db#" wxrecon.conf >sq.conf
sed "s#^path = .*#url = $(sed_repl "$(pg_url wxt_t0152)")#; s#^url = .*#url = $(sed_repl "$(pg_url wxt_t0152)")#" \
	wxrecon.conf >pg.conf

for b in sq pg; do
	test_expect_success "$b: init, ledger import, bill fetch, reconcile" "
		\"\$WXRECON_BIN\" -c $b.conf init 2>/dev/null &&
		\"\$WXRECON_BIN\" -c $b.conf ledger import --orders gen/ledger_orders.csv \\
			--refunds gen/ledger_refunds.csv >/dev/null &&
		{ \"\$WXRECON_BIN\" -c $b.conf bill fetch $RANGE >/dev/null; rc=\$?; } && test \$rc = 3 &&
		{ \"\$WXRECON_BIN\" -c $b.conf reconcile $RANGE >/dev/null 2>&1; rc=\$?; } && test \$rc = 3
	"
done

# The stamps carry the audit head (entries and hash: issue 20 item 5), and the
# two runs above cannot give the same log: an entry records the wall clock of
# its event (not the business clock: SPEC 9) and an HTTP call its latency and
# request-id. So both stores get the same log, as they got the same ledger and
# bills: SQLite's entries, head record and run checkpoints go into PostgreSQL
# (as its schema owner could), under the one key file both configs use.
test_expect_success 'the same audit log in both stores' '
	test "$(sqlite3 sq.db "SELECT count(*) FROM audit_log")" -gt 20 &&
	cols="id, at, run_id, actor, event, subject, detail, prev_hash, hash, alg" &&
	sqlite3 -csv sq.db "SELECT $cols FROM audit_log ORDER BY id" >log.csv &&
	sqlite3 -csv sq.db "SELECT chain, entries, head, mac FROM audit_heads" >heads.csv &&
	sqlite3 sq.db "SELECT \"UPDATE job_runs SET audit_entries = \" || quote(audit_entries) ||
		\", audit_head = \" || quote(audit_head) ||
		\", audit_mac = \" || quote(audit_mac) || \" WHERE id = \" || id || \";\"
		FROM job_runs" >runs.sql &&
	test -s runs.sql &&
	{ echo "BEGIN;" &&
	  echo "ALTER TABLE audit_log DISABLE TRIGGER USER;" &&
	  echo "DELETE FROM audit_log;" &&
	  printf "%s\\n" "\\copy audit_log ($cols) FROM log.csv WITH (FORMAT csv)" &&
	  echo "ALTER TABLE audit_log ENABLE TRIGGER USER;" &&
	  echo "DELETE FROM audit_heads;" &&
	  printf "%s\\n" "\\copy audit_heads (chain, entries, head, mac) FROM heads.csv WITH (FORMAT csv)" &&
	  cat runs.sql && echo "COMMIT;"; } | pg_psql wxt_t0152 &&
	pg_psql wxt_t0152 -c "SELECT $cols FROM audit_log ORDER BY id" >pg.log &&
	sqlite3 sq.db "SELECT $cols FROM audit_log ORDER BY id" >sq.log &&
	test_cmp sq.log pg.log
'

for b in sq pg; do
	test_expect_success "$b: the reports" "
		mkdir -p $b &&
		\"\$WXRECON_BIN\" -q -c $b.conf report $RANGE -o $b/csv &&
		\"\$WXRECON_BIN\" -c $b.conf report $RANGE --format json >$b/report.json &&
		\"\$WXRECON_BIN\" -c $b.conf report $RANGE --format html -o $b/report.html &&
		\"\$WXRECON_BIN\" -c $b.conf --json discrepancies >$b/discrepancies.json &&
		\"\$WXRECON_BIN\" -c $b.conf --json audit --verify >$b/verify.json
	"
done

test_expect_success 'the CSV tables are byte-identical' '
	ls sq/csv >sq.list && ls pg/csv >pg.list && test_cmp sq.list pg.list &&
	test -s sq.list &&
	for f in $(cat sq.list); do cmp sq/csv/$f pg/csv/$f || return 1; done
'
test_expect_success 'the JSON report is byte-identical' '
	grep -q "\"days\"" sq/report.json &&
	cmp sq/report.json pg/report.json
'
test_expect_success 'the HTML report is byte-identical' '
	test -s sq/report.html &&
	cmp sq/report.html pg/report.html
'
test_expect_success 'the discrepancies are the same, ids and all' '
	cmp sq/discrepancies.json pg/discrepancies.json
'
test_expect_success 'audit --verify says the same' '
	cmp sq/verify.json pg/verify.json
'

test_done
