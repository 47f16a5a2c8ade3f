/*
 * report_html.c - the HTML rendering: one self-contained page (inline CSS,
 * an inline SVG chart, no script, no font or URL from outside) that reads
 * on screen and prints on A4.
 *
 * The chart's coordinates are computed with int64 arithmetic from the
 * integer amounts: no floating point anywhere near money. Every value from
 * the database is HTML-escaped.
 */
#include "core/report.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "db/db_report.h"

int report_html_escape(struct buf *b, const char *s)
{
	int r = 0;

	if (!s)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '&':
			r |= buf_adds(b, "&amp;");
			break;
		case '<':
			r |= buf_adds(b, "&lt;");
			break;
		case '>':
			r |= buf_adds(b, "&gt;");
			break;
		case '"':
			r |= buf_adds(b, "&quot;");
			break;
		case '\'':
			r |= buf_adds(b, "&#39;");
			break;
		default:
			if ((*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') || *p == 0x7f)
				r |= buf_adds(b, "\xEF\xBF\xBD");
			else
				r |= buf_addc(b, (char)*p);
		}
	}
	return r ? WXR_ETOOBIG : 0;
}

/* The page being written; r collects buffer failures (the cap). */
struct page {
	struct buf *b;
	int r;
};

static void raw(struct page *p, const char *s)
{
	p->r |= buf_adds(p->b, s);
}

static void rawf(struct page *p, const char *fmt, ...) WXR_PRINTF(2, 3);
static void rawf(struct page *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	p->r |= buf_vaddf(p->b, fmt, ap);
	va_end(ap);
}

static void esc(struct page *p, const char *s)
{
	p->r |= report_html_escape(p->b, s);
}

/* An amount as text ("1,234.50"), in a span marked when negative. */
static void money(struct page *p, int64_t v, int scale)
{
	char s[REPORT_AMOUNT_LEN];

	report_format_amount(v, scale, true, s);
	if (v < 0)
		rawf(p, "<span class=\"neg\">%s</span>", s);
	else
		raw(p, s);
}

/* A kind such as REFUND_MISSING_IN_LEDGER, with a line break allowed after
 * each '_' so that narrow pages (A4) need not cut it anywhere. */
static void esc_wbr(struct page *p, const char *kind)
{
	for (const char *s = kind ? kind : ""; *s; s++) {
		char one[2] = { *s, '\0' };

		esc(p, one);
		if (*s == '_')
			raw(p, "<wbr>");
	}
}

static void td_kind(struct page *p, const char *kind)
{
	raw(p, "<td class=\"kind\">");
	esc_wbr(p, kind);
	raw(p, "</td>");
}

static void td_int(struct page *p, int64_t v)
{
	rawf(p, "<td class=\"n\">%" PRId64 "</td>", v);
}

static void td_money(struct page *p, int64_t v, int scale)
{
	raw(p, "<td class=\"n\">");
	money(p, v, scale);
	raw(p, "</td>");
}

static void td_text(struct page *p, const char *s)
{
	raw(p, "<td>");
	esc(p, s);
	raw(p, "</td>");
}

static void td_date(struct page *p, const char *s)
{
	raw(p, "<td class=\"d\">");
	esc(p, s);
	raw(p, "</td>");
}

/* An id (out_trade_no, transaction_id, a SHA-1): one token that never
 * breaks; the line may break only between tokens. */
static void id_span(struct page *p, const char *s)
{
	raw(p, "<span class=\"id\">");
	esc(p, s);
	raw(p, "</span>");
}

static void td_mono(struct page *p, const char *s)
{
	raw(p, "<td class=\"mono\">");
	id_span(p, s);
	raw(p, "</td>");
}

