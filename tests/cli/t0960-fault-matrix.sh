#!/bin/sh
# The fault matrix (SPEC 7): the nightly job against wxrecon-sim with one fault
# at a time. For each: the exit code and message SPEC promises, no duplicate
# money-moving action, no partial bill, and a clean run afterwards that
# completes everything.
. "$(dirname "$0")/test-lib.sh"

D=2026-11-01
NOW=2026-11-02T11:00:00+08:00
export WXRECON_NOW=$NOW
sim_start
keys_setup

# fresh NAME: a new merchant directory (config, database, jobs) and the
# simulator reset to the same day: one paid order, two stale unpaid ones, a
# refund WeChat Pay has finished.
fresh() {
	sim_admin POST /_sim/reset >/dev/null &&
	sim_admin POST /_sim/clock "{\"now\":\"$NOW\"}" >/dev/null &&
	sim_admin DELETE /_sim/faults >/dev/null &&
	sim_admin DELETE /_sim/journal >/dev/null &&
	sim_admin POST /_sim/orders '[
	 {"out_trade_no":"ORDPAID0001","total":5000,"trade_state":"SUCCESS","create_time":"2026-11-01T09:59:00+08:00","success_time":"2026-11-01T10:00:00+08:00","transaction_id":"4200000001202611010000000001"},
	 {"out_trade_no":"ORDSTALE001","total":1200,"create_time":"2026-11-01T09:00:00+08:00"},
	 {"out_trade_no":"ORDSTALE002","total":3400,"create_time":"2026-11-01T09:05:00+08:00"}]' >/dev/null &&
	sim_admin POST /_sim/refunds '{"out_refund_no":"RFPROC0001","out_trade_no":"ORDPAID0001","refund":1000,"create_time":"2026-11-01T12:00:00+08:00","refund_id":"50300000012026110100000000001"}' >/dev/null &&
	sim_admin POST /_sim/refunds/RFPROC0001/status '{"status":"SUCCESS","success_time":"2026-11-01T12:01:00+08:00"}' >/dev/null &&
	rm -rf "$TRASH/$1" && mkdir "$TRASH/$1" && cd "$TRASH/$1" &&
	ln -s "$TRASH/keys" keys && mkdir jobs && cp "$SRC_ROOT/jobs/nightly.job" jobs/ &&
	dbline=$(test_config_db var/test.db) && dbline=$(sed_repl "$dbline") &&
	sed -e "s|^base_url = .*|base_url = $SIM_URL|" -e "s|^timeout_s = .*|timeout_s = 1|" \
		-e "s|^retries = .*|retries = 2\nretry_base_ms = 10|" -e "s#^path = .*#$dbline#" \
		"$FIXTURES/config/good.conf" >wxrecon.conf &&
	wxrecon init 2>/dev/null &&
	printf "%s\n" "out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref" \
		"ORDPAID0001,4200000001202611010000000001,5000,CNY,PAID,2026-11-01T09:59:00+08:00,,2026-11-01T10:00:00+08:00,," \
		"ORDSTALE001,,1200,CNY,NOTPAY,2026-11-01T09:00:00+08:00,,,," \
		"ORDSTALE002,,3400,CNY,NOTPAY,2026-11-01T09:05:00+08:00,,,," >o.csv &&
	printf "%s\n" "out_refund_no,out_trade_no,refund_id,amount_refund,state,created_at,success_at" \
		"RFPROC0001,ORDPAID0001,50300000012026110100000000001,1000,PROCESSING,2026-11-01T12:00:00+08:00," >r.csv &&
	wxrecon ledger import --orders o.csv --refunds r.csv >/dev/null
}
fault() { sim_admin POST /_sim/faults "$1" >/dev/null; }
db() { db_sql var/test.db "$1"; }
nightly() { wxrecon run nightly --date $D; }
# Every money-moving action at most once, and WeChat Pay closed each order at most once for real.
no_duplicates() {
	test "$(db "SELECT count(*) FROM (SELECT kind, target FROM actions WHERE state = \"done\" GROUP BY kind, target HAVING count(*) > 1) AS d")" = 0 &&
	test "$(db "SELECT count(*) FROM actions WHERE kind IN (\"ORDER_CLOSE\") AND state = \"done\"")" -le 2 &&
	test "$(sim_admin GET /_sim/state | grep -o "\"out_refund_no\":\"[^\"]*\"" | sort | uniq -d | wc -l)" = 0
}
# A later run: sent actions an hour older, past the window in which a crashed
# run's call may still be in flight.
age_sent() { db "UPDATE actions SET sent_ts = sent_ts - 3600 WHERE state = \"sent\""; }
# A clean (later) run completes everything: both stale orders closed, the refund synced, both bills, reconcile clean.
clean_run_completes() {
	sim_admin DELETE /_sim/faults >/dev/null && age_sent &&
	nightly >clean.out 2>clean.err; rc=$?
	if [ $rc != 0 ]; then cat clean.out clean.err; return 1; fi
	test "$(db "SELECT group_concat(state) FROM (SELECT state FROM ledger_orders ORDER BY out_trade_no) AS o")" = "PARTIAL_REFUNDED,CLOSED,CLOSED" &&
	test "$(db "SELECT state FROM ledger_refunds")" = SUCCESS &&
	test "$(db "SELECT count(*) FROM bill_files WHERE bill_date = \"$D\" AND status = \"ok\"")" = 2 &&
	test "$(db "SELECT count(*) FROM discrepancies WHERE status = \"open\"")" = 0 &&
	no_duplicates
}

