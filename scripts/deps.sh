#!/bin/sh
# deps.sh - checks the build dependencies of wxrecon; as root, installs the
# missing Debian packages, otherwise prints the apt-get line and fails.
# "deps.sh fuzz" checks only what make fuzz needs (clang and libFuzzer), "deps.sh pg"
# what make test-pg needs (a PostgreSQL 15 server).
set -u

missing=""
need_pc() { # pkg-config name, Debian package
	pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"
}
need_file() { # file, Debian package
	[ -e "$1" ] || missing="$missing $2"
}
need_cmd() { # command, Debian package
	command -v "$1" >/dev/null 2>&1 || missing="$missing $2"
}

if [ "${1:-}" = pg ]; then
	# Only for make test-pg: a PostgreSQL 15 server (initdb, pg_ctl) and psql.
	bindir=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
	[ -x "$bindir/initdb" ] && [ -x "$bindir/pg_ctl" ] || missing="$missing postgresql-15"
	[ -x "$bindir/psql" ] || command -v psql >/dev/null 2>&1 || missing="$missing postgresql-client-15"
elif [ "${1:-}" = fuzz ]; then
	# Only for make fuzz / fuzz-smoke / fuzz-merge: clang with its libFuzzer runtime.
	need_cmd clang clang
	ver=14
	if command -v clang >/dev/null 2>&1; then
		ver=$(clang -dumpversion 2>/dev/null | cut -d. -f1)
		rt=$(clang -print-file-name="libclang_rt.fuzzer-$(uname -m).a" 2>/dev/null)
		[ -e "$rt" ] || missing="$missing libclang-rt-$ver-dev"
	else
		missing="$missing libclang-rt-$ver-dev"
	fi
else
	need_cmd pkg-config pkg-config
	need_cmd cc gcc
	need_cmd make make
	need_cmd prove perl
	need_pc libcurl libcurl4-openssl-dev
	need_pc openssl libssl-dev
	need_pc zlib zlib1g-dev
	need_pc sqlite3 libsqlite3-dev
	need_pc libpq libpq-dev
	need_pc jansson libjansson-dev
	need_pc xlsxwriter libxlsxwriter-dev
	need_pc libmicrohttpd libmicrohttpd-dev
	# libcsv ships no .pc file: look for its header and library.
	have_libcsv=no
	for f in /usr/lib/*/libcsv.so /usr/lib/libcsv.so /usr/local/lib/libcsv.so; do
		[ -e "$f" ] && have_libcsv=yes
	done
	if [ ! -e /usr/include/csv.h ] || [ $have_libcsv = no ]; then
		missing="$missing libcsv-dev"
	fi
	need_cmd sqlite3 sqlite3
	need_cmd gzip gzip
	need_cmd curl curl
fi

[ -z "$missing" ] && exit 0

# shellcheck disable=SC2086
set -- $missing
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -q "$@" >/dev/null 2>&1; then
		apt-get update -q >/dev/null 2>&1 || true
		apt-get install -y -q "$@" >&2 || {
			echo "deps: apt-get install failed for:$missing" >&2
			exit 1
		}
	fi
	exit 0
fi
echo "deps: missing packages:$missing" >&2
echo "deps: install them with: sudo apt-get install -y$missing" >&2
exit 1