static const char css[] =
        "*{box-sizing:border-box}"
        "body{font:14px/1.45 system-ui,-apple-system,\"Segoe UI\",\"PingFang SC\","
        "\"Microsoft YaHei\",\"Noto Sans CJK SC\",sans-serif;color:#1a202c;"
        "margin:24px auto;max-width:1100px;padding:0 16px}"
        "h1{font-size:22px;margin:0 0 4px}"
        "h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #cbd5e0;padding-bottom:4px}"
        ".sub{color:#4a5568;margin:0 0 16px}"
        ".cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}"
        ".card{border:1px solid #cbd5e0;border-radius:6px;padding:6px 12px;min-width:140px}"
        ".card .v{font-size:18px;font-weight:600;font-variant-numeric:tabular-nums}"
        ".card .k{color:#4a5568;font-size:12px}"
        ".warn{background:#fff5f5;border-left:4px solid #c53030;padding:8px 12px;margin:12px 0}"
        "table{border-collapse:collapse;width:100%;font-size:13px}"
        "th,td{border-bottom:1px solid #e2e8f0;padding:4px 6px;text-align:left;vertical-align:top}"
        "th{background:#edf2f7;font-weight:600;vertical-align:bottom}"
        "th.g{text-align:center;border-bottom:1px solid #cbd5e0}"
        ".n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
        "th.n{white-space:normal}"
        "tr.total td{font-weight:600;border-top:2px solid #4a5568}"
        ".neg{color:#c53030}"
        ".b-missing{color:#c53030;font-weight:600}"
        ".b-empty{color:#718096}"
        ".s-open{color:#c53030;font-weight:600}"
        "tr.overdue td{background:#fff5f5}"
        ".overdue{color:#c53030;font-weight:700}"
        ".sev-critical{color:#c53030;font-weight:600}.sev-high{color:#dd6b20;font-weight:600}"
        ".mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}"
        /* ids and kinds never break inside a token: ids not at all, kinds only
         * at the <wbr> after each '_' */
        ".id{white-space:nowrap}"
        "td.kind{overflow-wrap:normal;word-break:normal}"
        ".none{color:#718096;font-style:italic}"
        ".d{white-space:nowrap}"
        ".chart{width:100%;height:auto;display:block}"
        ".chart text{font-size:11px;fill:#2d3748}"
        ".chart .t-pay{fill:#2b6cb0}.chart .t-ref{fill:#dd6b20}.chart .t-fee{fill:#2f855a}"
        "footer{margin-top:32px;color:#4a5568;font-size:12px}"
        "footer table{font-size:12px}"
        "dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0 0 10px}"
        "dt{font-weight:600}dd{margin:0}"
        "@page{size:A4;margin:12mm}"
        "@media print{"
        "body{margin:0;max-width:none;padding:0;font-size:10pt;"
        "-webkit-print-color-adjust:exact;print-color-adjust:exact}"
        "table{font-size:8.5pt}th,td{padding:2px 4px}.mono{font-size:8pt}"
        "td{overflow-wrap:anywhere}td.kind,td.mono{overflow-wrap:normal}"
        "h2{break-after:avoid;page-break-after:avoid}"
        "thead{display:table-header-group}"
        "tr,.cards,.chartbox,dl{break-inside:avoid;page-break-inside:avoid}"
        "}";

/* ---- the chart ---- */

enum {
	CH_W = 1000,
	CH_H = 380,
	CH_X0 = 92, /* plot area */
	CH_X1 = 908,
	CH_Y0 = 56,
	CH_Y1 = 316,
};

struct axis {
	int64_t lo, hi, step;
	int scale; /* decimals of the unit: 2 = fen, 5 = 0.00001 yuan */
};

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/*
 * An axis from min(vmin, 0) to max(vmax, 0) in about five steps of 1, 2
 * or 5 times a power of ten (of the unit), at least one yuan tall.
 */
static void axis_init(struct axis *ax, int64_t vmin, int64_t vmax, int scale)
{
	int64_t one_yuan = scale == 5 ? 100000 : 100;
	int64_t lo = vmin < 0 ? vmin : 0;
	int64_t hi = vmax > 0 ? vmax : 0;
	int64_t span, want, step = 1, p = 1;

	/* keep far from overflow: amounts that large do not exist */
	if (lo < INT64_MIN / 4)
		lo = INT64_MIN / 4;
	if (hi > INT64_MAX / 4)
		hi = INT64_MAX / 4;
	span = hi - lo;
	if (span < one_yuan) {
		hi = lo + one_yuan;
		span = one_yuan;
	}
	want = (span + 4) / 5;
	for (;;) {
		if (p >= want) {
			step = p;
			break;
		}
		if (2 * p >= want) {
			step = 2 * p;
			break;
		}
		if (5 * p >= want) {
			step = 5 * p;
			break;
		}
		if (p > INT64_MAX / 100) {
			step = p * 10;
			break;
		}
		p *= 10;
	}
	ax->step = step;
	ax->lo = floor_div(lo, step) * step;
	ax->hi = -floor_div(-hi, step) * step;
	if (ax->hi == ax->lo)
		ax->hi = ax->lo + step;
	ax->scale = scale;
}

/* Gives both axes the same number of steps below and above zero, so that
 * zero and the grid lines are at the same height on both sides. */
static void axes_align(struct axis *a, struct axis *b)
{
	int64_t neg_a = -a->lo / a->step, neg_b = -b->lo / b->step;
	int64_t pos_a = a->hi / a->step, pos_b = b->hi / b->step;
	int64_t neg = neg_a > neg_b ? neg_a : neg_b;
	int64_t pos = pos_a > pos_b ? pos_a : pos_b;

	a->lo = -neg * a->step;
	a->hi = pos * a->step;
	b->lo = -neg * b->step;
	b->hi = pos * b->step;
}

/* v * num / den for 0 <= v <= den and small num, without overflow. */
static int64_t muldiv(int64_t v, int64_t num, int64_t den)
{
	while (den > INT64_MAX / 4096) {
		v /= 16;
		den /= 16;
	}
	if (den <= 0)
		return 0;
	return v * num / den;
}

static int64_t axis_y(const struct axis *ax, int64_t v)
{
	if (v < ax->lo)
		v = ax->lo;
	if (v > ax->hi)
		v = ax->hi;
	return CH_Y0 + muldiv(ax->hi - v, CH_Y1 - CH_Y0, ax->hi - ax->lo);
}

/* A tick label: as few decimals as the step needs. */
static void axis_label(const struct axis *ax, int64_t v, char out[REPORT_AMOUNT_LEN])
{
	int64_t one = ax->scale == 5 ? 100000 : 100;
	int64_t per_fen = ax->scale == 5 ? 1000 : 1;

	if (ax->step % one == 0)
		report_format_amount(v / one, 0, true, out);
	else if (ax->step % per_fen == 0)
		report_format_amount(v / per_fen, 2, true, out);
	else
		report_format_amount(v, ax->scale, true, out);
}

