#!/bin/sh
# test-pg.sh PROVE_ARGS... - runs prove with a throwaway PostgreSQL server
# (scripts/pg-tmp.sh) for the tests that need one (make test-pg). The server
# lives in a fresh /tmp/wxrecon-pg.XXXXXX and is stopped and removed at the end,
# also when prove fails or the run is interrupted; nothing is left running.
# WXRECON_TEST_DB=pg (make test-pg TEST_PG_ALL=1) makes every CLI test use it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/wxrecon-pg.XXXXXX") || exit 1
started=no

cleanup() {
	if [ $started = yes ]; then
		sh "$here/pg-tmp.sh" stop "$dir" ||
			echo "test-pg: the server in $dir did not stop; stop it with pg_ctl -D $dir/data stop" >&2
	fi
	rm -rf "$dir"
}
pid=
trap cleanup EXIT
# prove runs in the background so that a signal is handled at once, not after it
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; exit 130' INT TERM

t0=$(date +%s)
started=yes
sh "$here/pg-tmp.sh" start "$dir" >/dev/null || exit 1
set -a
. "$dir/env"
set +a
echo "test-pg: PostgreSQL $("$WXRECON_TEST_PGBIN/postgres" -V | sed 's/^[^0-9]*\([0-9.]*\).*/\1/') on $WXRECON_TEST_PGHOST port $WXRECON_TEST_PGPORT, up in $(($(date +%s) - t0)) s"
"${PROVE:-prove}" "$@" &
pid=$!
wait "$pid"
rc=$?
pid=
echo "test-pg: $(($(date +%s) - t0)) s in all"
exit $rc
