#!/bin/sh
# Several merchants in one config (SPEC 10, issue 17): config check loads each
# [merchant "NAME"] with its [policy "NAME"], checks its keys and lists it; a
# mistake in one merchant is one line naming it.
. "$(dirname "$0")/test-lib.sh"

keys_setup
# good.conf's [merchant] becomes the shared part (its keys), plus two named merchants
sed -e '/^mchid = /d' -e '/^appid = /d' "$FIXTURES/config/good.conf" >wxrecon.conf
cat >>wxrecon.conf <<'CONF'

[merchant "shop-a"]
mchid = 1900000001
appid = wx1111111111111111

[policy "shop-b"]
close_after = 2h

[merchant "shop-b"]
mchid = 1900000002
appid = wx2222222222222222
CONF

test_expect_success 'config check lists each merchant with its mchid and appid' '
	wxrecon config check >out &&
	grep -q "^  merchant   shop-a: 1900000001 (appid wx1111111111111111), WeChat Pay public key$" out &&
	grep -q "^  merchant   shop-b: 1900000002 (appid wx2222222222222222), WeChat Pay public key$" out &&
	test "$(grep -c "^  merchant " out)" = 2
'
test_expect_success '... and in JSON' '
	wxrecon config check --json >out.json &&
	grep -q "\"merchants\":\[{\"name\":\"shop-a\",\"mchid\":\"1900000001\"" out.json &&
	grep -q "{\"name\":\"shop-b\",\"mchid\":\"1900000002\"" out.json
'
test_expect_success 'a merchant whose key file is readable by others is named' '
	cp keys/apiclient_key.pem keys/b.pem && chmod 644 keys/b.pem &&
	cp wxrecon.conf bad.conf &&
	printf "private_key = keys/b.pem\n" >>bad.conf &&
	test_exit_code 2 wxrecon -c bad.conf config check 2>err &&
	test "$(wc -l <err)" = 1 &&
	grep -q "^wxrecon: config .bad.conf.: merchant .shop-b.: .*keys/b.pem. is readable by group or others" err
'
test_expect_success 'a [policy "NAME"] without its merchant is refused with its line' '
	cp wxrecon.conf bad2.conf &&
	printf "[policy \"shop-c\"]\nclose_after = 1h\n" >>bad2.conf &&
	line=$(wc -l <bad2.conf) &&
	test_exit_code 2 wxrecon -c bad2.conf config check 2>err &&
	grep -q "^wxrecon: bad2.conf:$line: \[policy \"shop-c\"\] has no \[merchant \"shop-c\"\]$" err
'
test_expect_success 'two merchants with one mchid are refused' '
	cp wxrecon.conf bad3.conf &&
	printf "[merchant \"shop-c\"]\nmchid = 1900000002\n" >>bad3.conf &&
	test_exit_code 2 wxrecon -c bad3.conf config check 2>err &&
	grep -q "\[merchant \"shop-b\"\] and \[merchant \"shop-c\"\] have the same mchid 1900000002" err
'
test_expect_success 'one [merchant] alone checks as before' '
	cp "$FIXTURES/config/good.conf" one.conf &&
	wxrecon -c one.conf config check >out &&
	grep -q "^  merchant   1900000001 (appid wx8888888888888888)$" out &&
	grep -q "^  verifying  WeChat Pay public key$" out
'
test_done
