/* t-report.c - the report's exact money formatting, CSV and HTML escaping,
 * UTF-8 repair, and a small report loaded from an in-memory database. */
#include "tap.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "core/report.h"
#include "db/db.h"

static void amount_is(int64_t v, int scale, bool group, const char *want)
{
	char out[REPORT_AMOUNT_LEN];
	char name[128];
	int len = report_format_amount(v, scale, group, out);

	snprintf(name, sizeof(name), "format %" PRId64 " scale %d%s -> %s", v, scale,
	         group ? " grouped" : "", want);
	is_str(out, want, name);
	is_int(len, (int64_t)strlen(want), "  and returns its length");
}

static void csv_is(const char *in, const char *want, const char *name)
{
	struct buf b = BUF_INIT;

	report_csv_text(&b, in);
	is_str(buf_str(&b), want, name);
	buf_release(&b);
}

static void html_is(const char *in, const char *want, const char *name)
{
	struct buf b = BUF_INIT;

	report_html_escape(&b, in);
	is_str(buf_str(&b), want, name);
	buf_release(&b);
}

static void utf8_is(const char *in, size_t n, const char *want, const char *name)
{
	char *s = report_utf8_dup(in, n);

	is_str(s, want, name);
	free(s);
}

static void test_amounts(void)
{
	amount_is(0, 2, false, "0.00");
	amount_is(1, 2, false, "0.01");
	amount_is(-6, 2, false, "-0.06");
	amount_is(-100, 2, false, "-1.00");
	amount_is(123456, 2, false, "1234.56");
	amount_is(123456789, 2, true, "1,234,567.89");
	amount_is(-100000, 2, true, "-1,000.00");
	amount_is(99999, 2, true, "999.99");
	amount_is(15000, 5, false, "0.15000");
	amount_is(-33500, 5, false, "-0.33500");
	amount_is(204890, 5, false, "2.04890");
	amount_is(45, 0, false, "45");
	amount_is(1000, 0, true, "1,000");
	amount_is(INT64_MAX, 2, false, "92233720368547758.07");
	amount_is(INT64_MIN, 2, false, "-92233720368547758.08");
	amount_is(INT64_MIN, 2, true, "-92,233,720,368,547,758.08");
	amount_is(INT64_MIN, 0, true, "-9,223,372,036,854,775,808");
	amount_is(1, 18, false, "0.000000000000000001");

	is_int(report_fee_to_fen(0), 0, "fee 0 -> 0 fen");
	is_int(report_fee_to_fen(499), 0, "fee 0.00499 -> 0.00");
	is_int(report_fee_to_fen(500), 1, "fee 0.00500 -> 0.01 (half up)");
	is_int(report_fee_to_fen(1500), 2, "fee 0.01500 -> 0.02");
	is_int(report_fee_to_fen(-499), 0, "fee -0.00499 -> 0.00");
	is_int(report_fee_to_fen(-500), -1, "fee -0.00500 -> -0.01 (away from zero)");
	is_int(report_fee_to_fen(204890), 205, "fee 2.04890 -> 2.05");
	is_int(report_fee_to_fen(-33500), -34, "fee -0.33500 -> -0.34");
}

