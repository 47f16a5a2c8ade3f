#!/bin/sh
# The shipped systemd units: they load cleanly (systemd-analyze verify) and
# are hardened (systemd-analyze security, exposure 2.5 or lower), and the
# sweep and nightly schedules never start at the same minute.
. "$(dirname "$0")/test-lib.sh"

command -v systemd-analyze >/dev/null 2>&1 ||
	test_skip_all "systemd-analyze is not installed (apt-get install systemd)"

JOBS=$SRC_ROOT/jobs
# verify checks that ExecStart's binary exists: point it at the built one.
mkdir units
for f in "$JOBS"/wxrecon-*.service "$JOBS"/wxrecon-*.timer; do
	sed "s|/usr/local/bin/wxrecon|$WXRECON_BIN|" "$f" >"units/${f##*/}"
done

test_expect_success 'there are nightly and sweep services and timers' '
	for u in wxrecon-nightly.service wxrecon-nightly.timer wxrecon-sweep.service wxrecon-sweep.timer; do
		test -f "units/$u" || { echo "missing jobs/$u" >&2; exit 1; }
	done
'
test_expect_success 'systemd-analyze verify finds nothing to say' '
	(cd units && systemd-analyze verify --man=no ./*.service ./*.timer) >out 2>err &&
	test_cmp /dev/null err
'
for s in nightly sweep; do
	test_expect_success "wxrecon-$s.service is rated 2.5 or lower by systemd-analyze security" "
		{ systemd-analyze security --offline=yes --threshold=25 units/wxrecon-$s.service >out 2>err ||
			{ tail -3 out >&2; false; }; } &&
		level=\$(sed -n 's/.*Overall exposure level for [^:]*: \\([0-9.]*\\).*/\\1/p' out) &&
		echo \"# exposure \$level\" &&
		awk -v l=\"\$level\" 'BEGIN { exit !(l != \"\" && l <= 2.5) }'
	"
done
test_expect_success 'both timers are Persistent, so a night missed while down is caught up' '
	grep -q "^Persistent=true$" units/wxrecon-nightly.timer &&
	grep -q "^Persistent=true$" units/wxrecon-sweep.timer
'
test_expect_success 'the units run as a dedicated user with a private umask and no capabilities' '
	for s in nightly sweep; do
		grep -q "^User=wxrecon$" units/wxrecon-$s.service &&
		grep -q "^UMask=0077$" units/wxrecon-$s.service &&
		grep -q "^CapabilityBoundingSet=$" units/wxrecon-$s.service &&
		grep -q "^ProtectSystem=strict$" units/wxrecon-$s.service || exit 1
	done
'
# minutes (0-59) a calendar spec "*-*-* H:M:S TZ" or crontab line starts at, one a line
test_expect_success 'the sweep never starts at the nightly run'"'"'s minute (timers and crontab)' '
	n=$(sed -n "s/^OnCalendar=\*-\*-\* \([0-9]*\):\([0-9]*\):.*/\1:\2/p" units/wxrecon-nightly.timer) &&
	h=${n%:*} && m=${n#*:} &&
	sm=$(sed -n "s/^OnCalendar=\*-\*-\* [0-9.]*:\([0-9,]*\):.*/\1/p" units/wxrecon-sweep.timer) &&
	test -n "$sm" && ! echo ",$sm," | grep -q ",$m," &&
	cm=$(awk "/run sweep/ { print \$1 }" "$JOBS/crontab.example") &&
	nm=$(awk "/run nightly/ { print \$1 }" "$JOBS/crontab.example") &&
	test -n "$cm" && ! echo ",$cm," | grep -q ",$nm," &&
	grep -q "run nightly .*--wait" "$JOBS/crontab.example" && grep -q "run nightly .*--wait" units/wxrecon-nightly.service
'
test_done
