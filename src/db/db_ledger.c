#include "db/db_ledger.h"

#include <csv.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "db/audit.h"

#define MAX_FIELDS    16
#define MAX_FIELD_LEN 4096
#define MAX_LINE_LEN  (64 * 1024)

static const char *const order_cols[] = {
	"out_trade_no", "transaction_id", "amount_total", "currency",     "state", "created_at",
	"time_expire",  "paid_at",        "attach",       "business_ref", NULL
};
static const char *const refund_cols[] = { "out_refund_no", "out_trade_no",
	                                   "refund_id",     "amount_refund",
	                                   "state",         "created_at",
	                                   "success_at",    NULL };

enum {
	OC_OTN,
	OC_TXN,
	OC_AMOUNT,
	OC_CURRENCY,
	OC_STATE,
	OC_CREATED,
	OC_EXPIRE,
	OC_PAID,
	OC_ATTACH,
	OC_BREF
};
enum { RC_ORN, RC_OTN, RC_RID, RC_AMOUNT, RC_STATE, RC_CREATED, RC_SUCCESS };

struct importer {
	struct db *db;
	const char *name;
	enum ledger_kind kind;
	const char *mchid;
	int tz;
	int64_t run_id;
	const char *const *cols;
	int ncols;
	int map[MAX_FIELDS]; /* field index -> column index */
	struct buf fields[MAX_FIELDS];
	int nfields;
	bool too_many;
	bool header_done;
	long line;           /* physical line being fed */
	long rec_line;       /* line of the current record */
	struct db_stmt *ins; /* insert a new key, nothing on a conflict: no read per new row */
	struct db_stmt *sel; /* an existing key only: its stored row, compared */
	struct db_stmt *ups;
	struct db_stmt *seen_sel; /* the keys of this file so far, in ledger_import_keys */
	struct db_stmt *seen_ins;
	/* A server store (PostgreSQL): the rows go by COPY into a temporary stage and are
	 * merged by a few statements at the end (stage_merge), not two round trips a row. */
	struct db_bulk *stage;
	bool staged; /* the stage is this import's path (ins and the seen_* unused) */
	struct ledger_import_result res;
	int rc; /* first error */
	struct wxr_err *err;
	char now[CLOCK_RFC3339_LEN]; /* updated_at of every row, formatted once */
	const struct ledger_progress *progress;
	int64_t bytes; /* read so far */
};

static void on_field(void *p, size_t n, void *data)
{
	struct importer *im = data;

	if (im->rc < 0)
		return;
	if (im->nfields == 0)
		im->rec_line = im->line;
	if (im->nfields >= MAX_FIELDS) {
		im->too_many = true;
		return;
	}
	buf_reset(&im->fields[im->nfields]);
	if (buf_add(&im->fields[im->nfields], p, n) < 0) {
		im->rc = err_set(im->err, WXR_EDATA, "%s:%ld: field %d is longer than %d bytes",
		                 im->name, im->line, im->nfields + 1, MAX_FIELD_LEN);
		return;
	}
	im->nfields++;
}

static const char *field(struct importer *im, int col)
{
	for (int i = 0; i < im->nfields; i++) {
		if (im->map[i] == col)
			return buf_str(&im->fields[i]);
	}
	return "";
}

static int header(struct importer *im)
{
	bool seen[MAX_FIELDS] = { false };

	for (int i = 0; i < im->nfields; i++) {
		const char *h = buf_str(&im->fields[i]);
		int c;

		for (c = 0; im->cols[c]; c++) {
			if (strcmp(im->cols[c], h) == 0)
				break;
		}
		if (!im->cols[c])
			return err_set(im->err, WXR_EDATA, "%s:%ld: unknown column '%s'", im->name,
			               im->rec_line, h);
		if (seen[c])
			return err_set(im->err, WXR_EDATA, "%s:%ld: column '%s' appears twice",
			               im->name, im->rec_line, h);
		seen[c] = true;
		im->map[i] = c;
	}
	for (int c = 0; im->cols[c]; c++) {
		if (!seen[c])
			return err_set(im->err, WXR_EDATA, "%s:%ld: missing column '%s'", im->name,
			               im->rec_line, im->cols[c]);
	}
	return 0;
}

static bool id_ok(const char *s, size_t min, size_t max, const char *extra)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
			return false;
	}
	return true;
}

static int parse_fen(struct importer *im, const char *col, const char *v, int64_t *out)
{
	int64_t n = 0;
	size_t len = strlen(v);

	if (len == 0 || len > 13)
		goto bad;
	for (const char *p = v; *p; p++) {
		if (!isdigit((unsigned char)*p))
			goto bad;
		n = n * 10 + (*p - '0');
	}
	*out = n;
	return 0;
bad:
	return err_set(im->err, WXR_EDATA,
	               "%s:%ld: bad %s '%s' (want a whole number of fen, e.g. 2500 for 25.00 yuan)",
	               im->name, im->rec_line, col, v);
}

/* Parses an optional time column; empty leaves *present false. */
static int parse_time(struct importer *im, const char *col, const char *v, bool required,
                      int64_t *out_ts, bool *present)
{
	struct wxr_err sub = WXR_ERR_INIT;

	*present = false;
	if (!*v) {
		if (required)
			return err_set(im->err, WXR_EDATA, "%s:%ld: %s is empty", im->name,
			               im->rec_line, col);
		return 0;
	}
	if (time_parse_rfc3339(v, out_ts, &sub) < 0)
		return err_set(im->err, WXR_EDATA, "%s:%ld: %s: %s", im->name, im->rec_line, col,
		               sub.msg);
	*present = true;
	return 0;
}

