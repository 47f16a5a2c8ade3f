#!/bin/sh
# t0410-audit-key: the keyed audit chain (issue 20 item 5), as an attacker who
# can write the database but not read the key file would try it: cut the
# tail, empty the log, edit an entry and re-hash the chain without the key,
# drop a trigger. The demo's data verifies intact with the key.
. "$(dirname "$0")/test-lib.sh"

DEMO=$TRASH/demo

# copy NAME: a copy of the demo's database and key in ./NAME
copy() {
	mkdir "$1" &&
	cp "$DEMO/wxrecon.db" "$DEMO/audit.key" "$1/"
}
# q NAME SQL
q() { sqlite3 "$1/wxrecon.db" "$2"; }
# verify NAME: audit --verify on the copy, stdout to out, stderr to err
verify() { wxrecon --db "$1/wxrecon.db" audit --verify >out 2>err; }

# rechain.py DB [downgrade]: recomputes every entry's hash as the unkeyed
# SHA-256 chain of before the key (what one can do without it); with
# "downgrade" it also marks every entry unkeyed.
cat >rechain.py <<'EOF'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
def f(s):
    b = (s or "").encode()
    return str(len(b)).encode() + b":" + b + b"\n"
prev = "0" * 64
rows = db.execute("SELECT id, at, run_id, actor, event, subject, detail FROM audit_log ORDER BY id").fetchall()
for (i, at, run, actor, ev, subj, det) in rows:
    h = hashlib.sha256(f(prev) + f(str(i)) + f(at) + f(str(run) if run else "") + f(actor) + f(ev) + f(subj) + f(det)).hexdigest()
    db.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?", (prev, h, i))
    if len(sys.argv) > 2:
        db.execute("UPDATE audit_log SET alg = 'sha256' WHERE id = ?", (i,))
    prev = h
db.execute("UPDATE audit_heads SET head = ?, entries = ?", (prev, len(rows)))
db.commit()
EOF

test_expect_success 'setup: the demo' '
	DEMO_DIR=$DEMO sh "$SRC_ROOT/scripts/demo.sh" --no-build >demo.out 2>demo.err &&
	test "$(stat -c %a "$DEMO/audit.key")" = 600 &&
	n=$(sqlite3 "$DEMO/wxrecon.db" "SELECT count(*) FROM audit_log") &&
	test "$n" -gt 40 &&
	echo "$n" >entries
'

test_expect_success 'with its key the demo verifies intact, keyed from the first entry' '
	copy intact &&
	verify intact &&
	test_grep "^audit log intact: $(cat entries) entries$" out &&
	wxrecon --db intact/wxrecon.db --json audit --verify >out.json &&
	test_grep "\"keyed_from\": *1" out.json &&
	test "$(q intact "SELECT count(*) FROM audit_log WHERE alg <> '"'hmac-sha256'"'")" = 0 &&
	test "$(q intact "SELECT event FROM audit_log WHERE id = 1")" = audit.keyed
'

