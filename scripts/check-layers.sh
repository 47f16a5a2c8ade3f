#!/bin/sh
# check-layers.sh - the shape of src/ (issue 15), from its #include lines and its text.
#
#   BUILD=build sh scripts/check-layers.sh [ROOT]      (make check-layers)
#
# The calls come from the symbols of the built objects (nm on $BUILD/src/**/*.o), so
# a cycle through a header that another file implements (cmd/cmd.h, defined in
# main.c) or through an extern is seen too. make check-layers builds them first.
# Layers, top to bottom: main.c -> cmd -> core -> {db, wx} -> base. A file may
# include its own folder and any folder below; db and wx are siblings and do not
# include each other. include/wxrecon.h (the error codes, included by base/err.h)
# counts as base, include/wxpay.h (the v3 client's interface, implemented in src/wx)
# as wx. src/sim is its own binary: it includes sim, base and wx/crypto.h only, and
# nothing but sim includes sim. Rules, each printed as one line:
#
#   arrow:        an include against the order above
#   cmd-db:       src/cmd/ includes a db/ header (commands call core, core calls db)
#   call:         a module that calls (or uses the data of) a module against the order
#   cycle-files:  modules that include or call each other (a module is X.c with X.h)
#   cycle-folders: folders that include or call each other
#   sql:          SQL in a string literal outside src/db/ (lines per file)
#   sqlite-api:   the SQLite API used outside src/db/db_sqlite.c, the SQLite backend
#                 (db_sqlite.h names its handles for the unit tests; lines per file)
#   getenv:       getenv outside src/main.c, src/cmd/ and src/sim/sim_main.c (lines per file)
#   include:      an #include "..." that names no file of the tree
#
# scripts/layers-known.txt lists today's violations, "LINE  # reason". A violation
# not on it fails, and so does an entry that no longer occurs: fix one, remove its
# line, and the list only shrinks.
set -eu

ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT"
KNOWN=scripts/layers-known.txt
export LC_ALL=C

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-layers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

find src include -name '*.[ch]' | sort >"$tmp/files"

BUILD=${BUILD:-build}
objs=$(find "$BUILD/src" -name '*.o' 2>/dev/null | sort)
if [ -z "$objs" ]; then
	echo "check-layers: no objects in $BUILD/src; run make first (the calls are read from them)" >&2
	exit 1
fi
# "object: TYPE symbol" for the global symbols, defined and undefined
# shellcheck disable=SC2086
nm -A -g $objs | awk '{ print $1, $(NF - 1), $NF }' >"$tmp/syms"