static bool in_set(const char *v, const char *const *set)
{
	for (; *set; set++) {
		if (strcmp(v, *set) == 0)
			return true;
	}
	return false;
}

/* The stored form of a time: RFC 3339 at the configured offset, "" if absent. */
static void norm_time(bool present, int64_t ts, int tz, char out[CLOCK_RFC3339_LEN])
{
	out[0] = '\0';
	if (present)
		time_format_rfc3339(ts, tz, out);
}

static void bind_time(struct db_stmt *st, int i, const char *s, int64_t ts)
{
	if (!*s) {
		db_bind_null(st, i);
		db_bind_null(st, i + 1);
		return;
	}
	db_bind_text(st, i, s);
	db_bind_i64(st, i + 1, ts);
}

static const char *nz(const char *s)
{
	return *s ? s : NULL;
}

/* The stored columns compared on re-import, in the order of sql_sel_order/sql_sel_refund. */
static const char *const order_fields[] = {
	"transaction_id", "amount_total", "currency", "state",        "created_at",
	"time_expire",    "paid_at",      "attach",   "business_ref", NULL
};
static const char *const refund_fields[] = {
	"out_trade_no", "refund_id", "amount_refund", "state", "created_at", "success_at", NULL
};
#define FIELD_STATE  3 /* "state" in both lists */
#define MAX_COMPARED 9

/*
 * A key once per file: a second row with the same key would be merged into the first
 * (NOTPAY 100 then PAID 99999 read as "1 new, 1 updated"), so it refuses the file,
 * naming both lines.
 */
static int key_once(struct importer *im, const char *key)
{
	const char *what = im->kind == LEDGER_ORDERS ? "out_trade_no" : "out_refund_no";
	int r;

	if (im->staged)
		return 0; /* stage_merge looks for a key twice, naming the same two lines */
	/* One statement per row: the insert does nothing on a key already seen. */
	db_reset(im->seen_ins);
	db_bind_text(im->seen_ins, 1, key);
	db_bind_i64(im->seen_ins, 2, im->rec_line);
	if (db_step(im->seen_ins) != DB_DONE)
		return db_error(im->db, im->err, "record the keys of this import");
	if (db_changes(im->db) == 1)
		return 0;
	db_reset(im->seen_sel);
	db_bind_text(im->seen_sel, 1, key);
	r = db_step(im->seen_sel);
	if (r == DB_ROW)
		return err_set(im->err, WXR_EDATA,
		               "%s:%ld: %s '%s' is also on line %lld (a key may appear once in a "
		               "file; keep one of the two rows)",
		               im->name, im->rec_line, what, key,
		               (long long)db_col_i64(im->seen_sel, 0));
	return db_error(im->db, im->err, "read the keys of this import");
}

/*
 * Compares the stored row of key (the insert found it there) with vals (the stored forms of
 * the file's row, in the order of the kind's field list) and counts it as updated or unchanged.
 * A changed row gets one audit entry naming every changed field, old -> new, and a
 * changed state also its <kind>.state entry. *out_skip: nothing to write.
 */
static int compare_row(struct importer *im, const char *key, const char **vals, int64_t amount,
                       bool *out_skip)
{
	char amount_s[24];
	const char *const *names = im->kind == LEDGER_ORDERS ? order_fields : refund_fields;
	const char *noun = im->kind == LEDGER_ORDERS ? "order" : "refund";
	struct buf changes = BUF_INIT;
	char *old_state = NULL;
	char event[32];
	int nchanged = 0;
	int r;

	*out_skip = false;
	/* the amount is the one number compared: its place in vals is left NULL */
	snprintf(amount_s, sizeof(amount_s), "%lld", (long long)amount);
	for (int i = 0; names[i]; i++) {
		if (!vals[i])
			vals[i] = amount_s;
	}
	db_reset(im->sel);
	db_bind_text(im->sel, 1, im->mchid);
	db_bind_text(im->sel, 2, key);
	r = db_step(im->sel);
	if (r != DB_ROW)
		return db_error(im->db, im->err, "read ledger");
	for (int i = 0; names[i]; i++) {
		const char *old = db_col_text(im->sel, i);

		if (strcmp(old, vals[i]) == 0)
			continue;
		buf_adds(&changes, nchanged++ ? "," : "{");
		buf_add_json_str(&changes, names[i]);
		buf_adds(&changes, ":{\"from\":");
		buf_add_json_str(&changes, old);
		buf_adds(&changes, ",\"to\":");
		buf_add_json_str(&changes, vals[i]);
		buf_addc(&changes, '}');
	}
	old_state = xstrdup(db_col_text(im->sel, FIELD_STATE));
	db_reset(im->sel);
	if (nchanged == 0) {
		im->res.unchanged++;
		*out_skip = true;
		r = 0;
		goto out;
	}
	im->res.updated++;
	buf_addc(&changes, '}');
	{
		char *detail = xasprintf("{\"changes\":%s,\"source\":\"ledger import\","
		                         "\"line\":%ld}",
		                         buf_str(&changes), im->rec_line);

		snprintf(event, sizeof(event), "%s.update", noun);
		r = audit_append(im->db, im->run_id, "ledger", event, key, detail, im->err);
		free(detail);
		if (r < 0)
			goto out;
	}
	if (strcmp(old_state, vals[FIELD_STATE]) != 0) {
		char *detail = xasprintf("{\"from\":\"%s\",\"to\":\"%s\",\"source\":\"ledger "
		                         "import\"}",
		                         old_state, vals[FIELD_STATE]);

		snprintf(event, sizeof(event), "%s.state", noun);
		r = audit_append(im->db, im->run_id, "ledger", event, key, detail, im->err);
		free(detail);
	}
out:
	free(old_state);
	buf_release(&changes);
	return r;
}

