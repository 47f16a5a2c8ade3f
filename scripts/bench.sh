#!/bin/sh
# bench.sh - `make bench`: wxrecon's benchmarks, each beside a baseline
# measured in the same run on the same machine. Prints the figures and writes
# bench/RESULTS.md. Benchmarks are not tests: a missed target is reported
# (MISS), not a failure; the script fails only when a benchmark could not run.
#
#   sh scripts/bench.sh
#
# 1. bill    `wxrecon bill fetch --kind trade` of a generated day of BENCH_ROWS
#            rows (default 1000000) from `wxrecon-sim --bills` over loopback:
#            download + SHA-1 + archive + gunzip + parse + store. Baselines:
#            `gzip -dc FILE >/dev/null` (targets: ours <= 4x gzip, peak RSS
#            <= 64 MiB) and, for context, sqlite3 copying the stored rows into
#            an empty database of the same schema (what storing them costs).
# 2. reconcile  (when `wxrecon reconcile` exists) import the generated ledger,
#            reconcile the day, compare the discrepancies found with the
#            generator's manifest.json. Baseline: sqlite3 doing the plain
#            outer-join diff of bill_trades and ledger_orders on the same DB.
# 3. sweep   (when `wxrecon sweep` exists) BENCH_SWEEP (default 10000) stale
#            NOTPAY orders in the simulator and the ledger; `wxrecon sweep
#            orders` queries, closes and confirms each. Baseline: one curl
#            process sending as many plain GETs to the same simulator
#            (connection reuse, no signing): the loopback HTTP floor.
#
# 4. scale   days of BENCH_SCALE_ROWS rows at each of BENCH_SCALE_RATES (0%,
#            0.1% and 1% of every kind; lost10: the ledger lost a tenth of the
#            day's payments), each in a fresh database: ledger import, bill
#            import (trade + fundflow files), reconcile, report; seconds and
#            us per row beside the same-run `gzip -dc` of the trade bill and
#            the floor (tests/bench/floor.c: zlib + the parser + one prepared
#            INSERT into the same table, with its indexes or building them
#            after), every planted case checked found.
# 5. history the largest 1%-day imported again into a database that already
#            holds BENCH_HISTORY_DAYS days (of BENCH_HISTORY_ROWS rows):
#            time against its import into an empty one, bytes per bill row.
# 6. pg      the days of 4. at BENCH_PG_RATES (default "1%") again on
#            PostgreSQL (a throwaway server, scripts/pg-tmp.sh, stopped at the
#            end): ledger import, bill import (COPY), reconcile, report, beside
#            SQLite's figures and the same-run gzip -dc; the server's CPU too
#            (the postmaster's and its children's, from /proc). Without
#            PostgreSQL: "postgresql: skipped (install with sh scripts/deps.sh pg)".
#
# Environment: WXRECON_BUILD (binaries; default build/), BENCH_DIR (scratch
# space, default $TMPDIR or /tmp; ~1 GB for 1M rows, removed at the end),
# BENCH_ROWS, BENCH_SWEEP, BENCH_RESULTS (default bench/RESULTS.md),
# BENCH_ONLY (e.g. "bill sweep": run only those), BENCH_SCALE_ROWS (the
# day sizes of 4., default "100000 1000000"), BENCH_SCALE_RATES (default
# "0 0.1% 1% lost10"), BENCH_HISTORY_DAYS / BENCH_HISTORY_ROWS (the history of
# 5., default 30 days of 100000 rows), BENCH_PG_RATES (the rates of 6.; with
# BENCH_ONLY, 6. runs when both scale and pg are named), BENCH_TIMEOUT (seconds one
# measured command may take, default 300; past it, it is killed and reported
# as a MISS "did not finish").
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${WXRECON_BUILD:-$ROOT/build}
WX=$BUILD/wxrecon
SIM=$BUILD/wxrecon-sim
ROWS=${BENCH_ROWS:-1000000}
SWEEP_N=${BENCH_SWEEP:-10000}
RESULTS=${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}
ONLY=${BENCH_ONLY:-bill reconcile sweep scale history pg}
PG_RATES=${BENCH_PG_RATES:-1%}
SCALE_ROWS=${BENCH_SCALE_ROWS:-100000 1000000}
SCALE_RATES=${BENCH_SCALE_RATES:-0 0.1% 1% lost10}
HIST_DAYS=${BENCH_HISTORY_DAYS:-30}
HIST_ROWS=${BENCH_HISTORY_ROWS:-100000}
LIMIT=${BENCH_TIMEOUT:-300}

die() {
	printf 'bench: %s\n' "$*" >&2
	exit 1
}
say() { printf '%s\n' "$*"; }
{ [ -x "$WX" ] && [ -x "$SIM" ]; } || die "no $WX or $SIM: run make first"
for c in curl gzip sqlite3 awk; do
	command -v $c >/dev/null 2>&1 || die "'$c' is needed (scripts/deps.sh)"
done

# Peak RSS comes from GNU time (Debian package "time"); as root, install it.
if [ ! -x /usr/bin/time ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	say "bench: installing the Debian package 'time' (peak RSS)" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q time >/dev/null 2>&1; }
fi
if [ -x /usr/bin/time ]; then
	RSS_HOW="GNU time %M"
else
	RSS_HOW="VmHWM polled every 20 ms from /proc (GNU time not installed)"
fi

