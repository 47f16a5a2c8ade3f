#!/bin/sh
# The configuration file: defaults, file:line errors, the merchant keys.
. "$(dirname "$0")/test-lib.sh"

keys_setup
cp "$FIXTURES/config/good.conf" wxrecon.conf

test_expect_success 'a good config checks out and prints no secret' '
	wxrecon -c wxrecon.conf config check >out &&
	grep -q "merchant   1900000001" out &&
	! grep -q "$(cat keys/apiv3.key)" out
'
test_expect_success './wxrecon.conf is found without -c' '
	wxrecon config check >out && grep -q "wxrecon.conf" out
'
test_expect_success 'WXRECON_CONFIG names the file' '
	mkdir elsewhere && cp wxrecon.conf elsewhere/w.conf && cp -p -r keys elsewhere/ &&
	(cd / && WXRECON_CONFIG="$TRASH/elsewhere/w.conf" wxrecon config check >"$TRASH/out") &&
	grep -q "elsewhere/w.conf" out
'
test_expect_success 'relative paths are relative to the config file' '
	(cd / && wxrecon -c "$TRASH/wxrecon.conf" config check --json) >out &&
	grep -q "\"database\":\"$TRASH/var/test.db\"" out
'
test_expect_code 2 'a missing -c file exits 2' 'wxrecon -c nope.conf config check'

# bad_line NAME LINE-TO-APPEND EXPECTED-MESSAGE-REGEX
bad_line() {
	cp wxrecon.conf bad.conf
	printf "%s\n" "$2" >>bad.conf
	line=$(wc -l <bad.conf)
	test_expect_success "bad config: $1" "
		test_exit_code 2 wxrecon -c bad.conf config check 2>err &&
		test \$(wc -l <err) = 1 &&
		grep -q \"^wxrecon: bad.conf:$line: $3\" err
	"
}
bad_line 'unknown key' 'colour = blue' "unknown key 'colour' in \[jobs\]$"
bad_line 'a typo in a key: did you mean' "$(printf '[policy]\nclose_afer = 2h')" "unknown key 'close_afer' in \[policy\]; did you mean 'close_after'?$"
bad_line 'a key in the wrong section: where it goes' "$(printf '[api]\nclose_after = 2h')" "unknown key 'close_after' in \[api\]; did you mean 'close_after' in \[policy\]?$"
bad_line 'unknown section' '[payments]' "unknown section '\[payments\]'$"
bad_line 'a typo in a section: did you mean' '[polcy]' "unknown section '\[polcy\]'; did you mean '\[policy\]'?$"
bad_line 'no equals sign' 'just words' "expected 'key = value'"
bad_line 'malformed section' '[policy' 'malformed section header'
bad_line 'bad integer' "$(printf '[api]\ntimeout_s = fast')" "bad value for 'api.timeout_s': 'fast'"
bad_line 'integer out of range' "$(printf '[api]\nretries = 99')" "bad value for 'api.retries'"
bad_line 'bad duration' "$(printf '[policy]\nclose_after = 30 minutes')" "bad value for 'policy.close_after': bad duration"
bad_line 'bad boolean' "$(printf '[policy]\nmark_paid_on_missed_notify = maybe')" "bad value for 'policy.mark_paid_on_missed_notify': 'maybe' (want true or false)"
bad_line 'bad amount' "$(printf '[policy]\napproval_above = 500.00')" "bad value for 'policy.approval_above': '500.00' (want an amount in fen"
bad_line 'bad enum' "$(printf '[policy]\npaid_after_close = ignore')" "bad value for 'policy.paid_after_close': 'ignore'"
bad_line 'USER_BANK_CARD is never the sweep policy' "$(printf '[policy]\nabnormal_refund_type = USER_BANK_CARD')" "bad value for 'policy.abnormal_refund_type': USER_BANK_CARD needs the customer"
bad_line 'bad timezone' "$(printf '[policy]\ntimezone = Mars/Olympus')" "bad value for 'policy.timezone': unknown timezone 'Mars/Olympus'"
bad_line 'bad release time' "$(printf '[bills]\nrelease_time = 25:00')" "bad value for 'bills.release_time': '25:00' (want HH:MM)"
bad_line 'bad mchid' "$(printf '[merchant]\nmchid = abc')" "bad value for 'merchant.mchid': 'abc' (want digits)"
bad_line 'bad serial' "$(printf '[merchant]\nserial_no = 1234')" "bad value for 'merchant.serial_no': a certificate serial is 40 hex digits"
bad_line 'bad url' "$(printf '[api]\nbase_url = ftp://x')" "bad value for 'api.base_url': 'ftp://x' is not an http(s) URL"