/* Steps the insert (pass 0) or the update (pass 1) of a row: 1 when the insert stored a
 * new key (the row is done), 0 when the key was there (pass 0) or it was updated. */
static int write_step(struct importer *im, struct db_stmt *st, int pass, const char *what)
{
	if (db_step(st) != DB_DONE)
		return db_error(im->db, im->err, what);
	if (pass == 0 && db_changes(im->db) == 1) {
		im->res.inserted++;
		return 1;
	}
	return 0;
}

/* Adds the row bound on st (the insert's parameters, then its line at parameter i) to the
 * stage. */
static int stage_row(struct importer *im, struct db_stmt *st, int i)
{
	int r;

	db_bind_i64(st, i, im->rec_line);
	r = db_bulk_row(im->stage, im->err);
	db_clear_bindings(st); /* a row's NULLs are not bound: none may stay from this one */
	return r;
}

static int order_row(struct importer *im)
{
	static const char *const states[] = { "NOTPAY",           "PAID", "CLOSED", "REFUNDED",
		                              "PARTIAL_REFUNDED", NULL };
	const char *otn = field(im, OC_OTN), *state = field(im, OC_STATE);
	const char *currency = field(im, OC_CURRENCY);
	int64_t amount, created = 0, expire = 0, paid = 0;
	bool has_created, has_expire, has_paid;
	bool needs_paid;
	char paid_date[CLOCK_DATE_LEN];
	char created_s[CLOCK_RFC3339_LEN], expire_s[CLOCK_RFC3339_LEN], paid_s[CLOCK_RFC3339_LEN];
	int r;

	if (!id_ok(otn, 6, 32, "_-|*"))
		return err_set(im->err, WXR_EDATA,
		               "%s:%ld: bad out_trade_no '%s' (6 to 32 of 0-9 A-Z a-z _ - | *)",
		               im->name, im->rec_line, otn);
	r = key_once(im, otn);
	if (r < 0)
		return r;
	if (*field(im, OC_TXN) && !id_ok(field(im, OC_TXN), 1, 32, ""))
		return err_set(im->err, WXR_EDATA, "%s:%ld: bad transaction_id '%s'", im->name,
		               im->rec_line, field(im, OC_TXN));
	r = parse_fen(im, "amount_total", field(im, OC_AMOUNT), &amount);
	if (r < 0)
		return r;
	if (!*currency)
		currency = "CNY";
	if (strcmp(currency, "CNY") != 0)
		return err_set(im->err, WXR_EDATA, "%s:%ld: currency '%s' (only CNY is supported)",
		               im->name, im->rec_line, currency);
	if (!in_set(state, states))
		return err_set(im->err, WXR_EDATA,
		               "%s:%ld: bad state '%s' (want NOTPAY, PAID, CLOSED, REFUNDED or "
		               "PARTIAL_REFUNDED)",
		               im->name, im->rec_line, state);
	r = parse_time(im, "created_at", field(im, OC_CREATED), true, &created, &has_created);
	if (r < 0)
		return r;
	r = parse_time(im, "time_expire", field(im, OC_EXPIRE), false, &expire, &has_expire);
	if (r < 0)
		return r;
	needs_paid = strcmp(state, "NOTPAY") != 0 && strcmp(state, "CLOSED") != 0;
	r = parse_time(im, "paid_at", field(im, OC_PAID), needs_paid, &paid, &has_paid);
	if (r < 0)
		return r;
	if (!needs_paid && has_paid)
		return err_set(im->err, WXR_EDATA, "%s:%ld: state %s with a paid_at", im->name,
		               im->rec_line, state);
	if (strlen(field(im, OC_ATTACH)) > 128)
		return err_set(im->err, WXR_EDATA, "%s:%ld: attach longer than 128 bytes", im->name,
		               im->rec_line);

	norm_time(has_created, created, im->tz, created_s);
	norm_time(has_expire, expire, im->tz, expire_s);
	norm_time(has_paid, paid, im->tz, paid_s);
	if (has_paid)
		time_date(paid, im->tz, paid_date);
	/* Pass 0 inserts a new key (no read); on a key already stored, pass 1 compares
	 * and, when the row changed, updates it. */
	for (int pass = im->staged ? -1 : 0; pass < 2; pass++) {
		struct db_stmt *st = pass < 0    ? db_bulk_stmt(im->stage)
		                     : pass == 0 ? im->ins
		                                 : im->ups;

		if (pass == 1) {
			const char *vals[MAX_COMPARED] = {
				field(im, OC_TXN), NULL,     currency, state,
				created_s,         expire_s, paid_s,   field(im, OC_ATTACH),
				field(im, OC_BREF)
			};
			bool skip;

			r = compare_row(im, otn, vals, amount, &skip);
			if (r < 0 || skip)
				return r;
		}
		if (pass >= 0) {
			db_reset(st);
			db_clear_bindings(st);
		}
		db_bind_text(st, 1, im->mchid);
		db_bind_text(st, 2, otn);
		db_bind_text(st, 3, nz(field(im, OC_TXN)));
		db_bind_i64(st, 4, amount);
		db_bind_text(st, 5, currency);
		db_bind_text(st, 6, state);
		bind_time(st, 7, created_s, created);
		bind_time(st, 9, expire_s, expire);
		bind_time(st, 11, paid_s, paid);
		if (has_paid)
			db_bind_text(st, 13, paid_date);
		db_bind_text(st, 14, nz(field(im, OC_ATTACH)));
		db_bind_text(st, 15, nz(field(im, OC_BREF)));
		db_bind_text(st, 16, im->now);
		if (pass < 0)
			return stage_row(im, st, 17);
		r = write_step(im, st, pass, "upsert order");
		if (r != 0)
			return r < 0 ? r : 0;
	}
	return 0;
}

