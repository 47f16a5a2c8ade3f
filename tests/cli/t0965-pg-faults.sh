#!/bin/sh
# t0965-pg-faults: faults of a PostgreSQL store (issue 16), on a server of the
# test's own (scripts/pg-tmp.sh: it is restarted and its backends terminated):
#   a. the server restarted (fast, then immediate) in the middle of a
#      200,000-row bill import: one line, exit 1, nothing of the bill stored;
#      the next import completes, taking over the lock the dead one left;
#   b. the sweep's connection terminated while a close is in flight at the
#      simulator: exit 1, the last line saying so (warnings before it: the
#      call's audit entry could not be written); the next sweeps settle the
#      close by a query, and the simulator's journal has each close once;
#   c. a second `run` while the first holds the lock: exit 75, the holder named;
#   d. a statement timeout (PGOPTIONS), with and without a lock held by psql:
#      one line, exit 1, nothing stored.
# PostgreSQL only (WXRECON_TEST_DB=pg, as make test-pg runs it).
. "$(dirname "$0")/test-lib.sh"
. "$FIXTURES/sweep/lib-sweep.sh"

if ! test_db_is_pg; then
	test_skip 'faults of a PostgreSQL store' \
		'PostgreSQL only: make test-pg (WXRECON_TEST_DB=pg) runs it on a server of its own'
	test_done
fi

# ---- a server of our own -------------------------------------------------
SRV=$(mktemp -d "${TMPDIR:-/tmp}/wxrecon-pg.XXXXXX") || exit 1
test_when_finished "sh '$SRC_ROOT/scripts/pg-tmp.sh' stop '$SRV'; rm -rf '$SRV'"
if ! sh "$SRC_ROOT/scripts/pg-tmp.sh" start "$SRV" >srv.env 2>srv.err; then
	echo "Bail out! the test's own PostgreSQL did not start: $(cat srv.err)"
	exit 1
fi
PORT=$(sed -n 's/^WXRECON_TEST_PGPORT=//p' srv.env)
PGB=$(sed -n 's/^WXRECON_TEST_PGBIN=//p' srv.env)
q() { # DB SQL: one value a line
	"$PGB/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$SRV" -p "$PORT" -U postgres -d "$1" -c "$2"
}
restart() { sh "$SRC_ROOT/scripts/pg-tmp.sh" restart "$SRV" "$1"; }
# conf NAME: NAME.conf, the test config with its store the database wxf_NAME
conf() {
	q postgres "CREATE DATABASE wxf_$1" &&
	sed -e "s#^base_url = .*#base_url = $SIM_URL#" \
		-e "s#^retries = .*#retries = 2\nretry_base_ms = 5#" \
		-e "s#^path = .*#url = $(sed_repl "postgresql:///wxf_$1?host=$SRV&port=$PORT&user=postgres")#" \
		-e "s#^archive_dir = .*#archive_dir = var/$1/bills#" \
		-e "s#^dir = jobs\$#dir = $SRC_ROOT/jobs#" \
		"$FIXTURES/config/good.conf" >"$1.conf" &&
	printf '[audit]\nkey_file = %s.audit.key\n' "$1" >>"$1.conf" &&
	"$WXRECON_BIN" -c "$1.conf" init >/dev/null 2>&1
}
wx() { "$WXRECON_BIN" "$@"; }
# one_line FILE WHAT: FILE is one line, wxrecon's error, saying WHAT
one_line() {
	test "$(wc -l <"$1")" = 1 && grep -q "^wxrecon: .*$2" "$1"
}
backends() { # DB: how many connections the database has (psql's own is to postgres)
	q postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = '$1'"
}

sim_start || { echo "Bail out! no simulator"; exit 1; }
sim_admin POST /_sim/clock "{\"now\":\"$NOW\"}" >/dev/null
D=2026-11-01
BILL=gen/$D.trade.ALL.csv.gz

# ---- a. the server restarted mid-import --------------------------------------
test_expect_success 'a: a 200,000-row day and an empty store' '
	wxrecon_sim generate --rows 200000 --date $D --out gen >/dev/null &&
	conf a &&
	test "$(q wxf_a "SELECT count(*) FROM bill_files")" = 0
'

