#!/bin/sh
# wxrecon report --format xlsx: read back from the sheet XML (cell types: ids
# text, amounts numbers in yuan with a yuan format, dates date cells in the
# configured timezone, Chinese intact, no formula), a frozen header and set
# widths on each sheet, and the same bytes on two runs.
. "$(dirname "$0")/test-lib.sh"

RANGE="--from 2026-11-01 --to 2026-11-04"

# sheets.py FILE: prints nothing and exits 0 when every check holds.
cat >sheets.py <<'PY'
import datetime, re, sys, zipfile
import xml.etree.ElementTree as ET

M = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
z = zipfile.ZipFile(sys.argv[1])
wb = ET.fromstring(z.read("xl/workbook.xml"))
names = [s.get("name") for s in wb.iter(M + "sheet")]
assert names == ["days", "discrepancies", "actions", "aging", "stamp"], names
strings = ["".join(t.text or "" for t in si.iter(M + "t"))
           for si in ET.fromstring(z.read("xl/sharedStrings.xml")).iter(M + "si")]
styles = ET.fromstring(z.read("xl/styles.xml"))
fmts = {f.get("numFmtId"): f.get("formatCode") for f in styles.iter(M + "numFmt")}
xfs = [fmts.get(x.get("numFmtId"), x.get("numFmtId"))
       for x in styles.find(M + "cellXfs").iter(M + "xf")]


def sheet(i):
    root = ET.fromstring(z.read("xl/worksheets/sheet%d.xml" % i))
    pane = root.find(".//" + M + "pane")
    assert pane is not None and pane.get("state") == "frozen" and pane.get("ySplit") == "1", i
    assert len(root.findall(".//" + M + "col")) >= 5, "column widths on sheet %d" % i
    cells = {}
    for c in root.iter(M + "c"):
        assert c.find(M + "f") is None, "a formula at %s" % c.get("r")
        v = c.find(M + "v")
        if v is None:
            continue
        fmt = xfs[int(c.get("s", "0"))]
        if c.get("t") in ("s", "inlineStr"):
            cells[c.get("r")] = ("text", strings[int(v.text)] if c.get("t") == "s" else v.text)
        else:
            assert c.get("t") is None, c.get("t")
            cells[c.get("r")] = ("num", float(v.text), fmt)
    return cells


def serial(y, mo, d, h=0, mi=0, s=0):
    t = datetime.datetime(y, mo, d, h, mi, s) - datetime.datetime(1899, 12, 30)
    return t.days + t.seconds / 86400.0


def is_num(cell, value, fmt):
    assert cell[0] == "num" and abs(cell[1] - value) < 1e-9 and cell[2] == fmt, (cell, value, fmt)


YUAN, DATE, TIME = "#,##0.00", "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss"
d = sheet(1)
assert d["A1"] == ("text", "date"), d["A1"]
is_num(d["A2"], serial(2026, 11, 1), DATE)
assert d["B4"] == ("text", "missing"), d["B4"]
assert d["A6"] == ("text", "total"), d["A6"]
is_num(d["D6"], 351.49, YUAN)
is_num(d["F6"], 65, YUAN)
is_num(d["G6"], 1.7139, YUAN)      # fees: the exact value, shown with 2 decimals
is_num(d["H5"], -54.66, YUAN)
is_num(d["C6"], 3, "0")

x = sheet(2)
assert x["G2"] == ("text", "4200000001202611010000000002"), x["G2"]
assert x["E2"] == ("text", "ORD-2"), x["E2"]
assert x["L2"] == ("text", "=cmd|' /c calc'!A1"), x["L2"]   # text, not a formula
assert x["L4"] == ("text", '礼包,"大号"'), x["L4"]
is_num(x["H2"], 100, YUAN)
is_num(x["I2"], 100.5, YUAN)
is_num(x["B2"], serial(2026, 11, 1), DATE)
# the queue as of the end of the range: open, low, due a year after its payment
assert x["P2"] == ("text", "low"), x.get("P2")
is_num(x["Q2"], serial(2027, 11, 1), DATE)
assert "R2" not in x and "S2" not in x, x

a = sheet(3)
assert a["C3"] == ("text", "ORD-1"), a["C3"]
is_num(a["E3"], 250, YUAN)
assert a["H5"][1].startswith("+86 bank: 账户名不符"), a["H5"]
# updated_at 2026-11-05T02:05:01Z is 10:05:01 in Asia/Shanghai
is_num(a["J3"], serial(2026, 11, 5, 10, 5, 1), TIME)

