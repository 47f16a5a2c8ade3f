#!/bin/sh
# The HTML report: ids and kinds never break inside a token (each id in a
# nowrap span, kinds break only at the <wbr> after '_', no break-all or
# overflow-wrap:anywhere on them, print included), and the labels' language
# is the page's lang. With headless Chromium, the id cells' line boxes are
# measured too.
. "$(dirname "$0")/test-lib.sh"

RANGE="--from 2026-11-01 --to 2026-11-04"

cat >tokens.py <<'PY'
import re, sys
from html.parser import HTMLParser

page = open(sys.argv[1], encoding="utf-8").read()
assert '<html lang="en">' in page, "lang"
css = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
assert "break-all" not in css, "break-all breaks ids mid-token"
assert re.search(r"\.id\{white-space:nowrap\}", css), "ids are not nowrap"
assert re.search(r"td\.kind\{overflow-wrap:normal;word-break:normal\}", css), "kinds"
assert re.search(r"td\.kind,td\.mono\{overflow-wrap:normal\}", css), "print overrides"


class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.ids, self.kinds, self.cur = [], [], [], None

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class", "")
        if tag in ("br", "wbr", "meta"):
            if tag == "wbr" and self.cur is not None and self.cur[0] == "kind":
                self.cur[1].append("|")
            return
        self.stack.append((tag, cls))
        if (tag, cls) in (("span", "id"), ("td", "kind")):
            self.cur = ["id" if tag == "span" else "kind", []]

    def handle_endtag(self, tag):
        if tag in ("br", "wbr", "meta"):
            return
        t, cls = self.stack.pop()
        if self.cur is not None and (t, cls) in (("span", "id"), ("td", "kind")):
            (self.ids if self.cur[0] == "id" else self.kinds).append("".join(self.cur[1]))
            self.cur = None

    def handle_data(self, data):
        if self.cur is not None:
            self.cur[1].append(data)


p = P()
p.feed(page)
ids = set(p.ids)
for want in ("4200000001202611010000000002", "ORD-2", "RF-1", "RF-7", "ORD-9"):
    assert want in ids, (want, sorted(ids))
# every transaction id on the page sits in an id span, whole
for m in re.finditer(r"42000000\d{20}", page):
    assert m.group(0) in ids, m.group(0)
assert "DUPLICATE_|PAYMENT" in p.kinds, p.kinds
for k in p.kinds:  # a break opportunity only right after a '_'
    assert all(k[i - 1] == "_" for i, c in enumerate(k) if c == "|"), k
PY

test_expect_success 'setup: the report fixture' '
	wxrecon --db db.sqlite init 2>/dev/null &&
	db_sql db.sqlite <"$FIXTURES/report/fill.sql" &&
	wxrecon --db db.sqlite report $RANGE --format html >r.html
'
test_expect_success 'HTML: ids whole in nowrap spans, kinds break only after _, lang en' '
	python3 tokens.py r.html
'
CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -n "$CHROME" ]; then
	test_expect_success 'Chromium: every id is one line box, on screen and at A4 width' '
		sed "s|</body>|<script>document.title=[...document.querySelectorAll(\".id\")].filter(e=>e.getClientRects().length>1).length</script></body>|" r.html >m.html &&
		"$CHROME" --headless --disable-gpu --no-sandbox --window-size=794,1123 \
			--dump-dom "file://$PWD/m.html" >dom.html 2>/dev/null &&
		test_grep "<title>0</title>" dom.html
	'
else
	echo "# skipping the Chromium check: chromium is not installed"
fi

test_done
