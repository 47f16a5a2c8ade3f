#!/bin/sh
# wxrecon report: the JSON shape of SPEC 8, CSV byte for byte, the HTML page,
# reproducible bytes, -o FILE|DIR, usage errors, and that it writes nothing.
. "$(dirname "$0")/test-lib.sh"

RANGE="--from 2026-11-01 --to 2026-11-04"

# check-json.py FILE: the report of fixtures/report/fill.sql, field by field.
cat >check-json.py <<'EOF'
import json, re, sys

d = json.load(open(sys.argv[1], encoding="utf-8"))
version = sys.argv[2]


def keys(o, spec, extra=()):
    missing = [k for k in spec if k not in o]
    unknown = [k for k in o if k not in spec and k not in extra]
    assert not missing and not unknown, ("missing", missing, "unknown", unknown, o)


def no_floats(v, path="$"):
    assert not isinstance(v, float), "a float at " + path
    if isinstance(v, dict):
        for k, x in v.items():
            no_floats(x, path + "." + k)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            no_floats(x, "%s[%d]" % (path, i))


no_floats(d)
keys(d, ["from", "to", "days", "discrepancies", "actions"],
     ["totals", "discrepancies_by_kind", "missing_bills", "generated_from", "units", "aging"])
assert (d["from"], d["to"]) == ("2026-11-01", "2026-11-04")

want_days = [
    # date, bill, pay count, pay fen, refund count, refund fen, fees, net, open, resolved, auto
    ("2026-11-01", "ok", 3, 35149, 1, 1000, 204890, 33944, 1, 1, 2),
    ("2026-11-02", "empty", 0, 0, 0, 0, 0, 0, 0, 0, 0),
    ("2026-11-03", "missing", 0, 0, 0, 0, 0, 0, 1, 0, 0),
    ("2026-11-04", "ok", 0, 0, 2, 5500, -33500, -5466, 1, 1, 0),
]
assert len(d["days"]) == len(want_days)
for day, w in zip(d["days"], want_days):
    keys(day, ["date", "bill", "payments", "refunds", "fees", "discrepancies"], ["net"])
    keys(day["payments"], ["count", "amount"])
    keys(day["refunds"], ["count", "amount"])
    keys(day["discrepancies"], ["open", "resolved", "auto_resolved"])
    got = (day["date"], day["bill"], day["payments"]["count"], day["payments"]["amount"],
           day["refunds"]["count"], day["refunds"]["amount"], day["fees"], day["net"],
           day["discrepancies"]["open"], day["discrepancies"]["resolved"],
           day["discrepancies"]["auto_resolved"])
    assert got == w, (got, w)
    for v in got[2:]:
        assert type(v) is int

t = d["totals"]
assert t["payments"] == {"count": 3, "amount": 35149}, t
assert t["refunds"] == {"count": 3, "amount": 6500}, t
assert (t["fees"], t["net"], t["days"], t["missing_bills"]) == (171390, 28478, 4, 1), t
assert t["discrepancies"] == {"open": 3, "resolved": 2, "auto_resolved": 2}, t
assert d["missing_bills"] == ["2026-11-03"]

spec_disc = ["id", "date", "kind", "out_trade_no", "out_refund_no", "transaction_id",
             "ledger_amount", "bill_amount", "ledger_state", "bill_state", "status", "resolution"]
for x in d["discrepancies"]:
    keys(x, spec_disc, ["resolved_by", "description", "detail", "assignee", "age_s", "severity",
                        "due_date", "overdue"])
    assert type(x["id"]) is int
    for k in ("ledger_amount", "bill_amount"):
        assert x[k] is None or type(x[k]) is int
assert [x["id"] for x in d["discrepancies"]] == [2, 3, 4, 5, 6, 7, 8]
x = d["discrepancies"][0]
assert x == {"id": 2, "date": "2026-11-01", "kind": "AMOUNT_MISMATCH", "out_trade_no": "ORD-2",
             "out_refund_no": None, "transaction_id": "4200000001202611010000000002",
             "ledger_amount": 10000, "bill_amount": 10050, "ledger_state": "PAID",
             "bill_state": "SUCCESS", "status": "open", "resolution": None,
             "resolved_by": None, "description": "=cmd|' /c calc'!A1", "detail": None,
             # the queue as of the end of the range, 2026-11-05T00:00+08:00: found
             # 2026-11-02T02:05Z, paid 2026-11-01 10:00 (the bill), so due a year on
             "assignee": None, "age_s": 222900, "severity": "low", "due_date": "2027-11-01",
             "overdue": False}, x
