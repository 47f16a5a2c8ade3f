/*
 * t-sweep.c - the sweeps' decisions and flows against a fake WeChat Pay (no
 * network), on a real SQLite file: every branch of an order and a refund, the
 * intent log, brakes, approval, dry runs, verification failures, and crashes
 * at each step (a child process _exit()s at a checkpoint; the fake's state
 * lives in shared memory, so the next sweep sees what "WeChat Pay" did).
 */
#include "tap.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "core/config.h"
#include "core/sweep.h"
#include "db/db.h"
#include "db/db_actions.h"

/* ---- the fake WeChat Pay ---- */

struct f_order {
	char otn[33];
	char state[16];
	int64_t amount;
	char tid[32];
	char success[32];
};

struct f_refund {
	char orn[65];
	char status[16];
	char rid[32];
	int64_t amount;
};

struct f_fault {
	char op;  /* Q query order, C close, R query refund, A abnormal refund, P refund
	             (before it is taken), F refund (taken, the answer lost) */
	int skip; /* matching calls let through first */
	int count;
	int r;
	long status;
	char code[32];
};

struct fake {
	struct f_order orders[16];
	int norders;
	struct f_refund refunds[16];
	int nrefunds;
	char log[16384];
	struct f_fault faults[4];
	bool pay_during_close;
	bool close_noop;
	bool poisoned;
	char got_account[64];
	char got_name[64];
	char got_type[32];
	char got_txn[40]; /* the last refund's transaction_id */
	int64_t got_total, got_refund;
	struct wxpay_status last;
};

static struct fake *F;

static void logf_(const char *op, const char *id)
{
	size_t n = strlen(F->log);

	snprintf(F->log + n, sizeof(F->log) - n, "%s%s:%s", n ? " " : "", op, id);
}

static int fault(char op, struct wxr_err *err)
{
	for (int i = 0; i < 4; i++) {
		struct f_fault *f = &F->faults[i];

		if (f->op != op || f->count == 0)
			continue;
		if (f->skip > 0) {
			f->skip--;
			continue;
		}
		f->count--;
		memset(&F->last, 0, sizeof(F->last));
		F->last.http_status = f->status;
		snprintf(F->last.code, sizeof(F->last.code), "%s", f->code);
		snprintf(F->last.code_raw, sizeof(F->last.code_raw), "%s", f->code);
		if (f->r == WXR_ESIG)
			F->poisoned = true;
		return err_set(err, f->r, "fake %c: %ld %s", op, f->status, f->code);
	}
	return 0;
}

static void ok_status(long status)
{
	memset(&F->last, 0, sizeof(F->last));
	F->last.http_status = status;
}

static struct f_order *f_order(const char *otn)
{
	for (int i = 0; i < F->norders; i++) {
		if (strcmp(F->orders[i].otn, otn) == 0)
			return &F->orders[i];
	}
	return NULL;
}

static struct f_refund *f_refund(const char *orn)
{
	for (int i = 0; i < F->nrefunds; i++) {
		if (strcmp(F->refunds[i].orn, orn) == 0)
			return &F->refunds[i];
	}
	return NULL;
}

static int notfound(const char *code, struct wxr_err *err)
{
	memset(&F->last, 0, sizeof(F->last));
	F->last.http_status = 404;
	snprintf(F->last.code, sizeof(F->last.code), "%s", code);
	snprintf(F->last.code_raw, sizeof(F->last.code_raw), "%s", code);
	return err_set(err, WXR_EAPI, "404 %s", code);
}

static int fq_order(void *ctx, const char *otn, struct wxpay_transaction *out, struct wxr_err *err)
{
	struct f_order *o;
	bool paid;
	int r;

	(void)ctx;
	logf_("Q", otn);
	r = fault('Q', err);
	if (r < 0)
		return r;
	o = f_order(otn);
	if (!o)
		return notfound("ORDER_NOT_EXIST", err);
	ok_status(200);
	paid = strcmp(o->state, "SUCCESS") == 0 || strcmp(o->state, "REFUND") == 0;
	memset(out, 0, sizeof(*out));
	out->appid = xstrdup("wx8888888888888888");
	out->mchid = xstrdup("1900000001");
	out->out_trade_no = xstrdup(otn);
	out->transaction_id = xstrdup(paid ? o->tid : "");
	out->trade_type = xstrdup(paid ? "APP" : "");
	out->trade_state = xstrdup(o->state);
	out->trade_state_desc = xstrdup("");
	out->bank_type = xstrdup("");
	out->attach = xstrdup("");
	out->success_time = xstrdup(paid ? o->success : "");
	out->payer_openid = xstrdup("");
	out->amount_total = o->amount;
	out->amount_payer_total = paid ? o->amount : 0;
	out->currency = xstrdup("CNY");
	out->payer_currency = xstrdup("CNY");
	return 0;
}

static int f_close(void *ctx, const char *otn, struct wxr_err *err)
{
	struct f_order *o;
	int r;

	(void)ctx;
	logf_("C", otn);
	if (F->poisoned)
		return err_set(err, WXR_ESIG, "refusing: poisoned");
	o = f_order(otn);
	if (o && !F->close_noop && strcmp(o->state, "NOTPAY") == 0) {
		if (F->pay_during_close) {
			snprintf(o->state, sizeof(o->state), "SUCCESS");
			snprintf(o->tid, sizeof(o->tid), "4200000001202611029999999999");
			snprintf(o->success, sizeof(o->success), "2026-11-02T10:29:59+08:00");
		} else {
			snprintf(o->state, sizeof(o->state), "CLOSED");
		}
	}
	r = fault('C', err); /* the close happened; the answer is lost */
	if (r < 0)
		return r;
	ok_status(204);
	return 0;
}

static void refund_fill(const struct f_refund *f, struct wxpay_refund *out)
{
	memset(out, 0, sizeof(*out));
	out->refund_id = xstrdup(f->rid);
	out->out_refund_no = xstrdup(f->orn);
	out->transaction_id = xstrdup("4200000001202611010000000001");
	out->out_trade_no = xstrdup("ORDR1");
	out->status = xstrdup(f->status);
	out->channel = xstrdup("ORIGINAL");
	out->user_received_account = xstrdup("");
	out->funds_account = xstrdup("AVAILABLE");
	out->create_time = xstrdup("2026-11-01T09:00:00+08:00");
	out->success_time =
	        xstrdup(strcmp(f->status, "SUCCESS") == 0 ? "2026-11-01T09:05:00+08:00" : "");
	out->amount_refund = f->amount;
	out->amount_total = 100000;
	out->currency = xstrdup("CNY");
}

static int fq_refund(void *ctx, const char *orn, struct wxpay_refund *out, struct wxr_err *err)
{
	struct f_refund *f;
	int r;

	(void)ctx;
	logf_("R", orn);
	r = fault('R', err);
	if (r < 0)
		return r;
	f = f_refund(orn);
	if (!f)
		return notfound("RESOURCE_NOT_EXISTS", err);
	ok_status(200);
	refund_fill(f, out);
	return 0;
}

static int f_abnormal(void *ctx, struct wxpay_abnormal_refund_req *req, struct wxpay_refund *out,
                      struct wxr_err *err)
{
	struct f_refund *f = f_refund(req->out_refund_no);
	int r;

	(void)ctx;
	logf_("A", req->out_refund_no);
	snprintf(F->got_type, sizeof(F->got_type), "%s", req->type);
	if (req->bank_account) {
		snprintf(F->got_account, sizeof(F->got_account), "%s", req->bank_account);
		memset(req->bank_account, 0, strlen(req->bank_account));
	}
	if (req->real_name) {
		snprintf(F->got_name, sizeof(F->got_name), "%s", req->real_name);
		memset(req->real_name, 0, strlen(req->real_name));
	}
	if (F->poisoned)
		return err_set(err, WXR_ESIG, "refusing: poisoned");
	if (!f || strcmp(f->rid, req->refund_id) != 0)
		return notfound("RESOURCE_NOT_EXISTS", err);
	if (strcmp(f->status, "ABNORMAL") != 0) {
		memset(&F->last, 0, sizeof(F->last));
		F->last.http_status = 400;
		snprintf(F->last.code_raw, sizeof(F->last.code_raw), "INVALID_REQUEST");
		return err_set(err, WXR_EAPI, "400 INVALID_REQUEST");
	}
	snprintf(f->status, sizeof(f->status), "PROCESSING");
	r = fault('A', err); /* accepted; the answer is lost */
	if (r < 0)
		return r;
	ok_status(200);
	refund_fill(f, out);
	return 0;
}

static int f_create(void *ctx, const struct wxpay_refund_req *req, struct wxpay_refund *out,
                    struct wxr_err *err)
{
	struct f_order *o = f_order(req->out_trade_no);
	struct f_refund *f;
	int r;

	(void)ctx;
	logf_("F", req->out_refund_no);
	snprintf(F->got_txn, sizeof(F->got_txn), "%s",
	         req->transaction_id ? req->transaction_id : "");
	F->got_total = req->amount_total;
	F->got_refund = req->amount_refund;
	if (F->poisoned)
		return err_set(err, WXR_ESIG, "refusing: poisoned");
	r = fault('P', err); /* refused, or lost before WeChat Pay took it */
	if (r < 0)
		return r;
	if (o && strcmp(o->state, "SUCCESS") != 0 && strcmp(o->state, "REFUND") != 0)
		return notfound("RESOURCE_NOT_EXISTS", err);
	f = f_refund(req->out_refund_no);
	if (!f) {
		f = &F->refunds[F->nrefunds++];
		snprintf(f->orn, sizeof(f->orn), "%s", req->out_refund_no);
		snprintf(f->status, sizeof(f->status), "PROCESSING");
		snprintf(f->rid, sizeof(f->rid), "5030000001202611020000000%04d", F->nrefunds);
		f->amount = req->amount_refund;
		if (o)
			snprintf(o->state, sizeof(o->state), "REFUND");
	}
	r = fault('F', err); /* taken; the answer is lost */
	if (r < 0)
		return r;
	ok_status(200);
	refund_fill(f, out);
	return 0;
}

