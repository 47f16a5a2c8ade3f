#!/bin/sh
# demo.sh - `make demo`: a week of WeChat Pay activity against the local
# simulator, the nightly job over it, and a guided tour of what it found.
#
#   sh scripts/demo.sh [--no-build]
#
# DEMO_DIR    where everything goes (default: demo/ in the repository; it is
#             wiped and made again, but only if it is empty or was made by this
#             script)
# WXRECON_BUILD   the directory holding wxrecon and wxrecon-sim; when set (or
#             with --no-build) nothing is installed or built
# DEMO_DB     a postgresql://... URI: the store is that PostgreSQL database
#             instead of DEMO_DIR/wxrecon.db. It must be empty (never
#             initialised): the demo does not wipe a server's database.
#             `make demo-pg` gives it a throwaway server of its own.
# DEMO_NOW    the demo's "now" (Unix seconds; default: the real time): the
#             week it seeds, the simulator's clock and WXRECON_NOW. Two demos
#             with the same DEMO_NOW see the same week (make demo-pg compares
#             SQLite's and PostgreSQL's that way).
#
# What it does: checks the packages and builds (scripts/deps.sh, make), starts
# build/wxrecon-sim on a free 127.0.0.1 port, seeds it through its admin API
# with the week before today (Asia/Shanghai) made by fixtures/demo/seed.awk
# (ordinary traffic plus the planted cases of fixtures/demo/planted.tsv),
# imports the matching ledger, runs `wxrecon run nightly` over the week, and
# shows the run, the discrepancies, the actions and the reports. Commands
# that are not built yet are skipped with a note. Shell, awk and curl only.
#
# Exit: 0 when the demo ran (the nightly run itself exits 3 because the
# planted discrepancies need a person; that is the point), 1 when something
# broke.
set -u
umask 077 # the demo directory holds (test) private keys

ROOT=$(cd "$(dirname "$0")/.." && pwd)
build=yes
for a in "$@"; do
	case $a in
	--no-build) build=no ;;
	-h | --help)
		sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "demo: unknown option '$a' (try --help)" >&2
		exit 2
		;;
	esac
done
[ -n "${WXRECON_BUILD:-}" ] && build=no
BUILD=${WXRECON_BUILD:-$ROOT/build}
DEMO=${DEMO_DIR:-$ROOT/demo}
DB=${DEMO_DB:-}
T0=$(date +%s)

say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }
die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

if [ $build = yes ]; then
	step "checking packages and building"
	sh "$ROOT/scripts/deps.sh" || die "missing packages (see above)"
	make -C "$ROOT" --no-print-directory -s build/wxrecon build/wxrecon-sim >/dev/null ||
		die "the build failed"
fi
WX=$BUILD/wxrecon
SIM=$BUILD/wxrecon-sim
{ [ -x "$WX" ] && [ -x "$SIM" ]; } || die "no $WX or $SIM: run make first"
for c in curl awk; do
	command -v $c >/dev/null 2>&1 || die "'$c' is needed (apt-get install $c)"
done
case $DB in
'' | postgresql://* | postgres://*) ;;
*) die "DEMO_DB is '$DB': give a postgresql://... URI (unset: SQLite in the demo directory)" ;;
esac
case ${DEMO_NOW:-0} in
'' | *[!0-9]*) die "DEMO_NOW is '$DEMO_NOW': give Unix seconds (date +%s)" ;;
esac