assert [(x["severity"], x["due_date"]) for x in d["discrepancies"][4:6]] == \
    [("low", "2027-02-02"), ("low", None)], d["discrepancies"][4:6]
assert all(x["severity"] is None and x["overdue"] is None
           for x in d["discrepancies"] if x["status"] != "open")
a = d["aging"]
assert a["as_of"] == "2026-11-05T00:00:00+08:00", a
assert [b["age"] for b in a["buckets"]] == ["<1d", "1-3d", "3-7d", "7-30d", "30-90d", "90d+"]
assert a["buckets"][0]["low"] == {"count": 2, "amount": 5000}, a["buckets"][0]
assert a["buckets"][1]["low"] == {"count": 1, "amount": 50}, a["buckets"][1]
assert a["total"]["open"] == {"count": 3, "amount": 5050}, a["total"]
assert a["total"]["overdue"] == {"count": 0, "amount": 0}, a["total"]
x = d["discrepancies"][1]
assert (x["ledger_amount"], x["bill_amount"], x["status"], x["resolution"], x["resolved_by"]) == \
    (None, 99, "resolved", "=cmd|' /c calc'!A1", "finance:李四"), x
assert d["discrepancies"][2]["description"] == '礼包,"大号"'
assert d["discrepancies"][3]["detail"] == "query: SUCCESS\r\nledger: PROCESSING"
assert d["discrepancies"][4]["kind"] == "BILL_MISSING"
assert [x["status"] for x in d["discrepancies"]] == \
    ["open", "resolved", "auto_resolved", "auto_resolved", "open", "open", "resolved"]

kinds = {k["kind"]: (k["open"], k["resolved"], k["auto_resolved"]) for k in d["discrepancies_by_kind"]}
assert kinds == {"AMOUNT_MISMATCH": (1, 0, 0), "BILL_MISSING": (1, 0, 0),
                 "DUPLICATE_PAYMENT": (0, 1, 0), "MISSED_PAYMENT": (0, 0, 1),
                 "MISSING_IN_LEDGER": (0, 1, 0), "REFUND_MISSING_IN_LEDGER": (1, 0, 0),
                 "REFUND_STATUS_MISMATCH": (0, 0, 1)}, kinds