static int64_t slot_x(size_t i, size_t n)
{
	return CH_X0 + (int64_t)((uint64_t)(CH_X1 - CH_X0) * i / n);
}

static void chart_tooltip(struct page *p, const struct report_day *d)
{
	char pay[REPORT_AMOUNT_LEN], ref[REPORT_AMOUNT_LEN], fee[REPORT_AMOUNT_LEN];

	report_format_amount(d->pay_fen, 2, true, pay);
	report_format_amount(d->refund_fen, 2, true, ref);
	/* fees in yuan with two decimals, like every amount a person reads */
	report_format_amount(report_fee_to_fen(d->fees_e5), 2, true, fee);
	rawf(p,
	     "<title>%s (bill %s): payments %" PRId64 " / %s yuan, refunds %" PRId64
	     " / %s yuan, fees %s yuan</title>",
	     d->date, report_bill_name(d->bill), d->pay_count, pay, d->refund_count, ref, fee);
}

static void legend_item(struct page *p, int x, const char *cls, const char *color, bool line,
                        const char *label)
{
	if (line)
		rawf(p,
		     "<line x1=\"%d\" y1=\"20\" x2=\"%d\" y2=\"20\" stroke=\"%s\" "
		     "stroke-width=\"2\"/>"
		     "<circle cx=\"%d\" cy=\"20\" r=\"3\" fill=\"%s\"/>",
		     x, x + 16, color, x + 8, color);
	else
		rawf(p, "<rect x=\"%d\" y=\"14\" width=\"14\" height=\"12\" fill=\"%s\"/>", x,
		     color);
	rawf(p, "<text x=\"%d\" y=\"24\" class=\"%s\">%s</text>", x + 20, cls, label);
}