# ---- the demo directory --------------------------------------------------
case $DEMO in /*) ;; *) DEMO=$(pwd)/$DEMO ;; esac
if [ -e "$DEMO" ] && [ ! -d "$DEMO" ]; then
	die "$DEMO exists and is not a directory; set DEMO_DIR to another directory"
fi
if [ -n "$(ls -A "$DEMO" 2>/dev/null)" ] && [ ! -f "$DEMO/.wxrecon-demo" ]; then
	die "$DEMO exists and was not made by the demo; set DEMO_DIR to another directory"
fi
rm -rf "$DEMO"
mkdir -p "$DEMO/keys" "$DEMO/sim" "$DEMO/seed" || die "cannot create $DEMO"
: >"$DEMO/.wxrecon-demo"
cp "$ROOT"/fixtures/keys/*.pem "$ROOT"/fixtures/keys/*.txt "$ROOT"/fixtures/keys/apiv3.key \
	"$DEMO/keys/" || die "cannot copy the test keys"
# git does not keep file modes; wxrecon refuses a private key others can read
chmod 600 "$DEMO/keys/apiclient_key.pem" "$DEMO/keys/wechatpay_key.pem" "$DEMO/keys/apiv3.key"

# ---- which commands exist (others are being built) -------------------------
# (help reads no config found by the lookup, so a broken ./wxrecon.conf where the
# demo is run cannot pass for "nothing is built yet"; every command below names the
# demo's own with -c)
"$WX" help >"$DEMO/help.out" 2>&1 || die "wxrecon help failed: $(cat "$DEMO/help.out")"
CMDS=$(awk '/^commands:/ { f = 1; next } /^$/ { f = 0 } f { print $1 }' "$DEMO/help.out")
has() { printf '%s\n' "$CMDS" | grep -qx "$1"; }
step_cmd() {
	case $1 in
	sweep-orders | sweep-refunds) echo sweep ;;
	fetch-bills) echo bill ;;
	*) echo "$1" ;;
	esac
}

# ---- the simulator ------------------------------------------------------
SIM_PID=
cleanup() {
	if [ -n "$SIM_PID" ]; then
		kill "$SIM_PID" 2>/dev/null
		wait "$SIM_PID" 2>/dev/null
		SIM_PID=
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "starting the WeChat Pay simulator"
"$SIM" --port 0 --portfile "$DEMO/sim/port" --keys "$DEMO/keys" --state "$DEMO/sim" \
	--release-time 00:00 >"$DEMO/sim/sim.log" 2>&1 &
SIM_PID=$!
i=0
while [ ! -s "$DEMO/sim/port" ]; do
	i=$((i + 1))
	if [ $i -gt 200 ] || ! kill -0 "$SIM_PID" 2>/dev/null; then
		cat "$DEMO/sim/sim.log" >&2
		die "wxrecon-sim did not start"
	fi
	sleep 0.05
done
URL="http://127.0.0.1:$(cat "$DEMO/sim/port")"
say "wxrecon-sim listens on $URL (log: $DEMO/sim/sim.log)"

# POST/GET an admin endpoint; the body from a file (@FILE) or inline
admin() {
	if [ $# -ge 3 ]; then
		curl -sS --fail-with-body -X "$1" -H 'Content-Type: application/json' \
			--data-binary "$3" "$URL$2"
	else
		curl -sS --fail-with-body -X "$1" "$URL$2"
	fi
}
if [ -n "${DEMO_NOW:-}" ]; then
	# one frozen clock for the simulator and wxrecon's business clock
	NOW=$DEMO_NOW
	WXRECON_NOW=$(date -u -d "@$NOW" +%Y-%m-%dT%H:%M:%SZ)
	export WXRECON_NOW
	clock="{\"now\":\"$WXRECON_NOW\"}" what="DEMO_NOW, fixed"
else
	NOW=$(date +%s)
	clock='{"real":true}' what="real time"
fi
admin POST /_sim/clock "$clock" >"$DEMO/sim/clock.json" ||
	die "the simulator's clock: $(cat "$DEMO/sim/clock.json")"
say "simulator clock: $(sed -n 's/.*"now": *"\([^"]*\)".*/\1/p' "$DEMO/sim/clock.json") ($what)"

# ---- the configuration ---------------------------------------------------
# Asia/Shanghai is UTC+8 all year: shift and ask for UTC (no tzdata needed)
sh_date() { date -u -d "@$((NOW + 28800 + $1 * 86400))" +%F; }
FROM=$(sh_date -7)
TO=$(sh_date -1)