static int refund_row(struct importer *im)
{
	static const char *const states[] = { "PROCESSING", "SUCCESS", "CLOSED", "ABNORMAL", NULL };
	const char *orn = field(im, RC_ORN), *otn = field(im, RC_OTN), *state = field(im, RC_STATE);
	int64_t amount, created = 0, success = 0;
	bool has_created, has_success;
	char date[CLOCK_DATE_LEN];
	char created_s[CLOCK_RFC3339_LEN], success_s[CLOCK_RFC3339_LEN];
	int r;

	if (!id_ok(orn, 1, 64, "_-|*@"))
		return err_set(im->err, WXR_EDATA,
		               "%s:%ld: bad out_refund_no '%s' (1 to 64 of 0-9 A-Z a-z _ - | * @)",
		               im->name, im->rec_line, orn);
	r = key_once(im, orn);
	if (r < 0)
		return r;
	if (!id_ok(otn, 6, 32, "_-|*"))
		return err_set(im->err, WXR_EDATA, "%s:%ld: bad out_trade_no '%s'", im->name,
		               im->rec_line, otn);
	if (*field(im, RC_RID) && !id_ok(field(im, RC_RID), 1, 32, ""))
		return err_set(im->err, WXR_EDATA, "%s:%ld: bad refund_id '%s'", im->name,
		               im->rec_line, field(im, RC_RID));
	r = parse_fen(im, "amount_refund", field(im, RC_AMOUNT), &amount);
	if (r < 0)
		return r;
	if (!in_set(state, states))
		return err_set(
		        im->err, WXR_EDATA,
		        "%s:%ld: bad state '%s' (want PROCESSING, SUCCESS, CLOSED or ABNORMAL)",
		        im->name, im->rec_line, state);
	r = parse_time(im, "created_at", field(im, RC_CREATED), true, &created, &has_created);
	if (r < 0)
		return r;
	r = parse_time(im, "success_at", field(im, RC_SUCCESS), strcmp(state, "SUCCESS") == 0,
	               &success, &has_success);
	if (r < 0)
		return r;

	norm_time(has_created, created, im->tz, created_s);
	norm_time(has_success, success, im->tz, success_s);
	time_date(created, im->tz, date);
	/* As for orders: insert a new key, compare and update a stored one. */
	for (int pass = im->staged ? -1 : 0; pass < 2; pass++) {
		struct db_stmt *st = pass < 0    ? db_bulk_stmt(im->stage)
		                     : pass == 0 ? im->ins
		                                 : im->ups;

		if (pass == 1) {
			const char *vals[MAX_COMPARED] = { otn,   field(im, RC_RID), NULL,
				                           state, created_s,         success_s };
			bool skip;

			r = compare_row(im, orn, vals, amount, &skip);
			if (r < 0 || skip)
				return r;
		}
		if (pass >= 0) {
			db_reset(st);
			db_clear_bindings(st);
		}
		db_bind_text(st, 1, im->mchid);
		db_bind_text(st, 2, orn);
		db_bind_text(st, 3, otn);
		db_bind_text(st, 4, nz(field(im, RC_RID)));
		db_bind_i64(st, 5, amount);
		db_bind_text(st, 6, state);
		bind_time(st, 7, created_s, created);
		db_bind_text(st, 9, date);
		bind_time(st, 10, success_s, success);
		db_bind_text(st, 12, im->now);
		if (pass < 0)
			return stage_row(im, st, 13);
		r = write_step(im, st, pass, "upsert refund");
		if (r != 0)
			return r < 0 ? r : 0;
	}
	return 0;
}

static void on_row(int c, void *data)
{
	struct importer *im = data;
	int r;

	(void)c;
	if (im->rc < 0)
		goto done;
	if (im->too_many) {
		im->rc = err_set(im->err, WXR_EDATA, "%s:%ld: more than %d fields", im->name,
		                 im->rec_line, im->ncols);
		goto done;
	}
	if (!im->header_done) {
		im->rc = header(im);
		im->header_done = true;
		goto done;
	}
	if (im->nfields != im->ncols) {
		im->rc = err_set(im->err, WXR_EDATA, "%s:%ld: %d fields, the header has %d",
		                 im->name, im->rec_line, im->nfields, im->ncols);
		goto done;
	}
	im->res.rows++;
	r = im->kind == LEDGER_ORDERS ? order_row(im) : refund_row(im);
	if (r < 0)
		im->rc = r;
done:
	im->nfields = 0;
	im->too_many = false;
}

/* The same inserts as the upserts, doing nothing on a stored key (db_changes() says which). */
#define SQL_INS_ORDER                                                                             \
	"INSERT INTO ledger_orders (mchid, out_trade_no, transaction_id, amount_total, currency," \
	" state, created_at, created_ts, time_expire, expire_ts, paid_at, paid_ts, paid_date,"    \
	" attach, business_ref, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
#define SQL_INS_REFUND                                                                         \
	"INSERT INTO ledger_refunds (mchid, out_refund_no, out_trade_no, refund_id,"           \
	" amount_refund, state, created_at, created_ts, created_date, success_at, success_ts," \
	" updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
static const char *const sql_ins_order =
        SQL_INS_ORDER " ON CONFLICT (mchid, out_trade_no) DO NOTHING";
