#!/bin/sh
# wxrecon worker (SPEC 10, issue 17): workers on one SQLite file drain the
# tasks of `run --enqueue`, each exactly once; a worker killed mid-task has
# its task taken over once the lease lapses; a worker stopped past its lease
# is fenced out when it wakes: its step's commit is refused.
. "$(dirname "$0")/test-lib.sh"

db() { db_sql var/test.db "$1"; }
at() {
	WXRECON_NOW=$1 && export WXRECON_NOW &&
	sim_admin POST /_sim/clock "{\"now\":\"$1\"}" >/dev/null
}
# wait_for SQL VALUE: until the query gives VALUE (at most ~20 s)
wait_for() {
	_w=0
	while [ "$(db "$1")" != "$2" ]; do
		_w=$((_w + 1))
		[ $_w -gt 200 ] && echo "# waited for $1 = $2, got $(db "$1")" && return 1
		sleep 0.1
	done
}

# child_of PID: until PID has a child (its step), at most ~10 s
child_of() {
	_c=0
	until pgrep -P "$1" >/dev/null; do
		_c=$((_c + 1))
		[ $_c -gt 100 ] && echo "# $1 started no step" && return 1
		sleep 0.1
	done
	sleep 0.3 # the step has sent its request
}

# bg_worker NAME ARGS...: a worker in the background (the binary itself, so that
# NAME.pid is its pid for kill), NAME.out/.err/.pid
bg_worker() {
	_n=$1
	shift
	"$WXRECON_BIN" worker "$@" >"$_n.out" 2>"$_n.err" &
	echo $! >"$_n.pid"
}

sim_start
config_setup
sim_admin POST /_sim/orders '[
 {"out_trade_no":"ORD20261101A","total":2500,"trade_state":"SUCCESS","success_time":"2026-11-01T09:15:02+08:00"},
 {"out_trade_no":"ORD20261109B","total":700,"trade_state":"SUCCESS","success_time":"2026-11-09T10:00:00+08:00"}]' >/dev/null
at 2026-11-10T11:00:00+08:00
mkdir jobs reports
printf '[job]\nsteps = reconcile, report\n[report]\nformats = json\n' >jobs/days.job
printf '[job]\nsteps = fetch-bills\n' >jobs/bills.job

test_expect_success 'setup' 'wxrecon init 2>/dev/null'

test_expect_success 'three workers drain a job over seven days, every task done once' '
	wxrecon run days --from 2026-11-01 --to 2026-11-07 --enqueue >/dev/null &&
	run=$(db "SELECT max(id) FROM job_runs") &&
	for w in 1 2 3; do bg_worker w$w || return 1; done &&
	wait_for "SELECT count(*) FROM tasks WHERE state = \"done\"" 8 &&
	for w in 1 2 3; do kill -TERM $(cat w$w.pid) || return 1; done &&
	for w in 1 2 3; do wait $(cat w$w.pid) || return 1; done &&
	test "$(db "SELECT count(*) FROM tasks WHERE attempts = 1 AND lease_gen = 1")" = 8 &&
	test "$(cat w1.out w2.out w3.out | grep -c ": ok ")" = 8 &&
	test "$(db "SELECT count(*) FROM job_steps WHERE run_id = $run AND state = \"ok\"")" = 8 &&
	test "$(db "SELECT count(DISTINCT seq) FROM job_steps WHERE run_id = $run")" = 8 &&
	test -f reports/days_2026-11-01_2026-11-07.json
'
test_expect_success 'the report ran after every day it covers' '
	last_day=$(db "SELECT max(finished_at) FROM tasks WHERE step = \"reconcile\"") &&
	report=$(db "SELECT finished_at FROM tasks WHERE step = \"report\"") &&
	test "$(db "SELECT count(*) FROM job_steps s1, job_steps s2 WHERE s1.step = \"report\" AND s2.step = \"reconcile\" AND s2.id > s1.id")" = 0 &&
	test "$last_day" \< "$report" -o "$last_day" = "$report"
'
test_expect_success '--once with nothing ready says so and exits 0' '
	wxrecon worker --once >out &&
	test "$(cat out)" = "no task is ready"