test_expect_success 'no fault: the nightly run is clean (exit 0)' '
	fresh base && nightly >out 2>err && clean_run_completes
'
test_expect_success '500 on queries: retried, the run is clean' '
	fresh f500 && fault "{\"match\":\"query\",\"kind\":\"status\",\"status\":500,\"count\":2}" &&
	nightly >out 2>err && no_duplicates && clean_run_completes
'
test_expect_success '429 FREQUENCY_LIMITED on close: backed off, the run is clean' '
	fresh f429 && fault "{\"match\":\"close\",\"kind\":\"status\",\"status\":429,\"count\":2}" &&
	nightly >out 2>err && no_duplicates && clean_run_completes
'
test_expect_success 'a timeout on the bill apply: retried, the run is clean' '
	fresh ftimeout && fault "{\"match\":\"tradebill\",\"kind\":\"delay\",\"ms\":1800,\"count\":1}" &&
	nightly >out 2>err && no_duplicates && clean_run_completes
'
test_expect_success 'a bad signature on close: the sweep stops all money moving (exit 1), then completes' '
	fresh fsig && fault "{\"match\":\"close\",\"kind\":\"bad_signature\",\"count\":1}" &&
	test_exit_code 1 nightly >out 2>err &&
	grep -q "failed    sweep-orders" out &&
	test "$(sim_admin GET /_sim/journal | grep -o "\"path\":\"[^\"]*/close\"" | wc -l)" = 1 &&
	no_duplicates && clean_run_completes
'
test_expect_success 'a signature probe on a query and on a close: not poisoned, settled by a query, exit 0' '
	fresh fprobe &&
	fault "{\"match\":\"query\",\"kind\":\"bad_signature\",\"probe\":true,\"count\":1}" &&
	fault "{\"match\":\"close\",\"kind\":\"bad_signature\",\"probe\":true,\"count\":1}" &&
	{ nightly >out 2>err; rc=$?; cat out err >&2; } && test $rc = 0 &&
	test "$(sim_admin GET /_sim/journal | grep -o "\"path\":\"[^\"]*/close\"" | wc -l)" = 2 &&
	test "$(db "SELECT group_concat(state) FROM (SELECT state FROM actions WHERE kind = \"ORDER_CLOSE\" ORDER BY target) AS a")" = "done,done" &&
	no_duplicates && clean_run_completes