JOBS_DIR=$ROOT/jobs
steps=$(sed -n 's/^steps *= *//p' "$ROOT/jobs/nightly.job" | tr -d ' ' | tr ',' ' ')
keep=
skipped=
for s in $steps; do
	if has "$(step_cmd "$s")"; then
		keep="$keep${keep:+, }$s"
	else
		skipped="$skipped${skipped:+, }$s"
	fi
done
if [ -n "$skipped" ]; then
	# a copy of the nightly job without the steps whose command is not built yet
	JOBS_DIR=$DEMO/jobs
	mkdir -p "$JOBS_DIR"
	sed "s/^steps *=.*/steps = $keep/" "$ROOT/jobs/nightly.job" >"$JOBS_DIR/nightly.job"
fi

CONF=$DEMO/wxrecon.conf
cat >"$CONF" <<EOF
; wxrecon.conf made by scripts/demo.sh: the test merchant of fixtures/keys
; against the local simulator. Paths are relative to this file's directory.
[merchant]
mchid = 1900000001
appid = wx8888888888888888
serial_no = $(cat "$DEMO/keys/merchant_serial.txt")
private_key = keys/apiclient_key.pem
apiv3_key_file = keys/apiv3.key
wechatpay_public_key = keys/pub_key.pem
wechatpay_public_key_id = $(cat "$DEMO/keys/pub_key_id.txt")

[api]
base_url = $URL
timeout_s = 5
retries = 2
retry_base_ms = 20

[database]
$(if [ -n "$DB" ]; then echo "url = $DB"; else echo "path = wxrecon.db"; fi)

[policy]
close_after = 30m
close_max_per_run = 1000
mark_paid_on_missed_notify = true
abnormal_refund_type = MERCHANT_BANK_CARD
approval_above = 50000
paid_after_close = mark_paid
timezone = Asia/Shanghai

[bills]
archive_dir = bills
; the simulator releases a day's bills at 00:00 (--release-time), so the demo
; can fetch yesterday's at any hour; real WeChat Pay: 10:00
release_time = 00:00
missing_after = 24h

[alerts]
on_attention =

[jobs]
dir = $JOBS_DIR
reports_dir = reports
EOF
wx() { "$WX" -c "$CONF" "$@"; }
wx config check >"$DEMO/config-check.txt" 2>&1 || {
	cat "$DEMO/config-check.txt" >&2
	die "the demo's config does not check"
}

# ---- the week ------------------------------------------------------------
step "seeding a week of payments ($FROM .. $TO, Asia/Shanghai)"
summary=$(awk -v now="$NOW" -v out="$DEMO/seed" -f "$ROOT/fixtures/demo/seed.awk" \
	"$ROOT/fixtures/demo/planted.tsv") || die "fixtures/demo/seed.awk failed"
say "$summary"
admin POST /_sim/orders "@$DEMO/seed/sim_orders.json" >"$DEMO/sim/orders.out" ||
	die "seeding orders: $(cat "$DEMO/sim/orders.out")"
admin POST /_sim/refunds "@$DEMO/seed/sim_refunds.json" >"$DEMO/sim/refunds.out" ||
	die "seeding refunds: $(cat "$DEMO/sim/refunds.out")"
say "WeChat Pay's side: $DEMO/seed/sim_orders.json, sim_refunds.json (POST /_sim/orders, /_sim/refunds)"

if [ -n "$DB" ]; then
	# a server's database is not the demo's to wipe: it must never have been initialised
	if wx runs >"$DEMO/init.out" 2>&1; then
		die "DEMO_DB is a database wxrecon already uses; give the demo an empty one (createdb)"
	fi
	grep -q "is not initialised" "$DEMO/init.out" ||
		die "DEMO_DB: $(cat "$DEMO/init.out")"
	say "the store: PostgreSQL (DEMO_DB)"
fi
wx init >"$DEMO/init.out" 2>&1 || { cat "$DEMO/init.out" >&2; die "wxrecon init failed"; }
wx ledger import --orders "$DEMO/seed/ledger_orders.csv" --refunds "$DEMO/seed/ledger_refunds.csv" \
	>"$DEMO/seed/import.out" || die "wxrecon ledger import failed"