BASE=${BENCH_DIR:-${TMPDIR:-/tmp}}
W=$(mktemp -d "$BASE/wxrecon-bench.XXXXXX") || die "cannot make a directory in $BASE"
SIM_PID=
SC_PID=
PG_SRV=
cleanup() {
	if [ -n "$PG_SRV" ]; then
		sh "$ROOT/scripts/pg-tmp.sh" stop "$PG_SRV" ||
			echo "bench: the server in $PG_SRV did not stop; stop it with pg_ctl -D $PG_SRV/data stop" >&2
		rm -rf "$PG_SRV"
		PG_SRV=
	fi
	# a scenario's own simulator (4.), if a step died while it ran
	if [ -n "$SC_PID" ]; then
		kill "$SC_PID" 2>/dev/null
		wait "$SC_PID" 2>/dev/null
	fi
	if [ -n "$SIM_PID" ]; then
		kill "$SIM_PID" 2>/dev/null
		wait "$SIM_PID" 2>/dev/null
		SIM_PID=
	fi
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$W" || die "cannot enter $W"

# ---- helpers ---------------------------------------------------------------
now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
# calc EXPR: awk arithmetic, printed with the given format (default %.2f)
calc() { awk "BEGIN { printf \"${2:-%.2f}\", $1 }"; }

# measure NAME CMD...: runs CMD (stdout NAME.out, stderr NAME.err), killed
# after $LIMIT s; sets M_S (wall seconds), M_KB (peak RSS of CMD, KiB) and
# M_RC (exit code; 124 when it was killed for taking too long), M_CPU (user +
# sys CPU seconds; the wall seconds without GNU time), which a shared machine's
# load does not swing the way it swings wall time.
measure() {
	_n=$1
	shift
	_t0=$(now_ns)
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%M %U %S' -o "$W/$_n.rss" timeout -k 5 "$LIMIT" "$@" \
			>"$W/$_n.out" 2>"$W/$_n.err"
		M_RC=$?
		M_KB=$(tail -n 1 "$W/$_n.rss" | awk '{ print $1 }')
		M_CPU=$(tail -n 1 "$W/$_n.rss" | awk '{ printf "%.2f", $2 + $3 }')
	else
		"$@" >"$W/$_n.out" 2>"$W/$_n.err" &
		_p=$!
		M_KB=0
		_killed=no
		while kill -0 "$_p" 2>/dev/null; do
			_v=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$_p/status" 2>/dev/null)
			[ -n "$_v" ] && [ "$_v" -gt "$M_KB" ] && M_KB=$_v
			if [ $(($(now_ns) - _t0)) -gt $((LIMIT * 1000000000)) ]; then
				kill "$_p" 2>/dev/null
				_killed=yes
				break
			fi
			sleep 0.02
		done
		wait "$_p"
		M_RC=$?
		[ $_killed = yes ] && M_RC=124
	fi
	M_S=$(secs "$_t0" "$(now_ns)")
	[ -x /usr/bin/time ] || M_CPU=$M_S
}

# median of three runs of CMD (stdout discarded); sets MED_S
median3() {
	_a=$(now_ns); "$@" >/dev/null 2>&1; _b=$(now_ns); "$@" >/dev/null 2>&1; _c=$(now_ns)
	"$@" >/dev/null 2>&1; _d=$(now_ns)
	MED_S=$(printf '%s\n%s\n%s\n' "$(secs "$_a" "$_b")" "$(secs "$_b" "$_c")" \
		"$(secs "$_c" "$_d")" | sort -n | sed -n 2p)
}

mib() { calc "$1 / 1024" "%.1f"; }
verdict() { if [ "$(calc "($1) ? 1 : 0" %d)" = 1 ]; then echo PASS; else echo MISS; fi; }

# one line per innermost JSON object, blanks outside strings removed (stdin).
# buf holds only the object opened last: an object with a child is never
# printed, so its text is dropped at the child's "{" (keeping it made this
# quadratic: minutes per MB on a 1M-row day's 48 MB manifest).
json_objects() {
	awk '{
		n = length($0)
		for (i = 1; i <= n; i++) {
			c = substr($0, i, 1)
			if (instr) {
				buf = buf c
				if (esc) esc = 0
				else if (c == "\\") esc = 1
				else if (c == "\"") instr = 0
				continue
			}
			if (c == " " || c == "\t" || c == "\r") continue
			if (c == "\"") instr = 1
			if (c == "{") { if (d) child[d] = 1; d++; child[d] = 0; buf = "" }
			buf = buf c
			if (c == "}") { if (!child[d]) print buf; d--; buf = "" }
		}
	}'
}

CMDS=$("$WX" help 2>/dev/null | awk '/^commands:/ { f = 1; next } /^$/ { f = 0 } f { print $1 }')
# keyed FILE: "KIND ID" per JSON object line of FILE (planted or found), sorted
keyed() {
	awk '
	function get(s, k,    v) {
		if (!match(s, "\"" k "\":(\"[^\"]*\"|null)")) return ""
		v = substr(s, RSTART + length(k) + 3, RLENGTH - length(k) - 3)
		if (v == "null") return ""
		gsub(/"/, "", v)
		return v
	}
	{
		kind = get($0, "kind")
		key = get($0, "out_refund_no")
		if (kind !~ /^REFUND_/ || key == "") key = get($0, "out_trade_no")
		if (key == "") key = get($0, "transaction_id")
		if (kind == "FEE_MISMATCH" && get($0, "transaction_id") != "")
			key = get($0, "transaction_id")
		if (kind ~ /^(BILL_MISSING|BILL_SUMMARY_MISMATCH|BALANCE_DISCONTINUITY)$/)
			key = get($0, "date")
		print kind " " key
	}' "$1" | sort
}

has() { printf '%s\n' "$CMDS" | grep -qx "$1"; }
wanted() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }

# ---- the machine -----------------------------------------------------------
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
[ -n "$CPU" ] || CPU=$(uname -m)
NPROC=$(nproc 2>/dev/null || echo "?")
MEM=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
OS=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")
KERNEL=$(uname -r)
WHEN=$(date -u +%Y-%m-%dT%H:%M:%SZ)
VERSION=$("$WX" version 2>/dev/null | head -n 1)
COMMIT=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo "?")
FS=$(df -T "$W" 2>/dev/null | awk 'NR == 2 { print $2 }')
SQLITE=$(sqlite3 --version | cut -d' ' -f1)
GZIP=$(gzip --version | head -n 1)
say "bench: $NPROC x $CPU, $MEM, $OS; scratch $W ($FS)"

# ---- PostgreSQL for 6.: a throwaway server, or a line saying why not ---------
PG_SKIP=
PG_VERSION=
if wanted pg && wanted scale; then
	PG_SRV=$(mktemp -d "${TMPDIR:-/tmp}/wxrecon-pg.XXXXXX") || die "mktemp failed"
	if sh "$ROOT/scripts/pg-tmp.sh" start "$PG_SRV" >/dev/null 2>"$W/pg-start.err"; then
		PG_PORT=$(sed -n 's/^WXRECON_TEST_PGPORT=//p' "$PG_SRV/env")
		PG_BIN=$(sed -n 's/^WXRECON_TEST_PGBIN=//p' "$PG_SRV/env")
		PG_VERSION=$("$PG_BIN/postgres" -V | sed 's/^[^0-9]*//')
		say "bench: PostgreSQL $PG_VERSION in $PG_SRV (for 6.)"
	else
		if grep -q "no PostgreSQL server binaries" "$W/pg-start.err"; then
			PG_SKIP="postgresql: skipped (install with sh scripts/deps.sh pg)"
		else
			PG_SKIP="postgresql: skipped (the throwaway server did not start: $(head -n 1 "$W/pg-start.err"))"
		fi
		rm -rf "$PG_SRV"
		PG_SRV=
		say "$PG_SKIP"
	fi