static void chart(struct page *p, const struct report *rep)
{
	static const char pay_c[] = "#2b6cb0", ref_c[] = "#dd6b20", fee_c[] = "#2f855a";
	struct axis left, right;
	int64_t vmin = 0, vmax = 0, fmin = 0, fmax = 0;
	size_t n = rep->ndays, every;
	char label[REPORT_AMOUNT_LEN];

	for (size_t i = 0; i < n; i++) {
		const struct report_day *d = &rep->days[i];

		vmax = d->pay_fen > vmax ? d->pay_fen : vmax;
		vmax = d->refund_fen > vmax ? d->refund_fen : vmax;
		vmin = d->pay_fen < vmin ? d->pay_fen : vmin;
		vmin = d->refund_fen < vmin ? d->refund_fen : vmin;
		fmax = d->fees_e5 > fmax ? d->fees_e5 : fmax;
		fmin = d->fees_e5 < fmin ? d->fees_e5 : fmin;
	}
	axis_init(&left, vmin, vmax, 2);
	axis_init(&right, fmin, fmax, 5);
	axes_align(&left, &right);

	rawf(p,
	     "<div class=\"chartbox\"><svg class=\"chart\""
	     " viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"daily payments, refunds and fees\">",
	     CH_W, CH_H);
	rawf(p, "<title>Daily payments, refunds and fees, %s to %s</title>", rep->from, rep->to);
	/* legend */
	legend_item(p, CH_X0, "t-pay", pay_c, false, "payments (yuan, left axis)");
	legend_item(p, CH_X0 + 210, "t-ref", ref_c, false, "refunds (yuan, left axis)");
	legend_item(p, CH_X0 + 410, "t-fee", fee_c, true, "fees (yuan, right axis)");
	rawf(p,
	     "<rect x=\"%d\" y=\"14\" width=\"14\" height=\"12\" fill=\"#fed7d7\"/>"
	     "<text x=\"%d\" y=\"24\">no bill fetched</text>",
	     CH_X0 + 600, CH_X0 + 620);

	/* days without a bill, shaded */
	for (size_t i = 0; i < n; i++) {
		if (rep->days[i].bill != REPORT_BILL_MISSING)
			continue;
		rawf(p,
		     "<rect x=\"%" PRId64 "\" y=\"%d\" width=\"%" PRId64
		     "\" height=\"%d\" fill=\"#fed7d7\"/>",
		     slot_x(i, n), CH_Y0, slot_x(i + 1, n) - slot_x(i, n), CH_Y1 - CH_Y0);
	}

	/* left axis: grid lines and labels */
	for (int64_t t = left.lo; t <= left.hi; t += left.step) {
		int64_t y = axis_y(&left, t);

		axis_label(&left, t, label);
		rawf(p,
		     "<line x1=\"%d\" y1=\"%" PRId64 "\" x2=\"%d\" y2=\"%" PRId64
		     "\" stroke=\"%s\" stroke-width=\"1\"/>"
		     "<text x=\"%d\" y=\"%" PRId64 "\" text-anchor=\"end\">%s</text>",
		     CH_X0, y, CH_X1, y, t == 0 ? "#4a5568" : "#e2e8f0", CH_X0 - 6, y + 4, label);
		if (t > INT64_MAX - left.step)
			break;
	}
	/* right axis: ticks and labels */
	rawf(p, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\"/>", CH_X1, CH_Y0,
	     CH_X1, CH_Y1, fee_c);
	for (int64_t t = right.lo; t <= right.hi; t += right.step) {
		int64_t y = axis_y(&right, t);

		axis_label(&right, t, label);
		rawf(p,
		     "<line x1=\"%d\" y1=\"%" PRId64 "\" x2=\"%d\" y2=\"%" PRId64
		     "\" stroke=\"%s\"/>"
		     "<text x=\"%d\" y=\"%" PRId64 "\" class=\"t-fee\">%s</text>",
		     CH_X1, y, CH_X1 + 5, y, fee_c, CH_X1 + 8, y + 4, label);
		if (t > INT64_MAX - right.step)
			break;
	}
	rawf(p, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">yuan</text>", CH_X0 - 6, CH_Y0 - 12);
	rawf(p, "<text x=\"%d\" y=\"%d\" class=\"t-fee\">fees, yuan</text>", CH_X1 + 8, CH_Y0 - 12);

	/* bars: payments and refunds side by side in the middle of each day */
	for (size_t i = 0; i < n; i++) {
		const struct report_day *d = &rep->days[i];
		int64_t x0 = slot_x(i, n), w = slot_x(i + 1, n) - x0;
		int64_t bw = w * 3 / 8 > 0 ? w * 3 / 8 : 1;
		int64_t bx = x0 + (w - 2 * bw) / 2;
		int64_t y0 = axis_y(&left, 0);
		const int64_t vals[2] = { d->pay_fen, d->refund_fen };
		const char *colors[2] = { pay_c, ref_c };

		raw(p, "<g>");
		chart_tooltip(p, d);
		for (int k = 0; k < 2; k++) {
			int64_t y = axis_y(&left, vals[k]);
			int64_t top = y < y0 ? y : y0, h = y < y0 ? y0 - y : y - y0;

			if (vals[k] != 0 && h == 0)
				h = 1; /* a small amount stays visible */
			rawf(p,
			     "<rect x=\"%" PRId64 "\" y=\"%" PRId64 "\" width=\"%" PRId64
			     "\" height=\"%" PRId64 "\" fill=\"%s\"/>",
			     bx + k * bw, top, bw, h, colors[k]);
		}
		raw(p, "</g>");
	}

	/* fees: a line through the middle of each day, broken where no bill was fetched */
	for (size_t i = 0; i < n; i++) {
		int64_t x = (slot_x(i, n) + slot_x(i + 1, n)) / 2;
		bool have = rep->days[i].bill != REPORT_BILL_MISSING;
		bool prev = i > 0 && rep->days[i - 1].bill != REPORT_BILL_MISSING;

		if (have && !prev)
			rawf(p,
			     "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
			     fee_c);
		if (have)
			rawf(p, "%s%" PRId64 ",%" PRId64, prev ? " " : "", x,
			     axis_y(&right, rep->days[i].fees_e5));
		if (have && (i + 1 == n || rep->days[i + 1].bill == REPORT_BILL_MISSING))
			raw(p, "\"/>");
	}
	for (size_t i = 0; n <= 62 && i < n; i++) {
		int64_t x = (slot_x(i, n) + slot_x(i + 1, n)) / 2;

		if (rep->days[i].bill == REPORT_BILL_MISSING)
			continue;
		rawf(p, "<circle cx=\"%" PRId64 "\" cy=\"%" PRId64 "\" r=\"3\" fill=\"%s\"/>", x,
		     axis_y(&right, rep->days[i].fees_e5), fee_c);
	}

	/* x axis: MM-DD under every day, or every few days */
	every = (n + 15) / 16;
	for (size_t i = 0; i < n; i += every) {
		int64_t x = (slot_x(i, n) + slot_x(i + 1, n)) / 2;

		rawf(p,
		     "<line x1=\"%" PRId64 "\" y1=\"%d\" x2=\"%" PRId64
		     "\" y2=\"%d\" stroke=\"#4a5568\"/>"
		     "<text x=\"%" PRId64 "\" y=\"%d\" text-anchor=\"middle\">%.5s</text>",
		     x, CH_Y1, x, CH_Y1 + 4, x, CH_Y1 + 18, rep->days[i].date + 5);
	}
	rawf(p, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#4a5568\"/>", CH_X0, CH_Y1,
	     CH_X1, CH_Y1);
	rawf(p, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">date (%s to %s)</text>",
	     (CH_X0 + CH_X1) / 2, CH_Y1 + 44, rep->from, rep->to);
	raw(p, "</svg></div>\n");
}

/* ---- the tables ---- */

static void card(struct page *p, const char *key, int64_t v, int scale, const char *extra)
{
	raw(p, "<div class=\"card\"><div class=\"k\">");
	raw(p, key);
	raw(p, "</div><div class=\"v\">");
	if (scale < 0)
		rawf(p, "%" PRId64, v);
	else
		money(p, v, scale);
	raw(p, "</div>");
	if (extra)
		rawf(p, "<div class=\"k\">%s</div>", extra);
	raw(p, "</div>");
}

static void day_cells(struct page *p, const struct report_day *d)
{
	td_int(p, d->pay_count);
	td_money(p, d->pay_fen, 2);
	td_int(p, d->refund_count);
	td_money(p, d->refund_fen, 2);
	td_money(p, report_fee_to_fen(d->fees_e5), 2); /* exact value: JSON, CSV */
	td_money(p, d->net_fen, 2);
	td_int(p, d->disc.open);
	td_int(p, d->disc.resolved);
	td_int(p, d->disc.auto_resolved);
}

