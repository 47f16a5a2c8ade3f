#!/bin/sh
# run JOB --enqueue (SPEC 10, issue 17): one task per (merchant, date, step),
# a day's steps in the job's order and a report after its days, through
# task_deps; queuing the same job and dates twice adds nothing.
. "$(dirname "$0")/test-lib.sh"

db() { db_sql var/test.db "$1"; }
# the keys a task comes after, sorted, one line
after_of() {
	db "SELECT a.task_key FROM task_deps d JOIN tasks t ON t.id = d.task_id JOIN tasks a ON a.id = d.after_id WHERE t.task_key = \"$1\" ORDER BY a.task_key" | tr '\n' ' '
}

merchants_config_setup
mkdir jobs
printf '[job]\nsteps = sweep-orders, fetch-bills, reconcile, report\n' >jobs/nightly.job

test_expect_success 'setup' '
	wxrecon init 2>/dev/null
'
test_expect_success 'enqueue records one task per merchant, date and step, runs nothing' '
	wxrecon run nightly --from 2026-11-01 --to 2026-11-03 --enqueue >out &&
	run=$(db "SELECT max(id) FROM job_runs") &&
	test "$(cat out)" = "run $run: queued 16 tasks of '"'"'nightly'"'"' for 2 merchants (16 new); '"'"'wxrecon worker'"'"' does them" &&
	test "$(db "SELECT count(*) FROM tasks WHERE run_id = $run")" = 16 &&
	test "$(db "SELECT count(*) FROM job_steps")" = 0 &&
	test "$(db "SELECT count(*) FROM bill_files")" = 0 &&
	for m in 1900000001 1900000002; do
		test "$(db "SELECT count(*) FROM tasks WHERE mchid = \"$m\" AND step = \"reconcile\"")" = 3 &&
		test "$(db "SELECT count(*) FROM tasks WHERE mchid = \"$m\" AND step = \"report\" AND date IS NULL")" = 1 || return 1
	done &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"run.enqueue\" AND subject = \"nightly\"")" = 1
'
test_expect_success 'the order: a day after its step before; the report after every day' '
	k=1900000002/nightly &&
	test "$(after_of $k/2026-11-02/fetch-bills)" = "$k/2026-11-01..2026-11-03/sweep-orders " &&
	test "$(after_of $k/2026-11-02/reconcile)" = "$k/2026-11-02/fetch-bills " &&
	test "$(after_of $k/2026-11-01..2026-11-03/report)" = "$k/2026-11-01/reconcile $k/2026-11-02/reconcile $k/2026-11-03/reconcile " &&
	test -z "$(after_of $k/2026-11-01..2026-11-03/sweep-orders)" &&
	test "$(db "SELECT count(*) FROM task_deps")" = 18
'
test_expect_success 'only the first step is ready; the others wait for theirs' '
	test "$(db "SELECT group_concat(step || \":\" || state || \":\" || pending, \" \") FROM (SELECT DISTINCT step, state, pending FROM tasks ORDER BY step) AS r")" = "fetch-bills:blocked:1 reconcile:blocked:1 report:blocked:3 sweep-orders:ready:0"
'
test_expect_success 'queuing the same job and dates again adds nothing and records no run' '
	runs=$(db "SELECT count(*) FROM job_runs") &&
	run=$(db "SELECT max(id) FROM job_runs") &&
	wxrecon run nightly --from 2026-11-01 --to 2026-11-03 --enqueue --json >out &&
	grep -q "^{\"run_id\":$run,\"job\":\"nightly\",\"from\":\"2026-11-01\",\"to\":\"2026-11-03\",\"merchants\":2,\"tasks\":16,\"new\":0}$" out &&
	test "$(db "SELECT count(*) FROM tasks")" = 16 &&
	test "$(db "SELECT count(*) FROM job_runs")" = "$runs" &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"run.enqueue\"")" = 1 &&
	wxrecon run nightly --from 2026-11-01 --to 2026-11-03 --enqueue >out &&
	test "$(cat out)" = "run $run: the 16 tasks of '"'"'nightly'"'"' were queued already (0 new)"
'
test_expect_success 'an overlapping range adds only its new days, steps over it and their order' '
	wxrecon run nightly --from 2026-11-03 --to 2026-11-04 --enqueue --merchant shop-a --json >out &&
	grep -q "\"merchants\":1,\"tasks\":6,\"new\":4}" out &&
	k=1900000001/nightly &&
	test "$(after_of $k/2026-11-03..2026-11-04/report)" = "$k/2026-11-03/reconcile $k/2026-11-04/reconcile " &&
	test "$(db "SELECT count(*) FROM tasks WHERE mchid = \"1900000002\"")" = 8 &&
	test "$(db "SELECT mchid FROM job_runs WHERE id = (SELECT max(id) FROM job_runs)")" = 1900000001
'
test_expect_success 'with [merchant] alone the tasks are its mchid'"'"'s' '
	wxrecon -c one.conf run nightly --date 2026-11-09 --enqueue >out &&
	test "$(db "SELECT count(*) FROM tasks WHERE task_key LIKE \"1900000001/nightly/2026-11-09%\"")" = 4
'
test_expect_success '--enqueue refuses what belongs to a run here, and needs the dates of a per-day step' '
	test_exit_code 2 wxrecon run nightly --date 2026-11-01 --enqueue --dry-run 2>err &&
	grep -q "^wxrecon: --enqueue leaves the run to the workers: --dry-run does not go with it" err &&
	printf "[job]\nsteps = reconcile\n" >jobs/nodates.job &&
	test_exit_code 2 wxrecon run nodates --enqueue 2>err &&
	grep -q "job .nodates. has per-day steps: give DATES" err
'
test_expect_success 'tasks lists what was queued' '
	wxrecon tasks --state ready --merchant shop-b >out &&
	test "$(grep -c "tries 0/3" out)" = 1 &&
	grep -q " 1900000002 nightly sweep-orders -  tries 0/3$" out
'
test_done