static const char *const sql_ins_refund =
        SQL_INS_REFUND " ON CONFLICT (mchid, out_refund_no) DO NOTHING";

static const char *const sql_sel_order =
        "SELECT coalesce(transaction_id,''), CAST(amount_total AS TEXT), currency, state,"
        " created_at, coalesce(time_expire,''), coalesce(paid_at,''), coalesce(attach,''),"
        " coalesce(business_ref,'')"
        " FROM ledger_orders WHERE mchid = ? AND out_trade_no = ?";

static const char *const sql_ups_order = SQL_INS_ORDER
        " ON CONFLICT (mchid, out_trade_no) DO UPDATE SET transaction_id = excluded.transaction_id,"
        " amount_total = excluded.amount_total, currency = excluded.currency,"
        " state = excluded.state, created_at = excluded.created_at, created_ts = "
        "excluded.created_ts,"
        " time_expire = excluded.time_expire, expire_ts = excluded.expire_ts,"
        " paid_at = excluded.paid_at, paid_ts = excluded.paid_ts, paid_date = excluded.paid_date,"
        " attach = excluded.attach, business_ref = excluded.business_ref,"
        " updated_at = excluded.updated_at";

static const char *const sql_sel_refund =
        "SELECT out_trade_no, coalesce(refund_id,''), CAST(amount_refund AS TEXT), state,"
        " created_at, coalesce(success_at,'')"
        " FROM ledger_refunds WHERE mchid = ? AND out_refund_no = ?";

/* The keys of the file being imported and their lines (key_once); a temporary table, so
 * memory stays flat however long the file is. Emptied before and after each file; it
 * lives as long as the connection. */
static const char *const sql_keys_create =
        "CREATE TEMP TABLE IF NOT EXISTS ledger_import_keys (k TEXT PRIMARY KEY,"
        " line INTEGER NOT NULL); DELETE FROM ledger_import_keys";
static const char *const sql_keys_sel = "SELECT line FROM ledger_import_keys WHERE k = ?";
static const char *const sql_keys_ins =
        "INSERT INTO ledger_import_keys (k, line) VALUES (?, ?) ON CONFLICT (k) DO NOTHING";
static const char *const sql_keys_empty = "DELETE FROM ledger_import_keys";

static const char *const sql_ups_refund = SQL_INS_REFUND
        " ON CONFLICT (mchid, out_refund_no) DO UPDATE SET out_trade_no = excluded.out_trade_no,"
        " refund_id = excluded.refund_id, amount_refund = excluded.amount_refund,"
        " state = excluded.state, created_at = excluded.created_at, created_ts = "
        "excluded.created_ts,"
        " created_date = excluded.created_date, success_at = excluded.success_at,"
        " success_ts = excluded.success_ts, updated_at = excluded.updated_at";

/* ---- the staged import of a server store ---------------------------------------------
 *
 * On PostgreSQL every statement is a round trip to the server: two a row made a 100,000-row
 * ledger take 23 s (2 s on SQLite). There the rows go by COPY into a temporary table, the
 * stage (the insert's parameters and the line), and a few statements merge it: a key twice
 * in the file is refused naming both lines (as key_once), the keys already stored are marked
 * with whether any compared column differs (the same comparison as compare_row, on the
 * same stored forms), the new keys are inserted by one INSERT ... SELECT, and only the
 * changed rows go one by one, in line order and 512 at a time, through compare_row (their
 * audit entries) and the upsert. One difference: a file with a key twice and a bad row
 * later is refused for the bad row here, for the key on SQLite (both name a line).
 */

struct stage_kind {
	const char *create;     /* the stage (once a connection) and TRUNCATE */
	const char *table;      /* its name, for the COPY */
	const char *cols;       /* the COPY's columns: the insert's parameters 1..n, then line */
	const char *dup;        /* the first line whose key an earlier line has: key, line, first */
	const char *mark;       /* stored and changed, from the ledger */
	const char *insert;     /* the keys not stored */
	const char *counts;     /* stored, changed */
	const char *page;       /* line, then parameters 1..n: changed rows after line ?1 */
	int nparams;            /* the insert's */
	unsigned int ints;      /* bit i: parameter i is an integer */
	int key;                /* the parameter of the key */
	int vals[MAX_COMPARED]; /* the parameter of each compared field; 0: the amount */
	int amount;             /* the parameter of the amount */
};

#define ORDER_STAGE_COLS                                                                  \
	"mchid, out_trade_no, transaction_id, amount_total, currency, state, created_at," \
	" created_ts, time_expire, expire_ts, paid_at, paid_ts, paid_date, attach,"       \
	" business_ref, updated_at"
#define REFUND_STAGE_COLS                                                                  \
	"mchid, out_refund_no, out_trade_no, refund_id, amount_refund, state, created_at," \
	" created_ts, created_date, success_at, success_ts, updated_at"