static void days_table(struct page *p, const struct report *rep)
{
	raw(p,
	    "<table><thead><tr><th rowspan=\"2\">Date</th><th rowspan=\"2\">Bill</th>"
	    "<th class=\"g\" colspan=\"2\">Payments</th><th class=\"g\" colspan=\"2\">Refunds</th>"
	    "<th class=\"n\" rowspan=\"2\">Fees<br>(yuan)</th>"
	    "<th class=\"n\" rowspan=\"2\">Net<br>(yuan)</th>"
	    "<th class=\"g\" colspan=\"3\">Discrepancies</th></tr>"
	    "<tr><th class=\"n\">count</th><th class=\"n\">yuan</th><th class=\"n\">count</th>"
	    "<th class=\"n\">yuan</th><th class=\"n\">open</th><th class=\"n\">resolved</th>"
	    "<th class=\"n\">auto</th></tr></thead>"
	    "<tbody>\n");
	for (size_t i = 0; i < rep->ndays; i++) {
		const struct report_day *d = &rep->days[i];
		const char *bill = report_bill_name(d->bill);

		rawf(p, "<tr><td class=\"d\">%s</td><td class=\"b-%s\">%s</td>", d->date, bill,
		     bill);
		day_cells(p, d);
		raw(p, "</tr>\n");
	}
	raw(p, "<tr class=\"total\"><td>Total</td><td></td>");
	day_cells(p, &rep->total);
	raw(p, "</tr>\n</tbody></table>\n");
}

static void kinds_table(struct page *p, const struct report *rep)
{
	struct report_counts t = { 0, 0, 0 };

	if (rep->nkinds == 0) {
		raw(p, "<p class=\"none\">No discrepancies in this range.</p>\n");
		return;
	}
	raw(p, "<table><thead><tr><th>Kind</th><th class=\"n\">Open</th>"
	       "<th class=\"n\">Resolved</th><th class=\"n\">Auto-resolved</th>"
	       "<th class=\"n\">Total</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < rep->nkinds; i++) {
		const struct report_kind *k = &rep->kinds[i];

		raw(p, "<tr>");
		td_kind(p, k->kind);
		td_int(p, k->c.open);
		td_int(p, k->c.resolved);
		td_int(p, k->c.auto_resolved);
		td_int(p, k->c.open + k->c.resolved + k->c.auto_resolved);
		raw(p, "</tr>\n");
		t.open += k->c.open;
		t.resolved += k->c.resolved;
		t.auto_resolved += k->c.auto_resolved;
	}
	raw(p, "<tr class=\"total\"><td>Total</td>");
	td_int(p, t.open);
	td_int(p, t.resolved);
	td_int(p, t.auto_resolved);
	td_int(p, t.open + t.resolved + t.auto_resolved);
	raw(p, "</tr>\n</tbody></table>\n");
}

/* Amount and state of one side of a discrepancy, in one cell. */
static void td_side(struct page *p, bool has, int64_t amount, const char *state)
{
	raw(p, "<td class=\"n\">");
	if (has)
		money(p, amount, 2);
	if (state && state[0]) {
		raw(p, has ? "<br>" : "");
		esc(p, state);
	}
	raw(p, "</td>");
}

static void key_line(struct page *p, const char *label, const char *v, bool *first)
{
	if (!v || !v[0])
		return;
	if (!*first)
		raw(p, "<br>");
	*first = false;
	rawf(p, "%s ", label);
	id_span(p, v);
}

/* Severity, due date (OVERDUE past it) and owner of an open one. */
static void queue_lines(struct page *p, const struct report_disc *d)
{
	const char *sev = exc_severity_name(d->a.severity);

	rawf(p, "<br><span class=\"sev-%s\">%s</span>", sev, sev);
	if (d->a.has_due) {
		rawf(p, "<br><span class=\"d\">due %s</span>", d->a.due_date);
		if (d->a.overdue)
			raw(p, "<br><span class=\"overdue\">OVERDUE</span>");
	}
	if (d->assignee) {
		raw(p, "<br>owner ");
		esc(p, d->assignee);
	}
}

static void td_aging(struct page *p, const struct report_aging_cell *c, bool overdue)
{
	raw(p, overdue && c->count ? "<td class=\"n overdue\">" : "<td class=\"n\">");
	rawf(p, "%lld", (long long)c->count);
	if (c->count) {
		raw(p, "<br>");
		money(p, c->amount, 2);
	}
	raw(p, "</td>");
}

static void aging_row(struct page *p, const char *age, const struct report_aging_row *a, bool total)
{
	raw(p, total ? "<tr class=\"total\"><td>" : "<tr><td>");
	esc(p, age);
	raw(p, "</td>");
	for (int s = 0; s < EXC_SEVERITY_COUNT; s++)
		td_aging(p, &a->sev[s], false);
	td_aging(p, &a->total, false);
	td_aging(p, &a->overdue, true);
	raw(p, "</tr>\n");
}