test_expect_success 'an empty [notify] url is unset, like ca_bundle =; an empty base_url is not' '
	printf "[notify]\nurl =\n" >>nu.conf && cat wxrecon.conf nu.conf >n.conf &&
	wxrecon -c n.conf config check >out &&
	test_grep "^  \[notify\] url = (unset)$" out &&
	printf "[api]\nbase_url =\n" >bu.conf && cat wxrecon.conf bu.conf >b.conf &&
	test_exit_code 2 wxrecon -c b.conf config check 2>err &&
	test_grep "bad value for .api.base_url.: .. is not an http(s) URL" err
'
test_expect_code 2 'a key outside any section' '
	printf "mchid = 1\n" >s.conf && wxrecon -c s.conf version
'
test_expect_success 'a private key readable by others is refused, naming file:line and the fix' '
	chmod 644 keys/apiclient_key.pem &&
	test_exit_code 2 wxrecon config check 2>err &&
	grep -q "wxrecon.conf:6: private_key .*keys/apiclient_key.pem. is readable by group or others (mode 0644); run: chmod 600" err
'
test_expect_success 'group-readable is refused too' '
	chmod 640 keys/apiclient_key.pem &&
	test_exit_code 2 wxrecon config check 2>err && grep -q "mode 0640" err
'
chmod 600 keys/apiclient_key.pem
test_expect_success 'an APIv3 key file readable by others is refused like the private key' '
	chmod 644 keys/apiv3.key &&
	test_exit_code 2 wxrecon config check 2>err &&
	grep -q "wxrecon.conf:[0-9]*: apiv3_key_file .*keys/apiv3.key. is readable by group or others (mode 0644); run: chmod 600" err &&
	! grep -q "$(cat keys/apiv3.key)" err &&
	chmod 600 keys/apiv3.key && wxrecon config check >/dev/null
'
test_expect_success 'an APIv3 key of the wrong length is refused without printing it' '
	printf "short-key" >keys/apiv3.key &&
	test_exit_code 2 wxrecon config check 2>err &&
	grep -q "must be 32 characters (found 9)" err && ! grep -q short-key err
'
test_expect_success 'the APIv3 key can come from WXRECON_APIV3_KEY' '
	grep -v apiv3_key_file wxrecon.conf >env.conf &&
	WXRECON_APIV3_KEY=0123456789abcdef0123456789abcdef wxrecon -c env.conf config check >out
'
test_expect_code 2 'and is required when there is no file' '
	wxrecon -c env.conf config check
'
test_expect_success 'a missing merchant key is named' '
	grep -v "^mchid" wxrecon.conf >m.conf &&
	test_exit_code 2 wxrecon -c m.conf config check 2>err &&
	grep -q "\[merchant\] mchid is not set" err
'
test_expect_success 'commands that do not talk to WeChat Pay need no config' '
	mkdir bare && cd bare && wxrecon --db x.db init 2>/dev/null && wxrecon --db x.db audit
'
K=0123456789abcdef0123456789abcdef
test_expect_success 'config check refuses plain http to anything but the simulator' '
	sed "s|^base_url = .*|base_url = http://api.example.com|" env.conf >h.conf &&
	{ WXRECON_APIV3_KEY=$K wxrecon -c h.conf config check >out 2>err; test $? = 2; } &&
	test "$(wc -l <err)" = 1 &&
	test_grep "^wxrecon: config .h.conf.: \[api\] base_url: refusing plain http to .api.example.com." err
'
test_expect_success 'https anywhere and http to 127.0.0.1 pass' '
	sed "s|^base_url = .*|base_url = https://api.example.com|" env.conf >h.conf &&
	WXRECON_APIV3_KEY=$K wxrecon -c h.conf config check >out &&
	WXRECON_APIV3_KEY=$K wxrecon -c env.conf config check >out
'
test_expect_success 'config check shows what every key resolved to, defaults too' '
	test_grep "^  \[api\] base_url = http://127.0.0.1:1$" out &&
	test_grep "^  \[api\] timeout_s = [0-9]*$" out &&
	test_grep "^  \[policy\] paid_after_close = [a-z_]*$" out &&
	test_grep "^  \[jobs\] dir = " out &&
	WXRECON_APIV3_KEY=$K wxrecon -c env.conf config check --json >out &&
	test_grep "\"keys\":{\"merchant.mchid\":\"1900000001\"" out
'
test_expect_success 'the default job dir is beside the config, wherever wxrecon runs from' '
	mkdir -p site && grep -v "^dir" env.conf >site/w.conf && cp -p -r keys site/ &&
	(cd / && WXRECON_APIV3_KEY=$K wxrecon -c "$TRASH/site/w.conf" config check) >out &&
	test_grep "^  \[jobs\] dir = $TRASH/site/jobs$" out
'
test_done
