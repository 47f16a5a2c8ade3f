#!/bin/sh
# wxrecon sweep refunds and refund abnormal --user-card against the simulator:
# sync, abnormal refunds once per refund, approval, brakes, dry run, and the
# card details never leaving the call.
. "$(dirname "$0")/test-lib.sh"
. "$FIXTURES/sweep/lib-sweep.sh"

sweep_setup || { echo "Bail out! no simulator"; exit 1; }

HDR=out_refund_no,out_trade_no,refund_id,amount_refund,state,created_at,success_at

test_expect_success 'setup' '
	seed_orders "[
	 {\"out_trade_no\":\"ORDR000001\",\"total\":1000,\"create_time\":\"2026-11-01T08:00:00+08:00\",\"trade_state\":\"SUCCESS\",\"success_time\":\"2026-11-01T08:01:00+08:00\"},
	 {\"out_trade_no\":\"ORDR000002\",\"total\":90000,\"create_time\":\"2026-11-01T08:00:00+08:00\",\"trade_state\":\"SUCCESS\",\"success_time\":\"2026-11-01T08:01:00+08:00\"}]" &&
	seed_refunds "[
	 {\"out_refund_no\":\"RFSUCC1\",\"out_trade_no\":\"ORDR000001\",\"refund\":300,\"status\":\"SUCCESS\",\"create_time\":\"2026-11-01T09:00:00+08:00\",\"success_time\":\"2026-11-01T09:05:00+08:00\"},
	 {\"out_refund_no\":\"RFCLOS1\",\"out_trade_no\":\"ORDR000001\",\"refund\":100,\"status\":\"CLOSED\",\"create_time\":\"2026-11-01T09:01:00+08:00\"},
	 {\"out_refund_no\":\"RFPROC1\",\"out_trade_no\":\"ORDR000001\",\"refund\":100,\"status\":\"PROCESSING\",\"create_time\":\"2026-11-01T09:02:00+08:00\"},
	 {\"out_refund_no\":\"RFABN01\",\"out_trade_no\":\"ORDR000001\",\"refund\":200,\"status\":\"ABNORMAL\",\"create_time\":\"2026-11-01T09:03:00+08:00\"},
	 {\"out_refund_no\":\"RFBIG01\",\"out_trade_no\":\"ORDR000002\",\"refund\":60000,\"status\":\"ABNORMAL\",\"create_time\":\"2026-11-01T09:04:00+08:00\"}]" &&
	cat >refunds.csv <<-EOF &&
	$HDR
	RFSUCC1,ORDR000001,,300,PROCESSING,2026-11-01T09:00:00+08:00,
	RFCLOS1,ORDR000001,,100,PROCESSING,2026-11-01T09:01:00+08:00,
	RFPROC1,ORDR000001,,100,PROCESSING,2026-11-01T09:02:00+08:00,
	RFABN01,ORDR000001,,200,PROCESSING,2026-11-01T09:03:00+08:00,
	RFBIG01,ORDR000002,,60000,ABNORMAL,2026-11-01T09:04:00+08:00,
	RFDONE1,ORDR000001,,100,SUCCESS,2026-11-01T08:50:00+08:00,2026-11-01T08:55:00+08:00
	EOF
	ledger_refunds refunds.csv &&
	sim_admin DELETE /_sim/journal >/dev/null
'

test_expect_code 3 'a dry run (one refund to hold)' '
	wxrecon sweep refunds --dry-run >out
'
test_expect_success 'plans the syncs, the abnormal refund and the hold' '
	grep -q "^would_sync  *RFSUCC1  *would sync ledger PROCESSING -> SUCCESS" out &&
	grep -q "^would_sync  *RFCLOS1  *would sync ledger PROCESSING -> CLOSED" out &&
	grep -q "^would_file  *RFABN01  *would file an abnormal refund (MERCHANT_BANK_CARD) of 200 fen" out &&
	grep -q "^would_hold  *RFBIG01  *.*60000 fen is above approval_above = 50000 fen" out &&
	! grep -q RFDONE1 out
'
test_expect_success 'with queries only' '
	test "$(calls "POST .*")" = 0 &&
	test "$(calls "GET $REFUND_PATH/.*")" = 5 &&
	test "$(db "SELECT count(*) FROM actions")" = 0 &&
	test "$(db "SELECT count(*) FROM ledger_refunds WHERE state = \"PROCESSING\"")" = 4
'

test_expect_code 3 'the sweep: exit 3, one abnormal refund waits for approval' '
	wxrecon sweep refunds >out 2>err
'
test_expect_success 'SUCCESS and CLOSED are synced into the ledger (REFUND_SYNC)' '
	test "$(db "SELECT state || \"|\" || success_at || \"|\" || refund_id FROM ledger_refunds WHERE out_refund_no = \"RFSUCC1\"")" = "SUCCESS|2026-11-01T09:05:00+08:00|$(sim_admin GET /_sim/refunds/RFSUCC1 | sed "s/.*\"refund_id\":\"\([0-9]*\)\".*/\1/")" &&
	test "$(db "SELECT state FROM ledger_refunds WHERE out_refund_no = \"RFCLOS1\"")" = CLOSED &&
	test "$(db "SELECT state || \"|\" || result FROM actions WHERE kind = \"REFUND_SYNC\" AND target = \"RFSUCC1\"")" = "done|SUCCESS" &&
	test "$(db "SELECT state FROM ledger_refunds WHERE out_refund_no = \"RFPROC1\"")" = PROCESSING
'
test_expect_success 'ABNORMAL: one abnormal refund to the merchant card, intent first' '
	test "$(calls "POST $REFUND_PATH/[0-9]*/apply-abnormal-refund")" = 1 &&
	test "$(db "SELECT state || \"|\" || result || \"|\" || attempts FROM actions WHERE kind = \"ABNORMAL_REFUND\" AND target = \"RFABN01\"")" = "done|PROCESSING|1" &&
	test "$(db "SELECT state FROM ledger_refunds WHERE out_refund_no = \"RFABN01\"")" = PROCESSING &&
	test "$(sim_admin GET /_sim/refunds/RFABN01 | grep -o "\"channel\":\"[A-Z_]*\"")" = "\"channel\":\"OTHER_BANKCARD\"" &&
	db "SELECT event FROM audit_log WHERE subject = \"RFABN01\" AND event LIKE \"refund.abnormal%\" ORDER BY id" >events &&
	printf "refund.abnormal.intent\nrefund.abnormal.sent\nrefund.abnormal.done\n" >expect &&
	test_cmp expect events
