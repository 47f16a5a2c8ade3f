#!/bin/sh
# demo-pg.sh - `make demo-pg`: the demo (scripts/demo.sh) with its store on
# PostgreSQL, then the same demo on SQLite with the same clock, and a check
# that both backends found the same and wrote the same reports.
#
#   sh scripts/demo-pg.sh      (make demo-pg: packages and build first)
#
# DEMO_DB     a postgresql://... URI of an empty database on a server you run;
#             unset: a throwaway PostgreSQL 15 (scripts/pg-tmp.sh) in a fresh
#             /tmp/wxrecon-pg.XXXXXX, stopped and removed at the end
# DEMO_DIR    where both demos go (default: demo-pg/ in the repository):
#             DEMO_DIR/pg and DEMO_DIR/sqlite, each a demo directory
# DEMO_NOW    the clock of both demos and of their comparison (Unix
#             seconds; default: now)
# WXRECON_BUILD   the directory holding wxrecon and wxrecon-sim (default build/)
#
# The comparison: the planted cases found (check.txt), the discrepancies and
# the actions (wxrecon --json, ids and all), every file of reports/ byte for
# byte, and the audit logs entry by entry. Two things differ by design and
# are taken out first: the audit head hash the reports stamp (an HMAC under
# each store's own random key, over entries that hold the real time they were
# written, the milliseconds each call to WeChat Pay took and the simulator's
# request ids), and, in the audit entries, those times, milliseconds, request
# ids and the demo directory's name. The entry count must be equal.
#
# Exit: 0 when both demos ran and agree, 1 otherwise (the first difference
# is printed).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
case ${1:-} in
'') ;;
-h | --help)
	sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "demo-pg: unknown argument '$1' (try --help; make demo-pg builds first)" >&2
	exit 2
	;;
esac
BUILD=${WXRECON_BUILD:-$ROOT/build}
DIR=${DEMO_DIR:-$ROOT/demo-pg}
case $DIR in /*) ;; *) DIR=$(pwd)/$DIR ;; esac
NOW=${DEMO_NOW:-$(date +%s)}
DB=${DEMO_DB:-}

die() {
	printf 'demo-pg: %s\n' "$*" >&2
	exit 1
}

WX=$BUILD/wxrecon
[ -x "$WX" ] && [ -x "$BUILD/wxrecon-sim" ] || die "no $WX or $BUILD/wxrecon-sim: run make first (or make demo-pg)"

if [ -e "$DIR" ] && [ ! -d "$DIR" ]; then
	die "$DIR exists and is not a directory; set DEMO_DIR to another directory"
fi
if [ -n "$(ls -A "$DIR" 2>/dev/null)" ] && [ ! -f "$DIR/.wxrecon-demo-pg" ]; then
	die "$DIR exists and was not made by demo-pg; set DEMO_DIR to another directory"
fi
rm -rf "$DIR"
mkdir -p "$DIR" || die "cannot create $DIR"
: >"$DIR/.wxrecon-demo-pg"

# ---- the server ----------------------------------------------------------
srv=
cleanup() {
	if [ -n "$srv" ]; then
		sh "$ROOT/scripts/pg-tmp.sh" stop "$srv" ||
			echo "demo-pg: the server in $srv did not stop; stop it with pg_ctl -D $srv/data stop" >&2
		rm -rf "$srv"
		srv=
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "$DB" ]; then
	srv=$(mktemp -d "${TMPDIR:-/tmp}/wxrecon-pg.XXXXXX") || die "mktemp failed"
	sh "$ROOT/scripts/pg-tmp.sh" start "$srv" >/dev/null || die "could not start PostgreSQL"
	port=$(sed -n 's/^WXRECON_TEST_PGPORT=//p' "$srv/env")
	bin=$(sed -n 's/^WXRECON_TEST_PGBIN=//p' "$srv/env")
	"$bin/createdb" -h "$srv" -p "$port" -U postgres wxrecon_demo ||
		die "could not create the demo's database"
	DB="postgresql:///wxrecon_demo?host=$srv&port=$port&user=postgres"
	echo "demo-pg: a throwaway PostgreSQL $("$bin/postgres" -V | sed 's/^[^0-9]*//') in $srv (stopped at the end)"
fi

# ---- the two demos -------------------------------------------------------
DEMO_NOW=$NOW DEMO_DB=$DB DEMO_DIR=$DIR/pg WXRECON_BUILD=$BUILD \
	sh "$ROOT/scripts/demo.sh" || die "the demo on PostgreSQL failed"
printf '\n== the same demo on SQLite, for comparison (%s)\n' "$DIR/sqlite"
DEMO_NOW=$NOW DEMO_DB= DEMO_DIR=$DIR/sqlite WXRECON_BUILD=$BUILD \
	sh "$ROOT/scripts/demo.sh" >"$DIR/sqlite.out" 2>&1 ||
	{ cat "$DIR/sqlite.out" >&2; die "the demo on SQLite failed"; }

