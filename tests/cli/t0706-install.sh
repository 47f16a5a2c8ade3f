#!/bin/sh
# make install / uninstall with PREFIX and DESTDIR: the binary, both man
# pages, the completions, the example config, the jobs and the units, with
# their paths under PREFIX; uninstall removes all of it.
. "$(dirname "$0")/test-lib.sh"

command -v pod2man >/dev/null 2>&1 || test_skip_all "pod2man is not installed (perl ships it)"
D=$TRASH/dest
# -o: install what the suite tested, never a rebuild (under make asan a rebuild with
# the plain flags would replace the sanitized binary the other tests are running).
inst() { make -s -C "$SRC_ROOT" BUILD="$BUILD_DIR" -o "$BUILD_DIR/wxrecon" DESTDIR="$D" PREFIX=/usr "$@"; }

test_expect_success 'make install DESTDIR=... PREFIX=/usr lays out the files' '
	inst install >out 2>err &&
	(cd "$D" && find . -type f | sort) >files &&
	cat >want <<-\EOF &&
	./usr/bin/wxrecon
	./usr/lib/systemd/system/wxrecon-nightly.service
	./usr/lib/systemd/system/wxrecon-nightly.timer
	./usr/lib/systemd/system/wxrecon-sweep.service
	./usr/lib/systemd/system/wxrecon-sweep.timer
	./usr/share/bash-completion/completions/wxrecon
	./usr/share/doc/wxrecon/README.md
	./usr/share/doc/wxrecon/wxrecon.conf.example
	./usr/share/man/man1/wxrecon.1
	./usr/share/man/man5/wxrecon.conf.5
	./usr/share/wxrecon/jobs/alert-mail.sh
	./usr/share/wxrecon/jobs/crontab.example
	./usr/share/wxrecon/jobs/nightly.job
	./usr/share/wxrecon/jobs/sweep.job
	./usr/share/wxrecon/jobs/wxrecon-nightly.service
	./usr/share/wxrecon/jobs/wxrecon-nightly.timer
	./usr/share/wxrecon/jobs/wxrecon-sweep.service
	./usr/share/wxrecon/jobs/wxrecon-sweep.timer
	./usr/share/zsh/site-functions/_wxrecon
	EOF
	test_cmp want files && test -x "$D/usr/bin/wxrecon" && test -x "$D/usr/share/wxrecon/jobs/alert-mail.sh"
'
test_expect_success 'the installed binary runs' '
	"$D/usr/bin/wxrecon" version >out && test_grep "^wxrecon [0-9]" out
'
if command -v man >/dev/null 2>&1; then
	test_expect_success 'man -l shows both pages' '
		man -l "$D/usr/share/man/man1/wxrecon.1" >m1 2>/dev/null && test_grep "wxrecon - reconcile WeChat Pay" m1 &&
		test_grep "Another live run holds the run lock" m1 &&
		man -l "$D/usr/share/man/man5/wxrecon.conf.5" >m5 2>/dev/null && test_grep "wxrecon.conf - configuration of wxrecon" m5
	'
fi
test_expect_success 'installed files name PREFIX, not /usr/local' '
	! grep -rl "/usr/local" "$D/usr/share/wxrecon" "$D/usr/lib" "$D/usr/share/doc/wxrecon/wxrecon.conf.example" &&
	test_grep "^ExecStart=/usr/bin/wxrecon run nightly" "$D/usr/lib/systemd/system/wxrecon-nightly.service" &&
	test_grep "^dir = /usr/share/wxrecon/jobs$" "$D/usr/share/doc/wxrecon/wxrecon.conf.example"
'
test_expect_success 'SYSCONFDIR: the units, the crontab and the example config name it' '
	make -s -C "$SRC_ROOT" BUILD="$BUILD_DIR" -o "$BUILD_DIR/wxrecon" DESTDIR="$TRASH/d2" \
		PREFIX=/usr SYSCONFDIR=/opt/etc install >out 2>err &&
	test_grep "^Environment=WXRECON_CONFIG=/opt/etc/wxrecon/wxrecon.conf$" \
		"$TRASH/d2/usr/lib/systemd/system/wxrecon-nightly.service" &&
	test_grep "^WXRECON_CONFIG=/opt/etc/wxrecon/wxrecon.conf$" "$TRASH/d2/usr/share/wxrecon/jobs/crontab.example" &&
	test_grep "^private_key = /opt/etc/wxrecon/keys/" "$TRASH/d2/usr/share/doc/wxrecon/wxrecon.conf.example" &&
	! grep -rlE "(^|[^a-z])/etc/wxrecon" "$TRASH/d2/usr/lib" "$TRASH/d2/usr/share/wxrecon" \
		"$TRASH/d2/usr/share/man" "$TRASH/d2/usr/share/doc/wxrecon/wxrecon.conf.example" &&
	test_grep "^Environment=WXRECON_CONFIG=/etc/wxrecon/wxrecon.conf$" \
		"$D/usr/lib/systemd/system/wxrecon-nightly.service"
'
# a copy, as shipped: on PostgreSQL init makes the audit key beside the config
test_expect_success 'the example config loads as shipped' '
	cp "$D/usr/share/doc/wxrecon/wxrecon.conf.example" example.conf &&
	wxrecon -c example.conf --db x.db init 2>err &&
	{ test_db_is_pg || test -f x.db; } &&
	test "$(db_sql x.db "SELECT count(*) FROM schema_migrations")" -gt 0
'
test_expect_success 'the bash completion loads and completes a sub-command' '
	if command -v bash >/dev/null 2>&1; then
		bash -c ". \"$D/usr/share/bash-completion/completions/wxrecon\" &&
			COMP_WORDS=(wxrecon bill f) COMP_CWORD=2 && _wxrecon && echo \"\${COMPREPLY[*]}\"" >out &&
		test_grep "^fetch$" out
	fi
'
test_expect_success 'make uninstall removes every file it installed' '
	inst uninstall >out 2>err &&
	(cd "$D" && find . -type f) >left && test_cmp /dev/null left
'
test_done