static const struct stage_kind order_stage = {
	.create = "CREATE TEMP TABLE IF NOT EXISTS ledger_stage_orders ("
	          " line BIGINT PRIMARY KEY, stored BOOLEAN NOT NULL DEFAULT false,"
	          " changed BOOLEAN NOT NULL DEFAULT false, mchid TEXT, out_trade_no TEXT,"
	          " transaction_id TEXT, amount_total BIGINT, currency TEXT, state TEXT,"
	          " created_at TEXT, created_ts BIGINT, time_expire TEXT, expire_ts BIGINT,"
	          " paid_at TEXT, paid_ts BIGINT, paid_date TEXT, attach TEXT,"
	          " business_ref TEXT, updated_at TEXT); TRUNCATE ledger_stage_orders",
	.table = "ledger_stage_orders",
	.cols = ORDER_STAGE_COLS ", line",
	.dup = "SELECT k, line, first FROM (SELECT out_trade_no AS k, line,"
	       " MIN(line) OVER (PARTITION BY out_trade_no) AS first"
	       " FROM ledger_stage_orders) d WHERE line > first ORDER BY line LIMIT 1",
	.mark = "UPDATE ledger_stage_orders s SET stored = true, changed = NOT ("
	        "coalesce(o.transaction_id, '') = coalesce(s.transaction_id, '')"
	        " AND o.amount_total = s.amount_total AND o.currency = s.currency"
	        " AND o.state = s.state AND o.created_at = s.created_at"
	        " AND coalesce(o.time_expire, '') = coalesce(s.time_expire, '')"
	        " AND coalesce(o.paid_at, '') = coalesce(s.paid_at, '')"
	        " AND coalesce(o.attach, '') = coalesce(s.attach, '')"
	        " AND coalesce(o.business_ref, '') = coalesce(s.business_ref, ''))"
	        " FROM ledger_orders o WHERE o.mchid = s.mchid AND o.out_trade_no = s.out_trade_no",
	.insert = "INSERT INTO ledger_orders (" ORDER_STAGE_COLS ") SELECT " ORDER_STAGE_COLS
	          " FROM ledger_stage_orders WHERE NOT stored ORDER BY line",
	.counts = "SELECT count(*) FILTER (WHERE stored), count(*) FILTER (WHERE changed)"
	          " FROM ledger_stage_orders",
	.page = "SELECT line, " ORDER_STAGE_COLS " FROM ledger_stage_orders"
	        " WHERE changed AND line > ?1 ORDER BY line LIMIT 512",
	.nparams = 16,
	.ints = 1u << 4 | 1u << 8 | 1u << 10 | 1u << 12,
	.key = 2,
	.vals = { 3, 0, 5, 6, 7, 9, 11, 14, 15 },
	.amount = 4,
};

static const struct stage_kind refund_stage = {
	.create = "CREATE TEMP TABLE IF NOT EXISTS ledger_stage_refunds ("
	          " line BIGINT PRIMARY KEY, stored BOOLEAN NOT NULL DEFAULT false,"
	          " changed BOOLEAN NOT NULL DEFAULT false, mchid TEXT, out_refund_no TEXT,"
	          " out_trade_no TEXT, refund_id TEXT, amount_refund BIGINT, state TEXT,"
	          " created_at TEXT, created_ts BIGINT, created_date TEXT, success_at TEXT,"
	          " success_ts BIGINT, updated_at TEXT); TRUNCATE ledger_stage_refunds",
	.table = "ledger_stage_refunds",
	.cols = REFUND_STAGE_COLS ", line",
	.dup = "SELECT k, line, first FROM (SELECT out_refund_no AS k, line,"
	       " MIN(line) OVER (PARTITION BY out_refund_no) AS first"
	       " FROM ledger_stage_refunds) d WHERE line > first ORDER BY line LIMIT 1",
	.mark = "UPDATE ledger_stage_refunds s SET stored = true, changed = NOT ("
	        "o.out_trade_no = s.out_trade_no"
	        " AND coalesce(o.refund_id, '') = coalesce(s.refund_id, '')"
	        " AND o.amount_refund = s.amount_refund AND o.state = s.state"
	        " AND o.created_at = s.created_at"
	        " AND coalesce(o.success_at, '') = coalesce(s.success_at, ''))"
	        " FROM ledger_refunds o WHERE o.mchid = s.mchid AND o.out_refund_no = "
	        "s.out_refund_no",
	.insert = "INSERT INTO ledger_refunds (" REFUND_STAGE_COLS ") SELECT " REFUND_STAGE_COLS
	          " FROM ledger_stage_refunds WHERE NOT stored ORDER BY line",
	.counts = "SELECT count(*) FILTER (WHERE stored), count(*) FILTER (WHERE changed)"
	          " FROM ledger_stage_refunds",
	.page = "SELECT line, " REFUND_STAGE_COLS " FROM ledger_stage_refunds"
	        " WHERE changed AND line > ?1 ORDER BY line LIMIT 512",
	.nparams = 12,
	.ints = 1u << 5 | 1u << 8 | 1u << 11,
	.key = 2,
	.vals = { 3, 4, 0, 6, 7, 10, 0, 0, 0 },
	.amount = 5,
};

static const struct stage_kind *stage_of(const struct importer *im)
{
	return im->kind == LEDGER_ORDERS ? &order_stage : &refund_stage;
}

/* A server store: every statement a round trip (db_engine() names it). */
static bool staged(struct db *db)
{
	return strcmp(db_engine(db), "PostgreSQL") == 0;
}

static int stage_begin(struct importer *im)
{
	const struct stage_kind *k = stage_of(im);
	int r = db_exec(im->db, k->create, im->err);

	if (r < 0)
		return r;
	return db_bulk_begin(im->db, k->table, k->cols, &im->stage, im->err);
}

/* A key twice in the file: the same error as key_once's. */
static int stage_dups(struct importer *im, const struct stage_kind *k)
{
	const char *what = im->kind == LEDGER_ORDERS ? "out_trade_no" : "out_refund_no";
	struct db_stmt *st = NULL;
	int r = db_prepare(im->db, k->dup, &st, im->err);

	if (r < 0)
		return r;
	r = db_step(st);
	if (r == DB_ROW)
		r = err_set(im->err, WXR_EDATA,
		            "%s:%lld: %s '%s' is also on line %lld (a key may appear once in a "
		            "file; keep one of the two rows)",
		            im->name, (long long)db_col_i64(st, 1), what, db_col_text(st, 0),
		            (long long)db_col_i64(st, 2));
	else if (r == DB_DONE)
		r = 0;
	else
		r = db_error(im->db, im->err, "look for a key twice in the file");
	db_finalize(st);
	return r;
}

