/*
 * billparse.h - push parser for WeChat Pay trade and fund-flow bills
 * (PROTOCOL 6).
 *
 * Bytes go in with billparse_feed() in any chunking (down to one byte at a
 * time); detail rows come out through callbacks as typed structs. Memory is
 * bounded by the line cap whatever the size of the bill.
 *
 * Physical format: optional UTF-8 BOM, CRLF or LF line ends, a detail header
 * line, detail lines whose values all start with a backtick, a summary header
 * line and one summary values line. Fields are split with libcsv with quoting
 * off; a field that does not start with a backtick is folded back (with its
 * comma) into the value before it, which is how a goods name or attach with a
 * comma survives. A double quote is an ordinary character.
 *
 * Columns are mapped by header name, never by position. Layouts recognised:
 * trade ALL (27 columns), SUCCESS (20), REFUND (29), the legacy trade layout
 * (总金额 instead of 应结订单金额, no 订单金额/申请退款金额/费率备注; ALL = 24
 * columns) and the fund-flow bill (11). Unknown extra columns are ignored; a
 * missing required column refuses the whole bill.
 *
 * A malformed detail line (wrong field count after folding, bad amount or
 * time, unknown 交易状态/收支类型, no leading backtick, invalid UTF-8, NUL
 * byte, longer than the line cap) goes to the reject callback with its line
 * number, raw text and reason, and parsing goes on. Errors of the bill as a
 * whole (no or unknown header, missing column, bad summary, data after the
 * summary, no summary at all) make feed/finish fail.
 *
 * Line numbers are 1-based physical lines (the header is line 1).
 */
#ifndef WXR_BILLPARSE_H
#define WXR_BILLPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "db/bill_rows.h"
#include "wxrecon.h"

#define BILLPARSE_MAX_LINE   (64 * 1024) /* default line cap in bytes */
#define BILLPARSE_REJECT     1           /* row callback: refuse this row */
#define BILLPARSE_TIME_LEN   26          /* "2019-02-19T05:01:46+08:00" + NUL */
#define BILLPARSE_REASON_MAX 256

/*
 * Callbacks; ctx is passed back. header and reject may be NULL.
 * trade/fundflow: return 0 to accept the row, BILLPARSE_REJECT after writing
 * a reason into reason[reason_size] to refuse it (it then goes to reject and
 * is left out of the sums), or a negative error to stop parsing.
 * The callback for the other kind may be NULL.
 */
struct billparse_cb {
	void *ctx;
	int (*header)(void *ctx, enum bill_kind kind, enum bill_layout layout, struct wxr_err *err);
	int (*trade)(void *ctx, int64_t line, const struct bill_trade *row, char *reason,
	             size_t reason_size, struct wxr_err *err);
	int (*fundflow)(void *ctx, int64_t line, const struct bill_fundflow *row, char *reason,
	                size_t reason_size, struct wxr_err *err);
	/* raw: the line without its line end (at most the line cap), not
	 * NUL-terminated, may hold any bytes. */
	int (*reject)(void *ctx, int64_t line, const char *raw, size_t raw_len, const char *reason,
	              struct wxr_err *err);
};

struct billparse;

/* max_line: line cap in bytes (0 = BILLPARSE_MAX_LINE). cb is copied. */
int billparse_new(const struct billparse_cb *cb, size_t max_line, struct billparse **out_p,
                  struct wxr_err *err);
/* Pushes n bytes. Returns 0, or a negative error for the bill as a whole
 * (message "line N: ..."); after an error the parser can only be freed. */
int billparse_feed(struct billparse *p, const void *data, size_t n, struct wxr_err *err);
/* Ends the input (a last line without a line end is processed), checks that
 * the summary was seen and compares it with the rows. */
int billparse_finish(struct billparse *p, struct billparse_result *out, struct wxr_err *err);
/* NULL-safe; returns NULL. */
struct billparse *billparse_free(struct billparse *p);

/* The summary column name of one BILL_T_* bit in a bill of that kind
 * (current names, e.g. "手续费总金额"); "" for a bit the kind lacks. */
const char *billparse_total_name(enum bill_kind kind, unsigned bit);
/* Describes the disagreeing totals: "总交易单数: summary 45, rows 44; ..."
 * ("" when none). Always NUL-terminates when size > 0. */
void billparse_mismatch_text(const struct billparse_result *res, char *out, size_t size);

#endif