static void test_csv(void)
{
	struct buf b = BUF_INIT;

	csv_is("abc", "abc", "plain text as is");
	csv_is("", "", "empty cell");
	csv_is(NULL, "", "NULL is an empty cell");
	csv_is("a,b", "\"a,b\"", "comma quoted");
	csv_is("a\"b", "\"a\"\"b\"", "quote doubled and quoted");
	csv_is("a\nb", "\"a\nb\"", "LF quoted");
	csv_is("a\r\nb", "\"a\r\nb\"", "CRLF quoted");
	csv_is("=1+2", "'=1+2", "leading = escaped");
	csv_is("+86 bank", "'+86 bank", "leading + escaped");
	csv_is("-5 yuan", "'-5 yuan", "leading - in text escaped");
	csv_is("@SUM(A1)", "'@SUM(A1)", "leading @ escaped");
	csv_is("\tx", "'\tx", "leading TAB escaped");
	csv_is("\rx", "\"'\rx\"", "leading CR escaped and quoted");
	csv_is("=HYPERLINK(\"x\",\"y\")", "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"",
	       "formula with quotes and commas: escaped, then quoted");
	csv_is("=cmd|' /c calc'!A1", "'=cmd|' /c calc'!A1", "DDE payload escaped");
	csv_is("礼包,\"大号\"", "\"礼包,\"\"大号\"\"\"", "Chinese with comma and quotes intact");
	csv_is("a=b", "a=b", "= inside is harmless");
	csv_is("-", "'-", "a lone - is text");
	csv_is("4200000001202611010000000002", "4200000001202611010000000002",
	       "an all-digit id as is (CSV is for scripts; xlsx ids are text)");
	csv_is("007", "007", "leading zeros as is");
	csv_is("ORD-007", "ORD-007", "an id with letters as is");
	csv_is("2026-11-01", "2026-11-01", "a date as is");
	csv_is("12.5", "12.5", "digits with a point as is");

	report_csv_number(&b, "-12.34");
	is_str(buf_str(&b), "-12.34", "a negative amount stays a number");
	buf_reset(&b);
	report_csv_number(&b, "0.00");
	is_str(buf_str(&b), "0.00", "zero amount");
	buf_release(&b);
}

static void test_html(void)
{
	html_is("<a href='x'>&\"", "&lt;a href=&#39;x&#39;&gt;&amp;&quot;",
	        "HTML specials escaped");
	html_is("礼包", "礼包", "Chinese as is");
	html_is("a\x01"
	        "b\x7f",
	        "a\xEF\xBF\xBD"
	        "b\xEF\xBF\xBD",
	        "control characters replaced");
	html_is("a\tb\nc", "a\tb\nc", "TAB and LF kept");
}

static void test_utf8(void)
{
	utf8_is("ok", 2, "ok", "ASCII as is");
	utf8_is("礼包", strlen("礼包"), "礼包", "Chinese as is");
	utf8_is("\xff", 1, "\xEF\xBF\xBD", "bad byte replaced");
	utf8_is("\xc0\xaf", 2, "\xEF\xBF\xBD\xEF\xBF\xBD", "overlong replaced");
	utf8_is("\xed\xa0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", "surrogate replaced");
	utf8_is("\xe4\xb8", 2, "\xEF\xBF\xBD\xEF\xBF\xBD", "truncated sequence replaced");
	utf8_is("a\0b", 3,
	        "a\xEF\xBF\xBD"
	        "b",
	        "embedded NUL replaced");
	utf8_is("\xf4\x90\x80\x80", 4, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD",
	        "above U+10FFFF replaced");
	utf8_is("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80", "4-byte sequence kept");
}

static const char fill[] =
        "INSERT INTO bill_files (id, mchid, bill_date, kind, status, sha1, source, fetched_at)"
        " VALUES (1, 'M1', '2026-11-01', 'trade', 'ok', 'abc', 'api', 'x'),"
        " (2, 'M2', '2026-11-01', 'trade', 'ok', 'def', 'api', 'x'),"
        " (3, 'M1', '2026-11-02', 'trade', 'empty', NULL, 'api', 'x');"
        "INSERT INTO bill_trades (file_id, line, mchid, bill_date, trade_time, transaction_id,"
        " out_trade_no, row_kind, settlement_amount, refund_amount, fee, description) VALUES"
        " (1, 2, 'M1', '2026-11-01', 't', 'T1', 'O1', 'SUCCESS', 1000, 0, 6000, '=x'),"
        " (1, 3, 'M1', '2026-11-01', 't', 'T2', 'O2', 'SUCCESS', 2001, 0, 12006, '@y'),"
        " (1, 4, 'M1', '2026-11-01', 't', 'T1', 'O1', 'REFUND', 0, 1000, -6000, '=x'),"
        " (2, 2, 'M2', '2026-11-01', 't', 'T9', 'O9', 'SUCCESS', 777, 0, 4662, 'z');"
        "INSERT INTO discrepancies (mchid, date, kind, key, out_trade_no, transaction_id,"
        " ledger_amount, bill_amount, status, resolution, first_run_id, last_run_id,"
        " created_at, updated_at) VALUES"
        " ('M1', '2026-11-01', 'AMOUNT_MISMATCH', 'O2', 'O2', 'T2', 2000, 2001, 'open', NULL, 4, 9,"
        "  'x', 'x'),"
        " ('M1', '2026-11-03', 'BILL_MISSING', 'trade', NULL, NULL, NULL, NULL, 'resolved', '-ok',"
        "  4, 4, 'x', 'x');"
        "INSERT INTO actions (mchid, kind, target, state, date, run_id, created_at, updated_at)"
        " VALUES ('M1', 'ORDER_CLOSE', 'O7', 'done', '2026-11-02', 7, 'x', 'x'),"
        " ('M1', 'ORDER_CLOSE', 'O8', 'done', '2026-11-09', 8, 'x', 'x');";

