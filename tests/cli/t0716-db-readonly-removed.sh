#!/bin/sh
# Issue 20 item 11: the commands that only read (audit --verify, report, the listings)
# work on a read-only filesystem; and a database removed while a command runs is not
# written into a deleted file with an 'ok': the commit is refused, saying so.
. "$(dirname "$0")/test-lib.sh"

B=$FIXTURES/bills
mkdir billsdir
sim_start --bills billsdir
config_setup
WXRECON_NOW=2026-11-03T11:00:00+08:00 && export WXRECON_NOW
sim_admin POST /_sim/clock '{"now":"2026-11-03T11:00:00+08:00"}' >/dev/null

# As root, chmod -w stops nothing: read as nobody a directory and a file nobody owns.
# PostgreSQL's twin of a read-only file: a database whose sessions are read-only
# (default_transaction_read_only), read as the same superuser.
if test_db_is_pg; then
	ro() { wxrecon "$@"; }
elif [ "$(id -u)" = 0 ]; then
	ro() { setpriv --reuid=65534 --regid=65534 --clear-groups "$WXRECON_BIN" "$@"; }
else
	ro() { wxrecon "$@"; }
fi

test_expect_success 'setup: a database with a ledger, a bill and a run, then made read-only' '
	mkdir rodb &&
	wxrecon --db rodb/x.db init 2>/dev/null &&
	wxrecon --db rodb/x.db ledger import --orders "$FIXTURES/ledger/orders.csv" >/dev/null &&
	wxrecon --db rodb/x.db bill import "$B/hand_all_bom_crlf.csv" --date 2025-03-01 --kind trade >/dev/null &&
	{ wxrecon --db rodb/x.db reconcile --date 2025-03-01 >/dev/null; test $? -le 3; } &&
	if test_db_is_pg; then
		pg_psql postgres -c "ALTER DATABASE $(pg_db_name rodb/x.db) SET default_transaction_read_only = on"
	else
		! test -e rodb/x.db-wal &&
		chmod 755 . && if [ "$(id -u)" = 0 ]; then chown -R 65534:65534 rodb; fi &&
		chmod a-w rodb/x.db rodb
	fi
'
test_expect_success 'audit --verify reads a read-only database' '
	ro --db rodb/x.db audit --verify >out 2>err && test_grep "audit log intact" out
'
test_expect_success 'report, discrepancies, actions and runs read it too' '
	ro --db rodb/x.db report --date 2025-03-01 --format json -o - >out 2>err &&
	test_grep "\"from\": \"2025-03-01\"" out &&
	ro --db rodb/x.db discrepancies --date 2025-03-01 --status all >/dev/null 2>err &&
	ro --db rodb/x.db actions >/dev/null 2>err &&
	ro --db rodb/x.db runs >out 2>err && test_grep "reconcile" out
'
test_db_is_pg && test_skip 'nothing was created beside it (init put the audit key there)' 'files beside a SQLite database; a PostgreSQL one has no directory' ||
test_expect_success 'nothing was created beside it (init put the audit key there)' '
	test "$(ls -A rodb | tr "\n" " ")" = "audit.key x.db "
'
test_expect_success 'a command that writes still says it cannot' '
	test_must_fail ro --db rodb/x.db ledger import --orders "$FIXTURES/ledger/orders.csv" 2>err &&
	test_grep "readonly\|read-only" err
'
test_expect_success 'setup: the simulator serves a bill' '
	if test_db_is_pg; then
		pg_psql postgres -c "ALTER DATABASE $(pg_db_name rodb/x.db) RESET default_transaction_read_only"
	else
		chmod -R u+w rodb && if [ "$(id -u)" = 0 ]; then chown -R 0:0 rodb; fi
	fi &&
	sed "s/2025-03-01/2026-11-01/g" "$B/hand_all_bom_crlf.csv" | gzip -c >billsdir/2026-11-01.trade.ALL.csv.gz &&
	mkdir dbdir && wxrecon --db dbdir/x.db init 2>/dev/null
'
test_expect_code 1 'a database removed while bill fetch waits: the bill is not stored into the deleted file' '
	sim_admin POST /_sim/faults "{\"match\":\"/v3/bill/tradebill\",\"kind\":\"delay\",\"ms\":3000,\"count\":1}" >/dev/null &&
	{ {
		# once bill fetch holds the lock (the database is open), remove it
		for i in $(seq 200); do
			test "$(db_sql dbdir/x.db "SELECT count(*) FROM locks" 2>/dev/null)" = 1 && break
			sleep 0.05
		done
		if test_db_is_pg; then
			pg_psql postgres -c "DROP DATABASE $(pg_db_name dbdir/x.db) WITH (FORCE)"
		else
			rm -rf dbdir
		fi
	} & } &&
	wxrecon --db dbdir/x.db bill fetch --date 2026-11-01 --kind trade >out 2>err
'
# PostgreSQL: the database dropped under it ends its session (DROP ... WITH (FORCE))
if test_db_is_pg; then
	test_expect_success 'and it says so' '
		test_grep "lost the connection to the PostgreSQL server" err &&
		! grep -q "stored" out
	'
else
	test_expect_success 'and it says so' '
		test_grep "database .dbdir/x.db. was removed since this command opened it: nothing of this step was kept" err &&
		! grep -q "stored" out
	'
fi
test_done
