#!/bin/sh
# reports_dir/index.html: a report written into the configured reports_dir
# rewrites the static index of every report there (dates, files, run, state,
# open discrepancies, bills never fetched); one written elsewhere does not.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup: the report fixture, reports_dir = rep' '
	wxrecon --db db.sqlite init 2>/dev/null &&
	db_sql db.sqlite <"$FIXTURES/report/fill.sql" &&
	printf "[jobs]\nreports_dir = rep\n" >c.conf && mkdir rep
'
test_expect_success 'a report into reports_dir writes index.html with its run and state' '
	wxrecon -q -c c.conf --db db.sqlite report --from 2026-11-01 --to 2026-11-04 \
		--format html -o rep/nightly_2026-11-01_2026-11-04.html &&
	wxrecon -q -c c.conf --db db.sqlite report --from 2026-11-01 --to 2026-11-04 \
		-o rep/nightly_2026-11-01_2026-11-04-csv &&
	wxrecon -q -c c.conf --db db.sqlite report --date 2026-11-03 \
		--format json -o rep/sweep_2026-11-03_2026-11-03.json &&
	test -s rep/index.html &&
	python3 - <<-PY
	import re
	page = open("rep/index.html", encoding="utf-8").read()
	# the newest range first: nightly 11-01..11-04, then sweep 11-03
	rows = re.findall(r"<tr><td class=\"mono\">(.*?)</tr>", page)
	assert len(rows) == 2, rows
	cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", rows[0])]
	assert rows[0].startswith("<span class=\"id\">nightly<"), rows[0]
	assert cells[0:2] == ["2026-11-01", "2026-11-04"], cells
	assert cells[3:] == ["5", "attention", "3", "1"], cells
	assert "href=\"nightly_2026-11-01_2026-11-04.html\"" in rows[0], rows[0]
	assert "href=\"nightly_2026-11-01_2026-11-04-csv/\"" in rows[0], rows[0]
	cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", rows[1])]
	assert rows[1].startswith("<span class=\"id\">sweep<"), rows[1]
	assert cells[3:] == ["6", "ok", "1", "1"], cells
	PY
'
test_expect_success 'the index is the same bytes when nothing changed' '
	cp rep/index.html before.html &&
	WXRECON_NOW=2031-01-01T00:00:00+08:00 wxrecon -q -c c.conf --db db.sqlite report \
		--date 2026-11-03 --format json -o rep/sweep_2026-11-03_2026-11-03.json &&
	cmp before.html rep/index.html
'
test_expect_success 'a report written elsewhere leaves the index alone' '
	mkdir other &&
	wxrecon -q -c c.conf --db db.sqlite report --date 2026-11-02 --format html \
		-o other/nightly_2026-11-02_2026-11-02.html &&
	! test -e other/index.html && cmp before.html rep/index.html
'

test_done
