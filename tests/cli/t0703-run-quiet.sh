#!/bin/sh
# Quiet means quiet: under cron (stdout not a terminal) or with -q a clean run
# prints nothing; a run that exits 1 or 3 prints one summary naming each step
# that needs a person with its reason, which `runs` and --json show too.
. "$(dirname "$0")/test-lib.sh"

db() { db_sql var/test.db "$1"; }
is_empty() { if test -s "$1"; then echo "$1 is not empty:" >&2; cat "$1" >&2; return 1; fi; }

mkdir billsdir jobs reports
sim_start --bills billsdir
config_setup
cat >jobs/daily.job <<'JOB'
[job]
steps = fetch-bills, reconcile
JOB
sim_admin POST /_sim/orders '[
 {"out_trade_no":"ORD20261101A","total":2500,"trade_state":"SUCCESS","success_time":"2026-11-01T09:15:02+08:00","transaction_id":"4200000001202611010000000001"}]' >/dev/null
cat >orders.csv <<'CSV'
out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref
ORD20261101A,4200000001202611010000000001,2500,CNY,PAID,2026-11-01T09:10:00+08:00,,2026-11-01T09:15:02+08:00,,
CSV
WXRECON_NOW=2026-11-03T11:00:00+08:00 && export WXRECON_NOW
sim_admin POST /_sim/clock '{"now":"2026-11-03T11:00:00+08:00"}' >/dev/null

test_expect_success 'setup' '
	wxrecon init 2>/dev/null && wxrecon ledger import --orders orders.csv >/dev/null
'
test_expect_success 'a clean run with stdout not a terminal prints nothing at all' '
	wxrecon run daily --date 2026-11-01 >out 2>err &&
	is_empty out && is_empty err &&
	test "$(db "SELECT state FROM job_runs ORDER BY id DESC LIMIT 1")" = ok
'
test_expect_success 'with -q neither' '
	wxrecon -q run daily --date 2026-11-01 >out 2>err &&
	is_empty out && is_empty err
'
test_expect_success '--verbose shows the step table' '
	wxrecon --verbose run daily --date 2026-11-01 >out 2>err &&
	test_grep "^run [0-9]* (daily 2026-11-01): ok$" out && test_grep "ok        reconcile" out
'
test_expect_success 'a failed step: one summary with its reason, the run line on stderr' '
	printf "not a bill" | gzip >billsdir/2026-11-02.fundflow.BASIC.csv.gz &&
	echo 0000000000000000000000000000000000000000 >billsdir/2026-11-02.fundflow.BASIC.csv.gz.sha1 &&
	{ wxrecon run daily --date 2026-11-02 >out 2>err; test $? = 1; } &&
	test_grep "^run [0-9]* (daily 2026-11-02): failed$" out &&
	test_grep "^  failed    fetch-bills   2026-11-02" out &&
	test_grep "^            .*fundflow" out &&
	test_grep "^  skipped   reconcile     2026-11-02" out &&
	test_grep "^            an earlier step failed for this day$" out &&
	test "$(wc -l <err)" = 1 && test_grep "^wxrecon: run [0-9]* of .daily.: a step failed" err
'
test_expect_success 'the reason is stored with the step and shown by runs and runs --json' '
	id=$(db "SELECT max(id) FROM job_runs") &&
	db "SELECT reason FROM job_steps WHERE run_id = $id AND step = \"fetch-bills\"" >reason &&
	test_grep fundflow reason &&
	wxrecon runs --last 1 >out && test_grep "^            .*fundflow" out &&
	wxrecon runs --last 1 --json >out && test_grep "\"reason\":\"[^\"]*fundflow" out &&
	test_grep "\"reason\":\"an earlier step failed for this day\"" out
'
test_expect_success 'run --json carries the reasons' '
	{ wxrecon run daily --date 2026-11-02 --json >out 2>err; test $? = 1; } &&
	test_grep "\"state\":\"failed\",\"exit_code\":1,\"ms\":[0-9]*,\"reason\":\"[^\"]*fundflow" out
'
test_expect_success 'a run that needs a person (exit 3) says why' '
	rm billsdir/* &&
	printf "out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref\nORD20261101Z,4200000001202611010000000099,100,CNY,PAID,2026-11-01T11:00:00+08:00,,2026-11-01T11:01:00+08:00,,\n" >extra.csv &&
	wxrecon ledger import --orders extra.csv >/dev/null &&
	{ wxrecon run daily --date 2026-11-01 >out 2>err; test $? = 3; } &&
	test_grep "^  attention reconcile     2026-11-01" out &&
	test_grep "^            reconcile: 1 discrepancies are open" out &&
	test "$(wc -l <err)" = 1
'
test_expect_success 'a failed sweep step names each order that failed and why' '
	printf "[job]\nsteps = sweep-orders\n" >jobs/sweep.job &&
	sim_admin POST /_sim/orders "[{\"out_trade_no\":\"ORDSTALE0001\",\"total\":100,\"create_time\":\"2026-11-03T08:00:00+08:00\"}]" >/dev/null &&
	printf "out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref\nORDSTALE0001,,100,CNY,NOTPAY,2026-11-03T08:00:00+08:00,,,,\n" >stale.csv &&
	wxrecon ledger import --orders stale.csv >/dev/null &&
	sim_admin POST /_sim/faults "{\"match\":\"/v3/pay/transactions/out-trade-no/ORDSTALE0001\",\"kind\":\"status\",\"status\":429,\"count\":1000}" >/dev/null &&
	{ wxrecon run sweep >out 2>err; test $? = 1; } &&
	test_grep "^  failed    sweep-orders" out &&
	test_grep "^            sweep orders: 1 failed" out &&
	test_grep "^            failed ORDSTALE0001: query failed: .*429" out
'
# journald hands a service a stream and names it in JOURNAL_STREAM=DEV:INODE.
test_expect_success 'under journald each line carries its syslog priority' '
	: >jerr && js=$(stat -c %d:%i jerr) &&
	{ JOURNAL_STREAM=$js wxrecon run sweep >out 2>>jerr; test $? = 1; } &&
	test_grep "^<3>wxrecon: run [0-9]* of .sweep.: a step failed" jerr
'
test_expect_success 'detail is <7>, and a stream that is not stderr gets no prefix' '
	: >jerr && js=$(stat -c %d:%i jerr) &&
	{ JOURNAL_STREAM=$js wxrecon -v sweep orders >out 2>>jerr; test $? = 1; } &&
	test_grep "^<7>wxrecon: GET /v3/pay/transactions/out-trade-no/ORDSTALE0001" jerr &&
	test_grep "^<3>wxrecon: sweep orders: 1 failed" jerr &&
	{ JOURNAL_STREAM=$js wxrecon run sweep >out 2>err; test $? = 1; } &&
	test_grep "^wxrecon: run" err && ! grep -q "^<" err
'

test_done