static void aging_table(struct page *p, const struct report *rep)
{
	if (rep->aging_total.total.count == 0) {
		raw(p, "<p class=\"none\">No open discrepancies in this range.</p>\n");
		return;
	}
	raw(p, "<table><thead><tr><th>Age</th><th class=\"n\">Low</th><th class=\"n\">Medium"
	       "</th><th class=\"n\">High</th><th class=\"n\">Critical</th>"
	       "<th class=\"n\">Open</th><th class=\"n\">Overdue</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < REPORT_AGING_BUCKETS; i++)
		aging_row(p, report_aging_buckets[i], &rep->aging[i], false);
	aging_row(p, "Total", &rep->aging_total, true);
	raw(p, "</tbody></table>\n");
	raw(p, "<p class=\"sub\">Open discrepancies by age since first found, as of ");
	esc(p, rep->as_of);
	raw(p, " (the end of the range), and severity: count, then yuan at stake. Overdue: past"
	       " WeChat Pay&rsquo;s deadline (a refund within 365 days of the payment; a bill"
	       " within its three-month download window).</p>\n");
}

struct html_each {
	const struct report *rep;
	struct page *p;
};

static int disc_tr(void *arg, const struct report_disc *d, struct wxr_err *err)
{
	struct html_each *he = arg;
	struct page *p = he->p;
	bool first = true;

	raw(p, d->queued && d->a.overdue ? "<tr class=\"overdue\">" : "<tr>");
	td_int(p, d->id);
	td_date(p, d->date);
	td_kind(p, d->kind);
	raw(p, "<td class=\"s-");
	esc(p, d->status);
	raw(p, "\">");
	esc_wbr(p, d->status);
	if (d->queued)
		queue_lines(p, d);
	raw(p, "</td><td class=\"mono\">");
	key_line(p, "order", d->out_trade_no, &first);
	key_line(p, "refund", d->out_refund_no, &first);
	key_line(p, "txn", d->transaction_id, &first);
	raw(p, "</td>");
	td_side(p, d->has_ledger_amount, d->ledger_amount, d->ledger_state);
	td_side(p, d->has_bill_amount, d->bill_amount, d->bill_state);
	raw(p, "<td>");
	esc(p, d->description);
	if (d->description && d->detail)
		raw(p, "<br>");
	esc(p, d->detail);
	raw(p, "</td><td>");
	esc(p, d->resolution);
	if (d->resolved_by) {
		raw(p, d->resolution ? "<br>" : "");
		raw(p, "by ");
		esc(p, d->resolved_by);
	}
	raw(p, "</td></tr>\n");
	if (p->r)
		return err_set(err, WXR_ETOOBIG, "the HTML report is larger than %zu bytes",
		               p->b->max);
	return report_flush(he->rep, p->b, false, err);
}

static int discs_table(struct page *p, const struct report *rep, struct wxr_err *err)
{
	struct html_each he = { rep, p };
	int r;

	if (rep->ndiscs == 0) {
		raw(p, "<p class=\"none\">None.</p>\n");
		return 0;
	}
	raw(p, "<table><thead><tr><th class=\"n\">ID</th><th>Date</th><th>Kind</th>"
	       "<th>Status</th><th>Order / refund / transaction</th>"
	       "<th class=\"n\">Ledger</th><th class=\"n\">Bill</th><th>Goods / detail</th>"
	       "<th>Resolution</th></tr></thead><tbody>\n");
	r = report_each_disc(rep, disc_tr, &he, err);
	raw(p, "</tbody></table>\n");
	return r;
}

static void actions_table(struct page *p, const struct report *rep)
{
	if (rep->nactions == 0) {
		raw(p, "<p class=\"none\">None.</p>\n");
		return;
	}
	raw(p, "<table><thead><tr><th class=\"n\">ID</th><th>Kind</th><th>Target</th>"
	       "<th>State</th><th class=\"n\">Amount (yuan)</th><th>Date</th><th>Result</th>"
	       "<th class=\"n\">Run</th><th>At</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < rep->nactions; i++) {
		const struct report_action *a = &rep->actions[i];

		raw(p, "<tr>");
		td_int(p, a->id);
		td_kind(p, a->kind);
		td_mono(p, a->target);
		td_kind(p, a->state);
		raw(p, "<td class=\"n\">");
		if (a->has_amount)
			money(p, a->amount, 2);
		raw(p, "</td>");
		td_date(p, a->date);
		raw(p, "<td>");
		esc(p, a->result);
		if (a->error) {
			raw(p, a->result ? "<br>" : "");
			raw(p, "<span class=\"neg\">");
			esc(p, a->error);
			raw(p, "</span>");
		}
		raw(p, "</td>");
		if (a->has_run_id)
			td_int(p, a->run_id);
		else
			raw(p, "<td></td>");
		td_text(p, a->at);
		raw(p, "</tr>\n");
	}
	raw(p, "</tbody></table>\n");
}

static void stamp(struct page *p, const struct report *rep)
{
	raw(p, "<footer><h2>Made from</h2><dl><dt>wxrecon</dt><dd>" WXR_VERSION "</dd>"
	       "<dt>Policy hash</dt><dd class=\"mono\">");
	esc(p, rep->policy_hash);
	raw(p, "</dd><dt>Timezone</dt><dd>");
	esc(p, rep->timezone);
	raw(p, "</dd>");
	if (rep->mchid[0]) {
		raw(p, "<dt>Merchant</dt><dd>");
		esc(p, rep->mchid);
		raw(p, "</dd>");
	}
	raw(p, "<dt>Runs</dt><dd>");
	for (size_t i = 0; i < rep->nruns; i++)
		rawf(p, "%s%" PRId64, i ? ", " : "", rep->runs[i]);
	if (rep->nruns == 0)
		raw(p, "none");
	rawf(p, "</dd><dt>Audit log</dt><dd>%" PRId64 " entries, head <span class=\"mono\">",
	     rep->audit_entries);
	esc(p, rep->audit_head);
	raw(p, "</span></dd></dl>\n");
	if (rep->nbills == 0) {
		raw(p, "<p class=\"none\">No bill of this range was fetched.</p>\n");
	} else {
		raw(p, "<table><thead><tr><th>Bill date</th><th>Kind</th><th>Status</th>"
		       "<th>SHA1</th></tr></thead><tbody>\n");
		for (size_t i = 0; i < rep->nbills; i++) {
			const struct report_bill_file *bf = &rep->bills[i];

			raw(p, "<tr>");
			td_date(p, bf->date);
			td_text(p, bf->kind);
			td_text(p, bf->status);
			td_mono(p, bf->sha1);
			raw(p, "</tr>\n");
		}
		raw(p, "</tbody></table>\n");
	}
	raw(p, "<p>The same database and the same options give this page byte for byte;"
	       " it shows no time of its own.</p></footer>\n");
}

int report_render_html(const struct report *rep, struct buf *out, struct wxr_err *err)
{
	struct page pg = { out, 0 };
	struct page *p = &pg;
	char days[64];

	raw(p, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
	rawf(p, "<title>wxrecon report %s to %s</title>\n<style>%s</style></head><body>\n",
	     rep->from, rep->to, css);
	raw(p, "<header><h1>WeChat Pay reconciliation report</h1><p class=\"sub\">");
	snprintf(days, sizeof(days), "%zu day%s", rep->ndays, rep->ndays == 1 ? "" : "s");
	rawf(p, "%s to %s (%s", rep->from, rep->to, days);
	if (rep->timezone) {
		raw(p, ", ");
		esc(p, rep->timezone);
	}
	if (rep->mchid[0]) {
		raw(p, ", merchant ");
		esc(p, rep->mchid);
	}
	raw(p, ")</p></header>\n");

	raw(p, "<div class=\"cards\">");
	card(p, "Payments (yuan)", rep->total.pay_fen, 2, NULL);
	card(p, "Refunds (yuan)", rep->total.refund_fen, 2, NULL);
	card(p, "Fees (yuan)", report_fee_to_fen(rep->total.fees_e5), 2, NULL);
	card(p, "Net (yuan)", rep->total.net_fen, 2, NULL);
	card(p, "Open discrepancies", rep->total.disc.open, -1, NULL);
	card(p, "Actions", (int64_t)rep->nactions, -1, NULL);
	raw(p, "</div>\n");
	if (rep->aging_total.overdue.count)
		rawf(p,
		     "<p class=\"warn\"><strong class=\"overdue\">%lld open discrepanc%s "
		     "overdue</strong> (past a WeChat Pay deadline, as of %s): see the aging "
		     "table and the rows marked OVERDUE.</p>\n",
		     (long long)rep->aging_total.overdue.count,
		     rep->aging_total.overdue.count == 1 ? "y is" : "ies are", rep->as_of);
	if (rep->nmissing) {
		size_t k = 0;

		raw(p, "<p class=\"warn\"><strong>Bills never fetched:</strong> ");
		for (size_t i = 0; i < rep->ndays; i++) {
			if (rep->days[i].bill != REPORT_BILL_MISSING)
				continue;
			rawf(p, "%s%s", k++ ? ", " : "", rep->days[i].date);
		}
		raw(p, ". Their totals are zero here until the bill is fetched.</p>\n");
	}

	raw(p, "<section><h2>Daily totals</h2>\n");
	chart(p, rep);
	days_table(p, rep);
	raw(p,
	    "<p class=\"sub\">Payments: 应结订单金额 of SUCCESS rows. Refunds: 退款金额 of REFUND"
	    " rows. Fees: 手续费 of every row (refund rows reduce it). Net: payments &minus;"
	    " refunds &minus; fees rounded to the fen.</p></section>\n");
	raw(p, "<section><h2>Discrepancies by kind and status</h2>\n");
	kinds_table(p, rep);
	raw(p, "</section>\n<section><h2>Aging of open discrepancies</h2>\n");
	aging_table(p, rep);
	raw(p, "</section>\n<section><h2>Discrepancies</h2>\n");
	if (discs_table(p, rep, err) < 0)
		return err->code < 0 ? err->code : WXR_EFAIL;
	raw(p, "</section>\n<section><h2>Actions</h2>\n");
	actions_table(p, rep);
	raw(p, "</section>\n");
	stamp(p, rep);
	raw(p, "</body></html>\n");
	if (pg.r)
		return err_set(err, WXR_ETOOBIG, "the HTML report is larger than %zu bytes",
		               out->max);
	return 0;
}

/* ---- the reports directory's index ---- */

static const char *const index_suffix[4] = { ".html", ".xlsx", ".json", "-csv" };

int report_index_parse(const char *name, struct report_index_row *row)
{
	/* JOB_YYYY-MM-DD_YYYY-MM-DD then a suffix */
	size_t n = strlen(name), dates = 2 * (CLOCK_DATE_LEN - 1) + 2;

	for (int slot = 0; slot < 4; slot++) {
		size_t m = strlen(index_suffix[slot]), job;
		const char *d;

		if (n <= m + dates || strcmp(name + n - m, index_suffix[slot]) != 0)
			continue;
		job = n - m - dates;
		d = name + job;
		if (job >= sizeof(row->job) || n >= sizeof(row->files[0]) || d[0] != '_' ||
		    d[CLOCK_DATE_LEN] != '_')
			return -1;
		memcpy(row->job, name, job);
		row->job[job] = '\0';
		memcpy(row->from, d + 1, CLOCK_DATE_LEN - 1);
		row->from[CLOCK_DATE_LEN - 1] = '\0';
		memcpy(row->to, d + CLOCK_DATE_LEN + 1, CLOCK_DATE_LEN - 1);
		row->to[CLOCK_DATE_LEN - 1] = '\0';
		if (!date_is_valid(row->from) || !date_is_valid(row->to))
			return -1;
		return slot;
	}
	return -1;
}

int report_render_index(const struct report_index_row *rows, size_t n, struct buf *out,
                        struct wxr_err *err)
{
	static const char *const label[4] = { "HTML", "xlsx", "JSON", "CSV" };
	struct page pg = { out, 0 };
	struct page *p = &pg;

	raw(p, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	       "<title>wxrecon reports</title>\n");
	rawf(p, "<style>%s</style></head><body>\n<header><h1>wxrecon reports</h1></header>\n", css);
	if (n == 0)
		raw(p, "<p class=\"none\">None.</p>\n");
	else
		raw(p, "<table><thead><tr><th>Job</th><th>From</th><th>To</th><th>Files</th>"
		       "<th class=\"n\">Run</th><th>Run state</th><th class=\"n\">Open "
		       "discrepancies</th>"
		       "<th class=\"n\">Bills never fetched</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < n; i++) {
		const struct report_index_row *r = &rows[i];
		const char *sep = "";

		raw(p, "<tr><td class=\"mono\">");
		id_span(p, r->job);
		raw(p, "</td>");
		td_date(p, r->from);
		td_date(p, r->to);
		raw(p, "<td>");
		for (int k = 0; k < 4; k++) {
			if (!r->files[k][0])
				continue;
			rawf(p, "%s<a href=\"", sep);
			esc(p, r->files[k]);
			rawf(p, "%s\">%s</a>", k == 3 ? "/" : "", label[k]);
			sep = " ";
		}
		raw(p, "</td>");
		if (r->run_id)
			td_int(p, r->run_id);
		else
			raw(p, "<td class=\"n\">&ndash;</td>");
		rawf(p, "<td class=\"s-%s\">", strcmp(r->state, "ok") == 0 ? "ok" : "open");
		esc(p, r->state[0] ? r->state : "no run");
		raw(p, "</td>");
		td_int(p, r->open);
		td_int(p, r->missing);
		raw(p, "</tr>\n");
	}
	if (n)
		raw(p, "</tbody></table>\n");
	raw(p, "<footer>Written by wxrecon " WXR_VERSION " with each report; the run state is the "
	       "one recorded when the report was written.</footer></body></html>\n");
	if (pg.r)
		return err_set(err, WXR_ETOOBIG, "the reports index is larger than %zu bytes",
		               out->max);
	return 0;
}

static int cmp_index_row(const void *x, const void *y)
{
	const struct report_index_row *a = x, *b = y;
	int c = strcmp(b->to, a->to); /* the newest first */

	if (!c)
		c = strcmp(b->from, a->from);
	return c ? c : strcmp(a->job, b->job);
}

int report_index_load(struct db *db, const char *dir, const char *mchid,
                      struct report_index_row **out_rows, size_t *out_n, struct wxr_err *err)
{
	struct report_index_row *rows = NULL, row;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir(dir);
	int r = 0;

	if (!d)
		return err_set(err, WXR_EIO, "cannot read '%s': %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		int slot = report_index_parse(de->d_name, &row);
		size_t i;

		if (slot < 0)
			continue;
		for (i = 0; i < n; i++) {
			if (!strcmp(rows[i].job, row.job) && !strcmp(rows[i].from, row.from) &&
			    !strcmp(rows[i].to, row.to))
				break;
		}
		if (i == n) {
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				rows = xreallocarray(rows, cap, sizeof(*rows));
			}
			memset(&rows[n], 0, sizeof(rows[n]));
			snprintf(rows[n].job, sizeof(rows[n].job), "%s", row.job);
			memcpy(rows[n].from, row.from, sizeof(row.from));
			memcpy(rows[n].to, row.to, sizeof(row.to));
			n++;
		}
		snprintf(rows[i].files[slot], sizeof(rows[i].files[slot]), "%s", de->d_name);
	}
	closedir(d);
	if (n)
		qsort(rows, n, sizeof(*rows), cmp_index_row);
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = db_report_index_row(db, &rows[i], mchid, err);
	*out_rows = rows;
	*out_n = n;
	return r;
}