spec_action = ["id", "kind", "target", "state", "result", "run_id", "at"]
for a in d["actions"]:
    keys(a, spec_action, ["amount", "date", "error"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", a["at"]), a
assert [a["id"] for a in d["actions"]] == [1, 2, 3, 4, 5]
a = d["actions"][0]
assert {k: a[k] for k in spec_action} == {"id": 1, "kind": "ORDER_CLOSE", "target": "ORD-9",
                                          "state": "done", "result": "CLOSED", "run_id": 5,
                                          "at": "2026-11-02T10:31:05+08:00"}, a
assert [a["kind"] for a in d["actions"]] == \
    ["ORDER_CLOSE", "ORDER_MARK_PAID", "REFUND", "ABNORMAL_REFUND", "REFUND_SYNC"]
assert [a["state"] for a in d["actions"]] == \
    ["done", "done", "pending_approval", "failed", "done"]
assert d["actions"][2]["amount"] == 60000 and d["actions"][2]["result"] is None
assert d["actions"][3]["error"] == '+86 bank: 账户名不符, "x"' and d["actions"][3]["run_id"] == 6
assert d["actions"][4]["run_id"] is None

g = d["generated_from"]
keys(g, ["bills", "runs", "version", "policy_hash", "audit"], ["timezone", "mchid"])
keys(g["audit"], ["entries", "head"], [])
assert g["audit"]["entries"] > 0 and re.fullmatch(r"[0-9a-f]{64}", g["audit"]["head"]), g["audit"]
assert g["bills"] == [
    {"date": "2026-11-01", "kind": "fundflow", "status": "ok",
     "sha1": "0bee89b07a248e27c83fc3d5951213c1f1d1d1a2"},
    {"date": "2026-11-01", "kind": "trade", "status": "ok",
     "sha1": "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"},
    {"date": "2026-11-02", "kind": "trade", "status": "empty", "sha1": None},
    {"date": "2026-11-04", "kind": "trade", "status": "ok",
     "sha1": "c3499c2729730a7f807efb8676a92dcb6f8a3f8f"}], g["bills"]
assert g["runs"] == [3, 5, 6], g["runs"]
assert g["version"] == version, g["version"]
assert re.fullmatch(r"[0-9a-f]{64}", g["policy_hash"]), g["policy_hash"]
assert g["timezone"] == "Asia/Shanghai"
print(g["policy_hash"])
EOF

# check-csv.py FILE: UTF-8 BOM once, CRLF line ends (a bare LF only inside a
# quoted cell), RFC 4180 quoting, no text cell a spreadsheet would run.
cat >check-csv.py <<'EOF'
import csv, io, re, sys

b = open(sys.argv[1], "rb").read()
assert b.startswith(b"\xef\xbb\xbf"), "no BOM"
assert b.count(b"\xef\xbb\xbf") == 1, "BOM twice"
assert b.endswith(b"\r\n"), "last line without CRLF"
text = b[3:].decode("utf-8")
outside = re.sub(r'"(?:[^"]|"")*"', "", text)
assert '"' not in outside, "unbalanced quotes"
assert "\n" not in outside.replace("\r\n", ""), "bare LF or CR outside quotes"
rows = list(csv.reader(io.StringIO(text, newline="")))
num = re.compile(r"-?[0-9]+(\.[0-9]+)?")
for row in rows:
    for cell in row:
        if cell[:1] in ("=", "+", "@", "\t", "\r"):
            raise SystemExit("formula-like cell not escaped: %r" % cell)
        if cell[:1] == "-" and not num.fullmatch(cell):
            raise SystemExit("text starting with - not escaped: %r" % cell)
print(len(rows))
EOF

# pngstat.py PNG [RRGGBB...]: decodes an 8-bit RGB/RGBA PNG without PIL; prints
# "WIDTH HEIGHT DISTINCT_COLOURS_SAMPLED", then the pixel count of each colour.
cat >pngstat.py <<'EOF'
import struct, sys, zlib


def swar_add(a, b, n):  # bytewise (a + b) mod 256 over n-byte big integers
    lo = int.from_bytes(b"\x7f" * n, "big")
    hi = int.from_bytes(b"\x80" * n, "big")
    return ((a & lo) + (b & lo)) ^ ((a ^ b) & hi)


def decode(path):
    d = open(path, "rb").read()
    if d[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit("not a PNG")
    pos, idat, w = 8, [], 0
    while pos < len(d):
        n, = struct.unpack(">I", d[pos:pos + 4])
        t, c = d[pos + 4:pos + 8], d[pos + 8:pos + 8 + n]
        if t == b"IHDR":
            w, h, bd, ct, _, _, il = struct.unpack(">IIBBBBB", c)
            if bd != 8 or ct not in (2, 6) or il:
                raise SystemExit("unsupported PNG")
        elif t == b"IDAT":
            idat.append(c)
        pos += 12 + n
    raw = zlib.decompress(b"".join(idat))
    bpp = 3 if ct == 2 else 4
    stride = w * bpp
    prev, rows = bytes(stride), []
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        if f == 0:
            cur = line
        elif f == 2:
            cur = swar_add(int.from_bytes(line, "big"), int.from_bytes(prev, "big"),
                           stride).to_bytes(stride, "big")
        elif f == 1:
            x, s = int.from_bytes(line, "big"), bpp * 8
            while s < stride * 8:
                x = swar_add(x, x >> s, stride)
                s *= 2
            cur = x.to_bytes(stride, "big")
        else:
            c = bytearray(line)
            for i in range(stride):
                a = c[i - bpp] if i >= bpp else 0
                b = prev[i]
                if f == 3:
                    c[i] = (c[i] + ((a + b) >> 1)) & 255
                else:
                    cc = prev[i - bpp] if i >= bpp else 0
                    p = a + b - cc
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - cc)
                    c[i] = (c[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else cc)) & 255
            cur = bytes(c)
        rows.append(cur)
        prev = cur
    return w, h, bpp, rows


w, h, bpp, rows = decode(sys.argv[1])
seen = set()
for y in range(0, h, 5):
    for x in range(0, w, 5):
        seen.add(rows[y][x * bpp:x * bpp + 3])
print(w, h, len(seen))
for want in sys.argv[2:]:
    px, n = bytes.fromhex(want), 0
    for r in rows:
        i = r.find(px)
        while i >= 0:
            n += i % bpp == 0
            i = r.find(px, i + 1)
    print(want, n)
EOF

test_expect_success 'setup: a database filled by fixtures/report/fill.sql' '
	wxrecon --db db.sqlite init 2>/dev/null &&
	db_sql db.sqlite <"$FIXTURES/report/fill.sql" &&
	test "$(db_sql db.sqlite "SELECT count(*) FROM discrepancies")" = 8 &&
	db_sql db.sqlite .dump >dump.before
'

test_expect_success 'JSON: the SPEC 8 shape, field by field' '
	wxrecon --db db.sqlite report $RANGE --format json >r.json &&
	v=$(wxrecon version | sed -n "1s/^wxrecon \([^ ]*\).*/\1/p") &&
	python3 check-json.py r.json "$v" >policy_hash
'
test_expect_success 'JSON: integers only, UTF-8 text as is' '
	grep -q "\"fees\": -33500" r.json && grep -q "\"net\": -5466" r.json &&
	grep -q "账户名不符" r.json && ! grep -q "\\\\u" r.json
'
test_expect_success '--json is --format json' '
	wxrecon --db db.sqlite --json report $RANGE >j2.json && cmp r.json j2.json &&
	wxrecon --db db.sqlite report $RANGE --json >j3.json && cmp r.json j3.json
'

test_expect_success 'CSV: days on stdout byte for byte (BOM, CRLF, totals), no stamp' '
	wxrecon --db db.sqlite report $RANGE >days.csv 2>err &&
	! test -s err &&
	test_cmp "$FIXTURES/report/expected/days.csv" days.csv &&
	! grep -a -q stamp days.csv &&
	python3 check-csv.py days.csv >/dev/null
'
test_expect_success 'CSV: the stamp is its own table (--table stamp, -o - is stdout)' '
	wxrecon --db db.sqlite report $RANGE --table stamp -o - >stamp.csv &&
	v=$(wxrecon version | sed -n "1s/^wxrecon \([^ ]*\).*/\1/p") &&
	audit=$(db_sql db.sqlite "SELECT id || '"',,,'"' || hash FROM audit_log ORDER BY id DESC LIMIT 1") &&
	sed -e "s/@VERSION@/$v/" -e "s/@POLICY_HASH@/$(cat policy_hash)/" \
		-e "s/@AUDIT@/$audit/" "$FIXTURES/report/expected/stamp.csv" >stamp.expect &&
	test_cmp stamp.expect stamp.csv &&
	python3 check-csv.py stamp.csv >/dev/null
'
test_expect_success 'CSV: the totals row and a negative net that stays a number' '
	printf "total,,3,351.49,3,65.00,1.71390,284.78,3,2,2\r\n" >want &&
	grep -a "^total," days.csv >got && cmp want got &&
	printf "2026-11-04,ok,0,0.00,2,55.00,-0.33500,-54.66,1,1,0\r\n" >want &&
	grep -a "^2026-11-04," days.csv >got && cmp want got
'
test_expect_success 'CSV: the day never fetched is named' '
	grep -a -q "^2026-11-03,missing," days.csv &&
	grep -a -q "^missing_bill,2026-11-03" stamp.csv
'
test_expect_success '-o DIR writes days.csv, discrepancies.csv, actions.csv, aging.csv and stamp.csv' '
	wxrecon -q --db db.sqlite report $RANGE -o out/csv &&
	test -d out/csv && cmp days.csv out/csv/days.csv && cmp stamp.csv out/csv/stamp.csv &&
	test_cmp "$FIXTURES/report/expected/discrepancies.csv" out/csv/discrepancies.csv &&
	test_cmp "$FIXTURES/report/expected/actions.csv" out/csv/actions.csv &&
	test "$(ls out/csv | tr "\n" " ")" = "actions.csv aging.csv days.csv discrepancies.csv stamp.csv "
'
test_expect_success 'CSV: each file is well formed and escapes every formula' '
	python3 check-csv.py out/csv/discrepancies.csv >n &&
	test "$(cat n)" = 8 &&
	python3 check-csv.py out/csv/actions.csv >n && test "$(cat n)" = 6
'
test_expect_success 'CSV: formula text escaped, quoted and Chinese intact' '
	grep -a -q ",'"'"'=cmd|'"'"' /c calc'"'"'!A1," out/csv/discrepancies.csv &&
	grep -a -q ",\"'"'"'@SUM(A1:A2) 重复支付, \"\"已退款\"\"\"," out/csv/discrepancies.csv &&
	grep -a -q ",\"礼包,\"\"大号\"\"\"," out/csv/discrepancies.csv &&
	grep -a -q ",\"'"'"'-5 yuan, see 工单 #12\"" out/csv/discrepancies.csv &&
	grep -a -q ",\"'"'"'+86 bank: 账户名不符, \"\"x\"\"\",6," out/csv/actions.csv &&
	grep -a -q ",ORD-2,,4200000001202611010000000002,100.00," out/csv/discrepancies.csv &&
	! grep -a -q ",'"'"'[0-9]*," out/csv/discrepancies.csv
'
test_expect_success '-o DIR/ with a trailing slash, and an existing directory' '
	wxrecon -q --db db.sqlite report $RANGE -o out/slash/ && test -f out/slash/days.csv &&
	mkdir exists.csv && wxrecon -q --db db.sqlite report $RANGE -o exists.csv &&
	test -f exists.csv/actions.csv
'
test_expect_success '-o FILE.csv writes the daily totals only, and says so' '
	wxrecon -q --db db.sqlite report $RANGE --format csv -o one.csv 2>err &&
	test -f one.csv && cmp days.csv one.csv &&
	test_grep "one.csv holds the daily totals only" err &&
	wxrecon -q --db db.sqlite report $RANGE --table discrepancies -o two.csv 2>err &&
	! test -s err &&
	cmp out/csv/discrepancies.csv two.csv
'
test_expect_success '--table: an unknown table, or with another format, is a usage error' '
	{ wxrecon --db db.sqlite report $RANGE --table nope 2>err; rc=$?; } &&
	test "$rc" = 2 && test_grep "unknown table .nope." err &&
	{ wxrecon --db db.sqlite report $RANGE --format json --table days 2>err; rc=$?; } &&
	test "$rc" = 2 && test_grep "table is for --format csv" err
'

test_expect_success 'HTML: one self-contained page' '
	wxrecon -q --db db.sqlite report $RANGE --format html -o report.html &&
	grep -q "^<!DOCTYPE html>" report.html && grep -q "<svg" report.html &&
	grep -q "<style>" report.html && grep -q "@media print" report.html &&
	grep -q "@page{size:A4" report.html &&
	! grep -qi "<script" report.html && ! grep -qi "https\\?:" report.html &&
	! grep -qi "url(" report.html && ! grep -qi "<link" report.html &&
	! grep -qi "<img" report.html && ! grep -qi "@import" report.html
'
test_expect_success 'HTML: values escaped, stamp and missing day shown' '
	grep -q "礼包,&quot;大号&quot;" report.html &&
	grep -q "=cmd|&#39; /c calc&#39;!A1" report.html &&
	grep -q "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3" report.html &&
	grep -q "$(cat policy_hash)" report.html &&
	grep -q "Bills never fetched:</strong> 2026-11-03" report.html &&
	grep -q "<dt>Runs</dt><dd>3, 5, 6</dd>" report.html &&
	grep -q "<td class=\"n\">284.78</td>" report.html &&
	grep -q "<span class=\"neg\">-54.66</span>" report.html
'
test_expect_success 'HTML: well formed (every tag closed in order)' '
	python3 - report.html <<-\EOF
	import sys
	from html.parser import HTMLParser
	void = {"meta", "br", "wbr", "rect", "line", "circle", "polyline"}
	class P(HTMLParser):
	    stack = []
	    def handle_starttag(self, tag, attrs):
	        if tag not in void:
	            self.stack.append(tag)
	    def handle_startendtag(self, tag, attrs):
	        pass
	    def handle_endtag(self, tag):
	        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-3:])
	        self.stack.pop()
	p = P()
	p.feed(open(sys.argv[1], encoding="utf-8").read())
	assert p.stack == [], p.stack
	EOF