'
test_expect_success 'above approval_above: held, not sent' '
	test "$(db "SELECT state FROM actions WHERE kind = \"ABNORMAL_REFUND\" AND target = \"RFBIG01\"")" = pending_approval &&
	test "$(sim_admin GET /_sim/refunds/RFBIG01 | grep -o "\"status\":\"[A-Z]*\"")" = "\"status\":\"ABNORMAL\"" &&
	grep -q "^wxrecon: sweep refunds: 1 action waits for approval" err
'
test_expect_code 3 'a second sweep sends nothing more' '
	sim_admin DELETE /_sim/journal >/dev/null &&
	wxrecon --json sweep refunds >out
'
test_expect_success 'only queries, and the JSON says so' '
	test "$(calls "POST .*")" = 0 &&
	grep -q "^{\"candidates\":3,\"synced\":0,\"abnormal_refunds\":0,\"held\":1,\"failed\":0," out
'
test_expect_success 'approve it' '
	id=$(db "SELECT id FROM actions WHERE kind = \"ABNORMAL_REFUND\" AND target = \"RFBIG01\"") &&
	USER=carol wxrecon approve "$id" --note "checked with the customer" >out &&
	grep -q "the next .wxrecon sweep refunds. sends it" out
'
test_expect_success 'the next sweep sends it, once' '
	wxrecon sweep refunds >out &&
	test "$(calls "POST $REFUND_PATH/[0-9]*/apply-abnormal-refund")" = 1 &&
	test "$(db "SELECT state || \"|\" || approved_by FROM actions WHERE kind = \"ABNORMAL_REFUND\" AND target = \"RFBIG01\"")" = "done|carol" &&
	test "$(db "SELECT state FROM ledger_refunds WHERE out_refund_no = \"RFBIG01\"")" = PROCESSING
'
test_expect_success 'WeChat Pay pays it out: the next sweep syncs SUCCESS' '
	sim_admin POST /_sim/refunds/RFBIG01/status "{\"status\":\"SUCCESS\",\"success_time\":\"2026-11-02T10:00:00+08:00\"}" >/dev/null &&
	wxrecon sweep refunds >out &&
	test "$(db "SELECT state || \"|\" || success_at FROM ledger_refunds WHERE out_refund_no = \"RFBIG01\"")" = "SUCCESS|2026-11-02T10:00:00+08:00"