'
test_expect_success 'a wrong bill hash beyond the retries: no bill stored, reconcile skipped, exit 1' '
	fresh fhash && fault "{\"match\":\"tradebill\",\"kind\":\"wrong_bill_hash\",\"count\":3}" &&
	test_exit_code 1 nightly >out 2>err &&
	grep -q "skipped   reconcile     $D" out &&
	test "$(db "SELECT count(*) FROM bill_files WHERE kind = \"trade\"")" = 0 &&
	test "$(db "SELECT count(*) FROM bill_trades")" = 0 &&
	clean_run_completes
'
test_expect_success 'a truncated gzip: refused, nothing stored, then completes' '
	fresh ftrunc && fault "{\"match\":\"download\",\"kind\":\"truncate_download\",\"short\":true,\"count\":6}" &&
	test_exit_code 1 nightly >out 2>err &&
	test "$(db "SELECT count(*) FROM bill_trades")" = 0 &&
	test "$(db "SELECT count(*) FROM bill_files WHERE status = \"ok\"")" = 0 &&
	clean_run_completes
'
test_expect_success 'kill -9 of the run during a close: resumed, no second close, completes' '
	fresh fkill && sed -i "s|^timeout_s = .*|timeout_s = 10|" wxrecon.conf &&
	fault "{\"match\":\"close\",\"kind\":\"delay\",\"ms\":3000,\"count\":1}" &&
	(setsid sh -c "exec \"$WXRECON_BIN\" run nightly --date $D" >out 2>err & echo $! >pid) &&
	i=0 && while [ "$(db "SELECT count(*) FROM actions WHERE state = \"sent\"" 2>/dev/null)" != 1 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done &&
	sleep 0.3 && /bin/kill -9 -- -$(cat pid) &&
	i=0 && while /bin/kill -0 $(cat pid) 2>/dev/null && [ $i -lt 100 ]; do sleep 0.02; i=$((i+1)); done &&
	{ nightly >rerun.out 2>rerun.err; true; } &&
	test "$(db "SELECT count(*) FROM audit_log WHERE event = \"decision.skip\" AND json_extract(detail, \"$.sent_age_s\") IS NOT NULL")" = 1 &&
	sleep 3.2 &&
	test "$(db "SELECT count(*) FROM actions WHERE state = \"sent\"")" = 1 &&
	clean_run_completes &&
	sim_admin GET /_sim/journal | grep -o "\"path\":\"[^\"]*ORDSTALE00[12]/close\"" | sort | uniq -c >closes &&
	test "$(wc -l <closes)" = 2 && test "$(awk "\$1 > 1" closes | wc -l)" = 0
'
test_db_is_pg && test_skip 'a full disk (file size limit) while storing a bill: exit 1, nothing half-stored' 'ulimit -f limits the SQLite file; PostgreSQL writes on its server (its disk full is SQLSTATE 53100, WXR_EIO)' ||
test_expect_success 'a full disk (file size limit) while storing a bill: exit 1, nothing half-stored' '
	fresh fdisk &&
	{ nightly >/dev/null 2>&1 || true; } && db "PRAGMA foreign_keys = ON; DELETE FROM bill_files" &&
	db "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null &&
	{ (ulimit -f 70; exec "$WXRECON_BIN" bill fetch --date $D --force >out 2>err); rc=$?; cat err >&2; test $rc = 1; } &&
	grep -q "fundflow: store fundflow bill of $D: commit: disk I/O error" err &&
	test "$(db "SELECT count(*) FROM bill_files WHERE kind = \"fundflow\"")" = 0 &&
	test "$(db "SELECT count(*) FROM bill_fundflows")" = 0 &&
	clean_run_completes
'
test_expect_success 'the database locked by another process: exit 1 naming it, then completes' '
	fresh flock &&
	db_hold_writer var/test.db 7 && writer=$DB_WRITER_PID &&
	{ nightly >out 2>err; rc=$?; wait $writer; test $rc = 1; } &&
	grep -q "locked" err &&
	clean_run_completes
'
test_done
