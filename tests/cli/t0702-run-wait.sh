#!/bin/sh
# wxrecon run: a lock held by a live run exits 75 (EX_TEMPFAIL) naming the
# holder; run --wait[=DUR] waits for the lock, so two overlapping scheduled
# runs both complete.
. "$(dirname "$0")/test-lib.sh"

db() { db_sql var/test.db "$1"; }

mkdir billsdir jobs reports
sim_start --bills billsdir
config_setup
cat >jobs/bills.job <<'JOB'
[job]
steps = fetch-bills
JOB
WXRECON_NOW=2026-11-03T11:00:00+08:00 && export WXRECON_NOW
sim_admin POST /_sim/clock '{"now":"2026-11-03T11:00:00+08:00"}' >/dev/null

# Starts a run whose bill download is held up for 3 s at the simulator, and
# returns once it holds the lock.
slow_run() {
	sim_admin POST /_sim/faults '{"match":"/v3/bill/tradebill","kind":"delay","ms":3000,"count":1}' >/dev/null &&
	{ wxrecon run bills --date 2026-11-01 >slow.out 2>slow.err; echo $? >slow.rc; } &
	slow=$! &&
	for i in $(seq 50); do
		test "$(db "SELECT count(*) FROM locks WHERE run_id IS NOT NULL")" = 1 && return 0
		sleep 0.1
	done
	echo "the slow run never took the lock" >&2
	return 1
}

test_expect_success 'setup' '
	wxrecon init 2>/dev/null
'
test_expect_success 'without --wait, a run that finds the lock held exits 75 naming the holder' '
	slow_run &&
	{ wxrecon run bills --date 2026-11-02 >out 2>err; rc=$?; wait $slow; test $rc = 75; } &&
	holder=$(db "SELECT id FROM job_runs WHERE job = \"bills\" ORDER BY id LIMIT 1") &&
	test_grep "^wxrecon: locked: run $holder (pid [0-9]* on .*) holds the lock since .*--wait" err &&
	test "$(cat slow.rc)" = 0 && ! test -s out
'
test_expect_success 'with --wait, two overlapping runs both complete' '
	slow_run &&
	{ wxrecon run bills --date 2026-11-02 --wait=30s >out 2>err; rc=$?; wait $slow; } &&
	test $rc = 0 && test "$(cat slow.rc)" = 0 &&
	test "$(db "SELECT group_concat(state, \",\") FROM (SELECT state FROM job_runs WHERE date_from >= \"2026-11-01\" ORDER BY id DESC LIMIT 2)")" = ok,ok &&
	test "$(db "SELECT count(*) FROM locks")" = 0
'
test_expect_success 'a --wait that runs out exits 75, saying how long it waited' '
	slow_run &&
	{ wxrecon run bills --date 2026-11-02 --wait=1s 2>err; rc=$?; wait $slow; test $rc = 75; } &&
	test_grep "gave up waiting after 1 s: locked: run" err
'
test_expect_code 2 'a bad --wait duration is a usage error' 'wxrecon run bills --date 2026-11-02 --wait=soon'
test_expect_success 'run -h documents --wait and exit 75' '
	wxrecon run -h >out && test_grep "\[--wait\[=DUR\]\]" out && test_grep "exits 75" out &&
	wxrecon help >out && test_grep "75 " out
'
test_done