static const struct wxpay_status *f_last(void *ctx)
{
	(void)ctx;
	return &F->last;
}

static bool f_poisoned(void *ctx)
{
	(void)ctx;
	return F->poisoned;
}

static struct sweep_api api = {
	NULL, fq_order, f_close, fq_refund, f_abnormal, f_last, f_poisoned, f_create,
};

static void fake_reset(void)
{
	memset(F, 0, sizeof(*F));
}

static void fake_order(const char *otn, const char *state, int64_t amount)
{
	struct f_order *o = &F->orders[F->norders++];

	snprintf(o->otn, sizeof(o->otn), "%s", otn);
	snprintf(o->state, sizeof(o->state), "%s", state);
	o->amount = amount;
	snprintf(o->tid, sizeof(o->tid), "42000000012026110200000%05d", F->norders);
	snprintf(o->success, sizeof(o->success), "2026-11-02T09:59:00+08:00");
}

static void fake_refund(const char *orn, const char *status, int64_t amount)
{
	struct f_refund *f = &F->refunds[F->nrefunds++];

	snprintf(f->orn, sizeof(f->orn), "%s", orn);
	snprintf(f->status, sizeof(f->status), "%s", status);
	snprintf(f->rid, sizeof(f->rid), "5030000001202611010000000%04d", F->nrefunds);
	f->amount = amount;
}

static void fake_fault(char op, int count, int r, long status, const char *code)
{
	for (int i = 0; i < 4; i++) {
		if (F->faults[i].count == 0) {
			F->faults[i].op = op;
			F->faults[i].count = count;
			F->faults[i].r = r;
			F->faults[i].status = status;
			snprintf(F->faults[i].code, sizeof(F->faults[i].code), "%s", code);
			return;
		}
	}
}

static int count_in_log(const char *what)
{
	int n = 0;

	for (const char *p = F->log; (p = strstr(p, what)); p++) {
		if ((p == F->log || p[-1] == ' ') && (p[strlen(what)] == ' ' || !p[strlen(what)]))
			n++;
	}
	return n;
}

/* ---- the database ---- */

static char dbpath[64];
static struct config cfg;
static const int64_t NOW = 1793586600; /* 2026-11-02T10:30:00+08:00 */

static struct db *db_fresh(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct db *db = NULL;
	char wal[80];

	unlink(dbpath);
	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	unlink(wal);
	snprintf(wal, sizeof(wal), "%s-shm", dbpath);
	unlink(wal);
	if (db_open(dbpath, &db, &err) < 0 || db_migrate(db, NULL, &err) < 0) {
		diag("db: %s", err.msg);
		exit(1);
	}
	return db;
}

static struct db *db_again(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct db *db = NULL;

	if (db_open(dbpath, &db, &err) < 0) {
		diag("db: %s", err.msg);
		exit(1);
	}
	return db;
}