fi
# pg_cpu: CPU seconds the server has used so far: the postmaster with its
# reaped children (the backends of finished connections) and its live ones
pg_cpu() {
	_pm=$(head -n 1 "$PG_SRV/data/postmaster.pid")
	{
		awk '{ print $14 + $15 + $16 + $17 }' "/proc/$_pm/stat"
		for _c in $(ps -o pid= --ppid "$_pm"); do
			awk '{ print $14 + $15 }' "/proc/$_c/stat" 2>/dev/null
		done
	} | awk -v hz="$(getconf CLK_TCK)" '{ s += $1 } END { printf "%.2f", s / hz }'
}
# pg_measure NAME CMD...: measure, and PG_CPU: the server's CPU seconds meanwhile
# (once the backends of database PG_DB are gone: a killed client's backend
# ends a moment later, and only then does the postmaster count its CPU)
pg_measure() {
	_c0=$(pg_cpu)
	measure "$@"
	_i=0
	while [ "$("$PG_BIN/psql" -X -At -h "$PG_SRV" -p "$PG_PORT" -U postgres -d postgres \
		-c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$PG_DB'")" != 0 ] &&
		[ $_i -lt 200 ]; do
		_i=$((_i + 1))
		sleep 0.05
	done
	PG_CPU=$(calc "$(pg_cpu) - $_c0")
}
R_PG=
PG_MD=
PG_DB=
PG_ALL_FOUND=PASS
# pg_day DIR ROWS RATE WHAT: the day of DIR (4.) again on PostgreSQL; its
# SQLite figures are in L_S L_C B_S B_C R_S R_C P_S, gzip in GZREF GZCPU
pg_day() {
	PG_DB=wxbench_$(printf '%s_%s' "$2" "$3" | tr -c 'a-z0-9' '_')
	"$PG_BIN/createdb" -h "$PG_SRV" -p "$PG_PORT" -U postgres "$PG_DB" ||
		die "createdb $PG_DB failed"
	mkdir -p "$1/pg"
	_url="postgresql:///$PG_DB?host=$PG_SRV\&port=$PG_PORT\&user=postgres"
	sed -e "s#^path = .*#url = $_url#" -e "s#^archive_dir = .*#archive_dir = $1/pg/bills#" \
		"$1/wx.conf" >"$1/pg/wx.conf"
	"$WX" -c "$1/pg/wx.conf" init >/dev/null 2>"$1/pg/init.err" ||
		die "init on PostgreSQL ($1) failed: $(cat "$1/pg/init.err")"
	# the bill first: it does not need the ledger, so a ledger import that
	# cannot finish in time (as on 2026-12-07) still leaves the COPY figure
	cat "$1/gen/$D.trade.ALL.csv.gz" >/dev/null
	pg_measure pg_bill "$WX" -c "$1/pg/wx.conf" bill import "$1/gen/$D.trade.ALL.csv.gz" \
		--date "$D" --kind trade
	case $M_RC in 0 | 3 | 124) ;; *) die "bill import on PostgreSQL ($1) failed: $(cat pg_bill.err)" ;; esac
	_b="$M_S / $M_CPU + $PG_CPU" _bs=$M_S _bkb=$M_KB _bratio=$(calc "$M_S / $B_S" %.1f)x
	[ "$M_RC" = 124 ] && _b="> $LIMIT s (killed)" _bratio=-
	"$WX" -c "$1/pg/wx.conf" bill import "$1/gen/$D.fundflow.BASIC.csv.gz" --date "$D" \
		--kind fundflow >/dev/null 2>&1
	case $? in 0 | 3 | 124) ;; *) die "bill import fundflow on PostgreSQL ($1) failed" ;; esac
	pg_measure pg_led "$WX" -c "$1/pg/wx.conf" ledger import --orders "$1/gen/ledger_orders.csv" \
		--refunds "$1/gen/ledger_refunds.csv"
	if [ "$M_RC" = 124 ]; then
		# a day that cannot be loaded in time is a figure, not the end of the bench
		PG_MD="$PG_MD
| $2 | $4 | $GZREF / $GZCPU | $L_S / $L_C | > $LIMIT s (killed; BENCH_TIMEOUT) after $M_CPU + $PG_CPU CPU s | - | $B_S / $B_C | $_b | $_bratio | $R_S / $R_C | not run (no ledger) | - | $P_S | - | $(mib "$_bkb") MiB | not run |"
		PG_ALL_FOUND=MISS
		say "  PostgreSQL: bill $_b s; ledger import did not finish within $LIMIT s (CPU $M_CPU + server $PG_CPU s)"
		"$PG_BIN/dropdb" -h "$PG_SRV" -p "$PG_PORT" -U postgres "$PG_DB" >/dev/null 2>&1
		rm -rf "$1/pg"
		return 0
	fi
	[ "$M_RC" = 0 ] || die "ledger import on PostgreSQL ($1) failed: $(cat pg_led.err)"
	_l="$M_S / $M_CPU + $PG_CPU" _ls=$M_S
	pg_measure pg_rec "$WX" -c "$1/pg/wx.conf" reconcile --date "$D"
	case $M_RC in
	0 | 3) _r="$M_S / $M_CPU + $PG_CPU" _rs=$M_S ;;
	124) _r="> $LIMIT s (killed)" _rs= ;;
	*) die "reconcile on PostgreSQL ($1) failed (exit $M_RC): $(cat pg_rec.err)" ;;
	esac
	_rkb=$M_KB
	pg_measure pg_rep "$WX" -c "$1/pg/wx.conf" report --date "$D" -o "$1/pg/report.html"
	case $M_RC in 0 | 3) ;; *) die "report on PostgreSQL ($1) failed (exit $M_RC): $(cat pg_rep.err)" ;; esac
	_p=$M_S
	"$WX" -c "$1/pg/wx.conf" --json discrepancies --date "$D" --status all >"$1/pg/disc.json" 2>/dev/null
	json_objects <"$1/pg/disc.json" >"$1/pg/found.lines"
	keyed "$1/pg/found.lines" >"$1/pg/found.keys"
	_np=$(wc -l <"$1/planted.keys")
	_nf=$(wc -l <"$1/pg/found.keys")
	# the same findings as SQLite's (which 4. checks against the manifest)
	if cmp -s "$1/found.keys" "$1/pg/found.keys"; then _v=same; else _v=DIFFERENT PG_ALL_FOUND=MISS; fi
	_kb=$(printf '%s\n' "$_bkb" "$_rkb" | sort -n | tail -1)
	PG_MD="$PG_MD
| $2 | $4 | $GZREF / $GZCPU | $L_S / $L_C | $_l | $(calc "$_ls / $L_S" %.1f)x | $B_S / $B_C | $_b | $_bratio | $R_S / $R_C | $_r | $(if [ -n "$_rs" ]; then calc "$_rs / $R_S" %.1f; else echo '-'; fi)x | $P_S | $_p | $(mib "$_kb") MiB | $_np / $_nf, $_v |"
	say "  PostgreSQL: ledger $_l s, bill $_b s, reconcile $_r s, report $_p s; found $_nf, $_v as SQLite"
	"$PG_BIN/dropdb" -h "$PG_SRV" -p "$PG_PORT" -U postgres "$PG_DB" >/dev/null 2>&1
	rm -rf "$1/pg"
}
in_rates() { case " $PG_RATES " in *" $1 "*) return 0 ;; esac; return 1; }

# ---- the setup: keys, a generated day, the simulator, a config ---------------
mkdir -p keys
cp "$ROOT"/fixtures/keys/*.pem "$ROOT"/fixtures/keys/*.txt "$ROOT"/fixtures/keys/apiv3.key keys/
chmod 600 keys/apiclient_key.pem keys/wechatpay_key.pem keys/apiv3.key
NOW=$(date +%s)
# yesterday in Asia/Shanghai (UTC+8 all year): the simulator serves no future day
D=$(date -u -d "@$((NOW + 28800 - 86400))" +%F)
DM1=$(date -u -d "@$((NOW + 28800 - 2 * 86400))" +%F)

mkdir -p gen
if wanted bill || wanted reconcile; then
	say "bench: generating $ROWS rows for $D"
	measure gen "$SIM" generate --rows "$ROWS" --date "$D" --out gen
	[ "$M_RC" = 0 ] || { cat gen.err >&2; die "wxrecon-sim generate failed"; }
	GEN_S=$M_S
	TRADE_GZ=gen/$D.trade.ALL.csv.gz
	TRADE_BYTES=$(sed -n 's/.*trade\.ALL\.csv\.gz ([0-9]* rows, \([0-9]*\) bytes.*/\1/p' gen.out)
	[ -n "$TRADE_BYTES" ] || TRADE_BYTES=$(gzip -dc "$TRADE_GZ" | wc -c)
	GZ_BYTES=$(wc -c <"$TRADE_GZ")