say "the merchant's ledger: $DEMO/seed/ledger_orders.csv, ledger_refunds.csv (wxrecon ledger import)"
say "where the two sides disagree on purpose ($DEMO/seed/planted.tsv):"
awk -F '\t' 'NR > 1 && $2 != "-" { printf "  %-3s %-24s %-15s %s\n", $1, $2, $3, $4 }' \
	"$DEMO/seed/planted.tsv"

# ---- the nightly run -----------------------------------------------------
step "wxrecon run nightly --from $FROM --to $TO"
if [ -n "$skipped" ]; then
	say "note: not built yet on this branch, so skipped: $skipped"
	say "      (the demo runs a copy of jobs/nightly.job with: $keep)"
fi
wx run nightly --from "$FROM" --to "$TO" >"$DEMO/run.out" 2>"$DEMO/run.err"
rc=$?
cat "$DEMO/run.out"
case $rc in
0) say "the run exited 0: all clean${skipped:+ (in the steps that ran; the planted cases need the skipped ones)}" ;;
3) say "the run exited 3: done, but planted discrepancies need a person (as intended)" ;;
*)
	cat "$DEMO/run.err" >&2
	die "the nightly run failed (exit $rc); see: $WX -c $CONF runs"
	;;
esac

# ---- what it found -------------------------------------------------------
# one line per object of a JSON array, blanks outside strings removed
json_lines() { # stdin -> stdout
	awk '{
		n = length($0)
		for (i = 1; i <= n; i++) {
			c = substr($0, i, 1)
			if (instr) {
				if (depth) cur = cur c
				if (esc) esc = 0
				else if (c == "\\") esc = 1
				else if (c == "\"") instr = 0
				continue
			}
			if (c == " " || c == "\t" || c == "\r") continue
			if (c == "\"") instr = 1
			if (c == "{") depth++
			if (depth) cur = cur c
			if (c == "}" && --depth == 0) { print cur; cur = "" }
		}
	}'
}

found=0
missed=0
if has discrepancies; then
	step "wxrecon discrepancies --from $FROM --to $TO"
	wx discrepancies --from "$FROM" --to "$TO" --status all || say "(discrepancies failed)"
	wx --json discrepancies --from "$FROM" --to "$TO" --status all 2>/dev/null |
		json_lines >"$DEMO/discrepancies.lines"
else
	say "note: 'wxrecon discrepancies' is not built yet: no list of findings"
fi
if has actions; then
	step "wxrecon actions"
	wx actions || say "(actions failed)"
	wx --json actions 2>/dev/null | json_lines >"$DEMO/actions.lines"
else
	say "note: 'wxrecon actions' is not built yet: no list of actions"
