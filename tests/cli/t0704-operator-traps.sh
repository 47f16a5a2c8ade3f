#!/bin/sh
# The silent traps an operator falls into: -o - names stdout, not a file
# called "-".
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup' '
	wxrecon --db x.db init 2>/dev/null
'
test_expect_success 'report -o - writes to stdout and creates no file named -' '
	wxrecon --db x.db report --date 2026-11-01 --format json -o - >out &&
	! test -e ./- && test_grep "^  \"from\": \"2026-11-01\"" out &&
	wxrecon --db x.db report --date 2026-11-01 --format json >plain &&
	sed "s/\"generated_at\": *\"[^\"]*\"//" out >a && sed "s/\"generated_at\": *\"[^\"]*\"//" plain >b &&
	test_cmp b a
'
test_expect_success 'report -o - for csv too' '
	wxrecon --db x.db report --date 2026-11-01 --format csv -o - >out &&
	! test -e ./- && test -s out
'
test_done