fi

"$SIM" --port 0 --portfile sim.port --keys keys --bills gen --release-time 00:00 --quiet \
	>sim.log 2>&1 &
SIM_PID=$!
i=0
while [ ! -s sim.port ]; do
	i=$((i + 1))
	{ [ $i -gt 200 ] || ! kill -0 "$SIM_PID" 2>/dev/null; } && { cat sim.log >&2; die "wxrecon-sim did not start"; }
	sleep 0.05
done
URL="http://127.0.0.1:$(cat sim.port)"

cat >bench.conf <<EOF
[merchant]
mchid = 1900000001
appid = wx8888888888888888
serial_no = $(cat keys/merchant_serial.txt)
private_key = keys/apiclient_key.pem
apiv3_key_file = keys/apiv3.key
wechatpay_public_key = keys/pub_key.pem
wechatpay_public_key_id = $(cat keys/pub_key_id.txt)
[api]
base_url = $URL
timeout_s = 120
retries = 2
retry_base_ms = 20
[database]
path = bench.db
[policy]
close_after = 30m
close_max_per_run = $((SWEEP_N * 2))
[bills]
archive_dir = bills
release_time = 00:00
missing_after = 24h
EOF
wx() { "$WX" -c "$W/bench.conf" "$@"; }
wx init >/dev/null 2>&1 || die "wxrecon init failed"

R_BILL=
R_RECON=
R_SWEEP=