'
test_expect_success 'HTML on stdout is the same page' '
	wxrecon --db db.sqlite report $RANGE --format html >stdout.html && cmp report.html stdout.html
'
test_expect_success '-o DIR for html writes DIR/report.html' '
	mkdir htmldir && wxrecon -q --db db.sqlite report $RANGE --format html -o htmldir &&
	cmp report.html htmldir/report.html
'

test_expect_success 'same database and arguments: byte-identical, whatever the clock' '
	for f in json html csv; do
		wxrecon --db db.sqlite report $RANGE --format $f >a.$f &&
		WXRECON_NOW=2031-01-01T00:00:00+08:00 wxrecon --db db.sqlite report $RANGE \
			--format $f >b.$f &&
		cmp a.$f b.$f || return 1
	done &&
	WXRECON_NOW=2031-01-01T00:00:00+08:00 wxrecon -q --db db.sqlite report $RANGE -o again &&
	for f in days discrepancies actions; do cmp out/csv/$f.csv again/$f.csv || return 1; done
'
test_expect_success 'report writes nothing to the database' '
	db_sql db.sqlite .dump >dump.after && cmp dump.before dump.after
'
test_expect_success 'default range is yesterday in the configured timezone' '
	WXRECON_NOW=2026-11-02T00:30:00+08:00 wxrecon --db db.sqlite report --format json >y.json &&
	python3 -c "import json,sys; d=json.load(open(\"y.json\")); assert (d[\"from\"], d[\"to\"]) == (\"2026-11-01\", \"2026-11-01\"), d" &&
	WXRECON_NOW=2026-11-02T00:30:00+08:00 wxrecon --db db.sqlite report --yesterday \
		--format json >y2.json && cmp y.json y2.json