'
test_expect_code 3 'ABNORMAL again after an accepted abnormal refund: exit 3' '
	sim_admin POST /_sim/refunds/RFABN01/status "{\"status\":\"ABNORMAL\"}" >/dev/null &&
	sim_admin DELETE /_sim/journal >/dev/null &&
	wxrecon sweep refunds >out 2>err
'
test_expect_success 'never filed twice; a person is told' '
	test "$(calls "POST .*")" = 0 &&
	grep -q "^attention  *RFABN01  *ABNORMAL again after abnormal refund action [0-9]* (MERCHANT_BANK_CARD) was accepted: not filed twice" out &&
	grep -q "^wxrecon: sweep refunds: 1 need a person" err
'

# refund abnormal --user-card
test_expect_success 'setup: the card details in files only their owner reads' '
	printf "6225880112345678\n" >account && printf "Zhang San\n" >name &&
	chmod 600 account name
'
test_expect_code 2 'a file others can read is refused' '
	printf "6225880112345678\n" >open-account && chmod 644 open-account &&
	wxrecon refund abnormal RFABN01 --user-card --bank-type CMB_DEBIT --account-file open-account --name-file name 2>err
'
test_expect_success 'naming the file, not its content' '
	grep -q "^wxrecon: --account-file: .open-account. can be read by group or others" err &&
	! grep -q 622588 err
'
test_expect_code 2 'an unknown bank type is refused' '
	wxrecon refund abnormal RFABN01 --user-card --bank-type VISA --account-file account --name-file name
'
test_expect_code 2 'a file that is not a card number is refused' '
	printf "not a card\n" >bad && chmod 600 bad &&
	wxrecon refund abnormal RFABN01 --user-card --bank-type CMB_DEBIT --account-file bad --name-file name 2>err
'
test_expect_success 'says so without echoing the file' '
	test_grep "^wxrecon: --account-file: .bad. does not hold a card number" err && ! grep -q "not a card" err
'
test_expect_code 2 'only --user-card is filed by hand' '
	wxrecon refund abnormal RFABN01 --bank-type CMB_DEBIT --account-file account --name-file name
'
test_expect_success 'refund abnormal --user-card files it' '
	USER=dave wxrecon refund abnormal RFABN01 --user-card --bank-type CMB_DEBIT --account-file account --name-file name >out 2>err &&
	grep -q "^abnormal_refund  *RFABN01 abnormal refund (USER_BANK_CARD) accepted: PROCESSING at WeChat Pay" out &&
	test "$(sim_admin GET /_sim/refunds/RFABN01 | grep -o "\"user_received_account\":\"[^\"]*\"")" = "\"user_received_account\":\"用户银行卡(CMB_DEBIT)\"" &&
	test "$(db "SELECT state || \"|\" || result FROM actions WHERE kind = \"ABNORMAL_REFUND\" AND target = \"RFABN01\"")" = "done|PROCESSING" &&
	db "SELECT params FROM actions WHERE kind = \"ABNORMAL_REFUND\" AND target = \"RFABN01\"" | grep -q "\"bank_type\":\"CMB_DEBIT\",\"by\":\"dave\"" &&
	test "$(db "SELECT actor FROM audit_log WHERE event = \"refund.abnormal.intent\" ORDER BY id DESC LIMIT 1")" = "refund abnormal"
'
test_expect_success 'the card and the name are nowhere: stdout, stderr, audit, database, journal' '
	! grep -q -e 6225880112345678 -e "Zhang" out err &&
	! grep -a -q -e 6225880112345678 -e "Zhang San" var/test.db var/test.db-wal 2>/dev/null &&
	! db ".dump" | grep -q -e 622588 -e Zhang &&
	! wxrecon audit | grep -q -e 622588 -e Zhang &&
	! sim_admin GET /_sim/journal | grep -q -e 622588 -e Zhang &&
	! grep -q -e 622588 -e Zhang sim.log
'
test_expect_code 1 'a refund that is not ABNORMAL: nothing to file' '
	wxrecon refund abnormal RFSUCC1 --user-card --bank-type CMB_DEBIT --account-file account --name-file name 2>err
'
test_expect_success 'says it is SUCCESS, not ABNORMAL' '
	test_grep "is SUCCESS at WeChat Pay, not ABNORMAL: nothing to file" err