for mode in fast immediate; do
	test_expect_success "a: the server restarted ($mode) mid-import: one line, exit 1" '
		rm -f a.rc &&
		{ { wx -c a.conf bill import $BILL --date $D --kind trade >a-'$mode'.out 2>a-'$mode'.err; echo $? >a.rc; } & } &&
		wait_for "test \"\$(q postgres \"SELECT count(*) FROM pg_stat_activity WHERE datname = '"'wxf_a'"' AND query LIKE '"'COPY bill_trades%'"'\")\" -gt 0" &&
		sleep 0.3 && restart '$mode' &&
		wait_for "test -s a.rc" &&
		test "$(cat a.rc)" = 1 &&
		one_line a-'$mode'.err "lost the connection to the PostgreSQL server .*: check that it is up and run the command again$"
	'
	test_expect_success "a: nothing of the bill was stored ($mode)" '
		test "$(q wxf_a "SELECT count(*) FROM bill_files")" = 0 &&
		test "$(q wxf_a "SELECT count(*) FROM bill_trades")" = 0 &&
		test "$(q wxf_a "SELECT count(*) FROM bill_rejects")" = 0 &&
		test "$(q wxf_a "SELECT count(*) FROM audit_log WHERE event LIKE '"'bill.%'"'")" = 0
	'
done

test_expect_success 'a: the next import completes, taking over the dead one'"'"'s lock' '
	wx -c a.conf bill import $BILL --date $D --kind trade >a.out 2>a.err &&
	test_grep "stored 200000 rows" a.out &&
	test "$(q wxf_a "SELECT count(*) FROM bill_trades WHERE bill_date = '"'$D'"'")" = 200000 &&
	test "$(q wxf_a "SELECT status || '"' '"' || rows FROM bill_files")" = "ok 200000" &&
	test "$(q wxf_a "SELECT count(*) FROM audit_log WHERE event = '"'lock.takeover'"'")" -ge 1 &&
	wx -c a.conf audit --verify >a.verify 2>&1
'

# ---- b. the connection dropped mid-sweep --------------------------------------
OHDR=out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref
closes() { calls "POST $ORDER_PATH/$1/close"; }
action() { q wxf_b "SELECT state FROM actions WHERE kind = 'ORDER_CLOSE' AND target = '$1'"; }
test_expect_success 'b: two stale unpaid orders' '
	conf b &&
	seed_orders "[{\"out_trade_no\":\"ORDPGF1\",\"total\":100,\"create_time\":\"2026-11-02T08:00:00+08:00\"},
		{\"out_trade_no\":\"ORDPGF2\",\"total\":200,\"create_time\":\"2026-11-02T08:01:00+08:00\"}]" &&
	printf "$OHDR\nORDPGF1,,100,CNY,NOTPAY,2026-11-02T08:00:00+08:00,,,,\nORDPGF2,,200,CNY,NOTPAY,2026-11-02T08:01:00+08:00,,,,\n" >o.csv &&
	wx -c b.conf ledger import --orders o.csv >/dev/null &&
	sim_admin DELETE /_sim/journal >/dev/null
'
test_expect_success 'b: the connection terminated while a close is in flight: exit 1, saying so' '
	fault "{\"match\":\"close\",\"kind\":\"delay\",\"ms\":2000}" &&
	rm -f b.rc &&
	{ { wx -c b.conf sweep orders >b.out 2>b.err; echo $? >b.rc; } & } &&
	wait_for "test \"\$(action ORDPGF1)\" = sent" &&
	test "$(q postgres "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '"'wxf_b'"') AS t")" -ge 1 &&
	wait_for "test -s b.rc" &&
	test "$(cat b.rc)" = 1 &&
	tail -n 1 b.err | grep -q "^wxrecon: sweep orders: .*lost the connection to the PostgreSQL server" &&
	! grep -v "lost the connection to the PostgreSQL server" b.err
'
test_expect_success 'b: the close landed at WeChat Pay; the intent is left sent, the other not begun' '
	wait_for "test \"\$(closes ORDPGF1)\" = 1" &&
	test "$(action ORDPGF1)" = sent &&
	test "$(closes ORDPGF2)" = 0 &&
	test "$(q wxf_b "SELECT state FROM ledger_orders WHERE out_trade_no = '"'ORDPGF1'"'")" = NOTPAY