test_expect_success 'the key is in no row and no output' '
	key=$(sed -n "s/^key = //p" "$DEMO/audit.key") &&
	test ${#key} = 64 &&
	! sqlite3 "$DEMO/wxrecon.db" .dump | grep -q "$key" &&
	! grep -rq "$key" "$DEMO/reports" demo.out demo.err out out.json
'

# cut NAME N: deletes the last N entries the way an attacker would (the
# trigger dropped, then put back)
cut() {
	q "$1" "DROP TRIGGER audit_log_no_delete;
		DELETE FROM audit_log WHERE id > (SELECT max(id) - $2 FROM audit_log);
		CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
		BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
}

test_expect_success 'the last entry deleted is found' '
	copy cut1 && cut cut1 1 &&
	n=$(cat entries) &&
	{ verify cut1; rc=$?; } && test $rc = 1 &&
	test_grep "^wxrecon: audit log broken at entry $n: entries $n to $n were deleted: the head record counts $n$" err
'

test_expect_success 'the last 20 entries deleted are found' '
	copy cut20 && cut cut20 20 &&
	n=$(cat entries) &&
	{ verify cut20; rc=$?; } && test $rc = 1 &&
	test_grep "broken at entry $((n - 19)): entries $((n - 19)) to $n were deleted" err
'

test_expect_success 'the last 20 deleted with the head record too: the run checkpoint finds it' '
	copy cut20h && cut cut20h 20 &&
	n=$(cat entries) &&
	q cut20h "DELETE FROM audit_heads" &&
	{ verify cut20h; rc=$?; } && test $rc = 1 &&
	test_grep "audit log broken: its head record (audit_heads) is missing" err &&
	q cut20h "INSERT INTO audit_heads SELECT '"''"', $((n - 20)), hash, (SELECT audit_mac FROM job_runs LIMIT 1) FROM audit_log WHERE id = $((n - 20))" &&
	{ verify cut20h; rc=$?; } && test $rc = 1 &&
	test_grep "head record (audit_heads) was not written with the key" err
'

test_expect_success 'every entry deleted is found' '
	copy empty && cut empty 100000 &&
	test "$(q empty "SELECT count(*) FROM audit_log")" = 0 &&
	{ verify empty; rc=$?; } && test $rc = 1 &&
	test_grep "broken at entry 1: the log ends at entry 0 but its key was made at entry 1" err &&
	q empty "DELETE FROM audit_heads; UPDATE job_runs SET audit_entries = NULL" &&
	{ verify empty; rc=$?; } && test $rc = 1 &&
	test_grep "broken at entry 1: the log ends at entry 0" err
'

test_expect_success 'an edit re-hashed as the unkeyed SHA-256 chain is found' '
	copy rehash &&
	q rehash "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET detail = replace(detail, '"'\"ok\"'"', '"'\"failed\"'"') WHERE event = '"'run.end'"'" &&
	python3 rechain.py rehash/wxrecon.db &&
	q rehash "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
		BEGIN SELECT RAISE(ABORT, '"'audit_log is append-only'"'); END;" &&
	{ verify rehash; rc=$?; } && test $rc = 1 &&
	test_grep "^wxrecon: audit log broken at entry 1: its content does not match its hash$" err
'

test_expect_success 'and marked unkeyed too (a downgrade) it is found' '
	copy downgrade &&
	q downgrade "DROP TRIGGER audit_log_no_update" &&
	python3 rechain.py downgrade/wxrecon.db downgrade &&
	{ verify downgrade; rc=$?; } && test $rc = 1 &&
	test_grep "broken at entry 1: it is not keyed, but the audit key covers every entry from 1 on" err
'

test_expect_success 'an action the log does not account for is found' '
	copy action &&
	q action "INSERT INTO actions (mchid, kind, target, state, created_at, updated_at)
		VALUES ('"'1900000001'"', '"'REFUND'"', '"'GHOST-1'"', '"'done'"', '"'x'"', '"'x'"')" &&
	{ verify action; rc=$?; } && test $rc = 1 &&
	test_grep "audit log broken: action [0-9]* (REFUND .GHOST-1.) has no audit entry" err
'

test_expect_success 'a dropped trigger is reported by verify and restored by init' '
	copy trig &&
	q trig "DROP TRIGGER audit_log_no_delete" &&
	{ verify trig; rc=$?; } && test $rc = 1 &&
	test_grep "trigger(s) audit_log_no_delete missing or altered" err &&
	! test_grep "intact" out &&
	wxrecon --db trig/wxrecon.db init 2>init.err &&
	test_grep "restored the audit log.s trigger(s) audit_log_no_delete" init.err &&
	verify trig && test_grep "^audit log intact:" out &&
	! q trig "DELETE FROM audit_log WHERE id = 1" 2>/dev/null
'

test_expect_success 'a trigger altered to do nothing is reported and restored' '
	copy trig2 &&
	q trig2 "DROP TRIGGER audit_log_no_update;
		CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT 1; END;" &&
	{ verify trig2; rc=$?; } && test $rc = 1 &&
	test_grep "audit_log_no_update missing or altered" err &&
	wxrecon --db trig2/wxrecon.db init 2>/dev/null &&
	verify trig2
'

test_expect_success 'without its key the keyed log is neither verified nor appended to' '
	copy nokey && rm nokey/audit.key &&
	{ verify nokey; rc=$?; } && test $rc = 1 &&
	test_grep "broken at entry 1: it is keyed and the audit key is not there to check it (.nokey/audit.key. is missing)" err &&
	test_must_fail wxrecon --db nokey/wxrecon.db ledger import --orders "$FIXTURES/ledger/orders.csv" 2>err &&
	test_grep "the audit log is keyed but its key is not there (.nokey/audit.key. is missing): restore the key file" err &&
	test_must_fail wxrecon --db nokey/wxrecon.db init 2>err &&
	test_grep "keyed entries but its key file .nokey/audit.key. is missing: restore it" err &&
	! test -e nokey/audit.key
'

test_expect_success 'another key does not verify the log' '
	copy other && rm other/audit.key &&
	mkdir fresh && wxrecon --db fresh/wxrecon.db init 2>/dev/null &&
	cp fresh/audit.key other/ &&
	{ verify other; rc=$?; } && test $rc = 1 &&
	test_grep "broken at entry 1: its content does not match its hash" err
'

test_expect_success 'a key file others can read is refused' '
	copy mode && chmod 644 mode/audit.key &&
	test_must_fail wxrecon --db mode/wxrecon.db audit --verify 2>err &&
	test_grep "audit key file .mode/audit.key. is readable by group or others (mode 0644); run: chmod 600" err
'

test_expect_success 'the reports the demo run wrote are checked against the log' '
	wxrecon -c "$DEMO/wxrecon.conf" --json audit --verify >out.json &&
	test_grep "\"ok\": *true" out.json &&
	test_grep "\"checkpoints\": *[3-9]" out.json &&
	test_grep "^audit,[0-9]*,,,[0-9a-f]\{64\}" "$DEMO"/reports/*-csv/stamp.csv
'

test_expect_success 'a database rolled back to a backup is found by a later report stamp' '
	mkdir rb && wxrecon --db rb/wxrecon.db init 2>/dev/null &&
	wxrecon --db rb/wxrecon.db ledger import --orders "$FIXTURES/ledger/orders.csv" >/dev/null &&
	cp rb/wxrecon.db backup.db &&
	wxrecon --db rb/wxrecon.db ledger import --refunds "$FIXTURES/ledger/refunds.csv" >/dev/null &&
	wxrecon --db rb/wxrecon.db report --from 2026-11-01 --to 2026-11-01 --format json -o rb.json &&
	wxrecon --db rb/wxrecon.db report --from 2026-11-01 --to 2026-11-01 --table stamp -o rb-stamp.csv &&
	n=$(q rb "SELECT count(*) FROM audit_log") &&
	cp backup.db rb/wxrecon.db &&
	m=$(q rb "SELECT count(*) FROM audit_log") && test "$m" -lt "$n" &&
	verify rb &&
	{ wxrecon --db rb/wxrecon.db audit --verify --stamp rb.json >out 2>err; rc=$?; } && test $rc = 1 &&
	test_grep "broken at entry $((m + 1)): entries $((m + 1)) to $n were deleted: report .rb.json. recorded $n entries" err &&
	{ wxrecon --db rb/wxrecon.db audit --verify --stamp rb-stamp.csv >out 2>err; rc=$?; } && test $rc = 1 &&
	test_grep "report .rb-stamp.csv. recorded $n entries" err
'

test_expect_code 2 '--stamp of a file that is no report is a usage error' '
	wxrecon --db intact/wxrecon.db audit --verify --stamp rechain.py
'

test_expect_success '[audit] key_file puts the key elsewhere' '
	mkdir -p cfg/keys cfg/var &&
	printf "[database]\npath = var/x.db\n[audit]\nkey_file = keys/audit.key\n" >cfg/wxrecon.conf &&
	wxrecon -c cfg/wxrecon.conf init 2>/dev/null &&
	test -f cfg/keys/audit.key && ! test -e cfg/var/audit.key &&
	wxrecon -c cfg/wxrecon.conf audit --verify >out &&
	test_grep "^audit log intact: 1 entries$" out
'

test_done