'
# Actions 1-3 were taken by run 5, which reconciled 11-01..11-04: they belong
# to every report that overlaps those days, whatever their own dates.
test_expect_success 'actions without a date or run belong to the day of created_at (timezone)' '
	printf "[policy]\ntimezone = UTC\n" >utc.conf &&
	wxrecon -c utc.conf --db db.sqlite report --date 2026-11-04 --format json >utc.json &&
	python3 -c "
import json
d = json.load(open(\"utc.json\"))
assert [a[\"id\"] for a in d[\"actions\"]] == [1, 2, 3, 5, 7], d[\"actions\"]
assert d[\"actions\"][4][\"at\"] == \"2026-11-04T17:30:02+00:00\"
assert d[\"generated_from\"][\"timezone\"] == \"UTC\"
" &&
	wxrecon --db db.sqlite report --date 2026-11-04 --format json >sh.json &&
	python3 -c "
import json
d = json.load(open(\"sh.json\"))
assert [a[\"id\"] for a in d[\"actions\"]] == [1, 2, 3, 5], d[\"actions\"]
"
'
test_expect_success 'the policy hash in the stamp follows the config' '
	! grep -q "$(cat policy_hash)" utc.json
'
test_expect_success 'a configured merchant sees only its own rows' '
	db_copy db.sqlite two.sqlite &&
	db_sql two.sqlite "INSERT INTO bill_files (id, mchid, bill_date, kind, status, sha1, source, fetched_at) VALUES (99, '"'"'1900000002'"'"', '"'"'2026-11-01'"'"', '"'"'trade'"'"', '"'"'ok'"'"', '"'"'ffff'"'"', '"'"'api'"'"', '"'"'x'"'"'); INSERT INTO bill_trades (file_id, line, mchid, bill_date, trade_time, transaction_id, out_trade_no, row_kind, settlement_amount, fee) VALUES (99, 2, '"'"'1900000002'"'"', '"'"'2026-11-01'"'"', '"'"'t'"'"', '"'"'T'"'"', '"'"'X-1'"'"', '"'"'SUCCESS'"'"', 77700, 466200);" &&
	wxrecon --db two.sqlite report --date 2026-11-01 --format json >all.json &&
	grep -q "\"amount\": 112849" all.json &&
	printf "[merchant]\nmchid = 1900000001\n" >m.conf &&
	wxrecon -c m.conf --db two.sqlite report --date 2026-11-01 --format json >mine.json &&
	grep -q "\"amount\": 35149" mine.json && ! grep -q ffff mine.json &&
	grep -q "\"mchid\": \"1900000001\"" mine.json
'

test_expect_code 2 'bad --format is a usage error' 'wxrecon --db db.sqlite report $RANGE --format xlsx'
test_expect_code 2 'bad date is a usage error' 'wxrecon --db db.sqlite report --date 2026-13-01'
test_expect_code 2 '--from after --to is a usage error' 'wxrecon --db db.sqlite report --from 2026-11-04 --to 2026-11-01'
test_expect_code 2 '--from without --to is a usage error' 'wxrecon --db db.sqlite report --from 2026-11-04'
test_expect_code 2 'a range of more than ten years is a usage error' 'wxrecon --db db.sqlite report --from 2000-01-01 --to 2026-01-01'
test_expect_code 2 'an extra argument is a usage error' 'wxrecon --db db.sqlite report $RANGE extra'
test_expect_code 2 '--json with --format csv is a usage error' 'wxrecon --db db.sqlite --json report $RANGE --format csv'
test_expect_code 2 '-o without a value is a usage error' 'wxrecon --db db.sqlite report $RANGE -o'
test_expect_success 'usage errors name the option' '
	test_exit_code 2 wxrecon --db db.sqlite report $RANGE --format pdf 2>err &&
	grep -q "^wxrecon: --format: unknown format .pdf. (csv, json, html or xlsx)" err
'
test_expect_code 1 'no database is a failure' 'wxrecon --db none.sqlite report $RANGE'
test_expect_success 'an unwritable -o is a failure that leaves nothing behind' '
	mkdir ro && chmod 500 ro &&
	if [ "$(id -u)" = 0 ]; then ro=/proc/wxrecon-cannot-write; else ro=ro/x; fi &&
	test_exit_code 1 wxrecon -q --db db.sqlite report $RANGE --format json -o "$ro/r.json" 2>err &&
	grep -q "^wxrecon: report 2026-11-01..2026-11-04: cannot" err &&
	! ls ro/* 2>/dev/null
'
test_expect_success 'report -h prints the usage' '
	wxrecon report -h >help.out && grep -q "^usage: wxrecon report" help.out
'
test_expect_success 'an empty range: zeros, every day missing' '
	wxrecon --db db.sqlite report --date 2030-01-01 >e.csv &&
	grep -a -q "^2030-01-01,missing,0,0.00,0,0.00,0.00000,0.00,0,0,0" e.csv &&
	wxrecon --db db.sqlite report --date 2030-01-01 --format html -o e.html &&
	grep -q "No discrepancies in this range" e.html
'
test_expect_success 'a month of bill rows renders quickly and sums right' '
	db_copy db.sqlite month.sqlite &&
	db_sql month.sqlite <<-\EOF &&
	WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < 30)
	INSERT INTO bill_files (id, mchid, bill_date, kind, status, sha1, rows, source, fetched_at)
	SELECT 1000 + n, '"'"'1900000001'"'"', date('"'"'2027-01-01'"'"', '"'"'+'"'"' || n || '"'"' days'"'"'), '"'"'trade'"'"', '"'"'ok'"'"', printf('"'"'%040d'"'"', n), 2000, '"'"'api'"'"', '"'"'x'"'"' FROM d;
	WITH RECURSIVE r(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM r WHERE n < 61999)
	INSERT INTO bill_trades (file_id, line, mchid, bill_date, trade_time, transaction_id, out_trade_no, row_kind, settlement_amount, refund_amount, fee)
	SELECT 1000 + n / 2000, n % 2000 + 2, '"'"'1900000001'"'"', date('"'"'2027-01-01'"'"', '"'"'+'"'"' || (n / 2000) || '"'"' days'"'"'), '"'"'t'"'"', printf('"'"'42%026d'"'"', n), '"'"'O'"'"' || n,
	 CASE WHEN n % 10 = 0 THEN '"'"'REFUND'"'"' ELSE '"'"'SUCCESS'"'"' END,
	 CASE WHEN n % 10 = 0 THEN 0 ELSE 100 + n % 997 END, CASE WHEN n % 10 = 0 THEN 50 ELSE 0 END,
	 CASE WHEN n % 10 = 0 THEN -300 ELSE 600 + n % 7 END FROM r;
	EOF
	want=$(db_sql month.sqlite "SELECT sum(settlement_amount) FROM bill_trades WHERE row_kind = '"'"'SUCCESS'"'"' AND bill_date LIKE '"'"'2027-01-%'"'"'") &&
	start=$(date +%s%N) &&
	wxrecon --db month.sqlite report --from 2027-01-01 --to 2027-01-31 --format json >m.json &&
	wxrecon --db month.sqlite report --from 2027-01-01 --to 2027-01-31 --format html >m.html &&
	end=$(date +%s%N) && ms=$(( (end - start) / 1000000 )) && echo "# json + html of 62000 rows: ${ms} ms" &&
	python3 -c "import json; d = json.load(open(\"m.json\")); assert d[\"totals\"][\"payments\"][\"amount\"] == $want and d[\"totals\"][\"payments\"][\"count\"] == 55800, d[\"totals\"]" &&
	if [ "${WXRECON_VALGRIND:-}" != 1 ]; then test "$ms" -lt 5000; fi
'

# The page in a real browser: a screenshot that is not blank and shows the chart.
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$CHROMIUM" ]; then
	test_expect_success 'HTML renders in headless Chromium: not blank, chart drawn' '
		"$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
			--disable-background-networking --disable-component-update --disable-sync \
			--user-data-dir="$(mktemp -d "$TRASH/chromium.XXXXXX")" --screenshot="$TRASH/shot.png" \
			--window-size=1200,1600 "file://$TRASH/report.html" >chromium.log 2>&1 &&
		python3 pngstat.py shot.png 2b6cb0 dd6b20 2f855a fed7d7 >png.txt &&
		cat png.txt &&
		read -r w h colours <png.txt && test "$w" = 1200 && test "$h" = 1600 &&
		test "$colours" -gt 50 &&
		test "$(sed -n "s/^2b6cb0 //p" png.txt)" -gt 2000 &&
		test "$(sed -n "s/^dd6b20 //p" png.txt)" -gt 500 &&
		test "$(sed -n "s/^2f855a //p" png.txt)" -gt 100 &&
		test "$(sed -n "s/^fed7d7 //p" png.txt)" -gt 2000
	'
else
	echo "# skipping the Chromium check: chromium is not installed (apt-get install -y chromium)"
fi

# The CSV in a real spreadsheet: LibreOffice converts it to xlsx; no cell is a
# formula, ids stay text, negative amounts are numbers, the totals are right.
SOFFICE=$(command -v soffice || command -v libreoffice || true)
if [ -n "$SOFFICE" ]; then
	test_expect_success 'CSV opens in LibreOffice Calc: numbers, text, no formula' '
		"$SOFFICE" -env:UserInstallation="file://$TRASH/lo-profile" --headless --norestore \
			--infilter="CSV:44,34,76,1" --convert-to xlsx --outdir xlsx \
			out/csv/days.csv out/csv/discrepancies.csv out/csv/actions.csv >lo.log 2>&1 &&
		python3 - <<-\EOF
		import re, zipfile
		import xml.etree.ElementTree as ET
		ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
		def sheet(name):
		    z = zipfile.ZipFile("xlsx/%s.xlsx" % name)
		    strings = []
		    if "xl/sharedStrings.xml" in z.namelist():
		        for si in ET.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", ns):
		            strings.append("".join(t.text or "" for t in si.iter("{%s}t" % ns["m"])))
		    cells = {}
		    for c in ET.fromstring(z.read("xl/worksheets/sheet1.xml")).iter("{%s}c" % ns["m"]):
		        assert c.find("m:f", ns) is None, "a formula in %s %s" % (name, c.get("r"))
		        v = c.find("m:v", ns)
		        if v is None:
		            continue
		        if c.get("t") == "s":
		            cells[c.get("r")] = strings[int(v.text)]
		        else:
		            cells[c.get("r")] = float(v.text)
		    return cells
		d = sheet("days")
		assert d["A1"] == "date", d["A1"]
		assert d["A6"] == "total" and d["D6"] == 351.49 and d["F6"] == 65 and d["H6"] == 284.78, d
		assert d["G6"] == 1.7139 and d["H5"] == -54.66 and d["G5"] == -0.335, (d["G5"], d["H5"])
		x = sheet("discrepancies")
		# G2, a digit-only id, is a number to LibreOffice: CSV ids are for
		# scripts now; people open the xlsx (t0510), whose ids are text
		assert x["L2"] == "'"'"'=cmd|'"'"' /c calc'"'"'!A1", x["L2"]
		assert x["L4"] == "礼包,\"大号\"", x["L4"]
		assert x["H2"] == 100 and x["I2"] == 100.5
		a = sheet("actions")
		assert a["H5"].startswith("'"'"'+86 bank: 账户名不符"), a["H5"]
		assert a["E4"] == 600
		EOF
	'
else
	echo "# skipping the LibreOffice check: soffice is not installed (apt-get install -y libreoffice-calc-nogui)"
fi

test_done
