#!/bin/sh
# t0150: a PostgreSQL store ([database] url, --db postgresql://...): the connection
# string is checked when read (exit 2), `config check` connects and names the server,
# every failure to connect is one line with exit 1, and no password is ever shown.
# The cases that need a server run under make test-pg (scripts/pg-tmp.sh) and skip
# without one.
. "$(dirname "$0")/test-lib.sh"

keys_setup
# writes ./NAME.conf: good.conf with its [database] line replaced by LINE
conf_with() {
	sed -e "s#^path = .*#$(sed_repl "$2")#" "$FIXTURES/config/good.conf" >"$1.conf"
}

test_expect_success 'without a url, config check reports the SQLite path as before' '
	conf_with sqlite "path = var/test.db" &&
	wxrecon -c sqlite.conf config check >out &&
	test_grep "^  database   .*var/test.db$" out &&
	test_grep "^  \[database\] url = (unset)$" out
'

# ---- read, not connected: exit 2 ----

conf_with both "path = var/test.db"
sed -i "/^path = /a url = postgresql://wx@db.internal/wx" both.conf
test_expect_code 2 'path and url together are refused' 'wxrecon -c both.conf config check'
test_expect_success '... in one line naming both lines' '
	test_must_fail wxrecon -c both.conf config check 2>err &&
	test_grep "^wxrecon: both.conf:18: \[database\] url and path (line 17) are exclusive" err &&
	test "$(wc -l <err)" = 1
'

conf_with badsyntax "url = postgresql://wx@db.internal/wx?nosuchparam=1"
test_expect_code 2 'a url libpq cannot parse is a config error' 'wxrecon -c badsyntax.conf config check'
test_expect_success '... naming the file, the line and what libpq said' '
	test_must_fail wxrecon -c badsyntax.conf config check 2>err &&
	test_grep "^wxrecon: badsyntax.conf:17: bad value for .database.url.: bad PostgreSQL connection string .postgresql://wx@db.internal/wx?nosuchparam=1.: invalid URI query parameter: \"nosuchparam\"$" err
'

conf_with withpw "url = postgresql://wx:Sesame-42@db.internal/wx"
test_expect_code 2 'a url with a password in it is refused' 'wxrecon -c withpw.conf config check'
test_expect_success '... saying where the password belongs, and never showing it' '
	test_must_fail wxrecon -c withpw.conf config check 2>err &&
	test_grep "carries a password: remove it; the password comes from PGPASSWORD, ~/.pgpass or a service file" err &&
	test_grep "postgresql://wx@db.internal/wx" err &&
	! grep Sesame err
'

conf_with kvpw "url = host=db.internal dbname=wx password='Sesame 42'"
test_expect_success 'key=value conninfo with a password: refused, and masked' '
	test_exit_code 2 wxrecon -c kvpw.conf config check 2>err &&
	test_grep "host=db.internal dbname=wx password=\*\*\*" err &&
	! grep Sesame err
'

test_expect_code 2 '--db with a bad URI is a usage error' '
	wxrecon --db "postgresql://db.internal/wx?bogus=1" -c sqlite.conf config check
'
test_expect_success '... and its password, badly encoded, is masked in libpq'"'"'s message' '
	test_exit_code 2 wxrecon --db "postgresql://wx:Ses%zzame@db.internal/wx" -c sqlite.conf config check 2>err &&
	test_grep "^wxrecon: --db: bad PostgreSQL connection string .postgresql://wx@db.internal/wx.: invalid percent-encoded token: \"\*\*\*\"$" err &&
	! grep Ses err
'
test_expect_success '--db with a password in the URI (or its query) is refused' '
	test_exit_code 2 wxrecon --db "postgresql://wx:Sesame@db.internal/wx" init 2>err &&
	test_grep "^wxrecon: --db: PostgreSQL connection string .postgresql://wx@db.internal/wx. carries a password" err &&
	test_exit_code 2 wxrecon --db "postgresql://db.internal/wx?password=Sesame&sslmode=disable" init 2>err2 &&
	test_grep "string .postgresql://db.internal/wx?sslmode=disable. carries a password" err2 &&
	! grep Sesame err err2
'
test_expect_success '--db that only looks like a URI is refused, not made a file' '
	test_exit_code 2 wxrecon --db "postgresql:/db.internal/wx" init 2>err &&
	test_grep "neither a path nor a PostgreSQL URI" err &&
	! ls -d postgres* 2>/dev/null
'

# ---- until the PostgreSQL backend: only config check uses a url ----

test_expect_code 1 'a command given a URI fails: the store is not in this build yet' '
	wxrecon --db "postgresql://wx@127.0.0.1:1/wx" init
'
test_expect_success '... in one line, and no SQLite file named after the URI appears' '
	test_must_fail wxrecon --db "postgresql://wx@127.0.0.1:1/wx" init 2>err &&
	test_grep "^wxrecon: database .postgresql://wx@127.0.0.1:1/wx.: the PostgreSQL store is not available in this build yet" err &&
	test "$(wc -l <err)" = 1 &&
	test_must_fail wxrecon -c unreach.conf discrepancies 2>/dev/null &&
	! ls -d postgres* var 2>/dev/null
'

# ---- connecting ----