# ---- the comparison ------------------------------------------------------
printf '\n== PostgreSQL against SQLite\n'
# Read both at the demos' clock too: a discrepancy's age (age_s, age_days,
# severity, overdue) is counted to "now", and the two listings below, a moment
# apart, straddled a second now and then (t0902 failed 1 run in 6 under load).
WXRECON_NOW=$(date -u -d "@$NOW" +%Y-%m-%dT%H:%M:%SZ)
export WXRECON_NOW
P=$DIR/pg
S=$DIR/sqlite
# differ WHAT A B: fails naming the first difference
differ() {
	if cmp -s "$2" "$3"; then
		return 1
	fi
	echo "demo-pg: $1 differ:" >&2
	diff "$2" "$3" | head -n 10 >&2
	return 0
}
fail=0
# one JSON array from wxrecon --json as one object a line
lines() { sed 's/^\[//; s/\]$//; s/},{"id"/}\n{"id"/g'; }
for t in "discrepancies --status all" actions; do
	"$WX" -c "$P/wxrecon.conf" --json $t | lines >"$DIR/pg.${t%% *}" &&
		"$WX" -c "$S/wxrecon.conf" --json $t | lines >"$DIR/sqlite.${t%% *}" ||
		die "wxrecon $t failed"
done
test -s "$P/check.txt" || die "the PostgreSQL demo checked no planted case ($P/check.txt)"
differ "the planted cases found" "$S/check.txt" "$P/check.txt" && fail=1
differ "the discrepancies" "$DIR/sqlite.discrepancies" "$DIR/pg.discrepancies" && fail=1
differ "the actions" "$DIR/sqlite.actions" "$DIR/pg.actions" && fail=1

# The audit heads a demo's reports may stamp: the run's (its JSON report)
# and the last (the xlsx made after the run; a report made now).
heads() { # DEMO
	j=$(ls "$1"/reports/nightly_*.json) || return 1
	r=${j##*/nightly_}
	r=${r%.json}
	"$WX" -c "$1/wxrecon.conf" report --from "${r%_*}" --to "${r#*_}" --format json >"$1.now.json" ||
		return 1
	sed -n 's/^ *"head": "\([0-9a-f]\{64\}\)".*/\1/p' "$j" "$1.now.json" | sort -u
}
entries() { sed -n 's/^ *"entries": \([0-9]*\).*/\1/p' "$1"/reports/nightly_*.json "$1.now.json"; }
hs=$(heads "$S") && hp=$(heads "$P") || die "cannot read the audit heads of the reports"
[ -n "$hs" ] && [ -n "$hp" ] || die "the reports stamp no audit head"
[ "$(entries "$S")" = "$(entries "$P")" ] || {
	echo "demo-pg: the audit logs differ in length: $(entries "$S" | tr '\n' ' ')on SQLite," \
		"$(entries "$P" | tr '\n' ' ')on PostgreSQL" >&2
	fail=1
}
(cd "$S/reports" && find . -type f | sort) >"$DIR/sqlite.reports"
(cd "$P/reports" && find . -type f | sort) >"$DIR/pg.reports"
differ "the report files" "$DIR/sqlite.reports" "$DIR/pg.reports" && fail=1
# FILE HASHES: a report's bytes with each audit head hash as HEAD; an xlsx
# member by member (unzipped into $DIR/x)
masked() {
	m=$(printf '%s\n' $2 | sed 's/.*/s\/&\/HEAD\/g/')
	case $1 in
	*.xlsx)
		rm -rf "$DIR/x" && mkdir "$DIR/x" && unzip -qo -d "$DIR/x" "$1" || return 1
		(cd "$DIR/x" && find . -type f | sort) | while read -r f; do
			printf '== %s\n' "$f"
			sed "$m" "$DIR/x/$f"
		done
		rm -rf "$DIR/x"
		;;
	*) sed "$m" "$1" ;;
	esac
}
n=0
while read -r f; do
	[ -f "$P/reports/$f" ] || continue
	masked "$S/reports/$f" "$hs" >"$DIR/a" && masked "$P/reports/$f" "$hp" >"$DIR/b" ||
		die "cannot read the report $f"
	differ "the reports $f" "$DIR/a" "$DIR/b" && fail=1
	n=$((n + 1))
done <"$DIR/sqlite.reports"
rm -f "$DIR/a" "$DIR/b"
# the audit logs entry by entry, without what differs by design
audit_lines() { # DEMO
	"$WX" -c "$1/wxrecon.conf" --json audit | lines |
		sed -e 's/"at":"[^"]*",//' -e 's/"ms":[0-9]*/"ms":N/g' \
			-e 's/"request_id":"[^"]*"/"request_id":R/g' -e "s#$1/#DEMO/#g"
}
audit_lines "$S" >"$DIR/sqlite.audit" && audit_lines "$P" >"$DIR/pg.audit" ||
	die "wxrecon audit failed"
differ "the audit entries" "$DIR/sqlite.audit" "$DIR/pg.audit" && fail=1
"$WX" -c "$P/wxrecon.conf" -q audit --verify >/dev/null || {
	echo "demo-pg: audit --verify fails on PostgreSQL" >&2
	fail=1
}
[ $fail = 0 ] || die "PostgreSQL and SQLite disagree (above); both demos are in $DIR"
found=$(grep -c '^found ' "$P/check.txt")
echo "the same $found planted cases found, $(wc -l <"$DIR/pg.discrepancies") discrepancies and $(wc -l <"$DIR/pg.actions") actions, ids and all"
echo "$n report files byte-identical but the audit head hash; the same $(entries "$P" | tail -n 1) audit entries"
echo "(the head hashes differ by design: each store's own key, and the entries' real times, call durations and request ids)"
echo "both demos are in $DIR; the PostgreSQL one: $WX -c $P/wxrecon.conf runs"
exit 0
