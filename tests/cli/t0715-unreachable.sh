#!/bin/sh
# t0715-unreachable: with WeChat Pay out of reach (a closed 127.0.0.1 port, a
# name that does not resolve), bill fetch, sweep orders, sweep refunds and the
# nightly run each say so in exactly one line, naming the host and what to
# check (DNS, the proxy, [api] base_url), and nowhere else: not repeated on
# stderr, not copied to stdout, not once per bill, order, refund or step.
. "$(dirname "$0")/test-lib.sh"

# a closed port: config_setup with no simulator points at http://127.0.0.1:1
config_setup
mkdir jobs
cp "$SRC_ROOT/jobs/nightly.job" jobs/
WXRECON_NOW=2026-11-03T11:00:00+08:00 && export WXRECON_NOW
cat >orders.csv <<'CSV'
out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref
ORDSTALE0001,,990,CNY,NOTPAY,2026-11-03T09:00:00+08:00,,,,
ORDSTALE0002,,1990,CNY,NOTPAY,2026-11-03T08:00:00+08:00,,,,
ORDPAID00001,4200000001202611020000000001,2500,CNY,PAID,2026-11-02T09:10:00+08:00,,2026-11-02T09:15:02+08:00,,
CSV
cat >refunds.csv <<'CSV'
out_refund_no,out_trade_no,refund_id,amount_refund,state,created_at,success_at
REFPROC00001,ORDPAID00001,,500,PROCESSING,2026-11-02T10:00:00+08:00,
REFPROC00002,ORDPAID00001,,600,PROCESSING,2026-11-02T10:05:00+08:00,
CSV

host_re="'http://127\\.0\\.0\\.1:1'"
what_re="; check DNS, the proxy (https_proxy) and \\[api\\] base_url\$"
# once OUT ERR: the unreachable line appears exactly once in both together
once() {
	n=$(cat "$1" "$2" | grep -c "cannot reach WeChat Pay") &&
	if [ "$n" != 1 ]; then
		echo "'cannot reach WeChat Pay' $n times:" >&2 && cat "$1" "$2" >&2 && return 1
	fi
}

test_expect_success 'setup' '
	wxrecon init 2>/dev/null &&
	wxrecon ledger import --orders orders.csv --refunds refunds.csv >/dev/null
'

test_expect_code 1 'bill fetch, closed port: exit 1' '
	wxrecon bill fetch --date 2026-11-02 >out 2>err
'
test_expect_success 'bill fetch, closed port: one line naming the host and what to check' '
	test "$(wc -l <err)" = 1 &&
	test_grep "^wxrecon: bill fetch 2026-11-02 trade: cannot reach WeChat Pay at $host_re: .*Couldn.t connect.*$what_re" err &&
	once out err &&
	echo "2026-11-02 trade    failed" >expect && test_cmp expect out
'
test_expect_success 'bill fetch over days: still one line (the first bill stops it)' '
	{ wxrecon bill fetch --from 2026-11-01 --to 2026-11-02 >out 2>err; test $? = 1; } &&
	test "$(wc -l <err)" = 1 && once out err
'

test_expect_code 1 'bill fetch, a name that does not resolve: exit 1' '
	sed "s|^base_url = .*|base_url = https://no-such-host.invalid|" wxrecon.conf >nx.conf &&
	wxrecon -c nx.conf bill fetch --date 2026-11-02 >out 2>err
'
test_expect_success 'bill fetch, a name that does not resolve: one line naming it' '
	test "$(wc -l <err)" = 1 &&
	test_grep "^wxrecon: bill fetch 2026-11-02 trade: cannot reach WeChat Pay at .https://no-such-host\.invalid.: .*no-such-host\.invalid.*$what_re" err &&
	once out err
'

test_expect_code 1 'sweep orders: exit 1' '
	wxrecon sweep orders >out 2>err
'
test_expect_success 'sweep orders: one line, not one per order; nothing changed or counted failed' '
	test "$(wc -l <err)" = 1 &&
	test_grep "^wxrecon: sweep orders: stopped: cannot reach WeChat Pay at $host_re: .*$what_re" err &&
	once out err &&
	test_grep "^sweep orders: 2 candidates, .* 0 failed$" out &&
	test "$(db_sql var/test.db "SELECT count(*) FROM ledger_orders WHERE state = '"'NOTPAY'"'")" = 2
'

test_expect_code 1 'sweep refunds: exit 1' '
	wxrecon sweep refunds >out 2>err
'
test_expect_success 'sweep refunds: one line, not one per refund' '
	test "$(wc -l <err)" = 1 &&
	test_grep "^wxrecon: sweep refunds: stopped: cannot reach WeChat Pay at $host_re: .*$what_re" err &&
	once out err &&
	test_grep "^sweep refunds: 2 candidates, .* 0 failed$" out
'

test_expect_code 1 'run nightly (stdout not a terminal, as under cron): exit 1' '
	wxrecon run nightly --from 2026-11-01 --to 2026-11-02 >out 2>err
'
test_expect_success 'run nightly: the reason once, under the step that found it; the rest not tried' '
	once out err &&
	test_grep "^  failed    sweep-orders" out &&
	test_grep "^            sweep orders: stopped: cannot reach WeChat Pay at $host_re: .*$what_re" out &&
	test "$(grep -c "^            not tried: WeChat Pay could not be reached (step sweep-orders)$" out)" = 3 &&
	test "$(grep -c "^  skipped   reconcile .*" out)" = 2 &&
	test_grep "^  ok        report" out &&
	test "$(wc -l <err)" = 1 && test_grep "^wxrecon: run [0-9]* of .nightly.: a step failed" err
'
if command -v script >/dev/null 2>&1; then
	test_expect_success 'run nightly on a terminal: the step table says it, the live stderr not again' '
		{ script -qec "$WXRECON_BIN run nightly --from 2026-11-01 --to 2026-11-02" /dev/null >tty.out 2>&1; test $? = 1; } &&
		test_grep "^  failed    sweep-orders" tty.out &&
		test "$(grep -c "cannot reach WeChat Pay" tty.out)" = 1
	'
fi
test_expect_success 'runs shows the same: the reason once' '
	wxrecon runs --last 1 >out 2>err &&
	test "$(grep -c "cannot reach WeChat Pay" out)" = 1
'

test_done
