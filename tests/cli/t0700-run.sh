#!/bin/sh
# wxrecon run / runs: a job over a range against the simulator; the lock;
# resume of a failed run; re-run idempotence; on_attention; dry run.
. "$(dirname "$0")/test-lib.sh"

db() { db_sql var/test.db "$1"; }
at() {
	WXRECON_NOW=$1 && export WXRECON_NOW &&
	sim_admin POST /_sim/clock "{\"now\":\"$1\"}" >/dev/null
}

mkdir billsdir
sim_start --bills billsdir
config_setup
mkdir jobs reports
cat >jobs/daily.job <<'JOB'
[job]
description = bills, reconcile, report
steps = fetch-bills, reconcile, report
dates = yesterday
[report]
formats = json, html
JOB
# Two days of payments, the ledger agreeing with them.
sim_admin POST /_sim/orders '[
 {"out_trade_no":"ORD20261101A","total":2500,"trade_state":"SUCCESS","success_time":"2026-11-01T09:15:02+08:00","transaction_id":"4200000001202611010000000001"},
 {"out_trade_no":"ORD20261102B","total":1000,"trade_state":"SUCCESS","success_time":"2026-11-02T10:00:00+08:00","transaction_id":"4200000001202611020000000002"}]' >/dev/null
cat >orders.csv <<'CSV'
out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref
ORD20261101A,4200000001202611010000000001,2500,CNY,PAID,2026-11-01T09:10:00+08:00,,2026-11-01T09:15:02+08:00,,
ORD20261102B,4200000001202611020000000002,1000,CNY,PAID,2026-11-02T09:59:00+08:00,,2026-11-02T10:00:00+08:00,,
CSV
at 2026-11-03T11:00:00+08:00

test_expect_success 'setup' '
	wxrecon init 2>/dev/null && wxrecon ledger import --orders orders.csv >/dev/null
'
test_expect_success 'a clean range runs every step day by day and exits 0' '
	wxrecon --verbose run daily --from 2026-11-01 --to 2026-11-02 >out &&
	grep -q "^run 1 (daily 2026-11-01..2026-11-02): ok$" out &&
	test "$(db "SELECT group_concat(step || \" \" || coalesce(date, \"-\") || \" \" || state, \", \") FROM (SELECT * FROM job_steps WHERE run_id = 1 ORDER BY seq) AS s")" = \
		"fetch-bills 2026-11-01 ok, reconcile 2026-11-01 ok, fetch-bills 2026-11-02 ok, reconcile 2026-11-02 ok, report - ok"
'
test_expect_success 'the report files are written' '
	test -s reports/daily_2026-11-01_2026-11-02.json && test -s reports/daily_2026-11-01_2026-11-02.html
'
test_expect_success 'the steps audited their work under the run id' '
	test "$(db "SELECT count(*) FROM audit_log WHERE run_id = 1 AND event = \"http\"")" -ge 4
'
test_expect_success 'runs lists the run and its steps' '
	wxrecon runs >out && grep -q "^run 1  daily" out && grep -q "reconcile     2026-11-02" out &&
	wxrecon runs --json >out && grep -q "\"job\":\"daily\"" out
'
test_expect_success 're-running the range changes nothing' '
	db "SELECT * FROM bill_files ORDER BY id" >b1 && db "SELECT * FROM discrepancies" >d1 &&
	wxrecon run daily --from 2026-11-01 --to 2026-11-02 >/dev/null &&
	db "SELECT * FROM bill_files ORDER BY id" >b2 && db "SELECT * FROM discrepancies" >d2 &&
	test_cmp b1 b2 && test_cmp d1 d2
'
test_expect_success 'a second run while one holds the lock is refused, naming the holder' '
	{ sleep 30 & } && holder=$! &&
	db "INSERT INTO locks (mchid, name, run_id, pid, host, acquired_at) VALUES (\"1900000001\", \"run\", 77, $holder, \"$(hostname)\", \"2026-11-03T03:00:00Z\")" &&
	{ wxrecon run daily --date 2026-11-01 2>err; rc=$?; kill $holder; wait $holder; test $rc = 75; } &&
	grep -q "locked: run 77 (pid $holder on $(hostname)) holds the lock" err