'
test_expect_success 'a live worker renews its lease while its step runs' '
	sim_admin POST /_sim/faults "{\"match\":\"tradebill\",\"kind\":\"delay\",\"ms\":3000,\"count\":1}" >/dev/null &&
	wxrecon run bills --date 2026-11-05 --enqueue >/dev/null &&
	id=$(db "SELECT id FROM tasks WHERE job = \"bills\"") &&
	bg_worker r --once --lease 1s &&
	wait_for "SELECT state FROM tasks WHERE id = $id" running &&
	sleep 2 &&
	wxrecon worker --once --lease 1s >o.out &&
	test "$(cat o.out)" = "no task is ready" &&
	{ wait $(cat r.pid); rc=$?; } && test "$rc" = 0 &&
	test "$(db "SELECT state || \" \" || attempts || \" \" || lease_gen FROM tasks WHERE id = $id")" = "done 1 1"
'
test_expect_success 'a worker killed mid-task: its task is taken over when the lease lapses' '
	sim_admin POST /_sim/faults "{\"match\":\"tradebill\",\"kind\":\"delay\",\"ms\":4000,\"count\":1}" >/dev/null &&
	wxrecon run bills --date 2026-11-01 --enqueue >/dev/null &&
	id=$(db "SELECT id FROM tasks WHERE job = \"bills\" AND date = \"2026-11-01\"") &&
	bg_worker k --lease 2s && pid=$(cat k.pid) &&
	wait_for "SELECT state FROM tasks WHERE id = $id" running &&
	child_of $pid && child=$(pgrep -P $pid) &&
	kill -9 $pid && { wait $pid; true; } &&
	test "$(db "SELECT lease_gen FROM tasks WHERE id = $id")" = 1 &&
	sleep 5 &&
	wxrecon worker --once --lease 2s >t.out 2>t.err &&
	grep -q "^wxrecon: warning: task $id (.*): its lease had lapsed; taken over$" t.err &&
	grep -q "^task $id 1900000001/bills/2026-11-01/fetch-bills: ok" t.out &&
	test "$(db "SELECT state || \" \" || attempts || \" \" || lease_gen FROM tasks WHERE id = $id")" = "done 2 2" &&
	test "$(db "SELECT count(*) FROM bill_files WHERE bill_date = \"2026-11-01\" AND kind = \"trade\"")" = 1 &&
	# the orphaned step of the killed worker holds the run lock while it lives
	while kill -0 $child 2>/dev/null; do sleep 0.1; done
'
test_expect_success 'a worker stopped past its lease is fenced out when it wakes' '
	# both fetches of the day wait 3 s for the simulator: the stopped
	# one wakes while the new holder waits, and tries to store its bill
	sim_admin POST /_sim/faults "{\"match\":\"tradebill\",\"kind\":\"delay\",\"ms\":3000,\"count\":2}" >/dev/null &&
	wxrecon run bills --date 2026-11-09 --enqueue >/dev/null &&
	id=$(db "SELECT id FROM tasks WHERE job = \"bills\" AND date = \"2026-11-09\"") &&
	bg_worker s --once --lease 2s && pid=$(cat s.pid) &&
	wait_for "SELECT state FROM tasks WHERE id = $id" running &&
	child_of $pid && child=$(pgrep -P $pid) &&
	kill -STOP $pid $child &&
	sleep 3 &&
	bg_worker n --once --lease 30s &&
	wait_for "SELECT lease_gen FROM tasks WHERE id = $id" 2 &&
	kill -CONT $child $pid &&
	{ wait $pid; rc=$?; } && test "$rc" = 0 &&
	{ wait $(cat n.pid); rc=$?; } && test "$rc" = 0 &&
	grep -q "^task $id 1900000001/bills/2026-11-09/fetch-bills: lost$" s.out &&
	grep -q "another worker took it over" s.err &&
	grep -q "^task $id .*: ok" n.out &&
	test "$(db "SELECT state || \" \" || lease_gen FROM tasks WHERE id = $id")" = "done 2" &&
	test "$(db "SELECT exit_code FROM job_steps WHERE step = \"fetch-bills\" AND date = \"2026-11-09\" AND state = \"failed\"")" = 75 &&
	db "SELECT reason FROM job_steps WHERE date = \"2026-11-09\" AND state = \"failed\"" | grep -q "generation 1) is no longer the task.s: its lease lapsed and another worker took it over" &&
	test "$(db "SELECT count(*) FROM job_steps WHERE date = \"2026-11-09\" AND state = \"ok\"")" = 1 &&
	test "$(db "SELECT count(*) FROM bill_files WHERE bill_date = \"2026-11-09\" AND kind = \"trade\"")" = 1
'
test_done
