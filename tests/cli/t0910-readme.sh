#!/bin/sh
# t0910-readme: every block of README.md that a reader is told to run is marked
# with a line `<!-- runnable: KIND -->` just before its fence, and this test runs
# each marked block in a temporary copy of the situation it assumes:
#
#   make-targets  each `make TARGET` line names a target of the Makefile (make -q;
#                 `make demo` and `make test` cannot run inside make test)
#   config        the ini block, as wxrecon.conf beside the test keys, passes
#                 `wxrecon config check`
#   sim           the simulator recipe, run as a script (sh -e) beside that config,
#                 with build/ and fixtures/ of this tree and its fixed port 8099
#                 replaced by a free one
#   demo-try      after a demo run (scripts/demo.sh, as t0900), each line exits 0
#                 and prints something; so does each of the demo's own "Try:" lines
#
# A ```sh block without a marker, or a marker of an unknown kind, fails the test.
. "$(dirname "$0")/test-lib.sh"

README=$SRC_ROOT/README.md
KINDS="make-targets config sim demo-try"

# blocks KIND: the lines of every block marked KIND, each block ended by "@@"
blocks() {
	awk -v kind="$1" '
		/^<!-- runnable: / { pending = $3; next }
		/^```/ {
			if (inb) { inb = 0; if (take) print "@@"; take = 0; next }
			inb = 1; take = pending == kind; pending = ""; next
		}
		inb { if (take) print; next }
		{ pending = "" }
	' "$README"
}
# lines KIND: the non-empty, non-comment lines of those blocks
lines() { blocks "$1" | grep -v -e '^@@$' -e '^ *#' -e '^ *$'; }

# markers: "kind K" for each marked block, "LINE: unmarked" for a ```sh block without one
markers() {
	awk '
		/^<!-- runnable: / { m = $3; next }
		/^```/ {
			if (inb) { inb = 0; next }
			inb = 1
			if ($0 ~ /^```sh/ && m == "") print NR ": unmarked"
			if (m != "") print "kind " m
			m = ""; next
		}
		inb { next }
		{ m = "" }
	' "$README"
}

# a free port for the simulator recipe (whose README text says 8099)
"$WXRECON_SIM_BIN" --port 0 --portfile free.port --keys "$FIXTURES/keys" >free.log 2>&1 &
FREE_PID=$!
i=0
while [ ! -s free.port ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
FREE_PORT=$(cat free.port)
kill "$FREE_PID" && wait "$FREE_PID" 2>/dev/null

test_expect_success 'every sh block is marked runnable, with a known kind' '
	markers >found &&
	! grep ": unmarked$" found &&
	sed -n "s/^kind //p" found | sort -u >kinds &&
	printf "%s\n" $KINDS | sort >want &&
	test_cmp want kinds
'

test_expect_success 'make-targets: every make line names a target the Makefile has' '
	lines make-targets | grep "^make" >make.lines &&
	test "$(wc -l <make.lines)" -ge 10 &&
	while read -r line; do
		case $line in
		"make  "* | make) t= ;;
		*) t=$(echo "$line" | awk "{ print \$2 }") ;;
		esac &&
		{ make -q -C "$SRC_ROOT" $t >/dev/null 2>&1; rc=$?; } &&
		if [ "$rc" = 2 ]; then echo "no make target: $line" >&2; exit 1; fi
	done <make.lines &&
	grep -q "^make demo" make.lines && grep -q "^make test" make.lines
'
echo "# make demo and make test are not run here (they are what runs this); t0900 runs the demo"

test_expect_success 'config: the ini block passes config check as written' '
	blocks config | sed "/^@@$/,\$d" >wxrecon.conf &&
	test -s wxrecon.conf &&
	keys_setup &&
	wxrecon -c wxrecon.conf config check >out 2>err &&
	test_grep "^config .wxrecon.conf. is usable$" out &&
	test_cmp /dev/null err
'

test_expect_success 'sim: the simulator recipe runs against that config' '
	mkdir try && cp wxrecon.conf try/ && cp -p -r keys try/ &&
	ln -s "$BUILD_DIR" try/build && ln -s "$FIXTURES" try/fixtures &&
	port=$FREE_PORT && test -n "$port" &&
	blocks sim | sed "/^@@$/,\$d" >sim.block &&
	grep -q "^build/wxrecon-sim --port 8099 .*&$" sim.block &&
	{ echo "trap \"kill \\\$! 2>/dev/null\" EXIT" && sed "s/8099/$port/g" sim.block; } >try/run.sh &&
	(cd try && sh -e run.sh >../sim.out 2>../sim.err) &&
	test_grep "^config .try.conf. is usable$" sim.out &&
	test_grep "^sweep orders: 0 candidates" sim.out &&
	test_grep " trade .*\(empty\|not_ready\)" sim.out &&
	! curl -s -m 2 "http://127.0.0.1:$port/_sim/clock" >/dev/null
'

# the demo and its lines in repo/, as from a checkout: build/ and demo/ in it
test_expect_success 'demo-try: after the demo, each line exits 0 and prints something' '
	mkdir repo && cd repo &&
	DEMO_DIR=$TRASH/repo/demo sh "$SRC_ROOT/scripts/demo.sh" --no-build >demo.out 2>demo.err &&
	ln -s "$BUILD_DIR" build &&
	lines demo-try >try.lines &&
	test "$(wc -l <try.lines)" -ge 3 &&
	n=0 &&
	while read -r line; do
		n=$((n + 1)) &&
		{ sh -c "$line" >try$n.out 2>try$n.err; rc=$?; } &&
		if [ "$rc" != 0 ] || [ ! -s try$n.out ]; then
			echo "README line: $line: exit $rc, $(wc -c <try$n.out) bytes:" >&2 &&
			cat try$n.err >&2 && exit 1
		fi
	done <try.lines
'
test_expect_success "demo-try: so does each of the demo's own Try: lines" '
	cd repo &&
	sed -n "/^== done in .* Try:$/,\$p" demo.out | grep "^  [^ #]" >demo-try.lines &&
	test "$(wc -l <demo-try.lines)" -ge 6 &&
	grep -q " audit --date " demo-try.lines &&
	n=0 &&
	while read -r line; do
		n=$((n + 1)) &&
		{ sh -c "$line" >dtry$n.out 2>dtry$n.err; rc=$?; } &&
		if [ "$rc" != 0 ] || { [ ! -s dtry$n.out ] && [ ! -s dtry$n.err ]; }; then
			echo "demo line: $line: exit $rc, prints nothing or fails:" >&2 &&
			cat dtry$n.err >&2 && exit 1
		fi
	done <demo-try.lines
'

test_done