/* report_each_disc: keeps the first discrepancy's description */
static int first_description(void *arg, const struct report_disc *d, struct wxr_err *e)
{
	char *out = arg;

	(void)e;
	if (!*out)
		snprintf(out, 64, "%s", d->description ? d->description : "(null)");
	return 0;
}

static void test_load(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct db *db = NULL;
	struct report *rep = NULL;
	struct report_opts o = { "2026-11-01",    "2026-11-03", "M1", 8 * 3600,
		                 "Asia/Shanghai", "ph",         NULL };
	struct buf b = BUF_INIT;
	int r;

	r = db_open(":memory:", &db, &err);
	is_int(r, 0, "open an in-memory database");
	if (r < 0) {
		diag("%s", err.msg);
		return;
	}
	is_int(db_migrate(db, NULL, &err), 0, "migrate it");
	is_int(db_exec(db, fill, &err), 0, "fill it");
	r = report_load(db, &o, &rep, &err);
	is_int(r, 0, "load 2026-11-01..03 of M1");
	if (r < 0) {
		diag("%s", err.msg);
		goto out;
	}
	is_int((int64_t)rep->ndays, 3, "three days");
	is_int(rep->days[0].bill, REPORT_BILL_OK, "day 1 bill ok");
	is_int(rep->days[1].bill, REPORT_BILL_EMPTY, "day 2 bill empty");
	is_int(rep->days[2].bill, REPORT_BILL_MISSING, "day 3 bill missing");
	is_int(rep->days[0].pay_count, 2, "two payments (M2's is not counted)");
	is_int(rep->days[0].pay_fen, 3001, "payments amount");
	is_int(rep->days[0].refund_count, 1, "one refund");
	is_int(rep->days[0].refund_fen, 1000, "refunds amount");
	is_int(rep->days[0].fees_e5, 12006, "fees: refund's negative fee reduces them");
	is_int(rep->days[0].net_fen, 3001 - 1000 - 12, "net = payments - refunds - fees in fen");
	is_int(rep->days[0].disc.open, 1, "one open finding on day 1");
	is_int(rep->days[2].disc.resolved, 1, "one resolved on day 3");
	is_int((int64_t)rep->nmissing, 1, "one missing day");
	is_int((int64_t)rep->ndiscs, 2, "two discrepancies");
	{
		char first[64] = "";

		is_int(report_each_disc(rep, first_description, first, &err), 0,
		       "list the discrepancies");
		is_str(first, "@y", "goods name from the bill row");
	}
	{
		/* the streamed listing is what one dump of the whole document writes */
		struct buf j = BUF_INIT;
		json_t *doc;
		char *again;

		is_int(report_render_json(rep, &j, &err), 0, "render the JSON report");
		doc = json_loads(buf_str(&j), 0, NULL);
		again = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
		ok(again && strlen(buf_str(&j)) == strlen(again) + 1 &&
		           strncmp(buf_str(&j), again, strlen(again)) == 0,
		   "the JSON report, discrepancies streamed, is byte for byte jansson's dump");
		ok(strstr(buf_str(&j), "\"discrepancies\": [\n    {\n      \"id\": ") != NULL,
		   "its discrepancies are listed");
		free(again);
		json_decref(doc);
		buf_release(&j);
	}
	is_int((int64_t)rep->nactions, 1, "one action in range");
	is_int((int64_t)rep->nruns, 3, "runs 4, 7, 9");
	ok(rep->nruns == 3 && rep->runs[0] == 4 && rep->runs[1] == 7 && rep->runs[2] == 9,
	   "runs sorted and distinct");

	report_render_csv_days(rep, &b, &err);
	is_str(buf_str(&b),
	       "\xEF\xBB\xBF"
	       "date,bill,payments_count,payments_yuan,refunds_count,refunds_yuan,fees_yuan,net_"
	       "yuan,"
	       "discrepancies_open,discrepancies_resolved,discrepancies_auto_resolved\r\n"
	       "2026-11-01,ok,2,30.01,1,10.00,0.12006,19.89,1,0,0\r\n"
	       "2026-11-02,empty,0,0.00,0,0.00,0.00000,0.00,0,0,0\r\n"
	       "2026-11-03,missing,0,0.00,0,0.00,0.00000,0.00,0,1,0\r\n"
	       "total,,2,30.01,1,10.00,0.12006,19.89,1,1,0\r\n",
	       "days.csv byte for byte");
	buf_reset(&b);
	report_render_csv_stamp(rep, &b, &err);
	is_str(buf_str(&b),
	       "\xEF\xBB\xBF"
	       "field,value,kind,status,sha1\r\n"
	       "version," WXR_VERSION "\r\n"
	       "policy_hash,ph\r\n"
	       "timezone,Asia/Shanghai\r\n"
	       "aging_as_of,2026-11-04T00:00:00+08:00\r\n"
	       "mchid,M1\r\n"
	       "bill,2026-11-01,trade,ok,abc\r\n"
	       "bill,2026-11-02,trade,empty,\r\n"
	       "run,4\r\n"
	       "run,7\r\n"
	       "run,9\r\n"
	       "missing_bill,2026-11-03\r\n"
	       "audit,0,,,0000000000000000000000000000000000000000000000000000000000000000\r\n",
	       "stamp.csv byte for byte");
	buf_reset(&b);
	report_render_csv_discrepancies(rep, &b, &err);
	ok(strstr(buf_str(&b), "\r\n2,2026-11-03,BILL_MISSING,resolved,,,,,,,,,'-ok,,\r\n") != NULL,
	   "discrepancies.csv: empty cells, escaped resolution");
	ok(strstr(buf_str(&b), ",20.00,20.01,,,'@y,") != NULL, "amounts in yuan, goods escaped");
	buf_reset(&b);
	is_int(report_render_html(rep, &b, &err), 0, "HTML renders");
	ok(strstr(buf_str(&b), "<svg") && !strstr(buf_str(&b), "http"), "HTML: SVG, no URL");
	buf_reset(&b);
	is_int(report_render_json(rep, &b, &err), 0, "JSON renders");
	ok(strstr(buf_str(&b), "\"net\": 1989") != NULL, "JSON net in fen");
	rep = report_free(rep);

	o.mchid = "";
	is_int(report_load(db, &o, &rep, &err), 0, "load for every merchant");
	if (rep)
		is_int(rep->days[0].pay_fen, 3778, "M2's payment counted too");
	rep = report_free(rep);

	o.from = "2026-11-04";
	is_int(report_load(db, &o, &rep, &err), WXR_EUSAGE, "from after to is refused");
	o.from = "2000-01-01";
	o.to = "2026-01-01";
	is_int(report_load(db, &o, &rep, &err), WXR_EUSAGE, "a range too long is refused");
	ok(rep == NULL, "nothing returned on failure");
out:
	report_free(rep);
	buf_release(&b);
	db_close(db);
}

int main(void)
{
	test_amounts();
	test_csv();
	test_html();
	test_utf8();
	test_load();
	return done_testing();
}
