#!/bin/sh
# t0205-config-lookup: which config file is read: -c FILE, else
# $WXRECON_CONFIG, else ./wxrecon.conf, else SYSCONFDIR/wxrecon/wxrecon.conf
# (/etc by default); and the default job dir is jobs/ beside whichever was
# read. The last step is tested with build/tests/wxrecon-sysconf, the same
# wxrecon built with the relative system config dir sysconf/ (see the
# Makefile), so /etc is never touched.
. "$(dirname "$0")/test-lib.sh"

WXS=$BUILD_DIR/tests/wxrecon-sysconf
[ -x "$WXS" ] || test_skip_all "no $WXS (make builds it)"
wxs() { _vg "$WXS" "$@"; }

# conf DIR: a usable config in DIR (its own keys, no [jobs] dir: the default)
conf() {
	mkdir -p "$1" && keys_setup && { [ "$1" = . ] || cp -p -r keys "$1/"; } &&
	grep -v "^dir = " "$FIXTURES/config/good.conf" >"$1/wxrecon.conf"
}
# picked OUT: the config that config check says it read
picked() { sed -n "1s/^config '\(.*\)' is usable$/\1/p" "$1"; }

test_expect_success 'setup: a config in each place of the lookup' '
	conf cflag && conf envdir && conf . && conf sysconf/wxrecon
'

test_expect_success '1. -c FILE comes first' '
	WXRECON_CONFIG=$TRASH/envdir/wxrecon.conf wxs -c cflag/wxrecon.conf config check >out &&
	test "$(picked out)" = cflag/wxrecon.conf
'
test_expect_success '2. then $WXRECON_CONFIG, before ./wxrecon.conf and the system one' '
	WXRECON_CONFIG=$TRASH/envdir/wxrecon.conf wxs config check >out &&
	test "$(picked out)" = "$TRASH/envdir/wxrecon.conf"
'
test_expect_success '   an empty $WXRECON_CONFIG counts as unset' '
	WXRECON_CONFIG= wxs config check >out &&
	test "$(picked out)" = wxrecon.conf
'
test_expect_success '3. then ./wxrecon.conf, before the system one' '
	wxs config check >out &&
	test "$(picked out)" = wxrecon.conf
'
test_expect_success '4. then SYSCONFDIR/wxrecon/wxrecon.conf' '
	mv wxrecon.conf away.conf &&
	wxs config check >out &&
	test "$(picked out)" = sysconf/wxrecon/wxrecon.conf &&
	mv away.conf wxrecon.conf
'
test_expect_success '   a -c or $WXRECON_CONFIG that does not exist is an error, not a fallback' '
	test_exit_code 2 wxs -c nope.conf config check >out 2>err &&
	test_grep "nope.conf" err &&
	{ WXRECON_CONFIG=$TRASH/nope.conf wxs config check >out 2>err; test $? = 2; } &&
	test_grep "nope.conf" err
'
test_expect_success '   with none of them: config check and a database command say where to put one' '
	mv wxrecon.conf away.conf && mv sysconf sysconf.off &&
	test_exit_code 2 wxs config check >out 2>err &&
	test_grep "^wxrecon: no config file: give -c FILE, set WXRECON_CONFIG, or create ./wxrecon.conf or sysconf/wxrecon/wxrecon.conf$" err &&
	test_exit_code 2 wxs runs >out 2>err &&
	test_grep "or create ./wxrecon.conf or sysconf/wxrecon/wxrecon.conf), or --db PATH$" err &&
	mv away.conf wxrecon.conf && mv sysconf.off sysconf
'
test_expect_success 'the installed build looks in /etc/wxrecon, and says so' '
	wxrecon --help >out &&
	test_grep "else /etc/wxrecon/wxrecon.conf)" out &&
	wxs --help >out &&
	test_grep "else sysconf/wxrecon/wxrecon.conf)" out
'

# the default job dir: jobs/ beside the file that was read, at each step
jobs_dir() { sed -n "s/^  \[jobs\] dir = //p" "$1"; }
test_expect_success 'the job dir defaults to jobs/ beside the config, at every step' '
	wxs -c cflag/wxrecon.conf config check >out &&
	test "$(jobs_dir out)" = cflag/jobs &&
	(cd / && WXRECON_CONFIG=$TRASH/envdir/wxrecon.conf "$WXS" config check) >out &&
	test "$(jobs_dir out)" = "$TRASH/envdir/jobs" &&
	wxs config check >out &&
	test "$(jobs_dir out)" = jobs &&
	mv wxrecon.conf away.conf &&
	wxs config check >out &&
	test "$(jobs_dir out)" = sysconf/wxrecon/jobs &&
	mv away.conf wxrecon.conf
'
test_expect_success 'and run finds its job there' '
	mv wxrecon.conf away.conf &&
	mkdir sysconf/wxrecon/jobs &&
	printf "[job]\nsteps = reconcile\n" >sysconf/wxrecon/jobs/onlyhere.job &&
	wxs init 2>/dev/null &&
	wxs --verbose run onlyhere --date 2026-11-01 --dry-run >out 2>err &&
	test_grep "^run [0-9]* (onlyhere 2026-11-01): " out &&
	test -f sysconf/wxrecon/var/test.db &&
	mv away.conf wxrecon.conf
'

test_expect_success 'a broken config found by the lookup stops no help or version' '
	mkdir broken && printf "[merchant]\nbogus = 1\n" >broken/wxrecon.conf &&
	(cd broken && wxrecon version >../v.out 2>../v.err) && test_grep "^wxrecon [0-9]" v.out &&
	test ! -s v.err &&
	(cd broken && wxrecon help report >../h.out 2>../h.err) && test_grep "report" h.out &&
	(cd broken && WXRECON_CONFIG=wxrecon.conf wxrecon help >/dev/null) &&
	{ (cd broken && wxrecon config check) >/dev/null 2>c.err; rc=$?; } && test $rc = 2 &&
	test_grep "unknown key .bogus." c.err &&
	test_expect_code 2 wxrecon -c broken/wxrecon.conf version >/dev/null 2>&1
'

test_done
