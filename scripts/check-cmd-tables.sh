#!/bin/sh
# check-cmd-tables.sh - every `struct cmd` initializer names its fields (issue 15):
#
#   sh scripts/check-cmd-tables.sh [ROOT]      (make check-cmd-tables, part of make check)
#
# A command table entry is read by field name (cmd.h): `{ .name = "fetch", .run = run_fetch,
# ... }`. A positional one (`{ "fetch", run_fetch, NULL, CMD_DB, ... }`) silently shifts
# when struct cmd gains or reorders a field, so each brace of an entry, and each comma at
# its level, must be followed by a designator (`.field =`) or the closing brace. The
# files are src/main.c, src/cmd/*.c and tests/sysconf/*.c; comments, string and character
# literals are blanked out first. One line per violation names the file and line.
set -eu

ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT"
export LC_ALL=C

# shellcheck disable=SC2046
awk '
function flush(   i, n, c, depth, base, want, line, after, isarr, j, rest) {
	if (text == "")
		return
	n = length(text)
	# blank comments and literals, keeping newlines (for line numbers)
	out = ""
	i = 1
	while (i <= n) {
		c = substr(text, i, 1)
		if (c == "/" && substr(text, i + 1, 1) == "*") {
			j = index(substr(text, i + 2), "*/")
			j = j ? i + 2 + j + 1 : n + 1
			rest = substr(text, i, j - i)
			gsub(/[^\n]/, " ", rest)
			out = out rest
			i = j
		} else if (c == "/" && substr(text, i + 1, 1) == "/") {
			while (i <= n && substr(text, i, 1) != "\n") {
				out = out " "
				i++
			}
		} else if (c == "\"" || c == "\047") {
			out = out c
			i++
			while (i <= n && substr(text, i, 1) != c) {
				if (substr(text, i, 1) == "\\") {
					out = out " "
					i++
				}
				out = out (substr(text, i, 1) == "\n" ? "\n" : " ")
				i++
			}
			out = out c
			i++
		} else {
			out = out c
			i++
		}
	}
	text = out
	n = length(text)
	line = 1
	i = 1
	while (i <= n) {
		c = substr(text, i, 1)
		if (c == "\n") {
			line++
			i++
			continue
		}
		# the start of an initializer of struct cmd: "struct cmd NAME [ [] ] = {"
		if (substr(text, i, 10) == "struct cmd" && (i == 1 || substr(text, i - 1, 1) ~ /[^A-Za-z0-9_]/) &&
		    match(substr(text, i), /^struct cmd[ \t\n]+[A-Za-z_][A-Za-z0-9_]*[ \t\n]*(\[[ \t]*\])?[ \t\n]*=[ \t\n]*\{/)) {
			isarr = substr(text, i, RLENGTH) ~ /\[/
			rest = substr(text, i, RLENGTH - 1)
			for (j = 1; j <= length(rest); j++)
				if (substr(rest, j, 1) == "\n")
					line++
			i += RLENGTH - 1 # at the opening brace
			base = isarr ? 2 : 1 # the depth of the fields of an entry
			depth = 0
			for (i = i; i <= n; i++) {
				c = substr(text, i, 1)
				if (c == "\n") {
					line++
					continue
				}
				if (c == "{") {
					depth++
					if (depth == base && !designated(i + 1))
						bad(line)
				} else if (c == "}") {
					depth--
					if (depth == 0)
						break
				} else if (c == "," && depth == base && !designated(i + 1)) {
					bad(line)
				}
			}
			i++
			continue
		}
		i++
	}
	text = ""
}
# Whether the next thing after position p is a designator or a closing brace;
# SKIP counts the newlines before it.
function designated(p,   c) {
	SKIP = 0
	for (p = p; p <= length(text); p++) {
		c = substr(text, p, 1)
		if (c == "\n")
			SKIP++
		if (c ~ /[ \t\n]/)
			continue
		return c == "." || c == "}"
	}
	return 1
}
function bad(l) {
	l += SKIP
	if (!((FILE, l) in SAID)) {
		SAID[FILE, l] = 1
		printf "%s:%d: a positional struct cmd initializer: name each field (.name = ...)\n", FILE, l
		found++
	}
}
FNR == 1 {
	flush()
	FILE = FILENAME
}
{ text = text $0 "\n" }
END {
	flush()
	if (found) {
		printf "check-cmd-tables: %d positional struct cmd initializer(s) above\n", found > "/dev/stderr"
		exit 1
	}
	print "check-cmd-tables: ok"
}' src/main.c src/cmd/*.c $(ls tests/sysconf/*.c 2>/dev/null) >&2