'
test_expect_success 'a lock left by a dead process is taken over (and audited)' '
	wxrecon run daily --date 2026-11-01 >/dev/null &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"lock.takeover\"")" = 1 &&
	test "$(db "SELECT count(*) FROM locks")" = 0
'
test_expect_code 2 'run takes no --force (the steps decide)' 'wxrecon run daily --date 2026-11-01 --force'
test_expect_success 'a day whose fetch fails: its reconcile is skipped, the run goes on, exit 1' '
	printf "not a bill" | gzip >billsdir/2026-11-02.fundflow.BASIC.csv.gz &&
	echo 0000000000000000000000000000000000000000 >billsdir/2026-11-02.fundflow.BASIC.csv.gz.sha1 &&
	test_exit_code 1 wxrecon run daily --from 2026-11-01 --to 2026-11-02 2>err >out &&
	grep -q "failed    fetch-bills   2026-11-02" out &&
	grep -q "skipped   reconcile     2026-11-02" out &&
	grep -q "ok        reconcile     2026-11-01" out &&
	grep -q "resume with: wxrecon run daily --resume" err
'
test_expect_success 'resume runs only the steps that did not finish' '
	failed=$(db "SELECT max(id) FROM job_runs WHERE state = \"failed\"") &&
	rm billsdir/* &&
	wxrecon run daily --resume $failed >out &&
	new=$(db "SELECT max(id) FROM job_runs") &&
	test "$(db "SELECT resumed_from FROM job_runs WHERE id = $new")" = "$failed" &&
	test "$(db "SELECT group_concat(step || \" \" || coalesce(date, \"-\") || \" \" || state, \", \") FROM (SELECT * FROM job_steps WHERE run_id = $new ORDER BY seq) AS s")" = \
		"fetch-bills 2026-11-02 ok, reconcile 2026-11-02 ok"
'
test_expect_code 2 'resume of a run with nothing left is refused' '
	wxrecon run daily --resume 1
'
test_expect_success 'on_attention gets the JSON summary when a run needs a person' '
	sed -i "s|^on_attention =.*|on_attention = cat >$TRASH/alert.json|" wxrecon.conf &&
	printf "out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref\nORD20261101Z,4200000001202611010000000099,100,CNY,PAID,2026-11-01T11:00:00+08:00,,2026-11-01T11:01:00+08:00,,\n" >extra.csv &&
	wxrecon ledger import --orders extra.csv >/dev/null &&
	test_exit_code 3 wxrecon run daily --date 2026-11-01 >out 2>err &&
	grep -q "\"state\":\"attention\"" alert.json && grep -q "\"exit_code\":3" alert.json
'
test_expect_success 'a failing on_attention command is logged, not fatal' '
	sed -i "s|^on_attention =.*|on_attention = exit 7|" wxrecon.conf &&
	test_exit_code 3 wxrecon run daily --date 2026-11-01 >out 2>err &&
	grep -q "on_attention command failed" err &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"alert.failed\"")" = 1
'
test_expect_success 'a dry run fetches no bill and writes no report' '
	n=$(db "SELECT count(*) FROM audit_log WHERE event = \"http\"") &&
	test_exit_code 3 wxrecon run daily --date 2026-11-01 --dry-run >out &&
	grep -q "skipped   fetch-bills" out && grep -q "skipped   report" out &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"http\"")" = "$n"
'
test_expect_success 'the default dates are yesterday in Asia/Shanghai' '
	at 2026-11-02T01:00:00+08:00 &&
	{ wxrecon -v run daily >out; rc=$?; test $rc = 0 || test $rc = 3; } &&
	grep -q "^run [0-9]* (daily 2026-11-01)" out
'
test_expect_code 2 'an unknown job is a usage error' 'wxrecon run nosuchjob'
test_expect_success 'a job file with an unknown step is refused with file:line' '
	printf "[job]\nsteps = fetch-bills, dance\n" >jobs/bad.job &&
	test_exit_code 2 wxrecon run bad --date 2026-11-01 2>err &&
	grep -q "bad.job:2: unknown step .dance." err
'
test_done
