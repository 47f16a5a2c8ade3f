#!/bin/sh
# t0902-demo-pg: scripts/demo-pg.sh (`make demo-pg`, issue 16): the demo with
# its store on PostgreSQL finds what the same demo finds on SQLite, with the
# same ids, and writes the same reports byte for byte (but the audit head
# hash, which differs by design); it never wipes a database wxrecon already
# uses; without DEMO_DB it starts its own server and stops it. PostgreSQL only.
. "$(dirname "$0")/test-lib.sh"

if ! test_db_is_pg || ! pg_available; then
	test_skip 'the demo on PostgreSQL agrees with SQLite' \
		'PostgreSQL only: make test-pg (WXRECON_TEST_DB=pg and a server)'
	test_done
fi

pg_createdb wxt_t0902 >/dev/null
URL=$(pg_url wxt_t0902)

test_expect_success 'DEMO_DB: both demos run and agree' '
	DEMO_DB=$URL DEMO_DIR=$TRASH/d sh "$SRC_ROOT/scripts/demo-pg.sh" >out 2>err &&
	test_grep "^the same 11 planted cases found, 5 discrepancies and 8 actions, ids and all$" out &&
	test_grep "^9 report files byte-identical but the audit head hash; the same [0-9]* audit entries$" out &&
	test_grep "^11 found, 0 missed" out
'

test_expect_success 'the PostgreSQL demo stored into PostgreSQL, the other into SQLite' '
	test "$(pg_psql wxt_t0902 -c "SELECT count(*) FROM job_runs WHERE job = '"'nightly'"'")" = 1 &&
	test "$(pg_psql wxt_t0902 -c "SELECT count(*) FROM bill_files WHERE status = '"'ok'"'")" = 14 &&
	! test -e "$TRASH/d/pg/wxrecon.db" &&
	test -s "$TRASH/d/sqlite/wxrecon.db" &&
	test_grep "^url = postgresql:" "$TRASH/d/pg/wxrecon.conf"
'

test_expect_success 'the reports compared are real and do differ in the audit head' '
	a=$(ls "$TRASH"/d/sqlite/reports/nightly_*-csv/stamp.csv) &&
	b=$(ls "$TRASH"/d/pg/reports/nightly_*-csv/stamp.csv) &&
	test_grep "^audit,[1-9][0-9]*,,,[0-9a-f]\{64\}" "$a" &&
	! cmp -s "$a" "$b" &&
	grep -v "^audit," "$a" >a && grep -v "^audit," "$b" >b && test_cmp a b
'

test_expect_success 'a database wxrecon already uses is refused and left alone' '
	{ DEMO_DB=$URL DEMO_DIR=$TRASH/d2 sh "$SRC_ROOT/scripts/demo.sh" --no-build >o 2>e; rc=$?; } &&
	test "$rc" = 1 &&
	test_grep "^demo: DEMO_DB is a database wxrecon already uses; give the demo an empty one" e &&
	test "$(pg_psql wxt_t0902 -c "SELECT count(*) FROM job_runs")" = 1
'

test_expect_success 'DEMO_DB must be a PostgreSQL URI' '
	{ DEMO_DB=x.db DEMO_DIR=$TRASH/d3 sh "$SRC_ROOT/scripts/demo.sh" --no-build >o 2>e; rc=$?; } &&
	test "$rc" = 1 &&
	test_grep "^demo: DEMO_DB is .x.db.: give a postgresql://... URI" e
'

test_expect_success 'without DEMO_DB it starts a throwaway server and stops it' '
	DEMO_DIR=$TRASH/d4 sh "$SRC_ROOT/scripts/demo-pg.sh" >out4 2>err4 &&
	srv=$(sed -n "s/^demo-pg: a throwaway PostgreSQL .* in \(.*\) (stopped at the end)$/\1/p" out4) &&
	test -n "$srv" &&
	test_grep "^the same 11 planted cases found" out4 &&
	test_grep "^url = postgresql:///wxrecon_demo?host=$srv&" "$TRASH/d4/pg/wxrecon.conf" &&
	! test -e "$srv"
'

test_done