/* One changed row of the page st: compare_row (its audit entries), then the upsert. */
static int stage_replay_row(struct importer *im, const struct stage_kind *k, struct db_stmt *st)
{
	char *v[MAX_FIELDS + 1] = { NULL };
	const char *vals[MAX_COMPARED] = { NULL };
	int n = k->nparams;
	bool skip;
	int r;

	/* copies: the upsert and the audit run while the page is open */
	for (int i = 1; i <= n; i++)
		v[i] = db_col_is_null(st, i) ? NULL : xstrdup(db_col_text(st, i));
	im->rec_line = (long)db_col_i64(st, 0);
	for (int i = 0; i < MAX_COMPARED; i++) {
		const char *const *names = im->kind == LEDGER_ORDERS ? order_fields : refund_fields;

		if (!names[i])
			break;
		vals[i] = k->vals[i] ? (v[k->vals[i]] ? v[k->vals[i]] : "") : NULL;
	}
	r = compare_row(im, v[k->key], vals, strtoll(v[k->amount], NULL, 10), &skip);
	if (r < 0 || skip)
		goto out;
	db_reset(im->ups);
	db_clear_bindings(im->ups);
	for (int i = 1; i <= n; i++) {
		if (!v[i])
			db_bind_null(im->ups, i);
		else if (k->ints & (1u << i))
			db_bind_i64(im->ups, i, strtoll(v[i], NULL, 10));
		else
			db_bind_text(im->ups, i, v[i]);
	}
	r = write_step(im, im->ups, 1,
	               im->kind == LEDGER_ORDERS ? "upsert order" : "upsert refund");
out:
	for (int i = 1; i <= n; i++)
		free(v[i]);
	return r;
}

static int stage_merge(struct importer *im)
{
	const struct stage_kind *k = stage_of(im);
	struct db_stmt *st = NULL;
	int64_t stored, changed, after = 0;
	bool more = true;
	int r;

	r = db_bulk_end(im->stage, im->err);
	im->stage = NULL;
	if (r < 0)
		return r;
	r = stage_dups(im, k);
	if (r < 0)
		return r;
	/* the planner's figures for the stage: a join against a ledger of weeks */
	r = db_refresh_stats(im->db, k->table, im->err);
	if (r == 0)
		r = db_exec(im->db, k->mark, im->err);
	if (r == 0)
		r = db_exec(im->db, k->insert, im->err);
	if (r < 0)
		return r;
	im->res.inserted = db_changes(im->db);
	r = db_prepare(im->db, k->counts, &st, im->err);
	if (r < 0)
		return r;
	if (db_step(st) != DB_ROW) {
		r = db_error(im->db, im->err, "count the stored keys");
		db_finalize(st);
		return r;
	}
	stored = db_col_i64(st, 0);
	changed = db_col_i64(st, 1);
	db_finalize(st);
	st = NULL;
	im->res.unchanged += stored - changed;
	if (changed == 0)
		return 0;
	r = db_prepare(im->db, k->page, &st, im->err);
	if (r < 0)
		return r;
	while (more && r == 0) {
		more = false;
		db_reset(st);
		db_bind_i64(st, 1, after);
		while ((r = db_step(st)) == DB_ROW) {
			more = true;
			after = db_col_i64(st, 0);
			r = stage_replay_row(im, k, st);
			if (r < 0)
				break;
		}
		if (r == DB_DONE)
			r = 0;
		else if (r > 0)
			r = db_error(im->db, im->err, "read the changed rows of the import");
	}
	db_finalize(st);
	return r;
}

static void finalize_all(struct importer *im)
{
	db_finalize(im->ins);
	db_finalize(im->sel);
	db_finalize(im->ups);
	db_finalize(im->seen_sel);
	db_finalize(im->seen_ins);
	im->ins = im->sel = im->ups = im->seen_sel = im->seen_ins = NULL;
	if (im->stage)
		db_bulk_end(im->stage, NULL);
	im->stage = NULL;
}

/* The statements of the rows: on a server store the stage (stage_begin), else the insert
 * of a new key and ledger_import_keys (key_once); both compare and update a stored key. */
static int prepare_rows(struct importer *im)
{
	struct db *db = im->db;
	bool orders = im->kind == LEDGER_ORDERS;
	int r;

	r = db_prepare(db, orders ? sql_sel_order : sql_sel_refund, &im->sel, im->err);
	if (r == 0)
		r = db_prepare(db, orders ? sql_ups_order : sql_ups_refund, &im->ups, im->err);
	if (r < 0)
		return r;
	im->staged = staged(db);
	if (im->staged)
		return stage_begin(im);
	r = db_prepare(db, orders ? sql_ins_order : sql_ins_refund, &im->ins, im->err);
	if (r == 0)
		r = db_exec(db, sql_keys_create, im->err);
	if (r == 0)
		r = db_prepare(db, sql_keys_sel, &im->seen_sel, im->err);
	if (r == 0)
		r = db_prepare(db, sql_keys_ins, &im->seen_ins, im->err);
	return r;
}

int ledger_import(struct db *db, FILE *in, const char *name, enum ledger_kind kind,
                  const char *mchid, int tz_offset_s, int64_t run_id,
                  const struct ledger_progress *progress, struct ledger_import_result *out,
                  struct wxr_err *err)
{
	struct importer im;
	struct csv_parser p;
	bool csv_ok = false;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	bool own_tx = false;
	int r;