g = sheet(4)
assert g["A2"] == ("text", "<1d") and g["A8"] == ("text", "total"), g
is_num(g["B2"], 2, "0")
is_num(g["C2"], 50, YUAN)           # 7: 50.00 yuan at stake, 6: none
is_num(g["B3"], 1, "0")             # 2, found 2.6 days before the end of the range
is_num(g["C3"], 0.5, YUAN)
is_num(g["J8"], 3, "0")
is_num(g["K8"], 50.5, YUAN)
is_num(g["L8"], 0, "0")

s = sheet(5)
assert s["A2"] == ("text", "version"), s["A2"]
assert s["A5"] == ("text", "aging_as_of"), s["A5"]
is_num(s["B5"], serial(2026, 11, 5), TIME)
assert any(v == ("text", "missing_bill") for v in s.values()), s
PY

test_expect_success 'setup: the report fixture' '
	wxrecon --db db.sqlite init 2>/dev/null &&
	db_sql db.sqlite <"$FIXTURES/report/fill.sql"
'
test_expect_success 'xlsx: five sheets, text ids, yuan numbers, date cells, frozen headers' '
	wxrecon -q --db db.sqlite report $RANGE --format xlsx -o r.xlsx &&
	python3 sheets.py r.xlsx
'
test_expect_success 'xlsx: the same inputs give the same bytes, whatever the clock' '
	sleep 1 &&
	WXRECON_NOW=2031-01-01T00:00:00+08:00 wxrecon -q --db db.sqlite report $RANGE \
		--format xlsx -o again.xlsx &&
	cmp r.xlsx again.xlsx &&
	unzip -p r.xlsx docProps/core.xml >core.xml &&
	test_grep "<dcterms:created xsi:type=\"dcterms:W3CDTF\">2026-11-03T16:00:00Z<" core.xml
'
test_expect_success 'xlsx: -o DIR writes DIR/report.xlsx' '
	mkdir xdir && wxrecon -q --db db.sqlite report $RANGE --format xlsx -o xdir &&
	cmp r.xlsx xdir/report.xlsx
'
test_expect_success 'xlsx without -o is a usage error; nothing is left behind on failure' '
	{ wxrecon --db db.sqlite report $RANGE --format xlsx >out 2>err; rc=$?; } &&
	test "$rc" = 2 && test_grep "xlsx needs -o" err && ! test -s out &&
	{ wxrecon --db db.sqlite report $RANGE --format xlsx -o nodir/r.xlsx 2>err; rc=$?; } &&
	test "$rc" = 1 && test_grep "^wxrecon: report 2026-11-01..2026-11-04: cannot create" err &&
	! test -e nodir
'
test_expect_success 'a job report step writes xlsx too (formats = xlsx)' '
	mkdir jobs &&
	printf "[job]\ndescription = the workbook\nsteps = report\ndates = yesterday\n[report]\nformats = xlsx, html\n" >jobs/book.job &&
	printf "[database]\n%s\n[jobs]\ndir = jobs\nreports_dir = reports\n" "$(test_config_db db.sqlite)" >job.conf &&
	wxrecon -q -c job.conf run book $RANGE >out &&
	test -s reports/book_2026-11-01_2026-11-04.html &&
	cat >same-but-stamp.py <<-\EOF &&
	# Two workbooks equal but for the stamp: its audit head (issue 20 item 5)
	# is the log as each report found it, and the run wrote entries in between.
	import re, sys, zipfile
	a, b = (zipfile.ZipFile(f) for f in sys.argv[1:3])
	names = a.namelist()
	assert names == b.namelist(), (names, b.namelist())
	wb = a.read("xl/workbook.xml").decode()
	ids = re.findall(r"<sheet name=.([^\x22]+). sheetId=.(\d+).", wb)
	stamp = "xl/worksheets/sheet%s.xml" % dict(ids)["stamp"]
	hexes = re.compile(rb"[0-9a-f]{64}")
	for n in names:
	    x, y = a.read(n), b.read(n)
	    if n == stamp:
	        continue
	    if n == "xl/sharedStrings.xml":
	        x, y = hexes.sub(b"H", x), hexes.sub(b"H", y)
	    assert x == y, n
	EOF
	python3 same-but-stamp.py r.xlsx reports/book_2026-11-01_2026-11-04.xlsx &&
	test_grep "book_2026-11-01_2026-11-04.xlsx" reports/index.html
'
test_expect_success 'a job with an unknown report format is refused, naming xlsx among the choices' '
	printf "[job]\ndescription = x\nsteps = report\n[report]\nformats = pdf\n" >jobs/bad.job &&
	test_must_fail wxrecon -c job.conf run bad $RANGE 2>err &&
	test_grep "bad format .pdf. (want html, csv, json or xlsx)" err
'
test_done
