# test-lib.sh - TAP helpers for the shell integration tests (after git's t/test-lib.sh).
#
#   . "$(dirname "$0")/test-lib.sh"
#   test_expect_success 'what it shows' '
#           wxrecon init && test -f db.sqlite
#   '
#   test_expect_code 2 'bad option is a usage error' 'wxrecon --nope'
#   test_done
#
# Inside a body: test_must_fail CMD (fails, but not by a crash), test_exit_code N CMD
# (exits with exactly N), test_grep PATTERN FILE, test_cmp. Every body is an unbroken
# &&-chain (checked before it runs, see _chain_ok); only the command under test goes
# in a test_expect_code body, its messages are checked by the next test.
#
# Each script runs in its own fresh temporary directory (removed at the end
# unless WXRECON_KEEP_TMP=1) with a cleaned environment. `wxrecon` and
# `wxrecon_sim` run the built binaries (under valgrind when WXRECON_VALGRIND=1).
# sim_start [ARGS] starts wxrecon-sim on 127.0.0.1 port 0 and sets SIM_PORT and
# SIM_URL; it is stopped when the script ends.

set -u

TEST_DIR=$(cd "$(dirname "$0")" && pwd)
SRC_ROOT=$(cd "$TEST_DIR/../.." && pwd)
BUILD_DIR=${WXRECON_BUILD:-$SRC_ROOT/build}
FIXTURES=$SRC_ROOT/fixtures
WXRECON_BIN=$BUILD_DIR/wxrecon
WXRECON_SIM_BIN=$BUILD_DIR/wxrecon-sim

# A clean, predictable environment (tmux regress uses env -i).
for v in $(env | sed -n 's/^\(WXRECON_[A-Z_]*\)=.*/\1/p'); do
	case $v in
	WXRECON_BUILD|WXRECON_VALGRIND|WXRECON_KEEP_TMP|WXRECON_TEST_DB|WXRECON_TEST_PG*) ;;
	*) unset "$v" ;;
	esac
done
export LC_ALL=C.UTF-8 TZ=America/New_York HOME=/nonexistent
# libpq reads these; a test names its server itself (HOME is gone, so no ~/.pgpass either)
unset PGHOST PGHOSTADDR PGPORT PGUSER PGPASSWORD PGPASSFILE PGDATABASE PGSERVICE \
	PGSERVICEFILE PGOPTIONS PGAPPNAME PGCONNECT_TIMEOUT PGSSLMODE PGTARGETSESSIONATTRS

TRASH=$(mktemp -d "${TMPDIR:-/tmp}/wxrecon-test.XXXXXX")
cd "$TRASH" || exit 1

test_count=0
test_failed=0
SIM_PID=
_cleanup_cmds=

test_when_finished() {
	_cleanup_cmds="$1; $_cleanup_cmds"
}

_finish() {
	[ -n "$_cleanup_cmds" ] && eval "$_cleanup_cmds" >/dev/null 2>&1
	sim_stop
	pg_drop_all
	cd /
	if [ "${WXRECON_KEEP_TMP:-}" = 1 ]; then
		echo "# kept $TRASH"
	else
		rm -rf "$TRASH"
	fi
}
trap _finish EXIT
trap 'exit 130' INT TERM

_vg() {
	if [ "${WXRECON_VALGRIND:-}" = 1 ]; then
		valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
			--errors-for-leak-kinds=definite,indirect "$@"
	else
		"$@"
	fi
}

wxrecon() {
	if [ "$WXRECON_TEST_DB" = pg ]; then
		_pg_args "$@" || return 1
		eval "set -- $_pg_argv"
	fi
	_vg "$WXRECON_BIN" "$@"
}

wxrecon_sim() {
	"$WXRECON_SIM_BIN" "$@"
}

_report() { # status, description
	test_count=$((test_count + 1))
	if [ "$1" = 0 ]; then
		echo "ok $test_count - $2"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $2"
		if [ -s "$TRASH/.out" ]; then
			sed -e 's/^/#   out: /' "$TRASH/.out" | head -40
		fi
		if [ -s "$TRASH/.err" ]; then
			sed -e 's/^/#   err: /' "$TRASH/.err" | head -40
		fi
	fi
}

