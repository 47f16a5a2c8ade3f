#!/bin/sh
# The command line itself: help, version, exit codes, errors as one line.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'version prints the version' '
	wxrecon version >out && grep -q "^wxrecon [0-9]" out
'
test_expect_success 'version --json is JSON' '
	wxrecon version --json >out && grep -q "^{\"version\":\"" out
'
test_expect_success '--version and -V print what version prints' '
	wxrecon version >v1 && wxrecon --version >v2 && wxrecon -V >v3 &&
	test_cmp v1 v2 && test_cmp v1 v3 && test "$(wc -l <v1)" = 2
'
test_expect_success 'version names the libraries it runs with' '
	test_grep "^libcurl [0-9][0-9.]*, OpenSSL [0-9]*\.[0-9.]* .*, SQLite 3\.[0-9.]*, zlib [0-9.]*, jansson [0-9.]*$" v1 &&
	wxrecon --json -V >out &&
	test_grep "\"libraries\":{\"curl\":\"[0-9.]*\",\"openssl\":\"OpenSSL [^\"]*\",\"sqlite\":\"3\.[0-9.]*\",\"zlib\":\"[0-9.]*\",\"jansson\":\"[0-9.]*\"}" out
'
# Built from git: the commit (and -dirty); from a tarball (no .git): none.
if test -e "$SRC_ROOT/.git" && commit=$(git -C "$SRC_ROOT" rev-parse --short=12 HEAD 2>/dev/null); then
	test_expect_success 'version names the git commit it was built from' '
		test_grep "^wxrecon [0-9][0-9.]* (git $commit\(-dirty\)\?)$" v1 &&
		wxrecon version --json >out && test_grep "\"git\":\"$commit" out
	'
else
	test_expect_success 'built from a tarball, version names no commit' '
		test_grep "^wxrecon [0-9][0-9.]*$" v1 &&
		wxrecon version --json >out && ! grep -q "\"git\"" out
	'
fi
test_expect_success 'help lists every command' '
	wxrecon help >out &&
	for c in init "ledger import" audit "config check" help version; do
		grep -q "^  $c" out || { echo "missing $c"; exit 1; }
	done
'
test_expect_success 'the command table is sorted (help lists it in table order)' '
	wxrecon help | sed -n "/^commands:/,/^$/p" | sed -n "s/^  \([a-z-]*\).*/\1/p" >names &&
	test -s names && LC_ALL=C sort -c names
'
test_expect_code 2 'no command is a usage error' 'wxrecon'
test_expect_code 2 'an unknown command exits 2' 'wxrecon frobnicate'
test_expect_success 'an unknown command suggests the near one, on one line' '
	test_must_fail wxrecon inti 2>err &&
	test "$(wc -l <err)" = 1 &&
	grep -q "^wxrecon: unknown command .inti.; did you mean .init.?$" err
'
test_expect_code 2 'an unknown global option exits 2' 'wxrecon --frob version'
test_expect_code 2 'an unknown command option exits 2' 'wxrecon --db x.db init --frob'
test_expect_code 2 'a sub-command is required' 'wxrecon ledger'
test_expect_code 2 'an unknown sub-command exits 2' 'wxrecon ledger export'
test_expect_success '-h works for every command help lists, and exits 0' '
	wxrecon help | sed -n "/^commands:/,/^$/p" |
		sed -n "s/^  \([a-z-]*\)\( [a-z][a-z-]*\)\{0,1\}.*/\1\2/p" >cmds &&
	test "$(wc -l <cmds)" -ge 20 &&
	while read c; do
		wxrecon $c -h >out || { echo "$c -h failed"; exit 1; }
		grep -q "^usage: wxrecon" out || { echo "$c -h: no usage"; exit 1; }
	done <cmds
'
test_expect_success 'help COMMAND shows its usage' '
	wxrecon help ledger import >out && grep -q "out_trade_no,transaction_id" out
'
test_expect_code 1 'a command that needs the database fails without one' '
	wxrecon --db nowhere.db audit
'
test_expect_success 'and says to run init' '
	test_must_fail wxrecon --db nowhere.db audit 2>err && grep -q "run .wxrecon init." err
'
test_expect_code 1 'a write error on stdout is a failure' '
	wxrecon help >/dev/full
'
test_expect_success 'a mistyped sub-command gets a suggestion' '
	{ wxrecon bill fecth 2>err; test $? = 2; } && test "$(wc -l <err)" = 1 &&
	test_grep "^wxrecon: .bill. has no sub-command .fecth.; did you mean .bill fetch.?$" err &&
	{ wxrecon help bill fecth 2>err; test $? = 2; } && test_grep "did you mean .bill fetch.?$" err
'
test_expect_success 'a mistyped option gets a suggestion, from the command or the date options' '
	wxrecon --db x.db init 2>/dev/null &&
	{ wxrecon --db x.db report --fromat csv 2>err; test $? = 2; } &&
	test_grep "^wxrecon: unknown option .--fromat.; did you mean .--format.? (usage: wxrecon report" err &&
	{ wxrecon --db x.db reconcile --yesterdy 2>err; test $? = 2; } &&
	test_grep "unknown option .--yesterdy.; did you mean .--yesterday.?" err &&
	{ wxrecon --db x.db runs --lst=3 2>err; test $? = 2; } &&
	test_grep "unknown option .--lst=3.; did you mean .--last.?" err
'
test_expect_success 'a mistyped global option gets a suggestion' '
	{ wxrecon --verbos version 2>err; test $? = 2; } &&
	test_grep "^wxrecon: unknown option .--verbos.; did you mean .--verbose.?$" err
'
test_expect_success 'nothing close: no suggestion' '
	{ wxrecon --db x.db runs --zzzzzz 2>err; test $? = 2; } && ! grep -q "did you mean" err
'
test_done
