#!/bin/sh
# wxrecon tasks (SPEC 10, issue 17): the workers' queue as a person sees it,
# and `tasks retry ID` putting a held task back to ready, audited. The rows
# stand as `run --enqueue` and the workers leave them.
. "$(dirname "$0")/test-lib.sh"

db() { db_sql db.sqlite "$1"; }

test_expect_success 'setup: tasks in each state' '
	wxrecon --db db.sqlite init 2>/dev/null &&
	db "INSERT INTO tasks (task_key, mchid, job, step, date, state, pending, attempts, max_attempts, not_before, lease_gen, lease_owner, lease_until, last_error, created_at) VALUES
	 (\"1900000001/n/2026-11-01/fetch-bills\", \"1900000001\", \"n\", \"fetch-bills\", \"2026-11-01\", \"done\", 0, 1, 3, 0, 1, NULL, NULL, NULL, \"x\"),
	 (\"1900000001/n/2026-11-01/reconcile\", \"1900000001\", \"n\", \"reconcile\", \"2026-11-01\", \"held\", 0, 3, 3, 0, 3, NULL, NULL, \"exit 1: bill missing\", \"x\"),
	 (\"1900000002/n/2026-11-01/fetch-bills\", \"1900000002\", \"n\", \"fetch-bills\", \"2026-11-01\", \"running\", 0, 1, 3, 0, 1, \"host:42\", 4102444800, NULL, \"x\"),
	 (\"1900000002/n/2026-11-01/reconcile\", \"1900000002\", \"n\", \"reconcile\", \"2026-11-01\", \"blocked\", 1, 0, 3, 0, 0, NULL, NULL, NULL, \"x\"),
	 (\"1900000002/n/-/report\", \"1900000002\", \"n\", \"report\", NULL, \"ready\", 0, 1, 3, 4102444800, 1, NULL, NULL, \"exit 1: disk full\", \"x\")"
'
test_expect_success 'tasks lists every task by id with its state, merchant, step and tries' '
	wxrecon --db db.sqlite tasks >out &&
	test "$(grep -c "tries" out)" = 5 &&
	grep -q "^     1  done     1900000001 n fetch-bills 2026-11-01  tries 1/3$" out &&
	grep -q "^     2  held     1900000001 n reconcile 2026-11-01  tries 3/3$" out &&
	grep -q "^          last error: exit 1: bill missing$" out &&
	grep -q "^     3  running  1900000002 n fetch-bills 2026-11-01  tries 1/3  by host:42 until 2100-01-01T08:00:00+08:00$" out &&
	grep -q "^     4  blocked  1900000002 n reconcile 2026-11-01  tries 0/3  after 1 more$" out &&
	grep -q "^     5  ready    1900000002 n report -  tries 1/3  not before 2100-01-01T08:00:00+08:00$" out
'
test_expect_success '--state S lists only those; --json has the fields' '
	wxrecon --db db.sqlite tasks --state held >out &&
	test "$(grep -c "tries" out)" = 1 && grep -q "^     2  held " out &&
	wxrecon --db db.sqlite tasks --state running --json >out.json &&
	grep -q "^\[{\"id\":3,\"key\":\"1900000002/n/2026-11-01/fetch-bills\",\"mchid\":\"1900000002\",.*\"state\":\"running\".*\"lease_owner\":\"host:42\",\"lease_until\":\"2100-01-01T08:00:00+08:00\"" out.json &&
	test "$(grep -o "\"id\":" out.json | wc -l)" = 1 &&
	wxrecon --db db.sqlite tasks --state done --json >out.json &&
	grep -q "\"last_error\":null" out.json
'
test_expect_success 'with several merchants, --merchant lists only theirs' '
	printf "[merchant \"shop-a\"]\nmchid = 1900000001\n[merchant \"shop-b\"]\nmchid = 1900000002\n[database]\n$(test_config_db db.sqlite)\n" >two.conf &&
	wxrecon -c two.conf tasks >out &&
	test "$(grep -c "tries" out)" = 5 &&
	wxrecon -c two.conf tasks --merchant shop-b >out &&
	test "$(grep -c "tries" out)" = 3 &&
	test "$(grep -c " 1900000002 " out)" = 3 &&
	wxrecon -c two.conf tasks --merchant 1900000001 --merchant shop-b >out &&
	test "$(grep -c "tries" out)" = 5
'
test_expect_success 'a bad state is a usage error naming the states' '
	test_exit_code 2 wxrecon --db db.sqlite tasks --state stuck 2>err &&
	grep -q "^wxrecon: --state: no state .stuck. (blocked, ready, running, done, held) (usage: wxrecon tasks" err
'
test_expect_success 'tasks retry ID puts a held task back to ready, tries from 0, audited' '
	wxrecon --db db.sqlite tasks retry 2 >out &&
	grep -q "^task 2 (1900000001/n/2026-11-01/reconcile) is ready again" out &&
	test "$(db "SELECT state || \" \" || attempts || \" \" || not_before FROM tasks WHERE id = 2")" = "ready 0 0" &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"task.retry\" AND subject = \"1900000001/n/2026-11-01/reconcile\" AND detail LIKE \"%\"\"attempts\"\":3%bill missing%\"")" = 1 &&
	wxrecon --db db.sqlite audit --verify >/dev/null
'
test_expect_success 'only a held task is retried; an unknown one is named' '
	test_exit_code 1 wxrecon --db db.sqlite tasks retry 3 2>err &&
	grep -q "^wxrecon: tasks retry 3: task 3 is running, not held: only a held task is retried$" err &&
	test "$(db "SELECT state FROM tasks WHERE id = 3")" = running &&
	{ wxrecon --db db.sqlite tasks retry 99 2>err; rc=$?; } &&
	test "$rc" != 0 && grep -q "no task 99 (list them: wxrecon tasks)" err &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"task.retry\"")" = 1 &&
	test_exit_code 2 wxrecon --db db.sqlite tasks retry x 2>err &&
	grep -q "bad task id .x." err &&
	test_exit_code 2 wxrecon --db db.sqlite tasks retry 2>err &&
	grep -q "which task?" err
'
test_expect_success 'help tasks says what it does' '
	wxrecon help tasks >out &&
	grep -q "^usage: wxrecon tasks \[--state S\] | tasks retry ID$" out &&
	grep -q "held" out
'
test_expect_success 'an empty queue says so' '
	wxrecon --db db.sqlite tasks --state blocked >out && grep -q "tries" out &&
	db "DELETE FROM tasks WHERE state = \"blocked\"" &&
	wxrecon --db db.sqlite tasks --state blocked >out &&
	test "$(cat out)" = "no tasks blocked"
'
test_done