conf_with unreach "url = postgresql://wx@127.0.0.1:1/wx"
test_expect_code 1 'an unreachable server fails config check' 'wxrecon -c unreach.conf config check'
test_expect_success '... naming host and port and what to check' '
	test_must_fail wxrecon -c unreach.conf config check 2>err &&
	test_grep "^wxrecon: database .postgresql://wx@127.0.0.1:1/wx.: cannot reach PostgreSQL at 127.0.0.1:1 (Connection refused): check that the server is running and the url.s host and port$" err
'
test_expect_success 'key=value conninfo reaches libpq the same way' '
	conf_with kv "url = host=127.0.0.1 port=1 dbname=wx user=wx" &&
	test_exit_code 1 wxrecon -c kv.conf config check 2>err &&
	test_grep "cannot reach PostgreSQL at 127.0.0.1:1" err
'
test_expect_success 'help config check says how the server is checked' '
	wxrecon help config check >out &&
	test_grep "PostgreSQL 15.4 at HOST:PORT/DBNAME" out &&
	wxrecon help >out &&
	test_grep "postgresql://USER@HOST:PORT/DBNAME" out
'

if ! pg_available; then
	test_skip 'config check against a real server' 'no PostgreSQL server (make test-pg starts one)'
	test_done
fi

H=$WXRECON_TEST_PGHOST
P=$WXRECON_TEST_PGPORT
pg_createdb wxt_t0150 >/dev/null
URL=$(pg_url wxt_t0150)
TCP="postgresql://$WXRECON_TEST_PGPW_USER@127.0.0.1:$P"
conf_with real "url = $URL"

test_expect_success 'config check connects and reports the server version' '
	wxrecon -c real.conf config check >out &&
	test_grep "^  database   PostgreSQL 1[5-9]\.[0-9]* at $H:$P/wxt_t0150$" out &&
	test_grep "^  \[database\] url = postgresql:///wxt_t0150?host=$H&port=$P&user=postgres$" out
'
test_expect_success '... also as JSON, with the URL as given' '
	wxrecon -c real.conf --json config check >out.json &&
	test_grep "\"database\": *\"postgresql:///wxt_t0150?host=$H&port=$P&user=postgres\"" out.json &&
	test_grep "\"database_server\": *\"PostgreSQL 1[5-9]\.[0-9]* at $H:$P/wxt_t0150\"" out.json
'
test_expect_success '--db with a URI is the store config check connects to' '
	wxrecon -c sqlite.conf --db "$URL" config check >out &&
	test_grep "^  database   PostgreSQL 1[5-9]\.[0-9]* at $H:$P/wxt_t0150$" out
'
test_expect_success 'the password comes from PGPASSWORD (scram over 127.0.0.1)' '
	PGPASSWORD=$WXRECON_TEST_PGPW_PASSWORD wxrecon -c sqlite.conf --db "$TCP/wxt_t0150" config check >out &&
	test_grep "^  database   PostgreSQL 1[5-9]\.[0-9]* at 127.0.0.1:$P/wxt_t0150$" out
'
test_expect_code 1 'a bad password fails' '
	PGPASSWORD=Wrong-Sesame wxrecon -c sqlite.conf --db "$TCP/wxt_t0150" config check
'
test_expect_success '... saying where the password comes from, never what it was' '
	{ PGPASSWORD=Wrong-Sesame wxrecon -c sqlite.conf --db "$TCP/wxt_t0150" config check 2>err; test $? = 1; } &&
	test_grep "^wxrecon: database .$TCP/wxt_t0150.: PostgreSQL at 127.0.0.1:$P refused user .$WXRECON_TEST_PGPW_USER.: password authentication failed for user \"$WXRECON_TEST_PGPW_USER\"; the password comes from PGPASSWORD or ~/.pgpass (or a service file)$" err &&
	! grep Wrong-Sesame err
'
test_expect_success 'no password at all: one line saying where to put it' '
	test_exit_code 1 wxrecon -c sqlite.conf --db "$TCP/wxt_t0150" config check 2>err &&
	test_grep "wants a password for user .$WXRECON_TEST_PGPW_USER. and none was found: set PGPASSWORD or add it to ~/.pgpass$" err
'
test_expect_code 1 'a database that does not exist fails' '
	wxrecon -c sqlite.conf --db "postgresql:///wxt_nosuch?host=$H&port=$P&user=postgres" config check
'
test_expect_success '... saying createdb or fix the url' '
	test_must_fail wxrecon -c sqlite.conf --db "postgresql:///wxt_nosuch?host=$H&port=$P&user=postgres" config check 2>err &&
	test_grep "PostgreSQL at $H:$P has no database .wxt_nosuch.: create it (createdb wxt_nosuch) or fix the url.s database name$" err
'
test_expect_success 'a role that does not exist: createuser or fix the url' '
	test_exit_code 1 wxrecon -c sqlite.conf --db "postgresql://wxt_nobody@/wxt_t0150?host=$H&port=$P" config check 2>err &&
	test_grep "has no role .wxt_nobody.: create it (createuser wxt_nobody) or fix the url.s user$" err
'
test_expect_success 'a server socket that is not there: unreachable, naming it' '
	test_exit_code 1 wxrecon -c sqlite.conf --db "postgresql:///wxt_t0150?host=$TRASH&port=$P" config check 2>err &&
	test_grep "cannot reach PostgreSQL at $TRASH:$P (" err
'
test_expect_code 1 'with a reachable server, commands other than config check still refuse the url' '
	wxrecon -c real.conf init
'

test_done