awk -v list="$tmp/files" -v syms="$tmp/syms" -v build="$BUILD" '
function layer(f, p) {
	if (f == "src/main.c")
		return "main"
	if (f == "include/wxrecon.h")
		return "base"
	if (f == "include/wxpay.h")
		return "wx"
	if (f ~ /^src\/(cmd|core|db|wx|base|sim)\//) {
		split(f, p, "/")
		return p[2]
	}
	return "?"
}
function rank(l) {
	return l == "main" ? 5 : l == "cmd" ? 4 : l == "core" ? 3 : \
	       (l == "db" || l == "wx") ? 2 : l == "base" ? 1 : 0
}
function module(f, m) {
	m = f
	sub(/\.[ch]$/, "", m)
	return m
}
function dirof(f, d) {
	d = f
	sub(/\/[^\/]*$/, "", d)
	return d
}
# why the include f -> t is against the layers, or "" when it is not
function against(f, t, lf, lt) {
	lf = layer(f)
	lt = layer(t)
	if (lf == "?" || lt == "?")
		return "a file outside the known folders"
	if (lf == "sim")
		return (lt == "sim" || lt == "base" || t == "src/wx/crypto.h") ? "" : \
		       "sim includes only sim, base and wx/crypto.h"
	if (lt == "sim")
		return "only sim includes sim"
	if (lf == lt || rank(lt) < rank(lf))
		return ""
	if (rank(lt) == rank(lf))
		return lf " and " lt " do not include each other"
	return lt " is above " lf
}
function addedge(g, a, b) {
	if (a == b || ((g, a, b) in HAS))
		return
	HAS[g, a, b] = 1
	ADJ[g, a] = ADJ[g, a] " " b
	if (!((g, a) in NODE)) {
		NODE[g, a] = 1
		NODES[g] = NODES[g] " " a
	}
	if (!((g, b) in NODE)) {
		NODE[g, b] = 1
		NODES[g] = NODES[g] " " b
	}
}
function sortwords(s, w, n, i, j, x, r) {
	n = split(s, w, " ")
	for (i = 2; i <= n; i++) {
		x = w[i]
		for (j = i - 1; j >= 1 && w[j] > x; j--)
			w[j + 1] = w[j]
		w[j + 1] = x
	}
	r = ""
	for (i = 1; i <= n; i++)
		r = r (i > 1 ? " " : "") w[i]
	return r
}
# Tarjan: each strongly connected component of graph g with more than one node
function strong(g, v, kind, nb, n, i, w, comp) {
	IDX[g, v] = LOW[g, v] = ++COUNTER
	STACK[++SP] = v
	ON[g, v] = 1
	n = split(ADJ[g, v], nb, " ")
	for (i = 1; i <= n; i++) {
		w = nb[i]
		if (!((g, w) in IDX)) {
			strong(g, w, kind)
			if (LOW[g, w] < LOW[g, v])
				LOW[g, v] = LOW[g, w]
		} else if (ON[g, w] && IDX[g, w] < LOW[g, v]) {
			LOW[g, v] = IDX[g, w]
		}
	}
	if (LOW[g, v] == IDX[g, v]) {
		comp = ""
		n = 0
		do {
			w = STACK[SP--]
			ON[g, w] = 0
			comp = comp " " w
			n++
		} while (w != v)
		if (n > 1)
			print kind ": " sortwords(comp)
	}
}
function count(rule, f) {
	N[rule, f]++
	if (!((rule, f) in SEEN)) {
		SEEN[rule, f] = 1
		COUNTED[++NC] = rule SUBSEP f
	}
}
BEGIN {
	# a statement in a literal; a transaction statement alone ("BEGIN", not "-----BEGIN CERT")
	SQL = "(^|[^A-Za-z_])(SELECT|INSERT( OR [A-Z]+)? INTO|UPDATE [a-z_]+ SET|DELETE FROM|" \
	      "REPLACE INTO|CREATE (TABLE|INDEX|TRIGGER|VIEW)|DROP (TABLE|TRIGGER|INDEX|VIEW)|" \
	      "ALTER TABLE|PRAGMA|SAVEPOINT|RELEASE|ROLLBACK TO)([^A-Za-z_]|$)"
	TX = "^\" *(BEGIN( IMMEDIATE| EXCLUSIVE| DEFERRED)?( TRANSACTION)?|COMMIT|END|ROLLBACK) *;? *\"$"
	while ((getline f <list) > 0)
		EXISTS[f] = 1
	close(list)
	while ((getline f <list) > 0) {
		incomment = 0
		while ((getline line <f) > 0) {
			# comments out: /* ... */ on one line, // ..., and the body of a block comment
			if (incomment) {
				if (line !~ /\*\//)
					continue
				sub(/^.*\*\//, "", line)
				incomment = 0
			}
			gsub(/\/\*([^*]|\*+[^*\/])*\*+\//, "", line)
			if (line ~ /\/\*/) {
				sub(/\/\*.*$/, "", line)
				incomment = 1
			}
			if (match(line, /^[ \t]*#[ \t]*include[ \t]*"[^"]+"/)) {
				inc = substr(line, RSTART, RLENGTH)
				sub(/^[^"]*"/, "", inc)
				sub(/"$/, "", inc)
				t = ""
				if ((dirof(f) "/" inc) in EXISTS)
					t = dirof(f) "/" inc
				else if (("include/" inc) in EXISTS)
					t = "include/" inc
				else if (("src/" inc) in EXISTS)
					t = "src/" inc
				if (t == "") {
					print "include: " f " includes \"" inc "\", no such file in the tree"
					continue
				}
				why = against(f, t)
				if (why != "")
					print "arrow: " f " includes " t " (" why ")"
				if (f ~ /^src\/cmd\// && t ~ /^src\/db\//)
					print "cmd-db: " f " includes " t " (commands call core, not db)"
				addedge("m", module(f), module(t))
				addedge("d", layer(f), layer(t))
				continue
			}
			if (f != "src/db/db_sqlite.c" && f != "src/db/db_sqlite.h" &&
			    line ~ /sqlite3(_[a-z_0-9]+|\.h)/)
				count("sqlite-api", f)
			if (f !~ /^src\/db\//) {
				s = line
				gsub(/\047(\\.|[^\047\\])\047/, "", s)
				while (match(s, /"(\\.|[^"\\])*"/)) {
					lit = substr(s, RSTART, RLENGTH)
					s = substr(s, RSTART + RLENGTH)
					if (lit ~ SQL || lit ~ TX) {
						count("sql", f)
						break
					}
				}
			}
			if (f != "src/main.c" && f !~ /^src\/cmd\// && f != "src/sim/sim_main.c" &&
			    line ~ /(^|[^A-Za-z_0-9])(secure_)?getenv[ \t]*\(/)
				count("getenv", f)
		}
		close(f)
	}
	# calls: object A uses a symbol object B defines
	while ((getline line <syms) > 0) {
		split(line, w, " ")
		o = w[1]
		sub(/:.*$/, "", o)
		m = substr(o, length(build) + 2)
		sub(/\.o$/, "", m)
		if (!((m ".c") in EXISTS))
			continue # an object whose source is gone
		if (w[2] == "U")
			USES[++NU] = m SUBSEP w[3]
		else if (w[2] ~ /^[TDBRCVW]$/)
			DEF[w[3]] = m
	}
	close(syms)
	for (i = 1; i <= NU; i++) {
		split(USES[i], w, SUBSEP)
		if (!(w[2] in DEF) || DEF[w[2]] == w[1])
			continue
		a = w[1]
		b = DEF[w[2]]
		why = against(a ".c", b ".c")
		if (why != "" && !((a, b) in CALLSEEN)) {
			CALLSEEN[a, b] = 1
			print "call: " a ".c uses " b ".c (" why ")"
		}
		addedge("m", a, b)
		addedge("d", layer(a ".c"), layer(b ".c"))
	}
	for (i = 1; i <= NC; i++) {
		split(COUNTED[i], k, SUBSEP)
		print k[1] ": " k[2] " (" N[k[1], k[2]] " lines)"
	}
	for (g in NODES) {
		n = split(NODES[g], v, " ")
		for (i = 1; i <= n; i++)
			if (!((g, v[i]) in IDX))
				strong(g, v[i], g == "m" ? "cycle-files" : "cycle-folders")
	}
}' | sort -u >"$tmp/found"

if [ -f "$KNOWN" ]; then
	bad=$(grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$KNOWN" | grep -v '[^[:space:]][[:space:]][[:space:]]*#[[:space:]]*[^[:space:]]' || true)
	if [ -n "$bad" ]; then
		echo "check-layers: $KNOWN: an entry without a reason (write 'VIOLATION  # why'):" >&2
		printf '%s\n' "$bad" | sed 's/^/  /' >&2
		exit 1
	fi
	grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$KNOWN" |
		sed 's/[[:space:]][[:space:]]*#[[:space:]].*$//; s/[[:space:]]*$//' | sort -u >"$tmp/known"
else
	: >"$tmp/known"
fi

comm -23 "$tmp/found" "$tmp/known" >"$tmp/new"
comm -13 "$tmp/found" "$tmp/known" >"$tmp/stale"
rc=0
if [ -s "$tmp/new" ]; then
	echo "check-layers: $(wc -l <"$tmp/new") violation(s) of the layers (cmd -> core -> {db, wx} -> base):" >&2
	sed 's/^/  /' "$tmp/new" >&2
	rc=1
fi
if [ -s "$tmp/stale" ]; then
	echo "check-layers: $(wc -l <"$tmp/stale") entry(ies) of $KNOWN no longer occur; remove them:" >&2
	sed 's/^/  /' "$tmp/stale" >&2
	rc=1
fi
[ $rc = 0 ] && echo "check-layers: ok ($(wc -l <"$tmp/known") known violations left in $KNOWN)"
exit $rc