'
test_expect_success 'b: the next sweep closes the other, leaves the one maybe in flight' '
	wx -c b.conf sweep orders >b2.out 2>b2.err &&
	test "$(action ORDPGF2)" = done &&
	test "$(action ORDPGF1)" = sent &&
	test_grep "ORDER_CLOSE action [0-9]* was sent [0-9]* s ago and its call may still be in flight" b2.out
'
test_expect_success 'b: once that window is past, a sweep settles it by a query; each close once' '
	q wxf_b "UPDATE actions SET sent_ts = sent_ts - 3600 WHERE state = '"'sent'"'" &&
	wx -c b.conf sweep orders >b3.out 2>b3.err &&
	test "$(action ORDPGF1)" = done &&
	test_grep "1 settled from earlier runs" b3.out &&
	test "$(q wxf_b "SELECT count(*) FROM ledger_orders WHERE state = '"'CLOSED'"'")" = 2 &&
	test "$(closes ORDPGF1)" = 1 &&
	test "$(closes ORDPGF2)" = 1 &&
	test "$(journal | grep -c "^POST ")" = 2 &&
	wx -c b.conf audit --verify >b.verify 2>&1
'

# ---- c. a second run while the first holds the lock -----------------------
test_expect_success 'c: a second run while the first holds the lock: exit 75, the holder named' '
	conf c &&
	seed_orders "{\"out_trade_no\":\"ORDPGF3\",\"total\":300,\"create_time\":\"2026-11-02T08:02:00+08:00\"}" &&
	printf "$OHDR\nORDPGF3,,300,CNY,NOTPAY,2026-11-02T08:02:00+08:00,,,,\n" >o3.csv &&
	wx -c c.conf ledger import --orders o3.csv >/dev/null &&
	fault "{\"match\":\"close\",\"kind\":\"delay\",\"ms\":2000}" &&
	rm -f c1.rc &&
	{ { wx -c c.conf run sweep >c1.out 2>c1.err; echo $? >c1.rc; } & } &&
	wait_for "test \"\$(q wxf_c \"SELECT state FROM actions WHERE target = '"'ORDPGF3'"'\")\" = sent" &&
	{ wx -c c.conf run sweep >c2.out 2>c2.err; rc=$?; } &&
	test $rc = 75 &&
	test "$(wc -l <c2.err)" = 1 &&
	grep -q "locked: run 1 (pid [0-9]* on $(hostname)) holds the lock since " c2.err &&
	wait_for "test -s c1.rc" &&
	test "$(cat c1.rc)" = 0 &&
	test "$(q wxf_c "SELECT count(*) FROM job_runs")" = 1 &&
	test "$(closes ORDPGF3)" = 1
'

# ---- d. a statement timeout ---------------------------------------------------
test_expect_success 'd: a statement timeout of 1 ms: one line, exit 1, nothing stored' '
	conf d &&
	{ PGOPTIONS="-c statement_timeout=1ms" wx -c d.conf bill import $BILL --date $D --kind trade >d.out 2>d.err; rc=$?; } &&
	test $rc = 1 &&
	one_line d.err "canceling statement due to statement timeout" &&
	test "$(q wxf_d "SELECT count(*) FROM bill_files")" = 0 &&
	test "$(q wxf_d "SELECT count(*) FROM bill_trades")" = 0
'
test_expect_success 'd: blocked by a lock psql holds, past the statement timeout: the same' '
	{ "$PGB/psql" -X -q -h "$SRV" -p "$PORT" -U postgres -d wxf_d \
		-c "BEGIN; LOCK TABLE bill_trades IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT;" >psql.out 2>&1 & } &&
	psql_pid=$! &&
	wait_for "test \"\$(q wxf_d \"SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = '"'bill_trades'"' AND l.mode = '"'AccessExclusiveLock'"' AND l.granted\")\" = 1" &&
	{ PGOPTIONS="-c statement_timeout=500" wx -c d.conf bill import $BILL --date $D --kind trade >d2.out 2>d2.err; rc=$?; } &&
	wait $psql_pid &&
	test $rc = 1 &&
	one_line d2.err "canceling statement due to statement timeout" &&
	test "$(q wxf_d "SELECT count(*) FROM bill_files")" = 0 &&
	test "$(q wxf_d "SELECT count(*) FROM bill_trades")" = 0
'
test_done