'
test_expect_code 1 'a refund not in the ledger' '
	wxrecon refund abnormal RFNOPE1 --user-card --bank-type CMB_DEBIT --account-file account --name-file name
'

# brakes
test_expect_success 'setup: three more ABNORMAL refunds' '
	seed_orders "{\"out_trade_no\":\"ORDR000003\",\"total\":100000,\"create_time\":\"2026-11-01T08:00:00+08:00\",\"trade_state\":\"SUCCESS\",\"success_time\":\"2026-11-01T08:01:00+08:00\"}" &&
	seed_refunds "[
	 {\"out_refund_no\":\"RFBRK01\",\"out_trade_no\":\"ORDR000003\",\"refund\":20000,\"status\":\"ABNORMAL\"},
	 {\"out_refund_no\":\"RFBRK02\",\"out_trade_no\":\"ORDR000003\",\"refund\":20000,\"status\":\"ABNORMAL\"},
	 {\"out_refund_no\":\"RFBRK03\",\"out_trade_no\":\"ORDR000003\",\"refund\":20000,\"status\":\"ABNORMAL\"}]" &&
	printf "$HDR\nRFBRK01,ORDR000003,,20000,ABNORMAL,2026-11-01T09:00:00+08:00,\nRFBRK02,ORDR000003,,20000,ABNORMAL,2026-11-01T09:00:00+08:00,\nRFBRK03,ORDR000003,,20000,ABNORMAL,2026-11-01T09:00:00+08:00,\n" >brk.csv &&
	ledger_refunds brk.csv &&
	sed "s/^\[policy\]/[policy]\nabnormal_refund_max_per_run = 2/" wxrecon.conf >count.conf &&
	sed "s/^\[policy\]/[policy]\nabnormal_refund_max_amount_per_run = 50000/" wxrecon.conf >amount.conf &&
	sim_admin DELETE /_sim/journal >/dev/null
'
test_expect_code 3 'more abnormal refunds than abnormal_refund_max_per_run: the brake' '
	wxrecon -c count.conf sweep refunds >out 2>err
'
test_expect_success 'none filed, one line why' '
	test "$(calls "POST .*")" = 0 &&
	test "$(wc -l <err)" = 1 &&
	grep -q "^wxrecon: sweep refunds: brake: 3 abnormal refunds to file, more than abnormal_refund_max_per_run = 2; nothing was done$" err &&
	test "$(db "SELECT count(*) FROM actions WHERE target LIKE \"RFBRK%\" AND kind = \"ABNORMAL_REFUND\"")" = 0
'
test_expect_code 3 'more money than abnormal_refund_max_amount_per_run: the brake' '
	wxrecon -c amount.conf sweep refunds >out 2>err
'
test_expect_success 'names the amount brake' '
	test_grep "brake: 3 abnormal refunds to file for 60000 fen, more than abnormal_refund_max_amount_per_run = 50000 fen" err
'
test_expect_success 'within the brakes they are filed' '
	wxrecon sweep refunds >out &&
	test "$(calls "POST .*")" = 3 &&
	test "$(db "SELECT count(*) FROM actions WHERE target LIKE \"RFBRK%\" AND kind = \"ABNORMAL_REFUND\" AND state = \"done\"")" = 3
'

test_expect_success 'setup: an abnormal refund rate limited beyond the retries' '
	seed_refunds "{\"out_refund_no\":\"RFFREQ1\",\"out_trade_no\":\"ORDR000003\",\"refund\":100,\"status\":\"ABNORMAL\"}" &&
	printf "$HDR\nRFFREQ1,ORDR000003,,100,ABNORMAL,2026-11-01T09:00:00+08:00,\n" >freq.csv &&
	ledger_refunds freq.csv &&
	fault "{\"match\":\"abnormal_refund\",\"kind\":\"status\",\"status\":429,\"count\":3}"
'
test_expect_code 1 'FREQUENCY_LIMITED: the query decides, still ABNORMAL: failed' '
	wxrecon sweep refunds >out 2>err
'
test_expect_success 'the action failed; the next sweep files it again, same keys' '
	test "$(db "SELECT state FROM actions WHERE kind = \"ABNORMAL_REFUND\" AND target = \"RFFREQ1\"")" = failed &&
	wxrecon sweep refunds >out &&
	test "$(db "SELECT state || \"|\" || attempts FROM actions WHERE kind = \"ABNORMAL_REFUND\" AND target = \"RFFREQ1\"")" = "done|2"
'
test_done