# ---- 1. bill ---------------------------------------------------------------
if wanted bill; then
	say "bench: 1. bill fetch ($ROWS rows, $(calc "$TRADE_BYTES / 1e6" %.1f) MB decompressed)"
	cat "$TRADE_GZ" >/dev/null # both sides read it from the page cache
	measure fetch "$WX" -c "$W/bench.conf" bill fetch --date "$D" --kind trade
	[ "$M_RC" = 124 ] && die "wxrecon bill fetch did not finish within $LIMIT s (BENCH_TIMEOUT)"
	[ "$M_RC" = 0 ] || { cat fetch.err >&2; die "wxrecon bill fetch failed (exit $M_RC)"; }
	F_S=$M_S F_KB=$M_KB
	STORED=$(sqlite3 bench.db "SELECT count(*) FROM bill_trades WHERE bill_date = '$D'")
	[ "$STORED" = "$ROWS" ] || die "bill fetch stored $STORED rows, not $ROWS"
	median3 sh -c "gzip -dc '$TRADE_GZ' >/dev/null"
	G_S=$MED_S
	# context: SQLite alone storing the same rows (same schema and indexes, WAL)
	"$WX" --db floor.db init >/dev/null 2>&1
	measure floor sqlite3 floor.db "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=OFF;
		ATTACH 'bench.db' AS src; BEGIN; INSERT INTO bill_files SELECT * FROM src.bill_files;
		INSERT INTO bill_trades SELECT * FROM src.bill_trades; COMMIT;"
	[ "$M_RC" = 0 ] || { cat floor.err >&2; die "the sqlite3 baseline failed"; }
	S_S=$M_S
	rm -f floor.db floor.db-wal floor.db-shm

	RATIO=$(calc "$F_S / $G_S")
	V_RATIO=$(verdict "$F_S / $G_S <= 4")
	V_RSS=$(verdict "$F_KB <= 65536")
	R_BILL=$(cat <<EOF
| | wall | rows/s | MB/s (decompressed) | peak RSS |
|---|---:|---:|---:|---:|
| \`wxrecon bill fetch --kind trade\` | $F_S s | $(calc "$ROWS / $F_S" %.0f) | $(calc "$TRADE_BYTES / 1e6 / $F_S" %.1f) | $(mib "$F_KB") MiB |
| baseline: \`gzip -dc FILE >/dev/null\` (median of 3) | $G_S s | $(calc "$ROWS / $G_S" %.0f) | $(calc "$TRADE_BYTES / 1e6 / $G_S" %.1f) | |
| context: sqlite3 copying the stored rows into an empty DB of the same schema | $S_S s | $(calc "$ROWS / $S_S" %.0f) | | |

Input: $ROWS rows, $(calc "$GZ_BYTES / 1e6" %.1f) MB gzip, $(calc "$TRADE_BYTES / 1e6" %.1f) MB decompressed, made by \`wxrecon-sim generate\` in $GEN_S s; served by \`wxrecon-sim --bills\` on 127.0.0.1.

- ours / gzip = **${RATIO}x** (target <= 4x): **$V_RATIO**
- peak RSS **$(mib "$F_KB") MiB** (target <= 64 MiB): **$V_RSS**
- ours / sqlite3 copy = $(calc "$F_S / $S_S")x
EOF
)
	say "  fetch $F_S s ($(calc "$ROWS / $F_S" %.0f) rows/s, $(mib "$F_KB") MiB); gzip $G_S s; ratio ${RATIO}x $V_RATIO; RSS $V_RSS; sqlite3 copy $S_S s"
fi

# ---- 2. reconcile ------------------------------------------------------------
if wanted reconcile && ! has reconcile; then
	R_RECON="Not run: \`wxrecon reconcile\` is not built on this commit."
	say "bench: 2. reconcile: skipped (not built yet)"
elif wanted reconcile; then
	say "bench: 2. reconcile $DM1..$D"
	if [ "$(sqlite3 bench.db "SELECT count(*) FROM bill_files WHERE bill_date = '$D' AND kind = 'trade'")" = 0 ]; then
		wx bill fetch --date "$D" --kind trade >/dev/null 2>&1 || die "bill fetch (trade) failed"
	fi
	measure ffetch "$WX" -c "$W/bench.conf" bill fetch --date "$D" --kind fundflow
	case $M_RC in 0 | 3) ;; *) cat ffetch.err >&2; die "bill fetch (fundflow) failed" ;; esac
	FF_S=$M_S
	measure import "$WX" -c "$W/bench.conf" ledger import --orders gen/ledger_orders.csv \
		--refunds gen/ledger_refunds.csv
	[ "$M_RC" = 0 ] || { cat import.err >&2; die "ledger import failed"; }
	I_S=$M_S I_KB=$M_KB
	LROWS=$(($(wc -l <gen/ledger_orders.csv) + $(wc -l <gen/ledger_refunds.csv) - 2))
	measure recon "$WX" -c "$W/bench.conf" reconcile --from "$DM1" --to "$D"
	RC_S=$M_S RC_KB=$M_KB RC_RC=$M_RC
	case $RC_RC in
	0 | 3 | 124) ;;
	*) cat recon.err >&2; die "reconcile failed (exit $RC_RC)" ;;
	esac
	if [ "$RC_RC" = 124 ]; then
		V_FOUND=MISS
		RC_WHAT="did not finish within $LIMIT s (killed; BENCH_TIMEOUT)"
		RC_FIG="> $LIMIT s | | $(mib "$RC_KB") MiB"
	else
		RC_WHAT="exit $RC_RC"
		RC_FIG="$RC_S s | $(calc "$ROWS / $RC_S" %.0f) bill rows/s | $(mib "$RC_KB") MiB"
		wx --json discrepancies --from "$DM1" --to "$D" --status all >disc.json 2>disc.err ||
			die "discrepancies failed: $(cat disc.err)"
		# planted (manifest.json) against found: kind + the first id each carries
		json_objects <gen/manifest.json | grep '"kind":' >planted.lines
		json_objects <disc.json >found.lines
		keyed planted.lines >planted.keys
		keyed found.lines >found.keys
		NPLANT=$(wc -l <planted.keys)
		NFOUND=$(wc -l <found.keys)
		comm -23 planted.keys found.keys | sed 's/^/missed: /' >recon.diff
		comm -13 planted.keys found.keys | sed 's/^/extra:  /' >>recon.diff
		if [ -s recon.diff ]; then V_FOUND=MISS; else V_FOUND=PASS; fi
	fi

	# baseline: the plain diff a hand-written SQL query would do, same DB
	measure join sqlite3 bench.db "
		SELECT
		 (SELECT count(*) FROM bill_trades b LEFT JOIN ledger_orders l
		   ON l.mchid = b.mchid AND l.out_trade_no = b.out_trade_no
		  WHERE b.bill_date = '$D' AND b.row_kind = 'SUCCESS' AND l.out_trade_no IS NULL),
		 (SELECT count(*) FROM bill_trades b JOIN ledger_orders l
		   ON l.mchid = b.mchid AND l.out_trade_no = b.out_trade_no
		  WHERE b.bill_date = '$D' AND b.row_kind = 'SUCCESS' AND l.amount_total <> b.order_amount),
		 (SELECT count(*) FROM ledger_orders l WHERE l.paid_date = '$D' AND NOT EXISTS
		   (SELECT 1 FROM bill_trades b WHERE b.mchid = l.mchid
		     AND b.out_trade_no = l.out_trade_no AND b.row_kind = 'SUCCESS'));"
	[ "$M_RC" = 0 ] || { cat join.err >&2; die "the sqlite3 join baseline failed"; }
	J_S=$M_S
	R_RECON=$(cat <<EOF
| | wall | rows/s | peak RSS |
|---|---:|---:|---:|
| \`wxrecon reconcile --from $DM1 --to $D\` ($RC_WHAT) | $RC_FIG |
| baseline: sqlite3, plain outer-join diff of bill_trades and ledger_orders (3 counts) | $J_S s | $(calc "$ROWS / $J_S" %.0f) | |
| setup: \`wxrecon ledger import\` ($LROWS rows) | $I_S s | $(calc "$LROWS / $I_S" %.0f) | $(mib "$I_KB") MiB |
| setup: \`wxrecon bill fetch --kind fundflow\` | $FF_S s | | |

$(if [ "$RC_RC" = 124 ]; then echo "- reconcile did not finish: **MISS**; nothing to compare with manifest.json"; else
echo "- ours / sqlite3 join = $(calc "$RC_S / $J_S")x (the engine does every SPEC 6 kind, writes findings and actions, and audits; the join only counts three kinds)"
echo "- planted (manifest.json): $NPLANT; found: $NFOUND; every planted one found and nothing else: **$V_FOUND**"; fi)
$(if [ -s recon.diff ]; then echo; echo '```'; cat recon.diff; echo '```'; fi)
EOF
)
	if [ "$RC_RC" = 124 ]; then
		say "  reconcile did not finish within $LIMIT s: MISS; sqlite3 join $J_S s"
	else
		say "  reconcile $RC_S s ($(mib "$RC_KB") MiB); sqlite3 join $J_S s; planted $NPLANT, found $NFOUND: $V_FOUND"
		[ -s recon.diff ] && sed 's/^/  /' recon.diff
	fi
fi

# ---- 3. sweep ----------------------------------------------------------------
if wanted sweep && ! has sweep; then
	R_SWEEP="Not run: \`wxrecon sweep\` is not built on this commit."
	say "bench: 3. sweep: skipped (not built yet)"
elif wanted sweep; then
	say "bench: 3. sweep orders ($SWEEP_N stale NOTPAY orders)"
	# a database of its own: nothing left by the other benchmarks in its way
	sed 's/^path = bench.db$/path = sweep.db/' bench.conf >sweep.conf
	"$WX" -c "$W/sweep.conf" init >/dev/null 2>&1 || die "wxrecon init (sweep) failed"
	awk -v n="$SWEEP_N" -v now="$NOW" -v url="$URL" '
	function ts(t,    d, s, z, era, doe, yoe, y, doy, mp, dd, m) {
		t += 28800; d = int(t / 86400); s = t - d * 86400
		z = d + 719468; era = int(z / 146097); doe = z - era * 146097
		yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
		y = yoe + era * 400; doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
		mp = int((5 * doy + 2) / 153); dd = doy - int((153 * mp + 2) / 5) + 1
		m = mp < 10 ? mp + 3 : mp - 9; if (m <= 2) y++
		return sprintf("%04d-%02d-%02dT%02d:%02d:%02d+08:00", y, m, dd, int(s / 3600), int(s % 3600 / 60), s % 60)
	}
	BEGIN {
		print "out_trade_no,transaction_id,amount_total,currency,state,created_at,time_expire,paid_at,attach,business_ref" > "sweep_orders.csv"
		printf "[" > "sweep_orders.json"
		for (i = 1; i <= n; i++) {
			c = ts(now - 3600 - i)
			printf "%s{\"out_trade_no\":\"BENCH%08d\",\"total\":%d,\"create_time\":\"%s\"}", (i > 1 ? "," : ""), i, 100 + i % 5000, c > "sweep_orders.json"
			printf "BENCH%08d,,%d,CNY,NOTPAY,%s,,,,\n", i, 100 + i % 5000, c > "sweep_orders.csv"
			printf "url = \"%s/_sim/orders/BENCH%08d\"\noutput = \"/dev/null\"\n", url, i > "curl.cfg"
		}
		print "]" > "sweep_orders.json"
	}'
	curl -sS --fail-with-body -X POST -H 'Content-Type: application/json' \
		--data-binary @sweep_orders.json "$URL/_sim/orders" >seed.out ||
		die "seeding the simulator failed: $(head -c 300 seed.out)"
	"$WX" -c "$W/sweep.conf" ledger import --orders sweep_orders.csv >/dev/null 2>import2.err ||
		die "ledger import failed: $(cat import2.err)"
	curl -sS -X DELETE "$URL/_sim/journal" >/dev/null
	measure sweep "$WX" -c "$W/sweep.conf" sweep orders --limit "$SWEEP_N"
	[ "$M_RC" = 124 ] && die "sweep orders did not finish within $LIMIT s (BENCH_TIMEOUT)"
	case $M_RC in 0 | 3) ;; *) cat sweep.err >&2; die "sweep orders failed (exit $M_RC)" ;; esac
	SW_S=$M_S SW_KB=$M_KB SW_RC=$M_RC
	CALLS=$(curl -sS "$URL/_sim/journal" | grep -o '"path": *"/v3/' | wc -l)
	CLOSED=$(sqlite3 sweep.db "SELECT count(*) FROM ledger_orders WHERE state = 'CLOSED'")
	measure curl curl -sS -K curl.cfg
	[ "$M_RC" = 0 ] || { cat curl.err >&2; die "the curl baseline failed"; }
	C_S=$M_S
	# the signature floor of one call: the merchant signs (RSA-2048), the server
	# verifies and signs its answer, the merchant verifies (openssl speed, 1 s each)
	SIGN_S='' VERIFY_S='' FLOOR=''
	if command -v openssl >/dev/null 2>&1; then
		# shellcheck disable=SC2046
		set -- $(openssl speed -seconds 1 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ { sub(/s$/, "", $4); sub(/s$/, "", $5); print $4, $5 }')
		if [ $# = 2 ]; then
			SIGN_S=$1 VERIFY_S=$2
			FLOOR=$(calc "2 * $SIGN_S + 2 * $VERIFY_S + $C_S / $SWEEP_N" %.6f)
		fi
	fi
	R_SWEEP=$(cat <<EOF
| | wall | per order | API calls | per call | peak RSS |
|---|---:|---:|---:|---:|---:|
| \`wxrecon sweep orders --limit $SWEEP_N\` (exit $SW_RC) | $SW_S s | $(calc "$SW_S * 1000 / $SWEEP_N" %.2f) ms | $CALLS | $(calc "$CALLS ? $SW_S * 1000 / $CALLS : 0" %.2f) ms | $(mib "$SW_KB") MiB |
| baseline: one curl process, $SWEEP_N plain GETs to the simulator | $C_S s | $(calc "$C_S * 1000 / $SWEEP_N" %.2f) ms | $SWEEP_N | $(calc "$C_S * 1000 / $SWEEP_N" %.2f) ms | |
$(if [ -n "$FLOOR" ]; then echo "| floor of a signed call: 2 RSA-2048 signs + 2 verifies (\`openssl speed\`: $(calc "$SIGN_S * 1000" %.3f) ms, $(calc "$VERIFY_S * 1000" %.3f) ms) + one GET above | $(calc "$FLOOR * $CALLS" %.3f) s | | $CALLS | $(calc "$FLOOR * 1000" %.2f) ms | |"; fi)

- orders closed: $CLOSED of $SWEEP_N
- ours / curl: $(calc "$SW_S / $C_S")x in total, $(calc "$CALLS ? ($SW_S / $CALLS) / ($C_S / $SWEEP_N) : 0")x per call$(if [ -n "$FLOOR" ] && [ "$CALLS" != 0 ]; then echo "; ours / signed-call floor: $(calc "($SW_S / $CALLS) / $FLOOR")x per call"; fi).
- Each order is three signed calls (query, close, confirm query). The curl baseline is the loopback HTTP floor of the same simulator with no signing; the signed-call floor adds the four RSA operations every real call needs (the simulator runs on the same cores). Beyond both, wxrecon writes the action (intent, then done), the ledger row and the audit log for every order.
EOF
)
	say "  sweep $SW_S s for $SWEEP_N orders ($CALLS calls, $CLOSED closed); curl $C_S s"
fi

# ---- 4. scale: rows x discrepancy rates -------------------------------------
R_SCALE=
FLOOR_BIN=$BUILD/tests/bench/floor
# conf_for DIR PORT: a config for a scenario's own database and simulator
conf_for() {
	sed -e "s#^path = bench.db\$#path = $1/wx.db#" -e "s#^base_url = .*#base_url = http://127.0.0.1:$2#" \
		-e "s#^archive_dir = bills\$#archive_dir = $1/bills#" -e "s#= keys/#= $W/keys/#" bench.conf >"$1/wx.conf"
}
# sim_for DIR: a simulator serving DIR/gen; sets SC_PID and SC_PORT
sim_for() {
	rm -f "$1/sim.port"
	"$SIM" --port 0 --portfile "$1/sim.port" --keys keys --bills "$1/gen" --release-time 00:00 \
		--quiet >"$1/sim.log" 2>&1 &
	SC_PID=$!
	_i=0
	while [ ! -s "$1/sim.port" ]; do
		_i=$((_i + 1))
		{ [ $_i -gt 200 ] || ! kill -0 "$SC_PID" 2>/dev/null; } && die "wxrecon-sim did not start for $1"
		sleep 0.05
	done
	SC_PORT=$(cat "$1/sim.port")
}
us_row() { calc "$1 * 1e6 / $2" %.1f; }
if wanted scale; then
	say "bench: 4. scale: rows $SCALE_ROWS x rates $SCALE_RATES"
	SC_ROWS_MD=
	SC_FLOOR_MD=
	SC_ALL_FOUND=PASS
	SC_RSS_MAX=0
	for n in $SCALE_ROWS; do
		GZREF=
		for rate in $SCALE_RATES; do
			case $rate in
			lost10) opts="--anomaly-rate 0 --rate MISSING_IN_LEDGER=10%" what="ledger lost 10%" ;;
			*) opts="--anomaly-rate $rate" what="$rate of each kind" ;;
			esac
			dir=$W/scale-$n-$(printf '%s' "$rate" | tr -c 'a-z0-9' '_')
			mkdir -p "$dir"
			# shellcheck disable=SC2086
			"$SIM" generate --rows "$n" --date "$D" --out "$dir/gen" $opts >"$dir/gen.out" 2>&1 ||
				die "generate $n rows at $rate failed: $(cat "$dir/gen.out")"
			TGZ=$dir/gen/$D.trade.ALL.csv.gz FGZ=$dir/gen/$D.fundflow.BASIC.csv.gz
			sim_for "$dir"
			conf_for "$dir" "$SC_PORT"
			"$WX" -c "$dir/wx.conf" init >/dev/null 2>&1 || die "init ($dir) failed"
			measure sc_led "$WX" -c "$dir/wx.conf" ledger import --orders "$dir/gen/ledger_orders.csv" \
				--refunds "$dir/gen/ledger_refunds.csv"
			[ "$M_RC" = 0 ] || die "ledger import ($dir) failed: $(cat sc_led.err)"
			L_S=$M_S L_KB=$M_KB L_C=$M_CPU
			LROWS=$(($(wc -l <"$dir/gen/ledger_orders.csv") + $(wc -l <"$dir/gen/ledger_refunds.csv") - 2))
			cat "$TGZ" >/dev/null
			measure sc_bill "$WX" -c "$dir/wx.conf" bill import "$TGZ" --date "$D" --kind trade
			case $M_RC in 0 | 3) ;; *) die "bill import ($dir) failed: $(cat sc_bill.err)" ;; esac
			B_S=$M_S B_KB=$M_KB B_C=$M_CPU
			[ "$rate" = 1% ] && { SC_1PCT_GZ=$TGZ; SC_1PCT_DAY1_S=$B_C; SC_1PCT_ROWS=$n; }
			"$WX" -c "$dir/wx.conf" bill import "$FGZ" --date "$D" --kind fundflow >/dev/null 2>&1
			case $? in 0 | 3) ;; *) die "bill import fundflow ($dir) failed" ;; esac
			measure sc_rec "$WX" -c "$dir/wx.conf" reconcile --date "$D"
			case $M_RC in 0 | 3) ;; *) die "reconcile ($dir) failed (exit $M_RC): $(cat sc_rec.err)" ;; esac
			R_S=$M_S R_KB=$M_KB R_C=$M_CPU
			measure sc_rep "$WX" -c "$dir/wx.conf" report --date "$D" --format html -o "$dir/report.html"
			case $M_RC in 0 | 3) ;; *) die "report ($dir) failed (exit $M_RC): $(cat sc_rep.err)" ;; esac
			P_S=$M_S P_KB=$M_KB
			"$WX" -c "$dir/wx.conf" --json discrepancies --date "$D" --status all >"$dir/disc.json" 2>/dev/null
			json_objects <"$dir/gen/manifest.json" | grep '"kind":' | grep -v '"kind":"BILL_MISSING"' >"$dir/planted.lines"
			json_objects <"$dir/disc.json" >"$dir/found.lines"
			keyed "$dir/planted.lines" >"$dir/planted.keys"
			keyed "$dir/found.lines" >"$dir/found.keys"
			NP=$(wc -l <"$dir/planted.keys")
			NF=$(wc -l <"$dir/found.keys")
			if cmp -s "$dir/planted.keys" "$dir/found.keys"; then V=PASS; else V=MISS SC_ALL_FOUND=MISS; fi
			if [ -z "$GZREF" ]; then
				measure sc_gz sh -c "gzip -dc '$TGZ' >/dev/null"
				GZREF=$M_S GZCPU=$M_CPU
			fi
			# 6.: the same day on PostgreSQL, with the same simulator
			if [ -n "$PG_SRV" ] && in_rates "$rate"; then
				pg_day "$dir" "$n" "$rate" "$what"
			fi
			kill "$SC_PID" 2>/dev/null
			wait "$SC_PID" 2>/dev/null
			SC_PID=
			STEP_KB=$(printf '%s\n' "$L_KB" "$B_KB" "$R_KB" "$P_KB" | sort -n | tail -1)
			[ "$STEP_KB" -gt "$SC_RSS_MAX" ] && SC_RSS_MAX=$STEP_KB
			SC_ROWS_MD="$SC_ROWS_MD
| $n | $what | $GZREF / $GZCPU | $L_S / $L_C ($(us_row "$L_C" "$LROWS")) | $B_S / $B_C ($(us_row "$B_C" "$n")) | $(calc "$B_C / $GZCPU" %.1f)x | $R_S / $R_C ($(us_row "$R_C" "$n")) | $(calc "$R_C / $GZCPU" %.1f)x | $P_S | $(mib "$L_KB") / $(mib "$B_KB") / $(mib "$R_KB") / $(mib "$P_KB") MiB | $NP / $NF $V |"
			say "  $n rows, $what: ledger $L_S s, bill $B_S s (CPU $(calc "$B_C / $GZCPU" %.1f)x gzip), reconcile $R_S s (CPU $(calc "$R_C / $GZCPU" %.1f)x), report $P_S s; peak RSS ledger/bill/reconcile/report $(mib "$L_KB")/$(mib "$B_KB")/$(mib "$R_KB")/$(mib "$P_KB") MiB; planted $NP found $NF $V"
			if [ "$rate" = 1% ] && [ -x "$FLOOR_BIN" ]; then
				for mode in indexed index-after; do
					"$WX" --db "$dir/floor.db" init >/dev/null 2>&1 || die "init (floor) failed"
					measure sc_floor "$FLOOR_BIN" "$dir/floor.db" "$TGZ" "$mode"
					[ "$M_RC" = 0 ] || die "the floor ($mode) failed: $(cat sc_floor.err)"
					SC_FLOOR_MD="$SC_FLOOR_MD
| $n | bill floor: zlib + the parser + one INSERT, $mode | $M_S / $M_CPU | $(us_row "$M_CPU" "$n") | CPU $(calc "$M_CPU / $GZCPU" %.1f)x gzip; bill import / floor = $(calc "$B_C / $M_CPU" %.2f)x |"
					rm -f "$dir/floor.db" "$dir/floor.db-wal" "$dir/floor.db-shm"
				done
				# the ledger floor: sqlite3 inserting the same order rows from a staging table
				"$WX" --db "$dir/lfloor.db" init >/dev/null 2>&1 || die "init (ledger floor) failed"
				measure sc_lfloor sqlite3 "$dir/lfloor.db" ".mode csv" ".import $dir/gen/ledger_orders.csv lo_stage" \
					"PRAGMA cache_size=-24576; BEGIN; INSERT INTO ledger_orders (mchid, out_trade_no, transaction_id, amount_total, currency, state, created_at, created_ts, time_expire, expire_ts, paid_at, paid_ts, paid_date, attach, business_ref, updated_at) SELECT '1900000001', out_trade_no, NULLIF(transaction_id, ''), CAST(amount_total AS INTEGER), currency, state, created_at, unixepoch(created_at), NULLIF(time_expire, ''), unixepoch(NULLIF(time_expire, '')), NULLIF(paid_at, ''), unixepoch(NULLIF(paid_at, '')), date(NULLIF(paid_at, ''), '+8 hours'), attach, business_ref, created_at FROM lo_stage; COMMIT;"
				if [ "$M_RC" = 0 ]; then
					SC_FLOOR_MD="$SC_FLOOR_MD
| $n | ledger floor: sqlite3 .import + one INSERT ... SELECT of the orders | $M_S / $M_CPU | $(us_row "$M_CPU" "$LROWS") | ledger import / floor = $(calc "$L_C / $M_CPU" %.2f)x CPU (target <= 2x) |"
				else
					SC_FLOOR_MD="$SC_FLOOR_MD
| $n | ledger floor | failed: $(head -c 200 sc_lfloor.err | tr '\n|' '  ') | | |"
				fi
				rm -f "$dir/lfloor.db" "$dir/lfloor.db-wal" "$dir/lfloor.db-shm"
			fi
			rm -rf "$dir/gen/ledger_orders.csv" "$dir/gen/ledger_refunds.csv" "$dir/bills" "$dir/wx.db" "$dir/wx.db-wal"
			[ "$rate" = 1% ] || rm -rf "$dir"
		done
	done
	R_SCALE=$(cat <<EOF
Each cell: wall seconds / CPU seconds (user + sys; us of CPU per row). Ratios are of CPU seconds to those of the same-run \`gzip -dc\` of the day's trade bill: on a shared machine load swings wall time, not CPU time. Ledger import counts orders + refunds; the others count bill rows. "planted / found" compares the manifest's cases of the day with \`discrepancies --status all\` by kind and id.

| rows | anomalies | gzip -dc | ledger import | bill import (trade) | bill / gzip | reconcile --date | reconcile / gzip | report s | peak RSS: ledger / bill / reconcile / report | planted / found |
|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|$SC_ROWS_MD

| rows | floor | wall | us/row | |
|---:|---|---:|---:|---|$SC_FLOOR_MD

- every planted case found and nothing else, at every size and rate: **$SC_ALL_FOUND**
- peak RSS of any step: $(mib "$SC_RSS_MAX") MiB (target <= 64 MiB): **$(verdict "$SC_RSS_MAX <= 65536")**
- targets on the 1%-day of the largest size: bill import <= 5x gzip, reconcile <= 5x gzip (see the table)
EOF
)
fi

if [ -n "$PG_MD" ]; then
	R_PG=$(cat <<EOF
The days of 4. at $PG_RATES, each loaded again into a fresh PostgreSQL $PG_VERSION database by the same commands (bill rows go in by COPY). The server is the tests' throwaway one (scripts/pg-tmp.sh: a unix socket; fsync, synchronous_commit and full_page_writes off; shared_buffers 32MB), SQLite runs with WAL and synchronous=NORMAL: neither waits for the disk much, PostgreSQL not at all. SQLite cells: wall / CPU seconds of wxrecon. PostgreSQL cells: wall / CPU seconds of wxrecon + CPU seconds of the server (/proc: the postmaster, its finished backends and its live children). "PG / SQLite" is of wall seconds. The last column compares the discrepancies found on PostgreSQL with SQLite's, by kind and id (4. checks SQLite's against the manifest).

| rows | anomalies | gzip -dc | ledger import, SQLite | ledger import, PostgreSQL | PG / SQLite | bill import, SQLite | bill import, PostgreSQL | PG / SQLite | reconcile, SQLite | reconcile, PostgreSQL | PG / SQLite | report s, SQLite | report s, PostgreSQL | peak RSS of wxrecon (PG bill import, reconcile) | planted / found on PG |
|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|$PG_MD

- the same discrepancies found on PostgreSQL as on SQLite, every day: **$PG_ALL_FOUND**
EOF
)
elif [ -n "$PG_SKIP" ]; then
	R_PG=$PG_SKIP
fi

# ---- 5. history: the same day into a database holding weeks -----------------
R_HIST=
if wanted history && [ -n "${SC_1PCT_GZ:-}" ]; then
	say "bench: 5. history: $HIST_DAYS days of $HIST_ROWS rows, then the $SC_1PCT_ROWS-row 1% day"
	hd=$W/history
	mkdir -p "$hd"
	conf_for "$hd" 1
	"$WX" -c "$hd/wx.conf" init >/dev/null 2>&1 || die "init (history) failed"
	day=1
	while [ $day -le "$HIST_DAYS" ]; do
		hdate=$(date -u -d "$D - $((HIST_DAYS + 1 - day)) days" +%F)
		"$SIM" generate --rows "$HIST_ROWS" --date "$hdate" --out "$hd/g" --seed "$day" >/dev/null 2>&1 ||
			die "generate (history day $day) failed"
		"$WX" -c "$hd/wx.conf" bill import "$hd/g/$hdate.trade.ALL.csv.gz" --date "$hdate" --kind trade >/dev/null 2>&1
		case $? in 0 | 3) ;; *) die "bill import (history $hdate) failed" ;; esac
		"$WX" -c "$hd/wx.conf" ledger import --orders "$hd/g/ledger_orders.csv" --refunds "$hd/g/ledger_refunds.csv" >/dev/null 2>&1 ||
			die "ledger import (history $hdate) failed"
		rm -rf "$hd/g" "$hd/bills"
		day=$((day + 1))
	done
	sqlite3 "$hd/wx.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
	H_BYTES0=$(wc -c <"$hd/wx.db")
	HROWS0=$(sqlite3 "$hd/wx.db" "SELECT count(*) FROM bill_trades")
	cat "$SC_1PCT_GZ" >/dev/null
	measure hist "$WX" -c "$hd/wx.conf" bill import "$SC_1PCT_GZ" --date "$D" --kind trade
	case $M_RC in 0 | 3) ;; *) die "bill import (after history) failed: $(cat hist.err)" ;; esac
	H_S=$M_CPU
	sqlite3 "$hd/wx.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
	H_BYTES1=$(wc -c <"$hd/wx.db")
	BPR=$(calc "($H_BYTES1 - $H_BYTES0) / $SC_1PCT_ROWS" %.0f)
	CSV_BPR=$(calc "$(gzip -dc "$SC_1PCT_GZ" | wc -c) / $SC_1PCT_ROWS" %.0f)
	R_HIST=$(cat <<EOF
| | wall | |
|---|---:|---|
| bill import of the $SC_1PCT_ROWS-row 1% day into an empty database (4.), CPU | $SC_1PCT_DAY1_S s | |
| the same into a database holding $HIST_DAYS days ($HROWS0 bill rows), CPU | $H_S s | $(calc "$H_S / $SC_1PCT_DAY1_S")x day 1 (target <= 1.2x): **$(verdict "$H_S / $SC_1PCT_DAY1_S <= 1.2")** |

- stored per bill row (database growth after a checkpoint / rows; table and indexes): $BPR bytes; the raw CSV: $CSV_BPR bytes per row (target: stored <= raw): **$(verdict "$BPR <= $CSV_BPR")**
EOF
)
	say "  after $HIST_DAYS days: $H_S s (day 1: $SC_1PCT_DAY1_S s); $BPR B/row stored, CSV $CSV_BPR B/row"
	rm -rf "$hd"
fi

# ---- RESULTS.md --------------------------------------------------------------
mkdir -p "$(dirname "$RESULTS")"
{
	echo "# wxrecon benchmarks"
	echo
	echo "Written by \`make bench\` (scripts/bench.sh); every baseline was measured in the same run."
	echo "A MISS is a target not met, reported rather than failed."
	echo
	echo "- when: $WHEN"
	echo "- machine: $NPROC x $CPU (nproc; /proc/cpuinfo), $MEM RAM, $OS, Linux $KERNEL"
	echo "- scratch: ${FS:-?} file system under $BASE"
	echo "- wxrecon: $VERSION, commit $COMMIT, built with the default flags (-O2)"
	echo "- tools: $GZIP; sqlite3 $SQLITE; peak RSS: $RSS_HOW"
	echo
	echo "## 1. Bill fetch (issue 5)"
	echo
	if [ -n "$R_BILL" ]; then echo "$R_BILL"; else echo "Not run (BENCH_ONLY)."; fi
	echo
	echo "## 2. Reconcile (issue 6)"
	echo
	if [ -n "$R_RECON" ]; then echo "$R_RECON"; else echo "Not run (BENCH_ONLY)."; fi
	echo
	echo "## 3. Sweep (issue 11)"
	echo
	if [ -n "$R_SWEEP" ]; then echo "$R_SWEEP"; else echo "Not run (BENCH_ONLY)."; fi
	echo
	echo "## 4. Scale: rows x discrepancy rates (issue 14)"
	echo
	if [ -n "$R_SCALE" ]; then echo "$R_SCALE"; else echo "Not run (BENCH_ONLY)."; fi
	echo
	echo "## 5. History: a day into a database holding weeks (issue 14)"
	echo
	if [ -n "$R_HIST" ]; then echo "$R_HIST"; else echo "Not run (BENCH_ONLY, or no 1% day in 4.)."; fi
	echo
	echo "## 6. PostgreSQL: the days of 4. on both backends (issue 16)"
	echo
	if [ -n "$R_PG" ]; then echo "$R_PG"; else echo "Not run (BENCH_ONLY, or no day of 4. at $PG_RATES)."; fi
} >"$RESULTS.tmp" && mv "$RESULTS.tmp" "$RESULTS"
say "bench: wrote $RESULTS"
