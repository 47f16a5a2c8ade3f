# lib-payflow.sh - helpers for the payment-flow tests (tests/cli/t07*-*.sh).
# Source it after test-lib.sh.
#
#   pf_setup [SIM ARGS]   keys, the simulator (clock fixed at $PF_NOW), ./wxrecon.conf
#                         pointing at it (database db.sqlite), wxrecon init
#   db SQL                runs SQL on db.sqlite
#   jget PATH FILE        a value of a JSON file ($.PATH, via sqlite3's json_extract)
#   notify_start [ARGS]   wxrecon notify serve on a free port, in the background
#                         (under valgrind when WXRECON_VALGRIND=1); sets NOTIFY_PID,
#                         NOTIFY_PORT, NOTIFY_URL (.../wxpay/notify)
#   notify_stop           SIGTERM; returns its exit status
#   wait_for SQL VALUE    waits (up to ~10 s) until SQL prints VALUE

PF_NOW=${PF_NOW:-2026-11-01T10:00:00+08:00}
WXRECON_NOW=$PF_NOW
export WXRECON_NOW
NOTIFY_PID=

pf_setup() {
	keys_setup
	sim_start "$@" || return 1
	sim_admin POST /_sim/clock "{\"now\":\"$PF_NOW\"}" >/dev/null || return 1
	_pf_db=$(test_config_db db.sqlite) || return 1
	_pf_db=$(sed_repl "$_pf_db")
	sed -e "s#^base_url = .*#base_url = $SIM_URL#" -e "s#^path = .*#$_pf_db#" \
		-e "s#^retries = .*#retries = 2\nretry_base_ms = 20#" \
		"$FIXTURES/config/good.conf" >wxrecon.conf
	wxrecon init 2>/dev/null
}

db() {
	db_sql db.sqlite "$1"
}

jget() {
	sqlite3 :memory: "SELECT json_extract(CAST(readfile('$2') AS TEXT), '\$.$1')"
}

notify_start() {
	rm -f .notify.port
	if [ "${WXRECON_VALGRIND:-}" = 1 ]; then
		valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
			--errors-for-leak-kinds=definite,indirect \
			"$WXRECON_BIN" notify serve --port 0 --portfile .notify.port "$@" \
			>notify.out 2>notify.err &
	else
		"$WXRECON_BIN" notify serve --port 0 --portfile .notify.port "$@" \
			>notify.out 2>notify.err &
	fi
	NOTIFY_PID=$!
	_i=0
	while [ ! -s .notify.port ]; do
		_i=$((_i + 1))
		if [ $_i -gt 300 ] || ! kill -0 "$NOTIFY_PID" 2>/dev/null; then
			echo "# notify serve did not start:" && sed 's/^/#   /' notify.err
			return 1
		fi
		sleep 0.05
	done
	NOTIFY_PORT=$(cat .notify.port)
	NOTIFY_URL="http://127.0.0.1:$NOTIFY_PORT/wxpay/notify"
}

notify_stop() {
	[ -n "$NOTIFY_PID" ] || return 0
	kill -TERM "$NOTIFY_PID" 2>/dev/null
	wait "$NOTIFY_PID"
	_rc=$?
	NOTIFY_PID=
	return $_rc
}

notify_kill() {
	[ -n "$NOTIFY_PID" ] && kill -KILL "$NOTIFY_PID" 2>/dev/null
	NOTIFY_PID=
}

wait_for() {
	_i=0
	while [ "$(db "$1")" != "$2" ]; do
		_i=$((_i + 1))
		[ $_i -gt 200 ] && { echo "waited for '$1' = '$2', have '$(db "$1")'" >&2; return 1; }
		sleep 0.05
	done
}
