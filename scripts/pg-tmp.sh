#!/bin/sh
# pg-tmp.sh - a throwaway PostgreSQL server for the tests (issue 16).
#
#   sh scripts/pg-tmp.sh start DIR    initdb DIR/data, start it, print its env lines
#   sh scripts/pg-tmp.sh stop DIR     stop it; fails if anything is left running
#   sh scripts/pg-tmp.sh status DIR   exit 0 while it runs
#   sh scripts/pg-tmp.sh restart DIR [fast|immediate]
#                                     restart it (the fault tests: every
#                                     connection is cut), same port and socket
#
# The server listens on a unix socket in DIR (trust, for the superuser
# "postgres") and on 127.0.0.1 on a free port (scram-sha-256 only: the tests
# of a bad password). fsync is off: nothing in it is worth keeping. start
# writes DIR/env and prints the same lines:
#
#   WXRECON_TEST_PGHOST=DIR           the socket directory
#   WXRECON_TEST_PGPORT=PORT          the port, for the socket and 127.0.0.1
#   WXRECON_TEST_PGUSER=postgres      the superuser (trust on the socket)
#   WXRECON_TEST_PGPW_USER=wxrecon_pw a role that logs in over 127.0.0.1 with
#   WXRECON_TEST_PGPW_PASSWORD=...    this password (random per server)
#   WXRECON_TEST_PGBIN=BINDIR         where psql, createdb and dropdb are
#
# PostgreSQL refuses to run as root: started by root (CI), initdb and the
# server run as $WXRECON_PG_OSUSER (default nobody), who then owns DIR. DIR
# must not exist or be empty. The binaries come from $PG_BINDIR, else
# `pg_config --bindir`, else /usr/lib/postgresql/15/bin.
set -eu

die() {
	echo "pg-tmp: $*" >&2
	exit 1
}

usage="usage: pg-tmp.sh start|stop|status DIR, or restart DIR [fast|immediate]"
[ $# = 2 ] || { [ $# = 3 ] && [ "$1" = restart ]; } || die "$usage"
cmd=$1
dir=$2
mode=${3:-fast}
case $dir in
/*) ;;
*) dir=$(pwd)/$dir ;;
esac
# the server's user may not be able to enter the caller's directory (runuser cds there)
cd /

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ] && command -v pg_config >/dev/null 2>&1; then
	bindir=$(pg_config --bindir)
fi
[ -n "$bindir" ] && [ -x "$bindir/pg_ctl" ] || bindir=/usr/lib/postgresql/15/bin
[ -x "$bindir/pg_ctl" ] ||
	die "no PostgreSQL server binaries (pg_ctl) in $bindir: install postgresql-15 (or set PG_BINDIR)"

osuser=
if [ "$(id -u)" = 0 ]; then
	osuser=${WXRECON_PG_OSUSER:-nobody}
	id "$osuser" >/dev/null 2>&1 || die "no OS user '$osuser' to run PostgreSQL as (set WXRECON_PG_OSUSER)"
fi

# as_pg CMD...: CMD as the user that owns the server
as_pg() {
	if [ -n "$osuser" ]; then
		runuser -u "$osuser" -- "$@"
	else
		"$@"
	fi
}

running() {
	[ -f "$dir/data/PG_VERSION" ] && as_pg "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

case $cmd in
start)
	mkdir -p "$dir"
	[ -z "$(ls -A "$dir")" ] || die "'$dir' is not empty (stop and remove the old server first)"
	if [ -n "$osuser" ]; then
		chown "$osuser" "$dir"
		as_pg test -w "$dir" || die "'$osuser' cannot write '$dir' (a parent directory is closed to it?)"
	fi
	chmod 755 "$dir" # the socket is there, for the tests' own user
	pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
		--no-sync >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; die "initdb failed in '$dir/data'"; }
	cat >"$dir/data/pg_hba.conf" <<EOF
local all all trust
host all all 127.0.0.1/32 scram-sha-256
EOF
	# a free port: take one from the pid and the clock, try the next on a clash
	base=$(( ( $$ * 7 + $(date +%s) ) % 20000 + 30000 ))
	port=
	for i in 0 1 2 3 4 5 6 7 8 9; do
		p=$((base + i * 97))
		if as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
			-o "-c listen_addresses=127.0.0.1 -c port=$p -c unix_socket_directories='$dir' \
			    -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
			    -c max_connections=100 -c shared_buffers=32MB" >/dev/null 2>&1; then
			port=$p
			break
		fi
		grep -q 'could not bind\|Address already in use\|could not create any TCP' \
			"$dir/server.log" 2>/dev/null ||
			{ cat "$dir/server.log" >&2; die "the server in '$dir/data' did not start"; }
	done
	[ -n "$port" ] || die "no free port for the server in '$dir/data'"
	"$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres \
		-c "CREATE ROLE wxrecon_pw LOGIN PASSWORD '$pw'" >/dev/null ||
		die "could not create the password role"
	{
		echo "WXRECON_TEST_PGHOST=$dir"
		echo "WXRECON_TEST_PGPORT=$port"
		echo "WXRECON_TEST_PGUSER=postgres"
		echo "WXRECON_TEST_PGPW_USER=wxrecon_pw"
		echo "WXRECON_TEST_PGPW_PASSWORD=$pw"
		echo "WXRECON_TEST_PGBIN=$bindir"
	} >"$dir/env"
	chmod 600 "$dir/env" # a throwaway role's password, still nobody else's business
	cat "$dir/env"
	;;
stop)
	[ -f "$dir/data/PG_VERSION" ] || exit 0
	if running; then
		as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null ||
			as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null || true
	fi
	! running || die "the server in '$dir/data' is still running"
	;;
status)
	running
	;;
restart)
	case $mode in fast | immediate) ;; *) die "$usage" ;; esac
	running || die "no server runs in '$dir/data'"
	# pg_ctl restart starts it with the options of the first start (postmaster.opts)
	as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m "$mode" -w -t 30 restart \
		>/dev/null || die "the server in '$dir/data' did not restart"
	;;
*)
	die "$usage"
	;;
esac