fi
if [ -f "$DEMO/discrepancies.lines" ] || [ -f "$DEMO/actions.lines" ]; then
	step "did wxrecon find what was planted?"
	: >"$DEMO/check.txt"
	tab=$(printf '\t')
	left=0
	# record RESULT LABEL ID WHAT KEY: a line in check.txt, and on screen unless LABEL is -
	record() {
		echo "$1 $3 $4 $5" >>"$DEMO/check.txt"
		[ "$2" = - ] || printf '  %-7s %-3s %-24s %s\n' "$2" "$3" "$4" "$5"
	}
	while IFS=$tab read -r id expect key _ _; do
		[ "$id" = id ] && continue
		if [ "$expect" = - ]; then
			# a row that only sets a case up, or must be left alone: no action on it
			[ -f "$DEMO/actions.lines" ] || continue
			if grep -qF "\"target\":\"$key\"" "$DEMO/actions.lines"; then
				missed=$((missed + 1))
				record missed ACTED "$id" acted-on "$key"
			else
				left=$((left + 1))
				record left - "$id" - "$key"
			fi
			continue
		fi
		case $expect in
		ORDER_* | REFUND_SYNC | ABNORMAL_REFUND | REFUND)
			f=$DEMO/actions.lines k="\"target\":\"$key\"" ;;
		*) f=$DEMO/discrepancies.lines k="\"$key\"" ;;
		esac
		[ -f "$f" ] || continue
		if grep -F "\"kind\":\"$expect\"" "$f" | grep -qF "$k"; then
			found=$((found + 1))
			record found found "$id" "$expect" "$key"
		else
			missed=$((missed + 1))
			record missed MISSED "$id" "$expect" "$key"
		fi
	done <"$DEMO/seed/planted.tsv"
	if [ -f "$DEMO/discrepancies.lines" ]; then
		# findings that were not planted
		while read -r line; do
			hit=no
			while IFS=$tab read -r id expect key _ _; do
				case $line in *"\"$key\""*) hit=yes ;; esac
			done <"$DEMO/seed/planted.tsv"
			[ $hit = yes ] && continue
			kind=$(printf '%s\n' "$line" | sed -n 's/.*"kind":"\([^"]*\)".*/\1/p')
			otn=$(printf '%s\n' "$line" | sed -n 's/.*"out_trade_no":"\([^"]*\)".*/\1/p')
			echo "extra $kind $otn" >>"$DEMO/check.txt"
			printf '  also    %-28s %s\n' "$kind" "$otn"
		done <"$DEMO/discrepancies.lines"
	fi
	others=$(awk -F '\t' 'NR > 1 && $2 == "-" { printf "%s%s", n++ ? ", " : "", $1 }' \
		"$DEMO/seed/planted.tsv")
	say "$found found, $missed missed; the $left planted rows that only set cases up or must be left alone ($others) were left alone"
fi

# ---- reports -------------------------------------------------------------
HTML=$DEMO/reports/nightly_${FROM}_$TO.html
XLSX=$DEMO/reports/nightly_${FROM}_$TO.xlsx
step "reports"
if [ -f "$HTML" ]; then
	# the workbook for people, next to the run's reports
	wx -q report --from "$FROM" --to "$TO" --format xlsx -o "$XLSX" ||
		say "(the xlsx report failed)"
	ls -1 "$DEMO/reports" | sed "s|^|  $DEMO/reports/|"
	say "open the HTML report in a browser: $HTML"
elif has report; then
	say "the run wrote no HTML report (see: $WX -c $CONF runs)"
else
	say "note: 'wxrecon report' is not built yet: no reports"
fi

# ---- where to go from here -----------------------------------------------
cleanup
T1=$(date +%s)
step "done in $((T1 - T0)) s. The simulator is stopped; the database stays. Try:"
rel=$DEMO
case $DEMO in "$(pwd)"/*) rel=${DEMO#"$(pwd)"/} ;; esac
W="build/wxrecon -c $rel/wxrecon.conf"
[ "$BUILD" = "$ROOT/build" ] && [ "$(pwd)" = "$ROOT" ] || W="$WX -c $rel/wxrecon.conf"
try() { printf '  # %s\n  %s\n' "$1" "$W $2"; }
try "the run, step by step and day by day" "runs"
has discrepancies && try "what needs a person" "discrepancies --from $FROM --to $TO"
# an open finding to resolve, for the example
rid=ID
[ -f "$DEMO/discrepancies.lines" ] &&
	rid=$(sed -n 's/^{"id":\([0-9]*\),.*"status":"open".*/\1/p' "$DEMO/discrepancies.lines" | tail -n 1)
has resolve && try "mark one handled, with a note (audited)" "resolve ${rid:-ID} --note 'checked with finance'"
has actions && try "the closes, mark-paids and abnormal refunds it did" "actions"
has report && try "the week for scripts: days, discrepancies, actions, stamp" "report --from $FROM --to $TO --format csv -o week/"
try "prove the audit log was not edited" "audit --verify"
# audit dates are when the entries were written: today, the run's day
try "every call to WeChat Pay and every decision the run made (today)" "audit --date $(sh_date 0)"
say "  # what was planted and why: fixtures/demo/planted.tsv; the data: $rel/seed/"
say "  # all again, from scratch: make demo"
exit 0