static void sql(struct db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sql(struct db *db, const char *fmt, ...)
{
	struct wxr_err err = WXR_ERR_INIT;
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (db_exec(db, buf, &err) < 0) {
		diag("sql: %s: %s", buf, err.msg);
		exit(1);
	}
}

static char *q1(struct db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* First column of the first row as a string (static buffer); "" when none. */
static char *q1(struct db *db, const char *fmt, ...)
{
	static char out[1024];
	struct wxr_err err = WXR_ERR_INIT;
	struct db_stmt *st = NULL;
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	out[0] = '\0';
	if (db_prepare(db, buf, &st, &err) < 0) {
		diag("q1: %s", err.msg);
		exit(1);
	}
	if (db_step(st) == DB_ROW)
		snprintf(out, sizeof(out), "%s", db_col_text(st, 0));
	db_finalize(st);
	return out;
}

/* created 2h ago, NOTPAY */
static void ledger_order(struct db *db, const char *otn, int64_t amount, int64_t age_s,
                         const char *expire)
{
	sql(db,
	    "INSERT INTO ledger_orders (mchid, out_trade_no, amount_total, state, created_at,"
	    " created_ts, time_expire, expire_ts, updated_at) VALUES ('1900000001', '%s', %lld,"
	    " 'NOTPAY', 'x', %lld, %s, %s, 'x')",
	    otn, (long long)amount, (long long)(NOW - age_s), expire ? "'x'" : "NULL",
	    expire ? expire : "NULL");
}

static void ledger_refund(struct db *db, const char *orn, const char *state, int64_t amount)
{
	sql(db,
	    "INSERT INTO ledger_refunds (mchid, out_refund_no, out_trade_no, amount_refund, state,"
	    " created_at, created_ts, created_date, updated_at) VALUES ('1900000001', '%s',"
	    " 'ORDR1', %lld, '%s', 'x', %lld, '2026-11-01', 'x')",
	    orn, (long long)amount, state, (long long)(NOW - 86400));
}

static const char *order_state(struct db *db, const char *otn)
{
	return q1(db, "SELECT state FROM ledger_orders WHERE out_trade_no = '%s'", otn);
}

static const char *action_state(struct db *db, const char *kind, const char *target)
{
	return q1(db, "SELECT state FROM actions WHERE kind = '%s' AND target = '%s'", kind,
	          target);
}

static void opts_init(struct sweep_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->mchid = "1900000001";
	o->cfg = &cfg;
	o->now = NOW;
	o->older_than_s = -1;
}

/* Makes every sent action an hour older: "a later run", past the in-flight
 * window (test_in_flight checks the window itself). */
static void age_sent(struct db *db)
{
	sql(db, "UPDATE actions SET sent_ts = sent_ts - 3600 WHERE state = 'sent'");
}

static int run_orders(struct db *db, const struct sweep_opts *o, struct sweep_result *res)
{
	struct wxr_err err = WXR_ERR_INIT;
	int r;

	age_sent(db);
	r = sweep_orders(db, &api, o, res, &err);

	if (r < 0)
		diag("sweep_orders: %s", err.msg);
	return r;
}

static int run_refunds(struct db *db, const struct sweep_opts *o, struct sweep_result *res)
{
	struct wxr_err err = WXR_ERR_INIT;
	int r;

	age_sent(db);
	r = sweep_refunds(db, &api, o, res, &err);

	if (r < 0)
		diag("sweep_refunds: %s", err.msg);
	return r;
}

static int status_of(const struct sweep_result *res)
{
	struct wxr_err err = WXR_ERR_INIT;

	return sweep_status(res, "sweep", &err);
}

/* ---- the decisions ---- */

static void test_decisions(void)
{
	char why[256];

	is_int(sweep_decide_order("NOTPAY", false, 0, NOW), SWEEP_ORDER_CLOSE, "NOTPAY: close");
	is_int(sweep_decide_order("SUCCESS", false, 0, NOW), SWEEP_ORDER_MARK_PAID,
	       "SUCCESS: mark paid");
	is_int(sweep_decide_order("REFUND", false, 0, NOW), SWEEP_ORDER_MARK_PAID,
	       "REFUND: mark paid");
	is_int(sweep_decide_order("CLOSED", false, 0, NOW), SWEEP_ORDER_CLOSED, "CLOSED: record");
	is_int(sweep_decide_order("USERPAYING", false, 0, NOW), SWEEP_ORDER_WAIT,
	       "USERPAYING without time_expire: wait");
	is_int(sweep_decide_order("USERPAYING", true, NOW + 1, NOW), SWEEP_ORDER_WAIT,
	       "USERPAYING before time_expire: wait");
	is_int(sweep_decide_order("USERPAYING", true, NOW - 1, NOW), SWEEP_ORDER_CLOSE,
	       "USERPAYING past time_expire: close");
	is_int(sweep_decide_order("PAYERROR", false, 0, NOW), SWEEP_ORDER_SKIP, "PAYERROR: skip");
	is_int(sweep_decide_order("REVOKED", false, 0, NOW), SWEEP_ORDER_SKIP, "REVOKED: skip");
	is_int(sweep_decide_order(NULL, false, 0, NOW), SWEEP_ORDER_SKIP, "no state: skip");
	is_int(sweep_after_close("CLOSED"), SWEEP_CLOSE_DONE, "after close CLOSED: done");
	is_int(sweep_after_close("SUCCESS"), SWEEP_CLOSE_PAID, "after close SUCCESS: paid");
	is_int(sweep_after_close("REFUND"), SWEEP_CLOSE_PAID, "after close REFUND: paid");
	is_int(sweep_after_close("NOTPAY"), SWEEP_CLOSE_FAILED, "after close NOTPAY: failed");
	is_str(sweep_paid_state("SUCCESS", 100, 0), "PAID", "SUCCESS: PAID");
	is_str(sweep_paid_state("SUCCESS", 100, 50), "PAID", "SUCCESS ignores refunds");
	is_str(sweep_paid_state("REFUND", 100, 0), "PAID", "REFUND, no refund in the ledger: PAID");
	is_str(sweep_paid_state("REFUND", 100, 40), "PARTIAL_REFUNDED", "REFUND, part: PARTIAL");
	is_str(sweep_paid_state("REFUND", 100, 100), "REFUNDED", "REFUND, all: REFUNDED");
	ok(!sweep_brake(1000, 1000, "k", 0, -1, NULL, "x", why, sizeof(why)), "at the brake: go");
	ok(sweep_brake(1001, 1000, "close_max_per_run", 0, -1, NULL, "orders", why, sizeof(why)),
	   "over the count brake: stop");
	ok(strstr(why, "close_max_per_run = 1000") != NULL, "the brake names its key");
	ok(sweep_brake(2, 10, "c", 1000001, 1000000, "amount_key", "refunds", why, sizeof(why)),
	   "over the amount brake: stop");
	ok(strstr(why, "amount_key = 1000000 fen") != NULL, "the amount brake names its key");
	ok(!sweep_brake(2, 10, "c", 1000000, 1000000, "a", "r", why, sizeof(why)),
	   "at the amount brake: go");
}

/* ---- the actions table ---- */

static void test_actions_table(void)
{
	static const char *const rearm[] = { "failed", NULL };
	struct wxr_err err = WXR_ERR_INIT;
	struct db *db = db_fresh();
	struct action_new n;
	struct action a, b;
	struct action_change c;
	bool written = false, found = false;
	long cnt = -1;

	memset(&n, 0, sizeof(n));
	n.mchid = "1900000001";
	n.kind = "ORDER_CLOSE";
	n.target = "ORD1";
	n.state = "intent";
	n.date = "2026-11-02";
	n.now = "2026-11-02T10:30:00+08:00";
	is_int(actions_open(db, &n, rearm, &a, &written, &err), 0, "open inserts");
	ok(written, "written");
	is_str(a.state, "intent", "as intent");
	is_int(actions_open(db, &n, rearm, &b, &written, &err), 0, "open again");
	ok(!written, "the UNIQUE key keeps one action per (mchid, kind, target)");
	is_int(b.id, a.id, "the same row");
	action_release(&b);
	memset(&c, 0, sizeof(c));
	c.to = "sent";
	c.now = n.now;
	is_int(actions_move(db, a.id, "intent", &c, &err), 0, "intent -> sent");
	ok(actions_move(db, a.id, "intent", &c, &err) < 0,
	   "a stale move is refused (compare-and-set)");
	ok(strstr(err.msg, "no longer intent") != NULL, "and says so");
	is_str(q1(db, "SELECT attempts FROM actions WHERE id = %lld", (long long)a.id), "1",
	       "sent counts an attempt");
	c.to = "failed";
	c.error = "still NOTPAY";
	is_int(actions_move(db, a.id, "sent", &c, &err), 0, "sent -> failed");
	n.state = "intent";
	is_int(actions_open(db, &n, rearm, &b, &written, &err), 0, "open a failed one");
	ok(written, "a failed action is re-armed");
	is_str(b.state, "intent", "back to intent");
	ok(b.error == NULL, "its error cleared");
	is_int(b.attempts, 1, "attempts kept");
	action_release(&b);
	n.kind = "ABNORMAL_REFUND";
	n.target = "RF1";
	n.state = "pending_approval";
	n.has_amount = true;
	n.amount = 60000;
	is_int(actions_open(db, &n, NULL, &b, &written, &err), 0, "a held action");
	is_int(actions_count(db, "1900000001", (const char *const[]){ "ABNORMAL_REFUND", NULL },
	                     "pending_approval", &cnt, &err),
	       0, "count");
	is_int(cnt, 1, "one waits for approval");
	ok(actions_approve(db, a.id, "1900000001", "bob", NULL, n.now, &a, &err) < 0,
	   "approve refuses an action that is not held");
	ok(strstr(err.msg, "not pending_approval") != NULL, "naming its state");
	ok(actions_approve(db, 999, "", "bob", NULL, n.now, &a, &err) == WXR_ENOTFOUND,
	   "approve of no action: not found");
	action_release(&a);
	is_int(actions_approve(db, b.id, "1900000001", "bob", "ok", n.now, &a, &err), 0, "approve");
	is_str(action_state(db, "ABNORMAL_REFUND", "RF1"), "intent", "approved: intent");
	is_str(q1(db, "SELECT approved_by || '|' || approval_note FROM actions WHERE id = %lld",
	          (long long)b.id),
	       "bob|ok", "who and why are kept");
	action_release(&a);
	action_release(&b);
	{
		struct action_filter f;
		struct action *v = NULL;
		size_t k = 0;

		memset(&f, 0, sizeof(f));
		f.mchid = "";
		f.pending = true;
		is_int(actions_list(db, &f, &v, &k, &err), 0, "list pending");
		is_int((int64_t)k, 2, "both are unfinished");
		actions_free(v, k);
		f.pending = false;
		f.from = "2026-11-03";
		f.to = "2026-11-03";
		is_int(actions_list(db, &f, &v, &k, &err), 0, "list a date");
		is_int((int64_t)k, 0, "none that day");
		actions_free(v, k);
		(void)found;
	}
	db_close(db);
}

/* ---- orders ---- */

static void test_orders_basic(void)
{
	struct sweep_opts o;
	struct sweep_result res;
	struct db *db;

	fake_reset();
	db = db_fresh();
	fake_order("ORDNOTPAY01", "NOTPAY", 100);
	fake_order("ORDPAID0001", "SUCCESS", 200);
	fake_order("ORDCLOSED01", "CLOSED", 300);
	fake_order("ORDREFUND01", "REFUND", 500);
	fake_order("ORDBADAMT01", "SUCCESS", 999);
	fake_order("ORDYOUNG001", "NOTPAY", 100);
	fake_order("ORDNOTEXP01", "NOTPAY", 100);
	ledger_order(db, "ORDNOTPAY01", 100, 7200, NULL);
	ledger_order(db, "ORDPAID0001", 200, 7200, NULL);
	ledger_order(db, "ORDCLOSED01", 300, 7200, NULL);
	ledger_order(db, "ORDREFUND01", 500, 7200, NULL);
	ledger_order(db, "ORDBADAMT01", 600, 7200, NULL);
	ledger_order(db, "ORDUNKNOWN1", 700, 7200, NULL);
	ledger_order(db, "ORDYOUNG001", 100, 600, NULL);
	ledger_order(db, "ORDNOTEXP01", 100, 7200, "1793590000");
	sql(db, "INSERT INTO ledger_refunds (mchid, out_refund_no, out_trade_no, amount_refund,"
	        " state, created_at, created_ts, created_date, updated_at) VALUES ('1900000001',"
	        " 'RFX', 'ORDREFUND01', 200, 'SUCCESS', 'x', 1, '2026-11-01', 'x')");
	opts_init(&o);
	is_int(run_orders(db, &o, &res), 0, "sweep orders runs");
	is_int(res.eligible, 6, "six candidates: too young and not expired are left out");
	is_int(res.closed, 1, "one closed");
	is_int(res.marked_paid, 2, "two marked paid");
	is_int(res.closed_at_wechat, 1, "one closed at WeChat Pay");
	is_int(res.not_found, 1, "one unknown");
	is_int(res.held, 2, "two held (unknown, amount mismatch)");
	is_int(res.failed, 0, "none failed");
	is_int(status_of(&res), WXR_EATTENTION, "held: exit 3");
	is_str(order_state(db, "ORDNOTPAY01"), "CLOSED", "closed in the ledger");
	is_str(action_state(db, "ORDER_CLOSE", "ORDNOTPAY01"), "done", "ORDER_CLOSE done");
	is_str(order_state(db, "ORDPAID0001"), "PAID", "missed payment: PAID");
	is_str(q1(db,
	          "SELECT transaction_id || '|' || paid_at || '|' || paid_date FROM ledger_orders"
	          " WHERE out_trade_no = 'ORDPAID0001'"),
	       "4200000001202611020000000002|2026-11-02T09:59:00+08:00|2026-11-02",
	       "with transaction_id, paid_at and paid_date in Asia/Shanghai");
	is_str(order_state(db, "ORDREFUND01"), "PARTIAL_REFUNDED", "REFUND with a part refunded");
	is_str(order_state(db, "ORDCLOSED01"), "CLOSED", "auto-closed: CLOSED in the ledger");
	is_str(q1(db, "SELECT count(*) FROM actions WHERE target = 'ORDCLOSED01'"), "0",
	       "closed at WeChat Pay is not an action of ours");
	is_str(order_state(db, "ORDBADAMT01"), "NOTPAY", "amount mismatch: not marked paid");
	is_str(action_state(db, "ORDER_MARK_PAID", "ORDBADAMT01"), "pending_approval",
	       "but held for approval");
	is_str(order_state(db, "ORDUNKNOWN1"), "NOTPAY", "unknown to WeChat Pay: not closed");
	is_str(action_state(db, "ORDER_CLOSE", "ORDUNKNOWN1"), "pending_approval", "but held");
	is_int(count_in_log("C:ORDNOTPAY01"), 1, "one close sent");
	is_int(count_in_log("Q:ORDNOTPAY01"), 2, "a query before and one after the close");
	is_int(count_in_log("C:ORDUNKNOWN1") + count_in_log("C:ORDPAID0001"), 0,
	       "no close for anything else");
	is_int(count_in_log("Q:ORDYOUNG001") + count_in_log("Q:ORDNOTEXP01"), 0,
	       "too young and not yet expired: not even queried");
	ok(strstr(q1(db, "SELECT group_concat(event, ',') FROM audit_log"),
	          "order.close.intent,order.close.sent,order.close.done") != NULL,
	   "the close is audited intent, sent, done");
	is_str(q1(db,
	          "SELECT replace(detail, action_id_text, 'N') FROM audit_log, (SELECT"
	          " '\"action_id\":' || id AS action_id_text FROM actions WHERE kind ="
	          " 'ORDER_CLOSE' AND target = 'ORDNOTPAY01') WHERE event = 'order.close.done'"),
	       "{N,\"after\":\"done\",\"before\":\"sent\",\"close_answer\":\"204\","
	       "\"kind\":\"ORDER_CLOSE\",\"ledger_after\":\"CLOSED\",\"ledger_before\":\"NOTPAY\","
	       "\"ledger_changed\":true,\"result\":\"CLOSED\",\"trade_state\":\"CLOSED\"}",
	       "with the states before and after");
	sweep_result_release(&res);

	/* a second sweep right after: nothing to do */
	F->log[0] = '\0';
	is_int(run_orders(db, &o, &res), 0, "a second sweep");
	is_int(res.candidates, 0, "no candidates");
	is_str(F->log, "", "no call at all");
	is_int(status_of(&res), WXR_EATTENTION, "still exit 3: two wait for approval");
	sweep_result_release(&res);

	/* approve the two held ones */
	{
		struct wxr_err err = WXR_ERR_INIT;
		struct action a;
		int64_t mp = strtoll(q1(db, "SELECT id FROM actions WHERE kind = 'ORDER_MARK_PAID'"
		                            " AND state = 'pending_approval'"),
		                     NULL, 10);
		int64_t cl = strtoll(q1(db, "SELECT id FROM actions WHERE kind = 'ORDER_CLOSE'"
		                            " AND state = 'pending_approval'"),
		                     NULL, 10);

		memset(&a, 0, sizeof(a));
		is_int(actions_approve(db, mp, "1900000001", "alice", NULL, "t", &a, &err), 0,
		       "approve the mark-paid");
		action_release(&a);
		is_int(actions_approve(db, cl, "1900000001", "alice", NULL, "t", &a, &err), 0,
		       "approve the local close");
		action_release(&a);
	}
	F->log[0] = '\0';
	is_int(run_orders(db, &o, &res), 0, "the sweep after approval");
	is_int(res.settled, 2, "settles both");
	is_str(order_state(db, "ORDBADAMT01"), "PAID", "approved: marked paid");
	is_str(order_state(db, "ORDUNKNOWN1"), "CLOSED", "approved: closed in the ledger only");
	is_str(q1(db, "SELECT result FROM actions WHERE target = 'ORDUNKNOWN1'"), "CLOSED_LOCALLY",
	       "result CLOSED_LOCALLY");
	is_int(count_in_log("C:ORDUNKNOWN1"), 0, "no close call for an order WeChat Pay lacks");
	is_int(status_of(&res), 0, "exit 0");
	sweep_result_release(&res);
	db_close(db);
}

static void test_orders_close_outcomes(void)
{
	struct sweep_opts o;
	struct sweep_result res;
	struct db *db;

	/* a payment lands during the close */
	fake_reset();
	db = db_fresh();
	fake_order("ORDRACE0001", "NOTPAY", 100);
	ledger_order(db, "ORDRACE0001", 100, 7200, NULL);
	F->pay_during_close = true;
	opts_init(&o);
	is_int(run_orders(db, &o, &res), 0, "pay during close");
	is_int(res.marked_paid, 1, "becomes a mark-paid");
	is_int(res.failed, 0, "never a failure");
	is_str(action_state(db, "ORDER_CLOSE", "ORDRACE0001"), "cancelled", "the close cancelled");
	is_str(q1(db, "SELECT result FROM actions WHERE kind = 'ORDER_CLOSE'"), "PAID",
	       "result PAID");
	is_str(order_state(db, "ORDRACE0001"), "PAID", "the ledger says PAID");
	is_int(status_of(&res), 0, "exit 0");
	sweep_result_release(&res);
	F->log[0] = '\0';
	is_int(run_orders(db, &o, &res), 0, "again");
	is_str(F->log, "", "and it is not retried");
	sweep_result_release(&res);
	db_close(db);

	/* the close does nothing: still NOTPAY -> failed, retried by a later sweep */
	fake_reset();
	db = db_fresh();
	fake_order("ORDSTUCK001", "NOTPAY", 100);
	ledger_order(db, "ORDSTUCK001", 100, 7200, NULL);
	F->close_noop = true;
	is_int(run_orders(db, &o, &res), 0, "close without effect");
	is_int(res.failed, 1, "failed");
	is_int(status_of(&res), WXR_EFAIL, "exit 1");
	is_str(action_state(db, "ORDER_CLOSE", "ORDSTUCK001"), "failed", "action failed");
	is_str(order_state(db, "ORDSTUCK001"), "NOTPAY", "ledger unchanged");
	sweep_result_release(&res);
	F->close_noop = false;
	F->log[0] = '\0';
	is_int(run_orders(db, &o, &res), 0, "the next sweep");
	is_int(res.closed, 1, "retries and closes");
	is_str(F->log, "Q:ORDSTUCK001 C:ORDSTUCK001 Q:ORDSTUCK001", "query, close, query");
	is_str(q1(db, "SELECT attempts FROM actions"), "2", "second attempt of the same action");
	sweep_result_release(&res);
	db_close(db);

	/* the close answer is lost (500 after retries) but it took effect */
	fake_reset();
	db = db_fresh();
	fake_order("ORDLOST0001", "NOTPAY", 100);
	ledger_order(db, "ORDLOST0001", 100, 7200, NULL);
	fake_fault('C', 1, WXR_EAPI, 500, "SYSTEM_ERROR");
	is_int(run_orders(db, &o, &res), 0, "close answered 500");
	is_int(res.closed, 1, "the query decides: closed");
	is_int(res.failed, 0, "not a failure");
	sweep_result_release(&res);
	db_close(db);

	/* the query after the close fails: left sent, settled next time by a query */
	fake_reset();
	db = db_fresh();
	fake_order("ORDUNSURE01", "NOTPAY", 100);
	ledger_order(db, "ORDUNSURE01", 100, 7200, NULL);
	fake_fault('Q', 1, WXR_ENET, 0, "");
	F->faults[0].skip = 1;
	is_int(run_orders(db, &o, &res), 0, "the query after the close fails");
	is_int(res.failed, 1, "failed this time");
	is_int(status_of(&res), WXR_EFAIL, "exit 1");
	is_str(action_state(db, "ORDER_CLOSE", "ORDUNSURE01"), "sent", "the action stays sent");
	is_str(order_state(db, "ORDUNSURE01"), "NOTPAY", "the ledger unchanged");
	sweep_result_release(&res);
	F->log[0] = '\0';
	is_int(run_orders(db, &o, &res), 0, "the next sweep");
	is_str(F->log, "Q:ORDUNSURE01", "one query settles it, no second close");
	is_str(action_state(db, "ORDER_CLOSE", "ORDUNSURE01"), "done", "done");
	is_str(order_state(db, "ORDUNSURE01"), "CLOSED", "ledger CLOSED");
	is_int(res.closed, 1, "counted as closed");
	sweep_result_release(&res);
	db_close(db);

	/* frequency limited queries: go on with the next, exit 1 */
	fake_reset();
	db = db_fresh();
	fake_order("ORDFREQ0001", "NOTPAY", 100);
	fake_order("ORDFREQ0002", "NOTPAY", 100);
	ledger_order(db, "ORDFREQ0001", 100, 7300, NULL);
	ledger_order(db, "ORDFREQ0002", 100, 7200, NULL);
	fake_fault('Q', 1, WXR_EAPI, 429, "FREQUENCY_LIMITED");
	is_int(run_orders(db, &o, &res), 0, "a query is rate limited");
	is_int(res.failed, 1, "it is reported");
	is_int(res.closed, 1, "the next candidate is still closed");
	is_int(status_of(&res), WXR_EFAIL, "exit 1 at the end");
	is_str(action_state(db, "ORDER_CLOSE", "ORDFREQ0001"), "", "no action for the failed one");
	sweep_result_release(&res);
	F->log[0] = '\0';
	is_int(run_orders(db, &o, &res), 0, "the next sweep");
	is_int(res.closed, 1, "closes it");
	is_int(status_of(&res), 0, "exit 0");
	sweep_result_release(&res);
	db_close(db);
}

static void test_orders_safety(void)
{
	struct sweep_opts o;
	struct sweep_result res;
	struct db *db;
	char otn[33];

	/* the brake */
	fake_reset();
	db = db_fresh();
	for (int i = 0; i < 5; i++) {
		snprintf(otn, sizeof(otn), "ORDBRAKE%03d", i);
		fake_order(otn, "NOTPAY", 100);
		ledger_order(db, otn, 100, 7200, NULL);
	}
	cfg.close_max_per_run = 4;
	opts_init(&o);
	is_int(run_orders(db, &o, &res), 0, "over the brake");
	ok(res.braked, "braked");
	ok(strstr(res.brake, "5 orders to sweep, more than close_max_per_run = 4") != NULL,
	   "says why");
	is_str(F->log, "", "not a single call");
	is_int(status_of(&res), WXR_EATTENTION, "exit 3");
	is_str(q1(db, "SELECT count(*) FROM actions"), "0", "no action written");
	sweep_result_release(&res);
	o.limit = 2;
	is_int(run_orders(db, &o, &res), 0, "--limit does not lift the brake");
	ok(res.braked, "still braked");
	sweep_result_release(&res);
	cfg.close_max_per_run = 1000;

	/* --limit */
	is_int(run_orders(db, &o, &res), 0, "--limit 2");
	is_int(res.candidates, 2, "two looked at");
	is_int(res.eligible, 5, "of five");
	is_int(res.closed, 2, "two closed");
	is_int(status_of(&res), 0, "--limit is not a brake: exit 0");
	is_str(order_state(db, "ORDBRAKE000"), "CLOSED",
	       "oldest first (by created_ts, then number)");
	is_str(order_state(db, "ORDBRAKE004"), "NOTPAY", "the rest wait");
	sweep_result_release(&res);

	/* --dry-run */
	F->log[0] = '\0';
	o.limit = 0;
	o.dry_run = true;
	{
		char before[64];

		snprintf(before, sizeof(before), "%s",
		         q1(db, "SELECT count(*) || '/' || max(id) FROM audit_log"));
		is_int(run_orders(db, &o, &res), 0, "a dry run");
		is_int(res.closed, 3, "plans three closes");
		is_int(count_in_log("C:ORDBRAKE002") + count_in_log("C:ORDBRAKE003") +
		               count_in_log("C:ORDBRAKE004"),
		       0, "makes no close");
		is_str(q1(db, "SELECT count(*) FROM actions"), "2", "writes no intent");
		is_str(order_state(db, "ORDBRAKE004"), "NOTPAY", "changes no ledger row");
		ok(strcmp(res.items[0].what, "would_close") == 0, "the plan says would_close");
	}
	sweep_result_release(&res);
	o.dry_run = false;

	/* a verification failure stops everything */
	F->log[0] = '\0';
	fake_fault('Q', 1, WXR_ESIG, 200, "");
	is_int(run_orders(db, &o, &res), 0, "a response fails verification");
	ok(res.stopped, "stopped");
	is_int(status_of(&res), WXR_ESIG, "exit 1 (signature)");
	is_str(F->log, "Q:ORDBRAKE002", "no call after it");
	sweep_result_release(&res);
	F->poisoned = false;

	/* the close answer fails verification: left sent; the next sweep settles by query */
	F->log[0] = '\0';
	fake_fault('C', 1, WXR_ESIG, 204, "");
	o.limit = 1;
	is_int(run_orders(db, &o, &res), 0, "the close answer fails verification");
	ok(res.stopped, "stopped");
	is_str(F->log, "Q:ORDBRAKE002 C:ORDBRAKE002", "no query, no call after it");
	is_str(action_state(db, "ORDER_CLOSE", "ORDBRAKE002"), "sent", "the action stays sent");
	sweep_result_release(&res);
	F->poisoned = false;
	F->log[0] = '\0';
	o.limit = 0;
	is_int(run_orders(db, &o, &res), 0, "the next sweep");
	is_int(res.settled, 1, "settles it");
	is_str(action_state(db, "ORDER_CLOSE", "ORDBRAKE002"), "done", "done");
	is_int(count_in_log("C:ORDBRAKE002"), 0, "without a second close");
	is_int(res.closed, 3, "and closes the other two");
	sweep_result_release(&res);
	db_close(db);

	/* mark_paid_on_missed_notify = false: held; approval marks it */
	fake_reset();
	db = db_fresh();
	fake_order("ORDMISSED01", "SUCCESS", 100);
	ledger_order(db, "ORDMISSED01", 100, 7200, NULL);
	cfg.mark_paid_on_missed_notify = false;
	is_int(run_orders(db, &o, &res), 0, "policy off");
	is_int(res.marked_paid, 0, "not marked paid");
	is_int(res.held, 1, "held");
	is_str(order_state(db, "ORDMISSED01"), "NOTPAY", "ledger unchanged");
	ok(strstr(q1(db, "SELECT note FROM actions"), "mark_paid_on_missed_notify = false") != NULL,
	   "the note says why");
	sweep_result_release(&res);
	cfg.mark_paid_on_missed_notify = true;
	/* the ledger learns of the payment elsewhere (a notification): the hold goes */
	sql(db, "UPDATE ledger_orders SET state = 'PAID' WHERE out_trade_no = 'ORDMISSED01'");
	F->log[0] = '\0';
	is_int(run_orders(db, &o, &res), 0, "the ledger says PAID now");
	is_str(q1(db, "SELECT state || '|' || result FROM actions"), "cancelled|LEDGER_PAID",
	       "the stale hold is cancelled");
	is_int(res.held, 0, "nothing held");
	is_int(status_of(&res), 0, "exit 0");
	is_str(F->log, "", "without a call");
	sweep_result_release(&res);
	db_close(db);

	/* USERPAYING before expiry waits; PAYERROR is skipped */
	fake_reset();
	db = db_fresh();
	fake_order("ORDPAYING01", "USERPAYING", 100);
	fake_order("ORDPAYERR01", "PAYERROR", 100);
	ledger_order(db, "ORDPAYING01", 100, 7200, NULL);
	ledger_order(db, "ORDPAYERR01", 100, 7200, NULL);
	is_int(run_orders(db, &o, &res), 0, "USERPAYING and PAYERROR");
	is_int(res.skipped, 2, "both skipped");
	is_int(count_in_log("C:ORDPAYING01") + count_in_log("C:ORDPAYERR01"), 0, "no close");
	sweep_result_release(&res);
	db_close(db);
}

/* ---- crashes: a child stops at a checkpoint as kill -9 would ---- */

static const char *crash_point;

static void crash_at(void *ctx, const char *point)
{
	(void)ctx;
	if (crash_point && strcmp(point, crash_point) == 0)
		_exit(137);
}

static int run_child(bool refunds, const char *point)
{
	pid_t pid;
	int st = 0;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct db *db = db_again();
		struct sweep_opts o;
		struct sweep_result res;

		opts_init(&o);
		crash_point = point;
		o.checkpoint = crash_at;
		if (refunds)
			run_refunds(db, &o, &res);
		else
			run_orders(db, &o, &res);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_crash_orders(void)
{
	static const char *const points[] = { SWEEP_AT_AFTER_INTENT, SWEEP_AT_AFTER_SENT,
		                              SWEEP_AT_AFTER_CALL };
	static const char *const left[] = { "intent", "sent", "sent" };
	static const int closes_before[] = { 0, 0, 1 };

	for (int i = 0; i < 3; i++) {
		struct sweep_opts o;
		struct sweep_result res;
		struct db *db;
		char name[128];

		fake_reset();
		db = db_fresh();
		fake_order("ORDCRASH001", "NOTPAY", 100);
		ledger_order(db, "ORDCRASH001", 100, 7200, NULL);
		db_close(db);
		snprintf(name, sizeof(name), "close: killed %s", points[i]);
		is_int(run_child(false, points[i]), 137, name);
		db = db_again();
		is_str(action_state(db, "ORDER_CLOSE", "ORDCRASH001"), left[i],
		       "the action is left");
		is_int(count_in_log("C:ORDCRASH001"), closes_before[i], "closes sent so far");
		opts_init(&o);
		is_int(run_orders(db, &o, &res), 0, "the next sweep");
		is_str(action_state(db, "ORDER_CLOSE", "ORDCRASH001"), "done", "settles it: done");
		is_str(order_state(db, "ORDCRASH001"), "CLOSED", "ledger CLOSED");
		is_int(count_in_log("C:ORDCRASH001"), 1, "exactly one close in all");
		is_int(status_of(&res), 0, "exit 0");
		sweep_result_release(&res);
		db_close(db);
	}
}

static void test_crash_refunds(void)
{
	static const char *const points[] = { SWEEP_AT_AFTER_INTENT, SWEEP_AT_AFTER_SENT,
		                              SWEEP_AT_AFTER_CALL };
	static const int sent_before[] = { 0, 0, 1 };

	for (int i = 0; i < 3; i++) {
		struct sweep_opts o;
		struct sweep_result res;
		struct db *db;
		char name[128];

		fake_reset();
		db = db_fresh();
		fake_refund("RFCRASH1", "ABNORMAL", 300);
		ledger_refund(db, "RFCRASH1", "PROCESSING", 300);
		db_close(db);
		snprintf(name, sizeof(name), "abnormal refund: killed %s", points[i]);
		is_int(run_child(true, points[i]), 137, name);
		db = db_again();
		is_int(count_in_log("A:RFCRASH1"), sent_before[i], "abnormal refunds sent so far");
		opts_init(&o);
		is_int(run_refunds(db, &o, &res), 0, "the next sweep");
		is_str(action_state(db, "ABNORMAL_REFUND", "RFCRASH1"), "done", "settles it: done");
		is_int(count_in_log("A:RFCRASH1"), 1, "exactly one abnormal refund in all");
		is_str(q1(db, "SELECT state FROM ledger_refunds"), "PROCESSING",
		       "ledger PROCESSING (WeChat Pay pays it out)");
		sweep_result_release(&res);
		db_close(db);
	}
}

/* ---- refunds ---- */

static void test_refunds(void)
{
	struct sweep_opts o;
	struct sweep_result res;
	struct db *db;
	struct wxr_err err = WXR_ERR_INIT;

	fake_reset();
	db = db_fresh();
	fake_refund("RFSUCCESS1", "SUCCESS", 100);
	fake_refund("RFCLOSED01", "CLOSED", 100);
	fake_refund("RFSTILL001", "PROCESSING", 100);
	fake_refund("RFABN00001", "ABNORMAL", 300);
	fake_refund("RFBIG00001", "ABNORMAL", 60000);
	ledger_refund(db, "RFSUCCESS1", "PROCESSING", 100);
	ledger_refund(db, "RFCLOSED01", "PROCESSING", 100);
	ledger_refund(db, "RFSTILL001", "PROCESSING", 100);
	ledger_refund(db, "RFABN00001", "PROCESSING", 300);
	ledger_refund(db, "RFBIG00001", "ABNORMAL", 60000);
	ledger_refund(db, "RFUNKNOWN1", "PROCESSING", 100);
	opts_init(&o);
	is_int(run_refunds(db, &o, &res), 0, "sweep refunds");
	is_str(q1(db, "SELECT state || '|' || success_at FROM ledger_refunds WHERE"
	              " out_refund_no = 'RFSUCCESS1'"),
	       "SUCCESS|2026-11-01T09:05:00+08:00", "SUCCESS synced with its time");
	is_str(q1(db, "SELECT state FROM ledger_refunds WHERE out_refund_no = 'RFCLOSED01'"),
	       "CLOSED", "CLOSED synced");
	is_str(action_state(db, "REFUND_SYNC", "RFSUCCESS1"), "done", "as REFUND_SYNC actions");
	is_str(action_state(db, "ABNORMAL_REFUND", "RFABN00001"), "done", "ABNORMAL: filed");
	is_str(F->got_type, "MERCHANT_BANK_CARD", "to the merchant's card");
	is_str(q1(db, "SELECT state FROM ledger_refunds WHERE out_refund_no = 'RFABN00001'"),
	       "PROCESSING", "and PROCESSING again");
	is_str(action_state(db, "ABNORMAL_REFUND", "RFBIG00001"), "pending_approval",
	       "above approval_above: held");
	is_int(count_in_log("A:RFBIG00001"), 0, "not sent");
	is_int(res.abnormal_refunds, 1, "one filed");
	is_int(res.held, 1, "one held");
	is_int(res.attention, 1, "the unknown refund needs a person");
	is_int(status_of(&res), WXR_EATTENTION, "exit 3");
	sweep_result_release(&res);

	/* approval: the next sweep sends it */
	{
		struct action a;
		int64_t id = strtoll(q1(db, "SELECT id FROM actions WHERE target = 'RFBIG00001'"),
		                     NULL, 10);

		is_int(actions_approve(db, id, "1900000001", "alice", NULL, "t", &a, &err), 0,
		       "approve");
		action_release(&a);
	}
	F->log[0] = '\0';
	is_int(run_refunds(db, &o, &res), 0, "after approval");
	is_str(action_state(db, "ABNORMAL_REFUND", "RFBIG00001"), "done", "sent and done");
	is_int(count_in_log("A:RFBIG00001"), 1, "once");
	sweep_result_release(&res);

	/* ABNORMAL again after an accepted abnormal refund: never filed twice */
	snprintf(f_refund("RFABN00001")->status, 16, "ABNORMAL");
	F->log[0] = '\0';
	is_int(run_refunds(db, &o, &res), 0, "ABNORMAL again");
	is_int(count_in_log("A:RFABN00001"), 0, "not filed a second time");
	is_int(res.attention, 2, "a person must act");
	sweep_result_release(&res);

	/* the USER_BANK_CARD by hand: the card goes to the call, never to the database */
	{
		struct sweep_user_card card;
		char account[] = "6225880112345678", name[] = "Zhang San";

		opts_init(&o);
		o.who = "alice";
		memset(&card, 0, sizeof(card));
		card.out_refund_no = "RFABN00001";
		card.bank_type = "CMB_DEBIT";
		card.bank_account = account;
		card.real_name = name;
		is_int(sweep_refund_user_card(db, &api, &o, &card, &res, &err), 0,
		       "refund abnormal --user-card");
		is_str(F->got_type, "USER_BANK_CARD", "USER_BANK_CARD");
		is_str(F->got_account, "6225880112345678", "the call got the card");
		is_str(F->got_name, "Zhang San", "and the name");
		ok(account[0] == '\0' && name[0] == '\0', "our copies are wiped");
		is_str(q1(db, "SELECT count(*) FROM actions WHERE params LIKE '%%622588%%' OR"
		              " params LIKE '%%Zhang%%' OR note LIKE '%%622588%%'"),
		       "0", "not in the actions");
		is_str(q1(db, "SELECT count(*) FROM audit_log WHERE detail LIKE '%%622588%%' OR"
		              " detail LIKE '%%Zhang%%'"),
		       "0", "not in the audit log");
		ok(strstr(q1(db, "SELECT params FROM actions WHERE kind = 'ABNORMAL_REFUND' AND"
		                 " target = 'RFABN00001'"),
		          "\"bank_type\":\"CMB_DEBIT\"") != NULL,
		   "params keep the type and bank only");
		sweep_result_release(&res);
		o.who = NULL;
	}

	/* the brakes count what a run would file */
	fake_reset();
	db_close(db);
	db = db_fresh();
	fake_refund("RFB1", "ABNORMAL", 30000);
	fake_refund("RFB2", "ABNORMAL", 30000);
	ledger_refund(db, "RFB1", "ABNORMAL", 30000);
	ledger_refund(db, "RFB2", "ABNORMAL", 30000);
	cfg.abnormal_refund_max_amount_per_run = 50000;
	is_int(run_refunds(db, &o, &res), 0, "over the amount brake");
	ok(res.braked, "braked");
	ok(strstr(res.brake, "abnormal_refund_max_amount_per_run") != NULL, "names the key");
	is_int(count_in_log("A:RFB1") + count_in_log("A:RFB2"), 0, "none filed");
	is_str(q1(db, "SELECT count(*) FROM actions WHERE kind = 'ABNORMAL_REFUND'"), "0",
	       "no intent written");
	is_int(status_of(&res), WXR_EATTENTION, "exit 3");
	sweep_result_release(&res);
	cfg.abnormal_refund_max_amount_per_run = 1000000;
	cfg.abnormal_refund_max_per_run = 1;
	is_int(run_refunds(db, &o, &res), 0, "over the count brake");
	ok(res.braked && strstr(res.brake, "abnormal_refund_max_per_run = 1") != NULL,
	   "braked by count");
	sweep_result_release(&res);
	cfg.abnormal_refund_max_per_run = 100;
	o.dry_run = true;
	F->log[0] = '\0';
	is_int(run_refunds(db, &o, &res), 0, "dry run");
	is_int(res.abnormal_refunds, 2, "plans two");
	is_str(F->log, "R:RFB1 R:RFB2", "queries only");
	sweep_result_release(&res);
	o.dry_run = false;

	/* a held one that is no longer ABNORMAL is cancelled */
	cfg.approval_above = 100;
	is_int(run_refunds(db, &o, &res), 0, "hold both");
	is_int(res.held, 2, "two held");
	sweep_result_release(&res);
	snprintf(f_refund("RFB1")->status, 16, "SUCCESS");
	is_int(run_refunds(db, &o, &res), 0, "one succeeded meanwhile");
	is_str(action_state(db, "ABNORMAL_REFUND", "RFB1"), "cancelled", "its hold is cancelled");
	is_int(res.held, 1, "one still held");
	sweep_result_release(&res);
	sql(db, "UPDATE ledger_refunds SET state = 'SUCCESS' WHERE out_refund_no = 'RFB2'");
	is_int(run_refunds(db, &o, &res), 0, "the ledger has the other as SUCCESS");
	is_str(q1(db, "SELECT state || '|' || result FROM actions WHERE kind = 'ABNORMAL_REFUND'"
	              " AND target = 'RFB2'"),
	       "cancelled|LEDGER_SUCCESS", "its stale hold is cancelled too");
	is_int(status_of(&res), 0, "exit 0");
	sweep_result_release(&res);
	cfg.approval_above = 50000;
	db_close(db);
}

/* ---- engine refunds (REFUND actions, paid_after_close = refund) ---- */

static int64_t bill_file_id;

/* An order we closed (ORDER_CLOSE done, ledger CLOSED) that WeChat Pay then
 * took a payment for: the fake has it SUCCESS; with_bill: a stored trade
 * bill shows the payment. Returns the fake's transaction_id. */
static const char *pac_order(struct db *db, const char *otn, int64_t amount, bool with_bill)
{
	struct f_order *o;

	fake_order(otn, "SUCCESS", amount);
	o = &F->orders[F->norders - 1];
	snprintf(o->success, sizeof(o->success), "2026-11-01T10:05:00+08:00");
	sql(db,
	    "INSERT INTO ledger_orders (mchid, out_trade_no, amount_total, state, created_at,"
	    " created_ts, updated_at) VALUES ('1900000001', '%s', %lld, 'CLOSED',"
	    " '2026-11-01T09:00:00+08:00', %lld, 'x')",
	    otn, (long long)amount, (long long)(NOW - 86400));
	sql(db,
	    "INSERT INTO actions (mchid, kind, target, state, amount, date, created_at, updated_at)"
	    " VALUES ('1900000001', 'ORDER_CLOSE', '%s', 'done', %lld, '2026-11-01', 'x', 'x')",
	    otn, (long long)amount);
	if (with_bill) {
		if (!bill_file_id) {
			sql(db, "INSERT INTO bill_files (mchid, bill_date, kind, status, source,"
			        " fetched_at) VALUES ('1900000001', '2026-11-01', 'trade', 'ok',"
			        " 'import', 'x')");
			bill_file_id = strtoll(q1(db, "SELECT max(id) FROM bill_files"), NULL, 10);
		}
		sql(db,
		    "INSERT INTO bill_trades (file_id, line, mchid, bill_date, trade_time,"
		    " transaction_id, out_trade_no, row_kind, order_amount, settlement_amount)"
		    " VALUES (%lld, %d, '1900000001', '2026-11-01', '2026-11-01 10:05:00', '%s',"
		    " '%s', 'SUCCESS', %lld, %lld)",
		    (long long)bill_file_id, F->norders, o->tid, otn, (long long)amount,
		    (long long)amount);
	}
	return o->tid;
}

/* The REFUND action reconcile files for it (its params as reconcile writes them). */
static void pac_action(struct db *db, const char *otn, const char *txn, int64_t amount,
                       const char *state)
{
	sql(db,
	    "INSERT INTO actions (mchid, kind, target, state, amount, date, params, created_at,"
	    " updated_at) VALUES ('1900000001', 'REFUND', 'PAC-%s', '%s', %lld, '2026-11-01',"
	    " '{\"amount\":{\"currency\":\"CNY\",\"refund\":%lld,\"total\":%lld},"
	    "\"out_refund_no\":\"PAC-%s\",\"out_trade_no\":\"%s\",\"reason\":\"paid after close\","
	    "\"transaction_id\":\"%s\"}', 'x', 'x')",
	    otn, state, (long long)amount, (long long)amount, (long long)amount, otn, otn, txn);
}

static const char *pac_refund(struct db *db, const char *otn)
{
	return q1(db,
	          "SELECT state || '|' || amount_refund || '|' || COALESCE(refund_id, '-')"
	          " FROM ledger_refunds WHERE out_refund_no = 'PAC-%s'",
	          otn);
}

static int64_t action_id(struct db *db, const char *kind, const char *target)
{
	return strtoll(
	        q1(db, "SELECT id FROM actions WHERE kind = '%s' AND target = '%s'", kind, target),
	        NULL, 10);
}

static void test_engine_refunds(void)
{
	struct sweep_opts o;
	struct sweep_result res;
	struct db *db;
	struct wxr_err err = WXR_ERR_INIT;
	const char *txn;
	char tx1[40];

	fake_reset();
	bill_file_id = 0;
	db = db_fresh();
	opts_init(&o);
	txn = pac_order(db, "ORDPAC001", 1000, true);
	snprintf(tx1, sizeof(tx1), "%s", txn);
	pac_action(db, "ORDPAC001", tx1, 1000, "intent");

	/* a dry run plans it and changes nothing */
	o.dry_run = true;
	is_int(run_refunds(db, &o, &res), 0, "dry run");
	is_int(res.refunds, 1, "plans one refund");
	ok(res.nitems >= 1 && strcmp(res.items[0].what, "would_refund") == 0 &&
	           strstr(res.items[0].detail, "would refund 1000 fen of order ORDPAC001") &&
	           strstr(res.items[0].detail, "(CLOSED) would be marked PAID first"),
	   "the plan says what it would do");
	is_int(count_in_log("F:PAC-ORDPAC001"), 0, "nothing sent");
	is_str(action_state(db, "REFUND", "PAC-ORDPAC001"), "intent", "still intent");
	is_str(order_state(db, "ORDPAC001"), "CLOSED", "the ledger order untouched");
	is_str(pac_refund(db, "ORDPAC001"), "", "no ledger refund");
	is_int(status_of(&res), 0, "exit 0");
	sweep_result_release(&res);
	o.dry_run = false;

	/* the sweep sends it, once, with the ledger written before the call */
	is_int(run_refunds(db, &o, &res), 0, "sweep refunds");
	is_int(count_in_log("F:PAC-ORDPAC001"), 1, "one refund sent");
	is_str(F->got_txn, tx1, "for the bill's transaction");
	ok(F->got_refund == 1000 && F->got_total == 1000, "the full amount");
	is_int(res.refunds, 1, "counted");
	is_str(q1(db, "SELECT state || '|' || result || '|' || attempts FROM actions WHERE"
	              " kind = 'REFUND'"),
	       "done|PROCESSING|1", "the action is done: PROCESSING");
	is_str(q1(db, "SELECT state || '|' || transaction_id || '|' || paid_at FROM ledger_orders"
	              " WHERE out_trade_no = 'ORDPAC001'"),
	       q1(db, "SELECT 'PAID|%s|2026-11-01T10:05:00+08:00'", tx1),
	       "the ledger order PAID from the bill");
	ok(strncmp(pac_refund(db, "ORDPAC001"), "PROCESSING|1000|50300000012026110200", 36) == 0,
	   "the ledger refund PROCESSING with WeChat Pay's refund_id");
	is_str(q1(db, "SELECT group_concat(event, ' ') FROM (SELECT event FROM audit_log WHERE"
	              " event LIKE 'refund.engine.%%' OR event = 'ledger.order_paid' ORDER BY id)"),
	       "ledger.order_paid refund.engine.intent refund.engine.sent refund.engine.done",
	       "audited, ledger first");
	is_int(status_of(&res), 0, "exit 0");
	sweep_result_release(&res);

	/* WeChat Pay pays it out: the next sweep syncs it, the order becomes REFUNDED */
	snprintf(f_refund("PAC-ORDPAC001")->status, 16, "SUCCESS");
	F->log[0] = '\0';
	is_int(run_refunds(db, &o, &res), 0, "the next sweep");
	is_int(count_in_log("F:PAC-ORDPAC001"), 0, "no second refund");
	is_int(count_in_log("R:PAC-ORDPAC001"), 1, "a query");
	ok(strncmp(pac_refund(db, "ORDPAC001"), "SUCCESS|1000|", 13) == 0, "ledger refund SUCCESS");
	is_str(order_state(db, "ORDPAC001"), "REFUNDED", "the ledger order REFUNDED");
	is_str(q1(db, "SELECT count(*) FROM audit_log WHERE event = 'order.sync' AND subject ="
	              " 'ORDPAC001' AND detail LIKE '%%\"ledger_after\":\"REFUNDED\"%%'"),
	       "1", "audited");
	sweep_result_release(&res);
	F->log[0] = '\0';
	is_int(run_refunds(db, &o, &res), 0, "and the one after");
	is_str(F->log, "", "does nothing");
	sweep_result_release(&res);

	/* a partial refund of a paid order: PARTIAL_REFUNDED, then REFUNDED */
	sql(db, "INSERT INTO ledger_orders (mchid, out_trade_no, amount_total, state, created_at,"
	        " created_ts, paid_ts, updated_at) VALUES ('1900000001', 'ORDR1', 1000, 'PAID',"
	        " 'x', 1, 2, 'x')");
	fake_refund("RFPART1", "SUCCESS", 400);
	fake_refund("RFPART2", "PROCESSING", 600);
	ledger_refund(db, "RFPART1", "PROCESSING", 400);
	ledger_refund(db, "RFPART2", "PROCESSING", 600);
	is_int(run_refunds(db, &o, &res), 0, "a partial refund succeeds");
	is_str(order_state(db, "ORDR1"), "PARTIAL_REFUNDED", "PARTIAL_REFUNDED");
	sweep_result_release(&res);
	snprintf(f_refund("RFPART2")->status, 16, "SUCCESS");
	is_int(run_refunds(db, &o, &res), 0, "the rest succeeds");
	is_str(order_state(db, "ORDR1"), "REFUNDED", "REFUNDED");
	sweep_result_release(&res);

	/* above approval_above: held by reconcile; approve releases it */
	txn = pac_order(db, "ORDPAC002", 60000, true);
	pac_action(db, "ORDPAC002", txn, 60000, "pending_approval");
	F->log[0] = '\0';
	is_int(run_refunds(db, &o, &res), 0, "held");
	is_int(count_in_log("F:PAC-ORDPAC002"), 0, "not sent");
	is_int(res.held, 1, "one held");
	is_int(status_of(&res), WXR_EATTENTION, "exit 3");
	sweep_result_release(&res);
	{
		struct action a;

		is_int(actions_approve(db, action_id(db, "REFUND", "PAC-ORDPAC002"), "1900000001",
		                       "alice", NULL, "t", &a, &err),
		       0, "approve");
		action_release(&a);
	}
	is_int(run_refunds(db, &o, &res), 0, "after approval");
	is_int(count_in_log("F:PAC-ORDPAC002"), 1, "sent once");
	is_str(action_state(db, "REFUND", "PAC-ORDPAC002"), "done", "done");
	is_int(status_of(&res), 0, "exit 0");
	sweep_result_release(&res);

	/* an intent above approval_above that nobody approved is held by the sweep too */
	txn = pac_order(db, "ORDPAC003", 60000, true);
	pac_action(db, "ORDPAC003", txn, 60000, "intent");
	is_int(run_refunds(db, &o, &res), 0, "an unapproved intent above approval_above");
	is_str(action_state(db, "REFUND", "PAC-ORDPAC003"), "pending_approval", "held");
	is_int(count_in_log("F:PAC-ORDPAC003"), 0, "not sent");
	ok(strstr(q1(db, "SELECT note FROM actions WHERE target = 'PAC-ORDPAC003'"),
	          "above approval_above") != NULL,
	   "with a note");
	sweep_result_release(&res);
	sql(db, "UPDATE actions SET state = 'cancelled' WHERE target = 'PAC-ORDPAC003'");
	db_close(db);

	/* the brakes count engine refunds with the abnormal ones */
	fake_reset();
	bill_file_id = 0;
	db = db_fresh();
	txn = pac_order(db, "ORDPAC011", 20000, true);
	pac_action(db, "ORDPAC011", txn, 20000, "intent");
	txn = pac_order(db, "ORDPAC012", 20000, true);
	pac_action(db, "ORDPAC012", txn, 20000, "intent");
	fake_refund("RFABN1", "ABNORMAL", 20000);
	ledger_refund(db, "RFABN1", "ABNORMAL", 20000);
	cfg.abnormal_refund_max_per_run = 2;
	is_int(run_refunds(db, &o, &res), 0, "three refunds, the brake at two");
	ok(res.braked, "braked");
	is_str(res.brake,
	       "brake: 3 refunds to send (1 abnormal, 2 engine), more than "
	       "abnormal_refund_max_per_run = 2; nothing was done",
	       "says why");
	is_int(count_in_log("F:PAC-ORDPAC011") + count_in_log("F:PAC-ORDPAC012") +
	               count_in_log("A:RFABN1"),
	       0, "nothing sent");
	is_str(q1(db, "SELECT group_concat(state) FROM actions WHERE kind = 'REFUND'"),
	       "intent,intent", "still intents");
	is_str(order_state(db, "ORDPAC011"), "CLOSED", "the ledger untouched");
	is_int(status_of(&res), WXR_EATTENTION, "exit 3");
	sweep_result_release(&res);
	cfg.abnormal_refund_max_per_run = 100;
	cfg.abnormal_refund_max_amount_per_run = 30000;
	sql(db, "UPDATE ledger_refunds SET state = 'SUCCESS' WHERE out_refund_no = 'RFABN1'");
	is_int(run_refunds(db, &o, &res), 0, "40000 fen, the brake at 30000");
	ok(res.braked && strstr(res.brake, "brake: 2 refunds to send for 40000 fen, more than "
	                                   "abnormal_refund_max_amount_per_run = 30000 fen"),
	   "braked by the amount");
	is_int(count_in_log("F:PAC-ORDPAC011") + count_in_log("F:PAC-ORDPAC012"), 0,
	       "nothing sent");
	sweep_result_release(&res);
	cfg.abnormal_refund_max_amount_per_run = 1000000;
	is_int(run_refunds(db, &o, &res), 0, "within the brakes");
	is_int(count_in_log("F:PAC-ORDPAC011") + count_in_log("F:PAC-ORDPAC012"), 2, "both sent");
	sweep_result_release(&res);
	db_close(db);

	/* refused (4xx): failed with WeChat Pay's code, the ledger refund removed */
	fake_reset();
	bill_file_id = 0;
	db = db_fresh();
	txn = pac_order(db, "ORDPAC021", 500, true);
	pac_action(db, "ORDPAC021", txn, 500, "intent");
	fake_fault('P', 1, WXR_EAPI, 403, "NOT_ENOUGH");
	is_int(run_refunds(db, &o, &res), 0, "refused");
	is_str(q1(db, "SELECT state || '|' || result FROM actions WHERE kind = 'REFUND'"),
	       "failed|NOT_ENOUGH", "failed with the code");
	is_str(pac_refund(db, "ORDPAC021"), "", "the ledger refund is removed");
	is_str(q1(db, "SELECT count(*) FROM payflow_refunds"), "0", "with its request");
	is_str(order_state(db, "ORDPAC021"), "PAID", "the payment stays recorded");
	is_int(res.attention, 1, "a person must look");
	is_int(status_of(&res), WXR_EATTENTION, "exit 3");
	ok(strstr(q1(db, "SELECT detail FROM audit_log WHERE event = 'refund.engine.failed'"),
	          "removed") != NULL,
	   "audited");
	sweep_result_release(&res);
	F->log[0] = '\0';
	is_int(run_refunds(db, &o, &res), 0, "the next sweep");
	is_str(F->log, "", "does not send it again");
	sweep_result_release(&res);

	/* taken, but the answer lost (5xx after the retries): the query finds it */
	txn = pac_order(db, "ORDPAC022", 500, true);
	pac_action(db, "ORDPAC022", txn, 500, "intent");
	fake_fault('F', 1, WXR_EAPI, 500, "SYSTEM_ERROR");
	is_int(run_refunds(db, &o, &res), 0, "answer lost");
	is_str(action_state(db, "REFUND", "PAC-ORDPAC022"), "done", "done by the query after it");
	is_int(count_in_log("F:PAC-ORDPAC022"), 1, "one refund");
	sweep_result_release(&res);

	/* not taken (5xx before): left sent, the next sweep sends it again, same body */
	txn = pac_order(db, "ORDPAC023", 500, true);
	pac_action(db, "ORDPAC023", txn, 500, "intent");
	fake_fault('P', 1, WXR_EAPI, 500, "SYSTEM_ERROR");
	is_int(run_refunds(db, &o, &res), 0, "not taken");
	is_str(action_state(db, "REFUND", "PAC-ORDPAC023"), "sent", "left sent");
	ok(strncmp(pac_refund(db, "ORDPAC023"), "PROCESSING|500|", 15) == 0,
	   "the ledger refund stays PROCESSING");
	is_int(status_of(&res), WXR_EFAIL, "exit 1");
	sweep_result_release(&res);
	F->log[0] = '\0';
	is_int(run_refunds(db, &o, &res), 0, "the next sweep");
	ok(strstr(F->log, "R:PAC-ORDPAC023") && strstr(F->log, "F:PAC-ORDPAC023") &&
	           strstr(F->log, "R:PAC-ORDPAC023") < strstr(F->log, "F:PAC-ORDPAC023"),
	   "queries, then sends it again");
	is_int(count_in_log("F:PAC-ORDPAC023"), 1, "once");
	is_str(q1(db, "SELECT state || '|' || attempts FROM actions WHERE"
	              " target = 'PAC-ORDPAC023'"),
	       "done|2", "done at the second attempt");
	is_str(q1(db, "SELECT count(*) FROM ledger_refunds WHERE out_refund_no ="
	              " 'PAC-ORDPAC023'"),
	       "1", "one ledger refund");
	ok(F->got_refund == 500 && strcmp(F->got_txn, txn) == 0, "the same body");
	is_int(status_of(&res), 0, "exit 0");
	sweep_result_release(&res);

	/* no stored bill has the payment: the order query gives it */
	txn = pac_order(db, "ORDPAC024", 700, false);
	pac_action(db, "ORDPAC024", txn, 700, "intent");
	is_int(run_refunds(db, &o, &res), 0, "no bill row");
	is_str(action_state(db, "REFUND", "PAC-ORDPAC024"), "done", "sent");
	is_str(q1(db, "SELECT state || '|' || paid_at FROM ledger_orders WHERE out_trade_no ="
	              " 'ORDPAC024'"),
	       "PAID|2026-11-01T10:05:00+08:00", "paid as the query says");
	ok(strstr(q1(db, "SELECT detail FROM audit_log WHERE event = 'ledger.order_paid' AND"
	                 " subject = 'ORDPAC024'"),
	          "\"source\":\"order query\"") != NULL,
	   "audited with its source");
	sweep_result_release(&res);

	/* ... but not another payment than the one reconcile saw */
	pac_order(db, "ORDPAC025", 700, false);
	pac_action(db, "ORDPAC025", "4200000001209999999999999999", 700, "intent");
	F->log[0] = '\0';
	is_int(run_refunds(db, &o, &res), 0, "another transaction");
	is_int(count_in_log("F:PAC-ORDPAC025"), 0, "not sent");
	is_str(action_state(db, "REFUND", "PAC-ORDPAC025"), "failed", "failed");
	is_str(order_state(db, "ORDPAC025"), "CLOSED", "the ledger order untouched");
	is_int(status_of(&res), WXR_EATTENTION, "exit 3");
	sweep_result_release(&res);

	/* params that are not a refund */
	sql(db, "INSERT INTO actions (mchid, kind, target, state, amount, params, created_at,"
	        " updated_at) VALUES ('1900000001', 'REFUND', 'PAC-BAD', 'intent', 1,"
	        " '{\"out_trade_no\":\"ORDPAC001\"}', 'x', 'x')");
	is_int(run_refunds(db, &o, &res), 0, "bad params");
	is_str(q1(db, "SELECT state || '|' || result FROM actions WHERE target = 'PAC-BAD'"),
	       "failed|BAD_PARAMS", "failed");
	is_int(count_in_log("F:PAC-BAD"), 0, "not sent");
	sweep_result_release(&res);
	db_close(db);
}

static void test_crash_engine_refunds(void)
{
	static const char *const points[] = { SWEEP_AT_AFTER_SENT, SWEEP_AT_AFTER_CALL };
	static const int sent_before[] = { 0, 1 };

	for (int i = 0; i < 2; i++) {
		struct sweep_opts o;
		struct sweep_result res;
		struct db *db;
		const char *txn;
		char name[128];

		fake_reset();
		bill_file_id = 0;
		db = db_fresh();
		txn = pac_order(db, "ORDPACX01", 800, true);
		pac_action(db, "ORDPACX01", txn, 800, "intent");
		db_close(db);
		snprintf(name, sizeof(name), "engine refund: killed %s", points[i]);
		is_int(run_child(true, points[i]), 137, name);
		db = db_again();
		is_str(action_state(db, "REFUND", "PAC-ORDPACX01"), "sent",
		       "the action is left sent");
		ok(strncmp(pac_refund(db, "ORDPACX01"), "PROCESSING|800|", 15) == 0,
		   "the ledger refund was written before the call");
		is_str(order_state(db, "ORDPACX01"), "PAID", "and the order marked paid");
		is_int(count_in_log("F:PAC-ORDPACX01"), sent_before[i], "refunds sent so far");
		opts_init(&o);
		is_int(run_refunds(db, &o, &res), 0, "the next sweep");
		is_str(action_state(db, "REFUND", "PAC-ORDPACX01"), "done", "settles it: done");
		is_int(count_in_log("F:PAC-ORDPACX01"), 1, "exactly one refund in all");
		is_int(F->nrefunds, 1, "WeChat Pay has one");
		is_str(q1(db, "SELECT count(*) FROM ledger_refunds"), "1", "the ledger one");
		is_int(status_of(&res), 0, "exit 0");
		sweep_result_release(&res);
		db_close(db);
	}
}

int main(void)
{
	F = mmap(NULL, sizeof(*F), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (F == MAP_FAILED)
		return 1;
	snprintf(dbpath, sizeof(dbpath), "/tmp/t-sweep-%ld.db", (long)getpid());
	config_defaults(&cfg);
	test_decisions();
	test_actions_table();
	test_orders_basic();
	test_orders_close_outcomes();
	test_orders_safety();
	test_crash_orders();
	test_crash_refunds();
	test_refunds();
	test_engine_refunds();
	test_crash_engine_refunds();
	{
		char p[80];

		unlink(dbpath);
		snprintf(p, sizeof(p), "%s-wal", dbpath);
		unlink(p);
		snprintf(p, sizeof(p), "%s-shm", dbpath);
		unlink(p);
	}
	config_release(&cfg);
	munmap(F, sizeof(*F));
	return done_testing();
}