	memset(&im, 0, sizeof(im));
	im.db = db;
	im.name = name;
	im.kind = kind;
	im.mchid = mchid ? mchid : "";
	im.tz = tz_offset_s;
	im.run_id = run_id;
	im.err = err;
	im.progress = progress && progress->fn ? progress : NULL;
	im.cols = kind == LEDGER_ORDERS ? order_cols : refund_cols;
	for (im.ncols = 0; im.cols[im.ncols]; im.ncols++)
		;
	for (int i = 0; i < MAX_FIELDS; i++)
		buf_init_max(&im.fields[i], MAX_FIELD_LEN);
	time_format_rfc3339(clock_real_now(), 0, im.now);

	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_EMPTY_IS_NULL) != 0) {
		r = err_set(err, WXR_EFAIL, "csv_init failed");
		goto out;
	}
	csv_ok = true;
	own_tx = db_tx_depth(db) == 0;
	if (own_tx) {
		r = db_begin(db, err);
		if (r < 0)
			goto out;
	}
	r = db_bulk_cache(db, err);
	if (r < 0)
		goto rollback;
	r = prepare_rows(&im);
	if (r < 0)
		goto rollback;

	while ((n = getline(&line, &cap, in)) >= 0) {
		const char *text = line;

		im.line++;
		im.bytes += n;
		if (im.progress && im.line % 16384 == 0)
			im.progress->fn(im.progress->arg, im.res.rows, im.bytes);
		if (n > MAX_LINE_LEN) {
			r = err_set(err, WXR_EDATA, "%s:%ld: line longer than %d bytes", name,
			            im.line, MAX_LINE_LEN);
			goto rollback;
		}
		if ((size_t)n != strlen(line)) {
			r = err_set(err, WXR_EDATA, "%s:%ld: NUL byte in line", name, im.line);
			goto rollback;
		}
		/* A UTF-8 BOM (Excel writes one) goes before libcsv sees it: before a quoted
		 * header ("\xEF\xBB\xBF\"out_trade_no\",...") it made the quote stray. */
		if (im.line == 1 && n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
			text += 3;
			n -= 3;
		}
		if (csv_parse(&p, text, (size_t)n, on_field, on_row, &im) != (size_t)n) {
			r = err_set(
			        err, WXR_EDATA,
			        "%s:%ld: not valid CSV (%s): a quote inside an unquoted field, "
			        "or text after a closing quote? Quote a whole field, and write a "
			        "quote inside one as \"\"",
			        name, im.line, csv_strerror(csv_error(&p)));
			goto rollback;
		}
		if (im.rc < 0) {
			r = im.rc;
			goto rollback;
		}
	}
	if (ferror(in)) {
		r = err_set(err, WXR_EIO, "cannot read '%s'", name);
		goto rollback;
	}
	if (csv_fini(&p, on_field, on_row, &im) != 0) {
		r = err_set(err, WXR_EDATA, "%s:%ld: %s (an unterminated quote?)", name, im.line,
		            csv_strerror(csv_error(&p)));
		goto rollback;
	}
	if (im.rc < 0) {
		r = im.rc;
		goto rollback;
	}
	if (!im.header_done) {
		r = err_set(err, WXR_EDATA, "%s: empty file (no header row)", name);
		goto rollback;
	}
	if (im.stage) {
		r = stage_merge(&im);
		if (r < 0)
			goto rollback;
	}
	{
		char *detail = xasprintf("{\"kind\":\"%s\",\"rows\":%ld,\"inserted\":%ld,"
		                         "\"updated\":%ld,\"unchanged\":%ld}",
		                         kind == LEDGER_ORDERS ? "orders" : "refunds", im.res.rows,
		                         im.res.inserted, im.res.updated, im.res.unchanged);

		r = audit_append(db, run_id, "ledger", "ledger.import", name, detail, err);
		free(detail);
		if (r < 0)
			goto rollback;
	}
	finalize_all(&im);
	r = im.staged ? 0 : db_exec(db, sql_keys_empty, err);
	if (r == 0 && im.res.inserted + im.res.updated >= DB_STATS_ROWS)
		r = db_refresh_stats(db, kind == LEDGER_ORDERS ? "ledger_orders" : "ledger_refunds",
		                     err);
	if (r < 0)
		goto rollback;
	if (own_tx) {
		r = db_commit(db, err);
		if (r < 0)
			goto out;
	}
	*out = im.res;
	goto out;
rollback:
	finalize_all(&im);
	if (own_tx)
		db_rollback(db);
out:
	if (csv_ok)
		csv_free(&p);
	for (int i = 0; i < MAX_FIELDS; i++)
		buf_release(&im.fields[i]);
	free(line);
	return r;
}

int ledger_day_has_activity(struct db *db, const char *mchid, const char *date, bool *out,
                            struct wxr_err *err)
{
	struct db_stmt *st = NULL;
	int r = db_prepare(
	        db,
	        "SELECT EXISTS (SELECT 1 FROM ledger_orders WHERE mchid = ?1 AND paid_date = ?2)"
	        " OR EXISTS (SELECT 1 FROM ledger_refunds WHERE mchid = ?1 AND created_date = ?2)",
	        &st, err);

	if (r < 0)
		return r;
	db_bind_text(st, 1, mchid);
	db_bind_text(st, 2, date);
	if (db_step(st) != DB_ROW) {
		r = db_error(db, err, "read ledger");
	} else {
		*out = (int)db_col_i64(st, 0) != 0;
		r = 0;
	}
	db_finalize(st);
	return r;
}