# _chain_ok DESC SCRIPT: the &&-chain lint of git's test_eval. SCRIPT is evaluated with
# `(exit 117) &&` in front: a whole chain then stops at once and 117 comes back; a
# missing && lets the rest run and exit with its own status. A broken chain hides a
# failed step, so the test fails without running. A step meant to fail or to be read
# with $? goes in { ...; } or ( ... ). WXRECON_TEST_CHAIN_LINT=0 turns the lint off.
_chain_ok() {
	[ "${WXRECON_TEST_CHAIN_LINT:-1}" = 0 ] && return 0
	(eval "(exit 117) && $2
") >/dev/null 2>&1
	[ $? = 117 ] && return 0
	echo "# bug in the test script: broken &&-chain or syntax error in '$1':" >"$TRASH/.err"
	printf '%s\n' "$2" >>"$TRASH/.err"
	: >"$TRASH/.out"
	return 1
}

# test_expect_success DESC SCRIPT: SCRIPT (eval'd, set -e style via &&) must succeed.
test_expect_success() {
	if ! _chain_ok "$1" "$2"; then
		_report 1 "$1"
		return
	fi
	(eval "$2") >"$TRASH/.out" 2>"$TRASH/.err"
	_report $? "$1"
}

# test_expect_code CODE DESC SCRIPT: SCRIPT must exit with CODE. Only the command
# under test goes here: a failing setup step or grep would exit non-zero too.
test_expect_code() {
	_want=$1
	if ! _chain_ok "$2" "$3"; then
		_report 1 "$2"
		return
	fi
	(eval "$3") >"$TRASH/.out" 2>"$TRASH/.err"
	_got=$?
	if [ "$_got" = "$_want" ]; then
		_report 0 "$2"
	else
		echo "# expected exit $_want, got $_got" >>"$TRASH/.err"
		_report 1 "$2"
	fi
}

# test_cmp EXPECTED ACTUAL: like cmp, but shows a diff when they differ.
test_cmp() {
	diff -u "$1" "$2"
}

# test_must_fail CMD [ARGS...]: CMD must fail, as git's: a non-zero exit, but not by
# a signal (an ASan abort, a segfault), not "command not found" (127) and not a
# valgrind error (99, see _vg). Output is left to the caller to redirect.
test_must_fail() {
	"$@"
	_tmf=$?
	if [ $_tmf = 0 ]; then
		echo "test_must_fail: command succeeded: $*" >&2
		return 1
	elif [ $_tmf -gt 128 ] && [ $_tmf -le 192 ]; then
		echo "test_must_fail: died by signal $((_tmf - 128)): $*" >&2
		return 1
	elif [ $_tmf = 127 ]; then
		echo "test_must_fail: command not found: $*" >&2
		return 1
	elif [ $_tmf = 99 ] && [ "${WXRECON_VALGRIND:-}" = 1 ]; then
		echo "test_must_fail: valgrind error: $*" >&2
		return 1
	fi
	return 0
}

# test_exit_code CODE CMD [ARGS...]: CMD must exit with exactly CODE (git's test_expect_code
# inside a test body). Keeps the &&-chain whole: `cmd; test $? = 2 &&` would let a failed
# earlier step through.
test_exit_code() {
	_tec_want=$1
	shift
	"$@"
	_tec_got=$?
	[ "$_tec_got" = "$_tec_want" ] && return 0
	echo "test_exit_code: expected exit $_tec_want, got $_tec_got: $*" >&2
	return 1
}

# test_grep PATTERN FILE: grep that shows the file when it does not match.
test_grep() {
	if ! grep -q -e "$1" "$2"; then
		echo "no match for '$1' in $2:" >&2
		cat "$2" >&2
		return 1
	fi
}

test_skip_all() {
	echo "1..0 # SKIP $1"
	trap - EXIT
	_finish
	exit 0
}

test_done() {
	echo "1..$test_count"
	[ "$test_count" -gt 0 ] || { echo "# no tests were run"; exit 1; }
	[ "$test_failed" = 0 ]
	exit $?
}

# keys_setup: copies the test keys into ./keys with the modes the tool demands.
keys_setup() {
	mkdir -p keys
	cp "$FIXTURES"/keys/* keys/
	chmod 600 keys/apiclient_key.pem keys/wechatpay_key.pem keys/apiv3.key
}

# sim_start [ARGS...]: starts wxrecon-sim on 127.0.0.1, a free port.
sim_start() {
	[ -f keys/apiclient_key.pem ] || keys_setup
	rm -f "$TRASH/.sim.port"
	"$WXRECON_SIM_BIN" --port 0 --keys keys --portfile "$TRASH/.sim.port" "$@" \
		>"$TRASH/sim.log" 2>&1 &
	SIM_PID=$!
	_i=0
	while [ ! -s "$TRASH/.sim.port" ]; do
		_i=$((_i + 1))
		if [ $_i -gt 100 ] || ! kill -0 "$SIM_PID" 2>/dev/null; then
			echo "# wxrecon-sim did not start:" && sed 's/^/#   /' "$TRASH/sim.log"
			return 1
		fi
		sleep 0.05
	done
	SIM_PORT=$(cat "$TRASH/.sim.port")
	SIM_URL="http://127.0.0.1:$SIM_PORT"
	export SIM_PORT SIM_URL
}

sim_stop() {
	if [ -n "$SIM_PID" ]; then
		kill "$SIM_PID" 2>/dev/null
		wait "$SIM_PID" 2>/dev/null
		SIM_PID=
	fi
}

# sim_admin METHOD PATH [JSON]: calls an admin endpoint, prints the body; fails on non-2xx.
sim_admin() {
	if [ $# -ge 3 ]; then
		curl -sS --fail-with-body -X "$1" -H 'Content-Type: application/json' \
			--data-binary "$3" "$SIM_URL$2"
	else
		curl -sS --fail-with-body -X "$1" "$SIM_URL$2"
	fi
}

# config_setup: writes ./wxrecon.conf (fixtures/config/good.conf) for the test
# keys, pointing at the running simulator (or at nothing when none runs), and at
# the test's database (test_config_db).
config_setup() {
	[ -f keys/apiclient_key.pem ] || keys_setup
	_cs_db=$(test_config_db var/test.db) || return 1
	_cs_db=$(sed_repl "$_cs_db")
	sed -e "s|^base_url = .*|base_url = ${SIM_URL:-http://127.0.0.1:1}|" \
		-e "s|^retries = .*|retries = 2\nretry_base_ms = 10|" \
		-e "s#^path = .*#$_cs_db#" \
		"$FIXTURES/config/good.conf" >wxrecon.conf
}

# merchants_config_setup: config_setup's file as ./one.conf ([merchant] alone), and
# ./wxrecon.conf with its [merchant] keys shared by two named merchants (SPEC 10):
# shop-a (mchid 1900000001) and shop-b (1900000002).
merchants_config_setup() {
	config_setup || return 1
	mv wxrecon.conf one.conf
	sed -e '/^mchid = /d' -e '/^appid = /d' one.conf >wxrecon.conf
	printf '%s\n' '' '[merchant "shop-a"]' 'mchid = 1900000001' 'appid = wx1111111111111111' \
		'' '[merchant "shop-b"]' 'mchid = 1900000002' 'appid = wx2222222222222222' >>wxrecon.conf
}

# ---- the store under test: SQLite (default) or PostgreSQL (WXRECON_TEST_DB=pg) ----
#
# A test names its databases by file, as it always has ("db.sqlite", "var/test.db").
# With WXRECON_TEST_DB=pg each such name is a fresh PostgreSQL database of the server
# `make test-pg` started (WXRECON_TEST_PGHOST/PGPORT/PGUSER, scripts/pg-tmp.sh):
# created on first use, dropped when the script ends. So:
#   wxrecon --db FILE ...     the wrapper above passes that database's URI instead;
#   test_db_target FILE       prints what --db gets: FILE, or the URI;
#   test_config_db FILE       prints the [database] line: "path = FILE" or "url = URI";
#   db_sql FILE [SQL]         runs SQL (or stdin) with sqlite3 on FILE, or psql on its
#                             database; rows come out alike ('|'-separated, no header);
#                             after an INSERT that gave ids by hand the next id is
#                             max + 1 on both (PostgreSQL: the identity sequences);
#   test_db_is_pg             true when the store under test is PostgreSQL.
# A check that only means something on one engine (PRAGMA journal_mode, the file's
# mode) says so: `test_db_is_pg && test_skip 'why' || test_expect_success ...`.
WXRECON_TEST_DB=${WXRECON_TEST_DB:-sqlite}
case $WXRECON_TEST_DB in
sqlite|pg) ;;
*) echo "Bail out! WXRECON_TEST_DB is '$WXRECON_TEST_DB' (want sqlite or pg)"; exit 1 ;;
esac
PG_BIN=${WXRECON_TEST_PGBIN:-/usr/lib/postgresql/15/bin}

test_db_is_pg() {
	[ "$WXRECON_TEST_DB" = pg ]
}

# pg_available: a test server was started (make test-pg) and answers.
pg_available() {
	[ -n "${WXRECON_TEST_PGHOST:-}" ] && [ -n "${WXRECON_TEST_PGPORT:-}" ] &&
		"$PG_BIN/psql" -X -q -At -h "$WXRECON_TEST_PGHOST" -p "$WXRECON_TEST_PGPORT" \
			-U "${WXRECON_TEST_PGUSER:-postgres}" -d postgres -c 'SELECT 1' >/dev/null 2>&1
}

# pg_psql DBNAME [psql args...]: psql as the test superuser over the socket, quiet,
# unaligned, no header, stopping at the first error.
pg_psql() {
	_pp_db=$1
	shift
	"$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$WXRECON_TEST_PGHOST" \
		-p "$WXRECON_TEST_PGPORT" -U "${WXRECON_TEST_PGUSER:-postgres}" -d "$_pp_db" "$@"
}

# pg_db_name FILE: the database that stands for FILE (relative to the current
# directory, as a path would be) in this script: "wxt_<script>_<cksum>_<name>".
pg_db_name() {
	case $1 in
	/*) _pn=$1 ;;
	*) _pn=$(pwd)/$1 ;;
	esac
	# "../db.sqlite" from a subdirectory is the same database as "db.sqlite"
	if [ -d "${_pn%/*}" ]; then
		_pn=$(cd "${_pn%/*}" && pwd)/${_pn##*/}
	fi
	_pn=${_pn#"$TRASH"/}
	_pc=$(printf '%s' "$_pn" | cksum | cut -d' ' -f1)
	printf 'wxt_%s_%s_%s' "${TRASH##*.}" "$_pc" "${_pn##*/}" | tr -c 'A-Za-z0-9_' '_' |
		tr 'A-Z' 'a-z' | cut -c1-63
}

# pg_url DBNAME: the URI of DBNAME on the test server (socket; no password).
pg_url() {
	printf 'postgresql:///%s?host=%s&port=%s&user=%s' "$1" "$WXRECON_TEST_PGHOST" \
		"$WXRECON_TEST_PGPORT" "${WXRECON_TEST_PGUSER:-postgres}"
}

# pg_createdb DBNAME: a fresh database, dropped when the script ends.
pg_createdb() {
	if [ -z "${WXRECON_TEST_PGHOST:-}" ]; then
		echo "pg_createdb: no test server (run the tests through make test-pg)" >&2
		return 1
	fi
	grep -qx "$1" "$TRASH/.pgdbs" 2>/dev/null && return 0
	pg_psql postgres -c "CREATE DATABASE \"$1\"" || return 1
	echo "$1" >>"$TRASH/.pgdbs"
}

# What the tests' own SQL (db_sql) takes from SQLite, for psql: in a schema of its own,
# on psql's search path only (PGOPTIONS in db_sql), so wxrecon never sees it; made at
# the first db_sql on a database.
#   typeof(x)     SQLite's type names: integer, text, real, null;
#   sum(boolean)  SQLite's booleans are integers: sum(x = 'y') counts;
#   date(d, m)    SQLite's date with one modifier ('+3 days');
#   printf(f, n)  for a format "PREFIX%0Nd" only;
#   group_concat(x[, sep]);
#   json_extract(json, path) as text (true 1, false 0), NULL when absent: compare it
#                 with a number after CAST(... AS INTEGER);
#   char(n)       is chr(n) (_pg_dq_strings: char is a type name in PostgreSQL).
_pg_compat_sql="CREATE SCHEMA wxt_compat;
CREATE FUNCTION wxt_compat.typeof(anyelement) RETURNS text LANGUAGE sql IMMUTABLE AS
 \$\$SELECT CASE WHEN \$1 IS NULL THEN 'null'
   WHEN pg_typeof(\$1) IN ('bigint'::regtype, 'integer'::regtype, 'smallint'::regtype,
     'boolean'::regtype) THEN 'integer'
   WHEN pg_typeof(\$1) IN ('numeric'::regtype, 'double precision'::regtype) THEN 'real'
   ELSE 'text' END\$\$;
CREATE FUNCTION wxt_compat.bool_add(bigint, boolean) RETURNS bigint LANGUAGE sql IMMUTABLE AS
 \$\$SELECT \$1 + CASE WHEN \$2 THEN 1 ELSE 0 END\$\$;
CREATE FUNCTION wxt_compat.date(text, text) RETURNS text LANGUAGE sql IMMUTABLE AS
 \$\$SELECT to_char(\$1::date + \$2::interval, 'YYYY-MM-DD')\$\$;
CREATE FUNCTION wxt_compat.printf(text, bigint) RETURNS text LANGUAGE sql IMMUTABLE AS
 \$\$SELECT regexp_replace(\$1, '%0([0-9]+)d.*', '') ||
   lpad(\$2::text, substring(\$1 from '%0([0-9]+)d')::int, '0')\$\$;
CREATE FUNCTION wxt_compat.gc_add(text, text, text) RETURNS text LANGUAGE sql IMMUTABLE AS
 \$\$SELECT CASE WHEN \$2 IS NULL THEN \$1 WHEN \$1 IS NULL THEN \$2 ELSE \$1 || \$3 || \$2 END\$\$;
CREATE AGGREGATE wxt_compat.group_concat(text, text) (SFUNC = wxt_compat.gc_add, STYPE = text);
CREATE FUNCTION wxt_compat.gc_add(text, text) RETURNS text LANGUAGE sql IMMUTABLE AS
 \$\$SELECT wxt_compat.gc_add(\$1, \$2, ',')\$\$;
CREATE AGGREGATE wxt_compat.group_concat(text) (SFUNC = wxt_compat.gc_add, STYPE = text);
CREATE FUNCTION wxt_compat.json_extract(text, text) RETURNS text LANGUAGE sql IMMUTABLE AS
 \$\$SELECT CASE jsonb_typeof(v) WHEN 'boolean' THEN v::boolean::int::text ELSE v #>> '{}' END
   FROM jsonb_path_query_first(\$1::jsonb, \$2::jsonpath) AS v\$\$;
CREATE AGGREGATE wxt_compat.sum(boolean) (SFUNC = wxt_compat.bool_add, STYPE = bigint,
 INITCOND = '0');"

# Every identity column's sequence past the largest id in its table.
_pg_resync_ids="DO \$\$DECLARE r record; BEGIN
 FOR r IN SELECT c.relname AS t, a.attname AS col,
   pg_get_serial_sequence(quote_ident(c.relname), a.attname) AS s
   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
   JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE a.attidentity <> '' AND n.nspname = 'public' LOOP
  EXECUTE format('SELECT setval(%L, COALESCE((SELECT max(%I) FROM %I), 0) + 1, false)',
   r.s, r.col, r.t);
 END LOOP; END\$\$"

pg_drop_all() {
	[ -s "$TRASH/.pgdbs" ] || return 0
	while read -r _pd; do
		pg_psql postgres -c "DROP DATABASE IF EXISTS \"$_pd\" WITH (FORCE)" >/dev/null 2>&1
	done <"$TRASH/.pgdbs"
	: >"$TRASH/.pgdbs"
}

test_db_target() {
	if test_db_is_pg; then
		pg_createdb "$(pg_db_name "$1")" || return 1
		pg_url "$(pg_db_name "$1")"
	else
		printf '%s\n' "$1"
	fi
}

test_config_db() {
	_tcd=$(test_db_target "$1") || return 1
	if test_db_is_pg; then
		printf 'url = %s\n' "$_tcd"
	else
		printf 'path = %s\n' "$_tcd"
	fi
}

# db_copy FROM TO: the database FILE FROM copied to TO (cp, or CREATE DATABASE ... TEMPLATE).
db_copy() {
	if test_db_is_pg; then
		_dc_to=$(pg_db_name "$2")
		pg_psql postgres -c "DROP DATABASE IF EXISTS \"$_dc_to\"" &&
			pg_psql postgres -c "CREATE DATABASE \"$_dc_to\" TEMPLATE \"$(pg_db_name "$1")\"" || return 1
		grep -qx "$_dc_to" "$TRASH/.pgdbs" 2>/dev/null || echo "$_dc_to" >>"$TRASH/.pgdbs"
		grep -qx "$(pg_db_name "$1")" "$TRASH/.pgcompat" 2>/dev/null &&
			echo "$_dc_to" >>"$TRASH/.pgcompat"
		return 0
	fi
	cp "$1" "$2"
}

# db_sql_untriggered FILE TRIGGER SQL: SQL run with the audit trigger TRIGGER out of the
# way, as someone with the file (SQLite: DROP TRIGGER) or the schema's owner
# (PostgreSQL: ALTER TABLE audit_log DISABLE TRIGGER) would do it by hand.
db_sql_untriggered() {
	if test_db_is_pg; then
		db_sql "$1" "ALTER TABLE audit_log DISABLE TRIGGER $2; $3"
	else
		db_sql "$1" "DROP TRIGGER $2; $3"
	fi
}

# db_hold_writer FILE SECONDS: another writer holds the database FILE for SECONDS, in
# the background (its pid in DB_WRITER_PID; killing it ends the hold); returns once
# the lock is held. SQLite: the sqlite3 shell in BEGIN IMMEDIATE with a write.
# PostgreSQL: a psql session in a transaction holding the advisory lock every
# wxrecon write transaction takes (PG_WRITER_KEY in src/db/db_pg.c).
DB_PG_WRITER_KEY=33884928217820014
db_hold_writer() {
	if test_db_is_pg; then
		_dh_db=$(pg_db_name "$1")
		pg_psql "$_dh_db" -c "BEGIN" -c "SELECT pg_advisory_xact_lock($DB_PG_WRITER_KEY)" \
			-c "SELECT pg_sleep($2)" -c "COMMIT" >/dev/null &
		DB_WRITER_PID=$!
		_dh_held="SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND (classid::bigint << 32 | objid::bigint) = $DB_PG_WRITER_KEY"
		for _dh in $(seq 100); do
			[ "$(pg_psql "$_dh_db" -c "$_dh_held")" = 1 ] && return 0
			sleep 0.05
		done
	else
		{ echo ".bail on"; echo ".timeout 5000"; echo "BEGIN IMMEDIATE;";
		  echo "SELECT 'held';"; sleep "$2"; echo "COMMIT;"; } | sqlite3 "$1" >"$TRASH/.writer" &
		DB_WRITER_PID=$!
		for _dh in $(seq 100); do
			grep -q held "$TRASH/.writer" 2>/dev/null && return 0
			sleep 0.05
		done
	fi
	echo "db_hold_writer: no hold on $1 after 5 s" >&2
	return 1
}

# _pg_dq_strings: stdin's SQL with each "..." outside '...' as the literal '...'
# ("" in it is one ", as SQLite reads it).
_pg_dq_strings() {
	awk 'BEGIN { q = sprintf("%c", 39); st = 0 }
	{
		out = ""
		n = length($0)
		for (i = 1; i <= n; i++) {
			c = substr($0, i, 1)
			if (st == 0 && substr($0, i, 5) == "char(") { out = out "chr("; i += 4; continue }
			if (st == 0 && c == q) st = 1
			else if (st == 1 && c == q) st = 0
			else if (st == 0 && c == "\"") { st = 2; c = q }
			else if (st == 2 && c == "\"" && substr($0, i + 1, 1) == "\"") i++
			else if (st == 2 && c == "\"") { st = 0; c = q }
			else if (st == 2 && c == q) c = q q
			out = out c
		}
		print out
	}'
}

_pg_compat_psql() {
	if ! grep -qx "$1" "$TRASH/.pgcompat" 2>/dev/null; then
		pg_psql "$1" -c "$_pg_compat_sql" || return 1
		echo "$1" >>"$TRASH/.pgcompat"
	fi
	(
		PGOPTIONS='-c search_path=public,wxt_compat'
		export PGOPTIONS
		pg_psql "$1"
	)
}

db_sql() {
	_ds_file=$1
	shift
	if test_db_is_pg; then
		pg_createdb "$(pg_db_name "$_ds_file")" || return 1
		# SQLite reads "x" as the string 'x' where no column is named x: the tests
		# write strings so, and name no column in double quotes
		_ds_db=$(pg_db_name "$_ds_file")
		if [ "${1:-}" = .dump ]; then
			# the data as INSERTs, one a row in table order, as sqlite3 .dump writes them
			# (no schema, no sequences: a rolled back INSERT moves a sequence on)
			"$PG_BIN/pg_dump" -h "$WXRECON_TEST_PGHOST" -p "$WXRECON_TEST_PGPORT" \
				-U "${WXRECON_TEST_PGUSER:-postgres}" -a --inserts --no-comments \
				--exclude-schema=wxt_compat "$_ds_db" 2>"$TRASH/.pgdump.err" |
				sed -n 's/^INSERT INTO public\./INSERT INTO /p'
		else
			if [ $# -gt 0 ]; then
				printf '%s\n' "$1" >"$TRASH/.sql"
			else
				cat >"$TRASH/.sql"
			fi
			_pg_dq_strings <"$TRASH/.sql" | _pg_compat_psql "$_ds_db" || return 1
			# a row given its id by hand: the next id SQLite would pick, max + 1
			if grep -qi "insert" "$TRASH/.sql"; then
				pg_psql "$_ds_db" -c "$_pg_resync_ids" || return 1
			fi
		fi
	else
		sqlite3 "$_ds_file" "$@"
	fi
}

# _pg_args ARGS...: the global options of a wxrecon call with every --db FILE turned
# into its database's URI (a value starting "postgres...:" is left as written),
# quoted for eval into _pg_argv.
_pg_args() {
	_pg_argv=
	_pa_next=
	_pa_opts=1
	for _pa in "$@"; do
		if [ "$_pa_next" = db ]; then
			case $_pa in
			postgres*:*) ;; # a URI (or a test of one) as written
			*) _pa=$(test_db_target "$_pa") || return 1 ;;
			esac
			_pa_next=
		elif [ "$_pa_next" = value ]; then
			_pa_next=
		elif [ $_pa_opts = 1 ]; then
			case $_pa in
			--db) _pa_next=db ;;
			--db=postgres*:*) ;;
			--db=*) _pa="--db=$(test_db_target "${_pa#--db=}")" || return 1 ;;
			-c|--config) _pa_next=value ;;
			-*) ;;
			*) _pa_opts=0 ;;
			esac
		fi
		_pg_argv="$_pg_argv '$(printf '%s' "$_pa" | sed "s/'/'\\\\''/g")'"
	done
}

# sed_repl TEXT: TEXT for the replacement of a sed s### or s||| (& # | \ escaped).
sed_repl() {
	printf '%s\n' "$1" | sed 's/[&#|\\]/\\&/g'
}

# test_skip DESC WHY: reports DESC as skipped (TAP "# SKIP") with the reason.
test_skip() {
	test_count=$((test_count + 1))
	echo "ok $test_count - $1 # SKIP $2"
}
